//! # naive-lock: a user's own protocol, checked by leaseproof from its own crate
//!
//! A deliberately broken lock: the client sends its own clock's reading with every
//! request, and the server **trusts that timestamp** to decide whether the current
//! holder's lease has run out (`trust_client_clock = true`, the default). A client whose
//! clock runs ahead claims a time past the holder's expiry and is granted the lock while
//! the holder still acts: two clients may act at once. leaseproof's simulator and model
//! checker both find it (`tests/`), and both pass the fixed variant
//! (`trust_client_clock = false`: the server judges expiry on its own clock, and the
//! client stops `margin_ms` before `send time + ttl` on its own).
//!
//! The crate uses leaseproof's public plug-in API only
//! ([`leaseproof_impl::plugin::Protocol`]): roles with the sans-IO grammar
//! ([`leaseproof_impl::Machine`]), their messages and events, the mapping of events onto
//! tenures, "may act", a config validated with errors naming the field, and the
//! protocol's assumptions (where it claims safety).
//!
//! A second bug variant, `strict_deadline`, writes the client's deadline check as
//! `now_ms > until_ms` (whole milliseconds) at a timer set for `until`: a time-lock,
//! which both checkers report. A third, `release_any_grant`, is the first version of the
//! fix: a release overtaken by its client's next request ends the tenure that request
//! extended, which the model checker refutes when messages overtake each other. A fourth,
//! `reply_without_incarnation`, sends replies that name no incarnation: a restarted
//! client takes its earlier incarnation's grant as its own, which the model checker found
//! once it could crash clients.
//!
//! It also lists its instants and counters (the normalisation hooks), so the model
//! checker's closed checks cover runs of any length.
//!
//! It makes no liveness claim (`liveness_bound_ns` stays `None`, so a scenario naming
//! `liveness` is refused): the server grants whichever `Acquire` reaches a free lock first,
//! and a client that released asks again `retry_ms` later, racing the waiter's own
//! re-asks, so no waiter is promised a turn.
//!
//! The protocol, one key:
//!
//! - client: `Acquire { req, incarnation, client_now }` -> server; on `Granted { req,
//!   incarnation, tenure, ttl_ms }` for its current request (and incarnation) it holds
//!   until `sent + ttl - margin` on its own clock, works `hold_ms`, then sends
//!   `Release { tenure, req }`; on `Busy` or silence it asks again after `retry_ms`.
//! - server: grants when there is no holder, or when the holder's expiry has passed by
//!   the judged clock (the request's timestamp when trusting the client, else its own);
//!   a request from the holder itself extends it. The holder is persisted before the
//!   grant is sent, so a restart keeps it.

use leaseproof_impl::protocol::{belief_needs_steps, Assumptions, Breach, FaultBounds};
use leaseproof_impl::{
    Belief, ConfigError, Counter, Effect, Identity, Key, Machine, Nanos, NodeId, OracleName,
    Protocol, RoleKind, TenureEvent, Workload,
};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

const MS: u64 = 1_000_000;
/// The one key this lock protects.
pub const KEY: Key = Key(0);

/// The `[protocol]` fields of a naive-lock scenario (`kind = "naive-lock"` besides).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NaiveConfig {
    /// How long a grant lasts.
    pub ttl_ms: u64,
    /// How long a client works under the lock before it releases it.
    pub hold_ms: u64,
    /// How long a client waits before asking again (after `Busy`, silence or a release).
    pub retry_ms: u64,
    /// The client stops acting this long before `send time + ttl` on its own clock.
    pub margin_ms: u64,
    /// The bug: the server judges the holder's expiry by the requester's timestamp.
    pub trust_client_clock: bool,
    /// A second bug: the client's timer at its deadline `until` checks whole milliseconds,
    /// `now_ms > until_ms`, so in that millisecond it neither stops nor moves its timer (a
    /// time-lock; both checkers report it as a liveness failure). Matters when `hold_ms`
    /// outlasts the lease.
    pub strict_deadline: bool,
    /// A third bug, the first version of the fix: a release ends the holder's tenure
    /// whichever of its grants it gives back, so a release overtaken by the same client's
    /// next request (which extends the tenure) ends the tenure it holds again. The model
    /// checker found it with messages that overtake each other.
    pub release_any_grant: bool,
    /// A fourth bug: replies name no incarnation, so a restarted client (its request ids
    /// start again) takes a grant that answered its earlier incarnation's request as its
    /// own, and acts past the lease the server keeps. The model checker found it with one
    /// client crash and messages that overtake each other.
    pub reply_without_incarnation: bool,
}

