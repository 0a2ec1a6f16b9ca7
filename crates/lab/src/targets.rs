//! The targets by hand (`stackwise targets list | install | check | serve`), over the lab's
//! core: the list's rows ([`rows`]), installing with its footprint ([`install_one`]), the
//! contract check of several targets, each installed, started, checked and stopped with the
//! upstream and the run's database beside ([`check_all`]), and one target served until Ctrl-C
//! ([`serve`]). What the user reads is handed out as [`Line`]s; the CLI prints them.

use std::time::Duration;

use crate::check::{self, CheckOptions};
use crate::launch::{self, LaunchOptions};
use crate::manifest::{Endpoint, Language, ManifestError, Target, TargetsDir};
use crate::postgres::{Database, DbError, RunDatabase, RunDatabaseError};
use crate::process::{Crash, StartError};
use crate::services::{Service, Upstream, UpstreamSpec};

/// How long an install step may run.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(900);
/// How long a target may take to answer its ready path.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// SIGTERM → SIGKILL grace when stopping a target.
const GRACE: Duration = Duration::from_secs(5);

/// A line for the user: the command's output (stdout) or a progress note or warning (stderr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Out(String),
    Err(String),
}

/// Why a targets command failed.
#[derive(Debug, thiserror::Error)]
pub enum TargetsError {
    #[error(transparent)]
    Install(#[from] crate::install::InstallError),
    #[error("locating the stackwise binary: {0}")]
    Exe(std::io::Error),
    #[error(transparent)]
    Start(#[from] StartError),
    /// `--database-url` refused (the lab's own cluster not starting is only a warning).
    #[error(transparent)]
    Database(RunDatabaseError),
    #[error("resetting the database: {0}")]
    Reset(DbError),
    #[error("the upstream service stopped: {0}")]
    UpstreamEnded(Crash),
    #[error("the database stopped: {0}")]
    DatabaseEnded(Crash),
    /// `serve`: the target's server ended.
    #[error("{0}")]
    ServerEnded(Crash),
    /// `serve`: the upstream ended.
    #[error("the upstream stopped: {0}")]
    ServedUpstreamEnded(Crash),
    #[error("not conforming: {}", .0.join(", "))]
    NotConforming(Vec<String>),
    /// Ctrl-C (the CLI exits 130).
    #[error("interrupted")]
    Interrupted,
}

impl TargetsError {
    /// Whether the user's input is wrong (a refused `--database-url`).
    pub fn is_usage(&self) -> bool {
        matches!(self, TargetsError::Database(_))
    }
}

fn interrupted() -> Result<(), TargetsError> {
    match crate::process::interrupted() {
        true => Err(TargetsError::Interrupted),
        false => Ok(()),
    }
}

/// An error with its causes, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.ends_with(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// One row of `targets list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub name: String,
    pub language: String,
    pub framework: String,
    /// `no`, `stale` (an interpreted target whose lockfile changed) or `yes`.
    pub installed: &'static str,
    pub endpoints: Vec<String>,
    pub summary: String,
}

/// The rows of every target of `dir`, and the manifests that are broken.
pub fn rows(dir: &TargetsDir) -> (Vec<Row>, Vec<ManifestError>) {
    let (mut rows, mut broken) = (Vec::new(), Vec::new());
    for t in dir.load_all() {
        match t {
            Ok(t) => {
                let m = &t.manifest;
                rows.push(Row {
                    name: m.name.clone(),
                    language: m.language.as_str().to_string(),
                    framework: m.framework.clone(),
                    installed: match (
                        crate::install::is_installed(&t),
                        crate::install::is_up_to_date(&t),
                    ) {
                        (false, _) => "no",
                        (true, false) if m.language != Language::Rust => "stale",
                        _ => "yes",
                    },
                    endpoints: m.endpoints.iter().map(|e| e.as_str().to_string()).collect(),
                    summary: m.summary.clone(),
                });
            }
            Err(e) => broken.push(e),
        }
    }
    (rows, broken)
}

fn packages(n: u64) -> String {
    format!("{n} package{}", if n == 1 { "" } else { "s" })
}

/// ", 123.4 MB with its runtime" when known (issue 14: the runtime is shown apart).
fn with_runtime(fp: &crate::install::Footprint) -> String {
    fp.with_runtime_bytes
        .map(|b| format!(", {} with its runtime", mb(b)))
        .unwrap_or_default()
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Installs one target (its step output as lines when `verbose`, else only on failure).
pub fn install_one(
    dir: &TargetsDir,
    t: &Target,
    force: bool,
    verbose: bool,
    say: &mut dyn FnMut(Line),
) -> Result<(), TargetsError> {
    let name = t.name().to_string();
    if !force && crate::install::is_up_to_date(t) {
        let fp = crate::install::footprint(t);
        if verbose {
            say(Line::Err(format!(
                "{name}: already installed ({}, {} on disk{}; --force to reinstall)",
                packages(fp.packages),
                mb(fp.bytes),
                with_runtime(&fp)
            )));
        }
        return Ok(());
    }
    // A built Rust target is handed to cargo every time (a no-op when nothing changed): only
    // worth a line when asked for (`targets install`) or when something is really installed.
    let routine =
        !force && crate::install::is_installed(t) && t.manifest.language == Language::Rust;
    let announce = verbose || !routine;
    match crate::install::stale_reason(t) {
        Some(why) if announce && !force && crate::install::is_installed(t) => {
            say(Line::Err(format!("{name}: updating ({why})…")))
        }
        _ if announce => say(Line::Err(format!("{name}: installing…"))),
        _ => {}
    }
    let mut on_line = |l: &str| {
        if verbose {
            say(Line::Err(format!("  {name} | {l}")));
        }
    };
    let out = crate::install::install(t, &dir.repo(), force, STEP_TIMEOUT, &mut on_line)?;
    let fp = crate::install::footprint(t);
    if announce {
        say(Line::Err(format!(
            "{name}: installed in {:.1} s ({}, {} on disk{})",
            out.took.as_secs_f64(),
            packages(fp.packages),
            mb(fp.bytes),
            with_runtime(&fp)
        )));
    }
    Ok(())
}

fn start_upstream(client: &[usize]) -> Result<Upstream, TargetsError> {
    let spec = UpstreamSpec::current_exe(client.to_vec()).map_err(TargetsError::Exe)?;
    Ok(spec.start_upstream()?)
}

/// The run's database when a target needs one (or `url` is given): the lab's cluster on the
/// client CPUs, else the user's. A lab cluster that cannot start (PostgreSQL missing) is
/// announced and the rest goes on without it; a refused `url` is an error.
fn start_database(
    targets: &[Target],
    client: &[usize],
    url: Option<&str>,
    say: &mut dyn FnMut(Line),
) -> Result<Option<RunDatabase>, TargetsError> {
    if url.is_none() && !targets.iter().any(|t| t.needs_database()) {
        return Ok(None);
    }
    let cpus = launch::cpu_count(client) as u32;
    let max_workers = targets
        .iter()
        .map(|t| t.default_workers(cpus as usize))
        .max()
        .unwrap_or(1)
        .max(2 * cpus + 1);
    match RunDatabase::start(url, client.to_vec(), max_workers) {
        Ok(db) => {
            for n in &db.database().notes {
                say(Line::Err(format!("note: {n}")));
            }
            Ok(Some(db))
        }
        Err(e) if url.is_some() => Err(TargetsError::Database(e)),
        Err(e) => {
            say(Line::Err(format!(
                "warning: the database endpoints cannot run: {e}\n  (the other endpoints go on without it)"
            )));
            Ok(None)
        }
    }
}

/// Checks every target against the contract (`requests` per endpoint), with the upstream and
/// the database beside; the targets that do not conform are [`TargetsError::NotConforming`].
pub fn check_all(
    dir: &TargetsDir,
    targets: &[Target],
    (server, client): (&[usize], &[usize]),
    requests: u32,
    database_url: Option<&str>,
    say: &mut dyn FnMut(Line),
) -> Result<(), TargetsError> {
    let mut database = start_database(targets, client, database_url, say)?;
    let mut upstream = start_upstream(client)?;
    let mut failed = Vec::new();
    for t in targets {
        let name = t.name().to_string();
        if let (Some(db), true) = (&database, t.needs_database()) {
            // Every target starts from the same data.
            db.database().reset().map_err(TargetsError::Reset)?;
        }
        let services = (&upstream, database.as_ref().map(|d| d.database()));
        let verdict = check_one(dir, t, server, services, requests, say);
        interrupted()?;
        match verdict {
            Ok(true) => {}
            Ok(false) => failed.push(name),
            Err(e) => {
                say(Line::Out(format!(
                    "{name}: FAIL\n  {}",
                    chain(&e).replace('\n', "\n  ")
                )));
                failed.push(name);
            }
        }
        upstream
            .check_alive()
            .map_err(TargetsError::UpstreamEnded)?;
        if let Some(Err(c)) = database.as_mut().map(|d| d.check_alive()) {
            return Err(TargetsError::DatabaseEnded(c));
        }
    }
    upstream.stop();
    if let Some(db) = database.as_mut() {
        db.stop();
    }
    let passed = targets.len() - failed.len();
    say(Line::Out(format!(
        "{passed} of {} target(s) pass the contract",
        targets.len()
    )));
    if !failed.is_empty() {
        return Err(TargetsError::NotConforming(failed));
    }
    Ok(())
}

/// Installs (if needed), starts, checks and stops one target; Ok(false) when it does not conform.
fn check_one(
    dir: &TargetsDir,
    t: &Target,
    server: &[usize],
    (upstream, database): (&Upstream, Option<&Database>),
    requests: u32,
    say: &mut dyn FnMut(Line),
) -> Result<bool, TargetsError> {
    install_one(dir, t, false, false, say)?;
    let mut services_env = upstream.env();
    if let Some(db) = database {
        services_env.push(("DATABASE_URL".into(), db.url.clone()));
    }
    let opts = LaunchOptions {
        server_cpus: server.to_vec(),
        services_env,
        ready_timeout: READY_TIMEOUT,
        ..Default::default()
    };
    let mut running = launch::launch(t, &dir.repo(), &opts)?;
    let report = check::check_with(
        t.name(),
        running.server.addr(),
        &t.manifest.endpoints,
        check::CheckServices {
            upstream: Some(upstream),
            database,
        },
        &CheckOptions {
            requests,
            ..Default::default()
        },
    );
    let crashed = running.server.check_alive().err();
    let stop = running.server.stop(GRACE);
    let ok = report.passed() && crashed.is_none();
    say(Line::Out(format!(
        "{}: {} (cold start {:.0} ms, {} worker(s), seed {})",
        t.name(),
        if ok { "pass" } else { "FAIL" },
        running.server.cold_start.as_secs_f64() * 1000.0,
        running.config.workers,
        report.seed
    )));
    say(Line::Out(format!("{report}")));
    if let Some(c) = crashed {
        say(Line::Out(format!(
            "  the target crashed during the check: {c}"
        )));
    }
    if stop.forced {
        say(Line::Err(format!(
            "warning: {} did not stop within {} s of SIGTERM and was killed (SIGKILL)",
            t.name(),
            GRACE.as_secs()
        )));
    }
    if !stop.leaked.is_empty() {
        say(Line::Err(format!(
            "warning: {}: {} process(es) were left after stopping it (killed): {:?}",
            t.name(),
            stop.leaked.len(),
            stop.leaked
        )));
    }
    Ok(ok)
}

/// A path worth trying on `e`, for the user.
fn example_path(e: &Endpoint) -> &'static str {
    match e {
        Endpoint::Io => "/io?ms=10",
        Endpoint::Cpu => "/cpu?n=100000",
        Endpoint::Hash => "/hash?n=100",
        Endpoint::Json => "/json",
        Endpoint::Plaintext => "/plaintext",
        Endpoint::Ws => "/ws (WebSocket echo)",
        Endpoint::Db => "/db",
        Endpoint::Queries => "/queries?q=10",
        Endpoint::Fortunes => "/fortunes",
        Endpoint::Updates => "/updates?q=5",
        Endpoint::Crud => "/items?limit=10 and /items/1 (GET, PUT, DELETE; POST /items)",
        Endpoint::Vector => "/vector?n=1000000",
    }
}

/// Installs (if needed) and serves `t` with the upstream (and its database) beside until Ctrl-C
/// or until one of them ends, then stops them all and says what was left.
pub fn serve(
    dir: &TargetsDir,
    t: &Target,
    mut opts: LaunchOptions,
    client: Vec<usize>,
    database_url: Option<&str>,
    say: &mut dyn FnMut(Line),
) -> Result<(), TargetsError> {
    let port = opts.port.unwrap_or(0);
    install_one(dir, t, false, true, say)?;
    interrupted()?;
    let mut database = start_database(std::slice::from_ref(t), &client, database_url, say)?;
    interrupted()?;
    let mut upstream = start_upstream(&client)?;
    opts.services_env = upstream.env();
    if let Some(db) = &database {
        opts.services_env.extend(db.env());
    }
    let mut running = match launch::launch(t, &dir.repo(), &opts) {
        Ok(r) => r,
        Err(e) => {
            upstream.stop();
            if let Some(db) = database.as_mut() {
                db.stop();
            }
            interrupted()?;
            return Err(e.into());
        }
    };
    let base = running.base_url();
    if port != 0 && running.server.port != port {
        say(Line::Err(format!(
            "port {port} is in use: serving on {} instead",
            running.server.port
        )));
    }
    let out = |s: String| Line::Out(s);
    say(out(format!(
        "{} ({}) serving on {base}",
        t.name(),
        t.manifest.framework
    )));
    say(out(format!(
        "  {} worker(s), {} thread(s) each, pinned to CPUs {:?}; cold start {:.0} ms",
        running.config.workers,
        running.config.threads,
        running.config.cpus,
        running.server.cold_start.as_secs_f64() * 1000.0
    )));
    for e in &t.manifest.endpoints {
        say(out(format!("  {base}{}", example_path(e))));
    }
    say(out(format!(
        "  upstream (for /io): {} pinned to CPUs {:?}",
        upstream.url(),
        client
    )));
    match &database {
        Some(RunDatabase::Lab(pg)) => say(out(format!(
            "  database: {} (the lab's PostgreSQL, pid {}, pinned to CPUs {:?}, data in {}; deleted on exit)",
            pg.database().url,
            pg.pid(),
            client,
            pg.dir().display()
        ))),
        Some(RunDatabase::External(db)) => say(out(format!("  database: {} (yours)", db.url))),
        None if t.needs_database() => {
            say(out("  database: none (the database endpoints answer 503)".into()))
        }
        None => {}
    }
    say(out("Press Ctrl-C to stop.".into()));
    let mut problem = None;
    while !crate::process::interrupted() {
        if let Err(c) = running.server.check_alive() {
            problem = Some(TargetsError::ServerEnded(c));
            break;
        }
        if let Err(c) = upstream.check_alive() {
            problem = Some(TargetsError::ServedUpstreamEnded(c));
            break;
        }
        if let Some(Err(c)) = database.as_mut().map(|d| d.check_alive()) {
            problem = Some(TargetsError::DatabaseEnded(c));
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let stop = running.server.stop(GRACE);
    let up = upstream.stop();
    if let Some(r) = database.as_mut().and_then(|d| d.stop()) {
        if !r.leaked.is_empty() {
            say(Line::Err(format!(
                "warning: the database left {} process(es) (killed): {:?}",
                r.leaked.len(),
                r.leaked
            )));
        }
    }
    let leaked = stop.leaked.len() + up.leaked.len();
    if leaked > 0 {
        say(Line::Err(format!(
            "warning: {leaked} process(es) were left after stopping (killed): {:?} {:?}",
            stop.leaked, up.leaked
        )));
    } else {
        say(Line::Err(format!(
            "stopped {} and the upstream; no process left",
            t.name()
        )));
    }
    match problem {
        Some(p) => Err(p),
        None => Ok(()),
    }
}
