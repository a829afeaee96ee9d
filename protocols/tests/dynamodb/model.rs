//! The generic model driver on the DynamoDB lock client, at one tick a second with a
//! scaled lease (6 s, heartbeat 2 s, refresh 1 s, calls given up after 1 s): no stale
//! write is accepted, and the check reaches a heartbeat, a failed conditional put, a
//! heartbeat-lost expiry and a takeover; with `holdLockOnServiceUnavailable` and an
//! outage it finds two holders.
//!
//! Belief-exclusivity is not judged in the first check: the model's messages may take no
//! time at all, and the lock client's only margin is message flight (its envelope needs
//! the longest latency under 4 x the shortest, docs/protocols/dynamodb.md). At zero flight
//! a holder's expiry and a waiter's takeover fall in the same tick, and the model
//! interleaves them both ways.

use leaseproof_impl::OracleName;
use leaseproof_model::plugin::{
    check_plugin_model, PluginModelConfig, PROP_BELIEF, PROP_ORACLES, PROP_SOMEONE_ACTS,
};
use leaseproof_protocols::dynamodb::{DynamoConfig, DynamoDb};

const REACH: [&str; 4] = ["renewed", "conflict", "gave-up", "taken-over"];

fn bounds() -> PluginModelConfig<DynamoConfig> {
    PluginModelConfig {
        protocol: DynamoConfig {
            lease_duration_ms: 6_000,
            heartbeat_period_ms: 2_000,
            refresh_period_ms: 1_000,
            write_every_ms: 1_000,
            hold_ms: 60_000,
            call_timeout_ms: 1_000,
            ..DynamoConfig::default()
        },
        clients: 2,
        tick_ns: 1_000_000_000,
        max_time: 14,
        offsets: vec![],
        max_delay: 0,
        losses: 2,
        max_in_flight: 3,
        judged: vec![
            OracleName::BeliefExclusivity,
            OracleName::StaleWriteAccepted,
        ],
        crashes: 0,
        crash_loses_disk: false,
        client_crashes: 0,
        symmetry: false,
        closed: false,
        reach: REACH.to_vec(),
        jitter_ppm: 0,
        pauses: 0,
        pause_ticks: 0,
    }
}

#[test]
fn at_scaled_defaults_no_stale_write_is_accepted() {
    let mut mc = bounds();
    mc.judged = vec![OracleName::StaleWriteAccepted];
    let r = check_plugin_model::<DynamoDb>(mc);
    println!("unique states {}", r.unique_states);
    for (name, p) in &r.properties {
        println!("{name}: {}", p.holds);
    }
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
    let mut mc = bounds();
    mc.protocol.hold_on_unavailable = true;
    mc.protocol.unavailable_ms = [2_000, 10_000];
    mc.losses = 0;
    let r = check_plugin_model::<DynamoDb>(mc);
    println!("unique states {}", r.unique_states);
    assert_eq!(r.holds(PROP_BELIEF), Some(false), "{r:?}");
    for line in &r.properties[PROP_BELIEF].path {
        println!("{line}");
    }
}
