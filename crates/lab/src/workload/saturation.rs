//! Saturation workloads (the registry's entries of kind `Saturation`: `plaintext`, `json`, `io`,
//! `cpu`, `hash`): a closed loop at a fixed connection count; the figure is responses per second, with latency from send, server CPU per
//! response and PSS over the measuring window.

use std::collections::BTreeMap;
use std::time::Duration;

use super::http::{self, Endpoint, LoadSpec};
use super::{CellContext, Kind, MeasureError, Measured, ServiceKind, Timing, Workload};
use crate::stats;

/// A numeric parameter of a registry workload (the registry's tests check they parse).
pub fn num_param<T: std::str::FromStr>(w: &workloads::Workload, name: &str) -> T {
    w.param(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("workload {}: no numeric parameter {name}", w.id))
}

/// Closed-loop connections of a saturation workload (its `connections` parameter: enough
/// requests in flight to keep one server CPU busy, few enough that the engine stays a small share
/// of its CPU; the registry says why for each).
pub fn connections(w: &workloads::Workload) -> usize {
    num_param(w, "connections")
}

/// The request (endpoint with parameters and answer) a workload sends: its first registry request.
pub fn endpoint(w: &workloads::Workload) -> Endpoint {
    Endpoint::of(w, &w.requests[0])
}

/// Endpoint parameters stored with a cell: the path and the endpoint's own parameters.
pub fn endpoint_params(w: &workloads::Workload) -> BTreeMap<String, String> {
    let mut p = BTreeMap::from([("path".to_string(), endpoint(w).path)]);
    for k in ["ms", "n"] {
        if let Some(v) = w.param(k) {
            p.insert(k.into(), v.into());
        }
    }
    p
}

/// A closed-loop workload of the registry: any entry of kind `Saturation` with one request.
pub struct Saturation {
    pub spec: workloads::Workload,
}

impl Workload for Saturation {
    fn id(&self) -> &'static str {
        self.spec.id
    }

    fn kind(&self) -> Kind {
        Kind::Saturation
    }

    fn describe(&self) -> String {
        format!(
            "closed loop, {} connections on GET {} → req/s",
            connections(&self.spec),
            endpoint(&self.spec).path
        )
    }

    fn endpoints(&self) -> &'static [&'static str] {
        self.spec.endpoints
    }

    fn services(&self) -> &'static [ServiceKind] {
        self.spec.services
    }

    fn params(&self, t: &Timing) -> BTreeMap<String, String> {
        let mut p = endpoint_params(&self.spec);
        p.insert("connections".into(), connections(&self.spec).to_string());
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
            endpoint: endpoint(&self.spec),
            connections: connections(&self.spec),
            rate: None,
            duration: cx.timing.duration,
            warmup: cx.timing.warmup,
        };
        let d = http::drive(cx, &[spec], self.spec.endpoints[0])?;
        let report = &d.reports[0];
        let mut m = measured_from(report, &d, report.throughput_rps, false);
        if self.spec.metrics.contains(&DB_CPU) {
            set_db_cpu(cx, &mut m, report.requests.completed);
        }
        Ok(m)
    }
}

/// The database's CPU per response (the registry's metric id).
pub const DB_CPU: &str = "db_cpu_us_per_req";

/// Sets the database's CPU per response over the window just driven (the lab's own cluster,
/// whose process tree is sampled; not known for the user's `--database-url` server), and says
/// when the figure is a lower bound because the load side (engine, upstream, database CPUs) was
/// saturated: "database-bound on this machine".
pub fn set_db_cpu(cx: &CellContext<'_>, m: &mut Measured, completed: u64) {
    let cpu = cx
        .services
        .get(&ServiceKind::Database)
        .and_then(|s| s.window_cpu_s());
    m.repeat.set(
        DB_CPU,
        cpu.filter(|_| completed > 0)
            .map(|s| s * 1e6 / completed as f64),
    );
    if m.lower_bound {
        m.warnings.push(DATABASE_BOUND.to_string());
    }
}

/// The warning a database workload's lower-bound figure carries (the claims attach the reason
/// code `database_bound` to a verdict that rests on one).
pub const DATABASE_BOUND: &str = "database-bound on this machine: the load side (engine, database) was saturated, so the figure is a lower bound of the server's";

#[cfg(test)]
#[test]
fn the_database_bound_warning_carries_the_registry_note() {
    assert!(DATABASE_BOUND.starts_with(workloads::trust::DATABASE_BOUND_NOTE));
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
        warnings.push(crate::culprits::warning_with_breakdown(w, &usage.samples));
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
