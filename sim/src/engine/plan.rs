//! Fault plans: the scenario's script plus random faults drawn from the seed, swarm-style
//! (each seed enables its own subset of fault kinds and its own network knobs), aimed where
//! leases break: at the current holder, with pauses and cuts long enough to outlast a lease.

use crate::clock::NodeClock;
use crate::scenario::{
    client_idx, is_client, node_name, CrashPoints, DriftMode, Fault, FaultAction, NodeIdx,
    RandomFaults, RandomKind, Scenario, SERVER,
};
use leaseproof_impl::Protocol;
use madsim::rand::Rng;
use serde::Serialize;
use std::fmt;

/// A fault the supervisor applies; one aimed at the holder (`fault.holder`) is retargeted at
/// whichever client holds the lease at that moment (if any).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedFault {
    pub fault: Fault,
}

impl PlannedFault {
    /// Whether the supervisor retargets it at the holder when it fires.
    #[must_use]
    pub fn aimed(&self) -> bool {
        self.fault.holder
    }
}

/// Everything a seed decided before the run started. Printed first in a replay.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    pub seed: u64,
    pub latency_ms: [u64; 2],
    pub loss_ratio: f64,
    pub duplicate_ratio: f64,
    pub send_delay_ratio: f64,
    pub send_delay_ms: [u64; 2],
    pub buggify: bool,
    pub clocks: Vec<NodeClock>,
    pub kinds: Vec<RandomKind>,
    pub faults: Vec<PlannedFault>,
    /// The scenario's crash points (drawn during the run, step by step, not here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crash_points: Option<CrashPoints>,
}

/// A seeded generator for plans drawn outside a madsim runtime (a real cluster's): the
/// core's xorshift ([`leaseproof_impl::Jitter::xorshift`]) behind `rand`'s trait. Its plans
/// follow the scenario's distribution, not the simulator's draws for the same seed.
#[derive(Clone, Debug)]
pub struct SeededRng(u64);

impl SeededRng {
    #[must_use]
    pub fn new(seed: u64) -> SeededRng {
        // Spread small seeds over the state space; a zero state would stick at zero.
        SeededRng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
}

impl madsim::rand::RngCore for SeededRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        leaseproof_impl::xorshift64star(&mut self.0)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), madsim::rand::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

fn range(rng: &mut impl Rng, [a, b]: [u64; 2]) -> u64 {
    if a >= b {
        a
    } else {
        rng.gen_range(a..=b)
    }
}

impl Plan {
    /// Derives the plan from the seed's RNG (madsim's, inside the runtime), in a fixed order:
    /// clocks, network knobs, then the random faults (the draw order is part of every pinned
    /// trace hash: change it only with a re-pin).
    pub fn derive<P: Protocol>(sc: &Scenario<P>, seed: u64, rng: &mut impl Rng) -> Plan {
        let f = &sc.file;
        let c = &f.cluster;
        let clocks = draw_clocks(sc, rng);
        let (latency_ms, loss_ratio, duplicate_ratio) = draw_network(sc, rng);
        // The script, then random ones.
        let mut faults: Vec<PlannedFault> = sc
            .script
            .iter()
            .map(|fault| PlannedFault {
                fault: fault.clone(),
            })
            .collect();
        let mut kinds = Vec::new();
        if let Some(r) = &f.faults.random {
            kinds = draw_kinds(r, rng);
            let events = if r.events == 0 || kinds.is_empty() {
                0
            } else {
                rng.gen_range(1..=r.events)
            };
            let mut last_server_step: Option<u64> = None;
            for _ in 0..events {
                faults.push(draw_fault(sc, r, &kinds, &mut last_server_step, rng));
            }
        }
        faults.sort_by_key(|p| p.fault.at_ms);
        Plan {
            seed,
            latency_ms,
            loss_ratio,
            duplicate_ratio,
            send_delay_ratio: c.send_delay_ratio,
            send_delay_ms: c.send_delay_ms,
            buggify: c.buggify,
            clocks,
            kinds,
            faults,
            crash_points: f.faults.crash_points.clone(),
        }
    }
}

/// Draw 1: every node's clock: a drift and an offset per node, in node order, unless pinned.
fn draw_clocks<P: Protocol>(sc: &Scenario<P>, rng: &mut impl Rng) -> Vec<NodeClock> {
    let f = &sc.file;
    let n = sc.clients + 2;
    let mut clocks = Vec::with_capacity(n);
    for idx in 0..n {
        let d = f.clocks.drift_ppm as i32;
        let drift = match f.clocks.drift_mode {
            _ if d == 0 => 0,
            DriftMode::Uniform => rng.gen_range(-d..=d),
            DriftMode::Extreme => {
                if rng.gen_bool(0.5) {
                    d
                } else {
                    -d
                }
            }
        };
        let o = f.clocks.offset_ms as i64;
        let offset_ms = if o == 0 { 0 } else { rng.gen_range(-o..=o) };
        let name = node_name(idx);
        let (drift, offset_ms) = match f.clocks.pin.iter().find(|p| p.node == name) {
            Some(p) => (p.drift_ppm, p.offset_ms),
            None => (drift, offset_ms),
        };
        clocks.push(NodeClock::new(offset_ms * 1_000_000, drift));
    }
    clocks
}

