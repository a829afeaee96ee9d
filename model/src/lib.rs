//! # leaseproof-model: the lease protocol, model-checked
//!
//! stateright explores every interleaving of a small cluster (one lock server, one fenced
//! resource, up to three clients) running **the same state machines** as the simulator
//! (`leaseproof-impl`), and judges every state with **the same oracles**. This crate only
//! decides *which* input happens next; it contains no protocol logic.
//!
//! ## Time
//!
//! stateright's actor timers are untimed (any armed timer may fire at any step), so a lease
//! that is only safe under a drift bound would always look broken. The model owns time: one
//! global tick counter `now` (1 tick = 1 ms of the protocol's config), and each clocked node
//! (the server and every client) reads `now + offset + stepped`. `Tick` advances every clock
//! by one; `Fast(n)` advances node `n`'s clock alone (its clock ran fast), within a budget of
//! such moves (`--drift-moves`) and only while the spread between any two clocks stays
//! within ε (`--spread`). Offsets are normalised so the slowest clock has offset 0, and
//! `now` stops at `max_time` in a bounded check; a closed check (`--closed`) has no time
//! bound and keeps `now` at an anchor, storing every instant relative to it (see the
//! `normal` module: time, counters and dead data normalised). The server's clock runs on
//! while it is down.
//!
//! Timers are **urgent**: `Tick` is disabled while a live node has a due deadline; `Fire(n)`
//! handles it first. A late timer is what a GC pause is, so the only way to let time run
//! past a due client deadline is `PauseTick`, which spends the pause budget (one tick per
//! late client). Urgency is what keeps the state space small: a node's clock and its timers
//! cannot drift apart except through a pause, which is a fault the model counts.
//!
//! The client's validity span is set directly to `L = ttl − 2ε` ticks, so the correct client
//! absorbs the spread with no margin, and the drift-ignored variant (B5, `L = ttl`) breaks.
//! Validity is strict (`now < valid_until`).
//!
//! Why `2ε`: when the server receives a request its clock reads at least the client's send
//! time minus ε, so the grant expires no earlier than `t_sent − ε + ttl` on the server's
//! clock; when the server's clock has reached that, the client's reads at least
//! `t_sent + ttl − 2ε = t_sent + L`, so its belief has ended.
//!
//! ## Symmetry
//!
//! Clients are interchangeable, so a state and the same state with clients renamed behave
//! alike. With symmetry on, the model offers stateright canonical states only (see
//! [`canonical`]): it explores the quotient graph, one state per orbit of renamings, under
//! DFS and BFS alike, and fingerprints each state once (stateright's own `symmetry_fn`
//! fingerprints a throwaway representative besides, and only DFS honours it). A path's
//! clients may then trade names from one step to the next; [`check::explain`] replays a path
//! without renaming to print it.
//!
//! ## Faults, as actions
//!
//! - delivery of any in-flight message, in any order, from an unordered multiset, within
//!   `--max-delay` ticks; `Drop` loses a message at that bound, within a budget of
//!   `--losses` (a message to a server that is down is always lost); write acks, which the
//!   client ignores, are not carried; with `duplicating`, a delivered message stays in
//!   flight and can be delivered once more (twice in all: [`DELIVERIES_PER_MESSAGE`]),
//!   within its delay bound (small configs only);
//! - a client GC pause: `PauseTick` lets time run while clients' deadlines are due, without
//!   firing them, within a budget of ticks (the client's clock runs on while it takes no
//!   steps; it may still take in a message before its late timer, as a resumed process does);
//! - clock drift within ε: `Fast(n)`;
//! - a server crash (losing everything but its disk) and its recovery;
//! - an optional forward clock step of a client (it only shortens its belief).
//!
//! Jitter enters only through `handle_jitter`: when a client emits `NeedJitter` the model
//! offers `Jitter(c, v)` for the smallest and the largest draw (urgent, like a timer).
//!
//! ## Properties
//!
//! `Always` ([`ALWAYS`]): single-holder, token-monotonic, fenced-writes, lease-containment
//! and exactly-once (its "applied twice, or applied and dead-lettered" half), read from the
//! oracles' ghost state in the model state, no wait-for cycle (the deadlock oracle at
//! bound 0; a liveness failure, exit 3), and no time-lock ([`TimeLock`]: a state from which
//! time cannot advance, found by local patterns while successors are generated; also
//! exit 3). `Sometimes` ([`SOMETIMES`]; proof that the model reaches the interesting
//! states): renewal confirmed, holder released after its work,
//! queued waiter granted, takeover after expiry, stale write rejected, and two clients
//! believing at once (a client "believes" when its core state is Holding): reachable with
//! pauses, unreachable without; that is the belief exclusivity check, and what fencing is
//! for. Liveness is not checked with stateright's `Eventually` (it is unsound with crashes
//! and with timers that re-arm); the model reports a bounded reachability check instead
//! ("every client served"): some path within `max_time` serves every client.
//!
//! stateright looks every property up by name, for every state, in a map its threads
//! share; with a dozen properties that was the largest cost left on two threads. So it
//! checks the `Always` properties as one ([`PROP_SAFE`]; a violation comes with its path,
//! and the report splits the verdict per property from the violating state), and the
//! `Sometimes` ones, which need no path, are recorded by the model itself: every state it
//! generates ORs its coverage bits into one shared word ([`LeaseModel::reached`]).

