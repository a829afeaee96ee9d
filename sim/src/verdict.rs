//! Many seeds of a scenario, judged against its expectations (docs/design.md, "Scenarios, seeds, replay"):
//! `always` oracles hold on every seed, every `sometimes` label is reached by some seed
//! (else the scenario is vacuous), every `finds` oracle is tripped by some seed.

use crate::metrics::{RunMetrics, Summary};
use crate::run::{run_seed_isolated, RunOptions, SeedResult};
use crate::scenario::{FaultClass, Scenario};
use leaseproof_impl::OracleName;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

pub const EXIT_OK: u8 = 0;
pub const EXIT_SAFETY: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_LIVENESS: u8 = 3;
pub const EXIT_CRASH: u8 = 4;
pub const EXIT_NONDETERMINISM: u8 = 5;

/// The worse of two exit codes, in the order of docs/design.md, "Exit codes": 4, 5, 1, 3, 2, 0.
#[must_use]
pub fn worst(a: u8, b: u8) -> u8 {
    let rank = |c: u8| match c {
        EXIT_CRASH => 5,
        EXIT_NONDETERMINISM => 4,
        EXIT_SAFETY => 3,
        EXIT_LIVENESS => 2,
        EXIT_USAGE => 1,
        _ => 0,
    };
    if rank(a) >= rank(b) {
        a
    } else {
        b
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    pub seed: Option<u64>,
    pub oracle: String,
    /// `safety`, `liveness`, `crash`, `nondeterminism` or `expectation`.
    pub class: &'static str,
    pub detail: String,
    pub hash: String,
    pub replay: Option<String>,
}

impl Failure {
    #[must_use]
    pub fn exit(&self) -> u8 {
        match self.class {
            "crash" => EXIT_CRASH,
            "nondeterminism" => EXIT_NONDETERMINISM,
            "liveness" => EXIT_LIVENESS,
            _ => EXIT_SAFETY,
        }
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
    pub exit: u8,
}

/// A job in the dead-letter list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    pub key: String,
    pub seeds: u32,
}

/// The replay command for a seed.
#[must_use]
pub fn replay_command(sc: &Scenario, seed: u64) -> String {
    format!(
        "cargo run --release -- replay {} --seed {seed} --hash {} --trace",
        sc.path.display(),
        sc.hash
    )
}

/// Runs seeds on `jobs` worker threads (each seed on a fresh thread), in any order, and
/// returns the results in seed order. `progress` is called after each seed.
pub fn run_many(
    sc: &Scenario,
    seeds: &[u64],
    jobs: usize,
    opts: RunOptions,
    progress: &(dyn Fn(&SeedResult) + Sync),
) -> Vec<SeedResult> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<SeedResult>>> = Mutex::new((0..seeds.len()).map(|_| None).collect());
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
pub fn judge(sc: &Scenario, results: &[SeedResult], rerun: &[SeedResult]) -> ScenarioReport {
    let mut failures = Vec::new();
    let mut failed_seeds = std::collections::BTreeSet::new();
    let mut finds: BTreeMap<String, Option<u64>> = sc
        .finds
        .iter()
        .map(|o| (o.name().to_string(), None))
        .collect();
    let mut sometimes: BTreeMap<String, usize> =
        sc.sometimes.iter().map(|s| (s.clone(), 0)).collect();
    let mut also: BTreeMap<String, usize> = BTreeMap::new();
    let mut metrics = RunMetrics::default();
    let mut sim_ms = 0u64;
    let fail = |seed: u64, oracle: &str, class: &'static str, detail: String| Failure {
        seed: Some(seed),
        oracle: oracle.to_string(),
        class,
        detail,
        hash: sc.hash.clone(),
        replay: Some(replay_command(sc, seed)),
    };
    for r in results {
        sim_ms += r.sim_ms;
        metrics.merge(&r.metrics);
        if let Some(p) = &r.panic {
            failures.push(fail(r.seed, "panic", "crash", p.clone()));
            failed_seeds.insert(r.seed);
            continue;
        }
        for o in OracleName::ALL {
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
                let class = if !o.is_safety() { "liveness" } else { "safety" };
                failures.push(fail(r.seed, o.name(), class, detail));
                failed_seeds.insert(r.seed);
            } else if let Some(first) = finds.get_mut(o.name()) {
                first.get_or_insert(r.seed);
            } else {
                *also.entry(o.name().to_string()).or_default() += 1;
            }
        }
        for (label, count) in sometimes.iter_mut() {
            if r.coverage.contains(label) {
                *count += 1;
            }
        }
    }
    for (o, first) in &finds {
        if first.is_none() {
            failures.push(Failure {
                seed: None,
                oracle: o.clone(),
                class: "expectation",
                detail: format!("finds {o}, but none of {} seeds tripped it", results.len()),
                hash: sc.hash.clone(),
                replay: None,
            });
        }
    }
    for (label, count) in &sometimes {
        if *count == 0 {
            failures.push(Failure {
                seed: None,
                oracle: label.clone(),
                class: "expectation",
                detail: format!(
                    "vacuous: no seed of {} reached \"{label}\" (sometimes)",
                    results.len()
                ),
                hash: sc.hash.clone(),
                replay: None,
            });
        }
    }
    for (a, b) in results.iter().zip(rerun) {
        if a.seed == b.seed && a.trace_hash != b.trace_hash && a.panic.is_none() {
            failures.push(fail(
                a.seed,
                "determinism",
                "nondeterminism",
                format!(
                    "same seed, different traces: {:016x} then {:016x}",
                    a.trace_hash, b.trace_hash
                ),
            ));
            failed_seeds.insert(a.seed);
        }
    }
    let exit = failures.iter().map(Failure::exit).fold(EXIT_OK, worst);
    let summary = Summary::of(&metrics);
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
    let dead_letters = metrics
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
        .collect();
    ScenarioReport {
        name: sc.name.clone(),
        path: sc.path.display().to_string(),
        hash: sc.hash.clone(),
        class: sc.class,
        variant: sc.config.variant.name().to_string(),
        seeds: results.len(),
        passed: results.len() - failed_seeds.len(),
        failures,
        finds,
        sometimes,
        also_tripped: also,
        metrics: summary,
        warnings,
        dead_letters,
        sim_seconds: sim_ms as f64 / 1e3,
        exit,
    }
}
