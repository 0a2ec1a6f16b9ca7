//! Capacity at SLO (`json-slo`, `io-slo`, `cpu-slo`, `hash-slo`): open-loop rungs at offered
//! rates chosen by [`crate::search`], latency corrected for coordinated omission, every rung
//! stored as a [`LadderPoint`]; the capacity is the highest rate whose corrected p99 stays under
//! the SLO. The search is anchored on the saturation throughput of the same endpoint measured
//! earlier in the run, or on a short closed-loop probe when there is none.
//!
//! `mixed-slo` (a registry entry with two requests, `io` and `heavy`, see [`is_mix`]) runs the
//! `mixed` traffic pattern up the same ladder: each rung's rate is split between the `/io` stream
//! and the heavy `/cpu` stream by `heavy_share`, both open loop at once; the rung's rate is the
//! total, its p99 the `/io` stream's (the cheap requests users wait on), its errors both streams'.
//!
//! One search is one repeat of the cell: the suite runs as many as the registry entry's
//! `max_repeats` allows (`io-slo`: 3 in the full suite), else one ([`crate::suite::cell_repeats`]);
//! the cell's capacity is the median over its searches (docs/workloads.md "Repeats").

use std::collections::BTreeMap;
use std::time::Duration;

use store::LadderPoint;

use super::http::{self, LoadSpec};
use super::saturation::{connections, endpoint, endpoint_params, measured_from};
use super::{CellContext, Kind, MeasureError, Measured, ServiceKind, Timing, Workload};
use crate::search::{self, Bound, SearchPlan};
use crate::stats;

/// Most connections an open-loop rung opens.
pub const MAX_OPEN_CONNECTIONS: usize = 512;

/// Connections for an open-loop rung at `rate`: enough that requests answered within half the SLO
/// never wait for a free connection (rate × SLO / 2), at least 8, at most
/// [`MAX_OPEN_CONNECTIONS`].
pub fn open_connections(rate: f64, slo_ms: f64) -> usize {
    ((rate * slo_ms / 1000.0 / 2.0).ceil() as usize).clamp(8, MAX_OPEN_CONNECTIONS)
}

/// Whether a capacity entry sends the mixed pattern (an `io` and a `heavy` request, with a
/// `heavy_share` parameter) rather than one request.
pub fn is_mix(spec: &workloads::Workload) -> bool {
    spec.requests.len() == 2
        && spec.request("io").is_some()
        && spec.request("heavy").is_some()
        && spec.param("heavy_share").is_some()
}

/// An open-loop capacity search of the registry: any entry of kind `Capacity`, anchored on the
/// saturation workload its `anchor_workload` parameter names.
pub struct CapacityAtSlo {
    pub spec: workloads::Workload,
}

impl CapacityAtSlo {
    /// The saturation workload this search is anchored on.
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

impl Workload for CapacityAtSlo {
    fn id(&self) -> &'static str {
        self.spec.id
    }

    fn kind(&self) -> Kind {
        Kind::Capacity
    }

