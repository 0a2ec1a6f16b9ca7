//! The JSON report: the run summary (and detail, claims and advice when given) plus the derived
//! figures, and for a comparison every compared figure with the rule's verdict.

use serde::Serialize;

use crate::derive::{self, Compared, Derived};
use crate::input::ReportInput;

#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    /// Layout version of this JSON; bumped on any incompatible change.
    pub report_version: u32,
    #[serde(flatten)]
    pub input: &'a ReportInput,
    /// The summary every output leads with.
    pub findings: crate::findings::Findings,
    pub derived: Derived,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<JsonComparison>,
}

#[derive(Debug, Serialize)]
pub struct JsonComparison {
    pub baseline_run_id: i64,
    pub rule: &'static str,
    pub figures: Vec<Compared>,
}

pub fn report<'a>(input: &'a ReportInput, baseline: Option<&ReportInput>) -> JsonReport<'a> {
    JsonReport {
        report_version: 1,
        input,
        findings: crate::findings::findings(input),
        derived: derive::derive(&input.summary),
        comparison: baseline.map(|b| JsonComparison {
            baseline_run_id: b.summary.run_id,
            rule: derive::COMPARE_RULE,
            figures: derive::compare(&input.summary, &b.summary),
        }),
    }
}

pub fn render(input: &ReportInput, baseline: Option<&ReportInput>) -> String {
    let mut s =
        serde_json::to_string_pretty(&report(input, baseline)).expect("plain data serialises");
    s.push('\n');
    s
}
