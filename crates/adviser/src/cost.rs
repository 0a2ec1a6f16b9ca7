//! The cost model: CPU cores (and their monthly price) each stack needs to serve the profile's peak
//! load under its p99 target, read from measured open-loop ladders in a lab run
//! ([`store::RunSummary`]); memory only where a measurement supports it. Nothing here is cited or
//! invented: without a measurement the model names the lab command to run and gives no number.
//!
//! Reading a ladder ([`capacity_at`]): rungs sorted by offered rate; a rung meets the target when its
//! corrected p99 ≤ the target, it had no errors and it achieved ≥ 97% of the offered rate (the lab's
//! own pass rule). Capacity is interpolated linearly (in p99)
//! between the last rung that meets the target and the first that does not, using achieved rates.
//! If every rung meets it, capacity is only known to be at least the highest achieved rate (no
//! extrapolation); if the first rung already misses it, no figure is given. A capacity that is only
//! a lower bound set by the measured range gives no monthly cost ("not measured high enough", with
//! the command), unless even the bound fits the load on one core (the fewest one can provision).
//!
//! A `mixed` data flow is priced from the `mixed-slo` workload (the mixed traffic pattern as an
//! open-loop ladder, like `io-slo`). Without a `mixed-slo` cell the low-rate `mixed` test (one
//! open-loop rate, the loop-blocking test) is read as a single rung: it can only give a lower bound,
//! so it never gives a monthly cost.
//!
//! Total cost of ownership ([`tco`]) comes only from the user's own figures: monthly TCO =
//! infrastructure (measured) + hires × cost per engineer-year ÷ 12 + switchers × months to fluency ×
//! cost per engineer-year ÷ 12 ÷ horizon, plus, for a hybrid, the profile's cost of running two
//! stacks.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use store::{CellStatus, CellSummary, LadderPoint, RunSummary};

use workloads::format::{amount, count, num, usd};

use crate::profile::{DataFlow, Profile};
use crate::rules::Choice;

