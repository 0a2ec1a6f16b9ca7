//! The charts of a report, built from the run: per workload (throughput, capacity, p99, server CPU,
//! memory, the latency-vs-rate ladder, percentile curves, per-second series) and per target (cold
//! start, idle memory, install footprint). The same builders serve one run and a comparison
//! (grouped bars; line charts side by side on shared scales).

use std::collections::BTreeMap;

use store::model::{CellStatus, CellSummary, RunSummary, Spread, TargetSummary};

use crate::charts::{self, Bar, BarRow, LineChart, Marker, Series, Swatch, XAxis, PALETTE};
use crate::input::ReportInput;
use crate::svg::fmt_num;

/// A colour per target, stable across the charts of a report (and across two compared runs):
/// hues of its language's family (Node greens, Python blues, Rust orange, as in the bar charts), so
/// that a line's colour also says its language.
pub struct Colours(BTreeMap<String, String>);

const NODE_HUES: [&str; 5] = ["#2e8b3e", "#7cc36b", "#0f5c2a", "#a3a33a", "#3fb39a"];
const PYTHON_HUES: [&str; 5] = ["#3b6fb6", "#8fb8e8", "#1f3f7a", "#8a67c2", "#2aa3d9"];
const RUST_HUES: [&str; 2] = ["#e8743b", "#b8521c"];

impl Colours {
    pub fn new<'a>(runs: impl IntoIterator<Item = &'a RunSummary>) -> Colours {
        let mut m = BTreeMap::new();
        let mut used: BTreeMap<String, usize> = BTreeMap::new();
        for run in runs {
            let names = run
                .targets
                .iter()
                .map(|t| &t.name)
                .chain(run.cells.iter().map(|c| &c.target));
            for name in names {
                if m.contains_key(name) {
                    continue;
                }
                let lang = language(run, name).to_string();
                let n = used.entry(lang.clone()).or_insert(0);
                let hues: &[&str] = match lang.as_str() {
                    "node" => &NODE_HUES,
                    "python" => &PYTHON_HUES,
                    "rust" => &RUST_HUES,
                    _ => &PALETTE[7..],
                };
                // Past a family's hues, fall back to the categorical palette.
                let colour = hues
                    .get(*n)
                    .copied()
                    .unwrap_or(PALETTE[(m.len()) % PALETTE.len()]);
                *n += 1;
                m.insert(name.clone(), colour.to_string());
            }
        }
        Colours(m)
    }

    pub fn of(&self, target: &str) -> String {
        self.0
            .get(target)
            .cloned()
            .unwrap_or_else(|| PALETTE[9].to_string())
    }
}

fn language<'a>(run: &'a RunSummary, target: &str) -> &'a str {
    run.target(target)
        .map(|t| t.language.as_str())
        .unwrap_or("")
}

/// One bar-chart figure of a cell: (median, min, max) or none.
pub struct BarMetric {
    pub title: &'static str,
    pub axis: &'static str,
    pub unit: &'static str,
    pub get: fn(&CellSummary) -> Option<(f64, f64, f64)>,
    /// The capacity at the SLO (a missing figure means none under the SLO).
    pub capacity: bool,
}

fn sp(s: Option<&Spread>) -> Option<(f64, f64, f64)> {
    s.map(|s| (s.median, s.min, s.max))
}

/// The bar charts of a workload, in order; each is drawn when some cell has the figure.
pub const CELL_BARS: &[BarMetric] = &[
    BarMetric {
        title: "Throughput (median of repeats, whiskers: min–max)",
        axis: "responses per second",
        unit: "req/s",
        get: |c| sp(c.metric("throughput_rps")),
        capacity: false,
    },
    BarMetric {
        title: "Capacity at the SLO (highest rate with corrected p99 under the SLO)",
        axis: "requests per second",
        unit: "req/s",
        get: |c| c.capacity_rps.map(|v| (v, v, v)),
        capacity: true,
    },
    BarMetric {
        title: "p99 latency (saturation: from send; open loop: corrected, at the capacity rate)",
        axis: "milliseconds",
        unit: "ms",
        get: |c| sp(c.metric("p99_ms")),
        capacity: false,
    },
    BarMetric {
        title: "Server CPU per response (whole process tree)",
        axis: "CPU microseconds per response",
        unit: "µs",
        get: |c| sp(c.metric("server_cpu_us_per_req")),
        capacity: false,
    },
    BarMetric {
        title: "Server memory during the run (PSS over the process tree, mean)",
        axis: "megabytes",
        unit: "MB",
        get: |c| sp(c.metric("pss_mean_mb")),
        capacity: false,
    },
];

