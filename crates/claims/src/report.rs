//! The result of checking the catalogue against a run: what `stackwise claims --json` prints (its
//! JSON schema, generated here with schemars, is committed as schemas/claims.schema.json) and what
//! the terminal table, the HTML report and the adviser read.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalogue::{Kind, Metric};

/// Every claim of the catalogue (after filters) with its verdict, against one lab run (or none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClaimsReport {
    /// Where the catalogue came from: `built-in` or its path.
    pub catalogue: String,
    /// The run the verdicts come from; `None` when no run was available (every testable claim is
    /// then `not-measured`, with the lab command that would measure it).
    pub run: Option<RunRef>,
    /// How many claims (of those shown) have each verdict.
    pub counts: BTreeMap<String, usize>,
    pub claims: Vec<ClaimResult>,
}

/// The run the verdicts were computed from, and the machine it ran on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunRef {
    pub run_id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub cpu_model: String,
    /// Cores of the machine.
    pub cores: u32,
    /// CPUs the servers were pinned to: every figure was measured on this many cores.
    pub server_cpus: Vec<usize>,
    pub client_cpus: Vec<usize>,
    /// Run-level warnings of the lab (noise, steal time, saturated engine…).
    pub warnings: Vec<String>,
}

/// The verdict on one claim.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The measurements agree with the claim.
    Supported,
    /// The measurements contradict the claim.
    Refuted,
    /// Part of the claim holds (one workload or metric but not another; right direction, wrong size).
    Partly,
    /// Frameworks disagree: the answer depends on which framework is used.
    Depends,
    /// Testable, but the run lacks the measurements (see `lab_command`).
    NotMeasured,
    /// The lab cannot test it yet (see `needs`).
    NotTestableYet,
    /// A cited fact: shown with its source, not measured.
    Cited,
    /// An opinion.
    Opinion,
}

impl Verdict {
    pub const ALL: [Verdict; 8] = [
        Verdict::Supported,
        Verdict::Refuted,
        Verdict::Partly,
        Verdict::Depends,
        Verdict::NotMeasured,
        Verdict::NotTestableYet,
        Verdict::Cited,
        Verdict::Opinion,
    ];

    /// The id used in JSON and by `--verdict`.
    pub fn id(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Refuted => "refuted",
            Verdict::Partly => "partly",
            Verdict::Depends => "depends",
            Verdict::NotMeasured => "not-measured",
            Verdict::NotTestableYet => "not-testable-yet",
            Verdict::Cited => "cited",
            Verdict::Opinion => "opinion",
        }
    }

    /// How the terminal shows it.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::NotMeasured => "not measured",
            Verdict::NotTestableYet => "not testable yet",
            Verdict::Cited => "cited, not measured",
            v => v.id(),
        }
    }

    pub fn from_id(s: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.id() == s)
    }

    /// A verdict computed from measurements (supported, refuted, partly, depends).
    pub fn is_measured(self) -> bool {
        matches!(
            self,
            Verdict::Supported | Verdict::Refuted | Verdict::Partly | Verdict::Depends
        )
    }
}

/// One claim and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClaimResult {
    pub id: String,
    /// The seed article's file name.
    pub article: String,
    pub topic: String,
    pub kind: Kind,
    /// The article's exact words.
    pub quote: String,
    pub verdict: Verdict,
    /// One line: why this verdict (or what is missing).
    pub reason: String,
    /// Testable claims: the claimed figure or statement.
    pub claimed: Option<String>,
    /// The claimed figure as numbers, where the claim gives one (a range or a ratio).
    pub claimed_figure: Option<ClaimedFigure>,
    /// Testable claims: how the rule reads the claim.
    pub reading: Option<String>,
    /// Testable claims: the workloads that test it.
    pub workloads: Vec<String>,
    /// The rule and its parameters, e.g. `faster(node better than python on throughput_rps)`.
    pub rule: Option<String>,
    /// Verdicts of the parts (one per workload or metric) when the rule judged several.
    pub parts: Vec<Part>,
    /// The measured figures the verdict rests on (and those shown for context or excluded).
    pub measured: Vec<Measured>,
    /// The command that would supply missing measurements.
    pub lab_command: Option<String>,
    /// What testing it needs, for claims the lab cannot test yet.
    pub needs: Option<String>,
    /// Cited facts: the source the article names.
    pub source: Option<String>,
    pub note: Option<String>,
}

/// A claimed figure: a range of values, or of the ratio between two groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClaimedFigure {
    pub metric: Metric,
    /// `value` (the metric itself, in `unit`) or `ratio` (subject / compared, no unit).
    pub of: String,
    pub min: f64,
    pub max: f64,
    pub unit: String,
}

/// The verdict on one workload or metric of a claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Part {
    pub workload: String,
    pub metric: Metric,
    pub verdict: Verdict,
    pub reason: String,
}

/// The role of a measured figure in a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The targets the claim is about (`better`, `group`, `numerator`).
    Subject,
    /// The targets they are compared with (`than`, `denominator`).
    Compared,
    /// Shown for context, not counted.
    Context,
}

/// One measured figure of one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Measured {
    pub target: String,
    pub language: String,
    pub framework: String,
    pub workload: String,
    pub metric: Metric,
    pub unit: String,
    pub side: Side,
    /// Median over repeats, with the repeats' min and max and values (`None` for a failed cell).
    pub median: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub values: Vec<f64>,
    /// Throughput and capacity divided by the run's server CPU count.
    pub per_core: Option<f64>,
    /// The figure is a lower bound (the engine, the upstream or the workload's connection count
    /// limited it): it can show "at least", never "at most".
    pub lower_bound: bool,
    /// Counted in the verdict: false for flagged or failed cells (never evidence) and context.
    pub evidence: bool,
    pub note: Option<String>,
}
