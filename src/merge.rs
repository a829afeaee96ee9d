//! `run --shard I/N` and `leaseproof merge`: the CLI around `leaseproof_sim::shard`.
//!
//! A shard writes one partial file and exits 0 whatever its seeds found (findings are data;
//! the merge judges them); it exits 2 on bad input and 4 if it crashed (a panic outside a
//! seed, which the runtime turns into exit 101 only if leaseproof itself breaks). The merge
//! carries the run's exit code, and refuses with exit 2 what is not the N shards of one run.

use crate::{report, write_run};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use leaseproof_sim::scenario::Scenario;
use leaseproof_sim::shard::{self, RunParams, ShardSpec};
use leaseproof_sim::verdict::{report_dir, worst, EXIT_OK, EXIT_USAGE};
use std::path::{Path, PathBuf};

use leaseproof::BUILD_ID;

/// A merge's inputs refused: the error (it names the file), exit 2.
fn refuse(e: &shard::MergeError) -> u8 {
    eprintln!("error: {e}");
    EXIT_USAGE
}

/// `--shard`'s parser: `I/N`, 1-based.
pub fn parse_shard(s: &str) -> Result<ShardSpec, String> {
    s.parse()
}

#[derive(clap::Args)]
pub struct MergeArgs {
    /// Partial files, or folders holding them (shard-I-of-N.json).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Where to write the reports (default: where the unsharded run would have written
    /// them: reports/ for the whole scenarios/ folder, else reports/runs/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// One JSON document on stdout, as `run --json` prints.
    #[arg(long)]
    pub json: bool,
    /// Also write JUnit XML, as `run --junit` does.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Save the merged run's failing seeds into a regression corpus, as `run
    /// --save-failures` does (shrinking runs the simulator).
    #[arg(long, value_name = "DIR")]
    pub save_failures: Option<PathBuf>,
}

/// Runs one shard and writes its partial file into `out` (default `reports/shards/`).
pub fn run_shard<P: leaseproof_impl::Protocol>(
    out: Option<&Path>,
    scenarios: &[Scenario<P>],
    params: &RunParams,
    spec: ShardSpec,
    jobs: usize,
    quiet: bool,
) -> anyhow::Result<u8> {
    let total: usize = scenarios
        .iter()
        .map(|s| s.run_seeds(params.seed_base, params.seeds).len())
        .sum();
    let mine = (0..total).filter(|&k| spec.owns(k)).count() as u64;
    let bar = progress(quiet, mine, spec);
    let partial = shard::run_shard(scenarios, params, spec, BUILD_ID, jobs, &|_| bar.inc(1));
    bar.finish_and_clear();
    let file = write_partial(out, spec, &serde_json::to_string(&partial)?)?;
    eprintln!(
        "shard {spec}: {mine} of {total} seeds over {} scenarios; wrote {} (join the shards \
         with: leaseproof merge DIR...)",
        scenarios.len(),
        file.display()
    );
    Ok(EXIT_OK)
}

/// Runs one tune shard and writes its partial file into `out` (default `reports/shards/`).
pub fn run_tune_shard(
    g: &leaseproof_sim::tune::GridFile,
    opts: &leaseproof_sim::tune::TuneOptions,
    spec: ShardSpec,
    out: Option<&Path>,
    quiet: bool,
) -> anyhow::Result<u8> {
    let runnable = g
        .cells()
        .iter()
        .filter(|(_, run)| crate::runnable(run))
        .count();
    let total = runnable * opts.seeds as usize;
    let mine = (0..total).filter(|&k| spec.owns(k)).count() as u64;
    let bar = progress(quiet, mine, spec);
    #[allow(clippy::disallowed_methods)] // the shard's wall time, for the merged report only
    let started = std::time::Instant::now();
    let mut partial = shard::run_tune_shard(
        g,
        opts,
        spec,
        BUILD_ID,
        &sweep_command(),
        &|_| bar.inc(1),
        &|p, seeds| {
            leaseproof::with_real_system!(
                p.kind.as_str(),
                |P| crate::plugin_records::<P>(p, seeds, opts.jobs, &bar),
                else Err(format!("this build has no protocol {:?}", p.kind))
            )
        },
    );
    partial.seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let file = write_partial(out, spec, &serde_json::to_string(&partial)?)?;
    eprintln!(
        "shard {spec}: {mine} of {total} (cell, seed) runs over {runnable} cells; wrote {} \
         (join the shards with: leaseproof merge DIR...)",
        file.display()
    );
    Ok(EXIT_OK)
}

/// This process's command line without `--shard` and `--out` (and their values): the
/// command every shard of one sweep shares, which its merged report names.
fn sweep_command() -> String {
    let mut out = Vec::new();
    let mut skip = false;
    for a in std::env::args().skip(1) {
        if skip {
            skip = false;
        } else if a == "--shard" || a == "--out" {
            skip = true;
        } else if !a.starts_with("--shard=") && !a.starts_with("--out=") {
            out.push(a);
        }
    }
    format!("leaseproof {}", out.join(" "))
}

fn progress(quiet: bool, len: u64, spec: ShardSpec) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} seeds of shard {msg}  eta {eta}")
            .expect("a valid template"),
    );
    bar.set_message(spec.to_string());
    bar
}

/// Writes a partial file whole, then renames it into place: a merge never reads half a file.
fn write_partial(out: Option<&Path>, spec: ShardSpec, text: &str) -> anyhow::Result<PathBuf> {
    let dir = out.map_or_else(|| PathBuf::from("reports/shards"), Path::to_path_buf);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let file = dir.join(spec.file_name());
    let tmp = dir.join(format!(".{}.tmp", spec.file_name()));
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &file).with_context(|| format!("writing {}", file.display()))?;
    Ok(file)
}

