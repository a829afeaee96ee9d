//! The state one simulated run shares between its node shells and its supervisor: clocks,
//! disks, incarnations, the oracles and the metrics. Every event passes through
//! [`World::record_event`], which stamps it with true time and the server's clock reading.
//!
//! The simulation runs on one thread; the lock is never held across an `await`.

use crate::clock::{true_now_ns, NodeClock};
use crate::fault::{FaultKind, Touch};
use crate::metrics::{RunMetrics, Tenures};
use crate::scenario::{is_client, node_id, node_idx, node_name, NodeIdx, FIRST_CLIENT, SERVER};
use crate::timeline::Timeline;
use leaseproof_impl::config::drift;
use leaseproof_impl::{
    ActingClients, Belief, BeliefOverlap, Event, Fnv, GhostTenures, Identity, Key, Liveness,
    LossCause, Msg, Nanos, OracleName, Protocol, Reference, SafetyOracles, TenureEvent, Violation,
};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::Hash;
use std::net::SocketAddr;
use tokio::sync::mpsc::UnboundedSender;

/// What a node's inbox carries: a frame from the network, or a nudge to re-read its clock
/// (after a step).
#[derive(Debug)]
pub enum Input {
    Frame(crate::wire::Datagram, SocketAddr),
    Wake,
    /// A client's worker stalls (`true`) or resumes.
    Stall(bool),
}

/// A violation with the true instant it was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Found {
    pub true_ns: u64,
    pub violation: Violation,
}

/// One line of a replay trace (of the reference protocol unless said otherwise: `E` and
/// `M` are a protocol's events and messages).
#[derive(Clone, Debug, Serialize)]
pub struct TraceLine<E = Event, M = Msg> {
    pub t_ms: f64,
    pub server_ms: f64,
    pub node: String,
    pub what: &'static str,
    pub kind: String,
    /// What happened, as a reader would write it.
    pub detail: String,
    /// The event itself, structured (event lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<E>,
    /// The message itself, structured (send and receive lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<M>,
}

/// Network knobs the shells read (they change at heal).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct NetKnobs {
    pub duplicate_ratio: f64,
    pub send_delay_ratio: f64,
    pub send_delay_ms: [u64; 2],
    /// The chance that a server's (index 0) or the resource's (1) step with a crash point
    /// crashes at one (0 after heal: crash points are faults).
    pub crash_point_ratio: [f64; 2],
}

/// One run's shared state, for any protocol `P` ([`Protocol`]; the reference protocol by
/// default).
pub struct World<P: Protocol = Reference> {
    pub cfg: P::Config,
    pub clocks: Vec<NodeClock>,
    pub disks: Vec<P::Disk>,
    pub incarnations: Vec<u32>,
    pub inboxes: Vec<Option<UnboundedSender<Input>>>,
    pub oracles: SafetyOracles,
    pub liveness: Liveness,
    pub overlap: BeliefOverlap,
    /// Which clients may act, for the belief-exclusivity oracle (kept only when a
    /// scenario names it).
    acting: ActingClients,
    pub found: Vec<Found>,
    pub coverage: BTreeSet<String>,
    pub metrics: RunMetrics,
    pub hash: Fnv,
    pub trace: Option<Vec<TraceLine<P::Event, P::Msg>>>,
    /// The structured timeline (kept with the trace).
    pub timeline: Option<Timeline>,
    /// Every event as the oracles saw it, stamped with the server's clock (kept with the
    /// trace).
    pub events: Option<Vec<(Nanos, P::Event)>>,
    pub net: NetKnobs,
    /// Where a shell that crashed at a crash point asks the supervisor to take its node
    /// down (the node, and what the crash kept and lost).
    pub crash_requests: Option<tokio::sync::mpsc::UnboundedSender<(NodeIdx, String)>>,
    /// Ground truth of faults, for classifying causes: whether a node's process is frozen
    /// by a pause now (its pause faults in force are counted in `pauses`: both change only
    /// through `pause_begins`, `pause_ends` and `pauses_cleared`).
    paused: Vec<bool>,
    pauses: Vec<u32>,
    pub down: Vec<bool>,
    /// A stall that fired before the client's shell was listening: applied at its boot.
    pub pending_stall: Vec<Option<bool>>,
    /// A scripted delay armed for each client's next write to the resource, ms.
    pub write_delays: Vec<Option<u64>>,
    /// Scripted extra latency per directed link, ms.
    pub link_delays: BTreeMap<(NodeIdx, NodeIdx), u64>,
    last_fault: Vec<BTreeMap<Touch, u64>>,
    pub last_server_boot_ns: u64,
    tenures: Tenures,
    /// A time-lock a shell saw (a timer that fired again and again at one instant without
    /// moving on): a liveness failure.
    pub timelock: Option<String>,
    /// The key each client's last belief was on.
    belief_key: Vec<Key>,
    /// The harness's ghost tenures, for a protocol judged by them
    /// ([`Protocol::GHOST_TENURES`]): what a write is sent with, out of band.
    pub ghosts: GhostTenures,
}

