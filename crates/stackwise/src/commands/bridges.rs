//! `stackwise export locust|k6` and `stackwise import locust|k6`: the CLI side of the `bridges`
//! crate. Export writes a script and prints how to run it (nothing is run); import reads an
//! engine's output and stores it as a run (`Store::import_run`).

use std::path::{Path, PathBuf};

use bridges::plan::{Plan, Settings};

use crate::cli::{ExportArgs, ExportCommon, ExportEngine, ImportArgs, ImportCommon, ImportEngine};
use crate::UsageError;

fn generator() -> String {
    format!("stackwise {}", env!("CARGO_PKG_VERSION"))
}

fn plan(c: &ExportCommon) -> Result<Plan, UsageError> {
    let registry = workloads::registry();
    let w = registry.workload(&c.workload).ok_or_else(|| {
        UsageError(format!(
            "--workload {}: no such workload (known: {})",
            c.workload,
            registry.known_ids()
        ))
    })?;
    let d = humantime::parse_duration(c.duration.trim())
        .map_err(|e| UsageError(format!("--duration {}: {e} (e.g. 30s, 2m)", c.duration)))?;
    if d.subsec_nanos() != 0 {
        return Err(UsageError(format!(
            "--duration {}: whole seconds only (the engines take seconds)",
            c.duration
        )));
    }
    Plan::new(
        w,
        &c.url,
        &Settings {
            rate: c.rate,
            duration_s: d.as_secs(),
            slo_ms: c.slo_ms,
        },
    )
    .map_err(|e| UsageError(e.to_string()))
}

/// `--out`, else `stackwise_WORKLOAD.EXT` here.
fn out_path(c: &ExportCommon, p: &Plan, ext: &str) -> PathBuf {
    let default = || format!("stackwise_{}.{ext}", p.workload.replace('-', "_"));
    c.out.clone().unwrap_or_else(|| default().into())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text)
        .map_err(|e| UsageError(format!("--out {}: cannot write: {e}", path.display())).into())
}

pub fn export(args: ExportArgs) -> anyhow::Result<()> {
    match args.engine {
        ExportEngine::Locust {
            common,
            workers,
            master_host,
            master_port,
            csv,
        } => {
            if workers == 0 {
                return Err(
                    UsageError("--workers 0: at least one worker runs the users".into()).into(),
                );
            }
            let p = plan(&common)?;
            let out = out_path(&common, &p, "py");
            let csv_prefix = csv.unwrap_or_else(|| out.with_extension("").display().to_string());
            let layout = bridges::locust::Layout {
                locustfile: out.display().to_string(),
                workers,
                master_host,
                master_port,
                csv_prefix: csv_prefix.clone(),
            };
            write(&out, &bridges::locust::export(&p, &layout, &generator()))?;
            print!("{}", bridges::locust::how_to_run(&p, &layout));
            Ok(())
        }
        ExportEngine::K6 { common } => {
            let p = plan(&common)?;
            let out = out_path(&common, &p, "k6.js");
            write(&out, &bridges::k6::export(&p, &generator()))?;
            print!(
                "{}",
                bridges::k6::how_to_run(&p, &out.display().to_string())
            );
            Ok(())
        }
    }
}

fn store_it(common: &ImportCommon, imported: bridges::Imported) -> anyhow::Result<()> {
    let known = || workloads::registry().known_ids();
    if let Some(w) = common
        .workload
        .as_ref()
        .filter(|w| workloads::registry().workload(w).is_none())
    {
        return Err(UsageError(format!(
            "--workload {w}: no such workload (known: {})",
            known()
        ))
        .into());
    }
    if workloads::registry().workload(&imported.workload).is_none() {
        return Err(UsageError(format!(
            "the run names workload {:?}, which the registry does not know (known: {}); give --workload",
            imported.workload,
            known()
        ))
        .into());
    }
    let path = match &common.db {
        Some(p) => p.clone(),
        None => store::default_path().map_err(|e| UsageError(format!("--db: {e}")))?,
    };
    let mut db = store::Store::open(&path)?;
    let summary = imported.to_run_summary(&store::now_rfc3339(), &generator());
    let id = db.import_run(&summary)?;
    print!("{}", imported.stored_text(id, &path.display().to_string()));
    println!("report: stackwise report --run {id}");
    Ok(())
}

pub fn import(args: ImportArgs) -> anyhow::Result<()> {
    match args.engine {
        ImportEngine::Locust {
            prefix,
            common,
            workers,
            rate,
        } => {
            let imported = bridges::locust::import(
                &prefix,
                &bridges::locust::ImportOptions {
                    workload: common.workload.clone(),
                    target: common.target.clone(),
                    target_url: common.target_url.clone(),
                    workers,
                    tool_version: common.tool_version.clone(),
                    rate_rps: rate,
                },
            )
            .map_err(|e| UsageError(e.to_string()))?;
            store_it(&common, imported)
        }
        ImportEngine::K6 { files, common } => {
            let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
            let imported = bridges::k6::import(
                &paths,
                &bridges::k6::ImportOptions {
                    workload: common.workload.clone(),
                    target: common.target.clone(),
                    target_url: common.target_url.clone(),
                    tool_version: common.tool_version.clone(),
                },
            )
            .map_err(|e| UsageError(e.to_string()))?;
            store_it(&common, imported)
        }
    }
}

#[cfg(test)]
mod tests {
    /// The exporters' crud ids are the lab's (crates/lab/src/crud.rs), so an exported crud run
    /// reads, updates and deletes the rows the lab's does.
    #[test]
    fn exported_crud_ids_are_the_labs() {
        use bridges::plan::{ids_for, Ids, DELETE_BASE};
        let range = |r: &std::ops::RangeInclusive<u64>| Ids::Cycle {
            first: *r.start(),
            last: *r.end(),
        };
        assert_eq!(ids_for("read"), Some(range(&lab::crud::READ_IDS)));
        assert_eq!(ids_for("update"), Some(range(&lab::crud::UPDATE_IDS)));
        assert_eq!(DELETE_BASE, lab::crud::DELETE_BASE);
        assert!(matches!(ids_for("delete"), Some(Ids::Once { base, .. }) if base == DELETE_BASE));
    }
}
