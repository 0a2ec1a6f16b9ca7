//! `mixed` (loop blocking): an open loop of `/io?ms=10` at a rate every target sustains, while a
//! second, concurrent open loop sends a small share of heavy `/cpu` requests. The figure is the
//! corrected `/io` latency: a server whose event loop (or worker) is blocked by the heavy request
//! makes the cheap ones wait. Each repeat first measures the same `/io` stream alone (the
//! baseline); the ladder holds both points, `[alone, with heavy requests]`. The same requests go to every target; the heavy `/cpu` costs each
//! language what its own loop costs (~100 ms of Python, ~1 ms of JavaScript).

use std::collections::BTreeMap;
use std::time::Duration;

use store::LadderPoint;

use super::http::{self, Endpoint, LoadSpec};
use super::saturation::{measured_from, num_param};
use super::{CellContext, Kind, MeasureError, Measured, ServiceKind, Timing, Workload};

/// The parameters of a mixed workload, from its registry entry (which says why each value):
/// the cheap `/io?ms=` stream's rate and connections, the heavy `/cpu?n=` request's rate and
/// connections (its `n` is the `heavy_n` its request's path is filled with).
struct Params {
    ms: u64,
    io_rate: f64,
    io_connections: usize,
    heavy_rate: f64,
    heavy_connections: usize,
}

/// The `/io`-alone baseline window: half the measuring window, at least a second.
pub fn baseline_duration(t: &Timing) -> Duration {
    (t.duration / 2).max(Duration::from_secs(1))
}

/// A loop-blocking workload of the registry (kind `Mixed`): a cheap request (`io`) at a fixed
/// open-loop rate while a heavy one (`heavy`) arrives at its own.
pub struct Mixed {
    pub spec: workloads::Workload,
}

impl Mixed {
    fn p(&self) -> Params {
        let w = &self.spec;
        Params {
            ms: num_param(w, "ms"),
            io_rate: num_param(w, "io_rate_rps"),
            io_connections: num_param(w, "io_connections"),
            heavy_rate: num_param(w, "heavy_rate_rps"),
            heavy_connections: num_param(w, "heavy_connections"),
        }
    }

    fn io(&self) -> Endpoint {
        Endpoint::of(&self.spec, self.spec.request("io").expect("mixed sends io"))
    }

    fn heavy(&self) -> Endpoint {
        Endpoint::of(
            &self.spec,
            self.spec.request("heavy").expect("mixed sends heavy"),
        )
    }
}

