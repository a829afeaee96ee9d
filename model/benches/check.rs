//! The model checker's speed: whole exhaustive checks, in generated states per second
//! (criterion's throughput, one element per generated state).
//! Run: `cargo bench -p leaseproof-model --bench check` (`-- normalisation` for the
//! normalisation on/off pair alone).
//!
//! The 3-client check with a crash (`leaseproof check --clients 3 --threads 2`, about a
//! minute) is too long to sample; it is timed by that command and quoted in
//! reports/bench.md.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use leaseproof_model::check::{check, CheckOptions};
use leaseproof_model::{LeaseModel, ModelConfig};

fn run(mc: ModelConfig, threads: usize) -> usize {
    run_normalising(mc, threads, true)
}

/// The check with normalisation on or off (`LeaseModel::with_normalisation`): off, every
/// instant and counter stays as the steps made it, as before the closed-check issue.
fn run_normalising(mc: ModelConfig, threads: usize, normalising: bool) -> usize {
    let r = check(
        LeaseModel::new(mc).unwrap().with_normalisation(normalising),
        CheckOptions {
            threads,
            symmetry: true,
            bfs: false,
        },
        &|_, _| {},
        &|| false,
    );
    assert!(r.complete && !r.safety_failed(), "{}", r.model);
    r.states
}

fn checks(c: &mut Criterion) {
    let mut g = c.benchmark_group("model check");
    g.sample_size(10);
    for (name, mc, threads) in [
        (
            "2 clients, no crash, 1 thread",
            ModelConfig {
                crashes: 0,
                ..ModelConfig::default()
            },
            1,
        ),
        (
            "2 clients, 1 crash (the main job's check), 2 threads",
            ModelConfig::default(),
            2,
        ),
    ] {
        let states = run(mc, threads) as u64;
        g.throughput(Throughput::Elements(states));
        g.bench_function(name, |b| b.iter(|| run(mc, threads)));
    }
    g.finish();
}

/// Normalisation's own cost per generated state: the main job's bounded check (2 clients,
/// max-time 3, one crash; 2 threads) with normalisation on and off, in one run. Off, the
/// check generates more states (fewer are made one), so compare the throughputs.
fn normalisation(c: &mut Criterion) {
    let mut g = c.benchmark_group("normalisation");
    g.sample_size(10);
    for (name, on) in [("on", true), ("off", false)] {
        let states = run_normalising(ModelConfig::default(), 2, on) as u64;
        g.throughput(Throughput::Elements(states));
        g.bench_function(name, |b| {
            b.iter(|| run_normalising(ModelConfig::default(), 2, on));
        });
    }
    g.finish();
}

criterion_group!(benches, checks, normalisation);
criterion_main!(benches);
