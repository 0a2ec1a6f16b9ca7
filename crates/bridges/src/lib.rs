//! `bridges`: stackwise's workloads on load engines people already run across many machines, and
//! their results back into the store. It reads the workload registry (`workloads`) and writes
//! the store (`store`); it never starts the lab, a target or an engine.
//!
//! - [`plan`]: a registry workload resolved at a fixed arrival rate (requests, checks, users).
//! - [`locust`]: a locustfile and the master/worker commands; the import of Locust's CSVs.
//! - [`k6`]: a k6 script (`constant-arrival-rate`, checks, thresholds); the import of the NDJSON
//!   of `k6 run --out json=FILE` (raw points: exact percentiles across machines).
//! - [`imported`]: what an import measured and what it could not, and its one conversion into
//!   the store's read model.
//! - [`csv`], [`time`]: the small parsers the importers need.

pub mod csv;
pub mod imported;
pub mod k6;
pub mod locust;
pub mod plan;
pub mod time;

pub use imported::{Imported, Origin};
pub use plan::{Plan, Settings};

/// A bridge error: one line naming what is wrong and where (file, line, field).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct Error(pub String);

impl Error {
    pub fn new(msg: impl Into<String>) -> Error {
        Error(msg.into())
    }
}

/// A string literal valid in Python 3 and in JavaScript (JSON's escaping).
pub(crate) fn lit(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}
