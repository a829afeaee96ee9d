//! The generic model driver: any plug-in protocol ([`Protocol`]) explored exhaustively by
//! stateright, judged by the same oracles as the simulator (the safety
//! oracles on the protocol's tenure events, belief-exclusivity on its "may act").
//!
//! The model: one global time in ticks of `tick_ns`; each node's clock reads global time
//! plus its configured offset, at its configured rate (`rates_ppm`, bounded checks
//! only); a message in flight may be delivered at any time from its send until
//! `max_delay` ticks later, or lost (at most `losses` times), or delivered and left in
//! flight, a duplicate (at most `duplicates` times); a send to a link holding
//! `link_capacity` messages is lost;
//! a node's due timer is urgent (time does not pass while one is due); time stops at
//! `max_time`. The authority may crash (up to `crashes` times, keeping its disk or not),
//! the resource (up to `resource_crashes` times, keeping its disk or not) and clients up
//! to `client_crashes` times (the authority also inside a step, at a crash point, with
//! `crash_points`); each restarts, a new incarnation, from its disk; a client
//! may pause (`pauses`), holding its unsent writes with it (`pause_holds_sends`) or not;
//! and time may run on while clients' due timers wait, each at most `late_ticks` ticks,
//! any number of times (a late timer, the reference model's pause: a closed check still
//! closes).
//! Every jitter draw is the configured one (`jitter_ppm`, 0 by default), or each request
//! branches over the configured draws (`jitter_draws`, urgent as a due timer).
//!
//! **Closed checks** (`closed`, for a protocol that lists its instants and counters,
//! [`Protocol::NORMALISES`]): global time stays at [`ANCHOR`] and a tick shifts every
//! instant back instead (in node state, on disk, in messages in flight, in the oracles'
//! ghost state; messages keep their age, an age past `max_delay` read as `max_delay`), an instant further in the past than its bound
//! plus the longest a compared instant may lag is clamped, and every counter domain is
//! ranked, and dead data is dropped (the protocol's rules, [`Protocol::forget_dead`], and
//! the disk of a node that is up and can no longer crash, read only at a boot), so states
//! that behave alike are one state and the check closes with no time bound.
//! **Symmetry** (`symmetry`, for a protocol that renames, [`Protocol::SYMMETRIC`]): one
//! state per orbit of renamings of clients with equal offsets; a path is replayed without
//! renaming before it is printed, so each line names every client as the run does.
//! **Drift that moves** (`drift_moves` within `spread`): a clock runs one tick ahead at a
//! time, as in the reference model, within a budget, or without one at most once every
//! R ticks (`drift_every`, the reference model's rate bound); a client's clock may also
//! step forward
//! (`clock_steps` of `clock_step_ticks`), beyond the spread. **Liveness** (`liveness`, for a
//! protocol with a liveness claim): a count per client of the fault-free ticks it has
//! waited, against the protocol's bound. Left out for now (docs/protocols.md): the
//! time-lock patterns that need more than one step.

use crate::part::{Part, RENAMINGS};
use leaseproof_impl::plugin::{crash_points_by, role_of};
use leaseproof_impl::{
    Counter, Counters, Effect, Fnv, GhostTenures, Identity, Instants, Jitter, Key, Machine, Nanos,
    NodeId, OracleName, Protocol, RemapNodes, SafetyOracles, TenureEvent, UNBOUNDED,
};
use serde::Serialize;
use smallvec::{smallvec, SmallVec};
use stateright::{Checker, Model, Property};
use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::Arc;

/// The bounds of a plug-in's model check.
#[derive(Clone, Debug)]
pub struct PluginModelConfig<C> {
    pub protocol: C,
    pub clients: usize,
    /// One tick, in ns of the protocol's clocks (its tick unit).
    pub tick_ns: u64,
    /// Time stops here (ticks).
    pub max_time: u64,
    /// Each node's clock offset in ticks, by node index (missing: 0).
    pub offsets: Vec<i64>,
    /// The longest a message stays in flight (ticks).
    pub max_delay: u64,
    /// How many messages may be lost in one run ([`UNLIMITED`]: any number).
    pub losses: u8,
    /// How many times in one run a message may be delivered and stay in flight (a
    /// duplicate, deliverable again within its delay). A duplicating network keeps every
    /// record [`Protocol::forget_dead`] would drop: its rules hold only where nothing is
    /// delivered twice. [`UNLIMITED`]: any number.
    pub duplicates: u8,
    /// States with more messages in flight are not explored further.
    pub max_in_flight: usize,
    /// At most this many messages in flight on one link (from one node to another); a
    /// send beyond it is lost, as the reference model's links (a loss, within every
    /// protocol's assumptions, and outside the `losses` budget). `None`: unbounded.
    pub link_capacity: Option<u8>,
    /// The oracles judged as `Always` (belief-exclusivity among them, or not; deadlock,
    /// for a protocol whose [`Protocol::oracles`] keeps the wait-for graph, as
    /// [`crate::PROP_NO_DEADLOCK`]).
    pub judged: Vec<OracleName>,
    /// How many crashes of the authority one run may have (each followed, in any later
    /// state, by its restart from what its disk kept).
    pub crashes: u8,
    /// Whether a crash loses the authority's disk (its restart begins from a new one).
    pub crash_loses_disk: bool,
    /// Whether an authority crash may also fall inside one of its steps, at a crash point
    /// ([`crash_points_by`]: before a send or a persist batch that follows an earlier
    /// effect of the step), within the `crashes` budget.
    pub crash_points: bool,
    /// How many client crashes one run may have (each client restarts, a new incarnation,
    /// in any later state).
    pub client_crashes: u8,
    /// How many crashes of the resource one run may have (a protocol with one,
    /// [`Protocol::HAS_RESOURCE`]; each followed, in any later state, by its restart from
    /// what its disk kept), and whether such a crash loses the resource's disk.
    pub resource_crashes: u8,
    pub resource_loses_disk: bool,
    /// Explore one state per orbit of client renamings (clients with equal offsets), for
    /// a protocol that renames ([`Protocol::SYMMETRIC`]).
    pub symmetry: bool,
    /// Normalise (time relative to now, clamping, ranked counters) so the check closes
    /// with no time bound (`max_time` is then not read). Needs
    /// [`Protocol::NORMALISES`].
    pub closed: bool,
    /// Event kinds ([`Protocol::event_kind`]; the first [`MAX_REACH`]) each checked as a
    /// `Sometimes` property named by the kind: coverage, so a check that passes shows
    /// it reached a renewal, a takeover, ... (a bit per kind in the state; empty: none,
    /// and no state grows).
    pub reach: Vec<&'static str>,
    /// The draw every jitter request gets, ppm of its range (0: the shortest wait; a
    /// second check with a high draw covers the longest), where `jitter_draws` is empty.
    pub jitter_ppm: u32,
    /// The draws each jitter request may take, ppm of its range, each a branch of its own
    /// (the reference model's `Jitter(c, v)`: `[0, Jitter::MAX_PPM]` for its extremes). A
    /// request waits, urgent as a due timer, until its node takes a draw (not while it is
    /// paused). Empty: every request takes `jitter_ppm` at once.
    pub jitter_draws: Vec<u32>,
    /// How many client pauses one run may have (a GC pause, SIGSTOP), each `pause_ticks`
    /// long: the client takes no step (its timers wait, messages to it stay in flight)
    /// and keeps what it believed at its last step. [`UNLIMITED`]: any number, none
    /// counted (a closed check of them may not close: see [`UNLIMITED`]; `late_ticks`
    /// is the pause without a limit that does).
    pub pauses: u8,
    pub pause_ticks: u64,
    /// Whether a pause also holds what the client sent and is not yet delivered: the pause
    /// falls between a step and its sends leaving (a GC pause between an application's
    /// check and its write), so they leave when it resumes. Off: they fly on (SIGSTOP
    /// after the bytes left).
    pub pause_holds_sends: bool,
    /// Pauses as late timers, any number of them in a run (none is counted, so a closed
    /// check still closes): time may run on while clients' due timers wait, each client's
    /// at most this many ticks before it fires (the reference model's `PauseTick` and
    /// `--max-pause`: a late timer is what a GC pause or SIGSTOP does to a process; a late
    /// client still takes messages, as a resumed process takes what arrived meanwhile).
    /// Each client's waited ticks are in the state, reset when its timer fires. 0: off.
    pub late_ticks: u64,
    /// Liveness: every client that waits to act (from a `Wanted` tenure event, or a
    /// preempting `Stopped`, until `Acting` or `Withdrew`: the simulator's liveness oracle)
    /// acts within the protocol's bound ([`Protocol::liveness_bound_ns`], with `max_delay`
    /// as the delay and latency bound, every other client ahead, and whether the authority
    /// has crashed in the run) on every fault-free continuation: a count per client of the
    /// fault-free ticks it has waited, in the state ([`PluginState::waits`]), started again
    /// by every fault (a pause or late tick, a loss, a duplicate, a crash or restart, a
    /// clock step; drift is none); past the bound, [`crate::PROP_LIVENESS`] fails (the
    /// reference driver's `--liveness`). Needs a protocol with a liveness claim.
    pub liveness: bool,
    /// Each node's clock rate, ppm off true time, by node index (missing: 0): its reading
    /// at global tick t is (t + offset)·tick·(1 + ppm/10⁶). A bounded check only (a
    /// closed check shifts every instant back by one tick a tick, which needs one rate).
    pub rates_ppm: Vec<i32>,
    /// ε of drift that moves: how many ticks a clock (the authority's or a client's) may
    /// come to run ahead of its configured offset and rate, one tick at a time.
    pub spread: u64,
    /// How many times in one run a clock may run one tick ahead, within `spread` (the
    /// reference model's drift moves: a `Fast` action; a clock ahead stays ahead, as the
    /// spread between any two clocks stays within ε). A budget counted in the state, so a
    /// closed check still closes.
    pub drift_moves: u8,
    /// R of a bound on clock rates (the reference model's `--rate-skew 1/R`): drift moves
    /// without a count, each clock (the authority's, a client's) at most once every R
    /// global ticks (a count per node in the state, up to R) and only where time could
    /// tick, within `spread`; once every clock has run ahead, global time (the slowest
    /// clock) moves instead, so a closed check still closes. 0: off (drift moves are the
    /// `drift_moves` budget, which this replaces).
    pub drift_every: u8,
    /// How many forward clock steps of a client one run may have, each `clock_step_ticks`
    /// long: its clock jumps ahead at once and stays ahead (the reference model's
    /// `StepClock`, an NTP correction or an operator's `date -s`; beyond the spread).
    pub clock_steps: u8,
    pub clock_step_ticks: u64,
}

