//! Grid files for `leaseproof tune`: a scenario plus `[grid]` axes and `[target]`s, parsed
//! and validated (every error names the file, line, field and reason) and expanded into
//! cells, each a scenario of its own. The shipped presets are compiled in.

use crate::scenario::{line_col, locate, table_at, Expect, Scenario, ScenarioError, ScenarioFile};
use leaseproof_impl::{OracleName, Variant};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The presets shipped in `scenarios/tune/`, compiled in so `--preset` works anywhere.
pub const PRESETS: [(&str, &str); 7] = [
    ("k8s", include_str!("../../../scenarios/tune/k8s.toml")),
    ("etcd", include_str!("../../../scenarios/tune/etcd.toml")),
    (
        "chubby",
        include_str!("../../../scenarios/tune/chubby.toml"),
    ),
    (
        "consul",
        include_str!("../../../scenarios/tune/consul.toml"),
    ),
    (
        "dynamodb",
        include_str!("../../../scenarios/tune/dynamodb.toml"),
    ),
    (
        "patroni",
        include_str!("../../../scenarios/tune/patroni.toml"),
    ),
    (
        "tiered",
        include_str!("../../../scenarios/tune/tiered.toml"),
    ),
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
    /// The file's text (a preset's built-in text): a tune shard's partial file carries it.
    pub text: String,
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
            let table = table_at(text, start);
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
            text: text.to_string(),
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
}
