//! `stackwise lab --events json` end to end: a real short run (node-http, installed on first
//! use; one json cell, one repeat, 1 s) writes one JSON object per line on stdout and nothing
//! else; every line validates against schemas/lab-events.schema.json; the stream starts with
//! run_started, has the cell's repeat_done (figures by metric id) and cell_done, and ends with
//! run_finished; the human text (the tables) is on stderr. A bad option is a usage error naming
//! its flag, with nothing on stdout.

mod support;

use support::stackwise;

fn tempdir(tag: &str) -> std::path::PathBuf {
    support::lab::tempdir("lab-events", tag)
}

fn schema() -> serde_json::Value {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/lab-events.schema.json"
    );
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn a_real_run_streams_events_that_validate_against_the_schema() {
    let dir = tempdir("run");
    let db = dir.join("lab.sqlite3");
    let out = stackwise()
        .args([
            "lab",
            "--targets",
            "node-http",
            "--workloads",
            "json",
            "--repeats",
            "1",
            "--duration",
            "1s",
            "--warmup",
            "300ms",
            "--cold-starts",
            "0",
            "--events",
            "json",
        ])
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let mut events: Vec<serde_json::Value> = Vec::new();
    for (i, line) in stdout.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stdout line {}: not JSON ({e}): {line}", i + 1));
        let errors: Vec<String> = validator
            .iter_errors(&v)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "line {}: {errors:?}\n{line}", i + 1);
        assert_eq!(v["schema_version"], 1, "{line}");
        // What a reader of the stream parses it into.
        let typed: workloads::events::EventLine = serde_json::from_value(v.clone())
            .unwrap_or_else(|e| panic!("line {}: {e}\n{line}", i + 1));
        assert_eq!(serde_json::to_value(&typed).unwrap(), v);
        events.push(v);
    }
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"run_started"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"run_finished"), "{kinds:?}");
    for k in [
        "target_started",
        "cell_started",
        "progress",
        "repeat_done",
        "cell_done",
    ] {
        assert!(kinds.contains(&k), "no {k}: {kinds:?}");
    }
    let started = &events[0];
    assert_eq!(started["plan"]["targets"], serde_json::json!(["node-http"]));
    assert_eq!(started["plan"]["remaining"], 1);
    let repeat = events.iter().find(|e| e["event"] == "repeat_done").unwrap();
    assert_eq!(
        (repeat["target"].as_str(), repeat["workload"].as_str()),
        (Some("node-http"), Some("json"))
    );
    assert!(
        repeat["figures"]["throughput_rps"].as_f64().unwrap() > 0.0,
        "{repeat}"
    );
    assert!(repeat["trust"]["clean"].is_boolean(), "{repeat}");
    let done = events.iter().find(|e| e["event"] == "cell_done").unwrap();
    assert_eq!(done["status"], "ok", "{done}");
    assert!(
        done["summary"]["figures"]["throughput_rps"]["median"]
            .as_f64()
            .unwrap()
            > 0.0,
        "{done}"
    );
    let finished = events.last().unwrap();
    assert_eq!(finished["end"], "finished");
    assert_eq!(
        (finished["ok"].as_u64(), finished["missing"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(finished["store"].as_str(), Some(db.to_str().unwrap()));
    // The figures of the stream are the stored ones.
    let run = store::Store::open(&db)
        .unwrap()
        .latest_run()
        .unwrap()
        .unwrap();
    assert_eq!(Some(run.run_id), finished["run_id"].as_i64());
    let cell = run.cell("node-http", "json").unwrap();
    assert_eq!(
        cell.metric("throughput_rps").map(|s| s.median),
        done["summary"]["figures"]["throughput_rps"]["median"].as_f64()
    );
    // The human text is on stderr.
    assert!(stderr.contains("Stored as run"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_option_names_its_flag_and_writes_nothing_on_stdout() {
    let dir = tempdir("bad");
    let out = stackwise()
        .args([
            "lab",
            "--targets",
            "no-such-target",
            "--workloads",
            "json",
            "--events",
            "json",
        ])
        .arg("--db")
        .arg(dir.join("lab.sqlite3"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--targets: no target named 'no-such-target'"),
        "{stderr}"
    );
    let out = stackwise()
        .args(["lab", "--plan", "--repeats", "0"])
        .arg("--db")
        .arg(dir.join("lab.sqlite3"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--repeats: must be 1 to 100 (got 0)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The stream would be mixed with other output: refused with those flags.
    let out = stackwise()
        .args(["lab", "--plan", "--events", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