/// The bars of a held-connections workload (`ws-hold`): its figures are not responses.
pub const HOLD_BARS: &[BarMetric] = &[
    BarMetric {
        title: "WebSocket connections held at the end of the hold (median, whiskers: min–max)",
        axis: "connections",
        unit: "connections",
        get: |c| sp(c.metric("connections_held")),
        capacity: false,
    },
    BarMetric {
        title: "Server memory per 1,000 held connections ((PSS holding − idle) / held × 1000)",
        axis: "megabytes per 1,000 connections",
        unit: "MB",
        get: |c| sp(c.metric("mb_per_1k_conns")),
        capacity: false,
    },
    BarMetric {
        title: "Echo round trip p99 while holding",
        axis: "milliseconds",
        unit: "ms",
        get: |c| sp(c.metric("p99_ms")),
        capacity: false,
    },
    BarMetric {
        title: "Server CPU per echoed message (whole process tree)",
        axis: "CPU microseconds per message",
        unit: "µs",
        get: |c| sp(c.metric("server_cpu_us_per_req")),
        capacity: false,
    },
];

fn cell_bar(
    run: &RunSummary,
    c: Option<&CellSummary>,
    m: &BarMetric,
    faded: bool,
    who: &str,
) -> Bar {
    let none = |text: &str| Bar {
        value: None,
        min: None,
        max: None,
        colour: String::new(),
        faded,
        text: text.to_string(),
        tip: String::new(),
    };
    let Some(c) = c else {
        return none("not measured");
    };
    if let CellStatus::Failed(_) = c.status {
        return none("failed");
    }
    let Some((v, lo, hi)) = (m.get)(c) else {
        return none(if c.ladder.is_empty() || !m.capacity {
            "–"
        } else {
            "none under the SLO"
        });
    };
    let bound = if c.lower_bound && m.unit == "req/s" {
        "≥ "
    } else {
        ""
    };
    let flag = match c.status {
        CellStatus::Flagged(_) => " (flagged)",
        _ => "",
    };
    let text = format!(
        "{bound}{} {}{flag}",
        charts::median_range(v, lo, hi, 2),
        m.unit
    );
    let n = c.repeats;
    Bar {
        value: Some(v),
        min: (hi > lo).then_some(lo),
        max: (hi > lo).then_some(hi),
        colour: charts::language_colour(language(run, &c.target)).to_string(),
        faded: faded || matches!(c.status, CellStatus::Flagged(_)),
        text: format!("{bound}{} {}{flag}", fmt_num(v), m.unit),
        tip: format!("{who}{} / {}: {text}, {n} repeat(s)", c.target, c.workload),
    }
}

/// The legend of a bar chart: the languages, and in a comparison which bars are which run.
fn bar_legend(
    runs: &[&RunSummary],
    this: &RunSummary,
    base: Option<&RunSummary>,
) -> Vec<(String, String, Swatch)> {
    let mut legend = language_legend(runs);
    if let Some(b) = base {
        legend.push((
            format!("this run #{}", this.run_id),
            "#8c8c8c".into(),
            Swatch::Box,
        ));
        legend.push((
            format!("baseline #{}", b.run_id),
            "#8c8c8c".into(),
            Swatch::FadedBox,
        ));
    }
    legend
}

fn language_legend(runs: &[&RunSummary]) -> Vec<(String, String, Swatch)> {
    let mut langs: Vec<&str> = Vec::new();
    for r in runs {
        for t in &r.targets {
            if !langs.contains(&t.language.as_str()) {
                langs.push(&t.language);
            }
        }
    }
    langs
        .into_iter()
        .map(|l| {
            (
                display_language(l),
                charts::language_colour(l).to_string(),
                Swatch::Box,
            )
        })
        .collect()
}

fn display_language(l: &str) -> String {
    match l {
        "node" => "Node.js".into(),
        "python" => "Python".into(),
        "rust" => "Rust (baseline)".into(),
        other => other.to_string(),
    }
}

fn targets_of(runs: &[&RunSummary], w: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in runs {
        let order = r
            .targets
            .iter()
            .map(|t| &t.name)
            .chain(r.cells.iter().map(|c| &c.target));
        for t in order {
            if r.cell(t, w).is_some() && !out.contains(t) {
                out.push(t.clone());
            }
        }
    }
    out
}

