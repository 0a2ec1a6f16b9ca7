//! A `stackwise lab` run around the suite: the host (the lab's targets, or a deployed service
//! over [`crate::remote`]), the store, the store's run lock (refusing or waiting when another
//! run holds it; the sweep of what a killed run left; the watchdog), `--resume`'s lookup of the
//! unfinished run and its stored options, the plan as plain data ([`PlanSummary`]), Ctrl-C, and
//! the run itself ([`Session::run`]: the one entry point of a measuring run; the machine's
//! fingerprint is taken there). The CLI maps its flags to [`SessionOptions`] and
//! [`SuiteOptions`], and renders what comes back; what it should tell the user on the way is
//! handed to it as [`Notice`]s.

use std::fmt;
use std::path::PathBuf;

use store::{Store, StoreError};
use workloads::events::Event;
pub use workloads::plan::{PlanSummary, PlannedWorkload};

use crate::host::HostError;
use crate::remote::RemoteUrl;
use crate::runlock::{LockError, RunLock};
use crate::suite::{self, Host, Outcome, SettingsError, SuiteError, SuiteOptions};
use crate::workload::{self, StopFlag};

/// What a run is asked to do, beyond the suite's options.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// The store.
    pub db: PathBuf,
    /// Wait for another run holding the store's lock instead of refusing.
    pub wait: bool,
    /// Only the plan: no lock is taken.
    pub plan_only: bool,
    /// Complete the store's last unfinished run with its own options.
    pub resume: bool,
    /// A deployed service instead of the lab's targets ([`crate::remote::resolve`]).
    pub remote: Option<RemoteUrl>,
    /// The names given for the targets (with `remote`: at most one, the service's).
    pub targets: Vec<String>,
    /// The user's database for the database workloads instead of the lab's cluster.
    pub database_url: Option<String>,
    /// The stackwise version, for the machine's fingerprint.
    pub version: String,
}

/// Something the user should be told while a session opens or runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Waiting for another run's lock.
    Waiting(String),
    Warning(String),
    Note(String),
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Waiting(m) => write!(f, "waiting: {m}"),
            Notice::Warning(m) => write!(f, "warning: {m}"),
            Notice::Note(m) => write!(f, "note: {m}"),
        }
    }
}

