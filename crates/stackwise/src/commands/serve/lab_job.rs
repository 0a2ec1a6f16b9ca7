//! The lab run started from the UI: `stackwise lab --events json` (the same binary) as a
//! [`lab::process::job::Job`] (the supervision is the lab's: process group, SIGINT then SIGTERM →
//! SIGKILL, leak check); its stdout, the typed event stream, is read into the page's lines by
//! [`reports::live::page_lines`] (the terminal's own text), its stderr (errors, notes, the tables at
//! the end, how to resume) by [`reports::live::text_line`]. Only the wiring is here.

use lab::process::job::{Job, JobEvent};
use lab::process::SpawnError;
use reports::live::PageLine;

fn events(raw: &str) -> Vec<JobEvent> {
    let lines = reports::live::page_lines(raw).into_iter();
    lines
        .map(|l| match l {
            PageLine::Log(l) => JobEvent::Line(l),
            PageLine::Live(l) => JobEvent::Live(l),
        })
        .collect()
}

fn text(raw: &str) -> Vec<JobEvent> {
    vec![JobEvent::Line(reports::live::text_line(raw))]
}

/// Starts the lab: `command` is the program and its arguments, `shown` as the page shows it.
pub fn start(command: Vec<String>, shown: String) -> Result<Job, SpawnError> {
    let (name, what) = ("stackwise lab", "the lab run");
    Job::start(name, command, shown, what, [events, text])
}
