//! End-to-end test of the rust-axum target against docs/contract.md: runs the real binary with a real
//! upstream (a small threaded HTTP/1.1 server in this test that answers `/delay?ms=N` with
//! `{"ms":N,"seq":K}` and counts requests and connections) and checks every endpoint's status,
//! headers and exact values, with inputs drawn at random and answers computed here.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// The upstream: counts requests (the `seq` it answers) and accepted connections.
struct Upstream {
    url: String,
    requests: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
}

fn start_upstream() -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicU64::new(0));
    let connections = Arc::new(AtomicU64::new(0));
    let (req, conns) = (requests.clone(), connections.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            conns.fetch_add(1, Ordering::SeqCst);
            let req = req.clone();
            std::thread::spawn(move || serve_upstream(stream, &req));
        }
    });
    Upstream {
        url,
        requests,
        connections,
    }
}

/// Answers keep-alive requests on one connection until the client closes it.
fn serve_upstream(stream: TcpStream, requests: &AtomicU64) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" {
                break;
            }
        }
        let ms: u64 = target
            .strip_prefix("/delay?ms=")
            .and_then(|v| v.parse().ok())
            .expect("the target asks for /delay?ms=N");
        std::thread::sleep(Duration::from_millis(ms));
        let seq = requests.fetch_add(1, Ordering::SeqCst) + 1;
        let body = format!("{{\"ms\":{ms},\"seq\":{seq}}}");
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if out.write_all(format!("{head}{body}").as_bytes()).is_err() {
            return;
        }
    }
}

/// The target process, killed on drop.
struct Target {
    child: Child,
    addr: String,
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_target(workers: &str, upstream: &str) -> Target {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stackwise-axum"))
        .args(["--port", "0", "--workers", workers, "--upstream", upstream])
        .env_remove("PORT")
        .env_remove("WORKERS")
        .env_remove("UPSTREAM_URL")
        .env_remove("DATABASE_URL")
        .env_remove("DB_POOL")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Target { child, addr }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn get(addr: &str, path: &str) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a complete answer");
    let mut lines = head.lines();
    let status = lines.next().unwrap().split_whitespace().nth(1).unwrap();
    Answer {
        status: status.parse().unwrap(),
        headers: lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect(),
        body: body.to_string(),
    }
}

/// Checks the contract's status, Date, Server and media type; returns the body.
fn ok(addr: &str, path: &str, media_type: &str) -> String {
    let a = get(addr, path);
    assert_eq!(a.status, 200, "{path}: {}", a.body);
    assert!(
        a.header("date").is_some_and(|d| d.ends_with(" GMT")),
        "{path}: Date"
    );
    assert!(a.header("server").is_some(), "{path}: Server");
    let ct = a.header("content-type").unwrap_or("");
    assert_eq!(ct.split(';').next().unwrap().trim(), media_type, "{path}");
    a.body
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{body:?}: {e}"))
}

fn random_below(bound: u64) -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(bound);
    h.finish() % bound
}

fn expected_cpu(n: u64) -> u64 {
    let mut x: u64 = 0;
    for i in 0..n {
        x = (x * 31 + i) % (1 << 32);
    }
    x
}

fn expected_hash(n: u64) -> String {
    if n == 0 {
        return "0".repeat(64);
    }
    let mut b: Vec<u8> = (0..1024u32).map(|i| (i % 251) as u8).collect();
    let mut hex = String::new();
    for _ in 0..n {
        let d = Sha256::digest(&b);
        b[..32].copy_from_slice(&d);
        hex = d.iter().map(|x| format!("{x:02x}")).collect();
    }
    hex
}

