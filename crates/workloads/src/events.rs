//! The lab's suite events, as data: what a run is doing, one typed value at a time (run started,
//! cell started, progress, repeat done, cell done, per-target figures, warning, target failed,
//! run finished). `stackwise lab --events json` writes each as one JSON line ([`EventLine`],
//! with [`SCHEMA_VERSION`]); `schemas/lab-events.schema.json` is generated from these types
//! ([`json_schema`]) and a test keeps the committed file equal to it.
//!
//! Why here: the lab emits these events and the reports crate renders them (the terminal live
//! line, the per-cell result line); reports never import the lab. Both already depend on this
//! crate, and the events name their figures by this crate's metric ids, so the vocabulary of a
//! run in progress sits beside the vocabulary of its figures. The events carry numbers and
//! codes, never pre-formatted text (a warning's `message` and a failure's `reason` are the
//! only prose; they are what a person reads, and their `code` is what a program matches).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The version of the event stream's shape. Raised when a field is removed or changes meaning;
/// new optional fields and new event kinds keep it (readers skip what they do not know).
pub const SCHEMA_VERSION: u32 = 1;

/// One line of `stackwise lab --events json`: the schema version and the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EventLine {
    pub schema_version: u32,
    #[serde(flatten)]
    pub event: Event,
}

impl EventLine {
    pub fn new(event: Event) -> EventLine {
        EventLine {
            schema_version: SCHEMA_VERSION,
            event,
        }
    }
}

/// A (target, workload) cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CellId {
    pub target: String,
    pub workload: String,
}

/// What a run is about to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunPlan {
    /// Targets with something to do in this run, in order.
    pub targets: Vec<String>,
    /// Workload ids, in order.
    pub workloads: Vec<String>,
    /// Every planned cell of the run (a resumed run: including those already stored).
    pub cells: Vec<CellId>,
    /// Cells still to measure.
    pub remaining: usize,
    /// Expected wall time of what remains, seconds (the workloads' estimates; install excluded).
    pub eta_s: f64,
}

/// What the current step is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The database service is starting.
    StartingDatabase,
    /// The target's idle memory is being measured.
    IdleMemory,
    /// The target's conformance check.
    Conformance,
    /// A cold start (fresh process → first correct response).
    ColdStart,
    /// Load is running, before the measuring window.
    WarmUp,
    /// Inside the measuring window.
    Measuring,
    /// A rung of an open-loop ladder (capacity search, crud) is starting.
    Rung,
    /// Held connections: opening them.
    Opening,
    /// Held connections: holding them.
    Holding,
    /// Held connections: closing them.
    Closing,
}

/// What a workload reports while it measures (the lab adds the target, workload and repeat).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Progress {
    pub phase: Option<Phase>,
    /// The step within the repeat, when it has several (e.g. "probe", "at 1200 req/s",
    /// "/io alone"); absent for a single-step repeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Seconds since the step started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_s: Option<f64>,
    /// The step's planned length, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_s: Option<f64>,
    /// Running counts and rates, by name: `responses`, `offered_rps`, `open`, `failed`,
    /// `echoes`, `target_connections`, `done`, `of` (cold starts).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub figures: BTreeMap<String, f64>,
}

impl Progress {
    pub fn phase(phase: Phase) -> Progress {
        Progress {
            phase: Some(phase),
            ..Progress::default()
        }
    }

    pub fn figure(mut self, name: &str, v: f64) -> Progress {
        self.figures.insert(name.to_string(), v);
        self
    }
}

/// How far a repeat can be trusted.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct RepeatTrust {
    /// No errors or wrong answers: its figures count.
    pub clean: bool,
    /// Errors and wrong answers.
    pub errors: u64,
    /// CPU steal over the repeat, percent (the worst window of a ladder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steal_pct: Option<f64>,
    /// Other processes' share of the server CPUs, 0–1 (the worst window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_processes: Option<f64>,
    /// Who used the server CPUs besides the measured server (the worst window), when known: the
    /// lab's other targets, its services, the lab process itself, other processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_processes_by: Option<ServerCpuUse>,
    /// Seconds the suite waited before the repeat for the lab's own processes to leave the
    /// server CPUs (a previous target working off its backlog), when it had to wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waited_s: Option<f64>,
    /// Who kept them busy then, e.g. "python-django 40%".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waited_for: Option<String>,
    /// Over the steal or other-processes limit (kept, because the retries were spent).
    pub noisy: bool,
    /// Times this repeat was measured again for noise before this measurement was kept.
    pub retried: u32,
    /// The engine or the upstream was busy: the figure is a lower bound.
    pub lower_bound: bool,
}

/// Who used the server CPUs over a measuring window besides the measured server: shares (0–1)
/// of the server CPUs' time, by owner. Estimates (procfs has no per-CPU time per process: a
/// process allowed on server and client CPUs counts in proportion to the server CPUs it may use);
/// the total other processes' share is measured apart, exactly.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ServerCpuUse {
    /// The lab's other targets' servers (up between their rounds in the interleaved order).
    pub other_targets: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_targets_by: Vec<NamedShare>,
    /// The lab's services (upstream, PostgreSQL) and other process groups the lab started.
    pub lab_services: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lab_services_by: Vec<NamedShare>,
    /// The lab process's own threads (those that may run on a server CPU), by thread name.
    pub lab_itself: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lab_itself_by: Vec<NamedShare>,
    /// Every other process on this machine.
    pub machine: f64,
    /// The three largest, by command name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub machine_top: Vec<NamedShare>,
}

