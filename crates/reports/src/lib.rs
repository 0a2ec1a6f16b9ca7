//! `reports`: renders a lab run (the store's [`store::model::RunSummary`], plus optional detail) as
//! Markdown, JSON, or one self-contained HTML file whose charts are server-side SVG, and compares two
//! runs by a stated noise rule.
//!
//! - [`escape`]: every user-provided text goes through it (HTML, Markdown).
//! - [`format`]: the one number formatter of every output.
//! - [`svg`]: scales, ticks and an escaping SVG writer; [`charts`]: the charts.
//! - [`input`]: what a report is made of; [`derive`]: derived figures, warnings, the comparison rule.
//! - [`findings`]: the summary every output leads with (headline comparisons, claims, advice,
//!   the run's trust, warnings grouped by cause).
//! - [`html`], [`markdown`], [`json`]: the three outputs.
//! - [`claims_text`]: the claims verdicts as terminal text (`stackwise claims`).
//! - [`advice_text`]: the advice as terminal text (`stackwise advise`) and as an Architecture
//!   Decision Record (MADR); the adviser returns typed advice and renders nothing.
//! - [`terminal`]: the terminal tables of a run (the end of `stackwise lab`, `lab --show`).
//! - [`load`]: the terminal summary of one `stackwise load` run (the engine's report).
//! - [`ui`]: the HTML bodies of the web UI's pages (`stackwise serve`).
//! - [`live`]: the lab's progress (live line, per-cell result line) from its typed events.
//! - [`export`]: the one seam every output goes through (an `Exporter` per format).
//! - [`assemble`]: one assembly of a run with its details, the claims verdicts and the advice
//!   ([`sections`] lays the verdicts and the advice out), for every output and the web UI.

pub mod advice_text;
pub mod assemble;
pub mod charts;
pub mod claims_text;
pub mod derive;
pub mod escape;
pub mod export;
pub mod figures;
pub mod findings;
pub mod format;
pub mod html;
pub mod input;
pub mod json;
pub mod live;
pub mod load;
pub mod markdown;
pub mod plan;
pub mod progress;
pub mod sections;
pub mod svg;
pub mod tables;
pub mod terminal;
pub mod ui;

pub use input::{
    CellDetail, InputError, PercentilePoint, ReportInput, SecondSample, Section, Table,
};
