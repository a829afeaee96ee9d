//! The simulator on the DynamoDB lock client: inside the envelope every oracle holds; a
//! write stalled after its `isExpired()` check is accepted stale; a slow holder clock and
//! 503s taken as heartbeats give two holders; a seed replays exactly.

use leaseproof_impl::verdict::Verdict;
use leaseproof_impl::OracleName;
use leaseproof_protocols::dynamodb::DynamoDb;
use leaseproof_sim::run::{run_seed_isolated, RunOptions};
use leaseproof_sim::scenario::Scenario;
use leaseproof_sim::verdict::{judge, run_many, ScenarioReport};
use std::path::Path;

fn load(name: &str) -> Scenario<DynamoDb> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/dynamodb")
        .join(format!("{name}.toml"));
    Scenario::load_protocol(&path).expect("a valid scenario")
}

fn check(sc: &Scenario<DynamoDb>) -> ScenarioReport {
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
fn each_finding_is_found() {
    for (name, oracle) in [
        ("stalled-write", "stale-write-accepted"),
        ("slow-holder-clock", "belief-exclusivity"),
        ("unavailable", "belief-exclusivity"),
    ] {
        let sc = load(name);
        assert!(!sc.beyond.is_empty(), "{name} is beyond the envelope");
        let report = check(&sc);
        assert_eq!(
            report.verdict,
            Verdict::Pass,
            "{name}: {:?}",
            report.failures
        );
        let seed = report.finds[oracle].expect("found");
        let r = run_seed_isolated(&sc, seed, RunOptions::default());
        let o = OracleName::parse(oracle).expect("an oracle");
        let first = r.first(o).expect("the seed replays its finding");
        println!("{name} seed {seed}: {}", first.violation);
    }
}

#[test]
fn a_seed_replays_bit_for_bit() {
    let sc = load("within-envelope");
    let a = run_seed_isolated(&sc, 5, RunOptions::default());
    let b = run_seed_isolated(&sc, 5, RunOptions::default());
    assert_eq!(a.trace_hash, b.trace_hash);
}
