//! # The Amazon DynamoDB lock client, as it really works
//!
//! Sources (cited per rule below; the rules are collected in
//! `../shared/notes/real-systems.md` §4, and `docs/protocols/dynamodb.md` has one row per
//! rule): awslabs/amazon-dynamodb-lock-client `AmazonDynamoDBLockClient.java` (`ADLC`),
//! `AmazonDynamoDBLockClientOptions.java` (`options`), `LockItem.java`, `README.md`.
//!
//! - **The store** is the DynamoDB table ([`crate::cas`], shared with client-go leader
//!   election): one item per lock, conditional writes on its record version number (RVN:
//!   "a random UUID per write", so only its equality is read: the store's version stands
//!   for it).
//! - **Each client** runs `acquireLock`: it polls the item every `refreshPeriod`; no item
//!   → a conditional put expecting none; a released item → a put expecting its RVN; an
//!   item it has seen with the same RVN for the item's `leaseDuration` on its own clock,
//!   counted from when its first read of that RVN *returned* → a put expecting that RVN
//!   (the owner is not checked). Holding, its heartbeat thread updates the item every
//!   `heartbeatPeriod` (a new RVN, conditional on the RVN and the owner), taking its time
//!   *before* sending; `isExpired()` is `now − lastUpdate > leaseDuration` on its clock.
//!   Release deletes the item (`deleteLockOnRelease`, the default) or marks it released.
//!   `holdLockOnServiceUnavailable`: a 503 counts as a successful heartbeat.
//! - **The application** the library leaves to its user, as its README says: it checks
//!   `isExpired()` before each write (every `write_every_ms`) and stops at the expiry it
//!   knows of; it works `hold_ms`, releases, rests `think_ms` and asks again.
//! - **The resource** (node 1) accepts every write: the client hands it nothing to fence
//!   with (the RVN is a UUID: issue #62).
//!
//! Left out, and why: the item's `data` and sort key; `additionalTimeToWaitForLock` and
//! `LockNotGrantedException` (the application is modelled as calling `acquireLock` again
//! at once, so the wait it gives up on is the one it starts over: issue #34's "a stale
//! lock always needs a full leaseDuration wait" holds either way); session monitors;
//! `shouldSkipBlockingWait`; several locks.

use crate::cas::{
    rate_ratio_ppm, Answer, CasDisk, CasEvent, CasMsg, CasNode, CasOutput, Earliest, Expect, Op,
    Record, Resource, Store, KEY, LIVES,
};
use leaseproof_impl::protocol::{Assumptions, Breach, FaultBounds};
use leaseproof_impl::{
    Belief, ConfigError, Effect, Identity, Machine, Nanos, NodeId, Protocol, RoleKind,
};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

const MS: u64 = 1_000_000;

/// The `[protocol]` fields of a dynamodb scenario (`kind = "dynamodb"` besides). Defaults
/// from the code: `leaseDuration = 20`, `heartbeatPeriod = 5` seconds (options builder),
/// `refreshPeriod` 1 s (`DEFAULT_BUFFER_MS`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DynamoConfig {
    /// `leaseDuration`.
    pub lease_duration_ms: u64,
    /// `heartbeatPeriod`.
    pub heartbeat_period_ms: u64,
    /// `refreshPeriod`: how often a waiter reads the item.
    pub refresh_period_ms: u64,
    /// `deleteLockOnRelease`: release deletes the item (else marks it released).
    pub delete_on_release: bool,
    /// `holdLockOnServiceUnavailable`: a 503 counts as a successful heartbeat.
    pub hold_on_unavailable: bool,
    /// The application writes (after checking `isExpired()`) this often.
    pub write_every_ms: u64,
    /// The application holds the lock this long, then releases it.
    pub hold_ms: u64,
    /// And rests this long before asking again.
    pub think_ms: u64,
    /// A call unanswered this long is given up (the SDK's timeout); 0: the heartbeat
    /// period.
    pub call_timeout_ms: u64,
    /// The table answers writes 503 from `[0]` to `[1]` ms after it starts, on its clock
    /// (`[0, 0]`: never; a restart starts the window again): this plug-in's fault.
    pub unavailable_ms: [u64; 2],
    /// What the RVN is: a UUID (the library) or a counter handed to the resource as a
    /// fencing token (the fix issue #62 asks for; see [`Rvn`]).
    pub rvn: Rvn,
}

