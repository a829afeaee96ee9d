//! The generic model driver on the DynamoDB lock client, through the named checks the
//! binary runs (`check --protocol dynamodb --variant NAME`): at a scaled lease no stale
//! write is accepted and the check reaches a heartbeat, a failed conditional put, a
//! heartbeat-lost expiry and a takeover; with `holdLockOnServiceUnavailable` and an outage
//! it finds two holders.
//!
//! Belief-exclusivity is not judged in the first check: the model's messages may take no
//! time at all, and the lock client's only margin is message flight (its envelope needs
//! five flights against the longest, docs/protocols/dynamodb.md). At zero flight
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

/// A holder paused between its `isExpired()` check and its write leaving (the pause holds
/// the sends, `pause_holds_sends`), 9 s against a 6 s lease: two holders, and the write
/// decided before the pause accepted stale after the new holder's (the model half of
/// stalled-write.toml). The same pause after the bytes left finds no stale write: the
/// resumed holder's next check finds its lease expired and stops.
#[test]
fn a_pause_between_check_and_write_gives_a_stale_write() {
    let r = checks::run("dynamodb", "paused").unwrap();
    assert_eq!(r.holds(PROP_BELIEF), Some(false), "{r:?}");
    assert_eq!(r.holds(PROP_ORACLES), Some(false), "{r:?}");
    // The write accepted stale (the first delivered below a tenure already written) is
    // the one that waited out the pause: sent at or before it.
    let path = &r.properties[PROP_ORACLES].path;
    let num = |l: &str, after: &str| -> u64 {
        l.rsplit(after)
            .next()
            .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no {after} in {l}"))
    };
    let paused_at = path
        .iter()
        .find(|l| l.contains("pauses"))
        .map(|l| num(l, "t="))
        .expect("a pause");
    let mut highest = 0;
    let stale = path
        .iter()
        .filter(|l| l.contains("deliver Write"))
        .find(|l| {
            let tenure = num(l, "ghost tenure ");
            highest = highest.max(tenure);
            tenure < highest
        })
        .expect("a write below a tenure already written");
    assert!(
        num(stale, "sent t=") <= paused_at,
        "{stale}, paused at {paused_at}"
    );
    assert_eq!(r.unique_states, 51_757);
    let mut mc = checks::dynamodb_bounds("paused").unwrap();
    mc.pause_holds_sends = false;
    let flown = leaseproof_model::plugin::check_plugin_model::<
        leaseproof_protocols::dynamodb::DynamoDb,
    >(mc);
    assert_eq!(
        flown.holds(PROP_ORACLES),
        Some(true),
        "{:?}",
        flown.properties[PROP_ORACLES].path
    );
}

/// A counter RVN with the library's delete-on-release: the counter starts again at 1, so
/// a waiter that saw RVN 1 under the last holder keeps its timer through the release and
/// the next holder's take and puts over a live lock (two holders, a holder acting outside
/// its tenure), and a new holder's writes are refused until its counter passes the old
/// one. Released by `isReleased` instead, the item and its counter survive: the same
/// bounds hold (the model half of counter-rvn-deleted.toml and its twin).
#[test]
fn a_counter_rvn_repeats_when_release_deletes_and_not_when_it_marks() {
    let r = checks::run("dynamodb", "counter-rvn-deleted").unwrap();
    assert_eq!(r.holds(PROP_BELIEF), Some(false), "{r:?}");
    assert_eq!(r.holds(PROP_ORACLES), Some(false), "{r:?}");
    assert!(
        r.properties[PROP_ORACLES]
            .path
            .iter()
            .any(|l| l.contains("[trips lease-containment]")),
        "{:?}",
        r.properties[PROP_ORACLES].path
    );
    assert_eq!(r.holds("refused"), Some(true));
    assert_eq!(r.unique_states, 138_511);
    let kept = checks::run("dynamodb", "counter-rvn-kept").unwrap();
    assert!(!kept.safety_failed(), "{kept:?}");
    assert_eq!(kept.holds("released"), Some(true));
    assert_eq!(kept.holds("conflict"), Some(true));
    // 66,525 while the ghost tenure rode in the messages: the ghost beside them lives
    // on for a life between its release and its next life's boot.
    assert_eq!(kept.unique_states, 100_915);
}
