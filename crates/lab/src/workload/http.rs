//! The HTTP side shared by today's workloads: the contract endpoints with the exact answer every
//! response is validated against (loadgen's `--expect-*` checks: a wrong answer is counted, never
//! accepted), and driving one or more concurrent `loadgen` runs with Ctrl-C, a live line, and the
//! server's measuring window aligned on the engine's.

use std::time::{Duration, Instant};

use loadgen::engine::Phase;
use loadgen::{
    BodyExpectation, LoadConfig, Report, StatusExpectation, StopCondition, Target, Validation,
};
use sha2::{Digest, Sha256};

use super::{CellContext, MeasureError, ServerUsage};
use crate::cpuload::{self, CpuSnapshot};

/// Per-request timeout of every workload run: generous against the SLO, still bounded.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A contract endpoint with its parameters and the answer it must give: a request of the
/// workloads registry with its templates filled in.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The request's name in the registry (`plaintext`, `json`, `io`, `cpu`, `hash`, `heavy`…).
    pub name: &'static str,
    /// Path and query, e.g. `/cpu?n=100000`.
    pub path: String,
    pub validation: Validation,
}

/// Why a registry request cannot be made an endpoint: which request, and what of it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EndpointError {
    /// A template names a parameter that is not given (the message names it).
    #[error("{message}")]
    Template { request: String, message: String },
    #[error("request {request:?}: no n= in {path:?} to compute its answer")]
    NoN { request: String, path: String },
    #[error("request {request:?}: {source}")]
    Vector {
        request: String,
        source: VectorRangeError,
    },
    #[error("request {request:?}: no client computes {computed:?}")]
    UnknownComputed { request: String, computed: String },
    #[error("request {request:?}: {reason}")]
    Regex { request: String, reason: String },
}

/// An expected vector result that a server would print with an exponent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("vector result {expected} is outside the range printed without an exponent (0, or 1e-4 to 1e15)")]
pub struct VectorRangeError {
    pub expected: f64,
}

impl Endpoint {
    /// A registry request with its templates filled from `param` (the workload's parameters):
    /// the path, the expected status and the body check. Answers the request lists as
    /// `computed` are computed here from the path's `n` query parameter (`cpu_result`:
    /// [`cpu_result`]; `sha256`: [`hash_hex`]).
    pub fn from_request(
        req: &workloads::Request,
        param: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Endpoint, EndpointError> {
        let request = || req.name.to_string();
        let template = |message: String| EndpointError::Template {
            request: request(),
            message,
        };
        let path = workloads::fill(req.path, param).map_err(template)?;
        let n = || -> Result<u64, EndpointError> {
            path.split_once('?')
                .and_then(|(_, q)| q.split('&').find_map(|kv| kv.strip_prefix("n=")))
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| EndpointError::NoN {
                    request: request(),
                    path: path.clone(),
                })
        };
        let mut computed = std::collections::BTreeMap::new();
        for c in req.computed {
            let v = match *c {
                "cpu_result" => cpu_result(n()?).to_string(),
                "sha256" => hash_hex(n()?),
                "vector_result" => vector_result_regex(crate::check::db::vector_result(n()?))
                    .map_err(|source| EndpointError::Vector {
                        request: request(),
                        source,
                    })?,
                other => {
                    return Err(EndpointError::UnknownComputed {
                        request: request(),
                        computed: other.to_string(),
                    })
                }
            };
            computed.insert(*c, v);
        }
        let values = |k: &str| computed.get(k).cloned().or_else(|| param(k));
        let body = match req.body_check {
            None => None,
            Some(workloads::BodyCheck::Exact(t)) => Some(BodyExpectation::Exact(
                bytes::Bytes::from(workloads::fill(t, &values).map_err(template)?),
            )),
            Some(workloads::BodyCheck::Regex(t)) => Some(
                BodyExpectation::regex(&workloads::fill(t, &values).map_err(template)?).map_err(
                    |e| EndpointError::Regex {
                        request: request(),
                        reason: e.to_string(),
                    },
                )?,
            ),
        };
        Ok(Endpoint {
            name: req.name,
            path,
            validation: Validation {
                status: StatusExpectation::Exact(req.expect_status),
                body,
            },
        })
    }

