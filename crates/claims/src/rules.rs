//! The rules that turn a run's measurements into a verdict on a claim. Each is a small function with
//! the parameters the catalogue gives it ([`RuleSpec`]); each returns the figures it read (per
//! target, with their spread), the verdict and a one-line reason.
//!
//! How they decide, and why (docs/claims.md states the rule in full):
//! - **Evidence.** Only cells with status `ok` of targets that did not fail count. Flagged and failed
//!   cells are shown, never counted. A figure whose engine, upstream or connection count was the
//!   bottleneck is a *lower bound*: it can show "at least", never "at most"; a comparison it could
//!   overturn is undecided (code `lower_bound`).
//! - **Groups.** A claim about "Node.js" is a claim about the frameworks people run on it: every target
//!   of the language in the run is read, on the same run, so on the same server CPUs.
//! - **`faster` / `lighter` / `equivalent` / `ratio`**: the ratio of medians with its interval from
//!   all repeat pairs ([`crate::stats`]), best framework against best and typical against typical
//!   ([`crate::decide`]), tested against the claim's minimum effect, equivalence margin or claimed
//!   range ([`Params`], from the catalogue). Within noise → `inconclusive`; readings that point
//!   different ways → `depends`.
//! - **`range`** (a claimed figure range for a group): the article names no machine, so the range is
//!   tested as stated on this run's server CPUs (the per-core figure is shown beside it). Supported
//!   when every framework's range overlaps the claim; refuted when none does; else `depends`. With a
//!   `baseline`, not testable on this machine unless the baseline exceeds the range's top.
//! - **`loop_blocking`**: in `mixed`, a target blocks when, in every repeat, its `/io` p99 minus its
//!   `/io` p99 without heavy requests (its `io-slo` ladder at that rate, else the upstream delay) is at
//!   least `share` × the CPU time of one heavy `/cpu` request (from the target's own `cpu` cell): the
//!   cheap requests waited for the heavy one. It is clear when no repeat does; repeats on both sides
//!   of the threshold are within noise (`inconclusive`). The heavy request costs each language what
//!   its own loop costs, so the threshold is per target.
//! - **Several workloads or metrics**: each judged alone, then combined: all alike → that verdict; any
//!   supported, partly or equivalent among others → `partly`; else `depends` if any part depends, else
//!   `inconclusive` if any part is, else refuted.
//! - **One repeat**: a decided verdict resting on a figure measured once (that varies between repeats)
//!   is `indicative` (code `one_repeat`).
//! - **Missing**: no figure on a side → no verdict (`not-measured`) and the lab command that would
//!   supply it.

use std::collections::BTreeSet;

use store::{CellStatus, RunSummary, Spread, TargetSummary};

use crate::catalogue::{fmt_num, Catalogue, Metric, RuleSpec, DEFAULT_MARGIN, DEFAULT_MIN_EFFECT};
use crate::decide::{self, Comparison, Series, Test};
use crate::report::{Measured, Part, Side};
use crate::verdict::{ReasonCode, Verdict};
use crate::workloads;

/// What a rule found.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// `NotMeasured` when a side had no evidence.
    pub verdict: Verdict,
    pub reason: String,
    pub parts: Vec<Part>,
    pub measured: Vec<Measured>,
    /// What a lab run would need to measure to complete the evidence.
    pub missing: Missing,
    /// A decided verdict resting on one repeat of a figure that varies.
    pub indicative: bool,
    /// Reason codes the rule attaches (`lower_bound`, `not_testable_here`…).
    pub codes: BTreeSet<ReasonCode>,
    /// The comparisons behind the verdict (best and typical readings).
    pub comparisons: Vec<Comparison>,
}

/// What a rule reads from the claim besides its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// The minimum effect of `faster` / `lighter` (a factor ≥ 1).
    pub min_effect: f64,
    /// The equivalence margin of `equivalent`.
    pub margin: f64,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            min_effect: DEFAULT_MIN_EFFECT,
            margin: DEFAULT_MARGIN,
        }
    }
}

/// Targets and workloads without evidence.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Missing {
    pub targets: BTreeSet<String>,
    pub workloads: BTreeSet<String>,
}

impl Missing {
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Appends "; not measured: TARGET, …" to a rule's reason when targets lack measurements.
    fn append_to(&self, reason: &mut String) {
        if !self.is_empty() {
            let targets: Vec<&str> = self.targets.iter().map(String::as_str).collect();
            reason.push_str(&format!("; not measured: {}", targets.join(", ")));
        }
    }

    fn add(&mut self, target: &str, workload: &str) {
        self.targets.insert(target.to_string());
        self.workloads.insert(workload.to_string());
    }

    fn merge(&mut self, other: Missing) {
        self.targets.extend(other.targets);
        self.workloads.extend(other.workloads);
    }

    /// The `stackwise lab` command that measures what is missing. Per-target measures (`cold-start`:
    /// cold start, idle memory, install footprint) are not workloads of the lab: it measures them for
    /// every target of a run, so a command that needs only them runs the cheapest workload, `json`.
    pub fn lab_command(&self) -> Option<String> {
        if self.targets.is_empty() {
            return None;
        }
        let mut cells: Vec<String> = self
            .workloads
            .iter()
            .filter(|w| !matches!(workloads::lookup(w), Some(x) if x.per_target))
            .cloned()
            .collect();
        if cells.is_empty() {
            cells.push("json".into());
        }
        Some(format!(
            "stackwise lab --targets {} --workloads {}",
            self.targets.iter().cloned().collect::<Vec<_>>().join(","),
            cells.join(",")
        ))
    }
}

/// Evaluate `rule` on `workloads` of `run` with the default minimum effect and margin.
pub fn evaluate(
    rule: &RuleSpec,
    workloads: &[String],
    run: &RunSummary,
    cat: &Catalogue,
) -> Outcome {
    evaluate_with(rule, workloads, run, cat, Params::default())
}

/// Evaluate `rule` on `workloads` of `run` with the claim's minimum effect and margin.
pub fn evaluate_with(
    rule: &RuleSpec,
    workloads: &[String],
    run: &RunSummary,
    cat: &Catalogue,
    params: Params,
) -> Outcome {
    let ctx = Ctx {
        run,
        cat,
        params,
        shared_rate: None,
    };
    match rule {
        RuleSpec::Range {
            group,
            metric,
            min,
            max,
            baseline,
        } => per_workload(&ctx, workloads, *metric, |ctx, w| {
            let mut o = range(ctx, group, w, *metric, *min, *max);
            if let Some(b) = baseline {
                gate_on_baseline(ctx, &mut o, b, w, *metric, *max);
            }
            o
        }),
        RuleSpec::Faster {
            better,
            than,
            metric,
            context,
        } => per_workload(&ctx, workloads, *metric, |ctx, w| {
            faster(ctx, better, than, context, w, *metric)
        }),
        RuleSpec::Ratio {
            numerator,
            denominator,
            metric,
            min,
            max,
        } => per_workload(&ctx, workloads, *metric, |ctx, w| {
            ratio(ctx, numerator, denominator, w, *metric, *min, *max)
        }),
        RuleSpec::Lighter {
            better,
            than,
            metrics,
        } => {
            let outs: Vec<(String, Metric, Outcome)> = metrics
                .iter()
                .map(|m| {
                    let mut o = faster(&ctx, better, than, &[], "cold-start", *m);
                    if let Some(rest) = o.reason.strip_prefix("cold-start: ") {
                        o.reason = format!("{}: {rest}", m.as_str());
                    }
                    ("cold-start".to_string(), *m, o)
                })
                .collect();
            combine(outs)
        }
        RuleSpec::Equivalent {
            subject,
            compared,
            metrics,
        } => {
            let mut outs = vec![];
            for m in metrics {
                if m.per_target() {
                    let mut o = equivalent(&ctx, subject, compared, "cold-start", *m);
                    o.reason = o
                        .reason
                        .replacen("cold-start: ", &format!("{}: ", m.as_str()), 1);
                    outs.push(("cold-start".to_string(), *m, o));
                } else {
                    for w in workloads {
                        outs.push((w.clone(), *m, equivalent(&ctx, subject, compared, w, *m)));
                    }
                }
            }
            combine(outs)
        }
        RuleSpec::LoopBlocking {
            group,
            share,
            context,
            workload,
            beside,
        } => loop_blocking(&ctx, group, context, *share, workload, beside.as_deref()),
    }
}

/// Cores the servers ran on (the pinned server CPUs, else the whole machine).
pub fn server_cores(run: &RunSummary) -> usize {
    match run.machine.server_cpus.len() {
        0 => run.machine.cores.max(1) as usize,
        n => n,
    }
}

struct Ctx<'a> {
    run: &'a RunSummary,
    cat: &'a Catalogue,
    params: Params,
    /// `shared_rate_p99_ms` on a capacity ladder: the grid rate the comparison reads p99 at (the
    /// highest every compared target held), set by [`two_groups`].
    shared_rate: Option<f64>,
}

impl Ctx<'_> {
    /// Cores the servers ran on (the pinned server CPUs, else the whole machine).
    fn server_cores(&self) -> usize {
        server_cores(self.run)
    }

    /// The run's targets a group names (languages or target names), in run order, and the lab
    /// targets to suggest for selectors that match nothing in the run.
    fn members(&self, selectors: &[String]) -> (Vec<&TargetSummary>, Vec<String>) {
        let mut found = vec![];
        let mut absent = vec![];
        for s in selectors {
            let matching: Vec<&TargetSummary> = self
                .run
                .targets
                .iter()
                .filter(|t| &t.language == s || &t.name == s)
                .collect();
            if matching.is_empty() {
                match self.cat.lab.get(s) {
                    Some(names) => absent.extend(names.iter().cloned()),
                    None => absent.push(s.clone()),
                }
            }
            for t in matching {
                if !found.iter().any(|f: &&TargetSummary| f.name == t.name) {
                    found.push(t);
                }
            }
        }
        (found, absent)
    }
}

/// A figure that counts as evidence.
#[derive(Debug, Clone)]
struct Fig {
    target: String,
    median: f64,
    min: f64,
    max: f64,
    lower_bound: bool,
    /// The repeats' values.
    values: Vec<f64>,
    /// Whether the figure varies between repeats (all but install bytes).
    varies: bool,
}

impl Fig {
    fn series(&self) -> Series {
        Series {
            target: self.target.clone(),
            values: self.values.clone(),
            median: self.median,
            lower_bound: self.lower_bound,
            one_repeat: self.varies && self.values.len() < 2,
        }
    }
}

/// The figures of one group on one (workload, metric): evidence, everything shown, what is missing.
struct Collected {
    figs: Vec<Fig>,
    shown: Vec<Measured>,
    missing: Missing,
}

fn collect(
    ctx: &Ctx,
    selectors: &[String],
    workload: &str,
    metric: Metric,
    side: Side,
) -> Collected {
    let (members, absent) = ctx.members(selectors);
    let mut out = Collected {
        figs: vec![],
        shown: vec![],
        missing: Missing::default(),
    };
    if side != Side::Context {
        for a in absent {
            out.missing.add(&a, workload);
        }
    }
    for t in members {
        match figure(ctx, t, workload, metric, side) {
            Look::Evidence(fig, shown) => {
                if side != Side::Context {
                    out.figs.push(fig);
                }
                out.shown.push(shown);
            }
            Look::Excluded(shown) => {
                if side != Side::Context {
                    out.missing.add(&t.name, workload);
                }
                out.shown.push(shown);
            }
            Look::Missing => {
                if side != Side::Context {
                    out.missing.add(&t.name, workload);
                }
            }
        }
    }
    out
}

