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
use super::saturation::{measured_from, IO_MS};
use super::{CellContext, Kind, MeasureError, Measured, ServiceKind, Timing, Workload};

/// The `/io` rate: far below every target's `/io` capacity (gunicorn sync with 3 workers serves
/// ~300 req/s of 10 ms `/io`), so the latency rise is blocking, not saturation.
pub const IO_RATE: f64 = 100.0;
pub const IO_CONNECTIONS: usize = 16;
/// The heavy request: `/cpu?n=1000000`.
pub const HEAVY_N: u64 = 1_000_000;
/// Heavy requests per second: 2 of every 102 requests (~2%), at most ~20% of one CPU in Python.
pub const HEAVY_RATE: f64 = 2.0;
pub const HEAVY_CONNECTIONS: usize = 2;

/// The `/io`-alone baseline window: half the measuring window, at least a second.
pub fn baseline_duration(t: &Timing) -> Duration {
    (t.duration / 2).max(Duration::from_secs(1))
}

#[derive(Default)]
pub struct Mixed;

impl Workload for Mixed {
    fn id(&self) -> &'static str {
        "mixed"
    }

    fn kind(&self) -> Kind {
        Kind::Mixed
    }

    fn describe(&self) -> String {
        format!(
            "open loop: GET /io?ms={IO_MS} at {IO_RATE} req/s while GET /cpu?n={HEAVY_N} arrives at {HEAVY_RATE} req/s → /io latency"
        )
    }

    fn endpoints(&self) -> &'static [&'static str] {
        &["io", "cpu"]
    }

    fn services(&self) -> &'static [ServiceKind] {
        &[ServiceKind::Upstream]
    }

    fn params(&self, t: &Timing) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("mode".into(), "open".into()),
            ("path".into(), format!("/io?ms={IO_MS}")),
            ("ms".into(), IO_MS.to_string()),
            ("io_rate_rps".into(), IO_RATE.to_string()),
            ("io_connections".into(), IO_CONNECTIONS.to_string()),
            ("heavy_path".into(), format!("/cpu?n={HEAVY_N}")),
            ("heavy_rate_rps".into(), HEAVY_RATE.to_string()),
            (
                "heavy_share".into(),
                format!("{:.3}", HEAVY_RATE / (IO_RATE + HEAVY_RATE)),
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
        // The baseline: the same /io stream alone, so that the cell says what the heavy requests
        // cost the cheap ones on this server.
        let alone = LoadSpec {
            endpoint: Endpoint::io(IO_MS),
            connections: IO_CONNECTIONS,
            rate: Some(IO_RATE),
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
            endpoint: Endpoint::io(IO_MS),
            connections: IO_CONNECTIONS,
            rate: Some(IO_RATE),
            duration: cx.timing.duration,
            warmup: cx.timing.warmup,
        };
        let heavy = LoadSpec {
            endpoint: Endpoint::cpu(HEAVY_N),
            connections: HEAVY_CONNECTIONS,
            rate: Some(HEAVY_RATE),
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
            offered_rps: IO_RATE,
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
