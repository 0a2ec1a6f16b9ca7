//! The engine: spreads connections over threads (one current-thread tokio runtime each, optionally
//! pinned), runs them, merges the threads' statistics and builds the [`Report`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{Empty, Full};

use crate::config::{ConfigError, LoadConfig};
use crate::conn::{run_connection, Counter, RequestBody, RunShared, ThreadCtx};
use crate::cpu;
use crate::report::{
    EngineCpu, EngineInfo, Latencies, LatencyStats, Mode, RateOutcome, Report, RequestCounts,
    RunConfig, TargetInfo, SCHEMA_VERSION,
};
use crate::stats::{ErrorKind, ThreadStats};
use crate::stop::StopSignal;

/// Engine utilisation above which the report warns that the engine, not the server, may have
/// been the bottleneck.
const SATURATION_WARNING: f64 = 0.90;

/// Why a run could not produce a report.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Config(#[from] ConfigError),
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

/// Validates `cfg`, checks the target answers, and starts the load in background threads.
pub fn start(mut cfg: LoadConfig) -> Result<RunHandle, EngineError> {
    cfg.validate()?;
    crate::limits::ensure_fd_limit(crate::limits::fds_needed(
        cfg.connections,
        cfg.is_open_loop(),
    ))?;
    cfg.target.addr = cfg
        .target
        .preflight(cfg.timeout.min(Duration::from_secs(5)))?;
    let threads = cfg.threads.min(cfg.connections);
    let now = Instant::now();
    let measure_start = now + cfg.warmup;
    let deadline = measure_start + cfg.stop.time_bound();
    let grace = if cfg.is_open_loop() {
        crate::config::OPEN_LOOP_GRACE
    } else {
        Duration::ZERO
    };
    let shared = Arc::new(RunShared {
        deadline,
        cutoff: deadline + grace,
        measure_start,
        load_start: now,
        stop: Arc::new(StopSignal::new()),
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
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let mut stats = ThreadStats::default();
            stats.notes.push(format!("thread {index}: no runtime: {e}"));
            return stats;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let ctx = Rc::new(ThreadCtx {
            run: shared.clone(),
            stats: RefCell::new(ThreadStats::default()),
            budget: Cell::new(budget),
            progress,
            thread_index: index,
        });
        ctx.stats.borrow_mut().notes = notes;
        // This thread's CPU time is read when measuring starts and when its connections are done.
        let cpu_at_start = Rc::new(Cell::new(None));
        let sampler = {
            let (cell, at) = (cpu_at_start.clone(), shared.measure_start);
            tokio::task::spawn_local(async move {
                tokio::time::sleep_until(at.into()).await;
                cell.set(Some(cpu::thread_cpu_time()));
            })
        };
        let tasks: Vec<_> = conns
            .into_iter()
            // Connection tasks opt out of tokio's co-operative budget: each request waits on the
            // network anyway, so they yield on their own, and the budget's bookkeeping costs
            // ~100 instructions per request (bench/instructions-per-request.sh).
            .map(|i| {
                if ctx.run.cfg.body.is_empty() {
                    spawn_connection::<Empty<Bytes>>(ctx.clone(), i)
                } else {
                    spawn_connection::<Full<Bytes>>(ctx.clone(), i)
                }
            })
            .collect();
        // However a connection behaves, the thread is done by this instant: the last request
        // may be sent at the cutoff and may take the timeout; a second more is slack.
        let hard_stop = shared.cutoff + shared.cfg.timeout + Duration::from_secs(1);
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
        if abandoned > 0 {
            ctx.stats.borrow_mut().notes.push(format!(
                "thread {index}: {abandoned} connections were still busy past the run's end plus \
                 the timeout and were abandoned"
            ));
        }
        let end = cpu::thread_cpu_time();
        sampler.abort();
        let mut stats = ctx.stats.borrow().clone();
        stats.cpu = end.since(cpu_at_start.get().unwrap_or(end));
        stats
    })
}

fn spawn_connection<B: RequestBody>(
    ctx: Rc<ThreadCtx>,
    index: usize,
) -> tokio::task::JoinHandle<()> {
    tokio::task::spawn_local(tokio::task::unconstrained(run_connection::<B>(ctx, index)))
}

impl RunHandle {
    /// Asks the run to stop early; what was measured is kept and reported.
    pub fn stop(&self) {
        self.shared.stop.trigger();
    }

    /// The signal that stops the run (for signal handlers).
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
        let joined = Instant::now();
        Ok(build_report(
            &self.shared,
            &total,
            self.started_at,
            joined,
            self.progress.len(),
        ))
    }
}

fn build_report(
    s: &RunShared,
    t: &ThreadStats,
    started_at: SystemTime,
    joined: Instant,
    threads: usize,
) -> Report {
    let cfg = &s.cfg;
    // The elapsed time also covers responses that arrived after the window closed.
    let window_end = s
        .window_end(t.budget_spent_at)
        .max(s.measure_start)
        .min(joined);
    let end = t.last_done.map_or(window_end, |d| d.max(window_end));
    let elapsed = (end - s.measure_start).as_secs_f64();
    let window = (window_end - s.measure_start).as_secs_f64();
    let per = |n: u64, secs: f64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    let interrupted = s.stop.is_set();
    let throughput = per(t.completed, elapsed);
    let mut warnings: Vec<String> = t.notes.clone();

    let rate = cfg.rate.map(|target| {
        // Responses to the slots of the window, per second of the window.
        let achieved = per(t.completed, window);
        let reached = t.missed == 0 && achieved >= 0.99 * target;
        if !reached && !interrupted {
            warnings.push(format!(
                "target rate not reached: {achieved:.1} of {target:.1} req/s achieved, {} of {} \
                 scheduled requests never sent; the server (or the engine) could not keep up",
                t.missed, t.scheduled
            ));
        }
        RateOutcome {
            target_rps: target,
            achieved_rps: achieved,
            scheduled: t.scheduled,
            missed: t.missed,
            reached,
        }
    });
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
             bottleneck; add --threads or CPUs",
            utilisation * 100.0
        ));
    }
    if interrupted {
        warnings.push("interrupted: figures cover the run until it was stopped".into());
    }

    let open = cfg.is_open_loop();
    Report {
        schema_version: SCHEMA_VERSION,
        engine: EngineInfo {
            name: "stackwise-loadgen".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        target: TargetInfo {
            url: cfg.target.url.clone(),
            address: cfg.target.addr.to_string(),
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
        },
        throughput_rps: throughput,
        rate,
        latency: Latencies {
            from_send: LatencyStats::from_histogram(&t.from_send),
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
        },
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
}
