//! The node shell: one loop per node that feeds the core its inputs, drains its outputs and
//! re-arms one timer, for any protocol ([`Protocol`]): each output is read as an
//! [`Effect`]. No protocol decision is made here.
//!
//! Inputs come from a receiver task through a channel (madsim's `recv_from` is not
//! cancel-safe: dropping it after a buggify delay would lose the frame). Every local reading
//! and every local sleep goes through the node's clock.

use crate::clock::true_now_ns;
use crate::fault::FaultKind;
use crate::scenario::{node_id, node_idx, node_name, NodeIdx, RESOURCE, SERVER};
use crate::wire::{Datagram, MAX_FRAME, TAG};
use crate::world::{Input, World};
use leaseproof_impl::{crash_points_of, Effect, Jitter, Machine, Nanos, Protocol, RoleKind};
use madsim::net::Endpoint;
use madsim::rand::Rng;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long a node with no deadline waits before it looks again.
const IDLE_NS: u64 = 3_600_000_000_000;
/// A timer that fires this many times at one instant without moving its deadline is a
/// time-lock: the shell reports it and lets each further spin cost a microsecond (never a
/// hang).
const MAX_SPINS: u32 = 1_000;

/// The address of node `idx` on the simulated network.
#[must_use]
pub fn node_addr(idx: NodeIdx) -> SocketAddr {
    let ip = Ipv4Addr::new(10, 0, (idx / 200) as u8, (idx % 200 + 1) as u8);
    SocketAddr::new(IpAddr::V4(ip), 7000)
}

/// The node at an address, if it is one of ours.
#[must_use]
pub fn node_of(addr: SocketAddr) -> Option<NodeIdx> {
    match addr.ip() {
        IpAddr::V4(ip) if ip.octets()[0] == 10 && ip.octets()[1] == 0 && addr.port() == 7000 => {
            let o = ip.octets();
            let idx = usize::from(o[2]) * 200 + usize::from(o[3]).checked_sub(1)?;
            Some(idx)
        }
        _ => None,
    }
}

pub fn lock<P: Protocol>(w: &Mutex<World<P>>) -> MutexGuard<'_, World<P>> {
    // A poisoned lock means a node task panicked; the run is reported as a crash anyway.
    w.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Binds node `idx`'s address and starts its receiver task, which forwards every frame
/// to the returned inbox (madsim's `recv_from` is not cancel-safe, so the node's loop
/// selects on the channel instead). The sender is the inbox's, for wakes and stalls.
async fn bind_node(
    idx: NodeIdx,
) -> (
    Arc<Endpoint>,
    tokio::sync::mpsc::UnboundedSender<Input>,
    tokio::sync::mpsc::UnboundedReceiver<Input>,
) {
    let ep = Arc::new(
        Endpoint::bind(node_addr(idx))
            .await
            .expect("a node can bind its own address"),
    );
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let rx_ep = ep.clone();
    let frames = tx.clone();
    madsim::task::spawn(async move {
        while let Ok((data, from)) = rx_ep.recv_from_raw(TAG).await {
            let Some(mut d) = Datagram::from_payload(data) else {
                continue;
            };
            // One byte more than a frame may have is kept, so an oversized one fails to
            // decode.
            d.bytes.truncate(MAX_FRAME + 1);
            if frames.send(Input::Frame(d, from)).is_err() {
                break;
            }
        }
    });
    (ep, tx, rx)
}

/// A node's life from boot to kill: restore, then one loop.
pub async fn node_main<P: Protocol>(world: Arc<Mutex<World<P>>>, idx: NodeIdx, kind: RoleKind) {
    let (id, disk, cfg, now) = {
        let mut w = lock(&world);
        let (id, disk) = w.boot(idx);
        (id, disk, w.cfg.clone(), w.local_now(idx))
    };
    let (ep, tx, mut rx) = bind_node(idx).await;
    lock(&world).inboxes[idx] = Some(tx);
    let mut node = P::boot(&cfg, kind, id, &disk, now);
    let pending = lock(&world).pending_stall[idx].take();
    if let Some(stalled) = pending {
        P::stall(&mut node, now, stalled);
    }
    drain(&world, idx, &ep, &mut node, None).await;
    // The deadline that fired last, and how often in a row at one instant.
    let mut spins: (Option<Nanos>, u32) = (None, 0);
    loop {
        // The ghost tenure of the write this step handles, if it is one.
        let mut ghost = None;
        let (wait, why) = match node.poll_timeout() {
            Some((deadline, why)) => {
                let wait = lock(&world).clocks[idx].true_until(true_now_ns(), deadline);
                (
                    spin_guard(&world, idx, &mut spins, deadline, why, wait),
                    why,
                )
            }
            None => (IDLE_NS, "idle"),
        };
        if wait == 0 {
            let mut w = lock(&world);
            w.record_timer(idx, why);
            let now = w.local_now(idx);
            drop(w);
            node.handle_timeout(now);
        } else {
            // `biased`: poll in written order. Unbiased select! draws from tokio's own RNG,
            // seeded from a process-wide counter: a second run of a seed would differ.
            tokio::select! {
                biased;
                input = rx.recv() => match input {
                    Some(Input::Frame(d, from)) => {
                        ghost = d.ghost;
                        deliver(&world, idx, &mut node, &d.bytes, from);
                    }
                    Some(Input::Wake) => {}
                    Some(Input::Stall(stalled)) => {
                        let now = lock(&world).local_now(idx);
                        P::stall(&mut node, now, stalled);
                    }
                    None => return,
                },
                () = madsim::time::sleep(Duration::from_nanos(wait)) => {
                    let mut w = lock(&world);
                    w.record_timer(idx, why);
                    let now = w.local_now(idx);
                    drop(w);
                    node.handle_timeout(now);
                }
            }
        }
        drain(&world, idx, &ep, &mut node, ghost).await;
    }
}

