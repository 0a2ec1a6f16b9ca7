//! Group against group: how a claim about a language ("Node.js is faster than Python") is decided
//! from its frameworks' figures, with the statistics of [`crate::stats`].
//!
//! **Two readings, both must agree.** The claim is read twice: the *best* framework of one group
//! against the best of the other (what a team choosing the fastest framework would get), and the
//! *typical* framework against the typical one (the median framework by its median; with an even
//! count, the two middle frameworks' repeats pooled, as the median of an even count averages the two
//! middle values). Each reading is a ratio of medians
//! with its interval ([`crate::stats::ratio_interval`]), tested against the claim (a minimum effect,
//! an equivalence margin or a claimed range). Both readings the same → that verdict; one within noise
//! → `inconclusive`; the right direction in both but the claimed size in only one → `partly`; readings
//! that point different ways → `depends` (the frameworks really disagree). Every pair is also
//! classified, for the reason line only.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalogue::fmt_num;
use crate::stats::{self, Effect, Equivalence, InRange, RatioInterval};
use crate::verdict::Verdict;

/// One target's figures on one (workload, metric).
#[derive(Debug, Clone)]
pub struct Series {
    pub target: String,
    /// The repeats' values (∞ for a ws-hold server that could not hold the set, on a metric where
    /// that makes it the worst).
    pub values: Vec<f64>,
    pub median: f64,
    /// A lower bound: the true figure is at least this (higher-is-better metrics).
    pub lower_bound: bool,
    /// Measured once, although the figure varies between repeats (install bytes do not): a
    /// verdict resting on it is indicative.
    pub one_repeat: bool,
}

/// What a comparison tests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Test {
    /// The claimed direction by at least this factor.
    MinEffect(f64),
    /// The same within a margin `m` (a factor `1 + m` either way).
    Equivalence(f64),
    /// The ratio subject / compared (raw, not oriented) within `[min, max]`.
    Range(f64, f64),
}

/// The outcome of one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// The claim holds at its size (≥ the minimum effect; inside the margin; inside the range).
    Holds,
    /// The claimed direction, another size.
    OtherSize,
    /// The claim does not hold (no advantage or the other way; outside the margin; wrong side of 1).
    Fails,
    /// The interval straddles the threshold: the run cannot tell.
    WithinNoise,
    /// A lower-bound figure stands where it could change the answer.
    Undecided,
}

impl Class {
    fn word(self, test: Test) -> &'static str {
        match (self, test) {
            (Class::Holds, Test::MinEffect(_)) => "at least the minimum effect",
            (Class::Holds, Test::Equivalence(_)) => "equivalent",
            (Class::Holds, Test::Range(..)) => "inside the claimed range",
            (Class::OtherSize, Test::MinEffect(_)) => {
                "the claimed direction, below the minimum effect"
            }
            (Class::OtherSize, _) => "the claimed direction, another size",
            (Class::Fails, Test::MinEffect(_)) => "no advantage or the other way",
            (Class::Fails, Test::Equivalence(_)) => "different beyond the margin",
            (Class::Fails, Test::Range(..)) => "no such difference or the other way",
            (Class::WithinNoise, _) => "within noise",
            (Class::Undecided, _) => "undecided (lower bound)",
        }
    }
}

/// One reading (best vs best, typical vs typical) or one pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Comparison {
    /// `best`, `typical`.
    pub reading: String,
    pub workload: String,
    pub metric: crate::catalogue::Metric,
    pub subject: String,
    pub compared: String,
    /// The interval of the ratio, oriented so that above 1 is the claimed direction (subject better)
    /// for minimum-effect and equivalence tests; raw subject / compared for claimed ranges. `None`
    /// when it has no finite bounds (see `unbounded`) or no ratio at all.
    pub interval: Option<RatioInterval>,
    /// The ratio is unbounded: one side has no finite figure (a ws-hold server that could not hold
    /// the whole set counts as infinitely costly); the reason line shows it as ∞.
    pub unbounded: bool,
    /// What the ratio means: `subject/compared` or `compared/subject`.
    pub oriented: String,
    pub class: Class,
    /// Rests on one repeat of a figure that varies.
    pub one_repeat: bool,
}

