//! Scaffolding of the tests that run `stackwise lab` (faults.rs, lab_e2e.rs, lab_db_e2e.rs,
//! io_wait_e2e.rs, mixed_e2e.rs): one lab at a time, temporary directories, a lab run to its end and
//! its stored run read back, a lab started with its stderr lines on a channel (and killed), and
//! the processes a run started, found by a marker in their environment (everything the lab starts
//! inherits `STACKWISE_E2E_MARK`: servers, workers, upstream, watchdog, postgres).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use super::stackwise;

/// No addition to a lab's command (the `setup` of [`start_lab`] and [`run_lab`]).
pub fn no_setup(_: &mut Command) {}

/// The `setup` that points the lab at the stdlib-only fixture targets.
pub fn fixture_targets(cmd: &mut Command) {
    cmd.env("STACKWISE_TARGETS", fixtures());
}

/// One lab at a time per test binary (they share the CPUs and pin servers to the same one).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The stdlib-only fixture targets under tests/fixtures/targets.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/targets")
}

/// A fresh `stackwise-{binary}-{tag}-{pid}` directory under the temp dir.
pub fn tempdir(binary: &str, tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stackwise-{binary}-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A `tmp` directory under `dir` for the lab's TMPDIR, where its PostgreSQL cluster directory goes:
/// so the test sees its own cluster directory and only it. As root the cluster runs as `nobody`,
/// which must reach it (`dir` 0755, `tmp` 1777).
pub fn cluster_tmpdir(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
    tmp
}

/// Cluster directories (`stackwise-pg-…`) under `dir`.
pub fn clusters_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("stackwise-pg-"))
        .map(|e| e.path())
        .collect()
}

/// Processes as (pid, command line).
pub type Procs = [(i32, String)];

/// Processes (other than this test) whose environment carries `STACKWISE_E2E_MARK=marker`:
/// what one test's lab run started. Zombies (empty command line, already dead) are left out.
pub fn processes_with(marker: &str) -> Vec<(i32, String)> {
    let needle = format!("STACKWISE_E2E_MARK={marker}");
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(env) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
            let cmd = std::fs::read(entry.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                .unwrap_or_default();
            if !cmd.trim().is_empty() {
                found.push((pid, cmd));
            }
        }
    }
    found
}

/// Kills (SIGKILL) what a failed test left of its own run, by pid.
pub fn kill_marked(marker: &str) {
    for (pid, _) in processes_with(marker) {
        // SAFETY: a signal to a process of this test's own run.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// How many of `ps` have `needle` in their command line.
pub fn count(ps: &Procs, needle: &str) -> usize {
    ps.iter().filter(|(_, c)| c.contains(needle)).count()
}

/// Waits until `ok` holds of the marked processes (up to 240 s; then kills them and panics
/// naming `what`).
pub fn wait_for_tree(marker: &str, what: &str, ok: &dyn Fn(&Procs) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let ps = processes_with(marker);
        if ok(&ps) {
            return;
        }
        if Instant::now() > deadline {
            kill_marked(marker);
            panic!("{what} never appeared: {ps:#?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts `stackwise lab ARGS --db DB` with the marker (`setup` adds to the command); its stderr
/// lines arrive on the receiver.
pub fn start_lab(
    args: &[&str],
    db: &Path,
    marker: &str,
    setup: &dyn Fn(&mut Command),
) -> (Child, Receiver<String>) {
    let mut cmd = stackwise();
    cmd.arg("lab")
        .args(args)
        .arg("--db")
        .arg(db)
        .env("STACKWISE_E2E_MARK", marker)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    setup(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Lines from `rx` until one satisfies `done` (returned last), within `within`; panics with the
/// lines seen, naming `what`, when none does.
pub fn read_until(
    rx: &Receiver<String>,
    within: Duration,
    what: &str,
    done: &dyn Fn(&str) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("{what} within {within:?}: {seen:#?}"));
        let last = done(&line);
        seen.push(line);
        if last {
            return seen;
        }
    }
}

/// Runs `stackwise lab ARGS --db DB` to its end (`setup` adds to the command): its output.
pub fn run_lab(args: &[&str], db: &Path, setup: &dyn Fn(&mut Command)) -> Output {
    let mut cmd = stackwise();
    cmd.arg("lab").args(args).arg("--db").arg(db);
    setup(&mut cmd);
    cmd.output().unwrap()
}

/// The latest run stored in `db` (there must be one).
pub fn latest_run(db: &Path) -> store::RunSummary {
    store::Store::open(db)
        .unwrap()
        .latest_run()
        .unwrap()
        .expect("a run is stored")
}

/// Runs `stackwise lab ARGS --db DB` (as [`run_lab`]), asserts that it succeeded (showing both
/// streams when not), and returns the latest run stored, stdout and stderr.
pub fn run_stored(
    args: &[&str],
    db: &Path,
    setup: &dyn Fn(&mut Command),
) -> (store::RunSummary, String, String) {
    let out = run_lab(args, db, setup);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status.code()
    );
    (latest_run(db), stdout, stderr)
}

/// The arguments of a lab that measures `workload` on `target` for 60 s, one repeat and no cold
/// start: a run long enough to be killed mid-cell.
pub fn long_cell<'a>(target: &'a str, workload: &'a str) -> Vec<&'a str> {
    vec![
        "--targets",
        target,
        "--workloads",
        workload,
        "--repeats",
        "1",
        "--duration",
        "60s",
        "--cold-starts",
        "0",
        "--no-progress",
    ]
}

/// Starts a lab as [`start_lab`] does and waits until `ok` holds of its processes (as
/// [`wait_for_tree`]: `what` names them).
pub fn start_lab_until(
    args: &[&str],
    db: &Path,
    marker: &str,
    setup: &dyn Fn(&mut Command),
    what: &str,
    ok: &dyn Fn(&Procs) -> bool,
) -> (Child, Receiver<String>) {
    let started = start_lab(args, db, marker, setup);
    wait_for_tree(marker, what, ok);
    started
}

/// SIGKILL of the lab `child` (started by this test, killed by its pid), then: nothing of the run
/// (`marker`) is left 2 s later. What is left is killed (by pid) before the assertion fails.
pub fn kill_and_expect_nothing_left(child: &mut Child, marker: &str) {
    // SAFETY: a signal to the lab this test started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
    std::thread::sleep(Duration::from_secs(2));
    let left = processes_with(marker);
    kill_marked(marker);
    assert!(
        left.is_empty(),
        "left running 2 s after SIGKILL of the lab: {left:#?}"
    );
}
