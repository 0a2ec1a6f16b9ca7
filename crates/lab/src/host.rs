//! The real [`Host`] of the suite, over the lab's core modules: manifests ([`crate::manifest`]),
//! install and footprint ([`crate::install`]), launching a target pinned to the server CPUs in its
//! own process group ([`crate::launch`], [`crate::process`]), sampling its process tree
//! ([`crate::sample`]: CPU including exited workers, PSS, steal), the upstream service
//! ([`crate::services`]), the run's PostgreSQL ([`crate::postgres::RunDatabase`]: the lab's own
//! cluster, or the user's `--database-url`) and the conformance checker ([`crate::check`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::launch::{self, LaunchOptions, Launched};
use crate::manifest::{Target, TargetsDir};
use crate::postgres::{Database, RunDatabase};
use crate::sample::ProcessTree;
use crate::sample::{BusyMeter, Sampler, StealMeter, WindowStart};
use crate::services::{Service, Upstream, UpstreamSpec};
use crate::suite::{Host, Installed, Server, StartOptions, TargetFailure, TargetInfo};
use crate::workload::{Gone, ServerMeter, ServerUsage, ServiceHandle, ServiceKind};

/// How often the server's PSS is sampled during a measuring window (only then: see
/// [`Sampler`]).
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// How long a server gets to stop before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The longest an install step may take.
const INSTALL_STEP_TIMEOUT: Duration = Duration::from_secs(900);
/// Lines of stderr kept with a failure.
const TAIL: usize = 20;

const MIB: f64 = 1024.0 * 1024.0;

/// The lab's targets folder and the stackwise binary that runs the upstream.
pub struct LabHost {
    dir: TargetsDir,
    targets: Vec<Target>,
    upstream_exe: PathBuf,
    /// The upstream the suite started, for the conformance check (it counts upstream calls).
    upstream: Mutex<Option<Arc<Mutex<Upstream>>>>,
    /// `--database-url`: the user's database instead of the lab's cluster.
    database_url: Option<String>,
    /// The database the suite started, for the conformance check (query counts, rows).
    database: Mutex<Option<Database>>,
}

