//! `adviser`: "Node.js, Python or hybrid for *our* backend?" answered the way the articles in
//! shared/seeds frame it (their questions, signals, factor table, use-case map, persona guide,
//! hybrid split and cautions), with every reason traceable to a rule and a quote, and every cost
//! figure traceable to a measured lab run.
//!
//! - [`profile`]: the typed profile (TOML file, flags, questionnaire: one model) and its validation.
//! - [`rules`]: the rules kept as data (`rules.toml`, embedded).
//! - [`decide`]: the priority tiers, conflicts, confidence, what would change the answer.
//! - [`evidence`]: the claims verdicts on the run that weigh each rule (read, never measured here).
//! - [`cost`]: cores and monthly cost from measured capacity ladders ([`store::RunSummary`]), and
//!   the total cost of ownership from the user's own figures.
//! - [`advice`]: the output model (JSON schema in schemas/advice.schema.json).
//! - [`questionnaire`]: the articles' questions as data (the CLI asks them on a terminal).
//!
//! No flag parsing, no terminal I/O and no rendering here: the CLI (crates/stackwise) owns the
//! first two; the reports crate renders the advice (`reports::advice_text`: the terminal summary and
//! the Architecture Decision Record). Figures in the explanations are formatted by the one
//! formatter, [`workloads::format::num`].
//! - [`seeds`]: finding the articles, to check the rules' quotes.

pub mod advice;
pub mod cost;
pub mod decide;
pub mod evidence;
pub mod profile;
pub mod questionnaire;
pub mod rules;
pub mod seeds;

pub use advice::Advice;
pub use profile::{parse_profile, read_profile, FieldError, PartialProfile, Profile, ProfileError};
pub use rules::{Choice, RuleSet};

use advice::{EvidenceSummary, LoadSplit, NoClearWinner, Recommendation, ADVICE_FORMAT};
use profile::DataFlow;
use rules::Source;
use workloads::format::num;

/// Below this share of the fired weight (or after a tie no measured cost broke) there is no clear
/// winner.
pub const CLEAR_WINNER_SHARE: f64 = 0.5;

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
    let ev = evidence::assess(rules, run.map(|(r, _)| r));
    let d = decide::decide(rules, profile, &ev);
    let (choice, tie_break) = match d.unique() {
        Some(c) => (c, None),
        None => break_tie(profile, &d.remaining, run),
    };
    let (reasons, counter_arguments, not_voting) = decide::reasons(rules, &d, profile, choice, &ev);
    let conflicts = decide::conflicts(rules, &d, choice, tie_break.as_deref());
    let confidence = decide::confidence(rules, &d, choice, tie_break.is_some(), &ev);
    let services = decide::placements(rules, profile, choice);
    let tension = decide::tension(rules, &d, profile, choice);
    let what_would_change = decide::what_would_change(rules, profile, choice, &ev);
    let decided_by = d
        .eliminated_at
        .iter()
        .map(|(_, i)| *i)
        .max()
        .filter(|_| tie_break.is_none())
        .map(|i| d.steps[i].tier.clone());
    // Below half the weight, or a tie no measurement broke: no clear winner.
    let unbroken_tie = d.unique().is_none()
        && tie_break
            .as_deref()
            .is_some_and(|t| t.contains("not on merit"));
    let no_clear_winner = (confidence.support_share < CLEAR_WINNER_SHARE || unbroken_tie)
        .then(|| no_clear_winner(&d, profile, choice, &conflicts, &what_would_change));
    let label = match &no_clear_winner {
        Some(n) => format!(
            "no clear winner: {} or {}",
            n.options[0].label(),
            n.options[1].label()
        ),
        None => choice.label().to_string(),
    };
    let mut summary = match (&decided_by, &tie_break) {
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
    if let Some(n) = &no_clear_winner {
        summary = format!(
            "No clear winner: {} meets {:.0}% of the fired weight and {} {:.0}%; the tiers lean to {} ({}). Prototype both before committing.",
            n.options[0].label(),
            n.shares[0] * 100.0,
            n.options[1].label(),
            n.shares[1] * 100.0,
            choice.label(),
            summary.trim_end_matches('.')
        );
    }
    let load_split = (choice == Choice::Hybrid).then(|| LoadSplit {
        node_rps: profile.load.peak_rps,
        python_rps: profile.load.python_share.map(|s| s * profile.load.peak_rps),
        note: match profile.load.python_share {
            Some(s) => format!(
                "Every request enters through the Node.js gateway ({} req/s at peak); a share of {} reaches the Python services.",
                num(profile.load.peak_rps),
                num(s)
            ),
            None => format!(
                "Every request enters through the Node.js gateway ({} req/s at peak); the share reaching the Python services is not given (load.python_share).",
                num(profile.load.peak_rps)
            ),
        },
    });
    let evidence = evidence_summary(&d, &ev, run.map(|(r, _)| r.run_id));
    let cost = cost::cost(profile, &d.candidates, run);
    Advice {
        format: ADVICE_FORMAT,
        profile: profile.clone(),
        recommendation: Recommendation {
            choice,
            label,
            summary,
            decided_by,
            tie_break,
            services,
            load_split,
        },
        confidence,
        reasons,
        counter_arguments,
        not_voting,
        evidence,
        tension,
        no_clear_winner,
        conflicts,
        tiers: d.steps.clone(),
        what_would_change,
        cost,
    }
}

