//! Lease-timeout sweeps: a grid file (a scenario plus `[grid]` axes and `[target]`s) expands
//! into cells, each cell runs N seeds, and every cell is measured with the ground-truth
//! metrics of docs/design.md ("Metrics"). The recommendation is the smallest TTL (and its renew interval)
//! that meets the targets in every cell of that TTL and pause level.
//!
//! All cells run the same seeds (common random numbers), so two cells differ by their
//! settings, not by luck of the draw.

use crate::metrics::{Rate, RunMetrics, Summary};
use crate::run::{RunOptions, SeedResult};
use crate::scenario::{line_col, locate, Expect, Scenario, ScenarioError, ScenarioFile};
use crate::verdict::run_many;
use leaseproof_impl::{OracleName, Variant};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The presets shipped in `scenarios/tune/`, compiled in so `--preset` works anywhere.
pub const PRESETS: [(&str, &str); 7] = [
    ("k8s", include_str!("../../scenarios/tune/k8s.toml")),
    ("etcd", include_str!("../../scenarios/tune/etcd.toml")),
    ("chubby", include_str!("../../scenarios/tune/chubby.toml")),
    ("consul", include_str!("../../scenarios/tune/consul.toml")),
    (
        "dynamodb",
        include_str!("../../scenarios/tune/dynamodb.toml"),
    ),
    ("patroni", include_str!("../../scenarios/tune/patroni.toml")),
    ("tiered", include_str!("../../scenarios/tune/tiered.toml")),
];

/// The most cells one sweep may have (each runs N seeds).
pub const MAX_CELLS: usize = 2_000;

/// The axes. Each is a list; an axis left out keeps the base scenario's value.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    pub ttl_ms: Option<Vec<u64>>,
    /// Absolute renew intervals; exclusive with `renew_ratio`.
    pub renew_interval_ms: Option<Vec<u64>>,
    /// Renew intervals as a fraction of the TTL (0.33 = renew at TTL/3).
    pub renew_ratio: Option<Vec<f64>>,
    /// Pause-length distributions: each `[lo, hi]` draws pauses uniformly in it.
    pub pause_ms: Option<Vec<[u64; 2]>>,
    /// Clock drift of every node, up to this many ppm.
    pub drift_ppm: Option<Vec<u32>>,
    /// One-way latency ranges.
    pub latency_ms: Option<Vec<[u64; 2]>>,
    /// Fencing at the resource on (the correct protocol) or off (the no-fencing variant).
    pub fencing: Option<Vec<bool>>,
    /// Tiered leases: the intent tier's length (0: a flat lease), to compare the two.
    pub intent_ms: Option<Vec<u64>>,
}

/// What the recommendation must meet. Command-line flags override these.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Highest acceptable fraction of runs with a false preemption.
    pub false_preemption: Option<f64>,
    /// Highest acceptable failover p99.
    pub failover_ms: Option<u64>,
    /// Recommend for this pause level (the `pause_ms` range whose p99 is nearest); default:
    /// a recommendation for every pause level.
    pub pause_p99_ms: Option<u64>,
}

#[derive(Deserialize)]
struct GridDoc {
    #[serde(default)]
    grid: Option<Grid>,
    #[serde(default)]
    target: Option<Target>,
    #[serde(flatten)]
    _rest: BTreeMap<String, toml::Value>,
}

/// A parsed, validated grid file.
#[derive(Clone, Debug)]
pub struct GridFile {
    pub name: String,
    pub path: PathBuf,
    pub base: Scenario,
    pub grid: Grid,
    pub target: Target,
}

/// One point of the grid.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CellSpec {
    pub ttl_ms: u64,
    pub renew_ms: u64,
    pub pause_ms: [u64; 2],
    /// The 99th percentile of the pause distribution.
    pub pause_p99_ms: u64,
    pub drift_ppm: u32,
    pub latency_ms: [u64; 2],
    pub fencing: bool,
    /// The intent tier (0: flat leases).
    pub intent_ms: u64,
}