pub mod check;
pub mod memo;
pub mod part;
pub mod plugin;
pub mod variants;

use leaseproof_impl::{
    AnyNode, Config, Disk, Event, Identity, Jitter, LeaseClient, Machine, Msg, Nanos, NodeId,
    OracleName, Output, ProtocolConfig, RemapNodes, RoleKind, SafetyOracles, Token, Variant,
};
use memo::Input;
pub use part::Part;
use stateright::{Model, Property};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

mod config;
mod normal;
mod properties;
mod state;
mod symmetry;

pub use config::*;
pub use normal::{NormalFault, ANCHOR, TICK_NS};
pub use properties::*;
pub use state::*;
pub use symmetry::*;

/// The model: bounds, the protocol config in ticks, and whether it explores one state per
/// orbit of client renamings (symmetry reduction, see [`canonical`]).
#[derive(Clone, Debug)]
pub struct LeaseModel {
    pub mc: ModelConfig,
    pub cfg: Config,
    pub symmetry: bool,
    /// The coverage (`seen`) bits of every state generated so far: what the `Sometimes`
    /// properties ask. The model records them itself rather than as stateright properties,
    /// which stateright would look up by name in a map shared by its threads for every
    /// state; the report needs no path for them, and a generated state is reachable.
    reached: Arc<AtomicU32>,
    /// The one `Always` property to check, or `None` for all of them.
    target: Option<&'static str>,
    /// Whether states are normalised (see the `normal` module); off only to test that
    /// normalising keeps behaviour.
    normalising: bool,
    /// A deliberately wrong normalisation, for the tests that must catch it.
    fault: NormalFault,
    /// Belief exclusivity is an `Always` here ([`ModelConfig::claims_belief_exclusivity`]).
    pub(crate) belief_checked: bool,
}

impl LeaseModel {
    pub fn new(mc: ModelConfig) -> Result<LeaseModel, String> {
        let cfg = mc.validate()?;
        Ok(LeaseModel {
            belief_checked: mc.claims_belief_exclusivity(),
            mc,
            cfg,
            symmetry: false,
            reached: Arc::default(),
            target: None,
            normalising: true,
            fault: NormalFault::None,
        })
    }

    /// The same model, normalising its states or not (off: every instant and counter as
    /// the core left it; for the tests that compare the two).
    #[must_use]
    pub fn with_normalisation(self, normalising: bool) -> LeaseModel {
        LeaseModel {
            normalising,
            ..self
        }
    }

    /// The same model with a deliberately wrong normalisation (tests only: they must
    /// catch it).
    #[must_use]
    pub fn with_fault(self, fault: NormalFault) -> LeaseModel {
        LeaseModel { fault, ..self }
    }