impl<P: Protocol> World<P> {
    #[must_use]
    pub fn new(cfg: P::Config, clocks: Vec<NodeClock>, net: NetKnobs, trace: bool) -> World<P> {
        let n = clocks.len();
        World {
            oracles: P::oracles(&cfg),
            cfg,
            clocks,
            disks: vec![P::Disk::default(); n],
            incarnations: vec![0; n],
            inboxes: (0..n).map(|_| None).collect(),
            liveness: Liveness::new(),
            overlap: BeliefOverlap::new(),
            acting: ActingClients::default(),
            found: Vec::new(),
            coverage: BTreeSet::new(),
            metrics: RunMetrics::default(),
            hash: Fnv::default(),
            trace: trace.then(Vec::new),
            timeline: trace.then(|| Timeline::new(n)),
            events: trace.then(Vec::new),
            net,
            crash_requests: None,
            paused: vec![false; n],
            pauses: vec![0; n],
            down: vec![false; n],
            pending_stall: vec![None; n],
            write_delays: vec![None; n],
            link_delays: BTreeMap::new(),
            last_fault: vec![BTreeMap::new(); n],
            last_server_boot_ns: 0,
            tenures: Tenures::default(),
            timelock: None,
            belief_key: vec![Key(0); n],
            ghosts: GhostTenures::default(),
        }
    }

    #[must_use]
    pub fn local_now(&self, idx: NodeIdx) -> Nanos {
        self.clocks[idx].local(true_now_ns())
    }

    #[must_use]
    pub fn server_now(&self) -> Nanos {
        self.local_now(SERVER)
    }

    /// A node boots: its next incarnation (the first boot is 0), and what its disk kept.
    pub fn boot(&mut self, idx: NodeIdx) -> (Identity, P::Disk) {
        let incarnation = self.incarnations[idx];
        self.incarnations[idx] += 1;
        self.down[idx] = false;
        if idx == SERVER {
            self.last_server_boot_ns = true_now_ns();
        }
        (
            Identity {
                node: node_id(idx),
                incarnation,
            },
            self.disks[idx].clone(),
        )
    }

    fn mix(&mut self, t: u64, idx: NodeIdx, what: &'static str, h: &impl Hash) {
        t.hash(&mut self.hash);
        idx.hash(&mut self.hash);
        what.hash(&mut self.hash);
        h.hash(&mut self.hash);
    }

    fn line(&mut self, t: u64, idx: NodeIdx, what: &'static str, kind: &str, detail: String) {
        self.line_with(t, idx, what, kind, detail, None, None);
    }

