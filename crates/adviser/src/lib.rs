//! `adviser`: "Node.js, Python or hybrid for *our* backend?" answered the way the articles in
//! shared/seeds frame it (their questions, signals, factor table, use-case map, persona guide,
//! hybrid split and cautions), with every reason traceable to a rule and a quote, and every cost
//! figure traceable to a measured lab run.
//!
//! - [`profile`]: the profile (TOML file, flags, questionnaire: one model).
//! - [`rules`]: the rules kept as data (`rules.toml`, embedded).
//! - [`decide`]: the priority tiers, conflicts, confidence, what would change the answer.
//! - [`cost`]: cores and monthly cost from measured capacity ladders ([`store::RunSummary`]).
//! - [`advice`]: the output model (JSON schema in schemas/advice.schema.json).
//! - [`render`]: the terminal summary and the Architecture Decision Record (MADR).
//! - [`questionnaire`]: the interactive questions.
//! - [`seeds`]: finding the articles, to check the rules' quotes.

pub mod advice;
pub mod cost;
pub mod decide;
pub mod profile;
pub mod questionnaire;
pub mod render;
pub mod rules;
pub mod seeds;

pub use advice::Advice;
pub use profile::{
    parse_profile, read_profile, PartialProfile, Profile, ProfileError, ProfileFlags,
};
pub use rules::{Choice, RuleSet};

use advice::{LoadSplit, Recommendation, ADVICE_FORMAT};
use cost::fmt_num;

/// The advice for a profile, with the measured run (and where it was read from) if there is one.
pub fn advise(profile: &Profile, run: Option<(&store::RunSummary, &str)>) -> Advice {
    advise_with(&RuleSet::builtin(), profile, run)
}

/// [`advise`] with a given rule set.
pub fn advise_with(
    rules: &RuleSet,
    profile: &Profile,
    run: Option<(&store::RunSummary, &str)>,
) -> Advice {
    let d = decide::decide(rules, profile);
    let (choice, tie_break) = match d.unique() {
        Some(c) => (c, None),
        None => break_tie(profile, &d.remaining, run),
    };
    let (reasons, counter_arguments) = decide::reasons(rules, &d, profile, choice);
    let conflicts = decide::conflicts(rules, &d, choice, tie_break.as_deref());
    let confidence = decide::confidence(rules, &d, choice, tie_break.is_some());
    let services = decide::placements(rules, profile, choice);
    let decided_by = d
        .eliminated_at
        .iter()
        .map(|(_, i)| *i)
        .max()
        .filter(|_| tie_break.is_none())
        .map(|i| d.steps[i].tier.clone());
    let summary = match (&decided_by, &tie_break) {
        (Some(t), _) => {
            let step = d
                .steps
                .iter()
                .find(|s| &s.tier == t)
                .expect("decided by a step");
            format!(
                "{}: decided at tier \"{}\" (rank {}).",
                choice.label(),
                step.name,
                step.rank
            )
        }
        (None, Some(tb)) => format!("{}: {tb}.", choice.label()),
        (None, None) => format!("{}.", choice.label()),
    };
    let load_split = (choice == Choice::Hybrid).then(|| LoadSplit {
        node_rps: profile.load.peak_rps,
        python_rps: profile.load.python_share.map(|s| s * profile.load.peak_rps),
        note: match profile.load.python_share {
            Some(s) => format!(
                "Every request enters through the Node.js gateway ({} req/s at peak); a share of {} reaches the Python services.",
                fmt_num(profile.load.peak_rps),
                fmt_num(s)
            ),
            None => format!(
                "Every request enters through the Node.js gateway ({} req/s at peak); the share reaching the Python services is not given (load.python_share).",
                fmt_num(profile.load.peak_rps)
            ),
        },
    });
    let what_would_change = decide::what_would_change(rules, profile, choice);
    let cost = cost::cost(profile, choice, run);
    Advice {
        format: ADVICE_FORMAT,
        profile: profile.clone(),
        recommendation: Recommendation {
            choice,
            label: choice.label().to_string(),
            summary,
            decided_by,
            tie_break,
            services,
            load_split,
        },
        confidence,
        reasons,
        counter_arguments,
        conflicts,
        tiers: d.steps.clone(),
        what_would_change,
        cost,
    }
}

/// Breaks an exact tie between options: by measured cost when the run has it, else by the order
/// node, python, hybrid; the text says which.
fn break_tie(
    profile: &Profile,
    tied: &[Choice],
    run: Option<(&store::RunSummary, &str)>,
) -> (Choice, Option<String>) {
    let names: Vec<&str> = tied.iter().map(|c| c.as_str()).collect();
    if let Some((r, src)) = run {
        let c = cost::cost(profile, Choice::Node, Some((r, src)));
        let cheapest = |stack: Choice| -> Option<f64> {
            c.stacks
                .iter()
                .filter(|s| s.stack == stack)
                .flat_map(|s| s.targets.iter())
                .filter(|t| t.roles.iter().any(|r| r == "typical"))
                .filter_map(|t| t.monthly_usd)
                .reduce(f64::min)
        };
        if let (true, Some(n), Some(p)) = (
            tied.contains(&Choice::Node) && tied.contains(&Choice::Python),
            cheapest(Choice::Node),
            cheapest(Choice::Python),
        ) {
            if n != p {
                let (w, l, wc, lc) = if n < p {
                    (Choice::Node, Choice::Python, n, p)
                } else {
                    (Choice::Python, Choice::Node, p, n)
                };
                return (
                    w,
                    Some(format!(
                        "no rule separates {}; tie broken by measured cost: the typical {} target costs {:.0} USD/month against {:.0} for {} (run {})",
                        names.join(" and "),
                        w.as_str(),
                        wc,
                        lc,
                        l.as_str(),
                        r.run_id
                    )),
                );
            }
        }
    }
    (
        tied[0],
        Some(format!(
            "no rule separates {} and no measured cost does; {} is shown first by fixed order (node, python, hybrid), not on merit",
            names.join(" and "),
            tied[0].as_str()
        )),
    )
}
