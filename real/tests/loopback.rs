//! The reference protocol run for real: a lock server, the fenced resource and two clients
//! as tokio tasks in one process, talking TCP over the loopback address, each with its own
//! clock read from the machine's monotonic clock. The same oracles as the simulator's judge
//! the events. Every loop is bounded in count and time, and every task is stopped at the
//! end, on failure too (the runtime is dropped with the test).
#![allow(clippy::disallowed_methods)] // a real runtime: the machine's clock and tokio's tasks

mod common;

use common::{stop_server, Cluster, SERVER};
use leaseproof_impl::{OracleName, Token, Violation};
use leaseproof_real::{MemStore, RedbStore, Store, UnsyncedStore};
use std::time::Duration;
use tokio::sync::watch;

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
