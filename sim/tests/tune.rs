//! Grid files, a small sweep end to end, and the rendered reports and timeline: every file
//! parses as XML and carries the series it should.

use leaseproof_sim::run::{run_seed_isolated, RunOptions};
use leaseproof_sim::run_report;
use leaseproof_sim::scenario::Scenario;
use leaseproof_sim::tune::{self, GridFile, TuneOptions, PRESETS};
use leaseproof_sim::tune_report;
use leaseproof_sim::verdict::{judge, run_many};
use std::path::Path;

fn grid(text: &str) -> Result<GridFile, leaseproof_sim::scenario::ScenarioError> {
    GridFile::parse(Path::new("scenarios/tune/t.toml"), text)
}

const SMALL: &str = r#"
description = "two TTLs, fencing on and off"
duration_ms = 20_000
liveness = false

[cluster]
clients = 2

[protocol]
ttl_ms = 2_000
renew_interval_ms = 500
hold_ms = 8_000
think_ms = 500
write_interval_ms = 200
fresh_window_ms = 500
requeue_interval_ms = 200

[faults.random]
events = 4
kinds = ["pause"]
swarm = false
pause_ms = [1_000, 6_000]

[grid]
ttl_ms = [2_000, 4_000]
fencing = [true, false]
"#;

#[test]
fn every_preset_parses_and_the_real_systems_sweep_their_own_rules_beside_the_reference() {
    for (name, _) in PRESETS {
        let g = GridFile::preset(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!g.cells().is_empty(), "{name}");
    }
    // k8s: LeaseDuration 3 x RetryPeriod 2 x RenewDeadline 2 x pause 3 x rate skew 2 of
    // client-go's rules, and the reference protocol at each (TTL, renew, pause, skew): it
    // has no deadline, so one reference cell stands beside both deadlines.
    let k8s = GridFile::preset("k8s").expect("k8s");
    let cells = k8s.cells();
    assert_eq!(cells.len(), 108);
    let plugin: Vec<_> = cells
        .iter()
        .filter_map(|(c, run)| match run {
            Ok(tune::CellRun::Plugin(p)) => Some((c, p)),
            _ => None,
        })
        .collect();
    assert_eq!(plugin.len(), 72);
    assert!(plugin
        .iter()
        .all(|(c, p)| c.protocol == "k8s" && p.kind == "k8s"));
    // Each plug-in cell's text sets the fields the grid names to the cell's values.
    let (c, p) = plugin[0];
    for (field, v) in [
        ("lease_duration_ms", c.ttl_ms),
        ("retry_period_ms", c.renew_ms),
        ("renew_deadline_ms", c.deadline_ms),
    ] {
        assert!(
            p.text.contains(&format!("{field} = {v}")),
            "{field}: {}",
            p.text
        );
    }
    let reference: Vec<_> = cells
        .iter()
        .filter(|(c, _)| c.protocol == "reference")
        .collect();
    assert_eq!(reference.len(), 36);
    assert!(reference.iter().all(|(c, run)| c.deadline_ms == 0
        && c.fencing
        && matches!(run, Ok(tune::CellRun::Reference(sc))
            if sc.file.protocol.hold_ms == 120_000
                && sc.file.protocol.ttl_ms == c.ttl_ms
                && sc.file.protocol.drift_ppm_max >= c.drift_ppm)));
    // DynamoDB: lease 3 x heartbeat 2 x pause 3, each beside the reference.
    let dynamo = GridFile::preset("dynamodb").expect("dynamodb").cells();
    assert_eq!(dynamo.len(), 36);
    assert_eq!(
        dynamo
            .iter()
            .filter(|(c, _)| c.protocol == "dynamodb")
            .count(),
        18
    );
    assert!(GridFile::preset("nope").unwrap_err().contains("k8s"));
}

#[test]
fn a_real_systems_grid_names_its_fields_and_its_protocols() {
    let k8s = PRESETS.iter().find(|p| p.0 == "k8s").expect("k8s").1;
    let e = grid(&k8s.replace("ttl_ms = \"lease_duration_ms\"\n", "")).unwrap_err();
    assert_eq!(e.field, "grid.fields", "{e}");
    assert!(e.reason.contains("fields.ttl_ms"), "{e}");
    let e = grid(&k8s.replace(
        "protocol = [\"k8s\", \"reference\"]",
        "protocol = [\"k8s\", \"etcd\"]",
    ))
    .unwrap_err();
    assert_eq!(e.field, "grid.protocol", "{e}");
    let e = grid(&k8s.replace("[grid.reference]\n", "[grid.reference]\nholdms = 1\n")).unwrap_err();
    assert_eq!(e.field, "grid.reference", "{e}");
    assert!(e.reason.contains("holdms"), "{e}");
    let e = grid(&format!("{SMALL}renew_deadline_ms = [5_000]\n")).unwrap_err();
    assert_eq!(e.field, "grid.renew_deadline_ms", "{e}");
}

