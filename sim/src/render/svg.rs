//! Small, hand-written SVG: a line plot, a heatmap and the drawing primitives the run
//! timeline uses. Output is plain SVG 1.1 (well-formed XML, no script, no external
//! resources), so it opens from disk and inlines into HTML.

use std::fmt::Write as _;

/// Escapes text for XML content and attribute values.
#[must_use]
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// An SVG document under construction.
pub struct Svg {
    body: String,
    width: f64,
    height: f64,
}

/// A colour per series, chosen to stay apart on white and for common colour blindness
/// (Okabe-Ito).
pub const PALETTE: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
];

impl Svg {
    #[must_use]
    pub fn new(width: f64, height: f64) -> Svg {
        Svg {
            body: String::new(),
            width,
            height,
        }
    }

    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, style: &str, title: Option<&str>) {
        let _ = write!(
            self.body,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" {style}"#,
            w.max(0.0),
            h.max(0.0)
        );
        self.close("rect", title);
    }

    /// Ends an open element: with a hover `<title>` if given, else self-closed.
    fn close(&mut self, tag: &str, title: Option<&str>) {
        match title {
            Some(t) => {
                let _ = writeln!(self.body, "><title>{}</title></{tag}>", esc(t));
            }
            None => self.body.push_str("/>\n"),
        }
    }

    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, style: &str) {
        let _ = writeln!(
            self.body,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" {style}/>"#
        );
    }

    pub fn circle(&mut self, cx: f64, cy: f64, r: f64, style: &str, title: Option<&str>) {
        let _ = write!(
            self.body,
            r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="{r:.1}" {style}"#
        );
        self.close("circle", title);
    }

    pub fn polyline(&mut self, pts: &[(f64, f64)], style: &str, class: &str) {
        let p: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = writeln!(
            self.body,
            r#"<polyline class="{}" points="{}" fill="none" {style}/>"#,
            esc(class),
            p.join(" ")
        );
    }

    /// Text; `anchor` is start, middle or end.
    pub fn text(&mut self, x: f64, y: f64, s: &str, anchor: &str, style: &str) {
        let _ = writeln!(
            self.body,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" {style}>{}</text>"#,
            esc(s)
        );
    }

    /// Raw markup (already escaped by the caller).
    pub fn raw(&mut self, s: &str) {
        self.body.push_str(s);
    }

    #[must_use]
    pub fn finish(self, title: &str) -> String {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" \
             viewBox=\"0 0 {w:.0} {h:.0}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <title>{}</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{}</svg>\n",
            esc(title),
            self.body,
            w = self.width,
            h = self.height,
        )
    }
}

/// "Nice" axis ticks over `[lo, hi]`: about `n` of them at 1, 2 or 5 times a power of ten.
#[must_use]
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if hi <= lo || !lo.is_finite() || !hi.is_finite() {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut v = Vec::new();
    let mut t = (lo / step).ceil() * step;
    while t <= hi + step * 1e-9 {
        v.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    v
}

/// Formats an axis number without trailing noise.
#[must_use]
pub fn num(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// One line of a [`LinePlot`]. A point whose y is `None` breaks the line (no data).
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, Option<f64>)>,
}

/// An x/y line plot with markers, axes, grid and a legend.
#[derive(Clone, Debug)]
pub struct LinePlot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Draw a dashed horizontal line here (a target), with this label.
    pub hline: Option<(f64, String)>,
}

