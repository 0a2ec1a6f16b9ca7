//! The end of `stackwise lab`: a table per workload (req/s, capacity at SLO, p99, server CPU
//! µs/req, memory, each median with its min–max over repeats), the per-target measures (cold start,
//! idle memory, install footprint, versions), flags and warnings, from the stored
//! [`store::RunSummary`].

use std::fmt::Write;

use store::{CellStatus, CellSummary, RunSummary, Spread};
use workloads::trust::{median_p90, node_eol_note};

/// The reports' one number formatter (issue 19: the lab's tables printed `5524` beside `12,624`).
fn num(v: f64) -> String {
    crate::format::num(v)
}

/// `median (min–max)`, or the median alone for one value.
pub fn spread(s: Option<&Spread>) -> String {
    match s {
        None => "—".into(),
        Some(s) if s.values.len() > 1 => {
            format!("{} ({}–{})", num(s.median), num(s.min), num(s.max))
        }
        Some(s) => num(s.median),
    }
}

/// The first 60 characters of a reason, for a table cell (the notes have it in full).
fn short(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(59).collect::<String>())
    } else {
        s.to_string()
    }
}

fn status(c: &CellSummary) -> String {
    let mut flags = Vec::new();
    match &c.status {
        CellStatus::Ok => {}
        CellStatus::Flagged(_) => flags.push("FLAGGED".to_string()),
        CellStatus::Failed(r) => {
            flags.push(format!("FAILED: {}", short(r.lines().next().unwrap_or(""))))
        }
    }
    if c.lower_bound {
        flags.push("lower bound".into());
    }
    if !c.warnings.is_empty() && !matches!(c.status, CellStatus::Failed(_)) {
        flags.push(format!("{} warning(s)", c.warnings.len()));
    }
    flags.join(", ")
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let line = |out: &mut String, cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = width[i] - c.chars().count();
            if i == 0 || i + 1 == cells.len() {
                l.push_str(c);
                l.push_str(&" ".repeat(pad));
            } else {
                l.push_str(&" ".repeat(pad));
                l.push_str(c);
            }
            l.push_str("  ");
        }
        let _ = writeln!(out, "{}", l.trim_end());
    };
    line(out, header.to_vec());
    for r in rows {
        line(out, r.iter().map(String::as_str).collect());
    }
}

/// `held / attempted` of a hold cell (medians; the held spread when repeats differ).
pub fn held_of(c: &CellSummary) -> Option<String> {
    let (held, attempted) = (
        c.metric("connections_held")?,
        c.metric("connections_attempted")?,
    );
    // Connection counts are whole numbers: 9,997 not 9997.00.
    let count = |v: f64| crate::format::count(v.round().max(0.0) as u64);
    let held = if held.values.len() > 1 && held.min != held.max {
        format!(
            "{} ({}–{})",
            count(held.median),
            count(held.min),
            count(held.max)
        )
    } else {
        count(held.median)
    };
    Some(format!("{held} / {}", count(attempted.median)))
}

/// The table of a held-connections workload (`ws-hold`).
fn hold_table(out: &mut String, w: &str, cells: &[&CellSummary]) {
    let first = cells[0];
    let p = |k: &str| first.params.get(k).map(String::as_str).unwrap_or("?");
    let _ = writeln!(
        out,
        "\n{w}  {}  (WebSocket echo: {} connections opened at {}/s, one message per {} s each, held {} s; {} repeat(s): median (min–max))",
        p("path"),
        p("connections"),
        p("ramp_rps"),
        p("interval_s"),
        p("hold_s"),
        first.repeats
    );
    let rows: Vec<Vec<String>> = cells
        .iter()
        .map(|c| {
            vec![
                c.target.clone(),
                held_of(c).unwrap_or_else(|| "—".into()),
                spread(c.metric("mb_per_1k_conns")),
                spread(c.metric("p99_ms")),
                spread(c.metric("throughput_rps")),
                spread(c.metric("server_cpu_us_per_req")),
                status(c),
            ]
        })
        .collect();
    table(
        out,
        &[
            "target",
            "held / attempted",
            "MB per 1k conns",
            "echo p99 ms",
            "echoes/s",
            "server CPU µs/echo",
            "flags",
        ],
        &rows,
    );
}

