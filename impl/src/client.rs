//! The lease client, and the workload it runs.
//!
//! A client is `(node, incarnation)`; request ids are `(incarnation, seq)`, a new id for
//! every send. It acquires one key, works for `hold` (a write every `write_interval`,
//! tagged with its token and an idempotency key), releases, thinks for `think`, and wants
//! the key again.
//!
//! ## When the client may believe it holds
//!
//! A grant or renewal answering request `id` makes the lease valid locally until
//! `max(valid_until, t_sent(id) + L)`, where `t_sent(id)` is the client's clock when it sent
//! that request and `L = ttl·(1−ρ)/(1+ρ) − margin` ([`crate::config::local_validity_ns`]).
//! The server received the request after the client sent it and keeps the grant for at
//! least `ttl/(1+ρ)` of true time after receipt; the client's span `L` lasts at most
//! `L/(1−ρ)` of true time; so the belief ends before the grant does, for any pair of clocks
//! within ρ. A reply arriving after `t_sent(id) + L` is not adopted: it carries no
//! guarantee the client could still use (adopting it anchored at its receipt is bug B6;
//! anchoring every reply at receipt is bug B4). Validity is strict: the client holds while
//! `now < valid_until`.
//!
//! ## Replies
//!
//! - A grant or renewal for any id of the current attempt is adopted (anchored at that id's
//!   own `t_sent`), unless its token is at or below the highest token this client released
//!   on the key: then the client re-sends that Release instead.
//! - A late reply for an id of the current attempt is neither adopted nor released: the
//!   client re-sends at once (a new id) and the server answers that as a renewal if the
//!   grant is still there. A grant for an old attempt is released. After any declined reply
//!   the client keeps re-sending every `requeue_interval` until it holds.
//! - A duplicate of the grant the client holds is ignored; it never releases the token it
//!   holds while that token is valid, except when its work is done.
//!
//! ## Retries
//!
//! While the server answers `Queued`, the client re-sends every `requeue_interval` (no
//! backoff, or its queue entry goes stale). With no answer at all it backs off: a delay
//! drawn between `backoff_base` and a window that doubles up to `backoff_max`, the draw
//! coming from the shell through `Output::NeedJitter` / `handle_jitter` (the floor keeps a
//! zero draw from retrying in a loop at one instant).
//!
//! Contract (sans-IO): drain `poll_output()` after every input; re-arm one timer at
//! `poll_timeout()`; answer every `NeedJitter` with `handle_jitter`.

use crate::config::{Config, Mutant, Variant};
use crate::output::{Disk, Event, LossCause, Output};
use crate::types::Unhashed;
use crate::types::{
    Counter, Counters, IdemKey, Identity, Instants, Jitter, Job, JobOutcome, Key, Msg, Nanos,
    NodeId, RefuseReason, RemapNodes, ReqId, Token,
};
use std::collections::{BTreeMap, VecDeque};
use std::hash::Hash;

