//! One node's shell: feed the core an input, drain every output in order (a persist batch
//! applied before any later send), re-arm one timer at `poll_timeout()`. Peers are reached
//! over TCP: one outbound connection per peer, opened (and re-opened, with backoff) on
//! demand, that starts with a `Hello` frame; a message to a peer that cannot be reached is
//! lost, as a datagram would be. No protocol decision is made here.

use crate::clock::RealClock;
use crate::frame::{Frame, FrameCodec};
use crate::store::{Store, StoreError};
use futures_util::{SinkExt, StreamExt};
use leaseproof_impl::{
    xorshift64star, AnyNode, Config, Event, Identity, Jitter, Machine, Msg, Nanos, NodeId, Output,
    PersistOp, RoleKind,
};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::codec::Framed;

/// How long a node with no deadline waits before it looks again.
const IDLE: Duration = Duration::from_secs(3_600);
/// How long a new connection may take to say who it is.
const HELLO_WAIT: Duration = Duration::from_secs(2);
/// How long the accept loop waits after a failed accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
/// Reconnect backoff to a peer: from the first to the last, doubling.
const BACKOFF_MS: [u64; 2] = [5, 200];

/// What one node is.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    pub kind: RoleKind,
    pub id: Identity,
    pub cfg: Config,
    pub clock: RealClock,
    /// Every other node's address.
    pub peers: BTreeMap<NodeId, SocketAddr>,
    /// Seeds the jitter draws (a real node may draw entropy; a fixed seed keeps a test's
    /// draws the same).
    pub jitter_seed: u64,
    /// A stall between a write's decision and its send, as the simulator's shell plays it
    /// (`cluster.send_delay_ratio`, `send_delay_ms`): with this probability a `Write` waits
    /// a length drawn from the range, and the node's thread is blocked meanwhile, as a GC
    /// pause blocks a process.
    pub send_delay: Option<(f64, [u64; 2])>,
}

/// An event as the node saw it: true time (the machine's monotonic clock since the shared
/// origin) and the node's own reading.
#[derive(Clone, Copy, Debug)]
pub struct Stamped {
    pub true_ns: u64,
    pub local: Nanos,
    pub node: NodeId,
    pub event: Event,
}

/// Runs one node until `stop` turns true (or changes, or its sender is dropped). Inbound
/// connections arrive on `listener`. Returns the store, for a restart, and whether every
/// batch was kept: when the store refuses one, the node stops before any output after it.
pub async fn run_node<S: Store>(
    spec: NodeSpec,
    listener: TcpListener,
    mut store: S,
    events: mpsc::UnboundedSender<Stamped>,
    mut stop: watch::Receiver<bool>,
) -> (S, Result<(), StoreError>) {
    let mut tasks = JoinSet::new();
    let (input_tx, mut inputs) = mpsc::unbounded_channel();
    tasks.spawn(accept(listener, input_tx, stop.clone()));
    let mut outbound = BTreeMap::new();
    for (&peer, &addr) in &spec.peers {
        let (tx, rx) = mpsc::unbounded_channel();
        outbound.insert(peer, tx);
        tasks.spawn(connect(spec.id.node, addr, rx, stop.clone()));
    }
    let boot_true = spec.clock.true_ns();
    let mut shell = Shell {
        rng: spec.jitter_seed | 1,
        node: AnyNode::restore(
            spec.kind,
            &spec.cfg,
            spec.id,
            &store.disk(),
            spec.clock.at(boot_true),
        ),
        spec,
        outbound,
        events,
        step_true: boot_true,
    };
    let clock = shell.spec.clock.clone();
    let result = async {
        shell.drain(&mut store)?;
        loop {
            let wait = shell.node.poll_timeout().map_or(IDLE, |(t, _)| {
                Duration::from_nanos(shell.spec.clock.until(t))
            });
            tokio::select! {
                biased;
                _ = stop.changed() => return Ok(()),
                // A clock step: the deadline's true wait changed; compute it again.
                () = clock.stepped() => continue,
                input = inputs.recv() => match input {
                    Some((from, msg)) => {
                        let now = shell.step_now();
                        shell.node.handle_message(now, from, msg);
                    }
                    None => return Ok(()),
                },
                () = tokio::time::sleep(wait) => {
                    let now = shell.step_now();
                    shell.node.handle_timeout(now);
                }
            }
            shell.drain(&mut store)?;
        }
    }
    .await;
    tasks.shutdown().await;
    (store, result)
}

struct Shell {
    spec: NodeSpec,
    node: AnyNode,
    outbound: BTreeMap<NodeId, mpsc::UnboundedSender<Msg>>,
    events: mpsc::UnboundedSender<Stamped>,
    /// The jitter draws' generator state ([`Jitter::xorshift`]).
    rng: u64,
    /// True time of the step being drained: the instant the core decided at, which its
    /// events carry (as the simulator stamps them at the core's own step). Read once per
    /// step, so a node descheduled between deciding and logging (a loaded machine) does
    /// not log a decision later than it made it.
    step_true: u64,
}

impl Shell {
    /// Starts a step: reads true time once and returns this node's reading of it.
    fn step_now(&mut self) -> Nanos {
        self.step_true = self.spec.clock.true_ns();
        self.spec.clock.at(self.step_true)
    }

