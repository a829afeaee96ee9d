//! The model checker over the real state machines: pinned exhaustive counts at small bounds,
//! and counterexamples for variants it can reach there.

use leaseproof_impl::Variant;
use leaseproof_model::check::{check, CheckOptions};
use leaseproof_model::*;

fn run(mc: ModelConfig, symmetry: bool) -> leaseproof_model::check::CheckReport {
    let m = LeaseModel::new(mc).unwrap();
    check(
        m,
        CheckOptions {
            threads: 1,
            symmetry,
            bfs: false,
        },
        &|_, _| {},
        &|| false,
    )
    .unwrap()
}

fn small() -> ModelConfig {
    ModelConfig {
        max_time: 3,
        crashes: 0,
        ..ModelConfig::default()
    }
}

#[test]
fn correct_protocol_exhaustive_count_is_pinned() {
    // A change to the protocol or the model changes these counts: re-pin only after
    // understanding why (`leaseproof check --max-time 3 --crashes 0 --threads 1 --json`).
    let r = run(small(), false);
    assert!(r.complete && !r.safety_failed(), "{r:?}");
    assert_eq!(r.unique, 365_588);
    for p in [PROP_RENEWAL, PROP_QUEUED, PROP_STALE_REJECTED] {
        assert!(r.properties[p].holds, "{p} is reached within the bounds");
    }
}

#[test]
fn symmetry_reduction_halves_two_clients() {
    let r = run(small(), true);
    assert!(r.complete && !r.safety_failed());
    assert_eq!(r.unique, 182_796);
}

#[test]
fn variants_reachable_at_small_bounds_give_counterexamples() {
    for (variant, prop, crashes) in [
        (Variant::NoFencing, PROP_FENCED_WRITES, 0),
        (Variant::ReleaseByNonOwner, PROP_SINGLE_HOLDER, 0),
        // Needs the server restart that forgets the counter.
        (Variant::VolatileCounter, PROP_FENCED_WRITES, 1),
    ] {
        let r = run(
            ModelConfig {
                variant,
                max_time: 5,
                crashes,
                pauses: false,
                ..ModelConfig::default()
            },
            true,
        );
        let p = &r.properties[prop];
        assert!(!p.holds, "{variant}: no counterexample for {prop}");
        assert!(
            !p.trace.is_empty(),
            "the counterexample is printed step by step"
        );
        assert!(
            p.trace
                .iter()
                .any(|s| s.outputs.iter().any(|o| o.starts_with("VIOLATION"))),
            "the last steps show the oracle's verdict"
        );
    }
}

#[test]
fn zero_spread_lets_time_run() {
    // With one global clock, ε = 0 is lockstep time (the per-node model could not tick).
    let r = run(
        ModelConfig {
            spread: 0,
            crashes: 0,
            ..ModelConfig::default()
        },
        true,
    );
    assert!(r.complete && !r.safety_failed());
    assert!(r.properties[PROP_RENEWAL].holds);
}

#[test]
fn impossible_bounds_are_refused_naming_the_flag() {
    for (mc, flag) in [
        (
            ModelConfig {
                clients: 4,
                ..ModelConfig::default()
            },
            "--clients",
        ),
        (
            ModelConfig {
                max_time: 99,
                ..ModelConfig::default()
            },
            "--max-time",
        ),
        (
            ModelConfig {
                spread: 3,
                ..ModelConfig::default()
            },
            "--spread",
        ),
        (
            ModelConfig {
                duplicating: true,
                clients: 3,
                ..ModelConfig::default()
            },
            "--duplicating",
        ),
    ] {
        let e = LeaseModel::new(mc).unwrap_err();
        assert!(e.starts_with(flag), "{e}");
    }
}