impl<C> PluginModelConfig<C> {
    /// A bounded check of `protocol` with ticks of `tick_ns` up to `max_time`, and nothing
    /// else: two clients with clocks that agree, messages delivered within their tick, no
    /// loss, crash or pause, no symmetry, only the safety oracles on tenures judged,
    /// nothing to reach, jitter draws 0. The caller sets what its check needs.
    #[must_use]
    pub fn new(protocol: C, tick_ns: u64, max_time: u64) -> Self {
        PluginModelConfig {
            protocol,
            clients: 2,
            tick_ns,
            max_time,
            offsets: Vec::new(),
            max_delay: 0,
            losses: 0,
            duplicates: 0,
            max_in_flight: 3,
            link_capacity: None,
            judged: Vec::new(),
            crashes: 0,
            crash_loses_disk: false,
            crash_points: false,
            client_crashes: 0,
            resource_crashes: 0,
            resource_loses_disk: false,
            symmetry: false,
            closed: false,
            reach: Vec::new(),
            jitter_ppm: 0,
            jitter_draws: Vec::new(),
            pauses: 0,
            pause_ticks: 0,
            pause_holds_sends: false,
            late_ticks: 0,
            liveness: false,
            rates_ppm: Vec::new(),
            spread: 0,
            drift_moves: 0,
            drift_every: 0,
            clock_steps: 0,
            clock_step_ticks: 0,
        }
    }
}

/// A budget of losses or duplicates with no limit: each run may have any number, and none
/// is counted in the state (so a closed check still closes: every run of any length with
/// any number of them). Pauses without a limit are late timers
/// ([`PluginModelConfig::late_ticks`]), not `pauses`: a `pauses` pause may fall at any
/// moment, lasts its full length and takes nothing in, so messages to a client that
/// pauses again and again pile up on its links (a closed check of the reference protocol
/// at delivery 0 with `pauses` at this value passed 3 M states, still growing, while write
/// acks were still carried, where late
/// timers of 2 ticks close at 5,995).
pub const UNLIMITED: u8 = u8::MAX;

/// What one more loss or duplicate adds to its count in the state: nothing where its
/// budget is [`UNLIMITED`].
fn counted(budget: u8) -> u8 {
    u8::from(budget != UNLIMITED)
}

/// A client's liveness count once it has waited past its bound (a liveness failure).
pub const WAITED_TOO_LONG: u64 = u64::MAX;

/// A client's liveness count after one of its tenure events (the simulator's liveness
/// oracle's rule, `Liveness::observe_tenure`): it waits from `Wanted` or a preempting
/// `Stopped` until `Acting` or `Withdrew`; a new incarnation waits for nothing.
fn note_wait(count: &mut u64, te: TenureEvent) {
    match te {
        TenureEvent::Wanted { .. }
        | TenureEvent::Stopped {
            preempted: Some(_), ..
        } if *count == 0 => *count = 1,
        TenureEvent::Acting { .. } | TenureEvent::Withdrew { .. } | TenureEvent::Booted { .. } => {
            *count = 0;
        }
        _ => {}
    }
}

/// A fault: every waiting client's count starts again.
fn restart_waits(waits: &mut Counts) {
    for w in &mut waits.0 {
        *w = (*w).min(1);
    }
}

/// The most event kinds one check can ask to reach ([`PluginModelConfig::reach`]).
pub const MAX_REACH: usize = 8;

/// A closed check's global time, in ticks: every state's `now`. Far enough from zero that
/// no instant a closed check keeps saturates.
pub const ANCHOR: u64 = 1 << 20;

/// A message in flight: sent at (ticks), from, to, and the ghost tenure a write travels
/// with, out of band ([`Protocol::GHOST_TENURES`]; `None` for every other message).
type Flight<M> = (u64, u32, u32, M, Option<u64>);

/// One state of the model. Nodes and disks are [`Part`]s: a successor shares every one
/// its step did not change, each with its hash kept (a state's hash reads a word a part),
/// its renamings and blind hash computed once, and what a closed check's normal form
/// reads of it (its counters, its earliest instant due for clamping).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PluginState<P: Protocol> {
    pub time: u64,
    /// By node index; `None` where the layout has no node.
    pub nodes: PerNode<Option<Part<P::Node>>>,
    pub disks: PerNode<Part<P::Disk>>,
    /// Sorted, so equal multisets are equal states.
    pub net: Vec<Flight<P::Msg>>,
    pub losses: u8,
    pub duplicates: u8,
    /// Crashes so far (the authority's, the clients'), and each node's next incarnation.
    pub crashes: u8,
    pub client_crashes: u8,
    pub resource_crashes: u8,
    pub incarnations: PerNode<u32>,
    pub oracles: SafetyOracles,
    /// A node whose timer fired and left it due at the same deadline: time cannot pass
    /// (a time-lock, a liveness failure). The path ends here.
    pub timelock: Option<u32>,
    /// Which of [`PluginModelConfig::reach`]'s event kinds some step emitted (bit `i`).
    pub seen: u8,
    /// Pauses so far, and each node's remaining pause in ticks (0: running).
    pub pauses: u8,
    pub paused: PerNode<u64>,
    /// Ticks each node's due timer has waited in its current late-timer pause
    /// ([`PluginModelConfig::late_ticks`]).
    pub late: Counts,
    /// Liveness ([`PluginModelConfig::liveness`]): per client, 0 while it waits for
    /// nothing, else 1 + the fault-free global ticks it has waited to act, or
    /// [`WAITED_TOO_LONG`] once past the protocol's bound.
    pub waits: Counts,
    /// Drift moves so far, and how many ticks each node's clock runs ahead of its
    /// configured offset (at most [`PluginModelConfig::spread`]).
    pub drifts: u8,
    pub drift: PerNode<u64>,
    /// Global ticks since each clock last ran ahead, up to R
    /// ([`PluginModelConfig::drift_every`]; all zero without it).
    pub since_fast: Counts,
    /// Each node's jitter request waiting for its draw ([`PluginModelConfig::jitter_draws`]).
    pub jitter: PerNode<bool>,
    /// Clock steps so far, and how many ticks each node's clock has stepped ahead
    /// ([`PluginModelConfig::clock_steps`]).
    pub steps: u8,
    pub stepped: PerNode<u64>,
    /// The harness's ghost tenures, for a protocol judged by them (empty otherwise).
    pub ghosts: GhostTenures,
}

impl<P: Protocol> fmt::Debug for PluginState<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginState")
            .field("time", &self.time)
            .field("nodes", &self.nodes)
            .field("net", &self.net)
            .field("losses", &self.losses)
            .field("timelock", &self.timelock)
            .finish_non_exhaustive()
    }
}

/// A count per node ([`PluginState::late`], [`PluginState::waits`]). While every count is
/// zero (always, in a check without late timers or liveness) it adds nothing to a state's
/// hash, so the choice among equal-keyed renamings, which hashes decide, is what it was
/// before these counts existed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counts(pub PerNode<u64>);

impl Hash for Counts {
    fn hash<H: Hasher>(&self, h: &mut H) {
        if self.0.iter().any(|&t| t != 0) {
            self.0.hash(h);
        }
    }
}

/// One value per node, by node index: inline for up to four clients, so cloning a state
/// allocates none of them.
pub type PerNode<T> = SmallVec<[T; 6]>;

