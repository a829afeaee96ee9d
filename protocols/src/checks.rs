//! Each system's model checks, by name: what `leaseproof check --protocol P [--variant
//! NAME]` runs and the crate's tests assert on. A check states its bounds (the tick, the
//! clients, the faults), what it must reach (coverage: a renewal, a takeover, ...) and
//! whether it is expected to hold (inside the envelope) or to find a counterexample
//! (beyond it, or a refuted fencing option).

use crate::dynamodb::{DynamoConfig, DynamoDb, Rvn};
use crate::k8s::{Fencing, K8s, K8sConfig};
use leaseproof_impl::OracleName;
use leaseproof_model::plugin::{check_plugin_model, PluginCheckReport, PluginModelConfig};

/// The systems, by the name a scenario's `kind` and `check --protocol` use.
pub const PROTOCOLS: [&str; 2] = ["k8s", "dynamodb"];

/// One named check.
#[derive(Clone, Copy, Debug)]
pub struct NamedCheck {
    pub protocol: &'static str,
    pub name: &'static str,
    /// What it checks, in a line.
    pub about: &'static str,
    /// Whether it is expected to hold (exit 0) or to find a counterexample (exit 1).
    pub holds: bool,
}

/// Every check, each system's `correct` first (its default check).
pub const CHECKS: [NamedCheck; 15] = [
    NamedCheck {
        protocol: "k8s",
        name: "correct",
        about: "the defaults (15/10/2 s, work checks every 1 s), one tick a second, two \
                candidates, one loss, 25 s: one leader at a time; reaches a renewal, a 409, \
                a give-up after RenewDeadline and a takeover",
        holds: true,
    },
    NamedCheck {
        protocol: "k8s",
        name: "longest-wait",
        about: "the same with every acquire wait at its longest draw (4 ticks: 4.4 s \
                rounded down by the one-second tick)",
        holds: true,
    },
    NamedCheck {
        protocol: "k8s",
        name: "paused",
        about: "one 16 s pause of a candidate, beyond the envelope: two leaders",
        holds: false,
    },
    NamedCheck {
        protocol: "k8s",
        name: "release-on-cancel",
        about: "the defaults with ReleaseOnCancel, one loss: the leader's renewal reply is \
                lost, it gives up and releases, and a candidate leads while the guarded \
                work still writes (two actors)",
        holds: false,
    },
    NamedCheck {
        protocol: "k8s",
        name: "skew-inside",
        about: "the defaults with one candidate's clock 5 % slow and the other's 5 % fast \
                (inside the envelope's ±7 %), one loss, ticks of 100 ms: one leader at a time",
        holds: true,
    },
    NamedCheck {
        protocol: "k8s",
        name: "skew-beyond",
        about: "the same with ±12 % (beyond the envelope): a slow leader whose renewal is \
                lost still acts when a fast candidate's lease has run out (two leaders)",
        holds: false,
    },
    NamedCheck {
        protocol: "k8s",
        name: "restarted-elector",
        about: "client-go unfenced, one candidate, one loss, messages up to a tick late: \
                the leader gives up, its restarted process leads again at once under its \
                stable identity, and its previous process's late write is accepted stale",
        holds: false,
    },
    NamedCheck {
        protocol: "k8s",
        name: "fenced-by-transitions",
        about: "leaseTransitions handed to the resource as a token (one candidate, one \
                loss, messages up to a tick late): refuted, a stale write is accepted",
        holds: false,
    },
    NamedCheck {
        protocol: "k8s",
        name: "fenced-by-resource-version",
        about: "the acquiring Update's resourceVersion as the token, the same bounds: holds",
        holds: true,
    },
    NamedCheck {
        protocol: "dynamodb",
        name: "correct",
        about: "lease 6 s, heartbeat 2 s, refresh 1 s, one tick a second, two clients, two \
                losses, 14 s: no stale write; reaches a heartbeat, a failed condition, a \
                heartbeat-lost expiry and a takeover (belief-exclusivity is not judged: \
                the model's messages may take no time, the client's only margin)",
        holds: true,
    },
    NamedCheck {
        protocol: "dynamodb",
        name: "paused",
        about: "one 9 s pause of a client between its isExpired() check and its write \
                leaving (lease 6 s), beyond the envelope: two holders, and the write \
                accepted stale after the new holder's",
        holds: false,
    },
    NamedCheck {
        protocol: "dynamodb",
        name: "counter-rvn-deleted",
        about: "a counter RVN with delete-on-release (holds of 2 s): the counter starts \
                again at 1, a waiter that saw RVN 1 under the last holder puts over the \
                live lock of the next (two holders)",
        holds: false,
    },
    NamedCheck {
        protocol: "dynamodb",
        name: "counter-rvn-kept",
        about: "the same with release by isReleased (the item and its counter survive): \
                one holder at a time, no stale write",
        holds: true,
    },
    NamedCheck {
        protocol: "dynamodb",
        name: "slow-holder-clock",
        about: "one client's clock 10 % slow and the other's 10 % fast (either may hold), \
                ticks of 100 ms, two losses: a slow holder whose heartbeats are lost still \
                believes its lock when a fast waiter takes it over (two holders)",
        holds: false,
    },
    NamedCheck {
        protocol: "dynamodb",
        name: "hold-on-unavailable",
        about: "holdLockOnServiceUnavailable and writes answered 503 from 2 s to 10 s: \
                two holders",
        holds: false,
    },
];

