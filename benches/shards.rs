//! Sharding pays on one machine: a 2,000-seed sweep run as one process with one worker,
//! against the same sweep as two shard processes of one worker each, run at once (2 cores),
//! and the merge of their partial files. `cargo bench --bench shards`; reports/bench.md
//! quotes the medians and their ratio.

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SCENARIO: &str = "scenarios/happy-path.toml";
const SEEDS: &str = "2000";

fn leaseproof(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_leaseproof"));
    c.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn sweep(extra: &[&str], out: &Path) -> Command {
    let mut args = vec!["sweep", SCENARIO, "--seeds", SEEDS, "--jobs", "1"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", out.to_str().unwrap()]);
    leaseproof(&args)
}

fn shards(dir: &Path) -> Vec<PathBuf> {
    let outs: Vec<PathBuf> = (1..=2).map(|i| dir.join(format!("shard{i}"))).collect();
    let children: Vec<_> = outs
        .iter()
        .enumerate()
        .map(|(i, out)| {
            let spec = format!("{}/2", i + 1);
            sweep(&["--shard", &spec], out)
                .spawn()
                .expect("a shard starts")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().expect("a shard ends").success());
    }
    outs
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("leaseproof-bench-shards-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut g = c.benchmark_group("sweep-2000-seeds");
    g.sampling_mode(SamplingMode::Flat).sample_size(10);
    g.bench_function("one-process-one-job", |b| {
        b.iter(|| assert!(sweep(&[], &dir.join("whole")).status().unwrap().success()));
    });
    g.bench_function("two-shard-processes", |b| b.iter(|| shards(&dir)));
    let outs = shards(&dir);
    let merged = dir.join("merged");
    g.bench_function("merge-two-shards", |b| {
        b.iter(|| {
            let st = leaseproof(&[
                "merge",
                outs[0].to_str().unwrap(),
                outs[1].to_str().unwrap(),
                "--out",
                merged.to_str().unwrap(),
            ])
            .status()
            .unwrap();
            assert!(st.success());
        });
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
