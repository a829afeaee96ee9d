//! One seed of one scenario: build the cluster on madsim, apply the fault plan during the
//! safety phase, heal, run the bounded liveness phase, and collect what the oracles saw.

use crate::clock::true_now_ns;
use crate::fault::{FaultKind, Touch};
use crate::metrics::RunMetrics;
use crate::plan::{describe, Plan, PlannedFault};
use crate::scenario::{node_name, FaultAction, NodeIdx, Scenario, RESOURCE, SERVER};
use crate::shell::{lock, node_addr, node_main};
use crate::wire::{MAX_FRAME, TAG};
use crate::world::{Found, Input, NetKnobs, TraceLine, World};
use leaseproof_impl::plugin::role_of;
use leaseproof_impl::{claims_liveness, OracleName, Protocol, Reference, Violation};
use madsim::net::NetSim;
use madsim::runtime::{Handle, Runtime};
use madsim::task::NodeId as SimNode;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the supervisor looks at the liveness oracle after heal.
const LIVENESS_POLL_MS: u64 = 50;
/// The longest delay a buggify point adds to one network operation (5 s).
const BUGGIFY_DELAY_MAX_NS: u64 = 5_000_000_000;

#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Keep the full trace (replay); the trace hash is computed either way.
    pub trace: bool,
}

/// What one seed of a scenario of protocol `P` found.
#[derive(Clone, Debug, Serialize)]
pub struct SeedResult<P: Protocol = Reference> {
    pub seed: u64,
    pub plan: Option<Plan>,
    pub found: Vec<Found>,
    pub liveness: Option<Violation>,
    pub coverage: BTreeSet<String>,
    pub metrics: RunMetrics,
    pub trace_hash: u64,
    #[serde(skip)]
    pub trace: Option<Vec<TraceLine<P::Event, P::Msg>>>,
    /// The structured timeline (with the trace).
    #[serde(skip)]
    pub timeline: Option<crate::timeline::Timeline>,
    /// Every event as the oracles saw it, stamped with the server's clock (with the trace).
    #[serde(skip)]
    pub events: Option<Vec<(leaseproof_impl::Nanos, P::Event)>>,
    pub panic: Option<String>,
    pub sim_ms: u64,
    /// A time-lock a shell saw: a timer that fired again and again at one instant
    /// without moving on (a liveness failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timelock: Option<String>,
}

impl<P: Protocol> SeedResult<P> {
    /// The first violation of an oracle, if any.
    #[must_use]
    pub fn first(&self, oracle: OracleName) -> Option<&Found> {
        self.found.iter().find(|f| f.violation.oracle() == oracle)
    }

    #[must_use]
    pub fn tripped(&self, oracle: OracleName) -> bool {
        if !oracle.is_safety() {
            self.liveness.is_some_and(|v| v.oracle() == oracle)
        } else {
            self.first(oracle).is_some()
        }
    }
}

/// Runs one seed on the current thread. Run each seed on a fresh thread: madsim seeds std's
/// per-thread hash keys only for the first runtime on a thread.
#[must_use]
pub fn run_seed<P: Protocol>(sc: &Scenario<P>, seed: u64, opts: RunOptions) -> SeedResult<P> {
    let mut rt = Runtime::with_seed_and_config(seed, madsim::Config::default());
    // A hang guard, far beyond any phase: a run that gets here is a bug, reported as a crash.
    let limit = sc.file.duration_ms + 24 * 3_600_000;
    rt.set_time_limit(Duration::from_millis(limit));
    rt.block_on(supervise(sc.clone(), seed, opts))
}

/// Runs `f` (one seed) on a fresh thread named for the seed (madsim seeds std's
/// per-thread hash keys only for the first runtime on a thread); a panic becomes its
/// message.
///
/// # Errors
/// The panic's message, when the seed's thread panicked.
fn on_seed_thread<T: Send>(seed: u64, f: impl FnOnce() -> T + Send) -> Result<T, String> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name(format!("seed-{seed}"))
            .spawn_scoped(s, f)
            .expect("spawn a seed thread")
            .join()
    })
    .map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
            .unwrap_or_else(|| "a panic without a message".into())
    })
}

/// Runs a seed on a fresh thread and turns a panic into a result.
#[must_use]
pub fn run_seed_isolated<P: Protocol>(
    sc: &Scenario<P>,
    seed: u64,
    opts: RunOptions,
) -> SeedResult<P> {
    on_seed_thread(seed, || run_seed(sc, seed, opts)).unwrap_or_else(|msg| SeedResult {
        seed,
        plan: None,
        found: Vec::new(),
        liveness: None,
        coverage: BTreeSet::new(),
        metrics: RunMetrics::default(),
        trace_hash: 0,
        trace: None,
        timeline: None,
        events: None,
        panic: Some(msg),
        sim_ms: 0,
        timelock: None,
    })
}

