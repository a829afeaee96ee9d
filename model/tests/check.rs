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
    assert_eq!(r.unique, 304_793);
    assert!(
        r.properties[PROP_RENEWAL].holds,
        "renewals happen within the bounds"
    );
}

#[test]
fn symmetry_reduction_halves_two_clients() {
    let r = run(small(), true);
    assert!(r.complete && !r.safety_failed());
    assert_eq!(r.unique, 152_405);
}

#[test]
fn variants_reachable_at_small_bounds_give_counterexamples() {
    for (variant, prop) in [
        (Variant::NoFencing, PROP_FENCED_WRITES),
        (Variant::ReleaseByNonOwner, PROP_SINGLE_HOLDER),
    ] {
        let r = run(
            ModelConfig {
                variant,
                max_time: 5,
                crashes: 0,
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
