//! The loop-blocking workloads (`mixed`, `mixed-time`) against in-process servers whose `/cpu`
//! costs a **known** CPU time per `n` (it spins until its thread has used `n × NS_PER_N` ns of
//! CPU): the calibration finds the `n` that costs 50 ms; a server that runs the heavy request on
//! its one event-loop thread (a current-thread tokio runtime) is decided **blocked** by the
//! claims' real `loop_blocking` rule, and one that runs it on another thread (`spawn_blocking`) is
//! decided **clear**.
//!
//! The meter reads the CPU the server's `/cpu` handlers spent (thread CPU time, summed): the
//! in-process load engine's own CPU is not the server's.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use lab::workload::mixed::{self, Heavy, Probe};
use lab::workload::{
    CellContext, Kind, MeasureError, Measured, ServerMeter, ServerUsage, StopFlag, Timing,
};
use store::{CellStatus, CellSummary, LadderPoint, Machine, RunSummary, Spread, TargetSummary};

/// CPU nanoseconds one unit of `n` costs the in-process server.
const NS_PER_N: u64 = 10;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// `/cpu` runs on the event loop's only thread: every other request waits.
    Blocking,
    /// `/cpu` runs on a blocking-pool thread: the loop keeps serving `/io`.
    Offloaded,
    /// `/cpu` answers a wrong result at once.
    Wrong,
}

#[derive(Clone)]
struct Srv {
    mode: Mode,
    /// CPU ns the `/cpu` handlers spent (the meter's reading).
    cpu_ns: Arc<AtomicU64>,
    seq: Arc<AtomicU64>,
    /// The contract's answer per n, computed once (outside the measured spin).
    answers: Arc<Mutex<HashMap<u64, u32>>>,
}

/// This thread's CPU time in ns (`CLOCK_THREAD_CPUTIME_ID`: nanosecond accounting, not ticks).
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a pointer to a live timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Spins until this thread has used `n × NS_PER_N` ns of CPU; adds it to `cpu_ns`.
fn spin(n: u64, cpu_ns: &AtomicU64) {
    let t0 = thread_cpu_ns();
    let want = n * NS_PER_N;
    loop {
        let used = thread_cpu_ns() - t0;
        if used >= want {
            cpu_ns.fetch_add(used, Ordering::SeqCst);
            return;
        }
    }
}

/// The value of `key` in a query string.
fn param(q: &Option<String>, key: &str) -> u64 {
    q.as_deref()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn cpu(State(s): State<Srv>, RawQuery(q): RawQuery) -> Json<serde_json::Value> {
    let n = param(&q, "n");
    let answers = s.answers.clone();
    let result = move || {
        let cached = answers.lock().unwrap().get(&n).copied();
        cached.unwrap_or_else(|| {
            let r = lab::workload::http::cpu_result(n);
            answers.lock().unwrap().insert(n, r);
            r
        })
    };
    let r = match s.mode {
        Mode::Wrong => 0,
        Mode::Blocking => {
            let r = result();
            spin(n, &s.cpu_ns);
            r
        }
        Mode::Offloaded => {
            let cpu_ns = s.cpu_ns.clone();
            tokio::task::spawn_blocking(move || {
                let r = result();
                spin(n, &cpu_ns);
                r
            })
            .await
            .unwrap()
        }
    };
    Json(serde_json::json!({"n": n, "result": r}))
}

async fn io(State(s): State<Srv>, RawQuery(q): RawQuery) -> Json<serde_json::Value> {
    let ms = param(&q, "ms");
    tokio::time::sleep(Duration::from_millis(ms)).await;
    let seq = s.seq.fetch_add(1, Ordering::SeqCst);
    Json(serde_json::json!({"ms": ms, "seq": seq}))
}

/// Starts the server on its own thread with a single-threaded runtime (the event loop); returns
/// its address and its CPU counter. The thread lives until the test process ends.
fn server(mode: Mode) -> (SocketAddr, Arc<AtomicU64>) {
    let cpu_ns = Arc::new(AtomicU64::new(0));
    let srv = Srv {
        mode,
        cpu_ns: cpu_ns.clone(),
        seq: Arc::new(AtomicU64::new(0)),
        answers: Arc::new(Mutex::new(HashMap::new())),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            let app = Router::new()
                .route("/cpu", get(cpu))
                .route("/io", get(io))
                .with_state(srv);
            axum::serve(l, app).await.unwrap();
        });
    });
    (rx.recv().unwrap(), cpu_ns)
}

/// The server's CPU: what its `/cpu` handlers spent.
struct HandlerMeter {
    cpu_ns: Arc<AtomicU64>,
    start: u64,
}

impl ServerMeter for HandlerMeter {
    fn begin(&mut self) {
        self.start = self.cpu_ns.load(Ordering::SeqCst);
    }
    fn end(&mut self) -> ServerUsage {
        ServerUsage {
            cpu_s: (self.cpu_ns.load(Ordering::SeqCst) - self.start) as f64 / 1e9,
            samples: serde_json::json!({}),
            ..ServerUsage::default()
        }
    }
    fn check_alive(&mut self) -> Result<(), lab::workload::Gone> {
        Ok(())
    }
}

