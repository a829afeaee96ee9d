//! The generic engine: one seed of any plug-in protocol ([`Protocol`]) on madsim. Each
//! node is a shell that feeds its core inputs, drains its outputs as [`Effect`]s and
//! re-arms one timer, with every local reading and sleep through the node's own clock; a
//! supervisor draws the clocks from the seed and applies the scenario's scripted faults.
//! The oracles read only the protocol's tenure events ([`Protocol::tenure`]) and its "may
//! act" ([`Protocol::may_act`]); the metrics are the tenure-based ones every protocol gets.
//!
//! Nothing here names a protocol. The reference protocol's scenarios still run on its own
//! engine ([`crate::run`]), which this one is to replace (docs/protocols.md, "Status").

use crate::clock::{true_now_ns, NodeClock};
use crate::metrics::{RunMetrics, Tenures};
use crate::plugin_scenario::{PluginFaultKind, PluginScenario};
use crate::run::{configure_network, on_seed_thread, sleep_until_ns};
use crate::scenario::node_name;
use crate::shell::{bind_node, node_addr, node_of};
use crate::wire::TAG;
use crate::world::{Fnv, Found, Input};
use leaseproof_impl::plugin::role_of;
use leaseproof_impl::{
    ActingClients, Effect, Identity, Jitter, Key, Machine, Nanos, NodeId, OracleName, Protocol,
    RoleKind, SafetyOracles, Violation,
};
use madsim::net::{Endpoint, NetSim};
use madsim::rand::Rng;
use madsim::runtime::{Handle, Runtime};
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long a node with no deadline waits before it looks again.
const IDLE_NS: u64 = 3_600_000_000_000;
/// A timer that fires this many times at one instant without moving its deadline is a
/// time-lock: the shell reports it and lets each further spin cost a microsecond (never a
/// hang).
const MAX_SPINS: u32 = 1_000;

/// What one seed of a plug-in scenario found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PluginSeed {
    pub seed: u64,
    pub found: Vec<Found>,
    pub trace_hash: u64,
    /// Event kinds seen and faults applied.
    pub coverage: BTreeSet<String>,
    pub metrics: RunMetrics,
    /// Each node's clock as drawn from the seed: (offset ms, drift ppm).
    pub clocks: Vec<(i64, i32)>,
    /// One line per message, event and fault (with `trace`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<Vec<String>>,
    pub panic: Option<String>,
    /// A time-lock: a node whose timer fired again and again at one instant without
    /// moving on (a liveness failure).
    pub timelock: Option<String>,
}

/// The state the shells of one run share.
struct PWorld<P: Protocol> {
    cfg: P::Config,
    clocks: Vec<NodeClock>,
    disks: Vec<P::Disk>,
    incarnations: Vec<u32>,
    oracles: SafetyOracles,
    acting: ActingClients,
    /// The key each node may act on, as last reported.
    acting_key: Vec<Option<Key>>,
    found: Vec<Found>,
    coverage: BTreeSet<String>,
    hash: Fnv,
    trace: Option<Vec<String>>,
    metrics: RunMetrics,
    tenures: Tenures,
    timelock: Option<String>,
}

type Shared<P> = Arc<Mutex<PWorld<P>>>;

