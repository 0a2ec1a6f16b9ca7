//! Concurrency with a long upstream wait (`io-wait`, issue 14): what "handles thousands of
//! concurrent requests" means. `GET /io?ms=2000` is sent open loop at a fixed rate (1,000 req/s),
//! so that by Little's law about rate × wait = 2,000 requests are in flight at once, at a rate
//! far below every async target's `/io` capacity: the number in flight, not the rate, is what is
//! tested. One HTTP/1.1 connection per request in flight (3,000 opened), latency corrected for
//! coordinated omission; the run waits up to the request time-out after the window for its
//! answers (the engine's usual half-second drain would cut off every request sent in the window's
//! last 1.5 s).
//!
//! Figures: the requests actually in flight (`in_flight`: achieved rate × mean corrected
//! latency), p50/p99, and the share that failed (`failed_share`: errors, time-outs, wrong answers,
//! slots never sent or never answered). Failures are the result being measured — a thread server
//! holds as many requests as it has threads, and the rest queue or time out: the cap is the
//! finding, as for `ws-hold` — so a repeat with failures is flagged (its errors counted) and its
//! figures are still stored.
//!
//! Bounded in time and count: warm-up + window + at most the request time-out; at most
//! rate × (warm-up + window) requests. One repeat per cell (`max_repeats`).

use std::collections::BTreeMap;
use std::time::Duration;

use super::http::{self, LoadSpec, REQUEST_TIMEOUT};
use super::saturation::{endpoint, endpoint_params, measured_from, num_param};
use super::{CellContext, Kind, MeasureError, Measured, ServiceKind, Timing, Workload};

/// An open-loop run at one rate with thousands of requests in flight: any registry entry of kind
/// `Concurrency` with one request and `rate_rps`, `connections`, `warmup_s`, `duration_s`.
pub struct IoWait {
    pub spec: workloads::Workload,
}

impl IoWait {
    pub fn fits(spec: &workloads::Workload) -> bool {
        spec.kind == Kind::Concurrency
            && spec.requests.len() == 1
            && ["rate_rps", "connections", "warmup_s", "duration_s"]
                .iter()
                .all(|p| spec.param(p).is_some_and(|v| v.parse::<f64>().is_ok()))
    }

    fn rate(&self) -> f64 {
        num_param(&self.spec, "rate_rps")
    }
    fn connections(&self) -> usize {
        num_param(&self.spec, "connections")
    }
    fn warmup(&self) -> Duration {
        Duration::from_secs_f64(num_param(&self.spec, "warmup_s"))
    }
    fn duration(&self) -> Duration {
        Duration::from_secs_f64(num_param(&self.spec, "duration_s"))
    }
    fn wait(&self) -> Duration {
        Duration::from_millis(
            self.spec
                .param("ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        )
    }

    /// Requests the cell aims to keep in flight (Little's law: rate × wait).
    pub fn target_in_flight(&self) -> f64 {
        self.rate() * self.wait().as_secs_f64()
    }
}

/// The figures of one window: requests in flight by Little's law, the failed share, and the
/// failed count (errors, wrong answers, slots never sent or never answered).
pub fn figures(r: &loadgen::Report, achieved_rps: f64) -> (Option<f64>, Option<f64>, u64) {
    let q = &r.requests;
    let (unsent, cut_off) = r
        .censored
        .as_ref()
        .map_or((0, q.cut_off), |c| (c.unsent, c.in_flight));
    let total = q.completed + q.total_errors + cut_off + unsent;
    let failed = http::bad_responses(r) + cut_off + unsent;
    let share = (total > 0).then(|| failed as f64 / total as f64);
    let in_flight = r
        .latency
        .from_schedule
        .as_ref()
        .filter(|l| l.count > 0)
        .map(|l| achieved_rps * l.mean_us / 1e6);
    (in_flight, share, failed)
}

impl Workload for IoWait {
    fn id(&self) -> &'static str {
        self.spec.id
    }

    fn kind(&self) -> Kind {
        Kind::Concurrency
    }

    fn describe(&self) -> String {
        format!(
            "open loop on GET {} at {:.0} req/s → ~{:.0} requests in flight: their corrected p99 and how many failed",
            endpoint(&self.spec).path,
            self.rate(),
            self.target_in_flight()
        )
    }

    fn endpoints(&self) -> &'static [&'static str] {
        self.spec.endpoints
    }

