//! TEMPORARY generator (run once with today's v3 binary, then removed): builds the v3 store fixture.
use store::*;

#[test]
#[ignore]
fn make_v3_fixture() {
    let out =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v3-store.sqlite3");
    let _ = std::fs::remove_file(&out);
    let mut s = Store::open(&out).unwrap();
    let full: RunSummary = serde_json::from_str(include_str!("fixtures/full-run.json")).unwrap();
    let busy: RunSummary =
        serde_json::from_str(include_str!("fixtures/quick-run-busy.json")).unwrap();
    let a = s.import_run(&full).unwrap();
    let b = s.import_run(&busy).unwrap();
    // A ws-hold cell written the way the lab writes it (engine busy, samples, raw report), with
    // one repeat that held fewer connections than attempted.
    let hold = |attempted: u64, held: u64, mb: f64, clean: bool, i: f64| RepeatRecord {
        clean,
        throughput_rps: Some(1990.0 + i),
        p50_ms: Some(0.41 + i / 100.0),
        p99_ms: Some(2.3 + i / 10.0),
        server_cpu_us_per_req: Some(31.5 + i),
        pss_mean_mb: Some(40.0 + mb * held as f64 / 1000.0),
        pss_peak_mb: Some(41.0 + mb * held as f64 / 1000.0),
        engine_busy: Some(0.12),
        upstream_busy: None,
        steal_pct: Some(0.0),
        capacity_rps: None,
        hold: Some(HoldRecord {
            connections_attempted: attempted,
            connections_held: held,
            pss_idle_mb: Some(40.0 + i / 10.0),
            mb_per_1k_conns: Some(mb),
            echo_max_ms: Some(9.5 + i),
        }),
        report_json: format!("{{\"echoes\":{}}}", 1000 + i as u64),
        samples_json: "[]".into(),
    };
    s.save_cell(
        b,
        &CellRecord {
            target: "node-http".into(),
            workload: "ws-hold".into(),
            params: [("connections".to_string(), "2000".to_string())].into(),
            status: CellStatus::Flagged("1997 connections not held in repeat 2".into()),
            warnings: vec!["repeat 2 held 3 of 2000 connections".into()],
            lower_bound: false,
            slo_p99_ms: None,
            capacity_rps: None,
            ladder: vec![],
            repeats: vec![
                hold(2000, 2000, 18.5, true, 0.0),
                hold(2000, 3, 51.0, false, 1.0),
                hold(2000, 2000, 19.25, true, 2.0),
            ],
            elapsed_s: Some(31.0),
        },
    )
    .unwrap();
    // A failed target with a stderr tail.
    s.save_target(
        b,
        &TargetRecord {
            name: "node-broken".into(),
            language: "node".into(),
            framework: "http".into(),
            versions: Default::default(),
            config: Default::default(),
            cold_starts_ms: vec![],
            idle_pss_mb: None,
            install_bytes: Some(12),
            install_packages: Some(0),
            failure: Some("conformance: /json body differs".into()),
            stderr_tail: Some("Error: boom\n".into()),
        },
    )
    .unwrap();
    s.add_run_warning(b, "steal 3%").unwrap();
    // What v3 reads back: the figures the migrated store must give again.
    let mut expected = Vec::new();
    for id in [a, b] {
        let run = s.run(id).unwrap();
        let mut raw = Vec::new();
        for c in &run.cells {
            for (i, r) in s
                .cell_repeats(id, &c.target, &c.workload)
                .unwrap()
                .iter()
                .enumerate()
            {
                raw.push(serde_json::json!({
                    "target": c.target, "workload": c.workload, "idx": i, "clean": r.clean,
                    "throughput_rps": r.throughput_rps, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms,
                    "server_cpu_us_per_req": r.server_cpu_us_per_req,
                    "pss_mean_mb": r.pss_mean_mb, "pss_peak_mb": r.pss_peak_mb,
                    "engine_busy": r.engine_busy, "upstream_busy": r.upstream_busy,
                    "steal_pct": r.steal_pct, "capacity_rps": r.capacity_rps,
                    "report_json": r.report_json, "samples_json": r.samples_json,
                    "hold": r.hold.as_ref().map(|h| serde_json::json!({
                        "connections_attempted": h.connections_attempted,
                        "connections_held": h.connections_held,
                        "pss_idle_mb": h.pss_idle_mb, "mb_per_1k_conns": h.mb_per_1k_conns,
                        "echo_max_ms": h.echo_max_ms,
                    })),
                }));
            }
        }
        expected.push(serde_json::json!({
            "run": run,
            "repeats": raw,
            "missing": s.missing_cells(id).unwrap(),
        }));
    }
    expected.push(serde_json::json!({"mean_cell_seconds": s.mean_cell_seconds().unwrap(), "list_runs": s.list_runs().unwrap()}));
    assert_eq!(s.schema_version().unwrap(), 3);
    drop(s);
    std::fs::write(
        out.with_file_name("v3-store.expected.json"),
        serde_json::to_string_pretty(&expected).unwrap() + "\n",
    )
    .unwrap();
}
