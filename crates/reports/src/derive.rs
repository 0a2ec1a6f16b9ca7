//! Figures derived from a run for every output: each workload's kind and meaning (from the
//! workloads registry), ratios to the best target, the noise flag, requests per CPU-second, every warning gathered
//! in one list, and the comparison rule between two runs.

use serde::Serialize;
use store::model::{CellStatus, RunSummary, Spread};

/// Repeats whose (max − min) / median exceeds this are flagged as noisy (the registry's trust
/// rule, the one the lab warns by).
pub const NOISE_RELATIVE_RANGE: f64 = workloads::trust::SPREAD_LIMIT;

/// A difference between two runs is marked only beyond this relative change of the medians…
pub const COMPARE_MIN_CHANGE: f64 = 0.05;

/// …and only when the repeats' ranges do not overlap. Printed in every comparison.
pub const COMPARE_RULE: &str =
    "A difference between the two runs is marked only when the repeats' \
ranges (min–max) do not overlap and the medians differ by more than 5%. Figures measured once \
(capacity at the SLO, idle memory, install footprint) show their change but are never marked: one \
measurement cannot separate a change from noise.";

/// How a workload loads its target: the registry's kind, `None` for a workload the registry does
/// not know (serialised as `other`).
pub type Kind = Option<workloads::Kind>;

fn kind_json<S: serde::Serializer>(k: &Kind, s: S) -> Result<S::Ok, S::Error> {
    match k {
        Some(k) => k.serialize(s),
        None => s.serialize_str("other"),
    }
}

/// The kind and description of a workload id, from the workloads registry (measured workloads
/// only).
pub fn kind_of(workload: &str) -> (Kind, &'static str) {
    workloads::registry()
        .cell_workloads()
        .find(|w| w.id == workload)
        .map(|w| (Some(w.kind), w.description))
        .unwrap_or((
            None,
            "a workload this version of the report does not describe",
        ))
}

/// The workloads of a run in registry order, then unknown ones in order of appearance.
pub fn workloads(run: &RunSummary) -> Vec<String> {
    let mut out: Vec<String> = workloads::registry()
        .cell_workloads()
        .map(|w| w.id.to_string())
        .filter(|id| run.cells.iter().any(|c| &c.workload == id))
        .collect();
    for c in &run.cells {
        if !out.contains(&c.workload) {
            out.push(c.workload.clone());
        }
    }
    out
}

/// A warning with where it applies (`run`, a target, or `target / workload`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    pub scope: String,
    /// `failed`, `flagged`, `lower-bound`, `noise`, `lab`, `note`.
    pub kind: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellDerived {
    pub target: String,
    /// Median throughput ÷ the best median of the workload's compared targets (1.0 for the best):
    /// the Rust baseline is left out of "best" when other languages were measured, so that the
    /// ratio compares Node.js and Python frameworks; the baseline's own ratio is then above 1.
    pub throughput_vs_best: Option<f64>,
    pub capacity_vs_best: Option<f64>,
    /// Responses per second of one fully used server CPU core: 1e6 ÷ CPU µs per request.
    pub requests_per_cpu_second: Option<f64>,
    /// The largest relative range (max − min) / median among the cell's figures.
    pub max_relative_range: Option<f64>,
    pub noisy: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadDerived {
    pub workload: String,
    #[serde(serialize_with = "kind_json")]
    pub kind: Kind,
    pub description: String,
    pub cells: Vec<CellDerived>,
}

/// Figures derived from one run (the JSON report's `derived`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Derived {
    pub workloads: Vec<WorkloadDerived>,
    pub warnings: Vec<Warning>,
    pub noise_threshold: f64,
}

fn usable(status: &CellStatus) -> bool {
    matches!(status, CellStatus::Ok)
}

/// The language of the reference baseline, left out of "best" (see [`CellDerived`]).
pub const BASELINE_LANGUAGE: &str = "rust";