/// Draw 2: network knobs: latency range, loss and duplication (swarm: each seed its own, up to
/// the scenario's values).
fn draw_network<P: Protocol>(sc: &Scenario<P>, rng: &mut impl Rng) -> ([u64; 2], f64, f64) {
    let c = &sc.file.cluster;
    if c.swarm {
        let hi = range(rng, [c.latency_ms[0], c.latency_ms[1]]);
        (
            [c.latency_ms[0], hi],
            rng.gen_range(0.0..=c.loss_ratio),
            rng.gen_range(0.0..=c.duplicate_ratio),
        )
    } else {
        (c.latency_ms, c.loss_ratio, c.duplicate_ratio)
    }
}

/// Draw 3: the random fault kinds this seed uses (swarm: each kind on with probability 1/2, at
/// least one).
fn draw_kinds(r: &RandomFaults, rng: &mut impl Rng) -> Vec<RandomKind> {
    if !r.swarm {
        return r.kinds.clone();
    }
    let mut k: Vec<RandomKind> = r
        .kinds
        .iter()
        .copied()
        .filter(|_| rng.gen_bool(0.5))
        .collect();
    if k.is_empty() && !r.kinds.is_empty() {
        k.push(r.kinds[rng.gen_range(0..r.kinds.len())]);
    }
    k
}

/// Draw 4: one random fault: its kind, time, candidate client and node, whether it is aimed at
/// the holder, then the kind's own draws.
fn draw_fault<P: Protocol>(
    sc: &Scenario<P>,
    r: &RandomFaults,
    kinds: &[RandomKind],
    last_server_step: &mut Option<u64>,
    rng: &mut impl Rng,
) -> PlannedFault {
    let f = &sc.file;
    let n = sc.clients + 2;
    let kind = kinds[rng.gen_range(0..kinds.len())];
    let at_ms = rng.gen_range(0..f.duration_ms);
    let client = client_idx(rng.gen_range(0..sc.clients));
    let any = rng.gen_range(0..n);
    let aim = r.aim && rng.gen_bool(0.7);
    let action = match kind {
        RandomKind::Pause => FaultAction::Pause {
            node: if aim { client } else { any },
            for_ms: range(rng, r.pause_ms),
        },
        RandomKind::Isolate => FaultAction::Isolate {
            node: if aim { client } else { any },
            for_ms: range(rng, r.partition_ms),
        },
        RandomKind::Cut => draw_cut(r, client, rng),
        RandomKind::Split => draw_split(r, n, rng),
        RandomKind::CrashServer => FaultAction::Crash {
            node: SERVER,
            down_ms: range(rng, r.down_ms),
            lose_disk: false,
        },
        RandomKind::CrashClient => FaultAction::Crash {
            node: client,
            down_ms: range(rng, r.down_ms),
            lose_disk: false,
        },
        RandomKind::ClockStep => draw_clock_step(sc, r, at_ms, client, last_server_step, rng),
    };
    let aim_holder = aim
        && match action {
            FaultAction::Pause { .. } | FaultAction::Isolate { .. } | FaultAction::Cut { .. } => {
                true
            }
            FaultAction::Crash { node, .. } => is_client(node),
            _ => false,
        };
    PlannedFault {
        fault: Fault {
            at_ms,
            action,
            holder: aim_holder,
        },
    }
}

/// Cuts a client from the server, one way: the classic lost renewal (client -> server) or
/// lost grant (server -> client).
fn draw_cut(r: &RandomFaults, client: NodeIdx, rng: &mut impl Rng) -> FaultAction {
    let (from, to) = if rng.gen_bool(0.5) {
        (client, SERVER)
    } else {
        (SERVER, client)
    };
    FaultAction::Cut {
        from,
        to,
        for_ms: range(rng, r.partition_ms),
    }
}

/// Splits the nodes in two groups, each node a coin flip; a degenerate draw splits the
/// server off.
fn draw_split(r: &RandomFaults, n: usize, rng: &mut impl Rng) -> FaultAction {
    let mut a = Vec::new();
    let mut b = Vec::new();
    for idx in 0..n {
        if rng.gen_bool(0.5) {
            a.push(idx);
        } else {
            b.push(idx);
        }
    }
    if a.is_empty() || b.is_empty() {
        // Degenerate draw: split the server off.
        a = vec![SERVER];
        b = (0..n).filter(|&i| i != SERVER).collect();
    }
    FaultAction::Split {
        groups: vec![a, b],
        for_ms: range(rng, r.partition_ms),
    }
}

