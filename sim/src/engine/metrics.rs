//! Metrics, defined once on tenure events ([`TenureEvent`], protocol-neutral) and computed
//! from ground truth (the simulator's true time and the authority's view), not from a
//! client's belief.
//!
//! - **failover time**: from the last true instant the previous holder could act (its crash,
//!   or its tenure running out at the authority, whichever is first) to the first write the
//!   resource accepts under a later tenure.
//! - **false preemption**: a holder that did not crash lost its lease before it meant to
//!   release it, classified by cause (pause, partition, clock, delay).
//! - acquisition latency, hold time, renewal success rate, renewal slack, expirations,
//!   rejected stale writes, belief overlap.

use leaseproof_impl::{Identity, Key, NodeId, TenureEvent};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The tenures a run's failover time follows, from ground truth: the latest tenure of
/// each key, the tenures still live, and, per key, when failover began. Tenures are the
/// protocol-neutral ids of [`TenureEvent`] (the reference protocol's are its tokens).
#[derive(Clone, Debug, Default)]
pub struct Failover {
    latest: BTreeMap<Key, (Identity, u64)>,
    live: BTreeSet<(Key, u64)>,
    from: BTreeMap<Key, (u64, u64)>,
}

impl Failover {
    /// The authority began `tenure` on `key` for `client`.
    pub fn began(&mut self, key: Key, client: Identity, tenure: u64) {
        self.latest.insert(key, (client, tenure));
        self.live.insert((key, tenure));
    }

    fn begin(&mut self, t: u64, key: Key, tenure: u64) {
        let e = self.from.entry(key).or_insert((t, tenure));
        e.0 = e.0.min(t);
    }

    /// A tenure ran out at the authority at `t`: if it was the key's latest, failover
    /// begins.
    pub fn ran_out(&mut self, t: u64, key: Key, tenure: u64) {
        if self.latest.get(&key).is_some_and(|g| g.1 == tenure) {
            self.begin(t, key, tenure);
        }
    }

    /// Client `node` crashed at `t`: failover begins on every key whose latest tenure it
    /// held while that tenure was live.
    pub fn client_crashed(&mut self, t: u64, node: NodeId) {
        let held: Vec<(Key, u64)> = self
            .latest
            .iter()
            .filter(|(k, (h, ten))| h.node == node && self.live.contains(&(**k, *ten)))
            .map(|(k, (_, ten))| (*k, *ten))
            .collect();
        for (key, tenure) in held {
            self.begin(t, key, tenure);
        }
    }

    /// A tenure ended (given back or ran out); whether none is live any more.
    pub fn ended(&mut self, key: Key, tenure: u64) -> bool {
        self.live.remove(&(key, tenure));
        self.live.is_empty()
    }

    /// Every tenure ended (the authority restarted or crashed).
    pub fn all_ended(&mut self) {
        self.live.clear();
    }

    /// The resource accepted a write at `t`: a failover time if it is the first write of a
    /// later tenure since failover began on the key.
    pub fn write_accepted(&mut self, t: u64, key: Key, tenure: u64) -> Option<u64> {
        let &(from, old) = self.from.get(&key)?;
        if tenure > old {
            self.from.remove(&key);
            return Some(t - from);
        }
        None
    }

    /// The holders of the latest live tenures.
    pub fn live_holders(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.latest
            .iter()
            .filter(|(k, g)| self.live.contains(&(**k, g.1)))
            .map(|(_, g)| g.0.node)
    }
}

/// The metrics defined on tenure events, for every protocol: one definition for the
/// simulator's world and for real runs (`leaseproof real`), fed the same events in true
/// time. What a shell adds (the cause a false preemption is classed under, which needs
/// the fault history) it adds beside this.
#[derive(Clone, Debug, Default)]
pub struct Tenures {
    failover: Failover,
    wanted_at: BTreeMap<NodeId, u64>,
    acting_since: BTreeMap<NodeId, u64>,
    /// Since when some tenure has been live (for availability).
    held_since: Option<u64>,
}

