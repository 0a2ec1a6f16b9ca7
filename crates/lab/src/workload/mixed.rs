//! `mixed` (loop blocking): an open loop of `/io?ms=10` at a rate every target sustains, while a
//! second, concurrent open loop sends a small share of heavy `/cpu` requests. The figure is the
//! corrected `/io` latency: a server whose event loop (or worker) is blocked by the heavy request
//! makes the cheap ones wait. The same requests go to every target; the heavy `/cpu` costs each
//! language what its own loop costs (~100 ms of Python, ~1 ms of JavaScript).

use std::collections::BTreeMap;
use std::time::Duration;

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
            ("warmup_s".into(), t.warmup.as_secs_f64().to_string()),
        ])
    }

    fn estimate(&self, t: &Timing) -> Duration {
        t.warmup + t.duration + Duration::from_millis(300)
    }

    fn measure(&self, cx: &mut CellContext<'_>) -> Result<Measured, MeasureError> {
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
        m.repeat.server_cpu_us_per_req = (all > 0).then(|| d.usage.cpu_s * 1e6 / all as f64);
        let heavy_bad = http::bad_responses(heavy_r);
        if heavy_bad > 0 {
            m.warnings
                .push(format!("heavy /cpu: {}", http::describe_bad(heavy_r)));
        }
        if heavy_r.engine_cpu.utilisation >= crate::stats::BUSY_LIMIT {
            m.lower_bound = true;
        }
        m.errors += heavy_bad;
        m.repeat.clean = m.errors == 0;
        m.repeat.report_json = serde_json::json!({
            "io": serde_json::from_str::<serde_json::Value>(&m.repeat.report_json).unwrap_or_default(),
            "heavy": heavy_r,
        })
        .to_string();
        Ok(m)
    }
}
