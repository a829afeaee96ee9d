//! A node's clock: the machine's monotonic clock read through the core's [`NodeClock`]
//! (the same formula the simulator and the stepper use), so an offset, a rate error and
//! steps are injected in software, without privileges.

use leaseproof_impl::clock::NodeClock;
use leaseproof_impl::Nanos;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::Notify;

/// The machine's monotonic clock in nanoseconds (`CLOCK_MONOTONIC`: one clock for every
/// process of the machine, so processes agree on true time given one origin).
#[must_use]
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC)");
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}

/// True time since a shared origin, read as one node's [`NodeClock`]. Clones share the
/// clock, so a step made through one (the supervisor's `clock-step` line) is seen by all.
#[derive(Clone, Debug)]
pub struct RealClock {
    /// The monotonic reading at true time 0 (shared by every node of one cluster).
    origin_ns: u64,
    clock: Arc<Mutex<NodeClock>>,
    /// Told of every step, so a node waiting for a deadline recomputes its wait.
    stepped: Arc<Notify>,
}

impl RealClock {
    /// A clock from `origin_ns` (a [`monotonic_ns`] reading shared by every node of one
    /// cluster: true time 0), with an offset and a rate error (|rate| < 10⁶ ppm; the
    /// caller validates it).
    #[must_use]
    pub fn new(origin_ns: u64, offset_ns: i64, rate_ppm: i32) -> RealClock {
        RealClock {
            origin_ns,
            clock: Arc::new(Mutex::new(NodeClock::new(offset_ns, rate_ppm))),
            stepped: Arc::new(Notify::new()),
        }
    }

    fn get(&self) -> NodeClock {
        *self.clock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// True time: nanoseconds since the shared origin.
    #[must_use]
    pub fn true_ns(&self) -> u64 {
        monotonic_ns().saturating_sub(self.origin_ns)
    }

    /// This node's reading at true time `t`.
    #[must_use]
    pub fn at(&self, t: u64) -> Nanos {
        self.get().local(t)
    }

    /// This node's reading now.
    #[must_use]
    pub fn now(&self) -> Nanos {
        self.at(self.true_ns())
    }

    /// The true nanoseconds from now until this clock reads `deadline` (0 if it already
    /// does), assuming no step meanwhile.
    #[must_use]
    pub fn until(&self, deadline: Nanos) -> u64 {
        self.get().true_until(self.true_ns(), deadline)
    }

    /// An NTP-style jump, forward (positive) or backward.
    pub fn step(&self, by_ns: i64) {
        self.clock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .step(by_ns);
        self.stepped.notify_waiters();
    }

    /// Completes at the next step.
    pub async fn stepped(&self) {
        self.stepped.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_rate_and_steps_shape_the_reading() {
        let origin = monotonic_ns();
        let plain = RealClock::new(origin, 0, 0);
        let ahead = RealClock::new(origin, 5_000, 0);
        let fast = RealClock::new(origin, 0, 100_000);
        assert_eq!(ahead.at(1_000).0 - plain.at(1_000).0, 5_000);
        assert_eq!(fast.at(1_000_000).0 - plain.at(1_000_000).0, 100_000);
        // Readings never fall with true time.
        assert!(fast.at(2_000_000) > fast.at(1_000_000));
        // A step made through a clone is seen by the original.
        let before = ahead.at(1_000);
        ahead.clone().step(-7_000);
        assert_eq!(before.0 - ahead.at(1_000).0, 7_000);
    }
}
