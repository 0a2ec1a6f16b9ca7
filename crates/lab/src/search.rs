//! The bounded search for the capacity at SLO: the highest offered rate whose corrected p99 stays
//! under the SLO. Pure logic over a `measure(rate) -> Rung` function, so it is tested on synthetic
//! latency curves; the capacity workloads give it a real open-loop run per rung.
//!
//! **The rate grid.** Rungs are offered on one fixed grid common to every target and every run, so
//! that targets have p99 figures at the *same* offered rates (issue 14: "compare p99 at shared
//! rates"): the Renard R10 preferred numbers, ten per decade, 1, 1.25, 1.6, 2, 2.5, 3.15, 4, 5,
//! 6.3, 8 × 10^k req/s (… 1,000, 1,250, 1,600, 2,000, 2,500, 3,150, 4,000 …; about ×1.26 a
//! step, three steps ≈ ×2). [`grid_rate`] and [`on_grid`] name them.
//!
//! **The walk.** The search is anchored on a rate the server is known to reach (the closed-loop
//! saturation throughput): it starts at the grid rate at or below [`SearchPlan::start_fraction`]
//! of the anchor, walks up the grid one step at a time while rungs pass, or down three steps (÷2)
//! while they fail, until it brackets the capacity; a bracket wider than one grid step is split on
//! the grid. Once the capacity lies between two neighbouring grid rates, the search **refines off
//! the grid** (the geometric mean of the bracket) until the bracket is narrower than
//! [`SearchPlan::precision`] — so the capacity keeps its 5% precision while every target's ladder
//! below and above its knee sits on the shared grid. Never more than [`SearchPlan::max_rungs`]
//! rungs in all.
//!
//! **Two SLOs, one ladder.** A plan may carry a second SLO ([`SearchPlan::second_slo_p99_ms`]:
//! the upstream-relative one, 5 × the workload's upstream wait). Both capacities are read from the
//! same rungs ([`read`]); the search refines the first SLO's bracket first and spends rungs the
//! budget has left on the second's, so the second may be bracketed only to a grid step (its
//! [`Reading`] says how).
//!
//! A rung passes when its corrected p99 is under the SLO, it had no errors or wrong answers, and the
//! engine achieved at least [`MIN_ACHIEVED`] of the offered rate (a server that cannot keep up
//! accumulates a backlog that a short rung may not yet show in its p99).

use store::LadderPoint;

/// The share of the offered rate a passing rung must achieve (the registry's trust constant).
pub const MIN_ACHIEVED: f64 = workloads::trust::MIN_ACHIEVED_SHARE;

pub use workloads::grid::{grid_floor, grid_rate, on_grid, GRID_R10};

/// How the search walks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchPlan {
    pub slo_p99_ms: f64,
    /// A second SLO read from the same ladder (the upstream-relative one), refined with the
    /// rungs the first leaves over.
    pub second_slo_p99_ms: Option<f64>,
    /// A rate the server reached in a closed loop (req/s).
    pub anchor_rps: f64,
    pub start_fraction: f64,
    /// Grid steps down after a failing rung while nothing passed (3 steps ≈ ÷2).
    pub down_steps: i32,
    /// Stop refining when hi / lo < 1 + precision.
    pub precision: f64,
    pub max_rungs: usize,
    /// Never offer less than this (req/s).
    pub min_rps: f64,
}

impl SearchPlan {
    pub fn new(slo_p99_ms: f64, anchor_rps: f64, max_rungs: usize) -> SearchPlan {
        SearchPlan {
            slo_p99_ms,
            second_slo_p99_ms: None,
            anchor_rps,
            start_fraction: 0.8,
            down_steps: 3,
            precision: 0.05,
            max_rungs,
            min_rps: 1.0,
        }
    }

    /// The plan with a second SLO read from the same ladder.
    pub fn with_second_slo(mut self, slo_p99_ms: Option<f64>) -> SearchPlan {
        self.second_slo_p99_ms = slo_p99_ms;
        self
    }

    fn min(&self) -> f64 {
        self.min_rps.max(loadgen::config::MIN_RATE)
    }

