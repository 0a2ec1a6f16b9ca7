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

/// Extra repeats (the top-up, docs/workloads.md "Extra repeats"): once a workload's planned
/// rounds are measured, a cell whose primary figure spreads over [`SPREAD_LIMIT`] gets up to this
/// many more repeats, interleaved across such cells widest first, until it is within the limit.
/// Two take the default three repeats to five, the count at which the claims' ratio interval
/// moves from min–max to a bootstrap; more would cost the budget more than one cell's verdict is
/// worth. A one-repeat run (`--quick`) gets none (its verdicts are indicative), and a workload
/// whose registry entry sets `extra_repeats` to 0 opts out (docs/workloads.md states which).
pub const EXTRA_REPEATS_PER_CELL: u32 = 2;

/// The time budget of the full suite (issue 14: ≤ 45 minutes on 2 cores)…
pub const FULL_SUITE_BUDGET_S: u64 = 45 * 60;
/// …and of `--quick` (≤ 5 minutes).
pub const QUICK_SUITE_BUDGET_S: u64 = 5 * 60;

/// The most a run may take, given its plan (`planned`): its tier's budget (45 minutes, or 5 with
/// `--quick`), or the plan itself when that is longer (more targets or `--repeats` asked for).
///
/// The **reserve** for noise re-measurements and extra repeats is this limit minus the plan: the
/// headroom under the tier's budget. We chose the headroom over a share of the plan because the
/// budget is the promise (a share on top would let the full suite run past 45 minutes whenever it
/// is noisy, as today's 55-minute run did): the retries and extra repeats spend it first come,
/// first served, and none starts when the elapsed time plus the rest of the plan plus the repeat
/// would pass the limit ([`within_limit`]). A run planned past its tier's budget has no reserve:
/// its noisy repeats are kept and flagged, as when the retry count is spent.
pub fn run_limit(quick: bool, planned: std::time::Duration) -> std::time::Duration {
    let budget = std::time::Duration::from_secs(if quick {
        QUICK_SUITE_BUDGET_S
    } else {
        FULL_SUITE_BUDGET_S
    });
    budget.max(planned)
}

/// Whether a re-measurement or an extra repeat costing `cost` may start `elapsed` into a run
/// whose planned work still to do is estimated at `planned_left` and whose limit is `limit`.
pub fn within_limit(
    elapsed: std::time::Duration,
    planned_left: std::time::Duration,
    cost: std::time::Duration,
    limit: std::time::Duration,
) -> bool {
    elapsed + planned_left + cost <= limit
}

/// The relative spread (max − min) / median of a figure's values; `None` with fewer than two
/// values or a median of zero.
pub fn relative_spread(values: &[f64]) -> Option<f64> {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.len() < 2 {
        return None;
    }
    let (median, _) = median_p90(&v)?;
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (median != 0.0).then(|| (max - min) / median.abs())
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

/// Median and 90th percentile (nearest rank) of a set of samples, e.g. the fresh starts of a
/// target's cold-start measure: the lab prints them as it measures, the reports from the stored
/// samples. NaN samples are left out; `None` when none is left.
pub fn median_p90(values: &[f64]) -> Option<(f64, f64)> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    let rank = ((0.9 * n as f64).ceil() as usize).clamp(1, n);
    Some((median, v[rank - 1]))
}

/// The newest Node.js major past its end of life (Node 20: 2026-04-30).
pub const NODE_EOL_MAJOR: u32 = 20;

/// The note readers need when a run used a Node.js past its end of life (`v20.20.2`, `18.1.0`);
/// `None` for a supported release or a version that does not parse.
pub fn node_eol_note(node_version: &str) -> Option<String> {
    let major: u32 = node_version
        .trim_start_matches('v')
        .split('.')
        .next()?
        .parse()
        .ok()?;
    (major <= NODE_EOL_MAJOR).then(|| {
        format!(
            "Node.js {node_version} is past its end of life (Node 20: 2026-04-30; Node 18 and older earlier): \
             no security fixes; production should use a supported release (22 or 24 LTS)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p90_by_nearest_rank() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(median_p90(&v), Some((5.5, 9.0)));
        assert_eq!(median_p90(&[4.0, 2.0, 3.0]), Some((3.0, 4.0)));
        assert_eq!(median_p90(&[7.0]), Some((7.0, 7.0)));
        assert_eq!(median_p90(&[f64::NAN, 2.0]), Some((2.0, 2.0)));
        assert_eq!(median_p90(&[]), None);
    }

    #[test]
    fn the_limit_is_the_tier_budget_or_a_longer_plan() {
        use std::time::Duration;
        let m = |x: u64| Duration::from_secs(x * 60);
        assert_eq!(run_limit(false, m(40)), m(45));
        assert_eq!(run_limit(true, m(4)), m(5));
        assert_eq!(run_limit(false, m(60)), m(60), "no reserve past the budget");
        assert!(within_limit(m(40), m(4), m(1), m(45)));
        assert!(!within_limit(m(40), m(4), Duration::from_secs(61), m(45)));
    }

    #[test]
    fn relative_spread_is_range_over_median() {
        assert_eq!(relative_spread(&[90.0, 100.0, 110.0]), Some(0.2));
        assert_eq!(relative_spread(&[100.0]), None);
        assert_eq!(relative_spread(&[0.0, 0.0]), None);
    }

    #[test]
    fn node_20_and_older_are_past_their_end_of_life() {
        assert!(node_eol_note("20.20.2").unwrap().contains("end of life"));
        assert!(node_eol_note("v18.1.0").is_some());
        assert!(node_eol_note("22.3.0").is_none());
        assert!(node_eol_note("garbage").is_none());
    }
}
