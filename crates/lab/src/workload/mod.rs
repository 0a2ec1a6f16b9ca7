//! The workload catalogue (ids in docs/workloads.md) and the abstraction the suite runs them
//! through.
//!
//! The workloads themselves — ids, kinds, endpoints, services, requests with their validation,
//! parameters, metrics — are data in the `workloads` registry; this module is the measuring code
//! of each kind ([`implement`]). A [`Workload`] declares what it needs — the contract endpoints
//! the target must serve and the [`ServiceKind`]s that must run beside it (the `/io`
//! upstream; PostgreSQL for `db`, `queries`, `fortunes`, `updates` and `crud` ([`crud`])) — and drives its own client against a running server in
//! [`Workload::measure`]. Today's client is the
//! load engine (`loadgen`); `ws-hold` brings its own WebSocket client ([`ws_hold`]), and the runner
//! did not change: it starts the services a workload asks for, hands it a [`CellContext`], and stores the
//! [`Measured`] repeat it returns.
//!
//! Parameters are chosen so that the *server* is the bottleneck on a 2-core machine with one CPU
//! for the server and one for the engine and the upstream (see docs/workloads.md for the reasons);
//! every figure measured while the engine or upstream was ≥ 90% busy is marked a lower bound.

pub mod capacity;
pub mod crud;
pub mod http;
pub mod io_wait;
pub mod mixed;
pub mod saturation;
pub mod ws_hold;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use store::{LadderPoint, RepeatRecord};
pub use workloads::events::{Phase, Progress};

/// A service a workload needs running beside the target while it is measured (the registry's
/// enum: `Upstream` is the HTTP service `/io` calls, its URL reaching the target as
/// `UPSTREAM_URL`; `Database` is PostgreSQL).
pub use workloads::ServiceKind;

/// What kind of measurement a workload makes (the registry's enum).
pub use workloads::Kind;

/// The suite's timing settings every workload reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// Measuring window of a saturation or mixed repeat.
    pub duration: Duration,
    /// Load before measuring (JITs, pools, caches), not recorded.
    pub warmup: Duration,
    /// Measuring window of one capacity rung (it also gets `rung_warmup`).
    pub rung: Duration,
    pub rung_warmup: Duration,
    /// Most rungs in one capacity search.
    pub max_rungs: usize,
    pub slo_p99_ms: f64,
    /// How long a freshly started server is left alone before its idle memory is read.
    pub idle_settle: Duration,
    /// WebSocket connections `ws-hold` opens and holds (`--ws-connections`).
    pub ws_connections: usize,
}

impl Timing {
    /// The full suite's defaults.
    pub fn full() -> Timing {
        Timing {
            duration: Duration::from_secs(4),
            warmup: Duration::from_secs(1),
            rung: Duration::from_millis(1500),
            rung_warmup: Duration::from_millis(500),
            max_rungs: 6,
            slo_p99_ms: 100.0,
            idle_settle: Duration::from_secs(1),
            ws_connections: ws_hold::CONNECTIONS,
        }
    }

    /// `--quick`'s defaults.
    pub fn quick() -> Timing {
        Timing {
            duration: Duration::from_secs(3),
            warmup: Duration::from_secs(1),
            rung: Duration::from_millis(1500),
            rung_warmup: Duration::from_millis(500),
            max_rungs: 4,
            slo_p99_ms: 100.0,
            idle_settle: Duration::from_secs(1),
            ws_connections: ws_hold::CONNECTIONS,
        }
    }
}

/// Ctrl-C for the suite: set once, seen by every loop that waits.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn new() -> StopFlag {
        StopFlag::default()
    }
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Server cost over a measuring window: CPU of the whole process tree and its PSS.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerUsage {
    /// CPU seconds (user + system) of the server's process tree, exited workers included.
    pub cpu_s: f64,
    pub pss_mean_mb: Option<f64>,
    pub pss_peak_mb: Option<f64>,
    /// Steal time over the window, percent of CPU time (from /proc/stat).
    pub steal_pct: Option<f64>,
    /// The samples (time, CPU, PSS) as JSON, stored with the repeat.
    pub samples: serde_json::Value,
}

