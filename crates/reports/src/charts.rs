//! The charts, drawn as inline SVG from plain data: horizontal bars with min–max whiskers (one or
//! two bars per row, for comparisons) and line charts on linear, log10 or percentile axes with
//! reference lines (the SLO) and markers (capacity). Every data mark has the class `mark` and a
//! `<title>` tooltip with its exact figure.

use crate::svg::{c, fmt_num, fmt_tick, Linear, Log10, PercentileAxis, Svg};

/// Colours that read on white and on near-black backgrounds (and in print).
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f",
    "#ff9da7", "#8c8c8c",
];

/// The bar colour of a language: Node green, Python blue, Rust orange.
pub fn language_colour(language: &str) -> &'static str {
    match language {
        "node" => "#3f9b4f",
        "python" => "#4e79a7",
        "rust" => "#e8743b",
        _ => "#8c8c8c",
    }
}

const WIDTH: f64 = 620.0;
const CHAR_W: f64 = 6.4;

/// One bar (a median with its min–max whisker), or a note where there is no figure.
#[derive(Debug, Clone)]
pub struct Bar {
    pub value: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub colour: String,
    /// Drawn faded (flagged cells, the baseline of a comparison).
    pub faded: bool,
    /// The text right of the bar (the figure, or why there is none).
    pub text: String,
    pub tip: String,
}

#[derive(Debug, Clone)]
pub struct BarRow {
    pub label: String,
    pub bars: Vec<Bar>,
}

