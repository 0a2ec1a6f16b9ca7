//! The commands: each turns its parsed arguments into a typed configuration, runs the core, and
//! hands the result to the `reports` crate.

pub mod advise;
mod bridges;
mod claims;
mod lab_suite;
mod load;
mod report;
mod serve;
pub(crate) mod targets;

use crate::cli::{Cli, Command};
use crate::UsageError;

pub use load::config_error;

pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Load(args) => load::run(*args),
        Command::Targets(args) => targets::run(args),
        Command::Upstream { port } => Ok(lab::upstream::serve(port)?),
        Command::Lab(args) => lab_suite::run(*args),
        Command::LabWatchdog { lock, pid, start } => {
            Ok(lab::runlock::watchdog_main(&lock, pid, start)?)
        }
        Command::Report(args) => report::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Advise(args) => advise::run(*args),
        Command::Schema { name } if name == "advice" => {
            println!("{}", adviser::advice::schema_json());
            Ok(())
        }
        Command::Schema { name } => {
            let schema = match name.as_str() {
                "claims" => ::claims::ClaimsReport::json_schema(),
                _ => loadgen::Report::json_schema(),
            };
            println!("{}", serde_json::to_string_pretty(&schema)?);
            Ok(())
        }
        Command::Claims(args) => claims::run(args),
        Command::Export(args) => bridges::export(args),
        Command::Import(args) => bridges::import(args),
    }
}

/// A store error reading run `id`: an unknown id is the user's (naming the flag), others are not.
fn run_error(flag: &str, id: i64, e: store::StoreError) -> anyhow::Error {
    match e {
        store::StoreError::NoSuchRun { .. } => UsageError(format!("{flag} {id}: {e}")).into(),
        e => e.into(),
    }
}
