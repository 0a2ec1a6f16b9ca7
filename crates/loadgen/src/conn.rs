//! One connection's life: connect, drive a hyper `client::conn::http1` connection and its request
//! loop in the same task, reconnect after errors, and record every measured request into the
//! thread's statistics.

use std::cell::{Cell, RefCell};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::header::HOST;
use http::Request;
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Sleep;

use crate::config::LoadConfig;
use crate::schedule::Schedule;
use crate::stats::{ErrorKind, ThreadStats};
use crate::stop::StopSignal;
use crate::timer::PreciseTimer;
use crate::validate::{Failure, Validation};

/// At most this much of a body is kept for a body check; a longer body fails the check (it is
/// still read and counted in full).
pub const MAX_CHECKED_BODY: usize = 8 << 20;
/// A connection waiting for its next slot checks for a stop at least this often.
const STOP_CHECK_EVERY: Duration = Duration::from_millis(100);
/// Longest pause between reconnection attempts that got nowhere.
const MAX_BACKOFF: Duration = Duration::from_millis(100);

/// What every thread of a run shares (read-only, but for the stop flag).
pub(crate) struct RunShared {
    pub cfg: LoadConfig,
    /// When load starts (the warm-up, if any, starts here).
    pub load_start: Instant,
    /// When measuring starts.
    pub measure_start: Instant,
    /// When measuring ends: no request is sent at or after this instant in a closed loop, and no
    /// slot scheduled at or after it in an open loop.
    pub deadline: Instant,
    /// No request at all is sent at or after this instant (the deadline, plus
    /// [`crate::config::OPEN_LOOP_GRACE`] in an open loop).
    pub cutoff: Instant,
    /// Set to stop early (Ctrl-C).
    pub stop: Arc<StopSignal>,
}

impl RunShared {
    /// When the measuring window closes: at the deadline, or earlier when the run was stopped
    /// (Ctrl-C) or its request count was used up at `budget_spent_at`.
    pub fn window_end(&self, budget_spent_at: Option<Instant>) -> Instant {
        [self.stop.at(), budget_spent_at]
            .into_iter()
            .flatten()
            .fold(self.deadline, Instant::min)
    }
}

/// Exponential back-off between reconnections that got nowhere, capped at [`MAX_BACKOFF`] and
/// never past the run's cutoff.
struct Backoff(Duration);

impl Backoff {
    const FIRST: Duration = Duration::from_millis(1);

    async fn wait(&mut self, cutoff: Instant) {
        let wake = (Instant::now() + self.0).min(cutoff);
        tokio::time::sleep_until(wake.into()).await;
        self.0 = (self.0 * 2).min(MAX_BACKOFF);
    }

    fn reset(&mut self) {
        self.0 = Self::FIRST;
    }
}

/// A cache-line-sized progress counter, one per thread, written only by its thread.
#[repr(align(64))]
#[derive(Default)]
pub(crate) struct Counter(pub AtomicU64);

/// What the connection tasks of one thread share.
pub(crate) struct ThreadCtx {
    pub run: Arc<RunShared>,
    pub stats: RefCell<ThreadStats>,
    /// Measured requests this thread may still send (count mode only).
    pub budget: Cell<Option<u64>>,
    /// Completed measured requests, published for the progress bar.
    pub progress: Arc<[Counter]>,
    pub thread_index: usize,
}

impl ThreadCtx {
    fn should_stop(&self, now: Instant) -> bool {
        now >= self.run.cutoff
            || self.run.stop.is_set()
            || (self.budget.get() == Some(0) && now >= self.run.measure_start)
    }

    /// Counts a connection attempt that failed before a request could be sent. In count mode it
    /// uses up one request, so that `-n` bounds attempts even when the server is down.
    fn failed_attempt(&self, kind: ErrorKind) {
        if Instant::now() >= self.run.measure_start && self.take_budget() {
            self.stats.borrow_mut().record_error(kind);
        }
    }