impl NaiveConfig {
    /// Checks the fields; an error names the field and the reason.
    ///
    /// # Errors
    /// The first field that is out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let cfg = self;
        let err = |field: &'static str, reason: String| Err(ConfigError { field, reason });
        if cfg.ttl_ms == 0 || cfg.ttl_ms > 3_600_000 {
            return err("ttl_ms", format!("{} ms is not in 1..=3600000", cfg.ttl_ms));
        }
        if cfg.retry_ms == 0 || cfg.retry_ms > cfg.ttl_ms {
            return err(
                "retry_ms",
                format!("{} ms is not in 1..=ttl_ms", cfg.retry_ms),
            );
        }
        if cfg.hold_ms == 0 {
            return err("hold_ms", "must be above 0".into());
        }
        if cfg.margin_ms >= cfg.ttl_ms {
            return err(
                "margin_ms",
                format!(
                    "{} ms leaves nothing of ttl_ms {}",
                    cfg.margin_ms, cfg.ttl_ms
                ),
            );
        }
        Ok(())
    }
}

impl Default for NaiveConfig {
    fn default() -> Self {
        NaiveConfig {
            ttl_ms: 1000,
            hold_ms: 300,
            retry_ms: 100,
            margin_ms: 100,
            trust_client_clock: true,
            strict_deadline: false,
            release_any_grant: false,
            reply_without_incarnation: false,
        }
    }
}

/// Where naive-lock claims safety. Trusting the client's clock, every clock must agree:
/// any offset or drift breaches. Judging expiry on its own clock, offsets do not matter
/// (only spans are compared), and drift is within the margin while `ρ·ttl <= margin`.
/// A crash that loses the server's disk forgets the holder. Belief-exclusivity also
/// needs no pauses (a paused client acts past its deadline).
impl Assumptions for NaiveConfig {
    fn breaches(&self, b: &FaultBounds) -> Vec<Breach> {
        let mut out = Vec::new();
        for o in b.offsets.iter().filter(|_| self.trust_client_clock) {
            out.push(Breach {
                field: o.field.clone(),
                reason: format!(
                    "clock offsets of up to {} ms: the server compares one client's timestamp \
                     with another's expiry (trust_client_clock = true)",
                    o.ms
                ),
            });
        }
        for d in &b.drift {
            let stretch_ms = u64::from(d.ppm) * self.ttl_ms / 1_000_000;
            if (self.trust_client_clock && d.ppm > 0) || stretch_ms > self.margin_ms {
                out.push(Breach {
                    field: d.field.clone(),
                    reason: format!(
                        "drift of {} ppm stretches a {} ms lease by {stretch_ms} ms, beyond \
                         margin_ms {}",
                        d.ppm, self.ttl_ms, self.margin_ms
                    ),
                });
            }
        }
        // A step moves a clock's offset at once. Trusting clients, any step is an offset
        // the server compares. Not trusting them, a client's step back stretches its own
        // span (`send time + ttl` on its clock), and the server's step forward ends its
        // holder's lease early on the clock that judges it.
        for st in &b.steps {
            let harmful = self.trust_client_clock
                || (!st.authority && st.by_ms < 0)
                || (st.authority && st.by_ms > 0);
            if harmful {
                let whose = if st.authority {
                    "the server's"
                } else {
                    "a client's"
                };
                out.push(Breach {
                    field: st.field.clone(),
                    reason: format!("{whose} clock stepped by {} ms", st.by_ms),
                });
            }
        }
        out.extend(b.losses.iter().map(|l| Breach {
            field: l.field.clone(),
            reason: format!("a crash loses the {}, and with it the holder", l.what),
        }));
        out
    }

