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

/// A counter RVN handed to the resource is a fix only if it survives release. Deleted on
/// release (the library's default) it starts again at 1: the new holder's writes are
/// refused until its counter passes the old one, and the RVN repeats, so a waiter that saw
/// "RVN 1" under the last holder keeps its lease timer through that holder's release and
/// new acquisition (same RVN, same lock to it) and takes the live lock: two holders.
/// Kept (`isReleased`) it never repeats, and no stale write is accepted.
#[test]
fn a_counter_rvn_fences_only_if_it_survives_release() {
    let deleted = check(&load("counter-rvn-deleted"));
    assert_eq!(deleted.verdict, Verdict::Pass, "{:?}", deleted.failures);
    let seed = deleted.finds["belief-exclusivity"].expect("two holders");
    let sc = load("counter-rvn-deleted");
    let r = run_seed_isolated(&sc, seed, RunOptions::default());
    let first = r.first(OracleName::BeliefExclusivity).expect("replays");
    println!("counter-rvn-deleted seed {seed}: {}", first.violation);
    assert!(
        deleted.sometimes["refused"] > 0,
        "the new holder's writes refused"
    );
    let kept_sc = load("counter-rvn-kept");
    assert!(kept_sc.always.contains(&OracleName::StaleWriteAccepted));
    assert!(kept_sc.always.contains(&OracleName::LeaseContainment));
    let kept = check(&kept_sc);
    assert_eq!(kept.verdict, Verdict::Pass, "{:?}", kept.failures);
}

#[test]
fn a_seed_replays_bit_for_bit() {
    let sc = load("within-envelope");
    let a = run_seed_isolated(&sc, 5, RunOptions::default());
    let b = run_seed_isolated(&sc, 5, RunOptions::default());
    assert_eq!(a.trace_hash, b.trace_hash);
}
