//! The lock server: the authority on who holds each key.
//!
//! Per key it keeps the holder (node and incarnation), its token and its expiry on the
//! server's own clock, and a bounded FIFO wait queue. Tokens come from one counter that is
//! persisted (`Output::Persist`) *before* the grant that carries it is sent, so tokens rise
//! across restarts, even when a crash falls inside the granting step (a crash point, see
//! the batch rule in [`crate::output`]): the counter's batch precedes the send.
//!
//! Persist batches: a grant's step holds one batch per grant (the counter), each followed
//! by its send; a step that hands over several keys (a lock set's, at expiry) holds one
//! per key, so a crash point between two grants keeps the first counter and loses the
//! second with its grant unsent. Renew and release are accepted only from the holder with its current
//! token, and a renew only while `now < expiry`.
//!
//! Hand-over is fair and level-triggered: whenever a key is free and out of grace (after a
//! release, at expiry, at the end of grace, and on every Acquire arrival), the first queued
//! waiter whose latest Acquire arrived within `fresh_window` gets it; stale entries are
//! dropped. The server cannot see network delay, so a grant may still reach its client too
//! late; the client's rules handle that.
//!
//! After a restart (its lease table is volatile) the server grants nothing until
//! `restart + ttl` on its own clock, which runs on through the crash: every grant it made
//! before the crash has expired by then.
//!
//! Contract (sans-IO): drain `poll_output()` after every input; re-arm one timer at
//! `poll_timeout()`.

use crate::config::{Config, Mutant, Variant};
use crate::output::{Disk, Event, Output, PersistOp, UNDRAINED};
use crate::types::Unhashed;
use crate::types::{
    Counter, Counters, Identity, Instants, Key, Msg, Nanos, NodeId, RefuseReason, RemapNodes,
    ReqId, Token,
};
use std::collections::{BTreeMap, VecDeque};
use std::hash::Hash;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Holder {
    client: Identity,
    token: Token,
    expiry: Nanos,
    /// The holder's highest reported count of acknowledged writes (tiered leases extend
    /// by the full TTL once it is positive), and, for progress-based extension, when
    /// (server clock) it last rose or the grant was made. Both stay 0 when no mode reads
    /// them, so the default protocol's states do not multiply.
    acked: u32,
    progress_at: Nanos,
}

impl Holder {
    /// How far a renewal extends this holder: the full TTL (flat leases, or a holder that
    /// has shown progress), or the intent tier.
    fn extension(&self, cfg: &Config) -> u64 {
        if cfg.intent_ns == 0 || self.acked > 0 {
            cfg.ttl_ns
        } else {
            cfg.intent_ns
        }
    }

    /// Progress-based extension: no reported progress for the whole window.
    fn stalled(&self, cfg: &Config, now: Nanos) -> bool {
        cfg.progress_window_ns > 0 && now >= self.progress_at.plus(cfg.progress_window_ns)
    }