/// Measures the running server; the runner implements it over labcore's sampler.
pub trait ServerMeter {
    /// Starts a measuring window now.
    fn begin(&mut self);
    /// Ends the window and returns what the server used in it.
    fn end(&mut self) -> ServerUsage;
    /// Whether the server is still running; when not, the last lines of its stderr.
    fn check_alive(&mut self) -> Result<(), Gone>;
    /// When a load engine should open its connections to this server: eagerly (the default), or
    /// only when a request is due, for a server that closes every connection and blocks a worker
    /// on an idle one (a target's `[start] connections = "per-request"`).
    fn client_connect(&self) -> loadgen::Connect {
        loadgen::Connect::Eager
    }
}

/// A running service, as a workload sees it.
pub trait ServiceHandle {
    fn url(&self) -> &str;
    /// Starts a busy-fraction window now.
    fn begin(&mut self);
    /// The service's busy fraction (CPU seconds per second of its CPU allotment) since `begin`.
    fn busy(&mut self) -> Option<f64>;
    /// `Err` (with what it printed last) when the service has ended.
    fn check_alive(&mut self) -> Result<(), Gone> {
        Ok(())
    }
    /// The database (a [`ServiceKind::Database`] service): to reset it before a cell and seed
    /// rows a workload needs.
    fn database(&self) -> Option<&crate::postgres::Database> {
        None
    }
    /// CPU seconds the service used between the last [`ServiceHandle::begin`] and
    /// [`ServiceHandle::busy`] (the lab's own PostgreSQL cluster; `None` for a service whose CPU
    /// the lab cannot see, e.g. the user's `--database-url` server).
    fn window_cpu_s(&self) -> Option<f64> {
        None
    }
}

/// What a workload is given to measure one repeat.
pub struct CellContext<'a> {
    pub target: &'a str,
    /// `http://127.0.0.1:PORT` of the running server.
    pub base_url: String,
    pub timing: &'a Timing,
    /// CPUs for the workload's own client (the load engine).
    pub client_cpus: &'a [usize],
    /// CPUs the server is pinned to.
    pub server_cpus: &'a [usize],
    pub meter: &'a mut dyn ServerMeter,
    pub services: &'a mut BTreeMap<ServiceKind, Box<dyn ServiceHandle>>,
    pub stop: &'a StopFlag,
    /// Saturation throughput (req/s) of this target per workload id, measured earlier: capacity
    /// searches are anchored on it.
    pub anchors: &'a BTreeMap<String, f64>,
    /// What the workload is doing now, as data (the suite adds the target, workload and repeat
    /// and reports it as a progress event).
    pub live: &'a mut dyn FnMut(Progress),
}

impl CellContext<'_> {
    /// How the workload's HTTP client opens connections to this server (see
    /// [`ServerMeter::client_connect`]): every load engine configuration of a workload takes it.
    pub fn client_connect(&self) -> loadgen::Connect {
        self.meter.client_connect()
    }

    /// Over a window that began at `at` with the snapshots `client0` and `server0`: the busy share
    /// of the client CPUs, and other processes' share of the server CPUs (the server CPUs' task
    /// time against the window's wall-clock time, not the tick-sampled user + system time: a
    /// fixed-rate open loop phase-locks with the tick, see [`crate::cpuload`], minus the server's
    /// own `server_cpu_s`). Both `None` unless the client and server CPUs are distinct.
    pub fn client_and_foreign(
        &self,
        at: std::time::Instant,
        client0: crate::cpuload::CpuSnapshot,
        server0: crate::cpuload::CpuSnapshot,
        server_cpu_s: f64,
    ) -> (Option<f64>, Option<f64>) {
        use crate::cpuload;
        let client = cpuload::busy_share(client0, cpuload::snapshot(self.client_cpus));
        let server_end = cpuload::snapshot(self.server_cpus);
        let wall = at.elapsed().as_secs_f64();
        let server = cpuload::task_share_over(
            server0,
            server_end,
            Duration::from_secs_f64(wall),
            self.server_cpus.len(),
        );
        let distinct = !self.client_cpus.is_empty()
            && !self.server_cpus.is_empty()
            && self
                .client_cpus
                .iter()
                .all(|c| !self.server_cpus.contains(c));
        let own = (wall > 0.0 && !self.server_cpus.is_empty())
            .then(|| server_cpu_s / wall / self.server_cpus.len() as f64);
        let foreign = match (server, own) {
            (Some(s), Some(o)) if distinct => Some((s - o).max(0.0)),
            _ => None,
        };
        (client.filter(|_| distinct), foreign)
    }
}

