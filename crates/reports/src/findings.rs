//! The findings: what a reader needs from a run in the first screen, computed from the run (and
//! the claims verdicts and advice when given) and worded by fixed templates, no free text.
//!
//! - Headline comparisons per workload: for each workload of the run, its kind's headline metric
//!   (the registry says the kind; [`headline_metrics`] maps a kind to metric ids, so a new workload
//!   of a known kind gets its line without code here), best and typical (the median framework, as
//!   the claims rules take it) of Node.js and of Python, the ratio, and whether the difference is
//!   beyond noise by the claims' interval rule (`claims::stats::ratio_interval`: the interval of
//!   the ratio of medians excludes 1).
//! - The claims: counts by verdict, the independent tests behind them, the most striking decided
//!   verdicts (largest |ln(measured ÷ claimed)|).
//! - With a profile: the recommendation, its confidence and its monthly cost.
//! - The run's trust in one line, and the warnings grouped by cause, from the same warnings
//!   [`crate::derive`] lists (the lab's trust rules in `workloads::trust`).
//!
//! [`Findings`] is also the JSON report's `findings`; [`text`], [`markdown`] and [`html`] render it.

use std::fmt::Write;

use serde::{Deserialize, Serialize};
use store::model::{CellStatus, RunSummary, Spread};

use crate::derive::{self, Derived, Warning};
use crate::escape;
use crate::svg::fmt_num;

/// The languages compared, in display order.
pub const LANGUAGES: [(&str, &str); 2] = [("node", "Node.js"), ("python", "Python")];

/// The headline metrics of a workload kind (per-target measures: the `PerTarget` kind).
pub fn headline_metrics(kind: workloads::Kind) -> &'static [&'static str] {
    use workloads::Kind::*;
    match kind {
        Saturation => &["throughput_rps"],
        Capacity => &["capacity_rps"],
        Mixed => &["p99_ms"],
        Hold => &["connections_held", "mb_per_1k_conns"],
        Concurrency => &["p99_ms", "failed_share"],
        PerTarget => &["cold_start_ms", "idle_pss_mb"],
    }
}

/// Everything the first screen says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Findings {
    pub run_id: i64,
    pub headlines: Vec<Headline>,
    pub claims: Option<ClaimsDigest>,
    pub advice: Option<AdviceDigest>,
    pub trust: Trust,
    pub warning_groups: Vec<WarningGroup>,
}

/// One language's side of a headline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    pub language: String,
    pub best_target: String,
    pub best: f64,
    /// The median framework (two pooled, "a+b", for an even count).
    pub typical_target: String,
    pub typical: f64,
    pub targets: usize,
}

/// Whether a ratio is beyond noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Noise {
    /// The ratio's interval excludes 1.
    BeyondNoise,
    /// The interval includes 1.
    WithinNoise,
    /// One measurement a side: cannot be separated from noise.
    MeasuredOnce,
    /// A side rests on a noisy, flagged or lower-bound cell: not ranked.
    HeldBack,
}

impl Noise {
    fn words(self) -> &'static str {
        match self {
            Noise::BeyondNoise => "beyond noise",
            Noise::WithinNoise => "within noise",
            Noise::MeasuredOnce => "measured once, not separable from noise",
            Noise::HeldBack => "held back: a noisy or lower-bound cell",
        }
    }
}

/// A ratio between the languages: `factor` ≥ 1 in favour of `leader`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ratio {
    pub leader: String,
    pub factor: f64,
    pub noise: Noise,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Headline {
    /// Workload id, or `target` for the per-target measures.
    pub workload: String,
    pub metric: String,
    pub label: String,
    pub unit: String,
    pub higher_is_better: bool,
    /// The report section the line links to.
    pub anchor: String,
    pub sides: Vec<Side>,
    pub best: Option<Ratio>,
    pub typical: Option<Ratio>,
}

/// The claims verdicts in brief.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimsDigest {
    /// Testable claims by verdict label, in the verdict vocabulary's order.
    pub counts: Vec<(String, usize)>,
    pub verdicts: usize,
    pub tests: usize,
    pub indicative: usize,
    pub striking: Vec<Striking>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Striking {
    pub id: String,
    pub verdict: String,
    pub claimed: String,
    pub measured_ratio: f64,
    /// |ln(measured ÷ claimed)|, the claimed figure taken as the geometric middle of its range.
    pub distance: f64,
}

