//! The trust constants: the rules the lab measures by and the readers (reports, adviser, claims)
//! judge by. They live here once; every crate that applies a rule imports it from here.

/// A passing capacity rung must achieve at least this share of the offered rate (a server that
/// cannot keep up accumulates a backlog that a short rung may not yet show in its p99).
pub const MIN_ACHIEVED_SHARE: f64 = 0.97;

/// Repeats whose (max − min) / median exceeds this are warned about (the lab) and flagged as
/// noisy (the reports).
pub const SPREAD_LIMIT: f64 = 0.10;

/// A client (load engine, upstream, their CPUs) at least this busy makes the server's figure a
/// lower bound.
pub const BUSY_LIMIT: f64 = 0.90;

/// Steal time above this share of CPU time (percent) during a measuring window is warned about.
pub const STEAL_LIMIT_PCT: f64 = 2.0;

/// Other processes' share of the server CPUs above which a figure is warned about.
pub const FOREIGN_LIMIT: f64 = 0.10;

/// The p99 SLO of the capacity searches unless `--slo-p99` says otherwise, in ms.
pub const DEFAULT_SLO_P99_MS: f64 = 100.0;

/// What a database workload's figure says when the load side (engines, upstream, the lab's
/// database on the same CPUs) was saturated while it was measured: the figure is a lower bound and
/// the database may have set it. The lab writes it into the cell's warnings; the claims attach the
/// reason code `database_bound` to a verdict resting on such a figure.
pub const DATABASE_BOUND_NOTE: &str = "database-bound on this machine";