/// The decision on two groups.
#[derive(Debug, Clone)]
pub struct Decision {
    pub verdict: Verdict,
    pub best: Comparison,
    pub typical: Comparison,
    /// Pairs per class, in [`Class`] order (for the reason only).
    pub pairs: [usize; 5],
    pub reason: String,
    pub indicative: bool,
    pub lower_bound: bool,
}

/// The best framework of a group and its typical (median) one: with an even count, the two middle
/// frameworks' repeats pooled (as the median of an even count averages the two middle values), named
/// `a+b`.
fn best_and_typical(g: &[Series], higher_is_better: bool) -> (Series, Series) {
    let mut v: Vec<&Series> = g.iter().collect();
    // Best first.
    v.sort_by(|a, b| {
        let o = a.median.total_cmp(&b.median);
        if higher_is_better { o.reverse() } else { o }.then_with(|| a.target.cmp(&b.target))
    });
    let n = v.len();
    let typical = if n % 2 == 1 {
        v[n / 2].clone()
    } else {
        let (x, y) = (v[n / 2 - 1], v[n / 2]);
        let values: Vec<f64> = x.values.iter().chain(&y.values).copied().collect();
        Series {
            target: format!("{}+{}", x.target, y.target),
            median: stats::median(&values),
            values,
            lower_bound: x.lower_bound || y.lower_bound,
            one_repeat: x.one_repeat || y.one_repeat,
        }
    };
    (v[0].clone(), typical)
}

/// Compare `a` (the subject) with `b`, one pair.
pub fn compare(
    a: &Series,
    b: &Series,
    higher_is_better: bool,
    test: Test,
    reading: &str,
    workload: &str,
    metric: crate::catalogue::Metric,
) -> Comparison {
    // Oriented so that above 1 is "a better", except for claimed ranges (raw a / b).
    let subject_first = matches!(test, Test::Range(..)) || higher_is_better;
    let (num, den) = if subject_first { (a, b) } else { (b, a) };
    let interval = stats::ratio_interval(&num.values, &den.values);
    let mut class = match (interval.as_ref(), test) {
        (None, _) => Class::WithinNoise,
        (Some(iv), Test::MinEffect(e)) => match stats::effect(iv, e) {
            Effect::AtLeast => Class::Holds,
            Effect::Smaller => Class::OtherSize,
            Effect::NoneOrReverse => Class::Fails,
            Effect::WithinNoise => Class::WithinNoise,
        },
        (Some(iv), Test::Equivalence(m)) => match stats::equivalence(iv, m) {
            Equivalence::Equivalent => Class::Holds,
            Equivalence::Different => Class::Fails,
            Equivalence::WithinNoise => Class::WithinNoise,
        },
        (Some(iv), Test::Range(lo, hi)) => match stats::in_range(iv, lo, hi) {
            InRange::Inside => Class::Holds,
            InRange::OtherSize => Class::OtherSize,
            InRange::Wrong => Class::Fails,
            InRange::WithinNoise => Class::WithinNoise,
        },
    };
    // Lower bounds (higher-is-better figures that are "at least"): the true ratio num/den is higher
    // than measured when the numerator is one, lower when the denominator is. The class stands only
    // where that cannot change it.
    if higher_is_better && (a.lower_bound || b.lower_bound) {
        let up = num.lower_bound; // the true ratio may be higher
        let down = den.lower_bound; // … or lower
        let stands = match (test, class) {
            (_, Class::WithinNoise) => !up && !down,
            (Test::MinEffect(_), Class::Holds) => !down,
            (Test::MinEffect(_), Class::Fails) => !up,
            // A claimed reduction (below 1) that measured at or above 1: a higher true ratio
            // keeps it there.
            (Test::Range(_, hi), Class::Fails) if hi < 1.0 => !down,
            // A claimed multiple (above 1) that measured at or below 1: a lower one keeps it there.
            (Test::Range(lo, _), Class::Fails) if lo > 1.0 => !up,
            _ => false,
        };
        if !stands {
            class = Class::Undecided;
        }
    }
    let unbounded = interval
        .as_ref()
        .is_some_and(|iv| !(iv.ratio.is_finite() && iv.lo.is_finite() && iv.hi.is_finite()));
    Comparison {
        reading: reading.to_string(),
        workload: workload.to_string(),
        metric,
        subject: a.target.clone(),
        compared: b.target.clone(),
        interval,
        unbounded,
        oriented: if subject_first {
            "subject/compared".into()
        } else {
            "compared/subject".into()
        },
        class,
        one_repeat: a.one_repeat || b.one_repeat,
    }
}

