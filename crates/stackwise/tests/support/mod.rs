//! Test servers for the end-to-end tests: real HTTP servers on loopback, started inside the test
//! process on their own threads, and the helpers that run the real `stackwise` binary; [`lab`]:
//! the scaffolding of the tests that run `stackwise lab`.

#![allow(dead_code)]

pub mod lab;

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;

/// An axum server on 127.0.0.1 with a few routes:
/// - `/` → `Hello, World!`
/// - `/status/{code}` → an empty response with that status
/// - `/header/{name}` → the value of that request header
/// - `POST /echo` → the request body
/// - `/slow` → `slow`, after 50 ms
/// - `/close` → `bye`, with `Connection: close` (the server closes after every response)
/// - `/big` → 9 MiB of `a` (over the 8 MiB a body check reads)
/// - `/stall` → `ok`, but the whole server is frozen for the first 500 ms of every second
///   (every request that arrives during a freeze is answered when it ends), like a stop-the-world
///   pause.
pub struct TestServer {
    pub addr: SocketAddr,
}

impl TestServer {
    pub fn start() -> TestServer {
        let std_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let epoch = tokio::time::Instant::now();
                let app =
                    Router::new()
                        .route("/", get(|| async { "Hello, World!" }))
                        .route(
                            "/status/{code}",
                            get(|Path(code): Path<u16>| async move {
                                StatusCode::from_u16(code).unwrap()
                            }),
                        )
                        .route(
                            "/header/{name}",
                            get(|Path(name): Path<String>, headers: HeaderMap| async move {
                                headers
                                    .get(name)
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or("")
                                    .to_string()
                            }),
                        )
                        .route(
                            "/echo",
                            axum::routing::post(|body: String| async move { body }),
                        )
                        .route(
                            "/slow",
                            get(|| async {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                "slow"
                            }),
                        )
                        .route("/big", get(|| async { "a".repeat(9 << 20) }))
                        .route(
                            "/close",
                            get(|| async { ([(axum::http::header::CONNECTION, "close")], "bye") }),
                        )
                        .route(
                            "/stall",
                            get(move || async move {
                                let phase = epoch.elapsed().as_nanos() % 1_000_000_000;
                                if phase < 500_000_000 {
                                    let left = 500_000_000 - phase;
                                    tokio::time::sleep(Duration::from_nanos(left as u64)).await;
                                }
                                "ok"
                            }),
                        );
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        TestServer { addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

/// A raw TCP server on 127.0.0.1 that hands every accepted connection to `on_accept`, for
/// this long.
fn raw_server(
    for_how_long: Duration,
    mut on_accept: impl FnMut(std::net::TcpStream) + Send + 'static,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let end = Instant::now() + for_how_long;
        while Instant::now() < end {
            match listener.accept() {
                Ok((s, _)) => on_accept(s),
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    });
    addr
}

/// A TCP server that accepts connections and closes them without answering, for this long.
pub fn start_closing_server(for_how_long: Duration) -> SocketAddr {
    raw_server(for_how_long, drop)
}

/// A loopback port nothing listens on.
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub fn stackwise() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stackwise"))
}

/// Starts `stackwise targets --targets-dir tests/fixtures/targets serve NAME --port PORT` with its
/// stdout piped (the banner) and its stderr as given.
pub fn serve_fixture(name: &str, port: u16, stderr: Stdio) -> Child {
    stackwise()
        .args(["targets", "--targets-dir"])
        .arg(self::lab::fixtures())
        .args(["serve", name, "--port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// Runs `stackwise load URL ARGS… --json` and returns the parsed report.
pub fn load_json(url: &str, args: &[&str]) -> serde_json::Value {
    let (r, code, stderr) = run_json(url, args);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    r
}

/// Runs `stackwise load URL ARGS… --json` and returns the parsed report (which must be printed
/// whatever the exit code), the exit code and stderr. Checks that the report's counts reconcile.
pub fn run_json(url: &str, args: &[&str]) -> (serde_json::Value, Option<i32>, String) {
    let out = stackwise()
        .arg("load")
        .arg(url)
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    assert_reconciles(&r);
    (r, out.status.code(), stderr)
}

/// Every count of a report adds up (issue 5, defect 4).
pub fn assert_reconciles(r: &serde_json::Value) {
    let q = &r["requests"];
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"));
    let errors: u64 = q["errors"].as_object().unwrap().values().map(n).sum();
    assert_eq!(errors, n(&q["total_errors"]), "{q}");
    assert_eq!(
        n(&q["sent"]) + n(&q["errors"]["connect"]),
        n(&q["completed"]) + n(&q["total_errors"]) + n(&q["cut_off"]),
        "sent + failed connects != responses + errors + cut off: {q}"
    );
    assert_eq!(
        n(&q["completed"]),
        n(&q["succeeded"]) + n(&q["failed_status"]) + n(&q["failed_body"]),
        "{q}"
    );
    let codes: u64 = r["status_codes"].as_object().unwrap().values().map(n).sum();
    assert_eq!(codes, n(&q["completed"]), "{r}");
    let series: u64 = r["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| n(&p["responses"]))
        .sum();
    assert_eq!(series, n(&q["completed"]), "series: {}", r["series"]);
    if let Some(h) = r["latency"]["from_send"].as_object() {
        assert_eq!(n(&h["count"]), n(&q["completed"]));
    }
    if let Some(n_req) = r["config"]["requests"].as_u64() {
        if r["interrupted"] == false {
            assert!(n(&q["sent"]) + n(&q["errors"]["connect"]) <= n_req, "{q}");
        }
    }
    if r["config"]["mode"] == "open" {
        let c = &r["censored"];
        assert_eq!(n(&c["in_flight"]), n(&q["cut_off"]));
        assert_eq!(n(&c["unsent"]), n(&r["rate"]["missed"]));
        assert_eq!(n(&c["total"]), n(&c["unsent"]) + n(&c["in_flight"]));
        assert_eq!(
            r["rate"]["achieved_rps"], r["throughput_rps"],
            "one throughput figure"
        );
        // Every slot of the window ends as a response, an error after sending, or censored.
        let after_send = n(&q["total_errors"]) - n(&q["errors"]["connect"]);
        assert_eq!(
            n(&r["rate"]["scheduled"]),
            n(&q["completed"]) + after_send + n(&c["total"]),
            "slots do not add up: {} {}",
            r["rate"],
            q
        );
    }
}

pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The latency at percentile `p` of `report.latency[which]`, in microseconds.
pub fn percentile(report: &serde_json::Value, which: &str, p: f64) -> f64 {
    report["latency"][which]["percentiles"]
        .as_array()
        .unwrap_or_else(|| panic!("no latency.{which} in report"))
        .iter()
        .find(|x| (x["p"].as_f64().unwrap() - p).abs() < 1e-9)
        .unwrap()["us"]
        .as_f64()
        .unwrap()
}

/// A TCP server that accepts connections and never answers nor closes them, for this long.
pub fn start_silent_server(for_how_long: Duration) -> SocketAddr {
    let mut held = Vec::new();
    raw_server(for_how_long, move |s| held.push(s))
}

/// A minimal HTTP/1.1 server that answers `ok` with keep-alive but closes a connection after it
/// has been idle for `idle`, as servers with a short keep-alive timeout do. Runs for `for_how_long`.
pub fn start_short_keepalive_server(idle: Duration, for_how_long: Duration) -> SocketAddr {
    use std::io::{Read, Write};
    raw_server(for_how_long, move |mut s| {
        std::thread::spawn(move || {
            s.set_nonblocking(false).unwrap();
            s.set_read_timeout(Some(idle)).unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Answer each request head; an idle read timeout or EOF closes the connection.
            while let Ok(n @ 1..) = s.read(&mut chunk) {
                buf.extend_from_slice(&chunk[..n]);
                while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    buf.drain(..end + 4);
                    let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if s.write_all(reply).is_err() {
                        return;
                    }
                }
            }
        });
    })
}

/// A raw HTTP server that announces a 100-byte body, sends 5 bytes and closes the connection.
pub fn start_truncating_server(for_how_long: Duration) -> SocketAddr {
    use std::io::{Read, Write};
    raw_server(for_how_long, |mut s| {
        std::thread::spawn(move || {
            s.set_nonblocking(false).unwrap();
            let mut buf = [0u8; 4096];
            if let Ok(1..) = s.read(&mut buf) {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort");
            }
        });
    })
}
