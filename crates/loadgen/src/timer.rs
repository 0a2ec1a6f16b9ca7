//! One precise timer per engine thread for open-loop send slots, with wake-up coalescing.
//!
//! tokio's timer wheel has a 1 ms granularity: sleeping until a send time lands up to a
//! millisecond late, and in an open loop that lateness would be reported as server latency. This
//! timer keeps the thread's pending slots in a binary heap (earliest first) and arms a single
//! `timerfd` (a kernel high-resolution timer) for the earliest slot plus the *slack*. When it
//! fires, every slot that is due by then is released at once: slots that fall within the slack of
//! each other share one wake-up. A slot is never released before its time, and at most about the
//! slack (plus the kernel's wake-up latency) after it; latency is measured from each slot's exact
//! scheduled time whatever the slack, and the engine reports how late it sent ("send lag").
//!
//! Due slots are also released whenever the thread is awake anyway (after every response,
//! [`ThreadTimer::release`]), so at high rates most slots cost no timer wake-up at all.
//!
//! One descriptor per thread, however many connections: `-c 10000 --rate 1000` needs 10,000
//! sockets and a timer per thread, not 20,000 descriptors.
//!
//! [`IdleGate`] extends the coalescing to the responses. Every connection keeps its *next* slot in
//! the heap, also while its request is in flight, so the heap's head bounds when any connection
//! next needs the thread. When the thread has nothing to run, the runtime's park hook runs the
//! thread's pacer (see `ThreadCtx::on_idle` in [`crate::conn`]): it sleeps until the head's slot
//! plus the slack, instead of waking for every response that arrives meanwhile, and reads them all
//! at once when it wakes for the slots. Their arrival times are the kernel's receive timestamps
//! ([`crate::http1::Socket`]), so reading them late adds nothing to the latencies reported. A
//! connection whose slot came due while its request was still in flight is *overdue*: while any
//! is, the thread does not nap but wakes on responses, so that an overdue connection sends as
//! soon as it is free. The `timerfd` is then armed only when the thread parks, for slots further
//! away than a nap may last. On a VM where a thread wake-up costs ~10–20 µs of CPU, this is what
//! keeps the open loop's CPU per request near the closed loop's. A thread that stops napping for
//! good (a response without a receive time) makes its timer eager again
//! ([`ThreadTimer::make_eager`]): with no pacer to arm it, its slots would never be released.

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// The longest nap: slots further away than this (or than the slack, if larger) are waited for
/// with the `timerfd`, so that the thread's other timers (request timeouts, per-second windows,
/// stop checks) are never held up by more than this.
pub const MAX_NAP: Duration = Duration::from_millis(5);

thread_local! {
    /// This engine thread's pacer, run by [`IdleGate::before_park`].
    static PACER: RefCell<Option<Box<dyn Fn()>>> = const { RefCell::new(None) };
}

/// Lets an idle open-loop engine thread nap through response arrivals until its next slots are
/// due (see the module docs).
///
/// The runtime calls [`IdleGate::before_park`] when it has nothing to run (tokio's
/// `on_thread_park`); the thread's tasks run inside [`IdleGate::gated`], which notes every
/// wake-up of them, so that the gate never naps while work is waiting.
pub struct IdleGate {
    /// The thread's tasks were woken and have not run since.
    woken: AtomicBool,
    /// Naps taken (diagnostics and tests).
    naps: AtomicU64,
}

impl IdleGate {
    pub fn new() -> Arc<IdleGate> {
        Arc::new(IdleGate {
            woken: AtomicBool::new(false),
            naps: AtomicU64::new(0),
        })
    }

    /// Installs the calling thread's pacer (replacing any), or removes it (`None`). The pacer
    /// holds the thread's state: remove it when the thread's tasks are done.
    pub fn set_pacer(pacer: Option<Box<dyn Fn()>>) {
        PACER.with(|p| *p.borrow_mut() = pacer);
    }