/// A timer due now (`wait` 0) that fired at this same deadline [`MAX_SPINS`] times in a
/// row is a time-lock: reported once, and from then each spin waits a microsecond, as a
/// spinning CPU would, so the run goes on instead of hanging. Returns the wait to use.
fn spin_guard<P: Protocol>(
    world: &Mutex<World<P>>,
    idx: NodeIdx,
    spins: &mut (Option<Nanos>, u32),
    deadline: Nanos,
    why: &str,
    wait: u64,
) -> u64 {
    if wait == 0 && spins.0 == Some(deadline) {
        spins.1 = spins.1.saturating_add(1);
    } else {
        *spins = (Some(deadline), 0);
    }
    if wait > 0 || spins.1 < MAX_SPINS {
        return wait;
    }
    lock(world).record_timelock(
        idx,
        format!(
            "time-lock: {}'s timer ({why}) fired {MAX_SPINS} times at {:.3} s of the run \
             without moving its deadline",
            node_name(idx),
            true_now_ns() as f64 / 1e9
        ),
    );
    1_000
}

fn deliver<P: Protocol>(
    world: &Mutex<World<P>>,
    idx: NodeIdx,
    node: &mut P::Node,
    bytes: &[u8],
    from: SocketAddr,
) {
    let mut w = lock(world);
    match (P::decode(bytes), node_of(from)) {
        (Ok(msg), Some(peer)) if peer < w.clocks.len() => {
            w.record_msg(idx, "recv", peer, &msg);
            let now = w.local_now(idx);
            drop(w);
            node.handle_message(now, node_id(peer), msg);
        }
        (Err(e), _) => w.record_garbage(idx, e),
        (Ok(_), _) => w.record_garbage(idx, format!("a frame from unknown address {from}")),
    }
}

/// Drains every output as an effect: sends go on the wire (after an optional seeded stall
/// for a client's write to the resource, and with an optional duplicate), persists reach
/// the disk before anything after them, jitter is drawn from madsim's RNG, events go to
/// the oracles. With crash points on for this node, a step that has one may crash at it:
/// the effects before it take place, the supervisor is asked to take the node down, and
/// this shell waits to be killed. `ghost`: the ghost tenure of the write the step handled,
/// for its events.
async fn drain<P: Protocol>(
    world: &Arc<Mutex<World<P>>>,
    idx: NodeIdx,
    ep: &Arc<Endpoint>,
    node: &mut P::Node,
    ghost: Option<u64>,
) {
    // A client's belief is recorded at the instant of the step that changed it, before its
    // sends are carried out: a send awaits the network, and while it does other nodes run
    // (a Release reaches the server, which grants the next client, which adopts), so a
    // belief recorded after the sends ended late and showed overlaps that never were.
    record_belief(world, idx, node);
    let ratio = match idx {
        SERVER | RESOURCE => lock(world).net.crash_point_ratio[idx],
        _ => 0.0,
    };
    loop {
        let effects: Vec<_> = std::iter::from_fn(|| node.poll_output())
            .map(P::effect)
            .collect();
        if effects.is_empty() {
            break;
        }
        // Nothing is drawn when the ratio is 0 (the trace hashes of scenarios without crash
        // points stay), nor for a step with no crash point.
        let points = if ratio > 0.0 {
            crash_points_of(&effects)
        } else {
            Vec::new()
        };
        let crash_at = (!points.is_empty() && madsim::rand::thread_rng().gen_bool(ratio))
            .then(|| points[madsim::rand::thread_rng().gen_range(0..points.len())]);
        let kept = crash_at.unwrap_or(effects.len());
        for e in &effects[..kept] {
            effect(world, idx, ep, node, e.clone(), ghost).await;
        }
        if let Some(at) = crash_at {
            let detail = format!(
                "{} crashed after {at} of {} outputs of a step; lost: {}",
                node_name(idx),
                effects.len(),
                lost_effects::<P>(&effects[at..])
            );
            let tx = lock(world).crash_requests.clone();
            if let Some(tx) = tx {
                let _ = tx.send((idx, detail));
            }
            // The supervisor kills this node at once; nothing of the step after the point
            // may happen.
            std::future::pending::<()>().await;
        }
    }
    // Jitter drawn above is the only input of the loop; a belief it changed is recorded now.
    record_belief(world, idx, node);
}

