//! The reference protocol run for real: a lock server, the fenced resource and two clients
//! as tokio tasks in one process, talking TCP over the loopback address, each with its own
//! clock read from the machine's monotonic clock. The same oracles as the simulator's judge
//! the events. Every loop is bounded in count and time, and every task is stopped at the
//! end, on failure too (the runtime is dropped with the test).
#![allow(clippy::disallowed_methods)] // a real runtime: the machine's clock and tokio's tasks

use leaseproof_impl::{
    Event, Identity, NodeId, OracleName, ProtocolConfig, RoleKind, SafetyOracles, Token, Violation,
};
use leaseproof_real::{
    run_node, MemStore, NodeSpec, RealClock, RedbStore, Stamped, Store, StoreError, UnsyncedStore,
};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// A lease of 400 ms: short, so a run sees several tenures within its bound.
fn config() -> leaseproof_impl::Config {
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
const EVENT_LIMIT: usize = 20_000;
const TIME_LIMIT: Duration = Duration::from_secs(20);

const SERVER: NodeId = NodeId::authority(0);
/// Each node, its role and its clock's offset (the clients' clocks 60 ms apart).
const NODES: [(NodeId, RoleKind, i64); 4] = [
    (SERVER, RoleKind::Server, 0),
    (NodeId::RESOURCE, RoleKind::Resource, 0),
    (NodeId::client(0), RoleKind::Client, 30_000_000),
    (NodeId::client(1), RoleKind::Client, -30_000_000),
];

type NodeTask<S> = JoinHandle<(S, Result<(), StoreError>)>;

/// A cluster on loopback, its events judged as they come.
struct Cluster {
    origin: u64,
    addrs: BTreeMap<NodeId, SocketAddr>,
    events_tx: mpsc::UnboundedSender<Stamped>,
    events: mpsc::UnboundedReceiver<Stamped>,
    stop: watch::Sender<bool>,
    others: Vec<NodeTask<MemStore>>,
    oracles: SafetyOracles,
    found: Vec<Violation>,
    released: [u32; 2],
    accepted: u32,
    adopted: u32,
    granted: Vec<Token>,
}

impl Cluster {
    /// Binds every node's address and starts all but the server.
    async fn start() -> Cluster {
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
        };
        for (id, listener) in listeners.into_iter().filter(|(id, _)| *id != SERVER) {
            let task = c.spawn(id, 0, listener, MemStore::default(), c.stop.subscribe());
            c.others.push(task);
        }
        c
    }

    fn spawn<S: Store>(
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
    async fn start_server<S: Store>(
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
    async fn judge_until(&mut self, done: impl Fn(&Cluster) -> bool) {
        self.judge_within(TIME_LIMIT, done).await;
    }

    /// [`Cluster::judge_until`] with another time bound.
    async fn judge_within(&mut self, limit: Duration, done: impl Fn(&Cluster) -> bool) {
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
                _ => {}
            }
        }
    }

    /// Stops every node but the server and waits for them (bounded).
    async fn stop_all(self) {
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
async fn stop_server<S: Store>(stop: &watch::Sender<bool>, task: NodeTask<S>) -> S {
    let _ = stop.send(true);
    let (store, kept) = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the server stops within 5 s")
        .expect("the server task ends without panicking");
    kept.expect("the store keeps every batch");
    store
}

#[tokio::test]
async fn two_clients_take_turns_over_tcp_and_every_oracle_holds() {
    let mut c = Cluster::start().await;
    let (server_stop, rx) = watch::channel(false);
    let server = c.start_server(0, MemStore::default(), rx).await;
    c.judge_until(|c| c.released.iter().all(|&r| r >= 2)).await;
    stop_server(&server_stop, server).await;
    let (found, released, accepted) = (c.found.clone(), c.released, c.accepted);
    c.stop_all().await;
    assert!(found.is_empty(), "violations: {found:?}");
    assert!(
        released.iter().all(|&r| r >= 2),
        "each client held and released twice within the bounds: {released:?}"
    );
    assert!(accepted > 0, "the resource accepted writes");
}

/// Runs the cluster until a token was used, restarts the server on `store` (after
/// `power_loss`), and runs it until two grants after the restart. Returns the violations
/// and the tokens granted before and after.
async fn restart_server<S: Store>(
    store: S,
    power_loss: impl FnOnce(&mut S),
) -> (Vec<Violation>, Vec<Token>, Vec<Token>) {
    let mut c = Cluster::start().await;
    let (stop0, rx) = watch::channel(false);
    let first = c.start_server(0, store, rx).await;
    c.judge_until(|c| c.accepted > 0 && c.granted.len() >= 2)
        .await;
    let mut store = stop_server(&stop0, first).await;
    power_loss(&mut store);
    let before = std::mem::take(&mut c.granted);
    let (stop1, rx) = watch::channel(false);
    let second = c.start_server(1, store, rx).await;
    c.judge_until(|c| c.granted.len() >= 2).await;
    stop_server(&stop1, second).await;
    let (found, after) = (c.found.clone(), c.granted.clone());
    c.stop_all().await;
    (found, before, after)
}

#[tokio::test]
async fn a_restarted_server_keeps_its_counter_on_redb_and_reissues_tokens_without_sync() {
    let dir = std::env::temp_dir().join(format!("leaseproof-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let store = RedbStore::open(&dir.join("server.redb")).expect("a store");
    let (found, before, after) = restart_server(store, |_| {}).await;
    std::fs::remove_dir_all(&dir).expect("remove the temp dir");
    assert!(found.is_empty(), "violations: {found:?}");
    assert!(
        before.len() >= 2 && after.len() >= 2,
        "{before:?} {after:?}"
    );
    let high = before.iter().max().expect("grants before");
    assert!(
        after.iter().all(|t| t > high),
        "tokens rise: {before:?} then {after:?}"
    );
    // The same restart on a store that never synced: the counter is gone, and the
    // restarted server hands out a token it already issued.
    let (found, _, _) = restart_server(UnsyncedStore::default(), UnsyncedStore::lose_cache).await;
    assert!(
        found
            .iter()
            .any(|v| v.oracle() == OracleName::TokenMonotonic),
        "token-monotonic trips: {found:?}"
    );
}

#[tokio::test]
async fn garbage_connections_are_closed_and_everyone_else_is_served() {
    use tokio::io::AsyncWriteExt;
    let mut c = Cluster::start().await;
    let (server_stop, rx) = watch::channel(false);
    let server = c.start_server(0, MemStore::default(), rx).await;
    let addr = c.addrs[&SERVER];
    // A wrong version, an oversized length prefix, a truncated frame, a half-open
    // connection that never says who it is, and one that says so and then sends garbage.
    let mut held = Vec::new();
    for bytes in [
        vec![0, 0, 0, 2, 9, 1],
        vec![0xff, 0xff, 0xff, 0xff],
        vec![0, 0, 0, 40, 1, 1, 0],
        Vec::new(),
        vec![0, 0, 0, 6, 1, 0, 2, 0, 0, 0, 0, 0, 0, 3, 1, 1, 0xff],
    ] {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(&bytes).await.expect("write");
        held.push(s);
    }
    c.judge_until(|c| c.released.iter().all(|&r| r >= 2)).await;
    stop_server(&server_stop, server).await;
    let (found, released) = (c.found.clone(), c.released);
    c.stop_all().await;
    drop(held);
    assert!(found.is_empty(), "violations: {found:?}");
    assert!(
        released.iter().all(|&r| r >= 2),
        "the clients were served through the garbage: {released:?}"
    );
}

#[tokio::test]
async fn a_server_whose_store_is_full_refuses_to_grant_and_says_so() {
    let mut c = Cluster::start().await;
    let (server_stop, rx) = watch::channel(false);
    let full = MemStore {
        full: true,
        ..MemStore::default()
    };
    let server = c.start_server(0, full, rx).await;
    // The first grant's counter cannot be made durable: the server stops before its send.
    let (_, kept) = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops within 10 s")
        .expect("the server task ends without panicking");
    let _ = server_stop.send(true);
    let e = kept.expect_err("the store refused the batch");
    assert!(e.to_string().contains("store is full"), "{e}");
    // The clients keep asking for a while (a bound, not a timing assertion): none ever
    // adopts a grant, since none was sent.
    c.judge_within(Duration::from_millis(600), |_| false).await;
    let (adopted, found) = (c.adopted, c.found.clone());
    c.stop_all().await;
    assert_eq!(
        adopted, 0,
        "no client adopted a grant the server could not persist"
    );
    assert!(found.is_empty(), "violations: {found:?}");
}
