//! The adviser end to end in-process: the rules' quotes against the articles, the advice for every
//! example profile (on the fixture run; its rendering and golden files are the reports crate's,
//! crates/reports/tests/advice_text.rs), the committed JSON schema, conflicts, and the cost model
//! on the fixture.

mod common;
use common::*;

use std::path::Path;

use adviser::cost::{Bound, CapacityKind};
use adviser::{Choice, RuleSet};

#[test]
fn every_quote_appears_verbatim_in_its_article() {
    if std::env::var_os("STACKWISE_SKIP_SEEDS").is_some_and(|v| v == "1") {
        eprintln!("STACKWISE_SKIP_SEEDS=1: quote check skipped");
        return;
    }
    let dir = adviser::seeds::find_seeds(&repo()).unwrap_or_else(|e| panic!("{e}"));
    let rules = RuleSet::builtin();
    let sources = rules
        .tiers
        .iter()
        .flat_map(|t| t.sources.iter().map(move |s| (t.id.as_str(), s)))
        .chain(
            rules
                .rules
                .iter()
                .flat_map(|r| r.sources.iter().map(move |s| (r.id.as_str(), s))),
        );
    let mut bad = Vec::new();
    let mut count = 0;
    for (id, s) in sources {
        count += 1;
        let text = std::fs::read_to_string(dir.join(&s.article))
            .unwrap_or_else(|e| panic!("{id}: article {}: {e}", s.article));
        let text = adviser::seeds::normalise(&text);
        if !text.contains(&adviser::seeds::normalise(&s.quote)) {
            bad.push(format!("{id}: {:?} not in {}", s.quote, s.article));
        }
    }
    assert!(count > 60, "only {count} sources");
    assert!(
        bad.is_empty(),
        "quotes not found verbatim:\n{}",
        bad.join("\n")
    );
}

fn examples() -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(repo().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    assert!(
        v.len() >= 9,
        "one example per persona of the decision guide"
    );
    v
}

fn load(path: &Path) -> adviser::Profile {
    adviser::read_profile(path).unwrap().complete().unwrap()
}

#[test]
fn each_example_profile_advice_without_measurements_recommends_the_same() {
    let run = fixture_run();
    for path in examples() {
        let advice = adviser::advise(&load(&path), Some((&run, FIXTURE)));
        // Without measurements the same profile gets no cost figure and the lab commands.
        let bare = adviser::advise(&load(&path), None);
        assert_eq!(bare.recommendation, advice.recommendation);
        assert!(bare.cost.run.is_none() && bare.cost.stacks.is_empty());
        assert!(bare
            .cost
            .missing
            .iter()
            .all(|m| m.command.starts_with("stackwise lab --workloads ")));
    }
}

#[test]
fn the_personas_get_the_articles_answers() {
    let expect = [
        ("startup-chat-mvp", Choice::Node),
        ("startup-data-product", Choice::Python),
        ("startup-ai-app-post-pmf", Choice::Hybrid),
        ("enterprise-high-traffic", Choice::Node),
        ("enterprise-analytics", Choice::Python),
        ("enterprise-legacy-integration", Choice::Python),
        ("individual-learning", Choice::Python),
        ("individual-js-developer", Choice::Node),
        ("individual-data-science-career", Choice::Python),
    ];
    for (name, choice) in expect {
        let p = load(&repo().join(format!("examples/{name}.toml")));
        assert_eq!(
            adviser::advise(&p, None).recommendation.choice,
            choice,
            "{name}"
        );
    }
}

fn schema() -> serde_json::Value {
    let text = std::fs::read_to_string(repo().join("schemas/advice.schema.json"))
        .expect("schemas/advice.schema.json is committed");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_committed_schema_is_fresh() {
    let fresh = adviser::advice::schema_json();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(
            repo().join("schemas/advice.schema.json"),
            format!("{fresh}\n"),
        )
        .unwrap();
    }
    let fresh: serde_json::Value = serde_json::from_str(&fresh).unwrap();
    assert_eq!(
        schema(),
        fresh,
        "schemas/advice.schema.json is stale: regenerate with `cargo run -p stackwise -- schema advice > schemas/advice.schema.json`"
    );
}