enum Look {
    Evidence(Fig, Measured),
    Excluded(Measured),
    Missing,
}

fn measured(
    ctx: &Ctx,
    t: &TargetSummary,
    workload: &str,
    metric: Metric,
    side: Side,
    spread: Option<&Spread>,
) -> Measured {
    let per_core = match (metric.higher_is_better(), spread) {
        (true, Some(s)) => Some(s.median / ctx.server_cores() as f64),
        _ => None,
    };
    Measured {
        target: t.name.clone(),
        language: t.language.clone(),
        framework: t.framework.clone(),
        workload: workload.to_string(),
        metric,
        unit: metric.unit().to_string(),
        side,
        median: spread.map(|s| s.median),
        min: spread.map(|s| s.min),
        max: spread.map(|s| s.max),
        values: spread.map(|s| s.values.clone()).unwrap_or_default(),
        per_core,
        lower_bound: false,
        evidence: false,
        note: None,
    }
}

/// One target's figure for (workload, metric), and whether it counts.
fn figure(ctx: &Ctx, t: &TargetSummary, workload: &str, metric: Metric, side: Side) -> Look {
    if let Some(f) = &t.failure {
        let mut m = measured(ctx, t, workload, metric, side, None);
        m.note = Some(format!("target failed: {f}"));
        return Look::Excluded(m);
    }
    let (spread, lower_bound, status_note, mut note) = if metric.per_target() {
        let s = match metric {
            Metric::ColdStartMs => t.metric("cold_start_ms").cloned(),
            Metric::IdlePssMb => t.value("idle_pss_mb").and_then(|v| Spread::of(&[v])),
            Metric::InstallBytes => t.value("install_bytes").and_then(|v| Spread::of(&[v])),
            _ => unreachable!("per-target metrics only"),
        };
        (s, false, None, None)
    } else {
        let Some(cell) = ctx.run.cell(&t.name, workload) else {
            return Look::Missing;
        };
        let s = match metric {
            Metric::ThroughputRps => cell.metric("throughput_rps").cloned(),
            // One value per search (a capacity search is a repeat of its cell: `io-slo` runs
            // three in the full suite); a run stored before that has the cell's one figure.
            Metric::CapacityRps => cell
                .metric("capacity_rps")
                .cloned()
                .or_else(|| cell.capacity_rps.and_then(|v| Spread::of(&[v]))),
            Metric::P50Ms => cell.metric("p50_ms").cloned(),
            Metric::P99Ms => cell.metric("p99_ms").cloned(),
            Metric::SharedRateP99Ms if is_concurrency(workload) => cell.metric("p99_ms").cloned(),
            // Every held rung at the shared rate: one per repeat of the search (a cell's ladder
            // holds the rungs of all its repeats).
            Metric::SharedRateP99Ms => ctx.shared_rate.and_then(|r| {
                let at: Vec<f64> = held_grid_rungs(cell)
                    .into_iter()
                    .filter(|p| p.offered_rps == r)
                    .map(|p| p.p99_ms)
                    .collect();
                Spread::of(&at)
            }),
            Metric::ServerCpuUsPerReq => cell.metric("server_cpu_us_per_req").cloned(),
            Metric::PssMeanMb => cell.metric("pss_mean_mb").cloned(),
            Metric::PssPeakMb => cell.metric("pss_peak_mb").cloned(),
            Metric::HeldConnections => cell.metric("connections_held").cloned(),
            Metric::MbPer1kConns => cell.metric("mb_per_1k_conns").cloned(),
            _ => unreachable!("cell metrics only"),
        };
        let hold = cell.held_all();
        // A ws-hold cell is flagged when the server could not hold every connection: that is
        // the result being measured, so its figures still count, with what it held said beside
        // them (issue 14). Memory per connection and echo latency are compared at the number
        // actually held when it is at least HOLD_COMPARE_MIN (FastAPI's misses on one core were
        // upgrade time-outs during the ramp: the handshake rate, a figure of its own); below that
        // the server has a cap (gunicorn sync: one connection per worker), and the cap is the
        // finding: shown, not compared as a memory or latency figure.
        let held_fewer = (hold == Some(false)).then_some(cell);
        let held_n = cell.metric("connections_held").map(|s| s.median);
        let capped = held_fewer.is_some() && held_n.is_some_and(|h| h < HOLD_COMPARE_MIN);
        // A concurrency cell (io-wait) with failures is flagged, but failing to hold thousands
        // of requests is the result measured: its latency counts, censored below (issue 14).
        let concurrency = is_concurrency(workload);
        let counts_flagged = match metric {
            Metric::HeldConnections => true,
            Metric::P99Ms | Metric::SharedRateP99Ms if concurrency => true,
            Metric::MbPer1kConns | Metric::P99Ms => held_fewer.is_some() && !capped,
            _ => false,
        };
        let status_note = match &cell.status {
            _ if capped && matches!(metric, Metric::MbPer1kConns | Metric::P99Ms) => {
                Some(format!(
                    "held only {} of {} connections: the cap is the finding (the held-connection claims count it), not a {} figure",
                    fmt_num(held_n.unwrap_or(0.0)),
                    fmt_num(cell.metric("connections_attempted").map_or(0.0, |s| s.median)),
                    if metric == Metric::P99Ms { "latency" } else { "memory" }
                ))
            }
            CellStatus::Flagged(_) if (hold.is_some() || concurrency) && counts_flagged => None,
            CellStatus::Ok => None,
            CellStatus::Flagged(r) => Some(format!("flagged, not counted: {r}")),
            CellStatus::Failed(r) => Some(format!("failed, not counted: {r}")),
        };
        let mut s = s;
        let mut censored_note = None;
        if concurrency && matches!(metric, Metric::P99Ms | Metric::SharedRateP99Ms) {
            if let (Some(sp), Some(f)) = (s.as_ref(), cell.metric("failed_share")) {
                let (censored, note) = censor_failed(sp, f);
                s = Some(censored);
                censored_note = note;
            }
        }
        if metric == Metric::SharedRateP99Ms && !concurrency {
            if let Some(r) = ctx.shared_rate {
                censored_note = Some(format!(
                    "p99 at {} req/s, the highest grid rate every compared target held",
                    fmt_num(r)
                ));
            }
        }
        let mut lb = cell.lower_bound;
        let mut note = lb.then(|| "lower bound: the load engine or upstream was ≥ 90% busy".into());
        // A closed loop on /io?ms=M with C connections cannot exceed C × 1000 / M req/s.
        if metric == Metric::ThroughputRps {
            if let (Some(c), Some(ms), Some(s)) = (
                cell.params
                    .get("connections")
                    .and_then(|v| v.parse::<f64>().ok()),
                cell.params.get("ms").and_then(|v| v.parse::<f64>().ok()),
                s.as_ref(),
            ) {
                let cap = c * 1000.0 / ms;
                if ms > 0.0 && s.median >= 0.9 * cap {
                    lb = true;
                    note = Some(format!(
                        "lower bound: at the workload's ceiling ({} connections × 1000 / {} ms = {} req/s)",
                        fmt_num(c),
                        fmt_num(ms),
                        fmt_num(cap)
                    ));
                }
            }
        }
        // The lab's own warnings on the cell (noise, steal time…) travel with the figure.
        if !cell.warnings.is_empty() {
            let w = format!("lab warnings: {}", cell.warnings.join("; "));
            note = Some(note.map_or(w.clone(), |n| format!("{n}; {w}")));
        }
        if let Some(c) = censored_note {
            note = Some(note.map_or(c.clone(), |n| format!("{c}; {n}")));
        }
        if let Some(h) = held_fewer {
            let mut held = format!(
                "held {} of {} connections",
                fmt_num(h.metric("connections_held").map_or(0.0, |s| s.median)),
                fmt_num(h.metric("connections_attempted").map_or(0.0, |s| s.median))
            );
            if let Some(t) = h.metric("upgrade_timeouts").filter(|t| t.median > 0.0) {
                held.push_str(&format!(
                    " ({} upgrade time-outs{})",
                    fmt_num(t.median),
                    h.metric("upgrades_per_s")
                        .map(|u| format!(" at {} upgrades/s during the ramp", fmt_num(u.median)))
                        .unwrap_or_default()
                ));
            }
            if matches!(metric, Metric::MbPer1kConns | Metric::P99Ms) {
                held.push_str(": compared at the number held");
            }
            note = Some(note.map_or(held.clone(), |n| format!("{held}; {n}")));
        }
        (s, lb, status_note, note)
    };
    let mut m = measured(ctx, t, workload, metric, side, spread.as_ref());
    if let Some(sn) = status_note {
        m.note = Some(sn);
        return Look::Excluded(m);
    }
    let Some(s) = spread else {
        return Look::Missing;
    };
    m.lower_bound = lower_bound;
    m.evidence = side != Side::Context;
    if side == Side::Context {
        note = Some(note.map_or("context, not counted".into(), |n| {
            format!("context, not counted; {n}")
        }));
    }
    m.note = note;
    Look::Evidence(
        Fig {
            target: t.name.clone(),
            median: s.median,
            min: s.min,
            max: s.max,
            lower_bound,
            values: s.values.clone(),
            varies: metric != Metric::InstallBytes,
        },
        m,
    )
}

/// Whether a workload is a concurrency workload (`io-wait`: one fixed rate, thousands in flight).
fn is_concurrency(workload: &str) -> bool {
    ::workloads::registry()
        .workload(workload)
        .is_some_and(|w| w.kind == ::workloads::Kind::Concurrency)
}

/// The share of failed requests above which a concurrency cell's p99 is censored at the request
/// time-out: more than 1% of its requests never got a (correct) answer, so its true p99 is at least
/// that long.
pub const CONCURRENCY_FAILED_MAX: f64 = 0.01;

/// The lab's per-request time-out in ms (crates/lab/src/workload/http.rs `REQUEST_TIMEOUT`): a
/// request that failed waited at most this long, so a p99 over failures is censored here.
pub const REQUEST_TIMEOUT_MS: f64 = 10_000.0;

/// A concurrency cell's p99 with failures counted: in each repeat whose failed share exceeds
/// [`CONCURRENCY_FAILED_MAX`], the p99 is at least the request time-out (an understatement of a
/// failing server's latency, so a verdict against it stays sound).
fn censor_failed(p99: &Spread, failed: &Spread) -> (Spread, Option<String>) {
    let values: Vec<f64> = p99
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let f = failed.values.get(i).copied().unwrap_or(failed.median);
            if f > CONCURRENCY_FAILED_MAX {
                v.max(REQUEST_TIMEOUT_MS)
            } else {
                *v
            }
        })
        .collect();
    let note = (failed.max > 0.0).then(|| {
        let mut n = format!(
            "{}% of requests failed or went unanswered",
            fmt_num(failed.median * 100.0)
        );
        if failed.max > CONCURRENCY_FAILED_MAX {
            n.push_str(&format!(
                ": p99 read as at least the {} ms time-out (the cap is the finding)",
                fmt_num(REQUEST_TIMEOUT_MS)
            ));
        }
        n
    });
    (Spread::of(&values).unwrap_or_else(|| p99.clone()), note)
}

