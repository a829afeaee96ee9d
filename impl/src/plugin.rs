//! The plug-in boundary (docs/protocols.md): what a protocol supplies so that the
//! simulator (its one engine, generic over [`Protocol`]: `leaseproof_sim::run`) and the
//! generic model driver (`leaseproof_model::plugin`) can run it, and the oracles judge
//! it, without knowing anything else about it.
//!
//! A protocol is a type implementing [`Protocol`]: its roles are [`Machine`]s (the sans-IO
//! grammar) over its own message type; each output of a role is read as an [`Effect`] (a
//! send, a persist to the node's durable state, an event, a request for jitter); its events
//! map onto [`TenureEvent`], which is all the safety oracles and the metrics read; and it
//! says which key each client "may act" on now, which is all belief-exclusivity reads.
//! Nothing here is the reference protocol's: [`Reference`] is its plug-in, and a user's
//! crate writes its own with the public items of this module alone (`examples/naive-lock`).

use crate::config::{Config, ConfigError, Jobs, ProtocolConfig};
use crate::machine::{AnyNode, Machine, RoleKind};
use crate::oracle::SafetyOracles;
use crate::output::{Disk, Event, Output, PersistOp};
use crate::protocol::Assumptions;
use crate::tenure::TenureEvent;
use crate::types::{Counter, Counters, Identity, Instants, Key, Msg, Nanos, NodeId, RemapNodes};
use std::fmt::Debug;
use std::hash::Hash;

/// What one output of a role asks its shell to do, in protocol-neutral terms.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Effect<M, P, E> {
    /// Send `msg` to node `to` (a datagram: it may be lost, delayed or duplicated).
    Send { to: NodeId, msg: M },
    /// Apply `P` to the node's durable state before anything after it; consecutive
    /// persists of one step are one atomic batch.
    Persist(P),
    /// An event for the oracles (through [`Protocol::tenure`]), the metrics and the trace.
    Event(E),
    /// The role wants a random draw: the shell answers with `handle_jitter` (the
    /// simulator from its seeded RNG; the model with the draw 0).
    NeedJitter,
}

/// The points inside one step's effects at which a crash may fall (the crash points of
/// [`crate::output::crash_points`], for any protocol): before each effect (a send, or a
/// batch's first persist) that follows an earlier effect of the step. `kinds` reads each
/// effect as `Some(true)` for a send, `Some(false)` for a persist, `None` for the rest. A
/// crash at point `k` keeps the effects before `k` and loses the rest.
pub fn crash_points_by(kinds: impl Iterator<Item = Option<bool>>) -> Vec<usize> {
    let mut points = Vec::new();
    let (mut effect_before, mut in_batch) = (false, false);
    for (k, kind) in kinds.enumerate() {
        let starts_effect = match kind {
            Some(true) => {
                in_batch = false;
                true
            }
            Some(false) => !std::mem::replace(&mut in_batch, true),
            None => false,
        };
        if starts_effect {
            if effect_before {
                points.push(k);
            }
            effect_before = true;
        }
    }
    points
}

/// The crash points of one step's effects (see [`crash_points_by`]).
#[must_use]
pub fn crash_points_of<M, P, E>(effects: &[Effect<M, P, E>]) -> Vec<usize> {
    crash_points_by(effects.iter().map(Effect::crash_kind))
}

impl<M, P, E> Effect<M, P, E> {
    /// The effect as [`crash_points_by`] reads it: `Some(true)` for a send, `Some(false)`
    /// for a persist, `None` for the rest.
    #[must_use]
    pub fn crash_kind(&self) -> Option<bool> {
        match self {
            Effect::Send { .. } => Some(true),
            Effect::Persist(_) => Some(false),
            Effect::Event(_) | Effect::NeedJitter => None,
        }
    }
}

/// What a client believes after a step of its core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Belief {
    /// The key it would act on.
    pub key: Key,
    /// Whether it may act on `key` now: all belief-exclusivity reads.
    pub may_act: bool,
    /// Until when it believes it holds, on its own clock (the timeline and the
    /// belief-overlap measurement; `None`: no validity it knows of).
    pub until: Option<Nanos>,
    /// The tenure it holds, if any (the timeline's label).
    pub tenure: Option<u64>,
}

