//! Evidence: the verdicts of the claims a rule's premise rests on (`claims = [...]` in rules.toml),
//! computed by the claims crate from the stored run (the adviser never measures or starts anything),
//! and what they do to the rule's weight. [`weight_factor`] is the one mapping from a claims
//! verdict to a weight factor: extend it when the claims crate gains verdicts.
//!
//! A rule's claims are combined: claims marked `proxy` (the lab's figure is not the claim's own
//! metric) are shown and never count; of the others, those the mapping lets decide: all supported
//! → full weight; all refuted → the rule does not vote; a mix, `partly` or `depends` → reduced
//! weight; none → the article's weight, labelled with the verdict and its reason codes.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use claims::{Catalogue, ClaimResult, ReasonCode, Verdict};
use store::RunSummary;

use crate::rules::{ClaimRef, Rule, RuleSet};
use workloads::format::num;

/// The factor applied to a rule whose measured premise is `partly` true or `depends` on the
/// framework (stackwise's judgement: half the article's weight).
pub const REDUCED: f64 = 0.5;

/// What the evidence does to a rule's weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// Supported on the run: the full weight.
    Full,
    /// Partly supported, or depends on the framework: reduced weight.
    Reduced,
    /// Refuted on the run: the rule does not vote.
    NoVote,
    /// Not measured (or not measurable here): the article's weight, labelled.
    ArticleWeight,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Full => "full weight",
            Effect::Reduced => "reduced weight",
            Effect::NoVote => "no vote",
            Effect::ArticleWeight => "the article's weight",
        }
    }
}

/// Reason codes that hold a verdict back from voting: the figures are not to be trusted here, or
/// the machine cannot test the claim as stated (the verdict is shown, labelled with the code).
pub const HELD_BACK: &[ReasonCode] = &[
    ReasonCode::NoisyMachine,
    ReasonCode::NotTestableHere,
    ReasonCode::NeedsMulticore,
    ReasonCode::DatabaseBound,
];

/// The one mapping from a claims verdict (with its reason codes and whether it rests on one
/// repeat) to the weight factor of a rule resting on it:
///
/// - supported → full weight; partly, depends → × [`REDUCED`]; refuted → no vote;
/// - inconclusive, equivalent, not measured, not testable yet, cited, opinion → the article's
///   weight, labelled;
/// - a verdict carrying a held-back code ([`HELD_BACK`]: noisy_machine, not_testable_here,
///   needs_multicore, database_bound) → the article's weight, labelled with the code;
/// - an `indicative` (one-repeat) refutation → × [`REDUCED`], not a silenced rule, until a run with
///   repeats confirms it.
///
/// Extend it here when the claims vocabulary grows.
pub fn weight_factor(v: Verdict, codes: &[ReasonCode], indicative: bool) -> (f64, Effect) {
    if codes.iter().any(|c| HELD_BACK.contains(c)) {
        return (1.0, Effect::ArticleWeight);
    }
    match v {
        Verdict::Supported => (1.0, Effect::Full),
        Verdict::Partly | Verdict::Depends => (REDUCED, Effect::Reduced),
        Verdict::Refuted if indicative => (REDUCED, Effect::Reduced),
        Verdict::Refuted => (0.0, Effect::NoVote),
        Verdict::Inconclusive
        | Verdict::Equivalent
        | Verdict::NotMeasured
        | Verdict::NotTestableYet
        | Verdict::Cited
        | Verdict::Opinion => (1.0, Effect::ArticleWeight),
    }
}

/// One claim's verdict as it bears on a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClaimEvidence {
    pub claim: String,
    pub article: String,
    pub quote: String,
    /// The verdict id (`supported`, `refuted`, …) of the part read (workload or metric), if the
    /// rule reads one part.
    pub verdict: String,
    /// The verdict rests on one repeat (shown as "(indicative)").
    pub indicative: bool,
    /// The claims crate's reason codes (`noisy_machine`, `not_testable_here`, …).
    pub reason_codes: Vec<String>,
    pub reason: String,
    pub workload: Option<String>,
    pub metric: Option<String>,
    /// Why the lab's figure is only a proxy for this claim (then it never changes the vote).
    pub proxy: Option<String>,
    pub note: Option<String>,
    /// Whether this verdict may change the rule's vote.
    pub counts: bool,
    /// The measured figures the verdict rests on, one line per target.
    pub figures: Vec<String>,
    /// The lab command that would supply missing measurements.
    pub lab_command: Option<String>,
}

