//! Grid files for `leaseproof tune`: a scenario plus `[grid]` axes and `[target]`s, parsed
//! and validated (every error names the file, line, field and reason) and expanded into
//! cells, each a scenario of its own. The shipped presets are compiled in.

use crate::scenario::{line_col, locate, table_at, Expect, Scenario, ScenarioError, ScenarioFile};
use leaseproof_impl::{OracleName, Variant};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The reference protocol's name, as a grid's `protocol` axis writes it.
const REFERENCE: &str = "reference";

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
    /// A plug-in's third timing (client-go's RenewDeadline), set through `fields`.
    pub renew_deadline_ms: Option<Vec<u64>>,
    /// The protocols swept: the base scenario's own (its `[protocol] kind`) and/or
    /// `"reference"`, the reference protocol at the same timings beside it (fenced, with
    /// server-side expiry), so a reader sees what those buy.
    pub protocol: Option<Vec<String>>,
    /// For a plug-in's grid: which of its `[protocol]` fields each timing axis sets.
    pub fields: Option<Fields>,
    /// For a plug-in's grid: the reference protocol's `[protocol]` fields beside it (its
    /// workload, say: an elector leads until it loses, so `hold_ms` as long as the run);
    /// the timing axes still set its TTL and renew interval.
    pub reference: Option<toml::Table>,
}

/// Which field of a plug-in's `[protocol]` table each timing axis sets (a plug-in names
/// its timings its own way: client-go's LeaseDuration is `lease_duration_ms`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fields {
    pub ttl_ms: Option<String>,
    pub renew_interval_ms: Option<String>,
    pub renew_deadline_ms: Option<String>,
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
    /// The base scenario's protocol (`[protocol] kind`; "reference" when absent).
    pub kind: String,
    /// A plug-in base's `[protocol]` table (its cells start from it; the `base` scenario
    /// then holds the reference protocol's defaults, for the sections they share).
    pub plugin: Option<toml::Table>,
}

/// A cell of a plug-in protocol: its scenario as TOML text, which the caller (who knows
/// the plug-in's types) parses and runs.
#[derive(Clone, Debug)]
pub struct PluginCell {
    pub kind: String,
    pub path: PathBuf,
    pub text: String,
}

