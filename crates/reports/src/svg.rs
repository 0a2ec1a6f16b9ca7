//! SVG primitives written by hand: scales (linear, log10, the percentile axis), "nice" ticks,
//! number formatting and a small element writer that escapes every text and attribute value.
//!
//! Colours of axes and labels are `currentColor`, so a chart takes the text colour of the page
//! (dark mode, light mode, print) without any script.

use std::fmt::Write;

use crate::escape;

/// A linear map from a data domain to a pixel range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Linear {
    pub d0: f64,
    pub d1: f64,
    pub r0: f64,
    pub r1: f64,
}

impl Linear {
    pub fn new(domain: (f64, f64), range: (f64, f64)) -> Linear {
        let (mut d0, mut d1) = domain;
        if !(d1 - d0).is_normal() || d1 < d0 {
            // A degenerate domain (one value, or nothing) still gets a usable axis.
            let c = if d0.is_finite() { d0 } else { 0.0 };
            d0 = c - 1.0;
            d1 = c + 1.0;
        }
        Linear {
            d0,
            d1,
            r0: range.0,
            r1: range.1,
        }
    }

    pub fn map(&self, x: f64) -> f64 {
        self.r0 + (x - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)
    }

    /// The scale over `[0, max]` (or `[min, max]` when `min < 0`) widened to nice tick bounds,
    /// with its ticks.
    pub fn nice_from_zero(max: f64, range: (f64, f64), count: usize) -> (Linear, Vec<f64>) {
        let max = if max.is_finite() && max > 0.0 {
            max
        } else {
            1.0
        };
        let ticks = nice_ticks(0.0, max, count);
        let hi = *ticks.last().unwrap_or(&max);
        (Linear::new((0.0, hi), range), ticks)
    }
}

/// "Nice" ticks (steps of 1, 2 or 5 × 10^k) covering `[lo, hi]`, about `count` of them; the
/// first tick is ≤ lo and the last ≥ hi.
pub fn nice_ticks(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo, lo + 1.0) };
    let raw = (hi - lo) / count.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).floor();
    let last = (hi / step).ceil();
    // Remove float noise such as 0.6000000000000001 by rounding to the step's decimals.
    let scale = 10f64.powi((-step.log10().floor() as i32 + 1).max(0));
    (first as i64..=last as i64)
        .map(|i| (i as f64 * step * scale).round() / scale)
        .collect()
}

/// A log10 map; the domain is widened to whole decades.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Log10 {
    pub lo: f64,
    pub hi: f64,
    pub r0: f64,
    pub r1: f64,
}

impl Log10 {
    /// `min` and `max` must be positive; non-positive or non-finite inputs give the decade [1, 10].
    pub fn new(min: f64, max: f64, range: (f64, f64)) -> Log10 {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        let (min, max) = match (ok(min), ok(max)) {
            (true, true) if max >= min => (min, max),
            (true, _) => (min, min),
            (_, true) => (max, max),
            _ => (1.0, 10.0),
        };
        let mut lo = 10f64.powf(min.log10().floor());
        let mut hi = 10f64.powf(max.log10().ceil());
        if hi <= lo {
            lo /= 10.0;
            hi *= 1.0;
            if hi <= lo {
                hi = lo * 10.0;
            }
        }
        Log10 {
            lo,
            hi,
            r0: range.0,
            r1: range.1,
        }
    }

    pub fn map(&self, v: f64) -> f64 {
        let v = v.max(self.lo * 1e-3);
        let t = (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10());
        self.r0 + t * (self.r1 - self.r0)
    }

    /// Ticks at 1, 2 and 5 × 10^k inside the domain (only the decades when there are many).
    pub fn ticks(&self) -> Vec<f64> {
        let decades = (self.hi.log10() - self.lo.log10()).round() as i32;
        let mults: &[f64] = if decades > 3 {
            &[1.0]
        } else {
            &[1.0, 2.0, 5.0]
        };
        let mut out = Vec::new();
        let start = self.lo.log10().round() as i32;
        for k in start..=start + decades {
            for m in mults {
                let v = m * 10f64.powi(k);
                if v <= self.hi * 1.000_001 {
                    out.push(v);
                }
            }
        }
        out
    }
}

/// The percentile axis: position = log10(1 / (1 − p/100)), so p50, p90, p99, p99.9 and p99.99 are
/// evenly spaced (the tail gets the room it deserves). p100 (the maximum) has no finite position and
/// is drawn one step after the last finite percentile, labelled "max".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PercentileAxis {
    /// The position (in nines) of the largest finite percentile shown.
    pub last_nines: f64,
    pub r0: f64,
    pub r1: f64,
}

impl PercentileAxis {
    /// `highest` is the largest percentile below 100 to show (e.g. 99.99).
    pub fn new(highest: f64, range: (f64, f64)) -> PercentileAxis {
        let last = Self::nines(highest.clamp(90.0, 99.9999)).ceil();
        PercentileAxis {
            last_nines: last,
            r0: range.0,
            r1: range.1,
        }
    }

