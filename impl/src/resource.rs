//! The fenced resource: the protected storage.
//!
//! Per key it keeps the highest token it accepted, and accepts a write only if
//! `token >= highest`; otherwise it rejects and says which token is current. A repeated
//! idempotency key is answered from its record and applied once (a re-delivery, not a new
//! acceptance). Both tables are durable (`Output::Persist`); losing them is a fault beyond
//! the assumptions.
//!
//! Contract (sans-IO): drain `poll_output()` after every input.

use crate::config::{Config, Mutant, Variant};
use crate::output::{
    map_resource_tables, remap_resource_tables, Disk, Event, JobRecord, Output, PersistOp,
    WriteOutcome, UNDRAINED,
};
use crate::types::Unhashed;
use crate::types::{
    Counter, Counters, IdemKey, Identity, Job, JobOutcome, Key, Msg, Nanos, NodeId, RemapNodes,
    Token,
};
use std::collections::{BTreeMap, VecDeque};
use std::hash::Hash;

/// How many answered idempotency keys the resource keeps per client incarnation.
pub const IDEM_RECORDS_PER_CLIENT: usize = 64;

/// The fenced resource state machine.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FencedResource {
    /// Fixed for the run, so left out of the hash.
    cfg: Unhashed<Config>,
    highest: BTreeMap<Key, Token>,
    applied: BTreeMap<IdemKey, WriteOutcome>,
    /// Exactly-once work: each job's record, under its idempotency key (durable).
    jobs: BTreeMap<Job, JobRecord>,
    out: VecDeque<Output>,
}

impl FencedResource {
    /// Boots from the disk. An empty disk after a crash means the table was lost.
    #[must_use]
    pub fn restore(config: &Config, id: Identity, persisted: &Disk, _now: Nanos) -> Self {
        let mut r = FencedResource {
            cfg: Unhashed(*config),
            highest: persisted.highest.clone(),
            applied: persisted.applied.clone(),
            jobs: persisted.jobs.clone(),
            out: VecDeque::new(),
        };
        r.out.push_back(Output::Event(Event::ResourceBooted {
            lost_table: id.incarnation > 0 && persisted.highest.is_empty(),
        }));
        r
    }

    pub fn handle_message(&mut self, _now: Nanos, from: NodeId, msg: Msg) {
        match msg {
            Msg::Write { key, token, idem } => self.on_write(from, key, token, idem),
            Msg::Apply {
                key,
                token,
                job,
                idem,
            } if job.0 < self.cfg.jobs.count => self.on_apply(from, key, token, job, idem),
            // Not for the resource, or a job nobody declared: a confused or hostile peer.
            _ => {}
        }
    }

