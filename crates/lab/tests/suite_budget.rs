//! The suite time budget (issue 14; docs/workloads.md "Minutes per workload"): the plan's
//! arithmetic over the shipped targets' manifests, not a timed run. The default (full) suite for
//! the ten shipped targets plans at most 45 minutes with its reserve for noise re-measurements and
//! extra repeats (the headroom under the budget: `workloads::trust::run_limit`, which the run
//! enforces), and `--quick` at most 4.5 minutes, leaving at least 30 s of its 5 for re-measured
//! repeats. A workload added to the full suite that does not fit fails here; it must take time
//! from another or go on request.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use lab::host::LabHost;
use lab::manifest::TargetsDir;
use lab::suite::{self, SuiteOptions};
use lab::workload::{self, Timing};

fn host() -> LabHost {
    let dir = TargetsDir::at(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../targets")).unwrap();
    LabHost::new(dir).unwrap()
}

/// The options `stackwise lab` (and `--quick`) runs with when given no flags.
fn defaults(quick: bool) -> SuiteOptions {
    SuiteOptions {
        targets: vec![],
        workloads: if quick {
            workload::quick()
        } else {
            workload::full()
        }
        .iter()
        .map(|s| s.to_string())
        .collect(),
        repeats: if quick { 1 } else { 3 },
        timing: if quick {
            Timing::quick()
        } else {
            Timing::full()
        },
        quick,
        cold_starts: if quick {
            workload::COLD_STARTS_QUICK
        } else {
            workload::COLD_STARTS_FULL
        },
        server_cpus: vec![1],
        client_cpus: vec![0],
        workers: BTreeMap::new(),
    }
}

/// The plan's ETA, its limit with the reserve ("up to"), and its targets.
fn planned(quick: bool) -> (Duration, Duration, usize) {
    let h = host();
    let opts = defaults(quick);
    let plan = suite::plan(&h, &opts).unwrap();
    let eta = suite::eta(&plan.cells, &opts, plan.targets.len());
    assert_eq!(plan.eta, eta, "the plan states the ETA of its cells");
    assert_eq!(plan.up_to, suite::eta_up_to(&opts, eta));
    (eta, plan.up_to, plan.targets.len())
}

#[test]
fn the_full_suite_plans_within_45_minutes_for_the_ten_shipped_targets() {
    let (eta, up_to, targets) = planned(false);
    assert_eq!(
        targets, 10,
        "the budget is stated for the ten shipped targets"
    );
    assert!(
        eta <= Duration::from_secs(45 * 60),
        "the full suite plans {eta:?} for {targets} targets: over its 45-minute budget (docs/workloads.md \"Minutes per workload\")"
    );
    // Plan + reserve: the run stops re-measuring and topping up where it would pass this.
    assert_eq!(
        up_to,
        Duration::from_secs(45 * 60),
        "plan + reserve = the budget"
    );
    assert!(
        up_to > eta,
        "the full suite keeps a reserve for re-measured and extra repeats"
    );
}

#[test]
fn the_quick_suite_plans_within_its_budget_with_room_for_retries() {
    let (eta, up_to, targets) = planned(true);
    assert_eq!(targets, 10);
    assert_eq!(
        up_to,
        Duration::from_secs(300),
        "plan + reserve = the 5-minute budget"
    );
    assert!(
        eta <= Duration::from_secs(270),
        "--quick plans {eta:?}: over 4.5 minutes, which leaves no room in its 5-minute budget for noise retries"
    );
}

/// The plan counts what the suite runs: io-slo's three searches, one for the other capacity
/// searches, ws-hold's two repeats, and nothing of the workloads run only on request.
#[test]
fn the_plan_counts_capacity_repeats_and_leaves_on_request_workloads_out() {
    let opts = defaults(false);
    let by = |id: &str| workload::by_id(id).unwrap();
    assert_eq!(suite::cell_repeats(by("io-slo").as_ref(), opts.repeats), 3);
    assert_eq!(suite::cell_repeats(by("cpu-slo").as_ref(), opts.repeats), 1);
    assert_eq!(suite::cell_repeats(by("crud").as_ref(), opts.repeats), 1);
    assert_eq!(suite::cell_repeats(by("ws-hold").as_ref(), opts.repeats), 2);
    assert_eq!(suite::cell_repeats(by("json").as_ref(), opts.repeats), 3);
    assert_eq!(suite::cell_repeats(by("io-slo").as_ref(), 1), 1, "--quick");
    // Three searches cost three times one (io is in the run: no anchor probe).
    let one = by("io-slo").estimate(&opts.timing);
    assert_eq!(suite::cell_estimate(by("io-slo").as_ref(), &opts), one * 3);
    // crud's anchor (db) is on request: each search probes /db first, and the plan says so.
    let crud = by("crud");
    assert!(suite::cell_estimate(crud.as_ref(), &opts) > crud.estimate(&opts.timing));
    let h = host();
    let plan = suite::plan(&h, &opts).unwrap();
    for id in workload::on_request() {
        assert!(
            !plan.cells.iter().any(|c| c.workload == id),
            "{id} is on request"
        );
    }
    let mut all = opts.clone();
    all.workloads = workload::catalogue()
        .iter()
        .map(|w| w.id().to_string())
        .collect();
    let all_plan = suite::plan(&h, &all).unwrap();
    assert!(
        suite::eta(&all_plan.cells, &all, 10) > suite::eta(&plan.cells, &opts, 10),
        "--all adds the on-request workloads"
    );
}
