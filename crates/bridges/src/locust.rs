//! Locust: [`export`] writes a locustfile that sends a [`Plan`]'s requests with the same checks,
//! each user paced (`constant_pacing`) so that the users together offer the plan's rate, and
//! [`commands`] the master and worker command lines; [`import`] reads what a distributed run
//! wrote (`PREFIX_stats.csv`, `PREFIX_stats_history.csv`, `PREFIX_failures.csv`, and the
//! `PREFIX_stackwise.json` the generated locustfile's master writes with Locust's version and the
//! number of workers) into an [`Imported`].
//!
//! What Locust cannot tell is said, not filled in: its percentiles come from response times
//! rounded into buckets (2 significant digits above 100 ms), measured from the actual send (no
//! correction for coordinated omission); its pacing holds the rate only while responses are faster
//! than the pacing interval; it does not see the server's CPU or memory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::csv::Table;
use crate::imported::{Imported, Latency, LatencyKind, Origin};
use crate::plan::{answer_var, marker, Check, Ids, Plan, FLOAT_TOLERANCE};
use crate::{lit, Error};

/// How the run is laid out over machines.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The locustfile's path as the commands name it.
    pub locustfile: String,
    pub workers: u32,
    /// The master's address as the workers reach it (a loopback address also binds the master
    /// to it, not to every interface).
    pub master_host: String,
    /// The master's port (Locust's default: 5557).
    pub master_port: u16,
    /// `--csv` prefix: the files the import reads.
    pub csv_prefix: String,
}

/// The Python of a Rust `regex` pattern, for `re.search`: only `$` at the very end differs (Rust:
/// end of text; Python: also before a final newline), so it becomes `\Z`.
pub fn python_regex(pattern: &str) -> String {
    match pattern.strip_suffix('$') {
        Some(p) if !p.ends_with('\\') => format!(r"{p}\Z"),
        _ => pattern.to_string(),
    }
}

