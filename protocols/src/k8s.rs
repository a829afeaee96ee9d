//! # Kubernetes client-go leader election, as it really works
//!
//! Sources (cited per rule below as `le.go` for
//! `staging/src/k8s.io/client-go/tools/leaderelection/leaderelection.go`, `leaselock.go`
//! for `.../resourcelock/leaselock.go`; the exact rules are collected in
//! `../shared/notes/real-systems.md` §1 and `docs/protocols/k8s.md` has one row per
//! rule):
//!
//! - **The store** (API server + etcd, node 0): one `Lease` object, optimistic concurrency
//!   on `metadata.resourceVersion`: Get, Create (409 if it exists), Update with the
//!   resourceVersion the writer last read (409 if it changed). It keeps no clock and
//!   expires nothing: the lease's life is entirely in the candidates' heads.
//! - **Each candidate** (nodes 2..) runs `tryAcquireOrRenew` as written: the leader's fast
//!   path (an Update on its cached object while its own view of the lease is valid); else
//!   a Get, `observedTime` set on its own clock when the record it read changed; a holder
//!   other than itself whose lease it has not seen run out for the record's
//!   `leaseDurationSeconds` makes it wait; otherwise an Update, `leaseTransitions` + 1 on a
//!   change of holder. `acquire` retries with `wait.JitterUntil(RetryPeriod, 1.2,
//!   sliding)`; `renew` gives up when a round of retries passes `RenewDeadline` and
//!   (`release_on_cancel`) writes an empty holder, and then cancels the leading context.
//! - **The guarded work** the library leaves to its user, as its doc says: it checks its
//!   context every `work_check_ms` and, when it is not cancelled, writes to the resource
//!   (node 1). When it sees the cancel it stops, and the process starts a new elector (a
//!   new incarnation with the same identity: kube components exit on `OnStoppedLeading`
//!   and are restarted).
//! - **The resource** accepts every write (client-go has no fencing: "This
//!   implementation does not guarantee that only one client is acting as a leader (a.k.a.
//!   fencing)", le.go package doc), or with `fencing` refuses a token below the highest
//!   it accepted: `transitions` hands `leaseTransitions` to it, `resource-version` the
//!   acquiring Update's `resourceVersion`.
//!
//! Tenures (what the oracles judge): the store's commit that makes a candidate
//! incarnation the holder begins a tenure numbered by that commit's resourceVersion; a
//! commit by another incarnation (a takeover, or a release) ends it.
//!
//! Left out, and why: `acquireTime`/`renewTime` (client-go writes them but never reads
//! them: "The client does not consider timestamps in the leader election record to be
//! accurate", le.go package doc), so a record's bytes change exactly when its
//! resourceVersion does, which is what the raw-record comparison reads here; `OnNewLeader`
//! and metrics; the `EndOfTerm`/coordinated leader election alpha fields; the
//! `PollImmediateUntil` ticker's phase (the next try of a failing round is `RetryPeriod`
//! after the last one ended, not on the ticker's grid: equal when calls are fast);
//! several Lease objects (one key).

use crate::cas::{
    rate_ratio_ppm, Answer, CasDisk, CasEvent, CasMsg, CasNode, CasOutput, Earliest, Expect, Op,
    Record, Resource, Store, KEY, LIVES,
};
use leaseproof_impl::protocol::{Assumptions, Breach, FaultBounds, Suspension};
use leaseproof_impl::{
    Belief, ConfigError, Effect, Identity, Jitter, Machine, Nanos, NodeId, Protocol, RoleKind,
};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

const MS: u64 = 1_000_000;
const SECOND: u64 = 1_000 * MS;
/// le.go: `JitterFactor = 1.2`.
pub const JITTER_FACTOR_PPM: u64 = 1_200_000;

/// What the resource is handed with each write.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Fencing {
    /// Nothing: client-go as shipped (no fencing, le.go package doc).
    #[default]
    None,
    /// `leaseTransitions` of the record the leader wrote, as a token (an inference of the
    /// notes, for the checkers to confirm or refute).
    Transitions,
    /// The `resourceVersion` of the Update (or Create) that made this incarnation the
    /// holder.
    ResourceVersion,
}

/// The `[protocol]` fields of a k8s scenario (`kind = "k8s"` besides). Defaults are the
/// `--leader-elect-*` flags of Kubernetes' components (client-go itself has none: "Core
/// clients default this value to 15 seconds", le.go `LeaseDuration` doc, and 10 s, 2 s).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct K8sConfig {
    /// `LeaseDuration`: how long a candidate waits without seeing the record change.
    pub lease_duration_ms: u64,
    /// `RenewDeadline`: how long the leader retries a renewal before giving up.
    pub renew_deadline_ms: u64,
    /// `RetryPeriod`: the wait between tries.
    pub retry_period_ms: u64,
    /// `ReleaseOnCancel`: write an empty holder when leadership ends.
    pub release_on_cancel: bool,
    /// c: how often the guarded work checks its context (it writes at each check that
    /// finds it live).
    pub work_check_ms: u64,
    /// The API client's request timeout. kube-controller-manager sets it to
    /// RenewDeadline (`config.Timeout = s.Generic.LeaderElection.RenewDeadline.Duration`,
    /// cmd/kube-controller-manager/app/options/options.go); 0 means that.
    pub call_timeout_ms: u64,
    /// What the resource is handed with each write.
    pub fencing: Fencing,
}

impl Default for K8sConfig {
    fn default() -> Self {
        K8sConfig {
            lease_duration_ms: 15_000,
            renew_deadline_ms: 10_000,
            retry_period_ms: 2_000,
            release_on_cancel: false,
            work_check_ms: 1_000,
            call_timeout_ms: 0,
            fencing: Fencing::None,
        }
    }
}