/// The workload a scenario asks of a protocol besides plain writes: exactly-once `[jobs]`
/// and a `[locks]` set of keys. A protocol that supports neither refuses both
/// ([`Workload::refuse`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Workload {
    pub jobs: Jobs,
    /// How many keys every client takes in one critical section (0: one lease).
    pub lock_keys: u8,
}

impl Workload {
    /// The error for a protocol that supports no workload but plain writes, naming the
    /// section a scenario asked for.
    ///
    /// # Errors
    /// `[jobs]` or `[locks]` is present.
    pub fn refuse(self, protocol: &str) -> Result<(), ConfigError> {
        if self.jobs.count > 0 {
            return Err(ConfigError {
                field: "jobs",
                reason: format!("the {protocol} protocol has no exactly-once workload"),
            });
        }
        if self.lock_keys > 0 {
            return Err(ConfigError {
                field: "locks",
                reason: format!("the {protocol} protocol takes no set of locks"),
            });
        }
        Ok(())
    }
}

/// A protocol, as the simulator and the generic model driver run it.
///
/// Node ids follow one layout for every protocol: node 0 is the authority
/// ([`NodeId::authority`]), node 1 the resource if the protocol has one
/// ([`Protocol::HAS_RESOURCE`]; otherwise no node 1 exists), nodes 2.. the clients
/// ([`NodeId::client`]).
pub trait Protocol: Copy + Debug + Eq + Hash + Send + Sync + 'static {
    /// The name in reports and errors.
    const NAME: &'static str;
    /// Whether the protocol has a resource role (node 1).
    const HAS_RESOURCE: bool;
    /// Every event kind ([`Protocol::event_kind`]): what a scenario's `sometimes` may
    /// name besides the engine's fault labels.
    const EVENT_KINDS: &'static [&'static str];
    /// Whether [`Protocol::Fields`] reads the `[protocol]` table's `kind` itself (the
    /// reference protocol's does); otherwise the scenario reader checks it and sets it
    /// aside.
    const FIELDS_NAME_KIND: bool = false;
    /// Whether belief-exclusivity is judged without being named in scenarios within the
    /// assumptions (where [`Assumptions::oracle_breaches`] claims it). The reference
    /// protocol's scenarios predate the oracle and name it where they want it.
    const BELIEF_IMPLICIT: bool = true;
    /// Whether the harness judges the protocol's tenures by ghosts ([`crate::GhostTenures`]): for a
    /// protocol without tokens, whose messages carry nothing that numbers a tenure. The
    /// harness then learns each tenure from the authority's `Began`, attaches to every
    /// write ([`Protocol::ghost_writer`]) the latest tenure begun for its writer, out of
    /// band (beside the datagram, never in its bytes), and fills in the tenure of the
    /// clients' `Acting`, `GaveBack` and `WriteDecided` and of the resource's
    /// `WriteAccepted` and `WriteRefused` itself: the protocol's roles emit those with
    /// tenure 0 and never see a ghost. `false` (the default): every tenure is the
    /// protocol's own (a protocol with tokens, whose tenure is a function of the token).
    const GHOST_TENURES: bool = false;
    /// Whether the protocol lists its instants and counters (the hooks `*_instants` and
    /// `*_counters` below), so the generic model driver may store time relative to now,
    /// clamp stale instants and rank counters: a check that closes over runs of any
    /// length. `false` (the default): its checks stay bounded by `max_time`.
    const NORMALISES: bool = false;
    /// Whether clients are interchangeable and the protocol renames them through the
    /// `remap_*` hooks below, so the generic model driver may explore one state per orbit
    /// of client renamings (clients with equal clock offsets only). `false` (the
    /// default): no symmetry reduction.
    const SYMMETRIC: bool = false;
    /// The protocol's configuration, made and validated by [`Protocol::configure`]. Its
    /// [`Assumptions`] classify a scenario as within (every oracle must hold) or beyond
    /// (the scenario says what it finds).
    type Config: Assumptions + Clone + Debug + Send + Sync + 'static;
    /// What a scenario's `[protocol]` table holds besides `kind`, as written (serde, with
    /// `deny_unknown_fields` so another protocol's field is refused by name); `Default`
    /// is a scenario without the table.
    type Fields: serde::de::DeserializeOwned
        + serde::Serialize
        + Clone
        + Debug
        + Default
        + Send
        + Sync
        + 'static;
    /// The messages its roles exchange.
    type Msg: Clone + Debug + Hash + Eq + Ord + Send + Sync + 'static;
    /// The events its roles emit.
    type Event: Clone + Debug + Hash + Eq + Ord + Send + Sync + 'static;
    /// What one node's durable state keeps across a crash (`Default`: a new disk).
    type Disk: Clone + Debug + Default + Hash + Eq + Ord + Send + Sync + 'static;
    /// One write to the durable state.
    type Persist: Clone + Debug + Send + Sync + 'static;
    /// Any of its roles, as one type (an enum of its machines).
    type Node: Machine<Msg = Self::Msg> + Clone + Debug + Hash + Eq + Ord + Send + Sync + 'static;

    /// The config a scenario's `[protocol]` fields and its workload make, validated; an
    /// error names the field (a workload the protocol does not support: `jobs` or
    /// `locks`, see [`Workload::refuse`]).
    ///
    /// # Errors
    /// The first field that is out of range, or an unsupported workload.
    fn configure(fields: &Self::Fields, workload: Workload) -> Result<Self::Config, ConfigError>;
    /// Boots (or restarts) the node `id` in `role`, from what its disk kept, at `now` on
    /// its own clock.
    fn boot(
        cfg: &Self::Config,
        role: RoleKind,
        id: Identity,
        disk: &Self::Disk,
        now: Nanos,
    ) -> Self::Node;
    /// One output of a role, as an effect.
    fn effect(
        out: <Self::Node as Machine>::Output,
    ) -> Effect<Self::Msg, Self::Persist, Self::Event>;
    /// Applies a persist to a disk.
    fn persist(disk: &mut Self::Disk, p: Self::Persist);
    /// A message's bytes on the wire.
    fn encode(msg: &Self::Msg) -> Vec<u8>;
    /// A frame's message; an error says why the bytes are not one (never a panic).
    ///
    /// # Errors
    /// The bytes are not a message of this protocol.
    fn decode(bytes: &[u8]) -> Result<Self::Msg, String>;
    /// The event as a tenure event (`None`: no oracle or metric reads it).
    fn tenure(event: &Self::Event) -> Option<TenureEvent>;
    /// A short name of the event's kind (coverage).
    fn event_kind(event: &Self::Event) -> &'static str;
    /// The lease length: a client that stopped acting before it meant to has its cause
    /// looked for among the faults that touched it (or the authority) within twice this
    /// (the false-preemption metric's classes).
    fn lease_ns(cfg: &Self::Config) -> u64;

    /// What node `node` believes now (`None`: a node that acts on nothing, such as the
    /// authority). Asked after every step of a client's core (the simulator) and of every
    /// state (the model).
    fn belief(node: &Self::Node) -> Option<Belief>;

    /// The key a node may act on now, read from its [`Protocol::belief`]
    /// (belief-exclusivity's "may act"; `None`: none).
    fn may_act(node: &Self::Node) -> Option<Key> {
        Self::belief(node).filter(|b| b.may_act).map(|b| b.key)
    }
    /// For a protocol with [`Protocol::GHOST_TENURES`]: the client incarnation a message
    /// from node `from` is a write of (a write of its work to the resource), which the
    /// harness sends with that incarnation's ghost tenure; `None` (the default) for every
    /// other message.
    fn ghost_writer(msg: &Self::Msg, from: NodeId) -> Option<Identity> {
        let _ = (msg, from);
        None
    }
    /// A short name of the message's kind (the timeline's arrows, the trace, a crash
    /// point's lost effects).
    fn msg_kind(msg: &Self::Msg) -> &'static str {
        let _ = msg;
        "message"
    }
    /// A message as a reader would write it (the trace).
    fn describe_msg(msg: &Self::Msg) -> String {
        format!("{msg:?}")
    }
    /// An event as a reader would write it, with the authority's clock reading (the
    /// trace).
    fn describe_event(event: &Self::Event, authority_now: Nanos) -> String {
        let _ = authority_now;
        format!("{event:?}")
    }
    /// A client's worker stalls or resumes (the `stall` fault). By default a protocol has
    /// no worker apart from its renewals, and nothing happens.
    fn stall(node: &mut Self::Node, now: Nanos, stalled: bool) {
        let _ = (node, now, stalled);
    }
    /// The oracles a run starts with (by default [`SafetyOracles::new`]; one with a
    /// wait-for graph for the deadlock oracle where clients hold several keys).
    fn oracles(cfg: &Self::Config) -> SafetyOracles {
        let _ = cfg;
        SafetyOracles::new()
    }
    /// Whether the authority keeps its tenures in volatile state only, so that its crash
    /// ends every one of them at that instant (the metrics: failover and availability).
    /// By default not: a protocol whose authority forgets them says so at its restart
    /// through [`TenureEvent::AllEnded`] alone.
    fn crash_ends_tenures(cfg: &Self::Config) -> bool {
        let _ = cfg;
        false
    }
    /// The variant's name: `"correct"`, or the name of a deliberate bug (a scenario beyond
    /// the assumptions of a correct protocol must say what it finds).
    fn variant(cfg: &Self::Config) -> &'static str {
        let _ = cfg;
        "correct"
    }
    /// The workload a config runs (by default plain writes only).
    fn workload(cfg: &Self::Config) -> Workload {
        let _ = cfg;
        Workload::default()
    }
    /// The forward steps of the authority's clock its assumptions allow, for random
    /// clock-step faults: `(largest step ms, ms that must pass between two)`; a largest
    /// step of 0 (the default): none, so only clients' clocks step.
    fn authority_steps_ms(cfg: &Self::Config) -> (u64, u64) {
        let _ = cfg;
        (0, 0)
    }
    /// The liveness claim: the longest a client waiting at heal may wait after it, on the
    /// authority's clock, given the extra delay a message sent before heal may still
    /// suffer (`delay_max_ns`), the network's latency bound, how many others may be
    /// served first (`ahead`) and whether the authority restarted within a lease
    /// (`restarted`). `None` (the default): no liveness claim, and a scenario may not ask
    /// for the liveness oracle.
    fn liveness_bound_ns(
        cfg: &Self::Config,
        delay_max_ns: u64,
        latency_max_ns: u64,
        ahead: u64,
        restarted: bool,
    ) -> Option<u64> {
        let _ = (cfg, delay_max_ns, latency_max_ns, ahead, restarted);
        None
    }
    /// How long a wait-for cycle may last before the deadlock oracle reports it (read
    /// only where [`Protocol::oracles`] tracks waits).
    fn deadlock_bound_ns(cfg: &Self::Config) -> u64 {
        let _ = cfg;
        u64::MAX
    }
    /// The exactly-once claim: by when after heal every job is applied or dead-lettered,
    /// on the authority's clock (`None`: no jobs).
    fn jobs_settle_bound_ns(
        cfg: &Self::Config,
        delay_max_ns: u64,
        latency_max_ns: u64,
        clients: u64,
        restarted: bool,
    ) -> Option<u64> {
        let _ = (cfg, delay_max_ns, latency_max_ns, clients, restarted);
        None
    }
    /// The largest drift its clocks are configured to stay within, ppm (stretches
    /// bounds on the authority's clock into true time; 0 by default).
    fn drift_ppm_max(cfg: &Self::Config) -> u32 {
        let _ = cfg;
        0
    }
    /// Every instant a node keeps, passed through `f(instant, bound)`, where `bound` is
    /// the largest duration the code adds to it before comparing it with the node's `now`
    /// or with an instant a message brought ([`crate::UNBOUNDED`]: never clamp it); the
    /// returned value replaces it. The model driver shifts every instant by the same
    /// amount (the core only adds durations and compares, so nothing it does changes)
    /// and clamps an instant further in the past than its bound, plus the longest a
    /// compared instant may lag (messages' age, clock offsets), where every comparison
    /// gives what it gave (docs/protocols.md, "Normalisation hooks").
    fn node_instants(node: &mut Self::Node, f: &mut dyn FnMut(Nanos, u64) -> Nanos) {
        let _ = (node, f);
    }
    /// [`Protocol::node_instants`] for what a disk keeps.
    fn disk_instants(disk: &mut Self::Disk, f: &mut dyn FnMut(Nanos, u64) -> Nanos) {
        let _ = (disk, f);
    }
    /// [`Protocol::node_instants`] for a message in flight.
    fn msg_instants(msg: &mut Self::Msg, f: &mut dyn FnMut(Nanos, u64) -> Nanos) {
        let _ = (msg, f);
    }
    /// Every counter value a node keeps, with its rank domain ([`Counter`]: every place
    /// whose values are compared with or copied into one another), passed through
    /// `f(domain, value)`; the returned value replaces it. The model driver ranks each
    /// domain as a whole, 0 kept (see [`crate::Counters`] for why that keeps behaviour).
    fn node_counters(node: &mut Self::Node, f: &mut dyn FnMut(Counter, u64) -> u64) {
        let _ = (node, f);
    }
    /// [`Protocol::node_counters`] for what a disk keeps.
    fn disk_counters(disk: &mut Self::Disk, f: &mut dyn FnMut(Counter, u64) -> u64) {
        let _ = (disk, f);
    }
    /// [`Protocol::node_counters`] for a message in flight from `from` to `to`.
    fn msg_counters(
        msg: &mut Self::Msg,
        from: NodeId,
        to: NodeId,
        f: &mut dyn FnMut(Counter, u64) -> u64,
    ) {
        let _ = (msg, from, to, f);
    }
    /// Whether the model carries `msg`: `false` for a message whose delivery changes
    /// nothing at its receiver under `cfg` (its code ignores it), which the generic model
    /// driver then lets be lost at its send instead of carrying it (a loss, within every
    /// protocol's assumptions, and fewer states). The simulator carries every message.
    /// The default carries every message.
    fn carried(cfg: &Self::Config, msg: &Self::Msg) -> bool {
        let _ = (cfg, msg);
        true
    }
    /// Node `node` without what it keeps that no later step can read (dead data), given
    /// the messages in flight, each with its sender, and the node's clock `now`; `None`
    /// if it keeps none. The generic model driver calls it on every state of a closed
    /// check whose network does not duplicate, so records a repeating workload leaves
    /// behind do not keep states apart; answer `None` without copying the node where you
    /// can (the driver shares an unchanged node between states). A rule must drop only
    /// what no continuation reads; write why next to the state it prunes. The default
    /// keeps everything.
    fn forget_dead(
        node: &Self::Node,
        now: Nanos,
        in_flight: &[(NodeId, &Self::Msg)],
    ) -> Option<Self::Node> {
        let _ = (node, now, in_flight);
        None
    }
    /// The node with every node id it keeps renamed by `f` (a permutation of clients).
    fn remap_node(node: &Self::Node, f: &dyn Fn(NodeId) -> NodeId) -> Self::Node {
        let _ = f;
        node.clone()
    }
    /// [`Protocol::remap_node`] for a disk.
    fn remap_disk(disk: &Self::Disk, f: &dyn Fn(NodeId) -> NodeId) -> Self::Disk {
        let _ = f;
        disk.clone()
    }
    /// [`Protocol::remap_node`] for a message's contents (the driver renames its sender
    /// and receiver).
    fn remap_msg(msg: &Self::Msg, f: &dyn Fn(NodeId) -> NodeId) -> Self::Msg {
        let _ = f;
        msg.clone()
    }
    /// The client, key and tenure an event belongs to, for `tracing`'s per-lock spans
    /// (`RUST_LOG=leaseproof=debug`; `None`: the event is in no lock's life).
    fn lifecycle(event: &Self::Event) -> Option<(Identity, Key, Option<u64>)> {
        let _ = event;
        None
    }
}

