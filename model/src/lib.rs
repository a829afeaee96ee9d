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
//! `now` stops at `max_time`. The server's clock runs on while it is down.
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
//!   flight and can be delivered again until its delay bound (small configs only);
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
//! oracles' ghost state in the model state, and no wait-for cycle (the deadlock oracle at
//! bound 0; a liveness failure, exit 3). `Sometimes` ([`SOMETIMES`]; proof that the model
//! reaches the interesting states): renewal confirmed, holder released after its work,
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

pub mod catalog;
pub mod check;
pub mod memo;
pub mod part;

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

/// The server's and the resource's slots: their `NodeId`s (clients follow, at
/// `NodeId::client(i)`).
pub const SERVER: usize = NodeId::authority(0).0 as usize;
pub const RESOURCE: usize = NodeId::RESOURCE.0 as usize;
/// The largest cluster the checker accepts (the 3-client model has millions of states).
pub const MAX_CLIENTS: usize = 3;
/// The largest time bound the checker accepts.
pub const MAX_TIME_LIMIT: u64 = 24;
/// The most keys `--keys` accepts.
pub const MAX_KEYS: u8 = 2;
/// The most jobs `--jobs` accepts.
pub const MAX_JOBS: u32 = 3;
/// Ticks one pause may take out of a client's life in one run.
pub const PAUSE_BUDGET: u8 = 8;
/// The largest spread ε between two clocks the checker accepts: `L = ttl − 2ε` must stay
/// above the renew interval (ttl 6, renew 3).
pub const MAX_SPREAD: u64 = 1;

/// What to check: the bounds and the faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelConfig {
    pub clients: usize,
    pub variant: Variant,
    /// No clock ticks past this (ticks).
    pub max_time: u64,
    /// ε: the largest allowed spread between any two clocks (ticks).
    pub spread: u64,
    pub pauses: bool,
    pub crashes: u8,
    pub duplicating: bool,
    pub clock_step: bool,
    /// How many `Fast(n)` moves (one clock running one tick ahead) a run may take.
    pub drift_moves: u8,
    /// A message is delivered within this many ticks or lost. A bound like `max_time`.
    pub max_delay: u8,
    /// How many messages the network may lose in one run (besides those sent to a server
    /// that is down, which are always lost).
    pub losses: u8,
    /// At most this many messages in flight on one link; a send beyond it is lost (loss is
    /// within the assumptions). A bound like `max_time`, reported with the result.
    pub link_capacity: u8,
    /// How long a holder works before it releases (ticks). Bugs that act late in a lease
    /// (B5, B7) need a hold longer than the lease.
    pub hold: u64,
    /// Exactly-once work: the holder works through this many jobs instead of plain writes
    /// (0: plain writes).
    pub jobs: u32,
    /// A critical section over this many keys, taken in the global order (1: one key).
    pub keys: u8,
}

impl Default for ModelConfig {
    /// The pinned default bounds: renewals, releases, queued hand-overs and takeovers after
    /// expiry all happen within them.
    fn default() -> Self {
        ModelConfig {
            clients: 2,
            variant: Variant::Correct,
            max_time: 3,
            spread: 1,
            pauses: true,
            crashes: 1,
            duplicating: false,
            clock_step: false,
            drift_moves: 1,
            max_delay: 1,
            losses: 1,
            link_capacity: 2,
            hold: 4,
            jobs: 0,
            keys: 1,
        }
    }
}