    fn describe(&self) -> String {
        if is_mix(&self.spec) {
            let heavy = http::Endpoint::of(&self.spec, self.spec.request("heavy").unwrap());
            return format!(
                "open-loop ladder on GET {} with a {}% share of GET {} → highest total rate with the /io corrected p99 under the SLO",
                endpoint(&self.spec).path,
                (super::saturation::num_param::<f64>(&self.spec, "heavy_share") * 100.0 * 10.0)
                    .round()
                    / 10.0,
                heavy.path
            );
        }
        format!(
            "open-loop ladder on GET {} → highest rate with corrected p99 under the SLO",
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
        p.insert("mode".into(), "open".into());
        p.insert("slo_p99_ms".into(), t.slo_p99_ms.to_string());
        p.insert("rung_s".into(), t.rung.as_secs_f64().to_string());
        p.insert(
            "rung_warmup_s".into(),
            t.rung_warmup.as_secs_f64().to_string(),
        );
        p.insert("max_rungs".into(), t.max_rungs.to_string());
        if is_mix(&self.spec) {
            let heavy = http::Endpoint::of(&self.spec, self.spec.request("heavy").unwrap());
            p.insert("heavy_path".into(), heavy.path);
            p.insert(
                "heavy_share".into(),
                self.spec.param("heavy_share").unwrap_or_default().into(),
            );
            p.insert(
                "rate".into(),
                "total of both streams; p99 and the SLO on the /io stream".into(),
            );
        }
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
        (t.rung + t.rung_warmup + Duration::from_millis(150)) * t.max_rungs as u32
    }

    fn measure(&self, cx: &mut CellContext<'_>) -> Result<Measured, MeasureError> {
        let mut warnings = Vec::new();
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
                    "anchored on a 1 s closed-loop probe ({:.0} req/s): the {} saturation cell was not measured in this run",
                    d.reports[0].throughput_rps, anchor_w.id
                ));
                d.reports[0].throughput_rps.max(1.0)
            }
        };
        let plan = SearchPlan::new(cx.timing.slo_p99_ms, anchor, cx.timing.max_rungs);
        let mut rungs: Vec<(LadderPoint, Measured)> = Vec::new();
        let slo = cx.timing.slo_p99_ms;
        let (rung, rung_warmup) = (cx.timing.rung, cx.timing.rung_warmup);
        let mix = is_mix(&self.spec).then(|| {
            let share: f64 = super::saturation::num_param(&self.spec, "heavy_share");
            (
                http::Endpoint::of(&self.spec, self.spec.request("heavy").unwrap()),
                share,
            )
        });
        let outcome = search::search(&plan, |rate| {
            let io_rate = mix.as_ref().map_or(rate, |(_, share)| rate * (1.0 - share));
            let mut specs = vec![LoadSpec {
                endpoint: endpoint(&self.spec),
                connections: open_connections(io_rate, slo),
                rate: Some(io_rate),
                duration: rung,
                warmup: rung_warmup,
            }];
            if let Some((heavy, share)) = &mix {
                specs.push(LoadSpec {
                    endpoint: heavy.clone(),
                    connections: open_connections(rate * share, slo),
                    rate: Some(rate * share),
                    duration: rung,
                    warmup: rung_warmup,
                });
            }
            let d = http::drive(cx, &specs, &format!("{} at {rate:.0} req/s", self.spec.id))?;
            let r = &d.reports[0];
            let achieved_of =
                |r: &loadgen::Report| r.rate.as_ref().map_or(r.throughput_rps, |o| o.achieved_rps);
            let achieved: f64 = d.reports.iter().map(achieved_of).sum();
            let mut m = measured_from(r, &d, achieved, true);
            if let Some(h) = d.reports.get(1) {
                let bad = http::bad_responses(h);
                if bad > 0 {
                    m.warnings
                        .push(format!("heavy /cpu: {}", http::describe_bad(h)));
                    m.errors += bad;
                    m.repeat.clean = false;
                }
                if h.engine_cpu.utilisation >= crate::stats::BUSY_LIMIT {
                    m.lower_bound = true;
                }
                // The server served both streams in the window.
                let all = r.requests.completed + h.requests.completed;
                m.repeat.set(
                    "server_cpu_us_per_req",
                    (all > 0).then(|| d.usage.cpu_s * 1e6 / all as f64),
                );
            }
            let point = LadderPoint {
                offered_rps: rate,
                achieved_rps: achieved,
                p50_ms: m.repeat.metric("p50_ms").unwrap_or(f64::NAN),
                p99_ms: m.repeat.metric("p99_ms").unwrap_or(f64::INFINITY),
                errors: m.errors,
                server_cores: (r.elapsed_s > 0.0).then(|| d.usage.cpu_s / r.elapsed_s),
            };
            rungs.push((point.clone(), m));
            Ok::<_, MeasureError>(point)
        })?;
        if let Some(w) = outcome.warning() {
            warnings.push(w);
        }
        // The repeat's figures are those of the capacity rung (what the cost model uses: the
        // usable rate, its latency and its CPU per request).
        let at_capacity = outcome.capacity_rps.and_then(|c| {
            rungs
                .iter()
                .find(|(p, _)| p.offered_rps == c)
                .map(|(_, m)| m.clone())
        });
        // The capacity is a lower bound when a client was the bottleneck at the rung that decided
        // it (the first failing one), or when no rung failed.
        let deciding = outcome
            .first_failing_rps
            .and_then(|f| rungs.iter().find(|(p, _)| p.offered_rps == f));
        let client_bound = deciding.is_some_and(|(_, m)| m.lower_bound);
        if let Some((_, m)) = deciding.filter(|_| client_bound) {
            if let Some(w) = m.warnings.iter().find(|w| w.starts_with("lower bound")) {
                warnings.push(format!("at the first rate over the SLO, {w}"));
            }
        }
        // Noise from any rung, summarised once: other processes on the server CPUs, steal.
        let foreign: Vec<f64> = rungs
            .iter()
            .filter_map(|(_, m)| {
                let v: serde_json::Value = serde_json::from_str(&m.repeat.samples_json).ok()?;
                v["server_cpus_foreign"].as_f64()
            })
            .collect();
        let noisy = foreign
            .iter()
            .filter(|f| **f > stats::FOREIGN_LIMIT)
            .count();
        if noisy > 0 {
            let worst = foreign.iter().copied().fold(0.0, f64::max);
            warnings.push(format!(
                "other processes used up to {:.0}% of the server CPUs ({noisy} of {} rungs over {:.0}%): the machine was not quiet, figures are noisy",
                worst * 100.0,
                rungs.len(),
                stats::FOREIGN_LIMIT * 100.0
            ));
        }
        let steal = rungs
            .iter()
            .filter_map(|(_, m)| m.repeat.steal_pct)
            .fold(0.0, f64::max);
        if let Some(w) = stats::steal_warning(steal) {
            warnings.push(w);
        }
        let bad_rungs: Vec<String> = rungs
            .iter()
            .filter(|(p, _)| p.errors > 0)
            .map(|(p, m)| {
                format!(
                    "at {:.0} req/s: {}",
                    p.offered_rps,
                    m.warnings.first().cloned().unwrap_or_default()
                )
            })
            .collect();
        let errors_at_or_below_capacity: u64 = rungs
            .iter()
            .filter(|(p, _)| outcome.capacity_rps.is_some_and(|c| p.offered_rps <= c))
            .map(|(p, _)| p.errors)
            .sum();
        warnings.extend(bad_rungs);
        let reports: Vec<serde_json::Value> = rungs
            .iter()
            .map(|(_, m)| serde_json::from_str(&m.repeat.report_json).unwrap_or_default())
            .collect();
        let samples: Vec<serde_json::Value> = rungs
            .iter()
            .map(|(_, m)| serde_json::from_str(&m.repeat.samples_json).unwrap_or_default())
            .collect();
        let mut repeat = at_capacity.map(|m| m.repeat).unwrap_or_default();
        repeat.clean = errors_at_or_below_capacity == 0;
        repeat.capacity_rps = outcome.capacity_rps;
        repeat.report_json = serde_json::Value::from(reports).to_string();
        repeat.samples_json = serde_json::Value::from(samples).to_string();
        let mut ladder: Vec<LadderPoint> = rungs.into_iter().map(|(p, _)| p).collect();
        ladder.sort_by(|a, b| a.offered_rps.total_cmp(&b.offered_rps));
        Ok(Measured {
            repeat,
            errors: errors_at_or_below_capacity,
            ladder,
            capacity_rps: outcome.capacity_rps,
            lower_bound: client_bound || outcome.bound == Bound::AtLeast,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_loop_connections_cover_half_the_slo() {
        assert_eq!(open_connections(10.0, 100.0), 8);
        assert_eq!(open_connections(1000.0, 100.0), 50);
        assert_eq!(open_connections(1e6, 100.0), MAX_OPEN_CONNECTIONS);
    }
}
