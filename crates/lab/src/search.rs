//! The bounded search for the capacity at SLO: the highest offered rate whose corrected p99 stays
//! under the SLO. Pure logic over a `measure(rate) -> Rung` function, so it is tested on synthetic
//! latency curves; the capacity workloads give it a real open-loop run per rung.
//!
//! The search is anchored on a rate the server is known to reach (the closed-loop saturation
//! throughput): it starts at [`SearchPlan::start_fraction`] of the anchor, walks geometrically up
//! (×[`SearchPlan::growth`]) while rungs pass or down (÷2) while they fail until it brackets the
//! capacity, then bisects the bracket until it is narrower than [`SearchPlan::precision`] — never
//! more than [`SearchPlan::max_rungs`] rungs in all.
//!
//! A rung passes when its corrected p99 is under the SLO, it had no errors or wrong answers, and the
//! engine achieved at least [`MIN_ACHIEVED`] of the offered rate (a server that cannot keep up
//! accumulates a backlog that a short rung may not yet show in its p99).

use store::LadderPoint;

/// The share of the offered rate a passing rung must achieve (the registry's trust constant).
pub const MIN_ACHIEVED: f64 = workloads::trust::MIN_ACHIEVED_SHARE;

/// How the search walks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchPlan {
    pub slo_p99_ms: f64,
    /// A rate the server reached in a closed loop (req/s).
    pub anchor_rps: f64,
    pub start_fraction: f64,
    pub growth: f64,
    /// Stop bisecting when hi / lo < 1 + precision.
    pub precision: f64,
    pub max_rungs: usize,
    /// Never offer less than this (req/s).
    pub min_rps: f64,
}

impl SearchPlan {
    pub fn new(slo_p99_ms: f64, anchor_rps: f64, max_rungs: usize) -> SearchPlan {
        SearchPlan {
            slo_p99_ms,
            anchor_rps,
            start_fraction: 0.8,
            growth: 1.25,
            precision: 0.05,
            max_rungs,
            min_rps: 1.0,
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

/// The outcome of a search: every rung measured, in the order measured, and the capacity.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOutcome {
    pub ladder: Vec<LadderPoint>,
    /// The highest passing rate, if any rung passed.
    pub capacity_rps: Option<f64>,
    pub bound: Bound,
    /// The lowest failing rate, if any rung failed.
    pub first_failing_rps: Option<f64>,
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

/// Runs the search. `measure` runs one rung at the offered rate; an error (e.g. Ctrl-C, a crashed
/// server) stops the search and is returned.
pub fn search<E>(
    plan: &SearchPlan,
    mut measure: impl FnMut(f64) -> Result<LadderPoint, E>,
) -> Result<SearchOutcome, E> {
    let mut ladder: Vec<LadderPoint> = Vec::new();
    let mut lo: Option<f64> = None; // highest passing rate
    let mut hi: Option<f64> = None; // lowest failing rate
    let min = plan.min_rps.max(loadgen::config::MIN_RATE);
    let mut rate = (plan.anchor_rps * plan.start_fraction).max(min);
    while ladder.len() < plan.max_rungs.max(1) {
        let point = measure(rate)?;
        let ok = passes(&point, plan.slo_p99_ms);
        ladder.push(point);
        if ok {
            lo = Some(lo.map_or(rate, |l: f64| l.max(rate)));
        } else {
            hi = Some(hi.map_or(rate, |h: f64| h.min(rate)));
        }
        rate = match (lo, hi) {
            (Some(l), Some(h)) => {
                if h / l < 1.0 + plan.precision {
                    break;
                }
                (l * h).sqrt()
            }
            (Some(l), None) => l * plan.growth,
            (None, Some(h)) => {
                if h <= min {
                    break;
                }
                (h / 2.0).max(min)
            }
            (None, None) => unreachable!("every rung passes or fails"),
        };
    }
    let bound = match (lo, hi) {
        (Some(_), Some(_)) => Bound::Bracketed,
        (Some(_), None) => Bound::AtLeast,
        _ => Bound::Below,
    };
    Ok(SearchOutcome {
        ladder,
        capacity_rps: lo,
        bound,
        first_failing_rps: hi,
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
}
