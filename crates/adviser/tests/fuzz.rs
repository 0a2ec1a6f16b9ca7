//! Fuzzed profiles never panic: random complete profiles through the rules, the cost model (with
//! and without the fixture run) and both renderers; random and mutated TOML through the parser,
//! which either accepts or names the place of the error.

mod common;
use common::*;

use adviser::profile::{KeyKind, PartialProfile, KEYS};
use proptest::prelude::*;

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
                let _ = adviser::render::text(&a);
                let _ = adviser::render::adr(&a, "2026-01-01");
                prop_assert!(["node", "python", "hybrid"].contains(&a.recommendation.choice.as_str()));
                // Round trip through TOML gives the same advice.
                let again = adviser::parse_profile(&profile.to_toml(), "x").unwrap().complete().unwrap();
                prop_assert_eq!(adviser::advise(&again, None).recommendation.choice, a.recommendation.choice);
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn random_text_never_panics_the_parser(text in "\\PC{0,200}") {
        let _ = adviser::parse_profile(&text, "fuzz.toml");
    }

    #[test]
    fn mutated_profiles_fail_with_a_place(line in 0usize..25, junk in "[a-z0-9\"=\\[\\] .-]{0,20}") {
        let base = std::fs::read_to_string(repo().join("examples/startup-chat-mvp.toml")).unwrap();
        let mut lines: Vec<String> = base.lines().map(str::to_string).collect();
        let i = line % lines.len();
        lines[i] = junk;
        let text = lines.join("\n");
        if let Err(e) = adviser::parse_profile(&text, "m.toml") {
            prop_assert!(e.to_string().starts_with("m.toml"));
        }
    }
}
