//! Identities, time and the wire messages shared by the roles.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A reading of one node's local clock, in nanoseconds.
///
/// Local to one node: never compare a client's `Nanos` with the server's. Clocks start at a
/// large origin (hours), and all arithmetic saturates, so an offset or a step never underflows.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Nanos(pub u64);

impl Nanos {
    pub const ZERO: Nanos = Nanos(0);
    pub const MAX: Nanos = Nanos(u64::MAX);

    #[must_use]
    pub const fn from_ms(ms: u64) -> Nanos {
        Nanos(ms.saturating_mul(1_000_000))
    }
    /// `self + ns`, saturating.
    #[must_use]
    pub const fn plus(self, ns: u64) -> Nanos {
        Nanos(self.0.saturating_add(ns))
    }
    /// `self - ns`, saturating at zero.
    #[must_use]
    pub const fn minus(self, ns: u64) -> Nanos {
        Nanos(self.0.saturating_sub(ns))
    }
    /// `self - earlier` in ns, zero when `earlier` is later.
    #[must_use]
    pub const fn since(self, earlier: Nanos) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
    #[must_use]
    pub fn as_ms_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

impl fmt::Display for Nanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}ms", self.as_ms_f64())
    }
}

/// A node of the cluster, numbered by role: the authority (`authority(0)`, node 0), the
/// resource (node 1) and the clients (`client(i)`, node `2 + i`). A protocol with several
/// authorities (a quorum) numbers the others above every client, so the reference
/// protocol's numbering, and every hash over it, stays as it is.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The fenced resource.
    pub const RESOURCE: NodeId = NodeId(1);
    /// Where authorities after the first are numbered: above any client.
    const MORE_AUTHORITIES: u32 = 1 << 31;

    /// Authority `i` (the reference protocol has one, its lock server: `authority(0)`).
    #[must_use]
    pub const fn authority(i: u32) -> NodeId {
        if i == 0 {
            NodeId(0)
        } else {
            NodeId(Self::MORE_AUTHORITIES + i)
        }
    }

    /// Client `i` (0-based).
    #[must_use]
    pub const fn client(i: u32) -> NodeId {
        NodeId(2 + i)
    }

    #[must_use]
    pub const fn is_authority(self) -> bool {
        self.0 == 0 || self.0 > Self::MORE_AUTHORITIES
    }

    #[must_use]
    pub const fn is_resource(self) -> bool {
        self.0 == Self::RESOURCE.0
    }

    #[must_use]
    pub const fn is_client(self) -> bool {
        self.0 >= 2 && self.0 <= Self::MORE_AUTHORITIES
    }

    /// The client's index (`client(i)` gives `Some(i)`).
    #[must_use]
    pub const fn client_index(self) -> Option<u32> {
        if self.is_client() {
            Some(self.0 - 2)
        } else {
            None
        }
    }

    /// The name a reader uses: `server` (the reference protocol's one authority),
    /// `authority-i`, `resource`, `client-i`.
    #[must_use]
    pub fn name(self) -> String {
        match self.0 {
            0 => "server".into(),
            1 => "resource".into(),
            n if n > Self::MORE_AUTHORITIES => format!("authority-{}", n - Self::MORE_AUTHORITIES),
            n => format!("client-{}", n - 2),
        }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// A lock name. Everything the protocol knows is kept per key.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Key(pub u32);

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "k{}", self.0)
    }
}

/// A fencing token: strictly rising per key, across server restarts.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Token(pub u64);

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A node's boot: the shell hands a fresh incarnation to every boot and persists the counter,
/// so a restarted client is a new client. For the server, incarnation 0 is the first boot and
/// anything higher is a restart (which starts the grace period).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Identity {
    pub node: NodeId,
    pub incarnation: u32,
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.node, self.incarnation)
    }
}

/// A request id: `(incarnation, seq)`, with `seq` rising on every send, re-sends included.
/// Ordered lexicographically, so a newer incarnation's ids supersede an older one's.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct ReqId {
    pub incarnation: u32,
    pub seq: u64,
}

/// An idempotency key: `(node, incarnation, seq)`, unique across restarts.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct IdemKey {
    pub node: NodeId,
    pub incarnation: u32,
    pub seq: u64,
}

impl IdemKey {
    #[must_use]
    pub fn client(&self) -> Identity {
        Identity {
            node: self.node,
            incarnation: self.incarnation,
        }
    }
}

/// A job of the exactly-once workload, by its index in the declared list; the list's
/// idempotency key names it (the scenario maps names to indices).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Job(pub u32);

