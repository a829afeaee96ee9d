//! The model state: nodes as copy-on-write parts, messages in flight, clocks as offsets,
//! the oracles' ghost state, and the actions that move it.

#[allow(clippy::wildcard_imports)]
use super::*;

/// A message in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Envelope {
    pub from: u8,
    pub to: u8,
    /// Ticks in flight so far; at `max_delay` it must be delivered or lost before time moves.
    pub age: u8,
    /// `msg`'s hash, kept so that hashing a state reads one word per message (and, before
    /// `msg` in the order, so that most comparisons end at one word).
    pub(crate) msg_hash: u64,
    pub msg: Msg,
    /// `msg`'s counters as bit sets, kept for ranking (see the `normal` module); decided
    /// by the fields above.
    pub(crate) counters: [(leaseproof_impl::Counter, u64); 2],
}

impl Envelope {
    #[must_use]
    pub fn new(from: u8, to: u8, age: u8, msg: Msg) -> Envelope {
        Envelope {
            from,
            to,
            age,
            msg_hash: part::hash_of(&msg),
            counters: normal::message_counters(from, to, &msg),
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
    /// Marks a state from which time cannot advance (see [`TimeLock`]).
    Stuck(TimeLock),
    Jitter(u8, u32),
    CrashServer,
    /// The server crashes inside the step the boxed action starts (a delivery to it, or its
    /// timer), at a crash point: an index into the step's outputs (see
    /// `leaseproof_impl::crash_points`). Within the crash budget; with `--crash-points`.
    CrashAmid(Box<Action>, u8),
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
    /// A client adopted a grant again after holding one before (the workload repeats:
    /// closed checks, or a short `--think`).
    pub const ACQUIRED_AGAIN: u32 = 1 << 8;
    /// The resource accepted a write under a token that a restarted server granted (the
    /// server's current holder token on the key, after a restart: its lease table is
    /// volatile, so every holder it has was granted by this incarnation).
    pub const RESTART_GRANT_ACCEPTED: u32 = 1 << 9;
    /// Bit `CLIENT_HELD << i`: client `i` adopted a grant. (The bits below it are the
    /// coverage the model records.)
    pub const CLIENT_HELD: u32 = 1 << 24;
}

/// Why time cannot advance from a state: a time-lock, reported as a liveness failure.
/// Found while generating successors (no extra search), by local patterns only: a longer
/// cycle of actions that never lets time advance is not detected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimeLock {
    #[default]
    None,
    /// Before the horizon, no action at all is enabled.
    NoAction,
    /// A timer fired and left its node due at the same local time (urgent timers then
    /// freeze time: every behaviour after it would be silently pruned).
    FireLeftDue,
    /// No time action is enabled and every enabled action leads back to the state itself.
    OnlySelfLoops,
}

impl TimeLock {
    /// What the time-lock is, in a sentence.
    #[must_use]
    pub fn meaning(self) -> &'static str {
        match self {
            TimeLock::None => "time can advance",
            TimeLock::NoAction => "no action is enabled before the horizon",
            TimeLock::FireLeftDue => "a timer fired and left its node due at the same local time",
            TimeLock::OnlySelfLoops => {
                "no time action is enabled and every enabled action leads back to this state"
            }
        }
    }
}

