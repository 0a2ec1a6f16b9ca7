//! The advice rendered (`reports::advice_text`, moved here from the adviser, issue 19): golden
//! terminal text for every example profile on the adviser's fixture run and for each scenario of
//! issue 16, golden ADRs (MADR), and every figure in them formatted by the one formatter. The
//! adviser's own tests assert the advice's data; these assert its rendering.

use std::path::{Path, PathBuf};

use reports::advice_text::{adr, text};
use reports::format::num;

/// The adviser's test data (profiles, fixture runs): the advice rendered here is the same advice
/// its tests assert on.
fn adviser_tests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../adviser/tests")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(name: &str) -> store::RunSummary {
    let text = std::fs::read_to_string(adviser_tests().join("fixtures").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The labels golden files use for the fixture runs (as in the adviser's tests).
const FIXTURE: &str = "fixture tests/fixtures/run.json (hand-written, not a measurement)";
const COLD_FIXTURE: &str =
    "fixture tests/fixtures/run-cold-start.json (hand-written, not a measurement)";

fn load(path: &Path) -> adviser::Profile {
    adviser::read_profile(path).unwrap().complete().unwrap()
}

fn scenario(name: &str) -> adviser::Profile {
    load(
        &adviser_tests()
            .join("fixtures/scenarios")
            .join(format!("{name}.toml")),
    )
}

fn examples() -> Vec<PathBuf> {
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

/// Compares with a golden file in tests/golden/advice; `UPDATE_GOLDEN=1` rewrites it.
fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/advice")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", path.display()));
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .map(|i| i + 1);
        panic!(
            "{} differs from the advice (first differing line {line:?}); review and rerun with UPDATE_GOLDEN=1\n--- actual ---\n{actual}",
            path.display()
        );
    }
}

#[test]
fn each_example_profile_advice_matches_its_golden_file() {
    let run = run("run.json");
    for path in examples() {
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let advice = adviser::advise(&load(&path), Some((&run, FIXTURE)));
        golden(&format!("{stem}.txt"), &text(&advice));
    }
}

#[test]
fn the_adr_has_the_madr_sections_and_cites_the_run() {
    let run = run("run.json");
    let p = load(&repo().join("examples/startup-ai-app-post-pmf.toml"));
    let a = adviser::advise(&p, Some((&run, FIXTURE)));
    let adr = adr(&a, "2026-01-01");
    golden("startup-ai-app-post-pmf.adr.md", &adr);
    for h in [
        "## Context and Problem Statement",
        "## Decision Drivers",
        "## Considered Options",
        "## Decision Outcome",
        "### Consequences",
        "## Pros and Cons of the Options",
        "## More Information",
    ] {
        assert!(adr.contains(h), "missing {h}");
    }
    assert!(adr.contains("Chosen option: \"hybrid (Node.js + Python)\""));
    assert!(adr.contains("lab run 7"));
    // The profile's peak load is one figure, formatted one way in the text and the ADR.
    let peak = format!("{} req/s", num(a.profile.load.peak_rps));
    assert!(adr.contains(&peak) && text(&a).contains(&peak), "{peak}");
}

#[test]
fn each_scenario_matches_its_golden_file() {
    let fixture = run("run.json");
    let cold = run("run-cold-start.json");
    for (name, with_run) in [
        ("balanced-team", Some((&fixture, FIXTURE))),
        ("refuted-cold-start", Some((&cold, COLD_FIXTURE))),
        ("hybrid-tension", Some((&fixture, FIXTURE))),
        ("tco-dominated", Some((&fixture, FIXTURE))),
        ("no-clear-winner", None),
        ("issue-ml-backend", None),
        ("issue-pre-pmf-chat", None),
    ] {
        let a = adviser::advise(&scenario(name), with_run);
        golden(&format!("scenario-{name}.txt"), &text(&a));
        if name == "hybrid-tension" {
            golden("scenario-hybrid-tension.adr.md", &adr(&a, "2026-12-06"));
        }
        if name == "refuted-cold-start" {
            // The rule the run refutes is listed as not counted, in the text and the ADR.
            assert!(text(&a).contains("Measured here against the articles"));
            assert!(adr(&a, "2026-12-06")
                .contains("Not counted, because measured here against the article"));
        }
    }
}

/// A capacity search that stopped before the p99 target shows as a bound in the text.
#[test]
fn a_capacity_not_measured_high_enough_says_so() {
    let run = run("run.json");
    let mut p = load(&repo().join("examples/startup-chat-mvp.toml"));
    p.set("load.peak_rps", "1000000").unwrap();
    let a = adviser::advise(&p, Some((&run, FIXTURE)));
    let bounded = a.cost.stacks.iter().any(|s| {
        s.targets
            .iter()
            .any(|t| t.bound == adviser::cost::Bound::NotMeasuredHighEnough)
    });
    let t = text(&a);
    assert_eq!(
        bounded,
        t.contains("not measured high enough"),
        "the text shows the bound exactly when the advice has one:\n{t}"
    );
}

/// Every profile, with and without the fixture run and the adviser's real lab run, renders as
/// text and ADR (no panic on any combination the examples and scenarios reach).
#[test]
fn every_profile_renders_on_every_run() {
    let runs = [
        run("run.json"),
        run("run-cold-start.json"),
        run("lab-run-1.json"),
    ];
    let mut profiles: Vec<_> = examples().iter().map(|p| load(p)).collect();
    for s in [
        "balanced-team",
        "refuted-cold-start",
        "hybrid-tension",
        "tco-dominated",
        "no-clear-winner",
        "issue-ml-backend",
        "issue-pre-pmf-chat",
    ] {
        profiles.push(scenario(s));
    }
    for p in &profiles {
        let bare = adviser::advise(p, None);
        assert!(text(&bare).contains("Cost  (no measurements: no figure)"));
        assert!(adr(&bare, "2026-01-01").contains("no lab run yet"));
        for r in &runs {
            let a = adviser::advise(p, Some((r, "a run")));
            assert!(text(&a).starts_with("Recommendation  "));
            assert!(adr(&a, "2026-01-01").starts_with("# Backend stack for our "));
        }
    }
}

#[test]
fn today_is_a_date() {
    let d = reports::advice_text::today();
    let parts: Vec<&str> = d.split('-').collect();
    assert_eq!(parts.len(), 3, "{d}");
    assert!(
        parts[0].len() == 4 && parts[1].len() == 2 && parts[2].len() == 2,
        "{d}"
    );
    assert!(d.as_str() > "2024-01-01", "{d}");
}