fn lock<P: Protocol>(w: &Mutex<PWorld<P>>) -> MutexGuard<'_, PWorld<P>> {
    // A poisoned lock means a node task panicked; the run is reported as a crash anyway.
    w.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<P: Protocol> PWorld<P> {
    fn local_now(&self, idx: usize) -> Nanos {
        self.clocks[idx].local(true_now_ns())
    }

    fn mix(
        &mut self,
        idx: usize,
        what: &'static str,
        h: &impl Hash,
        line: impl FnOnce() -> String,
    ) {
        let t = true_now_ns();
        t.hash(&mut self.hash);
        idx.hash(&mut self.hash);
        what.hash(&mut self.hash);
        h.hash(&mut self.hash);
        if let Some(tr) = self.trace.as_mut() {
            tr.push(format!(
                "{:>12.3} ms {:<10} {what:<6} {}",
                t as f64 / 1e6,
                node_name(idx),
                line()
            ));
        }
    }

    fn violated(&mut self, violation: Violation) {
        if let Some(tr) = self.trace.as_mut() {
            tr.push(format!("VIOLATION {}: {violation}", violation.oracle()));
        }
        self.found.push(Found {
            true_ns: true_now_ns(),
            violation,
        });
    }

    fn record_event(&mut self, idx: usize, event: &P::Event) {
        let t = true_now_ns();
        self.coverage.insert(P::event_kind(event).to_string());
        self.mix(idx, "event", event, || format!("{event:?}"));
        let Some(te) = P::tenure(event) else { return };
        let server_now = self.local_now(0);
        let mut found = Vec::new();
        self.oracles.observe_tenure(server_now, te, &mut found);
        for v in found {
            self.violated(v);
        }
        self.tenures.observe(&mut self.metrics, t, te);
    }

    /// What node `idx` may act on after a step of its core (belief-exclusivity).
    fn update_acting(&mut self, idx: usize, key: Option<Key>) {
        let before = self.acting_key[idx];
        if before == key {
            return;
        }
        self.acting_key[idx] = key;
        let node = NodeId(idx as u32);
        if let Some(k) = before {
            self.acting.update(k, node, false);
        }
        if let Some(k) = key {
            let v = self.acting.update(k, node, true);
            if let Some(v) = v.filter(|_| self.oracles.judges(OracleName::BeliefExclusivity)) {
                self.violated(v);
            }
        }
    }

    fn fault(&mut self, idx: usize, what: &str) {
        self.coverage.insert(what.to_string());
        self.mix(idx, "fault", &what, || what.to_string());
    }
}

/// Runs one seed of a plug-in scenario on a fresh thread (madsim seeds std's per-thread
/// hash keys only for the first runtime on a thread); a panic becomes the result's
/// `panic`.
#[must_use]
pub fn run_plugin_seed<P: Protocol>(
    sc: &PluginScenario<P::Config>,
    seed: u64,
    trace: bool,
) -> PluginSeed {
    on_seed_thread(seed, || {
        let mut rt = Runtime::with_seed_and_config(seed, madsim::Config::default());
        rt.set_time_limit(Duration::from_millis(sc.duration_ms + 24 * 3_600_000));
        rt.block_on(supervise::<P>(sc.clone(), seed, trace))
    })
    .unwrap_or_else(|panic| PluginSeed {
        seed,
        found: Vec::new(),
        trace_hash: 0,
        coverage: BTreeSet::new(),
        metrics: RunMetrics::default(),
        clocks: Vec::new(),
        trace: None,
        timelock: None,
        panic: Some(panic),
    })
}

/// Draws one value in `±max` from the seed (nothing is drawn when `max` is 0).
fn draw(rng: &mut impl Rng, max: i64) -> i64 {
    if max == 0 {
        0
    } else {
        rng.gen_range(-max..=max)
    }
}

async fn supervise<P: Protocol>(
    sc: PluginScenario<P::Config>,
    seed: u64,
    trace: bool,
) -> PluginSeed {
    let handle = Handle::current();
    let net = NetSim::current();
    configure_network(&net, sc.latency_ms, sc.loss_ratio);
    let n = sc.nodes();
    let mut rng = madsim::rand::thread_rng();
    let clocks: Vec<(i64, i32)> = (0..n)
        .map(|_| {
            let off = draw(&mut rng, sc.clock_offset_ms_max as i64);
            let drift = draw(&mut rng, i64::from(sc.drift_ppm_max)) as i32;
            (off, drift)
        })
        .collect();
    let world: Shared<P> = Arc::new(Mutex::new(PWorld {
        cfg: sc.protocol.clone(),
        clocks: clocks
            .iter()
            .map(|&(off, drift)| NodeClock::new(off * 1_000_000, drift))
            .collect(),
        disks: vec![P::Disk::default(); n],
        incarnations: vec![0; n],
        oracles: SafetyOracles::new().judging(&sc.judged),
        acting: ActingClients::default(),
        acting_key: vec![None; n],
        found: Vec::new(),
        coverage: BTreeSet::new(),
        hash: Fnv::default(),
        trace: trace.then(Vec::new),
        metrics: RunMetrics::default(),
        tenures: Tenures::default(),
        timelock: None,
    }));
    let mut ids = BTreeMap::new();
    for idx in 0..n {
        let Some(role) = role_of::<P>(idx) else {
            continue;
        };
        let w = world.clone();
        let node = handle
            .create_node()
            .name(node_name(idx))
            .ip(node_addr(idx).ip())
            .init(move || node_main::<P>(w.clone(), idx, role))
            .build();
        ids.insert(idx, node.id());
        if idx < 2 {
            // The authority (and resource) bind before any client sends.
            madsim::time::sleep(Duration::from_millis(1)).await;
        }
    }
    script::<P>(&sc, &world, &handle, &net, &ids).await;
    let t = true_now_ns();
    let mut w = lock(&world);
    let PWorld {
        tenures, metrics, ..
    } = &mut *w;
    tenures.finish(metrics, t);
    w.metrics.run_ns = t;
    PluginSeed {
        seed,
        found: std::mem::take(&mut w.found),
        trace_hash: w.hash.finish(),
        coverage: std::mem::take(&mut w.coverage),
        metrics: std::mem::take(&mut w.metrics),
        clocks,
        trace: w.trace.take(),
        panic: None,
        timelock: w.timelock.take(),
    }
}

