//! A real server under abuse: 1,000 connections at once (half of them silent before their
//! hello, half idle after it), a sender that writes one byte a second, releases from a node
//! that holds nothing, and a run out of file descriptors. The server rejects or closes what
//! is wrong, keeps serving the clients, and its process's resident memory stays within a
//! stated bound. One test in its own binary: it changes the process's descriptor limit.
#![allow(clippy::disallowed_methods)] // a real runtime: the machine's clock and tokio's tasks

mod common;

use bytes::BytesMut;
use common::{stop_server, Cluster, SERVER};
use leaseproof_impl::{Key, Msg, NodeId, ReqId, Token};
use leaseproof_real::{Frame, FrameCodec, MemStore};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::codec::Encoder;

/// Connections opened at once.
const CONNECTIONS: usize = 1_000;
/// The bound on the process's resident memory growth while they are open (the whole test
/// process: the server, the resource, two clients and the 1,000 connections' both ends).
const RSS_BOUND: u64 = 64 << 20;

fn frame(f: Frame) -> Vec<u8> {
    let mut buf = BytesMut::new();
    FrameCodec::default().encode(f, &mut buf).expect("a frame");
    buf.to_vec()
}

/// The process's resident set in bytes (`/proc/self/statm`, second field, in pages).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("a page count");
    // SAFETY: sysconf with a valid name has no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

fn nofile() -> libc::rlimit {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut r) },
        0
    );
    r
}

fn set_nofile(soft: libc::rlim_t) {
    let r = libc::rlimit {
        rlim_cur: soft,
        rlim_max: nofile().rlim_max,
    };
    // SAFETY: setrlimit reads the struct it is given.
    assert_eq!(
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const r) },
        0
    );
}

fn open_descriptors() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count() as u64
}

/// CPU time this process used so far, in ms.
fn cpu_ms() -> u64 {
    // SAFETY: getrusage writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &raw mut u) }, 0);
    let ms = |t: libc::timeval| t.tv_sec as u64 * 1_000 + t.tv_usec as u64 / 1_000;
    ms(u.ru_utime) + ms(u.ru_stime)
}

/// Opens the abuse: [`CONNECTIONS`] connections (even ones say hello and idle, odd ones
/// never do: half-open, closed after the server's hello wait), a sender of one byte a second
/// (for at most 4 s), and releases of every token up to 64 from `rogue`, which holds nothing.
async fn abuse(
    addr: std::net::SocketAddr,
    rogue: NodeId,
) -> (Vec<TcpStream>, tokio::task::JoinHandle<()>, TcpStream) {
    // 1,000 connections at once: even ones say who they are and stay idle; odd ones never
    // do (half-open: the server closes them after its hello wait).
    let hello = frame(Frame::Hello(NodeId::client(50)));
    let mut held = Vec::with_capacity(CONNECTIONS);
    for i in 0..CONNECTIONS {
        let mut s = TcpStream::connect(addr).await.expect("connect on loopback");
        if i % 2 == 0 {
            s.write_all(&hello).await.expect("write a hello");
        }
        held.push(s);
    }
    // One byte a second, for at most 4 s (a bound): a hello that takes forever.
    let slow = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.expect("connect on loopback");
        for b in frame(Frame::Hello(NodeId::client(51))).into_iter().take(4) {
            if s.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    // Releases of every token up to 64 from a node that holds nothing.
    let mut r = TcpStream::connect(addr).await.expect("connect on loopback");
    r.write_all(&frame(Frame::Hello(rogue)))
        .await
        .expect("a hello");
    for t in 1..=64 {
        let release = Msg::Release {
            key: Key(0),
            id: ReqId {
                incarnation: 0,
                seq: t,
            },
            token: Token(t),
        };
        r.write_all(&frame(Frame::Msg(release)))
            .await
            .expect("a release");
    }
    (held, slow, r)
}

/// Lowers the descriptor limit to `spare` above what is open, then opens connections to
/// `addr` without yielding (they wait in the listen backlog) until it runs out. Returns them,
/// and whether the limit was reached.
fn exhaust(addr: std::net::SocketAddr, spare: u64) -> (Vec<std::net::TcpStream>, bool) {
    let open = open_descriptors();
    set_nofile(open + spare);
    let mut starving = Vec::new();
    while let Ok(s) = std::net::TcpStream::connect(addr) {
        starving.push(s);
        if starving.len() > 100 {
            break;
        }
    }
    let exhausted = starving.len() <= 100;
    (starving, exhausted)
}

#[tokio::test(flavor = "current_thread")]
async fn a_thousand_connections_a_slow_sender_rogue_releases_and_no_descriptors_leave_everyone_served(
) {
    let limit = nofile();
    let want = (CONNECTIONS as u64 * 3).min(limit.rlim_max);
    set_nofile(want);
    assert!(
        want >= CONNECTIONS as u64 * 2 + 100,
        "the hard descriptor limit {} is too low for {CONNECTIONS} connections' both ends",
        limit.rlim_max
    );
    let rogue = NodeId::client(52);
    let mut c = Cluster::start().await;
    let (server_stop, rx) = watch::channel(false);
    let server = c.start_server(0, MemStore::default(), rx).await;
    let addr = c.addrs[&SERVER];
    c.judge_until(|c| c.released.iter().all(|&r| r >= 1)).await;
    let rss0 = rss();

    let (held, slow, r) = abuse(addr, rogue).await;
    let before = c.released;
    c.judge_until(|c| c.released.iter().zip(before).all(|(&r, b)| r >= b + 2))
        .await;
    let rss1 = rss();
    let served_with_connections = c.released.iter().zip(before).all(|(&r, b)| r >= b + 2);
    slow.abort();
    drop(held);
    drop(r);

    // Out of descriptors: connections wait in the listen backlog while this thread (the
    // runtime's only one) opens them without yielding, up to the limit; then the server's
    // accept fails with EMFILE and backs off, and the clients go on over the connections
    // they have.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (starving, exhausted) = exhaust(addr, 20);
    let cpu0 = cpu_ms();
    let before = c.released;
    c.judge_within(Duration::from_millis(500), |_| false).await;
    let cpu_starved = cpu_ms() - cpu0;
    drop(starving);
    set_nofile(want);
    c.judge_until(|c| c.released.iter().zip(before).all(|(&r, b)| r > b))
        .await;
    let served_after_starving = c.released.iter().zip(before).all(|(&r, b)| r > b);

    stop_server(&server_stop, server).await;
    let (found, rogue_freed) = (
        c.found.clone(),
        c.releases_at_server
            .iter()
            .filter(|(_, by)| by.node == rogue)
            .count(),
    );
    c.stop_all().await;
    set_nofile(limit.rlim_cur);
    let grew = rss1.saturating_sub(rss0);
    println!(
        "resident memory grew {} KiB with {CONNECTIONS} connections open; {cpu_starved} ms of CPU in 500 ms out of descriptors",
        grew >> 10
    );
    assert!(exhausted, "the descriptor limit was never reached");
    assert!(found.is_empty(), "violations: {found:?}");
    assert!(
        served_with_connections,
        "the clients were served while 1,000 connections were open"
    );
    assert!(
        served_after_starving,
        "the clients were served after the descriptors came back"
    );
    assert_eq!(
        rogue_freed, 0,
        "a release from a node that holds nothing freed a key"
    );
    assert!(
        grew < RSS_BOUND,
        "resident memory grew {grew} bytes (bound {RSS_BOUND})"
    );
}