/// The record version number.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Rvn {
    /// A fresh UUID per write (ADLC): nothing to fence with.
    #[default]
    Uuid,
    /// A counter: each write sets the old value + 1 (a new item: 1), the conditions
    /// compare it, and the application hands the current value to the resource, which
    /// refuses a lower one. A delete (`deleteLockOnRelease`) starts it again at 1; with
    /// `delete_on_release = false` (release by `isReleased`) it survives.
    Counter,
}

impl Default for DynamoConfig {
    fn default() -> Self {
        DynamoConfig {
            lease_duration_ms: 20_000,
            heartbeat_period_ms: 5_000,
            refresh_period_ms: 1_000,
            delete_on_release: true,
            hold_on_unavailable: false,
            write_every_ms: 1_000,
            hold_ms: 30_000,
            think_ms: 1_000,
            call_timeout_ms: 0,
            unavailable_ms: [0, 0],
            rvn: Rvn::Uuid,
        }
    }
}

impl DynamoConfig {
    /// Checks the fields; an error names the field.
    ///
    /// # Errors
    /// The first field out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |field: &'static str, reason: String| Err(ConfigError { field, reason });
        if self.lease_duration_ms == 0 {
            return err("lease_duration_ms", "must be above 0".into());
        }
        // The builder's doc: the heartbeat period should be several times smaller than
        // the lease; at or above it the lock expires between two heartbeats.
        if self.heartbeat_period_ms == 0 || self.heartbeat_period_ms >= self.lease_duration_ms {
            return err(
                "heartbeat_period_ms",
                format!(
                    "{} ms is not in 1..lease_duration_ms {}: the lock would expire between \
                     two heartbeats",
                    self.heartbeat_period_ms, self.lease_duration_ms
                ),
            );
        }
        for (field, v) in [
            ("refresh_period_ms", self.refresh_period_ms),
            ("write_every_ms", self.write_every_ms),
            ("hold_ms", self.hold_ms),
            ("think_ms", self.think_ms),
        ] {
            if v == 0 {
                return err(field, "must be above 0".into());
            }
        }
        if self.unavailable_ms[0] > self.unavailable_ms[1] {
            return err(
                "unavailable_ms",
                format!(
                    "[{}, {}] ends before it starts",
                    self.unavailable_ms[0], self.unavailable_ms[1]
                ),
            );
        }
        Ok(())
    }

    fn call_timeout_ns(&self) -> u64 {
        match self.call_timeout_ms {
            0 => self.heartbeat_period_ms * MS,
            t => t * MS,
        }
    }
}

/// The envelope (docs/protocols/dynamodb.md), two inequalities. A holder's validity runs
/// from its last successful heartbeat's *send* T on its clock, so its last write is
/// decided before T + leaseDuration and lands before T + leaseDuration + suspension +
/// latency_max. A waiter's lease timer runs from the *return* of its first read of that
/// heartbeat's RVN, at least two flights after T (the heartbeat reaches the table, the
/// read's answer comes back); leaseDuration later its put reaches the table a third flight
/// on (the table gives the lock away), its answer comes back a fourth (the new holder
/// acts) and its first write lands a fifth. So:
///
/// - no stale write while `(k − 1)·leaseDuration + steps + pauses + stalls + latency_max <
///   5 · latency_min`;
/// - no write decided after the table gave the lock away (`lease-containment`; two
///   holders need one flight more) while `(k − 1)·leaseDuration + steps < 3 ·
///   latency_min`: a pause after the check does not move the decision.
///
/// `k` is the rate ratio the drift allows. Measured tight: each twin at 110 % of its
/// bound trips and the same script at 100 % passes
/// (`the_envelope_twins_at_one_hundred_and_ten_percent`). A thin envelope: the library has
/// no margin but message flight, and a 503 answered while `holdLockOnServiceUnavailable`
/// is set leaves it at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// `(k − 1)·leaseDuration`, ms (rounded down).
    pub drift_ms: u128,
    /// Every pause and stall, summed, ms.
    pub suspended_ms: u128,
    /// Every client clock step, summed, ms.
    pub steps_ms: u128,
    pub latency_max_ms: u128,
    pub latency_min_ms: u128,
}

