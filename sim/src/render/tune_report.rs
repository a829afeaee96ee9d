//! What a sweep writes into `reports/tune-<name>/`: `data.csv`, `data.json`, `index.md`,
//! `index.html` (with the plots inline) and each plot as its own `.svg`.

use crate::svg::{esc, Heatmap, LinePlot, Series};
use crate::tune::{CellResult, CellSpec, TuneReport};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The plots of a sweep, by file name.
#[must_use]
pub fn plots(r: &TuneReport) -> Vec<(String, String)> {
    let ran: Vec<&CellResult> = r.cells.iter().filter(|c| c.skipped.is_none()).collect();
    let ttls: Vec<u64> = uniq(r.cells.iter().map(|c| c.cell.ttl_ms));
    let pauses: Vec<u64> = uniq(r.cells.iter().map(|c| c.cell.pause_p99_ms));
    let mut out = safety_heatmaps(r, &ran, &ttls, &pauses);
    // The cells a recommendation weighs: fencing on, or every protocol of a plug-in's grid.
    let on: Vec<&CellResult> = ran
        .iter()
        .copied()
        .filter(|c| c.cell.fencing || !c.cell.protocol.is_empty())
        .collect();
    // With an intent-tier axis, tiered and flat leases are separate series.
    let tiers: Vec<u64> = uniq(on.iter().map(|c| c.cell.intent_ms));
    let tier_name = |i: u64| match (tiers.len() > 1, i) {
        (false, _) => String::new(),
        (true, 0) => ", flat".to_string(),
        (true, i) => format!(", intent {i} ms"),
    };
    out.push(failover_plot(r, &on, &ttls, &tier_name));
    out.extend(pause_plots(r, &on, &pauses, &tier_name));
    out
}

/// Whether the report is of a plug-in's grid (its cells name their protocol).
fn plugin_grid(r: &TuneReport) -> bool {
    r.cells.iter().any(|c| !c.cell.protocol.is_empty())
}

/// The heatmaps' groups: (file, title, which cells): fencing on and off, or one per
/// protocol of a plug-in's grid.
type Group = (String, String, Box<dyn Fn(&CellSpec) -> bool>);

fn groups(r: &TuneReport) -> Vec<Group> {
    if plugin_grid(r) {
        let protocols: Vec<String> = r.cells.iter().fold(Vec::new(), |mut v, c| {
            if !v.contains(&c.cell.protocol) {
                v.push(c.cell.protocol.clone());
            }
            v
        });
        return protocols
            .into_iter()
            .map(|p| -> Group {
                (
                    format!("safety-{p}.svg"),
                    format!("Unsafe runs, {p} (worst cell over the other axes)"),
                    Box::new(move |c: &CellSpec| c.protocol == p),
                )
            })
            .collect();
    }
    [true, false]
        .into_iter()
        .filter(|f| r.cells.iter().any(|c| c.cell.fencing == *f))
        .map(|fencing| -> Group {
            (
                format!("safety-{}fencing.svg", if fencing { "" } else { "no-" }),
                format!(
                    "Unsafe runs, fencing {} (worst cell over the other axes)",
                    if fencing { "on" } else { "off" }
                ),
                Box::new(move |c: &CellSpec| c.fencing == fencing),
            )
        })
        .collect()
}

/// Unsafe runs over TTL × pause p99, one heatmap with fencing and one without (one per
/// protocol in a plug-in's grid).
fn safety_heatmaps(
    r: &TuneReport,
    ran: &[&CellResult],
    ttls: &[u64],
    pauses: &[u64],
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (file, title, keep) in groups(r) {
        let cells = pauses
            .iter()
            .map(|&p| {
                ttls.iter()
                    .map(|&t| {
                        let group: Vec<&&CellResult> = ran
                            .iter()
                            .filter(|c| {
                                keep(&c.cell) && c.cell.ttl_ms == t && c.cell.pause_p99_ms == p
                            })
                            .collect();
                        let worst = group
                            .iter()
                            .max_by(|a, b| a.unsafe_runs.rate.total_cmp(&b.unsafe_runs.rate))?;
                        Some((
                            worst.unsafe_runs.rate,
                            format!("{}/{}", worst.unsafe_runs.hits, worst.unsafe_runs.n),
                        ))
                    })
                    .collect()
            })
            .collect();
        let hm = Heatmap {
            title,
            x_label: "TTL (ms)".into(),
            y_label: "pause p99 (ms)".into(),
            xs: ttls.iter().map(u64::to_string).collect(),
            ys: pauses.iter().map(u64::to_string).collect(),
            cells,
        };
        out.push((file, hm.render()));
    }
    out
}