    /// The first rung: the grid rate at or below `start_fraction` × the anchor (at least the
    /// lowest grid rate ≥ `min_rps`).
    pub fn start_rate(&self) -> f64 {
        let min = self.min();
        let mut k = grid_floor((self.anchor_rps * self.start_fraction).max(min));
        while grid_rate(k) < min {
            k += 1;
        }
        grid_rate(k)
    }

    /// The next rate to measure for `slo` given the rungs so far, or `None` when its capacity is
    /// bracketed within the precision (or cannot go lower).
    fn next_for(&self, ladder: &[LadderPoint], slo: f64) -> Option<f64> {
        let r = read(ladder, slo);
        let min = self.min();
        match (r.capacity_rps, r.first_failing_rps) {
            (None, None) => Some(self.start_rate()),
            (Some(l), Some(h)) => {
                if h / l < 1.0 + self.precision {
                    return None;
                }
                // Split on the grid while a grid rate lies strictly inside the bracket.
                let inside: Vec<i32> = ((grid_floor(l) + 1)..=grid_floor(h))
                    .filter(|&k| grid_rate(k) > l * (1.0 + 1e-9) && grid_rate(k) < h * (1.0 - 1e-9))
                    .collect();
                Some(match inside.len() {
                    0 => (l * h).sqrt(),
                    n => grid_rate(inside[(n - 1) / 2]),
                })
            }
            (Some(l), None) => Some(grid_rate(grid_floor(l) + 1)),
            (None, Some(h)) => {
                if h <= min * (1.0 + 1e-9) {
                    return None;
                }
                let down = grid_rate(grid_floor(h) - self.down_steps.max(1));
                Some(if down >= min { down } else { min })
            }
        }
    }
}

/// How the search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// A passing rate with a failing one within the precision (or the rung budget) above it.
    Bracketed,
    /// No rung failed: the capacity is at least the highest rate tried.
    AtLeast,
    /// No rung passed: the capacity is below the lowest rate tried.
    Below,
}

/// A capacity read from a ladder at one SLO.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub slo_p99_ms: f64,
    /// The highest passing rate, if any rung passed.
    pub capacity_rps: Option<f64>,
    /// The lowest failing rate, if any rung failed.
    pub first_failing_rps: Option<f64>,
    pub bound: Bound,
}

/// The capacity at `slo` read from the rungs measured: the highest rate that passed (the same
/// reading for both SLOs of a ladder, and the search's own for its first SLO).
pub fn read(ladder: &[LadderPoint], slo: f64) -> Reading {
    let mut lo: Option<f64> = None;
    let mut hi: Option<f64> = None;
    for p in ladder {
        if passes(p, slo) {
            lo = Some(lo.map_or(p.offered_rps, |l: f64| l.max(p.offered_rps)));
        } else {
            hi = Some(hi.map_or(p.offered_rps, |h: f64| h.min(p.offered_rps)));
        }
    }
    let bound = match (lo, hi) {
        (Some(_), Some(_)) => Bound::Bracketed,
        (Some(_), None) => Bound::AtLeast,
        _ => Bound::Below,
    };
    Reading {
        slo_p99_ms: slo,
        capacity_rps: lo,
        first_failing_rps: hi,
        bound,
    }
}

impl Reading {
    /// The warning a reader needs when the capacity is not bracketed.
    pub fn warning(&self, ladder: &[LadderPoint]) -> Option<String> {
        let slo = fmt_ms(self.slo_p99_ms);
        match self.bound {
            Bound::Bracketed => None,
            Bound::AtLeast => self.capacity_rps.map(|c| {
                format!("capacity at {slo} is at least {c:.0} req/s: no rate tried broke that SLO")
            }),
            Bound::Below => Some(format!(
                "capacity at {slo} is below {:.0} req/s, the lowest rate tried: every rung broke that SLO",
                ladder
                    .iter()
                    .map(|p| p.offered_rps)
                    .fold(f64::INFINITY, f64::min)
            )),
        }
    }
}

fn fmt_ms(ms: f64) -> String {
    format!("p99 < {} ms", (ms * 10.0).round() / 10.0)
}

/// The outcome of a search: every rung measured, in the order measured, and the capacity.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOutcome {
    pub ladder: Vec<LadderPoint>,
    /// The highest passing rate, if any rung passed.
    pub capacity_rps: Option<f64>,
    pub bound: Bound,
    /// The lowest failing rate, if any rung failed.
    pub first_failing_rps: Option<f64>,
    /// The capacity at the plan's second SLO, read from the same ladder.
    pub second: Option<Reading>,
}