impl Envelope {
    /// The inequality's terms for `cfg` under `b`.
    #[must_use]
    pub fn of(cfg: &DynamoConfig, b: &FaultBounds) -> Envelope {
        let drift = b.widest_drift().map_or(0, |d| d.ppm);
        let (lat_max, lat_min) = b.latency_ms();
        Envelope {
            drift_ms: u128::from(cfg.lease_duration_ms)
                * u128::from(rate_ratio_ppm(drift) - 1_000_000)
                / 1_000_000,
            suspended_ms: b
                .suspends
                .iter()
                .map(|s| u128::from(s.ms))
                .fold(0, u128::saturating_add),
            steps_ms: b
                .client_steps()
                .map(|s| u128::from(s.by_ms.unsigned_abs()))
                .sum(),
            latency_max_ms: u128::from(lat_max),
            latency_min_ms: u128::from(lat_min),
        }
    }

    /// The write inequality's left side, ms: drift over a lease, steps, suspensions and
    /// the longest flight.
    #[must_use]
    pub fn lhs_ms(&self) -> u128 {
        self.clock_lhs_ms()
            .saturating_add(self.suspended_ms)
            .saturating_add(self.latency_max_ms)
    }

    /// Its right side, 5 × the shortest latency, ms.
    #[must_use]
    pub fn rhs_ms(&self) -> u128 {
        5 * self.latency_min_ms
    }

    /// The decision inequality's left side, ms: drift over a lease and clock steps.
    #[must_use]
    pub fn clock_lhs_ms(&self) -> u128 {
        self.drift_ms.saturating_add(self.steps_ms)
    }

    /// Its right side, 3 × the shortest latency, ms.
    #[must_use]
    pub fn clock_rhs_ms(&self) -> u128 {
        3 * self.latency_min_ms
    }
}

impl Assumptions for DynamoConfig {
    fn breaches(&self, b: &FaultBounds) -> Vec<Breach> {
        let mut out = crate::cas::lost_record(b, "the lock item");
        if self.hold_on_unavailable && self.unavailable_ms[1] > self.unavailable_ms[0] {
            out.push(Breach {
                field: "protocol.hold_on_unavailable".into(),
                reason: "a 503 counts as a heartbeat while the table may have granted the \
                         lock to another (the option's doc: \"possible that two different \
                         clients can hold the lock\")"
                    .into(),
            });
        }
        let env = Envelope::of(self, b);
        let field = b.latency_field();
        let (lhs, rhs) = (env.lhs_ms(), env.rhs_ms());
        if lhs >= rhs {
            out.push(Breach {
                field: field.clone(),
                reason: format!(
                    "drift {} ms over a lease + clock steps {} ms + suspensions {} ms + \
                     latency {} ms = {lhs} ms is not below 5 x the shortest latency ({rhs} \
                     ms): a write can land after the next holder's",
                    env.drift_ms, env.steps_ms, env.suspended_ms, env.latency_max_ms
                ),
            });
        }
        let (lhs, rhs) = (env.clock_lhs_ms(), env.clock_rhs_ms());
        if lhs >= rhs {
            let clock_field = b
                .widest_drift()
                .filter(|d| d.ppm > 0)
                .map(|d| d.field.clone())
                .or_else(|| b.client_steps().next().map(|s| s.field.clone()))
                .unwrap_or(field);
            out.push(Breach {
                field: clock_field,
                reason: format!(
                    "drift {} ms over a lease + clock steps {} ms = {lhs} ms is not below 3 x \
                     the shortest latency ({rhs} ms): a write can be decided after the table \
                     gave the lock away",
                    env.drift_ms, env.steps_ms
                ),
            });
        }
        out
    }
}

/// The lock item (`key`, `ownerName`, `leaseDuration`, `isReleased`; the RVN is the
/// store's version).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Item {
    /// `ownerName`: the client's stable name (its node).
    pub owner: u32,
    /// `leaseDuration`, ms.
    pub lease_ms: u64,
    /// `isReleased`.
    pub released: bool,
    /// The RVN when it is a counter ([`Rvn::Counter`]; 0 when it is a UUID, which the
    /// store's version stands for).
    pub counter: u64,
}

impl Record for Item {
    fn holder(&self) -> Option<u32> {
        (!self.released).then_some(self.owner)
    }
    fn rvn(&self) -> Option<u64> {
        Some(self.counter)
    }
}

/// The messages.
pub type DynamoMsg = CasMsg<Item>;
/// What a role asks its shell to do.
pub type DynamoOutput = CasOutput<Item>;
/// What a node keeps on disk.
pub type DynamoDisk = CasDisk<Item>;
/// Any role.
pub type DynamoNode = CasNode<Item, LockClient>;

