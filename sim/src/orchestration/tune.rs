//! Lease-timeout sweeps: a grid file ([`crate::grid`]: a scenario plus `[grid]` axes and
//! `[target]`s) expands into cells, each cell runs N seeds, and every cell is measured with the ground-truth
//! metrics of docs/design.md ("Metrics"). The recommendation is the smallest TTL (and its renew interval)
//! that meets the targets in every cell of that TTL and pause level.
//!
//! All cells run the same seeds (common random numbers), so two cells differ by their
//! settings, not by luck of the draw.

pub use crate::grid::{
    CellRun, CellSpec, Fields, Grid, GridFile, PluginCell, Target, MAX_CELLS, PRESETS,
};
use crate::metrics::{Rate, RunMetrics, Summary};
use crate::run::{RunOptions, SeedResult};
use crate::verdict::run_many;
use leaseproof_impl::{OracleName, Protocol};
use serde::Serialize;
use std::collections::BTreeMap;

/// What one cell measured over its seeds (rates are per run: the fraction of seeds).
#[derive(Clone, Debug, Default, Serialize)]
pub struct CellResult {
    pub cell: CellSpec,
    /// Why the cell did not run (its config is impossible), if it did not.
    pub skipped: Option<String>,
    pub seeds: u64,
    /// Runs where any safety oracle tripped.
    pub unsafe_runs: Rate,
    /// Runs where the resource accepted a stale write (fenced-writes; and, where the grid
    /// sweeps a plug-in, stale-write-accepted by tenure).
    pub stale_write_accepted_runs: Rate,
    /// Runs where two clients believed they held the lease at once.
    pub belief_overlap_runs: Rate,
    /// Runs with at least one false preemption, in all and by cause.
    pub false_preemption_runs: Rate,
    pub false_preemption_by_cause: BTreeMap<String, Rate>,
    /// False preemptions per grant.
    pub false_preemptions_per_grant: f64,
    pub crashed_runs: u64,
    /// The pooled metrics of every seed, as `run --json` reports them per scenario.
    pub metrics: Summary,
}

/// The recommendation for one pause level (and, in a plug-in's grid, one protocol).
#[derive(Clone, Debug, Serialize)]
pub struct Recommendation {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    pub pause_p99_ms: u64,
    /// The smallest TTL meeting every target, with its renew interval; `None` if none does.
    pub ttl_ms: Option<u64>,
    pub renew_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    /// The worst false-preemption rate and failover p99 over the cells behind the choice
    /// (or the best candidate's, when nothing meets the targets).
    pub false_preemption: Rate,
    pub failover_p99_ms: f64,
    pub cells: usize,
    pub explanation: String,
}

/// The whole sweep.
#[derive(Clone, Debug, Serialize)]
pub struct TuneReport {
    pub name: String,
    pub description: String,
    pub grid_file: String,
    pub seeds_per_cell: u64,
    pub duration_ms: u64,
    pub target_false_preemption: f64,
    pub target_failover_ms: Option<u64>,
    pub cells: Vec<CellResult>,
    pub recommendations: Vec<Recommendation>,
    pub seconds: f64,
}

/// A grid-file problem: the file, the field and the reason.
impl TuneReport {
    /// A run crashed in some cell, else some pause level has no safe TTL meeting the targets
    /// (a failed expectation, exit 1), else a pass.
    #[must_use]
    pub fn verdict(&self) -> crate::verdict::Verdict {
        use crate::verdict::Verdict;
        if self.cells.iter().any(|c| c.crashed_runs > 0) {
            Verdict::Crash
        } else if self.recommendations.iter().any(|r| r.ttl_ms.is_none()) {
            Verdict::Safety
        } else {
            Verdict::Pass
        }
    }
}

