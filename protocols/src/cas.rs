//! The machine both client-go leader election and the DynamoDB lock client run against: a
//! versioned record with conditional writes, observed over time. The store keeps one
//! record and a version that changes on every write (etcd's revision, which is the
//! Lease's `resourceVersion`; the DynamoDB item's record version number, a fresh UUID per
//! write, which a counter stands for here since only its equality is ever read). A write
//! names what it expects (no record, or the version it read) and is refused otherwise
//! (409 Conflict; `ConditionalCheckFailedException`). The store keeps no clock and
//! expires nothing. The systems differ in their record (`S`), their clients and their
//! rules, not in this.
//!
//! The resource the clients' work writes to is shared too: it accepts every write, or
//! with a fencing token refuses one below the highest it accepted.
//!
//! Tenures (what the oracles judge): a commit that makes a client incarnation the holder
//! begins a tenure numbered by the commit's version; the holder's own writes extend it; a
//! commit by anyone else, or a delete, ends it.

use leaseproof_impl::{Effect, Identity, Key, LossCause, Machine, Nanos, NodeId, TenureEvent};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fmt::Debug;
use std::hash::Hash;

/// The one record.
pub const KEY: Key = Key(0);

/// A client's lives per engine incarnation (a k8s elector started after losing
/// leadership; a DynamoDB client's next `acquireLock`): its identity for the oracles is
/// `incarnation * LIVES + life`, so each hold is a tenure of its own.
pub const LIVES: u32 = 1 << 16;

/// How much longer one span may last on the slowest clock than on the fastest, in ppm of
/// the span, when every clock drifts within `±drift_ppm`: `(1 + ρ) / (1 − ρ)` (what an
/// envelope's rate-skew term reads).
#[must_use]
pub fn rate_ratio_ppm(drift_ppm: u32) -> u64 {
    let r = u64::from(drift_ppm.min(999_999));
    (1_000_000 + r) * 1_000_000 / (1_000_000 - r)
}

/// A breach for every crash in `b` that loses the store's data (the `record`: "the Lease
/// object", "the lock item"): beyond either system's assumptions at any setting.
#[must_use]
pub fn lost_record(b: &leaseproof_impl::FaultBounds, record: &str) -> Vec<leaseproof_impl::Breach> {
    b.losses
        .iter()
        .map(|l| leaseproof_impl::Breach {
            field: l.field.clone(),
            reason: format!("a crash loses the {}: {record}", l.what),
        })
        .collect()
}

/// The earliest of a client's timers and its reason (`Machine::poll_timeout`).
#[derive(Default)]
pub(crate) struct Earliest(Option<(u64, &'static str)>);

impl Earliest {
    /// Counts timer `t` (`None`: not set) with its reason.
    pub(crate) fn at(&mut self, t: Option<u64>, why: &'static str) {
        if let Some(t) = t {
            if self.0.is_none_or(|(e, _)| t < e) {
                self.0 = Some((t, why));
            }
        }
    }

    pub(crate) fn get(self) -> Option<(Nanos, &'static str)> {
        self.0.map(|(t, why)| (Nanos(t), why))
    }
}

/// What a record says about who holds the lock.
pub trait Record:
    Copy + Debug + Default + Eq + Ord + Hash + Send + Sync + Serialize + 'static
{
    /// The holder's stable name (its node), or `None`.
    fn holder(&self) -> Option<u32>;
    /// A version number the record itself carries, which [`Expect::Rvn`] compares (the
    /// DynamoDB item's counter RVN); `None` where it carries none.
    fn rvn(&self) -> Option<u64> {
        None
    }
}

/// The condition of a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Expect {
    /// No record exists (a Create; `attribute_not_exists`).
    Absent,
    /// The record is at this version (an Update; `recordVersionNumber = :rvn` where the
    /// RVN is unique per write).
    Version(u64),
    /// The record exists and carries this RVN ([`Record::rvn`]): the same condition on an
    /// RVN that is a counter, which a delete starts again (so, unlike a version, it can
    /// come back).
    Rvn(u64),
}

/// A call to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Op<S> {
    /// Read the record (`Get`; `GetItem` with `ConsistentRead`).
    Get,
    /// Write `value` if `expect` holds.
    Put { expect: Expect, value: S },
    /// Delete the record if `expect` holds.
    Delete { expect: Expect },
}

