//! End-to-end tests of `stackwise lab` with real targets (rust-axum and node-http, installed on
//! first use) into a temporary store: a short two-target run read back from the database, and an
//! interruption (SIGINT mid-cell → no target process left, finished cells stored, `--resume`
//! completes). These take tens of seconds, so they live in their own test binary; they run in CI
//! with `cargo test --workspace` (CI has Node 20; the first run installs node-http's packages and
//! builds stackwise-axum).

mod support;

use std::time::{Duration, Instant};

use support::lab::{
    latest_run, no_setup, processes_with, read_until, run_stored, serial, start_lab,
};
use support::stackwise;

fn tempdir(tag: &str) -> std::path::PathBuf {
    support::lab::tempdir("lab-e2e", tag)
}

/// Short windows so the whole run takes seconds per target.
const SHORT: &[&str] = &[
    "--repeats",
    "1",
    "--duration",
    "1s",
    "--warmup",
    "300ms",
    "--rung",
    "500ms",
    "--cold-starts",
    "2",
    "--no-progress",
];

#[test]
fn plan_lists_cells_and_an_eta_without_running() {
    let _serial = serial();
    let dir = tempdir("plan");
    let db = dir.join("lab.sqlite3");
    let out = stackwise()
        .args([
            "lab",
            "--plan",
            "--targets",
            "rust-axum,node-http",
            "--workloads",
            "json,io-slo,mixed",
        ])
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("6 cells"), "{stdout}");
    assert!(
        stdout.contains("rust-axum") && stdout.contains("json io-slo mixed"),
        "{stdout}"
    );
    assert!(stdout.contains("ETA"), "{stdout}");
    // Nothing ran: no run stored.
    assert!(store::Store::open(&db)
        .unwrap()
        .latest_run()
        .unwrap()
        .is_none());

    // Bad input names the flag and exits 2.
    let out = stackwise()
        .args(["lab", "--plan", "--workloads", "json,nope"])
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--workloads") && err.contains("nope"), "{err}");
    let out = stackwise()
        .args(["lab", "--plan", "--targets", "no-such-target"])
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-target"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_short_two_target_run_is_stored_and_read_back() {
    let _serial = serial();
    let dir = tempdir("run");
    let db = dir.join("lab.sqlite3");
    let marker = format!("run-{}", std::process::id());
    let args = [
        &[
            "--targets",
            "rust-axum,node-http",
            "--workloads",
            "json,io,io-slo",
            "--json",
        ][..],
        SHORT,
    ]
    .concat();
    let (run, stdout, _) = run_stored(&args, &db, &|cmd| {
        cmd.env("STACKWISE_E2E_MARK", &marker);
    });
    let printed: store::RunSummary = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed, run, "--json prints what was stored");
    let shown = stackwise()
        .args(["lab", "--show", "--json"])
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(shown.status.success());
    let shown: store::RunSummary = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown, run, "--show prints the stored run");
    assert!(run.finished_at.is_some());
    assert_eq!(run.cells.len(), 6, "{:#?}", run.cells);
    for t in ["rust-axum", "node-http"] {
        for w in ["json", "io"] {
            let c = run.cell(t, w).unwrap();
            assert!(
                !matches!(c.status, store::CellStatus::Failed(_)),
                "{t} {w}: {:?}",
                c.status
            );
            let rps = c.metric("throughput_rps").unwrap().median;
            assert!(rps > 50.0, "{t} {w}: {rps} req/s");
            assert!(
                c.metric("server_cpu_us_per_req").unwrap().median > 0.0,
                "{t} {w}"
            );
            assert!(c.metric("pss_mean_mb").unwrap().median > 1.0, "{t} {w}");
        }
        let slo = run.cell(t, "io-slo").unwrap();
        assert!(!slo.ladder.is_empty(), "{t}: {slo:?}");
        assert_eq!(slo.slo_p99_ms, Some(100.0));
        let target = run.target(t).unwrap();
        assert!(target.failure.is_none(), "{t}: {:?}", target.failure);
        assert_eq!(
            target.metric("cold_start_ms").unwrap().values.len(),
            2,
            "{t}"
        );
        assert!(
            target.value("idle_pss_mb").unwrap() > 0.0,
            "{t}: {:?}",
            target.value("idle_pss_mb")
        );
        assert!(
            target.value("install_bytes").map(|v| v as u64).unwrap() > 0,
            "{t}"
        );
        assert!(!target.config.is_empty(), "{t}");
    }
    assert!(!run.machine.server_cpus.is_empty() && !run.machine.client_cpus.is_empty());
    assert!(
        processes_with(&marker).is_empty(),
        "{:?}",
        processes_with(&marker)
    );

    // Without --json: the tables.
    let args = [
        &["--targets", "rust-axum", "--workloads", "plaintext"][..],
        SHORT,
    ]
    .concat();
    let (_, stdout, _) = run_stored(&args, &db, &no_setup);
    assert!(
        stdout.contains("plaintext") && stdout.contains("req/s") && stdout.contains("rust-axum"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Per target") && stdout.contains("cold start"),
        "{stdout}"
    );
    // Then the findings, the next commands and the HTML report written beside the store.
    let html = dir.join("stackwise-run-2.html");
    for want in [
        "Findings of run #2".to_string(),
        "  Trust: ".to_string(),
        format!("stackwise claims --run 2 --db {}", db.display()),
        format!("stackwise report --run 2 --db {} --html", db.display()),
        format!("HTML report: {}", html.display()),
    ] {
        assert!(stdout.contains(&want), "{want:?} missing from {stdout}");
    }
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("id=\"findings\""));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigint_mid_cell_leaves_nothing_running_and_resume_completes() {
    let _serial = serial();
    let dir = tempdir("sigint");
    let db = dir.join("lab.sqlite3");
    let marker = format!("sigint-{}", std::process::id());
    let (mut child, rx) = start_lab(
        &[
            "--targets",
            "rust-axum,node-http",
            "--workloads",
            "plaintext,json",
            "--repeats",
            "1",
            "--duration",
            "2s",
            "--warmup",
            "200ms",
            "--cold-starts",
            "1",
            "--no-progress",
        ],
        &db,
        &marker,
        &|_| {},
    );
    // Repeats are interleaved across targets (name order within a workload): wait until
    // node-http's plaintext is stored and rust-axum's is being measured, then Ctrl-C.
    let seen = read_until(
        &rx,
        Duration::from_secs(300),
        "no first cell within the deadline",
        &|line| line.contains("plaintext") && line.contains("req/s"),
    );
    // Mid-way through the second cell (rust-axum plaintext: 0.2 s warm-up + 2 s).
    std::thread::sleep(Duration::from_millis(1200));
    assert!(
        !processes_with(&marker).is_empty(),
        "the lab is running its targets"
    );
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    // Everything it printed (the reader thread may still be catching the last lines).
    let mut rest: Vec<String> = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        rest.push(line);
    }
    assert_eq!(status.code(), Some(130), "{seen:#?}\n{rest:#?}");
    assert!(rest.iter().any(|l| l.contains("--resume")), "{rest:#?}");
    // Nothing left behind.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_with(&marker).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        processes_with(&marker).is_empty(),
        "left running: {:?}",
        processes_with(&marker)
    );
    let run = latest_run(&db);
    assert!(run.finished_at.is_none());
    assert!(
        run.cell("node-http", "plaintext").is_some(),
        "the finished cell is stored: {:#?}",
        run.cells
    );
    assert!(
        run.cell("node-http", "json").is_none(),
        "the interrupted cell is not"
    );
    let run_id = run.run_id;

    // --resume completes it, measuring only what is missing.
    let (run, _, _) = run_stored(&["--resume", "--no-progress", "--json"], &db, &|cmd| {
        cmd.env("STACKWISE_E2E_MARK", &marker);
    });
    assert_eq!(run.run_id, run_id);
    assert!(run.finished_at.is_some());
    assert_eq!(run.cells.len(), 4);
    assert!(
        run.targets
            .iter()
            .all(|t| t.metric("cold_start_ms").is_some()),
        "{:?}",
        run.targets
    );
    assert!(processes_with(&marker).is_empty());
    // Nothing left to resume.
    let out = stackwise()
        .args(["lab", "--resume"])
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `vector` (issue 14) on a real target: node-http's Float64Array loop answers `/vector?n=1000000`
/// and the lab's check (within a relative 1e-9 of the client's sum) accepts every answer.
#[test]
fn the_vector_workload_measures_a_real_target_with_checked_answers() {
    let _serial = serial();
    let dir = tempdir("vector");
    let db = dir.join("lab.sqlite3");
    let args = [
        &["--targets", "node-http", "--workloads", "vector", "--json"][..],
        SHORT,
    ]
    .concat();
    let (run, _, _) = run_stored(&args, &db, &no_setup);
    let c = run.cell("node-http", "vector").unwrap();
    assert_eq!(c.status, store::CellStatus::Ok, "{c:?}");
    assert_eq!(c.params.get("n").map(String::as_str), Some("1000000"));
    assert!(c.metric("throughput_rps").unwrap().median > 1.0, "{c:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