    /// The same model, checking one `Always` property of [`ALWAYS`] (by name) rather than
    /// all: the checker stops at the first state that breaks it, so a variant that trips
    /// one oracle before another shows the counterexample of the one asked for.
    ///
    /// # Errors
    /// When `name` is not one of [`ALWAYS`].
    pub fn with_target(self, name: &str) -> Result<LeaseModel, String> {
        let target = ALWAYS
            .iter()
            .find(|n| **n == name)
            .ok_or_else(|| format!("{name:?} is not an Always property"))?;
        Ok(LeaseModel {
            target: Some(target),
            ..self
        })
    }

    /// The name of the property stateright checks.
    #[must_use]
    pub fn checked(&self) -> &'static str {
        self.target.unwrap_or(PROP_SAFE)
    }

    /// The coverage bits reached so far (see [`SOMETIMES`]).
    #[must_use]
    pub fn reached(&self) -> u32 {
        self.reached.load(Ordering::Relaxed)
    }

    /// Records what a generated state reached. The shared word is written only the first
    /// time a bit is seen, so the threads mostly just read it.
    fn note(&self, s: &State) {
        let all = (0..self.mc.clients).fold(0, |b, i| b | (seen::CLIENT_HELD << i));
        let mut bits = s.seen & (seen::CLIENT_HELD - 1);
        if s.seen & all == all {
            bits |= seen::ALL_SERVED;
        }
        if s.believers() >= 2 {
            bits |= seen::TWO_BELIEVERS;
        }
        if bits & !self.reached() != 0 {
            self.reached.fetch_or(bits, Ordering::Relaxed);
        }
    }

    /// The same model, reduced by client symmetry or not. Reduced, every state it offers
    /// stateright is canonical, so a path's clients may trade names from one step to the
    /// next; [`check::explain`] replays a path without renaming to print it.
    #[must_use]
    pub fn with_symmetry(self, symmetry: bool) -> LeaseModel {
        LeaseModel { symmetry, ..self }
    }

    /// The state itself, or its canonical representative when reducing by symmetry.
    fn reduce(&self, s: State) -> State {
        if self.symmetry {
            canonical(s)
        } else {
            s
        }
    }

    /// The initial state before any renaming.
    #[must_use]
    pub fn init_raw(&self) -> State {
        let n = self.n();
        let mut s = State {
            now: if self.mc.closed { ANCHOR } else { 0 },
            n: n as u8,
            offset: [0; MAX_NODES],
            stepped: [0; MAX_NODES],
            nodes: Default::default(),
            server_disk: Part::new(Disk::default()),
            server_boots: 0,
            net: Vec::new(),
            jitter: [false; MAX_NODES],
            paused: [0; MAX_NODES],
            since_fast: [0; MAX_NODES],
            waiting: [0; MAX_NODES],
            pause_left: if self.mc.pauses { PAUSE_BUDGET } else { 0 },
            crashes_left: self.mc.crashes,
            step_left: u8::from(self.mc.clock_step),
            drift_left: self.mc.drift_moves,
            loss_left: self.mc.losses,
            oracles: Part::new(if self.cfg.is_lock_set() {
                SafetyOracles::with_wait_for_graph()
            } else {
                SafetyOracles::new()
            }),
            timelock: TimeLock::None,
            seen: 0,
            elapsed: 0,
            hash: 0,
        };
        let mut lines = Vec::new();
        for i in 0..n {
            let kind = match i {
                SERVER => RoleKind::Server,
                RESOURCE => RoleKind::Resource,
                _ => RoleKind::Client,
            };
            let id = Identity {
                node: NodeId(i as u32),
                incarnation: 0,
            };
            s.nodes[i] = Some(Part::new(AnyNode::restore(
                kind,
                &self.cfg,
                id,
                &Disk::default(),
                s.local(i),
            )));
            self.step(&mut s, i, &mut lines, false, (Input::Boot, 0));
        }
        // Every clock may run ahead at once: none has run ahead within the last R ticks.
        for i in s.clocked() {
            s.since_fast[i] = self.rate();
        }
        self.normalise(&mut s);
        s.seal();
        s
    }

    fn n(&self) -> usize {
        self.mc.clients + 2
    }

    /// R of `--rate-skew 1/R`, or 0 when clocks may run ahead at any moment.
    fn rate(&self) -> u8 {
        self.mc.rate_skew.unwrap_or(0)
    }

    /// Applies one action, returning the next state and the lines describing its outputs.
    pub fn apply(&self, last: &State, action: &Action, log: bool) -> (State, Vec<String>) {
        let mut s = last.clone();
        let mut lines = Vec::new();
        match *action {
            Action::Tick => s.advance(self.rate()),
            Action::PauseTick(late) => {
                s.advance(self.rate());
                if !self.mc.closed {
                    s.pause_left -= late.count_ones() as u8;
                }
                if self.mc.max_pause.is_some() {
                    for i in 2..usize::from(s.n) {
                        if late & (1 << (i - 2)) != 0 {
                            s.paused[i] += 1;
                        }
                    }
                }
            }
            Action::Drop(ref env) => {
                if s.nodes[usize::from(env.to)].is_some() && !self.mc.closed {
                    s.loss_left -= 1;
                }
                s.take(env, self.mc.duplicating);
            }
            Action::Fire(i) => {
                let i = usize::from(i);
                s.paused[i] = 0;
                self.step(&mut s, i, &mut lines, log, (Input::Timeout, 1));
                // Time has not moved: still due means the timer would fire forever.
                if s.due(i) {
                    s.timelock = TimeLock::FireLeftDue;
                }
            }
            Action::Stuck(why) => s.timelock = why,
            Action::Fast(i) => {
                s.offset[usize::from(i)] += 1;
                if self.mc.rate_skew.is_some() {
                    s.since_fast[usize::from(i)] = 0;
                } else if !self.mc.closed {
                    s.drift_left -= 1;
                }
                s.normalise(self.rate());
            }
            Action::StepClock(i) => {
                let i = usize::from(i);
                s.stepped[i] += 2;
                s.step_left -= 1;
            }
            Action::Deliver(ref env) => {
                let to = usize::from(env.to);
                assert!(s.nodes[to].is_some(), "deliver only to a live node");
                self.take_delivery(&mut s, env);
                self.step(&mut s, to, &mut lines, log, delivery_input(env));
            }
            Action::Jitter(i, ppm) => {
                let i = usize::from(i);
                s.jitter[i] = false;
                self.step(
                    &mut s,
                    i,
                    &mut lines,
                    log,
                    (Input::Jitter(ppm), u64::from(ppm) + 2),
                );
            }
            Action::CrashServer | Action::CrashAmid(..) | Action::RecoverServer => {
                self.crash_or_recover(&mut s, action, &mut lines, log);
            }
        }
        if log && s.timelock != TimeLock::None {
            lines.push(format!("TIME-LOCK: {}", s.timelock.meaning()));
        }
        if self.mc.liveness {
            self.track_waiting(last, &mut s, action, &mut lines, log);
        }
        self.normalise(&mut s);
        s.seal();
        (s, lines)
    }

    /// Liveness (`--liveness`): counts each acquiring client's fault-free ticks; a fault
    /// (a pause, a loss, a crash or recovery, a clock step) starts every count again, as
    /// does holding or not wanting. Drift within ε is not a fault. Past the bound the count
    /// is [`LATE`], a liveness failure.
    fn track_waiting(
        &self,
        last: &State,
        s: &mut State,
        action: &Action,
        lines: &mut Vec<String>,
        log: bool,
    ) {
        let fault = matches!(
            action,
            Action::PauseTick(_)
                | Action::Drop(_)
                | Action::CrashServer
                | Action::CrashAmid(..)
                | Action::RecoverServer
                | Action::StepClock(_)
        );
        let ticks = s.elapsed - last.elapsed;
        let bound = liveness_bound_ticks(&self.cfg, &self.mc, s.server_boots > 0);
        for i in 2..usize::from(s.n) {
            let acquiring = s
                .node(i)
                .and_then(AnyNode::as_client)
                .is_some_and(LeaseClient::is_waiting);
            let waited = u64::from(s.waiting[i]) + ticks;
            s.waiting[i] = match s.waiting[i] {
                _ if fault || !acquiring => 0,
                LATE => LATE,
                _ if waited > bound => {
                    if log {
                        lines.push(format!(
                            "LIVENESS: client-{} has waited {waited} fault-free ticks, past its \
                             bound of {bound}",
                            i - 2
                        ));
                    }
                    LATE
                }
                _ => waited as u8,
            };
        }
    }

    /// A server crash (between steps, or inside one at a crash point) or its recovery.
    fn crash_or_recover(&self, s: &mut State, action: &Action, lines: &mut Vec<String>, log: bool) {
        match *action {
            Action::CrashServer => {
                s.nodes[SERVER] = None;
                s.crashes_left -= 1;
            }
            Action::CrashAmid(ref inner, at) => {
                if let Action::Deliver(env) = &**inner {
                    self.take_delivery(s, env);
                }
                self.step_to(s, SERVER, lines, log, server_input(inner), Some(at));
                if log {
                    lines.push("CRASH here: the rest of the step is lost".into());
                }
                s.nodes[SERVER] = None;
                s.crashes_left -= 1;
            }
            Action::RecoverServer => {
                s.server_boots += 1;
                let id = Identity {
                    node: NodeId::authority(0),
                    incarnation: s.server_boots,
                };
                let now = s.local(SERVER);
                s.nodes[SERVER] = Some(Part::new(AnyNode::restore(
                    RoleKind::Server,
                    &self.cfg,
                    id,
                    &s.server_disk,
                    now,
                )));
                self.step(s, SERVER, lines, log, (Input::Boot, 0));
            }
            _ => unreachable!("not a crash or recovery: {action:?}"),
        }
    }

    /// The actions enabled at `s` (before the time-lock checks of `Model::actions`).
    fn enabled(&self, s: &State, actions: &mut Vec<Action>) {
        let mut late = 0u8;
        let mut urgent = s.jitter.iter().any(|&j| j);
        for (env, _) in &s.net {
            let dead = s.nodes[usize::from(env.to)].is_none();
            if env.age >= self.mc.max_delay {
                urgent = true;
            }
            // Loss is decided at the delay bound (earlier or later looks the same).
            if dead || (env.age >= self.mc.max_delay && s.loss_left > 0) {
                actions.push(Action::Drop(*env));
            }
        }
        for i in s.clocked() {
            if s.due(i) {
                actions.push(Action::Fire(i as u8));
                if i == SERVER {
                    urgent = true;
                } else {
                    late |= 1 << (i - 2);
                }
            }
        }
        if self.before_horizon(s) && !urgent {
            if late == 0 {
                actions.push(Action::Tick);
            } else if u32::from(s.pause_left) >= late.count_ones()
                && self.mc.max_pause.is_none_or(|p| {
                    (2..usize::from(s.n)).all(|i| late & (1 << (i - 2)) == 0 || s.paused[i] < p)
                })
            {
                actions.push(Action::PauseTick(late));
            }
        }
        // Drift moves happen where a tick could: at a quiet moment, no timer due.
        if s.drift_left > 0 && self.before_horizon(s) && !urgent && late == 0 {
            // With a rate, a clock runs ahead at most once every R global ticks.
            for i in s.clocked().filter(|&i| s.since_fast[i] >= self.rate()) {
                let after = |j: usize| u64::from(s.offset[j]) + u64::from(j == i);
                let hi = s.clocked().map(after).max().unwrap_or(0);
                let lo = s.clocked().map(after).min().unwrap_or(0);
                if hi - lo <= self.mc.spread {
                    actions.push(Action::Fast(i as u8));
                }
            }
        }
        for (env, _) in &s.net {
            if s.nodes[usize::from(env.to)].is_some() {
                actions.push(Action::Deliver(*env));
            }
        }
        for (i, &j) in s.jitter.iter().enumerate().take(self.n()) {
            if j {
                actions.push(Action::Jitter(i as u8, 0));
                actions.push(Action::Jitter(i as u8, Jitter::MAX_PPM));
            }
        }
        if s.nodes[SERVER].is_some() {
            if s.crashes_left > 0 {
                actions.push(Action::CrashServer);
                if self.mc.crash_points {
                    self.crash_points(s, actions);
                }
            }
        } else {
            actions.push(Action::RecoverServer);
        }
        if s.step_left > 0 {
            for i in 2..self.n() {
                actions.push(Action::StepClock(i as u8));
            }
        }
    }

    /// Whether every action of `acts` leads back to `s` and none lets time advance (a
    /// time-lock, [`TimeLock::OnlySelfLoops`]). Only deliveries and jitter draws are tried:
    /// a time action advances time, a loss, crash, recovery or clock step always changes
    /// the state, and a timer that fires without changing it is caught as
    /// [`TimeLock::FireLeftDue`]. So the successors computed here are few: those of
    /// states where only messages and jitter draws are pending.
    fn only_self_loops(&self, s: &State, acts: &[Action]) -> bool {
        !acts.is_empty()
            && acts
                .iter()
                .all(|a| matches!(a, Action::Deliver(_) | Action::Jitter(..)))
            && acts
                .iter()
                .all(|a| self.reduce(self.apply(s, a, false).0).hash == s.hash)
    }

    /// Runs `input` on node `i` (if it is up) at its clock (or replays the same step's kept
    /// result, see [`memo`]), then carries everything it output into the state: the
    /// network, the server's disk, jitter requests, and the oracles (stamped with the
    /// server's clock).
    fn step(
        &self,
        s: &mut State,
        i: usize,
        lines: &mut Vec<String>,
        log: bool,
        input: (Input, u64),
    ) {
        self.step_to(s, i, lines, log, input, None);
    }

    /// The step a node would take on `input` now (kept, see [`memo`]), if it is up.
    fn transition(
        &self,
        s: &State,
        i: usize,
        (input, input_hash): (Input, u64),
    ) -> Option<Arc<memo::Transition>> {
        let part = s.nodes[i].as_ref()?;
        Some(memo::step(
            part,
            input,
            input_hash,
            s.local(i),
            self.answers_jitter(),
        ))
    }

    /// A one-point backoff window makes every draw equal: a step answers its own jitter
    /// request at once.
    fn answers_jitter(&self) -> bool {
        self.cfg.backoff_base_ns == self.cfg.backoff_max_ns
    }

    /// Takes a message out of the network for delivery.
    fn take_delivery(&self, s: &mut State, env: &Envelope) {
        // A duplicating network counts deliveries left, not copies (see `send`); at its
        // delay bound a message's delivery is its last (else a message at its bound, with
        // no loss left, would stop time for good).
        s.take(env, self.mc.duplicating && env.age >= self.mc.max_delay);
    }

    /// The crash points inside the server steps `actions` offers ([`Action::CrashAmid`]).
    fn crash_points(&self, s: &State, actions: &mut Vec<Action>) {
        for k in 0..actions.len() {
            let server_step = match &actions[k] {
                Action::Deliver(env) => usize::from(env.to) == SERVER,
                Action::Fire(i) => usize::from(*i) == SERVER,
                _ => false,
            };
            if !server_step {
                continue;
            }
            let a = actions[k].clone();
            let Some(t) = self.transition(s, SERVER, server_input(&a)) else {
                continue;
            };
            for at in leaseproof_impl::crash_points(&t.outputs) {
                actions.push(Action::CrashAmid(Box::new(a.clone()), at as u8));
            }
        }
    }

    /// [`LeaseModel::step`], keeping only the outputs before `limit` when a crash point
    /// falls inside the step (the node's next state is then the caller's to discard).
    fn step_to(
        &self,
        s: &mut State,
        i: usize,
        lines: &mut Vec<String>,
        log: bool,
        input: (Input, u64),
        limit: Option<u8>,
    ) {
        let server_now = s.local(SERVER);
        let Some(t) = self.transition(s, i, input) else {
            return;
        };
        let answer_jitter = self.answers_jitter();
        s.nodes[i] = Some(t.next.clone());
        let kept = limit.map_or(t.outputs.len(), usize::from);
        for (out, &msg_hash) in t.outputs[..kept].iter().zip(&t.msg_hashes) {
            if log {
                lines.push(match out {
                    Output::Send { to, msg } => format!("send {msg:?} to {to}"),
                    Output::Persist(op) => format!("persist {op:?}"),
                    Output::NeedJitter => "needs a jitter draw".into(),
                    Output::Event(e) => format!("event {}", e.kind()),
                });
            }
            match out {
                Output::Send { to, msg } => {
                    let (from, to) = (i as u8, to.0 as u8);
                    let on_link: u32 = s
                        .net
                        .iter()
                        .filter(|(e, _)| e.from == from && e.to == to)
                        .map(|(_, c)| u32::from(*c))
                        .sum();
                    if on_link >= u32::from(self.mc.link_capacity) {
                        if log {
                            lines.push("  (lost: the link is at capacity)".into());
                        }
                        // A loss is a fault: liveness counts start again after it.
                        s.waiting = [0; MAX_NODES];
                        continue;
                    }
                    // A write ack changes nothing at the client (its code ignores it), so
                    // the model lets every ack be lost rather than carry it.
                    if matches!(msg, Msg::WriteAck { .. }) {
                        continue;
                    }
                    let env = Envelope {
                        from,
                        to,
                        age: 0,
                        msg_hash,
                        counters: normal::message_counters(from, to, msg),
                        msg: *msg,
                    };
                    send(&mut s.net, env, self.mc.duplicating);
                }
                Output::Persist(op) => {
                    if i == SERVER {
                        s.server_disk.update(|d| d.apply(*op));
                    }
                }
                Output::NeedJitter if answer_jitter => {}
                Output::NeedJitter => s.jitter[i] = true,
                Output::Event(e) => {
                    s.seen |= coverage(e, s.seen);
                    if i == RESOURCE {
                        s.seen |= restart_coverage(e, s);
                    }
                }
            }
        }
        if limit.is_some() {
            // A crash point: the oracles see the events before it (not kept: crash points
            // are few).
            let events = t.outputs[..kept].iter().filter_map(|out| match out {
                Output::Event(e) => Some((server_now, e)),
                _ => None,
            });
            let mut found = Vec::new();
            if let Some(o) = memo::judge_events(&s.oracles, events, &mut found) {
                s.oracles = Part::new(o);
            }
            if log {
                for v in &found {
                    lines.push(format!("VIOLATION {v}"));
                }
            }
        } else if t.events {
            // The oracles, stamped with the server's clock (their verdict kept too).
            let judged = memo::judge(&s.oracles, &t, server_now);
            if let Some(o) = &judged.oracles {
                s.oracles = o.clone();
            }
            if log {
                for v in &judged.found {
                    lines.push(format!("VIOLATION {v}"));
                }
            }
        }
    }
}

