//! [`Imported`]: what an external engine's run measured, what it could not, and where it came from
//! ([`Origin`]: tool, version, workers, target URL); and its one conversion into the store's read
//! model ([`Imported::to_run_summary`]), stored with `Store::import_run`.
//!
//! The conversion is the only code here that knows the store's shape. What goes in:
//! - the run's settings carry the origin (`origin.tool`, `origin.version`, `origin.workers`,
//!   `origin.target_url`, `origin.source`) and the engine's facts (`engine.offered_rps`,
//!   `engine.achieved_rps`, `engine.requests`, `engine.failed`, `engine.dropped_iterations`,
//!   `engine.latency`), so a reader can tell an imported run from a lab run;
//! - one cell (target, workload) with the engine's p50/p99 as `p50_ms`/`p99_ms`, metrics the
//!   registry marks **not** comparable across engines, and a warning saying what kind of latency
//!   it is;
//! - never a capacity, a saturation throughput, a corrected ladder or a server measure (CPU,
//!   memory): no load engine measured them here, so nothing can be priced from an import.

use std::collections::BTreeMap;

use store::{CellStatus, Machine, RunSummary, Spread};

/// Where an imported run came from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Origin {
    /// `locust` | `k6`.
    pub tool: String,
    /// The engine's version, when recorded or told.
    pub version: Option<String>,
    /// Worker processes (Locust) or machines (k6: one NDJSON file each), when known.
    pub workers: Option<u32>,
    pub target_url: Option<String>,
    /// The file(s) imported.
    pub source: String,
    /// The stackwise that wrote the script, when recorded.
    pub generator: Option<String>,
}

/// How the engine measured latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyKind {
    /// Locust's CSV: response times rounded into buckets, from the actual send.
    BucketedFromSend,
    /// k6's raw `http_req_duration` points: exact, from the actual send (connection set-up
    /// excluded); iterations start on the arrival schedule, those with no free VU are dropped
    /// and counted, not measured.
    ExactFromSend,
}

impl LatencyKind {
    pub fn id(self) -> &'static str {
        match self {
            LatencyKind::BucketedFromSend => "bucketed, from send, uncorrected",
            LatencyKind::ExactFromSend => "exact over raw points, from send, uncorrected",
        }
    }
}

/// Latency and counts of some requests.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Latency {
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub requests: u64,
    pub failures: u64,
}

/// One imported run of one workload against one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub origin: Origin,
    /// A workload id of the registry.
    pub workload: String,
    /// The target's name in the store (`--target`, else the URL's host:port).
    pub target: String,
    /// The rate the script offered (req/s), when recorded or told.
    pub offered_rps: Option<f64>,
    pub users: Option<u64>,
    pub slo_ms: Option<f64>,
    /// When the engine's run started and ended (RFC 3339 UTC), when recorded.
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Measuring window, seconds.
    pub duration_s: Option<f64>,
    pub achieved_rps: Option<f64>,
    pub requests: u64,
    /// Failed requests: errors, wrong statuses, wrong answers.
    pub failed: u64,
    /// Iterations the engine could not start on schedule (k6's `dropped_iterations`); `None`
    /// when the engine does not count them (Locust).
    pub dropped: Option<u64>,
    pub latency: Latency,
    pub latency_kind: LatencyKind,
    /// By request name.
    pub per_request: BTreeMap<String, Latency>,
    /// The engine's failure lines (`N× GET name: error`).
    pub failure_lines: Vec<String>,
    pub warnings: Vec<String>,
}

/// What no external engine measures: the lab's server-side figures.
pub const NOT_MEASURED: &str = "not measured by the engine: server CPU and memory (the lab samples the server's processes; a remote engine cannot), saturation throughput and capacity at the SLO (one fixed rate was offered)";