/// Failover p99 against TTL, a series per renew interval (and intent tier).
fn failover_plot(
    r: &TuneReport,
    on: &[&CellResult],
    ttls: &[u64],
    tier_name: &dyn Fn(u64) -> String,
) -> (String, String) {
    let renews: Vec<(&str, u64, u64, u64)> = uniq(on.iter().map(|c| {
        (
            c.cell.protocol.as_str(),
            c.cell.renew_ms,
            c.cell.deadline_ms,
            c.cell.intent_ms,
        )
    }));
    let failover = LinePlot {
        title: format!("Failover p99 against TTL ({}, worst cell)", scope(r)),
        x_label: "TTL (ms)".into(),
        y_label: "failover p99 (ms)".into(),
        series: renews
            .iter()
            .map(|&(p, rn, d, it)| Series {
                name: format!("{}renew {rn} ms{}{}", who(p), deadline(d), tier_name(it)),
                points: ttls
                    .iter()
                    .map(|&t| {
                        let y = worst(
                            on,
                            |k| {
                                k.protocol == p
                                    && k.renew_ms == rn
                                    && k.deadline_ms == d
                                    && k.intent_ms == it
                                    && k.ttl_ms == t
                            },
                            |c| (c.metrics.failover.n > 0).then_some(c.metrics.failover.p99_ms),
                        );
                        (t as f64, y)
                    })
                    .collect(),
            })
            .collect(),
        hline: r
            .target_failover_ms
            .map(|t| (t as f64, format!("target {t} ms"))),
    };
    ("failover.svg".into(), failover.render())
}

/// False preemption and renewal slack against pause p99, a series per TTL / renew pair.
fn pause_plots(
    r: &TuneReport,
    on: &[&CellResult],
    pauses: &[u64],
    tier_name: &dyn Fn(u64) -> String,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let pairs: Vec<(&str, u64, u64, u64, u64)> = uniq(on.iter().map(|c| {
        (
            c.cell.protocol.as_str(),
            c.cell.ttl_ms,
            c.cell.renew_ms,
            c.cell.deadline_ms,
            c.cell.intent_ms,
        )
    }));
    let per_pair = |f: &dyn Fn(&CellResult) -> Option<f64>| -> Vec<Series> {
        pairs
            .iter()
            .map(|&(proto, t, rn, d, it)| Series {
                name: format!(
                    "{}TTL {t} / renew {rn}{}{}",
                    who(proto),
                    deadline(d),
                    tier_name(it)
                ),
                points: pauses
                    .iter()
                    .map(|&p| {
                        let y = worst(
                            on,
                            |k| {
                                k.protocol == proto
                                    && k.ttl_ms == t
                                    && k.renew_ms == rn
                                    && k.deadline_ms == d
                                    && k.intent_ms == it
                                    && k.pause_p99_ms == p
                            },
                            f,
                        );
                        (p as f64, y)
                    })
                    .collect(),
            })
            .collect()
    };
    let fp = LinePlot {
        title: format!(
            "False preemption against pause p99 ({}, worst cell)",
            scope(r)
        ),
        x_label: "pause p99 (ms)".into(),
        y_label: "runs with a false preemption (fraction)".into(),
        series: per_pair(&|c| Some(c.false_preemption_runs.rate)),
        hline: Some((
            r.target_false_preemption,
            format!("target {}", r.target_false_preemption),
        )),
    };
    out.push(("false-preemption.svg".into(), fp.render()));
    let slack = LinePlot {
        title: format!(
            "Renewal slack, smallest seen, against pause p99 ({})",
            scope(r)
        ),
        x_label: "pause p99 (ms)".into(),
        y_label: "lease time left at a confirmed renewal, min (ms)".into(),
        series: per_pair(&|c| {
            (c.metrics.renewal_slack.n > 0).then_some(c.metrics.renewal_slack.min_ms)
        }),
        hline: None,
    };
    out.push(("renewal-slack.svg".into(), slack.render()));
    out
}

/// Which cells the line plots show: fencing on, or every protocol of a plug-in's grid.
fn scope(r: &TuneReport) -> &'static str {
    if plugin_grid(r) {
        "each protocol"
    } else {
        "fencing on"
    }
}

