//! `crud` (the registry's capacity search over the `/items` mix): open-loop rungs of the
//! documented mix ([`crate::crud`]: five engines at once, one per operation, each at its share
//! of the rung's rate), the rates chosen by [`crate::search`] like `io-slo`'s. A rung passes when
//! every operation's corrected p99 is under the SLO and no answer was wrong. The rows deletes
//! need are seeded before each rung; the database is reset before the cell by the suite.
//!
//! The repeat's figures are those of the capacity rung: the worst operation's p99 (`p99_ms`),
//! each operation's p99 (`read_p99_ms`…), the server's and the database's CPU per request. The
//! capacity is a lower bound when the load side (the engines, the database on the same CPUs) was
//! saturated at the rung that decided it: "database-bound on this machine".

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use store::LadderPoint;

use super::capacity::open_connections;
use super::http::{self, LoadSpec, REQUEST_TIMEOUT};
use super::saturation::{connections, endpoint, DATABASE_BOUND, DB_CPU};
use super::{CellContext, Kind, MeasureError, Measured, ServiceKind, Timing, Workload};
use crate::cpuload;
use crate::crud::{self as model, CrudOp, RungPlan, MIX};
use crate::search::{self, Bound, SearchPlan};
use crate::stats;

/// A capacity search of the registry over the `/items` mix.
pub struct CrudAtSlo {
    pub spec: workloads::Workload,
}

impl CrudAtSlo {
    /// Whether a registry entry is the mix this code runs: on the database, its requests the
    /// operations of [`MIX`] in order, with their methods, statuses and weights (percent).
    pub fn fits(spec: &workloads::Workload) -> bool {
        spec.services.contains(&ServiceKind::Database)
            && spec.requests.len() == MIX.len()
            && spec.requests.iter().zip(MIX).all(|(q, (op, share))| {
                q.name == op.name()
                    && q.expect_status == op.status()
                    && format!("{:?}", q.method).eq_ignore_ascii_case(op.method().as_str())
                    && (q.weight as f64 - share * 100.0).abs() < 1e-9
            })
    }

    fn anchor(&self) -> workloads::Workload {
        let id = self
            .spec
            .param("anchor_workload")
            .unwrap_or_else(|| panic!("workload {}: no anchor_workload", self.spec.id));
        workloads::registry()
            .workload(id)
            .copied()
            .unwrap_or_else(|| panic!("workload {}: anchor {id} is not registered", self.spec.id))
    }
}

/// One rung: its ladder point and the figures the repeat takes when it is the capacity rung.
struct Rung {
    point: LadderPoint,
    metrics: Vec<(&'static str, Option<f64>)>,
    lower_bound: bool,
    warnings: Vec<String>,
    reports: serde_json::Value,
    samples: serde_json::Value,
    engine_busy: Option<f64>,
    db_busy: Option<f64>,
    steal_pct: Option<f64>,
}

impl Workload for CrudAtSlo {
    fn id(&self) -> &'static str {
        self.spec.id
    }

    fn kind(&self) -> Kind {
        Kind::Capacity
    }

    fn describe(&self) -> String {
        let mix: Vec<String> = MIX
            .iter()
            .map(|(op, s)| format!("{:.0}% {}", s * 100.0, op.name()))
            .collect();
        format!(
            "open-loop ladder over /items ({}) → highest rate with every operation's corrected p99 under the SLO",
            mix.join(", ")
        )
    }

