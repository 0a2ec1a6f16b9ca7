//! The Markdown report: the same tables as the HTML report (charts omitted: they are in the HTML
//! file), every user-provided text escaped for Markdown.

use std::fmt::Write;

use crate::derive::{self, Warning};
use crate::escape::md;
use crate::input::{ReportInput, Section};
use crate::tables::{self, Mark, TableSpec};

pub fn table_md(t: &TableSpec) -> String {
    let mut s = String::new();
    let head: Vec<String> = t
        .columns
        .iter()
        .map(|c| if c.is_empty() { " ".to_string() } else { md(c) })
        .collect();
    let _ = writeln!(s, "| {} |", head.join(" | "));
    let align: Vec<&str> = t
        .numeric
        .iter()
        .map(|n| if *n { "---:" } else { "---" })
        .collect();
    let _ = writeln!(s, "|{}|", align.join("|"));
    for r in &t.rows {
        let cells: Vec<String> = r
            .iter()
            .map(|c| {
                let text = md(&c.text);
                match c.mark {
                    _ if text.is_empty() => text,
                    Mark::Better | Mark::Worse | Mark::Warn => format!("**{text}**"),
                    Mark::None | Mark::Muted => text,
                }
            })
            .collect();
        let _ = writeln!(s, "| {} |", cells.join(" | "));
    }
    s.push('\n');
    s
}

fn section_md(out: &mut String, title: &str, sec: Option<&Section>, missing: &str) {
    let _ = writeln!(out, "## {title}\n");
    let Some(sec) = sec else {
        let _ = writeln!(out, "{missing}\n");
        return;
    };
    for p in &sec.paragraphs {
        let _ = writeln!(out, "{}\n", md(p));
    }
    if let Some(t) = &sec.table {
        let spec = TableSpec {
            columns: t.columns.clone(),
            numeric: vec![false; t.columns.len()],
            rows: t
                .rows
                .iter()
                .map(|r| {
                    // Pad or cut each row to the header's width: a ragged row would break the table.
                    (0..t.columns.len())
                        .map(|i| tables::Cell::new(r.get(i).cloned().unwrap_or_default()))
                        .collect()
                })
                .collect(),
            groups: false,
        };
        out.push_str(&table_md(&spec));
    }
    for i in &sec.items {
        let _ = writeln!(out, "- {}", md(i));
    }
    if !sec.items.is_empty() {
        out.push('\n');
    }
    if let Some(pre) = &sec.preformatted {
        // A fence longer than any run of backticks in the text cannot be closed by it.
        let longest = pre.split(|c| c != '`').map(str::len).max().unwrap_or(0);
        let fence = "`".repeat(longest.max(2) + 1);
        let _ = writeln!(out, "{fence}text\n{pre}\n{fence}\n");
    }
}

fn warnings_md(out: &mut String, warnings: &[Warning], heading: &str) {
    if warnings.is_empty() {
        let _ = writeln!(
            out,
            "**{heading}: none.** The lab raised no warning and every cell was measured.\n"
        );
        return;
    }
    let _ = writeln!(out, "## {heading} ({})\n", warnings.len());
    for w in warnings {
        let _ = writeln!(
            out,
            "- **{}** \\[{}\\]: {}",
            md(&w.scope),
            md(&w.kind),
            md(&w.text)
        );
    }
    out.push('\n');
}

/// The Markdown report of one run.
pub fn render(input: &ReportInput) -> String {
    let run = &input.summary;
    let derived = derive::derive(run);
    let mut out = String::new();
    let _ = writeln!(out, "# stackwise report: run #{}\n", run.run_id);
    let finished = match &run.finished_at {
        Some(f) => format!("finished {}", md(f)),
        None => "**unfinished**".into(),
    };
    let _ = writeln!(
        out,
        "Started {}, {finished}. {} targets, {} cells. Charts are in the HTML report (`--html`).\n",
        md(&run.started_at),
        run.targets.len(),
        run.cells.len()
    );
    out.push_str(&crate::findings::markdown(&crate::findings::findings(
        input,
    )));
    out.push_str("## Machine and versions measured\n\n");
    out.push_str(&table_md(&tables::machine(run)));
    out.push_str(&table_md(&tables::targets(run)));
    if !run.settings.is_empty() {
        out.push_str("### Suite settings\n\n");
        out.push_str(&table_md(&tables::settings(run)));
    }
    for w in derive::workloads(run) {
        let (_, d) = derive::kind_of(&w);
        let _ = writeln!(out, "## Workload {}\n\n{}.\n", md(&w), md(d));
        out.push_str(&table_md(&tables::workload(run, &derived, &w)));
    }
    out.push_str("## Per-target measures\n\n");
    out.push_str(&table_md(&tables::target_measures(run)));
    section_md(
        &mut out,
        "Claims checked",
        input.claims.as_ref(),
        "No claims table was included in this report (`stackwise claims` gives the verdicts).",
    );
    section_md(
        &mut out,
        "Advice",
        input.advice.as_ref(),
        "No advice was included in this report: give a profile with `--profile FILE`.",
    );
    let _ = writeln!(
        out,
        "## How to read this report\n\nFigures over repeats are the median with the range (min–max) of the repeats; repeats spread by more than {:.0}% of the median are flagged as noisy. Flagged cells are shown but never ranked; a figure marked ≥ is a lower bound (the load engine or upstream was at least 90% busy). The ratio to the best compares each target with the best Node.js or Python target (the Rust baseline is left out of \"best\"). Corrected latency is measured from the scheduled send time.",
        derive::NOISE_RELATIVE_RANGE * 100.0
    );
    out
}

/// The Markdown comparison of two runs.
pub fn render_compare(this: &ReportInput, base: &ReportInput) -> String {
    let (a, b) = (&this.summary, &base.summary);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# stackwise comparison: run #{} against baseline run #{}\n",
        a.run_id, b.run_id
    );
    let _ = writeln!(out, "**Rule:** {}\n", md(derive::COMPARE_RULE));
    let warnings = derive::compare_warnings(a, b);
    warnings_md(&mut out, &warnings, "Warnings of both runs");
    out.push_str("## Machines and versions measured\n\n");
    out.push_str(&table_md(&tables::machine_compare(a, b)));
    let mut wls = derive::workloads(a);
    for w in derive::workloads(b) {
        if !wls.contains(&w) {
            wls.push(w);
        }
    }
    for w in &wls {
        let _ = writeln!(out, "## Workload {}\n", md(w));
        out.push_str(&table_md(&tables::workload_compare(a, b, w)));
    }
    out.push_str("## Per-target measures\n\n");
    out.push_str(&table_md(&tables::target_compare(a, b)));
    out
}
