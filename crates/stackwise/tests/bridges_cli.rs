//! `stackwise export` and `stackwise import` through the real binary, no engine needed: a k6
//! NDJSON file in the exact form of k6's documentation (Grafana k6 docs, "Results output →
//! Real-time → JSON") imported from two "machines" and found in `stackwise report`; bad input
//! named with its file and line, exit code 2, nothing stored.

use std::path::PathBuf;

mod support;
use support::{assert_success, stackwise};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "stackwise-bridges-cli-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn point(metric: &str, time: &str, value: f64) -> String {
    format!(
        r#"{{"type":"Point","data":{{"time":"{time}","value":{value},"tags":{{"check":"stackwise answer","expected_response":"true","method":"GET","name":"json","proto":"HTTP/1.1","scenario":"stackwise","status":"200","url":"http://10.0.0.5:8080/json","stackwise_workload":"json","stackwise_rate_rps":"5","stackwise_slo_ms":"100","stackwise_users":"1","stackwise_duration_s":"2"}}}},"metric":"{metric}"}}"#
    )
}

/// One machine's NDJSON: a `Metric` line as the documentation shows it, then 10 requests over
/// 2 s with these durations.
fn machine(ms: &[f64]) -> String {
    let mut s = String::from(
        r#"{"type":"Metric","data":{"type":"trend","contains":"time","tainted":null,"thresholds":["p(99)<100"],"submetrics":null},"metric":"http_req_duration"}"#,
    );
    s.push('\n');
    for (i, d) in ms.iter().enumerate() {
        let t = format!("2026-12-06T04:00:0{}.{}00000000+01:00", i / 5, (i % 5) * 2);
        for (m, v) in [
            ("http_reqs", 1.0),
            ("http_req_duration", *d),
            ("http_req_failed", 0.0),
            ("checks", 1.0),
            ("iterations", 1.0),
        ] {
            s += &point(m, &t, v);
            s.push('\n');
        }
    }
    s
}

#[test]
fn k6_files_of_two_machines_imported_and_reported() {
    let d = dir("k6");
    let a: Vec<f64> = (1..=10).map(f64::from).collect();
    let mut b = a.clone();
    b[9] = 250.0;
    std::fs::write(d.join("m1.json"), machine(&a)).unwrap();
    std::fs::write(d.join("m2.json"), machine(&b)).unwrap();
    let db = d.join("lab.sqlite3");
    let out = stackwise()
        .args([
            "import",
            "k6",
            "m1.json",
            "m2.json",
            "--target",
            "remote-api",
            "--db",
        ])
        .arg(&db)
        .current_dir(&d)
        .output()
        .unwrap();
    assert_success(&out);
    let said = String::from_utf8(out.stdout).unwrap();
    // 20 points; nearest-rank p99 is the largest: 250 (averaging the machines' p99s would say 130).
    assert!(
        said.contains("20 requests, 0 failed, achieved 10 req/s; p50 5 ms, p99 250 ms"),
        "{said}"
    );
    assert!(
        said.contains("(2 machine(s)) against remote-api (http://10.0.0.5:8080)"),
        "{said}"
    );

    let out = stackwise()
        .args(["report", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_success(&out);
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains("## Workload json"), "{md}");
    assert!(md.contains("| remote-api | 5.00 | 250 |"), "{md}");
    assert!(
        md.contains("k6 (version not recorded): json at 10 req/s offered"),
        "{md}"
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn bad_input_is_named_and_nothing_is_stored() {
    let d = dir("bad");
    let db = d.join("lab.sqlite3");
    std::fs::write(
        d.join("bad.json"),
        format!(
            "{}\n{{not json\n",
            point("http_reqs", "2026-12-06T04:00:00Z", 1.0)
        ),
    )
    .unwrap();
    let out = stackwise()
        .args(["import", "k6", "bad.json", "--db"])
        .arg(&db)
        .current_dir(&d)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.json: line 2: not a k6 JSON output line"),
        "{err}"
    );
    assert!(!db.exists(), "nothing stored");

    let out = stackwise()
        .args(["import", "locust", "nowhere/run", "--db"])
        .arg(&db)
        .current_dir(&d)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nowhere/run_stats.csv"), "{err}");

    let out = stackwise()
        .args(["export", "k6", "--workload", "nope", "http://127.0.0.1:1"])
        .current_dir(&d)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--workload nope: no such workload (known: plaintext, json"),
        "{err}"
    );

    let out = stackwise()
        .args([
            "export",
            "locust",
            "--workload",
            "ws-hold",
            "http://127.0.0.1:1",
        ])
        .current_dir(&d)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WebSocket"));
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn k6_export_writes_a_script_node_parses() {
    let d = dir("k6x");
    let out = stackwise()
        .args([
            "export",
            "k6",
            "--workload",
            "hash",
            "http://127.0.0.1:8080",
            "--rate",
            "40",
        ])
        .args(["--slo-ms", "50", "--out", "h.mjs"])
        .current_dir(&d)
        .output()
        .unwrap();
    assert_success(&out);
    let said = String::from_utf8(out.stdout).unwrap();
    assert!(said.contains("4 VUs, p99 threshold 50 ms"), "{said}");
    assert!(said.contains("k6 run --out json="), "{said}");
    let st = std::process::Command::new("node")
        .args(["--check", "h.mjs"])
        .current_dir(&d)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::remove_dir_all(&d).ok();
}
