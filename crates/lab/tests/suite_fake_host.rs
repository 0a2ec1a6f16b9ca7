//! The suite runner end to end against a fake host: real HTTP servers in this process serving the
//! contract (so every workload drives the real load engine and validates real answers), a target
//! that fails conformance, one that dies mid-cell, into a real SQLite store; Ctrl-C in the middle
//! of a cell and `--resume`. Fast (sub-second windows); the real targets are covered by the
//! stackwise binary's end-to-end tests.

use std::collections::{BTreeMap, VecDeque};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::RawQuery;
use axum::routing::get;
use axum::Router;
use lab::suite::{
    self, Event, Host, Installed, Outcome, Phase, Progress, RunEnd, Server, StartOptions,
    SuiteOptions, TargetFailure, TargetInfo, WarningCode,
};
use lab::workload::http::{cpu_result, hash_hex};
use lab::workload::{ServerMeter, ServerUsage, ServiceHandle, ServiceKind, StopFlag, Timing};
use store::{CellStatus, Machine, Store};

#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    Good,
    /// Answers /json wrongly: fails conformance.
    WrongJson,
    /// Stops answering after this many requests (the server "dies").
    DiesAfter(u64),
    /// Answers /json after 40 ms in odd measuring windows and at once in even ones: its repeats'
    /// throughput spreads far over 10%.
    Alternating,
}

struct FakeServer {
    port: u16,
    alive: Arc<AtomicBool>,
    requests: Arc<AtomicU64>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    running: Arc<Mutex<u32>>,
    /// Measuring windows begun on it.
    windows: Arc<AtomicU64>,
}

fn q(query: &Option<String>, k: &str) -> u64 {
    query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('=')?.parse().ok())
        .unwrap_or(0)
}

impl FakeServer {
    fn start(b: Behaviour, running: Arc<Mutex<u32>>) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let alive = Arc::new(AtomicBool::new(true));
        let requests = Arc::new(AtomicU64::new(0));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (alive2, req2) = (alive.clone(), requests.clone());
        let seq = Arc::new(AtomicU64::new(0));
        let crash = Arc::new(tokio::sync::Notify::new());
        let crash2 = crash.clone();
        let windows = Arc::new(AtomicU64::new(0));
        let windows2 = windows.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                // Only /json requests count towards a crash.
                let c2 = move || req2.fetch_add(1, Ordering::SeqCst) + 1;
                let app = Router::new()
                    .route("/plaintext", get(|| async { "Hello, World!" }))
                    .route(
                        "/json",
                        get(move || {
                            let n = c2();
                            let slow = b == Behaviour::Alternating
                                && windows2.load(Ordering::SeqCst) % 2 == 1;
                            async move {
                                if slow {
                                    tokio::time::sleep(Duration::from_millis(40)).await;
                                }
                                if let Behaviour::DiesAfter(limit) = b {
                                    if n == limit {
                                        // A crash: the server stops listening.
                                        crash2.notify_one();
                                    }
                                }
                                let msg = if b == Behaviour::WrongJson {
                                    "Hello"
                                } else {
                                    "Hello, World!"
                                };
                                (
                                    [("content-type", "application/json")],
                                    format!("{{\"message\":\"{msg}\"}}"),
                                )
                            }
                        }),
                    )
                    .route(
                        "/io",
                        get(move |RawQuery(p): RawQuery| {
                            let seq = seq.fetch_add(1, Ordering::SeqCst);
                            async move {
                                let ms = q(&p, "ms");
                                tokio::time::sleep(Duration::from_millis(ms)).await;
                                format!("{{\"ms\":{ms},\"seq\":{seq}}}")
                            }
                        }),
                    )
                    .route(
                        "/cpu",
                        get(move |RawQuery(p): RawQuery| async move {
                            let n = q(&p, "n");
                            format!("{{\"n\":{n},\"result\":{}}}", cpu_result(n))
                        }),
                    )
                    .route(
                        "/hash",
                        get(move |RawQuery(p): RawQuery| async move {
                            let n = q(&p, "n");
                            format!("{{\"n\":{n},\"sha256\":\"{}\"}}", hash_hex(n))
                        }),
                    );
                let l = tokio::net::TcpListener::from_std(listener).unwrap();
                let serve = axum::serve(l, app).with_graceful_shutdown(async {
                    let _ = rx.await;
                });
                // A crash drops the server mid-flight: the runtime and its connections go with it.
                tokio::select! {
                    r = serve => r.unwrap(),
                    _ = crash.notified() => {}
                }
            });
            drop(rt);
            alive2.store(false, Ordering::SeqCst);
        });
        *running.lock().unwrap() += 1;
        FakeServer {
            port,
            alive,
            requests,
            shutdown: Some(tx),
            thread: Some(thread),
            running,
            windows,
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Graceful shutdown waits for hung requests; don't join a server made to hang.
        if let Some(t) = self.thread.take() {
            if self.alive.load(Ordering::SeqCst) && self.requests.load(Ordering::SeqCst) < 1_000_000
            {
                std::thread::spawn(move || {
                    let _ = t.join();
                });
            }
        }
        *self.running.lock().unwrap() -= 1;
    }
}

impl ServerMeter for FakeServer {
    fn begin(&mut self) {
        self.windows.fetch_add(1, Ordering::SeqCst);
    }
    fn end(&mut self) -> ServerUsage {
        ServerUsage {
            cpu_s: 0.01,
            pss_mean_mb: Some(10.0),
            pss_peak_mb: Some(11.0),
            steal_pct: Some(0.0),
            samples: serde_json::json!([]),
        }
    }
    fn check_alive(&mut self) -> Result<(), lab::workload::Gone> {
        Ok(())
    }
}

/// A fake server whose measuring windows report the steal time its host scripted (one value per
/// window, then 0%), and which reports itself dead once its server stopped.
struct Dying(FakeServer, Arc<Mutex<VecDeque<f64>>>);

