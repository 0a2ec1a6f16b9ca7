//! The terminal summary of one `stackwise load` run ([`loadgen::Report`]): the engine's own
//! report as the CLI prints it. Here rather than in the CLI because every rendering of a result
//! lives in this crate; the CLI only chooses between this text and the report's JSON.
//!
//! Latencies are printed by [`fmt_us`] (three significant figures with a unit: `87.2µs`,
//! `1.25ms`): a duration in microseconds, which the one number formatter ([`crate::format::num`])
//! has no unit for; this text is the only place a single run's latencies are shown.

use std::fmt::Write;

use loadgen::report::{LatencyStats, Mode, Report};

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

/// Formats microseconds with a unit that keeps three significant digits: `87.2µs`, `1.25ms`, `2.03s`.
/// The value is rounded first, so that 999.7 µs prints as `1.00ms`, not `1000µs`.
pub fn fmt_us(us: f64) -> String {
    let us = round_sig3(us);
    if us < 1.0 {
        format!("{:.0}ns", us * 1000.0)
    } else if us < 1000.0 {
        format!("{}µs", sig3(us))
    } else if us < 1_000_000.0 {
        format!("{}ms", sig3(us / 1000.0))
    } else {
        format!("{}s", sig3(us / 1_000_000.0))
    }
}

fn round_sig3(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(x.log10().floor() as i32 - 2);
    (x / scale).round() * scale
}

fn sig3(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// The file a run's JSON report goes to (`--export-json`), opened before the run (not truncated,
/// so that an unwritable path is known before anything is measured) and written after it.
pub struct ReportFile {
    path: std::path::PathBuf,
    file: std::fs::File,
    created: bool,
}

impl ReportFile {
    pub fn open(path: &std::path::Path) -> std::io::Result<ReportFile> {
        let created = !path.exists();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        Ok(ReportFile {
            path: path.to_path_buf(),
            file,
            created,
        })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Removes the file if opening it made it (the run produced nothing).
    pub fn discard(self) {
        if self.created {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// Replaces the file's content with `text`.
    pub fn write(mut self, text: &str) -> std::io::Result<()> {
        use std::io::Write as _;
        self.file.set_len(0)?;
        self.file.write_all(text.as_bytes())?;
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(fmt_us(0.5), "500ns");
        assert_eq!(fmt_us(87.24), "87.2µs");
        assert_eq!(fmt_us(999.0), "999µs");
        assert_eq!(fmt_us(1250.0), "1.25ms");
        assert_eq!(fmt_us(512_000.0), "512ms");
        assert_eq!(fmt_us(2_030_000.0), "2.03s");
        // Rounding never produces a four-digit figure in the smaller unit.
        assert_eq!(fmt_us(999.7), "1.00ms");
        assert_eq!(fmt_us(999_700.0), "1.00s");
        assert_eq!(fmt_us(0.9996), "1.00µs");
        assert_eq!(fmt_us(99.96), "100µs");
    }
}