    fn endpoints(&self) -> &'static [&'static str] {
        self.spec.endpoints
    }

    fn services(&self) -> &'static [ServiceKind] {
        self.spec.services
    }

    fn params(&self, t: &Timing) -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        let mix: Vec<String> = MIX
            .iter()
            .map(|(op, s)| format!("{} {:.0}%", op.name(), s * 100.0))
            .collect();
        p.insert("mix".into(), mix.join(", "));
        p.insert("list_limit".into(), model::LIST_LIMIT.to_string());
        p.insert("mode".into(), "open".into());
        p.insert("slo_p99_ms".into(), t.slo_p99_ms.to_string());
        p.insert("rung_s".into(), t.rung.as_secs_f64().to_string());
        p.insert(
            "rung_warmup_s".into(),
            t.rung_warmup.as_secs_f64().to_string(),
        );
        p.insert("max_rungs".into(), t.max_rungs.to_string());
        p.insert(
            "anchor".into(),
            format!("{} saturation req/s", self.anchor().id),
        );
        p
    }

    fn repeats(&self, _requested: u32) -> u32 {
        1
    }

    fn estimate(&self, t: &Timing) -> Duration {
        (t.rung + t.rung_warmup + Duration::from_millis(400)) * t.max_rungs as u32
    }

    fn measure(&self, cx: &mut CellContext<'_>) -> Result<Measured, MeasureError> {
        let mut warnings = Vec::new();
        if cx
            .services
            .get(&ServiceKind::Database)
            .and_then(|s| s.database())
            .is_none()
        {
            return Err(MeasureError::Failed(
                "crud needs the database service, and none is running".into(),
            ));
        }
        let anchor_w = self.anchor();
        let anchor = match cx.anchors.get(anchor_w.id) {
            Some(&a) if a > 0.0 => a,
            _ => {
                let probe = LoadSpec {
                    endpoint: endpoint(&anchor_w),
                    connections: connections(&anchor_w),
                    rate: None,
                    duration: Duration::from_secs(1),
                    warmup: Duration::from_millis(500),
                };
                let d = http::drive(cx, &[probe], &format!("{}: probe", self.spec.id))?;
                warnings.push(format!(
                    "anchored on a 1 s closed-loop probe of {} ({:.0} req/s): the {} saturation cell was not measured in this run",
                    anchor_w.id, d.reports[0].throughput_rps, anchor_w.id
                ));
                d.reports[0].throughput_rps.max(1.0)
            }
        };
        let slo = cx.timing.slo_p99_ms;
        let plan = SearchPlan::new(slo, anchor, cx.timing.max_rungs);
        let mut rungs: Vec<Rung> = Vec::new();
        let outcome = search::search(&plan, |rate| {
            let r = self.rung(cx, rate)?;
            let p = r.point.clone();
            rungs.push(r);
            Ok::<_, MeasureError>(p)
        })?;
        if let Some(w) = outcome.warning() {
            warnings.push(w);
        }
        let at =
            |rate: Option<f64>| rate.and_then(|c| rungs.iter().find(|r| r.point.offered_rps == c));
        let deciding = at(outcome.first_failing_rps);
        let client_bound = deciding.is_some_and(|r| r.lower_bound);
        if client_bound {
            warnings.push(format!("at the first rate over the SLO, {DATABASE_BOUND}"));
        }
        for r in &rungs {
            if r.point.errors > 0 {
                warnings.push(format!(
                    "at {:.0} req/s: {}",
                    r.point.offered_rps,
                    r.warnings.join("; ")
                ));
            }
        }
        let steal = rungs.iter().filter_map(|r| r.steal_pct).fold(0.0, f64::max);
        if let Some(w) = stats::steal_warning(steal) {
            warnings.push(w);
        }
        let errors_at_or_below: u64 = rungs
            .iter()
            .filter(|r| {
                outcome
                    .capacity_rps
                    .is_some_and(|c| r.point.offered_rps <= c)
            })
            .map(|r| r.point.errors)
            .sum();
        let mut repeat = store::RepeatRecord {
            clean: errors_at_or_below == 0,
            capacity_rps: outcome.capacity_rps,
            report_json: serde_json::Value::from(
                rungs.iter().map(|r| r.reports.clone()).collect::<Vec<_>>(),
            )
            .to_string(),
            samples_json: serde_json::Value::from(
                rungs.iter().map(|r| r.samples.clone()).collect::<Vec<_>>(),
            )
            .to_string(),
            ..Default::default()
        };
        if let Some(r) = at(outcome.capacity_rps) {
            repeat = repeat.with(&r.metrics);
            repeat.engine_busy = r.engine_busy;
            repeat.upstream_busy = r.db_busy;
            repeat.steal_pct = r.steal_pct;
        }
        let mut ladder: Vec<LadderPoint> = rungs.iter().map(|r| r.point.clone()).collect();
        ladder.sort_by(|a, b| a.offered_rps.total_cmp(&b.offered_rps));
        Ok(Measured {
            repeat,
            errors: errors_at_or_below,
            ladder,
            capacity_rps: outcome.capacity_rps,
            lower_bound: client_bound || outcome.bound == Bound::AtLeast,
            warnings,
        })
    }
}

