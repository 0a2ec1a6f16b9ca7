//! The result of one run: a plain, serialisable [`Report`]. Its JSON form is the contract other
//! tools read; `schemas/load-report.schema.json` is generated from these types (doc comments
//! become the schema's descriptions).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Version of the report's layout; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Percentiles reported for every latency distribution.
pub const PERCENTILES: [f64; 8] = [50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0];

/// What one load run measured.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Layout version of this report.
    pub schema_version: u32,
    /// The engine that produced the report.
    pub engine: EngineInfo,
    /// What was loaded.
    pub target: TargetInfo,
    /// How it was loaded.
    pub config: RunConfig,
    /// When measuring started (RFC 3339, UTC).
    pub started_at: String,
    /// Seconds from the start of measuring to the last measured response.
    pub elapsed_s: f64,
    /// True when the run was stopped early (Ctrl-C); the figures cover what was measured until then.
    pub interrupted: bool,
    /// Request counts for the measuring window (warm-up excluded).
    pub requests: RequestCounts,
    /// Responses received per second of `elapsed_s`.
    pub throughput_rps: f64,
    /// Open loop only: whether the target rate was reached.
    pub rate: Option<RateOutcome>,
    /// Latency distributions.
    pub latency: Latencies,
    /// Responses by HTTP status code.
    pub status_codes: BTreeMap<String, u64>,
    /// Response body bytes received.
    pub body_bytes: u64,
    /// What the engine itself cost.
    pub engine_cpu: EngineCpu,
    /// Things the reader must know to trust the figures (rate not reached, errors, a saturated engine…).
    pub warnings: Vec<String>,
}

/// The engine that produced the report.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineInfo {
    pub name: String,
    pub version: String,
}

/// What was loaded.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetInfo {
    /// The URL requested.
    pub url: String,
    /// The socket address connections went to.
    pub address: String,
}

/// Closed loop: each connection sends its next request when the previous one is answered.
/// Open loop: requests follow a constant-rate schedule regardless of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Closed,
    Open,
}

/// How the run was configured.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub mode: Mode,
    /// Request method.
    pub method: String,
    /// Request body size in bytes (0: no body).
    pub request_body_bytes: u64,
    pub connections: usize,
    pub threads: usize,
    /// CPUs the engine threads were pinned to, if any.
    pub pinned_cpus: Option<Vec<usize>>,
    /// Measuring duration in seconds, if one was given.
    pub duration_s: Option<f64>,
    /// Request count, if one was given.
    pub requests: Option<u64>,
    /// Seconds of warm-up load before measuring.
    pub warmup_s: f64,
    /// Open loop: target requests per second over all connections.
    pub rate_rps: Option<f64>,
    /// Per-request timeout in seconds.
    pub timeout_s: f64,
    /// Expected status: a code (`200`) or a class (`2xx`).
    pub expect_status: String,
    /// Expected body, if checked (`equals "…"` or `matches /…/`).
    pub expect_body: Option<String>,
}

/// Request counts for the measuring window.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestCounts {
    /// Requests sent.
    pub sent: u64,
    /// HTTP responses received (any status).
    pub completed: u64,
    /// Responses that passed validation.
    pub succeeded: u64,
    /// Responses whose status did not match.
    pub failed_status: u64,
    /// Responses whose body did not match.
    pub failed_body: u64,
    /// Requests that got no response, by kind: connect, timeout, closed, io, protocol.
    pub errors: BTreeMap<String, u64>,
    /// Sum of `errors`.
    pub total_errors: u64,
}

/// Open loop only: whether the engine sent at the rate it was asked for.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateOutcome {
    /// The requested rate.
    pub target_rps: f64,
    /// Responses received per second of the measuring window.
    pub achieved_rps: f64,
    /// Send slots scheduled in the measuring window.
    pub scheduled: u64,
    /// Scheduled slots never sent because the connections were still behind when the window closed.
    pub missed: u64,
    /// True when achieved is within 1% of the target and nothing was missed.
    pub reached: bool,
}

/// Latency distributions. `from_send` is what wrk, oha and autocannon report; in an open-loop run
/// `from_schedule` is the honest one: it includes the time a request waited to be sent because the
/// server was slow (coordinated-omission correction).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Latencies {
    /// From the actual send to the end of the response (uncorrected).
    pub from_send: Option<LatencyStats>,
    /// Open loop: from the scheduled send time to the end of the response (corrected).
    pub from_schedule: Option<LatencyStats>,
    /// Open loop: how late the engine sent compared with the schedule.
    pub send_lag: Option<LatencyStats>,
}

/// Summary of one latency distribution, in microseconds.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyStats {
    pub count: u64,
    pub min_us: f64,
    pub mean_us: f64,
    pub stdev_us: f64,
    pub max_us: f64,
    /// Percentiles 50, 75, 90, 95, 99, 99.9, 99.99 and 100.
    pub percentiles: Vec<Percentile>,
}

/// One percentile.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Percentile {
    /// The percentile, 0–100.
    pub p: f64,
    /// Latency at that percentile, microseconds.
    pub us: f64,
}

/// The engine's own CPU cost during the measuring window.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineCpu {
    /// User CPU seconds of the engine threads.
    pub user_s: f64,
    /// System CPU seconds of the engine threads.
    pub system_s: f64,
    /// CPU microseconds per response received.
    pub per_request_us: Option<f64>,
    /// Busy fraction of the engine threads (1.0 = every thread busy all the time).
    pub utilisation: f64,
}

impl LatencyStats {
    /// Summarises a histogram recorded in nanoseconds; `None` when it is empty.
    pub fn from_histogram(h: &Histogram<u64>) -> Option<LatencyStats> {
        if h.is_empty() {
            return None;
        }
        let us = |ns: f64| ns / 1000.0;
        Some(LatencyStats {
            count: h.len(),
            min_us: us(h.min() as f64),
            mean_us: us(h.mean()),
            stdev_us: us(h.stdev()),
            max_us: us(h.max() as f64),
            percentiles: PERCENTILES
                .iter()
                .map(|&p| Percentile {
                    p,
                    us: us(h.value_at_quantile(p / 100.0) as f64),
                })
                .collect(),
        })
    }

    /// Latency at percentile `p`, if it is one of [`PERCENTILES`].
    pub fn at(&self, p: f64) -> Option<f64> {
        self.percentiles
            .iter()
            .find(|x| (x.p - p).abs() < 1e-9)
            .map(|x| x.us)
    }
}

impl Report {
    /// The JSON schema of the report, as committed in `schemas/load-report.schema.json`.
    pub fn json_schema() -> schemars::Schema {
        schemars::schema_for!(Report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_stats_from_histogram() {
        let mut h = crate::stats::new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap(); // 1..1000 µs
        }
        let s = LatencyStats::from_histogram(&h).unwrap();
        assert_eq!(s.count, 1000);
        assert!(
            (s.at(50.0).unwrap() - 500.0).abs() < 1.0,
            "{:?}",
            s.at(50.0)
        );
        assert!((s.at(99.0).unwrap() - 990.0).abs() < 1.0);
        assert!((s.max_us - 1000.0).abs() < 1.0);
        assert!(s.at(12.0).is_none());
        assert!(LatencyStats::from_histogram(&crate::stats::new_histogram()).is_none());
    }
}
