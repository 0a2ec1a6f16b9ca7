//! k6: [`export`] writes a script that sends a [`Plan`]'s requests with the same checks from the
//! `constant-arrival-rate` executor (iterations start on a fixed schedule; one with no free VU
//! is dropped and counted in `dropped_iterations`), with thresholds from the SLO; [`import`] reads
//! the NDJSON that `k6 run --out json=FILE` writes, one file per load machine, and computes the
//! percentiles over every raw `http_req_duration` point of every file (exact across machines,
//! never an average of per-machine percentiles).
//!
//! The NDJSON form read is the one k6's documentation shows (Grafana k6 docs, "Results output →
//! Real-time → JSON": `{"type":"Point","data":{"time":…,"value":…,"tags":{…}},"metric":…}`
//! lines, `Metric` lines declaring each metric); lines of other types are skipped.

use std::collections::BTreeMap;
use std::path::Path;

use crate::imported::{Imported, Latency, LatencyKind, Origin};
use crate::plan::{answer_var, marker, Check, Ids, Plan, FLOAT_TOLERANCE};
use crate::time::{format_utc, parse_rfc3339};
use crate::{lit, Error};

/// The script's scenario name (also a tag on every point).
pub const SCENARIO: &str = "stackwise";

/// The one check of the exported script: a failed one is a request with a wrong answer.
pub const CHECK: &str = "stackwise answer";

