//! A client whose critical section needs several keys (the pattern "several resources, one total
//! order": User, then Cart, then Inventory; docs/design.md, Beyond one lease).
//!
//! One [`LeaseClient`] per key does the lease work (requests, retries, renewals, validity),
//! in managed mode: it wants its key only when told and never writes. The lock set decides
//! the order: it acquires the keys one at a time in the declared global order (key 0 first),
//! keeps renewing what it holds while it waits for the next, works once it holds them all (a
//! write to every key each write interval, each with that key's token), then releases them
//! all and rests. If any key is lost on the way, it gives up every key and starts over after
//! its think time.
//!
//! The `lock-order-inversion` variant lets every odd-numbered client acquire in the reverse
//! order: the classic inversion, a wait-for cycle that the deadlock oracle names.
//!
//! The order is part of the state (chosen at boot), so renaming clients for the model
//! checker's symmetry keeps each client's order with it.
//!
//! Contract (sans-IO): as [`LeaseClient`].

use crate::client::LeaseClient;
use crate::config::{Config, Variant};
use crate::output::{Event, Output};
use crate::types::Unhashed;
use crate::types::{
    Counter, Counters, IdemKey, Identity, Instants, Jitter, Key, Msg, Nanos, NodeId, RemapNodes,
};
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum SetPhase {
    Thinking {
        until: Nanos,
    },
    /// Holds `order[..next]`, waits for `order[next]`.
    Acquiring {
        next: u8,
    },
    Working {
        hold_until: Nanos,
        next_write: Nanos,
    },
}

/// The lock-set client state machine.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LockSetClient {
    /// Fixed for the run, so left out of the hash.
    cfg: Unhashed<Config>,
    me: Identity,
    /// This client's acquisition order (the declared one, or its own in the inversion).
    order: Vec<Key>,
    /// One managed lease per key, indexed by key.
    leases: Vec<LeaseClient>,
    phase: SetPhase,
    /// Sequence numbers of this client's writes (their idempotency keys).
    write_seq: u64,
    stalled: bool,
    out: VecDeque<Output>,
}

impl LockSetClient {
    /// Boots a lock-set client: it wants its first key at once.
    #[must_use]
    pub fn restore(config: &Config, id: Identity, now: Nanos) -> LockSetClient {
        let n = u32::from(config.lock_keys.max(1));
        let mut order: Vec<Key> = (0..n).map(Key).collect();
        if config.variant == Variant::LockOrderInversion && id.node.0 % 2 == 1 {
            order.reverse();
        }
        let mut c = LockSetClient {
            cfg: Unhashed(*config),
            me: id,
            order,
            leases: (0..n)
                .map(|k| LeaseClient::managed(config, id, Key(k)))
                .collect(),
            phase: SetPhase::Thinking { until: now },
            write_seq: 0,
            stalled: false,
            out: VecDeque::new(),
        };
        c.out
            .push_back(Output::Event(Event::ClientBooted { client: id }));
        c.step(now);
        c
    }

    pub fn handle_message(&mut self, now: Nanos, from: NodeId, msg: Msg) {
        if let Some(i) = self.lease_of(&msg) {
            self.leases[i].handle_message(now, from, msg);
        }
        self.step(now);
    }

    pub fn handle_timeout(&mut self, now: Nanos) {
        for l in &mut self.leases {
            if l.poll_timeout().is_some_and(|(t, _)| now >= t) {
                l.handle_timeout(now);
            }
        }
        self.step(now);
    }

    /// Answers the first lease waiting for a draw (the shell answers each `NeedJitter` in
    /// the order they were emitted, and they were emitted in key order).
    pub fn handle_jitter(&mut self, now: Nanos, jitter: Jitter) {
        if let Some(l) = self.leases.iter_mut().find(|l| l.awaiting_jitter()) {
            l.handle_jitter(now, jitter);
        }
        self.step(now);
    }

    /// The worker stalls or resumes: no writes while stalled; the leases renew on.
    pub fn handle_stall(&mut self, now: Nanos, stalled: bool) {
        self.stalled = stalled;
        self.step(now);
    }

    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<(Nanos, &'static str)> {
        assert!(self.out.is_empty(), "{}", crate::output::UNDRAINED);
        let own = match self.phase {
            SetPhase::Thinking { until } => Some((until, "think ends")),
            SetPhase::Acquiring { .. } => None,
            SetPhase::Working {
                hold_until,
                next_write,
            } => Some(if next_write < hold_until && !self.stalled {
                (next_write, "write")
            } else {
                (hold_until, "work done")
            }),
        };
        self.leases
            .iter()
            .filter_map(LeaseClient::poll_timeout)
            .chain(own)
            .min_by_key(|(t, _)| *t)
    }

    /// The key-order this client acquires in.
    #[must_use]
    pub fn order(&self) -> &[Key] {
        &self.order
    }

    /// Whether the client is in its critical section (holds every key).
    #[must_use]
    pub fn working(&self) -> bool {
        matches!(self.phase, SetPhase::Working { .. })
    }

    fn lease_of(&self, msg: &Msg) -> Option<usize> {
        let i = msg.key().0 as usize;
        (i < self.leases.len()).then_some(i)
    }

    fn holds(&self, key: Key, now: Nanos) -> bool {
        self.leases[key.0 as usize].believes(now)
    }

