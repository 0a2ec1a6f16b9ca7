//! Fixture builders for the tests of the crates that read a [`RunSummary`] (claims, reports…): a
//! machine, an empty run, a target and a cell with nothing measured, for a test to fill in (with
//! struct update syntax where it needs other values). Test support only, hidden from the docs: a
//! `#[doc(hidden)] pub` module rather than a `test-support` feature, because it is four plain
//! constructors with no dependency, and a feature would need a dev-dependency entry in every crate
//! that uses it.

use std::collections::BTreeMap;

use crate::{CellStatus, CellSummary, Machine, RunSummary, TargetSummary};

/// A 2-core test machine, servers on CPU 1 and the load engine on CPU 0, no runtimes recorded.
pub fn machine() -> Machine {
    Machine {
        cpu_model: "Test CPU".into(),
        cores: 2,
        kernel: "6.1".into(),
        os: "Debian 12".into(),
        memory_mb: 4096,
        runtimes: BTreeMap::new(),
        server_cpus: vec![1],
        client_cpus: vec![0],
    }
}

/// Run `run_id` on [`machine`], started 2026-11-24T10:00:00Z, unfinished, with nothing in it.
pub fn run(run_id: i64) -> RunSummary {
    RunSummary {
        run_id,
        started_at: "2026-11-24T10:00:00Z".into(),
        finished_at: None,
        machine: machine(),
        settings: BTreeMap::new(),
        targets: vec![],
        cells: vec![],
        warnings: vec![],
    }
}

/// Target `name` in `language` (its framework named as the target), nothing measured.
pub fn target(name: &str, language: &str) -> TargetSummary {
    TargetSummary {
        name: name.into(),
        language: language.into(),
        framework: name.into(),
        versions: BTreeMap::new(),
        config: BTreeMap::new(),
        metrics: BTreeMap::new(),
        failure: None,
    }
}

/// The cell (`target`, `workload`): ok, one repeat, no figure, no ladder, no parameter.
pub fn cell(target: &str, workload: &str) -> CellSummary {
    CellSummary {
        target: target.into(),
        workload: workload.into(),
        status: CellStatus::Ok,
        repeats: 1,
        metrics: BTreeMap::new(),
        ladder: vec![],
        capacity_rps: None,
        slo_p99_ms: None,
        lower_bound: false,
        params: BTreeMap::new(),
        warnings: vec![],
    }
}
