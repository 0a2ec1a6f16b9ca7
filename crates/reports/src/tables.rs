//! The report's tables as neutral data (plain text cells), so that the HTML and the Markdown
//! report show the same tables; each renderer escapes the text its own way.

use store::model::{CellStatus, CellSummary, RunSummary, Spread};

use crate::derive::{self, Derived, Judgement};
use crate::svg::fmt_num;

/// How a cell is emphasised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    None,
    /// A warning (failed, flagged, lower bound, noisy).
    Warn,
    /// A comparison beyond noise, better / worse.
    Better,
    Worse,
    /// A comparison within noise (shown muted).
    Muted,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub text: String,
    pub mark: Mark,
    /// Shown on hover in HTML (e.g. the repeats' values).
    pub tip: Option<String>,
}

impl Cell {
    pub fn new(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            mark: Mark::None,
            tip: None,
        }
    }
    fn mark(mut self, m: Mark) -> Cell {
        self.mark = m;
        self
    }
    fn tip(mut self, t: Option<String>) -> Cell {
        self.tip = t;
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    pub columns: Vec<String>,
    /// Right-aligned (numeric) columns.
    pub numeric: Vec<bool>,
    pub rows: Vec<Vec<Cell>>,
    /// Rows whose first cell has text start a group (a target in a comparison): drawn apart.
    pub groups: bool,
}

impl TableSpec {
    fn new(cols: &[(&str, bool)]) -> TableSpec {
        TableSpec {
            columns: cols.iter().map(|c| c.0.to_string()).collect(),
            numeric: cols.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
            groups: false,
        }
    }

    /// Removes columns (other than the first) in which no row has any text.
    fn drop_empty_columns(mut self) -> TableSpec {
        let keep: Vec<bool> = (0..self.columns.len())
            .map(|i| i == 0 || self.rows.iter().any(|r| !r[i].text.is_empty()))
            .collect();
        fn filt<T>(v: &mut Vec<T>, keep: &[bool]) {
            let mut i = 0;
            v.retain(|_| {
                i += 1;
                keep[i - 1]
            })
        }
        filt(&mut self.columns, &keep);
        filt(&mut self.numeric, &keep);
        for r in &mut self.rows {
            filt(r, &keep);
        }
        self
    }
}

/// `median (min–max)` over repeats, or the single value.
pub fn spread_text(s: &Spread) -> String {
    crate::charts::median_range(s.median, s.min, s.max, s.values.len())
}