impl K8sConfig {
    /// client-go's own validation (le.go `NewLeaderElector`), plus what this model needs;
    /// an error names the field.
    ///
    /// # Errors
    /// The first field out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |field: &'static str, reason: String| Err(ConfigError { field, reason });
        let (ld, rd, rp) = (
            self.lease_duration_ms,
            self.renew_deadline_ms,
            self.retry_period_ms,
        );
        if rp == 0 {
            return err(
                "retry_period_ms",
                "retryPeriod must be greater than zero".into(),
            );
        }
        // le.go: "leaseDuration must be greater than renewDeadline".
        if ld <= rd {
            return err(
                "renew_deadline_ms",
                format!(
                    "{rd} ms is not below lease_duration_ms {ld}: client-go refuses it \
                     (leaseDuration must be greater than renewDeadline)"
                ),
            );
        }
        // le.go: `RenewDeadline <= time.Duration(JitterFactor*float64(RetryPeriod))`.
        if rd * 1_000_000 <= rp * JITTER_FACTOR_PPM {
            return err(
                "retry_period_ms",
                format!(
                    "{rp} ms is too large for renew_deadline_ms {rd}: client-go refuses it \
                     (renewDeadline must be greater than retryPeriod*JitterFactor, 1.2)"
                ),
            );
        }
        // The record keeps `int(LeaseDuration / time.Second)` (le.go tryAcquireOrRenew).
        if ld < 1_000 {
            return err(
                "lease_duration_ms",
                format!(
                    "{ld} ms is written to the record as 0 whole seconds \
                     (leaseDurationSeconds = int(LeaseDuration / time.Second))"
                ),
            );
        }
        if self.work_check_ms == 0 {
            return err("work_check_ms", "must be above 0".into());
        }
        Ok(())
    }

    fn lease_s(&self) -> u32 {
        u32::try_from(self.lease_duration_ms / 1_000).unwrap_or(u32::MAX)
    }

    fn call_timeout_ns(&self) -> u64 {
        match self.call_timeout_ms {
            0 => self.renew_deadline_ms * MS,
            t => t * MS,
        }
    }
}

/// The envelope (docs/protocols/k8s.md, "Envelope"): a leader whose last renewal's reply
/// took `reply` after the store committed it gives up `RetryPeriod + RenewDeadline` later
/// on its own clock and its work stops within `c`; a candidate that saw that record
/// change takes over no sooner than `LeaseDuration` on its clock. So two clients never act
/// at once, and the resource never takes a stale write, while
///
/// `reply + k·(RetryPeriod + RenewDeadline + c) + pause + stall + write flight + steps <
/// LeaseDuration`
///
/// with `k` the rate ratio the drift allows, `reply` and `write flight` the longest
/// latency, `pause` the longest pause, `stall` the longest stall between a write's
/// decision and its send, `steps` the clients' clock steps added up. Offsets do not
/// matter (a candidate compares only readings of its own clock); a crash that loses the
/// store's data does.
impl Assumptions for K8sConfig {
    fn breaches(&self, b: &FaultBounds) -> Vec<Breach> {
        let mut out = crate::cas::lost_record(b, "the Lease object");
        if self.release_on_cancel {
            // le.go `renew` releases before it returns and `Run` cancels the work's context
            // only after: the released lease is free at once while the work still runs.
            out.push(Breach {
                field: "protocol.release_on_cancel".into(),
                reason: "ReleaseOnCancel frees the lease before the guarded work's context is \
                         cancelled: a candidate may lead while the work still writes (up to \
                         the release's reply plus work_check_ms)"
                    .into(),
            });
        }
        // A restarted elector with a stable identity finds its own name in the record and
        // leads again at once (le.go `tryAcquireOrRenew`: `!le.IsLeader()` is false when
        // the observed holder is its own identity), so a write its previous process left
        // in flight can land after the new process's first: after its down time the new
        // process's Get and Update (two round trips) and its first write take five
        // flights. The elector restarts after a give-up too (the components exit on lost
        // leadership), at the work's next context check, at least work_check_ms after its
        // last write was decided.
        let (lat_max, lat_min) = b.latency_ms();
        if let Some(r) = b.restarts.iter().min_by_key(|r| r.down_ms) {
            if lat_max >= r.down_ms.saturating_add(5 * lat_min) {
                out.push(Breach {
                    field: r.field.clone(),
                    reason: format!(
                        "a client restarted after {} ms leads again at once under its stable \
                         identity; a write its previous process left in flight ({} ms at \
                         most) can land after the new one's first (the down time + 5 \
                         flights of {} ms at least)",
                        r.down_ms, lat_max, lat_min
                    ),
                });
            }
        }
        if lat_max >= self.work_check_ms.saturating_add(5 * lat_min) {
            out.push(Breach {
                field: b.latency_field(),
                reason: format!(
                    "a leader that gives up restarts at its work's next context check and \
                     leads again at once; a write decided before ({lat_max} ms in flight at \
                     most) can land after its new process's first (work_check_ms {} + 5 \
                     flights of {lat_min} ms at least)",
                    self.work_check_ms
                ),
            });
        }
        let env = Envelope::of(self, b);
        if env.lhs_ms() >= u128::from(self.lease_duration_ms) {
            out.push(Breach {
                field: env.largest_field(),
                reason: format!(
                    "{} >= lease_duration_ms {}: beyond the envelope",
                    env.describe(),
                    self.lease_duration_ms
                ),
            });
        }
        out
    }
    // Every oracle has the same envelope (the pause term is already in it): the default
    // `oracle_breaches`.
}