/// The k6 script for `plan`.
pub fn export(plan: &Plan, generator: &str) -> String {
    let (rate, unit) = if plan.rate.fract() == 0.0 {
        (plan.rate as u64, "1s")
    } else {
        ((plan.rate * 60.0).round().max(1.0) as u64, "1m")
    };
    let mut o = String::new();
    o.push_str(&format!(
        "// stackwise workload {} for k6 ({generator}).\n// {}\n//\n",
        plan.workload,
        plan.description.replace('\n', " ")
    ));
    o.push_str(&format!(
        "// constant-arrival-rate: {rate} iterations per {unit} (one request each), started on schedule by\n\
         // {} pre-allocated VUs (ceil(rate x 2 x SLO)); an iteration with no free VU is dropped and counted in\n\
         // dropped_iterations, not delayed. Responses are checked as stackwise checks them.\n//\n\
         // Run on each load machine (split the rate between them), then import every file together:\n\
         //   k6 run --out json=k6-$(hostname).json {}.k6.js\n\
         //   stackwise import k6 k6-*.json\n",
        plan.users, plan.workload
    ));
    for n in &plan.notes {
        o.push_str(&format!("// Note: {n}\n"));
    }
    o.push_str(
        "\nimport http from 'k6/http';\nimport { check } from 'k6';\nimport crypto from 'k6/crypto';\nimport exec from 'k6/execution';\n\n",
    );
    o.push_str(&format!(
        "const BASE = {};\n\nexport const options = {{\n  scenarios: {{\n    {SCENARIO}: {{\n      executor: 'constant-arrival-rate',\n      rate: {rate},\n      timeUnit: '{unit}',\n      duration: '{}s',\n      preAllocatedVUs: {},\n      maxVUs: {},\n    }},\n  }},\n  thresholds: {{\n    http_req_duration: ['p(99)<{}'],\n    checks: ['rate==1'],\n    dropped_iterations: ['count==0'],\n  }},\n  tags: {{\n    stackwise_workload: {},\n    stackwise_rate_rps: '{}',\n    stackwise_slo_ms: '{}',\n    stackwise_users: '{}',\n    stackwise_duration_s: '{}',\n    stackwise_generator: {},\n  }},\n}};\n\n",
        lit(&plan.base_url),
        plan.duration_s,
        plan.users,
        plan.users,
        plan.slo_ms,
        lit(&plan.workload),
        plan.rate,
        plan.slo_ms,
        plan.users,
        plan.duration_s,
        lit(generator),
    ));
    o.push_str(JS_ANSWERS);
    o.push_str("const sha256Hex = (buffer) => crypto.sha256(buffer, 'hex');\n");
    for (name, n) in plan.answers() {
        let e = match name.as_str() {
            "sha256" => format!("sha256Answer({n}, sha256Hex)"),
            "vector_result" => format!("vectorResult({n})"),
            _ => format!("String(cpuResult({n}))"),
        };
        o.push_str(&format!("const {} = {e};\n", answer_var(&name, n)));
    }
    o.push_str("\nconst REQUESTS = [\n");
    for r in &plan.requests {
        let fill = |t: &str, regex: bool| {
            let mut e = lit(t);
            for (name, n) in &r.computed {
                let v = answer_var(name, *n);
                let v = if regex {
                    format!("escapeRegExp({v})")
                } else {
                    v
                };
                e = format!("{e}.split({}).join({v})", lit(&marker(name)));
            }
            e
        };
        let (exact, regex) = match &r.check {
            None => ("null".into(), "null".into()),
            Some(Check::Exact(t)) => (fill(t, false), "null".into()),
            // JavaScript has no inline flags: a leading `(?s)` (dot matches newlines) becomes
            // the `s` flag.
            Some(Check::Regex(t)) => match t.strip_prefix("(?s)") {
                Some(rest) => (
                    "null".into(),
                    format!("new RegExp({}, \"s\")", fill(rest, true)),
                ),
                None => ("null".into(), format!("new RegExp({})", fill(t, true))),
            },
        };
        let headers: Vec<String> = r
            .headers
            .iter()
            .map(|(k, v)| format!("{}: {}", lit(k), lit(v)))
            .collect();
        let float = r
            .float_answer
            .as_ref()
            .map_or("null".into(), |(name, n)| answer_var(name, *n));
        let ids = match r.ids {
            None => "null".to_string(),
            Some(Ids::Cycle { first, last }) => {
                format!("{{ kind: 'cycle', first: {first}, last: {last} }}")
            }
            Some(Ids::Once { base, per_process }) => {
                format!("{{ kind: 'once', base: {base}, perProcess: {per_process} }}")
            }
        };
        o.push_str(&format!(
            "  {{\n    name: {},\n    method: {},\n    path: {},\n    body: {},\n    headers: {{{}}},\n    status: {},\n    contentType: {},\n    exact: {exact},\n    regex: {regex},\n    floatAnswer: {float},\n    ids: {ids},\n    weight: {},\n  }},\n",
            lit(&r.name),
            lit(r.method),
            lit(&r.path),
            r.body.as_deref().map_or("null".into(), lit),
            headers.join(", "),
            r.expect_status,
            r.content_type.as_deref().map_or("null".into(), lit),
            r.weight
        ));
    }
    o.push_str("];\n");
    o.push_str(&format!(
        "\nconst FLOAT_TOLERANCE = {FLOAT_TOLERANCE:e};\nconst ID_MARKER = {};\n// This load process's number (0, 1, …: one per machine, `k6 run -e STACKWISE_INSTANCE=K`): its\n// ids to delete start at BASE + K × PER_PROCESS.\nconst INSTANCE = Number(__ENV.STACKWISE_INSTANCE || 0);\n",
        lit(&marker("id"))
    ));
    o.push_str(JS_MAIN);
    o
}

/// The JavaScript helpers of a k6 script: the contract's computed answers (`cpuResult`, `sha256Answer`).
pub const JS_ANSWERS: &str = r#"// The contract's /cpu loop (docs/contract.md): 32-bit unsigned arithmetic.
function cpuResult(n) {
  let x = 0;
  for (let i = 0; i < n; i++) x = (Math.imul(x, 31) + i) >>> 0;
  return x;
}