    fn oracle_breaches(&self, oracle: OracleName, b: &FaultBounds) -> Vec<Breach> {
        belief_needs_steps(oracle, b, || self.breaches(b))
    }
}

/// The messages.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum NaiveMsg {
    Acquire {
        req: u64,
        incarnation: u32,
        /// The client's clock at the send, in ns: what the naive server trusts.
        client_now: u64,
    },
    /// Answers request `req` of the client's incarnation `incarnation` (request ids
    /// restart with a client, so a reply names the incarnation it answers).
    Granted {
        req: u64,
        incarnation: u32,
        tenure: u64,
        ttl_ms: u64,
    },
    Busy {
        req: u64,
        incarnation: u32,
    },
    /// Gives back the grant that answered request `req`.
    Release {
        tenure: u64,
        req: u64,
    },
}

/// The events, each one a tenure event ([`NaiveEvent::tenure`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NaiveEvent {
    Booted {
        client: Identity,
    },
    Wanted {
        client: Identity,
    },
    Acting {
        client: Identity,
        tenure: u64,
    },
    Stopped {
        client: Identity,
        expired: bool,
    },
    GaveBack {
        client: Identity,
        tenure: u64,
    },
    Began {
        client: Identity,
        tenure: u64,
        expiry: Nanos,
    },
    Renewed {
        tenure: u64,
        expiry: Nanos,
    },
    Ended {
        client: Identity,
        tenure: u64,
        ran_out: bool,
    },
}

impl NaiveEvent {
    /// The protocol-neutral view the oracles and the metrics read.
    #[must_use]
    pub fn tenure(self) -> TenureEvent {
        use leaseproof_impl::LossCause;
        match self {
            NaiveEvent::Booted { client } => TenureEvent::Booted { client },
            NaiveEvent::Wanted { client } => TenureEvent::Wanted { client, key: KEY },
            NaiveEvent::Acting { client, tenure } => TenureEvent::Acting {
                client,
                key: KEY,
                tenure,
            },
            NaiveEvent::Stopped { client, expired } => TenureEvent::Stopped {
                client,
                key: KEY,
                preempted: expired.then_some(LossCause::Expired),
            },
            NaiveEvent::GaveBack { client, tenure } => TenureEvent::GaveBack {
                client,
                key: KEY,
                tenure,
            },
            NaiveEvent::Began {
                client,
                tenure,
                expiry,
            } => TenureEvent::Began {
                client,
                key: KEY,
                tenure,
                expiry,
            },
            NaiveEvent::Renewed { tenure, expiry } => TenureEvent::Renewed {
                key: KEY,
                tenure,
                expiry,
            },
            NaiveEvent::Ended {
                client,
                tenure,
                ran_out,
            } => TenureEvent::Ended {
                client,
                key: KEY,
                tenure,
                ran_out,
            },
        }
    }
}

/// What a role asks its shell to do.
pub type NaiveOutput = Effect<NaiveMsg, NaiveDisk, NaiveEvent>;

/// The current holder, as the server keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Holder {
    pub client: Identity,
    pub tenure: u64,
    /// When it runs out, on the judged clock (the client's when trusting it).
    pub until: u64,
    /// The request the last grant answered: only a release of that grant ends it.
    pub req: u64,
}

/// What the server keeps on disk: the holder and the last tenure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NaiveDisk {
    pub holder: Option<Holder>,
    pub last_tenure: u64,
}

impl NaiveDisk {
    /// The holder's expiry: compared with the judged time (now, or a trusted timestamp
    /// a message brought; the driver's lag covers its age), and, judging on its own
    /// clock, the server's timer, which fires before time passes it.
    fn instants(&mut self, f: &mut dyn FnMut(Nanos, u64) -> Nanos) {
        if let Some(h) = &mut self.holder {
            h.until = f(Nanos(h.until), 0).0;
        }
    }

