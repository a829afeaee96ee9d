//! What the state machines ask their shell to do, and the typed event stream that the
//! oracles and the reports consume.

use crate::types::{
    Counter, Counters, IdemKey, Identity, Job, Key, Msg, Nanos, NodeId, RemapNodes, Token,
};

/// The sans-IO contract's own assertion: a shell asks for the next deadline only once the
/// node is drained, so a drained node has no pending output.
pub(crate) const UNDRAINED: &str =
    "poll_timeout with outputs still queued: a drained node has no pending output (drain \
     poll_output until None after every input)";
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One effect for the shell. Drain `poll_output()` after every input, in order: a `Persist`
/// must reach the disk before any `Send` that follows it.
///
/// **Persist batches.** The `Persist` outputs of one step that follow each other, with no
/// `Send` between them (events and jitter requests do not count), form one *atomic batch*:
/// a shell applies a batch whole or not at all (the real runtime in one transaction), and
/// before any later send. A `Send` ends a batch; the roles need no explicit sync marker,
/// because every batch they emit is followed by the send it protects, or ends the step.
/// Which steps hold more than one batch: a server step that hands over several keys (one
/// counter batch per grant, each followed by its grant); every other step of the reference
/// roles holds at most one (the resource's write: highest token, answer record and the
/// record it forgets, then the reply).
///
/// **Crash points.** A crash may fall inside a step, between two outputs, at any point
/// [`crash_points`] lists: sends handed over before it stay in the network, batches applied
/// before it stay on disk, events before it were seen; everything after it is lost with
/// the node's volatile state.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Output {
    Send {
        to: NodeId,
        msg: Msg,
    },
    Persist(PersistOp),
    /// The client must schedule a randomized retry: answer with `handle_jitter`.
    NeedJitter,
    Event(Event),
}

/// The points inside one step's outputs at which a crash may fall: before each effect (a
/// `Send`, or a batch's first `Persist`) that follows an earlier effect of the step. A
/// crash at point `k` keeps `outputs[..k]` and loses the rest. The point before the first
/// effect is left out (the same as a crash before the input: nothing the step did is
/// kept), and so is the point after the last (a crash after the step).
#[must_use]
pub fn crash_points(outputs: &[Output]) -> Vec<usize> {
    crate::plugin::crash_points_by(outputs.iter().map(|out| match out {
        Output::Send { .. } => Some(true),
        Output::Persist(_) => Some(false),
        Output::NeedJitter | Output::Event(_) => None,
    }))
}

/// A durable write. The shell applies it to its simulated (or real) disk with [`Disk::apply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PersistOp {
    /// The server's token counter: the highest token ever issued.
    TokenCounter(u64),
    /// The resource's highest accepted token on a key.
    Highest { key: Key, token: Token },
    /// The resource's answer to one idempotency key.
    Applied {
        idem: IdemKey,
        outcome: WriteOutcome,
    },
    /// The resource forgets the oldest records of a client (its bound was reached).
    Forget { idem: IdemKey },
    /// The resource's record of one job (exactly-once work).
    Job { job: Job, record: JobRecord },
}

/// What the resource knows of one job, under its idempotency key: applying and
/// dead-lettering exclude each other because both are this one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum JobRecord {
    /// Not done yet: `failures` definite rejections, the last of them answering `last`.
    Pending {
        failures: u32,
        last: IdemKey,
    },
    Applied {
        token: Token,
    },
    DeadLettered {
        token: Token,
    },
}

/// How the resource answered one write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WriteOutcome {
    Accepted { token: Token },
    Rejected { token: Token, current: Token },
}

/// What survives a crash: the shell keeps one per node and passes it to `restore`.
/// Roles use only their own fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Disk {
    pub token_counter: u64,
    pub highest: BTreeMap<Key, Token>,
    pub applied: BTreeMap<IdemKey, WriteOutcome>,
    pub jobs: BTreeMap<Job, JobRecord>,
}

impl Disk {
    pub fn apply(&mut self, op: PersistOp) {
        match op {
            PersistOp::TokenCounter(c) => self.token_counter = self.token_counter.max(c),
            PersistOp::Highest { key, token } => {
                self.highest.insert(key, token);
            }
            PersistOp::Applied { idem, outcome } => {
                self.applied.insert(idem, outcome);
            }
            PersistOp::Forget { idem } => {
                self.applied.remove(&idem);
            }
            PersistOp::Job { job, record } => {
                self.jobs.insert(job, record);
            }
        }
    }
}