/// Directed links currently clogged, pauses and crashes in force, counted so overlapping
/// faults revert correctly.
#[derive(Default)]
struct FaultState {
    links: BTreeMap<(NodeIdx, NodeIdx), u32>,
    down: BTreeMap<NodeIdx, u32>,
}

#[derive(Clone, Debug)]
enum Step {
    /// Apply planned fault number `k` (the key's second half).
    Apply,
    Revert(FaultAction),
    /// Restart a node that crashed at a crash point (the fault's detail closes it).
    Restart(NodeIdx, String),
}

struct Supervisor<P: Protocol = Reference> {
    world: Arc<Mutex<World<P>>>,
    handle: Handle,
    net: Arc<NetSim>,
    ids: Vec<SimNode>,
    /// A node outside the cluster that sends garbage frames.
    rogue: madsim::runtime::NodeHandle,
    state: FaultState,
    n: usize,
    /// Crash points: shells that crashed inside a step ask here to be taken down.
    crash_requests: tokio::sync::mpsc::UnboundedReceiver<(NodeIdx, String)>,
    /// How long a node crashed at a crash point stays down.
    crash_down_ms: [u64; 2],
}

impl<P: Protocol> Supervisor<P> {
    /// Takes down a node whose shell crashed at a crash point; returns how long it stays
    /// down (drawn only here: a run without crash points draws nothing).
    fn crash_at_point(&mut self, node: NodeIdx, detail: String) -> u64 {
        self.kill(node, false);
        lock(&self.world).record_fault(node, FaultKind::CrashedMidStep, detail);
        let [a, b] = self.crash_down_ms;
        if a >= b {
            a
        } else {
            madsim::rand::Rng::gen_range(&mut madsim::rand::thread_rng(), a..=b)
        }
    }

    fn clog(&mut self, a: NodeIdx, b: NodeIdx) {
        let c = self.state.links.entry((a, b)).or_default();
        *c += 1;
        if *c == 1 {
            self.net.clog_link(self.ids[a], self.ids[b]);
        }
    }

