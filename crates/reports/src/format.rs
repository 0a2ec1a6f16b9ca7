//! The one number formatter of every rendering (terminal tables, Markdown, HTML, the findings):
//! thousands grouped from 1,000 (`5,524`, `12,624`), three significant figures below
//! (`182`, `27.8`, `8.50`, `0.570`), `–` for a figure that is not a number.

/// A number with about three significant digits and thousands separators: `15,234`, `987`,
/// `12.3`, `1.25`, `0.0123`.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_string();
    }
    let a = v.abs();
    let s = if a >= 1000.0 {
        crate::svg::group_thousands(v.round() as i64)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a == 0.0 {
        "0".to_string()
    } else {
        let digits = (2 - a.log10().floor() as i32).clamp(2, 9) as usize;
        format!("{v:.digits$}")
    };
    s
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn one_way_for_every_size() {
        assert_eq!(num(5524.2), "5,524");
        assert_eq!(num(12_624.0), "12,624");
        assert_eq!(num(155_946.4), "155,946");
        assert_eq!(num(-1234.0), "-1,234");
        assert_eq!(num(182.3), "182");
        assert_eq!(num(27.84), "27.8");
        assert_eq!(num(8.5), "8.50");
        assert_eq!(num(0.57), "0.570");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(f64::NAN), "–");
    }
}
