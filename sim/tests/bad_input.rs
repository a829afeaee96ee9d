//! Bad input gets a clear error that names the file, the line and column, the field and the
//! reason: never a panic. Random and mutated scenario files are fed to the parser.

#[cfg(not(madsim))]
compile_error!("simulation tests need --cfg madsim (see .cargo/config.toml)");

use leaseproof_sim::scenario::Scenario;
use proptest::prelude::*;
use std::path::Path;

const GOOD: &str = include_str!("../../scenarios/standard.toml");

fn parse(text: &str) -> Result<Scenario, leaseproof_sim::scenario::ScenarioError> {
    Scenario::parse(Path::new("scenarios/x.toml"), text)
}

fn assert_named(text: &str, field: &str, reason_part: &str) {
    let e = parse(text).expect_err(field);
    assert_eq!(e.file, Path::new("scenarios/x.toml"));
    assert!(e.line >= 1 && e.column >= 1, "{e}");
    assert!(e.field.contains(field), "field {:?} in {e}", e.field);
    assert!(
        e.reason.contains(reason_part),
        "reason {:?} in {e}",
        e.reason
    );
}

#[test]
fn the_shipped_standard_scenario_parses() {
    parse(GOOD).unwrap();
}

#[test]
fn errors_name_file_line_column_field_and_reason() {
    assert_named(
        "seeds = 3\nbogus = 1\n[expect]\nalways=[\"single-holder\"]",
        "bogus",
        "unknown field",
    );
    assert_named(
        "[cluster]\nclients = 0\n[expect]\nalways=[\"single-holder\"]",
        "cluster.clients",
        "between 1 and 64",
    );
    assert_named(
        "[protocol]\nttl_ms = 1000\nrenew_interval_ms = 2000\n[expect]\nalways=[\"single-holder\"]",
        "protocol.renew_interval_ms",
        "not below the local validity span",
    );
    assert_named(
        "[faults]\nscript = [{ at_ms = 10, pause = \"client-9\", for_ms = 5 }]\n[expect]\nalways=[\"single-holder\"]",
        "faults.script[0].pause",
        "no node named",
    );
    assert_named(
        "[faults]\nscript = [\n { at_ms = 500, pause = \"server\", for_ms = 5 },\n { at_ms = 10, pause = \"server\", for_ms = 5 },\n]\n[expect]\nalways=[\"single-holder\"]",
        "faults.script[1].at_ms",
        "goes back in time",
    );
    assert_named(
        "[expect]\nalways=[\"single-holdr\"]",
        "expect.always",
        "unknown oracle",
    );
    assert_named(
        "[expect]\nalways=[\"single-holder\"]\nsometimes=[\"nope\"]",
        "expect.sometimes",
        "unknown coverage label",
    );
    assert_named(
        "[faults]\nscript = [{ at_ms = 10, crash = \"server\", lose = \"counter\", for_ms = 5 }]\n[expect]\nalways=[\"single-holder\"]",
        "expect.finds",
        "beyond the assumptions",
    );
    assert_named("seeds = \"many\"\n", "seeds", "invalid type");
    assert_named("[cluster\nclients = 3\n", "(syntax)", "");
}

#[test]
fn a_value_of_the_wrong_type_names_its_field_not_its_text() {
    // The value's span is where toml points; the field is the key it belongs to, with
    // its table.
    let e = parse("seeds = 3\n[protocol]\nttl_ms = \"x\"\n[expect]\nalways=[\"single-holder\"]")
        .unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.line, e.column),
        ("protocol.ttl_ms", 3, 10),
        "{e}"
    );
    assert!(e.reason.contains("expected u64"), "{e}");
    let e = parse("seeds = \"many\"\n[expect]\nalways=[\"single-holder\"]").unwrap_err();
    assert_eq!((e.field.as_str(), e.line), ("seeds", 1), "{e}");
    // A key the schema does not have still names the key.
    let e = parse("seeds = 3\n[cluster]\nlatency = [1, 2]\n[expect]\nalways=[\"single-holder\"]")
        .unwrap_err();
    assert_eq!(e.field, "latency", "{e}");
}