    fn unclog(&mut self, a: NodeIdx, b: NodeIdx) {
        if let Some(c) = self.state.links.get_mut(&(a, b)) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                self.state.links.remove(&(a, b));
                self.net.unclog_link(self.ids[a], self.ids[b]);
            }
        }
    }

    fn links_of(&self, a: &FaultAction) -> Vec<(NodeIdx, NodeIdx)> {
        a.links(self.n)
    }

    fn pause(&mut self, node: NodeIdx) {
        let down = self.state.down.contains_key(&node);
        if lock(&self.world).pause_begins(node, down) {
            self.handle.pause(self.ids[node]);
        }
    }

    fn resume(&mut self, node: NodeIdx) {
        if lock(&self.world).pause_ends(node) {
            self.handle.resume(self.ids[node]);
        }
    }

    fn kill(&mut self, node: NodeIdx, lose_disk: bool) {
        let c = self.state.down.entry(node).or_default();
        *c += 1;
        if *c == 1 {
            // A paused process that crashes is simply gone.
            if lock(&self.world).pauses_cleared(node) {
                self.handle.resume(self.ids[node]);
            }
            self.handle.kill(self.ids[node]);
            let mut w = lock(&self.world);
            w.on_crash(node);
            if lose_disk {
                w.disks[node] = P::Disk::default();
            }
        }
    }

    fn restart(&mut self, node: NodeIdx) {
        if let Some(c) = self.state.down.get_mut(&node) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                self.state.down.remove(&node);
                // kill, then restart: restart alone keeps the old sockets bound.
                self.handle.restart(self.ids[node]);
                lock(&self.world).record_fault(node, FaultKind::Restarted, String::new());
            }
        }
    }

    /// Tells a client's shell its worker stalls or resumes (a core input; a node that is
    /// down has no worker to stall).
    fn stall(&self, node: NodeIdx, stalled: bool) {
        let mut w = lock(&self.world);
        if w.down[node] {
            return;
        }
        match &w.inboxes[node] {
            Some(tx) => {
                let _ = tx.send(Input::Stall(stalled));
            }
            // Not booted yet: its shell applies it at boot.
            None => w.pending_stall[node] = Some(stalled),
        }
    }

    /// Retargets an aimed fault at the current holder.
    fn aim(&self, p: &PlannedFault) -> FaultAction {
        let mut a = p.fault.action.clone();
        if !p.aimed() {
            return a;
        }
        let Some(h) = lock(&self.world).current_holder() else {
            return a;
        };
        a.aim_at(h);
        a
    }

    fn apply(&mut self, a: &FaultAction) {
        match a {
            FaultAction::Pause { node, .. } => self.pause(*node),
            FaultAction::Isolate { .. } | FaultAction::Cut { .. } | FaultAction::Split { .. } => {
                for (x, y) in self.links_of(a) {
                    self.clog(x, y);
                }
                let mut w = lock(&self.world);
                for (x, y) in self.links_of(a) {
                    w.touch(x, Touch::Partition);
                    w.touch(y, Touch::Partition);
                }
            }
            FaultAction::Crash {
                node, lose_disk, ..
            } => self.kill(*node, *lose_disk),
            FaultAction::Garbage { node } => {
                let to = node_addr(*node);
                let from = node_addr(self.n);
                let mut junk = vec![0xffu8; 24];
                madsim::rand::Rng::fill(&mut madsim::rand::thread_rng(), &mut junk[1..]);
                // Undecodable by construction: the variant tag 0xff.. names no message.
                self.rogue.spawn(async move {
                    if let Ok(ep) = madsim::net::Endpoint::bind(from).await {
                        for frame in [junk.clone(), vec![0xff; MAX_FRAME + 64], vec![0xff]] {
                            let _ = ep.send_to(to, TAG, &frame).await;
                        }
                    }
                });
            }
            FaultAction::Stall { node, .. } => self.stall(*node, true),
            FaultAction::DelayWrite { node, for_ms } => {
                lock(&self.world).write_delays[*node] = Some(*for_ms);
            }
            FaultAction::SlowLink {
                from, to, by_ms, ..
            } => {
                lock(&self.world).link_delays.insert((*from, *to), *by_ms);
            }
            FaultAction::ClockStep { node, by_ms } => {
                let mut w = lock(&self.world);
                w.clocks[*node].step(by_ms * 1_000_000);
                if let Some(tx) = &w.inboxes[*node] {
                    let _ = tx.send(Input::Wake);
                }
            }
        }
        lock(&self.world).record_fault(a.node(), a.kind(), describe(a));
    }

    fn revert(&mut self, a: &FaultAction) {
        match a {
            FaultAction::Pause { node, .. } => self.resume(*node),
            FaultAction::Isolate { .. } | FaultAction::Cut { .. } | FaultAction::Split { .. } => {
                for (x, y) in self.links_of(a) {
                    self.unclog(x, y);
                }
            }
            FaultAction::Crash { node, .. } => self.restart(*node),
            FaultAction::Stall { node, .. } => self.stall(*node, false),
            FaultAction::SlowLink { from, to, .. } => {
                lock(&self.world).link_delays.remove(&(*from, *to));
            }
            FaultAction::ClockStep { .. }
            | FaultAction::Garbage { .. }
            | FaultAction::DelayWrite { .. } => return,
        }
        lock(&self.world).record_fault(a.node(), FaultKind::Healed, describe(a));
    }

    /// Ends every fault in force.
    fn heal_all(&mut self) {
        for ((a, b), _) in std::mem::take(&mut self.state.links) {
            self.net.unclog_link(self.ids[a], self.ids[b]);
        }
        for node in 0..self.n {
            if lock(&self.world).pauses_cleared(node) {
                self.handle.resume(self.ids[node]);
            }
        }
        for (node, _) in std::mem::take(&mut self.state.down) {
            self.handle.restart(self.ids[node]);
        }
    }
}

async fn sleep_until_ns(t: u64) {
    let now = true_now_ns();
    if t > now {
        madsim::time::sleep(Duration::from_nanos(t - now)).await;
    }
}

/// One seed, in VOPR's phases: build the cluster, the safety phase (the plan's faults),
/// heal, the bounded liveness phase, collect.
async fn supervise<P: Protocol>(sc: Scenario<P>, seed: u64, opts: RunOptions) -> SeedResult<P> {
    let plan = Plan::derive(&sc, seed, &mut madsim::rand::thread_rng());
    let mut sup = build(&sc, &plan, opts).await;
    let aimed = safety_phase(sc.file.duration_ms, &plan, &mut sup).await;
    heal(&mut sup);
    // The liveness phase runs only where the protocol makes a liveness claim.
    let liveness = if sc.file.liveness && claims_liveness::<P>(&sc.config) {
        liveness_phase(&plan, &sup.world).await
    } else {
        None
    };
    collect(seed, plan, aimed, liveness, &sup.world)
}