/// Hours in the month used for monthly prices.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// A rung whose achieved rate is under this share of the offered rate missed it (the registry's
/// trust constant, the one the lab's capacity search applies).
pub const ACHIEVED_SHARE: f64 = workloads::trust::MIN_ACHIEVED_SHARE;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Cost {
    pub hours_per_month: f64,
    /// The run the figures come from; `None` without measurements.
    pub run: Option<RunRef>,
    pub assumptions: Vec<String>,
    /// Each stack serving the whole peak load, per workload that matches the data flow.
    pub stacks: Vec<StackEstimate>,
    /// For a hybrid: each stack sized for its own share of the load.
    pub hybrid: Vec<StackEstimate>,
    /// For a hybrid: the typical targets' parts added up, per kind of Python work.
    pub hybrid_totals: Vec<HybridTotal>,
    pub memory: MemoryEstimate,
    /// Measurements that are missing, with the lab command that would supply them.
    pub missing: Vec<Missing>,
    /// Team costs: only from the user's own inputs.
    pub team: String,
    /// Total cost of ownership per option, from the user's own figures.
    pub tco: Tco,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Tco {
    pub horizon_months: f64,
    /// How the total is computed, with the profile's figures.
    pub formula: String,
    pub options: Vec<TcoOption>,
    /// Which side dominates, per option, and at what peak load infrastructure would.
    pub findings: Vec<String>,
    /// Why some or all of it is not priced.
    pub not_priced: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TcoOption {
    pub option: Choice,
    /// Measured infrastructure per month (typical target), when a figure exists.
    pub infra_monthly_usd: Option<f64>,
    pub infra_source: String,
    pub hires: Option<u32>,
    pub hires_monthly_usd: Option<f64>,
    /// Engineers who must switch language for this option.
    pub switchers: u32,
    pub switching_monthly_usd: Option<f64>,
    /// For a hybrid: the profile's monthly cost of running two stacks.
    pub two_stacks_monthly_usd: Option<f64>,
    /// The sum, when every part is priced.
    pub total_monthly_usd: Option<f64>,
    /// Parts not priced, naming the key that would price them.
    pub not_priced: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunRef {
    pub run_id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Where the run was read from: the store, or a JSON file.
    pub source: String,
    pub cpu_model: String,
    pub server_cpus: Vec<usize>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StackEstimate {
    /// `node` or `python`.
    pub stack: Choice,
    /// For a hybrid: the services this part runs.
    pub service: Option<String>,
    /// Requests per second this part must serve at the peak (`None` when unknown).
    pub required_rps: Option<f64>,
    pub workload: String,
    /// `in-language` (cpu-slo) or `native` (hash-slo) for compute workloads.
    pub variant: Option<String>,
    /// Measured targets of this stack, best first.
    pub targets: Vec<TargetEstimate>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CapacityKind {
    /// Between two measured rungs.
    Interpolated,
    /// At a measured rung (the next one failed with errors or did not rise).
    AtRung,
    /// Every rung met the target: capacity is at least this.
    LowerBound,
    /// The lowest measured rate already missed the target: no figure.
    Unattainable,
    /// No ladder in the cell.
    NoLadder,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CapacityReading {
    pub kind: CapacityKind,
    /// Requests per second served within the p99 target, over all server CPUs.
    pub rps: Option<f64>,
    /// The rungs the reading lies between (or at).
    pub rungs: Vec<LadderRung>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LadderRung {
    pub offered_rps: f64,
    pub achieved_rps: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Bound {
    /// An estimate from an interpolated or measured capacity.
    Estimate,
    /// The capacity is only a lower bound set by the measured range: cores are at most the figure
    /// and no monthly cost is given ("not measured high enough").
    NotMeasuredHighEnough,
    /// No figure.
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TargetEstimate {
    pub target: String,
    pub framework: String,
    /// `best`, `typical` (median), both, or neither.
    pub roles: Vec<String>,
    /// Server CPUs the target had in the run.
    pub server_cpus: usize,
    /// Workload parameters of the measured cell (`ms`, `n`…).
    pub params: std::collections::BTreeMap<String, String>,
    pub capacity: CapacityReading,
    pub per_core_rps: Option<f64>,
    pub bound: Bound,
    pub cores_needed: Option<f64>,
    pub cores_with_headroom: Option<f64>,
    pub provisioned_cores: Option<u64>,
    pub monthly_usd: Option<f64>,
    /// The cell's own warnings, and why a figure is a bound.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HybridTotal {
    /// The Python part's workload and variant, e.g. `cpu-slo (in-language)`.
    pub python_workload: String,
    pub node_cores: u64,
    pub python_cores: u64,
    pub monthly_usd: f64,
    /// `at-most` when a part is an upper bound.
    pub bound: Bound,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MemoryEstimate {
    /// `measured`, `not-measured` or `no-price`.
    pub status: String,
    pub text: String,
    pub per_stack: Vec<MemoryLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MemoryLine {
    pub stack: Choice,
    pub target: String,
    pub mb_per_connection: f64,
    pub gb_total: f64,
    pub monthly_usd: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Missing {
    pub what: String,
    pub command: String,
}

/// The workloads whose capacity matches a data flow, with their variant label.
pub fn workloads_for(flow: DataFlow) -> Vec<(&'static str, Option<&'static str>)> {
    match flow {
        DataFlow::Io => vec![("io-slo", None)],
        DataFlow::Compute => vec![
            ("cpu-slo", Some("in-language")),
            ("hash-slo", Some("native")),
        ],
        DataFlow::Mixed => vec![("mixed-slo", None)],
        // A typical request reads and writes a database: the `/items` mix's capacity at the SLO.
        DataFlow::Crud => vec![("crud", None)],
    }
}

fn rung(p: &LadderPoint) -> LadderRung {
    LadderRung {
        offered_rps: p.offered_rps,
        achieved_rps: p.achieved_rps,
        p99_ms: p.p99_ms,
        errors: p.errors,
    }
}

/// Reads the capacity at a p99 target from a latency-vs-rate ladder (see the module doc).
pub fn capacity_at(ladder: &[LadderPoint], p99_target_ms: f64) -> CapacityReading {
    let mut pts: Vec<&LadderPoint> = ladder
        .iter()
        .filter(|p| p.offered_rps.is_finite() && p.achieved_rps.is_finite() && p.p99_ms.is_finite())
        .collect();
    pts.sort_by(|a, b| a.offered_rps.total_cmp(&b.offered_rps));
    let meets = |p: &LadderPoint| {
        p.errors == 0
            && p.p99_ms <= p99_target_ms
            && p.achieved_rps >= ACHIEVED_SHARE * p.offered_rps
    };
    let Some(first) = pts.first() else {
        return CapacityReading {
            kind: CapacityKind::NoLadder,
            rps: None,
            rungs: vec![],
            text: "no latency-vs-rate ladder in this cell".into(),
        };
    };
    if !meets(first) {
        let why = if first.errors > 0 {
            format!("{} errors", first.errors)
        } else if first.achieved_rps < ACHIEVED_SHARE * first.offered_rps {
            format!(
                "only {} of {} req/s achieved",
                num(first.achieved_rps),
                num(first.offered_rps)
            )
        } else {
            format!("p99 {} ms", num(first.p99_ms))
        };
        return CapacityReading {
            kind: CapacityKind::Unattainable,
            rps: None,
            rungs: vec![rung(first)],
            text: format!(
                "the lowest measured rate ({} req/s) already missed p99 ≤ {} ms ({why}); no figure below the measured range",
                num(first.achieved_rps),
                num(p99_target_ms)
            ),
        };
    }
    let Some(i) = pts.iter().position(|p| !meets(p)) else {
        let last = pts[pts.len() - 1];
        return CapacityReading {
            kind: CapacityKind::LowerBound,
            rps: Some(last.achieved_rps),
            rungs: vec![rung(last)],
            text: format!(
                "p99 stayed ≤ {} ms up to the highest measured rate ({} req/s, p99 {} ms): capacity is at least that; not extrapolated",
                num(p99_target_ms),
                num(last.achieved_rps),
                num(last.p99_ms)
            ),
        };
    };
    let (lo, hi) = (pts[i - 1], pts[i]);
    if hi.errors > 0
        || hi.p99_ms <= lo.p99_ms
        || hi.achieved_rps <= lo.achieved_rps
        || hi.achieved_rps < ACHIEVED_SHARE * hi.offered_rps
    {
        let why = if hi.errors > 0 {
            format!("{} errors", hi.errors)
        } else if hi.achieved_rps < ACHIEVED_SHARE * hi.offered_rps {
            format!(
                "only {} of {} req/s achieved",
                num(hi.achieved_rps),
                num(hi.offered_rps)
            )
        } else {
            "no rise in achieved rate or p99 to interpolate along".to_string()
        };
        return CapacityReading {
            kind: CapacityKind::AtRung,
            rps: Some(lo.achieved_rps),
            rungs: vec![rung(lo), rung(hi)],
            text: format!(
                "{} req/s (p99 {} ms), the last rung within target; the next ({} req/s offered) missed it with {why}",
                num(lo.achieved_rps),
                num(lo.p99_ms),
                num(hi.offered_rps)
            ),
        };
    }
    let frac = (p99_target_ms - lo.p99_ms) / (hi.p99_ms - lo.p99_ms);
    let rps = lo.achieved_rps + frac * (hi.achieved_rps - lo.achieved_rps);
    CapacityReading {
        kind: CapacityKind::Interpolated,
        rps: Some(rps),
        rungs: vec![rung(lo), rung(hi)],
        text: format!(
            "{} req/s, interpolated between {} req/s (p99 {} ms) and {} req/s (p99 {} ms)",
            num(rps),
            num(lo.achieved_rps),
            num(lo.p99_ms),
            num(hi.achieved_rps),
            num(hi.p99_ms)
        ),
    }
}

fn lab_command(workload: &str) -> String {
    format!("stackwise lab --workloads {workload}")
}

/// Sizes each stack's measured targets for `rps` on one workload.
#[allow(clippy::too_many_arguments)]
fn estimate(
    run: &RunSummary,
    profile: &Profile,
    stack: Choice,
    service: Option<String>,
    rps: Option<f64>,
    workload: &str,
    variant: Option<&str>,
    missing: &mut Vec<Missing>,
) -> StackEstimate {
    let lang = stack.as_str();
    let mut targets = Vec::new();
    let mut skipped = Vec::new();
    for t in run.targets.iter().filter(|t| t.language == lang) {
        let Some(cell) = run.cell(&t.name, workload) else {
            continue;
        };
        match &cell.status {
            CellStatus::Ok => {}
            CellStatus::Flagged(why) => {
                skipped.push(format!("{} flagged ({why}), not used", t.name));
                continue;
            }
            CellStatus::Failed(why) => {
                skipped.push(format!("{} failed ({why})", t.name));
                continue;
            }
        }
        targets.push(size_target(run, profile, &t.framework, cell, rps));
    }
    // Best first; typical = the median (the lower middle for an even count: conservative).
    targets.sort_by(|a, b| {
        b.per_core_rps
            .unwrap_or(-1.0)
            .total_cmp(&a.per_core_rps.unwrap_or(-1.0))
            .then(a.target.cmp(&b.target))
    });
    if !targets.is_empty() {
        targets[0].roles.push("best".into());
        let mid = targets.len() / 2;
        targets[mid].roles.push("typical".into());
    }
    let mut note = None;
    if targets.is_empty() {
        let what = format!("{lang} capacity on {workload}");
        note = Some(format!(
            "no usable {workload} measurement for a {lang} target in run {}{}",
            run.run_id,
            if skipped.is_empty() {
                String::new()
            } else {
                format!(" ({})", skipped.join("; "))
            }
        ));
        missing.push(Missing {
            what,
            command: lab_command(workload),
        });
    } else if !skipped.is_empty() {
        note = Some(skipped.join("; "));
    }
    StackEstimate {
        stack,
        service,
        required_rps: rps,
        workload: workload.into(),
        variant: variant.map(str::to_string),
        targets,
        note,
    }
}

fn size_target(
    run: &RunSummary,
    profile: &Profile,
    framework: &str,
    cell: &CellSummary,
    rps: Option<f64>,
) -> TargetEstimate {
    let capacity = if cell.ladder.is_empty() {
        match single_rung(cell) {
            Some(point) => {
                let mut r = capacity_at(std::slice::from_ref(&point), profile.load.p99_ms);
                r.text = format!("one measured open-loop rate, not a ladder: {}", r.text);
                r
            }
            None => capacity_at(&[], profile.load.p99_ms),
        }
    } else {
        capacity_at(&cell.ladder, profile.load.p99_ms)
    };
    let cpus = run.machine.server_cpus.len();
    let mut warnings = cell.warnings.clone();
    let per_core = match (capacity.rps, cpus) {
        (Some(c), n) if n > 0 && c > 0.0 => Some(c / n as f64),
        (Some(_), 0) => {
            warnings.push("the run does not record its server CPUs: no per-core figure".into());
            None
        }
        _ => None,
    };
    let mut bound = match (capacity.kind, per_core) {
        (_, None) => Bound::None,
        (CapacityKind::LowerBound, _) => Bound::NotMeasuredHighEnough,
        _ => Bound::Estimate,
    };
    if cell.lower_bound && bound == Bound::Estimate {
        bound = Bound::NotMeasuredHighEnough;
        warnings.push(
            "the load engine or upstream was ≥ 90% busy: the capacity is a lower bound, the cores an upper bound"
                .into(),
        );
    }
    let h = profile.costs.headroom;
    let cores_needed = match (per_core, rps) {
        (Some(pc), Some(r)) => Some(r / pc),
        _ => None,
    };
    let with_headroom = cores_needed.map(|c| c / (1.0 - h));
    let provisioned = with_headroom.map(|c| (c - 1e-9).ceil().max(1.0) as u64);
    if bound == Bound::NotMeasuredHighEnough && provisioned == Some(1) {
        // Even the lower bound serves the load on one core, the fewest one provisions: exact.
        bound = Bound::Estimate;
        warnings.push(
            "capacity only known as a lower bound, but even that serves this load on one core (the fewest provisioned)"
                .into(),
        );
    }
    if bound == Bound::NotMeasuredHighEnough {
        warnings.push(format!(
            "not measured high enough: the measured range ends before this target's capacity at p99 ≤ {} ms, so no monthly cost is given; run `{}` with rates past {} req/s",
            num(profile.load.p99_ms),
            lab_command(&cell.workload),
            capacity.rps.map(num).unwrap_or_else(|| "?".into())
        ));
    }
    let monthly = provisioned
        .filter(|_| bound == Bound::Estimate)
        .map(|n| n as f64 * profile.costs.core_hour_usd * HOURS_PER_MONTH);
    TargetEstimate {
        target: cell.target.clone(),
        framework: framework.to_string(),
        roles: vec![],
        server_cpus: cpus,
        params: cell.params.clone(),
        capacity,
        per_core_rps: per_core,
        bound,
        cores_needed,
        cores_with_headroom: with_headroom,
        provisioned_cores: provisioned,
        monthly_usd: monthly,
        warnings,
    }
}

/// A cell measured at one open-loop rate (`mixed`: `io_rate_rps` plus `heavy_rate_rps`) as one rung:
/// total offered and achieved rate, and its corrected p99.
fn single_rung(cell: &CellSummary) -> Option<LadderPoint> {
    let rate = |k: &str| cell.params.get(k).and_then(|v| v.parse::<f64>().ok());
    let io = rate("io_rate_rps")?;
    let heavy = rate("heavy_rate_rps").unwrap_or(0.0);
    let p99 = cell.metric("p99_ms")?.median;
    let achieved = cell
        .metric("throughput_rps")
        .map(|t| t.median + heavy)
        .unwrap_or(io + heavy);
    Some(LadderPoint {
        offered_rps: io + heavy,
        achieved_rps: achieved,
        p50_ms: cell.metric("p50_ms").map(|s| s.median).unwrap_or(f64::NAN),
        p99_ms: p99,
        errors: 0,
        server_cores: None,
    })
}

/// The cost section for a profile and an answer, from a run if there is one.
///
/// `options` are the options considered: a hybrid among them is sized part by part, and every
/// option gets a TCO line.
pub fn cost(profile: &Profile, options: &[Choice], run: Option<(&RunSummary, &str)>) -> Cost {
    let with_hybrid = options.contains(&Choice::Hybrid);
    let h = profile.costs.headroom;
    let flow = profile.product.data_flow;
    let mut missing = Vec::new();
    let team = format!(
        "Team costs: {}. Team as given: {} JavaScript ({}), {} Python ({}) engineer(s){}.",
        if profile.costs.engineer_year_usd.is_some() {
            "from the profile's own figures only (see the total cost of ownership)"
        } else {
            "the profile gives no cost per engineer-year, so none are estimated"
        },
        profile.team.javascript,
        profile.team.javascript_level,
        profile.team.python,
        profile.team.python_level,
        if profile.team.data_science {
            ", data-science background"
        } else {
            ""
        }
    );
    // A run whose servers the lab did not run (an import, a `--target-url` run) prices nothing.
    let uncontrolled = run.filter(|(r, _)| !r.server_controlled()).map(|(r, _)| {
        format!(
            "Run {} was not measured on servers the lab ran and pinned ({}), so no cost is priced from it: run the commands below, then `stackwise advise` again.",
            r.run_id,
            r.settings.get("origin.tool").map_or("external", String::as_str)
        )
    });
    let run = run.filter(|(r, _)| r.server_controlled());
    let Some((run, source)) = run else {
        let mut needed: Vec<&str> = workloads_for(flow).into_iter().map(|(w, _)| w).collect();
        if with_hybrid {
            for w in ["io-slo", "cpu-slo", "hash-slo"] {
                if !needed.contains(&w) {
                    needed.push(w);
                }
            }
        }
        for w in needed {
            missing.push(Missing {
                what: format!("node and python capacity on {w}"),
                command: lab_command(w),
            });
        }
        let tco = tco(profile, options, &[], &[]);
        return Cost {
            hours_per_month: HOURS_PER_MONTH,
            run: None,
            assumptions: vec![uncontrolled.unwrap_or_else(|| {
                "No lab run was found, so no cost figure is given: run the commands below, then `stackwise advise` again.".into()
            })],
            stacks: vec![],
            hybrid: vec![],
            hybrid_totals: vec![],
            memory: memory(profile, None),
            missing,
            team,
            tco,
        };
    };
    let mut assumptions = vec![
        format!(
            "Capacity is read from each open-loop ladder at the profile's p99 ≤ {} ms (latency corrected for coordinated omission), interpolated linearly between the two measured rates around it and never extrapolated beyond the measured range; a rung with errors, or under 97% of its offered rate achieved, counts as missing the target.",
            num(profile.load.p99_ms)
        ),
        format!(
            "Capacity scales linearly with cores from the {} server CPU(s) of run {} (scaling across more cores was not measured).",
            run.machine.server_cpus.len(),
            run.run_id
        ),
        "Your requests cost what the workload's requests cost (its parameters are shown with each figure); the measuring machine's CPU stands in for production CPUs.".into(),
        format!(
            "Headroom {} (costs.headroom; {} when not given): cores provisioned = cores needed / (1 − {}), rounded up to whole cores.",
            amount(h),
            amount(crate::profile::DEFAULT_HEADROOM),
            amount(h),
        ),
        format!(
            "Monthly cost = provisioned cores × {} USD per core-hour × {} hours per month.",
            usd(profile.costs.core_hour_usd),
            HOURS_PER_MONTH
        ),
        "Best = the target needing the fewest cores; typical = the median target of the stack.".into(),
    ];
    let mut stacks = Vec::new();
    let mut flow_workloads = workloads_for(flow);
    if flow == DataFlow::Mixed && !run.cells.iter().any(|c| c.workload == "mixed-slo") {
        // No capacity search of the mixed pattern yet: the low-rate loop-blocking test stands in,
        // read as one rung (a lower bound at best: never a monthly cost).
        missing.push(Missing {
            what: format!(
                "node and python capacity on mixed-slo (the mixed pattern as an open-loop ladder; run {} has none, so the one-rate `mixed` test is shown, which cannot price a load above its rate)",
                run.run_id
            ),
            command: lab_command("mixed-slo"),
        });
        flow_workloads = vec![("mixed", None)];
    }
    for stack in [Choice::Node, Choice::Python] {
        for (w, variant) in flow_workloads.iter().copied() {
            stacks.push(estimate(
                run,
                profile,
                stack,
                None,
                Some(profile.load.peak_rps),
                w,
                variant,
                &mut missing,
            ));
        }
    }
    let mut hybrid = Vec::new();
    if with_hybrid {
        hybrid.push(estimate(
            run,
            profile,
            Choice::Node,
            Some("API gateway, client-facing and real-time endpoints".into()),
            Some(profile.load.peak_rps),
            "io-slo",
            None,
            &mut missing,
        ));
        let py_rps = profile.load.python_share.map(|s| s * profile.load.peak_rps);
        for (w, variant) in workloads_for(DataFlow::Compute) {
            hybrid.push(estimate(
                run,
                profile,
                Choice::Python,
                Some("ML inference and data processing".into()),
                py_rps,
                w,
                variant,
                &mut missing,
            ));
        }
        assumptions.push(match profile.load.python_share {
            Some(s) => format!(
                "Hybrid split: every request enters through the Node.js gateway ({} req/s, sized on io-slo); a share of {} reaches the Python services ({} req/s, sized on compute workloads).",
                num(profile.load.peak_rps),
                num(s),
                num(s * profile.load.peak_rps)
            ),
            None => format!(
                "Hybrid split: every request enters through the Node.js gateway ({} req/s, sized on io-slo); the share reaching the Python services is unknown (set load.python_share), so they are not sized.",
                num(profile.load.peak_rps)
            ),
        });
    }
    let typical = |e: &StackEstimate| {
        e.targets
            .iter()
            .find(|t| t.roles.iter().any(|r| r == "typical"))
            .filter(|t| t.bound != Bound::None)
            .and_then(|t| Some((t.provisioned_cores?, t.monthly_usd?, t.bound)))
    };
    let mut hybrid_totals = Vec::new();
    if let Some((node, rest)) = hybrid.split_first() {
        if let Some((nc, nm, nb)) = typical(node) {
            for py in rest {
                if let Some((pc, pm, pb)) = typical(py) {
                    hybrid_totals.push(HybridTotal {
                        python_workload: match &py.variant {
                            Some(v) => format!("{} ({v})", py.workload),
                            None => py.workload.clone(),
                        },
                        node_cores: nc,
                        python_cores: pc,
                        monthly_usd: nm + pm,
                        bound: if nb == Bound::NotMeasuredHighEnough
                            || pb == Bound::NotMeasuredHighEnough
                        {
                            Bound::NotMeasuredHighEnough
                        } else {
                            Bound::Estimate
                        },
                    });
                }
            }
        }
    }
    missing.sort_by(|a, b| a.command.cmp(&b.command).then(a.what.cmp(&b.what)));
    missing.dedup_by(|a, b| a.command == b.command && a.what == b.what);
    let tco = tco(profile, options, &stacks, &hybrid_totals);
    Cost {
        hours_per_month: HOURS_PER_MONTH,
        run: Some(RunRef {
            run_id: run.run_id,
            started_at: run.started_at.clone(),
            finished_at: run.finished_at.clone(),
            source: source.to_string(),
            cpu_model: run.machine.cpu_model.clone(),
            server_cpus: run.machine.server_cpus.clone(),
            warnings: run.warnings.clone(),
        }),
        assumptions,
        stacks,
        hybrid,
        hybrid_totals,
        memory: memory(profile, Some(run)),
        missing,
        team,
        tco,
    }
}

/// The typical target of the first estimate of a stack (the flow's first workload): its monthly
/// cost, its cores with headroom (unrounded) and where it comes from.
fn typical_infra(stacks: &[StackEstimate], stack: Choice) -> Option<(f64, f64, String)> {
    let s = stacks.iter().find(|s| s.stack == stack)?;
    let t = s
        .targets
        .iter()
        .find(|t| t.roles.iter().any(|r| r == "typical"))?;
    if t.bound != Bound::Estimate {
        return None;
    }
    Some((
        t.monthly_usd?,
        t.cores_with_headroom?,
        format!(
            "{} on {}{}: typical target {}",
            stack.label(),
            s.workload,
            s.variant
                .as_deref()
                .map(|v| format!(" ({v})"))
                .unwrap_or_default(),
            t.target
        ),
    ))
}

/// Total cost of ownership per option, from the user's figures only (see the module doc).
pub fn tco(
    profile: &Profile,
    options: &[Choice],
    stacks: &[StackEstimate],
    hybrid_totals: &[HybridTotal],
) -> Tco {
    let c = &profile.costs;
    let horizon = c.horizon_months;
    let mut not_priced = Vec::new();
    let Some(year) = c.engineer_year_usd else {
        not_priced.push(
            "no cost per engineer-year given (costs.engineer_year_usd): team costs are not estimated, and none is invented".into(),
        );
        return Tco {
            horizon_months: horizon,
            formula: String::new(),
            options: vec![],
            findings: vec![],
            not_priced,
        };
    };
    let formula = format!(
        "monthly TCO = measured infrastructure + hires × {} USD ÷ 12 + switchers × {} months to fluency × {} USD ÷ 12 ÷ {} months of horizon{} (+ the cost of running two stacks, for a hybrid). Switchers: for Node.js the Python engineers, for Python the JavaScript engineers, for a hybrid none (each keeps their language); the team's two counts are taken as different people.",
        usd(year),
        c.months_to_fluency.map(amount).unwrap_or_else(|| "?".into()),
        usd(year),
        amount(horizon),
        if (horizon - crate::profile::DEFAULT_HORIZON_MONTHS).abs() < 1e-9 {
            " (the default horizon)"
        } else {
            ""
        }
    );
    let mut out = Vec::new();
    let mut findings = Vec::new();
    let mut seen: Vec<Choice> = options.to_vec();
    seen.sort();
    seen.dedup();
    for &o in &seen {
        let mut np = Vec::new();
        let (hires, switchers) = match o {
            Choice::Node => (c.hires_node, profile.team.python),
            Choice::Python => (c.hires_python, profile.team.javascript),
            Choice::Hybrid => (c.hires_hybrid, 0),
        };
        let hires_key = format!("costs.hires_{}", o.as_str());
        let hires_monthly = hires.map(|h| f64::from(h) * year / 12.0);
        if hires.is_none() {
            np.push(format!("hires not given ({hires_key})"));
        }
        let switching = if switchers == 0 {
            Some(0.0)
        } else {
            c.months_to_fluency
                .map(|m| f64::from(switchers) * m * year / 12.0 / horizon)
        };
        if switching.is_none() {
            np.push(format!(
                "{switchers} engineer(s) must switch but the months to fluency are not given (costs.months_to_fluency)"
            ));
        }
        let (infra, cores, source) = match o {
            Choice::Hybrid => match hybrid_totals.first() {
                Some(t) if t.bound == Bound::Estimate => (
                    Some(t.monthly_usd),
                    None,
                    format!(
                        "hybrid, typical targets, Python work as {}",
                        t.python_workload
                    ),
                ),
                _ => (None, None, "hybrid parts not both priced".to_string()),
            },
            s => match typical_infra(stacks, s) {
                Some((m, cores, src)) => (Some(m), Some(cores), src),
                None => (
                    None,
                    None,
                    format!("no measured monthly figure for {}", s.label()),
                ),
            },
        };
        if infra.is_none() {
            np.push(format!("infrastructure not priced ({source})"));
        }
        let two = if o == Choice::Hybrid {
            if c.two_stacks_monthly_usd.is_none() {
                np.push(
                    "the cost of running two stacks is not priced (costs.two_stacks_monthly_usd)"
                        .into(),
                );
            }
            c.two_stacks_monthly_usd
        } else {
            None
        };
        let total = match (infra, hires_monthly, switching) {
            (Some(i), Some(h), Some(s)) if o != Choice::Hybrid || two.is_some() => {
                Some(i + h + s + two.unwrap_or(0.0))
            }
            _ => None,
        };
        let people = match (hires_monthly, switching) {
            (Some(h), Some(s)) => Some(h + s + two.unwrap_or(0.0)),
            _ => None,
        };
        if let (Some(i), Some(p)) = (infra, people) {
            let (side, other) = if p >= i {
                ("people", "infrastructure")
            } else {
                ("infrastructure", "people")
            };
            let mut f = format!(
                "{}: {side} cost dominates at {} req/s ({} USD/month against {} USD/month for {other})",
                o.label(),
                num(profile.load.peak_rps),
                usd(p.max(i)),
                usd(p.min(i)),
            );
            if let (Some(cores), true) = (cores, p > i) {
                // Infrastructure grows linearly with the peak (cores ∝ load, unrounded).
                let per_rps = cores * c.core_hour_usd * HOURS_PER_MONTH / profile.load.peak_rps;
                if per_rps > 0.0 {
                    f.push_str(&format!(
                        "; infrastructure would reach the people cost at a peak of about {} req/s (linear in load from the typical target's measured capacity)",
                        num(p / per_rps)
                    ));
                }
            }
            findings.push(f);
        }
        out.push(TcoOption {
            option: o,
            infra_monthly_usd: infra,
            infra_source: source,
            hires,
            hires_monthly_usd: hires_monthly,
            switchers,
            switching_monthly_usd: switching,
            two_stacks_monthly_usd: two,
            total_monthly_usd: total,
            not_priced: np,
        });
    }
    Tco {
        horizon_months: horizon,
        formula,
        options: out,
        findings,
        not_priced,
    }
}

/// Memory for the profile's held connections: only from a measurement of held connections.
fn memory(profile: &Profile, run: Option<&RunSummary>) -> MemoryEstimate {
    let conns = profile.load.concurrent_connections;
    let mut lines = Vec::new();
    if let Some(run) = run {
        for stack in [Choice::Node, Choice::Python] {
            let mut best: Option<MemoryLine> = None;
            for t in run.targets.iter().filter(|t| t.language == stack.as_str()) {
                let Some(cell) = run.cell(&t.name, "ws-hold") else {
                    continue;
                };
                // Only a target that held every connection it was given has a cost per connection
                // for the whole set (one that held fewer cannot serve the profile's load at all).
                if cell.held_all() != Some(true) {
                    continue;
                }
                if cell.status != CellStatus::Ok {
                    continue;
                }
                let (Some(per_1k), Some(idle)) = (
                    cell.metric("mb_per_1k_conns"),
                    cell.metric("pss_idle_mb")
                        .map(|s| s.median)
                        .or(t.value("idle_pss_mb")),
                ) else {
                    continue;
                };
                let per = (per_1k.median / 1000.0).max(0.0);
                let gb = (idle + per * conns as f64) / 1024.0;
                let line = MemoryLine {
                    stack,
                    target: t.name.clone(),
                    mb_per_connection: per,
                    gb_total: gb,
                    monthly_usd: profile.costs.gb_hour_usd.map(|p| gb * p * HOURS_PER_MONTH),
                };
                if best.as_ref().is_none_or(|b| line.gb_total < b.gb_total) {
                    best = Some(line);
                }
            }
            lines.extend(best);
        }
    }
    if lines.is_empty() {
        return MemoryEstimate {
            status: "not-measured".into(),
            text: format!(
                "No measurement of memory per held connection in this run from a target that held every connection: the `ws-hold` workload (held WebSocket connections, `stackwise lab --workloads ws-hold`) supplies it; no memory figure is given for {} connections.", count(conns)
            ),
            per_stack: vec![],
        };
    }
    let status = if profile.costs.gb_hour_usd.is_some() {
        "measured"
    } else {
        "no-price"
    };
    MemoryEstimate {
        status: status.into(),
        text: format!(
            "Memory for {} held connections = idle PSS + connections × the measured MB per held connection (ws-hold: PSS while holding − idle PSS, over the connections held), per stack's leanest target that held all its connections{}.",
            count(conns),
            if profile.costs.gb_hour_usd.is_none() {
                "; no price given (costs.gb_hour_usd)"
            } else {
                ""
            }
        ),
        per_stack: lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(rate: f64, p99: f64, errors: u64) -> LadderPoint {
        LadderPoint {
            offered_rps: rate,
            achieved_rps: rate,
            p50_ms: p99 / 2.0,
            p99_ms: p99,
            errors,
            server_cores: None,
        }
    }

    #[test]
    fn interpolates_between_the_rungs_around_the_target() {
        let ladder = vec![
            pt(1000.0, 5.0, 0),
            pt(2000.0, 50.0, 0),
            pt(3000.0, 150.0, 0),
        ];
        let r = capacity_at(&ladder, 100.0);
        assert_eq!(r.kind, CapacityKind::Interpolated);
        assert!((r.rps.unwrap() - 2500.0).abs() < 1e-9, "{r:?}");
        // Unsorted input gives the same reading.
        let mut rev = ladder.clone();
        rev.reverse();
        assert_eq!(capacity_at(&rev, 100.0), r);
        // Exactly at a rung's p99.
        assert!((capacity_at(&ladder, 50.0).rps.unwrap() - 2000.0).abs() < 1e-9);
    }

    #[test]
    fn never_extrapolates_past_the_measured_range() {
        let ladder = vec![pt(1000.0, 5.0, 0), pt(2000.0, 8.0, 0)];
        let r = capacity_at(&ladder, 100.0);
        assert_eq!(r.kind, CapacityKind::LowerBound);
        assert_eq!(r.rps, Some(2000.0));
        let r = capacity_at(&ladder, 1.0);
        assert_eq!(r.kind, CapacityKind::Unattainable);
        assert_eq!(r.rps, None);
        assert_eq!(capacity_at(&[], 100.0).kind, CapacityKind::NoLadder);
    }

    #[test]
    fn a_rung_with_errors_misses_the_target_and_is_not_interpolated_along() {
        let ladder = vec![pt(1000.0, 5.0, 0), pt(2000.0, 20.0, 3)];
        let r = capacity_at(&ladder, 100.0);
        assert_eq!(r.kind, CapacityKind::AtRung);
        assert_eq!(r.rps, Some(1000.0));
        assert!(r.text.contains("3 errors"), "{}", r.text);
    }

    #[test]
    fn a_rung_that_did_not_achieve_its_rate_misses_the_target() {
        let mut slow = pt(2000.0, 20.0, 0);
        slow.achieved_rps = 1500.0;
        let r = capacity_at(&[pt(1000.0, 5.0, 0), slow], 100.0);
        assert_eq!(r.kind, CapacityKind::AtRung);
        assert_eq!(r.rps, Some(1000.0));
        assert!(r.text.contains("only 1,500 of 2,000"), "{}", r.text);
    }
}