#[test]
fn a_protocol_is_named_by_kind_and_an_unknown_one_is_refused() {
    let p =
        parse("[protocol]\nkind = \"reference\"\n[expect]\nalways=[\"single-holder\"]").unwrap();
    assert_eq!(
        p.file.protocol.kind,
        leaseproof_impl::ProtocolKind::Reference
    );
    let e = parse("seeds = 3\n[protocol]\nkind = \"etcd\"\n[expect]\nalways=[\"single-holder\"]")
        .unwrap_err();
    assert_eq!((e.line, e.column), (3, 8), "{e}");
    assert!(
        e.reason.contains("unknown variant `etcd`") && e.reason.contains("reference"),
        "{e}"
    );
}

#[test]
fn a_scenario_beyond_the_assumptions_is_told_each_breach_and_its_field() {
    // The protocol's assumptions classify the scenario (leaseproof_impl::protocol): each
    // breach is named with the field that configures it.
    let text = "[clocks]\ndrift_ppm = 5000\n[faults]\nscript = [\n { at_ms = 10, clock_step = \"server\", by_ms = 80 },\n { at_ms = 20, clock_step = \"server\", by_ms = 80 },\n { at_ms = 30, crash = \"resource\", lose = \"table\", for_ms = 5 },\n]\n[expect]\nalways=[\"single-holder\"]\n";
    let e = parse(text).unwrap_err();
    assert_eq!(e.field, "expect.finds");
    for part in [
        "clocks.drift_ppm: drift of 5000 ppm is above protocol.drift_ppm_max 1000 ppm",
        "faults.script[0].by_ms: the server's forward steps from 10 ms add up to 160 ms",
        "faults.script[2].lose: a crash loses the resource's table",
    ] {
        assert!(e.reason.contains(part), "{part:?} in {e}");
    }
    assert!(
        !e.reason.contains("script[1]"),
        "the window from 20 ms holds 80 ms: {e}"
    );
    let ok = parse(&format!("{text}finds = [\"lease-containment\"]")).unwrap();
    assert_eq!(ok.beyond.len(), 3);
    assert!(parse(GOOD).unwrap().beyond.is_empty());
}

#[test]
fn liveness_in_always_is_refused_where_a_waiters_entry_can_go_stale() {
    // The reference protocol claims liveness only while a queued waiter's refreshes reach
    // the server within its fresh window: requeue_interval + 2 × latency_max, stretched by
    // drift, below fresh_window_ms (impl::protocol, liveness_breaches). Defaults: fresh
    // window 2000 ms, requeue 500 ms, drift 1000 ppm (500 + 2 × 740 = 1980 ms reads as
    // 1983 ms; 500 + 2 × 750 = 2000 ms does not fit).
    let always = "[expect]\nalways = [\"liveness\", \"fenced-writes\"]\n";
    assert_named(
        &format!("[cluster]\nlatency_ms = [1, 750]\n{always}"),
        "expect.always",
        "protocol.fresh_window_ms: 2000 ms is not above a waiter's refresh spacing at the \
         server, protocol.requeue_interval_ms 500 + 2 × cluster.latency_ms 750 ms = 2000 ms",
    );
    parse(&format!("[cluster]\nlatency_ms = [1, 740]\n{always}")).unwrap();
    // A wider fresh window takes the longer latency back in.
    parse(&format!(
        "[protocol]\nfresh_window_ms = 2500\n[cluster]\nlatency_ms = [1, 750]\n{always}"
    ))
    .unwrap();
}

