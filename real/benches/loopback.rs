//! The real server's speed over loopback, each against a bare baseline of the same shape,
//! so the ratio says what the shell and the core cost (issue 22's two ratios):
//!
//! - **renewals**: a holder sends renewals in windows of [`WINDOW`] and reads the answers;
//!   one real server (no persist on a renewal) against a bare tokio echo that takes the
//!   same frames on the same two connections (in on one, back on the other, as the server
//!   answers over its own connection to the client) and decodes and re-encodes each;
//! - **grants**: a client acquires, is granted, releases, is released, in turn; one real
//!   server on redb (one fsync'd transaction per grant: the counter's batch) against an echo
//!   that fsyncs once per frame to a file in the same directory before it answers. One
//!   grant is one iteration on each side: the server's cycle is two round trips and one
//!   durable write, the echo's one round trip and one fsync.
//!
//! `cargo bench -p leaseproof-real --bench loopback`; medians go to `reports/bench.md`.
#![allow(clippy::disallowed_methods)] // a real runtime: the machine's clock and tokio's tasks

use criterion::{criterion_group, criterion_main, Criterion};
use futures_util::{SinkExt, StreamExt};
use leaseproof_impl::{Identity, Key, Msg, NodeId, ProtocolConfig, ReqId, RoleKind, Token};
use leaseproof_real::clock::monotonic_ns;
use leaseproof_real::{
    run_node, Frame, FrameCodec, MemStore, NodeSpec, RealClock, RedbStore, Store,
};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_util::codec::Framed;

/// Renewals in flight at once.
const WINDOW: u64 = 64;
const ME: NodeId = NodeId::client(0);
const SERVER: NodeId = NodeId::authority(0);

type Conn = Framed<TcpStream, FrameCodec>;

/// The client's two connections: out to the server (or echo), and the one it opens back.
struct Client {
    out: Conn,
    back: Conn,
    seq: u64,
}

impl Client {
    /// Connects to `addr`, sends a first acquire, and waits for the connection back on
    /// `listener` and the first answer (returned).
    async fn connect(addr: SocketAddr, listener: &TcpListener) -> (Client, Msg) {
        let s = TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).expect("nodelay");
        let mut out = Framed::new(s, FrameCodec::default());
        out.send(Frame::Hello(ME)).await.expect("hello");
        // The answer path opens on the first message.
        out.send(Frame::Msg(acquire(0)))
            .await
            .expect("a first message");
        let (b, _) = listener.accept().await.expect("the connection back");
        let mut back = Framed::new(b, FrameCodec::default());
        let hello = back.next().await.expect("a hello").expect("a frame");
        assert!(matches!(hello, Frame::Hello(_)), "{hello:?}");
        let mut c = Client { out, back, seq: 0 };
        let first = c.recv().await;
        (c, first)
    }

    fn id(&mut self) -> ReqId {
        self.seq += 1;
        ReqId {
            incarnation: 0,
            seq: self.seq,
        }
    }

    async fn send(&mut self, m: Msg) {
        self.out.feed(Frame::Msg(m)).await.expect("send");
    }

    async fn flush(&mut self) {
        self.out.flush().await.expect("flush");
    }

    /// Gives back `token` and waits for the answer.
    async fn release(&mut self, token: Token) -> Msg {
        let id = self.id();
        self.send(Msg::Release {
            key: Key(0),
            id,
            token,
        })
        .await;
        self.flush().await;
        self.recv().await
    }

    async fn recv(&mut self) -> Msg {
        match self.back.next().await.expect("an answer").expect("a frame") {
            Frame::Msg(m) => m,
            f @ Frame::Hello(_) => panic!("unexpected {f:?}"),
        }
    }
}

fn acquire(seq: u64) -> Msg {
    Msg::Acquire {
        key: Key(0),
        id: ReqId {
            incarnation: 0,
            seq,
        },
    }
}

fn config() -> leaseproof_impl::Config {
    ProtocolConfig {
        // Long enough that a renewal never races the lease in a bench run.
        ttl_ms: 600_000,
        renew_interval_ms: 100_000,
        fresh_window_ms: 200_000,
        ..ProtocolConfig::default()
    }
    .validate()
    .expect("a valid config")
}

/// Starts a real server with `store`; returns its address and its stop.
async fn server<S: Store>(store: S, me: SocketAddr) -> (SocketAddr, watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("an address");
    let spec = NodeSpec {
        kind: RoleKind::Server,
        id: Identity {
            node: SERVER,
            incarnation: 0,
        },
        cfg: config(),
        clock: RealClock::new(monotonic_ns(), 0, 0),
        peers: BTreeMap::from([(ME, me)]),
        jitter_seed: 1,
        send_delay: None,
    };
    let (events, mut drain) = mpsc::unbounded_channel();
    tokio::spawn(async move { while drain.recv().await.is_some() {} });
    let (stop, rx) = watch::channel(false);
    tokio::spawn(run_node(spec, listener, store, events, rx));
    (addr, stop)
}

