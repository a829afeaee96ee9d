//! `leaseproof agree`: the simulator's predictions checked against real processes. Each
//! scenario of `real/agree.toml` (scaled so a real run takes seconds) runs in the simulator
//! and as real clusters on loopback (`leaseproof real`'s machinery); verdicts and metric
//! distributions are compared against the tolerances committed in that file, and
//! `reports/sim-vs-real.md` shows both sides with plots. Exit 1 on any excess beyond the
//! one accepted exception the file may carry; 2 on a bad file.
#![allow(clippy::disallowed_methods)] // real processes: tokio's runtime and tasks

use crate::real_run::{playable, real_seed, Judged};
use anyhow::{bail, Context};
use leaseproof_impl::OracleName;
use leaseproof_sim::metrics::{Dist, Rate};
use leaseproof_sim::run::{RunOptions, SeedResult};
use leaseproof_sim::scenario::Scenario;
use leaseproof_sim::svg::{LinePlot, Series};
use leaseproof_sim::verdict::run_many;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// `leaseproof agree`'s flags.
#[derive(clap::Args, Clone, Debug)]
pub struct AgreeArgs {
    /// The scenarios and tolerances.
    #[arg(long, default_value = "real/agree.toml")]
    pub config: PathBuf,
    /// Where `sim-vs-real.md` and its plots go.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Real clusters run at once.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub parallel: u32,
    /// Only the scenarios whose file name contains this.
    #[arg(long)]
    pub only: Option<String>,
    /// Simulator worker threads (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgreeFile {
    tolerance: Tolerances,
    scenario: Vec<Entry>,
    #[serde(default)]
    exception: Vec<Exception>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tolerances {
    failover_p50: Band,
    failover_tail: Band,
    p99_min_real_runs: u32,
    rate_min_runs: u32,
    confidence: f64,
}

/// `|real − sim| ≤ max(rel × sim, abs_ms)`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Band {
    rel: f64,
    abs_ms: f64,
}

impl Band {
    fn allows(self, sim_ms: f64, real_ms: f64) -> bool {
        (real_ms - sim_ms).abs() <= (self.rel * sim_ms).max(self.abs_ms)
    }

    fn describe(self) -> String {
        format!("±max({:.0} %, {} ms)", self.rel * 100.0, self.abs_ms)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    file: PathBuf,
    real_runs: u32,
    sim_seeds: u32,
}

/// An accepted difference: its scenario, its cause and the test that shows it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Exception {
    scenario: String,
    cause: String,
    test: String,
}

fn load(path: &Path) -> anyhow::Result<AgreeFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read it", path.display()))?;
    let file: AgreeFile =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let t = &file.tolerance;
    for (field, band) in [
        ("tolerance.failover_p50", t.failover_p50),
        ("tolerance.failover_tail", t.failover_tail),
    ] {
        if !(band.rel >= 0.0 && band.abs_ms >= 0.0) {
            bail!(
                "{}: {field}: rel and abs_ms must be at least 0",
                path.display()
            );
        }
    }
    if !(t.confidence > 0.0 && t.confidence < 1.0) {
        bail!(
            "{}: tolerance.confidence = {}: must lie strictly between 0 and 1",
            path.display(),
            t.confidence
        );
    }
    for (i, e) in file.scenario.iter().enumerate() {
        if e.real_runs == 0 || e.sim_seeds == 0 {
            bail!(
                "{}: scenario[{i}]: real_runs and sim_seeds must be at least 1",
                path.display()
            );
        }
    }
    Ok(file)
}

/// One side's runs of a scenario.
#[derive(Default)]
struct Side {
    runs: u32,
    tripped: BTreeMap<OracleName, u32>,
    failover: Vec<u64>,
    acquisition: Vec<u64>,
    renewals: (u64, u64),
}

/// One comparison: what, the two sides, the rule, and its outcome.
struct Row {
    what: String,
    sim: String,
    real: String,
    rule: String,
    outcome: Outcome,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Within,
    /// Not compared (too few runs or samples), or trivially equal: does not count.
    NotCompared,
    Excess,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Within => "within",
            Outcome::NotCompared => "not compared",
            Outcome::Excess => "**EXCESS**",
        }
    }
}

