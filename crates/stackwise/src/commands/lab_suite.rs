//! `stackwise lab`: arguments → [`lab::suite::SuiteOptions`] → the suite runner with a progress
//! bar over the suite, a live line per cell and Ctrl-C handling → a table per workload (or the
//! run as JSON). `--plan` prints the cells and the ETA; `--resume` completes the last unfinished
//! run. Every cell is in the store the moment it is measured. A run takes the store's run lock
//! first ([`lab::runlock`]: refuses when another run holds it, or waits with `--wait`; reports the
//! sweep of what a killed previous run left; starts the watchdog); a failed store write stops it.
//! `--target-url URL [--allow-remote]` runs the suite over [`lab::remote::RemoteHost`] (a deployed
//! service: a non-loopback URL is refused without `--allow-remote`, before anything runs).
//! `--events json` writes the suite's typed events on stdout, one JSON line each (the human text
//! goes to stderr); the lines and the live line are rendered by [`reports::live`]. The suite's
//! option errors are typed ([`lab::suite::SuiteError`]); [`flag`] spells their fields as flags.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use lab::suite::{self, Event, Field, Host, Outcome, SuiteError, SuiteOptions};
use lab::workload::{self, StopFlag, Timing};
use store::{Store, StoreError};

use crate::cli::LabArgs;
use crate::UsageError;