/// The envelope's terms for one scenario's fault bounds, each with the field that sets
/// it.
#[derive(Clone, Debug, Default)]
pub struct Envelope {
    /// (field, ms) of each additive term.
    pub terms: Vec<(String, u128)>,
}

impl Envelope {
    /// The terms of the inequality for `cfg` under `b`.
    #[must_use]
    pub fn of(cfg: &K8sConfig, b: &FaultBounds) -> Envelope {
        let mut terms = Vec::new();
        let (latency, _) = b.latency_ms();
        let lat_field = b.latency_field();
        // A reply's delay (r − w), and the write's flight.
        terms.push((lat_field.clone(), u128::from(latency)));
        terms.push((lat_field, u128::from(latency)));
        let widest = b.widest_drift();
        let k = u128::from(rate_ratio_ppm(widest.map_or(0, |d| d.ppm)));
        let span = u128::from(cfg.retry_period_ms + cfg.renew_deadline_ms + cfg.work_check_ms);
        terms.push((
            widest.map_or("protocol.renew_deadline_ms".into(), |d| d.field.clone()),
            span * k / 1_000_000,
        ));
        let longest = |stall: bool| {
            b.suspends
                .iter()
                .filter(|s| (s.kind == Suspension::StallBeforeSend) == stall)
                .max_by_key(|s| s.ms)
                .map(|s| (s.field.clone(), u128::from(s.ms)))
        };
        terms.extend(longest(false));
        terms.extend(longest(true));
        for st in b.client_steps() {
            terms.push((st.field.clone(), u128::from(st.by_ms.unsigned_abs())));
        }
        Envelope { terms }
    }

    /// The left side, ms.
    #[must_use]
    pub fn lhs_ms(&self) -> u128 {
        self.terms.iter().map(|t| t.1).sum()
    }

    fn largest_field(&self) -> String {
        self.terms
            .iter()
            .max_by_key(|t| t.1)
            .map_or_else(String::new, |t| t.0.clone())
    }

    fn describe(&self) -> String {
        let each: Vec<String> = self
            .terms
            .iter()
            .filter(|t| t.1 > 0)
            .map(|t| format!("{} ms ({})", t.1, t.0))
            .collect();
        format!("{} = {} ms", each.join(" + "), self.lhs_ms())
    }
}

/// The Lease spec as client-go writes it (`LeaderElectionRecord`), less the times it
/// never reads.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Spec {
    /// `holderIdentity`: a candidate's stable name (its node), or empty.
    pub holder: Option<u32>,
    /// `leaseDurationSeconds`.
    pub lease_s: u32,
    /// `leaseTransitions`.
    pub transitions: u32,
}

impl Record for Spec {
    fn holder(&self) -> Option<u32> {
        self.holder
    }
}

/// The messages: calls to the store as Get, Create (`Put` expecting no object) and
/// Update (`Put` expecting the resourceVersion the writer last read: leaselock.go
/// `Update` sends the whole cached object with it), its answers, and the work's writes.
pub type K8sMsg = CasMsg<Spec>;
/// The events.
pub type K8sEvent = CasEvent;
/// What a role asks its shell to do.
pub type K8sOutput = CasOutput<Spec>;
/// What a node keeps on disk (the store its Lease object: etcd is durable).
pub type K8sDisk = CasDisk<Spec>;
/// Any role: the store (the API server and etcd), the resource, a candidate.
pub type K8sNode = CasNode<Spec, Elector>;

/// Which call of `tryAcquireOrRenew` is in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Stage {
    /// 1. the leader's optimistic Update on its cached object.
    Fast,
    /// 2. Get.
    Get,
    /// 2. Create, the object not found.
    Create,
    /// 4. Update.
    Update,
    /// `release()`: the empty holder.
    Release,
}

/// One call in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Call {
    stage: Stage,
    id: u64,
    /// `now` at the start of `tryAcquireOrRenew` (its validity check reads it).
    start: u64,
    /// The record it writes.
    spec: Spec,
    /// When the client gives up on it (the request timeout, or the round's deadline).
    timeout_at: u64,
}

/// Where the elector's loops are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Phase {
    /// `acquire`: the next try at `next` (`None`: a try in flight, or its jitter asked).
    Acquiring { next: Option<u64> },
    /// `renew`: the current round's deadline (`None` between rounds) and the next try.
    Leading {
        round: Option<u64>,
        next: Option<u64>,
    },
    /// `renew` gave up; the release, if any, is the call in flight.
    Stopping,
}

/// The guarded work (`OnStartedLeading`'s goroutine).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Work {
    token: u64,
    next_check: u64,
    /// The leading context is cancelled (the work sees it at its next check).
    cancelled: bool,
}

/// A candidate: client-go's `LeaderElector` and the process's guarded work.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Elector {
    cfg: K8sConfig,
    id: Identity,
    life: u32,
    /// `observedRecord` (`None`: the zero record).
    observed: Option<Spec>,
    /// `observedRawRecord`, as the resourceVersion of the bytes (see the module doc).
    observed_raw: Option<u64>,
    /// `observedTime`, on this candidate's clock.
    observed_time: u64,
    /// The resourceVersion of `LeaseLock`'s cached object.
    cached_rv: Option<u64>,
    phase: Phase,
    call: Option<Call>,
    next_call: u64,
    work: Option<Work>,
    out: VecDeque<K8sOutput>,
}

