//! The typed configuration of one load run, and the checks that make a run safe and bounded.

use std::time::Duration;

use crate::target::Target;
use crate::validate::Validation;

/// The longest duration, warm-up or timeout a run accepts (30 days).
pub const MAX_SPAN: Duration = Duration::from_secs(30 * 24 * 3600);

/// The lowest open-loop rate accepted: one request per 1,000 seconds.
pub const MIN_RATE: f64 = 0.001;

/// How long after the end of the measuring window an open-loop connection that is behind may
/// still send the slots scheduled before the end; slots it cannot send by then count as missed.
pub const OPEN_LOOP_GRACE: Duration = Duration::from_millis(100);

/// The longest any run may last when the user gave only a request count (`-n`): every request
/// loop is bounded in count *and* time.
pub const DEFAULT_TIME_CAP: Duration = Duration::from_secs(600);

/// When a run stops. At least one of the two is always set; a run stops at whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StopCondition {
    /// Measure for this long (after the warm-up).
    pub duration: Option<Duration>,
    /// Measure this many requests in total (after the warm-up).
    pub requests: Option<u64>,
}

impl StopCondition {
    /// The measuring window's time bound: the duration, or [`DEFAULT_TIME_CAP`] for count-only runs.
    pub fn time_bound(&self) -> Duration {
        self.duration.unwrap_or(DEFAULT_TIME_CAP)
    }
}

/// Everything the engine needs for one run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub target: Target,
    /// Open connections (each has at most one request in flight).
    pub connections: usize,
    /// Engine threads, each with its own current-thread runtime.
    pub threads: usize,
    /// CPUs to pin the engine threads to (thread `i` goes to `pin[i % pin.len()]`).
    pub pin: Option<Vec<usize>>,
    pub stop: StopCondition,
    /// Load applied before measuring starts; nothing sent in it is recorded.
    pub warmup: Duration,
    /// Open loop: total requests per second over all connections. `None`: closed loop.
    pub rate: Option<f64>,
    /// Per-request timeout, from the actual send.
    pub timeout: Duration,
    pub validation: Validation,
    /// Request method.
    pub method: http::Method,
    /// Extra request headers.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Request body (empty: none, and no `Content-Length`).
    pub body: bytes::Bytes,
}

/// A configuration that cannot run. `flag` names the command-line flag at fault so that a front
/// end can print a one-line error that tells the user what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag}: {message}")]
pub struct ConfigError {
    pub flag: &'static str,
    pub message: String,
}

impl ConfigError {
    pub fn new(flag: &'static str, message: impl Into<String>) -> Self {
        ConfigError {
            flag,
            message: message.into(),
        }
    }
}

impl LoadConfig {
    /// Checks the invariants the engine relies on. Front ends call this before [`crate::start`],
    /// which calls it again.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.connections == 0 {
            return Err(ConfigError::new(
                "--connections",
                "must be at least 1 (got 0)",
            ));
        }
        if self.threads == 0 {
            return Err(ConfigError::new("--threads", "must be at least 1 (got 0)"));
        }
        if self.stop.duration == Some(Duration::ZERO) {
            return Err(ConfigError::new("--duration", "must be longer than zero"));
        }
        for (flag, span) in [
            ("--duration", self.stop.duration.unwrap_or_default()),
            ("--warmup", self.warmup),
            ("--timeout", self.timeout),
        ] {
            if span > MAX_SPAN {
                return Err(ConfigError::new(
                    flag,
                    format!("{span:?} is longer than the 30 days stackwise accepts"),
                ));
            }
        }
        if self.stop.requests == Some(0) {
            return Err(ConfigError::new("--requests", "must be at least 1 (got 0)"));
        }
        if let Some(rate) = self.rate {
            if !(rate.is_finite() && rate >= MIN_RATE) {
                return Err(ConfigError::new(
                    "--rate",
                    format!(
                        "must be a number of requests per second of at least {MIN_RATE} (got {rate})"
                    ),
                ));
            }
            if self.stop.duration.is_none() {
                return Err(ConfigError::new(
                    "--rate",
                    "an open-loop run needs a duration: add -d, e.g. -d 30s",
                ));
            }
        }
        if self.stop.duration.is_none() && self.stop.requests.is_none() {
            return Err(ConfigError::new(
                "--duration",
                "give a duration (-d) or a request count (-n)",
            ));
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::new("--timeout", "must be longer than zero"));
        }
        if let Some(pin) = &self.pin {
            if pin.is_empty() {
                return Err(ConfigError::new("--pin", "names no CPU"));
            }
            crate::cpu::check_cpus(pin)?;
        }
        Ok(())
    }

    /// Open loop or closed loop.
    pub fn is_open_loop(&self) -> bool {
        self.rate.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> LoadConfig {
        LoadConfig {
            target: Target::parse("http://127.0.0.1:1/", false).unwrap(),
            connections: 4,
            threads: 1,
            pin: None,
            stop: StopCondition {
                duration: Some(Duration::from_secs(1)),
                requests: None,
            },
            warmup: Duration::ZERO,
            rate: None,
            timeout: Duration::from_secs(1),
            validation: Validation::default(),
            method: http::Method::GET,
            headers: vec![],
            body: bytes::Bytes::new(),
        }
    }

    #[test]
    fn accepts_a_sane_config() {
        base().validate().unwrap();
    }

    #[test]
    fn zero_connections_names_the_flag() {
        let mut c = base();
        c.connections = 0;
        assert_eq!(c.validate().unwrap_err().flag, "--connections");
    }

    #[test]
    fn rate_without_duration_is_refused() {
        let mut c = base();
        c.rate = Some(100.0);
        c.stop = StopCondition {
            duration: None,
            requests: Some(10),
        };
        let e = c.validate().unwrap_err();
        assert_eq!(e.flag, "--rate");
        assert!(e.message.contains("duration"), "{e}");
    }

    #[test]
    fn negative_or_nan_rate_is_refused() {
        for r in [0.0, -1.0, 1e-20, f64::NAN, f64::INFINITY] {
            let mut c = base();
            c.rate = Some(r);
            assert_eq!(c.validate().unwrap_err().flag, "--rate");
        }
    }

    #[test]
    fn absurd_spans_are_refused_with_their_flag() {
        let huge = Duration::from_secs(u64::MAX / 4);
        let mut c = base();
        c.stop.duration = Some(huge);
        assert_eq!(c.validate().unwrap_err().flag, "--duration");
        let mut c = base();
        c.warmup = huge;
        assert_eq!(c.validate().unwrap_err().flag, "--warmup");
        let mut c = base();
        c.timeout = huge;
        assert_eq!(c.validate().unwrap_err().flag, "--timeout");
    }

    #[test]
    fn count_only_runs_are_still_time_bounded() {
        let s = StopCondition {
            duration: None,
            requests: Some(5),
        };
        assert_eq!(s.time_bound(), DEFAULT_TIME_CAP);
    }
}