#[test]
fn every_contract_endpoint_answers_exactly() {
    let up = start_upstream();
    for workers in ["1", "2"] {
        let t = start_target(workers, &up.url);
        assert_eq!(ok(&t.addr, "/plaintext", "text/plain"), "Hello, World!");
        assert_eq!(
            json(&ok(&t.addr, "/json", "application/json")),
            serde_json::json!({"message": "Hello, World!"})
        );
        for n in [0, 1, 2, 3, 10, random_below(200_000), random_below(200_000)] {
            let body = ok(&t.addr, &format!("/cpu?n={n}"), "application/json");
            assert_eq!(
                json(&body),
                serde_json::json!({"n": n, "result": expected_cpu(n)})
            );
        }
        for n in [0, 1, 2, random_below(5_000), random_below(5_000)] {
            let body = ok(&t.addr, &format!("/hash?n={n}"), "application/json");
            assert_eq!(
                json(&body),
                serde_json::json!({"n": n, "sha256": expected_hash(n)})
            );
        }
        let conns_before = up.connections.load(Ordering::SeqCst);
        for ms in [0, random_below(30), random_below(30), 1, 2] {
            let before = up.requests.load(Ordering::SeqCst);
            let body = ok(&t.addr, &format!("/io?ms={ms}"), "application/json");
            let after = up.requests.load(Ordering::SeqCst);
            assert_eq!(
                after,
                before + 1,
                "/io?ms={ms} makes exactly one upstream call"
            );
            assert_eq!(json(&body), serde_json::json!({"ms": ms, "seq": after}));
        }
        let opened = up.connections.load(Ordering::SeqCst) - conns_before;
        assert_eq!(
            opened, 1,
            "five sequential /io calls share one pooled connection"
        );
        for bad in [
            "/cpu",
            "/cpu?n=-1",
            "/cpu?n=1e3",
            "/hash?n=1000001",
            "/io?ms=10001",
        ] {
            assert_eq!(get(&t.addr, bad).status, 400, "{bad}");
        }
    }
}

#[test]
fn io_without_an_upstream_answers_503_and_versions_prints_json() {
    let t = start_target("1", "");
    assert_eq!(get(&t.addr, "/io?ms=0").status, 503);
    let out = Command::new(env!("CARGO_BIN_EXE_stackwise-axum"))
        .arg("versions")
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = json(&String::from_utf8(out.stdout).unwrap());
    for key in [
        "rust",
        "axum",
        "hyper",
        "tokio",
        "sha2",
        "tokio-postgres",
        "deadpool-postgres",
    ] {
        let version = v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}"));
        assert!(version.starts_with(char::is_numeric), "{key}: {version}");
    }
}

/// The contract's /vector value computed here another way: whole periods times one period's sum.
fn expected_vector(n: u64) -> f64 {
    let square = |i: u64| (i as f64 / 1000.0) * (i as f64 / 1000.0);
    let period: f64 = (0..1000).map(square).sum();
    (n / 1000) as f64 * period + (0..n % 1000).map(square).sum::<f64>()
}

#[test]
fn vector_answers_the_sum_and_database_routes_answer_503_without_a_database() {
    let t = start_target("1", "");
    for n in [0, 1, 999, 1000, 1001, random_below(3_000_000), 10_000_000] {
        let v = json(&ok(&t.addr, &format!("/vector?n={n}"), "application/json"));
        assert_eq!(v["n"], n, "{v}");
        let (got, want) = (v["result"].as_f64().unwrap(), expected_vector(n));
        assert!(
            (got - want).abs() <= 1e-9 * want.abs(),
            "/vector?n={n}: {got} vs {want}"
        );
    }
    for bad in [
        "/vector",
        "/vector?n=10000001",
        "/vector?n=-1",
        "/cpu?n=1000000001",
    ] {
        assert_eq!(get(&t.addr, bad).status, 400, "{bad}");
    }
    for path in [
        "/db",
        "/queries?q=3",
        "/fortunes",
        "/updates?q=3",
        "/items",
        "/items/1",
    ] {
        let a = get(&t.addr, path);
        assert_eq!(a.status, 503, "{path}: {}", a.body);
        assert!(a.header("server").is_some(), "{path}: Server");
    }
}