impl Elector {
    fn boot(cfg: &K8sConfig, id: Identity, now: Nanos) -> Elector {
        let mut e = Elector {
            cfg: cfg.clone(),
            id,
            life: 0,
            observed: None,
            observed_raw: None,
            observed_time: 0,
            cached_rv: None,
            phase: Phase::Acquiring { next: None },
            call: None,
            next_call: 0,
            work: None,
            out: VecDeque::new(),
        };
        e.start_life(now);
        e
    }

    /// The identity the oracles know this life by.
    fn who(&self) -> Identity {
        Identity {
            node: self.id.node,
            incarnation: self.id.incarnation * LIVES + self.life,
        }
    }

    fn emit(&mut self, e: K8sEvent) {
        self.out.push_back(Effect::Event(e));
    }

    /// `Run`: a new `LeaderElector` (zero observed record), `acquire` at once.
    fn start_life(&mut self, now: Nanos) {
        self.observed = None;
        self.observed_raw = None;
        self.observed_time = 0;
        self.cached_rv = None;
        self.call = None;
        self.phase = Phase::Acquiring { next: None };
        let client = self.who();
        self.emit(K8sEvent::Booted { client });
        self.emit(K8sEvent::Wanted { client });
        // `JitterUntil` runs its first try at once.
        self.try_start(now.0);
    }

    /// `IsLeader()`: the observed holder is this candidate's name.
    fn is_leader(&self) -> bool {
        self.observed.and_then(|s| s.holder) == Some(self.id.node.0)
    }

    /// `isLeaseValid(now)`: `observedTime + observedRecord.LeaseDurationSeconds > now`.
    fn lease_valid(&self, now: u64) -> bool {
        let lease = u64::from(self.observed.map_or(0, |s| s.lease_s)) * SECOND;
        self.observed_time + lease > now
    }

    fn send(&mut self, stage: Stage, start: u64, now: u64, spec: Spec) {
        self.next_call += 1;
        let (id, inc) = (self.next_call, self.who().incarnation);
        let mut timeout_at = now + self.cfg.call_timeout_ns();
        if let Phase::Leading {
            round: Some(deadline),
            ..
        } = self.phase
        {
            timeout_at = timeout_at.min(deadline);
        }
        let op = match stage {
            Stage::Get => Op::Get,
            Stage::Create => Op::Put {
                expect: Expect::Absent,
                value: spec,
            },
            Stage::Fast | Stage::Update | Stage::Release => Op::Put {
                expect: Expect::Version(self.cached_rv.unwrap_or(0)),
                value: spec,
            },
        };
        let msg = CasMsg::Call { call: id, inc, op };
        self.call = Some(Call {
            stage,
            id,
            start,
            spec,
            timeout_at,
        });
        self.out.push_back(Effect::Send {
            to: NodeId::authority(0),
            msg,
        });
    }

    /// `tryAcquireOrRenew` starts.
    fn try_start(&mut self, now: u64) {
        let mut spec = Spec {
            holder: Some(self.id.node.0),
            lease_s: self.cfg.lease_s(),
            transitions: 0,
        };
        // 1. fast path: `if le.IsLeader() && le.isLeaseValid(now.Time)`, keeping
        // AcquireTime and LeaderTransitions of the observed record.
        if self.is_leader() && self.lease_valid(now) && self.cached_rv.is_some() {
            spec.transitions = self.observed.map_or(0, |s| s.transitions);
            self.send(Stage::Fast, now, now, spec);
        } else {
            self.send(Stage::Get, now, now, spec);
        }
    }

    /// An answer (or a timeout, `None`) to the call in flight.
    fn on_answer(&mut self, now: u64, answer: Option<Answer<Spec>>) {
        let Some(c) = self.call.take() else {
            return;
        };
        if matches!(answer, Some(Answer::Conflict)) {
            let client = self.who();
            self.emit(K8sEvent::Conflict { client });
        }
        match (c.stage, answer) {
            (Stage::Release, _) => {
                if let Some(Answer::Written { version: rv, .. }) = answer {
                    // `setObservedRecord(&leaderElectionRecord)`.
                    self.cached_rv = Some(rv);
                    self.observed = Some(c.spec);
                    self.observed_time = now;
                }
                // `renew` returns after `release()`; only then does `Run`'s deferred
                // `cancel()` cancel the context the guarded work watches.
                self.cancel_work();
                self.maybe_next_life(Nanos(now));
            }
            (
                Stage::Fast | Stage::Create | Stage::Update,
                Some(Answer::Written { version: rv }),
            ) => {
                // `le.setObservedRecord(&leaderElectionRecord)`: observedTime is read
                // after the reply returned.
                self.cached_rv = Some(rv);
                self.observed = Some(c.spec);
                self.observed_time = now;
                self.try_done(now, true);
            }
            // "Failed to update lock optimistically ..., falling back to slow path".
            (Stage::Fast, _) => self.send(Stage::Get, c.start, now, c.spec),
            (Stage::Get, Some(Answer::NotFound)) => self.send(Stage::Create, c.start, now, c.spec),
            (
                Stage::Get,
                Some(Answer::Found {
                    version: rv,
                    value: old,
                }),
            ) => self.got(now, c, rv, old),
            _ => self.try_done(now, false),
        }
    }

    /// Steps 3 and 4 of `tryAcquireOrRenew` after its Get returned `old` at `rv`.
    fn got(&mut self, now: u64, c: Call, rv: u64, old: Spec) {
        self.cached_rv = Some(rv);
        // 3. `if !bytes.Equal(le.observedRawRecord, oldLeaderElectionRawRecord)`:
        // observedTime := now, on this candidate's clock.
        if self.observed_raw != Some(rv) {
            self.observed = Some(old);
            self.observed_raw = Some(rv);
            self.observed_time = now;
        }
        // `len(HolderIdentity) > 0 && le.isLeaseValid(now.Time) && !le.IsLeader()`:
        // `now` is the try's start.
        if old.holder.is_some() && self.lease_valid(c.start) && !self.is_leader() {
            self.try_done(now, false);
            return;
        }
        let mut spec = c.spec;
        spec.transitions = if self.is_leader() {
            old.transitions
        } else {
            old.transitions + 1
        };
        self.send(Stage::Update, c.start, now, spec);
    }