/// Why a holder stopped believing it holds.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum LossCause {
    /// `valid_until` passed on the client's clock.
    #[default]
    Expired,
    /// The server refused a renewal.
    Refused,
    /// The resource rejected a write with a newer token.
    Fenced,
}

/// The run's events, each emitted by the role that saw it. Shells stamp them with the
/// server's clock reading (for the oracles) and true time (for metrics).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumIter,
)]
pub enum Event {
    // ---- client ----
    /// A client booted (incarnation > 0 means it restarted).
    ClientBooted {
        client: Identity,
    },
    /// A client started wanting the key (a new attempt).
    Requested {
        client: Identity,
        key: Key,
    },
    /// A client stopped wanting a key it did not hold (a lock set gave up its attempt).
    Withdrawn {
        client: Identity,
        key: Key,
    },
    /// A client adopted a grant (`first`) or a renewal; `slack_ns` is how much of its old
    /// validity was left when a renewal was confirmed (0 for a first grant).
    Adopted {
        client: Identity,
        key: Key,
        token: Token,
        first: bool,
        slack_ns: u64,
        valid_for_ns: u64,
    },
    /// A reply arrived after `t_sent + L` (or for a forgotten id) and was not adopted.
    LateReplyDeclined {
        client: Identity,
        key: Key,
        token: Token,
    },
    /// The holder stopped believing it holds, before it meant to release.
    Lost {
        client: Identity,
        key: Key,
        token: Token,
        cause: LossCause,
    },
    /// The holder decided to release (its work is done).
    ReleaseDecided {
        client: Identity,
        key: Key,
        token: Token,
    },
    /// The client sent a Release for a token (its own work done, a grant of an old attempt,
    /// or a re-send): from here the grant is no longer its to use.
    ReleaseSent {
        client: Identity,
        key: Key,
        token: Token,
    },
    /// The holder sent a renewal.
    RenewSent {
        client: Identity,
        key: Key,
        token: Token,
    },
    /// The holder's core emitted a write (the decision, not its arrival).
    WriteDecided {
        client: Identity,
        key: Key,
        token: Token,
        idem: IdemKey,
    },
    // ---- server ----
    ServerBooted {
        restart: bool,
        grace_ns: u64,
    },
    Granted {
        client: Identity,
        key: Key,
        token: Token,
        expiry: Nanos,
        queued: bool,
    },
    Renewed {
        client: Identity,
        key: Key,
        token: Token,
        expiry: Nanos,
    },
    Expired {
        client: Identity,
        key: Key,
        token: Token,
    },
    /// Progress-based extension refused a stalled holder's renewal; its grant runs out.
    RenewalWithheld {
        client: Identity,
        key: Key,
        token: Token,
    },
    ReleasedAtServer {
        client: Identity,
        key: Key,
        token: Token,
        by: Identity,
    },
    QueuedAtServer {
        client: Identity,
        key: Key,
        position: u32,
    },
    GraceEnded,
    // ---- resource ----
    ResourceBooted {
        lost_table: bool,
    },
    WriteAccepted {
        client: Identity,
        key: Key,
        token: Token,
        idem: IdemKey,
    },
    WriteRejected {
        client: Identity,
        key: Key,
        token: Token,
        current: Token,
        idem: IdemKey,
    },
    WriteRedelivered {
        client: Identity,
        key: Key,
        idem: IdemKey,
    },
    // ---- resource, exactly-once jobs ----
    /// The job's effect was applied (once, unless the resource has no idempotency keys).
    JobApplied {
        client: Identity,
        key: Key,
        token: Token,
        job: Job,
    },
    /// An attempt at a job already applied or dead-lettered: answered from its record.
    JobAlreadyDone {
        client: Identity,
        key: Key,
        job: Job,
    },
    /// A definite rejection of the job (counted against its retry budget).
    JobFailed {
        client: Identity,
        key: Key,
        job: Job,
        failures: u32,
    },
    /// The job's retry budget ran out: it is in the dead-letter list.
    JobDeadLettered {
        client: Identity,
        key: Key,
        token: Token,
        job: Job,
    },
}

