//! `mixed` (loop blocking): an open loop of `/io?ms=10` at a rate every target sustains, while a
//! second, concurrent open loop sends a small share of heavy `/cpu` requests. The figure is the
//! corrected `/io` latency: a server whose event loop (or worker) is blocked by the heavy request
//! makes the cheap ones wait. Each repeat first measures the same `/io` stream alone (the
//! baseline); the ladder holds both points, `[alone, with heavy requests]`. The same requests go to every target; the heavy `/cpu` costs each
//! language what its own loop costs (~100 ms of Python, ~1 ms of JavaScript).
//!
//! Two registry entries use it (issue 15): `mixed` sends the same heavy request to every target
//! (equal work, `heavy_n` fixed); `mixed-time` ([`Heavy::Calibrated`]) first **calibrates** its
//! heavy request on the running server — serial `/cpu` probes (one connection, closed loop, each
//! window sized for ~20 responses) with the server's CPU sampled, `n` scaled by target ÷ measured
//! until one request (over ≥ 10 responses) costs
//! `heavy_cpu_target_ms` (50 ms) ± `heavy_cpu_tolerance` (10%) of server CPU — so it depends on
//! no other cell (equal time). Both measure one heavy request's CPU time by such probes and store
//! it (`heavy_cpu_ms`), with `heavy_n` and the per-repeat **blocking ratio**
//! ((/io p99 with heavy − /io p99 alone) ÷ `heavy_cpu_ms`).

use std::collections::BTreeMap;
use std::sync::Mutex;
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

/// Shortest measuring window of one calibration probe: at 50 ms a request on a server with its
/// own CPU, ~20 serial requests, so the server's CPU (read in 10 ms clock ticks) is known to ~1%
/// and a request cut by the window's edges moves the mean by ≤ 5%.
pub const PROBE_WINDOW: Duration = Duration::from_millis(1000);
/// Longest probe window: a server slower in wall time than in CPU (a busy machine) gets a longer
/// window, up to this, to see [`PROBE_RESPONSES`] responses.
pub const PROBE_WINDOW_MAX: Duration = Duration::from_millis(4000);
/// Responses a probe aims for (the next window is sized for them).
pub const PROBE_RESPONSES: u64 = 20;
/// Fewest responses of an accepted probe (each window edge can cut one request: ≤ 10% swing).
pub const MIN_ACCEPTED_RESPONSES: u64 = 10;
/// Warm-up of each probe (JITs compile the loop; not measured).
pub const PROBE_WARMUP: Duration = Duration::from_millis(300);
/// Most probes one calibration makes before it gives up.
pub const MAX_PROBES: usize = 6;
/// The contract's `/cpu` accepts `n` up to 10⁹ (docs/contract.md).
pub const MAX_N: u64 = 1_000_000_000;
/// Smallest `n` a calibration tries.
pub const MIN_N: u64 = 1_000;

/// How a mixed workload's heavy request is sized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Heavy {
    /// The same `n` for every target (`mixed`: equal work).
    Fixed(u64),
    /// `n` found per target so that one request costs `target_ms` ± `tolerance` of server CPU
    /// (`mixed-time`: equal time), starting from `start`.
    Calibrated {
        target_ms: f64,
        tolerance: f64,
        start: u64,
    },
}

/// One calibration probe: serial heavy requests at `n`, the server's CPU per response.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    pub n: u64,
    /// Server CPU per response, ms.
    pub cpu_ms: f64,
    /// Responses in the window.
    pub requests: u64,
    /// The measuring window.
    pub window: Duration,
}

/// The last calibrated `n` per target, the next calibration's first guess (each repeat still
/// probes and stores what it measured).
static LAST_N: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

/// The heavy request of `spec` at `n` (its answer computed for that `n`).
pub fn heavy_at(spec: &workloads::Workload, n: u64) -> Endpoint {
    let req = spec.request("heavy").expect("mixed sends heavy");
    Endpoint::from_request(req, &|k| {
        if k == "heavy_n" {
            Some(n.to_string())
        } else {
            spec.param(k).map(str::to_string)
        }
    })
    .unwrap_or_else(|e| panic!("workload {}: {e}", spec.id))
}

/// Serial heavy requests at `n` (one connection, closed loop) for [`PROBE_WINDOW`], the server's
/// CPU sampled over the window: one request's CPU time.
pub fn probe(
    cx: &mut CellContext<'_>,
    spec: &workloads::Workload,
    n: u64,
    window: Duration,
) -> Result<Probe, MeasureError> {
    let load = LoadSpec {
        endpoint: heavy_at(spec, n),
        connections: 1,
        rate: None,
        duration: window,
        warmup: PROBE_WARMUP,
    };
    let d = http::drive(cx, &[load], &format!("{}: probe /cpu?n={n}", spec.id))?;
    let r = &d.reports[0];
    if http::bad_responses(r) > 0 {
        return Err(MeasureError::Failed(format!(
            "{}: calibration probe /cpu?n={n}: {}",
            spec.id,
            http::describe_bad(r)
        )));
    }
    let requests = r.requests.completed;
    // No response in the window: one request costs at least the CPU the window saw.
    let cpu_ms = d.usage.cpu_s * 1000.0 / requests.max(1) as f64;
    Ok(Probe {
        n,
        cpu_ms,
        requests,
        window,
    })
}

