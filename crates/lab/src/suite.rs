//! The suite runner: plans the (target × workload) cells, installs and starts each target, runs
//! every cell's repeats — interleaved across targets, round robin per workload, each server kept up
//! between rounds, a repeat over the steal or other-processes limit measured again within a retry
//! budget (docs/workloads.md "Noise"), a cell whose primary figure spreads too wide given extra
//! repeats ([`top_up_order`]), neither past the run's time budget ([`eta_up_to`]) — summarises them
//! by the trust rules ([`crate::stats`]) and
//! saves each cell to the store the moment its last repeat is measured. Per target it also measures idle memory, the install
//! footprint and cold starts. A target that fails to install, fails conformance or dies mid-run
//! fails its cells (with the last lines of its stderr) and the suite goes on; Ctrl-C stops the
//! current cell, stops everything started, keeps the stored cells, and `--resume` completes the run.
//!
//! The runner reaches targets and services only through [`Host`], so it does not depend on how
//! they are installed, started and sampled (labcore's modules, see [`crate::host`]), and it can be
//! tested with a fake host.
//!
//! What it does is reported as typed events ([`workloads::events`], re-exported here): data, never
//! pre-formatted text; the CLI renders them with `reports::live` or writes them as JSON lines.
//! Options are checked by [`SuiteOptions::validate`] and [`plan`], whose [`SuiteError`] names the
//! wrong [`Field`] (the CLI spells it as a flag).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use store::{
    CellRecord, CellStatus, Machine, NewRun, PlannedCell, RepeatRecord, Spread, Store, TargetRecord,
};

use crate::stats;
use crate::workload::{
    self, CellContext, Kind, MeasureError, Measured, ServerMeter, ServiceHandle, ServiceKind,
    StopFlag, Timing, Workload,
};

/// A target as the suite needs to know it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetInfo {
    pub name: String,
    pub language: String,
    pub framework: String,
    /// Contract endpoints served.
    pub endpoints: Vec<String>,
}

/// What installing a target left on disk.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Installed {
    pub bytes: Option<u64>,
    pub packages: Option<u64>,
}

/// A failure of a target (install, start, conformance), with the last lines of its stderr.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetFailure {
    pub reason: String,
    pub stderr_tail: Option<String>,
}

impl TargetFailure {
    pub fn new(reason: impl Into<String>) -> TargetFailure {
        TargetFailure {
            reason: reason.into(),
            stderr_tail: None,
        }
    }

    /// The reason with the stderr tail, for a failed cell.
    pub fn full(&self) -> String {
        match self.stderr_tail.as_deref().map(str::trim_end) {
            Some(t) if !t.is_empty() => {
                format!("{}\n--- last lines of stderr ---\n{t}", self.reason)
            }
            _ => self.reason.clone(),
        }
    }
}

/// How a target is started.
#[derive(Debug, Clone, PartialEq)]
pub struct StartOptions {
    pub server_cpus: Vec<usize>,
    /// `--workers NAME=N` for this target, if given.
    pub workers: Option<u32>,
    /// The upstream's base URL, when one runs.
    pub upstream_url: Option<String>,
    /// The database's URL (`DATABASE_URL`), when one runs.
    pub database_url: Option<String>,
    /// The workload the server is started for (a manifest may have its own start command).
    pub workload: Option<String>,
    /// Connections the workload holds at once (a `Hold` workload): a thread server whose
    /// manifest asks for one thread per connection gets threads = connections ÷ workers.
    pub hold_connections: Option<usize>,
}

/// A running target server.
pub trait Server: ServerMeter {
    /// `http://127.0.0.1:PORT`.
    fn base_url(&self) -> String;
    /// PSS of the process tree now, MB.
    fn pss_mb(&mut self) -> Option<f64>;
    /// The configuration it runs with (server, workers, threads…), stored with the target.
    fn config(&self) -> BTreeMap<String, String>;
    /// Stops the process group (also done on drop).
    fn stop(self: Box<Self>);
    /// What happened while starting it, for the run's notes (e.g. a port retried).
    fn start_notes(&self) -> Vec<String> {
        vec![]
    }
}

/// Everything the suite needs from the lab's core (manifests, install, processes, sampling,
/// services, conformance).
pub trait Host {
    fn targets(&self) -> Result<Vec<TargetInfo>, crate::host::HostError>;
    /// Installs the target if needed (a no-op when already installed), reporting progress lines.
    fn install(
        &self,
        target: &str,
        progress: &mut dyn FnMut(String),
    ) -> Result<Installed, TargetFailure>;
    /// Versions of the runtime, framework and server packages.
    fn versions(&self, target: &str) -> BTreeMap<String, String>;
    /// Whether `workload` needs a server started with its own command.
    fn own_start(&self, target: &str, workload: &str) -> bool;
    /// Starts the target and waits until it is ready.
    fn start(&self, target: &str, opts: &StartOptions) -> Result<Box<dyn Server>, TargetFailure>;
    /// The conformance checker against a running server.
    fn check(&self, target: &str, server: &mut dyn Server) -> Result<(), TargetFailure>;
    /// One fresh start: spawn → first correct response, then stop.
    fn cold_start(&self, target: &str, opts: &StartOptions) -> Result<Duration, TargetFailure>;
    /// Starts a service on the client CPUs.
    fn start_service(
        &self,
        kind: ServiceKind,
        cpus: &[usize],
    ) -> Result<Box<dyn ServiceHandle>, crate::host::ServiceError>;
    /// Why this host does not measure `w` on `target` (a remote target: [`crate::remote`]);
    /// `None`: measured.
    fn skip(&self, _target: &str, _w: &dyn Workload) -> Option<String> {
        None
    }
    /// Whether the servers are the lab's own processes (sampled: CPU, memory, cold start).
    fn samples_server(&self) -> bool {
        true
    }
    /// Settings stored with a new run besides the options (a remote target's origin).
    fn run_settings(&self) -> BTreeMap<String, String> {
        BTreeMap::new()
    }
    /// Notes stored with a new run (what this host does not measure).
    fn run_notes(&self) -> Vec<String> {
        vec![]
    }
}

/// What the suite runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteOptions {
    /// Targets by name; empty: all.
    pub targets: Vec<String>,
    /// Workload ids, in order.
    pub workloads: Vec<String>,
    pub repeats: u32,
    pub timing: Timing,
    pub quick: bool,
    pub cold_starts: usize,
    pub server_cpus: Vec<usize>,
    pub client_cpus: Vec<usize>,
    pub workers: BTreeMap<String, u32>,
}

/// The settings a run stores (read back by `--resume`), with serde: the store keeps them as
/// one text value per key (`repeats` = `3`, `targets` = `a,b`, `workers` = `a=4`), the shape
/// every stored run has; other keys (a host's `origin.*`) are left alone. Runs stored before
/// `ws_connections` existed get its default.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct StoredSettings {
    #[serde(with = "stored::list")]
    targets: Vec<String>,
    #[serde(with = "stored::list")]
    workloads: Vec<String>,
    #[serde(with = "stored::text")]
    repeats: u32,
    #[serde(with = "stored::text")]
    quick: bool,
    #[serde(with = "stored::text")]
    cold_starts: usize,
    #[serde(with = "stored::text")]
    duration_s: f64,
    #[serde(with = "stored::text")]
    warmup_s: f64,
    #[serde(with = "stored::text")]
    rung_s: f64,
    #[serde(with = "stored::text")]
    rung_warmup_s: f64,
    #[serde(with = "stored::text")]
    max_rungs: usize,
    #[serde(with = "stored::text")]
    slo_p99_ms: f64,
    #[serde(with = "stored::text")]
    idle_settle_s: f64,
    #[serde(with = "stored::text", default = "default_ws_connections")]
    ws_connections: usize,
    #[serde(with = "stored::list")]
    server_cpus: Vec<usize>,
    #[serde(with = "stored::list")]
    client_cpus: Vec<usize>,
    #[serde(with = "stored::list")]
    workers: Vec<stored::Workers>,
}

fn default_ws_connections() -> usize {
    workload::ws_hold::CONNECTIONS
}

/// The text forms of [`StoredSettings`]' values.
mod stored {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    /// A value as its text (`Display` / `FromStr`).
    pub mod text {
        use super::*;

        pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(v)
        }

        pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
        where
            T: FromStr,
            T::Err: Display,
            D: Deserializer<'de>,
        {
            let s = String::deserialize(d)?;
            s.trim()
                .parse()
                .map_err(|e| D::Error::custom(format!("'{s}': {e}")))
        }
    }

    /// A comma-separated list (empty: none).
    pub mod list {
        use super::*;

        pub fn serialize<T: Display, S: Serializer>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
            let items: Vec<String> = v.iter().map(T::to_string).collect();
            s.collect_str(&items.join(","))
        }

        pub fn deserialize<'de, T, D>(d: D) -> Result<Vec<T>, D::Error>
        where
            T: FromStr,
            T::Err: Display,
            D: Deserializer<'de>,
        {
            String::deserialize(d)?
                .split(',')
                .filter(|x| !x.is_empty())
                .map(|x| {
                    x.parse()
                        .map_err(|e| D::Error::custom(format!("'{x}': {e}")))
                })
                .collect()
        }
    }

    /// One `NAME=N` of the workers setting.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Workers(pub String, pub u32);

    impl Display for Workers {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}={}", self.0, self.1)
        }
    }

    impl FromStr for Workers {
        type Err = String;
        fn from_str(s: &str) -> Result<Workers, String> {
            let (k, v) = s.split_once('=').ok_or("expected NAME=N")?;
            Ok(Workers(
                k.to_string(),
                v.parse().map_err(|e| format!("{e}"))?,
            ))
        }
    }
}

/// A stored run's settings that cannot be read back: which key, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("stored setting{}: {message}", .key.as_ref().map(|k| format!(" '{k}'")).unwrap_or_else(|| "s".into()))]
pub struct SettingsError {
    /// The key whose value is wrong; `None` when the settings as a whole are (a key missing:
    /// the message names it).
    pub key: Option<String>,
    pub message: String,
}

impl SuiteOptions {
    fn stored(&self) -> StoredSettings {
        StoredSettings {
            targets: self.targets.clone(),
            workloads: self.workloads.clone(),
            repeats: self.repeats,
            quick: self.quick,
            cold_starts: self.cold_starts,
            duration_s: self.timing.duration.as_secs_f64(),
            warmup_s: self.timing.warmup.as_secs_f64(),
            rung_s: self.timing.rung.as_secs_f64(),
            rung_warmup_s: self.timing.rung_warmup.as_secs_f64(),
            max_rungs: self.timing.max_rungs,
            slo_p99_ms: self.timing.slo_p99_ms,
            idle_settle_s: self.timing.idle_settle.as_secs_f64(),
            ws_connections: self.timing.ws_connections,
            server_cpus: self.server_cpus.clone(),
            client_cpus: self.client_cpus.clone(),
            workers: self
                .workers
                .iter()
                .map(|(k, v)| stored::Workers(k.clone(), *v))
                .collect(),
        }
    }

    /// The settings stored with the run (and read back by `--resume`).
    pub fn to_settings(&self) -> BTreeMap<String, String> {
        let value = serde_json::to_value(self.stored()).expect("settings serialize");
        let serde_json::Value::Object(map) = value else {
            unreachable!("a struct serializes to an object")
        };
        map.into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect()
    }