#[test]
fn every_example_advice_validates_against_the_schema() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let run = fixture_run();
    for path in examples()
        .iter()
        .chain([&repo().join("crates/adviser/tests/fixtures/conflict.toml")])
    {
        for r in [None, Some((&run, FIXTURE))] {
            let json = serde_json::to_value(adviser::advise(&load(path), r)).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&json)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
            let choice = json["recommendation"]["choice"].as_str().unwrap();
            assert!(["node", "python", "hybrid"].contains(&choice));
            assert!(json["conflicts"].is_array());
        }
    }
}

#[test]
fn a_profile_built_to_disagree_reports_each_conflict_and_its_resolution() {
    let p = load(&repo().join("crates/adviser/tests/fixtures/conflict.toml"));
    let a = adviser::advise(&p, None);
    assert_eq!(a.recommendation.choice, Choice::Node);
    assert_eq!(a.conflicts.len(), 2, "{:#?}", a.conflicts);
    let team = a
        .conflicts
        .iter()
        .find(|c| c.overruled == Choice::Python)
        .unwrap();
    assert_eq!(team.title, "team skill vs product needs");
    assert!(team
        .rules_for_prevailing
        .contains(&"team-js-only".to_string()));
    assert!(team
        .rules_for_overruled
        .contains(&"ai-core-python".to_string()));
    assert_eq!(team.resolution.tier.as_deref(), Some("team"));
    assert_eq!(
        (
            team.resolution.prevailing_score,
            team.resolution.overruled_score
        ),
        (3.0, 0.0)
    );
    let stage = a
        .conflicts
        .iter()
        .find(|c| c.overruled == Choice::Hybrid)
        .unwrap();
    assert_eq!(stage.title, "stage guard vs product needs");
    assert!(stage
        .rules_for_prevailing
        .contains(&"pre-pmf-one-stack".to_string()));
    assert!(stage
        .rules_for_overruled
        .contains(&"hybrid-ai-user-app".to_string()));
    assert_eq!(stage.resolution.tier.as_deref(), Some("guard"));
    // The overruled rules are still shown, as counter-arguments.
    assert!(a
        .counter_arguments
        .iter()
        .any(|r| r.rule == "ai-core-python"));
    // And the answer names what would change it.
    assert!(a
        .what_would_change
        .iter()
        .any(|c| c.key == "team.python" && c.choice == Choice::Python));
    // Past product-market fit with Python engineers on board, the same product is a hybrid.
    let p2 = with(p, &[("product.stage", "post-pmf"), ("team.python", "1")]);
    assert_eq!(
        adviser::advise(&p2, None).recommendation.choice,
        Choice::Hybrid
    );
}

#[test]
fn a_conflict_within_one_tier_is_resolved_by_weight() {
    let p = with(
        neutral(),
        &[
            ("product.compliance", "high"),
            ("product.serverless", "true"),
        ],
    );
    let a = adviser::advise(&p, None);
    assert_eq!(a.recommendation.choice, Choice::Node);
    let c = &a.conflicts[0];
    assert_eq!(c.title, "product needs vs product needs");
    assert_eq!(
        (c.resolution.prevailing_score, c.resolution.overruled_score),
        (4.0, 2.0)
    );
    // Weights are sums of whole rule weights: the one formatter's amounts (`4`, not `4.00`).
    let (four, two) = (
        workloads::format::amount(4.0),
        workloads::format::amount(2.0),
    );
    assert!(c
        .resolution
        .explanation
        .contains(&format!("weigh {four} against {two}")));
}