/// A bare echo of the same frames on the same two connections; with `fsync`, each frame is
/// appended to a file and synced before it goes back.
async fn echo(me: SocketAddr, fsync: Option<std::path::PathBuf>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        let (s, _) = listener.accept().await.expect("accept");
        s.set_nodelay(true).expect("nodelay");
        let mut inbound = Framed::new(s, FrameCodec::default());
        let _hello = inbound.next().await;
        let b = TcpStream::connect(me).await.expect("connect back");
        b.set_nodelay(true).expect("nodelay");
        let mut back = Framed::new(b, FrameCodec::default());
        back.send(Frame::Hello(SERVER)).await.expect("hello");
        let mut file = fsync.map(|p| std::fs::File::create(p).expect("a file"));
        while let Some(Ok(f)) = inbound.next().await {
            if let Some(file) = file.as_mut() {
                file.write_all(&[1; 16]).expect("write");
                file.sync_data().expect("fsync");
            }
            if back.send(f).await.is_err() {
                return;
            }
        }
    });
    addr
}

/// Sends `n` renewals (or echoed frames) in windows, reads every answer; the time taken.
async fn renewals(c: &mut Client, token: Token, n: u64) -> Duration {
    let start = Instant::now();
    let mut left = n;
    while left > 0 {
        let w = left.min(WINDOW);
        for _ in 0..w {
            let id = c.id();
            c.send(Msg::Renew {
                key: Key(0),
                id,
                token,
                acked: 0,
            })
            .await;
        }
        c.flush().await;
        for _ in 0..w {
            let m = c.recv().await;
            assert!(
                matches!(m, Msg::Renewed { .. } | Msg::Renew { .. }),
                "{m:?}"
            );
        }
        left -= w;
    }
    start.elapsed()
}

/// `n` grant cycles (acquire, granted, release, released) against a server, or `n` echoed
/// round trips against an echo; the time taken.
async fn grants(c: &mut Client, n: u64, is_echo: bool) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        let id = c.id();
        c.send(Msg::Acquire { key: Key(0), id }).await;
        c.flush().await;
        let token = match c.recv().await {
            Msg::Granted { token, .. } => token,
            Msg::Acquire { .. } if is_echo => continue,
            m => panic!("expected a grant, got {m:?}"),
        };
        let m = c.release(token).await;
        assert!(matches!(m, Msg::Released { .. }), "{m:?}");
    }
    start.elapsed()
}

/// A client of a fresh server, and the token its first acquire was granted.
async fn holder<S: Store>(store: S) -> (Client, Token, watch::Sender<bool>) {
    let me = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (addr, stop) = server(store, me.local_addr().expect("an address")).await;
    let (c, first) = Client::connect(addr, &me).await;
    let Msg::Granted { token, .. } = first else {
        panic!("expected a grant, got {first:?}");
    };
    (c, token, stop)
}

/// A client of a bare echo (with `fsync`: one sync per frame, to that file).
async fn echo_client(fsync: Option<std::path::PathBuf>) -> Client {
    let me = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = echo(me.local_addr().expect("an address"), fsync).await;
    Client::connect(addr, &me).await.0
}

fn bench(cr: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut g = cr.benchmark_group("real-loopback");
    g.sample_size(20).measurement_time(Duration::from_secs(5));

    let (mut held, token, stop) = rt.block_on(holder(MemStore::default()));
    g.bench_function("renewal/server", |b| {
        b.iter_custom(|n| rt.block_on(renewals(&mut held, token, n)));
    });
    let _ = stop.send(true);
    let mut echoed = rt.block_on(echo_client(None));
    g.bench_function("renewal/echo", |b| {
        b.iter_custom(|n| rt.block_on(renewals(&mut echoed, token, n)));
    });

    let dir = std::env::temp_dir().join(format!("leaseproof-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let store = RedbStore::open(&dir.join("server.redb")).expect("a store");
    let (mut granted, stop) = rt.block_on(async {
        let (mut c, token, stop) = holder(store).await;
        // Give back the first grant, so each iteration starts with the key free.
        let _ = c.release(token).await;
        (c, stop)
    });
    g.bench_function("grant/server-redb", |b| {
        b.iter_custom(|n| rt.block_on(grants(&mut granted, n, false)));
    });
    let _ = stop.send(true);
    let mut synced = rt.block_on(echo_client(Some(dir.join("echo.log"))));
    g.bench_function("grant/echo-fsync", |b| {
        b.iter_custom(|n| rt.block_on(grants(&mut synced, n, true)));
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
