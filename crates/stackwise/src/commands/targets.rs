//! `stackwise targets list | install | check | serve`: the lab's reference backends from the
//! command line; the work is [`lab::targets`]'s, this prints its lines. Also the Ctrl-C handler
//! that stops every live target process group ([`install_interrupt_handler`]), for any command
//! that runs targets.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::bail;
use lab::launch::LaunchOptions;
use lab::manifest::{Target, TargetsDir};
use lab::targets::{Line, TargetsError, READY_TIMEOUT};

use crate::cli::{TargetsArgs, TargetsCommand};
use crate::UsageError;

/// Prints a line to stdout, ignoring a closed stdout (e.g. `stackwise targets list | head -3`).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

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

/// Prints a line of [`lab::targets`].
fn print(l: Line) {
    match l {
        Line::Out(s) => say!("{s}"),
        Line::Err(s) => eprintln!("{s}"),
    }
}

/// A [`TargetsError`]: Ctrl-C exits 130; a refused `--database-url` is a usage error.
fn done(r: Result<(), TargetsError>) -> anyhow::Result<()> {
    match r {
        Ok(()) => Ok(()),
        Err(TargetsError::Interrupted) => exit_interrupted(),
        Err(e) if e.is_usage() => Err(UsageError(e.to_string()).into()),
        Err(e) => Err(e.into()),
    }
}

fn exit_interrupted() -> ! {
    eprintln!("interrupted");
    std::process::exit(130);
}

pub fn run(args: TargetsArgs) -> anyhow::Result<()> {
    install_interrupt_handler();
    let dir =
        TargetsDir::discover(args.targets_dir.as_deref()).map_err(|e| UsageError(e.to_string()))?;
    let cpus = |s: Option<&str>| {
        lab::placement::server_and_client(s).map_err(|e| UsageError(e.to_string()))
    };
    match args.command {
        TargetsCommand::List => list(&dir),
        TargetsCommand::Install { names, force } => {
            let mut failed = Vec::new();
            for t in &load(&dir, &names)? {
                if let Err(e) = lab::targets::install_one(&dir, t, force, true, &mut print) {
                    eprintln!("error: {:#}", anyhow::Error::new(e));
                    failed.push(t.name().to_string());
                }
                if lab::process::interrupted() {
                    exit_interrupted();
                }
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
            done(lab::targets::check_all(
                &dir,
                &targets,
                (&server, &client),
                requests,
                database_url.as_deref(),
                &mut print,
            ))
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
            let opts = LaunchOptions {
                server_cpus: server,
                workers,
                threads,
                workload,
                port: Some(port),
                ready_timeout: READY_TIMEOUT,
                ..Default::default()
            };
            let db = database_url.as_deref();
            done(lab::targets::serve(
                &dir, &target, opts, client, db, &mut print,
            ))
        }
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

fn list(dir: &TargetsDir) -> anyhow::Result<()> {
    say!("Targets in {}", dir.path.display());
    let row = |c: [&str; 6]| {
        say!(
            "{:<22} {:<8} {:<12} {:<10} {:<28} {}",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            c[5]
        )
    };
    row([
        "name",
        "language",
        "framework",
        "installed",
        "endpoints",
        "summary",
    ]);
    let (rows, broken) = lab::targets::rows(dir);
    for r in rows {
        let endpoints = r.endpoints.join(" ");
        row([
            &r.name,
            &r.language,
            &r.framework,
            r.installed,
            &endpoints,
            &r.summary,
        ]);
    }
    if !broken.is_empty() {
        for b in &broken {
            eprintln!("error: {b}");
        }
        return Err(UsageError(format!("{} broken manifest(s)", broken.len())).into());
    }
    Ok(())
}
