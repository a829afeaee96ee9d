//! The HTML report of a scenario run (`reports/index.html`) and the timeline of each seed
//! that tripped an oracle (`reports/timelines/<scenario>-<seed>.svg`).

use crate::run::SeedResult;
use crate::scenario::Scenario;
use crate::svg::esc;
use crate::verdict::{ScenarioReport, Verdict};
use leaseproof_impl::Protocol;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Renders a traced run's timeline, titled with its first violation; the detail window
/// spans two TTLs around it.
#[must_use]
pub fn timeline_of<P: Protocol>(sc: &Scenario<P>, r: &SeedResult<P>) -> Option<String> {
    let tl = r.timeline.as_ref()?;
    let what = r
        .found
        .first()
        .map(|f| f.violation.to_string())
        .or_else(|| r.liveness.as_ref().map(ToString::to_string))
        .or_else(|| r.panic.clone())
        .unwrap_or_else(|| "no violation".into());
    let title = format!("{} seed {}: {what}", sc.name, r.seed);
    let window = P::lease_ns(&sc.config).saturating_mul(2).max(1_000_000_000);
    Some(tl.render(&title, window))
}

/// The file name of a seed's timeline, relative to the report folder.
#[must_use]
pub fn timeline_file<P: Protocol>(sc: &Scenario<P>, seed: u64) -> String {
    format!("timelines/{}-{seed}.svg", file_safe(&sc.name))
}

/// Writes the timelines of the traced re-runs (`traced`, per report in the same order, from
/// [`crate::traced::rerun_failing`]) into `out/timelines/`; returns, per report, the seeds
/// and the file names relative to `out`.
pub fn write_timelines<P: Protocol>(
    out: &Path,
    scenarios: &[Scenario<P>],
    traced: &[Vec<SeedResult<P>>],
) -> std::io::Result<Vec<Vec<(u64, String)>>> {
    let dir = out.join("timelines");
    // Timelines of an earlier run would be linked from nowhere: start the folder afresh.
    if dir.is_dir() {
        for e in std::fs::read_dir(&dir)?.filter_map(Result::ok) {
            if e.path().extension().is_some_and(|x| x == "svg") {
                std::fs::remove_file(e.path())?;
            }
        }
    }
    let mut all = Vec::new();
    for (sc, runs) in scenarios.iter().zip(traced) {
        let mut mine = Vec::new();
        for r in runs {
            if let Some(svg) = timeline_of(sc, r) {
                std::fs::create_dir_all(&dir)?;
                let name = timeline_file(sc, r.seed);
                std::fs::write(out.join(&name), svg)?;
                mine.push((r.seed, name));
            }
        }
        all.push(mine);
    }
    Ok(all)
}

/// A name safe in a file name and an HTML id.
fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A report's verdict in words, and its row class.
#[must_use]
pub fn verdict(rep: &ScenarioReport) -> (&'static str, &'static str) {
    match rep.verdict {
        Verdict::Pass => ("ok", "ok"),
        Verdict::Usage => ("FAIL usage", "fail"),
        Verdict::Liveness => ("FAIL liveness", "fail"),
        Verdict::Vacuous => ("FAIL vacuous", "fail"),
        Verdict::FindsNotFound => ("FAIL finds-not-found", "fail"),
        Verdict::Safety => ("FAIL safety", "fail"),
        Verdict::Nondeterminism => ("NONDETERMINISTIC", "fail"),
        Verdict::Crash => ("CRASH", "fail"),
    }
}

/// Each `finds` oracle with the first seed that found it, or that it was not found.
#[must_use]
pub fn found_summary(rep: &ScenarioReport) -> String {
    let found: Vec<String> = rep
        .finds
        .iter()
        .map(|(o, seed)| match seed {
            Some(sd) => format!("{o} (seed {sd})"),
            None => format!("{o}: NOT FOUND"),
        })
        .collect();
    if found.is_empty() {
        "-".into()
    } else {
        found.join(", ")
    }
}

