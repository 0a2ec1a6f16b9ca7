//! `claims`: every claim of the seed articles, kept as data ([`catalogue`], `catalogue.toml`), and
//! checked against the lab's measurements (a [`store::RunSummary`]) by named rules ([`rules`]). The
//! result ([`report::ClaimsReport`]) puts the claimed and measured figures side by side with a
//! verdict and a one-line reason; cited facts and opinions are listed as such.

pub mod catalogue;
pub mod report;
pub mod rules;
pub mod workloads;

use std::collections::BTreeMap;

use store::RunSummary;

pub use catalogue::{Catalogue, CatalogueError, Claim, Kind, Metric, RuleSpec};
pub use report::{ClaimResult, ClaimedFigure, ClaimsReport, Measured, Part, RunRef, Side, Verdict};

/// Which claims to show.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kinds: Vec<Kind>,
    pub verdicts: Vec<Verdict>,
}

impl Filter {
    fn keeps(&self, r: &ClaimResult) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&r.kind))
            && (self.verdicts.is_empty() || self.verdicts.contains(&r.verdict))
    }
}

/// Check every claim of `cat` against `run` (or, without a run, say how to measure each).
pub fn evaluate(
    cat: &Catalogue,
    catalogue_origin: &str,
    run: Option<&RunSummary>,
    filter: &Filter,
) -> ClaimsReport {
    let claims: Vec<ClaimResult> = cat
        .claims
        .iter()
        .map(|c| evaluate_claim(cat, c, run))
        .filter(|r| filter.keeps(r))
        .collect();
    let mut counts = BTreeMap::new();
    for r in &claims {
        *counts.entry(r.verdict.id().to_string()).or_insert(0) += 1;
    }
    ClaimsReport {
        catalogue: catalogue_origin.to_string(),
        run: run.map(|r| RunRef {
            run_id: r.run_id,
            started_at: r.started_at.clone(),
            finished_at: r.finished_at.clone(),
            cpu_model: r.machine.cpu_model.clone(),
            cores: r.machine.cores,
            server_cpus: r.machine.server_cpus.clone(),
            client_cpus: r.machine.client_cpus.clone(),
            warnings: r.warnings.clone(),
        }),
        counts,
        claims,
    }
}

/// One claim's verdict.
pub fn evaluate_claim(cat: &Catalogue, c: &Claim, run: Option<&RunSummary>) -> ClaimResult {
    let mut r = ClaimResult {
        id: c.id.clone(),
        article: c.article.clone(),
        topic: c.topic.clone(),
        kind: c.kind,
        quote: c.quote.clone(),
        verdict: Verdict::Opinion,
        reason: String::new(),
        claimed: None,
        claimed_figure: None,
        reading: None,
        workloads: vec![],
        rule: None,
        parts: vec![],
        measured: vec![],
        lab_command: None,
        needs: None,
        source: c.source.clone(),
        note: c.note.clone(),
    };
    match c.kind {
        Kind::Opinion => {
            r.verdict = Verdict::Opinion;
            r.reason = "an opinion, not a measurable claim".into();
        }
        Kind::Cited => {
            r.verdict = Verdict::Cited;
            r.reason = format!(
                "cited, not measured: {}",
                c.source.as_deref().unwrap_or("no source")
            );
        }
        Kind::Testable => {
            let t = c
                .test
                .as_ref()
                .expect("validated: testable claims have a test");
            r.claimed = Some(t.claimed.clone());
            r.reading = Some(t.reading.clone());
            r.workloads = t.workloads.clone();
            r.needs = t.needs.clone();
            r.rule = t.rule.as_ref().map(|x| x.describe());
            r.claimed_figure = match &t.rule {
                Some(RuleSpec::Range {
                    metric, min, max, ..
                }) => Some(ClaimedFigure {
                    metric: *metric,
                    of: "value".into(),
                    min: *min,
                    max: *max,
                    unit: metric.unit().into(),
                }),
                Some(RuleSpec::Ratio {
                    metric, min, max, ..
                }) => Some(ClaimedFigure {
                    metric: *metric,
                    of: "ratio".into(),
                    min: *min,
                    max: *max,
                    unit: String::new(),
                }),
                _ => None,
            };
            match (&t.rule, run) {
                (None, _) => {
                    r.verdict = Verdict::NotTestableYet;
                    let future: Vec<&str> = t
                        .workloads
                        .iter()
                        .filter(|w| workloads::lookup(w).is_some_and(|x| !x.available))
                        .map(String::as_str)
                        .collect();
                    r.reason = if future.is_empty() {
                        "not testable yet with this lab: see what it needs".into()
                    } else {
                        format!("not testable yet: needs the {} workload", future.join(", "))
                    };
                }
                (Some(rule), None) => {
                    r.verdict = Verdict::NotMeasured;
                    r.reason = "no lab run: measure it with the lab command".into();
                    r.lab_command = Some(command_for(cat, rule, &t.workloads));
                }
                (Some(rule), Some(run)) => {
                    let o = rules::evaluate(rule, &t.workloads, run, cat);
                    r.verdict = o.verdict;
                    r.reason = o.reason;
                    r.parts = o.parts;
                    r.measured = o.measured;
                    r.lab_command = o.missing.lab_command();
                }
            }
        }
    }
    r
}

/// The lab command that measures a rule's groups on its workloads from scratch.
fn command_for(cat: &Catalogue, rule: &RuleSpec, workloads: &[String]) -> String {
    let sels: Vec<&String> = match rule {
        RuleSpec::Range { group, .. } | RuleSpec::LoopBlocking { group, .. } => {
            group.iter().collect()
        }
        RuleSpec::Faster { better, than, .. } | RuleSpec::Lighter { better, than, .. } => {
            better.iter().chain(than).collect()
        }
        RuleSpec::Ratio {
            numerator,
            denominator,
            ..
        } => numerator.iter().chain(denominator).collect(),
    };
    let mut m = rules::Missing::default();
    for s in sels {
        let names = cat.lab.get(s).cloned().unwrap_or_else(|| vec![s.clone()]);
        for n in names {
            m.targets.insert(n);
        }
    }
    m.workloads.extend(workloads.iter().cloned());
    m.lab_command().expect("rules name at least one target")
}

impl ClaimsReport {
    /// The JSON schema of the report, as committed in `schemas/claims.schema.json`.
    pub fn json_schema() -> schemars::Schema {
        schemars::schema_for!(ClaimsReport)
    }
}