    #[allow(clippy::too_many_arguments)]
    fn line_with(
        &mut self,
        t: u64,
        idx: NodeIdx,
        what: &'static str,
        kind: &str,
        detail: String,
        event: Option<P::Event>,
        msg: Option<P::Msg>,
    ) {
        let server_ms = self.clocks[SERVER].local(t).as_ms_f64();
        if let Some(tr) = self.trace.as_mut() {
            tr.push(TraceLine {
                t_ms: t as f64 / 1e6,
                server_ms,
                node: node_name(idx),
                what,
                kind: kind.to_string(),
                detail,
                event,
                msg,
            });
        }
    }

    /// A node's timer fired, for `poll_timeout`'s reason: a trace line only (the trace
    /// hash does not mix it, so pinned hashes stay).
    pub fn record_timer(&mut self, idx: NodeIdx, why: &'static str) {
        if self.trace.is_some() {
            self.line(
                true_now_ns(),
                idx,
                "timer",
                why,
                format!("timer fired: {why}"),
            );
        }
    }

    /// A shell saw a time-lock on `idx` (reported once per run): coverage, trace and hash.
    pub fn record_timelock(&mut self, idx: NodeIdx, what: String) {
        if self.timelock.is_some() {
            return;
        }
        let t = true_now_ns();
        self.coverage.insert("time-lock".into());
        self.mix(t, idx, "time-lock", &what);
        self.line(t, idx, "fault", "time-lock", what.clone());
        self.timelock = Some(what);
    }

    /// A fault took effect (or ended): coverage, trace and hash.
    pub fn record_fault(&mut self, idx: NodeIdx, kind: FaultKind, detail: String) {
        self.record_fault_span(idx, kind, detail, None);
    }

    /// [`World::record_fault`] for a fault that lasts `span_ns` from now by itself (a
    /// write's send delay), so the timeline can shade it.
    pub fn record_fault_span(
        &mut self,
        idx: NodeIdx,
        kind: FaultKind,
        detail: String,
        span_ns: Option<u64>,
    ) {
        let t = true_now_ns();
        let label = kind.name();
        self.coverage.insert(label.to_string());
        self.mix(t, idx, label, &detail);
        if let Some(touch) = kind.touch() {
            self.last_fault[idx].insert(touch, t);
        }
        if let Some(tl) = self.timeline.as_mut() {
            tl.fault(t, idx, kind, &detail, span_ns);
        }
        self.line(t, idx, "fault", label, detail);
    }

    /// A pause fault begins on `idx`: true when the process must be frozen now (the first
    /// pause in force, on a process that is up).
    pub fn pause_begins(&mut self, idx: NodeIdx, down: bool) -> bool {
        self.pauses[idx] += 1;
        let freeze = self.pauses[idx] == 1 && !down;
        if freeze {
            self.paused[idx] = true;
        }
        freeze
    }

    /// A pause fault ends on `idx`: true when the process must be resumed (the last pause
    /// in force ended).
    pub fn pause_ends(&mut self, idx: NodeIdx) -> bool {
        if self.pauses[idx] == 0 {
            return false;
        }
        self.pauses[idx] -= 1;
        let thaw = self.pauses[idx] == 0;
        if thaw {
            self.paused[idx] = false;
        }
        thaw
    }

    /// Every pause on `idx` ends at once (it crashed, or the run healed): true when any was
    /// in force, so the process must be resumed.
    pub fn pauses_cleared(&mut self, idx: NodeIdx) -> bool {
        let had = self.pauses[idx] > 0;
        self.pauses[idx] = 0;
        if had {
            self.paused[idx] = false;
        }
        had
    }

    /// Marks a fault as touching a node now (for classifying false preemptions).
    pub fn touch(&mut self, idx: NodeIdx, touch: Touch) {
        self.last_fault[idx].insert(touch, true_now_ns());
    }

