//! Tenures: the protocol-neutral view of a run that the oracles and the metrics read
//! (docs/protocols.md, "Tenures"). A tenure is one client incarnation's turn as the holder
//! of a key, begun and ended by the protocol's authority; the clients start and stop
//! acting under it, and the resource accepts or refuses writes by it. Each protocol maps
//! its own events onto [`TenureEvent`]: the safety oracles, the liveness and deadlock
//! oracles' bookkeeping, failover time, false preemption, availability, acquisition, hold
//! time and renewal slack are defined on these alone, so every plug-in gets them.
//!
//! The reference protocol's tenure is its fencing token: the grant with a token begins
//! the tenure numbered by it ([`Event::tenure`]). The oracles that need tokens
//! (token-monotonic, fenced-writes) read a tenure as the token, which is what a protocol
//! with tokens maps it from.

use crate::output::{Event, LossCause};
use crate::types::{Identity, Job, Key, Nanos};

/// One step of a tenure's life, in protocol-neutral terms. Instants are on the
/// authority's clock where the oracles compare them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenureEvent {
    // ---- a client ----
    /// A client (re)started: a new incarnation that holds and waits for nothing.
    Booted { client: Identity },
    /// A client started wanting the key.
    Wanted { client: Identity, key: Key },
    /// A client stopped wanting a key it did not hold.
    Withdrew { client: Identity, key: Key },
    /// A client started acting under a tenure (its grant adopted).
    Acting {
        client: Identity,
        key: Key,
        tenure: u64,
    },
    /// A client asked to extend its tenure.
    ExtendAsked,
    /// A client's tenure was extended with `slack_ns` of its old validity left.
    Extended { slack_ns: u64 },
    /// A client stopped acting: `preempted` before it meant to (why), or its work done.
    Stopped {
        client: Identity,
        key: Key,
        preempted: Option<LossCause>,
    },
    /// A client gave its tenure back: from here it is not its to use.
    GaveBack {
        client: Identity,
        key: Key,
        tenure: u64,
    },
    /// A client decided a write under a tenure (the decision, not its arrival).
    WriteDecided {
        client: Identity,
        key: Key,
        tenure: u64,
    },
    // ---- the authority ----
    /// The authority began a tenure of `client` on `key`, live until `expiry`.
    Began {
        client: Identity,
        key: Key,
        tenure: u64,
        expiry: Nanos,
    },
    /// The authority extended a tenure to `expiry`.
    Renewed {
        key: Key,
        tenure: u64,
        expiry: Nanos,
    },
    /// The authority ended `client`'s tenure: it ran out (`ran_out`) or was given back.
    Ended {
        client: Identity,
        key: Key,
        tenure: u64,
        ran_out: bool,
    },
    /// The authority restarted: no tenure it began is live any more.
    AllEnded,
    // ---- the resource ----
    /// The resource accepted a write of `client` under `tenure`.
    WriteAccepted {
        client: Identity,
        key: Key,
        tenure: u64,
    },
    /// The resource refused a write under `tenure`, a stale one.
    WriteRefused { key: Key, tenure: u64 },
    /// An exactly-once job's effect was applied under `tenure`.
    JobApplied {
        client: Identity,
        key: Key,
        tenure: u64,
        job: Job,
    },
    /// An exactly-once job was dead-lettered.
    JobDeadLettered { key: Key, job: Job },
    /// The resource answered a repeated attempt at a job from its record (a metric only).
    JobRepeated { key: Key, job: Job },
    /// The resource definitely refused an attempt at a job (a metric only).
    JobRefused { key: Key, job: Job },
}

/// Whose ghost fills a tenure the harness fills in ([`TenureEvent::ghost_slot`]).
enum Fill {
    /// The latest tenure begun for this client incarnation.
    Writer(Identity),
    /// The ghost the handled write travelled with.
    Delivered,
}