/// The evidence behind one rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RuleEvidence {
    pub rule: String,
    pub effect: Effect,
    pub factor: f64,
    /// The run the verdicts come from.
    pub run_id: Option<i64>,
    pub claims: Vec<ClaimEvidence>,
    /// One sentence: what the evidence does to the rule, with the figures when it changed it.
    pub text: String,
}

/// Evidence for every rule that names claims, against one run (or none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    pub run_id: Option<i64>,
    pub by_rule: BTreeMap<String, RuleEvidence>,
}

impl Evidence {
    /// No claim consulted: every rule keeps its article weight (used where evidence is not wanted).
    pub fn none() -> Evidence {
        Evidence::default()
    }

    /// The factor on a rule's weight (1 when it names no claims).
    pub fn factor(&self, rule: &str) -> f64 {
        self.by_rule.get(rule).map(|e| e.factor).unwrap_or(1.0)
    }

    pub fn get(&self, rule: &str) -> Option<&RuleEvidence> {
        self.by_rule.get(rule)
    }
}

/// The claims verdicts on `run` for every rule that names claims.
pub fn assess(rules: &RuleSet, run: Option<&RunSummary>) -> Evidence {
    let cat = Catalogue::builtin();
    let mut results: BTreeMap<String, ClaimResult> = BTreeMap::new();
    let mut by_rule = BTreeMap::new();
    for r in rules.rules.iter().filter(|r| !r.claims.is_empty()) {
        let mut evs = Vec::new();
        for c in &r.claims {
            let res = results.entry(c.id.clone()).or_insert_with(|| {
                match cat.claims.iter().find(|x| x.id == c.id) {
                    Some(claim) => claims::evaluate_claim(&cat, claim, run),
                    None => unreachable!("rules.toml names only catalogue claims (tested)"),
                }
            });
            evs.push(claim_evidence(c, res));
        }
        by_rule.insert(r.id.clone(), combine(r, evs, run.map(|x| x.run_id)));
    }
    Evidence {
        run_id: run.map(|r| r.run_id),
        by_rule,
    }
}

/// The claim ids rules.toml names that the catalogue lacks, and filters that name a workload or
/// metric the claim is not tested on (for the test that keeps them in step).
pub fn unknown_claims(rules: &RuleSet) -> Vec<String> {
    let cat = Catalogue::builtin();
    let mut out = Vec::new();
    for r in &rules.rules {
        for c in &r.claims {
            match cat.claims.iter().find(|x| x.id == c.id) {
                None => out.push(format!("rule {}: no claim {}", r.id, c.id)),
                Some(claim) => {
                    let t = claim.test.as_ref();
                    if let Some(w) = &c.workload {
                        if !t.is_some_and(|t| t.workloads.contains(w)) {
                            out.push(format!(
                                "rule {}: claim {} is not tested on {w}",
                                r.id, c.id
                            ));
                        }
                    }
                    if let Some(m) = &c.metric {
                        let metrics: Vec<String> = match t.and_then(|t| t.rule.as_ref()) {
                            Some(claims::RuleSpec::Lighter { metrics, .. }) => {
                                metrics.iter().map(|m| m.as_str().to_string()).collect()
                            }
                            Some(claims::RuleSpec::Faster { metric, .. })
                            | Some(claims::RuleSpec::Range { metric, .. })
                            | Some(claims::RuleSpec::Ratio { metric, .. }) => {
                                vec![metric.as_str().to_string()]
                            }
                            _ => vec![],
                        };
                        if !metrics.contains(m) {
                            out.push(format!("rule {}: claim {} has no metric {m}", r.id, c.id));
                        }
                    }
                }
            }
        }
    }
    out
}