/// Which call is in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Stage {
    /// `acquireLock`'s `GetItem`.
    Read,
    /// `acquireLock`'s conditional put.
    Take,
    /// The heartbeat's conditional update.
    Heartbeat,
    /// `releaseLock`.
    Release,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Call {
    stage: Stage,
    id: u64,
    /// When it was sent (`lastUpdateOfLock` is taken before sending).
    sent: u64,
    timeout_at: u64,
    /// The RVN counter a put writes (0 for a UUID RVN, or no put).
    counter: u64,
}

/// What a waiter has seen: the RVN, when its read returned, the item's lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Sighting {
    rvn: u64,
    lookup: u64,
    lease_ns: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Phase {
    /// `acquireLock`: the next read at `next` (`None` while a call is in flight).
    Acquiring {
        next: Option<u64>,
        trying: Option<Sighting>,
    },
    /// Holding: the item's RVN, `lastUpdate` (when the last successful heartbeat, or the
    /// acquiring put, was sent), the next heartbeat (`None` while one is in flight, or
    /// once the heartbeat thread stopped: it found the lock expired, or lost), when the
    /// work is done.
    Holding {
        rvn: u64,
        last_update: u64,
        next_heartbeat: Option<u64>,
        release_at: u64,
    },
    /// Resting after a release or a loss, until `until`.
    Resting { until: u64 },
}

/// The application's work under the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Work {
    next_write: u64,
}

/// A client: the lock client and the application around it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LockClient {
    cfg: DynamoConfig,
    id: Identity,
    /// `acquireLock` calls before the current one ([`LockClient::who`]).
    life: u32,
    phase: Phase,
    call: Option<Call>,
    next_call: u64,
    work: Option<Work>,
    out: VecDeque<DynamoOutput>,
}

impl LockClient {
    fn boot(cfg: &DynamoConfig, id: Identity, now: Nanos) -> LockClient {
        let mut c = LockClient {
            cfg: cfg.clone(),
            id,
            life: 0,
            phase: Phase::Resting { until: now.0 },
            call: None,
            next_call: 0,
            work: None,
            out: VecDeque::new(),
        };
        c.emit(CasEvent::Booted { client: id });
        c.acquire(now.0);
        c
    }

    /// The identity the oracles know this client's current `acquireLock` by: a tenure is
    /// one acquisition's hold, and a client that gave its lock back and takes the same
    /// item again (its release lost, say) holds a new one, though the table's record
    /// never changed hands (`incarnation * LIVES + acquisitions`).
    fn who(&self) -> Identity {
        Identity {
            node: self.id.node,
            incarnation: self.id.incarnation * LIVES + self.life,
        }
    }

    fn emit(&mut self, e: CasEvent) {
        self.out.push_back(Effect::Event(e));
    }

    /// `acquireLock` starts: its first read at once.
    fn acquire(&mut self, now: u64) {
        let client = self.who();
        self.emit(CasEvent::Wanted { client });
        self.phase = Phase::Acquiring {
            next: None,
            trying: None,
        };
        self.send(Stage::Read, now, Op::Get);
    }

    fn send(&mut self, stage: Stage, now: u64, op: Op<Item>) {
        self.next_call += 1;
        let call = self.next_call;
        let counter = match op {
            Op::Put { value, .. } => value.counter,
            Op::Get | Op::Delete { .. } => 0,
        };
        self.call = Some(Call {
            stage,
            id: call,
            sent: now,
            timeout_at: now + self.cfg.call_timeout_ns(),
            counter,
        });
        self.out.push_back(Effect::Send {
            to: NodeId::authority(0),
            msg: CasMsg::Call {
                call,
                inc: self.who().incarnation,
                op,
            },
        });
    }

    /// This client's item, at RVN counter `counter` (ignored for a UUID RVN).
    fn mine(&self, counter: u64) -> Item {
        Item {
            owner: self.id.node.0,
            lease_ms: self.cfg.lease_duration_ms,
            released: false,
            counter: if self.counter() { counter } else { 0 },
        }
    }

    fn counter(&self) -> bool {
        self.cfg.rvn == Rvn::Counter
    }

    /// The RVN of an item read at `version`: the version for a UUID RVN, the item's
    /// counter for a counter.
    fn rvn_of(&self, version: u64, item: &Item) -> u64 {
        if self.counter() {
            item.counter
        } else {
            version
        }
    }

    /// The condition on an RVN.
    fn expect(&self, rvn: u64) -> Expect {
        if self.counter() {
            Expect::Rvn(rvn)
        } else {
            Expect::Version(rvn)
        }
    }

