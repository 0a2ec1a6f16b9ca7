//! `ws-hold` (held WebSocket connections): opens N WebSocket connections to the target's `GET /ws`
//! echo at a bounded ramp rate, keeps every one of them busy with a small text message every
//! second (each echo's round trip timed), holds them for the measuring window, and reads what
//! holding them costs the server: PSS per 1,000 held connections and CPU per echoed message.
//!
//! The workload brings its own client (tokio-tungstenite on a current-thread runtime, in one
//! thread pinned to the client CPU); the runner is the same as for the HTTP workloads. A target
//! that holds fewer than N connections (gunicorn's sync workers hold one per worker) is a
//! *result*: the repeat says how many were held and why the others failed, and it is flagged (not
//! clean), never dropped.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{sleep_until, timeout, Instant as TInstant};
use tokio_tungstenite::tungstenite::{self, Message};

use super::{CellContext, Kind, MeasureError, Measured, Timing, Workload};
use crate::cpuload;
use crate::stats;

/// Connections of the full suite: "thousands of concurrent connections", on one server CPU.
pub const CONNECTIONS: usize = 10_000;
/// New connections per second during the ramp: 10,000 in 5 s, slow enough that the accept queue
/// and the handshakes are not what is measured.
pub const RAMP_RPS: f64 = 2_000.0;
/// Each held connection sends one message per interval (first one at a random phase).
pub const INTERVAL: Duration = Duration::from_secs(1);
/// TCP connect + WebSocket upgrade must finish within this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// An echo not back within this is missing (and the connection is counted as timed out).
pub const ECHO_TIMEOUT: Duration = Duration::from_secs(5);
/// Closing all connections at the end gets at most this long.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// The client's read buffer per connection (messages are a few dozen bytes).
pub const CLIENT_BUFFER: usize = 4096;
/// The most connections a run may ask for (ephemeral ports on loopback).
pub const MAX_CONNECTIONS: usize = 25_000;

/// Why a connection was not held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailKind {
    /// The TCP connection failed (refused, reset, no port).
    Connect,
    /// The server answered the upgrade with something other than `101 Switching Protocols`, or
    /// broke the handshake.
    Handshake,
    /// The server closed (close frame, EOF, reset) a connection it had upgraded.
    Closed,
    /// The upgrade did not finish within [`CONNECT_TIMEOUT`], or an echo did not come back within
    /// [`ECHO_TIMEOUT`].
    Timeout,
}

impl FailKind {
    pub fn label(self) -> &'static str {
        match self {
            FailKind::Connect => "connect",
            FailKind::Handshake => "handshake status",
            FailKind::Closed => "closed by server",
            FailKind::Timeout => "timeout",
        }
    }
}

/// Failures of one kind, with the first one's message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Failures {
    pub count: u64,
    pub sample: String,
}

/// What the client measured in one repeat (stored as the repeat's `report_json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HoldReport {
    pub attempted: u64,
    /// Upgraded at some point.
    pub opened: u64,
    /// Open when the hold ended.
    pub held: u64,
    /// Connections lost before the hold ended, by kind.
    pub failures: BTreeMap<FailKind, Failures>,
    pub messages_sent: u64,
    pub echoes: u64,
    /// Messages whose echo never came (timed out, or the connection closed first).
    pub echoes_missing: u64,
    /// Echoes that differed from the message (or came out of order), with a sample.
    pub echoes_wrong: u64,
    pub wrong_sample: Option<String>,
    /// Echoes received during the hold window, and their round trips (µs).
    pub echoes_in_hold: u64,
    pub rtt_p50_us: Option<f64>,
    pub rtt_p99_us: Option<f64>,
    pub rtt_max_us: Option<f64>,
    /// The round-trip histogram of the hold window, V2-deflate base64 (loadgen::histogram).
    pub rtt_histogram: Option<String>,
    pub ramp_s: f64,
    /// The handshake rate, its own figure (issue 14): connections upgraded by the end of the ramp
    /// (every attempt resolved) per second of it. A server that upgrades slower than the ramp
    /// offers misses connections by upgrade time-outs, not by being unable to hold them.
    #[serde(default)]
    pub upgrades_per_s: f64,
    /// Attempts whose upgrade did not finish within the connect timeout (also counted among the
    /// `timeout` failures).
    #[serde(default)]
    pub upgrade_timeouts: u64,
    pub hold_s: f64,
    pub echoes_per_s: f64,
    /// Busy fraction of the client thread during the ramp and during the hold.
    pub client_busy_ramp: Option<f64>,
    pub client_busy_hold: Option<f64>,
    pub interrupted: bool,
    pub notes: Vec<String>,
}

impl HoldReport {
    pub fn failed(&self) -> u64 {
        self.failures.values().map(|f| f.count).sum()
    }

    /// Failed connections + missing and wrong echoes: 0 = clean.
    pub fn errors(&self) -> u64 {
        self.failed() + self.echoes_missing + self.echoes_wrong
    }

    /// One line: held/attempted, failures by kind with a sample each, echo problems.
    pub fn describe_bad(&self) -> String {
        let mut parts = vec![format!(
            "held {} of {} connections",
            self.held, self.attempted
        )];
        for (k, f) in &self.failures {
            parts.push(format!("{} {} (e.g. {})", f.count, k.label(), f.sample));
        }
        if self.echoes_missing > 0 {
            parts.push(format!(
                "{} of {} messages not echoed",
                self.echoes_missing, self.messages_sent
            ));
        }
        if self.echoes_wrong > 0 {
            parts.push(format!(
                "{} wrong echoes (e.g. {})",
                self.echoes_wrong,
                self.wrong_sample.as_deref().unwrap_or("?")
            ));
        }
        parts.join("; ")
    }
}

