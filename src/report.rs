//! Human-readable output of runs: failure blocks, the summary table, report files.

use leaseproof_sim::run_report::{self, Author};
use leaseproof_sim::verdict::{ScenarioReport, Verdict};
use std::fmt::Write as _;
use std::path::Path;

/// Prints each failure as docs/design.md ("Scenarios, seeds, replay") describes it: the verdict, where, and the replay command.
pub fn print_failures(rep: &ScenarioReport) {
    for w in &rep.warnings {
        eprintln!("WARN {}: {w}", rep.name);
    }
    for f in &rep.failures {
        eprintln!("FAIL {}: {}: {}", f.class, f.oracle, f.detail);
        match f.seed {
            Some(seed) => eprintln!("  seed={seed} scenario={} hash={}", rep.path, rep.hash),
            None => eprintln!("  scenario={} hash={}", rep.path, rep.hash),
        }
        if let Some(r) = &f.replay {
            eprintln!("  replay: {r}");
        }
    }
}

fn table(reports: &[ScenarioReport]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| scenario | class | variant | seeds | passed | found | failover p99 ms | stale writes rejected | verdict |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    for r in reports {
        let _ = writeln!(
            s,
            "| {} | {:?} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.class,
            r.variant,
            r.seeds,
            r.passed,
            run_report::found_summary(r),
            r.metrics.failover.cell(|d| d.p99_ms),
            r.metrics.stale_writes_rejected,
            run_report::verdict(r).0
        );
    }
    s
}

/// The line a failing run ends with: its exit code, what it means, and the scenarios with
/// that verdict. None when everything held.
#[must_use]
pub fn closing_line(reports: &[ScenarioReport]) -> Option<String> {
    let worst = reports
        .iter()
        .map(|r| r.verdict)
        .max()
        .filter(|v| *v != Verdict::Pass)?;
    let names: Vec<&str> = reports
        .iter()
        .filter(|r| r.verdict == worst)
        .map(|r| r.name.as_str())
        .collect();
    Some(format!(
        "exit {}: {}: {}",
        worst.exit_code(),
        worst.meaning(),
        names.join(", ")
    ))
}

pub fn print_table(reports: &[ScenarioReport]) {
    emit(&table(reports));
}

/// Writes to stdout; a reader that went away (`| head`) is not an error worth a panic.
pub fn emit(s: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes()).and_then(|()| out.flush());
}

/// Who wrote a run's reports: a run given `--seeds` (not each scenario's own seeds) names
/// itself from what it was asked, the same for a run and the merge of its shards.
#[must_use]
pub fn run_author(p: &leaseproof_sim::shard::RunParams) -> Author {
    let Some(seeds) = p.seeds else {
        return Author::run();
    };
    let mut command = format!("leaseproof run --seeds {seeds}");
    if p.seed_base != 0 {
        command.push_str(&format!(" --seed-base {}", p.seed_base));
    }
    if p.check_determinism {
        command.push_str(" --check-determinism");
    }
    for path in &p.paths {
        command.push(' ');
        command.push_str(path);
    }
    Author::command(&command)
}

/// Writes `run.json` and `run.md` into the report folder.
pub fn write_run_reports(
    out: &Path,
    reports: &[ScenarioReport],
    author: &Author,
) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let json = serde_json::to_string_pretty(&serde_json::json!({ "scenarios": reports }))
        .map_err(std::io::Error::other)?;
    std::fs::write(out.join("run.json"), json)?;
    let mut md = format!("# Scenario run\n\nWritten by {}.\n\n", author.md);
    md.push_str(&table(reports));
    md.push('\n');
    for r in reports {
        if r.failures.is_empty() && r.dead_letters.is_empty() {
            continue;
        }
        let _ = writeln!(md, "## {}\n", r.name);
        for f in &r.failures {
            let _ = writeln!(md, "- **{}** {}: {}", f.class, f.oracle, f.detail);
            if let Some(rp) = &f.replay {
                let _ = writeln!(md, "  `{rp}`");
            }
        }
        if !r.dead_letters.is_empty() {
            let _ = writeln!(
                md,
                "Dead-letter list ({} jobs applied, {} attempts answered from a job's record, \
                 {} definite rejections, over {} seeds):\n",
                r.metrics.jobs_applied,
                r.metrics.jobs_already_done,
                r.metrics.job_rejections,
                r.seeds
            );
            for d in &r.dead_letters {
                let _ = writeln!(
                    md,
                    "- `{}`: dead-lettered in {} of {} seeds",
                    d.key, d.seeds, r.seeds
                );
            }
        }
        md.push('\n');
    }
    std::fs::write(out.join("run.md"), md)
}

