//! Open-loop schedules, as in wrk2: the target rate `R` is split evenly over `C` connections, and
//! connection `k` owns the send times `t0 + (k + j·C) / R` for `j = 0, 1, 2, …`. Together the
//! connections send at a constant `R` with evenly spaced requests.
//!
//! A connection never sends before a scheduled time. When it falls behind (a slow response, a
//! stalled server, a reconnect) it sends its late requests back to back until it is on time again:
//! the catch-up is bounded by the connection itself, which has one request in flight at a time,
//! and by the end of the window, after which unsent slots are not sent but recorded as censored
//! samples (see [`crate::report::Censored`]).
//! Latency is measured from the scheduled time, so time spent waiting behind a stall is counted
//! (no coordinated omission).

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Schedule {
    start: Instant,
    index: u64,
    connections: u64,
    rate: f64,
    next: u64,
}

impl Schedule {
    /// Connection `index` of `connections`, at a total of `rate` requests per second from `start`.
    pub fn new(start: Instant, index: usize, connections: usize, rate: f64) -> Schedule {
        debug_assert!(index < connections && rate > 0.0);
        Schedule {
            start,
            index: index as u64,
            connections: connections as u64,
            rate,
            next: 0,
        }
    }

    /// The send time of slot `j`.
    pub fn time_of(&self, j: u64) -> Instant {
        let slot = (self.index + j * self.connections) as f64;
        self.start + Duration::from_secs_f64(slot / self.rate)
    }

    /// The next unsent slot's time.
    pub fn peek(&self) -> Instant {
        self.time_of(self.next)
    }

    /// The index of the next unsent slot.
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// Marks the next slot as taken.
    pub fn advance(&mut self) {
        self.next += 1;
    }

    /// Number of this connection's slots whose time lies in `[from, to)`.
    pub fn slots_in(&self, from: Instant, to: Instant) -> u64 {
        self.slots_before(to)
            .saturating_sub(self.slots_before(from))
    }

    /// Number of unsent slots whose time lies in `[from, to)`.
    pub fn unsent_in(&self, from: Instant, to: Instant) -> u64 {
        let from = from.max(self.peek());
        if from >= to {
            return 0;
        }
        self.slots_in(from, to)
    }

    /// Number of slots with time strictly before `t`.
    pub fn slots_before(&self, t: Instant) -> u64 {
        if t <= self.start {
            return 0;
        }
        // Estimate, then correct against `time_of` so rounding never miscounts.
        let x = (t - self.start).as_secs_f64() * self.rate - self.index as f64;
        let mut n = if x <= 0.0 {
            0
        } else {
            (x / self.connections as f64).ceil() as u64
        };
        while n > 0 && self.time_of(n - 1) >= t {
            n -= 1;
        }
        while self.time_of(n) < t {
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_interleave_evenly() {
        let t0 = Instant::now();
        let rate = 1000.0; // one request per ms over all connections
        let scheds: Vec<Schedule> = (0..4).map(|k| Schedule::new(t0, k, 4, rate)).collect();
        let mut all: Vec<Duration> = scheds
            .iter()
            .flat_map(|s| (0..5).map(move |j| s.time_of(j) - t0))
            .collect();
        all.sort();
        for (i, d) in all.iter().enumerate() {
            let expected = Duration::from_millis(i as u64);
            let err = d.abs_diff(expected);
            assert!(err < Duration::from_micros(1), "slot {i}: {d:?}");
        }
    }

    #[test]
    fn slot_counts_match_the_rate() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, 3, 8, 2000.0);
        // 2000/s over 8 connections = 250/s per connection: 250 slots in one second.
        assert_eq!(s.slots_in(t0, t0 + Duration::from_secs(1)), 250);
        assert_eq!(
            s.slots_in(t0 + Duration::from_secs(1), t0 + Duration::from_secs(3)),
            500
        );
        // Counting agrees with time_of exactly at boundaries.
        let t5 = s.time_of(5);
        assert_eq!(s.slots_in(t0, t5), 5);
        assert_eq!(s.slots_in(t0, t5 + Duration::from_nanos(1)), 6);
    }

    #[test]
    fn unsent_counts_from_the_next_slot() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, 0, 1, 100.0); // every 10 ms
        for _ in 0..10 {
            s.advance();
        }
        let end = t0 + Duration::from_secs(1);
        assert_eq!(s.unsent_in(t0, end), 90);
        assert_eq!(s.unsent_in(t0 + Duration::from_millis(500), end), 50);
        assert_eq!(s.unsent_in(end, end), 0);
    }
}
