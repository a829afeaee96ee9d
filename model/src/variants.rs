//! Each known-bug variant's model bounds: where the checker reaches its counterexample
//! quickly (each found by probing). `check --variant V` starts from them, and the bug
//! catalog (`leaseproof::catalog`, the one place that joins both checkers) checks each
//! variant at them. The correct protocol
//! was checked exhaustively at these bounds with `leaseproof check --variant correct` and the
//! same flags (release, 2026-12-03): it holds at the bounds of no-fencing and
//! release-by-non-owner (4.5M unique states, 131 s), anchor-at-receipt (2.2M, 14 s),
//! drift-ignored (1.5M, 12 s), acts-after-loss (3.3M, 27 s), check-then-act (3.1M, 16 s)
//! and no-restart-grace (127k, 3 s; also in `tests/check.rs`). Not exhausted: the bounds of
//! late-reply-adopted (stopped after 400 s without a failure) and volatile-counter (2
//! clients, 5 ticks, a crash: stopped early).
//!
//! Most containment bugs need one client only (a lone holder acting outside its grant is
//! already a violation), and none needs the server crash except the two restart bugs.

use crate::ModelConfig;
use leaseproof_impl::Variant;

/// The bounds the catalog checks `v` at, and the safety property it must break.
#[must_use]
pub fn bounds(v: Variant) -> (ModelConfig, &'static str) {
    let base = ModelConfig {
        variant: v,
        crashes: 0,
        ..ModelConfig::default()
    };
    let lone = ModelConfig {
        clients: 1,
        max_time: 9,
        ..base
    };
    match v {
        Variant::VolatileCounter | Variant::GrantBeforePersist | Variant::NoRestartGrace => {
            restart_bounds(v, base)
        }
        Variant::Correct => (ModelConfig::default(), crate::PROP_SINGLE_HOLDER),
        Variant::NoFencing => (
            ModelConfig {
                max_time: 5,
                pauses: false,
                ..base
            },
            crate::PROP_FENCED_WRITES,
        ),
        Variant::ReleaseByNonOwner => (
            ModelConfig {
                max_time: 5,
                pauses: false,
                ..base
            },
            crate::PROP_SINGLE_HOLDER,
        ),
        // Replies delayed past the margin (3 ticks against 2ε = 2).
        Variant::AnchorAtReceipt => (
            ModelConfig {
                max_time: 7,
                max_delay: 3,
                pauses: false,
                ..lone
            },
            crate::PROP_CONTAINMENT,
        ),
        // A reply delayed past L = 4 ticks.
        Variant::LateReplyAdopted => (
            ModelConfig {
                max_delay: 6,
                pauses: false,
                ..lone
            },
            crate::PROP_CONTAINMENT,
        ),
        // Clocks that move apart during a hold longer than the lease.
        Variant::DriftIgnored => (
            ModelConfig {
                drift_moves: 2,
                pauses: false,
                hold: 9,
                ..lone
            },
            crate::PROP_CONTAINMENT,
        ),
        // A hold longer than the lease, so the holder has work left when it loses.
        Variant::ActsAfterLoss => (ModelConfig { hold: 8, ..lone }, crate::PROP_CONTAINMENT),
        Variant::CheckThenAct => (lone, crate::PROP_CONTAINMENT),
        // Two clients, two keys, taken in opposite orders.
        Variant::LockOrderInversion => (
            ModelConfig {
                keys: 2,
                max_time: 4,
                pauses: false,
                losses: 0,
                drift_moves: 0,
                ..base
            },
            crate::PROP_NO_DEADLOCK,
        ),
        // One job whose answer is late: the re-sent attempt is applied again.
        Variant::NoIdempotency => (
            ModelConfig {
                jobs: 1,
                max_time: 4,
                pauses: false,
                ..lone
            },
            crate::PROP_EXACTLY_ONCE,
        ),
    }
}

/// The bounds of the bugs that need a server restart.
fn restart_bounds(v: Variant, base: ModelConfig) -> (ModelConfig, &'static str) {
    match v {
        Variant::VolatileCounter => (
            ModelConfig {
                max_time: 5,
                pauses: false,
                crashes: 1,
                ..base
            },
            crate::PROP_FENCED_WRITES,
        ),
        // A grant on the wire and the counter lost by a crash point between them: the
        // restarted server, after its grace, grants the same token again (to the same
        // client, whose renewal it refused: one client is enough).
        Variant::GrantBeforePersist => (
            ModelConfig {
                clients: 1,
                max_time: 8,
                pauses: false,
                crashes: 1,
                crash_points: true,
                losses: 0,
                drift_moves: 0,
                ..base
            },
            crate::PROP_TOKEN_MONOTONIC,
        ),
        Variant::NoRestartGrace => (
            ModelConfig {
                max_time: 4,
                pauses: false,
                crashes: 1,
                losses: 0,
                drift_moves: 0,
                ..base
            },
            crate::PROP_SINGLE_HOLDER,
        ),
        _ => unreachable!("{v} needs no restart"),
    }
}
