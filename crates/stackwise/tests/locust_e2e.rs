//! End-to-end: a real Locust (pinned by version and hash: crates/bridges/engines/locust/
//! requirements.txt, installed with `pip --require-hashes` into a venv under the target dir, made
//! once and reused) runs as one master and two worker processes on loopback, with the commands
//! `stackwise export locust` prints, against the rust-axum reference backend (its debug build,
//! started here on a free port). `stackwise import locust` stores the result and `stackwise
//! report` shows it with its origin. A few seconds of load at 20 req/s; every process this test
//! starts is ended by its pid.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::lab::tempdir;
use support::{assert_success, stackwise};

/// Processes this test started, ended (by pid) when dropped.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn target_dir() -> PathBuf {
    // target/debug/stackwise → target
    Path::new(env!("CARGO_BIN_EXE_stackwise"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf()
}

/// One Locust test at a time: both make the same venv on first use (two `python3 -m venv` into one
/// directory at once fail with "File exists"), and each runs a master and two workers.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The venv with the pinned Locust, made once (a marker file says it is complete). Callers hold
/// [`serial`].
fn locust_venv() -> PathBuf {
    let req = repo().join("crates/bridges/engines/locust/requirements.txt");
    let text = std::fs::read_to_string(&req).unwrap();
    // The venv is named by a digest of the requirements: a new pin makes a new venv.
    let digest = text.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    let venv = target_dir().join(format!("engines/locust-{digest:016x}"));
    let done = venv.join(".installed");
    if done.exists() {
        return venv;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("python3 runs");
    assert!(ok.success(), "python3 -m venv {}", venv.display());
    let out = Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--no-input",
            "--require-hashes",
            "--only-binary=:all:",
            "-r",
        ])
        .arg(&req)
        .output()
        .expect("pip runs");
    assert!(
        out.status.success(),
        "pip install --require-hashes -r {}: {}",
        req.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&done, "").unwrap();
    venv
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The rust-axum reference backend's binary (debug build; built here if missing).
fn axum_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(cargo)
        .args(["build", "-q", "-p", "stackwise-axum"])
        .current_dir(repo())
        .status()
        .expect("cargo runs");
    assert!(st.success(), "cargo build -p stackwise-axum");
    target_dir().join("debug/stackwise-axum")
}

