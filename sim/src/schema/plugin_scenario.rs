//! A scenario for a plug-in protocol (docs/protocols.md, "Scenarios of a plug-in"): the
//! cluster, the clocks, scripted faults, the run's length and what to expect, plus a
//! `[protocol]` table whose `kind` names the plug-in and whose other fields are the
//! plug-in's own config, deserialized into its type (so a field of another protocol is
//! refused by name). Every error names the file, the line, the field and the reason.
//!
//! ```toml
//! name = "fast-clock"
//! clients = 2
//! duration_ms = 20000
//! latency_ms = [1, 10]
//! clock_offset_ms_max = 2000
//! finds = ["belief-exclusivity"]
//!
//! [protocol]
//! kind = "naive-lock"
//! ttl_ms = 1000
//!
//! [[faults]]
//! kind = "isolate"     # isolate | pause | crash
//! node = "client-0"
//! at_ms = 5000
//! for_ms = 2000
//! ```
//!
//! A scenario is *within* the protocol's assumptions ([`Assumptions::breaches`] finds
//! nothing) or *beyond* them. Within, every oracle is judged, belief-exclusivity
//! included unless the protocol's own assumptions for it exclude the scenario's faults;
//! beyond, the scenario must say what it `finds`.

use crate::scenario::{breach_list, line_col, locate, node_index, RESOURCE};
use leaseproof_impl::protocol::{DriftBound, LossBound, OffsetBound, SuspendBound};
use leaseproof_impl::{Assumptions, Breach, FaultBounds, OracleName, Protocol};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The most clients a plug-in scenario may have.
pub const MAX_CLIENTS: usize = 16;

/// A bad plug-in scenario: where, which field, why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {field}: {reason}", path.display())]
pub struct PluginScenarioError {
    pub path: PathBuf,
    pub line: usize,
    pub field: String,
    pub reason: String,
}

/// What a scripted fault does to its node for `for_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, strum::Display)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum PluginFaultKind {
    /// Every link to and from the node is cut.
    Isolate,
    /// The node's process is frozen (its core takes no step).
    Pause,
    /// The node crashes and restarts; with `lose_disk` its durable state is lost.
    Crash,
}

/// One scripted fault.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginFault {
    pub kind: PluginFaultKind,
    /// `server`, `resource` or `client-N` (0-based, as in every scenario).
    pub node: String,
    pub at_ms: u64,
    pub for_ms: u64,
    #[serde(default)]
    pub lose_disk: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginFile {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: String,
    clients: usize,
    duration_ms: u64,
    #[serde(default = "default_latency")]
    latency_ms: [u64; 2],
    #[serde(default)]
    loss_ratio: f64,
    #[serde(default)]
    clock_offset_ms_max: u64,
    #[serde(default)]
    drift_ppm_max: u32,
    #[serde(default)]
    faults: Vec<PluginFault>,
    #[serde(default)]
    always: Vec<OracleName>,
    #[serde(default)]
    finds: Vec<OracleName>,
    protocol: toml::Table,
}

fn default_latency() -> [u64; 2] {
    [1, 5]
}

/// A validated plug-in scenario over the protocol's config `C`.
#[derive(Clone, Debug)]
pub struct PluginScenario<C> {
    pub path: PathBuf,
    pub name: String,
    pub clients: usize,
    pub duration_ms: u64,
    pub latency_ms: [u64; 2],
    pub loss_ratio: f64,
    /// Each node's clock offset is drawn from the seed within `±clock_offset_ms_max`.
    pub clock_offset_ms_max: u64,
    /// Each node's drift is drawn from the seed within `±drift_ppm_max`.
    pub drift_ppm_max: u32,
    /// The faults, with their nodes resolved to indices.
    pub faults: Vec<(usize, PluginFault)>,
    /// The oracles judged: every oracle within the assumptions (belief-exclusivity only
    /// where its own assumptions hold), what `always` lists beyond them.
    pub judged: Vec<OracleName>,
    pub finds: Vec<OracleName>,
    /// Why the scenario is beyond the protocol's assumptions (empty: within).
    pub beyond: Vec<Breach>,
    pub protocol: C,
}

