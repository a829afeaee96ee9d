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