/// The input a delivered message makes, with its hash for the step memo.
fn delivery_input(env: &Envelope) -> (Input, u64) {
    let from = NodeId(u32::from(env.from));
    (
        Input::Message(from, env.msg),
        env.msg_hash ^ u64::from(env.from),
    )
}

/// The input of a server step that a crash point falls inside: a delivery to the server,
/// or its timer.
fn server_input(action: &Action) -> (Input, u64) {
    match action {
        Action::Deliver(env) => delivery_input(env),
        Action::Fire(_) => (Input::Timeout, 1),
        other => unreachable!("no crash point inside {other:?}"),
    }
}

impl Model for LeaseModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let s = self.reduce(self.init_raw());
        self.note(&s);
        vec![s]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        // A time-lock ends its path: the property reports it.
        if s.timelock != TimeLock::None {
            return;
        }
        let first = actions.len();
        self.enabled(s, actions);
        if self.before_horizon(s) {
            if actions.len() == first {
                actions.push(Action::Stuck(TimeLock::NoAction));
            } else if self.only_self_loops(s, &actions[first..]) {
                actions.truncate(first);
                actions.push(Action::Stuck(TimeLock::OnlySelfLoops));
            }
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let s = self.reduce(self.apply(last, &action, false).0);
        self.note(&s);
        Some(s)
    }

    /// One `Always` property that holds while every one of [`ALWAYS`] does (or the one the
    /// model targets): stateright looks each property up by name, for every state, in a
    /// map its threads share, so one costs a sixth of six. The report splits the verdict
    /// per property from the violating state (the checker stops at the first failure). The
    /// `Sometimes` ones ([`SOMETIMES`]) are recorded by the model itself (see
    /// [`LeaseModel::reached`]).
    fn properties(&self) -> Vec<Property<Self>> {
        vec![Property::always(
            self.checked(),
            |m: &LeaseModel, s: &State| match m.target {
                Some(name) => holds(name, s),
                // Every safety oracle's bit at once, the time-lock mark, then the
                // wait-for graph.
                None => {
                    !s.oracles.any_tripped()
                        && s.timelock == TimeLock::None
                        && !s.late()
                        && holds(PROP_NO_DEADLOCK, s)
                        && (!m.belief_checked || holds(PROP_BELIEF_EXCLUSIVITY, s))
                }
            },
        )]
    }

    fn format_action(&self, a: &Action) -> String {
        let name = |i: u8| match usize::from(i) {
            SERVER => "server".to_string(),
            RESOURCE => "resource".to_string(),
            c => format!("client-{}", c - 2),
        };
        match a {
            Action::Tick => "tick".into(),
            Action::PauseTick(late) => {
                let who: Vec<String> = (0..8u8)
                    .filter(|b| late & (1 << b) != 0)
                    .map(|b| name(b + 2))
                    .collect();
                format!(
                    "tick while {} is paused (its due timer waits)",
                    who.join(", ")
                )
            }
            Action::Fire(i) => format!("{}'s timer fires", name(*i)),
            Action::Fast(i) => format!("{}'s clock runs one tick ahead", name(*i)),
            Action::Deliver(e) => format!(
                "deliver {:?} {} -> {} (after {} ticks)",
                e.msg,
                name(e.from),
                name(e.to),
                e.age
            ),
            Action::Drop(e) => format!("lose {:?} {} -> {}", e.msg, name(e.from), name(e.to)),
            Action::Jitter(i, ppm) => format!("jitter {ppm} ppm to {}", name(*i)),
            Action::CrashServer => "crash the server".into(),
            Action::CrashAmid(inner, at) => format!(
                "crash the server inside the step of [{}], after its first {at} output(s)",
                self.format_action(inner)
            ),
            Action::RecoverServer => "recover the server".into(),
            Action::StepClock(i) => format!("step {}'s clock forward 2 ticks", name(*i)),
            Action::Stuck(why) => format!("time cannot advance: {}", why.meaning()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The states of `mc` (without symmetry), breadth first, up to `limit`.
    fn reachable(mc: ModelConfig, limit: usize) -> Vec<State> {
        let m = LeaseModel::new(mc).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        let mut queue = std::collections::VecDeque::from(m.init_states());
        let mut out = Vec::new();
        let mut actions = Vec::new();
        while let Some(s) = queue.pop_front() {
            if out.len() == limit {
                break;
            }
            if !seen.insert(s.hash) {
                continue;
            }
            m.actions(&s, &mut actions);
            for a in actions.drain(..) {
                queue.extend(m.next_state(&s, a));
            }
            out.push(s);
        }
        out
    }

    #[test]
    fn every_member_of_an_orbit_has_the_same_canonical_form() {
        // Soundness of the reduction: renaming a state never changes its representative,
        // including states whose clients tie on their keys (the initial state does).
        for clients in [2, 3] {
            let mc = ModelConfig {
                clients,
                crashes: 1,
                ..ModelConfig::default()
            };
            let perms = if clients == 2 { PERMS_2 } else { PERMS_3 };
            let states = reachable(mc, 4_000);
            assert_eq!(states.len(), 4_000);
            let mut tied = 0;
            for s in &states {
                let c = canonical(s.clone());
                let keys: Vec<_> = (2..2 + clients).map(|i| client_key(s, i)).collect();
                if (1..clients).any(|i| keys[..i].contains(&keys[i])) {
                    tied += 1;
                }
                for perm in perms.iter().skip(1) {
                    let r = rename(s, renaming_number(perm), &perm[..clients]);
                    assert_eq!(r.hash, r.identity_hash(), "a renamed state is sealed");
                    assert_eq!(canonical(r), c, "{clients} clients, renaming {perm:?}");
                }
            }
            assert!(tied > 0, "some sampled states tie on their keys");
        }
    }
}