/// The locustfile for `plan`.
pub fn export(plan: &Plan, layout: &Layout, generator: &str) -> String {
    let mut o = String::new();
    o.push_str(&format!(
        "\"\"\"stackwise workload {} for Locust ({generator}).\n\n{}\n\n",
        plan.workload,
        plan.description
            .replace('\\', "\\\\")
            .replace("\"\"\"", "'''")
    ));
    o.push_str(&format!(
        "Every user sends one request every PACING s (constant_pacing), so USERS users offer\n\
         RATE = {rate} req/s across all workers while responses take less than PACING = {pacing} s\n\
         (2 x the {slo} ms SLO). Slower responses lower the rate: compare the achieved rate with\n\
         RATE before reading latency. Responses are checked as stackwise checks them (status,\n\
         content type, body, computed answers); a wrong answer is a failure.\n\n\
         Run (master first; it waits for the workers):\n\n",
        rate = plan.rate,
        pacing = fmt_f(plan.pacing_s),
        slo = plan.slo_ms
    ));
    for line in commands(plan, layout) {
        o.push_str(&format!("    {line}\n"));
    }
    if !plan.notes.is_empty() {
        o.push_str("\nNotes:\n");
        for n in &plan.notes {
            o.push_str(&format!("- {n}\n"));
        }
    }
    o.push_str("\"\"\"\n\n");
    o.push_str(
        "import hashlib\nimport json\nimport re\nimport time\n\nimport locust\n\
         from locust import FastHttpUser, constant_pacing, events, task\n\
         from locust.runners import MasterRunner, WorkerRunner\n\n",
    );
    o.push_str(&format!(
        "WORKLOAD = {}\nHOST = {}\nRATE = {}\nSLO_MS = {}\nUSERS = {}\nPACING = USERS / RATE\nGENERATOR = {}\nFLOAT_TOLERANCE = {FLOAT_TOLERANCE:e}\nID_MARKER = {}\n\n",
        lit(&plan.workload),
        lit(&plan.base_url),
        fmt_f(plan.rate),
        fmt_f(plan.slo_ms),
        plan.users,
        lit(generator),
        lit(&marker("id"))
    ));
    o.push_str(PY_ANSWERS);
    for (name, n) in plan.answers() {
        let e = match name.as_str() {
            "sha256" => format!("str(sha256_answer({n}))"),
            "vector_result" => format!("vector_result({n})"),
            _ => format!("str(cpu_result({n}))"),
        };
        o.push_str(&format!("{} = {e}\n", answer_var(&name, n)));
    }
    o.push_str("\nREQUESTS = [\n");
    for r in &plan.requests {
        let (exact, regex) = match &r.check {
            None => ("None".to_string(), "None".to_string()),
            Some(Check::Exact(t)) => (fill_py(t, r, false), "None".to_string()),
            Some(Check::Regex(t)) => (
                "None".to_string(),
                format!("re.compile({})", fill_py(&python_regex(t), r, true)),
            ),
        };
        let headers: Vec<String> = r
            .headers
            .iter()
            .map(|(k, v)| format!("{}: {}", lit(k), lit(v)))
            .collect();
        let float = r
            .float_answer
            .as_ref()
            .map_or("None".into(), |(name, n)| answer_var(name, *n));
        let ids = match r.ids {
            None => "None".to_string(),
            Some(Ids::Cycle { first, last }) => format!("(\"cycle\", {first}, {last})"),
            Some(Ids::Once { base, per_process }) => format!("(\"once\", {base}, {per_process})"),
        };
        o.push_str(&format!(
            "    {{\n        \"name\": {},\n        \"method\": {},\n        \"path\": {},\n        \"body\": {},\n        \"headers\": {{{}}},\n        \"status\": {},\n        \"content_type\": {},\n        \"exact\": {exact},\n        \"regex\": {regex},\n        \"float\": {float},\n        \"ids\": {ids},\n    }},\n",
            lit(&r.name),
            lit(r.method),
            lit(&r.path),
            r.body.as_deref().map_or("None".into(), lit),
            headers.join(", "),
            r.expect_status,
            r.content_type.as_deref().map_or("None".into(), lit),
        ));
    }
    o.push_str("]\n\n");
    o.push_str(PY_CHECK);
    o.push_str(PY_IDS);
    o.push_str(
        "\n\nclass StackwiseUser(FastHttpUser):\n    host = HOST\n    wait_time = constant_pacing(PACING)\n\n",
    );
    o.push_str(
        "    def send(self, req):\n        with self.client.request(\n            req[\"method\"], request_path(req, self.environment.runner), name=req[\"name\"], data=req[\"body\"],\n            headers=req[\"headers\"], catch_response=True,\n        ) as response:\n            problem = check(req, response)\n            if problem:\n                response.failure(problem)\n            else:\n                response.success()\n",
    );
    for (i, r) in plan.requests.iter().enumerate() {
        o.push_str(&format!(
            "\n    @task({})\n    def {}(self):\n        self.send(REQUESTS[{i}])\n",
            r.weight,
            py_ident(&r.name)
        ));
    }
    o.push_str(PY_ORIGIN);
    o
}

/// The command lines of a run: the master (headless, waiting for the workers), then one worker
/// (start it on each load machine).
pub fn commands(plan: &Plan, l: &Layout) -> Vec<String> {
    let spawn = plan.users.min(100);
    let loopback = matches!(l.master_host.as_str(), "127.0.0.1" | "localhost" | "::1");
    let bind = if loopback {
        format!(" --master-bind-host {}", shell(&l.master_host))
    } else {
        String::new()
    };
    vec![
        format!(
            "locust -f {} --master{bind} --master-bind-port {} --expect-workers {} \
             --expect-workers-max-wait 120 --headless --users {} --spawn-rate {spawn} \
             --run-time {}s --reset-stats --host {} --csv {} --csv-full-history --only-summary",
            shell(&l.locustfile),
            l.master_port,
            l.workers,
            plan.users,
            plan.duration_s + plan.users.div_ceil(spawn),
            shell(&plan.base_url),
            shell(&l.csv_prefix)
        ),
        format!(
            "locust -f {} --worker --master-host {} --master-port {} --reset-stats",
            shell(&l.locustfile),
            shell(&l.master_host),
            l.master_port
        ),
    ]
}

