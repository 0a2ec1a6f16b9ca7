//! `stackwise lab --plan` as text: the cells still to measure, per workload and target, what
//! was left out or skipped, and the ETA. Rendered from [`workloads::plan::PlanSummary`] (the
//! lab's plan as plain data; this crate does not import the lab).

use std::fmt::Write as _;

use workloads::plan::PlanSummary;

/// The plan, one line each.
pub fn render(p: &PlanSummary) -> String {
    let mut out = String::new();
    if let Some((id, all)) = p.resume {
        let _ = writeln!(
            out,
            "Resuming run {id}: {} of {all} cells still to measure",
            p.cells
        );
    }
    let _ = writeln!(
        out,
        "{} cells: {} targets × {} workloads; {} repeat(s), {} s windows, {} cold starts per target; server CPUs {:?}, engine and upstream CPUs {:?}",
        p.cells,
        p.targets,
        p.workloads.len(),
        p.repeats,
        p.duration_s,
        p.cold_starts,
        p.server_cpus,
        p.client_cpus
    );
    for w in &p.workloads {
        let what = match (w.searches, w.count) {
            (true, 1) => "1 search".to_string(),
            (true, n) => format!("{n} searches"),
            (false, 1) => "1 repeat".to_string(),
            (false, n) => format!("{n} repeats"),
        };
        let _ = writeln!(out, "  {:<10} {what:<11} {}", w.id, w.describe);
    }
    if !p.on_request.is_empty() {
        let _ = writeln!(
            out,
            "  on request, not in this plan (no claim or adviser price reads them): {}; add them with --workloads ID, or run every workload with --all",
            p.on_request.join(" ")
        );
    }
    for (t, ws) in &p.by_target {
        let list = if ws.is_empty() {
            "(nothing left)".to_string()
        } else {
            ws.join(" ")
        };
        let _ = writeln!(out, "  {t:<22} {list}");
    }
    for (t, w, why) in &p.skipped {
        let _ = writeln!(out, "  skipped: {t} {w} ({why})");
    }
    let _ = writeln!(
        out,
        "ETA {} (up to {} with re-measured and extra repeats) once installed (first use also installs the targets)",
        crate::live::eta(p.eta_s),
        crate::live::eta(p.up_to_s)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use workloads::plan::PlannedWorkload;

    #[test]
    fn a_resumed_plan_says_what_is_left() {
        let p = PlanSummary {
            resume: Some((7, 4)),
            cells: 1,
            targets: 2,
            workloads: vec![PlannedWorkload {
                id: "json".into(),
                count: 3,
                searches: false,
                describe: "JSON".into(),
            }],
            repeats: 3,
            duration_s: 10.0,
            cold_starts: 5,
            server_cpus: vec![1],
            client_cpus: vec![0],
            on_request: vec![],
            by_target: vec![("a".into(), vec!["json".into()]), ("b".into(), vec![])],
            skipped: vec![("b".into(), "ws-hold".into(), "no ws endpoint".into())],
            eta_s: 42.0,
            up_to_s: 60.0,
        };
        let t = render(&p);
        assert!(t.starts_with("Resuming run 7: 1 of 4 cells still to measure\n1 cells: 2 targets × 1 workloads; 3 repeat(s), 10 s windows"), "{t}");
        assert!(t.contains("  json       3 repeats   JSON\n"), "{t}");
        assert!(
            t.contains("  b                      (nothing left)\n"),
            "{t}"
        );
        assert!(t.contains("  skipped: b ws-hold (no ws endpoint)\n"), "{t}");
        assert!(
            t.ends_with("ETA 42s (up to 1m00s with re-measured and extra repeats) once installed (first use also installs the targets)\n"),
            "{t}"
        );
    }
}
