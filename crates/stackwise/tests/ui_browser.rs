//! End-to-end tests of the web UI and the HTML report in a real browser (issue 8, "Show"): a
//! temporary store seeded with the real runs of crates/store/tests/fixtures, the real
//! `stackwise serve` on a free loopback port, `stackwise report --html` of the full suite, and
//! `node tests/ui/ui.mjs` (playwright-core driving Debian's chromium headless) clicking through them:
//! the questionnaire and its recommendation, a run's charts, two runs compared, the pages with
//! JavaScript disabled, dark mode, and a real lab run (the installed `rust-axum` target) started
//! and stopped from the page, after which no server or upstream process may be left.
//!
//! Needs `node`, chromium (`apt-get install -y chromium`) and `npm ci` in tests/ui/ (`bash
//! scripts/test.sh` installs them); without them the test fails and says what to install.
//! `STACKWISE_SKIP_BROWSER_TESTS=1` skips it explicitly (and says so). `STACKWISE_SCREENSHOTS=DIR`
//! (relative to the repository root, e.g. `docs/screenshots`) writes the screenshots there;
//! `STACKWISE_CHROMIUM` names another browser. A chromium major version other than the one
//! playwright-core was built for is a note, not a failure: tests/ui/gate.mjs decides what is
//! printed, and `the_chromium_version_gate` runs its `node --test` cases (no browser needed).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const UI_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ui");
const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
/// The whole browser script's bound (it has its own 130 s watchdog).
const NODE_TIMEOUT: Duration = Duration::from_secs(160);

fn stackwise() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stackwise"))
}

fn fixture(name: &str) -> store::RunSummary {
    let path = format!("{REPO}/crates/store/tests/fixtures/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A directory removed when dropped (the test passed or not).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (with its process group) and reaped when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            // SAFETY: kill(2) on the process group of a child this test started and has not reaped.
            unsafe { libc::kill(-(self.0.id() as libc::pid_t), libc::SIGKILL) };
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

fn spawn(mut cmd: Command) -> Reaped {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    Reaped(
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}")),
    )
}

/// A target name that would run script, add an element or break an attribute if it were not escaped.
const HOSTILE: &str =
    r#"node-<script>document.title="pwned"</script><img src=x id=pwned onerror=alert(1)>"' *_|`x`"#;

/// The questionnaire's answers (a Python-leaning ML backend, unlike the form's pre-filled example).
const PROFILE: &[(&str, &str)] = &[
    ("team.javascript", "1"),
    ("team.python", "5"),
    ("team.data_science", "true"),
    ("product.use_case", "ml-backend"),
    ("product.stage", "post-pmf"),
    ("product.realtime", "false"),
    ("product.ai_ml", "core"),
    ("product.data_heavy", "true"),
    ("product.compliance", "standard"),
    ("product.full_stack_js", "false"),
    ("product.serverless", "false"),
    ("product.data_flow", "compute"),
    ("load.peak_rps", "300"),
    ("load.concurrent_connections", "500"),
    ("load.p99_ms", "200"),
    ("costs.core_hour_usd", "0.05"),
];

fn profile_toml() -> String {
    let mut out = String::new();
    let mut section = "";
    for (k, v) in PROFILE {
        let (s, key) = k.split_once('.').unwrap();
        if s != section {
            out.push_str(&format!("[{s}]\n"));
            section = s;
        }
        let quoted = v.parse::<f64>().is_err() && *v != "true" && *v != "false";
        if quoted {
            out.push_str(&format!("{key} = \"{v}\"\n"));
        } else {
            out.push_str(&format!("{key} = {v}\n"));
        }
    }
    out
}

/// The recommendation `stackwise advise` gives for a profile file against the store's latest run.
fn cli_recommendation(profile: &Path, db: &Path) -> String {
    let out = stackwise()
        .arg("advise")
        .arg("--profile")
        .arg(profile)
        .arg("--db")
        .arg(db)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "advise: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["recommendation"]["summary"]
        .as_str()
        .expect("recommendation.summary")
        .to_string()
}

/// What the browser test needs, or a message saying what to install.
fn prerequisites() -> Result<(), String> {
    let chromium =
        std::env::var("STACKWISE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let mut missing = Vec::new();
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => missing.push("node (Node.js 20 or later) on PATH".to_string()),
    }
    if !Path::new(&chromium).exists() {
        missing.push(format!(
            "chromium at {chromium} (Debian: `apt-get install -y chromium`; or set STACKWISE_CHROMIUM)"
        ));
    }
    if !Path::new(UI_DIR)
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        missing.push(format!(
            "playwright-core: run `npm ci` in {}",
            Path::new(UI_DIR).display()
        ));
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the browser tests need {} (`bash scripts/test.sh` installs them; \
             STACKWISE_SKIP_BROWSER_TESTS=1 skips these tests explicitly)",
            missing.join(", ")
        ))
    }
}