/// The advice in brief.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdviceDigest {
    pub recommendation: String,
    pub confidence: String,
    pub support_share: f64,
    pub monthly_usd: Option<f64>,
    pub monthly_basis: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Quiet,
    Noisy,
    Incomplete,
}

/// The run's trust in one line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trust {
    pub level: Level,
    pub line: String,
    pub held_back: usize,
    pub comparisons: usize,
}

/// Warnings of one cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WarningGroup {
    /// `steal`, `other-processes`, `lower-bound`, `spread`, `failed`, `flagged`, `note`, `lab`.
    pub cause: String,
    pub title: String,
    pub count: usize,
    /// Where (cells, targets, `run`), in order of appearance, each once.
    pub scopes: Vec<String>,
    pub warnings: Vec<Warning>,
    /// For steal / other processes: the smallest and largest percentage the warnings name.
    pub range_pct: Option<(f64, f64)>,
}

const CAUSES: [(&str, &str); 8] = [
    ("failed", "Failed, not measured"),
    ("steal", "Steal time (the hypervisor took CPU)"),
    ("other-processes", "Other processes used the server CPUs"),
    ("spread", "Repeats spread beyond the noise limit"),
    ("lower-bound", "Lower bounds (load engine or upstream busy)"),
    ("flagged", "Errors or wrong answers (shown, not ranked)"),
    ("note", "Notes on the versions measured"),
    ("lab", "Other lab warnings"),
];

/// The cause of a warning, by the kinds [`derive`] gives and the lab's fixed wording.
pub fn cause(w: &Warning) -> &'static str {
    let t = w.text.to_ascii_lowercase();
    match w.kind.as_str() {
        "failed" => "failed",
        "flagged" => "flagged",
        "lower-bound" => "lower-bound",
        "noise" => "spread",
        "note" => "note",
        _ if t.contains("steal time") => "steal",
        _ if t.contains("other processes") => "other-processes",
        _ => "lab",
    }
}

