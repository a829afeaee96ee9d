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

fn case(path: &Path) -> Result<(), Failed> {
    let sc = Scenario::load(path).map_err(|e| e.to_string())?;
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
    for f in files {
        let rel = f.strip_prefix(&dir).unwrap_or(&f).with_extension("");
        let name = format!("scenario::{}", rel.display()).replace('/', "::");
        trials.push(Trial::test(name, move || case(&f)));
    }
    libtest_mimic::run(&args, trials).exit();
}