    /// A put of this client's item over the RVN `rvn` (`None`: no item), the counter one
    /// above it.
    fn put_over(&self, rvn: Option<u64>) -> Op<Item> {
        Op::Put {
            expect: rvn.map_or(Expect::Absent, |r| self.expect(r)),
            value: self.mine(rvn.map_or(1, |r| r + 1)),
        }
    }

    /// `acquireLock`'s loop after its read returned at `now` (ADLC
    /// `acquireLock`; the rules in the module doc).
    fn on_read(&mut self, now: u64, found: Option<(u64, Item)>) {
        let Phase::Acquiring { trying, .. } = self.phase else {
            return;
        };
        match found {
            // No item: `attribute_not_exists(key)`.
            None => self.send(Stage::Take, now, self.put_over(None)),
            // Released: a put expecting its RVN (and isReleased).
            Some((version, item)) if item.released => {
                let rvn = self.rvn_of(version, &item);
                self.send(Stage::Take, now, self.put_over(Some(rvn)));
            }
            Some((version, item)) => {
                let rvn = self.rvn_of(version, &item);
                let seen = match trying {
                    // The same RVN: expired once it stayed so for its leaseDuration on
                    // this client's clock from when the first read of it returned.
                    Some(t) if t.rvn == rvn => t,
                    // A first sighting, or a changed RVN: the timer starts again.
                    _ => Sighting {
                        rvn,
                        lookup: now,
                        lease_ns: item.lease_ms * MS,
                    },
                };
                if now - seen.lookup > seen.lease_ns {
                    // `attribute_exists(key) AND rvn = :rvn`: the owner is not checked.
                    self.send(Stage::Take, now, self.put_over(Some(rvn)));
                    self.phase = Phase::Acquiring {
                        next: None,
                        trying: Some(seen),
                    };
                } else {
                    self.phase = Phase::Acquiring {
                        next: Some(now + self.cfg.refresh_period_ms * MS),
                        trying: Some(seen),
                    };
                }
            }
        }
    }

    fn on_answer(&mut self, now: u64, c: Call, answer: Option<Answer<Item>>) {
        if matches!(answer, Some(Answer::Conflict)) {
            let client = self.who();
            self.emit(CasEvent::Conflict { client });
        }
        match (c.stage, answer) {
            (Stage::Read, Some(Answer::Found { version, value })) => {
                self.on_read(now, Some((version, value)));
            }
            (Stage::Read, Some(Answer::NotFound)) => self.on_read(now, None),
            (Stage::Take, Some(Answer::Written { version })) => {
                let rvn = if self.counter() { c.counter } else { version };
                self.acquired(now, rvn, c.sent);
            }
            // A failed read or put: the loop goes on (`LockNotGrantedException` from a
            // failed condition ends one acquireLock; the application calls it again).
            (Stage::Read | Stage::Take, _) => {
                let trying = match self.phase {
                    Phase::Acquiring { trying, .. } => trying,
                    _ => None,
                };
                self.phase = Phase::Acquiring {
                    next: Some(now + self.cfg.refresh_period_ms * MS),
                    trying,
                };
            }
            (Stage::Heartbeat, a) => self.heartbeat_answered(now, c, a),
            (Stage::Release, _) => {}
        }
    }

    /// The put sent at `sent` won: the lock is held (under the tenure the harness's ghost
    /// says), `lastUpdate` the time the put was sent.
    fn acquired(&mut self, now: u64, rvn: u64, sent: u64) {
        let client = self.who();
        self.emit(CasEvent::Acting { client });
        self.phase = Phase::Holding {
            rvn,
            last_update: sent,
            next_heartbeat: Some(now + self.cfg.heartbeat_period_ms * MS),
            release_at: now + self.cfg.hold_ms * MS,
        };
        self.work = Some(Work { next_write: now });
    }

    fn heartbeat_answered(&mut self, now: u64, c: Call, a: Option<Answer<Item>>) {
        let client = self.who();
        let counter = self.counter();
        let period = self.cfg.heartbeat_period_ms * MS;
        let hold_on_unavailable = self.cfg.hold_on_unavailable;
        let Phase::Holding {
            rvn,
            last_update,
            next_heartbeat,
            ..
        } = &mut self.phase
        else {
            return;
        };
        *next_heartbeat = Some(now + period);
        let event = match a {
            Some(Answer::Written { version, .. }) => {
                *rvn = if counter { c.counter } else { version };
                *last_update = c.sent;
                Some(CasEvent::Renewed { client })
            }
            // `holdLockOnServiceUnavailable`: the 503 is taken as success (lookupTime
            // reset), the RVN unchanged.
            Some(Answer::Unavailable) if hold_on_unavailable => {
                *last_update = c.sent;
                Some(CasEvent::HeldOnUnavailable { client })
            }
            // The condition failed: the lock is no longer ours; the heartbeat stops.
            Some(Answer::Conflict) => {
                *next_heartbeat = None;
                None
            }
            _ => None,
        };
        if let Some(e) = event {
            self.emit(e);
        }
    }