impl ServerMeter for Dying {
    fn begin(&mut self) {
        self.0.begin();
    }
    fn end(&mut self) -> ServerUsage {
        let mut u = self.0.end();
        if let Some(s) = self.1.lock().unwrap().pop_front() {
            u.steal_pct = Some(s);
        }
        u
    }
    fn check_alive(&mut self) -> Result<(), lab::workload::Gone> {
        if self.0.alive.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(lab::workload::Gone::Server {
                status: "Segmentation fault (core dumped)".into(),
                stderr_tail: vec![],
            })
        }
    }
}

impl Server for Dying {
    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.0.port)
    }
    fn pss_mb(&mut self) -> Option<f64> {
        Some(9.0)
    }
    fn config(&self) -> BTreeMap<String, String> {
        BTreeMap::from([("workers".into(), "1".into())])
    }
    fn stop(self: Box<Self>) {}
}

struct Upstream {
    /// Set: the next liveness check reports this upstream dead (once).
    die: Arc<AtomicBool>,
}
impl ServiceHandle for Upstream {
    fn check_alive(&mut self) -> Result<(), lab::workload::Gone> {
        if self.die.swap(false, Ordering::SeqCst) {
            Err(lab::workload::Gone::Service(lab::process::Crash {
                name: "upstream".into(),
                status: "exited with signal 9".into(),
                stderr_tail: vec![],
            }))
        } else {
            Ok(())
        }
    }
    fn url(&self) -> &str {
        "http://127.0.0.1:9"
    }
    fn begin(&mut self) {}
    fn busy(&mut self) -> Option<f64> {
        Some(0.1)
    }
}

struct FakeHost {
    targets: Vec<(TargetInfo, Behaviour)>,
    running: Arc<Mutex<u32>>,
    starts: Mutex<u32>,
    service_starts: Mutex<u32>,
    upstream_dies: Arc<AtomicBool>,
    /// Per target: the steal time its next measuring windows report (shared by its servers).
    steal: Mutex<BTreeMap<String, Arc<Mutex<VecDeque<f64>>>>>,
    /// Tries to start the database (which is "not installed" here).
    db_starts: Mutex<u32>,
}

impl FakeHost {
    fn script_steal(&self, t: &str, values: &[f64]) {
        self.steal
            .lock()
            .unwrap()
            .entry(t.to_string())
            .or_default()
            .lock()
            .unwrap()
            .extend(values);
    }

    fn behaviour(&self, t: &str) -> Behaviour {
        self.targets.iter().find(|(i, _)| i.name == t).unwrap().1
    }
}

impl Host for FakeHost {
    fn targets(&self) -> Result<Vec<TargetInfo>, lab::host::HostError> {
        Ok(self.targets.iter().map(|(t, _)| t.clone()).collect())
    }
    fn install(
        &self,
        _t: &str,
        progress: &mut dyn FnMut(String),
    ) -> Result<Installed, TargetFailure> {
        progress("already installed".into());
        Ok(Installed {
            bytes: Some(1234),
            packages: Some(5),
        })
    }
    fn versions(&self, _t: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("fake".into(), "1.0".into())])
    }
    fn own_start(&self, _t: &str, _w: &str) -> bool {
        false
    }
    fn start(&self, t: &str, _o: &StartOptions) -> Result<Box<dyn Server>, TargetFailure> {
        *self.starts.lock().unwrap() += 1;
        let b = self.behaviour(t);
        let s = FakeServer::start(b, self.running.clone());
        let steal = self
            .steal
            .lock()
            .unwrap()
            .entry(t.to_string())
            .or_default()
            .clone();
        Ok(Box::new(Dying(s, steal)))
    }
    fn check(&self, t: &str, s: &mut dyn Server) -> Result<(), TargetFailure> {
        // A tiny conformance check: /json must be right.
        let url = format!("{}/json", s.base_url());
        let mut cfg = loadgen::LoadConfig::new(loadgen::Target::parse(&url).unwrap());
        cfg.connections = 1;
        cfg.stop = loadgen::StopCondition {
            duration: Some(Duration::from_secs(2)),
            requests: Some(1),
        };
        cfg.timeout = Duration::from_secs(2);
        cfg.validation = lab::workload::http::Endpoint::json().validation;
        let r = loadgen::run(cfg).map_err(|e| TargetFailure::new(e.to_string()))?;
        if r.requests.succeeded == 1 {
            Ok(())
        } else {
            Err(TargetFailure {
                reason: format!("{t}: /json answered wrongly"),
                stderr_tail: Some("listening on 127.0.0.1\n".into()),
            })
        }
    }
    fn cold_start(&self, t: &str, o: &StartOptions) -> Result<Duration, TargetFailure> {
        let t0 = std::time::Instant::now();
        let s = self.start(t, o)?;
        let d = t0.elapsed();
        s.stop();
        Ok(d)
    }
    fn start_service(
        &self,
        kind: ServiceKind,
        _cpus: &[usize],
    ) -> Result<Box<dyn ServiceHandle>, lab::host::ServiceError> {
        if kind == ServiceKind::Database {
            *self.db_starts.lock().unwrap() += 1;
            return Err(lab::postgres::RunDatabaseError::External(lab::postgres::DbError(
                "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on PATH): install the Debian package postgresql-15".into(),
            ))
            .into());
        }
        assert_eq!(kind, ServiceKind::Upstream);
        *self.service_starts.lock().unwrap() += 1;
        Ok(Box::new(Upstream {
            die: self.upstream_dies.clone(),
        }))
    }
}

fn info(name: &str) -> TargetInfo {
    TargetInfo {
        name: name.into(),
        language: "rust".into(),
        framework: "fake".into(),
        endpoints: ["plaintext", "json", "io", "cpu", "hash"]
            .map(String::from)
            .to_vec(),
    }
}

fn host() -> FakeHost {
    FakeHost {
        targets: vec![
            (info("good"), Behaviour::Good),
            (info("wrong"), Behaviour::WrongJson),
            (info("dies"), Behaviour::DiesAfter(300)),
        ],
        running: Arc::new(Mutex::new(0)),
        starts: Mutex::new(0),
        service_starts: Mutex::new(0),
        upstream_dies: Arc::new(AtomicBool::new(false)),
        steal: Mutex::new(BTreeMap::new()),
        db_starts: Mutex::new(0),
    }
}

