//! Sharded runs: a deterministic split of a run's (scenario, seed) work into N shards that
//! run anywhere (a CI matrix, a Kubernetes Indexed Job), each writing a partial file of
//! per-seed records; a merge recomputes every aggregate from those records in (scenario,
//! seed) order and so writes exactly the reports one machine would have written.
//!
//! The split: the run's seeds are numbered in order (scenarios in discovery order, each
//! scenario's seeds in `run_seeds` order) from 0, and shard `I/N` owns the seeds whose number
//! is `I - 1` modulo N. Round-robin over the whole list spreads every scenario's cost evenly
//! (a 1,000-seed swarm lands on every shard), and the owner of a seed is a function of the
//! inputs alone. The shard that owns a seed also runs its determinism re-run, and records
//! the timeline of its lowest failing seeds (a traced re-run), so the merge renders the
//! timelines the unsharded run would have drawn without simulating anything.
//!
//! What a merge refuses (bad input, exit 2, naming the file): a file that is not a partial
//! file or does not parse, a partial file of another format version, shards of different
//! builds, commands, parameters, shard counts or scenario contents, a shard missing or
//! given twice, a seed missing or recorded twice.

use crate::metrics::RunMetrics;
use crate::run::{run_seed_isolated, RunOptions, SeedResult};
use crate::scenario::Scenario;
use crate::timeline::Timeline;
use crate::traced::TIMELINES_PER_SCENARIO;
use crate::tune::{
    measure, report, CellResult, CellRun, GridFile, PluginCell, TuneOptions, TuneReport,
};
use crate::verdict::{judge, run_many, ScenarioReport, DETERMINISM_RERUNS};
use crate::world::Found;
use leaseproof_impl::{Protocol, Reference, Violation};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// What the first field of a partial file says.
pub const PARTIAL_FORMAT: &str = "leaseproof-partial";
/// Bumped on any change to the partial file's fields.
pub const PARTIAL_VERSION: u32 = 1;

/// `--shard I/N`: the I-th of N shards, 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ShardSpec {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for ShardSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<ShardSpec, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not I/N (e.g. 1/4: the first of four shards)"))?;
        let num = |x: &str, what: &str| {
            x.trim()
                .parse::<u32>()
                .map_err(|_| format!("{s:?}: the {what} {x:?} is not a whole number"))
        };
        let (index, count) = (num(i, "shard index")?, num(n, "shard count")?);
        if count == 0 {
            return Err(format!("{s:?}: the shard count must be at least 1"));
        }
        if index == 0 || index > count {
            return Err(format!(
                "{s:?}: the shard index runs from 1 to the shard count ({count})"
            ));
        }
        Ok(ShardSpec { index, count })
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Serialize for ShardSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ShardSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl ShardSpec {
    /// Whether this shard owns the work item numbered `k` (0-based, in run order).
    #[must_use]
    pub fn owns(&self, k: usize) -> bool {
        k % self.count as usize == (self.index - 1) as usize
    }

    /// The partial file's name in a shard's folder.
    #[must_use]
    pub fn file_name(&self) -> String {
        format!("shard-{}-of-{}.json", self.index, self.count)
    }
}

/// One seed as a shard recorded it: everything `judge` reads, and with a traced re-run the
/// timeline the report draws. The plan is not kept (a replay derives it from the seed).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeedRecord {
    pub seed: u64,
    pub found: Vec<Found>,
    pub liveness: Option<Violation>,
    pub coverage: BTreeSet<String>,
    pub metrics: RunMetrics,
    /// Hex, so that every JSON reader keeps all 64 bits.
    #[serde(with = "hex_u64")]
    pub trace_hash: u64,
    pub panic: Option<String>,
    pub sim_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Timeline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timelock: Option<String>,
}

mod hex_u64 {
    pub fn serialize<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{v:016x}"))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s: String = serde::Deserialize::deserialize(d)?;
        u64::from_str_radix(&s, 16).map_err(serde::de::Error::custom)
    }
}

