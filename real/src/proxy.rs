//! The fault proxy: the network between real nodes, played by the supervisor with the
//! simulator's semantics (`sim/src/engine/run.rs`, madsim's `NetSim`).
//!
//! One proxy listener stands in front of each node; every other node is told the proxy's
//! address instead of the node's. A connection through it says who is sending (its `Hello`),
//! and from then on each frame of the directed link `from → to` meets its fate when it
//! arrives, as madsim decides a datagram's at the send (`network.rs`, `try_send`: a clogged
//! link or a loss draw drops it):
//!
//! - a **clogged** link (a partition, a one-way cut, a split) drops the frame: frames are
//!   dropped, not held, and a frame already on its way when the link clogs still arrives;
//! - the **duplicate** draw adds a second copy, as the simulator's shell sends one
//!   (`sim/src/engine/shell.rs`); each copy then meets loss and latency on its own;
//! - the **loss** draw drops a copy;
//! - each surviving copy is **delayed** by a latency drawn uniformly from the link's range
//!   (so frames reorder, as in the simulator), then written to the node.
//!
//! The proxy decodes every frame (it is framing-aware), so a garbage frame ends that
//! connection here as it would at the node. A node that is down loses what is sent to it;
//! the proxy reconnects to it on the next frame. Draws come from one seeded generator.

use crate::frame::{Frame, FrameCodec};
use crate::shell::accept_loop;
use futures_util::{SinkExt, StreamExt};
use leaseproof_impl::{xorshift64star, NodeId};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::codec::Framed;

/// How long a connection through the proxy may take to say who it is.
const HELLO_WAIT: Duration = Duration::from_secs(2);
/// Frames held for delivery on one connection at most; more are dropped (a bound, never
/// reached at the rates a scenario sends).
const HELD_LIMIT: usize = 65_536;

/// The network's knobs: one-way latency range (uniform per frame), loss and duplication.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Knobs {
    pub latency_ns: [u64; 2],
    pub loss_ratio: f64,
    pub duplicate_ratio: f64,
}

/// What the proxy did, frame by frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Frames that arrived at the proxy.
    pub arrived: u64,
    /// Copies written to their node.
    pub delivered: u64,
    /// Frames dropped on a clogged link.
    pub clogged: u64,
    /// Copies dropped by the loss draw.
    pub lost: u64,
    /// Second copies made by the duplicate draw.
    pub duplicated: u64,
    /// Copies whose node could not be reached.
    pub unreachable: u64,
}

#[derive(Debug)]
struct State {
    knobs: Knobs,
    /// Directed links clogged, counted so overlapping faults heal correctly.
    clogged: BTreeMap<(NodeId, NodeId), u32>,
    rng: u64,
    counts: Counts,
}

/// The proxy's control: shared by the supervisor (which clogs, heals and sets knobs) and
/// every proxied connection.
#[derive(Clone, Debug)]
pub struct Net {
    state: Arc<Mutex<State>>,
}

