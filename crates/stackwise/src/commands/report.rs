//! `stackwise report`: a run (from the store, or a JSON file) → Markdown, JSON or the
//! self-contained HTML report; `--compare` puts a baseline run beside it.
//!
//! Runs come from the lab's SQLite store (`--run`, `--db`, `--compare`; the latest run by default)
//! or, hidden, from JSON files (`--summary-json`, `--baseline-json`: tests, runs exported elsewhere).
//! Every report of one run carries the claims verdicts against it; `--profile FILE` adds the advice
//! ([`reports::assemble`]). A comparison shows figures only.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use reports::ReportInput;

use crate::cli::ReportArgs;
use crate::UsageError;

pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    if args.profile.is_some() && (args.compare.is_some() || args.baseline_json.is_some()) {
        return Err(UsageError(
            "--profile: a comparison shows the figures of two runs, not advice; report one run for the advice"
                .into(),
        )
        .into());
    }
    if args.compare.is_some() && args.baseline_json.is_some() {
        return Err(UsageError(
            "--compare and --baseline-json both name a baseline: give one".into(),
        )
        .into());
    }
    let this = match &args.summary_json {
        Some(path) => {
            let input = read_json(path, "--summary-json")?;
            if let Some(id) = args.run.filter(|id| *id != input.summary.run_id) {
                return Err(UsageError(format!(
                    "--run {id}: {} holds run {}",
                    path.display(),
                    input.summary.run_id
                ))
                .into());
            }
            input
        }
        None => load_from_store(args.db.as_deref(), args.run, "--run")?,
    };
    let mut this = this;
    add_sections(&mut this, args.profile.as_deref())?;
    let baseline = match (&args.baseline_json, args.compare) {
        (Some(path), _) => Some(read_json(path, "--baseline-json")?),
        (None, Some(id)) => Some(load_from_store(args.db.as_deref(), Some(id), "--compare")?),
        (None, None) => None,
    };
    let opts = html_options();
    use reports::export::{exporter, Format};
    if let Some(path) = &args.html {
        let html = exporter(Format::Html, &opts).render(&this, baseline.as_ref());
        write_out(path, &html, "--html")?;
    }
    let md_to_stdout = args.md.is_none() && args.html.is_none() && !args.json;
    if let Some(path) = args
        .md
        .as_ref()
        .or(md_to_stdout.then_some(&PathBuf::from("-")))
    {
        let md = exporter(Format::Markdown, &opts).render(&this, baseline.as_ref());
        write_out(path, &md, "--md")?;
    }
    if args.json {
        let json = exporter(Format::Json, &opts).render(&this, baseline.as_ref());
        write_out(Path::new("-"), &json, "--json")?;
    }
    Ok(())
}

/// The claims verdicts against the run, and the advice when a profile is given (unless the
/// input already carries them).
pub fn add_sections(input: &mut ReportInput, profile: Option<&Path>) -> anyhow::Result<()> {
    reports::assemble::with_verdicts(input);
    if let Some(path) = profile {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UsageError(format!("--profile: cannot read {}: {e}", path.display())))?;
        let partial = adviser::parse_profile(&text, &path.display().to_string())
            .map_err(|e| UsageError(format!("--profile: {e}")))?;
        let profile = partial.complete().map_err(|incomplete| {
            UsageError(format!(
                "--profile: {}: {incomplete} (the report asks no questions: complete the file, \
                 or use `stackwise advise`)",
                path.display()
            ))
        })?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        reports::assemble::with_profile(input, &profile, &name, &text);
    }
    Ok(())
}

fn read_json(path: &Path, flag: &str) -> anyhow::Result<ReportInput> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("{flag}: cannot read {}: {e}", path.display())))?;
    ReportInput::from_json(&text).map_err(|e| {
        UsageError(format!(
            "{flag}: {} is not a run summary: {e}",
            path.display()
        ))
        .into()
    })
}

/// Reads a run from the lab's store (`--db`, else the default database): the summary, and the
/// detail of each cell (curves and per-second series) from the engine report of one repeat.
pub fn load_from_store(
    db: Option<&Path>,
    run: Option<i64>,
    flag: &str,
) -> anyhow::Result<ReportInput> {
    let path = match db {
        Some(p) if !p.is_file() => {
            return Err(UsageError(format!("--db: no lab database at {}", p.display())).into())
        }
        Some(p) => p.to_path_buf(),
        None => {
            let p = store::default_path().map_err(|e| UsageError(format!("{flag}: {e}")))?;
            if !p.is_file() {
                return Err(UsageError(format!(
                    "{flag}: there is no lab database yet ({}); run `stackwise lab` first, or pass --db PATH",
                    p.display()
                ))
                .into());
            }
            p
        }
    };
    let store = store::Store::open(&path)?;
    read_run(&store, &path, run, flag)
}

/// A run and its cells' detail from an open store (`None`: the latest run).
pub fn read_run(
    store: &store::Store,
    path: &Path,
    run: Option<i64>,
    flag: &str,
) -> anyhow::Result<ReportInput> {
    match reports::assemble::read_run(store, run) {
        Ok(Some(input)) => Ok(input),
        Ok(None) => Err(UsageError(format!(
            "{flag}: the lab database {} holds no run yet; run `stackwise lab` first",
            path.display()
        ))
        .into()),
        Err(e) => Err(super::run_error(flag, run.unwrap_or_default(), e)),
    }
}

/// The HTML options of every page: the generator line names this version.
pub fn html_options() -> reports::html::Options {
    reports::html::Options {
        generator: format!("stackwise {}", env!("CARGO_PKG_VERSION")),
        home_link: None,
    }
}

fn write_out(path: &Path, text: &str, flag: &str) -> anyhow::Result<()> {
    if path == Path::new("-") {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        return Ok(());
    }
    std::fs::write(path, text).with_context(|| format!("{flag}: cannot write {}", path.display()))
}

/// The end of `stackwise lab` for a finished run: the findings (with the claims verdicts), the
/// next commands, and the path of the HTML report written beside the store
/// (`stackwise-run-ID.html`). A report that cannot be written is said, not fatal: the run is stored.
pub fn lab_end(
    store: &store::Store,
    db_path: &Path,
    run_id: i64,
    db_given: bool,
) -> anyhow::Result<String> {
    let mut input = read_run(store, db_path, Some(run_id), "--run")?;
    add_sections(&mut input, None)?;
    let findings = reports::findings::findings(&input);
    let html_path = db_path.with_file_name(format!("stackwise-run-{run_id}.html"));
    let page = reports::export::exporter(reports::export::Format::Html, &html_options())
        .render(&input, None);
    let written = std::fs::write(&html_path, page)
        .map(|()| html_path.display().to_string())
        .map_err(|e| format!("cannot write {}: {e}", html_path.display()));
    let db_flag = if db_given {
        format!(" --db {}", db_path.display())
    } else {
        String::new()
    };
    Ok(reports::findings::lab_end(
        &findings,
        written.as_deref().map_err(String::as_str),
        &db_flag,
    ))
}