// The contract's /hash: SHA-256 of a 1 KiB buffer, n times, each digest written over its start.
function sha256Answer(n, hexDigest) {
  const buf = new Uint8Array(1024);
  for (let i = 0; i < 1024; i++) buf[i] = i % 251;
  let digest = '0'.repeat(64);
  for (let k = 0; k < n; k++) {
    digest = hexDigest(buf.buffer);
    for (let j = 0; j < 32; j++) buf[j] = parseInt(digest.substr(2 * j, 2), 16);
  }
  return digest;
}

// The contract's /vector: the sum of squares of x_i = (i mod 1000) / 1000, a plain loop.
function vectorResult(n) {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const x = (i % 1000) / 1000;
    s += x * x;
  }
  return s;
}

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

"#;

const JS_MAIN: &str = r#"
const TOTAL_WEIGHT = REQUESTS.reduce((sum, r) => sum + r.weight, 0);

function pick() {
  let x = Math.random() * TOTAL_WEIGHT;
  for (const r of REQUESTS) {
    x -= r.weight;
    if (x < 0) return r;
  }
  return REQUESTS[REQUESTS.length - 1];
}

// The path with its id filled (iterations are numbered across this process's VUs): cycled over
// rows that exist, or each id once.
function requestPath(req) {
  if (req.ids === null) return req.path;
  const i = exec.scenario.iterationInTest;
  const id =
    req.ids.kind === 'cycle'
      ? req.ids.first + (i % (req.ids.last - req.ids.first + 1))
      : req.ids.base + INSTANCE * req.ids.perProcess + i;
  return req.path.split(ID_MARKER).join(String(id));
}

// A float answer within the tolerance: the number the check's pattern captured.
function floatOk(req, body) {
  if (req.floatAnswer === null) return true;
  const m = req.regex.exec(body);
  const got = m ? parseFloat(m.slice(1).find((g) => g !== undefined)) : NaN;
  return Math.abs(got - req.floatAnswer) <= FLOAT_TOLERANCE * Math.max(Math.abs(req.floatAnswer), 1);
}

export default function () {
  const req = pick();
  const res = http.request(req.method, BASE + requestPath(req), req.body, {
    headers: req.headers,
    tags: { name: req.name },
    responseType: 'text',
  });
  const mediaType = ((res.headers['Content-Type'] || '').split(';')[0] || '').trim().toLowerCase();
  // One check per request (so a failed check is a failed request): status, content type, body.
  check(res, {
    'stackwise answer': (r) =>
      r.status === req.status &&
      (!req.contentType || mediaType === req.contentType) &&
      (req.exact === null || r.body === req.exact) &&
      (req.regex === null || req.regex.test(r.body || '')) &&
      floatOk(req, r.body || ''),
  });
}
"#;

/// What the user tells the import (each overrides what the points' tags say).
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub workload: Option<String>,
    pub target: Option<String>,
    pub target_url: Option<String>,
    pub tool_version: Option<String>,
}

#[derive(Debug, Default)]
struct Acc {
    durations: Vec<f64>,
    by_name: BTreeMap<String, (Vec<f64>, u64)>,
    reqs: u64,
    failed: u64,
    checks_failed: u64,
    dropped: u64,
    iterations: u64,
    first: Option<f64>,
    last: Option<f64>,
    tags: BTreeMap<String, String>,
    urls: BTreeMap<String, u64>,
    points: u64,
}

#[derive(serde::Deserialize)]
struct Line {
    #[serde(rename = "type")]
    kind: String,
    metric: Option<String>,
    data: Option<serde_json::Value>,
}

/// Reads the NDJSON files (one per load machine) of one run.
pub fn import(files: &[&Path], opts: &ImportOptions) -> Result<Imported, Error> {
    if files.is_empty() {
        return Err(Error::new("k6 import: give at least one NDJSON file"));
    }
    let mut acc = Acc::default();
    for f in files {
        let text =
            std::fs::read_to_string(f).map_err(|e| Error::new(format!("{}: {e}", f.display())))?;
        read_ndjson(&f.display().to_string(), &text, &mut acc)?;
    }
    let source = files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    finish(acc, files.len() as u32, source, opts)
}