impl fmt::Display for IdemKey {
    /// `client-0#1.7`: the client, its incarnation, the send's sequence number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}.{}", self.node.name(), self.incarnation, self.seq)
    }
}

impl fmt::Display for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "job{}", self.0)
    }
}

/// How the resource answered one attempt at a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum JobOutcome {
    /// Applied now, under this attempt.
    Applied,
    /// Applied before (by anyone): the job's record answers, nothing is applied again.
    AlreadyApplied,
    /// The job is in the dead-letter list (now or before).
    DeadLettered,
    /// A definite rejection of the job itself (its effect cannot be applied); `failures`
    /// such rejections so far, counted once per attempt at the resource.
    Failed { failures: u32 },
    /// The attempt's token is below the highest accepted: the holder lost its lease.
    Fenced { current: Token },
}

/// Why the server declined a renewal or release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RefuseReason {
    /// The sender is not the holder, or its token is not the current one, or it expired.
    NotHolder,
    /// The wait queue is at capacity; retry later.
    QueueFull,
    /// Progress-based extension: the holder reported no new acknowledged write for the
    /// progress window, so it is not extended. Its grant stays until its own expiry.
    Stalled,
}

/// Every message of the protocol. One enum on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Msg {
    // client -> server
    Acquire {
        key: Key,
        id: ReqId,
    },
    Renew {
        key: Key,
        id: ReqId,
        token: Token,
        /// How many of this token's writes the holder has seen acknowledged (WriteAcks,
        /// each counted once): its progress, learned only through messages. Tiered leases
        /// extend to the full tier once it is positive; progress-based extension withholds
        /// renewals while it stops rising. Always 0 when neither is on and the work is
        /// counted in time.
        acked: u32,
    },
    Release {
        key: Key,
        id: ReqId,
        token: Token,
    },
    // server -> client
    Granted {
        key: Key,
        id: ReqId,
        token: Token,
    },
    Renewed {
        key: Key,
        id: ReqId,
        token: Token,
    },
    Queued {
        key: Key,
        id: ReqId,
    },
    Refused {
        key: Key,
        id: ReqId,
        token: Option<Token>,
        reason: RefuseReason,
    },
    Released {
        key: Key,
        id: ReqId,
        token: Token,
    },
    // client -> resource
    Write {
        key: Key,
        token: Token,
        idem: IdemKey,
    },
    // resource -> client
    WriteAck {
        key: Key,
        token: Token,
        idem: IdemKey,
    },
    WriteRejected {
        key: Key,
        token: Token,
        idem: IdemKey,
        current: Token,
    },
    // exactly-once jobs: client -> resource, and the answer
    /// One attempt at a job; `idem` names the attempt (a re-send after a lost answer
    /// repeats it), `job` is the job's idempotency key.
    Apply {
        key: Key,
        token: Token,
        job: Job,
        idem: IdemKey,
    },
    JobResult {
        key: Key,
        token: Token,
        job: Job,
        idem: IdemKey,
        outcome: JobOutcome,
    },
}

/// A message as a reader would write it: `Acquire k0 id 0.3`, `Granted k0 token 2 for id 0.3`.
impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = |id: &ReqId| format!("{}.{}", id.incarnation, id.seq);
        match self {
            Msg::Acquire { key, id: r } => write!(f, "Acquire {key} id {}", id(r)),
            Msg::Renew {
                key,
                id: r,
                token,
                acked,
            } => write!(
                f,
                "Renew {key} token {token} id {} ({acked} writes acknowledged)",
                id(r)
            ),
            Msg::Release { key, id: r, token } => {
                write!(f, "Release {key} token {token} id {}", id(r))
            }
            Msg::Granted { key, id: r, token } => {
                write!(f, "Granted {key} token {token} for id {}", id(r))
            }
            Msg::Renewed { key, id: r, token } => {
                write!(f, "Renewed {key} token {token} for id {}", id(r))
            }
            Msg::Queued { key, id: r } => write!(f, "Queued {key} for id {}", id(r)),
            Msg::Refused {
                key,
                id: r,
                token,
                reason,
            } => {
                write!(f, "Refused {key} for id {} ({reason:?}", id(r))?;
                match token {
                    Some(t) => write!(f, ", token {t})"),
                    None => write!(f, ")"),
                }
            }
            Msg::Released { key, id: r, token } => {
                write!(f, "Released {key} token {token} for id {}", id(r))
            }
            Msg::Write { key, token, idem } => write!(f, "Write {key} token {token} key {idem}"),
            Msg::WriteAck { key, token, idem } => {
                write!(f, "WriteAck {key} token {token} key {idem}")
            }
            Msg::WriteRejected {
                key,
                token,
                idem,
                current,
            } => write!(
                f,
                "WriteRejected {key} token {token} key {idem}: current token {current}"
            ),
            Msg::Apply {
                key,
                token,
                job,
                idem,
            } => write!(f, "Apply {job} on {key} token {token} key {idem}"),
            Msg::JobResult {
                key,
                token,
                job,
                idem,
                outcome,
            } => write!(
                f,
                "JobResult {job} on {key} token {token} key {idem}: {outcome:?}"
            ),
        }
    }
}