    /// Runs the thread's pacer unless a task is waiting to run. Called by the runtime before it
    /// parks.
    pub fn before_park(&self) {
        if self.woken.load(Ordering::Relaxed) {
            return;
        }
        PACER.with(|p| {
            if let Some(f) = &*p.borrow() {
                f()
            }
        });
    }

    /// Sleeps for `d`, uninterrupted by socket events.
    pub fn nap(&self, d: Duration) {
        self.naps.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(d);
    }

    /// Naps taken so far.
    pub fn naps(&self) -> u64 {
        self.naps.load(Ordering::Relaxed)
    }

    /// Runs `f` (the thread's whole set of tasks) so that the gate sees when they are woken.
    pub fn gated<F: Future>(self: &Arc<Self>, f: F) -> Gated<F> {
        Gated {
            inner: Box::pin(f),
            gate: self.clone(),
            wakers: None,
        }
    }
}

/// A future whose wake-ups are noted by its [`IdleGate`].
pub struct Gated<F> {
    inner: Pin<Box<F>>,
    gate: Arc<IdleGate>,
    /// The waker the runtime gave, and the noting one made from it.
    wakers: Option<(Waker, Waker)>,
}

struct NotingWaker {
    inner: Waker,
    gate: Arc<IdleGate>,
}

impl Wake for NotingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.gate.woken.store(true, Ordering::Relaxed);
        self.inner.wake_by_ref();
    }
}

impl<F: Future> Future for Gated<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        this.gate.woken.store(false, Ordering::Relaxed);
        if !matches!(&this.wakers, Some((given, _)) if given.will_wake(cx.waker())) {
            let noting = Waker::from(Arc::new(NotingWaker {
                inner: cx.waker().clone(),
                gate: this.gate.clone(),
            }));
            this.wakers = Some((cx.waker().clone(), noting));
        }
        let (_, noting) = this.wakers.as_ref().expect("set above");
        this.inner.as_mut().poll(&mut Context::from_waker(noting))
    }
}

/// A thread's slot timer. Entries are `(slot time, connection index within the thread)`.
pub struct ThreadTimer {
    #[cfg(target_os = "linux")]
    fd: Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>,
    heap: RefCell<BinaryHeap<Reverse<(Instant, usize)>>>,
    /// When the kernel timer is set to fire, if it is armed.
    armed: Cell<Option<Instant>>,
    slack: Duration,
    /// Kernel wake-ups so far (for tests and diagnostics).
    fires: Cell<u64>,
    /// Armed by the thread's pacer, only when the thread parks ([`ThreadTimer::arm_for_park`]),
    /// not at every [`ThreadTimer::schedule`]. Cleared for good by [`ThreadTimer::make_eager`]
    /// when the thread stops napping: no pacer would arm it any more.
    lazy: Cell<bool>,
}