fn claim_evidence(c: &ClaimRef, res: &ClaimResult) -> ClaimEvidence {
    // The part the rule reads, when it names a workload or a metric and the claim has parts.
    let part = res.parts.iter().find(|p| {
        c.workload.as_ref().is_none_or(|w| &p.workload == w)
            && c.metric.as_ref().is_none_or(|m| p.metric.as_str() == m)
    });
    let (verdict, reason, indicative) = match (part, c.workload.is_some() || c.metric.is_some()) {
        (Some(p), true) => (p.verdict, p.reason.clone(), p.indicative),
        _ => (res.verdict, res.reason.clone(), res.indicative),
    };
    let figures = res
        .measured
        .iter()
        .filter(|m| m.evidence)
        .filter(|m| c.workload.as_ref().is_none_or(|w| &m.workload == w))
        .filter(|m| c.metric.as_ref().is_none_or(|x| m.metric.as_str() == x))
        .map(|m| {
            let range = match (m.min, m.max) {
                (Some(lo), Some(hi)) if m.values.len() > 1 => {
                    format!(" ({}–{})", num(lo), num(hi))
                }
                _ => String::new(),
            };
            format!(
                "{} {} {}{} {}{range}{}",
                m.target,
                m.workload,
                m.metric.as_str(),
                if m.lower_bound { " ≥" } else { "" },
                m.median.map(num).unwrap_or_else(|| "–".into()),
                if m.unit.is_empty() {
                    String::new()
                } else {
                    format!(" {}", m.unit)
                }
            )
            .replace("  ", " ")
        })
        .collect();
    ClaimEvidence {
        claim: res.id.clone(),
        article: res.article.clone(),
        quote: res.quote.clone(),
        verdict: verdict.id().to_string(),
        indicative,
        reason_codes: res.reasons.iter().map(|r| r.id().to_string()).collect(),
        reason,
        workload: c.workload.clone(),
        metric: c.metric.clone(),
        proxy: c.proxy.clone(),
        note: c.note.clone(),
        counts: c.proxy.is_none(),
        figures,
        lab_command: res.lab_command.clone(),
    }
}

