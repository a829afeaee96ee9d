//! The simulator on the DynamoDB lock client: inside the envelope every oracle holds; a
//! write stalled after its `isExpired()` check is accepted stale; a slow holder clock and
//! 503s taken as heartbeats give two holders; a seed replays exactly.

use crate::common::check;
use leaseproof_impl::verdict::Verdict;
use leaseproof_impl::OracleName;
use leaseproof_protocols::dynamodb::DynamoDb;
use leaseproof_sim::run::{run_seed_isolated, RunOptions};
use leaseproof_sim::scenario::Scenario;

fn load(name: &str) -> Scenario<DynamoDb> {
    crate::common::load("dynamodb", name)
}

#[test]
fn inside_the_envelope_every_oracle_holds() {
    crate::common::inside_the_envelope_every_oracle_holds::<DynamoDb>("dynamodb");
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
