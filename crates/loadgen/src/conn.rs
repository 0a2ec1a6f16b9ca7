//! One connection's life: connect, run its request loop over an [`http1::Connection`] in one task
//! (one request in flight), reconnect after errors and when the server ends the connection, and
//! record every measured request into the thread's statistics.
//!
//! Every wait of a connection (connecting, backing off, waiting for a send slot, waiting for a
//! response) also ends when the thread's watcher cuts the run off (deadline, end of the open-loop
//! drain, or a stop such as Ctrl-C): each connection task registers its waker once, and the
//! watcher wakes them all. A request in flight at that moment is *cut off*: counted as such, and
//! in an open loop recorded as a censored sample.
//!
//! When a connection is opened is [`LoadConfig::connect`]'s choice. Under [`Connect::Eager`] (the
//! default, as in wrk and oha) each task connects as soon as the run starts and reconnects at once
//! when its connection ends, so all connections are open throughout. Under [`Connect::WhenDue`],
//! in an open loop, a task connects only once its next slot is due — the first connect and every
//! reconnect — and sends at once: no connection is ever open and idle before its request, which
//! matters to a server whose worker blocks on the connection it accepted until a request arrives
//! (gunicorn's sync worker). The slot's latency then includes the connect; its scheduled time,
//! and so the coordinated-omission correction, are unchanged; the connect counts as waiting for
//! the connection, the engine's own lateness in waking for the slot as send lag. The thread does
//! not nap through response arrivals (no [`IdleGate`]): a response is read as it arrives, so a
//! connection it ended is closed at once. Errors,
//! back-off, cut-off and censoring are the same in both modes; a closed loop is the same in both
//! (its request follows the connect at once anyway).
//!
//! In both modes a connection that a response ended (`Connection: close`) is closed at once, not
//! held until its next slot: a server may linger after its last response until the client closes
//! (gunicorn ≥ 23's sync worker half-closes, then reads until the client's close, for up to 2 s),
//! and would spend that time waiting for the engine instead of serving.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use tokio::net::TcpStream;
use tokio::time::Sleep;

use crate::config::{Connect, LoadConfig};
use crate::http1::{BodySink, Connection, ExchangeError, RequestBytes, Response, Socket};
use crate::schedule::Schedule;
use crate::series::SeriesCollector;
use crate::stats::{ErrorKind, ThreadStats, WindowClock};
use crate::stop::StopSignal;
use crate::timer::{IdleGate, ThreadTimer, MAX_NAP};
use crate::validate::Failure;

/// At most this much of a body is kept for a body check; a longer body fails the check (it is
/// still read and counted in full).
pub const MAX_CHECKED_BODY: usize = 8 << 20;
/// Longest pause between reconnection attempts that got nowhere.
const MAX_BACKOFF: Duration = Duration::from_millis(100);
/// Unsent open-loop slots are recorded exactly up to this many per connection, and in this many
/// evenly sized groups beyond (each at its smallest value: a lower bound).
const CENSOR_GROUPS: u64 = 1024;

/// What every thread of a run shares (read-only, but for the stop flag and the series).
pub(crate) struct RunShared {
    pub cfg: LoadConfig,
    /// The request every connection sends, serialized once.
    pub request: RequestBytes,
    /// [`crate::config::LoadConfig::paths`]' requests, serialized once (empty: `request` only).
    pub cycle: Vec<RequestBytes>,
    /// The address connections go to (resolved and checked once, before the run).
    pub addr: SocketAddr,
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
    /// Requests still in flight at this instant are cut off (the deadline, plus
    /// [`crate::config::OPEN_LOOP_DRAIN`] in an open loop).
    pub drain_end: Instant,
    /// Set to stop early (Ctrl-C).
    pub stop: Arc<StopSignal>,
    /// Maps instants to per-second windows.
    pub clock: WindowClock,
    pub series: SeriesCollector,
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

