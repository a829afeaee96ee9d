//! The model checker and the simulator judge runs with the same oracles: both keep impl's
//! `SafetyOracles`, and a simulated run's events, fed through the model's way of judging
//! (`leaseproof_model::memo::judge_events`), give exactly the violations the simulator
//! found, in order.

use leaseproof_impl::{SafetyOracles, Violation};
use leaseproof_sim::run::{run_seed_isolated, RunOptions, SeedResult};
use leaseproof_sim::scenario::Scenario;
use std::path::Path;

// Both shells hold impl's ghost state (a change of either type fails to compile here).
#[allow(dead_code)]
fn model_ghost(s: &leaseproof_model::State) -> &SafetyOracles {
    &s.oracles
}
#[allow(dead_code)]
fn sim_ghost(w: &leaseproof_sim::world::World) -> &SafetyOracles {
    &w.oracles
}

fn scenario(path: &str) -> Scenario {
    Scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect("a valid scenario")
}

fn traced(sc: &Scenario, seed: u64) -> SeedResult {
    run_seed_isolated(sc, seed, RunOptions { trace: true })
}

/// The violations the model's way of judging finds in a simulated run's events.
fn judged_by_the_model(r: &SeedResult) -> Vec<Violation> {
    let events = r.events.as_ref().expect("a traced run keeps its events");
    assert!(!events.is_empty());
    let mut found = Vec::new();
    let _ = leaseproof_model::memo::judge_events(
        &SafetyOracles::new(),
        events.iter().map(|(t, e)| (*t, e)),
        &mut found,
    );
    found
}

fn sim_found(r: &SeedResult) -> Vec<Violation> {
    r.found.iter().map(|f| f.violation).collect()
}

#[test]
fn a_simulated_failure_is_judged_alike_by_the_model() {
    for path in [
        "scenarios/bugs/no-fencing.toml",
        "scenarios/bugs/volatile-counter.toml",
        "scenarios/bugs/release-by-non-owner.toml",
        "scenarios/bugs/drift-ignored.toml",
    ] {
        let sc = scenario(path);
        let r = (0..30)
            .map(|seed| traced(&sc, seed))
            .find(|r| !r.found.is_empty())
            .unwrap_or_else(|| panic!("{path}: no failing seed in 0..30"));
        assert_eq!(
            judged_by_the_model(&r),
            sim_found(&r),
            "{path} seed {}",
            r.seed
        );
    }
}

#[test]
fn a_correct_run_is_judged_alike_by_the_model() {
    let sc = scenario("scenarios/bugs/no-fencing-twin.toml");
    for seed in 0..3 {
        let r = traced(&sc, seed);
        assert!(sim_found(&r).is_empty(), "the twin is safe");
        assert_eq!(judged_by_the_model(&r), sim_found(&r), "seed {seed}");
    }
}