fn read_ndjson(path: &str, text: &str, acc: &mut Acc) -> Result<(), Error> {
    for (i, line) in text.lines().enumerate() {
        let at = |what: String| Error::new(format!("{path}: line {}: {what}", i + 1));
        if line.trim().is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(line)
            .map_err(|e| at(format!("not a k6 JSON output line ({e})")))?;
        if l.kind != "Point" {
            continue;
        }
        let metric = l
            .metric
            .ok_or_else(|| at("a Point without \"metric\"".into()))?;
        let data = l
            .data
            .ok_or_else(|| at("a Point without \"data\"".into()))?;
        let value = data
            .get("value")
            .and_then(|v| v.as_f64())
            .ok_or_else(|| at(format!("{metric}: \"data.value\" is not a number")))?;
        let time = data
            .get("time")
            .and_then(|v| v.as_str())
            .ok_or_else(|| at(format!("{metric}: no \"data.time\"")))?;
        let t = parse_rfc3339(time)
            .ok_or_else(|| at(format!("{metric}: \"data.time\" {time:?} is not RFC 3339")))?;
        let tags = data.get("tags").and_then(|t| t.as_object());
        let tag = |k: &str| tags.and_then(|t| t.get(k)).and_then(|v| v.as_str());
        acc.points += 1;
        match metric.as_str() {
            "http_req_duration" => {
                if !value.is_finite() || value < 0.0 {
                    return Err(at(format!("http_req_duration {value} is not a duration")));
                }
                acc.durations.push(value);
                let name = tag("name").unwrap_or("(untagged)").to_string();
                acc.by_name.entry(name).or_default().0.push(value);
                if let Some(u) = tag("url") {
                    *acc.urls.entry(origin_of_url(u)).or_default() += 1;
                }
                if let Some(t) = tags {
                    for (k, v) in t {
                        if let (true, Some(v)) = (k.starts_with("stackwise_"), v.as_str()) {
                            acc.tags.entry(k.clone()).or_insert_with(|| v.to_string());
                        }
                    }
                }
            }
            "http_reqs" => {
                acc.reqs += value as u64;
                acc.first = Some(acc.first.map_or(t, |f| f.min(t)));
                acc.last = Some(acc.last.map_or(t, |l| l.max(t)));
            }
            "http_req_failed" if value != 0.0 => {
                acc.failed += 1;
                let name = tag("name").unwrap_or("(untagged)").to_string();
                acc.by_name.entry(name).or_default().1 += 1;
            }
            "checks" if value == 0.0 && tag("check").is_none_or(|c| c == CHECK) => {
                acc.checks_failed += 1;
            }
            "dropped_iterations" => acc.dropped += value as u64,
            "iterations" => acc.iterations += value as u64,
            _ => {}
        }
    }
    Ok(())
}

fn origin_of_url(u: &str) -> String {
    let scheme_end = u.find("://").map_or(0, |i| i + 3);
    match u[scheme_end..].find('/') {
        Some(i) => u[..scheme_end + i].to_string(),
        None => u.to_string(),
    }
}

/// The `p`-th percentile (0–100) of sorted values, nearest rank: the smallest value with at
/// least p% of the values at or below it.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn latency(values: &mut [f64], failures: u64) -> Latency {
    values.sort_by(|a, b| a.partial_cmp(b).expect("durations are finite"));
    Latency {
        p50_ms: percentile(values, 50.0),
        p99_ms: percentile(values, 99.0),
        requests: values.len() as u64,
        failures,
    }
}