    fn counters(&mut self, f: &mut dyn FnMut(Counter, u64) -> u64) {
        self.last_tenure = f(Counter::Token, self.last_tenure);
        if let Some(h) = &mut self.holder {
            h.tenure = f(Counter::Token, h.tenure);
            h.req = f(Counter::Seq(h.client.node, 0), h.req);
        }
    }
}

/// The lock server.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Server {
    ttl_ns: u64,
    trust: bool,
    release_any_grant: bool,
    disk: NaiveDisk,
    out: VecDeque<NaiveOutput>,
}

impl Server {
    #[must_use]
    pub fn restore(cfg: &NaiveConfig, disk: &NaiveDisk) -> Server {
        Server {
            ttl_ns: cfg.ttl_ms * MS,
            trust: cfg.trust_client_clock,
            release_any_grant: cfg.release_any_grant,
            disk: *disk,
            out: VecDeque::new(),
        }
    }

    fn emit(&mut self, ev: NaiveEvent) {
        self.out.push_back(Effect::Event(ev));
    }

    /// The holder's tenure ends (given back, or run out by the server's own clock).
    fn end(&mut self, h: Holder, ran_out: bool) {
        self.disk.holder = None;
        self.out.push_back(Effect::Persist(self.disk));
        self.emit(NaiveEvent::Ended {
            client: h.client,
            tenure: h.tenure,
            ran_out,
        });
    }

    fn acquire(&mut self, now: Nanos, from: NodeId, req: u64, incarnation: u32, client_now: u64) {
        let client = Identity {
            node: from,
            incarnation,
        };
        // The bug: the requester's clock decides whether the holder's time is up.
        let judged = if self.trust { client_now } else { now.0 };
        // The tenure's expiry as the server records it, on the judged clock (the
        // authority's own when it does not trust the client; the oracles read it so).
        let until = judged + self.ttl_ns;
        let expiry = Nanos(until);
        let tenure = match self.disk.holder {
            Some(h) if h.client == client => {
                self.emit(NaiveEvent::Renewed {
                    tenure: h.tenure,
                    expiry,
                });
                h.tenure
            }
            Some(h) if judged < h.until => {
                let msg = NaiveMsg::Busy { req, incarnation };
                self.out.push_back(Effect::Send { to: from, msg });
                return;
            }
            held => {
                if let Some(h) = held {
                    self.emit(NaiveEvent::Ended {
                        client: h.client,
                        tenure: h.tenure,
                        ran_out: true,
                    });
                }
                self.disk.last_tenure += 1;
                let tenure = self.disk.last_tenure;
                self.emit(NaiveEvent::Began {
                    client,
                    tenure,
                    expiry,
                });
                tenure
            }
        };
        self.disk.holder = Some(Holder {
            client,
            tenure,
            until,
            req,
        });
        // Persisted before the grant is sent: a restart keeps the holder.
        self.out.push_back(Effect::Persist(self.disk));
        let ttl_ms = self.ttl_ns / MS;
        let msg = NaiveMsg::Granted {
            req,
            incarnation,
            tenure,
            ttl_ms,
        };
        self.out.push_back(Effect::Send { to: from, msg });
    }

    /// A release ends the holder's tenure only if it gives back the holder's last grant:
    /// the model checker found that a release overtaken by the same client's next
    /// request (which extends the tenure) otherwise ends the tenure the client now holds
    /// again, and the next client is granted while it acts (`tests/checkers/model.rs`).
    fn release(&mut self, from: NodeId, tenure: u64, req: u64) {
        let any = self.release_any_grant;
        let last =
            |h: &Holder| h.client.node == from && h.tenure == tenure && (any || h.req == req);
        if let Some(h) = self.disk.holder.filter(last) {
            self.end(h, false);
        }
    }
}

impl Machine for Server {
    type Msg = NaiveMsg;
    type Output = NaiveOutput;