fn timing() -> Timing {
    let mut t = Timing::quick();
    t.duration = Duration::from_secs(2);
    t.warmup = Duration::from_millis(300);
    t
}

/// The measuring tests run one at a time (they share two CPUs with everything else).
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `f` with a cell context on the server at `addr`.
fn with_cx<T>(
    addr: SocketAddr,
    cpu_ns: &Arc<AtomicU64>,
    target: &str,
    f: impl FnOnce(&mut CellContext<'_>) -> T,
) -> T {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t = timing();
    let mut meter = HandlerMeter {
        cpu_ns: cpu_ns.clone(),
        start: 0,
    };
    let mut services = BTreeMap::new();
    let anchors = BTreeMap::new();
    let stop = StopFlag::new();
    let mut live = |_p: lab::workload::Progress| {};
    let mut cx = CellContext {
        target,
        base_url: format!("http://{addr}"),
        timing: &t,
        client_cpus: &[],
        server_cpus: &[],
        meter: &mut meter,
        services: &mut services,
        stop: &stop,
        anchors: &anchors,
        live: &mut live,
    };
    f(&mut cx)
}

fn spec(id: &str) -> workloads::Workload {
    *workloads::registry().workload(id).expect("registered")
}

#[test]
fn calibration_finds_the_n_that_costs_50_ms_on_a_server_of_known_cost() {
    let (addr, cpu_ns) = server(Mode::Offloaded);
    let w = spec("mixed-time");
    let (p, probes) = with_cx(addr, &cpu_ns, "calibration-known-cost", |cx| {
        mixed::calibrate(cx, &w, 50.0, 0.1, 1_000_000)
    })
    .expect("calibrates");
    // 50 ms at 10 ns per n: n = 5,000,000 (± the tolerance, and the probe's own spread).
    let want = 50_000_000 / NS_PER_N;
    assert!(
        (p.n as f64 - want as f64).abs() <= 0.15 * want as f64,
        "n = {} (want ~{want}); probes {probes:?}",
        p.n
    );
    assert!((45.0..=55.0).contains(&p.cpu_ms), "{p:?}");
    assert!(p.requests >= mixed::MIN_ACCEPTED_RESPONSES, "{p:?}");
    // Started at 1,000,000 (10 ms), so at least two probes, each a real measurement.
    assert!(probes.len() >= 2 && probes[0].n == 1_000_000, "{probes:?}");
    assert!((9.0..=11.0).contains(&probes[0].cpu_ms), "{probes:?}");
}

#[test]
fn calibration_steps_scale_n_and_stay_within_the_contract() {
    let p = |n, cpu_ms| Probe {
        n,
        cpu_ms,
        requests: 20,
        window: mixed::PROBE_WINDOW,
    };
    assert_eq!(mixed::next_n(&p(1_000_000, 1.0), 50.0), 50_000_000);
    assert_eq!(mixed::next_n(&p(1_000_000, 100.0), 50.0), 500_000);
    // At most 100× per step, never beyond the contract's 10⁹.
    assert_eq!(mixed::next_n(&p(1_000_000, 0.01), 50.0), 100_000_000);
    assert_eq!(mixed::next_n(&p(900_000_000, 10.0), 50.0), mixed::MAX_N);
    assert!(mixed::within(&p(1, 54.9), 50.0, 0.1));
    assert!(!mixed::within(&p(1, 55.1), 50.0, 0.1));
    // Too few responses is no calibration, whatever their mean.
    assert!(!mixed::within(
        &Probe {
            n: 1,
            cpu_ms: 50.0,
            requests: 9,
            window: mixed::PROBE_WINDOW,
        },
        50.0,
        0.1
    ));
    // The next window is sized for ~20 responses at the wall time seen, within 1–4 s.
    let slow = Probe {
        n: 1_000_000,
        cpu_ms: 50.0,
        requests: 5,
        window: mixed::PROBE_WINDOW,
    };
    assert_eq!(
        mixed::next_window(&slow, 1_000_000),
        mixed::PROBE_WINDOW_MAX
    );
    assert_eq!(
        mixed::next_window(&p(1_000_000, 50.0), 500_000),
        mixed::PROBE_WINDOW
    );
    assert_eq!(mixed::blocking_ratio(11.0, 36.0, 50.0), Some(0.5));
    assert_eq!(mixed::blocking_ratio(11.0, f64::INFINITY, 50.0), None);
}

#[test]
fn a_server_that_answers_wrong_is_a_clear_calibration_error() {
    let (addr, cpu_ns) = server(Mode::Wrong);
    let w = spec("mixed-time");
    let e = with_cx(addr, &cpu_ns, "calibration-wrong", |cx| {
        mixed::calibrate(cx, &w, 50.0, 0.1, 1_000)
    });
    match e {
        Err(MeasureError::Failed(m)) => {
            assert!(
                m.contains("mixed-time: calibration probe /cpu?n=1000"),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
}

fn measure(mode: Mode, target: &str) -> Measured {
    let (addr, cpu_ns) = server(mode);
    let w = lab::workload::by_id("mixed-time").expect("in the catalogue");
    assert_eq!(w.kind(), Kind::Mixed);
    with_cx(addr, &cpu_ns, target, |cx| w.measure(cx)).expect("measures")
}

/// A one-target run holding the measured `mixed-time` repeats as the store would summarise them.
fn run_of(target: &str, repeats: &[Measured]) -> RunSummary {
    let spread = |id: &str| {
        Spread::of(
            &repeats
                .iter()
                .filter_map(|m| m.repeat.metric(id))
                .collect::<Vec<_>>(),
        )
    };
    let w = lab::workload::by_id("mixed-time").unwrap();
    let mut cell = CellSummary {
        target: target.into(),
        workload: "mixed-time".into(),
        status: CellStatus::Ok,
        repeats: repeats.len() as u32,
        metrics: BTreeMap::new(),
        ladder: repeats
            .iter()
            .flat_map(|m| m.ladder.clone())
            .collect::<Vec<LadderPoint>>(),
        capacity_rps: None,
        slo_p99_ms: None,
        lower_bound: false,
        params: w.params(&timing()),
        warnings: vec![],
    };
    for id in ["p99_ms", "heavy_n", "heavy_cpu_ms", "blocking_ratio"] {
        cell.set(id, spread(id));
    }
    RunSummary {
        run_id: 1,
        started_at: "2026-12-06T00:00:00Z".into(),
        finished_at: None,
        machine: Machine {
            cpu_model: "test".into(),
            cores: 2,
            kernel: "test".into(),
            os: "test".into(),
            memory_mb: 1024,
            runtimes: BTreeMap::new(),
            server_cpus: vec![],
            client_cpus: vec![],
        },
        settings: BTreeMap::new(),
        targets: vec![TargetSummary {
            name: target.into(),
            language: "node".into(),
            framework: target.into(),
            versions: BTreeMap::new(),
            config: BTreeMap::new(),
            metrics: BTreeMap::new(),
            failure: None,
        }],
        cells: vec![cell],
        warnings: vec![],
    }
}

fn decide(run: &RunSummary) -> claims::rules::Outcome {
    let rule = claims::RuleSpec::LoopBlocking {
        group: vec!["node".into()],
        share: 0.5,
        context: vec![],
        workload: "mixed-time".into(),
        beside: None,
    };
    claims::rules::evaluate(
        &rule,
        &["mixed-time".to_string()],
        run,
        &claims::Catalogue::builtin(),
    )
}

#[test]
fn a_server_that_runs_the_heavy_request_on_its_loop_is_decided_blocked() {
    let reps = [
        measure(Mode::Blocking, "loop-blocking"),
        measure(Mode::Blocking, "loop-blocking"),
    ];
    for m in &reps {
        assert!(m.repeat.clean, "{:?}", m.warnings);
        let heavy = m.repeat.metric("heavy_cpu_ms").unwrap();
        assert!((45.0..=55.0).contains(&heavy), "{heavy}");
        let ratio = m.repeat.metric("blocking_ratio").unwrap();
        assert!(ratio >= 0.5, "blocking ratio {ratio}: {:?}", m.ladder);
    }
    let o = decide(&run_of("loop-blocking", &reps));
    assert_eq!(
        o.verdict,
        claims::verdict::Verdict::Supported,
        "{}",
        o.reason
    );
    assert!(
        o.reason.contains("1 of 1 node targets blocked"),
        "{}",
        o.reason
    );
}

#[test]
fn a_server_that_runs_the_heavy_request_on_another_thread_is_decided_clear() {
    let reps = [
        measure(Mode::Offloaded, "offloaded"),
        measure(Mode::Offloaded, "offloaded"),
    ];
    for m in &reps {
        assert!(m.repeat.clean, "{:?}", m.warnings);
        let heavy = m.repeat.metric("heavy_cpu_ms").unwrap();
        assert!((45.0..=55.0).contains(&heavy), "{heavy}");
    }
    let o = decide(&run_of("offloaded", &reps));
    assert_eq!(o.verdict, claims::verdict::Verdict::Refuted, "{}", o.reason);
    assert!(
        o.reason.contains("0 of 1 node targets blocked"),
        "{}",
        o.reason
    );
}

#[test]
fn the_equal_work_variant_keeps_its_fixed_n_and_prices_it() {
    let m = lab::workload::by_id("mixed").unwrap();
    let spec = spec("mixed");
    assert!(matches!(
        mixed::Mixed { spec }.heavy_kind(),
        Heavy::Fixed(1_000_000)
    ));
    let p = m.params(&timing());
    assert_eq!(p["heavy_path"], "/cpu?n=1000000");
    let spec = spec_time();
    assert!(matches!(
        mixed::Mixed { spec }.heavy_kind(),
        Heavy::Calibrated { target_ms, tolerance, .. } if target_ms == 50.0 && tolerance == 0.1
    ));
}

fn spec_time() -> workloads::Workload {
    spec("mixed-time")
}