pub fn derive(run: &RunSummary) -> Derived {
    let mut wls = Vec::new();
    for w in workloads(run) {
        let (kind, description) = kind_of(&w);
        let cells: Vec<_> = run.cells.iter().filter(|c| c.workload == w).collect();
        let is_baseline = |c: &&&store::model::CellSummary| {
            run.target(&c.target)
                .is_some_and(|t| t.language == BASELINE_LANGUAGE)
        };
        let others = cells.iter().any(|c| !is_baseline(&c));
        let compared =
            |c: &&&store::model::CellSummary| usable(&c.status) && !(others && is_baseline(c));
        let best_tp = cells
            .iter()
            .filter(compared)
            .filter_map(|c| c.metric("throughput_rps").map(|s| s.median))
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        let best_cap = cells
            .iter()
            .filter(compared)
            .filter_map(|c| c.capacity_rps)
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        let derived = cells
            .iter()
            .map(|c| {
                let ok = usable(&c.status);
                let ratio = |v: Option<f64>, best: Option<f64>| match (v, best) {
                    (Some(v), Some(b)) if ok && b > 0.0 => Some(v / b),
                    _ => None,
                };
                let spreads = [
                    c.metric("throughput_rps"),
                    c.metric("p50_ms"),
                    c.metric("p99_ms"),
                    c.metric("server_cpu_us_per_req"),
                    c.metric("pss_mean_mb"),
                ];
                let max_rr = spreads
                    .into_iter()
                    .flatten()
                    .filter(|s| s.values.len() > 1)
                    .map(Spread::relative_range)
                    .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
                CellDerived {
                    target: c.target.clone(),
                    throughput_vs_best: ratio(
                        c.metric("throughput_rps").map(|s| s.median),
                        best_tp,
                    ),
                    capacity_vs_best: ratio(c.capacity_rps, best_cap),
                    requests_per_cpu_second: c
                        .metric("server_cpu_us_per_req")
                        .filter(|s| s.median > 0.0)
                        .map(|s| 1e6 / s.median),
                    max_relative_range: max_rr,
                    noisy: max_rr.is_some_and(|r| r > NOISE_RELATIVE_RANGE),
                }
            })
            .collect();
        wls.push(WorkloadDerived {
            workload: w.clone(),
            kind,
            description: description.to_string(),
            cells: derived,
        });
    }
    Derived {
        warnings: warnings(run, &wls),
        workloads: wls,
        noise_threshold: NOISE_RELATIVE_RANGE,
    }
}

/// Every warning of the run in one list: the lab's run-level and cell-level warnings, failed and
/// flagged cells, lower bounds, noisy repeats, targets that could not be measured, and facts
/// about the versions measured (a runtime past its end of life).
fn warnings(run: &RunSummary, wls: &[WorkloadDerived]) -> Vec<Warning> {
    let mut out = Vec::new();
    let mut push = |scope: String, kind: &str, text: String| {
        out.push(Warning {
            scope,
            kind: kind.to_string(),
            text,
        })
    };
    if run.finished_at.is_none() {
        push(
            "run".into(),
            "lab",
            "The run is unfinished (interrupted): cells not yet measured are missing.".into(),
        );
    }
    for w in &run.warnings {
        push("run".into(), "lab", w.clone());
    }
    for t in &run.targets {
        if let Some(f) = &t.failure {
            push(t.name.clone(), "failed", format!("Not measured: {f}"));
        }
    }
    for w in workloads(run) {
        for c in run.cells.iter().filter(|c| c.workload == w) {
            let scope = format!("{} / {}", c.target, c.workload);
            match &c.status {
                CellStatus::Ok => {}
                CellStatus::Flagged(r) => push(
                    scope.clone(),
                    "flagged",
                    format!("Errors or wrong answers, figures shown but not ranked: {r}"),
                ),
                CellStatus::Failed(r) => push(scope.clone(), "failed", format!("Failed: {r}")),
            }
            // The lab usually says why itself; the derived line is for runs where it did not.
            let lab_says_bound = c
                .warnings
                .iter()
                .any(|w| w.to_ascii_lowercase().contains("lower bound"));
            if c.lower_bound && !lab_says_bound {
                push(
                    scope.clone(),
                    "lower-bound",
                    format!(
                        "The load engine or upstream was ≥ {:.0}% busy: the figures are a lower bound.",
                        workloads::trust::BUSY_LIMIT * 100.0
                    ),
                );
            }
            if let Some(d) = wls
                .iter()
                .find(|x| x.workload == w)
                .and_then(|x| x.cells.iter().find(|d| d.target == c.target))
            {
                if d.noisy {
                    push(
                        scope.clone(),
                        "noise",
                        format!(
                            "Repeats spread by {:.1}% of the median (over {:.0}%).",
                            d.max_relative_range.unwrap_or(0.0) * 100.0,
                            NOISE_RELATIVE_RANGE * 100.0
                        ),
                    );
                }
            }
            for m in &c.warnings {
                let kind = if m.starts_with(workloads::trust::NOISY_CELL_PREFIX) {
                    "noise"
                } else if m.to_ascii_lowercase().contains("lower bound") {
                    "lower-bound"
                } else {
                    "lab"
                };
                push(scope.clone(), kind, m.clone());
            }
        }
    }
    // Cells that stayed noisy once the lab's retries were spent: the claims hold back the verdicts
    // comparing them (their section says how many).
    let noisy = run
        .cells
        .iter()
        .filter(|c| workloads::trust::is_noisy_cell(&c.warnings))
        .count();
    if noisy > 0 {
        push(
            "run".into(),
            "noise",
            format!(
                "{noisy} cell{} stayed noisy after the lab's retries (steal time or other processes \
                 over the limits): verdicts comparing {} are held back (noisy_machine; the claims \
                 section counts them). Re-measure on a quiet machine.",
                if noisy == 1 { "" } else { "s" },
                if noisy == 1 { "it" } else { "them" }
            ),
        );
    }
    if let Some(v) = run.machine.runtimes.get("node") {
        if node_major(v).is_some_and(|m| m <= 20) {
            push(
                "run".into(),
                "note",
                format!(
                    "Node.js {v} is past its end of life (Node 20: 30 April 2026); newer Node \
                     releases may perform differently."
                ),
            );
        }
    }
    out
}