    fn handle_message(&mut self, now: Nanos, from: NodeId, msg: NaiveMsg) {
        match msg {
            NaiveMsg::Acquire {
                req,
                incarnation,
                client_now,
            } => self.acquire(now, from, req, incarnation, client_now),
            NaiveMsg::Release { tenure, req } => self.release(from, tenure, req),
            NaiveMsg::Granted { .. } | NaiveMsg::Busy { .. } => {}
        }
    }

    /// Judging on its own clock, the server ends a holder's tenure when it runs out.
    fn handle_timeout(&mut self, now: Nanos) {
        if let Some(h) = self.disk.holder.filter(|h| !self.trust && now.0 >= h.until) {
            self.end(h, true);
        }
    }

    fn poll_output(&mut self) -> Option<NaiveOutput> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<(Nanos, &'static str)> {
        let h = self.disk.holder.filter(|_| !self.trust)?;
        Some((Nanos(h.until), "holder runs out"))
    }
}

/// Where a client is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClientState {
    /// Waiting until `at` to ask.
    Waiting { at: u64 },
    /// Asked at `sent` (request `req`); asks again at `sent + retry`.
    Asking { req: u64, sent: u64 },
    /// May act until `until` (own clock), releases at `release_at`.
    Holding {
        tenure: u64,
        req: u64,
        until: u64,
        release_at: u64,
    },
}

/// A lock client.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Client {
    id: Identity,
    cfg: NaiveConfig,
    state: ClientState,
    next_req: u64,
    out: VecDeque<NaiveOutput>,
}

impl Client {
    #[must_use]
    pub fn restore(cfg: &NaiveConfig, id: Identity, now: Nanos) -> Client {
        let mut c = Client {
            id,
            cfg: cfg.clone(),
            state: ClientState::Waiting { at: now.0 },
            next_req: 0,
            out: VecDeque::new(),
        };
        c.emit(NaiveEvent::Booted { client: id });
        c.ask(now);
        c
    }

    /// Whether the client may act on the key: Holding, deadline passed or not (a client
    /// checks its deadline only when its timer fires).
    #[must_use]
    pub fn may_act(&self) -> bool {
        matches!(self.state, ClientState::Holding { .. })
    }

    fn emit(&mut self, ev: NaiveEvent) {
        self.out.push_back(Effect::Event(ev));
    }

    fn send(&mut self, msg: NaiveMsg) {
        self.out.push_back(Effect::Send {
            to: NodeId::authority(0),
            msg,
        });
    }

    /// When a request sent at `sent` is asked again.
    fn retry_at(&self, sent: u64) -> u64 {
        sent + self.cfg.retry_ms * MS
    }

    fn ask(&mut self, now: Nanos) {
        if matches!(self.state, ClientState::Waiting { .. }) {
            self.emit(NaiveEvent::Wanted { client: self.id });
        }
        self.next_req += 1;
        let req = self.next_req;
        self.state = ClientState::Asking { req, sent: now.0 };
        self.send(NaiveMsg::Acquire {
            req,
            incarnation: self.id.incarnation,
            client_now: now.0,
        });
    }

    /// Whether the deadline has come. The `strict_deadline` bug compares whole
    /// milliseconds with `>`: in its deadline's millisecond the client neither stops nor
    /// moves its timer.
    fn past(&self, now: Nanos, until: u64) -> bool {
        if self.cfg.strict_deadline {
            now.0 / MS > until / MS
        } else {
            now.0 >= until
        }
    }

    fn wait(&mut self, now: Nanos) {
        self.state = ClientState::Waiting {
            at: self.retry_at(now.0),
        };
    }
}

impl Machine for Client {
    type Msg = NaiveMsg;
    type Output = NaiveOutput;

