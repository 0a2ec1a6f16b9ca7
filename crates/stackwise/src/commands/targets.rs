//! `stackwise targets list | install | check | serve`: the lab's reference backends from the command
//! line, on top of the `lab` crate. Also the Ctrl-C handler that stops every live target process
//! group ([`install_interrupt_handler`]), for any command that runs targets.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Context};
use lab::check::{self, CheckOptions};
use lab::launch::{self, LaunchOptions};
use lab::manifest::{Target, TargetsDir};
use lab::postgres::{Database, RunDatabase};
use lab::services::{Service, Upstream, UpstreamSpec};

use crate::cli::{TargetsArgs, TargetsCommand};
use crate::UsageError;

/// Prints a line to stdout, ignoring a closed stdout (e.g. `stackwise targets list | head -3`).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// How long an install step may run.
const STEP_TIMEOUT: Duration = Duration::from_secs(900);
/// How long a target may take to answer its ready path.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// SIGTERM → SIGKILL grace when stopping a target.
const GRACE: Duration = Duration::from_secs(5);

/// Installs the Ctrl-C handler (first Ctrl-C: stop every live target group and let the command
/// wind down; second: kill them at once and exit 130) and the panic hook that kills them too.
pub(crate) fn install_interrupt_handler() {
    lab::process::install_panic_hook();
    static SEEN: AtomicBool = AtomicBool::new(false);
    let _ = ctrlc::set_handler(|| {
        if SEEN.swap(true, Ordering::SeqCst) {
            lab::process::kill_all(Duration::ZERO);
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: stopping every target process (Ctrl-C again to quit at once)");
        lab::process::kill_all(Duration::from_secs(2));
    });
}

pub fn run(args: TargetsArgs) -> anyhow::Result<()> {
    install_interrupt_handler();
    let dir =
        TargetsDir::discover(args.targets_dir.as_deref()).map_err(|e| UsageError(e.to_string()))?;
    match args.command {
        TargetsCommand::List => list(&dir),
        TargetsCommand::Install { names, force } => {
            let targets = load(&dir, &names)?;
            let mut failed = Vec::new();
            for t in &targets {
                if let Err(e) = install_one(&dir, t, force, true) {
                    eprintln!("error: {e:#}");
                    failed.push(t.name().to_string());
                }
                exit_if_interrupted();
            }
            if !failed.is_empty() {
                bail!("{} could not be installed", failed.join(", "));
            }
            Ok(())
        }
        TargetsCommand::Check {
            names,
            server_cpus,
            requests,
            database_url,
        } => {
            let targets = load(&dir, &names)?;
            let (server, client) = cpus(server_cpus.as_deref())?;
            check_all(
                &dir,
                &targets,
                &server,
                &client,
                requests,
                database_url.as_deref(),
            )
        }
        TargetsCommand::Serve {
            name,
            port,
            server_cpus,
            workers,
            threads,
            workload,
            database_url,
        } => {
            let target = load(&dir, std::slice::from_ref(&name))?.remove(0);
            if workers == Some(0) || threads == Some(0) {
                return Err(UsageError("--workers and --threads must be at least 1".into()).into());
            }
            let (server, client) = cpus(server_cpus.as_deref())?;
            serve(
                &dir,
                &target,
                port,
                LaunchOptions {
                    server_cpus: server,
                    workers,
                    threads,
                    workload,
                    port: Some(port),
                    ready_timeout: READY_TIMEOUT,
                    ..Default::default()
                },
                client,
                database_url.as_deref(),
            )
        }
    }
}

fn exit_if_interrupted() {
    if lab::process::interrupted() {
        eprintln!("interrupted");
        std::process::exit(130);
    }
}

/// The targets named (all when none), or a usage error naming the broken manifest or unknown name.
fn load(dir: &TargetsDir, names: &[String]) -> anyhow::Result<Vec<Target>> {
    let names: Vec<String> = if names.is_empty() {
        dir.names()
    } else {
        names.to_vec()
    };
    if names.is_empty() {
        return Err(UsageError(format!("no targets in {}", dir.path.display())).into());
    }
    names
        .iter()
        .map(|n| dir.load(n).map_err(|e| UsageError(e.to_string()).into()))
        .collect()
}

/// Server and client CPUs: `--server-cpus` or the default split of the allowed CPUs.
fn cpus(server_cpus: Option<&str>) -> anyhow::Result<(Vec<usize>, Vec<usize>)> {
    let allowed = loadgen::cpu::allowed_cpus();
    match server_cpus {
        None => Ok(launch::split_cpus(&allowed)),
        Some(s) => {
            let server = loadgen::cpu::parse_cpu_list(s)
                .map_err(|e| UsageError(format!("--server-cpus: {e}")))?;
            if let Some(c) = server.iter().find(|c| !allowed.contains(c)) {
                return Err(UsageError(format!(
                    "--server-cpus: CPU {c} is not available to this process (available: {allowed:?})"
                ))
                .into());
            }
            let mut client: Vec<usize> = allowed
                .iter()
                .copied()
                .filter(|c| !server.contains(c))
                .collect();
            if client.is_empty() {
                client = server.clone();
            }
            Ok((server, client))
        }
    }
}

fn packages(n: u64) -> String {
    format!("{n} package{}", if n == 1 { "" } else { "s" })
}

/// ", 123.4 MB with its runtime" when known (issue 14: the runtime is shown apart).
fn with_runtime(fp: &lab::install::Footprint) -> String {
    fp.with_runtime_bytes
        .map(|b| format!(", {} with its runtime", mb(b)))
        .unwrap_or_default()
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn list(dir: &TargetsDir) -> anyhow::Result<()> {
    say!("Targets in {}", dir.path.display());
    say!(
        "{:<22} {:<8} {:<12} {:<10} {:<28} summary",
        "name",
        "language",
        "framework",
        "installed",
        "endpoints"
    );
    let mut broken = Vec::new();
    for t in dir.load_all() {
        match t {
            Ok(t) => {
                let m = &t.manifest;
                let endpoints: Vec<&str> = m.endpoints.iter().map(|e| e.as_str()).collect();
                say!(
                    "{:<22} {:<8} {:<12} {:<10} {:<28} {}",
                    m.name,
                    m.language.as_str(),
                    m.framework,
                    match (
                        lab::install::is_installed(&t),
                        lab::install::is_up_to_date(&t),
                    ) {
                        (false, _) => "no",
                        (true, false) if t.manifest.language != lab::manifest::Language::Rust => {
                            "stale"
                        }
                        _ => "yes",
                    },
                    endpoints.join(" "),
                    m.summary
                );
            }
            Err(e) => broken.push(e.to_string()),
        }
    }
    if !broken.is_empty() {
        for b in &broken {
            eprintln!("error: {b}");
        }
        return Err(UsageError(format!("{} broken manifest(s)", broken.len())).into());
    }
    Ok(())
}

/// Installs one target (printing its step output when `verbose`, else only on failure).
fn install_one(dir: &TargetsDir, t: &Target, force: bool, verbose: bool) -> anyhow::Result<()> {
    let name = t.name().to_string();
    if !force && lab::install::is_up_to_date(t) {
        let fp = lab::install::footprint(t);
        if verbose {
            eprintln!(
                "{name}: already installed ({}, {} on disk{}; --force to reinstall)",
                packages(fp.packages),
                mb(fp.bytes),
                with_runtime(&fp)
            );
        }
        return Ok(());
    }
    // A built Rust target is handed to cargo every time (a no-op when nothing changed): only
    // worth a line when asked for (`targets install`) or when something is really installed.
    let routine = !force
        && lab::install::is_installed(t)
        && t.manifest.language == lab::manifest::Language::Rust;
    let announce = verbose || !routine;
    match lab::install::stale_reason(t) {
        Some(why) if announce && !force && lab::install::is_installed(t) => {
            eprintln!("{name}: updating ({why})…")
        }
        _ if announce => eprintln!("{name}: installing…"),
        _ => {}
    }
    let mut on_line = |l: &str| {
        if verbose {
            eprintln!("  {name} | {l}");
        }
    };
    let out = lab::install::install(t, &dir.repo(), force, STEP_TIMEOUT, &mut on_line)
        .map_err(anyhow::Error::new)?;
    let fp = lab::install::footprint(t);
    if announce {
        eprintln!(
            "{name}: installed in {:.1} s ({}, {} on disk{})",
            out.took.as_secs_f64(),
            packages(fp.packages),
            mb(fp.bytes),
            with_runtime(&fp)
        );
    }
    Ok(())
}

fn start_upstream(client: &[usize]) -> anyhow::Result<Upstream> {
    let spec =
        UpstreamSpec::current_exe(client.to_vec()).context("locating the stackwise binary")?;
    Ok(spec.start_upstream()?)
}

/// The run's database when a target needs one (or `--database-url` is given): the lab's cluster
/// on the client CPUs, else the user's. A lab cluster that cannot start (PostgreSQL missing) is
/// announced and the rest goes on without it; a refused `--database-url` is an error.
fn start_database(
    targets: &[Target],
    client: &[usize],
    url: Option<&str>,
) -> anyhow::Result<Option<RunDatabase>> {
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
                eprintln!("note: {n}");
            }
            Ok(Some(db))
        }
        Err(e) if url.is_some() => Err(UsageError(e.to_string()).into()),
        Err(e) => {
            eprintln!(
                "warning: the database endpoints cannot run: {e}\n  (the other endpoints go on without it)"
            );
            Ok(None)
        }
    }
}

