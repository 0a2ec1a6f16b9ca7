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

/// A repeat whose steal time exceeds [`STEAL_LIMIT_PCT`] or whose other processes' share of the
/// server CPUs exceeds [`FOREIGN_LIMIT`] is measured again (the lab's suite), at most this many
/// times per cell…
pub const NOISE_RETRIES_PER_CELL: u32 = 3;

/// …and at most this share of the run's planned repeats in all (rounded up, at least
/// [`NOISE_RETRIES_MIN_PER_RUN`]): the retries can lengthen a run by about a quarter at most.
pub const NOISE_RETRY_SHARE_PER_RUN: f64 = 0.25;

/// The least retry budget of a run, however few repeats it plans.
pub const NOISE_RETRIES_MIN_PER_RUN: u32 = 3;

/// The run's retry budget for `planned_repeats` repeats.
pub fn noise_retry_budget(planned_repeats: u32) -> u32 {
    ((planned_repeats as f64 * NOISE_RETRY_SHARE_PER_RUN).ceil() as u32)
        .max(NOISE_RETRIES_MIN_PER_RUN)
}

/// The start of a cell's warning when some of its repeats stayed noisy once the retry budget was
/// spent: the claims hold back verdicts comparing such a cell (reason code `noisy_machine`).
pub const NOISY_CELL_PREFIX: &str = "noisy machine:";

/// Whether a cell's warnings say it stayed noisy (see [`NOISY_CELL_PREFIX`]).
pub fn is_noisy_cell(warnings: &[String]) -> bool {
    warnings.iter().any(|w| w.starts_with(NOISY_CELL_PREFIX))
}

/// What a database workload's figure says when the load side (engines, upstream, the lab's
/// database on the same CPUs) was saturated while it was measured: the figure is a lower bound and
/// the database may have set it. The lab writes it into the cell's warnings; the claims attach the
/// reason code `database_bound` to a verdict resting on such a figure.
pub const DATABASE_BOUND_NOTE: &str = "database-bound on this machine";

/// The upstream-relative SLO (issue 14): a capacity search on a workload that waits on the
/// upstream also reads its capacity at a p99 of this many times the upstream wait (50 ms for
/// `io-slo`'s 10 ms), from the same ladder as the absolute SLO. "Minimal latency" over a 10 ms
/// wait is judged against the wait itself, not only against a fixed 100 ms.
pub const UPSTREAM_SLO_MULTIPLE: f64 = 5.0;