/// The protocol's config in ticks (1 tick = 1 ms): ttl 6, renew 3, fresh window 3, requeue
/// 2, backoff 2..2, hold `hold` (default 4), a write every 2, think 1000 (each client
/// acquires once per run within any horizon the checker accepts), queue capacity 2;
/// `L = ttl − 2ε` (4 at ε = 1). ε is at most [`MAX_SPREAD`]: at ε = 2, `L = 2` would not
/// exceed the renew interval.
pub fn protocol_in_ticks(
    variant: Variant,
    spread: u64,
    hold: u64,
    jobs: u32,
    keys: u8,
) -> Result<Config, String> {
    let p = ProtocolConfig {
        ttl_ms: 6,
        renew_interval_ms: 3,
        drift_ppm_max: 0,
        safety_margin_ms: 0,
        fresh_window_ms: 3,
        requeue_interval_ms: 2,
        backoff_base_ms: 2,
        backoff_max_ms: 2,
        hold_ms: hold,
        write_interval_ms: 2,
        think_ms: 1_000,
        queue_capacity: 2,
        intent_ms: 0,
        progress_window_ms: 0,
        hold_writes: 0,
        jobs: leaseproof_impl::Jobs {
            count: jobs,
            poison: 0,
            attempts: 1,
        },
        lock_keys: keys,
        variant,
    };
    let l_ticks = if variant == Variant::DriftIgnored {
        p.ttl_ms
    } else {
        p.ttl_ms.saturating_sub(2 * spread)
    };
    p.with_validity(l_ticks * 1_000_000)
        .map_err(|e| format!("--spread {spread}: {e}"))
}

impl ModelConfig {
    /// Refuses bounds that explode, naming the flag and the limit.
    pub fn validate(&self) -> Result<Config, String> {
        if self.clients == 0 || self.clients > MAX_CLIENTS {
            return Err(format!(
                "--clients {}: must be between 1 and {MAX_CLIENTS} (each client multiplies the \
                 state space by about 50)",
                self.clients
            ));
        }
        if self.max_time == 0 || self.max_time > MAX_TIME_LIMIT {
            return Err(format!(
                "--max-time {}: must be between 1 and {MAX_TIME_LIMIT} ticks (the state space \
                 grows steeply with time)",
                self.max_time
            ));
        }
        if self.hold == 0 || self.hold > MAX_TIME_LIMIT {
            return Err(format!(
                "--hold {}: must be between 1 and {MAX_TIME_LIMIT} ticks",
                self.hold
            ));
        }
        if self.spread > MAX_SPREAD {
            return Err(format!(
                "--spread {}: must be at most {MAX_SPREAD} tick (L = ttl − 2ε = 6 − 2ε must stay \
                 above the renew interval of 3)",
                self.spread
            ));
        }
        if self.crashes > 2 {
            return Err(format!("--crashes {}: must be at most 2", self.crashes));
        }
        if self.duplicating && (self.clients > 2 || self.max_time > 10) {
            return Err(
                "--duplicating: only with --clients 2 or fewer and --max-time 10 or less (a \
                 duplicating network multiplies the state space ~44x)"
                    .into(),
            );
        }
        if self.jobs > MAX_JOBS {
            return Err(format!(
                "--jobs {}: must be at most {MAX_JOBS} (each job multiplies the state space)",
                self.jobs
            ));
        }
        if self.variant == Variant::NoIdempotency && self.jobs == 0 {
            return Err(
                "--variant no-idempotency: needs --jobs 1 or more (the bug is in exactly-once work)"
                    .into(),
            );
        }
        if self.keys == 0 || self.keys > MAX_KEYS {
            return Err(format!(
                "--keys {}: must be between 1 and {MAX_KEYS} (each key multiplies the state space)",
                self.keys
            ));
        }
        if self.variant == Variant::LockOrderInversion && self.keys < 2 {
            return Err(
                "--variant lock-order-inversion: needs --keys 2 (the bug is in a lock set)".into(),
            );
        }
        if self.keys > 1 && self.jobs > 0 {
            return Err("--keys: a lock set runs plain writes, not --jobs".into());
        }
        protocol_in_ticks(self.variant, self.spread, self.hold, self.jobs, self.keys)
    }
}

/// A message in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Envelope {
    pub from: u8,
    pub to: u8,
    /// Ticks in flight so far; at `max_delay` it must be delivered or lost before time moves.
    pub age: u8,
    /// `msg`'s hash, kept so that hashing a state reads one word per message (and, before
    /// `msg` in the order, so that most comparisons end at one word).
    msg_hash: u64,
    pub msg: Msg,
}

impl Envelope {
    #[must_use]
    pub fn new(from: u8, to: u8, age: u8, msg: Msg) -> Envelope {
        Envelope {
            from,
            to,
            age,
            msg_hash: part::hash_of(&msg),
            msg,
        }
    }
}