impl TenureEvent {
    /// The tenure of an event the harness fills in for a protocol judged by ghosts, and
    /// whose ghost fills it: a client's `Acting`, `GaveBack` and `WriteDecided` (its
    /// incarnation's), the resource's `WriteAccepted`, `WriteRefused` and `JobApplied`
    /// (the handled write's); `None` for every other event.
    fn ghost_slot(&mut self) -> Option<(Fill, &mut u64)> {
        match self {
            TenureEvent::Acting { client, tenure, .. }
            | TenureEvent::GaveBack { client, tenure, .. }
            | TenureEvent::WriteDecided { client, tenure, .. } => {
                Some((Fill::Writer(*client), tenure))
            }
            TenureEvent::WriteAccepted { tenure, .. }
            | TenureEvent::WriteRefused { tenure, .. }
            | TenureEvent::JobApplied { tenure, .. } => Some((Fill::Delivered, tenure)),
            _ => None,
        }
    }

    /// The tenure of an event whose tenure a harness judging by ghosts fills in (what a
    /// trace adds to the protocol's own words), if it is one.
    #[must_use]
    pub fn ghost_tenure(mut self) -> Option<u64> {
        self.ghost_slot().map(|(_, t)| *t)
    }
}

impl Event {
    /// The reference protocol's events as tenure events (tenure = fencing token); `None`
    /// for events no oracle or metric on tenures reads.
    #[must_use]
    pub fn tenure(&self) -> Option<TenureEvent> {
        Some(match *self {
            Event::ClientBooted { client } => TenureEvent::Booted { client },
            Event::Requested { client, key } => TenureEvent::Wanted { client, key },
            Event::Withdrawn { client, key } => TenureEvent::Withdrew { client, key },
            Event::Adopted {
                first: true,
                client,
                key,
                token,
                ..
            } => TenureEvent::Acting {
                client,
                key,
                tenure: token.0,
            },
            Event::Adopted { slack_ns, .. } => TenureEvent::Extended { slack_ns },
            Event::RenewSent { .. } => TenureEvent::ExtendAsked,
            Event::Lost {
                client, key, cause, ..
            } => TenureEvent::Stopped {
                client,
                key,
                preempted: Some(cause),
            },
            Event::ReleaseDecided { client, key, .. } => TenureEvent::Stopped {
                client,
                key,
                preempted: None,
            },
            Event::ReleaseSent { client, key, token } => TenureEvent::GaveBack {
                client,
                key,
                tenure: token.0,
            },
            Event::WriteDecided {
                client, key, token, ..
            } => TenureEvent::WriteDecided {
                client,
                key,
                tenure: token.0,
            },
            Event::Granted {
                client,
                key,
                token,
                expiry,
                ..
            } => TenureEvent::Began {
                client,
                key,
                tenure: token.0,
                expiry,
            },
            Event::Renewed {
                key, token, expiry, ..
            } => TenureEvent::Renewed {
                key,
                tenure: token.0,
                expiry,
            },
            Event::Expired { client, key, token } => TenureEvent::Ended {
                client,
                key,
                tenure: token.0,
                ran_out: true,
            },
            Event::ReleasedAtServer {
                client, key, token, ..
            } => TenureEvent::Ended {
                client,
                key,
                tenure: token.0,
                ran_out: false,
            },
            Event::ServerBooted { restart: true, .. } => TenureEvent::AllEnded,
            Event::WriteAccepted {
                client, key, token, ..
            } => TenureEvent::WriteAccepted {
                client,
                key,
                tenure: token.0,
            },
            Event::WriteRejected { key, token, .. } => TenureEvent::WriteRefused {
                key,
                tenure: token.0,
            },
            _ => return self.job_tenure(),
        })
    }

    /// The exactly-once workload's events as tenure events.
    fn job_tenure(&self) -> Option<TenureEvent> {
        Some(match *self {
            Event::JobApplied {
                client,
                key,
                token,
                job,
            } => TenureEvent::JobApplied {
                client,
                key,
                tenure: token.0,
                job,
            },
            Event::JobDeadLettered { key, job, .. } => TenureEvent::JobDeadLettered { key, job },
            Event::JobAlreadyDone { key, job, .. } => TenureEvent::JobRepeated { key, job },
            Event::JobFailed { key, job, .. } => TenureEvent::JobRefused { key, job },
            _ => return None,
        })
    }
}