/// One measured repeat.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measured {
    pub repeat: RepeatRecord,
    /// Errors and wrong answers (0 = clean).
    pub errors: u64,
    pub ladder: Vec<LadderPoint>,
    pub capacity_rps: Option<f64>,
    pub lower_bound: bool,
    pub warnings: Vec<String>,
}

/// A server or service that is no longer there ([`ServerMeter::check_alive`],
/// [`ServiceHandle::check_alive`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Gone {
    /// The target's server ended: how (exit status or signal), then the last lines of its stderr.
    #[error("{status}\n{}", .stderr_tail.join("\n"))]
    Server {
        status: String,
        stderr_tail: Vec<String>,
    },
    /// A service's process ended (the upstream, the lab's PostgreSQL).
    #[error(transparent)]
    Service(#[from] crate::process::Crash),
    /// A server the lab does not run (a remote target) does not accept connections.
    #[error("{url} is not reachable: {reason}")]
    Unreachable { url: String, reason: String },
}

/// Why a repeat has no result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MeasureError {
    #[error("interrupted")]
    Interrupted,
    /// The server stopped during the cell; the text has the last lines of its stderr.
    #[error("the server died during the measurement: {0}")]
    ServerDied(String),
    #[error("{0}")]
    Failed(String),
}

impl MeasureError {
    /// [`MeasureError::ServerDied`] with what the server left ([`Gone`]).
    pub fn died(g: Gone) -> MeasureError {
        MeasureError::ServerDied(g.to_string())
    }
}

/// A workload of the catalogue.
pub trait Workload: Send + Sync {
    /// The stable id (docs/workloads.md).
    fn id(&self) -> &'static str;
    fn kind(&self) -> Kind;
    /// One line for plans and tables.
    fn describe(&self) -> String;
    /// Contract endpoints the target must serve.
    fn endpoints(&self) -> &'static [&'static str];
    /// Services that must run while it is measured.
    fn services(&self) -> &'static [ServiceKind] {
        &[]
    }
    /// Parameters stored with the cell.
    fn params(&self, timing: &Timing) -> BTreeMap<String, String>;
    /// How many repeats it makes when the suite asks for `requested`.
    fn repeats(&self, requested: u32) -> u32 {
        requested
    }
    /// Whether every repeat needs a freshly started server. A workload that measures how much
    /// memory its load adds (`ws-hold`) does: a garbage-collected runtime keeps the heap an
    /// earlier repeat grew, so on a warm server the next repeat's growth reads near zero.
    fn fresh_server(&self) -> bool {
        false
    }
    /// Expected wall time of one repeat.
    fn estimate(&self, timing: &Timing) -> Duration;
    /// Expected wall time of `repeats` repeats of one cell (a workload whose later repeats are
    /// shorter, e.g. a calibration that starts from the last one's answer, says so).
    fn estimate_repeats(&self, timing: &Timing, repeats: u32) -> Duration {
        self.estimate(timing) * repeats
    }
    /// Measures one repeat against the running server.
    fn measure(&self, cx: &mut CellContext<'_>) -> Result<Measured, MeasureError>;
}

