//! Reports: how results are shown to people. Each module renders one kind of result; JSON output
//! is the serde form of the core types and needs no module here.

pub mod load;

/// Formats microseconds with a unit that keeps three significant digits: `87.2µs`, `1.25ms`, `2.03s`.
/// The value is rounded first, so that 999.7 µs prints as `1.00ms`, not `1000µs`.
pub fn fmt_us(us: f64) -> String {
    let us = round_sig3(us);
    if us < 1.0 {
        format!("{:.0}ns", us * 1000.0)
    } else if us < 1000.0 {
        format!("{}µs", sig3(us))
    } else if us < 1_000_000.0 {
        format!("{}ms", sig3(us / 1000.0))
    } else {
        format!("{}s", sig3(us / 1_000_000.0))
    }
}

fn round_sig3(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(x.log10().floor() as i32 - 2);
    (x / scale).round() * scale
}

fn sig3(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(fmt_us(0.5), "500ns");
        assert_eq!(fmt_us(87.24), "87.2µs");
        assert_eq!(fmt_us(999.0), "999µs");
        assert_eq!(fmt_us(1250.0), "1.25ms");
        assert_eq!(fmt_us(512_000.0), "512ms");
        assert_eq!(fmt_us(2_030_000.0), "2.03s");
        // Rounding never produces a four-digit figure in the smaller unit.
        assert_eq!(fmt_us(999.7), "1.00ms");
        assert_eq!(fmt_us(999_700.0), "1.00s");
        assert_eq!(fmt_us(0.9996), "1.00µs");
        assert_eq!(fmt_us(99.96), "100µs");
    }
}
