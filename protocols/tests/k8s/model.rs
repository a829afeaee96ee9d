//! The generic model driver on client-go leader election, at one tick a second: at the
//! defaults (15/10/2) the check holds and reaches a leader; with replies that may take
//! longer than the envelope allows, it finds two leaders.

use leaseproof_impl::OracleName;
use leaseproof_model::plugin::{
    check_plugin_model, PluginModelConfig, PROP_BELIEF, PROP_ORACLES, PROP_SOMEONE_ACTS,
};
use leaseproof_protocols::k8s::{K8s, K8sConfig};

/// Two candidates, one tick a second, the defaults (the work checks its context every
/// second).
fn bounds() -> PluginModelConfig<K8sConfig> {
    PluginModelConfig {
        protocol: K8sConfig::default(),
        clients: 2,
        tick_ns: 1_000_000_000,
        max_time: 25,
        offsets: vec![],
        max_delay: 0,
        losses: 1,
        max_in_flight: 3,
        judged: vec![
            OracleName::BeliefExclusivity,
            OracleName::StaleWriteAccepted,
        ],
        crashes: 0,
        crash_loses_disk: false,
        client_crashes: 0,
        symmetry: false,
        closed: false,
        reach: REACH.to_vec(),
        jitter_ppm: 0,
        pauses: 0,
        pause_ticks: 0,
    }
}

/// What a default check must reach (the coverage list).
const REACH: [&str; 4] = ["renewed", "conflict", "gave-up", "taken-over"];

#[test]
fn at_the_defaults_one_leader_at_a_time() {
    let r = check_plugin_model::<K8s>(bounds());
    println!("{}", serde_json::to_string_pretty(&r).unwrap());
    assert!(!r.safety_failed(), "{r:?}");
    assert_eq!(r.holds(PROP_BELIEF), Some(true));
    assert_eq!(r.holds(PROP_ORACLES), Some(true));
    assert_eq!(r.holds(PROP_SOMEONE_ACTS), Some(true));
    for kind in REACH {
        assert_eq!(r.holds(kind), Some(true), "{kind} not reached");
    }
    println!("unique states {}", r.unique_states);
    // Pinned: the same rules explore the same states.
    assert_eq!(r.unique_states, 70_693);
}

/// `RetryPeriod · (1 + 1.2·u)` at the largest draw the one-second tick can tell from
/// the next: u = 5/6 gives just under 4 s, so the timer fires at tick 4 (4.4 s would
/// round up to 5 ticks; rounding shortens the longest wait to 4).
#[test]
fn at_the_longest_acquire_wait_one_leader_at_a_time() {
    let mut mc = bounds();
    mc.jitter_ppm = 833_333;
    let r = check_plugin_model::<K8s>(mc);
    assert!(!r.safety_failed(), "{r:?}");
    for kind in REACH {
        assert_eq!(r.holds(kind), Some(true), "{kind} not reached");
    }
    println!("unique states {}", r.unique_states);
    assert_eq!(r.unique_states, 31_957);
}

/// A leader paused for 16 s, past the envelope (the defaults leave 2 s of pause): two
/// leaders. The model half of the paused-leader finding.
#[test]
fn a_pause_beyond_the_envelope_gives_two_leaders() {
    let mut mc = bounds();
    mc.pauses = 1;
    mc.pause_ticks = 16;
    mc.losses = 0;
    let r = check_plugin_model::<K8s>(mc);
    println!("unique states {}", r.unique_states);
    assert_eq!(r.holds(PROP_BELIEF), Some(false), "{r:?}");
    for line in &r.properties[PROP_BELIEF].path {
        println!("{line}");
    }
}

/// `fencing = "transitions"` (the notes' inference: leaseTransitions as a token) is
/// refuted: a leader whose renewals fail gives up, its process restarts with the same
/// identity, reads its own name and takes over at once keeping leaseTransitions, so its
/// new tenure writes the same token as the old one; a write of the old tenure still in
/// flight is accepted after the new tenure's. The acquiring Update's resourceVersion, the
/// fix the notes offer, refuses it under the same bounds.
#[test]
fn leader_transitions_as_a_token_is_refuted_and_the_resource_version_holds() {
    use leaseproof_protocols::k8s::Fencing;
    let mc = |fencing| PluginModelConfig {
        protocol: K8sConfig {
            fencing,
            ..K8sConfig::default()
        },
        clients: 1,
        max_delay: 1,
        max_time: 14,
        reach: vec!["gave-up", "refused"],
        ..bounds()
    };
    let r = check_plugin_model::<K8s>(mc(Fencing::Transitions));
    println!("transitions: {} states", r.unique_states);
    assert_eq!(r.holds(PROP_ORACLES), Some(false), "{r:?}");
    let path = &r.properties[PROP_ORACLES].path;
    for line in path {
        println!("{line}");
    }
    assert!(path.iter().any(|l| l.contains("Write")), "{path:#?}");
    let fixed = check_plugin_model::<K8s>(mc(Fencing::ResourceVersion));
    println!("resource-version: {} states", fixed.unique_states);
    assert_eq!(fixed.holds(PROP_ORACLES), Some(true), "{fixed:?}");
    assert_eq!(fixed.holds("gave-up"), Some(true));
    assert_eq!(
        fixed.holds("refused"),
        Some(true),
        "the stale write was sent, and refused"
    );
}