    fn handle_message(&mut self, now: Nanos, _from: NodeId, msg: NaiveMsg) {
        let ClientState::Asking { req, sent } = self.state else {
            return;
        };
        // A reply answers this incarnation's request, not an earlier incarnation's of the
        // same id (the `reply_without_incarnation` bug skips the incarnation).
        let mine = |r: u64, i: u32| {
            r == req && (self.cfg.reply_without_incarnation || i == self.id.incarnation)
        };
        match msg {
            NaiveMsg::Granted {
                req: r,
                incarnation: i,
                tenure,
                ttl_ms,
            } if mine(r, i) => {
                let until = (sent + ttl_ms * MS).saturating_sub(self.cfg.margin_ms * MS);
                self.state = ClientState::Holding {
                    tenure,
                    req,
                    until,
                    release_at: now.0 + self.cfg.hold_ms * MS,
                };
                self.emit(NaiveEvent::Acting {
                    client: self.id,
                    tenure,
                });
            }
            NaiveMsg::Busy {
                req: r,
                incarnation: i,
            } if mine(r, i) => self.wait(now),
            _ => {}
        }
    }

    fn handle_timeout(&mut self, now: Nanos) {
        match self.state {
            ClientState::Waiting { at } if now.0 >= at => self.ask(now),
            ClientState::Asking { sent, .. } if now.0 >= self.retry_at(sent) => self.ask(now),
            ClientState::Holding { until, .. } if self.past(now, until) => {
                self.emit(NaiveEvent::Stopped {
                    client: self.id,
                    expired: true,
                });
                self.wait(now);
            }
            ClientState::Holding {
                tenure,
                req,
                release_at,
                ..
            } if now.0 >= release_at => {
                let client = self.id;
                self.emit(NaiveEvent::Stopped {
                    client,
                    expired: false,
                });
                self.emit(NaiveEvent::GaveBack { client, tenure });
                self.send(NaiveMsg::Release { tenure, req });
                self.wait(now);
            }
            _ => {}
        }
    }

    fn poll_output(&mut self) -> Option<NaiveOutput> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<(Nanos, &'static str)> {
        Some(match self.state {
            ClientState::Waiting { at } => (Nanos(at), "ask"),
            ClientState::Asking { sent, .. } => (Nanos(self.retry_at(sent)), "ask again"),
            ClientState::Holding {
                until, release_at, ..
            } if until <= release_at => (Nanos(until), "lease runs out"),
            ClientState::Holding { release_at, .. } => (Nanos(release_at), "release"),
        })
    }
}

/// Either role.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NaiveNode {
    Server(Server),
    Client(Client),
}

impl NaiveNode {
    fn machine(&mut self) -> &mut dyn Machine<Msg = NaiveMsg, Output = NaiveOutput> {
        match self {
            NaiveNode::Server(s) => s,
            NaiveNode::Client(c) => c,
        }
    }
}

impl Machine for NaiveNode {
    type Msg = NaiveMsg;
    type Output = NaiveOutput;

    fn handle_message(&mut self, now: Nanos, from: NodeId, msg: NaiveMsg) {
        self.machine().handle_message(now, from, msg);
    }
    fn handle_timeout(&mut self, now: Nanos) {
        self.machine().handle_timeout(now);
    }
    fn poll_output(&mut self) -> Option<NaiveOutput> {
        self.machine().poll_output()
    }
    fn poll_timeout(&self) -> Option<(Nanos, &'static str)> {
        match self {
            NaiveNode::Server(s) => s.poll_timeout(),
            NaiveNode::Client(c) => c.poll_timeout(),
        }
    }
}

/// The plug-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NaiveLock;