/// The store's answer to a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Answer<S> {
    /// The record and its version.
    Found { version: u64, value: S },
    /// No record (404; no item).
    NotFound,
    /// The write or delete committed, at this version.
    Written { version: u64 },
    /// The condition failed (409 Conflict; `ConditionalCheckFailedException`).
    Conflict,
    /// The store is unavailable (HTTP 503) and did nothing: a fault of the DynamoDB
    /// plug-in.
    Unavailable,
}

/// The messages. Calls and answers carry the client's call id and incarnation (the
/// connection a real answer comes back on).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CasMsg<S> {
    Call {
        call: u64,
        inc: u32,
        op: Op<S>,
    },
    Answer {
        call: u64,
        inc: u32,
        answer: Answer<S>,
    },
    /// A write of the client's work. `token` is what a fencing option hands the resource
    /// (0 without). The tenure the oracles judge it by is the harness's ghost, which
    /// travels beside the datagram, never in these bytes (`Protocol::GHOST_TENURES`).
    Write {
        inc: u32,
        token: u64,
    },
}

impl<S> CasMsg<S> {
    /// A short name of the message's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            CasMsg::Call { op, .. } => match op {
                Op::Get => "get",
                Op::Put {
                    expect: Expect::Absent,
                    ..
                } => "create",
                Op::Put { .. } => "update",
                Op::Delete { .. } => "delete",
            },
            CasMsg::Answer { answer, .. } => match answer {
                Answer::Found { .. } => "found",
                Answer::NotFound => "not-found",
                Answer::Written { .. } => "written",
                Answer::Conflict => "conflict",
                Answer::Unavailable => "unavailable",
            },
            CasMsg::Write { .. } => "write",
        }
    }
}

/// The events of every role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum CasEvent {
    // ---- a client ----
    /// A new client started (a process, or a life after losing the lock).
    Booted { client: Identity },
    /// It wants the lock.
    Wanted { client: Identity },
    /// A conditional write of its was refused.
    Conflict { client: Identity },
    /// Its work starts (under the tenure the harness's ghost says: the protocols on the
    /// store number no tenure the client could see).
    Acting { client: Identity },
    /// A renewal (heartbeat) succeeded.
    Renewed { client: Identity },
    /// Its own rule ended its hold: the renew deadline passed (client-go), the lease
    /// looks expired (DynamoDB's `isExpired()`).
    GaveUp { client: Identity },
    /// Its work stopped: it saw its leadership lost (`lost`), or its hold was done and it
    /// is about to release (a voluntary stop, not a preemption).
    Stopped { client: Identity, lost: bool },
    /// It sent a release.
    GaveBack { client: Identity },
    /// Its work decided a write.
    WriteDecided { client: Identity },
    /// A 503 was taken as a successful heartbeat (`holdLockOnServiceUnavailable`).
    HeldOnUnavailable { client: Identity },
    // ---- the store ----
    /// A commit made `client` the holder: a tenure begins.
    Began { client: Identity, tenure: u64 },
    /// The holder's own write committed.
    Extended { tenure: u64 },
    /// A commit by another incarnation (a takeover) or a release ended the tenure.
    Ended {
        client: Identity,
        tenure: u64,
        taken_over: bool,
    },
    /// The store answered 503.
    Unavailable,
    // ---- the resource ----
    /// The resource accepted a write of `client`.
    Accepted { client: Identity },
    /// The fenced resource refused a write: its token is below the highest accepted.
    Refused { token: u64 },
}

