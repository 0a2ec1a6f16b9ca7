//! `stackwise lab`: arguments → [`lab::suite::SuiteOptions`] → the suite runner with a progress
//! bar over the suite, a live line per cell and Ctrl-C handling → a table per workload (or the
//! run as JSON). `--plan` prints the cells and the ETA; `--resume` completes the last unfinished
//! run. Every cell is in the store the moment it is measured. A run takes the store's run lock
//! first ([`lab::runlock`]: refuses when another run holds it, or waits with `--wait`; reports the
//! sweep of what a killed previous run left; starts the watchdog); a failed store write stops it.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use lab::suite::{self, Event, Host, Outcome, SuiteOptions};
use lab::workload::{self, StopFlag, Timing};
use store::{CellStatus, Store, StoreError};

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
    let host = lab::host::lab_host(args.database_url.clone()).map_err(UsageError)?;
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
        let opts = SuiteOptions::from_settings(&store.run_settings(id)?)
            .map_err(|e| anyhow::anyhow!("run {id} in {}: {e}", db_path.display()))?;
        (opts, Some(id))
    } else {
        (options_from_args(&args)?, None)
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
        .and_then(|d| lab::machine::blas(&d))
    {
        machine.runtimes.insert("blas".into(), blas);
    }
    let stop = StopFlag::new();
    install_ctrl_c(stop.clone());
    let mut ui = Ui::new(!args.no_progress && std::io::stderr().is_terminal());
    let outcome = suite::run(
        host.as_ref(),
        &mut store,
        &opts,
        machine,
        resume,
        &stop,
        &mut |e| {
            if let Event::Begin { run_id, .. } = &e {
                lab::runlock::set_run_id(*run_id);
            }
            ui.on(e)
        },
    )
    .map_err(|e| {
        if e.starts_with("--") {
            anyhow::Error::new(UsageError(e))
        } else {
            anyhow::anyhow!(e)
        }
    })?;
    ui.finish();
    match outcome {
        Outcome::Finished { run_id } => {
            let run = store.run(run_id)?;
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
        if !(1..=workload::ws_hold::MAX_CONNECTIONS).contains(&n) {
            return Err(flag_error(
                "--ws-connections",
                format!(
                    "must be 1 to {} (got {n})",
                    workload::ws_hold::MAX_CONNECTIONS
                ),
            ));
        }
        timing.ws_connections = n;
    }
    let workloads: Vec<String> = if a.workloads.is_empty() {
        if a.quick {
            workload::quick().iter().map(|s| s.to_string()).collect()
        } else {
            workload::catalogue()
                .iter()
                .map(|w| w.id().to_string())
                .collect()
        }
    } else {
        let known: Vec<String> = workload::catalogue()
            .iter()
            .map(|w| w.id().to_string())
            .collect();
        for w in &a.workloads {
            if !known.contains(w) {
                return Err(flag_error(
                    "--workloads",
                    format!("unknown workload '{w}' (known: {})", known.join(", ")),
                ));
            }
        }
        let mut seen = Vec::new();
        for w in &a.workloads {
            if !seen.contains(w) {
                seen.push(w.clone());
            }
        }
        seen
    };
    let repeats = a.repeats.unwrap_or(if a.quick { 1 } else { 3 });
    if repeats == 0 || repeats > 100 {
        return Err(flag_error(
            "--repeats",
            format!("must be 1 to 100 (got {repeats})"),
        ));
    }
    let cold_starts = a.cold_starts.unwrap_or(if a.quick {
        workload::COLD_STARTS_QUICK
    } else {
        workload::COLD_STARTS_FULL
    });
    if cold_starts > 100 {
        return Err(flag_error(
            "--cold-starts",
            format!("at most 100 (got {cold_starts})"),
        ));
    }
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
    Ok(SuiteOptions {
        targets,
        workloads,
        repeats,
        timing,
        quick: a.quick,
        cold_starts,
        server_cpus,
        client_cpus,
        workers,
    })
}

fn print_plan(
    host: &dyn Host,
    store: &Store,
    opts: &SuiteOptions,
    resume: Option<i64>,
) -> anyhow::Result<()> {
    let plan = suite::plan(host, opts).map_err(|e| {
        if e.starts_with("--") {
            anyhow::Error::new(UsageError(e))
        } else {
            anyhow::anyhow!(e)
        }
    })?;
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
            writeln!(out, "  {id:<10} {}", w.describe())?;
        }
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
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
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
/// terminal; plain lines otherwise.
struct Ui {
    bars: Option<(MultiProgress, ProgressBar, ProgressBar)>,
    started: Instant,
    total_estimate: Duration,
    remaining_estimate: Duration,
    /// The estimates of the cells started and not yet done (repeats are interleaved across
    /// targets, so several cells are in progress at once).
    current_estimate: std::collections::BTreeMap<(String, String), Duration>,
    done_estimate: Duration,
}

impl Ui {
    fn new(tty: bool) -> Ui {
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
            started: Instant::now(),
            total_estimate: Duration::ZERO,
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
        match e {
            Event::Begin {
                run_id,
                total,
                remaining,
                eta,
            } => {
                self.total_estimate = eta;
                self.remaining_estimate = eta;
                self.line(format!(
                    "run {run_id}: {total} cells, {remaining} to measure, ETA {} once installed",
                    fmt_eta(eta)
                ));
                if let Some((_, bar, _)) = &self.bars {
                    bar.set_length(remaining as u64);
                    bar.set_message(self.eta());
                }
            }
            Event::Target { target } => self.line(target),
            Event::Installing { target, line } => match &self.bars {
                Some((_, _, live)) => live.set_message(format!("{target}: installing: {line}")),
                None => eprintln!("  installing: {line}"),
            },
            Event::TargetFailed { target, reason } => self.line(format!(
                "  {target} FAILED: {}",
                reason.replace('\n', "\n    ")
            )),
            Event::CellStart {
                target,
                workload,
                eta,
            } => {
                self.current_estimate.insert((target, workload), eta);
            }
            Event::Live(text) => {
                if let Some((_, bar, live)) = &self.bars {
                    live.set_message(text);
                    bar.set_message(self.eta());
                }
            }
            Event::CellDone {
                target,
                workload,
                status,
                line,
            } => {
                let estimate = self
                    .current_estimate
                    .remove(&(target.clone(), workload.clone()))
                    .unwrap_or_default();
                self.remaining_estimate = self.remaining_estimate.saturating_sub(estimate);
                self.done_estimate += estimate;
                let mark = match status {
                    CellStatus::Ok => " ",
                    CellStatus::Flagged(_) => "!",
                    CellStatus::Failed(_) => "x",
                };
                // Cells of several targets finish in turn (interleaved repeats): each names its own.
                self.line(format!("  {mark} {target:<22} {workload:<10} {line}"));
                if let Some((_, bar, _)) = &self.bars {
                    bar.inc(1);
                    bar.set_message(self.eta());
                }
            }
            Event::PerTarget { line, .. } => self.line(format!("    {line}")),
            Event::Warning(w) => self.line(format!("  warning: {w}")),
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