/// The verdict of one class for a test.
fn verdict_of(c: Class) -> Verdict {
    match c {
        Class::Holds => Verdict::Supported,
        Class::OtherSize => Verdict::Partly,
        Class::Fails => Verdict::Refuted,
        Class::WithinNoise => Verdict::Inconclusive,
        Class::Undecided => Verdict::NotMeasured,
    }
}

/// Decide `subject` against `compared` (both non-empty).
pub fn decide(
    subject: &[Series],
    compared: &[Series],
    higher_is_better: bool,
    test: Test,
    workload: &str,
    metric: crate::catalogue::Metric,
) -> Decision {
    let (sa, ta) = best_and_typical(subject, higher_is_better);
    let (sb, tb) = best_and_typical(compared, higher_is_better);
    let best = compare(&sa, &sb, higher_is_better, test, "best", workload, metric);
    let typical = compare(
        &ta,
        &tb,
        higher_is_better,
        test,
        "typical",
        workload,
        metric,
    );
    let mut pairs = [0usize; 5];
    for a in subject {
        for b in compared {
            let c = compare(a, b, higher_is_better, test, "pair", workload, metric).class;
            pairs[c as usize] += 1;
        }
    }
    let (x, y) = (best.class, typical.class);
    let verdict = if x == y {
        verdict_of(x)
    } else if x == Class::Undecided || y == Class::Undecided {
        Verdict::NotMeasured
    } else if x == Class::WithinNoise || y == Class::WithinNoise {
        Verdict::Inconclusive
    } else if matches!(
        (x, y),
        (Class::Holds, Class::OtherSize) | (Class::OtherSize, Class::Holds)
    ) {
        Verdict::Partly
    } else {
        Verdict::Depends
    };
    let verdict = match (verdict, test) {
        (Verdict::Supported, Test::Equivalence(_)) => Verdict::Equivalent,
        (v, _) => v,
    };
    let reason = format!(
        "{}; {}; pairs: {}",
        describe(&best, test),
        describe(&typical, test),
        pair_counts(&pairs)
    );
    // JSON has no ∞: an unbounded interval is said in the reason and flagged, not carried.
    let (mut best, mut typical) = (best, typical);
    for c in [&mut best, &mut typical] {
        if c.unbounded {
            c.interval = None;
        }
    }
    Decision {
        indicative: verdict.is_decided() && (best.one_repeat || typical.one_repeat),
        lower_bound: x == Class::Undecided || y == Class::Undecided,
        verdict,
        best,
        typical,
        pairs,
        reason,
    }
}

fn pair_counts(p: &[usize; 5]) -> String {
    let names = ["hold", "other size", "fail", "within noise", "undecided"];
    let v: Vec<String> = p
        .iter()
        .zip(names)
        .filter(|(n, _)| **n > 0)
        .map(|(n, w)| format!("{n} {w}"))
        .collect();
    v.join(", ")
}