/// The rungs of a capacity cell's ladder that are on the shared grid and were held (no errors,
/// at least the trusted share of the offered rate achieved): their p99 is a latency at that
/// offered rate, comparable across targets.
fn held_grid_rungs(cell: &store::CellSummary) -> Vec<&store::LadderPoint> {
    cell.ladder
        .iter()
        .filter(|p| {
            ::workloads::grid::on_grid(p.offered_rps).is_some()
                && p.errors == 0
                && p.achieved_rps >= ::workloads::trust::MIN_ACHIEVED_SHARE * p.offered_rps
        })
        .collect()
}

/// The highest grid rate every target of `groups` whose `workload` cell counts (target not
/// failed, cell ok) held on its ladder; `Err` names each target's held grid rates when they share
/// none.
fn shared_rate(ctx: &Ctx, groups: &[&[String]], workload: &str) -> Result<Option<f64>, String> {
    let mut common: Option<Vec<f64>> = None;
    let mut held: Vec<String> = vec![];
    for g in groups {
        let (members, _) = ctx.members(g);
        for t in members {
            if t.failure.is_some() {
                continue;
            }
            let Some(cell) = ctx.run.cell(&t.name, workload) else {
                continue;
            };
            if cell.status != CellStatus::Ok {
                continue;
            }
            let rates: Vec<f64> = held_grid_rungs(cell)
                .iter()
                .map(|p| p.offered_rps)
                .collect();
            held.push(format!(
                "{} {}",
                t.name,
                match (
                    rates.iter().copied().reduce(f64::min),
                    rates.iter().copied().reduce(f64::max)
                ) {
                    (Some(lo), Some(hi)) => format!("{}–{} req/s", fmt_num(lo), fmt_num(hi)),
                    _ => "none".into(),
                }
            ));
            common = Some(match common {
                None => rates,
                Some(c) => c.into_iter().filter(|r| rates.contains(r)).collect(),
            });
        }
    }
    match common {
        None => Ok(None),
        Some(c) => c
            .into_iter()
            .reduce(f64::max)
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "{workload}: the compared targets' ladders share no grid rate they all held, so p99 cannot be compared at equal load (held grid rates: {})",
                    held.join("; ")
                )
            }),
    }
}

/// Connections a ws-hold server must have held for its memory per connection and echo latency
/// to be compared at the number held: the claims' "thousands" (fewer is a cap, the finding).
pub const HOLD_COMPARE_MIN: f64 = 1000.0;

/// Run a single-workload rule over each workload and combine.
fn per_workload(
    ctx: &Ctx,
    workloads: &[String],
    metric: Metric,
    f: impl Fn(&Ctx, &str) -> Outcome,
) -> Outcome {
    let outs = workloads
        .iter()
        .map(|w| (w.clone(), metric, f(ctx, w)))
        .collect();
    combine(outs)
}

/// Combine the verdicts of several parts (see the module doc). One part is returned as it is.
fn combine(mut outs: Vec<(String, Metric, Outcome)>) -> Outcome {
    if outs.len() == 1 {
        return outs.pop().unwrap().2;
    }
    let mut missing = Missing::default();
    let mut measured = vec![];
    let mut parts = vec![];
    let mut codes = BTreeSet::new();
    let mut comparisons = vec![];
    for (w, m, o) in outs {
        missing.merge(o.missing);
        measured.extend(o.measured);
        codes.extend(o.codes);
        comparisons.extend(o.comparisons);
        parts.push(Part {
            workload: w,
            metric: m,
            verdict: o.verdict,
            indicative: o.indicative,
            reason: o.reason,
        });
    }
    let judged: Vec<Verdict> = parts
        .iter()
        .map(|p| p.verdict)
        .filter(|v| v.is_measured())
        .collect();
    let name = |p: &Part| {
        if p.metric.per_target() {
            p.metric.as_str().to_string()
        } else {
            p.workload.clone()
        }
    };
    let verdict = if judged.is_empty() {
        Verdict::NotMeasured
    } else if judged.iter().all(|v| *v == judged[0]) {
        judged[0]
    } else if judged.iter().any(|v| {
        matches!(
            v,
            Verdict::Supported | Verdict::Partly | Verdict::Equivalent
        )
    }) {
        Verdict::Partly
    } else if judged.contains(&Verdict::Depends) {
        Verdict::Depends
    } else if judged.contains(&Verdict::Inconclusive) {
        Verdict::Inconclusive
    } else {
        Verdict::Refuted
    };
    let indicative = verdict.is_decided()
        && parts
            .iter()
            .any(|p| p.indicative && p.verdict.is_measured());
    let reason = parts
        .iter()
        .map(|p| format!("{}: {}", name(p), p.verdict.label_with(p.indicative)))
        .collect::<Vec<_>>()
        .join("; ");
    Outcome {
        verdict,
        reason,
        parts,
        measured,
        missing,
        indicative,
        codes,
        comparisons,
    }
}

fn group_name(selectors: &[String]) -> String {
    selectors.join("+")
}

fn not_measured(reason: String, measured: Vec<Measured>, missing: Missing) -> Outcome {
    Outcome {
        verdict: Verdict::NotMeasured,
        reason,
        parts: vec![],
        measured,
        missing,
        indicative: false,
        codes: BTreeSet::new(),
        comparisons: vec![],
    }
}

/// `subject` against `compared` on (workload, metric) under `test`: best against best and typical
/// against typical (see [`crate::decide`]).
fn two_groups(
    ctx: &Ctx,
    subject: &[String],
    compared: &[String],
    context: &[String],
    workload: &str,
    metric: Metric,
    test: Test,
) -> Outcome {
    // p99 at equal load on a capacity ladder: read at the highest grid rate every compared target
    // held (a concurrency workload runs every target at one rate already).
    let shared;
    let ctx = if metric == Metric::SharedRateP99Ms && !is_concurrency(workload) {
        match shared_rate(ctx, &[subject, compared], workload) {
            Ok(r) => {
                shared = Ctx {
                    run: ctx.run,
                    cat: ctx.cat,
                    params: ctx.params,
                    shared_rate: r,
                };
                &shared
            }
            // The run lacks a figure at equal load: not measured (no lab command fixes it
            // for targets whose ladders are far apart; the reason names their rates).
            Err(reason) => return not_measured(reason, vec![], Missing::default()),
        }
    } else {
        ctx
    };
    let a = collect(ctx, subject, workload, metric, Side::Subject);
    let b = collect(ctx, compared, workload, metric, Side::Compared);
    let c = collect(ctx, context, workload, metric, Side::Context);
    let mut missing = a.missing;
    missing.merge(b.missing);
    let measured: Vec<Measured> = a.shown.into_iter().chain(b.shown).chain(c.shown).collect();
    let (an, bn) = (group_name(subject), group_name(compared));
    if a.figs.is_empty() || b.figs.is_empty() {
        let who = if a.figs.is_empty() { &an } else { &bn };
        return not_measured(
            format!("no valid {workload} {} figure for {who}", metric.as_str()),
            measured,
            missing,
        );
    }
    let sa: Vec<Series> = a.figs.iter().map(Fig::series).collect();
    let sb: Vec<Series> = b.figs.iter().map(Fig::series).collect();
    let d = decide::decide(&sa, &sb, metric.higher_is_better(), test, workload, metric);
    let mut reason = format!("{workload}: {an} vs {bn}: {}", d.reason);
    missing.append_to(&mut reason);
    let mut codes = BTreeSet::new();
    if d.lower_bound {
        codes.insert(ReasonCode::LowerBound);
        reason.push_str("; a lower-bound figure could change the answer");
    }
    // A figure of a database workload measured while the load side (engines, the lab's database
    // on the same CPUs) was saturated: the database, not the server, may have set it.
    let db_bound: Vec<&str> = a
        .figs
        .iter()
        .chain(&b.figs)
        .filter(|f| {
            ctx.run.cell(&f.target, workload).is_some_and(|c| {
                c.lower_bound
                    && c.warnings
                        .iter()
                        .any(|w| w.contains(::workloads::trust::DATABASE_BOUND_NOTE))
            })
        })
        .map(|f| f.target.as_str())
        .collect();
    if !db_bound.is_empty() {
        codes.insert(ReasonCode::DatabaseBound);
        reason.push_str(&format!(
            "; {} ({})",
            ::workloads::trust::DATABASE_BOUND_NOTE,
            db_bound.join(", ")
        ));
    }
    if d.indicative {
        codes.insert(ReasonCode::OneRepeat);
    }
    Outcome {
        verdict: d.verdict,
        reason,
        parts: vec![],
        measured,
        missing,
        indicative: d.indicative,
        codes,
        comparisons: vec![d.best, d.typical],
    }
}

/// `better` beats `than` on (workload, metric) by at least the claim's minimum effect.
fn faster(
    ctx: &Ctx,
    better: &[String],
    than: &[String],
    context: &[String],
    workload: &str,
    metric: Metric,
) -> Outcome {
    two_groups(
        ctx,
        better,
        than,
        context,
        workload,
        metric,
        Test::MinEffect(ctx.params.min_effect),
    )
}

/// `subject` and `compared` are the same on (workload, metric) within the claim's margin.
fn equivalent(
    ctx: &Ctx,
    subject: &[String],
    compared: &[String],
    workload: &str,
    metric: Metric,
) -> Outcome {
    two_groups(
        ctx,
        subject,
        compared,
        &[],
        workload,
        metric,
        Test::Equivalence(ctx.params.margin),
    )
}

/// A claimed range this machine cannot reach is not testable here: unless `baseline` (the Rust
/// reference) measured above `max` on the same workload and metric, and not as a lower bound, a
/// group below the range says more about the machine than about the claim.
fn gate_on_baseline(
    ctx: &Ctx,
    o: &mut Outcome,
    baseline: &str,
    workload: &str,
    metric: Metric,
    max: f64,
) {
    if !o.verdict.is_measured() {
        return;
    }
    let t = ctx.run.targets.iter().find(|t| t.name == baseline);
    let fig = t.map(|t| figure(ctx, t, workload, metric, Side::Context));
    let why = match fig {
        None => format!("the baseline {baseline} has no {workload} figure in this run"),
        Some(Look::Evidence(f, _)) if f.lower_bound => format!(
            "the baseline {baseline} reached {} {} only as a lower bound",
            fmt_num(f.median),
            metric.unit()
        ),
        Some(Look::Evidence(f, _)) if f.median > max => return,
        Some(Look::Evidence(f, _)) => format!(
            "the baseline {baseline} reached {} {} here, not above the claimed top {}",
            fmt_num(f.median),
            metric.unit(),
            fmt_num(max)
        ),
        Some(_) => format!("the baseline {baseline}'s {workload} figure does not count"),
    };
    o.reason = format!(
        "not testable on this machine: {why}, so a figure below the range says nothing about the claim \
         (measured: {})",
        o.reason
    );
    o.verdict = Verdict::NotTestableYet;
    o.indicative = false;
    o.codes.remove(&ReasonCode::OneRepeat);
    o.codes.insert(ReasonCode::NotTestableHere);
}