impl<P: Protocol> From<&SeedResult<P>> for SeedRecord {
    fn from(r: &SeedResult<P>) -> SeedRecord {
        SeedRecord {
            seed: r.seed,
            found: r.found.clone(),
            liveness: r.liveness,
            coverage: r.coverage.clone(),
            metrics: r.metrics.clone(),
            trace_hash: r.trace_hash,
            panic: r.panic.clone(),
            sim_ms: r.sim_ms,
            timeline: r.timeline.clone(),
            timelock: r.timelock.clone(),
        }
    }
}

impl SeedRecord {
    /// The result `judge` and the renderer read (no plan, no trace lines).
    #[must_use]
    pub fn into_result<P: Protocol>(self) -> SeedResult<P> {
        SeedResult {
            seed: self.seed,
            plan: None,
            found: self.found,
            liveness: self.liveness,
            coverage: self.coverage,
            metrics: self.metrics,
            trace_hash: self.trace_hash,
            trace: None,
            timeline: self.timeline,
            events: None,
            panic: self.panic,
            sim_ms: self.sim_ms,
            timelock: self.timelock,
        }
    }
}

/// What decides a run's work besides the scenarios: equal in every shard of one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunParams {
    /// The paths the run was given, as given (the merge writes where the run would have).
    pub paths: Vec<String>,
    pub seed_base: u64,
    pub seeds: Option<u32>,
    pub check_determinism: bool,
}

/// One scenario's share of a shard.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PartialScenario {
    pub path: String,
    pub hash: String,
    /// The file's text: the merge parses it again, so it judges exactly what ran.
    pub text: String,
    /// The seeds this shard owns, in run order.
    pub results: Vec<SeedRecord>,
    /// The determinism re-runs of the owned seeds among the scenario's first
    /// [`DETERMINISM_RERUNS`].
    pub reruns: Vec<SeedRecord>,
    /// Traced re-runs of the seeds the merged report may draw (see [`timeline_candidates`]).
    pub traced: Vec<SeedRecord>,
}

/// What every partial file starts with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// The build that ran it (see the binary's build script): shards of different builds
    /// may disagree, so they refuse to merge.
    pub build: String,
    /// `run` (a sweep is a run of one scenario) or `tune`.
    pub command: String,
    pub shard: ShardSpec,
}

impl Header {
    #[must_use]
    pub fn new(build: &str, command: &str, shard: ShardSpec) -> Header {
        Header {
            format: PARTIAL_FORMAT.into(),
            version: PARTIAL_VERSION,
            build: build.into(),
            command: command.into(),
            shard,
        }
    }
}

/// A run shard's partial file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PartialRun {
    /// Format, version, build, command and shard (first in the file).
    pub header: Header,
    pub params: RunParams,
    pub scenarios: Vec<PartialScenario>,
}

