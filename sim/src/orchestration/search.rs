//! Searches for a failing seed: for a scenario that `finds` something, how many seeds it
//! takes to trip it, counted from many different start seeds. The bug catalog
//! (`leaseproof::catalog`) reports these numbers per variant.

use crate::run::{run_seed_isolated, RunOptions};
use crate::scenario::Scenario;
use leaseproof_impl::oracle::OracleName;
use leaseproof_impl::Protocol;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// Start seeds are this far apart, so the 20 searches share no seed.
pub const START_STRIDE: u64 = 1_000_003;

/// How one search went: seeds run until the first that trips one of the oracles.
#[derive(Clone, Debug, Serialize)]
pub struct Search {
    pub start: u64,
    /// 1-based count of seeds run when the first failure came; `None` if none in `max`.
    pub seeds_to_find: Option<u64>,
    pub first_failing_seed: Option<u64>,
}

/// Runs `start, start+1, ...` on `jobs` threads until a seed trips any of `oracles` (the
/// lowest such seed counts, so the answer does not depend on thread timing), at most `max`.
#[must_use]
pub fn search<P: Protocol>(
    sc: &Scenario<P>,
    oracles: &[OracleName],
    start: u64,
    max: u64,
    jobs: usize,
) -> Search {
    let next = AtomicU64::new(0);
    // The lowest failing offset found so far; workers stop taking offsets beyond it.
    let best = AtomicU64::new(u64::MAX);
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= max || i > best.load(Ordering::Relaxed) {
                    break;
                }
                let r = run_seed_isolated(sc, start + i, RunOptions::default());
                if oracles.iter().any(|&o| r.tripped(o)) {
                    best.fetch_min(i, Ordering::Relaxed);
                }
            });
        }
    });
    let b = best.load(Ordering::Relaxed);
    let found = (b != u64::MAX).then_some(b);
    Search {
        start,
        seeds_to_find: found.map(|i| i + 1),
        first_failing_seed: found.map(|i| start + i),
    }
}

/// `searches` searches from start seeds `k * START_STRIDE`.
#[must_use]
pub fn searches<P: Protocol>(
    sc: &Scenario<P>,
    oracles: &[OracleName],
    searches: u64,
    max: u64,
    jobs: usize,
) -> Vec<Search> {
    (0..searches)
        .map(|k| search(sc, oracles, k * START_STRIDE, max, jobs))
        .collect()
}

/// The median and the maximum of the seeds-to-find counts (a search that found nothing
/// counts as `max + 1`, so a miss is never hidden in a median).
#[must_use]
pub fn median_max(s: &[Search], max: u64) -> (u64, u64) {
    let mut v: Vec<u64> = s
        .iter()
        .map(|x| x.seeds_to_find.unwrap_or(max + 1))
        .collect();
    v.sort_unstable();
    if v.is_empty() {
        return (0, 0);
    }
    (v[(v.len() - 1) / 2], v[v.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_miss_counts_above_the_bound() {
        let s = |n: Option<u64>| Search {
            start: 0,
            seeds_to_find: n,
            first_failing_seed: n,
        };
        assert_eq!(
            median_max(&[s(Some(3)), s(None), s(Some(1))], 200),
            (3, 201)
        );
        assert_eq!(median_max(&[], 200), (0, 0));
    }
}
