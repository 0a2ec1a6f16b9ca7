//! End-to-end test of the database workloads: `stackwise lab --workloads db,crud` on three real
//! targets (rust-axum, node-http, python-fastapi; installed on first use) against the lab's own
//! PostgreSQL (Debian's postgresql-15; `.ci/run` and scripts/test.sh install it): the cells are
//! stored with their database figures, and when the run ends no process it started (postgres
//! included) and no cluster directory is left. Short windows: it checks the plumbing, not the
//! figures.

mod support;

use std::path::PathBuf;

use support::lab::{cluster_tmpdir, clusters_in, processes_with, run_stored};

fn tempdir(tag: &str) -> PathBuf {
    support::lab::tempdir("lab-db-e2e", tag)
}

#[test]
fn db_and_crud_cells_are_stored_and_the_cluster_is_gone() {
    let dir = tempdir("run");
    let tmp = cluster_tmpdir(&dir);
    let db = dir.join("lab.sqlite3");
    let marker = format!("db-{}", std::process::id());
    let targets = ["rust-axum", "node-http", "python-fastapi"];
    let (stored, stdout, stderr) = run_stored(
        &[
            "--targets",
            &targets.join(","),
            "--workloads",
            "db,crud",
            "--repeats",
            "1",
            "--duration",
            "1s",
            "--warmup",
            "300ms",
            "--rung",
            "500ms",
            "--cold-starts",
            "1",
            "--no-progress",
            "--json",
        ],
        &db,
        &|cmd| {
            cmd.env("STACKWISE_E2E_MARK", &marker).env("TMPDIR", &tmp);
        },
    );
    let run: store::RunSummary = serde_json::from_str(&stdout).unwrap();
    assert_eq!(run, stored);
    assert_eq!(run.cells.len(), 6, "{:#?}", run.cells);
    for t in targets {
        let c = run.cell(t, "db").unwrap();
        assert!(
            !matches!(c.status, store::CellStatus::Failed(_)),
            "{t} db: {:?}\n{stderr}",
            c.status
        );
        assert!(c.metric("throughput_rps").unwrap().median > 10.0, "{t}");
        let db_cpu = c.metric("db_cpu_us_per_req").map(|s| s.median);
        assert!(
            db_cpu.is_some_and(|v| v > 0.0),
            "{t}: database CPU per request {db_cpu:?}"
        );
        let crud = run.cell(t, "crud").unwrap();
        assert!(
            !matches!(crud.status, store::CellStatus::Failed(_)),
            "{t} crud: {:?}\n{stderr}",
            crud.status
        );
        assert!(!crud.ladder.is_empty(), "{t}: {crud:?}");
        assert_eq!(crud.slo_p99_ms, Some(100.0));
        assert!(crud.params["mix"].contains("read 70%"), "{:?}", crud.params);
        if crud.capacity_rps.is_some() {
            // The capacity rung's figures: each operation's p99 and the database's CPU.
            for m in [
                "read_p99_ms",
                "list_p99_ms",
                "create_p99_ms",
                "update_p99_ms",
                "delete_p99_ms",
            ] {
                assert!(crud.metric(m).is_some(), "{t} crud {m}: {crud:?}");
            }
        }
        assert!(
            run.target(t).unwrap().failure.is_none(),
            "{t}: {:?}",
            run.target(t).unwrap().failure
        );
    }
    assert!(
        processes_with(&marker).is_empty(),
        "left running: {:?}",
        processes_with(&marker)
    );
    assert!(
        clusters_in(&tmp).is_empty(),
        "cluster directories left: {:?}",
        clusters_in(&tmp)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
