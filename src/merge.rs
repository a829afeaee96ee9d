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

/// The id of this build (build.rs): shards of different builds refuse to merge.
pub const BUILD_ID: &str = env!("LEASEPROOF_BUILD_ID");

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
}

/// Runs one shard and writes its partial file into `out` (default `reports/shards/`).
pub fn run_shard(
    out: Option<&Path>,
    scenarios: &[Scenario],
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
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(mine), ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} seeds of shard {msg}  eta {eta}")
            .expect("a valid template"),
    );
    bar.set_message(spec.to_string());
    let partial = shard::run_shard(scenarios, params, spec, BUILD_ID, jobs, &|_| bar.inc(1));
    bar.finish_and_clear();
    let dir = out.map_or_else(|| PathBuf::from("reports/shards"), Path::to_path_buf);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let file = dir.join(spec.file_name());
    let text = serde_json::to_string(&partial)?;
    // Written whole, then renamed: a merge never reads half a file.
    let tmp = dir.join(format!(".{}.tmp", spec.file_name()));
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &file).with_context(|| format!("writing {}", file.display()))?;
    eprintln!(
        "shard {spec}: {mine} of {total} seeds over {} scenarios; wrote {} (join the shards \
         with: leaseproof merge DIR...)",
        scenarios.len(),
        file.display()
    );
    Ok(EXIT_OK)
}

/// `leaseproof merge`: the shards' reports, as one run would have written them.
pub fn merge(args: &MergeArgs) -> anyhow::Result<u8> {
    let merged = match shard::partial_files(&args.paths).and_then(|f| shard::merge(&f)) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_USAGE);
        }
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
    let traced = merged.traced;
    write_run(
        &out,
        &merged.scenarios,
        &merged.reports,
        args.json,
        args.junit.as_deref(),
        || traced,
    )?;
    Ok(code)
}
