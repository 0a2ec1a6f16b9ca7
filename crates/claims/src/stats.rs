//! The statistics behind a comparison: the ratio of two targets' medians, an interval for it from
//! their repeats, and the three tests the rules apply to that interval (a minimum effect, an
//! equivalence margin, a claimed range). Pure functions on the repeats' values: they know nothing of
//! the store, targets or claims.
//!
//! **The interval.** Every repeat of one side against every repeat of the other: with fewer than
//! [`BOOTSTRAP_MIN_N`] repeats on either side, the interval is the min–max of all the pairwise ratios
//! (with 3 × 3 repeats, nine ratios; it covers every pairing the run could have produced); with at
//! least that many on both sides, a percentile bootstrap of the ratio of medians ([`RESAMPLES`]
//! resamples of each side with replacement, 95%), driven by a SplitMix64 generator with a fixed seed
//! ([`SEED`]) so that the same figures always give the same interval. The generator is written here
//! (a dozen lines) rather than taken from a crate whose streams may change between versions.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// With at least this many repeats on both sides, the interval is bootstrapped.
pub const BOOTSTRAP_MIN_N: usize = 5;
/// Bootstrap resamples.
pub const RESAMPLES: usize = 2000;
/// The bootstrap's confidence level.
pub const CONFIDENCE: f64 = 0.95;
/// The bootstrap's seed ("stackwis" in ASCII).
pub const SEED: u64 = 0x7374_6163_6b77_6973;

/// How an interval was computed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Method {
    /// Min–max of every pairwise ratio (fewer than 5 repeats on a side).
    PairwiseMinMax,
    /// Percentile bootstrap of the ratio of medians.
    Bootstrap {
        resamples: usize,
        seed: u64,
        confidence: f64,
    },
}

impl Method {
    pub fn describe(&self) -> String {
        match self {
            Method::PairwiseMinMax => "min–max of all repeat pairs".into(),
            Method::Bootstrap {
                resamples,
                seed,
                confidence,
            } => format!(
                "{:.0}% percentile bootstrap, {resamples} resamples, seed {seed:#x}",
                confidence * 100.0
            ),
        }
    }
}

/// The ratio of medians `num / den` and its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RatioInterval {
    /// median(num) / median(den).
    pub ratio: f64,
    pub lo: f64,
    pub hi: f64,
    /// Repeats on each side.
    pub n_num: usize,
    pub n_den: usize,
    #[serde(flatten)]
    pub method: Method,
}

/// The median (mean of the middle two for an even count). `values` must not be empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn div(a: f64, b: f64) -> Option<f64> {
    let r = a / b;
    (!r.is_nan()).then_some(r)
}

/// The interval of `median(num) / median(den)` with the default seed; `None` when a side is empty or
/// a ratio is undefined (0/0, ∞/∞).
pub fn ratio_interval(num: &[f64], den: &[f64]) -> Option<RatioInterval> {
    ratio_interval_seeded(num, den, SEED)
}

/// [`ratio_interval`] with another seed (for tests of the seed's effect).
pub fn ratio_interval_seeded(num: &[f64], den: &[f64], seed: u64) -> Option<RatioInterval> {
    if num.is_empty() || den.is_empty() || num.iter().chain(den).any(|v| v.is_nan()) {
        return None;
    }
    let ratio = div(median(num), median(den))?;
    let (n_num, n_den) = (num.len(), den.len());
    if n_num.min(n_den) < BOOTSTRAP_MIN_N {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for a in num {
            for b in den {
                let r = div(*a, *b)?;
                lo = lo.min(r);
                hi = hi.max(r);
            }
        }
        return Some(RatioInterval {
            ratio,
            lo,
            hi,
            n_num,
            n_den,
            method: Method::PairwiseMinMax,
        });
    }
    let mut rng = SplitMix64(seed);
    let mut a = vec![0.0; n_num];
    let mut b = vec![0.0; n_den];
    let mut ratios = Vec::with_capacity(RESAMPLES);
    for _ in 0..RESAMPLES {
        for x in a.iter_mut() {
            *x = num[rng.below(n_num)];
        }
        for x in b.iter_mut() {
            *x = den[rng.below(n_den)];
        }
        ratios.push(div(median(&a), median(&b))?);
    }
    ratios.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE) / 2.0;
    Some(RatioInterval {
        ratio,
        lo: quantile(&ratios, tail),
        hi: quantile(&ratios, 1.0 - tail),
        n_num,
        n_den,
        method: Method::Bootstrap {
            resamples: RESAMPLES,
            seed,
            confidence: CONFIDENCE,
        },
    })
}