impl Msg {
    /// A client's request to the server: its id.
    #[must_use]
    pub fn request_id(&self) -> Option<ReqId> {
        match self {
            Msg::Acquire { id, .. } | Msg::Renew { id, .. } | Msg::Release { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// The key every message is about.
    #[must_use]
    pub fn key(&self) -> Key {
        match self {
            Msg::Acquire { key, .. }
            | Msg::Renew { key, .. }
            | Msg::Release { key, .. }
            | Msg::Granted { key, .. }
            | Msg::Renewed { key, .. }
            | Msg::Queued { key, .. }
            | Msg::Refused { key, .. }
            | Msg::Released { key, .. }
            | Msg::Write { key, .. }
            | Msg::WriteAck { key, .. }
            | Msg::WriteRejected { key, .. }
            | Msg::Apply { key, .. }
            | Msg::JobResult { key, .. } => *key,
        }
    }

    /// A short name for traces and reports.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Msg::Acquire { .. } => "Acquire",
            Msg::Renew { .. } => "Renew",
            Msg::Release { .. } => "Release",
            Msg::Granted { .. } => "Granted",
            Msg::Renewed { .. } => "Renewed",
            Msg::Queued { .. } => "Queued",
            Msg::Refused { .. } => "Refused",
            Msg::Released { .. } => "Released",
            Msg::Write { .. } => "Write",
            Msg::WriteAck { .. } => "WriteAck",
            Msg::WriteRejected { .. } => "WriteRejected",
            Msg::Apply { .. } => "Apply",
            Msg::JobResult { .. } => "JobResult",
        }
    }
}

/// A random draw, in parts per million of the range the client asked for (0..=1_000_000).
/// The only way randomness enters the core (see `Output::NeedJitter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Jitter {
    pub ppm: u32,
}

impl Jitter {
    pub const MAX_PPM: u32 = 1_000_000;

    /// The next draw of a seeded xorshift64* generator whose state is `state`: for
    /// drivers that need plain, repeatable draws (the stepper, the real runtime), never
    /// for the core, which draws nothing.
    #[must_use]
    pub fn xorshift(state: &mut u64) -> Jitter {
        Jitter {
            ppm: (xorshift64star(state) % (u64::from(Jitter::MAX_PPM) + 1)) as u32,
        }
    }
}

/// One step of xorshift64*: advances `state` (which must not be 0) and returns 64 bits. For
/// drivers that need plain, repeatable draws ([`Jitter::xorshift`], the simulator's plans
/// for real clusters, the real fault proxy), never for the core.
#[must_use]
pub fn xorshift64star(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// Every instant a machine keeps, for a model checker that stores time relative to now.
///
/// The core only adds durations to `now` and compares instants, so shifting every instant
/// of a state by one amount (the clock with them) changes nothing it does; and an instant
/// further in the past than the largest duration it is ever compared against, `bound`,
/// compares alike with every `now + d` and every later instant whatever its exact value,
/// so a checker may move it to any other such value (clamping, as timed-automata checkers
/// do with their maximal constants). Each role lists, next to its state, every instant it
/// keeps, every comparison it makes with it and the bound that follows.
///
/// `f(instant, bound_ns)` returns the instant to keep. Constants the code assigns as
/// "never" (`Nanos::MAX`) are passed too: `f` keeps them. A field no mode reads (left at
/// `Nanos::ZERO`) is not passed.
pub trait Instants {
    fn map_instants(&mut self, f: &mut dyn FnMut(Nanos, u64) -> Nanos);
}

/// Never clamped: an instant whose comparisons use a bound the machine does not know.
pub const UNBOUNDED: u64 = u64::MAX;

/// A rank domain: every place whose values are ever compared with, or copied into, one
/// another (see [`Counters`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Counter {
    /// Every fencing token of every key: the server's counter and its disk copy, tokens in
    /// messages, holders', waiters' and records' tokens, the clients' held and released
    /// tokens, the resource's highest and its answers, the oracles' ghost tokens.
    Token,
    /// The sequence numbers of one client incarnation: its request ids and idempotency
    /// keys, wherever they are kept (its own counters, the server's records and queue,
    /// the resource's answered writes, messages).
    Seq(NodeId, u32),
}

