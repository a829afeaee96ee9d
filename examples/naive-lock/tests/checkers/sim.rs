//! leaseproof's simulator runs naive-lock from this crate's own tests, on the one engine
//! every protocol runs on, from scenario files in the one scenario format: it finds the
//! bug (a fast clock steals the lock), holds the scenarios within the protocol's
//! assumptions, reports a time-lock, replays a seed exactly, and refuses bad scenarios
//! naming the file, the line and the field.

use leaseproof_impl::verdict::Verdict;
use leaseproof_impl::OracleName;
use leaseproof_sim::run::{run_seed_isolated, RunOptions};
use leaseproof_sim::scenario::Scenario;
use leaseproof_sim::verdict::{judge, run_many, ScenarioReport};
use naive_lock::NaiveLock;
use std::path::{Path, PathBuf};

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"))
}

fn load(name: &str) -> Scenario<NaiveLock> {
    Scenario::load_protocol(&scenario(name)).expect("a valid scenario")
}

fn parse(text: &str) -> Result<Scenario<NaiveLock>, leaseproof_sim::scenario::ScenarioError> {
    Scenario::parse_protocol(Path::new("bad.toml"), text)
}

/// Runs the scenario's test seeds and judges them, as `cargo test` does the reference
/// protocol's scenarios.
fn check(sc: &Scenario<NaiveLock>) -> ScenarioReport {
    let results = run_many(sc, &sc.test_seeds(), 2, RunOptions::default(), &|_| {});
    let report = judge(sc, &results, &[]);
    println!("{}", report.summary());
    report
}

#[test]
fn the_simulator_finds_a_fast_clock_stealing_the_lock() {
    let sc = load("fast-clock");
    assert!(
        !sc.beyond.is_empty(),
        "offsets are beyond the naive lock's assumptions"
    );
    let report = check(&sc);
    assert_eq!(report.verdict, Verdict::Pass, "{:?}", report.failures);
    let seed = report.finds["belief-exclusivity"].expect("some seed finds two clients acting");
    let r = run_seed_isolated(&sc, seed, RunOptions::default());
    let first = r
        .first(OracleName::BeliefExclusivity)
        .expect("the seed replays its finding");
    println!(
        "fast-clock seed {seed}: {} at {:.1} ms",
        first.violation,
        first.true_ns as f64 / 1e6
    );
    let found = first.violation.to_string();
    // Both clients (nodes 2 and 3) may act at once.
    assert!(found.contains("n2") && found.contains("n3"), "{found}");
}

#[test]
fn within_its_assumptions_every_oracle_holds() {
    for name in ["synced", "fixed-fast-clock", "swarm-fixed"] {
        let sc = load(name);
        assert!(sc.beyond.is_empty(), "{name}: {:?}", sc.beyond);
        assert!(sc.always.contains(&OracleName::BeliefExclusivity), "{name}");
        let report = check(&sc);
        assert_eq!(
            report.verdict,
            Verdict::Pass,
            "{name}: {:?}",
            report.failures
        );
        assert!(
            report.also_tripped.is_empty(),
            "{name}: {:?}",
            report.also_tripped
        );
    }
}

#[test]
fn the_simulator_reports_a_deadline_check_that_freezes_time_and_does_not_hang() {
    let base = std::fs::read_to_string(scenario("synced")).expect("read");
    // Every client freezes at its first deadline: nothing is given back, so the
    // coverage the file expects is left out.
    let base = base.replace(
        "sometimes = [\"began\", \"acting\", \"gave-back\", \"partitioned\"]",
        "",
    );
    let text = base.replace("hold_ms = 300", "hold_ms = 1500\nstrict_deadline = true");
    let report = check(&parse(&text).expect("a valid scenario"));
    assert_eq!(report.verdict, Verdict::Liveness, "{:?}", report.failures);
    assert!(
        report
            .failures
            .iter()
            .all(|f| f.oracle == "time-lock" && f.detail.contains("time-lock: client-")),
        "{:?}",
        report.failures
    );
    // Without the mutant the same scenario passes.
    let fixed = base.replace("hold_ms = 300", "hold_ms = 1500");
    let report = check(&parse(&fixed).expect("a valid scenario"));
    assert_eq!(report.verdict, Verdict::Pass, "{:?}", report.failures);
}