/// The first percentage after `after` in `text` ("steal time 31.4% …" → 31.4).
fn pct_after(text: &str, after: &str) -> Option<f64> {
    let lower = text.to_ascii_lowercase();
    let i = lower.find(after)? + after.len();
    let rest = &text[i..];
    let start = rest.find(|c: char| c.is_ascii_digit())?;
    let num: String = rest[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    rest[start + num.len()..]
        .starts_with('%')
        .then(|| num.parse().ok())
        .flatten()
}

pub fn group_warnings(warnings: &[Warning]) -> Vec<WarningGroup> {
    let mut out = Vec::new();
    for (c, title) in CAUSES {
        let ws: Vec<Warning> = warnings.iter().filter(|w| cause(w) == c).cloned().collect();
        if ws.is_empty() {
            continue;
        }
        let mut scopes: Vec<String> = Vec::new();
        for w in &ws {
            if !scopes.contains(&w.scope) {
                scopes.push(w.scope.clone());
            }
        }
        let key = match c {
            "steal" => Some("steal time"),
            "other-processes" => Some("other processes used"),
            _ => None,
        };
        let pcts: Vec<f64> = key
            .map(|k| ws.iter().filter_map(|w| pct_after(&w.text, k)).collect())
            .unwrap_or_default();
        let range_pct = (!pcts.is_empty()).then(|| {
            (
                pcts.iter().copied().fold(f64::INFINITY, f64::min),
                pcts.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            )
        });
        out.push(WarningGroup {
            cause: c.to_string(),
            title: title.to_string(),
            count: ws.len(),
            scopes,
            warnings: ws,
            range_pct,
        });
    }
    out
}

/// One target's figure for a metric: median, repeat values, and whether it can be ranked.
struct Figure {
    target: String,
    values: Vec<f64>,
    median: f64,
    clean: bool,
}

fn figures(run: &RunSummary, derived: &Derived, workload: &str, metric: &str) -> Vec<Figure> {
    let noisy = |t: &str| {
        derived
            .workloads
            .iter()
            .find(|w| w.workload == workload)
            .and_then(|w| w.cells.iter().find(|c| c.target == t))
            .is_some_and(|c| c.noisy)
    };
    let machine_noise = |ws: &[String]| {
        ws.iter().any(|w| {
            let l = w.to_ascii_lowercase();
            l.contains("steal time") || l.contains("other processes")
        })
    };
    let figure = |target: &str, s: &Spread, clean: bool| Figure {
        target: target.to_string(),
        values: if s.values.is_empty() {
            vec![s.median]
        } else {
            s.values.clone()
        },
        median: s.median,
        clean,
    };
    if workload == "target" {
        run.targets
            .iter()
            .filter(|t| t.failure.is_none())
            .filter_map(|t| {
                // Measured over fresh starts, not repeats: their spread is the figure's own
                // variation, which the ratio's interval takes into account.
                Some(figure(&t.name, t.metric(metric)?, true))
            })
            .collect()
    } else {
        run.cells
            .iter()
            .filter(|c| c.workload == workload && matches!(c.status, CellStatus::Ok))
            .filter_map(|c| {
                let s = match metric {
                    "capacity_rps" => c.metric(metric).cloned().or_else(|| {
                        c.capacity_rps.map(|v| Spread {
                            median: v,
                            min: v,
                            max: v,
                            values: vec![v],
                        })
                    })?,
                    _ => c.metric(metric)?.clone(),
                };
                let clean = !c.lower_bound && !noisy(&c.target) && !machine_noise(&c.warnings);
                Some(figure(&c.target, &s, clean))
            })
            .collect()
    }
}

/// Best and typical of a language, as the claims rules take them (`claims::decide`): sorted
/// best first (ties by name); the middle one, or the two middle ones pooled.
fn best_and_typical<'a>(
    fs: &[&'a Figure],
    higher: bool,
) -> (&'a Figure, String, f64, Vec<f64>, bool) {
    let mut v: Vec<&Figure> = fs.to_vec();
    v.sort_by(|a, b| {
        let o = a.median.total_cmp(&b.median);
        if higher { o.reverse() } else { o }.then_with(|| a.target.cmp(&b.target))
    });
    let n = v.len();
    if n % 2 == 1 {
        let t = v[n / 2];
        (v[0], t.target.clone(), t.median, t.values.clone(), t.clean)
    } else {
        let (x, y) = (v[n / 2 - 1], v[n / 2]);
        let values: Vec<f64> = x.values.iter().chain(&y.values).copied().collect();
        (
            v[0],
            format!("{}+{}", x.target, y.target),
            claims::stats::median(&values),
            values,
            x.clean && y.clean,
        )
    }
}

fn ratio(
    a: (&str, &[f64], f64, bool),
    b: (&str, &[f64], f64, bool),
    higher: bool,
) -> Option<Ratio> {
    if a.2 <= 0.0 || b.2 <= 0.0 {
        return None;
    }
    let a_wins = if higher { a.2 >= b.2 } else { a.2 <= b.2 };
    let (w, l) = if a_wins { (a, b) } else { (b, a) };
    let factor = if higher { w.2 / l.2 } else { l.2 / w.2 };
    let noise = if !(a.3 && b.3) {
        Noise::HeldBack
    } else if a.1.len() < 2 && b.1.len() < 2 {
        Noise::MeasuredOnce
    } else {
        match claims::stats::ratio_interval(a.1, b.1) {
            Some(iv) if iv.lo > 1.0 || iv.hi < 1.0 => Noise::BeyondNoise,
            _ => Noise::WithinNoise,
        }
    };
    Some(Ratio {
        leader: w.0.to_string(),
        factor,
        noise,
    })
}

fn headline(run: &RunSummary, derived: &Derived, workload: &str, metric: &str) -> Option<Headline> {
    let m = workloads::registry().metric(metric).cloned()?;
    let higher = m.better.higher_is_better();
    let fs = figures(run, derived, workload, metric);
    let lang = |t: &str| {
        run.target(t)
            .map(|t| t.language.clone())
            .unwrap_or_default()
    };
    let mut sides = Vec::new();
    let mut picks = Vec::new();
    for (id, name) in LANGUAGES {
        let mine: Vec<&Figure> = fs.iter().filter(|f| lang(&f.target) == id).collect();
        if mine.is_empty() {
            continue;
        }
        let (best, tt, tv, tvals, tclean) = best_and_typical(&mine, higher);
        sides.push(Side {
            language: name.to_string(),
            best_target: best.target.clone(),
            best: best.median,
            typical_target: tt,
            typical: tv,
            targets: mine.len(),
        });
        picks.push((name, best, tvals, tv, tclean));
    }
    if sides.is_empty() {
        return None;
    }
    let (best, typical) = match picks.as_slice() {
        [a, b] => (
            ratio(
                (a.0, &a.1.values, a.1.median, a.1.clean),
                (b.0, &b.1.values, b.1.median, b.1.clean),
                higher,
            ),
            ratio((a.0, &a.2, a.3, a.4), (b.0, &b.2, b.3, b.4), higher),
        ),
        _ => (None, None),
    };
    Some(Headline {
        workload: workload.to_string(),
        metric: metric.to_string(),
        label: m.label.to_string(),
        unit: m.unit.to_string(),
        higher_is_better: higher,
        anchor: if workload == "target" {
            "targets".into()
        } else {
            format!("w-{workload}")
        },
        sides,
        best,
        typical,
    })
}

/// The findings of a report's input.
pub fn findings(input: &crate::ReportInput) -> Findings {
    let run = &input.summary;
    let derived = derive::derive(run);
    let mut headlines = Vec::new();
    for w in derive::workloads(run) {
        let Some((Some(kind), _)) = Some(derive::kind_of(&w)) else {
            continue;
        };
        for m in headline_metrics(kind) {
            headlines.extend(headline(run, &derived, &w, m));
        }
    }
    for m in headline_metrics(workloads::Kind::PerTarget) {
        headlines.extend(headline(run, &derived, "target", m));
    }
    let groups = group_warnings(&derived.warnings);
    let trust = trust(run, &groups, &headlines);
    Findings {
        run_id: run.run_id,
        headlines,
        claims: input.claims_digest.clone(),
        advice: input.advice_digest.clone(),
        trust,
        warning_groups: groups,
    }
}

fn trust(run: &RunSummary, groups: &[WarningGroup], headlines: &[Headline]) -> Trust {
    let ratios: Vec<&Ratio> = headlines
        .iter()
        .flat_map(|h| [h.best.as_ref(), h.typical.as_ref()])
        .flatten()
        .collect();
    let held_back = ratios.iter().filter(|r| r.noise == Noise::HeldBack).count();
    let beyond = ratios
        .iter()
        .filter(|r| r.noise == Noise::BeyondNoise)
        .count();
    let cells = run.cells.len();
    let group = |c: &str| groups.iter().find(|g| g.cause == c);
    let cells_in = |g: &WarningGroup| g.scopes.iter().filter(|s| s.contains(" / ")).count();
    let mut noise_parts = Vec::new();
    for (c, what) in [("steal", "steal"), ("other-processes", "other processes")] {
        if let Some(g) = group(c) {
            let range = match g.range_pct {
                Some((lo, hi)) if (hi - lo).abs() < 0.5 => format!(" {hi:.0}%"),
                Some((lo, hi)) => format!(" {lo:.0}–{hi:.0}%"),
                None => String::new(),
            };
            let on = match cells_in(g) {
                0 => "the run".to_string(),
                n => format!("{n} of {cells} cells"),
            };
            noise_parts.push(format!("{what}{range} on {on}"));
        }
    }
    if let Some(g) = group("spread") {
        noise_parts.push(format!(
            "repeats spread over {:.0}% on {} of {cells} cells",
            derive::NOISE_RELATIVE_RANGE * 100.0,
            cells_in(g)
        ));
    }
    let failed = group("failed").map(|g| g.scopes.len()).unwrap_or(0);
    let unfinished = run.finished_at.is_none();
    let level = if failed > 0 || unfinished {
        Level::Incomplete
    } else if !noise_parts.is_empty() {
        Level::Noisy
    } else {
        Level::Quiet
    };
    let mut parts: Vec<String> = Vec::new();
    let head = match level {
        Level::Quiet => "quiet",
        Level::Noisy => "noisy",
        Level::Incomplete => "incomplete",
    };
    if unfinished {
        parts.push("the run was interrupted".into());
    }
    if failed > 0 {
        parts.push(format!(
            "{failed} {} not measured",
            if failed == 1 {
                "cell or target"
            } else {
                "cells or targets"
            }
        ));
    }
    parts.extend(noise_parts.iter().cloned());
    parts.push(format!(
        "{beyond} of {} comparisons beyond noise, {held_back} held back",
        ratios.len()
    ));
    if !noise_parts.is_empty() {
        parts.push("re-run on a quiet machine for rankings".into());
    } else if level == Level::Quiet {
        parts.insert(0, "no machine-noise warning".into());
    }
    Trust {
        level,
        line: format!("{head}: {}", parts.join("; ")),
        held_back,
        comparisons: ratios.len(),
    }
}

impl ClaimsDigest {
    pub fn from_report(r: &claims::ClaimsReport) -> ClaimsDigest {
        let testable: Vec<_> = r
            .claims
            .iter()
            .filter(|c| c.kind == claims::Kind::Testable)
            .collect();
        let counts = claims::Verdict::ALL
            .iter()
            .filter_map(|v| {
                let n = testable.iter().filter(|c| c.verdict == *v).count();
                (n > 0).then(|| (v.label().to_string(), n))
            })
            .collect();
        let mut striking: Vec<Striking> = testable
            .iter()
            .filter(|c| c.verdict.is_decided())
            .filter_map(|c| {
                let f = c.claimed_figure.as_ref().filter(|f| f.of == "ratio")?;
                let measured = c
                    .comparisons
                    .iter()
                    .find_map(|k| k.interval.map(|iv| iv.ratio))?;
                let claimed = (f.min * f.max).sqrt();
                (measured > 0.0 && claimed > 0.0 && measured.is_finite()).then(|| Striking {
                    id: c.id.clone(),
                    verdict: c.verdict.label().to_string(),
                    claimed: c.claimed.clone().unwrap_or_default(),
                    measured_ratio: measured,
                    distance: (measured / claimed).ln().abs(),
                })
            })
            .collect();
        striking.sort_by(|a, b| b.distance.total_cmp(&a.distance).then(a.id.cmp(&b.id)));
        striking.truncate(3);
        ClaimsDigest {
            counts,
            verdicts: r.independence.verdicts,
            tests: r.independence.tests,
            indicative: r.independence.indicative,
            striking,
        }
    }
}

impl AdviceDigest {
    pub fn from_advice(a: &adviser::Advice) -> AdviceDigest {
        let opt = a
            .cost
            .tco
            .options
            .iter()
            .find(|o| o.option == a.recommendation.choice);
        let (monthly_usd, monthly_basis) = match opt {
            Some(o) if o.total_monthly_usd.is_some() => (
                o.total_monthly_usd,
                format!(
                    "total cost of ownership over {} months",
                    fmt_num(a.cost.tco.horizon_months)
                ),
            ),
            Some(o) if o.infra_monthly_usd.is_some() => {
                (o.infra_monthly_usd, "infrastructure only".to_string())
            }
            _ => (
                None,
                "no monthly cost: a figure it needs was not measured".to_string(),
            ),
        };
        AdviceDigest {
            recommendation: a.recommendation.label.clone(),
            confidence: a.confidence.level.as_str().to_string(),
            support_share: a.confidence.support_share,
            monthly_usd,
            monthly_basis,
        }
    }
}

/// A figure with its unit, by the one number formatter.
pub fn with_unit(v: f64, unit: &str) -> String {
    match unit {
        "rps" => format!("{} req/s", fmt_num(v)),
        "ms" => format!("{} ms", fmt_num(v)),
        "mb" => format!("{} MB", fmt_num(v)),
        "us" => format!("{} µs", fmt_num(v)),
        "bytes" => format!("{} MB", fmt_num(v / 1e6)),
        "cores" => format!("{} cores", fmt_num(v)),
        _ => fmt_num(v),
    }
}

/// The sentence of one headline (fixed template).
pub fn headline_sentence(h: &Headline) -> String {
    let what = if h.workload == "target" {
        h.label.clone()
    } else {
        format!("{}, {}", h.workload, h.label)
    };
    let sides: Vec<String> = h
        .sides
        .iter()
        .map(|s| {
            format!(
                "{} best {} {}, typical {} {}",
                s.language,
                s.best_target,
                with_unit(s.best, &h.unit),
                s.typical_target,
                with_unit(s.typical, &h.unit)
            )
        })
        .collect();
    let mut out = format!("{what}: {}", sides.join("; "));
    let r = |label: &str, r: &Ratio| {
        format!(
            "{label} {} {}× {} ({})",
            r.leader,
            fmt_num(r.factor),
            if h.higher_is_better {
                "higher"
            } else {
                "lower"
            },
            r.noise.words()
        )
    };
    match (&h.best, &h.typical) {
        (Some(b), Some(t)) => {
            let _ = write!(out, ". {}; {}", r("Best:", b), r("typical:", t));
        }
        _ => out.push_str(". One language measured: no ratio"),
    }
    out.push('.');
    out
}

fn claims_lines(c: &ClaimsDigest) -> Vec<String> {
    let counts: Vec<String> = c.counts.iter().map(|(v, n)| format!("{n} {v}")).collect();
    let mut lines = vec![format!(
        "Claims: {}; {} measured verdicts from {} independent tests{}.",
        counts.join(", "),
        c.verdicts,
        c.tests,
        if c.indicative > 0 {
            format!(", {} indicative (one repeat)", c.indicative)
        } else {
            String::new()
        }
    )];
    for s in &c.striking {
        lines.push(format!(
            "Most striking: {} ({}): claimed {}, measured ratio {}.",
            s.id,
            s.verdict,
            s.claimed,
            fmt_num(s.measured_ratio)
        ));
    }
    lines
}

fn advice_lines(a: &AdviceDigest) -> Vec<String> {
    vec![
        format!("Recommendation: {}.", a.recommendation),
        format!(
            "Confidence: {} ({:.0}% of the weighted evidence supports it).",
            a.confidence,
            a.support_share * 100.0
        ),
        match a.monthly_usd {
            Some(u) => format!("Monthly cost: {} USD ({}).", fmt_num(u), a.monthly_basis),
            None => format!("Monthly cost: {}.", a.monthly_basis),
        },
    ]
}

fn group_line(g: &WarningGroup, max_scopes: usize) -> String {
    let shown: Vec<&str> = g
        .scopes
        .iter()
        .take(max_scopes)
        .map(String::as_str)
        .collect();
    let more = g.scopes.len().saturating_sub(max_scopes);
    format!(
        "{} ({}): {}{}",
        g.title,
        g.count,
        shown.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )
}

/// The findings as plain text (the end of `stackwise lab`, `stackwise report --summary`).
pub fn text(f: &Findings) -> String {
    let mut out = format!("Findings of run #{}\n", f.run_id);
    let _ = writeln!(out, "  Trust: {}", f.trust.line);
    for h in &f.headlines {
        let _ = writeln!(out, "  - {}", headline_sentence(h));
    }
    if let Some(c) = &f.claims {
        for l in claims_lines(c) {
            let _ = writeln!(out, "  {l}");
        }
    }
    if let Some(a) = &f.advice {
        for l in advice_lines(a) {
            let _ = writeln!(out, "  {l}");
        }
    }
    if !f.warning_groups.is_empty() {
        let n: usize = f.warning_groups.iter().map(|g| g.count).sum();
        let _ = writeln!(out, "Warnings ({n}), by cause:");
        for g in &f.warning_groups {
            let _ = writeln!(out, "  - {}", group_line(g, 6));
        }
    }
    out
}

/// The findings as Markdown (the first section of the Markdown report).
pub fn markdown(f: &Findings) -> String {
    use escape::md;
    let mut out = String::from("## Findings\n\n");
    let _ = writeln!(out, "**Trust:** {}\n", md(&f.trust.line));
    for h in &f.headlines {
        let _ = writeln!(out, "- {}", md(&headline_sentence(h)));
    }
    out.push('\n');
    if let Some(c) = &f.claims {
        for l in claims_lines(c) {
            let _ = writeln!(out, "- {}", md(&l));
        }
        out.push('\n');
    }
    if let Some(a) = &f.advice {
        for l in advice_lines(a) {
            let _ = writeln!(out, "- {}", md(&l));
        }
        out.push('\n');
    }
    if f.warning_groups.is_empty() {
        out.push_str(
            "**Warnings: none.** The lab raised no warning and every cell was measured.\n\n",
        );
        return out;
    }
    let n: usize = f.warning_groups.iter().map(|g| g.count).sum();
    let _ = writeln!(out, "## Warnings ({n}), by cause\n");
    for g in &f.warning_groups {
        let _ = writeln!(out, "- **{}**", md(&group_line(g, usize::MAX)));
        for w in &g.warnings {
            let _ = writeln!(out, "  - {}: {}", md(&w.scope), md(&w.text));
        }
    }
    out.push('\n');
    out
}

/// The findings as HTML: a box with links to the sections, then the warnings grouped by cause,
/// each group a `<details>` element (no script).
pub fn html(f: &Findings) -> String {
    use escape::html as esc;
    let mut out = String::from(r#"<section class="box findings" id="findings"><h2>Findings</h2>"#);
    let _ = write!(
        out,
        r#"<p class="trust trust-{}"><strong>Trust:</strong> {}</p><ul>"#,
        match f.trust.level {
            Level::Quiet => "quiet",
            Level::Noisy => "noisy",
            Level::Incomplete => "incomplete",
        },
        esc(&f.trust.line)
    );
    for h in &f.headlines {
        let _ = write!(
            out,
            r##"<li>{} <a href="#{}">(section)</a></li>"##,
            esc(&headline_sentence(h)),
            esc(&h.anchor)
        );
    }
    out.push_str("</ul>");
    if let Some(c) = &f.claims {
        out.push_str("<ul>");
        for l in claims_lines(c) {
            let _ = write!(
                out,
                r##"<li>{} <a href="#claims">(claims)</a></li>"##,
                esc(&l)
            );
        }
        out.push_str("</ul>");
    }
    if let Some(a) = &f.advice {
        out.push_str("<ul>");
        for l in advice_lines(a) {
            let _ = write!(
                out,
                r##"<li>{} <a href="#advice">(advice)</a></li>"##,
                esc(&l)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
    if f.warning_groups.is_empty() {
        out.push_str(r#"<div class="box ok"><strong>Warnings</strong>: none. The lab raised no warning and every cell was measured.</div>"#);
        return out;
    }
    let n: usize = f.warning_groups.iter().map(|g| g.count).sum();
    let _ = write!(
        out,
        r#"<section class="box" id="warnings"><h2>Warnings ({n}), by cause</h2>"#
    );
    for g in &f.warning_groups {
        let _ = write!(
            out,
            r#"<details class="wgroup" data-cause="{}"><summary>{}</summary><ul>"#,
            esc(&g.cause),
            esc(&group_line(g, 6))
        );
        for w in &g.warnings {
            let _ = write!(
                out,
                r#"<li><strong>{}</strong>: {}</li>"#,
                esc(&w.scope),
                esc(&w.text)
            );
        }
        out.push_str("</ul></details>");
    }
    out.push_str("</section>");
    out
}

/// The end of `stackwise lab`: the findings, the next commands, and where the HTML report is
/// (`html` the path written, or why it was not). `db_flag` is ` --db PATH` when the run's store is
/// not the default one, else empty.
pub fn lab_end(f: &Findings, html: Result<&str, &str>, db_flag: &str) -> String {
    let mut out = String::from("\n");
    out.push_str(&text(f));
    out.push_str("Next:\n");
    let _ = writeln!(
        out,
        "  stackwise claims --run {}{db_flag}           every claim of the articles against this run",
        f.run_id
    );
    let _ = writeln!(
        out,
        "  stackwise advise --run {}{db_flag} --profile FILE   Node.js, Python or both for your project, priced from this run",
        f.run_id
    );
    let _ = writeln!(
        out,
        "  stackwise report --run {}{db_flag} --html report.html   the full report",
        f.run_id
    );
    match html {
        Ok(path) => {
            let _ = writeln!(out, "HTML report: {path}");
        }
        Err(why) => {
            let _ = writeln!(out, "HTML report not written: {why}");
        }
    }
    out
}