/// A client's `waiting` count once it has waited past its bound (a liveness failure).
pub const LATE: u8 = u8::MAX;

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
    /// Ticks each client's due timer has waited in its current pause (kept only with
    /// `--max-pause`; zero otherwise).
    pub paused: [u8; MAX_NODES],
    /// Global ticks since each clock last ran a tick ahead, up to R (kept only with
    /// `--rate-skew 1/R`; zero otherwise): a clock may run ahead again once it reads R.
    pub since_fast: [u8; MAX_NODES],
    /// Fault-free global ticks each client has spent acquiring since it began or since the
    /// last fault, whichever is later (kept only with `--liveness`; zero otherwise), up to
    /// one past its bound: past the bound is a liveness failure.
    pub waiting: [u8; MAX_NODES],
    pub pause_left: u8,
    pub crashes_left: u8,
    pub step_left: u8,
    pub drift_left: u8,
    pub loss_left: u8,
    pub oracles: Part<SafetyOracles>,
    /// Set on the state a time-lock was found at (it then has no successors).
    pub timelock: TimeLock,
    /// Coverage bits: what this path has reached so far (history, see `Hash for State`).
    pub seen: u32,
    /// Global ticks since the start of this path (history, not identity: a closed check
    /// keeps `now` at its anchor, so paths print clocks from this).
    pub elapsed: u64,
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
    pub(crate) fn identity_hash(&self) -> u64 {
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
        if self.timelock != TimeLock::None {
            h.write_u8(self.timelock as u8);
        }
        if self.paused != [0; MAX_NODES] {
            let mut paused = [0u8; 8];
            paused[..MAX_NODES].copy_from_slice(&self.paused);
            h.write_u64(u64::from_le_bytes(paused));
        }
        if self.waiting != [0; MAX_NODES] {
            let mut waiting = [0u8; 8];
            waiting[..MAX_NODES].copy_from_slice(&self.waiting);
            h.write_u64(u64::from_le_bytes(waiting) ^ 0x11fe);
        }
        if self.since_fast != [0; MAX_NODES] {
            let mut since = [0u8; 8];
            since[..MAX_NODES].copy_from_slice(&self.since_fast);
            h.write_u64(u64::from_le_bytes(since) ^ 0x5eed);
        }
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
    pub(crate) fn seal(&mut self) {
        self.hash = self.identity_hash();
    }

    /// Node `i`'s local clock in ticks since the start of the path (what a path prints).
    #[must_use]
    pub fn shown_ticks(&self, i: usize) -> u64 {
        self.elapsed + u64::from(self.offset[i]) + u64::from(self.stepped[i])
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
    pub(crate) fn due(&self, i: usize) -> bool {
        let now = self.local(i);
        self.node(i)
            .and_then(Machine::poll_timeout)
            .is_some_and(|(t, _)| t <= now)
    }

    /// One tick of global time: every clock and every message's age advance. (Adding one
    /// to every age keeps the envelopes in order.)
    pub(crate) fn advance(&mut self, rate: u8) {
        self.now += 1;
        self.elapsed += 1;
        for (e, _) in &mut self.net {
            e.age += 1;
        }
        if rate > 0 {
            for i in self.clocked() {
                self.since_fast[i] = (self.since_fast[i] + 1).min(rate);
            }
        }
    }

    /// Removes one copy (or, in a duplicating network, one delivery) of a message from the
    /// network, or the message with all it has left when `all`.
    pub(crate) fn take(&mut self, env: &Envelope, all: bool) {
        let at = self
            .net
            .binary_search_by(|(e, _)| e.cmp(env))
            .expect("the envelope is in flight");
        self.net[at].1 -= 1;
        if all || self.net[at].1 == 0 {
            self.net.remove(at);
        }
    }

    /// Keeps the slowest clock at offset 0 (equal situations, one state). When every
    /// clock has run ahead, global time (the slowest clock) has advanced, and every
    /// message in flight has aged with it: the delivery bound is in global ticks. (Before
    /// closed checks made drift moves unbounded, no run moved every clock ahead, so
    /// messages never aged here; in a closed check a message would otherwise stay in
    /// flight forever while the clocks ran on.)
    pub(crate) fn normalise(&mut self, rate: u8) {
        let lo = self.clocked().map(|i| self.offset[i]).min().unwrap_or(0);
        if lo > 0 {
            for i in self.clocked() {
                self.offset[i] -= lo;
            }
            for _ in 0..lo {
                self.advance(rate);
            }
        }
    }

    pub(crate) fn clocked(&self) -> impl Iterator<Item = usize> {
        (0..usize::from(self.n)).filter(|&i| i != RESOURCE)
    }

    /// Whether a client has waited past its liveness bound (`--liveness`).
    #[must_use]
    pub fn late(&self) -> bool {
        self.waiting.contains(&LATE)
    }

    /// Clients that may act on the key ([`leaseproof_impl::LeaseClient::may_act`]: their
    /// core state is Holding).
    #[must_use]
    pub fn believers(&self) -> usize {
        (2..usize::from(self.n))
            .filter(|&i| {
                self.node(i)
                    .and_then(AnyNode::as_client)
                    .is_some_and(leaseproof_impl::LeaseClient::may_act)
            })
            .count()
    }
}

/// How many times a duplicating network may deliver one message: once, and once again.
/// Unbounded, a duplicated reply that makes its receiver send a fresh request (a `Renewed`
/// for a token given back, answered by a new `Release`) repeats without time passing, each
/// round with a higher sequence number: the state space had no end.
pub const DELIVERIES_PER_MESSAGE: u8 = 2;

/// Adds a message to a network kept sorted. A non-duplicating network counts the copies
/// in flight; a duplicating one holds one copy with the deliveries it has left
/// ([`DELIVERIES_PER_MESSAGE`], topped up when the same message is sent again).
pub(crate) fn send(net: &mut Vec<(Envelope, u8)>, env: Envelope, duplicating: bool) {
    let fresh = if duplicating {
        DELIVERIES_PER_MESSAGE
    } else {
        1
    };
    match net.binary_search_by(|(e, _)| e.cmp(&env)) {
        Ok(at) => {
            net[at].1 = if duplicating {
                DELIVERIES_PER_MESSAGE
            } else {
                net[at].1 + 1
            }
        }
        Err(at) => net.insert(at, (env, fresh)),
    }
}
