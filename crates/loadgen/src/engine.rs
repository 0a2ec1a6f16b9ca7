//! The engine: resolves and checks the target, spreads connections over threads (one
//! current-thread tokio runtime each, optionally pinned), runs them, merges the threads'
//! statistics and builds the [`Report`].
//!
//! Each thread runs its connection tasks, a watcher task (it hands finished per-second windows to
//! the series collector and cuts the run off at its end or at a stop), and in an open loop the
//! driver of the thread's one slot timer.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::config::{ConfigError, Connect, LoadConfig, OPEN_LOOP_GRACE};
use crate::conn::{run_connection, Counter, Flight, RunShared, ThreadCtx};
use crate::cpu;
use crate::http1::RequestBytes;
use crate::report::{
    Censored, EngineCpu, EngineInfo, Histograms, Latencies, LatencyStats, Mode, RateOutcome,
    Report, RequestCounts, RunConfig, TargetInfo, SCHEMA_VERSION,
};
use crate::series::SeriesCollector;
use crate::stats::{ErrorKind, ThreadStats, WindowClock};
use crate::stop::StopSignal;
use crate::target::{ConnectError, Target};
use crate::timer::{IdleGate, ThreadTimer};

/// Engine utilisation above which the report warns that the engine, not the server, may have
/// been the bottleneck.
const SATURATION_WARNING: f64 = 0.90;

/// How often each thread's watcher looks for a stop and rotates the per-second window.
const WATCH_EVERY: Duration = Duration::from_millis(50);

/// Why a run could not produce a report.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The configuration cannot run; the field at fault is named.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The pre-run connection to the target failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("engine thread {0} failed: {1}")]
    Thread(usize, String),
}

/// Where a running load is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub phase: Phase,
    /// Time spent in the current phase.
    pub elapsed: Duration,
    /// The current phase's planned length, when known.
    pub planned: Option<Duration>,
    /// Measured responses so far.
    pub completed: u64,
    /// Requests asked for (count mode).
    pub requests: Option<u64>,
}

