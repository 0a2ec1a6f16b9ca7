//! The one number formatter of stackwise's figures (issue 19): every rendering (the reports'
//! terminal tables, Markdown, HTML, the findings, the advice text and its ADR) and the adviser's
//! explanations format a figure here, so the same figure reads the same everywhere. It lives in
//! this crate, below every reader, because the adviser writes figures into its explanations and
//! cannot depend on the reports (`reports::format::num` is this function).
//!
//! The one way: thousands grouped from 1,000 (`5,524`, `12,624`), three significant figures below
//! (`182`, `27.8`, `8.50`, `0.570`), `–` for a figure that is not a number.

/// A number with about three significant digits and thousands separators: `15,234`, `987`,
/// `12.3`, `1.25`, `0.0123`.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_string();
    }
    let a = v.abs();
    if a >= 1000.0 {
        group_thousands(v.round() as i64)
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
    }
}

/// An amount a person chose or a sum of whole weights (rule weights and scores, months, a
/// headroom, a price per core-hour): [`num`] without the trailing zeros that mean precision in a
/// measured figure (`5`, `24`, `0.2`, `0.05`, `2.5`; `1,250` as [`num`] prints it).
pub fn amount(v: f64) -> String {
    let s = num(v);
    if s.contains('.') && !s.contains(',') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// US dollars: whole dollars grouped from 1,000 (`12,345`), cents below (`204.40`, `29.20`), and
/// a price under a dollar as an [`amount`] (`0.05`, `0.0416`).
pub fn usd(v: f64) -> String {
    if !v.is_finite() {
        return num(v);
    }
    let a = v.abs();
    if a >= 1000.0 {
        group_thousands(v.round() as i64)
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        amount(v)
    }
}

/// A count (connections, requests): the integer itself, its thousands grouped like a figure's
/// (`10,000`, `300`), never with decimals.
pub fn count(n: u64) -> String {
    group_thousands(i64::try_from(n).unwrap_or(i64::MAX))
}

/// An integer with its thousands separated: `1,234,567`.
pub fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{amount, count, group_thousands, num, usd};

    #[test]
    fn amounts_and_dollars_drop_the_zeros_of_precision() {
        assert_eq!(amount(5.0), "5");
        assert_eq!(amount(24.0), "24");
        assert_eq!(amount(0.2), "0.2");
        assert_eq!(amount(0.05), "0.05");
        assert_eq!(amount(2.5), "2.5");
        assert_eq!(amount(1250.0), "1,250");
        assert_eq!(amount(17.0), "17");
        assert_eq!(usd(204.4), "204.40");
        assert_eq!(usd(29.2), "29.20");
        assert_eq!(usd(12_345.4), "12,345");
        assert_eq!(usd(0.05), "0.05");
        assert_eq!(usd(0.0416), "0.0416");
    }

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
        assert_eq!(num(0.01234), "0.0123");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(f64::NAN), "–");
        assert_eq!(num(f64::INFINITY), "–");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
        assert_eq!(group_thousands(-999), "-999");
        assert_eq!(count(10_000), "10,000");
        assert_eq!(count(300), "300");
    }
}