/// Clients may step forward any amount; the server's forward steps stay within the margin
/// per TTL window (the assumptions).
fn draw_clock_step<P: Protocol>(
    sc: &Scenario<P>,
    r: &RandomFaults,
    at_ms: u64,
    client: NodeIdx,
    last_server_step: &mut Option<u64>,
    rng: &mut impl Rng,
) -> FaultAction {
    // The authority's forward steps its assumptions allow (the reference protocol's:
    // within the safety margin, once per TTL).
    let (margin, window_ms) = P::authority_steps_ms(&sc.config);
    let server_ok = margin > 0 && last_server_step.is_none_or(|t| at_ms >= t + window_ms);
    if server_ok && rng.gen_bool(0.3) {
        *last_server_step = Some(at_ms);
        FaultAction::ClockStep {
            node: SERVER,
            by_ms: rng.gen_range(1..=margin) as i64,
        }
    } else {
        FaultAction::ClockStep {
            node: client,
            by_ms: range(rng, r.clock_step_ms).max(1) as i64,
        }
    }
}

/// Describes a fault in one line, for plans and traces.
#[must_use]
pub fn describe(a: &FaultAction) -> String {
    describe_with(a, &node_name)
}

/// [`describe`] with the nodes named by `node_name` (a shrunk plan names an aimed fault's
/// node "the holder").
#[must_use]
pub fn describe_with(a: &FaultAction, node_name: &dyn Fn(NodeIdx) -> String) -> String {
    let g = |v: &Vec<NodeIdx>| {
        v.iter()
            .map(|&i| node_name(i))
            .collect::<Vec<_>>()
            .join(",")
    };
    match a {
        FaultAction::Pause { node, for_ms } => {
            format!("pause {} for {for_ms} ms", node_name(*node))
        }
        FaultAction::Isolate { node, for_ms } => {
            format!("isolate {} for {for_ms} ms", node_name(*node))
        }
        FaultAction::Cut { from, to, for_ms } => format!(
            "cut {} -> {} for {for_ms} ms",
            node_name(*from),
            node_name(*to)
        ),
        FaultAction::Split { groups, for_ms } => format!(
            "split {} for {for_ms} ms",
            groups.iter().map(g).collect::<Vec<_>>().join(" | ")
        ),
        FaultAction::Crash {
            node,
            down_ms,
            lose_disk,
        } => format!(
            "crash {} for {down_ms} ms{}",
            node_name(*node),
            if *lose_disk { ", losing its disk" } else { "" }
        ),
        FaultAction::ClockStep { node, by_ms } => {
            format!("step {}'s clock by {by_ms:+} ms", node_name(*node))
        }
        FaultAction::Garbage { node } => format!("send garbage frames to {}", node_name(*node)),
        FaultAction::Stall { node, for_ms } => match for_ms {
            Some(ms) => format!("stall {}'s worker for {ms} ms", node_name(*node)),
            None => format!("stall {}'s worker for good", node_name(*node)),
        },
        FaultAction::SlowLink {
            from,
            to,
            by_ms,
            for_ms,
        } => format!(
            "slow {} -> {} by {by_ms} ms for {for_ms} ms",
            node_name(*from),
            node_name(*to)
        ),
        FaultAction::DelayWrite { node, for_ms } => {
            format!("delay {}'s next write by {for_ms} ms", node_name(*node))
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "plan for seed {}:", self.seed)?;
        writeln!(
            f,
            "  network: latency {}..{} ms, loss {:.3}, duplication {:.3}, send stalls {:.3} \
             ({}..{} ms), buggify {}",
            self.latency_ms[0],
            self.latency_ms[1],
            self.loss_ratio,
            self.duplicate_ratio,
            self.send_delay_ratio,
            self.send_delay_ms[0],
            self.send_delay_ms[1],
            if self.buggify { "on" } else { "off" }
        )?;
        for (i, c) in self.clocks.iter().enumerate() {
            writeln!(
                f,
                "  clock {:<10} offset {:+} ms, drift {:+} ppm",
                node_name(i),
                (c.base_ns as i64 - crate::clock::CLOCK_ORIGIN_NS as i64) / 1_000_000,
                c.drift_ppm
            )?;
        }
        if let Some(c) = &self.crash_points {
            writeln!(
                f,
                "  crash points: server {:.3}, resource {:.3} of the steps that have one; down \
                 {}..{} ms",
                c.server, c.resource, c.down_ms[0], c.down_ms[1]
            )?;
        }
        if !self.kinds.is_empty() {
            let k: Vec<String> = self
                .kinds
                .iter()
                .map(|k| format!("{k:?}").to_lowercase())
                .collect();
            writeln!(f, "  random fault kinds this seed: {}", k.join(", "))?;
        }
        for p in &self.faults {
            writeln!(
                f,
                "  at {:>7} ms: {}{}",
                p.fault.at_ms,
                describe(&p.fault.action),
                if p.aimed() {
                    " (aimed at the holder)"
                } else {
                    ""
                }
            )?;
        }
        Ok(())
    }
}
