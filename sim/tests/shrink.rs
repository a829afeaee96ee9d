//! Shrinking: a failing seed's plan cut down to a scripted scenario that still fails, the
//! same every time; a passing seed is refused. And a judged run's warnings (renewal slack).

use leaseproof_impl::oracle::OracleName;
use leaseproof_sim::run::{run_seed_isolated, RunOptions};
use leaseproof_sim::scenario::Scenario;
use leaseproof_sim::search::search;
use leaseproof_sim::shrink::{shrink, ShrinkError};
use std::path::Path;

fn load(p: &str) -> Scenario {
    Scenario::load(Path::new(p)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_failing_seed_shrinks_to_a_confirmed_scripted_scenario() {
    let sc = load("../scenarios/bugs/anchor-at-receipt.toml");
    let s = search(&sc, &sc.finds, 0, 200, 2);
    let seed = s
        .first_failing_seed
        .expect("the bug is found within 200 seeds");
    let a = shrink(&sc, seed, Some(OracleName::LeaseContainment)).expect("it shrinks");
    assert!(a.confirmed, "{}", a.summary());
    assert!(a.minimal.len() <= a.original_faults);
    assert_eq!(a.oracle, "lease-containment");
    // The written text is a scenario of its own: scripted, pinned, and it fails.
    let written = Scenario::parse(Path::new("shrunk.toml"), &a.text).expect("it parses");
    assert!(written.file.faults.random.is_none());
    assert_eq!(written.script.len(), a.minimal.len());
    assert_eq!(written.run_seeds(0, None), vec![a.seed]);
    let r = run_seed_isolated(&written, a.seed, RunOptions::default());
    assert!(r.tripped(OracleName::LeaseContainment));
    // Shrinking is deterministic.
    let b = shrink(&sc, seed, Some(OracleName::LeaseContainment)).expect("it shrinks");
    assert_eq!((a.text, a.minimal, a.runs), (b.text, b.minimal, b.runs));
}

#[test]
fn a_passing_seed_is_not_shrunk() {
    let tw = load("../scenarios/bugs/anchor-at-receipt-twin.toml");
    assert!(matches!(shrink(&tw, 0, None), Err(ShrinkError::Passes(0))));
}

#[test]
fn renewal_slack_below_the_threshold_is_a_warning_not_a_failure() {
    let mut sc = load("../scenarios/happy-path.toml");
    let results: Vec<_> = (0..2)
        .map(|s| run_seed_isolated(&sc, s, RunOptions::default()))
        .collect();
    let quiet = leaseproof_sim::verdict::judge(&sc, &results, &[]);
    assert!(quiet.warnings.is_empty());
    // No renewal can have a whole hour of lease left.
    sc.file.expect.renewal_slack_warn_ms = Some(3_600_000);
    let loud = leaseproof_sim::verdict::judge(&sc, &results, &[]);
    assert_eq!(loud.exit, 0, "a warning fails nothing");
    assert_eq!(loud.warnings.len(), 1);
    assert!(loud.warnings[0].contains("renewal slack below 3600000 ms"));
}