fn combine(rule: &Rule, claims: Vec<ClaimEvidence>, run_id: Option<i64>) -> RuleEvidence {
    let counted: Vec<(&ClaimEvidence, Verdict)> = claims
        .iter()
        .filter(|c| c.counts)
        .filter_map(|c| Verdict::from_id(&c.verdict).map(|v| (c, v)))
        .collect();
    // The verdicts the mapping lets decide (not the article's weight), with their effect.
    let deciding: Vec<(f64, Effect)> = counted
        .iter()
        .map(|(c, v)| weight_factor(*v, &codes(c), c.indicative))
        .filter(|(_, e)| *e != Effect::ArticleWeight)
        .collect();
    let (factor, effect) = if deciding.is_empty() {
        (1.0, Effect::ArticleWeight)
    } else if deciding.iter().all(|d| d.1 == deciding[0].1) {
        deciding[0]
    } else {
        // Deciding verdicts that disagree (some supported, some refuted, …): reduced.
        (REDUCED, Effect::Reduced)
    };
    let run = run_id
        .map(|r| format!("run {r}"))
        .unwrap_or_else(|| "no run".into());
    let label = |c: &ClaimEvidence| {
        let v = Verdict::from_id(&c.verdict)
            .map(|v| v.label_with(c.indicative))
            .unwrap_or_else(|| "?".into());
        let codes = if c.reason_codes.is_empty() {
            String::new()
        } else {
            format!(" [{}]", c.reason_codes.join(", "))
        };
        format!("{} {v}{codes}: {}", c.claim, c.reason)
    };
    let figures = |cs: &[&ClaimEvidence]| -> String {
        let f: Vec<String> = cs.iter().flat_map(|c| c.figures.iter().cloned()).collect();
        if f.is_empty() {
            String::new()
        } else {
            format!("; figures: {}", f.join(", "))
        }
    };
    let counted_refs: Vec<&ClaimEvidence> = counted.iter().map(|(c, _)| *c).collect();
    let text = match effect {
        Effect::Full => format!(
            "measured here and supported ({run}): full weight; {}{}",
            counted_refs.iter().map(|c| label(c)).collect::<Vec<_>>().join("; "),
            figures(&counted_refs)
        ),
        Effect::Reduced => format!(
            "measured here, only partly true or on one repeat ({run}): weight × {} (stackwise's factor for partly, depends, or a one-repeat refutation); {}{}",
            num(REDUCED),
            counted_refs.iter().map(|c| label(c)).collect::<Vec<_>>().join("; "),
            figures(&counted_refs)
        ),
        Effect::NoVote => {
            let c = counted_refs[0];
            format!(
                "the articles say \"{}\" ({}); measured here: {} ({run}{}): this rule does not vote",
                c.quote,
                c.article,
                counted_refs
                    .iter()
                    .map(|c| c.reason.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
                figures(&counted_refs)
            )
        }
        Effect::ArticleWeight => {
            let why: Vec<String> = if counted_refs.is_empty() {
                claims.iter().map(label).collect()
            } else {
                counted_refs.iter().map(|c| label(c)).collect()
            };
            format!(
                "not checked by a measurement ({run}): the article's weight, {}",
                why.join("; ")
            )
        }
    };
    let mut text = text;
    for c in claims.iter().filter(|c| !c.counts) {
        text.push_str(&format!(
            "; shown, not counted: {} ({}; proxy: {})",
            c.claim,
            Verdict::from_id(&c.verdict)
                .map(|v| v.label_with(c.indicative))
                .unwrap_or_else(|| "?".into()),
            c.proxy.as_deref().unwrap_or("")
        ));
    }
    for c in claims.iter().filter_map(|c| c.note.as_deref()) {
        text.push_str(&format!("; note: {c}"));
    }
    RuleEvidence {
        rule: rule.id.clone(),
        effect,
        factor,
        run_id,
        claims,
        text,
    }
}

/// The claims crate's reason codes of a claim's evidence, typed again.
fn codes(c: &ClaimEvidence) -> Vec<ReasonCode> {
    ReasonCode::ALL
        .into_iter()
        .filter(|r| c.reason_codes.iter().any(|x| x == r.id()))
        .collect()
}

/// The one lab command that would measure every claim the given rules rest on (all targets).
pub fn lab_command_for(rules: &[&Rule]) -> Option<String> {
    let cat = Catalogue::builtin();
    let mut workloads: BTreeSet<String> = BTreeSet::new();
    for r in rules {
        for c in &r.claims {
            let Some(claim) = cat.claims.iter().find(|x| x.id == c.id) else {
                continue;
            };
            let Some(t) = &claim.test else { continue };
            if t.rule.is_none() {
                continue;
            }
            for w in &t.workloads {
                if c.workload.as_ref().is_some_and(|x| x != w) {
                    continue;
                }
                match claims::workloads::lookup(w) {
                    // Per-target measures (cold start) come with every run: the cheapest workload.
                    Some(x) if x.per_target => {
                        workloads.insert("json".into());
                    }
                    Some(x) if x.available => {
                        workloads.insert(w.clone());
                    }
                    _ => {}
                }
            }
        }
    }
    (!workloads.is_empty()).then(|| {
        format!(
            "stackwise lab --workloads {}",
            workloads.into_iter().collect::<Vec<_>>().join(",")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mapping_covers_every_verdict() {
        for v in Verdict::ALL {
            let (f, e) = weight_factor(v, &[], false);
            assert!((0.0..=1.0).contains(&f));
            match v {
                Verdict::Supported => assert_eq!(e, Effect::Full),
                Verdict::Refuted => assert_eq!((f, e), (0.0, Effect::NoVote)),
                Verdict::Partly | Verdict::Depends => assert_eq!(e, Effect::Reduced),
                _ => assert_eq!((f, e), (1.0, Effect::ArticleWeight)),
            }
            // Held back by a code: the article's weight whatever the verdict.
            for c in HELD_BACK {
                assert_eq!(weight_factor(v, &[*c], false), (1.0, Effect::ArticleWeight));
            }
        }
        // A one-repeat refutation reduces, it does not silence.
        assert_eq!(
            weight_factor(Verdict::Refuted, &[ReasonCode::OneRepeat], true),
            (REDUCED, Effect::Reduced)
        );
        assert_eq!(
            weight_factor(Verdict::Inconclusive, &[], false),
            (1.0, Effect::ArticleWeight)
        );
    }

    #[test]
    fn every_claim_rules_toml_names_is_in_the_catalogue() {
        let bad = unknown_claims(&RuleSet::builtin());
        assert!(bad.is_empty(), "{bad:#?}");
    }

    #[test]
    fn without_a_run_every_premise_keeps_the_article_weight() {
        let rules = RuleSet::builtin();
        let e = assess(&rules, None);
        assert!(!e.by_rule.is_empty());
        for (id, ev) in &e.by_rule {
            assert_eq!(ev.effect, Effect::ArticleWeight, "{id}");
            assert_eq!(ev.factor, 1.0);
        }
    }
}