    /// Takes a reported count of acknowledged writes.
    fn report(&mut self, cfg: &Config, now: Nanos, acked: u32) {
        if acked > self.acked {
            self.acked = acked;
            if cfg.progress_window_ns > 0 {
                self.progress_at = now;
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Waiter {
    client: Identity,
    /// The waiter's latest Acquire id: a hand-over grant answers it.
    id: ReqId,
    /// When that Acquire arrived, on the server's clock.
    arrived: Nanos,
    /// The waiter has been answered `Queued` at least once.
    waited: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct KeyState {
    holder: Option<Holder>,
    queue: Vec<Waiter>,
}

/// The highest request id seen from one node on one key, and the answer it got.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Record {
    id: ReqId,
    answer: Msg,
}

/// The lock server state machine.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LockServer {
    /// Fixed for the run, so left out of the hash.
    cfg: Unhashed<Config>,
    /// The highest token ever issued (durable unless the volatile-counter variant).
    issued: u64,
    grace_until: Option<Nanos>,
    keys: BTreeMap<Key, KeyState>,
    records: BTreeMap<(NodeId, Key), Record>,
    out: VecDeque<Output>,
}

enum Seen {
    New,
    Late,
    Repeat(Msg),
}

impl LockServer {
    /// Boot (incarnation 0) or restart (incarnation > 0) from what the disk kept.
    #[must_use]
    pub fn restore(config: &Config, id: Identity, persisted: &Disk, now: Nanos) -> LockServer {
        let restart = id.incarnation > 0;
        let grace_until =
            (restart && config.variant != Variant::NoRestartGrace).then(|| now.plus(config.ttl_ns));
        let mut s = LockServer {
            cfg: Unhashed(*config),
            issued: persisted.token_counter,
            grace_until,
            keys: BTreeMap::new(),
            records: BTreeMap::new(),
            out: VecDeque::new(),
        };
        s.event(Event::ServerBooted {
            restart,
            grace_ns: if grace_until.is_some() {
                config.ttl_ns
            } else {
                0
            },
        });
        s
    }

    pub fn handle_message(&mut self, now: Nanos, from: NodeId, msg: Msg) {
        self.advance(now);
        match msg {
            Msg::Acquire { key, id } => self.on_acquire(now, from, key, id),
            Msg::Renew {
                key,
                id,
                token,
                acked,
            } => self.on_renew(now, from, key, id, token, acked),
            Msg::Release { key, id, token } => self.on_release(now, from, key, id, token),
            // Replies and writes are not for the server: a confused or hostile peer.
            _ => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Nanos) {
        self.advance(now);
    }

    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<(Nanos, &'static str)> {
        assert!(self.out.is_empty(), "{UNDRAINED}");
        let mut next: Option<(Nanos, &'static str)> = self.grace_until.map(|g| (g, "grace ends"));
        for ks in self.keys.values() {
            if let Some(h) = ks.holder {
                if next.is_none_or(|(t, _)| h.expiry < t) {
                    next = Some((h.expiry, "lease expiry"));
                }
            }
        }
        next
    }

    /// The current holder of a key and its expiry, for tests and traces.
    #[must_use]
    pub fn holder(&self, key: Key) -> Option<(Identity, Token, Nanos)> {
        self.keys
            .get(&key)?
            .holder
            .map(|h| (h.client, h.token, h.expiry))
    }

    /// The per-client records kept: node, key and the highest request id seen.
    pub fn records(&self) -> impl Iterator<Item = (NodeId, Key, ReqId)> + '_ {
        self.records.iter().map(|(&(n, k), r)| (n, k, r.id))
    }

    /// Forgets the records `keep` rejects: for a model checker, dead data. A record is
    /// read only when a request of its node on its key arrives (`seen`): one with a higher
    /// id is new with the record or without it, and a client's every new request takes a
    /// higher id, so once no request at or below the record's id is in flight, and the
    /// network does not duplicate, no later step can read it.
    pub fn forget_records(&mut self, keep: impl Fn(NodeId, Key, ReqId) -> bool) {
        self.records.retain(|&(n, k), r| keep(n, k, r.id));
    }

    /// Whether the record of `n` on `k` at `id` is live by the rule of
    /// [`Self::forget_records`]: a request of `n`'s on `k` at or below `id` is among the
    /// messages in flight (each with its sender).
    pub fn record_live<'a>(
        mut in_flight: impl Iterator<Item = (NodeId, &'a Msg)>,
        n: NodeId,
        k: Key,
        id: ReqId,
    ) -> bool {
        in_flight
            .any(|(from, m)| from == n && m.key() == k && m.request_id().is_some_and(|r| r <= id))
    }

    /// The number of waiters queued on a key.
    #[must_use]
    pub fn queue_len(&self, key: Key) -> usize {
        self.keys.get(&key).map_or(0, |k| k.queue.len())
    }

    #[must_use]
    pub fn in_grace(&self, now: Nanos) -> bool {
        self.grace_until.is_some_and(|g| now < g)
    }

    // ---- internals ----

    fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    fn send(&mut self, to: NodeId, msg: Msg) {
        self.out.push_back(Output::Send { to, msg });
    }

    /// Expire what is due and end grace, then hand over every free key.
    fn advance(&mut self, now: Nanos) {
        if self.grace_until.is_some_and(|g| now >= g) {
            self.grace_until = None;
            self.event(Event::GraceEnded);
        }
        let keys: Vec<Key> = self.keys.keys().copied().collect();
        for key in keys {
            let ks = self.keys.get_mut(&key).expect("key listed above");
            if let Some(h) = ks.holder.filter(|h| now >= h.expiry) {
                ks.holder = None;
                self.event(Event::Expired {
                    client: h.client,
                    key,
                    token: h.token,
                });
            }
            self.hand_over(now, key);
        }
    }

    /// Answers a request and records the answer as the node's latest on that key.
    fn answer(&mut self, node: NodeId, key: Key, id: ReqId, msg: Msg) {
        self.records.insert((node, key), Record { id, answer: msg });
        self.send(node, msg);
    }

    /// Answers a request with a refusal.
    fn refuse(
        &mut self,
        node: NodeId,
        key: Key,
        id: ReqId,
        token: Option<Token>,
        reason: RefuseReason,
    ) {
        let msg = Msg::Refused {
            key,
            id,
            token,
            reason,
        };
        self.answer(node, key, id, msg);
    }

    /// Classifies a request id against the node's record on this key.
    fn seen(&self, node: NodeId, key: Key, id: ReqId) -> Seen {
        match self.records.get(&(node, key)) {
            Some(r) if id < r.id => Seen::Late,
            Some(r) if id == r.id => Seen::Repeat(r.answer),
            _ => Seen::New,
        }
    }

    /// The sender of a new request; repeats are answered from the record, late ones dropped.
    fn new_request(&mut self, node: NodeId, key: Key, id: ReqId) -> Option<Identity> {
        match self.seen(node, key, id) {
            Seen::New => Some(Identity {
                node,
                incarnation: id.incarnation,
            }),
            Seen::Late => None,
            Seen::Repeat(answer) => {
                self.send(node, answer);
                None
            }
        }
    }

    fn on_acquire(&mut self, now: Nanos, from: NodeId, key: Key, id: ReqId) {
        let Some(client) = self.new_request(from, key, id) else {
            return;
        };
        let cfg = self.cfg;
        let ks = self.keys.entry(key).or_default();
        // An Acquire from the current holder is a renewal, unless progress-based extension
        // withholds it (then it queues, like anyone else, behind those already waiting).
        if let Some(h) = ks
            .holder
            .as_mut()
            .filter(|h| h.client == client && !h.stalled(&cfg, now))
        {
            h.expiry = h.expiry.max(now.plus(h.extension(&cfg)));
            let (token, expiry) = (h.token, h.expiry);
            self.event(Event::Renewed {
                client,
                key,
                token,
                expiry,
            });
            self.answer(from, key, id, Msg::Renewed { key, id, token });
            return;
        }
        // Join the queue, or refresh this node's entry in place (a newer incarnation of the
        // same node takes over its place: the older one is gone).
        let mut waiter = Waiter {
            client,
            id,
            arrived: now,
            waited: false,
        };
        if let Some(w) = ks.queue.iter_mut().find(|w| w.client.node == from) {
            waiter.waited = w.waited && w.client == client;
            *w = waiter;
        } else if ks.queue.len() < self.cfg.queue_capacity as usize {
            ks.queue.push(waiter);
        } else {
            self.refuse(from, key, id, None, RefuseReason::QueueFull);
            return;
        }
        if self.hand_over(now, key) != Some(client) {
            let ks = self.keys.get_mut(&key).expect("entry made above");
            let position = ks.queue.iter().position(|w| w.client == client);
            if let Some(p) = position {
                ks.queue[p].waited = true;
            }
            let position = position.unwrap_or(0) as u32;
            self.event(Event::QueuedAtServer {
                client,
                key,
                position,
            });
            self.answer(from, key, id, Msg::Queued { key, id });
        }
    }

    fn on_renew(
        &mut self,
        now: Nanos,
        from: NodeId,
        key: Key,
        id: ReqId,
        token: Token,
        acked: u32,
    ) {
        let Some(client) = self.new_request(from, key, id) else {
            return;
        };
        let cfg = self.cfg;
        let mut holder = self
            .keys
            .get_mut(&key)
            .and_then(|ks| ks.holder.as_mut())
            .filter(|h| h.client == client && h.token == token && now < h.expiry);
        if let Some(h) = holder.as_deref_mut() {
            h.report(&cfg, now, acked);
        }
        match holder {
            Some(h) if h.stalled(&cfg, now) => {
                // Not extended, and not ended early either: the holder may still believe
                // until its last confirmed span, which lies inside this expiry, so the next
                // in line is granted at the expiry (by `advance`), never before.
                self.event(Event::RenewalWithheld { client, key, token });
                self.refuse(from, key, id, Some(token), RefuseReason::Stalled);
            }
            Some(h) => {
                h.expiry = h.expiry.max(now.plus(h.extension(&cfg)));
                let expiry = h.expiry;
                self.event(Event::Renewed {
                    client,
                    key,
                    token,
                    expiry,
                });
                self.answer(from, key, id, Msg::Renewed { key, id, token });
            }
            None => self.refuse(from, key, id, Some(token), RefuseReason::NotHolder),
        }
    }

    fn on_release(&mut self, now: Nanos, from: NodeId, key: Key, id: ReqId, token: Token) {
        if let Seen::Late = self.seen(from, key, id) {
            if self.cfg.mutant != Mutant::LateReleaseDropped {
                self.on_late_release(now, from, key, id, token);
            }
            return;
        }
        let Some(by) = self.new_request(from, key, id) else {
            return;
        };
        let any_release_frees = self.cfg.variant == Variant::ReleaseByNonOwner;
        self.keys.entry(key).or_default();
        self.free_holder(key, by, |h| {
            any_release_frees || (h.client == by && h.token == token)
        });
        // A release of anything else is acknowledged too, so the sender stops re-sending; it
        // changes nothing.
        self.answer(from, key, id, Msg::Released { key, id, token });
        self.hand_over(now, key);
    }

    /// A Release overtaken by a newer request of its sender: dropped like any late request,
    /// unless it gives back the token the sender holds now. Then it frees the key: a client
    /// never acts under a token again once it has sent its Release (it declines any later
    /// reply for it), so the grant is dead. Without this rule a client whose Release and
    /// next Acquire are reordered is livelocked: the server answers each Acquire from its
    /// holder as a renewal (extending the grant), and the client, having given that token
    /// back, releases it again with a fresh id that its next Acquire overtakes in turn (the
    /// model's liveness check found it: `model/tests/faults.rs`). No record is written and
    /// the acknowledgement is sent without one, so the newer request's record stands.
    fn on_late_release(&mut self, now: Nanos, from: NodeId, key: Key, id: ReqId, token: Token) {
        let by = Identity {
            node: from,
            incarnation: id.incarnation,
        };
        if self.free_holder(key, by, |h| h.client == by && h.token == token) {
            self.send(from, Msg::Released { key, id, token });
            self.hand_over(now, key);
        }
    }

    /// Frees `key` if its holder passes `frees`, recording who released it; whether it did.
    fn free_holder(&mut self, key: Key, by: Identity, frees: impl Fn(&Holder) -> bool) -> bool {
        let Some(ks) = self.keys.get_mut(&key) else {
            return false;
        };
        let Some(h) = ks.holder.filter(|h| frees(h)) else {
            return false;
        };
        ks.holder = None;
        self.event(Event::ReleasedAtServer {
            client: h.client,
            key,
            token: h.token,
            by,
        });
        true
    }

    /// If the key is free and out of grace, grants it to the first fresh waiter. Returns the
    /// client granted, if any.
    fn hand_over(&mut self, now: Nanos, key: Key) -> Option<Identity> {
        if self.in_grace(now) {
            return None;
        }
        let fresh_window = self.cfg.fresh_window_ns;
        let ks = self.keys.get_mut(&key)?;
        if ks.holder.is_some() {
            return None;
        }
        ks.queue.retain(|w| now < w.arrived.plus(fresh_window));
        if ks.queue.is_empty() {
            return None;
        }
        let w = ks.queue.remove(0);
        let token = if self.cfg.mutant == Mutant::GrantReusesToken {
            Token(self.issued)
        } else {
            Token(self.issued + 1)
        };
        // `issued` starts at the counter this incarnation restored and only ever takes a
        // token granted here, so above it means above both (whatever a variant or a lost
        // disk did to the counter before this boot).
        assert!(
            token.0 > self.issued,
            "the server granted token {token}, not above {} (the counter it restored and every \
             token it issued since)",
            self.issued
        );
        let tiered = self.cfg.intent_ns > 0;
        let expiry = now.plus(if tiered {
            self.cfg.intent_ns
        } else {
            self.cfg.ttl_ns
        });
        ks.holder = Some(Holder {
            client: w.client,
            token,
            expiry,
            acked: 0,
            progress_at: if self.cfg.progress_window_ns > 0 {
                now
            } else {
                Nanos::ZERO
            },
        });
        self.issued = token.0;
        // Durable before the grant leaves: a restarted server never re-issues this token.
        // The counter is a batch of its own, and the grant's send follows it, so a crash
        // point can only fall after the counter is durable.
        let counter = Output::Persist(PersistOp::TokenCounter(token.0));
        match self.cfg.variant {
            Variant::VolatileCounter => self.grant(w, key, token, expiry),
            // The bug: the counter's batch follows the send, so a crash point between them
            // loses it while the grant is already on the wire.
            Variant::GrantBeforePersist => {
                self.grant(w, key, token, expiry);
                self.out.push_back(counter);
            }
            _ => {
                self.out.push_back(counter);
                self.grant(w, key, token, expiry);
            }
        }
        Some(w.client)
    }

    /// Records and sends a grant to the waiter `w`.
    fn grant(&mut self, w: Waiter, key: Key, token: Token, expiry: Nanos) {
        self.event(Event::Granted {
            client: w.client,
            key,
            token,
            expiry,
            queued: w.waited,
        });
        self.answer(
            w.client.node,
            key,
            w.id,
            Msg::Granted {
                key,
                id: w.id,
                token,
            },
        );
    }
}

/// The server's instants (see [`Instants`]), all on its own clock:
///
/// | instant | compared with | bound |
/// |---|---|---|
/// | `grace_until` | `now >= t`, `now < t`, the least timer (`poll_timeout`) | 0 |
/// | holder `expiry` | `now >= t`, `now < t`, the least timer; `max(t, now + extension)` | the TTL (or the intent tier, if longer) |
/// | holder `progress_at` | `now >= t + progress window` (read only with progress-based extension; otherwise `Nanos::ZERO` and not passed) | the progress window |
/// | waiter `arrived` | `now < t + fresh window` (a stale waiter is dropped at hand-over) | the fresh window |
///
/// Clamping keeps each outcome: every sum `t + d` with `d` at most the bound stays below
/// `now`, and `max(t, now + d)` is `now + d` either way.
impl Instants for LockServer {
    fn map_instants(&mut self, f: &mut dyn FnMut(Nanos, u64) -> Nanos) {
        let expiry_bound = self.cfg.ttl_ns.max(self.cfg.intent_ns);
        let (progress, fresh) = (self.cfg.progress_window_ns, self.cfg.fresh_window_ns);
        if let Some(g) = &mut self.grace_until {
            *g = f(*g, 0);
        }
        for ks in self.keys.values_mut() {
            if let Some(h) = &mut ks.holder {
                h.expiry = f(h.expiry, expiry_bound);
                if progress > 0 {
                    h.progress_at = f(h.progress_at, progress);
                }
            }
            for w in &mut ks.queue {
                w.arrived = f(w.arrived, fresh);
            }
        }
    }
}

/// The server's counters (see [`Counters`]): `issued` and each holder's token (tokens);
/// each waiter's request id and each record's id and answer, in the sequence domain of
/// the client they came from.
impl Counters for LockServer {
    fn map_counters(&mut self, f: &mut dyn FnMut(Counter, u64) -> u64) {
        self.issued = f(Counter::Token, self.issued);
        for ks in self.keys.values_mut() {
            if let Some(h) = &mut ks.holder {
                h.token = h.token.mapped(f);
            }
            for w in &mut ks.queue {
                w.id = w.id.mapped(w.client.node, f);
            }
        }
        for ((node, _), r) in &mut self.records {
            r.id = r.id.mapped(*node, f);
            r.answer = r.answer.mapped(*node, f);
        }
    }
}

impl RemapNodes for LockServer {
    fn remap_nodes(&self, f: &dyn Fn(NodeId) -> NodeId) -> Self {
        let keys = self
            .keys
            .iter()
            .map(|(k, ks)| {
                let holder = ks.holder.map(|h| Holder {
                    client: h.client.remap_nodes(f),
                    ..h
                });
                let queue = ks
                    .queue
                    .iter()
                    .map(|w| Waiter {
                        client: w.client.remap_nodes(f),
                        ..*w
                    })
                    .collect();
                (*k, KeyState { holder, queue })
            })
            .collect();
        let records = self
            .records
            .iter()
            .map(|((n, k), r)| {
                (
                    (f(*n), *k),
                    Record {
                        id: r.id,
                        answer: r.answer.remap_nodes(f),
                    },
                )
            })
            .collect();
        assert!(self.out.is_empty(), "remap only drained states");
        LockServer {
            cfg: self.cfg,
            issued: self.issued,
            grace_until: self.grace_until,
            keys,
            records,
            out: VecDeque::new(),
        }
    }
}
