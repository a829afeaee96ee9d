//! One trait over the four machines of the three roles (server, lease client, lock-set
//! client, resource), so every shell (stepper, simulator, model) drives them
//! through the same loop instead of three copies of it.

use crate::client::LeaseClient;
use crate::config::Config;
use crate::lockset::LockSetClient;
use crate::output::{Disk, Output};
use crate::resource::FencedResource;
use crate::server::LockServer;
use crate::types::{
    Counter, Counters, IdemKey, Identity, Instants, Jitter, Key, Msg, Nanos, NodeId, RemapNodes,
    ReqId,
};

/// The sans-IO grammar shared by every role of every protocol: a role takes its
/// protocol's messages (`Msg`) and yields its protocol's outputs (`Output`: sends,
/// persist batches, events, jitter requests). The reference protocol's roles take
/// [`Msg`] and yield [`Output`]; a plug-in's roles name their own types
/// (docs/protocols.md).
pub trait Machine {
    type Msg;
    type Output;
    fn handle_message(&mut self, now: Nanos, from: NodeId, msg: Self::Msg);
    fn handle_timeout(&mut self, now: Nanos);
    fn handle_jitter(&mut self, _now: Nanos, _jitter: Jitter) {}
    fn poll_output(&mut self) -> Option<Self::Output>;
    fn poll_timeout(&self) -> Option<(Nanos, &'static str)>;
}

/// A role of the reference protocol, as [`AnyNode`] holds it.
type ReferenceRole = dyn Machine<Msg = Msg, Output = Output>;

macro_rules! machine {
    ($t:ty $(, $jitter:ident)?) => {
        impl Machine for $t {
            type Msg = Msg;
            type Output = Output;
            fn handle_message(&mut self, now: Nanos, from: NodeId, msg: Msg) {
                <$t>::handle_message(self, now, from, msg)
            }
            fn handle_timeout(&mut self, now: Nanos) {
                <$t>::handle_timeout(self, now)
            }
            $(
                fn $jitter(&mut self, now: Nanos, jitter: Jitter) {
                    <$t>::$jitter(self, now, jitter)
                }
            )?
            fn poll_output(&mut self) -> Option<Output> {
                <$t>::poll_output(self)
            }
            fn poll_timeout(&self) -> Option<(Nanos, &'static str)> {
                <$t>::poll_timeout(self)
            }
        }
    };
}
machine!(LockServer);
machine!(FencedResource);
// Clients draw jitter.
machine!(LeaseClient, handle_jitter);
machine!(LockSetClient, handle_jitter);

/// Which role a node plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoleKind {
    Server,
    Resource,
    Client,
}

/// Any of the four machines, for shells that keep all nodes in one collection.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AnyNode {
    Server(LockServer),
    Resource(FencedResource),
    Client(LeaseClient),
    /// A client whose critical section needs several keys.
    LockSet(LockSetClient),
}

impl AnyNode {
    /// Boots a node of the given role.
    #[must_use]
    pub fn restore(kind: RoleKind, cfg: &Config, id: Identity, disk: &Disk, now: Nanos) -> Self {
        match kind {
            RoleKind::Server => AnyNode::Server(LockServer::restore(cfg, id, disk, now)),
            RoleKind::Resource => AnyNode::Resource(FencedResource::restore(cfg, id, disk, now)),
            RoleKind::Client if cfg.is_lock_set() => {
                AnyNode::LockSet(LockSetClient::restore(cfg, id, now))
            }
            RoleKind::Client => AnyNode::Client(LeaseClient::restore(cfg, id, disk, now)),
        }
    }

    #[must_use]
    pub fn kind(&self) -> RoleKind {
        match self {
            AnyNode::Server(_) => RoleKind::Server,
            AnyNode::Resource(_) => RoleKind::Resource,
            AnyNode::Client(_) | AnyNode::LockSet(_) => RoleKind::Client,
        }
    }

