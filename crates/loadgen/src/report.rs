//! The result of one run: a plain, serialisable [`Report`]. Its JSON form is the contract other
//! tools read; `schemas/load-report.schema.json` is generated from these types (doc comments
//! become the schema's descriptions).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Version of the report's layout; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 2;

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
    /// Seconds measured: the measuring window (to its deadline, or to a stop), or for a run ended
    /// by its request count, to its last response. `throughput_rps` is per second of this.
    pub elapsed_s: f64,
    /// True when the run was stopped early (Ctrl-C); the figures cover what was measured until then.
    pub interrupted: bool,
    /// Request counts for the measuring window (warm-up excluded).
    pub requests: RequestCounts,
    /// Responses received per second of `elapsed_s` (the one throughput figure of the report).
    pub throughput_rps: f64,
    /// Open loop only: whether the target rate was reached.
    pub rate: Option<RateOutcome>,
    /// Open loop only: scheduled requests that had no response when the run ended.
    pub censored: Option<Censored>,
    /// Latency distributions.
    pub latency: Latencies,
    /// One point per second of the measuring window (the last one possibly shorter).
    pub series: Vec<SeriesPoint>,
    /// The full latency histograms, losslessly encoded; present when asked for
    /// (`LoadConfig::keep_histograms`, `--histograms`). Decode with `loadgen::histogram::decode`.
    pub histograms: Option<Histograms>,
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
    /// Time allowed to open a connection, in seconds.
    pub connect_timeout_s: f64,
    /// When connections were opened: `eager` (up front, reopened at once when one ended) or
    /// `when-due` (open loop: each only when its request's slot was due, the connect counted in
    /// that request's latency). Absent from reports written before it existed: `eager`.
    #[serde(default)]
    pub connect: crate::config::Connect,
    /// Open loop: how late a send slot may be woken so that close slots share a wake-up (µs).
    pub timer_slack_us: Option<f64>,
    /// Expected status: a code (`200`) or a class (`2xx`).
    pub expect_status: String,
    /// Expected body, if checked (`equals "…"` or `matches /…/`).
    pub expect_body: Option<String>,
}

/// Request counts for the measuring window. They reconcile:
/// `sent + errors.connect = completed + total_errors + cut_off` (a failed connection attempt sends
/// nothing but is an error, and uses up a request of a count-bound run), and
/// `completed = succeeded + failed_status + failed_body`.
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
    /// Requests sent but still unanswered when the run ended (its deadline, the end of an open
    /// loop's drain, or a stop): neither responses nor errors.
    pub cut_off: u64,
    /// The first message seen for each error kind (`connect`, `timeout`, …) and validation
    /// failure (`status`, `body`), to diagnose them.
    pub samples: BTreeMap<String, String>,
}

/// Open loop: slots of the measuring window that had no response when the run ended. Each is a
/// censored sample: its latency is at least the time from its slot to the end, and it is recorded
/// so in `latency.from_schedule`, so that the tail is never flattered by what never came back.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Censored {
    /// Slots never sent (the connections were still behind at the end).
    pub unsent: u64,
    /// Slots sent and still in flight at the end (`requests.cut_off`).
    pub in_flight: u64,
    /// `unsent + in_flight`.
    pub total: u64,
}

/// One second of the measuring window. Requests are counted in the second they ended in
/// (response or error); an open loop's drain is folded into the last second.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriesPoint {
    /// Seconds from the start of measuring.
    pub start_s: f64,
    /// Length of this window in seconds (1, or less for the last one).
    pub duration_s: f64,
    /// Responses received (any status).
    pub responses: u64,
    /// Requests that got no response.
    pub errors: u64,
    /// Uncorrected latency of the responses of this second.
    pub from_send: Option<SeriesLatency>,
    /// Open loop: corrected latency (from the scheduled time, censored samples included).
    pub from_schedule: Option<SeriesLatency>,
}

/// Latency percentiles of one second, in microseconds.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriesLatency {
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

/// The run's latency histograms, each an HdrHistogram in the V2 compressed (DEFLATE) encoding,
/// base64: the format of HdrHistogram's `encodeIntoCompressedByteBuffer` and of its interval logs,
/// readable by every HdrHistogram implementation. Values are nanoseconds. Histograms of several
/// runs can be added together exactly.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Histograms {
    /// Always `hdrhistogram-v2-deflate-base64; unit=ns`.
    pub encoding: String,
    pub from_send: String,
    /// Open loop only.
    pub from_schedule: Option<String>,
    /// Open loop only.
    pub send_lag: Option<String>,
    /// Open loop only.
    pub connection_wait: Option<String>,
}

