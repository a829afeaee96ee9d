//! An in-memory, deterministic driver for the roles (quinn's `Pair` idea): one
//! server (node 0), one resource (node 1) and clients (nodes 2..), a network of in-flight
//! messages, and per-node clocks with fixed rates. Tests script it step by step, or let it
//! deliver with a fixed latency; proptest feeds it random schedules.
//!
//! True time is the stepper's own counter; each node reads its [`NodeClock`] (the same
//! clock type and origin as the simulator's) at it, with a fixed rate and offset. Nothing
//! here reads a clock or draws entropy: jitter comes from a counter-seeded xorshift.

use crate::clock::NodeClock;
use crate::config::Config;
use crate::machine::{AnyNode, Machine, RoleKind};
use crate::oracle::{BeliefOverlap, SafetyOracles, Violation};
use crate::output::{Disk, Event, Output};
use crate::types::{Identity, Jitter, Key, Msg, Nanos, NodeId};
use std::collections::BTreeSet;

/// Inputs one node may take at a single instant before the stepper calls it a livelock.
const MAX_STEPS_PER_INSTANT: u32 = 10_000;

pub const SERVER: NodeId = NodeId::authority(0);
pub const RESOURCE: NodeId = NodeId::RESOURCE;

/// The node id of client `i`.
#[must_use]
pub fn client_node(i: usize) -> NodeId {
    NodeId::client(i as u32)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flight {
    pub from: NodeId,
    pub to: NodeId,
    pub msg: Msg,
    /// When it arrives by itself; `None` waits for an explicit `deliver`.
    pub deliver_at: Option<u64>,
    seq: u64,
}

/// One recorded event: true time, the server's clock, the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Logged {
    pub true_ns: u64,
    pub server_now: Nanos,
    pub event: Event,
}

/// One step of a random schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Deliver the in-flight message at this index (modulo the count).
    Deliver(usize),
    Drop(usize),
    Duplicate(usize),
    /// Let true time pass, firing timers.
    Advance {
        ms: u64,
    },
    CrashServer,
    CrashClient(usize),
    /// The node takes no steps for a while; its clock runs on.
    Pause {
        node: usize,
        ms: u64,
    },
    /// A client's worker stalls (`on`) or resumes; its renew loop goes on.
    Stall {
        client: usize,
        on: bool,
    },
}

pub struct Stepper {
    pub cfg: Config,
    pub true_ns: u64,
    nodes: Vec<AnyNode>,
    pub clocks: Vec<NodeClock>,
    incarnations: Vec<u32>,
    disks: Vec<Disk>,
    pub inflight: Vec<Flight>,
    paused_until: Vec<u64>,
    cut: BTreeSet<(NodeId, NodeId)>,
    extra_latency: Vec<(NodeId, NodeId, u64)>,
    latency_ns: Option<u64>,
    next_seq: u64,
    jitter_state: u64,
    pub oracles: SafetyOracles,
    pub overlap: BeliefOverlap,
    pub violations: Vec<Violation>,
    pub log: Vec<Logged>,
}

impl Stepper {
    /// A cluster of `clients` clients. `rates_ppm` gives each node's clock rate (server,
    /// resource, clients...; missing entries run at rate 0). With `latency_ms`, every message
    /// arrives by itself after that long; without, only `deliver` moves messages.
    #[must_use]
    pub fn new(cfg: Config, clients: usize, rates_ppm: &[i32], latency_ms: Option<u64>) -> Self {
        let n = clients + 2;
        let clocks = (0..n)
            .map(|i| {
                NodeClock::new(
                    i as i64 * 7_919_000_000,
                    rates_ppm.get(i).copied().unwrap_or(0),
                )
            })
            .collect::<Vec<_>>();
        let mut s = Stepper {
            cfg,
            true_ns: 0,
            nodes: Vec::with_capacity(n),
            clocks,
            incarnations: vec![0; n],
            disks: vec![Disk::default(); n],
            inflight: Vec::new(),
            paused_until: vec![0; n],
            cut: BTreeSet::new(),
            extra_latency: Vec::new(),
            latency_ns: latency_ms.map(|ms| ms * 1_000_000),
            next_seq: 0,
            jitter_state: 0x9E37_79B9_7F4A_7C15,
            oracles: SafetyOracles::new(),
            overlap: BeliefOverlap::new(),
            violations: Vec::new(),
            log: Vec::new(),
        };
        for i in 0..n {
            let kind = match i {
                0 => RoleKind::Server,
                1 => RoleKind::Resource,
                _ => RoleKind::Client,
            };
            let now = s.clocks[i].local(0);
            let id = Identity {
                node: NodeId(i as u32),
                incarnation: 0,
            };
            s.nodes
                .push(AnyNode::restore(kind, &cfg, id, &s.disks[i], now));
        }
        for i in 0..n {
            s.drain(i);
        }
        s
    }