    /// Moves the critical section on as far as it can at `now`, then collects every
    /// lease's outputs.
    fn step(&mut self, now: Nanos) {
        loop {
            match self.phase {
                SetPhase::Thinking { until } if now >= until => {
                    self.phase = SetPhase::Acquiring { next: 0 };
                    let first = self.order[0];
                    self.leases[first.0 as usize].want(now);
                }
                SetPhase::Thinking { .. } => break,
                SetPhase::Acquiring { next } => {
                    let next = usize::from(next);
                    if self.order[..next].iter().any(|&k| !self.holds(k, now)) {
                        self.abort(now);
                        break;
                    }
                    if !self.holds(self.order[next], now) {
                        break;
                    }
                    if next + 1 == self.order.len() {
                        self.phase = SetPhase::Working {
                            hold_until: now.plus(self.cfg.hold_ns),
                            next_write: now,
                        };
                    } else {
                        self.phase = SetPhase::Acquiring {
                            next: (next + 1) as u8,
                        };
                        let k = self.order[next + 1];
                        self.leases[k.0 as usize].want(now);
                    }
                }
                SetPhase::Working {
                    hold_until,
                    next_write,
                } => {
                    // Validity first: nothing below may act on a key it no longer holds.
                    if self.order.iter().any(|&k| !self.holds(k, now)) {
                        self.abort(now);
                    } else if now >= hold_until {
                        for l in &mut self.leases {
                            l.give_up(now);
                        }
                        self.phase = SetPhase::Thinking {
                            until: now.plus(self.cfg.think_ns),
                        };
                    } else if now >= next_write && !self.stalled {
                        self.write_all(now);
                    }
                    break;
                }
            }
        }
        for l in &mut self.leases {
            while let Some(o) = l.poll_output() {
                self.out.push_back(o);
            }
        }
    }

    /// A key was lost on the way: give up every key and start over after resting.
    fn abort(&mut self, now: Nanos) {
        for l in &mut self.leases {
            l.give_up(now);
        }
        self.phase = SetPhase::Thinking {
            until: now.plus(self.cfg.think_ns),
        };
    }

    /// One write to every key, each under that key's token.
    fn write_all(&mut self, now: Nanos) {
        for i in 0..self.order.len() {
            let key = self.order[i];
            let Some(token) = self.leases[key.0 as usize].held_token() else {
                continue;
            };
            self.write_seq += 1;
            let idem = IdemKey {
                node: self.me.node,
                incarnation: self.me.incarnation,
                seq: self.write_seq,
            };
            self.out.push_back(Output::Event(Event::WriteDecided {
                client: self.me,
                key,
                token,
                idem,
            }));
            self.out.push_back(Output::Send {
                to: self.cfg.resource,
                msg: Msg::Write { key, token, idem },
            });
        }
        if let SetPhase::Working { next_write, .. } = &mut self.phase {
            *next_write = now.plus(self.cfg.write_interval_ns);
        }
    }
}

/// The lock-set client's instants (see [`Instants`]): its own `Thinking.until`,
/// `hold_until` and `next_write` are timers (`now >= t`, and `next_write < hold_until` only
/// to name the earlier in `poll_timeout`: both due, the step serves both), bound 0; each
/// managed lease lists its own ([`LeaseClient`]'s table).
impl LockSetClient {
    /// Whether a managed lease keeps a late send (see [`LeaseClient::forget_late`]).
    #[must_use]
    pub fn has_late_sends(&self, now: Nanos) -> bool {
        self.leases.iter().any(|l| l.has_late_sends(now))
    }

    /// Forgets every managed lease's late sends (see [`LeaseClient::forget_late`]).
    pub fn forget_late(&mut self, now: Nanos) {
        for l in &mut self.leases {
            l.forget_late(now);
        }
    }
}

impl Instants for LockSetClient {
    fn map_instants(&mut self, f: &mut dyn FnMut(Nanos, u64) -> Nanos) {
        match &mut self.phase {
            SetPhase::Thinking { until } => *until = f(*until, 0),
            SetPhase::Working {
                hold_until,
                next_write,
            } => {
                *hold_until = f(*hold_until, 0);
                *next_write = f(*next_write, 0);
            }
            SetPhase::Acquiring { .. } => {}
        }
        for l in &mut self.leases {
            l.map_instants(f);
        }
    }
}

/// The lock-set client's counters (see [`Counters`]): `write_seq`, in its own sequence
/// domain (its writes' idempotency keys), and each managed lease's.
impl Counters for LockSetClient {
    fn map_counters(&mut self, f: &mut dyn FnMut(Counter, u64) -> u64) {
        self.write_seq = f(
            Counter::Seq(self.me.node, self.me.incarnation),
            self.write_seq,
        );
        for l in &mut self.leases {
            l.map_counters(f);
        }
    }
}

impl RemapNodes for LockSetClient {
    fn remap_nodes(&self, f: &dyn Fn(NodeId) -> NodeId) -> Self {
        assert!(self.out.is_empty(), "remap only drained states");
        LockSetClient {
            me: self.me.remap_nodes(f),
            leases: self.leases.iter().map(|l| l.remap_nodes(f)).collect(),
            ..self.clone()
        }
    }
}
