//! The decision: which rules fire for a profile, how the priority tiers narrow node / python /
//! hybrid down to one answer, the conflicts between rules and how the tiers resolved them, the
//! tension a hybrid resolves by its split, the confidence, and the thresholds of the profile's keys
//! that would change the answer.
//!
//! Method (also in rules.toml and docs/profile.md): hybrid is a candidate only when a rule calls for
//! two stacks, and meets a node or python rule only through a placement that puts the rule's service
//! on the favoured stack (`hybrid_via`). A rule's weight is its article weight times the factor its
//! claims' verdicts on the run give ([`crate::evidence`]); a refuted premise does not vote. Tiers
//! are visited by rank; in each, every remaining candidate scores the weights of the tier's fired
//! rules it meets, and only the best-scoring candidates go on. An exact tie after the last tier is
//! reported as such and broken by the caller (by measured cost when there is one).

use std::collections::{BTreeMap, BTreeSet};

use crate::advice::{
    Change, Confidence, Conflict, Level, OptionScore, Reason, Resolution, ServicePlacement,
    Tension, TierStep,
};
use crate::evidence::{Effect, Evidence};
use crate::profile::{derived_from, key_at, KeyKind, Profile, Value};
use crate::rules::{Choice, Favours, Rule, RuleSet};
use workloads::format::amount;

/// The outcome of the tiers for one profile.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    /// The options still in the running after the last tier (one unless tied), in Choice order.
    pub remaining: Vec<Choice>,
    /// The options that entered the decision.
    pub candidates: Vec<Choice>,
    /// Fired voting rules that vote (weight > 0 after evidence), in file order.
    pub fired: Vec<&'a Rule>,
    /// Fired voting rules whose premise was refuted on the run: they do not vote.
    pub silenced: Vec<&'a Rule>,
    pub steps: Vec<TierStep>,
    /// For each eliminated option: the tier index in `steps` that eliminated it.
    pub eliminated_at: Vec<(Choice, usize)>,
    /// Options each fired rule is met by, among the candidates.
    met: BTreeMap<String, Vec<Choice>>,
    /// Each fired rule's weight after evidence.
    weights: BTreeMap<String, f64>,
}

impl Decision<'_> {
    /// The single answer when not tied.
    pub fn unique(&self) -> Option<Choice> {
        (self.remaining.len() == 1).then(|| self.remaining[0])
    }

    /// The options a fired rule is met by, among the candidates.
    pub fn met_by(&self, rule: &Rule) -> Vec<Choice> {
        self.met.get(&rule.id).cloned().unwrap_or_default()
    }

    /// A fired rule's weight after evidence.
    pub fn weight(&self, rule: &Rule) -> f64 {
        self.weights
            .get(&rule.id)
            .copied()
            .unwrap_or(f64::from(rule.weight))
    }

    /// The fired weight an option meets, and the total fired weight.
    pub fn support(&self, c: Choice) -> (f64, f64) {
        let total: f64 = self.fired.iter().fold(0.0, |a, r| a + self.weight(r));
        let met: f64 = self
            .fired
            .iter()
            .filter(|r| self.met_by(r).contains(&c))
            .fold(0.0, |a, r| a + self.weight(r));
        (met, total)
    }
}

