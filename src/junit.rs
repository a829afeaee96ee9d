//! `--junit FILE`: JUnit XML for CI test tabs (GitHub, GitLab, Jenkins), one test case per
//! scenario, bug-catalog variant or model property, each failure carrying the oracle, the
//! verdict class and the replay command.
//!
//! The elements and attributes are those of the schema Jenkins' xUnit plugin validates
//! against, `junit-10.xsd` (jenkinsci/xunit-plugin, src/main/resources/org/jenkinsci/
//! plugins/xunit/types/model/xsd/junit-10.xsd): `testsuites` (name, tests, failures,
//! errors) > `testsuite` (name, tests, failures and errors required; skipped) > `testcase`
//! (name required; classname, time) > `failure` / `error` / `skipped` (message, type) and
//! `system-out`. tests/cli.rs holds the table and checks every file against it. A crash (a
//! panic) and nondeterminism are `error`s, the harness breaking; every other failed
//! expectation is a `failure`.

use leaseproof_sim::verdict::ScenarioReport;
use leaseproof_sim::verdict::Verdict;
use std::fmt::Write as _;
use std::path::Path;

/// One test case.
pub struct Case {
    pub classname: String,
    pub name: String,
    /// Seconds, when the case was timed on its own.
    pub time: Option<f64>,
    pub failures: Vec<Problem>,
    pub skipped: Option<String>,
    /// What passed, in words (the CI tab shows it).
    pub out: String,
}

/// A failure or an error of a case.
pub struct Problem {
    /// `error` (the harness broke: a crash, nondeterminism) or a `failure`.
    pub error: bool,
    /// The verdict class (`safety`, `liveness`, `vacuous`, ...).
    pub kind: String,
    pub message: String,
    pub body: String,
}

/// Writes one suite named `suite` of `cases` to `path`.
pub fn write(path: &Path, suite: &str, cases: &[Case]) -> anyhow::Result<()> {
    let failures = cases
        .iter()
        .flat_map(|c| &c.failures)
        .filter(|p| !p.error)
        .count();
    let errors = cases
        .iter()
        .flat_map(|c| &c.failures)
        .filter(|p| p.error)
        .count();
    let skipped = cases.iter().filter(|c| c.skipped.is_some()).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let counts = format!(
        "tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\"",
        cases.len()
    );
    let _ = writeln!(x, "<testsuites name=\"{}\" {counts}>", esc(suite));
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" {counts} skipped=\"{skipped}\">",
        esc(suite)
    );
    for c in cases {
        let time = c
            .time
            .map(|t| format!(" time=\"{t:.3}\""))
            .unwrap_or_default();
        let _ = writeln!(
            x,
            "    <testcase classname=\"{}\" name=\"{}\"{time}>",
            esc(&c.classname),
            esc(&c.name)
        );
        for p in &c.failures {
            let tag = if p.error { "error" } else { "failure" };
            let _ = writeln!(
                x,
                "      <{tag} type=\"{}\" message=\"{}\">{}</{tag}>",
                esc(&p.kind),
                esc(&p.message),
                esc_text(&p.body)
            );
        }
        if let Some(why) = &c.skipped {
            let _ = writeln!(x, "      <skipped message=\"{}\"/>", esc(why));
        }
        if !c.out.is_empty() {
            let _ = writeln!(x, "      <system-out>{}</system-out>", esc_text(&c.out));
        }
        x.push_str("    </testcase>\n");
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, x).map_err(|e| anyhow::anyhow!("--junit {}: {e}", path.display()))
}

/// Escapes text for an attribute (line breaks kept as character references, which attribute
/// normalisation would otherwise turn into spaces); characters XML 1.0 cannot hold
/// (controls other than tab, newline and carriage return) become U+FFFD.
fn esc(s: &str) -> String {
    esc_text(s)
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
        .replace('\t', "&#9;")
}

/// Escapes element text (line breaks stay as they are, for a readable CI tab).
fn esc_text(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\n' | '\r' | '\t' => o.push(ch),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

/// Whether a verdict class is the harness breaking (`error`) rather than an expectation
/// failing.
fn is_error(v: Verdict) -> bool {
    matches!(v, Verdict::Crash | Verdict::Nondeterminism)
}

/// A run's (or a merge's) cases: one per scenario, classed by its folder.
#[must_use]
pub fn run_cases(reports: &[ScenarioReport]) -> Vec<Case> {
    reports
        .iter()
        .map(|r| {
            let classname = Path::new(&r.path)
                .parent()
                .map(|p| p.display().to_string().replace(['/', '\\'], "."))
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "scenarios".into());
            let failures = r
                .failures
                .iter()
                .map(|f| {
                    let mut body = format!("oracle: {}\nclass: {}\n", f.oracle, f.class.name());
                    if let Some(s) = f.seed {
                        let _ = writeln!(body, "seed: {s}");
                    }
                    let _ = writeln!(body, "detail: {}\nscenario hash: {}", f.detail, f.hash);
                    if let Some(cmd) = &f.replay {
                        let _ = writeln!(body, "replay: {cmd}");
                    }
                    Problem {
                        error: is_error(f.class),
                        kind: f.class.name().to_string(),
                        message: format!("{}: {}", f.oracle, f.detail),
                        body,
                    }
                })
                .collect();
            let finds: Vec<String> = r
                .finds
                .iter()
                .filter_map(|(o, s)| s.map(|s| format!("{o} (seed {s})")))
                .collect();
            let mut out = format!(
                "{} seeds, {} passed, {}, variant {}",
                r.seeds,
                r.passed,
                match r.class {
                    leaseproof_sim::scenario::FaultClass::WithinAssumptions => "within assumptions",
                    leaseproof_sim::scenario::FaultClass::BeyondAssumptions => "beyond assumptions",
                },
                r.variant
            );
            if !finds.is_empty() {
                let _ = write!(out, "; found as expected: {}", finds.join(", "));
            }
            Case {
                classname,
                name: r.name.clone(),
                time: None,
                failures,
                skipped: None,
                out,
            }
        })
        .collect()
}

