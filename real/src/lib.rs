//! # leaseproof-real: the same state machines, run for real
//!
//! One tokio shell per role drives the `impl/` state machines through the sans-IO grammar
//! (feed an input, drain every output, re-arm one timer), over TCP on loopback, with a
//! clock read from the machine's monotonic clock. No protocol decision is made here.
//!
//! What it holds: the framing, the clock (the core's `NodeClock` read at the
//! machine's monotonic time, with offset, rate and steps), the stores (a durable one on redb,
//! and test layers), the shell, and the fault proxy that plays the simulator's network
//! faults between nodes ([`proxy`]). The CLI's `serve` runs one node as a process, `real`
//! a cluster of them playing a scenario's fault plan (judged, measured and reported as the
//! simulator's runs are), `agree` the comparison with the simulator's predictions.
//!
//! **Why not under `impl/`.** The core reads no clock, draws no entropy and does no I/O;
//! this crate does all three, so it is its own crate, and the core stays checkable.
//!
//! **Why the workspace's `--cfg madsim` does not stand in the way.** madsim in simulation
//! mode interposes a few libc functions (`clock_gettime`, `getrandom`, `sysconf`,
//! `sched_getaffinity`, `pthread_attr_init`, ...: `madsim-0.2.34/src/sim/time/system_time.rs`,
//! `sim/rand.rs`, `sim/task/mod.rs`), and each one answers from the simulation only inside
//! a madsim runtime context; outside one it calls the real function (`dlsym(RTLD_NEXT,
//! ...)`). This crate depends on the real `tokio`, never on madsim, and its threads never
//! enter a madsim context, so its clock, sockets and threads are the machine's, in the
//! same build. The tests prove it: they would hang or read simulated time otherwise.

// The clock and the tokio APIs the core bans (clippy.toml) are this crate's job: it is the
// shell that reads the machine's clock and spawns the node's tasks.
#![allow(clippy::disallowed_methods)]

pub mod clock;
pub mod frame;
pub mod proxy;
pub mod shell;
pub mod store;

pub use clock::RealClock;
pub use frame::{Frame, FrameCodec, FrameError, VERSION};
pub use proxy::{one_way_latencies, run_proxy, Counts, Knobs, Net};
pub use shell::{run_node, NodeSpec, Stamped};
pub use store::{MemStore, RedbStore, SkippingSync, Store, StoreError, UnsyncedStore};