impl Event {
    /// Every name [`Event::kind`] can return, for validating coverage expectations.
    /// Every kind [`Event::kind`] can report (a test derives them from every variant, so
    /// none can be missing).
    pub const KINDS: [&'static str; 28] = [
        "client-booted",
        "requested",
        "withdrawn",
        "granted-adopted",
        "renewal-confirmed",
        "late-reply-declined",
        "lost",
        "release-decided",
        "release-sent",
        "renew-sent",
        "write-decided",
        "server-booted",
        "queued-waiter-granted",
        "granted",
        "renewed",
        "expired",
        "renewal-withheld",
        "released",
        "queued",
        "grace-ended",
        "resource-booted",
        "write-accepted",
        "stale-write-rejected",
        "write-redelivered",
        "job-applied",
        "job-already-done",
        "job-failed",
        "job-dead-lettered",
    ];

    /// The event as a reader would write it, with instants shown relative to `now` (the
    /// reading of the clock they are on: the server's for a grant's expiry), for example
    /// `granted token 1 on key k0 to client-2, server expiry +5.000 s`.
    #[must_use]
    pub fn describe(&self, now: Nanos) -> String {
        self.describe_client()
            .or_else(|| self.describe_server(now))
            .or_else(|| self.describe_resource())
            .unwrap_or_else(|| self.kind().to_string())
    }

    /// A client by name, with its incarnation after a restart.
    fn who(c: &Identity) -> String {
        if c.incarnation == 0 {
            c.node.name()
        } else {
            format!("{} (incarnation {})", c.node.name(), c.incarnation)
        }
    }

    fn describe_client(&self) -> Option<String> {
        let secs = |ns: u64| format!("{:.3} s", ns as f64 / 1e9);
        Some(match self {
            Event::ClientBooted { client } => format!("{} booted", Self::who(client)),
            Event::Requested { client, key } => format!("{} wants key {key}", Self::who(client)),
            Event::Withdrawn { client, key } => {
                format!("{} no longer wants key {key}", Self::who(client))
            }
            Event::Adopted {
                client,
                key,
                token,
                first,
                slack_ns,
                valid_for_ns,
            } => {
                if *first {
                    format!(
                        "{} holds token {token} on key {key}, valid for {}",
                        Self::who(client),
                        secs(*valid_for_ns)
                    )
                } else {
                    format!(
                        "{} renewed token {token} on key {key} with {} left, now valid for {}",
                        Self::who(client),
                        secs(*slack_ns),
                        secs(*valid_for_ns)
                    )
                }
            }
            Event::LateReplyDeclined { client, key, token } => format!(
                "{} declined a late reply for token {token} on key {key}",
                Self::who(client)
            ),
            Event::Lost {
                client,
                key,
                token,
                cause,
            } => format!(
                "{} lost token {token} on key {key} ({cause:?})",
                Self::who(client)
            ),
            Event::ReleaseDecided { client, key, token } => format!(
                "{} is done with token {token} on key {key}",
                Self::who(client)
            ),
            Event::ReleaseSent { client, key, token } => format!(
                "{} sent a release of token {token} on key {key}",
                Self::who(client)
            ),
            Event::RenewSent { client, key, token } => format!(
                "{} sent a renewal of token {token} on key {key}",
                Self::who(client)
            ),
            Event::WriteDecided {
                client,
                key,
                token,
                idem,
            } => format!(
                "{} decided to write key {key} under token {token} ({idem})",
                Self::who(client)
            ),
            _ => return None,
        })
    }

    fn describe_server(&self, now: Nanos) -> Option<String> {
        let secs = |ns: u64| format!("{:.3} s", ns as f64 / 1e9);
        let rel = |t: Nanos| {
            if t >= now {
                format!("+{}", secs(t.since(now)))
            } else {
                format!("-{}", secs(now.since(t)))
            }
        };
        Some(match self {
            Event::ServerBooted { restart, grace_ns } => {
                if *restart {
                    format!("server restarted: grace for {}", secs(*grace_ns))
                } else {
                    "server booted".into()
                }
            }
            Event::Granted {
                client,
                key,
                token,
                expiry,
                queued,
            } => format!(
                "granted token {token} on key {key} to {}{}, server expiry {}",
                Self::who(client),
                if *queued { " (queued waiter)" } else { "" },
                rel(*expiry)
            ),
            Event::Renewed {
                client,
                key,
                token,
                expiry,
            } => format!(
                "renewed token {token} on key {key} for {}, server expiry {}",
                Self::who(client),
                rel(*expiry)
            ),
            Event::Expired { client, key, token } => format!(
                "token {token} on key {key} of {} expired",
                Self::who(client)
            ),
            Event::RenewalWithheld { client, key, token } => format!(
                "withheld the renewal of token {token} on key {key} from {} (no progress)",
                Self::who(client)
            ),
            Event::ReleasedAtServer {
                client,
                key,
                token,
                by,
            } => {
                if by == client {
                    format!("{} released token {token} on key {key}", Self::who(client))
                } else {
                    format!(
                        "{} released token {token} on key {key} of {}",
                        Self::who(by),
                        Self::who(client)
                    )
                }
            }
            Event::QueuedAtServer {
                client,
                key,
                position,
            } => format!(
                "{} queued for key {key} at position {position}",
                Self::who(client)
            ),
            Event::GraceEnded => "grace ended".into(),
            _ => return None,
        })
    }