/// Processes a lab run of this checkout starts (the rust-axum target's server, the upstream), as
/// "pid cmdline". Only this checkout's: its stackwise binary or a program under its directory (other
/// checkouts on the same machine run their own labs and are none of this test's business).
fn lab_processes() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let repo = std::fs::canonicalize(REPO).unwrap_or_else(|_| PathBuf::from(REPO));
    let ours = [
        env!("CARGO_BIN_EXE_stackwise").to_string(),
        format!("{}/", repo.display()),
    ];
    dir.flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| {
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            ((cmd.contains("stackwise-axum") || cmd.contains("stackwise upstream"))
                && ours.iter().any(|o| cmd.starts_with(o.as_str())))
            .then(|| format!("{} {}", e.file_name().to_string_lossy(), cmd.trim()))
        })
        .collect()
}

/// The chromium version gate's own tests (tests/ui/gate.test.mjs, `node --test`): same major,
/// newer, older, unreadable version, and the advice given only for a failed launch or a protocol
/// error. Needs node only: no browser, no `npm ci`, and `STACKWISE_SKIP_BROWSER_TESTS` does not
/// skip it.
#[test]
fn the_chromium_version_gate() {
    let out = Command::new("node")
        .args(["--test", "gate.test.mjs"])
        .current_dir(UI_DIR)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `node --test` (Node.js 20 or later on PATH): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "node --test gate.test.mjs failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // TAP's summary: every case ran and passed (a file that defined no test would pass too).
    let count = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("# {key} ")))
            .and_then(|n| n.trim().parse::<u32>().ok())
    };
    assert_eq!(count("fail"), Some(0), "{stdout}");
    assert!(
        count("pass").is_some_and(|n| n >= 6),
        "fewer gate cases passed than gate.test.mjs holds:\n{stdout}"
    );
}

