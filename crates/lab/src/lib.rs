//! `lab`: the reference backends run through the same workloads, measured and stored.

pub mod placement;
pub mod search;
pub mod stats;
pub mod suite;
pub mod workload;