    /// A registry workload's request, filled from the workload's own parameters.
    pub fn of(w: &workloads::Workload, req: &workloads::Request) -> Endpoint {
        Endpoint::from_request(req, &|k| w.param(k).map(str::to_string))
            .unwrap_or_else(|e| panic!("workload {}: {e}", w.id))
    }

    fn builtin(req: &workloads::Request, key: &str, value: Option<u64>) -> Endpoint {
        Endpoint::from_request(req, &|k| {
            (k == key).then(|| value.map(|v| v.to_string())).flatten()
        })
        .expect("the registry's built-in requests fill")
    }

    pub fn plaintext() -> Endpoint {
        Endpoint::builtin(&workloads::builtin::PLAINTEXT, "", None)
    }

    pub fn json() -> Endpoint {
        Endpoint::builtin(&workloads::builtin::JSON_REQ, "", None)
    }

    /// `/io?ms=N`: the upstream's `{"ms":N,"seq":K}`, keys in either order.
    pub fn io(ms: u64) -> Endpoint {
        Endpoint::builtin(&workloads::builtin::IO, "ms", Some(ms))
    }

    /// `/cpu?n=N`: `{"n":N,"result":R}` with R computed here.
    pub fn cpu(n: u64) -> Endpoint {
        Endpoint::builtin(&workloads::builtin::CPU, "n", Some(n))
    }

    /// `/hash?n=N`: `{"n":N,"sha256":"…"}` with the digest computed here.
    pub fn hash(n: u64) -> Endpoint {
        Endpoint::builtin(&workloads::builtin::HASH, "n", Some(n))
    }

    /// `/vector?n=N`: `{"n":N,"result":R}`, R within a relative 1e-9 of the sum computed here.
    pub fn vector(n: u64) -> Endpoint {
        Endpoint::builtin(&workloads::builtin::VECTOR, "n", Some(n))
    }
}

/// The contract's `/cpu` result: x = (x·31 + i) mod 2³² for i in 0..n.
pub fn cpu_result(n: u64) -> u32 {
    let mut x: u32 = 0;
    for i in 0..n {
        x = x.wrapping_mul(31).wrapping_add(i as u32);
    }
    x
}

/// The contract's `/hash` answer: N chained SHA-256 digests of a 1 KiB buffer.
pub fn hash_hex(n: u64) -> String {
    let mut buf: Vec<u8> = (0..1024u32).map(|i| (i % 251) as u8).collect();
    let mut d = [0u8; 32];
    for _ in 0..n {
        d = Sha256::digest(&buf).into();
        buf[..32].copy_from_slice(&d);
    }
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The contract's relative tolerance on `/vector`'s float result (docs/contract.md).
pub const VECTOR_TOLERANCE: f64 = 1e-9;

/// A regular expression (no anchors, one group-free alternation) matching the JSON decimals
/// within [`VECTOR_TOLERANCE`] of `expected` (absolute near zero) that a server may print:
/// shortest round-trip (`332833.5`, `332833.49999999994`), trailing zeros or none (`1000`,
/// `1000.0`). The accepted set is the numbers whose decimal expansion, cut after k digits,
/// falls inside the interval, with k chosen so the interval spans at least 4 steps: every
/// value in the middle half of the tolerance passes, nothing outside it. Exponent notation is
/// refused (an error for an `expected` a server would print with one: below 1e-4, from 1e15).
pub fn vector_result_regex(expected: f64) -> Result<String, VectorRangeError> {
    if !expected.is_finite()
        || expected < 0.0
        || (expected != 0.0 && !(1e-4..1e15).contains(&expected))
    {
        return Err(VectorRangeError { expected });
    }
    let tol = VECTOR_TOLERANCE * expected.max(1.0);
    let (lo, hi) = ((expected - tol).max(0.0), expected + tol);
    let mut k = 0u32;
    while (hi - lo) * 10f64.powi(k as i32) < 4.0 {
        k += 1;
    }
    let s = 10u128.pow(k);
    let sf = s as f64;
    let a = (lo * sf).ceil() as u128;
    let b = (hi * sf).floor() as u128;
    let mut alts = Vec::new();
    for t in a..b {
        let int = t / s;
        if k == 0 {
            alts.push(format!(r"{int}(?:\.\d*)?"));
            continue;
        }
        let frac = format!("{:0width$}", t % s, width = k as usize);
        alts.push(format!(r"{int}\.{frac}\d*"));
        let short = frac.trim_end_matches('0');
        if short.is_empty() {
            alts.push(format!(r"{int}(?:\.0*)?"));
        } else {
            alts.push(format!(r"{int}\.{short}0*"));
        }
    }
    Ok(alts.join("|"))
}

/// One load run a workload wants.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub endpoint: Endpoint,
    pub connections: usize,
    /// Open loop at this rate; `None`: closed loop.
    pub rate: Option<f64>,
    pub duration: Duration,
    pub warmup: Duration,
}

