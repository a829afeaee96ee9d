//! The generic model driver on client-go leader election, through the named checks the
//! binary runs (`leaseproof_protocols::checks`, `check --protocol k8s --variant NAME`):
//! at the defaults the check holds and reaches a renewal, a 409, a give-up and a takeover;
//! a pause beyond the envelope gives two leaders; leaseTransitions as a token is refuted
//! and the acquiring resourceVersion holds.

use leaseproof_model::plugin::{PROP_BELIEF, PROP_ORACLES, PROP_SOMEONE_ACTS};
use leaseproof_protocols::checks::{self, REACH};

fn run(name: &str) -> leaseproof_model::plugin::PluginCheckReport {
    let r = checks::run("k8s", name).expect("a k8s check");
    println!("k8s {name}: {} states", r.unique_states);
    assert_eq!(
        checks::find("k8s", name).unwrap().holds,
        !r.safety_failed(),
        "{name} as the catalog of checks says"
    );
    r
}

#[test]
fn at_the_defaults_one_leader_at_a_time() {
    let r = run("correct");
    assert_eq!(r.holds(PROP_BELIEF), Some(true));
    assert_eq!(r.holds(PROP_ORACLES), Some(true));
    assert_eq!(r.holds(PROP_SOMEONE_ACTS), Some(true));
    for kind in REACH {
        assert_eq!(r.holds(kind), Some(true), "{kind} not reached");
    }
    // Pinned: the same rules explore the same states.
    assert_eq!(r.unique_states, 70_693);
}

/// `RetryPeriod · (1 + 1.2·u)` at the largest draw the one-second tick can tell from
/// the next: u = 5/6 gives just under 4 s, so the timer fires at tick 4 (4.4 s would
/// round up to 5 ticks; rounding shortens the longest wait to 4).
#[test]
fn at_the_longest_acquire_wait_one_leader_at_a_time() {
    let r = run("longest-wait");
    for kind in REACH {
        assert_eq!(r.holds(kind), Some(true), "{kind} not reached");
    }
    assert_eq!(r.unique_states, 31_957);
}

/// A leader paused for 16 s, past the envelope (the defaults leave 2 s of pause): two
/// leaders. The model half of the paused-leader finding.
#[test]
fn a_pause_beyond_the_envelope_gives_two_leaders() {
    let r = run("paused");
    assert_eq!(r.holds(PROP_BELIEF), Some(false), "{r:?}");
    for line in &r.properties[PROP_BELIEF].path {
        println!("{line}");
    }
}

/// ReleaseOnCancel with one lost renewal reply: the leader gives up, writes the empty
/// holder, and a candidate leads before the guarded work sees its context cancelled
/// (le.go cancels it only after `release()` returns). The model half of the finding.
#[test]
fn release_on_cancel_gives_two_actors() {
    let r = run("release-on-cancel");
    assert_eq!(r.holds(PROP_BELIEF), Some(false), "{r:?}");
    assert_eq!(r.holds("gave-back"), Some(true));
    assert_eq!(r.unique_states, 52_729);
}

/// Rate skew in the model (clocks at fixed rates, ticks of 100 ms): one candidate's clock
/// slow and the other's fast, one loss. The envelope claims up to ±7.08 % (k < 1.152 at
/// these settings): no skew inside it is refuted. The model finds two leaders first at
/// ±12 % (steps of 1 %): its jitter draws are fixed (the shortest wait) and its ticks
/// 100 ms, so a candidate's polls fall at fixed phases, where the simulator's random
/// draws reach a worse phase and find the first at ±8 %. The model half of the rate axis;
/// the named checks `skew-inside` (±5 %, holds) and `skew-beyond` (±12 %, refuted) run
/// in the binary.
#[test]
fn rate_skew_in_the_model_matches_the_envelope() {
    let inside = run("skew-inside");
    assert_eq!(inside.holds(PROP_BELIEF), Some(true));
    assert_eq!(inside.unique_states, 23_530);
    assert_eq!(inside.holds("taken-over"), Some(true));
    let beyond = run("skew-beyond");
    assert_eq!(beyond.holds(PROP_BELIEF), Some(false));
    let first = (1..=12).map(|pct| pct * 10_000).find(|&ppm| {
        let mut mc = checks::k8s_bounds("skew-inside").expect("the check");
        mc.rates_ppm = vec![0, 0, -ppm, ppm];
        let r = leaseproof_model::plugin::check_plugin_model::<leaseproof_protocols::k8s::K8s>(mc);
        r.holds(PROP_BELIEF) == Some(false)
    });
    println!("the model's first two-leader skew: {first:?} ppm");
    assert_eq!(first, Some(120_000));
}

