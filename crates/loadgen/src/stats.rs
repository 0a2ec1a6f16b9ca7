//! Per-thread statistics. Each engine thread owns one [`ThreadStats`] (shared by its connection
//! tasks through an `Rc<RefCell<…>>`: one thread, no locks); the engine merges them once, at the
//! end. Memory is fixed by the histograms' bounds, not by the number of requests: the per-second
//! windows ([`Window`]) are cut from the running totals once a second (the difference from the
//! previous cut, so recording a request costs nothing extra) and leave the thread (see
//! [`crate::series`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::cpu::CpuTime;
use crate::validate::Failure;

/// Latencies are recorded in nanoseconds, from 1 ns to one hour, to 3 significant digits.
pub const HIST_MAX_NS: u64 = 3_600_000_000_000;

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_NS, 3).expect("static histogram bounds are valid")
}

/// Why a request got no HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The TCP connection could not be opened (refused, unreachable, timed out): no request was
    /// sent.
    Connect,
    /// No complete response within the per-request timeout.
    Timeout,
    /// The server closed the connection before or while answering (a truncated body included).
    Closed,
    /// Another I/O error (reset, broken pipe, …).
    Io,
    /// The response was not valid HTTP/1.1.
    Protocol,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 5] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Closed,
        ErrorKind::Io,
        ErrorKind::Protocol,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Closed => "closed",
            ErrorKind::Io => "io",
            ErrorKind::Protocol => "protocol",
        }
    }
}

/// One second of the measuring window, as one thread saw it: requests are counted in the window
/// in which they ended (response, error or cut-off), to within the few milliseconds it takes the
/// thread's watcher to cut the window at the second's end.
#[derive(Debug, Clone)]
pub struct Window {
    /// Seconds from the start of measuring.
    pub index: u64,
    pub responses: u64,
    pub errors: u64,
    pub from_send: Histogram<u64>,
    pub from_schedule: Histogram<u64>,
}

impl Window {
    pub fn new(index: u64) -> Window {
        Window {
            index,
            responses: 0,
            errors: 0,
            from_send: new_histogram(),
            from_schedule: new_histogram(),
        }
    }

    pub fn merge(&mut self, o: &Window) {
        self.responses += o.responses;
        self.errors += o.errors;
        self.from_send.add(&o.from_send).expect("same bounds");
        self.from_schedule
            .add(&o.from_schedule)
            .expect("same bounds");
    }
}

/// Maps instants to window indexes: whole seconds from `start`, the last one (`last`) also
/// taking what ends after the window (an open loop's drain).
#[derive(Debug, Clone, Copy)]
pub struct WindowClock {
    pub start: Instant,
    pub last: u64,
}

impl WindowClock {
    pub fn index(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.start)
            .as_secs()
            .min(self.last)
    }
}

/// One thread's measurements.
#[derive(Debug, Clone)]
pub struct ThreadStats {
    /// Latency from the actual send to the end of the response body.
    pub from_send: Histogram<u64>,
    /// Open loop only: latency from the scheduled send time (coordinated-omission corrected),
    /// censored samples included.
    pub from_schedule: Histogram<u64>,
    /// Open loop only: how late the engine itself sent, once the connection was free.
    pub send_lag: Histogram<u64>,
    /// Open loop only: how long a slot waited for its connection to be free (the previous
    /// response, or a reconnect).
    pub connection_wait: Histogram<u64>,
    /// Requests sent in the measuring window.
    pub sent: u64,
    /// Responses received (any status).
    pub completed: u64,
    /// Responses that passed validation.
    pub succeeded: u64,
    pub failed_status: u64,
    pub failed_body: u64,
    /// Indexed like [`ErrorKind::ALL`].
    pub errors: [u64; 5],
    /// Sent requests still unanswered when the run ended (deadline or stop).
    pub cut_off: u64,
    /// Open loop: slots of the window never sent (they are censored samples too).
    pub unsent: u64,
    /// First message seen for each error kind and validation failure (`status`, `body`).
    pub samples: BTreeMap<&'static str, String>,
    /// Responses by status code (index = code, 0..=999).
    pub status_codes: Vec<u64>,
    pub body_bytes: u64,
    /// Open loop: slots scheduled in the measuring window.
    pub scheduled: u64,
    /// When the last measured response finished.
    pub last_done: Option<Instant>,
    /// Count mode: when this thread used up its share of the requests.
    pub budget_spent_at: Option<Instant>,
    /// This thread's CPU time during the measuring window.
    pub cpu: CpuTime,
    /// Problems the thread met that are not request errors (e.g. pinning failed).
    pub notes: Vec<String>,
    /// Per-second windows: the totals when the current window started (`None`: all zero), and
    /// the windows over but not yet handed to the collector.
    pub clock: Option<WindowClock>,
    pub(crate) cut: Cut,
    pub finished_windows: Vec<Window>,
}

