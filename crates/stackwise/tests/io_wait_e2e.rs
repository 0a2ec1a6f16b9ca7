//! End-to-end: the long-wait concurrency workload (`io-wait`, issue 14: ~2,000 requests in flight
//! on `GET /io?ms=2000` at 1,000 req/s) run by the real binary on one Node.js and one Python target
//! (installed on first use) into a temporary store, with the registry's own window (3 s warm-up,
//! 5 s, answers awaited after it); then the stored cells are read back. It took 85 s on the shared
//! 2-core machine (over the 60 s a default test may take), so it is ignored by default: run it with
//! `cargo test -p stackwise --test io_wait_e2e -- --ignored`. Figures are asserted as behaviour with generous bounds, never as a
//! speed: this machine may be loaded.

mod support;

use support::lab::{no_setup, run_stored};

#[test]
#[ignore = "about 85 s on a loaded 2-core machine: run with --ignored"]
fn io_wait_holds_thousands_in_flight_on_node_and_python_and_stores_them() {
    let dir = support::lab::tempdir("io-wait-e2e", "run");
    let db = dir.join("lab.sqlite3");
    let (run, stdout, stderr) = run_stored(
        &[
            "--targets",
            "node-http,python-fastapi",
            "--workloads",
            "io-wait",
            "--repeats",
            "1",
            "--cold-starts",
            "1",
            "--no-progress",
        ],
        &db,
        &no_setup,
    );
    for target in ["node-http", "python-fastapi"] {
        let c = run
            .cell(target, "io-wait")
            .unwrap_or_else(|| panic!("{target}: no io-wait cell\n{stdout}\n{stderr}"));
        assert_eq!(c.repeats, 1, "{target}");
        assert_eq!(c.params["ms"], "2000");
        assert_eq!(c.params["in_flight_target"], "2000");
        assert_eq!(c.params["connections"], "3000");
        // Every answer waited 2 s upstream: the corrected p99 cannot be below it.
        let p99 = c.metric("p99_ms").expect("p99_ms").median;
        assert!(p99 >= 2000.0, "{target}: p99 {p99} ms below the 2 s wait");
        let failed = c.metric("failed_share").expect("failed_share").median;
        assert!((0.0..=1.0).contains(&failed), "{target}: {failed}");
        // Little's law, generously: an async server keeps well over a thousand in flight even on
        // a loaded machine unless it failed most of them (then the failed share says so).
        let in_flight = c.metric("in_flight").expect("in_flight").median;
        assert!(
            in_flight > 1000.0 || failed > 0.1,
            "{target}: {in_flight} in flight, {failed} failed"
        );
        match &c.status {
            store::CellStatus::Ok => assert_eq!(failed, 0.0, "{target}"),
            store::CellStatus::Flagged(_) => assert!(failed > 0.0, "{target}"),
            s => panic!("{target}: {s:?}"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