/// The same skewed clocks with each acquire wait choosing its draw, the shortest or the
/// longest (`jitter_draws`, as the reference model's jitter): at ±10 % every fixed draw
/// holds (the shortest, the check's longest-wait 833,333 ppm, the longest), and the
/// choice finds two leaders, on a path that takes both draws; at ±9 % and inside the
/// envelope (±5 %) the choice holds. The model's first two-leader skew moves from ±12 %
/// to ±10 %, toward the simulator's ±8 %.
#[test]
fn acquire_waits_that_choose_their_draws_find_two_leaders_at_a_smaller_skew() {
    let at = |pct: i32, draws: Vec<u32>, fixed: u32| {
        let ppm = pct * 10_000;
        let mc = leaseproof_model::plugin::PluginModelConfig {
            rates_ppm: vec![0, 0, -ppm, ppm],
            jitter_draws: draws,
            jitter_ppm: fixed,
            ..checks::k8s_bounds("skew-inside").expect("the check")
        };
        leaseproof_model::plugin::check_plugin_model::<leaseproof_protocols::k8s::K8s>(mc)
    };
    for fixed in [0, 833_333, 1_000_000] {
        let r = at(10, Vec::new(), fixed);
        assert_eq!(
            r.holds(PROP_BELIEF),
            Some(true),
            "±10 %, every draw {fixed}"
        );
    }
    let extremes = || vec![0, 1_000_000];
    let found = at(10, extremes(), 0);
    assert_eq!(found.holds(PROP_BELIEF), Some(false), "±10 %, draws chosen");
    let path = &found.properties[PROP_BELIEF].path;
    for draw in ["draws jitter 0 ppm", "draws jitter 1000000 ppm"] {
        assert!(path.iter().any(|l| l.contains(draw)), "{draw}: {path:#?}");
    }
    let nine = at(9, extremes(), 0);
    assert_eq!(nine.holds(PROP_BELIEF), Some(true), "±9 %, draws chosen");
    let inside = at(5, extremes(), 0);
    assert_eq!(inside.holds(PROP_BELIEF), Some(true), "±5 %, draws chosen");
    assert_eq!(
        [
            found.unique_states,
            nine.unique_states,
            inside.unique_states
        ],
        [267_214, 262_095, 256_594]
    );
}

/// Five draws a request (0, ¼, ½, ¾, 1) still hold at ±8 %, where the simulator finds two
/// leaders: the rest of the gap is the model's 100 ms tick. Slow (8.8 M states):
/// `cargo test --release -p leaseproof-protocols --test systems -- --ignored five_draws`.
#[test]
#[ignore = "about 35 s in a release build; docs/protocols/k8s.md gives the command"]
fn five_draws_a_request_still_hold_at_eight_per_cent() {
    let ppm = 80_000;
    let r = leaseproof_model::plugin::check_plugin_model::<leaseproof_protocols::k8s::K8s>(
        leaseproof_model::plugin::PluginModelConfig {
            rates_ppm: vec![0, 0, -ppm, ppm],
            jitter_draws: vec![0, 250_000, 500_000, 750_000, 1_000_000],
            ..checks::k8s_bounds("skew-inside").expect("the check")
        },
    );
    assert_eq!(r.holds(PROP_BELIEF), Some(true), "±8 %, five draws");
    assert_eq!(r.unique_states, 8_801_690);
}

/// `fencing = "transitions"` (the notes' inference: leaseTransitions as a token) is
/// refuted: a leader whose renewals fail gives up, its process restarts with the same
/// identity, reads its own name and takes over at once keeping leaseTransitions, so its
/// new tenure writes the same token as the old one; a write of the old tenure still in
/// flight is accepted after the new tenure's. The acquiring Update's resourceVersion, the
/// fix the notes offer, refuses it under the same bounds.
#[test]
fn leader_transitions_as_a_token_is_refuted_and_the_resource_version_holds() {
    let r = run("fenced-by-transitions");
    assert_eq!(r.holds(PROP_ORACLES), Some(false), "{r:?}");
    let path = &r.properties[PROP_ORACLES].path;
    for line in path {
        println!("{line}");
    }
    assert!(path.iter().any(|l| l.contains("Write")), "{path:#?}");
    let fixed = run("fenced-by-resource-version");
    assert_eq!(fixed.holds(PROP_ORACLES), Some(true), "{fixed:?}");
    assert_eq!(fixed.holds("gave-up"), Some(true));
    assert_eq!(
        fixed.holds("refused"),
        Some(true),
        "the stale write was sent, and refused"
    );
    assert_eq!(fixed.unique_states, 9_380);
    // Unfenced (client-go as shipped) the same late write is accepted: the restarted
    // elector's stale write is client-go's, not the token's.
    let unfenced = run("restarted-elector");
    let path = &unfenced.properties[PROP_ORACLES].path;
    assert!(
        path.iter().any(|l| l.contains("Write")
            && l.contains("[trips")
            && l.contains("stale-write-accepted")),
        "{path:#?}"
    );
    assert_eq!(unfenced.holds("gave-up"), Some(true));
}

/// A fenced resource that crashes keeps its highest token on disk: the restarted
/// elector's stale write is still refused. One that loses its disk forgets it, and the
/// same write is accepted after the new tenure's (the resource crash of the generic
/// model driver, `resource_crashes`).
#[test]
fn a_fenced_resource_must_keep_its_highest_token_across_a_crash() {
    let mut mc = leaseproof_protocols::checks::k8s_bounds("fenced-by-resource-version").unwrap();
    mc.resource_crashes = 1;
    let kept =
        leaseproof_model::plugin::check_plugin_model::<leaseproof_protocols::k8s::K8s>(mc.clone());
    assert_eq!(
        kept.holds(PROP_ORACLES),
        Some(true),
        "{:?}",
        kept.properties[PROP_ORACLES].path
    );
    assert_eq!(kept.holds("refused"), Some(true));
    mc.resource_loses_disk = true;
    let lost = leaseproof_model::plugin::check_plugin_model::<leaseproof_protocols::k8s::K8s>(mc);
    let path = &lost.properties[PROP_ORACLES].path;
    for line in path {
        println!("{line}");
    }
    assert_eq!(lost.holds(PROP_ORACLES), Some(false));
    let crash = path
        .iter()
        .position(|l| l.contains("the resource crashes"))
        .expect("the path crashes the resource");
    assert!(
        path[crash..]
            .iter()
            .any(|l| l.contains("Write") && l.contains("[trips")),
        "{path:#?}"
    );
    // The counterexample ends at the step that trips the oracles.
    let last = path.last().expect("a path");
    assert!(last.contains("[trips"), "{path:#?}");
    assert_eq!((kept.unique_states, lost.unique_states), (45_646, 55_331));
}
