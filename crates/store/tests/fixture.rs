//! The read model against a real run: `fixtures/quick-run.json` is `stackwise lab --quick` on a
//! 2-vCPU VM that other builds were loading (so its cells carry lower-bound and noise flags, and
//! python-flask-sync failed its conformance check). Consumers of `RunSummary` (claims, adviser,
//! reports) can test on it; this test keeps it readable by the current model.

use store::{CellStatus, RunSummary};

#[test]
fn the_quick_run_fixture_reads_as_a_run_summary() {
    let run: RunSummary =
        serde_json::from_str(include_str!("fixtures/quick-run.json")).expect("fixture parses");
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
    let failed = run.target("python-flask-sync").unwrap();
    assert!(failed.failure.is_some());
    assert!(matches!(
        run.cell("python-flask-sync", "json").unwrap().status,
        CellStatus::Failed(_)
    ));
    let slo = run.cell("rust-axum", "io-slo").unwrap();
    assert!(slo.capacity_rps.is_some() && !slo.ladder.is_empty());
    // Round trip.
    let again: RunSummary = serde_json::from_str(&serde_json::to_string(&run).unwrap()).unwrap();
    assert_eq!(again, run);
}
