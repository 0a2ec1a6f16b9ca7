//! The typed configuration of one load run, and the checks that make a run safe and bounded.
//!
//! Errors name the configuration [`Field`] at fault, never a command-line spelling: front ends
//! (the `stackwise` CLI, the lab) decide how to tell their users what to change.

use std::time::Duration;

use crate::target::Target;
use crate::validate::Validation;

/// The longest duration, warm-up or timeout a run accepts (30 days).
pub const MAX_SPAN: Duration = Duration::from_secs(30 * 24 * 3600);

/// The lowest open-loop rate accepted: one request per 1,000 seconds.
pub const MIN_RATE: f64 = 0.001;

/// The highest open-loop rate accepted (a billion requests per second: far beyond any machine).
pub const MAX_RATE: f64 = 1e9;

/// How long after the end of the measuring window an open-loop connection that is behind may
/// still send the slots scheduled before the end; slots it cannot send by then are censored.
pub const OPEN_LOOP_GRACE: Duration = Duration::from_millis(100);

/// How long after the end of the measuring window an open-loop run waits for the responses to
/// the window's requests. Whatever is unanswered then is cut off and recorded as a censored
/// sample (see [`crate::report::Censored`]).
pub const OPEN_LOOP_DRAIN: Duration = Duration::from_millis(500);

/// The longest any run may last when the user gave only a request count (`-n`): every request
/// loop is bounded in count *and* time.
pub const DEFAULT_TIME_CAP: Duration = Duration::from_secs(600);

/// Default open-loop timer slack: a connection waiting for its next send slot is woken at most
/// this long after it (never before), so that slots falling close together share one thread
/// wake-up, and the thread naps through the responses arriving meanwhile (see [`crate::timer`]).
/// Latency is still measured from each slot's exact scheduled time, and each response's arrival
/// from the kernel's receive timestamp. 300 µs puts the engine's CPU per request at wrk2's with a
/// send lag about a quarter of wrk2's (docs/benchmarks.md, "the timer-slack curve").
pub const DEFAULT_TIMER_SLACK: Duration = Duration::from_micros(300);

/// The largest timer slack accepted.
pub const MAX_TIMER_SLACK: Duration = Duration::from_millis(100);

/// Default time allowed to open a TCP connection (the pre-run check and every reconnect).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// When the engine opens a connection (see the module doc of [`crate::conn`]). In both modes a
/// connection that a response ended (`Connection: close`) is closed at once, not held until its
/// next slot: a server may wait for the client's close after its last response.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Connect {
    /// Every connection is opened when the run starts and reopened at once when it ends (a
    /// response closed it, or an error): all `connections` are open throughout, as in wrk and
    /// oha. In an open loop most of them sit idle between their send slots, which an event loop
    /// or a keep-alive thread server does not mind, but a server whose worker blocks on the
    /// connection it accepted until a request arrives (gunicorn's sync worker) does: a worker
    /// that accepted an idle connection serves nothing until that connection's next slot.
    #[default]
    Eager,
    /// Open loop: a connection is opened only when its next request's slot is due (the first
    /// connect and every reconnect), and the request follows at once, so no connection is ever
    /// open and idle before its request; the slot's latency includes the connect. The engine's
    /// threads do not nap through response arrivals: a response that ends its connection is
    /// read, and the connection closed, as it arrives (more engine CPU per request, at the
    /// modest rates such servers take). A connection the server keeps open after a response is
    /// kept for the next slot, as under `Eager` (closing it would leave a client socket in
    /// TIME_WAIT per request): the mode is meant for servers that close every connection, which
    /// it meets as the buffering proxy they are documented to run behind does (nginx connects
    /// to gunicorn once it holds a whole request). Closed loop: the same as `Eager` (each
    /// request follows its connect at once anyway).
    WhenDue,
}

impl Connect {
    /// The spelling used in reports and on the command line: `eager`, `when-due`.
    pub fn as_str(self) -> &'static str {
        match self {
            Connect::Eager => "eager",
            Connect::WhenDue => "when-due",
        }
    }
}