    fn describe_resource(&self) -> Option<String> {
        Some(match self {
            Event::ResourceBooted { lost_table } => {
                if *lost_table {
                    "resource booted with its table lost".into()
                } else {
                    "resource booted".into()
                }
            }
            Event::WriteAccepted {
                client,
                key,
                token,
                idem,
            } => format!(
                "accepted {}'s write to key {key} under token {token} ({idem})",
                Self::who(client)
            ),
            Event::WriteRejected {
                client,
                key,
                token,
                current,
                idem,
            } => format!(
                "rejected {}'s write to key {key} under stale token {token}: current {current} ({idem})",
                Self::who(client)
            ),
            Event::WriteRedelivered { client, key, idem } => format!(
                "answered {}'s repeated write to key {key} from its record ({idem})",
                Self::who(client)
            ),
            Event::JobApplied {
                client,
                key,
                token,
                job,
            } => format!(
                "applied {job} on key {key} for {} under token {token}",
                Self::who(client)
            ),
            Event::JobAlreadyDone { client, key, job } => format!(
                "answered {}'s attempt at {job} on key {key} from its record",
                Self::who(client)
            ),
            Event::JobFailed {
                client,
                key,
                job,
                failures,
            } => format!(
                "rejected {}'s attempt at {job} on key {key} ({failures} definite rejections)",
                Self::who(client)
            ),
            Event::JobDeadLettered {
                client,
                key,
                token,
                job,
            } => format!(
                "dead-lettered {job} on key {key} ({}'s attempt under token {token})",
                Self::who(client)
            ),
            _ => return None,
        })
    }

    /// A short name for traces, coverage and reports.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Event::ClientBooted { .. } => "client-booted",
            Event::Requested { .. } => "requested",
            Event::Withdrawn { .. } => "withdrawn",
            Event::Adopted { first: true, .. } => "granted-adopted",
            Event::Adopted { first: false, .. } => "renewal-confirmed",
            Event::LateReplyDeclined { .. } => "late-reply-declined",
            Event::Lost { .. } => "lost",
            Event::ReleaseDecided { .. } => "release-decided",
            Event::ReleaseSent { .. } => "release-sent",
            Event::RenewSent { .. } => "renew-sent",
            Event::WriteDecided { .. } => "write-decided",
            Event::ServerBooted { .. } => "server-booted",
            Event::Granted { queued: true, .. } => "queued-waiter-granted",
            Event::Granted { queued: false, .. } => "granted",
            Event::Renewed { .. } => "renewed",
            Event::Expired { .. } => "expired",
            Event::RenewalWithheld { .. } => "renewal-withheld",
            Event::ReleasedAtServer { .. } => "released",
            Event::QueuedAtServer { .. } => "queued",
            Event::GraceEnded => "grace-ended",
            Event::ResourceBooted { .. } => "resource-booted",
            Event::WriteAccepted { .. } => "write-accepted",
            Event::WriteRejected { .. } => "stale-write-rejected",
            Event::WriteRedelivered { .. } => "write-redelivered",
            Event::JobApplied { .. } => "job-applied",
            Event::JobAlreadyDone { .. } => "job-already-done",
            Event::JobFailed { .. } => "job-failed",
            Event::JobDeadLettered { .. } => "job-dead-lettered",
        }
    }
}

impl WriteOutcome {
    /// The outcome with its tokens rewritten by a [`Counters`] map.
    #[must_use]
    pub fn mapped(self, f: &mut dyn FnMut(Counter, u64) -> u64) -> WriteOutcome {
        match self {
            WriteOutcome::Accepted { token } => WriteOutcome::Accepted {
                token: token.mapped(f),
            },
            WriteOutcome::Rejected { token, current } => WriteOutcome::Rejected {
                token: token.mapped(f),
                current: current.mapped(f),
            },
        }
    }
}

