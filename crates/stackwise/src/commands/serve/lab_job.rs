//! The lab run started from the UI: `stackwise lab --events json` (the same binary) as a
//! [`lab::process::job::Job`] (the supervision is the lab's: process group, SIGINT then SIGTERM →
//! SIGKILL, leak check); its stdout, the typed event stream, is read into the page's lines by
//! [`reports::live::page_lines`] (the terminal's own text), its stderr (errors, notes, the tables at
//! the end, how to resume) by [`reports::live::text_line`]. Only the wiring is here.

use lab::process::job::{Job, JobEvent};
use lab::process::SpawnError;
use reports::live::PageLine;

fn events(raw: &str) -> Vec<JobEvent> {
    let event = |l| match l {
        PageLine::Log(l) => JobEvent::Line(l),
        PageLine::Live(l) => JobEvent::Live(l),
    };
    reports::live::page_lines(raw)
        .into_iter()
        .map(event)
        .collect()
}

fn text(raw: &str) -> Vec<JobEvent> {
    vec![JobEvent::Line(reports::live::text_line(raw))]
}

/// Starts `program args…` (the lab); `shown` is the command as the page shows it.
pub fn start(program: &str, args: &[String], shown: String) -> Result<Job, SpawnError> {
    let mut command = vec![program.to_string()];
    command.extend(args.iter().cloned());
    Job::start(
        "stackwise lab",
        command,
        shown,
        "the lab run",
        [events, text],
    )
}
