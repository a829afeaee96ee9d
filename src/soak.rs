//! `leaseproof soak`: long runs. Cycles through the scenarios with fresh seeds until its time
//! is up, a summary every minute, each failure saved into a regression corpus if asked, its
//! progress in a state file after every batch (so `--resume` continues where a stopped soak
//! left off, with the same seeds never run twice), and Ctrl-C stops it after the batch in
//! flight with a summary of what it covered.
//!
//! Seeds: round r of a soak runs, for every scenario, the seeds `base + r*B .. base + (r+1)*B`
//! (B = the batch size), so every scenario meets the same fresh seeds and the state needs
//! only the next round. Scenarios that pin their seeds (`seed_list`, the regression corpus)
//! are left out: a soak is for seeds nobody ran.

use crate::default_jobs;
use anyhow::Context;
use leaseproof_sim::run::RunOptions;
use leaseproof_sim::scenario::Scenario;
use leaseproof_sim::verdict::{judge, run_many, worst, EXIT_OK, EXIT_USAGE};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(clap::Args)]
pub struct SoakArgs {
    /// Scenario files or folders (default: scenarios/).
    paths: Vec<PathBuf>,
    /// How long to run, in minutes (a fraction is fine: 0.5).
    #[arg(long)]
    minutes: f64,
    /// First seed: a number, or `random` (the default; the base is printed and kept in the
    /// state file).
    #[arg(long, default_value = "random")]
    seed_base: String,
    /// The state file (default reports/soak/state.json), written after every batch.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Continue the soak the state file describes (same scenarios, same base, next seeds).
    #[arg(long)]
    resume: bool,
    /// Save each failing seed as a regression scenario in DIR (see `run --save-failures`).
    #[arg(long, value_name = "DIR")]
    save_failures: Option<PathBuf>,
    /// Seeds per scenario per round (default: 8 per worker thread).
    #[arg(long)]
    batch: Option<u32>,
    /// Worker threads (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
}

/// A soak's progress, as its state file holds it.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    version: u32,
    seed_base: u64,
    batch: u32,
    /// The scenarios (path@content hash): a resume refuses a changed set.
    scenarios: Vec<String>,
    /// The next round to run, and the first scenario of it not yet run.
    round: u64,
    next_scenario: usize,
    seeds_run: u64,
    seconds: f64,
    /// Per scenario: seeds run and seeds failed.
    per_scenario: BTreeMap<String, (u64, u64)>,
    failures: Vec<SoakFailure>,
    exit: u8,
}

#[derive(Debug, Serialize, Deserialize)]
struct SoakFailure {
    scenario: String,
    seed: u64,
    oracle: String,
    class: String,
    replay: String,
}

const STATE_VERSION: u32 = 1;

static STOP: AtomicBool = AtomicBool::new(false);

/// Runs a soak; its exit code is the worst verdict it saw (0 when nothing failed).
#[allow(clippy::disallowed_methods)] // a soak runs for wall time, by definition
pub fn soak(args: &SoakArgs) -> anyhow::Result<u8> {
    if !(args.minutes > 0.0 && args.minutes.is_finite()) {
        eprintln!(
            "error: --minutes: {} is not a positive number of minutes",
            args.minutes
        );
        return Ok(EXIT_USAGE);
    }
    if args.batch == Some(0) {
        eprintln!("error: --batch: must be at least 1");
        return Ok(EXIT_USAGE);
    }
    let scenarios = match load(args)? {
        Ok(s) => s,
        Err(why) => {
            eprintln!("{why}");
            return Ok(EXIT_USAGE);
        }
    };
    let jobs = args.jobs.unwrap_or_else(default_jobs).max(1);
    let state_file = args
        .state
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports/soak/state.json"));
    let names: Vec<String> = scenarios
        .iter()
        .map(|s| format!("{}@{}", s.path.display(), s.hash))
        .collect();
    let mut st = match start(args, &state_file, &names, jobs)? {
        Ok(st) => st,
        Err(why) => {
            eprintln!("error: {why}");
            return Ok(EXIT_USAGE);
        }
    };
    let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst));
    let started = std::time::Instant::now();
    let budget = std::time::Duration::from_secs_f64(args.minutes * 60.0);
    let mut next_summary = std::time::Duration::from_secs(60);
    let before = st.seconds;
    eprintln!(
        "soak: {} scenarios, seeds from {} in rounds of {} per scenario, for {} min; state in {}",
        scenarios.len(),
        st.seed_base,
        st.batch,
        args.minutes,
        state_file.display()
    );
    'soak: loop {
        for sc in scenarios.iter().skip(st.next_scenario) {
            batch(&mut st, sc, jobs, args.save_failures.as_deref());
            st.seconds = before + started.elapsed().as_secs_f64();
            write_state(&state_file, &st)?;
            if started.elapsed() >= next_summary {
                eprintln!("{}", summary(&st));
                next_summary += std::time::Duration::from_secs(60);
            }
            if STOP.load(Ordering::SeqCst) || started.elapsed() >= budget {
                break 'soak;
            }
        }
        st.round += 1;
        st.next_scenario = 0;
        write_state(&state_file, &st)?;
    }
    let why = if STOP.load(Ordering::SeqCst) {
        "stopped (Ctrl-C)"
    } else {
        "time is up"
    };
    eprintln!("soak {why}: {}", summary(&st));
    eprintln!(
        "resume with: leaseproof soak --resume --state {} --minutes M",
        state_file.display()
    );
    Ok(st.exit)
}