/// Linear-interpolated quantile of sorted values (Hyndman & Fan type 7, as NumPy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let (i, f) = (h.floor() as usize, h.fract());
    match sorted.get(i + 1) {
        Some(next) if f > 0.0 => sorted[i] + f * (next - sorted[i]),
        _ => sorted[i],
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): small, fast, and fixed for all time.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2⁻⁶⁰ for repeat counts).
    fn below(&mut self, n: usize) -> usize {
        ((self.next() as u128 * n as u128) >> 64) as usize
    }
}

/// A directional comparison against the claim's minimum effect `E` (the interval is oriented so
/// that above 1 is the claimed direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// The whole interval at or above `E`.
    AtLeast,
    /// The whole interval above 1 but below `E`: the claimed direction, a smaller size.
    Smaller,
    /// The whole interval at or below 1: no advantage, or the other way.
    NoneOrReverse,
    /// The interval straddles 1.0 or `E`.
    WithinNoise,
}

pub fn effect(iv: &RatioInterval, min_effect: f64) -> Effect {
    if iv.lo >= min_effect {
        Effect::AtLeast
    } else if iv.hi <= 1.0 {
        Effect::NoneOrReverse
    } else if iv.lo > 1.0 && iv.hi < min_effect {
        Effect::Smaller
    } else {
        Effect::WithinNoise
    }
}

/// An equivalence test: the margin `m` is a factor `1 + m` either way, so the band is
/// `[1 / (1 + m), 1 + m]` and the answer does not depend on which side is the numerator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Equivalence {
    /// The whole interval inside the band.
    Equivalent,
    /// The whole interval outside it.
    Different,
    /// Part in, part out.
    WithinNoise,
}

pub fn equivalence(iv: &RatioInterval, margin: f64) -> Equivalence {
    let (lo, hi) = equivalence_band(margin);
    if iv.lo >= lo && iv.hi <= hi {
        Equivalence::Equivalent
    } else if iv.hi < lo || iv.lo > hi {
        Equivalence::Different
    } else {
        Equivalence::WithinNoise
    }
}

/// The band `[1 / (1 + m), 1 + m]`.
pub fn equivalence_band(margin: f64) -> (f64, f64) {
    (1.0 / (1.0 + margin), 1.0 + margin)
}

/// A claimed ratio range `[min, max]` (e.g. "50–60% lower": 0.40–0.50).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InRange {
    /// The whole interval inside the claimed range.
    Inside,
    /// Outside the range but on the claimed side of 1: the right direction, another size.
    OtherSize,
    /// On the other side of 1 (no difference, or the other way).
    Wrong,
    /// The interval straddles a bound of the range or 1.0.
    WithinNoise,
}