/// `leaseproof agree`.
pub fn agree(args: &AgreeArgs) -> anyhow::Result<u8> {
    let file = load(&args.config)?;
    let mut scenarios = Vec::new();
    for e in &file.scenario {
        let sc = Scenario::load(&e.file).map_err(|err| anyhow::anyhow!("{err}"))?;
        playable(&sc)?;
        scenarios.push((sc, e));
    }
    if let Some(only) = &args.only {
        scenarios.retain(|(sc, _)| sc.name.contains(only.as_str()));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("a tokio runtime")?;
    let latency = rt
        .block_on(leaseproof_real::one_way_latencies(2_000))
        .context("measuring loopback latency through the proxy")?;
    let overhead = Dist::of(&latency);
    let jobs = args.jobs.unwrap_or_else(crate::default_jobs);
    let started = std::time::Instant::now();
    let mut sections = Vec::new();
    let mut excesses: Vec<String> = Vec::new();
    for (sc, e) in &scenarios {
        eprintln!(
            "agree: {} ({} sim seeds, {} real runs)",
            sc.name, e.sim_seeds, e.real_runs
        );
        let sim = sim_side(sc, e.sim_seeds, jobs);
        let real = rt.block_on(real_side(sc, e.real_runs, args.parallel))?;
        let rows = compare(sc, &file.tolerance, &sim, &real);
        let excess = rows.iter().any(|r| r.outcome == Outcome::Excess);
        let counts = rows.iter().any(|r| r.outcome == Outcome::Within);
        if excess {
            excesses.push(sc.name.clone());
        }
        let plot = plot(sc, &sim, &real, &args.out)?;
        sections.push((sc.name.clone(), sc.path.clone(), *e, rows, counts, plot));
        eprintln!(
            "agree: {}: {}",
            sc.name,
            if excess { "EXCESS" } else { "within" }
        );
    }
    let accepted: Vec<&Exception> = file
        .exception
        .iter()
        .filter(|x| excesses.contains(&x.scenario))
        .collect();
    let unexcused: Vec<&String> = excesses
        .iter()
        .filter(|n| !accepted.iter().any(|x| &&x.scenario == n))
        .collect();
    let md = render(
        &args.config,
        &file,
        &overhead,
        &sections,
        &accepted,
        &unexcused,
        started.elapsed(),
    );
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("--out {}: cannot create it", args.out.display()))?;
    let path = args.out.join("sim-vs-real.md");
    std::fs::write(&path, md).with_context(|| format!("{}: cannot write it", path.display()))?;
    println!("report: {}", path.display());
    if unexcused.is_empty() && file.exception.len() <= 1 {
        println!(
            "ok: {} scenario(s) within their tolerances{}",
            sections.len(),
            if accepted.is_empty() {
                String::new()
            } else {
                format!(" ({} with its accepted exception)", accepted[0].scenario)
            }
        );
        Ok(0)
    } else {
        println!(
            "FAIL: beyond tolerance: {}",
            unexcused
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(1)
    }
}

impl Side {
    /// One side from its runs, simulated or real (a real run is a `SeedResult` too): each
    /// oracle a run tripped (liveness included) counts once for it.
    fn of(results: &[SeedResult]) -> Side {
        let mut side = Side {
            runs: u32::try_from(results.len()).unwrap_or(u32::MAX),
            ..Side::default()
        };
        for r in results {
            let mut tripped: Vec<OracleName> = r
                .found
                .iter()
                .map(|f| f.violation)
                .chain(r.liveness)
                .map(|v| v.oracle())
                .collect();
            tripped.sort();
            tripped.dedup();
            for o in tripped {
                *side.tripped.entry(o).or_default() += 1;
            }
            side.failover.extend(&r.metrics.failover_ns);
            side.acquisition.extend(&r.metrics.acquisition_ns);
            side.renewals.0 += u64::from(r.metrics.renewals_sent);
            side.renewals.1 += u64::from(r.metrics.renewals_confirmed);
        }
        side
    }
}

fn sim_side(sc: &Scenario, seeds: u32, jobs: usize) -> Side {
    let seeds: Vec<u64> = (0..u64::from(seeds)).collect();
    Side::of(&run_many(sc, &seeds, jobs, RunOptions::default(), &|_| {}))
}

async fn real_side(sc: &Scenario, runs: u32, parallel: u32) -> anyhow::Result<Side> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut next = 0;
    let mut done: Vec<SeedResult> = Vec::new();
    while next < runs || !tasks.is_empty() {
        while next < runs && tasks.len() < parallel as usize {
            let sc = sc.clone();
            let seed = next;
            tasks.spawn(async move { real_seed(&sc, seed, 1.0).await });
            next += 1;
        }
        if let Some(j) = tasks.join_next().await {
            let judged: Judged = j.context("a real run's task")??;
            done.push(judged.result);
        }
    }
    Ok(Side::of(&done))
}