impl Imported {
    /// The run as the store's read model (for `Store::import_run`). `started_at`/`finished_at`:
    /// the engine's, when known, else `imported_at`.
    pub fn to_run_summary(&self, imported_at: &str, stackwise: &str) -> RunSummary {
        let o = &self.origin;
        let mut settings = BTreeMap::new();
        let mut set = |k: &str, v: Option<String>| {
            settings.insert(
                k.to_string(),
                v.unwrap_or_else(|| "not recorded".to_string()),
            );
        };
        set("origin.tool", Some(o.tool.clone()));
        set("origin.version", o.version.clone());
        set("origin.workers", o.workers.map(|w| w.to_string()));
        set("origin.target_url", o.target_url.clone());
        set("origin.source", Some(o.source.clone()));
        set("origin.generator", o.generator.clone());
        set("origin.imported_by", Some(stackwise.to_string()));
        set("workloads", Some(self.workload.clone()));
        set("engine.offered_rps", self.offered_rps.map(num));
        set("engine.achieved_rps", self.achieved_rps.map(num));
        set("engine.users", self.users.map(|u| u.to_string()));
        set("engine.duration_s", self.duration_s.map(num));
        set("engine.requests", Some(self.requests.to_string()));
        set("engine.failed", Some(self.failed.to_string()));
        set(
            "engine.dropped_iterations",
            Some(
                self.dropped
                    .map_or("not counted by this engine".into(), |d| d.to_string()),
            ),
        );
        set("engine.latency", Some(self.latency_kind.id().to_string()));
        if let Some(s) = self.slo_ms {
            set("slo_p99_ms", Some(num(s)));
        }

        let mut warnings = self.warnings.clone();
        warnings.push(NOT_MEASURED.to_string());
        if let Some(d) = self.dropped.filter(|d| *d > 0) {
            warnings.push(format!(
                "{d} iterations dropped: the engine had no free VU at their scheduled time; they were not sent, so the latency leaves them out"
            ));
        }
        for (name, l) in &self.per_request {
            if self.per_request.len() > 1 {
                warnings.push(format!(
                    "{name}: {} requests, {} failed, p50 {} ms, p99 {} ms",
                    l.requests,
                    l.failures,
                    l.p50_ms.map_or("—".into(), num),
                    l.p99_ms.map_or("—".into(), num)
                ));
            }
        }
        warnings.extend(self.failure_lines.iter().take(10).cloned());
        let status = if self.failed > 0 {
            CellStatus::Flagged(format!(
                "{} of {} requests failed (errors, wrong statuses or wrong answers)",
                self.failed, self.requests
            ))
        } else {
            CellStatus::Ok
        };
        let mut params = BTreeMap::new();
        if let Some(r) = self.offered_rps {
            params.insert("rate_rps".to_string(), num(r));
        }
        if let Some(u) = self.users {
            params.insert("users".to_string(), u.to_string());
        }
        params.insert("engine".to_string(), o.tool.clone());
        let note = format!(
            "{} {}: {} at {} req/s offered, {} achieved; latency {}",
            o.tool,
            o.version.as_deref().unwrap_or("(version not recorded)"),
            self.workload,
            self.offered_rps.map_or("(not recorded)".into(), num),
            self.achieved_rps.map_or("(not recorded)".into(), num),
            self.latency_kind.id()
        );
        let mut cell = shape::cell(
            &self.target,
            &self.workload,
            status,
            self.slo_ms,
            params,
            vec![note],
        );
        for (id, v) in [
            ("p50_ms", self.latency.p50_ms),
            ("p99_ms", self.latency.p99_ms),
        ] {
            if let Some(s) = v.and_then(|v| Spread::of(&[v])) {
                shape::set(&mut cell, id, s);
            }
        }
        let mut config = BTreeMap::new();
        if let Some(u) = &o.target_url {
            config.insert("url".to_string(), u.clone());
        }
        let target = shape::target(&self.target, config);
        let mut runtimes = BTreeMap::new();
        runtimes.insert(
            o.tool.clone(),
            o.version.clone().unwrap_or_else(|| "not recorded".into()),
        );
        RunSummary {
            run_id: 0,
            started_at: self
                .started_at
                .clone()
                .unwrap_or_else(|| imported_at.to_string()),
            finished_at: Some(
                self.finished_at
                    .clone()
                    .unwrap_or_else(|| imported_at.to_string()),
            ),
            machine: Machine {
                cpu_model: format!("not recorded (load generated by {})", o.tool),
                cores: 0,
                kernel: "not recorded".into(),
                os: "not recorded".into(),
                memory_mb: 0,
                runtimes,
                server_cpus: Vec::new(),
                client_cpus: Vec::new(),
            },
            settings,
            targets: vec![target],
            cells: vec![cell],
            warnings,
        }
    }
}

/// The metric ids an import stores in its cell: the engine's own latency, which the registry marks
/// not comparable across engines (a reader that honours the flag leaves it out of cross-engine
/// verdicts and prices).
pub const STORED_METRICS: &[&str] = &["p50_ms", "p99_ms"];

/// The one place that knows the shape of the store's cell and target (this branch: main's typed
/// fields). With the registry branch's store (figures as a metric map), `cell` builds
/// `CellSummary { metrics: BTreeMap::new(), .. }` (no typed figures, no `hold`), `set` is
/// `cell.set(id, Some(s))`, and `target` builds `TargetSummary { metrics: BTreeMap::new(), .. }`.
mod shape {
    use std::collections::BTreeMap;

    use store::{CellStatus, CellSummary, Spread, TargetSummary};

    pub fn cell(
        target: &str,
        workload: &str,
        status: CellStatus,
        slo_p99_ms: Option<f64>,
        params: BTreeMap<String, String>,
        warnings: Vec<String>,
    ) -> CellSummary {
        CellSummary {
            target: target.to_string(),
            workload: workload.to_string(),
            status,
            repeats: 1,
            metrics: BTreeMap::new(),
            ladder: Vec::new(),
            capacity_rps: None,
            slo_p99_ms,
            lower_bound: false,
            params,
            warnings,
        }
    }

    /// Sets one of [`super::STORED_METRICS`].
    pub fn set(cell: &mut CellSummary, id: &str, s: Spread) {
        assert!(
            super::STORED_METRICS.contains(&id),
            "an import stores only STORED_METRICS, not {id}"
        );
        cell.set(id, Some(s));
    }

