//! # leaseproof-impl: the reference lease / fencing-token protocol
//!
//! Three roles (four machines: the lock-set client wraps one lease client per key), each a
//! sans-IO state machine with one grammar (the style of quinn-proto and
//! str0m):
//!
//! ```text
//! fn restore(config, id, persisted, now) -> Self        // boot or restart
//! fn handle_message(&mut self, now, from, msg)
//! fn handle_timeout(&mut self, now)
//! fn handle_jitter(&mut self, now, jitter)              // client only: answers NeedJitter
//! fn poll_output(&mut self) -> Option<Output>           // Send / Persist / NeedJitter / Event
//! fn poll_timeout(&self) -> Option<(Nanos, &'static str)>  // next deadline and why
//! ```
//!
//! **The contract:** after every input, drain `poll_output()` until it returns `None`,
//! applying each `Persist` before any later `Send`; then re-arm one timer at
//! `poll_timeout()`. Time comes in only as `now`, a reading of the node's own clock.
//! Consecutive `Persist` outputs of one step (no `Send` between them) are one atomic batch,
//! applied whole or not at all; a crash may fall between batches and around sends
//! ([`output::crash_points`]), and the roles order their outputs so that any such crash is
//! safe (the server's counter batch precedes the grant it protects).
//!
//! The core reads no clock, draws no entropy, does no I/O, never spawns and iterates only
//! ordered collections (the root `clippy.toml` bans the escapes). Randomness enters only as
//! a [`types::Jitter`] answered by the shell. Every state type derives
//! `Clone, Debug, PartialEq, Eq, Hash` (and `Ord`), so the model checker can store, hash and
//! compare whole states: a state alone decides what happens next.
//!
//! - [`server::LockServer`]: the authority, with tokens, expiries, the fair queue and grace.
//! - [`client::LeaseClient`]: the lease holder and its workload; the safety arithmetic.
//! - [`resource::FencedResource`]: the protected storage that rejects stale tokens.
//! - [`lockset::LockSetClient`]: a critical section over several keys in one global order.
//! - [`config`]: the knobs, their validation, the bug variants and the drift arithmetic.
//! - [`types`]: node ids by role, time, tokens, request ids, the wire messages.
//! - [`clock::NodeClock`]: the one clock type every driver reads, from one origin.
//! - [`output`]: what a machine asks its shell to do, and the typed events.
//! - [`oracle`]: the observers that judge every run, in every checker.
//! - [`verdict::Verdict`]: what a check found, ordered by severity, and its exit code.
//! - [`machine`]: one trait over the four machines.
//! - [`plugin`]: the plug-in boundary: what a protocol supplies to the simulator and the model driver.
//! - [`stepper`]: an in-memory deterministic driver for tests (quinn's `Pair` idea).
//! - [`wire`]: a message's bytes on any wire (bincode with a frame limit).

pub mod client;
pub mod clock;
pub mod config;
pub mod lockset;
pub mod machine;
pub mod oracle;
pub mod output;
pub mod plugin;
pub mod protocol;
pub mod resource;
pub mod server;
pub mod stepper;
pub mod tenure;
pub mod types;
pub mod verdict;
pub mod wire;

pub use client::LeaseClient;
pub use config::{Config, ConfigError, Jobs, ProtocolConfig, Variant};
pub use lockset::LockSetClient;
pub use machine::{AnyNode, Machine, RoleKind};
pub use oracle::{
    deadlock_bound_ns, jobs_settle_bound_ns, liveness_bound_ns_for, tenure_bound_ns, ActingClients,
    BeliefOverlap, Liveness, OracleName, SafetyOracles, Violation,
};
pub use output::{
    crash_points, Disk, Event, JobRecord, LossCause, Output, PersistOp, WriteOutcome,
};
pub use plugin::{claims_liveness, crash_points_of, Belief, Effect, Protocol, Reference, Workload};
pub use protocol::{Assumptions, Breach, FaultBounds, ProtocolKind};
pub use resource::FencedResource;
pub use server::LockServer;
pub use tenure::{GhostTenures, TenureEvent};
pub use types::{xorshift64star, Fnv};
pub use types::{
    Counter, Counters, IdemKey, Identity, Instants, Jitter, Job, JobOutcome, Key, Msg, Nanos,
    NodeId, RefuseReason, RemapNodes, ReqId, Token, UNBOUNDED,
};