impl Progress {
    /// How far along the current phase is, 0 to 1: the further of elapsed time (when the length
    /// is planned) and responses (when a count is asked for, while measuring).
    pub fn fraction(&self) -> f64 {
        let by_time = self
            .planned
            .filter(|d| !d.is_zero())
            .map(|d| self.elapsed.as_secs_f64() / d.as_secs_f64());
        let by_count = match (self.phase, self.requests) {
            (Phase::Measuring, Some(n)) => Some(self.completed as f64 / n as f64),
            _ => None,
        };
        by_time
            .into_iter()
            .chain(by_count)
            .fold(0.0, f64::max)
            .min(1.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    WarmUp,
    Measuring,
}

/// A run in progress.
pub struct RunHandle {
    shared: Arc<RunShared>,
    progress: Arc<[Counter]>,
    threads: Vec<JoinHandle<ThreadStats>>,
    started_at: SystemTime,
}

/// Validates `cfg`, resolves the target and checks that it answers, and starts the load in
/// background threads.
pub fn start(cfg: LoadConfig) -> Result<RunHandle, EngineError> {
    cfg.validate()?;
    let threads = cfg.threads.min(cfg.connections);
    crate::limits::ensure_fd_limit(crate::limits::fds_needed(
        cfg.connections,
        threads,
        cfg.is_open_loop(),
    ))?;
    let addrs = cfg.target.resolve()?;
    let addr = Target::preflight(&addrs, cfg.connect_timeout)?;
    let now = Instant::now();
    let measure_start = now + cfg.warmup;
    let deadline = measure_start + cfg.stop.time_bound();
    let (grace, drain) = if cfg.is_open_loop() {
        (OPEN_LOOP_GRACE, cfg.drain)
    } else {
        (Duration::ZERO, Duration::ZERO)
    };
    let last_window = match cfg.stop.duration {
        Some(d) => (d.as_nanos().saturating_sub(1) / 1_000_000_000) as u64,
        None => u64::MAX,
    };
    let request = RequestBytes::new(
        &cfg.method,
        &cfg.target.path,
        &cfg.target.host_header,
        cfg.target.authorization.as_ref(),
        &cfg.headers,
        &cfg.body,
    );
    // Validated: absolute paths with optional queries.
    let cycle: Vec<RequestBytes> = cfg
        .paths
        .iter()
        .filter_map(|p| p.parse::<http::Uri>().ok())
        .map(|path| {
            RequestBytes::new(
                &cfg.method,
                &path,
                &cfg.target.host_header,
                cfg.target.authorization.as_ref(),
                &cfg.headers,
                &cfg.body,
            )
        })
        .collect();
    let shared = Arc::new(RunShared {
        request,
        cycle,
        addr,
        deadline,
        cutoff: deadline + grace,
        drain_end: deadline + drain,
        measure_start,
        load_start: now,
        stop: Arc::new(StopSignal::new()),
        clock: WindowClock {
            start: measure_start,
            last: last_window,
        },
        series: SeriesCollector::new(threads),
        cfg,
    });
    let progress: Arc<[Counter]> = (0..threads).map(|_| Counter::default()).collect();
    let mut handles = Vec::with_capacity(threads);
    let mut placed = 0; // connections on the threads before this one
    for t in 0..threads {
        let conns: Vec<usize> = (t..shared.cfg.connections).step_by(threads).collect();
        let budget = shared
            .cfg
            .stop
            .requests
            .map(|n| share(n, placed, conns.len(), shared.cfg.connections));
        placed += conns.len();
        let (shared, progress) = (shared.clone(), progress.clone());
        let handle = std::thread::Builder::new()
            .name(format!("loadgen-{t}"))
            .spawn(move || worker(shared, progress, t, conns, budget))
            .map_err(|e| EngineError::Thread(t, e.to_string()))?;
        handles.push(handle);
    }
    Ok(RunHandle {
        shared,
        progress,
        threads: handles,
        started_at: SystemTime::now() + measure_start.saturating_duration_since(Instant::now()),
    })
}

/// Runs a load to completion.
pub fn run(cfg: LoadConfig) -> Result<Report, EngineError> {
    start(cfg)?.join()
}

/// A thread's share of `n` requests, in proportion to its connections, so that every thread
/// finishes at about the same time: the thread runs `mine` of `connections` connections, and the
/// threads before it run `before`. The shares of all threads add up to `n`.
fn share(n: u64, before: usize, mine: usize, connections: usize) -> u64 {
    let (n, c) = (u128::from(n), connections as u128);
    let cut = |k: usize| n * k as u128 / c;
    (cut(before + mine) - cut(before)) as u64
}

fn worker(
    shared: Arc<RunShared>,
    progress: Arc<[Counter]>,
    index: usize,
    conns: Vec<usize>,
    budget: Option<u64>,
) -> ThreadStats {
    let mut notes = Vec::new();
    if let Some(pin) = &shared.cfg.pin {
        let cpu = pin[index % pin.len()];
        if let Err(e) = cpu::pin_current_thread(cpu) {
            notes.push(format!("thread {index}: pinning to CPU {cpu} failed: {e}"));
        }
    }
    // Open loop: the thread sleeps through response arrivals until its next slots are due (see
    // `IdleGate`), and its sleeps end on time (the kernel's default timer slack is 50 µs). Not
    // when connecting when due: there a response ends its connection, which is closed as the
    // response arrives, since the server may wait for that close (see `crate::conn`).
    let gate =
        (shared.cfg.is_open_loop() && shared.cfg.connect != Connect::WhenDue).then(IdleGate::new);
    let gate_outer = gate.clone();
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_all();
    if let Some(g) = &gate {
        let g = g.clone();
        builder.on_thread_park(move || g.before_park());
        cpu::precise_sleeps();
    }
    let rt = match builder.build() {
        Ok(rt) => rt,
        Err(e) => {
            let mut stats = ThreadStats::default();
            stats.notes.push(format!("thread {index}: no runtime: {e}"));
            return stats;
        }
    };
    let local = tokio::task::LocalSet::new();
    // With a gate, its pacer arms the slot timer when the thread parks; without, every slot
    // scheduled arms it.
    let lazy_timer = gate.is_some();
    let tasks = local.run_until(async move {
        let timer = shared.cfg.is_open_loop().then(|| {
            let (timer, err) = ThreadTimer::new(shared.cfg.timer_slack, lazy_timer);
            if let Some(e) = err {
                notes.push(format!(
                    "thread {index}: precise timer unavailable ({e}); using tokio's 1 ms timer"
                ));
            }
            timer
        });
        let mut stats = ThreadStats {
            clock: Some(shared.clock),
            notes,
            ..ThreadStats::default()
        };
        if budget == Some(0) {
            // A thread with no share of the requests is done as soon as measuring starts.
            stats.budget_spent_at = Some(shared.measure_start);
        }
        let ctx = Rc::new(ThreadCtx {
            run: shared.clone(),
            stats: RefCell::new(stats),
            budget: Cell::new(budget),
            progress,
            thread_index: index,
            timer,
            wakers: RefCell::new(vec![None; conns.len()]),
            cut_at: Cell::new(None),
            flights: (0..conns.len()).map(|_| Cell::new(Flight::Idle)).collect(),
            next_path: conns.iter().map(|&c| Cell::new(c as u64)).collect(),
            overdue: Cell::new(0),
            gate: RefCell::new(gate),
        });
        if ctx.gate.borrow().is_some() {
            let pacer = ctx.clone();
            IdleGate::set_pacer(Some(Box::new(move || pacer.on_idle())));
        }
        // This thread's CPU time is read when measuring starts and when its connections are done.
        let cpu_at_start = Rc::new(Cell::new(None));
        let sampler = {
            let (cell, at) = (cpu_at_start.clone(), shared.measure_start);
            tokio::task::spawn_local(async move {
                tokio::time::sleep_until(at.into()).await;
                cell.set(Some(cpu::thread_cpu_time()));
            })
        };
        let driver = {
            let ctx = ctx.clone();
            tokio::task::spawn_local(async move {
                if let Some(t) = &ctx.timer {
                    t.drive(|who| ctx.slot_due(who)).await;
                }
            })
        };
        let watcher = tokio::task::spawn_local(watch(ctx.clone()));
        let tasks: Vec<_> = conns
            .into_iter()
            .enumerate()
            // Connection tasks opt out of tokio's co-operative budget: each request waits on the
            // network anyway, so they yield on their own, and the budget's bookkeeping costs
            // ~100 instructions per request (bench/instructions-per-request.sh).
            .map(|(local, i)| spawn_connection(ctx.clone(), i, local))
            .collect();
        // However a connection behaves, the thread is done by this instant: the watcher cuts
        // every connection off at the drain's end; a second more is slack.
        let hard_stop = shared.drain_end + Duration::from_secs(1);
        let mut abandoned = 0;
        for mut t in tasks {
            match tokio::time::timeout_at(hard_stop.into(), &mut t).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => ctx
                    .stats
                    .borrow_mut()
                    .notes
                    .push(format!("thread {index}: a connection task failed: {e}")),
                Err(_) => {
                    t.abort();
                    abandoned += 1;
                }
            }
        }
        let end = cpu::thread_cpu_time();
        if abandoned > 0 {
            ctx.stats.borrow_mut().notes.push(format!(
                "thread {index}: {abandoned} connections were still busy past the run's end and \
                 were abandoned"
            ));
        }
        IdleGate::set_pacer(None);
        sampler.abort();
        driver.abort();
        watcher.abort();
        let mut stats = ctx.stats.borrow_mut();
        stats.close_windows(u64::MAX);
        let windows = std::mem::take(&mut stats.finished_windows);
        shared.series.submit(index, windows, u64::MAX);
        stats.cpu = end.since(cpu_at_start.get().unwrap_or(end));
        stats.clone()
    });
    match &gate_outer {
        Some(g) => rt.block_on(g.gated(tasks)),
        None => rt.block_on(tasks),
    }
}

/// Once per [`WATCH_EVERY`], and at the end of every second of the window: cuts and hands over
/// the per-second windows, and cuts the run off at a stop (Ctrl-C) or at the end of the drain.
async fn watch(ctx: Rc<ThreadCtx>) {
    let run = &*ctx.run;
    loop {
        let now = Instant::now();
        if let Some(at) = run.stop.at() {
            ctx.cut_off(at);
            return;
        }
        if now >= run.drain_end {
            ctx.cut_off(run.drain_end);
            return;
        }
        let mut wake = (now + WATCH_EVERY).min(run.drain_end);
        if now >= run.measure_start {
            let index = run.clock.index(now);
            let mut stats = ctx.stats.borrow_mut();
            stats.close_windows(index);
            let windows = std::mem::take(&mut stats.finished_windows);
            drop(stats);
            if !windows.is_empty() {
                run.series.submit(ctx.thread_index, windows, index);
            }
            if index < run.clock.last {
                wake = wake.min(run.clock.start + Duration::from_secs(index + 1));
            }
        }
        tokio::time::sleep_until(wake.into()).await;
    }
}

fn spawn_connection(ctx: Rc<ThreadCtx>, index: usize, local: usize) -> tokio::task::JoinHandle<()> {
    tokio::task::spawn_local(tokio::task::unconstrained(run_connection(
        ctx, index, local,
    )))
}

impl RunHandle {
    /// Asks the run to stop early; what was measured is kept and reported.
    pub fn stop(&self) {
        self.shared.stop.trigger();
    }