/// The runs a bug found with per-seed rate `p` needs to show at least once with
/// probability `confidence`.
fn runs_needed(p: f64, confidence: f64) -> u32 {
    if p >= 1.0 {
        return 1;
    }
    if p <= 0.0 {
        return u32::MAX;
    }
    let n = ((1.0 - confidence).ln() / (1.0 - p).ln()).ceil();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = n as u32;
    n.max(1)
}

fn ms(ns: f64) -> String {
    format!("{:.1} ms", ns)
}

fn compare(sc: &Scenario, t: &Tolerances, sim: &Side, real: &Side) -> Vec<Row> {
    let mut rows = Vec::new();
    for o in &sc.always {
        let (s, r) = (
            sim.tripped.get(o).copied().unwrap_or(0),
            real.tripped.get(o).copied().unwrap_or(0),
        );
        rows.push(Row {
            what: format!("always {}", o.name()),
            sim: format!("{s} of {} seeds broke it", sim.runs),
            real: format!("{r} of {} runs broke it", real.runs),
            rule: "both hold".into(),
            outcome: if s == 0 && r == 0 {
                Outcome::Within
            } else {
                Outcome::Excess
            },
        });
    }
    for o in &sc.finds {
        let s = sim.tripped.get(o).copied().unwrap_or(0);
        let r = real.tripped.get(o).copied().unwrap_or(0);
        let p = f64::from(s) / f64::from(sim.runs.max(1));
        let need = runs_needed(p, t.confidence);
        let outcome = if s == 0 || (r == 0 && real.runs >= need) {
            Outcome::Excess
        } else if r > 0 {
            Outcome::Within
        } else {
            // Fewer real runs than the rate needs: the file asks too little.
            Outcome::Excess
        };
        rows.push(Row {
            what: format!("finds {}", o.name()),
            sim: format!("{s} of {} seeds (p = {p:.3})", sim.runs),
            real: format!("{r} of {} runs", real.runs),
            rule: format!(
                "found in n ≥ ln {:.2} / ln(1 − p) = {} runs",
                1.0 - t.confidence,
                if need == u32::MAX {
                    "∞".to_string()
                } else {
                    need.to_string()
                }
            ),
            outcome,
        });
    }
    for (name, s, r) in [
        ("failover", &sim.failover, &real.failover),
        ("acquisition", &sim.acquisition, &real.acquisition),
    ] {
        rows.extend(compare_dist(name, s, r, t, real.runs));
    }
    // As the run report counts it (`metrics::Summary`): a renewal confirmed twice (a
    // duplicate answer) never makes the rate exceed 1.
    let rate = |(sent, confirmed): (u64, u64)| Rate::wilson(confirmed, sent.max(confirmed));
    rows.push(compare_rate(
        "renewal success",
        rate(sim.renewals),
        rate(real.renewals),
        t,
        sim.runs.min(real.runs),
    ));
    // The share of failovers longer than half a TTL: a tail a quantile cannot compare
    // when it holds about 1 % of the samples.
    let half_ttl = sc.config.ttl_ns / 2;
    let tail = |v: &[u64]| {
        Rate::wilson(
            v.iter().filter(|&&x| x > half_ttl).count() as u64,
            v.len() as u64,
        )
    };
    if !(sim.failover.is_empty() && real.failover.is_empty()) {
        rows.push(compare_rate(
            "failovers over TTL / 2",
            tail(&sim.failover),
            tail(&real.failover),
            t,
            sim.runs.min(real.runs),
        ));
    }
    rows
}