    /// The options of a stored run (for `--resume`), as this version or an older one stored
    /// them.
    pub fn from_settings(s: &BTreeMap<String, String>) -> Result<SuiteOptions, SettingsError> {
        let de = serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(
            s.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let st: StoredSettings = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            SettingsError {
                key: (path != ".").then_some(path),
                message: e.into_inner().to_string(),
            }
        })?;
        let secs = |key: &str, v: f64| {
            Duration::try_from_secs_f64(v).map_err(|e| SettingsError {
                key: Some(key.into()),
                message: format!("'{v}': {e}"),
            })
        };
        Ok(SuiteOptions {
            targets: st.targets,
            workloads: st.workloads,
            repeats: st.repeats,
            timing: Timing {
                duration: secs("duration_s", st.duration_s)?,
                warmup: secs("warmup_s", st.warmup_s)?,
                rung: secs("rung_s", st.rung_s)?,
                rung_warmup: secs("rung_warmup_s", st.rung_warmup_s)?,
                max_rungs: st.max_rungs,
                slo_p99_ms: st.slo_p99_ms,
                idle_settle: secs("idle_settle_s", st.idle_settle_s)?,
                ws_connections: st.ws_connections,
            },
            quick: st.quick,
            cold_starts: st.cold_starts,
            server_cpus: st.server_cpus,
            client_cpus: st.client_cpus,
            workers: st.workers.into_iter().map(|w| (w.0, w.1)).collect(),
        })
    }
}

/// What the suite reports as it goes: typed data ([`workloads::events`]); the CLI renders it
/// with the reports crate or writes it as JSON lines (`stackwise lab --events json`).
pub use workloads::events::{
    CellSummary, Event, Figure, Phase, Progress, RepeatTrust, RunEnd, RunPlan, Status, WarningCode,
};

/// A suite option, as [`SuiteError::Invalid`] names it (the CLI spells it as its flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Targets,
    Workloads,
    Repeats,
    Duration,
    Warmup,
    Rung,
    SloP99,
    ColdStarts,
    WsConnections,
    Workers,
}