    /// The signal that stops the run: `Send + Sync`, so another thread (a Ctrl-C handler, a
    /// supervisor) can call [`StopSignal::trigger`] on it while this handle waits in `join`.
    pub fn stop_signal(&self) -> Arc<StopSignal> {
        self.shared.stop.clone()
    }

    pub fn is_finished(&self) -> bool {
        self.threads.iter().all(JoinHandle::is_finished)
    }

    pub fn progress(&self) -> Progress {
        let now = Instant::now();
        let s = &self.shared;
        let completed = self
            .progress
            .iter()
            .map(|c| c.0.load(Ordering::Relaxed))
            .sum();
        if now < s.measure_start {
            Progress {
                phase: Phase::WarmUp,
                elapsed: now - s.load_start,
                planned: Some(s.cfg.warmup),
                completed,
                requests: s.cfg.stop.requests,
            }
        } else {
            Progress {
                phase: Phase::Measuring,
                elapsed: now - s.measure_start,
                planned: s.cfg.stop.duration,
                completed,
                requests: s.cfg.stop.requests,
            }
        }
    }

    /// Waits for the run to end and builds its report.
    pub fn join(self) -> Result<Report, EngineError> {
        let mut total = ThreadStats::default();
        let mut failure = None;
        // Count mode: the run's requests were all taken when the last thread used up its share.
        let mut all_spent: Option<Instant> = None;
        let mut spent = 0;
        for (i, h) in self.threads.into_iter().enumerate() {
            match h.join() {
                Ok(stats) => {
                    if let Some(at) = stats.budget_spent_at {
                        spent += 1;
                        all_spent = Some(all_spent.map_or(at, |a| a.max(at)));
                    }
                    total.merge(&stats);
                }
                Err(_) => failure = Some(i),
            }
        }
        total.budget_spent_at = all_spent.filter(|_| spent == self.progress.len());
        if let Some(i) = failure {
            return Err(EngineError::Thread(i, "panicked".into()));
        }
        Ok(build_report(
            &self.shared,
            &total,
            self.started_at,
            self.progress.len(),
        ))
    }
}

fn build_report(s: &RunShared, t: &ThreadStats, started_at: SystemTime, threads: usize) -> Report {
    let cfg = &s.cfg;
    let window_end = s.window_end(t.budget_spent_at).max(s.measure_start);
    // A run ended by its request count lasts until its last response; one ended by time or a
    // stop, until the window's end (what was still in flight then was cut off).
    let by_count = t.budget_spent_at.is_some_and(|b| b <= window_end) && !s.stop.is_set();
    let end = match (by_count, t.last_done) {
        (true, Some(done)) => done.max(window_end),
        _ => window_end,
    };
    let elapsed = (end - s.measure_start).as_secs_f64();
    let per = |n: u64, secs: f64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    let interrupted = s.stop.is_set();
    let throughput = per(t.completed, elapsed);
    let mut warnings: Vec<String> = t.notes.clone();
    let open = cfg.is_open_loop();
    let from_send = LatencyStats::from_histogram(&t.from_send);

    let rate = cfg.rate.map(|target| {
        let reached = t.unsent == 0 && throughput >= 0.99 * target;
        if !reached && !interrupted {
            warnings.push(rate_warning(cfg, target, throughput, t, from_send.as_ref()));
        }
        RateOutcome {
            target_rps: target,
            achieved_rps: throughput,
            scheduled: t.scheduled,
            missed: t.unsent,
            reached,
        }
    });
    let censored = open.then(|| Censored {
        unsent: t.unsent,
        in_flight: t.cut_off,
        total: t.unsent + t.cut_off,
    });
    if let Some(c) = censored.as_ref().filter(|c| c.total > 0) {
        warnings.push(format!(
            "{} scheduled requests had no response when the run ended ({} never sent, {} cut \
             off in flight): they are in the corrected latency as at least the time from their \
             slot to the end",
            c.total, c.unsent, c.in_flight
        ));
    }
    let errors = t.total_errors();
    if errors > 0 {
        warnings.push(format!(
            "{errors} requests got no response ({})",
            ErrorKind::ALL
                .iter()
                .filter(|k| t.error_count(**k) > 0)
                .map(|k| format!("{} {}", t.error_count(*k), k.name()))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let invalid = t.failed_status + t.failed_body;
    if invalid > 0 {
        warnings.push(format!(
            "{invalid} responses failed validation ({} status, {} body)",
            t.failed_status, t.failed_body
        ));
    }
    if t.completed == 0 {
        warnings.push("no response was received in the measuring window".into());
    }
    let cpu_s = t.cpu.total().as_secs_f64();
    let utilisation = if elapsed > 0.0 {
        cpu_s / (elapsed * threads as f64)
    } else {
        0.0
    };
    if utilisation > SATURATION_WARNING {
        warnings.push(format!(
            "the engine's threads were {:.0}% busy: the load generator may have been the \
             bottleneck; add threads or CPUs",
            utilisation * 100.0
        ));
    }
    if interrupted {
        warnings.push("interrupted: figures cover the run until it was stopped".into());
    }

    let histograms = cfg.keep_histograms.then(|| Histograms {
        encoding: crate::histogram::ENCODING.to_string(),
        from_send: crate::histogram::encode(&t.from_send),
        from_schedule: open.then(|| crate::histogram::encode(&t.from_schedule)),
        send_lag: open.then(|| crate::histogram::encode(&t.send_lag)),
        connection_wait: open.then(|| crate::histogram::encode(&t.connection_wait)),
    });
    Report {
        schema_version: SCHEMA_VERSION,
        engine: EngineInfo {
            name: "stackwise-loadgen".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        target: TargetInfo {
            url: cfg.target.url.clone(),
            address: s.addr.to_string(),
        },
        config: RunConfig {
            mode: if open { Mode::Open } else { Mode::Closed },
            method: cfg.method.to_string(),
            request_body_bytes: cfg.body.len() as u64,
            connections: cfg.connections,
            threads,
            pinned_cpus: cfg.pin.clone(),
            duration_s: cfg.stop.duration.map(|d| d.as_secs_f64()),
            requests: cfg.stop.requests,
            warmup_s: cfg.warmup.as_secs_f64(),
            rate_rps: cfg.rate,
            timeout_s: cfg.timeout.as_secs_f64(),
            connect_timeout_s: cfg.connect_timeout.as_secs_f64(),
            connect: cfg.connect,
            timer_slack_us: open.then_some(cfg.timer_slack.as_secs_f64() * 1e6),
            expect_status: cfg.validation.status.to_string(),
            expect_body: cfg.validation.body.as_ref().map(|b| b.describe()),
        },
        started_at: humantime::format_rfc3339_millis(started_at).to_string(),
        elapsed_s: elapsed,
        interrupted,
        requests: RequestCounts {
            sent: t.sent,
            completed: t.completed,
            succeeded: t.succeeded,
            failed_status: t.failed_status,
            failed_body: t.failed_body,
            errors: ErrorKind::ALL
                .iter()
                .map(|k| (k.name().to_string(), t.error_count(*k)))
                .collect(),
            total_errors: errors,
            cut_off: t.cut_off,
            samples: t
                .samples
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        },
        throughput_rps: throughput,
        rate,
        censored,
        latency: Latencies {
            from_send,
            from_schedule: if open {
                LatencyStats::from_histogram(&t.from_schedule)
            } else {
                None
            },
            send_lag: if open {
                LatencyStats::from_histogram(&t.send_lag)
            } else {
                None
            },
            connection_wait: if open {
                LatencyStats::from_histogram(&t.connection_wait)
            } else {
                None
            },
        },
        series: s.series.finish(elapsed),
        histograms,
        status_codes: t
            .status_codes
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(code, n)| (code.to_string(), *n))
            .collect(),
        body_bytes: t.body_bytes,
        engine_cpu: EngineCpu {
            user_s: t.cpu.user.as_secs_f64(),
            system_s: t.cpu.system.as_secs_f64(),
            per_request_us: (t.completed > 0).then(|| cpu_s * 1e6 / t.completed as f64),
            utilisation,
        },
        warnings,
    }
}

/// Why an open loop missed its rate, in the words that point at the cause: too few connections
/// for the server's latency, the engine sending late, or the server.
fn rate_warning(
    cfg: &LoadConfig,
    target: f64,
    achieved: f64,
    t: &ThreadStats,
    from_send: Option<&LatencyStats>,
) -> String {
    let head = format!(
        "target rate not reached: {achieved:.1} of {target:.1} req/s achieved, {} of {} \
         scheduled requests never sent",
        t.unsent, t.scheduled
    );
    // Each connection has one request in flight: at most connections ÷ latency requests/s.
    if let Some(mean_s) = from_send.map(|l| l.mean_us / 1e6).filter(|m| *m > 0.0) {
        let cap = cfg.connections as f64 / mean_s;
        if cap < target {
            let needed = (target * mean_s).ceil() as u64 + 1;
            return format!(
                "{head}; the connection count caps the rate: {} connections ÷ {:.1} ms mean \
                 latency = {cap:.0} req/s at most; use at least {needed} connections",
                cfg.connections,
                mean_s * 1e3
            );
        }
    }
    let lag_p99_ms = t.send_lag.value_at_quantile(0.99) as f64 / 1e6;
    let wait_p99_ms = t.connection_wait.value_at_quantile(0.99) as f64 / 1e6;
    if lag_p99_ms > wait_p99_ms && lag_p99_ms > 1.0 {
        format!(
            "{head}; the engine itself sent late (send lag p99 {lag_p99_ms:.1} ms): add threads \
             or CPUs"
        )
    } else {
        format!(
            "{head}; requests waited for a free connection (p99 {wait_p99_ms:.1} ms): the server \
             could not keep up"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_shares_add_up_and_follow_connections() {
        for (n, per_thread) in [
            (10u64, vec![1usize, 1, 1]),
            (1, vec![1, 1, 1, 1]),
            (1000, vec![8, 7, 7, 7, 7, 7, 7]),
            (5, vec![2, 2, 2, 2, 1]),
        ] {
            let conns: usize = per_thread.iter().sum();
            let mut before = 0;
            let mut sum = 0;
            for mine in &per_thread {
                sum += share(n, before, *mine, conns);
                before += mine;
            }
            assert_eq!(sum, n, "{n} {per_thread:?}");
        }
        // 3 connections on 2 threads: the first has two of them, so two thirds of the requests.
        assert_eq!(share(60, 0, 2, 3), 40);
        assert_eq!(share(60, 2, 1, 3), 20);
    }

    use crate::config::{Field, StopCondition};
    use std::net::SocketAddr;

    /// A keep-alive server that records every request line and answers 200 with no body.
    fn recording_server() -> (SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
        use std::io::{BufRead, BufReader, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let s2 = seen.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { continue };
                let seen = s2.clone();
                std::thread::spawn(move || {
                    let mut w = s.try_clone().unwrap();
                    let mut r = BufReader::new(s);
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let request = line.trim_end().to_string();
                        // Skip the headers.
                        loop {
                            line.clear();
                            if r.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                        }
                        seen.lock().unwrap().push(request);
                        if w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        (addr, seen)
    }

    #[test]
    fn cycled_paths_are_sent_in_turn_per_connection() {
        let (addr, seen) = recording_server();
        let paths: Vec<String> = (1..=9).map(|i| format!("/items/{i}?x=1")).collect();
        let mut cfg =
            LoadConfig::new(crate::Target::parse(&format!("http://{addr}/unused")).unwrap());
        cfg.connections = 1;
        cfg.method = http::Method::DELETE;
        cfg.stop = StopCondition {
            duration: None,
            requests: Some(9),
        };
        cfg.paths = paths.clone();
        let r = run(cfg.clone()).unwrap();
        assert_eq!(r.requests.completed, 9);
        let got: Vec<String> = seen
            .lock()
            .unwrap()
            .drain(..)
            .filter(|l| !l.contains("/unused"))
            .collect();
        let want: Vec<String> = paths
            .iter()
            .map(|p| format!("DELETE {p} HTTP/1.1"))
            .collect();
        assert_eq!(got, want);

        // Three connections on two threads, more paths than requests: every one distinct, and
        // connection c's requests are c, c + 3, c + 6, …
        cfg.connections = 3;
        cfg.threads = 2;
        cfg.stop.requests = Some(12);
        cfg.paths = (0..300).map(|i| format!("/items/{i}")).collect();
        run(cfg.clone()).unwrap();
        let got: Vec<u64> = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|l| !l.contains("/unused"))
            .map(|l| l.split(['/', ' ']).nth(3).unwrap().parse().unwrap())
            .collect();
        assert_eq!(got.len(), 12, "{got:?}");
        let distinct: std::collections::BTreeSet<u64> = got.iter().copied().collect();
        assert_eq!(distinct.len(), 12, "{got:?}");
        // A path that is not absolute is refused before the run.
        cfg.paths = vec!["items/1".into()];
        let e = cfg.validate().unwrap_err();
        assert_eq!(e.field, Field::Url);
    }

    /// A server that answers a request `200 ok` as if it kept the connection alive (no
    /// `Connection: close`), then closes it at once: as a server whose keep-alive timeout is
    /// shorter than the gap between requests does, with no timer of its own. An engine on time
    /// finds the connection closed at its next slot and reopens it.
    fn closing_server() -> SocketAddr {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        // The threads end with the test process, or when their connection is done.
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                std::thread::spawn(move || {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                    // Dropped: closed.
                });
            }
        });
        addr
    }

    /// An open loop on one connection, 25 slots 20 ms apart, against [`closing_server`]: the
    /// connection is found closed at every slot and reopened for it.
    fn open_loop_against_closing_server(addr: SocketAddr) -> Report {
        let mut cfg = LoadConfig::new(crate::Target::parse(&format!("http://{addr}/")).unwrap());
        cfg.connections = 1;
        cfg.threads = 1;
        cfg.warmup = Duration::ZERO;
        cfg.rate = Some(50.0);
        cfg.stop = StopCondition {
            duration: Some(Duration::from_millis(500)),
            requests: None,
        };
        cfg.validation.body = Some(crate::validate::BodyExpectation::Exact(
            bytes::Bytes::from_static(b"ok"),
        ));
        run(cfg).unwrap()
    }

    /// Counts only: every slot of the window sent, none missed, none cut off, each answered or
    /// failed. Not "no error": an engine that has fallen behind its slots (a loaded machine) sends
    /// the next request as soon as a response is in, and may then race the server's close, a
    /// genuine error of keep-alive that no client avoids (the server sees the request arrive
    /// microseconds after its close).
    fn assert_every_slot_sent_and_answered(r: &Report) {
        let rate = r.rate.as_ref().expect("an open loop");
        let q = &r.requests;
        assert_eq!(rate.scheduled, 25, "{q:?}");
        assert_eq!(rate.missed, 0, "{q:?} {:?}", r.warnings);
        assert_eq!(q.sent, rate.scheduled, "{q:?} {:?}", r.warnings);
        assert_eq!(q.cut_off, 0, "{q:?}");
        assert_eq!(q.completed + q.total_errors, q.sent, "{q:?}");
        assert_eq!(q.succeeded, q.completed, "{q:?}");
    }

    /// Reconnecting while the thread naps between slots (Eager, the default): the reconnected
    /// connection is woken for each of its slots.
    #[test]
    fn an_open_loop_reconnecting_for_every_slot_sends_every_slot() {
        let addr = closing_server();
        let r = open_loop_against_closing_server(addr);
        assert_every_slot_sent_and_answered(&r);
    }

    /// A response without the kernel's receive time stops the thread's napping for the rest of
    /// the run; its slot timer, armed until then only by the napping pacer, must then be armed by
    /// every slot scheduled. It was not: the connection sent the slot the timer was already
    /// armed for, then waited for its next slot for ever (2 of 25 sent). On a loaded machine a
    /// reconnected socket's first response can come without a receive time (the kernel switches
    /// its timestamping on lazily), so this stalled real runs too.
    #[test]
    fn an_open_loop_without_receive_times_sends_every_slot() {
        let addr = closing_server();
        crate::conn::NO_RECEIVE_TIMES_PORT.store(addr.port(), Ordering::Relaxed);
        let r = open_loop_against_closing_server(addr);
        assert!(
            r.warnings
                .iter()
                .any(|w| w.contains("no kernel receive timestamps")),
            "the path without receive times was not taken: {:?}",
            r.warnings
        );
        assert_every_slot_sent_and_answered(&r);
    }
}