/// Why a session did not open or run.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Host(#[from] HostError),
    /// The store cannot be used (too new, damaged, its directory not creatable).
    #[error("--db: {0}")]
    StoreUnusable(StoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("--resume: no unfinished run in {} (every run there is complete)", .db.display())]
    NothingToResume { db: PathBuf },
    #[error("--resume: run {id} measured a remote target ({url}); its server is not under the lab's control, so a resumed run could not vouch it is the same: run `stackwise lab --target-url` again")]
    ResumeRemote { id: i64, url: String },
    #[error("run {id} in {}: {source}", .db.display())]
    Settings {
        id: i64,
        db: PathBuf,
        source: SettingsError,
    },
    #[error("--targets: with --target-url, at most one name (the deployed service's), got {}", .names.join(","))]
    RemoteNames { names: Vec<String> },
    /// `--database-url` refused.
    #[error(transparent)]
    Database(#[from] crate::postgres::DbError),
    /// An option (its [`crate::suite::Field`]), or the run.
    #[error(transparent)]
    Suite(#[from] SuiteError),
}

impl SessionError {
    /// Whether the user's input is wrong (a flag, the store chosen, a busy store), not the run.
    pub fn is_usage(&self) -> bool {
        match self {
            SessionError::Host(_)
            | SessionError::StoreUnusable(_)
            | SessionError::NothingToResume { .. }
            | SessionError::ResumeRemote { .. }
            | SessionError::RemoteNames { .. }
            | SessionError::Database(_) => true,
            SessionError::Lock(e) => matches!(e, LockError::InUse { .. }),
            SessionError::Suite(e) => matches!(e, SuiteError::Invalid { .. }),
            SessionError::Store(_) | SessionError::Settings { .. } => false,
        }
    }
}

/// Opens the store at `path`; one it cannot use is [`SessionError::StoreUnusable`].
pub fn open_store(path: &std::path::Path) -> Result<Store, SessionError> {
    Store::open(path).map_err(|e| match e {
        StoreError::TooNew { .. } | StoreError::Dir { .. } | StoreError::Corrupt { .. } => {
            SessionError::StoreUnusable(e)
        }
        other => SessionError::Store(other),
    })
}

/// An open run: its host, store, lock, options and (`--resume`) the run it completes.
pub struct Session {
    pub host: Box<dyn Host>,
    pub store: Store,
    pub lock: Option<RunLock>,
    pub opts: SuiteOptions,
    pub resume: Option<i64>,
    pub remote: Option<RemoteUrl>,
    database_url: Option<String>,
    version: String,
}

impl Session {
    /// The host, the store, its run lock (not for a plan), and the options: `opts` (the flags'),
    /// or with `resume` the unfinished run's stored ones. `opts` is needed unless resuming a
    /// lab run; a remote run's are completed here (every CPU to the load engine, no cold starts,
    /// its one target).
    pub fn open(
        s: &SessionOptions,
        opts: Option<SuiteOptions>,
        notice: &mut dyn FnMut(Notice),
    ) -> Result<Session, SessionError> {
        let host: Box<dyn Host> = match (&s.remote, &opts) {
            (Some(r), Some(o)) => remote_host(r.clone(), &s.targets, &o.workloads)?,
            _ => crate::host::lab_host(s.database_url.clone())?,
        };
        let store = open_store(&s.db)?;
        // One run per store: taken before --resume picks the unfinished run (a running one is too).
        let lock = if s.plan_only {
            None
        } else {
            Some(take_lock(&s.db, s.wait, notice)?)
        };
        let (opts, resume) = if s.resume {
            let id = store
                .latest_unfinished_run_id()?
                .ok_or_else(|| SessionError::NothingToResume { db: s.db.clone() })?;
            let settings = store.run_settings(id)?;
            if let Some(url) = settings.get("origin.target_url") {
                return Err(SessionError::ResumeRemote {
                    id,
                    url: url.clone(),
                });
            }
            let opts = SuiteOptions::from_settings(&settings).map_err(|source| {
                SessionError::Settings {
                    id,
                    db: s.db.clone(),
                    source,
                }
            })?;
            (opts, Some(id))
        } else {
            let mut opts = opts.expect("the options of a run that is not resumed");
            if let Some(r) = &s.remote {
                // No cold starts: the lab does not start the server. No server CPUs either: the
                // load engine gets every CPU, and nothing is read from "the server's" CPUs.
                opts.cold_starts = 0;
                opts.client_cpus = loadgen::cpu::allowed_cpus();
                opts.server_cpus = vec![];
                opts.targets = host.targets()?.into_iter().map(|t| t.name).collect();
                notice(Notice::Note(format!(
                    "--target-url {}: {}; {}",
                    r.url,
                    if r.loopback {
                        "a loopback address"
                    } else {
                        "a remote address (--allow-remote)"
                    },
                    crate::remote::SERVER_SIDE_NOTE
                )));
            }
            (opts, None)
        };
        Ok(Session {
            host,
            store,
            lock,
            opts,
            resume,
            remote: s.remote.clone(),
            database_url: s.database_url.clone(),
            version: s.version.clone(),
        })
    }

    /// The plan: the cells still to measure, per workload and target, and the ETA.
    pub fn plan(&self) -> Result<PlanSummary, SessionError> {
        let opts = &self.opts;
        let plan = suite::plan(self.host.as_ref(), opts)?;
        let cells: Vec<store::PlannedCell> = match self.resume {
            Some(id) => self.store.missing_cells(id)?,
            None => plan.cells.clone(),
        };
        let workloads = opts
            .workloads
            .iter()
            .filter_map(|id| workload::by_id(id))
            .map(|w| PlannedWorkload {
                id: w.id().to_string(),
                count: suite::cell_repeats(w.as_ref(), opts.repeats),
                searches: w.kind() == workload::Kind::Capacity,
                describe: w.describe(),
            })
            .collect();
        let by_target = plan
            .targets
            .iter()
            .map(|t| {
                let ws = cells
                    .iter()
                    .filter(|c| c.target == t.name)
                    .map(|c| c.workload.clone())
                    .collect();
                (t.name.clone(), ws)
            })
            .collect::<Vec<(String, Vec<String>)>>();
        let with_work = cells
            .iter()
            .map(|c| c.target.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let eta = suite::eta(&cells, opts, with_work);
        Ok(PlanSummary {
            resume: self.resume.map(|id| (id, plan.cells.len())),
            cells: cells.len(),
            targets: plan.targets.len(),
            workloads,
            repeats: opts.repeats,
            duration_s: opts.timing.duration.as_secs_f64(),
            cold_starts: opts.cold_starts,
            server_cpus: opts.server_cpus.clone(),
            client_cpus: opts.client_cpus.clone(),
            on_request: workload::on_request()
                .into_iter()
                .filter(|id| !opts.workloads.iter().any(|w| w == id))
                .map(str::to_string)
                .collect(),
            by_target,
            skipped: plan
                .skipped
                .iter()
                .map(|(c, why)| (c.target.clone(), c.workload.clone(), why.clone()))
                .collect(),
            eta_s: eta.as_secs_f64(),
            up_to_s: suite::eta_up_to(opts, eta).as_secs_f64(),
        })
    }

    /// Runs the suite (or the rest of the resumed run): `--database-url` checked first, the
    /// machine's fingerprint, then every cell, each stored the moment it is measured. `stop`
    /// ends it early (Ctrl-C: [`on_ctrl_c`]); `on` gets every event.
    pub fn run(
        &mut self,
        stop: &StopFlag,
        notice: &mut dyn FnMut(Notice),
        on: &mut dyn FnMut(Event),
    ) -> Result<Outcome, SessionError> {
        if let Some(url) = &self.database_url {
            // Refused before anything runs when it holds other tables; what the lab cannot
            // control there is said. The database workloads use it in place of the lab's own
            // cluster; its CPU is not sampled (db_cpu_us_per_req is absent).
            let db = crate::postgres::Database::external(url)?;
            for n in &db.notes {
                notice(Notice::Note(format!("--database-url: {n}")));
            }
            notice(Notice::Note(format!(
                "--database-url: {} is loaded with the lab's tables and used by the database workloads instead of the lab's own cluster; its CPU is not measured",
                db.url
            )));
        }
        let mut machine = crate::machine::fingerprint(
            &self.opts.server_cpus,
            &self.opts.client_cpus,
            &self.version,
        );
        // The BLAS NumPy uses in the Python targets (the `vector` workload; issue 14).
        if let Some(blas) = crate::manifest::TargetsDir::discover(None)
            .ok()
            .filter(|_| self.remote.is_none())
            .and_then(|d| crate::machine::blas(&d))
        {
            machine.runtimes.insert("blas".into(), blas);
        }
        Ok(suite::run(
            self.host.as_ref(),
            &mut self.store,
            &self.opts,
            machine,
            self.resume,
            stop,
            &mut |e| {
                if let Event::RunStarted { run_id, .. } = &e {
                    crate::runlock::set_run_id(*run_id);
                }
                on(e)
            },
        )?)
    }
}

/// The host for a deployed service: one target, named by `names` (a lab target's name takes
/// its language, framework and endpoints) or after its address.
fn remote_host(
    r: RemoteUrl,
    names: &[String],
    workloads: &[String],
) -> Result<Box<dyn Host>, SessionError> {
    if names.len() > 1 {
        return Err(SessionError::RemoteNames {
            names: names.to_vec(),
        });
    }
    let name = names
        .first()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| crate::remote::default_name(&r.addr));
    let known = crate::host::default_host()
        .ok()
        .and_then(|h| h.targets().ok())
        .and_then(|ts| ts.into_iter().find(|t| t.name == name));
    Ok(Box::new(crate::remote::RemoteHost::new(
        r, &name, known, workloads,
    )))
}

/// Takes the store's run lock (refusing, or with `wait` waiting, when another run holds it),
/// reports what a killed previous run left and was swept, and starts the watchdog.
fn take_lock(
    db: &std::path::Path,
    wait: bool,
    notice: &mut dyn FnMut(Notice),
) -> Result<RunLock, SessionError> {
    let (lock, sweep) = RunLock::acquire(db, wait, &mut |busy| {
        notice(Notice::Waiting(busy.to_string()))
    })?;
    if let Some(s) = sweep {
        for l in s.lines() {
            notice(Notice::Warning(l));
        }
    }
    let watchdog = std::env::current_exe().and_then(|exe| lock.start_watchdog(&exe));
    if let Err(e) = watchdog {
        notice(Notice::Warning(format!(
            "no watchdog ({e}): if this run is killed, its servers' workers are ended only at the next start"
        )));
    }
    Ok(lock)
}

/// Ctrl-C for a run: the first stops the current cell, every target and service (what is
/// stored is kept); the second exits at once (130).
pub fn on_ctrl_c(stop: StopFlag) -> Result<(), ctrlc::Error> {
    crate::host::on_interrupt(Box::new(move || {
        if stop.is_set() {
            std::process::exit(130);
        }
        stop.trigger();
        eprintln!("\nstopping: the current cell is dropped, finished cells are kept (Ctrl-C again to quit at once)");
    }))
}
