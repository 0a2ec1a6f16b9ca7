//! Per-thread statistics. Each engine thread owns one [`ThreadStats`] (shared by its connection
//! tasks through an `Rc<RefCell<…>>`: one thread, no locks); the engine merges them once, at the
//! end. Memory is fixed by the histograms' bounds, not by the number of requests.

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
    /// The TCP connection could not be opened (refused, unreachable, timed out).
    Connect,
    /// No complete response within the per-request timeout.
    Timeout,
    /// The server closed the connection before or while answering.
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

    /// Classifies a hyper error.
    pub fn of_hyper(e: &hyper::Error) -> ErrorKind {
        if e.is_parse() || e.is_parse_status() || e.is_user() {
            ErrorKind::Protocol
        } else if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
            ErrorKind::Closed
        } else if e.is_timeout() {
            ErrorKind::Timeout
        } else {
            ErrorKind::Io
        }
    }
}

/// One thread's measurements.
#[derive(Debug, Clone)]
pub struct ThreadStats {
    /// Latency from the actual send to the end of the response body.
    pub from_send: Histogram<u64>,
    /// Open loop only: latency from the scheduled send time (coordinated-omission corrected).
    pub from_schedule: Histogram<u64>,
    /// Open loop only: how late the engine sent relative to the schedule.
    pub send_lag: Histogram<u64>,
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
    /// Responses by status code (index = code, 0..=999).
    pub status_codes: Vec<u64>,
    pub body_bytes: u64,
    /// Open loop: slots scheduled in the measuring window, and those never sent.
    pub scheduled: u64,
    pub missed: u64,
    /// When the last measured response finished.
    pub last_done: Option<Instant>,
    /// Count mode: when this thread used up its share of the requests.
    pub budget_spent_at: Option<Instant>,
    /// This thread's CPU time during the measuring window.
    pub cpu: CpuTime,
    /// Problems the thread met that are not request errors (e.g. pinning failed).
    pub notes: Vec<String>,
}

impl Default for ThreadStats {
    fn default() -> Self {
        ThreadStats {
            from_send: new_histogram(),
            from_schedule: new_histogram(),
            send_lag: new_histogram(),
            sent: 0,
            completed: 0,
            succeeded: 0,
            failed_status: 0,
            failed_body: 0,
            errors: [0; 5],
            status_codes: vec![0; 1000],
            body_bytes: 0,
            scheduled: 0,
            missed: 0,
            last_done: None,
            budget_spent_at: None,
            cpu: CpuTime::default(),
            notes: Vec::new(),
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
}

impl ThreadStats {
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
        self.from_send.saturating_record(nanos(done - sent));
        if let Some(s) = scheduled {
            self.from_schedule
                .saturating_record(nanos(done.saturating_duration_since(s)));
            self.send_lag
                .saturating_record(nanos(sent.saturating_duration_since(s)));
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

    pub fn record_error(&mut self, kind: ErrorKind) {
        self.errors[kind as usize] += 1;
    }

    pub fn error_count(&self, kind: ErrorKind) -> u64 {
        self.errors[kind as usize]
    }

    pub fn total_errors(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &ThreadStats) {
        self.from_send
            .add(&other.from_send)
            .expect("histograms share bounds");
        self.from_schedule
            .add(&other.from_schedule)
            .expect("histograms share bounds");
        self.send_lag
            .add(&other.send_lag)
            .expect("histograms share bounds");
        self.sent += other.sent;
        self.completed += other.completed;
        self.succeeded += other.succeeded;
        self.failed_status += other.failed_status;
        self.failed_body += other.failed_body;
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        for (a, b) in self.status_codes.iter_mut().zip(&other.status_codes) {
            *a += b;
        }
        self.body_bytes += other.body_bytes;
        self.scheduled += other.scheduled;
        self.missed += other.missed;
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
        a.record_error(ErrorKind::Timeout);
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
        assert_eq!(a.error_count(ErrorKind::Timeout), 1);
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
}
