//! Many seeds of a scenario, judged against its expectations (docs/design.md, "Scenarios, seeds, replay"):
//! `always` oracles hold on every seed, every `sometimes` label is reached by some seed
//! (else the scenario is vacuous), every `finds` oracle is tripped by some seed.

use crate::metrics::{RunMetrics, Summary};
use crate::run::{run_seed_isolated, RunOptions, SeedResult};
use crate::scenario::{FaultClass, Scenario};
use leaseproof_impl::{OracleName, Protocol, Reference};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

pub use leaseproof_impl::verdict::Verdict;

pub const EXIT_OK: u8 = Verdict::Pass.exit_code();
pub const EXIT_SAFETY: u8 = Verdict::Safety.exit_code();
pub const EXIT_USAGE: u8 = Verdict::Usage.exit_code();

/// The worse of two exit codes, in the order of docs/design.md, "Exit codes": 4, 5, 1, 3,
/// 2, 0.
#[must_use]
pub fn worst(a: u8, b: u8) -> u8 {
    if Verdict::of_exit_code(a) >= Verdict::of_exit_code(b) {
        a
    } else {
        b
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    pub seed: Option<u64>,
    pub oracle: String,
    pub class: Verdict,
    pub detail: String,
    pub hash: String,
    pub replay: Option<String>,
}

impl Failure {
    #[must_use]
    pub fn exit(&self) -> u8 {
        self.class.exit_code()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub path: String,
    pub hash: String,
    pub class: FaultClass,
    pub variant: String,
    pub seeds: usize,
    pub passed: usize,
    pub failures: Vec<Failure>,
    /// Each `finds` oracle and the first seed that tripped it.
    pub finds: BTreeMap<String, Option<u64>>,
    /// Each `sometimes` label and how many seeds reached it.
    pub sometimes: BTreeMap<String, usize>,
    /// Oracles tripped that the scenario neither requires nor forbids.
    pub also_tripped: BTreeMap<String, usize>,
    pub metrics: Summary,
    /// Things worth a look that fail nothing: renewal slack below `[expect]
    /// renewal_slack_warn_ms`.
    pub warnings: Vec<String>,
    /// Exactly-once work: each dead-lettered job's idempotency key and in how many seeds
    /// it was dead-lettered (empty without `[jobs]`).
    pub dead_letters: Vec<DeadLetter>,
    pub sim_seconds: f64,
    /// The most severe of the failures' classes (`pass` without one).
    pub verdict: Verdict,
    pub exit: u8,
}

impl ScenarioReport {
    /// The verdict, the seeds, what failed and what was found, on one line (a plug-in
    /// crate's tests print it).
    #[must_use]
    pub fn summary(&self) -> String {
        format!(
            "{}: {} ({} of {} seeds passed) failures {:?} finds {:?} also {:?} coverage {:?}",
            self.name,
            self.verdict,
            self.passed,
            self.seeds,
            self.failures,
            self.finds,
            self.also_tripped,
            self.sometimes
        )
    }
}

/// A job in the dead-letter list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    pub key: String,
    pub seeds: u32,
}

/// Seeds of each scenario that a determinism check runs a second time (the first ones).
pub const DETERMINISM_RERUNS: usize = 20;

/// Where a run writes its reports: `out` if given; else `reports/` for the whole
/// `scenarios/` folder (the main job's committed reports), `reports/runs/` (not committed)
/// for chosen files, so checking one scenario leaves the main job's reports alone.
#[must_use]
pub fn report_dir(
    paths: &[std::path::PathBuf],
    out: Option<&std::path::Path>,
) -> std::path::PathBuf {
    if let Some(o) = out {
        return o.to_path_buf();
    }
    let whole_set = paths.len() == 1
        && paths[0]
            .components()
            .eq(std::path::Path::new("scenarios").components());
    std::path::PathBuf::from(if whole_set { "reports" } else { "reports/runs" })
}

/// The replay command for a seed. The binary replays the reference protocol's
/// scenarios; a plug-in's seed replays from its crate with `run_seed` and the trace on
/// (a binary that runs `P`'s scenarios names its own: [`cli_replay_command`]).
#[must_use]
pub fn replay_command<P: Protocol>(sc: &Scenario<P>, seed: u64) -> String {
    if P::NAME == Reference::NAME {
        cli_replay_command(sc, seed)
    } else {
        format!(
            "leaseproof_sim::run::run_seed(&Scenario::<{}>::load_protocol({:?}), {seed}, \
             RunOptions {{ trace: true }}) (file hash {})",
            std::any::type_name::<P>(),
            sc.path.display().to_string(),
            sc.hash
        )
    }
}

/// `leaseproof replay` for a seed of `sc`, for a binary that replays `P`'s scenarios.
#[must_use]
pub fn cli_replay_command<P: Protocol>(sc: &Scenario<P>, seed: u64) -> String {
    format!(
        "cargo run --release -- replay {} --seed {seed} --hash {} --trace",
        sc.path.display(),
        sc.hash
    )
}

/// Runs seeds on `jobs` worker threads (each seed on a fresh thread), in any order, and
/// returns the results in seed order. `progress` is called after each seed.
pub fn run_many<P: Protocol>(
    sc: &Scenario<P>,
    seeds: &[u64],
    jobs: usize,
    opts: RunOptions,
    progress: &(dyn Fn(&SeedResult<P>) + Sync),
) -> Vec<SeedResult<P>> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<SeedResult<P>>>> =
        Mutex::new((0..seeds.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1).min(seeds.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = seeds.get(i) else { break };
                let r = run_seed_isolated(sc, seed, opts);
                progress(&r);
                out.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)[i] = Some(r);
            });
        }
    });
    out.into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .map(|r| r.expect("every seed ran"))
        .collect()
}

