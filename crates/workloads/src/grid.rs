//! The shared rate grid of the capacity ladders (issue 14): rungs are offered at the Renard R10
//! preferred numbers, ten per decade (1, 1.25, 1.6, 2, 2.5, 3.15, 4, 5, 6.3, 8 × 10^k req/s), so
//! that every target has corrected p99 figures at the same offered rates. The lab's search
//! (crates/lab/src/search.rs) walks it; the claims compare p99 at the highest grid rate every
//! compared target held. Rates are computed, never parsed, so a stored grid rate compares equal.

/// The grid's rates in one decade, in hundredths (Renard R10 preferred numbers).
pub const GRID_R10: [u32; 10] = [100, 125, 160, 200, 250, 315, 400, 500, 630, 800];

/// The grid rate of index `k` (req/s): `GRID_R10[k mod 10] / 100 × 10^(k div 10)`; index 30 is
/// 1,000 req/s, 31 is 1,250, 40 is 10,000.
pub fn grid_rate(k: i32) -> f64 {
    let m = GRID_R10[k.rem_euclid(10) as usize] as f64;
    let d = k.div_euclid(10);
    if d >= 2 {
        m * 10f64.powi(d - 2)
    } else {
        m / 10f64.powi(2 - d)
    }
}

/// The index of the highest grid rate at or below `rate` (`rate` > 0).
pub fn grid_floor(rate: f64) -> i32 {
    let mut k = (rate.max(1e-9).log10() * 10.0).floor() as i32 + 1;
    while grid_rate(k) > rate * (1.0 + 1e-9) {
        k -= 1;
    }
    k
}

/// The grid index of `rate` when it is a grid rate (within a relative 1e-9), else `None`: a
/// refinement rung between two grid rates is not on the grid.
pub fn on_grid(rate: f64) -> Option<i32> {
    if !(rate.is_finite() && rate > 0.0) {
        return None;
    }
    let k = grid_floor(rate);
    ((grid_rate(k) - rate).abs() <= 1e-9 * rate).then_some(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_floor_and_on_grid_agree_with_grid_rate() {
        for k in -20..70 {
            assert_eq!(grid_floor(grid_rate(k)), k);
            assert_eq!(on_grid(grid_rate(k)), Some(k));
            // Just under a grid rate floors to the one below.
            assert_eq!(grid_floor(grid_rate(k) * 0.999), k - 1);
        }
        assert_eq!(on_grid(3_162.0), None);
        assert_eq!(on_grid(f64::NAN), None);
        assert_eq!(grid_rate(35), 3_150.0);
    }
}
