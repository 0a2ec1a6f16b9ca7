//! What a report is made of: the run's [`RunSummary`] (from the store) plus optional detail that
//! the summary does not carry: per-cell latency percentile curves and per-second series (from the
//! load engine's reports), and the claims and advice sections (from `stackwise claims` / `advise`).
//!
//! INTEGRATOR: the store (branch `suite`) keeps each cell's full engine report; [`CellDetail`] is
//! what the report needs from it. The claims verdicts and the advice enter as [`Section`]s, plain
//! tables and text that this crate escapes and lays out; the claims and adviser crates convert
//! their own results into them.

use serde::{Deserialize, Serialize};
use store::model::RunSummary;

/// Everything one report shows. Its JSON form is also the hidden `--summary-json` input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportInput {
    pub summary: RunSummary,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<CellDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Section>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<Section>,
}

impl ReportInput {
    pub fn new(summary: RunSummary) -> ReportInput {
        ReportInput {
            summary,
            details: Vec::new(),
            claims: None,
            advice: None,
        }
    }

    /// Reads either a bare `RunSummary` or a whole `ReportInput` from JSON text. An error names
    /// the field (`summary.cells[3].status`), the line and the column.
    pub fn from_json(text: &str) -> Result<ReportInput, InputError> {
        let probe: serde_json::Value = serde_json::from_str(text).map_err(|e| InputError {
            path: String::new(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        let mut de = serde_json::Deserializer::from_str(text);
        let res = if probe.get("summary").is_some() {
            serde_path_to_error::deserialize::<_, ReportInput>(&mut de)
        } else {
            serde_path_to_error::deserialize::<_, RunSummary>(&mut de).map(ReportInput::new)
        };
        res.map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            InputError {
                path,
                line: inner.line(),
                column: inner.column(),
                message: inner.to_string(),
            }
        })
    }

    pub fn detail(&self, target: &str, workload: &str) -> Option<&CellDetail> {
        self.details
            .iter()
            .find(|d| d.target == target && d.workload == workload)
    }
}

/// Why a JSON input is not a run: where (field path, line, column) and what.
#[derive(Debug, Clone, PartialEq)]
pub struct InputError {
    /// The field, e.g. `summary.cells[3].status`; empty when the JSON itself is malformed.
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // serde_json's message already ends with "at line L column C".
        if self.path.is_empty() || self.path == "." {
            write!(f, "{}", self.message)
        } else {
            write!(f, "field `{}`: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for InputError {}

/// Detail of one (target, workload) cell, from one engine report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellDetail {
    pub target: String,
    pub workload: String,
    /// Which measurement this is, e.g. "repeat 2 of 3 (median throughput)" or "ladder rung at
    /// 4,000 req/s".
    pub source: String,
    /// Latency from the actual send (uncorrected), percentiles 0–100 (100 = max).
    #[serde(default)]
    pub from_send: Vec<PercentilePoint>,
    /// Open loop: latency from the scheduled send time (corrected for coordinated omission).
    #[serde(default)]
    pub from_schedule: Vec<PercentilePoint>,
    /// One sample per second of the measuring window.
    #[serde(default)]
    pub per_second: Vec<SecondSample>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PercentilePoint {
    pub p: f64,
    pub ms: f64,
}

/// One second of a measuring window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondSample {
    /// Seconds from the start of measuring to the end of this window.
    pub t_s: f64,
    pub responses: u64,
    pub errors: u64,
    /// Uncorrected (from send).
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Open loop: corrected p99 (from schedule).
    #[serde(default)]
    pub corrected_p99_ms: Option<f64>,
}

/// A section given by another part of stackwise (claims verdicts, advice): paragraphs, an optional
/// table and a list, all plain text (escaped by the renderers).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Section {
    #[serde(default)]
    pub paragraphs: Vec<String>,
    #[serde(default)]
    pub table: Option<Table>,
    #[serde(default)]
    pub items: Vec<String>,
    /// Preformatted text shown as is (e.g. the profile the advice was given for).
    #[serde(default)]
    pub preformatted: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}