/// Why the lab's host cannot be made (or list its targets): the targets folder, a manifest
/// (naming its file, line and field), or this binary.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error(transparent)]
    TargetsDir(#[from] crate::manifest::TargetsDirError),
    #[error(transparent)]
    Manifest(#[from] crate::manifest::ManifestError),
    #[error("cannot find the stackwise binary: {0}")]
    Exe(std::io::Error),
}

/// Why a service ([`Host::start_service`]) did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The upstream service.
    #[error(transparent)]
    Upstream(#[from] crate::process::StartError),
    /// The run's database (the lab's cluster, or a refused `--database-url`).
    #[error(transparent)]
    Database(#[from] crate::postgres::RunDatabaseError),
    /// A remote target's host starts no service.
    #[error("the {0:?} service is not started for a remote target (its workloads are skipped)")]
    Remote(ServiceKind),
}

/// The host for `targets/` found from the current directory or the binary's location.
pub fn default_host() -> Result<Box<dyn Host>, HostError> {
    lab_host(None)
}

/// [`default_host`] with `--database-url` (the user's database for the database workloads).
pub fn lab_host(database_url: Option<String>) -> Result<Box<dyn Host>, HostError> {
    let dir = TargetsDir::discover(None)?;
    Ok(Box::new(LabHost::new(dir)?.with_database_url(database_url)))
}

/// Runs `handler` on Ctrl-C after stopping every target, install step and service this process
/// started (their process groups), so nothing is left behind even while the runner is busy.
pub fn on_interrupt(handler: Box<dyn Fn() + Send + 'static>) -> Result<(), ctrlc::Error> {
    crate::process::install_panic_hook();
    ctrlc::set_handler(move || {
        handler();
        crate::process::kill_all(Duration::from_secs(2));
    })
}

/// File descriptors a server process (and the upstream) may need: `ws-hold`'s 10,000 connections,
/// or `io-wait`'s 3,000 client connections plus as many upstream calls, with room to spare.
pub const SERVER_FDS: u64 = 16_384;

/// Raises this process's soft `RLIMIT_NOFILE` to `want`, or to the hard limit when that is lower
/// (best effort: children spawned afterwards inherit it).
fn raise_fd_limit(want: u64) {
    // SAFETY: rlimit is plain data; getrlimit/setrlimit read and write it.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return;
        }
        let target = (want as libc::rlim_t).min(lim.rlim_max);
        if lim.rlim_cur < target {
            lim.rlim_cur = target;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

impl LabHost {
    /// Loads every manifest; a broken one is an error naming its file, line and field.
    pub fn new(dir: TargetsDir) -> Result<LabHost, HostError> {
        let mut targets = Vec::new();
        for t in dir.load_all() {
            targets.push(t?);
        }
        targets.sort_by(|a, b| a.name().cmp(b.name()));
        let upstream_exe = std::env::current_exe().map_err(HostError::Exe)?;
        // Targets and the upstream inherit this process's fd limit: `io-wait` keeps thousands of
        // requests in flight (a socket in and one to the upstream each), `ws-hold` 10,000
        // connections. Raise the soft limit towards the hard one now, before any is spawned; where
        // the hard limit is lower, up to it: what a server cannot open shows as its failures.
        raise_fd_limit(SERVER_FDS);
        Ok(LabHost {
            dir,
            targets,
            upstream_exe,
            upstream: Mutex::new(None),
            database_url: None,
            database: Mutex::new(None),
        })
    }

    /// Uses the user's database (`--database-url`) instead of starting the lab's cluster.
    pub fn with_database_url(mut self, url: Option<String>) -> LabHost {
        self.database_url = url;
        self
    }

    /// Runs the upstream with another binary (tests: the built `stackwise`).
    pub fn with_upstream_exe(mut self, exe: PathBuf) -> LabHost {
        self.upstream_exe = exe;
        self
    }

    fn target(&self, name: &str) -> Result<&Target, TargetFailure> {
        self.targets
            .iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| TargetFailure::new(format!("no target named {name}")))
    }

    fn launch(&self, t: &Target, opts: &StartOptions) -> Result<Launched, TargetFailure> {
        let workers = opts
            .workers
            .unwrap_or_else(|| t.default_workers(launch::cpu_count(&opts.server_cpus)));
        let threads = opts
            .workload
            .as_deref()
            .zip(opts.hold_connections)
            .and_then(|(w, n)| t.threads_for_connections(w, n, workers));
        let lo = LaunchOptions {
            server_cpus: opts.server_cpus.clone(),
            workers: opts.workers,
            threads,
            workload: opts.workload.clone(),
            services_env: opts
                .upstream_url
                .iter()
                .map(|u| ("UPSTREAM_URL".to_string(), u.clone()))
                .chain(
                    opts.database_url
                        .iter()
                        .map(|u| ("DATABASE_URL".to_string(), u.clone())),
                )
                .collect(),
            ..LaunchOptions::default()
        };
        launch::launch(t, &self.dir.repo(), &lo).map_err(|e| TargetFailure::new(e.to_string()))
    }
}

impl Host for LabHost {
    fn targets(&self) -> Result<Vec<TargetInfo>, HostError> {
        Ok(self
            .targets
            .iter()
            .map(|t| TargetInfo {
                name: t.name().to_string(),
                language: t.manifest.language.as_str().to_string(),
                framework: t.manifest.framework.clone(),
                endpoints: t
                    .manifest
                    .endpoints
                    .iter()
                    .map(|e| e.as_str().to_string())
                    .collect(),
            })
            .collect())
    }

    fn install(
        &self,
        target: &str,
        progress: &mut dyn FnMut(String),
    ) -> Result<Installed, TargetFailure> {
        let t = self.target(target)?;
        crate::install::install(t, &self.dir.repo(), false, INSTALL_STEP_TIMEOUT, &mut |l| {
            progress(l.to_string())
        })
        .map_err(|e| TargetFailure::new(e.to_string()))?;
        let fp = crate::install::footprint(t);
        Ok(Installed {
            bytes: Some(fp.bytes),
            packages: Some(fp.packages),
        })
    }

    /// The versions command's map, plus `footprint_with_runtime_bytes`: the install footprint
    /// with the runtime (issue 14; kept here until the store has a field for it).
    fn versions(&self, target: &str) -> BTreeMap<String, String> {
        match self.target(target) {
            Ok(t) => {
                let mut m =
                    crate::machine::target_versions(t, &self.dir.repo()).unwrap_or_default();
                if let Some(b) = crate::install::footprint(t).with_runtime_bytes {
                    m.insert("footprint_with_runtime_bytes".into(), b.to_string());
                }
                m
            }
            Err(_) => BTreeMap::new(),
        }
    }

    fn own_start(&self, target: &str, workload: &str) -> bool {
        self.target(target)
            .is_ok_and(|t| t.manifest.start.workload.contains_key(workload))
    }

    fn start(&self, target: &str, opts: &StartOptions) -> Result<Box<dyn Server>, TargetFailure> {
        let t = self.target(target)?;
        let launched = self.launch(t, opts)?;
        let sampler = Sampler::start(launched.server.process.tree(), SAMPLE_EVERY);
        Ok(Box::new(LabServer {
            config: launched.config.to_map(t),
            connect: t.client_connect(),
            launched,
            sampler,
            window: None,
            server_cpus: opts.server_cpus.clone(),
            target_names: self.targets.iter().map(|t| t.name().to_string()).collect(),
            culprits: None,
        }))
    }

    fn check(&self, target: &str, server: &mut dyn Server) -> Result<(), TargetFailure> {
        let t = self.target(target)?;
        let base = server.base_url();
        let addr: SocketAddr = base
            .trim_start_matches("http://")
            .parse()
            .map_err(|e| TargetFailure::new(format!("{base}: {e}")))?;
        let upstream = self.upstream.lock().expect("upstream").clone();
        let guard = upstream.as_ref().map(|u| u.lock().expect("upstream"));
        let database = self.database.lock().expect("database").clone();
        let report = crate::check::check_with(
            target,
            addr,
            &t.manifest.endpoints,
            crate::check::CheckServices {
                upstream: guard.as_deref(),
                database: database.as_ref(),
            },
            &crate::check::CheckOptions::default(),
        );
        drop(guard);
        if report.passed() {
            return Ok(());
        }
        let failures = report.failures();
        let reason = format!(
            "conformance check failed (seed {}): {}",
            report.seed,
            if failures.is_empty() {
                "no endpoint declared".to_string()
            } else {
                failures.join("; ")
            }
        );
        Err(TargetFailure {
            reason,
            stderr_tail: server.check_alive().err().map(|g| g.to_string()),
        })
    }

    fn cold_start(&self, target: &str, opts: &StartOptions) -> Result<Duration, TargetFailure> {
        let t = self.target(target)?;
        let mut launched = self.launch(t, opts)?;
        let d = launched.server.cold_start;
        launched.server.stop(STOP_GRACE);
        Ok(d)
    }

    fn start_service(
        &self,
        kind: ServiceKind,
        cpus: &[usize],
    ) -> Result<Box<dyn ServiceHandle>, ServiceError> {
        match kind {
            ServiceKind::Upstream => {
                let spec = UpstreamSpec {
                    exe: self.upstream_exe.clone(),
                    cpus: cpus.to_vec(),
                    port: None,
                };
                let upstream = spec.start_upstream()?;
                let url = upstream.url();
                let upstream = Arc::new(Mutex::new(upstream));
                *self.upstream.lock().expect("upstream") = Some(upstream.clone());
                Ok(Box::new(UpstreamHandle {
                    url,
                    cpus: cpus.len().max(1),
                    upstream,
                    meter: None,
                }))
            }
            ServiceKind::Database => {
                // Sized for the target with the most workers on every CPU (more than any run's
                // server CPUs give it), and never below a pool of 16 on 16 workers.
                let all = crate::launch::cpu_count(&[]);
                let max_workers = self
                    .targets
                    .iter()
                    .map(|t| t.default_workers(all))
                    .max()
                    .unwrap_or(1)
                    .max(crate::postgres::POOL_PER_TARGET);
                // The suite keeps every target's server up between rounds (the interleaved
                // order), so every target's pool is open at once: size for all of them (with
                // at least 16 workers a target's pools hold at most `max_workers` connections).
                let all_targets = max_workers * (self.targets.len().max(1) as u32);
                let run =
                    RunDatabase::start(self.database_url.as_deref(), cpus.to_vec(), all_targets)?;
                let db = run.database().clone();
                let tree = run.cluster().map(crate::services::Service::tree);
                *self.database.lock().expect("database") = Some(db.clone());
                Ok(Box::new(DatabaseHandle {
                    url: db.url.clone(),
                    db,
                    run,
                    tree,
                    cpus: cpus.len().max(1),
                    window: None,
                    last_cpu_s: None,
                }))
            }
        }
    }
}

/// A running target with its PSS sampler.
struct LabServer {
    launched: Launched,
    sampler: Sampler,
    config: BTreeMap<String, String>,
    /// How the load engine connects to it (`[start] connections`).
    connect: loadgen::Connect,
    window: Option<(WindowStart, StealMeter)>,
    /// The CPUs it is pinned to, and every target's name: who else used them in a window
    /// ([`crate::culprits`]).
    server_cpus: Vec<usize>,
    target_names: std::collections::BTreeSet<String>,
    culprits: Option<crate::culprits::Snapshot>,
}

impl ServerMeter for LabServer {
    fn begin(&mut self) {
        // A window begun and never ended (an interrupted measurement) is closed first: the
        // sampler samples only while a window is open.
        if let Some((start, _)) = self.window.take() {
            let _ = self.sampler.window_end(&start);
        }
        self.culprits = (!self.server_cpus.is_empty()).then(crate::culprits::Snapshot::take);
        self.window = Some((self.sampler.window_start(), StealMeter::start()));
    }

    fn end(&mut self) -> ServerUsage {
        let Some((start, steal)) = self.window.take() else {
            return ServerUsage::default();
        };
        let cost = self.sampler.window_end(&start);
        let steal_pct = steal.share() * 100.0;
        // Who else used the server CPUs in the window (the suite names them when other
        // processes' share is over the limit).
        let by = self.culprits.take().map(|c0| {
            let owners = crate::culprits::Owners::live(
                Some(self.sampler.tree().pgid),
                self.target_names.clone(),
            );
            let c1 = crate::culprits::Snapshot::take();
            crate::culprits::attribute_here(&c0, &c1, &self.server_cpus, &owners)
        });
        ServerUsage {
            cpu_s: cost.cpu_seconds,
            pss_mean_mb: cost.pss_mean_bytes.map(|b| b / MIB),
            pss_peak_mb: cost.pss_peak_bytes.map(|b| b as f64 / MIB),
            steal_pct: Some(steal_pct),
            samples: serde_json::json!({
                "wall_s": cost.wall_seconds,
                "cpu_s": cost.cpu_seconds,
                "cores": cost.cores,
                "pss_samples": cost.samples,
                "pss_mean_mb": cost.pss_mean_bytes.map(|b| b / MIB),
                "pss_peak_mb": cost.pss_peak_bytes.map(|b| b as f64 / MIB),
                "steal_pct": steal_pct,
                "cgroup": self.launched.server.process.has_cgroup(),
                "server_cpus_by": by.map(|b| serde_json::to_value(b).unwrap_or_default()),
            }),
        }
    }

    fn check_alive(&mut self) -> Result<(), Gone> {
        self.launched.server.check_alive().map_err(|c| {
            let tail: Vec<String> = c
                .stderr_tail
                .iter()
                .rev()
                .take(TAIL)
                .rev()
                .cloned()
                .collect();
            Gone::Server {
                status: c.status,
                stderr_tail: tail,
            }
        })
    }

    fn client_connect(&self) -> loadgen::Connect {
        self.connect
    }
}

impl Server for LabServer {
    fn base_url(&self) -> String {
        self.launched.base_url()
    }

    fn pss_mb(&mut self) -> Option<f64> {
        let b = self.sampler.tree().pss_bytes();
        (b > 0).then(|| b as f64 / MIB)
    }

    fn config(&self) -> BTreeMap<String, String> {
        self.config.clone()
    }

    fn stop(mut self: Box<Self>) {
        self.launched.server.stop(STOP_GRACE);
    }

    fn start_notes(&self) -> Vec<String> {
        self.launched.server.notes.clone()
    }
}

struct UpstreamHandle {
    upstream: Arc<Mutex<Upstream>>,
    url: String,
    cpus: usize,
    meter: Option<BusyMeter>,
}

impl ServiceHandle for UpstreamHandle {
    fn url(&self) -> &str {
        &self.url
    }

    fn begin(&mut self) {
        self.meter = Some(self.upstream.lock().expect("upstream").busy_meter());
    }

    fn busy(&mut self) -> Option<f64> {
        self.meter.take().map(|m| m.share(self.cpus))
    }

    fn check_alive(&mut self) -> Result<(), Gone> {
        Ok(self.upstream.lock().expect("upstream").check_alive()?)
    }
}

impl Drop for UpstreamHandle {
    fn drop(&mut self) {
        self.upstream.lock().expect("upstream").stop();
    }
}

/// The run's database as a service: its URL for `DATABASE_URL`, the handle a workload resets and
/// seeds, and (the lab's cluster only) the CPU of every backend over a measuring window.
struct DatabaseHandle {
    run: RunDatabase,
    db: Database,
    url: String,
    /// The cluster's process tree (`None` on the user's server: its CPU is not ours to see).
    tree: Option<ProcessTree>,
    cpus: usize,
    window: Option<(std::time::Instant, f64)>,
    last_cpu_s: Option<f64>,
}

impl ServiceHandle for DatabaseHandle {
    fn url(&self) -> &str {
        &self.url
    }

    fn begin(&mut self) {
        self.last_cpu_s = None;
        self.window = self
            .tree
            .as_ref()
            .and_then(|t| t.cpu_seconds().ok())
            .map(|c| (std::time::Instant::now(), c));
    }

    fn busy(&mut self) -> Option<f64> {
        let (at, c0) = self.window.take()?;
        let c1 = self.tree.as_ref()?.cpu_seconds().ok()?;
        let cpu = (c1 - c0).max(0.0);
        self.last_cpu_s = Some(cpu);
        let wall = at.elapsed().as_secs_f64();
        (wall > 0.0).then(|| cpu / wall / self.cpus as f64)
    }

    fn check_alive(&mut self) -> Result<(), Gone> {
        Ok(self.run.check_alive()?)
    }

    fn database(&self) -> Option<&Database> {
        Some(&self.db)
    }

    fn window_cpu_s(&self) -> Option<f64> {
        self.last_cpu_s
    }
}

impl Drop for DatabaseHandle {
    fn drop(&mut self) {
        self.run.stop();
    }
}