impl JobRecord {
    /// The record with its counters rewritten by a [`Counters`] map.
    #[must_use]
    pub fn mapped(self, f: &mut dyn FnMut(Counter, u64) -> u64) -> JobRecord {
        match self {
            JobRecord::Pending { failures, last } => JobRecord::Pending {
                failures,
                last: last.mapped(f),
            },
            JobRecord::Applied { token } => JobRecord::Applied {
                token: token.mapped(f),
            },
            JobRecord::DeadLettered { token } => JobRecord::DeadLettered {
                token: token.mapped(f),
            },
        }
    }
}

/// The resource's tables, shared by its state and its disk: the highest token per key,
/// the answered writes (keys and answers), the jobs' records.
pub(crate) fn map_resource_tables(
    highest: &mut BTreeMap<Key, Token>,
    applied: &mut BTreeMap<IdemKey, WriteOutcome>,
    jobs: &mut BTreeMap<Job, JobRecord>,
    f: &mut dyn FnMut(Counter, u64) -> u64,
) {
    for t in highest.values_mut() {
        *t = t.mapped(f);
    }
    // Ranks keep each domain's order, so the rebuilt table keeps its order too.
    *applied = std::mem::take(applied)
        .into_iter()
        .map(|(k, o)| (k.mapped(f), o.mapped(f)))
        .collect();
    for r in jobs.values_mut() {
        *r = r.mapped(f);
    }
}

/// The resource's tables with every node id renamed by `f` (its answered writes' keys,
/// the last key of each pending job), shared by its state and its disk.
pub(crate) fn remap_resource_tables(
    applied: &BTreeMap<IdemKey, WriteOutcome>,
    jobs: &BTreeMap<Job, JobRecord>,
    f: &dyn Fn(NodeId) -> NodeId,
) -> (BTreeMap<IdemKey, WriteOutcome>, BTreeMap<Job, JobRecord>) {
    let applied = applied
        .iter()
        .map(|(k, v)| (k.remap_nodes(f), *v))
        .collect();
    let jobs = jobs
        .iter()
        .map(|(j, r)| {
            let r = match *r {
                JobRecord::Pending { failures, last } => JobRecord::Pending {
                    failures,
                    last: last.remap_nodes(f),
                },
                other => other,
            };
            (*j, r)
        })
        .collect();
    (applied, jobs)
}

/// The disk with every node id renamed (only the resource's tables name one).
impl RemapNodes for Disk {
    fn remap_nodes(&self, f: &dyn Fn(NodeId) -> NodeId) -> Self {
        let (applied, jobs) = remap_resource_tables(&self.applied, &self.jobs, f);
        Disk {
            token_counter: self.token_counter,
            highest: self.highest.clone(),
            applied,
            jobs,
        }
    }
}

/// The disk's counters: the server's token counter and the resource's tables.
impl Counters for Disk {
    fn map_counters(&mut self, f: &mut dyn FnMut(Counter, u64) -> u64) {
        self.token_counter = f(Counter::Token, self.token_counter);
        map_resource_tables(&mut self.highest, &mut self.applied, &mut self.jobs, f);
    }
}

#[cfg(test)]
mod crash_point_tests {
    use super::*;
    use crate::types::{Key, Msg, NodeId, ReqId, Token};

    fn send() -> Output {
        Output::Send {
            to: NodeId::client(0),
            msg: Msg::Granted {
                key: Key(0),
                id: ReqId {
                    incarnation: 0,
                    seq: 1,
                },
                token: Token(1),
            },
        }
    }
    fn persist(c: u64) -> Output {
        Output::Persist(PersistOp::TokenCounter(c))
    }
    fn event() -> Output {
        Output::Event(Event::GraceEnded)
    }

    #[test]
    fn crash_points_fall_between_batches_and_around_sends() {
        // The correct grant: the counter's batch, then the send: one point, before the send.
        assert_eq!(crash_points(&[persist(1), event(), send()]), vec![2]);
        // The buggy order: after the send, before the counter.
        assert_eq!(crash_points(&[event(), send(), persist(1)]), vec![2]);
        // Consecutive persists are one batch, even with an event between them.
        assert_eq!(
            crash_points(&[persist(1), event(), persist(2)]),
            Vec::<usize>::new()
        );
        // Two grants in one step: two batches, each before its send.
        assert_eq!(
            crash_points(&[persist(1), send(), persist(2), send()]),
            vec![1, 2, 3]
        );
        // Nothing before the first effect, nothing after the last.
        assert_eq!(crash_points(&[send()]), Vec::<usize>::new());
        assert_eq!(crash_points(&[event(), event()]), Vec::<usize>::new());
    }
}
