//! End-to-end test of the database workloads: `stackwise lab --workloads db,crud` on three real
//! targets (rust-axum, node-http, python-fastapi; installed on first use) against the lab's own
//! PostgreSQL (Debian's postgresql-15; `.ci/run` and scripts/test.sh install it): the cells are
//! stored with their database figures, and when the run ends no process it started (postgres
//! included) and no cluster directory is left. Short windows: it checks the plumbing, not the
//! figures.

mod support;

use std::path::{Path, PathBuf};

use support::lab::processes_with;
use support::stackwise;

fn tempdir(tag: &str) -> PathBuf {
    support::lab::tempdir("lab-db-e2e", tag)
}

/// Cluster directories (`stackwise-pg-…`) under `dir`.
fn clusters_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("stackwise-pg-"))
        .map(|e| e.path())
        .collect()
}

#[test]
fn db_and_crud_cells_are_stored_and_the_cluster_is_gone() {
    let dir = tempdir("run");
    // The cluster's directory goes under the run's temp dir, so the test sees it and only it.
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // As root the cluster runs as `nobody`, which must reach its directory.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
    }
    let db = dir.join("lab.sqlite3");
    let marker = format!("db-{}", std::process::id());
    let targets = ["rust-axum", "node-http", "python-fastapi"];
    let out = stackwise()
        .args([
            "lab",
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
        ])
        .arg("--db")
        .arg(&db)
        .env("STACKWISE_E2E_MARK", &marker)
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let run: store::RunSummary = serde_json::from_slice(&out.stdout).unwrap();
    let stored = store::Store::open(&db)
        .unwrap()
        .latest_run()
        .unwrap()
        .unwrap();
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