/// One rate, compared when each side has at least `rate_min_runs` runs: the two 95 %
/// Wilson intervals must overlap.
fn compare_rate(what: &str, s: Rate, r: Rate, t: &Tolerances, fewest_runs: u32) -> Row {
    let show = |x: &Rate| {
        format!(
            "{:.4} [{:.4}, {:.4}] ({}/{})",
            x.rate, x.lo, x.hi, x.hits, x.n
        )
    };
    Row {
        what: what.into(),
        sim: show(&s),
        real: show(&r),
        rule: format!(
            "95 % Wilson intervals overlap; only with ≥ {} runs a side",
            t.rate_min_runs
        ),
        outcome: if fewest_runs < t.rate_min_runs {
            Outcome::NotCompared
        } else if s.lo <= r.hi && r.lo <= s.hi {
            Outcome::Within
        } else {
            Outcome::Excess
        },
    }
}

/// p50, p99 and max of one metric.
fn compare_dist(name: &str, s: &[u64], r: &[u64], t: &Tolerances, real_runs: u32) -> Vec<Row> {
    let (ds, dr) = (Dist::of(s), Dist::of(r));
    if ds.n == 0 && dr.n == 0 {
        return vec![Row {
            what: name.into(),
            sim: "no samples".into(),
            real: "no samples".into(),
            rule: "trivially equal: does not count".into(),
            outcome: Outcome::NotCompared,
        }];
    }
    if ds.n == 0 || dr.n == 0 {
        return vec![Row {
            what: name.into(),
            sim: format!("{} samples", ds.n),
            real: format!("{} samples", dr.n),
            rule: "both sides measure it".into(),
            outcome: Outcome::Excess,
        }];
    }
    let mut rows = Vec::new();
    for (stat, sv, rv, band, compared) in [
        ("p50", ds.p50_ms, dr.p50_ms, t.failover_p50, true),
        (
            "p99",
            ds.p99_ms,
            dr.p99_ms,
            t.failover_tail,
            real_runs >= t.p99_min_real_runs,
        ),
        ("max", ds.max_ms, dr.max_ms, t.failover_tail, true),
    ] {
        rows.push(Row {
            what: format!("{name} {stat} (n = {} / {})", ds.n, dr.n),
            sim: ms(sv),
            real: ms(rv),
            rule: if compared {
                band.describe()
            } else {
                format!(
                    "{}; only with ≥ {} real runs",
                    band.describe(),
                    t.p99_min_real_runs
                )
            },
            outcome: if !compared {
                Outcome::NotCompared
            } else if band.allows(sv, rv) {
                Outcome::Within
            } else {
                Outcome::Excess
            },
        });
    }
    rows
}

/// Each metric's two distributions as CDFs, one SVG per metric (failover and acquisition
/// live on different scales); returns the files written, relative to `out`.
fn plot(sc: &Scenario, sim: &Side, real: &Side, out: &Path) -> anyhow::Result<Vec<String>> {
    let cdf = |ns: &[u64]| -> Vec<(f64, Option<f64>)> {
        let mut v: Vec<u64> = ns.to_vec();
        v.sort_unstable();
        let n = v.len();
        #[allow(clippy::cast_precision_loss)]
        v.iter()
            .enumerate()
            .filter(|(i, _)| n <= 200 || i % (n / 200).max(1) == 0 || *i == n - 1)
            .map(|(i, &x)| (x as f64 / 1e6, Some((i + 1) as f64 / n as f64)))
            .collect()
    };
    let dir = out.join("sim-vs-real");
    let mut files = Vec::new();
    for (metric, s, r) in [
        ("failover", &sim.failover, &real.failover),
        ("acquisition", &sim.acquisition, &real.acquisition),
    ] {
        if s.is_empty() && r.is_empty() {
            continue;
        }
        let series = [("simulator", s), ("real", r)]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(side, v)| Series {
                name: format!("{side} ({} samples)", v.len()),
                points: cdf(v),
            })
            .collect();
        let svg = LinePlot {
            title: format!("{}: {metric}, simulator vs real (CDF)", sc.name),
            x_label: format!("{metric} ms"),
            y_label: "fraction of samples at or below".into(),
            series,
            hline: None,
        }
        .render();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: cannot create it", dir.display()))?;
        let name = format!("{}-{metric}.svg", sc.name);
        let path = dir.join(&name);
        std::fs::write(&path, svg)
            .with_context(|| format!("{}: cannot write it", path.display()))?;
        files.push(format!("sim-vs-real/{name}"));
    }
    Ok(files)
}