#[test]
fn an_exact_tie_is_reported_and_broken_by_measured_cost() {
    // I/O (node, 2) against strict compliance (python, 2); nothing else votes.
    let p = with(neutral(), &[("product.compliance", "high")]);
    let a = adviser::advise(&p, None);
    assert!(a
        .recommendation
        .tie_break
        .as_deref()
        .unwrap()
        .contains("not on merit"));
    assert_eq!(a.confidence.level, adviser::advice::Level::Low);
    let run = fixture_run();
    let a = adviser::advise(&p, Some((&run, FIXTURE)));
    // At 100 req/s both stacks need one core: the cost does not separate them either.
    let tb = a.recommendation.tie_break.unwrap();
    assert!(tb.contains("not on merit"), "{tb}");
    // At 900 req/s the typical Node.js target needs 1 core and the typical Python one 3.
    let p = with(p, &[("load.peak_rps", "900")]);
    let a = adviser::advise(&p, Some((&run, FIXTURE)));
    let tb = a.recommendation.tie_break.unwrap();
    assert!(tb.contains("tie broken by measured cost"), "{tb}");
    assert_eq!(
        a.recommendation.choice,
        Choice::Node,
        "node is cheaper on the fixture's io-slo"
    );
}

#[test]
fn the_cost_model_on_the_fixture_interpolates_never_extrapolates_and_adds_headroom() {
    let run = fixture_run();
    let p = with(
        neutral(),
        &[("load.peak_rps", "2000"), ("costs.headroom", "0.5")],
    );
    let a = adviser::advise(&p, Some((&run, FIXTURE)));
    let node = a
        .cost
        .stacks
        .iter()
        .find(|s| s.stack == Choice::Node)
        .unwrap();
    assert_eq!(node.workload, "io-slo");
    // node-express: p99 40 ms at 2994 req/s, 180 ms at 3992 → 100 ms at 2994 + 60/140 × 998.
    let ex = node
        .targets
        .iter()
        .find(|t| t.target == "node-express")
        .unwrap();
    assert_eq!(ex.capacity.kind, CapacityKind::Interpolated);
    let cap = 2994.0 + 60.0 / 140.0 * 998.0;
    assert!((ex.capacity.rps.unwrap() - cap).abs() < 1e-6);
    assert!((ex.cores_needed.unwrap() - 2000.0 / cap).abs() < 1e-9);
    assert!((ex.cores_with_headroom.unwrap() - 2.0 * 2000.0 / cap).abs() < 1e-9);
    assert_eq!(ex.provisioned_cores, Some(2));
    assert!((ex.monthly_usd.unwrap() - 2.0 * 0.04 * 730.0).abs() < 1e-9);
    assert_eq!(ex.roles, vec!["typical".to_string()]);
    // node-fastify never missed 100 ms: a lower bound on capacity. Even the bound serves 2000
    // req/s on one core, the fewest one provisions, so that figure is exact.
    let fa = node
        .targets
        .iter()
        .find(|t| t.target == "node-fastify")
        .unwrap();
    assert_eq!(fa.capacity.kind, CapacityKind::LowerBound);
    assert_eq!(fa.bound, Bound::Estimate);
    assert_eq!(fa.provisioned_cores, Some(1));
    assert_eq!(fa.roles, vec!["best".to_string()]);
    // At 20000 req/s the bound no longer settles it: "not measured high enough", no monthly cost,
    // and the command that would measure it.
    let big = with(p.clone(), &[("load.peak_rps", "20000")]);
    let b = adviser::advise(&big, Some((&run, FIXTURE)));
    let fa = b
        .cost
        .stacks
        .iter()
        .flat_map(|s| s.targets.iter())
        .find(|t| t.target == "node-fastify")
        .unwrap();
    assert_eq!(fa.bound, Bound::NotMeasuredHighEnough);
    assert!(fa.monthly_usd.is_none());
    assert!(
        fa.warnings
            .iter()
            .any(|w| w.contains("not measured high enough")
                && w.contains("stackwise lab --workloads io-slo")),
        "{:?}",
        fa.warnings
    );
    // A p99 target below the lowest measured rung gives no figure.
    let tight = with(p.clone(), &[("load.p99_ms", "5")]);
    let a = adviser::advise(&tight, Some((&run, FIXTURE)));
    for s in &a.cost.stacks {
        for t in &s.targets {
            assert_eq!(t.capacity.kind, CapacityKind::Unattainable, "{}", t.target);
            assert!(t.cores_needed.is_none() && t.monthly_usd.is_none());
        }
    }
    // The run is named; memory is not invented.
    assert_eq!(a.cost.run.as_ref().unwrap().run_id, 7);
    assert_eq!(a.cost.memory.status, "not-measured");
    assert!(a.cost.memory.text.contains("ws-hold"));
}

