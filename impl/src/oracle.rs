//! The oracles: one module, called by the simulator, the model checker and the stepper.
//!
//! Each oracle is an incremental observer with a small ghost state (`Clone + Eq + Hash`, so
//! it can live inside a model state; never an unbounded log), fed the run's events stamped
//! with the *server's* clock reading at that instant. A grant is **live** while
//! `server_clock < expiry` and its owner has not decided to release it. True time is used
//! only for metrics and belief overlap ([`BeliefOverlap`]).
//!
//! | oracle | fails when |
//! |---|---|
//! | single-holder | two grants on one key are live at once |
//! | token-monotonic | a key's grants do not strictly increase, across restarts |
//! | fenced-writes | the resource accepts a token below one it accepted, or one token from two clients |
//! | lease-containment | a client decides to write when its grant is not live |
//! | liveness | a client waiting at heal has not held by the bound of [`liveness_bound_ns_for`] |
//! | deadlock | a wait-for cycle among clients (each holds a key the next one waits for) persists past a bound ([`deadlock_bound_ns`]; 0 in the model) |
//! | exactly-once | a job is applied twice, or applied and dead-lettered; or, once the run has healed and settled, neither ([`SafetyOracles::unresolved_jobs`]) |
//!
//! A write decided inside the lease that arrives late is not a containment failure: that is
//! the case fencing exists for, and fenced-writes judges it.