/// A series' protocol prefix (a plug-in's grid only).
fn who(p: &str) -> String {
    if p.is_empty() {
        String::new()
    } else {
        format!("{p}: ")
    }
}

/// A series' renew deadline (a plug-in's only).
fn deadline(d: u64) -> String {
    if d > 0 {
        format!(" / deadline {d}")
    } else {
        String::new()
    }
}

/// The largest value over the cells that `keep` selects and that have one; `None` if no
/// cell does (a gap in the line, not a zero).
fn worst(
    cells: &[&CellResult],
    keep: impl Fn(&CellSpec) -> bool,
    value: impl Fn(&CellResult) -> Option<f64>,
) -> Option<f64> {
    cells
        .iter()
        .filter(|c| keep(&c.cell))
        .filter_map(|c| value(c))
        .reduce(f64::max)
}

fn uniq<T: Ord>(it: impl Iterator<Item = T>) -> Vec<T> {
    it.collect::<BTreeSet<T>>().into_iter().collect()
}

/// One CSV row per cell.
#[must_use]
pub fn csv(r: &TuneReport) -> String {
    let mut s = String::from(
        "ttl_ms,renew_ms,pause_lo_ms,pause_hi_ms,pause_p99_ms,drift_ppm,latency_lo_ms,latency_hi_ms,\
         fencing,skipped,seeds,unsafe_runs,unsafe_rate,unsafe_lo,unsafe_hi,stale_write_accepted_runs,\
         belief_overlap_runs,belief_overlap_ms,failover_n,failover_p50_ms,failover_p99_ms,\
         failover_max_ms,false_preemption_runs,false_preemption_rate,false_preemption_lo,\
         false_preemption_hi,fp_pause,fp_partition,fp_delay,fp_clock,fp_server,\
         false_preemptions_per_grant,slack_p50_ms,slack_p99_ms,slack_min_ms,renewal_success,\
         stale_writes_rejected,grants,availability,crashed_runs,intent_ms",
    );
    // A plug-in's grid adds each cell's protocol and renew deadline.
    let plugin = plugin_grid(r);
    s.push_str(if plugin {
        ",deadline_ms,protocol\n"
    } else {
        "\n"
    });
    for c in &r.cells {
        let k = &c.cell;
        let cause = |n: &str| c.false_preemption_by_cause.get(n).map_or(0, |r| r.hits);
        let _ = write!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{:.4},{:.4},{:.4},{},{},{:.1},{},{:.1},{:.1},{:.1},{},{:.4},{:.4},{:.4},{},{},{},{},{},{:.4},{:.1},{:.1},{:.1},{:.4},{},{},{:.4},{},{}",
            k.ttl_ms,
            k.renew_ms,
            k.pause_ms[0],
            k.pause_ms[1],
            k.pause_p99_ms,
            k.drift_ppm,
            k.latency_ms[0],
            k.latency_ms[1],
            k.fencing,
            c.skipped.as_deref().map_or(String::new(), |w| format!("\"{}\"", w.replace('"', "'"))),
            c.seeds,
            c.unsafe_runs.hits,
            c.unsafe_runs.rate,
            c.unsafe_runs.lo,
            c.unsafe_runs.hi,
            c.stale_write_accepted_runs.hits,
            c.belief_overlap_runs.hits,
            c.metrics.belief_overlap_ms,
            c.metrics.failover.n,
            c.metrics.failover.p50_ms,
            c.metrics.failover.p99_ms,
            c.metrics.failover.max_ms,
            c.false_preemption_runs.hits,
            c.false_preemption_runs.rate,
            c.false_preemption_runs.lo,
            c.false_preemption_runs.hi,
            cause("pause"),
            cause("partition"),
            cause("delay"),
            cause("clock"),
            cause("server"),
            c.false_preemptions_per_grant,
            c.metrics.renewal_slack.p50_ms,
            c.metrics.renewal_slack.p99_ms,
            c.metrics.renewal_slack.min_ms,
            c.metrics.renewal_success.rate,
            c.metrics.stale_writes_rejected,
            c.metrics.grants,
            c.metrics.availability,
            c.crashed_runs,
            k.intent_ms,
        );
        if plugin {
            let _ = write!(s, ",{},{}", k.deadline_ms, k.protocol);
        }
        s.push('\n');
    }
    s
}