/// The tables of a run.
pub fn tables(run: &RunSummary) -> String {
    let mut out = String::new();
    let m = &run.machine;
    let _ = writeln!(
        out,
        "\nRun {} on {} ({} cores, {} MB, {}, kernel {}); servers on CPUs {:?}, load engine and upstream on {:?}",
        run.run_id, m.cpu_model, m.cores, m.memory_mb, m.os, m.kernel, m.server_cpus, m.client_cpus
    );
    let mut workloads: Vec<&str> = Vec::new();
    for c in &run.cells {
        if !workloads.contains(&c.workload.as_str()) {
            workloads.push(&c.workload);
        }
    }
    for w in workloads {
        let cells: Vec<&CellSummary> = run.cells.iter().filter(|c| c.workload == w).collect();
        let kind = workloads::registry().workload(w).map(|x| x.kind);
        if kind == Some(workloads::Kind::Hold) {
            hold_table(&mut out, w, &cells);
            continue;
        }
        let first = cells[0];
        let what = first.params.get("path").cloned().unwrap_or_default();
        let is_capacity = cells.iter().any(|c| c.slo_p99_ms.is_some());
        let _ = writeln!(
            out,
            "\n{w}  {what}{}",
            match (is_capacity, first.slo_p99_ms) {
                (true, Some(slo)) => format!(
                    "  (capacity: highest rate with corrected p99 < {} ms)",
                    num(slo)
                ),
                _ if first.params.get("mode").map(String::as_str) == Some("open") =>
                    "  (open loop; latency corrected for coordinated omission)".to_string(),
                _ => format!(
                    "  (closed loop, {} connections; {} repeat(s): median (min–max))",
                    first
                        .params
                        .get("connections")
                        .map(String::as_str)
                        .unwrap_or("?"),
                    first.repeats
                ),
            }
        );
        let is_mixed = kind == Some(workloads::Kind::Mixed);
        let extra = crate::tables::extra_metrics(run, w);
        let mut rows = Vec::new();
        for c in &cells {
            rows.push(vec![
                c.target.clone(),
                if is_mixed {
                    // Per repeat: [/io alone, /io with heavy requests].
                    let alone: Vec<f64> = c.ladder.iter().step_by(2).map(|p| p.p99_ms).collect();
                    spread(Spread::of(&alone).as_ref())
                } else if is_capacity {
                    c.capacity_rps.map_or("—".into(), num)
                } else {
                    spread(c.metric("throughput_rps"))
                },
                spread(c.metric("p99_ms")),
                spread(c.metric("server_cpu_us_per_req")),
                spread(c.metric("pss_mean_mb")),
                status(c),
            ]);
            // Metrics of a workload registered at run time: a column each, before the flags.
            let row = rows.last_mut().expect("pushed");
            for (i, (id, _)) in extra.iter().enumerate() {
                row.insert(5 + i, spread(c.metric(id)));
            }
        }
        let (rate_col, p99_col) = if is_mixed {
            ("/io p99 ms alone", "/io p99 ms with heavy /cpu")
        } else if is_capacity {
            ("capacity req/s", "p99 ms")
        } else {
            ("req/s", "p99 ms")
        };
        let mut cols = vec!["target", rate_col, p99_col, "server CPU µs/req", "PSS MB"];
        cols.extend(extra.iter().map(|(_, label)| label.as_str()));
        cols.push("flags");
        table(&mut out, &cols, &rows);
    }

    blocking_table(&mut out, run);

    if !run.targets.is_empty() {
        let _ = writeln!(out, "\nPer target");
        let mut rows = Vec::new();
        for t in &run.targets {
            let cold = t
                .metric("cold_start_ms")
                .and_then(|s| {
                    let (med, p90) = median_p90(&s.values)?;
                    Some(format!("{} / {} ({})", num(med), num(p90), s.values.len()))
                })
                .unwrap_or_else(|| "—".into());
            let install = match (
                t.value("install_bytes").map(|v| v as u64),
                t.value("install_packages").map(|v| v as u64),
            ) {
                (Some(b), Some(p)) => format!("{} MB, {p} pkgs", num(b as f64 / 1e6)),
                (Some(b), None) => format!("{} MB", num(b as f64 / 1e6)),
                _ => "—".into(),
            };
            let versions = t
                .versions
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ");
            rows.push(vec![
                t.name.clone(),
                cold,
                t.value("idle_pss_mb").map_or("—".into(), num),
                install,
                match &t.failure {
                    Some(f) => format!("FAILED: {}", short(f.lines().next().unwrap_or(""))),
                    None => versions,
                },
            ]);
        }
        table(
            &mut out,
            &[
                "target",
                "cold start ms median / p90 (n)",
                "idle PSS MB",
                "install",
                "versions",
            ],
            &rows,
        );
    }

    // Notes: Node end of life, warnings, flags and failures in full.
    let mut notes: Vec<String> = Vec::new();
    let node = run.machine.runtimes.get("node").cloned().or_else(|| {
        run.targets
            .iter()
            .find_map(|t| t.versions.get("node").cloned())
    });
    if let Some(v) = node.filter(|_| run.targets.iter().any(|t| t.language == "node")) {
        if let Some(n) = node_eol_note(&v) {
            notes.push(n);
        }
    }
    notes.extend(run.warnings.iter().cloned());
    for c in &run.cells {
        let mut lines: Vec<String> = Vec::new();
        let target_failed = run.target(&c.target).is_some_and(|t| t.failure.is_some());
        match &c.status {
            CellStatus::Flagged(r) => lines.push(format!("flagged: {r}")),
            // A failed target's cells fail for its reason, given once below.
            CellStatus::Failed(_) if target_failed => {}
            CellStatus::Failed(r) => lines.push(format!("failed: {}", r.replace('\n', "\n      "))),
            CellStatus::Ok => {}
        }
        lines.extend(c.warnings.iter().cloned());
        for l in lines {
            notes.push(format!("{} {}: {l}", c.target, c.workload));
        }
    }
    for t in &run.targets {
        if let Some(f) = &t.failure {
            notes.push(format!("{}: {}", t.name, f.replace('\n', "\n      ")));
        }
    }
    if !notes.is_empty() {
        let _ = writeln!(out, "\nNotes");
        for n in notes {
            let _ = writeln!(out, "  - {n}");
        }
    }
    let _ = writeln!(out);
    out
}

