//! [`Registry`]: the built-in workloads and metrics, extensible at run time; and the process-wide
//! registry every reader consults ([`registry`], extended with [`register`]).

use std::sync::{Arc, RwLock};

use crate::{Metric, Tier, Workload, BUILTIN_METRICS, BUILTIN_WORKLOADS};

/// Why a workload or metric cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryError {
    DuplicateWorkload(String),
    DuplicateMetric(String),
    /// The workload names a metric no one registered.
    UnknownMetric {
        workload: String,
        metric: String,
    },
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::DuplicateWorkload(id) => {
                write!(f, "a workload with id {id:?} is already registered")
            }
            RegistryError::DuplicateMetric(id) => {
                write!(f, "a metric with id {id:?} is already registered")
            }
            RegistryError::UnknownMetric { workload, metric } => write!(
                f,
                "workload {workload:?} names metric {metric:?}, which is not registered"
            ),
        }
    }
}

impl std::error::Error for RegistryError {}

/// Workloads and metrics, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Registry {
    workloads: Vec<Workload>,
    metrics: Vec<Metric>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::builtin()
    }
}

impl Registry {
    /// The built-in workloads and metrics.
    pub fn builtin() -> Registry {
        Registry {
            workloads: BUILTIN_WORKLOADS.to_vec(),
            metrics: BUILTIN_METRICS.to_vec(),
        }
    }

    /// Adds a workload with the new metrics it brings (metrics it shares with others are named
    /// in `workload.metrics` only). Ids must be new; every metric the workload names must exist
    /// afterwards.
    pub fn register(
        &mut self,
        workload: Workload,
        metrics: &[Metric],
    ) -> Result<(), RegistryError> {
        if self.workload(workload.id).is_some() {
            return Err(RegistryError::DuplicateWorkload(workload.id.into()));
        }
        for m in metrics {
            if self.metric(m.id).is_some() || metrics.iter().filter(|x| x.id == m.id).count() > 1 {
                return Err(RegistryError::DuplicateMetric(m.id.into()));
            }
        }
        for id in workload.metrics {
            if self.metric(id).is_none() && !metrics.iter().any(|m| m.id == *id) {
                return Err(RegistryError::UnknownMetric {
                    workload: workload.id.into(),
                    metric: id.to_string(),
                });
            }
        }
        self.metrics.extend_from_slice(metrics);
        self.workloads.push(workload);
        Ok(())
    }

    /// Every workload, in order (announced ones included).
    pub fn workloads(&self) -> &[Workload] {
        &self.workloads
    }

    /// Every metric, in order.
    pub fn metrics(&self) -> &[Metric] {
        &self.metrics
    }

    pub fn workload(&self, id: &str) -> Option<&Workload> {
        self.workloads.iter().find(|w| w.id == id)
    }

    pub fn metric(&self, id: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.id == id)
    }

    /// The workloads the lab measures as (target, workload) cells, in suite order.
    pub fn cell_workloads(&self) -> impl Iterator<Item = &Workload> {
        self.workloads
            .iter()
            .filter(|w| w.available() && !w.per_target())
    }

    /// The ids of `--quick`'s cells.
    pub fn quick_ids(&self) -> Vec<&'static str> {
        self.cell_workloads()
            .filter(|w| w.quick())
            .map(|w| w.id)
            .collect()
    }

    /// The ids of the full (default) suite's cells: every available workload but those run only
    /// on request.
    pub fn full_ids(&self) -> Vec<&'static str> {
        self.cell_workloads()
            .filter(|w| w.in_full_suite())
            .map(|w| w.id)
            .collect()
    }

    /// The ids of the available workloads run only on request (`--workloads ID`, `--all`).
    pub fn on_request_ids(&self) -> Vec<&'static str> {
        self.cell_workloads()
            .filter(|w| w.tier == Tier::OnRequest)
            .map(|w| w.id)
            .collect()
    }

    /// Every id, comma-separated (error messages).
    pub fn known_ids(&self) -> String {
        self.workloads
            .iter()
            .map(|w| w.id)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The position of a metric in report order (unknown metrics last).
    pub fn metric_rank(&self, id: &str) -> usize {
        self.metrics
            .iter()
            .position(|m| m.id == id)
            .unwrap_or(usize::MAX)
    }
}

static GLOBAL: RwLock<Option<Arc<Registry>>> = RwLock::new(None);

/// The process-wide registry: the built-in one plus whatever was [`register`]ed.
pub fn registry() -> Arc<Registry> {
    if let Some(r) = GLOBAL.read().expect("registry lock").as_ref() {
        return r.clone();
    }
    let mut g = GLOBAL.write().expect("registry lock");
    g.get_or_insert_with(|| Arc::new(Registry::builtin()))
        .clone()
}

