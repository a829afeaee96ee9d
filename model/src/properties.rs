//! The properties: one `Always` (every safety oracle and no wait-for cycle) and the
//! `Sometimes` coverage the model records itself.

#[allow(clippy::wildcard_imports)]
use super::*;

pub const PROP_SINGLE_HOLDER: &str = "single-holder";
pub const PROP_TOKEN_MONOTONIC: &str = "token-monotonic";
pub const PROP_FENCED_WRITES: &str = "fenced-writes";
pub const PROP_CONTAINMENT: &str = "lease-containment";
pub const PROP_EXACTLY_ONCE: &str = "exactly-once";
pub const PROP_NO_DEADLOCK: &str = "no wait-for cycle (deadlock)";
pub const PROP_NO_TIMELOCK: &str = "no time-lock (local patterns only)";
pub const PROP_LIVENESS: &str = "every waiting client holds within its bound (fault-free)";
/// Two clients never Holding the key at once; checked only where the protocol claims it
/// ([`crate::ModelConfig::claims_belief_exclusivity`]), else [`PROP_TWO_BELIEVERS`] is a
/// `Sometimes`.
pub const PROP_BELIEF_EXCLUSIVITY: &str = "belief-exclusivity";
pub const PROP_RENEWAL: &str = "renewal confirmed";
pub const PROP_QUEUED: &str = "queued waiter granted";
pub const PROP_RELEASED: &str = "holder released after its work";
pub const PROP_TAKEOVER: &str = "takeover after expiry";
pub const PROP_STALE_REJECTED: &str = "stale write rejected";
pub const PROP_TWO_BELIEVERS: &str = "two clients believe at once";
pub const PROP_ALL_SERVED: &str = "every client served (bounded liveness)";
pub const PROP_ACQUIRED_AGAIN: &str = "a client acquired a second time";
pub const PROP_RESTART_GRANT_ACCEPTED: &str = "a token granted after a server restart and accepted";

/// The `Sometimes` properties (proof that the model reaches the interesting states) and
/// the coverage bit each reads in [`LeaseModel::reached`].
pub const SOMETIMES: [(&str, u32); 9] = [
    (PROP_RENEWAL, seen::RENEWAL_CONFIRMED),
    (PROP_RELEASED, seen::RELEASED),
    (PROP_QUEUED, seen::QUEUED_WAITER_GRANTED),
    (PROP_TAKEOVER, seen::TAKEOVER_AFTER_EXPIRY),
    (PROP_STALE_REJECTED, seen::STALE_WRITE_REJECTED),
    (PROP_TWO_BELIEVERS, seen::TWO_BELIEVERS),
    (PROP_ALL_SERVED, seen::ALL_SERVED),
    (PROP_ACQUIRED_AGAIN, seen::ACQUIRED_AGAIN),
    (PROP_RESTART_GRANT_ACCEPTED, seen::RESTART_GRANT_ACCEPTED),
];

/// The safety properties and the oracle each reads.
pub const SAFETY_PROPS: [(&str, OracleName); 5] = [
    (PROP_SINGLE_HOLDER, OracleName::SingleHolder),
    (PROP_TOKEN_MONOTONIC, OracleName::TokenMonotonic),
    (PROP_FENCED_WRITES, OracleName::FencedWrites),
    (PROP_CONTAINMENT, OracleName::LeaseContainment),
    (PROP_EXACTLY_ONCE, OracleName::ExactlyOnce),
];

/// The one property stateright checks by default: all of [`ALWAYS`]. (Short: stateright
/// hashes the name with SipHash for every state it checks.)
pub const PROP_SAFE: &str = "safety";

/// Every `Always` property: the safety oracles' ([`SAFETY_PROPS`]), the deadlock oracle's
/// and the time-lock mark's (both liveness failures). See [`holds`].
pub const ALWAYS: [&str; 9] = [
    PROP_SINGLE_HOLDER,
    PROP_TOKEN_MONOTONIC,
    PROP_FENCED_WRITES,
    PROP_CONTAINMENT,
    PROP_EXACTLY_ONCE,
    PROP_BELIEF_EXCLUSIVITY,
    PROP_NO_DEADLOCK,
    PROP_NO_TIMELOCK,
    PROP_LIVENESS,
];

/// The `Always` properties whose failure is a liveness failure (exit 3), not a safety one.
pub const LIVENESS_PROPS: [&str; 3] = [PROP_NO_DEADLOCK, PROP_NO_TIMELOCK, PROP_LIVENESS];

/// Whether a state keeps the `Always` property `name` (one of [`ALWAYS`]): a safety
/// oracle, read from the ghost state in the model state, has not tripped; or no wait-for
/// cycle exists (the deadlock oracle with a bound of 0: in a bounded model any cycle
/// counts; with the keys in one order none forms; the simulator's bound absorbs timing).
/// Exactly-once is the "applied twice, or applied and dead-lettered" half: "never
/// neither" needs a settled end of run, which the simulator judges.
#[must_use]
pub fn holds(name: &str, s: &State) -> bool {
    if name == PROP_NO_DEADLOCK {
        return s.oracles.deadlock(s.local(SERVER), 0).is_none();
    }
    if name == PROP_NO_TIMELOCK {
        return s.timelock == TimeLock::None;
    }
    if name == PROP_LIVENESS {
        return !s.late();
    }
    if name == PROP_BELIEF_EXCLUSIVITY {
        return s.believers() < 2;
    }
    let (_, oracle) = SAFETY_PROPS
        .iter()
        .find(|(p, _)| *p == name)
        .unwrap_or_else(|| panic!("{name:?} is not an Always property"));
    !s.oracles.tripped(*oracle)
}

/// [`seen::RESTART_GRANT_ACCEPTED`] if `e` is a write accepted under the token a restarted
/// server (up in `s`) holds as the key's current grant.
pub(crate) fn restart_coverage(e: &Event, s: &State) -> u32 {
    let Event::WriteAccepted { key, token, .. } = *e else {
        return 0;
    };
    let granted_since_restart = s.server_boots > 0
        && s.node(SERVER)
            .and_then(AnyNode::as_server)
            .and_then(|srv| srv.holder(key))
            .is_some_and(|(_, t, _)| t == token);
    if granted_since_restart {
        seen::RESTART_GRANT_ACCEPTED
    } else {
        0
    }
}

pub(crate) fn coverage(e: &Event, seen_now: u32) -> u32 {
    match *e {
        Event::Adopted { first: false, .. } => seen::RENEWAL_CONFIRMED,
        Event::Adopted {
            first: true,
            client,
            ..
        } => {
            let held = seen::CLIENT_HELD << (client.node.0 - 2);
            if seen_now & held == 0 {
                held
            } else {
                held | seen::ACQUIRED_AGAIN
            }
        }
        Event::Granted { queued, .. } => {
            let mut b = 0;
            if queued {
                b |= seen::QUEUED_WAITER_GRANTED;
            }
            if seen_now & seen::EXPIRED != 0 {
                b |= seen::TAKEOVER_AFTER_EXPIRY;
            }
            b
        }
        Event::Expired { .. } => seen::EXPIRED,
        Event::WriteRejected { .. } => seen::STALE_WRITE_REJECTED,
        Event::ReleaseDecided { .. } => seen::RELEASED,
        _ => 0,
    }
}