/// Judges the results of a scenario's seeds. `rerun` holds a second run of some seeds for
/// the determinism check.
#[must_use]
pub fn judge<P: Protocol>(
    sc: &Scenario<P>,
    results: &[SeedResult<P>],
    rerun: &[SeedResult<P>],
) -> ScenarioReport {
    let mut j = Judged {
        failures: Vec::new(),
        failed_seeds: std::collections::BTreeSet::new(),
        finds: sc
            .finds
            .iter()
            .map(|o| (o.name().to_string(), None))
            .collect(),
        sometimes: sc.sometimes.iter().map(|s| (s.clone(), 0)).collect(),
        also: BTreeMap::new(),
    };
    let mut metrics = RunMetrics::default();
    let mut sim_ms = 0u64;
    for r in results {
        sim_ms += r.sim_ms;
        metrics.merge(&r.metrics);
        j.seed(sc, r);
    }
    j.expectations(sc, results.len());
    j.determinism(sc, results, rerun);
    let verdict = j
        .failures
        .iter()
        .map(|f| f.class)
        .max()
        .unwrap_or(Verdict::Pass);
    let summary = Summary::of(&metrics);
    ScenarioReport {
        name: sc.name.clone(),
        path: sc.path.display().to_string(),
        hash: sc.hash.clone(),
        class: sc.class(),
        variant: P::variant(&sc.config).to_string(),
        seeds: results.len(),
        passed: results.len() - j.failed_seeds.len(),
        failures: j.failures,
        finds: j.finds,
        sometimes: j.sometimes,
        also_tripped: j.also,
        warnings: slack_warnings(sc, &metrics, &summary),
        dead_letters: dead_letters(sc, &metrics),
        metrics: summary,
        sim_seconds: sim_ms as f64 / 1e3,
        verdict,
        exit: verdict.exit_code(),
    }
}

/// The verdicts gathered over a scenario's seeds.
struct Judged {
    failures: Vec<Failure>,
    failed_seeds: std::collections::BTreeSet<u64>,
    /// Each `finds` oracle and the first seed that tripped it.
    finds: BTreeMap<String, Option<u64>>,
    /// Each `sometimes` label and how many seeds reached it.
    sometimes: BTreeMap<String, usize>,
    /// Oracles tripped that the scenario neither requires nor forbids, and how often.
    also: BTreeMap<String, usize>,
}

fn seed_failure<P: Protocol>(
    sc: &Scenario<P>,
    seed: u64,
    oracle: &str,
    class: Verdict,
    detail: String,
) -> Failure {
    Failure {
        seed: Some(seed),
        oracle: oracle.to_string(),
        class,
        detail,
        hash: sc.hash.clone(),
        replay: Some(replay_command(sc, seed)),
    }
}

impl Judged {
    /// One seed: a panic is a crash; each tripped oracle fails `always`, fills `finds`, or
    /// is counted as also tripped; coverage labels are counted.
    fn seed<P: Protocol>(&mut self, sc: &Scenario<P>, r: &SeedResult<P>) {
        if let Some(p) = &r.panic {
            self.failures
                .push(seed_failure(sc, r.seed, "panic", Verdict::Crash, p.clone()));
            self.failed_seeds.insert(r.seed);
            return;
        }
        // A time-lock freezes a node's time: whatever it should have done after is
        // silently missing, so it fails the run whatever the scenario expects.
        if let Some(t) = &r.timelock {
            self.failures.push(seed_failure(
                sc,
                r.seed,
                "time-lock",
                Verdict::Liveness,
                t.clone(),
            ));
            self.failed_seeds.insert(r.seed);
        }
        for &o in OracleName::ALL {
            if !r.tripped(o) {
                continue;
            }
            let detail = if !o.is_safety() {
                r.liveness.map(|v| v.to_string()).unwrap_or_default()
            } else {
                r.first(o)
                    .map(|f| format!("{} (at {:.3} s)", f.violation, f.true_ns as f64 / 1e9))
                    .unwrap_or_default()
            };
            if sc.always.contains(&o) {
                let class = if o.is_safety() {
                    Verdict::Safety
                } else {
                    Verdict::Liveness
                };
                self.failures
                    .push(seed_failure(sc, r.seed, o.name(), class, detail));
                self.failed_seeds.insert(r.seed);
            } else if let Some(first) = self.finds.get_mut(o.name()) {
                first.get_or_insert(r.seed);
            } else {
                *self.also.entry(o.name().to_string()).or_default() += 1;
            }
        }
        for (label, count) in &mut self.sometimes {
            if r.coverage.contains(label) {
                *count += 1;
            }
        }
    }