/// The check `protocol`/`name`, if there is one.
#[must_use]
pub fn find(protocol: &str, name: &str) -> Option<NamedCheck> {
    CHECKS
        .into_iter()
        .find(|c| c.protocol == protocol && c.name == name)
}

/// The names of `protocol`'s checks.
#[must_use]
pub fn names(protocol: &str) -> Vec<&'static str> {
    CHECKS
        .iter()
        .filter(|c| c.protocol == protocol)
        .map(|c| c.name)
        .collect()
}

/// What each system's default check reaches: a renewal (a heartbeat), a refused
/// conditional write (409), a hold ended by the client's own rule (a give-up after
/// RenewDeadline, a heartbeat-lost expiry) and a takeover.
pub const REACH: [&str; 4] = ["renewed", "conflict", "gave-up", "taken-over"];

/// Both systems' checks run at one tick a second.
const SECOND_TICK: u64 = 1_000_000_000;

/// The bounds of a k8s check.
#[must_use]
pub fn k8s_bounds(name: &str) -> Option<PluginModelConfig<K8sConfig>> {
    let base = PluginModelConfig {
        losses: 1,
        judged: vec![
            OracleName::BeliefExclusivity,
            OracleName::StaleWriteAccepted,
        ],
        reach: REACH.to_vec(),
        ..PluginModelConfig::new(K8sConfig::default(), SECOND_TICK, 25)
    };
    let fenced = |fencing| PluginModelConfig {
        protocol: K8sConfig {
            fencing,
            ..K8sConfig::default()
        },
        clients: 1,
        max_delay: 1,
        max_time: 14,
        reach: vec!["gave-up", "refused"],
        ..base.clone()
    };
    // Rate skew: the two candidates' clocks at -ppm and +ppm (either may lead), at ticks
    // of 100 ms so a few per cent show, one loss, the horizon long enough for a leader's
    // lost renewal, its RenewDeadline and a candidate's lease.
    let skewed = |ppm: i32| PluginModelConfig {
        tick_ns: SECOND_TICK / 10,
        max_time: 200,
        rates_ppm: vec![0, 0, -ppm, ppm],
        reach: vec!["gave-up", "taken-over"],
        ..base.clone()
    };
    Some(match name {
        "correct" => base,
        "longest-wait" => PluginModelConfig {
            jitter_ppm: 833_333,
            ..base
        },
        "paused" => PluginModelConfig {
            pauses: 1,
            pause_ticks: 16,
            losses: 0,
            ..base
        },
        "release-on-cancel" => PluginModelConfig {
            protocol: K8sConfig {
                release_on_cancel: true,
                ..K8sConfig::default()
            },
            reach: vec!["gave-up", "gave-back", "taken-over"],
            ..base
        },
        "skew-inside" => skewed(50_000),
        "skew-beyond" => skewed(120_000),
        "restarted-elector" => PluginModelConfig {
            reach: vec!["gave-up"],
            ..fenced(Fencing::None)
        },
        "fenced-by-transitions" => fenced(Fencing::Transitions),
        "fenced-by-resource-version" => fenced(Fencing::ResourceVersion),
        _ => return None,
    })
}