impl CrudAtSlo {
    /// Runs one rung of the mix at `rate`.
    fn rung(&self, cx: &mut CellContext<'_>, rate: f64) -> Result<Rung, MeasureError> {
        (cx.live)(super::Progress::phase(super::Phase::Rung).figure("offered_rps", rate));
        let plan = RungPlan {
            rate,
            duration: cx.timing.rung,
            warmup: cx.timing.rung_warmup,
            connections: open_connections(rate, cx.timing.slo_p99_ms),
        };
        let db = cx
            .services
            .get(&ServiceKind::Database)
            .and_then(|s| s.database())
            .ok_or_else(|| MeasureError::Failed("the database service ended".into()))?;
        let ids = model::seed_deletes(db, plan.deletes_needed())
            .map_err(|e| MeasureError::Failed(format!("seeding rows to delete: {e}")))?;
        let mut configs =
            model::rung_configs(&cx.base_url, &plan, ids, cx.client_cpus, REQUEST_TIMEOUT)
                .map_err(|e| MeasureError::Failed(e.to_string()))?;
        let connect = cx.client_connect();
        for (_, c) in &mut configs {
            c.connect = connect;
        }
        let client_cpus = cx.client_cpus.to_vec();
        let meter = &mut *cx.meter;
        let services = &mut *cx.services;
        let stop = cx.stop;
        let mut usage = None;
        let mut busy: Vec<(ServiceKind, Option<f64>)> = Vec::new();
        let mut client_busy = None;
        let mut started: Option<(Instant, cpuload::CpuSnapshot)> = None;
        let result = model::run_rung(
            configs,
            None,
            &mut |begin| {
                if begin {
                    started = Some((Instant::now(), cpuload::snapshot(&client_cpus)));
                    meter.begin();
                    for s in services.values_mut() {
                        s.begin();
                    }
                } else {
                    usage = Some(meter.end());
                    busy = services.iter_mut().map(|(k, s)| (*k, s.busy())).collect();
                    if let Some((_, c0)) = started.take() {
                        client_busy = cpuload::busy_share(c0, cpuload::snapshot(&client_cpus));
                    }
                }
            },
            &|| stop.is_set(),
        );
        let rung = match result {
            Ok(r) => r,
            Err(_) if cx.stop.is_set() => return Err(MeasureError::Interrupted),
            Err(e) => {
                cx.meter.check_alive().map_err(MeasureError::died)?;
                return Err(MeasureError::Failed(e.to_string()));
            }
        };
        cx.meter.check_alive().map_err(MeasureError::died)?;
        let usage = usage.unwrap_or_default();
        let db_cpu_s = cx
            .services
            .get(&ServiceKind::Database)
            .and_then(|s| s.window_cpu_s());
        let db_busy = busy.iter().filter_map(|(_, b)| *b).reduce(f64::max);
        let engine_busy = rung
            .ops
            .iter()
            .map(|o| o.report.engine_cpu.utilisation)
            .reduce(f64::max);
        let client = stats::ClientLoad {
            engine: engine_busy,
            upstream: db_busy,
            cpus: client_busy,
        };
        let lower_bound = rung.load_side_saturated() || stats::is_lower_bound(&client);
        let mut point = rung.point(Some(usage.cpu_s));
        // The rate the search asked for (the operations' shares sum to it up to rounding): the
        // search finds the capacity rung by it.
        point.offered_rps = rate;
        let completed = rung.completed();
        let per_req = |s: f64| (completed > 0).then(|| s * 1e6 / completed as f64);
        let mut metrics: Vec<(&'static str, Option<f64>)> = vec![
            ("throughput_rps", Some(point.achieved_rps)),
            ("p50_ms", point.p50_ms.is_finite().then_some(point.p50_ms)),
            ("p99_ms", point.p99_ms.is_finite().then_some(point.p99_ms)),
            ("server_cpu_us_per_req", per_req(usage.cpu_s)),
            ("pss_mean_mb", usage.pss_mean_mb),
            ("pss_peak_mb", usage.pss_peak_mb),
            (DB_CPU, db_cpu_s.and_then(per_req)),
        ];
        for o in &rung.ops {
            metrics.push((op_metric(o.op), o.p99_ms));
        }
        let mut warnings = Vec::new();
        for o in rung.ops.iter().filter(|o| o.errors > 0) {
            warnings.push(format!(
                "{}: {}",
                o.op.name(),
                http::describe_bad(&o.report)
            ));
        }
        if lower_bound {
            warnings.push(DATABASE_BOUND.to_string());
        }
        let reports: serde_json::Map<String, serde_json::Value> = rung
            .ops
            .iter()
            .map(|o| {
                (
                    o.op.name().to_string(),
                    serde_json::to_value(&o.report).unwrap_or_default(),
                )
            })
            .collect();
        let mut samples = usage.samples.clone();
        if let Some(obj) = samples.as_object_mut() {
            obj.insert("client_cpus_busy".into(), client_busy.into());
            obj.insert("db_cpu_s".into(), db_cpu_s.into());
            obj.insert("db_busy".into(), db_busy.into());
        }
        Ok(Rung {
            point,
            metrics,
            lower_bound,
            warnings,
            reports: reports.into(),
            samples,
            engine_busy,
            db_busy,
            steal_pct: usage.steal_pct,
        })
    }
}

/// The registry's metric of one operation's p99 at the capacity rung.
pub fn op_metric(op: CrudOp) -> &'static str {
    match op {
        CrudOp::Read => "read_p99_ms",
        CrudOp::List => "list_p99_ms",
        CrudOp::Create => "create_p99_ms",
        CrudOp::Update => "update_p99_ms",
        CrudOp::Delete => "delete_p99_ms",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registry's `crud` entry is the mix this code runs, and names every metric it sets.
    #[test]
    fn the_registry_entry_is_the_mix_the_lab_runs() {
        let r = workloads::registry();
        let spec = r.workload("crud").expect("crud is registered");
        assert!(CrudAtSlo::fits(spec));
        assert!(super::super::by_id("crud").is_some());
        for (op, _) in MIX {
            assert!(spec.metrics.contains(&op_metric(op)), "{}", op.name());
        }
        assert!(spec.metrics.contains(&DB_CPU));
        assert_eq!(
            spec.param("list_limit"),
            Some(model::LIST_LIMIT.to_string().as_str())
        );
        let mut other = *spec;
        other.requests = &spec.requests[..4];
        assert!(!CrudAtSlo::fits(&other));
    }
}
