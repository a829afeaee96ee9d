//! The protocol boundary, as far as it is built (docs/protocols.md): which protocol a
//! scenario or a check names, and the protocol's **assumptions**, a predicate over the
//! fault bounds a scenario configures, inside which the protocol claims safety. Scenario
//! validation classifies a scenario as within or beyond by asking the protocol
//! ([`Assumptions::breaches`]) instead of carrying the reference protocol's rule itself.
//!
//! [`FaultBounds`] is protocol-neutral: clocks' drift, clock steps and crashes that lose
//! durable state, each with the scenario field that configures it, so a breach names the
//! field a user must change.

use crate::config::ProtocolConfig;
use crate::oracle::OracleName;
use serde::{Deserialize, Serialize};

/// A protocol leaseproof can run: `[protocol] kind` in a scenario, `check --protocol`.
/// The reference protocol is the only one built in so far; the plug-in issue adds the
/// real systems behind this name.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ProtocolKind {
    /// leaseproof's own fenced lease protocol (docs/design.md, "Protocol").
    #[default]
    Reference,
}

impl ProtocolKind {
    /// Every protocol, in the order `--help` lists them.
    pub const ALL: [ProtocolKind; 1] = [ProtocolKind::Reference];

    /// The name a scenario or a flag writes.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ProtocolKind::Reference => "reference",
        }
    }

    /// The protocol a name stands for; the error lists the known names.
    ///
    /// # Errors
    /// An unknown name.
    pub fn parse(name: &str) -> Result<ProtocolKind, String> {
        ProtocolKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = ProtocolKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown protocol {name:?} (known: {})", known.join(", "))
            })
    }
}

/// How far one clock may drift from true time, and the field that allows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriftBound {
    pub field: String,
    /// The largest |drift| in ppm.
    pub ppm: u32,
}

/// A scripted clock step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepBound {
    pub field: String,
    /// The step is the authority's (the node whose clock times every grant).
    pub authority: bool,
    pub at_ms: u64,
    /// Forward when positive.
    pub by_ms: i64,
}

/// A crash that loses what a node keeps on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LossBound {
    pub field: String,
    /// What is lost, in words (the server's token counter, the resource's table).
    pub what: String,
}

/// A client that crashes and restarts (a new process under the same name), and the
/// shortest it stays down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestartBound {
    pub field: String,
    /// The shortest down time, ms.
    pub down_ms: u64,
}

/// A fault that can hold a node's core between two of its steps for any length of time
/// (a process pause, a stall between the core's decision and its send, buggify's delays):
/// while it lasts the core keeps what it believed at its last step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuspendBound {
    pub field: String,
    /// What suspends the core, in words (a pause, a stall before a send).
    pub what: String,
    /// Which fault it is.
    pub kind: Suspension,
    /// The longest such suspension, ms ([`u64::MAX`]: no bound is configured, as for
    /// buggify's delays or a pause of any length the model may take): what a plug-in
    /// whose envelope bounds pauses reads.
    pub ms: u64,
}

/// A fault that suspends a core ([`SuspendBound`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suspension {
    /// The whole process stops (a GC pause, SIGSTOP): scripted or random pauses.
    Pause,
    /// A stall between a core's decision to write and the write's send.
    StallBeforeSend,
    /// madsim's buggify delays.
    Buggify,
}

/// How far a clock may read from true time (its constant offset), and the field that
/// allows it. The reference protocol compares only instants of one clock, so no offset
/// leaves its assumptions; a protocol that compares one node's reading with another's
/// (a server that trusts a client's timestamp) bounds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetBound {
    pub field: String,
    /// The largest |offset| in ms.
    pub ms: u64,
}

/// The faults a scenario configures, as bounds any protocol's assumptions are judged
/// against. Partitions, loss, duplication, latency and crashes that keep the disk are
/// within every protocol's assumptions today, so they are not listed here yet; pauses and
/// other suspensions are listed because an oracle's own assumptions may exclude them
/// ([`Assumptions::oracle_breaches`]). A plug-in whose assumptions bound a fault (a
/// measured pause envelope) adds its field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultBounds {
    pub drift: Vec<DriftBound>,
    pub steps: Vec<StepBound>,
    pub losses: Vec<LossBound>,
    pub suspends: Vec<SuspendBound>,
    pub offsets: Vec<OffsetBound>,
    /// The longest one-way message latency configured, ms, and the field that sets it
    /// (a reply's delay and a write's flight time are bounded by it): what a plug-in whose
    /// envelope bounds reply delays reads. Empty where no field sets it.
    pub latency: Option<LatencyBound>,
    /// Client restarts, each with its shortest down time: what a plug-in whose restarted
    /// client takes its hold back at once (client-go's stable identity) reads.
    pub restarts: Vec<RestartBound>,
}

