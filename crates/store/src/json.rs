//! The JSON form of the read model's figure maps. A cell's and a target's figures are maps by
//! metric id ([`CellSummary::metrics`], [`TargetSummary::metrics`]); their JSON keeps the layout of
//! the typed fields they replaced (the JSON report's `report_version` 1, the fixtures and exports
//! written before), so the built-in metrics sit where they always did:
//!
//! - a cell: [`CELL_FIELDS`] at the top level (`null` when not measured), the held-connection
//!   metrics [`HOLD_FIELDS`] in a `hold` object (present when any is), every other metric in a
//!   `metrics` object (present when any is);
//! - a target: `cold_start_ms` as a spread, `idle_pss_mb` and the install footprint as single
//!   numbers, every other per-target metric in a `metrics` object.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::{CellStatus, CellSummary, LadderPoint, Spread, TargetSummary};

/// Metric ids that are top-level fields of a cell (the layout of report_version 1).
pub const CELL_FIELDS: [&str; 6] = [
    "throughput_rps",
    "p50_ms",
    "p99_ms",
    "server_cpu_us_per_req",
    "pss_mean_mb",
    "pss_peak_mb",
];
/// Metric ids in a cell's `hold` object.
pub const HOLD_FIELDS: [&str; 5] = [
    "connections_attempted",
    "connections_held",
    "pss_idle_mb",
    "mb_per_1k_conns",
    "echo_max_ms",
];

#[derive(Serialize, Deserialize)]
struct HoldJson {
    #[serde(default)]
    connections_attempted: Option<Spread>,
    #[serde(default)]
    connections_held: Option<Spread>,
    #[serde(default)]
    pss_idle_mb: Option<Spread>,
    #[serde(default)]
    mb_per_1k_conns: Option<Spread>,
    #[serde(default)]
    echo_max_ms: Option<Spread>,
}

#[derive(Serialize, Deserialize)]
struct CellJson {
    target: String,
    workload: String,
    status: CellStatus,
    repeats: u32,
    #[serde(default)]
    throughput_rps: Option<Spread>,
    #[serde(default)]
    p50_ms: Option<Spread>,
    #[serde(default)]
    p99_ms: Option<Spread>,
    #[serde(default)]
    server_cpu_us_per_req: Option<Spread>,
    #[serde(default)]
    pss_mean_mb: Option<Spread>,
    #[serde(default)]
    pss_peak_mb: Option<Spread>,
    ladder: Vec<LadderPoint>,
    capacity_rps: Option<f64>,
    slo_p99_ms: Option<f64>,
    lower_bound: bool,
    params: BTreeMap<String, String>,
    warnings: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hold: Option<HoldJson>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    metrics: BTreeMap<String, Spread>,
}

impl Serialize for CellSummary {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let g = |id: &str| self.metrics.get(id).cloned();
        let hold = HOLD_FIELDS
            .iter()
            .any(|id| self.metrics.contains_key(*id))
            .then(|| HoldJson {
                connections_attempted: g("connections_attempted"),
                connections_held: g("connections_held"),
                pss_idle_mb: g("pss_idle_mb"),
                mb_per_1k_conns: g("mb_per_1k_conns"),
                echo_max_ms: g("echo_max_ms"),
            });
        CellJson {
            target: self.target.clone(),
            workload: self.workload.clone(),
            status: self.status.clone(),
            repeats: self.repeats,
            throughput_rps: g("throughput_rps"),
            p50_ms: g("p50_ms"),
            p99_ms: g("p99_ms"),
            server_cpu_us_per_req: g("server_cpu_us_per_req"),
            pss_mean_mb: g("pss_mean_mb"),
            pss_peak_mb: g("pss_peak_mb"),
            ladder: self.ladder.clone(),
            capacity_rps: self.capacity_rps,
            slo_p99_ms: self.slo_p99_ms,
            lower_bound: self.lower_bound,
            params: self.params.clone(),
            warnings: self.warnings.clone(),
            hold,
            metrics: self
                .metrics
                .iter()
                .filter(|(k, _)| {
                    !CELL_FIELDS.contains(&k.as_str()) && !HOLD_FIELDS.contains(&k.as_str())
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for CellSummary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let j = CellJson::deserialize(d)?;
        let mut metrics = j.metrics;
        let mut put = |id: &str, v: Option<Spread>| {
            if let Some(v) = v {
                metrics.insert(id.to_string(), v);
            }
        };
        put("throughput_rps", j.throughput_rps);
        put("p50_ms", j.p50_ms);
        put("p99_ms", j.p99_ms);
        put("server_cpu_us_per_req", j.server_cpu_us_per_req);
        put("pss_mean_mb", j.pss_mean_mb);
        put("pss_peak_mb", j.pss_peak_mb);
        if let Some(h) = j.hold {
            put("connections_attempted", h.connections_attempted);
            put("connections_held", h.connections_held);
            put("pss_idle_mb", h.pss_idle_mb);
            put("mb_per_1k_conns", h.mb_per_1k_conns);
            put("echo_max_ms", h.echo_max_ms);
        }
        Ok(CellSummary {
            target: j.target,
            workload: j.workload,
            status: j.status,
            repeats: j.repeats,
            metrics,
            ladder: j.ladder,
            capacity_rps: j.capacity_rps,
            slo_p99_ms: j.slo_p99_ms,
            lower_bound: j.lower_bound,
            params: j.params,
            warnings: j.warnings,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct TargetJson {
    name: String,
    language: String,
    framework: String,
    versions: BTreeMap<String, String>,
    config: BTreeMap<String, String>,
    #[serde(default)]
    cold_start_ms: Option<Spread>,
    #[serde(default)]
    idle_pss_mb: Option<f64>,
    #[serde(default)]
    install_bytes: Option<u64>,
    #[serde(default)]
    install_packages: Option<u64>,
    #[serde(default)]
    failure: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    metrics: BTreeMap<String, Spread>,
}

/// Per-target metric ids with a field of their own in a target's JSON.
pub const TARGET_FIELDS: [&str; 4] = [
    "cold_start_ms",
    "idle_pss_mb",
    "install_bytes",
    "install_packages",
];

impl Serialize for TargetSummary {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        TargetJson {
            name: self.name.clone(),
            language: self.language.clone(),
            framework: self.framework.clone(),
            versions: self.versions.clone(),
            config: self.config.clone(),
            cold_start_ms: self.metrics.get("cold_start_ms").cloned(),
            idle_pss_mb: self.value("idle_pss_mb"),
            install_bytes: self.value("install_bytes").map(|v| v as u64),
            install_packages: self.value("install_packages").map(|v| v as u64),
            failure: self.failure.clone(),
            metrics: self
                .metrics
                .iter()
                .filter(|(k, _)| !TARGET_FIELDS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for TargetSummary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let j = TargetJson::deserialize(d)?;
        let mut metrics = j.metrics;
        let one = |v: Option<f64>| v.and_then(|v| Spread::of(&[v]));
        for (id, v) in [
            ("cold_start_ms", j.cold_start_ms),
            ("idle_pss_mb", one(j.idle_pss_mb)),
            ("install_bytes", one(j.install_bytes.map(|v| v as f64))),
            (
                "install_packages",
                one(j.install_packages.map(|v| v as f64)),
            ),
        ] {
            if let Some(v) = v {
                metrics.insert(id.to_string(), v);
            }
        }
        Ok(TargetSummary {
            name: j.name,
            language: j.language,
            framework: j.framework,
            versions: j.versions,
            config: j.config,
            metrics,
            failure: j.failure,
        })
    }
}
