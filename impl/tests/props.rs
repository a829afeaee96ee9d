//! Property tests: under random schedules within the assumptions (any delivery order, loss,
//! duplication, pauses, server and client crashes, clock rates within ±ρ) the correct
//! protocol never trips a safety oracle.

mod common;

use leaseproof_impl::stepper::{Step, Stepper};
use leaseproof_impl::*;
use proptest::prelude::*;

fn tight(variant: Variant) -> Config {
    common::tight(variant).validate().unwrap()
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        10 => any::<usize>().prop_map(Step::Deliver),
        1 => any::<usize>().prop_map(Step::Drop),
        1 => any::<usize>().prop_map(Step::Duplicate),
        6 => (0u64..700).prop_map(|ms| Step::Advance { ms }),
        1 => Just(Step::CrashServer),
        1 => any::<usize>().prop_map(Step::CrashClient),
        1 => (any::<usize>(), 0u64..3_000).prop_map(|(node, ms)| Step::Pause { node, ms }),
    ]
}

/// Runs a schedule (then, with automatic delivery, 5 s more) and returns what it violated.
fn run_schedule(
    cfg: Config,
    clients: usize,
    rates: &[i32],
    latency_ms: Option<u64>,
    steps: Vec<Step>,
) -> Vec<Violation> {
    let mut s = Stepper::new(cfg, clients, rates, latency_ms);
    for st in steps {
        s.step(st);
    }
    if latency_ms.is_some() {
        s.run_for_ms(5_000);
    }
    s.violations
}