/// Who wrote a run's reports, as `run.md` (Markdown) and `index.html` (HTML) say it after
/// "Written by ".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Author {
    pub md: String,
    pub html: String,
}

impl Author {
    /// The main job, or `leaseproof run` on each scenario's own seeds.
    #[must_use]
    pub fn run() -> Author {
        Author {
            md: "`cargo run --release` (or `leaseproof run`); the seeds are each scenario's own"
                .into(),
            html: "<code>cargo run --release</code> (or <code>leaseproof run</code>); each \
                   scenario runs its own seeds"
                .into(),
        }
    }

    /// `leaseproof real`.
    #[must_use]
    pub fn real() -> Author {
        Author {
            md: "`leaseproof real` (real processes on loopback); the seeds are each scenario's \
                 own"
            .into(),
            html: "<code>leaseproof real</code> (real processes on loopback); each scenario \
                   runs its own seeds"
                .into(),
        }
    }

    /// A command, as given.
    #[must_use]
    pub fn command(command: &str) -> Author {
        Author {
            md: format!("`{command}`"),
            html: format!("<code>{}</code>", esc(command)),
        }
    }
}

/// `reports/index.html`: one row per scenario (verdict, findings, metrics), each failure
/// with its replay command, the timelines inline, and links to the other reports found in
/// `out` (tune sweeps, the bug catalog, the benchmarks).
#[must_use]
pub fn index_html(
    out: &Path,
    reports: &[ScenarioReport],
    timelines: &[Vec<(u64, String)>],
    author: &Author,
) -> String {
    let mut s = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>\
         <title>leaseproof run</title><style>",
    );
    s.push_str(crate::tune_report::CSS);
    s.push_str(
        "td.l,th.l{text-align:left}tr.ok td.v{color:#060}img.tl{max-width:100%;border:1px solid #ddd}p.warn{color:#a60}\
         </style></head><body>\n<h1>leaseproof: scenario run</h1>\n",
    );
    let failed = reports.iter().filter(|r| r.exit != 0).count();
    let _ = writeln!(
        s,
        "<p class=\"meta\">{} scenarios, {} with a failure. Written by {}. Data: <a \
         href=\"run.json\">run.json</a>, <a href=\"run.md\">run.md</a>.</p>",
        reports.len(),
        failed,
        author.html
    );
    let others = other_reports(out);
    if !others.is_empty() {
        s.push_str("<p>Other reports: ");
        let links: Vec<String> = others
            .iter()
            .map(|(href, label)| format!("<a href=\"{}\">{}</a>", esc(href), esc(label)))
            .collect();
        s.push_str(&links.join(", "));
        s.push_str(".</p>\n");
    }
    scenario_table(&mut s, reports);
    for (r, tls) in reports.iter().zip(timelines) {
        if r.failures.is_empty()
            && tls.is_empty()
            && r.warnings.is_empty()
            && r.dead_letters.is_empty()
        {
            continue;
        }
        scenario_section(&mut s, r, tls);
    }
    s.push_str("</body></html>\n");
    s
}