impl LoadSpec {
    pub fn config(
        &self,
        base_url: &str,
        client_cpus: &[usize],
    ) -> Result<LoadConfig, MeasureError> {
        let url = format!("{base_url}{}", self.endpoint.path);
        let mut target = Target::parse(&url).map_err(|e| MeasureError::Failed(e.to_string()))?;
        // A `--target-url` the user opted into with `--allow-remote` (crate::remote).
        target.allow_remote = crate::remote::load_allowed(&target);
        let mut config = LoadConfig::new(target);
        config.connections = self.connections;
        config.threads = client_cpus.len().max(1).min(self.connections);
        config.pin = (!client_cpus.is_empty()).then(|| client_cpus.to_vec());
        config.stop = StopCondition {
            duration: Some(self.duration),
            requests: None,
        };
        config.warmup = self.warmup;
        config.rate = self.rate;
        config.timeout = REQUEST_TIMEOUT;
        // Lossless histograms in every stored report, so repeats can be merged exactly later.
        config.keep_histograms = true;
        config.validation = self.endpoint.validation.clone();
        Ok(config)
    }
}

/// Concurrent runs with the server's usage over their common measuring window.
pub struct Driven {
    pub reports: Vec<Report>,
    pub usage: ServerUsage,
    /// Busy fraction of each service, in the order of `cx.services`.
    pub services_busy: Vec<Option<f64>>,
    /// Busy fraction of the client CPUs (engine, upstream, anything else) over the window.
    pub client_cpus_busy: Option<f64>,
    /// Share of the server CPUs used by other processes than the server over the window.
    pub server_foreign: Option<f64>,
}

impl Driven {
    /// The busiest service's busy fraction.
    pub fn upstream_busy(&self) -> Option<f64> {
        self.services_busy
            .iter()
            .flatten()
            .copied()
            .reduce(f64::max)
    }
}

/// Runs `specs` at once (all with the same warm-up and duration) and measures the server over
/// the measuring window. Ctrl-C stops the runs and returns [`MeasureError::Interrupted`]; a server
/// that died returns [`MeasureError::ServerDied`].
pub fn drive(
    cx: &mut CellContext<'_>,
    specs: &[LoadSpec],
    label: &str,
) -> Result<Driven, MeasureError> {
    drive_with(cx, specs, label, |_| {})
}