fn options(workloads: &[&str], repeats: u32) -> SuiteOptions {
    SuiteOptions {
        targets: vec![],
        workloads: workloads.iter().map(|s| s.to_string()).collect(),
        repeats,
        timing: Timing {
            duration: Duration::from_millis(400),
            warmup: Duration::from_millis(100),
            rung: Duration::from_millis(300),
            rung_warmup: Duration::from_millis(100),
            max_rungs: 3,
            slo_p99_ms: 100.0,
            idle_settle: Duration::from_millis(50),
            ws_connections: 10,
        },
        // No extra repeats (docs/workloads.md "Extra repeats") in these tests, whose repeat counts
        // are their subject: the fake servers' sub-second windows often spread over 10%.
        // `extra_repeats_top_up_the_wide_cell_only` runs with them.
        quick: true,
        cold_starts: 2,
        server_cpus: vec![],
        client_cpus: vec![],
        workers: BTreeMap::new(),
    }
}

fn machine() -> Machine {
    Machine {
        cpu_model: "test".into(),
        cores: 2,
        kernel: "test".into(),
        os: "test".into(),
        memory_mb: 1,
        runtimes: BTreeMap::new(),
        server_cpus: vec![],
        client_cpus: vec![],
    }
}

#[test]
fn a_suite_measures_stores_and_fails_targets_without_stopping() {
    let host = host();
    let dir = tempdir("suite");
    let mut store = Store::open(&dir.join("lab.sqlite3")).unwrap();
    let opts = options(&["json", "io", "io-slo"], 2);
    let mut events = Vec::new();
    let out = suite::run(
        &host,
        &mut store,
        &opts,
        machine(),
        None,
        &StopFlag::new(),
        &mut |e| events.push(e),
    )
    .unwrap();
    let Outcome::Finished { run_id } = out else {
        panic!("{out:?}")
    };
    let run = store.run(run_id).unwrap();
    assert!(run.finished_at.is_some());
    assert_eq!(run.cells.len(), 9, "{:#?}", run.cells);

    // The good target: measured, validated, stored with its repeats.
    let json = run.cell("good", "json").unwrap();
    assert_eq!(json.status, CellStatus::Ok, "{json:?}");
    assert_eq!(json.repeats, 2);
    assert!(json.metric("throughput_rps").unwrap().median > 100.0);
    assert_eq!(json.params["connections"], "64");
    let io = run.cell("good", "io").unwrap();
    assert!(io.metric("p50_ms").unwrap().median >= 10.0, "{io:?}");
    let slo = run.cell("good", "io-slo").unwrap();
    // A capacity search is a repeat: io-slo runs as many as asked, up to 3.
    assert_eq!(slo.repeats, 2);
    assert!(!slo.ladder.is_empty() && slo.ladder.len() <= 3);
    assert!(slo.capacity_rps.is_some(), "{slo:?}");
    assert_eq!(slo.slo_p99_ms, Some(100.0));
    let good = run.target("good").unwrap();
    assert_eq!(good.metric("cold_start_ms").unwrap().values.len(), 2);
    assert_eq!(good.value("idle_pss_mb"), Some(9.0));
    assert_eq!(good.value("install_packages"), Some(5.0));

    // Conformance failure: every cell failed with the reason and the stderr tail; no cold start.
    let wrong = run.target("wrong").unwrap();
    assert!(
        wrong.failure.as_deref().unwrap().contains("conformance"),
        "{wrong:?}"
    );
    for w in ["json", "io", "io-slo"] {
        match &run.cell("wrong", w).unwrap().status {
            CellStatus::Failed(r) => assert!(
                r.contains("answered wrongly") && r.contains("listening on"),
                "{r}"
            ),
            s => panic!("{s:?}"),
        }
    }
    // A server that dies mid-cell: that cell failed with its stderr, the next cells run on a
    // restarted server.
    match &run.cell("dies", "json").unwrap().status {
        CellStatus::Failed(r) => assert!(
            r.contains("died") && r.contains("Segmentation fault"),
            "{r}"
        ),
        s => panic!("{s:?} {:?}", run.cell("dies", "json")),
    }
    assert_eq!(run.cell("dies", "io").unwrap().status, CellStatus::Ok);
    assert!(events.iter().any(|e| matches!(e, Event::CellDone { .. })));
    assert_eq!(*host.running.lock().unwrap(), 0, "every server was stopped");
}