impl Tenures {
    /// Feeds one tenure event seen at true time `t`.
    pub fn observe(&mut self, m: &mut RunMetrics, t: u64, ev: TenureEvent) {
        match ev {
            TenureEvent::Wanted { client, .. } => {
                self.wanted_at.insert(client.node, t);
            }
            TenureEvent::Acting { client, .. } => {
                if let Some(r) = self.wanted_at.remove(&client.node) {
                    m.acquisition_ns.push(t - r);
                }
                self.acting_since.insert(client.node, t);
            }
            TenureEvent::Extended { slack_ns } => {
                m.renewals_confirmed += 1;
                m.renewal_slack_ns.push(slack_ns);
            }
            TenureEvent::ExtendAsked => m.renewals_sent += 1,
            TenureEvent::Stopped { client, .. } => self.stopped_acting(m, t, client.node),
            TenureEvent::Began {
                client,
                key,
                tenure,
                ..
            } => {
                m.grants += 1;
                self.failover.began(key, client, tenure);
                self.held_since.get_or_insert(t);
            }
            TenureEvent::Ended {
                key,
                tenure,
                ran_out,
                ..
            } => {
                if ran_out {
                    m.expirations += 1;
                    self.failover.ran_out(t, key, tenure);
                }
                if self.failover.ended(key, tenure) {
                    self.none_held(m, t);
                }
            }
            TenureEvent::AllEnded => self.all_ended(m, t),
            TenureEvent::WriteAccepted { key, tenure, .. } => {
                m.writes_accepted += 1;
                m.failover_ns
                    .extend(self.failover.write_accepted(t, key, tenure));
            }
            TenureEvent::WriteRefused { .. } => {
                m.stale_writes_rejected += 1;
                m.token_mismatches += 1;
            }
            // What the oracles read and these metrics do not.
            TenureEvent::Booted { .. }
            | TenureEvent::Withdrew { .. }
            | TenureEvent::GaveBack { .. }
            | TenureEvent::WriteDecided { .. }
            | TenureEvent::Renewed { .. } => {}
            TenureEvent::JobApplied { .. } => m.jobs_applied += 1,
            TenureEvent::JobRepeated { .. } => m.jobs_already_done += 1,
            TenureEvent::JobRefused { .. } => m.job_rejections += 1,
            TenureEvent::JobDeadLettered { job, .. } => {
                *m.dead_letters.entry(job.0).or_default() += 1;
            }
        }
    }

    fn stopped_acting(&mut self, m: &mut RunMetrics, t: u64, node: NodeId) {
        if let Some(since) = self.acting_since.remove(&node) {
            m.hold_ns.push(t - since);
        }
    }

    fn none_held(&mut self, m: &mut RunMetrics, t: u64) {
        if let Some(s) = self.held_since.take() {
            m.held_ns += t - s;
        }
    }

    /// Client `node` was killed at `t`: it stops acting, and failover begins on what it
    /// held.
    pub fn client_crashed(&mut self, m: &mut RunMetrics, t: u64, node: NodeId) {
        self.failover.client_crashed(t, node);
        self.stopped_acting(m, t, node);
    }

    /// The authority went down or restarted at `t`: every tenure ended.
    pub fn all_ended(&mut self, m: &mut RunMetrics, t: u64) {
        self.failover.all_ended();
        self.none_held(m, t);
    }

    /// Closes the books at the end of the run.
    pub fn finish(&mut self, m: &mut RunMetrics, t: u64) {
        self.none_held(m, t);
    }

    /// The holders of the latest live tenures.
    pub fn live_holders(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.failover.live_holders()
    }
}

/// What one seed measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct RunMetrics {
    pub failover_ns: Vec<u64>,
    pub false_preemptions: BTreeMap<String, u32>,
    pub acquisition_ns: Vec<u64>,
    pub hold_ns: Vec<u64>,
    pub renewals_sent: u32,
    pub renewals_confirmed: u32,
    pub renewal_slack_ns: Vec<u64>,
    pub grants: u32,
    pub expirations: u32,
    pub stale_writes_rejected: u32,
    /// A token that was not the current one, seen anywhere: a write rejected for a stale
    /// token, a renewal refused as not-holder, a holder fenced by a rejection.
    pub token_mismatches: u32,
    pub writes_accepted: u32,
    pub belief_overlap_ns: u64,
    pub belief_overlap_episodes: u32,
    /// True time during which some client held a live grant (for availability).
    pub held_ns: u64,
    pub run_ns: u64,
    /// Datagrams the shells sent (duplicates included).
    pub messages_sent: u64,
    /// Exactly-once work: effects applied, attempts answered from a job's record, definite
    /// rejections, and the dead-letter list (job index -> how many runs dead-lettered it).
    pub jobs_applied: u32,
    pub jobs_already_done: u32,
    pub job_rejections: u32,
    pub dead_letters: BTreeMap<u32, u32>,
}

impl RunMetrics {
    pub fn merge(&mut self, o: &RunMetrics) {
        self.failover_ns.extend_from_slice(&o.failover_ns);
        for (k, v) in &o.false_preemptions {
            *self.false_preemptions.entry(k.clone()).or_default() += v;
        }
        self.acquisition_ns.extend_from_slice(&o.acquisition_ns);
        self.hold_ns.extend_from_slice(&o.hold_ns);
        self.renewals_sent += o.renewals_sent;
        self.renewals_confirmed += o.renewals_confirmed;
        self.renewal_slack_ns.extend_from_slice(&o.renewal_slack_ns);
        self.grants += o.grants;
        self.expirations += o.expirations;
        self.stale_writes_rejected += o.stale_writes_rejected;
        self.token_mismatches += o.token_mismatches;
        self.writes_accepted += o.writes_accepted;
        self.belief_overlap_ns += o.belief_overlap_ns;
        self.belief_overlap_episodes += o.belief_overlap_episodes;
        self.held_ns += o.held_ns;
        self.run_ns += o.run_ns;
        self.messages_sent += o.messages_sent;
        self.jobs_applied += o.jobs_applied;
        self.jobs_already_done += o.jobs_already_done;
        self.job_rejections += o.job_rejections;
        for (k, v) in &o.dead_letters {
            *self.dead_letters.entry(*k).or_default() += v;
        }
    }
}

