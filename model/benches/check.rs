//! The model checker's speed: whole exhaustive checks, in generated states per second
//! (criterion's throughput, one element per generated state).
//! Run: `cargo bench -p leaseproof-model --bench check` (`-- normalisation` for the
//! normalisation on/off pair alone, `-- "generic driver"` for the two model drivers).
//!
//! The 3-client check with a crash (`leaseproof check --clients 3 --threads 2`, about a
//! minute) is too long to sample; it is timed by that command and quoted in
//! reports/bench.md.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use leaseproof_impl::plugin::Reference;
use leaseproof_impl::OracleName;
use leaseproof_model::check::{check, CheckOptions};
use leaseproof_model::plugin::{check_plugin_model, PluginModelConfig};
use leaseproof_model::{LeaseModel, ModelConfig, TICK_NS};

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

/// The reference protocol in its own driver and in the generic one (`check_plugin_model`)
/// at the same bounds: 2 clients, max-time 3, delivery within a tick, one loss, spread 1
/// with one drift move, no crash or pause, symmetry, one thread. The two drivers' state
/// spaces differ (the generic one keeps jitter draws fixed and links unbounded, ...), so
/// compare throughputs, in unique states per second (both breadth first).
fn generic_driver(c: &mut Criterion) {
    let mut g = c.benchmark_group("generic driver");
    g.sample_size(10);
    let mc = ModelConfig {
        crashes: 0,
        pauses: false,
        ..ModelConfig::default()
    };
    let own = || {
        check(
            LeaseModel::new(mc).unwrap(),
            CheckOptions {
                threads: 1,
                symmetry: true,
                bfs: true,
            },
            &|_, _| {},
            &|| false,
        )
        .unique
    };
    g.throughput(Throughput::Elements(own() as u64));
    g.bench_function("reference driver", |b| b.iter(own));
    let generic = || {
        check_plugin_model::<Reference>(PluginModelConfig {
            symmetry: true,
            judged: vec![
                OracleName::SingleHolder,
                OracleName::TokenMonotonic,
                OracleName::FencedWrites,
                OracleName::LeaseContainment,
                OracleName::StaleWriteAccepted,
            ],
            max_in_flight: 4,
            losses: 1,
            max_delay: 1,
            spread: 1,
            drift_moves: 1,
            ..PluginModelConfig::new(mc.validate().unwrap(), TICK_NS, mc.max_time)
        })
        .unique_states
    };
    g.throughput(Throughput::Elements(generic() as u64));
    g.bench_function("generic driver", |b| b.iter(generic));
    // A closed check in the generic driver (the reference driver has no closed check at
    // delivery 0): 2 clients, delivery at once, one loss, one drift move.
    let closed = || {
        let cfg = ModelConfig::closed().validate().unwrap();
        check_plugin_model::<Reference>(PluginModelConfig {
            closed: true,
            symmetry: true,
            judged: vec![OracleName::SingleHolder, OracleName::FencedWrites],
            max_in_flight: 4,
            losses: 1,
            spread: 1,
            drift_moves: 1,
            ..PluginModelConfig::new(cfg, TICK_NS, 0)
        })
        .unique_states
    };
    g.throughput(Throughput::Elements(closed() as u64));
    g.bench_function("generic driver, closed", |b| b.iter(closed));
    g.finish();
}

criterion_group!(benches, checks, normalisation, generic_driver);
criterion_main!(benches);