/// The bounds of a dynamodb check.
#[must_use]
pub fn dynamodb_bounds(name: &str) -> Option<PluginModelConfig<DynamoConfig>> {
    let scaled = DynamoConfig {
        lease_duration_ms: 6_000,
        heartbeat_period_ms: 2_000,
        refresh_period_ms: 1_000,
        write_every_ms: 1_000,
        hold_ms: 60_000,
        call_timeout_ms: 1_000,
        ..DynamoConfig::default()
    };
    let base = PluginModelConfig {
        losses: 2,
        judged: vec![OracleName::StaleWriteAccepted],
        reach: REACH.to_vec(),
        ..PluginModelConfig::new(scaled, SECOND_TICK, 14)
    };
    Some(match name {
        "correct" => base,
        // The holder's write, decided at a check that found the lease valid, waits out
        // the pause with it (`pause_holds_sends`): the simulator's stalled write.
        "paused" => PluginModelConfig {
            pauses: 1,
            pause_ticks: 9,
            pause_holds_sends: true,
            losses: 0,
            judged: vec![
                OracleName::BeliefExclusivity,
                OracleName::StaleWriteAccepted,
            ],
            reach: vec!["taken-over"],
            ..base
        },
        // No loss: the repeat alone breaks it. Short holds, so a release and a re-take
        // fall inside a waiter's lease timer.
        "counter-rvn-deleted" | "counter-rvn-kept" => {
            let mut mc = base;
            mc.protocol.rvn = Rvn::Counter;
            mc.protocol.hold_ms = 2_000;
            mc.protocol.think_ms = 1_000;
            mc.protocol.delete_on_release = name == "counter-rvn-deleted";
            mc.losses = 0;
            mc.judged = vec![
                OracleName::BeliefExclusivity,
                OracleName::StaleWriteAccepted,
            ];
            mc.reach = if mc.protocol.delete_on_release {
                vec!["released", "taken-over", "refused"]
            } else {
                vec!["released", "conflict"]
            };
            mc
        }
        "slow-holder-clock" => PluginModelConfig {
            tick_ns: SECOND_TICK / 10,
            max_time: 140,
            rates_ppm: vec![0, 0, -100_000, 100_000],
            judged: vec![
                OracleName::BeliefExclusivity,
                OracleName::StaleWriteAccepted,
            ],
            reach: vec!["taken-over"],
            ..base
        },
        "hold-on-unavailable" => {
            let mut mc = base;
            mc.protocol.hold_on_unavailable = true;
            mc.protocol.unavailable_ms = [2_000, 10_000];
            mc.losses = 0;
            mc.judged = vec![
                OracleName::BeliefExclusivity,
                OracleName::StaleWriteAccepted,
            ];
            mc
        }
        _ => return None,
    })
}

/// Runs the check `protocol`/`name` (`None`: no such check).
#[must_use]
pub fn run(protocol: &str, name: &str) -> Option<PluginCheckReport> {
    match protocol {
        "k8s" => k8s_bounds(name).map(check_plugin_model::<K8s>),
        "dynamodb" => dynamodb_bounds(name).map(check_plugin_model::<DynamoDb>),
        _ => None,
    }
}