/// What no renaming of clients changes about a client's slot
/// ([`PluginModel::client_key`]).
type ClientKey = ([u64; 6], u32, bool, Option<(Nanos, &'static str)>);

/// What one step does.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PluginAction {
    /// Global time advances one tick.
    Tick,
    /// A node's due timer fires.
    Fire(u32),
    /// The message at this index of the network is delivered.
    Deliver(usize),
    /// The message at this index is delivered and stays in flight (a duplicate).
    Duplicate(usize),
    /// The message at this index is lost.
    Lose(usize),
    /// The authority crashes: its volatile state is gone (its disk too, with
    /// `crash_loses_disk`); messages to it are lost until it restarts.
    Crash,
    /// The crashed authority restarts, a new incarnation, from what its disk kept.
    Restart,
    /// The authority crashes inside its step `.0` (a delivery to it, its timer), at the
    /// crash point `.1`: the effects before it happened (sends left, persist batches
    /// applied), the rest are lost ([`PluginModelConfig::crash_points`]).
    CrashAmid(Box<PluginAction>, u32),
    /// A client crashes (it acts on nothing; messages to it are lost until it restarts).
    CrashClient(u32),
    /// A crashed client restarts, a new incarnation, from what its disk kept.
    RestartClient(u32),
    /// The resource crashes (its disk too, with `resource_loses_disk`); writes to it are
    /// lost until it restarts.
    CrashResource,
    /// The crashed resource restarts from what its disk kept.
    RestartResource,
    /// A client pauses for `pause_ticks`.
    Pause(u32),
    /// Time advances one tick while these clients' due timers wait (a bit per node
    /// index): each is paused ([`PluginModelConfig::late_ticks`]).
    LateTick(u32),
    /// A node's clock runs one tick ahead (drift within the spread).
    Fast(u32),
    /// A node's waiting jitter request takes this draw, ppm of its range
    /// ([`PluginModelConfig::jitter_draws`]).
    Jitter(u32, u32),
    /// A client's clock steps forward ([`PluginModelConfig::clock_steps`]).
    StepClock(u32),
}

/// The earliest a value's instants come due for a closed check's clamping: the least
/// `t + bound` over its instants with a bound (an instant `t` is clamped once
/// `t + bound + lag + tick` falls below the slowest clock), [`NEVER_DUE`] if it has
/// instants none of which ever is, and `u64::MAX` if it has none a tick moves (none,
/// or only `Nanos::MAX`): a closed check's tick leaves that value as it is.
fn earliest_due<T>(
    value: &mut T,
    instants: impl FnOnce(&mut T, &mut dyn FnMut(Nanos, u64) -> Nanos),
) -> u64 {
    let mut earliest = u64::MAX;
    instants(value, &mut |t, bound| {
        if t != Nanos::MAX {
            let due = if bound == UNBOUNDED {
                NEVER_DUE
            } else {
                t.0.saturating_add(bound).min(NEVER_DUE)
            };
            earliest = earliest.min(due);
        }
        t
    });
    earliest
}

/// [`earliest_due`] of a value with instants a tick moves, none of which is ever clamped.
const NEVER_DUE: u64 = u64::MAX - 1;

/// A value's counters with their domains, as its hook lists them (`about`: how many
/// there may be, so the list is made once in the common case).
fn counters_of<T>(
    value: &mut T,
    counters: impl FnOnce(&mut T, &mut dyn FnMut(Counter, u64) -> u64),
    about: usize,
) -> Box<[(Counter, u64)]> {
    let mut list = Vec::with_capacity(about);
    counters(value, &mut |d, v| {
        list.push((d, v));
        v
    });
    list.into_boxed_slice()
}

/// A part's [`earliest_due`], kept with it (computed from a copy the first time).
fn kept_earliest<T: Clone + Hash>(
    part: &Part<T>,
    instants: impl FnOnce(&mut T, &mut dyn FnMut(Nanos, u64) -> Nanos),
) -> u64 {
    part.derived(|v| earliest_due(&mut v.clone(), instants))
}

/// A part's counters ([`counters_of`]), kept with it (listed from a copy the first time).
fn kept_counters<T: Clone + Hash>(
    part: &Part<T>,
    counters: impl FnOnce(&mut T, &mut dyn FnMut(Counter, u64) -> u64),
) -> &[(Counter, u64)] {
    part.counters(|v| counters_of(&mut v.clone(), counters, 8))
}

/// Renaming `t` of the model's renamings (`t ≥ 1`) of a part, by `f` on its value and
/// `rename` on node ids: kept with the part for the first [`RENAMINGS`], computed afresh
/// beyond (more than three clients). It keeps the part's notes, renamed (a renaming moves
/// no instant, and moves a counter only to the renamed client's domain).
fn renamed_part<T: Hash>(
    part: &Part<T>,
    t: usize,
    f: impl FnOnce(&T) -> T,
    rename: impl Fn(NodeId) -> NodeId,
) -> Part<T> {
    let out = if t - 1 < RENAMINGS {
        part.renamed(t - 1, f)
    } else {
        Part::new(f(part))
    };
    if out.notes().is_none() {
        if let Some((earliest, list)) = part.notes() {
            let list = list.iter().map(|&(d, v)| match d {
                Counter::Seq(n, i) => (Counter::Seq(rename(n), i), v),
                Counter::Token => (d, v),
            });
            out.note(earliest, list.collect());
        }
    }
    out
}

/// Every ordering of `items`, `items` itself first.
fn orderings(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() < 2 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for (i, &first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(i);
        for mut o in orderings(&rest) {
            o.insert(0, first);
            out.push(o);
        }
    }
    out
}

/// The model of protocol `P` under [`PluginModelConfig`].
pub struct PluginModel<P: Protocol> {
    pub mc: PluginModelConfig<P::Config>,
    /// Added to every clock so no local reading is negative.
    base: i64,
    /// The client renamings symmetry reduces by (the identity alone without it), and
    /// each one's inverse.
    perms: Vec<Vec<usize>>,
    inverses: Vec<Vec<usize>>,
    /// An empty disk, shared by every state that has one.
    empty_disk: Part<P::Disk>,
    /// The liveness bound in ticks, without and with a crash of the authority in the run
    /// ([`PluginModelConfig::liveness`]).
    waits_bound: [u64; 2],
    /// This model among those made in the process: the step memo's steps are this
    /// model's only (a step depends on the protocol's config and the jitter draws).
    id: u64,
}

/// The next [`PluginModel::id`].
static NEXT_MODEL: AtomicU64 = AtomicU64::new(0);

/// One input to one node, as the model feeds it (the step memo's key with the node's
/// value and clock).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum StepInput<M> {
    /// None: what a node that just booted has ready.
    Boot,
    Timeout,
    Message(NodeId, M),
    Jitter(u32),
}

/// A protocol's effect.
type EffectOf<P> = Effect<<P as Protocol>::Msg, <P as Protocol>::Persist, <P as Protocol>::Event>;

/// What one step of a node made: its next state and every effect it output, in order (a
/// `NeedJitter` the model answered at once is listed, already answered).
struct Stepped<P: Protocol> {
    next: Part<P::Node>,
    effects: Vec<EffectOf<P>>,
}

/// A kept step: the model, the node's value, the input and the clock reading it ran on.
struct MemoSlot<P: Protocol> {
    model: u64,
    node: Part<P::Node>,
    input: StepInput<P::Msg>,
    now: Nanos,
    stepped: Arc<Stepped<P>>,
}

/// Slots per thread in the step memo (as the reference driver's, `crate::memo`: a
/// depth- or breadth-first search meets the same steps again close by).
const MEMO_SLOTS: usize = 1 << 8;

thread_local! {
    /// The step memo: each checker thread's own direct-mapped table of kept steps, of any
    /// protocol (a slot holds one `MemoSlot<P>`; another protocol's is a miss).
    static STEPS: RefCell<Vec<Option<Box<dyn Any>>>> =
        RefCell::new((0..MEMO_SLOTS).map(|_| None).collect());
}

/// The property names (stateright's).
pub const PROP_ORACLES: &str = "safety oracles hold";
pub const PROP_BELIEF: &str = "belief-exclusivity";
pub const PROP_SOMEONE_ACTS: &str = "a client may act";
pub const PROP_TWO_ACT: &str = "two clients may act at once";
/// No timer fires without moving on (issue 18's first time-lock pattern).
pub const PROP_NO_TIMELOCK: &str = "time can pass";

impl<P: Protocol> PluginModel<P> {
    #[must_use]
    ///
    /// # Panics
    ///
    /// If a closed check is asked with clocks at different rates (see
    /// [`PluginModelConfig::rates_ppm`]), or liveness of a protocol that makes no liveness
    /// claim: the bounds are the caller's code, not input.
    pub fn new(mc: PluginModelConfig<P::Config>) -> Self {
        assert!(
            !(mc.closed && mc.rates_ppm.iter().any(|r| *r != 0)),
            "a closed check needs every clock at one rate (rates_ppm)"
        );
        let base = mc.offsets.iter().map(|o| o.abs()).max().unwrap_or(0);
        let mut m = PluginModel {
            mc,
            base,
            perms: Vec::new(),
            inverses: Vec::new(),
            empty_disk: Part::new(P::Disk::default()),
            waits_bound: [0; 2],
            id: NEXT_MODEL.fetch_add(1, AtomicOrdering::Relaxed),
        };
        if m.mc.liveness {
            let delay = m.mc.max_delay * m.mc.tick_ns;
            let ahead = m.mc.clients.saturating_sub(1) as u64;
            m.waits_bound = [false, true].map(|restarted| {
                P::liveness_bound_ns(&m.mc.protocol, delay, delay, ahead, restarted)
                    .expect("liveness is asked only of a protocol with a liveness claim")
                    .div_ceil(m.mc.tick_ns)
            });
        }
        m.perms = m.renamings();
        m.inverses = m
            .perms
            .iter()
            .map(|p| {
                let mut inv = vec![0; p.len()];
                for (i, &to) in p.iter().enumerate() {
                    inv[to] = i;
                }
                inv
            })
            .collect();
        m
    }

    fn n(&self) -> usize {
        2 + self.mc.clients
    }

    /// Boots node `idx` (its next incarnation) from its disk, and drains its first step.
    fn boot(&self, s: &mut PluginState<P>, idx: usize) {
        let Some(role) = role_of::<P>(idx) else {
            return;
        };
        let incarnation = s.incarnations[idx];
        s.incarnations[idx] += 1;
        let id = Identity {
            node: NodeId(idx as u32),
            incarnation,
        };
        let now = self.now(s, idx);
        let node = P::boot(&self.mc.protocol, role, id, &s.disks[idx], now);
        s.nodes[idx] = Some(self.node_part(node));
        self.step(s, idx, None, StepInput::Boot);
    }

    fn closed(&self) -> bool {
        self.mc.closed && P::NORMALISES
    }

    /// The global time of the first state.
    fn start(&self) -> u64 {
        if self.closed() {
            ANCHOR
        } else {
            0
        }
    }