#[test]
fn bad_grid_files_name_the_field() {
    let e =
        grid(&SMALL.replace("fencing = [true, false]", "fencing = [true]\nttl = [1]")).unwrap_err();
    assert_eq!(e.field, "grid", "{e}");
    assert!(e.reason.contains("ttl"), "{e}");
    assert_eq!(e.line, SMALL.lines().count() + 1, "{e}");

    let e = grid(&SMALL.replace("ttl_ms = [2_000, 4_000]", "ttl_ms = []")).unwrap_err();
    assert_eq!(e.field, "grid.ttl_ms", "{e}");

    let e = grid(&format!(
        "{SMALL}renew_interval_ms = [1]\nrenew_ratio = [0.3]\n"
    ))
    .unwrap_err();
    assert_eq!(e.field, "grid.renew_ratio", "{e}");

    let e = grid(&format!("{SMALL}pause_ms = [[5, 1]]\n")).unwrap_err();
    assert!(e.reason.contains("empty range"), "{e}");

    let e = grid(&format!("{SMALL}renew_interval_ms = [9_000]\n")).unwrap_err();
    assert_eq!(e.field, "grid", "{e}");
    assert!(e.reason.contains("no cell can run"), "{e}");

    let e = grid(&SMALL.replace(
        "[grid]\nttl_ms = [2_000, 4_000]\nfencing = [true, false]\n",
        "",
    ))
    .unwrap_err();
    assert!(e.reason.contains("[grid]"), "{e}");

    let e = grid(&SMALL.replace("clients = 2", "clients = 2\nnodes = 3")).unwrap_err();
    assert!(e.reason.contains("nodes"), "{e}");
    assert!(tune::check_target(0.001, 200).is_err());
}

fn well_formed<'a>(what: &str, text: &'a str) -> roxmltree::Document<'a> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(text, opts)
        .unwrap_or_else(|e| panic!("{what} is not well-formed: {e}"))
}

#[test]
fn a_small_sweep_renders_parsable_reports() {
    let g = grid(SMALL).expect("the small grid parses");
    let opts = TuneOptions {
        seeds: 6,
        jobs: 2,
        target_false_preemption: 0.5,
        target_failover_ms: None,
        pause_p99_ms: None,
    };
    let cells = tune::sweep(&g, &opts, &|_| {});
    assert_eq!(cells.len(), 4);
    assert!(cells.iter().all(|c| c.skipped.is_none() && c.seeds == 6));
    // Pauses of up to 6 s against a 2 s lease: without fencing some run accepts a stale
    // write; with fencing none does.
    let off_unsafe: u64 = cells
        .iter()
        .filter(|c| !c.cell.fencing)
        .map(|c| c.stale_write_accepted_runs.hits)
        .sum();
    assert!(off_unsafe > 0, "no stale write accepted without fencing");
    assert!(cells
        .iter()
        .filter(|c| c.cell.fencing)
        .all(|c| c.unsafe_runs.hits == 0));
    let report = tune::report(&g, &opts, cells, 0.0);
    assert_eq!(
        (
            report.name.as_str(),
            report.seeds_per_cell,
            report.duration_ms
        ),
        ("t", 6, 20_000)
    );
    assert_eq!(report.recommendations.len(), 1);
    let plots = tune_report::plots(&report);
    let names: Vec<&str> = plots.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "safety-fencing.svg",
            "safety-no-fencing.svg",
            "failover.svg",
            "false-preemption.svg",
            "renewal-slack.svg"
        ]
    );
    for (name, svg) in &plots {
        let doc = well_formed(name, svg);
        assert_eq!(doc.root_element().tag_name().name(), "svg");
    }
    let fp = well_formed("false-preemption.svg", &plots[3].1);
    let series = fp
        .descendants()
        .filter(|n| n.attribute("class") == Some("legend"))
        .count();
    assert_eq!(series, 2, "one series per (TTL, renew) pair");
    let points = fp
        .descendants()
        .filter(|n| n.attribute("class") == Some("point"))
        .count();
    assert_eq!(points, 2, "one point per series and pause level");
    let heat = well_formed("safety-no-fencing.svg", &plots[1].1);
    assert_eq!(
        heat.descendants()
            .filter(|n| n.attribute("class") == Some("cell"))
            .count(),
        2
    );
    let html = tune_report::html(&report, "test");
    let doc = well_formed("index.html", &html);
    assert_eq!(
        doc.descendants().filter(|n| n.has_tag_name("svg")).count(),
        5
    );
    let csv = tune_report::csv(&report);
    assert_eq!(csv.lines().count(), 5);
    let md = tune_report::markdown(&report, "test");
    assert!(md.contains("## Recommendation") && md.contains("false-preemption.svg"));
}

