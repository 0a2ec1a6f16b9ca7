//! The catalogue against its sources: every quote appears verbatim (whitespace-normalised) in its
//! seed article, and every workload it names is one docs/workloads.md defines (future ones marked as
//! such there).
//!
//! The articles are looked for in `$STACKWISE_SEEDS`, then `<repo>/../shared/seeds`, then
//! `/work/shared/seeds`; without them the test fails and says so, unless `STACKWISE_SKIP_SEEDS=1`.

use std::path::{Path, PathBuf};

use claims::workloads::{all, lookup};
use claims::{Catalogue, Kind};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn seeds_dir() -> Option<PathBuf> {
    let mut candidates = vec![];
    if let Some(d) = std::env::var_os("STACKWISE_SEEDS") {
        candidates.push(PathBuf::from(d));
    }
    candidates.push(repo().join("../shared/seeds"));
    candidates.push(PathBuf::from("/work/shared/seeds"));
    candidates.into_iter().find(|d| d.is_dir())
}

fn normalise(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn every_quote_is_verbatim_in_its_article() {
    let Some(dir) = seeds_dir() else {
        if std::env::var("STACKWISE_SKIP_SEEDS").as_deref() == Ok("1") {
            eprintln!("seed articles not found; skipped because STACKWISE_SKIP_SEEDS=1");
            return;
        }
        panic!(
            "the seed articles were not found: set STACKWISE_SEEDS to their folder (looked in \
             $STACKWISE_SEEDS, {}, /work/shared/seeds), or STACKWISE_SKIP_SEEDS=1 to skip this test",
            repo().join("../shared/seeds").display()
        );
    };
    let cat = Catalogue::builtin();
    let mut missing = vec![];
    let mut articles = std::collections::BTreeMap::new();
    for c in &cat.claims {
        let text = articles.entry(c.article.clone()).or_insert_with(|| {
            let p = dir.join(&c.article);
            normalise(
                &std::fs::read_to_string(&p)
                    .unwrap_or_else(|e| panic!("claim {}: cannot read {}: {e}", c.id, p.display())),
            )
        });
        if !text.contains(&normalise(&c.quote)) {
            missing.push(format!("{} ({}): {:?}", c.id, c.article, c.quote));
        }
    }
    assert!(
        missing.is_empty(),
        "quotes not found verbatim in their articles:\n{}",
        missing.join("\n")
    );
    // Every seed article is used.
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    for f in files {
        assert!(
            articles.contains_key(&f),
            "no claim comes from seed article {f}"
        );
    }
}

#[test]
fn every_workload_exists_in_docs_workloads_md() {
    let doc = std::fs::read_to_string(repo().join("docs/workloads.md")).unwrap();
    // The paragraph that announces future workloads.
    let start = doc
        .find("Coming later")
        .expect("docs/workloads.md has its 'Coming later' paragraph");
    let coming = doc[start..].split("\n\n").next().unwrap();
    for w in all() {
        let tick = format!("`{}`", w.id);
        assert!(
            doc.contains(&tick),
            "workload {} is not in docs/workloads.md",
            w.id
        );
        assert_eq!(
            coming.contains(&tick),
            !w.available,
            "workload {}: docs/workloads.md and workloads.rs disagree on whether it is available",
            w.id
        );
    }
    // And the catalogue names only those.
    for c in Catalogue::builtin().claims {
        for w in c.test.iter().flat_map(|t| &t.workloads) {
            assert!(
                lookup(w).is_some(),
                "claim {} names unknown workload {w}",
                c.id
            );
        }
    }
}

#[test]
fn every_testable_claim_has_a_rule_or_says_what_it_needs() {
    let cat = Catalogue::builtin();
    let testable: Vec<_> = cat
        .claims
        .iter()
        .filter(|c| c.kind == Kind::Testable)
        .collect();
    assert!(
        testable.len() >= 40,
        "only {} testable claims",
        testable.len()
    );
    for c in testable {
        let t = c.test.as_ref().unwrap();
        assert!(t.rule.is_some() || t.needs.is_some(), "{}", c.id);
        let future = t.workloads.iter().any(|w| !lookup(w).unwrap().available);
        assert!(
            !future || t.needs.is_some(),
            "{} uses a future workload without `needs`",
            c.id
        );
    }
}

#[test]
fn a_catalogue_file_can_be_loaded_from_a_path_and_errors_name_it() {
    let dir = std::env::temp_dir().join(format!("claims-cat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(&good, claims::catalogue::BUILTIN).unwrap();
    assert_eq!(
        Catalogue::load(&good).unwrap().claims.len(),
        Catalogue::builtin().claims.len()
    );
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[lab]\nnode = [\"node-http\"]\n\n[[claim]]\nid = \"x\"\nkind = \"maybe\"\n",
    )
    .unwrap();
    let e = Catalogue::load(&bad).unwrap_err().to_string();
    assert!(
        e.contains("bad.toml") && e.contains("line 6") && e.contains("maybe"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn readme_counts_match_the_catalogue() {
    let cat = Catalogue::builtin();
    let n = |k: Kind| cat.claims.iter().filter(|c| c.kind == k).count();
    let not_yet = cat
        .claims
        .iter()
        .filter(|c| {
            c.test.as_ref().is_some_and(|t| {
                t.rule.is_none() || t.workloads.iter().any(|w| !lookup(w).unwrap().available)
            })
        })
        .count();
    let readme = normalise(&std::fs::read_to_string(repo().join("README.md")).unwrap());
    let want = format!(
        "{} testable performance claims ({not_yet} of them not testable yet, each saying what it needs), {} cited facts",
        n(Kind::Testable),
        n(Kind::Cited)
    );
    assert!(readme.contains(&want), "README.md should say: {want}");
    let want = format!("and {} opinions", n(Kind::Opinion));
    assert!(readme.contains(&want), "README.md should say: {want}");
}

#[test]
fn docs_claims_md_states_each_rules_metric_and_minimum_effect() {
    let doc = std::fs::read_to_string(repo().join("docs/claims.md")).unwrap();
    let cat = Catalogue::builtin();
    for c in &cat.claims {
        let Some(rule) = c.test.as_ref().and_then(|t| t.rule.as_ref()) else {
            continue;
        };
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` | {} |", c.id, rule.name())))
            .unwrap_or_else(|| {
                panic!(
                    "docs/claims.md has no row for {} (rule {}) in its per-claim table",
                    c.id,
                    rule.name()
                )
            });
        if matches!(
            rule,
            claims::RuleSpec::Faster { .. } | claims::RuleSpec::Lighter { .. }
        ) {
            let e = c.min_effect().factor;
            let want = format!("≥ {}×", claims::decide::fmt_ratio(e));
            assert!(
                row.contains(&want),
                "{}: docs say {row:?}, the rule uses {want}",
                c.id
            );
        }
        if let claims::RuleSpec::Equivalent { .. } = rule {
            let want = format!("±{}%", c.margin() * 100.0);
            assert!(
                row.contains(&want),
                "{}: docs say {row:?}, the rule uses {want}",
                c.id
            );
        }
    }
}