pub fn in_range(iv: &RatioInterval, min: f64, max: f64) -> InRange {
    let up = min > 1.0;
    let down = max < 1.0;
    if iv.lo >= min && iv.hi <= max {
        InRange::Inside
    } else if (up && iv.hi <= 1.0) || (down && iv.lo >= 1.0) {
        InRange::Wrong
    } else if (iv.hi < min || iv.lo > max) && ((up && iv.lo > 1.0) || (down && iv.hi < 1.0)) {
        InRange::OtherSize
    } else if !up && !down && (iv.hi < min || iv.lo > max) {
        // A range around 1 ("about the same"): outside it is simply another size.
        InRange::OtherSize
    } else {
        InRange::WithinNoise
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(m: f64, rel: &[f64]) -> Vec<f64> {
        rel.iter().map(|f| m * f).collect()
    }

    #[test]
    fn median_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn few_repeats_give_the_min_max_of_every_pair() {
        let iv = ratio_interval(&[10.0, 11.0, 12.0], &[5.0, 6.0]).unwrap();
        assert_eq!(iv.method, Method::PairwiseMinMax);
        assert_eq!(iv.ratio, 11.0 / 5.5);
        assert_eq!(iv.lo, 10.0 / 6.0);
        assert_eq!(iv.hi, 12.0 / 5.0);
        // One figure each: a point.
        let iv = ratio_interval(&[3.0], &[2.0]).unwrap();
        assert_eq!((iv.lo, iv.ratio, iv.hi), (1.5, 1.5, 1.5));
        // 0/0 has no ratio; x/0 and 0/x have.
        assert!(ratio_interval(&[0.0], &[0.0]).is_none());
        assert_eq!(ratio_interval(&[1.0], &[0.0]).unwrap().lo, f64::INFINITY);
        assert!(ratio_interval(&[], &[1.0]).is_none());
    }

    #[test]
    fn bootstrap_is_deterministic_with_its_seed_and_covers_the_ratio() {
        let a = [101.0, 97.0, 104.0, 99.0, 103.0, 95.0, 100.0];
        let b = [50.0, 52.0, 49.0, 51.0, 48.0, 53.0];
        let x = ratio_interval(&a, &b).unwrap();
        let y = ratio_interval(&a, &b).unwrap();
        assert_eq!(x, y, "same figures, same seed: same interval");
        assert!(matches!(x.method, Method::Bootstrap { seed: SEED, .. }));
        assert!(x.lo < x.ratio && x.ratio < x.hi, "{x:?}");
        assert!(x.lo > 1.8 && x.hi < 2.2, "{x:?}");
        // Narrower than the min–max of all pairs, which covers every extreme pairing.
        assert!(x.lo > 95.0 / 53.0 && x.hi < 104.0 / 48.0, "{x:?}");
        // Another seed: another (close) interval, so the seed is what fixes it.
        let z = ratio_interval_seeded(&a, &b, 1).unwrap();
        assert_ne!((x.lo, x.hi), (z.lo, z.hi));
        assert!((x.lo - z.lo).abs() < 0.05 && (x.hi - z.hi).abs() < 0.05);
        // The generator's first outputs are SplitMix64's published ones for seed 0.
        let mut g = SplitMix64(0);
        assert_eq!(g.next(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(g.next(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn a_4_percent_gap_with_13_percent_spread_is_within_noise() {
        // Three repeats each, (max − min) / median = 13%; medians 4% apart.
        let a = spread(1040.0, &[0.935, 1.0, 1.065]);
        let b = spread(1000.0, &[0.935, 1.0, 1.065]);
        let iv = ratio_interval(&a, &b).unwrap();
        assert!(iv.lo < 1.0 && iv.hi > 1.0, "{iv:?}");
        assert_eq!(effect(&iv, 1.2), Effect::WithinNoise);
        assert_eq!(effect(&iv, 2.0), Effect::WithinNoise);
    }

    #[test]
    fn a_clean_1_18x_is_smaller_than_exceptionally_and_than_faster() {
        let a = spread(1180.0, &[0.995, 1.0, 1.005]);
        let b = spread(1000.0, &[0.995, 1.0, 1.005]);
        let iv = ratio_interval(&a, &b).unwrap();
        assert!(iv.lo > 1.1, "clean separation: {iv:?}");
        assert_eq!(effect(&iv, 2.0), Effect::Smaller);
        assert_eq!(effect(&iv, 1.2), Effect::Smaller);
        assert_eq!(effect(&iv, 1.1), Effect::AtLeast);
        let worse = ratio_interval(&b, &a).unwrap();
        assert_eq!(effect(&worse, 1.2), Effect::NoneOrReverse);
    }

    #[test]
    fn equivalence_needs_the_whole_interval_inside_the_margin() {
        let a = spread(1100.0, &[0.97, 1.0, 1.03]);
        let b = spread(1000.0, &[0.97, 1.0, 1.03]);
        let iv = ratio_interval(&a, &b).unwrap();
        assert_eq!(equivalence(&iv, 0.25), Equivalence::Equivalent);
        // Symmetric: the other orientation gives the same answer.
        let iv2 = ratio_interval(&b, &a).unwrap();
        assert_eq!(equivalence(&iv2, 0.25), Equivalence::Equivalent);
        assert_eq!(equivalence(&iv, 0.1), Equivalence::WithinNoise);
        let far = ratio_interval(&[2000.0], &[1000.0]).unwrap();
        assert_eq!(equivalence(&far, 0.25), Equivalence::Different);
        assert_eq!(equivalence_band(0.25), (0.8, 1.25));
    }

    #[test]
    fn claimed_ranges() {
        let iv = |lo, hi| RatioInterval {
            ratio: (lo + hi) / 2.0,
            lo,
            hi,
            n_num: 3,
            n_den: 3,
            method: Method::PairwiseMinMax,
        };
        assert_eq!(in_range(&iv(0.42, 0.48), 0.4, 0.5), InRange::Inside);
        assert_eq!(in_range(&iv(0.05, 0.2), 0.4, 0.5), InRange::OtherSize);
        assert_eq!(in_range(&iv(0.9, 1.1), 0.4, 0.5), InRange::WithinNoise);
        assert_eq!(in_range(&iv(1.0, 1.3), 0.4, 0.5), InRange::Wrong);
        assert_eq!(in_range(&iv(0.45, 0.55), 0.4, 0.5), InRange::WithinNoise);
        assert_eq!(in_range(&iv(8.0, 30.0), 7.5, 40.0), InRange::Inside);
        assert_eq!(in_range(&iv(1.5, 2.0), 7.5, 40.0), InRange::OtherSize);
        assert_eq!(in_range(&iv(0.5, 0.9), 7.5, 40.0), InRange::Wrong);
    }
}