fn check_all(
    dir: &TargetsDir,
    targets: &[Target],
    server: &[usize],
    client: &[usize],
    requests: u32,
    database_url: Option<&str>,
) -> anyhow::Result<()> {
    let mut database = start_database(targets, client, database_url)?;
    let mut upstream = start_upstream(client)?;
    let mut failed = Vec::new();
    for t in targets {
        let name = t.name().to_string();
        if let (Some(db), true) = (&database, t.needs_database()) {
            // Every target starts from the same data.
            db.database()
                .reset()
                .map_err(|e| anyhow::anyhow!("resetting the database: {e}"))?;
        }
        let verdict = check_one(
            dir,
            t,
            server,
            &upstream,
            database.as_ref().map(|d| d.database()),
            requests,
        );
        exit_if_interrupted();
        match verdict {
            Ok(true) => {}
            Ok(false) => failed.push(name),
            Err(e) => {
                say!("{name}: FAIL\n  {}", format!("{e:#}").replace('\n', "\n  "));
                failed.push(name);
            }
        }
        if let Err(c) = upstream.check_alive() {
            bail!("the upstream service stopped: {c}");
        }
        if let Some(Err(c)) = database.as_mut().map(|d| d.check_alive()) {
            bail!("the database stopped: {c}");
        }
    }
    upstream.stop();
    if let Some(db) = database.as_mut() {
        db.stop();
    }
    let passed = targets.len() - failed.len();
    say!("{passed} of {} target(s) pass the contract", targets.len());
    if !failed.is_empty() {
        bail!("not conforming: {}", failed.join(", "));
    }
    Ok(())
}