    /// Changes a part through `f`, copying it first if another state shares it; in a
    /// closed check also keeps with it what the normal form reads of it (its earliest
    /// instant due for clamping, its counters), taken from the changed value in place.
    fn edit<T: Clone + Hash>(
        &self,
        part: &mut Part<T>,
        f: impl FnOnce(&mut T),
        instants: impl FnOnce(&mut T, &mut dyn FnMut(Nanos, u64) -> Nanos),
        counters: impl FnOnce(&mut T, &mut dyn FnMut(Counter, u64) -> u64),
    ) {
        let closed = self.closed();
        // A change mostly keeps the number of counters.
        let about = part.notes().map_or(8, |(_, list)| list.len());
        let notes = part.update(|v| {
            f(v);
            closed.then(|| (earliest_due(v, instants), counters_of(v, counters, about)))
        });
        if let Some((earliest, list)) = notes {
            part.note(earliest, list);
        }
    }

    /// A new part holding `node`, with its notes in a closed check (see [`Self::edit`]:
    /// a part no other state shares is changed in place).
    fn node_part(&self, node: P::Node) -> Part<P::Node> {
        let mut part = Part::new(node);
        self.edit_node(&mut part, |_| {});
        part
    }

    fn edit_node(&self, part: &mut Part<P::Node>, f: impl FnOnce(&mut P::Node)) {
        self.edit(part, f, P::node_instants, P::node_counters);
    }

    fn edit_disk(&self, part: &mut Part<P::Disk>, f: impl FnOnce(&mut P::Disk)) {
        self.edit(part, f, P::disk_instants, P::disk_counters);
    }

    /// Every instant of a state through `f`: in the messages in flight and the oracles'
    /// ghost state, and in each node and disk whose earliest instant due for clamping
    /// ([`earliest_due`]) `touches` says `f` may change (the others stay shared).
    fn each_instant(
        &self,
        s: &mut PluginState<P>,
        touches: impl Fn(u64) -> bool,
        f: &mut dyn FnMut(Nanos, u64) -> Nanos,
    ) {
        for part in s.nodes.iter_mut().flatten() {
            if touches(kept_earliest(part, P::node_instants)) {
                self.edit_node(part, |n| P::node_instants(n, f));
            }
        }
        for part in &mut s.disks {
            if touches(kept_earliest(part, P::disk_instants)) {
                self.edit_disk(part, |d| P::disk_instants(d, f));
            }
        }
        for m in &mut s.net {
            P::msg_instants(&mut m.3, f);
        }
        s.oracles.map_instants(f);
    }

    /// Every counter of a state that is in no part (messages in flight, the oracles'
    /// ghost state, the ghost tenures) through `f`.
    fn loose_counters(s: &mut PluginState<P>, f: &mut dyn FnMut(Counter, u64) -> u64) {
        for m in &mut s.net {
            P::msg_counters(&mut m.3, NodeId(m.1), NodeId(m.2), f);
            if let Some(g) = &mut m.4 {
                *g = f(Counter::Token, *g);
            }
        }
        s.oracles.map_counters(f);
        s.ghosts.map_counters(f);
    }