/// [`drive`] with each engine configuration adjusted first (e.g. `io-wait`'s longer open-loop
/// drain, so that requests with a 2 s wait sent at the end of the window are answered, not cut
/// off).
pub fn drive_with(
    cx: &mut CellContext<'_>,
    specs: &[LoadSpec],
    label: &str,
    adjust: impl Fn(&mut loadgen::LoadConfig),
) -> Result<Driven, MeasureError> {
    let connect = cx.client_connect();
    let configs = specs
        .iter()
        .map(|s| {
            s.config(&cx.base_url, cx.client_cpus).map(|mut c| {
                c.connect = connect;
                adjust(&mut c);
                c
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut handles = Vec::with_capacity(configs.len());
    for c in configs {
        match loadgen::start(c) {
            Ok(h) => handles.push(h),
            Err(e) => {
                for h in &handles {
                    h.stop();
                }
                cx.meter.check_alive().map_err(MeasureError::died)?;
                return Err(MeasureError::Failed(format!("load engine: {e}")));
            }
        }
    }
    let total = specs[0].warmup + specs[0].duration;
    let started = Instant::now();
    let mut in_window = false;
    let mut cpu_start: Option<(Instant, CpuSnapshot, CpuSnapshot)> = None;
    let mut last_live = Instant::now() - Duration::from_secs(1);
    loop {
        if cx.stop.is_set() {
            for h in &handles {
                h.stop();
            }
            for h in handles {
                let _ = h.join();
            }
            if in_window {
                let _ = cx.meter.end();
            }
            return Err(MeasureError::Interrupted);
        }
        if !in_window && handles[0].progress().phase == Phase::Measuring {
            cpu_start = Some((
                Instant::now(),
                cpuload::snapshot(cx.client_cpus),
                cpuload::snapshot(cx.server_cpus),
            ));
            cx.meter.begin();
            for s in cx.services.values_mut() {
                s.begin();
            }
            in_window = true;
        }
        if handles.iter().all(|h| h.is_finished()) {
            break;
        }
        if last_live.elapsed() >= Duration::from_millis(250) {
            let p = handles[0].progress();
            let phase = match p.phase {
                Phase::WarmUp => super::Phase::WarmUp,
                Phase::Measuring => super::Phase::Measuring,
            };
            (cx.live)(super::Progress {
                phase: Some(phase),
                step: Some(label.to_string()),
                elapsed_s: Some(started.elapsed().as_secs_f64().min(total.as_secs_f64())),
                total_s: Some(total.as_secs_f64()),
                figures: [("responses".to_string(), p.completed as f64)].into(),
            });
            last_live = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(if in_window { 20 } else { 2 }));
    }
    if !in_window {
        cpu_start = Some((
            Instant::now(),
            cpuload::snapshot(cx.client_cpus),
            cpuload::snapshot(cx.server_cpus),
        ));
        cx.meter.begin();
    }
    let usage = cx.meter.end();
    let (client_cpus_busy, server_foreign) = match cpu_start {
        Some((at, client0, server0)) => cx.client_and_foreign(at, client0, server0, usage.cpu_s),
        None => (None, None),
    };
    let services_busy = cx.services.values_mut().map(|s| s.busy()).collect();
    let mut reports = Vec::with_capacity(handles.len());
    for h in handles {
        reports.push(
            h.join()
                .map_err(|e| MeasureError::Failed(format!("load engine: {e}")))?,
        );
    }
    cx.meter.check_alive().map_err(MeasureError::died)?;
    Ok(Driven {
        reports,
        usage,
        services_busy,
        client_cpus_busy,
        server_foreign,
    })
}

/// Errors plus wrong answers of a report.
pub fn bad_responses(r: &Report) -> u64 {
    r.requests.total_errors + r.requests.failed_status + r.requests.failed_body
}

/// A one-line account of what went wrong in a report, for a flagged cell.
pub fn describe_bad(r: &Report) -> String {
    let mut parts = Vec::new();
    if r.requests.failed_status > 0 {
        parts.push(format!("{} wrong status", r.requests.failed_status));
    }
    if r.requests.failed_body > 0 {
        parts.push(format!("{} wrong body", r.requests.failed_body));
    }
    for (kind, n) in &r.requests.errors {
        if *n > 0 {
            parts.push(format!("{n} {kind} errors"));
        }
    }
    format!(
        "{} of {} requests: {}",
        bad_responses(r),
        r.requests.sent,
        parts.join(", ")
    )
}

/// Milliseconds at percentile `p` of a latency summary.
pub fn ms_at(s: Option<&loadgen::report::LatencyStats>, p: f64) -> Option<f64> {
    s.and_then(|s| s.at(p)).map(|us| us / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_result_matches_the_contract_examples() {
        assert_eq!([0, 1, 2, 3, 10].map(cpu_result), [0, 0, 1, 33, 165029893]);
    }

    #[test]
    fn hash_of_zero_is_zeros_and_of_one_is_the_buffer_digest() {
        assert_eq!(hash_hex(0), "0".repeat(64));
        let buf: Vec<u8> = (0..1024u32).map(|i| (i % 251) as u8).collect();
        let one: String = Sha256::digest(&buf)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hash_hex(1), one);
        assert_ne!(hash_hex(2), hash_hex(1));
    }

    #[test]
    fn vector_answers_within_the_tolerance_pass_and_others_fail() {
        let ok = |e: &Endpoint, body: &str| e.validation.check(200, body.as_bytes()).is_ok();
        let n = 1_000_000u64;
        let r = crate::check::db::vector_result(n);
        let e = Endpoint::vector(n);
        // NumPy's pairwise dot and a plain loop differ in the last bits: both pass, printed the
        // way Python (repr) and JavaScript (shortest round trip) print them.
        let xs: Vec<f64> = (0..n).map(|i| (i % 1000) as f64 / 1000.0).collect();
        let pairwise: f64 = xs
            .chunks(128)
            .map(|c| c.iter().map(|x| x * x).sum::<f64>())
            .sum();
        for v in [r, pairwise, r * (1.0 + 4e-10), r * (1.0 - 4e-10), 332833.5] {
            assert!(ok(&e, &format!(r#"{{"n":{n},"result":{v}}}"#)), "{v}");
            assert!(
                ok(&e, &format!(r#"{{"result": {v:?}, "n": {n}}}"#)),
                "{v:?}"
            );
        }
        assert!(ok(&e, r#"{"n":1000000,"result":332833.50}"#));
        for v in [
            r * (1.0 + 2e-9),
            r * (1.0 - 2e-9),
            r + 1.0,
            r * 10.0,
            r / 10.0,
        ] {
            assert!(!ok(&e, &format!(r#"{{"n":{n},"result":{v}}}"#)), "{v}");
        }
        assert!(!ok(&e, r#"{"n":999999,"result":332833.5}"#));
        assert!(!ok(&e, r#"{"n":1000000,"result":"332833.5"}"#));
        // Integers printed without a fraction, and zero.
        let one = Endpoint::from_request(&workloads::builtin::VECTOR, &|k| {
            (k == "n").then(|| "0".to_string())
        })
        .unwrap();
        assert!(ok(&one, r#"{"n":0,"result":0.0}"#));
        assert!(ok(&one, r#"{"n":0,"result":0}"#));
        assert!(!ok(&one, r#"{"n":0,"result":0.1}"#));
        let re = BodyExpectation::regex(&format!("^(?:{})$", vector_result_regex(1000.0).unwrap()))
            .unwrap();
        for good in ["1000", "1000.0", "999.9999999999", "1000.0000000004"] {
            assert!(re.matches(good.as_bytes()), "{good}");
        }
        for bad in ["1000.1", "999.99", "1e3", "10000", "100"] {
            assert!(!re.matches(bad.as_bytes()), "{bad}");
        }
        assert!(vector_result_regex(1e-6).is_err());
        assert!(vector_result_regex(f64::NAN).is_err());
    }

    #[test]
    fn validations_accept_right_answers_in_either_serialisation_and_refuse_wrong_ones() {
        let ok = |e: &Endpoint, body: &str| e.validation.check(200, body.as_bytes()).is_ok();
        let j = Endpoint::json();
        assert!(ok(&j, r#"{"message":"Hello, World!"}"#));
        assert!(ok(&j, r#"{"message": "Hello, World!"}"#));
        assert!(!ok(&j, r#"{"message":"Hello, World"}"#));
        assert!(j
            .validation
            .check(500, br#"{"message":"Hello, World!"}"#)
            .is_err());
        let io = Endpoint::io(10);
        assert!(ok(&io, r#"{"ms":10,"seq":4711}"#));
        assert!(ok(&io, r#"{"seq": 4711, "ms": 10}"#));
        assert!(!ok(&io, r#"{"ms":1,"seq":4711}"#));
        let c = Endpoint::cpu(10);
        assert!(ok(&c, r#"{"n":10,"result":165029893}"#));
        assert!(!ok(&c, r#"{"n":10,"result":165029894}"#));
        let h = Endpoint::hash(0);
        assert!(ok(
            &h,
            &format!(r#"{{"n": 0, "sha256": "{}"}}"#, "0".repeat(64))
        ));
        assert!(!ok(
            &h,
            &format!(r#"{{"n":0,"sha256":"{}"}}"#, "1".repeat(64))
        ));
        assert!(ok(&Endpoint::plaintext(), "Hello, World!"));
        assert!(!ok(&Endpoint::plaintext(), "Hello, World!\n"));
        // mixed's heavy request computes its answer from its own n.
        let mixed = workloads::registry().workload("mixed").copied().unwrap();
        let heavy = Endpoint::of(&mixed, mixed.request("heavy").unwrap());
        assert_eq!(heavy.path, "/cpu?n=1000000");
        let r = cpu_result(1_000_000);
        assert!(ok(&heavy, &format!(r#"{{"result":{r},"n":1000000}}"#)));
        assert!(!ok(&heavy, &format!(r#"{{"n":100000,"result":{r}}}"#)));
    }

    /// The patterns the lab checked before they were registry data, kept here to prove the
    /// registry's templates give the same ones.
    #[test]
    fn registry_requests_give_the_patterns_the_lab_always_used() {
        let pat = |e: &Endpoint| match &e.validation.body {
            Some(BodyExpectation::Regex(r)) => r.as_str().to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            pat(&Endpoint::json()),
            r#"^\s*\{\s*"message"\s*:\s*"Hello, World!"\s*\}\s*$"#
        );
        let ms = 10;
        assert_eq!(
            pat(&Endpoint::io(ms)),
            format!(
                r#"^\s*\{{\s*(?:"ms"\s*:\s*{ms}\s*,\s*"seq"\s*:\s*\d+|"seq"\s*:\s*\d+\s*,\s*"ms"\s*:\s*{ms})\s*\}}\s*$"#
            )
        );
        let (n, r) = (100_000, cpu_result(100_000));
        assert_eq!(
            pat(&Endpoint::cpu(n)),
            format!(
                r#"^\s*\{{\s*(?:"n"\s*:\s*{n}\s*,\s*"result"\s*:\s*{r}|"result"\s*:\s*{r}\s*,\s*"n"\s*:\s*{n})\s*\}}\s*$"#
            )
        );
        let (n, h) = (500, hash_hex(500));
        assert_eq!(
            pat(&Endpoint::hash(n)),
            format!(
                r#"^\s*\{{\s*(?:"n"\s*:\s*{n}\s*,\s*"sha256"\s*:\s*"{h}"|"sha256"\s*:\s*"{h}"\s*,\s*"n"\s*:\s*{n})\s*\}}\s*$"#
            )
        );
        assert_eq!(Endpoint::cpu(7).path, "/cpu?n=7");
        assert!(matches!(
            &Endpoint::plaintext().validation.body,
            Some(BodyExpectation::Exact(b)) if &b[..] == b"Hello, World!"
        ));
    }
}