    fn services(&self) -> &'static [ServiceKind] {
        self.spec.services
    }

    fn params(&self, _t: &Timing) -> BTreeMap<String, String> {
        let mut p = endpoint_params(&self.spec);
        p.insert("mode".into(), "open".into());
        for k in ["rate_rps", "connections", "warmup_s", "duration_s"] {
            p.insert(k.into(), self.spec.param(k).unwrap_or_default().into());
        }
        p.insert(
            "in_flight_target".into(),
            format!("{:.0}", self.target_in_flight()),
        );
        p.insert("drain_s".into(), REQUEST_TIMEOUT.as_secs_f64().to_string());
        p
    }

    fn repeats(&self, requested: u32) -> u32 {
        let max = self
            .spec
            .param("max_repeats")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        requested.clamp(1, max)
    }

    fn estimate(&self, _t: &Timing) -> Duration {
        // Warm-up, window, the last requests' wait, and some slack.
        self.warmup() + self.duration() + self.wait() + Duration::from_secs(1)
    }

    fn measure(&self, cx: &mut CellContext<'_>) -> Result<Measured, MeasureError> {
        let spec = LoadSpec {
            endpoint: endpoint(&self.spec),
            connections: self.connections(),
            rate: Some(self.rate()),
            duration: self.duration(),
            warmup: self.warmup(),
        };
        let label = format!(
            "{}: ~{:.0} in flight",
            self.spec.id,
            self.target_in_flight()
        );
        let d = http::drive_with(cx, &[spec], &label, |c| c.drain = REQUEST_TIMEOUT)?;
        let r = &d.reports[0];
        let achieved = r.rate.as_ref().map_or(r.throughput_rps, |o| o.achieved_rps);
        let mut m = measured_from(r, &d, achieved, true);
        let (in_flight, failed_share, failed) = figures(r, achieved);
        m.repeat.set("in_flight", in_flight);
        m.repeat.set("failed_share", failed_share);
        if let Some(s) = failed_share.filter(|s| *s > 0.0) {
            m.warnings.push(format!(
                "{:.1}% of the requests failed or went unanswered with ~{:.0} in flight",
                s * 100.0,
                self.target_in_flight()
            ));
            // Slots never sent or never answered are failures too, though not engine errors.
            m.errors = m.errors.max(failed);
            m.repeat.clean = false;
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_entry_keeps_thousands_in_flight_within_bounds() {
        let spec = *workloads::registry().workload("io-wait").unwrap();
        assert!(IoWait::fits(&spec));
        let w = IoWait { spec };
        let n = w.target_in_flight();
        assert!((2_000.0..=5_000.0).contains(&n), "{n}");
        // One connection per request in flight, with room for the tail.
        assert!(w.connections() as f64 >= 1.2 * n);
        // Far below the request time-out, so a healthy server answers everything.
        assert!(w.wait() * 3 < REQUEST_TIMEOUT);
        assert!(
            w.warmup() > w.wait(),
            "the in-flight count settles before measuring"
        );
        // Bounded: at most this many requests, this long.
        let requests = w.rate() * (w.warmup() + w.duration()).as_secs_f64();
        assert!(requests <= 10_000.0, "{requests}");
        assert!(w.estimate(&Timing::full()) <= Duration::from_secs(15));
        assert_eq!(w.repeats(3), 1);
        assert_eq!(w.params(&Timing::full())["in_flight_target"], "2000");
    }
}