    /// A message left or reached a node (hash always; trace when on).
    pub fn record_msg(&mut self, idx: NodeIdx, what: &'static str, peer: NodeIdx, msg: &P::Msg) {
        let t = true_now_ns();
        if what == "send" {
            self.metrics.messages_sent += 1;
        }
        self.mix(t, idx, what, msg);
        peer.hash(&mut self.hash);
        if let Some(tl) = self.timeline.as_mut() {
            let key = format!("{msg:?}");
            if what == "send" {
                tl.send(t, idx, peer, P::msg_kind(msg), key);
            } else {
                tl.recv(t, idx, peer, P::msg_kind(msg), key);
            }
        }
        if self.trace.is_some() {
            let arrow = if what == "send" { "->" } else { "<-" };
            self.line_with(
                t,
                idx,
                what,
                P::msg_kind(msg),
                format!("{arrow} {}: {}", node_name(peer), P::describe_msg(msg)),
                None,
                Some(msg.clone()),
            );
        }
    }

    /// A frame that did not decode.
    pub fn record_garbage(&mut self, idx: NodeIdx, reason: String) {
        self.record_fault(idx, FaultKind::GarbageFrame, reason);
    }

    /// A client's belief after a step of its core: its validity end on its own clock
    /// (the timeline, the overlap measurement) and whether it may act on its key (the
    /// core's own rule, judged by belief-exclusivity).
    pub fn update_belief(&mut self, idx: NodeIdx, b: Belief) {
        let t = true_now_ns();
        let before = std::mem::replace(&mut self.belief_key[idx], b.key);
        if before != b.key {
            // It moved to another key: it believes nothing on the one it left.
            self.overlap.update(t, before, node_id(idx), None);
            self.acting.update(before, node_id(idx), false);
        }
        let until_true = b.until.map(|u| self.clocks[idx].true_at(t, u));
        // Where the tenure is the harness's ghost, the one the authority began for the
        // client (already seen: the commit comes before the answer that lets it act).
        let label = b.tenure.or_else(|| {
            (P::GHOST_TENURES && b.may_act)
                .then(|| self.ghosts.latest(node_id(idx)))
                .flatten()
        });
        if let Some(tl) = self.timeline.as_mut() {
            tl.belief(t, idx, label, until_true);
        }
        self.overlap.update(t, b.key, node_id(idx), until_true);
        if self.oracles.judges(OracleName::BeliefExclusivity) {
            if let Some(v) = self.acting.update(b.key, node_id(idx), b.may_act) {
                self.violated(t, v);
            }
        }
    }

    /// A node was killed: a client's belief ends; if it held the latest grant, failover
    /// starts now.
    pub fn on_crash(&mut self, idx: NodeIdx) {
        let t = true_now_ns();
        self.down[idx] = true;
        if is_client(idx) {
            let key = self.belief_key[idx];
            self.update_belief(
                idx,
                Belief {
                    key,
                    may_act: false,
                    until: None,
                    tenure: None,
                },
            );
            self.tenures
                .client_crashed(&mut self.metrics, t, node_id(idx));
        }
        if idx == SERVER && P::crash_ends_tenures(&self.cfg) {
            self.tenures.all_ended(&mut self.metrics, t);
            if let Some(tl) = self.timeline.as_mut() {
                tl.all_grants_ended(t, "server crashed");
            }
        }
    }

    /// A violation seen at true time `t`: on the timeline and in the run's findings.
    fn violated(&mut self, t: u64, violation: Violation) {
        if let Some(tl) = self.timeline.as_mut() {
            tl.violated(t, &violation);
        }
        self.found.push(Found {
            true_ns: t,
            violation,
        });
    }