/// "best node-http vs python-fastapi 1.9× (1.8–2.0, min–max of all repeat pairs): at least …".
pub fn describe(c: &Comparison, test: Test) -> String {
    let (a, b) = if c.oriented == "subject/compared" {
        (&c.subject, &c.compared)
    } else {
        (&c.compared, &c.subject)
    };
    let fig = match &c.interval {
        Some(iv) => format!(
            "{}/{} {}× ({}–{}, {})",
            a,
            b,
            fmt_ratio(iv.ratio),
            fmt_ratio(iv.lo),
            fmt_ratio(iv.hi),
            iv.method.describe()
        ),
        None => format!("{a}/{b}: no ratio"),
    };
    let what = match test {
        Test::MinEffect(e) => format!("{} (needs ≥ {}×)", c.class.word(test), fmt_ratio(e)),
        Test::Equivalence(m) => {
            let (lo, hi) = stats::equivalence_band(m);
            format!(
                "{} (margin ±{}%: {}–{})",
                c.class.word(test),
                fmt_num(m * 100.0),
                fmt_ratio(lo),
                fmt_ratio(hi)
            )
        }
        Test::Range(lo, hi) => format!(
            "{} ({}–{})",
            c.class.word(test),
            fmt_ratio(lo),
            fmt_ratio(hi)
        ),
    };
    format!("{} {fig}: {what}", c.reading)
}

