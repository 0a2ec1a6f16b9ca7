//! The lab's progress as text: the terminal live line (what the current step is doing), the
//! per-cell result line, and the other lines `stackwise lab` prints while it runs (a target
//! starting or failing, its cold starts, warnings). Rendered from the suite's typed events
//! ([`workloads::events`]) and the workloads registry, never from the lab (this crate does not
//! import it); numbers go through [`crate::format::num`], the one formatter.
//!
//! The CLI draws these on the terminal; the web UI's lab job renders the `--events json` stream it
//! reads with the same functions ([`page_lines`], [`text_line`]), so the page's log reads as the
//! terminal does.

use workloads::events::{CellSummary, Event, Figure, Phase, Progress, Status, WarningCode};
use workloads::Kind;

use crate::format::num;

/// A count, thousands grouped: `45,000`, `5`.
fn count(v: f64) -> String {
    workloads::format::group_thousands(v.round() as i64)
}

/// An ETA as `42s` or `3m05s`.
pub fn eta(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// The line a run's event adds to the log, if it adds one (progress and the start of a cell or
/// a repeat only move the live line and the bar).
pub fn log_line(e: &Event) -> Option<String> {
    Some(match e {
        Event::RunStarted { run_id, plan, .. } => format!(
            "run {run_id}: {} cells, {} to measure, ETA {} once installed",
            plan.cells.len(),
            plan.remaining,
            eta(plan.eta_s)
        ),
        Event::TargetStarted { target } => target.clone(),
        Event::Installing { line, .. } => format!("  installing: {line}"),
        Event::TargetFailed { target, reason, .. } => {
            format!("  {target} FAILED: {}", reason.replace('\n', "\n    "))
        }
        Event::CellDone {
            target,
            workload,
            status,
            failed_with,
            summary,
        } => {
            let mark = match status {
                Status::Ok => " ",
                Status::Flagged(_) => "!",
                Status::Failed(_) => "x",
            };
            // Cells of several targets finish in turn (interleaved repeats): each names its own.
            format!(
                "  {mark} {target:<22} {workload:<10} {}",
                cell_result(workload, status, failed_with.as_deref(), summary)
            )
        }
        Event::TargetFigures {
            cold_start_ms,
            idle_pss_mb,
            ..
        } => format!("    {}", target_figures(cold_start_ms, *idle_pss_mb)),
        Event::Warning {
            code,
            message,
            target,
            workload,
        } => {
            // A start note names its target itself.
            let about = match (code, target, workload) {
                (WarningCode::StartNote, _, _) => String::new(),
                (_, Some(t), Some(w)) => format!("{t} {w}: "),
                (_, Some(t), None) => format!("{t}: "),
                _ => String::new(),
            };
            format!("  warning: {about}{message}")
        }
        Event::CellStarted { .. }
        | Event::Progress { .. }
        | Event::RepeatDone { .. }
        | Event::RunFinished { .. } => return None,
    })
}

/// The live line: what the current step is doing now (progress and install output).
pub fn live_line(e: &Event) -> Option<String> {
    match e {
        Event::Installing { target, line } => Some(format!("{target}: installing: {line}")),
        Event::Progress {
            target,
            workload,
            repeat,
            repeats,
            progress,
        } => Some(progress_line(
            target.as_deref(),
            workload.as_deref(),
            repeat.zip(*repeats),
            progress,
        )),
        _ => None,
    }
}

fn progress_line(
    target: Option<&str>,
    workload: Option<&str>,
    repeat: Option<(u32, u32)>,
    p: &Progress,
) -> String {
    let fig = |k: &str| p.figures.get(k).copied();
    let n = |k: &str| fig(k).map_or("?".to_string(), count);
    let secs = |v: Option<f64>| v.map_or("?".to_string(), |v| format!("{v:.0}"));
    let t = target.unwrap_or("");
    let Some(w) = workload else {
        return match p.phase {
            Some(Phase::StartingDatabase) => "starting the database (PostgreSQL)".to_string(),
            Some(Phase::IdleMemory) => format!("{t}: idle memory"),
            Some(Phase::Conformance) => format!("{t}: conformance check"),
            Some(Phase::ColdStart) => format!(
                "{t}: cold start {}/{}",
                fig("done").map_or("?".to_string(), |d| count(d + 1.0)),
                n("of")
            ),
            other => format!("{t}: {other:?}"),
        };
    };
    let label = match repeat {
        Some((r, of)) if of > 1 => format!("{t} {w} [{r}/{of}]"),
        _ => format!("{t} {w}"),
    };
    let body = match p.phase {
        Some(phase @ (Phase::WarmUp | Phase::Measuring)) => format!(
            "{}: {} {}/{}s, {} responses",
            p.step.as_deref().unwrap_or(w),
            if phase == Phase::WarmUp {
                "warm-up"
            } else {
                "measuring"
            },
            secs(p.elapsed_s),
            secs(p.total_s),
            n("responses")
        ),
        Some(phase @ (Phase::Opening | Phase::Holding | Phase::Closing)) => format!(
            "{w}: {} {}s, {} of {} open, {} failed, {} echoes",
            match phase {
                Phase::Opening => "opening",
                Phase::Holding => "holding",
                _ => "closing",
            },
            secs(p.elapsed_s),
            n("open"),
            n("target_connections"),
            n("failed"),
            n("echoes")
        ),
        Some(Phase::Rung) => format!("{w} at {} req/s", n("offered_rps")),
        other => format!("{}{other:?}", p.step.as_deref().unwrap_or("")),
    };
    format!("{label}: {body}")
}

/// A finished cell's result, e.g. "12,345 req/s (12,001–12,790), p99 3.10 ms".
pub fn cell_result(
    workload: &str,
    status: &Status,
    failed_with: Option<&str>,
    c: &CellSummary,
) -> String {
    if let Status::Failed(r) = status {
        if let Some(step) = failed_with {
            return format!("failed: {step} (see above)");
        }
        let first = r.lines().next().unwrap_or("");
        return if first.chars().count() > 200 {
            format!(
                "failed: {}… (in full in the notes)",
                first.chars().take(200).collect::<String>()
            )
        } else {
            format!("failed: {first}")
        };
    }
    let fig = |id: &str| c.figures.get(id);
    let spread = |f: &Figure, unit: &str| {
        if f.n > 1 {
            format!("{} {unit} ({}–{})", num(f.median), num(f.min), num(f.max))
        } else {
            format!("{} {unit}", num(f.median))
        }
    };
    let mut parts = Vec::new();
    let kind = workloads::registry().workload(workload).map(|w| w.kind);
    if kind == Some(Kind::Mixed) && c.ladder_p99_ms.len() >= 2 {
        // Per repeat: [/io alone, /io with heavy requests].
        let alone: Vec<f64> = c.ladder_p99_ms.iter().step_by(2).copied().collect();
        let mixed: Vec<f64> = c.ladder_p99_ms.iter().skip(1).step_by(2).copied().collect();
        if let (Some(a), Some(m)) = (Figure::of(&alone), Figure::of(&mixed)) {
            parts.push(format!(
                "/io p99 {} ms alone → {} ms with heavy /cpu",
                num(a.median),
                num(m.median)
            ));
        }
        // The heavy request each repeat priced (mixed-time: calibrated) and the blocking ratio.
        if let (Some(h), Some(r)) = (fig("heavy_cpu_ms"), fig("blocking_ratio")) {
            parts.push(format!(
                "heavy /cpu {} ms of CPU, blocking ratio {}",
                num(h.median),
                num(r.median)
            ));
        }
    } else if let Some(cap) = c.capacity_rps {
        parts.push(format!(
            "capacity {} req/s at p99 < {} ms",
            num(cap),
            c.slo_p99_ms.unwrap_or_default()
        ));
    } else if let Some(held) = fig("connections_held") {
        let attempted = fig("connections_attempted").map_or(0.0, |a| a.max);
        parts.push(if held.min == held.max {
            format!(
                "held {} of {} connections",
                count(held.min),
                count(attempted)
            )
        } else {
            format!(
                "held {}–{} of {} connections",
                count(held.min),
                count(held.max),
                count(attempted)
            )
        });
        if let Some(mb) = fig("mb_per_1k_conns") {
            parts.push(spread(mb, "MB per 1k connections"));
        }
        if let Some(s) = fig("throughput_rps") {
            parts.push(spread(s, "echoes/s"));
        }
    } else if let Some(s) = fig("throughput_rps") {
        parts.push(spread(s, "req/s"));
    }
    if let Some(s) = fig("p99_ms") {
        parts.push(format!("p99 {}", spread(s, "ms")));
    }
    if let Some(s) = fig("server_cpu_us_per_req") {
        parts.push(format!("server CPU {}", spread(s, "µs/req")));
    }
    if c.lower_bound {
        parts.push("lower bound".into());
    }
    if let Status::Flagged(r) = status {
        parts.push(format!("FLAGGED: {r}"));
    }
    parts.join(", ")
}

/// A target's own figures: cold starts (median, p90 by nearest rank) and idle memory.
pub fn target_figures(cold_start_ms: &[f64], idle_pss_mb: Option<f64>) -> String {
    let Some(f) = Figure::of(cold_start_ms) else {
        return "cold start: no start succeeded".to_string();
    };
    let mut v: Vec<f64> = cold_start_ms
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((0.9 * v.len() as f64).ceil() as usize).clamp(1, v.len());
    format!(
        "cold start median {} ms, p90 {} ms ({} starts); idle PSS {}",
        num(f.median),
        num(v[rank - 1]),
        f.n,
        idle_pss_mb.map_or("n/a".into(), |v| format!("{} MB", num(v)))
    )
}

/// A line for the web UI's lab page: one of its log, or the live line (what the run is doing now,
/// not kept in the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageLine {
    Log(String),
    Live(String),
}

