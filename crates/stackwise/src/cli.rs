//! The command line, declared with clap's derive API. Values arrive here as text or plain numbers;
//! [`crate::commands`] turns them into typed configurations so that every error can name its flag.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "stackwise",
    version,
    about = "Settles 'Node.js or Python for our backend?' with measurements made on your own machine.",
    propagate_version = true,
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load one HTTP/1.1 endpoint and report throughput, latency percentiles and errors
    /// (like wrk, wrk2 or oha).
    Load(Box<LoadArgs>),
    /// Report a stored lab run: Markdown, JSON, or one self-contained HTML file with charts;
    /// --compare shows two runs side by side.
    Report(ReportArgs),
    /// A local web UI: browse the stored runs, open a report, compare two runs, get the advice for
    /// a profile (bound to 127.0.0.1 unless --allow-remote).
    Serve(ServeArgs),
    /// Recommend Node.js, Python or a hybrid for your backend: the articles' decision framework as
    /// rules with their sources, conflicts and confidence, and the cost from measured capacity.
    Advise(Box<AdviseArgs>),
    /// The lab's reference backends: list, install, check conformance, serve one.
    Targets(TargetsArgs),
    /// The lab's upstream service (`/delay?ms=N`, `/count`), run by the lab as its own process.
    #[command(hide = true)]
    Upstream {
        /// Port on 127.0.0.1 (0: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Run the reference backends (Node.js, Python, Rust) through the same workloads on this
    /// machine, store every result, and print a table per workload.
    Lab(Box<LabArgs>),
    /// The lab's watchdog: ends what a lab run left when that run dies (started by the lab).
    #[command(hide = true, name = "lab-watchdog")]
    LabWatchdog {
        /// The run lock file.
        #[arg(long)]
        lock: std::path::PathBuf,
        /// The lab's pid.
        #[arg(long)]
        pid: i32,
        /// The lab's start time (clock ticks after boot).
        #[arg(long)]
        start: u64,
    },
    /// Print the JSON schema of a report format.
    Schema {
        /// Which schema: `load-report` (the output of `stackwise load --json`), `claims` (the output
        /// of `stackwise claims --json`), `advice` (the output of `stackwise advise --json`).
        #[arg(value_parser = ["load-report", "claims", "advice"], default_value = "load-report")]
        name: String,
    },
    /// Check every claim of the articles against the lab's measurements: claimed vs measured,
    /// verdict and reason; cited facts and opinions listed as such.
    Claims(ClaimsArgs),
    /// Write a Locust or k6 script that sends a lab workload (same requests, same response
    /// checks) at a fixed rate to URL, from as many machines as you like, and print how to run it.
    Export(ExportArgs),
    /// Store a Locust or k6 run's results as a run, with their origin (tool, version, workers,
    /// target URL), for `stackwise report`, the claims and the UI.
    Import(ImportArgs),
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  stackwise export locust --workload json http://10.0.0.5:8080 --rate 500 --duration 60s --workers 4 --master-host 10.0.0.2
  stackwise export k6 --workload cpu http://10.0.0.5:8080 --rate 200 --slo-ms 50

Users (Locust) and VUs (k6) = ceil(rate x 2 x SLO): each sends one request every 2 x SLO, so the
rate holds while responses are faster than that. Nothing is run: the commands are printed.")]
pub struct ExportArgs {
    #[command(subcommand)]
    pub engine: ExportEngine,
}

/// What every export takes.
#[derive(Debug, Args)]
pub struct ExportCommon {
    /// The workload to send (an id of the workload registry, e.g. json, cpu, hash, io, mixed).
    #[arg(long, value_name = "ID")]
    pub workload: String,
    /// The target's base URL (scheme, host, port), e.g. http://10.0.0.5:8080.
    #[arg(value_name = "URL")]
    pub url: String,
    /// Requests per second: for Locust, all workers together; for k6, per machine that runs the
    /// script (export with the total divided by the machines).
    #[arg(long, value_name = "N", default_value_t = 100.0)]
    pub rate: f64,
    /// How long the rate is held, e.g. 30s, 2m.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub duration: String,
    /// The p99 SLO in ms: sizes the users and sets k6's threshold.
    #[arg(long, value_name = "MS", default_value_t = 100.0)]
    pub slo_ms: f64,
    /// Where to write the script [default: stackwise_<workload>.py / stackwise_<workload>.k6.js].
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ExportEngine {
    /// A locustfile (constant_pacing users, FastHttpUser) and the master and worker commands.
    Locust {
        #[command(flatten)]
        common: ExportCommon,
        /// Worker processes the master waits for.
        #[arg(long, value_name = "N", default_value_t = 2)]
        workers: u32,
        /// The master's address as the workers reach it.
        #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
        master_host: String,
        /// The master's port.
        #[arg(long, value_name = "PORT", default_value_t = 5557)]
        master_port: u16,
        /// Locust's --csv prefix (the files `stackwise import locust` reads) [default: the script's
        /// name without .py].
        #[arg(long, value_name = "PREFIX")]
        csv: Option<String>,
    },
    /// A k6 script (constant-arrival-rate executor, the same checks, thresholds from the SLO).
    K6 {
        #[command(flatten)]
        common: ExportCommon,
    },
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  stackwise import locust results/json            # results/json_stats.csv, _stats_history.csv, _failures.csv
  stackwise import k6 k6-load1.json k6-load2.json  # one file per load machine: percentiles over all points
  stackwise report                                 # the imported run is the latest

What the engine could not measure is said, not filled in: no server CPU or memory, no capacity;
Locust's percentiles are bucketed and uncorrected for coordinated omission, and labelled so.")]
pub struct ImportArgs {
    #[command(subcommand)]
    pub engine: ImportEngine,
}

/// What every import takes.
#[derive(Debug, Args)]
pub struct ImportCommon {
    /// The lab's SQLite store (default: <data dir>/stackwise/lab.sqlite3).
    #[arg(long, value_name = "PATH")]
    pub db: Option<std::path::PathBuf>,
    /// The target's name in the store, e.g. rust-axum [default: the URL's host:port].
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// The target's URL [default: as recorded by the script].
    #[arg(long, value_name = "URL")]
    pub target_url: Option<String>,
    /// The workload that ran [default: as recorded by the script].
    #[arg(long, value_name = "ID")]
    pub workload: Option<String>,
    /// The engine's version [default: as recorded; else stored as not recorded].
    #[arg(long, value_name = "VERSION")]
    pub tool_version: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ImportEngine {
    /// Locust's CSVs: PREFIX_stats.csv, PREFIX_stats_history.csv, PREFIX_failures.csv (and the
    /// PREFIX_stackwise.json an exported locustfile writes).
    Locust {
        /// The --csv prefix of the run.
        #[arg(value_name = "PREFIX")]
        prefix: String,
        #[command(flatten)]
        common: ImportCommon,
        /// Worker processes [default: as recorded by the exported locustfile].
        #[arg(long, value_name = "N")]
        workers: Option<u32>,
        /// The rate offered, req/s [default: as recorded by the exported locustfile].
        #[arg(long, value_name = "N")]
        rate: Option<f64>,
    },
    /// The NDJSON of `k6 run --out json=FILE`, one file per load machine.
    K6 {
        #[arg(value_name = "FILE", required = true)]
        files: Vec<std::path::PathBuf>,
        #[command(flatten)]
        common: ImportCommon,
    },
}

#[derive(Debug, Args)]
#[command(after_help = "\
Verdicts: supported, refuted, partly, depends (frameworks really disagree), inconclusive (within
noise), equivalent (a tie within its margin), not-measured (the lab command that would measure it is
shown), not-testable-yet (what it needs is shown, with a reason code), cited, opinion. A decided verdict
that rests on one repeat is labelled \"(indicative)\": a qualifier, not a verdict of its own.
How they are decided: docs/claims.md.

Examples:
  stackwise claims                      # against the latest stored run
  stackwise claims --run 3 --kind testable
  stackwise claims --verdict refuted --verdict depends --json")]
pub struct ClaimsArgs {
    /// The stored run to check against (default: the latest).
    #[arg(long, value_name = "ID")]
    pub run: Option<i64>,

    /// The lab's SQLite store (default: <data dir>/stackwise/lab.sqlite3, e.g.
    /// ~/.local/share/stackwise/lab.sqlite3).
    #[arg(long, value_name = "PATH")]
    pub db: Option<std::path::PathBuf>,

    /// Show only claims of this kind (repeatable).
    #[arg(long, value_name = "KIND", value_parser = ["testable", "cited", "opinion"])]
    pub kind: Vec<String>,

    /// Show only claims with this verdict (repeatable).
    #[arg(long, value_name = "VERDICT", value_parser = [
        "supported", "refuted", "partly", "depends", "inconclusive", "equivalent", "not-measured",
        "not-testable-yet", "cited", "opinion"
    ])]
    pub verdict: Vec<String>,

    /// Use this claims catalogue (TOML) instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub catalogue: Option<std::path::PathBuf>,

    /// Print the result as JSON (schema: `stackwise schema claims`).
    #[arg(long)]
    pub json: bool,

    /// Read the run from a RunSummary JSON file instead of the store (tests and fixtures).
    #[arg(long, value_name = "FILE", hide = true, conflicts_with_all = ["run", "db"])]
    pub summary_json: Option<std::path::PathBuf>,
}

/// The exit codes, as printed by `--help`.
pub const EXIT_CODES: &str = "\
Exit codes:
  0    success (for load: the run ended, at least one response was correct, thresholds met)
  1    a failure: for load, no correct response at all, a --max-error-rate or --max-p99
       threshold broken (the report is still printed), or the report could not be written
  2    bad input: a one-line error naming the flag (nothing was run)
  130  interrupted twice with Ctrl-C (once stops the run and still reports)";

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  stackwise load http://127.0.0.1:8080/ -c 50 -d 10s
  stackwise load http://127.0.0.1:8080/ --rate 2000 -d 30s --warmup 5s --pin 0
  stackwise load http://127.0.0.1:8080/json -n 10000 --expect-status 200 \\
      --expect-body-regex '^\\{\"message\":\"Hello, World!\"\\}$' --json

Without --rate the run is a closed loop: each connection sends its next request when the last one
is answered, and latency is measured from the actual send (as wrk, oha and autocannon do). With
--rate it is an open loop: requests follow a constant schedule and latency is also measured from
the scheduled send time, which counts the time requests waited behind a slow server
(coordinated-omission correction, as in wrk2).

A run ends at its deadline (an open loop waits 0.5 s more for the window's responses) or at
Ctrl-C, whatever is in flight: requests cut off are counted as such, and in an open loop every
scheduled request without a response is recorded as a censored sample in the corrected latency.

Exit codes: 0 success; 1 no correct response, a threshold broken (the report is still printed),
or the report could not be written; 2 bad input (nothing was run); 130 Ctrl-C twice.")]
pub struct LoadArgs {
    /// The URL to load (http:// only; loopback hosts only unless --allow-remote).
    #[arg(value_name = "URL")]
    pub url: String,

    /// Connections to keep open, each with one request in flight.
    #[arg(short = 'c', long, value_name = "N", default_value_t = 50)]
    pub connections: usize,

    /// Engine threads [default: the number of --pin CPUs, else of available CPUs; at most -c].
    #[arg(short = 't', long, value_name = "N")]
    pub threads: Option<usize>,

    /// How long to measure, e.g. 10s, 500ms, 2m [default: 10s when -n is not given].
    #[arg(short = 'd', long, value_name = "DURATION")]
    pub duration: Option<String>,

    /// How many requests to measure: requests sent plus failed connection attempts (the run also
    /// stops after -d, or after 10 minutes).
    #[arg(short = 'n', long, value_name = "N")]
    pub requests: Option<u64>,

    /// Load applied before measuring, not recorded (warms caches, JITs and pools).
    #[arg(long, value_name = "DURATION", default_value = "0s")]
    pub warmup: String,

    /// Open loop: send this many requests per second in total, on a constant schedule. Needs -d.
    /// (-R is accepted too, as in wrk2.)
    #[arg(
        short = 'r',
        short_alias = 'R',
        long,
        value_name = "REQ_PER_S",
        allow_negative_numbers = true
    )]
    pub rate: Option<f64>,

    /// Per-request timeout, from the send to the end of the response.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub timeout: String,

    /// Time allowed to open a TCP connection (the check before the run, and every reconnect).
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub connect_timeout: String,

    /// When connections are opened: eager (all at the start, reopened at once when one ends, as
    /// wrk does) or when-due (open loop: each only when its request is due, as a buffering proxy
    /// would; for servers that close every connection and block a worker on an idle one, such as
    /// gunicorn's sync worker).
    #[arg(long, value_name = "MODE", default_value = "eager")]
    pub connect: String,

    /// Open loop: how late a connection may be woken for its send slot, so that slots falling
    /// close together share one wake-up (less CPU, more send lag; latency is still measured from
    /// each exact scheduled time, and to each response's kernel receive time). 0 wakes for every
    /// slot.
    #[arg(long, value_name = "DURATION", default_value = "300us")]
    pub timer_slack: String,

    /// Pin the engine's threads to these CPUs, e.g. 0 or 0-1 or 0,2.
    #[arg(long, value_name = "CPUS")]
    pub pin: Option<String>,

    /// A response is correct only with this status: a code (200) or a class (2xx).
    #[arg(long, value_name = "STATUS", default_value = "2xx")]
    pub expect_status: String,

    /// A response is correct only with exactly this body (bodies over 8 MiB fail body checks).
    #[arg(long, value_name = "TEXT", conflicts_with = "expect_body_regex")]
    pub expect_body: Option<String>,

    /// A response is correct only if its body matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub expect_body_regex: Option<String>,

    /// Request method.
    #[arg(short = 'm', long, value_name = "METHOD", default_value = "GET")]
    pub method: String,

    /// Request body, e.g. -b '{"n":1}' (add -H 'Content-Type: ...' as needed).
    #[arg(short = 'b', long, value_name = "TEXT", conflicts_with = "body_file")]
    pub body: Option<String>,

    /// Request body read from a file.
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<std::path::PathBuf>,

    /// Add a request header, e.g. -H 'Accept: application/json'. Repeatable. A Host header
    /// replaces the one taken from the URL.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,

    /// Allow a target that is not on this machine (non-loopback address).
    #[arg(long)]
    pub allow_remote: bool,

    /// Print the report as JSON (schema: `stackwise schema load-report`) instead of the summary.
    #[arg(long)]
    pub json: bool,

    /// Also write the JSON report to this file (checked before the run).
    #[arg(long, value_name = "FILE")]
    pub export_json: Option<std::path::PathBuf>,

    /// Put the full latency histograms in the JSON report (HdrHistogram V2 compressed, base64),
    /// so that runs can be merged exactly.
    #[arg(long)]
    pub histograms: bool,

    /// Fail (exit 1) when more than this share of requests failed (errors and validation
    /// failures), e.g. 1% or 0.01.
    #[arg(long, value_name = "RATE")]
    pub max_error_rate: Option<String>,

    /// Fail (exit 1) when the p99 latency is above this (corrected latency in an open loop),
    /// e.g. 50ms.
    #[arg(long, value_name = "DURATION")]
    pub max_p99: Option<String>,

    /// Never show a progress bar (it is shown only when stderr is a terminal).
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  stackwise report                          # the latest run, as Markdown on stdout
  stackwise report --run 7 --html run7.html --md run7.md
  stackwise report --run 7 --compare 5 --html compare.html
  stackwise report --profile examples/startup-chat-mvp.toml --html report.html
  stackwise report --json > run.json

The HTML file is self-contained (inline CSS and SVG charts, no script, nothing loaded from the
network): it opens from an e-mail attachment, in dark and light mode, and prints. With --compare a
difference is marked only when the repeats' ranges do not overlap and the medians differ by more
than 5%; the rule is printed in the report.")]
pub struct ReportArgs {
    /// The run to report [default: the latest run in the store].
    #[arg(long, value_name = "ID")]
    pub run: Option<i64>,

    /// The store to read [default: the lab's store under the user's data directory].
    #[arg(long, value_name = "PATH")]
    pub db: Option<std::path::PathBuf>,

    /// Write the Markdown report to this file (`-`: stdout).
    #[arg(long, value_name = "FILE")]
    pub md: Option<std::path::PathBuf>,

    /// Write the self-contained HTML report to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,

    /// Print the report as JSON on stdout (the run summary and derived figures).
    #[arg(long)]
    pub json: bool,

    /// Compare with this run (the baseline): both side by side, differences beyond noise marked.
    #[arg(long, value_name = "ID")]
    pub compare: Option<i64>,

    /// Add the advice for this profile (TOML, as for `stackwise advise`), priced from the run.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<std::path::PathBuf>,

    /// Read the run from a JSON file (a RunSummary, or a report input with details) instead of
    /// the store (for tests and for runs exported elsewhere).
    #[arg(long, value_name = "FILE", hide = true)]
    pub summary_json: Option<std::path::PathBuf>,

    /// Read the baseline of a comparison from a JSON file, like --summary-json.
    #[arg(long, value_name = "FILE", hide = true)]
    pub baseline_json: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  stackwise advise --profile examples/startup-chat-mvp.toml
  stackwise advise --profile examples/startup-chat-mvp.toml --ai-ml core --stage post-pmf --json
  stackwise advise --profile examples/enterprise-analytics.toml --adr docs/adr/0001-backend-stack.md
  stackwise advise            (asks the articles' questions in the terminal)

The profile format is in docs/profile.md. Flags override the same keys of --profile; keys given by
neither are asked interactively on a terminal. Cost figures come from the latest lab run (or --run).")]
pub struct AdviseArgs {
    /// The profile (TOML; see docs/profile.md and examples/).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub values: crate::commands::advise::flags::ProfileFlags,

    /// Print the advice as JSON (schema: `stackwise schema advice`).
    #[arg(long)]
    pub json: bool,

    /// Also write the decision as an Architecture Decision Record (MADR, Markdown) to this file.
    #[arg(long, value_name = "FILE")]
    pub adr: Option<std::path::PathBuf>,

    /// The lab run whose measurements price the answer [default: the latest].
    #[arg(long, value_name = "ID")]
    pub run: Option<i64>,

    /// The lab's SQLite store.
    #[arg(long, value_name = "PATH")]
    pub db: Option<std::path::PathBuf>,

    /// Read the run from a RunSummary JSON file instead of the store (for tests and fixtures).
    #[arg(long, value_name = "FILE", hide = true)]
    pub summary_json: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  stackwise serve                 # http://127.0.0.1:8700/
  stackwise serve --port 0        # any free port (printed)

The UI answers only requests addressed to this machine's loopback names (Host checked, against DNS
rebinding); a form is accepted only from its own pages (Origin checked) with the token the page
carries.")]
pub struct ServeArgs {
    /// Port to listen on (0: any free port).
    #[arg(long, value_name = "PORT", default_value_t = 8700)]
    pub port: u16,

    /// Address to bind; anything but a loopback address needs --allow-remote.
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub bind: String,

    /// Allow binding a non-loopback address (anyone who can reach it can use the UI).
    #[arg(long)]
    pub allow_remote: bool,

    /// The lab's SQLite store [default: the lab's default store].
    #[arg(long, value_name = "PATH")]
    pub db: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct TargetsArgs {
    /// The targets directory [default: $STACKWISE_TARGETS, else targets/ in the current directory
    /// or a parent, else next to the binary's repository].
    #[arg(long, value_name = "DIR", global = true)]
    pub targets_dir: Option<std::path::PathBuf>,

    #[command(subcommand)]
    pub command: TargetsCommand,
}

#[derive(Debug, Subcommand)]
pub enum TargetsCommand {
    /// List the targets, their endpoints and whether they are installed.
    List,
    /// Install targets' dependencies (all when no NAME is given); skipped when installed.
    Install {
        #[arg(value_name = "NAME")]
        names: Vec<String>,
        /// Reinstall even when installed.
        #[arg(long)]
        force: bool,
    },
    /// Verify that targets implement the contract (docs/contract.md): random inputs, exact
    /// results, headers, one upstream call per /io, keep-alive. Installs them first if needed.
    Check {
        #[arg(value_name = "NAME")]
        names: Vec<String>,
        /// Pin the targets to these CPUs, e.g. 1 or 2-3 [default: the upper half of the CPUs].
        #[arg(long, value_name = "CPUS")]
        server_cpus: Option<String>,
        /// Requests per endpoint.
        #[arg(long, value_name = "N", default_value_t = 4)]
        requests: u32,
        /// Check the database endpoints against a dedicated database on your own PostgreSQL
        /// (postgresql://USER@HOST:PORT/DB) instead of the lab's throwaway cluster; refused when
        /// it holds tables other than the lab's.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
    },
    /// Run one target (and what it needs: the upstream its /io calls, the database with its data
    /// for /db, /fortunes, /items…) in the foreground until Ctrl-C, so that other tools can be
    /// pointed at it.
    Serve {
        #[arg(value_name = "NAME")]
        name: String,
        /// Port on 127.0.0.1 (another one is picked if it is in use; 0: any free port).
        #[arg(long, value_name = "PORT", default_value_t = 8080)]
        port: u16,
        /// Pin the target to these CPUs [default: the upper half of the CPUs].
        #[arg(long, value_name = "CPUS")]
        server_cpus: Option<String>,
        /// Worker processes [default: the manifest's].
        #[arg(long, value_name = "N")]
        workers: Option<u32>,
        /// Threads per worker [default: the manifest's].
        #[arg(long, value_name = "N")]
        threads: Option<u32>,
        /// Use the start command of this workload, where the manifest has one.
        #[arg(long, value_name = "ID")]
        workload: Option<String>,
        /// Use a dedicated database on your own PostgreSQL instead of the lab's throwaway cluster;
        /// refused when it holds tables other than the lab's.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
    },
}

/// `stackwise lab --help`'s closing text; it names the workloads run only on request from the
/// registry.
fn lab_after_help() -> String {
    format!(
        "\
Examples:
  stackwise lab --quick                      # all targets: json, io, cpu, capacity on io (~4.5 min)
  stackwise lab                              # the full suite (~42 min planned on 2 cores)
  stackwise lab --plan                       # the cells and the ETA, without running
  stackwise lab --workloads db,queries       # workloads run only on request
  stackwise lab --all                        # every workload, those on request included
  stackwise lab --targets rust-axum,node-http --workloads json,io-slo --duration 2s --repeats 1
  stackwise lab --resume                     # complete the last interrupted run
  stackwise lab --wait --quick               # another run uses the database: wait for it

Workloads: those of the workloads registry (docs/workloads.md explains each; an unknown
--workloads id lists them). The full suite runs every workload a claim or the adviser's pricing
reads. On request only (nothing reads them; docs/workloads.md gives their minutes):
  {}
Run them with --workloads ID, or every workload with --all.
Results go to an SQLite database under your data directory (or --db); Ctrl-C keeps every finished
cell. One run per database at a time; a run that was killed leaves nothing running (see
docs/workloads.md, Faults).",
        lab::workload::on_request().join(", ")
    )
}

#[derive(Debug, Args)]
#[command(after_help = lab_after_help())]
pub struct LabArgs {
    /// The quick suite: all targets; json, io and cpu saturation, one capacity search on io,
    /// 2 cold starts, one repeat.
    #[arg(long)]
    pub quick: bool,

    /// Every available workload: the full suite and the workloads run only on request (--plan
    /// names them).
    #[arg(long, conflicts_with_all = ["quick", "workloads"])]
    pub all: bool,

    /// Print the planned cells and the ETA, and exit without running anything.
    #[arg(long)]
    pub plan: bool,

    /// Print a stored run (the latest, or run ID) as tables (or JSON with --json) without running.
    #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "latest", conflicts_with_all = ["plan", "resume"])]
    pub show: Option<String>,

    /// When another `stackwise lab` is running on the same database, wait for it to finish instead
    /// of refusing.
    #[arg(long)]
    pub wait: bool,

    /// Complete the most recent unfinished run with its own settings, measuring only what is missing.
    #[arg(long, conflicts_with_all = ["quick", "all", "targets", "workloads", "repeats", "duration", "warmup", "server_cpus", "workers", "slo_p99", "cold_starts", "ws_connections"])]
    pub resume: bool,

    /// Targets to run, comma-separated [default: all].
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub targets: Vec<String>,

    /// Workload ids to run, comma-separated [default: the full suite (every workload the claims
    /// or the adviser read), the quick set with --quick, every workload with --all].
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub workloads: Vec<String>,

    /// Repeats per cell [default: 3, 1 with --quick]; a capacity search is one repeat (io-slo runs
    /// up to 3 searches, the other searches 1; ws-hold up to 2, mixed 1).
    #[arg(long, value_name = "N")]
    pub repeats: Option<u32>,

    /// Measuring window of each saturation and mixed repeat [default: 4s, 3s with --quick].
    #[arg(short = 'd', long, value_name = "DURATION")]
    pub duration: Option<String>,

    /// Warm-up before each measuring window [default: 1s].
    #[arg(long, value_name = "DURATION")]
    pub warmup: Option<String>,

    /// Measuring window of each capacity rung [default: 1.5s].
    #[arg(long, value_name = "DURATION")]
    pub rung: Option<String>,

    /// Fresh starts measured per target [default: 10, 2 with --quick].
    #[arg(long, value_name = "N")]
    pub cold_starts: Option<usize>,

    /// CPUs for the servers, e.g. 1 or 2-3 [default: the upper half; the engine and upstream get the rest].
    #[arg(long, value_name = "CPUS")]
    pub server_cpus: Option<String>,

    /// Workers (processes) for a target, e.g. --workers python-flask-sync=4. Repeatable.
    #[arg(long, value_name = "NAME=N")]
    pub workers: Vec<String>,

    /// The latency objective of the capacity searches: corrected p99 under this [default: 100ms].
    #[arg(long, value_name = "DURATION")]
    pub slo_p99: Option<String>,

    /// WebSocket connections the ws-hold workload opens and holds, 1 to 25000 [default: 10000].
    #[arg(long, value_name = "N")]
    pub ws_connections: Option<usize>,

    /// The SQLite database [default: <data dir>/stackwise/lab.sqlite3].
    #[arg(long, value_name = "PATH")]
    pub db: Option<std::path::PathBuf>,

    /// The database workloads' PostgreSQL: a dedicated database on your own server
    /// (postgresql://USER@HOST:PORT/DB) instead of the lab's throwaway cluster; refused when it
    /// holds tables other than the lab's.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,

    /// Run the workloads against a service you deployed (http://HOST:PORT) instead of the lab's
    /// targets: conformance check first; workloads needing the lab's upstream or database, and
    /// server-side measures (CPU, memory, cold start), are skipped and said. --targets NAME names
    /// it (a lab target's name takes its language and endpoints). Loopback needs no opt-in.
    #[arg(long, value_name = "URL", conflicts_with_all = ["resume", "workers", "database_url"])]
    pub target_url: Option<String>,

    /// Allow --target-url to name a non-loopback address (load goes to another machine: only
    /// against a service you own and may load).
    #[arg(long, requires = "target_url")]
    pub allow_remote: bool,

    /// Print the run (the RunSummary read model) as JSON on stdout instead of the tables.
    #[arg(long)]
    pub json: bool,

    /// Never show progress bars (they are shown only when stderr is a terminal).
    #[arg(long)]
    pub no_progress: bool,

    /// Write the run's events on stdout, one JSON object per line (schemas/lab-events.schema.json);
    /// the human text (progress, the tables at the end) goes to stderr.
    #[arg(long, value_name = "FORMAT", value_parser = ["json"], conflicts_with_all = ["plan", "show", "json"])]
    pub events: Option<String>,
}

/// Prints a clap error as one line (the line that names the argument) and returns exit code 2;
/// help and version requests print in full and succeed.
pub fn exit_on_clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            let rendered = e.render().to_string();
            let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next().unwrap_or("error: invalid arguments");
            // clap puts the missing argument's name on the next line for this kind.
            let detail = match e.kind() {
                ErrorKind::MissingRequiredArgument => lines.next().map(|l| format!(" {l}")),
                _ => None,
            };
            eprintln!("{first}{} (see --help)", detail.unwrap_or_default());
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// `--all` runs every workload; it excludes `--quick` and `--workloads`, and `lab --help`
    /// names the workloads run only on request.
    #[test]
    fn lab_all_and_the_on_request_workloads_in_help() {
        let lab = |args: &[&str]| {
            Cli::try_parse_from(["stackwise", "lab"].iter().chain(args)).map(|c| match c.command {
                Command::Lab(a) => a.all,
                _ => unreachable!(),
            })
        };
        assert!(lab(&["--all"]).unwrap());
        assert!(!lab(&[]).unwrap());
        assert!(lab(&["--all", "--quick"]).is_err());
        assert!(lab(&["--all", "--workloads", "json"]).is_err());
        assert!(lab(&["--all", "--resume"]).is_err());
        let help = lab_after_help();
        let on_request = lab::workload::on_request();
        assert!(on_request.contains(&"plaintext"), "{on_request:?}");
        for id in on_request {
            assert!(help.contains(id), "{id} missing from: {help}");
        }
    }
}
