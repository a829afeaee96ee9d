//! # leaseproof-sim: the deterministic fault simulator
//!
//! Thin node shells on madsim run the same `leaseproof-impl` state machines as the model
//! checker, under partitions, loss, latency, duplication, pauses, per-node clock offsets,
//! drift and steps, and crashes with durable or lost state. One root seed decides
//! everything; a failing seed replays bit for bit.
//!
//! Four module trees, each importing only the ones before it (`tests/layers.rs` checks):
//!
//! - [`schema`]: scenario files, their validation, discovery and content hashes, and the
//!   fault vocabulary. No madsim: a file is validated without simulating.
//! - [`engine`]: one seed on madsim: the plan, node clocks, shells, the shared world, the
//!   run's phases, the wire format, metrics, and the timeline recorded as data.
//! - [`orchestration`]: many seeds: verdicts, sweeps and `tune`, the simulator's half of the
//!   catalog, shrinking, and the traced re-runs that reports draw.
//! - [`render`]: data in, files out (SVG, HTML, Markdown, CSV); runs no simulation.
//!
//! The modules keep their short paths (`leaseproof_sim::scenario`, `::run`, ...) as
//! re-exports.

#[cfg(not(madsim))]
compile_error!(
    "leaseproof-sim needs --cfg madsim (see .cargo/config.toml; an exported RUSTFLAGS overrides it)"
);

pub mod engine;
pub mod orchestration;
pub mod render;
pub mod schema;

pub use engine::{clock, metrics, plan, run, shell, timeline, wire, world};
pub use orchestration::{corpus, search, shard, shrink, traced, tune, verdict};
pub use render::{run_report, svg, timeline_svg, tune_report};
pub use schema::{fault, grid, scenario};