    /// Every counter of the state's parts (nodes, disks) with its domain, as each part
    /// keeps its list.
    fn part_counters(s: &PluginState<P>) -> impl Iterator<Item = (Counter, u64)> + '_ {
        let nodes = s.nodes.iter().flatten();
        let nodes = nodes.flat_map(|part| kept_counters(part, P::node_counters).iter().copied());
        let disks = s.disks.iter();
        let disks = disks.flat_map(|part| kept_counters(part, P::disk_counters).iter().copied());
        nodes.chain(disks)
    }

    /// Every counter of a state through `rank`: the parts' where `rank` changes one of
    /// their kept counters (the others stay shared), and the loose ones.
    fn each_counter(&self, s: &mut PluginState<P>, rank: &dyn Fn(Counter, u64) -> u64) {
        let moves = |list: &[(Counter, u64)]| list.iter().any(|&(d, v)| rank(d, v) != v);
        for part in s.nodes.iter_mut().flatten() {
            if moves(kept_counters(part, P::node_counters)) {
                self.edit_node(part, |n| P::node_counters(n, &mut |d, v| rank(d, v)));
            }
        }
        for part in &mut s.disks {
            if moves(kept_counters(part, P::disk_counters)) {
                self.edit_disk(part, |d| P::disk_counters(d, &mut |d, v| rank(d, v)));
            }
        }
        Self::loose_counters(s, &mut |d, v| rank(d, v));
    }

    /// A closed check's tick: global time stays, every instant moves one tick back, and
    /// every message in flight one tick older.
    fn shift_back(&self, s: &mut PluginState<P>) {
        let tick = self.mc.tick_ns;
        self.each_instant(s, |earliest| earliest != u64::MAX, &mut |t, _| {
            if t == Nanos::MAX {
                t
            } else {
                Nanos(t.0.saturating_sub(tick))
            }
        });
        for m in &mut s.net {
            m.0 = m.0.saturating_sub(1);
        }
    }

    /// The normal form: in a closed check stale instants clamped and counters ranked;
    /// with symmetry the orbit's representative.
    fn normalise(&self, s: &mut PluginState<P>) {
        self.clamp_and_rank(s);
        self.canonicalise(s);
    }

    /// The client renamings that keep every clock: permutations of clients with equal
    /// offsets (as `node index -> node index` maps, the identity first).
    fn renamings(&self) -> Vec<Vec<usize>> {
        let n = self.n();
        let mut perms: Vec<Vec<usize>> = vec![(0..n).collect()];
        if !(self.mc.symmetry && P::SYMMETRIC) {
            return perms;
        }
        let clock = |i: usize| {
            (
                self.mc.offsets.get(i).copied().unwrap_or(0),
                self.mc.rates_ppm.get(i).copied().unwrap_or(0),
            )
        };
        // Every ordering of the clients, kept when clocks (offset and rate) match.
        let clients: Vec<usize> = (2..n).collect();
        for image in orderings(&clients).into_iter().skip(1) {
            let mut p: Vec<usize> = (0..n).collect();
            for (k, &to) in image.iter().enumerate() {
                p[clients[k]] = to;
            }
            if (0..n).all(|i| clock(i) == clock(p[i])) {
                perms.push(p);
            }
        }
        perms
    }

    /// The state under renaming `t` of [`Self::perms`] (node `i` becomes node `p[i]`).
    /// Each part keeps its renamings by number (`t − 1`, the first [`RENAMINGS`]).
    fn renamed(&self, s: &PluginState<P>, t: usize) -> PluginState<P> {
        let p = &self.perms[t];
        let f = |id: NodeId| p.get(id.0 as usize).map_or(id, |&to| NodeId(to as u32));
        let mut out = s.clone();
        for (i, &to) in p.iter().enumerate() {
            out.nodes[to] = s.nodes[i]
                .as_ref()
                .map(|n| renamed_part(n, t, |v| P::remap_node(v, &f), f));
            out.disks[to] = renamed_part(&s.disks[i], t, |v| P::remap_disk(v, &f), f);
            out.incarnations[to] = s.incarnations[i];
            out.paused[to] = s.paused[i];
            out.late.0[to] = s.late.0[i];
            out.waits.0[to] = s.waits.0[i];
            out.since_fast.0[to] = s.since_fast.0[i];
            out.drift[to] = s.drift[i];
            out.jitter[to] = s.jitter[i];
            out.stepped[to] = s.stepped[i];
        }
        out.net = s
            .net
            .iter()
            .map(|(at, from, to, m, ghost)| {
                (
                    *at,
                    f(NodeId(*from)).0,
                    f(NodeId(*to)).0,
                    P::remap_msg(m, &f),
                    *ghost,
                )
            })
            .collect();
        out.net.sort();
        out.oracles = s.oracles.remap_nodes(&f);
        out.ghosts = s.ghosts.remap_nodes(&f);
        out
    }

    /// With symmetry, the orbit's representative: among the renamings that put the
    /// clients' keys in slot order (a key is what no renaming changes about a client:
    /// [`Self::client_key`]), the one whose state hashes least (FNV, fixed); a tie keeps
    /// the first, which costs reduction, never soundness. The set of renamings that sort
    /// the keys is the same from every member of an orbit, so the representative is the
    /// orbit's. The keys cost little to permute, so only those renamings are built, and a
    /// step from a representative mostly keeps the keys in order: the state itself,
    /// untouched. The reference protocol's own driver canonicalises alike
    /// (`symmetry::canonical`).
    fn canonicalise(&self, s: &mut PluginState<P>) {
        if self.perms.len() < 2 {
            return;
        }
        let n = self.n();
        let cheap: Vec<_> = (0..n).map(|i| Self::client_key(s, i)).collect();
        // Clients that tie on their cheap key are told apart by their blind hashes (the
        // node and its disk with every client given one name), computed only then.
        let tie = (2..n).any(|i| (i + 1..n).any(|j| cheap[i] == cheap[j]));
        let blind: Vec<Option<u64>> = (0..n)
            .map(|i| (tie && i >= 2).then(|| Self::blind_hash(s, i)))
            .collect();
        let keys: Vec<_> = cheap.into_iter().zip(blind).collect();
        // The keys slot by slot after renaming `t` (slot `j` gets node `inverses[t][j]`).
        let permuted = |t: usize| self.inverses[t].iter().map(|&i| &keys[i]);
        let least = (1..self.perms.len()).fold(0, |least, t| {
            if permuted(t).lt(permuted(least)) {
                t
            } else {
                least
            }
        });
        let mut sorting = (0..self.perms.len()).filter(|&t| permuted(t).eq(permuted(least)));
        let key = |st: &PluginState<P>| {
            let mut h = Fnv::default();
            st.hash(&mut h);
            h.0
        };
        let first = sorting.next().expect("one renaming sorts the keys");
        let mut best = (first != 0).then(|| self.renamed(s, first));
        let mut rest = sorting.peekable();
        if rest.peek().is_some() {
            let mut best_key = key(best.as_ref().unwrap_or(s));
            for t in rest {
                let r = self.renamed(s, t);
                let k = key(&r);
                if k < best_key {
                    best_key = k;
                    best = Some(r);
                }
            }
        }
        if let Some(r) = best {
            *s = r;
        }
    }

    /// What no renaming of clients changes about node `i`'s slot (no node id in it): its
    /// pause, late timer, liveness count, ticks since it ran ahead, drift and clock steps
    /// (in that order), incarnation and waiting jitter request, and its next deadline.
    fn client_key(s: &PluginState<P>, i: usize) -> ClientKey {
        (
            [
                s.paused[i],
                s.late.0[i],
                s.waits.0[i],
                s.since_fast.0[i],
                s.drift[i],
                s.stepped[i],
            ],
            s.incarnations[i],
            s.jitter[i],
            s.nodes[i].as_ref().and_then(|n| n.poll_timeout()),
        )
    }

    /// The hash of node `i` and its disk with every client given one name: what no
    /// renaming of clients can change.
    fn blind_hash(s: &PluginState<P>, i: usize) -> u64 {
        let one = |id: NodeId| if id.0 >= 2 { NodeId(2) } else { id };
        let mut h = Fnv::default();
        s.nodes[i]
            .as_ref()
            .map(|node| node.blind_hash(|v| P::remap_node(v, &one)))
            .hash(&mut h);
        s.disks[i]
            .blind_hash(|v| P::remap_disk(v, &one))
            .hash(&mut h);
        h.0
    }

    /// Whether node `idx` may still crash in a run from `s` (its budget is not spent), so
    /// that it may boot again from its disk.
    fn may_crash(&self, s: &PluginState<P>, idx: usize) -> bool {
        match idx {
            0 => s.crashes < self.mc.crashes,
            1 => s.resource_crashes < self.mc.resource_crashes,
            _ => s.client_crashes < self.mc.client_crashes,
        }
    }

    /// A closed check's dead data: what each node keeps that no later step can read, by
    /// the protocol's rules ([`Protocol::forget_dead`], which hold only where nothing is
    /// delivered twice: not with `duplicates`), and the disk of a node that is up and can
    /// no longer crash (a disk is read only when its node boots).
    fn forget_dead(&self, s: &mut PluginState<P>) {
        let now: Vec<Nanos> = (0..self.n()).map(|i| self.now(s, i)).collect();
        if self.mc.duplicates == 0 {
            let PluginState { nodes, net, .. } = s;
            let in_flight: Vec<(NodeId, &P::Msg)> =
                net.iter().map(|m| (NodeId(m.1), &m.3)).collect();
            for (idx, slot) in nodes.iter_mut().enumerate() {
                if let Some(live) = slot
                    .as_ref()
                    .and_then(|n| P::forget_dead(n, now[idx], &in_flight))
                {
                    *slot = Some(self.node_part(live));
                }
            }
        }
        for idx in 0..self.n() {
            if s.nodes[idx].is_some() && !self.may_crash(s, idx) && s.disks[idx] != self.empty_disk
            {
                s.disks[idx] = self.empty_disk.clone();
            }
        }
    }

    /// A closed check's normal form: dead data dropped, stale instants clamped, counters
    /// ranked.
    fn clamp_and_rank(&self, s: &mut PluginState<P>) {
        if !self.closed() {
            return;
        }
        self.forget_dead(s);
        let tick = self.mc.tick_ns;
        let offsets = (0..self.n()).map(|i| self.mc.offsets.get(i).copied().unwrap_or(0));
        let (lo, hi) = offsets.fold((0i64, 0i64), |(lo, hi), o| (lo.min(o), hi.max(o)));
        // The slowest clock's reading, and the longest a compared instant may lag it: a
        // message's age, and the spread of the offsets and of drift moves.
        let min_now = (s.time as i64 + self.base + lo) as u64 * tick;
        let lag = (self.mc.max_delay + (hi - lo) as u64 + self.mc.spread) * tick;
        // A part needs clamping only if its earliest instant due for it is: `t` is
        // clamped where `t + bound + lag + tick < min_now`.
        let due = |earliest: u64| earliest.saturating_add(lag + tick) < min_now;
        self.each_instant(s, due, &mut |t, bound| {
            if bound == UNBOUNDED || t == Nanos::MAX {
                return t;
            }
            let floor = min_now.saturating_sub(bound.saturating_add(lag).saturating_add(tick));
            Nanos(t.0.max(floor))
        });
        // A message's send time is read only as its age against `max_delay` (is it due?):
        // one sent longer ago than that, waiting for a paused receiver, behaves as one sent
        // just then. Without this a client that pauses again and again keeps a message in
        // flight whose age grows without bound.
        let oldest = s.time.saturating_sub(self.mc.max_delay);
        for m in &mut s.net {
            m.0 = m.0.max(oldest);
        }
        let mut domains: BTreeMap<Counter, BTreeSet<u64>> = BTreeMap::new();
        let mut add = |d: Counter, v: u64| {
            if v != 0 {
                domains.entry(d).or_default().insert(v);
            }
        };
        for (d, v) in Self::part_counters(s) {
            add(d, v);
        }
        Self::loose_counters(s, &mut |d, v| {
            add(d, v);
            v
        });
        // Every domain already its ranks 1..=n (a successor of a ranked state mostly is:
        // a new counter is the largest): nothing to rewrite.
        if domains
            .values()
            .all(|vs| vs.last().is_none_or(|&top| top == vs.len() as u64))
        {
            s.net.sort();
            return;
        }
        let ranks: BTreeMap<Counter, BTreeMap<u64, u64>> = domains
            .into_iter()
            .map(|(d, vs)| (d, vs.into_iter().zip(1..).collect()))
            .collect();
        self.each_counter(s, &|d, v| {
            ranks.get(&d).and_then(|r| r.get(&v)).copied().unwrap_or(v)
        });
        s.net.sort();
    }

    /// Node `idx`'s clock reading in state `s`: at the state's global time, plus the ticks
    /// its drift moves and clock steps put it ahead.
    fn now(&self, s: &PluginState<P>, idx: usize) -> Nanos {
        self.local(idx, s.time + s.drift[idx] + s.stepped[idx])
    }

    /// Node `idx`'s clock reading at global time `time`.
    fn local(&self, idx: usize, time: u64) -> Nanos {
        let off = self.mc.offsets.get(idx).copied().unwrap_or(0);
        let ns = (time as i64 + self.base + off) as u64 * self.mc.tick_ns;
        match self.mc.rates_ppm.get(idx).copied().unwrap_or(0) {
            0 => Nanos(ns),
            ppm => {
                let rate = u128::try_from(1_000_000 + i64::from(ppm)).unwrap_or(0);
                Nanos(u64::try_from(u128::from(ns) * rate / 1_000_000).unwrap_or(u64::MAX))
            }
        }
    }

    fn due(&self, s: &PluginState<P>, idx: usize) -> bool {
        s.paused[idx] == 0
            && s.nodes[idx]
                .as_ref()
                .is_some_and(|n| n.poll_timeout().is_some_and(|(d, _)| d <= self.now(s, idx)))
    }

    /// Feeds one input to node `idx` and drains its effects into the state; `delivered`
    /// is the ghost tenure of the write the input is, if it is one.
    fn step(
        &self,
        s: &mut PluginState<P>,
        idx: usize,
        delivered: Option<u64>,
        input: StepInput<P::Msg>,
    ) {
        self.step_cut(s, idx, delivered, input, usize::MAX, &mut Vec::new());
    }

    /// The step node `part` takes on `input` at `now`: kept in the step memo, or run (on
    /// a copy of the node) and kept. The core is deterministic (a node's state, its input
    /// and its clock decide its next state and outputs: docs/design.md, "The sans-IO
    /// contract"), so a step met again, in another global state, replays: a lookup
    /// instead of a copy of the node, its handler and a rehash, and equal results share
    /// one part.
    fn stepped(
        &self,
        part: &Part<P::Node>,
        input: StepInput<P::Msg>,
        now: Nanos,
    ) -> Arc<Stepped<P>> {
        let mut h = Fnv::default();
        (part.kept_hash(), &input, now.0, self.id).hash(&mut h);
        let at = (h.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - MEMO_SLOTS.trailing_zeros()))
            as usize;
        let kept = STEPS.with_borrow(|table| {
            let slot = table[at].as_ref()?.downcast_ref::<MemoSlot<P>>()?;
            (slot.model == self.id && slot.now == now && slot.input == input && slot.node == *part)
                .then(|| Arc::clone(&slot.stepped))
        });
        if let Some(stepped) = kept {
            return stepped;
        }
        let mut node = P::Node::clone(part);
        match input.clone() {
            StepInput::Boot => {}
            StepInput::Timeout => node.handle_timeout(now),
            StepInput::Message(from, msg) => node.handle_message(now, from, msg),
            StepInput::Jitter(ppm) => node.handle_jitter(now, Jitter { ppm }),
        }
        let mut effects = Vec::new();
        while let Some(out) = node.poll_output() {
            let effect = P::effect(out);
            if matches!(effect, Effect::NeedJitter) && self.mc.jitter_draws.is_empty() {
                node.handle_jitter(
                    now,
                    Jitter {
                        ppm: self.mc.jitter_ppm,
                    },
                );
            }
            effects.push(effect);
        }
        let next = if node == **part {
            part.clone()
        } else {
            self.node_part(node)
        };
        let stepped = Arc::new(Stepped { next, effects });
        STEPS.with_borrow_mut(|table| {
            table[at] = Some(Box::new(MemoSlot::<P> {
                model: self.id,
                node: part.clone(),
                input,
                now,
                stepped: Arc::clone(&stepped),
            }));
        });
        stepped
    }

    /// [`Self::step`], keeping only the effects before the `cut`th (a crash point: the
    /// caller then takes the node down), and noting each effect's kind in `kinds` as
    /// [`crash_points_by`] reads it.
    fn step_cut(
        &self,
        s: &mut PluginState<P>,
        idx: usize,
        delivered: Option<u64>,
        input: StepInput<P::Msg>,
        cut: usize,
        kinds: &mut Vec<Option<bool>>,
    ) {
        let now = self.now(s, idx);
        let server_now = self.now(s, 0);
        let Some(part) = s.nodes[idx].as_ref() else {
            return;
        };
        let stepped = self.stepped(part, input, now);
        s.nodes[idx] = Some(stepped.next.clone());
        let PluginState {
            time,
            disks,
            net,
            oracles,
            seen,
            ghosts,
            jitter,
            waits,
            ..
        } = s;
        for effect in stepped.effects.iter().take(cut) {
            kinds.push(effect.crash_kind());
            match effect {
                Effect::Send { to, msg } => {
                    let on_link = |m: &&Flight<P::Msg>| m.1 == idx as u32 && m.2 == to.0;
                    let full = self
                        .mc
                        .link_capacity
                        .is_some_and(|c| net.iter().filter(on_link).count() >= usize::from(c));
                    if full {
                        if self.mc.liveness {
                            // A loss: every count starts again.
                            restart_waits(waits);
                        }
                    } else if P::carried(&self.mc.protocol, msg) {
                        let ghost = ghosts.sent::<P>(msg, NodeId(idx as u32));
                        net.push((*time, idx as u32, to.0, msg.clone(), ghost));
                    }
                }
                Effect::Persist(p) => {
                    self.edit_disk(&mut disks[idx], |d| P::persist(d, p.clone()));
                }
                Effect::Event(ev) => {
                    let kind = P::event_kind(ev);
                    let mut reach = self.mc.reach.iter().take(MAX_REACH);
                    if let Some(i) = reach.position(|k| *k == kind) {
                        *seen |= 1 << i;
                    }
                    if let Some(te) = ghosts.tenure_of::<P>(ev, delivered) {
                        if self.mc.liveness && idx >= 2 {
                            note_wait(&mut waits.0[idx], te);
                        }
                        let mut found = Vec::new();
                        oracles.observe_tenure(server_now, te, &mut found);
                    }
                }
                // Answered at once in the step, without jitter draws to choose from.
                Effect::NeedJitter if self.mc.jitter_draws.is_empty() => {}
                Effect::NeedJitter => jitter[idx] = true,
            }
        }
        net.sort();
    }

    /// Runs the authority's step that action `a` is (a delivery to it, its timer), keeping
    /// the effects before `cut`; `false` if `a` is no step of the authority's.
    fn authority_step(
        &self,
        s: &mut PluginState<P>,
        a: &PluginAction,
        cut: usize,
        kinds: &mut Vec<Option<bool>>,
    ) -> bool {
        match *a {
            PluginAction::Fire(0) => {
                self.step_cut(s, 0, None, StepInput::Timeout, cut, kinds);
            }
            PluginAction::Deliver(k) if s.net[k].2 == 0 => {
                let (_, from, _, msg, ghost) = s.net.remove(k);
                let input = StepInput::Message(NodeId(from), msg);
                self.step_cut(s, 0, ghost, input, cut, kinds);
            }
            _ => return false,
        }
        true
    }

    /// The crash points inside the authority's steps among `actions`
    /// ([`PluginAction::CrashAmid`], [`PluginModelConfig::crash_points`]).
    fn crash_points(&self, s: &PluginState<P>, actions: &mut Vec<PluginAction>) {
        for k in 0..actions.len() {
            let a = actions[k].clone();
            let mut kinds = Vec::new();
            if self.authority_step(&mut s.clone(), &a, usize::MAX, &mut kinds) {
                for at in crash_points_by(kinds.into_iter()) {
                    actions.push(PluginAction::CrashAmid(Box::new(a.clone()), at as u32));
                }
            }
        }
    }

    /// Node `idx` crashes: its volatile state is gone, and its disk too with `loses_disk`.
    fn take_down(&self, s: &mut PluginState<P>, idx: usize, loses_disk: bool) {
        s.nodes[idx] = None;
        s.jitter[idx] = false;
        s.late.0[idx] = 0;
        s.waits.0[idx] = 0;
        if loses_disk {
            s.disks[idx] = self.empty_disk.clone();
        }
    }

    /// Which clients may act on each key.
    /// Global time moves one tick: in a closed check every instant moves back instead.
    fn advance(&self, s: &mut PluginState<P>) {
        if self.closed() {
            self.shift_back(s);
        } else {
            s.time += 1;
        }
        let r = u64::from(self.mc.drift_every);
        if r > 0 {
            for idx in self.clocked() {
                s.since_fast.0[idx] = (s.since_fast.0[idx] + 1).min(r);
            }
        }
    }

    /// The nodes with a clock that drifts: the authority and the clients.
    fn clocked(&self) -> impl Iterator<Item = usize> {
        std::iter::once(0).chain(2..self.n())
    }

    /// With a rate bound, once every clock has run ahead the slowest has moved: global
    /// time (the slowest clock) moves by as much and each drift comes down by it, so
    /// every clock reads as before (the reference model's `State::normalise`). Returns
    /// the ticks time moved.
    fn slowest_moved(&self, s: &mut PluginState<P>) -> u64 {
        let lo = self.clocked().map(|i| s.drift[i]).min().unwrap_or(0);
        for idx in self.clocked() {
            s.drift[idx] -= lo;
        }
        for _ in 0..lo {
            self.advance(s);
        }
        lo
    }

    /// Liveness counts after `action` (its tenure events already noted), which moved time
    /// by `advanced` ticks: a fault starts every count again, time adds to each waiting
    /// client's, and a count past the bound is [`WAITED_TOO_LONG`].
    fn count_waits(&self, s: &mut PluginState<P>, action: &PluginAction, advanced: u64) {
        match action {
            PluginAction::Tick | PluginAction::Fast(_) => {
                let bound = self.waits_bound[usize::from(s.crashes > 0)];
                for w in &mut s.waits.0 {
                    if *w != 0 && *w != WAITED_TOO_LONG {
                        *w = if *w + advanced > bound + 1 {
                            WAITED_TOO_LONG
                        } else {
                            *w + advanced
                        };
                    }
                }
            }
            PluginAction::Fire(_) | PluginAction::Deliver(_) | PluginAction::Jitter(..) => {}
            PluginAction::LateTick(_)
            | PluginAction::Pause(_)
            | PluginAction::Lose(_)
            | PluginAction::Duplicate(_)
            | PluginAction::Crash
            | PluginAction::CrashAmid(..)
            | PluginAction::Restart
            | PluginAction::CrashClient(_)
            | PluginAction::RestartClient(_)
            | PluginAction::CrashResource
            | PluginAction::RestartResource
            | PluginAction::StepClock(_) => restart_waits(&mut s.waits),
        }
    }

    fn acting(s: &PluginState<P>) -> BTreeMap<Key, usize> {
        let mut m = BTreeMap::new();
        for k in s.nodes.iter().flatten().filter_map(|n| P::may_act(n)) {
            *m.entry(k).or_insert(0) += 1;
        }
        m
    }
}

