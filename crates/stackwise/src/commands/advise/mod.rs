//! `stackwise advise`: builds the profile from `--profile`, flags and (on a terminal) the
//! questionnaire, loads the measured run, and prints the advice (terminal, `--json`, `--adr FILE`).
//! The flags ([`flags`]) and the terminal questionnaire ([`questionnaire`]) live here; the adviser
//! crate takes the typed profile they build.

pub mod flags;
mod questionnaire;

use anyhow::Context;

use crate::cli::AdviseArgs;
use crate::UsageError;

pub fn run(args: AdviseArgs) -> anyhow::Result<()> {
    args.values.check().map_err(UsageError)?;
    let mut partial = match &args.profile {
        Some(path) => adviser::read_profile(path).map_err(|e| UsageError(e.to_string()))?,
        None => adviser::PartialProfile::default(),
    };
    partial.overlay(&args.values.to_partial());
    // The run first: a bad --db or --run is reported before any question is asked.
    let run = load_run(&args)?;
    let profile = match partial.complete() {
        Ok(p) => p,
        Err(incomplete) if incomplete.invalid.is_empty() && questionnaire::available() => {
            questionnaire::ask(&partial).map_err(UsageError)?
        }
        Err(incomplete) => {
            let from = match &args.profile {
                Some(p) => format!("{}", p.display()),
                None if args.values.any() => "the flags".to_string(),
                None => return Err(UsageError(questionnaire::NO_TERMINAL.to_string()).into()),
            };
            let hint = if incomplete.invalid.is_empty() {
                format!("; {}", questionnaire::NO_TERMINAL)
            } else {
                String::new()
            };
            return Err(UsageError(format!("{from}: {incomplete}{hint}")).into());
        }
    };
    let advice = adviser::advise(&profile, run.as_ref().map(|(r, s)| (r, s.as_str())));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&advice)?);
    } else {
        print!("{}", reports::advice_text::text(&advice));
    }
    if let Some(path) = &args.adr {
        std::fs::write(
            path,
            reports::advice_text::adr(&advice, &reports::advice_text::today()),
        )
        .with_context(|| format!("cannot write the ADR to {}", path.display()))?;
        if !args.json {
            println!("\nADR written to {}", path.display());
        }
    }
    Ok(())
}

/// The measured run: from `--summary-json`, else from the lab's store (`--run`, default the latest;
/// `--db`, default the store's default path). No database means no measurements.
fn load_run(args: &AdviseArgs) -> anyhow::Result<Option<(store::RunSummary, String)>> {
    if let Some(path) = &args.summary_json {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UsageError(format!("--summary-json {}: {e}", path.display())))?;
        let run: store::RunSummary = serde_json::from_str(&text).map_err(|e| {
            UsageError(format!(
                "--summary-json {}:{}:{}: not a RunSummary: {e}",
                path.display(),
                e.line(),
                e.column()
            ))
        })?;
        if let Some(id) = args.run {
            if id != run.run_id {
                return Err(UsageError(format!(
                    "--run {id}: the file {} holds run {}",
                    path.display(),
                    run.run_id
                ))
                .into());
            }
        }
        return Ok(Some((run, format!("file {}", path.display()))));
    }
    let explicit = args.db.is_some();
    let path = match &args.db {
        Some(p) => p.clone(),
        None => store::default_path().map_err(|e| UsageError(e.to_string()))?,
    };
    if !path.exists() {
        // Reading never creates a database: without one there are no measurements.
        if explicit || args.run.is_some() {
            return Err(UsageError(format!(
                "{}{}: no lab database there; run `stackwise lab` first, or pass another with --db",
                if explicit { "--db " } else { "" },
                path.display()
            ))
            .into());
        }
        return Ok(None);
    }
    let db = store::Store::open(&path).map_err(|e| UsageError(e.to_string()))?;
    let run = match args.run {
        Some(id) => Some(db.run(id).map_err(|e| super::run_error("--run", id, e))?),
        None => db.latest_run()?,
    };
    Ok(run.map(|r| (r, format!("store {}", path.display()))))
}