impl FaultBounds {
    /// The longest and the shortest one-way latency, ms (0 and 0 where no field sets it).
    #[must_use]
    pub fn latency_ms(&self) -> (u64, u64) {
        self.latency.as_ref().map_or((0, 0), |l| (l.ms, l.min_ms))
    }

    /// The field that sets the longest latency (`cluster.latency_ms` where none is known).
    #[must_use]
    pub fn latency_field(&self) -> String {
        self.latency
            .as_ref()
            .map_or_else(|| "cluster.latency_ms".into(), |l| l.field.clone())
    }

    /// The clock allowed the largest |drift|, if any clock may drift.
    #[must_use]
    pub fn widest_drift(&self) -> Option<&DriftBound> {
        self.drift.iter().max_by_key(|d| d.ppm)
    }

    /// The clock steps of every node but the authority.
    pub fn client_steps(&self) -> impl Iterator<Item = &StepBound> {
        self.steps.iter().filter(|s| !s.authority)
    }
}

/// The one-way latency a scenario configures: the longest, and the shortest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatencyBound {
    pub field: String,
    pub ms: u64,
    pub min_ms: u64,
}

/// One way a scenario leaves a protocol's assumptions: the field and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breach {
    pub field: String,
    pub reason: String,
}

/// A protocol's assumptions: the breaches of a scenario's fault bounds (none: within).
pub trait Assumptions {
    fn breaches(&self, bounds: &FaultBounds) -> Vec<Breach>;

    /// The breaches of one oracle's own assumptions, for an oracle the protocol claims
    /// only under narrower bounds (none: a scenario may list it in `always`). By default
    /// none: an oracle is claimed wherever the scenario's class says (a scenario beyond
    /// [`Assumptions::breaches`] says what it finds, whatever else it lists in `always`).
    fn oracle_breaches(&self, oracle: OracleName, bounds: &FaultBounds) -> Vec<Breach> {
        let _ = (oracle, bounds);
        Vec::new()
    }
}

/// The reference protocol's assumptions on its derived configuration (the
/// [`crate::plugin::Reference`] plug-in's config): the same rule as [`ProtocolConfig`]'s,
/// whose three fields it keeps.
impl Assumptions for crate::config::Config {
    fn breaches(&self, bounds: &FaultBounds) -> Vec<Breach> {
        self.source().breaches(bounds)
    }
    fn oracle_breaches(&self, oracle: OracleName, bounds: &FaultBounds) -> Vec<Breach> {
        self.source().oracle_breaches(oracle, bounds)
    }
}

impl crate::config::Config {
    /// The protocol fields the assumptions read, back in the scenario's units.
    fn source(&self) -> ProtocolConfig {
        const MS: u64 = 1_000_000;
        ProtocolConfig {
            drift_ppm_max: self.drift_ppm_max,
            ttl_ms: self.ttl_ns / MS,
            safety_margin_ms: self.safety_margin_ns / MS,
            fresh_window_ms: self.fresh_window_ns / MS,
            requeue_interval_ms: self.requeue_interval_ns / MS,
            ..ProtocolConfig::default()
        }
    }
}