    async fn wait(&mut self, ctx: &ThreadCtx) {
        let wake = (Instant::now() + self.0).min(ctx.run.cutoff);
        tokio::select! {
            _ = tokio::time::sleep_until(wake.into()) => {}
            _ = ctx.cut() => {}
        }
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
    /// Open loop: the thread's slot timer.
    pub timer: Option<ThreadTimer>,
    /// Each connection task's waker, registered once when the task starts.
    pub wakers: RefCell<Vec<Option<Waker>>>,
    /// Set by the watcher when the run is cut off, with the instant it counts from.
    pub cut_at: Cell<Option<Instant>>,
    /// Open loop: where each connection's request is (see [`Flight`]).
    pub flights: Box<[Cell<Flight>]>,
    /// Per connection: the index into [`RunShared::cycle`] of its next request (its run-wide
    /// index, then + connections per request).
    pub next_path: Box<[Cell<u64>]>,
    /// Open loop: connections whose next slot came due while their request was in flight.
    pub overdue: Cell<usize>,
    /// Open loop: what the thread naps with (see [`ThreadCtx::on_idle`]). Removed for good when a
    /// response comes without the kernel's receive time: the thread then wakes for every
    /// response, since a response read late could no longer be timed at its arrival.
    pub gate: RefCell<Option<Arc<IdleGate>>>,
}

/// Where an open-loop connection's request is, for the thread's pacer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Flight {
    /// Waiting for its slot, connecting or backing off.
    #[default]
    Idle,
    /// Sent, no response yet.
    Sent,
    /// In flight, and its next slot is already due: it sends as soon as its response is in.
    Overdue,
}

impl ThreadCtx {
    fn should_stop(&self, now: Instant) -> bool {
        now >= self.run.cutoff
            || self.cut_at.get().is_some()
            || self.run.stop.is_set()
            || (self.budget.get() == Some(0) && now >= self.run.measure_start)
    }

    /// Cuts the run off at `at`: every waiting connection task is woken and ends.
    pub fn cut_off(&self, at: Instant) {
        if self.cut_at.get().is_none() {
            self.cut_at.set(Some(at));
        }
        for w in self.wakers.borrow().iter().flatten() {
            w.wake_by_ref();
        }
    }

    /// Ready once the run has been cut off.
    async fn cut(&self) {
        poll_fn(|_| match self.cut_at.get() {
            Some(_) => Poll::Ready(()),
            None => Poll::Pending,
        })
        .await
    }

    /// Connection `who`'s slot is due: it is woken to send, or, if its request is still in
    /// flight, marked overdue.
    pub fn slot_due(&self, who: usize) {
        let flight = &self.flights[who];
        match flight.get() {
            Flight::Idle => {
                if let Some(w) = &self.wakers.borrow()[who] {
                    w.wake_by_ref();
                }
            }
            Flight::Sent => {
                flight.set(Flight::Overdue);
                self.overdue.set(self.overdue.get() + 1);
            }
            Flight::Overdue => {}
        }
    }

    fn begin_flight(&self, who: usize) {
        if self.timer.is_some() {
            self.flights[who].set(Flight::Sent);
        }
    }

    fn end_flight(&self, who: usize) {
        if self.timer.is_some() {
            if self.flights[who].get() == Flight::Overdue {
                self.overdue.set(self.overdue.get() - 1);
            }
            self.flights[who].set(Flight::Idle);
        }
    }

    /// Releases the slots that are due at `now` (the thread is awake anyway).
    fn release_due(&self, now: Instant) {
        if let Some(t) = &self.timer {
            t.release(now, |who| self.slot_due(who));
        }
    }

    /// Stops napping: a response came without the kernel's receive time (see [`ThreadCtx::gate`]).
    /// The slot timer, until now armed only by the pacer when the thread parked, is from now on
    /// armed by every slot scheduled: with no nap, nothing else would arm it, and a connection
    /// waiting for its slot (`wait_slot`) would never be woken.
    fn no_receive_times(&self) {
        self.gate.borrow_mut().take();
        if let Some(timer) = &self.timer {
            timer.make_eager();
        }
        self.stats.borrow_mut().notes.push(format!(
            "thread {}: no kernel receive timestamps on this system; the open loop wakes for \
             every response instead of coalescing its wake-ups (more CPU per request)",
            self.thread_index
        ));
    }