/// Each framework of `group` measures within `[lo, hi]`.
fn range(ctx: &Ctx, group: &[String], workload: &str, metric: Metric, lo: f64, hi: f64) -> Outcome {
    let g = collect(ctx, group, workload, metric, Side::Subject);
    let name = group_name(group);
    if g.figs.is_empty() {
        return not_measured(
            format!("no valid {workload} {} figure for {name}", metric.as_str()),
            g.shown,
            g.missing,
        );
    }
    let (mut within, mut above, mut below, mut und) = (0, 0, 0, 0);
    for f in &g.figs {
        if f.min > hi {
            above += 1;
        } else if f.lower_bound {
            und += 1;
        } else if f.max < lo {
            below += 1;
        } else {
            within += 1;
        }
    }
    let cores = ctx.server_cores();
    let lo_m = g
        .figs
        .iter()
        .map(|f| f.median)
        .fold(f64::INFINITY, f64::min);
    let hi_m = g
        .figs
        .iter()
        .map(|f| f.median)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut reason = format!(
        "{workload}: {within} of {} {name} frameworks within {}–{} {}, {below} below, {above} above{}; \
         medians {}–{} on {cores} server CPU{} (per core {}–{})",
        g.figs.len(),
        fmt_num(lo),
        fmt_num(hi),
        metric.unit(),
        if und > 0 {
            format!(", {und} undecided (lower bounds)")
        } else {
            String::new()
        },
        fmt_num(lo_m),
        fmt_num(hi_m),
        if cores == 1 { "" } else { "s" },
        fmt_num(lo_m / cores as f64),
        fmt_num(hi_m / cores as f64),
    );
    // For a higher-is-better figure below the range: how many such cores the claim would take,
    // a hint only (it assumes linear scaling per core, which the run did not measure).
    if below > 0 && metric.higher_is_better() && hi_m > 0.0 && hi_m < lo {
        let per_core = hi_m / cores as f64;
        reason.push_str(&format!(
            "; the fastest would need about {} server CPUs for {} at its per-core rate, if it scaled linearly \
             (not measured)",
            fmt_num((lo / per_core).ceil()),
            fmt_num(lo)
        ));
    }
    g.missing.append_to(&mut reason);
    let decided = within + above + below;
    let verdict = if decided == 0 {
        Verdict::NotMeasured
    } else if within == decided {
        Verdict::Supported
    } else if within == 0 {
        Verdict::Refuted
    } else {
        Verdict::Depends
    };
    let mut codes = BTreeSet::new();
    if und > 0 {
        codes.insert(ReasonCode::LowerBound);
    }
    let indicative = verdict.is_decided() && g.figs.iter().any(|f| f.varies && f.values.len() < 2);
    if indicative {
        codes.insert(ReasonCode::OneRepeat);
    }
    Outcome {
        verdict,
        reason,
        parts: vec![],
        measured: g.shown,
        missing: g.missing,
        indicative,
        codes,
        comparisons: vec![],
    }
}

/// `numerator / denominator` lies in `[lo, hi]`: best against best and typical against typical.
fn ratio(
    ctx: &Ctx,
    numerator: &[String],
    denominator: &[String],
    workload: &str,
    metric: Metric,
    lo: f64,
    hi: f64,
) -> Outcome {
    let mut o = two_groups(
        ctx,
        numerator,
        denominator,
        &[],
        workload,
        metric,
        Test::Range(lo, hi),
    );
    if o.verdict.is_measured() || !o.comparisons.is_empty() {
        o.reason = o.reason.replacen(
            &format!("{workload}: "),
            &format!(
                "{workload}: {} / {} {} ratio {}–{} claimed; ",
                group_name(numerator),
                group_name(denominator),
                metric.as_str(),
                fmt_num(lo),
                fmt_num(hi)
            ),
            1,
        );
    }
    o
}

/// The CPU time of one heavy `/cpu` request of loop-blocking workload `w` for `target`, in ms:
/// the cell's own `heavy_cpu_ms` (measured by serial probes before its window: every `mixed-time`
/// cell, and `mixed` cells of newer runs); for an older `mixed` cell, its `cpu` cell's server CPU
/// per request scaled by the ratio of the heavy request's `n` to the cpu cell's `n`.
fn heavy_ms(ctx: &Ctx, target: &str, w: &str) -> Result<f64, String> {
    let mixed = ctx
        .run
        .cell(target, w)
        .ok_or_else(|| format!("no {w} cell"))?;
    if let Some(s) = mixed.metric("heavy_cpu_ms") {
        return Ok(s.median);
    }
    if w != "mixed" {
        return Err(format!(
            "the {w} cell does not give its heavy request's CPU time (`heavy_cpu_ms`)"
        ));
    }
    let heavy_n = mixed
        .params
        .get("heavy_n")
        .cloned()
        .or_else(|| {
            let path = mixed.params.get("heavy_path")?;
            Some(path.split("n=").nth(1)?.split('&').next()?.to_string())
        })
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or("the mixed cell does not give its heavy request's n (`heavy_path` or `heavy_n`)")?;
    let cpu = ctx.run.cell(target, "cpu").ok_or("no cpu cell")?;
    if cpu.status != CellStatus::Ok {
        return Err("its cpu cell is flagged or failed".into());
    }
    let us = cpu
        .metric("server_cpu_us_per_req")
        .ok_or("its cpu cell has no server CPU per request")?
        .median;
    let n = cpu
        .params
        .get("n")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|n| *n > 0.0)
        .ok_or("its cpu cell does not give its `n`")?;
    Ok(us * heavy_n / n / 1000.0)
}

/// What `/io` latency would be without the heavy requests: the cell's own `/io`-alone baseline,
/// else the target's corrected p99 on the `io-slo` ladder at the lowest rate at or above the
/// cell's /io rate that it achieved (≥ 97%), when the run has one; else the upstream delay itself.
fn baseline(ctx: &Ctx, target: &str, w: &str, delay_ms: f64) -> (f64, String, bool) {
    // Best: the cell's own baseline. Each repeat first measures the same /io stream alone,
    // then with the heavy requests; its ladder holds `[alone, with heavy]` per repeat.
    let alone: Vec<f64> = ctx
        .run
        .cell(target, w)
        .filter(|c| c.ladder.len() >= 2 && c.ladder.len() % 2 == 0)
        .map(|c| c.ladder.iter().step_by(2).map(|p| p.p99_ms).collect())
        .unwrap_or_default();
    if let Some(s) = store::Spread::of(&alone) {
        return (
            s.median,
            format!(
                "{} ms (its /io p99 alone, measured in the same repeats before the heavy requests)",
                fmt_num(s.median)
            ),
            true,
        );
    }
    let rate = ctx
        .run
        .cell(target, w)
        .and_then(|c| c.params.get("io_rate_rps"))
        .and_then(|v| v.parse::<f64>().ok());
    let rung = ctx
        .run
        .cell(target, "io-slo")
        .filter(|c| c.status == CellStatus::Ok)
        .zip(rate)
        .and_then(|(c, rate)| {
            c.ladder
                .iter()
                .filter(|r| r.offered_rps >= rate && r.achieved_rps >= 0.97 * r.offered_rps)
                .min_by(|a, b| a.offered_rps.total_cmp(&b.offered_rps))
        });
    match rung {
        Some(r) => (
            r.p99_ms,
            format!(
                "{} ms (its io-slo p99 at {} req/s without heavy requests)",
                fmt_num(r.p99_ms),
                fmt_num(r.offered_rps)
            ),
            true,
        ),
        None => (delay_ms, format!("{} ms delay", fmt_num(delay_ms)), false),
    }
}

/// One target's loop-blocking reading on workload `w` (its /io p99 over the repeats, `min`–`max`):
/// `Some(true)` blocked, `Some(false)` clear, `None` the repeats straddle the threshold; with the
/// note shown beside the figure. `Err` when it cannot be judged.
fn judge_blocking(
    ctx: &Ctx,
    w: &str,
    target: &str,
    min: f64,
    max: f64,
    share: f64,
) -> Result<(Option<bool>, String), String> {
    let delay = ctx
        .run
        .cell(target, w)
        .and_then(|c| c.params.get("ms"))
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .ok_or_else(|| format!("the {w} cell does not give its /io delay (`ms`)"))?;
    let (base, base_what, measured_base) = baseline(ctx, target, w, delay);
    let heavy = heavy_ms(ctx, target, w)?;
    let limit = share * heavy;
    // Waiting behind the heavy requests in flight explains a few heavy requests' worth at most.
    let unexplained = min - base > 4.0 * heavy.max(1.0);
    if unexplained && !measured_base {
        return Err(format!(
            "/io p99 − {base_what} = {}–{} ms, {}× one heavy /cpu ({} ms of CPU): more than \
             blocking explains, and no /io latency without heavy requests to compare with (io-slo)",
            fmt_num(min - base),
            fmt_num(max - base),
            fmt_num((min - base) / heavy),
            fmt_num(heavy)
        ));
    }
    let class = if min - base >= limit {
        Some(true)
    } else if max - base < limit {
        Some(false)
    } else {
        None
    };
    let word = match class {
        Some(true) => "blocked",
        Some(false) => "clear",
        None => "repeats straddle the threshold",
    };
    let n = ctx
        .run
        .cell(target, w)
        .and_then(|c| c.metric("heavy_n"))
        .map(|s| format!(" (n = {})", fmt_num(s.median)))
        .unwrap_or_default();
    let mut note = format!(
        "{word}: /io p99 − {base_what} = {}–{} ms; one heavy /cpu{n} takes {} ms of CPU",
        fmt_num(min - base),
        fmt_num(max - base),
        fmt_num(heavy)
    );
    if unexplained {
        note.push_str(&format!(
            " (the rise is {}× one heavy request: more than blocking alone explains; see the run's warnings)",
            fmt_num((min - base) / heavy)
        ));
    }
    Ok((class, note))
}

