//! `store`: what the lab measured, kept in SQLite (versioned schema, [`schema`]) by [`Store`]
//! ([`db`]) and read back as a [`model::RunSummary`], the one read model that the claims, the
//! adviser and the reports use.
//!
//! Figures are rows named by metric ids of the `workloads` registry (schema v4): a new workload
//! or metric needs no migration. The model is plain serde data (its JSON layout, [`json`], is the
//! one of the typed fields it replaced) so that consumers can be tested on JSON fixtures without a
//! database.

pub mod db;
pub mod json;
pub mod model;
pub mod schema;
#[doc(hidden)]
pub mod testing;

pub use db::{
    default_path, now_rfc3339, CellRecord, NewRun, PlannedCell, RepeatRecord, RunListing, Store,
    StoreError, TargetRecord,
};
pub use model::{CellStatus, CellSummary, LadderPoint, Machine, RunSummary, Spread, TargetSummary};
