//! The generic model driver on the DynamoDB lock client, through the named checks the
//! binary runs (`check --protocol dynamodb --variant NAME`): at a scaled lease no stale
//! write is accepted and the check reaches a heartbeat, a failed conditional put, a
//! heartbeat-lost expiry and a takeover; with `holdLockOnServiceUnavailable` and an outage
//! it finds two holders.
//!
//! Belief-exclusivity is not judged in the first check: the model's messages may take no
//! time at all, and the lock client's only margin is message flight (its envelope needs
//! the longest latency under 4 x the shortest, docs/protocols/dynamodb.md). At zero flight
//! a holder's expiry and a waiter's takeover fall in the same tick, and the model
//! interleaves them both ways.

use leaseproof_model::plugin::{PROP_BELIEF, PROP_ORACLES, PROP_SOMEONE_ACTS};
use leaseproof_protocols::checks::{self, REACH};

#[test]
fn at_scaled_defaults_no_stale_write_is_accepted() {
    let r = checks::run("dynamodb", "correct").unwrap();
    println!("unique states {}", r.unique_states);
    assert!(!r.safety_failed(), "{r:?}");
    assert_eq!(r.holds(PROP_ORACLES), Some(true));
    assert_eq!(r.holds(PROP_SOMEONE_ACTS), Some(true));
    for kind in REACH {
        assert_eq!(r.holds(kind), Some(true), "{kind} not reached");
    }
    // Pinned: the same rules explore the same states.
    assert_eq!(r.unique_states, 136_637);
}

#[test]
fn unavailable_taken_as_a_heartbeat_gives_two_holders() {
    let r = checks::run("dynamodb", "hold-on-unavailable").unwrap();
    println!("unique states {}", r.unique_states);
    assert_eq!(r.holds(PROP_BELIEF), Some(false), "{r:?}");
    for line in &r.properties[PROP_BELIEF].path {
        println!("{line}");
    }
    assert_eq!(r.unique_states, 2_227);
}

/// A holder clock slower than the waiter's, in the model (clocks at fixed rates, ticks of
/// 100 ms, two losses): at ±10 % a slow holder whose heartbeats are lost still believes
/// its lock when a fast waiter takes it over; with both clocks at one rate the same
/// bounds hold (the model half of slow-holder-clock.toml).
#[test]
fn a_slow_holder_clock_gives_two_holders_and_one_rate_none() {
    let r = leaseproof_protocols::checks::run("dynamodb", "slow-holder-clock").unwrap();
    assert_eq!(r.holds(PROP_BELIEF), Some(false));
    assert_eq!(r.unique_states, 57_028);
    let mut mc = leaseproof_protocols::checks::dynamodb_bounds("slow-holder-clock").unwrap();
    mc.rates_ppm = Vec::new();
    let same = leaseproof_model::plugin::check_plugin_model::<
        leaseproof_protocols::dynamodb::DynamoDb,
    >(mc);
    assert_eq!(
        same.holds(PROP_BELIEF),
        Some(true),
        "{:?}",
        same.properties[PROP_BELIEF].path
    );
}