#[test]
fn belief_exclusivity_in_always_is_refused_where_faults_can_suspend_a_core() {
    // The reference protocol claims belief exclusivity only without pauses, send stalls
    // and buggify delays (impl::protocol, oracle_breaches): each is named with its field.
    let always = "[expect]\nalways = [\"belief-exclusivity\", \"fenced-writes\"]\n";
    let cases = [
        (
            "[faults]\nscript = [{ at_ms = 10, pause = \"holder\", for_ms = 5 }]\n",
            "faults.script[0].pause: a pause can hold",
        ),
        (
            "[faults.random]\nkinds = [\"cut\", \"pause\"]\n",
            "faults.random.kinds: a random pause",
        ),
        (
            "[cluster]\nsend_delay_ratio = 0.1\nsend_delay_ms = [1, 5]\n",
            "cluster.send_delay_ratio: a stall between a decision and its send",
        ),
        (
            "[cluster]\nbuggify = true\n",
            "cluster.buggify: a buggify delay",
        ),
    ];
    for (faults, reason) in cases {
        assert_named(&format!("{faults}{always}"), "expect.always", reason);
        // In finds it is what the scenario shows, and accepted.
        let finds = "[expect]\nalways = [\"fenced-writes\"]\nfinds = [\"belief-exclusivity\"]\n";
        parse(&format!("{faults}{finds}")).unwrap();
    }
    // Without them it may be required.
    let sc = parse(&format!(
        "[faults.random]\nkinds = [\"cut\", \"crash-server\"]\n{always}"
    ))
    .unwrap();
    assert!(sc
        .always
        .contains(&leaseproof_impl::OracleName::BeliefExclusivity));
}

#[test]
fn crash_point_ratios_and_down_times_name_the_field() {
    assert_named(
        "[faults.crash_points]\nserver = 1.5\n[expect]\nalways=[\"single-holder\"]",
        "faults.crash_points.server",
        "not between 0 and 1",
    );
    assert_named(
        "[faults.crash_points]\nresource = -0.1\n[expect]\nalways=[\"single-holder\"]",
        "faults.crash_points.resource",
        "not between 0 and 1",
    );
    assert_named(
        "[faults.crash_points]\nserver = 0.1\ndown_ms = [9, 1]\n[expect]\nalways=[\"single-holder\"]",
        "faults.crash_points.down_ms",
        "the minimum is above the maximum",
    );
    assert_named(
        "[faults.crash_points]\nsever = 0.1\n[expect]\nalways=[\"single-holder\"]",
        "sever",
        "unknown field",
    );
}

#[test]
fn a_script_entry_error_points_at_that_entry() {
    // Inline script arrays, over one line or many: the error's line and column are those of
    // the named key inside the failing entry, never the file's first line.
    let one_line = "seeds = 3\n[faults]\nscript = [{ at_ms = 10, pause = \"client-9\", for_ms = 5 }]\n[expect]\nalways=[\"single-holder\"]";
    let e = parse(one_line).unwrap_err();
    assert_eq!((e.line, e.column), (3, 25), "{e}");
    let many = "[faults]\nscript = [\n  { at_ms = 500, pause = \"server\", for_ms = 5 },\n  # the next one goes back\n  { at_ms = 10, pause = \"server\", for_ms = 5 },\n]\n[expect]\nalways=[\"single-holder\"]";
    let e = parse(many).unwrap_err();
    assert_eq!(e.field, "faults.script[1].at_ms");
    assert_eq!((e.line, e.column), (5, 5), "{e}");
    // A key the entry does not write points at the entry's brace.
    let no_for = "[faults]\nscript = [\n  { at_ms = 5, pause = \"server\" },\n]\n[expect]\nalways=[\"single-holder\"]";
    let e = parse(no_for).unwrap_err();
    assert_eq!(e.field, "faults.script[0].for_ms");
    assert_eq!((e.line, e.column), (3, 3), "{e}");
    // CRLF line ends and multi-byte text before the entry do not move it.
    let crlf = "description = \"é ü → ✓\"\r\n[faults]\r\nscript = [\r\n  { at_ms = 5, pause = \"ñode\", for_ms = 5 },\r\n]\r\n[expect]\r\nalways=[\"single-holder\"]";
    let e = parse(crlf).unwrap_err();
    assert_eq!(e.field, "faults.script[0].pause");
    assert_eq!((e.line, e.column), (4, 16), "{e}");
    // Array-of-tables entries keep pointing at their own key.
    let tables = "[[faults.script]]\nat_ms = 5\npause = \"server\"\nfor_ms = 5\n[[faults.script]]\nat_ms = 9\npause = \"nobody\"\nfor_ms = 5\n[expect]\nalways=[\"single-holder\"]";
    let e = parse(tables).unwrap_err();
    assert_eq!(e.field, "faults.script[1].pause");
    assert_eq!((e.line, e.column), (7, 1), "{e}");
}