/// Adds a workload (and its new metrics) to the process-wide registry: every crate that reads
/// [`registry`] afterwards (lab plans, store summaries, claims, reports) sees it.
pub fn register(workload: Workload, metrics: &[Metric]) -> Result<(), RegistryError> {
    let mut g = GLOBAL.write().expect("registry lock");
    let mut r = g.as_deref().cloned().unwrap_or_else(Registry::builtin);
    r.register(workload, metrics)?;
    *g = Some(Arc::new(r));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Availability, Better, Kind, Over};

    #[test]
    fn builtin_ids_are_unique_and_every_named_metric_exists() {
        let r = Registry::builtin();
        for (i, w) in r.workloads().iter().enumerate() {
            assert!(r.workloads()[..i].iter().all(|x| x.id != w.id), "{}", w.id);
            for m in w.metrics {
                assert!(r.metric(m).is_some(), "{} names {m}", w.id);
            }
            for q in w.requests {
                assert!(q.path.starts_with('/'), "{} {}", w.id, q.name);
            }
            // The figure whose spread decides extra repeats is one the workload carries.
            if let Some(m) = w.primary_metric() {
                assert!(w.metrics.contains(&m), "{}: primary metric {m}", w.id);
            }
            assert!(w.extra_repeats() <= crate::trust::EXTRA_REPEATS_PER_CELL);
        }
        let r2 = Registry::builtin();
        let by = |id: &str| r2.workloads().iter().find(|w| w.id == id).unwrap();
        assert_eq!(by("json").primary_metric(), Some("throughput_rps"));
        assert_eq!(by("io-slo").primary_metric(), Some("capacity_rps"));
        assert_eq!(by("mixed-time").primary_metric(), Some("p99_ms"));
        assert_eq!(by("ws-hold").extra_repeats(), 0);
        assert_eq!(by("mixed").extra_repeats(), 0);
        assert_eq!(
            by("json").extra_repeats(),
            crate::trust::EXTRA_REPEATS_PER_CELL
        );
        for (i, m) in r.metrics().iter().enumerate() {
            assert!(r.metrics()[..i].iter().all(|x| x.id != m.id), "{}", m.id);
        }
        assert_eq!(r.quick_ids(), vec!["json", "io", "cpu", "io-slo"]);
        assert_eq!(
            r.workload("stream").unwrap().availability,
            Availability::Future
        );
        for id in ["db", "queries", "fortunes", "updates", "crud"] {
            let w = r.workload(id).unwrap();
            assert!(w.available(), "{id}");
            assert_eq!(w.services, &[crate::ServiceKind::Database], "{id}");
            assert!(w.metrics.contains(&"db_cpu_us_per_req"), "{id}");
            assert!(
                !w.quick(),
                "{id}: the database workloads are not in --quick"
            );
        }
        assert!(r.workload("cold-start").unwrap().per_target());
    }

    /// The tiers (docs/workloads.md "Suites and their budgets"): `--quick` ⊂ full; what nothing
    /// reads is on request; the repeat caps are the registry's `max_repeats` parameters.
    #[test]
    fn tiers_and_repeat_caps() {
        let r = Registry::builtin();
        let full = r.full_ids();
        for id in r.quick_ids() {
            assert!(
                full.contains(&id),
                "{id} is in --quick but not in the full suite"
            );
        }
        let on_request = r.on_request_ids();
        assert_eq!(
            on_request,
            vec![
                "plaintext",
                "json-slo",
                "db",
                "queries",
                "fortunes",
                "updates"
            ]
        );
        for id in &on_request {
            assert!(!full.contains(id), "{id}");
        }
        assert_eq!(
            full.len() + on_request.len(),
            r.cell_workloads().count(),
            "every available cell workload has one tier"
        );
        assert!(full.contains(&"crud"), "the CRUD claims read crud");
        let io_slo = r.workload("io-slo").unwrap();
        assert_eq!(
            io_slo.repeats_for(3, 1),
            3,
            "three searches in the full suite"
        );
        assert_eq!(io_slo.repeats_for(1, 1), 1, "one with --quick");
        assert_eq!(io_slo.repeats_for(10, 1), 3, "capped");
        assert_eq!(r.workload("cpu-slo").unwrap().repeats_for(3, 1), 1);
        assert_eq!(r.workload("ws-hold").unwrap().repeats_for(3, 3), 2);
        assert_eq!(r.workload("mixed").unwrap().repeats_for(3, 3), 1);
        assert_eq!(r.workload("json").unwrap().repeats_for(3, 3), 3);
        assert_eq!(r.workload("json").unwrap().repeats_for(0, 0), 1);
    }

    #[test]
    fn every_request_template_fills_from_its_workload_params() {
        for w in Registry::builtin().workloads() {
            for q in w.requests {
                let values = |n: &str| {
                    w.param(n)
                        .map(str::to_string)
                        .or_else(|| q.computed.contains(&n).then(|| "X".to_string()))
                };
                crate::fill(q.path, &values).unwrap_or_else(|e| panic!("{}: {e}", w.id));
                if let Some(crate::BodyCheck::Regex(t) | crate::BodyCheck::Exact(t)) = q.body_check
                {
                    crate::fill(t, &values).unwrap_or_else(|e| panic!("{}: {e}", w.id));
                }
            }
        }
    }

    #[test]
    fn registering_checks_ids_and_metrics() {
        const M: Metric = Metric {
            id: "widgets_per_s",
            label: "widgets/s",
            unit: "rps",
            better: Better::Higher,
            comparable_across_engines: true,
            over: Over::CleanRepeats,
            description: "widgets",
        };
        let mut w = BUILTIN_WORKLOADS[0];
        w.id = "widgets";
        w.kind = Kind::Saturation;
        w.metrics = &["widgets_per_s", "p99_ms"];
        let mut r = Registry::builtin();
        let mut bad = w;
        bad.metrics = &["nope"];
        assert!(matches!(
            r.register(bad, &[]),
            Err(RegistryError::UnknownMetric { .. })
        ));
        r.register(w, &[M]).unwrap();
        assert_eq!(r.workload("widgets").unwrap().metrics.len(), 2);
        assert!(matches!(
            r.register(w, &[]),
            Err(RegistryError::DuplicateWorkload(_))
        ));
        let mut w2 = w;
        w2.id = "widgets-2";
        assert!(matches!(
            r.register(w2, &[M]),
            Err(RegistryError::DuplicateMetric(_))
        ));
    }

    /// The database workloads' answers: the patterns accept the contract's shapes (keys in either
    /// order, whitespace) and refuse a wrong count, an unescaped fortune or a wrong status body.
    #[test]
    fn database_requests_check_the_contracts_answers() {
        use crate::BodyCheck;
        let r = Registry::builtin();
        let check = |id: &str, name: &str, body: &str| -> bool {
            let w = r.workload(id).unwrap();
            let q = w.request(name).unwrap();
            let values = |n: &str| w.param(n).map(str::to_string);
            match q.body_check.unwrap() {
                BodyCheck::Exact(t) => crate::fill(t, &values).unwrap() == body,
                BodyCheck::Regex(t) => regex::Regex::new(&crate::fill(t, &values).unwrap())
                    .unwrap()
                    .is_match(body),
            }
        };
        assert!(check("db", "db", r#"{"id":3,"randomNumber":4077}"#));
        assert!(check("db", "db", r#" { "randomNumber" : 1, "id" : 9 } "#));
        assert!(!check("db", "db", r#"[{"id":3,"randomNumber":4077}]"#));
        let rows = |n: usize| {
            let v: Vec<String> = (1..=n)
                .map(|i| format!(r#"{{"id":{i},"randomNumber":{}}}"#, i * 7))
                .collect();
            format!("[{}]", v.join(","))
        };
        // The pattern's count is the `q` parameter.
        let q: usize = r
            .workload("queries")
            .unwrap()
            .param("q")
            .unwrap()
            .parse()
            .unwrap();
        assert!(check("queries", "queries", &rows(q)));
        assert!(!check("queries", "queries", &rows(q - 1)));
        assert!(!check("queries", "queries", &rows(q + 1)));
        assert!(check("updates", "updates", &rows(q)));
        let page = "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>\
            <tr><td>11</td><td>&lt;script&gt;alert(&quot;This should not be displayed in a browser alert box.&quot;);&lt;/script&gt;</td></tr>\
            <tr><td>0</td><td>Additional fortune added at request time.</td></tr>\
            <tr><td>12</td><td>フレームワークのベンチマーク</td></tr></table></body></html>";
        assert!(check("fortunes", "fortunes", page));
        assert!(!check(
            "fortunes",
            "fortunes",
            &page.replace("&lt;script&gt;", "<script>")
        ));
        let item = r#"{"id":5,"name":"x","price_cents":12}"#;
        assert!(check("crud", "read", item));
        assert!(check(
            "crud",
            "list",
            &format!("[{}]", [item; 10].join(","))
        ));
        assert!(!check(
            "crud",
            "list",
            &format!("[{}]", [item; 9].join(","))
        ));
        assert!(check("crud", "delete", ""));
        let crud = r.workload("crud").unwrap();
        assert_eq!(crud.requests.iter().map(|q| q.weight).sum::<u32>(), 100);
    }

    /// A variant of a database workload is one entry (plus measuring code where a new client or
    /// kind is needed): declared here as data to prove the registry can say it.
    #[test]
    fn the_next_workloads_are_one_entry_each() {
        use crate::{BodyCheck, Method, Param, Request, ServiceKind};
        const JSON: Option<&str> = Some("application/json");
        const fn op(
            name: &'static str,
            method: Method,
            path: &'static str,
            body: Option<&'static str>,
            status: u16,
            weight: u32,
        ) -> Request {
            Request {
                name,
                method,
                path,
                body,
                headers: &[("Content-Type", "application/json")],
                expect_status: status,
                content_type: JSON,
                body_check: Some(BodyCheck::Regex(r#"^\s*\{{.*"id"\s*:\s*\d+.*\}}\s*$"#)),
                computed: &[],
                weight,
            }
        }
        const fn lat(id: &'static str, label: &'static str) -> Metric {
            Metric {
                id,
                label,
                unit: "ms",
                better: Better::Lower,
                comparable_across_engines: true,
                over: Over::Rung,
                description: "corrected p99 of one operation of the mix at the rung's rate",
            }
        }
        let mut r = Registry::builtin();
        // PostgreSQL: a saturation workload on a new endpoint with a database service.
        let mut db = *r.workload("json").unwrap();
        db.id = "queries-50";
        db.description = "GET /queries?q=50, closed loop: 50 PostgreSQL queries per request";
        db.endpoints = &["queries"];
        db.services = &[ServiceKind::Database];
        db.requests = &[Request {
            name: "queries",
            path: "/queries?n={n}",
            body_check: Some(BodyCheck::Regex(r"^\s*\[.*\]\s*$")),
            ..crate::builtin::JSON_REQ
        }];
        db.params = &[
            Param {
                name: "n",
                value: "20",
                why: "the TechEmpower multiple-queries count",
            },
            Param {
                name: "connections",
                value: "64",
                why: "as json",
            },
        ];
        r.register(db, &[]).unwrap();
        // crud: an open-loop capacity search over a weighted mix with per-operation latency.
        const CRUD: Workload = Workload {
            id: "crud-write-heavy",
            kind: Kind::Capacity,
            availability: Availability::Available,
            description:
                "GET/POST/PUT/DELETE /items mix, open-loop ladder: capacity at the p99 SLO",
            endpoints: &["items"],
            services: &[ServiceKind::Database],
            requests: &[
                op("read", Method::Get, "/items/{id}", None, 200, 70),
                op(
                    "create",
                    Method::Post,
                    "/items",
                    Some(r#"{{"name":"w{seq}"}}"#),
                    201,
                    10,
                ),
                op(
                    "update",
                    Method::Put,
                    "/items/{id}",
                    Some(r#"{{"name":"v{seq}"}}"#),
                    200,
                    15,
                ),
                op("delete", Method::Delete, "/items/{id}", None, 200, 5),
            ],
            params: &[],
            metrics: &[
                "capacity_rps",
                "offered_rps",
                "rung_p99_ms",
                "wh_read_p99_ms",
                "wh_create_p99_ms",
            ],
            tier: Tier::OnRequest,
        };
        r.register(
            CRUD,
            &[
                lat("wh_read_p99_ms", "read p99 ms"),
                lat("wh_create_p99_ms", "create p99 ms"),
            ],
        )
        .unwrap();
        let w = r.workload("crud-write-heavy").unwrap();
        assert_eq!(w.requests.iter().map(|q| q.weight).sum::<u32>(), 100);
        assert_eq!(w.request("create").unwrap().method, Method::Post);
        assert!(
            r.metric("wh_read_p99_ms")
                .unwrap()
                .comparable_across_engines
        );
        assert_eq!(
            r.workload("queries-50").unwrap().services,
            &[ServiceKind::Database]
        );
        // A request with its check is enough for an exporter: path and body fill.
        let v = |k: &str| (k == "id" || k == "seq").then(|| "7".to_string());
        let q = w.request("update").unwrap();
        assert_eq!(crate::fill(q.path, &v).unwrap(), "/items/7");
        assert_eq!(
            crate::fill(q.body.unwrap(), &v).unwrap(),
            r#"{"name":"v7"}"#
        );
    }
}