impl SearchOutcome {
    /// The warning a reader needs when the capacity is not bracketed.
    pub fn warning(&self) -> Option<String> {
        match self.bound {
            Bound::Bracketed => None,
            Bound::AtLeast => self
                .capacity_rps
                .map(|c| format!("capacity is at least {c:.0} req/s: no rate tried broke the SLO")),
            Bound::Below => Some(format!(
                "capacity is below {:.0} req/s, the lowest rate tried: every rung broke the SLO",
                self.ladder
                    .iter()
                    .map(|p| p.offered_rps)
                    .fold(f64::INFINITY, f64::min)
            )),
        }
    }
}

/// Whether a rung met the SLO.
pub fn passes(p: &LadderPoint, slo_p99_ms: f64) -> bool {
    p.errors == 0 && p.p99_ms < slo_p99_ms && p.achieved_rps >= MIN_ACHIEVED * p.offered_rps
}

/// Whether a rung kept up with its offered rate (no errors, at least [`MIN_ACHIEVED`] of it
/// achieved), whatever its p99: its p99 is a latency at that offered rate, comparable with other
/// targets' at the same grid rate.
pub fn held(p: &LadderPoint) -> bool {
    p.errors == 0 && p.achieved_rps >= MIN_ACHIEVED * p.offered_rps
}

/// Runs the search. `measure` runs one rung at the offered rate; an error (e.g. Ctrl-C, a crashed
/// server) stops the search and is returned.
pub fn search<E>(
    plan: &SearchPlan,
    mut measure: impl FnMut(f64) -> Result<LadderPoint, E>,
) -> Result<SearchOutcome, E> {
    let mut ladder: Vec<LadderPoint> = Vec::new();
    while ladder.len() < plan.max_rungs.max(1) {
        let next = plan.next_for(&ladder, plan.slo_p99_ms).or_else(|| {
            plan.second_slo_p99_ms
                .and_then(|s| plan.next_for(&ladder, s))
        });
        // A rate already measured would add nothing (a noisy ladder whose passes and failures
        // cross): stop.
        let Some(rate) = next.filter(|r| !ladder.iter().any(|p| p.offered_rps == *r)) else {
            break;
        };
        ladder.push(measure(rate)?);
    }
    let first = read(&ladder, plan.slo_p99_ms);
    Ok(SearchOutcome {
        capacity_rps: first.capacity_rps,
        bound: first.bound,
        first_failing_rps: first.first_failing_rps,
        second: plan.second_slo_p99_ms.map(|s| read(&ladder, s)),
        ladder,
    })
}
#[cfg(test)]
mod tests {
    use super::*;

    /// A server with a knee: p99 = base / (1 − ρ) with ρ = rate / max, like an M/M/1 queue, and a
    /// rate it cannot exceed.
    fn curve(max_rps: f64, base_ms: f64) -> impl FnMut(f64) -> Result<LadderPoint, ()> {
        move |rate| {
            let rho = rate / max_rps;
            let (p99, achieved) = if rho >= 1.0 {
                (10_000.0, max_rps)
            } else {
                (base_ms / (1.0 - rho), rate)
            };
            Ok(LadderPoint {
                offered_rps: rate,
                achieved_rps: achieved,
                p50_ms: p99 / 4.0,
                p99_ms: p99,
                errors: 0,
                server_cores: None,
            })
        }
    }

    /// The exact capacity of `curve`: base / (1 − r/max) < slo ⇔ r < max (1 − base/slo).
    fn exact(max_rps: f64, base_ms: f64, slo: f64) -> f64 {
        max_rps * (1.0 - base_ms / slo)
    }

