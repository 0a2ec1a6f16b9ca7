//! Fuzzed profile text never panics: random and mutated TOML through the parser, which either
//! accepts or names the place of the error. (Random complete profiles through the rules, the cost
//! model and both renderers: crates/reports/tests/advice_fuzz.rs, where the renderers live.)

mod common;
use common::*;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

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