impl Protocol for NaiveLock {
    const NAME: &'static str = "naive-lock";
    const HAS_RESOURCE: bool = false;
    const EVENT_KINDS: &'static [&'static str] = &[
        "booted",
        "wanted",
        "acting",
        "stopped",
        "gave-back",
        "began",
        "renewed",
        "ended",
    ];
    type Config = NaiveConfig;
    type Fields = NaiveConfig;
    type Msg = NaiveMsg;
    type Event = NaiveEvent;
    type Disk = NaiveDisk;
    type Persist = NaiveDisk;
    type Node = NaiveNode;

    /// The config is the `[protocol]` table as written; naive-lock has plain writes only.
    fn configure(fields: &NaiveConfig, workload: Workload) -> Result<NaiveConfig, ConfigError> {
        workload.refuse(Self::NAME)?;
        fields.validate()?;
        Ok(fields.clone())
    }

    fn variant(cfg: &NaiveConfig) -> &'static str {
        if cfg.trust_client_clock {
            "trusts-client-clock"
        } else if cfg.strict_deadline {
            "strict-deadline"
        } else if cfg.release_any_grant {
            "release-any-grant"
        } else if cfg.reply_without_incarnation {
            "reply-without-incarnation"
        } else {
            "correct"
        }
    }

    fn boot(
        cfg: &NaiveConfig,
        role: RoleKind,
        id: Identity,
        disk: &NaiveDisk,
        now: Nanos,
    ) -> NaiveNode {
        match role {
            RoleKind::Client => NaiveNode::Client(Client::restore(cfg, id, now)),
            RoleKind::Server | RoleKind::Resource => NaiveNode::Server(Server::restore(cfg, disk)),
        }
    }

    fn effect(out: NaiveOutput) -> NaiveOutput {
        out
    }

    fn persist(disk: &mut NaiveDisk, p: NaiveDisk) {
        *disk = p;
    }

    fn encode(msg: &NaiveMsg) -> Vec<u8> {
        serde_json::to_vec(msg).expect("a message serializes")
    }

    fn decode(bytes: &[u8]) -> Result<NaiveMsg, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }

    fn tenure(event: &NaiveEvent) -> Option<TenureEvent> {
        Some(event.tenure())
    }

    // Normalisation hooks: every instant and counter each part keeps, and why its bound
    // keeps every comparison (the generic model driver's closed checks).
    const NORMALISES: bool = true;
    // Clients are interchangeable: the node ids a part keeps are a client's own and the
    // holder's (messages carry none; the driver renames their sender and receiver).
    const SYMMETRIC: bool = true;

    fn remap_node(node: &NaiveNode, f: &dyn Fn(NodeId) -> NodeId) -> NaiveNode {
        let mut node = node.clone();
        match &mut node {
            NaiveNode::Server(s) => s.disk = Self::remap_disk(&s.disk, f),
            NaiveNode::Client(c) => {
                c.id.node = f(c.id.node);
                // Outputs are drained at the end of every step: none is pending here.
                debug_assert!(c.out.is_empty());
            }
        }
        node
    }

    fn remap_disk(disk: &NaiveDisk, f: &dyn Fn(NodeId) -> NodeId) -> NaiveDisk {
        let mut disk = *disk;
        if let Some(h) = &mut disk.holder {
            h.client.node = f(h.client.node);
        }
        disk
    }

    fn node_instants(node: &mut NaiveNode, f: &mut dyn FnMut(Nanos, u64) -> Nanos) {
        match node {
            NaiveNode::Server(s) => s.disk.instants(f),
            NaiveNode::Client(c) => {
                let sent_bound = (c.cfg.retry_ms.max(c.cfg.ttl_ms)) * MS;
                let mut g = |t: &mut u64, bound: u64| *t = f(Nanos(*t), bound).0;
                match &mut c.state {
                    // Compared with now: due, or not yet.
                    ClientState::Waiting { at } => g(at, 0),
                    // `sent + retry` is compared with now, and `sent + ttl - margin`
                    // becomes the deadline when the grant comes.
                    ClientState::Asking { sent, .. } => g(sent, sent_bound),
                    // Compared with now (due or not), and with each other to pick the
                    // timer: both are at or after now (a due timer fires before time
                    // passes), so neither is ever clamped.
                    ClientState::Holding {
                        until, release_at, ..
                    } => {
                        g(until, 0);
                        g(release_at, 0);
                    }
                }
            }
        }
    }

    fn disk_instants(disk: &mut NaiveDisk, f: &mut dyn FnMut(Nanos, u64) -> Nanos) {
        disk.instants(f);
    }

    fn msg_instants(msg: &mut NaiveMsg, f: &mut dyn FnMut(Nanos, u64) -> Nanos) {
        // The trusted timestamp: copied into an expiry (`+ ttl`) and compared with the
        // holder's; the driver's lag covers the message's age.
        if let NaiveMsg::Acquire { client_now, .. } = msg {
            *client_now = f(Nanos(*client_now), 0).0;
        }
    }

    // Two domains: tenures (`Counter::Token`: the disk's last tenure, the holder's,
    // a holding client's, in grants and releases, the oracles' ghosts), and each client
    // node's request ids (`Counter::Seq(node, 0)`: its counter, its asking or holding
    // request, the holder's record, the messages to and from it). One domain per node, not
    // per incarnation: a reply carries no incarnation, so a restarted client compares its
    // requests with replies to its earlier incarnation's.
    fn node_counters(node: &mut NaiveNode, f: &mut dyn FnMut(Counter, u64) -> u64) {
        match node {
            NaiveNode::Server(s) => s.disk.counters(f),
            NaiveNode::Client(c) => {
                let seq = Counter::Seq(c.id.node, 0);
                c.next_req = f(seq, c.next_req);
                match &mut c.state {
                    ClientState::Waiting { .. } => {}
                    ClientState::Asking { req, .. } => *req = f(seq, *req),
                    ClientState::Holding { tenure, req, .. } => {
                        *tenure = f(Counter::Token, *tenure);
                        *req = f(seq, *req);
                    }
                }
            }
        }
    }

    fn disk_counters(disk: &mut NaiveDisk, f: &mut dyn FnMut(Counter, u64) -> u64) {
        disk.counters(f);
    }

    fn msg_counters(
        msg: &mut NaiveMsg,
        from: NodeId,
        to: NodeId,
        f: &mut dyn FnMut(Counter, u64) -> u64,
    ) {
        match msg {
            NaiveMsg::Acquire { req, .. } => *req = f(Counter::Seq(from, 0), *req),
            NaiveMsg::Granted { req, tenure, .. } => {
                *req = f(Counter::Seq(to, 0), *req);
                *tenure = f(Counter::Token, *tenure);
            }
            NaiveMsg::Busy { req, .. } => *req = f(Counter::Seq(to, 0), *req),
            NaiveMsg::Release { tenure, req } => {
                *tenure = f(Counter::Token, *tenure);
                *req = f(Counter::Seq(from, 0), *req);
            }
        }
    }

    /// A holding client believes until its deadline, on its own clock, under its tenure
    /// (the timeline's belief bars and the belief-overlap measurement).
    fn belief(node: &NaiveNode) -> Option<Belief> {
        let NaiveNode::Client(c) = node else {
            return None;
        };
        let (until, tenure) = match c.state {
            ClientState::Holding { until, tenure, .. } => (Some(Nanos(until)), Some(tenure)),
            _ => (None, None),
        };
        Some(Belief {
            key: KEY,
            may_act: c.may_act(),
            until,
            tenure,
        })
    }

    fn event_kind(event: &NaiveEvent) -> &'static str {
        match event {
            NaiveEvent::Booted { .. } => "booted",
            NaiveEvent::Wanted { .. } => "wanted",
            NaiveEvent::Acting { .. } => "acting",
            NaiveEvent::Stopped { .. } => "stopped",
            NaiveEvent::GaveBack { .. } => "gave-back",
            NaiveEvent::Began { .. } => "began",
            NaiveEvent::Renewed { .. } => "renewed",
            NaiveEvent::Ended { .. } => "ended",
        }
    }

    fn lease_ns(cfg: &NaiveConfig) -> u64 {
        cfg.ttl_ms * MS
    }

    fn msg_kind(msg: &NaiveMsg) -> &'static str {
        match msg {
            NaiveMsg::Acquire { .. } => "acquire",
            NaiveMsg::Granted { .. } => "granted",
            NaiveMsg::Busy { .. } => "busy",
            NaiveMsg::Release { .. } => "release",
        }
    }
}
