//! The terminal form of `stackwise claims`: the run and machine, then a table of testable claims
//! (verdict, claim, claimed figure, measured figures per target with their spread), each followed by
//! its reason, the minimum effect or equivalence margin it was judged on, its reason codes and the lab
//! command or need; then cited facts (with their sources) and opinions. The headline says how many
//! independent tests stand behind the verdicts, and a verdict resting on one repeat is labelled
//! "(indicative)".

use crate::format::num;
use claims::{ClaimResult, ClaimsReport, Kind, Measured, Metric, Side, Verdict};

/// Wide enough for "equivalent (indicative)".
const VERDICT_W: usize = 25;
/// The claim column's least width; it grows to fit the longest id shown.
const CLAIM_W: usize = 34;
const CLAIMED_W: usize = 34;
const WIDTH: usize = 120;

pub fn render(r: &ClaimsReport) -> String {
    let mut out = String::new();
    match &r.run {
        Some(run) => {
            out.push_str(&format!(
                "Claims checked against run {} ({} → {})\n",
                run.run_id,
                run.started_at,
                run.finished_at.as_deref().unwrap_or("unfinished")
            ));
            out.push_str(&format!(
                "Machine     {}, {} cores; servers on CPU {:?} ({} core{}), load engine on CPU {:?}\n",
                run.cpu_model,
                run.cores,
                run.server_cpus,
                run.server_cpus.len(),
                if run.server_cpus.len() == 1 { "" } else { "s" },
                run.client_cpus
            ));
            for w in &run.warnings {
                out.push_str(&format!("Warning     {w}\n"));
            }
        }
        None => out.push_str(
            "No lab run to check against: testable claims show the `stackwise lab` command that \
             would measure them.\n",
        ),
    }
    out.push_str(&format!("Catalogue   {}\n", r.catalogue));
    if r.claims.is_empty() {
        out.push_str("\nNo claim matches the filters (--kind, --verdict).\n");
        return out;
    }

    let (mut testable, mut cited, mut opinions) = (vec![], vec![], vec![]);
    for c in &r.claims {
        match c.kind {
            Kind::Testable => testable.push(c),
            Kind::Cited => cited.push(c),
            Kind::Opinion => opinions.push(c),
        }
    }
    testable.sort_by_key(|c| c.verdict);
    let claim_w = r
        .claims
        .iter()
        .map(|c| c.id.chars().count() + 2)
        .max()
        .unwrap_or(0)
        .max(CLAIM_W);

    if !testable.is_empty() {
        let counts: Vec<String> = Verdict::ALL
            .iter()
            .filter(|v| !matches!(v, Verdict::Cited | Verdict::Opinion))
            .filter_map(|v| {
                let n = testable.iter().filter(|c| c.verdict == *v).count();
                (n > 0).then(|| format!("{n} {}", v.label()))
            })
            .collect();
        let i = &r.independence;
        let independent = if i.verdicts > 0 {
            format!(
                "\n{} verdict{} from {} independent test{} (claims decided by the same measurement \
                 count once){}\n",
                i.verdicts,
                if i.verdicts == 1 { "" } else { "s" },
                i.tests,
                if i.tests == 1 { "" } else { "s" },
                if i.indicative > 0 {
                    format!("; {} indicative (one repeat)", i.indicative)
                } else {
                    String::new()
                }
            )
        } else {
            String::new()
        };
        out.push_str(&format!(
            "\nTestable claims ({}): {}{independent}\n",
            testable.len(),
            counts.join(" · ")
        ));
        if i.held_back_noisy > 0 {
            out.push_str(&format!(
                "Held back   {} verdict{} (noisy_machine): the cells compared stayed noisy after the lab's \
                 retries; shown as inconclusive, the reason says what the figures would give\n",
                i.held_back_noisy,
                if i.held_back_noisy == 1 { "" } else { "s" }
            ));
        }
        out.push_str(&format!(
            "{:<VERDICT_W$}{:<claim_w$}{:<CLAIMED_W$}{}\n",
            "VERDICT", "CLAIM", "CLAIMED", "MEASURED (median, min–max of repeats)"
        ));
        for c in testable {
            render_testable(&mut out, c, claim_w);
        }
    }
    if !cited.is_empty() {
        out.push_str(&format!("\nCited, not measured ({})\n", cited.len()));
        for c in cited {
            let head = format!("{:<claim_w$}", c.id);
            let body = format!(
                "[{}] \"{}\" — source: {}{}",
                short_article(&c.article),
                c.quote,
                c.source.as_deref().unwrap_or("none"),
                c.note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            );
            push_hanging(&mut out, &head, &body);
        }
    }
    if !opinions.is_empty() {
        out.push_str(&format!("\nOpinions ({})\n", opinions.len()));
        for c in opinions {
            let head = format!("{:<claim_w$}", c.id);
            let body = format!(
                "[{}] \"{}\"{}",
                short_article(&c.article),
                c.quote,
                c.note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            );
            push_hanging(&mut out, &head, &body);
        }
    }
    out
}

