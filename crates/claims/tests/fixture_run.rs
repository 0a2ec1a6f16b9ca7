//! The whole catalogue against the stored fixture run (tests/fixtures/run.json, synthetic figures
//! written by make_run.py): every testable claim with a rule gets a verdict from measurements, the
//! verdicts of representative claims are the ones the rules must give, and the JSON form matches the
//! committed schema (schemas/claims.schema.json), which must be fresh.

use claims::{evaluate, Catalogue, ClaimsReport, Filter, Kind, Verdict};
use store::RunSummary;

fn fixture() -> RunSummary {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/run.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn report(run: Option<&RunSummary>) -> ClaimsReport {
    evaluate(&Catalogue::builtin(), "built-in", run, &Filter::default())
}

fn verdict(r: &ClaimsReport, id: &str) -> Verdict {
    r.claims.iter().find(|c| c.id == id).unwrap().verdict
}

#[test]
fn every_claim_gets_the_verdict_its_kind_and_rule_allow() {
    let run = fixture();
    let r = report(Some(&run));
    let cat = Catalogue::builtin();
    assert_eq!(r.claims.len(), cat.claims.len());
    for (c, res) in cat.claims.iter().zip(&r.claims) {
        match c.kind {
            Kind::Cited => {
                assert_eq!(res.verdict, Verdict::Cited);
                assert!(res.source.is_some());
            }
            Kind::Opinion => assert_eq!(res.verdict, Verdict::Opinion),
            Kind::Testable => {
                let t = c.test.as_ref().unwrap();
                if t.rule.is_some() {
                    // The fixture measures every workload of the lab: each rule reaches a verdict.
                    assert!(
                        res.verdict.is_measured(),
                        "{}: {:?} {}",
                        c.id,
                        res.verdict,
                        res.reason
                    );
                    assert!(!res.measured.is_empty(), "{}", c.id);
                    assert!(res.measured.iter().any(|m| m.evidence), "{}", c.id);
                } else {
                    assert_eq!(res.verdict, Verdict::NotTestableYet, "{}", c.id);
                    assert!(res.needs.is_some());
                }
            }
        }
    }
    // Each measured verdict occurs on the fixture.
    for v in [
        Verdict::Supported,
        Verdict::Refuted,
        Verdict::Partly,
        Verdict::Depends,
    ] {
        assert!(
            r.counts.get(v.id()).copied().unwrap_or(0) > 0,
            "no {v:?} on the fixture"
        );
    }
}

#[test]
fn representative_verdicts_on_the_fixture() {
    let run = fixture();
    let r = report(Some(&run));
    // Node 3,500–5,200 req/s on /io, all below the claimed 15,000–20,000.
    assert_eq!(verdict(&r, "a1-node-io-range"), Verdict::Refuted);
    let range = r
        .claims
        .iter()
        .find(|c| c.id == "a1-node-io-range")
        .unwrap();
    let fig = range.claimed_figure.as_ref().unwrap();
    assert_eq!(
        (fig.of.as_str(), fig.min, fig.max, fig.unit.as_str()),
        ("value", 15000.0, 20000.0, "req/s")
    );
    // Python 290–2,900: two frameworks inside 500–2,000, one below, one above.
    assert_eq!(verdict(&r, "a1-python-io-range"), Verdict::Depends);
    // A far bigger latency cut than the claimed 50–60%: right direction, wrong size.
    assert_eq!(verdict(&r, "a3-page-load-50-60"), Verdict::Partly);
    // /cpu: Node ahead; /hash: frameworks disagree.
    assert_eq!(verdict(&r, "a1-python-better-cpu"), Verdict::Depends);
    assert_eq!(verdict(&r, "a3-cpu-blocks-loop"), Verdict::Supported);
    assert_eq!(verdict(&r, "a0-io-performance-row"), Verdict::Supported);
    assert_eq!(verdict(&r, "a0-serverless-cold-start"), Verdict::Depends);
    assert_eq!(
        verdict(&r, "a0-free-threaded-python"),
        Verdict::NotTestableYet
    );
    // ws-hold: every Node framework held its 10,000 connections; the thread-based Flask servers
    // held a handful, and that counts although their cells are flagged for it.
    assert_eq!(
        verdict(&r, "a1-thousands-concurrent-connections"),
        Verdict::Supported
    );
    assert_eq!(verdict(&r, "a3-event-loop-no-threads"), Verdict::Supported);
    let held = r
        .claims
        .iter()
        .find(|c| c.id == "a3-event-loop-no-threads")
        .unwrap();
    let flask = held
        .measured
        .iter()
        .find(|m| m.target == "python-flask-sync")
        .unwrap();
    assert!(flask.evidence && flask.median == Some(3.0), "{flask:?}");
    // Memory per 1,000 held connections: Node ~30 MB vs FastAPI 95; the Flask servers, which held
    // a few connections (their echo p99 over those few is short), cannot hold the set and count as
    // the costliest (and, for the real-time claim, the slowest), with what they held beside it.
    assert_eq!(verdict(&r, "a0-persistent-connections"), Verdict::Supported);
    let cost = r
        .claims
        .iter()
        .find(|c| c.id == "a0-persistent-connections")
        .unwrap();
    let gthread = cost
        .measured
        .iter()
        .find(|m| m.target == "python-flask-gthread")
        .unwrap();
    assert!(gthread.evidence, "{gthread:?}");
    assert!(
        gthread
            .note
            .as_deref()
            .is_some_and(|n| n.contains("held 12 of 10,000") && n.contains("costliest")),
        "{gthread:?}"
    );
    assert_eq!(verdict(&r, "a3-realtime-row"), Verdict::Supported);

    // The flagged plaintext cell of node-koa is shown, not counted, and the command re-measures it.
    let te = r
        .claims
        .iter()
        .find(|c| c.id == "a0-techempower-raw-throughput")
        .unwrap();
    let koa = te
        .measured
        .iter()
        .find(|m| m.target == "node-koa" && m.workload == "plaintext")
        .unwrap();
    assert!(!koa.evidence);
    assert_eq!(
        te.lab_command.as_deref(),
        Some("stackwise lab --targets node-koa --workloads plaintext")
    );
    // rust-axum's /io figure sits at the workload's ceiling: a lower bound, and context only.
    let io = r
        .claims
        .iter()
        .find(|c| c.id == "a0-io-performance-row")
        .unwrap();
    let rust = io
        .measured
        .iter()
        .find(|m| m.target == "rust-axum")
        .unwrap();
    assert!(rust.lower_bound && !rust.evidence);
}

#[test]
fn without_a_run_every_rule_gives_the_lab_command() {
    let r = report(None);
    for c in r.claims.iter().filter(|c| c.kind == Kind::Testable) {
        match c.verdict {
            Verdict::NotMeasured => {
                let cmd = c.lab_command.as_deref().unwrap();
                assert!(cmd.starts_with("stackwise lab --targets "), "{cmd}");
                for w in &c.workloads {
                    // Per-target measures come with every target the lab runs (any workload).
                    let w = if w == "cold-start" {
                        "json"
                    } else {
                        w.as_str()
                    };
                    assert!(cmd.contains(w), "{}: {cmd}", c.id);
                }
            }
            Verdict::NotTestableYet => assert!(c.lab_command.is_none()),
            v => panic!("{}: {v:?} without a run", c.id),
        }
    }
    let range = r
        .claims
        .iter()
        .find(|c| c.id == "a1-node-io-range")
        .unwrap();
    assert_eq!(
        range.lab_command.as_deref(),
        Some("stackwise lab --targets node-express,node-fastify,node-http,node-koa,node-nestjs --workloads io-slo")
    );
}

#[test]
fn filters_keep_only_the_asked_kinds_and_verdicts() {
    let run = fixture();
    let f = Filter {
        kinds: vec![Kind::Testable],
        verdicts: vec![Verdict::Refuted, Verdict::Partly],
    };
    let r = evaluate(&Catalogue::builtin(), "built-in", Some(&run), &f);
    assert!(!r.claims.is_empty());
    assert!(r.claims.iter().all(
        |c| c.kind == Kind::Testable && matches!(c.verdict, Verdict::Refuted | Verdict::Partly)
    ));
    assert_eq!(r.counts.values().sum::<usize>(), r.claims.len());
}

fn committed_schema() -> serde_json::Value {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/claims.schema.json"
    );
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn committed_schema_is_fresh_and_real_output_validates() {
    let generated = serde_json::to_value(ClaimsReport::json_schema()).unwrap();
    assert_eq!(
        generated,
        committed_schema(),
        "schemas/claims.schema.json is stale: regenerate it with \
         `cargo run -p stackwise -- schema claims > schemas/claims.schema.json`"
    );
    let validator = jsonschema::validator_for(&committed_schema()).unwrap();
    let run = fixture();
    for r in [report(Some(&run)), report(None)] {
        let v = serde_json::to_value(&r).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&v)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "claims JSON violates its schema: {errors:#?}"
        );
    }
}