fn finish(
    mut acc: Acc,
    machines: u32,
    source: String,
    opts: &ImportOptions,
) -> Result<Imported, Error> {
    if acc.durations.is_empty() {
        return Err(Error::new(format!(
            "{source}: no http_req_duration point in {} points: is this the output of `k6 run --out json=FILE`?",
            acc.points
        )));
    }
    let tag_num = |k: &str| acc.tags.get(k).and_then(|v| v.parse::<f64>().ok());
    let workload = opts
        .workload
        .clone()
        .or_else(|| acc.tags.get("stackwise_workload").cloned())
        .ok_or_else(|| {
            Error::new(format!(
                "{source}: no stackwise_workload tag (not a script from `stackwise export k6`): give --workload"
            ))
        })?;
    let offered = tag_num("stackwise_rate_rps");
    let slo = tag_num("stackwise_slo_ms");
    let users = tag_num("stackwise_users").map(|u| u as u64);
    let span = match (acc.first, acc.last) {
        (Some(a), Some(b)) if b > a => Some(b - a),
        _ => None,
    };
    let requests = if acc.reqs > 0 {
        acc.reqs
    } else {
        acc.durations.len() as u64
    };
    // Over the scenario's duration when the script says it (requests are scheduled over it), else
    // over the span from the first to the last request.
    let window = tag_num("stackwise_duration_s")
        .filter(|d| *d > 0.0)
        .or(span);
    let achieved = window.map(|s| requests as f64 / s);
    // A wrong status, content type or body fails the script's one check; a transport error
    // fails it too (status 0). Other scripts: the larger of the two counts.
    let failed = acc.checks_failed.max(acc.failed);
    let mut warnings = vec![
        "latency from k6's raw http_req_duration points: exact percentiles over every request of every machine, measured from the actual send (connection set-up excluded), not from the scheduled start; dropped iterations are counted, not measured".to_string(),
    ];
    if failed > 0 {
        warnings.push(format!(
            "{} requests failed the check (wrong status, content type or answer), {} were failed by k6 (http_req_failed)",
            acc.checks_failed, acc.failed
        ));
    }
    if machines > 1 {
        // Each machine offers the rate in its script: the total is their sum.
        warnings.push(format!(
            "{machines} files (one per load machine) merged; the offered rate is each script's rate × {machines}"
        ));
    }
    let offered = offered.map(|o| o * machines as f64);
    if let (Some(off), Some(a)) = (offered, achieved) {
        if a < off * workloads::trust::MIN_ACHIEVED_SHARE {
            warnings.push(format!(
                "achieved {a:.1} req/s of the {off} offered (under {:.0}%)",
                workloads::trust::MIN_ACHIEVED_SHARE * 100.0
            ));
        }
    }
    let target_url = opts.target_url.clone().or_else(|| {
        // The URL most requests went to.
        acc.urls
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(u, _)| u.clone())
    });
    let mut per_request = BTreeMap::new();
    for (name, (mut v, f)) in std::mem::take(&mut acc.by_name) {
        per_request.insert(name, latency(&mut v, f));
    }
    Ok(Imported {
        origin: Origin {
            tool: "k6".into(),
            version: opts.tool_version.clone(),
            workers: Some(machines),
            target_url: target_url.clone(),
            source,
            generator: acc.tags.get("stackwise_generator").cloned(),
        },
        workload,
        target: opts
            .target
            .clone()
            .unwrap_or_else(|| crate::locust::default_target(target_url.as_deref())),
        offered_rps: offered,
        users,
        slo_ms: slo,
        started_at: acc.first.map(format_utc),
        finished_at: acc.last.map(format_utc),
        duration_s: window,
        achieved_rps: achieved,
        requests,
        failed,
        dropped: Some(acc.dropped),
        latency: latency(&mut acc.durations, failed),
        latency_kind: LatencyKind::ExactFromSend,
        per_request,
        failure_lines: Vec::new(),
        warnings,
    })
}