/// A name and its share (0–1) of the server CPUs' time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NamedShare {
    pub name: String,
    pub share: f64,
}

impl ServerCpuUse {
    /// Shares under this are left out of [`ServerCpuUse::describe`].
    pub const SHOWN_FROM: f64 = 0.005;

    /// One line for a warning, largest owners first, e.g. "the lab's other targets 6%
    /// (python-django 5%, node-http 1%); other processes on this machine 4% (rustc 3%, cc1 1%)";
    /// "none of it named" when every share is negligible.
    pub fn describe(&self) -> String {
        let mut parts: Vec<(f64, String)> = [
            (
                "the lab's other targets",
                self.other_targets,
                &self.other_targets_by,
            ),
            (
                "the lab's services",
                self.lab_services,
                &self.lab_services_by,
            ),
            (
                "the lab's own threads",
                self.lab_itself,
                &self.lab_itself_by,
            ),
            (
                "other processes on this machine",
                self.machine,
                &self.machine_top,
            ),
        ]
        .into_iter()
        .filter(|(_, share, _)| *share >= Self::SHOWN_FROM)
        .map(|(what, share, by)| {
            let names: Vec<String> = by
                .iter()
                .filter(|n| n.share >= Self::SHOWN_FROM)
                .map(|n| format!("{} {}", n.name, pct(n.share)))
                .collect();
            let text = if names.is_empty() {
                format!("{what} {}", pct(share))
            } else {
                format!("{what} {} ({})", pct(share), names.join(", "))
            };
            (share, text)
        })
        .collect();
        if parts.is_empty() {
            return "none of it named".to_string();
        }
        parts.sort_by(|a, b| b.0.total_cmp(&a.0));
        parts
            .into_iter()
            .map(|(_, t)| t)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn pct(share: f64) -> String {
    let p = share * 100.0;
    if p >= 9.95 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// A cell's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum Status {
    Ok,
    /// Errors or wrong answers in some repeats.
    Flagged(String),
    /// Not measured: the reason.
    Failed(String),
}

/// One figure over a cell's repeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Figure {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Repeats it is over.
    pub n: usize,
}

impl Figure {
    /// Median, min and max of `values`; `None` when empty.
    pub fn of(values: &[f64]) -> Option<Figure> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Figure {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        })
    }
}

/// A finished cell's summary: what its stored figures say.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CellSummary {
    /// By registry metric id: over the clean repeats (every repeat when none is clean) for the
    /// metrics measured over clean repeats, over every repeat for those over all repeats.
    pub figures: BTreeMap<String, Figure>,
    /// The capacity at the SLO (capacity searches), req/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_rps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_p99_ms: Option<f64>,
    /// The p99 of each ladder point, in order (mixed: per repeat, alone then with heavy load).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ladder_p99_ms: Vec<f64>,
    /// A repeat's engine or upstream was busy: the figures are lower bounds.
    pub lower_bound: bool,
    /// The cell's warnings (as stored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub elapsed_s: Option<f64>,
}

/// What a warning is about, for a program to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    /// A repeat over the noise limits was measured again.
    NoiseRetry,
    /// A stored cell of a resumed run can no longer be measured.
    NotMeasurable,
    /// A note of a target's start (a port retried…).
    StartNote,
    /// A service (upstream, database) ended and is restarted.
    ServiceEnded,
    /// A service could not start; the cells needing it fail.
    ServiceUnavailable,
    /// A cold start failed.
    ColdStartFailed,
    /// A note of the run itself: what its host does not measure (a deployed service's server-side
    /// figures), a cell it skips and why.
    RunNote,
    /// A noise re-measurement or an extra repeat was not started: it would have taken the run
    /// past its time budget (docs/workloads.md "Time budget"); the repeat is kept as it is.
    BudgetSpent,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunEnd {
    /// Every planned cell is stored.
    Finished,
    /// Stopped (Ctrl-C, or a failed store write): `--resume` completes it.
    Interrupted,
}