/// The client's settings for one repeat.
#[derive(Debug, Clone)]
pub struct HoldConfig {
    pub addr: SocketAddr,
    /// `ws://127.0.0.1:PORT/ws`.
    pub url: String,
    pub connections: usize,
    pub ramp_rps: f64,
    pub interval: Duration,
    pub hold: Duration,
    pub connect_timeout: Duration,
    pub echo_timeout: Duration,
    pub close_timeout: Duration,
    pub pin: Option<usize>,
}

/// Why a ws-hold client cannot run: its base URL or connection count (as given), the fd limit,
/// or its thread.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HoldError {
    #[error("ws-hold: base URL {base_url} is not http://HOST:PORT")]
    NotHttp { base_url: String },
    #[error("ws-hold: base URL {base_url} is not http://IP:PORT")]
    NotIp { base_url: String },
    #[error("ws-hold: {base_url} is not a loopback address; load goes to loopback only")]
    NotLoopback { base_url: String },
    #[error("ws-hold: connections must be 1 to {MAX_CONNECTIONS} (got {connections})")]
    Connections { connections: usize },
    #[error("ws-hold: {0}")]
    FdLimit(String),
    #[error("ws-hold: cannot start the client thread: {0}")]
    Thread(String),
    #[error("ws-hold: the client thread panicked")]
    Panicked,
}

impl HoldConfig {
    /// The ws:// URL and address of a lab base URL (`http://127.0.0.1:PORT`), loopback only.
    pub fn for_base_url(
        base_url: &str,
        connections: usize,
        hold: Duration,
    ) -> Result<HoldConfig, HoldError> {
        let base = || base_url.to_string();
        let rest = base_url
            .strip_prefix("http://")
            .ok_or_else(|| HoldError::NotHttp { base_url: base() })?;
        let hostport = rest.trim_end_matches('/');
        let addr: SocketAddr = hostport
            .parse()
            .map_err(|_| HoldError::NotIp { base_url: base() })?;
        if !addr.ip().is_loopback() {
            return Err(HoldError::NotLoopback { base_url: base() });
        }
        if connections == 0 || connections > MAX_CONNECTIONS {
            return Err(HoldError::Connections { connections });
        }
        Ok(HoldConfig {
            addr,
            url: format!("ws://{hostport}/ws"),
            connections,
            ramp_rps: RAMP_RPS,
            interval: INTERVAL,
            hold,
            connect_timeout: CONNECT_TIMEOUT,
            echo_timeout: ECHO_TIMEOUT,
            close_timeout: CLOSE_TIMEOUT,
            pin: None,
        })
    }

    pub fn ramp(&self) -> Duration {
        Duration::from_secs_f64(self.connections as f64 / self.ramp_rps)
    }

    /// The longest a run can take: every phase at its bound.
    pub fn bound(&self) -> Duration {
        self.ramp()
            + self.connect_timeout
            + self.hold
            + self.echo_timeout
            + self.close_timeout * 2
            + Duration::from_secs(2)
    }
}

/// The client's phase, as the orchestrating thread sees it.
pub mod phase {
    pub const RAMP: u8 = 0;
    pub const HOLD: u8 = 1;
    pub const DRAIN: u8 = 2;
    pub const DONE: u8 = 3;
}

/// What the client shares with the thread that started it (live line, window alignment).
#[derive(Debug, Default)]
pub struct Progress {
    pub phase: AtomicU8,
    pub opened: AtomicU64,
    pub open_now: AtomicU64,
    pub failed: AtomicU64,
    pub echoes: AtomicU64,
}

/// What the connections are told to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Run,
    /// Stop sending; close once every sent message is echoed (or timed out).
    Drain,
    /// Close now.
    Close,
}

/// A running client: its thread, its progress, and the way to stop it.
pub struct Client {
    thread: std::thread::JoinHandle<HoldReport>,
    pub progress: Arc<Progress>,
    signal: watch::Sender<Signal>,
}

impl Client {
    /// Starts the client thread (pinned to `cfg.pin`). It raises the fd limit first.
    pub fn start(cfg: HoldConfig) -> Result<Client, HoldError> {
        loadgen::limits::ensure_fd_limit(loadgen::limits::fds_needed(cfg.connections, 1, true))
            .map_err(|e| HoldError::FdLimit(e.message))?;
        let progress = Arc::new(Progress::default());
        let (tx, rx) = watch::channel(Signal::Run);
        let p = progress.clone();
        let thread = std::thread::Builder::new()
            .name("ws-hold".into())
            .spawn(move || run_client(cfg, p, rx))
            .map_err(|e| HoldError::Thread(e.to_string()))?;
        Ok(Client {
            thread,
            progress,
            signal: tx,
        })
    }

    pub fn phase(&self) -> u8 {
        self.progress.phase.load(Ordering::SeqCst)
    }

    /// Ends the run now (Ctrl-C): connections close, the report keeps what was measured.
    pub fn stop(&self) {
        let _ = self.signal.send(Signal::Close);
    }

    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    pub fn join(self) -> Result<HoldReport, HoldError> {
        self.thread.join().map_err(|_| HoldError::Panicked)
    }
}

