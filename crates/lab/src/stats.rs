//! The trust rules of the suite, as pure functions: when a figure is only a lower bound (the load
//! engine or the upstream was ≥ 90% busy), when repeats disagree too much (spread > 10%), when the
//! machine was noisy (steal > 2%), and the summaries the per-cell figures are made of.

use store::Spread;

/// A client (load engine, upstream) busier than this makes the server's figure a lower bound.
pub const BUSY_LIMIT: f64 = 0.90;
/// Repeats whose (max − min) / median exceeds this are flagged.
pub const SPREAD_LIMIT: f64 = 0.10;
/// Steal time above this share of CPU time (percent) is flagged.
pub const STEAL_LIMIT_PCT: f64 = 2.0;

/// True when the figure measured with these client-side busy fractions is only a lower bound.
pub fn is_lower_bound(engine_busy: Option<f64>, upstream_busy: Option<f64>) -> bool {
    engine_busy.is_some_and(|b| b >= BUSY_LIMIT) || upstream_busy.is_some_and(|b| b >= BUSY_LIMIT)
}

/// The warning explaining a lower bound, if any.
pub fn lower_bound_warning(engine_busy: Option<f64>, upstream_busy: Option<f64>) -> Option<String> {
    let mut who = Vec::new();
    if let Some(b) = engine_busy.filter(|b| *b >= BUSY_LIMIT) {
        who.push(format!("the load engine was {:.0}% busy", b * 100.0));
    }
    if let Some(b) = upstream_busy.filter(|b| *b >= BUSY_LIMIT) {
        who.push(format!("the upstream was {:.0}% busy", b * 100.0));
    }
    (!who.is_empty()).then(|| {
        format!(
            "lower bound: {} (≥ {:.0}%), so the server may be faster than measured",
            who.join(" and "),
            BUSY_LIMIT * 100.0
        )
    })
}

/// A warning when the repeats of `what` spread more than [`SPREAD_LIMIT`].
pub fn spread_warning(what: &str, s: &Spread) -> Option<String> {
    (s.values.len() > 1 && s.relative_range() > SPREAD_LIMIT).then(|| {
        format!(
            "{what}: repeats spread {:.0}% (min {} – max {}, median {}), over the {:.0}% the lab trusts",
            s.relative_range() * 100.0,
            fmt_num(s.min),
            fmt_num(s.max),
            fmt_num(s.median),
            SPREAD_LIMIT * 100.0
        )
    })
}

/// A warning when steal time exceeded [`STEAL_LIMIT_PCT`].
pub fn steal_warning(steal_pct: f64) -> Option<String> {
    (steal_pct > STEAL_LIMIT_PCT).then(|| {
        format!(
            "steal time {steal_pct:.1}% (> {STEAL_LIMIT_PCT:.0}%): the hypervisor took CPU from this machine; figures are noisy"
        )
    })
}

/// A number with at most 3 significant decimals, no trailing noise.
pub fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Median and p90 (nearest rank) of a set of samples, e.g. cold starts.
pub fn median_p90(values: &[f64]) -> Option<(f64, f64)> {
    let s = Spread::of(values)?;
    let mut v = s.values.clone();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((0.9 * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some((s.median, v[rank - 1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_bound_at_ninety_percent_busy() {
        assert!(!is_lower_bound(Some(0.89), Some(0.5)));
        assert!(is_lower_bound(Some(0.90), None));
        assert!(is_lower_bound(None, Some(0.95)));
        assert!(!is_lower_bound(None, None));
        let w = lower_bound_warning(Some(0.97), Some(0.2)).unwrap();
        assert!(
            w.contains("load engine was 97% busy") && !w.contains("upstream"),
            "{w}"
        );
        assert!(lower_bound_warning(Some(0.5), None).is_none());
    }

    #[test]
    fn spread_over_ten_percent_is_flagged() {
        let tight = Spread::of(&[1000.0, 1040.0, 1090.0]).unwrap(); // 9% of 1040
        assert!(spread_warning("req/s", &tight).is_none());
        let loose = Spread::of(&[1000.0, 1040.0, 1150.0]).unwrap(); // 14.4%
        let w = spread_warning("req/s", &loose).unwrap();
        assert!(w.starts_with("req/s: repeats spread 14%"), "{w}");
        // One repeat has no spread to judge.
        assert!(spread_warning("x", &Spread::of(&[1.0]).unwrap()).is_none());
    }

    #[test]
    fn steal_over_two_percent_is_flagged() {
        assert!(steal_warning(2.0).is_none());
        assert!(steal_warning(2.5).unwrap().contains("2.5%"));
    }

    #[test]
    fn cold_start_median_and_p90() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(median_p90(&v), Some((5.5, 9.0)));
        assert_eq!(median_p90(&[4.0, 2.0, 3.0]), Some((3.0, 4.0)));
        assert_eq!(median_p90(&[]), None);
    }
}