pub fn run(args: LabArgs) -> anyhow::Result<()> {
    let db_path: PathBuf = match &args.db {
        Some(p) => p.clone(),
        None => store::default_path().map_err(|e| UsageError(e.to_string()))?,
    };
    if let Some(which) = &args.show {
        let store = open_store(&db_path)?;
        let run = match which.as_str() {
            "latest" => store.latest_run()?.ok_or_else(|| {
                UsageError(format!("--show: no run stored in {}", db_path.display()))
            })?,
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
        return Ok(());
    }
    // --target-url: refused before anything runs when it is not loopback and not allowed.
    let remote = args
        .target_url
        .as_deref()
        .map(|u| lab::remote::resolve(u, args.allow_remote))
        .transpose()
        .map_err(|e| UsageError(e.to_string()))?;
    // A remote run's options are read once, here (the host checks the workloads' endpoints).
    let remote_opts = remote
        .as_ref()
        .map(|_| options_from_args(&args))
        .transpose()?;
    let host: Box<dyn Host> = match (&remote, &remote_opts) {
        (Some(r), Some(o)) => remote_host(r.clone(), &args, &o.workloads)?,
        _ => {
            lab::host::lab_host(args.database_url.clone()).map_err(|e| UsageError(e.to_string()))?
        }
    };
    let mut store = open_store(&db_path)?;
    // One run per store: taken before --resume picks the unfinished run (a running one is too).
    let lock = if args.plan {
        None
    } else {
        Some(take_lock(&db_path, args.wait)?)
    };

    let (opts, resume) = if args.resume {
        let id = store.latest_unfinished_run_id()?.ok_or_else(|| {
            UsageError(format!(
                "--resume: no unfinished run in {} (every run there is complete)",
                db_path.display()
            ))
        })?;
        let settings = store.run_settings(id)?;
        if let Some(url) = settings.get("origin.target_url") {
            return Err(UsageError(format!(
                "--resume: run {id} measured a remote target ({url}); its server is not under the lab's control, so a resumed run could not vouch it is the same: run `stackwise lab --target-url` again"
            ))
            .into());
        }
        let opts = SuiteOptions::from_settings(&settings)
            .map_err(|e| anyhow::anyhow!("run {id} in {}: {e}", db_path.display()))?;
        (opts, Some(id))
    } else {
        let mut opts = match remote_opts {
            Some(o) => o,
            None => options_from_args(&args)?,
        };
        if let Some(r) = &remote {
            // No cold starts: the lab does not start the server. No server CPUs here either:
            // the load engine gets every CPU, and nothing is read from "the server's" CPUs.
            opts.cold_starts = 0;
            opts.client_cpus = loadgen::cpu::allowed_cpus();
            opts.server_cpus = vec![];
            opts.targets = host
                .targets()
                .map_err(|e| UsageError(e.to_string()))?
                .into_iter()
                .map(|t| t.name)
                .collect();
            eprintln!(
                "note: --target-url {}: {}; {}",
                r.url,
                if r.loopback {
                    "a loopback address"
                } else {
                    "a remote address (--allow-remote)"
                },
                lab::remote::SERVER_SIDE_NOTE
            );
        }
        (opts, None)
    };

    if args.plan {
        return print_plan(host.as_ref(), &store, &opts, resume);
    }
    if let Some(url) = &args.database_url {
        // Refused before anything runs when it holds other tables; what the lab cannot control
        // there is said. The database workloads (db, queries, fortunes, updates, crud) use it in
        // place of the lab's own cluster; its CPU is not sampled (db_cpu_us_per_req is absent).
        let db = lab::postgres::Database::external(url).map_err(|e| UsageError(e.to_string()))?;
        for n in &db.notes {
            eprintln!("note: --database-url: {n}");
        }
        eprintln!(
            "note: --database-url: {} is loaded with the lab's tables and used by the database workloads instead of the lab's own cluster; its CPU is not measured",
            db.url
        );
    }

    let mut machine = lab::machine::fingerprint(
        &opts.server_cpus,
        &opts.client_cpus,
        env!("CARGO_PKG_VERSION"),
    );
    // The BLAS NumPy uses in the Python targets (the `vector` workload; issue 14).
    if let Some(blas) = lab::manifest::TargetsDir::discover(None)
        .ok()
        .filter(|_| remote.is_none())
        .and_then(|d| lab::machine::blas(&d))
    {
        machine.runtimes.insert("blas".into(), blas);
    }
    let stop = StopFlag::new();
    install_ctrl_c(stop.clone());
    let events = args.events.is_some();
    // With --events json, stdout carries the events only: the human text is left to stderr, and
    // the progress lines are off (the events say it all).
    let mut ui = Ui::new(
        !events && !args.no_progress && std::io::stderr().is_terminal(),
        !events,
    );
    let mut event_out = std::io::stdout();
    let mut write_failed: Option<std::io::Error> = None;
    let outcome = suite::run(
        host.as_ref(),
        &mut store,
        &opts,
        machine,
        resume,
        &stop,
        &mut |e| {
            if let Event::RunStarted { run_id, .. } = &e {
                lab::runlock::set_run_id(*run_id);
            }
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
        },
    )
    .map_err(suite_error)?;
    ui.finish();
    if let Some(e) = write_failed {
        eprintln!(
            "warning: --events: writing the events to stdout failed ({e}); the run was stored"
        );
    }
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
                let end = super::report::lab_end(&store, &db_path, run_id, args.db.is_some())?;
                write!(out, "{end}")?;
            }
            Ok(())
        }
        Outcome::Interrupted { run_id } => {
            let missing = store.missing_cells(run_id)?.len();
            drop(host);
            drop(store);
            drop(lock);
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

/// The host for `--target-url`: one target, named by `--targets NAME` (a lab target's name takes
/// its language, framework and endpoints) or after its address.
fn remote_host(
    r: lab::remote::RemoteUrl,
    args: &LabArgs,
    workloads: &[String],
) -> anyhow::Result<Box<dyn Host>> {
    if args.targets.len() > 1 {
        return Err(UsageError(format!(
            "--targets: with --target-url, at most one name (the deployed service's), got {}",
            args.targets.join(",")
        ))
        .into());
    }
    let name = args
        .targets
        .first()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| lab::remote::default_name(&r.addr));
    let known = lab::host::default_host()
        .ok()
        .and_then(|h| h.targets().ok())
        .and_then(|ts| ts.into_iter().find(|t| t.name == name));
    Ok(Box::new(lab::remote::RemoteHost::new(
        r, &name, known, workloads,
    )))
}

fn open_store(path: &std::path::Path) -> anyhow::Result<Store> {
    Store::open(path).map_err(|e| match e {
        StoreError::TooNew { .. } | StoreError::Dir { .. } | StoreError::Corrupt { .. } => {
            anyhow::Error::new(UsageError(format!("--db: {e}")))
        }
        other => anyhow::Error::new(other),
    })
}