fn node_major(v: &str) -> Option<u32> {
    v.trim_start_matches('v').split('.').next()?.parse().ok()
}

/// The verdict of the comparison rule on one figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Judgement {
    /// (this − baseline) ÷ baseline, in percent.
    pub change_pct: Option<f64>,
    /// Beyond noise by [`COMPARE_RULE`].
    pub marked: bool,
    /// When marked: whether the change is an improvement.
    pub better: Option<bool>,
}

/// Applies [`COMPARE_RULE`] to two spreads (`this` against `baseline`).
pub fn judge(this: &Spread, baseline: &Spread, higher_is_better: bool) -> Judgement {
    let change = change_pct(this.median, baseline.median);
    let repeated = this.values.len() > 1 && baseline.values.len() > 1;
    let disjoint = this.min > baseline.max || this.max < baseline.min;
    let marked =
        repeated && disjoint && change.is_some_and(|c| c.abs() > COMPARE_MIN_CHANGE * 100.0);
    Judgement {
        change_pct: change,
        marked,
        better: marked.then_some((this.median > baseline.median) == higher_is_better),
    }
}

/// A figure measured once: its change, never marked.
pub fn judge_single(this: f64, baseline: f64) -> Judgement {
    Judgement {
        change_pct: change_pct(this, baseline),
        marked: false,
        better: None,
    }
}

fn change_pct(this: f64, baseline: f64) -> Option<f64> {
    (baseline != 0.0 && this.is_finite() && baseline.is_finite())
        .then(|| (this - baseline) / baseline.abs() * 100.0)
}

/// One compared figure of the JSON report's `comparison`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Compared {
    pub target: String,
    /// Workload id, or `target` for per-target measures.
    pub workload: String,
    pub figure: String,
    pub this: Option<f64>,
    pub baseline: Option<f64>,
    #[serde(flatten)]
    pub judgement: Option<Judgement>,
}

/// The figures a comparison covers, in registry order: the metrics summarised over a cell's
/// clean repeats, as (metric id, higher is better).
pub fn cell_figures() -> Vec<(&'static str, bool)> {
    workloads::registry()
        .metrics()
        .iter()
        .filter(|m| m.over == workloads::Over::CleanRepeats)
        .map(|m| (m.id, m.better.higher_is_better()))
        .collect()
}

/// Every figure present in both runs, judged by the rule.
/// The warnings of both runs of a comparison, each scoped with the run it belongs to.
pub fn compare_warnings(this: &RunSummary, baseline: &RunSummary) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for (who, run) in [
        (format!("this run #{}", this.run_id), this),
        (format!("baseline #{}", baseline.run_id), baseline),
    ] {
        for mut w in derive(run).warnings {
            w.scope = format!("{who}: {}", w.scope);
            warnings.push(w);
        }
    }
    warnings
}

