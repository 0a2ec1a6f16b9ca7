//! End-to-end tests of `stackwise claims`: the real binary on the stored fixture run
//! (crates/claims/tests/fixtures/run.json, synthetic figures) prints the verdict table and JSON that
//! validates against schemas/claims.schema.json; bad input exits 2 naming the flag.

use std::process::Output;

mod support;

use support::stackwise;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../claims/tests/fixtures/run.json"
);

fn run(args: &[&str]) -> Output {
    stackwise().arg("claims").args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn schema() -> serde_json::Value {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/claims.schema.json"
    );
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn table_on_the_fixture_shows_claimed_measured_verdict_and_reason() {
    let text = stdout(&run(&["--summary-json", FIXTURE]));
    assert!(text.starts_with("Claims checked against run 1 "), "{text}");
    assert!(text.contains("FIXTURE: synthetic figures"), "{text}");
    assert!(text.contains("VERDICT") && text.contains("CLAIMED") && text.contains("MEASURED"));
    // The headline: how many independent tests stand behind the verdicts.
    assert!(
        text.contains("verdicts from") && text.contains("independent tests"),
        "{text}"
    );
    // The range claim: its claimed figure, the measured figures, the verdict, why: the Rust
    // baseline's capacity (6,000 req/s) is below the claimed top, so not testable on this machine.
    let block: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("a1-node-io-range"))
        .take(22)
        .collect();
    assert!(block[0].starts_with("not testable yet "), "{block:#?}");
    assert!(
        block[0].contains("Node.js: 15,000–20,000 req/s on"),
        "{block:#?}"
    );
    assert!(block[0].contains("node-http     4,500 req/s"), "{block:#?}");
    assert!(
        block.iter().any(|l| l.contains(
            "why   not testable on this machine: the baseline rust-axum reached 6,000 req/s here"
        )),
        "{block:#?}"
    );
    assert!(
        block
            .iter()
            .any(|l| l.contains("codes not_testable_here (this machine cannot test")),
        "{block:#?}"
    );
    // A claim judged on several metrics shows each part's reason, with its ratio interval.
    assert!(
        text.contains(
            "· cold_start_ms: node vs python: best python-flask-sync/node-http 5.78× (5.44–6.14,"
        ),
        "{text}"
    );
    // The minimum effect and where it comes from; a one-repeat verdict is labelled indicative.
    assert!(
        text.contains("effect ≥ 2× (the word \"exceptionally\")"),
        "{text}"
    );
    assert!(text.contains("(indicative)"), "{text}");
    // The TechEmpower claim is cited, with its code.
    let all = stdout(&run(&["--summary-json", FIXTURE]));
    assert!(
        all.contains("a0-techempower-raw-throughput") && all.contains("source: TechEmpower"),
        "{all}"
    );
    // Cited facts and opinions are listed as such.
    assert!(text.contains("\nCited, not measured ("), "{text}");
    assert!(text.contains("a3-so-survey-48-7"));
    assert!(text.contains("source: Stack Overflow Developer Survey 2025"));
    assert!(text.contains("\nOpinions ("));
    // Claims the lab cannot test yet say what they need.
    assert!(text.contains("needs The `stream` workload"), "{text}");
}

#[test]
fn json_on_the_fixture_validates_and_filters_apply() {
    let out = run(&[
        "--summary-json",
        FIXTURE,
        "--json",
        "--kind",
        "testable",
        "--verdict",
        "refuted",
        "--verdict",
        "depends",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&v)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "claims JSON violates its schema: {errors:#?}"
    );
    let claims = v["claims"].as_array().unwrap();
    assert!(!claims.is_empty());
    for c in claims {
        assert_eq!(c["kind"], "testable");
        assert!(
            c["verdict"] == "refuted" || c["verdict"] == "depends",
            "{c}"
        );
        assert!(!c["measured"].as_array().unwrap().is_empty());
    }
    assert_eq!(v["run"]["run_id"], 1);
    assert_eq!(v["run"]["server_cpus"], serde_json::json!([1]));

    // The new verdicts are filters too, and every value of the vocabulary is accepted.
    let v: serde_json::Value = serde_json::from_str(&stdout(&run(&[
        "--summary-json",
        FIXTURE,
        "--json",
        "--verdict",
        "inconclusive",
    ])))
    .unwrap();
    let claims = v["claims"].as_array().unwrap();
    assert!(!claims.is_empty());
    assert!(claims.iter().all(|c| c["verdict"] == "inconclusive"));
    for verdict in claims::Verdict::ALL {
        let out = run(&["--summary-json", FIXTURE, "--verdict", verdict.id()]);
        assert!(out.status.success(), "--verdict {}", verdict.id());
    }

    let none = stdout(&run(&[
        "--summary-json",
        FIXTURE,
        "--kind",
        "testable",
        "--verdict",
        "cited",
    ]));
    assert!(none.contains("No claim matches the filters"), "{none}");
}