impl CellSpec {
    #[must_use]
    pub fn label(&self) -> String {
        format!(
            "ttl {} ms, renew {} ms, pause {}..{} ms, drift {} ppm, latency {}..{} ms, fencing {}{}",
            self.ttl_ms,
            self.renew_ms,
            self.pause_ms[0],
            self.pause_ms[1],
            self.drift_ppm,
            self.latency_ms[0],
            self.latency_ms[1],
            if self.fencing { "on" } else { "off" },
            if self.intent_ms > 0 {
                format!(", intent tier {} ms", self.intent_ms)
            } else {
                String::new()
            }
        )
    }
}

/// What one cell measured over its seeds (rates are per run: the fraction of seeds).
#[derive(Clone, Debug, Default, Serialize)]
pub struct CellResult {
    pub cell: CellSpec,
    /// Why the cell did not run (its config is impossible), if it did not.
    pub skipped: Option<String>,
    pub seeds: u64,
    /// Runs where any safety oracle tripped.
    pub unsafe_runs: Rate,
    /// Runs where the resource accepted a stale token (fenced-writes).
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

/// The recommendation for one pause level.
#[derive(Clone, Debug, Serialize)]
pub struct Recommendation {
    pub pause_p99_ms: u64,
    /// The smallest TTL meeting every target, with its renew interval; `None` if none does.
    pub ttl_ms: Option<u64>,
    pub renew_ms: Option<u64>,
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
fn gerr(path: &Path, text: &str, field: &str, reason: String) -> ScenarioError {
    let (line, column) = if text.is_empty() {
        (0, 0)
    } else {
        locate(text, field)
    };
    ScenarioError {
        file: path.to_path_buf(),
        line,
        column,
        field: field.into(),
        reason,
    }
}

/// Blanks the `[grid]` and `[target]` tables (keeping line numbers) so the rest parses as a
/// scenario and its errors point at the right lines. A sweep measures rather than expects,
/// so a grid file without `[expect]` gets the safety oracles appended (after every line).
fn scenario_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut skipping = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            let name = t.trim_matches(|c| c == '[' || c == ']').trim();
            skipping = name == "grid"
                || name == "target"
                || name.starts_with("grid.")
                || name.starts_with("target.");
        }
        if !skipping {
            out.push_str(line);
        }
        out.push('\n');
    }
    if !text.lines().any(|l| l.trim() == "[expect]") {
        out.push_str(SAFETY_EXPECT);
    }
    out
}

/// What every cell "expects": the safety oracles (a sweep reports them, it does not judge).
const SAFETY_EXPECT: &str =
    "[expect]\nalways = [\"single-holder\", \"token-monotonic\", \"fenced-writes\", \"lease-containment\"]\n";