/// Runs a whole repeat on the calling thread (tests, and [`Client`]'s thread).
pub fn run_client(
    cfg: HoldConfig,
    progress: Arc<Progress>,
    signal: watch::Receiver<Signal>,
) -> HoldReport {
    let mut notes = Vec::new();
    if let Some(cpu) = cfg.pin {
        if let Err(e) = loadgen::cpu::pin_current_thread(cpu) {
            notes.push(format!("pinning the client to CPU {cpu} failed: {e}"));
        }
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            progress.phase.store(phase::DONE, Ordering::SeqCst);
            return HoldReport {
                notes: vec![format!("cannot build the client runtime: {e}")],
                interrupted: true,
                ..HoldReport::default()
            };
        }
    };
    let local = tokio::task::LocalSet::new();
    let mut report = local.block_on(&rt, drive(cfg, progress.clone(), signal));
    // Whatever is still running (bounded by the close timeout) is dropped with the runtime.
    drop(local);
    drop(rt);
    report.notes.extend(notes);
    progress.phase.store(phase::DONE, Ordering::SeqCst);
    report
}

/// Shared by the connection tasks (one thread: `Rc<RefCell<_>>`).
struct State {
    start: Instant,
    phase: u8,
    hold_window: Option<(Instant, Option<Instant>)>,
    rtt: Histogram<u64>,
    failures: BTreeMap<FailKind, Failures>,
    sent: u64,
    echoes: u64,
    echoes_in_hold: u64,
    missing: u64,
    wrong: u64,
    wrong_sample: Option<String>,
    pending_connects: usize,
    tasks: usize,
    upgrade_timeouts: u64,
}

impl State {
    fn fail(&mut self, kind: FailKind, msg: String, progress: &Progress) {
        // Only what happens before the hold ends decides whether a connection was held.
        if self.phase >= phase::DRAIN {
            return;
        }
        progress.failed.fetch_add(1, Ordering::Relaxed);
        let f = self.failures.entry(kind).or_default();
        if f.count == 0 {
            f.sample = msg;
        }
        f.count += 1;
    }

    fn in_hold(&self, at: Instant) -> bool {
        match self.hold_window {
            Some((s, None)) => at >= s,
            Some((s, Some(e))) => at >= s && at <= e,
            None => false,
        }
    }
}