#[test]
fn compute_shows_in_language_and_native_apart_and_skips_flagged_cells() {
    let run = fixture_run();
    let p = with(neutral(), &[("product.data_flow", "compute")]);
    let a = adviser::advise(&p, Some((&run, FIXTURE)));
    let py: Vec<_> = a
        .cost
        .stacks
        .iter()
        .filter(|s| s.stack == Choice::Python)
        .collect();
    assert_eq!(py.len(), 2);
    assert_eq!(
        (py[0].workload.as_str(), py[0].variant.as_deref()),
        ("cpu-slo", Some("in-language"))
    );
    assert_eq!(
        (py[1].workload.as_str(), py[1].variant.as_deref()),
        ("hash-slo", Some("native"))
    );
    assert_eq!(
        py[1].targets.len(),
        1,
        "the flagged django cell is not used"
    );
    assert!(py[1].note.as_deref().unwrap().contains("flagged"));
    // fastapi hash-slo: the rung after 400 req/s had errors → capacity at that rung, no interpolation.
    assert_eq!(py[1].targets[0].capacity.kind, CapacityKind::AtRung);
    // Mixed data flow without a mixed-slo ladder falls back on the loop-blocking workload: one
    // open-loop rate, not a ladder, so at best a lower bound on capacity, never a monthly cost;
    // the mixed-slo command is named.
    let p = with(neutral(), &[("product.data_flow", "mixed")]);
    let a = adviser::advise(&p, Some((&run, FIXTURE)));
    let find = |name: &str| {
        a.cost
            .stacks
            .iter()
            .flat_map(|s| s.targets.iter().map(move |t| (s, t)))
            .find(|(_, t)| t.target == name)
            .unwrap()
    };
    let (s, express) = find("node-express");
    assert_eq!(s.workload, "mixed");
    assert_eq!(express.capacity.kind, CapacityKind::LowerBound);
    assert_eq!(express.bound, Bound::NotMeasuredHighEnough);
    assert!(express.monthly_usd.is_none());
    assert!(a
        .cost
        .missing
        .iter()
        .any(|m| m.command == "stackwise lab --workloads mixed-slo"));
    assert!(express
        .capacity
        .text
        .starts_with("one measured open-loop rate"));
    assert_eq!(express.capacity.rps, Some(99.6 + 2.0));
    let (_, fastapi) = find("python-fastapi");
    assert_eq!(fastapi.capacity.kind, CapacityKind::Unattainable);
    assert_eq!(fastapi.bound, Bound::None);
    assert!(fastapi.monthly_usd.is_none());
}

#[test]
fn memory_is_priced_only_from_a_held_connections_measurement() {
    let mut run = fixture_run();
    let t = run
        .targets
        .iter_mut()
        .find(|t| t.name == "node-fastify")
        .unwrap();
    t.metrics
        .insert("idle_pss_mb".into(), store::Spread::of(&[50.0]).unwrap());
    let mut cell = run.cell("node-fastify", "io-slo").unwrap().clone();
    cell.workload = "ws-hold".into();
    cell.params = [("connections".to_string(), "1000".to_string())].into();
    let one = |v: f64| store::Spread::of(&[v]).unwrap();
    cell.metrics.insert("pss_peak_mb".into(), one(70.0));
    // 1,000 connections held of 1,000, 20 MB more than the 50 MB idle: 0.02 MB each.
    for (id, v) in [
        ("connections_attempted", 1000.0),
        ("connections_held", 1000.0),
        ("pss_idle_mb", 50.0),
        ("mb_per_1k_conns", 20.0),
    ] {
        cell.metrics.insert(id.into(), one(v));
    }
    // A Python server that held only some of its connections is no candidate.
    let mut fewer = cell.clone();
    fewer.target = "python-fastapi".into();
    fewer.metrics.insert("connections_held".into(), one(400.0));
    fewer.metrics.insert("mb_per_1k_conns".into(), one(1.0));
    run.cells.push(cell);
    run.cells.push(fewer);
    let p = with(
        neutral(),
        &[
            ("load.concurrent_connections", "10000"),
            ("costs.gb_hour_usd", "0.01"),
        ],
    );
    let a = adviser::advise(&p, Some((&run, FIXTURE)));
    assert_eq!(a.cost.memory.status, "measured");
    assert_eq!(a.cost.memory.per_stack.len(), 1, "{:?}", a.cost.memory);
    let m = &a.cost.memory.per_stack[0];
    assert_eq!(m.stack, Choice::Node);
    assert!((m.mb_per_connection - 0.02).abs() < 1e-12);
    let gb = (50.0 + 0.02 * 10000.0) / 1024.0;
    assert!((m.gb_total - gb).abs() < 1e-12);
    assert!((m.monthly_usd.unwrap() - gb * 0.01 * 730.0).abs() < 1e-9);
}

