//! The method of issue 16, profile by profile (tests/fixtures/scenarios/; their rendered golden
//! text is the reports crate's, crates/reports/tests/advice_text.rs): the advice for a
//! balanced team, a premise refuted on the run, a hybrid's tension, a TCO-dominated case, a case
//! with no clear winner and the issue's two commands; each also asserts the point it makes, so a
//! regenerated golden cannot hide a changed answer. And a property: for a balanced team, changing
//! the headcounts while it stays balanced never changes the answer.

mod common;
use common::*;

use std::path::PathBuf;

use adviser::advice::Level;
use adviser::evidence::Effect;
use adviser::Choice;
use proptest::prelude::*;

fn scenario(name: &str) -> adviser::Profile {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/scenarios")
        .join(format!("{name}.toml"));
    adviser::read_profile(&path).unwrap().complete().unwrap()
}

fn cold_start_run() -> store::RunSummary {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-cold-start.json"),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

const COLD_FIXTURE: &str =
    "fixture tests/fixtures/run-cold-start.json (hand-written, not a measurement)";

#[test]
fn a_balanced_team_does_not_decide_and_says_so() {
    let p = scenario("balanced-team");
    assert!(p.team.balanced());
    let run = fixture_run();
    let a = adviser::advise(&p, Some((&run, FIXTURE)));
    let team = a.tiers.iter().find(|t| t.tier == "team").unwrap();
    assert!(team.scores.iter().all(|s| s.score == 0.0), "{team:?}");
    assert!(team.eliminated.is_empty());
    assert!(a.reasons.iter().any(|r| r.rule == "team-balanced"));
    assert_ne!(a.recommendation.decided_by.as_deref(), Some("team"));
    // The same team one engineer less balanced (4 vs 2: 33%) leans, and the lean is a reason.
    let lean = with(p, &[("team.python", "2")]);
    assert!(!lean.team.balanced());
    let b = adviser::advise(&lean, None);
    assert!(b.reasons.iter().any(|r| r.rule == "team-js-majority"));
}

#[test]
fn fluency_levels_weigh_the_team() {
    // 3 JavaScript experts and 4 working Python engineers: 4.5 against 4, balanced.
    let p = with(
        scenario("balanced-team"),
        &[("team.javascript", "3"), ("team.python", "4")],
    );
    let p = with(p, &[("team.javascript_level", "expert")]);
    assert!((p.team.javascript_share() - 4.5 / 8.5).abs() < 1e-12);
    assert!(p.team.balanced());
    // 4 Python learners against 3 working JavaScript engineers: 2 against 3, still balanced; 5
    // learners against 4 experts: 2.5 against 6, a JavaScript lean.
    let q = with(
        scenario("balanced-team"),
        &[
            ("team.javascript", "4"),
            ("team.python", "5"),
            ("team.javascript_level", "expert"),
            ("team.python_level", "learning"),
        ],
    );
    assert!(!q.team.balanced());
    let a = adviser::advise(&q, None);
    assert!(a.reasons.iter().any(|r| r.rule == "team-js-majority"));
}

#[test]
fn a_refuted_premise_does_not_vote_and_shows_the_measurement() {
    let p = scenario("refuted-cold-start");
    // Without a run the article's rule votes, and the advice says what it could not check.
    let bare = adviser::advise(&p, None);
    assert_eq!(bare.recommendation.choice, Choice::Node);
    let sl = bare
        .reasons
        .iter()
        .find(|r| r.rule == "serverless-node")
        .unwrap();
    assert_eq!(sl.evidence.as_ref().unwrap().effect, Effect::ArticleWeight);
    assert!(bare
        .evidence
        .unchecked
        .iter()
        .any(|u| u.starts_with("serverless-node: a0-serverless-cold-start not measured")));
    assert!(bare
        .evidence
        .command
        .as_deref()
        .unwrap()
        .starts_with("stackwise lab --workloads "));
    // On a run whose cold starts favour Python, the rule is silenced, with the figures.
    let run = cold_start_run();
    let a = adviser::advise(&p, Some((&run, COLD_FIXTURE)));
    assert_eq!(a.recommendation.choice, Choice::Python);
    let x = a
        .not_voting
        .iter()
        .find(|r| r.rule == "serverless-node")
        .expect("the refuted rule is listed as not voting");
    let e = x.evidence.as_ref().unwrap();
    assert_eq!(e.effect, Effect::NoVote);
    assert!(
        e.text
            .starts_with("the articles say \"Node.js, being lightweight"),
        "{}",
        e.text
    );
    assert!(e.text.contains("run 8"), "{}", e.text);
    assert!(
        e.text
            .contains("python-fastapi cold-start cold_start_ms 160"),
        "{}",
        e.text
    );
    assert!(e.text.contains("proxy for a serverless one"), "{}", e.text);
    assert!(!a.reasons.iter().any(|r| r.rule == "serverless-node"));
    assert!(!a
        .counter_arguments
        .iter()
        .any(|r| r.rule == "serverless-node"));
}

#[test]
fn a_hybrid_earns_its_votes_and_shows_the_tension() {
    let p = scenario("hybrid-tension");
    let run = fixture_run();
    let a = adviser::advise(&p, Some((&run, FIXTURE)));
    assert_eq!(a.recommendation.choice, Choice::Hybrid);
    let t = a.tension.as_ref().expect("the two pulls are shown");
    assert!(t
        .node_rules
        .contains(&"usecase-commerce-social-node".to_string()));
    assert!(t.python_rules.contains(&"ai-soon-python".to_string()));
    assert!(t.resolution.contains("resolved by the split"));
    // The hybrid meets a rule only through a placement that fires: full-stack JavaScript is not
    // a service a hybrid can place, so a hybrid never meets it.
    let p2 = with(p.clone(), &[("product.full_stack_js", "true")]);
    let b = adviser::advise(&p2, None);
    let fs = b
        .counter_arguments
        .iter()
        .chain(b.reasons.iter())
        .find(|r| r.rule == "full-stack-js-node")
        .unwrap();
    assert!(!fs.met_by.contains(&Choice::Hybrid));
    // Its TCO includes running two stacks (the profile's figure).
    let h = a
        .cost
        .tco
        .options
        .iter()
        .find(|o| o.option == Choice::Hybrid)
        .unwrap();
    assert_eq!(h.two_stacks_monthly_usd, Some(2500.0));
    // Without the figure, the hybrid's TCO says it is not priced.
    let mut q = p.clone();
    q.costs.two_stacks_monthly_usd = None;
    let c = adviser::advise(&q, Some((&run, FIXTURE)));
    let h = c
        .cost
        .tco
        .options
        .iter()
        .find(|o| o.option == Choice::Hybrid)
        .unwrap();
    assert!(h.total_monthly_usd.is_none());
    assert!(h
        .not_priced
        .iter()
        .any(|n| n.contains("two_stacks_monthly_usd")));
}

#[test]
fn tco_from_the_users_figures_says_which_side_dominates() {
    let p = scenario("tco-dominated");
    let run = fixture_run();
    let a = adviser::advise(&p, Some((&run, FIXTURE)));
    let node = a
        .cost
        .tco
        .options
        .iter()
        .find(|o| o.option == Choice::Node)
        .unwrap();
    // Node.js: 2 hires × 140000 / 12 + 3 Python engineers switching × 3 months × 140000 / 12 / 24.
    let people = 2.0 * 140000.0 / 12.0 + 3.0 * 3.0 * 140000.0 / 12.0 / 24.0;
    assert!(
        (node.hires_monthly_usd.unwrap() + node.switching_monthly_usd.unwrap() - people).abs()
            < 1e-6
    );
    let infra = node.infra_monthly_usd.unwrap();
    assert!((node.total_monthly_usd.unwrap() - (infra + people)).abs() < 1e-6);
    assert!(a
        .cost
        .tco
        .findings
        .iter()
        .any(|f| f.starts_with("Node.js: people cost dominates")
            && f.contains("infrastructure would reach the people cost at a peak of about")));
    // Python: nobody to hire, one JavaScript engineer switches.
    let py = a
        .cost
        .tco
        .options
        .iter()
        .find(|o| o.option == Choice::Python)
        .unwrap();
    assert_eq!((py.hires, py.switchers), (Some(0), 1));
    // Nothing is invented: without a cost per engineer-year there is no TCO line.
    let mut q = p.clone();
    q.costs.engineer_year_usd = None;
    let b = adviser::advise(&q, Some((&run, FIXTURE)));
    assert!(b.cost.tco.options.is_empty());
    assert!(b.cost.tco.not_priced[0].contains("costs.engineer_year_usd"));
}

#[test]
fn below_half_the_weight_there_is_no_clear_winner() {
    let p = scenario("no-clear-winner");
    let a = adviser::advise(&p, None);
    let n = a.no_clear_winner.as_ref().expect("no clear winner");
    assert!(a.confidence.support_share < 0.5);
    assert_eq!(a.confidence.level, Level::Low);
    assert_eq!(n.options.len(), 2);
    assert!(n.options.contains(&Choice::Node) && n.options.contains(&Choice::Python));
    assert!(a.recommendation.label.starts_with("no clear winner"));
    assert!(n.commands[0].starts_with("stackwise lab --targets node-"));
    assert!(n.commands[0].contains("--workloads cpu-slo,hash-slo"));
    assert!(n
        .advice
        .quote
        .starts_with("Prototype small features in both"));
    assert!(!n.decides.is_empty());
}

#[test]
fn the_issues_ml_backend_goes_to_python() {
    let p = scenario("issue-ml-backend");
    assert!(p.team.balanced(), "6 against 5 is a team that can do both");
    let a = adviser::advise(&p, None);
    assert_eq!(a.recommendation.choice, Choice::Python);
    assert!(a.no_clear_winner.is_none());
    assert!(!a.reasons.iter().any(|r| r.rule == "team-js-majority"));
    assert!(!a
        .counter_arguments
        .iter()
        .any(|r| r.rule == "team-js-majority"));
}

#[test]
fn the_issues_pre_pmf_chat_is_not_decided_by_one_head() {
    let p = scenario("issue-pre-pmf-chat");
    assert!(p.team.balanced(), "3 against 4 is a team that can do both");
    let a = adviser::advise(&p, None);
    assert_eq!(a.recommendation.choice, Choice::Node);
    assert_eq!(a.recommendation.decided_by.as_deref(), Some("product"));
    assert!(a.reasons.iter().any(|r| r.rule == "team-balanced"));
    assert!(a
        .reasons
        .iter()
        .any(|r| r.rule == "concurrency-node-tens-of-thousands"));
}

#[test]
fn one_weak_rule_is_never_high_confidence() {
    // 2 JavaScript / 2 Python engineers and a single firing rule (I/O data flow → Node.js).
    let p = with(neutral(), &[("team.javascript", "2"), ("team.python", "2")]);
    let a = adviser::advise(&p, None);
    assert_eq!(a.confidence.support_share, 1.0);
    assert_eq!(a.confidence.rules, 1);
    assert_ne!(
        a.confidence.level,
        Level::High,
        "{}",
        a.confidence.explanation
    );
}

#[test]
fn what_would_change_is_a_threshold_found_by_search() {
    let p = scenario("issue-pre-pmf-chat");
    let a = adviser::advise(&p, None);
    // The team would decide once it leans to Python: 3 JavaScript against ≥ 5 Python (37.5%).
    let c = a
        .what_would_change
        .iter()
        .find(|c| c.key == "team.python")
        .expect("a Python headcount threshold");
    assert_eq!((c.op.as_str(), c.to.as_str()), ("≥", "5"));
    assert_eq!(c.choice, Choice::Python);
    assert!(
        c.text
            .contains("Python if the team had ≥ 5 Python engineers"),
        "{}",
        c.text
    );
    // And the answer there is indeed Python, one below it is not.
    let at = |n: &str| adviser::advise(&with(p.clone(), &[("team.python", n)]), None);
    assert_eq!(at("5").recommendation.choice, Choice::Python);
    assert_eq!(at("4").recommendation.choice, Choice::Node);
}

fn balanced_pair() -> impl Strategy<Value = (u32, u32)> {
    (1u32..60, 1u32..60).prop_filter("balanced", |(j, p)| {
        let (j, p) = (f64::from(*j), f64::from(*p));
        j.min(p) / (j + p) >= adviser::profile::BALANCED_MINORITY_SHARE
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// For a balanced team, changing the headcounts while it stays balanced never changes the
    /// answer (for each scenario with a balanced team, and the example of a balanced team).
    #[test]
    fn a_balanced_teams_headcounts_never_change_the_answer((j, py) in balanced_pair(), which in 0usize..4) {
        let name = ["balanced-team", "issue-ml-backend", "issue-pre-pmf-chat", "refuted-cold-start"][which];
        let base = scenario(name);
        prop_assume!(base.team.balanced());
        let expected = adviser::advise(&base, None).recommendation.choice;
        let p = with(base, &[("team.javascript", &j.to_string()), ("team.python", &py.to_string())]);
        prop_assert!(p.team.balanced());
        prop_assert_eq!(adviser::advise(&p, None).recommendation.choice, expected);
    }
}

/// A premise the run finds only partly true (partly / depends) weighs half: the tier scores show it.
#[test]
fn a_partly_true_premise_weighs_half() {
    use adviser::evidence::{Evidence, RuleEvidence};
    let rules = adviser::RuleSet::builtin();
    let p = with(neutral(), &[("product.compliance", "high")]);
    let mut ev = Evidence::none();
    let (factor, effect) = adviser::evidence::weight_factor(claims::Verdict::Depends, &[], false);
    ev.by_rule.insert(
        "io-node".into(),
        RuleEvidence {
            rule: "io-node".into(),
            effect,
            factor,
            run_id: Some(1),
            claims: vec![],
            text: "depends".into(),
        },
    );
    let d = adviser::decide::decide(&rules, &p, &ev);
    let product = d.steps.iter().find(|s| s.tier == "product").unwrap();
    let score = |c: Choice| product.scores.iter().find(|s| s.option == c).unwrap().score;
    assert_eq!((score(Choice::Node), score(Choice::Python)), (1.0, 2.0));
    assert_eq!(d.unique(), Some(Choice::Python));
    // Refuted: the rule leaves the vote entirely.
    let (factor, effect) = adviser::evidence::weight_factor(claims::Verdict::Refuted, &[], false);
    ev.by_rule.get_mut("io-node").unwrap().factor = factor;
    ev.by_rule.get_mut("io-node").unwrap().effect = effect;
    let d = adviser::decide::decide(&rules, &p, &ev);
    assert!(d.silenced.iter().any(|r| r.id == "io-node"));
    assert!(!d.fired.iter().any(|r| r.id == "io-node"));
}

/// Large teams: the search finds the headcount where the share crosses 40% without scanning every
/// count (500 JavaScript engineers: Python leads from 751 Python engineers, 500 / 1251 < 40%).
#[test]
fn the_threshold_search_scales_to_large_teams() {
    let p = with(
        scenario("issue-pre-pmf-chat"),
        &[("team.javascript", "500"), ("team.python", "400")],
    );
    let a = adviser::advise(&p, None);
    let c = a
        .what_would_change
        .iter()
        .find(|c| c.key == "team.python")
        .expect("a Python headcount threshold");
    assert_eq!(
        (c.op.as_str(), c.to.as_str(), c.choice),
        ("≥", "751", Choice::Python)
    );
}

/// A load threshold: I/O (Node.js, 2) against strict compliance (Python, 2) ties at 900 req/s; the
/// search finds the peak load from which Node.js wins ("thousands of requests per second").
#[test]
fn the_search_finds_the_peak_load_that_would_decide() {
    let p = with(
        neutral(),
        &[("product.compliance", "high"), ("load.peak_rps", "900")],
    );
    let a = adviser::advise(&p, None);
    let c = a
        .what_would_change
        .iter()
        .find(|c| c.key == "load.peak_rps")
        .expect("a peak-load threshold");
    assert_eq!(
        (c.op.as_str(), c.to.as_str(), c.choice),
        ("≥", "1000", Choice::Node)
    );
    assert!(
        c.text
            .starts_with("Node.js if peak load reached 1000 req/s or more"),
        "{}",
        c.text
    );
    // A tie no measurement broke is no clear winner; broken by measured cost, it is an answer.
    assert!(a.no_clear_winner.is_some());
    let run = fixture_run();
    let b = adviser::advise(&p, Some((&run, FIXTURE)));
    assert!(b
        .recommendation
        .tie_break
        .as_deref()
        .unwrap()
        .contains("tie broken by measured cost"));
    assert!(b.no_clear_winner.is_none());
}