impl<P: Protocol> Model for PluginModel<P> {
    type State = PluginState<P>;
    type Action = PluginAction;

    fn init_states(&self) -> Vec<PluginState<P>> {
        let n = self.n();
        let mut s = PluginState {
            time: self.start(),
            nodes: smallvec![None; n],
            disks: smallvec![self.empty_disk.clone(); n],
            net: Vec::new(),
            losses: 0,
            duplicates: 0,
            crashes: 0,
            client_crashes: 0,
            resource_crashes: 0,
            incarnations: smallvec![0; n],
            oracles: P::oracles(&self.mc.protocol).judging(&self.mc.judged),
            timelock: None,
            seen: 0,
            pauses: 0,
            paused: smallvec![0; n],
            late: Counts(smallvec![0; n]),
            waits: Counts(smallvec![0; n]),
            since_fast: Counts(
                (0..n)
                    .map(|i| {
                        if i == 1 {
                            0
                        } else {
                            u64::from(self.mc.drift_every)
                        }
                    })
                    .collect(),
            ),
            drifts: 0,
            drift: smallvec![0; n],
            jitter: smallvec![false; n],
            steps: 0,
            stepped: smallvec![0; n],
            ghosts: GhostTenures::default(),
        };
        for idx in 0..n {
            self.boot(&mut s, idx);
        }
        self.normalise(&mut s);
        vec![s]
    }