/// Sets madsim's network: every datagram's latency drawn in `[lo, hi]` ms, and its loss
/// ratio.
fn configure_network(net: &NetSim, [lo, hi]: [u64; 2], loss_ratio: f64) {
    net.update_config(|c| {
        // A range must not be empty: a fixed latency gets a 1 µs spread.
        c.send_latency =
            Duration::from_millis(lo)..Duration::from_millis(hi) + Duration::from_micros(1);
        c.packet_loss_rate = loss_ratio;
    });
}

/// Configures the network from the plan, creates the world and every node in the
/// plug-in layout (the authority and the resource first, so they bind before any client
/// sends; a protocol without a resource gets an empty node 1, so node numbers stay those
/// of every scenario) and the rogue node that sends garbage frames.
async fn build<P: Protocol>(sc: &Scenario<P>, plan: &Plan, opts: RunOptions) -> Supervisor<P> {
    let handle = Handle::current();
    let net = NetSim::current();
    configure_network(&net, plan.latency_ms, plan.loss_ratio);
    if plan.buggify {
        madsim::buggify::enable();
    }
    let mut world = World::<P>::new(
        sc.config.clone(),
        plan.clocks.clone(),
        knobs(plan),
        opts.trace,
    );
    // The named-only oracles are judged where the scenario names them.
    world.oracles = std::mem::take(&mut world.oracles).judging(&sc.named_oracles());
    if plan
        .clocks
        .iter()
        .any(|c| c.drift_ppm.unsigned_abs() > P::drift_ppm_max(&sc.config))
    {
        world
            .coverage
            .insert(FaultKind::DriftBeyondBound.name().into());
    }
    let (crash_tx, crash_requests) = tokio::sync::mpsc::unbounded_channel();
    world.crash_requests = Some(crash_tx);
    let n = world.clocks.len();
    let world = Arc::new(Mutex::new(world));
    let mut ids = Vec::with_capacity(n);
    for idx in 0..n {
        let builder = handle
            .create_node()
            .name(node_name(idx))
            .ip(node_addr(idx).ip());
        let node = match role_of::<P>(idx) {
            Some(kind) => {
                let w = world.clone();
                builder
                    .init(move || node_main(w.clone(), idx, kind))
                    .build()
            }
            None => builder.build(),
        };
        ids.push(node.id());
        if idx == RESOURCE {
            // The server and the resource bind before any client sends.
            madsim::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let rogue = handle
        .create_node()
        .name("rogue")
        .ip(node_addr(n).ip())
        .build();
    Supervisor {
        world,
        rogue,
        handle,
        net,
        ids,
        state: FaultState::default(),
        n,
        crash_requests,
        crash_down_ms: plan.crash_points.as_ref().map_or([0; 2], |c| c.down_ms),
    }
}

/// The shells' network knobs from the plan.
fn knobs(plan: &Plan) -> NetKnobs {
    NetKnobs {
        duplicate_ratio: plan.duplicate_ratio,
        send_delay_ratio: plan.send_delay_ratio,
        send_delay_ms: plan.send_delay_ms,
        crash_point_ratio: plan
            .crash_points
            .as_ref()
            .map_or([0.0; 2], |c| [c.server, c.resource]),
    }
}

/// The safety phase: the plan's faults, each applied at its time (an aimed one at the
/// holder of that moment) and reverted after its length. Returns each fault as applied.
async fn safety_phase<P: Protocol>(
    duration_ms: u64,
    plan: &Plan,
    sup: &mut Supervisor<P>,
) -> Vec<FaultAction> {
    let end_ns = duration_ms * 1_000_000;
    let mut steps: BTreeMap<(u64, u64), Step> = BTreeMap::new();
    for (i, p) in plan.faults.iter().enumerate() {
        steps.insert((p.fault.at_ms * 1_000_000, i as u64), Step::Apply);
    }
    let mut seq = plan.faults.len() as u64;
    let mut aimed: Vec<FaultAction> = plan.faults.iter().map(|p| p.fault.action.clone()).collect();
    loop {
        let next = steps.first_key_value().map(|(&key, _)| key);
        let until = next.map_or(end_ns, |(t, _)| t.min(end_ns));
        // A crash at a crash point comes from a shell at any moment (`biased`: polled in
        // written order, so a run replays).
        tokio::select! {
            biased;
            Some((node, detail)) = sup.crash_requests.recv() => {
                let down_ms = sup.crash_at_point(node, detail.clone());
                seq += 1;
                steps.insert((true_now_ns() + down_ms * 1_000_000, seq), Step::Restart(node, detail));
                continue;
            }
            () = sleep_until_ns(until) => {}
        }
        let Some((t, k)) = next.filter(|&(t, _)| t < end_ns) else {
            break;
        };
        let step = steps.remove(&(t, k)).expect("first key exists");
        match step {
            Step::Apply => {
                let a = sup.aim(&plan.faults[k as usize]);
                aimed[k as usize] = a.clone();
                sup.apply(&a);
                if let Some(len) = a.len_ms() {
                    seq += 1;
                    steps.insert((t + len * 1_000_000, seq), Step::Revert(a));
                }
            }
            Step::Revert(a) => sup.revert(&a),
            Step::Restart(node, detail) => {
                sup.restart(node);
                lock(&sup.world).record_fault(node, FaultKind::Healed, detail);
            }
        }
    }
    aimed
}

/// Heal: every fault ends, the network calms down.
fn heal<P: Protocol>(sup: &mut Supervisor<P>) {
    // A shell that crashed at a crash point just before heal is taken down, then restarted
    // with the rest.
    while let Ok((node, detail)) = sup.crash_requests.try_recv() {
        sup.crash_at_point(node, detail);
    }
    sup.heal_all();
    madsim::buggify::disable();
    sup.net.update_config(|c| c.packet_loss_rate = 0.0);
    let mut w = lock(&sup.world);
    w.net = NetKnobs::default();
    w.record_fault(SERVER, FaultKind::Heal, String::new());
}

/// The liveness phase, bounded by the liveness oracle's deadlines: every waiter served (or
/// a deadlock, or a waiter past its bound), then exactly-once work settles by its bound.
async fn liveness_phase<P: Protocol>(
    plan: &Plan,
    world: &Arc<Mutex<World<P>>>,
) -> Option<Violation> {
    let mut liveness = None;
    let latency_max = plan.latency_ms[1] * 1_000_000;
    // A message sent before heal can still be held by a buggify delay: madsim 0.2.34's
    // `NetSim::rand_delay` sleeps `gen_range(1..5)` whole seconds on 10 % of network
    // operations (under 5 s), plus under 5 µs always, so 5 s bounds the extra delay.
    let buggify = if plan.buggify {
        BUGGIFY_DELAY_MAX_NS
    } else {
        0
    };
    let stall = if plan.send_delay_ratio > 0.0 {
        plan.send_delay_ms[1] * 1_000_000
    } else {
        0
    };
    lock(world).heal_liveness(latency_max + buggify + stall, latency_max);
    loop {
        madsim::time::sleep(Duration::from_millis(LIVENESS_POLL_MS)).await;
        let w = lock(world);
        if let Some(v) = w.deadlock() {
            liveness = Some(v);
            break;
        }
        if let Some(v) = w.liveness.check(w.server_now()) {
            liveness = Some(v);
            break;
        }
        if w.liveness.all_served() {
            break;
        }
    }
    let deadline = lock(world).jobs_deadline_ns(latency_max + buggify + stall, latency_max);
    if let Some(deadline) = deadline.filter(|_| liveness.is_none()) {
        loop {
            if lock(world).jobs_settled() || true_now_ns() >= deadline {
                break;
            }
            madsim::time::sleep(Duration::from_millis(LIVENESS_POLL_MS)).await;
        }
        lock(world).judge_unresolved_jobs();
    }
    liveness
}

/// What the oracles and metrics saw, with the plan's faults as they were applied.
fn collect<P: Protocol>(
    seed: u64,
    mut plan: Plan,
    aimed: Vec<FaultAction>,
    liveness: Option<Violation>,
    world: &Arc<Mutex<World<P>>>,
) -> SeedResult<P> {
    let mut w = lock(world);
    w.finish();
    for (p, a) in plan.faults.iter_mut().zip(aimed) {
        p.fault.action = a;
    }
    SeedResult {
        seed,
        plan: Some(plan),
        found: std::mem::take(&mut w.found),
        liveness,
        coverage: std::mem::take(&mut w.coverage),
        metrics: std::mem::take(&mut w.metrics),
        trace_hash: std::hash::Hasher::finish(&w.hash),
        trace: w.trace.take(),
        timeline: w.timeline.take(),
        events: w.events.take(),
        panic: None,
        sim_ms: true_now_ns() / 1_000_000,
        timelock: w.timelock.take(),
    }
}
