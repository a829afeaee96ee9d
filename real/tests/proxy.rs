//! The fault proxy on loopback: a sender's frames through it to a node that counts them,
//! under each of the simulator's network faults. Every wait is bounded.
#![allow(clippy::disallowed_methods)] // real sockets and tokio's tasks and timers

use futures_util::{SinkExt, StreamExt};
use leaseproof_impl::{Key, Msg, NodeId, ReqId};
use leaseproof_real::{run_proxy, Counts, Frame, FrameCodec, Knobs, Net};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_util::codec::Framed;

const FROM: NodeId = NodeId(2);
const TO: NodeId = NodeId(0);
const FRAMES: u64 = 200;
const WAIT: Duration = Duration::from_secs(10);

fn msg(seq: u64) -> Msg {
    Msg::Acquire {
        key: Key(0),
        id: ReqId {
            incarnation: 0,
            seq,
        },
    }
}

/// Sends [`FRAMES`] frames from `FROM` through a proxy to a node; `between` runs on the
/// proxy's control after half of them. Returns the sequence numbers the node received (in
/// arrival order, once the proxy's counts settle) and the counts.
async fn through(knobs: Knobs, between: impl FnOnce(&Net)) -> (Vec<u64>, Counts) {
    let node = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let node_addr = node.local_addr().unwrap();
    let (got_tx, mut got) = mpsc::unbounded_channel();
    // The node: reads a hello, then counts messages, on every connection.
    let receiver = tokio::spawn(async move {
        loop {
            let Ok((s, _)) = node.accept().await else {
                return;
            };
            let got_tx = got_tx.clone();
            tokio::spawn(async move {
                let mut f = Framed::new(s, FrameCodec::default());
                assert_eq!(f.next().await.unwrap().unwrap(), Frame::Hello(FROM));
                while let Some(Ok(Frame::Msg(Msg::Acquire { id, .. }))) = f.next().await {
                    let _ = got_tx.send(id.seq);
                }
            });
        }
    });
    let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = proxy.local_addr().unwrap();
    let net = Net::new(knobs, 7);
    let (stop_tx, stop) = watch::channel(false);
    let proxy_task = tokio::spawn(run_proxy(proxy, TO, node_addr, net.clone(), stop));
    let mut sender = Framed::new(
        TcpStream::connect(proxy_addr).await.unwrap(),
        FrameCodec::default(),
    );
    sender.send(Frame::Hello(FROM)).await.unwrap();
    let mut between = Some(between);
    for seq in 0..FRAMES {
        if seq == FRAMES / 2 {
            // Let the first half arrive at the proxy before the fault changes.
            let deadline = tokio::time::Instant::now() + WAIT;
            while net.counts().arrived < FRAMES / 2 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (between.take().unwrap())(&net);
        }
        sender.send(Frame::Msg(msg(seq))).await.unwrap();
    }
    // Settle: every arrived frame delivered, dropped or lost.
    let deadline = tokio::time::Instant::now() + WAIT;
    let settled = |c: Counts| {
        c.arrived == FRAMES
            && c.delivered + c.unreachable == c.arrived + c.duplicated - c.clogged - c.lost
    };
    while !settled(net.counts()) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let counts = net.counts();
    let mut seqs = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while (seqs.len() as u64) < counts.delivered && tokio::time::Instant::now() < deadline {
        if let Ok(Some(s)) = tokio::time::timeout(Duration::from_millis(50), got.recv()).await {
            seqs.push(s);
        }
    }
    let _ = stop_tx.send(true);
    let _ = proxy_task.await;
    receiver.abort();
    (seqs, counts)
}

#[tokio::test]
async fn a_clean_link_delivers_every_frame_in_order() {
    let (seqs, c) = through(Knobs::default(), |_| {}).await;
    assert_eq!(seqs, (0..FRAMES).collect::<Vec<_>>());
    assert_eq!(
        (c.delivered, c.clogged, c.lost, c.duplicated),
        (FRAMES, 0, 0, 0)
    );
}

#[tokio::test]
async fn a_clogged_link_drops_frames_and_heals() {
    // Clogged for the second half: those frames are dropped, not held.
    let (seqs, c) = through(Knobs::default(), |net| net.clog(FROM, TO)).await;
    assert_eq!(seqs, (0..FRAMES / 2).collect::<Vec<_>>());
    assert_eq!(c.clogged, FRAMES / 2);
    // The other direction was never clogged; a heal opens this one.
    let (seqs, c) = through(Knobs::default(), |net| {
        net.clog(FROM, TO);
        net.clog(FROM, TO);
        net.unclog(FROM, TO);
        assert_eq!(net.clogged().len(), 1, "two clogs need two unclogs");
        net.heal();
    })
    .await;
    assert_eq!(seqs.len() as u64, FRAMES);
    assert_eq!(c.clogged, 0);
}

#[tokio::test]
async fn loss_duplication_and_latency_act_per_frame() {
    let knobs = Knobs {
        latency_ns: [0, 5_000_000],
        loss_ratio: 0.25,
        duplicate_ratio: 0.25,
    };
    let (seqs, c) = through(knobs, |_| {}).await;
    // Each copy met loss on its own; every surviving copy arrived.
    assert_eq!(c.delivered, FRAMES + c.duplicated - c.lost);
    assert_eq!(seqs.len() as u64, c.delivered);
    assert!(c.lost > 0 && c.duplicated > 0, "{c:?}");
    // Some frame arrived twice, and the 0-5 ms latency reordered some.
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert!(sorted.len() < seqs.len(), "no duplicate arrived");
    assert!(seqs.windows(2).any(|w| w[0] > w[1]), "nothing reordered");
}
