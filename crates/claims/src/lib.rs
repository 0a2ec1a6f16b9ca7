//! `claims`: every claim of the seed articles, kept as data ([`catalogue`], `catalogue.toml`), and
//! checked against the lab's measurements (a [`store::RunSummary`]) by named rules ([`rules`]). The
//! result ([`report::ClaimsReport`]) puts the claimed and measured figures side by side with a
//! verdict and a one-line reason; cited facts and opinions are listed as such. The verdict
//! vocabulary and reason codes are in [`verdict`], the statistics in [`stats`], and how two groups of
//! frameworks are compared in [`decide`].

pub mod catalogue;
pub mod decide;
pub mod report;
pub mod rules;
pub mod stats;
pub mod verdict;
pub mod workloads;

use std::collections::{BTreeMap, BTreeSet};

use store::RunSummary;

pub use catalogue::{Catalogue, CatalogueError, Claim, Kind, Metric, RuleSpec};
pub use report::{
    ClaimResult, ClaimedFigure, ClaimsReport, Independence, Measured, Part, RunRef, Side,
};
pub use verdict::{ReasonCode, Verdict};

/// Which claims to show.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kinds: Vec<Kind>,
    pub verdicts: Vec<Verdict>,
}

impl Filter {
    fn keeps(&self, r: &ClaimResult) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&r.kind))
            && (self.verdicts.is_empty() || self.verdicts.contains(&r.verdict))
    }
}

/// Check every claim of `cat` against `run` (or, without a run, say how to measure each).
pub fn evaluate(
    cat: &Catalogue,
    catalogue_origin: &str,
    run: Option<&RunSummary>,
    filter: &Filter,
) -> ClaimsReport {
    let claims: Vec<ClaimResult> = cat
        .claims
        .iter()
        .map(|c| evaluate_claim(cat, c, run))
        .filter(|r| filter.keeps(r))
        .collect();
    let mut counts = BTreeMap::new();
    for r in &claims {
        *counts.entry(r.verdict.id().to_string()).or_insert(0) += 1;
    }
    let independence = independence(&claims);
    ClaimsReport {
        catalogue: catalogue_origin.to_string(),
        run: run.map(|r| RunRef {
            run_id: r.run_id,
            started_at: r.started_at.clone(),
            finished_at: r.finished_at.clone(),
            cpu_model: r.machine.cpu_model.clone(),
            cores: r.machine.cores,
            server_cpus: r.machine.server_cpus.clone(),
            client_cpus: r.machine.client_cpus.clone(),
            warnings: r.warnings.clone(),
        }),
        counts,
        independence,
        claims,
    }
}

/// "N verdicts from M independent tests": distinct measurements behind the measured verdicts.
fn independence(claims: &[ClaimResult]) -> Independence {
    let measured: Vec<&ClaimResult> = claims.iter().filter(|c| c.verdict.is_measured()).collect();
    let all: BTreeSet<&String> = measured.iter().flat_map(|c| &c.tests).collect();
    let mut by: BTreeMap<String, BTreeSet<&String>> = BTreeMap::new();
    for c in &measured {
        by.entry(c.verdict.id().to_string())
            .or_default()
            .extend(&c.tests);
    }
    Independence {
        verdicts: measured.len(),
        tests: all.len(),
        tests_by_verdict: by.into_iter().map(|(k, v)| (k, v.len())).collect(),
        indicative: measured.iter().filter(|c| c.indicative).count(),
        held_back_noisy: measured
            .iter()
            .filter(|c| c.reasons.contains(&ReasonCode::NoisyMachine))
            .count(),
    }
}

/// The measurements a rule reads: one id per (metric, workload, targets), the targets being every
/// target its non-context selectors name (a language stands for its `[lab]` targets). Two claims
/// with the same ids rest on the same figures: one independent test, however many claims it decides.
pub fn measurement_ids(cat: &Catalogue, rule: &RuleSpec, workloads: &[String]) -> Vec<String> {
    let mut targets = BTreeSet::new();
    for (field, sel) in rule.selectors() {
        if field == "context" {
            continue;
        }
        for s in sel {
            match cat.lab.get(s) {
                Some(names) => targets.extend(names.iter().cloned()),
                None => {
                    targets.insert(s.clone());
                }
            }
        }
    }
    if let RuleSpec::Range {
        baseline: Some(b), ..
    } = rule
    {
        targets.insert(b.clone());
    }
    let who = targets.into_iter().collect::<Vec<_>>().join(",");
    let mut ids = BTreeSet::new();
    for m in rule.metrics() {
        if m.per_target() {
            ids.insert(format!("{}@per-target:{who}", m.as_str()));
        } else {
            for w in workloads {
                ids.insert(format!("{}@{w}:{who}", m.as_str()));
            }
        }
    }
    if let RuleSpec::LoopBlocking {
        workload, beside, ..
    } = rule
    {
        for w in std::iter::once(workload).chain(beside.iter()) {
            ids.insert(format!("heavy_cpu_ms@{w}:{who}"));
            ids.insert(format!("blocking_ratio@{w}:{who}"));
            if w == "mixed" {
                ids.insert(format!("server_cpu_us_per_req@cpu:{who}"));
            }
        }
    }
    ids.into_iter().collect()
}

