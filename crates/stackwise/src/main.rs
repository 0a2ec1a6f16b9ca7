//! `stackwise`: the command-line front end. A thin clap layer ([`cli`]) turns arguments into typed
//! configurations, the commands ([`commands`]) run the core crates, and [`reports`] renders what
//! they return.
//!
//! Exit codes ([`cli::EXIT_CODES`]): 0 success; 2 bad input (a one-line error naming the flag);
//! 1 a failure while running (for `load`: no correct response, or a threshold broken).

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

/// An error that tells the user what to change: printed on one line, exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

impl From<loadgen::ConfigError> for UsageError {
    fn from(e: loadgen::ConfigError) -> Self {
        commands::config_error(&e)
    }
}

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => return cli::exit_on_clap_error(e),
    };
    match commands::dispatch(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(u) = e.downcast_ref::<UsageError>() {
                eprintln!("error: {u}");
                ExitCode::from(2)
            } else {
                eprintln!("error: {e:#}");
                ExitCode::from(1)
            }
        }
    }
}