/// What one cell runs.
#[derive(Clone, Debug)]
pub enum CellRun {
    Reference(Box<Scenario>),
    Plugin(PluginCell),
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
    /// A plug-in's renew deadline (0: none, and for the reference protocol).
    #[serde(skip_serializing_if = "is_zero")]
    pub deadline_ms: u64,
    /// The cell's protocol, in a grid that sweeps a plug-in (empty in the reference
    /// protocol's own grids).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub protocol: String,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if takes a reference
fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl CellSpec {
    #[must_use]
    pub fn label(&self) -> String {
        format!(
            "{}ttl {} ms, renew {} ms{}, pause {}..{} ms, drift {} ppm, latency {}..{} ms, fencing {}{}",
            if self.protocol.is_empty() {
                String::new()
            } else {
                format!("{}: ", self.protocol)
            },
            self.ttl_ms,
            self.renew_ms,
            if self.deadline_ms > 0 {
                format!(", deadline {} ms", self.deadline_ms)
            } else {
                String::new()
            },
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

/// Blanks the `[grid]` and `[target]` tables (and a plug-in's `[protocol]`), keeping line
/// numbers, so the rest parses as a scenario and its errors point at the right lines. A sweep measures rather than expects,
/// so a grid file without `[expect]` gets the safety oracles appended (after every line).
fn scenario_part(text: &str, plugin: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut skipping = false;
    let blanked = |name: &str, table: &str| name == table || name.starts_with(&format!("{table}."));
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            let name = t.trim_matches(|c| c == '[' || c == ']').trim();
            // A plug-in's [protocol] is not the reference protocol's: the cells read it.
            skipping = blanked(name, "grid")
                || blanked(name, "target")
                || (plugin && blanked(name, "protocol"));
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
        let kind = crate::scenario::protocol_of(text).unwrap_or_else(|| REFERENCE.into());
        let plugin = if kind == REFERENCE {
            None
        } else {
            let table = toml::from_str::<toml::Table>(text)
                .ok()
                .and_then(|t| t.get("protocol").and_then(toml::Value::as_table).cloned())
                .unwrap_or_default();
            Some(table)
        };
        let base = Scenario::parse(path, &scenario_part(text, plugin.is_some()))?;
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
            kind,
            plugin,
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
        nonempty!(renew_deadline_ms);
        nonempty!(protocol);
        self.validate_protocols(text)?;
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

    /// The `protocol` axis and a plug-in's `fields`: every swept protocol is the base's or
    /// the reference; each timing axis of a plug-in names the field it sets; the reference
    /// protocol's own axes (fencing, intent tier) and a renew deadline it does not have are
    /// refused where they would not apply.
    fn validate_protocols(&self, text: &str) -> Result<(), ScenarioError> {
        let e = |field: &str, reason: String| gerr(&self.path, text, field, reason);
        let g = &self.grid;
        if let Some(p) = g
            .protocol
            .as_ref()
            .and_then(|v| v.iter().find(|p| **p != self.kind && *p != REFERENCE))
        {
            return Err(e(
                "grid.protocol",
                format!(
                    "{p:?} is neither this scenario's protocol ({:?}) nor \"reference\"",
                    self.kind
                ),
            ));
        }
        if self.plugin.is_none() {
            // A plug-in's axes and tables, on the reference protocol's own grid.
            for (field, set, reason) in [
                (
                    "grid.renew_deadline_ms",
                    g.renew_deadline_ms.is_some(),
                    "the reference protocol has no renew deadline (a plug-in's axis, set \
                     through grid.fields)",
                ),
                (
                    "grid.reference",
                    g.reference.is_some(),
                    "this scenario is the reference protocol's: set its fields in [protocol]",
                ),
                (
                    "grid.fields",
                    g.fields.is_some(),
                    "fields name a plug-in's [protocol] fields; this scenario is the \
                     reference protocol's",
                ),
            ] {
                if set {
                    return Err(e(field, reason.into()));
                }
            }
            return Ok(());
        }
        for (axis, set) in [
            ("fencing", g.fencing.is_some()),
            ("intent_ms", g.intent_ms.is_some()),
        ] {
            if set {
                return Err(e(
                    &format!("grid.{axis}"),
                    format!(
                        "the reference protocol's axis; a {} cell's settings are its \
                         [protocol] fields",
                        self.kind
                    ),
                ));
            }
        }
        if g.ttl_ms.is_none() || (g.renew_interval_ms.is_none() && g.renew_ratio.is_none()) {
            return Err(e(
                "grid",
                format!(
                    "a {} grid gives the ttl_ms and renew_interval_ms (or renew_ratio) axes: \
                     its timings are its own fields, not the reference protocol's",
                    self.kind
                ),
            ));
        }
        if let Some(t) = &g.reference {
            reference_protocol(t).map_err(|why| e("grid.reference", why))?;
        }
        let f = g.fields.clone().unwrap_or_default();
        for (axis, set, field) in [
            ("ttl_ms", true, &f.ttl_ms),
            ("renew_interval_ms", true, &f.renew_interval_ms),
            (
                "renew_deadline_ms",
                g.renew_deadline_ms.is_some(),
                &f.renew_deadline_ms,
            ),
        ] {
            if set && field.is_none() {
                return Err(e(
                    "grid.fields",
                    format!(
                        "a {} grid needs fields.{axis}: the {} [protocol] field the \
                         {axis} axis sets",
                        self.kind, self.kind
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The protocols swept, in axis order.
    fn protocols(&self) -> Vec<String> {
        self.grid
            .protocol
            .clone()
            .unwrap_or_else(|| vec![self.kind.clone()])
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
        let deadlines = g.renew_deadline_ms.clone().unwrap_or(vec![0]);
        let protocols = self.protocols();
        let mut out: Vec<CellSpec> = Vec::new();
        for &ttl in &ttls {
            let renews: Vec<u64> = match (&g.renew_interval_ms, &g.renew_ratio) {
                (Some(v), _) => v.clone(),
                (None, Some(r)) => r.iter().map(|r| (ttl as f64 * r).round() as u64).collect(),
                (None, None) => vec![f.protocol.renew_interval_ms],
            };
            for &renew in &renews {
                for &deadline in &deadlines {
                    for &pause in &pauses {
                        for &drift in &drifts {
                            for &lat in &lats {
                                for &fencing in &fencings {
                                    for &intent_ms in &intents {
                                        for p in &protocols {
                                            let spec = self.spec(
                                                p,
                                                CellSpec {
                                                    ttl_ms: ttl,
                                                    renew_ms: renew,
                                                    pause_ms: pause,
                                                    pause_p99_ms: pause[0]
                                                        + ((pause[1] - pause[0]) as f64 * 0.99)
                                                            .round()
                                                            as u64,
                                                    drift_ppm: drift,
                                                    latency_ms: lat,
                                                    fencing,
                                                    intent_ms,
                                                    deadline_ms: deadline,
                                                    protocol: String::new(),
                                                },
                                            );
                                            // The reference protocol has no deadline: its
                                            // cell beside each deadline is one cell.
                                            if !out.contains(&spec) {
                                                out.push(spec);
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// A plug-in base's scenario text with its own `[protocol]` (the grid and targets
    /// blanked, line numbers kept), for the caller to read with the plug-in's types.
    #[must_use]
    pub fn plugin_base_text(&self) -> String {
        scenario_part(&self.text, false)
    }

    /// A point as protocol `p` runs it: in a plug-in's grid each cell names its protocol;
    /// a plug-in cell is unfenced (its own fencing is a [protocol] field), the reference's
    /// is fenced and has no deadline.
    fn spec(&self, p: &str, mut c: CellSpec) -> CellSpec {
        if self.plugin.is_some() {
            c.protocol = p.to_string();
            c.fencing = p == REFERENCE;
            if p == REFERENCE {
                c.deadline_ms = 0;
            }
        }
        c
    }

    /// Each cell with what it runs, or the reason it cannot run.
    #[must_use]
    pub fn cells(&self) -> Vec<(CellSpec, Result<CellRun, String>)> {
        self.specs()
            .into_iter()
            .map(|c| {
                let run = if c.protocol.is_empty() || c.protocol == REFERENCE {
                    self.cell_scenario(&c)
                        .map(|sc| CellRun::Reference(Box::new(sc)))
                } else {
                    self.plugin_cell(&c).map(CellRun::Plugin)
                };
                (c, run)
            })
            .collect()
    }

    /// What every cell judges: the safety oracles, and in a plug-in's grid also
    /// stale-write-accepted (by tenure: every protocol has it, tokens or not). Two clients
    /// believing at once is measured (`belief_overlap_runs`), not judged: the reference
    /// protocol does not claim it under pauses, its fencing does the work there.
    fn cell_expect(&self) -> Expect {
        let mut always: Vec<String> = OracleName::SAFETY
            .iter()
            .map(|o| o.name().to_string())
            .collect();
        if self.plugin.is_some() {
            always.push(OracleName::StaleWriteAccepted.name().to_string());
        }
        Expect {
            always,
            ..Expect::default()
        }
    }

    /// The base's sections with the cell's faults, clocks and network.
    fn cell_file(&self, c: &CellSpec) -> ScenarioFile {
        let mut f: ScenarioFile = self.base.file.clone();
        if let Some(r) = f.faults.random.as_mut() {
            r.pause_ms = c.pause_ms;
        }
        f.clocks.drift_ppm = c.drift_ppm;
        f.cluster.latency_ms = c.latency_ms;
        f.expect = self.cell_expect();
        f
    }

    fn cell_path(&self, c: &CellSpec) -> PathBuf {
        PathBuf::from(format!("{}#{}", self.path.display(), c.label()))
    }

    /// A plug-in cell: the base's sections, then its own `[protocol]` table with the
    /// timing fields the grid's `fields` name set to the cell's values.
    fn plugin_cell(&self, c: &CellSpec) -> Result<PluginCell, String> {
        let mut table = toml::Table::try_from(self.cell_file(c)).map_err(|e| e.to_string())?;
        let mut proto = self.plugin.clone().unwrap_or_default();
        let f = self.grid.fields.clone().unwrap_or_default();
        for (field, v) in [
            (f.ttl_ms, c.ttl_ms),
            (f.renew_interval_ms, c.renew_ms),
            (f.renew_deadline_ms, c.deadline_ms),
        ] {
            if let Some(field) = field {
                let v = i64::try_from(v).map_err(|_| format!("{field}: {v} is too large"))?;
                proto.insert(field, toml::Value::Integer(v));
            }
        }
        table.insert("protocol".into(), toml::Value::Table(proto));
        Ok(PluginCell {
            kind: c.protocol.clone(),
            path: self.cell_path(c),
            text: toml::to_string(&table).map_err(|e| e.to_string())?,
        })
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
        if self.plugin.is_some() {
            // Beside a plug-in: the reference protocol as grid.reference sets it, at the
            // same timings, told the drift bound the cell runs under (a setting client-go
            // has no knob for).
            let timings = (c.ttl_ms, c.renew_ms, c.intent_ms);
            f.protocol = reference_protocol(&self.grid.reference.clone().unwrap_or_default())?;
            (
                f.protocol.ttl_ms,
                f.protocol.renew_interval_ms,
                f.protocol.intent_ms,
            ) = timings;
            f.protocol.drift_ppm_max = f.protocol.drift_ppm_max.max(c.drift_ppm);
        }
        // A sweep measures; it judges nothing, so every cell lists the safety oracles only.
        f.expect = self.cell_expect();
        let text = toml::to_string(&f).map_err(|e| e.to_string())?;
        Scenario::parse(&self.cell_path(c), &text).map_err(|e| format!("{}: {}", e.field, e.reason))
    }
}

/// The reference protocol's config from its defaults and `fields` (a grid's `reference`).
fn reference_protocol(
    fields: &toml::Table,
) -> Result<leaseproof_impl::config::ProtocolConfig, String> {
    let mut t = toml::Table::try_from(leaseproof_impl::config::ProtocolConfig::default())
        .map_err(|e| e.to_string())?;
    for (k, v) in fields {
        t.insert(k.clone(), v.clone());
    }
    toml::Value::Table(t)
        .try_into()
        .map_err(|e: toml::de::Error| e.message().trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scenario_part_keeps_line_numbers() {
        let t = "a = 1\n[grid]\nttl_ms = [1]\n[protocol]\nx = 2\n";
        let s = scenario_part(t, false);
        let n = t.lines().count();
        assert_eq!(s.lines().nth(4), Some("x = 2"), "line 5 stays line 5");
        assert!(!s.contains("ttl_ms"));
        // No [expect] table: the safety oracles are appended after every original line.
        assert_eq!(s.lines().nth(n), Some("[expect]"));
    }
}
