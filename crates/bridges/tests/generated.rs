//! The generated scripts, run by their languages: every exportable workload's locustfile
//! compiles (`python3 -m py_compile`) and its k6 script parses (`node --check`); the computed
//! answers of both languages equal Rust's reference; and each script's own check, run with the
//! engine's modules replaced by stubs, accepts a contract-correct response of every request and
//! refuses wrong ones (wrong answer, status, content type).

use std::path::PathBuf;
use std::process::Command;

use bridges::plan::{Plan, Settings};
use sha2::{Digest, Sha256};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("bridges-gen-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn exportable() -> Vec<Plan> {
    workloads::Registry::builtin()
        .workloads()
        .iter()
        .filter_map(|w| Plan::new(w, "http://127.0.0.1:8080", &Settings::default()).ok())
        .collect()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the interpreter runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn cpu_result(n: u64) -> u32 {
    let mut x: u32 = 0;
    for i in 0..n {
        x = x.wrapping_mul(31).wrapping_add(i as u32);
    }
    x
}

fn vector_result(n: u64) -> f64 {
    let mut s = 0.0f64;
    for i in 0..n {
        let x = (i % 1000) as f64 / 1000.0;
        s += x * x;
    }
    s
}

fn sha256_answer(n: u64) -> String {
    let mut buf: Vec<u8> = (0..1024).map(|i| (i % 251) as u8).collect();
    let mut hex = "0".repeat(64);
    for _ in 0..n {
        let d = Sha256::digest(&buf);
        buf[..32].copy_from_slice(&d);
        hex = d.iter().map(|b| format!("{b:02x}")).collect();
    }
    hex
}

/// A contract-correct body for a request path (keys in either order, as the contract allows), a
/// wrong answer, and a content type.
fn bodies(path: &str) -> (String, String, &'static str) {
    let n = |p: &str| -> u64 { p.split_once("n=").unwrap().1.parse().unwrap() };
    if path == "/plaintext" {
        (
            "Hello, World!".into(),
            "Hello, World".into(),
            "text/plain; charset=utf-8",
        )
    } else if path == "/json" {
        (
            r#"{"message":"Hello, World!"}"#.into(),
            r#"{"message":"Hello World!"}"#.into(),
            "application/json",
        )
    } else if let Some(ms) = path.strip_prefix("/io?ms=") {
        (
            format!(r#"{{"seq":7, "ms":{ms}}}"#),
            format!(r#"{{"seq":7, "ms":{ms}1}}"#),
            "application/json",
        )
    } else if path.starts_with("/cpu") {
        let n = n(path);
        let r = cpu_result(n);
        (
            format!(r#"{{"n":{n},"result":{r}}}"#),
            format!(r#"{{"n":{n},"result":{}}}"#, r.wrapping_add(1)),
            "application/json",
        )
    } else if path.starts_with("/hash") {
        let n = n(path);
        let h = sha256_answer(n);
        let wrong = format!("{}{}", &h[..63], if h.ends_with('0') { '1' } else { '0' });
        (
            format!(r#"{{"sha256":"{h}","n":{n}}}"#),
            format!(r#"{{"sha256":"{wrong}","n":{n}}}"#),
            "application/json; charset=utf-8",
        )
    } else if path == "/db" {
        (
            r#"{"id":42,"randomNumber":7}"#.to_string(),
            r#"{"id":42}"#.to_string(),
            "application/json",
        )
    } else if path.starts_with("/queries") || path.starts_with("/updates") {
        let q: usize = path.split_once("q=").unwrap().1.parse().unwrap();
        let rows = |k: usize| {
            (1..=k)
                .map(|i| format!(r#"{{"randomNumber":{},"id":{i}}}"#, i * 3))
                .collect::<Vec<_>>()
                .join(",")
        };
        (
            format!("[{}]", rows(q)),
            format!("[{}]", rows(q - 1)),
            "application/json",
        )
    } else if path.starts_with("/vector") {
        let n = n(path);
        let r = vector_result(n);
        (
            // Within the tolerance (a last-bits difference, as NumPy's pairwise sum makes).
            format!(r#"{{"result":{}, "n":{n}}}"#, r * (1.0 + 1e-12)),
            format!(r#"{{"n":{n},"result":{}}}"#, r * (1.0 + 1e-6)),
            "application/json",
        )
    } else if path.starts_with("/items?limit=") {
        let list = |k: usize| {
            (1..=k)
                .map(|i| format!(r#"{{"id":{i},"name":"item {i}","price_cents":{}}}"#, i * 10))
                .collect::<Vec<_>>()
                .join(",")
        };
        (
            format!("[{}]", list(10)),
            format!("[{}]", list(9)),
            "application/json",
        )
    } else if path.starts_with("/items") {
        (
            r#"{"price_cents":1234,"id":1001,"name":"load item"}"#.to_string(),
            r#"{"id":1001,"name":"load item"}"#.to_string(),
            "application/json",
        )
    } else if path == "/fortunes" {
        let page = |extra: &str| {
            format!(
                "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>\
                 <tr><th>id</th><th>message</th></tr>\
                 <tr><td>11</td><td>&lt;script&gt;alert(&quot;This should not be displayed in a browser alert box.&quot;);&lt;/script&gt;</td></tr>\
                 <tr><td>0</td><td>{extra}</td></tr>\
                 <tr><td>12</td><td>フレームワークのベンチマーク</td></tr></table></body></html>"
            )
        };
        (
            page("Additional fortune added at request time."),
            page("no fortune added"),
            "text/html; charset=utf-8",
        )
    } else {
        panic!("no contract body for {path}")
    }
}

/// (request index, status, content type, body, should pass) for every request of a plan.
fn cases(p: &Plan) -> Vec<(usize, u16, String, String, bool)> {
    let mut v = Vec::new();
    for (i, r) in p.requests.iter().enumerate() {
        let ok = r.expect_status;
        if r.method == "DELETE" {
            // 204, an empty body, any content type.
            v.push((i, ok, "text/plain".into(), String::new(), true));
            v.push((i, 200, "text/plain".into(), String::new(), false));
            v.push((i, ok, "text/plain".into(), "gone".into(), false));
            continue;
        }
        let (good, wrong, ct) = bodies(&r.path);
        v.push((i, ok, ct.to_string(), good.clone(), true));
        // A trailing newline passes a pattern (`\s*$`), not an exact body.
        let regex = matches!(r.check, Some(bridges::plan::Check::Regex(_)));
        v.push((i, ok, ct.to_string(), format!("{good}\n"), regex));
        v.push((i, 500, ct.to_string(), good.clone(), false));
        // A content type other than the contract's fails the check.
        let other = if ct.starts_with("text/html") {
            "application/json"
        } else {
            "text/html"
        };
        v.push((i, ok, other.into(), good.clone(), false));
        v.push((i, ok, ct.to_string(), wrong, false));
        v.push((i, ok, ct.to_string(), format!("{good}\n\nextra"), false));
    }
    v
}

#[test]
fn locustfiles_compile_compute_and_check_like_the_lab() {
    let dir = tmp("py");
    // Stub `locust` so the locustfile imports without Locust installed.
    std::fs::create_dir_all(dir.join("locust")).unwrap();
    std::fs::write(
        dir.join("locust/__init__.py"),
        "__version__ = 'stub'\nclass FastHttpUser: pass\ndef constant_pacing(s): return s\n\
         def task(w):\n    return lambda f: f\nclass _E:\n    def add_listener(self, f): return f\n\
         class events:\n    test_start = _E()\n    test_stop = _E()\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("locust/runners.py"),
        "class MasterRunner: pass\nclass WorkerRunner: pass\n",
    )
    .unwrap();
    let layout = bridges::locust::Layout {
        locustfile: "f.py".into(),
        workers: 2,
        master_host: "127.0.0.1".into(),
        master_port: 5557,
        csv_prefix: "out".into(),
    };
    let plans = exportable();
    for w in ["hash", "mixed", "crud", "vector"] {
        assert!(plans.iter().any(|p| p.workload == w), "{w} is exported");
    }
    for p in &plans {
        let file = dir.join(format!("wl_{}.py", p.workload.replace('-', "_")));
        std::fs::write(&file, bridges::locust::export(p, &layout, "test")).unwrap();
        run(Command::new("python3")
            .args(["-m", "py_compile"])
            .arg(&file));
        let mut prog = format!(
            "import sys\nsys.path.insert(0, {dir:?})\nimport {} as m\n\
             class R:\n    def __init__(s, st, ct, b): s.status_code = st; s.headers = {{'Content-Type': ct}}; s.text = b\n",
            file.file_stem().unwrap().to_str().unwrap(),
            dir = dir.display().to_string()
        );
        for (i, st, ct, body, ok) in cases(p) {
            let ct = serde_json::to_string(&ct).unwrap();
            let body = serde_json::to_string(&body).unwrap();
            let ok = if ok { "True" } else { "False" };
            prog += &format!(
                "r = m.check(m.REQUESTS[{i}], R({st}, {ct}, {body}))\nassert (r is None) == {ok}, ({i}, {st}, {ct}, {body}, r)\n"
            );
        }
        // Ids: cycled over existing rows, or each once per worker (by its index).
        for (i, r) in p.requests.iter().enumerate() {
            let want = match r.ids {
                None => continue,
                Some(bridges::plan::Ids::Cycle { first, last }) => {
                    vec![first, first + 1, first + 2]
                        .into_iter()
                        .map(|x| if x > last { first } else { x })
                        .collect::<Vec<_>>()
                }
                Some(bridges::plan::Ids::Once { base, per_process }) => {
                    vec![
                        base + 2 * per_process,
                        base + 2 * per_process + 1,
                        base + 2 * per_process + 2,
                    ]
                }
            };
            let want: Vec<String> = want.iter().map(|id| format!("'/items/{id}'")).collect();
            prog += &format!(
                "class W: worker_index = 2\ngot = [m.request_path(m.REQUESTS[{i}], W()) for _ in range(3)]\nassert got == [{}], got\n",
                want.join(", ")
            );
        }
        prog += "print('ok')\n";
        assert_eq!(
            run(Command::new("python3").arg("-c").arg(&prog)),
            "ok\n",
            "{}",
            p.workload
        );
    }
    // The computed answers, in Python, equal Rust's.
    let prog = format!(
        "import hashlib\n{}\nprint(cpu_result(0), cpu_result(3), cpu_result(10), cpu_result(100000))\nprint(sha256_answer(0))\nprint(sha256_answer(500))\nprint(repr(vector_result(1000000)))\n",
        bridges::locust::PY_ANSWERS
    );
    let out = run(Command::new("python3").arg("-c").arg(&prog));
    let (head, vector) = out.trim_end().rsplit_once('\n').unwrap();
    assert_eq!(
        format!("{head}\n"),
        format!(
            "0 33 165029893 {}\n{}\n{}\n",
            cpu_result(100000),
            "0".repeat(64),
            sha256_answer(500)
        )
    );
    let v: f64 = vector.parse().unwrap();
    assert!(
        (v - vector_result(1000000)).abs() <= 1e-9 * vector_result(1000000),
        "{v}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The script with k6's modules replaced by stubs: `http.request` answers from
/// `globalThis.answer`, `check` records its verdict.
fn stubbed(script: &str) -> String {
    script
        .replace(
            "import http from 'k6/http';",
            "const http = { request: (m, u, b, p) => { globalThis.sent = { m, u, p }; return globalThis.answer; } };",
        )
        .replace(
            "import { check } from 'k6';",
            "const check = (r, sets) => { globalThis.verdict = Object.values(sets).every((f) => f(r)); };",
        )
        .replace(
            "import exec from 'k6/execution';",
            "const exec = { scenario: { iterationInTest: 7 } };\nconst __ENV = {};",
        )
        .replace(
            "import crypto from 'k6/crypto';",
            "import nodeCrypto from 'node:crypto';\nconst crypto = { sha256: (b, enc) => nodeCrypto.createHash('sha256').update(new Uint8Array(b)).digest(enc) };",
        )
}

#[test]
fn k6_scripts_parse_compute_and_check_like_the_lab() {
    let dir = tmp("js");
    for p in exportable() {
        let script = bridges::k6::export(&p, "test");
        let file = dir.join(format!("{}.mjs", p.workload));
        std::fs::write(&file, &script).unwrap();
        run(Command::new("node").arg("--check").arg(&file));
        // Run the script's own check on each case.
        let mut prog = stubbed(&script);
        prog += "\nlet failures = [];\n";
        for (i, st, ct, body, ok) in cases(&p) {
            prog += &format!(
                "{{ const req = REQUESTS[{i}]; globalThis.answer = {{ status: {st}, headers: {{ 'Content-Type': {ct} }}, body: {body} }};\n\
                   const saved = Math.random; Math.random = () => (REQUESTS.slice(0, {i}).reduce((s, r) => s + r.weight, 0) + req.weight / 2) / TOTAL_WEIGHT;\n\
                   run(); Math.random = saved;\n\
                   const want = req.ids === null ? req.path : '/items/' + (req.ids.kind === 'cycle' ? req.ids.first + 7 : req.ids.base + 7);\n\
                   if (globalThis.sent.u !== BASE + want) failures.push(['url', globalThis.sent.u, want]);\n\
                   if (globalThis.verdict !== {ok}) failures.push([{i}, {st}, {ct}, {body}]); }}\n",
                ct = serde_json::to_string(&ct).unwrap(),
                body = serde_json::to_string(&body).unwrap(),
            );
        }
        prog = prog.replace("export default function ()", "function run()");
        prog = prog.replace("export const options", "const options");
        prog += "if (failures.length) { console.log(JSON.stringify(failures)); process.exit(1); }\nconsole.log('ok');\n";
        let run_file = dir.join(format!("{}-run.mjs", p.workload));
        std::fs::write(&run_file, prog).unwrap();
        assert_eq!(
            run(Command::new("node").arg(&run_file)),
            "ok\n",
            "{}",
            p.workload
        );
    }
    // The computed answers, in JavaScript, equal Rust's.
    let prog = format!(
        "import nodeCrypto from 'node:crypto';\n{}\nconst hex = (b) => nodeCrypto.createHash('sha256').update(new Uint8Array(b)).digest('hex');\nconsole.log(cpuResult(0), cpuResult(3), cpuResult(10), cpuResult(100000));\nconsole.log(sha256Answer(0, hex));\nconsole.log(sha256Answer(500, hex));\nconsole.log(String(vectorResult(1000000)));\n",
        bridges::k6::JS_ANSWERS
    );
    let file = dir.join("answers.mjs");
    std::fs::write(&file, prog).unwrap();
    let out = run(Command::new("node").arg(&file));
    let (out, vector) = out.trim_end().rsplit_once('\n').unwrap();
    let v: f64 = vector.parse().unwrap();
    assert!(
        (v - vector_result(1000000)).abs() <= 1e-9 * vector_result(1000000),
        "{v}"
    );
    let out = format!("{out}\n");
    assert_eq!(
        out,
        format!(
            "0 33 165029893 {}\n{}\n{}\n",
            cpu_result(100000),
            "0".repeat(64),
            sha256_answer(500)
        )
    );
    std::fs::remove_dir_all(&dir).ok();
}
