//! End-to-end: the equal-time loop-blocking workload (`mixed-time`) and the mixed capacity ladder
//! (`mixed-slo`) run by the real binary on one Node.js and one Python target (installed on first
//! use) into a temporary store, with short windows; then the stored cells are read back (the
//! calibrated `n` and its measured CPU time, the blocking ratio) and the adviser prices a `mixed`
//! product from the real `mixed-slo` cell. About 30 s, so in its own test binary, like lab_e2e.

mod support;

use std::path::PathBuf;

use support::lab::{no_setup, run_stored};
use support::stackwise;

#[test]
fn mixed_time_calibrates_on_node_and_python_and_mixed_slo_prices_a_mixed_product() {
    let dir = support::lab::tempdir("mixed-e2e", "run");
    let db = dir.join("lab.sqlite3");
    let (run, stdout, stderr) = run_stored(
        &[
            "--targets",
            "node-http,python-fastapi",
            "--workloads",
            "mixed-time,mixed-slo",
            "--repeats",
            "1",
            "--duration",
            "1s",
            "--warmup",
            "300ms",
            "--rung",
            "500ms",
            "--cold-starts",
            "1",
            "--no-progress",
        ],
        &db,
        &no_setup,
    );
    for target in ["node-http", "python-fastapi"] {
        let c = run
            .cell(target, "mixed-time")
            .unwrap_or_else(|| panic!("{target}: no mixed-time cell\n{stdout}\n{stderr}"));
        let heavy = c.metric("heavy_cpu_ms").expect("heavy_cpu_ms").median;
        assert!(
            (45.0..=55.0).contains(&heavy),
            "{target}: one heavy request costs {heavy} ms, not 50 ± 10%"
        );
        let n = c.metric("heavy_n").expect("heavy_n").median;
        assert!((1.0..=1e9).contains(&n), "{target}: n = {n}");
        assert!(c.metric("blocking_ratio").is_some(), "{target}");
        assert_eq!(c.params["heavy_n"], "calibrated");
        assert_eq!(c.ladder.len(), 2, "{target}: [alone, with heavy]");
        let slo = run
            .cell(target, "mixed-slo")
            .unwrap_or_else(|| panic!("{target}: no mixed-slo cell"));
        assert!(!slo.ladder.is_empty(), "{target}: mixed-slo has rungs");
        assert!(slo.params.contains_key("heavy_share"), "{target}");
    }
    // The same /cpu costs V8 far less than CPython: the calibrated n says so.
    let n = |t: &str| {
        run.cell(t, "mixed-time")
            .unwrap()
            .metric("heavy_n")
            .unwrap()
            .median
    };
    assert!(
        n("node-http") > 5.0 * n("python-fastapi"),
        "node n {} vs python n {}",
        n("node-http"),
        n("python-fastapi")
    );

    // The adviser prices a mixed product (the example's data_flow = "mixed") from the mixed-slo
    // ladder of this run.
    let profile =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/enterprise-analytics.toml");
    let out = stackwise()
        .args(["advise", "--json", "--profile"])
        .arg(&profile)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&text).expect("advice JSON");
    let stacks = v["cost"]["stacks"].as_array().expect("cost.stacks");
    assert!(!stacks.is_empty(), "{text}");
    assert!(
        stacks.iter().all(|s| s["workload"] == "mixed-slo"),
        "{}",
        serde_json::to_string_pretty(&v["cost"]).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