/// Something a suite run reports as it goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Starting (or resuming) a run.
    RunStarted {
        run_id: i64,
        resumed: bool,
        plan: RunPlan,
    },
    /// A target is being prepared (install, start, idle memory, conformance).
    TargetStarted { target: String },
    /// A line of a target's install output.
    Installing { target: String, line: String },
    /// A target failed (install, services, start, conformance): its cells fail.
    TargetFailed {
        target: String,
        /// The stage that failed: install, services, start, conformance.
        stage: String,
        reason: String,
    },
    /// A cell's first repeat is starting.
    CellStarted {
        target: String,
        workload: String,
        repeats: u32,
        /// Expected wall time of the cell's repeats, seconds.
        eta_s: f64,
    },
    /// What the current step is doing now (a target's preparation, a repeat of a cell, or a
    /// service starting: then without a target).
    Progress {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        workload: Option<String>,
        /// 1-based repeat, with the cell's count (absent outside a cell).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repeat: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repeats: Option<u32>,
        #[serde(flatten)]
        progress: Progress,
    },
    /// A repeat was measured and kept (a repeat measured again for noise is reported once kept).
    RepeatDone {
        target: String,
        workload: String,
        /// 1-based.
        repeat: u32,
        repeats: u32,
        /// By registry metric id.
        figures: BTreeMap<String, f64>,
        trust: RepeatTrust,
        /// An extra repeat (docs/workloads.md "Extra repeats"): measured after the planned
        /// ones because the cell's primary figure spread over the limit; `repeat` then counts
        /// past `repeats`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        extra: bool,
    },
    /// A cell is stored.
    CellDone {
        target: String,
        workload: String,
        #[serde(flatten)]
        status: Status,
        /// A cell failed with its target or a service: the step that failed (install, start,
        /// conformance, could not start the Database service…), whose reason was reported once
        /// before (target_failed, or a warning).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failed_with: Option<String>,
        summary: CellSummary,
    },
    /// A target's own figures, measured once per run (cold starts, idle memory).
    TargetFigures {
        target: String,
        /// Cold start times, ms (empty: none succeeded).
        cold_start_ms: Vec<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idle_pss_mb: Option<f64>,
    },
    /// Something worth knowing that does not stop the run.
    Warning {
        code: WarningCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        workload: Option<String>,
    },
    /// The run ended (finished or interrupted).
    RunFinished {
        run_id: i64,
        end: RunEnd,
        /// Cells stored in this run, by status.
        ok: usize,
        flagged: usize,
        failed: usize,
        /// Cells still to measure (`--resume` completes them).
        missing: usize,
        /// Wall time of this invocation, seconds.
        wall_s: f64,
        /// The store the run is in.
        store: String,
    },
}

/// The JSON schema of one event line, as committed in `schemas/lab-events.schema.json`.
pub fn json_schema() -> schemars::Schema {
    schemars::schema_for!(EventLine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_schema_is_the_generated_one() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../schemas/lab-events.schema.json"
        );
        let generated = serde_json::to_string_pretty(&json_schema()).unwrap() + "\n";
        if std::env::var_os("STACKWISE_WRITE_SCHEMAS").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "schemas/lab-events.schema.json is not the schema of the event types: \
             run `STACKWISE_WRITE_SCHEMAS=1 cargo test -p workloads events` and commit it"
        );
    }

    #[test]
    fn lines_round_trip_with_their_version_and_tag() {
        let e = EventLine::new(Event::CellDone {
            target: "rust-axum".into(),
            workload: "json".into(),
            status: Status::Flagged("3 errors".into()),
            failed_with: None,
            summary: CellSummary {
                figures: BTreeMap::from([(
                    "throughput_rps".into(),
                    Figure::of(&[3.0, 1.0, 2.0]).unwrap(),
                )]),
                ..CellSummary::default()
            },
        });
        let s = serde_json::to_string(&e).unwrap();
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["schema_version"], SCHEMA_VERSION);
        assert_eq!(v["event"], "cell_done");
        assert_eq!(v["status"], "flagged");
        assert_eq!(v["reason"], "3 errors");
        assert_eq!(v["summary"]["figures"]["throughput_rps"]["median"], 2.0);
        assert_eq!(serde_json::from_str::<EventLine>(&s).unwrap(), e);
        let p = EventLine::new(Event::Progress {
            target: Some("t".into()),
            workload: Some("json".into()),
            repeat: Some(1),
            repeats: Some(3),
            progress: Progress::phase(Phase::Measuring).figure("responses", 10.0),
        });
        let s = serde_json::to_string(&p).unwrap();
        assert!(s.contains(r#""phase":"measuring""#), "{s}");
        assert_eq!(serde_json::from_str::<EventLine>(&s).unwrap(), p);
    }

    #[test]
    fn server_cpu_use_names_the_largest_owners_first_and_skips_negligible_ones() {
        let n = |name: &str, share: f64| NamedShare {
            name: name.into(),
            share,
        };
        let u = ServerCpuUse {
            other_targets: 0.06,
            other_targets_by: vec![n("python-django", 0.05), n("node-http", 0.01)],
            lab_services: 0.001,
            lab_services_by: vec![n("upstream", 0.001)],
            lab_itself: 0.0,
            lab_itself_by: vec![],
            machine: 0.12,
            machine_top: vec![n("rustc", 0.1), n("cc1", 0.015), n("sh", 0.002)],
        };
        assert_eq!(
            u.describe(),
            "other processes on this machine 12% (rustc 10%, cc1 1.5%); \
             the lab's other targets 6.0% (python-django 5.0%, node-http 1.0%)"
        );
        assert_eq!(ServerCpuUse::default().describe(), "none of it named");
        let v = serde_json::to_value(&u).unwrap();
        assert!(v.get("lab_itself_by").is_none(), "{v}");
        assert_eq!(serde_json::from_value::<ServerCpuUse>(v).unwrap(), u);
    }
}