#[test]
fn a_scenario_beyond_the_assumptions_says_what_it_finds_or_why_it_stays_safe() {
    let back = "[faults]\nscript = [{ at_ms = 10, clock_step = \"server\", by_ms = -5000 }]\n[expect]\nalways=[\"single-holder\"]\n";
    assert_named(back, "expect.finds", "safe_because");
    let safe = parse(&format!(
        "{back}finds = []\nsafe_because = \"a server step back lengthens grants\""
    ))
    .unwrap();
    assert!(safe.finds.is_empty());
    assert_eq!(
        safe.class(),
        leaseproof_sim::scenario::FaultClass::BeyondAssumptions
    );
    assert_named(
        &format!("{back}finds = [\"lease-containment\"]\nsafe_because = \"x\""),
        "expect.safe_because",
        "keep one",
    );
    assert_named(
        &format!("{back}safe_because = \"  \""),
        "expect.safe_because",
        "must say why",
    );
    assert_named(
        "[expect]\nalways=[\"single-holder\"]\nsafe_because = \"nothing happens\"",
        "expect.safe_because",
        "only a scenario beyond the assumptions",
    );
}

#[test]
fn bad_job_lists_stalls_and_windows_name_the_field() {
    let ok = "[expect]\nalways=[\"exactly-once\"]";
    assert_named(
        &format!("[jobs]\nkeys = [\"user-1\", \"cart-1\", \"user-1\"]\n{ok}"),
        "jobs.keys",
        "\"user-1\" is listed twice",
    );
    assert_named(
        &format!("[jobs]\nkeys = []\n{ok}"),
        "jobs.keys",
        "between 1 and 64",
    );
    assert_named(
        &format!("[jobs]\nkeys = [\"a\"]\npoison = [\"b\"]\n{ok}"),
        "jobs.poison",
        "not one of jobs.keys",
    );
    assert_named(
        &format!("[jobs]\nkeys = [\"a\"]\nattempts = 0\n{ok}"),
        "jobs.attempts",
        "between 1 and 1000",
    );
    assert_named(
        &format!("[protocol]\nvariant = \"no-idempotency\"\n{ok}"),
        "protocol.variant",
        "declare [jobs]",
    );
    assert_named(
        &format!("[protocol]\nprogress_window_ms = 2000\n{ok}"),
        "protocol.progress_window_ms",
        "renew_interval_ms + write_interval_ms",
    );
    assert_named(
        &format!("[faults]\nscript = [{{ at_ms = 10, stall = \"server\" }}]\n{ok}"),
        "faults.script[0].stall",
        "not a client",
    );
    // It suspends a core after its check: the reference protocol does not claim
    // belief-exclusivity under it.
    assert_named(
        "[faults]\nscript = [{ at_ms = 10, delay_write = \"client-0\", for_ms = 5 }]\n[expect]\nalways=[\"single-holder\", \"belief-exclusivity\"]",
        "expect.always",
        "faults.script[0].delay_write: a write delayed after its decision",
    );
    assert_named(
        &format!("[locks]\norder = [\"user\", \"cart\", \"user\"]\n{ok}"),
        "locks.order",
        "\"user\" is listed twice",
    );
    assert_named(
        &format!(
            "[locks]\nbefore = [[\"user\", \"cart\"], [\"cart\", \"stock\"], [\"stock\", \"user\"]]\n{ok}"
        ),
        "locks.before",
        "cycle among",
    );
    assert_named(
        &format!("[locks]\nbefore = [[\"user\", \"cart\"], [\"user\", \"stock\"]]\n{ok}"),
        "locks.before",
        "not ordered",
    );
    assert_named(
        &format!("[locks]\norder = [\"user\"]\n{ok}"),
        "locks.order",
        "between 2 and 8",
    );
    assert_named(
        &format!("[protocol]\nvariant = \"lock-order-inversion\"\n{ok}"),
        "protocol.variant",
        "declare [locks]",
    );
    // A chain of pairs is an order.
    let sc = parse(&format!(
        "[locks]\nbefore = [[\"cart\", \"stock\"], [\"user\", \"cart\"]]\n{ok}"
    ))
    .unwrap();
    assert_eq!(sc.lock_keys, ["user", "cart", "stock"]);
    // The line of the duplicate key's list is the one named.
    let e = parse(&format!("seeds = 3\n[jobs]\nkeys = [\"a\", \"a\"]\n{ok}")).unwrap_err();
    assert_eq!(e.line, 3, "{e}");
}