/// A partial file of some command.
pub trait Partial: serde::de::DeserializeOwned {
    const COMMAND: &'static str;
    fn header(&self) -> &Header;
    /// Everything that must be equal in every shard of one run (parameters, inputs and
    /// their content hashes), each with what it is, as text for the error.
    fn identity(&self) -> Vec<(&'static str, String)>;
    /// The file's own consistency (each text matches its content hash).
    fn self_check(&self) -> Result<(), String>;
}

impl Partial for PartialRun {
    const COMMAND: &'static str = "run";
    fn header(&self) -> &Header {
        &self.header
    }
    fn identity(&self) -> Vec<(&'static str, String)> {
        vec![
            ("the run's parameters", format!("{:?}", self.params)),
            (
                "the scenarios (path@content hash)",
                self.scenarios
                    .iter()
                    .map(|s| format!("{}@{}", s.path, s.hash))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ]
    }
    fn self_check(&self) -> Result<(), String> {
        for s in &self.scenarios {
            if crate::scenario::content_hash(s.text.as_bytes()) != s.hash {
                return Err(format!(
                    "{}: its text does not match its content hash {}",
                    s.path, s.hash
                ));
            }
        }
        Ok(())
    }
}

/// Runs the seeds shard `spec` owns; `progress` is called after each seed run.
#[must_use]
pub fn run_shard<P: Protocol>(
    scenarios: &[Scenario<P>],
    params: &RunParams,
    spec: ShardSpec,
    build: &str,
    jobs: usize,
    progress: &(dyn Fn(&SeedResult<P>) + Sync),
) -> PartialRun {
    let mut k = 0usize;
    let mut out = Vec::new();
    for sc in scenarios {
        let all = sc.run_seeds(params.seed_base, params.seeds);
        let mut mine = Vec::new();
        let mut rerun_mine = Vec::new();
        for (i, &seed) in all.iter().enumerate() {
            if spec.owns(k) {
                mine.push(seed);
                if params.check_determinism && i < DETERMINISM_RERUNS {
                    rerun_mine.push(seed);
                }
            }
            k += 1;
        }
        let results = run_many(sc, &mine, jobs, RunOptions::default(), progress);
        let reruns = run_many(sc, &rerun_mine, jobs, RunOptions::default(), &|_| {});
        let own = judge(sc, &results, &reruns);
        let traced = timeline_candidates(&own)
            .into_iter()
            .map(|seed| SeedRecord::from(&run_seed_isolated(sc, seed, RunOptions { trace: true })))
            .collect();
        out.push(PartialScenario {
            path: sc.path.display().to_string(),
            hash: sc.hash.clone(),
            text: sc.text.clone(),
            results: results.iter().map(SeedRecord::from).collect(),
            reruns: reruns.iter().map(SeedRecord::from).collect(),
            traced,
        });
    }
    PartialRun {
        header: Header::new(build, PartialRun::COMMAND, spec),
        params: params.clone(),
        scenarios: out,
    }
}

/// The seeds of a shard's own report that the merged report may draw a timeline for: the
/// merged report draws the first [`TIMELINES_PER_SCENARIO`] distinct seeds behind its
/// failures (seed failures in seed order, then determinism failures), then the first seed
/// of each `finds` oracle ([`crate::traced::timeline_seeds`]). Each of those is among its
/// owning shard's first few of the same kind, so these candidates cover them.
#[must_use]
pub fn timeline_candidates(own: &ScenarioReport) -> Vec<u64> {
    let mut seen = BTreeSet::new();
    let firsts = |determinism: bool| {
        let mut s = BTreeSet::new();
        own.failures
            .iter()
            .filter(|f| (f.oracle == "determinism") == determinism)
            .filter_map(|f| f.seed)
            .filter(|seed| s.insert(*seed))
            .take(TIMELINES_PER_SCENARIO)
            .collect::<Vec<_>>()
    };
    firsts(false)
        .into_iter()
        .chain(firsts(true))
        .chain(own.finds.values().filter_map(|s| *s))
        .filter(|s| seen.insert(*s))
        .collect()
}

/// Why a merge refused its inputs: the file (or shard) and the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct MergeError {
    pub file: PathBuf,
    pub reason: String,
}

fn merr(file: &Path, reason: impl Into<String>) -> MergeError {
    MergeError {
        file: file.to_path_buf(),
        reason: reason.into(),
    }
}

/// The partial files a merge reads: each argument is a partial file, or a folder whose
/// `shard-*-of-*.json` files are read (in name order).
pub fn partial_files(args: &[PathBuf]) -> Result<Vec<PathBuf>, MergeError> {
    let mut files = Vec::new();
    for a in args {
        if a.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(a)
                .map_err(|e| merr(a, format!("cannot read the folder: {e}")))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("shard-") && n.ends_with(".json"))
                })
                .collect();
            if found.is_empty() {
                return Err(merr(a, "no shard-*-of-*.json partial file in this folder"));
            }
            found.sort();
            files.extend(found);
        } else if a.is_file() {
            files.push(a.clone());
        } else {
            return Err(merr(a, "no such file or folder"));
        }
    }
    Ok(files)
}

/// The header every partial file starts with, read loosely: what a merge says about a
/// file that is not this build's partial file of the command it merges.
#[derive(Deserialize)]
struct Probe {
    header: Option<ProbeHeader>,
}

#[derive(Default, Deserialize)]
struct ProbeHeader {
    format: Option<String>,
    version: Option<u64>,
    command: Option<String>,
}

