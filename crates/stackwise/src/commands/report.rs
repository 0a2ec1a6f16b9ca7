//! `stackwise report`: a run (from the store, or a JSON file) → Markdown, JSON or the
//! self-contained HTML report; `--compare` puts a baseline run beside it.
//!
//! INTEGRATOR: reading runs from the SQLite store (`--run`, `--db`, `--compare`, the latest run)
//! waits for the store's read API (branch `suite`); until then [`load_from_store`] says so and the
//! hidden `--summary-json` / `--baseline-json` inputs feed the report. Claims and advice enter
//! through [`reports::ReportInput`]'s `claims` and `advice` sections once those commands exist.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use reports::{CellDetail, PercentilePoint, ReportInput};

use crate::cli::ReportArgs;
use crate::UsageError;

pub fn run(args: ReportArgs) -> anyhow::Result<()> {
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
    let baseline = match (&args.baseline_json, args.compare) {
        (Some(path), _) => Some(read_json(path, "--baseline-json")?),
        (None, Some(id)) => Some(load_from_store(args.db.as_deref(), Some(id), "--compare")?),
        (None, None) => None,
    };
    let opts = reports::html::Options {
        generator: format!("stackwise {}", env!("CARGO_PKG_VERSION")),
    };

    if let Some(path) = &args.html {
        let html = match &baseline {
            Some(b) => reports::html::render_compare(&this, b, &opts),
            None => reports::html::render(&this, &opts),
        };
        write_out(path, &html, "--html")?;
    }
    let md_to_stdout = args.md.is_none() && args.html.is_none() && !args.json;
    if let Some(path) = args
        .md
        .as_ref()
        .or(md_to_stdout.then_some(&PathBuf::from("-")))
    {
        let md = match &baseline {
            Some(b) => reports::markdown::render_compare(&this, b),
            None => reports::markdown::render(&this),
        };
        write_out(path, &md, "--md")?;
    }
    if args.json {
        let json = reports::json::render(&this, baseline.as_ref());
        write_out(Path::new("-"), &json, "--json")?;
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

/// Reads a run from the lab's store. Not available until the store's read API is merged.
fn load_from_store(db: Option<&Path>, run: Option<i64>, flag: &str) -> anyhow::Result<ReportInput> {
    let what = match run {
        Some(id) => format!("run {id}"),
        None => "the latest run".to_string(),
    };
    let db = db
        .map(|p| format!(" in {}", p.display()))
        .unwrap_or_default();
    Err(UsageError(format!(
        "{flag}: cannot read {what}{db}: this build of stackwise cannot read the lab's store yet \
         (the store's read API is not merged); give the run as JSON with --summary-json FILE"
    ))
    .into())
}

fn write_out(path: &Path, text: &str, flag: &str) -> anyhow::Result<()> {
    if path == Path::new("-") {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        return Ok(());
    }
    std::fs::write(path, text).with_context(|| format!("{flag}: cannot write {}", path.display()))
}

/// The report's detail of a cell from one engine report (the store keeps each cell's full
/// report): its latency percentile curves, corrected and uncorrected.
#[allow(dead_code)] // INTEGRATOR: used once the store hands back engine reports (branch `suite`).
pub fn detail_from_load_report(
    target: &str,
    workload: &str,
    source: &str,
    r: &loadgen::Report,
) -> CellDetail {
    let curve = |s: &Option<loadgen::report::LatencyStats>| {
        s.as_ref()
            .map(|s| {
                s.percentiles
                    .iter()
                    .map(|p| PercentilePoint {
                        p: p.p,
                        ms: p.us / 1000.0,
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    CellDetail {
        target: target.to_string(),
        workload: workload.to_string(),
        source: source.to_string(),
        from_send: curve(&r.latency.from_send),
        from_schedule: curve(&r.latency.from_schedule),
        per_second: Vec::new(),
    }
}
