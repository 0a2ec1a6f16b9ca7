//! The decision: which rules fire for a profile, how the priority tiers narrow node / python /
//! hybrid down to one answer, the conflicts between rules and how the tiers resolved them, the
//! confidence, and the single profile changes that would change the answer.
//!
//! Method (also in rules.toml): hybrid is a candidate only when a rule calls for two stacks. Tiers
//! are visited by rank; in each, every remaining candidate scores the weights of the tier's fired
//! rules it meets, and only the best-scoring candidates go on. An exact tie after the last tier is
//! reported as such and broken by the caller (by measured cost when there is one).

use std::collections::BTreeSet;

use crate::advice::{
    Change, Confidence, Conflict, Level, OptionScore, Reason, Resolution, ServicePlacement,
    TierStep,
};
use crate::profile::{key_at, KeyKind, Profile, Value};
use crate::rules::{Choice, Favours, Rule, RuleSet};

/// The outcome of the tiers for one profile.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    /// The options still in the running after the last tier (one unless tied), in Choice order.
    pub remaining: Vec<Choice>,
    /// The options that entered the decision.
    pub candidates: Vec<Choice>,
    /// Fired voting rules, in file order.
    pub fired: Vec<&'a Rule>,
    pub steps: Vec<TierStep>,
    /// For each eliminated option: the tier index in `steps` that eliminated it.
    pub eliminated_at: Vec<(Choice, usize)>,
}

impl Decision<'_> {
    /// The single answer when not tied.
    pub fn unique(&self) -> Option<Choice> {
        (self.remaining.len() == 1).then(|| self.remaining[0])
    }

    /// The options a fired rule is met by, among the candidates.
    pub fn met_by(&self, rule: &Rule) -> Vec<Choice> {
        rule.supports()
            .into_iter()
            .filter(|c| self.candidates.contains(c))
            .collect()
    }
}

/// Runs the tiers for a profile.
pub fn decide<'a>(rules: &'a RuleSet, profile: &Profile) -> Decision<'a> {
    let fired: Vec<&Rule> = rules
        .rules
        .iter()
        .filter(|r| {
            rules.tier(&r.tier).is_some_and(|t| t.votes)
                && !r.supports().is_empty()
                && r.fires(profile, None)
        })
        .collect();
    let mut candidates = vec![Choice::Node, Choice::Python];
    if fired.iter().any(|r| r.favours == Favours::Hybrid) {
        candidates.push(Choice::Hybrid);
    }
    let mut remaining = candidates.clone();
    let mut steps = Vec::new();
    let mut eliminated_at = Vec::new();
    for tier in rules.tiers.iter().filter(|t| t.votes) {
        let in_tier: Vec<&&Rule> = fired.iter().filter(|r| r.tier == tier.id).collect();
        let score = |c: Choice| -> u32 {
            in_tier
                .iter()
                .filter(|r| r.supports().contains(&c))
                .map(|r| r.weight)
                .sum()
        };
        let scores: Vec<OptionScore> = remaining
            .iter()
            .map(|&c| OptionScore {
                option: c,
                score: score(c),
            })
            .collect();
        let max = scores.iter().map(|s| s.score).max().unwrap_or(0);
        let eliminated: Vec<Choice> = if max > 0 {
            scores
                .iter()
                .filter(|s| s.score < max)
                .map(|s| s.option)
                .collect()
        } else {
            vec![]
        };
        for &e in &eliminated {
            eliminated_at.push((e, steps.len()));
        }
        remaining.retain(|c| !eliminated.contains(c));
        steps.push(TierStep {
            tier: tier.id.clone(),
            name: tier.name.clone(),
            rank: tier.rank,
            scores,
            eliminated,
            rules: in_tier.iter().map(|r| r.id.clone()).collect(),
        });
    }
    Decision {
        remaining,
        candidates,
        fired,
        steps,
        eliminated_at,
    }
}

/// A fired rule as a reason.
pub fn reason(rules: &RuleSet, rule: &Rule, met_by: Vec<Choice>) -> Reason {
    let tier = rules.tier(&rule.tier).expect("validated");
    Reason {
        rule: rule.id.clone(),
        tier: tier.id.clone(),
        tier_name: tier.name.clone(),
        favours: rule.favours,
        met_by,
        weight: rule.weight,
        says: rule.says.clone(),
        sources: rule.sources.clone(),
        measure: rule.measure.clone(),
    }
}

fn tier_rank(rules: &RuleSet, rule: &Rule) -> u32 {
    rules.tier(&rule.tier).map(|t| t.rank).unwrap_or(u32::MAX)
}

