//! The read model of one lab run: the machine, each target's per-target measures, and one
//! [`CellSummary`] per (target, workload). Everything here was measured; nothing is cited.
//!
//! Figures are named by metric ids of the `workloads` registry (units are in the ids: `_ms`, `_us`,
//! `_rps`, `_mb`, `_bytes`), a cell's and a target's figures a map id → [`Spread`] (median, min,
//! max, and the repeats' values) so that readers can show noise and compare runs by a stated rule.
//! The JSON form ([`crate::json`]) keeps the layout of the typed fields it replaced.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One lab run (a suite invocation): where it ran and what it measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run_id: i64,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// RFC 3339, UTC; `None` while the run is unfinished (interrupted runs can be resumed).
    pub finished_at: Option<String>,
    pub machine: Machine,
    /// The suite's settings as given (workloads, repeats, duration, SLO, server CPUs, quick…).
    pub settings: BTreeMap<String, String>,
    pub targets: Vec<TargetSummary>,
    pub cells: Vec<CellSummary>,
    /// Run-level warnings (steal time, a saturated engine or upstream, noise…), for every reader.
    pub warnings: Vec<String>,
}

/// The machine fingerprint stored with every run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cores: u32,
    pub kernel: String,
    pub os: String,
    pub memory_mb: u64,
    /// Runtime versions found on the machine: `node`, `python`, `rustc`, `stackwise`…
    pub runtimes: BTreeMap<String, String>,
    /// CPUs the servers were pinned to, and those of the load engine and upstream.
    pub server_cpus: Vec<usize>,
    pub client_cpus: Vec<usize>,
}

/// Per-target measures and identity.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetSummary {
    pub name: String,
    /// `node` | `python` | `rust`.
    pub language: String,
    pub framework: String,
    /// Versions of the runtime, framework and server packages, as the target reported them.
    pub versions: BTreeMap<String, String>,
    /// The configuration used (server, workers, threads…), from the manifest and overrides.
    pub config: BTreeMap<String, String>,
    /// The per-target measures by metric id of the workloads registry (`cold_start_ms`: spawn →
    /// first correct response over fresh starts; `idle_pss_mb`: PSS of the process tree when idle
    /// after start; `install_bytes`, `install_packages`: the install footprint).
    pub metrics: BTreeMap<String, Spread>,
    /// Why the target could not be measured (install or conformance failure), if so.
    pub failure: Option<String>,
}

/// The outcome of one (target, workload) cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum CellStatus {
    Ok,
    /// Measured, but errors or wrong answers occurred: shown, never averaged in.
    Flagged(String),
    /// Not measured (crash, install failure, conformance failure…), with the last stderr lines.
    Failed(String),
}

/// One (target, workload) cell of a run, summarised over its repeats.
#[derive(Debug, Clone, PartialEq)]
pub struct CellSummary {
    pub target: String,
    /// Workload id of the workloads registry, e.g. `json`, `io-slo`, `mixed`, `ws-hold`.
    pub workload: String,
    pub status: CellStatus,
    pub repeats: u32,
    /// The cell's figures by metric id of the workloads registry, each a spread over the
    /// repeats: over the clean repeats (all of them when none is clean), or over every repeat for
    /// metrics the registry says so of (`connections_held`…). What each means for a workload is
    /// the registry's description (e.g. `ws-hold`'s `throughput_rps` is echoes per second).
    pub metrics: BTreeMap<String, Spread>,
    /// Open-loop ladder: corrected latency at each offered rate (capacity workloads: every rung of
    /// the search, sorted by rate, and of several searches the one whose capacity is the cell's
    /// median; `mixed`: per repeat, `[/io alone, /io with heavy /cpu]`).
    pub ladder: Vec<LadderPoint>,
    /// The highest rate whose corrected p99 stayed under `slo_p99_ms`, from the ladder.
    pub capacity_rps: Option<f64>,
    pub slo_p99_ms: Option<f64>,
    /// The figure is a lower bound: the load engine or upstream was ≥ 90% busy.
    pub lower_bound: bool,
    /// Workload parameters (`ms`, `n`, `connections`, `heavy_share`…).
    pub params: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

/// One rung of an open-loop ladder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LadderPoint {
    pub offered_rps: f64,
    pub achieved_rps: f64,
    /// Corrected for coordinated omission (measured from the scheduled send time).
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    /// CPU cores the server used at this rate (CPU seconds per second), when sampled.
    pub server_cores: Option<f64>,
}

/// A figure over repeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub values: Vec<f64>,
}

impl Spread {
    /// The spread of `values` (`None` when empty). NaN values are ignored.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return None;
        }
        let values = v.clone();
        v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
            values,
        })
    }

    /// (max − min) / median: the relative spread of the repeats.
    pub fn relative_range(&self) -> f64 {
        if self.median == 0.0 {
            0.0
        } else {
            (self.max - self.min) / self.median
        }
    }
}

impl CellSummary {
    /// The cell's spread of a metric (a metric id of the workloads registry).
    pub fn metric(&self, id: &str) -> Option<&Spread> {
        self.metrics.get(id)
    }

    /// Sets (or, with `None`, removes) the cell's spread of a metric.
    pub fn set(&mut self, id: &str, spread: Option<Spread>) {
        match spread {
            Some(s) => self.metrics.insert(id.to_string(), s),
            None => self.metrics.remove(id),
        };
    }

    /// For a cell with connection counts (`connections_held`, `connections_attempted`, e.g.
    /// `ws-hold`): whether every repeat held every connection it attempted. `None` for other cells.
    pub fn held_all(&self) -> Option<bool> {
        let held = self.metric("connections_held")?;
        let attempted = self.metric("connections_attempted")?;
        Some(
            held.values
                .iter()
                .zip(&attempted.values)
                .all(|(h, a)| h >= a),
        )
    }
}

impl TargetSummary {
    /// The target's spread of a per-target metric (`cold_start_ms`, `idle_pss_mb`…).
    pub fn metric(&self, id: &str) -> Option<&Spread> {
        self.metrics.get(id)
    }

    /// Sets (or, with `None`, removes) the target's spread of a per-target metric.
    pub fn set(&mut self, id: &str, spread: Option<Spread>) {
        match spread {
            Some(s) => self.metrics.insert(id.to_string(), s),
            None => self.metrics.remove(id),
        };
    }

    /// The median of a per-target metric (one value for `idle_pss_mb`, `install_bytes`…).
    pub fn value(&self, id: &str) -> Option<f64> {
        self.metrics.get(id).map(|s| s.median)
    }
}

impl RunSummary {
    /// The cell for (target, workload), if measured in this run.
    pub fn cell(&self, target: &str, workload: &str) -> Option<&CellSummary> {
        self.cells
            .iter()
            .find(|c| c.target == target && c.workload == workload)
    }

    pub fn target(&self, name: &str) -> Option<&TargetSummary> {
        self.targets.iter().find(|t| t.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_odd_and_even_counts() {
        let s = Spread::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        let s = Spread::of(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert!((s.relative_range() - 1.2).abs() < 1e-9);
        assert!(Spread::of(&[]).is_none());
        assert!(Spread::of(&[f64::NAN]).is_none());
    }
}