/// The next change of the orchestrator's signal; never, once its sender is gone.
async fn changed(rx: &mut watch::Receiver<Signal>) {
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn closing(rx: &watch::Receiver<Signal>) -> bool {
    *rx.borrow() == Signal::Close
}

async fn drive(
    cfg: HoldConfig,
    progress: Arc<Progress>,
    mut signal: watch::Receiver<Signal>,
) -> HoldReport {
    // What the connection tasks are told (the orchestrator's Close is passed on).
    let (tell, told) = watch::channel(Signal::Run);
    let cfg = Rc::new(cfg);
    let st = Rc::new(RefCell::new(State {
        start: Instant::now(),
        phase: phase::RAMP,
        hold_window: None,
        rtt: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
        failures: BTreeMap::new(),
        sent: 0,
        echoes: 0,
        echoes_in_hold: 0,
        missing: 0,
        wrong: 0,
        wrong_sample: None,
        pending_connects: 0,
        tasks: 0,
        upgrade_timeouts: 0,
    }));
    let done = Rc::new(tokio::sync::Notify::new());
    let cpu0 = loadgen::cpu::thread_cpu_time();
    let start = Instant::now();
    let tstart = TInstant::from_std(start);
    let mut attempted = 0usize;
    let mut seed =
        (start.elapsed().as_nanos() as u64) ^ 0x9e37_79b9_7f4a_7c15 ^ (cfg.addr.port() as u64);
    // Ramp: connection i is started at i / ramp_rps.
    while attempted < cfg.connections && !closing(&signal) {
        let due =
            ((start.elapsed().as_secs_f64() * cfg.ramp_rps) as usize + 1).min(cfg.connections);
        while attempted < due {
            seed = xorshift(seed);
            let phase_offset = Duration::from_nanos(seed % cfg.interval.as_nanos().max(1) as u64);
            {
                let mut s = st.borrow_mut();
                s.pending_connects += 1;
                s.tasks += 1;
            }
            tokio::task::spawn_local(connection(
                cfg.clone(),
                st.clone(),
                progress.clone(),
                told.clone(),
                phase_offset,
                done.clone(),
            ));
            attempted += 1;
        }
        if attempted >= cfg.connections {
            break;
        }
        let next = tstart + Duration::from_secs_f64(attempted as f64 / cfg.ramp_rps);
        tokio::select! {
            _ = sleep_until(next) => {}
            _ = changed(&mut signal) => {}
        }
    }
    // Every attempt resolves (upgraded, failed or timed out) within the connect timeout.
    let resolve_by = TInstant::now() + cfg.connect_timeout + Duration::from_millis(500);
    while st.borrow().pending_connects > 0 && !closing(&signal) && TInstant::now() < resolve_by {
        tokio::select! {
            _ = sleep_until((TInstant::now() + Duration::from_millis(10)).min(resolve_by)) => {}
            _ = changed(&mut signal) => {}
        }
    }
    let ramp_s = start.elapsed().as_secs_f64();
    let upgraded_in_ramp = progress.opened.load(Ordering::SeqCst);
    let cpu_ramp = loadgen::cpu::thread_cpu_time();
    let busy = |a: loadgen::cpu::CpuTime, b: loadgen::cpu::CpuTime, wall: f64| {
        (wall > 0.0).then(|| b.since(a).total().as_secs_f64() / wall)
    };
    let client_busy_ramp = busy(cpu0, cpu_ramp, ramp_s);
    // Hold.
    let hold_start = Instant::now();
    {
        let mut s = st.borrow_mut();
        s.phase = phase::HOLD;
        s.hold_window = Some((hold_start, None));
    }
    progress.phase.store(phase::HOLD, Ordering::SeqCst);
    let hold_end = TInstant::from_std(hold_start) + cfg.hold;
    while !closing(&signal) && TInstant::now() < hold_end {
        tokio::select! {
            _ = sleep_until(hold_end) => {}
            _ = changed(&mut signal) => {}
        }
    }
    let hold_s = hold_start.elapsed().as_secs_f64();
    let cpu_hold = loadgen::cpu::thread_cpu_time();
    let held = progress.open_now.load(Ordering::SeqCst);
    {
        let mut s = st.borrow_mut();
        s.phase = phase::DRAIN;
        s.hold_window = Some((hold_start, Some(Instant::now())));
    }
    progress.phase.store(phase::DRAIN, Ordering::SeqCst);
    let interrupted = closing(&signal);
    // Drain: no new messages; each connection closes once its last echo is back (or late).
    if !interrupted {
        let _ = tell.send(Signal::Drain);
        let drain_by = TInstant::now() + cfg.echo_timeout + Duration::from_millis(200);
        wait_tasks(&st, &done, &mut signal, drain_by, true).await;
    }
    // Close whatever is left.
    let _ = tell.send(Signal::Close);
    let close_by = TInstant::now() + cfg.close_timeout;
    wait_tasks(&st, &done, &mut signal, close_by, false).await;
    let s = st.borrow();
    let mut notes = Vec::new();
    if s.tasks > 0 {
        notes.push(format!(
            "{} connections did not close within {:?} and were dropped",
            s.tasks, cfg.close_timeout
        ));
    }
    let has = !s.rtt.is_empty();
    HoldReport {
        attempted: attempted as u64,
        opened: progress.opened.load(Ordering::SeqCst),
        held,
        failures: s.failures.clone(),
        messages_sent: s.sent,
        echoes: s.echoes,
        echoes_missing: s.missing,
        echoes_wrong: s.wrong,
        wrong_sample: s.wrong_sample.clone(),
        echoes_in_hold: s.echoes_in_hold,
        rtt_p50_us: has.then(|| s.rtt.value_at_quantile(0.50) as f64),
        rtt_p99_us: has.then(|| s.rtt.value_at_quantile(0.99) as f64),
        rtt_max_us: has.then(|| s.rtt.max() as f64),
        rtt_histogram: has.then(|| loadgen::histogram::encode(&s.rtt)),
        ramp_s,
        upgrades_per_s: if ramp_s > 0.0 {
            upgraded_in_ramp as f64 / ramp_s
        } else {
            0.0
        },
        upgrade_timeouts: s.upgrade_timeouts,
        hold_s,
        echoes_per_s: if hold_s > 0.0 {
            s.echoes_in_hold as f64 / hold_s
        } else {
            0.0
        },
        client_busy_ramp,
        client_busy_hold: busy(cpu_ramp, cpu_hold, hold_s),
        interrupted,
        notes,
    }
}

async fn wait_tasks(
    st: &Rc<RefCell<State>>,
    done: &Rc<tokio::sync::Notify>,
    signal: &mut watch::Receiver<Signal>,
    by: TInstant,
    stop_on_close: bool,
) {
    while st.borrow().tasks > 0 && TInstant::now() < by {
        if stop_on_close && closing(signal) {
            return;
        }
        tokio::select! {
            _ = done.notified() => {}
            _ = sleep_until((TInstant::now() + Duration::from_millis(20)).min(by)) => {}
            _ = changed(signal), if stop_on_close => {}
        }
    }
}

fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// Ends a connection task: counts it out and wakes the driver.
struct TaskGuard {
    st: Rc<RefCell<State>>,
    done: Rc<tokio::sync::Notify>,
    connecting: bool,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        let mut s = self.st.borrow_mut();
        s.tasks -= 1;
        if self.connecting {
            s.pending_connects -= 1;
        }
        drop(s);
        self.done.notify_one();
    }
}

fn status_sample(e: &tungstenite::Error) -> (FailKind, String) {
    match e {
        tungstenite::Error::Http(resp) => (
            FailKind::Handshake,
            format!("the upgrade was answered with HTTP {}", resp.status()),
        ),
        tungstenite::Error::Io(io) => (
            FailKind::Handshake,
            format!("the connection failed during the upgrade: {io}"),
        ),
        other => (FailKind::Handshake, format!("upgrade failed: {other}")),
    }
}