    /// Drains every output in order; consecutive persists are one batch, applied before
    /// the send that ends it.
    ///
    /// An event is written once every persist before it is durable: one that follows an
    /// unflushed batch waits for that batch (stamped when written), so a logged event never
    /// claims what a crash could still undo, and the supervisor can hold the disk to the log.
    fn drain(&mut self, store: &mut impl Store) -> Result<(), StoreError> {
        let mut batch: Vec<PersistOp> = Vec::new();
        let mut waiting: Vec<Event> = Vec::new();
        while let Some(out) = self.node.poll_output() {
            match out {
                Output::Persist(op) => batch.push(op),
                Output::Send { to, msg } => {
                    self.flush(store, &mut batch, &mut waiting)?;
                    if matches!(msg, Msg::Write { .. }) {
                        self.maybe_stall();
                    }
                    if let Some(tx) = self.outbound.get(&to) {
                        let _ = tx.send(msg);
                    }
                }
                Output::NeedJitter => {
                    let jitter = Jitter::xorshift(&mut self.rng);
                    let now = self.step_now();
                    self.node.handle_jitter(now, jitter);
                }
                Output::Event(event) if batch.is_empty() => self.log(event, self.step_true),
                Output::Event(event) => waiting.push(event),
            }
        }
        self.flush(store, &mut batch, &mut waiting)
    }

    /// Draws the send stall; when it hits, blocks the node's thread for its length.
    fn maybe_stall(&mut self) {
        let Some((ratio, [a, b])) = self.spec.send_delay else {
            return;
        };
        #[allow(clippy::cast_precision_loss)]
        let u = (xorshift64star(&mut self.rng) >> 11) as f64 / (1u64 << 53) as f64;
        if u < ratio {
            let ms = a + xorshift64star(&mut self.rng) % (b.saturating_sub(a) + 1);
            std::thread::sleep(Duration::from_millis(ms));
        }
    }

    /// Applies the pending batch, then writes the events that waited for it.
    fn flush(
        &self,
        store: &mut impl Store,
        batch: &mut Vec<PersistOp>,
        waiting: &mut Vec<Event>,
    ) -> Result<(), StoreError> {
        if !batch.is_empty() {
            store.apply(batch)?;
            batch.clear();
        }
        // An event that waited for a batch is stamped when it is written: it claims
        // nothing a crash could still undo.
        let written = self.spec.clock.true_ns();
        for event in waiting.drain(..) {
            self.log(event, written);
        }
        Ok(())
    }

    fn log(&self, event: Event, true_ns: u64) {
        let _ = self.events.send(Stamped {
            true_ns,
            local: self.spec.clock.at(true_ns),
            node: self.spec.id.node,
            event,
        });
    }
}

/// Accepts inbound connections; each reads a `Hello`, then messages, until it ends or
/// sends garbage (the connection is dropped; the node goes on).
async fn accept(
    listener: TcpListener,
    inputs: mpsc::UnboundedSender<(NodeId, Msg)>,
    stop: watch::Receiver<bool>,
) {
    accept_loop(listener, stop, |stream| read_peer(stream, inputs.clone())).await;
}

/// Accepts connections until `stop`, each served by its own task from `serve`; finished
/// tasks are reaped, so a long run holds only live ones. A failed accept (out of
/// descriptors, or a connection reset before it was taken) backs off rather than spin,
/// and the connections already open go on being served. The node's and the fault proxy's
/// listeners both run it.
pub(crate) async fn accept_loop<F, Fut>(
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
    mut serve: F,
) where
    F: FnMut(TcpStream) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            conn = listener.accept() => match conn {
                Ok((stream, _)) => {
                    tasks.spawn(serve(stream));
                }
                Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    tasks.shutdown().await;
}

/// Reads one peer's frames. A connection that does not start with a `Hello`, sends a frame
/// that does not decode, or stays silent past [`HELLO_WAIT`] before saying who it is, is
/// closed; the node goes on serving everyone else.
async fn read_peer(stream: TcpStream, inputs: mpsc::UnboundedSender<(NodeId, Msg)>) {
    let mut frames = Framed::new(stream, FrameCodec::default());
    let Ok(hello) = tokio::time::timeout(HELLO_WAIT, frames.next()).await else {
        return;
    };
    let Some(Ok(Frame::Hello(from))) = hello else {
        return;
    };
    while let Some(Ok(Frame::Msg(msg))) = frames.next().await {
        if inputs.send((from, msg)).is_err() {
            return;
        }
    }
}

/// Keeps one outbound connection to a peer, re-opening it with backoff; messages that find
/// no connection are lost.
async fn connect(
    me: NodeId,
    addr: SocketAddr,
    mut msgs: mpsc::UnboundedReceiver<Msg>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = BACKOFF_MS[0];
    let mut conn: Option<Framed<TcpStream, FrameCodec>> = None;
    loop {
        let msg = tokio::select! {
            biased;
            _ = stop.changed() => return,
            msg = msgs.recv() => match msg {
                Some(m) => m,
                None => return,
            },
        };
        if conn.is_none() {
            if let Ok(stream) = TcpStream::connect(addr).await {
                let _ = stream.set_nodelay(true);
                let mut framed = Framed::new(stream, FrameCodec::default());
                if framed.send(Frame::Hello(me)).await.is_ok() {
                    conn = Some(framed);
                    backoff = BACKOFF_MS[0];
                }
            }
        }
        let Some(framed) = conn.as_mut() else {
            // Lost; wait before trying again, so a dead peer costs no busy loop.
            tokio::time::sleep(Duration::from_millis(backoff)).await;
            backoff = (backoff * 2).min(BACKOFF_MS[1]);
            continue;
        };
        if framed.send(Frame::Msg(msg)).await.is_err() {
            conn = None;
        }
    }
}