/// Takes the store's run lock (refusing, or with `--wait` waiting, when another run holds it),
/// reports what a killed previous run left and was swept, and starts the watchdog.
fn take_lock(db: &std::path::Path, wait: bool) -> anyhow::Result<lab::runlock::RunLock> {
    let (lock, sweep) = lab::runlock::RunLock::acquire(db, wait, &mut |busy| {
        eprintln!("waiting: {busy}");
    })
    .map_err(|e| match e {
        lab::runlock::LockError::InUse { .. } => anyhow::Error::new(UsageError(e.to_string())),
        other => anyhow::Error::new(other),
    })?;
    if let Some(s) = sweep {
        for l in s.lines() {
            eprintln!("warning: {l}");
        }
    }
    let watchdog = std::env::current_exe().and_then(|exe| lock.start_watchdog(&exe));
    if let Err(e) = watchdog {
        eprintln!(
            "warning: no watchdog ({e}): if this run is killed, its servers' workers are ended only at the next start"
        );
    }
    Ok(lock)
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

fn print_plan(
    host: &dyn Host,
    store: &Store,
    opts: &SuiteOptions,
    resume: Option<i64>,
) -> anyhow::Result<()> {
    let plan = suite::plan(host, opts).map_err(suite_error)?;
    let cells: Vec<store::PlannedCell> = match resume {
        Some(id) => store.missing_cells(id)?,
        None => plan.cells.clone(),
    };
    let mut out = std::io::stdout().lock();
    if let Some(id) = resume {
        writeln!(
            out,
            "Resuming run {id}: {} of {} cells still to measure",
            cells.len(),
            plan.cells.len()
        )?;
    }
    writeln!(
        out,
        "{} cells: {} targets × {} workloads; {} repeat(s), {} s windows, {} cold starts per target; server CPUs {:?}, engine and upstream CPUs {:?}",
        cells.len(),
        plan.targets.len(),
        opts.workloads.len(),
        opts.repeats,
        opts.timing.duration.as_secs_f64(),
        opts.cold_starts,
        opts.server_cpus,
        opts.client_cpus
    )?;
    for id in &opts.workloads {
        if let Some(w) = workload::by_id(id) {
            let n = suite::cell_repeats(w.as_ref(), opts.repeats);
            let what = match (w.kind() == lab::workload::Kind::Capacity, n) {
                (true, 1) => "1 search".to_string(),
                (true, n) => format!("{n} searches"),
                (false, 1) => "1 repeat".to_string(),
                (false, n) => format!("{n} repeats"),
            };
            writeln!(out, "  {id:<10} {what:<11} {}", w.describe())?;
        }
    }
    let left_out: Vec<&str> = workload::on_request()
        .into_iter()
        .filter(|id| !opts.workloads.iter().any(|w| w == id))
        .collect();
    if !left_out.is_empty() {
        writeln!(
            out,
            "  on request, not in this plan (no claim or adviser price reads them): {}; add them with --workloads ID, or run every workload with --all",
            left_out.join(" ")
        )?;
    }
    let mut by_target: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in &cells {
        by_target.entry(&c.target).or_default().push(&c.workload);
    }
    for t in &plan.targets {
        let list = by_target
            .get(t.name.as_str())
            .map(|v| v.join(" "))
            .unwrap_or_else(|| "(nothing left)".into());
        writeln!(out, "  {:<22} {list}", t.name)?;
    }
    for (c, why) in &plan.skipped {
        writeln!(out, "  skipped: {} {} ({why})", c.target, c.workload)?;
    }
    let targets_with_work = by_target.len();
    let eta = suite::eta(&cells, opts, targets_with_work);
    writeln!(
        out,
        "ETA {} once installed (first use also installs the targets)",
        fmt_eta(eta)
    )?;
    Ok(())
}

fn fmt_eta(d: Duration) -> String {
    reports::live::eta(d.as_secs_f64())
}

/// First Ctrl-C: stop the current cell, stop every target, keep what is stored. Second: exit.
fn install_ctrl_c(stop: StopFlag) {
    let handler = move || {
        if stop.is_set() {
            std::process::exit(130);
        }
        stop.trigger();
        eprintln!("\nstopping: the current cell is dropped, finished cells are kept (Ctrl-C again to quit at once)");
    };
    if let Err(e) = lab::host::on_interrupt(Box::new(handler)) {
        eprintln!(
            "warning: Ctrl-C cannot be handled ({e}); targets may be left running if you press it"
        );
    }
}

/// Progress: a bar over the suite (cells done, ETA) and a live line for the current cell on a
/// terminal; plain lines otherwise (or none: `--events json`). The text is [`reports::live`]'s.
struct Ui {
    bars: Option<(MultiProgress, ProgressBar, ProgressBar)>,
    /// Print the log lines (off with `--events json`).
    lines: bool,
    started: Instant,
    remaining_estimate: Duration,
    /// The estimates of the cells started and not yet done (repeats are interleaved across
    /// targets, so several cells are in progress at once).
    current_estimate: BTreeMap<(String, String), Duration>,
    done_estimate: Duration,
}

impl Ui {
    fn new(tty: bool, lines: bool) -> Ui {
        let bars = tty.then(|| {
            let mp = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8));
            let bar = mp.add(
                ProgressBar::new(0).with_style(
                    ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} cells  {msg}")
                        .expect("static template")
                        .progress_chars("=> "),
                ),
            );
            bar.set_prefix("lab");
            let live = mp.add(ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("  {spinner} {msg}").expect("static template"),
            ));
            live.enable_steady_tick(Duration::from_millis(200));
            (mp, bar, live)
        });
        Ui {
            bars,
            lines,
            started: Instant::now(),
            remaining_estimate: Duration::ZERO,
            current_estimate: Default::default(),
            done_estimate: Duration::ZERO,
        }
    }

    fn line(&self, text: String) {
        match &self.bars {
            Some((mp, _, _)) => {
                let _ = mp.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    fn eta(&self) -> String {
        // The workloads' estimates, corrected by how long the finished part really took.
        let elapsed = self.started.elapsed().as_secs_f64();
        let factor = if self.done_estimate.as_secs_f64() > 5.0 {
            (elapsed / self.done_estimate.as_secs_f64()).clamp(0.5, 3.0)
        } else {
            1.0
        };
        format!("ETA {}", fmt_eta(self.remaining_estimate.mul_f64(factor)))
    }

    fn on(&mut self, e: Event) {
        match &e {
            Event::RunStarted { plan, .. } => {
                self.remaining_estimate = Duration::from_secs_f64(plan.eta_s.max(0.0));
                if let Some((_, bar, _)) = &self.bars {
                    bar.set_length(plan.remaining as u64);
                }
            }
            Event::CellStarted {
                target,
                workload,
                eta_s,
                ..
            } => {
                self.current_estimate.insert(
                    (target.clone(), workload.clone()),
                    Duration::from_secs_f64(eta_s.max(0.0)),
                );
            }
            Event::CellDone {
                target, workload, ..
            } => {
                let estimate = self
                    .current_estimate
                    .remove(&(target.clone(), workload.clone()))
                    .unwrap_or_default();
                self.remaining_estimate = self.remaining_estimate.saturating_sub(estimate);
                self.done_estimate += estimate;
                if let Some((_, bar, _)) = &self.bars {
                    bar.inc(1);
                }
            }
            _ => {}
        }
        match (&self.bars, reports::live::live_line(&e)) {
            // On a terminal, progress and install output move the live line.
            (Some((_, bar, live)), Some(text)) => {
                live.set_message(text);
                bar.set_message(self.eta());
                return;
            }
            (Some((_, bar, _)), None) => bar.set_message(self.eta()),
            (None, _) => {}
        }
        if self.lines {
            if let Some(text) = reports::live::log_line(&e) {
                self.line(text);
            }
        }
    }

    fn finish(&mut self) {
        if let Some((mp, bar, live)) = self.bars.take() {
            live.finish_and_clear();
            bar.finish_and_clear();
            let _ = mp.clear();
        }
    }
}
