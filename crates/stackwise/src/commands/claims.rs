//! `stackwise claims`: the catalogue (built in or `--catalogue FILE`) checked against a lab run (the
//! latest in the lab's store, `--run ID`, `--db PATH`; or `--summary-json FILE`, hidden, for tests
//! and fixtures), filtered by `--kind` / `--verdict`, printed as a table or `--json`. Without a
//! stored run, testable claims come with the lab command that would measure them.

use std::path::Path;

use claims::{Catalogue, Filter, Kind, Verdict};
use store::RunSummary;

use crate::cli::ClaimsArgs;
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
        print!("{}", reports::claims_text::render(&report));
    }
    Ok(())
}

fn load_run(args: &ClaimsArgs) -> anyhow::Result<Option<RunSummary>> {
    if let Some(p) = &args.summary_json {
        return read_summary(p).map(Some);
    }
    let path = match &args.db {
        Some(p) => {
            if !p.is_file() {
                return Err(UsageError(format!("--db: no lab database at {}", p.display())).into());
            }
            p.clone()
        }
        None => {
            let p = match (store::default_path(), args.run) {
                (Ok(p), _) => p,
                (Err(e), Some(_)) => return Err(UsageError(format!("--run: {e}")).into()),
                (Err(_), None) => return Ok(None),
            };
            if !p.is_file() {
                if let Some(id) = args.run {
                    return Err(UsageError(format!(
                        "--run {id}: there is no lab database yet ({}); run `stackwise lab` first",
                        p.display()
                    ))
                    .into());
                }
                return Ok(None);
            }
            p
        }
    };
    let db = store::Store::open(&path)?;
    match args.run {
        Some(id) => db
            .run(id)
            .map(Some)
            .map_err(|e| super::run_error("--run", id, e)),
        None => Ok(db.latest_run()?),
    }
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