#[test]
fn runs_are_not_vacuous_and_a_seed_replays_bit_for_bit() {
    let sc = load("synced");
    let a = run_seed_isolated(&sc, 3, RunOptions { trace: true });
    let b = run_seed_isolated(&sc, 3, RunOptions::default());
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_ne!(
        a.trace_hash,
        run_seed_isolated(&sc, 4, RunOptions::default()).trace_hash
    );
    // Clients took turns: tenures began, were acted under and given back.
    assert!(a.metrics.grants >= 5, "{:?}", a.metrics);
    assert!(a.metrics.hold_ns.len() >= 5, "{:?}", a.metrics);
    for kind in ["began", "acting", "gave-back", "partitioned"] {
        assert!(a.coverage.contains(kind), "{kind} not in {:?}", a.coverage);
    }
    let trace = a.trace.expect("traced");
    assert!(trace.iter().any(|l| l.kind == "granted" && l.msg.is_some()));
    assert!(trace.iter().any(|l| l.kind == "began" && l.event.is_some()));
}

#[test]
fn bad_scenarios_name_the_file_the_line_and_the_field() {
    let base = std::fs::read_to_string(scenario("synced")).expect("read");
    let line_of = |text: &str, needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .expect("the needle is in the text")
            + 1
    };
    // A field of another protocol (the reference's) is refused by name, on its line.
    let other = base.replace("hold_ms = 300", "hold_ms = 300\nrenew_interval_ms = 300");
    let e = parse(&other).unwrap_err();
    assert_eq!(e.field, "protocol.renew_interval_ms", "{e}");
    assert!(e.reason.contains("unknown field"), "{e}");
    assert_eq!(e.line, line_of(&other, "renew_interval_ms"), "{e}");
    // Another protocol's name.
    let kind = base.replace("kind = \"naive-lock\"", "kind = \"reference\"");
    let e = parse(&kind).unwrap_err();
    assert_eq!(e.field, "protocol.kind", "{e}");
    assert_eq!(e.line, line_of(&kind, "kind ="), "{e}");
    // No kind at all: a scenario without one is the reference protocol's.
    let none = base.replace("kind = \"naive-lock\"\n", "");
    let e = parse(&none).unwrap_err();
    assert_eq!(e.field, "protocol.kind", "{e}");
    assert!(e.reason.contains("write kind = \"naive-lock\""), "{e}");
    // A value the protocol refuses.
    let ttl = base.replace("ttl_ms = 1000", "ttl_ms = 0");
    let e = parse(&ttl).unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.line),
        ("protocol.ttl_ms", line_of(&ttl, "ttl_ms")),
        "{e}"
    );
    // A within scenario that claims belief-exclusivity under a pause.
    let pause = base
        .replace(
            "for_ms = 1_500 },",
            "for_ms = 1_500 },\n  { at_ms = 5_000, pause = \"client-2\", for_ms = 900 },",
        )
        .replace(
            "always = [\"single-holder\"",
            "always = [\"belief-exclusivity\", \"single-holder\"",
        );
    let e = parse(&pause).unwrap_err();
    assert_eq!(e.field, "expect.always", "{e}");
    assert!(e.reason.contains("faults.script[1]"), "{e}");
    // The fixed protocol (a correct variant) beyond its assumptions without saying what
    // it finds: drift that stretches a lease past the margin.
    let beyond = base
        .replace("offset_ms = 0", "offset_ms = 0\ndrift_ppm = 500_000")
        .replace("hold_ms = 300", "hold_ms = 300\ntrust_client_clock = false");
    let e = parse(&beyond).unwrap_err();
    assert_eq!(e.field, "expect.finds", "{e}");
    assert!(e.reason.contains("clocks.drift_ppm"), "{e}");
    // A node the run does not have.
    let node = base.replace("isolate = \"client-0\"", "isolate = \"client-9\"");
    assert!(parse(&node)
        .unwrap_err()
        .field
        .starts_with("faults.script[0]"));
    // A workload naive-lock does not support; an oracle it makes no claim for.
    let jobs = format!("{base}\n[jobs]\nkeys = [\"a\"]\n");
    let e = parse(&jobs).unwrap_err();
    assert_eq!(e.field, "jobs", "{e}");
    assert!(e.reason.contains("no exactly-once workload"), "{e}");
    let live = base.replace("always = [", "always = [\"liveness\", ");
    let e = parse(&live).unwrap_err();
    assert_eq!(e.field, "expect.always", "{e}");
    assert!(e.reason.contains("no liveness claim"), "{e}");
    // A field the file format does not have.
    let typo = base.replace("clients = 3", "client = 3");
    let e = parse(&typo).unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.line),
        ("client", line_of(&typo, "client = 3")),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with(&format!("bad.toml:{}:1: client: ", e.line)),
        "{e}"
    );
}

