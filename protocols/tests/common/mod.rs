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

/// `check`, asserting the verdict passes; `what` names the scenario in the failure.
pub fn passes<P: Protocol>(sc: &Scenario<P>, what: &str) -> ScenarioReport {
    let report = check(sc);
    assert_eq!(
        report.verdict,
        leaseproof_impl::verdict::Verdict::Pass,
        "{what}: {:?}",
        report.failures
    );
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
    passes(&sc, &format!("{system}/within-envelope"));
}

/// One point of an envelope sweep: `base` (the `[protocol]` kind line and the cluster),
/// the protocol's `fields`, no other fault than the `axis`'s, 120 s runs on `seeds` seeds;
/// how many seeds had two clients acting at once (belief-exclusivity), how many a stale
/// write accepted, and whether the plug-in's assumptions claim the point.
pub fn sweep_point<P: Protocol>(
    base: &str,
    fields: &str,
    axis: &str,
    seeds: u64,
) -> (usize, usize, bool) {
    use leaseproof_impl::OracleName;
    let (kind, cluster) = base
        .split_once('\n')
        .expect("a kind line, then the cluster");
    // The two oracles are judged where named: in `finds` beyond the envelope, in
    // `always` inside it (where a finding would be a counterexample to the envelope).
    let text = |expect: &str| {
        format!(
            "description = \"envelope sweep\"\nduration_ms = 120_000\nliveness = false\n\n\
             {cluster}\n\n[protocol]\n{kind}\n{fields}\n{axis}\n\n[expect]\nalways = \
             [\"single-holder\"]\n{expect} = [\"belief-exclusivity\", \"stale-write-accepted\"]\n"
        )
    };
    let parse = |t: String| Scenario::<P>::parse_protocol(Path::new("sweep.toml"), &t);
    let sc = parse(text("finds"))
        .or_else(|_| parse(text("always").replace("always = [\"single-holder\"]\n", "")))
        .unwrap_or_else(|e| panic!("{e}\n{}", text("always")));
    let ids: Vec<u64> = (0..seeds).collect();
    let results = run_many(&sc, &ids, 2, RunOptions::default(), &|_| {});
    if let Some(p) = results.iter().find_map(|r| r.panic.clone()) {
        panic!("a run panicked: {p}");
    }
    let count = |o: OracleName| results.iter().filter(|r| r.first(o).is_some()).count();
    (
        count(OracleName::BeliefExclusivity),
        count(OracleName::StaleWriteAccepted),
        sc.beyond.is_empty(),
    )
}

/// Prints a sweep's table (docs/protocols/*.md quote it) and fails if a point the
/// envelope claims found anything.
pub fn sweep_table(rows: &[(String, (usize, usize, bool))], seeds: u64) {
    println!("| point | envelope | two actors | stale write |\n|---|---|---|---|");
    for (name, (two, stale, within)) in rows {
        let claim = if *within { "inside" } else { "beyond" };
        println!("| {name} | {claim} | {two}/{seeds} | {stale}/{seeds} |");
        if *within {
            assert_eq!((*two, *stale), (0, 0), "{name}: inside the envelope");
        }
    }
}

/// A twin's script (`scenarios/<system>/<name>.toml`) moved to another point by `edits`
/// (each `from` must stand in the file), expecting every oracle to hold there: its
/// `finds` emptied, its `always` every safety oracle the twins judge, `safe_because` set.
pub fn at_bound<P: Protocol>(system: &str, name: &str, edits: &[(&str, &str)]) -> Scenario<P> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(system)
        .join(format!("{name}.toml"));
    let mut text = std::fs::read_to_string(&path).expect("the twin");
    let finds = text
        .lines()
        .find(|l| l.starts_with("finds = "))
        .expect("the twin finds something")
        .to_string();
    let expect = [
        (
            finds.as_str(),
            "finds = []\nsafe_because = \"at the bound\"",
        ),
        (
            "always = [\"single-holder\", \"token-monotonic\"]",
            "always = [\"single-holder\", \"token-monotonic\", \"belief-exclusivity\", \
             \"stale-write-accepted\", \"lease-containment\"]",
        ),
    ];
    for (from, to) in edits.iter().chain(&expect) {
        assert!(text.contains(from), "{name}: {from}");
        text = text.replace(from, to);
    }
    Scenario::<P>::parse_protocol(&path, &text).unwrap_or_else(|e| panic!("{name}: {e}"))
}