    #[must_use]
    pub fn server_now(&self) -> Nanos {
        self.clocks[0].local(self.true_ns)
    }

    #[must_use]
    pub fn node(&self, i: usize) -> &AnyNode {
        &self.nodes[i]
    }

    #[must_use]
    pub fn client(&self, i: usize) -> &crate::client::LeaseClient {
        self.nodes[2 + i]
            .as_client()
            .expect("nodes 2.. are clients")
    }

    #[must_use]
    pub fn server(&self) -> &crate::server::LockServer {
        match &self.nodes[0] {
            AnyNode::Server(s) => s,
            _ => unreachable!("node 0 is the server"),
        }
    }

    #[must_use]
    pub fn resource(&self) -> &crate::resource::FencedResource {
        match &self.nodes[1] {
            AnyNode::Resource(r) => r,
            _ => unreachable!("node 1 is the resource"),
        }
    }

    /// Events of one kind, in order.
    pub fn events<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Logged> + 'a {
        self.log.iter().filter(move |l| l.event.kind() == kind)
    }

    /// Cuts (or restores) the one-way link `from -> to`; messages on a cut link are lost.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, up: bool) {
        if up {
            self.cut.remove(&(from, to));
        } else {
            self.cut.insert((from, to));
        }
    }

    /// Cuts or restores both directions between `node` and every other node.
    pub fn isolate(&mut self, node: NodeId, isolated: bool) {
        for other in 0..self.nodes.len() as u32 {
            let o = NodeId(other);
            if o != node {
                self.set_link(node, o, !isolated);
                self.set_link(o, node, !isolated);
            }
        }
    }

    /// Adds latency to the one-way link `from -> to`.
    pub fn slow_link(&mut self, from: NodeId, to: NodeId, extra_ms: u64) {
        self.extra_latency.push((from, to, extra_ms * 1_000_000));
    }

    /// Puts a message on the wire as if the network had kept a copy (a late duplicate).
    pub fn inject(&mut self, from: NodeId, to: NodeId, msg: Msg) {
        self.put_on_wire(from, to, msg, 0);
    }

    /// A message enters the network; with automatic delivery it arrives after the latency
    /// plus `extra_ns`.
    fn put_on_wire(&mut self, from: NodeId, to: NodeId, msg: Msg, extra_ns: u64) {
        let seq = self.bump_seq();
        let deliver_at = self.latency_ns.map(|l| self.true_ns + l + extra_ns);
        self.inflight.push(Flight {
            from,
            to,
            msg,
            deliver_at,
            seq,
        });
    }

    pub fn pause(&mut self, node: usize, ms: u64) {
        self.paused_until[node] = self.true_ns + ms * 1_000_000;
    }

    /// Restarts the server; it loses its lease table, and its counter too if `lose_disk`.
    pub fn crash_server(&mut self, lose_disk: bool) {
        self.restart(0, lose_disk);
    }

    /// Restarts a client as a new incarnation.
    pub fn crash_client(&mut self, i: usize) {
        self.restart(2 + i, true);
    }

    /// Restarts the resource; it loses its tables if `lose_disk` (beyond the assumptions).
    pub fn crash_resource(&mut self, lose_disk: bool) {
        self.restart(1, lose_disk);
    }

    fn restart(&mut self, i: usize, lose_disk: bool) {
        if lose_disk {
            self.disks[i] = Disk::default();
        }
        self.incarnations[i] += 1;
        let id = Identity {
            node: NodeId(i as u32),
            incarnation: self.incarnations[i],
        };
        let kind = self.nodes[i].kind();
        let now = self.clocks[i].local(self.true_ns);
        self.nodes[i] = AnyNode::restore(kind, &self.cfg, id, &self.disks[i], now);
        self.paused_until[i] = 0;
        self.drain(i);
    }

    /// Runs one step of a random schedule.
    pub fn step(&mut self, s: Step) {
        match s {
            Step::Deliver(i) => {
                if let Some(idx) = self.pick(i) {
                    let f = self.inflight.remove(idx);
                    self.deliver_flight(f);
                }
            }
            Step::Drop(i) => {
                if let Some(idx) = self.pick(i) {
                    self.inflight.remove(idx);
                }
            }
            Step::Duplicate(i) => {
                if let Some(idx) = self.pick(i) {
                    let mut f = self.inflight[idx].clone();
                    f.seq = self.bump_seq();
                    self.inflight.push(f);
                }
            }
            Step::Advance { ms } => self.run_for_ms(ms),
            Step::CrashServer => self.crash_server(false),
            Step::CrashClient(i) => {
                let n = self.nodes.len() - 2;
                self.crash_client(i % n);
            }
            Step::Pause { node, ms } => {
                let n = self.nodes.len();
                self.pause(node % n, ms);
            }
            Step::Stall { client, on } => {
                let i = 2 + client % (self.nodes.len() - 2);
                let now = self.clocks[i].local(self.true_ns);
                if let AnyNode::Client(c) = &mut self.nodes[i] {
                    c.handle_stall(now, on);
                }
                self.drain(i);
            }
        }
    }

    /// A deliverable in-flight message (its destination not paused), by index modulo.
    fn pick(&self, i: usize) -> Option<usize> {
        let ok: Vec<usize> = (0..self.inflight.len())
            .filter(|&k| self.paused_until[self.inflight[k].to.0 as usize] <= self.true_ns)
            .collect();
        (!ok.is_empty()).then(|| ok[i % ok.len()])
    }

    fn bump_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    pub fn run_for_ms(&mut self, ms: u64) {
        self.run_until(self.true_ns + ms * 1_000_000);
    }

    /// Fires timers and automatic deliveries in true-time order up to `target`.
    pub fn run_until(&mut self, target: u64) {
        let mut same_instant = 0u32;
        loop {
            let (at, what) = match self.next_happening() {
                Some(n) if n.0 <= target => n,
                _ => break,
            };
            if at == self.true_ns {
                same_instant += 1;
                assert!(
                    same_instant < MAX_STEPS_PER_INSTANT,
                    "livelock: {MAX_STEPS_PER_INSTANT} inputs at one instant"
                );
            } else {
                same_instant = 0;
            }
            self.true_ns = at;
            match what {
                Happening::Timer(i) => {
                    let now = self.clocks[i].local(at);
                    self.nodes[i].handle_timeout(now);
                    self.drain(i);
                }
                Happening::Arrival(idx) => {
                    let f = self.inflight.remove(idx);
                    self.deliver_flight(f);
                }
            }
        }
        self.true_ns = self.true_ns.max(target);
        self.overlap.advance(self.true_ns);
    }

    fn next_happening(&self) -> Option<(u64, Happening)> {
        let mut best: Option<(u64, Happening)> = None;
        for (i, node) in self.nodes.iter().enumerate() {
            if let Some((local, _)) = node.poll_timeout() {
                let at = self.clocks[i]
                    .first_true_at(local)
                    .max(self.true_ns)
                    .max(self.paused_until[i]);
                if best.is_none_or(|(b, _)| at < b) {
                    best = Some((at, Happening::Timer(i)));
                }
            }
        }
        for (idx, f) in self.inflight.iter().enumerate() {
            if let Some(d) = f.deliver_at {
                let at = d.max(self.true_ns).max(self.paused_until[f.to.0 as usize]);
                let better = match best {
                    None => true,
                    Some((b, Happening::Arrival(bi))) => {
                        at < b || (at == b && f.seq < self.inflight[bi].seq)
                    }
                    Some((b, Happening::Timer(_))) => at < b,
                };
                if better {
                    best = Some((at, Happening::Arrival(idx)));
                }
            }
        }
        best
    }

    fn deliver_flight(&mut self, f: Flight) {
        let to = f.to.0 as usize;
        let now = self.clocks[to].local(self.true_ns);
        self.nodes[to].handle_message(now, f.from, f.msg);
        self.drain(to);
    }

    /// Drains a node's outputs: sends enter the network, persists reach its disk, jitter is
    /// answered, events go to the oracles.
    fn drain(&mut self, i: usize) {
        let from = NodeId(i as u32);
        while let Some(out) = self.nodes[i].poll_output() {
            match out {
                Output::Send { to, msg } => {
                    if self.cut.contains(&(from, to)) {
                        continue;
                    }
                    let extra: u64 = self
                        .extra_latency
                        .iter()
                        .filter(|(a, b, _)| *a == from && *b == to)
                        .map(|e| e.2)
                        .sum();
                    self.put_on_wire(from, to, msg, extra);
                }
                Output::Persist(op) => self.disks[i].apply(op),
                Output::NeedJitter => {
                    let j = self.next_jitter();
                    let now = self.clocks[i].local(self.true_ns);
                    self.nodes[i].handle_jitter(now, j);
                }
                Output::Event(event) => {
                    let server_now = self.server_now();
                    self.oracles
                        .observe(server_now, &event, &mut self.violations);
                    self.log.push(Logged {
                        true_ns: self.true_ns,
                        server_now,
                        event,
                    });
                }
            }
        }
        if let AnyNode::Client(c) = &self.nodes[i] {
            let until = c.valid_until().map(|v| self.clocks[i].first_true_at(v));
            self.overlap.update(self.true_ns, Key(0), from, until);
        }
    }

    fn next_jitter(&mut self) -> Jitter {
        // Deterministic, seeded by construction.
        Jitter::xorshift(&mut self.jitter_state)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Happening {
    Timer(usize),
    Arrival(usize),
}