impl CasEvent {
    /// The event as a reader would write it (the trace and `replay`): clients by name, an
    /// incarnation or life after a restart, tenures by number.
    #[must_use]
    pub fn describe(&self) -> String {
        // The oracles' identity is `incarnation * LIVES + life` ([`LIVES`]).
        let who = |c: &Identity| {
            let (incarnation, life) = (c.incarnation / LIVES, c.incarnation % LIVES);
            match (incarnation, life) {
                (0, 0) => c.node.name(),
                (0, l) => format!("{} (life {l})", c.node.name()),
                (i, 0) => format!("{} (incarnation {i})", c.node.name()),
                (i, l) => format!("{} (incarnation {i}, life {l})", c.node.name()),
            }
        };
        match self {
            CasEvent::Booted { client } => format!("{} started", who(client)),
            CasEvent::Wanted { client } => format!("{} wants the lock", who(client)),
            CasEvent::Conflict { client } => {
                format!("{}'s conditional write was refused (409)", who(client))
            }
            CasEvent::Acting { client } => format!("{} acts", who(client)),
            CasEvent::Renewed { client } => format!("{} renewed", who(client)),
            CasEvent::GaveUp { client } => {
                format!("{} gave up its hold by its own rule", who(client))
            }
            CasEvent::Stopped { client, lost: true } => {
                format!("{}'s work saw the loss and stopped", who(client))
            }
            CasEvent::Stopped {
                client,
                lost: false,
            } => {
                format!("{}'s work is done: it stops to release", who(client))
            }
            CasEvent::GaveBack { client } => format!("{} releases", who(client)),
            CasEvent::WriteDecided { client } => format!("{} decides a write", who(client)),
            CasEvent::HeldOnUnavailable { client } => {
                format!("{} counted a 503 as a heartbeat", who(client))
            }
            CasEvent::Began { client, tenure } => {
                format!("tenure {tenure} begins: {} holds the record", who(client))
            }
            CasEvent::Extended { tenure } => format!("the holder of tenure {tenure} wrote"),
            CasEvent::Ended {
                client,
                tenure,
                taken_over,
            } => format!(
                "tenure {tenure} of {} ends ({})",
                who(client),
                if *taken_over {
                    "taken over"
                } else {
                    "released"
                }
            ),
            CasEvent::Unavailable => "the store answered 503".into(),
            CasEvent::Accepted { client } => {
                format!("the resource accepted {}'s write", who(client))
            }
            CasEvent::Refused { token } => {
                format!("the resource refused a write with token {token}")
            }
        }
    }

    /// Every event kind ([`CasEvent::kind`]).
    pub const KINDS: [&'static str; 17] = [
        "booted",
        "wanted",
        "conflict",
        "acting",
        "renewed",
        "gave-up",
        "stopped",
        "gave-back",
        "write-decided",
        "held-on-unavailable",
        "began",
        "extended",
        "taken-over",
        "released",
        "unavailable",
        "accepted",
        "refused",
    ];

    /// The protocol-neutral view the oracles and the metrics read. The tenure of a
    /// client's and the resource's events is 0 here: the harness fills in its ghost
    /// (`Protocol::GHOST_TENURES`).
    #[must_use]
    pub fn tenure(self) -> Option<TenureEvent> {
        Some(match self {
            CasEvent::Booted { client } => TenureEvent::Booted { client },
            CasEvent::Wanted { client } => TenureEvent::Wanted { client, key: KEY },
            CasEvent::Acting { client } => TenureEvent::Acting {
                client,
                key: KEY,
                tenure: 0,
            },
            CasEvent::Stopped { client, lost } => TenureEvent::Stopped {
                client,
                key: KEY,
                preempted: lost.then_some(LossCause::Expired),
            },
            CasEvent::GaveBack { client } => TenureEvent::GaveBack {
                client,
                key: KEY,
                tenure: 0,
            },
            CasEvent::WriteDecided { client } => TenureEvent::WriteDecided {
                client,
                key: KEY,
                tenure: 0,
            },
            // The store expires nothing: a tenure is live until a commit ends it.
            CasEvent::Began { client, tenure } => TenureEvent::Began {
                client,
                key: KEY,
                tenure,
                expiry: Nanos::MAX,
            },
            CasEvent::Extended { tenure } => TenureEvent::Renewed {
                key: KEY,
                tenure,
                expiry: Nanos::MAX,
            },
            CasEvent::Ended {
                client,
                tenure,
                taken_over,
            } => TenureEvent::Ended {
                client,
                key: KEY,
                tenure,
                ran_out: taken_over,
            },
            CasEvent::Accepted { client } => TenureEvent::WriteAccepted {
                client,
                key: KEY,
                tenure: 0,
            },
            CasEvent::Refused { .. } => TenureEvent::WriteRefused {
                key: KEY,
                tenure: 0,
            },
            CasEvent::Conflict { .. }
            | CasEvent::Renewed { .. }
            | CasEvent::GaveUp { .. }
            | CasEvent::HeldOnUnavailable { .. }
            | CasEvent::Unavailable => return None,
        })
    }