    /// log10(1 / (1 − p/100)); infinite for p ≥ 100.
    pub fn nines(p: f64) -> f64 {
        if p >= 100.0 {
            f64::INFINITY
        } else {
            -(1.0 - p / 100.0).log10()
        }
    }

    pub fn map(&self, p: f64) -> f64 {
        let n = Self::nines(p.max(0.0)).min(self.last_nines + 1.0);
        self.r0 + n / (self.last_nines + 1.0) * (self.r1 - self.r0)
    }

    /// Tick percentiles and their labels: 50, 90, 99, 99.9 … up to the last finite one, then max.
    pub fn ticks(&self) -> Vec<(f64, String)> {
        let mut out = vec![(50.0, "p50".to_string())];
        let mut p = 90.0;
        for _ in 0..(self.last_nines as usize) {
            out.push((p, format!("p{}", fmt_plain(p))));
            p = 100.0 - (100.0 - p) / 10.0;
        }
        out.push((100.0, "max".to_string()));
        out
    }
}

/// A figure for humans: the one number formatter of every report ([`crate::format::num`]).
pub fn fmt_num(v: f64) -> String {
    crate::format::num(v)
}

/// A tick label: as short as possible (`0.5`, `10`, `2k`, `1.5M`).
pub fn fmt_tick(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", fmt_plain(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", fmt_plain(v / 1e3))
    } else {
        fmt_plain(v)
    }
}