fn spread_cell(s: Option<&Spread>) -> Cell {
    match s {
        Some(s) => Cell::new(spread_text(s)).tip((s.values.len() > 1).then(|| {
            format!(
                "repeats: {}",
                s.values
                    .iter()
                    .map(|v| fmt_num(*v))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })),
        None => Cell::new(""),
    }
}

pub fn status_text(c: &CellSummary) -> (String, Mark) {
    let mut parts = Vec::new();
    let mut mark = Mark::None;
    match &c.status {
        CellStatus::Ok => {}
        CellStatus::Flagged(r) => {
            parts.push(format!("flagged: {r}"));
            mark = Mark::Warn;
        }
        CellStatus::Failed(r) => {
            parts.push(format!("failed: {r}"));
            mark = Mark::Warn;
        }
    }
    if c.lower_bound {
        parts.push("lower bound (engine or upstream ≥ 90% busy)".into());
        mark = Mark::Warn;
    }
    (parts.join("; "), mark)
}

pub fn bytes_mb(b: u64) -> String {
    fmt_num(b as f64 / 1e6)
}

/// The machine the run measured on.
pub fn machine(run: &RunSummary) -> TableSpec {
    let m = &run.machine;
    let mut t = TableSpec::new(&[("", false), ("", false)]);
    let cpus = |v: &[usize]| {
        if v.is_empty() {
            "not pinned".to_string()
        } else {
            v.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    for (k, v) in [
        ("CPU", m.cpu_model.clone()),
        ("Cores", m.cores.to_string()),
        ("Memory", format!("{} MB", fmt_num(m.memory_mb as f64))),
        ("OS", m.os.clone()),
        ("Kernel", m.kernel.clone()),
        ("Server CPUs", cpus(&m.server_cpus)),
        ("Load engine and upstream CPUs", cpus(&m.client_cpus)),
    ] {
        t.rows.push(vec![Cell::new(k), Cell::new(v)]);
    }
    for (k, v) in &m.runtimes {
        t.rows
            .push(vec![Cell::new(k.clone()), Cell::new(v.clone())]);
    }
    t.columns = vec!["Machine".into(), "".into()];
    t
}

/// The suite's settings as given.
pub fn settings(run: &RunSummary) -> TableSpec {
    let mut t = TableSpec::new(&[("Setting", false), ("Value", false)]);
    for (k, v) in &run.settings {
        t.rows
            .push(vec![Cell::new(k.clone()), Cell::new(v.clone())]);
    }
    t
}

fn kv(m: &std::collections::BTreeMap<String, String>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every target: identity, versions measured and configuration.
pub fn targets(run: &RunSummary) -> TableSpec {
    let mut t = TableSpec::new(&[
        ("Target", false),
        ("Language", false),
        ("Framework", false),
        ("Versions", false),
        ("Configuration", false),
    ]);
    for x in &run.targets {
        t.rows.push(vec![
            Cell::new(x.name.clone()),
            Cell::new(x.language.clone()),
            Cell::new(x.framework.clone()),
            Cell::new(kv(&x.versions)),
            Cell::new(kv(&x.config)),
        ]);
    }
    t
}

/// Per-target measures: cold start, idle memory, install footprint.
pub fn target_measures(run: &RunSummary) -> TableSpec {
    let mut t = TableSpec::new(&[
        ("Target", false),
        ("Cold start ms", true),
        ("Idle PSS MB", true),
        ("Install MB", true),
        ("Packages", true),
        ("Notes", false),
    ]);
    for x in &run.targets {
        let note = x.failure.as_ref().map(|f| format!("not measured: {f}"));
        t.rows.push(vec![
            Cell::new(x.name.clone()),
            spread_cell(x.metric("cold_start_ms")),
            Cell::new(x.value("idle_pss_mb").map(fmt_num).unwrap_or_default()),
            Cell::new(
                x.value("install_bytes")
                    .map(|v| v as u64)
                    .map(bytes_mb)
                    .unwrap_or_default(),
            ),
            Cell::new(
                x.value("install_packages")
                    .map(|v| v as u64)
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
            ),
            Cell::new(note.clone().unwrap_or_default()).mark(if note.is_some() {
                Mark::Warn
            } else {
                Mark::None
            }),
        ]);
    }
    t.drop_empty_columns()
}

/// A held-connections workload's cells (`ws-hold`): held / attempted, server memory per 1,000
/// connections, echo latency and rate, server CPU per echo, flags.
pub fn hold(run: &RunSummary, w: &str) -> TableSpec {
    let mut t = TableSpec::new(&[
        ("Target", false),
        ("Held / attempted", true),
        ("MB per 1k conns", true),
        ("Echo p50 ms", true),
        ("Echo p99 ms", true),
        ("Echoes/s", true),
        ("Server CPU µs/echo", true),
        ("PSS idle → holding MB", true),
        ("Repeats", true),
        ("Notes", false),
    ]);
    // Connection counts are whole numbers, grouped like every figure (9,997).
    let count = |v: f64| crate::format::count(v.round().max(0.0) as u64);
    for c in run.cells.iter().filter(|c| c.workload == w) {
        let (mut note, mut mark) = status_text(c);
        for wn in &c.warnings {
            if !note.is_empty() {
                note.push_str("; ");
            }
            note.push_str(wn);
            mark = Mark::Warn;
        }
        let attempted = c.metric("connections_attempted");
        let held = c
            .metric("connections_held")
            .zip(attempted)
            .map_or(Cell::new(""), |(s, a)| {
                let text = if s.min != s.max {
                    format!(
                        "{} ({}–{}) / {}",
                        count(s.median),
                        count(s.min),
                        count(s.max),
                        count(a.median)
                    )
                } else {
                    format!("{} / {}", count(s.median), count(a.median))
                };
                let m = if c.held_all() != Some(false) {
                    Mark::None
                } else {
                    Mark::Warn
                };
                Cell::new(text).mark(m)
            });
        let pss = match (c.metric("pss_idle_mb"), c.metric("pss_mean_mb")) {
            (Some(i), Some(m)) => {
                Cell::new(format!("{} → {}", fmt_num(i.median), fmt_num(m.median)))
            }
            _ => Cell::new(""),
        };
        t.rows.push(vec![
            Cell::new(c.target.clone()),
            held,
            spread_cell(c.metric("mb_per_1k_conns")),
            spread_cell(c.metric("p50_ms")),
            spread_cell(c.metric("p99_ms")),
            spread_cell(c.metric("throughput_rps")),
            spread_cell(c.metric("server_cpu_us_per_req")),
            pss,
            Cell::new(c.repeats.to_string()),
            Cell::new(note).mark(mark),
        ]);
    }
    t.drop_empty_columns()
}

/// The metrics of workload `w`'s cells that no built-in table lays out: those a workload
/// registered at run time brings (or unknown to this version), as (id, column label), in
/// registry order. Each gets a column of its own.
pub fn extra_metrics(run: &RunSummary, w: &str) -> Vec<(String, String)> {
    let registry = workloads::registry();
    let mut ids: Vec<&String> = run
        .cells
        .iter()
        .filter(|c| c.workload == w)
        .flat_map(|c| c.metrics.keys())
        .filter(|id| {
            !workloads::BUILTIN_METRICS
                .iter()
                .any(|m| m.id == id.as_str())
        })
        .collect();
    ids.sort_by_key(|id| (registry.metric_rank(id), id.to_string()));
    ids.dedup();
    ids.into_iter()
        .map(|id| {
            let label = registry.metric(id).map_or(id.as_str(), |m| m.label);
            (id.clone(), label.to_string())
        })
        .collect()
}

/// One workload's cells: every figure with its spread, ratios to the best, and notes
/// (held-connection workloads get [`hold`]'s table).
pub fn workload(run: &RunSummary, derived: &Derived, w: &str) -> TableSpec {
    if derive::kind_of(w).0 == Some(workloads::Kind::Hold) {
        return hold(run, w);
    }
    let mut t = TableSpec::new(&[
        ("Target", false),
        ("req/s", true),
        ("× best Node/Python", true),
        ("Capacity req/s at the SLO", true),
        ("p50 ms", true),
        ("p99 ms", true),
        ("Server CPU µs/req", true),
        ("PSS mean MB", true),
        ("PSS peak MB", true),
        ("Repeats", true),
        ("Notes", false),
    ]);
    // Metrics of a workload registered at run time: a column each, before "Repeats".
    let extra = extra_metrics(run, w);
    let at = t.columns.len() - 2;
    for (i, (_, label)) in extra.iter().enumerate() {
        t.columns.insert(at + i, label.clone());
        t.numeric.insert(at + i, true);
    }
    let wd = derived.workloads.iter().find(|x| x.workload == w);
    for c in run.cells.iter().filter(|c| c.workload == w) {
        let d = wd.and_then(|wd| wd.cells.iter().find(|d| d.target == c.target));
        let (mut note, mut mark) = status_text(c);
        if d.is_some_and(|d| d.noisy) {
            if !note.is_empty() {
                note.push_str("; ");
            }
            note.push_str(&format!(
                "noisy: repeats spread {:.1}%",
                d.and_then(|d| d.max_relative_range).unwrap_or(0.0) * 100.0
            ));
            mark = Mark::Warn;
        }
        for wn in &c.warnings {
            if !note.is_empty() {
                note.push_str("; ");
            }
            note.push_str(wn);
            mark = Mark::Warn;
        }
        let ratio = d
            .and_then(|d| d.throughput_vs_best.or(d.capacity_vs_best))
            .map(|r| format!("{}×", fmt_num(r)))
            .unwrap_or_default();
        let failed = matches!(c.status, CellStatus::Failed(_));
        let cap = match (c.capacity_rps, c.slo_p99_ms) {
            _ if failed => String::new(),
            (Some(r), _) => fmt_num(r),
            (None, Some(slo)) if !c.ladder.is_empty() => format!("none under {} ms", fmt_num(slo)),
            _ => String::new(),
        };
        let bound = if c.lower_bound { "≥ " } else { "" };
        let mut tp = spread_cell(c.metric("throughput_rps"));
        if !tp.text.is_empty() {
            tp.text = format!("{bound}{}", tp.text);
        }
        t.rows.push(vec![
            Cell::new(c.target.clone()),
            tp,
            Cell::new(ratio),
            Cell::new(cap),
            spread_cell(c.metric("p50_ms")),
            spread_cell(c.metric("p99_ms")),
            spread_cell(c.metric("server_cpu_us_per_req")),
            spread_cell(c.metric("pss_mean_mb")),
            spread_cell(c.metric("pss_peak_mb")),
            Cell::new(c.repeats.to_string()),
            Cell::new(note).mark(mark),
        ]);
        let row = t.rows.last_mut().expect("pushed");
        for (i, (id, _)) in extra.iter().enumerate() {
            row.insert(at + i, spread_cell(c.metric(id)));
        }
    }
    t.drop_empty_columns()
}

fn judged(j: &Judgement) -> Cell {
    let Some(pct) = j.change_pct else {
        return Cell::new("");
    };
    let text = format!("{pct:+.1}%");
    match (j.marked, j.better) {
        (true, Some(true)) => Cell::new(format!("{text} better")).mark(Mark::Better),
        (true, _) => Cell::new(format!("{text} worse")).mark(Mark::Worse),
        _ => Cell::new(text)
            .mark(Mark::Muted)
            .tip(Some("within noise by the stated rule".into())),
    }
}

/// One workload of two runs: for each target and figure, this run, the baseline and the change.
pub fn workload_compare(this: &RunSummary, base: &RunSummary, w: &str) -> TableSpec {
    let mut t = TableSpec::new(&[
        ("Target", false),
        ("Figure", false),
        ("This run", true),
        ("Baseline", true),
        ("Change", true),
    ]);
    t.groups = true;
    let names: &[(&str, &str)] = &[
        ("throughput_rps", "req/s"),
        ("p50_ms", "p50 ms"),
        ("p99_ms", "p99 ms"),
        ("server_cpu_us_per_req", "server CPU µs/req"),
        ("pss_mean_mb", "PSS mean MB"),
        ("pss_peak_mb", "PSS peak MB"),
    ];
    let mut targets: Vec<&str> = this
        .cells
        .iter()
        .filter(|c| c.workload == w)
        .map(|c| c.target.as_str())
        .collect();
    for c in base.cells.iter().filter(|c| c.workload == w) {
        if !targets.contains(&c.target.as_str()) {
            targets.push(&c.target);
        }
    }
    for tg in targets {
        let (a, b) = (this.cell(tg, w), base.cell(tg, w));
        let mut first = true;
        let mut row = |fig: &str, x: Cell, y: Cell, ch: Cell| {
            t.rows.push(vec![
                Cell::new(if first { tg.to_string() } else { String::new() }),
                Cell::new(fig.to_string()),
                x,
                y,
                ch,
            ]);
            first = false;
        };
        let status = |c: Option<&CellSummary>| match c {
            None => Cell::new("not measured").mark(Mark::Warn),
            Some(c) => {
                let (s, m) = status_text(c);
                Cell::new(if s.is_empty() { "ok".to_string() } else { s }).mark(m)
            }
        };
        let (sa, sb) = (status(a), status(b));
        if sa.text != "ok" || sb.text != "ok" {
            row("status", sa, sb, Cell::new(""));
        }
        for (fig, hib) in derive::cell_figures() {
            let registry = workloads::registry();
            let label = names
                .iter()
                .find(|n| n.0 == fig)
                .map(|n| n.1)
                .or(registry.metric(fig).map(|m| m.label))
                .unwrap_or(fig);
            let (x, y) = (a.and_then(|c| c.metric(fig)), b.and_then(|c| c.metric(fig)));
            if x.is_none() && y.is_none() {
                continue;
            }
            let ch = match (x, y) {
                (Some(x), Some(y)) => judged(&derive::judge(x, y, hib)),
                _ => Cell::new(""),
            };
            row(label, spread_cell(x), spread_cell(y), ch);
        }
        let (x, y) = (
            a.and_then(|c| c.capacity_rps),
            b.and_then(|c| c.capacity_rps),
        );
        if x.is_some() || y.is_some() {
            let ch = match (x, y) {
                (Some(x), Some(y)) => judged(&derive::judge_single(x, y)),
                _ => Cell::new(""),
            };
            row(
                "capacity req/s at SLO",
                Cell::new(x.map(fmt_num).unwrap_or_default()),
                Cell::new(y.map(fmt_num).unwrap_or_default()),
                ch,
            );
        }
    }
    t
}

/// Per-target measures of two runs.
pub fn target_compare(this: &RunSummary, base: &RunSummary) -> TableSpec {
    let mut t = TableSpec::new(&[
        ("Target", false),
        ("Figure", false),
        ("This run", true),
        ("Baseline", true),
        ("Change", true),
    ]);
    t.groups = true;
    for x in &this.targets {
        let y = base.target(&x.name);
        let mut first = true;
        let mut row = |fig: &str, a: Cell, b: Cell, ch: Cell| {
            t.rows.push(vec![
                Cell::new(if first { x.name.clone() } else { String::new() }),
                Cell::new(fig.to_string()),
                a,
                b,
                ch,
            ]);
            first = false;
        };
        let yc = y.and_then(|y| y.metric("cold_start_ms"));
        if x.metric("cold_start_ms").is_some() || yc.is_some() {
            let ch = match (x.metric("cold_start_ms"), yc) {
                (Some(a), Some(b)) => judged(&derive::judge(a, b, false)),
                _ => Cell::new(""),
            };
            row(
                "cold start ms",
                spread_cell(x.metric("cold_start_ms")),
                spread_cell(yc),
                ch,
            );
        }
        let singles: [(&str, Option<f64>, Option<f64>); 2] = [
            (
                "idle PSS MB",
                x.value("idle_pss_mb"),
                y.and_then(|y| y.value("idle_pss_mb")),
            ),
            (
                "install MB",
                x.value("install_bytes")
                    .map(|v| v as u64)
                    .map(|b| b as f64 / 1e6),
                y.and_then(|y| y.value("install_bytes")).map(|b| b / 1e6),
            ),
        ];
        for (fig, a, b) in singles {
            if a.is_none() && b.is_none() {
                continue;
            }
            let ch = match (a, b) {
                (Some(a), Some(b)) => judged(&derive::judge_single(a, b)),
                _ => Cell::new(""),
            };
            row(
                fig,
                Cell::new(a.map(fmt_num).unwrap_or_default()),
                Cell::new(b.map(fmt_num).unwrap_or_default()),
                ch,
            );
        }
    }
    t
}

/// The two machines and every version, side by side; rows that differ are marked.
pub fn machine_compare(this: &RunSummary, base: &RunSummary) -> TableSpec {
    let (a, b) = (machine(this), machine(base));
    let mut t = TableSpec::new(&[("Machine", false), ("This run", false), ("Baseline", false)]);
    let mut keys: Vec<String> = a.rows.iter().map(|r| r[0].text.clone()).collect();
    for r in &b.rows {
        if !keys.contains(&r[0].text) {
            keys.push(r[0].text.clone());
        }
    }
    let find = |s: &TableSpec, k: &str| {
        s.rows
            .iter()
            .find(|r| r[0].text == k)
            .map(|r| r[1].text.clone())
            .unwrap_or_default()
    };
    let versions = |run: &RunSummary,
                    out: &mut std::collections::BTreeMap<String, (String, String)>,
                    first: bool| {
        for x in &run.targets {
            let e = out.entry(format!("{} versions", x.name)).or_default();
            if first {
                e.0 = kv(&x.versions);
            } else {
                e.1 = kv(&x.versions);
            }
        }
    };
    let mut vs = std::collections::BTreeMap::new();
    versions(this, &mut vs, true);
    versions(base, &mut vs, false);
    let rows = keys
        .iter()
        .map(|k| (k.clone(), find(&a, k), find(&b, k)))
        .chain(vs.into_iter().map(|(k, (x, y))| (k, x, y)));
    for (k, x, y) in rows {
        let m = if x != y { Mark::Warn } else { Mark::None };
        t.rows.push(vec![
            Cell::new(k),
            Cell::new(x).mark(m),
            Cell::new(y).mark(m),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with_hold() -> RunSummary {
        let mut run = crate::ReportInput::from_json(include_str!("../tests/fixtures/run-a.json"))
            .unwrap()
            .summary;
        let mut c = run.cells[0].clone();
        c.workload = "ws-hold".into();
        c.status = CellStatus::Flagged("ws-hold: held 3 of 10000 connections".into());
        for (id, v) in [
            ("throughput_rps", [3.0, 3.0]),
            ("p99_ms", [1.2, 1.4]),
            ("connections_attempted", [10_000.0, 10_000.0]),
            ("connections_held", [3.0, 4.0]),
            ("pss_idle_mb", [40.0, 40.0]),
            ("mb_per_1k_conns", [800.0, 700.0]),
            ("echo_max_ms", [3.0, 5.0]),
        ] {
            c.metrics.insert(id.into(), Spread::of(&v).unwrap());
        }
        run.cells.push(c);
        run
    }

    #[test]
    fn hold_cells_get_the_hold_table() {
        let run = run_with_hold();
        let d = derive::derive(&run);
        let t = workload(&run, &d, "ws-hold");
        assert_eq!(t.columns[1], "Held / attempted");
        assert!(t.columns.iter().any(|c| c == "MB per 1k conns"));
        let row = &t.rows[0];
        assert_eq!(row[1].text, "4 (3–4) / 10,000");
        assert_eq!(row[1].mark, Mark::Warn);
        assert!(row.last().unwrap().text.contains("held 3 of 10000"));
        // Other workloads keep their table.
        let first = run.cells[0].workload.clone();
        assert_eq!(workload(&run, &d, &first).columns[1], "req/s");
        // And the charts speak of connections, not responses.
        let bars = crate::figures::workload_bars(&run, None, "ws-hold");
        assert!(
            bars.iter().any(|b| b.contains("connections held")),
            "{bars:?}"
        );
        assert!(!bars.iter().any(|b| b.contains("Throughput")));
    }
}