    /// A short name of the event's kind (coverage).
    #[must_use]
    pub fn kind(self) -> &'static str {
        match self {
            CasEvent::Booted { .. } => "booted",
            CasEvent::Wanted { .. } => "wanted",
            CasEvent::Conflict { .. } => "conflict",
            CasEvent::Acting { .. } => "acting",
            CasEvent::Renewed { .. } => "renewed",
            CasEvent::GaveUp { .. } => "gave-up",
            CasEvent::Stopped { .. } => "stopped",
            CasEvent::GaveBack { .. } => "gave-back",
            CasEvent::WriteDecided { .. } => "write-decided",
            CasEvent::HeldOnUnavailable { .. } => "held-on-unavailable",
            CasEvent::Began { .. } => "began",
            CasEvent::Extended { .. } => "extended",
            CasEvent::Ended {
                taken_over: true, ..
            } => "taken-over",
            CasEvent::Ended { .. } => "released",
            CasEvent::Unavailable => "unavailable",
            CasEvent::Accepted { .. } => "accepted",
            CasEvent::Refused { .. } => "refused",
        }
    }

    /// The client, key and tenure an event belongs to (`tracing`'s per-lock spans).
    #[must_use]
    pub fn lifecycle(self) -> Option<(Identity, Key, Option<u64>)> {
        Some(match self {
            CasEvent::Booted { client }
            | CasEvent::Wanted { client }
            | CasEvent::Conflict { client }
            | CasEvent::Renewed { client }
            | CasEvent::GaveUp { client }
            | CasEvent::HeldOnUnavailable { client }
            | CasEvent::Stopped { client, .. }
            | CasEvent::Acting { client }
            | CasEvent::GaveBack { client }
            | CasEvent::WriteDecided { client }
            | CasEvent::Accepted { client } => (client, KEY, None),
            CasEvent::Began { client, tenure } | CasEvent::Ended { client, tenure, .. } => {
                (client, KEY, Some(tenure))
            }
            CasEvent::Extended { .. } | CasEvent::Refused { .. } | CasEvent::Unavailable => {
                return None
            }
        })
    }
}

/// What a role asks its shell to do.
pub type CasOutput<S> = Effect<CasMsg<S>, CasDisk<S>, CasEvent>;

/// What a node keeps on disk: the store its record (etcd and DynamoDB are durable), the
/// resource the highest token it accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CasDisk<S> {
    /// The record and its version.
    pub record: Option<(u64, S)>,
    /// The last version given out: every commit's version is the next one.
    pub versions: u64,
    /// The harness's ghost: the live tenure (its holder incarnation and number).
    pub tenure: Option<(Identity, u64)>,
    /// The resource's highest accepted token.
    pub high: u64,
}

/// The store.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Store<S> {
    pub(crate) disk: CasDisk<S>,
    /// Writes arriving in this window (the store's clock, ns) are answered 503 and do
    /// nothing: the DynamoDB plug-in's fault.
    outage: Option<(u64, u64)>,
    out: VecDeque<CasOutput<S>>,
}

impl<S: Record> Store<S> {
    #[must_use]
    pub fn restore(disk: &CasDisk<S>, outage: Option<(u64, u64)>) -> Store<S> {
        Store {
            disk: *disk,
            outage,
            out: VecDeque::new(),
        }
    }

    fn answer(&mut self, to: NodeId, call: u64, inc: u32, answer: Answer<S>) {
        self.out.push_back(Effect::Send {
            to,
            msg: CasMsg::Answer { call, inc, answer },
        });
    }

