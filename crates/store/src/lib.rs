//! `store`: what the lab measured, kept in SQLite (versioned schema) and read back as a
//! [`model::RunSummary`], the one read model that the claims, the adviser and the reports use.
//!
//! The model is plain serde data so that consumers can be tested on JSON fixtures without a database.

pub mod model;

pub use model::{CellStatus, CellSummary, LadderPoint, Machine, RunSummary, Spread, TargetSummary};