    /// `tryAcquireOrRenew` returned: `ok` when it succeeded. The tenure the work acts
    /// under is the harness's ghost (the latest the store began for this life: a try
    /// whose first Update timed out after committing, retried, began it at that first
    /// commit, not at the retry's), never a number the candidate reads.
    fn try_done(&mut self, now: u64, ok: bool) {
        match (self.phase, ok) {
            (Phase::Acquiring { .. }, true) => {
                let token = match self.cfg.fencing {
                    Fencing::None => 0,
                    Fencing::Transitions => u64::from(self.observed.map_or(0, |s| s.transitions)),
                    // What the application can read: the acquiring write's version.
                    Fencing::ResourceVersion => self.cached_rv.unwrap_or(0),
                };
                let client = self.who();
                self.emit(K8sEvent::Acting { client });
                // `go OnStartedLeading(ctx)`, then `renew`: `wait.Until` runs its first
                // round at once.
                self.work = Some(Work {
                    token,
                    next_check: now,
                    cancelled: false,
                });
                self.phase = Phase::Leading {
                    round: None,
                    next: Some(now),
                };
            }
            // `wait.JitterUntil(..., RetryPeriod, JitterFactor, sliding = true)`: the
            // wait is drawn after the try returned.
            (Phase::Acquiring { .. }, false) => {
                self.phase = Phase::Acquiring { next: None };
                self.out.push_back(Effect::NeedJitter);
            }
            // A round that succeeded ends: `wait.Until(..., RetryPeriod)` starts the next
            // one a RetryPeriod later. One that failed goes on:
            // `PollImmediateUntil(RetryPeriod, ...)` tries again a RetryPeriod later,
            // unless the round's deadline comes first.
            (Phase::Leading { round, .. }, _) => {
                if ok {
                    let client = self.who();
                    self.emit(K8sEvent::Renewed { client });
                }
                self.phase = Phase::Leading {
                    round: if ok { None } else { round },
                    next: Some(now + self.cfg.retry_period_ms * MS),
                };
            }
            (Phase::Stopping, _) => {}
        }
    }

    /// The round's deadline passed: `renew` gives up, cancels the leading context and,
    /// with `ReleaseOnCancel`, releases (le.go `renew`, `release`).
    fn give_up(&mut self, now: u64) {
        let client = self.who();
        self.emit(K8sEvent::GaveUp { client });
        // The call in flight used the round's context: it fails now.
        self.call = None;
        self.phase = Phase::Stopping;
        let releasing = self.cfg.release_on_cancel && self.is_leader();
        if !releasing {
            self.cancel_work();
        }
        if releasing {
            // `LeaderElectionRecord{LeaderTransitions: observed, LeaseDurationSeconds: 1}`,
            // the holder empty, under a RenewDeadline timeout.
            let spec = Spec {
                holder: None,
                lease_s: 1,
                transitions: self.observed.map_or(0, |s| s.transitions),
            };
            if self.work.is_some() {
                self.emit(K8sEvent::GaveBack { client });
            }
            self.send(Stage::Release, now, now, spec);
        }
        self.maybe_next_life(Nanos(now));
    }

    /// `Run`'s `cancel()`: the guarded work sees it at its next check. le.go `Run` cancels
    /// the context it handed `OnStartedLeading` when `renew` returns, which is after
    /// `release()` returns (`renew` releases before returning), so with ReleaseOnCancel a
    /// candidate may take the released lease while the work still runs (up to `c` after
    /// the release's reply).
    fn cancel_work(&mut self) {
        if let Some(w) = &mut self.work {
            w.cancelled = true;
        }
    }

    /// Leadership over, the release done and the work stopped: the process exits and
    /// starts again (kube components `klog.Fatalf` in `OnStoppedLeading`; their
    /// supervisor restarts them), a new elector with the same identity.
    fn maybe_next_life(&mut self, now: Nanos) {
        if self.phase == Phase::Stopping && self.call.is_none() && self.work.is_none() {
            self.life += 1;
            self.start_life(now);
        }
    }

    /// The guarded work's check: cancelled, it stops; else it writes.
    fn check_work(&mut self, now: u64) {
        let Some(mut w) = self.work else {
            return;
        };
        let client = self.who();
        if w.cancelled {
            self.work = None;
            self.emit(K8sEvent::Stopped { client, lost: true });
            self.maybe_next_life(Nanos(now));
            return;
        }
        self.emit(K8sEvent::WriteDecided { client });
        self.out.push_back(Effect::Send {
            to: NodeId::RESOURCE,
            msg: CasMsg::Write {
                inc: client.incarnation,
                token: w.token,
            },
        });
        w.next_check = now + self.cfg.work_check_ms * MS;
        self.work = Some(w);
    }

    fn next_timer(&self) -> Earliest {
        let mut t = Earliest::default();
        let idle = |next: Option<u64>| next.filter(|_| self.call.is_none());
        t.at(self.call.map(|c| c.timeout_at), "call times out");
        match self.phase {
            Phase::Acquiring { next } => t.at(idle(next), "try to acquire"),
            Phase::Leading { round, next } => {
                t.at(round, "renew deadline");
                t.at(idle(next), "try to renew");
            }
            Phase::Stopping => {}
        }
        t.at(self.work.map(|w| w.next_check), "work checks its context");
        t
    }
}

