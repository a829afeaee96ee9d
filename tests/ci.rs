//! What CI users rely on: sharded runs that merge into exactly the unsharded reports, merges
//! that refuse what is not one run's N shards, and JUnit XML that Jenkins' schema accepts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{code, leaseproof};

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh folder for one test (tests run at once).
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("leaseproof-ci-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// check-then-act's bug scenario with its oracle moved from `finds` to `always`: a scenario
/// whose seeds fail (with replay lines, shrinkable), written into `d`.
fn failing_scenario(d: &Path) -> PathBuf {
    let text = std::fs::read_to_string("scenarios/bugs/check-then-act.toml").unwrap();
    let failing = d.join("always-contained.toml");
    std::fs::write(
        &failing,
        text.replace(
            "finds = [\"lease-containment\"]",
            "always = [\"lease-containment\"]",
        ),
    )
    .unwrap();
    failing
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file under `root`, by relative path.
fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap().map(Result::unwrap) {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Runs `base` unsharded into `dir/whole`, then as `n` shards merged into `dir/merged`, and
/// asserts the two wrote the same files, byte for byte, and exited alike. Returns the
/// unsharded exit code.
fn merged_equals_unsharded(base: &[&str], n: u32, dir: &Path) -> i32 {
    let whole = dir.join("whole");
    let mut args = base.to_vec();
    let (wj, mj) = (dir.join("whole.xml"), dir.join("merged.xml"));
    args.extend_from_slice(&["--out", s(&whole), "--junit", s(&wj)]);
    let one = leaseproof(&args);
    let mut parts = Vec::new();
    for i in 1..=n {
        let part = dir.join(format!("part{i}"));
        let spec = format!("{i}/{n}");
        let mut args = base.to_vec();
        args.extend_from_slice(&["--shard", &spec, "--out", s(&part)]);
        let o = leaseproof(&args);
        assert_eq!(
            code(&o),
            0,
            "a shard exits 0 whatever it found: {}",
            err(&o)
        );
        assert!(part.join(format!("shard-{i}-of-{n}.json")).is_file());
        parts.push(part);
    }
    let merged = dir.join("merged");
    let mut args = vec!["merge"];
    args.extend(parts.iter().map(|p| s(p)));
    args.extend_from_slice(&["--out", s(&merged), "--junit", s(&mj)]);
    let m = leaseproof(&args);
    assert_eq!(code(&m), code(&one), "{}", err(&m));
    let (a, b) = (files(&whole), files(&merged));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(
            bytes == &b[name],
            "{name} differs between the run and the merge"
        );
    }
    assert_eq!(std::fs::read(&wj).unwrap(), std::fs::read(&mj).unwrap());
    code(&one)
}

#[test]
fn three_shards_of_a_run_merge_into_exactly_its_reports() {
    let d = dir("run");
    // A finding scenario, a failing one (check-then-act's bug as an `always`: failing seeds
    // with replay lines), a passing one, with determinism re-runs; the timelines are drawn
    // from the shards' records.
    let failing = failing_scenario(&d);
    let code = merged_equals_unsharded(
        &[
            "run",
            "scenarios/bugs/check-then-act.toml",
            "scenarios/happy-path.toml",
            s(&failing),
            "--seeds",
            "9",
            "--check-determinism",
        ],
        3,
        &d,
    );
    assert_eq!(code, 1, "the bug as an `always` fails the run");
    let svgs = files(&d.join("merged"))
        .keys()
        .filter(|k| k.ends_with(".svg"))
        .count();
    assert!(svgs >= 1, "the merge drew the finding's timeline");
    let _ = std::fs::remove_dir_all(&d);
}

/// A real system's run shards and merges as the reference protocol's does: the merge
/// reads the protocol from the shards' scenario texts and writes what one run writes.
#[test]
fn two_shards_of_a_real_systems_run_merge_into_exactly_its_reports() {
    let d = dir("run-k8s");
    let code = merged_equals_unsharded(
        &[
            "run",
            "protocols/scenarios/k8s/paused-leader.toml",
            "protocols/scenarios/k8s/within-envelope.toml",
            "--seeds",
            "6",
            "--check-determinism",
        ],
        2,
        &d,
    );
    assert_eq!(code, 0);
    assert!(
        files(&d.join("merged"))
            .keys()
            .any(|k| k.ends_with("paused-leader-0.svg")),
        "the finding's timeline, drawn from a shard's record"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn two_shards_of_a_sweep_merge_into_exactly_its_reports() {
    let d = dir("sweep");
    let code = merged_equals_unsharded(
        &["sweep", "scenarios/drift-at-bound.toml", "--seeds", "16"],
        2,
        &d,
    );
    assert_eq!(code, 0);
    let _ = std::fs::remove_dir_all(&d);
}

/// Four cells (two TTLs, fencing on and off) of a small scenario, 10 seeds each: the CLI
/// test's tiny grid with a fencing axis.
fn four_cells() -> String {
    include_str!("fixtures/tiny-grid.toml").replace("seeds = 6", "seeds = 10")
        + "fencing = [true, false]\n"
}

/// Sweeps `grid` whole into `d/whole`, then as three shards merged into `d/merged`, and
/// asserts the two wrote the same report: every file byte for byte, but for the timing and
/// the command that made it; `cells` cells in each.
fn tune_shards_merge_into_the_sweep(d: &Path, grid: &Path, cells: usize) {
    let base = [
        "tune",
        "--grid",
        s(grid),
        "--target-false-preemption",
        "0.5",
    ];
    let whole = d.join("whole");
    let mut args = base.to_vec();
    args.extend_from_slice(&["--out", s(&whole)]);
    let one = leaseproof(&args);
    let mut parts = Vec::new();
    for i in 1..=3 {
        let part = d.join(format!("part{i}"));
        let spec = format!("{i}/3");
        let mut args = base.to_vec();
        args.extend_from_slice(&["--shard", &spec, "--out", s(&part)]);
        let o = leaseproof(&args);
        assert_eq!(code(&o), 0, "{}", err(&o));
        parts.push(part);
    }
    let merged = d.join("merged");
    let o = leaseproof(&[
        "merge",
        s(&parts[0]),
        s(&parts[1]),
        s(&parts[2]),
        "--out",
        s(&merged),
    ]);
    assert_eq!(code(&o), code(&one), "{}", err(&o));
    let (a, b) = (files(&whole), files(&merged));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    let json = |bytes: &[u8]| {
        let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        v.as_object_mut().unwrap().remove("seconds");
        assert_eq!(v["cells"].as_array().unwrap().len(), cells);
        v
    };
    // Timing and the command that made it aside (the merge names its shards' command).
    let provenance = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .filter(|l| !l.contains(" s simulated each"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (name, bytes) in &a {
        if name == "data.json" {
            assert_eq!(json(bytes), json(&b[name]));
        } else if name.starts_with("index.") {
            assert_eq!(provenance(bytes), provenance(&b[name]), "{name}");
        } else {
            assert!(
                bytes == &b[name],
                "{name} differs between the sweep and the merge"
            );
        }
    }
}

#[test]
fn three_shards_of_a_tune_merge_into_exactly_its_report() {
    let d = dir("tune");
    let grid = d.join("four-cells.toml");
    std::fs::write(&grid, four_cells()).unwrap();
    tune_shards_merge_into_the_sweep(&d, &grid, 4);
    let _ = std::fs::remove_dir_all(&d);
}

/// A real system's grid shards too: its cells run by the plug-in's rules in each shard,
/// and the merge asks the plug-in again which cells it refuses (here RenewDeadline 10 s
/// against a 6 s lease: "not run", as in the whole sweep).
#[test]
fn three_shards_of_a_real_systems_tune_merge_into_exactly_its_report() {
    let d = dir("tune-k8s");
    let grid = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-k8s-grid.toml");
    tune_shards_merge_into_the_sweep(&d, &grid, 4);
    let data: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("merged/data.json")).unwrap()).unwrap();
    let skipped: Vec<&str> = data["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["skipped"].as_str())
        .collect();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(
        skipped[0].contains("leaseDuration must be greater than renewDeadline"),
        "the refused cell says why: {skipped:?}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_merge_refuses_what_is_not_one_runs_shards() {
    let d = dir("refuse");
    let shard = |spec: &str, seeds: &str, out: &str| {
        let o = leaseproof(&[
            "run",
            "scenarios/happy-path.toml",
            "--seeds",
            seeds,
            "--shard",
            spec,
            "--out",
            s(&d.join(out)),
        ]);
        assert_eq!(code(&o), 0, "{}", err(&o));
    };
    shard("1/2", "4", "a");
    shard("2/2", "4", "b");
    shard("2/2", "5", "c");
    let m = d.join("m");
    let merge = |args: &[&str], says: &str| {
        let mut all = vec!["merge"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--out", s(&m)]);
        let o = leaseproof(&all);
        assert_eq!(code(&o), 2, "{args:?}: {}", err(&o));
        assert!(err(&o).contains(says), "{args:?}: {}", err(&o));
    };
    let (a, b, c) = (d.join("a"), d.join("b"), d.join("c"));
    merge(&[s(&a)], "shard 2/2 missing");
    let a1 = a.join("shard-1-of-2.json");
    merge(&[s(&a), s(&a1), s(&b)], "shard 1/2 given twice");
    merge(&[s(&a), s(&c)], "parameters");
    let bad = d.join("bad.json");
    std::fs::write(
        &bad,
        "{\"format\": \"leaseproof-partial\", \"version\": 1, ",
    )
    .unwrap();
    merge(&[s(&a), s(&bad)], "bad.json: not a partial file");
    let text = std::fs::read_to_string(&a1).unwrap();
    let other = d.join("other-build.json");
    let build = text
        .split("\"build\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    std::fs::write(&other, text.replace(build, "another build")).unwrap();
    merge(&[s(&other), s(&b)], "the build");
    let v2 = d.join("v2.json");
    std::fs::write(&v2, text.replacen("\"version\":1", "\"version\":2", 1)).unwrap();
    merge(&[s(&v2), s(&b)], "partial file version 2");
    // Both halves merge.
    let o = leaseproof(&["merge", s(&a), s(&b), "--out", s(&m)]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    for spec in ["3/2", "0/4", "1/0", "one"] {
        let o = leaseproof(&["run", "scenarios/happy-path.toml", "--shard", spec]);
        assert_eq!(code(&o), 2, "--shard {spec}");
        assert!(err(&o).contains("--shard"), "--shard {spec}: {}", err(&o));
    }
    let o = leaseproof(&[
        "run",
        "scenarios/happy-path.toml",
        "--shard",
        "1/2",
        "--seed-base",
        "random",
    ]);
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("--seed-base random with --shard"));
    let _ = std::fs::remove_dir_all(&d);
}

/// The element and attribute table of Jenkins' JUnit schema, `junit-10.xsd`, from
/// jenkinsci/xunit-plugin (src/main/resources/org/jenkinsci/plugins/xunit/types/model/xsd/
/// junit-10.xsd at commit 031e285ef3b60dee7aaf36e9096d7dcd95ffae83; MIT, (c) 2014 Gregory
/// Boissinot): each element, its required and optional attributes, and the children it may
/// hold.
struct Element {
    name: &'static str,
    required: &'static [&'static str],
    optional: &'static [&'static str],
    children: &'static [&'static str],
    text: bool,
}

const JUNIT_10: &[Element] = &[
    Element {
        name: "testsuites",
        required: &[],
        optional: &["name", "time", "tests", "failures", "errors"],
        children: &["testsuite"],
        text: false,
    },
    Element {
        name: "testsuite",
        required: &["name", "tests", "failures", "errors"],
        optional: &[
            "group",
            "time",
            "skipped",
            "timestamp",
            "hostname",
            "id",
            "package",
            "file",
            "log",
            "url",
        ],
        children: &[
            "testsuite",
            "properties",
            "testcase",
            "system-out",
            "system-err",
        ],
        text: false,
    },
    Element {
        name: "testcase",
        required: &["name"],
        optional: &["time", "classname", "group"],
        children: &[
            "skipped",
            "error",
            "failure",
            "rerunFailure",
            "rerunError",
            "flakyFailure",
            "flakyError",
            "system-out",
            "system-err",
        ],
        text: false,
    },
    Element {
        name: "failure",
        required: &[],
        optional: &["type", "message"],
        children: &[],
        text: true,
    },
    Element {
        name: "error",
        required: &[],
        optional: &["type", "message"],
        children: &[],
        text: true,
    },
    Element {
        name: "skipped",
        required: &[],
        optional: &["type", "message"],
        children: &[],
        text: true,
    },
    Element {
        name: "properties",
        required: &[],
        optional: &[],
        children: &["property"],
        text: false,
    },
    Element {
        name: "property",
        required: &["name", "value"],
        optional: &[],
        children: &[],
        text: false,
    },
    Element {
        name: "system-out",
        required: &[],
        optional: &[],
        children: &[],
        text: true,
    },
    Element {
        name: "system-err",
        required: &[],
        optional: &[],
        children: &[],
        text: true,
    },
];

/// junit-10.xsd's SUREFIRE_TIME: `(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?`; for the
/// plain decimals leaseproof writes, digits with an optional fraction.
fn surefire_time(t: &str) -> bool {
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    int.chars().all(|c| c.is_ascii_digit()) && frac.chars().all(|c| c.is_ascii_digit())
}

/// Checks a JUnit file against the table; returns its test cases' (name, failure types).
fn valid_junit(path: &Path) -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    for node in root.descendants().filter(roxmltree::Node::is_element) {
        let name = node.tag_name().name();
        let el = JUNIT_10
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("<{name}> is not in junit-10.xsd"));
        for a in node.attributes() {
            assert!(
                el.required.contains(&a.name()) || el.optional.contains(&a.name()),
                "<{name} {}> is not in junit-10.xsd",
                a.name()
            );
            if a.name() == "time" {
                assert!(surefire_time(a.value()), "time={:?}", a.value());
            }
        }
        for r in el.required {
            assert!(
                node.attribute(*r).is_some(),
                "<{name}> lacks its required {r}"
            );
        }
        for c in node.children() {
            if c.is_element() {
                assert!(
                    el.children.contains(&c.tag_name().name()),
                    "<{name}> may not hold <{}>",
                    c.tag_name().name()
                );
            } else if c.is_text() && !el.text {
                assert!(c.text().unwrap_or("").trim().is_empty(), "text in <{name}>");
            }
        }
    }
    let cases: Vec<_> = root
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| {
            let fails = n
                .children()
                .filter(|c| c.has_tag_name("failure") || c.has_tag_name("error"))
                .map(|c| c.attribute("type").unwrap_or("").to_string())
                .collect();
            (n.attribute("name").unwrap().to_string(), fails)
        })
        .collect();
    let suite = root.first_element_child().unwrap();
    let count = |attr: &str| suite.attribute(attr).unwrap().parse::<usize>().unwrap();
    assert_eq!(count("tests"), cases.len());
    let failures = root
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .count();
    assert_eq!(count("failures"), failures);
    cases
}

#[test]
fn junit_output_of_run_and_check_fits_jenkins_schema() {
    let d = dir("junit");
    let j = d.join("run.xml");
    let o = leaseproof(&[
        "run",
        "scenarios/bugs/anchor-at-receipt.toml",
        "scenarios/bugs/check-then-act.toml",
        "--seeds",
        "3",
        "--out",
        s(&d.join("r")),
        "--junit",
        s(&j),
    ]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    let cases = valid_junit(&j);
    assert_eq!(cases.len(), 2, "one case per scenario");
    let (name, fails) = &cases[0];
    assert_eq!(name, "anchor-at-receipt");
    assert_eq!(fails, &["finds-not-found"]);
    assert!(
        cases[1].1.is_empty(),
        "check-then-act found its bug: a pass"
    );
    let text = std::fs::read_to_string(&j).unwrap();
    assert!(text.contains("oracle: lease-containment"));

    let jc = d.join("check.xml");
    let o = leaseproof(&["check", "--variant", "no-fencing", "--junit", s(&jc)]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    let cases = valid_junit(&jc);
    let fenced = cases.iter().find(|(n, _)| n == "fenced-writes").unwrap();
    assert_eq!(fenced.1, ["safety"]);
    let text = std::fs::read_to_string(&jc).unwrap();
    assert!(
        text.contains("counterexample in"),
        "the failure carries its path"
    );
    assert!(
        text.contains("<skipped"),
        "what a stopped check did not decide is skipped"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn failing_seeds_become_regression_scenarios_once() {
    let d = dir("corpus");
    let failing = failing_scenario(&d);
    let corpus = d.join("corpus");
    let save = || {
        leaseproof(&[
            "run",
            s(&failing),
            "--seeds",
            "4",
            "--out",
            s(&d.join("r")),
            "--save-failures",
            s(&corpus),
        ])
    };
    let o = save();
    assert_eq!(code(&o), 1, "{}", err(&o));
    let saved = files(&corpus);
    assert!(!saved.is_empty() && saved.len() <= 3, "{:?}", saved.keys());
    for (name, bytes) in &saved {
        let t = String::from_utf8_lossy(bytes);
        assert!(t.contains("# oracle: lease-containment"), "{name}");
        assert!(t.contains("# key: "), "{name}");
        assert!(t.contains("seed_list = ["), "{name}: the seed is pinned");
        assert!(
            t.contains("\"pause-overlapped-expiry\""),
            "{name}: its situation kept"
        );
    }
    // The same failures again: nothing new.
    let o = save();
    assert!(err(&o).contains("already in the corpus"), "{}", err(&o));
    assert_eq!(files(&corpus), saved);
    // Each saved file fails as its original did while the bug is there...
    let (name, bytes) = saved.iter().next().unwrap();
    let file = corpus.join(name);
    let run = |p: &Path| leaseproof(&["run", s(p), "--out", s(&d.join("r2"))]);
    let o = run(&file);
    assert_eq!(code(&o), 1);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("FAIL safety")
            || err(&o).contains("FAIL safety")
    );
    // ... and a copy that no longer reaches its situation (no pause) fails as vacuous, not
    // as a pass.
    let text = String::from_utf8_lossy(bytes).into_owned();
    let drifted = d.join("drifted.toml");
    let cut = text.split("[[faults.script]]").next().unwrap().to_string();
    let tail = &text[text.find("[expect]").unwrap()..];
    std::fs::write(&drifted, format!("{cut}{tail}")).unwrap();
    let o = run(&drifted);
    assert_eq!(code(&o), 1, "{}", err(&o));
    let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), err(&o));
    assert!(all.contains("vacuous"), "{all}");
    let _ = std::fs::remove_dir_all(&d);
}

/// A real system's failing seed joins the corpus too: k8s's paused leader written as a
/// regression (shrunk to its one pause, `[protocol] kind = "k8s"` kept, belief-exclusivity
/// in `always`), which fails when run, as its original finding did.
#[test]
fn a_real_systems_failing_seed_becomes_a_regression_scenario() {
    let d = dir("corpus-k8s");
    let corpus = d.join("corpus");
    let text = std::fs::read_to_string("protocols/scenarios/k8s/paused-leader.toml")
        .unwrap()
        .replace("finds = [\"belief-exclusivity\"]\n", "")
        .replace(
            "always = [\"single-holder\", \"token-monotonic\"]",
            "always = [\"single-holder\", \"token-monotonic\", \"belief-exclusivity\"]",
        );
    assert!(text.contains("\"belief-exclusivity\"]"), "{text}");
    let failing = d.join("paused-leader-always.toml");
    std::fs::write(&failing, text).unwrap();
    let o = leaseproof(&[
        "run",
        s(&failing),
        "--seeds",
        "2",
        "--out",
        s(&d.join("r")),
        "--save-failures",
        s(&corpus),
    ]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    let saved = files(&corpus);
    assert!(!saved.is_empty(), "{}", err(&o));
    let (name, bytes) = saved.iter().next().unwrap();
    let t = String::from_utf8_lossy(bytes);
    assert!(t.contains("kind = \"k8s\""), "{name}: {t}");
    assert!(t.contains("# oracle: belief-exclusivity"), "{name}");
    let o = leaseproof(&["run", s(&corpus.join(name)), "--out", s(&d.join("r2"))]);
    assert_eq!(
        code(&o),
        1,
        "the regression fails while the bug is there: {}",
        err(&o)
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_soak_saves_its_failures_and_resumes_where_it_stopped() {
    let d = dir("soak");
    let failing = failing_scenario(&d);
    let state = d.join("state.json");
    let corpus = d.join("corpus");
    let soak = |more: &[&str]| {
        let mut args = vec![
            "soak",
            s(&failing),
            "--minutes",
            "0.005",
            "--batch",
            "4",
            "--state",
            s(&state),
            "--save-failures",
            s(&corpus),
        ];
        args.extend_from_slice(more);
        leaseproof(&args)
    };
    let o = soak(&["--seed-base", "100"]);
    assert_eq!(code(&o), 1, "the bug fails some seed: {}", err(&o));
    assert!(err(&o).contains("time is up"), "{}", err(&o));
    let read = || -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap()
    };
    let first = read();
    assert_eq!(first["seed_base"], 100);
    let ran = first["seeds_run"].as_u64().unwrap();
    assert!(ran >= 4 && ran % 4 == 0, "{first}");
    assert!(!first["failures"].as_array().unwrap().is_empty());
    assert!(!files(&corpus).is_empty(), "failures saved");
    let o = soak(&["--resume"]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    let second = read();
    assert_eq!(second["seed_base"], 100, "a resumed soak keeps its seeds");
    assert!(second["seeds_run"].as_u64().unwrap() > ran);
    assert!(second["round"].as_u64().unwrap() > first["round"].as_u64().unwrap());
    // A resume of other scenarios, or of no state, is refused.
    let o = leaseproof(&[
        "soak",
        "scenarios/happy-path.toml",
        "--minutes",
        "0.01",
        "--resume",
        "--state",
        s(&state),
    ]);
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("the scenarios changed"));
    let o = leaseproof(&["soak", "--minutes", "-1"]);
    assert_eq!(code(&o), 2);
    let _ = std::fs::remove_dir_all(&d);
}