/// The table of every scenario's verdict, findings and metrics.
fn scenario_table(s: &mut String, reports: &[ScenarioReport]) {
    s.push_str("<table><thead><tr>");
    for h in [
        "scenario",
        "class",
        "variant",
        "seeds",
        "passed",
        "found (first seed)",
        "failover p50 / p99 ms",
        "availability",
        "false preemptions",
        "stale writes rejected",
        "renewal slack min ms",
        "verdict",
    ] {
        let _ = write!(s, "<th class=\"l\">{h}</th>");
    }
    s.push_str("</tr></thead><tbody>\n");
    for r in reports {
        let (v, cls) = verdict(r);
        let fp: u32 = r.metrics.false_preemptions.values().sum();
        let _ = writeln!(
            s,
            "<tr class=\"{cls}\"><td class=\"l\"><a href=\"#{id}\">{name}</a></td><td class=\"l\">{class:?}</td>\
             <td class=\"l\">{variant}</td><td>{seeds}</td><td>{passed}</td><td class=\"l\">{found}</td>\
             <td>{p50} / {p99}</td><td>{avail:.3}</td><td>{fp}</td><td>{stale}</td>\
             <td>{slack}</td><td class=\"v l\">{v}</td></tr>",
            id = esc(&file_safe(&r.name)),
            name = esc(&r.name),
            class = r.class,
            variant = esc(&r.variant),
            seeds = r.seeds,
            passed = r.passed,
            found = esc(&found_summary(r)),
            p50 = r.metrics.failover.cell(|d| d.p50_ms),
            p99 = r.metrics.failover.cell(|d| d.p99_ms),
            avail = r.metrics.availability,
            stale = r.metrics.stale_writes_rejected,
            slack = r.metrics.renewal_slack.cell(|d| d.min_ms),
        );
    }
    s.push_str("</tbody></table>\n");
}

/// One scenario's section: its warnings, dead letters, failures with their replay commands,
/// and its timelines.
fn scenario_section(s: &mut String, r: &ScenarioReport, tls: &[(u64, String)]) {
    let _ = writeln!(
        s,
        "<h2 id=\"{}\">{}</h2>\n<p class=\"meta\">{} (hash {})</p>",
        esc(&file_safe(&r.name)),
        esc(&r.name),
        esc(&r.path),
        esc(&r.hash)
    );
    for w in &r.warnings {
        let _ = writeln!(s, "<p class=\"warn\">warning: {}</p>", esc(w));
    }
    if !r.dead_letters.is_empty() {
        let _ = write!(
            s,
            "<p>dead-letter list ({} jobs applied, {} answered from their record, {} \
             definite rejections):</p>\n<ul>\n",
            r.metrics.jobs_applied, r.metrics.jobs_already_done, r.metrics.job_rejections
        );
        for d in &r.dead_letters {
            let _ = writeln!(
                s,
                "<li><code>{}</code> in {} of {} seeds</li>",
                esc(&d.key),
                d.seeds,
                r.seeds
            );
        }
        s.push_str("</ul>\n");
    }
    if !r.failures.is_empty() {
        s.push_str("<ul>\n");
        for f in &r.failures {
            let _ = write!(
                s,
                "<li class=\"none\">{} {}: {}",
                esc(f.class.name()),
                esc(&f.oracle),
                esc(&f.detail)
            );
            if let Some(rp) = &f.replay {
                let _ = write!(s, "<br/><code>{}</code>", esc(rp));
            }
            s.push_str("</li>\n");
        }
        s.push_str("</ul>\n");
    }
    for (seed, file) in tls {
        let _ = writeln!(
            s,
            "<figure><figcaption>seed {seed}: <a href=\"{f}\">{f}</a></figcaption>\
             <img class=\"tl\" src=\"{f}\" alt=\"timeline of seed {seed}\"/></figure>",
            f = esc(file)
        );
    }
}

/// Reports other commands left in `out`: `tune-*/index.html`, the bug catalog, the benches.
fn other_reports(out: &Path) -> Vec<(String, String)> {
    let mut v = Vec::new();
    let mut tunes: Vec<PathBuf> = std::fs::read_dir(out)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("tune-"))
                        && p.join("index.html").is_file()
                })
                .collect()
        })
        .unwrap_or_default();
    tunes.sort();
    for t in tunes {
        let name = t
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        v.push((
            format!("{name}/index.html"),
            format!("{name} (timeout sweep)"),
        ));
    }
    for (f, label) in [
        ("bug-catalog.md", "bug catalog"),
        ("bench.md", "benchmarks"),
    ] {
        if out.join(f).is_file() {
            v.push((f.to_string(), label.to_string()));
        }
    }
    v
}
