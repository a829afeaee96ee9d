//! Tenures: the protocol-neutral view of a run that the metrics read (docs/protocols.md,
//! "Tenures"). A tenure is one client incarnation's turn as the holder of a key, begun
//! and ended by the protocol's authority; the clients start and stop acting under it,
//! and the resource accepts or refuses writes by it. Each protocol maps its own events
//! onto [`TenureEvent`]; failover time, false preemption, availability, acquisition,
//! hold time and renewal slack are defined on these alone, so every plug-in gets them.
//!
//! The reference protocol's tenure is its fencing token: the grant with a token begins
//! the tenure numbered by it ([`Event::tenure`]).

use crate::output::{Event, LossCause};
use crate::types::{Identity, Key};

/// One step of a tenure's life, in protocol-neutral terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenureEvent {
    /// A client started wanting the key.
    Wanted { client: Identity },
    /// The authority began a tenure of `client` on `key`.
    Began {
        client: Identity,
        key: Key,
        tenure: u64,
    },
    /// The authority ended a tenure: it ran out (`ran_out`) or was given back.
    Ended {
        key: Key,
        tenure: u64,
        ran_out: bool,
    },
    /// The authority restarted: no tenure it began is live any more.
    AllEnded,
    /// A client started acting under a tenure (its first grant adopted).
    Acting { client: Identity },
    /// A client asked to extend its tenure.
    ExtendAsked,
    /// A client's tenure was extended with `slack_ns` of its old validity left.
    Extended { slack_ns: u64 },
    /// A client stopped acting: `preempted` before it meant to (why), or its work done.
    Stopped {
        client: Identity,
        preempted: Option<LossCause>,
    },
    /// The resource accepted a write under `tenure`.
    WriteAccepted { key: Key, tenure: u64 },
    /// The resource refused a write for a stale tenure.
    WriteRefused,
}

impl Event {
    /// The reference protocol's events as tenure events (tenure = fencing token); `None`
    /// for events the metrics on tenures do not read.
    #[must_use]
    pub fn tenure(&self) -> Option<TenureEvent> {
        Some(match *self {
            Event::Requested { client, .. } => TenureEvent::Wanted { client },
            Event::Granted {
                client, key, token, ..
            } => TenureEvent::Began {
                client,
                key,
                tenure: token.0,
            },
            Event::Expired { key, token, .. } => TenureEvent::Ended {
                key,
                tenure: token.0,
                ran_out: true,
            },
            Event::ReleasedAtServer { key, token, .. } => TenureEvent::Ended {
                key,
                tenure: token.0,
                ran_out: false,
            },
            Event::ServerBooted { restart: true, .. } => TenureEvent::AllEnded,
            Event::Adopted {
                first: true,
                client,
                ..
            } => TenureEvent::Acting { client },
            Event::Adopted { slack_ns, .. } => TenureEvent::Extended { slack_ns },
            Event::RenewSent { .. } => TenureEvent::ExtendAsked,
            Event::Lost { client, cause, .. } => TenureEvent::Stopped {
                client,
                preempted: Some(cause),
            },
            Event::ReleaseDecided { client, .. } => TenureEvent::Stopped {
                client,
                preempted: None,
            },
            Event::WriteAccepted { key, token, .. } => TenureEvent::WriteAccepted {
                key,
                tenure: token.0,
            },
            Event::WriteRejected { .. } => TenureEvent::WriteRefused,
            _ => return None,
        })
    }
}
