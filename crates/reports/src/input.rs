//! What a report is made of: the run's [`RunSummary`] (from the store) plus optional detail that
//! the summary does not carry: per-cell latency percentile curves and per-second series (from the
//! load engine's reports), and the claims and advice sections (from `stackwise claims` / `advise`).
//!
//! The store keeps each repeat's engine report(s) as JSON; [`CellDetail::from_engine_json`] reads
//! what the report needs from them. The claims verdicts and the advice enter as [`Section`]s,
//! plain tables and text that this crate escapes and lays out (the `stackwise` binary converts the
//! claims and adviser crates' results), so this crate depends on neither.

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
    /// The claims verdicts in brief, for the findings (set with `claims`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims_digest: Option<crate::findings::ClaimsDigest>,
    /// The advice in brief, for the findings (set with `advice`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice_digest: Option<crate::findings::AdviceDigest>,
}

impl ReportInput {
    pub fn new(summary: RunSummary) -> ReportInput {
        ReportInput {
            summary,
            details: Vec::new(),
            claims: None,
            advice: None,
            claims_digest: None,
            advice_digest: None,
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

impl CellDetail {
    /// The detail of a cell from the engine report(s) the lab stored for one repeat, read as plain
    /// JSON so that any version of the engine's report layout serves: a saturation repeat stores
    /// one report; a capacity repeat an array of rung reports (the rung at or below `capacity_rps`
    /// is shown, else the lowest); the mixed workload `{"io": report, "heavy": report}` (the /io
    /// stream is shown). `None` when no report with latency figures is found.
    pub fn from_engine_json(
        target: &str,
        workload: &str,
        source: &str,
        stored: &serde_json::Value,
        capacity_rps: Option<f64>,
    ) -> Option<CellDetail> {
        let (report, rung) = pick_report(stored, capacity_rps)?;
        let curve = |key: &str| -> Vec<PercentilePoint> {
            report["latency"][key]["percentiles"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| {
                            Some(PercentilePoint {
                                p: p["p"].as_f64()?,
                                ms: p["us"].as_f64()? / 1000.0,
                            })
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let from_send = curve("from_send");
        let from_schedule = curve("from_schedule");
        let per_second = report["series"]
            .as_array()
            .map(|ss| ss.iter().filter_map(second).collect())
            .unwrap_or_default();
        if from_send.is_empty() && from_schedule.is_empty() {
            return None;
        }
        let source = match rung {
            Some(r) => format!("{source}, ladder rung at {} req/s", crate::svg::fmt_num(r)),
            None => source.to_string(),
        };
        Some(CellDetail {
            target: target.to_string(),
            workload: workload.to_string(),
            source,
            from_send,
            from_schedule,
            per_second,
        })
    }
}

/// The report to show from what a repeat stored, and the offered rate of its rung, if a ladder.
fn pick_report(
    stored: &serde_json::Value,
    capacity_rps: Option<f64>,
) -> Option<(&serde_json::Value, Option<f64>)> {
    if stored.get("latency").is_some() {
        return Some((stored, None));
    }
    if let Some(io) = stored.get("io").filter(|v| v.get("latency").is_some()) {
        return Some((io, None));
    }
    let rungs: Vec<(&serde_json::Value, f64)> = stored
        .as_array()?
        .iter()
        .filter(|r| r.get("latency").is_some())
        .filter_map(|r| Some((r, r["config"]["rate_rps"].as_f64()?)))
        .collect();
    let at_or_below = rungs
        .iter()
        .filter(|(_, rate)| capacity_rps.is_some_and(|c| *rate <= c * 1.000_001))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let lowest = rungs.iter().min_by(|a, b| a.1.total_cmp(&b.1));
    at_or_below.or(lowest).map(|(r, rate)| (*r, Some(*rate)))
}

/// One point of the engine's per-second series (`start_s`, `duration_s`, `responses`, `errors`,
/// `from_send`/`from_schedule` with `p50_us`, `p99_us`).
fn second(s: &serde_json::Value) -> Option<SecondSample> {
    let start = s["start_s"].as_f64()?;
    let dur = s["duration_s"].as_f64().filter(|d| *d > 0.0).unwrap_or(1.0);
    let responses = s["responses"].as_u64()?;
    let ms = |k: &str, q: &str| s[k][q].as_f64().map(|us| us / 1000.0);
    Some(SecondSample {
        t_s: start + dur,
        // A short last window is scaled to a rate, so that it does not look like a drop.
        responses: (responses as f64 / dur).round() as u64,
        errors: s["errors"].as_u64().unwrap_or(0),
        p50_ms: ms("from_send", "p50_us"),
        p99_ms: ms("from_send", "p99_us"),
        corrected_p99_ms: ms("from_schedule", "p99_us"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(rate: Option<f64>, p99_us: f64) -> serde_json::Value {
        json!({
            "config": {"rate_rps": rate},
            "latency": {
                "from_send": {"percentiles": [{"p": 50.0, "us": 100.0}, {"p": 99.0, "us": p99_us}]},
                "from_schedule": if rate.is_some() { json!({"percentiles": [{"p": 50.0, "us": 150.0}, {"p": 99.0, "us": p99_us * 2.0}]}) } else { json!(null) }
            },
            "series": [
                {"start_s": 0.0, "duration_s": 1.0, "responses": 900, "errors": 1,
                 "from_send": {"p50_us": 100.0, "p99_us": 900.0, "max_us": 1000.0}, "from_schedule": null},
                {"start_s": 1.0, "duration_s": 0.5, "responses": 500, "errors": 0,
                 "from_send": {"p50_us": 110.0, "p99_us": 800.0, "max_us": 900.0},
                 "from_schedule": {"p50_us": 120.0, "p99_us": 2000.0, "max_us": 3000.0}}
            ]
        })
    }

    #[test]
    fn saturation_report_gives_curves_and_series() {
        let d =
            CellDetail::from_engine_json("t", "json", "repeat 1 of 3", &report(None, 990.0), None)
                .unwrap();
        assert_eq!(
            d.from_send,
            vec![
                PercentilePoint { p: 50.0, ms: 0.1 },
                PercentilePoint { p: 99.0, ms: 0.99 }
            ]
        );
        assert!(d.from_schedule.is_empty());
        assert_eq!(d.per_second.len(), 2);
        assert_eq!(d.per_second[0].t_s, 1.0);
        assert_eq!(d.per_second[0].errors, 1);
        // The half-second last window is shown as a rate.
        assert_eq!(
            (d.per_second[1].t_s, d.per_second[1].responses),
            (1.5, 1000)
        );
        assert_eq!(d.per_second[1].corrected_p99_ms, Some(2.0));
        assert_eq!(d.source, "repeat 1 of 3");
    }

    #[test]
    fn ladder_shows_the_rung_at_capacity_and_mixed_its_io_stream() {
        let ladder = json!([
            report(Some(4000.0), 5000.0),
            report(Some(1000.0), 1000.0),
            report(Some(2000.0), 2000.0)
        ]);
        let d = CellDetail::from_engine_json("t", "io-slo", "repeat 1 of 1", &ladder, Some(2500.0))
            .unwrap();
        assert_eq!(d.from_send[1].ms, 2.0);
        assert_eq!(d.from_schedule[1].ms, 4.0);
        assert!(
            d.source.ends_with("ladder rung at 2,000 req/s"),
            "{}",
            d.source
        );
        // No capacity: the lowest rung.
        let d = CellDetail::from_engine_json("t", "io-slo", "r", &ladder, None).unwrap();
        assert_eq!(d.from_send[1].ms, 1.0);
        let mixed = json!({"io": report(Some(200.0), 30_000.0), "heavy": report(Some(10.0), 1.0)});
        let d = CellDetail::from_engine_json("t", "mixed", "r", &mixed, None).unwrap();
        assert_eq!(d.from_send[1].ms, 30.0);
        // Nothing usable.
        assert!(CellDetail::from_engine_json("t", "w", "r", &json!({}), None).is_none());
        assert!(CellDetail::from_engine_json("t", "w", "r", &json!("x"), None).is_none());
    }
}
