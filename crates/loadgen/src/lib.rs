//! `loadgen`: stackwise's HTTP/1.1 load engine.
//!
//! This crate knows nothing about Node.js, Python or any other stack: it takes a [`LoadConfig`]
//! (one target URL, a number of connections, a stop condition, an optional constant request
//! rate) and returns a [`Report`] of what it measured.
//!
//! Design, after wrk2 and oha:
//! - **thread-per-core**: `threads` OS threads, each running its own current-thread tokio runtime
//!   with its share of the connections; threads can be pinned to CPUs ([`cpu`]).
//! - **one task per connection**, driving a hyper `client::conn::http1` connection (no pool) and
//!   its request loop in the same task ([`conn`]).
//! - **no per-request messages and no locks on the hot path**: each thread owns its statistics
//!   (HdrHistograms, counters) and they are merged once, at the end ([`stats`]). Memory is bounded
//!   and independent of the number of requests.
//! - **open loop** (`rate`): every connection follows its own constant schedule; latency is
//!   measured both from the *scheduled* send time (corrected for coordinated omission) and from
//!   the actual send time ([`schedule`]). Waits use a precise timer ([`timer`]), not tokio's 1 ms
//!   wheel, so the engine adds microseconds, not a millisecond, to what it reports.

pub mod config;
pub mod conn;
pub mod cpu;
pub mod engine;
pub mod limits;
pub mod report;
pub mod schedule;
pub mod stats;
pub mod stop;
pub mod target;
pub mod timer;
pub mod validate;

pub use config::{ConfigError, LoadConfig, StopCondition};
pub use engine::{run, start, Progress, RunHandle};
pub use report::Report;
pub use target::Target;
pub use validate::{BodyExpectation, StatusExpectation, Validation};