/// Reasons (met by `choice`, plus notes) and counter-arguments (met by another candidate only,
/// plus the cautions attached to `choice`), each sorted by tier rank then weight.
pub fn reasons(
    rules: &RuleSet,
    d: &Decision,
    profile: &Profile,
    choice: Choice,
) -> (Vec<Reason>, Vec<Reason>) {
    let mut pro: Vec<&Rule> = Vec::new();
    let mut con: Vec<&Rule> = Vec::new();
    for r in &d.fired {
        let met = d.met_by(r);
        if met.contains(&choice) {
            pro.push(r);
        } else if !met.is_empty() {
            con.push(r);
        }
    }
    let sort = |v: &mut Vec<&Rule>| {
        v.sort_by_key(|r| (tier_rank(rules, r), std::cmp::Reverse(r.weight)));
    };
    sort(&mut pro);
    sort(&mut con);
    let mut pro: Vec<Reason> = pro
        .into_iter()
        .map(|r| reason(rules, r, d.met_by(r)))
        .collect();
    let mut con: Vec<Reason> = con
        .into_iter()
        .map(|r| reason(rules, r, d.met_by(r)))
        .collect();
    for r in &rules.rules {
        match r.favours {
            Favours::Either if r.fires(profile, None) => {
                pro.push(reason(rules, r, vec![Choice::Node, Choice::Python]))
            }
            Favours::Caution if r.fires(profile, Some(choice)) => {
                con.push(reason(rules, r, vec![]))
            }
            _ => {}
        }
    }
    (pro, con)
}

/// The services a hybrid places on each stack (empty for a single stack).
pub fn placements(rules: &RuleSet, profile: &Profile, choice: Choice) -> Vec<ServicePlacement> {
    if choice != Choice::Hybrid {
        return vec![];
    }
    rules
        .rules
        .iter()
        .filter(|r| r.favours == Favours::Placement && r.fires(profile, Some(choice)))
        .filter_map(|r| {
            r.place.as_ref().map(|p| ServicePlacement {
                service: p.service.clone(),
                stack: p.stack,
                rule: r.id.clone(),
                sources: r.sources.clone(),
            })
        })
        .collect()
}

/// Each disagreement between the chosen option and another candidate that fired rules support,
/// with the tier that resolved it.
pub fn conflicts(
    rules: &RuleSet,
    d: &Decision,
    choice: Choice,
    tie_break: Option<&str>,
) -> Vec<Conflict> {
    let mut out = Vec::new();
    for &other in &d.candidates {
        if other == choice {
            continue;
        }
        let side = |a: Choice, b: Choice| -> Vec<&Rule> {
            let mut v: Vec<&Rule> = d
                .fired
                .iter()
                .copied()
                .filter(|r| {
                    let m = d.met_by(r);
                    m.contains(&a) && !m.contains(&b)
                })
                .collect();
            v.sort_by_key(|r| (tier_rank(rules, r), std::cmp::Reverse(r.weight)));
            v
        };
        let for_choice = side(choice, other);
        let for_other = side(other, choice);
        if for_other.is_empty() {
            continue;
        }
        let tier_name = |r: Option<&&Rule>| {
            r.and_then(|r| rules.tier(&r.tier))
                .map(|t| t.name.clone())
                .unwrap_or_else(|| "nothing".into())
        };
        let title = format!(
            "{} vs {}",
            tier_name(for_choice.first()),
            tier_name(for_other.first())
        );
        let resolution = match d.eliminated_at.iter().find(|(c, _)| *c == other) {
            Some(&(_, i)) => {
                let step = &d.steps[i];
                let score = |c: Choice| {
                    step.scores
                        .iter()
                        .find(|s| s.option == c)
                        .map(|s| s.score)
                        .unwrap_or(0)
                };
                let (ps, os) = (score(choice), score(other));
                let other_tiers: BTreeSet<(u32, String)> = for_other
                    .iter()
                    .filter_map(|r| rules.tier(&r.tier))
                    .map(|t| (t.rank, t.name.clone()))
                    .collect();
                let higher = other_tiers.iter().all(|(rank, _)| *rank > step.rank);
                let tier = rules.tier(&step.tier).expect("step tiers exist");
                let explanation = if higher {
                    let names: Vec<String> = other_tiers
                        .iter()
                        .map(|(r, n)| format!("{n} (rank {r})"))
                        .collect();
                    format!(
                        "{} prevails at tier \"{}\" (rank {}), {} to {}; the rules for {} are in {}, which rank lower. Tier rule: {}",
                        choice.as_str(),
                        step.name,
                        step.rank,
                        ps,
                        os,
                        other.as_str(),
                        names.join(", "),
                        tier.why
                    )
                } else {
                    format!(
                        "{} prevails at tier \"{}\" (rank {}): its rules there weigh {} against {} for {}.",
                        choice.as_str(),
                        step.name,
                        step.rank,
                        ps,
                        os,
                        other.as_str()
                    )
                };
                Resolution {
                    tier: Some(step.tier.clone()),
                    rank: Some(step.rank),
                    prevailing_score: ps,
                    overruled_score: os,
                    explanation,
                }
            }
            None => Resolution {
                tier: None,
                rank: None,
                prevailing_score: 0,
                overruled_score: 0,
                explanation: format!(
                    "no tier separates {} and {}: {}",
                    choice.as_str(),
                    other.as_str(),
                    tie_break.unwrap_or("exact tie")
                ),
            },
        };
        out.push(Conflict {
            title,
            prevailing: choice,
            overruled: other,
            rules_for_prevailing: for_choice.iter().map(|r| r.id.clone()).collect(),
            rules_for_overruled: for_other.iter().map(|r| r.id.clone()).collect(),
            resolution,
        });
    }
    out
}