/// The reference protocol's assumptions (docs/design.md, "Faults"): every clock within
/// `drift_ppm_max`; no clock stepped back; the server's forward steps within any one TTL
/// window add up to at most `safety_margin_ms` (the client's validity span absorbs them);
/// no crash loses the server's token counter or the resource's table.
impl Assumptions for ProtocolConfig {
    fn breaches(&self, bounds: &FaultBounds) -> Vec<Breach> {
        let mut out = Vec::new();
        for d in bounds.drift.iter().filter(|d| d.ppm > self.drift_ppm_max) {
            out.push(Breach {
                field: d.field.clone(),
                reason: format!(
                    "drift of {} ppm is above protocol.drift_ppm_max {} ppm",
                    d.ppm, self.drift_ppm_max
                ),
            });
        }
        for s in bounds.steps.iter().filter(|s| s.by_ms < 0) {
            out.push(Breach {
                field: s.field.clone(),
                reason: format!("a clock stepped back by {} ms", -s.by_ms),
            });
        }
        let forward: Vec<&StepBound> = bounds
            .steps
            .iter()
            .filter(|s| s.authority && s.by_ms > 0)
            .collect();
        let margin = self.safety_margin_ms as i64;
        for s in &forward {
            let window: i64 = forward
                .iter()
                .filter(|t| t.at_ms >= s.at_ms && t.at_ms < s.at_ms + self.ttl_ms)
                .map(|t| t.by_ms)
                .sum();
            if window > margin {
                out.push(Breach {
                    field: s.field.clone(),
                    reason: format!(
                        "the server's forward steps from {} ms add up to {window} ms within one \
                         TTL ({} ms), above protocol.safety_margin_ms {margin} ms",
                        s.at_ms, self.ttl_ms
                    ),
                });
            }
        }
        for l in &bounds.losses {
            out.push(Breach {
                field: l.field.clone(),
                reason: format!("a crash loses the {} kept on disk", l.what),
            });
        }
        out
    }

    /// Belief exclusivity holds only within the protocol's assumptions and without
    /// suspensions: a pause, a stall before a send
    /// or a buggify delay can hold a client's core in Holding past its deadline (its
    /// expiry timer cannot fire while the core takes no step), and the server grants the
    /// key again at expiry. Fencing keeps the resource safe there; the belief is not.
    ///
    /// Liveness needs a queued waiter's entry to stay fresh between its refreshes. The
    /// client times its next re-send from the arrival of the answer to the last one
    /// (`LeaseClient::requeue`), so two refreshes can reach the server
    /// `requeue_interval + 2·latency_max` apart, the interval on a slow client's clock read
    /// on a fast server's; at a hand-over a stale entry is passed over and the previous
    /// holder, back from its think time, can be granted first, again and again. So the
    /// fresh window must exceed that spacing. Found by the model checker (docs/design.md,
    /// "Liveness": two clients, fresh window 3, requeue 2, delivery within 1 tick).
    fn oracle_breaches(&self, oracle: OracleName, bounds: &FaultBounds) -> Vec<Breach> {
        if oracle == OracleName::Liveness {
            return self.liveness_breaches(bounds);
        }
        belief_needs_steps(oracle, bounds, || self.breaches(bounds))
    }
}

impl ProtocolConfig {
    /// The largest spacing of a queued waiter's refreshes at the server, on the client's
    /// clock: it re-sends `requeue_interval` after the answer to its last Acquire arrives,
    /// so two refreshes reach the server up to `requeue_interval + 2·latency_max` apart.
    #[must_use]
    pub fn refresh_spacing_ms(&self, latency_max_ms: u64) -> u64 {
        self.requeue_interval_ms
            .saturating_add(latency_max_ms.saturating_mul(2))
    }

    /// The liveness assumption (see [`Assumptions::oracle_breaches`]): the fresh window
    /// above the largest spacing of a waiter's refreshes at the server.
    fn liveness_breaches(&self, bounds: &FaultBounds) -> Vec<Breach> {
        let (latency_ms, _) = bounds.latency_ms();
        let spacing_ms = self.refresh_spacing_ms(latency_ms);
        let read = crate::config::drift::slow_to_fast(spacing_ms, self.drift_ppm_max);
        if read < u128::from(self.fresh_window_ms) {
            return Vec::new();
        }
        vec![Breach {
            field: "protocol.fresh_window_ms".into(),
            reason: format!(
                "{} ms is not above a waiter's refresh spacing at the server, \
                 protocol.requeue_interval_ms {} + 2 × {} {latency_ms} ms = {spacing_ms} ms{}: \
                 a queued waiter's entry can go stale at every hand-over",
                self.fresh_window_ms,
                self.requeue_interval_ms,
                bounds.latency_field(),
                if self.drift_ppm_max > 0 {
                    format!(" ({read} ms stretched by drift)")
                } else {
                    String::new()
                }
            ),
        }]
    }
}