#[test]
fn without_a_run_the_table_gives_lab_commands() {
    // An empty data directory: no default store.
    let data = std::env::temp_dir().join(format!("claims-nodata-{}", std::process::id()));
    std::fs::create_dir_all(&data).unwrap();
    let out = stackwise()
        .args(["claims", "--kind", "testable"])
        .env("XDG_DATA_HOME", &data)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&data).unwrap();
    let text = stdout(&out);
    assert!(text.starts_with("No lab run to check against"), "{text}");
    // The table wraps long commands; compare with the whitespace collapsed.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(
            "run stackwise lab --targets node-express,node-fastify,node-http,node-koa,node-nestjs --workloads io-slo"
        ),
        "{text}"
    );
    assert!(!text.contains("\nOpinions ("));
}

#[test]
fn committed_schema_matches_the_binary() {
    let out = stackwise().args(["schema", "claims"]).output().unwrap();
    let generated: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        generated,
        schema(),
        "schemas/claims.schema.json is stale: regenerate it with \
         `cargo run -p stackwise -- schema claims > schemas/claims.schema.json`"
    );
}

#[test]
fn bad_input_exits_2_naming_the_flag() {
    let dir = std::env::temp_dir().join(format!("claims-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let not_run = dir.join("not-a-run.json");
    std::fs::write(&not_run, "{\"run_id\": 1}").unwrap();
    let bad_cat = dir.join("cat.toml");
    std::fs::write(
        &bad_cat,
        "[lab]\nnode = [\"node-http\"]\n[[claim]]\nid = \"Bad Id\"\n",
    )
    .unwrap();
    for (args, needle) in [
        (
            vec!["--summary-json", not_run.to_str().unwrap()],
            "--summary-json",
        ),
        (
            vec!["--summary-json", "/nonexistent/run.json"],
            "--summary-json",
        ),
        (
            vec!["--catalogue", bad_cat.to_str().unwrap()],
            "--catalogue",
        ),
        (vec!["--verdict", "maybe"], "--verdict"),
        (vec!["--kind", "rumour"], "--kind"),
    ] {
        let out = run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{args:?}: not one line: {err}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes the fixture run into a real lab store (the lab's write API), as the lab would.
fn fixture_store(dir: &std::path::Path) -> std::path::PathBuf {
    let run: store::RunSummary =
        serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    let path = dir.join("lab.sqlite3");
    store::Store::open(&path).unwrap().import_run(&run).unwrap();
    path
}

fn verdicts(json: &str) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn reads_the_latest_or_a_given_run_from_a_real_store() {
    let dir = std::env::temp_dir().join(format!("claims-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = fixture_store(&dir);
    let db_s = db.to_str().unwrap();
    let from_store = stdout(&run(&["--db", db_s, "--json"]));
    let from_fixture = stdout(&run(&["--summary-json", FIXTURE, "--json"]));
    assert_eq!(verdicts(&from_store), verdicts(&from_fixture));
    let v: serde_json::Value = serde_json::from_str(&from_store).unwrap();
    assert_eq!(v["run"]["run_id"], 1);
    let by_id = stdout(&run(&["--db", db_s, "--run", "1", "--kind", "testable"]));
    assert!(
        by_id.starts_with("Claims checked against run 1 "),
        "{by_id}"
    );

    let out = run(&["--db", db_s, "--run", "2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--run 2") && err.contains("no run with id 2"),
        "{err}"
    );
    let out = run(&["--db", dir.join("nope.sqlite3").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--db: no lab database"));
    std::fs::remove_dir_all(&dir).unwrap();
}