/// Checks a partial file's text for its format and version; returns the command that wrote
/// it.
fn probe(path: &Path, text: &str) -> Result<String, MergeError> {
    let probe: Probe = serde_json::from_str(text)
        .map_err(|e| merr(path, format!("not a partial file (corrupt JSON: {e})")))?;
    let head = probe.header.unwrap_or_default();
    if head.format.as_deref() != Some(PARTIAL_FORMAT) {
        return Err(merr(
            path,
            format!("not a partial file (no \"format\": \"{PARTIAL_FORMAT}\")"),
        ));
    }
    if head.version != Some(u64::from(PARTIAL_VERSION)) {
        return Err(merr(
            path,
            format!(
                "partial file version {}, this build reads version {PARTIAL_VERSION}",
                head.version
                    .map_or_else(|| "missing".into(), |v| v.to_string())
            ),
        ));
    }
    Ok(head.command.unwrap_or_default())
}

fn read_text(path: &Path) -> Result<String, MergeError> {
    std::fs::read_to_string(path).map_err(|e| merr(path, format!("cannot read: {e}")))
}

/// The command of the first partial file (what `merge` dispatches on).
pub fn command_of(files: &[PathBuf]) -> Result<String, MergeError> {
    let first = files
        .first()
        .ok_or_else(|| merr(Path::new("merge"), "no partial files given"))?;
    probe(first, &read_text(first)?)
}

/// Reads one partial file of `P`'s command: one typed parse when it is one, else the reason
/// it is not (not a partial file, another version, another command, corrupt).
fn read_one<P: Partial>(f: &Path) -> Result<P, MergeError> {
    let text = read_text(f)?;
    let p = match serde_json::from_str::<P>(&text) {
        Ok(p)
            if p.header().format == PARTIAL_FORMAT
                && p.header().version == PARTIAL_VERSION
                && p.header().command == P::COMMAND =>
        {
            p
        }
        parsed => {
            let command = probe(f, &text)?;
            if command != P::COMMAND {
                return Err(merr(
                    f,
                    format!(
                        "a partial file of `{command}`, merged with `{}` shards",
                        P::COMMAND
                    ),
                ));
            }
            parsed.map_err(|e| merr(f, format!("corrupt partial file: {e}")))?
        }
    };
    p.self_check().map_err(|e| merr(f, e))?;
    Ok(p)
}

/// Reads and checks the partial files of one command.
pub fn read_all<P: Partial>(files: &[PathBuf]) -> Result<Vec<(PathBuf, P)>, MergeError> {
    files
        .iter()
        .map(|f| read_one::<P>(f).map(|p| (f.clone(), p)))
        .collect()
}

/// Checks that `parts` are the N shards of one run (one build, equal identities, one shard
/// count, every index exactly once); returns N.
pub fn check_shards<P: Partial>(parts: &[(PathBuf, P)]) -> Result<u32, MergeError> {
    let Some((first_file, first)) = parts.first() else {
        return Err(merr(Path::new("merge"), "no partial files given"));
    };
    let (h0, id0) = (first.header(), first.identity());
    let mut by_index: BTreeMap<u32, &Path> = BTreeMap::new();
    for (f, p) in parts {
        let h = p.header();
        let differs = |what: &str, a: &str, b: &str| {
            merr(
                f,
                format!(
                    "{what}: {b} here, {a} in {}; shards of different runs do not merge",
                    first_file.display()
                ),
            )
        };
        if h.build != h0.build {
            return Err(differs("the build", &h0.build, &h.build));
        }
        if h.shard.count != h0.shard.count {
            return Err(differs(
                "the shard count",
                &h0.shard.count.to_string(),
                &h.shard.count.to_string(),
            ));
        }
        for ((what, a), (_, b)) in id0.iter().zip(p.identity()) {
            if *a != b {
                return Err(differs(what, a, &b));
            }
        }
        if let Some(other) = by_index.insert(h.shard.index, f) {
            return Err(merr(
                f,
                format!("shard {} given twice (also {})", h.shard, other.display()),
            ));
        }
    }
    let n = h0.shard.count;
    let missing: Vec<String> = (1..=n)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| format!("{i}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(merr(
            first_file,
            format!(
                "shard {} missing: a merge needs all {n} shards",
                missing.join(", ")
            ),
        ));
    }
    Ok(n)
}