/// Summarises one cell's seeds (any protocol's).
#[must_use]
pub fn measure<P: Protocol>(cell: CellSpec, results: &[SeedResult<P>]) -> CellResult {
    let n = results.len() as u64;
    let mut m = RunMetrics::default();
    let mut by_cause: BTreeMap<String, u64> = BTreeMap::new();
    let count = |f: &dyn Fn(&SeedResult<P>) -> bool| results.iter().filter(|r| f(r)).count() as u64;
    for r in results {
        m.merge(&r.metrics);
        for (cause, k) in &r.metrics.false_preemptions {
            if *k > 0 {
                *by_cause.entry(cause.clone()).or_default() += 1;
            }
        }
    }
    let fp: u64 = m.false_preemptions.values().map(|v| u64::from(*v)).sum();
    CellResult {
        cell,
        skipped: None,
        seeds: n,
        // The named-only oracles trip only where a cell names them (a plug-in's grid).
        unsafe_runs: Rate::wilson(
            count(&|r| {
                OracleName::SAFETY
                    .iter()
                    .chain(&OracleName::NAMED_ONLY)
                    .any(|o| r.tripped(*o))
            }),
            n,
        ),
        stale_write_accepted_runs: Rate::wilson(
            count(&|r| {
                r.tripped(OracleName::FencedWrites) || r.tripped(OracleName::StaleWriteAccepted)
            }),
            n,
        ),
        belief_overlap_runs: Rate::wilson(count(&|r| r.metrics.belief_overlap_episodes > 0), n),
        false_preemption_runs: Rate::wilson(
            count(&|r| r.metrics.false_preemptions.values().any(|v| *v > 0)),
            n,
        ),
        false_preemption_by_cause: by_cause
            .into_iter()
            .map(|(c, k)| (c, Rate::wilson(k, n)))
            .collect(),
        false_preemptions_per_grant: if m.grants == 0 {
            0.0
        } else {
            fp as f64 / f64::from(m.grants)
        },
        crashed_runs: count(&|r| r.panic.is_some()),
        metrics: Summary::of(&m),
    }
}

/// How a sweep runs.
#[derive(Clone, Debug)]
pub struct TuneOptions {
    pub seeds: u32,
    pub jobs: usize,
    pub target_false_preemption: f64,
    pub target_failover_ms: Option<u64>,
    pub pause_p99_ms: Option<u64>,
}

/// Refuses a target rate that `seeds` runs cannot measure (below about 3/N: zero hits in N
/// runs only bound the rate below 3/N at 95 %).
pub fn check_target(rate: f64, seeds: u32) -> Result<(), String> {
    let floor = 3.0 / f64::from(seeds.max(1));
    if rate < floor {
        return Err(format!(
            "--target-false-preemption {rate} is below 3/N = {floor:.4} for N = {seeds} seeds \
             per cell: unmeasurable (zero hits in {seeds} runs only show the rate is below \
             {floor:.4}); raise --seeds to at least {} or the target",
            (3.0 / rate.max(1e-9)).ceil() as u64
        ));
    }
    Ok(())
}

/// Runs a plug-in's cell over the seeds: the caller knows the plug-in's types (parse the
/// text with `Scenario::<P>::parse_protocol`, run, [`measure`]); `Err` is why the cell
/// cannot run (an impossible config, a protocol this build does not have).
pub type PluginRunner<'a> =
    dyn Fn(&CellSpec, &PluginCell, &[u64]) -> Result<CellResult, String> + Sync + 'a;

/// Runs every cell of a reference-protocol grid; `progress` is called after each seed. A
/// plug-in's cell is reported as not run: use [`sweep_with`].
pub fn sweep(
    g: &GridFile,
    opts: &TuneOptions,
    progress: &(dyn Fn(&SeedResult) + Sync),
) -> Vec<CellResult> {
    sweep_with(g, opts, progress, &|_, p, _| {
        Err(format!("a {} cell needs the plug-in's runner", p.kind))
    })
}

/// Runs every cell: the reference protocol's here, a plug-in's through `plugin`.
pub fn sweep_with(
    g: &GridFile,
    opts: &TuneOptions,
    progress: &(dyn Fn(&SeedResult) + Sync),
    plugin: &PluginRunner<'_>,
) -> Vec<CellResult> {
    let seeds: Vec<u64> = (0..u64::from(opts.seeds)).collect();
    g.cells()
        .into_iter()
        .map(|(cell, run)| {
            match run.and_then(|run| match run {
                CellRun::Reference(sc) => {
                    let results = run_many(&sc, &seeds, opts.jobs, RunOptions::default(), progress);
                    Ok(measure(cell.clone(), &results))
                }
                CellRun::Plugin(p) => plugin(&cell, &p, &seeds),
            }) {
                Ok(r) => r,
                Err(why) => CellResult {
                    cell,
                    skipped: Some(why),
                    ..CellResult::default()
                },
            }
        })
        .collect()
}

