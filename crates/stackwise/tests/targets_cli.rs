//! End-to-end tests of `stackwise targets …`: the real binary running real target processes (test
//! fixtures under tests/fixtures/, and the shipped targets under targets/).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::{serve_fixture, stackwise};

fn fixtures(which: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(which)
}

fn repo_targets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../targets")
}

fn run(args: &[&str]) -> Output {
    stackwise().args(args).output().expect("run stackwise")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// (pid, ppid, pgrp) of every process.
fn processes() -> Vec<(i32, i32, i32)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if f[0] == "Z" {
            continue;
        }
        out.push((pid, f[1].parse().unwrap(), f[2].parse().unwrap()));
    }
    out
}

#[test]
fn a_conforming_fixture_passes_check_and_is_listed() {
    let dir = fixtures("targets");
    let out = run(&[
        "targets",
        "--targets-dir",
        dir.to_str().unwrap(),
        "check",
        "py-contract",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("py-contract: pass"), "{stdout}");
    for e in ["/plaintext", "/json", "/io", "/cpu", "/hash"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.trim_start().starts_with(e) && l.contains(" ok (4 requests)")),
            "{e} not ok:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("1 of 1 target(s) pass the contract"),
        "{stdout}"
    );

    let out = run(&["targets", "--targets-dir", dir.to_str().unwrap(), "list"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.lines().any(|l| l.starts_with("py-contract ")),
        "{stdout}"
    );
}

#[test]
fn a_wrong_cpu_answer_fails_check_with_expected_and_received() {
    let dir = fixtures("targets");
    let out = run(&[
        "targets",
        "--targets-dir",
        dir.to_str().unwrap(),
        "check",
        "py-wrong-cpu",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("py-wrong-cpu: FAIL"), "{stdout}");
    assert!(stderr.contains("not conforming: py-wrong-cpu"), "{stderr}");
    // /plaintext passes; /cpu fails on every request, each line showing both answers.
    assert!(stdout.contains("/plaintext  ok"), "{stdout}");
    let fails: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("(GET /cpu?n="))
        .collect();
    assert_eq!(fails.len(), 4, "{stdout}");
    for l in fails {
        // request K (GET /cpu?n=N): expected {"n":N,"result":R}, got {"n":N,"result":R+1}
        let n: u64 = l
            .split("n=")
            .nth(1)
            .unwrap()
            .split(')')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let results: Vec<u64> = l
            .split("\"result\":")
            .skip(1)
            .map(|s| s.split('}').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(results.len(), 2, "{l}");
        assert_eq!(results[1], results[0] + 1, "{l}");
        assert!(l.contains(&format!("expected {{\"n\":{n},")), "{l}");
        let mut x: u32 = 0;
        for i in 0..n {
            x = x.wrapping_mul(31).wrapping_add(i as u32);
        }
        assert_eq!(
            results[0], x as u64,
            "the expected value is the contract's: {l}"
        );
    }
}

#[test]
fn a_broken_manifest_names_file_line_and_field() {
    let dir = fixtures("broken");
    for args in [vec!["check", "bad-field"], vec!["list"]] {
        let mut all = vec!["targets", "--targets-dir", dir.to_str().unwrap()];
        all.extend(args);
        let out = run(&all);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
        assert!(
            stderr
                .contains("bad-field/target.toml:9: field `start.comand`: unknown field `comand`"),
            "{stderr}"
        );
    }
    let out = run(&[
        "targets",
        "--targets-dir",
        dir.to_str().unwrap(),
        "check",
        "nope",
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("no target named \"nope\" (known: bad-field)"),
        "{stderr}"
    );
    let out = run(&["targets", "--targets-dir", "/nonexistent-dir", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out)
        .1
        .contains("--targets-dir /nonexistent-dir: not a directory"));
}

#[test]
fn install_runs_steps_once_and_names_missing_programs() {
    let dir = std::env::temp_dir().join(format!("sw-targets-install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (name, extra) in [
        (
            "stamped",
            "requires = [\"python3\"]\nsteps = [[\"{python}\", \"-c\", \"open('stamp', 'w').write('x' * 5000); print('made the stamp')\"]]\ninstalled = [\"stamp\"]\ncheck = [\"stamp\"]",
        ),
        (
            "needs-runtime",
            "requires = [\"no-such-runtime-xyz\"]\nsteps = [[\"true\"]]\ncheck = [\"never\"]",
        ),
    ] {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(
            dir.join(name).join("target.toml"),
            format!(
                "name = \"{name}\"\nlanguage = \"python\"\nframework = \"x\"\nsummary = \"s\"\nendpoints = [\"json\"]\n[install]\n{extra}\n[start]\ncommand = [\"true\"]\n"
            ),
        )
        .unwrap();
    }
    let d = dir.to_str().unwrap();
    let out = run(&["targets", "--targets-dir", d, "install", "stamped"]);
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("stamped | made the stamp"), "{stderr}");
    assert!(stderr.contains("stamped: installed in"), "{stderr}");
    let out = run(&["targets", "--targets-dir", d, "install", "stamped"]);
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("stamped: already installed (0 packages, 0.0 MB on disk"),
        "{stderr}"
    );
    let out = run(&[
        "targets",
        "--targets-dir",
        d,
        "install",
        "--force",
        "stamped",
    ]);
    assert!(text(&out).1.contains("made the stamp"));

    let out = run(&["targets", "--targets-dir", d, "install"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("needs-runtime cannot be installed: `no-such-runtime-xyz` is not on PATH"),
        "{stderr}"
    );
    assert!(
        stderr.contains("needs-runtime could not be installed"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Ctrl-C (SIGINT to the stackwise process, as a terminal sends it to the foreground group) while
/// `targets serve` runs a multi-process target and the upstream: everything stops, nothing is left.
#[test]
fn sigint_during_serve_leaves_no_process_behind() {
    serve_then_signal(libc::SIGINT);
}

/// The same for SIGTERM (e.g. `timeout`, a CI runner or a service manager stopping stackwise).
#[test]
fn sigterm_during_serve_leaves_no_process_behind() {
    serve_then_signal(libc::SIGTERM);
}

fn serve_then_signal(signal: i32) {
    let port = free_port();
    let mut child = serve_fixture("py-forking", port, Stdio::piped());
    let pid = child.id() as i32;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    loop {
        let l = lines.next().expect("serve printed its banner").unwrap();
        seen.push(l.clone());
        if l.starts_with("Press Ctrl-C") {
            break;
        }
    }
    let banner = seen.join("\n");
    assert!(
        banner.contains(&format!(
            "py-forking (http.server) serving on http://127.0.0.1:{port}"
        )),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("http://127.0.0.1:{port}/json")),
        "{banner}"
    );
    // The process groups serve started: the target's (a shell, python, sleep) and the upstream's.
    let groups: Vec<i32> = processes()
        .iter()
        .filter(|(_, ppid, _)| *ppid == pid)
        .map(|(_, _, pgrp)| *pgrp)
        .collect();
    assert_eq!(groups.len(), 2, "target and upstream: {groups:?}");
    assert!(
        groups.iter().all(|g| *g != pid),
        "each runs in its own group"
    );
    let members = processes()
        .iter()
        .filter(|(_, _, g)| groups.contains(g))
        .count();
    assert!(members >= 4, "shell, python, sleep and upstream: {members}");
    assert!(TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).is_ok());

    // SAFETY: signalling the child we started.
    unsafe {
        libc::kill(pid, signal);
    }
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "serve did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(stderr.contains("no process left"), "{stderr}");
    let left: Vec<_> = processes()
        .into_iter()
        .filter(|(_, _, g)| groups.contains(g))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).is_err());
    // No cgroup of that stackwise process is left either.
    let prefix = format!("stackwise-{pid}-");
    if let Some(base) = lab::cgroup::own_cgroup_dir() {
        for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with(&prefix),
                "cgroup left: {}/{name}",
                base.display()
            );
        }
    }
}