/// A merged run: the scenarios (parsed from the shards' texts, in run order), each one's
/// report, and the traced seeds its report draws (per report, in the order it draws them).
pub struct Merged<P: Protocol = Reference> {
    pub params: RunParams,
    pub build: String,
    pub shards: u32,
    pub scenarios: Vec<Scenario<P>>,
    pub reports: Vec<ScenarioReport>,
    pub traced: Vec<Vec<SeedResult<P>>>,
}

/// Merges run shards into the run one machine would have made: checks that they are the N
/// shards of one run, then judges every scenario over all its seeds in run order.
pub fn merge<P: Protocol>(files: &[PathBuf]) -> Result<Merged<P>, MergeError> {
    let parts: Vec<(PathBuf, PartialRun)> = read_all(files)?;
    let n = check_shards(&parts)?;
    let (first_file, first) = &parts[0];
    let mut scenarios = Vec::new();
    let mut reports = Vec::new();
    let mut traced = Vec::new();
    for (s_idx, ps) in first.scenarios.iter().enumerate() {
        let sc = Scenario::<P>::parse_protocol(Path::new(&ps.path), &ps.text)
            .map_err(|e| merr(first_file, format!("its scenario does not parse: {e}")))?;
        let (rep, tl) = merge_scenario(&sc, &first.params, &parts, s_idx)?;
        scenarios.push(sc);
        reports.push(rep);
        traced.push(tl);
    }
    Ok(Merged {
        params: first.params.clone(),
        build: first.header.build.clone(),
        shards: n,
        scenarios,
        reports,
        traced,
    })
}

type Shards = [(PathBuf, PartialRun)];

/// One scenario over every shard: its seeds in run order, each exactly once, judged.
fn merge_scenario<P: Protocol>(
    sc: &Scenario<P>,
    params: &RunParams,
    parts: &Shards,
    s_idx: usize,
) -> Result<(ScenarioReport, Vec<SeedResult<P>>), MergeError> {
    let mut results: BTreeMap<u64, (SeedRecord, &Path)> = BTreeMap::new();
    let mut reruns: BTreeMap<u64, SeedRecord> = BTreeMap::new();
    let mut traced: BTreeMap<u64, SeedRecord> = BTreeMap::new();
    for (f, p) in parts {
        let ps = &p.scenarios[s_idx];
        for r in &ps.results {
            if let Some((_, other)) = results.insert(r.seed, (r.clone(), f)) {
                return Err(merr(
                    f,
                    format!(
                        "{}: seed {} recorded twice (also in {})",
                        sc.path.display(),
                        r.seed,
                        other.display()
                    ),
                ));
            }
        }
        reruns.extend(ps.reruns.iter().map(|r| (r.seed, r.clone())));
        traced.extend(ps.traced.iter().map(|r| (r.seed, r.clone())));
    }
    let seeds = sc.run_seeds(params.seed_base, params.seeds);
    let mut ordered = Vec::with_capacity(seeds.len());
    for seed in &seeds {
        let (r, _) = results.remove(seed).ok_or_else(|| {
            merr(
                &sc.path,
                format!("seed {seed} is in no shard: a shard's partial file is incomplete"),
            )
        })?;
        ordered.push(r.into_result());
    }
    if let Some((seed, (_, f))) = results.iter().next() {
        return Err(merr(
            f,
            format!(
                "{}: seed {seed} is not one of the run's seeds",
                sc.path.display()
            ),
        ));
    }
    let rerun: Vec<SeedResult<P>> = if params.check_determinism {
        seeds
            .iter()
            .take(DETERMINISM_RERUNS.min(seeds.len()))
            .map(|s| {
                reruns
                    .remove(s)
                    .map(SeedRecord::into_result)
                    .ok_or_else(|| {
                        merr(
                            &sc.path,
                            format!("seed {s}'s determinism re-run is in no shard"),
                        )
                    })
            })
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    let rep = judge(sc, &ordered, &rerun);
    let drawn = crate::traced::timeline_seeds(&rep, TIMELINES_PER_SCENARIO)
        .into_iter()
        .map(|s| {
            traced
                .remove(&s)
                .map(SeedRecord::into_result)
                .ok_or_else(|| merr(&sc.path, format!("seed {s}'s timeline is in no shard")))
        })
        .collect::<Result<_, _>>()?;
    Ok((rep, drawn))
}

/// What decides a tune's work besides the grid file: equal in every shard of one sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TuneParams {
    pub seeds: u32,
    /// Written as text: Rust's float printing and parsing round-trip exactly.
    #[serde(with = "f64_text")]
    pub target_false_preemption: f64,
    pub target_failover_ms: Option<u64>,
    pub pause_p99_ms: Option<u64>,
}