    /// Every event of every node passes here.
    /// `delivered`: the ghost tenure the frame this step handles travelled with.
    pub fn record_event(&mut self, idx: NodeIdx, event: &P::Event, delivered: Option<u64>) {
        let t = true_now_ns();
        let server_now = self.clocks[SERVER].local(t);
        let tenure = self.ghosts.tenure_of::<P>(event, delivered);
        // The tenure the harness gave an event of a client or of the resource.
        let judged = tenure
            .filter(|_| P::GHOST_TENURES)
            .and_then(TenureEvent::ghost_tenure);
        let mut found = Vec::new();
        if let Some(te) = tenure {
            self.oracles.observe_tenure(server_now, te, &mut found);
        }
        if let Some(events) = self.events.as_mut() {
            events.push((server_now, event.clone()));
        }
        for violation in found {
            self.violated(t, violation);
        }
        if let Some(te) = tenure {
            self.liveness.observe_tenure(te);
        }
        let kind = P::event_kind(event);
        self.coverage.insert(kind.to_string());
        self.mix(t, idx, "event", event);
        if self.trace.is_some() {
            self.line_with(
                t,
                idx,
                "event",
                kind,
                match judged {
                    Some(n) => format!(
                        "{} (ghost tenure {n})",
                        P::describe_event(event, server_now)
                    ),
                    None => P::describe_event(event, server_now),
                },
                Some(event.clone()),
                None,
            );
        }
        if let Some(te) = tenure {
            if let Some(tl) = self.timeline.as_mut() {
                tl.server_event(t, te);
            }
            self.measure(t, idx, te);
        }
        if let Some((client, key, tenure)) = P::lifecycle(event) {
            lifecycle_span(t, kind, client, key, tenure);
        }
    }

    /// The metrics: those defined on tenures (every protocol's, [`Tenures`]), then what
    /// this shell adds from the fault history: a false preemption's cause, the pause that
    /// overlapped an expiry.
    fn measure(&mut self, t: u64, idx: NodeIdx, te: TenureEvent) {
        self.tenures.observe(&mut self.metrics, t, te);
        match te {
            TenureEvent::Stopped {
                preempted: Some(cause),
                ..
            } => {
                if cause != LossCause::Expired {
                    self.metrics.token_mismatches += 1;
                }
                let cause = self.classify(t, idx, cause);
                *self
                    .metrics
                    .false_preemptions
                    .entry(cause.into())
                    .or_default() += 1;
            }
            TenureEvent::Ended {
                client,
                ran_out: true,
                ..
            } if self.paused.get(node_idx(client.node)).copied() == Some(true) => {
                self.coverage
                    .insert(FaultKind::PauseOverlappedExpiry.name().into());
            }
            _ => {}
        }
    }

