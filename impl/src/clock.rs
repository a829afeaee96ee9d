//! A node's clock as a function of true time: `local = origin + offset + t + t·drift +
//! steps`. One type for every driver: the simulator reads it at madsim's virtual time, the
//! stepper at its own counter. Clocks start at [`CLOCK_ORIGIN_NS`] (hours), so offsets and
//! backward steps never underflow. A node's clock runs on through its pauses and crashes: a
//! restarted process reads the same clock. Nothing here reads a real clock.

use crate::types::Nanos;
use serde::Serialize;

/// Every clock starts this far from zero (hours), so offsets and backward steps never
/// underflow.
pub const CLOCK_ORIGIN_NS: u64 = 4 * 3_600_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct NodeClock {
    /// The reading at true time 0 (origin plus the node's offset).
    pub base_ns: u64,
    /// Rate error: the clock advances `1 + drift_ppm/1e6` per true nanosecond.
    pub drift_ppm: i32,
    /// Sum of all steps so far (NTP jumps), positive forward.
    pub step_ns: i64,
}

impl NodeClock {
    #[must_use]
    pub fn new(offset_ns: i64, drift_ppm: i32) -> NodeClock {
        assert!(
            drift_ppm.unsigned_abs() < 1_000_000,
            "a clock must move forward"
        );
        NodeClock {
            base_ns: CLOCK_ORIGIN_NS.saturating_add_signed(offset_ns),
            drift_ppm,
            step_ns: 0,
        }
    }

    /// The node's reading at true time `t_ns`.
    #[must_use]
    pub fn local(&self, t_ns: u64) -> Nanos {
        let t = i128::from(t_ns);
        let v = i128::from(self.base_ns)
            + t
            + t * i128::from(self.drift_ppm) / 1_000_000
            + i128::from(self.step_ns);
        Nanos(v.clamp(0, i128::from(u64::MAX)) as u64)
    }

    /// True nanoseconds from `t_ns` until the clock reads `deadline` (0 if it already does),
    /// assuming no step happens meanwhile.
    #[must_use]
    pub fn true_until(&self, t_ns: u64, deadline: Nanos) -> u64 {
        let now = self.local(t_ns);
        if deadline <= now {
            return 0;
        }
        let d = u128::from(deadline.0 - now.0);
        let rate = (1_000_000 + i64::from(self.drift_ppm)) as u128;
        // Round up, so the node never wakes before its deadline.
        d.saturating_mul(1_000_000)
            .div_ceil(rate)
            .min(u128::from(u64::MAX)) as u64
    }

    /// The true instant at which the clock reads `local` (for metrics; no future steps).
    #[must_use]
    pub fn true_at(&self, t_now: u64, local: Nanos) -> u64 {
        t_now.saturating_add(self.true_until(t_now, local))
    }

    /// The first true instant at which the clock reads at least `local` (0 if it did from
    /// the start), assuming no step happens meanwhile: unlike [`NodeClock::true_at`], an
    /// instant in the past maps to the past.
    #[must_use]
    pub fn first_true_at(&self, local: Nanos) -> u64 {
        let origin = i128::from(self.base_ns) + i128::from(self.step_ns);
        let d = i128::from(local.0) - origin;
        if d <= 0 {
            return 0;
        }
        let rate = 1_000_000 + i128::from(self.drift_ppm);
        let mut t = (d * 1_000_000 + rate - 1) / rate;
        // `local` truncates its drift term toward zero, so the exact inverse can land a
        // nanosecond either side of the first instant: walk to it.
        while self.local(t as u64) < local {
            t += 1;
        }
        while t > 0 && self.local(t as u64 - 1) >= local {
            t -= 1;
        }
        t as u64
    }

    /// An NTP-style jump, forward (positive) or backward.
    pub fn step(&mut self, by_ns: i64) {
        self.step_ns = self.step_ns.saturating_add(by_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_and_steps_follow_the_formula() {
        // +5 % for 10 s reads 10.5 s later; a step moves it at once.
        let mut c = NodeClock::new(250_000_000, 50_000);
        let t = 10_000_000_000;
        assert_eq!(c.local(t).0, CLOCK_ORIGIN_NS + 250_000_000 + 10_500_000_000);
        c.step(-1_000_000_000);
        assert_eq!(c.local(t).0, CLOCK_ORIGIN_NS + 250_000_000 + 9_500_000_000);
    }

    #[test]
    fn clocks_start_hours_from_zero_so_backward_moves_never_underflow() {
        // An hour behind, then stepped two hours back: still an hour past zero.
        let mut c = NodeClock::new(-3_600_000_000_000, 0);
        c.step(-7_200_000_000_000);
        assert_eq!(c.local(0).0, 3_600_000_000_000);
    }

    #[test]
    fn true_at_is_now_plus_the_wait_and_now_for_the_past() {
        let c = NodeClock::new(0, 0);
        let now = 5_000_000_000;
        assert_eq!(
            c.true_at(now, c.local(now).plus(2_000_000_000)),
            7_000_000_000
        );
        assert_eq!(c.true_at(now, c.local(now).minus(1)), now);
    }

    #[test]
    fn first_true_at_is_the_first_instant_the_clock_reads_it() {
        // Exactly the first: the instant reads at least `local`, the one before does not,
        // with a step, with a fast and a slow rate, and 0 for a reading before the start.
        let mut stepped = NodeClock::new(250, 0);
        stepped.step(1_000_000_000);
        for c in [
            stepped,
            NodeClock::new(0, 50_000),
            NodeClock::new(-7, -30_000),
        ] {
            for t in [1, 999, 3_000_000_000, 10_000_000_007] {
                let local = c.local(t);
                let first = c.first_true_at(local);
                assert!(first <= t, "{c:?} at {t}: {first}");
                assert!(c.local(first) >= local, "{c:?} at {t}: {first}");
                assert!(c.local(first - 1) < local, "{c:?} at {t}: {first}");
            }
            assert_eq!(c.first_true_at(c.local(0).minus(5)), 0);
        }
    }

    #[test]
    fn a_local_sleep_on_a_fast_clock_is_shorter_in_true_time() {
        let c = NodeClock::new(0, 50_000);
        let now = c.local(0);
        let wait = c.true_until(0, now.plus(1_000_000_000));
        assert!(wait < 960_000_000 && wait > 950_000_000, "{wait}");
        assert!(
            c.local(wait) >= now.plus(1_000_000_000),
            "never wakes early"
        );
        let slow = NodeClock::new(0, -50_000);
        assert!(slow.true_until(0, slow.local(0).plus(1_000_000_000)) > 1_050_000_000);
    }
}