/// Shortest decimal form without float noise (at most 4 decimals): `0.1`, `2`, `99.99`.
pub fn fmt_plain(v: f64) -> String {
    let s = format!("{:.4}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// Writes one SVG document. Text and attribute values are escaped here; coordinates are rounded
/// to 0.1 px to keep files small.
pub struct Svg {
    buf: String,
    width: f64,
    height: f64,
}

/// A coordinate with one decimal, without a trailing `.0`.
pub fn c(v: f64) -> String {
    if !v.is_finite() {
        // Never a broken attribute; scales keep data finite, this is the last guard.
        return "0".to_string();
    }
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

impl Svg {
    pub fn new(width: f64, height: f64) -> Svg {
        Svg {
            buf: String::new(),
            width,
            height,
        }
    }

    pub fn height(&self) -> f64 {
        self.height
    }

    pub fn set_height(&mut self, h: f64) {
        self.height = h;
    }

    /// Raw markup from this crate's own code (never user text).
    fn raw(&mut self, s: &str) {
        self.buf.push_str(s);
    }

    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, attrs: &str) {
        let _ = write!(
            self.buf,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" {attrs}/>"#,
            c(x1),
            c(y1),
            c(x2),
            c(y2)
        );
    }

    /// A rectangle with an optional tooltip (`<title>`, shown on hover without script).
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, attrs: &str, tip: Option<&str>) {
        let _ = write!(
            self.buf,
            r#"<rect x="{}" y="{}" width="{}" height="{}" {attrs}"#,
            c(x),
            c(y),
            c(w.max(0.0)),
            c(h.max(0.0))
        );
        self.close_with_tip("rect", tip);
    }

    pub fn circle(&mut self, x: f64, y: f64, r: f64, attrs: &str, tip: Option<&str>) {
        let _ = write!(
            self.buf,
            r#"<circle cx="{}" cy="{}" r="{}" {attrs}"#,
            c(x),
            c(y),
            c(r)
        );
        self.close_with_tip("circle", tip);
    }

    pub fn polyline(&mut self, pts: &[(f64, f64)], attrs: &str, tip: Option<&str>) {
        let points: Vec<String> = pts
            .iter()
            .map(|(x, y)| format!("{},{}", c(*x), c(*y)))
            .collect();
        let _ = write!(
            self.buf,
            r#"<polyline points="{}" fill="none" {attrs}"#,
            points.join(" ")
        );
        self.close_with_tip("polyline", tip);
    }

    pub fn path(&mut self, d: &str, attrs: &str) {
        let _ = write!(self.buf, r#"<path d="{}" {attrs}/>"#, escape::html(d));
    }

    fn close_with_tip(&mut self, tag: &str, tip: Option<&str>) {
        match tip {
            Some(t) => {
                let _ = write!(self.buf, "><title>{}</title></{tag}>", escape::html(t));
            }
            None => self.raw("/>"),
        }
    }

    /// Text (escaped). `anchor`: start | middle | end.
    pub fn text(&mut self, x: f64, y: f64, anchor: &str, attrs: &str, s: &str) {
        let _ = write!(
            self.buf,
            r#"<text x="{}" y="{}" text-anchor="{anchor}" {attrs}>{}</text>"#,
            c(x),
            c(y),
            escape::html(s)
        );
    }

    /// Starts a group; `attrs` come from this crate's code.
    pub fn group_start(&mut self, attrs: &str) {
        let _ = write!(self.buf, "<g {attrs}>");
    }

    pub fn group_end(&mut self) {
        self.raw("</g>");
    }

    /// The finished `<svg>` for inline use in HTML (no namespace needed there, so the report holds no
    /// URL at all): scalable, titled for screen readers, axis colour from the page.
    pub fn finish(self, title: &str, class: &str) -> String {
        format!(
            r#"<svg class="{}" viewBox="0 0 {} {}" role="img" aria-label="{}" font-size="11" fill="currentColor"><title>{}</title>{}</svg>"#,
            escape::html(class),
            c(self.width),
            c(self.height),
            escape::html(title),
            escape::html(title),
            self.buf
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_maps_ends_and_middle() {
        let s = Linear::new((0.0, 100.0), (10.0, 210.0));
        assert_eq!(s.map(0.0), 10.0);
        assert_eq!(s.map(100.0), 210.0);
        assert_eq!(s.map(50.0), 110.0);
        // Inverted range (SVG's y axis grows downwards).
        let s = Linear::new((0.0, 10.0), (100.0, 0.0));
        assert_eq!(s.map(10.0), 0.0);
        // A degenerate domain does not divide by zero.
        let s = Linear::new((5.0, 5.0), (0.0, 100.0));
        assert!(s.map(5.0).is_finite());
        assert_eq!(s.map(5.0), 50.0);
    }

    #[test]
    fn nice_ticks_cover_the_data_with_round_steps() {
        assert_eq!(
            nice_ticks(0.0, 17_300.0, 5),
            vec![0.0, 5000.0, 10000.0, 15000.0, 20000.0]
        );
        assert_eq!(nice_ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(nice_ticks(0.0, 0.3, 3), vec![0.0, 0.1, 0.2, 0.3]);
        let t = nice_ticks(0.0, 7.3, 4);
        assert!(t[0] <= 0.0 && *t.last().unwrap() >= 7.3, "{t:?}");
        let (s, t) = Linear::nice_from_zero(0.0, (0.0, 100.0), 4);
        assert!(s.map(0.0).is_finite() && !t.is_empty());
    }

    #[test]
    fn log_scale_widens_to_decades_and_ticks_1_2_5() {
        let s = Log10::new(0.35, 42.0, (0.0, 300.0));
        assert_eq!((s.lo, s.hi), (0.1, 100.0));
        assert!((s.map(0.1) - 0.0).abs() < 1e-9);
        assert!((s.map(1.0) - 100.0).abs() < 1e-9);
        assert!((s.map(10.0) - 200.0).abs() < 1e-9);
        assert!((s.map(100.0) - 300.0).abs() < 1e-9);
        let t = s.ticks();
        assert_eq!(t.first(), Some(&0.1));
        assert!(
            t.contains(&2.0) && t.contains(&50.0) && t.contains(&100.0),
            "{t:?}"
        );
        // Exactly one decade, and bad inputs, still give a usable scale.
        let s = Log10::new(10.0, 10.0, (0.0, 1.0));
        assert!(s.hi > s.lo);
        let s = Log10::new(-1.0, f64::NAN, (0.0, 1.0));
        assert_eq!((s.lo, s.hi), (1.0, 10.0));
        assert!(s.map(0.0).is_finite());
        // Many decades: only the decades are ticked.
        assert_eq!(Log10::new(0.01, 1000.0, (0.0, 1.0)).ticks().len(), 6);
    }

    #[test]
    fn percentile_axis_spaces_nines_evenly_and_puts_max_last() {
        let a = PercentileAxis::new(99.99, (0.0, 500.0));
        assert_eq!(a.last_nines, 4.0);
        let x90 = a.map(90.0);
        let x99 = a.map(99.0);
        let x999 = a.map(99.9);
        assert!((x99 - x90 - (x999 - x99)).abs() < 1e-6);
        assert!((a.map(0.0) - 0.0).abs() < 1e-9);
        assert!((a.map(100.0) - 500.0).abs() < 1e-9);
        assert!(a.map(99.99) < a.map(100.0));
        let labels: Vec<String> = a.ticks().into_iter().map(|t| t.1).collect();
        assert_eq!(labels, ["p50", "p90", "p99", "p99.9", "p99.99", "max"]);
    }

    #[test]
    fn ticks_are_short() {
        // Figures are the one formatter's (workloads::format, tested there).
        assert_eq!(fmt_num(15234.4), "15,234");
        assert_eq!(fmt_tick(20000.0), "20k");
        assert_eq!(fmt_tick(2500.0), "2500");
        assert_eq!(fmt_tick(0.30000000000000004), "0.3");
        assert_eq!(c(12.0), "12");
        assert_eq!(c(12.345), "12.3");
        assert_eq!(c(f64::INFINITY), "0");
        assert_eq!(c(f64::NAN), "0");
    }

    #[test]
    fn writer_escapes_text_and_tooltips() {
        let mut s = Svg::new(100.0, 50.0);
        s.text(1.0, 2.0, "start", "", "<script>alert('x')</script>");
        s.rect(0.0, 0.0, 10.0, 10.0, r#"class="mark""#, Some("a\"b<c>"));
        let out = s.finish("t & <b>", "chart");
        assert!(!out.contains("<script>"));
        assert!(out.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(out.contains("<title>a&quot;b&lt;c&gt;</title>"));
        assert!(out.contains(r#"aria-label="t &amp; &lt;b&gt;""#));
    }
}