/// What can happen next.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Every clock advances one tick (enabled only when no timer is due).
    Tick,
    /// Every clock advances one tick while the listed clients' due timers wait: they are
    /// paused (a bit per client).
    PauseTick(u8),
    /// A due timer of this node fires.
    Fire(u8),
    /// This node's clock runs one tick ahead of the others.
    Fast(u8),
    Deliver(Envelope),
    /// A message at its delay bound is lost.
    Drop(Envelope),
    Jitter(u8, u32),
    CrashServer,
    RecoverServer,
    StepClock(u8),
}

/// Coverage bits (not part of the state's identity: see `Hash for State`).
pub mod seen {
    pub const RENEWAL_CONFIRMED: u32 = 1 << 0;
    pub const QUEUED_WAITER_GRANTED: u32 = 1 << 1;
    pub const EXPIRED: u32 = 1 << 2;
    pub const TAKEOVER_AFTER_EXPIRY: u32 = 1 << 3;
    pub const STALE_WRITE_REJECTED: u32 = 1 << 4;
    /// Two clients believed at once (a state's bit in [`super::LeaseModel::reached`]).
    pub const TWO_BELIEVERS: u32 = 1 << 5;
    /// Every client had held (a state's bit in [`super::LeaseModel::reached`]).
    pub const ALL_SERVED: u32 = 1 << 6;
    /// A holder released the lease because its work was done.
    pub const RELEASED: u32 = 1 << 7;
    /// Bit `CLIENT_HELD << i`: client `i` adopted a grant.
    pub const CLIENT_HELD: u32 = 1 << 8;
}

/// The most nodes in a model: the server, the resource and the clients.
pub const MAX_NODES: usize = MAX_CLIENTS + 2;

/// One state of the whole cluster. Slots past `n` are unused (zero, `None`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct State {
    /// Global time in ticks: the slowest clock.
    pub now: u64,
    /// How many node slots are in use (2 + clients).
    pub n: u8,
    /// How far each node's clock runs ahead of `now` (index 0 the server, 1 the resource:
    /// unused), in ticks: at most ε.
    pub offset: [u8; MAX_NODES],
    /// Forward steps taken by each clock, in ticks (not counted in the spread): at most one
    /// step of 2.
    pub stepped: [u8; MAX_NODES],
    /// `None` while the server is down. Shared with the states around it until changed.
    pub nodes: [Option<Part<AnyNode>>; MAX_NODES],
    /// What the server persisted (shared, as a node is, until it persists again).
    pub server_disk: Part<Disk>,
    pub server_boots: u32,
    /// The messages in flight, each with its count, sorted by envelope.
    pub net: Vec<(Envelope, u8)>,
    /// Clients waiting for a jitter draw.
    pub jitter: [bool; MAX_NODES],
    pub pause_left: u8,
    pub crashes_left: u8,
    pub step_left: u8,
    pub drift_left: u8,
    pub loss_left: u8,
    pub oracles: Part<SafetyOracles>,
    /// Coverage bits: what this path has reached so far (history, see `Hash for State`).
    pub seen: u32,
    /// The hash of everything above but the coverage bits, computed by [`State::seal`]
    /// after every change; stateright fingerprints a state by it.
    pub hash: u64,
}

// The coverage bits record history, not behaviour: two states that differ only in them
// behave alike, so they hash alike (stateright deduplicates by hash). A `Sometimes` over
// them is therefore a lower bound: reached means reached.
impl Hash for State {
    fn hash<H: Hasher>(&self, h: &mut H) {
        debug_assert_eq!(
            self.hash,
            self.identity_hash(),
            "a state changed after its last seal()"
        );
        h.write_u64(self.hash);
    }
}

