//! The cluster the real runtime's tests share: a lock server, the fenced resource and two
//! clients as tokio tasks in one process, talking TCP over the loopback address, each with
//! its own clock read from the machine's monotonic clock; the simulator's oracles judge
//! the events. Every loop is bounded in count and time.
#![allow(clippy::disallowed_methods, dead_code)] // a real runtime; each test file uses a part

use leaseproof_impl::{
    Event, Identity, NodeId, ProtocolConfig, RoleKind, SafetyOracles, Token, Violation,
};
use leaseproof_real::{run_node, MemStore, NodeSpec, RealClock, Stamped, Store, StoreError};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// A lease of 400 ms: short, so a run sees several tenures within its bound.
pub fn config() -> leaseproof_impl::Config {
    ProtocolConfig {
        ttl_ms: 400,
        renew_interval_ms: 120,
        drift_ppm_max: 1_000,
        safety_margin_ms: 20,
        fresh_window_ms: 200,
        requeue_interval_ms: 60,
        backoff_base_ms: 20,
        backoff_max_ms: 100,
        hold_ms: 250,
        write_interval_ms: 50,
        think_ms: 100,
        ..ProtocolConfig::default()
    }
    .validate()
    .expect("a valid config")
}

/// The most events one phase may take before it stops, and the longest it may last.
pub const EVENT_LIMIT: usize = 20_000;
pub const TIME_LIMIT: Duration = Duration::from_secs(20);

pub const SERVER: NodeId = NodeId::authority(0);
/// Each node, its role and its clock's offset (the clients' clocks 60 ms apart).
pub const NODES: [(NodeId, RoleKind, i64); 4] = [
    (SERVER, RoleKind::Server, 0),
    (NodeId::RESOURCE, RoleKind::Resource, 0),
    (NodeId::client(0), RoleKind::Client, 30_000_000),
    (NodeId::client(1), RoleKind::Client, -30_000_000),
];

pub type NodeTask<S> = JoinHandle<(S, Result<(), StoreError>)>;

/// A cluster on loopback, its events judged as they come.
pub struct Cluster {
    pub origin: u64,
    pub addrs: BTreeMap<NodeId, SocketAddr>,
    pub events_tx: mpsc::UnboundedSender<Stamped>,
    pub events: mpsc::UnboundedReceiver<Stamped>,
    pub stop: watch::Sender<bool>,
    pub others: Vec<NodeTask<MemStore>>,
    pub oracles: SafetyOracles,
    pub found: Vec<Violation>,
    pub released: [u32; 2],
    pub accepted: u32,
    pub adopted: u32,
    pub granted: Vec<Token>,
    /// Who freed a key at the server: (the holder, the sender of the release).
    pub releases_at_server: Vec<(Identity, Identity)>,
}

impl Cluster {
    /// Binds every node's address and starts all but the server.
    pub async fn start() -> Cluster {
        let origin = leaseproof_real::clock::monotonic_ns();
        let mut listeners = BTreeMap::new();
        for (id, _, _) in NODES {
            let l = TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind loopback");
            listeners.insert(id, l);
        }
        let addrs = listeners
            .iter()
            .map(|(id, l)| (*id, l.local_addr().expect("an address")))
            .collect();
        let (events_tx, events) = mpsc::unbounded_channel();
        let (stop, _) = watch::channel(false);
        let mut c = Cluster {
            origin,
            addrs,
            events_tx,
            events,
            stop,
            others: Vec::new(),
            oracles: SafetyOracles::new(),
            found: Vec::new(),
            released: [0; 2],
            accepted: 0,
            adopted: 0,
            granted: Vec::new(),
            releases_at_server: Vec::new(),
        };
        for (id, listener) in listeners.into_iter().filter(|(id, _)| *id != SERVER) {
            let task = c.spawn(id, 0, listener, MemStore::default(), c.stop.subscribe());
            c.others.push(task);
        }
        c
    }

    pub fn spawn<S: Store>(
        &self,
        id: NodeId,
        incarnation: u32,
        listener: TcpListener,
        store: S,
        stop: watch::Receiver<bool>,
    ) -> NodeTask<S> {
        let (_, kind, offset_ns) = NODES.into_iter().find(|n| n.0 == id).expect("a node");
        let spec = NodeSpec {
            kind,
            id: Identity {
                node: id,
                incarnation,
            },
            cfg: config(),
            clock: RealClock::new(self.origin, offset_ns, 0),
            peers: self
                .addrs
                .iter()
                .filter(|(n, _)| **n != id)
                .map(|(n, a)| (*n, *a))
                .collect(),
            jitter_seed: u64::from(id.0) + 1,
            send_delay: None,
        };
        tokio::spawn(run_node(
            spec,
            listener,
            store,
            self.events_tx.clone(),
            stop,
        ))
    }

    /// (Re)starts the server on its address with `store`; `stop` stops it alone.
    pub async fn start_server<S: Store>(
        &self,
        incarnation: u32,
        store: S,
        stop: watch::Receiver<bool>,
    ) -> NodeTask<S> {
        let listener = TcpListener::bind(self.addrs[&SERVER])
            .await
            .expect("the server's address is free again");
        self.spawn(SERVER, incarnation, listener, store, stop)
    }

    /// Judges events, stamped with the server's clock at their true instant (its offset is
    /// 0 and its rate exact), until `done` or a bound.
    pub async fn judge_until(&mut self, done: impl Fn(&Cluster) -> bool) {
        self.judge_within(TIME_LIMIT, done).await;
    }

    /// [`Cluster::judge_until`] with another time bound.
    pub async fn judge_within(&mut self, limit: Duration, done: impl Fn(&Cluster) -> bool) {
        let server = RealClock::new(self.origin, 0, 0);
        let deadline = tokio::time::Instant::now() + limit;
        let mut seen = 0;
        while seen < EVENT_LIMIT && !done(self) {
            let Ok(Some(e)) = tokio::time::timeout_at(deadline, self.events.recv()).await else {
                break;
            };
            seen += 1;
            self.oracles
                .observe(server.at(e.true_ns), &e.event, &mut self.found);
            match e.event {
                Event::ReleaseDecided { client, .. } => {
                    self.released[client.node.client_index().expect("a client") as usize] += 1;
                }
                Event::WriteAccepted { .. } => self.accepted += 1,
                Event::Adopted { .. } => self.adopted += 1,
                Event::Granted { token, .. } => self.granted.push(token),
                Event::ReleasedAtServer { client, by, .. } => {
                    self.releases_at_server.push((client, by));
                }
                _ => {}
            }
        }
    }

    /// Stops every node but the server and waits for them (bounded).
    pub async fn stop_all(self) {
        let _ = self.stop.send(true);
        for task in self.others {
            let done = tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .expect("a node stops within 5 s")
                .expect("a node task ends without panicking");
            done.1.expect("the store keeps every batch");
        }
    }
}

/// Stops a server task (bounded) and returns its store.
pub async fn stop_server<S: Store>(stop: &watch::Sender<bool>, task: NodeTask<S>) -> S {
    let _ = stop.send(true);
    let (store, kept) = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the server stops within 5 s")
        .expect("the server task ends without panicking");
    kept.expect("the store keeps every batch");
    store
}