    #[test]
    fn finds_the_knee_within_precision_and_budget() {
        for (max, base, anchor) in [
            (10_000.0, 5.0, 9_000.0),  // knee above the start: walks up
            (10_000.0, 40.0, 9_500.0), // knee at 6,000, below the start (7,600): walks down
            (300.0, 10.0, 300.0),
            (50_000.0, 0.5, 20_000.0), // the closed loop undershot: the knee is far above the anchor
        ] {
            let plan = SearchPlan::new(100.0, anchor, 8);
            let out = search(&plan, curve(max, base)).unwrap();
            let truth = exact(max, base, 100.0);
            let cap = out.capacity_rps.unwrap();
            assert!(cap <= truth, "{cap} above the true {truth}");
            assert!(out.ladder.len() <= 8);
            if out.bound == Bound::Bracketed {
                let h = out.first_failing_rps.unwrap();
                assert!(h > truth, "failing rung {h} not above the truth {truth}");
            }
            // Within 10% of the truth in at most 8 rungs.
            assert!(cap >= 0.9 * truth, "{cap} vs {truth} ({:?})", out.ladder);
        }
    }

    #[test]
    fn every_rung_is_kept_in_the_ladder() {
        let plan = SearchPlan::new(100.0, 1000.0, 5);
        let out = search(&plan, curve(1000.0, 10.0)).unwrap();
        assert_eq!(out.ladder.len(), 5);
        assert_eq!(out.ladder[0].offered_rps, 800.0);
    }

    #[test]
    fn never_failing_is_a_lower_bound_and_never_passing_is_below() {
        let plan = SearchPlan::new(100.0, 1000.0, 3);
        let out = search(&plan, curve(1e9, 1.0)).unwrap();
        assert_eq!(out.bound, Bound::AtLeast);
        assert!(
            out.warning().unwrap().contains("at least 1250"),
            "{:?}",
            out.warning()
        );
        let out = search(&plan, curve(1e9, 500.0)).unwrap();
        assert_eq!(out.bound, Bound::Below);
        assert_eq!(out.capacity_rps, None);
        assert!(
            out.warning().unwrap().contains("below 200"),
            "{:?}",
            out.warning()
        );
    }

    #[test]
    fn errors_or_a_missed_rate_fail_a_rung() {
        let mut p = LadderPoint {
            offered_rps: 100.0,
            achieved_rps: 100.0,
            p50_ms: 1.0,
            p99_ms: 2.0,
            errors: 0,
            server_cores: None,
        };
        assert!(passes(&p, 100.0));
        p.errors = 1;
        assert!(!passes(&p, 100.0));
        p.errors = 0;
        p.achieved_rps = 90.0;
        assert!(!passes(&p, 100.0));
        p.achieved_rps = 100.0;
        p.p99_ms = 100.0;
        assert!(
            !passes(&p, 100.0),
            "the SLO is strict: p99 must stay under it"
        );
    }

    #[test]
    fn a_measurement_error_stops_the_search() {
        let plan = SearchPlan::new(100.0, 1000.0, 5);
        let mut n = 0;
        let r = search(&plan, |_| {
            n += 1;
            if n == 2 {
                Err("interrupted")
            } else {
                curve(1000.0, 10.0)(500.0).map_err(|_| "x")
            }
        });
        assert_eq!(r.unwrap_err(), "interrupted");
        assert_eq!(n, 2);
    }

    #[test]
    fn the_grid_is_r10_and_common_to_every_anchor() {
        assert_eq!(grid_rate(30), 1000.0);
        assert_eq!(grid_rate(31), 1250.0);
        assert_eq!(grid_rate(35), 3150.0);
        assert_eq!(grid_rate(40), 10_000.0);
        assert_eq!(grid_rate(0), 1.0);
        assert_eq!(grid_rate(-1), 0.8);
        for k in -5..60 {
            assert_eq!(on_grid(grid_rate(k)), Some(k), "{k}");
            assert_eq!(grid_floor(grid_rate(k)), k);
            assert!(grid_rate(k + 1) / grid_rate(k) > 1.2 && grid_rate(k + 1) / grid_rate(k) < 1.3);
            assert!((grid_rate(k + 10) / grid_rate(k) - 10.0).abs() < 1e-9);
        }
        assert_eq!(on_grid(1100.0), None);
        assert_eq!(grid_floor(1100.0), 30);
        // Two targets with different anchors start on the same grid, so their rungs coincide.
        let a = SearchPlan::new(100.0, 3_300.0, 6).start_rate();
        let b = SearchPlan::new(100.0, 2_900.0, 6).start_rate();
        assert_eq!((a, b), (2_500.0, 2_000.0));
        assert_eq!(on_grid(a).unwrap() - on_grid(b).unwrap(), 1);
    }