/// The bar charts of workload `w`: one bar per target, or (with a baseline) this run's bar above
/// the baseline's, faded.
pub fn workload_bars(this: &RunSummary, base: Option<&RunSummary>, w: &str) -> Vec<String> {
    let runs: Vec<&RunSummary> = std::iter::once(this).chain(base).collect();
    let targets = targets_of(&runs, w);
    let mut out = Vec::new();
    let hold = crate::derive::kind_of(w).0 == Some(workloads::Kind::Hold);
    for m in if hold { HOLD_BARS } else { CELL_BARS } {
        let any = runs.iter().any(|r| {
            r.cells
                .iter()
                .filter(|c| c.workload == w)
                .any(|c| (m.get)(c).is_some())
        });
        if !any {
            continue;
        }
        let rows: Vec<BarRow> = targets
            .iter()
            .map(|t| {
                let mut bars = vec![cell_bar(
                    this,
                    this.cell(t, w),
                    m,
                    false,
                    if base.is_some() { "this run: " } else { "" },
                )];
                if let Some(b) = base {
                    bars.push(cell_bar(b, b.cell(t, w), m, true, "baseline: "));
                }
                BarRow {
                    label: t.clone(),
                    bars,
                }
            })
            .collect();
        let legend = bar_legend(&runs, this, base);
        out.push(charts::bar_chart(
            &format!("{w}: {}", m.title),
            m.axis,
            &rows,
            &legend,
        ));
    }
    out
}

/// Latency vs offered rate (corrected p99 per rung), the SLO line and each target's capacity.
pub fn ladder_chart(run: &RunSummary, w: &str, colours: &Colours) -> Option<LineChart> {
    let cells: Vec<&CellSummary> = run
        .cells
        .iter()
        .filter(|c| c.workload == w && !c.ladder.is_empty())
        .collect();
    if cells.is_empty() {
        return None;
    }
    // Rates of a fast and a slow target differ by decades: then the rate axis is logarithmic.
    let rates = cells
        .iter()
        .flat_map(|c| c.ladder.iter().map(|p| p.offered_rps))
        .filter(|r| *r > 0.0);
    let (lo, hi) = rates.fold((f64::INFINITY, 0.0f64), |(lo, hi), r| {
        (lo.min(r), hi.max(r))
    });
    let log_x = hi / lo > 20.0;
    let mut ch = LineChart::new(
        &format!("{w}: corrected p99 latency vs offered rate"),
        if log_x { XAxis::Log } else { XAxis::Linear },
        if log_x {
            "offered rate, requests per second (log)"
        } else {
            "offered rate, requests per second"
        },
        true,
        "p99 ms (log)",
    );
    let mut slo = None;
    for c in &cells {
        let colour = colours.of(&c.target);
        let mut pts: Vec<_> = c.ladder.iter().map(|p| (p.offered_rps, p.p99_ms)).collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        ch.series.push(Series {
            name: c.target.clone(),
            colour: colour.clone(),
            dashed: false,
            points: pts.clone(),
            in_legend: true,
        });
        for p in c.ladder.iter().filter(|p| p.errors > 0) {
            ch.markers.push(Marker {
                x: p.offered_rps,
                y: p.p99_ms,
                colour: "#d62728".into(),
                cross: true,
                tip: format!(
                    "{}: {} errors at {} req/s offered",
                    c.target,
                    p.errors,
                    fmt_num(p.offered_rps)
                ),
            });
        }
        if let Some(cap) = c.capacity_rps {
            let y = interpolate(&pts, cap).unwrap_or(c.slo_p99_ms.unwrap_or(1.0));
            ch.markers.push(Marker {
                x: cap,
                y,
                colour: colour.clone(),
                cross: false,
                tip: format!(
                    "{}: capacity {} req/s at p99 {} ms",
                    c.target,
                    fmt_num(cap),
                    fmt_num(y)
                ),
            });
        }
        slo = slo.or(c.slo_p99_ms);
    }
    if let Some(s) = slo {
        ch.hlines.push((s, format!("SLO: p99 {} ms", fmt_num(s))));
    }
    ch.legend_extra.push((
        "◆ capacity at the SLO".into(),
        "currentColor".into(),
        Swatch::Line,
    ));
    if ch.markers.iter().any(|m| m.cross) {
        ch.legend_extra
            .push(("✕ rung with errors".into(), "#d62728".into(), Swatch::Line));
    }
    Some(ch)
}

fn interpolate(pts: &[(f64, f64)], x: f64) -> Option<f64> {
    pts.windows(2)
        .find(|w| w[0].0 <= x && x <= w[1].0)
        .map(|w| {
            if w[1].0 == w[0].0 {
                w[0].1
            } else {
                w[0].1 + (x - w[0].0) / (w[1].0 - w[0].0) * (w[1].1 - w[0].1)
            }
        })
        .or_else(|| pts.iter().find(|p| p.0 == x).map(|p| p.1))
}