/// How many sends of one attempt the client remembers; an answer to a forgotten send is
/// treated as late (safe: it is simply not adopted).
const SENT_MEMORY: usize = 16;
/// How often a Release is sent at most before the client lets the grant expire.
const RELEASE_TRIES: u8 = 4;
/// Sends without any answer after which a queued client falls back to backoff.
const UNANSWERED_BEFORE_BACKOFF: u8 = 2;
/// The backoff window stops doubling after this many steps.
const BACKOFF_EXP_MAX: u8 = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Phase {
    /// Resting until `until`, then wants the key again.
    Thinking { until: Nanos },
    /// Wants the key and has no valid grant.
    Acquiring,
    /// Believes it holds `token` until `valid_until` (strict).
    Holding {
        token: Token,
        valid_until: Nanos,
        hold_until: Nanos,
        next_write: Nanos,
        next_renew: Nanos,
    },
    /// Nothing to do: the idle state. A client starts here until it boots or is told to
    /// want its key (managed), returns here when a managed client is told to stop wanting
    /// it, and, with exactly-once work, rests here once every job is known applied or
    /// dead-lettered.
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct PendingRelease {
    token: Token,
    next_at: Nanos,
    tries: u8,
}

/// The lease client state machine.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LeaseClient {
    /// Fixed for the run, so left out of the hash.
    cfg: Unhashed<Config>,
    me: Identity,
    key: Key,
    last_seq: u64,
    phase: Phase,
    /// Ids with `seq >= attempt_first_seq` belong to the current attempt.
    attempt_first_seq: u64,
    /// `t_sent` of the current attempt's sends that could still be adopted, and whether
    /// the send reported progress (tiered leases: its answer extends by the full tier).
    sent: BTreeMap<u64, (Nanos, bool)>,
    /// How many writes of the held token were acknowledged (WriteAcks, each idempotency
    /// key once, learned from the resource), reported in every Renew. Counted only when a
    /// mode reads it ([`Config::counts_acks`]); 0 otherwise.
    acked: u32,
    /// The highest write sequence number counted in `acked` (a re-delivered or reordered
    /// older ack is not counted again).
    acked_seq: u64,
    /// The worker is stuck (a shell input, `handle_stall`): no writes are made, while the
    /// renew loop goes on, as a heartbeat thread outliving a deadlocked worker.
    stalled: bool,
    /// Exactly-once work: the jobs this incarnation knows are applied or dead-lettered (a
    /// bit each), and the attempt in flight (re-sent as is until it is answered: a lost
    /// answer never counts against the job).
    jobs_done: u64,
    attempt: Option<(Job, IdemKey)>,
    /// One key of a lock set ([`crate::lockset::LockSetClient`]): it wants the key only when
    /// told (`want`), never writes (its owner does), holds until told to give it up, and
    /// after a loss stays idle for its owner to decide.
    managed: bool,
    released_high: Option<Token>,
    pending_release: Option<PendingRelease>,
    /// Next re-send while acquiring; `None` while waiting for a jitter draw.
    retry_at: Option<Nanos>,
    awaiting_jitter: bool,
    /// The server answered Queued (or a reply was declined): re-send every requeue interval.
    requeue_mode: bool,
    /// Sends without an answer, counted up to one past [`UNANSWERED_BEFORE_BACKOFF`]:
    /// the only comparison it takes, so higher counts would behave alike (a model
    /// checker's states would differ for nothing).
    unanswered: u8,
    /// Backoff doublings so far, counted up to the first at which the window reaches
    /// `backoff_max` (later ones behave alike, as `unanswered`).
    backoff_exp: u8,
    out: VecDeque<Output>,
}

impl LeaseClient {
    /// Boots a client: a new incarnation is a new client with no memory. It wants the key at
    /// once. (The disk is unused: a client keeps nothing across a crash.)
    #[must_use]
    pub fn restore(config: &Config, id: Identity, _persisted: &Disk, now: Nanos) -> LeaseClient {
        let mut c = LeaseClient::blank(config, id, Key(0), false);
        c.event(Event::ClientBooted { client: id });
        c.start_attempt(now);
        c
    }

    /// One key of a lock set: idle until its owner calls [`LeaseClient::want`].
    #[must_use]
    pub fn managed(config: &Config, id: Identity, key: Key) -> LeaseClient {
        LeaseClient::blank(config, id, key, true)
    }

    /// A client with no memory, wanting nothing yet.
    fn blank(config: &Config, id: Identity, key: Key, managed: bool) -> LeaseClient {
        LeaseClient {
            cfg: Unhashed(*config),
            me: id,
            key,
            last_seq: 0,
            phase: Phase::Done,
            attempt_first_seq: 1,
            sent: BTreeMap::new(),
            acked: 0,
            acked_seq: 0,
            stalled: false,
            jobs_done: 0,
            attempt: None,
            managed,
            released_high: None,
            pending_release: None,
            retry_at: None,
            awaiting_jitter: false,
            requeue_mode: false,
            unanswered: 0,
            backoff_exp: 0,
            out: VecDeque::new(),
        }
    }

    /// A lock set's key: start wanting it (a new attempt).
    pub fn want(&mut self, now: Nanos) {
        if self.phase == Phase::Done {
            self.start_attempt(now);
        }
    }

    /// A lock set's key: stop wanting or holding it. A held key is released; a request in
    /// flight is withdrawn, and a grant that still answers it is given back.
    pub fn give_up(&mut self, now: Nanos) {
        match self.phase {
            Phase::Holding { token, .. } => self.release_done(now, token),
            Phase::Acquiring | Phase::Thinking { .. } => {
                self.event(Event::Withdrawn {
                    client: self.me,
                    key: self.key,
                });
                self.idle();
            }
            Phase::Done => {}
        }
    }