async fn connection(
    cfg: Rc<HoldConfig>,
    st: Rc<RefCell<State>>,
    progress: Arc<Progress>,
    mut signal: watch::Receiver<Signal>,
    phase_offset: Duration,
    done: Rc<tokio::sync::Notify>,
) {
    let mut guard = TaskGuard {
        st: st.clone(),
        done,
        connecting: true,
    };
    let connect = async {
        let tcp = TcpStream::connect(cfg.addr).await.map_err(|e| {
            (
                FailKind::Connect,
                format!("TCP connect to {}: {e}", cfg.addr),
            )
        })?;
        let _ = tcp.set_nodelay(true);
        // Small buffers: tungstenite's default 128 KiB read buffer per connection would cost the
        // client 1.3 GB at 10,000 connections on the machine the server is measured on.
        let ws_cfg = tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(CLIENT_BUFFER)
            .write_buffer_size(0);
        tokio_tungstenite::client_async_with_config(cfg.url.as_str(), tcp, Some(ws_cfg))
            .await
            .map(|(ws, _)| ws)
            .map_err(|e| status_sample(&e))
    };
    let res = tokio::select! {
        r = timeout(cfg.connect_timeout, connect) => r,
        _ = wait_close(&mut signal) => return,
    };
    guard.connecting = false;
    st.borrow_mut().pending_connects -= 1;
    let mut ws = match res {
        Ok(Ok(ws)) => ws,
        Ok(Err((kind, msg))) => {
            st.borrow_mut().fail(kind, msg, &progress);
            return;
        }
        Err(_) => {
            st.borrow_mut().upgrade_timeouts += 1;
            st.borrow_mut().fail(
                FailKind::Timeout,
                format!("no WebSocket upgrade within {:?}", cfg.connect_timeout),
                &progress,
            );
            return;
        }
    };
    progress.opened.fetch_add(1, Ordering::Relaxed);
    progress.open_now.fetch_add(1, Ordering::SeqCst);
    let _open = OpenGuard(progress.clone());
    let start = st.borrow().start;
    let mut seq: u64 = 0;
    let mut outstanding: VecDeque<(Instant, String)> = VecDeque::new();
    let mut next_send = TInstant::now() + phase_offset;
    let far = TInstant::now() + Duration::from_secs(86_400);
    let lost = |st: &Rc<RefCell<State>>, n: usize| st.borrow_mut().missing += n as u64;
    loop {
        let told = *signal.borrow();
        if told == Signal::Close {
            break;
        }
        let draining = told == Signal::Drain;
        if draining && outstanding.is_empty() {
            break;
        }
        let overdue_at = outstanding
            .front()
            .map(|(t, _)| TInstant::from_std(*t) + cfg.echo_timeout)
            .unwrap_or(far);
        let send_at = if draining { far } else { next_send };
        tokio::select! {
            biased;
            r = signal.changed() => {
                if r.is_err() {
                    break; // the client is gone
                }
                continue;
            }
            _ = sleep_until(overdue_at) => {
                let n = outstanding.len();
                let seq_front = outstanding.front().map(|(_, m)| m.clone()).unwrap_or_default();
                lost(&st, n);
                st.borrow_mut().fail(
                    FailKind::Timeout,
                    format!("no echo of \"{seq_front}\" within {:?}", cfg.echo_timeout),
                    &progress,
                );
                let _ = timeout(cfg.close_timeout, ws.close(None)).await;
                return;
            }
            m = ws.next() => {
                let now = Instant::now();
                match m {
                    Some(Ok(Message::Text(t))) => {
                        let mut s = st.borrow_mut();
                        match outstanding.pop_front() {
                            Some((sent, text)) if text == t.as_str() => {
                                s.echoes += 1;
                                progress.echoes.fetch_add(1, Ordering::Relaxed);
                                if s.in_hold(now) {
                                    s.echoes_in_hold += 1;
                                    let us = now.duration_since(sent).as_micros().max(1) as u64;
                                    s.rtt.saturating_record(us);
                                }
                            }
                            Some((_, text)) => {
                                s.wrong += 1;
                                if s.wrong_sample.is_none() {
                                    s.wrong_sample = Some(format!("sent \"{text}\", got \"{}\"", short(t.as_str())));
                                }
                            }
                            None => {
                                s.wrong += 1;
                                if s.wrong_sample.is_none() {
                                    s.wrong_sample = Some(format!("unsolicited message \"{}\"", short(t.as_str())));
                                }
                            }
                        }
                    }
                    Some(Ok(Message::Binary(b))) => {
                        let mut s = st.borrow_mut();
                        outstanding.pop_front();
                        s.wrong += 1;
                        if s.wrong_sample.is_none() {
                            s.wrong_sample = Some(format!("a text message was echoed as {} binary bytes", b.len()));
                        }
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                    Some(Ok(Message::Close(frame))) => {
                        lost(&st, outstanding.len());
                        let why = match frame {
                            Some(f) => format!("close frame {} \"{}\"", u16::from(f.code), short(&f.reason)),
                            None => "close frame without a code".to_string(),
                        };
                        st.borrow_mut().fail(FailKind::Closed, why, &progress);
                        return;
                    }
                    Some(Err(e)) => {
                        lost(&st, outstanding.len());
                        st.borrow_mut().fail(FailKind::Closed, format!("connection lost: {e}"), &progress);
                        return;
                    }
                    None => {
                        lost(&st, outstanding.len());
                        st.borrow_mut().fail(FailKind::Closed, "the server ended the connection (EOF)".into(), &progress);
                        return;
                    }
                }
            }
            _ = sleep_until(send_at) => {
                let now = Instant::now();
                let text = format!("{seq} {}", now.duration_since(start).as_micros());
                seq += 1;
                next_send += cfg.interval;
                if next_send < TInstant::now() {
                    next_send = TInstant::now() + cfg.interval;
                }
                match ws.send(Message::text(text.clone())).await {
                    Ok(()) => {
                        st.borrow_mut().sent += 1;
                        outstanding.push_back((now, text));
                    }
                    Err(e) => {
                        lost(&st, outstanding.len());
                        st.borrow_mut().fail(FailKind::Closed, format!("send failed: {e}"), &progress);
                        return;
                    }
                }
            }
        }
    }
    // Closing: messages still in flight are missing.
    lost(&st, outstanding.len());
    let _ = timeout(cfg.close_timeout, ws.close(None)).await;
}

/// Counts an upgraded connection out of `open_now` when its task ends.
struct OpenGuard(Arc<Progress>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open_now.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn wait_close(signal: &mut watch::Receiver<Signal>) {
    loop {
        if closing(signal) {
            return;
        }
        if signal.changed().await.is_err() {
            return; // the client is gone
        }
    }
}

fn short(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s.to_string()
    }
}

/// A held-connections workload of the registry (kind `Hold`). Its client's settings are the
/// constants above; the registry entry's parameters state them (a test checks they agree).
pub struct WsHold {
    pub spec: workloads::Workload,
}

impl WsHold {
    /// The client's settings for a repeat against `base_url`.
    pub fn config(&self, base_url: &str, t: &Timing) -> Result<HoldConfig, HoldError> {
        HoldConfig::for_base_url(base_url, t.ws_connections, t.duration)
    }
}

fn ramp_of(t: &Timing) -> Duration {
    Duration::from_secs_f64(t.ws_connections as f64 / RAMP_RPS)
}

impl Workload for WsHold {
    fn id(&self) -> &'static str {
        self.spec.id
    }

    fn kind(&self) -> Kind {
        Kind::Hold
    }

    fn describe(&self) -> String {
        format!(
            "WebSocket /ws: open connections at {RAMP_RPS} /s, each echoing a message every {}s, hold → connections held, MB per 1,000",
            INTERVAL.as_secs_f64()
        )
    }

    fn endpoints(&self) -> &'static [&'static str] {
        self.spec.endpoints
    }

    fn services(&self) -> &'static [super::ServiceKind] {
        self.spec.services
    }

    fn params(&self, t: &Timing) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("path".into(), "/ws".into()),
            ("connections".into(), t.ws_connections.to_string()),
            ("ramp_rps".into(), RAMP_RPS.to_string()),
            ("ramp_s".into(), ramp_of(t).as_secs_f64().to_string()),
            ("interval_s".into(), INTERVAL.as_secs_f64().to_string()),
            (
                "message".into(),
                "text \"<seq> <send time µs>\", echoed unchanged and in order".into(),
            ),
            (
                "connect_timeout_s".into(),
                CONNECT_TIMEOUT.as_secs_f64().to_string(),
            ),
            (
                "echo_timeout_s".into(),
                ECHO_TIMEOUT.as_secs_f64().to_string(),
            ),
            ("hold_s".into(), t.duration.as_secs_f64().to_string()),
            (
                "idle_settle_s".into(),
                t.idle_settle.as_secs_f64().to_string(),
            ),
        ])
    }

    /// Memory per held connection is PSS while holding minus PSS just before: only a server that
    /// has never held connections gives a true "before" (a warm Node or Python heap reuses what an
    /// earlier repeat grew, and its growth would read near zero, or below it).
    fn fresh_server(&self) -> bool {
        true
    }

    /// At most two repeats (each on a fresh server, ~13 s): enough to show a spread, and the full
    /// suite stays within its 45-minute budget with this workload in it (the registry's
    /// `max_repeats` says the same to the suite's plan).
    fn repeats(&self, requested: u32) -> u32 {
        requested.min(2)
    }

    fn estimate(&self, t: &Timing) -> Duration {
        t.idle_settle + ramp_of(t) + t.duration + INTERVAL + Duration::from_millis(500)
    }

    fn measure(&self, cx: &mut CellContext<'_>) -> Result<Measured, MeasureError> {
        let mut cfg = self
            .config(&cx.base_url, cx.timing)
            .map_err(|e| MeasureError::Failed(e.to_string()))?;
        cfg.pin = cx.client_cpus.first().copied();
        // The server's idle memory, after the previous repeat's connections are gone.
        let settle_end = Instant::now() + cx.timing.idle_settle;
        while Instant::now() < settle_end {
            if cx.stop.is_set() {
                return Err(MeasureError::Interrupted);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        cx.meter.begin();
        let pss_idle_mb = cx.meter.end().pss_mean_mb;
        let bound = cfg.bound();
        let n = cfg.connections;
        let client = Client::start(cfg).map_err(|e| MeasureError::Failed(e.to_string()))?;
        let started = Instant::now();
        let mut window: Option<(Instant, cpuload::CpuSnapshot, cpuload::CpuSnapshot)> = None;
        let mut began = false;
        let mut ended: Option<(super::ServerUsage, Option<f64>, Option<f64>)> = None;
        let mut last_live = Instant::now() - Duration::from_secs(1);
        let mut over_bound = false;
        loop {
            if cx.stop.is_set() {
                client.stop();
                let _ = client.join();
                if window.is_some() {
                    let _ = cx.meter.end();
                }
                return Err(MeasureError::Interrupted);
            }
            let ph = client.phase();
            if ph >= phase::HOLD && !began {
                began = true;
                window = Some((
                    Instant::now(),
                    cpuload::snapshot(cx.client_cpus),
                    cpuload::snapshot(cx.server_cpus),
                ));
                cx.meter.begin();
            }
            if ph >= phase::DRAIN && ended.is_none() {
                if let Some((at, c0, s0)) = window.take() {
                    let usage = cx.meter.end();
                    let (c, f) = cx.client_and_foreign(at, c0, s0, usage.cpu_s);
                    ended = Some((usage, c, f));
                }
            }
            if client.is_finished() {
                break;
            }
            if !over_bound && started.elapsed() > bound {
                // Cannot happen unless a bound above is broken; end the run rather than hang.
                over_bound = true;
                client.stop();
            }
            if last_live.elapsed() >= Duration::from_millis(250) {
                let p = &client.progress;
                let what = match ph {
                    phase::RAMP => super::Phase::Opening,
                    phase::HOLD => super::Phase::Holding,
                    _ => super::Phase::Closing,
                };
                (cx.live)(super::Progress {
                    elapsed_s: Some(started.elapsed().as_secs_f64()),
                    ..super::Progress::phase(what)
                        .figure("open", p.open_now.load(Ordering::Relaxed) as f64)
                        .figure("target_connections", n as f64)
                        .figure("failed", p.failed.load(Ordering::Relaxed) as f64)
                        .figure("echoes", p.echoes.load(Ordering::Relaxed) as f64)
                });
                last_live = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut report = client
            .join()
            .map_err(|e| MeasureError::Failed(e.to_string()))?;
        if over_bound {
            report.notes.push(format!(
                "the run passed its time bound ({bound:?}) and was ended"
            ));
        }
        // No hold seen (the client could not run): no server window, no usage.
        let (usage, client_cpus_busy, server_foreign) = ended.unwrap_or_default();
        cx.meter.check_alive().map_err(MeasureError::died)?;
        Ok(measured(
            report,
            usage,
            pss_idle_mb,
            client_cpus_busy,
            server_foreign,
        ))
    }
}

/// MB of server PSS per 1,000 held connections: (PSS while holding − idle PSS) / held × 1000.
pub fn mb_per_1k(pss_hold_mb: Option<f64>, pss_idle_mb: Option<f64>, held: u64) -> Option<f64> {
    match (pss_hold_mb, pss_idle_mb) {
        (Some(h), Some(i)) if held > 0 => Some((h - i) / held as f64 * 1000.0),
        _ => None,
    }
}

/// A repeat from the client's report and the server's usage over the hold window.
pub fn measured(
    report: HoldReport,
    usage: super::ServerUsage,
    pss_idle_mb: Option<f64>,
    client_cpus_busy: Option<f64>,
    server_foreign: Option<f64>,
) -> Measured {
    let errors = report.errors();
    let client = stats::ClientLoad {
        engine: report.client_busy_hold,
        upstream: None,
        cpus: client_cpus_busy,
    };
    let mut warnings = Vec::new();
    if errors > 0 {
        warnings.push(format!("ws-hold: {}", report.describe_bad()));
    }
    if let Some(w) = stats::lower_bound_warning(&client) {
        warnings.push(w.replace("the load engine", "the WebSocket client"));
    }
    if let Some(w) = server_foreign.and_then(stats::foreign_warning) {
        warnings.push(crate::culprits::warning_with_breakdown(w, &usage.samples));
    }
    if let Some(w) = usage.steal_pct.and_then(stats::steal_warning) {
        warnings.push(w);
    }
    for n in &report.notes {
        warnings.push(format!("ws-hold: {n}"));
    }
    if report.interrupted {
        warnings.push("ws-hold: interrupted".into());
    }
    let mut samples = usage.samples.clone();
    if let Some(obj) = samples.as_object_mut() {
        obj.insert("client_cpus_busy".into(), client_cpus_busy.into());
        obj.insert("server_cpus_foreign".into(), server_foreign.into());
        obj.insert("pss_idle_mb".into(), pss_idle_mb.into());
    }
    let echoes = report.echoes_in_hold;
    Measured {
        repeat: store::RepeatRecord {
            clean: errors == 0,
            metrics: Default::default(),
            engine_busy: report.client_busy_hold,
            upstream_busy: None,
            steal_pct: usage.steal_pct,
            capacity_rps: None,
            report_json: serde_json::to_string(&report).expect("a report serialises"),
            samples_json: samples.to_string(),
        }
        .with(&[
            ("throughput_rps", Some(report.echoes_per_s)),
            ("p50_ms", report.rtt_p50_us.map(|u| u / 1000.0)),
            ("p99_ms", report.rtt_p99_us.map(|u| u / 1000.0)),
            (
                "server_cpu_us_per_req",
                (echoes > 0).then(|| usage.cpu_s * 1e6 / echoes as f64),
            ),
            ("pss_mean_mb", usage.pss_mean_mb),
            ("pss_peak_mb", usage.pss_peak_mb),
            ("connections_attempted", Some(report.attempted as f64)),
            ("connections_held", Some(report.held as f64)),
            ("pss_idle_mb", pss_idle_mb),
            (
                "mb_per_1k_conns",
                mb_per_1k(usage.pss_mean_mb, pss_idle_mb, report.held),
            ),
            ("echo_max_ms", report.rtt_max_us.map(|u| u / 1000.0)),
            ("upgrades_per_s", Some(report.upgrades_per_s)),
            ("upgrade_timeouts", Some(report.upgrade_timeouts as f64)),
        ]),
        errors,
        ladder: vec![],
        capacity_rps: None,
        lower_bound: stats::is_lower_bound(&client),
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_loopback_ws_with_a_bound_covering_every_phase() {
        let c = HoldConfig::for_base_url("http://127.0.0.1:8080", 10_000, Duration::from_secs(4))
            .unwrap();
        assert_eq!(c.url, "ws://127.0.0.1:8080/ws");
        assert_eq!(c.ramp(), Duration::from_secs(5));
        assert!(c.bound() >= Duration::from_secs(5 + 5 + 4 + 5 + 4));
        assert!(c.bound() <= Duration::from_secs(30));
        for bad in [
            "https://127.0.0.1:1",
            "http://localhost:80",
            "http://192.168.1.2:80",
        ] {
            assert!(
                HoldConfig::for_base_url(bad, 1, Duration::from_secs(1)).is_err(),
                "{bad}"
            );
        }
        assert!(HoldConfig::for_base_url("http://[::1]:80", 1, Duration::from_secs(1)).is_ok());
        assert!(HoldConfig::for_base_url(
            "http://127.0.0.1:80",
            MAX_CONNECTIONS + 1,
            Duration::from_secs(1)
        )
        .is_err());
    }

    #[test]
    fn memory_per_thousand_is_the_delta_over_held() {
        assert_eq!(mb_per_1k(Some(140.0), Some(40.0), 10_000), Some(10.0));
        assert_eq!(mb_per_1k(Some(140.0), Some(40.0), 0), None);
        assert_eq!(mb_per_1k(None, Some(40.0), 10), None);
    }

    #[test]
    fn errors_and_their_description_name_every_kind_with_a_sample() {
        let mut r = HoldReport {
            attempted: 100,
            held: 3,
            messages_sent: 50,
            echoes_missing: 2,
            ..HoldReport::default()
        };
        r.failures.insert(
            FailKind::Handshake,
            Failures {
                count: 90,
                sample: "the upgrade was answered with HTTP 503".into(),
            },
        );
        r.failures.insert(
            FailKind::Closed,
            Failures {
                count: 7,
                sample: "close frame 1001".into(),
            },
        );
        assert_eq!(r.failed(), 97);
        assert_eq!(r.errors(), 99);
        let d = r.describe_bad();
        assert!(d.starts_with("held 3 of 100 connections"), "{d}");
        assert!(d.contains("90 handshake status (e.g. the upgrade was answered with HTTP 503)"));
        assert!(d.contains("7 closed by server"));
        assert!(d.contains("2 of 50 messages not echoed"));
    }

    #[test]
    fn a_clean_repeat_maps_to_typed_figures() {
        let r = HoldReport {
            attempted: 10,
            held: 10,
            echoes_in_hold: 40,
            echoes_per_s: 10.0,
            rtt_p50_us: Some(300.0),
            rtt_p99_us: Some(900.0),
            rtt_max_us: Some(1500.0),
            client_busy_hold: Some(0.95),
            upgrades_per_s: 2000.0,
            upgrade_timeouts: 3,
            ..HoldReport::default()
        };
        let usage = super::super::ServerUsage {
            cpu_s: 0.004,
            pss_mean_mb: Some(41.0),
            pss_peak_mb: Some(41.5),
            ..Default::default()
        };
        let m = measured(r, usage, Some(40.0), None, None);
        assert!(m.repeat.clean);
        assert_eq!(m.errors, 0);
        let h = &m.repeat;
        assert_eq!(
            (
                h.metric("connections_attempted"),
                h.metric("connections_held")
            ),
            (Some(10.0), Some(10.0))
        );
        assert!((h.metric("mb_per_1k_conns").unwrap() - 100.0).abs() < 1e-9);
        assert_eq!(h.metric("echo_max_ms"), Some(1.5));
        assert_eq!(h.metric("upgrades_per_s"), Some(2000.0));
        assert_eq!(h.metric("upgrade_timeouts"), Some(3.0));
        assert_eq!(m.repeat.metric("p99_ms"), Some(0.9));
        assert!((m.repeat.metric("server_cpu_us_per_req").unwrap() - 100.0).abs() < 1e-9);
        // The client at 95% makes the figures a lower bound, by the HTTP workloads' rule.
        assert!(m.lower_bound);
        assert!(m.warnings.iter().any(|w| w.contains("WebSocket client")));
    }

    #[test]
    fn params_record_the_connection_count_and_ramp() {
        let mut t = Timing::full();
        t.ws_connections = 200;
        let w = WsHold {
            spec: *workloads::registry().workload("ws-hold").unwrap(),
        };
        let p = w.params(&t);
        assert_eq!(p["connections"], "200");
        assert_eq!(p["ramp_rps"], "2000");
        assert_eq!(p["ramp_s"], "0.1");
        assert_eq!(p["hold_s"], "4");
        assert_eq!(w.endpoints(), &["ws"]);
        assert!(w.estimate(&Timing::full()) >= Duration::from_secs(10));
        // The registry states the client's settings.
        let n = |k: &str| w.spec.param(k).unwrap().parse::<f64>().unwrap();
        assert_eq!(n("connections") as usize, CONNECTIONS);
        assert_eq!(n("ramp_rps"), RAMP_RPS);
        assert_eq!(n("interval_s"), INTERVAL.as_secs_f64());
        assert_eq!(n("connect_timeout_s"), CONNECT_TIMEOUT.as_secs_f64());
        assert_eq!(n("echo_timeout_s"), ECHO_TIMEOUT.as_secs_f64());
        assert_eq!(n("max_repeats") as u32, w.repeats(99));
    }
}