/// The running totals at the start of the current window.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cut {
    index: u64,
    totals: Option<Box<Totals>>,
}

/// From send, from schedule, responses, errors.
type Totals = (Histogram<u64>, Histogram<u64>, u64, u64);

impl Default for ThreadStats {
    fn default() -> Self {
        ThreadStats {
            from_send: new_histogram(),
            from_schedule: new_histogram(),
            send_lag: new_histogram(),
            connection_wait: new_histogram(),
            sent: 0,
            completed: 0,
            succeeded: 0,
            failed_status: 0,
            failed_body: 0,
            errors: [0; 5],
            cut_off: 0,
            unsent: 0,
            samples: BTreeMap::new(),
            status_codes: vec![0; 1000],
            body_bytes: 0,
            scheduled: 0,
            last_done: None,
            budget_spent_at: None,
            cpu: CpuTime::default(),
            notes: Vec::new(),
            clock: None,
            cut: Cut::default(),
            finished_windows: Vec::new(),
        }
    }
}

pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
}

impl ThreadStats {
    /// Closes the current window if `index` is past it: the window is what the totals gained
    /// since its start. Called by the thread's watcher at each second's end, and at the end.
    pub fn close_windows(&mut self, index: u64) {
        if self.cut.index >= index {
            return;
        }
        let mut w = Window::new(self.cut.index);
        w.from_send = self.from_send.clone();
        w.from_schedule = self.from_schedule.clone();
        w.responses = self.completed;
        w.errors = self.total_errors();
        if let Some(t) = &self.cut.totals {
            let (send, sched, responses, errors) = &**t;
            w.from_send.subtract(send).expect("totals only grow");
            w.from_schedule.subtract(sched).expect("totals only grow");
            w.responses -= responses;
            w.errors -= errors;
        }
        self.cut = Cut {
            index,
            totals: Some(Box::new((
                self.from_send.clone(),
                self.from_schedule.clone(),
                self.completed,
                self.total_errors(),
            ))),
        };
        self.finished_windows.push(w);
    }

    /// Records one HTTP response.
    pub fn record_response(
        &mut self,
        sent: Instant,
        scheduled: Option<Instant>,
        done: Instant,
        status: u16,
        body_bytes: u64,
        validation: Result<(), Failure>,
    ) {
        self.completed += 1;
        let from_send = nanos(done - sent);
        self.from_send.saturating_record(from_send);
        let from_schedule = scheduled.map(|s| nanos(done.saturating_duration_since(s)));
        if let Some(v) = from_schedule {
            self.from_schedule.saturating_record(v);
        }
        if let Some(c) = self.status_codes.get_mut(usize::from(status)) {
            *c += 1;
        }
        self.body_bytes += body_bytes;
        match validation {
            Ok(()) => self.succeeded += 1,
            Err(Failure::Status) => self.failed_status += 1,
            Err(Failure::Body) => self.failed_body += 1,
        }
        self.last_done = Some(self.last_done.map_or(done, |d| d.max(done)));
    }

    /// Open loop: how the send of a slot scheduled at `scheduled` was delayed: first waiting for
    /// the connection to be free (`free_at`), then by the engine itself.
    pub fn record_send(&mut self, scheduled: Instant, free_at: Instant, sent: Instant) {
        self.connection_wait
            .saturating_record(free_at.saturating_duration_since(scheduled).as_nanos() as u64);
        self.send_lag.saturating_record(nanos(
            sent.saturating_duration_since(scheduled.max(free_at)),
        ));
    }

    /// Records a request that got no response; `message` is asked for only when this kind has
    /// no sample message yet.
    pub fn record_error(&mut self, kind: ErrorKind, message: impl FnOnce() -> String) {
        self.errors[kind as usize] += 1;
        self.samples.entry(kind.name()).or_insert_with(message);
    }

    /// Records a validation failure's sample message, if it is the first of its kind.
    pub fn wants_sample(&self, failure: Failure) -> bool {
        !self.samples.contains_key(failure.name())
    }

    pub fn add_sample(&mut self, failure: Failure, message: String) {
        self.samples.entry(failure.name()).or_insert(message);
    }

    /// Open loop: a slot scheduled at `scheduled` that had no response when the run ended at
    /// `cut`: a censored sample, at least `cut - scheduled`, recorded `n` times (for unsent
    /// slots spread evenly the caller passes a chunk's latest slot, the smallest value).
    pub fn record_censored(&mut self, scheduled: Instant, cut: Instant, n: u64) {
        let v = nanos(cut.saturating_duration_since(scheduled));
        self.from_schedule.saturating_record_n(v, n);
    }