    /// The lease this client holds under: its own `leaseDuration`, the one its puts write.
    fn lease_ns(&self) -> u64 {
        self.cfg.lease_duration_ms * MS
    }

    /// `LockItem.isExpired()`: `now − lastUpdate > leaseDuration`.
    fn expired(&self, now: u64) -> bool {
        match self.phase {
            Phase::Holding { last_update, .. } => now.saturating_sub(last_update) > self.lease_ns(),
            _ => true,
        }
    }

    /// When `isExpired()` turns true.
    fn expiry(&self) -> Option<u64> {
        match self.phase {
            Phase::Holding { last_update, .. } => Some(last_update + self.lease_ns() + 1),
            _ => None,
        }
    }

    /// The application: at each write it checks `isExpired()`; expired, it stops (and
    /// rests); its work done, it releases.
    fn work_step(&mut self, now: u64) {
        let Some(w) = self.work else {
            return;
        };
        let client = self.who();
        if self.expired(now) {
            self.work = None;
            self.emit(CasEvent::GaveUp { client });
            self.emit(CasEvent::Stopped { client, lost: true });
            self.call = None;
            self.phase = Phase::Resting {
                until: now + self.cfg.think_ms * MS,
            };
            return;
        }
        if let Phase::Holding {
            rvn, release_at, ..
        } = self.phase
        {
            if now >= release_at {
                self.work = None;
                // Its work is done: a stop it meant, not a preemption.
                self.emit(CasEvent::Stopped {
                    client,
                    lost: false,
                });
                self.emit(CasEvent::GaveBack { client });
                let op = if self.cfg.delete_on_release {
                    Op::Delete {
                        expect: self.expect(rvn),
                    }
                } else {
                    Op::Put {
                        expect: self.expect(rvn),
                        value: Item {
                            released: true,
                            ..self.mine(rvn + 1)
                        },
                    }
                };
                self.send(Stage::Release, now, op);
                self.phase = Phase::Resting {
                    until: now + self.cfg.think_ms * MS,
                };
                return;
            }
        }
        if now >= w.next_write {
            self.emit(CasEvent::WriteDecided { client });
            // A counter RVN is handed to the resource: the lock item's current one.
            let token = match self.phase {
                Phase::Holding { rvn, .. } if self.counter() => rvn,
                _ => 0,
            };
            self.out.push_back(Effect::Send {
                to: NodeId::RESOURCE,
                msg: CasMsg::Write {
                    inc: client.incarnation,
                    token,
                },
            });
            self.work = Some(Work {
                next_write: now + self.cfg.write_every_ms * MS,
            });
        }
    }

    fn next_timer(&self) -> Earliest {
        let mut t = Earliest::default();
        let idle = |at: Option<u64>| at.filter(|_| self.call.is_none());
        t.at(self.call.map(|c| c.timeout_at), "call times out");
        match self.phase {
            Phase::Acquiring { next, .. } => t.at(idle(next), "read the item"),
            Phase::Holding {
                next_heartbeat,
                release_at,
                ..
            } => {
                t.at(idle(next_heartbeat), "heartbeat");
                t.at(self.work.map(|_| release_at), "work done");
            }
            Phase::Resting { until } => t.at(idle(Some(until)), "ask again"),
        }
        if let Some(w) = self.work {
            t.at(Some(w.next_write), "write");
            t.at(self.expiry(), "lock expires");
        }
        t
    }
}

impl Machine for LockClient {
    type Msg = DynamoMsg;
    type Output = DynamoOutput;

    fn handle_message(&mut self, now: Nanos, _from: NodeId, msg: DynamoMsg) {
        let CasMsg::Answer { call, inc, answer } = msg else {
            return;
        };
        if inc != self.who().incarnation {
            return;
        }
        if let Some(c) = self.call.filter(|c| c.id == call) {
            self.call = None;
            self.on_answer(now.0, c, Some(answer));
        }
    }