impl TuneParams {
    #[must_use]
    pub fn of(opts: &TuneOptions) -> TuneParams {
        TuneParams {
            seeds: opts.seeds,
            target_false_preemption: opts.target_false_preemption,
            target_failover_ms: opts.target_failover_ms,
            pause_p99_ms: opts.pause_p99_ms,
        }
    }

    #[must_use]
    pub fn options(&self, jobs: usize) -> TuneOptions {
        TuneOptions {
            seeds: self.seeds,
            jobs,
            target_false_preemption: self.target_false_preemption,
            target_failover_ms: self.target_failover_ms,
            pause_p99_ms: self.pause_p99_ms,
        }
    }
}

mod f64_text {
    pub fn serialize<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let s: String = serde::Deserialize::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A tune shard's partial file: per cell (in grid order; an impossible cell has none), the
/// seeds this shard owns. The work is numbered over the runnable cells' seeds in order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PartialTune {
    /// Format, version, build, command and shard (first in the file).
    pub header: Header,
    pub grid_path: String,
    pub grid_hash: String,
    /// The grid file's text (a preset's built-in text).
    pub grid_text: String,
    pub params: TuneParams,
    /// The shard's command line, without `--shard` and `--out`: the sweep the merge reports.
    pub sweep: String,
    /// The shard's wall time (the merged report gives their sum).
    pub seconds: f64,
    pub cells: Vec<Vec<SeedRecord>>,
}

impl Partial for PartialTune {
    const COMMAND: &'static str = "tune";
    fn header(&self) -> &Header {
        &self.header
    }
    fn identity(&self) -> Vec<(&'static str, String)> {
        vec![
            ("the sweep's parameters", format!("{:?}", self.params)),
            (
                "the grid (path@content hash)",
                format!("{}@{}", self.grid_path, self.grid_hash),
            ),
            ("the sweep's command", self.sweep.clone()),
        ]
    }
    fn self_check(&self) -> Result<(), String> {
        if crate::scenario::content_hash(self.grid_text.as_bytes()) == self.grid_hash {
            Ok(())
        } else {
            Err(format!(
                "{}: its text does not match its content hash {}",
                self.grid_path, self.grid_hash
            ))
        }
    }
}

/// Runs a plug-in's cell on some seeds, each seed's record (the binary, which knows the
/// plug-ins' types, supplies it), or why the plug-in refuses the cell.
pub type PluginSeeds<'a> =
    dyn Fn(&PluginCell, &[u64]) -> Result<Vec<SeedRecord>, String> + Sync + 'a;

/// Whether a plug-in takes a cell (`Err`: why not, as the unsharded sweep says it).
pub type PluginTakes<'a> = dyn Fn(&PluginCell) -> Result<(), String> + 'a;

