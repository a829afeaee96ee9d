//! The two fault models of issue 19: crash points inside a step, and clocks with a rate.
//! Each test's verdict is decided by the fault model it is about.

mod common;

use leaseproof_impl::Variant;
use leaseproof_model::check::CheckReport;
use leaseproof_model::*;

fn run(mc: ModelConfig, target: &str) -> CheckReport {
    let m = LeaseModel::new(mc).unwrap().with_target(target).unwrap();
    check_model(m, mc.clients > 1)
}

/// Checks `m` on one thread, depth first.
fn check_model(m: LeaseModel, symmetry: bool) -> CheckReport {
    common::check_one(m, symmetry, false)
}

/// The grant-before-persist variant's catalog bounds, with or without crash points.
fn grant_before_persist(crash_points: bool, variant: Variant) -> ModelConfig {
    let (mc, _) = variants::bounds(Variant::GrantBeforePersist);
    ModelConfig {
        variant,
        crash_points,
        ..mc
    }
}

#[test]
fn a_grant_sent_before_its_counter_is_durable_is_found_only_with_crash_points() {
    let on = run(
        grant_before_persist(true, Variant::GrantBeforePersist),
        PROP_TOKEN_MONOTONIC,
    );
    let p = &on.properties[PROP_TOKEN_MONOTONIC];
    assert!(!p.holds, "found with crash points");
    assert!(
        p.trace
            .iter()
            .any(|s| s.action.starts_with("crash the server inside the step")),
        "the counterexample crashes inside a step"
    );
    // Without crash points a crash falls only between steps, after the counter's batch:
    // every run within the same bounds is correct.
    let off = run(
        grant_before_persist(false, Variant::GrantBeforePersist),
        PROP_TOKEN_MONOTONIC,
    );
    assert!(off.complete && !off.safety_failed(), "{off:?}");
    // The correct protocol orders the counter's batch before the grant: it holds with
    // crash points at the same bounds.
    let correct = run(
        grant_before_persist(true, Variant::Correct),
        PROP_TOKEN_MONOTONIC,
    );
    assert!(correct.complete && !correct.safety_failed(), "{correct:?}");
    assert!(
        correct.unique > off.unique,
        "crash points add states: {} vs {}",
        correct.unique,
        off.unique
    );
}

/// One client whose validity margin (1 tick) is smaller than the spread allows (2ε = 2),
/// with clocks that run a tick ahead at most once every `r` ticks: a renewal lost, the
/// server's clock gaining on the client's twice within one lease lets the client believe
/// past the server's expiry.
fn thin_margin(r: u8, margin: Option<u64>) -> ModelConfig {
    ModelConfig {
        clients: 1,
        max_time: 9,
        hold: 9,
        pauses: false,
        crashes: 0,
        drift_moves: 1,
        rate_skew: Some(r),
        margin,
        ..ModelConfig::default()
    }
}

#[test]
fn the_clock_rate_decides_whether_a_thin_margin_holds() {
    // The boundary (docs/design.md, "Clocks with a rate"): broken up to R = 4, safe from
    // R = 5 (the lease is 6 ticks; a closed check at R = 5..10 agrees).
    for r in [1, 2, 4] {
        let rep = run(thin_margin(r, Some(1)), PROP_CONTAINMENT);
        assert!(
            !rep.properties[PROP_CONTAINMENT].holds,
            "margin 1 breaks at rate 1/{r}"
        );
    }
    for r in [5, 7] {
        let rep = run(thin_margin(r, Some(1)), PROP_CONTAINMENT);
        assert!(
            rep.complete && !rep.safety_failed(),
            "margin 1 holds at rate 1/{r}"
        );
    }
    // The correct margin (2ε) holds at every rate: ε still bounds the spread.
    for r in [1, 4] {
        let rep = run(thin_margin(r, None), PROP_CONTAINMENT);
        assert!(rep.complete && !rep.safety_failed(), "2ε holds at 1/{r}");
    }
}

#[test]
fn rates_and_windows_are_refused_with_the_flag_named() {
    for bad in ["2/3", "1/0", "1/x", "1/101", "0.25", ""] {
        let e = parse_rate_skew(bad).unwrap_err();
        assert!(e.starts_with("--rate-skew"), "{bad}: {e}");
    }
    assert_eq!(parse_rate_skew("1/4"), Ok(4));
    // A protocol that states its safety over a window of 20 ticks needs ε ≥ ⌈20/R⌉.
    assert!(check_window(1, 20, Some(20)).is_ok());
    let e = check_window(1, 4, Some(20)).unwrap_err();
    assert!(e.contains("--spread 1") && e.contains("= 5"), "{e}");
    assert!(check_window(0, 1, None).is_ok(), "no window, no need");
    let no_drift = ModelConfig {
        drift_moves: 0,
        rate_skew: Some(3),
        ..ModelConfig::default()
    };
    let e = LeaseModel::new(no_drift).unwrap_err();
    assert!(e.contains("--rate-skew 1/3"), "{e}");
}

/// One client repeating its workload over links of one message: a reply lost at a link's
/// capacity, then fault-free time.
fn lone_liveness() -> ModelConfig {
    ModelConfig {
        clients: 1,
        liveness: true,
        crashes: 0,
        losses: 0,
        drift_moves: 0,
        pauses: false,
        ..ModelConfig::closed()
    }
}

#[test]
fn a_release_overtaken_by_the_next_acquire_no_longer_livelocks() {
    // The liveness check refuted the server's rule that drops every late request: a client
    // whose Release was lost re-acquired, its Acquire was taken as a renewal, and each
    // re-sent Release was overtaken by the next Acquire and dropped, so the client waited
    // past its bound. The server now frees the key on a late Release of the holder's own
    // token (docs/design.md, "Lock server").
    let m = LeaseModel::new(lone_liveness()).unwrap();
    let fixed = check_model(m.clone(), false);
    assert!(fixed.complete && !fixed.safety_failed(), "{fixed:?}");
    assert!(fixed.properties[PROP_LIVENESS].holds);
    let mut broken = m;
    broken.cfg.mutant = leaseproof_impl::config::Mutant::LateReleaseDropped;
    let r = check_model(broken, false);
    let p = &r.properties[PROP_LIVENESS];
    assert!(!p.holds, "the old rule waits past the bound");
    assert!(
        p.trace
            .iter()
            .any(|s| s.outputs.iter().any(|o| o.starts_with("LIVENESS"))),
        "the path ends with the client past its bound"
    );
}

#[test]
fn two_clients_are_served_within_their_bound_when_the_fresh_window_outlasts_the_jitter() {
    // Two clients, pauses of any length, closed, messages delivered in the tick they are
    // sent: the model's requeue interval (2) plus the delivery spread (0) is below its fresh
    // window (3), so a queued waiter stays fresh and every fault-free continuation serves
    // it within its bound. The main job runs this with a crash at any crash point
    // (MAIN_LIVENESS_FLAGS); at delivery delay 1 the spread reaches the window and the check
    // reports a stale waiter (docs/design.md, "Liveness").
    let mc = ModelConfig {
        liveness: true,
        crashes: 0,
        losses: 0,
        drift_moves: 0,
        max_delay: 0,
        ..ModelConfig::closed()
    };
    let r = check_model(LeaseModel::new(mc).unwrap(), true);
    assert!(
        r.closed && !r.safety_failed() && !r.liveness_failed(),
        "{r:?}"
    );
    for p in [PROP_TAKEOVER, PROP_TWO_BELIEVERS, PROP_QUEUED] {
        assert!(r.properties[p].holds, "{p} reached");
    }
}
