//! The command line keeps the exit codes of docs/design.md: 0 held, 1 safety (or finds not found),
//! 2 bad input, 3 liveness; and `replay` refuses a scenario whose hash changed.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{code, leaseproof};

fn temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("leaseproof-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs `args`, which must be refused as bad input (exit 2) with `says` in the error;
/// returns the error text.
fn refused(args: &[&str], says: &str) -> String {
    let o = leaseproof(args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(code(&o), 2, "{args:?}: {err}");
    assert!(err.contains(says), "{args:?}: {err}");
    err
}

/// `leaseproof real ARGS --out DIR`, each call its own report folder (tests run at once).
fn real(args: &[&str]) -> Output {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = format!("{}-real-{n}", out_dir());
    let mut all = vec!["real"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", &out]);
    let o = leaseproof(&all);
    let _ = std::fs::remove_dir_all(&out);
    o
}

fn out_dir() -> String {
    std::env::temp_dir()
        .join(format!("leaseproof-cli-out-{}", std::process::id()))
        .display()
        .to_string()
}

#[test]
fn a_passing_scenario_exits_0_with_json() {
    let o = leaseproof(&[
        "run",
        "scenarios/happy-path.toml",
        "--seeds",
        "3",
        "--json",
        "--out",
        &out_dir(),
    ]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    let sc = &doc["scenarios"][0];
    assert_eq!(sc["name"], "happy-path");
    assert_eq!(sc["seeds"], 3);
    assert_eq!(sc["passed"], 3);
    assert!(sc["failures"].as_array().unwrap().is_empty());
    assert!(sc["metrics"]["grants"].as_u64().unwrap() > 0);
    // The lock-lifecycle metrics, for every scenario.
    let m = &sc["metrics"];
    for k in ["acquisition", "hold", "renewal_slack"] {
        assert!(m[k]["n"].as_u64().unwrap() > 0, "{k}: {m}");
        assert!(m[k]["p50_ms"].is_number() && m[k]["p99_ms"].is_number());
    }
    assert!(m["renewal_success"]["rate"].as_f64().unwrap() > 0.9);
    assert!(m["expirations"].is_u64() && m["token_mismatches"].is_u64());
    assert!(sc["warnings"].as_array().unwrap().is_empty());
}

#[test]
fn a_broken_protocol_exits_1_and_names_the_replay() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/swarm.toml"))
            .unwrap()
            .replace("[protocol]", "[protocol]\nvariant = \"no-fencing\"");
    let p = temp("nofence.toml", &text);
    let o = leaseproof(&[
        "run",
        p.to_str().unwrap(),
        "--seeds",
        "10",
        "--json",
        "--out",
        &out_dir(),
    ]);
    assert_eq!(code(&o), 1);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = &doc["scenarios"][0]["failures"][0];
    assert_eq!(f["oracle"], "fenced-writes");
    assert_eq!(f["class"], "safety");
    let replay = f["replay"].as_str().unwrap();
    assert!(
        replay.contains("--seed") && replay.contains("--hash"),
        "{replay}"
    );
}

#[test]
fn vacuous_and_finds_not_found_are_their_own_verdicts() {
    // A `sometimes` label no seed reaches, and a `finds` no seed trips: each scenario fails
    // with exit 1, and the table, the JSON and the closing line name which of the two it was
    // (both used to read "FAIL safety").
    let happy = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/happy-path.toml"),
    )
    .unwrap();
    assert!(
        happy.contains("[expect]"),
        "happy-path.toml has an [expect] table"
    );
    for (name, extra, class, label) in [
        (
            "vacuous.toml",
            "sometimes = [\"server-crashed\"]",
            "vacuous",
            "FAIL vacuous",
        ),
        (
            "notfound.toml",
            "finds = [\"exactly-once\"]",
            "finds-not-found",
            "FAIL finds-not-found",
        ),
    ] {
        let text = happy.replace("[expect]", &format!("[expect]\n{extra}"));
        let text = text
            .lines()
            .filter(|l| !l.starts_with("sometimes") || l.contains("server-crashed"))
            .collect::<Vec<_>>()
            .join("\n");
        let p = temp(name, &text);
        let args = [
            "run",
            p.to_str().unwrap(),
            "--seeds",
            "2",
            "--out",
            &out_dir(),
        ];
        let o = leaseproof(&args);
        assert_eq!(
            code(&o),
            1,
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let table = String::from_utf8_lossy(&o.stdout);
        assert!(table.contains(&format!("| {label} |")), "{name}: {table}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&format!("FAIL {class}: ")), "{name}: {err}");
        assert!(err.contains("exit 1: "), "{name}: {err}");
        assert!(
            !err.contains("rendering the timelines"),
            "{name}: no seed failed: {err}"
        );
        let o = leaseproof(&[&args[..], &["--json"]].concat());
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let sc = &doc["scenarios"][0];
        assert_eq!(sc["verdict"], class, "{name}");
        assert_eq!(sc["failures"][0]["class"], class, "{name}");
    }
}

#[test]
fn bad_input_exits_2_with_file_line_and_field() {
    let p = temp(
        "bad.toml",
        "seeds = 3\n[cluster]\nclients = 3\nlatency = [1, 2]\n",
    );
    let o = leaseproof(&["run", p.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.toml:4:1: latency: unknown field"),
        "{err}"
    );
    assert_eq!(code(&leaseproof(&["run", "no/such/file.toml"])), 2);
    assert_eq!(code(&leaseproof(&["run", "--seeds", "nope"])), 2);
    assert_eq!(code(&leaseproof(&["frobnicate"])), 2);
    // A plug-in's scenario is refused by the binary, which runs the reference protocol:
    // the field is the kind, and the message says where such a file runs.
    let o = leaseproof(&["run", "examples/naive-lock/scenarios/synced.toml"]);
    assert_eq!(code(&o), 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("synced.toml:18:8: protocol.kind: unknown variant `naive-lock`")
            && err.contains("its own crate"),
        "{err}"
    );
}

#[test]
fn replay_prints_plan_timeline_and_hash_and_refuses_a_changed_scenario() {
    let o = leaseproof(&["replay", "scenarios/pause-past-expiry.toml", "--seed", "3"]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("plan for seed 3"));
    assert!(
        text.contains("pause client-"),
        "the aimed pause is resolved in the plan"
    );
    assert!(text.contains("trace hash: "));
    // The config and every event as a reader would write them, not Rust Debug dumps; each
    // timer with the reason `poll_timeout` gave for it.
    assert!(text.contains("  lease: ttl "), "{text}");
    assert!(
        text.contains("granted token 1 on key k0 to client-"),
        "{text}"
    );
    assert!(text.contains("server expiry +"), "{text}");
    assert!(text.contains("timer fired: renew"), "{text}");
    for debug in ["Identity {", "NodeId(", "Granted {", "Config {"] {
        assert!(!text.contains(debug), "{debug} in {text}");
    }
    // The JSONL trace keeps the structured event and message.
    let jsonl = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/runs/pause-past-expiry-3.jsonl"),
    )
    .unwrap();
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines
        .iter()
        .any(|l| l["event"]["Granted"]["token"].is_u64()));
    let o = leaseproof(&[
        "replay",
        "scenarios/pause-past-expiry.toml",
        "--seed",
        "3",
        "--hash",
        "00000000",
    ]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("refusing to replay"));
}

/// A real system's seed replays from the binary too: the paused-leader finding's seed 0
/// shows its plan, client-go's config, the two leaders and a trace; the run's failure
/// lines name this command; `--shrink` shrinks it to the one pause that matters.
#[test]
fn replay_takes_a_real_systems_seed() {
    let path = "protocols/scenarios/k8s/paused-leader.toml";
    let o = leaseproof(&["replay", path, "--seed", "0"]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("variant client-go"), "{text}");
    assert!(text.contains("  renew_deadline_ms = 10000"), "{text}");
    assert!(text.contains("plan for seed 0"), "{text}");
    assert!(
        text.contains("violation at") && text.contains("belief-exclusivity"),
        "{text}"
    );
    assert!(text.contains("trace hash: "), "{text}");
    // Events as a reader would write them, not Rust Debug dumps.
    assert!(text.contains("acts (ghost tenure 1)"), "{text}");
    assert!(!text.contains("Identity {"), "{text}");
    // `--shrink` cuts its random pauses to the one that matters and writes the scripted
    // scenario (run from a scratch directory: it writes reports/shrunk/ where it runs).
    let dir = std::env::temp_dir().join(format!("leaseproof-shrink-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let abs = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_leaseproof"))
        .args(["replay", abs.to_str().unwrap(), "--seed", "0", "--shrink"])
        .current_dir(&dir)
        .output()
        .expect("the binary runs");
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 0, "{text}{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        text.contains("1 of 1 fault events still trip belief-exclusivity"),
        "{text}"
    );
    let shrunk = dir.join("reports/shrunk/paused-leader-0-shrunk.toml");
    let written = std::fs::read_to_string(&shrunk).expect("the shrunk scenario");
    assert!(written.contains("kind = \"k8s\""), "{written}");
    assert!(text.contains("variant client-go"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two cells (TTL 2 s and 4 s) of a small scenario with pauses.
const GRID: &str = include_str!("fixtures/tiny-grid.toml");

#[test]
fn tune_writes_a_report_and_says_when_no_ttl_meets_the_target() {
    let grid = temp("tiny-grid.toml", GRID);
    let out = format!("{}-tune", out_dir());
    // Pauses of 1-6 s against leases of 2-4 s: a 0.5 false-preemption target is out of reach.
    let o = leaseproof(&[
        "tune",
        "--grid",
        grid.to_str().unwrap(),
        "--target-false-preemption",
        "0.5",
        "--out",
        &out,
        "--json",
    ]);
    assert_eq!(code(&o), 1, "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(doc["cells"].as_array().unwrap().len(), 2);
    let rec = &doc["recommendations"][0];
    assert!(rec["ttl_ms"].is_null());
    assert!(rec["explanation"]
        .as_str()
        .unwrap()
        .contains("NO swept TTL"));
    for f in [
        "index.html",
        "index.md",
        "data.csv",
        "data.json",
        "failover.svg",
    ] {
        assert!(Path::new(&out).join(f).is_file(), "{f} written");
    }
    // The same grid, a target 6 seeds cannot measure: refused before anything runs.
    let o = leaseproof(&[
        "tune",
        "--grid",
        grid.to_str().unwrap(),
        "--target-false-preemption",
        "0.1",
    ]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("unmeasurable"));
    let o = leaseproof(&["tune", "--preset", "nope"]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("k8s"));
}

#[test]
fn a_job_workload_reports_its_dead_letter_list() {
    let out = format!("{}-jobs", out_dir());
    let o = leaseproof(&[
        "run",
        "scenarios/exactly-once.toml",
        "--seeds",
        "3",
        "--json",
        "--out",
        &out,
    ]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    let sc = &doc["scenarios"][0];
    let dead: Vec<(String, u64)> = sc["dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["key"].as_str().unwrap().to_string(),
                d["seeds"].as_u64().unwrap(),
            )
        })
        .collect();
    // The two poison jobs, in every seed; every other job applied once per seed.
    assert_eq!(
        dead,
        vec![
            ("inventory-sku-9".to_string(), 3),
            ("email-18".to_string(), 3)
        ]
    );
    assert_eq!(sc["metrics"]["jobs_applied"], 30);
    assert_eq!(sc["metrics"]["job_rejections"], 3 * 2 * 3);
    let md = std::fs::read_to_string(Path::new(&out).join("run.md")).unwrap();
    assert!(
        md.contains("Dead-letter list") && md.contains("`email-18`"),
        "{md}"
    );
}

#[test]
fn check_exits_0_when_every_property_holds_with_json() {
    let o = leaseproof(&[
        "check",
        "--max-time",
        "2",
        "--crashes",
        "0",
        "--threads",
        "1",
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(doc["complete"], true);
    assert!(doc["unique"].as_u64().unwrap() > 0);
    assert_eq!(doc["properties"]["single-holder"]["holds"], true);
    assert_eq!(
        doc["properties"]["renewal confirmed"]["expectation"],
        "sometimes"
    );
}

#[test]
fn check_exits_1_on_a_safety_counterexample() {
    // A variant brings the bounds at which the catalog finds its bug.
    let o = leaseproof(&["check", "--variant", "no-fencing", "--json"]);
    assert_eq!(code(&o), 1, "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    let p = &doc["properties"]["fenced-writes"];
    assert_eq!(p["holds"], false);
    assert!(!p["trace"].as_array().unwrap().is_empty());
    assert_eq!(doc["complete"], false, "it stopped at the first failure");
}

#[test]
fn check_exits_3_on_a_deadlock() {
    // The deadlock oracle is a liveness oracle (docs/design.md, "Exit codes").
    let o = leaseproof(&["check", "--variant", "lock-order-inversion"]);
    assert_eq!(code(&o), 3, "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("no wait-for cycle (deadlock)"), "{text}");
    assert!(
        text.contains("FAILS") && text.contains("counterexample"),
        "{text}"
    );
    assert!(text.contains("stopped at the first failure"), "{text}");
}

#[test]
fn check_refuses_bounds_that_explode_with_exit_2() {
    refused(&["check", "--clients", "9"], "--clients 9");
}

#[test]
fn check_names_its_protocol_and_refuses_an_unknown_one() {
    let err = refused(&["check", "--protocol", "etcd"], "--protocol");
    assert!(err.contains("etcd") && err.contains("reference"), "{err}");
}

/// A real system's named checks from the binary: the default one holds and reaches its
/// coverage (exit 0), one beyond the envelope finds its counterexample (exit 1), and a
/// check another system has is refused naming this one's (exit 2).
#[test]
fn check_runs_a_real_systems_named_checks() {
    let o = leaseproof(&["check", "--protocol", "k8s"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 0, "{out}");
    for kind in leaseproof_protocols::checks::REACH {
        assert!(out.contains(&format!("reached     {kind}")), "{out}");
    }
    let o = leaseproof(&["check", "--protocol", "k8s", "--variant", "paused"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 1, "{out}");
    assert!(out.contains("REFUTED     belief-exclusivity"), "{out}");
    let err = refused(
        &[
            "check",
            "--protocol",
            "dynamodb",
            "--variant",
            "longest-wait",
        ],
        "--variant",
    );
    assert!(
        err.contains(
            "correct, paused, counter-rvn-deleted, counter-rvn-kept, slow-holder-clock, \
             hold-on-unavailable"
        ),
        "{err}"
    );
}

/// `run` takes a real system's scenarios as it takes the reference protocol's (same
/// table, reports and timelines), and refuses a run that mixes protocols.
#[test]
fn run_takes_a_real_systems_scenarios() {
    let out = format!("{}-k8s-run", out_dir());
    let o = leaseproof(&[
        "run",
        "protocols/scenarios/k8s/paused-leader.toml",
        "--seeds",
        "8",
        "--out",
        &out,
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        code(&o),
        0,
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("paused-leader"), "{stdout}");
    assert!(stdout.contains("belief-exclusivity (seed"), "{stdout}");
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{out}/run.json")).unwrap()).unwrap();
    assert_eq!(run["scenarios"][0]["variant"], "client-go", "{run}");
    let _ = std::fs::remove_dir_all(&out);
    let err = refused(
        &[
            "run",
            "protocols/scenarios/k8s/paused-leader.toml",
            "scenarios/happy-path.toml",
        ],
        "one run takes one protocol",
    );
    assert!(err.contains("happy-path.toml"), "{err}");
}

#[test]
fn check_all_protocols_checks_each_and_writes_one_report() {
    let report = format!("{}-all-protocols.json", out_dir());
    let o = leaseproof(&[
        "check",
        "--all-protocols",
        "--max-time",
        "2",
        "--crashes",
        "0",
        "--threads",
        "1",
        "--report",
        &report,
    ]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&report).unwrap();
    let _ = std::fs::remove_file(&report);
    let j: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(j["command"]
        .as_str()
        .unwrap()
        .starts_with("leaseproof check --all-protocols"));
    let names: Vec<&str> = j["protocols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["protocol"].as_str().unwrap())
        .collect();
    let known: Vec<&str> = leaseproof_impl::ProtocolKind::ALL
        .iter()
        .map(|k| k.name())
        .chain(leaseproof_protocols::checks::PROTOCOLS)
        .collect();
    assert_eq!(names, known, "every protocol, in order");
    for p in j["protocols"].as_array().unwrap() {
        assert_eq!(p["verdict"], "pass", "{p}");
        // The reference protocol's check at the given bounds; a real system's default
        // check at its own.
        let unique = p["check"]["unique"]
            .as_u64()
            .or_else(|| p["plugin"]["unique_states"].as_u64());
        assert!(unique.unwrap() > 0, "{p}");
    }
    // One protocol or all: not both.
    refused(
        &["check", "--all-protocols", "--protocol", "reference"],
        "--protocol",
    );
}

#[test]
fn a_closed_check_says_closed_and_what_every_run_means() {
    let o = leaseproof(&[
        "check",
        "--closed",
        "--clients",
        "1",
        "--crashes",
        "0",
        "--no-pauses",
        "--drift-moves",
        "0",
        "--threads",
        "1",
    ]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("(closed: no new state appears)"), "{text}");
    assert!(
        text.contains("closed: every run of any length in which messages are delivered within 1"),
        "{text}"
    );
    assert!(
        text.contains("fingerprint collisions: at most about"),
        "{text}"
    );
}

#[test]
fn a_closed_check_refuses_what_cannot_close_with_exit_2() {
    // Each refusal names the flag and why.
    for (args, says) in [
        (&["--closed", "--max-time", "4"][..], "--max-time"),
        (&["--closed", "--max-pause", "0"][..], "--max-pause 0"),
        (
            &["--closed", "--variant", "volatile-counter"][..],
            "volatile-counter variant resets its token counter",
        ),
        (&["--closed", "--keys", "2"][..], "a lock set (--keys 2)"),
    ] {
        refused(&[&["check"][..], args].concat(), says);
    }
}

#[test]
fn fault_model_flags_refuse_bad_values_with_exit_2() {
    // Each refusal names the flag and why.
    for (args, says) in [
        (&["--rate-skew", "2/3"][..], "--rate-skew \"2/3\""),
        (&["--rate-skew", "1/0"][..], "--rate-skew \"1/0\""),
        (
            &["--rate-skew", "1/3", "--drift-moves", "0"][..],
            "needs clocks that drift",
        ),
        (&["--margin", "3"][..], "--margin 3"),
    ] {
        refused(&[&["check"][..], args].concat(), says);
    }
    // Crash points decide the new variant's verdict: found with them, not without.
    let o = leaseproof(&["check", "--variant", "grant-before-persist"]);
    assert_eq!(code(&o), 1);
    let o = leaseproof(&[
        "check",
        "--variant",
        "grant-before-persist",
        "--no-crash-points",
    ]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn check_help_lists_every_variant() {
    let o = leaseproof(&["check", "--help"]);
    assert_eq!(code(&o), 0);
    let help = String::from_utf8_lossy(&o.stdout);
    for &v in leaseproof_impl::Variant::ALL {
        assert!(
            help.contains(v.name()),
            "{} missing from:\n{help}",
            v.name()
        );
    }
    let o = leaseproof(&["check", "--variant", "no-such-bug"]);
    assert_eq!(code(&o), 2, "an unknown variant is a usage error");
}

#[test]
fn check_flags_override_a_variants_bounds() {
    // drift-ignored's bug needs time past the validity span: one tick is too short.
    let o = leaseproof(&["check", "--variant", "drift-ignored", "--max-time", "1"]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("variant drift-ignored, max-time 1 ticks"),
        "{text}"
    );
    let o = leaseproof(&["check", "--variant", "drift-ignored"]);
    assert_eq!(code(&o), 1, "at its catalog bounds the bug shows");
}

const REAL_SCALED: &str = include_str!("../real/scenarios/pause-past-expiry-1s.toml");

#[test]
fn a_real_cluster_of_processes_holds_and_finds_check_then_act() {
    // Five `leaseproof serve` processes on loopback; the holder stopped (SIGSTOP) past its
    // lease, then the server killed and restarted on its data dir. Each run lasts its
    // scenario's 6 s; the processes die with the test (a parent-death signal).
    let o = real(&["real/scenarios/pause-past-expiry-1s.toml"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 0, "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("every safety oracle held"), "{out}");
    assert!(
        out.contains("1 server restarts"),
        "the crash was played: {out}"
    );
    // The same faults with the check-then-act bug: a write decided before the stop is
    // carried out after it, outside the lease.
    let buggy = REAL_SCALED
        .replace("think_ms = 200", "think_ms = 200\nvariant = \"check-then-act\"")
        .replace(
            "always = [\"single-holder\", \"token-monotonic\", \"fenced-writes\", \"lease-containment\", \"liveness\"]",
            "finds = [\"lease-containment\"]",
        );
    let path = temp("real-check-then-act.toml", &buggy);
    let o = real(&[path.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 0, "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("seed 0: lease-containment"), "{out}");
}

#[test]
fn a_real_cluster_plays_network_faults_through_the_fault_proxy() {
    // The holder isolated past its lease by the proxy: its frames are dropped both ways,
    // it loses its lease, another client takes over, and every safety oracle holds.
    let dir = format!("{}-real-partition", out_dir());
    let o = leaseproof(&[
        "real",
        "real/scenarios/holder-partitioned-1s.toml",
        "--out",
        &dir,
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 0, "{out}{}", String::from_utf8_lossy(&o.stderr));
    // The same reports as `run` writes, with the real run's timeline.
    let md = std::fs::read_to_string(format!("{dir}/run.md")).expect("run.md");
    assert!(md.contains("Written by `leaseproof real`"), "{md}");
    let html = std::fs::read_to_string(format!("{dir}/index.html")).expect("index.html");
    assert!(
        html.contains("Written by <code>leaseproof real</code>"),
        "the page names its author"
    );
    let json = std::fs::read_to_string(format!("{dir}/run.json")).expect("run.json");
    assert!(json.contains("\"failover\""), "{json}");
    let svg = std::fs::read_to_string(format!("{dir}/timelines/holder-partitioned-1s-0.svg"))
        .expect("the run's timeline");
    assert!(
        svg.contains("<svg") && svg.contains("partition"),
        "a timeline with the partition shaded"
    );
    std::fs::remove_dir_all(&dir).expect("remove the reports");
    assert!(out.contains("every safety oracle held"), "{out}");
    let dropped = number_before(&out, " dropped on cut links");
    assert!(dropped > 0, "the partition dropped nothing: {out}");
    assert!(number_before(&out, " leases lost") > 0, "{out}");
    // Loss, duplication, reordering and garbage frames.
    let o = real(&["real/scenarios/lossy-duplicating-1s.toml"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 0, "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(number_before(&out, " frames lost") > 0, "{out}");
    assert!(number_before(&out, " duplicated") > 0, "{out}");
}

#[test]
fn the_real_server_killed_20_times_keeps_its_tokens_and_a_store_that_skips_sync_does_not() {
    // kill -9 of the server 20 times (and of the resource every fourth cycle) while 5
    // clients contend, on redb: every oracle holds, every killed node's disk holds what its
    // log claimed, and every client is served after the last restart. About 15 s each.
    let o = real(&["real/scenarios/server-kill-20.toml"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 0, "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("every disk kept what its log claimed"),
        "{out}"
    );
    assert_eq!(number_before(&out, " server restarts"), 20, "{out}");
    assert!(
        out.contains("served after the server's last restart: 5 of 5 clients"),
        "{out}"
    );
    // The same kills over a store that reaches the disk at random points only (30 % of
    // batches): kill -9 then loses what the page cache would have kept, and the run says so.
    let o = real(&[
        "real/scenarios/server-kill-20.toml",
        "--store-sync-ratio",
        "0.3",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 1, "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("durability: server: killed with its disk's token counter"),
        "{out}"
    );
    assert!(
        out.contains("always broken by a real run: token-monotonic"),
        "{out}"
    );
}

/// Processes whose command line contains `marker`.
fn processes_with(marker: &str) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|cmd| String::from_utf8_lossy(cmd).contains(marker))
        .count()
}

/// Polls `done` every 50 ms, at most `limit / 50 ms` times (a hang guard, not a timing
/// assertion; counted, so it reads no clock).
fn wait_for(limit: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    let step = std::time::Duration::from_millis(50);
    for _ in 0..limit.as_millis() / step.as_millis() {
        if done() {
            return true;
        }
        std::thread::sleep(step);
    }
    done()
}

#[test]
fn a_real_run_stopped_by_ctrl_c_leaves_no_process_behind() {
    let out = format!("{}-real-ctrl-c", out_dir());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_leaseproof"))
        .args(["real", "real/scenarios/happy-path-1s.toml", "--out", &out])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start leaseproof real");
    // Its nodes' data dirs carry the supervisor's pid.
    let marker = format!("leaseproof-real-{}-", child.id());
    let started = wait_for(std::time::Duration::from_secs(20), || {
        processes_with(&marker) >= 5
    });
    // SAFETY: kill with the pid of a child this test started.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let ended = wait_for(std::time::Duration::from_secs(10), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !ended {
        let _ = child.kill();
        let _ = child.wait();
    }
    let gone = wait_for(std::time::Duration::from_secs(10), || {
        processes_with(&marker) == 0
    });
    let _ = std::fs::remove_dir_all(&out);
    assert!(started, "the cluster's five nodes started");
    assert!(ended, "the supervisor ended on SIGINT");
    assert!(
        gone,
        "{} node process(es) outlived the supervisor",
        processes_with(&marker)
    );
}

/// The number printed just before `what` in `text`.
fn number_before(text: &str, what: &str) -> u64 {
    let at = text
        .find(what)
        .unwrap_or_else(|| panic!("{what:?} in {text}"));
    let digits: String = text[..at]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .chars()
        .rev()
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("a number before {what:?} in {text}"))
}

#[test]
fn a_real_run_refuses_a_fault_it_cannot_play_with_exit_2() {
    let err = refused(
        &["real", "scenarios/lossy-duplicating.toml"],
        "cluster.buggify",
    );
    assert!(err.contains("only inside the simulator"), "{err}");
    let err = refused(
        &["real", "scenarios/stalled-holder.toml"],
        "faults.script[0]",
    );
    assert!(err.contains("stall"), "{err}");
    // A data dir of this test's own (a fixed path could be a file left by anything).
    let data = std::env::temp_dir().join(format!("leaseproof-cli-data-{}", std::process::id()));
    let data = data.to_str().expect("a path");
    let serve = [
        "serve",
        "--scenario",
        "scenarios/happy-path.toml",
        "--data-dir",
        data,
    ];
    refused(&[&serve[..], &["client-9"]].concat(), "client-9");
    // An address in use, and a data dir that cannot be made (under a file).
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = taken.local_addr().expect("an address").to_string();
    let dir = temp("serve-data", "")
        .parent()
        .expect("a temp dir")
        .join("serve-data-dir");
    let dir = dir.to_str().expect("a path");
    refused(
        &[
            "serve",
            "server",
            "--scenario",
            "scenarios/happy-path.toml",
            "--data-dir",
            dir,
            "--listen",
            &addr,
        ],
        "cannot bind",
    );
    refused(
        &[
            "serve",
            "server",
            "--scenario",
            "scenarios/happy-path.toml",
            "--data-dir",
            "Cargo.toml/x",
        ],
        "--data-dir",
    );
    refused(
        &[&serve[..], &["server", "--store-sync-ratio", "2"]].concat(),
        "--store-sync-ratio",
    );
    refused(
        &[&serve[..], &["client-0", "--peer", "server=10.0.0.1:7000"]].concat(),
        "loopback",
    );
    refused(
        &[&serve[..], &["client-0", "--peer", "nobody=127.0.0.1:7000"]].concat(),
        "--peer",
    );
    refused(
        &[&serve[..], &["server", "--send-delay-ms", "9,1"]].concat(),
        "--send-delay-ms",
    );
    // The agreement's file: missing, and a tolerance out of range, each named.
    refused(
        &["agree", "--config", "no/such/agree.toml"],
        "no/such/agree.toml",
    );
    let bad = std::fs::read_to_string("real/agree.toml")
        .expect("real/agree.toml")
        .replace("confidence = 0.95", "confidence = 1.5");
    let bad = temp("agree-bad.toml", &bad);
    refused(
        &["agree", "--config", bad.to_str().expect("a path")],
        "tolerance.confidence",
    );
    refused(
        &[&serve[..], &["server", "--listen", "10.0.0.1:0"]].concat(),
        "loopback",
    );
}

#[test]
fn check_says_when_liveness_lies_beyond_the_protocols_assumptions() {
    // A waiter's refreshes reach the server requeue 2 + 2 × delay 1 + 1 drift move apart,
    // not inside the default fresh window of 3: the verdict says so and names the flags
    // that bring it back; with them the line is gone.
    let o = leaseproof(&["check", "--liveness", "--clients", "1", "--max-time", "2"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(
            "liveness: beyond the assumptions: --fresh-window 3 is not above a queued waiter's \
             refresh spacing at the server, requeue 2 + 2 × --max-delay 1 + 1 for drift moves \
             = 5 ticks"
        ) && text.contains("--fresh-window 6 --ttl 9 is within"),
        "{text}"
    );
    let o = leaseproof(&[
        "check",
        "--liveness",
        "--clients",
        "1",
        "--max-time",
        "2",
        "--ttl",
        "9",
        "--fresh-window",
        "6",
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert!(doc.get("liveness_beyond").is_none(), "{doc}");
    refused(
        &["check", "--ttl", "7", "--fresh-window", "5"],
        "--ttl 7 --fresh-window 5",
    );
}