/// Assembles the report of a finished sweep (`seconds`: its wall time, measured by the
/// caller, since the core reads no clock).
#[must_use]
pub fn report(
    g: &GridFile,
    opts: &TuneOptions,
    cells: Vec<CellResult>,
    seconds: f64,
) -> TuneReport {
    TuneReport {
        name: g.name.clone(),
        description: g.base.file.description.clone(),
        grid_file: g.path.display().to_string(),
        seeds_per_cell: u64::from(opts.seeds),
        duration_ms: g.base.file.duration_ms,
        target_false_preemption: opts.target_false_preemption,
        target_failover_ms: opts.target_failover_ms,
        recommendations: recommend(&cells, opts),
        cells,
        seconds,
    }
}

/// The recommendations, one per pause level (or just the asked one); in a plug-in's grid,
/// one set per protocol, in the order the grid names them.
#[must_use]
pub fn recommend(cells: &[CellResult], opts: &TuneOptions) -> Vec<Recommendation> {
    let mut levels: Vec<u64> = cells.iter().map(|c| c.cell.pause_p99_ms).collect();
    levels.sort_unstable();
    levels.dedup();
    if let Some(want) = opts.pause_p99_ms {
        if let Some(&nearest) = levels.iter().min_by_key(|l| l.abs_diff(want)) {
            levels = vec![nearest];
        }
    }
    let mut protocols: Vec<&str> = Vec::new();
    for c in cells {
        if !protocols.contains(&c.cell.protocol.as_str()) {
            protocols.push(&c.cell.protocol);
        }
    }
    protocols
        .into_iter()
        .flat_map(|p| {
            levels
                .iter()
                .map(move |&level| recommend_at(cells, opts, p, level))
        })
        .collect()
}

/// Whether a cell is one a recommendation for `protocol` weighs: in the reference
/// protocol's own grids, its fencing-on cells; in a plug-in's, that protocol's cells.
fn weighed(c: &CellSpec, protocol: &str) -> bool {
    if protocol.is_empty() {
        c.protocol.is_empty() && c.fencing
    } else {
        c.protocol == protocol
    }
}

/// One TTL / renew (/ deadline) set at one pause level, judged against the targets over
/// its cells.
struct Candidate {
    ttl: u64,
    renew: u64,
    deadline: u64,
    fp: Rate,
    failover: f64,
    n: usize,
    ok: bool,
    why: String,
}