/// Every counter value a machine keeps, for a model checker that ranks them.
///
/// The core only compares counters of one domain, copies them, and draws a fresh one as
/// the largest of its domain plus one (a new token, a new request id). So replacing each
/// domain's values by their ranks (0 kept as 0, the fixed point every counter starts at)
/// keeps every comparison, and the fresh value stays above every value of its domain: a
/// state and its ranked form behave alike. Each role lists its members next to its state.
/// `f(domain, value)` returns the value to keep.
pub trait Counters {
    fn map_counters(&mut self, f: &mut dyn FnMut(Counter, u64) -> u64);
}

impl Token {
    /// This token, rewritten by a [`Counters`] map.
    #[must_use]
    pub fn mapped(self, f: &mut dyn FnMut(Counter, u64) -> u64) -> Token {
        Token(f(Counter::Token, self.0))
    }
}

impl ReqId {
    /// This request id of `client`'s, rewritten by a [`Counters`] map.
    #[must_use]
    pub fn mapped(self, client: NodeId, f: &mut dyn FnMut(Counter, u64) -> u64) -> ReqId {
        ReqId {
            seq: f(Counter::Seq(client, self.incarnation), self.seq),
            ..self
        }
    }
}

impl IdemKey {
    /// This idempotency key, rewritten by a [`Counters`] map.
    #[must_use]
    pub fn mapped(self, f: &mut dyn FnMut(Counter, u64) -> u64) -> IdemKey {
        IdemKey {
            seq: f(Counter::Seq(self.node, self.incarnation), self.seq),
            ..self
        }
    }
}

impl JobOutcome {
    /// The outcome with a fenced job's current token passed through `f`.
    #[must_use]
    pub fn map_current(self, f: impl FnOnce(Token) -> Token) -> JobOutcome {
        match self {
            JobOutcome::Fenced { current } => JobOutcome::Fenced {
                current: f(current),
            },
            o => o,
        }
    }
}

/// The parts of a message a model checker rewrites, one method per kind (each keeps its
/// part by default): [`Msg::map_parts`] calls them on every part of its kind, so a
/// rewrite of messages is written once, whatever it rewrites.
pub trait MsgParts {
    fn token(&mut self, t: Token) -> Token {
        t
    }
    fn request(&mut self, id: ReqId) -> ReqId {
        id
    }
    fn idem(&mut self, idem: IdemKey) -> IdemKey {
        idem
    }
}

impl Msg {
    /// The message with every token (a refusal's and a fenced job's current one
    /// included), request id and idempotency key passed through `p`.
    #[must_use]
    pub fn map_parts(self, p: &mut dyn MsgParts) -> Msg {
        match self {
            Msg::Acquire { key, id } => Msg::Acquire {
                key,
                id: p.request(id),
            },
            Msg::Renew {
                key,
                id,
                token,
                acked,
            } => Msg::Renew {
                key,
                id: p.request(id),
                token: p.token(token),
                acked,
            },
            Msg::Release { key, id, token } => Msg::Release {
                key,
                id: p.request(id),
                token: p.token(token),
            },
            Msg::Granted { key, id, token } => Msg::Granted {
                key,
                id: p.request(id),
                token: p.token(token),
            },
            Msg::Renewed { key, id, token } => Msg::Renewed {
                key,
                id: p.request(id),
                token: p.token(token),
            },
            Msg::Queued { key, id } => Msg::Queued {
                key,
                id: p.request(id),
            },
            Msg::Refused {
                key,
                id,
                token,
                reason,
            } => Msg::Refused {
                key,
                id: p.request(id),
                token: token.map(|t| p.token(t)),
                reason,
            },
            Msg::Released { key, id, token } => Msg::Released {
                key,
                id: p.request(id),
                token: p.token(token),
            },
            Msg::Write { key, token, idem } => Msg::Write {
                key,
                token: p.token(token),
                idem: p.idem(idem),
            },
            Msg::WriteAck { key, token, idem } => Msg::WriteAck {
                key,
                token: p.token(token),
                idem: p.idem(idem),
            },
            Msg::WriteRejected {
                key,
                token,
                idem,
                current,
            } => Msg::WriteRejected {
                key,
                token: p.token(token),
                idem: p.idem(idem),
                current: p.token(current),
            },
            Msg::Apply {
                key,
                token,
                job,
                idem,
            } => Msg::Apply {
                key,
                token: p.token(token),
                job,
                idem: p.idem(idem),
            },
            Msg::JobResult {
                key,
                token,
                job,
                idem,
                outcome,
            } => Msg::JobResult {
                key,
                token: p.token(token),
                job,
                idem: p.idem(idem),
                outcome: outcome.map_current(|t| p.token(t)),
            },
        }
    }

