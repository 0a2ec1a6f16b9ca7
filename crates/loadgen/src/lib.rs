//! `loadgen`: stackwise's HTTP/1.1 load engine.
//!
//! This crate knows nothing about Node.js, Python or any other stack: it takes a [`LoadConfig`]
//! (one target URL, a number of connections, a stop condition, an optional constant request
//! rate) and returns a [`Report`] of what it measured.
//!
//! # Using it from code
//!
//! A closed loop (each connection sends its next request when the last one is answered):
//!
//! ```no_run
//! use std::time::Duration;
//! use loadgen::{LoadConfig, Target};
//!
//! let mut cfg = LoadConfig::new(Target::parse("http://127.0.0.1:8080/")?);
//! cfg.connections = 50;
//! cfg.stop.duration = Some(Duration::from_secs(10));
//! cfg.warmup = Duration::from_secs(2);
//! let report = loadgen::run(cfg)?;
//! println!("{:.0} req/s, p99 {:?} µs", report.throughput_rps, report.p99_us());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! An open loop at a constant rate, with the per-second series and the full histograms, stopped
//! from another thread (a Ctrl-C handler, a supervisor) through the run's [`stop::StopSignal`]:
//!
//! ```no_run
//! use std::time::Duration;
//! use loadgen::{LoadConfig, Target};
//!
//! let mut cfg = LoadConfig::new(Target::parse("http://127.0.0.1:8080/")?);
//! cfg.rate = Some(2_000.0); // requests per second over all connections
//! cfg.connections = 32;
//! cfg.stop.duration = Some(Duration::from_secs(30));
//! cfg.keep_histograms = true;
//! let handle = loadgen::start(cfg)?; // checks the config and that the target answers
//! let stop = handle.stop_signal(); // Arc<StopSignal>: Send + Sync
//! std::thread::spawn(move || {
//!     std::thread::sleep(Duration::from_secs(5));
//!     stop.trigger(); // the run ends promptly; what was measured is reported
//! });
//! let report = handle.join()?;
//! for point in &report.series {
//!     println!("{}s: {} responses, p99 {:?}", point.start_s, point.responses,
//!              point.from_schedule.as_ref().map(|l| l.p99_us));
//! }
//! if let Some(Ok((from_send, from_schedule, _, _))) = report.decoded_histograms() {
//!     println!("{} samples", from_send.len() + from_schedule.map_or(0, |h| h.len()));
//! }
//! // Pass/fail limits as in CI:
//! let broken = report.check(&loadgen::Thresholds { max_error_rate: Some(0.01), max_p99_us: Some(50_000.0) });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Errors are typed: [`ConfigError`] names the [`config::Field`] at fault (no command-line
//! spelling), [`target::ConnectError`] says why the pre-run connection failed. Name resolution
//! happens once, in [`start`] ([`Target::parse`] does none).
//!
//! # Design, after wrk2 and oha
//! - **thread-per-core**: `threads` OS threads, each running its own current-thread tokio runtime
//!   with its share of the connections; threads can be pinned to CPUs ([`cpu`]).
//! - **one task per connection**, one request in flight: the request is serialized once per run,
//!   responses are parsed in place by httparse into one reused buffer per connection ([`http1`],
//!   [`conn`]); no per-request allocation.
//! - **no per-request messages and no locks on the hot path**: each thread owns its statistics
//!   (HdrHistograms, counters) and they are merged once, at the end ([`stats`]); per-second
//!   windows leave the thread once a second ([`series`]). Memory is bounded and independent of the
//!   number of requests.
//! - **open loop** (`rate`): every connection follows its own constant schedule; latency is
//!   measured both from the *scheduled* send time (corrected for coordinated omission) and from
//!   the actual send time ([`schedule`]). One precise timer per thread with wake-up coalescing
//!   ([`timer`]) wakes connections for their slots, not tokio's 1 ms wheel, so the engine adds
//!   microseconds, not a millisecond, to what it reports — and measures what it adds. Between its
//!   slots an idle thread naps through response arrivals instead of waking for each; every
//!   response is timed at the kernel's receive timestamp of its last bytes ([`http1::Socket`]),
//!   so reading it late adds nothing to its latency.
//! - **bounded in time**: a run ends at its deadline (or its drain, in an open loop) or at a stop,
//!   whatever is in flight; what was cut off is counted, and in an open loop recorded as censored.

pub mod config;
pub mod conn;
pub mod cpu;
pub mod engine;
pub mod histogram;
pub mod http1;
pub mod limits;
pub mod parse;
pub mod report;
pub mod schedule;
pub mod series;
pub mod stats;
pub mod stop;
pub mod target;
pub mod timer;
pub mod validate;

pub use config::{ConfigError, Connect, Field, LoadConfig, StopCondition};
pub use engine::{run, start, EngineError, Progress, RunHandle};
pub use report::{Report, Thresholds};
pub use target::Target;
pub use validate::{BodyExpectation, StatusExpectation, Validation};