/// The window for a probe at `next` after probe `p`: long enough for [`PROBE_RESPONSES`] at the
/// wall time per response `p` saw (scaled by the change of n), within [`PROBE_WINDOW`],
/// [`PROBE_WINDOW_MAX`].
pub fn next_window(p: &Probe, next: u64) -> Duration {
    let per = p.window.as_secs_f64() / p.requests.max(1) as f64;
    let want = per * (next as f64 / p.n.max(1) as f64) * PROBE_RESPONSES as f64;
    Duration::from_secs_f64(want.clamp(PROBE_WINDOW.as_secs_f64(), PROBE_WINDOW_MAX.as_secs_f64()))
}

/// The next `n` to try after `p`: scaled by target ÷ measured (at most 100× either way), within
/// [`MIN_N`, `MAX_N`].
pub fn next_n(p: &Probe, target_ms: f64) -> u64 {
    let factor = (target_ms / p.cpu_ms.max(1e-6)).clamp(0.01, 100.0);
    ((p.n as f64 * factor).round() as u64).clamp(MIN_N, MAX_N)
}

/// Whether a probe is within the calibration's tolerance.
pub fn within(p: &Probe, target_ms: f64, tolerance: f64) -> bool {
    p.requests >= MIN_ACCEPTED_RESPONSES && (p.cpu_ms - target_ms).abs() <= tolerance * target_ms
}

/// Finds `n` such that one heavy request costs `target_ms` ± `tolerance` of server CPU on this
/// server; the accepted probe (its `n` and measured CPU time) and every probe made.
pub fn calibrate(
    cx: &mut CellContext<'_>,
    spec: &workloads::Workload,
    target_ms: f64,
    tolerance: f64,
    start: u64,
) -> Result<(Probe, Vec<Probe>), MeasureError> {
    let key = format!("{}/{}", spec.id, cx.target);
    let mut n = LAST_N
        .lock()
        .ok()
        .and_then(|m| m.get(&key).copied())
        .unwrap_or(start)
        .clamp(MIN_N, MAX_N);
    let mut probes: Vec<Probe> = Vec::new();
    let mut window = PROBE_WINDOW;
    for _ in 0..MAX_PROBES {
        let p = probe(cx, spec, n, window)?;
        probes.push(p);
        if within(&p, target_ms, tolerance) {
            if let Ok(mut m) = LAST_N.lock() {
                m.insert(key, p.n);
            }
            return Ok((p, probes));
        }
        // Near the target with too few responses: the same n again, over a longer window.
        let near = (p.cpu_ms - target_ms).abs() <= tolerance * target_ms;
        let next = if near { n } else { next_n(&p, target_ms) };
        if !near && next == n {
            // Stuck at a contract limit.
            break;
        }
        window = next_window(&p, next);
        n = next;
    }
    let tried = probes
        .iter()
        .map(|p| format!("n={} → {:.1} ms ({} responses)", p.n, p.cpu_ms, p.requests))
        .collect::<Vec<_>>()
        .join(", ");
    Err(MeasureError::Failed(format!(
        "{}: could not calibrate the heavy /cpu request to {target_ms} ms ± {:.0}% of server CPU in {} probes ({tried}); the contract allows n in [1, {MAX_N}]",
        spec.id,
        tolerance * 100.0,
        probes.len()
    )))
}

/// The `/io`-alone baseline window: half the measuring window, at least a second.
pub fn baseline_duration(t: &Timing) -> Duration {
    (t.duration / 2).max(Duration::from_secs(1))
}