pub fn compare(this: &RunSummary, baseline: &RunSummary) -> Vec<Compared> {
    let mut out = Vec::new();
    for c in &this.cells {
        let Some(b) = baseline.cell(&c.target, &c.workload) else {
            continue;
        };
        for (name, hib) in cell_figures() {
            if let (Some(x), Some(y)) = (c.metric(name), b.metric(name)) {
                out.push(Compared {
                    target: c.target.clone(),
                    workload: c.workload.clone(),
                    figure: name.to_string(),
                    this: Some(x.median),
                    baseline: Some(y.median),
                    judgement: Some(judge(x, y, hib)),
                });
            }
        }
        if let (Some(x), Some(y)) = (c.capacity_rps, b.capacity_rps) {
            out.push(Compared {
                target: c.target.clone(),
                workload: c.workload.clone(),
                figure: "capacity_rps".into(),
                this: Some(x),
                baseline: Some(y),
                judgement: Some(judge_single(x, y)),
            });
        }
    }
    for t in &this.targets {
        let Some(b) = baseline.target(&t.name) else {
            continue;
        };
        if let (Some(x), Some(y)) = (t.metric("cold_start_ms"), b.metric("cold_start_ms")) {
            out.push(Compared {
                target: t.name.clone(),
                workload: "target".into(),
                figure: "cold_start_ms".into(),
                this: Some(x.median),
                baseline: Some(y.median),
                judgement: Some(judge(x, y, false)),
            });
        }
        if let (Some(x), Some(y)) = (t.value("idle_pss_mb"), b.value("idle_pss_mb")) {
            out.push(Compared {
                target: t.name.clone(),
                workload: "target".into(),
                figure: "idle_pss_mb".into(),
                this: Some(x),
                baseline: Some(y),
                judgement: Some(judge_single(x, y)),
            });
        }
        if let (Some(x), Some(y)) = (
            t.value("install_bytes").map(|v| v as u64),
            b.value("install_bytes").map(|v| v as u64),
        ) {
            out.push(Compared {
                target: t.name.clone(),
                workload: "target".into(),
                figure: "install_bytes".into(),
                this: Some(x as f64),
                baseline: Some(y as f64),
                judgement: Some(judge_single(x as f64, y as f64)),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[f64]) -> Spread {
        Spread::of(v).unwrap()
    }

    #[test]
    fn rule_needs_disjoint_ranges_and_more_than_5_percent() {
        // Disjoint and +20%: marked, better when higher is better.
        let j = judge(&s(&[118.0, 120.0, 122.0]), &s(&[99.0, 100.0, 101.0]), true);
        assert!(j.marked);
        assert_eq!(j.better, Some(true));
        assert!((j.change_pct.unwrap() - 20.0).abs() < 1e-9);
        // The same for a latency: worse.
        let j = judge(&s(&[118.0, 120.0, 122.0]), &s(&[99.0, 100.0, 101.0]), false);
        assert_eq!(j.better, Some(false));
        // +20% but overlapping ranges: not marked.
        let j = judge(&s(&[90.0, 120.0, 150.0]), &s(&[80.0, 100.0, 120.0]), true);
        assert!(!j.marked && j.better.is_none());
        // Disjoint but only +3%: not marked.
        let j = judge(&s(&[102.9, 103.0, 103.1]), &s(&[99.9, 100.0, 100.1]), true);
        assert!(!j.marked);
        // Exactly at 5%: not beyond.
        let j = judge(&s(&[105.0, 105.0]), &s(&[100.0, 100.0]), true);
        assert!(!j.marked);
        let j = judge(&s(&[105.1, 105.1]), &s(&[100.0, 100.0]), true);
        assert!(j.marked);
        // A single repeat on either side: never marked, however large the change.
        let j = judge(&s(&[200.0]), &s(&[99.0, 100.0, 101.0]), true);
        assert!(!j.marked);
        assert!((j.change_pct.unwrap() - 100.0).abs() < 1e-9);
        // One measurement: change shown, never marked.
        let j = judge_single(200.0, 100.0);
        assert_eq!((j.change_pct, j.marked), (Some(100.0), false));
        assert_eq!(judge_single(1.0, 0.0).change_pct, None);
    }

    #[test]
    fn a_cell_that_stayed_noisy_is_a_noise_warning_and_counted_for_the_run() {
        let p = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/run-a.json");
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        let mut run: RunSummary = serde_json::from_value(file["summary"].clone()).unwrap();
        let quiet = derive(&run);
        assert!(!quiet
            .warnings
            .iter()
            .any(|w| w.kind == "noise" && w.scope == "run"));
        let flag = format!(
            "{} 1 of 3 repeats stayed noisy after 3 re-measurements: repeat 2: steal 12.0% of CPU time (> 2%) (the cell's retries are spent)",
            workloads::trust::NOISY_CELL_PREFIX
        );
        for c in run.cells.iter_mut().take(2) {
            c.warnings.push(flag.clone());
        }
        let d = derive(&run);
        let cell = &run.cells[0];
        assert!(d.warnings.iter().any(|w| w.kind == "noise"
            && w.scope == format!("{} / {}", cell.target, cell.workload)
            && w.text == flag));
        let summary = d
            .warnings
            .iter()
            .find(|w| w.kind == "noise" && w.scope == "run")
            .expect("a run-level line counting the noisy cells");
        assert!(
            summary.text.starts_with("2 cells stayed noisy") && summary.text.contains("held back"),
            "{}",
            summary.text
        );
    }

    #[test]
    fn catalogue_matches_the_workload_ids() {
        for id in [
            "plaintext",
            "json",
            "io",
            "cpu",
            "hash",
            "json-slo",
            "io-slo",
            "cpu-slo",
            "hash-slo",
            "mixed",
            "ws-hold",
            "db",
            "crud",
        ] {
            assert!(kind_of(id).0.is_some(), "{id}");
        }
        assert_eq!(kind_of("stream").0, None);
        assert_eq!(node_major("v20.20.2"), Some(20));
        assert_eq!(node_major("22.1.0"), Some(22));
    }
}