/// `leaseproof merge`: the shards' reports, as one run (or sweep) would have written them.
pub fn merge(args: &MergeArgs) -> anyhow::Result<u8> {
    let files = match shard::partial_files(&args.paths) {
        Ok(f) => f,
        Err(e) => return Ok(refuse(&e)),
    };
    match shard::command_of(&files).as_deref() {
        Ok("tune") => merge_tune(args, &files),
        Ok("catalog") => merge_catalog(args, &files),
        Ok(_) => merge_run(args, &files),
        Err(e) => Ok(refuse(e)),
    }
}

/// Writes a catalog shard's partial file.
pub fn write_catalog_shard(
    out: Option<&Path>,
    spec: ShardSpec,
    part: &leaseproof::catalog::CatalogPartial,
) -> anyhow::Result<u8> {
    let file = write_partial(out, spec, &serde_json::to_string(part)?)?;
    eprintln!(
        "shard {spec}: {} variants, {} reproductions{}; wrote {} (join the shards with: \
         leaseproof merge DIR...)",
        part.rows.len(),
        part.reproductions.len(),
        if part.correct.is_some() {
            ", the correct protocol's check"
        } else {
            ""
        },
        file.display()
    );
    Ok(EXIT_OK)
}

fn merge_catalog(args: &MergeArgs, files: &[PathBuf]) -> anyhow::Result<u8> {
    use leaseproof::catalog::{assemble, CatalogPartial};
    let parts = match shard::read_all::<CatalogPartial>(files)
        .and_then(|p| shard::check_shards(&p).map(|n| (p, n)))
    {
        Ok(p) => p,
        Err(e) => return Ok(refuse(&e)),
    };
    let (parts, n) = parts;
    let build = parts[0].1.header.build.clone();
    for (_, p) in &parts {
        for (f, text) in &p.shrunk {
            let path = Path::new(f);
            let inside = path.starts_with("reports/shrunk")
                && path
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)));
            if !inside {
                eprintln!(
                    "error: a shrunk scenario at {f}: a catalog shard writes only under \
                     reports/shrunk/"
                );
                return Ok(EXIT_USAGE);
            }
            if let Some(d) = path.parent() {
                std::fs::create_dir_all(d)?;
            }
            std::fs::write(path, text).with_context(|| format!("writing {f}"))?;
        }
    }
    let cat = assemble(parts.into_iter().map(|(_, p)| p).collect())?;
    if !args.json {
        eprintln!("merged {n} shards (build {build})");
    }
    crate::write_catalog(&cat, args.out.as_deref(), args.json, args.junit.as_deref())
}

fn merge_tune(args: &MergeArgs, files: &[PathBuf]) -> anyhow::Result<u8> {
    let m = match shard::merge_tune(files, &crate::plugin_takes) {
        Ok(m) => m,
        Err(e) => return Ok(refuse(&e)),
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(format!("tune-{}", m.grid.name)));
    let command = format!(
        "{} (merged from {} shards by leaseproof merge)",
        m.sweep, m.shards
    );
    let written = leaseproof_sim::tune_report::write(&out, &m.report, &command)
        .with_context(|| format!("writing {}", out.display()))?;
    if args.json {
        report::emit(&format!("{}\n", serde_json::to_string_pretty(&m.report)?));
    } else {
        eprintln!("merged {} shards (build {})", m.shards, m.build);
        report::emit(&report::tune_text(&m.report, &out, written.len()));
    }
    Ok(m.report.verdict().exit_code())
}

/// Merges run shards of whichever protocol their scenarios are (the first shard's first
/// scenario names it; every shard of one run has the same scenarios).
fn merge_run(args: &MergeArgs, files: &[PathBuf]) -> anyhow::Result<u8> {
    let first = match shard::read_all::<shard::PartialRun>(&files[..1]) {
        Ok(p) => p,
        Err(e) => return Ok(refuse(&e)),
    };
    let kind = first
        .first()
        .and_then(|(_, p)| p.scenarios.first())
        .and_then(|s| leaseproof_sim::scenario::protocol_of(&s.text));
    match kind.as_deref() {
        Some(p) if p != <leaseproof_impl::Reference as leaseproof_impl::Protocol>::NAME => {
            leaseproof::with_real_system!(p, |P| merge_run_as::<P>(args, files), else {
                anyhow::bail!("{}: no real system {p:?}", files[0].display())
            })
        }
        _ => merge_run_as::<leaseproof_impl::Reference>(args, files),
    }
}

fn merge_run_as<P: leaseproof_impl::Protocol>(
    args: &MergeArgs,
    files: &[PathBuf],
) -> anyhow::Result<u8>
where
    P::Event: serde::Serialize,
    P::Msg: serde::Serialize,
{
    let merged = match shard::merge::<P>(files) {
        Ok(m) => m,
        Err(e) => return Ok(refuse(&e)),
    };
    let paths: Vec<PathBuf> = merged.params.paths.iter().map(PathBuf::from).collect();
    let out = report_dir(&paths, args.out.as_deref());
    let code = merged.reports.iter().fold(EXIT_OK, |c, r| worst(c, r.exit));
    if !args.json {
        eprintln!(
            "merged {} shards (build {}) over {} scenarios",
            merged.shards,
            merged.build,
            merged.scenarios.len()
        );
        for r in &merged.reports {
            report::print_failures(r);
        }
    }
    if let Some(dir) = &args.save_failures {
        crate::save_failures(&merged.scenarios, &merged.reports, dir, args.json);
    }
    let traced = merged.traced;
    write_run(
        &out,
        &merged.scenarios,
        &merged.reports,
        args.json,
        args.junit.as_deref(),
        &report::run_author(&merged.params),
        || traced,
    )?;
    Ok(code)
}
