//! Saturation workloads (`plaintext`, `json`, `io`, `cpu`, `hash`): a closed loop at a fixed
//! connection count; the figure is responses per second, with latency from send, server CPU per
//! response and PSS over the measuring window.

use std::collections::BTreeMap;
use std::time::Duration;

use super::http::{self, Endpoint, LoadSpec};
use super::{CellContext, Kind, MeasureError, Measured, ServiceKind, Timing, Workload};
use crate::stats;

/// `/io?ms=` of every io workload: long enough that the server spends its time waiting on the
/// network, short enough that a few hundred connections keep any server busy.
pub const IO_MS: u64 = 10;
/// `/cpu?n=` of the cpu workloads: ~9 ms of Python, ~0.1 ms of JavaScript per request, so the
/// loop, not the HTTP stack, dominates in every language.
pub const CPU_N: u64 = 100_000;
/// `/hash?n=` of the hash workloads: 500 SHA-256 digests of 1 KiB (~2–3 ms of OpenSSL), so the
/// native work dominates the HTTP stack.
pub const HASH_N: u64 = 500;

/// Closed-loop connections per workload: enough requests in flight to keep one server CPU busy
/// (for `/io`: ~throughput × 10 ms), few enough that the engine stays a small share of its CPU.
pub fn connections(endpoint: &str) -> usize {
    match endpoint {
        "plaintext" | "json" => 64,
        "io" => 128,
        _ => 16, // cpu, hash: each request is long; 16 keep a worker pool and a backlog busy
    }
}

/// The endpoint (with parameters) a workload id exercises.
pub fn endpoint(name: &str) -> Endpoint {
    match name {
        "plaintext" => Endpoint::plaintext(),
        "json" => Endpoint::json(),
        "io" => Endpoint::io(IO_MS),
        "cpu" => Endpoint::cpu(CPU_N),
        "hash" => Endpoint::hash(HASH_N),
        other => panic!("no endpoint {other}"),
    }
}

/// Endpoint parameters stored with a cell.
pub fn endpoint_params(name: &str) -> BTreeMap<String, String> {
    let mut p = BTreeMap::from([("path".to_string(), endpoint(name).path)]);
    match name {
        "io" => p.insert("ms".into(), IO_MS.to_string()),
        "cpu" => p.insert("n".into(), CPU_N.to_string()),
        "hash" => p.insert("n".into(), HASH_N.to_string()),
        _ => None,
    };
    p
}

pub struct Saturation {
    pub endpoint: &'static str,
}

impl Saturation {
    pub fn all() -> Vec<Saturation> {
        ["plaintext", "json", "io", "cpu", "hash"]
            .into_iter()
            .map(|endpoint| Saturation { endpoint })
            .collect()
    }
}

impl Workload for Saturation {
    fn id(&self) -> &'static str {
        self.endpoint
    }

    fn kind(&self) -> Kind {
        Kind::Saturation
    }

    fn describe(&self) -> String {
        format!(
            "closed loop, {} connections on GET {} → req/s",
            connections(self.endpoint),
            endpoint(self.endpoint).path
        )
    }

    fn endpoints(&self) -> &'static [&'static str] {
        match self.endpoint {
            "plaintext" => &["plaintext"],
            "json" => &["json"],
            "io" => &["io"],
            "cpu" => &["cpu"],
            _ => &["hash"],
        }
    }

    fn services(&self) -> &'static [ServiceKind] {
        if self.endpoint == "io" {
            &[ServiceKind::Upstream]
        } else {
            &[]
        }
    }

    fn params(&self, t: &Timing) -> BTreeMap<String, String> {
        let mut p = endpoint_params(self.endpoint);
        p.insert("connections".into(), connections(self.endpoint).to_string());
        p.insert("mode".into(), "closed".into());
        p.insert("duration_s".into(), t.duration.as_secs_f64().to_string());
        p.insert("warmup_s".into(), t.warmup.as_secs_f64().to_string());
        p
    }

    fn estimate(&self, t: &Timing) -> Duration {
        t.warmup + t.duration + Duration::from_millis(200)
    }

    fn measure(&self, cx: &mut CellContext<'_>) -> Result<Measured, MeasureError> {
        let spec = LoadSpec {
            endpoint: endpoint(self.endpoint),
            connections: connections(self.endpoint),
            rate: None,
            duration: cx.timing.duration,
            warmup: cx.timing.warmup,
        };
        let d = http::drive(cx, &[spec], self.endpoint)?;
        let report = &d.reports[0];
        Ok(measured_from(report, &d, report.throughput_rps, false))
    }
}

/// A repeat from one report and what happened around it in the same window (server usage,
/// client-side load). `open_loop`: latency is the corrected one (from the scheduled send).
pub fn measured_from(
    report: &loadgen::Report,
    d: &http::Driven,
    throughput_rps: f64,
    open_loop: bool,
) -> Measured {
    let usage = &d.usage;
    let lat = if open_loop {
        report.latency.from_schedule.as_ref()
    } else {
        report.latency.from_send.as_ref()
    };
    let completed = report.requests.completed;
    let errors = http::bad_responses(report);
    let client = stats::ClientLoad {
        engine: Some(report.engine_cpu.utilisation),
        upstream: d.upstream_busy(),
        cpus: d.client_cpus_busy,
    };
    let mut warnings = Vec::new();
    if errors > 0 {
        warnings.push(http::describe_bad(report));
    }
    if let Some(w) = stats::lower_bound_warning(&client) {
        warnings.push(w);
    }
    if let Some(w) = d.server_foreign.and_then(stats::foreign_warning) {
        warnings.push(w);
    }
    if let Some(w) = usage.steal_pct.and_then(stats::steal_warning) {
        warnings.push(w);
    }
    let mut samples = usage.samples.clone();
    if let Some(obj) = samples.as_object_mut() {
        obj.insert("client_cpus_busy".into(), d.client_cpus_busy.into());
        obj.insert("server_cpus_foreign".into(), d.server_foreign.into());
    }
    Measured {
        repeat: store::RepeatRecord {
            clean: errors == 0,
            metrics: Default::default(),
            engine_busy: client.engine,
            upstream_busy: client.upstream,
            steal_pct: usage.steal_pct,
            capacity_rps: None,
            report_json: serde_json::to_string(report).expect("a report serialises"),
            samples_json: samples.to_string(),
        }
        .with(&[
            ("throughput_rps", Some(throughput_rps)),
            ("p50_ms", http::ms_at(lat, 50.0)),
            ("p99_ms", http::ms_at(lat, 99.0)),
            (
                "server_cpu_us_per_req",
                (completed > 0).then(|| usage.cpu_s * 1e6 / completed as f64),
            ),
            ("pss_mean_mb", usage.pss_mean_mb),
            ("pss_peak_mb", usage.pss_peak_mb),
        ]),
        errors,
        ladder: vec![],
        capacity_rps: None,
        lower_bound: stats::is_lower_bound(&client),
        warnings,
    }
}
