//! End-to-end tests of `stackwise load`: the real binary against real servers on loopback.

mod support;

use std::time::Duration;

use support::*;

fn schema() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/load-report.schema.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn assert_valid(report: &serde_json::Value) {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "report violates its schema: {errors:#?}");
}

#[test]
fn committed_schema_matches_the_code() {
    let out = stackwise()
        .args(["schema", "load-report"])
        .output()
        .unwrap();
    assert_success(&out);
    let generated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        generated,
        schema(),
        "schemas/load-report.schema.json is stale: regenerate it with \
         `cargo run -p stackwise -- schema load-report > schemas/load-report.schema.json`"
    );
}

#[test]
fn closed_loop_count_run_is_exact_and_valid_json() {
    let server = TestServer::start();
    let r = load_json(
        &server.url("/"),
        &["-c", "4", "-n", "2000", "--expect-body", "Hello, World!"],
    );
    assert_valid(&r);
    assert_eq!(r["config"]["mode"], "closed");
    assert_eq!(r["requests"]["sent"], 2000);
    assert_eq!(r["requests"]["completed"], 2000);
    assert_eq!(r["requests"]["succeeded"], 2000);
    assert_eq!(r["status_codes"]["200"], 2000);
    assert_eq!(r["body_bytes"], 2000 * "Hello, World!".len());
    assert_eq!(r["latency"]["from_send"]["count"], 2000);
    assert!(r["latency"]["from_schedule"].is_null());
    assert!(r["engine_cpu"]["per_request_us"].as_f64().unwrap() > 0.0);
    assert!(r["throughput_rps"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_report_with_errors_and_rate_is_valid_json_too() {
    let server = TestServer::start();
    let r = load_json(
        &server.url("/status/503"),
        &["-c", "2", "-d", "500ms", "--rate", "200"],
    );
    assert_valid(&r);
    assert!(r["rate"]["target_rps"].as_f64().unwrap() == 200.0);
    assert!(!r["warnings"].as_array().unwrap().is_empty());
}

#[test]
fn validation_failures_are_counted_not_fatal() {
    let server = TestServer::start();
    let r = load_json(
        &server.url("/"),
        &["-c", "2", "-n", "300", "--expect-body", "nope"],
    );
    assert_eq!(r["requests"]["completed"], 300);
    assert_eq!(r["requests"]["failed_body"], 300);
    assert_eq!(r["requests"]["succeeded"], 0);

    let r = load_json(&server.url("/status/500"), &["-c", "2", "-n", "300"]);
    assert_eq!(r["requests"]["failed_status"], 300);
    assert_eq!(r["status_codes"]["500"], 300);

    let r = load_json(
        &server.url("/"),
        &[
            "-c",
            "2",
            "-n",
            "300",
            "--expect-body-regex",
            "^Hello, \\w+!$",
        ],
    );
    assert_eq!(r["requests"]["succeeded"], 300);

    let r = load_json(
        &server.url("/status/404"),
        &["-n", "50", "--expect-status", "404"],
    );
    assert_eq!(r["requests"]["succeeded"], 50);
}

#[test]
fn headers_are_sent() {
    let server = TestServer::start();
    let r = load_json(
        &server.url("/header/x-probe"),
        &[
            "-c",
            "1",
            "-n",
            "20",
            "-H",
            "X-Probe: 42",
            "--expect-body",
            "42",
        ],
    );
    assert_eq!(r["requests"]["succeeded"], 20);
}

#[test]
fn errors_are_counted_by_kind_and_the_run_goes_on() {
    let addr = start_closing_server(Duration::from_secs(10));
    let r = load_json(&format!("http://{addr}/"), &["-c", "2", "-d", "500ms"]);
    assert_eq!(r["requests"]["completed"], 0);
    let closed = r["requests"]["errors"]["closed"].as_u64().unwrap();
    let io = r["requests"]["errors"]["io"].as_u64().unwrap();
    assert!(closed + io > 0, "{}", r["requests"]);
    assert_eq!(r["requests"]["total_errors"], closed + io);
    let warnings = r["warnings"].to_string();
    assert!(warnings.contains("got no response"), "{warnings}");
}

#[test]
fn nothing_but_the_report_on_stdout_and_no_progress_bar_off_a_tty() {
    let server = TestServer::start();
    let out = stackwise()
        .args(["load", &server.url("/"), "-c", "2", "-n", "100"])
        .output()
        .unwrap();
    assert_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Throughput"), "{stdout}");
    assert!(stdout.contains("p99.99"), "{stdout}");
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn interrupt_after(args: &[&str], after: Duration) -> (serde_json::Value, Duration) {
    let child = stackwise()
        .args(args)
        .arg("--json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    let took = started.elapsed();
    assert_success(&out);
    (serde_json::from_slice(&out.stdout).unwrap(), took)
}

/// Connections waiting a long time for their next slot still stop promptly, and the slots they
/// were waiting for are not counted as missed.
#[test]
fn ctrl_c_stops_a_slow_open_loop_promptly() {
    let server = TestServer::start();
    let url = server.url("/");
    let (r, took) = interrupt_after(
        &["load", &url, "-c", "50", "-d", "60s", "--rate", "10"],
        Duration::from_millis(1500),
    );
    assert!(took < Duration::from_secs(2), "took {took:?} to stop");
    assert_eq!(r["interrupted"], true);
    assert_eq!(r["rate"]["missed"], 0, "{}", r["rate"]);
}

#[test]
fn ctrl_c_stops_early_and_keeps_what_was_measured() {
    let server = TestServer::start();
    let url = server.url("/");
    let (r, took) = interrupt_after(
        &["load", &url, "-c", "2", "-d", "30s"],
        Duration::from_millis(1000),
    );
    assert!(took < Duration::from_secs(10), "took {took:?} to stop");
    assert_eq!(r["interrupted"], true);
    assert!(r["requests"]["completed"].as_u64().unwrap() > 0);
    // The window closed when Ctrl-C came, about a second in, not at 30 s.
    assert!(r["elapsed_s"].as_f64().unwrap() < 10.0);
}

/// Every bad input: one line on stderr that names the flag, exit code 2, nothing on stdout.
#[test]
fn bad_input_is_one_line_naming_the_flag_with_exit_2() {
    let server = TestServer::start();
    let ok = server.url("/");
    let closed = format!("http://127.0.0.1:{}/", closed_port());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["load", "not-a-url"], "URL"),
        (vec!["load", "http://127.0.0.1:1:2/"], "URL"),
        (vec!["load", &closed, "-n", "1"], "cannot connect"),
        (
            vec!["load", "http://10.1.2.3:8080/", "-n", "1"],
            "--allow-remote",
        ),
        (vec!["load", &ok, "-c", "0"], "--connections"),
        (
            vec!["load", &ok, "-c", "10000000", "-n", "1"],
            "--connections",
        ),
        (vec!["load", &ok, "--rate", "100"], "--rate"),
        (vec!["load", &ok, "--rate", "100", "-n", "10"], "--rate"),
        (vec!["load", &ok, "--rate", "-5", "-d", "1s"], "--rate"),
        (vec!["load", &ok, "-d", "soon"], "--duration"),
        (vec!["load", &ok, "-d", "1000000000s"], "--duration"),
        (
            vec!["load", &ok, "--timeout", "1000000000s", "-n", "1"],
            "--timeout",
        ),
        (vec!["load", &ok, "--rate", "1e-20", "-d", "1s"], "--rate"),
        (vec!["load", &ok, "--pin", "0-100000000000"], "--pin"),
        (vec!["load", &ok, "--pin", "9999"], "--pin"),
        (vec!["load", &ok, "-c", "many"], "--connections"),
        (vec!["load", &ok, "--bogus"], "--bogus"),
        (vec!["load"], "URL"),
    ];
    for (args, needle) in cases {
        let out = stackwise().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error"), "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?}: expected '{needle}' in {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn methods_and_bodies_are_sent() {
    let server = TestServer::start();
    let r = load_json(
        &server.url("/echo"),
        &[
            "-c",
            "2",
            "-n",
            "50",
            "-m",
            "POST",
            "-b",
            "{\"n\":1}",
            "--expect-body",
            "{\"n\":1}",
        ],
    );
    assert_eq!(r["requests"]["succeeded"], 50);
    assert_eq!(r["config"]["method"], "POST");
    assert_eq!(r["config"]["request_body_bytes"], 7);
    // A GET carries no body and so no Content-Length.
    let r = load_json(
        &server.url("/header/content-length"),
        &["-c", "1", "-n", "5", "--expect-body", ""],
    );
    assert_eq!(r["requests"]["succeeded"], 5);
}

#[test]
fn a_request_count_also_bounds_failed_connection_attempts() {
    // Accepts the pre-flight connection, then stops listening: every later connect is refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || drop(listener.accept()));
    let started = std::time::Instant::now();
    let r = load_json(&format!("http://{addr}/"), &["-c", "2", "-n", "20"]);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(r["requests"]["total_errors"], 20);
    assert_eq!(r["requests"]["completed"], 0);
}

/// On a terminal (a pseudo-terminal made by util-linux `script`) the progress bar is drawn on
/// stderr, and the summary still follows it.
#[test]
fn a_progress_bar_on_a_terminal() {
    let server = TestServer::start();
    let cmd = format!(
        "{} load {} -c 2 -d 1s",
        env!("CARGO_BIN_EXE_stackwise"),
        server.url("/")
    );
    let out = std::process::Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .output()
        .expect("util-linux `script` (Debian package bsdutils) is needed for this test");
    assert_success(&out);
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(
        screen.contains("measuring ["),
        "no progress bar in: {screen}"
    );
    assert!(screen.contains("Throughput"), "no summary in: {screen}");
}

/// Servers without keep-alive (gunicorn's sync workers, for one) close the connection after
/// every response: the engine reconnects and counts no error.
#[test]
fn servers_that_close_after_each_response_are_not_errors() {
    let server = TestServer::start();
    let r = load_json(
        &server.url("/close"),
        &["-c", "4", "-n", "300", "--expect-body", "bye"],
    );
    assert_eq!(r["requests"]["succeeded"], 300, "{}", r);
    assert_eq!(r["requests"]["total_errors"], 0, "{}", r["requests"]);
}

/// A server that never answers: every request times out, is counted, and the run still ends on
/// time (its duration plus the timeout at most).
#[test]
fn a_silent_server_yields_timeouts_and_a_run_that_ends_on_time() {
    let addr = start_silent_server(Duration::from_secs(20));
    let started = std::time::Instant::now();
    let r = load_json(
        &format!("http://{addr}/"),
        &["-c", "2", "-d", "1s", "--timeout", "300ms"],
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        r["requests"]["errors"]["timeout"].as_u64().unwrap() >= 2,
        "{}",
        r["requests"]
    );
    assert_eq!(r["requests"]["completed"], 0);
}

/// A server that closes connections idle for 30 ms, loaded at one request per 100 ms per
/// connection: every request finds its connection closed, and reconnecting is not an error.
#[test]
fn an_idle_connection_closed_by_the_server_is_reopened_without_an_error() {
    let addr = start_short_keepalive_server(Duration::from_millis(30), Duration::from_secs(20));
    let r = load_json(
        &format!("http://{addr}/"),
        &["-c", "1", "-d", "1s", "--rate", "10", "--expect-body", "ok"],
    );
    assert_eq!(r["requests"]["total_errors"], 0, "{}", r["requests"]);
    assert_eq!(r["requests"]["succeeded"], 10, "{}", r["requests"]);
}

#[test]
fn a_host_header_replaces_the_urls() {
    let server = TestServer::start();
    let r = load_json(
        &server.url("/header/host"),
        &[
            "-c",
            "1",
            "-n",
            "5",
            "-H",
            "Host: example.test",
            "--expect-body",
            "example.test",
        ],
    );
    assert_eq!(r["requests"]["succeeded"], 5, "{}", r["requests"]);
}