type Section<'a> = (String, PathBuf, &'a Entry, Vec<Row>, bool, Vec<String>);

fn render(
    config: &Path,
    file: &AgreeFile,
    overhead: &Dist,
    sections: &[Section<'_>],
    accepted: &[&Exception],
    unexcused: &[&String],
    took: std::time::Duration,
) -> String {
    let t = &file.tolerance;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Simulator vs real processes\n\n`cargo run --release -- agree` (tolerances and scenarios: `{}`, committed before the comparison). This run took {:.0} s on this 2-core machine.\n",
        config.display(),
        took.as_secs_f64()
    );
    let _ = writeln!(
        md,
        "Each scenario is scaled so a real run takes seconds (TTL 1 s). The simulator runs its seeds; the real side starts every node as a `leaseproof serve` process on loopback and plays the same kind of fault plan with real mechanisms (`leaseproof real`). Both are judged by the same oracles and measured by the same definitions (failover: `metrics::Failover`; acquisition: request to first adopted grant).\n"
    );
    let _ = writeln!(
        md,
        "**The network under the real runs**: one-way latency of a frame from a sender through the fault proxy (no faults) to a receiver on loopback, {} frames: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms. It lies below the simulator's 1 ms latency unit, so the simulator runs each scenario's own `latency_ms` range (the real proxy adds that range on top of this).\n",
        overhead.n, overhead.p50_ms, overhead.p99_ms, overhead.max_ms
    );
    let _ = writeln!(
        md,
        "**Tolerances**: failover (and acquisition) p50 {}; p99 and max {}; p99 compared only with ≥ {} real runs; a rate compared only with ≥ {} runs a side, agreeing when the 95 % Wilson intervals overlap; a bug the simulator finds with per-seed rate p must show in n ≥ ln {:.2} / ln(1 − p) real runs. A metric with no samples on either side is trivially equal and does not count.\n",
        t.failover_p50.describe(),
        t.failover_tail.describe(),
        t.p99_min_real_runs,
        t.rate_min_runs,
        1.0 - t.confidence
    );
    let _ = writeln!(md, "| scenario | sim seeds | real runs | counts | result |");
    let _ = writeln!(md, "|---|---|---|---|---|");
    for (name, _, e, rows, counts, _) in sections {
        let worst = rows
            .iter()
            .map(|r| r.outcome)
            .max()
            .unwrap_or(Outcome::NotCompared);
        let result = match worst {
            Outcome::Excess if accepted.iter().any(|x| &x.scenario == name) => {
                "excess (accepted exception)"
            }
            Outcome::Excess => "**EXCESS**",
            _ => "within",
        };
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {} | {result} |",
            e.sim_seeds,
            e.real_runs,
            if *counts { "yes" } else { "no (trivial)" }
        );
    }
    let _ = writeln!(md);
    if unexcused.is_empty() {
        let _ = writeln!(md, "Every compared scenario is within its tolerances.\n");
    } else {
        let _ = writeln!(
            md,
            "Beyond tolerance: {}.\n",
            unexcused
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for x in accepted {
        let _ = writeln!(
            md,
            "**Accepted exception** ({}): {} Shown by `{}`.\n",
            x.scenario, x.cause, x.test
        );
    }
    for (name, path, _, rows, _, plot) in sections {
        let _ = writeln!(md, "## {name}\n\n`{}`\n", path.display());
        let _ = writeln!(md, "| what | simulator | real | rule | outcome |");
        let _ = writeln!(md, "|---|---|---|---|---|");
        for r in rows {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                r.what,
                r.sim,
                r.real,
                r.rule,
                r.outcome.label()
            );
        }
        for p in plot {
            let _ = writeln!(md, "\n![{name}]({p})");
        }
        let _ = writeln!(md);
    }
    md
}