impl State {
    /// Hashes every field that identifies the state, packed into a few words: each part and
    /// each message in flight contributes the hash it keeps, so this reads a word per node
    /// and two per message.
    fn identity_hash(&self) -> u64 {
        let mut h = part::hasher();
        let (mut offsets, mut stepped) = ([0u8; 8], [0u8; 8]);
        offsets[..MAX_NODES].copy_from_slice(&self.offset);
        stepped[..MAX_NODES].copy_from_slice(&self.stepped);
        h.write_u64(u64::from_le_bytes(offsets));
        h.write_u64(u64::from_le_bytes(stepped));
        let mut up = 0u8;
        let mut jitter = 0u8;
        for i in 0..usize::from(self.n) {
            h.write_u64(self.nodes[i].as_ref().map_or(0, Part::kept_hash));
            up |= u8::from(self.nodes[i].is_some()) << i;
            jitter |= u8::from(self.jitter[i]) << i;
        }
        h.write_u64(self.now);
        h.write_u64(u64::from_le_bytes([
            self.n,
            self.pause_left,
            self.crashes_left,
            self.step_left,
            self.drift_left,
            self.loss_left,
            up,
            jitter,
        ]));
        h.write_u64(u64::from(self.server_boots));
        h.write_u64(self.server_disk.kept_hash());
        h.write_u64(self.oracles.kept_hash());
        h.write_u64(self.net.len() as u64);
        for (e, count) in &self.net {
            h.write_u64(u64::from_le_bytes([
                e.from, e.to, e.age, *count, 0, 0, 0, 0,
            ]));
            h.write_u64(e.msg_hash);
        }
        h.finish()
    }

    /// Recomputes the kept hash: the last thing done to a state before anyone reads it.
    fn seal(&mut self) {
        self.hash = self.identity_hash();
    }

    /// Node `i`'s local clock in ticks.
    #[must_use]
    pub fn local_ticks(&self, i: usize) -> u64 {
        self.now + u64::from(self.offset[i]) + u64::from(self.stepped[i])
    }

    #[must_use]
    pub fn local(&self, i: usize) -> Nanos {
        Nanos(self.local_ticks(i) * 1_000_000)
    }

    /// The node in slot `i`, if it is up.
    #[must_use]
    pub fn node(&self, i: usize) -> Option<&AnyNode> {
        self.nodes[i].as_deref()
    }

    /// Whether node `i`'s next deadline is due on its clock.
    fn due(&self, i: usize) -> bool {
        let now = self.local(i);
        self.node(i)
            .and_then(Machine::poll_timeout)
            .is_some_and(|(t, _)| t <= now)
    }

    /// One tick of global time: every clock and every message's age advance. (Adding one
    /// to every age keeps the envelopes in order.)
    fn advance(&mut self) {
        self.now += 1;
        for (e, _) in &mut self.net {
            e.age += 1;
        }
    }

    /// Removes one copy of a message from the network.
    fn take(&mut self, env: &Envelope) {
        let at = self
            .net
            .binary_search_by(|(e, _)| e.cmp(env))
            .expect("the envelope is in flight");
        self.net[at].1 -= 1;
        if self.net[at].1 == 0 {
            self.net.remove(at);
        }
    }

    /// Keeps the slowest clock at offset 0 (equal situations, one state).
    fn normalise(&mut self) {
        let lo = self.clocked().map(|i| self.offset[i]).min().unwrap_or(0);
        if lo > 0 {
            for i in self.clocked() {
                self.offset[i] -= lo;
            }
            self.now += u64::from(lo);
        }
    }

    fn clocked(&self) -> impl Iterator<Item = usize> {
        (0..usize::from(self.n)).filter(|&i| i != RESOURCE)
    }

    /// Clients whose core state is Holding.
    #[must_use]
    pub fn believers(&self) -> usize {
        (2..usize::from(self.n))
            .filter(|&i| {
                self.node(i)
                    .and_then(AnyNode::as_client)
                    .is_some_and(|c| c.held_token().is_some())
            })
            .count()
    }
}

/// Adds a message to a network kept sorted (a duplicating network holds one copy).
fn send(net: &mut Vec<(Envelope, u8)>, env: Envelope, duplicating: bool) {
    match net.binary_search_by(|(e, _)| e.cmp(&env)) {
        Ok(at) => net[at].1 = if duplicating { 1 } else { net[at].1 + 1 },
        Err(at) => net.insert(at, (env, 1)),
    }
}

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
}