    fn take_budget(&self) -> bool {
        match self.budget.get() {
            None => true,
            Some(0) => false,
            Some(n) => {
                self.budget.set(Some(n - 1));
                if n == 1 {
                    self.stats.borrow_mut().budget_spent_at = Some(Instant::now());
                }
                true
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Stop,
    /// The connection must be replaced; `answered` tells whether it got any response at all.
    Reconnect {
        answered: bool,
    },
}

/// Runs connection `index` until the run stops.
pub(crate) async fn run_connection<B: RequestBody>(ctx: Rc<ThreadCtx>, index: usize) {
    let ctx = &*ctx;
    let run = &*ctx.run;
    let cfg = &run.cfg;
    let mut schedule = cfg
        .rate
        .map(|r| Schedule::new(run.load_start, index, cfg.connections, r));
    let mut timer = match schedule {
        Some(_) => match PreciseTimer::new() {
            Ok(t) => Some(t),
            Err(e) => {
                ctx.stats.borrow_mut().notes.push(format!(
                    "precise timer unavailable ({e}); using tokio's 1 ms timer"
                ));
                None
            }
        },
        None => None,
    };
    let mut sleep = pin!(tokio::time::sleep(Duration::ZERO));
    let mut backoff = Backoff(Backoff::FIRST);

    while !ctx.should_stop(Instant::now()) {
        let stream = match connect(cfg).await {
            Ok(s) => s,
            Err(kind) => {
                ctx.failed_attempt(kind);
                backoff.wait(run.cutoff).await;
                continue;
            }
        };
        let (mut sender, conn) = match http1::Builder::new()
            .writev(false)
            .handshake(TokioIo::new(stream))
            .await
        {
            Ok(pair) => pair,
            Err(e) => {
                ctx.failed_attempt(ErrorKind::of_hyper(&e));
                continue;
            }
        };
        // Boxed so that it can be dropped as soon as it ends: a finished connection future still
        // owns hyper's request channel, and the sender would wait on it forever.
        let mut conn = Some(Box::pin(conn));
        let mut work = pin!(request_loop::<B>(
            ctx,
            &mut sender,
            schedule.as_mut(),
            timer.as_mut(),
            sleep.as_mut()
        ));
        // The connection future does the socket I/O; the request loop waits on it. Both live in
        // this one task, and the connection is polled first, so that a response it reads is
        // consumed by the loop in the same poll. If the connection ends first (the server closed
        // it), the loop still gets the response it may be waiting for, then finds the sender
        // closed and reconnects.
        let outcome = tokio::select! {
            biased;
            _ = conn.as_mut().expect("present until it ends") => {
                drop(conn.take());
                work.await
            }
            o = &mut work => o,
        };
        match outcome {
            Outcome::Stop => break,
            Outcome::Reconnect { answered: true } => backoff.reset(),
            // A server that accepts and then closes or resets without answering would otherwise
            // be hammered with connections (and the machine's ephemeral ports with them).
            Outcome::Reconnect { answered: false } => backoff.wait(run.cutoff).await,
        }
    }

    if let Some(s) = &schedule {
        // A run that ran its course accounts for its whole window; one stopped early (Ctrl-C, or
        // its request count reached) only until the instant it was stopped: the slot a
        // connection was waiting for then is not "missed".
        let mut stats = ctx.stats.borrow_mut();
        let end = run.window_end(stats.budget_spent_at);
        stats.scheduled += s.slots_in(run.measure_start, end);
        stats.missed += s.unsent_in(run.measure_start, end);
    }
}

async fn connect(cfg: &LoadConfig) -> Result<TcpStream, ErrorKind> {
    let stream = tokio::time::timeout(cfg.timeout, TcpStream::connect(cfg.target.addr))
        .await
        .map_err(|_| ErrorKind::Connect)?
        .map_err(|_| ErrorKind::Connect)?;
    stream.set_nodelay(true).map_err(|_| ErrorKind::Io)?;
    Ok(stream)
}

/// A request body type the engine can send. Requests without a body use [`Empty`], which keeps
/// hyper's request path (and the engine's CPU per request) as lean as it can be; requests with
/// one use [`Full`]. The connection code is generic over the two.
pub(crate) trait RequestBody:
    hyper::body::Body<Data = Bytes, Error = std::convert::Infallible> + Send + 'static
{
    fn from_config(body: &Bytes) -> Self;
}

impl RequestBody for Empty<Bytes> {
    fn from_config(_: &Bytes) -> Self {
        Empty::new()
    }
}

impl RequestBody for Full<Bytes> {
    fn from_config(body: &Bytes) -> Self {
        Full::new(body.clone())
    }
}

fn build_request<B: RequestBody>(cfg: &LoadConfig) -> Request<B> {
    let mut req = Request::new(B::from_config(&cfg.body));
    *req.method_mut() = cfg.method.clone();
    *req.uri_mut() = cfg.target.path.clone();
    let headers = req.headers_mut();
    headers.insert(HOST, cfg.target.host_header.clone());
    for (k, v) in &cfg.headers {
        headers.append(k.clone(), v.clone());
    }
    req
}

async fn request_loop<B: RequestBody>(
    ctx: &ThreadCtx,
    sender: &mut http1::SendRequest<B>,
    mut schedule: Option<&mut Schedule>,
    mut timer: Option<&mut PreciseTimer>,
    mut sleep: Pin<&mut Sleep>,
) -> Outcome {
    let run = &*ctx.run;
    let cfg = &run.cfg;
    let mut answered = false;
    loop {
        let scheduled = schedule.as_deref().map(Schedule::peek);
        if scheduled.is_some_and(|t| t >= run.deadline) {
            return Outcome::Stop;
        }
        if let Some(t) = scheduled {
            // Long waits are cut into steps so that a stop (Ctrl-C) is seen within one step.
            loop {
                let step = t.min(Instant::now() + STOP_CHECK_EVERY);
                let precise = match timer.as_deref_mut() {
                    Some(timer) => timer.sleep_until(step).await.is_ok(),
                    None => false,
                };
                if !precise {
                    tokio::time::sleep_until(step.into()).await;
                }
                if step >= t {
                    break;
                }
                if ctx.should_stop(Instant::now()) {
                    return Outcome::Stop;
                }
            }
        }
        // Checked after the wait: a server that closed an idle connection meanwhile (keep-alive
        // timeout) costs a reconnect, which the slot's latency includes, not an error.
        if sender.ready().await.is_err() {
            return Outcome::Reconnect { answered };
        }
        let req = build_request::<B>(cfg);
        // One clock read serves the stop check, the measuring-window check and the send time.
        let sent = Instant::now();
        if ctx.should_stop(sent) {
            return Outcome::Stop;
        }
        let measured = scheduled.unwrap_or(sent) >= run.measure_start;
        if measured && !ctx.take_budget() {
            return Outcome::Stop;
        }
        if let Some(s) = schedule.as_deref_mut() {
            s.advance();
        }
        let due = sent + cfg.timeout;
        let mut response = pin!(exchange(sender, req, &cfg.validation));
        // The timeout timer is re-armed lazily: when it fires early (it was armed for an earlier
        // request), it is pushed to this request's due time. Most requests never touch the timer
        // wheel, and no request is timed out before its own due time.
        let result = loop {
            tokio::select! {
                biased;
                r = &mut response => break r,
                _ = sleep.as_mut() => {
                    if Instant::now() >= due {
                        break Err(ErrorKind::Timeout);
                    }
                    sleep.as_mut().reset(due.into());
                }
            }
        };
        let done = Instant::now();
        if measured {
            let mut stats = ctx.stats.borrow_mut();
            stats.sent += 1;
            match result {
                Ok((status, len, verdict)) => {
                    stats.record_response(sent, scheduled, done, status, len, verdict);
                    let counter = &ctx.progress[ctx.thread_index].0;
                    counter.store(stats.completed, Ordering::Relaxed);
                }
                Err(kind) => stats.record_error(kind),
            }
        }
        answered |= result.is_ok();
        if result.is_err() {
            return Outcome::Reconnect { answered };
        }
    }
}

/// Sends one request and reads the whole response.
async fn exchange<B: RequestBody>(
    sender: &mut http1::SendRequest<B>,
    req: Request<B>,
    validation: &Validation,
) -> Result<(u16, u64, Result<(), Failure>), ErrorKind> {
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| ErrorKind::of_hyper(&e))?;
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    let keep = validation.needs_body();
    let mut kept = BytesMut::new();
    let mut len = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ErrorKind::of_hyper(&e))?;
        if let Ok(data) = frame.into_data() {
            len += data.len() as u64;
            if keep && kept.len() < MAX_CHECKED_BODY {
                let room = MAX_CHECKED_BODY - kept.len();
                kept.extend_from_slice(&data[..data.len().min(room)]);
            }
        }
    }
    let verdict = validation
        .check(status, &kept)
        .and(if keep && len > kept.len() as u64 {
            Err(Failure::Body)
        } else {
            Ok(())
        });
    Ok((status, len, verdict))
}
