//! The generic engine runs the reference protocol too, through its plug-in
//! ([`leaseproof_impl::Reference`]): the boundary is not shaped around one plug-in. (A
//! module of `faults.rs`'s test binary.)
//! (The reference protocol's own scenarios still run on its own engine; the generic one
//! is to replace it: docs/protocols.md, "Status".)

use leaseproof_impl::{OracleName, ProtocolConfig, Reference};
use leaseproof_sim::plugin::run_plugin_seed;
use leaseproof_sim::plugin_check::check_plugin;
use leaseproof_sim::plugin_scenario::{PluginFault, PluginFaultKind, PluginScenario};
use std::path::PathBuf;

fn scenario(faults: Vec<(usize, PluginFault)>) -> PluginScenario<leaseproof_impl::Config> {
    PluginScenario {
        path: PathBuf::from("(built in the test)"),
        name: "reference-on-the-generic-engine".into(),
        clients: 3,
        duration_ms: 60_000,
        latency_ms: [1, 20],
        loss_ratio: 0.02,
        clock_offset_ms_max: 5_000,
        drift_ppm_max: 0,
        faults,
        judged: OracleName::ALL
            .iter()
            .copied()
            .filter(|o| o.is_safety())
            .collect(),
        finds: Vec::new(),
        beyond: Vec::new(),
        protocol: ProtocolConfig::default()
            .validate()
            .expect("the default is valid"),
    }
}

#[test]
fn the_reference_protocol_holds_every_oracle_on_the_generic_engine() {
    let isolate = PluginFault {
        kind: PluginFaultKind::Isolate,
        node: "client-0".into(),
        at_ms: 15_000,
        for_ms: 20_000,
        lose_disk: false,
    };
    let sc = scenario(vec![(2, isolate)]);
    let v = check_plugin::<Reference>(&sc, 0..4);
    assert!(v.found.is_empty() && v.panics.is_empty(), "{v}");
    let r = run_plugin_seed::<Reference>(&sc, 0, false);
    // Not vacuous: grants, writes under them, and a failover after the isolation.
    assert!(r.metrics.grants >= 3, "{:?}", r.metrics);
    assert!(r.metrics.writes_accepted > 0, "{:?}", r.metrics);
    assert!(
        r.coverage.contains("granted") && r.coverage.contains("partitioned"),
        "{:?}",
        r.coverage
    );
}

#[test]
fn a_paused_reference_client_breaks_belief_exclusivity_on_the_generic_engine_too() {
    // The same finding as `pause-past-expiry` on the reference engine: a client paused
    // past its deadline still Holding when another is granted. Fencing keeps the
    // resource safe: only belief-exclusivity trips.
    let pause = PluginFault {
        kind: PluginFaultKind::Pause,
        node: "client-0".into(),
        at_ms: 2_000,
        for_ms: 30_000,
        lose_disk: false,
    };
    let mut sc = scenario(vec![(2, pause)]);
    sc.clock_offset_ms_max = 0;
    let v = check_plugin::<Reference>(&sc, 0..4);
    assert!(v.found.contains_key(&OracleName::BeliefExclusivity), "{v}");
    assert_eq!(
        v.found.keys().copied().collect::<Vec<_>>(),
        vec![OracleName::BeliefExclusivity],
        "{v}"
    );
}