/// In loop-blocking workload `w` (`mixed-time` or `mixed`), whether the `/io` requests of each
/// target of `group` waited for the heavy requests; `beside`, when named, is judged the same way
/// for the same targets and shown as context (`mixed` beside `mixed-time`: equal work beside
/// equal time), never counted.
fn loop_blocking(
    ctx: &Ctx,
    group: &[String],
    context: &[String],
    share: f64,
    w: &str,
    beside: Option<&str>,
) -> Outcome {
    let a = collect(ctx, group, w, Metric::P99Ms, Side::Subject);
    let c = collect(ctx, context, w, Metric::P99Ms, Side::Context);
    let mut missing = a.missing;
    let judge = |target: &str, min: f64, max: f64| judge_blocking(ctx, w, target, min, max, share);
    let (mut blocked, mut clear, mut straddle) = (vec![], vec![], vec![]);
    let mut measured = vec![];
    for mut m in a.shown {
        let Some(f) = a.figs.iter().find(|f| f.target == m.target) else {
            measured.push(m);
            continue;
        };
        match judge(&f.target, f.min, f.max) {
            Ok((class, note)) => {
                match class {
                    Some(true) => blocked.push(f.target.clone()),
                    Some(false) => clear.push(f.target.clone()),
                    None => straddle.push(f.target.clone()),
                }
                m.note = Some(note);
            }
            Err(why) => {
                m.evidence = false;
                m.note = Some(format!("not judged: {why}"));
                missing.add(&f.target, w);
                if w == "mixed" {
                    missing.add(&f.target, "cpu");
                }
                if why.contains("(io-slo)") {
                    missing.add(&f.target, "io-slo");
                }
            }
        }
        measured.push(m);
    }
    let mut ctx_notes = vec![];
    for mut m in c.shown {
        if let (Some(min), Some(max), true) = (m.min, m.max, m.side == Side::Context) {
            if m.note.as_deref().is_some_and(|n| n.starts_with("context")) {
                if let Ok((class, note)) = judge(&m.target, min, max) {
                    let word = match class {
                        Some(true) => "blocked",
                        Some(false) => "clear",
                        None => "straddles",
                    };
                    ctx_notes.push(format!("{} {word}", m.target));
                    m.note = Some(format!("context, not counted; {note}"));
                }
            }
        }
        measured.push(m);
    }
    // The other variant, beside the verdict: the same targets judged on it, never counted.
    let mut beside_notes = vec![];
    if let Some(b) = beside {
        let other = collect(ctx, group, b, Metric::P99Ms, Side::Subject);
        for f in &other.figs {
            let word = match judge_blocking(ctx, b, &f.target, f.min, f.max, share) {
                Ok((Some(true), _)) => "blocked",
                Ok((Some(false), _)) => "clear",
                Ok((None, _)) => "straddles",
                Err(_) => "not judged",
            };
            let ratio = ctx
                .run
                .cell(&f.target, b)
                .and_then(|c| c.metric("blocking_ratio"))
                .map(|s| format!(", blocking ratio {}", fmt_num(s.median)))
                .unwrap_or_default();
            beside_notes.push(format!("{} {word}{ratio}", f.target));
        }
        for mut m in other.shown {
            if let (Some(min), Some(max)) = (m.min, m.max) {
                if let Ok((_, note)) = judge_blocking(ctx, b, &m.target, min, max, share) {
                    m.note = Some(format!("beside ({b}), not counted; {note}"));
                }
            }
            m.side = Side::Context;
            m.evidence = false;
            measured.push(m);
        }
    }
    let decided = blocked.len() + clear.len();
    let name = group_name(group);
    let mut reason = format!(
        "{w}: {} of {} {name} targets blocked (/io p99 − /io p99 without heavy requests ≥ {} × one heavy request's CPU time), {} clear{}",
        blocked.len(),
        decided + straddle.len(),
        fmt_num(share),
        clear.len(),
        if straddle.is_empty() {
            String::new()
        } else {
            format!(", {} straddling", straddle.len())
        }
    );
    if !clear.is_empty() && !blocked.is_empty() {
        reason.push_str(&format!(" ({} clear)", clear.join(", ")));
    }
    if !ctx_notes.is_empty() {
        reason.push_str(&format!("; context: {}", ctx_notes.join(", ")));
    }
    if let Some(b) = beside {
        let what = if b == "mixed" {
            "equal work, the same /cpu?n for every target"
        } else {
            "equal time"
        };
        if beside_notes.is_empty() {
            reason.push_str(&format!("; beside it, {b} ({what}): not measured"));
        } else {
            reason.push_str(&format!(
                "; beside it, not counted, {b} ({what}): {}",
                beside_notes.join(", ")
            ));
        }
    }
    missing.append_to(&mut reason);
    // Targets that block beside targets that do not: the frameworks really disagree (`depends`). A
    // target whose repeats straddle the threshold is within noise: beside targets that agree with
    // each other, the run cannot tell (`inconclusive`).
    let verdict = if decided == 0 && straddle.is_empty() {
        Verdict::NotMeasured
    } else if !blocked.is_empty() && !clear.is_empty() {
        Verdict::Depends
    } else if !straddle.is_empty() {
        Verdict::Inconclusive
    } else if blocked.len() == decided {
        Verdict::Supported
    } else {
        Verdict::Refuted
    };
    let indicative = verdict.is_decided()
        && a.figs
            .iter()
            .any(|f| blocked.contains(&f.target) || clear.contains(&f.target))
        && a.figs.iter().any(|f| f.values.len() < 2);
    let mut codes = BTreeSet::new();
    if indicative {
        codes.insert(ReasonCode::OneRepeat);
    }
    Outcome {
        verdict,
        reason,
        parts: vec![],
        measured,
        missing,
        indicative,
        codes,
        comparisons: vec![],
    }
}

/// Whether every workload the claim names is available (for callers deciding "not testable yet").
pub fn all_available(ws: &[String]) -> bool {
    ws.iter()
        .all(|w| workloads::lookup(w).is_some_and(|x| x.available))
}

#[cfg(test)]
mod tests {
    //! Each rule on small fixture runs built here, one per verdict the rule can give.

    use store::{testing, CellSummary};

    use super::*;

    /// A fixture run: targets, cells, machine with one server CPU.
    struct Fx(RunSummary);

    impl Fx {
        fn new() -> Fx {
            Fx(RunSummary {
                started_at: "2026-11-24T09:00:00Z".into(),
                finished_at: Some("2026-11-24T09:30:00Z".into()),
                ..testing::run(7)
            })
        }

        fn target(mut self, name: &str, language: &str) -> Fx {
            self.0.targets.push(testing::target(name, language));
            self
        }

        fn per_target(mut self, name: &str, f: impl FnOnce(&mut TargetSummary)) -> Fx {
            f(self.0.targets.iter_mut().find(|t| t.name == name).unwrap());
            self
        }

        fn cell(mut self, target: &str, workload: &str, f: impl FnOnce(&mut CellSummary)) -> Fx {
            let mut c = CellSummary {
                repeats: 3,
                ..testing::cell(target, workload)
            };
            f(&mut c);
            self.0.cells.push(c);
            self
        }

        fn rps(self, target: &str, workload: &str, v: &[f64]) -> Fx {
            self.cell(target, workload, |c| c.set("throughput_rps", Spread::of(v)))
        }

        fn cpu_per_req(self, target: &str, workload: &str, v: &[f64]) -> Fx {
            self.cell(target, workload, |c| {
                c.set("server_cpu_us_per_req", Spread::of(v))
            })
        }

        fn p50(self, target: &str, workload: &str, v: &[f64]) -> Fx {
            self.cell(target, workload, |c| c.set("p50_ms", Spread::of(v)))
        }

        /// A mixed cell (/io at 10 ms, heavy /cpu?n=1000000) and the cpu cell that prices the heavy
        /// request: `heavy_ms` of CPU for n = 1,000,000.
        fn mixed(self, target: &str, p99: &[f64], heavy_ms: f64) -> Fx {
            self.cell(target, "mixed", |c| {
                c.set("p99_ms", Spread::of(p99));
                c.params.insert("ms".into(), "10".into());
                c.params
                    .insert("heavy_path".into(), "/cpu?n=1000000".into());
                c.params.insert("io_rate_rps".into(), "100".into());
            })
            .cell(target, "cpu", |c| {
                c.set("server_cpu_us_per_req", Spread::of(&[heavy_ms * 100.0]));
                c.params.insert("n".into(), "100000".into());
            })
        }
    }

    fn langs() -> Fx {
        Fx::new()
            .target("node-a", "node")
            .target("node-b", "node")
            .target("python-a", "python")
            .target("python-b", "python")
    }