/// Reads NDJSON text (tests; `import` reads files).
pub fn import_text(parts: &[(&str, &str)], opts: &ImportOptions) -> Result<Imported, Error> {
    let mut acc = Acc::default();
    for (path, text) in parts {
        read_ndjson(path, text, &mut acc)?;
    }
    let source = parts.iter().map(|p| p.0).collect::<Vec<_>>().join(", ");
    finish(acc, parts.len() as u32, source, opts)
}

/// What `stackwise export k6` prints after writing the script (`file`): what was written, the
/// plan's notes, and the commands that run it on each machine and import the results. Nothing is
/// run.
pub fn how_to_run(p: &Plan, file: &str) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "wrote {file} ({} at {} req/s for {} s: constant-arrival-rate, {} VUs, p99 threshold {} ms)",
        p.workload, p.rate, p.duration_s, p.users, p.slo_ms
    );
    for n in &p.notes {
        let _ = writeln!(s, "note: {n}");
    }
    let f = crate::locust::shell(file);
    let _ = writeln!(
        s,
        "\n# on each load machine (the script's rate is per machine: divide it among them):"
    );
    if p.requests
        .iter()
        .any(|r| matches!(r.ids, Some(crate::plan::Ids::Once { .. })))
    {
        // Each machine deletes its own ids (see the note on seeding).
        let _ = writeln!(
            s,
            "k6 run -e STACKWISE_INSTANCE=K --out json=k6-$(hostname).json {f}   # K = 0, 1, …: one per machine"
        );
    } else {
        let _ = writeln!(s, "k6 run --out json=k6-$(hostname).json {f}");
    }
    let _ = writeln!(
        s,
        "\n# then, with every machine's file:\nstackwise import k6 k6-*.json"
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Settings;

    /// Lines in the exact form of k6's documentation ("Results output → Real-time → JSON",
    /// grafana.com/docs/k6/latest/results-output/real-time/json/): its first four lines verbatim,
    /// then points of the same form.
    const DOC_EXAMPLE: &str = r#"{"type":"Metric","data":{"type":"gauge","contains":"default","tainted":null,"thresholds":[],"submetrics":null},"metric":"vus"}
{"type":"Point","data":{"time":"2017-05-09T14:34:45.625742514+02:00","value":5,"tags":null},"metric":"vus"}
{"type":"Metric","data":{"type":"trend","contains":"time","tainted":null,"thresholds":["avg<1000"],"submetrics":null},"metric":"http_req_duration"}
{"type":"Point","data":{"time":"2017-05-09T14:34:45.239531499+02:00","value":459.865729,"tags":{"group":"::my group::json","method":"GET","status":"200","url":"https://httpbin.test.k6.io/get"}},"metric":"http_req_duration"}
"#;

    fn point(metric: &str, time: &str, value: f64, name: &str) -> String {
        format!(
            r#"{{"type":"Point","data":{{"time":"{time}","value":{value},"tags":{{"method":"GET","name":"{name}","scenario":"stackwise","status":"200","url":"http://127.0.0.1:8080/json","stackwise_workload":"json","stackwise_rate_rps":"10","stackwise_slo_ms":"100","stackwise_users":"2"}}}},"metric":"{metric}"}}"#
        )
    }

    fn machine(start_s: u32, durations: &[f64], dropped: u32) -> String {
        let mut s = String::new();
        for (i, d) in durations.iter().enumerate() {
            let t = format!("2026-12-06T03:00:{:02}.{:03}000000Z", start_s, i * 100);
            s += &point("http_reqs", &t, 1.0, "json");
            s.push('\n');
            s += &point("http_req_duration", &t, *d, "json");
            s.push('\n');
            s += &point("http_req_failed", &t, 0.0, "json");
            s.push('\n');
            s += &point("checks", &t, 1.0, "json");
            s.push('\n');
        }
        for _ in 0..dropped {
            s += &point("dropped_iterations", "2026-12-06T03:00:09Z", 1.0, "json");
            s.push('\n');
        }
        s
    }

    #[test]
    fn the_documentation_example_reads() {
        let i = import_text(
            &[("doc.json", DOC_EXAMPLE)],
            &ImportOptions {
                workload: Some("json".into()),
                ..ImportOptions::default()
            },
        )
        .unwrap();
        assert_eq!(i.latency.p99_ms, Some(459.865729));
        assert_eq!(
            i.origin.target_url.as_deref(),
            Some("https://httpbin.test.k6.io")
        );
        assert_eq!(i.requests, 1);
        assert_eq!(i.dropped, Some(0));
        let e = import_text(&[("doc.json", DOC_EXAMPLE)], &ImportOptions::default()).unwrap_err();
        assert!(e.to_string().contains("--workload"), "{e}");
    }

    #[test]
    fn percentiles_are_exact_over_every_machine_never_averaged() {
        // Machine a: fast; machine b: one slow request. Per-machine p99s averaged would be
        // (5 + 100) / 2 = 52.5; over all 20 points the p99 (nearest rank 20) is 100 and the
        // p50 (rank 10) is 5.
        let a = machine(0, &[1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0], 0);
        let b = machine(0, &[6.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0, 100.0], 2);
        let i = import_text(&[("a.json", &a), ("b.json", &b)], &ImportOptions::default()).unwrap();
        assert_eq!(i.latency.p99_ms, Some(100.0));
        assert_eq!(i.latency.p50_ms, Some(5.0));
        assert_eq!(i.requests, 20);
        assert_eq!(i.dropped, Some(2));
        assert_eq!(i.origin.workers, Some(2));
        assert_eq!(i.workload, "json");
        assert_eq!(i.offered_rps, Some(20.0));
        assert_eq!(i.target, "127.0.0.1:8080");
        assert_eq!(i.started_at.as_deref(), Some("2026-12-06T03:00:00Z"));
        // 20 requests over 0.9 s (no duration tag: the span of the requests).
        assert!((i.achieved_rps.unwrap() - 20.0 / 0.9).abs() < 1e-3);
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let text = format!(
            "{}\nnot json\n",
            point("http_reqs", "2026-12-06T03:00:00Z", 1.0, "x")
        );
        let e = import_text(&[("m.json", &text)], &ImportOptions::default()).unwrap_err();
        assert!(e.to_string().starts_with("m.json: line 2:"), "{e}");
        let text = point("http_req_duration", "noon", 1.0, "x");
        let e = import_text(&[("m.json", &text)], &ImportOptions::default()).unwrap_err();
        assert!(
            e.to_string().contains("line 1") && e.to_string().contains("RFC 3339"),
            "{e}"
        );
        let e = import_text(&[("e.json", "")], &ImportOptions::default()).unwrap_err();
        assert!(e.to_string().contains("no http_req_duration"), "{e}");
    }

    #[test]
    fn nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn script_has_executor_thresholds_and_tags() {
        let w = *workloads::Registry::builtin().workload("cpu").unwrap();
        let p = Plan::new(&w, "http://127.0.0.1:8080", &Settings::default()).unwrap();
        let s = export(&p, "stackwise test");
        assert!(s.contains("executor: 'constant-arrival-rate'"));
        assert!(s.contains("rate: 100,\n      timeUnit: '1s'"));
        assert!(s.contains("http_req_duration: ['p(99)<100']"));
        assert!(s.contains("dropped_iterations: ['count==0']"));
        assert!(s.contains("const ANSWER_cpu_result_100000 = String(cpuResult(100000));"));
        assert!(s.contains("stackwise_workload: \"cpu\""));
        let p = Plan::new(
            &w,
            "http://127.0.0.1:8080",
            &Settings {
                rate: 2.5,
                ..Settings::default()
            },
        )
        .unwrap();
        assert!(export(&p, "x").contains("rate: 150,\n      timeUnit: '1m'"));
    }
}
