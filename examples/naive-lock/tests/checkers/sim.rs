//! leaseproof's simulator runs naive-lock from this crate's own tests, through the
//! generic engine: it finds the bug (a fast clock steals the lock), holds the scenarios
//! within the protocol's assumptions, replays a seed exactly, and refuses bad scenarios
//! naming the file, the line and the field.

use leaseproof_impl::OracleName;
use leaseproof_sim::plugin::run_plugin_seed;
use leaseproof_sim::plugin_check::check_plugin;
use leaseproof_sim::plugin_scenario::{load, parse};
use naive_lock::NaiveLock;
use std::path::{Path, PathBuf};

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"))
}

#[test]
fn the_simulator_finds_a_fast_clock_stealing_the_lock() {
    let sc = load::<NaiveLock>(&scenario("fast-clock")).expect("a valid scenario");
    assert!(
        !sc.within(),
        "offsets are beyond the naive lock's assumptions"
    );
    let v = check_plugin::<NaiveLock>(&sc, 0..8);
    println!("{v}");
    let found = v
        .found
        .get(&OracleName::BeliefExclusivity)
        .expect("some seed finds two clients acting at once");
    // Both clients (nodes 2 and 3) may act at once.
    assert!(
        found.violation.contains("n2") && found.violation.contains("n3"),
        "{}",
        found.violation
    );
    assert_eq!(v.verdict, leaseproof_impl::verdict::Verdict::Pass, "{v}");
}

#[test]
fn within_its_assumptions_every_oracle_holds() {
    for name in ["synced", "fixed-fast-clock"] {
        let sc = load::<NaiveLock>(&scenario(name)).expect("a valid scenario");
        assert!(sc.within(), "{name}: {:?}", sc.beyond);
        assert!(sc.judged.contains(&OracleName::BeliefExclusivity), "{name}");
        let v = check_plugin::<NaiveLock>(&sc, 0..8);
        println!("{v}");
        assert!(v.found.is_empty(), "{v}");
        assert_eq!(v.verdict, leaseproof_impl::verdict::Verdict::Pass, "{v}");
    }
}

#[test]
fn the_simulator_reports_a_deadline_check_that_freezes_time_and_does_not_hang() {
    let base = std::fs::read_to_string(scenario("synced")).expect("read");
    let text = base.replace("hold_ms = 300", "hold_ms = 1500\nstrict_deadline = true");
    let sc = parse::<NaiveLock>(Path::new("strict.toml"), &text).expect("a valid scenario");
    let v = check_plugin::<NaiveLock>(&sc, 0..2);
    println!("{v}");
    assert_eq!(
        v.verdict,
        leaseproof_impl::verdict::Verdict::Liveness,
        "{v}"
    );
    assert!(v.timelocks[0].1.contains("time-lock: client-"), "{v}");
    // The spinning client stops once its millisecond has passed: nothing else breaks.
    assert!(v.found.is_empty(), "{v}");
    // Without the mutant the same scenario passes.
    let fixed = base.replace("hold_ms = 300", "hold_ms = 1500");
    let sc = parse::<NaiveLock>(Path::new("fixed.toml"), &fixed).expect("a valid scenario");
    assert_eq!(
        check_plugin::<NaiveLock>(&sc, 0..2).verdict,
        leaseproof_impl::verdict::Verdict::Pass
    );
}

#[test]
fn runs_are_not_vacuous_and_a_seed_replays_bit_for_bit() {
    let sc = load::<NaiveLock>(&scenario("synced")).expect("a valid scenario");
    let a = run_plugin_seed::<NaiveLock>(&sc, 3, true);
    let b = run_plugin_seed::<NaiveLock>(&sc, 3, false);
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_ne!(
        a.trace_hash,
        run_plugin_seed::<NaiveLock>(&sc, 4, false).trace_hash
    );
    // Clients took turns: tenures began, were acted under and given back.
    assert!(a.metrics.grants >= 5, "{:?}", a.metrics);
    assert!(a.metrics.hold_ns.len() >= 5, "{:?}", a.metrics);
    for kind in ["began", "acting", "gave-back", "partitioned"] {
        assert!(a.coverage.contains(kind), "{kind} not in {:?}", a.coverage);
    }
    assert!(a
        .trace
        .is_some_and(|t| t.iter().any(|l| l.contains("Granted"))));
}

#[test]
fn bad_scenarios_name_the_file_the_line_and_the_field() {
    let base = std::fs::read_to_string(scenario("synced")).expect("read");
    let path = Path::new("bad.toml");
    // A field of another protocol (the reference's) is refused by name.
    let other = base.replace("hold_ms = 300", "hold_ms = 300\nrenew_interval_ms = 300");
    let e = parse::<NaiveLock>(path, &other).unwrap_err();
    assert_eq!(e.field, "protocol.renew_interval_ms", "{e}");
    assert!(e.reason.contains("unknown field"), "{e}");
    assert_eq!(e.line, 14, "{e}");
    // Another protocol's name.
    let kind = base.replace("kind = \"naive-lock\"", "kind = \"reference\"");
    let e = parse::<NaiveLock>(path, &kind).unwrap_err();
    assert_eq!(e.field, "protocol.kind", "{e}");
    // A value the protocol refuses.
    let ttl = base.replace("ttl_ms = 1000", "ttl_ms = 0");
    let e = parse::<NaiveLock>(path, &ttl).unwrap_err();
    assert_eq!((e.field.as_str(), e.line), ("protocol.ttl_ms", 12), "{e}");
    // A within scenario that claims belief-exclusivity under a pause.
    let pause = format!(
        "{base}\n[[faults]]\nkind = \"pause\"\nnode = \"client-2\"\nat_ms = 100\nfor_ms = 900\n"
    )
    .replace(
        "clients = 3",
        "clients = 3\nalways = [\"belief-exclusivity\"]",
    );
    let e = parse::<NaiveLock>(path, &pause).unwrap_err();
    assert_eq!(e.field, "always", "{e}");
    assert!(e.reason.contains("faults[1].kind"), "{e}");
    // Beyond the assumptions without saying what it finds.
    let beyond = base.replace(
        "loss_ratio = 0.05",
        "loss_ratio = 0.05\nclock_offset_ms_max = 500",
    );
    let e = parse::<NaiveLock>(path, &beyond).unwrap_err();
    assert_eq!(e.field, "finds", "{e}");
    assert!(e.reason.contains("clock_offset_ms_max"), "{e}");
    // A node the run does not have; a field the file format does not have.
    let node = base.replace("node = \"client-0\"", "node = \"client-9\"");
    assert_eq!(
        parse::<NaiveLock>(path, &node).unwrap_err().field,
        "faults[0].node"
    );
    // Two faults on one node that overlap; an oracle the generic engine does not judge.
    let twice = format!(
        "{base}\n[[faults]]\nkind = \"pause\"\nnode = \"client-0\"\nat_ms = 3000\nfor_ms = 100\n"
    );
    let e = parse::<NaiveLock>(path, &twice).unwrap_err();
    assert_eq!(e.field, "faults[1]", "{e}");
    assert!(e.reason.contains("overlaps faults[0]"), "{e}");
    let live = base.replace("clients = 3", "clients = 3\nalways = [\"liveness\"]");
    assert_eq!(parse::<NaiveLock>(path, &live).unwrap_err().field, "always");
    let typo = base.replace("clients = 3", "client = 3");
    let e = parse::<NaiveLock>(path, &typo).unwrap_err();
    assert_eq!((e.field.as_str(), e.line), ("client", 5), "{e}");
    assert!(e.to_string().starts_with("bad.toml:5: client: "), "{e}");
}