/// The measuring code of a registry entry, by its kind; `None` for a kind with no client in
/// this lab (per-target measures, or a saturation workload that needs a service the lab cannot
/// start yet).
pub fn implement(spec: &workloads::Workload) -> Option<Box<dyn Workload>> {
    if !spec.available() {
        return None;
    }
    match spec.kind {
        Kind::Saturation if spec.requests.len() == 1 => {
            Some(Box::new(saturation::Saturation { spec: *spec }))
        }
        Kind::Capacity if spec.requests.len() == 1 || capacity::is_mix(spec) => {
            Some(Box::new(capacity::CapacityAtSlo { spec: *spec }))
        }
        // A capacity search over the `/items` mix on the database (crates/lab/src/crud.rs).
        Kind::Capacity if crud::CrudAtSlo::fits(spec) => {
            Some(Box::new(crud::CrudAtSlo { spec: *spec }))
        }
        Kind::Mixed => Some(Box::new(mixed::Mixed { spec: *spec })),
        Kind::Hold => Some(Box::new(ws_hold::WsHold { spec: *spec })),
        Kind::Concurrency if io_wait::IoWait::fits(spec) => {
            Some(Box::new(io_wait::IoWait { spec: *spec }))
        }
        _ => None,
    }
}

/// Every workload of the registry the lab can measure, in the order the suite runs them.
pub fn catalogue() -> Vec<Box<dyn Workload>> {
    workloads::registry()
        .cell_workloads()
        .filter_map(implement)
        .collect()
}

/// The workload with this id.
pub fn by_id(id: &str) -> Option<Box<dyn Workload>> {
    workloads::registry().workload(id).and_then(implement)
}

/// Workload ids of `--quick` (the registry's `Tier::Quick` entries).
pub fn quick() -> Vec<&'static str> {
    workloads::registry().quick_ids()
}

/// Workload ids of the full (default) suite, in suite order: every available workload but those
/// run only on request.
pub fn full() -> Vec<&'static str> {
    workloads::registry()
        .full_ids()
        .into_iter()
        .filter(|id| by_id(id).is_some())
        .collect()
}

/// Workload ids run only on request (`--workloads ID` or `--all`).
pub fn on_request() -> Vec<&'static str> {
    workloads::registry()
        .on_request_ids()
        .into_iter()
        .filter(|id| by_id(id).is_some())
        .collect()
}

/// Per-target measures the suite makes besides cells (not workloads: stored with the target).
pub const COLD_STARTS_FULL: usize = 10;
pub const COLD_STARTS_QUICK: usize = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_ids_are_the_documented_ones_and_unique() {
        let ids: Vec<&str> = catalogue().iter().map(|w| w.id()).collect();
        assert_eq!(
            ids,
            vec![
                "plaintext",
                "json",
                "io",
                "cpu",
                "hash",
                "json-slo",
                "io-slo",
                "cpu-slo",
                "hash-slo",
                "mixed",
                "ws-hold",
                "vector",
                "mixed-time",
                "mixed-slo",
                "db",
                "queries",
                "fortunes",
                "updates",
                "crud",
                "io-wait"
            ]
        );
        let doc = include_str!("../../../../docs/workloads.md");
        for id in &ids {
            assert!(
                doc.contains(&format!("`{id}`")),
                "{id} missing from docs/workloads.md"
            );
        }
        for q in quick() {
            assert!(by_id(q).is_some());
        }
        assert_eq!(quick(), vec!["json", "io", "cpu", "io-slo"]);
    }

    #[test]
    fn database_workloads_need_the_database() {
        for w in catalogue() {
            let needs = w.services().contains(&ServiceKind::Database);
            let db = ["db", "queries", "fortunes", "updates", "crud"];
            assert_eq!(
                needs,
                w.endpoints().iter().any(|e| db.contains(e)),
                "{}",
                w.id()
            );
        }
    }

    #[test]
    fn io_workloads_need_the_upstream() {
        for w in catalogue() {
            let needs = w.services().contains(&ServiceKind::Upstream);
            assert_eq!(needs, w.endpoints().contains(&"io"), "{}", w.id());
        }
    }
}