/// The harness's ghost tenures, for a protocol without tokens
/// ([`crate::plugin::Protocol::GHOST_TENURES`]): the latest tenure the authority began for
/// each client incarnation (a restarted process, or a client's next life, is a new one),
/// learnt from the authority's [`TenureEvent::Began`] alone. A node runs one incarnation at
/// a time and an older one never acts again, so only each node's newest incarnation is
/// kept: a `Began` or a `Booted` of a newer one drops the older's (dead data, which would
/// keep apart model states that behave alike). The simulator and the model
/// driver keep one beside a run, out of band: a write of a client's work
/// ([`crate::plugin::Protocol::ghost_writer`]) is sent with its writer's ghost tenure
/// attached to the datagram, never inside the frame's bytes, and the protocol's roles never
/// see it. The tenures of a client's and the resource's events are then the harness's, not
/// the protocol's ([`GhostTenures::judged`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GhostTenures {
    /// By node: its newest incarnation the harness knows of, and the latest tenure begun
    /// for it (0: none yet).
    began: std::collections::BTreeMap<crate::NodeId, (u32, u64)>,
}

impl GhostTenures {
    /// The ghost tenure of a write `client`'s core emits now: the latest tenure the
    /// authority began for it, 0 if none.
    #[must_use]
    pub fn of(&self, client: Identity) -> u64 {
        match self.began.get(&client.node) {
            Some(&(incarnation, tenure)) if incarnation == client.incarnation => tenure,
            _ => 0,
        }
    }

    /// The latest tenure begun for `node`'s newest incarnation the harness knows of (a
    /// timeline's label for a client that may act), if any.
    #[must_use]
    pub fn latest(&self, node: crate::NodeId) -> Option<u64> {
        self.began.get(&node).map(|&(_, t)| t).filter(|&t| t > 0)
    }

    /// `client` is its node's newest incarnation from now: an older one's ghost is dead.
    fn newest(&mut self, client: Identity) -> &mut u64 {
        let e = self
            .began
            .entry(client.node)
            .or_insert((client.incarnation, 0));
        if e.0 < client.incarnation {
            *e = (client.incarnation, 0);
        }
        &mut e.1
    }

    /// Reads one tenure event and returns it as the oracles judge it: a `Began` is
    /// learnt; a client's `Acting`, `GaveBack` and `WriteDecided` take its incarnation's
    /// ghost tenure; the resource's `WriteAccepted`, `WriteRefused` and `JobApplied` take
    /// `delivered`, the ghost the write being handled travelled with (0 if it had none).
    /// Every other event is as the protocol emitted it.
    #[must_use]
    pub fn judged(&mut self, mut te: TenureEvent, delivered: Option<u64>) -> TenureEvent {
        match te {
            TenureEvent::Began { client, tenure, .. } => *self.newest(client) = tenure,
            TenureEvent::Booted { client }
                if self
                    .began
                    .get(&client.node)
                    .is_some_and(|&(i, _)| i < client.incarnation) =>
            {
                self.began.remove(&client.node);
            }
            _ => {}
        }
        if let Some((fill, tenure)) = te.ghost_slot() {
            *tenure = match fill {
                Fill::Writer(client) => self.of(client),
                Fill::Delivered => delivered.unwrap_or(0),
            };
        }
        te
    }

    /// The tenure event the oracles judge for one of protocol `P`'s events: its own, or
    /// with the harness's ghost filled in for a protocol judged by ghosts
    /// ([`GhostTenures::judged`]); `delivered` is the ghost the handled frame travelled
    /// with. What both shells (the simulator's, the model driver) call.
    pub fn tenure_of<P: crate::plugin::Protocol>(
        &mut self,
        event: &P::Event,
        delivered: Option<u64>,
    ) -> Option<TenureEvent> {
        let te = P::tenure(event)?;
        Some(if P::GHOST_TENURES {
            self.judged(te, delivered)
        } else {
            te
        })
    }

