//! The findings (the summary every report leads with) on three runs made from the synthetic
//! fixture (TEST DATA, not measurements): a quiet one, a noisy one (steal time and other
//! processes on every cell, one cell's repeats spread) and one with failed cells. The wording is
//! checked against golden files (`UPDATE_GOLDEN=1 cargo test -p reports --test findings` rewrites
//! them after a deliberate change); the HTML's links must land on sections of the page.

use reports::{findings, html, json, markdown, ReportInput};
use store::model::CellStatus;

fn fixture() -> ReportInput {
    let path = format!("{}/tests/fixtures/run-a.json", env!("CARGO_MANIFEST_DIR"));
    ReportInput::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn quiet() -> ReportInput {
    let mut i = fixture();
    // The fixture's run-level steal warning makes it noisy; the quiet run has none.
    i.summary.warnings.retain(|w| !w.contains("steal time"));
    // Every cell measured, and repeats within 2% of the median.
    i.summary
        .cells
        .retain(|c| matches!(c.status, CellStatus::Ok));
    for c in i.summary.cells.iter_mut() {
        let ids: Vec<String> = c.metrics.keys().cloned().collect();
        for id in ids {
            let mut s = c.metric(&id).unwrap().clone();
            if s.values.len() > 1 && s.relative_range() > 0.04 {
                s.values = vec![s.median * 0.98, s.median, s.median * 1.02];
                s.min = s.median * 0.98;
                s.max = s.median * 1.02;
                c.set(&id, Some(s));
            }
        }
    }
    i
}

fn noisy() -> ReportInput {
    let mut i = quiet();
    let n = i.summary.cells.len();
    for (k, c) in i.summary.cells.iter_mut().enumerate() {
        // The lab's own wording (crates/lab/src/stats.rs).
        let steal = 5.0 + 42.0 * k as f64 / (n - 1) as f64;
        c.warnings.push(format!(
            "steal time {steal:.1}% (> 2%): the hypervisor took CPU from this machine; figures are noisy"
        ));
        if k % 3 == 0 {
            c.warnings.push(format!(
                "other processes used {}% of the server CPUs during the measurement: the machine was not quiet, figures are noisy",
                12 + k % 30
            ));
        }
    }
    // One cell whose repeats spread by far more than the limit.
    let c = i
        .summary
        .cells
        .iter_mut()
        .find(|c| c.target == "python-fastapi" && c.workload == "json")
        .unwrap();
    let mut s = c.metric("throughput_rps").unwrap().clone();
    s.values = vec![s.median * 0.7, s.median, s.median * 1.3];
    s.min = s.median * 0.7;
    s.max = s.median * 1.3;
    c.set("throughput_rps", Some(s));
    i
}

fn failed() -> ReportInput {
    let mut i = quiet();
    for c in i.summary.cells.iter_mut() {
        if c.target == "node-fastify" && (c.workload == "io" || c.workload == "io-slo") {
            c.status =
                CellStatus::Failed("the target exited during the warm-up (exit status 1)".into());
        }
    }
    let t = i
        .summary
        .targets
        .iter_mut()
        .find(|t| t.name == "python-django")
        .unwrap();
    t.failure = Some("did not answer GET /health within 30 s".into());
    i.summary.cells.retain(|c| c.target != "python-django");
    i
}

fn golden(name: &str, actual: &str) {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (UPDATE_GOLDEN=1 writes it)"));
    assert_eq!(actual, expected, "{name} differs from its golden file");
}

/// The first `## ` section of the Markdown report (the findings and the grouped warnings, up to
/// the machine section).
fn md_head(md: &str) -> &str {
    let end = md.find("## Machine").unwrap();
    let start = md.find("## Findings").unwrap();
    &md[start..end]
}

#[test]
fn quiet_run_findings_match_the_golden_files() {
    let i = quiet();
    let f = findings::findings(&i);
    assert_eq!(f.trust.level, findings::Level::Quiet, "{}", f.trust.line);
    assert_eq!(f.trust.held_back, 0);
    golden("quiet.txt", &findings::text(&f));
    golden("quiet.md", md_head(&markdown::render(&i)));
}

#[test]
fn noisy_run_findings_say_so_in_one_line_and_group_the_warnings() {
    let i = noisy();
    let f = findings::findings(&i);
    assert_eq!(f.trust.level, findings::Level::Noisy);
    assert!(
        f.trust
            .line
            .starts_with("noisy: steal 5–47% on 98 of 98 cells"),
        "{}",
        f.trust.line
    );
    assert!(
        f.trust
            .line
            .ends_with("re-run on a quiet machine for rankings"),
        "{}",
        f.trust.line
    );
    // Every comparison rests on cells with steal time: all held back.
    assert_eq!(
        f.trust.held_back,
        f.trust.comparisons - count_per_target(&f)
    );
    let steal = f
        .warning_groups
        .iter()
        .find(|g| g.cause == "steal")
        .unwrap();
    assert_eq!(steal.count, i.summary.cells.len());
    assert!(f
        .warning_groups
        .iter()
        .any(|g| g.cause == "spread" && g.scopes == ["python-fastapi / json"]));
    golden("noisy.txt", &findings::text(&f));
    golden("noisy.md", md_head(&markdown::render(&i)));
}

/// Per-target measures carry no cell warnings: their comparisons are not held back by them.
fn count_per_target(f: &findings::Findings) -> usize {
    f.headlines
        .iter()
        .filter(|h| h.workload == "target")
        .map(|h| {
            h.best
                .iter()
                .chain(h.typical.iter())
                .filter(|r| r.noise != findings::Noise::HeldBack)
                .count()
        })
        .sum()
}

#[test]
fn failed_cells_make_the_run_incomplete_and_are_listed() {
    let i = failed();
    let f = findings::findings(&i);
    assert_eq!(f.trust.level, findings::Level::Incomplete);
    let g = f
        .warning_groups
        .iter()
        .find(|g| g.cause == "failed")
        .unwrap();
    assert_eq!(
        g.scopes,
        [
            "python-django",
            "node-fastify / io",
            "node-fastify / io-slo"
        ]
    );
    // The failed cells are not anyone's best.
    for h in &f.headlines {
        assert!(h.sides.iter().all(|s| s.best_target != "python-django"));
        if h.workload == "io" || h.workload == "io-slo" {
            assert!(h.sides.iter().all(|s| s.best_target != "node-fastify"));
        }
    }
    golden("failed.txt", &findings::text(&f));
    golden("failed.md", md_head(&markdown::render(&i)));
}

#[test]
fn json_carries_the_findings_as_data() {
    let v: serde_json::Value = serde_json::from_str(&json::render(&noisy(), None)).unwrap();
    let f = &v["findings"];
    assert_eq!(f["trust"]["level"], "noisy");
    assert!(f["headlines"].as_array().unwrap().len() >= 10);
    let h = &f["headlines"][0];
    assert_eq!(h["workload"], "plaintext");
    assert_eq!(h["metric"], "throughput_rps");
    assert_eq!(h["sides"][0]["language"], "Node.js");
    assert!(h["best"]["factor"].as_f64().unwrap() >= 1.0);
    assert_eq!(f["warning_groups"][0]["cause"], "steal");
}

#[test]
fn html_leads_with_the_findings_whose_links_land_on_sections() {
    let opts = html::Options {
        generator: "stackwise test".into(),
        home_link: None,
    };
    for i in [quiet(), noisy(), failed()] {
        let page = html::render(&i, &opts);
        assert!(page.len() < 2_000_000);
        let body = &page[page.find("<body>").unwrap()..];
        let first = body.find("id=\"findings\"").unwrap();
        assert!(
            first < body.find("<nav>").unwrap(),
            "the findings come before the contents"
        );
        assert!(first < body.find("id=\"machine\"").unwrap());
        let box_end = first + body[first..].find("</section>").unwrap();
        let links: Vec<&str> = body[first..box_end]
            .match_indices("href=\"#")
            .map(|(k, _)| {
                let rest = &body[first + k + 7..];
                &rest[..rest.find('"').unwrap()]
            })
            .collect();
        assert!(links.len() >= 10);
        for a in links {
            assert!(
                page.contains(&format!("id=\"{a}\"")),
                "link #{a} lands nowhere"
            );
        }
    }
    // Grouped warnings, expanded on demand.
    let page = html::render(&noisy(), &opts);
    assert!(page.contains("<details class=\"wgroup\" data-cause=\"steal\">"));
    assert!(!page.contains("<script"));
}