/// What the run checked of the fired rules' premises, and the one command for the rest.
fn evidence_summary(
    d: &decide::Decision,
    ev: &evidence::Evidence,
    run_id: Option<i64>,
) -> EvidenceSummary {
    let mut measured = Vec::new();
    let mut unchecked = Vec::new();
    let mut unchecked_rules = Vec::new();
    for r in d.fired.iter().chain(d.silenced.iter()) {
        let Some(e) = ev.get(&r.id) else { continue };
        if e.effect == evidence::Effect::ArticleWeight {
            for c in e.claims.iter().filter(|c| c.counts) {
                unchecked.push(format!(
                    "{}: {} {}{} ({})",
                    r.id,
                    c.claim,
                    claims::Verdict::from_id(&c.verdict)
                        .map(|v| v.label_with(c.indicative))
                        .unwrap_or_else(|| "?".into()),
                    if c.reason_codes.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", c.reason_codes.join(", "))
                    },
                    c.reason
                ));
            }
            unchecked_rules.push(*r);
        } else {
            measured.push(format!("{}: {}", r.id, e.effect.as_str()));
        }
    }
    EvidenceSummary {
        run_id,
        measured,
        unchecked,
        command: evidence::lab_command_for(&unchecked_rules),
    }
}

/// Below half the weight: the two best options by share, what separates them, and the articles'
/// "Prototype small features in both" as lab commands and a spike.
fn no_clear_winner(
    d: &decide::Decision,
    profile: &Profile,
    choice: Choice,
    conflicts: &[advice::Conflict],
    changes: &[advice::Change],
) -> NoClearWinner {
    let share = |c: Choice| {
        let (m, t) = d.support(c);
        if t > 0.0 {
            m / t
        } else {
            0.0
        }
    };
    let runner = d
        .candidates
        .iter()
        .copied()
        .filter(|c| *c != choice)
        .max_by(|a, b| share(*a).total_cmp(&share(*b)).then(b.cmp(a)))
        .unwrap_or(Choice::Python);
    let mut options = vec![choice, runner];
    options.sort_by(|a, b| share(*b).total_cmp(&share(*a)));
    let mut decides = Vec::new();
    for c in conflicts.iter().filter(|c| c.overruled == runner) {
        decides.push(format!(
            "for {}: {}; for {}: {} ({})",
            c.prevailing.label(),
            if c.rules_for_prevailing.is_empty() {
                "(none)".to_string()
            } else {
                c.rules_for_prevailing.join(", ")
            },
            c.overruled.label(),
            c.rules_for_overruled.join(", "),
            c.resolution.explanation
        ));
    }
    for ch in changes.iter().filter(|c| options.contains(&c.choice)) {
        decides.push(ch.text.clone());
    }
    let cat = claims::Catalogue::builtin();
    let targets: Vec<String> = ["node", "python"]
        .iter()
        .flat_map(|l| cat.lab.get(*l).cloned().unwrap_or_default())
        .collect();
    let mut workloads: Vec<&str> = cost::workloads_for(profile.product.data_flow)
        .into_iter()
        .map(|(w, _)| w)
        .collect();
    if profile.product.realtime || profile.load.concurrent_connections >= 1000 {
        workloads.push("ws-hold");
    }
    if options.contains(&Choice::Hybrid) {
        for w in ["io-slo", "cpu-slo"] {
            if !workloads.contains(&w) {
                workloads.push(w);
            }
        }
    }
    let commands = vec![
        format!(
            "stackwise lab --targets {} --workloads {}",
            targets.join(","),
            workloads.join(",")
        ),
        "stackwise claims".to_string(),
        "stackwise advise --profile YOUR_PROFILE.toml   (again, on the new run)".to_string(),
    ];
    let request = match profile.product.data_flow {
        DataFlow::Io => "the product's most common request (one that waits on your database or an upstream API)",
        DataFlow::Compute => "the product's most common computation (the transformation or inference a request triggers)",
        DataFlow::Mixed => "one cheap request and the heaviest computing one, served together",
        DataFlow::Crud => "the product's most common REST resource (read, list, create, update and delete on your database)",
    };
    let spike = format!(
        "a spike of a few days per stack: {request}{}, built in {} and in {} by the engineers who would own it, with the framework each would choose; compare how long it took and how it reads, then load each on this machine at your p99 target of {} ms (`stackwise load http://127.0.0.1:PORT/PATH -r {} -d 30s`) before committing.",
        if profile.product.realtime {
            ", plus one live update pushed over a WebSocket"
        } else {
            ""
        },
        options[0].label(),
        options[1].label(),
        num(profile.load.p99_ms),
        // A command-line argument, not a figure for humans: `-r 5000`, never `-r 5,000`.
        profile.load.peak_rps.min(5000.0).round()
    );
    NoClearWinner {
        shares: options
            .iter()
            .map(|c| (share(*c) * 1000.0).round() / 1000.0)
            .collect(),
        options,
        decides,
        advice: Source {
            article: "001_d394cce293d5c253.txt".into(),
            quote: "Prototype small features in both Python and Node.js to see what works best."
                .into(),
        },
        commands,
        spike,
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
        let c = cost::cost(profile, &[Choice::Node, Choice::Python], Some((r, src)));
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
