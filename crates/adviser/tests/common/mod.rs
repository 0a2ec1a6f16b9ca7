//! Shared helpers of the adviser's integration tests: paths, the fixture run, a neutral profile.
#![allow(dead_code)]

use std::path::PathBuf;

use adviser::{PartialProfile, Profile};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fixture_run() -> store::RunSummary {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run.json"),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The label golden files use for the fixture run.
pub const FIXTURE: &str = "fixture tests/fixtures/run.json (hand-written, not a measurement)";

/// A profile where few rules fire: no team, post-PMF, use case "other", I/O data flow.
pub fn neutral() -> Profile {
    let mut p = PartialProfile::default();
    for (k, v) in [
        ("team.javascript", "0"),
        ("team.python", "0"),
        ("team.data_science", "false"),
        ("product.use_case", "other"),
        ("product.stage", "post-pmf"),
        ("product.realtime", "false"),
        ("product.ai_ml", "none"),
        ("product.data_heavy", "false"),
        ("product.compliance", "standard"),
        ("product.full_stack_js", "false"),
        ("product.serverless", "false"),
        ("product.data_flow", "io"),
        ("load.peak_rps", "100"),
        ("load.concurrent_connections", "10"),
        ("load.p99_ms", "100"),
        ("costs.core_hour_usd", "0.04"),
    ] {
        p.set(k, v).unwrap();
    }
    p.complete().unwrap()
}

pub fn with(mut p: Profile, changes: &[(&str, &str)]) -> Profile {
    for (k, v) in changes {
        p.set(k, v).unwrap();
    }
    p
}

/// Every rule id the advice shows (reasons, counter-arguments, placements).
pub fn shown(a: &adviser::Advice) -> Vec<String> {
    a.reasons
        .iter()
        .chain(a.counter_arguments.iter())
        .map(|r| r.rule.clone())
        .chain(a.recommendation.services.iter().map(|s| s.rule.clone()))
        .collect()
}
