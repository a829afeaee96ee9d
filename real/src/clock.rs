//! A node's clock: the machine's monotonic clock, with an optional software offset and rate
//! (so skew and drift are injected without privileges).

use leaseproof_impl::Nanos;

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

/// `local = base + elapsed × (1 + rate_ppm / 10⁶) + offset`, never below zero.
#[derive(Clone, Copy, Debug)]
pub struct RealClock {
    /// The monotonic reading at true time 0 (shared by every node of one cluster).
    origin_ns: u64,
    /// Nanoseconds added to every reading (an initial reading far from 0, as real clocks
    /// have, plus the injected offset).
    offset_ns: i64,
    /// The rate error in parts per million (positive: runs fast).
    rate_ppm: i64,
}

/// Where every clock starts, so an offset below zero stays a valid reading.
const BASE_NS: i64 = 1_000_000_000_000;

impl RealClock {
    /// A clock from `origin_ns` (a [`monotonic_ns`] reading shared by every node of one
    /// cluster: true time 0), with an offset and a rate error.
    #[must_use]
    pub fn new(origin_ns: u64, offset_ns: i64, rate_ppm: i64) -> RealClock {
        RealClock {
            origin_ns,
            offset_ns: BASE_NS + offset_ns,
            rate_ppm,
        }
    }

    /// True time: nanoseconds since the shared origin.
    #[must_use]
    pub fn true_ns(&self) -> u64 {
        monotonic_ns().saturating_sub(self.origin_ns)
    }

    /// This node's reading at true time `t`.
    #[must_use]
    pub fn at(&self, t: u64) -> Nanos {
        let t = i128::from(t);
        let local = t + t * i128::from(self.rate_ppm) / 1_000_000 + i128::from(self.offset_ns);
        Nanos(u64::try_from(local.max(0)).unwrap_or(u64::MAX))
    }

    /// This node's reading now.
    #[must_use]
    pub fn now(&self) -> Nanos {
        self.at(self.true_ns())
    }

    /// The true nanoseconds from now until this clock reads `deadline` (0 if it already
    /// does).
    #[must_use]
    pub fn until(&self, deadline: Nanos) -> u64 {
        let now = self.now();
        if deadline <= now {
            return 0;
        }
        let local = u128::from(deadline.0 - now.0);
        let rate = u128::try_from(1_000_000 + self.rate_ppm).unwrap_or(1);
        u64::try_from(local * 1_000_000 / rate.max(1)).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_and_rate_shape_the_reading() {
        let origin = monotonic_ns();
        let plain = RealClock::new(origin, 0, 0);
        let ahead = RealClock::new(origin, 5_000, 0);
        let fast = RealClock::new(origin, 0, 100_000);
        assert_eq!(ahead.at(1_000).0 - plain.at(1_000).0, 5_000);
        assert_eq!(fast.at(1_000_000).0 - plain.at(1_000_000).0, 100_000);
        // Readings never fall with true time.
        assert!(fast.at(2_000_000) > fast.at(1_000_000));
    }
}