#[test]
fn ctrl_c_mid_cell_keeps_finished_cells_and_resume_completes() {
    let host = FakeHost {
        targets: vec![(info("a"), Behaviour::Good), (info("b"), Behaviour::Good)],
        ..host()
    };
    let dir = tempdir("resume");
    let path = dir.join("lab.sqlite3");
    let mut store = Store::open(&path).unwrap();
    let opts = options(&["plaintext", "json"], 1);
    let stop = StopFlag::new();
    let mut done = 0;
    let stop2 = stop.clone();
    let out = suite::run(
        &host,
        &mut store,
        &opts,
        machine(),
        None,
        &stop,
        &mut |e| match e {
            Event::CellDone { .. } => done += 1,
            // Ctrl-C while the third cell (a/json: the order is interleaved) is measuring.
            Event::Progress {
                progress:
                    Progress {
                        phase: Some(Phase::Measuring),
                        ..
                    },
                ..
            } if done == 2 => stop2.trigger(),
            _ => {}
        },
    )
    .unwrap();
    let Outcome::Interrupted { run_id } = out else {
        panic!("{out:?}")
    };
    assert_eq!(*host.running.lock().unwrap(), 0, "no server left running");
    let run = store.run(run_id).unwrap();
    assert!(run.finished_at.is_none());
    assert_eq!(
        run.cells.len(),
        2,
        "finished cells stored, the interrupted one not"
    );
    assert_eq!(store.missing_cells(run_id).unwrap().len(), 2);
    drop(store);

    // --resume: the same run, its own settings, only what is missing.
    let mut store = Store::open(&path).unwrap();
    let id = store.latest_unfinished_run_id().unwrap().unwrap();
    assert_eq!(id, run_id);
    let opts2 = SuiteOptions::from_settings(&store.run_settings(id).unwrap()).unwrap();
    assert_eq!(opts2, opts);
    let mut measured = Vec::new();
    let out = suite::run(
        &host,
        &mut store,
        &opts2,
        machine(),
        Some(id),
        &StopFlag::new(),
        &mut |e| {
            if let Event::CellDone {
                target, workload, ..
            } = e
            {
                measured.push(format!("{target}/{workload}"));
            }
        },
    )
    .unwrap();
    assert_eq!(out, Outcome::Finished { run_id });
    assert_eq!(measured, vec!["a/json", "b/json"]);
    let run = store.run(run_id).unwrap();
    assert_eq!(run.cells.len(), 4);
    assert!(run.finished_at.is_some());
    assert!(run.target("a").unwrap().metric("cold_start_ms").is_some());
    assert!(run.target("b").unwrap().metric("cold_start_ms").is_some());
    assert_eq!(*host.running.lock().unwrap(), 0);
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("stackwise-lab-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn resume_fails_cells_of_a_target_that_is_gone_and_finishes() {
    // "ghost" was removed since the run was planned; "newcomer" was added.
    let host = FakeHost {
        targets: vec![
            (info("a"), Behaviour::Good),
            (info("newcomer"), Behaviour::Good),
        ],
        ..host()
    };
    let dir = tempdir("gone");
    let mut store = Store::open(&dir.join("lab.sqlite3")).unwrap();
    let opts = options(&["plaintext"], 1);
    // A run planned when a target "ghost" still existed, interrupted before anything was measured.
    let plan = ["a", "ghost"]
        .iter()
        .map(|t| store::PlannedCell {
            target: t.to_string(),
            workload: "plaintext".into(),
        })
        .collect();
    let id = store
        .begin_run(&store::NewRun {
            machine: machine(),
            settings: opts.to_settings(),
            plan,
        })
        .unwrap();
    let out = suite::run(
        &host,
        &mut store,
        &opts,
        machine(),
        Some(id),
        &StopFlag::new(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(out, Outcome::Finished { run_id: id });
    let run = store.run(id).unwrap();
    assert_eq!(run.cell("a", "plaintext").unwrap().status, CellStatus::Ok);
    match &run.cell("ghost", "plaintext").unwrap().status {
        CellStatus::Failed(r) => assert!(r.contains("not in the current plan"), "{r}"),
        s => panic!("{s:?}"),
    }
    assert!(
        run.target("newcomer").is_none(),
        "a resumed run measures only its plan"
    );
    assert!(run.cell("newcomer", "plaintext").is_none());
}

#[test]
fn an_upstream_that_ends_is_restarted_with_the_target() {
    let host = FakeHost {
        targets: vec![(info("a"), Behaviour::Good)],
        ..host()
    };
    host.upstream_dies.store(true, Ordering::SeqCst);
    let dir = tempdir("upstream");
    let mut store = Store::open(&dir.join("lab.sqlite3")).unwrap();
    let opts = options(&["plaintext", "io"], 1);
    let mut warnings = Vec::new();
    let out = suite::run(
        &host,
        &mut store,
        &opts,
        machine(),
        None,
        &StopFlag::new(),
        &mut |e| {
            if let Event::Warning { message, .. } = e {
                warnings.push(message);
            }
        },
    )
    .unwrap();
    let Outcome::Finished { run_id } = out else {
        panic!("{out:?}")
    };
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("Upstream service ended")),
        "{warnings:?}"
    );
    assert_eq!(*host.service_starts.lock().unwrap(), 2);
    let run = store.run(run_id).unwrap();
    assert_eq!(run.cell("a", "io").unwrap().status, CellStatus::Ok);
    assert_eq!(*host.running.lock().unwrap(), 0);
}

/// `ws-hold` measures how much memory its connections add, so every repeat gets a server no other
/// load has touched: the target is started afresh for the cell and again before each further
/// repeat (the fake server has no `/ws`: every upgrade is refused, a result, not an error).
#[test]
fn a_workload_that_needs_a_fresh_server_gets_one_per_repeat() {
    let mut good = info("good");
    good.endpoints.push("ws".into());
    let host = FakeHost {
        targets: vec![(good, Behaviour::Good)],
        ..host()
    };
    let dir = tempdir("fresh");
    let mut store = Store::open(&dir.join("lab.sqlite3")).unwrap();
    let mut opts = options(&["json", "ws-hold"], 2);
    opts.cold_starts = 0;
    let out = suite::run(
        &host,
        &mut store,
        &opts,
        machine(),
        None,
        &StopFlag::new(),
        &mut |_| {},
    )
    .unwrap();
    let Outcome::Finished { run_id } = out else {
        panic!("{out:?}")
    };
    let run = store.run(run_id).unwrap();
    let hold = run.cell("good", "ws-hold").unwrap();
    assert_eq!(hold.repeats, 2, "{hold:?}");
    assert_eq!(hold.metric("connections_attempted").unwrap().median, 10.0);
    assert_eq!(hold.metric("connections_held").unwrap().median, 0.0);
    // One start for json, one fresh start for ws-hold's first repeat, one before its second.
    assert_eq!(*host.starts.lock().unwrap(), 3);
    assert_eq!(*host.running.lock().unwrap(), 0, "every server was stopped");
}

/// A workload declared here and registered at run time (another closed loop on `/json`, with 8
/// connections) is planned, measured by the saturation code and stored with no lab change.
#[test]
fn a_workload_registered_at_run_time_is_measured_and_stored() {
    const JSON_C8: workloads::Workload = workloads::Workload {
        id: "test-json-c8",
        kind: workloads::Kind::Saturation,
        availability: workloads::Availability::Available,
        description: "test-only: GET /json, closed loop, 8 connections",
        endpoints: &["json"],
        services: &[],
        requests: &[workloads::builtin::JSON_REQ],
        params: &[
            workloads::Param {
                name: "connections",
                value: "8",
                why: "a test value",
            },
            workloads::Param {
                name: "mode",
                value: "closed",
                why: "closed loop",
            },
        ],
        metrics: &["throughput_rps", "p99_ms", "server_cpu_us_per_req"],
        tier: workloads::Tier::OnRequest,
    };
    workloads::register(JSON_C8, &[]).unwrap();
    let host = host();
    let dir = tempdir("registered");
    let mut store = Store::open(&dir.join("lab.sqlite3")).unwrap();
    let mut opts = options(&[JSON_C8.id], 1);
    opts.targets = vec!["good".into()];
    opts.cold_starts = 0;
    let out = suite::run(
        &host,
        &mut store,
        &opts,
        machine(),
        None,
        &StopFlag::new(),
        &mut |_| {},
    )
    .unwrap();
    let Outcome::Finished { run_id } = out else {
        panic!("{out:?}")
    };
    let run = store.run(run_id).unwrap();
    let c = run
        .cell("good", JSON_C8.id)
        .expect("the registered workload's cell");
    assert_eq!(c.status, CellStatus::Ok, "{c:?}");
    assert_eq!(c.params["connections"], "8");
    assert_eq!(c.params["path"], "/json");
    assert!(c.metric("throughput_rps").unwrap().median > 100.0, "{c:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn run_collecting(host: &FakeHost, store: &mut Store, opts: &SuiteOptions) -> (i64, Vec<Event>) {
    let mut events = Vec::new();
    let out = suite::run(
        host,
        store,
        opts,
        machine(),
        None,
        &StopFlag::new(),
        &mut |e| events.push(e),
    )
    .unwrap();
    let Outcome::Finished { run_id } = out else {
        panic!("{out:?}")
    };
    (run_id, events)
}

/// Repeats are interleaved across targets, workload by workload (round r of every target before
/// round r + 1), and each server stays up between rounds and workloads.
#[test]
fn repeats_are_measured_round_robin_across_targets() {
    let host = FakeHost {
        targets: vec![
            (info("a"), Behaviour::Good),
            (info("b"), Behaviour::Good),
            (info("c"), Behaviour::Good),
        ],
        ..host()
    };
    let dir = tempdir("interleave");
    let mut store = Store::open(&dir.join("lab.sqlite3")).unwrap();
    let mut opts = options(&["plaintext", "json"], 2);
    opts.cold_starts = 0;
    let (run_id, events) = run_collecting(&host, &mut store, &opts);
    // The order of the repeats, from the progress events.
    let mut order: Vec<String> = Vec::new();
    for e in &events {
        if let Event::Progress {
            target: Some(t),
            workload: Some(w),
            repeat: Some(r),
            repeats: Some(n),
            ..
        } = e
        {
            let label = format!("{t} {w} [{r}/{n}]");
            if order.last() != Some(&label) {
                order.push(label);
            }
        }
    }
    // The stream: run started (the plan: 3 targets, 6 cells), a repeat_done per repeat with its
    // figures, run finished last with the counts.
    match &events[0] {
        Event::RunStarted {
            run_id: id, plan, ..
        } => {
            assert_eq!(*id, run_id);
            assert_eq!(plan.targets, ["a", "b", "c"]);
            assert_eq!((plan.cells.len(), plan.remaining), (6, 6));
            assert!(plan.eta_s > 0.0);
        }
        e => panic!("first event {e:?}"),
    }
    let repeats: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::RepeatDone { .. }))
        .collect();
    assert_eq!(repeats.len(), 12, "3 targets × 2 workloads × 2 repeats");
    for e in repeats {
        let Event::RepeatDone { figures, trust, .. } = e else {
            unreachable!()
        };
        assert!(figures.contains_key("throughput_rps"), "{figures:?}");
        assert!(trust.clean && !trust.noisy);
    }
    match events.last().unwrap() {
        Event::RunFinished {
            run_id: id,
            end,
            ok,
            missing,
            ..
        } => {
            assert_eq!((*id, *end, *ok, *missing), (run_id, RunEnd::Finished, 6, 0));
        }
        e => panic!("last event {e:?}"),
    }
    let mut expected = Vec::new();
    for w in ["plaintext", "json"] {
        for r in 1..=2 {
            for t in ["a", "b", "c"] {
                expected.push(format!("{t} {w} [{r}/2]"));
            }
        }
    }
    assert_eq!(order, expected);
    // A cell is stored when its last repeat is measured: in the last round, target by target.
    let done: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::CellDone {
                target, workload, ..
            } => Some(format!("{target}/{workload}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        done,
        [
            "a/plaintext",
            "b/plaintext",
            "c/plaintext",
            "a/json",
            "b/json",
            "c/json"
        ]
    );
    // One start per target: its server stayed up between rounds and workloads.
    assert_eq!(*host.starts.lock().unwrap(), 3);
    let run = store.run(run_id).unwrap();
    for t in ["a", "b", "c"] {
        for w in ["plaintext", "json"] {
            let c = run.cell(t, w).unwrap();
            assert_eq!(c.status, CellStatus::Ok, "{c:?}");
            assert_eq!(c.repeats, 2);
        }
    }
    assert_eq!(*host.running.lock().unwrap(), 0, "every server was stopped");
}

/// A repeat whose steal time is over the limit is measured again, the cell says so, and the
/// quiet re-measurement is what is kept.
#[test]
fn a_noisy_repeat_is_measured_again_and_the_quiet_one_kept() {
    let host = FakeHost {
        targets: vec![(info("a"), Behaviour::Good), (info("b"), Behaviour::Good)],
        ..host()
    };
    // b's first measuring window has 30% steal; every later one none.
    host.script_steal("b", &[30.0]);
    let dir = tempdir("remeasure");
    let mut store = Store::open(&dir.join("lab.sqlite3")).unwrap();
    let mut opts = options(&["plaintext"], 2);
    opts.cold_starts = 0;
    let (run_id, _) = run_collecting(&host, &mut store, &opts);
    let run = store.run(run_id).unwrap();
    let b = run.cell("b", "plaintext").unwrap();
    assert_eq!(b.status, CellStatus::Ok);
    assert_eq!(b.repeats, 2, "the noisy repeat was replaced, not added");
    assert!(
        b.warnings
            .iter()
            .any(|w| w
                .starts_with("repeat 1 re-measured: steal 30.0% of CPU time (> 2%) (retry 1 of 3")),
        "{:?}",
        b.warnings
    );
    // Steal is not called other processes' load, and the cell is not held back as noisy.
    assert!(!b.warnings.iter().any(|w| w.contains("other processes")));
    assert!(
        !workloads::trust::is_noisy_cell(&b.warnings),
        "{:?}",
        b.warnings
    );
    // a's windows had no steal: nothing re-measured there.
    let a = run.cell("a", "plaintext").unwrap();
    assert!(
        !a.warnings.iter().any(|w| w.contains("re-measured")),
        "{:?}",
        a.warnings
    );
}

/// A machine that stays noisy: the cell's retries are spent, the noisy repeats are kept and the
/// cell is marked noisy (what the claims hold verdicts back on).
#[test]
fn a_cell_that_stays_noisy_is_flagged_once_retries_are_spent() {
    let host = FakeHost {
        targets: vec![(info("a"), Behaviour::Good)],
        ..host()
    };
    host.script_steal("a", &[40.0; 20]);
    let dir = tempdir("staysnoisy");
    let mut store = Store::open(&dir.join("lab.sqlite3")).unwrap();
    let mut opts = options(&["plaintext"], 2);
    opts.cold_starts = 0;
    let (run_id, events) = run_collecting(&host, &mut store, &opts);
    let run = store.run(run_id).unwrap();
    let c = run.cell("a", "plaintext").unwrap();
    assert_eq!(c.repeats, 2, "{c:?}");
    let remeasured = c
        .warnings
        .iter()
        .filter(|w| w.starts_with("repeat 1 re-measured: steal 40.0%"))
        .count();
    assert_eq!(remeasured, 3, "{:?}", c.warnings);
    assert!(
        workloads::trust::is_noisy_cell(&c.warnings),
        "{:?}",
        c.warnings
    );
    let flag = c
        .warnings
        .iter()
        .find(|w| w.starts_with(workloads::trust::NOISY_CELL_PREFIX))
        .unwrap();
    assert!(
        flag.contains("2 of 2 repeats stayed noisy after 3 re-measurements")
            && flag.contains("the cell's retries are spent"),
        "{flag}"
    );
    // 2 repeats + 3 retries: five measuring windows used, the rest of the script is left.
    assert_eq!(host.steal.lock().unwrap()["a"].lock().unwrap().len(), 15);
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Warning { code: WarningCode::NoiseRetry, message, .. } if message.contains("re-measured"))));
    // The kept repeats' trust flags: both noisy by steal; the first was measured again 3 times.
    let trust: Vec<(u32, bool, u32, Option<f64>)> = events
        .iter()
        .filter_map(|e| match e {
            Event::RepeatDone { repeat, trust, .. } => {
                Some((*repeat, trust.noisy, trust.retried, trust.steal_pct))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        trust,
        [(1, true, 3, Some(40.0)), (2, true, 0, Some(40.0))],
        "{trust:?}"
    );
}

/// The run's retry budget is shared: a quarter of the planned repeats, at least 3. Two
/// single-repeat cells on a machine that stays noisy: the first spends the run's 3 retries, the
/// second gets none, and both say why they were kept noisy.
#[test]
fn the_run_budget_caps_retries_across_cells() {
    let host = FakeHost {
        targets: vec![(info("a"), Behaviour::Good), (info("b"), Behaviour::Good)],
        ..host()
    };
    host.script_steal("a", &[40.0; 10]);
    host.script_steal("b", &[40.0; 10]);
    assert_eq!(workloads::trust::noise_retry_budget(2), 3);
    let dir = tempdir("runbudget");
    let mut store = Store::open(&dir.join("lab.sqlite3")).unwrap();
    let mut opts = options(&["plaintext"], 1);
    opts.cold_starts = 0;
    let (run_id, _) = run_collecting(&host, &mut store, &opts);
    let run = store.run(run_id).unwrap();
    let flag = |t: &str| {
        let c = run.cell(t, "plaintext").unwrap();
        let retries = c
            .warnings
            .iter()
            .filter(|w| w.contains(" re-measured: "))
            .count();
        let flag = c
            .warnings
            .iter()
            .find(|w| w.starts_with(workloads::trust::NOISY_CELL_PREFIX))
            .cloned()
            .unwrap_or_else(|| panic!("{t}: {:?}", c.warnings));
        (retries, flag)
    };
    let (ra, fa) = flag("a");
    let (rb, fb) = flag("b");
    assert_eq!((ra, rb), (3, 0));
    assert!(fa.contains("the cell's retries are spent"), "{fa}");
    assert!(fb.contains("the run's retries are spent"), "{fb}");
    assert!(
        run.cell("a", "plaintext")
            .unwrap()
            .warnings
            .iter()
            .any(|w| w.contains("retry 3 of 3 for this cell, 3 of 3 for the run")),
        "{:?}",
        run.cell("a", "plaintext").unwrap().warnings
    );
}

/// No PostgreSQL on the machine: the database cells fail naming the package to install, the
/// database is tried once for the run (not per target, while every target is prepared before the
/// rounds), and the other workloads are measured, in the interleaved order.
#[test]
fn a_missing_database_fails_only_its_cells() {
    let mut host = host();
    for (t, b) in host.targets.iter_mut() {
        t.endpoints.push("db".into());
        *b = Behaviour::Good;
    }
    host.targets.truncate(2);
    let dir = tempdir("nodb");
    let mut store = Store::open(&dir.join("lab.sqlite3")).unwrap();
    let opts = options(&["json", "db"], 1);
    let (run_id, events) = run_collecting(&host, &mut store, &opts);
    let run = store.run(run_id).unwrap();
    assert_eq!(run.cells.len(), 4, "{:#?}", run.cells);
    for (t, _) in &host.targets {
        let json = run.cell(&t.name, "json").unwrap();
        assert_eq!(json.status, CellStatus::Ok, "{json:?}");
        match &run.cell(&t.name, "db").unwrap().status {
            CellStatus::Failed(r) => assert!(r.contains("postgresql-15"), "{r}"),
            s => panic!("{s:?}"),
        }
        let target = run.target(&t.name).unwrap();
        assert!(target.failure.is_none(), "{target:?}");
        assert!(target.metric("cold_start_ms").is_some());
    }
    assert_eq!(*host.db_starts.lock().unwrap(), 1, "tried once per run");
    assert!(events.iter().any(
        |e| matches!(e, Event::Warning { message: w, .. } if w.contains("postgresql-15") && w.contains("others run"))
    ));
    // Interleaved: the db cells fail while the targets are prepared, before any json repeat.
    let done: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::CellDone {
                target, workload, ..
            } => Some(format!("{target}/{workload}")),
            _ => None,
        })
        .collect();
    let (a, b) = (&host.targets[0].0.name, &host.targets[1].0.name);
    assert_eq!(
        done,
        [
            format!("{a}/db"),
            format!("{b}/db"),
            format!("{a}/json"),
            format!("{b}/json")
        ]
    );
    assert_eq!(*host.running.lock().unwrap(), 0, "every server was stopped");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Capacity searches get repeats like every other cell (issue 14): `io-slo` runs one search per
