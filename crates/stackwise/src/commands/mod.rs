//! The commands: each turns its parsed arguments into a typed configuration, runs the core, and
//! hands the result to [`crate::reports`].

mod advise;
mod lab_suite;
mod load;
pub(crate) mod targets;

use crate::cli::{Cli, Command};

pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Load(args) => load::run(*args),
        Command::Advise(args) => advise::run(*args),
        Command::Schema { name } if name == "advice" => {
            println!("{}", adviser::advice::schema_json());
            Ok(())
        }
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
