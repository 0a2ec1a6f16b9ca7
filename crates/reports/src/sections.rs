//! The claims and advice sections of a report: the claims crate's verdicts and the adviser's
//! answer turned into the plain tables and text of [`crate::Section`] (which the renderers
//! escape and lay out).

use crate::{Section, Table};
use claims::{ClaimsReport, Kind, Measured, Side, Verdict};

/// Every testable claim of the built-in catalogue checked against `run`.
/// The verdicts of every claim of the built-in catalogue against `run`.
pub fn claims_report(run: &store::RunSummary) -> ClaimsReport {
    claims::evaluate(
        &claims::Catalogue::builtin(),
        "built-in",
        Some(run),
        &claims::Filter::default(),
    )
}

pub fn from_claims(r: &ClaimsReport) -> Section {
    let testable: Vec<_> = r
        .claims
        .iter()
        .filter(|c| c.kind == Kind::Testable)
        .collect();
    let count = |k: Kind| r.claims.iter().filter(|c| c.kind == k).count();
    let verdicts: Vec<String> = Verdict::ALL
        .iter()
        .filter_map(|v| {
            let n = testable.iter().filter(|c| c.verdict == *v).count();
            (n > 0).then(|| format!("{n} {}", v.label()))
        })
        .collect();
    let i = &r.independence;
    let mut paragraphs = vec![format!(
        "{} testable claims of the articles checked against this run: {}. The {} measured verdicts \
         come from {} independent tests (claims decided by the same measurement count once){}. {} \
         cited facts and {} opinions are not measured (stackwise claims lists them with their sources).",
        testable.len(),
        verdicts.join(", "),
        i.verdicts,
        i.tests,
        if i.indicative > 0 {
            format!("; {} rest on one repeat and are indicative", i.indicative)
        } else {
            String::new()
        },
        count(Kind::Cited),
        count(Kind::Opinion)
    )];
    if i.held_back_noisy > 0 {
        paragraphs.push(format!(
            "{} verdict{} held back (noisy_machine): the cells compared stayed noisy in the lab \
             after its retries (steal time or other processes over the limits), so {} inconclusive \
             here; the reason says what the figures would have given. Re-measure on a quiet machine.",
            i.held_back_noisy,
            if i.held_back_noisy == 1 { "" } else { "s" },
            if i.held_back_noisy == 1 { "it is" } else { "they are" }
        ));
    }
    paragraphs.push(
        "Measured: the figures the verdict rests on (median of repeats, with min–max); figures \
         of flagged or failed cells are never evidence."
            .to_string(),
    );
    let mut sorted = testable.clone();
    sorted.sort_by_key(|c| c.verdict);
    let rows = sorted
        .iter()
        .map(|c| {
            let what = match (&c.lab_command, &c.needs) {
                (Some(cmd), _) if !c.verdict.is_measured() => {
                    format!("{} Measure with: {cmd}", c.reason)
                }
                (_, Some(n)) if !c.verdict.is_measured() => format!("{} Needs: {n}", c.reason),
                _ if c.indicative => format!("Indicative (one repeat): {}", c.reason),
                _ => c.reason.clone(),
            };
            vec![
                c.verdict.label().to_string(),
                c.id.clone(),
                format!("“{}” ({})", c.quote, c.article),
                c.claimed.clone().unwrap_or_default(),
                measured_text(&c.measured),
                what,
            ]
        })
        .collect();
    Section {
        paragraphs,
        table: Some(Table {
            columns: [
                "Verdict",
                "Claim",
                "Quote (article)",
                "Claimed",
                "Measured",
                "Why",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }),
        items: Vec::new(),
        preformatted: None,
    }
}

/// The evidence figures, subjects first, at most six, with how many more there are.
fn measured_text(ms: &[Measured]) -> String {
    const SHOWN: usize = 6;
    let mut ev: Vec<&Measured> = ms
        .iter()
        .filter(|m| m.evidence && m.side != Side::Context)
        .collect();
    ev.sort_by_key(|m| m.side != Side::Subject);
    let fmt = |m: &Measured| match m.median {
        Some(v) => {
            let range = match (m.min, m.max) {
                (Some(lo), Some(hi)) if m.values.len() > 1 && hi > lo => {
                    format!(" ({}–{})", crate::format::num(lo), crate::format::num(hi))
                }
                _ => String::new(),
            };
            let bound = if m.lower_bound { "≥ " } else { "" };
            format!(
                "{} {}: {bound}{}{range} {}",
                m.target,
                m.workload,
                crate::format::num(v),
                m.unit
            )
        }
        None => format!("{} {}: not measured", m.target, m.workload),
    };
    let mut parts: Vec<String> = ev.iter().take(SHOWN).map(|m| fmt(m)).collect();
    if ev.len() > SHOWN {
        parts.push(format!("and {} more", ev.len() - SHOWN));
    }
    parts.join("; ")
}

/// The advice for a profile, priced from `run`; `profile_text` is the profile as the user wrote it.
pub fn advice_section(advice: &adviser::Advice, profile_name: &str, profile_text: &str) -> Section {
    let rec = &advice.recommendation;
    let mut paragraphs = vec![
        format!(
            "Recommendation for the profile {profile_name}: {}",
            rec.summary
        ),
        format!(
            "Confidence: {} ({})",
            advice.confidence.level.as_str(),
            advice.confidence.explanation
        ),
    ];
    if let Some(split) = &rec.load_split {
        paragraphs.push(split.note.clone());
    }
    match &advice.cost.run {
        Some(r) => paragraphs.push(format!(
            "Cost from the measured capacity of run #{}, at the profile's p99 target. {}",
            r.run_id,
            advice.cost.assumptions.join(" ")
        )),
        None => paragraphs.push("No measured run: no cost figure is given.".to_string()),
    }
    let mut rows = Vec::new();
    for s in advice.cost.stacks.iter().chain(&advice.cost.hybrid) {
        for t in &s.targets {
            let opt = |v: Option<f64>| v.map(crate::format::num).unwrap_or_else(|| "–".into());
            rows.push(vec![
                match &s.service {
                    Some(svc) => format!("{} ({svc})", s.stack.label()),
                    None => s.stack.label().to_string(),
                },
                match &s.variant {
                    Some(v) => format!("{} ({v})", s.workload),
                    None => s.workload.clone(),
                },
                t.target.clone(),
                t.capacity.text.clone(),
                opt(t.cores_with_headroom),
                t.provisioned_cores
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "–".into()),
                t.monthly_usd
                    .map(|u| format!("${}", crate::format::num(u)))
                    .unwrap_or_else(|| "–".into()),
                t.warnings.join("; "),
            ]);
        }
    }
    let mut items = Vec::new();
    for r in &advice.reasons {
        items.push(format!(
            "For: {} (rule {}{})",
            r.says,
            r.rule,
            sources(&r.sources)
        ));
    }
    for r in &advice.counter_arguments {
        items.push(format!(
            "Against: {} (rule {}{})",
            r.says,
            r.rule,
            sources(&r.sources)
        ));
    }
    for r in &advice.not_voting {
        items.push(format!(
            "Not counted (measured here against the article): {} (rule {}): {}",
            r.says,
            r.rule,
            r.evidence.as_ref().map(|e| e.text.as_str()).unwrap_or("")
        ));
    }
    if let Some(t) = &advice.tension {
        items.push(format!("Tension: {}", t.resolution));
    }
    if let Some(n) = &advice.no_clear_winner {
        items.push(format!(
            "No clear winner. The articles: “{}” Measure: {}. Suggested spike: {}",
            n.advice.quote,
            n.commands.join("; "),
            n.spike
        ));
    }
    if let Some(c) = &advice.evidence.command {
        items.push(format!(
            "Premises not checked by this run ({}): `{c}` would measure them.",
            advice.evidence.unchecked.len()
        ));
    }
    for l in crate::advice_text::tco_lines(advice) {
        items.push(format!("Total cost of ownership: {l}"));
    }
    for c in &advice.conflicts {
        items.push(format!(
            "Conflict, {}: {} over {}. {}",
            c.title,
            c.prevailing.label(),
            c.overruled.label(),
            c.resolution.explanation
        ));
    }
    for ch in &advice.what_would_change {
        items.push(format!("Would change the answer: {}.", ch.text));
    }
    paragraphs.push("The profile, as given, is at the end of this section.".to_string());
    Section {
        paragraphs,
        table: (!rows.is_empty()).then(|| Table {
            columns: [
                "Stack",
                "Workload",
                "Target",
                "Capacity at the p99 target",
                "Cores with headroom",
                "Provisioned cores",
                "Monthly",
                "Notes",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }),
        items,
        preformatted: Some(profile_text.to_string()),
    }
}

fn sources(s: &[adviser::rules::Source]) -> String {
    s.first()
        .map(|s| format!(", {}: “{}”", s.article, s.quote))
        .unwrap_or_default()
}