/// The text output of `leaseproof check`.
#[must_use]
pub fn check_text(r: &leaseproof_model::check::CheckReport, interrupted: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "model: {}", r.model);
    let _ = writeln!(
        s,
        "{} states generated, {} unique, depth {}, {:.2} s, {:.0} states/s{}",
        r.states,
        r.unique,
        r.depth,
        r.seconds,
        r.states_per_sec,
        if interrupted {
            " (interrupted: counts so far)"
        } else if r.closed {
            " (closed: no new state appears)"
        } else if r.complete {
            " (exhaustive within the bounds)"
        } else {
            " (stopped at the first failure)"
        }
    );
    for (name, p) in &r.properties {
        let verdict = match (p.expectation, p.holds) {
            ("always", true) if r.complete => "holds".to_string(),
            ("always", true) => "no counterexample before the run stopped".to_string(),
            ("always", false) => "FAILS".to_string(),
            (_, true) => "reached".to_string(),
            (_, false) => "not reached".to_string(),
        };
        let note = match (*name, p.holds) {
            (leaseproof_model::PROP_TWO_BELIEVERS, true) => {
                "  (belief exclusivity fails outside its assumptions: a paused or drifted holder still believes after the key moved on; fencing is what saves the resource)"
            }
            (leaseproof_model::PROP_TWO_BELIEVERS, false) if r.complete => {
                "  (belief exclusivity holds)"
            }
            (leaseproof_model::PROP_ALL_SERVED, _) => {
                "  (liveness as bounded reachability, not a proof: stateright's Eventually is unsound with crashes and re-arming timers)"
            }
            _ => "",
        };
        let _ = writeln!(s, "  {:<9} {:<42} {verdict}{note}", p.expectation, name);
        if p.expectation == "sometimes" && !p.holds {
            let _ = writeln!(
                s,
                "            {}",
                if r.closed {
                    "WARNING: vacuous (no state of the closed space reaches it)"
                } else if r.complete && *name == leaseproof_model::PROP_ACQUIRED_AGAIN {
                    "WARNING: vacuous at these bounds (a bounded check's clients think 1000 \
                     ticks, so each acquires once); --closed, or a short --think, repeats the \
                     workload"
                } else if r.complete {
                    "WARNING: vacuous at these bounds (no state reached it); raise --max-time"
                } else {
                    "(not reached before the run stopped: not a verdict)"
                }
            );
        }
        if !p.trace.is_empty() {
            let _ = writeln!(s, "    counterexample ({} steps):", p.trace.len());
            for st in &p.trace {
                let clocks: Vec<String> =
                    st.clocks.iter().map(|(n, t)| format!("{n}={t}")).collect();
                let _ = writeln!(
                    s,
                    "    {:>3}. [{}] {}",
                    st.step,
                    clocks.join(" "),
                    st.action
                );
                for o in &st.outputs {
                    let _ = writeln!(s, "           -> {o}");
                }
            }
        }
    }
    check_footer(r, interrupted, &mut s);
    s
}

/// The lines after the properties: what a closed check covers, liveness beyond the
/// assumptions, the collision bound and the verdict.
fn check_footer(r: &leaseproof_model::check::CheckReport, interrupted: bool, s: &mut String) {
    if let Some(a) = &r.assumptions {
        let _ = writeln!(
            *s,
            "{}: every run of any length in which {a}",
            if r.closed {
                "closed"
            } else {
                "NOT closed (the search stopped)"
            }
        );
    }
    if let Some(why) = &r.liveness_beyond {
        let _ = writeln!(*s, "liveness: beyond the assumptions: {why}");
    }
    let _ = writeln!(
        *s,
        "fingerprint collisions: at most about n²/2⁶⁵ = {:.1e} for n = {} states",
        r.collision_bound, r.unique
    );
    let verdict = r.verdict(interrupted);
    let _ = writeln!(
        *s,
        "verdict: {verdict} (exit {}); time-locks: local patterns only",
        verdict.exit_code()
    );
}

/// The closing lines of `check` with no bound flag (the closed suite): which closed
/// check reached each coverage property, then the suite's verdict (`code` 0: every check
/// ran to its end, so closed, with every property holding and every one reached).
#[must_use]
pub fn suite_text(
    reached: &std::collections::BTreeMap<&'static str, Vec<&'static str>>,
    code: u8,
) -> String {
    let mut s = String::from("== closed suite: coverage\n");
    for (name, by) in reached {
        let _ = writeln!(
            s,
            "  sometimes {name:<52} {}",
            if by.is_empty() {
                "NOT reached by any closed check".to_string()
            } else {
                format!("reached ({})", by.join("; "))
            }
        );
    }
    let _ = writeln!(
        s,
        "{}; verdict: {} (exit {code})",
        if code == 0 {
            "closed: every check above closed, every Always holds in each, every coverage \
             property reached by one"
        } else {
            "NOT closed (a check failed, stopped or left a coverage property unreached)"
        },
        if code == 0 { "pass" } else { "fail" }
    );
    s
}

/// The text summary of `leaseproof tune`.
#[must_use]
pub fn tune_text(r: &leaseproof_sim::tune::TuneReport, out: &Path, files: usize) -> String {
    let mut s = String::new();
    let ran = r.cells.iter().filter(|c| c.skipped.is_none()).count();
    let unsafe_cells = r.cells.iter().filter(|c| c.unsafe_runs.hits > 0).count();
    let _ = writeln!(
        s,
        "tune {}: {} cells ran ({} skipped as impossible), {} seeds each, {:.1} s; {} cells had unsafe runs",
        r.name,
        ran,
        r.cells.len() - ran,
        r.seeds_per_cell,
        r.seconds,
        unsafe_cells
    );
    for rec in &r.recommendations {
        let mark = if rec.ttl_ms.is_some() { "ok  " } else { "NONE" };
        let _ = writeln!(s, "  {mark} {}", rec.explanation);
    }
    let _ = writeln!(
        s,
        "report: {} ({files} files; open index.html)",
        out.display()
    );
    s
}