/// The recommendation at one pause level: the smallest TTL (then the longest renew interval)
/// whose every cell meets the targets, or the closest miss.
fn recommend_at(
    cells: &[CellResult],
    opts: &TuneOptions,
    protocol: &str,
    level: u64,
) -> Recommendation {
    let cands = candidates(cells, opts, protocol, level);
    let best = cands.iter().filter(|c| c.ok).min_by_key(|c| {
        (
            c.ttl,
            std::cmp::Reverse(c.renew),
            std::cmp::Reverse(c.deadline),
        )
    });
    let who = if protocol.is_empty() {
        String::new()
    } else {
        format!("{protocol}: ")
    };
    let deadline = |d: u64| {
        if d > 0 {
            format!(" (renew deadline {d} ms)")
        } else {
            String::new()
        }
    };
    let failover_txt = opts
        .target_failover_ms
        .map_or_else(String::new, |t| format!(" and failover p99 <= {t} ms"));
    match best {
        Some(c) => Recommendation {
            protocol: protocol.to_string(),
            pause_p99_ms: level,
            ttl_ms: Some(c.ttl),
            renew_ms: Some(c.renew),
            deadline_ms: (c.deadline > 0).then_some(c.deadline),
            false_preemption: c.fp.clone(),
            failover_p99_ms: c.failover,
            cells: c.n,
            explanation: format!(
                "{who}with pauses up to p99 {level} ms, TTL {} ms renewing every {} ms{} is the \
                 smallest TTL meeting false preemption <= {}{failover_txt} with no unsafe run: \
                 worst false preemption {:.3} (95% CI {:.3}-{:.3}), worst failover p99 {:.0} ms \
                 over {} cell(s)",
                c.ttl,
                c.renew,
                deadline(c.deadline),
                opts.target_false_preemption,
                c.fp.rate,
                c.fp.lo,
                c.fp.hi,
                c.failover,
                c.n
            ),
        },
        None => {
            let closest = cands.iter().min_by(|a, b| a.fp.rate.total_cmp(&b.fp.rate));
            Recommendation {
                protocol: protocol.to_string(),
                pause_p99_ms: level,
                ttl_ms: None,
                renew_ms: None,
                deadline_ms: None,
                false_preemption: closest.map(|c| c.fp.clone()).unwrap_or_default(),
                failover_p99_ms: closest.map_or(0.0, |c| c.failover),
                cells: closest.map_or(0, |c| c.n),
                explanation: match closest {
                    Some(c) => format!(
                        "{who}with pauses up to p99 {level} ms, NO swept TTL meets false \
                         preemption <= {}{failover_txt}; the closest is TTL {} ms / renew {} \
                         ms{} ({}); sweep longer TTLs or relax the target",
                        opts.target_false_preemption,
                        c.ttl,
                        c.renew,
                        deadline(c.deadline),
                        c.why
                    ),
                    None => format!(
                        "{who}with pauses up to p99 {level} ms, no {} cell ran, so nothing can \
                         be recommended",
                        if protocol.is_empty() {
                            "fencing-on"
                        } else {
                            protocol
                        }
                    ),
                },
            }
        }
    }
}

/// Every (ttl, renew) pair with fencing on at this pause level whose cells all ran, with its
/// worst false preemption and failover over them, and why it misses the targets (if it does).
fn candidates(
    cells: &[CellResult],
    opts: &TuneOptions,
    protocol: &str,
    level: u64,
) -> Vec<Candidate> {
    let mut sets: Vec<(u64, u64, u64)> = cells
        .iter()
        .filter(|c| weighed(&c.cell, protocol) && c.cell.pause_p99_ms == level)
        .map(|c| (c.cell.ttl_ms, c.cell.renew_ms, c.cell.deadline_ms))
        .collect();
    sets.sort_unstable();
    sets.dedup();
    let mut cands = Vec::new();
    for (ttl, renew, deadline) in sets {
        let group: Vec<&CellResult> = cells
            .iter()
            .filter(|c| {
                weighed(&c.cell, protocol)
                    && c.cell.pause_p99_ms == level
                    && c.cell.ttl_ms == ttl
                    && c.cell.renew_ms == renew
                    && c.cell.deadline_ms == deadline
            })
            .collect();
        if group.iter().any(|c| c.skipped.is_some()) {
            continue;
        }
        let fp = group
            .iter()
            .map(|c| c.false_preemption_runs.clone())
            .max_by(|a, b| a.rate.total_cmp(&b.rate))
            .unwrap_or_default();
        let failover = group
            .iter()
            .map(|c| c.metrics.failover.p99_ms)
            .fold(0.0, f64::max);
        let unsafe_runs: u64 = group.iter().map(|c| c.unsafe_runs.hits).sum();
        let mut why = Vec::new();
        if unsafe_runs > 0 {
            why.push(format!("{unsafe_runs} unsafe runs"));
        }
        if fp.rate > opts.target_false_preemption {
            why.push(format!(
                "false preemption {:.3} > {}",
                fp.rate, opts.target_false_preemption
            ));
        }
        if let Some(t) = opts.target_failover_ms {
            if failover > t as f64 {
                why.push(format!("failover p99 {failover:.0} ms > {t} ms"));
            }
        }
        cands.push(Candidate {
            ttl,
            renew,
            deadline,
            fp,
            failover,
            n: group.len(),
            ok: why.is_empty(),
            why: why.join(", "),
        });
    }
    cands
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_below_three_over_n_are_refused() {
        assert!(check_target(0.01, 200).is_err());
        assert!(check_target(0.02, 200).is_ok());
    }
}
