//! A seed's timeline drawn as SVG: one lane per node, grants as the server saw them and
//! beliefs as each client held them, messages as arrows, faults shaded, violations marked.
//! Draws what the engine recorded ([`Timeline`]); runs nothing.

use crate::fault::FaultKind;
use crate::scenario::{node_name, NodeIdx, RESOURCE};
use crate::svg::{esc, Svg};
use crate::timeline::Timeline;

/// One panel of a timeline: where it is drawn and the span of true time it shows.
struct Panel {
    top: f64,
    left: f64,
    right: f64,
    lane_h: f64,
    t0: u64,
    t1: u64,
}

impl Panel {
    fn x(&self, t: u64) -> f64 {
        let span = (self.t1 - self.t0).max(1) as f64;
        self.left
            + (t.saturating_sub(self.t0)).min(self.t1 - self.t0) as f64 / span
                * (self.right - self.left)
    }

    fn lane_y(&self, n: NodeIdx) -> f64 {
        self.top + 20.0 + n as f64 * self.lane_h
    }

    fn visible(&self, s: u64, e: u64) -> bool {
        e >= self.t0 && s <= self.t1
    }
}

impl Timeline {
    /// The SVG: the whole run on top (bars and shading), and below it a window around the
    /// first violation (or the run's start) with every message drawn as an arrow.
    #[must_use]
    pub fn render(&self, title: &str, window_ns: u64) -> String {
        let width = 1200.0;
        let lane_h = 34.0;
        let label_w = 90.0;
        let panel_h = lane_h * self.nodes as f64 + 40.0;
        let height = 60.0 + 2.0 * panel_h + 70.0;
        let mut svg = Svg::new(width, height);
        svg.raw(
            "<defs><marker id=\"head\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
             markerWidth=\"6\" markerHeight=\"6\" orient=\"auto-start-reverse\">\
             <path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#555\"/></marker></defs>\n",
        );
        svg.text(
            16.0,
            24.0,
            title,
            "start",
            r#"font-size="15" font-weight="bold""#,
        );
        let end = self.end_ns.max(1);
        let focus = self.violations.first().map_or(0, |v| v.t_ns);
        let w0 = focus.saturating_sub(window_ns * 3 / 4);
        let w1 = (w0 + window_ns).min(end).max(w0 + 1);
        self.panel(
            &mut svg,
            50.0,
            label_w,
            width - 20.0,
            lane_h,
            (0, end),
            false,
            "whole run",
        );
        self.panel(
            &mut svg,
            50.0 + panel_h,
            label_w,
            width - 20.0,
            lane_h,
            (w0, w1),
            true,
            if self.violations.is_empty() {
                "first window"
            } else {
                "around the first violation"
            },
        );
        // Legend.
        let ly = height - 40.0;
        let items: [(&str, &str); 7] = [
            (r##"fill="#4477aa""##, "grant (server's view)"),
            (r##"fill="#88ccee""##, "belief (client's view)"),
            (r##"fill="#ffcc00" fill-opacity="0.35""##, "pause"),
            (r##"fill="#aa3377" fill-opacity="0.25""##, "partition / cut"),
            (r##"fill="#333" fill-opacity="0.25""##, "crashed"),
            (r##"fill="#44aa99" fill-opacity="0.35""##, "write stalled"),
            (r##"fill="#cc0000""##, "violation"),
        ];
        for (i, (style, label)) in items.iter().enumerate() {
            let x = label_w + i as f64 * 155.0;
            svg.rect(x, ly, 18.0, 12.0, style, None);
            svg.text(x + 24.0, ly + 10.0, label, "start", "");
        }
        svg.text(
            label_w,
            ly + 30.0,
            "bars are true time; a belief bar that outlives its grant is a client acting on an expired lease; \
             arrows are messages (dashed: never delivered); orange ticks: clock steps",
            "start",
            r##"fill="#555""##,
        );
        svg.finish(title)
    }

    #[allow(clippy::too_many_arguments)]
    fn panel(
        &self,
        svg: &mut Svg,
        top: f64,
        left: f64,
        right: f64,
        lane_h: f64,
        (t0, t1): (u64, u64),
        arrows: bool,
        caption: &str,
    ) {
        let p = Panel {
            top,
            left,
            right,
            lane_h,
            t0,
            t1,
        };
        svg.text(
            left,
            top + 12.0,
            &format!(
                "{caption}: {:.3} s to {:.3} s (true time)",
                t0 as f64 / 1e9,
                t1 as f64 / 1e9
            ),
            "start",
            r##"fill="#333" font-weight="bold""##,
        );
        for n in 0..self.nodes {
            let y = p.lane_y(n);
            svg.rect(
                left,
                y,
                right - left,
                lane_h - 4.0,
                r##"fill="#f6f6f6""##,
                None,
            );
            svg.text(left - 6.0, y + lane_h / 2.0 + 2.0, &node_name(n), "end", "");
        }
        self.draw_faults(svg, &p);
        self.draw_bars(svg, &p);
        self.draw_writes(svg, &p);
        if arrows {
            self.draw_messages(svg, &p);
        }
        self.draw_violations(svg, &p);
        self.draw_axis(svg, &p);
    }

    /// Fault spans shaded on their node's lane; a clock step is a tick.
    fn draw_faults(&self, svg: &mut Svg, p: &Panel) {
        for s in &self.faults {
            let e = s.end_ns.unwrap_or(self.end_ns);
            if !p.visible(s.start_ns, e) {
                continue;
            }
            let y = p.lane_y(s.node);
            let style = match s.kind {
                FaultKind::Paused => r##"class="fault pause" fill="#ffcc00" fill-opacity="0.35""##,
                FaultKind::Partitioned | FaultKind::LinkCut | FaultKind::Split => {
                    r##"class="fault partition" fill="#aa3377" fill-opacity="0.25""##
                }
                FaultKind::SendDelayed | FaultKind::Stalled => {
                    r##"class="fault stall" fill="#44aa99" fill-opacity="0.35""##
                }
                FaultKind::ServerCrashed
                | FaultKind::ResourceCrashed
                | FaultKind::ClientCrashed
                | FaultKind::CrashedMidStep => {
                    r##"class="fault crash" fill="#333" fill-opacity="0.25""##
                }
                _ => {
                    let xs = p.x(s.start_ns);
                    svg.line(
                        xs,
                        y - 2.0,
                        xs,
                        y + p.lane_h - 2.0,
                        r##"class="fault step" stroke="#ee7733" stroke-width="2""##,
                    );
                    continue;
                }
            };
            let (x0, x1) = (p.x(s.start_ns), p.x(e));
            svg.rect(
                x0,
                y,
                (x1 - x0).max(1.0),
                p.lane_h - 4.0,
                style,
                Some(&format!("{}: {}", s.kind, s.detail)),
            );
        }
    }

    /// Grants (the server's view) and beliefs (each client's), as bars.
    fn draw_bars(&self, svg: &mut Svg, p: &Panel) {
        for (bars, dy, fill, class) in [
            (&self.grants, 4.0, "#4477aa", "grant"),
            (&self.beliefs, 16.0, "#88ccee", "belief"),
        ] {
            for b in bars {
                let e = b.end_ns.unwrap_or(self.end_ns);
                if !p.visible(b.start_ns, e) {
                    continue;
                }
                let (x0, x1) = (p.x(b.start_ns), p.x(e));
                svg.rect(
                    x0,
                    p.lane_y(b.node) + dy,
                    (x1 - x0).max(1.0),
                    10.0,
                    &format!(r#"class="{class}" fill="{fill}""#),
                    Some(&format!(
                        "{class} token {} {:.3}-{:.3} s ({})",
                        b.token,
                        b.start_ns as f64 / 1e9,
                        e as f64 / 1e9,
                        b.how
                    )),
                );
            }
        }
    }

    /// Writes at the resource: accepted or rejected.
    fn draw_writes(&self, svg: &mut Svg, p: &Panel) {
        for w in &self.writes {
            if p.visible(w.t_ns, w.t_ns) {
                let fill = if w.kind == "accepted" {
                    "#228833"
                } else {
                    "#cc6677"
                };
                svg.circle(
                    p.x(w.t_ns),
                    p.lane_y(RESOURCE) + p.lane_h / 2.0 - 2.0,
                    2.5,
                    &format!(r#"class="write {}" fill="{fill}""#, w.kind),
                    Some(&format!("{} {}", w.kind, w.detail)),
                );
            }
        }
    }

    /// Messages as arrows (dashed: never delivered).
    fn draw_messages(&self, svg: &mut Svg, p: &Panel) {
        for m in &self.messages {
            let e = m.recv_ns.unwrap_or(m.sent_ns + (p.t1 - p.t0) / 100);
            if !p.visible(m.sent_ns, e) {
                continue;
            }
            let dashed = if m.recv_ns.is_none() {
                r#" stroke-dasharray="3 3""#
            } else {
                ""
            };
            let (y0, y1) = (
                p.lane_y(m.from) + p.lane_h / 2.0 - 2.0,
                p.lane_y(m.to) + p.lane_h / 2.0 - 2.0,
            );
            let y1 = if m.recv_ns.is_none() {
                y0 + (y1 - y0) * 0.3
            } else {
                y1
            };
            svg.raw(&format!(
                "<line class=\"message\" x1=\"{:.1}\" y1=\"{y0:.1}\" x2=\"{:.1}\" y2=\"{y1:.1}\" \
                 stroke=\"#555\" stroke-opacity=\"0.6\" marker-end=\"url(#head)\"{dashed}>\
                 <title>{}</title></line>\n",
                p.x(m.sent_ns),
                p.x(e),
                esc(&format!(
                    "{} {} -> {}{}",
                    m.kind,
                    node_name(m.from),
                    node_name(m.to),
                    if m.recv_ns.is_none() { " (lost)" } else { "" }
                ))
            ));
        }
    }

    /// Violations: a red line across every lane and a marker on the node's.
    fn draw_violations(&self, svg: &mut Svg, p: &Panel) {
        for v in &self.violations {
            if p.visible(v.t_ns, v.t_ns) {
                let vx = p.x(v.t_ns);
                let y = p.lane_y(v.node);
                svg.line(
                    vx,
                    p.top + 18.0,
                    vx,
                    p.lane_y(self.nodes - 1) + p.lane_h,
                    r##"class="violation" stroke="#cc0000" stroke-width="2""##,
                );
                svg.raw(&format!(
                    "<path class=\"violation\" d=\"M {vx:.1} {:.1} l 6 8 l -6 8 l -6 -8 z\" fill=\"#cc0000\"><title>{}</title></path>\n",
                    y + 1.0,
                    esc(&format!("{}: {}", v.kind, v.detail))
                ));
            }
        }
    }

    /// The time axis, in seconds of true time.
    fn draw_axis(&self, svg: &mut Svg, p: &Panel) {
        // Time axis.
        let axis_y = p.lane_y(self.nodes) + 2.0;
        for tick in crate::svg::ticks(p.t0 as f64 / 1e9, p.t1 as f64 / 1e9, 10) {
            let tx = p.x((tick * 1e9) as u64);
            svg.line(tx, axis_y, tx, axis_y + 4.0, r#"stroke="black""#);
            svg.text(
                tx,
                axis_y + 15.0,
                &format!("{} s", crate::svg::num(tick)),
                "middle",
                r#"font-size="10""#,
            );
        }
    }
}