    /// The idempotency keys of the answered writes kept (`applied`).
    pub fn answered(&self) -> impl Iterator<Item = IdemKey> + '_ {
        self.applied.keys().copied()
    }

    /// Forgets the answered writes `keep` rejects: for a model checker, dead data. An
    /// answered write's record is read only by a re-delivery of a write with the same
    /// idempotency key (a client never re-sends a plain write: each write takes a new
    /// key), so once no such write is in flight, and the network does not duplicate, no
    /// later step can read it. The disk keeps its copy: a restarted resource reads it back,
    /// and a record read back is as dead as it was.
    pub fn forget_answers(&mut self, keep: impl Fn(IdemKey) -> bool) {
        self.applied.retain(|k, _| keep(*k));
    }

    /// Whether the answered write `idem` is live by the rule of [`Self::forget_answers`]:
    /// a write with that key is among the messages in flight (each with its sender, which
    /// the key names as it arrives).
    pub fn answer_live<'a>(
        mut in_flight: impl Iterator<Item = (NodeId, &'a Msg)>,
        idem: IdemKey,
    ) -> bool {
        in_flight.any(|(from, m)| {
            matches!(m, Msg::Write { idem: i, .. } if IdemKey { node: from, ..*i } == idem)
        })
    }

    /// The resource's record of a job, for tests and reports.
    #[must_use]
    pub fn job(&self, job: Job) -> Option<JobRecord> {
        self.jobs.get(&job).copied()
    }

    /// One attempt at a job. The record answers first (applied or dead-lettered stays so:
    /// the two exclude each other because they are one record), then fencing, then the
    /// job's own effect: applied, or definitely rejected and counted once per attempt, and
    /// dead-lettered when the budget is spent.
    fn on_apply(&mut self, from: NodeId, key: Key, token: Token, job: Job, idem: IdemKey) {
        let client = Identity {
            node: from,
            incarnation: idem.incarnation,
        };
        let idem = IdemKey { node: from, ..idem };
        let record = self.jobs.get(&job).copied();
        let idempotent = self.cfg.variant != Variant::NoIdempotency;
        let outcome = match record {
            Some(JobRecord::Applied { .. }) if idempotent => {
                self.event(Event::JobAlreadyDone { client, key, job });
                JobOutcome::AlreadyApplied
            }
            Some(JobRecord::DeadLettered { .. }) => {
                self.event(Event::JobAlreadyDone { client, key, job });
                JobOutcome::DeadLettered
            }
            Some(JobRecord::Pending { failures, last }) if last == idem => {
                // A re-send of an attempt already rejected: the same answer, not a new count.
                JobOutcome::Failed { failures }
            }
            _ => {
                let current = self.highest.get(&key).copied().unwrap_or_default();
                let fenced = self.cfg.variant != Variant::NoFencing;
                if fenced && token < current {
                    self.event(Event::WriteRejected {
                        client,
                        key,
                        token,
                        current,
                        idem,
                    });
                    JobOutcome::Fenced { current }
                } else if self.cfg.jobs.is_poison(job.0) {
                    let failures = match record {
                        Some(JobRecord::Pending { failures, .. }) => failures + 1,
                        _ => 1,
                    };
                    self.event(Event::JobFailed {
                        client,
                        key,
                        job,
                        failures,
                    });
                    if failures >= self.cfg.jobs.attempts {
                        self.set_job(job, JobRecord::DeadLettered { token });
                        self.event(Event::JobDeadLettered {
                            client,
                            key,
                            token,
                            job,
                        });
                        JobOutcome::DeadLettered
                    } else {
                        self.set_job(
                            job,
                            JobRecord::Pending {
                                failures,
                                last: idem,
                            },
                        );
                        JobOutcome::Failed { failures }
                    }
                } else {
                    if token > current {
                        self.raise_highest(key, token);
                        self.persist(PersistOp::Highest { key, token });
                    }
                    self.set_job(job, JobRecord::Applied { token });
                    self.event(Event::WriteAccepted {
                        client,
                        key,
                        token,
                        idem,
                    });
                    self.event(Event::JobApplied {
                        client,
                        key,
                        token,
                        job,
                    });
                    JobOutcome::Applied
                }
            }
        };
        self.out.push_back(Output::Send {
            to: from,
            msg: Msg::JobResult {
                key,
                token,
                job,
                idem,
                outcome,
            },
        });
    }

    fn set_job(&mut self, job: Job, record: JobRecord) {
        self.jobs.insert(job, record);
        self.persist(PersistOp::Job { job, record });
    }

    fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    /// The resource has no timers.
    pub fn handle_timeout(&mut self, _now: Nanos) {}

    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        if self.cfg.mutant == Mutant::OutputLeftAfterDrain && self.out.len() == 1 {
            return None;
        }
        self.out.pop_front()
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<(Nanos, &'static str)> {
        assert!(self.out.is_empty(), "{UNDRAINED}");
        None
    }

    /// Raises a key's highest accepted token: it never goes down.
    fn raise_highest(&mut self, key: Key, token: Token) {
        let old = self.highest.get(&key).copied().unwrap_or_default();
        assert!(
            token >= old,
            "the resource's highest token on {key} would fall from {old} to {token}"
        );
        self.highest.insert(key, token);
    }

    /// The highest token accepted on a key.
    #[must_use]
    pub fn highest(&self, key: Key) -> Option<Token> {
        self.highest.get(&key).copied()
    }

    fn on_write(&mut self, from: NodeId, key: Key, token: Token, idem: IdemKey) {
        // The writer is who the idempotency key says, sent from that node.
        let client = Identity {
            node: from,
            incarnation: idem.incarnation,
        };
        let idem = IdemKey { node: from, ..idem };
        if let Some(outcome) = self.applied.get(&idem).copied() {
            self.out
                .push_back(Output::Event(Event::WriteRedelivered { client, key, idem }));
            self.reply(from, key, idem, outcome);
            return;
        }
        let current = self.highest.get(&key).copied().unwrap_or_default();
        let fenced = self.cfg.variant != Variant::NoFencing;
        let outcome = if !fenced || token >= current {
            let new_high = if self.cfg.mutant == Mutant::ResourceLowersHighest {
                token
            } else {
                current.max(token)
            };
            self.raise_highest(key, new_high);
            self.persist(PersistOp::Highest {
                key,
                token: new_high,
            });
            WriteOutcome::Accepted { token }
        } else {
            WriteOutcome::Rejected { token, current }
        };
        self.record(idem, outcome);
        self.out.push_back(Output::Event(match outcome {
            WriteOutcome::Accepted { token } => Event::WriteAccepted {
                client,
                key,
                token,
                idem,
            },
            WriteOutcome::Rejected { token, current } => Event::WriteRejected {
                client,
                key,
                token,
                current,
                idem,
            },
        }));
        self.reply(from, key, idem, outcome);
    }

    fn persist(&mut self, op: PersistOp) {
        self.out.push_back(Output::Persist(op));
    }

    /// Records an answer, keeping at most `IDEM_RECORDS_PER_CLIENT` per client incarnation.
    fn record(&mut self, idem: IdemKey, outcome: WriteOutcome) {
        self.applied.insert(idem, outcome);
        self.persist(PersistOp::Applied { idem, outcome });
        let lo = IdemKey { seq: 0, ..idem };
        let hi = IdemKey {
            seq: u64::MAX,
            ..idem
        };
        if self.applied.range(lo..=hi).count() > IDEM_RECORDS_PER_CLIENT {
            if let Some((&oldest, _)) = self.applied.range(lo..=hi).next() {
                self.applied.remove(&oldest);
                self.persist(PersistOp::Forget { idem: oldest });
            }
        }
    }

    fn reply(&mut self, to: NodeId, key: Key, idem: IdemKey, outcome: WriteOutcome) {
        let msg = match outcome {
            WriteOutcome::Accepted { token } => Msg::WriteAck { key, token, idem },
            WriteOutcome::Rejected { token, current } => Msg::WriteRejected {
                key,
                token,
                idem,
                current,
            },
        };
        self.out.push_back(Output::Send { to, msg });
    }
}

/// The resource's counters (see [`Counters`]): `highest` (tokens), `applied` (idempotency
/// keys, in their writer's sequence domain, and the tokens of their answers), `jobs` (the
/// tokens and the last idempotency key of each record).
impl Counters for FencedResource {
    fn map_counters(&mut self, f: &mut dyn FnMut(Counter, u64) -> u64) {
        map_resource_tables(&mut self.highest, &mut self.applied, &mut self.jobs, f);
    }
}

impl RemapNodes for FencedResource {
    fn remap_nodes(&self, f: &dyn Fn(NodeId) -> NodeId) -> Self {
        assert!(self.out.is_empty(), "remap only drained states");
        let (applied, jobs) = remap_resource_tables(&self.applied, &self.jobs, f);
        FencedResource {
            cfg: self.cfg,
            highest: self.highest.clone(),
            applied,
            jobs,
            out: VecDeque::new(),
        }
    }
}
