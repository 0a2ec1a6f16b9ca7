//! The v4 migration against a real v3 database: `fixtures/v3-store.sqlite3` was written by the v3
//! binary (commit 773713d, `tests/make_v3_fixture.rs` there): the full run and the busy quick run
//! imported (capacity ladders, mixed cells, cold starts, a failed target), a ws-hold cell with hold
//! figures (one repeat held 3 of 2000), a failed target with a stderr tail. Beside it,
//! `fixtures/v3-store.expected.json` is what v3 read back from it. Opened by this binary, the
//! database migrates to figures as rows and must read back the same figures.

use std::collections::BTreeMap;

use serde_json::Value;
use store::{RunSummary, Store};

const HOLD: [&str; 5] = [
    "connections_attempted",
    "connections_held",
    "pss_idle_mb",
    "mb_per_1k_conns",
    "echo_max_ms",
];
const FIGURES: [&str; 6] = [
    "throughput_rps",
    "p50_ms",
    "p99_ms",
    "server_cpu_us_per_req",
    "pss_mean_mb",
    "pss_peak_mb",
];

#[test]
fn a_v3_store_migrates_and_reads_back_the_same_figures() {
    let dir = std::env::temp_dir().join(format!("stackwise-v3-mig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("v3.sqlite3");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::copy(fixtures.join("v3-store.sqlite3"), &path).unwrap();
    let expected: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("v3-store.expected.json")).unwrap(),
    )
    .unwrap();

    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), store::schema::CURRENT_VERSION);
    const { assert!(store::schema::CURRENT_VERSION >= 4) };
    let mut ws_hold_seen = false;
    let mut ladders = 0;
    for (i, e) in expected.iter().take(2).enumerate() {
        let want: RunSummary = serde_json::from_value(e["run"].clone()).unwrap();
        let id = want.run_id;
        let got = s.run(id).unwrap();
        assert_eq!(got, want, "run {i}");
        // Also as JSON: the export is byte for byte what v3 wrote.
        assert_eq!(
            serde_json::to_value(&got).unwrap(),
            e["run"],
            "run {i} JSON"
        );
        ladders += got.cells.iter().filter(|c| !c.ladder.is_empty()).count();
        assert!(got
            .targets
            .iter()
            .any(|t| t.metric("cold_start_ms").is_some()));
        for r in e["repeats"].as_array().unwrap() {
            let (t, w) = (
                r["target"].as_str().unwrap(),
                r["workload"].as_str().unwrap(),
            );
            let raw = s.cell_repeats(id, t, w).unwrap();
            let got = &raw[r["idx"].as_u64().unwrap() as usize];
            assert_eq!(got.clean, r["clean"].as_bool().unwrap());
            let mut want: BTreeMap<String, f64> = FIGURES
                .iter()
                .filter_map(|f| Some((f.to_string(), r[*f].as_f64()?)))
                .collect();
            if let Some(h) = r["hold"].as_object() {
                ws_hold_seen = true;
                for f in HOLD {
                    if let Some(v) = h[f].as_f64() {
                        want.insert(f.to_string(), v);
                    }
                }
            }
            assert_eq!(got.metrics, want, "{t} {w} {}", r["idx"]);
            for (f, v) in [
                ("engine_busy", got.engine_busy),
                ("upstream_busy", got.upstream_busy),
                ("steal_pct", got.steal_pct),
                ("capacity_rps", got.capacity_rps),
            ] {
                assert_eq!(r[f].as_f64(), v, "{t} {w} {f}");
            }
            assert_eq!(r["report_json"].as_str().unwrap(), got.report_json);
            assert_eq!(r["samples_json"].as_str().unwrap(), got.samples_json);
        }
        let missing: Vec<store::PlannedCell> =
            serde_json::from_value(e["missing"].clone()).unwrap();
        assert_eq!(s.missing_cells(id).unwrap(), missing);
    }
    assert!(ws_hold_seen && ladders > 10);
    let tail = &expected[2];
    assert_eq!(
        serde_json::to_value(s.mean_cell_seconds().unwrap()).unwrap(),
        tail["mean_cell_seconds"]
    );
    assert_eq!(
        serde_json::to_value(s.list_runs().unwrap()).unwrap(),
        tail["list_runs"]
    );
    // The hold figures are rows now, summarised over every repeat as before.
    let busy = s
        .run(expected[1]["run"]["run_id"].as_i64().unwrap())
        .unwrap();
    let hold = busy.cell("node-http", "ws-hold").unwrap();
    assert_eq!(
        hold.metric("connections_held").unwrap().values,
        vec![2000.0, 3.0, 2000.0]
    );
    assert_eq!(hold.metric("throughput_rps").unwrap().values.len(), 2);
    drop(s);
    std::fs::remove_dir_all(&dir).unwrap();
}