/// The scenarios a soak cycles through: those that do not pin their seeds.
fn load(args: &SoakArgs) -> anyhow::Result<Result<Vec<Scenario>, String>> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        args.paths.clone()
    };
    Ok(match crate::load_all(&paths)? {
        Ok(s) => {
            let free: Vec<Scenario> = s
                .into_iter()
                .filter(|s| s.file.seed_list.is_empty())
                .collect();
            if free.is_empty() {
                Err(format!(
                    "error: no scenario without a pinned seed_list under {paths:?}"
                ))
            } else {
                Ok(free)
            }
        }
        Err(errors) => Err(errors),
    })
}

/// One scenario's batch of the current round: run, judged, recorded, its failures printed
/// and saved.
fn batch(st: &mut State, sc: &Scenario, jobs: usize, save: Option<&Path>) {
    let from = st
        .seed_base
        .wrapping_add(st.round.wrapping_mul(u64::from(st.batch)));
    let seeds: Vec<u64> = (0..u64::from(st.batch))
        .map(|i| from.wrapping_add(i))
        .collect();
    let results = run_many(sc, &seeds, jobs, RunOptions::default(), &|_| {});
    let rep = judge(sc, &results, &[]);
    record(st, sc, &rep, seeds.len() as u64);
    if let Some(dir) = save {
        crate::save_failures(
            std::slice::from_ref(sc),
            std::slice::from_ref(&rep),
            dir,
            false,
        );
    }
    for f in rep.failures.iter().filter(|f| f.seed.is_some()) {
        eprintln!(
            "FAIL {} {}: {}\n  replay: {}",
            f.class.name(),
            f.oracle,
            f.detail,
            f.replay.as_deref().unwrap_or("")
        );
    }
    st.next_scenario += 1;
}

/// A fresh state, or the one `--resume` reads (refused when it does not match).
fn start(
    args: &SoakArgs,
    file: &Path,
    names: &[String],
    jobs: usize,
) -> anyhow::Result<Result<State, String>> {
    if args.resume {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => return Ok(Err(format!("--resume: {}: {e}", file.display()))),
        };
        let st: State = match serde_json::from_str(&text) {
            Ok(s) => s,
            Err(e) => {
                return Ok(Err(format!(
                    "--resume: {}: not a soak state: {e}",
                    file.display()
                )))
            }
        };
        if st.version != STATE_VERSION {
            return Ok(Err(format!(
                "--resume: {}: state version {}, this build reads {STATE_VERSION}",
                file.display(),
                st.version
            )));
        }
        if st.scenarios != names {
            return Ok(Err(format!(
                "--resume: {}: the scenarios changed since the soak began (a resumed soak \
                 must run the same files); start a new soak without --resume",
                file.display()
            )));
        }
        eprintln!("resuming: {}", summary(&st));
        return Ok(Ok(st));
    }
    let seed_base = match args.seed_base.as_str() {
        "random" => crate::random_base(),
        s => match s.parse::<u64>() {
            Ok(b) => b,
            Err(_) => {
                return Ok(Err(format!(
                    "--seed-base: {s:?} is not a number or `random`"
                )))
            }
        },
    };
    let st = State {
        version: STATE_VERSION,
        seed_base,
        batch: args.batch.unwrap_or(8 * jobs as u32),
        scenarios: names.to_vec(),
        ..State::default()
    };
    write_state(file, &st).context("writing the soak state")?;
    Ok(Ok(st))
}

fn record(st: &mut State, sc: &Scenario, rep: &leaseproof_sim::verdict::ScenarioReport, n: u64) {
    let e = st
        .per_scenario
        .entry(sc.path.display().to_string())
        .or_default();
    e.0 += n;
    e.1 += (rep.seeds - rep.passed) as u64;
    st.seeds_run += n;
    for f in rep.failures.iter().filter(|f| f.seed.is_some()) {
        st.failures.push(SoakFailure {
            scenario: sc.path.display().to_string(),
            seed: f.seed.unwrap_or_default(),
            oracle: f.oracle.clone(),
            class: f.class.name().to_string(),
            replay: f.replay.clone().unwrap_or_default(),
        });
    }
    // Vacuity and unfound `finds` say nothing about one small batch: only seeded failures
    // count.
    let seeded = rep
        .failures
        .iter()
        .filter(|f| f.seed.is_some())
        .fold(EXIT_OK, |c, f| worst(c, f.exit()));
    st.exit = worst(st.exit, seeded);
}

fn summary(st: &State) -> String {
    let failing: usize = st.per_scenario.values().filter(|(_, f)| *f > 0).count();
    format!(
        "{:.1} min, {} rounds, {} seeds over {} scenarios (seeds {}..{}), {} failures in {} \
         scenarios",
        st.seconds / 60.0,
        st.round,
        st.seeds_run,
        st.scenarios.len(),
        st.seed_base,
        st.seed_base
            .wrapping_add(st.round.wrapping_mul(u64::from(st.batch))),
        st.failures.len(),
        failing
    )
}

/// Written whole, then renamed: a killed soak leaves the last complete state.
fn write_state(file: &Path, st: &State) -> anyhow::Result<()> {
    if let Some(d) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let tmp = file.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(st)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, file).with_context(|| format!("writing {}", file.display()))?;
    Ok(())
}
