//! Fuzzed profiles never panic: random complete profiles through the adviser's rules, its cost
//! model (with and without the fixture run) and both renderers of the advice (the terminal text
//! and the ADR).

use std::path::Path;

use adviser::profile::{KeyKind, PartialProfile, KEYS};
use proptest::prelude::*;
use reports::advice_text::{adr, text};

const FIXTURE: &str = "fixture tests/fixtures/run.json (hand-written, not a measurement)";

fn fixture_run() -> store::RunSummary {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../adviser/tests/fixtures/run.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn value_for(kind: KeyKind) -> BoxedStrategy<String> {
    match kind {
        KeyKind::Bool => any::<bool>().prop_map(|b| b.to_string()).boxed(),
        KeyKind::Choice(names) => prop::sample::select(names.to_vec())
            .prop_map(str::to_string)
            .boxed(),
        KeyKind::Count => prop_oneof![0u32..20, 0u32..100_000]
            .prop_map(|n| n.to_string())
            .boxed(),
        KeyKind::Number => prop_oneof![0.001f64..1.0, 1.0f64..1e6]
            .prop_map(|x| x.to_string())
            .boxed(),
    }
}

fn profiles() -> impl Strategy<Value = Vec<(usize, String)>> {
    let per_key: Vec<BoxedStrategy<(usize, String)>> = KEYS
        .iter()
        .enumerate()
        .map(|(i, k)| value_for(k.kind).prop_map(move |v| (i, v)).boxed())
        .collect();
    per_key
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_profiles_never_panic(values in profiles(), with_run in any::<bool>()) {
        let mut p = PartialProfile::default();
        for (i, v) in values {
            // Out-of-range values are refused by complete(), never a panic.
            let _ = p.set(KEYS[i].path, &v);
        }
        match p.complete() {
            Ok(profile) => {
                let run = fixture_run();
                let a = adviser::advise(&profile, with_run.then_some((&run, FIXTURE)));
                let _ = text(&a);
                let _ = adr(&a, "2026-01-01");
                prop_assert!(["node", "python", "hybrid"].contains(&a.recommendation.choice.as_str()));
                // Round trip through TOML gives the same advice.
                let again = adviser::parse_profile(&profile.to_toml(), "x").unwrap().complete().unwrap();
                prop_assert_eq!(adviser::advise(&again, None).recommendation.choice, a.recommendation.choice);
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