impl<C> PluginScenario<C> {
    /// The number of nodes (the layout of [`Protocol`]: authority, resource, clients).
    #[must_use]
    pub fn nodes(&self) -> usize {
        2 + self.clients
    }

    /// Whether the scenario is within the protocol's assumptions.
    #[must_use]
    pub fn within(&self) -> bool {
        self.beyond.is_empty()
    }
}

/// The node index of a node's name in a run with `clients` clients: the reference
/// scenarios' names (`server`, `resource`, `client-0`..), without `holder` (the generic
/// engine aims no fault) and without `resource` for a protocol that has none.
fn node_named<P: Protocol>(name: &str, clients: usize) -> Option<usize> {
    node_index(name, clients).filter(|&i| name != "holder" && (i != RESOURCE || P::HAS_RESOURCE))
}

/// Reads and validates a plug-in scenario file for protocol `P`.
///
/// # Errors
/// The file cannot be read, is not TOML, has an unknown or ill-typed field, names another
/// protocol, has a value out of range, or is beyond the protocol's assumptions without
/// saying what it finds.
pub fn load<P: Protocol>(path: &Path) -> Result<PluginScenario<P::Config>, PluginScenarioError>
where
    P::Config: DeserializeOwned,
{
    let text = std::fs::read_to_string(path).map_err(|e| PluginScenarioError {
        path: path.to_path_buf(),
        line: 1,
        field: "(file)".into(),
        reason: e.to_string(),
    })?;
    parse::<P>(path, &text)
}

/// [`load`] on a file's text.
///
/// # Errors
/// As [`load`].
pub fn parse<P: Protocol>(
    path: &Path,
    text: &str,
) -> Result<PluginScenario<P::Config>, PluginScenarioError>
where
    P::Config: DeserializeOwned,
{
    let err = |line: usize, field: &str, reason: String| PluginScenarioError {
        path: path.to_path_buf(),
        line,
        field: field.to_string(),
        reason,
    };
    let file: PluginFile = toml::from_str(text).map_err(|e| {
        let (line, field) = match e.span() {
            Some(s) => {
                let at = &text[s.clone()];
                let field = at.split(['=', '\n']).next().unwrap_or("").trim();
                (
                    line_col(text, s.start).0,
                    field.trim_matches(['[', ']']).to_string(),
                )
            }
            None => (1, String::new()),
        };
        let field = if field.is_empty() {
            "(file)".into()
        } else {
            field
        };
        err(line, &field, e.message().to_string())
    })?;
    let protocol = protocol_config::<P>(text, file.protocol.clone(), &err)?;
    validate_run(text, &file, &err)?;
    let faults = validate_faults::<P>(text, &file, &err)?;
    let bounds = bounds(&file);
    let beyond = protocol.breaches(&bounds);
    let (judged, finds) = expect(text, &file, &protocol, &bounds, &beyond, &err)?;
    Ok(PluginScenario {
        path: path.to_path_buf(),
        name: file.name,
        clients: file.clients,
        duration_ms: file.duration_ms,
        latency_ms: file.latency_ms,
        loss_ratio: file.loss_ratio,
        clock_offset_ms_max: file.clock_offset_ms_max,
        drift_ppm_max: file.drift_ppm_max,
        faults,
        judged,
        finds,
        beyond,
        protocol,
    })
}

type ErrFn<'a> = dyn Fn(usize, &str, String) -> PluginScenarioError + 'a;