fn cell_rows(r: &TuneReport, html: bool) -> String {
    let mut s = String::new();
    let plugin = plugin_grid(r);
    let head = [
        "TTL ms",
        if plugin {
            "renew / deadline ms"
        } else {
            "renew ms"
        },
        "pause p99 ms",
        "drift ppm",
        "latency ms",
        if plugin { "protocol" } else { "fencing" },
        "unsafe runs",
        "two believers (runs)",
        "false preemption (95% CI)",
        "failover p50 / p99 / max ms",
        "slack min ms",
        "availability",
        "stale writes rejected",
        "intent tier ms",
    ];
    if html {
        s.push_str("<table><thead><tr>");
        for h in head {
            let _ = write!(s, "<th>{h}</th>");
        }
        s.push_str("</tr></thead><tbody>\n");
    } else {
        let _ = writeln!(s, "| {} |", head.join(" | "));
        let _ = writeln!(s, "|{}", "---|".repeat(head.len()));
    }
    for c in &r.cells {
        let cols = cell_columns(c, head.len());
        if html {
            html_row(&mut s, c, &cols);
        } else {
            let _ = writeln!(s, "| {} |", cols.join(" | "));
        }
    }
    if html {
        s.push_str("</tbody></table>\n");
    }
    s
}

/// One cell's columns, as text; a cell not run shows why, and dashes.
fn cell_columns(c: &CellResult, ncols: usize) -> Vec<String> {
    let k = &c.cell;
    let renew = if k.deadline_ms > 0 {
        format!("{} / {}", k.renew_ms, k.deadline_ms)
    } else {
        k.renew_ms.to_string()
    };
    let fencing: String = if !k.protocol.is_empty() {
        k.protocol.clone()
    } else if k.fencing {
        "on".into()
    } else {
        "off".into()
    };
    match &c.skipped {
        Some(why) => {
            let mut v = vec![
                k.ttl_ms.to_string(),
                renew,
                k.pause_p99_ms.to_string(),
                k.drift_ppm.to_string(),
                format!("{}..{}", k.latency_ms[0], k.latency_ms[1]),
                fencing,
                format!("not run: {why}"),
            ];
            v.resize(ncols, "-".into());
            v
        }
        None => vec![
            k.ttl_ms.to_string(),
            renew,
            k.pause_p99_ms.to_string(),
            k.drift_ppm.to_string(),
            format!("{}..{}", k.latency_ms[0], k.latency_ms[1]),
            fencing,
            format!("{}/{}", c.unsafe_runs.hits, c.unsafe_runs.n),
            format!("{}/{}", c.belief_overlap_runs.hits, c.belief_overlap_runs.n),
            format!(
                "{:.3} ({:.3}-{:.3})",
                c.false_preemption_runs.rate,
                c.false_preemption_runs.lo,
                c.false_preemption_runs.hi
            ),
            if c.metrics.failover.n == 0 {
                "no failover".into()
            } else {
                format!(
                    "{:.0} / {:.0} / {:.0}",
                    c.metrics.failover.p50_ms, c.metrics.failover.p99_ms, c.metrics.failover.max_ms
                )
            },
            if c.metrics.renewal_slack.n == 0 {
                "-".into()
            } else {
                format!("{:.0}", c.metrics.renewal_slack.min_ms)
            },
            format!("{:.3}", c.metrics.availability),
            c.metrics.stale_writes_rejected.to_string(),
            if k.intent_ms == 0 {
                "flat".into()
            } else {
                k.intent_ms.to_string()
            },
        ],
    }
}

/// One cell's HTML row: unsafe and skipped cells are marked, and a skipped cell's reason
/// spans the measurement columns.
fn html_row(s: &mut String, c: &CellResult, cols: &[String]) {
    let bad = c.unsafe_runs.hits > 0;
    let class = if bad {
        " class=\"unsafe\""
    } else if c.skipped.is_some() {
        " class=\"skipped\""
    } else {
        ""
    };
    let _ = write!(s, "<tr{class}>");
    if c.skipped.is_some() {
        // The reason spans the measurement columns instead of widening one of them.
        for col in &cols[..6] {
            let _ = write!(s, "<td>{}</td>", esc(col));
        }
        let _ = write!(
            s,
            "<td class=\"why\" colspan=\"{}\">{}</td>",
            cols.len() - 6,
            esc(&cols[6])
        );
    } else {
        for col in cols {
            let _ = write!(s, "<td>{}</td>", esc(col));
        }
    }
    s.push_str("</tr>\n");
}