/// Runs the tiers for a profile, with the rules weighed by the evidence.
pub fn decide<'a>(rules: &'a RuleSet, profile: &Profile, ev: &Evidence) -> Decision<'a> {
    let all_fired: Vec<&Rule> = rules
        .rules
        .iter()
        .filter(|r| {
            rules.tier(&r.tier).is_some_and(|t| t.votes)
                && !r.supports().is_empty()
                && r.fires(profile, None)
        })
        .collect();
    let (fired, silenced): (Vec<&Rule>, Vec<&Rule>) =
        all_fired.into_iter().partition(|r| ev.factor(&r.id) > 0.0);
    let mut candidates = vec![Choice::Node, Choice::Python];
    if fired.iter().any(|r| r.favours == Favours::Hybrid) {
        candidates.push(Choice::Hybrid);
    }
    let met: BTreeMap<String, Vec<Choice>> = fired
        .iter()
        .map(|r| {
            let m: Vec<Choice> = r
                .supports_for(rules, profile)
                .into_iter()
                .filter(|c| candidates.contains(c))
                .collect();
            (r.id.clone(), m)
        })
        .collect();
    let weights: BTreeMap<String, f64> = fired
        .iter()
        .map(|r| (r.id.clone(), f64::from(r.weight) * ev.factor(&r.id)))
        .collect();
    let mut remaining = candidates.clone();
    let mut steps = Vec::new();
    let mut eliminated_at = Vec::new();
    for tier in rules.tiers.iter().filter(|t| t.votes) {
        let in_tier: Vec<&&Rule> = fired.iter().filter(|r| r.tier == tier.id).collect();
        let score = |c: Choice| -> f64 {
            in_tier
                .iter()
                .filter(|r| met[&r.id].contains(&c))
                .fold(0.0, |acc, r| acc + weights[&r.id])
        };
        let scores: Vec<OptionScore> = remaining
            .iter()
            .map(|&c| OptionScore {
                option: c,
                score: score(c),
            })
            .collect();
        let max = scores.iter().map(|s| s.score).fold(0.0, f64::max);
        let eliminated: Vec<Choice> = if max > 0.0 {
            scores
                .iter()
                .filter(|s| s.score < max - 1e-9)
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
        silenced,
        steps,
        eliminated_at,
        met,
        weights,
    }
}

/// A fired rule as a reason.
pub fn reason(
    rules: &RuleSet,
    rule: &Rule,
    met_by: Vec<Choice>,
    weight: f64,
    ev: &Evidence,
) -> Reason {
    let tier = rules.tier(&rule.tier).expect("validated");
    Reason {
        rule: rule.id.clone(),
        tier: tier.id.clone(),
        tier_name: tier.name.clone(),
        favours: rule.favours,
        met_by,
        weight: rule.weight,
        effective_weight: weight,
        says: rule.says.clone(),
        sources: rule.sources.clone(),
        measure: rule.measure.clone(),
        evidence: ev.get(&rule.id).cloned(),
    }
}

fn tier_rank(rules: &RuleSet, rule: &Rule) -> u32 {
    rules.tier(&rule.tier).map(|t| t.rank).unwrap_or(u32::MAX)
}

/// Reasons (met by `choice`, plus notes), counter-arguments (met by another candidate only, plus
/// the cautions attached to `choice`) and the rules whose premise was refuted (no vote), each
/// sorted by tier rank then weight.
pub fn reasons(
    rules: &RuleSet,
    d: &Decision,
    profile: &Profile,
    choice: Choice,
    ev: &Evidence,
) -> (Vec<Reason>, Vec<Reason>, Vec<Reason>) {
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
        v.sort_by(|a, b| {
            tier_rank(rules, a)
                .cmp(&tier_rank(rules, b))
                .then(d.weight(b).total_cmp(&d.weight(a)))
        });
    };
    sort(&mut pro);
    sort(&mut con);
    let as_reason = |r: &Rule| reason(rules, r, d.met_by(r), d.weight(r), ev);
    let mut pro: Vec<Reason> = pro.into_iter().map(as_reason).collect();
    let mut con: Vec<Reason> = con.into_iter().map(as_reason).collect();
    for r in &rules.rules {
        match r.favours {
            Favours::Either if r.fires(profile, None) => pro.push(reason(
                rules,
                r,
                vec![Choice::Node, Choice::Python],
                0.0,
                ev,
            )),
            Favours::Caution if r.fires(profile, Some(choice)) => {
                con.push(reason(rules, r, vec![], 0.0, ev))
            }
            _ => {}
        }
    }
    let silenced = d
        .silenced
        .iter()
        .map(|r| reason(rules, r, r.supports_for(rules, profile), 0.0, ev))
        .collect();
    (pro, con, silenced)
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