impl Net {
    #[must_use]
    pub fn new(knobs: Knobs, seed: u64) -> Net {
        Net {
            state: Arc::new(Mutex::new(State {
                knobs,
                clogged: BTreeMap::new(),
                rng: seed | 1,
                counts: Counts::default(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Clogs the directed link `from → to` (once more).
    pub fn clog(&self, from: NodeId, to: NodeId) {
        *self.lock().clogged.entry((from, to)).or_default() += 1;
    }

    /// Undoes one [`Net::clog`] of the link.
    pub fn unclog(&self, from: NodeId, to: NodeId) {
        let mut s = self.lock();
        if let Some(c) = s.clogged.get_mut(&(from, to)) {
            *c -= 1;
            if *c == 0 {
                s.clogged.remove(&(from, to));
            }
        }
    }

    /// Heal, as the simulator's: every link open, no loss (latency and duplication stay).
    pub fn heal(&self) {
        let mut s = self.lock();
        s.clogged.clear();
        s.knobs.loss_ratio = 0.0;
    }

    /// The links clogged now.
    #[must_use]
    pub fn clogged(&self) -> BTreeSet<(NodeId, NodeId)> {
        self.lock().clogged.keys().copied().collect()
    }

    #[must_use]
    pub fn counts(&self) -> Counts {
        self.lock().counts
    }

    /// One frame's fate on `from → to`: the delays of the copies to deliver (none: dropped).
    fn fate(&self, from: NodeId, to: NodeId) -> Vec<Duration> {
        let mut s = self.lock();
        s.counts.arrived += 1;
        if s.clogged.contains_key(&(from, to)) {
            s.counts.clogged += 1;
            return Vec::new();
        }
        let k = s.knobs;
        let copies = if draw(&mut s.rng, k.duplicate_ratio) {
            s.counts.duplicated += 1;
            2
        } else {
            1
        };
        let mut delays = Vec::with_capacity(copies);
        for _ in 0..copies {
            if draw(&mut s.rng, k.loss_ratio) {
                s.counts.lost += 1;
                continue;
            }
            let [lo, hi] = k.latency_ns;
            let span = hi.saturating_sub(lo);
            let extra = if span == 0 {
                0
            } else {
                xorshift64star(&mut s.rng) % (span + 1)
            };
            delays.push(Duration::from_nanos(lo + extra));
        }
        delays
    }

    fn count(&self, f: impl FnOnce(&mut Counts)) {
        f(&mut self.lock().counts);
    }
}

/// A Bernoulli draw with probability `p` (none at 0, so a clean network draws nothing).
fn draw(rng: &mut u64, p: f64) -> bool {
    if p <= 0.0 {
        return false;
    }
    // 53 bits of the generator as a uniform number in [0, 1).
    #[allow(clippy::cast_precision_loss)]
    let u = (xorshift64star(rng) >> 11) as f64 / (1u64 << 53) as f64;
    u < p
}

/// Runs the proxy in front of node `to` (whose own address is `target`) until `stop`.
pub async fn run_proxy(
    listener: TcpListener,
    to: NodeId,
    target: SocketAddr,
    net: Net,
    stop: watch::Receiver<bool>,
) {
    accept_loop(listener, stop, |stream| {
        link(stream, to, target, net.clone())
    })
    .await;
}

/// One sender's connection through the proxy to `to`.
async fn link(stream: TcpStream, to: NodeId, target: SocketAddr, net: Net) {
    let _ = stream.set_nodelay(true);
    let mut inbound = Framed::new(stream, FrameCodec::default());
    let Ok(Some(Ok(Frame::Hello(from)))) = tokio::time::timeout(HELLO_WAIT, inbound.next()).await
    else {
        return;
    };
    // Frames waiting out their latency, by release instant (then arrival order).
    let mut held: BTreeMap<(Instant, u64), Frame> = BTreeMap::new();
    let mut order = 0u64;
    let mut outbound: Option<Framed<TcpStream, FrameCodec>> = None;
    loop {
        // Frames already due go at once: tokio's timers tick in whole milliseconds, and a
        // sleep would add up to one to every frame.
        while let Some(entry) = held.first_entry() {
            if entry.key().0 > Instant::now() {
                break;
            }
            let frame = entry.remove();
            deliver(&mut outbound, from, target, frame, &net).await;
        }
        let next = held.keys().next().map(|&(at, _)| at);
        tokio::select! {
            frame = inbound.next() => match frame {
                Some(Ok(frame @ Frame::Msg(_))) => {
                    let now = Instant::now();
                    for delay in net.fate(from, to) {
                        if held.len() < HELD_LIMIT {
                            held.insert((now + delay, order), frame);
                            order += 1;
                        }
                    }
                }
                // The sender closed, or sent garbage (a second hello is garbage too).
                _ => return,
            },
            () = tokio::time::sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                let Some((_, frame)) = held.pop_first() else { continue };
                deliver(&mut outbound, from, target, frame, &net).await;
            }
        }
    }
}

/// Writes one frame to the node, connecting first if needed; a node that is down loses it.
async fn deliver(
    outbound: &mut Option<Framed<TcpStream, FrameCodec>>,
    from: NodeId,
    target: SocketAddr,
    frame: Frame,
    net: &Net,
) {
    for _ in 0..2 {
        if outbound.is_none() {
            if let Ok(stream) = TcpStream::connect(target).await {
                let _ = stream.set_nodelay(true);
                let mut framed = Framed::new(stream, FrameCodec::default());
                if framed.send(Frame::Hello(from)).await.is_ok() {
                    *outbound = Some(framed);
                }
            }
        }
        let Some(conn) = outbound.as_mut() else {
            break;
        };
        if conn.send(frame).await.is_ok() {
            net.count(|c| c.delivered += 1);
            return;
        }
        // The node restarted since: its old connection is gone; one fresh try.
        *outbound = None;
    }
    net.count(|c| c.unreachable += 1);
}

/// Measures the one-way latency of `frames` frames from a sender through a proxy with no
/// faults to a receiver, all on loopback: what a real run's network adds before the
/// scenario's own latency. Returns each frame's latency in ns.
///
/// # Errors
/// When loopback cannot be bound or connected.
pub async fn one_way_latencies(frames: u64) -> std::io::Result<Vec<u64>> {
    let node = TcpListener::bind("127.0.0.1:0").await?;
    let node_addr = node.local_addr()?;
    let proxy = TcpListener::bind("127.0.0.1:0").await?;
    let proxy_addr = proxy.local_addr()?;
    let net = Net::new(Knobs::default(), 1);
    let (stop_tx, stop) = watch::channel(false);
    let proxy_task = tokio::spawn(run_proxy(proxy, NodeId(1), node_addr, net, stop));
    let mut sender = Framed::new(TcpStream::connect(proxy_addr).await?, FrameCodec::default());
    sender.get_ref().set_nodelay(true)?;
    let from = NodeId(2);
    sender
        .send(Frame::Hello(from))
        .await
        .map_err(std::io::Error::other)?;
    let mut out = Vec::new();
    // The proxy connects to the node on the first frame; the receiver is accepted then.
    let mut receiver: Option<Framed<TcpStream, FrameCodec>> = None;
    for seq in 0..=frames {
        let msg = leaseproof_impl::Msg::Acquire {
            key: leaseproof_impl::Key(0),
            id: leaseproof_impl::ReqId {
                incarnation: 0,
                seq,
            },
        };
        let sent = Instant::now();
        sender
            .send(Frame::Msg(msg))
            .await
            .map_err(std::io::Error::other)?;
        if receiver.is_none() {
            let (s, _) = tokio::time::timeout(HELLO_WAIT, node.accept())
                .await
                .map_err(std::io::Error::other)??;
            let mut r = Framed::new(s, FrameCodec::default());
            let _hello = r.next().await;
            receiver = Some(r);
        }
        let r = receiver
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no receiver"))?;
        let got = tokio::time::timeout(HELLO_WAIT, r.next()).await;
        if !matches!(got, Ok(Some(Ok(Frame::Msg(_))))) {
            return Err(std::io::Error::other("a frame did not arrive"));
        }
        // The first frame paid for the connection: not a sample.
        if seq > 0 {
            out.push(u64::try_from(sent.elapsed().as_nanos()).unwrap_or(u64::MAX));
        }
    }
    let _ = stop_tx.send(true);
    let _ = proxy_task.await;
    Ok(out)
}
