//! `stackwise lab`: arguments → [`lab::suite::SuiteOptions`] and [`lab::session::SessionOptions`]
//! → [`lab::session::Session`] (host, store, run lock, `--resume`, `--target-url`, Ctrl-C, the
//! run) → a table per workload (or the run as JSON). `--plan` prints [`reports::plan`]'s text;
//! the progress is [`reports::progress`]'s; `--events json` writes the suite's typed events on
//! stdout, one JSON line each (the human text goes to stderr). Errors are typed
//! ([`lab::session::SessionError`], [`lab::suite::SuiteError`]); [`flag`] spells the suite's
//! fields as flags.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use lab::session::{Session, SessionError, SessionOptions};
use lab::suite::{Field, Outcome, SuiteError, SuiteOptions};
use lab::workload::{self, StopFlag, Timing};
use reports::progress::Ui;

use crate::cli::LabArgs;
use crate::UsageError;

pub fn run(args: LabArgs) -> anyhow::Result<()> {
    let db_path: PathBuf = match &args.db {
        Some(p) => p.clone(),
        None => store::default_path().map_err(|e| UsageError(e.to_string()))?,
    };
    if let Some(which) = &args.show {
        return show(&args, &db_path, which);
    }
    // --target-url: refused before anything runs when it is not loopback and not allowed.
    let remote = args
        .target_url
        .as_deref()
        .map(|u| lab::remote::resolve(u, args.allow_remote))
        .transpose()
        .map_err(|e| UsageError(e.to_string()))?;
    // The flags' options (a resumed lab run has its own, stored).
    let opts = (!args.resume || remote.is_some())
        .then(|| options_from_args(&args))
        .transpose()?;
    let s = SessionOptions {
        db: db_path.clone(),
        wait: args.wait,
        plan_only: args.plan,
        resume: args.resume,
        remote,
        targets: args.targets.clone(),
        database_url: args.database_url.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
    };
    let mut session = Session::open(&s, opts, &mut |n| eprintln!("{n}")).map_err(session_error)?;
    if args.plan {
        let plan = session.plan().map_err(session_error)?;
        write!(std::io::stdout().lock(), "{}", reports::plan::render(&plan))?;
        return Ok(());
    }
    let stop = StopFlag::new();
    if let Err(e) = lab::session::on_ctrl_c(stop.clone()) {
        eprintln!(
            "warning: Ctrl-C cannot be handled ({e}); targets may be left running if you press it"
        );
    }
    let events = args.events.is_some();
    // With --events json, stdout carries the events only: the human text is left to stderr, and
    // the progress lines are off (the events say it all).
    let mut ui = Ui::new(
        !events && !args.no_progress && std::io::stderr().is_terminal(),
        !events,
    );
    let mut event_out = std::io::stdout();
    let mut write_failed: Option<std::io::Error> = None;
    let outcome = session
        .run(&stop, &mut |n| eprintln!("{n}"), &mut |e| {
            if events && write_failed.is_none() {
                let line = workloads::events::EventLine::new(e.clone());
                let r = serde_json::to_writer(&mut event_out, &line)
                    .map_err(std::io::Error::from)
                    .and_then(|()| writeln!(event_out))
                    .and_then(|()| event_out.flush());
                if let Err(err) = r {
                    // The reader is gone (a closed pipe): the run goes on and is stored.
                    write_failed = Some(err);
                }
            }
            ui.on(e)
        })
        .map_err(session_error)?;
    ui.finish();
    if let Some(e) = write_failed {
        eprintln!(
            "warning: --events: writing the events to stdout failed ({e}); the run was stored"
        );
    }
    let store = &session.store;
    match outcome {
        Outcome::Finished { run_id } => {
            let run = store.run(run_id)?;
            if events {
                let mut out = std::io::stderr().lock();
                write!(out, "{}", reports::terminal::tables(&run))?;
                writeln!(out, "Stored as run {run_id} in {}", db_path.display())?;
                return Ok(());
            }
            let mut out = std::io::stdout().lock();
            if args.json {
                serde_json::to_writer_pretty(&mut out, &run)?;
                writeln!(out)?;
            } else {
                write!(out, "{}", reports::terminal::tables(&run))?;
                writeln!(out, "Stored as run {run_id} in {}", db_path.display())?;
                let end = super::report::lab_end(store, &db_path, run_id, args.db.is_some())?;
                write!(out, "{end}")?;
            }
            Ok(())
        }
        Outcome::Interrupted { run_id } => {
            let missing = store.missing_cells(run_id)?.len();
            drop(session);
            eprintln!(
                "interrupted: run {run_id} keeps every finished cell ({missing} still to measure) in {}; \
                 `stackwise lab --resume{}` completes it",
                db_path.display(),
                args.db
                    .as_ref()
                    .map(|p| format!(" --db {}", p.display()))
                    .unwrap_or_default()
            );
            std::process::exit(130);
        }
    }
}

/// `--show [ID]`: a stored run's tables (or JSON).
fn show(args: &LabArgs, db_path: &Path, which: &str) -> anyhow::Result<()> {
    let store = lab::session::open_store(db_path).map_err(session_error)?;
    let run = match which {
        "latest" => store
            .latest_run()?
            .ok_or_else(|| UsageError(format!("--show: no run stored in {}", db_path.display())))?,
        id => {
            let id: i64 = id.parse().map_err(|_| {
                UsageError(format!(
                    "--show: '{id}' is not a run id (a number, or nothing for the latest)"
                ))
            })?;
            store
                .run(id)
                .map_err(|e| UsageError(format!("--show: {e}")))?
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &run)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", reports::terminal::tables(&run))?;
    }
    Ok(())
}