    fn actions(&self, s: &PluginState<P>, actions: &mut Vec<PluginAction>) {
        if s.timelock.is_some() {
            return;
        }
        // The due clients whose timers may be late one tick more (a bit each), and
        // whether anything else is due: then time cannot pass.
        let (mut late, mut urgent) = (0u32, false);
        for idx in 0..self.n() {
            if self.due(s, idx) {
                actions.push(PluginAction::Fire(idx as u32));
                if idx >= 2 && s.late.0[idx] < self.mc.late_ticks {
                    late |= 1 << idx;
                } else {
                    urgent = true;
                }
            }
            // A waiting jitter request is urgent (a paused node's waits with it).
            if s.jitter[idx] && s.paused[idx] == 0 {
                urgent = true;
                for &ppm in &self.mc.jitter_draws {
                    actions.push(PluginAction::Jitter(idx as u32, ppm));
                }
            }
        }
        let mut overdue = false;
        for (k, m) in s.net.iter().enumerate() {
            // A paused node receives nothing (nor, holding its sends, sends anything); what
            // waits for it holds no time back.
            let held = self.mc.pause_holds_sends && s.paused[m.1 as usize] > 0;
            if (k > 0 && s.net[k - 1] == *m) || s.paused[m.2 as usize] > 0 || held {
                continue;
            }
            overdue |= s.time >= m.0 + self.mc.max_delay;
            actions.push(PluginAction::Deliver(k));
            if s.duplicates < self.mc.duplicates {
                actions.push(PluginAction::Duplicate(k));
            }
            if s.losses < self.mc.losses {
                actions.push(PluginAction::Lose(k));
            }
        }
        if self.mc.crash_points && s.crashes < self.mc.crashes && s.nodes[0].is_some() {
            self.crash_points(s, actions);
        }
        match s.nodes.first() {
            Some(Some(_)) if s.crashes < self.mc.crashes => actions.push(PluginAction::Crash),
            Some(None) => actions.push(PluginAction::Restart),
            _ => {}
        }
        if P::HAS_RESOURCE {
            match s.nodes[1] {
                Some(_) if s.resource_crashes < self.mc.resource_crashes => {
                    actions.push(PluginAction::CrashResource);
                }
                None => actions.push(PluginAction::RestartResource),
                Some(_) => {}
            }
        }
        for idx in 2..self.n() {
            match s.nodes[idx] {
                Some(_) if s.client_crashes < self.mc.client_crashes => {
                    actions.push(PluginAction::CrashClient(idx as u32));
                }
                None => actions.push(PluginAction::RestartClient(idx as u32)),
                Some(_) => {}
            }
            if s.nodes[idx].is_some() && s.paused[idx] == 0 && s.pauses < self.mc.pauses {
                actions.push(PluginAction::Pause(idx as u32));
            }
        }
        // Time may pass: before the horizon, no message past its delay bound; and a tick
        // with no due timer or jitter request (a quiet moment) needs no pause.
        let may_pass = (self.closed() || s.time < self.mc.max_time) && !overdue;
        let quiet = may_pass && late == 0 && !urgent;
        if s.drifts < self.mc.drift_moves {
            for idx in self.clocked() {
                if s.nodes[idx].is_some() && s.drift[idx] < self.mc.spread {
                    actions.push(PluginAction::Fast(idx as u32));
                }
            }
        }
        // With a rate bound, a clock runs ahead where time could tick, once every R ticks.
        if self.mc.drift_every > 0 && quiet {
            // A node that is down keeps its clock, as in the reference model.
            for idx in self.clocked() {
                if s.drift[idx] < self.mc.spread
                    && s.since_fast.0[idx] >= u64::from(self.mc.drift_every)
                {
                    actions.push(PluginAction::Fast(idx as u32));
                }
            }
        }
        if s.steps < self.mc.clock_steps {
            for idx in 2..self.n() {
                if s.nodes[idx].is_some() {
                    actions.push(PluginAction::StepClock(idx as u32));
                }
            }
        }
        if quiet {
            actions.push(PluginAction::Tick);
        } else if may_pass && !urgent {
            actions.push(PluginAction::LateTick(late));
        }
    }

    fn next_state(&self, last: &PluginState<P>, action: PluginAction) -> Option<PluginState<P>> {
        let mut s = last.clone();
        // Global ticks the action moves time by.
        let mut advanced = 0;
        match action {
            PluginAction::Tick | PluginAction::LateTick(_) => {
                advanced = 1;
                self.advance(&mut s);
                for p in &mut s.paused {
                    *p = p.saturating_sub(1);
                }
                if let PluginAction::LateTick(late) = action {
                    for (idx, waited) in s.late.0.iter_mut().enumerate() {
                        *waited += u64::from(late & (1 << idx) != 0);
                    }
                }
            }
            PluginAction::Pause(i) => {
                s.paused[i as usize] = self.mc.pause_ticks;
                s.pauses += counted(self.mc.pauses);
            }
            PluginAction::Fast(i) => {
                s.drift[i as usize] += 1;
                if self.mc.drift_every > 0 {
                    s.since_fast.0[i as usize] = 0;
                    advanced = self.slowest_moved(&mut s);
                } else {
                    s.drifts += 1;
                }
            }
            PluginAction::StepClock(i) => {
                s.stepped[i as usize] += self.mc.clock_step_ticks;
                s.steps += 1;
            }
            PluginAction::Jitter(i, ppm) => {
                s.jitter[i as usize] = false;
                self.step(&mut s, i as usize, None, StepInput::Jitter(ppm));
            }
            PluginAction::Fire(i) => {
                let idx = i as usize;
                let deadline =
                    |s: &PluginState<P>| s.nodes[idx].as_ref().and_then(|n| n.poll_timeout());
                let before = deadline(&s);
                s.late.0[idx] = 0;
                self.step(&mut s, idx, None, StepInput::Timeout);
                // Still due, at the same deadline: it fires again and again at this
                // instant, and urgent timers keep time from passing.
                if self.due(&s, idx) && deadline(&s).map(|d| d.0) == before.map(|d| d.0) {
                    s.timelock = Some(i);
                }
            }
            PluginAction::Deliver(k) | PluginAction::Duplicate(k) => {
                // A duplicate is delivered and stays in flight.
                let (_, from, to, msg, ghost) = if matches!(action, PluginAction::Duplicate(_)) {
                    s.duplicates += counted(self.mc.duplicates);
                    s.net[k].clone()
                } else {
                    s.net.remove(k)
                };
                self.step(
                    &mut s,
                    to as usize,
                    ghost,
                    StepInput::Message(NodeId(from), msg),
                );
            }
            PluginAction::Lose(k) => {
                s.net.remove(k);
                s.losses += counted(self.mc.losses);
            }
            PluginAction::Crash => {
                self.take_down(&mut s, 0, self.mc.crash_loses_disk);
                s.crashes += 1;
            }
            PluginAction::CrashAmid(ref a, at) => {
                self.authority_step(&mut s, a, at as usize, &mut Vec::new());
                self.take_down(&mut s, 0, self.mc.crash_loses_disk);
                s.crashes += 1;
            }
            PluginAction::Restart => self.boot(&mut s, 0),
            PluginAction::CrashClient(i) => {
                self.take_down(&mut s, i as usize, false);
                s.paused[i as usize] = 0;
                s.client_crashes += 1;
            }
            PluginAction::RestartClient(i) => self.boot(&mut s, i as usize),
            PluginAction::CrashResource => {
                self.take_down(&mut s, 1, self.mc.resource_loses_disk);
                s.resource_crashes += 1;
            }
            PluginAction::RestartResource => self.boot(&mut s, 1),
        }
        if self.mc.liveness {
            self.count_waits(&mut s, &action, advanced);
        }
        self.normalise(&mut s);
        Some(s)
    }

    fn within_boundary(&self, s: &PluginState<P>) -> bool {
        s.net.len() <= self.mc.max_in_flight
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let mut v = vec![
            Property::always(PROP_ORACLES, |_: &Self, s: &PluginState<P>| {
                !s.oracles.any_tripped()
            }),
            Property::sometimes(PROP_SOMEONE_ACTS, |_: &Self, s: &PluginState<P>| {
                !Self::acting(s).is_empty()
            }),
            Property::always(PROP_NO_TIMELOCK, |_: &Self, s: &PluginState<P>| {
                s.timelock.is_none()
            }),
        ];
        if self.mc.liveness {
            v.push(Property::always(
                crate::PROP_LIVENESS,
                |_: &Self, s: &PluginState<P>| !s.waits.0.contains(&WAITED_TOO_LONG),
            ));
        }
        if self.mc.judged.contains(&OracleName::Deadlock) {
            // The deadlock oracle with a bound of 0, as in the reference driver: in a
            // model any wait-for cycle counts (the protocol's `oracles` keeps the graph).
            v.push(Property::always(
                crate::PROP_NO_DEADLOCK,
                |m: &Self, s: &PluginState<P>| s.oracles.deadlock(m.now(s, 0), 0).is_none(),
            ));
        }
        let reached = reach_conditions::<P>();
        for (i, kind) in self.mc.reach.iter().enumerate().take(MAX_REACH) {
            v.push(Property::sometimes(kind, reached[i]));
        }
        v.push(if self.mc.judged.contains(&OracleName::BeliefExclusivity) {
            Property::always(PROP_BELIEF, |_: &Self, s: &PluginState<P>| {
                Self::acting(s).values().all(|&c| c < 2)
            })
        } else {
            Property::sometimes(PROP_TWO_ACT, |_: &Self, s: &PluginState<P>| {
                Self::acting(s).values().any(|&c| c >= 2)
            })
        });
        v
    }
}

/// Whether a state's run emitted the `I`th kind to reach.
fn reached<P: Protocol, const I: usize>(_: &PluginModel<P>, s: &PluginState<P>) -> bool {
    s.seen & (1 << I) != 0
}

type Condition<P> = fn(&PluginModel<P>, &PluginState<P>) -> bool;

/// One condition per bit (a property's condition is a plain function).
fn reach_conditions<P: Protocol>() -> [Condition<P>; MAX_REACH] {
    [
        reached::<P, 0>,
        reached::<P, 1>,
        reached::<P, 2>,
        reached::<P, 3>,
        reached::<P, 4>,
        reached::<P, 5>,
        reached::<P, 6>,
        reached::<P, 7>,
    ]
}

