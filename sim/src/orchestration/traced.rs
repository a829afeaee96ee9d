//! Traced re-runs of the seeds a report draws: the seeds behind a failure, then those that
//! found a `finds` oracle, at most a few per scenario, each run again with its trace on so
//! that `render` can draw its timeline.

use crate::run::{run_seed_isolated, RunOptions, SeedResult};
use crate::scenario::Scenario;
use crate::verdict::ScenarioReport;
use leaseproof_impl::Protocol;
use std::collections::BTreeSet;

/// At most this many timelines per scenario (each is a traced re-run).
pub const TIMELINES_PER_SCENARIO: usize = 3;

/// The seeds worth a timeline: those behind a failure, then those that found a `finds`
/// oracle, first seen first, at most `cap`.
#[must_use]
pub fn timeline_seeds(rep: &ScenarioReport, cap: usize) -> Vec<u64> {
    let mut seen = BTreeSet::new();
    rep.failures
        .iter()
        .filter_map(|f| f.seed)
        .chain(rep.finds.values().filter_map(|s| *s))
        .filter(|s| seen.insert(*s))
        .take(cap)
        .collect()
}

/// Each report's worth-seeing seeds, re-run with the trace on (per report, same order).
#[must_use]
pub fn rerun_failing<P: Protocol>(
    scenarios: &[Scenario<P>],
    reports: &[ScenarioReport],
) -> Vec<Vec<SeedResult<P>>> {
    scenarios
        .iter()
        .zip(reports)
        .map(|(sc, rep)| {
            timeline_seeds(rep, TIMELINES_PER_SCENARIO)
                .into_iter()
                .map(|seed| run_seed_isolated(sc, seed, RunOptions { trace: true }))
                .collect()
        })
        .collect()
}