/// Whether a protocol makes a liveness claim under `cfg` ([`Protocol::liveness_bound_ns`]
/// gives a bound): only then does a run have a liveness phase, and may a scenario name
/// the liveness or deadlock oracle.
#[must_use]
pub fn claims_liveness<P: Protocol>(cfg: &P::Config) -> bool {
    P::liveness_bound_ns(cfg, 0, 0, 0, false).is_some()
}

/// The role of node `idx` in a run of a protocol with `clients` clients (the layout
/// [`Protocol`] states), or `None` where no node is.
#[must_use]
pub fn role_of<P: Protocol>(idx: usize) -> Option<RoleKind> {
    match idx {
        0 => Some(RoleKind::Server),
        1 if P::HAS_RESOURCE => Some(RoleKind::Resource),
        1 => None,
        _ => Some(RoleKind::Client),
    }
}

/// The reference protocol as a plug-in: its four machines ([`AnyNode`]), its messages,
/// events and disk, tenure = fencing token ([`Event::tenure`]), "may act" = Holding
/// ([`crate::LeaseClient::may_act`]). The simulator runs it through this impl; its own
/// model (`leaseproof_model`'s reference driver) still holds these types directly; the
/// generic model driver checks it through this impl (its model hooks below).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reference;

impl Protocol for Reference {
    const NAME: &'static str = "reference";
    const HAS_RESOURCE: bool = true;
    const EVENT_KINDS: &'static [&'static str] = &Event::KINDS;
    const FIELDS_NAME_KIND: bool = true;
    const BELIEF_IMPLICIT: bool = false;
    /// Every role lists its instants and counters ([`crate::Instants`], [`crate::Counters`],
    /// next to each role's state), as the reference model driver reads them.
    const NORMALISES: bool = true;
    /// Clients are interchangeable: every node id a role keeps is renamed by
    /// [`crate::RemapNodes`].
    const SYMMETRIC: bool = true;
    type Config = Config;
    type Fields = ProtocolConfig;
    type Msg = Msg;
    type Event = Event;
    type Disk = Disk;
    type Persist = PersistOp;
    type Node = AnyNode;

    fn configure(fields: &ProtocolConfig, workload: Workload) -> Result<Config, ConfigError> {
        ProtocolConfig {
            jobs: workload.jobs,
            lock_keys: workload.lock_keys,
            ..*fields
        }
        .validate()
    }

    fn variant(cfg: &Config) -> &'static str {
        cfg.variant.name()
    }

    fn workload(cfg: &Config) -> Workload {
        Workload {
            jobs: cfg.jobs,
            lock_keys: cfg.lock_keys,
        }
    }

    /// The server's clock may step forward within the safety margin, once per TTL
    /// (docs/design.md, "Faults").
    fn authority_steps_ms(cfg: &Config) -> (u64, u64) {
        const MS: u64 = 1_000_000;
        (cfg.safety_margin_ns / MS, cfg.ttl_ns / MS)
    }

    fn liveness_bound_ns(
        cfg: &Config,
        delay_max_ns: u64,
        latency_max_ns: u64,
        ahead: u64,
        restarted: bool,
    ) -> Option<u64> {
        // In a lock set every key may have its own queue ahead of a waiter.
        let keys = u64::from(cfg.lock_keys.max(1));
        Some(crate::oracle::liveness_bound_ns_for(
            cfg,
            delay_max_ns,
            latency_max_ns,
            ahead * keys,
            restarted,
        ))
    }

    fn deadlock_bound_ns(cfg: &Config) -> u64 {
        crate::oracle::deadlock_bound_ns(cfg)
    }

    fn jobs_settle_bound_ns(
        cfg: &Config,
        delay_max_ns: u64,
        latency_max_ns: u64,
        clients: u64,
        restarted: bool,
    ) -> Option<u64> {
        cfg.has_jobs().then(|| {
            crate::oracle::jobs_settle_bound_ns(
                cfg,
                delay_max_ns,
                latency_max_ns,
                clients,
                restarted,
            )
        })
    }

    fn drift_ppm_max(cfg: &Config) -> u32 {
        cfg.drift_ppm_max
    }

    fn boot(cfg: &Config, role: RoleKind, id: Identity, disk: &Disk, now: Nanos) -> AnyNode {
        AnyNode::restore(role, cfg, id, disk, now)
    }

    fn effect(out: Output) -> Effect<Msg, PersistOp, Event> {
        match out {
            Output::Send { to, msg } => Effect::Send { to, msg },
            Output::Persist(op) => Effect::Persist(op),
            Output::Event(e) => Effect::Event(e),
            Output::NeedJitter => Effect::NeedJitter,
        }
    }

    fn persist(disk: &mut Disk, p: PersistOp) {
        disk.apply(p);
    }

    fn encode(msg: &Msg) -> Vec<u8> {
        crate::wire::encode(msg)
    }

    fn decode(bytes: &[u8]) -> Result<Msg, String> {
        crate::wire::decode(bytes).map_err(|e| e.to_string())
    }

    fn tenure(event: &Event) -> Option<TenureEvent> {
        event.tenure()
    }

    fn event_kind(event: &Event) -> &'static str {
        event.kind()
    }

    fn lease_ns(cfg: &Config) -> u64 {
        cfg.ttl_ns
    }

    fn belief(node: &AnyNode) -> Option<Belief> {
        node.as_client().map(|c| Belief {
            key: Key(0),
            may_act: c.may_act(),
            until: c.valid_until(),
            tenure: c.held_token().map(|t| t.0),
        })
    }

    fn msg_kind(msg: &Msg) -> &'static str {
        msg.kind()
    }

    fn describe_msg(msg: &Msg) -> String {
        msg.to_string()
    }

    fn describe_event(event: &Event, authority_now: Nanos) -> String {
        event.describe(authority_now)
    }

    fn stall(node: &mut AnyNode, now: Nanos, stalled: bool) {
        node.handle_stall(now, stalled);
    }

    fn oracles(cfg: &Config) -> SafetyOracles {
        if cfg.is_lock_set() {
            SafetyOracles::with_wait_for_graph()
        } else {
            SafetyOracles::new()
        }
    }

    /// The server keeps its grants in memory only (its disk holds the token counter).
    fn crash_ends_tenures(_cfg: &Config) -> bool {
        true
    }

    fn node_instants(node: &mut AnyNode, f: &mut dyn FnMut(Nanos, u64) -> Nanos) {
        node.map_instants(f);
    }

    // The disk keeps no instant, and no message carries one (a grant says how long, not
    // until when): the defaults.

    fn node_counters(node: &mut AnyNode, f: &mut dyn FnMut(Counter, u64) -> u64) {
        node.map_counters(f);
    }

    fn disk_counters(disk: &mut Disk, f: &mut dyn FnMut(Counter, u64) -> u64) {
        disk.map_counters(f);
    }

    /// A request id names no node: it is in the sequence domain of the client at the
    /// message's client end.
    fn msg_counters(
        msg: &mut Msg,
        from: NodeId,
        to: NodeId,
        f: &mut dyn FnMut(Counter, u64) -> u64,
    ) {
        *msg = msg.mapped(Msg::client_end(from, to), f);
    }

    /// A write ack changes nothing at a client that does not count acks (client.rs,
    /// `handle_message`: the `WriteAck` arm needs `cfg.counts_acks()`, and "anything else
    /// ... changes nothing"; the lock-set client has no arm for it), so the model does not
    /// carry it, as the reference driver's `step_to` does not.
    fn carried(cfg: &Config, msg: &Msg) -> bool {
        !matches!(msg, Msg::WriteAck { .. }) || cfg.counts_acks()
    }

    fn forget_dead(node: &AnyNode, now: Nanos, in_flight: &[(NodeId, &Msg)]) -> Option<AnyNode> {
        node.without_dead(now, in_flight)
    }

    fn remap_node(node: &AnyNode, f: &dyn Fn(NodeId) -> NodeId) -> AnyNode {
        node.remap_nodes(f)
    }

    fn remap_disk(disk: &Disk, f: &dyn Fn(NodeId) -> NodeId) -> Disk {
        disk.remap_nodes(f)
    }

    fn remap_msg(msg: &Msg, f: &dyn Fn(NodeId) -> NodeId) -> Msg {
        msg.remap_nodes(f)
    }

    fn lifecycle(event: &Event) -> Option<(Identity, Key, Option<u64>)> {
        Some(match *event {
            Event::Requested { client, key } => (client, key, None),
            Event::Adopted {
                client, key, token, ..
            }
            | Event::RenewSent { client, key, token }
            | Event::ReleaseDecided { client, key, token }
            | Event::ReleaseSent { client, key, token }
            | Event::Lost {
                client, key, token, ..
            }
            | Event::Granted {
                client, key, token, ..
            }
            | Event::Expired { client, key, token }
            | Event::Renewed {
                client, key, token, ..
            }
            | Event::ReleasedAtServer {
                client, key, token, ..
            } => (client, key, Some(token.0)),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProtocolConfig;
    use crate::types::{IdemKey, Token};

    #[test]
    fn the_reference_model_carries_write_acks_only_where_a_client_counts_them() {
        let idem = IdemKey {
            node: NodeId(2),
            incarnation: 0,
            seq: 1,
        };
        let ack = Msg::WriteAck {
            key: Key(0),
            token: Token(1),
            idem,
        };
        let plain = ProtocolConfig::default().validate().unwrap();
        assert!(!plain.counts_acks());
        assert!(!Reference::carried(&plain, &ack), "an ack no client reads");
        let write = Msg::Write {
            key: Key(0),
            token: Token(1),
            idem,
        };
        assert!(
            Reference::carried(&plain, &write),
            "every other message is carried"
        );
        let counting = ProtocolConfig {
            hold_writes: 3,
            ..ProtocolConfig::default()
        }
        .validate()
        .unwrap();
        assert!(counting.counts_acks());
        assert!(
            Reference::carried(&counting, &ack),
            "a client that counts acks reads it"
        );
    }
}