/// One property's verdict, with the path that decides it (an `Always` violated, a
/// `Sometimes` reached).
#[derive(Clone, Debug, Serialize)]
pub struct PluginProperty {
    pub expectation: &'static str,
    pub holds: bool,
    pub path: Vec<String>,
}

/// What a plug-in's model check found.
#[derive(Clone, Debug, Serialize)]
pub struct PluginCheckReport {
    pub protocol: &'static str,
    pub unique_states: usize,
    pub max_time: u64,
    pub properties: BTreeMap<&'static str, PluginProperty>,
}

impl PluginCheckReport {
    /// Whether an `Always` property failed.
    #[must_use]
    pub fn safety_failed(&self) -> bool {
        self.properties
            .iter()
            .any(|(n, p)| *n != PROP_NO_TIMELOCK && p.expectation == "always" && !p.holds)
    }

    /// Whether a time-lock was reached (a liveness failure, exit 3 in the CLI's terms).
    #[must_use]
    pub fn liveness_failed(&self) -> bool {
        self.holds(PROP_NO_TIMELOCK) == Some(false)
    }

    /// Whether one property holds (an `Always` with no counterexample, a `Sometimes`
    /// reached); `None` when the check has no such property.
    #[must_use]
    pub fn holds(&self, name: &str) -> Option<bool> {
        self.properties.get(name).map(|p| p.holds)
    }
}

/// Explores the model breadth-first and reports each property, with its path as one line
/// per step (global time, the action, the message), cut at the step that decides it. The
/// path is the last one stateright kept for the property, so it need not be the shortest.
#[must_use]
pub fn check_plugin_model<P: Protocol>(mc: PluginModelConfig<P::Config>) -> PluginCheckReport {
    let max_time = mc.max_time;
    let model = PluginModel::<P>::new(mc);
    let props = model.properties();
    let checker = model.checker().spawn_bfs().join();
    let mut properties = BTreeMap::new();
    for p in props {
        let always = matches!(p.expectation, stateright::Expectation::Always);
        let path = checker.discovery(p.name).map(|path| {
            let path = decided_at(checker.model(), &p, path.into_vec());
            unrenamed(checker.model(), path)
        });
        properties.insert(
            p.name,
            PluginProperty {
                expectation: if always { "always" } else { "sometimes" },
                holds: path.is_some() != always,
                path: path.map_or_else(Vec::new, |p| describe(&p, checker.model().closed())),
            },
        );
    }
    PluginCheckReport {
        protocol: P::NAME,
        unique_states: checker.unique_state_count(),
        max_time,
        properties,
    }
}

/// A discovered path cut at its first state that decides the property (an `Always`
/// violated, a `Sometimes` reached). stateright keeps the last discovery a worker made,
/// and while other properties are still open it goes on exploring below a violation (an
/// oracle's trip is sticky), so the path it returns may run on past the step that
/// decided it.
fn decided_at<P: Protocol>(
    model: &PluginModel<P>,
    property: &Property<PluginModel<P>>,
    mut path: Vec<(PluginState<P>, Option<PluginAction>)>,
) -> Vec<(PluginState<P>, Option<PluginAction>)> {
    let always = matches!(property.expectation, stateright::Expectation::Always);
    if let Some(i) = path
        .iter()
        .position(|(s, _)| (property.condition)(model, s) != always)
    {
        path.truncate(i + 1);
        if let Some(last) = path.last_mut() {
            last.1 = None;
        }
    }
    path
}

/// A path of representatives (with symmetry, a client may trade names with another from
/// one step to the next) replayed without renaming: from the initial state, each step
/// takes the action whose successor has the path's next state as its representative, so
/// every line names each client as the run does. A step no action matches (none should)
/// leaves the path as stateright gave it.
fn unrenamed<P: Protocol>(
    model: &PluginModel<P>,
    path: Vec<(PluginState<P>, Option<PluginAction>)>,
) -> Vec<(PluginState<P>, Option<PluginAction>)> {
    if model.perms.len() < 2 || path.is_empty() {
        return path;
    }
    let raw = PluginModel::<P>::new(PluginModelConfig {
        symmetry: false,
        ..model.mc.clone()
    });
    let representative = |s: &PluginState<P>| {
        let mut r = s.clone();
        model.canonicalise(&mut r);
        r
    };
    let Some(mut at) = raw.init_states().pop() else {
        return path;
    };
    if representative(&at) != path[0].0 {
        return path;
    }
    let mut out = Vec::with_capacity(path.len());
    for (i, (_, step)) in path.iter().enumerate() {
        let (Some(_), Some((target, _))) = (step, path.get(i + 1)) else {
            break;
        };
        let mut actions = Vec::new();
        raw.actions(&at, &mut actions);
        let found = actions.into_iter().find_map(|a| {
            let next = raw.next_state(&at, a.clone())?;
            (representative(&next) == *target).then_some((a, next))
        });
        let Some((a, next)) = found else {
            return path;
        };
        out.push((std::mem::replace(&mut at, next), Some(a)));
    }
    out.push((at, None));
    out
}

/// One line per step; a step after which an oracle has failed that had not before names
/// it (`[trips stale-write-accepted]`), so a path shows which rule it breaks and where.
fn describe<P: Protocol>(
    path: &[(PluginState<P>, Option<PluginAction>)],
    closed: bool,
) -> Vec<String> {
    let mut elapsed = 0u64;
    path.iter()
        .enumerate()
        .filter_map(|(i, (s, a))| {
            let a = a.as_ref()?;
            // A closed check keeps global time at its anchor: its lines count the ticks
            // since the path began instead (a send time as that count less its age).
            let shown = |t: u64| {
                if closed {
                    elapsed.saturating_sub(s.time.saturating_sub(t))
                } else {
                    t
                }
            };
            let line = step_line(s, a, &shown);
            match (a, path.get(i + 1)) {
                (PluginAction::Tick | PluginAction::LateTick(_), _) => elapsed += 1,
                // A clock that ran ahead and left every clock ahead moved time (see
                // `slowest_moved`): its drift came down by as much.
                (PluginAction::Fast(n), Some((next, _))) => {
                    let n = *n as usize;
                    elapsed += (s.drift[n] + 1).saturating_sub(next.drift[n]);
                }
                _ => {}
            }
            let trips = path.get(i + 1).map_or_else(String::new, |(next, _)| {
                let new: Vec<&str> = OracleName::ALL
                    .iter()
                    .filter(|&&o| next.oracles.tripped(o) && !s.oracles.tripped(o))
                    .map(|o| o.name())
                    .collect();
                if new.is_empty() {
                    String::new()
                } else {
                    format!(" [trips {}]", new.join(", "))
                }
            });
            let late = path.get(i + 1).map_or_else(String::new, |(next, _)| {
                let nodes: Vec<String> = (0..next.waits.0.len())
                    .filter(|&n| {
                        next.waits.0[n] == WAITED_TOO_LONG && s.waits.0[n] != WAITED_TOO_LONG
                    })
                    .map(|n| format!(" [LIVENESS: node {n} waited past its bound]"))
                    .collect();
                nodes.concat()
            });
            Some(line + &trips + &late)
        })
        .collect()
}

/// One step of a path as a line: the time (a global time as `shown` prints it), the
/// action, the message.
fn step_line<P: Protocol>(
    s: &PluginState<P>,
    a: &PluginAction,
    shown: &dyn Fn(u64) -> u64,
) -> String {
    let now = shown(s.time);
    match a {
        PluginAction::Deliver(k) | PluginAction::Duplicate(k) | PluginAction::Lose(k) => {
            let (at, from, to, msg, ghost) = &s.net[*k];
            let verb = match a {
                PluginAction::Lose(_) => "lose",
                PluginAction::Duplicate(_) => "deliver a duplicate of",
                _ => "deliver",
            };
            let ghost = ghost.map_or_else(String::new, |g| format!(", ghost tenure {g}"));
            let at = shown(*at);
            format!("t={now} {verb} {msg:?} node {from} -> node {to} (sent t={at}{ghost})")
        }
        PluginAction::Fire(i) => format!("t={now} node {i}'s timer fires"),
        PluginAction::Tick => format!("t={now} tick"),
        PluginAction::Crash => format!("t={now} the authority crashes"),
        PluginAction::CrashAmid(step, at) => format!(
            "{}, and the authority crashes before its effect {at}: the rest of the step is lost",
            step_line(s, step, shown)
        ),
        PluginAction::Restart => format!("t={now} the authority restarts"),
        PluginAction::CrashClient(i) => format!("t={now} node {i} crashes"),
        PluginAction::RestartClient(i) => format!("t={now} node {i} restarts"),
        PluginAction::CrashResource => format!("t={now} the resource crashes"),
        PluginAction::RestartResource => format!("t={now} the resource restarts"),
        PluginAction::Pause(i) => format!("t={now} node {i} pauses"),
        PluginAction::LateTick(late) => {
            let nodes: Vec<String> = (0..32)
                .filter(|i| late & (1 << i) != 0)
                .map(|i| i.to_string())
                .collect();
            format!(
                "t={now} tick while node {}'s due timer waits (paused)",
                nodes.join(" and node ")
            )
        }
        PluginAction::Fast(i) => {
            format!("t={now} node {i}'s clock runs a tick ahead")
        }
        PluginAction::Jitter(i, ppm) => {
            format!("t={now} node {i} draws jitter {ppm} ppm")
        }
        PluginAction::StepClock(i) => format!("t={now} node {i}'s clock steps forward"),
    }
}