impl GridFile {
    /// Reads a grid file from disk.
    pub fn load(path: &Path) -> Result<GridFile, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| gerr(path, "", "(file)", format!("cannot read: {e}")))?;
        GridFile::parse(path, &text)
    }

    /// A built-in preset by name.
    pub fn preset(name: &str) -> Result<GridFile, String> {
        let (n, text) = PRESETS.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            let names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
            format!(
                "--preset: unknown preset {name:?}; expected one of {}",
                names.join(", ")
            )
        })?;
        GridFile::parse(&PathBuf::from(format!("scenarios/tune/{n}.toml")), text)
            .map_err(|e| e.to_string())
    }

    /// Parses and validates a grid file: unknown keys, empty axes, impossible values and
    /// a grid whose every cell is impossible are errors naming the field.
    pub fn parse(path: &Path, text: &str) -> Result<GridFile, ScenarioError> {
        let doc: GridDoc = toml::from_str(text).map_err(|e| {
            let start = e.span().map_or(0, |s| s.start.min(text.len()));
            let (line, column) = line_col(text, start);
            // The table the error is in: the last header before it.
            let table = text[..start]
                .lines()
                .rev()
                .map(str::trim)
                .find(|l| l.starts_with('['))
                .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
            ScenarioError {
                file: path.to_path_buf(),
                line,
                column,
                field: table
                    .filter(|t| t == "grid" || t == "target")
                    .unwrap_or_else(|| "(syntax)".into()),
                reason: e.message().trim().to_string(),
            }
        })?;
        let grid = doc.grid.ok_or_else(|| {
            gerr(
                path,
                text,
                "grid",
                "a grid file needs a [grid] table".into(),
            )
        })?;
        let target = doc.target.unwrap_or_default();
        let base = Scenario::parse(path, &scenario_part(text))?;
        let name = path
            .file_stem()
            .map_or_else(|| "grid".into(), |s| s.to_string_lossy().into_owned());
        let g = GridFile {
            name,
            path: path.to_path_buf(),
            base,
            grid,
            target,
        };
        g.validate(text)?;
        Ok(g)
    }

    fn validate(&self, text: &str) -> Result<(), ScenarioError> {
        let e = |field: &str, reason: String| gerr(&self.path, text, field, reason);
        let g = &self.grid;
        macro_rules! nonempty {
            ($f:ident) => {
                if g.$f.as_ref().is_some_and(Vec::is_empty) {
                    return Err(e(
                        concat!("grid.", stringify!($f)),
                        "an empty list: give at least one value, or leave the axis out".into(),
                    ));
                }
            };
        }
        nonempty!(ttl_ms);
        nonempty!(renew_interval_ms);
        nonempty!(renew_ratio);
        nonempty!(pause_ms);
        nonempty!(drift_ppm);
        nonempty!(latency_ms);
        nonempty!(fencing);
        nonempty!(intent_ms);
        if g.renew_interval_ms.is_some() && g.renew_ratio.is_some() {
            return Err(e(
                "grid.renew_ratio",
                "give renew_interval_ms or renew_ratio, not both".into(),
            ));
        }
        if let Some(r) = g.renew_ratio.as_ref().and_then(|v| {
            v.iter()
                .find(|r| !(r.is_finite() && **r > 0.0 && **r < 1.0))
        }) {
            return Err(e(
                "grid.renew_ratio",
                format!("{r} is not strictly between 0 and 1 (a fraction of the TTL)"),
            ));
        }
        for (field, ranges) in [
            ("grid.pause_ms", &g.pause_ms),
            ("grid.latency_ms", &g.latency_ms),
        ] {
            if let Some(r) = ranges.as_ref().and_then(|v| v.iter().find(|[a, b]| a > b)) {
                return Err(e(
                    field,
                    format!("[{}, {}] is an empty range (low above high)", r[0], r[1]),
                ));
            }
        }
        if let Some(f) = self.target.false_preemption {
            if !(0.0..=1.0).contains(&f) {
                return Err(e(
                    "target.false_preemption",
                    format!("{f} is not a rate between 0 and 1"),
                ));
            }
        }
        let n = self.specs().len();
        if n > MAX_CELLS {
            return Err(e(
                "grid",
                format!("{n} cells; at most {MAX_CELLS} (each runs every seed)"),
            ));
        }
        let cells = self.cells();
        if cells.iter().all(|(_, sc)| sc.is_err()) {
            let why = cells
                .into_iter()
                .find_map(|(_, sc)| sc.err())
                .unwrap_or_default();
            return Err(e(
                "grid",
                format!("no cell can run: every cell is impossible (first: {why})"),
            ));
        }
        Ok(())
    }

    /// The grid's points, in axis order (TTL outermost, fencing innermost).
    #[must_use]
    pub fn specs(&self) -> Vec<CellSpec> {
        let f = &self.base.file;
        let g = &self.grid;
        let ttls = g.ttl_ms.clone().unwrap_or(vec![f.protocol.ttl_ms]);
        let pauses = g.pause_ms.clone().unwrap_or(vec![f
            .faults
            .random
            .as_ref()
            .map_or([0, 0], |r| r.pause_ms)]);
        let drifts = g.drift_ppm.clone().unwrap_or(vec![f.clocks.drift_ppm]);
        let lats = g.latency_ms.clone().unwrap_or(vec![f.cluster.latency_ms]);
        let fencings = g
            .fencing
            .clone()
            .unwrap_or(vec![f.protocol.variant != Variant::NoFencing]);
        let intents = g.intent_ms.clone().unwrap_or(vec![f.protocol.intent_ms]);
        let mut out = Vec::new();
        for &ttl in &ttls {
            let renews: Vec<u64> = match (&g.renew_interval_ms, &g.renew_ratio) {
                (Some(v), _) => v.clone(),
                (None, Some(r)) => r.iter().map(|r| (ttl as f64 * r).round() as u64).collect(),
                (None, None) => vec![f.protocol.renew_interval_ms],
            };
            for &renew in &renews {
                for &pause in &pauses {
                    for &drift in &drifts {
                        for &lat in &lats {
                            for &fencing in &fencings {
                                for &intent_ms in &intents {
                                    out.push(CellSpec {
                                        ttl_ms: ttl,
                                        renew_ms: renew,
                                        pause_ms: pause,
                                        pause_p99_ms: pause[0]
                                            + ((pause[1] - pause[0]) as f64 * 0.99).round() as u64,
                                        drift_ppm: drift,
                                        latency_ms: lat,
                                        fencing,
                                        intent_ms,
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Each cell with its scenario, or the reason it cannot run.
    #[must_use]
    pub fn cells(&self) -> Vec<(CellSpec, Result<Scenario, String>)> {
        self.specs()
            .into_iter()
            .map(|c| {
                let sc = self.cell_scenario(&c);
                (c, sc)
            })
            .collect()
    }

    fn cell_scenario(&self, c: &CellSpec) -> Result<Scenario, String> {
        let mut f: ScenarioFile = self.base.file.clone();
        f.protocol.ttl_ms = c.ttl_ms;
        f.protocol.renew_interval_ms = c.renew_ms;
        if let Some(r) = f.faults.random.as_mut() {
            r.pause_ms = c.pause_ms;
        }
        f.clocks.drift_ppm = c.drift_ppm;
        f.cluster.latency_ms = c.latency_ms;
        f.protocol.intent_ms = c.intent_ms;
        f.protocol.variant = if c.fencing {
            if self.base.file.protocol.variant == Variant::NoFencing {
                Variant::Correct
            } else {
                self.base.file.protocol.variant
            }
        } else {
            Variant::NoFencing
        };
        // A sweep measures; it judges nothing, so every cell lists the safety oracles only.
        f.expect = Expect {
            always: OracleName::SAFETY
                .iter()
                .map(|o| o.name().to_string())
                .collect(),
            ..Expect::default()
        };
        let text = toml::to_string(&f).map_err(|e| e.to_string())?;
        let path = PathBuf::from(format!("{}#{}", self.path.display(), c.label()));
        Scenario::parse(&path, &text).map_err(|e| format!("{}: {}", e.field, e.reason))
    }
}

/// Summarises one cell's seeds.
#[must_use]
pub fn measure(cell: CellSpec, results: &[SeedResult]) -> CellResult {
    let n = results.len() as u64;
    let mut m = RunMetrics::default();
    let mut by_cause: BTreeMap<String, u64> = BTreeMap::new();
    let count = |f: &dyn Fn(&SeedResult) -> bool| results.iter().filter(|r| f(r)).count() as u64;
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
        unsafe_runs: Rate::wilson(
            count(&|r| OracleName::SAFETY.iter().any(|o| r.tripped(*o))),
            n,
        ),
        stale_write_accepted_runs: Rate::wilson(count(&|r| r.tripped(OracleName::FencedWrites)), n),
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

/// Runs every cell; `progress` is called after each seed.
pub fn sweep(
    g: &GridFile,
    opts: &TuneOptions,
    progress: &(dyn Fn(&SeedResult) + Sync),
) -> Vec<CellResult> {
    let seeds: Vec<u64> = (0..u64::from(opts.seeds)).collect();
    g.cells()
        .into_iter()
        .map(|(cell, sc)| match sc {
            Ok(sc) => {
                let results = run_many(&sc, &seeds, opts.jobs, RunOptions::default(), progress);
                measure(cell, &results)
            }
            Err(why) => CellResult {
                cell,
                skipped: Some(why),
                ..CellResult::default()
            },
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

/// The recommendations, one per pause level (or just the asked one).
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
    levels
        .into_iter()
        .map(|level| recommend_at(cells, opts, level))
        .collect()
}

/// One TTL / renew pair at one pause level, judged against the targets over its cells.
struct Candidate {
    ttl: u64,
    renew: u64,
    fp: Rate,
    failover: f64,
    n: usize,
    ok: bool,
    why: String,
}

/// The recommendation at one pause level: the smallest TTL (then the longest renew interval)
/// whose every cell meets the targets, or the closest miss.
fn recommend_at(cells: &[CellResult], opts: &TuneOptions, level: u64) -> Recommendation {
    let cands = candidates(cells, opts, level);
    let best = cands
        .iter()
        .filter(|c| c.ok)
        .min_by_key(|c| (c.ttl, std::cmp::Reverse(c.renew)));
    let failover_txt = opts
        .target_failover_ms
        .map_or_else(String::new, |t| format!(" and failover p99 <= {t} ms"));
    match best {
        Some(c) => Recommendation {
            pause_p99_ms: level,
            ttl_ms: Some(c.ttl),
            renew_ms: Some(c.renew),
            false_preemption: c.fp.clone(),
            failover_p99_ms: c.failover,
            cells: c.n,
            explanation: format!(
                "with pauses up to p99 {level} ms, TTL {} ms renewing every {} ms is the smallest \
                 TTL meeting false preemption <= {}{failover_txt} with no unsafe run: worst \
                 false preemption {:.3} (95% CI {:.3}-{:.3}), worst failover p99 {:.0} ms over \
                 {} cell(s)",
                c.ttl,
                c.renew,
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
                pause_p99_ms: level,
                ttl_ms: None,
                renew_ms: None,
                false_preemption: closest.map(|c| c.fp.clone()).unwrap_or_default(),
                failover_p99_ms: closest.map_or(0.0, |c| c.failover),
                cells: closest.map_or(0, |c| c.n),
                explanation: match closest {
                    Some(c) => format!(
                        "with pauses up to p99 {level} ms, NO swept TTL meets false preemption \
                         <= {}{failover_txt}; the closest is TTL {} ms / renew {} ms ({}); sweep \
                         longer TTLs or relax the target",
                        opts.target_false_preemption, c.ttl, c.renew, c.why
                    ),
                    None => format!(
                        "with pauses up to p99 {level} ms, no fencing-on cell ran, so nothing \
                         can be recommended"
                    ),
                },
            }
        }
    }
}

/// Every (ttl, renew) pair with fencing on at this pause level whose cells all ran, with its
/// worst false preemption and failover over them, and why it misses the targets (if it does).
fn candidates(cells: &[CellResult], opts: &TuneOptions, level: u64) -> Vec<Candidate> {
    let mut pairs: Vec<(u64, u64)> = cells
        .iter()
        .filter(|c| c.cell.fencing && c.cell.pause_p99_ms == level)
        .map(|c| (c.cell.ttl_ms, c.cell.renew_ms))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut cands = Vec::new();
    for (ttl, renew) in pairs {
        let group: Vec<&CellResult> = cells
            .iter()
            .filter(|c| {
                c.cell.fencing
                    && c.cell.pause_p99_ms == level
                    && c.cell.ttl_ms == ttl
                    && c.cell.renew_ms == renew
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
    fn the_scenario_part_keeps_line_numbers() {
        let t = "a = 1\n[grid]\nttl_ms = [1]\n[protocol]\nx = 2\n";
        let s = scenario_part(t);
        let n = t.lines().count();
        assert_eq!(s.lines().nth(4), Some("x = 2"), "line 5 stays line 5");
        assert!(!s.contains("ttl_ms"));
        // No [expect] table: the safety oracles are appended after every original line.
        assert_eq!(s.lines().nth(n), Some("[expect]"));
    }

    #[test]
    fn targets_below_three_over_n_are_refused() {
        assert!(check_target(0.01, 200).is_err());
        assert!(check_target(0.02, 200).is_ok());
    }
}