/// The blocking ratio: the `/io` p99 rise the heavy requests caused, in units of one heavy
/// request's CPU time (~0: the cheap requests did not wait; ~1: each waited a whole heavy request).
pub fn blocking_ratio(p99_alone_ms: f64, p99_with_ms: f64, heavy_cpu_ms: f64) -> Option<f64> {
    (p99_alone_ms.is_finite() && p99_with_ms.is_finite() && heavy_cpu_ms > 0.0)
        .then(|| (p99_with_ms - p99_alone_ms) / heavy_cpu_ms)
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

    /// How the heavy request is sized: `heavy_n = "calibrated"` → [`Heavy::Calibrated`].
    pub fn heavy_kind(&self) -> Heavy {
        let w = &self.spec;
        match w.param("heavy_n") {
            Some("calibrated") => Heavy::Calibrated {
                target_ms: num_param(w, "heavy_cpu_target_ms"),
                tolerance: num_param(w, "heavy_cpu_tolerance"),
                start: num_param(w, "heavy_n_start"),
            },
            _ => Heavy::Fixed(num_param(w, "heavy_n")),
        }
    }

    /// The heavy request's path as the plan shows it (`n` named when it is calibrated).
    fn heavy_path(&self) -> String {
        match self.heavy_kind() {
            Heavy::Fixed(n) => heavy_at(&self.spec, n).path,
            Heavy::Calibrated { target_ms, .. } => {
                format!("/cpu?n=<calibrated to {target_ms} ms of server CPU>")
            }
        }
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
            self.heavy_path(),
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
        let mut m = BTreeMap::from([
            ("mode".into(), "open".into()),
            ("path".into(), self.io().path),
            ("ms".into(), p.ms.to_string()),
            ("io_rate_rps".into(), p.io_rate.to_string()),
            ("io_connections".into(), p.io_connections.to_string()),
            ("heavy_path".into(), self.heavy_path()),
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
        ]);
        match self.heavy_kind() {
            Heavy::Fixed(n) => {
                m.insert("heavy_n".into(), n.to_string());
                m.insert(
                    "heavy_cpu".into(),
                    "measured per repeat by serial probes (figure heavy_cpu_ms)".into(),
                );
            }
            Heavy::Calibrated {
                target_ms,
                tolerance,
                start,
            } => {
                m.insert("heavy_n".into(), "calibrated".into());
                m.insert("heavy_cpu_target_ms".into(), target_ms.to_string());
                m.insert("heavy_cpu_tolerance".into(), tolerance.to_string());
                m.insert("heavy_n_start".into(), start.to_string());
                m.insert(
                    "heavy_cpu".into(),
                    "calibrated per repeat by serial probes (figures heavy_n, heavy_cpu_ms)".into(),
                );
            }
        }
        m
    }

    fn estimate(&self, t: &Timing) -> Duration {
        // Probes: one for a fixed n; a calibration converges in ~3 (1 on later repeats).
        let probes = match self.heavy_kind() {
            Heavy::Fixed(_) => 1,
            Heavy::Calibrated { .. } => 3,
        };
        t.warmup * 2
            + t.duration
            + baseline_duration(t)
            + Duration::from_millis(500)
            + (PROBE_WINDOW + PROBE_WARMUP + Duration::from_millis(100)) * probes
    }

    fn estimate_repeats(&self, t: &Timing, repeats: u32) -> Duration {
        match self.heavy_kind() {
            // The first repeat converges in ~3 probes; later ones start from its n ([`LAST_N`])
            // and accept it in ~1. The db run of 2026-12-06 (`--workloads
            // db,fortunes,crud,mixed-time`, 10 targets) took 973 s; this plans it at 951 s (the
            // database's start and resets are not counted), 3 probes every repeat at 1,006 s.
            Heavy::Calibrated { .. } if repeats > 1 => {
                self.estimate(t)
                    + (self.estimate(t)
                        - (PROBE_WINDOW + PROBE_WARMUP + Duration::from_millis(100)) * 2)
                        * (repeats - 1)
            }
            _ => self.estimate(t) * repeats,
        }
    }

    fn measure(&self, cx: &mut CellContext<'_>) -> Result<Measured, MeasureError> {
        let p = self.p();
        // What one heavy request costs this server, measured on it before the window.
        let (priced, probes) = match self.heavy_kind() {
            Heavy::Fixed(n) => {
                let first = probe(cx, &self.spec, n, PROBE_WINDOW)?;
                if first.requests >= MIN_ACCEPTED_RESPONSES {
                    (first, vec![first])
                } else {
                    // Heavy in this runtime (~100 ms of CPython): a longer window.
                    let again = probe(cx, &self.spec, n, next_window(&first, n))?;
                    (again, vec![first, again])
                }
            }
            Heavy::Calibrated {
                target_ms,
                tolerance,
                start,
            } => calibrate(cx, &self.spec, target_ms, tolerance, start)?,
        };
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
            endpoint: heavy_at(&self.spec, priced.n),
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
        m.repeat.set("heavy_n", Some(priced.n as f64));
        m.repeat.set("heavy_cpu_ms", Some(priced.cpu_ms));
        m.repeat.set(
            "blocking_ratio",
            blocking_ratio(m.ladder[0].p99_ms, m.ladder[1].p99_ms, priced.cpu_ms),
        );
        if priced.requests < MIN_ACCEPTED_RESPONSES {
            m.warnings.push(format!(
                "heavy /cpu priced from {} response(s) in its probe: its CPU time is rough",
                priced.requests
            ));
        }
        m.repeat.report_json = serde_json::json!({
            "probes": probes.iter().map(|p| serde_json::json!({"n": p.n, "cpu_ms": p.cpu_ms, "responses": p.requests})).collect::<Vec<_>>(),
            "io_alone": b_r,
            "io": serde_json::from_str::<serde_json::Value>(&m.repeat.report_json).unwrap_or_default(),
            "heavy": heavy_r,
        })
        .to_string();
        Ok(m)
    }
}