impl Machine for Elector {
    type Msg = K8sMsg;
    type Output = K8sOutput;

    fn handle_message(&mut self, now: Nanos, _from: NodeId, msg: K8sMsg) {
        let CasMsg::Answer { call, inc, answer } = msg else {
            return;
        };
        // An answer to a call this life no longer waits for is dropped (its context
        // is gone).
        if self.call.is_some_and(|c| c.id == call) && inc == self.who().incarnation {
            self.on_answer(now.0, Some(answer));
        }
    }

    fn handle_timeout(&mut self, now: Nanos) {
        let now = now.0;
        // Timers overdue together (after a pause) fire in deadline order, as Go's timer
        // heap runs them: a context check due before the renew deadline runs first and
        // still finds its context live (le.go cancels it only after `renew` returns), the
        // worst side of the race between the two goroutines.
        if let (
            Some(w),
            Phase::Leading {
                round: Some(deadline),
                ..
            },
        ) = (self.work, self.phase)
        {
            if !w.cancelled && w.next_check < deadline && now >= deadline {
                self.check_work(now);
            }
        }
        if let Phase::Leading {
            round: Some(deadline),
            ..
        } = self.phase
        {
            if now >= deadline {
                self.give_up(now);
            }
        }
        if self.call.is_some_and(|c| now >= c.timeout_at) {
            self.on_answer(now, None);
        }
        if self.call.is_none() {
            match self.phase {
                Phase::Acquiring { next: Some(t) } if now >= t => {
                    self.phase = Phase::Acquiring { next: None };
                    self.try_start(now);
                }
                Phase::Leading {
                    round,
                    next: Some(t),
                } if now >= t => {
                    let rd = self.cfg.renew_deadline_ms * MS;
                    // A round starts: `context.WithTimeout(ctx, RenewDeadline)`.
                    self.phase = Phase::Leading {
                        round: Some(round.unwrap_or(now + rd)),
                        next: None,
                    };
                    self.try_start(now);
                }
                _ => {}
            }
        }
        if self.work.is_some_and(|w| now >= w.next_check) {
            self.check_work(now);
        }
    }

    /// The acquire loop's wait: `RetryPeriod · (1 + 1.2 · u)`, `u` in [0, 1)
    /// (`wait.Jitter`).
    fn handle_jitter(&mut self, now: Nanos, jitter: Jitter) {
        if let Phase::Acquiring { next: None } = self.phase {
            if self.call.is_none() {
                let rp = self.cfg.retry_period_ms * MS;
                let extra = u128::from(rp)
                    * u128::from(JITTER_FACTOR_PPM)
                    * u128::from(jitter.ppm.min(Jitter::MAX_PPM - 1))
                    / 1_000_000_000_000;
                let wait = rp + u64::try_from(extra).unwrap_or(u64::MAX);
                self.phase = Phase::Acquiring {
                    next: Some(now.0 + wait),
                };
            }
        }
    }

    fn poll_output(&mut self) -> Option<K8sOutput> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<(Nanos, &'static str)> {
        self.next_timer().get()
    }
}

/// The plug-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct K8s;

impl Protocol for K8s {
    const NAME: &'static str = "k8s";
    const HAS_RESOURCE: bool = true;
    const EVENT_KINDS: &'static [&'static str] = &CasEvent::KINDS;
    type Config = K8sConfig;
    type Fields = K8sConfig;
    type Msg = K8sMsg;
    type Event = K8sEvent;
    type Disk = K8sDisk;
    type Persist = K8sDisk;
    type Node = K8sNode;

    crate::cas::cas_plumbing!(Spec, K8sConfig);

    fn variant(cfg: &K8sConfig) -> &'static str {
        match cfg.fencing {
            Fencing::None => "client-go",
            Fencing::Transitions => "fenced-by-transitions",
            Fencing::ResourceVersion => "fenced-by-resource-version",
        }
    }

    fn boot(cfg: &K8sConfig, role: RoleKind, id: Identity, disk: &K8sDisk, now: Nanos) -> K8sNode {
        match role {
            RoleKind::Server => CasNode::Store(Store::restore(disk, None)),
            RoleKind::Resource => {
                CasNode::Resource(Resource::restore(cfg.fencing != Fencing::None, disk))
            }
            RoleKind::Client => CasNode::Client(Box::new(Elector::boot(cfg, id, now))),
        }
    }

    fn lease_ns(cfg: &K8sConfig) -> u64 {
        cfg.lease_duration_ms * MS
    }

    /// A candidate may act while its guarded work runs (until it sees the cancel); it
    /// believes until `observedTime + leaseDurationSeconds` on its own clock.
    fn belief(node: &K8sNode) -> Option<Belief> {
        let CasNode::Client(e) = node else {
            return None;
        };
        let leading = matches!(e.phase, Phase::Leading { .. });
        Some(Belief {
            key: KEY,
            may_act: e.work.is_some(),
            until: leading.then(|| {
                Nanos(e.observed_time + u64::from(e.observed.map_or(0, |s| s.lease_s)) * SECOND)
            }),
            // The harness labels the timeline with its ghost.
            tenure: None,
        })
    }
}

#[cfg(test)]
mod tests {
    //! One test per rule of docs/protocols/k8s.md's fidelity table that a run does not
    //! pin down by itself: each drives one machine by hand.
    use super::*;

    const S: u64 = SECOND;

    fn drain(m: &mut impl Machine<Output = K8sOutput>) -> Vec<K8sOutput> {
        std::iter::from_fn(|| m.poll_output()).collect()
    }