/// The scripted faults, each applied at its time and reverted after its length, until
/// the run's end.
async fn script<P: Protocol>(
    sc: &PluginScenario<P::Config>,
    world: &Shared<P>,
    handle: &Handle,
    net: &NetSim,
    ids: &BTreeMap<usize, madsim::task::NodeId>,
) {
    // (time, sequence) -> (fault index, apply?)
    let mut steps: BTreeMap<(u64, usize), (usize, bool)> = BTreeMap::new();
    for (i, (_, f)) in sc.faults.iter().enumerate() {
        steps.insert((f.at_ms, 2 * i), (i, true));
        steps.insert((f.at_ms + f.for_ms, 2 * i + 1), (i, false));
    }
    for ((at_ms, _), (i, apply)) in steps {
        if at_ms >= sc.duration_ms {
            break;
        }
        sleep_until_ns(at_ms * 1_000_000).await;
        let (idx, f) = &sc.faults[i];
        let Some(&id) = ids.get(idx) else { continue };
        match (f.kind, apply) {
            (PluginFaultKind::Isolate, _) => {
                for &oid in ids.iter().filter(|(&o, _)| o != *idx).map(|(_, i)| i) {
                    if apply {
                        net.clog_link(id, oid);
                        net.clog_link(oid, id);
                    } else {
                        net.unclog_link(id, oid);
                        net.unclog_link(oid, id);
                    }
                }
            }
            (PluginFaultKind::Pause, true) => handle.pause(id),
            (PluginFaultKind::Pause, false) => handle.resume(id),
            (PluginFaultKind::Crash, true) => {
                handle.kill(id);
                crashed::<P>(world, *idx, f.lose_disk);
            }
            (PluginFaultKind::Crash, false) => handle.restart(id),
        }
        let what = if apply {
            f.kind.to_string()
        } else {
            format!("{} healed", f.kind)
        };
        lock(world).fault(*idx, &what);
    }
    sleep_until_ns(sc.duration_ms * 1_000_000).await;
}

/// A node was killed: it acts on nothing, and a client stops acting under its tenure
/// (the metrics). Whether the authority's crash ends its tenures is the protocol's to
/// say, through its events (`TenureEvent::AllEnded` at a restart that forgets them): a
/// shell that ended them itself would misreport a protocol whose authority keeps its
/// holder on disk.
fn crashed<P: Protocol>(world: &Shared<P>, idx: usize, lose_disk: bool) {
    let t = true_now_ns();
    let mut w = lock(world);
    w.update_acting(idx, None);
    if lose_disk {
        w.disks[idx] = P::Disk::default();
    }
    let PWorld {
        tenures, metrics, ..
    } = &mut *w;
    let node = NodeId(idx as u32);
    if node.is_client() {
        tenures.client_crashed(metrics, t, node);
    }
}

