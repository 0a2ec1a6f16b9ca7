//! The read model against real runs, for the consumers of `RunSummary` (claims, adviser, reports)
//! to test on; these tests keep the fixtures readable by the current model.
//!
//! - `fixtures/quick-run.json`: `stackwise lab --quick` on a quiet 2-vCPU VM, all ten targets.
//! - `fixtures/full-run.json`: the full suite (all ten workloads × 3 repeats, 10 cold starts) on
//!   the same VM, 25 min 34 s; other builds started part-way, and the cells say where.
//! - `fixtures/quick-run-busy.json`: the same while other builds loaded the VM: cells carry
//!   lower-bound and noise warnings, and python-flask-sync failed the conformance check of the
//!   time (which then refused servers without keep-alive).

use store::{CellStatus, RunSummary};

fn read(text: &str) -> RunSummary {
    let run: RunSummary = serde_json::from_str(text).expect("fixture parses");
    assert_eq!(run.targets.len(), 10);
    assert_eq!(run.cells.len(), 40);
    assert!(run.finished_at.is_some());
    for c in &run.cells {
        assert!(
            run.target(&c.target).is_some(),
            "{} has no target record",
            c.target
        );
        assert!(["json", "io", "cpu", "io-slo"].contains(&c.workload.as_str()));
    }
    let slo = run.cell("rust-axum", "io-slo").unwrap();
    assert!(slo.capacity_rps.is_some() && !slo.ladder.is_empty());
    let again: RunSummary = serde_json::from_str(&serde_json::to_string(&run).unwrap()).unwrap();
    assert_eq!(again, run);
    run
}

#[test]
fn the_quiet_quick_run_has_every_cell_measured() {
    let run = read(include_str!("fixtures/quick-run.json"));
    for c in &run.cells {
        assert!(
            !matches!(c.status, CellStatus::Failed(_)),
            "{} {}",
            c.target,
            c.workload
        );
        assert!(
            c.metric("throughput_rps").is_some(),
            "{} {}",
            c.target,
            c.workload
        );
    }
    assert!(run
        .targets
        .iter()
        .all(|t| t.failure.is_none() && t.metric("cold_start_ms").is_some()));
}

#[test]
fn the_busy_quick_run_has_flags_and_a_failed_target() {
    let run = read(include_str!("fixtures/quick-run-busy.json"));
    assert!(run.target("python-flask-sync").unwrap().failure.is_some());
    assert!(matches!(
        run.cell("python-flask-sync", "json").unwrap().status,
        CellStatus::Failed(_)
    ));
    assert!(run.cells.iter().filter(|c| c.lower_bound).count() > 10);
}

#[test]
fn the_full_run_has_every_workload_and_the_mixed_baseline() {
    let run: RunSummary =
        serde_json::from_str(include_str!("fixtures/full-run.json")).expect("fixture parses");
    assert_eq!(run.targets.len(), 10);
    assert_eq!(run.cells.len(), 100);
    assert!(run.finished_at.is_some());
    for c in run.cells.iter().filter(|c| c.workload == "mixed") {
        // Per repeat: [/io alone, /io with heavy /cpu].
        assert_eq!(c.ladder.len(), 2 * c.repeats as usize, "{}", c.target);
    }
    for c in run.cells.iter().filter(|c| c.workload.ends_with("-slo")) {
        assert!(
            c.slo_p99_ms.is_some() && !c.ladder.is_empty(),
            "{} {}",
            c.target,
            c.workload
        );
    }
    assert!(run.targets.iter().all(|t| t
        .metric("cold_start_ms")
        .is_some_and(|s| s.values.len() == 10)));
}