    fn sent(out: &[K8sOutput]) -> Vec<K8sMsg> {
        out.iter()
            .filter_map(|o| match o {
                Effect::Send { msg, .. } => Some(msg.clone()),
                _ => None,
            })
            .collect()
    }

    /// The ghost tenure never rides in a frame: no message's bytes carry a tenure, and
    /// the harness attaches one to a write alone, by the incarnation the write names.
    #[test]
    fn a_write_carries_its_ghost_tenure_beside_its_bytes_not_in_them() {
        let write = K8sMsg::Write { inc: 3, token: 7 };
        let answer = K8sMsg::Answer {
            call: 1,
            inc: 3,
            answer: Answer::Written { version: 9 },
        };
        for msg in [&write, &answer] {
            let bytes = String::from_utf8(K8s::encode(msg)).unwrap();
            assert!(!bytes.contains("tenure"), "{bytes}");
            assert_eq!(&K8s::decode(bytes.as_bytes()).unwrap(), msg);
        }
        const { assert!(K8s::GHOST_TENURES) };
        assert_eq!(
            K8s::ghost_writer(&write, NodeId(2)),
            Some(Identity {
                node: NodeId(2),
                incarnation: 3
            })
        );
        assert_eq!(K8s::ghost_writer(&answer, NodeId(0)), None);
        assert_eq!(
            K8s::ghost_writer(&create(1, Spec::default()), NodeId(2)),
            None
        );
    }

    fn elector(cfg: &K8sConfig, node: u32, at: u64) -> Elector {
        Elector::boot(
            cfg,
            Identity {
                node: NodeId(node),
                incarnation: 0,
            },
            Nanos(at),
        )
    }

    fn found(call: u64, rv: u64, spec: Spec) -> K8sMsg {
        K8sMsg::Answer {
            call,
            inc: 0,
            answer: Answer::Found {
                version: rv,
                value: spec,
            },
        }
    }

    fn create(call: u64, spec: Spec) -> K8sMsg {
        let op = Op::Put {
            expect: Expect::Absent,
            value: spec,
        };
        CasMsg::Call { call, inc: 0, op }
    }

    fn update(call: u64, rv: u64, spec: Spec) -> K8sMsg {
        let op = Op::Put {
            expect: Expect::Version(rv),
            value: spec,
        };
        CasMsg::Call { call, inc: 0, op }
    }

    /// The Update a message is, as (resourceVersion, spec).
    fn as_update(m: &K8sMsg) -> Option<(u64, Spec)> {
        match m {
            CasMsg::Call {
                op:
                    Op::Put {
                        expect: Expect::Version(rv),
                        value,
                    },
                ..
            } => Some((*rv, *value)),
            _ => None,
        }
    }

    fn is_get(m: &[K8sMsg]) -> bool {
        matches!(m, [CasMsg::Call { op: Op::Get, .. }])
    }

    fn holder(node: u32, transitions: u32) -> Spec {
        Spec {
            holder: Some(node),
            lease_s: 15,
            transitions,
        }
    }

    #[test]
    fn the_store_answers_409_to_a_stale_resource_version_and_an_existing_create() {
        let mut st = Store::restore(&K8sDisk::default(), None);
        let from = NodeId(2);
        st.handle_message(Nanos(0), from, create(1, holder(2, 0)));
        st.handle_message(Nanos(0), from, create(2, holder(2, 0)));
        st.handle_message(Nanos(0), from, update(3, 1, holder(2, 0)));
        st.handle_message(Nanos(0), from, update(4, 1, holder(2, 0)));
        let answers: Vec<Answer<Spec>> = sent(&drain(&mut st))
            .into_iter()
            .filter_map(|m| match m {
                K8sMsg::Answer { answer, .. } => Some(answer),
                _ => None,
            })
            .collect();
        assert_eq!(
            answers,
            [
                Answer::Written { version: 1 },
                Answer::Conflict,
                Answer::Written { version: 2 },
                Answer::Conflict,
            ]
        );
    }

    /// client-go #448: a candidate that first reads a record at t waits a full
    /// LeaseDuration from t, however old the record's renewTime is.
    #[test]
    fn a_fresh_candidate_waits_a_full_lease_from_its_first_read() {
        let cfg = K8sConfig::default();
        let t0 = 100 * S;
        let mut e = elector(&cfg, 3, t0);
        assert!(is_get(&sent(&drain(&mut e))));
        let mut call = 1;
        let mut now = t0;
        // Every 2 s (the shortest jitter draw) it reads the same record again.
        let update_at = loop {
            e.handle_message(Nanos(now), NodeId(0), found(call, 7, holder(2, 4)));
            let out = drain(&mut e);
            if let [m] = &sent(&out)[..] {
                let (rv, spec) = as_update(m).expect("an Update");
                assert_eq!((rv, spec.transitions), (7, 5), "a change of holder: + 1");
                break now;
            }
            assert!(out.iter().any(|o| matches!(o, Effect::NeedJitter)));
            e.handle_jitter(Nanos(now), Jitter { ppm: 0 });
            now = e.poll_timeout().expect("a next try").0 .0;
            e.handle_timeout(Nanos(now));
            call += 1;
            assert!(is_get(&sent(&drain(&mut e))));
        };
        // The try that starts at t0 + 16 s is the first not to see it valid
        // (`observedTime + 15 s > now` is false from t0 + 15 s on).
        assert_eq!(update_at, t0 + 16 * S);
    }