    /// After every seed: a `finds` no seed tripped, a `sometimes` no seed reached.
    fn expectations<P: Protocol>(&mut self, sc: &Scenario<P>, seeds: usize) {
        let unseeded = |oracle: &str, class: Verdict, detail: String| Failure {
            seed: None,
            oracle: oracle.to_string(),
            class,
            detail,
            hash: sc.hash.clone(),
            replay: None,
        };
        for (o, first) in &self.finds {
            if first.is_none() {
                self.failures.push(unseeded(
                    o,
                    Verdict::FindsNotFound,
                    format!("finds {o}, but none of {seeds} seeds tripped it"),
                ));
            }
        }
        for (label, count) in &self.sometimes {
            if *count == 0 {
                self.failures.push(unseeded(
                    label,
                    Verdict::Vacuous,
                    format!("vacuous: no seed of {seeds} reached \"{label}\" (sometimes)"),
                ));
            }
        }
    }

    /// The re-run seeds must give the same traces.
    fn determinism<P: Protocol>(
        &mut self,
        sc: &Scenario<P>,
        results: &[SeedResult<P>],
        rerun: &[SeedResult<P>],
    ) {
        for (a, b) in results.iter().zip(rerun) {
            if a.seed == b.seed && a.trace_hash != b.trace_hash && a.panic.is_none() {
                self.failures.push(seed_failure(
                    sc,
                    a.seed,
                    "determinism",
                    Verdict::Nondeterminism,
                    format!(
                        "same seed, different traces: {:016x} then {:016x}",
                        a.trace_hash, b.trace_hash
                    ),
                ));
                self.failed_seeds.insert(a.seed);
            }
        }
    }
}

/// A warning when renewals land with less lease left than `[expect] renewal_slack_warn_ms`.
fn slack_warnings<P: Protocol>(
    sc: &Scenario<P>,
    metrics: &RunMetrics,
    summary: &Summary,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(w) = sc.file.expect.renewal_slack_warn_ms {
        let low = metrics
            .renewal_slack_ns
            .iter()
            .filter(|&&s| s < w * 1_000_000)
            .count();
        if low > 0 {
            warnings.push(format!(
                "renewal slack below {w} ms in {low} of {} confirmed renewals (min {:.0} ms): \
                 renewals arrive close to expiry; renew earlier or lengthen the TTL",
                metrics.renewal_slack_ns.len(),
                summary.renewal_slack.min_ms
            ));
        }
    }
    warnings
}

/// Each dead-lettered job by its idempotency key, and in how many seeds.
fn dead_letters<P: Protocol>(sc: &Scenario<P>, metrics: &RunMetrics) -> Vec<DeadLetter> {
    metrics
        .dead_letters
        .iter()
        .map(|(&job, &seeds)| DeadLetter {
            key: sc
                .job_keys
                .get(job as usize)
                .cloned()
                .unwrap_or_else(|| format!("job{job}")),
            seeds,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_rank_as_the_exit_code_order_says() {
        // docs/design.md, "Exit codes": a job of several parts reports 4, 5, 1, 3, 2, 0 in
        // that order of precedence.
        let order = [4, 5, 1, 3, 2, 0];
        for (i, &a) in order.iter().enumerate() {
            for &b in &order[i..] {
                assert_eq!(worst(a, b), a, "worst({a}, {b})");
                assert_eq!(worst(b, a), a, "worst({b}, {a})");
            }
        }
        for &v in Verdict::ALL {
            assert_eq!(
                Verdict::of_exit_code(v.exit_code()).exit_code(),
                v.exit_code()
            );
            let json = serde_json::to_value(v).unwrap();
            assert_eq!(
                json.as_str(),
                Some(v.name()),
                "serde's name is the report's name"
            );
        }
        assert!(
            Verdict::ALL.windows(2).all(|w| w[0] < w[1]),
            "ALL is in order"
        );
    }

    #[test]
    fn derived_names_are_serdes_names() {
        // Names come from one derive: the name in reports, scenario files and the CLI is the
        // name serde reads and writes, for every variant and oracle.
        for &v in leaseproof_impl::Variant::ALL {
            assert_eq!(serde_json::to_value(v).unwrap().as_str(), Some(v.name()));
            assert_eq!(leaseproof_impl::Variant::parse(v.name()), Ok(v));
        }
        for &o in OracleName::ALL {
            assert_eq!(serde_json::to_value(o).unwrap().as_str(), Some(o.name()));
            assert_eq!(OracleName::parse(o.name()), Ok(o));
        }
        assert_eq!(leaseproof_impl::Variant::ALL.len(), 13);
        assert_eq!(OracleName::ALL.len(), 9);
    }
}