    pub fn error_count(&self, kind: ErrorKind) -> u64 {
        self.errors[kind as usize]
    }

    pub fn total_errors(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Adds `other` into `self` (windows excepted: they go through the collector).
    pub fn merge(&mut self, other: &ThreadStats) {
        for (a, b) in [
            (&mut self.from_send, &other.from_send),
            (&mut self.from_schedule, &other.from_schedule),
            (&mut self.send_lag, &other.send_lag),
            (&mut self.connection_wait, &other.connection_wait),
        ] {
            a.add(b).expect("histograms share bounds");
        }
        self.sent += other.sent;
        self.completed += other.completed;
        self.succeeded += other.succeeded;
        self.failed_status += other.failed_status;
        self.failed_body += other.failed_body;
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        self.cut_off += other.cut_off;
        self.unsent += other.unsent;
        for (k, v) in &other.samples {
            self.samples.entry(k).or_insert_with(|| v.clone());
        }
        for (a, b) in self.status_codes.iter_mut().zip(&other.status_codes) {
            *a += b;
        }
        self.body_bytes += other.body_bytes;
        self.scheduled += other.scheduled;
        self.last_done = match (self.last_done, other.last_done) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.cpu = self.cpu + other.cpu;
        self.notes.extend(other.notes.iter().cloned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_merges() {
        let t = Instant::now();
        let mut a = ThreadStats::default();
        a.record_response(t, None, t + Duration::from_micros(100), 200, 13, Ok(()));
        a.record_error(ErrorKind::Timeout, || "first".into());
        a.record_error(ErrorKind::Timeout, || "second".into());
        let mut b = ThreadStats::default();
        let sched = t - Duration::from_millis(5);
        b.record_response(
            t,
            Some(sched),
            t + Duration::from_micros(300),
            500,
            2,
            Err(Failure::Status),
        );
        a.merge(&b);
        assert_eq!(a.completed, 2);
        assert_eq!(a.succeeded, 1);
        assert_eq!(a.failed_status, 1);
        assert_eq!(a.error_count(ErrorKind::Timeout), 2);
        assert_eq!(a.samples["timeout"], "first");
        assert_eq!(a.status_codes[200], 1);
        assert_eq!(a.status_codes[500], 1);
        assert_eq!(a.body_bytes, 15);
        assert_eq!(a.from_send.len(), 2);
        assert_eq!(a.from_schedule.len(), 1);
        // From the schedule: 5 ms + 300 µs.
        let v = a.from_schedule.value_at_quantile(1.0);
        assert!(a.from_schedule.equivalent(v, 5_300_000), "{v}");
        assert_eq!(a.last_done, Some(t + Duration::from_micros(300)));
    }

    #[test]
    fn memory_does_not_grow_with_requests() {
        let mut s = ThreadStats::default();
        let before = s.from_send.distinct_values();
        let t = Instant::now();
        for i in 0..100_000u64 {
            let done = t + Duration::from_nanos(1000 + i * 7919 % 10_000_000);
            s.record_response(t, None, done, 200, 0, Ok(()));
        }
        assert_eq!(s.from_send.distinct_values(), before);
        assert_eq!(s.from_send.len(), 100_000);
    }

    #[test]
    fn windows_are_what_the_totals_gained_between_cuts() {
        let t = Instant::now();
        let mut s = ThreadStats::default();
        let ms = |ms: u64| t + Duration::from_millis(ms);
        s.record_response(ms(100), None, ms(200), 200, 0, Ok(()));
        s.close_windows(1);
        s.record_response(ms(900), None, ms(1100), 200, 0, Ok(()));
        s.record_error(ErrorKind::Io, String::new);
        s.close_windows(1); // not past the current window: nothing
        s.close_windows(2);
        s.record_response(ms(2900), None, ms(3200), 200, 0, Ok(()));
        s.close_windows(u64::MAX); // the end: the rest is the last window
        let w: Vec<(u64, u64, u64, u64)> = s
            .finished_windows
            .iter()
            .map(|w| (w.index, w.responses, w.errors, w.from_send.len()))
            .collect();
        assert_eq!(w, vec![(0, 1, 0, 1), (1, 1, 1, 1), (2, 1, 0, 1)]);
        let v = s.finished_windows[2].from_send.max();
        assert!(s.from_send.equivalent(v, 300_000_000), "{v}");
    }

    #[test]
    fn censored_samples_are_at_least_the_time_since_their_slot() {
        let t = Instant::now();
        let mut s = ThreadStats::default();
        s.record_censored(t, t + Duration::from_millis(700), 3);
        assert_eq!(s.from_schedule.len(), 3);
        let v = s.from_schedule.value_at_quantile(0.5);
        assert!(s.from_schedule.equivalent(v, 700_000_000), "{v}");
    }
}
