//! What both systems' simulator tests do: load a scenario of `scenarios/<system>/`, and
//! run its test seeds and judge them as `cargo test` does the reference protocol's.

use leaseproof_impl::Protocol;
use leaseproof_sim::run::RunOptions;
use leaseproof_sim::scenario::Scenario;
use leaseproof_sim::verdict::{judge, run_many, ScenarioReport};
use std::path::Path;

pub fn load<P: Protocol>(system: &str, name: &str) -> Scenario<P> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(system)
        .join(format!("{name}.toml"));
    Scenario::load_protocol(&path).expect("a valid scenario")
}

pub fn check<P: Protocol>(sc: &Scenario<P>) -> ScenarioReport {
    let results = run_many(sc, &sc.test_seeds(), 2, RunOptions::default(), &|_| {});
    let report = judge(sc, &results, &[]);
    println!("{}", report.summary());
    report
}

/// A system's `within-envelope` scenario: inside its assumptions (so belief-exclusivity
/// is judged without being named), and every oracle holds on every test seed.
pub fn inside_the_envelope_every_oracle_holds<P: Protocol>(system: &str) {
    let sc = load::<P>(system, "within-envelope");
    assert!(sc.beyond.is_empty(), "{:?}", sc.beyond);
    assert!(sc
        .always
        .contains(&leaseproof_impl::OracleName::BeliefExclusivity));
    let report = check(&sc);
    assert_eq!(
        report.verdict,
        leaseproof_impl::verdict::Verdict::Pass,
        "{:?}",
        report.failures
    );
}