/// Installs (if needed), starts, checks and stops one target; Ok(false) when it does not conform.
fn check_one(
    dir: &TargetsDir,
    t: &Target,
    server: &[usize],
    upstream: &Upstream,
    database: Option<&Database>,
    requests: u32,
) -> anyhow::Result<bool> {
    install_one(dir, t, false, false)?;
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
    say!(
        "{}: {} (cold start {:.0} ms, {} worker(s), seed {})",
        t.name(),
        if ok { "pass" } else { "FAIL" },
        running.server.cold_start.as_secs_f64() * 1000.0,
        running.config.workers,
        report.seed
    );
    say!("{report}");
    if let Some(c) = crashed {
        say!("  the target crashed during the check: {c}");
    }
    if stop.forced {
        eprintln!(
            "warning: {} did not stop within {} s of SIGTERM and was killed (SIGKILL)",
            t.name(),
            GRACE.as_secs()
        );
    }
    if !stop.leaked.is_empty() {
        eprintln!(
            "warning: {}: {} process(es) were left after stopping it (killed): {:?}",
            t.name(),
            stop.leaked.len(),
            stop.leaked
        );
    }
    Ok(ok)
}

fn serve(
    dir: &TargetsDir,
    t: &Target,
    port: u16,
    mut opts: LaunchOptions,
    client: Vec<usize>,
    database_url: Option<&str>,
) -> anyhow::Result<()> {
    install_one(dir, t, false, true)?;
    exit_if_interrupted();
    let mut database = start_database(std::slice::from_ref(t), &client, database_url)?;
    exit_if_interrupted();
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
            exit_if_interrupted();
            return Err(e.into());
        }
    };
    let base = running.base_url();
    if port != 0 && running.server.port != port {
        eprintln!(
            "port {port} is in use: serving on {} instead",
            running.server.port
        );
    }
    say!("{} ({}) serving on {base}", t.name(), t.manifest.framework);
    say!(
        "  {} worker(s), {} thread(s) each, pinned to CPUs {:?}; cold start {:.0} ms",
        running.config.workers,
        running.config.threads,
        running.config.cpus,
        running.server.cold_start.as_secs_f64() * 1000.0
    );
    for e in &t.manifest.endpoints {
        let path = match e {
            lab::manifest::Endpoint::Io => "/io?ms=10",
            lab::manifest::Endpoint::Cpu => "/cpu?n=100000",
            lab::manifest::Endpoint::Hash => "/hash?n=100",
            lab::manifest::Endpoint::Json => "/json",
            lab::manifest::Endpoint::Plaintext => "/plaintext",
            lab::manifest::Endpoint::Ws => "/ws (WebSocket echo)",
            lab::manifest::Endpoint::Db => "/db",
            lab::manifest::Endpoint::Queries => "/queries?q=10",
            lab::manifest::Endpoint::Fortunes => "/fortunes",
            lab::manifest::Endpoint::Updates => "/updates?q=5",
            lab::manifest::Endpoint::Crud => {
                "/items?limit=10 and /items/1 (GET, PUT, DELETE; POST /items)"
            }
            lab::manifest::Endpoint::Vector => "/vector?n=1000000",
        };
        say!("  {base}{path}");
    }
    say!(
        "  upstream (for /io): {} pinned to CPUs {:?}",
        upstream.url(),
        client
    );
    match &database {
        Some(RunDatabase::Lab(pg)) => say!(
            "  database: {} (the lab's PostgreSQL, pid {}, pinned to CPUs {:?}, data in {}; deleted on exit)",
            pg.database().url,
            pg.pid(),
            client,
            pg.dir().display()
        ),
        Some(RunDatabase::External(db)) => say!("  database: {} (yours)", db.url),
        None if t.needs_database() => {
            say!("  database: none (the database endpoints answer 503)")
        }
        None => {}
    }
    say!("Press Ctrl-C to stop.");
    let mut problem = None;
    while !lab::process::interrupted() {
        if let Err(c) = running.server.check_alive() {
            problem = Some(format!("{c}"));
            break;
        }
        if let Err(c) = upstream.check_alive() {
            problem = Some(format!("the upstream stopped: {c}"));
            break;
        }
        if let Some(Err(c)) = database.as_mut().map(|d| d.check_alive()) {
            problem = Some(format!("the database stopped: {c}"));
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let stop = running.server.stop(GRACE);
    let up = upstream.stop();
    if let Some(r) = database.as_mut().and_then(|d| d.stop()) {
        if !r.leaked.is_empty() {
            eprintln!(
                "warning: the database left {} process(es) (killed): {:?}",
                r.leaked.len(),
                r.leaked
            );
        }
    }
    let leaked = stop.leaked.len() + up.leaked.len();
    if leaked > 0 {
        eprintln!(
            "warning: {leaked} process(es) were left after stopping (killed): {:?} {:?}",
            stop.leaked, up.leaked
        );
    } else {
        eprintln!("stopped {} and the upstream; no process left", t.name());
    }
    if let Some(p) = problem {
        bail!("{p}");
    }
    Ok(())
}