    /// Why a holder that did not crash lost its lease: the fault that touched it (or the
    /// server) within twice the lease, else network delay.
    fn classify(&self, t: u64, idx: NodeIdx, cause: LossCause) -> &'static str {
        let window = P::lease_ns(&self.cfg).saturating_mul(2);
        let recent = |node: NodeIdx, k: Touch| {
            self.last_fault[node]
                .get(&k)
                .is_some_and(|&at| t.saturating_sub(at) <= window)
        };
        if recent(idx, Touch::Pause) {
            "pause"
        } else if recent(idx, Touch::Partition) || recent(SERVER, Touch::Partition) {
            "partition"
        } else if recent(idx, Touch::Clock) || recent(SERVER, Touch::Clock) {
            "clock"
        } else if recent(SERVER, Touch::Pause) || cause == LossCause::Refused && self.down[SERVER] {
            "server"
        } else {
            "delay"
        }
    }

    /// The client holding the latest live grant, if it is up.
    #[must_use]
    pub fn current_holder(&self) -> Option<NodeIdx> {
        self.tenures
            .live_holders()
            .map(node_idx)
            .find(|&i| !self.down[i])
    }

    /// Closes the books at the end of the run.
    pub fn finish(&mut self) {
        let t = true_now_ns();
        self.overlap.advance(t);
        self.metrics.belief_overlap_ns = self.overlap.overlap_ns;
        self.metrics.belief_overlap_episodes = self.overlap.episodes;
        self.tenures.finish(&mut self.metrics, t);
        self.metrics.run_ns = t;
        if let Some(tl) = self.timeline.as_mut() {
            tl.finish(t);
        }
    }

    /// Whether the server restarted within the last lease (its grace may still run).
    fn server_restarted_within_ttl(&self, t: u64) -> bool {
        t.saturating_sub(self.last_server_boot_ns) <= P::lease_ns(&self.cfg)
            && self.incarnations[SERVER] > 1
    }

    /// Sets the liveness deadlines at heal, from the protocol's liveness claim
    /// ([`Protocol::liveness_bound_ns`]; a protocol without one sets none).
    pub fn heal_liveness(&mut self, delay_max_ns: u64, latency_max_ns: u64) {
        let t = true_now_ns();
        let restarted = self.server_restarted_within_ttl(t);
        let cfg = &self.cfg;
        let server_now = self.clocks[SERVER].local(t);
        let clients = self.clocks.len() - FIRST_CLIENT;
        self.liveness.heal(server_now, clients, |ahead| {
            P::liveness_bound_ns(cfg, delay_max_ns, latency_max_ns, ahead, restarted)
                .unwrap_or(u64::MAX)
        });
    }

    /// The deadlock oracle at the server's clock now (lock sets only).
    #[must_use]
    pub fn deadlock(&self) -> Option<Violation> {
        self.oracles
            .deadlock(self.server_now(), P::deadlock_bound_ns(&self.cfg))
    }

    /// Whether every job is applied or dead-lettered.
    #[must_use]
    pub fn jobs_settled(&self) -> bool {
        self.oracles
            .unresolved_jobs(P::workload(&self.cfg).jobs.count)
            .is_empty()
    }

    /// The deadline (true time) by which the jobs must be settled, from heal now (`None`:
    /// the run has no jobs).
    #[must_use]
    pub fn jobs_deadline_ns(&self, delay_max_ns: u64, latency_max_ns: u64) -> Option<u64> {
        let t = true_now_ns();
        let restarted = self.server_restarted_within_ttl(t);
        let clients = (self.clocks.len() - FIRST_CLIENT) as u64;
        let bound =
            P::jobs_settle_bound_ns(&self.cfg, delay_max_ns, latency_max_ns, clients, restarted)?;
        // The bound is on the server's clock: stretch it to true time by the worst rate.
        let drift = P::drift_ppm_max(&self.cfg);
        Some(t.saturating_add(drift::slowest_in_true_time(bound, drift)))
    }

    /// "Never neither": after the settling phase, every unresolved job is a violation.
    pub fn judge_unresolved_jobs(&mut self) {
        let t = true_now_ns();
        for v in self
            .oracles
            .unresolved_jobs(P::workload(&self.cfg).jobs.count)
        {
            self.oracles.trip(&v);
            if let Some(tl) = self.timeline.as_mut() {
                tl.violation(t, 1, v.oracle().name(), v.to_string());
            }
            self.found.push(Found {
                true_ns: t,
                violation: v,
            });
        }
    }
}

/// One lock's life as `tracing` sees it (`RUST_LOG=leaseproof=debug`): every lifecycle event
/// inside a `lock{key, token}` span (a request has no token yet), in simulated time.
fn lifecycle_span(
    t: u64,
    kind: &str,
    who: Identity,
    key: leaseproof_impl::Key,
    token: Option<u64>,
) {
    if !tracing::enabled!(target: "leaseproof::lock", tracing::Level::DEBUG) {
        return;
    }
    let key = key.0;
    let span = tracing::debug_span!(target: "leaseproof::lock", "lock", key, token);
    span.in_scope(|| {
        tracing::debug!(
            target: "leaseproof::lock",
            t_ms = t as f64 / 1e6,
            client = %format!("n{}.{}", who.node.0, who.incarnation),
            "{}",
            kind
        );
    });
}
