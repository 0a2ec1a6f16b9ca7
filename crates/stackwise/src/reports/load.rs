//! The terminal summary of one load run.

use std::fmt::Write;

use loadgen::report::{LatencyStats, Mode, Report};

use super::fmt_us;

const SHOWN: [(f64, &str); 7] = [
    (50.0, "p50"),
    (90.0, "p90"),
    (99.0, "p99"),
    (99.9, "p99.9"),
    (99.99, "p99.99"),
    (100.0, "max"),
    (-1.0, "mean"),
];

/// `1 connection`, `2 connections`.
fn plural(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Renders the human summary.
pub fn summary(r: &Report) -> String {
    let mut s = String::new();
    let c = &r.config;
    let _ = writeln!(s, "Target      {}  ({})", r.target.url, r.target.address);
    let mut load = match (c.mode, c.rate_rps) {
        (Mode::Open, Some(rate)) => format!("open loop at {rate} req/s"),
        _ => "closed loop".to_string(),
    };
    let _ = write!(
        load,
        ", {} on {}",
        plural(c.connections as u64, "connection", "connections"),
        plural(c.threads as u64, "thread", "threads"),
    );
    if let Some(p) = &c.pinned_cpus {
        let _ = write!(load, " pinned to CPU {p:?}");
    }
    if c.warmup_s > 0.0 {
        let _ = write!(load, ", after {}s warm-up", c.warmup_s);
    }
    let _ = writeln!(s, "Load        {load}");
    let q = &r.requests;
    let connect = q.errors.get("connect").copied().unwrap_or(0);
    let mut line = format!(
        "{} sent = {} + {} after sending + {} cut off at the end",
        q.sent,
        plural(q.completed, "response", "responses"),
        plural(q.total_errors - connect, "error", "errors"),
        q.cut_off
    );
    if connect > 0 {
        let _ = write!(
            line,
            "; {} (nothing sent)",
            plural(
                connect,
                "failed connection attempt",
                "failed connection attempts"
            )
        );
    }
    let _ = writeln!(s, "Requests    {line}");
    let _ = writeln!(
        s,
        "Responses   {} = {} correct + {} wrong status + {} wrong body",
        q.completed, q.succeeded, q.failed_status, q.failed_body
    );
    let mut tput = format!("{:.1} req/s over {:.2}s", r.throughput_rps, r.elapsed_s);
    if let Some(rate) = &r.rate {
        let _ = write!(
            tput,
            "  (target {:.1}: {}; {} of {} slots never sent)",
            rate.target_rps,
            if rate.reached {
                "reached"
            } else {
                "NOT reached"
            },
            rate.missed,
            rate.scheduled
        );
    }
    let _ = writeln!(s, "Throughput  {tput}");
    if let Some(cen) = r.censored.as_ref().filter(|c| c.total > 0) {
        let _ = writeln!(
            s,
            "Censored    {} without a response at the end ({} never sent, {} in flight), in the \
             corrected latency as lower bounds",
            cen.total, cen.unsent, cen.in_flight
        );
    }

    let _ = writeln!(s);
    let rows: [(&str, &Option<LatencyStats>); 4] = [
        ("from schedule (true)", &r.latency.from_schedule),
        ("from send", &r.latency.from_send),
        ("send lag (engine)", &r.latency.send_lag),
        ("wait for connection", &r.latency.connection_wait),
    ];
    if rows.iter().all(|(_, st)| st.is_none()) {
        let _ = writeln!(s, "Latency     none measured: no response was received");
    } else {
        let _ = write!(s, "{:<24}", "Latency");
        for (_, name) in SHOWN {
            let _ = write!(s, "{name:>9}");
        }
        let _ = writeln!(s);
        for (name, stats) in rows {
            if let Some(st) = stats {
                let _ = write!(s, "{name:<24}");
                for (p, _) in SHOWN {
                    let v = if p < 0.0 { Some(st.mean_us) } else { st.at(p) };
                    let _ = write!(s, "{:>9}", v.map(fmt_us).unwrap_or_default());
                }
                let _ = writeln!(s);
            }
        }
    }
    if c.mode == Mode::Closed {
        let _ = writeln!(
            s,
            "  closed loop: latency is from the actual send and hides the time a slow server made\n  \
             requests wait (coordinated omission); use --rate for corrected latency."
        );
    }

    let _ = writeln!(s);
    let codes: Vec<String> = r
        .status_codes
        .iter()
        .map(|(code, n)| format!("{code}: {n}"))
        .collect();
    let _ = writeln!(
        s,
        "Status      {}",
        if codes.is_empty() {
            "-".into()
        } else {
            codes.join(", ")
        }
    );
    let mut first = true;
    for (kind, n) in q.errors.iter().filter(|(_, n)| **n > 0) {
        let sample = q.samples.get(kind).map(String::as_str).unwrap_or("");
        let label = if first { "Errors" } else { "" };
        first = false;
        let _ = writeln!(s, "{label:<12}{n} {kind}: {sample}");
    }
    for (kind, n) in [("status", q.failed_status), ("body", q.failed_body)] {
        if n > 0 {
            let sample = q.samples.get(kind).map(String::as_str).unwrap_or("");
            let label = if first { "Errors" } else { "" };
            first = false;
            let _ = writeln!(s, "{label:<12}{n} wrong {kind}: {sample}");
        }
    }
    let e = &r.engine_cpu;
    let _ = writeln!(
        s,
        "Engine CPU  {} per response (user {:.2}s, system {:.2}s; threads {:.0}% busy)",
        e.per_request_us.map(fmt_us).unwrap_or_else(|| "-".into()),
        e.user_s,
        e.system_s,
        e.utilisation * 100.0
    );
    if !r.warnings.is_empty() {
        let _ = writeln!(s);
        for w in &r.warnings {
            let _ = writeln!(s, "warning: {w}");
        }
    }
    s
}