/// Loop blocking, both variants side by side (issue 15): per target, `/io` p99 alone, with the
/// equal-work heavy requests (`mixed`) and with the equal-time ones (`mixed-time`), each variant's
/// heavy request (n, CPU ms) and blocking ratio. Printed when the run has either cell.
fn blocking_table(out: &mut String, run: &RunSummary) {
    let variants = ["mixed", "mixed-time"];
    let mut targets: Vec<&str> = Vec::new();
    for c in &run.cells {
        if variants.contains(&c.workload.as_str()) && !targets.contains(&c.target.as_str()) {
            targets.push(&c.target);
        }
    }
    if targets.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nLoop blocking  (/io p99 ms; blocking ratio = p99 rise ÷ one heavy request's CPU time; ≥ 0.5 blocked)"
    );
    let alone = |t: &str| -> Option<Spread> {
        let v: Vec<f64> = variants
            .iter()
            .filter_map(|w| run.cell(t, w))
            .flat_map(|c| c.ladder.iter().step_by(2).map(|p| p.p99_ms))
            .collect();
        Spread::of(&v)
    };
    let heavy = |t: &str, w: &str| -> String {
        let Some(c) = run.cell(t, w) else {
            return "—".into();
        };
        match (c.metric("heavy_n"), c.metric("heavy_cpu_ms")) {
            (Some(n), Some(ms)) => format!("n={} ({} ms)", num(n.median), num(ms.median)),
            _ => c
                .params
                .get("heavy_path")
                .cloned()
                .unwrap_or_else(|| "—".into()),
        }
    };
    let mut rows = Vec::new();
    for t in targets {
        let p99 = |w: &str| spread(run.cell(t, w).and_then(|c| c.metric("p99_ms")));
        let ratio = |w: &str| spread(run.cell(t, w).and_then(|c| c.metric("blocking_ratio")));
        rows.push(vec![
            t.to_string(),
            spread(alone(t).as_ref()),
            p99("mixed"),
            heavy(t, "mixed"),
            ratio("mixed"),
            p99("mixed-time"),
            heavy(t, "mixed-time"),
            ratio("mixed-time"),
        ]);
    }
    table(
        out,
        &[
            "target",
            "alone",
            "equal work",
            "heavy (equal work)",
            "ratio",
            "equal time",
            "heavy (equal time)",
            "ratio",
        ],
        &rows,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use store::{testing, Machine, TargetSummary};

    fn cell(target: &str, workload: &str, rps: &[f64]) -> CellSummary {
        CellSummary {
            repeats: rps.len() as u32,
            metrics: [
                ("throughput_rps", Spread::of(rps)),
                ("p99_ms", Spread::of(&[1.5])),
                ("server_cpu_us_per_req", Spread::of(&[42.0])),
                ("pss_mean_mb", Spread::of(&[30.0])),
            ]
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?)))
            .collect(),
            params: BTreeMap::from([
                ("connections".into(), "64".into()),
                ("path".into(), "/json".into()),
            ]),
            ..testing::cell(target, workload)
        }
    }

    #[test]
    fn hold_cells_get_their_own_table() {
        let mut c = cell("python-flask-sync", "ws-hold", &[3.0]);
        c.params = BTreeMap::from([
            ("path".into(), "/ws".into()),
            ("connections".into(), "10000".into()),
            ("ramp_rps".into(), "2000".into()),
            ("interval_s".into(), "1".into()),
            ("hold_s".into(), "4".into()),
        ]);
        c.status = CellStatus::Flagged("9997 errors".into());
        for (id, v) in [
            ("connections_attempted", 10_000.0),
            ("connections_held", 3.0),
            ("pss_idle_mb", 40.0),
            ("mb_per_1k_conns", 812.5),
            ("echo_max_ms", 9.0),
        ] {
            c.metrics.insert(id.into(), Spread::of(&[v]).unwrap());
        }
        let mut run: RunSummary =
            serde_json::from_str(include_str!("../../store/tests/fixtures/quick-run.json"))
                .unwrap();
        run.cells.push(c);
        let t = tables(&run);
        let i = t.find("ws-hold  /ws").expect(&t);
        let part = &t[i..];
        assert!(part.contains("held / attempted"), "{part}");
        assert!(part.contains("MB per 1k conns"), "{part}");
        assert!(part.contains("3 / 10,000"), "{part}");
        assert!(part.contains("812"), "{part}");
        assert!(part.contains("FLAGGED"), "{part}");
    }

    #[test]
    fn a_table_per_workload_with_spreads_and_notes() {
        let mut flagged = cell("node-http", "json", &[9000.0]);
        flagged.status = CellStatus::Flagged("3 errors".into());
        let run = RunSummary {
            finished_at: Some("2026-11-24T10:05:00Z".into()),
            machine: Machine {
                runtimes: BTreeMap::from([("node".into(), "20.20.2".into())]),
                ..testing::machine()
            },
            targets: vec![TargetSummary {
                framework: "node:http".into(),
                versions: BTreeMap::from([("node".into(), "20.20.2".into())]),
                metrics: BTreeMap::from([
                    (
                        "cold_start_ms".into(),
                        Spread::of(&[40.0, 42.0, 60.0]).unwrap(),
                    ),
                    ("idle_pss_mb".into(), Spread::of(&[45.0]).unwrap()),
                    ("install_bytes".into(), Spread::of(&[0.0]).unwrap()),
                    ("install_packages".into(), Spread::of(&[0.0]).unwrap()),
                ]),
                ..testing::target("node-http", "node")
            }],
            cells: vec![
                cell("rust-axum", "json", &[30000.0, 31000.0, 32500.0]),
                flagged,
            ],
            ..testing::run(3)
        };
        let t = tables(&run);
        assert!(t.contains("31,000 (30,000–32,500)"), "{t}");
        assert!(t.contains("FLAGGED"), "{t}");
        assert!(t.contains("node-http json: flagged: 3 errors"), "{t}");
        assert!(t.contains("past its end of life"), "{t}");
        assert!(t.contains("42.0 / 60.0 (3)"), "{t}");
    }

    #[test]
    fn loop_blocking_shows_both_variants_side_by_side() {
        let blocking = |w: &str, alone: f64, with: f64, n: f64, ms: f64| {
            let mut c = cell("node-http", w, &[]);
            c.set("p99_ms", Spread::of(&[with]));
            c.set("heavy_n", Spread::of(&[n]));
            c.set("heavy_cpu_ms", Spread::of(&[ms]));
            c.set("blocking_ratio", Spread::of(&[(with - alone) / ms]));
            for p99 in [alone, with] {
                c.ladder.push(store::LadderPoint {
                    offered_rps: 100.0,
                    achieved_rps: 100.0,
                    p50_ms: 10.2,
                    p99_ms: p99,
                    errors: 0,
                    server_cores: None,
                });
            }
            c
        };
        let mut run = testing::run(1);
        run.cells = vec![
            blocking("mixed", 11.0, 12.0, 1e6, 1.5),
            blocking("mixed-time", 11.0, 51.0, 3e7, 50.0),
        ];
        let t = tables(&run);
        assert!(t.contains("Loop blocking"), "{t}");
        let row = t
            .lines()
            .skip_while(|l| !l.starts_with("Loop blocking"))
            .find(|l| l.contains("node-http"))
            .unwrap();
        for want in [
            "n=1,000,000 (1.50 ms)",
            "0.667",
            "n=30,000,000 (50.0 ms)",
            "0.800",
        ] {
            assert!(row.contains(want), "{want}: {row}");
        }
        // No loop-blocking cell, no table.
        run.cells = vec![cell("node-http", "json", &[1.0])];
        assert!(!tables(&run).contains("Loop blocking"));
    }

    /// A workload declared here, in the test, and registered at run time reaches the store, the
    /// claims (a catalogue entry naming it) and every report format — Markdown, JSON, HTML and
    /// this terminal table — with no other code change.
    #[test]
    fn a_workload_registered_at_run_time_reaches_the_store_the_claims_and_every_report() {
        use workloads::{Availability, Better, Kind, Metric, Over, Workload};
        const WIDGETS_PER_S: Metric = Metric {
            id: "widgets_per_s",
            label: "widgets/s",
            unit: "rps",
            better: Better::Higher,
            comparable_across_engines: true,
            over: Over::CleanRepeats,
            description: "widgets assembled per second (a test-only metric)",
        };
        const WIDGETS: Workload = Workload {
            id: "test-widgets",
            kind: Kind::Saturation,
            availability: Availability::Available,
            description: "test-only: widgets assembled per second",
            endpoints: &["json"],
            services: &[],
            requests: &[],
            params: &[],
            metrics: &["widgets_per_s", "p99_ms"],
            tier: workloads::Tier::OnRequest,
        };
        workloads::register(WIDGETS, &[WIDGETS_PER_S]).unwrap();

        // The store: rows named by the metric ids, read back as the cell's metrics.
        let mut db = store::Store::open_in_memory().unwrap();
        let machine = Machine {
            memory_mb: 2048,
            ..testing::machine()
        };
        let id = db
            .begin_run(&store::NewRun {
                machine,
                settings: BTreeMap::new(),
                plan: vec![],
            })
            .unwrap();
        for (target, language, base) in [("node-a", "node", 900.0), ("python-a", "python", 300.0)] {
            db.save_target(
                id,
                &store::TargetRecord {
                    name: target.into(),
                    language: language.into(),
                    framework: target.into(),
                    versions: BTreeMap::new(),
                    config: BTreeMap::new(),
                    figures: BTreeMap::new(),
                    failure: None,
                    stderr_tail: None,
                },
            )
            .unwrap();
            let repeats = [0.99, 1.0, 1.01]
                .iter()
                .map(|f| {
                    store::RepeatRecord {
                        clean: true,
                        report_json: "{}".into(),
                        samples_json: "[]".into(),
                        ..Default::default()
                    }
                    .with(&[
                        ("widgets_per_s", Some(base * f)),
                        ("p99_ms", Some(1000.0 / base * f)),
                    ])
                })
                .collect();
            db.save_cell(
                id,
                &store::CellRecord {
                    target: target.into(),
                    workload: WIDGETS.id.into(),
                    params: BTreeMap::from([("batch".into(), "7".into())]),
                    status: CellStatus::Ok,
                    warnings: vec![],
                    lower_bound: false,
                    slo_p99_ms: None,
                    capacity_rps: None,
                    ladder: vec![],
                    repeats,
                    elapsed_s: Some(1.0),
                },
            )
            .unwrap();
        }
        db.finish_run(id).unwrap();
        let run = db.run(id).unwrap();
        let cell = run.cell("node-a", WIDGETS.id).unwrap();
        assert_eq!(cell.metric("widgets_per_s").unwrap().median, 900.0);
        assert_eq!(cell.metric("widgets_per_s").unwrap().values.len(), 3);

        // The claims: a catalogue entry naming the workload is accepted, and its rule reads the
        // workload's cells.
        let cat = claims::Catalogue::parse(
            r#"
[lab]
node = ["node-a"]
python = ["python-a"]

[[claim]]
id = "t-widgets"
article = "000_53e79a22dfaf967c.txt"
topic = "latency"
kind = "testable"
quote = "Node.js assembles widgets with lower latency"
[claim.test]
workloads = ["test-widgets"]
claimed = "Node.js has the lower p99 on widgets"
reading = "node against python, p99 of the test-widgets cells"
rule = { name = "faster", better = ["node"], than = ["python"], metric = "p99_ms" }
"#,
            "test catalogue",
        )
        .unwrap();
        let r = claims::evaluate_claim(&cat, &cat.claims[0], Some(&run));
        assert_eq!(r.workloads, vec![WIDGETS.id.to_string()]);
        assert_eq!(r.verdict, claims::Verdict::Supported, "{}", r.reason);

        // Every report format shows the workload and its own metric.
        let input = crate::ReportInput::new(run.clone());
        let md = crate::markdown::render(&input);
        assert!(
            md.contains("test-widgets") && md.contains("| widgets/s"),
            "{md}"
        );
        assert!(
            md.contains("test-only: widgets assembled per second"),
            "{md}"
        );
        assert!(md.contains("900 (891–909)"), "{md}");
        let json: serde_json::Value =
            serde_json::from_str(&crate::json::render(&input, None)).unwrap();
        let cells = json["summary"]["cells"].as_array().unwrap();
        let c = cells.iter().find(|c| c["target"] == "node-a").unwrap();
        assert_eq!(c["metrics"]["widgets_per_s"]["median"], 900.0);
        let w = &json["derived"]["workloads"][0];
        assert_eq!(
            (w["workload"].as_str(), w["kind"].as_str()),
            (Some("test-widgets"), Some("saturation"))
        );
        let html = crate::html::render(
            &input,
            &crate::html::Options {
                generator: "test".into(),
                home_link: None,
            },
        );
        assert!(
            html.contains("test-widgets") && html.contains(">widgets/s<"),
            "{html}"
        );
        let term = tables(&run);
        let part = &term[term.find("test-widgets").expect(&term)..];
        assert!(
            part.contains("widgets/s") && part.contains("900 (891–909)"),
            "{part}"
        );
        // And a comparison judges it by its registry direction.
        let cmp = crate::derive::compare(&run, &run);
        assert!(cmp
            .iter()
            .any(|x| x.figure == "widgets_per_s" && x.workload == WIDGETS.id));
    }

    /// Issue 19: the json medians read the same in the terminal, Markdown and HTML, ungrouped
    /// nowhere, and the findings' best figures as in the tables (the full check of every table of
    /// every format: tests/one_formatter.rs).
    #[test]
    fn the_json_medians_and_the_findings_best_figures_read_the_same_in_every_format() {
        let path = format!(
            "{}/../reports/tests/fixtures/run-a.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let input = crate::ReportInput::from_json(&std::fs::read_to_string(path).unwrap()).unwrap();
        let run = &input.summary;
        let term = tables(run);
        let md = crate::markdown::render(&input);
        let html = crate::html::render(&input, &crate::html::Options::default());
        let findings = crate::findings::text(&crate::findings::findings(&input));
        let num = crate::format::num;
        let mut checked = 0;
        for c in run.cells.iter().filter(|c| c.workload == "json") {
            let Some(s) = c.metric("throughput_rps") else {
                continue;
            };
            for (name, out) in [("terminal", &term), ("markdown", &md), ("html", &html)] {
                assert!(
                    out.contains(&num(s.median)),
                    "{name}: {} json median {} not formatted as {}",
                    c.target,
                    s.median,
                    num(s.median)
                );
            }
            for v in [s.median, s.min, s.max] {
                if v.abs() >= 1000.0 {
                    let ungrouped = format!(" {v:.0} ");
                    assert!(!term.contains(&ungrouped), "terminal: {ungrouped:?}");
                    assert!(!md.contains(&ungrouped), "markdown: {ungrouped:?}");
                }
            }
            checked += 1;
        }
        assert!(checked >= 9);
        // The findings' best figures are the same strings.
        let best = run
            .cells
            .iter()
            .filter(|c| c.workload == "json" && c.target.starts_with("python-"))
            .filter_map(|c| c.metric("throughput_rps").map(|s| s.median))
            .fold(0.0, f64::max);
        assert!(
            findings.contains(&format!("{} req/s", num(best))),
            "{findings}"
        );
        assert!(term.contains(&num(best)) && md.contains(&num(best)));
    }
}