impl std::fmt::Display for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for Connect {
    type Err = String;

    fn from_str(s: &str) -> Result<Connect, String> {
        match s.trim() {
            "eager" => Ok(Connect::Eager),
            "when-due" => Ok(Connect::WhenDue),
            other => Err(format!(
                "'{other}' is not a connect mode: eager or when-due"
            )),
        }
    }
}

/// When a run stops. At least one of the two is always set; a run stops at whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StopCondition {
    /// Measure for this long (after the warm-up).
    pub duration: Option<Duration>,
    /// Measure this many requests in total (after the warm-up): requests sent plus failed
    /// connection attempts.
    pub requests: Option<u64>,
}

impl StopCondition {
    /// The measuring window's time bound: the duration, or [`DEFAULT_TIME_CAP`] for count-only runs.
    pub fn time_bound(&self) -> Duration {
        self.duration.unwrap_or(DEFAULT_TIME_CAP)
    }
}

/// Everything the engine needs for one run. [`LoadConfig::new`] fills in the defaults.
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
    /// Time allowed to open a TCP connection (pre-run check and reconnects).
    pub connect_timeout: Duration,
    /// When connections are opened: up front and reopened at once ([`Connect::Eager`], the
    /// default), or in an open loop only when a request is due ([`Connect::WhenDue`], for
    /// servers that close every connection and block a worker on an idle one). Either way a
    /// connection a response ended is closed at once, not held until its next slot.
    pub connect: Connect,
    /// Open loop: how late a connection may be woken for its send slot so that close slots share
    /// a wake-up (see [`DEFAULT_TIMER_SLACK`]). Zero: a wake-up per slot.
    pub timer_slack: Duration,
    /// Put the full latency histograms in the report (`Report::histograms`), losslessly encoded.
    pub keep_histograms: bool,
    pub validation: Validation,
    /// Request method.
    pub method: http::Method,
    /// Extra request headers.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Request body (empty: none, and no `Content-Length`).
    pub body: bytes::Bytes,
    /// Paths (with their queries) sent instead of the target's own, in turn: connection `c` of
    /// `C` sends `paths[(c + k·C) mod len]` as its k-th request, so no path is sent twice until
    /// some connection has sent more than `len ÷ C` requests (e.g. `DELETE /items/{id}` over ids
    /// seeded beforehand: seed more than the busiest connection can send). Each is serialised once
    /// before the run, like the single request; choosing one costs a per-connection counter.
    /// Empty: the target's path.
    pub paths: Vec<String>,
    /// Open loop: how long after the measuring window the run waits for the window's responses
    /// ([`OPEN_LOOP_DRAIN`] unless changed; a request that waits seconds upstream needs longer).
    /// The run ends earlier when every response is in.
    pub drain: Duration,
}

/// The configuration field a [`ConfigError`] is about. Front ends map it to their own spelling
/// (the CLI: `Field::Connections` → `--connections`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The target URL.
    Url,
    /// The target resolves to a non-loopback address and remote targets were not allowed.
    AllowRemote,
    Connections,
    Threads,
    Pin,
    Duration,
    Requests,
    Warmup,
    Rate,
    Timeout,
    ConnectTimeout,
    TimerSlack,
    /// The expected-body regular expression.
    BodyRegex,
    /// An extra request header that would break the request's framing.
    Headers,
    /// The expected status (`200`, `2xx`).
    Status,
    /// The request method.
    Method,
    /// [`crate::Thresholds::max_error_rate`].
    MaxErrorRate,
    /// [`crate::Thresholds::max_p99_us`].
    MaxP99,
}

/// A configuration that cannot run: which field is at fault, and why (in words that name no
/// command-line flag).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field:?}: {message}")]
pub struct ConfigError {
    pub field: Field,
    pub message: String,
}

impl ConfigError {
    pub fn new(field: Field, message: impl Into<String>) -> Self {
        ConfigError {
            field,
            message: message.into(),
        }
    }
}