/// Latency percentile curves of the cells that have detail: corrected solid, uncorrected dashed.
pub fn percentile_chart(input: &ReportInput, w: &str, colours: &Colours) -> Option<LineChart> {
    let ds: Vec<_> = input
        .details
        .iter()
        .filter(|d| d.workload == w && (!d.from_send.is_empty() || !d.from_schedule.is_empty()))
        .collect();
    if ds.is_empty() {
        return None;
    }
    let mut ch = LineChart::new(
        &format!("{w}: latency by percentile"),
        XAxis::Percentile,
        "percentile (log scale of the tail: each step is one more nine)",
        true,
        "latency ms (log)",
    );
    let mut corrected = false;
    for d in &ds {
        let colour = colours.of(&d.target);
        if !d.from_schedule.is_empty() {
            corrected = true;
            ch.series.push(Series {
                name: d.target.clone(),
                colour: colour.clone(),
                dashed: false,
                points: d.from_schedule.iter().map(|p| (p.p, p.ms)).collect(),
                in_legend: true,
            });
        }
        if !d.from_send.is_empty() {
            ch.series.push(Series {
                name: d.target.clone(),
                colour,
                dashed: corrected,
                points: d.from_send.iter().map(|p| (p.p, p.ms)).collect(),
                in_legend: d.from_schedule.is_empty(),
            });
        }
    }
    if corrected {
        ch.legend_extra.push((
            "corrected (from the scheduled send)".into(),
            "currentColor".into(),
            Swatch::Line,
        ));
        ch.legend_extra.push((
            "uncorrected (from the actual send)".into(),
            "currentColor".into(),
            Swatch::Dashed,
        ));
    } else {
        ch.legend_extra.push((
            "closed loop: from the actual send".into(),
            "currentColor".into(),
            Swatch::Line,
        ));
    }
    Some(ch)
}

/// Per-second series of the cells that have them: responses per second, and p99 per second.
pub fn per_second_charts(input: &ReportInput, w: &str, colours: &Colours) -> Vec<LineChart> {
    let ds: Vec<_> = input
        .details
        .iter()
        .filter(|d| d.workload == w && !d.per_second.is_empty())
        .collect();
    if ds.is_empty() {
        return Vec::new();
    }
    let mut rate = LineChart::new(
        &format!("{w}: responses per second over the run"),
        XAxis::Linear,
        "seconds from the start of measuring",
        true,
        "responses/s (log)",
    );
    let mut p99 = LineChart::new(
        &format!("{w}: p99 latency per second"),
        XAxis::Linear,
        "seconds from the start of measuring",
        true,
        "p99 ms (log)",
    );
    let mut any_corrected = false;
    for d in &ds {
        let colour = colours.of(&d.target);
        rate.series.push(Series {
            name: d.target.clone(),
            colour: colour.clone(),
            dashed: false,
            points: d
                .per_second
                .iter()
                .map(|s| (s.t_s, s.responses as f64))
                .collect(),
            in_legend: true,
        });
        for s in d.per_second.iter().filter(|s| s.errors > 0) {
            rate.markers.push(Marker {
                x: s.t_s,
                y: (s.responses as f64).max(1.0),
                colour: "#d62728".into(),
                cross: true,
                tip: format!(
                    "{}: {} errors in second {}",
                    d.target,
                    s.errors,
                    fmt_num(s.t_s)
                ),
            });
        }
        let corrected: Vec<_> = d
            .per_second
            .iter()
            .filter_map(|s| s.corrected_p99_ms.map(|v| (s.t_s, v)))
            .collect();
        let has_corrected = !corrected.is_empty();
        if has_corrected {
            any_corrected = true;
            p99.series.push(Series {
                name: d.target.clone(),
                colour: colour.clone(),
                dashed: false,
                points: corrected,
                in_legend: true,
            });
        }
        p99.series.push(Series {
            name: d.target.clone(),
            colour,
            dashed: has_corrected,
            points: d
                .per_second
                .iter()
                .filter_map(|s| s.p99_ms.map(|v| (s.t_s, v)))
                .collect(),
            in_legend: !has_corrected,
        });
    }
    if rate.markers.iter().any(|m| m.cross) {
        rate.legend_extra.push((
            "✕ second with errors".into(),
            "#d62728".into(),
            Swatch::Line,
        ));
    }
    if any_corrected {
        p99.legend_extra
            .push(("corrected".into(), "currentColor".into(), Swatch::Line));
        p99.legend_extra
            .push(("uncorrected".into(), "currentColor".into(), Swatch::Dashed));
    }
    vec![rate, p99]
}