#[test]
fn a_hybrid_splits_the_load_between_its_services() {
    let run = fixture_run();
    let p = load(&repo().join("examples/startup-ai-app-post-pmf.toml"));
    let a = adviser::advise(&p, Some((&run, FIXTURE)));
    let split = a.recommendation.load_split.as_ref().unwrap();
    assert_eq!(split.node_rps, 5000.0);
    assert_eq!(split.python_rps, Some(1000.0));
    assert_eq!(a.cost.hybrid[0].stack, Choice::Node);
    assert_eq!(a.cost.hybrid[0].required_rps, Some(5000.0));
    assert!(a.cost.hybrid[1..]
        .iter()
        .all(|s| s.stack == Choice::Python && s.required_rps == Some(1000.0)));
    // The typical parts add up, once per kind of Python work.
    assert_eq!(a.cost.hybrid_totals.len(), 2);
    let t = &a.cost.hybrid_totals[0];
    assert_eq!(t.python_workload, "cpu-slo (in-language)");
    let part = |i: usize| {
        a.cost.hybrid[i]
            .targets
            .iter()
            .find(|t| t.roles.iter().any(|r| r == "typical"))
            .unwrap()
            .monthly_usd
            .unwrap()
    };
    assert!((t.monthly_usd - (part(0) + part(1))).abs() < 1e-9);
    let stacks: Vec<Choice> = a.recommendation.services.iter().map(|s| s.stack).collect();
    assert!(stacks.contains(&Choice::Node) && stacks.contains(&Choice::Python));
}

/// A RunSummary written by the real lab (`stackwise lab --targets node-fastify,python-fastapi
/// --workloads io,io-slo,cpu,cpu-slo,hash,hash-slo,mixed --repeats 1 --duration 2s --cold-starts 1`
/// on a shared 2-vCPU VM), read back from its store: the adviser reads the lab's real output.
#[test]
fn the_adviser_reads_a_real_lab_run() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lab-run-1.json"),
    )
    .unwrap();
    let run: store::RunSummary = serde_json::from_str(&text).unwrap();
    for path in examples() {
        let a = adviser::advise(&load(&path), Some((&run, "lab run 1")));
        assert!(a.cost.run.is_some());
    }
    let p = load(&repo().join("examples/startup-chat-mvp.toml"));
    let a = adviser::advise(&p, Some((&run, "lab run 1")));
    for s in &a.cost.stacks {
        assert_eq!(s.workload, "io-slo");
        let t = &s.targets[0];
        let cell = run.cell(&t.target, "io-slo").unwrap();
        // The lab's capacity is the highest rung under its 100 ms SLO; at the profile's 100 ms the
        // adviser's reading lies between that rung and the next (interpolated, not extrapolated).
        let lab = cell.capacity_rps.unwrap();
        let rps = t.capacity.rps.unwrap();
        let max = cell
            .ladder
            .iter()
            .map(|p| p.achieved_rps)
            .fold(0.0, f64::max);
        assert!(
            rps >= lab * 0.97 && rps <= max,
            "{}: {rps} vs lab {lab}",
            t.target
        );
        assert!(t.monthly_usd.unwrap() > 0.0);
    }
    // The mixed workload is one open-loop rate: a bound or no figure, never an estimate.
    let p = with(p, &[("product.data_flow", "mixed")]);
    let a = adviser::advise(&p, Some((&run, "lab run 1")));
    for s in &a.cost.stacks {
        assert!(s.targets.iter().all(|t| t.bound != Bound::Estimate));
    }
}