    #[must_use]
    pub fn as_client(&self) -> Option<&LeaseClient> {
        match self {
            AnyNode::Client(c) => Some(c),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_server(&self) -> Option<&crate::server::LockServer> {
        match self {
            AnyNode::Server(s) => Some(s),
            _ => None,
        }
    }

    fn machine(&mut self) -> &mut ReferenceRole {
        match self {
            AnyNode::Server(s) => s,
            AnyNode::Resource(r) => r,
            AnyNode::Client(c) => c,
            AnyNode::LockSet(c) => c,
        }
    }

    /// The worker of a client stalls or resumes (see [`LeaseClient::handle_stall`]).
    pub fn handle_stall(&mut self, now: Nanos, stalled: bool) {
        match self {
            AnyNode::Client(c) => c.handle_stall(now, stalled),
            AnyNode::LockSet(c) => c.handle_stall(now, stalled),
            _ => {}
        }
    }
}

impl Machine for AnyNode {
    type Msg = Msg;
    type Output = Output;
    fn handle_message(&mut self, now: Nanos, from: NodeId, msg: Msg) {
        self.machine().handle_message(now, from, msg)
    }
    fn handle_timeout(&mut self, now: Nanos) {
        self.machine().handle_timeout(now)
    }
    fn handle_jitter(&mut self, now: Nanos, jitter: Jitter) {
        self.machine().handle_jitter(now, jitter)
    }
    fn poll_output(&mut self) -> Option<Output> {
        self.machine().poll_output()
    }
    fn poll_timeout(&self) -> Option<(Nanos, &'static str)> {
        match self {
            AnyNode::Server(s) => s.poll_timeout(),
            AnyNode::Resource(r) => r.poll_timeout(),
            AnyNode::Client(c) => c.poll_timeout(),
            AnyNode::LockSet(c) => c.poll_timeout(),
        }
    }
}

impl AnyNode {
    /// The node without the data no later step can read, for a model checker whose
    /// network does not duplicate, given the messages in flight (each with its sender) and
    /// the node's clock; `None` if it keeps none (read-only, so a checker that shares
    /// unchanged nodes between states copies only a node with something to forget): the
    /// server's records no request in flight can reach ([`LockServer::forget_records`]),
    /// the resource's answered writes no write in flight repeats
    /// ([`FencedResource::forget_answers`]), a client's late sends
    /// ([`LeaseClient::forget_late`]). Each rule says why next to the state it prunes.
    #[must_use]
    pub fn without_dead(&self, now: Nanos, in_flight: &[(NodeId, &Msg)]) -> Option<AnyNode> {
        let requests = |n: NodeId, k: Key, id: ReqId| {
            LockServer::record_live(in_flight.iter().copied(), n, k, id)
        };
        let writes = |idem: IdemKey| FencedResource::answer_live(in_flight.iter().copied(), idem);
        let dead = match self {
            AnyNode::Server(s) => s.records().any(|(n, k, id)| !requests(n, k, id)),
            AnyNode::Resource(r) => r.answered().any(|i| !writes(i)),
            AnyNode::Client(c) => c.has_late_sends(now),
            AnyNode::LockSet(c) => c.has_late_sends(now),
        };
        dead.then(|| {
            let mut node = self.clone();
            match &mut node {
                AnyNode::Server(s) => s.forget_records(requests),
                AnyNode::Resource(r) => r.forget_answers(writes),
                AnyNode::Client(c) => c.forget_late(now),
                AnyNode::LockSet(c) => c.forget_late(now),
            }
            node
        })
    }
}

/// The fenced resource keeps no instant; the other roles list theirs.
impl Instants for AnyNode {
    fn map_instants(&mut self, f: &mut dyn FnMut(Nanos, u64) -> Nanos) {
        match self {
            AnyNode::Server(s) => s.map_instants(f),
            AnyNode::Resource(_) => {}
            AnyNode::Client(c) => c.map_instants(f),
            AnyNode::LockSet(c) => c.map_instants(f),
        }
    }
}

impl Counters for AnyNode {
    fn map_counters(&mut self, f: &mut dyn FnMut(Counter, u64) -> u64) {
        match self {
            AnyNode::Server(s) => s.map_counters(f),
            AnyNode::Resource(r) => r.map_counters(f),
            AnyNode::Client(c) => c.map_counters(f),
            AnyNode::LockSet(c) => c.map_counters(f),
        }
    }
}

impl RemapNodes for AnyNode {
    fn remap_nodes(&self, f: &dyn Fn(NodeId) -> NodeId) -> Self {
        match self {
            AnyNode::Server(s) => AnyNode::Server(s.remap_nodes(f)),
            AnyNode::Resource(r) => AnyNode::Resource(r.remap_nodes(f)),
            AnyNode::Client(c) => AnyNode::Client(c.remap_nodes(f)),
            AnyNode::LockSet(c) => AnyNode::LockSet(c.remap_nodes(f)),
        }
    }
}