/// All line charts of a workload for one run.
pub fn workload_lines(input: &ReportInput, w: &str, colours: &Colours) -> Vec<LineChart> {
    let mut out = Vec::new();
    out.extend(ladder_chart(&input.summary, w, colours));
    out.extend(percentile_chart(input, w, colours));
    out.extend(per_second_charts(input, w, colours));
    out
}

/// Gives two charts the union of their domains so that side-by-side charts share their scales.
pub fn share_domains(a: &mut LineChart, b: &mut LineChart) {
    let ((ax, ay), (bx, by)) = (a.data_domain(), b.data_domain());
    let x = (ax.0.min(bx.0), ax.1.max(bx.1));
    let y = (ay.0.min(by.0), ay.1.max(by.1));
    for ch in [a, b] {
        ch.x_domain = Some(x);
        ch.y_domain = Some(y);
    }
}

/// A per-target figure: (median, min, max).
pub struct TargetMetric {
    pub title: &'static str,
    pub axis: &'static str,
    pub unit: &'static str,
    pub get: fn(&TargetSummary) -> Option<(f64, f64, f64)>,
}

pub const TARGET_BARS: &[TargetMetric] = &[
    TargetMetric {
        title: "Cold start: spawn to first correct response (median of fresh starts, whiskers: min–max)",
        axis: "milliseconds",
        unit: "ms",
        get: |t| sp(t.metric("cold_start_ms")),
    },
    TargetMetric {
        title: "Idle memory after start (PSS over the process tree)",
        axis: "megabytes",
        unit: "MB",
        get: |t| t.value("idle_pss_mb").map(|v| (v, v, v)),
    },
    TargetMetric {
        title: "Install footprint on disk",
        axis: "megabytes",
        unit: "MB",
        get: |t| t.value("install_bytes").map(|v| v as u64).map(|b| b as f64 / 1e6).map(|v| (v, v, v)),
    },
];

fn target_bar(t: Option<&TargetSummary>, m: &TargetMetric, faded: bool, who: &str) -> Bar {
    let fig = t.and_then(|t| (m.get)(t));
    match (t, fig) {
        (Some(t), Some((v, lo, hi))) => {
            let pk = if m.unit == "MB" && m.title.starts_with("Install") {
                t.value("install_packages")
                    .map(|v| v as u64)
                    .map(|p| format!(", {p} packages"))
                    .unwrap_or_default()
            } else {
                String::new()
            };
            Bar {
                value: Some(v),
                min: (hi > lo).then_some(lo),
                max: (hi > lo).then_some(hi),
                colour: charts::language_colour(&t.language).to_string(),
                faded,
                text: format!("{} {}{pk}", fmt_num(v), m.unit),
                tip: format!(
                    "{who}{}: {} {}{pk}",
                    t.name,
                    charts::median_range(v, lo, hi, 2),
                    m.unit
                ),
            }
        }
        (t, _) => Bar {
            value: None,
            min: None,
            max: None,
            colour: String::new(),
            faded,
            text: if t.is_some_and(|t| t.failure.is_some()) {
                "not measured (failed)".into()
            } else {
                "–".into()
            },
            tip: String::new(),
        },
    }
}

pub fn target_bars(this: &RunSummary, base: Option<&RunSummary>) -> Vec<String> {
    let runs: Vec<&RunSummary> = std::iter::once(this).chain(base).collect();
    let mut names: Vec<String> = Vec::new();
    for r in &runs {
        for t in &r.targets {
            if !names.contains(&t.name) {
                names.push(t.name.clone());
            }
        }
    }
    let mut out = Vec::new();
    for m in TARGET_BARS {
        if !runs
            .iter()
            .any(|r| r.targets.iter().any(|t| (m.get)(t).is_some()))
        {
            continue;
        }
        let rows: Vec<BarRow> = names
            .iter()
            .map(|n| {
                let mut bars = vec![target_bar(
                    this.target(n),
                    m,
                    false,
                    if base.is_some() { "this run: " } else { "" },
                )];
                if let Some(b) = base {
                    bars.push(target_bar(b.target(n), m, true, "baseline: "));
                }
                BarRow {
                    label: n.clone(),
                    bars,
                }
            })
            .collect();
        let legend = bar_legend(&runs, this, base);
        out.push(charts::bar_chart(m.title, m.axis, &rows, &legend));
    }
    out
}