use crate::config::{drift, Config};
use crate::output::Event;
use crate::tenure::TenureEvent;
use crate::types::{
    Counter, Counters, Identity, Instants, Job, Key, Nanos, NodeId, RemapNodes, Token, UNBOUNDED,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The name of an oracle, as written in scenario files.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::VariantArray,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum OracleName {
    SingleHolder,
    TokenMonotonic,
    FencedWrites,
    LeaseContainment,
    Liveness,
    ExactlyOnce,
    Deadlock,
    /// stale-write-accepted, for every protocol: the resource accepted a write whose
    /// tenure is lower than that of a write it already accepted on the key. The ghost
    /// tenure of a write is the latest tenure the authority began for the writing client
    /// incarnation; for a protocol with fencing tokens (the reference) it is the token's,
    /// so the oracle reads the fenced-writes ghost and no new state enters the model.
    /// Judged only where a scenario names it ([`OracleName::NAMED_ONLY`]).
    StaleWriteAccepted,
    /// belief-exclusivity, for every protocol: two clients that may act on the same key
    /// at one instant (reference: both Holding, deadline passed or not).
    /// Judged by the simulator at the core's own step and by the model as an `Always`
    /// within the protocol's assumptions for it ([`crate::Assumptions::oracle_breaches`]).
    /// Judged only where a scenario names it ([`OracleName::NAMED_ONLY`]).
    BeliefExclusivity,
}

impl OracleName {
    /// Every oracle, in declaration order (derived: a new oracle cannot be missing).
    pub const ALL: &'static [OracleName] = <OracleName as strum::VariantArray>::VARIANTS;
    /// The safety oracles judged on every run (all but liveness, deadlock and the
    /// [`OracleName::NAMED_ONLY`] ones, which are safety oracles judged where named).
    pub const SAFETY: [OracleName; 5] = [
        OracleName::SingleHolder,
        OracleName::TokenMonotonic,
        OracleName::FencedWrites,
        OracleName::LeaseContainment,
        OracleName::ExactlyOnce,
    ];

    /// The protocol-neutral oracles added after the first scenarios were written: judged
    /// and reported only where a scenario's `always` or `finds` names them, so a scenario
    /// that does not keeps its verdict and its `also_tripped`.
    pub const NAMED_ONLY: [OracleName; 2] = [
        OracleName::StaleWriteAccepted,
        OracleName::BeliefExclusivity,
    ];

    /// The name in scenario files and reports (kebab-case, derived: the same as serde's).
    #[must_use]
    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Result<OracleName, String> {
        OracleName::ALL
            .iter()
            .copied()
            .find(|o| o.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = OracleName::ALL.iter().map(|o| o.name()).collect();
                format!("unknown oracle {s:?}; expected one of {}", names.join(", "))
            })
    }

    #[must_use]
    pub fn is_safety(self) -> bool {
        !matches!(self, OracleName::Liveness | OracleName::Deadlock)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for OracleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an oracle saw, in numbers (no strings, so it can live in a model state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Violation {
    TwoLiveGrants {
        key: Key,
        live: Token,
        live_owner: Identity,
        new: Token,
        new_owner: Identity,
    },
    TokenNotRising {
        key: Key,
        token: Token,
        after: Token,
    },
    StaleTokenAccepted {
        key: Key,
        token: Token,
        after: Token,
    },
    TokenFromTwoClients {
        key: Key,
        token: Token,
        first: Identity,
        second: Identity,
    },
    WriteOutsideLease {
        key: Key,
        token: Token,
        client: Identity,
        why: NotLive,
    },
    NotServed {
        client: Identity,
        key: Key,
        deadline: Nanos,
    },
    /// A job's effect was applied a second time (by `client`, with `token`).
    JobAppliedTwice {
        key: Key,
        job: Job,
        token: Token,
        client: Identity,
    },
    /// A job was both applied and dead-lettered.
    JobAppliedAndDeadLettered { key: Key, job: Job },
    /// After heal and the settling phase, a job was neither applied nor dead-lettered.
    JobUnresolved { job: Job },
    /// The resource accepted a write of `client` under `tenure` after one under the
    /// higher tenure `after` (stale-write-accepted).
    StaleWriteAccepted {
        key: Key,
        client: Identity,
        tenure: u64,
        after: u64,
    },
    /// Two clients may act on one key at one instant (belief-exclusivity).
    BeliefsOverlap {
        key: Key,
        first: NodeId,
        second: NodeId,
    },
    /// A wait-for cycle that lasted from `since` (server clock) past the bound: client
    /// `cycle[i].0` waits for key `cycle[i].1`, held by the next client of the cycle.
    Deadlock {
        cycle: [(NodeId, Key); MAX_CYCLE],
        len: u8,
        since: Nanos,
    },
}

/// The longest wait-for cycle a violation names (longer ones are cut).
pub const MAX_CYCLE: usize = 8;

/// Why a grant was not live when a write was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum NotLive {
    /// The server's clock had reached the grant's expiry (by `late_ns`).
    Expired {
        late_ns: u64,
    },
    Released,
    /// The authority ended it (another client took over).
    Ended,
    /// No such grant exists (it expired and was forgotten, or never was).
    Unknown,
    /// The grant belongs to another client.
    NotOwner {
        owner: Identity,
    },
}

impl Violation {
    #[must_use]
    pub fn oracle(&self) -> OracleName {
        match self {
            Violation::TwoLiveGrants { .. } => OracleName::SingleHolder,
            Violation::TokenNotRising { .. } => OracleName::TokenMonotonic,
            Violation::StaleTokenAccepted { .. } | Violation::TokenFromTwoClients { .. } => {
                OracleName::FencedWrites
            }
            Violation::WriteOutsideLease { .. } => OracleName::LeaseContainment,
            Violation::NotServed { .. } => OracleName::Liveness,
            Violation::JobAppliedTwice { .. }
            | Violation::JobAppliedAndDeadLettered { .. }
            | Violation::JobUnresolved { .. } => OracleName::ExactlyOnce,
            Violation::Deadlock { .. } => OracleName::Deadlock,
            Violation::StaleWriteAccepted { .. } => OracleName::StaleWriteAccepted,
            Violation::BeliefsOverlap { .. } => OracleName::BeliefExclusivity,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.oracle();
        match *self {
            Violation::TwoLiveGrants { key, live, live_owner, new, new_owner } => write!(
                f,
                "{o}: token {new} granted to {new_owner} on key {key} while token {live} of {live_owner} is live"
            ),
            Violation::TokenNotRising { key, token, after } => {
                write!(f, "{o}: token {token} granted on key {key} after token {after}")
            }
            Violation::StaleTokenAccepted { key, token, after } => write!(
                f,
                "{o}: resource accepted token {token} after token {after} on key {key}"
            ),
            Violation::TokenFromTwoClients { key, token, first, second } => write!(
                f,
                "{o}: resource accepted token {token} on key {key} from {first} and from {second}"
            ),
            Violation::WriteOutsideLease { key, token, client, why } => {
                write!(f, "{o}: {client} decided a write with token {token} on key {key} ")?;
                match why {
                    NotLive::Expired { late_ns } => write!(
                        f,
                        "{:.3} ms after its grant expired on the server's clock",
                        late_ns as f64 / 1e6
                    ),
                    NotLive::Released => write!(f, "after releasing it"),
                    NotLive::Ended => write!(f, "after the authority ended it"),
                    NotLive::Unknown => write!(f, "that is not a live grant"),
                    NotLive::NotOwner { owner } => write!(f, "but the grant is {owner}'s"),
                }
            }
            Violation::NotServed { client, key, deadline } => write!(
                f,
                "{o}: {client} waited on key {key} and had not held by the bound (server clock {deadline})"
            ),
            Violation::JobAppliedTwice { key, job, token, client } => write!(
                f,
                "{o}: {job} on key {key} applied a second time, by {client} with token {token}"
            ),
            Violation::JobAppliedAndDeadLettered { key, job } => {
                write!(f, "{o}: {job} on key {key} both applied and dead-lettered")
            }
            Violation::JobUnresolved { job } => write!(
                f,
                "{o}: {job} neither applied nor dead-lettered after the run healed and settled"
            ),
            Violation::StaleWriteAccepted { key, client, tenure, after } => write!(
                f,
                "{o}: resource accepted a write of {client} under tenure {tenure} after one under tenure {after} on key {key}"
            ),
            Violation::BeliefsOverlap { key, first, second } => write!(
                f,
                "{o}: {first} and {second} may both act on key {key} at one instant"
            ),
            Violation::Deadlock { cycle, len, since } => {
                write!(f, "{o}: wait-for cycle since server clock {since}: ")?;
                let cycle = &cycle[..usize::from(len)];
                for (i, (node, key)) in cycle.iter().enumerate() {
                    let holder = cycle[(i + 1) % cycle.len()].0;
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{node} waits for {key} held by {holder}")?;
                }
                Ok(())
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct GrantGhost {
    owner: Identity,
    expiry: Nanos,
    released: bool,
    /// The authority ended it, a grant without expiry (a takeover, for a protocol whose
    /// authority expires nothing: [`TenureEvent::Ended`]).
    ended: bool,
}

impl GrantGhost {
    fn live(&self, server_now: Nanos) -> bool {
        server_now < self.expiry && !self.released && !self.ended
    }
}

/// What the exactly-once oracle knows of one job: how often its effect was applied, and
/// whether it was dead-lettered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct JobGhost {
    applied: u8,
    dead: bool,
}

/// The safety oracles, with their ghost state.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SafetyOracles {
    /// Grants that may still be live, per key (dead ones are pruned).
    grants: BTreeMap<Key, BTreeMap<Token, GrantGhost>>,
    max_granted: BTreeMap<Key, Token>,
    max_accepted: BTreeMap<Key, (Token, Identity)>,
    /// Exactly-once work: every job seen applied or dead-lettered (empty without jobs).
    jobs: BTreeMap<Job, JobGhost>,
    /// The deadlock oracle's wait-for graph, kept only for lock sets (the server does not
    /// know who waits: clients back off): who believes it holds each key, which key each
    /// client waits for, and since when a cycle has existed.
    waits_tracked: bool,
    holds: BTreeMap<Key, NodeId>,
    waits: BTreeMap<NodeId, Key>,
    cycle_since: Option<Nanos>,
    /// The [`OracleName::NAMED_ONLY`] oracles to judge (bits of [`OracleName`]).
    named: u16,
    tripped: u16,
}

impl SafetyOracles {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether an oracle has failed at least once.
    #[must_use]
    pub fn tripped(&self, o: OracleName) -> bool {
        self.tripped & o.bit() != 0
    }

    /// Whether any safety oracle has failed.
    #[must_use]
    pub fn any_tripped(&self) -> bool {
        self.tripped != 0
    }

    /// The same oracles, also judging those of [`OracleName::NAMED_ONLY`] that `named`
    /// lists (a scenario's `always` and `finds`); the others in `named` are judged anyway.
    #[must_use]
    pub fn judging(self, named: &[OracleName]) -> Self {
        let named = named
            .iter()
            .filter(|o| OracleName::NAMED_ONLY.contains(o))
            .fold(0, |b, o| b | o.bit());
        SafetyOracles { named, ..self }
    }

    /// Whether an oracle is judged: every oracle but the named-only ones not asked for.
    #[must_use]
    pub fn judges(&self, o: OracleName) -> bool {
        !OracleName::NAMED_ONLY.contains(&o) || self.named & o.bit() != 0
    }

    /// Oracles for a run of lock-set clients: the deadlock oracle's wait-for graph is kept.
    #[must_use]
    pub fn with_wait_for_graph() -> Self {
        SafetyOracles {
            waits_tracked: true,
            ..Self::default()
        }
    }

    /// The current wait-for cycle, if any, as (waiter, key it waits for) pairs.
    fn cycle(&self) -> Option<Vec<(NodeId, Key)>> {
        for &start in self.waits.keys() {
            let mut path: Vec<(NodeId, Key)> = Vec::new();
            let mut at = start;
            while let Some(&key) = self.waits.get(&at) {
                let Some(&holder) = self.holds.get(&key) else {
                    break;
                };
                if holder == at {
                    break;
                }
                path.push((at, key));
                if let Some(i) = path.iter().position(|(n, _)| *n == holder) {
                    return Some(path.split_off(i));
                }
                if path.len() > self.waits.len() {
                    break;
                }
                at = holder;
            }
        }
        None
    }

    /// The deadlock oracle: a wait-for cycle that has lasted `bound_ns` by `server_now`.
    #[must_use]
    pub fn deadlock(&self, server_now: Nanos, bound_ns: u64) -> Option<Violation> {
        let since = self.cycle_since?;
        if server_now < since.plus(bound_ns) {
            return None;
        }
        let c = self.cycle()?;
        let mut cycle = [(NodeId(0), Key(0)); MAX_CYCLE];
        for (slot, e) in cycle.iter_mut().zip(&c) {
            *slot = *e;
        }
        Some(Violation::Deadlock {
            cycle,
            len: c.len().min(MAX_CYCLE) as u8,
            since,
        })
    }

    /// The wait-for graph's part of an event: writes (through `g`, see [`Self::judge`]) only
    /// for the events that move the graph.
    fn track_waits(g: &mut Cow<'_, SafetyOracles>, server_now: Nanos, ev: TenureEvent) {
        match ev {
            TenureEvent::Booted { client } => {
                if g.holds.values().any(|n| *n == client.node) || g.waits.contains_key(&client.node)
                {
                    let o = g.to_mut();
                    o.holds.retain(|_, n| *n != client.node);
                    o.waits.remove(&client.node);
                }
            }
            TenureEvent::Wanted { client, key } => {
                if g.waits.get(&client.node) != Some(&key) {
                    g.to_mut().waits.insert(client.node, key);
                }
            }
            TenureEvent::Withdrew { client, key } => {
                if g.waits.get(&client.node) == Some(&key) {
                    g.to_mut().waits.remove(&client.node);
                }
            }
            TenureEvent::Acting { client, key, .. } => {
                let waited = g.waits.get(&client.node) == Some(&key);
                if waited || g.holds.get(&key) != Some(&client.node) {
                    let o = g.to_mut();
                    if waited {
                        o.waits.remove(&client.node);
                    }
                    o.holds.insert(key, client.node);
                }
            }
            TenureEvent::Stopped { client, key, .. }
            | TenureEvent::GaveBack { client, key, .. } => {
                if g.holds.get(&key) == Some(&client.node) {
                    g.to_mut().holds.remove(&key);
                }
            }
            _ => return,
        }
        match (g.cycle().is_some(), g.cycle_since) {
            (true, None) => g.to_mut().cycle_since = Some(server_now),
            (false, Some(_)) => g.to_mut().cycle_since = None,
            _ => {}
        }
    }

    /// The jobs of `0..count` that are neither applied nor dead-lettered: called by a shell
    /// once its run has healed and settled ("never neither"); each is a violation then.
    #[must_use]
    pub fn unresolved_jobs(&self, count: u32) -> Vec<Violation> {
        (0..count)
            .map(Job)
            .filter(|j| self.jobs.get(j).is_none_or(|g| g.applied == 0 && !g.dead))
            .map(|job| Violation::JobUnresolved { job })
            .collect()
    }

    /// Records end-of-run violations found by a shell (as [`Self::unresolved_jobs`]).
    pub fn trip(&mut self, v: &Violation) {
        self.tripped |= v.oracle().bit();
    }

    /// Feeds one event, stamped with the server's clock; appends what it violates.
    pub fn observe(&mut self, server_now: Nanos, ev: &Event, found: &mut Vec<Violation>) {
        // The oracles read the protocol's events as tenure events (`Event::tenure`).
        if let Some(te) = ev.tenure() {
            self.observe_tenure(server_now, te, found);
        }
    }

    /// Feeds one tenure event, stamped with the authority's clock: what a plug-in's
    /// events map onto ([`crate::plugin::Protocol::tenure`]). Appends what it violates.
    pub fn observe_tenure(
        &mut self,
        server_now: Nanos,
        te: TenureEvent,
        found: &mut Vec<Violation>,
    ) {
        let mut g = Cow::Owned(std::mem::take(self));
        Self::judge(&mut g, server_now, te, found);
        *self = g.into_owned();
    }

    /// What feeding one event makes of the ghost state, or `None` when it stays as it is
    /// (most events only read it): the model checker then keeps one copy shared between a
    /// state and its successors. Appends what the event violates, as [`Self::observe`].
    #[must_use]
    pub fn observed(
        &self,
        server_now: Nanos,
        ev: &Event,
        found: &mut Vec<Violation>,
    ) -> Option<SafetyOracles> {
        let te = ev.tenure()?;
        let mut g = Cow::Borrowed(self);
        Self::judge(&mut g, server_now, te, found);
        match g {
            Cow::Owned(o) => Some(o),
            Cow::Borrowed(_) => None,
        }
    }

    /// The oracles' one body: reads through `g`, and writes (`to_mut`, a copy when `g` is
    /// borrowed) only what the event changes. One function per oracle below.
    fn judge(
        g: &mut Cow<'_, SafetyOracles>,
        server_now: Nanos,
        te: TenureEvent,
        found: &mut Vec<Violation>,
    ) {
        let before = found.len();
        if g.waits_tracked {
            Self::track_waits(g, server_now, te);
        }
        // For protocols with tokens (token-monotonic, fenced-writes) a tenure is the token.
        match te {
            TenureEvent::Began {
                client,
                key,
                tenure,
                expiry,
            } => Self::granted(g, server_now, client, key, Token(tenure), expiry, found),
            TenureEvent::Renewed {
                key,
                tenure,
                expiry,
            } => Self::renewed(g, key, Token(tenure), expiry),
            TenureEvent::GaveBack {
                client,
                key,
                tenure,
            } => Self::release_sent(g, client, key, Token(tenure)),
            TenureEvent::Ended {
                client,
                key,
                tenure,
                ..
            } => Self::ended(g, server_now, client, key, Token(tenure)),
            TenureEvent::WriteDecided {
                client,
                key,
                tenure,
            } => Self::lease_containment(g, server_now, client, key, Token(tenure), found),
            TenureEvent::WriteAccepted {
                client,
                key,
                tenure,
            } => Self::fenced_writes(g, client, key, Token(tenure), found),
            TenureEvent::JobApplied {
                client,
                key,
                tenure,
                job,
            } => Self::job_applied(g, client, key, Token(tenure), job, found),
            TenureEvent::JobDeadLettered { key, job } => {
                Self::job_dead_lettered(g, key, job, found);
            }
            _ => {}
        }
        for v in &found[before..] {
            let bit = v.oracle().bit();
            if g.tripped & bit == 0 {
                g.to_mut().tripped |= bit;
            }
        }
    }

    /// single-holder (no other grant on the key is live) and token-monotonic (the token is
    /// above every token granted on the key before); the grant becomes a live ghost.
    fn granted(
        g: &mut Cow<'_, SafetyOracles>,
        server_now: Nanos,
        client: Identity,
        key: Key,
        token: Token,
        expiry: Nanos,
        found: &mut Vec<Violation>,
    ) {
        let o = g.to_mut();
        let grants = o.grants.entry(key).or_default();
        grants.retain(|_, g| g.live(server_now));
        if let Some((&live, g)) = grants.iter().find(|(&t, _)| t != token) {
            found.push(Violation::TwoLiveGrants {
                key,
                live,
                live_owner: g.owner,
                new: token,
                new_owner: client,
            });
        }
        grants.insert(
            token,
            GrantGhost {
                owner: client,
                expiry,
                released: false,
                ended: false,
            },
        );
        let max = o.max_granted.entry(key).or_default();
        if token <= *max {
            found.push(Violation::TokenNotRising {
                key,
                token,
                after: *max,
            });
        }
        *max = (*max).max(token);
    }

    /// A renewal extends its grant's ghost expiry (never shortens it).
    fn renewed(g: &mut Cow<'_, SafetyOracles>, key: Key, token: Token, expiry: Nanos) {
        // (A key first named here gets an empty entry, as a grant's would.)
        let grows = g
            .grants
            .get(&key)
            .map(|m| m.get(&token).is_some_and(|gg| expiry > gg.expiry));
        if grows != Some(false) {
            let o = g.to_mut().grants.entry(key).or_default();
            if let Some(gg) = o.get_mut(&token) {
                gg.expiry = gg.expiry.max(expiry);
            }
        }
    }

    /// The owner's decision to release ends its grant's liveness.
    fn release_sent(g: &mut Cow<'_, SafetyOracles>, client: Identity, key: Key, token: Token) {
        let ends = g.grants.get(&key).map(|m| {
            m.get(&token)
                .is_some_and(|gg| gg.owner == client && !gg.released)
        });
        if ends != Some(false) {
            let o = g.to_mut().grants.entry(key).or_default();
            if let Some(gg) = o.get_mut(&token) {
                if gg.owner == client {
                    gg.released = true;
                }
            }
        }
    }

    /// The authority ended a grant that has no expiry (a protocol whose authority expires
    /// nothing ends a tenure only so: a takeover, a release). A grant with an expiry (the
    /// reference protocol's) ends by it or by its release as before: an `Ended` for one
    /// still live is what a buggy server does (releasing another client's grant), which
    /// the oracles must go on catching by its consequences, not take as the truth.
    fn ended(
        g: &mut Cow<'_, SafetyOracles>,
        server_now: Nanos,
        client: Identity,
        key: Key,
        token: Token,
    ) {
        let live = g
            .grants
            .get(&key)
            .and_then(|m| m.get(&token))
            .is_some_and(|gg| gg.owner == client && gg.expiry == Nanos::MAX && gg.live(server_now));
        if live {
            if let Some(gg) = g.to_mut().grants.entry(key).or_default().get_mut(&token) {
                gg.ended = true;
            }
        }
    }

    /// lease-containment: a client decides to write only under a live grant of its own.
    fn lease_containment(
        g: &SafetyOracles,
        server_now: Nanos,
        client: Identity,
        key: Key,
        token: Token,
        found: &mut Vec<Violation>,
    ) {
        let why = match g.grants.get(&key).and_then(|m| m.get(&token)) {
            None => Some(NotLive::Unknown),
            Some(gg) if gg.owner != client => Some(NotLive::NotOwner { owner: gg.owner }),
            Some(gg) if gg.released => Some(NotLive::Released),
            Some(gg) if gg.ended => Some(NotLive::Ended),
            Some(gg) if server_now >= gg.expiry => Some(NotLive::Expired {
                late_ns: server_now.since(gg.expiry),
            }),
            Some(_) => None,
        };
        if let Some(why) = why {
            found.push(Violation::WriteOutsideLease {
                key,
                token,
                client,
                why,
            });
        }
    }

    /// fenced-writes: the resource never accepts a token below one it accepted, nor one
    /// token from two clients.
    fn fenced_writes(
        g: &mut Cow<'_, SafetyOracles>,
        client: Identity,
        key: Key,
        token: Token,
        found: &mut Vec<Violation>,
    ) {
        match g.max_accepted.get(&key).copied() {
            Some((high, _)) if token < high => {
                found.push(Violation::StaleTokenAccepted {
                    key,
                    token,
                    after: high,
                });
                // stale-write-accepted: with fencing tokens a write's tenure is its
                // token's (the grant that began it), so the highest accepted token is the
                // highest accepted tenure.
                if g.judges(OracleName::StaleWriteAccepted) {
                    found.push(Violation::StaleWriteAccepted {
                        key,
                        client,
                        tenure: token.0,
                        after: high.0,
                    });
                }
            }
            Some((high, first)) if token == high && first != client => {
                found.push(Violation::TokenFromTwoClients {
                    key,
                    token,
                    first,
                    second: client,
                });
            }
            Some((high, _)) if token == high => {}
            _ => {
                g.to_mut().max_accepted.insert(key, (token, client));
            }
        }
    }

    /// exactly-once, its "applied twice, or applied and dead-lettered" half.
    fn job_applied(
        g: &mut Cow<'_, SafetyOracles>,
        client: Identity,
        key: Key,
        token: Token,
        job: Job,
        found: &mut Vec<Violation>,
    ) {
        let j = g.to_mut().jobs.entry(job).or_default();
        j.applied = j.applied.saturating_add(1);
        if j.applied > 1 {
            found.push(Violation::JobAppliedTwice {
                key,
                job,
                token,
                client,
            });
        }
        if j.dead {
            found.push(Violation::JobAppliedAndDeadLettered { key, job });
        }
    }

    /// exactly-once: a job dead-lettered after it was applied.
    fn job_dead_lettered(
        g: &mut Cow<'_, SafetyOracles>,
        key: Key,
        job: Job,
        found: &mut Vec<Violation>,
    ) {
        let j = g.to_mut().jobs.entry(job).or_default();
        let again = j.dead;
        j.dead = true;
        if j.applied > 0 && !again {
            found.push(Violation::JobAppliedAndDeadLettered { key, job });
        }
    }
}

/// The liveness bound: a client waiting at heal must hold by
/// `heal + delay_max + max(ttl + backoff_max, own) + grace + ahead × (tenure + 2·latency_max + requeue_interval)`
/// (`tenure` from [`tenure_bound_ns`]),
/// where `delay_max` is the longest delay a message sent before heal can still have, `grace`
/// is one TTL if the server restarted (its grace period), and `ahead` counts the clients
/// that may be served before it (see [`Liveness::heal`]). Every term is stretched by `(1+ρ)` because
/// the bound is measured on the server's clock while the client's timers run on its own.
///
/// `ttl + backoff_max` is a grant left over at heal running out, then the waiter's next
/// try. `own = 2·requeue_interval + max(requeue_interval, backoff_max) + 4·latency_max` is
/// the waiter's *own* grant left over (its Release lost before heal, its tries spent, see
/// `RELEASE_TRIES`): that grant does not run out, because the server answers the waiter's
/// own Acquires as renewals of it. An answer that arrives while the last Release try is
/// pending is ignored (up to one `requeue_interval`, then the try is dropped); the next
/// Acquire (within `max(requeue_interval, backoff_max)`) is renewed and its answer, a
/// token the client gave back, makes it send a Release (two latencies) and re-send one
/// `requeue_interval` later, granted and adopted two latencies on. Found by the model
/// checker (`check --closed --liveness --clients 1 --link-capacity 1 --losses 0
/// --drift-moves 1 --rate-skew 1/3 --max-pause 2 --crash-points`: one client waited 10
/// ticks against the old bound of 9).
#[must_use]
pub fn liveness_bound_ns_for(
    cfg: &Config,
    delay_max_ns: u64,
    latency_max_ns: u64,
    ahead: u64,
    server_restarted: bool,
) -> u64 {
    let grace = if server_restarted { cfg.ttl_ns } else { 0 };
    let per_holder = tenure_bound_ns(cfg, latency_max_ns)
        .saturating_add(latency_max_ns.saturating_mul(2))
        .saturating_add(cfg.requeue_interval_ns);
    let left_over = cfg.ttl_ns.saturating_add(cfg.backoff_max_ns);
    let own = cfg
        .requeue_interval_ns
        .saturating_mul(2)
        .saturating_add(cfg.requeue_interval_ns.max(cfg.backoff_max_ns))
        .saturating_add(latency_max_ns.saturating_mul(4));
    let sum = delay_max_ns
        .saturating_add(left_over.max(own))
        .saturating_add(grace)
        .saturating_add(ahead.saturating_mul(per_holder));
    drift::stretch(sum, cfg.drift_ppm_max)
}

/// How long one tenure can last after heal: `hold`, or, with the work counted in accepted
/// writes, `hold_writes × write_interval` plus a round trip for the last ack. A holder whose
/// worker is stuck never finishes; progress-based extension bounds it by
/// `progress_window + renew_interval + ttl` (its count stops rising, its next renewal is
/// withheld, its grant runs out). Without that mode nothing bounds it, which is the point of
/// the stalled-holder twin.
#[must_use]
pub fn tenure_bound_ns(cfg: &Config, latency_max_ns: u64) -> u64 {
    if cfg.hold_writes == 0 {
        return cfg.hold_ns;
    }
    let writes = u64::from(cfg.hold_writes)
        .saturating_mul(cfg.write_interval_ns)
        .saturating_add(latency_max_ns.saturating_mul(2));
    if cfg.progress_window_ns > 0 {
        writes.max(
            cfg.progress_window_ns
                .saturating_add(cfg.renew_interval_ns)
                .saturating_add(cfg.ttl_ns),
        )
    } else {
        writes
    }
}

/// How long after heal an exactly-once workload must be settled (every job applied or
/// dead-lettered): the liveness bound for the last client in line, then every attempt the
/// budget allows, one per `write_interval + 2·latency_max`, plus a hand-over
/// (`ttl + think + requeue_interval + 2·latency_max`) for every tenure the attempts span,
/// and each tenure's pass over the jobs a new holder does not yet know are done (one
/// attempt each, answered from the record).
/// Stretched by `(1+ρ)` like the liveness bound.
#[must_use]
pub fn jobs_settle_bound_ns(
    cfg: &Config,
    delay_max_ns: u64,
    latency_max_ns: u64,
    clients: u64,
    server_restarted: bool,
) -> u64 {
    let first = liveness_bound_ns_for(
        cfg,
        delay_max_ns,
        latency_max_ns,
        clients.saturating_sub(1),
        server_restarted,
    );
    let per_attempt = cfg
        .write_interval_ns
        .saturating_add(latency_max_ns.saturating_mul(2));
    let attempts = u64::from(cfg.jobs.count).saturating_mul(u64::from(cfg.jobs.attempts.max(1)));
    let work = attempts.saturating_mul(per_attempt);
    let tenure = tenure_bound_ns(cfg, latency_max_ns).max(1);
    let tenures = work / tenure + 1;
    let hand_over = cfg
        .ttl_ns
        .saturating_add(cfg.think_ns)
        .saturating_add(cfg.requeue_interval_ns)
        .saturating_add(latency_max_ns.saturating_mul(2));
    let relearn = u64::from(cfg.jobs.count).saturating_mul(per_attempt);
    let rest = work.saturating_add(tenures.saturating_mul(hand_over.saturating_add(relearn)));
    let rest = drift::stretch(rest, cfg.drift_ppm_max);
    first.saturating_add(rest)
}

/// How long a wait-for cycle may last before the deadlock oracle calls it one: two TTLs
/// and a tenure, stretched by `(1+ρ)`. With the keys taken in one global order no cycle
/// forms at all; the slack absorbs ghost views that lag (a loss not yet noticed).
#[must_use]
pub fn deadlock_bound_ns(cfg: &Config) -> u64 {
    let sum = cfg.ttl_ns.saturating_mul(2).saturating_add(cfg.hold_ns);
    drift::stretch(sum, cfg.drift_ppm_max)
}

/// The liveness oracle: which clients wait, and whether each waiter at heal was served.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Liveness {
    /// Waiting clients per key (the incarnation that waits).
    waiting: BTreeMap<(Key, NodeId), Identity>,
    /// Deadlines set at heal, per waiting client.
    deadlines: BTreeMap<(Key, NodeId), Nanos>,
}

impl Liveness {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Who waits: a client that wants a key until it holds it or withdraws. (No time is
    /// kept: the deadlines are set at heal, from the bound.)
    pub fn observe(&mut self, ev: &Event) {
        if let Some(te) = ev.tenure() {
            self.observe_tenure(te);
        }
    }

    /// Feeds one tenure event (what [`Self::observe`] reads of an event).
    pub fn observe_tenure(&mut self, te: TenureEvent) {
        match te {
            TenureEvent::Wanted { client, key }
            | TenureEvent::Stopped {
                client,
                key,
                preempted: Some(_),
            } => {
                self.waiting.insert((key, client.node), client);
            }
            TenureEvent::Acting { client, key, .. } | TenureEvent::Withdrew { client, key } => {
                self.waiting.remove(&(key, client.node));
                self.deadlines.remove(&(key, client.node));
            }
            _ => {}
        }
    }

    /// Faults healed at `server_now`: every client waiting now must hold by its bound.
    ///
    /// `ahead` is every other client (`clients - 1`), not the waiter's queue position: a
    /// server restart rebuilds the queue in re-send order and a partitioned waiter's entry
    /// goes stale, so position at heal does not fix the order of service. Once the network
    /// is healed a waiter's entry stays fresh, so no client is served twice before it.
    pub fn heal(&mut self, server_now: Nanos, clients: usize, bound: impl Fn(u64) -> u64) {
        let ahead = clients.saturating_sub(1) as u64;
        let deadline = server_now.plus(bound(ahead));
        for &k in self.waiting.keys() {
            self.deadlines.insert(k, deadline);
        }
    }

    /// The first waiter past its deadline at `server_now`, if any.
    #[must_use]
    pub fn check(&self, server_now: Nanos) -> Option<Violation> {
        let (&(key, node), &deadline) = self.deadlines.iter().find(|(_, &d)| server_now >= d)?;
        let client = self.waiting.get(&(key, node)).copied().unwrap_or(Identity {
            node,
            incarnation: 0,
        });
        Some(Violation::NotServed {
            client,
            key,
            deadline,
        })
    }

    /// The latest deadline set at heal (when the liveness phase can stop).
    #[must_use]
    pub fn last_deadline(&self) -> Option<Nanos> {
        self.deadlines.values().copied().max()
    }

    /// Whether every waiter at heal has been served.
    #[must_use]
    pub fn all_served(&self) -> bool {
        self.deadlines.is_empty()
    }
}

/// Belief overlap (a measurement, not a failure): true time during which two clients both
/// believed they held the same key. Shells report each client's belief as a true-time
/// end instant after every input to it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct BeliefOverlap {
    until: BTreeMap<(Key, NodeId), u64>,
    last_ns: u64,
    pub overlap_ns: u64,
    pub episodes: u32,
    overlapping: bool,
}

impl BeliefOverlap {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Accounts true time up to `true_now`, then sets the client's belief end (`None`: it
    /// does not believe).
    pub fn update(&mut self, true_now: u64, key: Key, node: NodeId, until: Option<u64>) {
        self.advance(true_now);
        match until.filter(|&u| u > true_now) {
            Some(u) => {
                self.until.insert((key, node), u);
            }
            None => {
                self.until.remove(&(key, node));
            }
        }
        self.advance(true_now);
    }

    /// Accounts time up to `true_now`.
    pub fn advance(&mut self, true_now: u64) {
        if true_now <= self.last_ns {
            self.check_start();
            return;
        }
        let from = self.last_ns;
        let keys: Vec<Key> = self.until.keys().map(|k| k.0).collect();
        let mut keys = keys;
        keys.dedup();
        for key in keys {
            let mut ends: Vec<u64> = self
                .until
                .iter()
                .filter(|(k, &u)| k.0 == key && u > from)
                .map(|(_, &u)| u.min(true_now))
                .collect();
            ends.sort_unstable();
            // Two or more believe from `from` until the second-latest end.
            if ends.len() >= 2 {
                let second = ends[ends.len() - 2];
                self.overlap_ns += second.saturating_sub(from);
            }
        }
        self.last_ns = true_now;
        self.until.retain(|_, &mut u| u > true_now);
        self.check_start();
    }

    fn check_start(&mut self) {
        let mut per_key: BTreeMap<Key, u32> = BTreeMap::new();
        for k in self.until.keys() {
            *per_key.entry(k.0).or_default() += 1;
        }
        let now_overlap = per_key.values().any(|&n| n >= 2);
        if now_overlap && !self.overlapping {
            self.episodes += 1;
        }
        self.overlapping = now_overlap;
    }
}

/// The belief-exclusivity oracle: which clients may act on each key now (each protocol
/// says when a client may act; the reference client's rule is
/// [`crate::LeaseClient::may_act`]). Shells report a client's "may act" after every step
/// of its core; a second client that may act on a key begins a violation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActingClients {
    acting: BTreeMap<Key, BTreeSet<NodeId>>,
}

impl ActingClients {
    /// Records whether `node` may act on `key`; the violation when it is the second client
    /// that may act there at once.
    pub fn update(&mut self, key: Key, node: NodeId, may_act: bool) -> Option<Violation> {
        let on_key = self.acting.entry(key).or_default();
        if !may_act {
            on_key.remove(&node);
            return None;
        }
        if !on_key.insert(node) || on_key.len() != 2 {
            return None;
        }
        let (first, second) = (*on_key.first()?, *on_key.last()?);
        Some(Violation::BeliefsOverlap { key, first, second })
    }
}

/// The oracles' instants (see [`Instants`]), all on the server's clock:
///
/// | instant | compared with | bound |
/// |---|---|---|
/// | ghost grant `expiry` | `server_now < t` (live), `server_now >= t` (a write outside the lease); `t < e` and `max(t, e)` for a renewal's expiry `e`, which is after `server_now` | 0 |
/// | `cycle_since` | `server_now < t + bound` (the deadlock oracle's bound, its caller's) | unbounded: never clamped |
///
/// A clamped ghost expiry changes one thing: how late a write outside an expired grant
/// was (`late_ns`, in the violation's text), never whether it is one.
impl Instants for SafetyOracles {
    fn map_instants(&mut self, f: &mut dyn FnMut(Nanos, u64) -> Nanos) {
        for g in self.grants.values_mut() {
            for gg in g.values_mut() {
                gg.expiry = f(gg.expiry, 0);
            }
        }
        if let Some(t) = &mut self.cycle_since {
            *t = f(*t, UNBOUNDED);
        }
    }
}

/// The oracles' counters (see [`Counters`]): the ghost grants' tokens (the keys of each
/// key's map), `max_granted`, `max_accepted`; all tokens.
impl Counters for SafetyOracles {
    fn map_counters(&mut self, f: &mut dyn FnMut(Counter, u64) -> u64) {
        for g in self.grants.values_mut() {
            // Ranks keep the order, so the rebuilt map keeps it too.
            *g = std::mem::take(g)
                .into_iter()
                .map(|(t, gg)| (t.mapped(f), gg))
                .collect();
        }
        for t in self.max_granted.values_mut() {
            *t = t.mapped(f);
        }
        for (t, _) in self.max_accepted.values_mut() {
            *t = t.mapped(f);
        }
    }
}

impl RemapNodes for SafetyOracles {
    fn remap_nodes(&self, f: &dyn Fn(NodeId) -> NodeId) -> Self {
        SafetyOracles {
            grants: self
                .grants
                .iter()
                .map(|(k, g)| {
                    let g = g
                        .iter()
                        .map(|(t, gg)| {
                            (
                                *t,
                                GrantGhost {
                                    owner: gg.owner.remap_nodes(f),
                                    ..*gg
                                },
                            )
                        })
                        .collect();
                    (*k, g)
                })
                .collect(),
            max_granted: self.max_granted.clone(),
            max_accepted: self
                .max_accepted
                .iter()
                .map(|(k, (t, who))| (*k, (*t, who.remap_nodes(f))))
                .collect(),
            jobs: self.jobs.clone(),
            waits_tracked: self.waits_tracked,
            holds: self.holds.iter().map(|(k, n)| (*k, f(*n))).collect(),
            waits: self.waits.iter().map(|(n, k)| (f(*n), *k)).collect(),
            cycle_since: self.cycle_since,
            named: self.named,
            tripped: self.tripped,
        }
    }
}

#[cfg(test)]
mod bound_tests {
    use super::liveness_bound_ns_for;
    use crate::config::ProtocolConfig;

    const MS: u64 = 1_000_000;

    fn cfg(ttl_ms: u64, requeue_ms: u64, fresh_ms: u64) -> crate::config::Config {
        ProtocolConfig {
            ttl_ms,
            renew_interval_ms: ttl_ms / 4,
            requeue_interval_ms: requeue_ms,
            fresh_window_ms: fresh_ms,
            backoff_base_ms: 50,
            backoff_max_ms: 100,
            drift_ppm_max: 0,
            ..ProtocolConfig::default()
        }
        .validate()
        .unwrap()
    }

    #[test]
    fn a_waiters_own_left_over_grant_is_counted_where_it_outlasts_a_ttl() {
        // One waiter, none ahead. A grant left over runs out within ttl + backoff_max:
        // 10,000 + 100 ms; the waiter's own, kept alive by its own Acquires, costs
        // 2 × requeue + max(requeue, backoff_max) + 4 × latency = 1,500 + 1,600 ms.
        let long = cfg(10_000, 500, 4_000);
        assert_eq!(
            liveness_bound_ns_for(&long, 400 * MS, 400 * MS, 0, false),
            (400 + 10_000 + 100) * MS
        );
        // With a short TTL the own cycle is the longer wait.
        let short = cfg(2_000, 500, 1_500);
        assert_eq!(
            liveness_bound_ns_for(&short, 400 * MS, 400 * MS, 0, false),
            (400 + 1_500 + 1_600) * MS
        );
    }
}