/// A word for a POSIX shell (quoted when it needs to be).
pub fn shell(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn fmt_f(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

fn py_ident(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) || s == "send" {
        s.insert_str(0, "req_");
    }
    s
}

/// A Python expression: the template as a literal, each computed answer's marker replaced by its
/// variable (escaped with `re.escape` in a pattern).
fn fill_py(t: &str, r: &crate::plan::PlannedRequest, regex: bool) -> String {
    let mut e = lit(t);
    for (name, n) in &r.computed {
        let v = answer_var(name, *n);
        let v = if regex { format!("re.escape({v})") } else { v };
        e = format!("{e}.replace({}, {v})", lit(&marker(name)));
    }
    e
}

/// The Python helpers of a locustfile: the contract's computed answers (`cpu_result`, `sha256_answer`).
pub const PY_ANSWERS: &str = r#"
def cpu_result(n):
    """The contract's /cpu loop (docs/contract.md): 32-bit unsigned arithmetic."""
    x = 0
    for i in range(n):
        x = (x * 31 + i) & 0xFFFFFFFF
    return x


def sha256_answer(n):
    """The contract's /hash: SHA-256 of a 1 KiB buffer, n times, each digest written over its start."""
    buf = bytearray(i % 251 for i in range(1024))
    digest = "0" * 64
    for _ in range(n):
        d = hashlib.sha256(buf).digest()
        buf[0:32] = d
        digest = d.hex()
    return digest


def vector_result(n):
    """The contract's /vector: the sum of squares of x_i = (i mod 1000) / 1000, a plain loop."""
    s = 0.0
    for i in range(n):
        x = (i % 1000) / 1000.0
        s += x * x
    return s


"#;

/// The Python check of a response.
pub const PY_CHECK: &str = r#"def check(req, response):
    """Why the response is wrong, or None: status, content type, body."""
    if response.status_code != req["status"]:
        return "status %s, expected %s" % (response.status_code, req["status"])
    if req["content_type"]:
        got = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if got != req["content_type"]:
            return "content type %r, expected %s" % (got, req["content_type"])
    if req["exact"] is not None or req["regex"] is not None:
        body = response.text or ""
        if req["exact"] is not None and body != req["exact"]:
            return "body %r, expected %r" % (body[:200], req["exact"])
        match = req["regex"].search(body) if req["regex"] is not None else None
        if req["regex"] is not None and not match:
            return "body %r does not match %s" % (body[:200], req["regex"].pattern)
        if req["float"] is not None:
            got = float(next(g for g in match.groups() if g is not None))
            if abs(got - req["float"]) > FLOAT_TOLERANCE * max(abs(req["float"]), 1.0):
                return "result %r, expected %r within a relative %g" % (got, req["float"], FLOAT_TOLERANCE)
    return None
"#;

/// The Python that fills a request's `{id}` (crud's ids, [`Ids`]).
pub const PY_IDS: &str = r#"

_sent = {}


def request_path(req, runner):
    """The path with its id filled: cycled over rows that exist, or each id once (process k, by
    its worker index, takes BASE + k * PER_PROCESS and up)."""
    ids = req["ids"]
    if ids is None:
        return req["path"]
    i = _sent.get(req["name"], 0)
    _sent[req["name"]] = i + 1
    if ids[0] == "cycle":
        n = ids[1] + i % (ids[2] - ids[1] + 1)
    else:
        n = ids[1] + (getattr(runner, "worker_index", 0) or 0) * ids[2] + i
    return req["path"].replace(ID_MARKER, str(n))
"#;

const PY_ORIGIN: &str = r#"

_started = {}


@events.test_start.add_listener
def _test_start(environment, **_kw):
    _started["at"] = time.time()


@events.test_stop.add_listener
def _write_origin(environment, **_kw):
    """The master (or a local run) writes what the CSVs do not say, beside them: Locust's version,
    the number of workers, the host and the pacing, for `stackwise import locust`."""
    runner = environment.runner
    options = environment.parsed_options
    prefix = getattr(options, "csv_prefix", None) if options else None
    if not prefix or isinstance(runner, WorkerRunner):
        return
    origin = {
        "tool": "locust",
        "version": locust.__version__,
        "workers": runner.worker_count if isinstance(runner, MasterRunner) else 0,
        "host": environment.host,
        "workload": WORKLOAD,
        "rate_rps": RATE,
        "users": USERS,
        "pacing_s": PACING,
        "slo_ms": SLO_MS,
        "generator": GENERATOR,
        "started_unix": _started.get("at"),
        "stopped_unix": time.time(),
    }
    with open(prefix + "_stackwise.json", "w") as f:
        json.dump(origin, f, indent=1)
"#;

/// The sidecar the generated locustfile's master writes (`PREFIX_stackwise.json`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
struct Sidecar {
    version: Option<String>,
    workers: Option<u32>,
    host: Option<String>,
    workload: Option<String>,
    rate_rps: Option<f64>,
    users: Option<u64>,
    slo_ms: Option<f64>,
    generator: Option<String>,
    started_unix: Option<f64>,
    stopped_unix: Option<f64>,
}

/// What the user tells the import (each overrides the sidecar; absent and not in the sidecar:
/// said to be unknown).
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub workload: Option<String>,
    pub target: Option<String>,
    pub target_url: Option<String>,
    pub workers: Option<u32>,
    pub tool_version: Option<String>,
    pub rate_rps: Option<f64>,
}