/// The `[protocol]` table: `kind` must name `P`; the rest is `P`'s own config.
fn protocol_config<P: Protocol>(
    text: &str,
    mut table: toml::Table,
    err: &ErrFn<'_>,
) -> Result<P::Config, PluginScenarioError>
where
    P::Config: DeserializeOwned,
{
    let line = |field: &str| locate(text, field).0;
    match table.remove("kind") {
        Some(toml::Value::String(k)) if k == P::NAME => {}
        Some(other) => {
            return Err(err(
                line("protocol.kind"),
                "protocol.kind",
                format!("{other} is not this plug-in's name {:?}", P::NAME),
            ))
        }
        None => {
            return Err(err(
                line("protocol.kind"),
                "protocol.kind",
                format!(
                    "missing: a plug-in scenario names its protocol ({:?})",
                    P::NAME
                ),
            ))
        }
    }
    let cfg: P::Config = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| {
            let msg = e.message().to_string();
            // serde names the offending field in backquotes ("unknown field `x`").
            let field = msg
                .split('`')
                .nth(1)
                .map_or_else(|| "protocol".to_string(), |f| format!("protocol.{f}"));
            err(
                line(&field),
                &field,
                format!("{msg} (protocol {:?})", P::NAME),
            )
        })?;
    P::validate(&cfg).map_err(|e| {
        let field = format!("protocol.{}", e.field);
        err(line(&field), &field, e.reason)
    })?;
    Ok(cfg)
}

fn validate_run(text: &str, f: &PluginFile, err: &ErrFn<'_>) -> Result<(), PluginScenarioError> {
    let at = |k: &str| locate(text, k).0;
    if !(1..=MAX_CLIENTS).contains(&f.clients) {
        return Err(err(
            at("clients"),
            "clients",
            format!("{} is not in 1..={MAX_CLIENTS}", f.clients),
        ));
    }
    if !(1..=3_600_000).contains(&f.duration_ms) {
        return Err(err(
            at("duration_ms"),
            "duration_ms",
            format!("{} ms is not in 1..=3600000", f.duration_ms),
        ));
    }
    let [lo, hi] = f.latency_ms;
    if lo > hi || hi > 60_000 {
        return Err(err(
            at("latency_ms"),
            "latency_ms",
            format!("[{lo}, {hi}] must be [low, high] with low <= high <= 60000"),
        ));
    }
    if !(0.0..1.0).contains(&f.loss_ratio) {
        return Err(err(
            at("loss_ratio"),
            "loss_ratio",
            format!("{} is not in [0, 1)", f.loss_ratio),
        ));
    }
    if f.clock_offset_ms_max > 3_600_000 {
        return Err(err(
            at("clock_offset_ms_max"),
            "clock_offset_ms_max",
            format!("{} ms is above one hour", f.clock_offset_ms_max),
        ));
    }
    if f.drift_ppm_max > 500_000 {
        return Err(err(
            at("drift_ppm_max"),
            "drift_ppm_max",
            format!("{} ppm is above 500000", f.drift_ppm_max),
        ));
    }
    Ok(())
}

fn validate_faults<P: Protocol>(
    text: &str,
    f: &PluginFile,
    err: &ErrFn<'_>,
) -> Result<Vec<(usize, PluginFault)>, PluginScenarioError> {
    let line = |field: &str| locate(text, field).0;
    let mut out = Vec::new();
    for (i, fault) in f.faults.iter().enumerate() {
        let Some(idx) = node_named::<P>(&fault.node, f.clients) else {
            let res = if P::HAS_RESOURCE { "resource, " } else { "" };
            let field = format!("faults[{i}].node");
            return Err(err(
                line(&field),
                &field,
                format!(
                    "{:?} is not a node of this run (server, {res}client-0..client-{})",
                    fault.node,
                    f.clients - 1
                ),
            ));
        };
        if fault.for_ms == 0 || fault.at_ms >= f.duration_ms {
            return Err(err(
                line(&format!("faults[{i}].at_ms")),
                &format!("faults[{i}]"),
                format!(
                    "at_ms {} must be before duration_ms {} and for_ms must be above 0",
                    fault.at_ms, f.duration_ms
                ),
            ));
        }
        if fault.lose_disk && fault.kind != PluginFaultKind::Crash {
            let field = format!("faults[{i}].lose_disk");
            return Err(err(
                line(&field),
                &field,
                "only a crash loses the disk".into(),
            ));
        }
        // Faults on one node do not overlap: the engine reverts each at its end, which
        // would end an overlapping one early.
        let end = |f: &PluginFault| f.at_ms + f.for_ms;
        let overlap = out.iter().position(|(other, g): &(usize, PluginFault)| {
            *other == idx && fault.at_ms < end(g) && g.at_ms < end(fault)
        });
        if let Some(j) = overlap {
            return Err(err(
                line(&format!("faults[{i}].at_ms")),
                &format!("faults[{i}]"),
                format!(
                    "overlaps faults[{j}] on {}: faults on one node must not overlap",
                    fault.node
                ),
            ));
        }
        out.push((idx, fault.clone()));
    }
    Ok(out)
}

