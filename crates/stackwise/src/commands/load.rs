//! `stackwise load`: arguments → [`loadgen::LoadConfig`] → a run with a progress bar and Ctrl-C
//! handling → a report on stdout (summary or JSON).

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use loadgen::engine::Phase;
use loadgen::stop::StopSignal;
use loadgen::{
    parse, BodyExpectation, ConfigError, EngineError, Field, LoadConfig, Target, Validation,
};

use crate::cli::LoadArgs;
use crate::UsageError;

pub fn run(args: LoadArgs) -> anyhow::Result<()> {
    let cfg = config_from_args(&args)?;
    let thresholds = parse::thresholds(args.max_error_rate.as_deref(), args.max_p99.as_deref())
        .map_err(|e| config_error(&e))?;
    // Checked before the run, so that a finished run is never lost to an unwritable path.
    let export = args
        .export_json
        .as_deref()
        .map(|p| {
            reports::load::ReportFile::open(p).map_err(|e| {
                flag_error(
                    "--export-json",
                    format!("cannot write {}: {e}", p.display()),
                )
            })
        })
        .transpose()?;
    let handle = match loadgen::start(cfg) {
        Ok(h) => h,
        Err(e) => {
            if let Some(f) = export {
                f.discard();
            }
            return Err(engine_error(e));
        }
    };

    install_ctrl_c(handle.stop_signal());
    let bar = (!args.no_progress && std::io::stderr().is_terminal()).then(new_bar);
    while !handle.is_finished() {
        if let Some(bar) = &bar {
            update_bar(bar, &handle.progress());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = handle.join()?;

    // The report goes out first: whatever fails afterwards, the figures are not lost.
    let mut text = serde_json::to_string_pretty(&report)?;
    text.push('\n');
    {
        let mut out = std::io::stdout().lock();
        if args.json {
            out.write_all(text.as_bytes())?;
        } else {
            write!(out, "{}", reports::load::summary(&report))?;
        }
        out.flush()?;
    }
    if let Some(f) = export {
        let path = f.path().display().to_string();
        f.write(&text).with_context(|| {
            format!("--export-json: cannot write {path} (the report was printed above)")
        })?;
    }
    let failures = report.failures(&thresholds);
    if !failures.is_empty() {
        anyhow::bail!("{}", failures.join("; "));
    }
    Ok(())
}

/// The command-line spelling of a configuration field.
fn flag_of(field: Field) -> &'static str {
    match field {
        Field::Url => "URL",
        Field::AllowRemote => "--allow-remote",
        Field::Connections => "--connections",
        Field::Threads => "--threads",
        Field::Pin => "--pin",
        Field::Duration => "--duration",
        Field::Requests => "--requests",
        Field::Warmup => "--warmup",
        Field::Rate => "--rate",
        Field::Timeout => "--timeout",
        Field::ConnectTimeout => "--connect-timeout",
        Field::TimerSlack => "--timer-slack",
        Field::BodyRegex => "--expect-body-regex",
        Field::Headers => "--header",
        Field::Status => "--expect-status",
        Field::Method => "--method",
        Field::MaxErrorRate => "--max-error-rate",
        Field::MaxP99 => "--max-p99",
    }
}

/// A library configuration error as a one-line usage error naming the flag.
pub fn config_error(e: &ConfigError) -> UsageError {
    let hint = match e.field {
        Field::Rate if e.message.contains("duration") => ": add -d, e.g. -d 30s",
        Field::Duration if e.message.contains("count") => " (-d or -n)",
        Field::AllowRemote => " (pass --allow-remote)",
        _ => "",
    };
    flag_error(flag_of(e.field), format!("{}{hint}", e.message))
}

fn engine_error(e: EngineError) -> anyhow::Error {
    match e {
        EngineError::Config(c) => anyhow::Error::new(config_error(&c)),
        EngineError::Connect(c) if c.timed_out => anyhow::Error::new(flag_error(
            "--connect-timeout",
            format!(
                "no connection to {} within {:?} ({}); is the server slow to accept, or the \
                 timeout too short?",
                c.addr, c.connect_timeout, c.reason
            ),
        )),
        EngineError::Connect(c) => anyhow::Error::new(flag_error(
            "URL",
            format!(
                "cannot connect to {} ({}); is the server running?",
                c.addr, c.reason
            ),
        )),
        other => anyhow::Error::new(other),
    }
}

/// Turns arguments into a checked configuration; every error names its flag.
pub fn config_from_args(a: &LoadArgs) -> Result<LoadConfig, UsageError> {
    let mut target = Target::parse(&a.url)?;
    target.allow_remote = a.allow_remote;
    let stop = parse::stop(a.duration.as_deref(), a.requests, a.rate.is_some())?;
    let pin = a.pin.as_deref().map(parse::pin).transpose()?;
    let threads = parse::threads(a.threads, pin.as_deref());
    let status = parse::status(&a.expect_status)?;
    let expected_body = match (&a.expect_body, &a.expect_body_regex) {
        (Some(text), _) => Some(BodyExpectation::Exact(bytes::Bytes::from(text.clone()))),
        (None, Some(re)) => Some(BodyExpectation::regex(re)?),
        (None, None) => None,
    };
    let headers = parse::headers(&a.headers, &mut target)?;
    let method = parse::method(&a.method)?;
    let body = match (&a.body, &a.body_file) {
        (Some(text), _) => bytes::Bytes::from(text.clone()),
        (None, Some(path)) => std::fs::read(path).map(bytes::Bytes::from).map_err(|e| {
            flag_error(
                "--body-file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?,
        (None, None) => bytes::Bytes::new(),
    };
    let cfg = LoadConfig {
        target,
        connections: a.connections,
        threads: threads.min(a.connections.max(1)),
        pin,
        stop,
        warmup: parse::duration(Field::Warmup, &a.warmup)?,
        rate: a.rate,
        timeout: parse::duration(Field::Timeout, &a.timeout)?,
        connect_timeout: parse::duration(Field::ConnectTimeout, &a.connect_timeout)?,
        connect: a.connect.parse().map_err(|e| flag_error("--connect", e))?,
        timer_slack: parse::duration(Field::TimerSlack, &a.timer_slack)?,
        keep_histograms: a.histograms,
        validation: Validation {
            status,
            body: expected_body,
        },
        method,
        headers,
        body,
        paths: Vec::new(),
        drain: loadgen::config::OPEN_LOOP_DRAIN,
    };
    if a.threads == Some(0) {
        return Err(flag_error("--threads", "must be at least 1 (got 0)"));
    }
    cfg.validate()?;
    Ok(cfg)
}

fn flag_error(flag: &str, msg: impl std::fmt::Display) -> UsageError {
    UsageError(format!("{flag}: {msg}"))
}

/// First Ctrl-C: stop the run and report what was measured. Second: exit at once.
fn install_ctrl_c(stop: Arc<StopSignal>) {
    let _ = ctrlc::set_handler(move || {
        if stop.trigger() {
            std::process::exit(130);
        }
        eprintln!("\nstopping: reporting what was measured so far (Ctrl-C again to quit)");
    });
}

fn new_bar() -> ProgressBar {
    let bar = ProgressBar::new(1000).with_style(
        ProgressStyle::with_template("{prefix:>9} [{bar:30}] {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(10));
    bar
}

fn update_bar(bar: &ProgressBar, p: &loadgen::Progress) {
    bar.set_prefix(match p.phase {
        Phase::WarmUp => "warm-up",
        Phase::Measuring => "measuring",
    });
    bar.set_position((p.fraction() * 1000.0) as u64);
    bar.set_message(format!(
        "{:.1}s, {} responses",
        p.elapsed.as_secs_f64(),
        p.completed
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(extra: &[&str]) -> Result<LoadConfig, UsageError> {
        let mut argv = vec!["stackwise", "load", "http://127.0.0.1:9/"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Load(a) => config_from_args(&a),
            _ => unreachable!(),
        }
    }

    fn flag_of(r: Result<LoadConfig, UsageError>) -> String {
        let e = r.unwrap_err().0;
        assert!(!e.contains('\n'), "multi-line error: {e}");
        e.split(':').next().unwrap().to_string()
    }

    #[test]
    fn defaults_to_ten_seconds_closed_loop() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.stop.duration, Some(parse::DEFAULT_DURATION));
        assert!(c.rate.is_none());
        assert_eq!(c.connections, 50);
        // The flag's default is spelled in the CLI; it must be the engine's.
        assert_eq!(c.timer_slack, loadgen::config::DEFAULT_TIMER_SLACK);
    }

    #[test]
    fn errors_name_their_flag() {
        assert_eq!(flag_of(parse(&["-c", "0"])), "--connections");
        assert_eq!(flag_of(parse(&["-t", "0"])), "--threads");
        assert_eq!(flag_of(parse(&["--rate", "100", "-n", "5"])), "--rate");
        assert_eq!(flag_of(parse(&["-d", "ten"])), "--duration");
        assert_eq!(flag_of(parse(&["--warmup", "x"])), "--warmup");
        assert_eq!(flag_of(parse(&["--pin", "0-"])), "--pin");
        assert_eq!(
            flag_of(parse(&["--expect-status", "abc"])),
            "--expect-status"
        );
        assert_eq!(
            flag_of(parse(&["--expect-body-regex", "("])),
            "--expect-body-regex"
        );
        assert_eq!(flag_of(parse(&["-H", "nocolon"])), "--header");
        assert_eq!(flag_of(parse(&["-m", "GE T"])), "--method");
        assert_eq!(
            flag_of(parse(&["--body-file", "/no/such/file"])),
            "--body-file"
        );
    }

    #[test]
    fn threads_follow_pinned_cpus_and_never_exceed_connections() {
        let c = parse(&["--pin", "0", "-c", "8"]).unwrap();
        assert_eq!(c.threads, 1);
        let c = parse(&["-t", "4", "-c", "2"]).unwrap();
        assert_eq!(c.threads, 2);
    }

    #[test]
    fn headers_and_body_checks_are_parsed() {
        let c = parse(&["-H", "Accept: application/json", "--expect-body", "hi"]).unwrap();
        assert_eq!(c.headers[0].0, "accept");
        assert_eq!(c.headers[0].1, "application/json");
        assert!(c.validation.body.unwrap().matches(b"hi"));
    }
}