fn file(prefix: &str, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{prefix}{suffix}"))
}

/// Reads a Locust run's CSVs (and the sidecar, if there) under `prefix`.
pub fn import(prefix: &str, opts: &ImportOptions) -> Result<Imported, Error> {
    let stats_path = file(prefix, "_stats.csv");
    let stats = Table::read(&stats_path)?;
    let history_path = file(prefix, "_stats_history.csv");
    let history = if history_path.exists() {
        Some(Table::read(&history_path)?)
    } else {
        None
    };
    let failures_path = file(prefix, "_failures.csv");
    let failures = if failures_path.exists() {
        Some(Table::read(&failures_path)?)
    } else {
        None
    };
    let sidecar_path = file(prefix, "_stackwise.json");
    let sidecar: Sidecar = if sidecar_path.exists() {
        let text = std::fs::read_to_string(&sidecar_path)
            .map_err(|e| Error::new(format!("{}: {e}", sidecar_path.display())))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::new(format!("{}: {e}", sidecar_path.display())))?
    } else {
        Sidecar::default()
    };
    from_tables(
        &stats,
        history.as_ref(),
        failures.as_ref(),
        &sidecar,
        sidecar_path.exists().then_some(sidecar_path.as_path()),
        opts,
    )
}

fn from_tables(
    stats: &Table,
    history: Option<&Table>,
    failures: Option<&Table>,
    side: &Sidecar,
    side_path: Option<&Path>,
    opts: &ImportOptions,
) -> Result<Imported, Error> {
    let agg = stats.row_where("Name", "Aggregated")?.ok_or_else(|| {
        Error::new(format!(
            "{}: no 'Aggregated' row (is this a Locust _stats.csv?)",
            stats.path
        ))
    })?;
    let requests = stats.num(agg, "Request Count")?.unwrap_or(0.0) as u64;
    let failed = stats.num(agg, "Failure Count")?.unwrap_or(0.0) as u64;
    if requests == 0 {
        return Err(Error::new(format!(
            "{}: the Aggregated row counts no request: nothing was measured",
            stats.path
        )));
    }
    let achieved = stats.num(agg, "Requests/s")?;
    let workload = opts
        .workload
        .clone()
        .or_else(|| side.workload.clone())
        .ok_or_else(|| {
            Error::new(format!(
                "{}: which workload ran is not recorded (no {}): give --workload",
                stats.path,
                side_path.map_or("_stackwise.json sidecar".into(), |p| p
                    .display()
                    .to_string())
            ))
        })?;
    let mut per_request = BTreeMap::new();
    for row in 0..stats.rows.len() {
        let name = stats.get(row, "Name")?;
        if name == "Aggregated" {
            continue;
        }
        per_request.insert(
            name.to_string(),
            Latency {
                p50_ms: stats.num(row, "50%")?,
                p99_ms: stats.num(row, "99%")?,
                requests: stats.num(row, "Request Count")?.unwrap_or(0.0) as u64,
                failures: stats.num(row, "Failure Count")?.unwrap_or(0.0) as u64,
            },
        );
    }
    let mut warnings = vec![
        "latency from Locust's CSV: percentiles of response times rounded into buckets (2 significant digits above 100 ms), measured from the actual send, not corrected for coordinated omission; not comparable with the lab's corrected figures".to_string(),
    ];
    let offered = opts.rate_rps.or(side.rate_rps);
    // The window: the master's start and stop (sidecar), else the history's first and last rows
    // with users. (The history's per-second rates are not used: in a distributed run the workers
    // report every 3 s, so a short run's "current" rate reads 0 for its first seconds.)
    let mut duration_s = match (side.started_unix, side.stopped_unix) {
        (Some(a), Some(b)) if b > a => Some(b - a),
        _ => None,
    };
    if let (None, Some(h)) = (duration_s, history) {
        let mut times = Vec::new();
        for row in 0..h.rows.len() {
            if h.get(row, "Name")? == "Aggregated" && h.num(row, "User Count")?.unwrap_or(0.0) > 0.0
            {
                if let Some(t) = h.num(row, "Timestamp")? {
                    times.push(t);
                }
            }
        }
        if let (Some(a), Some(b)) = (times.first(), times.last()) {
            duration_s = (b > a).then_some(b - a);
        }
    }
    if let (Some(off), Some(a)) = (offered, achieved) {
        if a < off * workloads::trust::MIN_ACHIEVED_SHARE {
            warnings.push(format!(
                "achieved {a:.1} req/s of the {off} offered (under {:.0}%): the users could not keep the pace; latency is of a lower rate",
                workloads::trust::MIN_ACHIEVED_SHARE * 100.0
            ));
        }
    }
    let mut failure_lines = Vec::new();
    if let Some(f) = failures {
        for row in 0..f.rows.len() {
            failure_lines.push(format!(
                "{}× {} {}: {}",
                f.get(row, "Occurrences")?,
                f.get(row, "Method")?,
                f.get(row, "Name")?,
                f.get(row, "Error")?
            ));
        }
    }
    let target_url = opts.target_url.clone().or_else(|| side.host.clone());
    Ok(Imported {
        origin: Origin {
            tool: "locust".into(),
            version: opts.tool_version.clone().or_else(|| side.version.clone()),
            workers: opts.workers.or(side.workers),
            target_url: target_url.clone(),
            source: stats.path.clone(),
            generator: side.generator.clone(),
        },
        workload,
        target: opts
            .target
            .clone()
            .unwrap_or_else(|| default_target(target_url.as_deref())),
        offered_rps: offered,
        users: side.users,
        slo_ms: side.slo_ms,
        started_at: side.started_unix.map(crate::time::format_utc),
        finished_at: side.stopped_unix.map(crate::time::format_utc),
        duration_s,
        achieved_rps: achieved,
        requests,
        failed,
        dropped: None,
        latency: Latency {
            p50_ms: stats.num(agg, "50%")?,
            p99_ms: stats.num(agg, "99%")?,
            requests,
            failures: failed,
        },
        latency_kind: LatencyKind::BucketedFromSend,
        per_request,
        failure_lines,
        warnings,
    })
}