fn short_article(a: &str) -> &str {
    a.split('_').next().unwrap_or(a)
}

fn render_testable(out: &mut String, c: &ClaimResult, claim_w: usize) {
    let claim_col = {
        let mut v = vec![c.id.clone()];
        let quote = format!("[{}] \"{}\"", short_article(&c.article), c.quote);
        let mut q = wrap(&quote, claim_w - 2);
        if q.len() > 3 {
            q.truncate(3);
            q[2].push('…');
        }
        v.extend(q);
        v
    };
    let claimed_col = wrap(c.claimed.as_deref().unwrap_or(""), CLAIMED_W - 2);
    let measured_col: Vec<String> = if c.measured.is_empty() {
        vec!["—".into()]
    } else {
        let tw = c.measured.iter().map(|m| m.target.len()).max().unwrap_or(0);
        let several = c
            .measured
            .iter()
            .any(|m| m.workload != c.measured[0].workload || m.metric != c.measured[0].metric);
        let pw = if several {
            c.measured
                .iter()
                .map(|m| prefix(m).chars().count())
                .max()
                .unwrap_or(0)
                + 1
        } else {
            0
        };
        // Loop blocking judges each target against its own heavy request: show why.
        let notes = c
            .rule
            .as_deref()
            .is_some_and(|r| r.starts_with("loop_blocking"));
        c.measured
            .iter()
            .map(|m| measured_line(m, pw, tw, notes))
            .collect()
    };
    let rows = claim_col
        .len()
        .max(claimed_col.len())
        .max(measured_col.len());
    for i in 0..rows {
        let v = if i == 0 {
            c.verdict.label_with(c.indicative)
        } else {
            String::new()
        };
        let line = format!(
            "{:<VERDICT_W$}{:<claim_w$}{:<CLAIMED_W$}{}",
            v,
            claim_col.get(i).map(String::as_str).unwrap_or(""),
            claimed_col.get(i).map(String::as_str).unwrap_or(""),
            measured_col.get(i).map(String::as_str).unwrap_or("")
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let pad = " ".repeat(VERDICT_W);
    if let Some(how) = &c.reading {
        push_hanging(out, &format!("{pad}how   "), how);
    }
    push_hanging(out, &format!("{pad}why   "), &c.reason);
    for p in &c.parts {
        push_hanging(out, &format!("{pad}      · "), &p.reason);
    }
    if let Some(rule) = &c.rule {
        push_hanging(out, &format!("{pad}rule  "), rule);
    }
    match (c.min_effect, c.margin) {
        (Some(e), _) => push_hanging(
            out,
            &format!("{pad}effect "),
            &format!(
                "≥ {}× ({})",
                claims::decide::fmt_ratio(e),
                c.min_effect_basis.as_deref().unwrap_or("")
            ),
        ),
        (None, Some(m)) => push_hanging(
            out,
            &format!("{pad}tie    "),
            &format!(
                "within ±{}% (a factor {} either way)",
                num(m * 100.0),
                num(1.0 + m)
            ),
        ),
        _ => {}
    }
    if !c.reasons.is_empty() {
        let codes: Vec<String> = c
            .reasons
            .iter()
            .map(|r| format!("{} ({})", r.id(), r.describe()))
            .collect();
        push_hanging(out, &format!("{pad}codes "), &codes.join("; "));
    }
    if let Some(cmd) = &c.lab_command {
        push_hanging(out, &format!("{pad}run   "), cmd);
    }
    if c.verdict == Verdict::NotTestableYet {
        if let Some(n) = &c.needs {
            push_hanging(out, &format!("{pad}needs "), n);
        }
    }
    out.push('\n');
}

/// What tells apart the figures of a claim judged on several workloads or metrics.
fn prefix(m: &Measured) -> String {
    if m.metric.per_target() {
        short_metric(m).to_string()
    } else {
        m.workload.clone()
    }
}

fn measured_line(m: &Measured, pw: usize, tw: usize, notes: bool) -> String {
    let prefix = if pw > 0 {
        format!("{:<pw$}", prefix(m))
    } else {
        String::new()
    };
    let fig = match (m.median, m.min, m.max) {
        (Some(med), Some(min), Some(max)) => {
            let lb = if m.lower_bound { "≥" } else { "" };
            let (med, min, max, unit) = scaled(m, med, min, max);
            if (max - min).abs() < f64::EPSILON {
                format!("{lb}{} {unit}", num(med))
            } else {
                format!("{lb}{} {unit} ({}–{})", num(med), num(min), num(max))
            }
        }
        _ => "no figure".into(),
    };
    let tag = if notes && m.note.is_some() {
        format!(" ({})", short(m.note.as_deref().unwrap_or_default()))
    } else if !m.evidence {
        match m.side {
            Side::Context => " (context)".to_string(),
            _ => format!(" [{}]", short(m.note.as_deref().unwrap_or("not counted"))),
        }
    } else {
        String::new()
    };
    format!("{prefix}{:<tw$}  {fig}{tag}", m.target)
}

fn short_metric(m: &Measured) -> &'static str {
    match m.metric {
        Metric::ColdStartMs => "cold start",
        Metric::IdlePssMb => "idle mem",
        Metric::InstallBytes => "install",
        other => other.as_str(),
    }
}

/// A note cut to one readable line (failure reasons can be long; `--json` has them whole).
fn short(note: &str) -> String {
    const MAX: usize = 160;
    if note.chars().count() <= MAX {
        note.to_string()
    } else {
        format!("{}…", note.chars().take(MAX).collect::<String>())
    }
}

/// Bytes are shown in MB; everything else in its unit.
fn scaled(m: &Measured, med: f64, min: f64, max: f64) -> (f64, f64, f64, &'static str) {
    if m.unit == "bytes" {
        (med / 1e6, min / 1e6, max / 1e6, "MB on disk")
    } else {
        let unit = match m.unit.as_str() {
            "req/s" => "req/s",
            "ms" => "ms",
            "MB" => "MB",
            "µs CPU/req" => "µs CPU/req",
            _ => "",
        };
        (med, min, max, unit)
    }
}

/// `head` then `body` wrapped to the width, continuation lines indented under the body.
fn push_hanging(out: &mut String, head: &str, body: &str) {
    let indent = head.chars().count();
    let lines = wrap(body, WIDTH.saturating_sub(indent).max(40));
    for (i, l) in lines.iter().enumerate() {
        if i == 0 {
            out.push_str(head);
        } else {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(l);
        out.push('\n');
    }
}

/// Greedy word wrap (characters, not bytes).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![];
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let len = cur.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_words_and_width() {
        assert_eq!(wrap("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("", 6), vec![""]);
        assert_eq!(wrap("15,000–20,000 req/s", 30), vec!["15,000–20,000 req/s"]);
    }
}