pub const PROP_SINGLE_HOLDER: &str = "single-holder";
pub const PROP_TOKEN_MONOTONIC: &str = "token-monotonic";
pub const PROP_FENCED_WRITES: &str = "fenced-writes";
pub const PROP_CONTAINMENT: &str = "lease-containment";
pub const PROP_EXACTLY_ONCE: &str = "exactly-once";
pub const PROP_NO_DEADLOCK: &str = "no wait-for cycle (deadlock)";
pub const PROP_RENEWAL: &str = "renewal confirmed";
pub const PROP_QUEUED: &str = "queued waiter granted";
pub const PROP_RELEASED: &str = "holder released after its work";
pub const PROP_TAKEOVER: &str = "takeover after expiry";
pub const PROP_STALE_REJECTED: &str = "stale write rejected";
pub const PROP_TWO_BELIEVERS: &str = "two clients believe at once";
pub const PROP_ALL_SERVED: &str = "every client served (bounded liveness)";

/// The `Sometimes` properties (proof that the model reaches the interesting states) and
/// the coverage bit each reads in [`LeaseModel::reached`].
pub const SOMETIMES: [(&str, u32); 7] = [
    (PROP_RENEWAL, seen::RENEWAL_CONFIRMED),
    (PROP_RELEASED, seen::RELEASED),
    (PROP_QUEUED, seen::QUEUED_WAITER_GRANTED),
    (PROP_TAKEOVER, seen::TAKEOVER_AFTER_EXPIRY),
    (PROP_STALE_REJECTED, seen::STALE_WRITE_REJECTED),
    (PROP_TWO_BELIEVERS, seen::TWO_BELIEVERS),
    (PROP_ALL_SERVED, seen::ALL_SERVED),
];

/// The safety properties and the oracle each reads.
pub const SAFETY_PROPS: [(&str, OracleName); 5] = [
    (PROP_SINGLE_HOLDER, OracleName::SingleHolder),
    (PROP_TOKEN_MONOTONIC, OracleName::TokenMonotonic),
    (PROP_FENCED_WRITES, OracleName::FencedWrites),
    (PROP_CONTAINMENT, OracleName::LeaseContainment),
    (PROP_EXACTLY_ONCE, OracleName::ExactlyOnce),
];

/// The one property stateright checks by default: all of [`ALWAYS`]. (Short: stateright
/// hashes the name with SipHash for every state it checks.)
pub const PROP_SAFE: &str = "safety";

/// Every `Always` property: the safety oracles' ([`SAFETY_PROPS`]) and the deadlock
/// oracle's. See [`holds`].
pub const ALWAYS: [&str; 6] = [
    PROP_SINGLE_HOLDER,
    PROP_TOKEN_MONOTONIC,
    PROP_FENCED_WRITES,
    PROP_CONTAINMENT,
    PROP_EXACTLY_ONCE,
    PROP_NO_DEADLOCK,
];

/// Whether a state keeps the `Always` property `name` (one of [`ALWAYS`]): a safety
/// oracle, read from the ghost state in the model state, has not tripped; or no wait-for
/// cycle exists (the deadlock oracle with a bound of 0: in a bounded model any cycle
/// counts; with the keys in one order none forms; the simulator's bound absorbs timing).
/// Exactly-once is the "applied twice, or applied and dead-lettered" half: "never
/// neither" needs a settled end of run, which the simulator judges.
#[must_use]
pub fn holds(name: &str, s: &State) -> bool {
    if name == PROP_NO_DEADLOCK {
        return s.oracles.deadlock(s.local(SERVER), 0).is_none();
    }
    let (_, oracle) = SAFETY_PROPS
        .iter()
        .find(|(p, _)| *p == name)
        .unwrap_or_else(|| panic!("{name:?} is not an Always property"));
    !s.oracles.tripped(*oracle)
}