/// How sure the answer is: the share of fired voting weight met by the choice, capped when only the
/// lowest voting tier or a tie-break decided.
pub fn confidence(rules: &RuleSet, d: &Decision, choice: Choice, tied: bool) -> Confidence {
    let total: u32 = d.fired.iter().map(|r| r.weight).sum();
    let met: u32 = d
        .fired
        .iter()
        .filter(|r| d.met_by(r).contains(&choice))
        .map(|r| r.weight)
        .sum();
    let share = if total == 0 {
        0.0
    } else {
        f64::from(met) / f64::from(total)
    };
    let mut level = if share >= 0.75 {
        Level::High
    } else if share >= 0.5 {
        Level::Medium
    } else {
        Level::Low
    };
    let mut why = format!(
        "the choice meets {met} of the {total} points of weight of the fired rules ({:.0}%; ≥ 75% high, ≥ 50% medium)",
        share * 100.0
    );
    let last_voting = rules.tiers.iter().filter(|t| t.votes).map(|t| t.rank).max();
    let decided_rank = d.eliminated_at.iter().map(|(_, i)| d.steps[*i].rank).max();
    if tied {
        level = Level::Low;
        why.push_str("; low because no tier separated the options");
    } else if decided_rank.is_some() && decided_rank == last_voting && level == Level::High {
        level = Level::Medium;
        why.push_str(
            "; capped at medium because only the lowest tier (use case and context) decided",
        );
    }
    Confidence {
        level,
        support_share: (share * 1000.0).round() / 1000.0,
        explanation: why,
    }
}

/// The keys any rule reads, in profile order.
fn keys_read(rules: &RuleSet) -> Vec<&'static str> {
    fn walk(c: &crate::rules::Clause, out: &mut BTreeSet<String>) {
        if let Some(k) = &c.key {
            out.insert(k.clone());
        }
        if let Some(k) = &c.gt_key {
            out.insert(k.clone());
        }
        for a in c.any.iter().flatten() {
            walk(a, out);
        }
        if let Some(n) = &c.not {
            walk(n, out);
        }
    }
    let mut read = BTreeSet::new();
    for r in rules
        .rules
        .iter()
        .filter(|r| rules.tier(&r.tier).is_some_and(|t| t.votes))
    {
        for c in &r.when {
            walk(c, &mut read);
        }
    }
    crate::profile::KEYS
        .iter()
        .map(|k| k.path)
        .filter(|p| read.contains(*p))
        .collect()
}

/// The single changes of one profile key that change the answer (ties count as no answer).
pub fn what_would_change(rules: &RuleSet, profile: &Profile, choice: Choice) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::new();
    for path in keys_read(rules) {
        let key = key_at(path).expect("known key");
        let current = profile.get(path).expect("known key");
        let mut tries: Vec<String> = match key.kind {
            KeyKind::Bool => vec![(!matches!(current, Value::Bool(true))).to_string()],
            KeyKind::Choice(names) => names.iter().map(|s| s.to_string()).collect(),
            KeyKind::Count | KeyKind::Number => {
                let mut v: Vec<f64> = vec![0.0];
                for t in rules.thresholds(path) {
                    v.extend([t - 1.0, t, t + 1.0]);
                }
                for other in ["team.javascript", "team.python"] {
                    if path.starts_with("team.") && other != path {
                        if let Some(Value::Number(o)) = profile.get(other) {
                            v.extend([o - 1.0, o, o + 1.0]);
                        }
                    }
                }
                let cur = match current {
                    Value::Number(n) => n,
                    _ => 0.0,
                };
                v.retain(|x| *x >= 0.0 && *x != cur);
                // Nearest values first: the smallest change that flips the answer is reported.
                v.sort_by(|a, b| {
                    (a - cur)
                        .abs()
                        .total_cmp(&(b - cur).abs())
                        .then(a.total_cmp(b))
                });
                v.dedup();
                v.into_iter().map(|x| format!("{x}")).collect()
            }
        };
        tries.retain(|t| *t != current.to_string());
        let mut seen = BTreeSet::new();
        for t in tries {
            let mut p = profile.clone();
            if p.set(path, &t).is_err() {
                continue;
            }
            if let Some(c) = decide(rules, &p).unique() {
                if c != choice && seen.insert(c) {
                    out.push(Change {
                        key: path.to_string(),
                        from: current.to_string(),
                        to: t,
                        choice: c,
                    });
                }
            }
        }
    }
    out
}