#[test]
fn a_finding_shrinks_to_a_scenario_file_of_its_own_and_draws_a_timeline() {
    let sc = load("fast-clock");
    let seed = check(&sc).finds["belief-exclusivity"].expect("found");
    // The seed's plan, as a scripted scenario of naive-lock that names its kind, pins
    // the seed's clocks and still finds it.
    let shrunk = leaseproof_sim::shrink::shrink(&sc, seed, Some(OracleName::BeliefExclusivity))
        .expect("shrinks");
    assert!(shrunk.confirmed, "{}", shrunk.text);
    assert!(
        shrunk.text.contains("kind = \"naive-lock\""),
        "{}",
        shrunk.text
    );
    let again: Scenario<NaiveLock> =
        Scenario::parse_protocol(Path::new("shrunk.toml"), &shrunk.text).expect("valid");
    assert_eq!(again.finds, vec![OracleName::BeliefExclusivity]);
    // The traced run draws the same timeline the reference protocol's reports draw.
    let r = run_seed_isolated(&sc, seed, RunOptions { trace: true });
    let svg = leaseproof_sim::run_report::timeline_of(&sc, &r).expect("a timeline");
    assert!(
        svg.starts_with("<svg") && svg.contains("belief-exclusivity"),
        "{svg}"
    );
    // `NAIVE_LOCK_TIMELINE=path` keeps it, to look at.
    if let Ok(out) = std::env::var("NAIVE_LOCK_TIMELINE") {
        std::fs::write(out, svg).expect("write the timeline");
    }
}

#[test]
fn a_restarted_client_takes_its_earlier_incarnations_grant_unless_replies_name_it() {
    let sc = load("restarted-client");
    assert!(
        sc.beyond.is_empty(),
        "client crashes are within: {:?}",
        sc.beyond
    );
    let report = check(&sc);
    assert_eq!(report.verdict, Verdict::Pass, "{:?}", report.failures);
    let seed = report.finds["single-holder"].expect("found");
    let r = run_seed_isolated(&sc, seed, RunOptions::default());
    let found = r.first(OracleName::SingleHolder).expect("replays");
    println!(
        "restarted-client seed {seed}: {} at {:.1} ms",
        found.violation,
        found.true_ns as f64 / 1e6
    );
    // The fixed lock on the same faults: every oracle holds.
    let text = std::fs::read_to_string(scenario("restarted-client"))
        .expect("read")
        .replace("reply_without_incarnation = true", "")
        .replace(
            "finds = [\"single-holder\"]",
            "always = [\"single-holder\", \"token-monotonic\"]",
        );
    let report = check(&parse(&text).expect("a valid scenario"));
    assert_eq!(report.verdict, Verdict::Pass, "{:?}", report.failures);
    assert!(report.also_tripped.is_empty(), "{:?}", report.also_tripped);
}

/// `swarm-fixed` on 1,000 seeds rather than its 20 test seeds:
/// `cargo test -p naive-lock --test checkers -- --ignored --nocapture`.
#[test]
#[ignore = "1,000 seeds; run with -- --ignored"]
fn swarm_fixed_holds_on_a_thousand_seeds() {
    let sc = load("swarm-fixed");
    let results = run_many(
        &sc,
        &sc.run_seeds(0, Some(1000)),
        2,
        RunOptions::default(),
        &|_| {},
    );
    let report = judge(&sc, &results, &[]);
    println!(
        "swarm-fixed: {} of {} seeds passed",
        report.passed, report.seeds
    );
    assert_eq!(report.verdict, Verdict::Pass, "{:?}", report.failures);
    assert!(report.also_tripped.is_empty(), "{:?}", report.also_tripped);
}
