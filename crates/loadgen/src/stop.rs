//! Stopping a run early (Ctrl-C), remembering when: a run stopped early accounts for its window
//! only up to that instant.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A one-way stop signal shared by the engine threads and, say, a signal handler.
#[derive(Debug)]
pub struct StopSignal {
    origin: Instant,
    /// Nanoseconds from `origin` to the first trigger; `u64::MAX` until then.
    at_ns: AtomicU64,
    flag: AtomicBool,
}

impl StopSignal {
    pub fn new() -> StopSignal {
        StopSignal {
            origin: Instant::now(),
            at_ns: AtomicU64::new(u64::MAX),
            flag: AtomicBool::new(false),
        }
    }

    /// Stops the run. Returns true if it had been stopped already.
    pub fn trigger(&self) -> bool {
        let ns = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        // The instant is stored before the flag, so whoever sees the flag also sees the instant.
        let _ = self
            .at_ns
            .compare_exchange(u64::MAX, ns, Ordering::AcqRel, Ordering::Acquire);
        self.flag.swap(true, Ordering::AcqRel)
    }

    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// When the run was first stopped, if it was.
    pub fn at(&self) -> Option<Instant> {
        if !self.flag.load(Ordering::Acquire) {
            return None;
        }
        match self.at_ns.load(Ordering::Acquire) {
            u64::MAX => None,
            ns => Some(self.origin + Duration::from_nanos(ns)),
        }
    }
}

impl Default for StopSignal {
    fn default() -> Self {
        StopSignal::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_first_trigger() {
        let s = StopSignal::new();
        assert!(!s.is_set());
        assert_eq!(s.at(), None);
        let before = Instant::now();
        assert!(!s.trigger());
        let first = s.at().unwrap();
        assert!(first >= before - Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(5));
        assert!(s.trigger());
        assert_eq!(s.at(), Some(first));
        assert!(s.is_set());
    }
}
