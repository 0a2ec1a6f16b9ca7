//! A suite's plan as plain data (`stackwise lab --plan`): what the lab plans
//! (`lab::session::Session::plan`) and the reports crate renders (`reports::plan`), neither
//! importing the other.

use serde::{Deserialize, Serialize};

/// The cells still to measure, per workload and target, and the expected wall time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// A resumed run: its id and its number of planned cells (done or not).
    pub resume: Option<(i64, usize)>,
    /// Cells still to measure.
    pub cells: usize,
    /// Targets in the plan.
    pub targets: usize,
    /// The workloads, in order.
    pub workloads: Vec<PlannedWorkload>,
    pub repeats: u32,
    /// The measuring window, seconds.
    pub duration_s: f64,
    /// Cold starts per target.
    pub cold_starts: usize,
    pub server_cpus: Vec<usize>,
    pub client_cpus: Vec<usize>,
    /// Workloads run on request only, not in this plan.
    pub on_request: Vec<String>,
    /// Each target of the plan with the workloads still to measure on it (empty: nothing left).
    pub by_target: Vec<(String, Vec<String>)>,
    /// (target, workload, why) not measured.
    pub skipped: Vec<(String, String, String)>,
    /// Expected wall time of the cells, seconds (install excluded).
    pub eta_s: f64,
    /// The most the run may take with re-measured and extra repeats (the tier's time budget, or
    /// the plan itself when it is longer).
    pub up_to_s: f64,
}

/// A workload of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedWorkload {
    pub id: String,
    /// Repeats per cell (searches, for a capacity workload).
    pub count: u32,
    /// A capacity workload: its repeats are searches.
    pub searches: bool,
    pub describe: String,
}
