//! End-to-end tests of `stackwise lab --target-url` (issue 22): the lab's workloads against a
//! service it did not start.
//!
//! - A non-loopback URL without `--allow-remote` is refused before anything runs (no root needed).
//! - A loopback URL needs no opt-in: the contract fixture (tests/fixtures/targets/py-contract, on
//!   Python's standard library) started by the test on 127.0.0.1.
//! - A "remote" host: a network namespace the test creates (`ip netns add`), a veth pair with
//!   10.x addresses, the fixture started inside it with `ip netns exec`; the run is stored with its
//!   origin, the workloads needing the lab's upstream are skipped and said, no server-side figure
//!   is stored, and `stackwise report` shows the origin. The namespace and the fixture are removed
//!   by id even when the test fails (a guard's Drop). Skipped, saying why, when not root or when
//!   `ip` is missing (CI runs as root; scripts/test.sh installs iproute2).
//!
//! A few seconds of load per run, at short windows.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod support;

fn stackwise() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stackwise"));
    c.env(
        "STACKWISE_SEEDS",
        std::env::var("STACKWISE_SEEDS").unwrap_or_else(|_| "/work/shared/seeds".into()),
    );
    c
}

fn tempdir(tag: &str) -> PathBuf {
    support::lab::tempdir("remote", tag)
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/targets/py-contract/server.py")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Short windows: a second of load per cell.
const SHORT: &[&str] = &[
    "--repeats",
    "1",
    "--duration",
    "1s",
    "--warmup",
    "300ms",
    "--rung",
    "500ms",
    "--no-progress",
];

/// A process this test started, killed by its id on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_listening(addr: SocketAddr, p: &mut Proc) {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok() {
            return;
        }
        if let Ok(Some(s)) = p.0.try_wait() {
            panic!("the fixture server exited ({s}) before listening on {addr}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the fixture server did not listen on {addr} within 20 s");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn read_run(db: &Path) -> store::RunSummary {
    store::Store::open(db)
        .unwrap()
        .latest_run()
        .unwrap()
        .expect("a run is stored")
}

#[test]
fn a_non_loopback_url_without_allow_remote_is_refused() {
    let dir = tempdir("refused");
    let db = dir.join("lab.sqlite3");
    let out = stackwise()
        .args(["lab", "--target-url", "http://10.254.7.9:8080", "--db"])
        .arg(&db)
        .args(SHORT)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("10.254.7.9") && err.contains("not a loopback address"),
        "{err}"
    );
    assert!(err.contains("--allow-remote"), "{err}");
    // Refused before anything ran: no run stored (the store may not even exist).
    if db.exists() {
        assert!(store::Store::open(&db)
            .unwrap()
            .latest_run()
            .unwrap()
            .is_none());
    }
    // --allow-remote alone is a usage error too.
    let out = stackwise()
        .args(["lab", "--allow-remote", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    std::fs::remove_dir_all(&dir).ok();
}

/// What every remote run must show: origin stored, skips said, no server-side figure.
fn assert_remote_run(db: &Path, url: &str, name: &str) {
    let run = read_run(db);
    assert!(run.finished_at.is_some(), "the run finished");
    assert_eq!(run.settings["origin.target_url"], url);
    assert_eq!(run.settings["origin.server"], "not under the lab's control");
    assert!(!run.server_controlled());
    let notes = run.warnings.join("\n");
    assert!(
        notes.contains(&format!("skipped {name} io")) && notes.contains("upstream"),
        "{notes}"
    );
    assert!(notes.contains("server-side measures not taken"), "{notes}");
    for w in ["plaintext", "json"] {
        let c = run
            .cell(name, w)
            .unwrap_or_else(|| panic!("cell {w}: {run:?}"));
        assert_eq!(c.status, store::CellStatus::Ok, "{w}: {:?}", c.status);
        let rps = c.metric("throughput_rps").expect("throughput").median;
        assert!(rps > 0.0, "{w}: {rps}");
        for id in lab::remote::SERVER_SIDE_METRICS {
            assert!(
                c.metric(id).is_none(),
                "{w}: {id} stored for a remote server"
            );
        }
    }
    assert!(run.cell(name, "io").is_none());
    let t = run.target(name).expect("the target is stored");
    assert_eq!(t.config.get("url").map(String::as_str), Some(url));
    assert!(t
        .metrics
        .get("cold_start_ms")
        .is_none_or(|s| s.values.is_empty()));
    assert!(!t.metrics.contains_key("idle_pss_mb"));

    let out = stackwise()
        .args(["report", "--db"])
        .arg(db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    // Markdown escapes the URL's `:` (`http\://`): its host and port are what must show.
    let host_port = url.trim_start_matches("http://");
    assert!(
        report.contains(host_port) && report.contains("not under the lab's control"),
        "{report}"
    );
    assert!(!report.contains("other processes used"), "{report}");
}

#[test]
fn a_loopback_url_needs_no_opt_in() {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut server = Proc(
        Command::new("python3")
            .arg(fixture())
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 runs the fixture"),
    );
    wait_listening(addr, &mut server);
    let dir = tempdir("loopback");
    let db = dir.join("lab.sqlite3");
    let url = format!("http://127.0.0.1:{port}");
    let out = stackwise()
        .args([
            "lab",
            "--target-url",
            &url,
            "--workloads",
            "plaintext,json,io",
        ])
        .args(["--targets", "staging", "--db"])
        .arg(&db)
        .args(SHORT)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_remote_run(&db, &url, "staging");
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

/// Why the namespace test cannot run here, if it cannot.
fn netns_unavailable() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .unwrap_or("?");
    if uid != "0" {
        return Some(format!(
            "not root (effective uid {uid}): `ip netns add` needs CAP_SYS_ADMIN"
        ));
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("`ip` (iproute2) is not installed".into()),
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The namespace, its veth pair and the server in it: removed on drop, by name and by pid.
struct Netns {
    name: String,
    host_if: String,
    server: Option<Proc>,
}

impl Drop for Netns {
    fn drop(&mut self) {
        // The server first (by its pid), then the namespace (which takes its veth end along).
        self.server.take();
        let _ = ip(&["netns", "del", &self.name]);
        let _ = ip(&["link", "del", &self.host_if]);
    }
}

#[test]
fn a_host_in_a_network_namespace_is_measured_with_allow_remote() {
    if let Some(why) = netns_unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let id = std::process::id();
    let mut ns = Netns {
        name: format!("sw-remote-{id}"),
        host_if: format!("swh{}", id % 100_000),
        server: None,
    };
    let ns_if = format!("swn{}", id % 100_000);
    let subnet = 16 + id % 200;
    let (host_ip, ns_ip) = (format!("10.213.{subnet}.1"), format!("10.213.{subnet}.2"));
    let setup = || -> Result<(), String> {
        ip(&["netns", "add", &ns.name])?;
        ip(&[
            "link",
            "add",
            &ns.host_if,
            "type",
            "veth",
            "peer",
            "name",
            &ns_if,
        ])?;
        ip(&["link", "set", &ns_if, "netns", &ns.name])?;
        ip(&["addr", "add", &format!("{host_ip}/30"), "dev", &ns.host_if])?;
        ip(&["link", "set", &ns.host_if, "up"])?;
        let in_ns = |a: &[&str]| {
            let mut v = vec!["netns", "exec", &ns.name, "ip"];
            v.extend_from_slice(a);
            ip(&v)
        };
        in_ns(&["addr", "add", &format!("{ns_ip}/30"), "dev", &ns_if])?;
        in_ns(&["link", "set", &ns_if, "up"])?;
        in_ns(&["link", "set", "lo", "up"])?;
        Ok(())
    };
    if let Err(e) = setup() {
        panic!("setting up the network namespace: {e}");
    }
    let port = 8080;
    let addr: SocketAddr = format!("{ns_ip}:{port}").parse().unwrap();
    // `ip netns exec` execs the command: the child's pid is the server's.
    let child = Command::new("ip")
        .args(["netns", "exec", &ns.name, "python3"])
        .arg(fixture())
        .env("HOST", &ns_ip)
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .spawn()
        .expect("ip netns exec starts the fixture");
    ns.server = Some(Proc(child));
    wait_listening(addr, ns.server.as_mut().unwrap());

    let dir = tempdir("netns");
    let db = dir.join("lab.sqlite3");
    let url = format!("http://{ns_ip}:{port}");
    // Without the opt-in: refused, nothing sent.
    let out = stackwise()
        .args(["lab", "--target-url", &url, "--workloads", "json", "--db"])
        .arg(&db)
        .args(SHORT)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-remote"));

    let out = stackwise()
        .args(["lab", "--target-url", &url, "--allow-remote"])
        .args(["--workloads", "plaintext,json,io", "--db"])
        .arg(&db)
        .args(SHORT)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let name = format!("remote-{ns_ip}-{port}");
    assert_remote_run(&db, &url, &name);

    drop(ns);
    std::fs::remove_dir_all(&dir).ok();
}