    #[test]
    fn rungs_are_on_the_grid_until_the_knee_is_between_neighbours() {
        let plan = SearchPlan::new(100.0, 9_000.0, 8);
        let out = search(&plan, curve(10_000.0, 5.0)).unwrap();
        let off: Vec<f64> = out
            .ladder
            .iter()
            .map(|p| p.offered_rps)
            .filter(|r| on_grid(*r).is_none())
            .collect();
        // Every off-grid rung refines a bracket between two neighbouring grid rates.
        for r in &off {
            let k = grid_floor(*r);
            assert!(out.ladder.iter().any(|p| p.offered_rps == grid_rate(k)));
            assert!(out.ladder.iter().any(|p| p.offered_rps == grid_rate(k + 1)));
        }
        let grid: Vec<f64> = out
            .ladder
            .iter()
            .map(|p| p.offered_rps)
            .filter(|r| on_grid(*r).is_some())
            .collect();
        assert_eq!(grid, vec![6_300.0, 8_000.0, 10_000.0], "{:?}", out.ladder);
        assert!(!off.is_empty());
        // A bracket of several grid steps (a failing start, ÷2) is split on the grid first.
        let out = search(&SearchPlan::new(100.0, 10_000.0, 8), curve(10_000.0, 60.0)).unwrap();
        assert_eq!(out.ladder[0].offered_rps, 8_000.0);
        assert_eq!(out.ladder[1].offered_rps, 4_000.0);
        assert!(
            on_grid(out.ladder[2].offered_rps).is_some(),
            "{:?}",
            out.ladder
        );
    }

    #[test]
    fn both_slos_are_read_from_one_ladder() {
        // p99 = 10 / (1 − ρ): 100 ms at 9,000 req/s, 50 ms at 8,000 (max 10,000).
        let plan = SearchPlan::new(100.0, 9_000.0, 10).with_second_slo(Some(50.0));
        let mut calls = vec![];
        let mut f = curve(10_000.0, 10.0);
        let out = search(&plan, |r| {
            calls.push(r);
            f(r)
        })
        .unwrap();
        assert_eq!(calls.len(), out.ladder.len(), "one ladder, no extra runs");
        let second = out.second.unwrap();
        assert_eq!(second.slo_p99_ms, 50.0);
        let (abs, rel) = (out.capacity_rps.unwrap(), second.capacity_rps.unwrap());
        assert!(rel < abs, "{rel} vs {abs}");
        assert!((0.9 * 9_000.0..=9_000.0).contains(&abs), "{abs}");
        assert!((0.7 * 8_000.0..8_000.0).contains(&rel), "{rel}");
        // Each reading is the highest rung of the ladder that passed its SLO.
        assert_eq!(read(&out.ladder, 100.0).capacity_rps, Some(abs));
        for p in out.ladder.iter().filter(|p| p.offered_rps > rel) {
            assert!(!passes(p, 50.0), "{p:?} passes 50 ms above {rel}");
        }
        assert_eq!(second.bound, Bound::Bracketed, "{:?}", out.ladder);
        // With a tight budget the first SLO is refined first; the second is still read.
        let plan = SearchPlan::new(100.0, 9_000.0, 3).with_second_slo(Some(50.0));
        let out = search(&plan, curve(10_000.0, 10.0)).unwrap();
        assert_eq!(out.ladder.len(), 3);
        assert!(out.second.is_some());
        assert_eq!(read(&out.ladder, 50.0), out.second.unwrap());
    }

    #[test]
    fn a_reading_names_its_slo_when_unbracketed() {
        let p = |r: f64, p99: f64| LadderPoint {
            offered_rps: r,
            achieved_rps: r,
            p50_ms: 1.0,
            p99_ms: p99,
            errors: 0,
            server_cores: None,
        };
        let ladder = vec![p(1000.0, 60.0), p(1250.0, 80.0)];
        let r = read(&ladder, 50.0);
        assert_eq!((r.capacity_rps, r.bound), (None, Bound::Below));
        assert!(r.warning(&ladder).unwrap().contains("p99 < 50 ms"));
        let r = read(&ladder, 100.0);
        assert_eq!((r.capacity_rps, r.bound), (Some(1250.0), Bound::AtLeast));
        assert!(held(&ladder[0]));
    }
}
