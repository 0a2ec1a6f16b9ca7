//! The read model of one lab run: the machine, each target's per-target measures, and one
//! [`CellSummary`] per (target, workload). Everything here was measured; nothing is cited.
//!
//! Units are in the field names (`_ms`, `_us`, `_rps`, `_mb`, `_bytes`). Figures over repeats are a
//! [`Spread`] (median, min, max, and the repeats' values) so that readers can show noise and compare
//! runs by a stated rule.

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetSummary {
    pub name: String,
    /// `node` | `python` | `rust`.
    pub language: String,
    pub framework: String,
    /// Versions of the runtime, framework and server packages, as the target reported them.
    pub versions: BTreeMap<String, String>,
    /// The configuration used (server, workers, threads…), from the manifest and overrides.
    pub config: BTreeMap<String, String>,
    /// Spawn → first correct response, over fresh starts.
    pub cold_start_ms: Option<Spread>,
    /// Memory (PSS summed over the process tree) when idle after start.
    pub idle_pss_mb: Option<f64>,
    pub install_bytes: Option<u64>,
    pub install_packages: Option<u64>,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellSummary {
    pub target: String,
    /// Workload id, e.g. `json`, `io`, `cpu`, `hash`, `io-slo`, `mixed` (see the lab's catalogue).
    pub workload: String,
    pub status: CellStatus,
    pub repeats: u32,
    /// Closed-loop saturation: responses per second.
    pub throughput_rps: Option<Spread>,
    /// Latency at saturation (closed loop: from send) or at the measured rate (open loop: corrected).
    pub p50_ms: Option<Spread>,
    pub p99_ms: Option<Spread>,
    /// Server CPU (whole process tree) per response, in microseconds.
    pub server_cpu_us_per_req: Option<Spread>,
    /// Memory, PSS summed over the server's process tree, during the measurement.
    pub pss_mean_mb: Option<Spread>,
    pub pss_peak_mb: Option<Spread>,
    /// Open-loop ladder: corrected latency at each offered rate (capacity workloads: every rung of
    /// the search, sorted by rate; `mixed`: per repeat, `[/io alone, /io with heavy /cpu]`).
    pub ladder: Vec<LadderPoint>,
    /// The highest rate whose corrected p99 stayed under `slo_p99_ms`, from the ladder.
    pub capacity_rps: Option<f64>,
    pub slo_p99_ms: Option<f64>,
    /// The figure is a lower bound: the load engine or upstream was ≥ 90% busy.
    pub lower_bound: bool,
    /// Workload parameters (`ms`, `n`, `connections`, `heavy_share`…).
    pub params: BTreeMap<String, String>,
    pub warnings: Vec<String>,
    /// Held-connection figures (`ws-hold` only; absent for every other workload). For such a
    /// cell the fields above read: `throughput_rps` = echoes per second over the hold,
    /// `p50_ms`/`p99_ms` = echo round trip, `server_cpu_us_per_req` = server CPU µs per echoed
    /// message, `pss_mean_mb`/`pss_peak_mb` = server PSS while holding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<HoldSummary>,
}

/// What holding WebSocket connections cost a target (`ws-hold`), over *every* repeat: holding
/// fewer connections than attempted is a result (the cell is flagged for it), not a reason to
/// leave the repeat out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldSummary {
    /// Connections the client opened (tried to) per repeat.
    pub connections_attempted: Spread,
    /// Connections still open at the end of the hold window.
    pub connections_held: Spread,
    /// Server PSS (process tree) just before the connections were opened.
    pub pss_idle_mb: Option<Spread>,
    /// (PSS while holding − idle PSS) / held × 1000: MB of server memory per 1,000 connections.
    pub mb_per_1k_conns: Option<Spread>,
    /// The slowest echo round trip of the hold window.
    pub echo_max_ms: Option<Spread>,
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

impl HoldSummary {
    /// The summary of the repeats' hold figures (`None` when no repeat has any).
    pub fn of(repeats: &[crate::db::HoldRecord]) -> Option<HoldSummary> {
        let f = |g: fn(&crate::db::HoldRecord) -> Option<f64>| {
            Spread::of(&repeats.iter().filter_map(g).collect::<Vec<f64>>())
        };
        Some(HoldSummary {
            connections_attempted: f(|h| Some(h.connections_attempted as f64))?,
            connections_held: f(|h| Some(h.connections_held as f64))?,
            pss_idle_mb: f(|h| h.pss_idle_mb),
            mb_per_1k_conns: f(|h| h.mb_per_1k_conns),
            echo_max_ms: f(|h| h.echo_max_ms),
        })
    }

    /// Whether every repeat held every connection it attempted.
    pub fn held_all(&self) -> bool {
        self.connections_held
            .values
            .iter()
            .zip(&self.connections_attempted.values)
            .all(|(h, a)| h >= a)
    }
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