/// A ratio in a verdict's text: the one formatter's amount (3 significant digits, no zeros of
/// precision: `4.8`, `12.3`, `0.279`), "∞" for an unbounded one.
pub fn fmt_ratio(r: f64) -> String {
    if r.is_infinite() {
        return "∞".into();
    }
    ::workloads::format::amount(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Metric;

    fn s(t: &str, m: f64, rel: &[f64]) -> Series {
        Series {
            target: t.into(),
            values: rel.iter().map(|f| m * f).collect(),
            median: m,
            lower_bound: false,
            one_repeat: rel.len() < 2,
        }
    }

    const R3: [f64; 3] = [0.98, 1.0, 1.02];

    fn run(a: &[Series], b: &[Series], t: Test) -> Decision {
        decide(a, b, true, t, "io", Metric::ThroughputRps)
    }

    #[test]
    fn best_and_typical_both_hold_or_both_fail() {
        let node = [
            s("n1", 3000.0, &R3),
            s("n2", 2800.0, &R3),
            s("n3", 2600.0, &R3),
        ];
        let py = [s("p1", 1000.0, &R3), s("p2", 900.0, &R3)];
        let d = run(&node, &py, Test::MinEffect(1.2));
        assert_eq!(d.verdict, Verdict::Supported, "{}", d.reason);
        assert_eq!(
            (d.best.subject.as_str(), d.best.compared.as_str()),
            ("n1", "p1")
        );
        // Median framework: n2 of three; of two, both pooled.
        assert_eq!(
            (d.typical.subject.as_str(), d.typical.compared.as_str()),
            ("n2", "p1+p2")
        );
        assert_eq!(d.typical.interval.unwrap().n_den, 6);
        assert!(!d.indicative);
        let d = run(&py, &node, Test::MinEffect(1.2));
        assert_eq!(d.verdict, Verdict::Refuted, "{}", d.reason);
    }

    #[test]
    fn readings_that_disagree_depend_and_sizes_that_differ_are_partly() {
        // Best Node far ahead of best Python; typical Node behind typical Python.
        let node = [
            s("n1", 5000.0, &R3),
            s("n2", 800.0, &R3),
            s("n3", 700.0, &R3),
        ];
        let py = [
            s("p1", 1000.0, &R3),
            s("p2", 950.0, &R3),
            s("p3", 100.0, &R3),
        ];
        assert_eq!(
            run(&node, &py, Test::MinEffect(1.2)).verdict,
            Verdict::Depends
        );
        // Best 2.5×, typical 1.5×: "much faster" (2×) holds for the best only.
        let node = [
            s("n1", 2500.0, &R3),
            s("n2", 1500.0, &R3),
            s("n3", 1400.0, &R3),
        ];
        let py = [
            s("p1", 1000.0, &R3),
            s("p2", 900.0, &R3),
            s("p3", 800.0, &R3),
        ];
        let d = run(&node, &py, Test::MinEffect(2.0));
        assert_eq!(d.verdict, Verdict::Partly, "{}", d.reason);
        assert_eq!(d.typical.class, Class::OtherSize);
    }

    #[test]
    fn noise_in_one_reading_is_inconclusive_not_depends() {
        let wide = [0.935, 1.0, 1.065];
        let node = [
            s("n1", 3000.0, &R3),
            s("n2", 1040.0, &wide),
            s("n3", 900.0, &R3),
        ];
        let py = [
            s("p0", 1100.0, &R3),
            s("p1", 1000.0, &wide),
            s("p2", 500.0, &R3),
        ];
        let d = run(&node, &py, Test::MinEffect(1.2));
        assert_eq!(d.best.class, Class::Holds);
        assert_eq!(d.typical.class, Class::WithinNoise, "{}", d.reason);
        assert_eq!(d.verdict, Verdict::Inconclusive);
    }

    #[test]
    fn equivalence_gives_equivalent() {
        let node = [s("n1", 1100.0, &R3)];
        let py = [s("p1", 1000.0, &R3)];
        let d = run(&node, &py, Test::Equivalence(0.25));
        assert_eq!(d.verdict, Verdict::Equivalent, "{}", d.reason);
        assert!(d.reason.contains("margin ±25%: 0.8–1.25"), "{}", d.reason);
        let py = [s("p1", 400.0, &R3)];
        assert_eq!(
            run(&node, &py, Test::Equivalence(0.25)).verdict,
            Verdict::Refuted
        );
    }

    #[test]
    fn one_repeat_is_indicative_and_lower_bounds_undecide() {
        let node = [s("n1", 3000.0, &[1.0])];
        let py = [s("p1", 1000.0, &R3)];
        let d = run(&node, &py, Test::MinEffect(1.2));
        assert_eq!(d.verdict, Verdict::Supported);
        assert!(d.indicative);
        // A lower bound on the compared side above... could be higher: undecided.
        let mut py = [s("p1", 1000.0, &R3)];
        py[0].lower_bound = true;
        let d = run(&[s("n1", 3000.0, &R3)], &py, Test::MinEffect(1.2));
        assert_eq!(d.verdict, Verdict::NotMeasured);
        assert!(d.lower_bound);
        // A lower bound on the subject that is already ahead: it stands.
        let mut node = [s("n1", 3000.0, &R3)];
        node[0].lower_bound = true;
        let d = run(&node, &[s("p1", 1000.0, &R3)], Test::MinEffect(1.2));
        assert_eq!(d.verdict, Verdict::Supported);
    }

    #[test]
    fn lower_is_better_is_oriented_so_that_above_one_favours_the_subject() {
        let node = [s("n1", 40.0, &R3)];
        let py = [s("p1", 100.0, &R3)];
        let d = decide(
            &node,
            &py,
            false,
            Test::MinEffect(2.0),
            "cold-start",
            Metric::ColdStartMs,
        );
        assert_eq!(d.verdict, Verdict::Supported, "{}", d.reason);
        assert!(d.reason.contains("best p1/n1 2.5×"), "{}", d.reason);
    }

    #[test]
    fn ratios_for_humans() {
        assert_eq!(fmt_ratio(1.18), "1.18");
        assert_eq!(fmt_ratio(2.0), "2");
        assert_eq!(fmt_ratio(12.345), "12.3");
        assert_eq!(fmt_ratio(0.056), "0.056");
        assert_eq!(fmt_ratio(f64::INFINITY), "∞");
    }
}