impl LinePlot {
    /// Renders the plot; an empty plot says so in its body rather than drawing bare axes.
    #[must_use]
    pub fn render(&self) -> String {
        // The legend sits right of the plot, as wide as its longest name needs (12 px
        // sans-serif, about 7 px a character) and never narrower than 170 px; the plot keeps
        // its 400 px.
        let longest = self
            .series
            .iter()
            .map(|s| s.name.chars().count())
            .max()
            .unwrap_or(0);
        let r = f64::max(170.0, 50.0 + 7.0 * longest as f64);
        let (w, h) = (470.0 + r, 400.0);
        let (l, t, b) = (70.0, 40.0, 50.0);
        let mut svg = Svg::new(w, h);
        svg.text(
            w / 2.0,
            22.0,
            &self.title,
            "middle",
            r#"font-size="14" font-weight="bold""#,
        );
        let pts: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().filter_map(|(x, y)| y.map(|y| (*x, y))))
            .collect();
        if pts.is_empty() {
            svg.text(
                w / 2.0,
                h / 2.0,
                "no data in any cell",
                "middle",
                r##"fill="#a00""##,
            );
            return svg.finish(&self.title);
        }
        let xmin = pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let xmax = pts.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
        let mut ymax = pts.iter().map(|p| p.1).fold(0.0, f64::max);
        if let Some((y, _)) = self.hline {
            ymax = ymax.max(y);
        }
        let ymax = if ymax <= 0.0 { 1.0 } else { ymax * 1.08 };
        let (xmin, xmax) = if xmax > xmin {
            (xmin, xmax)
        } else {
            (xmin - 1.0, xmax + 1.0)
        };
        let fr = Frame {
            l,
            t,
            pw: w - l - r,
            ph: h - t - b,
            xmin,
            xmax,
            ymax,
        };
        self.axes(&mut svg, &fr, h);
        for (i, s) in self.series.iter().enumerate() {
            series(&mut svg, &fr, i, s);
        }
        svg.finish(&self.title)
    }

    /// Grid lines, ticks, both axes and their labels, and the target line if any.
    fn axes(&self, svg: &mut Svg, fr: &Frame, h: f64) {
        let (l, t, pw, ph) = (fr.l, fr.t, fr.pw, fr.ph);
        for ty in ticks(0.0, fr.ymax, 5) {
            svg.line(l, fr.sy(ty), l + pw, fr.sy(ty), r##"stroke="#ddd""##);
            svg.text(l - 6.0, fr.sy(ty) + 4.0, &num(ty), "end", "");
        }
        for tx in ticks(fr.xmin, fr.xmax, 6) {
            svg.line(
                fr.sx(tx),
                t + ph,
                fr.sx(tx),
                t + ph + 5.0,
                r#"stroke="black""#,
            );
            svg.text(fr.sx(tx), t + ph + 18.0, &num(tx), "middle", "");
        }
        svg.line(l, t + ph, l + pw, t + ph, r#"stroke="black""#);
        svg.line(l, t, l, t + ph, r#"stroke="black""#);
        svg.text(l + pw / 2.0, h - 10.0, &self.x_label, "middle", "");
        svg.raw(&format!(
            "<text x=\"16\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {:.1})\">{}</text>\n",
            t + ph / 2.0,
            t + ph / 2.0,
            esc(&self.y_label)
        ));
        if let Some((y, label)) = &self.hline {
            svg.line(
                l,
                fr.sy(*y),
                l + pw,
                fr.sy(*y),
                r##"stroke="#a00" stroke-dasharray="6 4""##,
            );
            svg.text(
                l + pw - 4.0,
                fr.sy(*y) - 4.0,
                label,
                "end",
                r##"fill="#a00""##,
            );
        }
    }
}

/// A plot's drawing area and the data range it maps.
struct Frame {
    l: f64,
    t: f64,
    pw: f64,
    ph: f64,
    xmin: f64,
    xmax: f64,
    ymax: f64,
}

impl Frame {
    fn sx(&self, x: f64) -> f64 {
        self.l + (x - self.xmin) / (self.xmax - self.xmin) * self.pw
    }

    fn sy(&self, y: f64) -> f64 {
        self.t + self.ph - y / self.ymax * self.ph
    }
}

/// One series: its line (broken where a point has no value), its points and its legend
/// entry.
fn series(svg: &mut Svg, fr: &Frame, i: usize, s: &Series) {
    let colour = PALETTE[i % PALETTE.len()];
    let style = format!(r#"stroke="{colour}" stroke-width="2""#);
    let mut run: Vec<(f64, f64)> = Vec::new();
    for (x, y) in &s.points {
        match y {
            Some(y) => run.push((fr.sx(*x), fr.sy(*y))),
            None => {
                if run.len() > 1 {
                    svg.polyline(&run, &style, &format!("series {}", s.name));
                }
                run.clear();
            }
        }
    }
    if run.len() > 1 {
        svg.polyline(&run, &style, &format!("series {}", s.name));
    }
    for (x, y) in &s.points {
        if let Some(y) = y {
            svg.circle(
                fr.sx(*x),
                fr.sy(*y),
                3.5,
                &format!(r#"class="point" fill="{colour}""#),
                Some(&format!("{}: x={} y={}", s.name, num(*x), num(*y))),
            );
        }
    }
    let ly = fr.t + 10.0 + i as f64 * 18.0;
    let lx = fr.l + fr.pw;
    svg.line(
        lx + 12.0,
        ly,
        lx + 32.0,
        ly,
        &format!(r#"class="legend" {style}"#),
    );
    svg.text(lx + 38.0, ly + 4.0, &s.name, "start", "");
}

/// A categorical heatmap: each cell a rate in `[0, 1]` (or no data), coloured from green
/// (0) through amber to red (1), with its label written inside.
#[derive(Clone, Debug)]
pub struct Heatmap {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub xs: Vec<String>,
    pub ys: Vec<String>,
    /// `cells[y][x]`: the value and the text written in the cell.
    pub cells: Vec<Vec<Option<(f64, String)>>>,
}

/// Green for exactly zero, then amber to red as the rate grows.
#[must_use]
pub fn rate_colour(v: f64) -> String {
    if v <= 0.0 {
        return "#7fc97f".into();
    }
    let v = v.clamp(0.0, 1.0).sqrt();
    let g = (200.0 * (1.0 - v) + 40.0) as u8;
    format!("#e8{g:02x}30")
}

impl Heatmap {
    #[must_use]
    pub fn render(&self) -> String {
        let cw = 84.0;
        let chh = 34.0;
        let (l, t) = (110.0, 44.0);
        let w = l + cw * self.xs.len().max(1) as f64 + 20.0;
        let h = t + chh * self.ys.len().max(1) as f64 + 56.0;
        let mut svg = Svg::new(w.max(320.0), h);
        svg.text(
            w.max(320.0) / 2.0,
            22.0,
            &self.title,
            "middle",
            r#"font-size="14" font-weight="bold""#,
        );
        if self.xs.is_empty() || self.ys.is_empty() {
            svg.text(w / 2.0, h / 2.0, "no cells", "middle", r##"fill="#a00""##);
            return svg.finish(&self.title);
        }
        // Rows are drawn top to bottom from the largest y, so y grows upwards.
        for (row, yi) in (0..self.ys.len()).rev().enumerate() {
            let y = t + row as f64 * chh;
            svg.text(l - 6.0, y + chh / 2.0 + 4.0, &self.ys[yi], "end", "");
            for (xi, _) in self.xs.iter().enumerate() {
                let x = l + xi as f64 * cw;
                match self
                    .cells
                    .get(yi)
                    .and_then(|r| r.get(xi))
                    .cloned()
                    .flatten()
                {
                    Some((v, label)) => {
                        let style =
                            format!(r#"class="cell" fill="{}" stroke="white""#, rate_colour(v));
                        svg.rect(x, y, cw, chh, &style, Some(&label));
                        svg.text(x + cw / 2.0, y + chh / 2.0 + 4.0, &label, "middle", "");
                    }
                    None => {
                        svg.rect(
                            x,
                            y,
                            cw,
                            chh,
                            r##"class="cell empty" fill="#eee" stroke="white""##,
                            Some("not run (renew >= TTL, or no such cell)"),
                        );
                        svg.text(
                            x + cw / 2.0,
                            y + chh / 2.0 + 4.0,
                            "-",
                            "middle",
                            r##"fill="#888""##,
                        );
                    }
                }
            }
        }
        let bottom = t + chh * self.ys.len() as f64;
        for (xi, xs) in self.xs.iter().enumerate() {
            svg.text(
                l + xi as f64 * cw + cw / 2.0,
                bottom + 16.0,
                xs,
                "middle",
                "",
            );
        }
        svg.text(
            l + cw * self.xs.len() as f64 / 2.0,
            bottom + 38.0,
            &self.x_label,
            "middle",
            "",
        );
        svg.raw(&format!(
            "<text x=\"14\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {:.1})\">{}</text>\n",
            t + chh * self.ys.len() as f64 / 2.0,
            t + chh * self.ys.len() as f64 / 2.0,
            esc(&self.y_label)
        ));
        svg.finish(&self.title)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let t = ticks(0.0, 1.0, 5);
        assert_eq!(t.len(), 6, "{t:?}");
        assert!(
            (t[1] - 0.2).abs() < 1e-9 && (t[5] - 1.0).abs() < 1e-9,
            "{t:?}"
        );
        assert_eq!(num(2.0), "2");
        assert_eq!(num(0.25), "0.25");
    }

    #[test]
    fn escaping_and_empty_plots() {
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        let p = LinePlot {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: vec![],
            hline: None,
        };
        assert!(p.render().contains("no data in any cell"));
        // The legend widens the plot for a long name (it was cut at the right edge) and
        // leaves a short one's plot as it was.
        let named = |name: &str| LinePlot {
            series: vec![Series {
                name: name.into(),
                points: vec![(1.0, Some(1.0)), (2.0, Some(2.0))],
            }],
            ..p.clone()
        };
        assert!(named("short").render().contains(r#"viewBox="0 0 640 400""#));
        let long = "TTL 5000 / renew 1000, intent 3000 ms"; // 37 characters
        assert!(named(long).render().contains(r#"viewBox="0 0 779 400""#));
        assert_eq!(rate_colour(0.0), "#7fc97f");
        assert_ne!(rate_colour(0.5), rate_colour(1.0));
    }
}