/// Reads one line of the lab's event stream (`--events json`) into the page's lines: those the
/// terminal would print, and the live line. A line that is not an event (a newer lab's kind, or
/// not JSON) is kept as text, so nothing the lab said is lost.
pub fn page_lines(raw: &str) -> Vec<PageLine> {
    let Ok(line) = serde_json::from_str::<workloads::events::EventLine>(raw.trim()) else {
        return vec![PageLine::Log(text_line(raw))];
    };
    let e = &line.event;
    let mut out = Vec::new();
    if let Some(live) = live_line(e) {
        out.push(PageLine::Live(live.replace(['\r', '\n'], " ")));
    }
    if let Some(text) = log_line(e) {
        out.extend(text.split('\n').map(|l| PageLine::Log(text_line(l))));
    }
    out
}

/// One line of the lab's text output as a line of the page's log (a server-sent event's data).
/// Progress redraws use `\r` and an event's data must not contain it; an event with empty data is
/// never delivered by browsers, so a blank line is a space.
pub fn text_line(raw: &str) -> String {
    let line = raw.trim_end_matches(['\n', '\r']).replace('\r', " ");
    if line.is_empty() {
        " ".into()
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn summary(figs: &[(&str, &[f64])]) -> CellSummary {
        CellSummary {
            figures: figs
                .iter()
                .map(|(k, v)| (k.to_string(), Figure::of(v).unwrap()))
                .collect::<BTreeMap<_, _>>(),
            ..CellSummary::default()
        }
    }

    #[test]
    fn a_saturation_cell_reads_as_before_with_one_number_format() {
        let s = summary(&[
            ("throughput_rps", &[12_001.0, 12_345.0, 12_790.0]),
            ("p99_ms", &[3.1, 3.2, 3.0]),
        ]);
        assert_eq!(
            cell_result("json", &Status::Ok, None, &s),
            "12,345 req/s (12,001–12,790), p99 3.10 ms (3.00–3.20)"
        );
        let one = summary(&[("throughput_rps", &[101.0])]);
        assert_eq!(cell_result("cpu", &Status::Ok, None, &one), "101 req/s");
        let flagged = Status::Flagged("7 errors".into());
        assert!(cell_result("cpu", &flagged, None, &one).ends_with(", FLAGGED: 7 errors"));
    }

    #[test]
    fn capacity_held_mixed_and_failed_cells() {
        let cap = CellSummary {
            capacity_rps: Some(1500.0),
            slo_p99_ms: Some(100.0),
            ..CellSummary::default()
        };
        assert_eq!(
            cell_result("io-slo", &Status::Ok, None, &cap),
            "capacity 1,500 req/s at p99 < 100 ms"
        );
        let held = summary(&[
            ("connections_held", &[900.0, 1000.0]),
            ("connections_attempted", &[1000.0, 1000.0]),
        ]);
        assert_eq!(
            cell_result("ws-hold", &Status::Ok, None, &held),
            "held 900–1,000 of 1,000 connections"
        );
        let mixed = CellSummary {
            ladder_p99_ms: vec![2.0, 40.0, 3.0, 60.0],
            ..CellSummary::default()
        };
        assert_eq!(
            cell_result("mixed", &Status::Ok, None, &mixed),
            "/io p99 2.50 ms alone → 50.0 ms with heavy /cpu"
        );
        let failed = Status::Failed("start: exited\n--- stderr ---".into());
        assert_eq!(
            cell_result("json", &failed, None, &CellSummary::default()),
            "failed: start: exited"
        );
        assert_eq!(
            cell_result("json", &failed, Some("start"), &CellSummary::default()),
            "failed: start (see above)"
        );
    }

    #[test]
    fn live_lines_from_progress() {
        let e = Event::Progress {
            target: Some("rust-axum".into()),
            workload: Some("json".into()),
            repeat: Some(2),
            repeats: Some(3),
            progress: Progress {
                elapsed_s: Some(3.4),
                total_s: Some(12.0),
                step: Some("/json".into()),
                ..Progress::phase(Phase::Measuring).figure("responses", 45_000.0)
            },
        };
        assert_eq!(
            live_line(&e).unwrap(),
            "rust-axum json [2/3]: /json: measuring 3/12s, 45,000 responses"
        );
        assert_eq!(log_line(&e), None);
        let cold = Event::Progress {
            target: Some("node-http".into()),
            workload: None,
            repeat: None,
            repeats: None,
            progress: Progress::phase(Phase::ColdStart)
                .figure("done", 0.0)
                .figure("of", 5.0),
        };
        assert_eq!(live_line(&cold).unwrap(), "node-http: cold start 1/5");
        assert_eq!(
            target_figures(&[120.0, 100.0, 140.0], Some(31.26)),
            "cold start median 120 ms, p90 140 ms (3 starts); idle PSS 31.3 MB"
        );
        let w = Event::Warning {
            code: WarningCode::NoiseRetry,
            message: "repeat 1 re-measured".into(),
            target: Some("a".into()),
            workload: Some("json".into()),
        };
        assert_eq!(
            log_line(&w).unwrap(),
            "  warning: a json: repeat 1 re-measured"
        );
    }

    #[test]
    fn text_lines_have_no_carriage_returns_or_empty_data() {
        assert_eq!(text_line("cell 1/4 done\n"), "cell 1/4 done");
        assert_eq!(text_line("a\rb\r\n"), "a b");
        assert_eq!(text_line(""), " ");
    }

    #[test]
    fn events_become_the_terminal_lines_and_the_live_line() {
        use workloads::events::EventLine;
        let json = |e: Event| serde_json::to_string(&EventLine::new(e)).unwrap();
        let done = json(Event::CellDone {
            target: "rust-axum".into(),
            workload: "json".into(),
            status: Status::Ok,
            failed_with: None,
            summary: CellSummary {
                figures: [(
                    "throughput_rps".to_string(),
                    Figure::of(&[12_345.0]).unwrap(),
                )]
                .into(),
                ..CellSummary::default()
            },
        });
        assert_eq!(
            page_lines(&done),
            [PageLine::Log(
                "    rust-axum              json       12,345 req/s".into()
            )]
        );
        let progress = json(Event::Progress {
            target: Some("rust-axum".into()),
            workload: None,
            repeat: None,
            repeats: None,
            progress: Progress::phase(Phase::Conformance),
        });
        assert_eq!(
            page_lines(&progress),
            [PageLine::Live("rust-axum: conformance check".into())]
        );
        // A failed target's reason spans lines: each is a line of the log.
        let failed = json(Event::TargetFailed {
            target: "t".into(),
            stage: "start".into(),
            reason: "start: exited\n--- last lines of stderr ---".into(),
        });
        assert_eq!(page_lines(&failed).len(), 2);
        // Not an event: kept as text.
        assert_eq!(
            page_lines("plain text\n"),
            [PageLine::Log("plain text".into())]
        );
    }
}