/// A run with a `mixed-slo` cell (the mixed pattern as an open-loop ladder) prices a mixed product
/// from that ladder, like io-slo: interpolated, with a monthly cost; the one-rate `mixed` test is
/// then not used.
#[test]
fn a_mixed_product_is_priced_from_the_mixed_slo_ladder_when_the_run_has_one() {
    let mut run = fixture_run();
    let extra: Vec<store::CellSummary> = run
        .cells
        .iter()
        .filter(|c| c.workload == "io-slo")
        .map(|c| {
            let mut m = c.clone();
            m.workload = "mixed-slo".into();
            m
        })
        .collect();
    run.cells.extend(extra);
    let p = with(
        neutral(),
        &[("product.data_flow", "mixed"), ("load.peak_rps", "2000")],
    );
    let a = adviser::advise(&p, Some((&run, FIXTURE)));
    let ex = a
        .cost
        .stacks
        .iter()
        .filter(|s| s.workload == "mixed-slo")
        .flat_map(|s| s.targets.iter())
        .find(|t| t.target == "node-express")
        .expect("node-express priced on mixed-slo");
    assert_eq!(ex.capacity.kind, CapacityKind::Interpolated);
    assert!(ex.monthly_usd.is_some());
    assert!(a.cost.stacks.iter().all(|s| s.workload == "mixed-slo"));
    assert!(!a
        .cost
        .missing
        .iter()
        .any(|m| m.command.contains("mixed-slo")));
}

/// `data_flow = "crud"` (a typical request reads and writes a database) is priced from the `crud`
/// workload's capacity ladder at the profile's p99, like io-slo: here the fixture's io-slo ladders
/// stand in as crud cells (synthetic), and a run without crud cells says how to measure them.
#[test]
fn a_crud_product_is_priced_from_the_crud_ladder() {
    let p = with(
        neutral(),
        &[("product.data_flow", "crud"), ("load.peak_rps", "2000")],
    );
    let bare = fixture_run();
    let a = adviser::advise(&p, Some((&bare, FIXTURE)));
    assert!(a.cost.stacks.iter().all(|s| s.workload == "crud"));
    assert!(
        a.cost
            .missing
            .iter()
            .any(|m| m.command.contains("--workloads crud")),
        "{:?}",
        a.cost.missing
    );
    let mut run = fixture_run();
    let extra: Vec<store::CellSummary> = run
        .cells
        .iter()
        .filter(|c| c.workload == "io-slo")
        .map(|c| {
            let mut m = c.clone();
            m.workload = "crud".into();
            m
        })
        .collect();
    run.cells.extend(extra);
    let a = adviser::advise(&p, Some((&run, FIXTURE)));
    let ex = a
        .cost
        .stacks
        .iter()
        .filter(|s| s.workload == "crud")
        .flat_map(|s| s.targets.iter())
        .find(|t| t.target == "node-express")
        .expect("node-express priced on crud");
    assert_eq!(ex.capacity.kind, CapacityKind::Interpolated);
    assert!(ex.monthly_usd.is_some());
    assert!(!a.cost.missing.iter().any(|m| m.command.contains("crud")));
}

/// A run whose servers the lab did not run and pin (an import, `lab --target-url`) prices nothing,
/// and says why.
#[test]
fn a_run_the_lab_did_not_control_prices_nothing() {
    let mut run = fixture_run();
    let p = load(&repo().join("examples/startup-ai-app-post-pmf.toml"));
    let priced = adviser::advise(&p, Some((&run, FIXTURE)));
    assert!(priced
        .cost
        .stacks
        .iter()
        .any(|s| s.targets.iter().any(|t| t.monthly_usd.is_some())));
    run.settings
        .insert("origin.tool".into(), "stackwise lab --target-url".into());
    let a = adviser::advise(&p, Some((&run, FIXTURE)));
    assert!(a.cost.run.is_none() && a.cost.stacks.is_empty() && a.cost.hybrid.is_empty());
    assert!(
        a.cost.assumptions[0].contains("not measured on servers the lab ran and pinned"),
        "{:?}",
        a.cost.assumptions
    );
}
