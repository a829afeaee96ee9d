//! One seed of `scenarios/standard.toml` (5 clients, TTL 10 s, renew 3 s, a write a second,
//! 300 simulated seconds, every within-assumption fault kind) against a bare madsim loop of
//! the same shape: the same Endpoint, the same serialization, one timeout per receive, the
//! same number of messages. Run: `cargo bench -p leaseproof-sim --bench sim`.

use criterion::{criterion_group, criterion_main, Criterion};
use leaseproof_impl::{Key, Msg, ReqId};
use leaseproof_sim::run::{run_seed_isolated, RunOptions};
use leaseproof_sim::scenario::Scenario;
use leaseproof_sim::shell::node_addr;
use leaseproof_sim::wire::{decode, encode, MAX_FRAME, TAG};
use madsim::net::Endpoint;
use madsim::runtime::Runtime;
use std::path::Path;
use std::time::Duration;

const SIM_SECONDS: u64 = 300;
const CLIENTS: usize = 5;

/// The bare loop: clients send a request every `period`, the server answers each; every
/// receive waits with one timeout.
fn bare(seed: u64, messages: u64) {
    let rt = Runtime::with_seed_and_config(seed, madsim::Config::default());
    let requests = (messages / 2 / CLIENTS as u64).max(1);
    let period = Duration::from_nanos(SIM_SECONDS * 1_000_000_000 / requests);
    rt.block_on(async move {
        let h = madsim::runtime::Handle::current();
        h.create_node()
            .name("server")
            .ip(node_addr(0).ip())
            .init(|| async {
                let ep = Endpoint::bind(node_addr(0)).await.unwrap();
                let mut buf = vec![0u8; MAX_FRAME + 1];
                loop {
                    if let Ok(Ok((n, from))) =
                        madsim::time::timeout(Duration::from_secs(1), ep.recv_from(TAG, &mut buf))
                            .await
                    {
                        if let Ok(Msg::Acquire { key, id }) = decode(&buf[..n]) {
                            let _ = ep
                                .send_to(from, TAG, &encode(&Msg::Queued { key, id }))
                                .await;
                        }
                    }
                }
            })
            .build();
        madsim::time::sleep(Duration::from_millis(1)).await;
        let mut joins = Vec::new();
        for c in 0..CLIENTS {
            let node = h.create_node().ip(node_addr(2 + c).ip()).build();
            joins.push(node.spawn(async move {
                let ep = Endpoint::bind(node_addr(2 + c)).await.unwrap();
                let mut buf = vec![0u8; MAX_FRAME + 1];
                for seq in 0..requests {
                    let id = ReqId {
                        incarnation: 0,
                        seq,
                    };
                    let msg = encode(&Msg::Acquire { key: Key(0), id });
                    let _ = ep.send_to(node_addr(0), TAG, &msg).await;
                    if let Ok(Ok((n, _))) =
                        madsim::time::timeout(period, ep.recv_from(TAG, &mut buf)).await
                    {
                        let _ = decode(&buf[..n]);
                    }
                    madsim::time::sleep(period / 2).await;
                }
            }));
        }
        for j in joins {
            let _ = j.await;
        }
    });
}

fn bench(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/standard.toml");
    let sc = Scenario::load(&path).unwrap();
    let probe = run_seed_isolated(&sc, 1, RunOptions::default());
    let messages = probe.metrics.messages_sent;
    eprintln!(
        "standard.toml seed 1: {} simulated s, {messages} messages",
        probe.sim_ms / 1000
    );
    let mut g = c.benchmark_group("sim");
    g.sample_size(20);
    g.bench_function("harness: standard.toml seed 1", |b| {
        b.iter(|| run_seed_isolated(&sc, 1, RunOptions::default()))
    });
    g.bench_function("bare madsim loop, same messages", |b| {
        b.iter(|| std::thread::scope(|s| s.spawn(|| bare(1, messages)).join().unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