    /// A restarted elector with a stable identity reads its own name: `IsLeader()` is
    /// true, so it skips the wait and keeps leaseTransitions.
    #[test]
    fn a_restarted_elector_takes_over_at_once_keeping_transitions() {
        let mut e = elector(&K8sConfig::default(), 2, 5 * S);
        drain(&mut e);
        e.handle_message(Nanos(5 * S), NodeId(0), found(1, 9, holder(2, 3)));
        let out = sent(&drain(&mut e));
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(as_update(&out[0]), Some((9, holder(2, 3))));
    }

    /// `wait.JitterUntil(..., RetryPeriod, 1.2, sliding)`: 2 s to 4.4 s at the defaults.
    #[test]
    fn the_acquire_wait_is_retry_period_times_one_plus_1_2_u() {
        let wait = |ppm: u32| {
            let mut e = elector(&K8sConfig::default(), 3, 0);
            drain(&mut e);
            e.handle_message(Nanos(0), NodeId(0), found(1, 7, holder(2, 0)));
            drain(&mut e);
            e.handle_jitter(Nanos(0), Jitter { ppm });
            e.poll_timeout().expect("a next try").0 .0
        };
        assert_eq!(wait(0), 2 * S);
        assert_eq!(wait(500_000), 3_200 * MS);
        assert!(wait(Jitter::MAX_PPM) < 4_400 * MS && wait(Jitter::MAX_PPM) > 4_399 * MS);
    }

    /// `renew` gives up when a round passes RenewDeadline without success, cancels the
    /// leading context, and with ReleaseOnCancel writes the empty holder with
    /// `leaseDurationSeconds: 1`, keeping leaseTransitions.
    #[test]
    fn renew_gives_up_after_the_deadline_and_releases_on_cancel() {
        let cfg = K8sConfig {
            release_on_cancel: true,
            ..K8sConfig::default()
        };
        let mut e = elector(&cfg, 2, 0);
        drain(&mut e);
        e.handle_message(
            Nanos(0),
            NodeId(0),
            K8sMsg::Answer {
                call: 1,
                inc: 0,
                answer: Answer::NotFound,
            },
        );
        drain(&mut e);
        e.handle_message(
            Nanos(0),
            NodeId(0),
            K8sMsg::Answer {
                call: 2,
                inc: 0,
                answer: Answer::Written { version: 1 },
            },
        );
        assert!(drain(&mut e)
            .iter()
            .any(|o| matches!(o, Effect::Event(CasEvent::Acting { .. }))));
        // From here every call goes unanswered: the round that starts at 0 ends at 10 s.
        let mut gave_up = None;
        let mut released = None;
        for _ in 0..64 {
            let Some((t, _)) = e.poll_timeout() else {
                break;
            };
            e.handle_timeout(t);
            for o in drain(&mut e) {
                match o {
                    Effect::Event(CasEvent::GaveUp { .. }) => gave_up = Some(t.0),
                    Effect::Send { msg, .. } => {
                        if let Some((_, spec)) = as_update(&msg).filter(|u| u.1.holder.is_none()) {
                            released = Some(spec);
                        }
                    }
                    _ => {}
                }
            }
            if released.is_some() {
                break;
            }
        }
        assert_eq!(gave_up, Some(10 * S));
        assert_eq!(
            released,
            Some(Spec {
                holder: None,
                lease_s: 1,
                transitions: 0
            })
        );
    }

    /// The envelope's numbers docs/protocols/k8s.md quotes, at the defaults: the left
    /// side under `within-envelope.toml`'s bounds (latency up to 20 ms, drift ±2 %), and
    /// each axis's largest value inside it with the envelope sweep's latency (10 ms).
    #[test]
    fn the_envelope_at_the_defaults() {
        use leaseproof_impl::protocol::{DriftBound, LatencyBound, SuspendBound};
        let cfg = K8sConfig::default();
        let bounds = |latency_ms: u64, drift_ppm: u32, pause_ms: u64| FaultBounds {
            latency: Some(LatencyBound {
                field: "cluster.latency_ms".into(),
                ms: latency_ms,
                min_ms: 1,
            }),
            drift: vec![DriftBound {
                field: "clocks.drift_ppm".into(),
                ppm: drift_ppm,
            }],
            suspends: vec![SuspendBound {
                field: "faults.random.kinds".into(),
                what: "a random pause".into(),
                kind: Suspension::Pause,
                ms: pause_ms,
            }],
            ..FaultBounds::default()
        };
        assert_eq!(Envelope::of(&cfg, &bounds(20, 20_000, 0)).lhs_ms(), 13_570);
        // The largest value of one axis the envelope still claims.
        let largest = |inside: &dyn Fn(u64) -> bool| (0..).take_while(|&v| inside(v)).last();
        let drift = largest(&|ppm| {
            let ppm = u32::try_from(ppm).unwrap();
            cfg.breaches(&bounds(10, ppm, 0)).is_empty()
        });
        let c_inside = |c: u64| {
            let cfg = K8sConfig {
                work_check_ms: c,
                ..K8sConfig::default()
            };
            cfg.breaches(&bounds(10, 0, 0)).is_empty()
        };
        // c has a floor too: the restart after a give-up comes at the work's next
        // check, and a write decided before must land first (10 ms < c + 5 x 1 ms).
        assert!(!c_inside(5) && c_inside(6));
        let c = (6..).take_while(|&c| c_inside(c)).last();
        let pause = largest(&|p| cfg.breaches(&bounds(10, 0, p)).is_empty());
        println!("inside: drift ±{drift:?} ppm, c {c:?} ms, pause {pause:?} ms");
        assert_eq!((drift, c, pause), (Some(70_764), Some(2_979), Some(1_979)));
    }
}
