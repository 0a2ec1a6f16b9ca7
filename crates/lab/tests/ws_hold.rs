//! End-to-end tests of the `ws-hold` workload: its WebSocket client against in-process axum
//! WebSocket servers (a faithful echo, one that refuses upgrades after K, one that closes
//! connections after K, one that stops echoing), counting what was held and why the rest failed,
//! within the run's time bound; and the whole workload through `Workload::measure` with a meter
//! that reads this process (the server runs in it), Ctrl-C included.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use lab::workload::ws_hold::{self, FailKind, HoldConfig, Progress, Signal};
use lab::workload::{CellContext, Kind, MeasureError, ServerMeter, ServerUsage, StopFlag, Timing};

#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    Echo,
    /// Upgrades after the first K are answered `503`.
    RefuseAfter(usize),
    /// Connections after the first K are closed by the server right after the upgrade.
    CloseAfter(usize),
    /// Connections after the first K never echo.
    SilentAfter(usize),
}

#[derive(Clone)]
struct Srv {
    behaviour: Behaviour,
    count: Arc<AtomicUsize>,
}

async fn ws(State(s): State<Srv>, up: WebSocketUpgrade) -> Response {
    let i = s.count.fetch_add(1, Ordering::SeqCst);
    let beyond = |k: usize| i >= k;
    match s.behaviour {
        Behaviour::RefuseAfter(k) if beyond(k) => {
            (StatusCode::SERVICE_UNAVAILABLE, "full").into_response()
        }
        Behaviour::CloseAfter(k) if beyond(k) => {
            up.on_upgrade(|mut socket: WebSocket| async move {
                let _ = socket.send(Message::Close(None)).await;
            })
        }
        Behaviour::SilentAfter(k) if beyond(k) => {
            up.on_upgrade(|mut socket: WebSocket| async move {
                while let Some(Ok(_)) = socket.recv().await {}
            })
        }
        _ => up.on_upgrade(|mut socket: WebSocket| async move {
            while let Some(Ok(m)) = socket.recv().await {
                let echo = matches!(m, Message::Text(_) | Message::Binary(_));
                if matches!(m, Message::Close(_)) || (echo && socket.send(m).await.is_err()) {
                    return;
                }
            }
        }),
    }
}

/// Starts a server on 127.0.0.1 in a background runtime; returns its address.
fn server(behaviour: Behaviour) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = Router::new().route("/ws", get(ws)).with_state(Srv {
                behaviour,
                count: Arc::new(AtomicUsize::new(0)),
            });
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

fn config(addr: SocketAddr, n: usize, hold: Duration) -> HoldConfig {
    let mut c = HoldConfig::for_base_url(&format!("http://{addr}"), n, hold).unwrap();
    // A short interval so that a short hold still sends several messages per connection.
    c.interval = Duration::from_millis(250);
    c
}

fn run(cfg: HoldConfig) -> (ws_hold::HoldReport, Duration) {
    let bound = cfg.bound();
    let (_tx, rx) = tokio::sync::watch::channel(Signal::Run);
    let started = Instant::now();
    let r = ws_hold::run_client(cfg, Arc::new(Progress::default()), rx);
    let took = started.elapsed();
    assert!(took <= bound, "took {took:?}, bound {bound:?}");
    (r, took)
}

#[test]
fn a_faithful_echo_holds_every_connection_and_echoes_every_message() {
    let addr = server(Behaviour::Echo);
    let (r, _) = run(config(addr, 200, Duration::from_millis(1500)));
    assert_eq!(r.attempted, 200, "{r:?}");
    assert_eq!(r.held, 200, "{}", r.describe_bad());
    assert_eq!(r.errors(), 0, "{}", r.describe_bad());
    assert!(r.failures.is_empty());
    // 200 connections × one message per 250 ms over 1.5 s of hold: ~1,200 echoes in the window.
    assert!(r.echoes_in_hold >= 600, "{r:?}");
    assert_eq!(r.echoes, r.messages_sent);
    assert!(r.echoes_per_s > 300.0, "{r:?}");
    let (p50, p99, max) = (
        r.rtt_p50_us.unwrap(),
        r.rtt_p99_us.unwrap(),
        r.rtt_max_us.unwrap(),
    );
    assert!(p50 > 0.0 && p50 <= p99 && p99 <= max, "{p50} {p99} {max}");
    let h = loadgen::histogram::decode(r.rtt_histogram.as_deref().unwrap()).unwrap();
    assert_eq!(h.len(), r.echoes_in_hold);
    assert!(r.client_busy_hold.is_some());
    assert!(!r.interrupted);
}