/// For a hybrid: the product's pull towards Node.js and towards Python (fired rules of either side
/// that the hybrid meets through its placements), resolved by the split.
pub fn tension(
    rules: &RuleSet,
    d: &Decision,
    profile: &Profile,
    choice: Choice,
) -> Option<Tension> {
    if choice != Choice::Hybrid {
        return None;
    }
    let side = |f: Favours| -> Vec<&Rule> {
        d.fired
            .iter()
            .copied()
            .filter(|r| {
                r.favours == f
                    && matches!(r.tier.as_str(), "product" | "context")
                    && d.met_by(r).contains(&Choice::Hybrid)
            })
            .collect()
    };
    let (node, python) = (side(Favours::Node), side(Favours::Python));
    if node.is_empty() || python.is_empty() {
        return None;
    }
    let services = placements(rules, profile, choice);
    let on = |stack: Choice| -> Vec<String> {
        services
            .iter()
            .filter(|s| s.stack == stack)
            .map(|s| s.service.clone())
            .collect()
    };
    let w = |rs: &[&Rule]| -> f64 { rs.iter().fold(0.0, |a, r| a + d.weight(r)) };
    Some(Tension {
        node_rules: node.iter().map(|r| r.id.clone()).collect(),
        python_rules: python.iter().map(|r| r.id.clone()).collect(),
        node_weight: w(&node),
        python_weight: w(&python),
        resolution: format!(
            "the product pulls both ways (Node.js {} against Python {} points of weight); resolved by the split: {} on Node.js, {} on Python. Each side's rules count for the hybrid only through the service it places on that stack.",
            amount(w(&node)),
            amount(w(&python)),
            on(Choice::Node).join("; "),
            on(Choice::Python).join("; ")
        ),
    })
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
            v.sort_by(|a, b| {
                tier_rank(rules, a)
                    .cmp(&tier_rank(rules, b))
                    .then(d.weight(b).total_cmp(&d.weight(a)))
            });
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
                        .unwrap_or(0.0)
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
                        amount(ps),
                        amount(os),
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
                        amount(ps),
                        amount(os),
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
                prevailing_score: 0.0,
                overruled_score: 0.0,
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

/// How sure the answer is: the share of the fired (evidence-weighted) voting weight the choice
/// meets, and how much stands behind it: how many rules, in how many tiers, how many measured and
/// supported. High needs ≥ 75% and at least three rules from two tiers; medium needs ≥ 50% and two
/// rules (or one of weight ≥ 3); so one weak rule is never high. Capped at medium when only the
/// lowest tier decided; low after a tie.
pub fn confidence(
    rules: &RuleSet,
    d: &Decision,
    choice: Choice,
    tied: bool,
    ev: &Evidence,
) -> Confidence {
    let (met, total) = d.support(choice);
    let share = if total > 0.0 { met / total } else { 0.0 };
    let backing: Vec<&&Rule> = d
        .fired
        .iter()
        .filter(|r| d.met_by(r).contains(&choice))
        .collect();
    let n = backing.len();
    let tiers: BTreeSet<&str> = backing.iter().map(|r| r.tier.as_str()).collect();
    let measured = backing
        .iter()
        .filter(|r| ev.get(&r.id).is_some_and(|e| e.effect == Effect::Full))
        .count();
    let heaviest = backing.iter().map(|r| d.weight(r)).fold(0.0, f64::max);
    let mut level = if share >= 0.75 && n >= 3 && tiers.len() >= 2 {
        Level::High
    } else if share >= 0.5 && (n >= 2 || heaviest >= 3.0) {
        Level::Medium
    } else {
        Level::Low
    };
    let mut why = format!(
        "the choice meets {} of the {} points of weight of the fired rules ({:.0}%), from {n} rule{} in {} tier{}, {measured} of them with a premise measured and supported here (high: ≥ 75% from ≥ 3 rules in ≥ 2 tiers; medium: ≥ 50% from ≥ 2 rules or one of weight ≥ 3)",
        amount(met),
        amount(total),
        share * 100.0,
        if n == 1 { "" } else { "s" },
        tiers.len(),
        if tiers.len() == 1 { "" } else { "s" },
    );
    if !d.silenced.is_empty() {
        let ids: Vec<&str> = d.silenced.iter().map(|r| r.id.as_str()).collect();
        why.push_str(&format!(
            "; not counted: {} (premise refuted on the run)",
            ids.join(", ")
        ));
    }
    if choice == Choice::Hybrid
        && backing.iter().any(|r| r.favours == Favours::Node)
        && backing.iter().any(|r| r.favours == Favours::Python)
    {
        why.push_str(
            "; a hybrid meets both pulls only by running two stacks (see the tension and its cost)",
        );
    }
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
        rules: n as u32,
        tiers: tiers.len() as u32,
        measured: measured as u32,
        explanation: why,
    }
}

