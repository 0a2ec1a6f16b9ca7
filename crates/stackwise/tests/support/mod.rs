//! Test servers for the end-to-end tests: real HTTP servers on loopback, started inside the test
//! process on their own threads, and the helpers that run the real `stackwise` binary.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Output};
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
/// - `/slow` → `slow`, after 50 ms
/// - `/close` → `bye`, with `Connection: close` (the server closes after every response)
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

/// Runs `stackwise load URL ARGS… --json` and returns the parsed report.
pub fn load_json(url: &str, args: &[&str]) -> serde_json::Value {
    let out = stackwise()
        .arg("load")
        .arg(url)
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
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
