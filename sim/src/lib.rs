//! # leaseproof-sim: the deterministic fault simulator
//!
//! Thin node shells on madsim run the same `leaseproof-impl` state machines as the model
//! checker, under partitions, loss, latency, duplication, pauses, per-node clock offsets,
//! drift and steps, and crashes with durable or lost state. One root seed decides
//! everything; a failing seed replays bit for bit.
//!
//! - [`scenario`]: the TOML schema, validation, discovery and content hashes.
//! - [`plan`]: fault plans derived from the seed (scripted + random, swarm-style, aimed).
//! - [`clock`]: per-node clocks over madsim's single global clock.
//! - [`shell`]: one loop per node: feed inputs, drain outputs, re-arm one timer.
//! - [`world`]: what the shells share: clocks, disks, oracles, metrics, the trace hash.
//! - [`run`]: one seed: safety phase, heal, bounded liveness phase.
//! - [`verdict`]: many seeds, judged against a scenario's expectations.
//! - [`shrink`]: a failing seed's fault plan cut down to a minimal scripted scenario.
//! - [`timeline`], [`run_report`]: a seed's timeline SVG and the run's `index.html`.
//! - [`tune`], [`tune_report`], [`svg`]: lease-timeout sweeps and their plots.

#[cfg(not(madsim))]
compile_error!(
    "leaseproof-sim needs --cfg madsim (see .cargo/config.toml; an exported RUSTFLAGS overrides it)"
);

pub mod catalog;
pub mod clock;
pub mod fault;
pub mod metrics;
pub mod plan;
pub mod run;
pub mod run_report;
pub mod scenario;
pub mod shell;
pub mod shrink;
pub mod svg;
pub mod timeline;
pub mod tune;
pub mod tune_report;
pub mod verdict;
pub mod wire;
pub mod world;