/// The settable keys the voting rules read, directly or through a derived key, in profile order.
pub fn keys_read(rules: &RuleSet) -> Vec<&'static str> {
    fn walk(c: &crate::rules::Clause, out: &mut BTreeSet<String>) {
        for k in c.key.iter().chain(c.gt_key.iter()) {
            if key_at(k).is_some() {
                out.insert(k.clone());
            }
            for base in derived_from(k) {
                out.insert(base.to_string());
            }
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

/// The answer for a profile as the search sees it: the unique answer, `None` for a tie.
fn answer(rules: &RuleSet, p: &Profile, ev: &Evidence) -> Option<Choice> {
    decide(rules, p, ev).unique()
}

/// The highest team size searched when looking for a headcount threshold.
const TEAM_SEARCH_MAX: u32 = 200;

/// What would change the answer, as thresholds found by searching each key the rules read (after
/// a tie, what would give a unique answer):
/// headcounts over 0…200 and around every share threshold (the nearest value on each side of today's that changes the answer, and
/// whether every value beyond it does too: "≥ N"), load keys at every threshold a rule compares them
/// with, and every other value of the choice and yes/no keys.
pub fn what_would_change(
    rules: &RuleSet,
    profile: &Profile,
    choice: Choice,
    ev: &Evidence,
) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::new();
    // Today's unique answer (`None` for a tie: then any unique answer is a change).
    let now = answer(rules, profile, ev);
    debug_assert!(now.is_none() || now == Some(choice));
    for path in keys_read(rules) {
        let key = key_at(path).expect("known key");
        let current = profile.get(path).expect("known key");
        let at = |v: &str| -> Option<Option<Choice>> {
            let mut p = profile.clone();
            p.set(path, v).ok()?;
            Some(answer(rules, &p, ev))
        };
        match key.kind {
            KeyKind::Bool | KeyKind::Choice(_) => {
                let tries: Vec<String> = match key.kind {
                    KeyKind::Bool => vec![(!matches!(current, Value::Bool(true))).to_string()],
                    KeyKind::Choice(names) => names.iter().map(|s| s.to_string()).collect(),
                    _ => unreachable!(),
                };
                let mut seen = BTreeSet::new();
                for t in tries.into_iter().filter(|t| *t != current.to_string()) {
                    if let Some(Some(c)) = at(&t) {
                        if Some(c) != now && seen.insert(c) {
                            out.push(change(path, &current, &t, "=", c));
                        }
                    }
                }
            }
            KeyKind::Count | KeyKind::Number => {
                let cur = match current {
                    Value::Number(n) => n,
                    _ => 0.0,
                };
                let values: Vec<f64> = if path.starts_with("team.") {
                    team_candidates(rules, profile, path)
                } else {
                    // Rules compare load keys with fixed thresholds: the answer can only change
                    // there, so testing each threshold and the value just below it is exhaustive.
                    let mut v: Vec<f64> = vec![];
                    for t in rules.thresholds(path) {
                        v.extend([t, (t - 1.0).max(0.0), t + 1.0]);
                    }
                    v.retain(|x| *x > 0.0);
                    v.sort_by(f64::total_cmp);
                    v.dedup();
                    v
                };
                // A profile value as the user would write it (not a figure for humans: `5`, `2000`).
                let fmt = |x: f64| x.to_string();
                let results: Vec<(f64, Option<Choice>)> = values
                    .iter()
                    .filter_map(|&x| at(&fmt(x)).map(|c| (x, c)))
                    .collect();
                // Upwards: the first value above today's with another unique answer.
                if let Some(&(x, Some(c))) = results
                    .iter()
                    .filter(|(x, _)| *x > cur)
                    .find(|(_, c)| c.is_some() && *c != now)
                {
                    let all_beyond = results
                        .iter()
                        .filter(|(y, _)| *y >= x)
                        .all(|(_, d)| *d == Some(c));
                    out.push(change(
                        path,
                        &current,
                        &fmt(x),
                        if all_beyond { "≥" } else { "=" },
                        c,
                    ));
                }
                // Downwards: the first value below today's with another unique answer.
                if let Some(&(x, Some(c))) = results
                    .iter()
                    .rev()
                    .filter(|(x, _)| *x < cur)
                    .find(|(_, c)| c.is_some() && *c != now)
                {
                    let all_below = results
                        .iter()
                        .filter(|(y, _)| *y <= x)
                        .all(|(_, d)| *d == Some(c));
                    out.push(change(
                        path,
                        &current,
                        &fmt(x),
                        if all_below { "≤" } else { "=" },
                        c,
                    ));
                }
            }
        }
    }
    out
}

/// The headcounts to try for a team key: every count up to [`TEAM_SEARCH_MAX`], and for larger
/// teams the counts around each point where the weighted share crosses a threshold a rule reads
/// (the answer depends on a headcount only through zero and those shares), and around today's.
fn team_candidates(rules: &RuleSet, profile: &Profile, path: &str) -> Vec<f64> {
    let t = &profile.team;
    let (own_w, other) = match path {
        "team.javascript" => (t.javascript_level.weight(), t.weighted_python()),
        "team.python" => (t.python_level.weight(), t.weighted_javascript()),
        _ => (1.0, 0.0),
    };
    let mut v: Vec<f64> = (0..=TEAM_SEARCH_MAX).map(f64::from).collect();
    let mut near = |x: f64| {
        if x.is_finite() && x >= 0.0 {
            let x = x.round();
            v.extend([(x - 1.0).max(0.0), x, x + 1.0]);
        }
    };
    let cur = match profile.get(path) {
        Some(Value::Number(n)) => n,
        _ => 0.0,
    };
    near(cur);
    near(cur * 2.0);
    for s in rules.thresholds("team.javascript_share") {
        // The JavaScript share is s when js × wj = s / (1 − s) × py × wp.
        let s_own = if path == "team.javascript" {
            s
        } else {
            1.0 - s
        };
        if s_own > 0.0 && s_own < 1.0 && own_w > 0.0 {
            near(s_own / (1.0 - s_own) * other / own_w);
        }
    }
    v.retain(|x| *x <= 100_000.0);
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

fn change(path: &str, from: &Value, to: &str, op: &str, choice: Choice) -> Change {
    // "≤ 0" of a count is just 0.
    let op = if op == "≤" && to == "0" { "=" } else { op };
    let what = match path {
        "team.javascript" if op == "=" => format!("the team had {to} JavaScript engineers"),
        "team.python" if op == "=" => format!("the team had {to} Python engineers"),
        "team.javascript" => format!("the team had {op} {to} JavaScript engineers"),
        "team.python" => format!("the team had {op} {to} Python engineers"),
        "load.peak_rps" => match op {
            "≥" => format!("peak load reached {to} req/s or more"),
            "≤" => format!("peak load were {to} req/s or less"),
            _ => format!("peak load were {to} req/s"),
        },
        "load.concurrent_connections" => match op {
            "≥" => format!("{to} or more connections were held at the peak"),
            "≤" => format!("{to} or fewer connections were held at the peak"),
            _ => format!("{to} connections were held at the peak"),
        },
        _ => format!("{path} were {to}"),
    };
    Change {
        key: path.to_string(),
        from: from.to_string(),
        to: to.to_string(),
        op: op.to_string(),
        choice,
        text: format!("{} if {what} (now {from})", choice.label()),
    }
}