    /// The client at one end of a link from `from` to `to`: a request id names no node,
    /// so it is in this client's sequence domain ([`Counter::Seq`]).
    #[must_use]
    pub fn client_end(from: NodeId, to: NodeId) -> NodeId {
        if from.is_client() {
            from
        } else {
            to
        }
    }

    /// The message with its counters rewritten; `client` is the client end of the link
    /// ([`Msg::client_end`]; request ids carry no node).
    #[must_use]
    pub fn mapped(self, client: NodeId, f: &mut dyn FnMut(Counter, u64) -> u64) -> Msg {
        struct Ranked<'a> {
            client: NodeId,
            f: &'a mut dyn FnMut(Counter, u64) -> u64,
        }
        impl MsgParts for Ranked<'_> {
            fn token(&mut self, t: Token) -> Token {
                t.mapped(self.f)
            }
            fn request(&mut self, id: ReqId) -> ReqId {
                id.mapped(self.client, self.f)
            }
            fn idem(&mut self, idem: IdemKey) -> IdemKey {
                idem.mapped(self.f)
            }
        }
        self.map_parts(&mut Ranked { client, f })
    }
}

/// Renaming nodes, for the model checker's symmetry reduction: clients are interchangeable,
/// so a state and the same state with two clients' names swapped behave alike. Every type
/// that holds a `NodeId` can rewrite them with a permutation `f`.
pub trait RemapNodes {
    #[must_use]
    fn remap_nodes(&self, f: &dyn Fn(NodeId) -> NodeId) -> Self;
}

impl RemapNodes for Identity {
    fn remap_nodes(&self, f: &dyn Fn(NodeId) -> NodeId) -> Self {
        Identity {
            node: f(self.node),
            ..*self
        }
    }
}

impl RemapNodes for IdemKey {
    fn remap_nodes(&self, f: &dyn Fn(NodeId) -> NodeId) -> Self {
        IdemKey {
            node: f(self.node),
            ..*self
        }
    }
}

impl RemapNodes for Msg {
    /// Only idempotency keys name a node.
    fn remap_nodes(&self, f: &dyn Fn(NodeId) -> NodeId) -> Self {
        struct Renamed<'a>(&'a dyn Fn(NodeId) -> NodeId);
        impl MsgParts for Renamed<'_> {
            fn idem(&mut self, idem: IdemKey) -> IdemKey {
                idem.remap_nodes(self.0)
            }
        }
        self.map_parts(&mut Renamed(f))
    }
}

/// A value fixed for a whole run (a node's config): compared and ordered like the value,
/// but left out of the hash, which the model checker computes for every state. Equal values
/// still hash equal, as `Hash` requires: the hash ignores it altogether. A state type
/// derives `Hash` with its config wrapped in this, instead of listing every other field in
/// a hand-written impl.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unhashed<T>(pub T);

impl<T> std::hash::Hash for Unhashed<T> {
    fn hash<H: std::hash::Hasher>(&self, _state: &mut H) {}
}

impl<T> std::ops::Deref for Unhashed<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// FNV-1a: a fixed, portable hasher (std's hasher may change between Rust versions): the
/// simulator's trace hashes and the model's symmetry representatives.
#[derive(Clone, Copy, Debug)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_numbered_once_and_keep_the_reference_numbering() {
        // The reference protocol's numbering (and every hash over it) stays: server 0,
        // resource 1, clients from 2; further authorities sit above every client.
        assert_eq!(NodeId::authority(0), NodeId(0));
        assert_eq!(NodeId::RESOURCE, NodeId(1));
        assert_eq!(NodeId::client(0), NodeId(2));
        assert_eq!(NodeId::client(7).client_index(), Some(7));
        for a in [
            NodeId::authority(0),
            NodeId::authority(1),
            NodeId::authority(4),
        ] {
            assert!(
                a.is_authority() && !a.is_client() && !a.is_resource(),
                "{a}"
            );
        }
        assert_ne!(NodeId::authority(1), NodeId::authority(2));
        assert!(NodeId::RESOURCE.is_resource() && !NodeId::RESOURCE.is_client());
        assert!(NodeId::client(1_000).is_client() && !NodeId::client(3).is_authority());
        assert_eq!(NodeId::authority(0).name(), "server");
        assert_eq!(NodeId::authority(2).name(), "authority-2");
        assert_eq!(NodeId::RESOURCE.name(), "resource");
        assert_eq!(NodeId::client(3).name(), "client-3");
    }
}
