//! The result of checking the catalogue against a run: what `stackwise claims --json` prints (its
//! JSON schema, generated here with schemars, is committed as schemas/claims.schema.json) and what
//! the terminal table, the HTML report and the adviser read.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalogue::{Kind, Metric};
use crate::decide::Comparison;
pub use crate::verdict::{ReasonCode, Verdict};

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
    /// How many independent tests stand behind the measured verdicts: claims decided by the same
    /// measurement (same metric, workload and targets) are one test.
    pub independence: Independence,
    pub claims: Vec<ClaimResult>,
}

/// "N verdicts from M independent tests".
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Independence {
    /// Claims with a measured verdict (supported, refuted, partly, depends, inconclusive, equivalent).
    pub verdicts: usize,
    /// Distinct measurements behind them (see `ClaimResult::tests`).
    pub tests: usize,
    /// Per verdict id: distinct measurements behind the claims with that verdict.
    pub tests_by_verdict: BTreeMap<String, usize>,
    /// Measured verdicts that are `indicative` (one repeat).
    pub indicative: usize,
    /// Verdicts held back because cells they compare stayed noisy in the lab (reason code
    /// `noisy_machine`; docs/workloads.md "Noise").
    #[serde(default)]
    pub held_back_noisy: usize,
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
    /// The verdict rests on one repeat (a `--quick` run, or a figure measured once): a qualifier,
    /// shown as "supported (indicative)"; the verdict itself is unchanged.
    pub indicative: bool,
    /// Typed reasons (docs/claims.md lists them): `needs_multicore`, `not_testable_here`…
    pub reasons: Vec<ReasonCode>,
    /// One line: why this verdict (or what is missing).
    pub reason: String,
    /// Directional claims: the smallest ratio that counts as the claimed difference.
    pub min_effect: Option<f64>,
    /// Where `min_effect` comes from (the quote's words, the default, or the catalogue's override).
    pub min_effect_basis: Option<String>,
    /// Tie claims: the equivalence margin (a factor `1 + margin` either way).
    pub margin: Option<f64>,
    /// The comparisons the verdict rests on (best against best, typical against typical, per
    /// workload or metric), with their ratio intervals.
    pub comparisons: Vec<Comparison>,
    /// The measurements the verdict rests on, one id per (metric, workload, targets): claims that
    /// share one are not independent tests.
    pub tests: Vec<String>,
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
    pub indicative: bool,
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