/// The target's name when none is given: the URL's host and port.
pub fn default_target(url: Option<&str>) -> String {
    match url {
        Some(u) => u
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_string(),
        None => "unknown-target".into(),
    }
}

/// What `stackwise export locust` prints after writing the locustfile: what was written, the
/// plan's notes, and the commands that run it (master, workers) and import its CSVs. Nothing is
/// run.
pub fn how_to_run(p: &Plan, l: &Layout) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let cmds = commands(p, l);
    let workers = l.workers;
    let _ = writeln!(
        s,
        "wrote {} ({} at {} req/s for {} s: {} users, each paced every {:.3} s = 2 x the {} ms SLO)",
        l.locustfile, p.workload, p.rate, p.duration_s, p.users, p.pacing_s, p.slo_ms
    );
    for n in &p.notes {
        let _ = writeln!(s, "note: {n}");
    }
    let _ = writeln!(
        s,
        "\n# the master (waits for {workers} workers, then runs headless and writes the CSVs):\n{}",
        cmds[0]
    );
    let _ = writeln!(
        s,
        "\n# on each load machine, {workers} in all (the locustfile must be there too):\n{}",
        cmds[1]
    );
    let _ = writeln!(
        s,
        "\n# then, where the CSVs are:\nstackwise import locust {}",
        shell(&l.csv_prefix)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Settings;

    fn plan(id: &str) -> Plan {
        let w = *workloads::Registry::builtin().workload(id).unwrap();
        Plan::new(&w, "http://127.0.0.1:8080", &Settings::default()).unwrap()
    }

    fn layout() -> Layout {
        Layout {
            locustfile: "stackwise_cpu.py".into(),
            workers: 2,
            master_host: "10.0.0.1".into(),
            master_port: 5557,
            csv_prefix: "out/cpu".into(),
        }
    }

    #[test]
    fn commands_name_master_workers_csv_and_run_time() {
        let c = commands(&plan("cpu"), &layout());
        assert!(
            c[0].contains("--master --master-bind-port 5557 --expect-workers 2"),
            "{}",
            c[0]
        );
        assert!(c[0].contains("--headless --users 20 --spawn-rate 20 --run-time 31s"));
        assert!(c[0].contains("--csv out/cpu --csv-full-history"));
        assert_eq!(
            c[1],
            "locust -f stackwise_cpu.py --worker --master-host 10.0.0.1 --master-port 5557 --reset-stats"
        );
        let local = Layout {
            master_host: "127.0.0.1".into(),
            ..layout()
        };
        assert!(commands(&plan("cpu"), &local)[0]
            .contains("--master --master-bind-host 127.0.0.1 --master-bind-port 5557"));
        assert_eq!(shell("a b'c"), r"'a b'\''c'");
    }

    #[test]
    fn python_regex_ends_at_the_end_of_text() {
        assert_eq!(python_regex(r"^a\s*$"), r"^a\s*\Z");
        assert_eq!(python_regex(r"^a\$"), r"^a\$");
    }

    #[test]
    fn locustfile_has_pacing_checks_and_answers() {
        let f = export(&plan("hash"), &layout(), "stackwise test");
        assert!(f.contains("wait_time = constant_pacing(PACING)"));
        assert!(f.contains("RATE = 100.0\n") && f.contains("USERS = 20\n"));
        assert!(f.contains("ANSWER_sha256_500 = str(sha256_answer(500))"));
        assert!(f.contains(r#".replace("@@sha256@@", re.escape(ANSWER_sha256_500))"#));
        assert!(f.contains("\"path\": \"/hash?n=500\""));
        assert!(f.contains("@task(1)\n    def hash(self):"));
    }

    fn table(path: &str, text: &str) -> Table {
        Table::parse(path, text).unwrap()
    }

    #[test]
    fn import_reads_aggregated_row_history_and_failures() {
        let stats = table(
            "p_stats.csv",
            "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n\
             GET,cpu,600,2,3,3.5,1,40,30,19.9,0.07,3,4,4,4,5,6,8,12,40,40,40\n\
             ,Aggregated,600,2,3,3.5,1,40,30,19.9,0.07,3,4,4,4,5,6,8,12,40,40,40\n",
        );
        let failures = table(
            "p_failures.csv",
            "Method,Name,Error,Occurrences\nGET,cpu,\"body '{\"\"n\"\"' does not match\",2\n",
        );
        let side = Sidecar {
            version: Some("2.47.0".into()),
            workers: Some(2),
            host: Some("http://127.0.0.1:9".into()),
            workload: Some("cpu".into()),
            rate_rps: Some(20.0),
            ..Sidecar::default()
        };
        let i = from_tables(
            &stats,
            None,
            Some(&failures),
            &side,
            None,
            &ImportOptions::default(),
        )
        .unwrap();
        assert_eq!((i.requests, i.failed), (600, 2));
        assert_eq!(i.latency.p99_ms, Some(12.0));
        assert_eq!(i.origin.workers, Some(2));
        assert_eq!(i.target, "127.0.0.1:9");
        assert_eq!(
            i.failure_lines,
            vec!["2× GET cpu: body '{\"n\"' does not match"]
        );
        assert!(i.warnings[0].contains("not corrected for coordinated omission"));
        // 19.9 of 20 offered is held (≥ 97%).
        assert_eq!(i.warnings.len(), 1, "{:?}", i.warnings);

        let low = Sidecar {
            rate_rps: Some(40.0),
            ..side.clone()
        };
        let i = from_tables(&stats, None, None, &low, None, &ImportOptions::default()).unwrap();
        assert!(i
            .warnings
            .iter()
            .any(|w| w.contains("could not keep the pace")));

        let e = from_tables(
            &stats,
            None,
            None,
            &Sidecar::default(),
            None,
            &ImportOptions::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("--workload"), "{e}");
    }

    #[test]
    fn import_refuses_a_file_without_an_aggregated_row() {
        let stats = table("x_stats.csv", "Type,Name,Request Count\nGET,a,1\n");
        let e = from_tables(
            &stats,
            None,
            None,
            &Sidecar::default(),
            None,
            &ImportOptions::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("x_stats.csv") && e.to_string().contains("Aggregated"));
    }
}
