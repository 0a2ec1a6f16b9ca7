//! End-to-end tests of `stackwise advise`: the real binary on an example profile and the fixture
//! run (a RunSummary JSON file: the store's reader is not merged yet), its JSON against the
//! committed schema, the ADR file, and bad input.

use std::path::PathBuf;
use std::process::{Command, Stdio};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stackwise() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stackwise"));
    c.current_dir(repo()).stdin(Stdio::null());
    c
}

const PROFILE: &str = "examples/startup-chat-mvp.toml";
const FIXTURE: &str = "crates/adviser/tests/fixtures/run.json";

fn run(args: &[&str]) -> std::process::Output {
    stackwise().args(args).output().unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn advises_on_an_example_profile_with_the_measured_cost() {
    let o = run(&["advise", "--profile", PROFILE, "--summary-json", FIXTURE]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.starts_with("Recommendation  Node.js"), "{out}");
    for s in [
        "team-js-only",
        "003_db1996e8e28ab010.txt",
        "Conflicts",
        "What would change the answer",
        "Cost  (measured: run 7",
        "io-slo",
        "USD/month",
        "730 hours per month",
    ] {
        assert!(out.contains(s), "missing {s:?} in\n{out}");
    }
}

#[test]
fn json_output_validates_against_the_committed_schema_and_flags_override_the_profile() {
    let o = run(&[
        "advise",
        "--profile",
        PROFILE,
        "--summary-json",
        FIXTURE,
        "--json",
        "--stage",
        "post-pmf",
        "--ai-ml",
        "core",
        "--python-devs",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("schemas/advice.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(json["recommendation"]["choice"], "hybrid");
    assert_eq!(json["profile"]["team"]["python"], 1);
    assert_eq!(json["cost"]["run"]["run_id"], 7);
    assert!(json["conflicts"].is_array());
    // The schema command prints the committed schema.
    let o = run(&["schema", "advice"]);
    assert!(o.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(printed, schema, "schemas/advice.schema.json is stale");
}

#[test]
fn writes_an_adr() {
    let dir = std::env::temp_dir().join(format!("stackwise-adr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let adr = dir.join("0001-backend.md");
    let o = run(&[
        "advise",
        "--profile",
        PROFILE,
        "--summary-json",
        FIXTURE,
        "--adr",
        adr.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&adr).unwrap();
    assert!(text.contains("## Decision Outcome") && text.contains("Chosen option: \"Node.js\""));
    assert!(text.contains("lab run 7"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_measurements_it_names_the_lab_command_and_gives_no_figure() {
    let o = run(&["advise", "--profile", PROFILE]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("stackwise lab --workloads io-slo"), "{out}");
    assert!(!out.contains("USD/month"), "{out}");
}

#[test]
fn bad_input_names_the_file_line_and_allowed_values_with_exit_2() {
    let dir = std::env::temp_dir().join(format!("stackwise-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    let text = std::fs::read_to_string(repo().join(PROFILE)).unwrap();
    std::fs::write(&bad, text.replace("\"chat\"", "\"chatroom\"")).unwrap();
    let o = run(&["advise", "--profile", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    let line = text.lines().position(|l| l.contains("\"chat\"")).unwrap() + 1;
    assert!(e.contains(&format!("bad.toml:{line}:")), "{e}");
    assert!(
        e.contains("product.use_case") && e.contains("chat | video-streaming"),
        "{e}"
    );

    std::fs::write(&bad, text.replace("[load]", "[load]\npeak = 3")).unwrap();
    let o = run(&["advise", "--profile", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown field `peak`"),
        "{}",
        stderr(&o)
    );

    // A missing key without a terminal: named with its flag, and the questionnaire's refusal.
    std::fs::write(&bad, text.replace("stage = \"pre-pmf\"", "")).unwrap();
    let o = run(&["advise", "--profile", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("product.stage") && e.contains("--stage") && e.contains("--profile"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();

    let o = run(&["advise", "--profile", PROFILE, "--headroom", "2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--headroom"), "{}", stderr(&o));
}

#[test]
fn the_questionnaire_without_a_terminal_says_to_use_profile() {
    let o = run(&["advise"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("needs a terminal") && e.contains("--profile FILE"),
        "{e}"
    );
}