fn wait_ready(port: u16, procs: &mut Procs) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Some(s) = procs.0[0].try_wait().unwrap() {
            panic!("rust-axum exited: {s}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("rust-axum did not listen on {port} within 20 s");
}

/// The command a printed line names, with `locust` from the venv.
fn command(line: &str, venv: &Path, dir: &Path) -> Command {
    let mut words = line.split_whitespace();
    assert_eq!(words.next(), Some("locust"), "{line}");
    let mut c = Command::new(venv.join("bin/locust"));
    c.args(words).current_dir(dir);
    c
}

/// The rust-axum reference backend started on a free loopback port (one worker), ready: the
/// processes to end (it is the first) and its URL.
fn start_axum() -> (Procs, String) {
    let mut procs = Procs(Vec::new());
    let port = free_port();
    procs.0.push(
        Command::new(axum_binary())
            .env("PORT", port.to_string())
            .env("WORKERS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_ready(port, &mut procs);
    (procs, format!("http://127.0.0.1:{port}"))
}

/// The `locust …` command lines `stackwise export locust` printed (the master's, then the
/// workers').
fn locust_commands(printed: &str) -> Vec<&str> {
    printed
        .lines()
        .filter(|l| l.starts_with("locust "))
        .collect()
}

/// What the master of `run` wrote on stderr.
fn master_err(dir: &Path, run: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{run}-master.err"))).unwrap_or_default()
}

/// Starts the master (`lines[0]`) and two workers (`lines[1]`) in `dir` (added to `procs`; their
/// output in `dir/{run}-master.log`, `{run}-master.err`, `{run}-worker{i}.err`) and waits for the
/// master to end, bounded at 120 s: its exit status.
fn run_master_and_two_workers(
    lines: &[&str],
    venv: &Path,
    dir: &Path,
    run: &str,
    procs: &mut Procs,
) -> std::process::ExitStatus {
    let log = |name: String| std::fs::File::create(dir.join(name)).unwrap();
    let mut master = command(lines[0], venv, dir);
    master
        .stdout(log(format!("{run}-master.log")))
        .stderr(log(format!("{run}-master.err")));
    procs.0.push(master.spawn().unwrap());
    let master_idx = procs.0.len() - 1;
    for i in 0..2 {
        let mut w = command(lines[1], venv, dir);
        w.stdout(Stdio::null())
            .stderr(log(format!("{run}-worker{i}.err")));
        procs.0.push(w.spawn().unwrap());
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(s) = procs.0[master_idx].try_wait().unwrap() {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "the Locust master did not finish in 120 s: {}",
            master_err(dir, run)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn locust_master_and_two_workers_measured_imported_and_reported() {
    let _serial = serial();
    let venv = locust_venv();
    let dir = tempdir("locust-e2e", "cpu");
    let (mut procs, url) = start_axum();

    let master_port = free_port();
    let out = stackwise()
        .args(["export", "locust", "--workload", "cpu", &url])
        .args(["--rate", "20", "--duration", "3s", "--workers", "2"])
        .args(["--master-host", "127.0.0.1", "--master-port"])
        .arg(master_port.to_string())
        .args(["--out", "lf.py", "--csv", "run"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_success(&out);
    let printed = String::from_utf8(out.stdout).unwrap();
    let lines = locust_commands(&printed);
    assert_eq!(lines.len(), 2, "{printed}");
    assert!(lines[0].contains("--master") && lines[0].contains("--expect-workers 2"));
    assert!(lines[1].contains("--worker") && lines[1].contains("--master-host 127.0.0.1"));
    assert!(printed.contains("stackwise import locust run"), "{printed}");

    // 3 s of load + 1 s of ramp, workers joining, start-up.
    let status = run_master_and_two_workers(&lines, &venv, &dir, "run", &mut procs);
    assert!(
        status.success(),
        "locust master: {status}: {}",
        master_err(&dir, "run")
    );

    let db = dir.join("lab.sqlite3");
    let out = stackwise()
        .args(["import", "locust", "run", "--target", "rust-axum", "--db"])
        .arg(&db)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_success(&out);
    let said = String::from_utf8(out.stdout).unwrap();
    assert!(said.contains("locust 2.47.0 (2 worker(s))"), "{said}");
    assert!(
        said.contains(", 0 failed,"),
        "every /cpu answer checked and right: {said}"
    );

    let out = stackwise()
        .args(["report", "--json", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_success(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = &report["summary"];
    assert_eq!(run["settings"]["origin.tool"], "locust");
    assert_eq!(run["settings"]["origin.version"], "2.47.0");
    assert_eq!(run["settings"]["origin.workers"], "2");
    assert_eq!(run["settings"]["origin.target_url"], url.as_str());
    let cell = &run["cells"][0];
    assert_eq!(cell["target"], "rust-axum");
    assert_eq!(cell["workload"], "cpu");
    assert_eq!(cell["status"]["status"], "ok");
    let p99 = cell["p99_ms"]["median"].as_f64().unwrap();
    assert!(p99 > 0.0 && p99 < 1000.0, "{p99}");
    assert!(cell["capacity_rps"].is_null() && cell["throughput_rps"].is_null());
    // At 20 req/s for ~3 s, with every answer right.
    let requests: u64 = run["settings"]["engine.requests"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((30..=120).contains(&requests), "{requests} requests");

    let out = stackwise()
        .args(["report", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_success(&out);
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(
        md.contains("## Workload cpu") && md.contains("rust-axum"),
        "{md}"
    );
    assert!(
        md.contains("not corrected for coordinated omission"),
        "{md}"
    );

    drop(procs);
    std::fs::remove_dir_all(&dir).ok();
}

/// `vector` exported (issue 22: a float answer checked within the contract's tolerance) and run by
/// a real Locust master and two workers against rust-axum: every answer accepted; and a wrong
/// expected answer (the script edited) fails every request, so the check is not vacuous.
#[test]
fn locust_runs_exported_vector_with_its_float_check() {
    let _serial = serial();
    let venv = locust_venv();
    let dir = tempdir("locust-e2e", "vector");
    let (mut procs, url) = start_axum();
    for (run, corrupt) in [("good", false), ("bad", true)] {
        let master_port = free_port();
        let file = format!("{run}.py");
        let out = stackwise()
            .args(["export", "locust", "--workload", "vector", &url])
            .args(["--rate", "5", "--duration", "2s", "--workers", "2"])
            .args(["--master-host", "127.0.0.1", "--master-port"])
            .arg(master_port.to_string())
            .args(["--out", &file, "--csv", run])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert_success(&out);
        if corrupt {
            // The expected answer off by 1e-6 relative: far outside the 1e-9 tolerance.
            let path = dir.join(&file);
            let text = std::fs::read_to_string(&path).unwrap();
            let line = "ANSWER_vector_result_1000000 = vector_result(1000000)";
            assert!(text.contains(line), "{text}");
            std::fs::write(&path, text.replace(line, &format!("{line} * (1 + 1e-6)"))).unwrap();
        }
        let printed = String::from_utf8(out.stdout).unwrap();
        let lines = locust_commands(&printed);
        assert_eq!(lines.len(), 2, "{printed}");
        let status = run_master_and_two_workers(&lines, &venv, &dir, run, &mut procs);
        // Locust exits 1 when a request failed: expected only for the corrupted answer.
        assert_eq!(
            status.success(),
            !corrupt,
            "{run}: {status}: {}",
            master_err(&dir, run)
        );
        let out = stackwise()
            .args(["import", "locust", run, "--target", "rust-axum", "--db"])
            .arg(dir.join("lab.sqlite3"))
            .current_dir(&dir)
            .output()
            .unwrap();
        assert_success(&out);
        let said = String::from_utf8(out.stdout).unwrap();
        let counts = said
            .split_once(" requests, ")
            .map(|(a, b)| {
                let n: u64 = a
                    .rsplit(char::is_whitespace)
                    .next()
                    .unwrap()
                    .replace(',', "")
                    .parse()
                    .unwrap();
                let f: u64 = b
                    .split(' ')
                    .next()
                    .unwrap()
                    .replace(',', "")
                    .parse()
                    .unwrap();
                (n, f)
            })
            .unwrap_or_else(|| panic!("{said}"));
        assert!(counts.0 > 0, "{said}");
        if corrupt {
            assert_eq!(counts.1, counts.0, "every wrong answer refused: {said}");
        } else {
            assert_eq!(counts.1, 0, "every answer accepted: {said}");
        }
    }
    drop(procs);
    std::fs::remove_dir_all(&dir).ok();
}