/// Horizontal bars, one row per target; `legend` entries are (text, colour, faded).
pub fn bar_chart(
    title: &str,
    axis: &str,
    rows: &[BarRow],
    legend: &[(String, String, Swatch)],
) -> String {
    let label_w = rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(6, 28) as f64
        * CHAR_W
        + 12.0;
    let text_w = rows
        .iter()
        .flat_map(|r| r.bars.iter().map(|b| b.text.chars().count()))
        .max()
        .unwrap_or(4)
        .clamp(4, 30) as f64
        * CHAR_W
        + 10.0;
    let (x0, x1) = (label_w, WIDTH - text_w);
    let bar_h = 13.0;
    let top = 22.0;
    let max = rows
        .iter()
        .flat_map(|r| r.bars.iter())
        .filter_map(|b| b.max.or(b.value))
        .fold(0.0f64, f64::max);
    let (scale, ticks) = Linear::nice_from_zero(max, (x0, x1), 5);
    let row_h: Vec<f64> = rows
        .iter()
        .map(|r| r.bars.len().max(1) as f64 * (bar_h + 2.0) + 8.0)
        .collect();
    let plot_h: f64 = row_h.iter().sum();
    let legend_h = if legend.is_empty() { 0.0 } else { 20.0 };
    let mut s = Svg::new(WIDTH, top + plot_h + 34.0 + legend_h);
    s.text(
        0.0,
        13.0,
        "start",
        r#"font-weight="bold" font-size="12""#,
        title,
    );
    let y_axis = top + plot_h;
    for t in &ticks {
        let x = scale.map(*t);
        s.line(
            x,
            top,
            x,
            y_axis,
            r#"stroke="currentColor" stroke-opacity="0.15""#,
        );
        s.text(x, y_axis + 13.0, "middle", "", &fmt_tick(*t));
    }
    s.line(x0, top, x0, y_axis, r#"stroke="currentColor""#);
    s.line(x0, y_axis, x1, y_axis, r#"stroke="currentColor""#);
    s.text((x0 + x1) / 2.0, y_axis + 27.0, "middle", "", axis);
    let mut y = top;
    for (row, h) in rows.iter().zip(&row_h) {
        let mid = y + h / 2.0;
        s.text(x0 - 6.0, mid + 4.0, "end", "", &row.label);
        let mut by = y + 4.0;
        for b in &row.bars {
            let cy = by + bar_h / 2.0;
            let mut text_x = x0 + 4.0;
            if let Some(v) = b.value {
                let op = if b.faded { "0.4" } else { "0.9" };
                s.rect(
                    x0,
                    by,
                    scale.map(v) - x0,
                    bar_h,
                    &format!(r#"class="mark" fill="{}" fill-opacity="{op}""#, b.colour),
                    Some(&b.tip),
                );
                text_x = scale.map(v) + 4.0;
                if let (Some(lo), Some(hi)) = (b.min, b.max) {
                    if hi > lo {
                        let (xl, xh) = (scale.map(lo), scale.map(hi));
                        s.line(
                            xl,
                            cy,
                            xh,
                            cy,
                            r#"class="whisker" stroke="currentColor" stroke-width="1.2""#,
                        );
                        s.line(
                            xl,
                            cy - 4.0,
                            xl,
                            cy + 4.0,
                            r#"stroke="currentColor" stroke-width="1.2""#,
                        );
                        s.line(
                            xh,
                            cy - 4.0,
                            xh,
                            cy + 4.0,
                            r#"stroke="currentColor" stroke-width="1.2""#,
                        );
                    }
                    text_x = text_x.max(scale.map(hi) + 4.0);
                }
            }
            s.text(text_x, cy + 4.0, "start", "", &b.text);
            by += bar_h + 2.0;
        }
        y += h;
    }
    let end = legend_row(
        &mut s,
        y_axis + 50.0,
        legend.iter().map(|(t, c, w)| (t.as_str(), c.as_str(), *w)),
    );
    s.set_height(end.max(s.height()));
    s.finish(title, "chart bars")
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swatch {
    Box,
    FadedBox,
    Line,
    Dashed,
}

fn legend_row<'a>(
    s: &mut Svg,
    y: f64,
    entries: impl Iterator<Item = (&'a str, &'a str, Swatch)>,
) -> f64 {
    let mut x = 0.0;
    let mut y = y;
    let mut any = false;
    for (text, colour, swatch) in entries {
        any = true;
        let w = 22.0 + text.chars().count() as f64 * CHAR_W + 14.0;
        if x + w > WIDTH && x > 0.0 {
            x = 0.0;
            y += 16.0;
        }
        match swatch {
            Swatch::Line | Swatch::Dashed => {
                let dash = if swatch == Swatch::Dashed {
                    r#" stroke-dasharray="4 2""#
                } else {
                    ""
                };
                s.line(
                    x,
                    y - 4.0,
                    x + 16.0,
                    y - 4.0,
                    &format!(r#"stroke="{colour}" stroke-width="2"{dash}"#),
                );
            }
            Swatch::Box | Swatch::FadedBox => {
                let op = if swatch == Swatch::FadedBox {
                    "0.4"
                } else {
                    "0.9"
                };
                s.rect(
                    x,
                    y - 9.0,
                    16.0,
                    10.0,
                    &format!(r#"fill="{colour}" fill-opacity="{op}""#),
                    None,
                );
            }
        }
        s.text(x + 20.0, y, "start", "", text);
        x += w;
    }
    if any {
        y + 8.0
    } else {
        y - 16.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum XAxis {
    Linear,
    /// log10, for rates that span decades (a ladder of a fast and a slow target).
    Log,
    /// Percentiles on the log "nines" axis (see [`PercentileAxis`]).
    Percentile,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub colour: String,
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
    /// Listed in the legend (as a box of its colour); one series per target usually is.
    pub in_legend: bool,
}

#[derive(Debug, Clone)]
pub struct Marker {
    pub x: f64,
    pub y: f64,
    pub colour: String,
    /// A cross instead of a diamond (errors).
    pub cross: bool,
    pub tip: String,
}

#[derive(Debug, Clone)]
pub struct LineChart {
    pub title: String,
    pub x: XAxis,
    pub x_label: String,
    pub y_log: bool,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Horizontal reference lines: (y, label), e.g. the SLO.
    pub hlines: Vec<(f64, String)>,
    pub markers: Vec<Marker>,
    /// Extra legend entries after the series'.
    pub legend_extra: Vec<(String, String, Swatch)>,
    /// Fixed domains, so that charts shown side by side share their scales.
    pub x_domain: Option<(f64, f64)>,
    pub y_domain: Option<(f64, f64)>,
    pub width: f64,
    pub height: f64,
}

impl LineChart {
    pub fn new(title: &str, x: XAxis, x_label: &str, y_log: bool, y_label: &str) -> LineChart {
        LineChart {
            title: title.to_string(),
            x,
            x_label: x_label.to_string(),
            y_log,
            y_label: y_label.to_string(),
            series: Vec::new(),
            hlines: Vec::new(),
            markers: Vec::new(),
            legend_extra: Vec::new(),
            x_domain: None,
            y_domain: None,
            width: WIDTH,
            height: 260.0,
        }
    }

    /// The (x, y) data bounds of the chart's series, markers and reference lines.
    pub fn data_domain(&self) -> ((f64, f64), (f64, f64)) {
        let pts = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .chain(self.markers.iter().map(|m| (m.x, m.y)))
            .filter(|(x, y)| {
                x.is_finite()
                    && y.is_finite()
                    && (!self.y_log || *y > 0.0)
                    && (self.x != XAxis::Log || *x > 0.0)
            });
        let mut xd = (f64::INFINITY, f64::NEG_INFINITY);
        let mut yd = (f64::INFINITY, f64::NEG_INFINITY);
        for (x, y) in pts {
            xd = (xd.0.min(x), xd.1.max(x));
            yd = (yd.0.min(y), yd.1.max(y));
        }
        for (y, _) in &self.hlines {
            yd = (yd.0.min(*y), yd.1.max(*y));
        }
        (xd, yd)
    }
}

enum YScale {
    Lin(Linear),
    Log(Log10),
}

impl YScale {
    fn map(&self, v: f64) -> f64 {
        match self {
            YScale::Lin(s) => s.map(v),
            YScale::Log(s) => s.map(v),
        }
    }
}

pub fn line_chart(ch: &LineChart) -> String {
    let (dx, dy) = ch.data_domain();
    let dx = ch.x_domain.unwrap_or(dx);
    let dy = ch.y_domain.unwrap_or(dy);
    let (x0, x1) = (58.0, ch.width - 16.0);
    let (top, bottom) = (24.0, ch.height - 34.0);
    let mut s = Svg::new(ch.width, ch.height);
    s.text(
        0.0,
        13.0,
        "start",
        r#"font-weight="bold" font-size="12""#,
        &ch.title,
    );

    // y scale and grid
    let (ys, yticks): (YScale, Vec<f64>) = if ch.y_log {
        let l = Log10::new(dy.0, dy.1, (bottom, top));
        let t = l.ticks();
        (YScale::Log(l), t)
    } else {
        let lo = if dy.0.is_finite() { dy.0.min(0.0) } else { 0.0 };
        let hi = if dy.1.is_finite() { dy.1 } else { 1.0 };
        let t = crate::svg::nice_ticks(lo, if hi > lo { hi } else { lo + 1.0 }, 4);
        let l = Linear::new((t[0], *t.last().unwrap()), (bottom, top));
        (YScale::Lin(l), t)
    };
    for t in &yticks {
        let y = ys.map(*t);
        s.line(
            x0,
            y,
            x1,
            y,
            r#"stroke="currentColor" stroke-opacity="0.15""#,
        );
        s.text(x0 - 5.0, y + 4.0, "end", "", &fmt_tick(*t));
    }
    // x scale and grid
    let xmap: Box<dyn Fn(f64) -> f64> = match ch.x {
        XAxis::Percentile => {
            let highest = ch
                .series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.0))
                .filter(|p| *p < 100.0)
                .fold(99.0f64, f64::max);
            let a = PercentileAxis::new(highest, (x0, x1));
            for (p, label) in a.ticks() {
                let x = a.map(p);
                s.line(
                    x,
                    top,
                    x,
                    bottom,
                    r#"stroke="currentColor" stroke-opacity="0.15""#,
                );
                s.text(x, bottom + 13.0, "middle", "", &label);
            }
            Box::new(move |p| a.map(p))
        }
        XAxis::Log => {
            let l = Log10::new(dx.0, dx.1, (x0, x1));
            for v in l.ticks() {
                let x = l.map(v);
                s.line(
                    x,
                    top,
                    x,
                    bottom,
                    r#"stroke="currentColor" stroke-opacity="0.15""#,
                );
                s.text(x, bottom + 13.0, "middle", "", &fmt_tick(v));
            }
            Box::new(move |v| l.map(v))
        }
        XAxis::Linear => {
            let lo = if dx.0.is_finite() { dx.0.min(0.0) } else { 0.0 };
            let hi = if dx.1.is_finite() && dx.1 > lo {
                dx.1
            } else {
                lo + 1.0
            };
            let t = crate::svg::nice_ticks(lo, hi, 6);
            let l = Linear::new((t[0], *t.last().unwrap()), (x0, x1));
            for v in &t {
                let x = l.map(*v);
                s.line(
                    x,
                    top,
                    x,
                    bottom,
                    r#"stroke="currentColor" stroke-opacity="0.15""#,
                );
                s.text(x, bottom + 13.0, "middle", "", &fmt_tick(*v));
            }
            Box::new(move |v| l.map(v))
        }
    };
    s.line(x0, top, x0, bottom, r#"stroke="currentColor""#);
    s.line(x0, bottom, x1, bottom, r#"stroke="currentColor""#);
    s.text((x0 + x1) / 2.0, bottom + 27.0, "middle", "", &ch.x_label);
    s.text(
        0.0,
        0.0,
        "middle",
        &format!(
            r#"transform="translate(12 {}) rotate(-90)""#,
            c((top + bottom) / 2.0)
        ),
        &ch.y_label,
    );
    for (y, label) in &ch.hlines {
        let py = ys.map(*y);
        s.line(
            x0,
            py,
            x1,
            py,
            r#"class="ref" stroke="currentColor" stroke-width="1.5" stroke-dasharray="6 3""#,
        );
        s.text(x1 - 2.0, py - 4.0, "end", r#"font-weight="bold""#, label);
    }
    let usable = |(x, y): (f64, f64)| {
        x.is_finite() && y.is_finite() && (!ch.y_log || y > 0.0) && (ch.x != XAxis::Log || x > 0.0)
    };
    for se in &ch.series {
        let pts: Vec<(f64, f64)> = se
            .points
            .iter()
            .copied()
            .filter(|p| usable(*p))
            .map(|(x, y)| (xmap(x), ys.map(y)))
            .collect();
        if pts.is_empty() {
            continue;
        }
        let dash = if se.dashed {
            r#" stroke-dasharray="5 3""#
        } else {
            ""
        };
        let attrs = format!(
            r#"class="mark" stroke="{}" stroke-width="1.8"{dash}"#,
            se.colour
        );
        if pts.len() == 1 {
            s.circle(
                pts[0].0,
                pts[0].1,
                2.5,
                &format!(r#"class="mark" fill="{}""#, se.colour),
                Some(&se.name),
            );
        } else {
            s.polyline(&pts, &attrs, Some(&se.name));
        }
    }
    for m in &ch.markers {
        if !usable((m.x, m.y)) {
            continue;
        }
        let (x, y) = (xmap(m.x), ys.map(m.y));
        if m.cross {
            s.path(
                &format!(
                    "M{} {}L{} {}M{} {}L{} {}",
                    c(x - 3.0),
                    c(y - 3.0),
                    c(x + 3.0),
                    c(y + 3.0),
                    c(x - 3.0),
                    c(y + 3.0),
                    c(x + 3.0),
                    c(y - 3.0)
                ),
                &format!(r#"class="mark" stroke="{}" stroke-width="1.6""#, m.colour),
            );
        } else {
            let d = format!(
                "M{} {}L{} {}L{} {}L{} {}Z",
                c(x),
                c(y - 5.0),
                c(x + 5.0),
                c(y),
                c(x),
                c(y + 5.0),
                c(x - 5.0),
                c(y)
            );
            s.group_start("");
            s.path(
                &d,
                &format!(
                    r#"class="mark" fill="{}" stroke="currentColor" stroke-width="0.8""#,
                    m.colour
                ),
            );
            s.group_end();
        }
        // Exact figures on hover, without script.
        s.circle(x, y, 6.0, r#"fill="transparent""#, Some(&m.tip));
    }
    let mut entries: Vec<(String, String, Swatch)> = Vec::new();
    for se in ch.series.iter().filter(|s| s.in_legend) {
        let e = (se.name.clone(), se.colour.clone(), Swatch::Box);
        if !entries.contains(&e) {
            entries.push(e);
        }
    }
    entries.extend(ch.legend_extra.iter().cloned());
    let end = legend_row(
        &mut s,
        ch.height + 6.0,
        entries.iter().map(|(t, c, w)| (t.as_str(), c.as_str(), *w)),
    );
    s.set_height(end.max(ch.height));
    s.finish(&ch.title, "chart lines")
}

/// Tooltip and bar text for a median with its range: `15,234 (14,900–15,400)`.
pub fn median_range(median: f64, min: f64, max: f64, n: usize) -> String {
    if n > 1 && max > min {
        format!("{} ({}–{})", fmt_num(median), fmt_num(min), fmt_num(max))
    } else {
        fmt_num(median)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(v: f64) -> Bar {
        Bar {
            value: Some(v),
            min: Some(v * 0.9),
            max: Some(v * 1.1),
            colour: "#123456".into(),
            faded: false,
            text: fmt_num(v),
            tip: format!("{v}"),
        }
    }

    #[test]
    fn bar_chart_draws_one_mark_and_whisker_per_bar_and_escapes_labels() {
        let rows = vec![
            BarRow {
                label: "<script>a|b</script>".into(),
                bars: vec![bar(100.0)],
            },
            BarRow {
                label: "t2".into(),
                bars: vec![bar(50.0), bar(60.0)],
            },
            BarRow {
                label: "t3".into(),
                bars: vec![Bar {
                    value: None,
                    min: None,
                    max: None,
                    colour: "#000".into(),
                    faded: false,
                    text: "failed".into(),
                    tip: String::new(),
                }],
            },
        ];
        let svg = bar_chart("Throughput", "req/s", &rows, &[]);
        assert_eq!(svg.matches(r#"class="mark""#).count(), 3);
        assert_eq!(svg.matches(r#"class="whisker""#).count(), 3);
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;a|b&lt;/script&gt;"));
        assert!(svg.contains(">failed<"));
        // The longest bar ends inside the plot.
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }

    #[test]
    fn line_chart_on_percentile_and_log_axes() {
        let mut ch = LineChart::new("Latency", XAxis::Percentile, "percentile", true, "ms");
        ch.series.push(Series {
            name: "node-http corrected".into(),
            colour: PALETTE[0].into(),
            dashed: false,
            points: vec![(50.0, 1.0), (99.0, 10.0), (99.99, 80.0), (100.0, 120.0)],
            in_legend: true,
        });
        ch.series.push(Series {
            name: "zero is dropped on a log axis".into(),
            colour: PALETTE[1].into(),
            dashed: true,
            points: vec![(50.0, 0.0), (99.0, 2.0)],
            in_legend: false,
        });
        ch.hlines.push((100.0, "SLO p99 100 ms".into()));
        ch.markers.push(Marker {
            x: 99.0,
            y: 10.0,
            colour: "#000".into(),
            cross: false,
            tip: "capacity".into(),
        });
        let svg = line_chart(&ch);
        assert_eq!(svg.matches("<polyline").count(), 1, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 2); // the single point left, and the marker's hover area
        assert!(svg.contains(">p99.99<") && svg.contains(">max<"));
        assert!(svg.contains(r#"class="ref""#) && svg.contains("SLO p99 100 ms"));
        assert!(svg.contains(">1000<") || svg.contains(">100<"));
    }

    #[test]
    fn shared_domains_give_identical_axes() {
        let mk = |v: f64| {
            let mut ch = LineChart::new("t", XAxis::Linear, "x", false, "y");
            ch.series.push(Series {
                name: "a".into(),
                colour: "#000".into(),
                dashed: false,
                points: vec![(0.0, 0.0), (10.0, v)],
                in_legend: true,
            });
            ch.y_domain = Some((0.0, 1000.0));
            ch.x_domain = Some((0.0, 10.0));
            line_chart(&ch)
        };
        let (a, b) = (mk(100.0), mk(900.0));
        let ticks = |s: &str| s.matches("text-anchor=\"end\"").count();
        assert_eq!(ticks(&a), ticks(&b));
        assert!(a.contains(">1000<") && b.contains(">1000<"));
    }
}
