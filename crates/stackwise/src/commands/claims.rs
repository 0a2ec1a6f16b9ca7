//! `stackwise claims`: the catalogue (built in or `--catalogue FILE`) checked against a lab run
//! (`--summary-json FILE`, hidden, for tests and fixtures; the store once the lab has one), filtered
//! by `--kind` / `--verdict`, printed as a table or `--json`.

use std::path::Path;

use claims::{Catalogue, Filter, Kind, Verdict};
use store::RunSummary;

use crate::cli::ClaimsArgs;
use crate::reports;
use crate::UsageError;

pub fn run(args: ClaimsArgs) -> anyhow::Result<()> {
    let (cat, origin) = match &args.catalogue {
        Some(p) => (
            Catalogue::load(p).map_err(|e| UsageError(format!("--catalogue: {e}")))?,
            p.display().to_string(),
        ),
        None => (Catalogue::builtin(), "built-in".to_string()),
    };
    let filter = Filter {
        kinds: args
            .kind
            .iter()
            .map(|k| match k.as_str() {
                "testable" => Kind::Testable,
                "cited" => Kind::Cited,
                _ => Kind::Opinion,
            })
            .collect(),
        verdicts: args
            .verdict
            .iter()
            .map(|v| Verdict::from_id(v).expect("clap checked the value"))
            .collect(),
    };
    let run = load_run(&args)?;
    let report = claims::evaluate(&cat, &origin, run.as_ref(), &filter);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", reports::claims::render(&report));
    }
    Ok(())
}

fn load_run(args: &ClaimsArgs) -> anyhow::Result<Option<RunSummary>> {
    if let Some(p) = &args.summary_json {
        return read_summary(p).map(Some);
    }
    if args.run.is_some() || args.db.is_some() {
        return Err(UsageError(
            "--run/--db: this build cannot read the lab's store yet (it arrives with `stackwise lab`); \
             without them the claims are listed with the lab commands that would measure them"
                .into(),
        )
        .into());
    }
    Ok(None)
}

fn read_summary(p: &Path) -> anyhow::Result<RunSummary> {
    let text = std::fs::read_to_string(p)
        .map_err(|e| UsageError(format!("--summary-json: cannot read {}: {e}", p.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        UsageError(format!(
            "--summary-json: {} is not a RunSummary: {e}",
            p.display()
        ))
        .into()
    })
}