/// Runs the (cell, seed) work shard `spec` owns; the caller sets `seconds`. A plug-in's
/// cells run through `plugin`.
#[must_use]
pub fn run_tune_shard(
    g: &GridFile,
    opts: &TuneOptions,
    spec: ShardSpec,
    build: &str,
    sweep: &str,
    progress: &(dyn Fn(&SeedResult) + Sync),
    plugin: &PluginSeeds<'_>,
) -> PartialTune {
    let mut k = 0usize;
    let cells = g
        .cells()
        .into_iter()
        .map(|(_, sc)| {
            let Ok(run) = sc else {
                return Vec::new();
            };
            let mine: Vec<u64> = (0..u64::from(opts.seeds))
                .filter(|_| {
                    k += 1;
                    spec.owns(k - 1)
                })
                .collect();
            match run {
                CellRun::Reference(sc) => {
                    run_many(&sc, &mine, opts.jobs, RunOptions::default(), progress)
                        .iter()
                        .map(SeedRecord::from)
                        .collect()
                }
                // A cell the plug-in refuses records nothing; the merge asks it again.
                CellRun::Plugin(p) => plugin(&p, &mine).unwrap_or_default(),
            }
        })
        .collect();
    PartialTune {
        header: Header::new(build, PartialTune::COMMAND, spec),
        grid_path: g.path.display().to_string(),
        grid_hash: crate::scenario::content_hash(g.text.as_bytes()),
        grid_text: g.text.clone(),
        params: TuneParams::of(opts),
        sweep: sweep.into(),
        seconds: 0.0,
        cells,
    }
}

/// A merged sweep: its report, and what the merge says about where it came from.
pub struct MergedTune {
    pub grid: GridFile,
    pub report: TuneReport,
    pub sweep: String,
    pub build: String,
    pub shards: u32,
}

/// Merges tune shards into the sweep one machine would have made: every cell measured over
/// all its seeds in seed order, then the recommendations.
pub fn merge_tune(files: &[PathBuf], takes: &PluginTakes<'_>) -> Result<MergedTune, MergeError> {
    let parts: Vec<(PathBuf, PartialTune)> = read_all(files)?;
    let n = check_shards(&parts)?;
    let (first_file, first) = &parts[0];
    let g = GridFile::parse(Path::new(&first.grid_path), &first.grid_text)
        .map_err(|e| merr(first_file, format!("its grid does not parse: {e}")))?;
    let opts = first.params.options(1);
    let mut cells = Vec::new();
    for (i, (cell, sc)) in g.cells().into_iter().enumerate() {
        let sc = sc.and_then(|run| match run {
            CellRun::Plugin(p) => takes(&p).map(|()| CellRun::Plugin(p)),
            other => Ok(other),
        });
        if let Err(why) = sc {
            cells.push(CellResult {
                cell,
                skipped: Some(why),
                ..CellResult::default()
            });
            continue;
        }
        let mut by_seed: BTreeMap<u64, SeedRecord> = BTreeMap::new();
        for (f, p) in &parts {
            let mine = p.cells.get(i).ok_or_else(|| {
                merr(
                    f,
                    format!("has {} cells, the grid {}", p.cells.len(), i + 1),
                )
            })?;
            for r in mine {
                if by_seed.insert(r.seed, r.clone()).is_some() {
                    return Err(merr(
                        f,
                        format!("cell {}: seed {} recorded twice", cell.label(), r.seed),
                    ));
                }
            }
        }
        // A record holds what every protocol's seed holds (no events, no plan): the cell's
        // measures read only that, so a plug-in's records measure as the reference
        // protocol's type.
        let results = (0..u64::from(opts.seeds))
            .map(|s| {
                by_seed
                    .remove(&s)
                    .map(SeedRecord::into_result::<Reference>)
                    .ok_or_else(|| {
                        merr(
                            first_file,
                            format!("cell {}: seed {s} is in no shard", cell.label()),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(seed) = by_seed.keys().next() {
            return Err(merr(
                first_file,
                format!(
                    "cell {}: seed {seed} is not one of the sweep's",
                    cell.label()
                ),
            ));
        }
        cells.push(measure(cell, &results));
    }
    let seconds = parts.iter().map(|(_, p)| p.seconds).sum();
    Ok(MergedTune {
        report: report(&g, &opts, cells, seconds),
        grid: g,
        sweep: first.sweep.clone(),
        build: first.header.build.clone(),
        shards: n,
    })
}