/// A node's life from boot to kill: restore, then one loop.
async fn node_main<P: Protocol>(world: Shared<P>, idx: usize, role: RoleKind) {
    let (id, disk, cfg, now) = {
        let mut w = lock(&world);
        let incarnation = w.incarnations[idx];
        w.incarnations[idx] += 1;
        let id = Identity {
            node: NodeId(idx as u32),
            incarnation,
        };
        (id, w.disks[idx].clone(), w.cfg.clone(), w.local_now(idx))
    };
    // The inbox's sender is for wakes and stalls, which the generic engine does not send;
    // it lives as long as the loop.
    let (ep, _inbox, mut rx) = bind_node(idx).await;
    let mut node = P::boot(&cfg, role, id, &disk, now);
    drain::<P>(&world, idx, &ep, &mut node).await;
    // The deadline that fired last, and how often in a row at one instant.
    let mut spins: (Option<Nanos>, u32) = (None, 0);
    loop {
        let wait = match node.poll_timeout() {
            Some((deadline, why)) => {
                let wait = lock(&world).clocks[idx].true_until(true_now_ns(), deadline);
                if wait == 0 && spins.0 == Some(deadline) {
                    spins.1 = spins.1.saturating_add(1);
                } else {
                    spins = (Some(deadline), 0);
                }
                if wait == 0 && spins.1 >= MAX_SPINS {
                    // Reported once; from here each spin costs a microsecond, as a
                    // spinning CPU would, so the run goes on instead of hanging.
                    let mut w = lock(&world);
                    if w.timelock.is_none() {
                        w.timelock = Some(format!(
                            "time-lock: {}'s timer ({why}) at {} ms on its clock fired \
                             {MAX_SPINS} times at one instant without moving on",
                            node_name(idx),
                            deadline.0 / 1_000_000
                        ));
                        w.fault(idx, "time-lock");
                    }
                    1_000
                } else {
                    wait
                }
            }
            None => IDLE_NS,
        };
        let fire = if wait == 0 {
            true
        } else {
            // `biased`: polled in written order, so a seed replays.
            tokio::select! {
                biased;
                input = rx.recv() => match input {
                    Some(Input::Frame(bytes, from)) => {
                        deliver::<P>(&world, idx, &mut node, &bytes, from);
                        false
                    }
                    Some(Input::Wake | Input::Stall(_)) => false,
                    None => return,
                },
                () = madsim::time::sleep(Duration::from_nanos(wait)) => true,
            }
        };
        if fire {
            let now = lock(&world).local_now(idx);
            node.handle_timeout(now);
        }
        drain::<P>(&world, idx, &ep, &mut node).await;
    }
}

fn deliver<P: Protocol>(
    world: &Shared<P>,
    idx: usize,
    node: &mut P::Node,
    bytes: &[u8],
    from: std::net::SocketAddr,
) {
    let mut w = lock(world);
    match (P::decode(bytes), node_of(from)) {
        (Ok(msg), Some(peer)) if peer < w.clocks.len() => {
            w.mix(idx, "recv", &msg, || {
                format!("<- {}: {msg:?}", node_name(peer))
            });
            let now = w.local_now(idx);
            drop(w);
            node.handle_message(now, NodeId(peer as u32), msg);
        }
        (Err(e), _) => w.fault(idx, &format!("garbage frame: {e}")),
        (Ok(_), _) => w.fault(idx, &format!("a frame from unknown address {from}")),
    }
}

/// Drains every output as an effect; "may act" is recorded at the core's step, before the
/// sends are carried out (a send awaits the network while other nodes run).
async fn drain<P: Protocol>(world: &Shared<P>, idx: usize, ep: &Endpoint, node: &mut P::Node) {
    lock(world).update_acting(idx, P::may_act(node));
    loop {
        let effects: Vec<_> = std::iter::from_fn(|| node.poll_output())
            .map(P::effect)
            .collect();
        if effects.is_empty() {
            break;
        }
        for e in effects {
            match e {
                Effect::Send { to, msg } => {
                    let to = to.0 as usize;
                    let bytes = P::encode(&msg);
                    {
                        let mut w = lock(world);
                        w.metrics.messages_sent += 1;
                        w.mix(idx, "send", &msg, || {
                            format!("-> {}: {msg:?}", node_name(to))
                        });
                    }
                    // Datagrams: a send to a dead or cut-off peer is simply lost.
                    let _ = ep.send_to(node_addr(to), TAG, &bytes).await;
                }
                Effect::Persist(p) => P::persist(&mut lock(world).disks[idx], p),
                Effect::Event(ev) => lock(world).record_event(idx, &ev),
                Effect::NeedJitter => {
                    let ppm = madsim::rand::thread_rng().gen_range(0..=Jitter::MAX_PPM);
                    let now = lock(world).local_now(idx);
                    node.handle_jitter(now, Jitter { ppm });
                }
            }
        }
    }
    lock(world).update_acting(idx, P::may_act(node));
}
