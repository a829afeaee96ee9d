//! The reference protocol run for real: a lock server, the fenced resource and two clients
//! as tokio tasks in one process, talking TCP over the loopback address, each with its own
//! clock read from the machine's monotonic clock. The same oracles as the simulator's judge
//! the events. Every loop is bounded in count and time, and every task is stopped at the
//! end, on failure too (the runtime is dropped with the test).
#![allow(clippy::disallowed_methods)] // a real runtime: the machine's clock and tokio's tasks

use leaseproof_impl::{
    Event, Identity, NodeId, ProtocolConfig, RoleKind, SafetyOracles, Violation,
};
use leaseproof_real::{run_node, MemStore, NodeSpec, RealClock, Stamped};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

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

/// The most events one run may take before it stops, and the longest it may last.
const EVENT_LIMIT: usize = 20_000;
const TIME_LIMIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn two_clients_take_turns_over_tcp_and_every_oracle_holds() {
    let cfg = config();
    let origin = Instant::now();
    let nodes = [
        (NodeId::authority(0), RoleKind::Server, 0),
        (NodeId::RESOURCE, RoleKind::Resource, 0),
        (NodeId::client(0), RoleKind::Client, 30_000_000),
        (NodeId::client(1), RoleKind::Client, -30_000_000),
    ];
    let mut listeners = Vec::new();
    let mut addrs = BTreeMap::new();
    for (id, _, _) in nodes {
        let l = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        addrs.insert(id, l.local_addr().expect("an address"));
        listeners.push(l);
    }
    let (stop_tx, stop) = watch::channel(false);
    let (events_tx, mut events) = mpsc::unbounded_channel::<Stamped>();
    let mut running = tokio::task::JoinSet::new();
    for ((id, kind, offset_ns), listener) in nodes.into_iter().zip(listeners) {
        let spec = NodeSpec {
            kind,
            id: Identity {
                node: id,
                incarnation: 0,
            },
            cfg,
            clock: RealClock::new(origin, offset_ns, 0),
            peers: addrs
                .iter()
                .filter(|(n, _)| **n != id)
                .map(|(n, a)| (*n, *a))
                .collect(),
            jitter_seed: u64::from(id.0) + 1,
        };
        running.spawn(run_node(
            spec,
            listener,
            MemStore::default(),
            events_tx.clone(),
            stop.clone(),
        ));
    }
    drop(events_tx);
    // Judge every event as it comes, stamped with the server's clock at that true instant
    // (the server's offset is 0 and its rate exact, so its clock reads the same as a clock
    // built like it). Stop once each client has held and released twice.
    let server = RealClock::new(origin, 0, 0);
    let mut oracles = SafetyOracles::new();
    let mut found: Vec<Violation> = Vec::new();
    let mut released = [0u32; 2];
    let mut accepted = 0u32;
    let mut seen = 0usize;
    let deadline = tokio::time::Instant::now() + TIME_LIMIT;
    while seen < EVENT_LIMIT && released.iter().any(|&r| r < 2) {
        let Ok(Some(e)) = tokio::time::timeout_at(deadline, events.recv()).await else {
            break;
        };
        seen += 1;
        oracles.observe(server.at(e.true_ns), &e.event, &mut found);
        match e.event {
            Event::ReleaseDecided { client, .. } => {
                released[client.node.client_index().expect("a client") as usize] += 1;
            }
            Event::WriteAccepted { .. } => accepted += 1,
            _ => {}
        }
    }
    stop_tx.send(true).expect("the nodes listen");
    while let Ok(Some(done)) =
        tokio::time::timeout(Duration::from_secs(5), running.join_next()).await
    {
        done.expect("a node task ends without panicking")
            .expect("the store keeps every batch");
    }
    assert!(found.is_empty(), "violations: {found:?}");
    assert!(
        released.iter().all(|&r| r >= 2),
        "each client held and released twice within {EVENT_LIMIT} events: {released:?}"
    );
    assert!(accepted > 0, "the resource accepted writes");
}