    pub fn target(name: &str, config: BTreeMap<String, String>) -> TargetSummary {
        TargetSummary {
            name: name.to_string(),
            language: "not recorded".into(),
            framework: "not recorded".into(),
            versions: BTreeMap::new(),
            config,
            metrics: BTreeMap::new(),
            failure: None,
        }
    }
}

/// A number as the report shows it: up to 3 decimals, no trailing zeros.
pub fn num(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// The imported run's origin as read back from a stored run's settings, if it is an import.
pub fn origin_of(run: &RunSummary) -> Option<&str> {
    run.settings.get("origin.tool").map(String::as_str)
}

impl Imported {
    /// What `stackwise import` prints once the run is stored as run `id` in `store`: where, from
    /// which tool, its figures, its warnings.
    pub fn stored_text(&self, id: i64, store: &str) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let o = &self.origin;
        let _ = writeln!(
            s,
            "stored run {id} in {store}: {} {} ({} {}) against {} ({}), workload {}",
            o.tool,
            o.version.as_deref().unwrap_or("(version not recorded)"),
            o.workers
                .map_or("workers not recorded".into(), |w| w.to_string()),
            if o.tool == "k6" {
                "machine(s)"
            } else {
                "worker(s)"
            },
            self.target,
            o.target_url.as_deref().unwrap_or("URL not recorded"),
            self.workload
        );
        let _ = writeln!(
            s,
            "{} requests, {} failed, achieved {} req/s; p50 {} ms, p99 {} ms ({})",
            self.requests,
            self.failed,
            self.achieved_rps.map_or("(not recorded)".into(), num),
            self.latency.p50_ms.map_or("—".into(), num),
            self.latency.p99_ms.map_or("—".into(), num),
            self.latency_kind.id()
        );
        for w in &self.warnings {
            let _ = writeln!(s, "warning: {w}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Imported {
        Imported {
            origin: Origin {
                tool: "k6".into(),
                version: None,
                workers: Some(2),
                target_url: Some("http://127.0.0.1:1".into()),
                source: "a.json".into(),
                generator: None,
            },
            workload: "json".into(),
            target: "rust-axum".into(),
            offered_rps: Some(50.0),
            users: Some(10),
            slo_ms: Some(100.0),
            started_at: Some("2026-01-01T00:00:00Z".into()),
            finished_at: None,
            duration_s: Some(10.0),
            achieved_rps: Some(49.95),
            requests: 500,
            failed: 0,
            dropped: Some(3),
            latency: Latency {
                p50_ms: Some(1.25),
                p99_ms: Some(4.0),
                requests: 500,
                failures: 0,
            },
            latency_kind: LatencyKind::ExactFromSend,
            per_request: BTreeMap::new(),
            failure_lines: vec![],
            warnings: vec![],
        }
    }

    #[test]
    fn summary_carries_origin_and_no_price_or_server_figure() {
        let r = sample().to_run_summary("2026-01-01T00:00:00Z", "stackwise 0.1.0");
        assert_eq!(origin_of(&r), Some("k6"));
        assert_eq!(r.settings["origin.version"], "not recorded");
        assert_eq!(r.settings["origin.workers"], "2");
        assert_eq!(r.settings["engine.dropped_iterations"], "3");
        let c = &r.cells[0];
        assert_eq!(c.metric("p99_ms").unwrap().median, 4.0);
        assert!(c.capacity_rps.is_none() && c.metric("throughput_rps").is_none());
        assert!(c.metric("server_cpu_us_per_req").is_none() && c.ladder.is_empty());
        assert_eq!(c.status, CellStatus::Ok);
        assert!(r
            .warnings
            .iter()
            .any(|w| w.contains("3 iterations dropped")));
        assert!(r.warnings.iter().any(|w| w.contains("server CPU")));
        let mut bad = sample();
        bad.failed = 2;
        let r = bad.to_run_summary("t", "s");
        assert!(matches!(&r.cells[0].status, CellStatus::Flagged(m) if m.contains("2 of 500")));
    }

    #[test]
    fn an_import_stores_only_metrics_the_registry_says_are_not_comparable_across_engines() {
        // If the registry ever marks p50_ms/p99_ms comparable (meaning: the lab's corrected
        // latency), an engine's from-send latency must move to metrics of its own.
        let r = workloads::Registry::builtin();
        for id in STORED_METRICS {
            let m = r
                .metric(id)
                .unwrap_or_else(|| panic!("{id} is not registered"));
            assert!(!m.comparable_across_engines, "{id}");
        }
        // The price-setting metric is comparable and never stored by an import.
        assert!(r.metric("capacity_rps").unwrap().comparable_across_engines);
        assert!(!STORED_METRICS.contains(&"capacity_rps"));
    }

    #[test]
    fn stored_and_read_back() {
        let mut s = store::Store::open_in_memory().unwrap();
        let r = sample().to_run_summary("2026-01-01T00:00:00Z", "stackwise");
        let id = s.import_run(&r).unwrap();
        let back = s.run(id).unwrap();
        assert_eq!(back.settings["origin.tool"], "k6");
        assert_eq!(back.cells[0].metric("p50_ms").unwrap().median, 1.25);
        assert_eq!(back.cells[0].workload, "json");
    }
}