#[test]
fn refused_upgrades_are_counted_as_handshake_failures_with_the_status() {
    let addr = server(Behaviour::RefuseAfter(50));
    let (r, _) = run(config(addr, 200, Duration::from_millis(600)));
    assert_eq!((r.attempted, r.held), (200, 50), "{}", r.describe_bad());
    let f = &r.failures[&FailKind::Handshake];
    assert_eq!(f.count, 150);
    assert!(f.sample.contains("503"), "{}", f.sample);
    assert_eq!(r.errors(), 150, "{}", r.describe_bad());
    assert!(r.describe_bad().contains("held 50 of 200"));
}

#[test]
fn connections_closed_by_the_server_are_counted_as_such() {
    let addr = server(Behaviour::CloseAfter(30));
    let (r, _) = run(config(addr, 120, Duration::from_millis(600)));
    assert_eq!((r.attempted, r.held), (120, 30), "{}", r.describe_bad());
    assert_eq!(r.failures[&FailKind::Closed].count, 90, "{r:?}");
    assert_eq!(r.opened, 120);
    assert!(r.errors() >= 90);
}

#[test]
fn missing_echoes_time_out_and_count_as_errors() {
    let addr = server(Behaviour::SilentAfter(20));
    let mut cfg = config(addr, 60, Duration::from_millis(1500));
    cfg.echo_timeout = Duration::from_millis(500);
    let (r, _) = run(cfg);
    assert_eq!(r.attempted, 60);
    assert_eq!(r.held, 20, "{}", r.describe_bad());
    assert_eq!(r.failures[&FailKind::Timeout].count, 40, "{r:?}");
    assert!(r.echoes_missing >= 40, "{r:?}");
    assert!(r.failures[&FailKind::Timeout].sample.contains("no echo"));
}