impl Workload for Mixed {
    fn id(&self) -> &'static str {
        self.spec.id
    }

    fn kind(&self) -> Kind {
        Kind::Mixed
    }

    fn describe(&self) -> String {
        let p = self.p();
        format!(
            "open loop: GET {} at {} req/s while GET {} arrives at {} req/s → /io latency",
            self.io().path,
            p.io_rate,
            self.heavy().path,
            p.heavy_rate
        )
    }

    fn endpoints(&self) -> &'static [&'static str] {
        self.spec.endpoints
    }

    fn services(&self) -> &'static [ServiceKind] {
        self.spec.services
    }

    fn params(&self, t: &Timing) -> BTreeMap<String, String> {
        let p = self.p();
        BTreeMap::from([
            ("mode".into(), "open".into()),
            ("path".into(), self.io().path),
            ("ms".into(), p.ms.to_string()),
            ("io_rate_rps".into(), p.io_rate.to_string()),
            ("io_connections".into(), p.io_connections.to_string()),
            ("heavy_path".into(), self.heavy().path),
            ("heavy_rate_rps".into(), p.heavy_rate.to_string()),
            (
                "heavy_share".into(),
                format!("{:.3}", p.heavy_rate / (p.io_rate + p.heavy_rate)),
            ),
            ("duration_s".into(), t.duration.as_secs_f64().to_string()),
            (
                "baseline_duration_s".into(),
                baseline_duration(t).as_secs_f64().to_string(),
            ),
            (
                "ladder".into(),
                "per repeat: [/io alone, /io with the heavy requests], both at io_rate_rps".into(),
            ),
            ("warmup_s".into(), t.warmup.as_secs_f64().to_string()),
        ])
    }

    fn estimate(&self, t: &Timing) -> Duration {
        t.warmup * 2 + t.duration + baseline_duration(t) + Duration::from_millis(500)
    }

    fn measure(&self, cx: &mut CellContext<'_>) -> Result<Measured, MeasureError> {
        let p = self.p();
        // The baseline: the same /io stream alone, so that the cell says what the heavy requests
        // cost the cheap ones on this server.
        let alone = LoadSpec {
            endpoint: self.io(),
            connections: p.io_connections,
            rate: Some(p.io_rate),
            duration: baseline_duration(cx.timing),
            warmup: cx.timing.warmup,
        };
        let b = http::drive(cx, &[alone], "mixed: /io alone")?;
        let b_r = &b.reports[0];
        let b_achieved = b_r
            .rate
            .as_ref()
            .map_or(b_r.throughput_rps, |o| o.achieved_rps);
        let base = measured_from(b_r, &b, b_achieved, true);
        let io = LoadSpec {
            endpoint: self.io(),
            connections: p.io_connections,
            rate: Some(p.io_rate),
            duration: cx.timing.duration,
            warmup: cx.timing.warmup,
        };
        let heavy = LoadSpec {
            endpoint: self.heavy(),
            connections: p.heavy_connections,
            rate: Some(p.heavy_rate),
            duration: cx.timing.duration,
            warmup: cx.timing.warmup,
        };
        let d = http::drive(cx, &[io, heavy], "mixed")?;
        let (io_r, heavy_r) = (&d.reports[0], &d.reports[1]);
        let achieved = io_r
            .rate
            .as_ref()
            .map_or(io_r.throughput_rps, |o| o.achieved_rps);
        let mut m = measured_from(io_r, &d, achieved, true);
        // CPU per response over both streams (the server did both in the window).
        let all = io_r.requests.completed + heavy_r.requests.completed;
        m.repeat.set(
            "server_cpu_us_per_req",
            (all > 0).then(|| d.usage.cpu_s * 1e6 / all as f64),
        );
        let heavy_bad = http::bad_responses(heavy_r);
        if heavy_bad > 0 {
            m.warnings
                .push(format!("heavy /cpu: {}", http::describe_bad(heavy_r)));
        }
        if heavy_r.engine_cpu.utilisation >= crate::stats::BUSY_LIMIT {
            m.lower_bound = true;
        }
        m.errors += heavy_bad;
        if base.errors > 0 {
            m.warnings
                .push(format!("/io alone: {}", http::describe_bad(b_r)));
        }
        m.lower_bound |= base.lower_bound;
        m.repeat.clean = m.errors == 0;
        let point = |r: &loadgen::Report, mm: &Measured, achieved: f64, cpu_s: f64| LadderPoint {
            offered_rps: p.io_rate,
            achieved_rps: achieved,
            p50_ms: mm.repeat.metric("p50_ms").unwrap_or(f64::NAN),
            p99_ms: mm.repeat.metric("p99_ms").unwrap_or(f64::INFINITY),
            errors: mm.errors,
            server_cores: (r.elapsed_s > 0.0).then(|| cpu_s / r.elapsed_s),
        };
        m.ladder = vec![
            point(b_r, &base, b_achieved, b.usage.cpu_s),
            point(io_r, &m, achieved, d.usage.cpu_s),
        ];
        m.errors += base.errors;
        m.repeat.clean = m.errors == 0;
        m.repeat.report_json = serde_json::json!({
            "io_alone": b_r,
            "io": serde_json::from_str::<serde_json::Value>(&m.repeat.report_json).unwrap_or_default(),
            "heavy": heavy_r,
        })
        .to_string();
        Ok(m)
    }
}