impl ThreadTimer {
    /// Must be called inside a tokio runtime with IO enabled. Falls back to a 1 ms tick when no
    /// `timerfd` is available (non-Linux systems), and says so in `Err` for the caller's notes.
    /// `lazy`: the kernel timer is armed only by [`ThreadTimer::arm_for_park`] (an engine
    /// thread with a pacer); otherwise by every [`ThreadTimer::schedule`] that needs it earlier.
    pub fn new(slack: Duration, lazy: bool) -> (ThreadTimer, Option<io::Error>) {
        let mut t = ThreadTimer {
            lazy: Cell::new(lazy),
            #[cfg(target_os = "linux")]
            fd: None,
            heap: RefCell::new(BinaryHeap::new()),
            armed: Cell::new(None),
            slack,
            fires: Cell::new(0),
        };
        #[cfg(target_os = "linux")]
        {
            match open_timerfd() {
                Ok(fd) => t.fd = Some(fd),
                Err(e) => return (t, Some(e)),
            }
            (t, None)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = &mut t;
            (
                t,
                Some(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "no timerfd on this system",
                )),
            )
        }
    }

    pub fn slack(&self) -> Duration {
        self.slack
    }

    /// Kernel timer wake-ups so far.
    pub fn fires(&self) -> u64 {
        self.fires.get()
    }

    /// Asks for connection `who` to be released at `at` (or up to the slack after it).
    pub fn schedule(&self, at: Instant, who: usize) {
        self.heap.borrow_mut().push(Reverse((at, who)));
        let fire = at + self.slack;
        if !self.lazy.get() && self.armed.get().is_none_or(|a| fire < a) {
            self.arm(fire);
        }
    }

    /// When the earliest pending entry must be released by: its time plus the slack.
    pub fn fire_at(&self) -> Option<Instant> {
        self.next().map(|n| n + self.slack)
    }

    /// Makes sure the kernel timer fires by [`ThreadTimer::fire_at`], for a thread about to park.
    pub fn arm_for_park(&self) {
        if let Some(fire) = self.fire_at() {
            if self.armed.get().is_none_or(|a| fire < a) {
                self.arm(fire);
            }
        }
    }

    /// Turns a lazy timer into one armed by every [`ThreadTimer::schedule`] (and re-armed after
    /// every fire), and arms it now for the pending entries. For a thread whose pacer stops
    /// napping (and so stops calling [`ThreadTimer::arm_for_park`]): without this, an entry
    /// scheduled afterwards would wait for a kernel timer that nobody arms, and its connection,
    /// parked until its slot is released, would never send again.
    pub fn make_eager(&self) {
        self.lazy.set(false);
        self.arm_for_park();
    }

    /// Releases every entry due at `now`, calling `wake` for each; returns how many.
    pub fn release(&self, now: Instant, mut wake: impl FnMut(usize)) -> usize {
        let mut heap = self.heap.borrow_mut();
        let mut n = 0;
        while let Some(Reverse((at, who))) = heap.peek().copied() {
            if at > now {
                break;
            }
            heap.pop();
            wake(who);
            n += 1;
        }
        n
    }

    /// The earliest pending entry.
    pub fn next(&self) -> Option<Instant> {
        self.heap.borrow().peek().map(|Reverse((at, _))| *at)
    }

    /// Drives the kernel timer: waits for it to fire, releases what is due, re-arms for the
    /// earliest remaining entry. Runs until dropped.
    pub async fn drive(&self, mut wake: impl FnMut(usize)) {
        loop {
            self.wait_fire().await;
            self.fires.set(self.fires.get() + 1);
            self.armed.set(None);
            self.release(Instant::now(), &mut wake);
            if !self.lazy.get() {
                if let Some(fire) = self.fire_at() {
                    self.arm(fire);
                }
            }
        }
    }

    #[cfg(target_os = "linux")]
    fn arm(&self, at: Instant) {
        use std::os::fd::AsRawFd;
        let Some(fd) = &self.fd else {
            self.armed.set(Some(at));
            return;
        };
        // A zero it_value would disarm the timer: wait at least a nanosecond.
        let wait = at
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: wait.as_secs() as libc::time_t,
                tv_nsec: wait.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: valid fd and itimerspec. It cannot fail for a valid relative time.
        unsafe { libc::timerfd_settime(fd.get_ref().as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        self.armed.set(Some(at));
    }

    #[cfg(not(target_os = "linux"))]
    fn arm(&self, at: Instant) {
        self.armed.set(Some(at));
    }

    #[cfg(target_os = "linux")]
    async fn wait_fire(&self) {
        use std::os::fd::AsRawFd;
        let Some(fd) = &self.fd else {
            return self.tick().await;
        };
        loop {
            let Ok(mut guard) = fd.readable().await else {
                return self.tick().await;
            };
            let res = guard.try_io(|inner| {
                let mut expirations = 0u64;
                // SAFETY: reading 8 bytes into a u64, as timerfd requires.
                let n = unsafe {
                    libc::read(
                        inner.get_ref().as_raw_fd(),
                        (&mut expirations as *mut u64).cast(),
                        8,
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
            if let Ok(r) = res {
                if r.is_ok() {
                    // The read consumed the expiry: the timer is not readable again until it
                    // fires again (a new edge), so the next wait needs no read to find that out.
                    guard.clear_ready();
                    return;
                }
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    async fn wait_fire(&self) {
        self.tick().await
    }

    /// The fallback: tokio's 1 ms timer, until the armed time.
    async fn tick(&self) {
        loop {
            let now = Instant::now();
            let until = self
                .armed
                .get()
                .unwrap_or(now + Duration::from_millis(1))
                .min(now + Duration::from_millis(1));
            tokio::time::sleep_until(until.into()).await;
            if self.armed.get().is_some_and(|a| a <= Instant::now()) {
                return;
            }
        }
    }
}

#[cfg(target_os = "linux")]
fn open_timerfd() -> io::Result<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain syscall; the fd is owned by OwnedFd on success.
    let raw = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh fd we own.
    let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
    // SAFETY: the OwnedFd is moved into the AsyncFd and stays open, unchanged, until the
    // AsyncFd drops it.
    unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE)
    }
    .map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn never_early_and_never_a_tick_late() {
        let slots: Vec<Duration> = (0..20).map(|i| Duration::from_micros(300 * i)).collect();
        let (lags, _) = tokio::task::LocalSet::new().block_on(&rt(), async {
            tokio::task::spawn_local(async move { run_inner(&slots, Duration::ZERO).await })
                .await
                .unwrap()
        });
        let worst = lags.iter().max().unwrap();
        // A correctness bound, not a timing target: a 1 ms wheel would be late by up to a whole
        // tick on most of these; allow generous slack for a loaded CI machine.
        assert!(*worst < Duration::from_millis(50), "worst lag {worst:?}");
    }

    #[test]
    fn slots_within_the_slack_share_a_wake_up() {
        // 40 slots 10 µs apart (400 µs in all) with a 1 ms slack: one or two kernel wake-ups,
        // not 40, and none released early.
        let slots: Vec<Duration> = (0..40).map(|i| Duration::from_micros(10 * i)).collect();
        let (lags, fires) = tokio::task::LocalSet::new().block_on(&rt(), async {
            tokio::task::spawn_local(
                async move { run_inner(&slots, Duration::from_millis(1)).await },
            )
            .await
            .unwrap()
        });
        assert_eq!(lags.len(), 40);
        assert!(fires <= 3, "{fires} wake-ups for 40 close slots");
    }

    /// Schedules `slots` (offsets from now) and records how late each is released.
    async fn run_inner(slots: &[Duration], slack: Duration) -> (Vec<Duration>, u64) {
        let (timer, err) = ThreadTimer::new(slack, false);
        assert!(err.is_none(), "{err:?}");
        let timer = Rc::new(timer);
        let t0 = Instant::now() + Duration::from_millis(2);
        let at: Vec<Instant> = slots.iter().map(|d| t0 + *d).collect();
        for (i, a) in at.iter().enumerate() {
            timer.schedule(*a, i);
        }
        let released = Rc::new(RefCell::new(vec![None; at.len()]));
        let driver = {
            let (timer, released) = (timer.clone(), released.clone());
            tokio::task::spawn_local(async move {
                timer
                    .drive(|who| released.borrow_mut()[who] = Some(Instant::now()))
                    .await
            })
        };
        while released.borrow().iter().any(Option::is_none) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        driver.abort();
        let lags = released
            .borrow()
            .iter()
            .zip(&at)
            .map(|(r, a)| {
                let r = r.unwrap();
                assert!(r >= *a, "released before its time");
                r - *a
            })
            .collect();
        (lags, timer.fires())
    }

    #[test]
    fn release_takes_only_what_is_due() {
        let rt = rt();
        let _g = rt.enter();
        let (timer, _) = ThreadTimer::new(Duration::ZERO, false);
        let t0 = Instant::now() + Duration::from_secs(10);
        timer.schedule(t0 + Duration::from_millis(2), 2);
        timer.schedule(t0, 0);
        timer.schedule(t0 + Duration::from_millis(1), 1);
        let mut got = vec![];
        assert_eq!(
            timer.release(t0 + Duration::from_millis(1), |w| got.push(w)),
            2
        );
        assert_eq!(got, vec![0, 1]);
        assert_eq!(timer.next(), Some(t0 + Duration::from_millis(2)));
    }
}