fn rates() -> impl Strategy<Value = Vec<i32>> {
    proptest::collection::vec(-1_000i32..=1_000, 5)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    /// Manual delivery: every message waits for an explicit step, so delays are unbounded
    /// and any order is possible.
    #[test]
    fn correct_protocol_is_safe_under_any_delivery_order(
        clients in 1usize..=3,
        rates in rates(),
        steps in proptest::collection::vec(step(), 1..250),
    ) {
        let mut s = Stepper::new(tight(Variant::Correct), clients, &rates, None);
        for st in steps {
            s.step(st);
        }
        prop_assert!(s.violations.is_empty(), "{:?}", s.violations);
    }

    /// The same with tiered leases on (a 500 ms intent tier of the 1 s lease): the tier the
    /// client trusts is never longer than the one the server applied.
    #[test]
    fn tiered_leases_are_safe_under_any_delivery_order(
        clients in 1usize..=3,
        rates in rates(),
        latency_ms in proptest::option::of(0u64..600),
        steps in proptest::collection::vec(step(), 1..250),
    ) {
        let cfg = leaseproof_impl::ProtocolConfig {
            intent_ms: 500,
            ..common::tight(Variant::Correct)
        }
        .validate()
        .unwrap();
        let violations = run_schedule(cfg, clients, &rates, latency_ms, steps);
        prop_assert!(violations.is_empty(), "{:?}", violations);
    }

    /// Progress-based extension and work counted in acknowledged writes, with workers that
    /// stall and resume: withholding a renewal never ends a grant early.
    #[test]
    fn progress_based_extension_is_safe_under_any_delivery_order(
        clients in 1usize..=3,
        rates in rates(),
        latency_ms in proptest::option::of(0u64..600),
        steps in proptest::collection::vec(prop_oneof![
            8 => step(),
            1 => (any::<usize>(), any::<bool>()).prop_map(|(client, on)| Step::Stall { client, on }),
        ], 1..250),
    ) {
        let cfg = leaseproof_impl::ProtocolConfig {
            progress_window_ms: 600,
            hold_writes: 4,
            ..common::tight(Variant::Correct)
        }
        .validate()
        .unwrap();
        let violations = run_schedule(cfg, clients, &rates, latency_ms, steps);
        prop_assert!(violations.is_empty(), "{:?}", violations);
    }

    /// Automatic delivery with a fixed latency, plus the same faults: long runs where the
    /// protocol makes progress, so safety is judged over many grants.
    #[test]
    fn correct_protocol_is_safe_with_latency_pauses_and_crashes(
        clients in 1usize..=4,
        rates in rates(),
        latency_ms in 0u64..600,
        steps in proptest::collection::vec(step(), 1..120),
    ) {
        let mut s = Stepper::new(tight(Variant::Correct), clients, &rates, Some(latency_ms));
        for st in steps {
            s.step(st);
        }
        s.run_for_ms(5_000);
        prop_assert!(s.violations.is_empty(), "{:?}", s.violations);
    }

    /// The model's bounded-spread time, in the stepper: all clocks at rate 0 but a holder
    /// paused arbitrarily; beliefs may overlap, writes never escape their lease.
    #[test]
    fn paused_holders_never_decide_a_write_outside_their_lease(
        pauses in proptest::collection::vec((any::<usize>(), 0u64..5_000, 0u64..2_000), 1..10),
    ) {
        let mut s = Stepper::new(tight(Variant::Correct), 3, &[], Some(20));
        for (node, ms, gap) in pauses {
            s.step(Step::Pause { node: 2 + node % 3, ms });
            s.run_for_ms(gap);
        }
        s.run_for_ms(3_000);
        prop_assert!(!s.oracles.tripped(OracleName::LeaseContainment), "{:?}", s.violations);
        prop_assert!(s.violations.is_empty(), "{:?}", s.violations);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// The oracles' two entry points agree: `observed` (the model checker's, which leaves
    /// an unchanged ghost state shared) gives what `observe` gives, and says "unchanged"
    /// exactly when the ghost state did not change. Bug variants put violations in the runs.
    #[test]
    fn observed_agrees_with_observe(
        variant in prop_oneof![
            Just(Variant::Correct),
            Just(Variant::NoFencing),
            Just(Variant::VolatileCounter),
            Just(Variant::ReleaseByNonOwner),
        ],
        clients in 1usize..=3,
        steps in proptest::collection::vec(step(), 1..250),
    ) {
        let mut s = Stepper::new(tight(variant), clients, &[], None);
        for st in steps {
            s.step(st);
        }
        // With and without the wait-for graph (the events move it as a lock set's would).
        for start in [SafetyOracles::new(), SafetyOracles::with_wait_for_graph()] {
            let mut by_observe = start.clone();
            let mut by_observed = start;
            for l in &s.log {
                let (mut found_a, mut found_b) = (Vec::new(), Vec::new());
                let before = by_observe.clone();
                by_observe.observe(l.server_now, &l.event, &mut found_a);
                let next = by_observed.observed(l.server_now, &l.event, &mut found_b);
                prop_assert_eq!(&found_a, &found_b);
                prop_assert_eq!(next.is_none(), by_observe == before, "{:?}", l.event);
                if let Some(next) = next {
                    by_observed = next;
                }
                prop_assert_eq!(&by_observe, &by_observed);
            }
        }
    }
}

/// The same random search finds the bug variants: it is not vacuous.
#[test]
fn random_schedules_catch_no_fencing_and_volatile_counter() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config as RunnerConfig, TestRng, TestRunner};
    for (variant, oracle) in [
        (Variant::NoFencing, OracleName::FencedWrites),
        (Variant::VolatileCounter, OracleName::TokenMonotonic),
    ] {
        let mut runner = TestRunner::new_with_rng(
            RunnerConfig::default(),
            TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
        );
        let strategy = proptest::collection::vec(step(), 1..250);
        let found = (0..2_000).any(|_| {
            let steps = strategy.new_tree(&mut runner).unwrap().current();
            let mut s = Stepper::new(tight(variant), 3, &[], None);
            for st in steps {
                s.step(st);
            }
            s.oracles.tripped(oracle)
        });
        assert!(
            found,
            "{variant} not caught by {oracle} in 2000 random schedules"
        );
    }
}