    fn sel(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn run_rule(fx: &Fx, rule: RuleSpec, workloads: &[&str]) -> Outcome {
        evaluate(&rule, &sel(workloads), &fx.0, &Catalogue::builtin())
    }

    fn faster_rps() -> RuleSpec {
        RuleSpec::Faster {
            better: sel(&["node"]),
            than: sel(&["python"]),
            metric: Metric::ThroughputRps,
            context: sel(&["rust"]),
        }
    }

    #[test]
    fn faster_supported_when_every_pair_is_better_beyond_noise() {
        let fx = langs()
            .target("rust-a", "rust")
            .rps("node-a", "io", &[9000.0, 9100.0, 9200.0])
            .rps("node-b", "io", &[7000.0, 7100.0, 7200.0])
            .rps("python-a", "io", &[4000.0, 4100.0, 4200.0])
            .rps("python-b", "io", &[1000.0, 1100.0, 1200.0])
            .rps("rust-a", "io", &[20000.0]);
        let o = run_rule(&fx, faster_rps(), &["io"]);
        assert_eq!(o.verdict, Verdict::Supported, "{}", o.reason);
        assert!(o.reason.contains("pairs: 4 hold"), "{}", o.reason);
        assert!(
            o.reason.contains(
                "best node-a/python-a 2.22× (2.14–2.3, min–max of all repeat pairs): at least the minimum \
                 effect (needs ≥ 1.2×)"
            ),
            "{}",
            o.reason
        );
        // Two frameworks a side: the typical one pools both middle frameworks' repeats (n = 6 a
        // side: a seeded bootstrap).
        assert!(
            o.reason
                .contains("typical node-a+node-b/python-a+python-b 3.12× (")
                && o.reason
                    .contains("95% percentile bootstrap, 2000 resamples, seed 0x737461636b776973"),
            "{}",
            o.reason
        );
        assert_eq!(o.comparisons.len(), 2);
        assert!(!o.indicative);
        // Context is shown, not counted.
        let rust = o.measured.iter().find(|m| m.target == "rust-a").unwrap();
        assert_eq!(rust.side, Side::Context);
        assert!(!rust.evidence);
        // Per-core figures on the one server CPU.
        let na = o.measured.iter().find(|m| m.target == "node-a").unwrap();
        assert_eq!(na.per_core, Some(9100.0));
        assert!(o.missing.is_empty());
    }

    /// Capacity searches are repeats: the pair interval uses every search of each side (three
    /// searches: min–max of nine pairs, not indicative); a run stored before that (the cell's one
    /// capacity) still reads, as one repeat (indicative).
    #[test]
    fn capacity_reads_every_search_and_old_runs_one_figure() {
        let rule = RuleSpec::Faster {
            better: sel(&["node"]),
            than: sel(&["python"]),
            metric: Metric::CapacityRps,
            context: vec![],
        };
        let cap = |fx: Fx, t: &str, v: &[f64]| {
            let v = v.to_vec();
            fx.cell(t, "io-slo", move |c| {
                c.set("capacity_rps", Spread::of(&v));
                c.capacity_rps = Spread::of(&v).map(|s| s.median);
            })
        };
        let fx = langs();
        let fx = cap(fx, "node-a", &[3000.0, 3300.0, 3150.0]);
        let fx = cap(fx, "node-b", &[2900.0, 3000.0, 3100.0]);
        let fx = cap(fx, "python-a", &[1000.0, 1100.0, 1050.0]);
        let fx = cap(fx, "python-b", &[900.0, 1000.0, 950.0]);
        let o = run_rule(&fx, rule.clone(), &["io-slo"]);
        assert_eq!(o.verdict, Verdict::Supported, "{}", o.reason);
        assert!(!o.indicative, "three searches a side: {}", o.reason);
        let best = &o.comparisons[0];
        let iv = best.interval.as_ref().expect("an interval");
        assert_eq!((iv.n_num, iv.n_den), (3, 3), "{iv:?}");
        assert!(iv.lo < iv.ratio && iv.ratio < iv.hi, "{iv:?}");
        // An older run: only the cell's capacity.
        let one = |fx: Fx, t: &str, v: f64| fx.cell(t, "io-slo", move |c| c.capacity_rps = Some(v));
        let fx = one(
            one(
                one(one(langs(), "node-a", 3000.0), "node-b", 2900.0),
                "python-a",
                1000.0,
            ),
            "python-b",
            900.0,
        );
        let o = run_rule(&fx, rule, &["io-slo"]);
        let iv = o.comparisons[0].interval.as_ref().expect("an interval");
        assert_eq!((iv.n_num, iv.n_den), (1, 1));
        assert!(
            o.indicative,
            "one search a side is indicative: {}",
            o.reason
        );
    }

    #[test]
    fn faster_refuted_when_slower_and_inconclusive_within_noise() {
        let fx = langs()
            .rps("node-a", "io", &[4000.0, 4100.0])
            .rps("node-b", "io", &[3900.0, 4000.0])
            .rps("python-a", "io", &[4950.0, 5050.0])
            .rps("python-b", "io", &[5000.0, 5100.0]);
        let o = run_rule(&fx, faster_rps(), &["io"]);
        assert_eq!(o.verdict, Verdict::Refuted, "{}", o.reason);
        assert!(
            o.reason.contains("no advantage or the other way"),
            "{}",
            o.reason
        );
        // Overlapping figures: "faster" is neither shown nor excluded. Within noise is
        // inconclusive now (it was refuted when any overlap counted as "no difference").
        let fx = langs()
            .rps("node-a", "io", &[1000.0, 1200.0])
            .rps("node-b", "io", &[1000.0, 1200.0])
            .rps("python-a", "io", &[1100.0, 1300.0])
            .rps("python-b", "io", &[1050.0, 1150.0]);
        let o = run_rule(&fx, faster_rps(), &["io"]);
        assert_eq!(o.verdict, Verdict::Inconclusive, "{}", o.reason);
        assert!(o.reason.contains("within noise"), "{}", o.reason);
    }

    #[test]
    fn faster_depends_when_frameworks_disagree() {
        // Best Node.js far ahead of the best Python; the typical Node.js behind the typical Python.
        let fx = langs()
            .target("node-c", "node")
            .target("python-c", "python")
            .rps("node-a", "io", &[9000.0])
            .rps("node-b", "io", &[2000.0])
            .rps("node-c", "io", &[1900.0])
            .rps("python-a", "io", &[4000.0])
            .rps("python-b", "io", &[3000.0])
            .rps("python-c", "io", &[1000.0]);
        let o = run_rule(&fx, faster_rps(), &["io"]);
        assert_eq!(o.verdict, Verdict::Depends, "{}", o.reason);
        assert!(
            o.reason.contains("best node-a/python-a 2.25×")
                && o.reason.contains("typical node-b/python-b 0.667×"),
            "{}",
            o.reason
        );
        // One figure a side: decided, but indicative.
        assert!(o.indicative && o.codes.contains(&ReasonCode::OneRepeat));
    }

    #[test]
    fn the_claims_words_set_the_minimum_effect() {
        // A clean 1.18×: "faster" (1.2×) is not shown by a clean 1.18×: the right direction, a
        // smaller size (partly); "exceptionally" (2×) neither.
        let fx = langs()
            .rps("node-a", "io", &[1175.0, 1180.0, 1185.0])
            .rps("node-b", "io", &[1175.0, 1180.0, 1185.0])
            .rps("python-a", "io", &[995.0, 1000.0, 1005.0])
            .rps("python-b", "io", &[995.0, 1000.0, 1005.0]);
        let with = |e: f64| {
            evaluate_with(
                &faster_rps(),
                &sel(&["io"]),
                &fx.0,
                &Catalogue::builtin(),
                Params {
                    min_effect: e,
                    margin: 0.25,
                },
            )
        };
        let o = with(2.0);
        assert_eq!(o.verdict, Verdict::Partly, "{}", o.reason);
        assert!(
            o.reason.contains("below the minimum effect (needs ≥ 2×)"),
            "{}",
            o.reason
        );
        assert_eq!(with(1.2).verdict, Verdict::Partly);
        assert_eq!(with(1.1).verdict, Verdict::Supported);
    }

    #[test]
    fn a_4_percent_gap_with_13_percent_spread_is_inconclusive() {
        // The I/O verdicts of issue 14: Express vs FastAPI 4% apart, 3 repeats with 13% spread.
        let rel = [0.935, 1.0, 1.065];
        let v = |m: f64| rel.iter().map(|f| m * f).collect::<Vec<f64>>();
        let fx = Fx::new()
            .target("node-express", "node")
            .target("python-fastapi", "python")
            .rps("node-express", "io", &v(3016.0))
            .rps("python-fastapi", "io", &v(2900.0));
        let o = run_rule(&fx, faster_rps(), &["io"]);
        assert_eq!(o.verdict, Verdict::Inconclusive, "{}", o.reason);
        assert!(!o.indicative);
    }

    #[test]
    fn a_tie_within_the_margin_is_equivalent() {
        let rule = RuleSpec::Equivalent {
            subject: sel(&["node"]),
            compared: sel(&["python"]),
            metrics: vec![Metric::ColdStartMs],
        };
        let fx = starts(
            langs(),
            [
                ("node-a", 100.0, 40.0),
                ("node-b", 105.0, 40.0),
                ("python-a", 110.0, 40.0),
                ("python-b", 112.0, 40.0),
            ],
        );
        let o = run_rule(&fx, rule.clone(), &["cold-start"]);
        assert_eq!(o.verdict, Verdict::Equivalent, "{}", o.reason);
        assert!(o.reason.starts_with("cold_start_ms: "), "{}", o.reason);
        // Three times slower: different beyond the margin, the tie is refuted.
        let fx = starts(
            langs(),
            [
                ("node-a", 100.0, 40.0),
                ("node-b", 110.0, 40.0),
                ("python-a", 300.0, 40.0),
                ("python-b", 330.0, 40.0),
            ],
        );
        assert_eq!(
            run_rule(&fx, rule.clone(), &["cold-start"]).verdict,
            Verdict::Refuted
        );
        // 1.2× apart with repeats from 1.0 to 1.05: part of the interval beyond 1.25: inconclusive.
        let fx = starts(
            langs(),
            [
                ("node-a", 100.0, 40.0),
                ("node-b", 100.0, 40.0),
                ("python-a", 120.0, 40.0),
                ("python-b", 120.0, 40.0),
            ],
        );
        assert_eq!(
            run_rule(&fx, rule, &["cold-start"]).verdict,
            Verdict::Inconclusive
        );
    }

    #[test]
    fn faster_lower_is_better_for_cpu_per_request() {
        let rule = RuleSpec::Faster {
            better: sel(&["node"]),
            than: sel(&["python"]),
            metric: Metric::ServerCpuUsPerReq,
            context: vec![],
        };
        let fx = langs()
            .cpu_per_req("node-a", "json", &[50.0, 52.0])
            .cpu_per_req("node-b", "json", &[70.0])
            .cpu_per_req("python-a", "json", &[150.0])
            .cpu_per_req("python-b", "json", &[300.0]);
        let o = run_rule(&fx, rule, &["json"]);
        assert_eq!(o.verdict, Verdict::Supported, "{}", o.reason);
        // Lower is better: the ratio is oriented compared / subject.
        assert!(
            o.reason.contains("best python-a/node-a 2.94×"),
            "{}",
            o.reason
        );
        assert!(o.reason.contains("pairs: 4 hold"), "{}", o.reason);
    }

    #[test]
    fn flagged_and_failed_cells_never_count_and_missing_ones_give_the_lab_command() {
        let fx = langs()
            .cell("node-a", "io", |c| {
                c.set("throughput_rps", Spread::of(&[9000.0]));
                c.warnings.push("spread 14% > 10%".into());
            })
            .cell("node-b", "io", |c| {
                c.set("throughput_rps", Spread::of(&[100.0]));
                c.status = CellStatus::Flagged("12 wrong bodies".into());
            })
            .rps("python-a", "io", &[4000.0])
            .per_target("python-b", |t| {
                t.failure = Some("pip install failed".into())
            });
        let o = run_rule(&fx, faster_rps(), &["io"]);
        // node-b's 100 req/s would have made it "depends"; flagged, it does not count.
        assert_eq!(o.verdict, Verdict::Supported, "{}", o.reason);
        let na = o.measured.iter().find(|m| m.target == "node-a").unwrap();
        assert_eq!(na.note.as_deref(), Some("lab warnings: spread 14% > 10%"));
        let nb = o.measured.iter().find(|m| m.target == "node-b").unwrap();
        assert!(!nb.evidence && nb.note.as_deref().unwrap().contains("flagged"));
        let pb = o.measured.iter().find(|m| m.target == "python-b").unwrap();
        assert!(!pb.evidence && pb.note.as_deref().unwrap().contains("target failed"));
        assert_eq!(
            o.missing.lab_command().unwrap(),
            "stackwise lab --targets node-b,python-b --workloads io"
        );
        assert!(
            o.reason.contains("not measured: node-b, python-b"),
            "{}",
            o.reason
        );

        // No Python target at all in the run: no verdict, and the lab's Python targets to run.
        let fx = Fx::new()
            .target("node-a", "node")
            .rps("node-a", "io", &[9000.0]);
        let o = run_rule(&fx, faster_rps(), &["io"]);
        assert_eq!(o.verdict, Verdict::NotMeasured);
        assert_eq!(
            o.missing.lab_command().unwrap(),
            "stackwise lab --targets python-django,python-fastapi,python-flask-gthread,python-flask-sync --workloads io"
        );
    }

    #[test]
    fn lower_bounds_only_count_where_they_settle_the_question() {
        // node-a is a lower bound above python: still better (its true figure is higher still).
        let fx = langs()
            .cell("node-a", "io", |c| {
                c.set("throughput_rps", Spread::of(&[9000.0]));
                c.lower_bound = true;
            })
            .rps("node-b", "io", &[8000.0])
            .rps("python-b", "io", &[1000.0])
            .rps("python-a", "io", &[3000.0]);
        let o = run_rule(&fx, faster_rps(), &["io"]);
        assert_eq!(o.verdict, Verdict::Supported, "{}", o.reason);
        assert!(!o.codes.contains(&ReasonCode::LowerBound));
        // python-a, the best Python, a lower bound: its true figure could close the gap: undecided.
        let fx = langs()
            .rps("node-a", "io", &[9000.0])
            .rps("node-b", "io", &[8000.0])
            .rps("python-b", "io", &[1000.0])
            .cell("python-a", "io", |c| {
                c.set("throughput_rps", Spread::of(&[3000.0]));
                c.lower_bound = true;
            });
        let o = run_rule(&fx, faster_rps(), &["io"]);
        assert_eq!(o.verdict, Verdict::NotMeasured, "{}", o.reason);
        assert!(o.codes.contains(&ReasonCode::LowerBound), "{:?}", o.codes);
        assert!(o.reason.contains("undecided (lower bound)"), "{}", o.reason);
        // The workload's own ceiling (connections × 1000 / ms) makes a figure a lower bound.
        let fx = langs().cell("node-a", "io", |c| {
            c.set("throughput_rps", Spread::of(&[6350.0]));
            c.params.insert("connections".into(), "64".into());
            c.params.insert("ms".into(), "10".into());
        });
        let o = run_rule(&fx, faster_rps(), &["io"]);
        let na = o.measured.iter().find(|m| m.target == "node-a").unwrap();
        assert!(na.lower_bound, "{na:?}");
        assert!(
            na.note.as_deref().unwrap().contains("6,400 req/s"),
            "{na:?}"
        );
    }

    #[test]
    fn several_workloads_combine_into_partly() {
        let rule = RuleSpec::Faster {
            better: sel(&["python"]),
            than: sel(&["node"]),
            metric: Metric::ThroughputRps,
            context: vec![],
        };
        let fx = langs()
            .rps("node-a", "cpu", &[900.0])
            .rps("node-b", "cpu", &[800.0])
            .rps("python-a", "cpu", &[90.0])
            .rps("python-b", "cpu", &[80.0])
            .rps("node-a", "hash", &[500.0])
            .rps("node-b", "hash", &[400.0])
            .rps("python-a", "hash", &[600.0])
            .rps("python-b", "hash", &[700.0]);
        let o = run_rule(&fx, rule.clone(), &["cpu", "hash"]);
        assert_eq!(o.verdict, Verdict::Partly, "{}", o.reason);
        assert_eq!(o.parts.len(), 2);
        assert_eq!(o.parts[0].verdict, Verdict::Refuted);
        assert_eq!(o.parts[1].verdict, Verdict::Supported);
        // One repeat each: both parts indicative.
        assert_eq!(
            o.reason,
            "cpu: refuted (indicative); hash: supported (indicative)"
        );
        // One workload missing: judged on the other, and the command names the missing one.
        let fx = langs()
            .rps("node-a", "cpu", &[900.0])
            .rps("node-b", "cpu", &[800.0])
            .rps("python-a", "cpu", &[90.0])
            .rps("python-b", "cpu", &[80.0]);
        let o = run_rule(&fx, rule, &["cpu", "hash"]);
        assert_eq!(o.verdict, Verdict::Refuted, "{}", o.reason);
        assert!(o
            .missing
            .lab_command()
            .unwrap()
            .ends_with("--workloads hash"));
    }

    fn node_range() -> RuleSpec {
        RuleSpec::Range {
            group: sel(&["node"]),
            metric: Metric::ThroughputRps,
            min: 15000.0,
            max: 20000.0,
            baseline: None,
        }
    }

    #[test]
    fn range_supported_refuted_depends() {
        let fx = langs()
            .rps("node-a", "io", &[14000.0, 15500.0])
            .rps("node-b", "io", &[19000.0]);
        let o = run_rule(&fx, node_range(), &["io"]);
        assert_eq!(o.verdict, Verdict::Supported, "{}", o.reason);
        assert!(
            o.reason
                .contains("2 of 2 node frameworks within 15,000–20,000 req/s"),
            "{}",
            o.reason
        );

        let fx = langs()
            .rps("node-a", "io", &[6000.0])
            .rps("node-b", "io", &[25000.0]);
        let o = run_rule(&fx, node_range(), &["io"]);
        assert_eq!(o.verdict, Verdict::Refuted, "{}", o.reason);
        let fx2 = langs()
            .rps("node-a", "io", &[6000.0])
            .rps("node-b", "io", &[4000.0]);
        let o2 = run_rule(&fx2, node_range(), &["io"]);
        assert!(
            o2.reason
                .contains("the fastest would need about 3 server CPUs for 15,000"),
            "{}",
            o2.reason
        );
        assert!(o.reason.contains("1 below, 1 above"), "{}", o.reason);

        let fx = langs()
            .rps("node-a", "io", &[6000.0])
            .rps("node-b", "io", &[16000.0]);
        assert_eq!(
            run_rule(&fx, node_range(), &["io"]).verdict,
            Verdict::Depends
        );

        // Per-core figures: two server CPUs halve them.
        let mut fx = langs()
            .rps("node-a", "io", &[30000.0])
            .rps("node-b", "io", &[32000.0]);
        fx.0.machine.server_cpus = vec![2, 3];
        let o = run_rule(&fx, node_range(), &["io"]);
        assert_eq!(o.verdict, Verdict::Refuted);
        assert!(
            o.reason
                .contains("on 2 server CPUs (per core 15,000–16,000)"),
            "{}",
            o.reason
        );

        // A lower bound below the range cannot refute it.
        let fx = langs().cell("node-a", "io", |c| {
            c.set("throughput_rps", Spread::of(&[6000.0]));
            c.lower_bound = true;
        });
        let o = run_rule(&fx, node_range(), &["io"]);
        assert_eq!(o.verdict, Verdict::NotMeasured, "{}", o.reason);

        let o = run_rule(&Fx::new(), node_range(), &["io"]);
        assert_eq!(o.verdict, Verdict::NotMeasured);
        assert!(o.missing.lab_command().unwrap().contains("node-http"));
    }

    fn ratio_rule() -> RuleSpec {
        RuleSpec::Ratio {
            numerator: sel(&["node"]),
            denominator: sel(&["python"]),
            metric: Metric::P50Ms,
            min: 0.4,
            max: 0.5,
        }
    }

    #[test]
    fn ratio_supported_partly_refuted_depends() {
        let fx = langs()
            .p50("node-a", "io", &[11.0])
            .p50("node-b", "io", &[12.0])
            .p50("python-a", "io", &[25.0])
            .p50("python-b", "io", &[26.0]);
        let o = run_rule(&fx, ratio_rule(), &["io"]);
        assert_eq!(o.verdict, Verdict::Supported, "{}", o.reason);

        // A reduction, but much bigger than claimed: partly.
        let fx = langs()
            .p50("node-a", "io", &[11.0])
            .p50("node-b", "io", &[12.0])
            .p50("python-a", "io", &[100.0])
            .p50("python-b", "io", &[90.0]);
        let o = run_rule(&fx, ratio_rule(), &["io"]);
        assert_eq!(o.verdict, Verdict::Partly, "{}", o.reason);
        assert!(
            o.reason
                .starts_with("io: node / python p50_ms ratio 0.4–0.5 claimed; ")
                && o.reason.contains("the claimed direction, another size"),
            "{}",
            o.reason
        );

        // No reduction at all: refuted.
        let fx = langs()
            .p50("node-a", "io", &[11.0])
            .p50("node-b", "io", &[12.0])
            .p50("python-a", "io", &[11.0])
            .p50("python-b", "io", &[10.0]);
        assert_eq!(
            run_rule(&fx, ratio_rule(), &["io"]).verdict,
            Verdict::Refuted
        );

        // The best frameworks as claimed, the typical ones not at all: depends.
        let fx = langs()
            .target("node-c", "node")
            .target("python-c", "python")
            .p50("node-a", "io", &[10.0])
            .p50("node-b", "io", &[30.0])
            .p50("node-c", "io", &[31.0])
            .p50("python-a", "io", &[25.0])
            .p50("python-b", "io", &[26.0])
            .p50("python-c", "io", &[27.0]);
        assert_eq!(
            run_rule(&fx, ratio_rule(), &["io"]).verdict,
            Verdict::Depends
        );
        // Straddling a bound of the range: inconclusive.
        let fx = langs()
            .p50("node-a", "io", &[11.0, 13.0])
            .p50("node-b", "io", &[11.0, 13.0])
            .p50("python-a", "io", &[25.0, 26.0])
            .p50("python-b", "io", &[25.0, 26.0]);
        assert_eq!(
            run_rule(&fx, ratio_rule(), &["io"]).verdict,
            Verdict::Inconclusive
        );

        assert_eq!(
            run_rule(&langs(), ratio_rule(), &["io"]).verdict,
            Verdict::NotMeasured
        );
    }

    fn lighter_rule(metrics: &[Metric]) -> RuleSpec {
        RuleSpec::Lighter {
            better: sel(&["node"]),
            than: sel(&["python"]),
            metrics: metrics.to_vec(),
        }
    }

    fn starts(fx: Fx, v: [(&str, f64, f64); 4]) -> Fx {
        v.into_iter().fold(fx, |fx, (t, cold, mem)| {
            fx.per_target(t, |t| {
                t.set("cold_start_ms", Spread::of(&[cold, cold * 1.05]));
                t.set("idle_pss_mb", Spread::of(&[mem]));
            })
        })
    }

    #[test]
    fn lighter_supported_refuted_depends_partly() {
        let both = [Metric::ColdStartMs, Metric::IdlePssMb];
        let fx = starts(
            langs(),
            [
                ("node-a", 40.0, 45.0),
                ("node-b", 60.0, 50.0),
                ("python-a", 300.0, 60.0),
                ("python-b", 500.0, 90.0),
            ],
        );
        let o = run_rule(&fx, lighter_rule(&both), &["cold-start"]);
        assert_eq!(o.verdict, Verdict::Supported, "{}", o.reason);
        // Idle memory is one figure per target (no repeats): indicative.
        assert_eq!(
            o.reason,
            "cold_start_ms: supported; idle_pss_mb: supported (indicative)"
        );
        assert!(o.indicative);

        let fx = starts(
            langs(),
            [
                ("node-a", 400.0, 10.0),
                ("node-b", 600.0, 12.0),
                ("python-a", 300.0, 30.0),
                ("python-b", 200.0, 20.0),
            ],
        );
        let o = run_rule(&fx, lighter_rule(&both), &["cold-start"]);
        assert_eq!(o.verdict, Verdict::Partly, "{}", o.reason);
        assert_eq!(
            run_rule(&fx, lighter_rule(&[Metric::ColdStartMs]), &["cold-start"]).verdict,
            Verdict::Refuted
        );

        let fx = starts(
            langs(),
            [
                ("node-a", 40.0, 45.0),
                ("node-b", 600.0, 50.0),
                ("python-a", 300.0, 60.0),
                ("python-b", 500.0, 90.0),
            ],
        );
        // Two frameworks a side this far apart (40 and 600 ms): the typical reading pools them and
        // cannot tell; the best one can. Not a disagreement beyond noise: inconclusive.
        assert_eq!(
            run_rule(&fx, lighter_rule(&[Metric::ColdStartMs]), &["cold-start"]).verdict,
            Verdict::Inconclusive
        );
        let o = run_rule(
            &langs(),
            lighter_rule(&[Metric::InstallBytes]),
            &["cold-start"],
        );
        assert_eq!(o.verdict, Verdict::NotMeasured);
        // Cold starts come with every target the lab runs: the cheapest workload brings them.
        assert!(o
            .missing
            .lab_command()
            .unwrap()
            .ends_with("--workloads json"));
    }

    fn blocking_rule() -> RuleSpec {
        RuleSpec::LoopBlocking {
            group: sel(&["node"]),
            share: 0.5,
            context: sel(&["python"]),
            workload: "mixed".into(),
            beside: None,
        }
    }

    /// A `mixed-time` cell: per repeat `[alone, with heavy]` p99s, its own heavy request's CPU time.
    fn mixed_time(fx: Fx, target: &str, pairs: &[(f64, f64)], heavy_ms: f64) -> Fx {
        fx.cell(target, "mixed-time", |c| {
            let with: Vec<f64> = pairs.iter().map(|p| p.1).collect();
            c.set("p99_ms", Spread::of(&with));
            c.set("heavy_cpu_ms", Spread::of(&[heavy_ms]));
            c.set("heavy_n", Spread::of(&[30_000_000.0]));
            c.params.insert("ms".into(), "10".into());
            c.params.insert("heavy_n".into(), "calibrated".into());
            for (alone, with) in pairs {
                for p99 in [*alone, *with] {
                    c.ladder.push(store::LadderPoint {
                        offered_rps: 100.0,
                        achieved_rps: 100.0,
                        p50_ms: 10.2,
                        p99_ms: p99,
                        errors: 0,
                        server_cores: None,
                    });
                }
            }
        })
    }

    #[test]
    fn loop_blocking_is_decided_on_mixed_time_with_mixed_beside() {
        let rule = RuleSpec::LoopBlocking {
            group: sel(&["node"]),
            share: 0.5,
            context: sel(&["python"]),
            workload: "mixed-time".into(),
            beside: Some("mixed".into()),
        };
        let w = &["mixed-time", "mixed", "cpu"];
        // Equal time: 50 ms heavy requests, /io p99 rises ~40 ms over 11 ms alone → blocked.
        // Equal work: the same n costs node 1.2 ms, /io p99 12.5 ms over a 10 ms delay... clear
        // by the old reading is shown beside, not counted.
        let fx = mixed_time(langs(), "node-a", &[(11.0, 50.0), (11.5, 55.0)], 50.0);
        let fx = mixed_time(fx, "node-b", &[(11.0, 45.0), (11.2, 48.0)], 49.0)
            .mixed("node-a", &[10.3, 10.4], 1.2)
            .mixed("node-b", &[10.2, 10.5], 1.2);
        let o = run_rule(&fx, rule.clone(), w);
        assert_eq!(o.verdict, Verdict::Supported, "{}", o.reason);
        assert!(
            o.reason
                .starts_with("mixed-time: 2 of 2 node targets blocked"),
            "{}",
            o.reason
        );
        assert!(
            o.reason.contains("beside it, not counted, mixed (equal work, the same /cpu?n for every target): node-a clear, node-b clear"),
            "{}",
            o.reason
        );
        let na = o
            .measured
            .iter()
            .find(|m| m.target == "node-a" && m.workload == "mixed-time")
            .unwrap();
        assert!(
            na.note.as_deref().unwrap().contains(
                "blocked: /io p99 − 11.2 ms (its /io p99 alone, measured in the same repeats before the heavy requests) = 38.8–43.8 ms; one heavy /cpu (n = 30,000,000) takes 50 ms of CPU"
            ),
            "{na:?}"
        );
        // The beside figures are shown, never evidence.
        assert!(o
            .measured
            .iter()
            .filter(|m| m.workload == "mixed")
            .all(|m| !m.evidence && m.side == Side::Context));
        // A remedy that moves the heavy work off the loop: clear on the same rule → refuted.
        let fx = mixed_time(langs(), "node-a", &[(11.0, 12.0), (11.5, 12.5)], 50.0);
        let o = run_rule(&fx, rule.clone(), w);
        assert_eq!(o.verdict, Verdict::Refuted, "{}", o.reason);
        assert!(
            o.reason.contains(
                "beside it, mixed (equal work, the same /cpu?n for every target): not measured"
            ),
            "{}",
            o.reason
        );
        // Repeats on both sides of 25 ms: inconclusive.
        let fx = mixed_time(langs(), "node-a", &[(11.0, 20.0), (11.0, 60.0)], 50.0);
        assert_eq!(
            run_rule(&fx, rule.clone(), w).verdict,
            Verdict::Inconclusive
        );
        // A mixed-time cell without its heavy request's CPU time is not judged (no cpu-cell
        // fallback: its n differs per target).
        let fx = langs().cell("node-a", "mixed-time", |c| {
            c.set("p99_ms", Spread::of(&[50.0]));
            c.params.insert("ms".into(), "10".into());
        });
        let o = run_rule(&fx, rule, w);
        assert_eq!(o.verdict, Verdict::NotMeasured, "{}", o.reason);
        let na = o.measured.iter().find(|m| m.target == "node-a").unwrap();
        assert!(
            na.note.as_deref().unwrap().contains("`heavy_cpu_ms`"),
            "{na:?}"
        );
    }

    #[test]
    fn loop_blocking_supported_refuted_depends() {
        let w = &["mixed", "cpu"];
        // Node: heavy requests of 2.5 ms; /io p99 12.5–13 ms over a 10 ms delay: it waited.
        // Python: heavy requests of 80 ms, /io p99 14 ms: other workers served /io.
        let fx = langs()
            .mixed("node-a", &[12.5, 13.0], 2.5)
            .mixed("node-b", &[30.0, 32.0], 25.0)
            .mixed("python-a", &[14.0, 15.0], 80.0);
        let o = run_rule(&fx, blocking_rule(), w);
        assert_eq!(o.verdict, Verdict::Supported, "{}", o.reason);
        assert!(
            o.reason.contains("2 of 2 node targets blocked"),
            "{}",
            o.reason
        );
        assert!(o.reason.contains("context: python-a clear"), "{}", o.reason);
        let na = o.measured.iter().find(|m| m.target == "node-a").unwrap();
        assert!(
            na.note.as_deref().unwrap().contains(
                "blocked: /io p99 − 10 ms delay = 2.5–3 ms; one heavy /cpu takes 2.5 ms of CPU"
            ),
            "{na:?}"
        );
        // With an io-slo ladder, the baseline is the target's own /io p99 at the lowest rate at or
        // above the mixed /io rate (100 req/s) that it achieved.
        let fx = langs()
            .mixed("node-a", &[14.0, 14.5], 2.5)
            .cell("node-a", "io-slo", |c| {
                for (rate, achieved, p99) in [
                    (50.0, 50.0, 10.5),
                    (120.0, 90.0, 11.0),
                    (150.0, 150.0, 12.5),
                    (400.0, 400.0, 30.0),
                ] {
                    c.ladder.push(store::LadderPoint {
                        offered_rps: rate,
                        achieved_rps: achieved,
                        p50_ms: 10.2,
                        p99_ms: p99,
                        errors: 0,
                        server_cores: None,
                    });
                }
            });
        let o = run_rule(&fx, blocking_rule(), w);
        let na = o.measured.iter().find(|m| m.target == "node-a").unwrap();
        assert!(
            na.note.as_deref().unwrap().contains(
                "blocked: /io p99 − 12.5 ms (its io-slo p99 at 150 req/s without heavy requests) = 1.5–2 ms"
            ),
            "{na:?}"
        );
        // The mixed cell's own baseline comes first: its ladder holds [alone, with heavy] per
        // repeat, and the median of the "alone" p99s (11.5 ms here) beats the io-slo rung.
        let fx = langs()
            .cell("node-a", "mixed", |c| {
                c.set("p99_ms", Spread::of(&[14.0, 14.5]));
                c.params.insert("ms".into(), "10".into());
                c.params
                    .insert("heavy_path".into(), "/cpu?n=1000000".into());
                c.params.insert("io_rate_rps".into(), "100".into());
                for (alone, with) in [(11.0, 14.0), (12.0, 14.5)] {
                    for p99 in [alone, with] {
                        c.ladder.push(store::LadderPoint {
                            offered_rps: 100.0,
                            achieved_rps: 100.0,
                            p50_ms: 10.2,
                            p99_ms: p99,
                            errors: 0,
                            server_cores: None,
                        });
                    }
                }
            })
            .cell("node-a", "cpu", |c| {
                c.set("server_cpu_us_per_req", Spread::of(&[250.0]));
                c.params.insert("n".into(), "100000".into());
            });
        let o = run_rule(&fx, blocking_rule(), w);
        let na = o.measured.iter().find(|m| m.target == "node-a").unwrap();
        assert!(
            na.note.as_deref().unwrap().contains(
                "blocked: /io p99 − 11.5 ms (its /io p99 alone, measured in the same repeats before the heavy requests) = 2.5–3 ms"
            ),
            "{na:?}"
        );
        // A rise far beyond what the heavy requests explain, with no baseline: not judged, and the
        // command adds the io-slo ladder that gives one.
        let fx = langs().mixed("node-a", &[50.0], 1.2);
        let o = run_rule(&fx, blocking_rule(), w);
        assert_eq!(o.verdict, Verdict::NotMeasured, "{}", o.reason);
        let na = o.measured.iter().find(|m| m.target == "node-a").unwrap();
        assert!(
            na.note
                .as_deref()
                .unwrap()
                .contains("more than blocking explains"),
            "{na:?}"
        );
        assert!(o
            .missing
            .lab_command()
            .unwrap()
            .ends_with("--workloads cpu,io-slo,mixed"));

        let fx = langs()
            .mixed("node-a", &[10.5, 11.0], 20.0)
            .mixed("node-b", &[12.0], 20.0);
        assert_eq!(run_rule(&fx, blocking_rule(), w).verdict, Verdict::Refuted);

        let fx = langs()
            .mixed("node-a", &[40.0], 20.0)
            .mixed("node-b", &[11.0], 20.0);
        let o = run_rule(&fx, blocking_rule(), w);
        assert_eq!(o.verdict, Verdict::Depends, "{}", o.reason);
        assert!(o.reason.contains("(node-b clear)"), "{}", o.reason);

        // Repeats on both sides of the threshold: within noise.
        let fx = langs().mixed("node-a", &[15.0, 25.0], 20.0);
        assert_eq!(
            run_rule(&fx, blocking_rule(), w).verdict,
            Verdict::Inconclusive
        );

        // One target clear and one straddling: not refuted, and not "depends" either (nothing
        // disagrees beyond noise): inconclusive.
        let fx = langs()
            .mixed("node-a", &[10.5, 11.0], 20.0)
            .mixed("node-b", &[15.0, 25.0], 20.0);
        let o = run_rule(&fx, blocking_rule(), w);
        assert_eq!(o.verdict, Verdict::Inconclusive, "{}", o.reason);

        // Without the cpu cell the heavy request has no price: not judged, and the command says so.
        let fx = langs().cell("node-a", "mixed", |c| {
            c.set("p99_ms", Spread::of(&[200.0]));
            c.params.insert("ms".into(), "10".into());
            c.params
                .insert("heavy_path".into(), "/cpu?n=1000000".into());
        });
        let o = run_rule(&fx, blocking_rule(), w);
        assert_eq!(o.verdict, Verdict::NotMeasured, "{}", o.reason);
        assert_eq!(
            o.missing.lab_command().unwrap(),
            "stackwise lab --targets node-a,node-b --workloads cpu,mixed"
        );
    }
}