/// The scenario's configured faults, as the bounds a protocol's assumptions judge.
fn bounds(f: &PluginFile) -> FaultBounds {
    let mut b = FaultBounds::default();
    if f.drift_ppm_max > 0 {
        b.drift.push(DriftBound {
            field: "drift_ppm_max".into(),
            ppm: f.drift_ppm_max,
        });
    }
    if f.clock_offset_ms_max > 0 {
        b.offsets.push(OffsetBound {
            field: "clock_offset_ms_max".into(),
            ms: f.clock_offset_ms_max,
        });
    }
    for (i, fault) in f.faults.iter().enumerate() {
        if fault.kind == PluginFaultKind::Pause {
            b.suspends.push(SuspendBound {
                field: format!("faults[{i}].kind"),
                what: "a pause".into(),
            });
        }
        if fault.lose_disk {
            b.losses.push(LossBound {
                field: format!("faults[{i}].lose_disk"),
                what: format!("durable state of {}", fault.node),
            });
        }
    }
    b
}

/// The oracles judged and the findings asked for. Within the assumptions every oracle is
/// judged, belief-exclusivity too unless its own assumptions exclude the faults (then it
/// is judged only if `always` names it, which is refused). Beyond them, `finds` must be
/// given, and `always` lists what is still claimed.
fn expect<C: Assumptions>(
    text: &str,
    f: &PluginFile,
    cfg: &C,
    bounds: &FaultBounds,
    beyond: &[Breach],
    err: &ErrFn<'_>,
) -> Result<(Vec<OracleName>, Vec<OracleName>), PluginScenarioError> {
    for (field, list) in [("always", &f.always), ("finds", &f.finds)] {
        if let Some(o) = list.iter().find(|o| !o.is_safety()) {
            return Err(err(
                locate(text, field).0,
                field,
                format!(
                    "{o}: the generic engine judges safety oracles only (no liveness phase yet)"
                ),
            ));
        }
    }
    for &o in &f.always {
        let why = cfg.oracle_breaches(o, bounds);
        if !why.is_empty() {
            return Err(err(
                locate(text, "always").0,
                "always",
                format!(
                    "{o} is outside the protocol's assumptions for it ({})",
                    breach_list(&why)
                ),
            ));
        }
        if f.finds.contains(&o) {
            return Err(err(
                locate(text, "always").0,
                "always",
                format!("{o} is also in finds"),
            ));
        }
    }
    if !beyond.is_empty() && f.finds.is_empty() {
        return Err(err(
            locate(text, "finds").0,
            "finds",
            format!(
                "the scenario is beyond the protocol's assumptions ({}): say which oracle it finds",
                breach_list(beyond)
            ),
        ));
    }
    // Within: every safety oracle the protocol claims here (what `always` lists is among
    // them: one outside its own assumptions was refused above).
    let safety = OracleName::ALL.iter().copied().filter(|o| o.is_safety());
    let mut judged: Vec<OracleName> = if beyond.is_empty() {
        safety
            .filter(|&o| cfg.oracle_breaches(o, bounds).is_empty())
            .collect()
    } else {
        f.always.clone()
    };
    for &o in &f.finds {
        if !judged.contains(&o) {
            judged.push(o);
        }
    }
    Ok((judged, f.finds.clone()))
}
