//! Per-node clocks on madsim: madsim has one global clock, so every local reading and every
//! local sleep of a node goes through its [`NodeClock`] (the core's one clock type, read
//! here at madsim's virtual time since the run began: true time).

pub use leaseproof_impl::clock::{NodeClock, CLOCK_ORIGIN_NS};

/// madsim's virtual time since the run began: the simulation's true time.
#[must_use]
pub fn true_now_ns() -> u64 {
    madsim::time::TimeHandle::current().elapsed().as_nanos() as u64
}