    /// Idle: no attempt is current, so any grant still coming is for an old one.
    fn idle(&mut self) {
        self.attempt_first_seq = self.last_seq + 1;
        self.sent.clear();
        self.retry_at = None;
        self.awaiting_jitter = false;
        self.requeue_mode = false;
        self.phase = Phase::Done;
    }

    /// Whether a `NeedJitter` of this client is unanswered.
    #[must_use]
    pub fn awaiting_jitter(&self) -> bool {
        self.awaiting_jitter
    }

    pub fn handle_message(&mut self, now: Nanos, _from: NodeId, msg: Msg) {
        self.forget_late_sends(now);
        match msg {
            Msg::Granted { key, id, token } | Msg::Renewed { key, id, token }
                if key == self.key =>
            {
                self.on_grant(now, id, token);
            }
            Msg::Queued { key, id }
                if key == self.key && self.is_current(id) && self.phase == Phase::Acquiring =>
            {
                self.answered();
                self.requeue(now);
            }
            Msg::Refused {
                key,
                id,
                token,
                reason,
            } if key == self.key => self.on_refused(now, id, token, reason),
            Msg::Released { key, token, .. }
                if key == self.key && self.pending_release.is_some_and(|p| p.token == token) =>
            {
                self.pending_release = None;
            }
            Msg::WriteRejected {
                key,
                token,
                current,
                ..
            } if key == self.key && current > token && self.held_token() == Some(token) => {
                // Fenced: someone holds a newer token, so this grant is over.
                self.lose(now, token, LossCause::Fenced);
            }
            Msg::JobResult {
                key,
                token,
                job,
                idem,
                outcome,
            } if key == self.key => self.on_job_result(now, token, job, idem, outcome),
            Msg::WriteAck { key, token, idem }
                if key == self.key
                    && self.cfg.counts_acks()
                    && self.held_token() == Some(token)
                    && idem.incarnation == self.me.incarnation
                    && idem.seq > self.acked_seq =>
            {
                self.acked_seq = idem.seq;
                self.count_progress(now);
            }
            // Anything else (other acks, messages not meant for a client) changes nothing.
            _ => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Nanos) {
        self.forget_late_sends(now);
        if let Some(p) = self.pending_release.filter(|p| now >= p.next_at) {
            if p.tries >= RELEASE_TRIES {
                self.pending_release = None;
            } else {
                self.send_release(now, p.token, p.tries + 1);
            }
        }
        match self.phase {
            Phase::Thinking { until } if now >= until => self.start_attempt(now),
            Phase::Acquiring if self.retry_at.is_some_and(|t| now >= t) => {
                self.send_request(now);
            }
            Phase::Holding {
                token, next_write, ..
            } if self.cfg.variant == Variant::CheckThenAct
                && now >= next_write
                && !self.stalled =>
            {
                // Bug B10: the write was decided when the previous one went out (the lease
                // was valid then); carry it out, and only then look at the clock.
                self.write(now, token);
                self.handle_timeout_holding(now);
            }
            Phase::Holding { .. } => self.handle_timeout_holding(now),
            _ => {}
        }
    }

    fn handle_timeout_holding(&mut self, now: Nanos) {
        let Phase::Holding {
            token,
            valid_until,
            hold_until,
            next_write,
            next_renew,
        } = self.phase
        else {
            return;
        };
        // Validity first: nothing below may act on an expired belief.
        let expired = if self.cfg.mutant == Mutant::ValidityLeavesDeadlineDue {
            now > valid_until
        } else {
            now >= valid_until
        };
        if expired {
            self.lose(now, token, LossCause::Expired);
        } else if now >= hold_until || self.work_done() || self.all_jobs_done() {
            self.release_done(now, token);
        } else {
            if now >= next_write && !self.stalled && !self.managed {
                if self.cfg.has_jobs() {
                    self.work_on_job(now, token);
                } else {
                    self.write(now, token);
                }
            }
            if now >= next_renew {
                self.renew(now, token);
            }
        }
    }

    /// The shell's worker stalls (`true`) or resumes (`false`): while stalled the holder
    /// makes no writes but keeps renewing. A restart ends a stall (a new process).
    pub fn handle_stall(&mut self, now: Nanos, stalled: bool) {
        self.stalled = stalled;
        if !stalled {
            self.handle_timeout(now);
        }
    }

    /// Whether the worker is stalled.
    #[must_use]
    pub fn is_stalled(&self) -> bool {
        self.stalled
    }

    pub fn handle_jitter(&mut self, now: Nanos, jitter: Jitter) {
        if !self.awaiting_jitter {
            return;
        }
        self.awaiting_jitter = false;
        let base = self.cfg.backoff_base_ns;
        let window = base
            .saturating_mul(1u64 << self.backoff_exp.min(BACKOFF_EXP_MAX))
            .min(self.cfg.backoff_max_ns);
        let ppm = u128::from(jitter.ppm.min(Jitter::MAX_PPM));
        let delay = base + (u128::from(window - base) * ppm / 1_000_000) as u64;
        self.backoff_exp = (self.backoff_exp + 1).min(self.backoff_exp_cap());
        self.retry_at = Some(now.plus(delay));
    }

    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<(Nanos, &'static str)> {
        assert!(self.out.is_empty(), "{}", crate::output::UNDRAINED);
        let mut best: Option<(Nanos, &'static str)> = None;
        let mut consider = |t: Nanos, why: &'static str| {
            if best.is_none_or(|(b, _)| t < b) {
                best = Some((t, why));
            }
        };
        if let Some(p) = self.pending_release {
            consider(p.next_at, "release re-send");
        }
        match self.phase {
            Phase::Thinking { until } => consider(until, "think ends"),
            Phase::Acquiring => {
                if let Some(t) = self.retry_at {
                    consider(t, "acquire re-send");
                }
            }
            Phase::Holding {
                valid_until,
                hold_until,
                next_write,
                next_renew,
                ..
            } => {
                consider(valid_until, "lease validity ends");
                consider(hold_until, "work done");
                if !self.stalled && !self.managed {
                    consider(next_write, "write");
                }
                consider(next_renew, "renew");
            }
            Phase::Done => {}
        }
        best
    }

    #[must_use]
    pub fn identity(&self) -> Identity {
        self.me
    }

    /// The token the client believes it holds, if any.
    #[must_use]
    pub fn held_token(&self) -> Option<Token> {
        match self.phase {
            Phase::Holding { token, .. } => Some(token),
            _ => None,
        }
    }

    /// Whether the client may act on its key, as belief-exclusivity judges it: its core is
    /// Holding, its deadline passed or not (a core suspended after its validity check
    /// still acts when it resumes; without a suspension its expiry timer ends Holding at
    /// the deadline).
    #[must_use]
    pub fn may_act(&self) -> bool {
        self.held_token().is_some()
    }

    /// Whether the client believes it holds at `now` (its core state is Holding and valid).
    #[must_use]
    pub fn believes(&self, now: Nanos) -> bool {
        matches!(self.phase, Phase::Holding { valid_until, .. } if now < valid_until)
    }

    /// The end of the client's belief on its own clock, if it holds.
    #[must_use]
    pub fn valid_until(&self) -> Option<Nanos> {
        match self.phase {
            Phase::Holding { valid_until, .. } => Some(valid_until),
            _ => None,
        }
    }

    /// Whether the client wants the key and does not hold it.
    #[must_use]
    pub fn is_waiting(&self) -> bool {
        self.phase == Phase::Acquiring
    }

    // ---- internals ----

    fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    fn next_id(&mut self) -> ReqId {
        self.last_seq += 1;
        ReqId {
            incarnation: self.me.incarnation,
            seq: self.last_seq,
        }
    }

    /// One acknowledged unit of work (a write's ack, or a job resolved): counted when a mode
    /// reads it; ends the tenure when its work is counted in writes and complete.
    fn count_progress(&mut self, now: Nanos) {
        if !self.cfg.counts_acks() {
            return;
        }
        self.acked = self.acked.saturating_add(1);
        if self.work_done() {
            self.handle_timeout_holding(now);
        }
    }

    /// Every job is known applied or dead-lettered.
    fn all_jobs_done(&self) -> bool {
        self.cfg.has_jobs() && self.next_job().is_none()
    }

    /// The first job not known done.
    fn next_job(&self) -> Option<Job> {
        (0..self.cfg.jobs.count)
            .find(|&j| self.jobs_done & (1 << j) == 0)
            .map(Job)
    }

    /// Exactly-once work: re-sends the attempt in flight as is, or starts the next job
    /// under a new attempt id. Every send is a decided write, inside the lease.
    fn work_on_job(&mut self, now: Nanos, token: Token) {
        let (job, idem) = match self.attempt {
            Some(a) => a,
            None => {
                let Some(job) = self.next_job() else {
                    return;
                };
                let a = (job, self.next_idem());
                self.attempt = Some(a);
                a
            }
        };
        let msg = Msg::Apply {
            key: self.key,
            token,
            job,
            idem,
        };
        self.decide_write(now, token, idem, msg);
    }

    fn on_job_result(
        &mut self,
        now: Nanos,
        token: Token,
        job: Job,
        idem: IdemKey,
        outcome: JobOutcome,
    ) {
        if job.0 >= self.cfg.jobs.count {
            return;
        }
        let ours = self.attempt.is_some_and(|a| a.1 == idem);
        match outcome {
            JobOutcome::Applied | JobOutcome::AlreadyApplied | JobOutcome::DeadLettered => {
                let new = self.jobs_done & (1 << job.0) == 0;
                self.jobs_done |= 1 << job.0;
                if self.attempt.is_some_and(|a| a.0 == job) {
                    self.attempt = None;
                }
                if new && self.held_token() == Some(token) {
                    // On to the next job at once.
                    if let Phase::Holding { next_write, .. } = &mut self.phase {
                        *next_write = now;
                    }
                    self.count_progress(now);
                    self.handle_timeout_holding(now);
                }
            }
            // A definite rejection of this attempt: the next one is a new attempt.
            JobOutcome::Failed { .. } if ours => self.attempt = None,
            JobOutcome::Fenced { current }
                if current > token && self.held_token() == Some(token) =>
            {
                self.attempt = None;
                self.lose(now, token, LossCause::Fenced);
            }
            _ => {}
        }
    }

    /// The tenure's work counted in accepted writes is complete.
    fn work_done(&self) -> bool {
        self.cfg.hold_writes > 0 && self.acked >= self.cfg.hold_writes
    }

    fn is_current(&self, id: ReqId) -> bool {
        id.incarnation == self.me.incarnation && id.seq >= self.attempt_first_seq
    }

    fn answered(&mut self) {
        self.unanswered = 0;
    }

    /// The first doubling at which the backoff window reaches its maximum (at most
    /// [`BACKOFF_EXP_MAX`]): the window is the same for every later one.
    fn backoff_exp_cap(&self) -> u8 {
        let (base, max) = (self.cfg.backoff_base_ns, self.cfg.backoff_max_ns);
        (0..BACKOFF_EXP_MAX)
            .find(|&e| base.saturating_mul(1u64 << e) >= max)
            .unwrap_or(BACKOFF_EXP_MAX)
    }

    /// Whether a send kept is late by `now` (see [`Self::forget_late`]).
    #[must_use]
    pub fn has_late_sends(&self, now: Nanos) -> bool {
        let l = self.cfg.validity_ns;
        self.sent.values().any(|(t, _)| now >= t.plus(l))
    }

    /// Forgets the sends late by `now`, as the client itself does at its next timeout: for
    /// a model checker, dead data. A late send's answer is declined whether its record is
    /// kept or not (`on_grant` reads a missing one as late, and the span it would use is
    /// never longer than the validity this rule uses). Nor does forgetting early change
    /// which record a full map evicts: sends are numbered in the order they were made, so
    /// the late ones are the lowest numbers, the ones evicted first.
    pub fn forget_late(&mut self, now: Nanos) {
        self.forget_late_sends(now);
    }

    /// Drops sends whose answer could no longer be adopted: they are late by now.
    fn forget_late_sends(&mut self, now: Nanos) {
        let l = self.cfg.validity_ns;
        self.sent.retain(|_, (t, _)| now < t.plus(l));
    }

    /// `L` for the answer to a send: the intent tier's unless tiers are off or the send
    /// reported progress (the server then extends by the full TTL; without the report it
    /// may extend by either, so the client assumes the shorter).
    fn span_for(&self, progress: bool) -> u64 {
        if self.cfg.intent_ns > 0 && !progress {
            self.cfg.intent_validity_ns
        } else {
            self.cfg.validity_ns
        }
    }

    fn remember_send(&mut self, seq: u64, now: Nanos) {
        self.remember_send_with(seq, now, false);
    }

    fn remember_send_with(&mut self, seq: u64, now: Nanos, progress: bool) {
        self.sent.insert(seq, (now, progress));
        while self.sent.len() > SENT_MEMORY {
            self.sent.pop_first();
        }
    }

    fn start_attempt(&mut self, now: Nanos) {
        self.phase = Phase::Acquiring;
        self.attempt_first_seq = self.last_seq + 1;
        self.sent.clear();
        self.requeue_mode = false;
        self.unanswered = 0;
        self.backoff_exp = 0;
        self.event(Event::Requested {
            client: self.me,
            key: self.key,
        });
        self.send_request(now);
    }

    /// Sends an Acquire (a new id) and arms the next re-send.
    fn send_request(&mut self, now: Nanos) {
        let id = self.next_id();
        self.remember_send(id.seq, now);
        self.out.push_back(Output::Send {
            to: self.cfg.server,
            msg: Msg::Acquire { key: self.key, id },
        });
        self.unanswered = (self.unanswered + 1).min(UNANSWERED_BEFORE_BACKOFF + 1);
        if self.requeue_mode && self.unanswered <= UNANSWERED_BEFORE_BACKOFF {
            self.retry_at = Some(now.plus(self.cfg.requeue_interval_ns));
            self.awaiting_jitter = false;
        } else {
            self.requeue_mode = false;
            self.retry_at = None;
            self.awaiting_jitter = true;
            self.out.push_back(Output::NeedJitter);
        }
    }

    /// The server has us in its queue, or a reply was declined: re-send on the requeue
    /// cadence, without backoff.
    fn requeue(&mut self, now: Nanos) {
        self.requeue_mode = true;
        self.awaiting_jitter = false;
        self.backoff_exp = 0;
        self.retry_at = Some(now.plus(self.cfg.requeue_interval_ns));
    }

    fn renew(&mut self, now: Nanos, token: Token) {
        self.event(Event::RenewSent {
            client: self.me,
            key: self.key,
            token,
        });
        let id = self.next_id();
        let acked = self.acked;
        self.remember_send_with(id.seq, now, acked > 0);
        self.out.push_back(Output::Send {
            to: self.cfg.server,
            msg: Msg::Renew {
                key: self.key,
                id,
                token,
                acked,
            },
        });
        if let Phase::Holding { next_renew, .. } = &mut self.phase {
            *next_renew = now.plus(self.cfg.renew_interval_ns);
        }
    }

    fn write(&mut self, now: Nanos, token: Token) {
        let idem = self.next_idem();
        let msg = Msg::Write {
            key: self.key,
            token,
            idem,
        };
        self.decide_write(now, token, idem, msg);
    }

    /// The idempotency key of a new write: a new request id.
    fn next_idem(&mut self) -> IdemKey {
        let id = self.next_id();
        IdemKey {
            node: self.me.node,
            incarnation: self.me.incarnation,
            seq: id.seq,
        }
    }

    /// Decides a write (the event the containment oracle judges), sends it to the resource
    /// and arms the next one.
    fn decide_write(&mut self, now: Nanos, token: Token, idem: IdemKey, msg: Msg) {
        self.event(Event::WriteDecided {
            client: self.me,
            key: self.key,
            token,
            idem,
        });
        self.out.push_back(Output::Send {
            to: self.cfg.resource,
            msg,
        });
        if let Phase::Holding { next_write, .. } = &mut self.phase {
            *next_write = now.plus(self.cfg.write_interval_ns);
        }
    }

    fn send_release(&mut self, now: Nanos, token: Token, tries: u8) {
        self.event(Event::ReleaseSent {
            client: self.me,
            key: self.key,
            token,
        });
        let id = self.next_id();
        self.out.push_back(Output::Send {
            to: self.cfg.server,
            msg: Msg::Release {
                key: self.key,
                id,
                token,
            },
        });
        self.released_high = self.released_high.max(Some(token));
        self.pending_release = Some(PendingRelease {
            token,
            next_at: now.plus(self.cfg.requeue_interval_ns),
            tries,
        });
    }

    /// The work is done: release and rest.
    fn release_done(&mut self, now: Nanos, token: Token) {
        self.event(Event::ReleaseDecided {
            client: self.me,
            key: self.key,
            token,
        });
        self.send_release(now, token, 1);
        self.phase = if self.managed || self.all_jobs_done() {
            Phase::Done
        } else {
            Phase::Thinking {
                until: now.plus(self.cfg.think_ns),
            }
        };
    }

    /// The belief ended before the work was done: stop acting, report, want the key again.
    fn lose(&mut self, now: Nanos, token: Token, cause: LossCause) {
        self.event(Event::Lost {
            client: self.me,
            key: self.key,
            token,
            cause,
        });
        if self.cfg.variant == Variant::ActsAfterLoss {
            if let Phase::Holding {
                valid_until,
                hold_until,
                ..
            } = &mut self.phase
            {
                let stop_at = (*hold_until).max(now.plus(self.cfg.renew_interval_ns));
                if *valid_until < stop_at && now < stop_at {
                    // Bug B7: it knows, and goes on acting until its work is done or its
                    // stop callback runs, a renew-loop turn later, whichever comes last.
                    *valid_until = stop_at;
                    return;
                }
            }
        }
        if self.managed {
            // Its owner decides what a lost key means for the critical section.
            self.idle();
        } else {
            self.start_attempt(now);
        }
    }

    fn on_refused(&mut self, now: Nanos, id: ReqId, token: Option<Token>, reason: RefuseReason) {
        if !self.is_current(id) {
            return;
        }
        self.answered();
        match (self.phase, reason) {
            (
                Phase::Holding { token: held, .. },
                RefuseReason::NotHolder | RefuseReason::Stalled,
            ) if token == Some(held) => {
                self.lose(now, held, LossCause::Refused);
            }
            (Phase::Acquiring, _) => self.requeue(now),
            _ => {}
        }
    }

    fn on_grant(&mut self, now: Nanos, id: ReqId, token: Token) {
        if id.incarnation != self.me.incarnation {
            return;
        }
        if self.released_high.is_some_and(|r| token <= r) {
            // A reply for a token we gave back: make sure the server knows.
            if self.pending_release.is_none_or(|p| p.token != token) {
                self.send_release(now, token, 1);
            }
            if self.phase == Phase::Acquiring && self.is_current(id) {
                self.answered();
                self.requeue(now);
            }
            return;
        }
        let held = self.held_token();
        if held == Some(token) && !self.is_current(id) {
            return; // a duplicate of what we hold
        }
        if !self.is_current(id) {
            // A grant for an old attempt: give it back.
            self.send_release(now, token, 1);
            return;
        }
        self.answered();
        let sent = self.sent.get(&id.seq).copied();
        let l = self.span_for(sent.is_some_and(|s| s.1));
        let t_sent = sent.map(|s| s.0);
        let late = t_sent.is_none_or(|t| now >= t.plus(l));
        let until = match (self.cfg.variant, late) {
            (Variant::LateReplyAdopted, true) => now.plus(l),
            (Variant::AnchorAtReceipt, false) => now.plus(l),
            (_, true) => {
                self.event(Event::LateReplyDeclined {
                    client: self.me,
                    key: self.key,
                    token,
                });
                // Neither adopted nor released: ask again at once, then keep asking.
                match self.phase {
                    Phase::Holding { token: held, .. } => self.renew(now, held),
                    _ => {
                        self.requeue(now);
                        self.send_request(now);
                    }
                }
                return;
            }
            (_, false) => t_sent.expect("not late, so known").plus(l),
        };
        match &mut self.phase {
            Phase::Holding {
                token: held,
                valid_until,
                ..
            } if *held == token => {
                let slack = valid_until.since(now);
                *valid_until = (*valid_until).max(until);
                let valid_for = valid_until.since(now);
                self.event(Event::Adopted {
                    client: self.me,
                    key: self.key,
                    token,
                    first: false,
                    slack_ns: slack,
                    valid_for_ns: valid_for,
                });
            }
            Phase::Holding { token: held, .. } if *held > token => {} // an older grant
            _ => {
                // First grant of this attempt (or a newer token replacing ours).
                self.acked = 0;
                self.acked_seq = 0;
                self.attempt = None;
                let renew_from = t_sent.unwrap_or(now);
                self.phase = Phase::Holding {
                    token,
                    valid_until: until,
                    hold_until: if self.cfg.hold_writes > 0 || self.managed {
                        Nanos::MAX
                    } else {
                        now.plus(self.cfg.hold_ns)
                    },
                    next_write: now,
                    next_renew: renew_from.plus(self.cfg.renew_interval_ns).max(now),
                };
                self.retry_at = None;
                self.awaiting_jitter = false;
                self.requeue_mode = false;
                self.event(Event::Adopted {
                    client: self.me,
                    key: self.key,
                    token,
                    first: true,
                    slack_ns: 0,
                    valid_for_ns: until.since(now),
                });
                // Act on the grant in the same step, as a real holder would.
                self.handle_timeout(now);
            }
        }
    }
}

/// The client's instants (see [`Instants`]), all on its own clock:
///
/// | instant | compared with | bound |
/// |---|---|---|
/// | `Thinking.until`, `next_write`, `next_renew`, `retry_at`, `pending_release.next_at` | `now >= t` (a timer), the least of them (`poll_timeout`) | 0 |
/// | `valid_until` | `now < t`, `now >= t`; `max(t, t_sent + L)` where `t_sent + L > now` (a late answer is declined first); `t < max(hold_until, now + renew)` (acts-after-loss); `t.since(now)` (saturating: 0 for every past `t`) | renew interval |
/// | `hold_until` | `now >= t`; `max(t, now + renew)` (acts-after-loss); `Nanos::MAX` when the hold is counted in writes | renew interval |
/// | `sent` (each `t_sent`) | `now < t + L` (forgotten once late); adopted as `t + L` (`L` the validity or the intent tier's); `t + renew` against `now` | the largest of `L`, the intent tier's `L` and the renew interval |
///
/// Clamping keeps each outcome: a past timer stays due, and every sum `t + d` with `d` at
/// most the bound stays below `now`. Two clamped timers may tie where they did not (which
/// one `poll_timeout` names changes), but both are due and `handle_timeout` serves every
/// due timer in one step.
impl Instants for LeaseClient {
    fn map_instants(&mut self, f: &mut dyn FnMut(Nanos, u64) -> Nanos) {
        let renew = self.cfg.renew_interval_ns;
        match &mut self.phase {
            Phase::Thinking { until } => *until = f(*until, 0),
            Phase::Holding {
                valid_until,
                hold_until,
                next_write,
                next_renew,
                ..
            } => {
                *valid_until = f(*valid_until, renew);
                *hold_until = f(*hold_until, renew);
                *next_write = f(*next_write, 0);
                *next_renew = f(*next_renew, 0);
            }
            Phase::Acquiring | Phase::Done => {}
        }
        if let Some(p) = &mut self.pending_release {
            p.next_at = f(p.next_at, 0);
        }
        if let Some(t) = &mut self.retry_at {
            *t = f(*t, 0);
        }
        let sent_bound = self
            .cfg
            .validity_ns
            .max(self.cfg.intent_validity_ns)
            .max(renew);
        for (t, _) in self.sent.values_mut() {
            *t = f(*t, sent_bound);
        }
    }
}

/// The client's counters (see [`Counters`]). Tokens: the held one, `released_high`, the
/// pending release's. Its own sequence domain: `last_seq` (the fresh id is the next),
/// `attempt_first_seq` (at most `last_seq + 1`: ranks keep two consecutive values
/// consecutive), the `sent` map's keys, `acked_seq`, and the job attempt's idempotency key.
impl Counters for LeaseClient {
    fn map_counters(&mut self, f: &mut dyn FnMut(Counter, u64) -> u64) {
        let me = Counter::Seq(self.me.node, self.me.incarnation);
        self.last_seq = f(me, self.last_seq);
        self.attempt_first_seq = f(me, self.attempt_first_seq);
        self.acked_seq = f(me, self.acked_seq);
        self.sent = std::mem::take(&mut self.sent)
            .into_iter()
            .map(|(seq, v)| (f(me, seq), v))
            .collect();
        if let Phase::Holding { token, .. } = &mut self.phase {
            *token = token.mapped(f);
        }
        if let Some((_, idem)) = &mut self.attempt {
            *idem = idem.mapped(f);
        }
        if let Some(t) = &mut self.released_high {
            *t = t.mapped(f);
        }
        if let Some(p) = &mut self.pending_release {
            p.token = p.token.mapped(f);
        }
    }
}

impl RemapNodes for LeaseClient {
    fn remap_nodes(&self, f: &dyn Fn(NodeId) -> NodeId) -> Self {
        assert!(self.out.is_empty(), "remap only drained states");
        LeaseClient {
            me: self.me.remap_nodes(f),
            ..self.clone()
        }
    }
}