    fn handle_timeout(&mut self, now: Nanos) {
        let now = now.0;
        if let Some(c) = self.call.filter(|c| now >= c.timeout_at) {
            self.call = None;
            self.on_answer(now, c, None);
        }
        self.work_step(now);
        if self.call.is_some() {
            return;
        }
        match self.phase {
            Phase::Acquiring {
                next: Some(t),
                trying,
            } if now >= t => {
                self.phase = Phase::Acquiring { next: None, trying };
                self.send(Stage::Read, now, Op::Get);
            }
            Phase::Holding {
                next_heartbeat: Some(t),
                rvn,
                ..
            } if now >= t => {
                let expired = self.expired(now);
                if let Phase::Holding { next_heartbeat, .. } = &mut self.phase {
                    *next_heartbeat = None;
                }
                if expired {
                    // The heartbeat thread: an expired lock is not renewed; it stops.
                    let client = self.who();
                    self.emit(CasEvent::GaveUp { client });
                } else {
                    // `lastUpdateOfLock` taken before sending; a new RVN, conditional on
                    // the RVN and the owner (the RVN fixes the owner).
                    let op = self.put_over(Some(rvn));
                    self.send(Stage::Heartbeat, now, op);
                }
            }
            // The application calls `acquireLock` again: a new hold, a new tenure.
            Phase::Resting { until } if now >= until => {
                self.life += 1;
                self.acquire(now);
            }
            _ => {}
        }
    }

    fn poll_output(&mut self) -> Option<DynamoOutput> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<(Nanos, &'static str)> {
        self.next_timer().get()
    }
}

/// The plug-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DynamoDb;

impl Protocol for DynamoDb {
    const NAME: &'static str = "dynamodb";
    const HAS_RESOURCE: bool = true;
    const EVENT_KINDS: &'static [&'static str] = &CasEvent::KINDS;
    type Config = DynamoConfig;
    type Fields = DynamoConfig;
    type Msg = DynamoMsg;
    type Event = CasEvent;
    type Disk = DynamoDisk;
    type Persist = DynamoDisk;
    type Node = DynamoNode;

    crate::cas::cas_plumbing!(Item, DynamoConfig);

    fn variant(cfg: &DynamoConfig) -> &'static str {
        match (cfg.hold_on_unavailable, cfg.rvn, cfg.delete_on_release) {
            (true, _, _) => "hold-on-unavailable",
            (false, Rvn::Counter, true) => "counter-rvn-deleted",
            (false, Rvn::Counter, false) => "counter-rvn-kept",
            (false, Rvn::Uuid, _) => "lock-client",
        }
    }

    fn boot(
        cfg: &DynamoConfig,
        role: RoleKind,
        id: Identity,
        disk: &DynamoDisk,
        now: Nanos,
    ) -> DynamoNode {
        match role {
            RoleKind::Server => {
                let [a, b] = cfg.unavailable_ms;
                let outage = (b > a).then_some((now.0 + a * MS, now.0 + b * MS));
                CasNode::Store(Store::restore(disk, outage))
            }
            RoleKind::Resource => {
                CasNode::Resource(Resource::restore(cfg.rvn == Rvn::Counter, disk))
            }
            RoleKind::Client => CasNode::Client(Box::new(LockClient::boot(cfg, id, now))),
        }
    }

    fn lease_ns(cfg: &DynamoConfig) -> u64 {
        cfg.lease_duration_ms * MS
    }

    /// A client may act while its application works (until it sees `isExpired()`); it
    /// believes until `lastUpdate + leaseDuration` on its own clock.
    fn belief(node: &DynamoNode) -> Option<Belief> {
        let CasNode::Client(c) = node else {
            return None;
        };
        Some(Belief {
            key: KEY,
            may_act: c.work.is_some(),
            until: c.work.and(c.expiry()).map(Nanos),
            // The harness labels the timeline with its ghost.
            tenure: None,
        })
    }
}

#[cfg(test)]
mod tests {
    //! One test per rule of docs/protocols/dynamodb.md's fidelity table that a run does
    //! not pin down by itself: each drives the lock client by hand.
    use super::*;

    const S: u64 = 1_000 * MS;

    fn drain(c: &mut LockClient) -> Vec<DynamoOutput> {
        std::iter::from_fn(|| c.poll_output()).collect()
    }

    fn calls(out: &[DynamoOutput]) -> Vec<Op<Item>> {
        out.iter()
            .filter_map(|o| match o {
                Effect::Send {
                    msg: CasMsg::Call { op, .. },
                    ..
                } => Some(*op),
                _ => None,
            })
            .collect()
    }