/// The usual per-oracle assumption of a lease protocol, for a plug-in's
/// [`Assumptions::oracle_breaches`] to return: belief-exclusivity holds only within the
/// protocol's assumptions (`breaches`) and without suspensions, since a suspended core
/// that passed its check still acts past its deadline; every other oracle is claimed
/// wherever the scenario's class says.
pub fn belief_needs_steps(
    oracle: OracleName,
    bounds: &FaultBounds,
    breaches: impl FnOnce() -> Vec<Breach>,
) -> Vec<Breach> {
    if oracle != OracleName::BeliefExclusivity {
        return Vec::new();
    }
    let mut out = breaches();
    out.extend(bounds.suspends.iter().map(|s| Breach {
        field: s.field.clone(),
        reason: format!(
            "{} can hold a client's core in Holding past its deadline",
            s.what
        ),
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(at_ms: u64, by_ms: i64, authority: bool) -> StepBound {
        StepBound {
            field: format!("faults.script[{at_ms}].by_ms"),
            authority,
            at_ms,
            by_ms,
        }
    }

    #[test]
    fn names_parse_and_unknown_ones_list_the_known() {
        assert_eq!(
            ProtocolKind::parse("reference"),
            Ok(ProtocolKind::Reference)
        );
        let e = ProtocolKind::parse("etcd").unwrap_err();
        assert!(
            e.contains("\"etcd\"") && e.contains("known: reference"),
            "{e}"
        );
    }

    #[test]
    fn the_reference_protocol_names_each_breach_and_its_field() {
        let p = ProtocolConfig::default(); // ttl 10 s, margin 100 ms, drift 1,000 ppm
        assert!(p.breaches(&FaultBounds::default()).is_empty());
        let within = FaultBounds {
            drift: vec![DriftBound {
                field: "clocks.drift_ppm".into(),
                ppm: 1_000,
            }],
            // Client steps forward are within; server steps of 60 + 40 ms within one TTL
            // exactly use the margin.
            steps: vec![
                step(0, 5_000, false),
                step(10, 60, true),
                step(20, 40, true),
            ],
            losses: Vec::new(),
            suspends: Vec::new(),
            // The reference protocol compares instants of one clock only: no offset
            // leaves its assumptions.
            offsets: vec![OffsetBound {
                field: "clock_offset_ms_max".into(),
                ms: 3_600_000,
            }],
            latency: Some(LatencyBound {
                field: "cluster.latency_ms".into(),
                ms: 60_000,
                min_ms: 1,
            }),
            restarts: Vec::new(),
        };
        assert!(p.breaches(&within).is_empty());
        let beyond = FaultBounds {
            drift: vec![DriftBound {
                field: "clocks.pin[0].drift_ppm".into(),
                ppm: 1_001,
            }],
            steps: vec![
                step(0, -1, false),
                step(10, 60, true),
                step(20, 41, true),
                // A TTL later: a window of its own, within the margin.
                step(10_020, 100, true),
            ],
            losses: vec![LossBound {
                field: "faults.script[3].lose".into(),
                what: "counter".into(),
            }],
            suspends: Vec::new(),
            offsets: Vec::new(),
            latency: None,
            restarts: Vec::new(),
        };
        let b = p.breaches(&beyond);
        let fields: Vec<&str> = b.iter().map(|b| b.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "clocks.pin[0].drift_ppm",
                "faults.script[0].by_ms",
                "faults.script[10].by_ms",
                "faults.script[3].lose"
            ]
        );
        assert!(b[2].reason.contains("add up to 101 ms"), "{}", b[2].reason);
    }

    #[test]
    fn belief_exclusivity_is_claimed_only_without_suspensions() {
        let p = ProtocolConfig::default();
        let paused = FaultBounds {
            suspends: vec![SuspendBound {
                field: "faults.script[1].pause".into(),
                what: "a pause".into(),
                kind: Suspension::Pause,
                ms: 1_000,
            }],
            ..FaultBounds::default()
        };
        // A pause is within the protocol's safety and fenced writes,
        assert!(p.breaches(&paused).is_empty());
        assert!(p
            .oracle_breaches(OracleName::FencedWrites, &paused)
            .is_empty());
        // but not within belief exclusivity's own assumptions.
        let b = p.oracle_breaches(OracleName::BeliefExclusivity, &paused);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].field, "faults.script[1].pause");
        assert!(
            b[0].reason.contains("Holding past its deadline"),
            "{}",
            b[0].reason
        );
        assert!(p
            .oracle_breaches(OracleName::BeliefExclusivity, &FaultBounds::default())
            .is_empty());
    }
}
