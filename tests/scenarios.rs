//! Every scenario file is its own `cargo test` case: its test seeds run, are judged against
//! its expectations, and run a second time to prove the trace hashes match (determinism).

use leaseproof_sim::run::RunOptions;
use leaseproof_sim::scenario::{discover, Scenario};
use leaseproof_sim::verdict::{judge, run_many};
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file of a real system (a regression `run --save-failures` saved from one) runs by
/// that system's rules; every other file is the reference protocol's.
fn case(path: &Path) -> Result<(), Failed> {
    let kind = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| leaseproof_sim::scenario::protocol_of(&t));
    match kind.as_deref() {
        Some(k) => leaseproof::with_real_system!(k, |P| case_as::<P>(path), else {
            case_as::<leaseproof_impl::Reference>(path)
        }),
        None => case_as::<leaseproof_impl::Reference>(path),
    }
}

fn case_as<P: leaseproof_impl::Protocol>(path: &Path) -> Result<(), Failed> {
    let sc = Scenario::<P>::load_protocol(path).map_err(|e| e.to_string())?;
    let seeds = sc.test_seeds();
    let results = run_many(&sc, &seeds, 1, RunOptions::default(), &|_| {});
    let rerun = run_many(&sc, &seeds, 1, RunOptions::default(), &|_| {});
    let rep = judge(&sc, &results, &rerun);
    if rep.exit == 0 {
        return Ok(());
    }
    let lines: Vec<String> = rep
        .failures
        .iter()
        .map(|f| {
            format!(
                "{} {}: {}{}",
                f.class,
                f.oracle,
                f.detail,
                f.replay
                    .as_ref()
                    .map(|r| format!("\n    replay: {r}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    Err(lines.join("\n").into())
}

/// cargo-nextest runs a custom harness through three commands ("Custom test harnesses",
/// nexte.st/docs/design/custom-test-harnesses): `--list --format terse` prints every test (or
/// every non-ignored one) as `NAME: test`, one per line; with `--ignored` it prints only the
/// ignored ones; and `NAME --exact --nocapture` runs exactly that test in its own process,
/// exiting 0 when it passes. This harness is run here the way nextest runs it.
fn nextest_protocol(names: &[String]) -> Result<(), Failed> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let run = |args: &[&str]| {
        std::process::Command::new(&me)
            .args(args)
            .output()
            .map_err(|e| Failed::from(e.to_string()))
    };
    let list = run(&["--list", "--format", "terse"])?;
    let text = String::from_utf8_lossy(&list.stdout).into_owned();
    let listed: Vec<&str> = text
        .lines()
        .map(|l| l.strip_suffix(": test").ok_or(l))
        .collect::<Result<_, _>>()
        .map_err(|l| format!("a list line nextest cannot read: {l:?}"))?;
    for n in names {
        if !listed.contains(&n.as_str()) {
            return Err(format!("{n} is not listed").into());
        }
    }
    if listed.len() != names.len() + 2 {
        return Err(format!("{} listed, {} trials", listed.len(), names.len() + 2).into());
    }
    let ignored = run(&["--list", "--format", "terse", "--ignored"])?;
    if !ignored.stdout.is_empty() {
        return Err("no scenario test is ignored, yet --ignored lists some".into());
    }
    let one = run(&["harness_found_scenario_cases", "--exact", "--nocapture"])?;
    let out = String::from_utf8_lossy(&one.stdout);
    if !one.status.success() || !out.contains("1 passed") || !out.contains("filtered out") {
        return Err(format!("--exact did not run exactly one test: {out}").into());
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let dir = root().join("scenarios");
    let files = discover(std::slice::from_ref(&dir)).expect("scenarios/ is readable");
    let count = files.len();
    let mut trials = vec![Trial::test("harness_found_scenario_cases", move || {
        // The harness must not pass by running nothing.
        if count >= 10 {
            Ok(())
        } else {
            Err(format!("only {count} scenario files found under scenarios/").into())
        }
    })];
    let mut names = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&dir).unwrap_or(&f).with_extension("");
        let name = format!("scenario::{}", rel.display()).replace('/', "::");
        names.push(name.clone());
        trials.push(Trial::test(name, move || case(&f)));
    }
    trials.push(Trial::test("harness_lists_as_nextest_reads", move || {
        nextest_protocol(&names)
    }));
    libtest_mimic::run(&args, trials).exit();
}