/// The sends and persists a crash at a crash point lost, as the fault's detail says them.
fn lost_effects<P: Protocol>(lost: &[Effect<P::Msg, P::Persist, P::Event>]) -> String {
    let lost: Vec<String> = lost
        .iter()
        .filter_map(|e| match e {
            Effect::Send { to, msg } => Some(format!(
                "send {} to {}",
                P::msg_kind(msg),
                node_name(node_idx(*to))
            )),
            Effect::Persist(op) => Some(format!("persist {op:?}")),
            Effect::NeedJitter | Effect::Event(_) => None,
        })
        .collect();
    lost.join(", ")
}

fn record_belief<P: Protocol>(world: &Mutex<World<P>>, idx: NodeIdx, node: &P::Node) {
    if !node_id(idx).is_client() {
        return;
    }
    if let Some(b) = P::belief(node) {
        lock(world).update_belief(idx, b);
    }
}

/// Carries out one effect.
async fn effect<P: Protocol>(
    world: &Arc<Mutex<World<P>>>,
    idx: NodeIdx,
    ep: &Arc<Endpoint>,
    node: &mut P::Node,
    e: Effect<P::Msg, P::Persist, P::Event>,
    ghost: Option<u64>,
) {
    match e {
        Effect::Send { to, msg } => {
            let to = node_idx(to);
            let net = lock(world).net;
            let mut rng = madsim::rand::thread_rng();
            // A write: what a client sends the resource (the reference protocol's
            // `Write`, its only message to the resource).
            let write = to == RESOURCE && P::HAS_RESOURCE && node_id(idx).is_client();
            // A write's ghost tenure, fixed when the core emits it (as in the model: a
            // stall before the bytes leave does not move it), and sent beside the bytes,
            // never in them.
            let sent_ghost = lock(world).ghosts.sent::<P>(&msg, node_id(idx));
            // A scripted delay armed for this write, else a random one (no draw when a
            // scripted one applies).
            let armed = if write {
                lock(world).write_delays[idx].take()
            } else {
                None
            };
            let delay = armed.or_else(|| {
                (write && net.send_delay_ratio > 0.0 && rng.gen_bool(net.send_delay_ratio)).then(
                    || {
                        let [a, b] = net.send_delay_ms;
                        if a >= b {
                            a
                        } else {
                            rng.gen_range(a..=b)
                        }
                    },
                )
            });
            if let Some(ms) = delay {
                lock(world).record_fault_span(
                    idx,
                    FaultKind::SendDelayed,
                    format!("{ms} ms before a write"),
                    Some(ms * 1_000_000),
                );
                madsim::time::sleep(Duration::from_millis(ms)).await;
            }
            let bytes = P::encode(&msg);
            lock(world).record_msg(idx, "send", to, &msg);
            let datagram = move || -> Box<Datagram> {
                Box::new(Datagram {
                    bytes: bytes.clone(),
                    ghost: sent_ghost,
                })
            };
            let slow = lock(world).link_delays.get(&(idx, to)).copied();
            if let Some(ms) = slow {
                // A slowed link: the frame leaves later, and the node goes on meanwhile.
                let ep = Arc::clone(ep);
                let frame = datagram();
                madsim::task::spawn(async move {
                    madsim::time::sleep(Duration::from_millis(ms)).await;
                    let _ = ep.send_to_raw(node_addr(to), TAG, frame).await;
                });
            } else {
                // Datagrams: a send to a dead or cut-off peer is simply lost.
                let _ = ep.send_to_raw(node_addr(to), TAG, datagram()).await;
            }
            if net.duplicate_ratio > 0.0 && rng.gen_bool(net.duplicate_ratio) {
                {
                    let mut w = lock(world);
                    w.record_fault(
                        idx,
                        FaultKind::MessageDuplicated,
                        P::msg_kind(&msg).to_string(),
                    );
                    w.metrics.messages_sent += 1;
                }
                let _ = ep.send_to_raw(node_addr(to), TAG, datagram()).await;
            }
        }
        Effect::Persist(op) => P::persist(&mut lock(world).disks[idx], op),
        Effect::NeedJitter => {
            let ppm = madsim::rand::thread_rng().gen_range(0..=Jitter::MAX_PPM);
            let now = lock(world).local_now(idx);
            node.handle_jitter(now, Jitter { ppm });
        }
        Effect::Event(e) => lock(world).record_event(idx, &e, ghost),
    }
}