/// repeat (up to its registry cap of 3), interleaved across targets round by round; each search's
/// capacity is a figure of its repeat, the cell's capacity is their median with the spread, and the
/// cell's ladder is the median search's. A search with no cap (`json-slo`) runs once.
#[test]
fn capacity_searches_are_repeated_interleaved_and_summarised_by_their_median() {
    let host = FakeHost {
        targets: vec![(info("a"), Behaviour::Good), (info("b"), Behaviour::Good)],
        ..host()
    };
    let dir = tempdir("searches");
    let mut store = Store::open(&dir.join("lab.sqlite3")).unwrap();
    let mut opts = options(&["io", "io-slo", "json-slo"], 5);
    opts.cold_starts = 0;
    let (run_id, events) = run_collecting(&host, &mut store, &opts);
    let mut order: Vec<String> = Vec::new();
    for e in &events {
        if let Event::Progress {
            target: Some(t),
            workload: Some(w),
            repeat: Some(r),
            repeats: Some(n),
            ..
        } = e
        {
            let label = if *n > 1 {
                format!("{t} {w} [{r}/{n}]")
            } else {
                format!("{t} {w}")
            };
            if label.contains("-slo") && order.last() != Some(&label) {
                order.push(label);
            }
        }
    }
    let mut expected: Vec<String> = Vec::new();
    for r in 1..=3 {
        for t in ["a", "b"] {
            expected.push(format!("{t} io-slo [{r}/3]"));
        }
    }
    expected.extend(["a json-slo".to_string(), "b json-slo".to_string()]);
    assert_eq!(order, expected, "searches are interleaved round by round");
    let run = store.run(run_id).unwrap();
    for t in ["a", "b"] {
        let c = run.cell(t, "io-slo").unwrap();
        assert_eq!(c.status, CellStatus::Ok, "{c:?}");
        assert_eq!(c.repeats, 3);
        let caps = c.metric("capacity_rps").expect("capacity per search");
        // Three searches ran (`repeats`, `searches`); each one that found a capacity gives a
        // value. On a quiet machine all three do; a starved test machine can make one search's
        // every rung miss its rate, so the count is bounded, not exact.
        assert!((1..=3).contains(&caps.values.len()), "{caps:?}");
        assert_eq!(
            c.capacity_rps,
            Some(caps.median),
            "the cell's capacity is the median"
        );
        assert!(caps.min <= caps.median && caps.median <= caps.max);
        assert_eq!(c.params["searches"], "3");
        // The ladder is one search's (≤ max_rungs rungs), the one whose capacity is the median.
        assert!(
            !c.ladder.is_empty() && c.ladder.len() <= 3,
            "{:?}",
            c.ladder
        );
        let k: usize = c.params["ladder"]
            .strip_prefix("search ")
            .and_then(|r| r.split(' ').next())
            .and_then(|k| k.parse().ok())
            .unwrap_or_else(|| panic!("{:?}", c.params.get("ladder")));
        assert!((1..=3).contains(&k));
        let stored = store.cell_repeats(run_id, t, "io-slo").unwrap();
        assert_eq!(stored[k - 1].capacity_rps, Some(caps.median));
        assert!(c
            .ladder
            .iter()
            .any(|p| Some(p.offered_rps) == c.capacity_rps));
        let once = run.cell(t, "json-slo").unwrap();
        assert_eq!(once.repeats, 1, "no cap: one search");
        assert_eq!(
            once.metric("capacity_rps").map(|s| s.values.len()),
            once.capacity_rps.map(|_| 1)
        );
    }
    assert_eq!(*host.running.lock().unwrap(), 0, "every server was stopped");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 14: a capacity search on /io offers its rungs on the shared rate grid and stores the
/// capacity at the upstream-relative SLO (5 × the 10 ms wait) read from the same ladder; a
/// long-wait concurrency workload (`io-wait`'s kind, scaled down to a test's size) keeps many
/// requests in flight and stores how many, its p99 and its failed share.
#[test]
fn the_ladder_is_on_the_grid_with_both_slos_and_a_concurrency_cell_is_stored() {
    const WAIT_TEST: workloads::Workload = workloads::Workload {
        id: "test-io-wait",
        kind: workloads::Kind::Concurrency,
        availability: workloads::Availability::Available,
        description: "test-only: GET /io?ms=300 at 200 req/s: ~60 in flight",
        endpoints: &["io"],
        services: &[ServiceKind::Upstream],
        requests: &[workloads::builtin::IO],
        params: &[
            workloads::Param {
                name: "ms",
                value: "300",
                why: "a test value",
            },
            workloads::Param {
                name: "rate_rps",
                value: "200",
                why: "a test value",
            },
            workloads::Param {
                name: "connections",
                value: "120",
                why: "a test value",
            },
            workloads::Param {
                name: "warmup_s",
                value: "0.4",
                why: "a test value",
            },
            workloads::Param {
                name: "duration_s",
                value: "0.6",
                why: "a test value",
            },
        ],
        metrics: &["in_flight", "p50_ms", "p99_ms", "failed_share"],
        tier: workloads::Tier::Full,
    };
    workloads::register(WAIT_TEST, &[]).unwrap();
    let host = host();
    let dir = tempdir("ladder");
    let mut store = Store::open(&dir.join("lab.sqlite3")).unwrap();
    let mut opts = options(&["io", "io-slo", WAIT_TEST.id], 1);
    opts.targets = vec!["good".into()];
    opts.cold_starts = 0;
    let (run_id, _) = run_collecting(&host, &mut store, &opts);
    let run = store.run(run_id).unwrap();

    let slo = run.cell("good", "io-slo").unwrap();
    assert_eq!(slo.params["slo_rel_p99_ms"], "50");
    assert!(slo.params["rate_grid"].starts_with("R10"));
    // The first rung is a grid rate; an off-grid rung only refines between two grid rungs.
    let first = slo.ladder.iter().map(|p| p.offered_rps).collect::<Vec<_>>();
    assert!(
        first.iter().any(|r| lab::search::on_grid(*r).is_some()),
        "{first:?}"
    );
    for r in &first {
        if lab::search::on_grid(*r).is_none() {
            let k = lab::search::grid_floor(*r);
            assert!(first.contains(&lab::search::grid_rate(k)), "{first:?}");
            assert!(first.contains(&lab::search::grid_rate(k + 1)), "{first:?}");
        }
    }
    // Both capacities come from these rungs: each is the highest rung passing its SLO.
    let rel = slo.metric("capacity_rel_rps").map(|s| s.median);
    assert_eq!(rel, lab::search::read(&slo.ladder, 50.0).capacity_rps);
    assert_eq!(
        slo.capacity_rps,
        lab::search::read(&slo.ladder, 100.0).capacity_rps
    );
    if let (Some(r), Some(a)) = (rel, slo.capacity_rps) {
        assert!(r <= a, "a tighter SLO cannot hold more: {r} vs {a}");
    }

    let c = run
        .cell("good", WAIT_TEST.id)
        .expect("the concurrency cell");
    assert_eq!(c.params["in_flight_target"], "60");
    let p99 = c.metric("p99_ms").unwrap().median;
    assert!(p99 >= 300.0, "every answer waited 300 ms upstream: {p99}");
    let in_flight = c.metric("in_flight").unwrap().median;
    // Little's law with a generous bound: a loaded machine still keeps tens in flight.
    assert!(in_flight > 20.0 && in_flight < 200.0, "{in_flight}");
    let failed = c.metric("failed_share").unwrap().median;
    assert!((0.0..=1.0).contains(&failed), "{failed}");
    if failed == 0.0 {
        assert_eq!(c.status, CellStatus::Ok, "{c:?}");
    } else {
        assert!(matches!(c.status, CellStatus::Flagged(_)), "{c:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Extra repeats (docs/workloads.md "Extra repeats"): after the planned rounds, a cell whose
/// primary figure (json: throughput) spreads over 10% gets extra repeats up to the per-cell cap,
/// reported as extra `repeat_done` events and noted on the stored cell; a cell within the limit
/// gets none and is stored after its planned repeats.
#[test]
fn extra_repeats_top_up_the_wide_cell_only() {
    let mut host = host();
    host.targets = vec![
        (info("wide"), Behaviour::Alternating),
        (info("good"), Behaviour::Good),
    ];
    let dir = tempdir("topup");
    let mut store = Store::open(&dir.join("lab.sqlite3")).unwrap();
    let mut opts = options(&["json"], 3);
    opts.quick = false;
    opts.cold_starts = 0;
    let mut events = Vec::new();
    let out = suite::run(
        &host,
        &mut store,
        &opts,
        machine(),
        None,
        &StopFlag::new(),
        &mut |e| events.push(e),
    )
    .unwrap();
    let Outcome::Finished { run_id } = out else {
        panic!("{out:?}")
    };
    let run = store.run(run_id).unwrap();
    let cap = workloads::trust::EXTRA_REPEATS_PER_CELL;
    // (repeat number, extra, throughput) per target, in order.
    let repeats_of = |t: &str| -> Vec<(u32, bool, f64)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::RepeatDone {
                    target,
                    repeat,
                    extra,
                    figures,
                    ..
                } if target == t => Some((*repeat, *extra, figures["throughput_rps"])),
                _ => None,
            })
            .collect()
    };
    let wide = repeats_of("wide");
    assert_eq!(wide.len() as u32, 3 + cap, "{wide:?}");
    assert!(wide[..3].iter().all(|r| !r.1) && wide[3..].iter().all(|r| r.1));
    assert_eq!(wide[3].0, 4, "an extra repeat counts past the planned ones");
    let cell = run.cell("wide", "json").unwrap();
    assert_eq!(cell.repeats, 3 + cap);
    assert!(
        cell.warnings
            .iter()
            .any(|w| w.starts_with(&format!("{cap} extra repeats: spread "))
                && w.contains("still over 10%")),
        "{:?}",
        cell.warnings
    );
    // The steady target: extra repeats only if its own planned repeats spread over the limit
    // (a loaded machine can do that to any server), none otherwise.
    let good = repeats_of("good");
    let planned: Vec<f64> = good[..3].iter().map(|r| r.2).collect();
    let spread = workloads::trust::relative_spread(&planned).unwrap();
    let extras = good.iter().filter(|r| r.1).count();
    if spread <= workloads::trust::SPREAD_LIMIT {
        assert_eq!(extras, 0, "{good:?}");
        assert_eq!(run.cell("good", "json").unwrap().repeats, 3);
        assert!(!run
            .cell("good", "json")
            .unwrap()
            .warnings
            .iter()
            .any(|w| w.contains("extra repeat")));
    } else {
        assert!(extras >= 1, "{good:?}");
    }
    // The wide cell's extra repeats come after every planned round of the workload.
    let last_planned = events
        .iter()
        .rposition(|e| matches!(e, Event::RepeatDone { extra: false, .. }))
        .unwrap();
    let first_extra = events
        .iter()
        .position(|e| matches!(e, Event::RepeatDone { extra: true, .. }))
        .unwrap();
    assert!(
        first_extra > last_planned,
        "extras follow the planned rounds"
    );
}