/// The bug catalog's cases: one per variant, then one per reproduction.
#[must_use]
pub fn catalog_cases(cat: &leaseproof::catalog::Catalog) -> Vec<Case> {
    let mut cases: Vec<Case> = cat
        .variants
        .iter()
        .map(|r| {
            let mut failures = Vec::new();
            let mut fail = |message: String| {
                failures.push(Problem {
                    error: false,
                    kind: "safety".into(),
                    message,
                    body: format!(
                        "variant: {}\noracle: {}\nscenario: {}\nreplay: cargo run --release -- \
                         run {}\nmodel: cargo run --release -- check --variant {}\n",
                        r.variant, r.oracle, r.scenario, r.scenario, r.variant
                    ),
                });
            };
            if r.variant != "correct" && !r.sim_found {
                fail(format!(
                    "the simulator did not find {} ({})",
                    r.variant, r.oracle
                ));
            }
            if r.variant != "correct" && !r.model_found {
                fail(format!(
                    "the model checker did not find {} ({})",
                    r.variant, r.model_property
                ));
            }
            if !r.twin_passed {
                fail(format!("the correct twin {} failed", r.twin));
            }
            Case {
                classname: "catalog.variants".into(),
                name: r.variant.clone(),
                time: Some(r.model_seconds),
                failures,
                skipped: None,
                out: format!(
                    "{} ({}): simulator found in {} searches, model property {} at {} states",
                    r.variant, r.bug_class, r.sim_searches_found, r.model_property, r.model_states
                ),
            }
        })
        .collect();
    cases.extend(cat.reproductions.iter().map(|r| {
        let mut failures = Vec::new();
        if r.found.is_none() {
            failures.push(Problem {
                error: false,
                kind: "finds-not-found".into(),
                message: format!("{}: {} not found", r.what, r.oracle),
                body: format!("scenario: {}\n", r.scenario),
            });
        }
        if !r.twin_passed {
            failures.push(Problem {
                error: false,
                kind: "safety".into(),
                message: format!("the correct twin {} failed", r.twin),
                body: format!("twin: {}\n", r.twin),
            });
        }
        Case {
            classname: "catalog.reproductions".into(),
            name: r.what.clone(),
            time: None,
            failures,
            skipped: None,
            out: r
                .found
                .map(|s| format!("found at seed {s}"))
                .unwrap_or_default(),
        }
    }));
    cases
}

/// A model check's cases: one per property. An `always` with a counterexample fails with
/// its path; a `sometimes` never reached is vacuous; an interrupted or cut-short check
/// skips what it could not decide.
#[must_use]
pub fn check_cases(r: &leaseproof_model::check::CheckReport, interrupted: bool) -> Vec<Case> {
    r.properties
        .iter()
        .map(|(name, p)| {
            let undecided = interrupted || (!r.complete && p.holds == (p.expectation == "always"));
            let mut failures = Vec::new();
            if !undecided && !p.holds {
                let (kind, message) = if p.expectation == "always" {
                    let liveness = leaseproof_model::LIVENESS_PROPS.contains(name);
                    (
                        if liveness { "liveness" } else { "safety" },
                        format!("{name}: counterexample in {} steps", p.trace.len()),
                    )
                } else {
                    ("vacuous", format!("{name}: never reached"))
                };
                let mut body = format!("property: {name}\nmodel: {}\n", r.model);
                for st in &p.trace {
                    let clocks: Vec<String> =
                        st.clocks.iter().map(|(n, t)| format!("{n}={t}")).collect();
                    let _ = writeln!(body, "{:>3}. [{}] {}", st.step, clocks.join(" "), st.action);
                    for o in &st.outputs {
                        let _ = writeln!(body, "       -> {o}");
                    }
                }
                failures.push(Problem {
                    error: false,
                    kind: kind.into(),
                    message,
                    body,
                });
            }
            Case {
                classname: format!("check.{}", p.expectation),
                name: (*name).to_string(),
                time: None,
                failures,
                skipped: undecided.then(|| "the check stopped before deciding it".to_string()),
                out: format!(
                    "{} states ({} unique){}",
                    r.states,
                    r.unique,
                    if r.closed { ", closed" } else { "" }
                ),
            }
        })
        .collect()
}