/// A run whose servers the lab did not run (an import, a `--target-url` run) as claims read it:
/// only the metrics the registry marks comparable across engines and hosts.
pub fn comparable_only(run: &RunSummary) -> RunSummary {
    let keep = |id: &String| {
        ::workloads::registry()
            .metric(id)
            .is_some_and(|m| m.comparable_across_engines)
    };
    let mut r = run.clone();
    for c in r.cells.iter_mut() {
        c.metrics.retain(|id, _| keep(id));
    }
    for t in r.targets.iter_mut() {
        t.metrics.retain(|id, _| keep(id));
    }
    r
}

/// A run of one repeat per cell (`--quick`, or `repeats = 1`): every decided verdict is indicative.
fn one_repeat_run(run: &RunSummary) -> bool {
    run.settings.get("quick").is_some_and(|v| v == "true")
        || run.settings.get("repeats").is_some_and(|v| v == "1")
}

/// The cells a verdict compares (its subject and compared sides, not its context) that stayed
/// noisy in the lab once its retries were spent ([`::workloads::trust::is_noisy_cell`]).
fn noisy_cells(r: &ClaimResult, run: &RunSummary) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in r
        .measured
        .iter()
        .filter(|m| m.side != report::Side::Context)
    {
        let noisy = run
            .cell(&m.target, &m.workload)
            .is_some_and(|c| ::workloads::trust::is_noisy_cell(&c.warnings));
        let name = format!("{} {}", m.target, m.workload);
        if noisy && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// A decided verdict comparing cells that stayed noisy is held back: `inconclusive` with the reason
/// code `noisy_machine`, saying what the comparison would have said (docs/workloads.md "Noise").
fn hold_back_noisy(r: &mut ClaimResult, codes: &mut BTreeSet<ReasonCode>, run: &RunSummary) {
    if !r.verdict.is_decided() {
        return;
    }
    let noisy = noisy_cells(r, run);
    if noisy.is_empty() {
        return;
    }
    codes.insert(ReasonCode::NoisyMachine);
    r.reason = format!(
        "held back: the machine stayed noisy (steal time or other processes over the lab's limits \
         after its retries) on {}; on these figures the comparison would be {}: {}",
        noisy.join(", "),
        r.verdict.label_with(r.indicative),
        r.reason
    );
    r.verdict = Verdict::Inconclusive;
    r.indicative = false;
    for p in r.parts.iter_mut() {
        p.indicative = false;
    }
}

/// One claim's verdict.
pub fn evaluate_claim(cat: &Catalogue, c: &Claim, run: Option<&RunSummary>) -> ClaimResult {
    // A run whose servers the lab did not run: its comparable metrics only (every reader of
    // verdicts, the adviser's evidence included, comes through here).
    let comparable;
    let run = match run {
        Some(r) if !r.server_controlled() => {
            comparable = comparable_only(r);
            Some(&comparable)
        }
        other => other,
    };
    let mut r = ClaimResult {
        id: c.id.clone(),
        article: c.article.clone(),
        topic: c.topic.clone(),
        kind: c.kind,
        quote: c.quote.clone(),
        verdict: Verdict::Opinion,
        indicative: false,
        reasons: c.reasons.clone(),
        reason: String::new(),
        min_effect: None,
        min_effect_basis: None,
        margin: None,
        comparisons: vec![],
        tests: vec![],
        claimed: None,
        claimed_figure: None,
        reading: None,
        workloads: vec![],
        rule: None,
        parts: vec![],
        measured: vec![],
        lab_command: None,
        needs: None,
        source: c.source.clone(),
        note: c.note.clone(),
    };
    match c.kind {
        Kind::Opinion => {
            r.verdict = Verdict::Opinion;
            r.reason = "an opinion, not a measurable claim".into();
        }
        Kind::Cited => {
            r.verdict = Verdict::Cited;
            r.reason = format!(
                "cited, not measured: {}",
                c.source.as_deref().unwrap_or("no source")
            );
        }
        Kind::Testable => {
            let t = c
                .test
                .as_ref()
                .expect("validated: testable claims have a test");
            r.claimed = Some(t.claimed.clone());
            r.reading = Some(t.reading.clone());
            r.workloads = t.workloads.clone();
            r.needs = t.needs.clone();
            r.rule = t.rule.as_ref().map(|x| x.describe());
            r.claimed_figure = match &t.rule {
                Some(RuleSpec::Range {
                    metric, min, max, ..
                }) => Some(ClaimedFigure {
                    metric: *metric,
                    of: "value".into(),
                    min: *min,
                    max: *max,
                    unit: metric.unit().into(),
                }),
                Some(RuleSpec::Ratio {
                    metric, min, max, ..
                }) => Some(ClaimedFigure {
                    metric: *metric,
                    of: "ratio".into(),
                    min: *min,
                    max: *max,
                    unit: String::new(),
                }),
                _ => None,
            };
            if let Some(rule) = &t.rule {
                r.tests = measurement_ids(cat, rule, &t.workloads);
                match rule {
                    RuleSpec::Faster { .. } | RuleSpec::Lighter { .. } => {
                        let e = c.min_effect();
                        r.min_effect = Some(e.factor);
                        r.min_effect_basis = Some(e.basis);
                    }
                    RuleSpec::Equivalent { .. } => r.margin = Some(c.margin()),
                    _ => {}
                }
            } else if t.margin.is_some() {
                r.margin = Some(c.margin());
            }
            let future: Vec<&str> = t
                .workloads
                .iter()
                .filter(|w| workloads::lookup(w).is_some_and(|x| !x.available))
                .map(String::as_str)
                .collect();
            let cores = run.map(rules::server_cores);
            let few_cores = match (t.min_server_cpus, cores) {
                (Some(min), Some(n)) if (n as u32) < min => Some((min, n)),
                _ => None,
            };
            let mut codes: BTreeSet<ReasonCode> = r.reasons.iter().copied().collect();
            if let Some((min, n)) = few_cores {
                codes.insert(ReasonCode::NeedsMulticore);
                r.verdict = Verdict::NotTestableYet;
                r.reason = format!(
                    "not testable on this run: the claim is about using several cores and the servers ran \
                     on {n} CPU{} (it needs at least {min})",
                    if n == 1 { "" } else { "s" }
                );
            }
            match (&t.rule, run) {
                _ if !future.is_empty() => {
                    codes.insert(ReasonCode::NeedsWorkload);
                    r.verdict = Verdict::NotTestableYet;
                    let why = format!("needs the {} workload", future.join(", "));
                    r.reason = if r.reason.is_empty() {
                        format!("not testable yet: {why}")
                    } else {
                        format!("{}; it also {why}", r.reason)
                    };
                }
                _ if few_cores.is_some() => {}
                (None, _) => {
                    r.verdict = Verdict::NotTestableYet;
                    r.reason = "not testable yet with this lab: see what it needs".into();
                }
                (Some(rule), None) => {
                    r.verdict = Verdict::NotMeasured;
                    r.reason = "no lab run: measure it with the lab command".into();
                    r.lab_command = Some(command_for(cat, rule, &t.workloads));
                }
                (Some(rule), Some(run)) => {
                    let params = rules::Params {
                        min_effect: r.min_effect.unwrap_or(catalogue::DEFAULT_MIN_EFFECT),
                        margin: c.margin(),
                    };
                    let o = rules::evaluate_with(rule, &t.workloads, run, cat, params);
                    r.verdict = o.verdict;
                    r.reason = o.reason;
                    r.parts = o.parts;
                    r.measured = o.measured;
                    r.comparisons = o.comparisons;
                    r.lab_command = o.missing.lab_command();
                    r.indicative = o.indicative;
                    codes.extend(o.codes);
                    hold_back_noisy(&mut r, &mut codes, run);
                    if r.verdict.is_decided() && one_repeat_run(run) {
                        r.indicative = true;
                        codes.insert(ReasonCode::OneRepeat);
                        for p in r.parts.iter_mut().filter(|p| p.verdict.is_decided()) {
                            p.indicative = true;
                        }
                    }
                }
            }
            // `one_repeat` goes with the indicative qualifier, on decided verdicts only.
            if !r.indicative {
                codes.remove(&ReasonCode::OneRepeat);
            }
            r.reasons = codes.into_iter().collect();
        }
    }
    r
}

/// The lab command that measures a rule's groups on its workloads from scratch.
fn command_for(cat: &Catalogue, rule: &RuleSpec, workloads: &[String]) -> String {
    let sels: Vec<&String> = match rule {
        RuleSpec::Range { group, .. } | RuleSpec::LoopBlocking { group, .. } => {
            group.iter().collect()
        }
        RuleSpec::Equivalent {
            subject, compared, ..
        } => subject.iter().chain(compared).collect(),
        RuleSpec::Faster { better, than, .. } | RuleSpec::Lighter { better, than, .. } => {
            better.iter().chain(than).collect()
        }
        RuleSpec::Ratio {
            numerator,
            denominator,
            ..
        } => numerator.iter().chain(denominator).collect(),
    };
    let mut m = rules::Missing::default();
    for s in sels {
        let names = cat.lab.get(s).cloned().unwrap_or_else(|| vec![s.clone()]);
        for n in names {
            m.targets.insert(n);
        }
    }
    m.workloads.extend(workloads.iter().cloned());
    m.lab_command().expect("rules name at least one target")
}

impl ClaimsReport {
    /// The JSON schema of the report, as committed in `schemas/claims.schema.json`.
    pub fn json_schema() -> schemars::Schema {
        schemars::schema_for!(ClaimsReport)
    }
}