    /// The open-loop pacer, run when the thread has nothing to do and is about to park. When no
    /// connection is overdue and the next slot (plus the slack) is at most a nap away, it naps
    /// until then, then releases what is due: responses that arrive meanwhile are read then,
    /// their arrival known from the kernel's timestamps. Otherwise it arms the slot timer and
    /// lets the thread park, to be woken by a response or the timer.
    pub fn on_idle(&self) {
        let gate = self.gate.borrow();
        let (Some(timer), Some(gate)) = (&self.timer, gate.as_ref()) else {
            return;
        };
        if self.cut_at.get().is_some() {
            return;
        }
        let Some(fire) = timer.fire_at() else {
            return;
        };
        let now = Instant::now();
        if fire > now {
            if self.overdue.get() > 0 || fire - now > MAX_NAP.max(timer.slack()) {
                timer.arm_for_park();
                return;
            }
            gate.nap(fire - now);
        }
        self.release_due(Instant::now());
    }

    /// Counts a connection attempt that failed before a request could be sent. In count mode it
    /// uses up one request, so that `-n` bounds attempts even when the server is down.
    fn failed_attempt(&self, kind: ErrorKind, message: impl FnOnce() -> String) {
        let now = Instant::now();
        if now >= self.run.measure_start && self.take_budget() {
            self.stats.borrow_mut().record_error(kind, message);
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

/// Runs connection `index` (of the run; `local` within this thread) until the run stops.
pub(crate) async fn run_connection(ctx: Rc<ThreadCtx>, index: usize, local: usize) {
    let ctx = &*ctx;
    let run = &*ctx.run;
    let cfg = &run.cfg;
    poll_fn(|cx| {
        ctx.wakers.borrow_mut()[local] = Some(cx.waker().clone());
        Poll::Ready(())
    })
    .await;
    let mut schedule = cfg
        .rate
        .map(|r| Schedule::new(run.load_start, index, cfg.connections, r));
    if let (Some(s), Some(timer)) = (&schedule, &ctx.timer) {
        timer.schedule(s.peek(), local);
    }
    let mut sleep = pin!(tokio::time::sleep(Duration::ZERO));
    let mut backoff = Backoff(Backoff::FIRST);
    let when_due = cfg.connect == Connect::WhenDue;
    // When this connection was last free to send: the run's start, then its last response.
    let mut free_at = run.load_start;
    // Connect when due: for the slot being connected for, the instant from which it waited for
    // the connection (its time, or the last response if later) and when the first attempt began.
    let mut attempt: Option<(Instant, Instant)> = None;

    while !ctx.should_stop(Instant::now()) {
        if let (true, None, Some(s)) = (when_due, attempt, &schedule) {
            let t = s.peek();
            if t >= run.deadline || !wait_slot(ctx, t).await {
                break;
            }
            let now = Instant::now();
            if ctx.should_stop(now) {
                break;
            }
            attempt = Some((t.max(free_at), now));
        }
        let stream = tokio::select! {
            s = connect(run.addr, cfg.connect_timeout, cfg.is_open_loop()) => s,
            _ = ctx.cut() => break,
        };
        let stream = match stream {
            Ok(s) => s,
            Err(message) => {
                ctx.failed_attempt(ErrorKind::Connect, || message);
                backoff.wait(ctx).await;
                continue;
            }
        };
        let connected = Instant::now();
        // Waiting for the connection: from the slot (or the last response) until connected, less
        // the engine's own lateness in waking for the slot, which is send lag.
        free_at = match attempt.take() {
            Some((ready, began)) => ready + (connected - began),
            None => connected,
        };
        let mut conn = Connection::new(stream);
        let outcome = request_loop(
            ctx,
            local,
            &mut conn,
            schedule.as_mut(),
            sleep.as_mut(),
            &mut free_at,
        )
        .await;
        // Closed now, before any wait for the next slot.
        drop(conn);
        match outcome {
            Outcome::Stop => break,
            Outcome::Reconnect { answered: true } => backoff.reset(),
            // A server that accepts and then closes or resets without answering would otherwise
            // be hammered with connections (and the machine's ephemeral ports with them).
            Outcome::Reconnect { answered: false } => backoff.wait(ctx).await,
        }
    }

    if let Some(s) = &schedule {
        // A run that ran its course accounts for its whole window; one stopped early (Ctrl-C, or
        // its request count reached) only until the instant it was stopped. Slots of the window
        // never sent are censored samples: no response by the end, so at least `end - slot`.
        let mut stats = ctx.stats.borrow_mut();
        let end = run.window_end(stats.budget_spent_at);
        stats.scheduled += s.slots_in(run.measure_start, end);
        let first = s.next_index().max(s.slots_before(run.measure_start));
        let last = s.slots_before(end);
        if last > first {
            let cut = ctx
                .cut_at
                .get()
                .or(run.stop.at())
                .unwrap_or_else(Instant::now)
                .max(end);
            let n = last - first;
            stats.unsent += n;
            let groups = n.min(CENSOR_GROUPS);
            for g in 0..groups {
                let (lo, hi) = (first + n * g / groups, first + n * (g + 1) / groups);
                stats.record_censored(s.time_of(hi - 1), cut, hi - lo);
            }
        }
    }
}

/// Tests only: connections to this port read without the kernel's receive times, as on a
/// system that has none (or before the kernel has switched its timestamping on), so that the
/// engine's path for responses without one runs deterministically. 0: none.
#[cfg(test)]
pub(crate) static NO_RECEIVE_TIMES_PORT: std::sync::atomic::AtomicU16 =
    std::sync::atomic::AtomicU16::new(0);

/// Opens a connection. `timestamps`: the socket records the kernel's receive time of what it
/// reads (open loop; see [`Socket`]).
async fn connect(addr: SocketAddr, timeout: Duration, timestamps: bool) -> Result<Socket, String> {
    #[cfg(test)]
    let timestamps = timestamps && addr.port() != NO_RECEIVE_TIMES_PORT.load(Ordering::Relaxed);
    let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("no connection to {addr} within {timeout:?}"))?
        .map_err(|e| format!("{addr}: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("{addr}: setting TCP_NODELAY: {e}"))?;
    Ok(Socket::new(stream, timestamps))
}

/// The instant a response arrived: the kernel's receive time when the socket recorded one,
/// mapped from the system clock to the monotonic one at `now`, and kept within `[sent, now]`
/// (a system clock stepped meanwhile cannot move it outside the exchange); otherwise `now`.
fn arrival(response: &Response, sent: Instant, now: Instant) -> Instant {
    let Some(received) = response.received else {
        return now;
    };
    let age = SystemTime::now()
        .duration_since(received)
        .unwrap_or(Duration::ZERO);
    now.checked_sub(age).unwrap_or(sent).clamp(sent, now)
}

/// Waits for slot `t` (its entry is in the thread's timer since the connection's previous send):
/// `false` when the run was cut off first.
async fn wait_slot(ctx: &ThreadCtx, t: Instant) -> bool {
    poll_fn(|_| {
        if ctx.cut_at.get().is_some() {
            Poll::Ready(false)
        } else if Instant::now() >= t {
            Poll::Ready(true)
        } else {
            Poll::Pending
        }
    })
    .await
}

async fn request_loop(
    ctx: &ThreadCtx,
    local: usize,
    conn: &mut Connection,
    mut schedule: Option<&mut Schedule>,
    mut sleep: Pin<&mut Sleep>,
    free_at: &mut Instant,
) -> Outcome {
    let run = &*ctx.run;
    let cfg = &run.cfg;
    let keep_body = cfg.validation.needs_body();
    let mut answered = false;
    // `free_at`: when this connection was free to send (it has just been opened; see
    // `run_connection`), then at every response. A slot due earlier waited for the connection,
    // not for the engine.
    loop {
        let scheduled = schedule.as_deref().map(Schedule::peek);
        if scheduled.is_some_and(|t| t >= run.deadline) {
            return Outcome::Stop;
        }
        if let Some(t) = scheduled {
            if !wait_slot(ctx, t).await {
                return Outcome::Stop;
            }
        }
        // Checked after the wait: a server that closed an idle connection meanwhile (keep-alive
        // timeout) costs a reconnect, which the slot's latency includes, not an error.
        if !conn.usable() {
            return Outcome::Reconnect { answered };
        }
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
            // The next slot goes into the timer now: while this request is in flight, it bounds
            // how long the thread may nap (see `on_idle`).
            let next = s.peek();
            if let Some(timer) = ctx.timer.as_ref().filter(|_| next < run.deadline) {
                timer.schedule(next, local);
            }
        }
        if let (true, Some(t)) = (measured, scheduled) {
            ctx.stats.borrow_mut().record_send(t, *free_at, sent);
        }
        let due = sent + cfg.timeout;
        let mut kept = Vec::new();
        let result = {
            let sink = keep_body.then_some(BodySink {
                kept: &mut kept,
                limit: MAX_CHECKED_BODY,
            });
            ctx.begin_flight(local);
            let request = if run.cycle.is_empty() {
                &run.request
            } else {
                let next = &ctx.next_path[local];
                let i = next.get();
                next.set(i + cfg.connections as u64);
                &run.cycle[(i % run.cycle.len() as u64) as usize]
            };
            let mut response = pin!(conn.exchange(request, sink));
            // The timeout timer is re-armed lazily: when it fires early (it was armed for an
            // earlier request), it is pushed to this request's due time. Most requests never
            // touch the timer wheel, and no request is timed out before its own due time.
            loop {
                tokio::select! {
                    biased;
                    r = &mut response => break Some(r),
                    _ = sleep.as_mut() => {
                        if Instant::now() >= due {
                            let timeout = cfg.timeout;
                            break Some(Err(ExchangeError {
                                kind: ErrorKind::Timeout,
                                message: format!("no complete response within {timeout:?}"),
                            }));
                        }
                        sleep.as_mut().reset(due.into());
                    }
                    _ = ctx.cut() => break None,
                }
            }
        };
        ctx.end_flight(local);
        let Some(result) = result else {
            // Cut off in flight: counted, and in an open loop a censored sample from its slot.
            if measured {
                let mut stats = ctx.stats.borrow_mut();
                stats.sent += 1;
                stats.cut_off += 1;
                if let (Some(t), Some(cut)) = (scheduled, ctx.cut_at.get()) {
                    stats.record_censored(t, cut.max(sent), 1);
                }
            }
            return Outcome::Stop;
        };
        let now = Instant::now();
        let done = match &result {
            Ok(response) => arrival(response, sent, now),
            Err(_) => now,
        };
        let ok = result.is_ok();
        if let Ok(response) = &result {
            if response.received.is_none() && ctx.gate.borrow().is_some() {
                ctx.no_receive_times();
            }
        }
        if measured {
            match result {
                Ok(response) => {
                    let verdict = judge(ctx, response, &kept);
                    let mut stats = ctx.stats.borrow_mut();
                    stats.sent += 1;
                    stats.record_response(
                        sent,
                        scheduled,
                        done,
                        response.status,
                        response.body_len,
                        verdict,
                    );
                    let counter = &ctx.progress[ctx.thread_index].0;
                    counter.store(stats.completed, Ordering::Relaxed);
                }
                Err(e) => {
                    let mut stats = ctx.stats.borrow_mut();
                    stats.sent += 1;
                    stats.record_error(e.kind, || e.message);
                }
            }
        }
        if ctx.timer.is_some() {
            ctx.release_due(now);
        }
        *free_at = done;
        answered |= ok;
        if !ok {
            return Outcome::Reconnect { answered };
        }
        // A response that ended the connection: closed by the caller now, not held until the
        // next slot (see the module doc); replaced only if a slot of the window is left.
        if conn.ended() {
            return match schedule.as_deref() {
                Some(s) if s.peek() >= run.deadline => Outcome::Stop,
                _ => Outcome::Reconnect { answered },
            };
        }
    }
}

/// Checks a response against the run's expectations; the first failure of each kind leaves a
/// sample message in the report.
fn judge(ctx: &ThreadCtx, response: Response, kept: &[u8]) -> Result<(), Failure> {
    let validation = &ctx.run.cfg.validation;
    let (status, len) = (response.status, response.body_len);
    let verdict =
        validation
            .check(status, kept)
            .and(if validation.needs_body() && len > kept.len() as u64 {
                Err(Failure::Body)
            } else {
                Ok(())
            });
    if let Err(f) = verdict {
        if ctx.stats.borrow().wants_sample(f) {
            let m = validation.explain(f, status, kept, len, MAX_CHECKED_BODY);
            ctx.stats.borrow_mut().add_sample(f, m);
        }
    }
    verdict
}
