//! The bug catalog, in one place: every known-bug variant caught by the simulator (seeds to
//! the first failure, over 20 start seeds: `leaseproof_sim::search`) and by the model
//! checker (to the first counterexample, at the variant's bounds:
//! `leaseproof_model::variants`), each failing seed shrunk to a minimal plan; the correct
//! twins pass. `leaseproof catalog` runs it.

use anyhow::Context;
use leaseproof_impl::Variant;
use leaseproof_model::check::{check, CheckOptions};
use leaseproof_model::LeaseModel;
use leaseproof_sim::run::RunOptions;
use leaseproof_sim::scenario::Scenario;
use leaseproof_sim::search::{median_max, searches};
use leaseproof_sim::shard::{Header, Partial, ShardSpec};
use leaseproof_sim::shrink::shrink;
use leaseproof_sim::verdict::{judge, run_many, EXIT_OK, EXIT_SAFETY};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Searches per variant, and the seed bound of each.
pub const SEARCHES: u64 = 20;
pub const MAX_SEEDS: u64 = 200;
/// The model check of one variant stops after this long (reported as not found).
pub const MODEL_BUDGET_S: u64 = 60;

#[derive(Debug, Serialize, Deserialize)]
pub struct Row {
    pub variant: String,
    pub bug_class: String,
    /// The oracle(s) the variant must trip (its scenario's `finds`).
    pub oracle: String,
    pub scenario: String,
    /// Every one of the 20 searches tripped it within 200 seeds.
    pub sim_found: bool,
    pub sim_searches_found: u64,
    pub sim_seeds_median: u64,
    pub sim_seeds_max: u64,
    pub model_found: bool,
    pub model_property: String,
    pub model_bounds: String,
    /// Unique states explored until the first counterexample (or the end).
    pub model_states: usize,
    pub model_generated: usize,
    pub model_seconds: f64,
    /// Steps of the model's counterexample.
    pub trace_len: usize,
    /// The simulator's first failing seed, shrunk: one line per remaining fault event.
    pub shrunk_plan: Vec<String>,
    pub shrunk_scenario: Option<String>,
    pub shrunk_confirmed: bool,
    /// The correct twin under the same faults, and whether every seed of it passed.
    pub twin: String,
    pub twin_seeds: usize,
    pub twin_passed: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Reproduction {
    pub what: String,
    pub scenario: String,
    pub found: Option<u64>,
    pub oracle: String,
    pub twin: String,
    pub twin_passed: bool,
}

/// A real system's finding (`protocols/`), by both checkers where the model can express
/// it: its scenario searched to the first failing seed, its twin (the fix, or the same
/// faults inside the envelope) run, its model check to its counterexample.
#[derive(Debug, Serialize, Deserialize)]
pub struct RealFinding {
    pub protocol: String,
    pub what: String,
    pub scenario: Option<String>,
    pub oracle: String,
    pub found: Option<u64>,
    pub twin: Option<String>,
    pub twin_passed: bool,
    /// `leaseproof check --protocol P --variant NAME`, when the model can express it.
    pub model_command: Option<String>,
    pub model_found: Option<bool>,
    pub model_states: usize,
    /// Why a half is missing (a model that cannot express the fault, no scenario yet).
    pub note: String,
}

#[derive(Debug, Serialize)]
pub struct Catalog {
    pub variants: Vec<Row>,
    pub reproductions: Vec<Reproduction>,
    pub real_systems: Vec<RealFinding>,
    pub seconds: f64,
}

fn load<P: leaseproof_impl::Protocol>(p: &Path) -> anyhow::Result<Scenario<P>> {
    Scenario::<P>::load_protocol(p).map_err(|e| anyhow::anyhow!("{e}"))
}

fn twin_passes<P: leaseproof_impl::Protocol>(tw: &Scenario<P>, jobs: usize) -> (usize, bool) {
    let seeds = tw.run_seeds(0, None);
    let rep = judge(
        tw,
        &run_many(tw, &seeds, jobs, RunOptions::default(), &|_| {}),
        &[],
    );
    (seeds.len(), rep.exit == EXIT_OK)
}

/// What the model checker said about one variant at its catalog bounds.
#[derive(Debug, Serialize, Deserialize)]
pub struct ModelResult {
    /// A bug variant: its property has a counterexample. The correct protocol: the check
    /// finished and every safety property holds.
    verdict: bool,
    property: String,
    bounds: String,
    unique: usize,
    generated: usize,
    seconds: f64,
    trace_len: usize,
}

#[allow(clippy::disallowed_methods)] // the model's time budget is wall time, by design
fn model_row(v: Variant, jobs: usize) -> anyhow::Result<ModelResult> {
    let (mc, prop) = leaseproof_model::variants::bounds(v);
    let m = LeaseModel::new(mc).map_err(|e| anyhow::anyhow!(e))?;
    // The correct protocol is checked against every property; a variant, to the first
    // counterexample of the one it must break.
    let m = if v == Variant::Correct {
        m
    } else {
        m.with_target(prop).map_err(|e| anyhow::anyhow!(e))?
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(MODEL_BUDGET_S);
    // A search to the first counterexample on several threads stops wherever the first
    // thread to find one was: its counts and path change from run to run. One thread makes
    // them a function of the model, so the committed catalog is reproducible. The correct
    // protocol's exhaustive check counts the same on any number of threads.
    let threads = if v == Variant::Correct { jobs } else { 1 };
    let r = check(
        m,
        CheckOptions {
            threads,
            symmetry: mc.clients > 1,
            bfs: false,
        },
        &|_, _| {},
        &|| std::time::Instant::now() > deadline,
    );
    let p = &r.properties[prop];
    let correct = v == Variant::Correct;
    Ok(ModelResult {
        verdict: if correct {
            r.complete && !r.safety_failed()
        } else {
            !p.holds
        },
        property: if correct {
            "every safety property".into()
        } else {
            prop.to_string()
        },
        bounds: mc.to_string(),
        unique: r.unique,
        generated: r.states,
        seconds: r.seconds,
        trace_len: p.trace.len(),
    })
}

/// Runs the whole catalog; `progress` hears one line per step.
pub fn run(root: &Path, jobs: usize, progress: &dyn Fn(&str)) -> anyhow::Result<Catalog> {
    #[allow(clippy::disallowed_methods)] // wall time of the catalog, for the report only
    let started = std::time::Instant::now();
    let all = ShardSpec { index: 1, count: 1 };
    let part = run_units(root, jobs, all, progress)?;
    let mut cat = assemble(vec![part])?;
    cat.seconds = started.elapsed().as_secs_f64();
    Ok(cat)
}

/// The catalog's units of work, in report order: each bug variant (its searches, shrink,
/// twin and model check stay together), the correct protocol's model check, then each
/// published reproduction. A shard owns the units whose position is its index modulo N.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Variant(Variant),
    Correct,
    Reproduction(usize),
    RealSystem(usize),
}

/// Every unit, in report order.
#[must_use]
pub fn units() -> Vec<Unit> {
    Variant::ALL
        .iter()
        .copied()
        .filter(|v| *v != Variant::Correct)
        .map(Unit::Variant)
        .chain([Unit::Correct])
        .chain((0..REPRODUCTIONS.len()).map(Unit::Reproduction))
        .chain((0..REAL_SYSTEMS.len()).map(Unit::RealSystem))
        .collect()
}

/// A catalog shard's partial file: the rows of the units it owns, the shrunk scenarios it
/// wrote (the merge writes them where one run would have), and its wall time.
#[derive(Debug, Serialize, Deserialize)]
pub struct CatalogPartial {
    /// Format, version, build, command and shard (first in the file).
    pub header: Header,
    /// `scenarios/bugs/` file names and content hashes: equal in every shard.
    pub inputs: Vec<(String, String)>,
    pub rows: Vec<Row>,
    pub correct: Option<ModelResult>,
    pub reproductions: Vec<(usize, Reproduction)>,
    #[serde(default)]
    pub real_systems: Vec<(usize, RealFinding)>,
    /// (path relative to the root, text) of each shrunk scenario written.
    pub shrunk: Vec<(String, String)>,
    pub seconds: f64,
}

impl Partial for CatalogPartial {
    const COMMAND: &'static str = "catalog";
    fn header(&self) -> &Header {
        &self.header
    }
    fn identity(&self) -> Vec<(&'static str, String)> {
        let inputs = self
            .inputs
            .iter()
            .map(|(f, h)| format!("{f}@{h}"))
            .collect::<Vec<_>>()
            .join(", ");
        vec![("the bug scenarios (file@content hash)", inputs)]
    }
    fn self_check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The files of `scenarios/bugs/` with their content hashes.
fn inputs(bugs: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let entries = leaseproof_sim::scenario::discover(&[bugs.to_path_buf()])
        .with_context(|| format!("reading {}", bugs.display()))?;
    for p in entries {
        let bytes = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        out.push((
            name.unwrap_or_default(),
            leaseproof_sim::scenario::content_hash(&bytes),
        ));
    }
    Ok(out)
}

/// Runs the units shard `spec` owns.
pub fn run_units(
    root: &Path,
    jobs: usize,
    spec: ShardSpec,
    progress: &dyn Fn(&str),
) -> anyhow::Result<CatalogPartial> {
    let bugs = root.join("scenarios").join("bugs");
    let mut part = CatalogPartial {
        header: Header::new(crate::BUILD_ID, CatalogPartial::COMMAND, spec),
        inputs: inputs(&bugs)?,
        rows: Vec::new(),
        correct: None,
        reproductions: Vec::new(),
        real_systems: Vec::new(),
        shrunk: Vec::new(),
        seconds: 0.0,
    };
    for (k, unit) in units().into_iter().enumerate() {
        if !spec.owns(k) {
            continue;
        }
        match unit {
            Unit::Variant(v) => {
                let row = variant_row(root, &bugs, v, jobs, progress)?;
                if let Some(f) = &row.shrunk_scenario {
                    let text = std::fs::read_to_string(root.join(f))
                        .with_context(|| format!("reading {f}"))?;
                    part.shrunk.push((f.clone(), text));
                }
                part.rows.push(row);
            }
            Unit::Correct => {
                progress("correct: model checker (the main job's bounds)");
                part.correct = Some(model_row(Variant::Correct, jobs)?);
            }
            Unit::Reproduction(i) => {
                part.reproductions
                    .push((i, reproduction(root, &bugs, i, jobs, progress)?));
            }
            Unit::RealSystem(i) => {
                part.real_systems
                    .push((i, real_finding(root, i, jobs, progress)?));
            }
        }
    }
    Ok(part)
}

/// The catalog from the partials of all its shards: the rows in report order, the correct
/// protocol's row from every twin and its model check, the reproductions in order.
pub fn assemble(parts: Vec<CatalogPartial>) -> anyhow::Result<Catalog> {
    let seconds = parts.iter().map(|p| p.seconds).sum();
    let mut rows: Vec<Row> = Vec::new();
    let mut correct = None;
    let mut repros: Vec<(usize, Reproduction)> = Vec::new();
    let mut real: Vec<(usize, RealFinding)> = Vec::new();
    for p in parts {
        rows.extend(p.rows);
        correct = correct.or(p.correct);
        repros.extend(p.reproductions);
        real.extend(p.real_systems);
    }
    real.sort_by_key(|(i, _)| *i);
    let order = |name: &str| {
        Variant::ALL
            .iter()
            .position(|v| v.name() == name)
            .unwrap_or(usize::MAX)
    };
    rows.sort_by_key(|r| order(&r.variant));
    repros.sort_by_key(|(i, _)| *i);
    let model =
        correct.ok_or_else(|| anyhow::anyhow!("no shard ran the correct protocol's check"))?;
    let correct = correct_row(&rows, model);
    rows.push(correct);
    Ok(Catalog {
        variants: rows,
        reproductions: repros.into_iter().map(|(_, r)| r).collect(),
        real_systems: real.into_iter().map(|(_, r)| r).collect(),
        seconds,
    })
}

/// One variant: searched by the simulator from every start seed, its first failing seed
/// shrunk, its twin run, and the model checker to its first counterexample.
fn variant_row(
    root: &Path,
    bugs: &Path,
    v: Variant,
    jobs: usize,
    progress: &dyn Fn(&str),
) -> anyhow::Result<Row> {
    progress(&format!("{v}: simulator"));
    let path = bugs.join(format!("{}.toml", v.name()));
    let sc: Scenario = load(&path)?;
    if sc.finds.is_empty() || sc.config.variant != v {
        anyhow::bail!(
            "{}: a catalog scenario must run variant {v} and name what it finds",
            path.display()
        );
    }
    let s = searches(&sc, &sc.finds, SEARCHES, MAX_SEEDS, jobs);
    let (median, max) = median_max(&s, MAX_SEEDS);
    let found_n = s.iter().filter(|x| x.seeds_to_find.is_some()).count() as u64;
    progress(&format!("{v}: shrinking"));
    let (shrunk_plan, shrunk_scenario, shrunk_confirmed) =
        shrink_first(root, &sc, s.iter().find_map(|x| x.first_failing_seed))?;
    progress(&format!("{v}: correct twin"));
    let twin_path = bugs.join(format!("{}-twin.toml", v.name()));
    let tw: Scenario = load(&twin_path)?;
    let (twin_seeds, twin_passed) = twin_passes(&tw, jobs);
    progress(&format!("{v}: model checker"));
    let model = model_row(v, jobs)?;
    Ok(Row {
        variant: v.name().into(),
        bug_class: v.bug_class().into(),
        oracle: finds(&sc),
        scenario: rel(root, &path),
        sim_found: found_n == SEARCHES,
        sim_searches_found: found_n,
        sim_seeds_median: median,
        sim_seeds_max: max,
        model_found: model.verdict,
        model_property: model.property,
        model_bounds: model.bounds,
        model_states: model.unique,
        model_generated: model.generated,
        model_seconds: model.seconds,
        trace_len: model.trace_len,
        shrunk_plan,
        shrunk_scenario,
        shrunk_confirmed,
        twin: rel(root, &twin_path),
        twin_seeds,
        twin_passed,
    })
}

/// The first failing seed shrunk and written to `reports/shrunk/`: its plan, the file and
/// whether re-running it confirmed the failure.
fn shrink_first(
    root: &Path,
    sc: &Scenario,
    seed: Option<u64>,
) -> anyhow::Result<(Vec<String>, Option<String>, bool)> {
    let Some(seed) = seed else {
        return Ok((Vec::new(), None, false));
    };
    Ok(match shrink(sc, seed, None) {
        Ok(sh) => {
            let file = sh
                .write(&root.join("reports").join("shrunk"))
                .context("writing a shrunk scenario")?;
            (sh.minimal, Some(rel(root, &file)), sh.confirmed)
        }
        Err(e) => (vec![format!("not shrunk: {e}")], None, false),
    })
}

/// The correct protocol: every twin passed, and the model check at the main job's bounds
/// holds.
fn correct_row(rows: &[Row], model: ModelResult) -> Row {
    let twins_ok = rows.iter().all(|r| r.twin_passed);
    Row {
        variant: "correct".into(),
        bug_class: "-".into(),
        oracle: "every oracle holds".into(),
        scenario: "every *-twin.toml".into(),
        sim_found: false,
        sim_searches_found: 0,
        sim_seeds_median: 0,
        sim_seeds_max: 0,
        model_found: false,
        model_property: model.property,
        model_bounds: model.bounds,
        model_states: model.unique,
        model_generated: model.generated,
        model_seconds: model.seconds,
        trace_len: 0,
        shrunk_plan: Vec::new(),
        shrunk_scenario: None,
        shrunk_confirmed: false,
        twin: "every *-twin.toml".into(),
        twin_seeds: rows.iter().map(|r| r.twin_seeds).sum(),
        twin_passed: twins_ok && model.verdict,
    }
}

/// Published results: each bug scenario must trip its oracle, its fix must pass.
const REPRODUCTIONS: [(&str, &str, &str); 2] = [
    (
        "Kleppmann (2016): a client stalled past its lease writes after the next holder; \
         without fencing the storage accepts it, with fencing it rejects it",
        "kleppmann-pause.toml",
        "kleppmann-pause-fenced.toml",
    ),
    (
        "Jepsen, etcd 3.4.3 (2020): a lock handed back after its lease lapsed",
        "jepsen-etcd-3.4.3.toml",
        "jepsen-etcd-3.4.3-fixed.toml",
    ),
];

/// Reproduction `i`: its bug scenario searched to the first failing seed, its fix run.
fn reproduction(
    root: &Path,
    bugs: &Path,
    i: usize,
    jobs: usize,
    progress: &dyn Fn(&str),
) -> anyhow::Result<Reproduction> {
    let (what, bug, twin) = REPRODUCTIONS[i];
    progress(&format!("reproduction: {bug}"));
    let sc: Scenario = load(&bugs.join(bug))?;
    let s = leaseproof_sim::search::search(&sc, &sc.finds, 0, MAX_SEEDS, jobs);
    let tw: Scenario = load(&bugs.join(twin))?;
    let (_, twin_passed) = twin_passes(&tw, jobs);
    Ok(Reproduction {
        what: what.into(),
        scenario: rel(root, &bugs.join(bug)),
        found: s.first_failing_seed,
        oracle: finds(&sc),
        twin: rel(root, &bugs.join(twin)),
        twin_passed,
    })
}

/// One real system's finding: its scenario and twin under `protocols/scenarios/<protocol>/`
/// (none where only the model shows it), its named model check (none where the model
/// cannot express the fault), and why a half is missing.
struct RealCase {
    protocol: &'static str,
    what: &'static str,
    scenario: Option<&'static str>,
    twin: Option<&'static str>,
    check: Option<&'static str>,
    note: &'static str,
}

/// The real systems' findings (docs/protocols/k8s.md, docs/protocols/dynamodb.md).
const REAL_SYSTEMS: [RealCase; 11] = [
    RealCase {
        protocol: "k8s",
        what: "a leader paused past the envelope keeps leading for a whole RenewDeadline \
               after it resumes: two leaders",
        scenario: Some("paused-leader.toml"),
        twin: Some("within-envelope.toml"),
        check: Some("paused"),
        note: "the twin is client-go inside its envelope; no setting of client-go stops the \
               belief (fencing stops the write: stalled-write-fenced.toml)",
    },
    RealCase {
        protocol: "k8s",
        what: "a write stalled past the envelope after its context check is accepted \
               stale by an unfenced resource",
        scenario: Some("stalled-write.toml"),
        twin: Some("stalled-write-fenced.toml"),
        check: None,
        note: "simulator only: a model pause that holds the write (pause_holds_sends) \
               finds the resumed leader's own later writes first (the paused-leader \
               finding), not the held one",
    },
    RealCase {
        protocol: "k8s",
        what: "ReleaseOnCancel frees the lease before the guarded work's context is \
               cancelled: two actors",
        scenario: Some("release-on-cancel.toml"),
        twin: Some("release-on-cancel-off.toml"),
        check: Some("release-on-cancel"),
        note: "",
    },
    RealCase {
        protocol: "k8s",
        what: "clock rates beyond the envelope (±12 %; it claims ±7.08 %): a slow leader \
               cut off still acts when a fast candidate's lease has run out",
        scenario: Some("skewed-clocks.toml"),
        twin: Some("skewed-clocks-inside.toml"),
        check: Some("skew-beyond"),
        note: "the twin runs the same cut-offs at ±6 %, inside the envelope",
    },
    RealCase {
        protocol: "k8s",
        what: "leaseTransitions as a fencing token: a restarted elector keeps it, so a \
               late write of its old tenure is accepted (the acquiring resourceVersion \
               holds: check --protocol k8s --variant fenced-by-resource-version)",
        scenario: Some("transitions-token.toml"),
        twin: Some("restarted-elector-fenced.toml"),
        check: Some("fenced-by-transitions"),
        note: "the twin fences with the acquiring resourceVersion, the fix",
    },
    RealCase {
        protocol: "k8s",
        what: "a restarted elector leads again at once under its stable identity: a write \
               its previous process left in flight lands after the new one's first and is \
               accepted stale",
        scenario: Some("restarted-elector.toml"),
        twin: Some("restarted-elector-later.toml"),
        check: Some("restarted-elector"),
        note: "the twin restarts slower than any flight, inside the envelope; \
               restarted-elector-fenced.toml is the fix",
    },
    RealCase {
        protocol: "dynamodb",
        what: "a write stalled after its isExpired() check is accepted stale (the RVN \
               is a UUID: no fencing)",
        scenario: Some("stalled-write.toml"),
        twin: Some("within-envelope.toml"),
        check: Some("paused"),
        note: "the model's pause holds the write decided before it (pause_holds_sends)",
    },
    RealCase {
        protocol: "dynamodb",
        what: "a holder clock slower than the waiter's: two holders",
        scenario: Some("slow-holder-clock.toml"),
        twin: Some("within-envelope.toml"),
        check: Some("slow-holder-clock"),
        note: "the model's clocks at ±10 %; at one rate its same bounds hold",
    },
    RealCase {
        protocol: "dynamodb",
        what: "503s counted as heartbeats (holdLockOnServiceUnavailable): two holders",
        scenario: Some("unavailable.toml"),
        twin: Some("within-envelope.toml"),
        check: Some("hold-on-unavailable"),
        note: "",
    },
    RealCase {
        protocol: "dynamodb",
        what: "a counter RVN with delete-on-release repeats: a waiter takes a live lock \
               and the new holder's writes are refused",
        scenario: Some("counter-rvn-deleted.toml"),
        twin: Some("counter-rvn-kept.toml"),
        check: Some("counter-rvn-deleted"),
        note: "the twin keeps the item across release (isReleased), the fix; in the model \
               too (check --protocol dynamodb --variant counter-rvn-kept holds)",
    },
    RealCase {
        protocol: "dynamodb",
        what: "a counter RVN with delete-on-release: a write in flight at release lands \
               after the next holder's counter caught up and is accepted stale",
        scenario: Some("counter-rvn-in-flight.toml"),
        twin: Some("counter-rvn-in-flight-kept.toml"),
        check: None,
        note: "simulator only: the model's counter checks deliver a message within a tick, \
               and this one outlives a release and two heartbeats of the next holder",
    },
];

/// A real system's finding scenario searched to its first failing seed (within
/// [`MAX_SEEDS`]), with the oracles it finds.
fn real_search<P: leaseproof_impl::Protocol>(
    path: &Path,
    jobs: usize,
) -> anyhow::Result<(Option<u64>, String)> {
    let sc = load::<P>(path)?;
    let s = leaseproof_sim::search::search(&sc, &sc.finds, 0, MAX_SEEDS, jobs);
    Ok((s.first_failing_seed, finds(&sc)))
}

/// Real-system finding `i`: its scenario's first failing seed, its twin, its model check.
fn real_finding(
    root: &Path,
    i: usize,
    jobs: usize,
    progress: &dyn Fn(&str),
) -> anyhow::Result<RealFinding> {
    let c = &REAL_SYSTEMS[i];
    let dir = root.join("protocols").join("scenarios").join(c.protocol);
    progress(&format!(
        "{}: {}",
        c.protocol,
        c.scenario.or(c.check).unwrap_or("-")
    ));
    let no_system = || anyhow::anyhow!("no protocol {:?}", c.protocol);
    let (found, oracle) = match c.scenario {
        Some(f) => crate::with_real_system!(
            c.protocol,
            |P| real_search::<P>(&dir.join(f), jobs)?,
            else return Err(no_system())
        ),
        None => (None, String::new()),
    };
    let twin_passed = match c.twin {
        Some(f) => crate::with_real_system!(
            c.protocol,
            |P| twin_passes(&load::<P>(&dir.join(f))?, jobs).1,
            else return Err(no_system())
        ),
        None => true,
    };
    let model = c
        .check
        .map(|name| {
            leaseproof_protocols::checks::run(c.protocol, name)
                .ok_or_else(|| anyhow::anyhow!("{}: no check {name}", c.protocol))
        })
        .transpose()?;
    Ok(RealFinding {
        protocol: c.protocol.into(),
        what: c.what.into(),
        scenario: c.scenario.map(|f| rel(root, &dir.join(f))),
        oracle: if oracle.is_empty() {
            "belief-exclusivity or stale-write-accepted (model)".into()
        } else {
            oracle
        },
        found,
        twin: c.twin.map(|f| rel(root, &dir.join(f))),
        twin_passed,
        model_command: c
            .check
            .map(|n| format!("leaseproof check --protocol {} --variant {n}", c.protocol)),
        model_found: model
            .as_ref()
            .map(leaseproof_model::plugin::PluginCheckReport::safety_failed),
        model_states: model.as_ref().map_or(0, |r| r.unique_states),
        note: c.note.into(),
    })
}

/// The oracles a scenario must find, comma-separated.
fn finds<P: leaseproof_impl::Protocol>(sc: &Scenario<P>) -> String {
    sc.finds
        .iter()
        .map(|o| o.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// One variant's row of the catalog table.
fn variant_line(r: &Row) -> String {
    let correct = r.variant == "correct";
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {:.1} | {} | {} | {} |",
        r.variant,
        r.bug_class,
        r.oracle,
        if correct {
            "- (nothing to find)".to_string()
        } else {
            format!(
                "{} ({}/{})",
                if r.sim_found { "yes" } else { "NO" },
                r.sim_searches_found,
                SEARCHES
            )
        },
        if correct {
            "-".into()
        } else {
            format!("{} / {}", r.sim_seeds_median, r.sim_seeds_max)
        },
        if correct {
            if r.twin_passed {
                "holds (exhaustive)"
            } else {
                "FAILS"
            }
        } else if r.model_found {
            "counterexample"
        } else {
            "NOT FOUND"
        },
        r.model_states,
        r.model_seconds,
        if correct {
            "-".into()
        } else {
            r.trace_len.to_string()
        },
        if correct {
            "-".into()
        } else if r.shrunk_plan.is_empty() {
            if r.shrunk_confirmed {
                "no fault event needed".into()
            } else {
                "-".into()
            }
        } else {
            r.shrunk_plan.join("; ")
        },
        if r.twin_passed {
            format!("passes ({} seeds)", r.twin_seeds)
        } else {
            "FAILS".into()
        }
    )
}

impl Catalog {
    /// Exit 0 when every variant is caught by both checkers and every twin passes.
    #[must_use]
    pub fn exit(&self) -> u8 {
        let ok =
            self.variants.iter().all(|r| {
                r.twin_passed && (r.variant == "correct" || (r.sim_found && r.model_found))
            }) && self
                .reproductions
                .iter()
                .all(|r| r.found.is_some() && r.twin_passed)
                && self.real_systems.iter().all(|r| {
                    (r.scenario.is_none() || r.found.is_some())
                        && r.twin_passed
                        && r.model_found != Some(false)
                });
        if ok {
            EXIT_OK
        } else {
            EXIT_SAFETY
        }
    }

    #[must_use]
    pub fn markdown(&self) -> String {
        let mut s = String::from(
            "# Bug catalog\n\nWritten by `cargo run --release -- catalog`. Each known-bug variant \
             runs its scenario in `scenarios/bugs/` (faults a deployment sees, not a script of \
             the bug) from 20 start seeds until the first seed that trips its oracle (at most \
             200 seeds each), and the model checker runs it to the first counterexample. The \
             first failing seed is shrunk to a minimal fault plan (written to \
             `reports/shrunk/` and confirmed by running it). Each variant has a twin with the \
             same faults and the correct protocol, which must pass every seed.\n\n",
        );
        let _ = writeln!(
            s,
            "| variant | bug class | oracle | sim: found in all 20 | seeds to find, median / max | model | model unique states | model s | trace steps | minimal plan | correct twin |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
        for r in &self.variants {
            let _ = writeln!(s, "{}", variant_line(r));
        }
        s.push_str("\n## Model bounds per variant\n\n");
        for r in &self.variants {
            let _ = writeln!(
                s,
                "- **{}** ({}): {}",
                r.variant, r.model_property, r.model_bounds
            );
        }
        s.push_str("\n## Shrunk scenarios\n\n");
        for r in self.variants.iter().filter(|r| r.shrunk_scenario.is_some()) {
            let _ = writeln!(
                s,
                "- {}: `{}`{}",
                r.variant,
                r.shrunk_scenario.as_deref().unwrap_or_default(),
                if r.shrunk_confirmed {
                    ""
                } else {
                    " (NOT confirmed)"
                }
            );
        }
        s.push_str("\n## Published results reproduced\n\n");
        for r in &self.reproductions {
            let _ = writeln!(
                s,
                "- {}: `{}` {}; the fix, `{}`, {}.",
                r.what,
                r.scenario,
                match r.found {
                    Some(seed) => format!("trips {} (first at seed {seed})", r.oracle),
                    None => format!("does NOT trip {} in {MAX_SEEDS} seeds", r.oracle),
                },
                r.twin,
                if r.twin_passed {
                    "passes every seed"
                } else {
                    "FAILS"
                }
            );
        }
        s.push_str(&self.real_markdown());
        let _ = writeln!(s, "\nThe whole catalog took {:.0} s.", self.seconds);
        s
    }

    /// The real systems' findings: scenario (first failing seed), twin, model check.
    fn real_markdown(&self) -> String {
        let mut s = String::from(
            "\n## Real systems' findings\n\nEach real system (`protocols/`, run by its own \
             rules) with what the checkers found: the finding's scenario searched to its first \
             failing seed (at most 200), its twin (the fix, or the same faults inside the \
             envelope) run over its seeds, and its model check (`leaseproof check --protocol \
             P --variant NAME`) to its counterexample, where the model can express the fault.\n\n\
             | system | finding | scenario: first failing seed | twin | model | note |\n\
             |---|---|---|---|---|---|\n",
        );
        for r in &self.real_systems {
            let sim = match (&r.scenario, r.found) {
                (None, _) => "-".to_string(),
                (Some(f), Some(seed)) => format!("`{f}`: {} (seed {seed})", r.oracle),
                (Some(f), None) => format!("`{f}`: NOT FOUND in {MAX_SEEDS} seeds"),
            };
            let twin = match &r.twin {
                None => "-".to_string(),
                Some(f) => format!("`{f}`: {}", if r.twin_passed { "passes" } else { "FAILS" }),
            };
            let model = match (&r.model_command, r.model_found) {
                (Some(cmd), Some(true)) => {
                    format!("`{cmd}`: counterexample ({} states)", r.model_states)
                }
                (Some(cmd), _) => format!("`{cmd}`: NOT FOUND"),
                _ => "-".to_string(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {sim} | {twin} | {model} | {} |",
                r.protocol, r.what, r.note
            );
        }
        s
    }

    pub fn write(&self, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let json = dir.join("bug-catalog.json");
        std::fs::write(&json, serde_json::to_string_pretty(self)? + "\n")
            .with_context(|| format!("writing {}", json.display()))?;
        let md = dir.join("bug-catalog.md");
        std::fs::write(&md, self.markdown())
            .with_context(|| format!("writing {}", md.display()))?;
        Ok(vec![json, md])
    }
}
