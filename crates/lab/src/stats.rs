//! The trust rules of the suite, as pure functions: when a figure is only a lower bound (the load
//! engine or the upstream was ≥ 90% busy), when repeats disagree too much (spread > 10%), when the
//! machine was noisy (steal > 2%), and the summaries the per-cell figures are made of.

use store::Spread;

/// The trust constants live in the workloads registry (`workloads::trust`), where the readers
/// judge by them too.
pub use workloads::trust::{BUSY_LIMIT, FOREIGN_LIMIT, SPREAD_LIMIT, STEAL_LIMIT_PCT};

/// What the client side (load engine, upstream, and the CPUs they share) did during a window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ClientLoad {
    /// Busy fraction of the engine's threads.
    pub engine: Option<f64>,
    /// Busy fraction of the upstream (of its CPUs).
    pub upstream: Option<f64>,
    /// Busy fraction of the client CPUs, whoever used them (engine + upstream + anything else).
    pub cpus: Option<f64>,
}

/// True when the figure measured with this client-side load is only a lower bound.
pub fn is_lower_bound(c: &ClientLoad) -> bool {
    [c.engine, c.upstream, c.cpus]
        .iter()
        .any(|b| b.is_some_and(|b| b >= BUSY_LIMIT))
}

/// The warning explaining a lower bound, if any.
pub fn lower_bound_warning(c: &ClientLoad) -> Option<String> {
    let mut who = Vec::new();
    if let Some(b) = c.engine.filter(|b| *b >= BUSY_LIMIT) {
        who.push(format!("the load engine was {:.0}% busy", b * 100.0));
    }
    if let Some(b) = c.upstream.filter(|b| *b >= BUSY_LIMIT) {
        who.push(format!("the upstream was {:.0}% busy", b * 100.0));
    }
    if who.is_empty() {
        if let Some(b) = c.cpus.filter(|b| *b >= BUSY_LIMIT) {
            who.push(format!(
                "the load engine's and upstream's CPUs were {:.0}% busy",
                b * 100.0
            ));
        }
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

/// A warning when other processes used more than [`FOREIGN_LIMIT`] of the server CPUs.
pub fn foreign_warning(foreign_share: f64) -> Option<String> {
    (foreign_share > FOREIGN_LIMIT).then(|| {
        format!(
            "other processes used {:.0}% of the server CPUs during the measurement: the machine was not quiet, figures are noisy",
            foreign_share * 100.0
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

/// Median and p90 (nearest rank) of a set of samples, e.g. cold starts: the trust rule the
/// reports apply to the stored samples too.
pub use workloads::trust::median_p90;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_bound_at_ninety_percent_busy() {
        let c = |engine, upstream, cpus| ClientLoad {
            engine,
            upstream,
            cpus,
        };
        assert!(!is_lower_bound(&c(Some(0.89), Some(0.5), Some(0.89))));
        assert!(is_lower_bound(&c(Some(0.90), None, None)));
        assert!(is_lower_bound(&c(None, Some(0.95), None)));
        assert!(!is_lower_bound(&c(None, None, None)));
        let w = lower_bound_warning(&c(Some(0.97), Some(0.2), Some(1.0))).unwrap();
        assert!(
            w.contains("load engine was 97% busy") && !w.contains("upstream"),
            "{w}"
        );
        assert!(lower_bound_warning(&c(Some(0.5), None, None)).is_none());
        // Engine and upstream sharing one CPU: each half busy, the CPU full.
        let shared = c(Some(0.5), Some(0.45), Some(0.96));
        assert!(is_lower_bound(&shared));
        assert!(lower_bound_warning(&shared)
            .unwrap()
            .contains("CPUs were 96% busy"));
        assert!(foreign_warning(0.05).is_none());
        assert!(foreign_warning(0.4).unwrap().contains("40%"));
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
}