impl LeaseModel {
    pub fn new(mc: ModelConfig) -> Result<LeaseModel, String> {
        let cfg = mc.validate()?;
        Ok(LeaseModel {
            mc,
            cfg,
            symmetry: false,
            reached: Arc::default(),
            target: None,
        })
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
            now: 0,
            n: n as u8,
            offset: [0; MAX_NODES],
            stepped: [0; MAX_NODES],
            nodes: Default::default(),
            server_disk: Part::new(Disk::default()),
            server_boots: 0,
            net: Vec::new(),
            jitter: [false; MAX_NODES],
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
            seen: 0,
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
        s.seal();
        s
    }

    fn n(&self) -> usize {
        self.mc.clients + 2
    }

    /// Applies one action, returning the next state and the lines describing its outputs.
    pub fn apply(&self, last: &State, action: &Action, log: bool) -> (State, Vec<String>) {
        let mut s = last.clone();
        let mut lines = Vec::new();
        match *action {
            Action::Tick => s.advance(),
            Action::PauseTick(late) => {
                s.advance();
                s.pause_left -= late.count_ones() as u8;
            }
            Action::Drop(ref env) => {
                if s.nodes[usize::from(env.to)].is_some() {
                    s.loss_left -= 1;
                }
                s.take(env);
            }
            Action::Fire(i) => {
                self.step(&mut s, usize::from(i), &mut lines, log, (Input::Timeout, 1));
            }
            Action::Fast(i) => {
                s.offset[usize::from(i)] += 1;
                s.drift_left -= 1;
                s.normalise();
            }
            Action::StepClock(i) => {
                let i = usize::from(i);
                s.stepped[i] += 2;
                s.step_left -= 1;
            }
            Action::Deliver(ref env) => {
                let to = usize::from(env.to);
                if !self.mc.duplicating {
                    s.take(env);
                }
                assert!(s.nodes[to].is_some(), "deliver only to a live node");
                let from = NodeId(u32::from(env.from));
                let input = Input::Message(from, env.msg);
                let input_hash = env.msg_hash ^ u64::from(env.from);
                self.step(&mut s, to, &mut lines, log, (input, input_hash));
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
            Action::CrashServer => {
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
                self.step(&mut s, SERVER, &mut lines, log, (Input::Boot, 0));
            }
        }
        s.seal();
        (s, lines)
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
        (input, input_hash): (Input, u64),
    ) {
        let now = s.local(i);
        let server_now = s.local(SERVER);
        let Some(part) = s.nodes[i].as_ref() else {
            return;
        };
        // A one-point backoff window makes every draw equal: the step answers it at once.
        let answer_jitter = self.cfg.backoff_base_ns == self.cfg.backoff_max_ns;
        let t = memo::step(part, input, input_hash, now, answer_jitter);
        s.nodes[i] = Some(t.next.clone());
        for (out, &msg_hash) in t.outputs.iter().zip(&t.msg_hashes) {
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
                Output::Event(e) => s.seen |= coverage(e, s.seen),
            }
        }
        if t.events {
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

/// Every ordering of up to three clients, the identity first; renaming number `t - 1` is
/// `PERMS_k[t]` (the number under which every part keeps its renamed copy, see [`part`]).
const PERMS_2: &[[usize; 3]] = &[[0, 1, 2], [1, 0, 2]];
const PERMS_3: &[[usize; 3]] = &[
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
];

/// What renaming cannot change about client slot `i` (no node id in it): its clock, its
/// pending jitter draw, its next deadline and its token.
type ClientKey = (u8, u8, bool, Option<(Nanos, &'static str)>, Option<Token>);

fn client_key(s: &State, i: usize) -> ClientKey {
    let node = s.node(i);
    (
        s.offset[i],
        s.stepped[i],
        s.jitter[i],
        node.and_then(Machine::poll_timeout),
        node.and_then(AnyNode::as_client)
            .and_then(LeaseClient::held_token),
    )
}

/// The canonical representative of a state's orbit under client renamings: among the
/// renamings that put the clients' keys in slot order, the least in the order "kept hash,
/// then the whole state" (a total order, so every member of an orbit gives the same
/// representative: the set of key-sorted renamings is the same from each of them). The
/// keys cost nothing to permute, so only those renamings are built; keys tie rarely (for
/// about 1 % of the states at 2 clients), so one is usually left. The model explores
/// canonical states only, and a step from a canonical state mostly keeps the keys in
/// order, so that one is usually the identity: the state itself, returned untouched.
#[must_use]
pub fn canonical(s: State) -> State {
    let k = usize::from(s.n) - 2;
    debug_assert!(
        k <= MAX_CLIENTS,
        "renamings listed up to {MAX_CLIENTS} clients"
    );
    let perms = match k {
        2 => PERMS_2,
        3 => PERMS_3,
        _ => return s,
    };
    let keys: [Option<ClientKey>; MAX_CLIENTS] =
        std::array::from_fn(|c| (c < k).then(|| client_key(&s, c + 2)));
    // The clients in key order: slot j gets client `order[j]`. With no two keys equal that
    // is the one renaming that sorts them. Clients that tie on their key are told apart by
    // their nodes' blind hashes (renaming cannot change those either), computed only then.
    let blind = |c: usize| {
        s.nodes[c + 2]
            .as_ref()
            .map(|p| p.blind_hash(|node| node.remap_nodes(&one_client_name)))
    };
    let cmp = |a: usize, b: usize| keys[a].cmp(&keys[b]).then_with(|| blind(a).cmp(&blind(b)));
    let mut order = [0, 1, 2];
    order[..k].sort_unstable_by(|&a, &b| cmp(a, b));
    if (1..k).all(|j| cmp(order[j - 1], order[j]).is_ne()) {
        let mut perm = [0, 1, 2];
        for (slot, &c) in order[..k].iter().enumerate() {
            perm[c] = slot;
        }
        let t = perms
            .iter()
            .position(|p| p[..k] == perm[..k])
            .expect("every ordering is listed");
        return if t == 0 {
            s
        } else {
            rename(&s, t - 1, &perm[..k])
        };
    }
    // Clients alike but for their names: every renaming that sorts the keys is a
    // candidate. The keys of the renamed state, slot by slot (client c moves to slot
    // perm[c]):
    let keys: [Option<(ClientKey, Option<u64>)>; MAX_CLIENTS] =
        std::array::from_fn(|c| keys[c].map(|key| (key, blind(c))));
    let permuted = |perm: &[usize; 3]| {
        let mut kk = [None; MAX_CLIENTS];
        for c in 0..k {
            kk[perm[c]] = keys[c];
        }
        kk
    };
    let least = perms
        .iter()
        .map(permuted)
        .min()
        .expect("the identity at least");
    let mut sorting = perms
        .iter()
        .enumerate()
        .filter(|(_, perm)| permuted(perm) == least);
    let (first, perm) = sorting.next().expect("one renaming sorts the keys");
    let mut best = if first == 0 {
        None
    } else {
        Some(rename(&s, first - 1, &perm[..k]))
    };
    for (t, perm) in sorting {
        let r = rename(&s, t - 1, &perm[..k]);
        let current = best.as_ref().unwrap_or(&s);
        if (r.hash, &r) < (current.hash, current) {
            best = Some(r);
        }
    }
    best.unwrap_or(s)
}

/// Every client named alike (the first client's name): what no renaming of clients can
/// change.
fn one_client_name(n: NodeId) -> NodeId {
    if n.is_client() {
        NodeId::client(0)
    } else {
        n
    }
}

fn coverage(e: &Event, seen_now: u32) -> u32 {
    match *e {
        Event::Adopted { first: false, .. } => seen::RENEWAL_CONFIRMED,
        Event::Adopted {
            first: true,
            client,
            ..
        } => seen::CLIENT_HELD << (client.node.0 - 2),
        Event::Granted { queued, .. } => {
            let mut b = 0;
            if queued {
                b |= seen::QUEUED_WAITER_GRANTED;
            }
            if seen_now & seen::EXPIRED != 0 {
                b |= seen::TAKEOVER_AFTER_EXPIRY;
            }
            b
        }
        Event::Expired { .. } => seen::EXPIRED,
        Event::WriteRejected { .. } => seen::STALE_WRITE_REJECTED,
        Event::ReleaseDecided { .. } => seen::RELEASED,
        _ => 0,
    }
}

/// Renames client `i` to client `perm[i]` everywhere in the state (renaming `number`).
fn rename(s: &State, number: usize, perm: &[usize]) -> State {
    let f = |n: NodeId| {
        let i = n.0 as usize;
        if i >= 2 && i - 2 < perm.len() {
            NodeId((perm[i - 2] + 2) as u32)
        } else {
            n
        }
    };
    let idx = |i: usize| f(NodeId(i as u32)).0 as usize;
    let part = |p: &Part<AnyNode>| p.renamed(number, |x| x.remap_nodes(&f));
    let mut r = State {
        nodes: Default::default(),
        seen: s.seen & (seen::CLIENT_HELD - 1),
        net: s
            .net
            .iter()
            .map(|(e, c)| {
                (
                    Envelope::new(
                        idx(usize::from(e.from)) as u8,
                        idx(usize::from(e.to)) as u8,
                        e.age,
                        e.msg.remap_nodes(&f),
                    ),
                    *c,
                )
            })
            .collect(),
        oracles: s.oracles.renamed(number, |o| o.remap_nodes(&f)),
        server_disk: s.server_disk.clone(),
        ..*s
    };
    r.net.sort_unstable_by_key(|(e, _)| *e);
    r.nodes[SERVER] = s.nodes[SERVER].as_ref().map(part);
    r.nodes[RESOURCE] = s.nodes[RESOURCE].as_ref().map(part);
    for i in 2..usize::from(s.n) {
        let j = idx(i);
        r.offset[j] = s.offset[i];
        r.stepped[j] = s.stepped[i];
        r.nodes[j] = s.nodes[i].as_ref().map(part);
        r.jitter[j] = s.jitter[i];
        if s.seen & (seen::CLIENT_HELD << (i - 2)) != 0 {
            r.seen |= seen::CLIENT_HELD << (j - 2);
        }
    }
    r.seal();
    // The canonical form is sound only if a client's key is blind to names.
    if cfg!(debug_assertions) {
        for i in 2..usize::from(s.n) {
            assert_eq!(
                client_key(&r, idx(i)),
                client_key(s, i),
                "a client's key changed under renaming"
            );
        }
    }
    r
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
        if s.now < self.mc.max_time && !urgent {
            if late == 0 {
                actions.push(Action::Tick);
            } else if u32::from(s.pause_left) >= late.count_ones() {
                actions.push(Action::PauseTick(late));
            }
        }
        // Drift moves happen where a tick could: at a quiet moment, no timer due.
        if s.drift_left > 0 && s.now < self.mc.max_time && !urgent && late == 0 {
            for i in s.clocked() {
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
                // Every safety oracle's bit at once, then the wait-for graph.
                None => !s.oracles.any_tripped() && holds(PROP_NO_DEADLOCK, s),
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
            Action::RecoverServer => "recover the server".into(),
            Action::StepClock(i) => format!("step {}'s clock forward 2 ticks", name(*i)),
        }
    }
}

impl fmt::Display for ModelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} clients, variant {}, max-time {} ticks, spread ε={}, pauses {}, {} server crash(es), {} network{}, delivery within {} tick(s), {} loss(es), {} drift move(s), hold {}{}",
            self.clients,
            self.variant,
            self.max_time,
            self.spread,
            if self.pauses { "on" } else { "off" },
            self.crashes,
            if self.duplicating { "duplicating" } else { "non-duplicating" },
            if self.clock_step { ", one client clock step" } else { "" },
            self.max_delay,
            self.losses,
            self.drift_moves,
            self.hold,
            if self.jobs > 0 {
                format!(", {} job(s)", self.jobs)
            } else if self.keys > 1 {
                format!(", lock set of {} keys", self.keys)
            } else {
                String::new()
            }
        )
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
                for (t, perm) in perms.iter().enumerate().skip(1) {
                    let r = rename(s, t - 1, &perm[..clients]);
                    assert_eq!(r.hash, r.identity_hash(), "a renamed state is sealed");
                    assert_eq!(canonical(r), c, "{clients} clients, renaming {perm:?}");
                }
            }
            assert!(tied > 0, "some sampled states tie on their keys");
        }
    }
}
