//! End-to-end tests of `stackwise report`: the real binary on the reports crate's synthetic
//! fixtures (TEST DATA, not measurements), writing Markdown, HTML and JSON; bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

fn stackwise() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stackwise"))
}

fn fixture(name: &str) -> String {
    format!(
        "{}/../reports/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A fresh directory for one test's output files.
fn out_dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stackwise-report-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn usage_error(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains(needle), "{needle:?} not in: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one-line error: {err}");
}

#[test]
fn writes_markdown_and_self_contained_html() {
    let dir = out_dir("md-html");
    let (md, html) = (dir.join("r.md"), dir.join("r.html"));
    let out = stackwise()
        .args(["report", "--summary-json", &fixture("run-a.json"), "--md"])
        .arg(&md)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    ok(&out);
    assert!(out.stdout.is_empty(), "files only, nothing on stdout");
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.starts_with("# stackwise report: run #7"));
    assert!(md.contains("## Workload io-slo"));
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.len() < 2_000_000, "{} bytes", html.len());
    assert!(html.contains("<svg") && html.contains("class=\"mark\""));
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));
    assert!(
        html.contains("TEST FIXTURE"),
        "the fixture's warning is shown"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn markdown_on_stdout_by_default_and_json_with_a_comparison() {
    let out = stackwise()
        .args(["report", "--summary-json", &fixture("run-a.json")])
        .output()
        .unwrap();
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("# stackwise report: run #7"));

    let out = stackwise()
        .args([
            "report",
            "--summary-json",
            &fixture("run-a.json"),
            "--baseline-json",
            &fixture("run-b.json"),
            "--json",
        ])
        .output()
        .unwrap();
    ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["run_id"], 7);
    assert_eq!(v["comparison"]["baseline_run_id"], 5);
    assert!(v["comparison"]["rule"]
        .as_str()
        .unwrap()
        .contains("more than 5%"));
    assert!(v["derived"]["workloads"].as_array().unwrap().len() == 10);
}

#[test]
fn comparison_html() {
    let dir = out_dir("compare");
    let html = dir.join("c.html");
    let out = stackwise()
        .args([
            "report",
            "--summary-json",
            &fixture("run-a.json"),
            "--baseline-json",
            &fixture("run-b.json"),
            "--html",
        ])
        .arg(&html)
        .output()
        .unwrap();
    ok(&out);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("run #7 against baseline run #5"));
    assert!(
        page.contains("m-better"),
        "a difference beyond noise is marked"
    );
    assert!(page.len() < 2_000_000);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_names_the_flag() {
    let dir = out_dir("bad");
    let out = stackwise()
        .args(["report", "--summary-json", "/nonexistent/run.json"])
        .output()
        .unwrap();
    usage_error(&out, "--summary-json: cannot read /nonexistent/run.json");

    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{\"run_id\": 1,\n \"started_at\": 5}\n").unwrap();
    let out = stackwise()
        .args(["report", "--summary-json"])
        .arg(&broken)
        .output()
        .unwrap();
    usage_error(
        &out,
        "field `started_at`: invalid type: integer `5`, expected a string at line 2",
    );

    let out = stackwise()
        .args([
            "report",
            "--summary-json",
            &fixture("run-a.json"),
            "--run",
            "3",
        ])
        .output()
        .unwrap();
    usage_error(&out, "--run 3");

    let out = stackwise().args(["report", "--run", "3"]).output().unwrap();
    usage_error(&out, "--run");

    let out = stackwise()
        .args([
            "report",
            "--summary-json",
            &fixture("run-a.json"),
            "--html",
            "/nonexistent/dir/r.html",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--html: cannot write /nonexistent/dir/r.html"));
    let _ = std::fs::remove_dir_all(&dir);
}