    /// Commits `record` (`None`: a delete) written by `writer`: the next version, the
    /// tenure ghost moved on, persisted before the answer leaves.
    fn commit(&mut self, writer: Identity, record: Option<S>) -> Answer<S> {
        let d = &mut self.disk;
        d.versions += 1;
        let version = d.versions;
        d.record = record.map(|r| (version, r));
        let holds = record.and_then(|r| r.holder()) == Some(writer.node.0);
        let mut events = Vec::new();
        match d.tenure {
            Some((who, t)) if who == writer && holds => {
                events.push(CasEvent::Extended { tenure: t });
            }
            prev => {
                if let Some((who, t)) = prev {
                    events.push(CasEvent::Ended {
                        client: who,
                        tenure: t,
                        taken_over: who != writer,
                    });
                }
                d.tenure = None;
                if holds {
                    d.tenure = Some((writer, version));
                    events.push(CasEvent::Began {
                        client: writer,
                        tenure: version,
                    });
                }
            }
        }
        self.out.push_back(Effect::Persist(self.disk));
        self.out.extend(events.into_iter().map(Effect::Event));
        Answer::Written { version }
    }

    fn holds(&self, expect: Expect) -> bool {
        match (expect, self.disk.record) {
            (Expect::Absent, r) => r.is_none(),
            (Expect::Version(v), Some((cur, _))) => cur == v,
            (Expect::Rvn(v), Some((_, r))) => r.rvn() == Some(v),
            (Expect::Version(_) | Expect::Rvn(_), None) => false,
        }
    }
}

impl<S: Record> Machine for Store<S> {
    type Msg = CasMsg<S>;
    type Output = CasOutput<S>;

    fn handle_message(&mut self, now: Nanos, from: NodeId, msg: CasMsg<S>) {
        let CasMsg::Call { call, inc, op } = msg else {
            return;
        };
        let unavailable = self.outage.is_some_and(|(a, b)| a <= now.0 && now.0 < b);
        let writer = Identity {
            node: from,
            incarnation: inc,
        };
        let answer = match op {
            Op::Get => match self.disk.record {
                Some((version, value)) => Answer::Found { version, value },
                None => Answer::NotFound,
            },
            Op::Put { .. } | Op::Delete { .. } if unavailable => {
                self.out.push_back(Effect::Event(CasEvent::Unavailable));
                Answer::Unavailable
            }
            // An Update of a missing object is a 404 (client-go counts it a failure).
            Op::Put {
                expect: Expect::Version(_) | Expect::Rvn(_),
                ..
            } if self.disk.record.is_none() => Answer::NotFound,
            Op::Put { expect, value } if self.holds(expect) => self.commit(writer, Some(value)),
            Op::Delete { expect } if self.holds(expect) => self.commit(writer, None),
            Op::Put { .. } | Op::Delete { .. } => Answer::Conflict,
        };
        self.answer(from, call, inc, answer);
    }

    fn handle_timeout(&mut self, _now: Nanos) {}

    fn poll_output(&mut self) -> Option<CasOutput<S>> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<(Nanos, &'static str)> {
        None
    }
}

/// The resource the clients' work writes to: every write accepted, or with `fenced` a
/// token below the highest accepted refused.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Resource<S> {
    fenced: bool,
    high: u64,
    out: VecDeque<CasOutput<S>>,
}

impl<S: Record> Resource<S> {
    #[must_use]
    pub fn restore(fenced: bool, disk: &CasDisk<S>) -> Resource<S> {
        Resource {
            fenced,
            high: disk.high,
            out: VecDeque::new(),
        }
    }
}

impl<S: Record> Machine for Resource<S> {
    type Msg = CasMsg<S>;
    type Output = CasOutput<S>;

    fn handle_message(&mut self, _now: Nanos, from: NodeId, msg: CasMsg<S>) {
        let CasMsg::Write { inc, token } = msg else {
            return;
        };
        if self.fenced && token < self.high {
            self.out
                .push_back(Effect::Event(CasEvent::Refused { token }));
            return;
        }
        if token > self.high {
            self.high = token;
            self.out.push_back(Effect::Persist(CasDisk {
                high: token,
                ..CasDisk::default()
            }));
        }
        self.out.push_back(Effect::Event(CasEvent::Accepted {
            client: Identity {
                node: from,
                incarnation: inc,
            },
        }));
    }

    fn handle_timeout(&mut self, _now: Nanos) {}

    fn poll_output(&mut self) -> Option<CasOutput<S>> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<(Nanos, &'static str)> {
        None
    }
}