    fn client(cfg: &DynamoConfig, at: u64) -> LockClient {
        let id = Identity {
            node: NodeId(3),
            incarnation: 0,
        };
        LockClient::boot(cfg, id, Nanos(at))
    }

    fn answer(c: &mut LockClient, at: u64, answer: Answer<Item>) -> Vec<DynamoOutput> {
        let call = c.call.expect("a call in flight").id;
        let inc = c.who().incarnation;
        c.handle_message(Nanos(at), NodeId(0), CasMsg::Answer { call, inc, answer });
        drain(c)
    }

    fn held_by(owner: u32) -> Item {
        Item {
            owner,
            lease_ms: 20_000,
            released: false,
            counter: 0,
        }
    }

    /// Polls the item every refresh period, answering `found(t)`, until the client puts;
    /// returns when, and the put.
    fn wait_for_put(
        c: &mut LockClient,
        mut now: u64,
        found: impl Fn(u64) -> (u64, Item),
    ) -> (u64, Op<Item>) {
        for _ in 0..100 {
            let (version, value) = found(now);
            let out = answer(c, now, Answer::Found { version, value });
            if let [op @ Op::Put { .. }] = calls(&out)[..] {
                return (now, op);
            }
            now = c.poll_timeout().expect("a next read").0 .0;
            c.handle_timeout(Nanos(now));
            assert!(matches!(calls(&drain(c))[..], [Op::Get]));
        }
        panic!("no put");
    }

    /// ADLC `acquireLock`: the waiter puts over a held item only once its RVN stayed the
    /// same for the item's leaseDuration, counted from when its first read of that RVN
    /// returned; a changed RVN starts the wait again; the put expects the RVN (not the
    /// owner).
    #[test]
    fn a_waiter_takes_over_after_a_lease_of_one_unchanged_rvn() {
        let mut c = client(&DynamoConfig::default(), 0);
        drain(&mut c);
        // The RVN is 7 until 10 s, then 8 (a heartbeat).
        let (at, op) = wait_for_put(&mut c, 0, |t| (if t < 10 * S { 7 } else { 8 }, held_by(2)));
        assert_eq!(
            op,
            Op::Put {
                expect: Expect::Version(8),
                value: held_by(3)
            }
        );
        // First read of RVN 8 at 10 s; `now − lookup > 20 s` first holds at the read at
        // 31 s (reads every second).
        assert_eq!(at, 31 * S);
    }

    /// A released item is taken at once, expecting its RVN.
    #[test]
    fn a_released_item_is_taken_at_once() {
        let mut c = client(&DynamoConfig::default(), 0);
        drain(&mut c);
        let released = Item {
            released: true,
            ..held_by(2)
        };
        let (at, op) = wait_for_put(&mut c, 0, |_| (4, released));
        assert_eq!(at, 0);
        assert!(matches!(
            op,
            Op::Put {
                expect: Expect::Version(4),
                ..
            }
        ));
    }

    /// The holder: `lastUpdate` is taken before the heartbeat is sent, `isExpired()` counts
    /// from it; a 503 counts as a successful heartbeat only with
    /// `holdLockOnServiceUnavailable`.
    #[test]
    fn heartbeats_time_from_the_send_and_503_counts_only_if_asked() {
        for hold in [false, true] {
            let cfg = DynamoConfig {
                hold_on_unavailable: hold,
                ..DynamoConfig::default()
            };
            let mut c = client(&cfg, 0);
            drain(&mut c);
            answer(&mut c, 0, Answer::NotFound);
            // The put was sent at 0 and is answered at 0.5 s.
            answer(&mut c, S / 2, Answer::Written { version: 1 });
            let Phase::Holding { last_update, .. } = c.phase else {
                panic!("holding");
            };
            assert_eq!(last_update, 0, "taken before the put was sent");
            // The heartbeat at 5.5 s is answered 503 at 6 s.
            let now = loop {
                let now = c.poll_timeout().unwrap().0 .0;
                c.handle_timeout(Nanos(now));
                if calls(&drain(&mut c))
                    .iter()
                    .any(|o| matches!(o, Op::Put { .. }))
                {
                    break now;
                }
            };
            assert_eq!(now, 5 * S + S / 2);
            answer(&mut c, 6 * S, Answer::Unavailable);
            let Phase::Holding { last_update, .. } = c.phase else {
                panic!("holding");
            };
            let expected = if hold { 5 * S + S / 2 } else { 0 };
            assert_eq!(last_update, expected, "hold_on_unavailable = {hold}");
            assert_eq!(c.expired(20 * S + 1), !hold);
        }
    }
}