/// The scripted write delay and slowed link: a client's writes only, a positive delay;
/// a link of two different nodes and a positive extra latency.
#[test]
fn scripted_delays_name_the_field() {
    // A delayed write: a client's only, and it needs its delay.
    assert_named(
        "[faults]\nscript = [{ at_ms = 10, delay_write = \"server\", for_ms = 5 }]\n[expect]\nalways=[\"single-holder\"]",
        "faults.script[0].delay_write",
        "not a client",
    );
    assert_named(
        "[faults]\nscript = [{ at_ms = 10, delay_write = \"client-0\" }]\n[expect]\nalways=[\"single-holder\"]",
        "faults.script[0].for_ms",
        "",
    );
    assert_named(
        "[faults]\nscript = [{ at_ms = 10, delay_write = \"client-0\", pause = \"client-1\", for_ms = 5 }]\n[expect]\nalways=[\"single-holder\"]",
        "faults.script[0].at_ms",
        "delay_write",
    );
    // A slowed link: two different nodes and a positive extra latency.
    assert_named(
        "[faults]\nscript = [{ at_ms = 10, slow = [\"client-0\", \"client-0\"], by_ms = 5, for_ms = 5 }]\n[expect]\nalways=[\"single-holder\"]",
        "faults.script[0].slow",
        "two different nodes",
    );
    assert_named(
        "[faults]\nscript = [{ at_ms = 10, slow = [\"client-0\", \"resource\"], for_ms = 5 }]\n[expect]\nalways=[\"single-holder\"]",
        "faults.script[0].by_ms",
        "positive by_ms",
    );
    assert_named(
        "[faults]\nscript = [{ at_ms = 10, slow = [\"client-0\"], by_ms = 5, for_ms = 5 }]\n[expect]\nalways=[\"single-holder\"]",
        "faults.script[0].slow",
        "[from, to]",
    );
}

#[test]
fn the_error_points_at_the_line_of_the_field() {
    let text = "seeds = 3\n\n[protocol]\nttl_ms = 0\n[expect]\nalways=[\"single-holder\"]\n";
    let e = parse(text).unwrap_err();
    assert_eq!((e.line, e.column), (4, 1), "{e}");
    assert_eq!(
        e.to_string(),
        format!("scenarios/x.toml:4:1: protocol.ttl_ms: {}", e.reason)
    );
}

fn mutate(text: &str, at: usize, cut: usize, insert: &str) -> String {
    let mut bytes: Vec<char> = text.chars().collect();
    let at = at % (bytes.len() + 1);
    let end = (at + cut).min(bytes.len());
    bytes.splice(at..end, insert.chars());
    bytes.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,300}") {
        if let Err(e) = parse(&text) {
            prop_assert!(e.line >= 1 && !e.field.is_empty() && !e.reason.is_empty(), "{e}");
        }
    }

    #[test]
    fn mutated_scenarios_never_panic(
        at in 0usize..4_000,
        cut in 0usize..40,
        insert in prop_oneof![
            Just(String::new()), Just("0".to_string()), Just("-1".to_string()),
            Just("\"x\"".to_string()), Just("]".to_string()), Just("[[faults.script]]\n".to_string()),
            Just("99999999999999999999".to_string()), Just("1e9".to_string()),
            "[a-z_=\\[\\]\" 0-9\n]{0,12}",
        ],
    ) {
        let text = mutate(GOOD, at, cut, &insert);
        if let Err(e) = parse(&text) {
            prop_assert!(e.line >= 1 && !e.field.is_empty() && !e.reason.is_empty(), "{e}");
        }
    }
}
