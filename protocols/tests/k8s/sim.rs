//! The simulator on client-go leader election: inside the envelope every oracle holds; a
//! leader paused past it gives two leaders; a write stalled past it is accepted stale by
//! the unfenced resource and refused by a resource fenced with the acquiring
//! resourceVersion; a seed replays exactly.

use leaseproof_impl::verdict::Verdict;
use leaseproof_impl::OracleName;
use leaseproof_protocols::k8s::K8s;
use leaseproof_sim::run::{run_seed_isolated, RunOptions};
use leaseproof_sim::scenario::Scenario;
use leaseproof_sim::verdict::{judge, run_many, ScenarioReport};
use std::path::{Path, PathBuf};

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/k8s")
        .join(format!("{name}.toml"))
}

pub(crate) fn load(name: &str) -> Scenario<K8s> {
    Scenario::load_protocol(&scenario(name)).expect("a valid scenario")
}

/// Runs the scenario's test seeds and judges them, as `cargo test` does the reference
/// protocol's scenarios.
fn check(sc: &Scenario<K8s>) -> ScenarioReport {
    let results = run_many(sc, &sc.test_seeds(), 2, RunOptions::default(), &|_| {});
    let report = judge(sc, &results, &[]);
    println!(
        "{}: {} ({} of {} seeds passed) failures {:?} finds {:?} also {:?} coverage {:?}",
        report.name,
        report.verdict,
        report.passed,
        report.seeds,
        report.failures,
        report.finds,
        report.also_tripped,
        report.sometimes
    );
    report
}

#[test]
fn inside_the_envelope_every_oracle_holds() {
    let sc = load("within-envelope");
    assert!(sc.beyond.is_empty(), "{:?}", sc.beyond);
    assert!(sc.always.contains(&OracleName::BeliefExclusivity));
    let report = check(&sc);
    assert_eq!(report.verdict, Verdict::Pass, "{:?}", report.failures);
}

#[test]
fn a_leader_paused_past_the_envelope_leads_beside_its_successor() {
    let sc = load("paused-leader");
    assert!(!sc.beyond.is_empty(), "a 16 s pause is beyond the envelope");
    let report = check(&sc);
    assert_eq!(report.verdict, Verdict::Pass, "{:?}", report.failures);
    let seed = report.finds["belief-exclusivity"].expect("some seed finds two leaders");
    let r = run_seed_isolated(&sc, seed, RunOptions::default());
    let first = r
        .first(OracleName::BeliefExclusivity)
        .expect("the seed replays its finding");
    println!("paused-leader seed {seed}: {}", first.violation);
}

#[test]
fn a_stalled_write_is_accepted_stale_unfenced_and_refused_fenced() {
    let unfenced = check(&load("stalled-write"));
    assert_eq!(unfenced.verdict, Verdict::Pass, "{:?}", unfenced.failures);
    assert!(unfenced.finds["stale-write-accepted"].is_some());
    let fenced = check(&load("stalled-write-fenced"));
    assert_eq!(fenced.verdict, Verdict::Pass, "{:?}", fenced.failures);
}

#[test]
fn a_seed_replays_bit_for_bit() {
    let sc = load("within-envelope");
    let a = run_seed_isolated(&sc, 3, RunOptions::default());
    let b = run_seed_isolated(&sc, 3, RunOptions::default());
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_ne!(
        a.trace_hash,
        run_seed_isolated(&sc, 4, RunOptions::default()).trace_hash
    );
}
