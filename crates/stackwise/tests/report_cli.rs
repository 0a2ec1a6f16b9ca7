//! End-to-end tests of `stackwise report`: the real binary on the reports crate's synthetic
//! fixtures (TEST DATA, not measurements), writing Markdown, HTML and JSON; bad input.

use std::path::PathBuf;
use std::process::Output;

mod support;

use support::{assert_success, stackwise};

fn fixture(name: &str) -> String {
    format!(
        "{}/../reports/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A fresh directory for one test's output files.
fn out_dir(test: &str) -> PathBuf {
    support::lab::tempdir("report", test)
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
    assert_success(&out);
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
    assert_success(&out);
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
    assert_success(&out);
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
    assert_success(&out);
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

    let empty = dir.join("empty-data-home");
    std::fs::create_dir_all(&empty).unwrap();
    let out = stackwise()
        .args(["report", "--run", "3"])
        .env("XDG_DATA_HOME", &empty)
        .env("HOME", &empty)
        .output()
        .unwrap();
    usage_error(&out, "--run: there is no lab database yet");

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

/// An engine report in the layout the lab stores (the fields the report reads).
fn engine_report(rate: Option<f64>, rps: f64, p99_ms: f64) -> serde_json::Value {
    let pcts = |scale: f64| {
        serde_json::json!([
            {"p": 50.0, "us": p99_ms * 250.0 * scale}, {"p": 90.0, "us": p99_ms * 600.0 * scale},
            {"p": 99.0, "us": p99_ms * 1000.0 * scale}, {"p": 99.9, "us": p99_ms * 1500.0 * scale},
            {"p": 100.0, "us": p99_ms * 2000.0 * scale}
        ])
    };
    let series: Vec<serde_json::Value> = (0..5)
        .map(|s| {
            serde_json::json!({"start_s": s as f64, "duration_s": 1.0, "responses": rps as u64, "errors": 0,
                "from_send": {"p50_us": p99_ms * 250.0, "p99_us": p99_ms * 1000.0, "max_us": p99_ms * 2000.0},
                "from_schedule": if rate.is_some() { serde_json::json!({"p50_us": p99_ms * 300.0, "p99_us": p99_ms * 1200.0, "max_us": p99_ms * 2400.0}) } else { serde_json::Value::Null }})
        })
        .collect();
    serde_json::json!({
        "config": {"rate_rps": rate},
        "throughput_rps": rps,
        "latency": {
            "from_send": {"percentiles": pcts(1.0)},
            "from_schedule": if rate.is_some() { serde_json::json!({"percentiles": pcts(1.3)}) } else { serde_json::Value::Null },
        },
        "series": series,
    })
}

/// Writes a small run into a real store with the store's own write API: two targets, a
/// saturation cell with three repeats and a capacity cell with its ladder (TEST DATA).
fn write_store(path: &std::path::Path, speed: f64) -> i64 {
    use std::collections::BTreeMap;
    use store::{
        CellRecord, LadderPoint, Machine, NewRun, PlannedCell, RepeatRecord, Store, TargetRecord,
    };
    let store = Store::open(path).unwrap();
    let machine = Machine {
        cpu_model: "TEST CPU (report end-to-end test)".into(),
        cores: 2,
        kernel: "6.1".into(),
        os: "Debian".into(),
        memory_mb: 4096,
        runtimes: BTreeMap::from([("node".to_string(), "v22.1.0".to_string())]),
        server_cpus: vec![1],
        client_cpus: vec![0],
    };
    let targets = ["node-http", "python-fastapi"];
    let plan: Vec<PlannedCell> = targets
        .iter()
        .flat_map(|t| {
            ["json", "io-slo"].map(|w| PlannedCell {
                target: t.to_string(),
                workload: w.to_string(),
            })
        })
        .collect();
    let id = store
        .begin_run(&NewRun {
            machine,
            settings: BTreeMap::from([("repeats".into(), "3".into())]),
            plan,
        })
        .unwrap();
    let mut store = store;
    for (i, t) in targets.iter().enumerate() {
        let lang = if i == 0 { "node" } else { "python" };
        store
            .save_target(
                id,
                &TargetRecord {
                    name: t.to_string(),
                    language: lang.into(),
                    framework: t.to_string(),
                    versions: BTreeMap::new(),
                    config: BTreeMap::new(),
                    figures: BTreeMap::from([
                        ("cold_start_ms".into(), vec![40.0, 42.0, 45.0]),
                        ("idle_pss_mb".into(), vec![50.0]),
                        ("install_bytes".into(), vec![1_000_000.0]),
                        ("install_packages".into(), vec![3.0]),
                    ]),
                    failure: None,
                    stderr_tail: None,
                },
            )
            .unwrap();
        let base = if i == 0 { 10_000.0 } else { 3_000.0 } * speed;
        let repeats: Vec<RepeatRecord> = [0.98, 1.0, 1.02]
            .iter()
            .map(|f| {
                RepeatRecord {
                    clean: true,
                    report_json: engine_report(None, base * f, 8.0).to_string(),
                    ..Default::default()
                }
                .with(&[
                    ("throughput_rps", Some(base * f)),
                    ("p50_ms", Some(2.0)),
                    ("p99_ms", Some(8.0)),
                    ("server_cpu_us_per_req", Some(1e6 / base)),
                    ("pss_mean_mb", Some(60.0)),
                    ("pss_peak_mb", Some(70.0)),
                ])
            })
            .collect();
        store
            .save_cell(
                id,
                &CellRecord {
                    target: t.to_string(),
                    workload: "json".into(),
                    params: BTreeMap::new(),
                    status: store::CellStatus::Ok,
                    warnings: vec![],
                    lower_bound: false,
                    slo_p99_ms: None,
                    capacity_rps: None,
                    ladder: vec![],
                    repeats,
                    elapsed_s: Some(30.0),
                },
            )
            .unwrap();
        let rates = [0.25, 0.5, 0.75].map(|f| base * f);
        let ladder: Vec<LadderPoint> = rates
            .iter()
            .enumerate()
            .map(|(k, r)| LadderPoint {
                offered_rps: *r,
                achieved_rps: *r,
                p50_ms: 2.0,
                p99_ms: 20.0 * (k as f64 + 1.0).powi(3),
                errors: 0,
                server_cores: None,
            })
            .collect();
        let cap = rates[1];
        let rungs: Vec<serde_json::Value> = rates
            .iter()
            .zip(&ladder)
            .map(|(r, p)| engine_report(Some(*r), *r, p.p99_ms))
            .collect();
        store
            .save_cell(
                id,
                &CellRecord {
                    target: t.to_string(),
                    workload: "io-slo".into(),
                    params: BTreeMap::new(),
                    status: store::CellStatus::Ok,
                    warnings: vec![],
                    lower_bound: false,
                    slo_p99_ms: Some(100.0),
                    capacity_rps: Some(cap),
                    ladder,
                    repeats: vec![RepeatRecord {
                        clean: true,
                        capacity_rps: Some(cap),
                        report_json: serde_json::Value::from(rungs).to_string(),
                        ..Default::default()
                    }
                    .with(&[("p50_ms", Some(2.0)), ("p99_ms", Some(80.0))])],
                    elapsed_s: Some(30.0),
                },
            )
            .unwrap();
    }
    store.finish_run(id).unwrap();
    id
}

#[test]
fn reads_runs_from_a_real_store_with_curves_series_and_a_comparison() {
    let dir = out_dir("store");
    let db = dir.join("lab.sqlite3");
    let first = write_store(&db, 1.0);
    let second = write_store(&db, 1.3);
    let html = dir.join("r.html");
    // The latest run by default.
    let out = stackwise()
        .args(["report", "--db"])
        .arg(&db)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert_success(&out);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains(&format!("run #{second}")), "the latest run");
    // Curves and series came from the stored engine reports.
    assert!(page.contains("aria-label=\"json: latency by percentile"));
    assert!(page.contains("aria-label=\"json: responses per second over the run"));
    assert!(page.contains("aria-label=\"io-slo: latency by percentile"));
    assert!(page.contains("aria-label=\"io-slo: corrected p99 latency vs offered rate"));
    assert!(page.contains("repeat 2 of 3"), "the median repeat is shown");
    assert!(
        page.contains("ladder rung at 6,500 req/s"),
        "the rung at capacity"
    );

    let out = stackwise()
        .args(["report", "--db"])
        .arg(&db)
        .args([
            "--run",
            &second.to_string(),
            "--compare",
            &first.to_string(),
            "--json",
        ])
        .output()
        .unwrap();
    assert_success(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let figs = v["comparison"]["figures"].as_array().unwrap();
    let tp = figs
        .iter()
        .find(|f| {
            f["target"] == "node-http" && f["workload"] == "json" && f["figure"] == "throughput_rps"
        })
        .unwrap();
    assert_eq!(tp["marked"], true, "+30% with disjoint ranges: {tp}");

    let out = stackwise()
        .args(["report", "--db"])
        .arg(&db)
        .args(["--run", "99"])
        .output()
        .unwrap();
    usage_error(&out, "--run 99");
    let out = stackwise()
        .args(["report", "--db"])
        .arg(dir.join("none.sqlite3"))
        .output()
        .unwrap();
    usage_error(&out, "--db: no lab database at");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn claims_always_and_advice_with_a_profile() {
    let dir = out_dir("profile");
    let html = dir.join("r.html");
    let profile = format!(
        "{}/../../examples/startup-chat-mvp.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = stackwise()
        .args([
            "report",
            "--summary-json",
            &fixture("run-a.json"),
            "--profile",
            &profile,
            "--html",
        ])
        .arg(&html)
        .output()
        .unwrap();
    assert_success(&out);
    let page = std::fs::read_to_string(&html).unwrap();
    let claims = &page[page.find("id=\"claims\"").unwrap()..page.find("id=\"advice\"").unwrap()];
    assert!(claims.contains("testable claims of the articles checked against this run"));
    assert!(claims.contains("class=\"v-supported\"") || claims.contains("class=\"v-refuted\""));
    let advice = &page[page.find("id=\"advice\"").unwrap()..];
    assert!(advice.contains("Recommendation for the profile startup-chat-mvp.toml"));
    assert!(advice.contains("Cores with headroom"), "the cost table");
    assert!(advice.contains("<pre>"), "the profile as given");

    // A profile's own text is escaped; a broken profile is refused naming the flag.
    let hostile = dir.join("hostile.toml");
    let text = std::fs::read_to_string(&profile).unwrap();
    std::fs::write(
        &hostile,
        format!("# <script>alert('p')</script> | *x*\n{text}"),
    )
    .unwrap();
    let out = stackwise()
        .args([
            "report",
            "--summary-json",
            &fixture("run-a.json"),
            "--profile",
        ])
        .arg(&hostile)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert_success(&out);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("<script"));
    assert!(page.contains("# &lt;script&gt;alert(&#39;p&#39;)&lt;/script&gt; | *x*"));
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[team]\njavascript = 3\ncolour = \"red\"\n").unwrap();
    let out = stackwise()
        .args([
            "report",
            "--summary-json",
            &fixture("run-a.json"),
            "--profile",
        ])
        .arg(&bad)
        .output()
        .unwrap();
    usage_error(&out, "--profile");
    let out = stackwise()
        .args([
            "report",
            "--summary-json",
            &fixture("run-a.json"),
            "--baseline-json",
            &fixture("run-b.json"),
            "--profile",
            &profile,
        ])
        .output()
        .unwrap();
    usage_error(
        &out,
        "--profile: a comparison shows the figures of two runs",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- `stackwise serve`: the same reports through the local web UI ----

/// A running `stackwise serve`, killed when dropped.
struct Served {
    child: std::process::Child,
    port: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(db: &std::path::Path) -> Served {
    use std::io::BufRead;
    let mut child = stackwise()
        .args(["serve", "--port", "0", "--db"])
        .arg(db)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Served { child, port }
}

/// One HTTP/1.1 request (raw, so that any Host or Origin can be sent); (status, whole response).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn web_ui_serves_reports_and_refuses_other_sites() {
    let dir = out_dir("serve");
    let db = dir.join("lab.sqlite3");
    let first = write_store(&db, 1.0);
    let second = write_store(&db, 1.3);
    let ui = serve(&db);
    let p = ui.port;
    let host = |h: &str| vec![("Host", h.to_string())];
    let own = format!("127.0.0.1:{p}");

    let (st, page) = http(p, "GET", "/", &host(&own), "");
    assert_eq!(st, 200, "{page}");
    assert!(
        page.contains(&format!("href=\"/runs/{second}\"")) && page.contains("Compare two runs")
    );
    assert!(page.contains("content-security-policy: default-src 'none'"));
    let (st, _) = http(p, "GET", "/", &host(&format!("localhost:{p}")), "");
    assert_eq!(st, 200);

    let (st, page) = http(p, "GET", &format!("/runs/{second}"), &host(&own), "");
    assert_eq!(st, 200);
    assert!(
        page.contains("<svg") && page.contains("class=\"mark\"") && page.contains("id=\"claims\"")
    );
    let (st, page) = http(
        p,
        "GET",
        &format!("/compare?run={second}&baseline={first}"),
        &host(&own),
        "",
    );
    assert_eq!(st, 200);
    assert!(page.contains(&format!("run #{second} against baseline run #{first}")));
    let (st, _) = http(p, "GET", "/runs/99", &host(&own), "");
    assert_eq!(st, 404);

    // DNS rebinding: a foreign name for this address is refused; so is another site's page.
    let (st, _) = http(p, "GET", "/", &host(&format!("evil.example:{p}")), "");
    assert_eq!(st, 421);
    let (st, _) = http(
        p,
        "GET",
        "/",
        &[
            ("Host", own.clone()),
            ("Origin", "http://evil.example".into()),
        ],
        "",
    );
    assert_eq!(st, 403);

    // The form: its token, from its own page only.
    let (st, form) = http(p, "GET", "/advise", &host(&own), "");
    assert_eq!(st, 200);
    let token = form
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(token.len(), 64);
    let profile = std::fs::read_to_string(format!(
        "{}/../../examples/startup-chat-mvp.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let body = format!("csrf={token}&profile={}", enc(&profile));
    let origin = ("Origin", format!("http://{own}"));
    let (st, page) = http(
        p,
        "POST",
        "/advise",
        &[("Host", own.clone()), origin.clone()],
        &body,
    );
    assert_eq!(st, 200, "{page}");
    assert!(page.contains("Recommendation for the profile given in the form"));
    assert!(page.contains(&format!("Cost from the measured capacity of run #{second}")));
    let (st, _) = http(
        p,
        "POST",
        "/advise",
        &[("Host", own.clone()), origin.clone()],
        &format!("csrf=0&profile={}", enc(&profile)),
    );
    assert_eq!(st, 403, "a wrong token");
    let (st, _) = http(p, "POST", "/advise", &host(&own), &body);
    assert_eq!(st, 403, "no Origin and no Referer");
    let (st, _) = http(
        p,
        "POST",
        "/advise",
        &[
            ("Host", own.clone()),
            ("Origin", "http://evil.example".into()),
        ],
        &body,
    );
    assert_eq!(st, 403, "another site's form");
    let (st, _) = http(
        p,
        "POST",
        "/advise",
        &[
            ("Host", own.clone()),
            ("Referer", format!("http://{own}/advise")),
        ],
        &body,
    );
    assert_eq!(st, 200, "Referer from this server's page");
    // The questionnaire as form fields; the form page offers every question, filled from an example.
    assert!(
        form.contains("name=\"product.data_flow\"")
            && form.contains("What is the core data flow of your product?")
    );
    let fields = "team.javascript=0&team.python=4&team.data_science=true&product.use_case=ml-backend\
        &product.stage=post-pmf&product.realtime=false&product.ai_ml=core&product.data_heavy=true\
        &product.compliance=standard&product.full_stack_js=false&product.serverless=false\
        &product.data_flow=compute&load.peak_rps=500&load.concurrent_connections=1000&load.p99_ms=200\
        &costs.core_hour_usd=0.05";
    let (st, page) = http(
        p,
        "POST",
        "/advise",
        &[("Host", own.clone()), origin.clone()],
        &format!("csrf={token}&{fields}"),
    );
    assert_eq!(st, 200, "{page}");
    assert!(
        page.contains("Recommendation for the profile given in the form: Python"),
        "{page}"
    );
    let (st, page) = http(
        p,
        "POST",
        "/advise",
        &[("Host", own.clone()), origin.clone()],
        &format!("csrf={token}&team.javascript=%3Cscript%3E"),
    );
    assert_eq!(st, 422);
    assert!(!page.contains("`<script>`") && page.contains("&lt;script&gt;"));
    // What the user typed comes back escaped.
    let hostile = format!(
        "csrf={token}&profile={}",
        enc("[team]\njavascript = \"<script>alert(1)</script>\"\n")
    );
    let (st, page) = http(
        p,
        "POST",
        "/advise",
        &[("Host", own.clone()), origin],
        &hostile,
    );
    assert_eq!(st, 422);
    assert!(
        !page.contains("<script>alert") && page.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
    );
    drop(ui);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn web_ui_binds_loopback_unless_told() {
    let out = stackwise()
        .args(["serve", "--bind", "0.0.0.0", "--port", "0"])
        .output()
        .unwrap();
    usage_error(&out, "--bind: 0.0.0.0 is not a loopback address");
}

#[test]
fn web_ui_starts_a_lab_run_and_streams_its_output() {
    let dir = out_dir("serve-lab");
    let db = dir.join("lab.sqlite3");
    let ui = serve(&db);
    let p = ui.port;
    let own = format!("127.0.0.1:{p}");
    let origin = ("Origin", format!("http://{own}"));
    let (st, page) = http(p, "GET", "/lab", &[("Host", own.clone())], "");
    assert_eq!(st, 200);
    assert!(page.contains("Start the lab"));
    // The page's script runs only with this response's nonce.
    let csp = page
        .lines()
        .find(|l| l.starts_with("content-security-policy:"))
        .unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(page.contains(&format!("<script nonce=\"{nonce}\">")));
    let token = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();

    let (st, _) = http(
        p,
        "POST",
        "/lab/stop",
        &[("Host", own.clone()), origin.clone()],
        &format!("csrf={token}"),
    );
    assert_eq!(st, 409, "nothing to stop");
    let (st, _) = http(
        p,
        "POST",
        "/lab/start",
        &[("Host", own.clone()), origin.clone()],
        "csrf=bad&quick=1",
    );
    assert_eq!(st, 403);
    let (st, _) = http(
        p,
        "POST",
        "/lab/start",
        &[("Host", own.clone()), origin.clone()],
        &format!("csrf={token}&targets=a;rm"),
    );
    assert_eq!(st, 422, "names are checked before anything starts");
    // A lab run that the lab itself refuses at once: its error line and its end are streamed.
    let (st, resp) = http(
        p,
        "POST",
        "/lab/start",
        &[("Host", own.clone()), origin.clone()],
        &format!("csrf={token}&targets=no-such-target&workloads=json"),
    );
    assert_eq!(st, 303, "{resp}");
    let (st, events) = http(p, "GET", "/lab/events?from=0", &[("Host", own.clone())], "");
    assert_eq!(st, 200);
    assert!(
        events.contains("content-type: text/event-stream"),
        "{events}"
    );
    assert!(
        events.contains("event: line\ndata: error: --targets: no target named 'no-such-target'"),
        "{events}"
    );
    assert!(events.contains("event: end\ndata: exit code 2"), "{events}");
    let (_, page) = http(p, "GET", "/lab", &[("Host", own.clone())], "");
    assert!(
        page.contains("Ended: exit code 2.") && page.contains("stackwise lab --no-progress --db")
    );
    drop(ui);
    let _ = std::fs::remove_dir_all(&dir);
}