    /// The ghost a message node `from` sends leaves with: its writer's, for a write
    /// ([`crate::plugin::Protocol::ghost_writer`]) of a protocol judged by ghosts; `None`
    /// for every other message.
    #[must_use]
    pub fn sent<P: crate::plugin::Protocol>(
        &self,
        msg: &P::Msg,
        from: crate::NodeId,
    ) -> Option<u64> {
        if !P::GHOST_TENURES {
            return None;
        }
        P::ghost_writer(msg, from).map(|writer| self.of(writer))
    }

    /// Every tenure kept, through `f` (a model checker ranks them with the other tenures:
    /// [`crate::Counter::Token`]).
    pub fn map_counters(&mut self, f: &mut dyn FnMut(crate::Counter, u64) -> u64) {
        for (_, t) in self.began.values_mut() {
            *t = f(crate::Counter::Token, *t);
        }
    }

    /// The ghost tenures under a renaming of nodes (a model checker's symmetry).
    #[must_use]
    pub fn remap_nodes(&self, f: &dyn Fn(crate::NodeId) -> crate::NodeId) -> GhostTenures {
        GhostTenures {
            began: self.began.iter().map(|(&node, &e)| (f(node), e)).collect(),
        }
    }
}

#[cfg(test)]
mod ghost_tests {
    use super::*;
    use crate::NodeId;

    const A: Identity = Identity {
        node: NodeId(2),
        incarnation: 0,
    };
    const A_NEXT: Identity = Identity {
        node: NodeId(2),
        incarnation: 1,
    };

    fn began(client: Identity, tenure: u64) -> TenureEvent {
        TenureEvent::Began {
            client,
            key: Key(0),
            tenure,
            expiry: Nanos::MAX,
        }
    }

    #[test]
    fn a_write_is_judged_by_the_latest_tenure_begun_for_its_incarnation() {
        let mut g = GhostTenures::default();
        assert_eq!(g.of(A), 0, "no tenure begun: 0");
        let _ = g.judged(began(A, 3), None);
        let _ = g.judged(began(A, 7), None);
        assert_eq!(g.of(A), 7, "the latest for the incarnation");
        assert_eq!(g.of(A_NEXT), 0, "a restart is a new client, with none yet");
        let decided = TenureEvent::WriteDecided {
            client: A,
            key: Key(0),
            tenure: 0,
        };
        assert_eq!(
            g.judged(decided, None),
            TenureEvent::WriteDecided {
                client: A,
                key: Key(0),
                tenure: 7
            }
        );
        // The resource's events take what the write travelled with, not the ghost now.
        let accepted = TenureEvent::WriteAccepted {
            client: A,
            key: Key(0),
            tenure: 0,
        };
        assert_eq!(
            g.judged(accepted, Some(3)),
            TenureEvent::WriteAccepted {
                client: A,
                key: Key(0),
                tenure: 3
            }
        );
        let refused = TenureEvent::WriteRefused {
            key: Key(0),
            tenure: 5,
        };
        assert_eq!(
            g.judged(refused, None),
            TenureEvent::WriteRefused {
                key: Key(0),
                tenure: 0
            },
            "a write with no ghost is judged at 0"
        );
        let renamed = g.remap_nodes(&|n| NodeId(n.0 + 1));
        assert_eq!(
            renamed.of(Identity {
                node: NodeId(3),
                incarnation: 0
            }),
            7
        );
        // A newer incarnation's boot drops the older's ghost (it never acts again).
        let _ = g.judged(TenureEvent::Booted { client: A_NEXT }, None);
        assert_eq!(g, GhostTenures::default(), "dead data dropped");
        let _ = g.judged(began(A_NEXT, 9), None);
        assert_eq!(g.of(A_NEXT), 9);
        let _ = g.judged(TenureEvent::Booted { client: A }, None);
        assert_eq!(g.of(A_NEXT), 9, "an older boot drops nothing");
    }
}