impl LoadConfig {
    /// A closed-loop configuration for `target` with the defaults: 50 connections on one thread,
    /// 10 s, no warm-up, a 10 s timeout, any 2xx response is correct, `GET` without a body.
    /// Change the public fields to taste, then call [`crate::run`] or [`crate::start`].
    pub fn new(target: Target) -> LoadConfig {
        LoadConfig {
            target,
            connections: 50,
            threads: 1,
            pin: None,
            stop: StopCondition {
                duration: Some(Duration::from_secs(10)),
                requests: None,
            },
            warmup: Duration::ZERO,
            rate: None,
            timeout: Duration::from_secs(10),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            connect: Connect::Eager,
            timer_slack: DEFAULT_TIMER_SLACK,
            keep_histograms: false,
            validation: Validation::default(),
            method: http::Method::GET,
            headers: Vec::new(),
            body: bytes::Bytes::new(),
            paths: Vec::new(),
            drain: OPEN_LOOP_DRAIN,
        }
    }

    /// Checks the invariants the engine relies on. Front ends call this before [`crate::start`],
    /// which calls it again.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.connections == 0 {
            return Err(ConfigError::new(
                Field::Connections,
                "must be at least 1 (got 0)",
            ));
        }
        if self.threads == 0 {
            return Err(ConfigError::new(
                Field::Threads,
                "must be at least 1 (got 0)",
            ));
        }
        for p in &self.paths {
            if !p.starts_with('/') || p.parse::<http::uri::PathAndQuery>().is_err() {
                return Err(ConfigError::new(
                    Field::Url,
                    format!(
                        "the cycled path {p:?} is not an absolute path (with an optional query)"
                    ),
                ));
            }
        }
        if self.stop.duration == Some(Duration::ZERO) {
            return Err(ConfigError::new(
                Field::Duration,
                "must be longer than zero",
            ));
        }
        for (field, span) in [
            (Field::Duration, self.stop.duration.unwrap_or_default()),
            (Field::Warmup, self.warmup),
            (Field::Timeout, self.timeout),
            (Field::ConnectTimeout, self.connect_timeout),
        ] {
            if span > MAX_SPAN {
                return Err(ConfigError::new(
                    field,
                    format!("{span:?} is longer than the 30 days stackwise accepts"),
                ));
            }
        }
        if self.stop.requests == Some(0) {
            return Err(ConfigError::new(
                Field::Requests,
                "must be at least 1 (got 0)",
            ));
        }
        if let Some(rate) = self.rate {
            if !(rate.is_finite() && (MIN_RATE..=MAX_RATE).contains(&rate)) {
                return Err(ConfigError::new(
                    Field::Rate,
                    format!(
                        "must be a number of requests per second from {MIN_RATE} to {MAX_RATE:e} \
                         (got {rate})"
                    ),
                ));
            }
            if self.stop.duration.is_none() {
                return Err(ConfigError::new(
                    Field::Rate,
                    "an open-loop run needs a duration",
                ));
            }
        }
        if self.stop.duration.is_none() && self.stop.requests.is_none() {
            return Err(ConfigError::new(
                Field::Duration,
                "give a duration or a request count",
            ));
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::new(Field::Timeout, "must be longer than zero"));
        }
        if self.connect_timeout.is_zero() {
            return Err(ConfigError::new(
                Field::ConnectTimeout,
                "must be longer than zero",
            ));
        }
        if self.timer_slack > MAX_TIMER_SLACK {
            return Err(ConfigError::new(
                Field::TimerSlack,
                format!(
                    "{:?} is more than the {MAX_TIMER_SLACK:?} accepted",
                    self.timer_slack
                ),
            ));
        }
        if let Some(pin) = &self.pin {
            if pin.is_empty() {
                return Err(ConfigError::new(Field::Pin, "names no CPU"));
            }
            crate::cpu::check_cpus(pin)?;
        }
        for (name, value) in &self.headers {
            if name == http::header::TRANSFER_ENCODING {
                return Err(ConfigError::new(
                    Field::Headers,
                    format!(
                        "{name}: {}: the engine sends a body with Content-Length, not with a \
                         transfer coding; drop this header",
                        String::from_utf8_lossy(value.as_bytes())
                    ),
                ));
            }
            if name == http::header::CONTENT_LENGTH
                && value
                    .to_str()
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    != Some(self.body.len() as u64)
            {
                return Err(ConfigError::new(
                    Field::Headers,
                    format!(
                        "{name}: {} does not match the body's {} bytes; drop this header (the \
                         engine sets it)",
                        String::from_utf8_lossy(value.as_bytes()),
                        self.body.len()
                    ),
                ));
            }
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
        let mut c = LoadConfig::new(Target::parse("http://127.0.0.1:1/").unwrap());
        c.connections = 4;
        c.stop.duration = Some(Duration::from_secs(1));
        c
    }

    #[test]
    fn accepts_a_sane_config() {
        base().validate().unwrap();
    }

    #[test]
    fn headers_that_would_break_the_framing_are_refused() {
        let header = |n: &'static str, v: &'static str| {
            (
                http::HeaderName::from_static(n),
                http::HeaderValue::from_static(v),
            )
        };
        let mut c = base();
        c.headers = vec![header("transfer-encoding", "chunked")];
        assert_eq!(c.validate().unwrap_err().field, Field::Headers);
        c.headers = vec![header("content-length", "5")];
        let e = c.validate().unwrap_err();
        assert!(e.message.contains("0 bytes"), "{e}");
        c.body = bytes::Bytes::from_static(b"hello");
        c.validate().unwrap();
    }

    #[test]
    fn zero_connections_names_the_field() {
        let mut c = base();
        c.connections = 0;
        assert_eq!(c.validate().unwrap_err().field, Field::Connections);
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
        assert_eq!(e.field, Field::Rate);
        assert!(e.message.contains("duration"), "{e}");
    }

    #[test]
    fn negative_nan_or_absurd_rate_is_refused() {
        for r in [0.0, -1.0, 1e-20, 1e12, f64::NAN, f64::INFINITY] {
            let mut c = base();
            c.rate = Some(r);
            assert_eq!(c.validate().unwrap_err().field, Field::Rate);
        }
    }

    #[test]
    fn absurd_spans_are_refused_with_their_field() {
        let huge = Duration::from_secs(u64::MAX / 4);
        let mut c = base();
        c.stop.duration = Some(huge);
        assert_eq!(c.validate().unwrap_err().field, Field::Duration);
        let mut c = base();
        c.warmup = huge;
        assert_eq!(c.validate().unwrap_err().field, Field::Warmup);
        let mut c = base();
        c.timeout = huge;
        assert_eq!(c.validate().unwrap_err().field, Field::Timeout);
        let mut c = base();
        c.connect_timeout = Duration::ZERO;
        assert_eq!(c.validate().unwrap_err().field, Field::ConnectTimeout);
        let mut c = base();
        c.timer_slack = Duration::from_secs(1);
        assert_eq!(c.validate().unwrap_err().field, Field::TimerSlack);
    }

    #[test]
    fn no_flag_spelling_in_library_errors() {
        let mut c = base();
        c.rate = Some(1.0);
        c.stop.duration = None;
        c.stop.requests = Some(1);
        let e = c.validate().unwrap_err().to_string();
        assert!(!e.contains("--") && !e.contains(" -d"), "{e}");
    }

    #[test]
    fn connect_modes_parse_and_print_the_same_spelling() {
        for c in [Connect::Eager, Connect::WhenDue] {
            assert_eq!(c.as_str().parse::<Connect>(), Ok(c));
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
        assert_eq!(Connect::default(), Connect::Eager);
        let e = "lazy".parse::<Connect>().unwrap_err();
        assert!(e.contains("eager or when-due"), "{e}");
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