/// A session's error: the user's input is a usage error (exit 2; an option's names its flag),
/// the rest fail the run.
fn session_error(e: SessionError) -> anyhow::Error {
    match e {
        SessionError::Suite(e) => suite_error(e),
        e if e.is_usage() => anyhow::Error::new(UsageError(e.to_string())),
        e => anyhow::Error::new(e),
    }
}

/// The flag of a suite option.
pub fn flag(field: Field) -> &'static str {
    match field {
        Field::Targets => "--targets",
        Field::Workloads => "--workloads",
        Field::Repeats => "--repeats",
        Field::Duration => "--duration",
        Field::Warmup => "--warmup",
        Field::Rung => "--rung",
        Field::SloP99 => "--slo-p99",
        Field::ColdStarts => "--cold-starts",
        Field::WsConnections => "--ws-connections",
        Field::Workers => "--workers",
    }
}

/// A suite error: an option's is a usage error naming its flag (exit 2), the rest fail the run.
fn suite_error(e: SuiteError) -> anyhow::Error {
    match e {
        SuiteError::Invalid { field, message } => {
            anyhow::Error::new(flag_error(flag(field), message))
        }
        SuiteError::Run(e) => anyhow::anyhow!(e),
    }
}

fn flag_error(flag: &str, msg: impl std::fmt::Display) -> UsageError {
    UsageError(format!("{flag}: {msg}"))
}

fn parse_duration(flag: &str, s: &str) -> Result<Duration, UsageError> {
    let d = humantime::parse_duration(s.trim()).map_err(|e| {
        flag_error(
            flag,
            format!("'{s}' is not a duration ({e}); use e.g. 5s, 1500ms"),
        )
    })?;
    if d.is_zero() {
        return Err(flag_error(flag, "must be longer than zero"));
    }
    if d > Duration::from_secs(3600) {
        return Err(flag_error(
            flag,
            format!("'{s}' is longer than the hour the lab accepts"),
        ));
    }
    Ok(d)
}

/// Turns arguments into suite options; every error names its flag.
pub fn options_from_args(a: &LabArgs) -> Result<SuiteOptions, UsageError> {
    let mut timing = if a.quick {
        Timing::quick()
    } else {
        Timing::full()
    };
    if let Some(d) = &a.duration {
        timing.duration = parse_duration("--duration", d)?;
    }
    if let Some(d) = &a.warmup {
        timing.warmup = humantime::parse_duration(d.trim())
            .map_err(|e| flag_error("--warmup", format!("'{d}' is not a duration ({e})")))?;
        timing.rung_warmup = timing.rung_warmup.min(timing.warmup);
    }
    if let Some(d) = &a.rung {
        timing.rung = parse_duration("--rung", d)?;
    }
    if let Some(s) = &a.slo_p99 {
        let ms = match s.trim().parse::<f64>() {
            Ok(v) => v,
            Err(_) => parse_duration("--slo-p99", s)?.as_secs_f64() * 1000.0,
        };
        if !(ms.is_finite() && ms > 0.0) {
            return Err(flag_error(
                "--slo-p99",
                format!("'{s}' must be a positive latency, e.g. 100ms"),
            ));
        }
        timing.slo_p99_ms = ms;
    }
    if let Some(n) = a.ws_connections {
        timing.ws_connections = n;
    }
    let workloads: Vec<String> = if a.workloads.is_empty() {
        if a.quick {
            workload::quick().iter().map(|s| s.to_string()).collect()
        } else if a.all {
            workload::catalogue()
                .iter()
                .map(|w| w.id().to_string())
                .collect()
        } else {
            // The full suite: every workload a claim or the adviser reads (the registry's tiers).
            workload::full().iter().map(|s| s.to_string()).collect()
        }
    } else {
        let mut seen = Vec::new();
        for w in &a.workloads {
            if !seen.contains(w) {
                seen.push(w.clone());
            }
        }
        seen
    };
    let repeats = a.repeats.unwrap_or(if a.quick { 1 } else { 3 });
    let cold_starts = a.cold_starts.unwrap_or(if a.quick {
        workload::COLD_STARTS_QUICK
    } else {
        workload::COLD_STARTS_FULL
    });
    let server = a
        .server_cpus
        .as_deref()
        .map(|s| loadgen::cpu::parse_cpu_list(s).map_err(|e| flag_error("--server-cpus", e)))
        .transpose()?;
    let allowed = loadgen::cpu::allowed_cpus();
    let (server_cpus, client_cpus, warning) =
        lab::placement::split_cpus(&allowed, server.as_deref())
            .map_err(|e| UsageError(e.to_string()))?;
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    let mut workers = BTreeMap::new();
    for kv in &a.workers {
        let (name, n) = kv.split_once('=').ok_or_else(|| {
            flag_error(
                "--workers",
                format!("'{kv}': expected NAME=N, e.g. python-flask-sync=4"),
            )
        })?;
        let n: u32 = n
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=256).contains(n))
            .ok_or_else(|| {
                flag_error(
                    "--workers",
                    format!("'{kv}': N must be a number of workers from 1 to 256"),
                )
            })?;
        workers.insert(name.trim().to_string(), n);
    }
    let mut targets = Vec::new();
    for t in &a.targets {
        let t = t.trim().to_string();
        if !t.is_empty() && !targets.contains(&t) {
            targets.push(t);
        }
    }
    let opts = SuiteOptions {
        targets,
        workloads,
        repeats,
        timing,
        quick: a.quick,
        cold_starts,
        server_cpus,
        client_cpus,
        workers,
    };
    // The ranges and names the suite checks; its fields are spelled as flags here.
    opts.validate().map_err(|e| match e {
        SuiteError::Invalid { field, message } => flag_error(flag(field), message),
        SuiteError::Run(e) => UsageError(e),
    })?;
    Ok(opts)
}