impl Field {
    /// The option's name in the stored settings.
    pub fn name(self) -> &'static str {
        match self {
            Field::Targets => "targets",
            Field::Workloads => "workloads",
            Field::Repeats => "repeats",
            Field::Duration => "duration",
            Field::Warmup => "warmup",
            Field::Rung => "rung",
            Field::SloP99 => "slo_p99_ms",
            Field::ColdStarts => "cold_starts",
            Field::WsConnections => "ws_connections",
            Field::Workers => "workers",
        }
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a suite could not be planned or run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SuiteError {
    /// An option is wrong (the caller's input): which, and why.
    #[error("{field}: {message}")]
    Invalid { field: Field, message: String },
    /// Anything else: the targets folder, the store, a failed store write.
    #[error("{0}")]
    Run(String),
}

impl SuiteError {
    fn invalid(field: Field, message: impl Into<String>) -> SuiteError {
        SuiteError::Invalid {
            field,
            message: message.into(),
        }
    }
}

impl From<String> for SuiteError {
    fn from(e: String) -> SuiteError {
        SuiteError::Run(e)
    }
}

impl From<crate::host::HostError> for SuiteError {
    fn from(e: crate::host::HostError) -> SuiteError {
        SuiteError::Run(e.to_string())
    }
}

/// The longest window (duration, warm-up, rung) the lab accepts.
pub const MAX_WINDOW: Duration = Duration::from_secs(3600);
/// The most repeats, and cold starts, per cell or target.
pub const MAX_REPEATS: u32 = 100;
pub const MAX_COLD_STARTS: usize = 100;

impl SuiteOptions {
    /// Checks what can be checked without the targets folder: the workloads exist, counts and
    /// windows are in range. [`plan`] checks the target names.
    pub fn validate(&self) -> Result<(), SuiteError> {
        let known = || {
            workload::catalogue()
                .iter()
                .map(|w| w.id().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        for w in &self.workloads {
            if workload::by_id(w).is_none() {
                return Err(SuiteError::invalid(
                    Field::Workloads,
                    format!("unknown workload '{w}' (known: {})", known()),
                ));
            }
        }
        if self.repeats == 0 || self.repeats > MAX_REPEATS {
            return Err(SuiteError::invalid(
                Field::Repeats,
                format!("must be 1 to {MAX_REPEATS} (got {})", self.repeats),
            ));
        }
        if self.cold_starts > MAX_COLD_STARTS {
            return Err(SuiteError::invalid(
                Field::ColdStarts,
                format!("at most {MAX_COLD_STARTS} (got {})", self.cold_starts),
            ));
        }
        let t = &self.timing;
        for (field, d, zero_ok) in [
            (Field::Duration, t.duration, false),
            (Field::Warmup, t.warmup, true),
            (Field::Rung, t.rung, false),
        ] {
            if d.is_zero() && !zero_ok {
                return Err(SuiteError::invalid(field, "must be longer than zero"));
            }
            if d > MAX_WINDOW {
                return Err(SuiteError::invalid(
                    field,
                    format!(
                        "{} s is longer than the hour the lab accepts",
                        d.as_secs_f64()
                    ),
                ));
            }
        }
        if !(t.slo_p99_ms.is_finite() && t.slo_p99_ms > 0.0) {
            return Err(SuiteError::invalid(
                Field::SloP99,
                format!("{} ms: must be a positive latency", t.slo_p99_ms),
            ));
        }
        if !(1..=workload::ws_hold::MAX_CONNECTIONS).contains(&t.ws_connections) {
            return Err(SuiteError::invalid(
                Field::WsConnections,
                format!(
                    "must be 1 to {} (got {})",
                    workload::ws_hold::MAX_CONNECTIONS,
                    t.ws_connections
                ),
            ));
        }
        for (name, n) in &self.workers {
            if !(1..=256).contains(n) {
                return Err(SuiteError::invalid(
                    Field::Workers,
                    format!("'{name}={n}': N must be a number of workers from 1 to 256"),
                ));
            }
        }
        Ok(())
    }
}

/// How a suite ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every planned cell is stored (some may be failed).
    Finished { run_id: i64 },
    /// Ctrl-C: the run can be resumed.
    Interrupted { run_id: i64 },
}

/// The cells of a suite, with the targets' workloads that were skipped (endpoint not served).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub cells: Vec<PlannedCell>,
    pub skipped: Vec<(PlannedCell, String)>,
    /// Targets in the plan, in order.
    pub targets: Vec<TargetInfo>,
    /// The expected wall time of the cells ([`eta`])…
    pub eta: Duration,
    /// …and the most the run may take with its noise re-measurements and extra repeats
    /// ([`eta_up_to`]: the tier's budget, or the plan when that is longer).
    pub up_to: Duration,
}

/// Plans the cells: every selected target × every selected workload whose endpoints it serves.
pub fn plan(host: &dyn Host, opts: &SuiteOptions) -> Result<Plan, SuiteError> {
    opts.validate()?;
    let all = host.targets()?;
    let known: BTreeSet<&str> = all.iter().map(|t| t.name.as_str()).collect();
    for t in &opts.targets {
        if !known.contains(t.as_str()) {
            return Err(SuiteError::invalid(
                Field::Targets,
                format!(
                    "no target named '{t}' (known: {})",
                    known.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    for t in opts.workers.keys() {
        if !known.contains(t.as_str()) {
            return Err(SuiteError::invalid(
                Field::Workers,
                format!(
                    "no target named '{t}' (known: {})",
                    known.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    let targets: Vec<TargetInfo> = all
        .into_iter()
        .filter(|t| opts.targets.is_empty() || opts.targets.contains(&t.name))
        .collect();
    let mut cells = Vec::new();
    let mut skipped = Vec::new();
    for t in &targets {
        for id in &opts.workloads {
            let w = workload::by_id(id).ok_or_else(|| {
                SuiteError::invalid(Field::Workloads, format!("unknown workload '{id}'"))
            })?;
            let cell = PlannedCell {
                target: t.name.clone(),
                workload: id.clone(),
            };
            let missing: Vec<&str> = w
                .endpoints()
                .iter()
                .copied()
                .filter(|e| !t.endpoints.iter().any(|s| s == e))
                .collect();
            if let Some(why) = host.skip(&t.name, w.as_ref()) {
                skipped.push((cell, why));
            } else if missing.is_empty() {
                cells.push(cell);
            } else {
                skipped.push((cell, format!("does not serve /{}", missing.join(", /"))));
            }
        }
    }
    let with_work = targets
        .iter()
        .filter(|t| cells.iter().any(|c| c.target == t.name))
        .count();
    let eta = eta(&cells, opts, with_work);
    Ok(Plan {
        cells,
        skipped,
        targets,
        eta,
        up_to: eta_up_to(opts, eta),
    })
}

/// The most a run planned at `eta` may take, re-measured and extra repeats included: its tier's
/// time budget, or `eta` when that is longer ([`workloads::trust::run_limit`], which states the
/// reserve). `--plan` prints "ETA X (up to Y with re-measured and extra repeats)".
pub fn eta_up_to(opts: &SuiteOptions, eta: Duration) -> Duration {
    workloads::trust::run_limit(opts.quick, eta)
}

/// Expected wall time of one repeat of a cell of `w` (the cost of a noise re-measurement or of
/// an extra repeat).
pub fn repeat_estimate(w: &dyn Workload, opts: &SuiteOptions) -> Duration {
    cell_estimate(w, opts) / cell_repeats(w, opts.repeats)
}

/// Extra repeats a cell of `w` may get in this run (docs/workloads.md "Extra repeats"): none
/// with `--quick` or one planned repeat (indicative verdicts, no spread to narrow), else the
/// registry's cap for the workload ([`workloads::trust::EXTRA_REPEATS_PER_CELL`] unless it opts
/// out).
pub fn extra_repeats_cap(w: &dyn Workload, opts: &SuiteOptions) -> u32 {
    if opts.quick || cell_repeats(w, opts.repeats) < 2 {
        return 0;
    }
    workloads::registry()
        .workload(w.id())
        .map_or(workloads::trust::EXTRA_REPEATS_PER_CELL, |s| {
            s.extra_repeats()
        })
}

/// Which cells get an extra round now, widest first: those whose primary figure's relative
/// spread is over [`workloads::trust::SPREAD_LIMIT`] and that have had fewer than `cap` extra
/// repeats. `cells[i]` is (spread so far, extra repeats so far); the result indexes `cells`.
pub fn top_up_order(cells: &[(Option<f64>, u32)], cap: u32) -> Vec<usize> {
    let mut v: Vec<(usize, f64)> = cells
        .iter()
        .enumerate()
        .filter(|(_, (_, extra))| *extra < cap)
        .filter_map(|(i, (spread, _))| Some((i, (*spread)?)))
        .filter(|(_, s)| *s > workloads::trust::SPREAD_LIMIT)
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v.into_iter().map(|(i, _)| i).collect()
}

/// The relative spread of a cell's primary figure ([`workloads::Workload::primary_metric`]) over
/// its clean repeats so far.
fn primary_spread(w: &dyn Workload, measured: &[Measured]) -> Option<f64> {
    let id = workloads::registry().workload(w.id())?.primary_metric()?;
    let values: Vec<f64> = measured
        .iter()
        .filter(|m| m.errors == 0 && m.repeat.clean)
        .filter_map(|m| {
            m.repeat
                .metric(id)
                .or_else(|| (id == "capacity_rps").then_some(m.capacity_rps).flatten())
        })
        .collect();
    workloads::trust::relative_spread(&values)
}

/// Seconds between a target's cells spent starting, checking and stopping it, and per cold start.
const START_OVERHEAD: Duration = Duration::from_secs(2);
const COLD_START_ESTIMATE: Duration = Duration::from_millis(1500);
/// A capacity search whose anchor (saturation) workload is not in the run probes it first: a 1 s
/// closed-loop window after 0.5 s of warm-up, per search.
const ANCHOR_PROBE_ESTIMATE: Duration = Duration::from_millis(1600);

/// Repeats a cell of `w` runs when `requested` are asked for (`--repeats`, 3 by default, 1 with
/// `--quick`): the registry entry's cap where it has one (its `max_repeats` parameter: `io-slo`'s
/// 3 searches, `ws-hold`'s 2, `mixed`'s 1), else the workload's own rule (one search for the other
/// capacity workloads). Repeats of a capacity workload are whole searches, interleaved across
/// targets like every other repeat (docs/workloads.md "Repeats").
pub fn cell_repeats(w: &dyn Workload, requested: u32) -> u32 {
    let own = w.repeats(requested).max(1);
    match workloads::registry().workload(w.id()) {
        Some(spec) => spec.repeats_for(requested, own),
        None => own,
    }
}

/// Expected wall time of one cell of `w` (its repeats, and the anchor probe of a capacity search
/// whose saturation workload is not in the run).
pub fn cell_estimate(w: &dyn Workload, opts: &SuiteOptions) -> Duration {
    let n = cell_repeats(w, opts.repeats);
    let mut d = w.estimate_repeats(&opts.timing, n);
    let anchor = workloads::registry()
        .workload(w.id())
        .and_then(|s| s.param("anchor_workload"));
    if anchor.is_some_and(|a| !opts.workloads.iter().any(|x| x == a)) {
        d += ANCHOR_PROBE_ESTIMATE * n;
    }
    d
}

/// Expected wall time of the cells (the workloads' own estimates from the timing settings) plus
/// per-target overheads (start, conformance, idle memory, cold starts).
pub fn eta(cells: &[PlannedCell], opts: &SuiteOptions, targets_with_work: usize) -> Duration {
    let mut total = Duration::ZERO;
    for c in cells {
        if let Some(w) = workload::by_id(&c.workload) {
            total += cell_estimate(w.as_ref(), opts);
        }
    }
    total
        + (START_OVERHEAD + COLD_START_ESTIMATE * opts.cold_starts as u32)
            * targets_with_work as u32
}

/// Runs (or, with `resume`, completes) a suite. Returns when every planned cell is stored, or on
/// Ctrl-C; either way its last event is [`Event::RunFinished`].
pub fn run(
    host: &dyn Host,
    store: &mut Store,
    opts: &SuiteOptions,
    machine: Machine,
    resume: Option<i64>,
    stop: &StopFlag,
    on: &mut dyn FnMut(Event),
) -> Result<Outcome, SuiteError> {
    let started = Instant::now();
    // The lab's own threads (this one, samplers, output readers, watchdog…) keep off the server
    // CPUs while the run lasts: their CPU there read as other processes' load (crate::affinity).
    let _pinned = crate::affinity::pin_lab_threads(&opts.client_cpus, &opts.server_cpus);
    let outcome = run_cells(host, store, opts, machine, resume, stop, on)?;
    let (run_id, end) = match outcome {
        Outcome::Finished { run_id } => (run_id, RunEnd::Finished),
        Outcome::Interrupted { run_id } => (run_id, RunEnd::Interrupted),
    };
    let run = store.run(run_id).map_err(|e| e.to_string())?;
    let count = |f: fn(&CellStatus) -> bool| run.cells.iter().filter(|c| f(&c.status)).count();
    on(Event::RunFinished {
        run_id,
        end,
        ok: count(|s| matches!(s, CellStatus::Ok)),
        flagged: count(|s| matches!(s, CellStatus::Flagged(_))),
        failed: count(|s| matches!(s, CellStatus::Failed(_))),
        missing: store
            .missing_cells(run_id)
            .map_err(|e| e.to_string())?
            .len(),
        wall_s: started.elapsed().as_secs_f64(),
        store: store.path().to_string(),
    });
    Ok(outcome)
}

fn run_cells(
    host: &dyn Host,
    store: &mut Store,
    opts: &SuiteOptions,
    machine: Machine,
    resume: Option<i64>,
    stop: &StopFlag,
    on: &mut dyn FnMut(Event),
) -> Result<Outcome, SuiteError> {
    let mut plan = plan(host, opts)?;
    if let Some(id) = resume {
        // A resumed run measures what it planned, not targets added since.
        let stored_plan = store.plan(id).map_err(|e| e.to_string())?;
        plan.cells.retain(|c| stored_plan.contains(c));
        plan.targets
            .retain(|t| stored_plan.iter().any(|c| c.target == t.name));
    }
    let run_id = match resume {
        Some(id) => id,
        None => store
            .begin_run(&NewRun {
                machine,
                settings: {
                    let mut s = opts.to_settings();
                    s.extend(host.run_settings());
                    s
                },
                plan: plan.cells.clone(),
            })
            .map_err(|e| e.to_string())?,
    };
    if resume.is_none() {
        // What this host does not measure, and the cells it skips, are said and stored.
        let skips = plan.skipped.iter().filter_map(|(c, _)| {
            let w = workload::by_id(&c.workload)?;
            let why = host.skip(&c.target, w.as_ref())?;
            Some(format!("skipped {} {}: {why}", c.target, c.workload))
        });
        for note in host.run_notes().into_iter().chain(skips) {
            store_and_warn(
                store,
                run_id,
                on,
                None,
                WarningCode::RunNote,
                note,
                None,
                None,
            )?;
        }
    }
    let missing: BTreeSet<PlannedCell> = store
        .missing_cells(run_id)
        .map_err(|e| e.to_string())?
        .into_iter()
        .collect();
    let stored = store.run(run_id).map_err(|e| e.to_string())?;
    let need_per_target = |t: &str| {
        stored
            .target(t)
            .is_none_or(|r| r.failure.is_none() && r.metric("cold_start_ms").is_none())
    };
    let todo_targets: Vec<&TargetInfo> = plan
        .targets
        .iter()
        .filter(|t| need_per_target(&t.name) || missing.iter().any(|c| c.target == t.name))
        .collect();
    let remaining: Vec<PlannedCell> = plan
        .cells
        .iter()
        .filter(|c| missing.contains(c))
        .cloned()
        .collect();
    // A resumed run whose stored plan names a target or workload that is gone (a folder removed,
    // an endpoint no longer served): those cells fail, saying why, so the run can finish.
    for c in missing.iter().filter(|c| !plan.cells.contains(c)) {
        let reason = format!(
            "not measurable any more: {} {} is not in the current plan (target folder or endpoint gone)",
            c.target, c.workload
        );
        let rec = failed_cell(&c.target, &c.workload, &opts.timing, reason.clone());
        store_and_warn(
            store,
            run_id,
            on,
            Some(&rec),
            WarningCode::NotMeasurable,
            reason,
            Some(&c.target),
            Some(&c.workload),
        )?;
    }
    on(Event::RunStarted {
        run_id,
        resumed: resume.is_some(),
        plan: RunPlan {
            targets: todo_targets.iter().map(|t| t.name.clone()).collect(),
            workloads: opts.workloads.clone(),
            cells: plan
                .cells
                .iter()
                .map(|c| workloads::events::CellId {
                    target: c.target.clone(),
                    workload: c.workload.clone(),
                })
                .collect(),
            remaining: remaining.len(),
            eta_s: eta(&remaining, opts, todo_targets.len()).as_secs_f64(),
        },
    });

    // The interleaved order (docs/workloads.md "Order of measurement"): every target is prepared
    // first (install, start, idle memory, conformance) and its server stays up; then, workload by
    // workload, round r measures repeat r of every target before round r + 1 starts, so a burst
    // of steal or foreign load is shared by the targets instead of hitting one. Cold starts come
    // last, with no server up.
    let mut services: BTreeMap<ServiceKind, Box<dyn ServiceHandle>> = BTreeMap::new();
    // A service that could not start (no PostgreSQL installed): tried once per run, its cells fail.
    let mut service_failed: BTreeMap<ServiceKind, String> = BTreeMap::new();
    let mut store_failed: Option<String> = None;
    let planned_repeats: u32 = remaining
        .iter()
        .filter_map(|c| workload::by_id(&c.workload))
        .map(|w| cell_repeats(w.as_ref(), opts.repeats))
        .sum();
    let mut budget = RetryBudget {
        left: workloads::trust::noise_retry_budget(planned_repeats),
        total: workloads::trust::noise_retry_budget(planned_repeats),
        limit: eta_up_to(opts, eta(&remaining, opts, todo_targets.len())),
        started: Instant::now(),
        planned_left: Duration::ZERO,
        warned: false,
    };
    let mut states: Vec<TargetState> = Vec::new();
    macro_rules! runner {
        ($st:expr) => {
            TargetRun {
                host,
                store: &mut *store,
                opts,
                run_id,
                stop,
                on: &mut *on,
                services: &mut services,
                service_failed: &mut service_failed,
                anchors: &mut $st.anchors,
                record: &mut $st.record,
                store_failed: &mut store_failed,
            }
        };
    }
    // Ends the run early: every server stopped, what was stored kept.
    macro_rules! bail {
        ($states:expr) => {{
            for st in $states.iter_mut() {
                st.stop_server();
            }
            if let Some(e) = store_failed.take() {
                // A failed write (disk full, read-only file): stop; what was committed stays.
                return Err(SuiteError::Run(format!(
                    "{e}; the run stopped (run {run_id} keeps every cell stored before this one; free space or fix the file, then `stackwise lab --resume` completes it)"
                )));
            }
            return Ok(Outcome::Interrupted { run_id });
        }};
    }
    for t in todo_targets {
        if stop.is_set() {
            bail!(states);
        }
        let cells: Vec<PlannedCell> = plan
            .cells
            .iter()
            .filter(|c| c.target == t.name && missing.contains(c))
            .cloned()
            .collect();
        // Saturation figures measured earlier for this target anchor its capacity searches.
        let anchors: BTreeMap<String, f64> = stored
            .cells
            .iter()
            .filter(|c| c.target == t.name)
            .filter_map(|c| {
                c.metric("throughput_rps")
                    .map(|s| (c.workload.clone(), s.median))
            })
            .filter(|(w, _)| workload::by_id(w).is_some_and(|w| w.kind() == Kind::Saturation))
            .collect();
        let mut st = TargetState {
            info: t.clone(),
            cells,
            anchors,
            // On --resume, the per-target measures stored earlier are kept.
            record: stored.target(&t.name).map(|r| TargetRecord {
                name: r.name.clone(),
                language: r.language.clone(),
                framework: r.framework.clone(),
                versions: r.versions.clone(),
                config: r.config.clone(),
                figures: r
                    .metrics
                    .iter()
                    .map(|(k, s)| (k.clone(), s.values.clone()))
                    .collect(),
                failure: r.failure.clone(),
                stderr_tail: None,
            }),
            per_target: need_per_target(&t.name),
            kinds: vec![],
            server: None,
            server_for: None,
            ready: false,
        };
        let prepared = {
            let (cells, per_target) = (st.cells.clone(), st.per_target);
            runner!(st).prepare(t, &cells, per_target)
        };
        match prepared {
            Ok(Some((server, kinds, cells))) => {
                st.server = Some(server);
                st.kinds = kinds;
                st.cells = cells;
                st.ready = true;
            }
            Ok(None) => {}
            Err(Stopped) => {
                states.push(st);
                bail!(states);
            }
        }
        states.push(st);
        if store_failed.is_some() {
            bail!(states);
        }
    }

    // The time budget counts from the first measurement: installs (first use) are outside the
    // plan ("ETA … once installed"), and so is the preparation the plan estimated.
    budget.started = Instant::now();
    budget.limit = budget
        .limit
        .saturating_sub(START_OVERHEAD * states.len() as u32);
    for (wi, id) in opts.workloads.iter().enumerate() {
        let Some(w) = workload::by_id(id) else {
            continue;
        };
        let w = w.as_ref();
        let per_repeat = repeat_estimate(w, opts);
        let extra_cap = extra_repeats_cap(w, opts);
        let mut todo: Vec<(usize, CellProgress)> = states
            .iter()
            .enumerate()
            .filter(|(_, st)| st.ready && st.cells.iter().any(|c| c.workload == w.id()))
            .map(|(i, _)| (i, CellProgress::default()))
            .collect();
        let repeats = cell_repeats(w, opts.repeats);
        // Measures one repeat of the cell of target `states[$i]` (a planned one or an extra) and
        // stores the cell when `$finish` says so once it is measured; Ctrl-C or a failed store
        // write ends the run.
        macro_rules! measure {
            ($i:expr, $p:expr, $round:expr, $finish:expr) => {{
                let st = &mut states[$i];
                let t = st.info.clone();
                let kinds = st.kinds.clone();
                let outcome = runner!(st).measure_round(
                    &t,
                    w,
                    &kinds,
                    &mut st.server,
                    &mut st.server_for,
                    $round,
                    repeats,
                    $p,
                    &mut budget,
                );
                match outcome {
                    Ok(true) => {}
                    // A service ended: every server knows its old URL, so all are restarted.
                    Ok(false) => {
                        for st in states.iter_mut() {
                            st.stop_server();
                        }
                    }
                    Err(Stopped) => bail!(states),
                }
                let finish: bool = $finish($p);
                let st = &mut states[$i];
                if finish && runner!(st).finish_cell(&t, w, $p).is_err() {
                    bail!(states);
                }
            }};
        }
        // The planned repeats of this workload not yet measured (for the time budget).
        let mut open = todo.len() as u32 * repeats;
        for round in 0..repeats {
            for (i, p) in todo.iter_mut() {
                if p.done {
                    continue;
                }
                if stop.is_set() {
                    bail!(states);
                }
                open = open.saturating_sub(1);
                budget.planned_left = planned_left(&states, opts, wi, per_repeat * open);
                let last = round + 1 == repeats;
                measure!(*i, p, round, |p: &mut CellProgress| {
                    if p.failure.is_some() {
                        open = open.saturating_sub(repeats - round - 1);
                        return true;
                    }
                    // A cell whose primary figure spreads too wide waits for its extra repeats.
                    let spread = primary_spread(w, &p.measured);
                    let wide =
                        extra_cap > 0 && spread.is_some_and(|s| s > workloads::trust::SPREAD_LIMIT);
                    if last && wide {
                        p.spread_before = spread;
                    }
                    last && !wide
                });
            }
        }
        // Extra repeats (docs/workloads.md "Extra repeats"): rounds over the cells still too
        // wide, widest first, each while the run's time budget allows one more repeat.
        loop {
            let now: Vec<(Option<f64>, u32)> = todo
                .iter()
                .map(|(_, p)| match p.done {
                    true => (None, 0),
                    false => (primary_spread(w, &p.measured), p.extras),
                })
                .collect();
            let order = top_up_order(&now, extra_cap);
            if order.is_empty() {
                break;
            }
            for k in order {
                if stop.is_set() {
                    bail!(states);
                }
                let (i, p) = &mut todo[k];
                budget.planned_left = planned_left(&states, opts, wi, Duration::ZERO);
                if !budget.time_allows(budget.started.elapsed(), per_repeat) {
                    p.extras_stopped = Some("the run's time budget is spent");
                    if !budget.warned {
                        budget.warned = true;
                        on(Event::Warning {
                            code: WarningCode::BudgetSpent,
                            message: format!(
                                "no more extra repeats or re-measurements: they would take the run past its {} limit; wide cells are stored as they are ({BUDGET_ADVICE})",
                                reports_eta(budget.limit)
                            ),
                            target: Some(states[*i].info.name.clone()),
                            workload: Some(w.id().to_string()),
                        });
                    }
                    let st = &mut states[*i];
                    let t = st.info.clone();
                    if runner!(st).finish_cell(&t, w, p).is_err() {
                        bail!(states);
                    }
                    continue;
                }
                p.extra_round = true;
                measure!(*i, p, repeats + p.extras, |p: &mut CellProgress| {
                    p.extras += 1;
                    p.extra_round = false;
                    // An extra repeat that fails (the server died) does not fail the cell: its
                    // planned repeats stand, and the note says why it stopped.
                    if let Some((reason, _)) = p.failure.take() {
                        p.extras -= 1;
                        let first = reason.lines().next().unwrap_or_default().to_string();
                        p.notes.push(format!(
                            "extra repeat {} failed ({first}); the cell keeps its {} repeats",
                            repeats + p.extras + 1,
                            p.measured.len()
                        ));
                        p.extras_stopped = Some("an extra repeat failed");
                        return true;
                    }
                    p.extras >= extra_cap
                        || primary_spread(w, &p.measured)
                            .is_none_or(|s| s <= workloads::trust::SPREAD_LIMIT)
                });
            }
        }
        // Every cell of the workload is stored before the next workload starts.
        for (i, p) in todo.iter_mut().filter(|(_, p)| !p.done) {
            let st = &mut states[*i];
            let t = st.info.clone();
            if runner!(st).finish_cell(&t, w, p).is_err() {
                bail!(states);
            }
        }
        // A server started with this workload's own command is not the target's default one.
        for st in states.iter_mut().filter(|s| s.server_for.is_some()) {
            st.stop_server();
        }
    }
    for st in states.iter_mut() {
        st.stop_server();
    }
    if stop.is_set() {
        bail!(states);
    }
    for st in states.iter_mut().filter(|s| s.ready && s.per_target) {
        let t = st.info.clone();
        if runner!(st).cold_starts(&t).is_err() {
            bail!(states);
        }
        if store_failed.is_some() {
            bail!(states);
        }
    }
    drop(services);
    if stop.is_set() {
        return Ok(Outcome::Interrupted { run_id });
    }
    if store
        .missing_cells(run_id)
        .map_err(|e| e.to_string())?
        .is_empty()
    {
        store.finish_run(run_id).map_err(|e| e.to_string())?;
        Ok(Outcome::Finished { run_id })
    } else {
        Ok(Outcome::Interrupted { run_id })
    }
}

/// A prepared target's server, the services its cells need and the cells left to measure (those
/// needing a service that could not start are already stored as failed).
type Prepared = (Box<dyn Server>, Vec<ServiceKind>, Vec<PlannedCell>);

/// A target through the run: its cells still to measure, its record, its server between rounds.
struct TargetState {
    info: TargetInfo,
    cells: Vec<PlannedCell>,
    anchors: BTreeMap<String, f64>,
    record: Option<TargetRecord>,
    per_target: bool,
    /// The services its cells need.
    kinds: Vec<ServiceKind>,
    server: Option<Box<dyn Server>>,
    /// The workload whose own start command started `server` (`None`: the default command).
    server_for: Option<String>,
    /// Installed, started and conformant: its cells are measured.
    ready: bool,
}

impl TargetState {
    fn stop_server(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop();
        }
        self.server_for = None;
    }
}

/// One cell's repeats so far, across the rounds.
#[derive(Default)]
struct CellProgress {
    measured: Vec<Measured>,
    /// Why the cell failed, and whether the server died.
    failure: Option<(String, bool)>,
    /// What the noise rule did (re-measured repeats), for the cell's warnings.
    notes: Vec<String>,
    /// Repeats kept noisy once the retry budget was spent.
    noisy: Vec<String>,
    retries: u32,
    elapsed: Duration,
    started: bool,
    done: bool,
    /// Extra repeats measured (docs/workloads.md "Extra repeats"), and whether the one being
    /// measured is one.
    extras: u32,
    extra_round: bool,
    /// The primary figure's spread after the planned repeats, when it was over the limit.
    spread_before: Option<f64>,
    /// Why the extra repeats stopped short of the limit (the run's time budget).
    extras_stopped: Option<&'static str>,
}

impl CellProgress {
    /// The cell's note on its extra repeats ("2 extra repeats: spread 18% → 7%"), if it had or
    /// wanted any.
    fn extras_note(&self, w: &dyn Workload) -> Option<String> {
        let before = self.spread_before?;
        let after = primary_spread(w, &self.measured);
        let pct = |x: f64| format!("{:.0}%", x * 100.0);
        let mut note = format!(
            "{} extra repeat{}: spread {} → {}",
            self.extras,
            if self.extras == 1 { "" } else { "s" },
            pct(before),
            after.map_or("?".to_string(), pct)
        );
        if after.is_some_and(|a| a > workloads::trust::SPREAD_LIMIT) {
            note.push_str(&format!(
                ", still over {} ({})",
                pct(workloads::trust::SPREAD_LIMIT),
                self.extras_stopped
                    .unwrap_or("the cell's extra repeats are spent")
            ));
        }
        Some(note)
    }
}

/// The run's budget of noise re-measurements, and its time budget (shared with the extra
/// repeats).
struct RetryBudget {
    left: u32,
    total: u32,
    /// The most the run may take ([`workloads::trust::run_limit`]), from `started`.
    limit: Duration,
    started: Instant,
    /// The planned work still to do besides the repeat being measured (set before each).
    planned_left: Duration,
    /// The "time budget spent" warning was given.
    warned: bool,
}

/// What to do when a repeat may not be re-measured or topped up for time.
const BUDGET_ADVICE: &str =
    "run on a quieter machine, or with fewer targets or --repeats N to leave more reserve";

impl RetryBudget {
    /// Whether one more repeat costing `cost` may start `elapsed` into the run.
    fn time_allows(&self, elapsed: Duration, cost: Duration) -> bool {
        workloads::trust::within_limit(elapsed, self.planned_left, cost, self.limit)
    }

    /// Why a noisy repeat of a cell that has had `cell_retries` is not measured again, `elapsed`
    /// into the run, a repeat costing `cost`; `None`: it is.
    fn retry_refusal(
        &self,
        cell_retries: u32,
        elapsed: Duration,
        cost: Duration,
    ) -> Option<&'static str> {
        if cell_retries >= workloads::trust::NOISE_RETRIES_PER_CELL {
            Some("the cell's retries are spent")
        } else if self.left == 0 {
            Some("the run's retries are spent")
        } else if !self.time_allows(elapsed, cost) {
            Some("the run's time budget is spent")
        } else {
            None
        }
    }
}

/// The planned work still to do: the current workload's (`current`, the caller's count of its
/// repeats not yet measured), the later workloads' cells (index past `wi`) and the cold starts.
fn planned_left(
    states: &[TargetState],
    opts: &SuiteOptions,
    wi: usize,
    current: Duration,
) -> Duration {
    let mut d = current;
    for id in opts.workloads.iter().skip(wi + 1) {
        if let Some(w) = workload::by_id(id) {
            let n = states
                .iter()
                .filter(|s| s.ready && s.cells.iter().any(|c| &c.workload == id))
                .count();
            d += cell_estimate(w.as_ref(), opts) * n as u32;
        }
    }
    let cold = states.iter().filter(|s| s.ready && s.per_target).count();
    d + COLD_START_ESTIMATE * (opts.cold_starts * cold) as u32
}

/// Steal and other processes' load of a measured repeat, each over its limit, as separate
/// reasons (steal is the hypervisor's, other processes are this machine's: different causes).
pub fn noise_reasons(m: &Measured) -> Vec<String> {
    let samples: serde_json::Value =
        serde_json::from_str(&m.repeat.samples_json).unwrap_or_default();
    // A repeat's samples are one window, or (capacity searches) one per rung: the worst counts.
    let windows: Vec<&serde_json::Value> = match &samples {
        serde_json::Value::Array(v) => v.iter().collect(),
        v => vec![v],
    };
    let worst = |key: &str| {
        windows
            .iter()
            .filter_map(|v| v[key].as_f64())
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
    };
    let steal = match (m.repeat.steal_pct, worst("steal_pct")) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let mut out = Vec::new();
    if let Some(s) = steal.filter(|s| *s > stats::STEAL_LIMIT_PCT) {
        out.push(format!(
            "steal {s:.1}% of CPU time (> {:.0}%)",
            stats::STEAL_LIMIT_PCT
        ));
    }
    if let Some(f) = worst("server_cpus_foreign").filter(|f| *f > stats::FOREIGN_LIMIT) {
        // Who they were, when the host could tell (crate::culprits).
        let by = server_cpus_by(&windows)
            .map(|b| format!(": {}", b.describe()))
            .unwrap_or_default();
        out.push(format!(
            "other processes used {:.0}% of the server CPUs (> {:.0}%){by}",
            f * 100.0,
            stats::FOREIGN_LIMIT * 100.0
        ));
    }
    out
}

/// Who used the server CPUs in the window where other processes used the most of them (a
/// host's `server_cpus_by` sample, [`crate::culprits`]).
fn server_cpus_by(windows: &[&serde_json::Value]) -> Option<workloads::events::ServerCpuUse> {
    windows
        .iter()
        .filter(|v| !v["server_cpus_by"].is_null())
        .max_by(|a, b| {
            let f = |v: &serde_json::Value| v["server_cpus_foreign"].as_f64().unwrap_or(0.0);
            f(a).total_cmp(&f(b))
        })
        .and_then(|v| serde_json::from_value(v["server_cpus_by"].clone()).ok())
}

/// Ctrl-C seen: stop everything, store nothing more.
struct Stopped;

struct TargetRun<'a, 'o> {
    host: &'a dyn Host,
    store: &'a mut Store,
    opts: &'a SuiteOptions,
    run_id: i64,
    stop: &'a StopFlag,
    on: &'a mut (dyn FnMut(Event) + 'o),
    services: &'a mut BTreeMap<ServiceKind, Box<dyn ServiceHandle>>,
    /// Services that could not start in this run, with why (not retried).
    service_failed: &'a mut BTreeMap<ServiceKind, String>,
    anchors: &'a mut BTreeMap<String, f64>,
    record: &'a mut Option<TargetRecord>,
    /// A store write failed: the run stops (the message names the database file).
    store_failed: &'a mut Option<String>,
}

impl TargetRun<'_, '_> {
    fn emit(&mut self, e: Event) {
        (self.on)(e)
    }

    fn save_record(&mut self) {
        if let Some(r) = &self.record {
            if self.store_failed.is_none() {
                if let Err(e) = self.store.save_target(self.run_id, r) {
                    *self.store_failed = Some(format!("could not store target {}: {e}", r.name));
                }
            }
        }
    }

    /// Starts the target; what happened on the way (a port retried) goes to the run's notes.
    fn start_server(
        &mut self,
        target: &str,
        opts: &StartOptions,
    ) -> Result<Box<dyn Server>, TargetFailure> {
        let server = self.host.start(target, opts)?;
        for note in server.start_notes() {
            if let Err(e) = store_and_warn(
                self.store,
                self.run_id,
                &mut *self.on,
                None,
                WarningCode::StartNote,
                note,
                Some(target),
                opts.workload.as_deref(),
            ) {
                *self.store_failed = Some(e);
            }
        }
        Ok(server)
    }

    fn save_cell(&mut self, c: &CellRecord) -> Result<(), Stopped> {
        if self.store_failed.is_some() {
            return Err(Stopped);
        }
        if let Err(e) = self.store.save_cell(self.run_id, c) {
            *self.store_failed = Some(format!(
                "could not store cell {}/{}: {e}",
                c.target, c.workload
            ));
            return Err(Stopped);
        }
        Ok(())
    }

    /// Fails every cell of the target (install/conformance failure), storing why.
    fn fail_cells(
        &mut self,
        t: &TargetInfo,
        cells: &[PlannedCell],
        f: &TargetFailure,
    ) -> Result<(), Stopped> {
        for c in cells {
            let rec = failed_cell(&t.name, &c.workload, &self.opts.timing, f.full());
            self.save_cell(&rec)?;
            self.emit(Event::CellDone {
                target: t.name.clone(),
                workload: c.workload.clone(),
                status: status_of(&rec.status),
                failed_with: Some(
                    f.reason
                        .split(':')
                        .next()
                        .unwrap_or("target failed")
                        .to_string(),
                ),
                summary: cell_summary(&rec),
            });
        }
        Ok(())
    }

    fn start_opts(&self, t: &str, workload: Option<&str>) -> StartOptions {
        StartOptions {
            server_cpus: self.opts.server_cpus.clone(),
            workers: self.opts.workers.get(t).copied(),
            upstream_url: self
                .services
                .get(&ServiceKind::Upstream)
                .map(|s| s.url().to_string()),
            database_url: self
                .services
                .get(&ServiceKind::Database)
                .map(|s| s.url().to_string()),
            workload: workload.map(str::to_string),
            hold_connections: workload
                .filter(|w| {
                    workloads::registry()
                        .workload(w)
                        .is_some_and(|w| w.kind == workloads::Kind::Hold)
                })
                .map(|_| self.opts.timing.ws_connections),
        }
    }

    /// Drops the services that have ended (saying so); true if any had.
    fn drop_dead_services(&mut self) -> bool {
        let dead: Vec<(ServiceKind, String)> = self
            .services
            .iter_mut()
            .filter_map(|(k, s)| s.check_alive().err().map(|e| (*k, e.to_string())))
            .collect();
        for (k, e) in &dead {
            self.services.remove(k);
            let msg = format!("the {k:?} service ended ({e}); restarting it and the target");
            self.emit(Event::Warning {
                code: WarningCode::ServiceEnded,
                message: msg,
                target: None,
                workload: None,
            });
        }
        !dead.is_empty()
    }

    fn ensure_services(&mut self, kinds: &[ServiceKind]) -> Result<(), TargetFailure> {
        for k in kinds {
            if let Some(e) = self.service_failed.get(k) {
                return Err(TargetFailure::new(e.clone()));
            }
            if !self.services.contains_key(k) {
                if *k == ServiceKind::Database {
                    self.emit(Event::Progress {
                        target: None,
                        workload: None,
                        repeat: None,
                        repeats: None,
                        progress: Progress::phase(Phase::StartingDatabase),
                    });
                }
                let s = match self.host.start_service(*k, &self.opts.client_cpus) {
                    Ok(s) => s,
                    Err(e) => {
                        let msg = format!("could not start the {k:?} service: {e}");
                        if *k == ServiceKind::Database {
                            // Not retried for every target: the run says it once.
                            self.service_failed.insert(*k, msg.clone());
                            self.emit(Event::Warning {
                                code: WarningCode::ServiceUnavailable,
                                message: format!(
                                    "{msg}; the cells that need it fail, the others run"
                                ),
                                target: None,
                                workload: None,
                            });
                        }
                        return Err(TargetFailure::new(msg));
                    }
                };
                self.services.insert(*k, s);
            }
        }
        Ok(())
    }

    /// Puts the database back to its loaded state before a cell that uses it (every cell starts
    /// from the same rows).
    fn reset_database(&mut self, w: &dyn Workload) -> Result<(), TargetFailure> {
        if !w.services().contains(&ServiceKind::Database) {
            return Ok(());
        }
        let db = self
            .services
            .get(&ServiceKind::Database)
            .and_then(|s| s.database())
            .ok_or_else(|| TargetFailure::new("the database service is not running"))?;
        db.reset()
            .map(|_| ())
            .map_err(|e| TargetFailure::new(format!("resetting the database: {e}")))
    }

    /// Installs, starts and checks a target (and measures its idle memory): its server, left up
    /// for the rounds, and the services its cells need; `None` when the target failed (its cells
    /// are stored as failed).
    fn prepare(
        &mut self,
        t: &TargetInfo,
        cells: &[PlannedCell],
        per_target: bool,
    ) -> Result<Option<Prepared>, Stopped> {
        self.emit(Event::TargetStarted {
            target: t.name.clone(),
        });
        *self.record = Some(self.record.take().unwrap_or_else(|| TargetRecord {
            name: t.name.clone(),
            language: t.language.clone(),
            framework: t.framework.clone(),
            versions: BTreeMap::new(),
            config: BTreeMap::new(),
            figures: BTreeMap::new(),
            failure: None,
            stderr_tail: None,
        }));
        // Install.
        let name = t.name.clone();
        let installed = {
            let on = &mut *self.on;
            self.host.install(&t.name, &mut |line| {
                on(Event::Installing {
                    target: name.clone(),
                    line,
                })
            })
        };
        if self.stop.is_set() {
            return Err(Stopped);
        }
        let installed = match installed {
            Ok(i) => i,
            Err(f) => return self.target_failed(t, cells, f, "install").map(|()| None),
        };
        let versions = self.host.versions(&t.name);
        if let Some(r) = self.record.as_mut() {
            r.set("install_bytes", installed.bytes.map(|v| v as f64));
            r.set("install_packages", installed.packages.map(|v| v as f64));
            r.versions = versions;
        }
        // Services every cell of this target needs (the upstream is also what /io conformance
        // calls, so it runs whenever the target serves /io).
        let mut kinds: BTreeSet<ServiceKind> = cells
            .iter()
            .filter_map(|c| workload::by_id(&c.workload))
            .flat_map(|w| w.services().to_vec())
            .collect();
        if t.endpoints.iter().any(|e| e == "io") {
            kinds.insert(ServiceKind::Upstream);
        }
        // The database is optional: when it cannot start, only the cells that need it fail.
        let mut cells: Vec<PlannedCell> = cells.to_vec();
        if kinds.remove(&ServiceKind::Database) {
            match self.ensure_services(&[ServiceKind::Database]) {
                Ok(()) => {
                    kinds.insert(ServiceKind::Database);
                }
                Err(f) => {
                    let (db_cells, rest): (Vec<PlannedCell>, Vec<PlannedCell>) =
                        cells.into_iter().partition(|c| {
                            workload::by_id(&c.workload)
                                .is_some_and(|w| w.services().contains(&ServiceKind::Database))
                        });
                    self.fail_cells(t, &db_cells, &f)?;
                    cells = rest;
                    if cells.is_empty() && !per_target {
                        return Ok(None);
                    }
                }
            }
        }
        let cells = &cells[..];
        let kinds: Vec<ServiceKind> = kinds.into_iter().collect();
        if let Err(f) = self.ensure_services(&kinds) {
            return self.target_failed(t, cells, f, "services").map(|()| None);
        }
        // Start, idle memory, conformance.
        let mut server = match self.start_server(&t.name, &self.start_opts(&t.name, None)) {
            Ok(s) => s,
            Err(f) => return self.target_failed(t, cells, f, "start").map(|()| None),
        };
        if let Some(r) = self.record.as_mut() {
            r.config = server.config();
        }
        if per_target {
            self.emit(target_progress(t, Progress::phase(Phase::IdleMemory)));
            if self.sleep(self.opts.timing.idle_settle).is_err() {
                server.stop();
                return Err(Stopped);
            }
            let idle = server.pss_mb();
            if let Some(r) = self.record.as_mut() {
                r.set("idle_pss_mb", idle);
            }
        }
        self.emit(target_progress(t, Progress::phase(Phase::Conformance)));
        if let Err(f) = self.host.check(&t.name, server.as_mut()) {
            server.stop();
            return self
                .target_failed(t, cells, f, "conformance")
                .map(|()| None);
        }
        self.save_record();
        Ok(Some((server, kinds, cells.to_vec())))
    }

    /// Cold starts: fresh processes, after every cell (nothing else running on the server CPUs).
    fn cold_starts(&mut self, t: &TargetInfo) -> Result<(), Stopped> {
        if self.opts.cold_starts > 0 {
            let mut times = Vec::new();
            for i in 0..self.opts.cold_starts {
                if self.stop.is_set() {
                    return Err(Stopped);
                }
                self.emit(target_progress(
                    t,
                    Progress::phase(Phase::ColdStart)
                        .figure("done", i as f64)
                        .figure("of", self.opts.cold_starts as f64),
                ));
                match self
                    .host
                    .cold_start(&t.name, &self.start_opts(&t.name, None))
                {
                    Ok(d) => times.push(d.as_secs_f64() * 1000.0),
                    Err(f) => {
                        self.emit(Event::Warning {
                            code: WarningCode::ColdStartFailed,
                            message: format!("cold start {} failed: {}", i + 1, f.reason),
                            target: Some(t.name.clone()),
                            workload: None,
                        });
                    }
                }
            }
            if self.stop.is_set() {
                return Err(Stopped);
            }
            let idle_pss_mb = self.record.as_ref().and_then(|r| r.value("idle_pss_mb"));
            if let Some(r) = self.record.as_mut() {
                r.figures.insert("cold_start_ms".into(), times.clone());
            }
            self.save_record();
            self.emit(Event::TargetFigures {
                target: t.name.clone(),
                cold_start_ms: times,
                idle_pss_mb,
            });
        }
        Ok(())
    }

    fn target_failed(
        &mut self,
        t: &TargetInfo,
        cells: &[PlannedCell],
        f: TargetFailure,
        stage: &str,
    ) -> Result<(), Stopped> {
        if self.stop.is_set() {
            return Err(Stopped);
        }
        let f = TargetFailure {
            reason: format!("{stage}: {}", f.reason),
            stderr_tail: f.stderr_tail,
        };
        if let Some(r) = self.record.as_mut() {
            r.failure = Some(f.reason.clone());
            r.stderr_tail = f.stderr_tail.clone();
        }
        self.save_record();
        self.emit(Event::TargetFailed {
            target: t.name.clone(),
            stage: stage.to_string(),
            reason: f.full(),
        });
        self.fail_cells(t, cells, &f)
    }

    /// Waits (bounded) until the lab's own processes leave the server CPUs before a repeat is
    /// measured; `None` where it cannot tell (no server sampled, shared or unknown CPUs).
    fn settle(&mut self) -> Option<crate::cpuload::Settled> {
        let (client, server) = (&self.opts.client_cpus, &self.opts.server_cpus);
        if !self.host.samples_server()
            || server.is_empty()
            || client.is_empty()
            || client.iter().any(|c| server.contains(c))
        {
            return None;
        }
        let targets: BTreeSet<String> = self
            .host
            .targets()
            .ok()?
            .into_iter()
            .map(|t| t.name)
            .collect();
        let stop = self.stop;
        Some(crate::cpuload::settle(
            crate::cpuload::SETTLE_STEP,
            crate::cpuload::SETTLE_BOUND,
            crate::cpuload::SETTLE_QUIET,
            &mut |step| crate::culprits::lab_busy_over(step, server, &targets),
            &|| stop.is_set(),
        ))
    }

    fn sleep(&self, d: Duration) -> Result<(), Stopped> {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.stop.is_set() {
                return Err(Stopped);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Measures repeat `round` of a cell on the target's server, kept up between rounds: (re)started
    /// when there is none, when the workload has its own start command or needs a fresh server
    /// (then before every repeat, and stopped after it). A repeat over the noise limits
    /// ([`noise_reasons`]) is measured again within the retry budgets, saying so in the cell's
    /// notes; once they are spent it is kept and the cell is marked noisy. `Ok(false)`: a service
    /// had ended (the caller restarts every server, they know its old URL).
    #[allow(clippy::too_many_arguments)]
    fn measure_round(
        &mut self,
        t: &TargetInfo,
        w: &dyn Workload,
        kinds: &[ServiceKind],
        server: &mut Option<Box<dyn Server>>,
        server_for: &mut Option<String>,
        round: u32,
        repeats: u32,
        p: &mut CellProgress,
        budget: &mut RetryBudget,
    ) -> Result<bool, Stopped> {
        let t0 = Instant::now();
        if !p.started {
            p.started = true;
            self.emit(Event::CellStarted {
                target: t.name.clone(),
                workload: w.id().to_string(),
                repeats,
                eta_s: w.estimate_repeats(&self.opts.timing, repeats).as_secs_f64(),
            });
        }
        // A service that ended is restarted, and the servers with it (they know the old URL).
        let services_ok = !self.drop_dead_services();
        if !services_ok {
            if let Some(s) = server.take() {
                s.stop();
            }
        }
        if let Err(f) = self.ensure_services(kinds) {
            p.failure = Some((f.full(), false));
            return Ok(services_ok);
        }
        let own = self.host.own_start(&t.name, w.id());
        let want = own.then(|| w.id().to_string());
        // This repeat's noise re-measurements (for its repeat_done event).
        let retries_before = p.retries;
        loop {
            // A dead default server, a cell with its own start command, or one that needs a
            // server no other load has touched: (re)start.
            if server.is_none() || w.fresh_server() || *server_for != want {
                if let Some(s) = server.take() {
                    s.stop();
                }
                *server_for = None;
                match self.start_server(&t.name, &self.start_opts(&t.name, want.as_deref())) {
                    Ok(s) => {
                        *server = Some(s);
                        *server_for = want.clone();
                    }
                    Err(f) => {
                        p.failure = Some((
                            if round == 0 {
                                f.full()
                            } else {
                                format!("restarting for repeat {}: {}", round + 1, f.full())
                            },
                            false,
                        ));
                        break;
                    }
                }
            }
            // Every repeat of a database cell starts from the same rows: in the interleaved order
            // other targets' repeats (which write: `updates`, `crud`) run between this target's
            // repeats, so the database is reset before each repeat and each noise retry, not only
            // before the cell's first repeat.
            if server.is_some() {
                if let Err(f) = self.reset_database(w) {
                    p.failure = Some((f.full(), false));
                    break;
                }
            }
            // The server CPUs quiet before the measurement: a previous target may still be
            // working off its backlog (crate::cpuload::settle).
            let settled = if server.is_some() {
                self.settle()
            } else {
                None
            };
            let Some(srv) = server.as_mut() else {
                break;
            };
            let srv = srv.as_mut();
            let base_url = srv.base_url();
            let on = &mut *self.on;
            let mut live = |progress: Progress| {
                on(Event::Progress {
                    target: Some(t.name.clone()),
                    workload: Some(w.id().to_string()),
                    repeat: Some(round + 1),
                    repeats: Some(repeats),
                    progress,
                })
            };
            let mut cx = CellContext {
                target: &t.name,
                base_url,
                timing: &self.opts.timing,
                client_cpus: &self.opts.client_cpus,
                server_cpus: &self.opts.server_cpus,
                meter: srv,
                services: self.services,
                stop: self.stop,
                anchors: self.anchors,
                live: &mut live,
            };
            let result = w.measure(&mut cx);
            if w.fresh_server() {
                if let Some(s) = server.take() {
                    s.stop();
                }
                *server_for = None;
            }
            match result {
                Ok(m) => {
                    let noise = noise_reasons(&m);
                    if noise.is_empty() {
                        self.emit(repeat_done(
                            t,
                            w,
                            round,
                            repeats,
                            &m,
                            p.retries - retries_before,
                            false,
                            p.extra_round,
                            settled.as_ref(),
                        ));
                        p.measured.push(m);
                        break;
                    }
                    let refusal = budget.retry_refusal(
                        p.retries,
                        budget.started.elapsed(),
                        repeat_estimate(w, self.opts),
                    );
                    if refusal.is_none() {
                        p.retries += 1;
                        budget.left -= 1;
                        // Each cause on its own line: steal and other processes differ.
                        for n in &noise {
                            let note = format!(
                                "repeat {} re-measured: {n} (retry {} of {} for this cell, {} of {} for the run)",
                                round + 1,
                                p.retries,
                                workloads::trust::NOISE_RETRIES_PER_CELL,
                                budget.total - budget.left,
                                budget.total
                            );
                            self.emit(Event::Warning {
                                code: WarningCode::NoiseRetry,
                                message: note.clone(),
                                target: Some(t.name.clone()),
                                workload: Some(w.id().to_string()),
                            });
                            p.notes.push(note);
                        }
                        if self.stop.is_set() {
                            return Err(Stopped);
                        }
                        continue;
                    }
                    let why = refusal.unwrap_or_default();
                    if why == "the run's time budget is spent" && !budget.warned {
                        budget.warned = true;
                        self.emit(Event::Warning {
                            code: WarningCode::BudgetSpent,
                            message: format!(
                                "no more re-measurements or extra repeats: they would take the run past its {} limit; noisy repeats are kept and flagged ({BUDGET_ADVICE})",
                                reports_eta(budget.limit)
                            ),
                            target: Some(t.name.clone()),
                            workload: Some(w.id().to_string()),
                        });
                    }
                    p.noisy.push(format!(
                        "repeat {}: {} ({why})",
                        round + 1,
                        noise.join("; ")
                    ));
                    self.emit(repeat_done(
                        t,
                        w,
                        round,
                        repeats,
                        &m,
                        p.retries - retries_before,
                        true,
                        p.extra_round,
                        settled.as_ref(),
                    ));
                    p.measured.push(m);
                    break;
                }
                Err(MeasureError::Interrupted) => return Err(Stopped),
                Err(MeasureError::ServerDied(tail)) => {
                    p.failure = Some((format!("the server died during the measurement\n--- last lines of stderr ---\n{}", tail.trim_end()), true));
                    if let Some(s) = server.take() {
                        s.stop();
                    }
                    *server_for = None;
                    break;
                }
                Err(MeasureError::Failed(e)) => {
                    p.failure = Some((e, false));
                    break;
                }
            }
        }
        p.elapsed += t0.elapsed();
        if self.stop.is_set() {
            return Err(Stopped);
        }
        Ok(services_ok)
    }

    /// Stores a cell once its last repeat is measured (or it failed): summarised by the trust
    /// rules, with the noise rule's notes.
    fn finish_cell(
        &mut self,
        t: &TargetInfo,
        w: &dyn Workload,
        p: &mut CellProgress,
    ) -> Result<(), Stopped> {
        p.done = true;
        if let Some(note) = p.extras_note(w) {
            p.notes.push(note);
        }
        let measured = std::mem::take(&mut p.measured);
        let n = measured.len();
        let mut rec = summarise(&t.name, w, &self.opts.timing, measured);
        rec.warnings.append(&mut p.notes);
        if !p.noisy.is_empty() {
            rec.warnings.push(format!(
                "{} {} of {n} repeats stayed noisy after {} re-measurement{}: {}; verdicts comparing this cell are held back",
                workloads::trust::NOISY_CELL_PREFIX,
                p.noisy.len(),
                p.retries,
                if p.retries == 1 { "" } else { "s" },
                p.noisy.join(" | ")
            ));
        }
        if let Some((reason, _)) = p.failure.take() {
            rec.status = CellStatus::Failed(reason);
        }
        rec.elapsed_s = Some(p.elapsed.as_secs_f64());
        if !self.host.samples_server() {
            crate::remote::strip_server_side(&mut rec);
        }
        if w.kind() == Kind::Saturation {
            if let Some(s) = clean_spread(&rec.repeats, |r| r.metric("throughput_rps")) {
                self.anchors.insert(w.id().to_string(), s.median);
            }
        }
        self.save_cell(&rec)?;
        self.emit(Event::CellDone {
            target: t.name.clone(),
            workload: w.id().to_string(),
            status: status_of(&rec.status),
            failed_with: None,
            summary: cell_summary(&rec),
        });
        Ok(())
    }
}

/// A duration as the plan prints it ("43m45s").
fn reports_eta(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Stores what a run could not measure and says it: a failed cell (`cell`: a target or
/// service that failed it, a cell of a resumed run no longer measurable) or, without one, a note
/// of the run (what the host skips, a start note); then the warning (`code`, `message`). The
/// error names what could not be stored.
#[allow(clippy::too_many_arguments)]
fn store_and_warn(
    store: &mut Store,
    run_id: i64,
    on: &mut dyn FnMut(Event),
    cell: Option<&CellRecord>,
    code: WarningCode,
    message: String,
    target: Option<&str>,
    workload: Option<&str>,
) -> Result<(), String> {
    match cell {
        Some(c) => store
            .save_cell(run_id, c)
            .map_err(|e| format!("could not store cell {}/{}: {e}", c.target, c.workload))?,
        None => store
            .add_run_warning(run_id, &message)
            .map_err(|e| format!("could not store a note of the run: {e}"))?,
    }
    on(Event::Warning {
        code,
        message,
        target: target.map(str::to_string),
        workload: workload.map(str::to_string),
    });
    Ok(())
}

/// A failed cell's record; `workload` may be one this lab no longer knows (a resumed run's).
fn failed_cell(target: &str, workload: &str, timing: &Timing, reason: String) -> CellRecord {
    let w = workload::by_id(workload);
    CellRecord {
        target: target.to_string(),
        workload: workload.to_string(),
        params: w.as_ref().map(|w| w.params(timing)).unwrap_or_default(),
        status: CellStatus::Failed(reason),
        warnings: vec![],
        lower_bound: false,
        slo_p99_ms: w
            .as_ref()
            .filter(|w| w.kind() == Kind::Capacity)
            .map(|_| timing.slo_p99_ms),
        capacity_rps: None,
        ladder: vec![],
        repeats: vec![],
        elapsed_s: None,
    }
}

fn clean_spread(repeats: &[RepeatRecord], f: fn(&RepeatRecord) -> Option<f64>) -> Option<Spread> {
    Spread::of(
        &repeats
            .iter()
            .filter(|r| r.clean)
            .filter_map(f)
            .collect::<Vec<_>>(),
    )
}

/// A cell's record from its measured repeats, by the trust rules: errors flag the cell and keep
/// the repeat out of the figures; repeats that spread over 10% and steal over 2% are warned about;
/// a busy engine or upstream makes the figure a lower bound.
pub fn summarise(
    target: &str,
    w: &dyn Workload,
    timing: &Timing,
    measured: Vec<Measured>,
) -> CellRecord {
    let mut warnings: Vec<String> = Vec::new();
    let mut push = |w: String| {
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    };
    let n = measured.len();
    let bad: Vec<usize> = (0..n).filter(|&i| measured[i].errors > 0).collect();
    // Per-repeat warnings, with the noise ones (lower bound, other processes) summarised once.
    let mut lower_bound = Vec::new();
    let mut foreign = Vec::new();
    for m in &measured {
        for w in &m.warnings {
            if w.starts_with("lower bound") {
                lower_bound.push(w.clone());
            } else if w.starts_with("other processes") {
                foreign.push(w.clone());
            } else {
                push(w.clone());
            }
        }
    }
    for (list, what) in [(lower_bound, "lower bound"), (foreign, "noise")] {
        match list.len() {
            0 => {}
            1 => push(list[0].clone()),
            k => push(format!("{what} in {k} of {n} repeats; e.g. {}", list[0])),
        }
    }
    // One search is one repeat of a capacity cell: its capacity is a figure of the repeat (a
    // row), so the cell shows the median and spread over its clean searches and the claims'
    // interval pairs every search of one target with every search of the other.
    let repeats: Vec<RepeatRecord> = measured
        .iter()
        .map(|m| {
            let mut r = m.repeat.clone();
            if r.metric("capacity_rps").is_none() {
                r.set("capacity_rps", m.capacity_rps);
            }
            r
        })
        .collect();
    for (what, f) in [
        (
            "req/s",
            (|r: &RepeatRecord| r.metric("throughput_rps")) as fn(&RepeatRecord) -> Option<f64>,
        ),
        ("capacity req/s", |r| r.metric("capacity_rps")),
        ("p99", |r| r.metric("p99_ms")),
        ("server CPU µs/req", |r| r.metric("server_cpu_us_per_req")),
    ] {
        if let Some(s) = clean_spread(&repeats, f) {
            if let Some(w) = stats::spread_warning(what, &s) {
                push(w);
            }
        }
    }
    let status = if bad.is_empty() {
        CellStatus::Ok
    } else {
        let total: u64 = measured.iter().map(|m| m.errors).sum();
        CellStatus::Flagged(format!(
            "{total} errors or wrong answers in {} of {n} repeats; {}",
            bad.len(),
            if bad.len() == n {
                "figures shown are of flagged repeats".to_string()
            } else {
                "those repeats are left out of the figures".to_string()
            }
        ))
    };
    let capacities: Vec<f64> = measured
        .iter()
        .filter(|m| m.errors == 0)
        .filter_map(|m| m.capacity_rps)
        .collect();
    let capacity = Spread::of(&capacities).map(|s| s.median);
    let mut params = w.params(timing);
    // Several searches: the cell's ladder is the one of the search whose capacity is the cell's
    // (the median; the lower middle one of an even count), so that a reader of the ladder (the
    // adviser's pricing, the reports' curves) reads the same search as the figure; every search's
    // rungs stay in its repeat's report.
    let median_search = (w.kind() == Kind::Capacity && n > 1)
        .then(|| {
            let c = capacity?;
            measured
                .iter()
                .enumerate()
                .filter(|(_, m)| m.errors == 0)
                .filter_map(|(i, m)| Some((i, m.capacity_rps?)))
                .filter(|(_, v)| *v <= c)
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(i, _)| i)
        })
        .flatten();
    if w.kind() == Kind::Capacity {
        params.insert("searches".into(), n.to_string());
    }
    let ladder = match median_search {
        Some(i) => {
            params.insert(
                "ladder".into(),
                format!("search {} of {n}, the median capacity", i + 1),
            );
            measured[i].ladder.clone()
        }
        None => measured.iter().flat_map(|m| m.ladder.clone()).collect(),
    };
    CellRecord {
        target: target.to_string(),
        workload: w.id().to_string(),
        params,
        status,
        warnings,
        lower_bound: measured.iter().any(|m| m.lower_bound),
        slo_p99_ms: (w.kind() == Kind::Capacity).then_some(timing.slo_p99_ms),
        capacity_rps: capacity,
        ladder,
        repeats,
        elapsed_s: None,
    }
}

/// A progress event of a target's own step (idle memory, conformance, cold starts).
fn target_progress(t: &TargetInfo, progress: Progress) -> Event {
    Event::Progress {
        target: Some(t.name.clone()),
        workload: None,
        repeat: None,
        repeats: None,
        progress,
    }
}

/// A kept repeat, with its figures by metric id and how far it can be trusted (`extra`: an extra
/// repeat).
#[allow(clippy::too_many_arguments)]
fn repeat_done(
    t: &TargetInfo,
    w: &dyn Workload,
    round: u32,
    repeats: u32,
    m: &Measured,
    retried: u32,
    noisy: bool,
    extra: bool,
    settled: Option<&crate::cpuload::Settled>,
) -> Event {
    let waited = settled.filter(|s| !s.waited.is_zero());
    let samples: serde_json::Value =
        serde_json::from_str(&m.repeat.samples_json).unwrap_or_default();
    let windows: Vec<&serde_json::Value> = match &samples {
        serde_json::Value::Array(v) => v.iter().collect(),
        v => vec![v],
    };
    let worst = |key: &str| {
        windows
            .iter()
            .filter_map(|v| v[key].as_f64())
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
    };
    let steal_pct = match (m.repeat.steal_pct, worst("steal_pct")) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    Event::RepeatDone {
        target: t.name.clone(),
        workload: w.id().to_string(),
        repeat: round + 1,
        repeats,
        figures: m.repeat.metrics.clone(),
        trust: RepeatTrust {
            clean: m.repeat.clean,
            errors: m.errors,
            steal_pct,
            other_processes: worst("server_cpus_foreign"),
            other_processes_by: server_cpus_by(&windows),
            waited_s: waited.map(|s| s.waited.as_secs_f64()),
            waited_for: waited.and_then(|s| s.busy_with.clone()),
            noisy,
            retried,
            lower_bound: m.lower_bound,
        },
        extra,
    }
}

fn status_of(s: &CellStatus) -> Status {
    match s {
        CellStatus::Ok => Status::Ok,
        CellStatus::Flagged(r) => Status::Flagged(r.clone()),
        CellStatus::Failed(r) => Status::Failed(r.clone()),
    }
}

/// A stored cell's summary figures, by the registry's rule for each metric: over the clean
/// repeats (every repeat when none is clean), or over every repeat.
pub fn cell_summary(c: &CellRecord) -> CellSummary {
    let any_clean = c.repeats.iter().any(|r| r.clean);
    let ids: BTreeSet<&String> = c.repeats.iter().flat_map(|r| r.metrics.keys()).collect();
    let figures = ids
        .into_iter()
        .filter_map(|id| {
            let all = workloads::registry()
                .metric(id)
                .is_some_and(|m| m.over == workloads::Over::AllRepeats);
            let values: Vec<f64> = c
                .repeats
                .iter()
                .filter(|r| all || !any_clean || r.clean)
                .filter_map(|r| r.metric(id))
                .collect();
            let s = Spread::of(&values)?;
            Some((
                id.clone(),
                Figure {
                    median: s.median,
                    min: s.min,
                    max: s.max,
                    n: s.values.len(),
                },
            ))
        })
        .collect();
    CellSummary {
        figures,
        capacity_rps: c.capacity_rps,
        slo_p99_ms: c.slo_p99_ms,
        ladder_p99_ms: c.ladder.iter().map(|p| p.p99_ms).collect(),
        lower_bound: c.lower_bound,
        warnings: c.warnings.clone(),
        elapsed_s: c.elapsed_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repeat(rps: f64, errors: u64, warnings: &[&str]) -> Measured {
        Measured {
            repeat: RepeatRecord {
                clean: errors == 0,
                ..RepeatRecord::default()
            }
            .with(&[("throughput_rps", Some(rps)), ("p99_ms", Some(2.0))]),
            errors,
            warnings: warnings.iter().map(|w| w.to_string()).collect(),
            lower_bound: warnings.iter().any(|w| w.starts_with("lower bound")),
            ..Measured::default()
        }
    }

    #[test]
    fn a_repeat_with_errors_flags_the_cell_and_spread_is_warned() {
        let w = workload::by_id("json").unwrap();
        let t = Timing::full();
        let rec = summarise(
            "x",
            w.as_ref(),
            &t,
            vec![
                repeat(1000.0, 0, &["lower bound: a"]),
                repeat(10.0, 7, &[]),
                repeat(1200.0, 0, &["lower bound: b"]),
            ],
        );
        match &rec.status {
            CellStatus::Flagged(r) => {
                assert!(
                    r.starts_with("7 errors or wrong answers in 1 of 3 repeats"),
                    "{r}"
                );
                assert!(r.contains("left out"), "{r}");
            }
            s => panic!("{s:?}"),
        }
        // The spread is over the clean repeats only (1000, 1200: 18%), not the flagged one.
        assert!(
            rec.warnings
                .iter()
                .any(|w| w.starts_with("req/s: repeats spread 18%")),
            "{:?}",
            rec.warnings
        );
        assert!(rec.lower_bound);
        assert!(
            rec.warnings
                .iter()
                .any(|w| w.starts_with("lower bound in 2 of 3 repeats")),
            "{:?}",
            rec.warnings
        );
        assert_eq!(rec.params["connections"], "64");
    }

    #[test]
    fn clean_tight_repeats_are_ok_without_warnings() {
        let w = workload::by_id("cpu").unwrap();
        let rec = summarise(
            "x",
            w.as_ref(),
            &Timing::full(),
            vec![
                repeat(100.0, 0, &[]),
                repeat(104.0, 0, &[]),
                repeat(101.0, 0, &[]),
            ],
        );
        assert_eq!(rec.status, CellStatus::Ok);
        assert!(rec.warnings.is_empty(), "{:?}", rec.warnings);
        let s = cell_summary(&rec);
        assert_eq!(
            s.figures["throughput_rps"],
            Figure {
                median: 101.0,
                min: 100.0,
                max: 104.0,
                n: 3
            }
        );
    }

    #[test]
    fn summary_figures_follow_the_registry_rule_for_each_metric() {
        let w = workload::by_id("json").unwrap();
        let mut flagged = repeat(10.0, 5, &[]);
        flagged.repeat.set("connections_held", Some(7.0));
        let mut clean = repeat(1000.0, 0, &[]);
        clean.repeat.set("connections_held", Some(9.0));
        let rec = summarise("x", w.as_ref(), &Timing::full(), vec![flagged, clean]);
        let s = cell_summary(&rec);
        // Over the clean repeats…
        assert_eq!(s.figures["throughput_rps"].n, 1);
        assert_eq!(s.figures["throughput_rps"].median, 1000.0);
        // …or over every repeat, as the registry says.
        assert_eq!(s.figures["connections_held"].n, 2);
        assert_eq!(s.figures["connections_held"].min, 7.0);
    }

    fn valid() -> SuiteOptions {
        SuiteOptions {
            targets: vec![],
            workloads: vec!["json".into()],
            repeats: 3,
            timing: Timing::quick(),
            quick: true,
            cold_starts: 3,
            server_cpus: vec![1],
            client_cpus: vec![0],
            workers: BTreeMap::new(),
        }
    }

    #[test]
    fn validate_names_the_field_that_is_wrong() {
        assert_eq!(valid().validate(), Ok(()));
        let field = |o: SuiteOptions| match o.validate() {
            Err(SuiteError::Invalid { field, .. }) => field,
            r => panic!("{r:?}"),
        };
        let mut o = valid();
        o.workloads.push("nope".into());
        assert_eq!(field(o), Field::Workloads);
        let mut o = valid();
        o.repeats = 0;
        assert_eq!(field(o), Field::Repeats);
        let mut o = valid();
        o.cold_starts = 101;
        assert_eq!(field(o), Field::ColdStarts);
        let mut o = valid();
        o.timing.duration = Duration::ZERO;
        assert_eq!(field(o), Field::Duration);
        let mut o = valid();
        o.timing.rung = Duration::from_secs(7200);
        assert_eq!(field(o), Field::Rung);
        let mut o = valid();
        o.timing.slo_p99_ms = f64::NAN;
        assert_eq!(field(o), Field::SloP99);
        let mut o = valid();
        o.timing.ws_connections = 0;
        assert_eq!(field(o), Field::WsConnections);
        let mut o = valid();
        o.workers.insert("a".into(), 0);
        assert_eq!(field(o), Field::Workers);
        let e = SuiteError::Invalid {
            field: Field::Repeats,
            message: "must be 1 to 100 (got 0)".into(),
        };
        assert_eq!(e.to_string(), "repeats: must be 1 to 100 (got 0)");
    }

    #[test]
    fn noise_reasons_keep_steal_and_other_processes_apart() {
        let mut m = repeat(1000.0, 0, &[]);
        assert!(noise_reasons(&m).is_empty());
        // Quiet by both measures, at the limits.
        m.repeat.steal_pct = Some(2.0);
        m.repeat.samples_json = r#"{"server_cpus_foreign":0.10}"#.into();
        assert!(noise_reasons(&m).is_empty());
        // One window with foreign load only.
        m.repeat.samples_json = r#"{"server_cpus_foreign":0.38,"steal_pct":0.5}"#.into();
        assert_eq!(
            noise_reasons(&m),
            ["other processes used 38% of the server CPUs (> 10%)"]
        );
        // A capacity search's rungs: the worst of each, each its own reason.
        m.repeat.steal_pct = Some(1.0);
        m.repeat.samples_json =
            r#"[{"server_cpus_foreign":0.02,"steal_pct":31.6},{"server_cpus_foreign":0.2,"steal_pct":3}]"#
                .into();
        assert_eq!(
            noise_reasons(&m),
            [
                "steal 31.6% of CPU time (> 2%)",
                "other processes used 20% of the server CPUs (> 10%)"
            ]
        );
        // The host named who they were: the worst window's breakdown is in the reason.
        m.repeat.steal_pct = None;
        m.repeat.samples_json = r#"[{"server_cpus_foreign":0.02,"server_cpus_by":{"other_targets":0.0,"lab_services":0.0,"lab_itself":0.0,"machine":0.02}},
            {"server_cpus_foreign":0.14,"server_cpus_by":{"other_targets":0.09,"other_targets_by":[{"name":"python-django","share":0.09}],"lab_services":0.0,"lab_itself":0.01,"lab_itself_by":[{"name":"pss-sampler","share":0.01}],"machine":0.03,"machine_top":[{"name":"rustc","share":0.03}]}}]"#
            .into();
        assert_eq!(
            noise_reasons(&m),
            ["other processes used 14% of the server CPUs (> 10%): the lab's other targets 9.0% (python-django 9.0%); other processes on this machine 3.0% (rustc 3.0%); the lab's own threads 1.0% (pss-sampler 1.0%)"]
        );
    }

    #[test]
    fn top_up_picks_the_cells_over_the_limit_widest_first_within_the_cap() {
        // (spread, extra repeats so far)
        let cells = [
            (Some(0.18), 0), // wide
            (Some(0.05), 0), // within the limit
            (Some(0.40), 1), // widest, one extra so far
            (None, 0),       // no spread (one clean repeat)
            (Some(0.30), 2), // at the cap
            (Some(0.10), 0), // at the limit: not over it
        ];
        assert_eq!(top_up_order(&cells, 2), [2, 0]);
        assert_eq!(top_up_order(&cells, 1), [0], "the cap counts per cell");
        assert!(top_up_order(&cells, 0).is_empty(), "opted out");
        // Ties keep the plan's order.
        assert_eq!(top_up_order(&[(Some(0.2), 0), (Some(0.2), 0)], 2), [0, 1]);
    }

    #[test]
    fn quick_and_one_repeat_runs_plan_no_extra_repeats() {
        let json = workload::by_id("json").unwrap();
        let mut o = valid();
        o.quick = false;
        assert_eq!(
            extra_repeats_cap(json.as_ref(), &o),
            workloads::trust::EXTRA_REPEATS_PER_CELL
        );
        o.quick = true;
        assert_eq!(extra_repeats_cap(json.as_ref(), &o), 0, "--quick");
        o.quick = false;
        o.repeats = 1;
        assert_eq!(extra_repeats_cap(json.as_ref(), &o), 0, "one repeat");
        // Opted out in the registry: ws-hold restarts its server per repeat, mixed is context.
        o.repeats = 3;
        for id in ["ws-hold", "mixed"] {
            assert_eq!(
                extra_repeats_cap(workload::by_id(id).unwrap().as_ref(), &o),
                0,
                "{id}"
            );
        }
        assert_eq!(
            extra_repeats_cap(workload::by_id("io-slo").unwrap().as_ref(), &o),
            workloads::trust::EXTRA_REPEATS_PER_CELL,
            "capacity searches get extra searches like every other cell"
        );
    }

    #[test]
    fn a_retry_past_the_time_budget_is_refused() {
        let min = |m: u64| Duration::from_secs(m * 60);
        let budget = RetryBudget {
            left: 10,
            total: 10,
            limit: min(45),
            started: Instant::now(),
            planned_left: min(10),
            warned: false,
        };
        let cost = min(1);
        // 30 min in, 10 planned left, 1 for the retry: 41 ≤ 45.
        assert_eq!(budget.retry_refusal(0, min(30), cost), None);
        // 35 min in: 46 > 45.
        assert_eq!(
            budget.retry_refusal(0, min(35), cost),
            Some("the run's time budget is spent")
        );
        // The count budgets come first.
        assert_eq!(
            budget.retry_refusal(workloads::trust::NOISE_RETRIES_PER_CELL, min(0), cost),
            Some("the cell's retries are spent")
        );
        let spent = RetryBudget { left: 0, ..budget };
        assert_eq!(
            spent.retry_refusal(0, min(0), cost),
            Some("the run's retries are spent")
        );
        assert!(spent.time_allows(min(34), cost) && !spent.time_allows(min(35), cost));
    }

    #[test]
    fn the_extras_note_says_the_spread_before_and_after() {
        let w = workload::by_id("json").unwrap();
        let mut p = CellProgress {
            measured: vec![
                repeat(100.0, 0, &[]),
                repeat(104.0, 0, &[]),
                repeat(102.0, 0, &[]),
                repeat(101.0, 0, &[]),
            ],
            extras: 1,
            spread_before: Some(0.18),
            ..CellProgress::default()
        };
        assert_eq!(
            p.extras_note(w.as_ref()).unwrap(),
            "1 extra repeat: spread 18% → 4%"
        );
        p.measured.push(repeat(130.0, 0, &[]));
        p.extras = 2;
        p.extras_stopped = Some("the run's time budget is spent");
        assert_eq!(
            p.extras_note(w.as_ref()).unwrap(),
            "2 extra repeats: spread 18% → 29%, still over 10% (the run's time budget is spent)"
        );
        p.spread_before = None;
        assert_eq!(p.extras_note(w.as_ref()), None, "never wide: no note");
    }

    #[test]
    fn settings_round_trip_for_resume() {
        let opts = SuiteOptions {
            targets: vec!["a".into(), "b".into()],
            workloads: vec!["json".into(), "io-slo".into()],
            repeats: 3,
            timing: Timing::quick(),
            quick: true,
            cold_starts: 3,
            server_cpus: vec![1],
            client_cpus: vec![0],
            workers: BTreeMap::from([("a".into(), 4)]),
        };
        assert_eq!(
            SuiteOptions::from_settings(&opts.to_settings()).unwrap(),
            opts
        );
        // ws-hold's connection count round-trips; runs stored before it existed get the default.
        let mut small = opts.clone();
        small.timing.ws_connections = 200;
        assert_eq!(
            SuiteOptions::from_settings(&small.to_settings()).unwrap(),
            small
        );
        let mut older = small.to_settings();
        older.remove("ws_connections");
        assert_eq!(
            SuiteOptions::from_settings(&older)
                .unwrap()
                .timing
                .ws_connections,
            workload::ws_hold::CONNECTIONS
        );
        let mut broken = opts.to_settings();
        broken.remove("repeats");
        assert!(SuiteOptions::from_settings(&broken)
            .unwrap_err()
            .to_string()
            .contains("repeats"));
        let mut bad = opts.to_settings();
        bad.insert("cold_starts".into(), "many".into());
        let e = SuiteOptions::from_settings(&bad).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("cold_starts"), "{e}");
        assert!(e.to_string().contains("'many'"), "{e}");
    }

    /// A run stored by an older version (its settings as the store's fixtures hold them: text
    /// values, other keys beside, no `ws_connections`) still resumes.
    #[test]
    fn an_old_runs_settings_still_resume() {
        let old: BTreeMap<String, String> = [
            ("targets", "node-http,python-fastapi"),
            ("workloads", "json,io-slo"),
            ("repeats", "3"),
            ("quick", "false"),
            ("cold_starts", "5"),
            ("duration_s", "10"),
            ("warmup_s", "2"),
            ("rung_s", "3"),
            ("rung_warmup_s", "1"),
            ("max_rungs", "12"),
            ("slo_p99_ms", "100"),
            ("idle_settle_s", "1.5"),
            ("server_cpus", "1"),
            ("client_cpus", "0"),
            ("workers", "python-fastapi=4"),
            ("origin.tool", "stackwise"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let o = SuiteOptions::from_settings(&old).unwrap();
        assert_eq!(o.targets, ["node-http", "python-fastapi"]);
        assert_eq!(o.workloads, ["json", "io-slo"]);
        assert_eq!((o.repeats, o.quick, o.cold_starts), (3, false, 5));
        assert_eq!(o.timing.duration, Duration::from_secs(10));
        assert_eq!(o.timing.idle_settle, Duration::from_millis(1500));
        assert_eq!(o.timing.max_rungs, 12);
        assert_eq!(o.timing.slo_p99_ms, 100.0);
        assert_eq!(o.timing.ws_connections, workload::ws_hold::CONNECTIONS);
        assert_eq!((o.server_cpus, o.client_cpus), (vec![1], vec![0]));
        assert_eq!(o.workers, BTreeMap::from([("python-fastapi".into(), 4)]));
        // What this version stores is what it always stored: the same keys, text values.
        let mut back = SuiteOptions::from_settings(&old).unwrap().to_settings();
        back.remove("ws_connections");
        let mut old_keys = old.clone();
        old_keys.remove("origin.tool");
        assert_eq!(back, old_keys);
        // The runs of the store's v3 fixture (written by an older stackwise).
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../store/tests/fixtures/v3-store.expected.json"
        );
        let runs: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut read = 0;
        for r in runs.iter().filter(|r| r["run"]["settings"].is_object()) {
            read += 1;
            let settings: BTreeMap<String, String> =
                serde_json::from_value(r["run"]["settings"].clone()).unwrap();
            let o = SuiteOptions::from_settings(&settings).unwrap();
            assert!(!o.workloads.is_empty() && o.repeats >= 1);
            // Read back exactly: storing the options again gives the run's own values.
            for (k, v) in o.to_settings() {
                if k != "ws_connections" {
                    assert_eq!(settings.get(&k), Some(&v), "{k}");
                }
            }
        }
        assert!(read >= 1, "no run with settings in {path}");
    }
}