/// The shipped targets (installed by `stackwise targets install` before the tests in CI; a missing
/// install is done here, which needs the registries).
fn check_shipped(names: &[&str]) {
    let dir = repo_targets();
    let mut args = vec!["targets", "--targets-dir", dir.to_str().unwrap(), "check"];
    args.extend(names);
    let out = run(&args);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for n in names {
        assert!(stdout.contains(&format!("{n}: pass")), "{stdout}");
    }
}

#[test]
fn rust_axum_passes_check() {
    check_shipped(&["rust-axum"]);
}

#[test]
fn a_node_and_a_python_target_pass_check() {
    check_shipped(&["node-http", "python-fastapi"]);
}

/// Every other shipped target passes the conformance check too (the lab measures no target that
/// fails it).
#[test]
fn every_other_shipped_target_passes_check() {
    check_shipped(&[
        "node-express",
        "node-fastify",
        "node-koa",
        "node-nestjs",
        "python-flask-sync",
        "python-flask-gthread",
        "python-django",
    ]);
}

/// `serve` with a port in use picks another one and says so.
#[test]
fn serve_on_a_busy_port_moves_to_another_and_a_crash_is_reported() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let mut child = serve_fixture("py-crash", port, Stdio::piped());
    let pid = child.id() as i32;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a banner").unwrap();
    assert!(first.contains("serving on http://127.0.0.1:"), "{first}");
    assert!(
        !first.contains(&format!(":{port}")),
        "not on the busy port: {first}"
    );
    let groups: Vec<i32> = processes()
        .iter()
        .filter(|(_, ppid, _)| *ppid == pid)
        .map(|(_, _, pgrp)| *pgrp)
        .collect();
    // The root dies after 1.5 s: serve reports it and stops the rest.
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "serve did not notice the crash"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("port {port} is in use: serving on")),
        "{stderr}"
    );
    assert!(stderr.contains("py-crash exited with status 3"), "{stderr}");
    assert!(stderr.contains("| fatal: out of cheese"), "{stderr}");
    let left: Vec<_> = processes()
        .into_iter()
        .filter(|(_, _, g)| groups.contains(g))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    drop(busy);
}

/// An install whose registry cannot be reached says so (npm pointed at a closed port, no cache).
#[test]
fn an_unreachable_registry_is_named() {
    let dir = std::env::temp_dir().join(format!("sw-targets-registry-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = dir.join("targets/node-http");
    std::fs::create_dir_all(&t).unwrap();
    for f in ["target.toml", "package.json", "package-lock.json"] {
        std::fs::copy(repo_targets().join("node-http").join(f), t.join(f)).unwrap();
    }
    let cache = dir.join("npm-cache");
    let out = stackwise()
        .args(["targets", "--targets-dir"])
        .arg(dir.join("targets"))
        .args(["install", "node-http"])
        .env(
            "npm_config_registry",
            format!("http://127.0.0.1:{}/", closed_port()),
        )
        .env("npm_config_cache", &cache)
        .env("npm_config_fetch_retries", "0")
        .env("npm_config_offline", "false")
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("node-http: install step `npm ci --omit=dev --no-audit --no-fund` exited with status 1; the package registry could not be reached (npm registry: "),
        "{stderr}"
    );
    assert!(!t.join("node_modules/.package-lock.json").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    free_port()
}