#[test]
fn nothing_listening_is_a_connect_failure_not_a_hang() {
    // A port that was bound and released: nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (r, took) = run(config(addr, 20, Duration::from_millis(200)));
    assert_eq!((r.attempted, r.held), (20, 0));
    assert_eq!(r.failures[&FailKind::Connect].count, 20, "{r:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn only_loopback_targets_are_accepted() {
    let e = HoldConfig::for_base_url("http://10.0.0.1:80", 10, Duration::from_secs(1)).unwrap_err();
    assert!(matches!(e, ws_hold::HoldError::NotLoopback { .. }), "{e}");
    assert!(e.to_string().contains("loopback"), "{e}");
    let e = HoldConfig::for_base_url("http://127.0.0.1:80", 0, Duration::from_secs(1)).unwrap_err();
    assert_eq!(e, ws_hold::HoldError::Connections { connections: 0 });
    assert!(e.to_string().contains("connections"), "{e}");
}

/// Reads this process (the in-process server lives in it): CPU time and PSS, both real.
struct SelfMeter {
    start: Option<(Instant, f64)>,
}

fn self_pss_mb() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup").ok()?;
    let line = text.lines().find(|l| l.starts_with("Pss:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

impl ServerMeter for SelfMeter {
    fn begin(&mut self) {
        self.start = Some((
            Instant::now(),
            loadgen::cpu::process_cpu_time().total().as_secs_f64(),
        ));
    }
    fn end(&mut self) -> ServerUsage {
        let (_, cpu0) = self.start.take().expect("begun");
        let pss = self_pss_mb();
        ServerUsage {
            cpu_s: loadgen::cpu::process_cpu_time().total().as_secs_f64() - cpu0,
            pss_mean_mb: pss,
            pss_peak_mb: pss,
            steal_pct: None,
            samples: serde_json::json!({}),
        }
    }
    fn check_alive(&mut self) -> Result<(), lab::workload::Gone> {
        Ok(())
    }
}

fn timing(n: usize, hold: Duration) -> Timing {
    let mut t = Timing::quick();
    t.duration = hold;
    t.idle_settle = Duration::from_millis(50);
    t.ws_connections = n;
    t
}

fn measure(
    addr: SocketAddr,
    t: &Timing,
    stop: &StopFlag,
) -> Result<lab::workload::Measured, MeasureError> {
    let mut meter = SelfMeter { start: None };
    let mut services = BTreeMap::new();
    let anchors = BTreeMap::new();
    let mut lines = Vec::new();
    let mut live = |p: lab::workload::Progress| lines.push(p);
    let mut cx = CellContext {
        target: "in-process",
        base_url: format!("http://{addr}"),
        timing: t,
        client_cpus: &[],
        server_cpus: &[],
        meter: &mut meter,
        services: &mut services,
        stop,
        anchors: &anchors,
        live: &mut live,
    };
    let w = lab::workload::by_id("ws-hold").expect("in the catalogue");
    assert_eq!(w.kind(), Kind::Hold);
    assert_eq!(w.endpoints(), &["ws"]);
    w.measure(&mut cx)
}

#[test]
fn the_workload_measures_a_repeat_with_its_hold_figures() {
    let addr = server(Behaviour::Echo);
    let t = timing(200, Duration::from_millis(1500));
    let m = measure(addr, &t, &StopFlag::new()).unwrap();
    let h = &m.repeat;
    assert_eq!(
        (
            h.metric("connections_attempted"),
            h.metric("connections_held")
        ),
        (Some(200.0), Some(200.0))
    );
    assert!(m.repeat.clean, "{:?}", m.warnings);
    assert_eq!(m.errors, 0);
    assert!(h.metric("pss_idle_mb").is_some() && h.metric("pss_mean_mb").is_some());
    assert!(h.metric("mb_per_1k_conns").is_some());
    assert!(h.metric("p99_ms").unwrap() > 0.0);
    // 200 connections, one message per second each.
    let eps = h.metric("throughput_rps").unwrap();
    assert!((100.0..=260.0).contains(&eps), "{eps}");
    assert!(h.metric("server_cpu_us_per_req").unwrap() > 0.0);
    let report: ws_hold::HoldReport = serde_json::from_str(&m.repeat.report_json).unwrap();
    assert_eq!(report.held, 200);
}

#[test]
fn fewer_connections_held_is_a_flagged_result_not_a_failure() {
    let addr = server(Behaviour::RefuseAfter(40));
    let t = timing(100, Duration::from_millis(500));
    let m = measure(addr, &t, &StopFlag::new()).unwrap();
    let h = &m.repeat;
    assert_eq!(
        (
            h.metric("connections_attempted"),
            h.metric("connections_held")
        ),
        (Some(100.0), Some(40.0))
    );
    assert!(!m.repeat.clean);
    assert_eq!(m.errors, 60);
    assert!(
        m.warnings
            .iter()
            .any(|w| w.contains("held 40 of 100") && w.contains("503")),
        "{:?}",
        m.warnings
    );
}

#[test]
fn ctrl_c_ends_a_long_hold_promptly() {
    let addr = server(Behaviour::Echo);
    let t = timing(100, Duration::from_secs(60));
    let stop = StopFlag::new();
    let s2 = stop.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        s2.trigger();
    });
    let started = Instant::now();
    let r = measure(addr, &t, &stop);
    assert_eq!(r.unwrap_err(), MeasureError::Interrupted);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// The full suite's N against the in-process echo (server and client share this process and the
/// machine's CPUs, so the latency is not a figure of anything): the client opens, drives and closes
/// 10,000 connections within its bound. Slow: `cargo test -p lab --test ws_hold -- --ignored`.
#[test]
#[ignore]
fn ten_thousand_connections_within_the_bound() {
    // The client's and the in-process server's sockets: two per connection in this process, so
    // the hard fd limit (20,000 here) may allow a little less than the suite's N.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    let n = ws_hold::CONNECTIONS.min((lim.rlim_max as usize).saturating_sub(256) / 2);
    loadgen::limits::ensure_fd_limit(2 * n as u64 + 128).unwrap();
    let addr = server(Behaviour::Echo);
    let mut cfg =
        HoldConfig::for_base_url(&format!("http://{addr}"), n, Duration::from_secs(3)).unwrap();
    cfg.pin = None;
    let (r, took) = run(cfg);
    eprintln!(
        "{} of {} held in {took:?}; {} echoes/s, p99 {:?} µs, client busy ramp {:?} hold {:?}; {}",
        r.held,
        r.attempted,
        r.echoes_per_s,
        r.rtt_p99_us,
        r.client_busy_ramp,
        r.client_busy_hold,
        r.describe_bad()
    );
    assert_eq!(r.held, n as u64, "{}", r.describe_bad());
}
