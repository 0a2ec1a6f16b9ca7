//! The commands: each turns its parsed arguments into a typed configuration, runs the core, and
//! hands the result to [`crate::reports`].

mod lab_suite;
mod load;
pub(crate) mod targets;

use crate::cli::{Cli, Command};

pub use load::config_error;

pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Load(args) => load::run(*args),
        Command::Targets(args) => targets::run(args),
        Command::Upstream { port } => Ok(lab::upstream::serve(port)?),
        Command::Lab(args) => lab_suite::run(*args),
        Command::Schema { name } => {
            debug_assert_eq!(name, "load-report");
            println!(
                "{}",
                serde_json::to_string_pretty(&loadgen::Report::json_schema())?
            );
            Ok(())
        }
    }
}