/// Open loop only: whether the engine sent at the rate it was asked for.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateOutcome {
    /// The requested rate.
    pub target_rps: f64,
    /// Responses received per second of the measuring window (equal to `throughput_rps`).
    pub achieved_rps: f64,
    /// Send slots scheduled in the measuring window.
    pub scheduled: u64,
    /// Scheduled slots never sent because the connections were still behind when the run ended
    /// (the same as `censored.unsent`).
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
    /// Open loop: from the scheduled send time to the end of the response (corrected), censored
    /// samples included.
    pub from_schedule: Option<LatencyStats>,
    /// Open loop: how late the engine itself sent, counted from the later of the scheduled time
    /// and the moment the connection was free (timer slack and wake-up latency).
    pub send_lag: Option<LatencyStats>,
    /// Open loop: how long scheduled requests waited for their connection to be free (behind a
    /// slow response or a reconnect). Large values mean too few connections for the server's
    /// latency, not a slow engine.
    pub connection_wait: Option<LatencyStats>,
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

/// Pass/fail limits for CI use, checked by [`Report::check`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Thresholds {
    /// Largest acceptable [`Report::error_rate`], 0–1.
    pub max_error_rate: Option<f64>,
    /// Largest acceptable [`Report::p99_us`], microseconds.
    pub max_p99_us: Option<f64>,
}

impl Report {
    /// The JSON schema of the report, as committed in `schemas/load-report.schema.json`.
    pub fn json_schema() -> schemars::Schema {
        schemars::schema_for!(Report)
    }

    /// The share of finished requests that failed: no response, or a response that failed
    /// validation, over responses plus errors (requests cut off at the end are not counted).
    pub fn error_rate(&self) -> f64 {
        let q = &self.requests;
        let failed = q.total_errors + q.failed_status + q.failed_body;
        let finished = q.completed + q.total_errors;
        if finished == 0 {
            0.0
        } else {
            failed as f64 / finished as f64
        }
    }

    /// The p99 latency that matters: corrected (from the schedule) in an open loop, from the
    /// send in a closed loop; `None` when nothing was answered.
    pub fn p99_us(&self) -> Option<f64> {
        self.latency
            .from_schedule
            .as_ref()
            .or(self.latency.from_send.as_ref())
            .and_then(|l| l.at(99.0))
    }

    /// Why this run fails, each as a sentence (empty: it passes): no correct response at all, or
    /// the thresholds it broke ([`Report::check`]).
    pub fn failures(&self, t: &Thresholds) -> Vec<String> {
        let q = &self.requests;
        let mut failures = Vec::new();
        if q.succeeded == 0 {
            failures.push(format!(
                "no correct response: {} sent, {} responses, {} errors (see the report)",
                q.sent, q.completed, q.total_errors
            ));
        }
        let broken = self.check(t);
        if !broken.is_empty() {
            failures.push(format!("threshold broken: {}", broken.join("; ")));
        }
        failures
    }

    /// The thresholds this run broke, each as a sentence (empty: all met).
    pub fn check(&self, t: &Thresholds) -> Vec<String> {
        let mut broken = Vec::new();
        if let Some(max) = t.max_error_rate {
            let rate = self.error_rate();
            if rate > max {
                broken.push(format!(
                    "error rate {:.3}% is above the {:.3}% allowed",
                    rate * 100.0,
                    max * 100.0
                ));
            }
        }
        if let Some(max) = t.max_p99_us {
            let which = if self.latency.from_schedule.is_some() {
                "p99 latency (from schedule)"
            } else {
                "p99 latency"
            };
            match self.p99_us() {
                Some(p99) if p99 > max => broken.push(format!(
                    "{which} {:.1} ms is above the {:.1} ms allowed",
                    p99 / 1e3,
                    max / 1e3
                )),
                None => broken.push(format!("{which} unknown: no response was received")),
                _ => {}
            }
        }
        broken
    }

    /// Decodes the histograms kept with [`crate::LoadConfig::keep_histograms`]:
    /// `(from_send, from_schedule, send_lag, connection_wait)`.
    #[allow(clippy::type_complexity)]
    pub fn decoded_histograms(
        &self,
    ) -> Option<
        Result<
            (
                Histogram<u64>,
                Option<Histogram<u64>>,
                Option<Histogram<u64>>,
                Option<Histogram<u64>>,
            ),
            crate::histogram::DecodeError,
        >,
    > {
        let h = self.histograms.as_ref()?;
        let opt = |s: &Option<String>| s.as_deref().map(crate::histogram::decode).transpose();
        Some((|| {
            Ok((
                crate::histogram::decode(&h.from_send)?,
                opt(&h.from_schedule)?,
                opt(&h.send_lag)?,
                opt(&h.connection_wait)?,
            ))
        })())
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