/// Percentiles of a sample, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Dist {
    pub n: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
}

impl Dist {
    /// A value of this distribution for a table, in whole ms: "n/a" when the sample is
    /// empty (no failover happened, no renewal was confirmed), never a 0 that reads as a
    /// measurement.
    #[must_use]
    pub fn cell(&self, pick: fn(&Dist) -> f64) -> String {
        if self.n == 0 {
            "n/a".into()
        } else {
            format!("{:.0}", pick(self))
        }
    }

    #[must_use]
    pub fn of(ns: &[u64]) -> Dist {
        if ns.is_empty() {
            return Dist::default();
        }
        let mut v = ns.to_vec();
        v.sort_unstable();
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize] as f64 / 1e6;
        Dist {
            n: v.len(),
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            min_ms: v[0] as f64 / 1e6,
            max_ms: v[v.len() - 1] as f64 / 1e6,
        }
    }
}

/// A rate with its Wilson score interval (95 %).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Rate {
    pub hits: u64,
    pub n: u64,
    pub rate: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Rate {
    #[must_use]
    pub fn wilson(hits: u64, n: u64) -> Rate {
        if n == 0 {
            return Rate::default();
        }
        let z = 1.96f64;
        let (h, nf) = (hits as f64, n as f64);
        let p = h / nf;
        let denom = 1.0 + z * z / nf;
        let centre = (p + z * z / (2.0 * nf)) / denom;
        let half = z * (p * (1.0 - p) / nf + z * z / (4.0 * nf * nf)).sqrt() / denom;
        Rate {
            hits,
            n,
            rate: p,
            lo: (centre - half).max(0.0),
            hi: (centre + half).min(1.0),
        }
    }
}

/// The summary `run --json` reports per scenario.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub failover: Dist,
    pub acquisition: Dist,
    pub hold: Dist,
    pub renewal_slack: Dist,
    pub renewal_success: Rate,
    pub false_preemptions: BTreeMap<String, u32>,
    pub grants: u32,
    pub expirations: u32,
    pub stale_writes_rejected: u32,
    pub token_mismatches: u32,
    pub writes_accepted: u32,
    pub belief_overlap_ms: f64,
    pub belief_overlap_episodes: u32,
    pub availability: f64,
    /// Exactly-once work (all zero without `[jobs]`); the dead-letter list by name is in
    /// the scenario report.
    pub jobs_applied: u32,
    pub jobs_already_done: u32,
    pub job_rejections: u32,
}

impl Summary {
    #[must_use]
    pub fn of(m: &RunMetrics) -> Summary {
        Summary {
            failover: Dist::of(&m.failover_ns),
            acquisition: Dist::of(&m.acquisition_ns),
            hold: Dist::of(&m.hold_ns),
            renewal_slack: Dist::of(&m.renewal_slack_ns),
            renewal_success: Rate::wilson(
                u64::from(m.renewals_confirmed),
                u64::from(m.renewals_sent.max(m.renewals_confirmed)),
            ),
            false_preemptions: m.false_preemptions.clone(),
            grants: m.grants,
            expirations: m.expirations,
            stale_writes_rejected: m.stale_writes_rejected,
            token_mismatches: m.token_mismatches,
            writes_accepted: m.writes_accepted,
            belief_overlap_ms: m.belief_overlap_ns as f64 / 1e6,
            belief_overlap_episodes: m.belief_overlap_episodes,
            availability: if m.run_ns == 0 {
                0.0
            } else {
                m.held_ns as f64 / m.run_ns as f64
            },
            jobs_applied: m.jobs_applied,
            jobs_already_done: m.jobs_already_done,
            job_rejections: m.job_rejections,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_brackets_the_rate() {
        let r = Rate::wilson(5, 100);
        assert!(r.lo < 0.05 && 0.05 < r.hi);
        assert!((r.lo - 0.0215).abs() < 0.001, "{r:?}");
        assert_eq!(Rate::wilson(0, 0), Rate::default());
        assert_eq!(Rate::wilson(0, 50).lo, 0.0);
    }

    #[test]
    fn an_empty_sample_reads_n_a_in_a_table() {
        assert_eq!(Dist::of(&[]).cell(|d| d.p99_ms), "n/a");
        assert_eq!(Dist::of(&[2_400_000]).cell(|d| d.p99_ms), "2");
        assert_eq!(
            Dist::of(&[0]).cell(|d| d.max_ms),
            "0",
            "a measured 0 stays 0"
        );
    }

    #[test]
    fn percentiles_of_a_sample() {
        let d = Dist::of(&(1..=100).map(|i| i * 1_000_000).collect::<Vec<_>>());
        assert_eq!((d.min_ms, d.max_ms, d.n), (1.0, 100.0, 100));
        assert!(
            (d.p50_ms - 51.0).abs() <= 1.0 && (d.p99_ms - 99.0).abs() <= 1.0,
            "{d:?}"
        );
    }
}
