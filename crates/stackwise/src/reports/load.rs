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
        ", {} connections on {} thread{}",
        c.connections,
        c.threads,
        if c.threads == 1 { "" } else { "s" }
    );
    if let Some(p) = &c.pinned_cpus {
        let _ = write!(load, " pinned to CPU {p:?}");
    }
    if c.warmup_s > 0.0 {
        let _ = write!(load, ", after {}s warm-up", c.warmup_s);
    }
    let _ = writeln!(s, "Load        {load}");
    let q = &r.requests;
    let _ = writeln!(
        s,
        "Requests    {} sent, {} responses in {:.2}s: {} correct, {} wrong status, {} wrong body, {} errors",
        q.sent, q.completed, r.elapsed_s, q.succeeded, q.failed_status, q.failed_body, q.total_errors
    );
    let mut tput = format!("{:.1} req/s", r.throughput_rps);
    if let Some(rate) = &r.rate {
        let _ = write!(
            tput,
            "  (target {:.1}: {}; {} of {} slots missed)",
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

    let _ = writeln!(s);
    let _ = write!(s, "{:<24}", "Latency");
    for (_, name) in SHOWN {
        let _ = write!(s, "{name:>9}");
    }
    let _ = writeln!(s);
    let rows: [(&str, &Option<LatencyStats>); 3] = [
        ("from schedule (true)", &r.latency.from_schedule),
        ("from send", &r.latency.from_send),
        ("send lag (engine)", &r.latency.send_lag),
    ];
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