fn rec_lines(r: &TuneReport) -> Vec<(bool, String)> {
    r.recommendations
        .iter()
        .map(|x| (x.ttl_ms.is_some(), x.explanation.clone()))
        .collect()
}

/// The Markdown summary.
#[must_use]
pub fn markdown(r: &TuneReport, command: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Lease-timeout sweep: {}\n", r.name);
    let _ = writeln!(s, "{}\n", r.description);
    let _ = writeln!(
        s,
        "Produced by `{command}`: {} cells x {} seeds of {} s simulated each, in {:.1} s. Grid: \
         `{}`. Every cell runs the same seeds. Rates are per run, with 95% Wilson intervals; \
         metrics are ground truth (docs/design.md, Metrics).\n",
        r.cells.len(),
        r.seeds_per_cell,
        r.duration_ms / 1000,
        r.seconds,
        r.grid_file
    );
    let _ = writeln!(s, "## Recommendation\n");
    for (ok, line) in rec_lines(r) {
        let _ = writeln!(
            s,
            "- {}{line}",
            if ok { "" } else { "**No recommendation:** " }
        );
    }
    let _ = writeln!(s, "\n## Plots\n");
    for (file, _) in plots(r) {
        let _ = writeln!(s, "![{file}]({file})");
    }
    let _ = writeln!(s, "\n## Cells\n");
    s.push_str(&cell_rows(r, false));
    let _ = writeln!(s, "\nData: [data.csv](data.csv), [data.json](data.json).");
    s
}

/// The HTML report: plots inline, no script, opens from disk.
#[must_use]
pub fn html(r: &TuneReport, command: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>\
         <title>leaseproof tune: {name}</title><style>{css}</style></head><body>\n\
         <h1>Lease-timeout sweep: {name}</h1>\n<p>{desc}</p>\n<p class=\"meta\">{cells} cells x \
         {seeds} seeds, {dur} s simulated each, {secs:.1} s wall; <code>{cmd}</code>. Every cell \
         runs the same seeds; rates are per run with 95% Wilson intervals.</p>\n",
        name = esc(&r.name),
        css = CSS,
        desc = esc(&r.description),
        cells = r.cells.len(),
        seeds = r.seeds_per_cell,
        dur = r.duration_ms / 1000,
        secs = r.seconds,
        cmd = esc(command),
    );
    s.push_str("<h2>Recommendation</h2>\n<ul class=\"rec\">\n");
    for (ok, line) in rec_lines(r) {
        let _ = writeln!(
            s,
            "<li class=\"{}\">{}</li>",
            if ok { "ok" } else { "none" },
            esc(&line)
        );
    }
    s.push_str("</ul>\n<h2>Plots</h2>\n<div class=\"plots\">\n");
    for (file, svg) in plots(r) {
        let _ = writeln!(s, "<figure id=\"{}\">{svg}<figcaption><a href=\"{file}\">{file}</a></figcaption></figure>", file.trim_end_matches(".svg"));
    }
    s.push_str("</div>\n<h2>Cells</h2>\n");
    s.push_str(&cell_rows(r, true));
    s.push_str("<p>Data: <a href=\"data.csv\">data.csv</a>, <a href=\"data.json\">data.json</a>.</p>\n</body></html>\n");
    s
}

pub const CSS: &str = "body{font-family:sans-serif;margin:2em;max-width:1400px;color:#222}\
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}\
th{background:#f0f0f0}tr.unsafe td{background:#fde0dc}tr.fail td{background:#fde0dc}\
.plots{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}\
tr.skipped td{color:#777}td.why{text-align:left}li.none{color:#a00;font-weight:bold}li.ok{color:#060}.meta{color:#555}code{background:#f4f4f4;padding:1px 4px}";

/// Writes every file; returns the paths written.
pub fn write(dir: &Path, r: &TuneReport, command: &str) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut files = vec![
        ("data.csv".to_string(), csv(r)),
        (
            "data.json".to_string(),
            serde_json::to_string_pretty(r).map_err(std::io::Error::other)? + "\n",
        ),
        ("index.md".to_string(), markdown(r, command)),
        ("index.html".to_string(), html(r, command)),
    ];
    files.extend(plots(r));
    let mut out = Vec::new();
    for (name, body) in files {
        let p = dir.join(name);
        std::fs::write(&p, body)?;
        out.push(p);
    }
    Ok(out)
}