/// The parts of [`leaseproof_impl::Protocol`] every protocol on this store implements
/// alike (its outputs are already effects, its disk is replaced whole by a persist, its
/// messages are JSON, its events and messages are the shared ones, its `[protocol]` fields
/// are its config), for its `impl Protocol` to include: `cas_plumbing!(Record, Config)`.
macro_rules! cas_plumbing {
    ($record:ty, $config:ty) => {
        /// No message numbers a tenure (the store's versions are not the client's to
        /// read as one): the harness judges writes by its ghost.
        const GHOST_TENURES: bool = true;

        /// A write of the client's work, by the incarnation it names.
        fn ghost_writer(
            msg: &$crate::cas::CasMsg<$record>,
            from: leaseproof_impl::NodeId,
        ) -> Option<leaseproof_impl::Identity> {
            match msg {
                $crate::cas::CasMsg::Write { inc, .. } => Some(leaseproof_impl::Identity {
                    node: from,
                    incarnation: *inc,
                }),
                _ => None,
            }
        }

        /// Its fields are its config, checked as the library checks its own (no
        /// workload of the harness's).
        fn configure(
            fields: &$config,
            workload: leaseproof_impl::Workload,
        ) -> Result<$config, leaseproof_impl::ConfigError> {
            workload.refuse(Self::NAME)?;
            fields.validate()?;
            Ok(fields.clone())
        }

        fn effect(out: $crate::cas::CasOutput<$record>) -> $crate::cas::CasOutput<$record> {
            out
        }

        fn persist(disk: &mut $crate::cas::CasDisk<$record>, p: $crate::cas::CasDisk<$record>) {
            *disk = p;
        }

        fn encode(msg: &$crate::cas::CasMsg<$record>) -> Vec<u8> {
            serde_json::to_vec(msg).expect("a message serializes")
        }

        fn decode(bytes: &[u8]) -> Result<$crate::cas::CasMsg<$record>, String> {
            serde_json::from_slice(bytes).map_err(|e| e.to_string())
        }

        fn tenure(event: &$crate::cas::CasEvent) -> Option<leaseproof_impl::TenureEvent> {
            event.tenure()
        }

        fn event_kind(event: &$crate::cas::CasEvent) -> &'static str {
            event.kind()
        }

        fn describe_event(event: &$crate::cas::CasEvent, _now: leaseproof_impl::Nanos) -> String {
            event.describe()
        }

        fn msg_kind(msg: &$crate::cas::CasMsg<$record>) -> &'static str {
            msg.kind()
        }

        fn lifecycle(
            event: &$crate::cas::CasEvent,
        ) -> Option<(leaseproof_impl::Identity, leaseproof_impl::Key, Option<u64>)> {
            event.lifecycle()
        }
    };
}
pub(crate) use cas_plumbing;

/// Any role of a protocol on the store, `C` its client.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CasNode<S, C> {
    Store(Store<S>),
    Resource(Resource<S>),
    Client(Box<C>),
}

impl<S: Record, C: Machine<Msg = CasMsg<S>, Output = CasOutput<S>>> CasNode<S, C> {
    fn machine(&mut self) -> &mut dyn Machine<Msg = CasMsg<S>, Output = CasOutput<S>> {
        match self {
            CasNode::Store(s) => s,
            CasNode::Resource(r) => r,
            CasNode::Client(c) => c.as_mut(),
        }
    }
}

impl<S: Record, C: Machine<Msg = CasMsg<S>, Output = CasOutput<S>>> Machine for CasNode<S, C> {
    type Msg = CasMsg<S>;
    type Output = CasOutput<S>;

    fn handle_message(&mut self, now: Nanos, from: NodeId, msg: CasMsg<S>) {
        self.machine().handle_message(now, from, msg);
    }
    fn handle_timeout(&mut self, now: Nanos) {
        self.machine().handle_timeout(now);
    }
    fn handle_jitter(&mut self, now: Nanos, jitter: leaseproof_impl::Jitter) {
        self.machine().handle_jitter(now, jitter);
    }
    fn poll_output(&mut self) -> Option<CasOutput<S>> {
        self.machine().poll_output()
    }
    fn poll_timeout(&self) -> Option<(Nanos, &'static str)> {
        match self {
            CasNode::Client(c) => c.poll_timeout(),
            CasNode::Store(_) | CasNode::Resource(_) => None,
        }
    }
}