#[test]
fn a_failing_seed_renders_a_timeline_with_its_violation() {
    let sc = Scenario::load(Path::new("../scenarios/beyond/server-counter-lost.toml"))
        .expect("the scenario loads");
    let failing = (0..50)
        .map(|s| run_seed_isolated(&sc, s, RunOptions { trace: true }))
        .find(|r| !r.found.is_empty())
        .expect("some seed of a `finds` scenario fails");
    let tl = failing
        .timeline
        .as_ref()
        .expect("a traced run keeps its timeline");
    assert!(!tl.grants.is_empty() && !tl.beliefs.is_empty() && !tl.messages.is_empty());
    assert!(tl
        .grants
        .iter()
        .chain(&tl.beliefs)
        .all(|b| b.end_ns.is_some()));
    let svg = tl.render("server-counter-lost", 20_000_000_000);
    let doc = well_formed("timeline", &svg);
    let class = |c: &str| {
        doc.descendants()
            .filter(|n| {
                n.attribute("class")
                    .is_some_and(|a| a.split(' ').any(|x| x == c))
            })
            .count()
    };
    assert!(class("violation") >= 2, "the violation is marked");
    assert!(class("grant") > 0 && class("belief") > 0 && class("message") > 0);
    assert!(class("crash") > 0, "the server crash is shaded");
}

#[test]
fn a_run_report_links_a_timeline_for_each_finding() {
    let sc = Scenario::load(Path::new("../scenarios/beyond/server-counter-lost.toml"))
        .expect("the scenario loads");
    let happy = Scenario::load(Path::new("../scenarios/happy-path.toml")).expect("loads");
    let seeds: Vec<u64> = (0..4).collect();
    let reports = vec![
        judge(
            &sc,
            &run_many(&sc, &seeds, 2, RunOptions::default(), &|_| {}),
            &[],
        ),
        judge(
            &happy,
            &run_many(&happy, &seeds[..2], 2, RunOptions::default(), &|_| {}),
            &[],
        ),
    ];
    let found = reports[0]
        .finds
        .values()
        .find_map(|s| *s)
        .expect("the finding is found");
    assert_eq!(
        leaseproof_sim::traced::timeline_seeds(&reports[0], 3)[0],
        found
    );
    assert!(
        leaseproof_sim::traced::timeline_seeds(&reports[1], 3).is_empty(),
        "a clean run has none"
    );
    let dir = std::env::temp_dir().join(format!("leaseproof-run-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let scenarios = vec![sc, happy];
    let traced = leaseproof_sim::traced::rerun_failing(&scenarios, &reports);
    let tls = run_report::write_timelines(&dir, &scenarios, &traced).expect("written");
    assert_eq!(tls[0].len(), 1);
    assert!(tls[1].is_empty());
    let (seed, file) = &tls[0][0];
    assert_eq!(*seed, found);
    let svg = std::fs::read_to_string(dir.join(file)).expect("the timeline file exists");
    let doc = well_formed("timeline", &svg);
    assert!(doc.descendants().any(|n| n
        .attribute("class")
        .is_some_and(|c| c.contains("violation"))));
    let html = run_report::index_html(&dir, &reports, &tls, &run_report::Author::run());
    let page = well_formed("index.html", &html);
    let rows = page.descendants().filter(|n| n.has_tag_name("tr")).count();
    assert_eq!(rows, 3, "a header and one row per scenario");
    assert!(page
        .descendants()
        .any(|n| n.has_tag_name("img") && n.attribute("src") == Some(file.as_str())));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_stalled_write_is_shaded_from_decision_to_send() {
    let sc = Scenario::load(Path::new("../scenarios/bugs/kleppmann-pause.toml")).expect("loads");
    let seed = (0..50)
        .find(|&s| {
            !run_seed_isolated(&sc, s, RunOptions::default())
                .found
                .is_empty()
        })
        .expect("Kleppmann's counterexample is found");
    let traced = run_seed_isolated(&sc, seed, RunOptions { trace: true });
    let svg = run_report::timeline_of(&sc, &traced).expect("a timeline");
    let doc = well_formed("timeline", &svg);
    let stalls: Vec<f64> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("fault stall"))
        .filter_map(|n| n.attribute("width")?.parse().ok())
        .collect();
    assert!(!stalls.is_empty(), "the stall is drawn");
    assert!(
        stalls.iter().all(|w| *w > 1.0),
        "as a span, not a tick: {stalls:?}"
    );
}