#[test]
fn the_ui_and_the_report_in_a_real_browser() {
    if std::env::var("STACKWISE_SKIP_BROWSER_TESTS").as_deref() == Ok("1") {
        eprintln!("SKIPPED: the browser tests (STACKWISE_SKIP_BROWSER_TESTS=1)");
        return;
    }
    if let Err(e) = prerequisites() {
        panic!("{e}");
    }
    let t0 = Instant::now();
    let dir = TempDir(std::env::temp_dir().join(format!("stackwise-ui-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    let dir = &dir.0;
    let db = dir.join("lab.sqlite3");

    // The store: a run with a hostile target name, three real runs, the full suite last (the
    // latest: the advice is priced from it).
    let (hostile, quiet, busy, full) = {
        let mut s = store::Store::open(&db).unwrap();
        let mut run = fixture("quick-run.json");
        for t in run.targets.iter_mut().filter(|t| t.name == "node-http") {
            t.name = HOSTILE.into();
        }
        for c in run.cells.iter_mut().filter(|c| c.target == "node-http") {
            c.target = HOSTILE.into();
            c.warnings.push(format!("a warning about {HOSTILE}"));
        }
        run.warnings.push(format!("run warning: {HOSTILE}"));
        let hostile = s.import_run(&run).unwrap();
        let quiet = s.import_run(&fixture("quick-run.json")).unwrap();
        let busy = s.import_run(&fixture("quick-run-busy.json")).unwrap();
        let full = s.import_run(&fixture("full-run.json")).unwrap();
        (hostile, quiet, busy, full)
    };

    // The self-contained HTML report of the full suite.
    let report = dir.join("report.html");
    let out = stackwise()
        .args(["report", "--run", &full.to_string(), "--db"])
        .arg(&db)
        .arg("--html")
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "report: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let size = std::fs::metadata(&report).unwrap().len();
    assert!(
        size < 2_000_000,
        "the full suite's HTML report is {size} bytes"
    );

    // The expected recommendation, from the CLI; the form starts from the example profile, whose
    // recommendation must differ, or the test could not tell the answers were used.
    let profile = dir.join("profile.toml");
    std::fs::write(&profile, profile_toml()).unwrap();
    let expected = cli_recommendation(&profile, &db);
    let example = cli_recommendation(&Path::new(REPO).join("examples/startup-chat-mvp.toml"), &db);
    assert_ne!(
        expected, example,
        "the test profile must change the form's answer"
    );

    // The server, on a free port: its first line names the URL.
    let mut server = spawn({
        let mut c = stackwise();
        c.args(["serve", "--port", "0", "--db"])
            .arg(&db)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        c
    });
    let stdout = server.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(l)) = lines.next() {
            let _ = tx.send(l);
        }
        for _ in lines {} // keep the pipe open and drained
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("stackwise serve printed no URL within 20 s");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .trim_end_matches('/')
        .to_string();

    let shots: Option<PathBuf> = std::env::var("STACKWISE_SCREENSHOTS")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| {
            let p = PathBuf::from(s);
            if p.is_absolute() {
                p
            } else {
                Path::new(REPO).join(p)
            }
        });
    let profile_json = serde_json::Value::Object(
        PROFILE
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect(),
    );
    let mut node = Command::new("node");
    node.arg(Path::new(UI_DIR).join("ui.mjs"))
        .current_dir(UI_DIR)
        .env("STACKWISE_UI_URL", &url)
        .env("STACKWISE_UI_REPORT", &report)
        .env(
            "STACKWISE_UI_RUNS",
            serde_json::json!({"full": full, "quiet": quiet, "busy": busy, "hostile": hostile})
                .to_string(),
        )
        .env("STACKWISE_UI_PROFILE", profile_json.to_string())
        .env("STACKWISE_UI_EXPECT", &expected)
        .env("STACKWISE_UI_HOSTILE", HOSTILE)
        .env_remove("STACKWISE_SCREENSHOTS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(s) = &shots {
        node.env("STACKWISE_SCREENSHOTS", s);
    }
    let servers_before = lab_processes();
    let mut node = spawn(node);
    let (mut out, mut err) = (node.0.stdout.take().unwrap(), node.0.stderr.take().unwrap());
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(s) = node.0.try_wait().unwrap() {
            break Some(s);
        }
        if started.elapsed() > NODE_TIMEOUT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(node); // kills the process group on a timeout
    let (stdout, stderr) = (out_t.join().unwrap(), err_t.join().unwrap());
    let status = status
        .unwrap_or_else(|| panic!("the browser test ran over {NODE_TIMEOUT:?} and was killed"));
    assert!(
        status.success(),
        "the browser test failed ({status}):\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("ui: 12 passed, 0 failed"),
        "not every browser check ran:\n{stdout}"
    );
    // The stopped lab run left nothing behind (the lab reaps its servers before it exits).
    let left: Vec<String> = lab_processes()
        .into_iter()
        .filter(|p| !servers_before.contains(p))
        .collect();
    assert!(
        left.is_empty(),
        "left running after the stopped lab run: {left:?}"
    );
    println!("{stdout}{stderr}");
    drop(server);
    println!("browser tests: {:.1} s", t0.elapsed().as_secs_f64());
}
