//! The claims catalogue: its data types, loading (the built-in `catalogue.toml`, or a file), and the
//! checks that make a catalogue usable (unique ids, known workloads and targets, a rule or a stated
//! need for every testable claim, metrics that fit their workloads). Errors name the file, the claim
//! and the field; TOML syntax errors also give the line and column.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::verdict::ReasonCode;
use crate::workloads;

/// The default minimum effect of a directional claim ("faster", "better", "more", "lighter"…).
pub const DEFAULT_MIN_EFFECT: f64 = 1.2;
/// The minimum effect of a claim whose words say the difference is large.
pub const STRONG_MIN_EFFECT: f64 = 2.0;
/// The words that make a claim's minimum effect [`STRONG_MIN_EFFECT`] (whole words, any case).
pub const STRONG_WORDS: [&str; 4] = ["much", "exceptionally", "far", "significantly"];
/// The default equivalence margin of a "tie" or "negligible" claim: ±25% (a factor 1.25 either way).
pub const DEFAULT_MARGIN: f64 = 0.25;

/// The catalogue shipped with stackwise (crates/claims/catalogue.toml).
pub const BUILTIN: &str = include_str!("../catalogue.toml");

/// A claims catalogue: the lab's reference targets per language, and the claims.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// Reference target names per language (`node`, `python`, `rust`), used to write lab commands.
    pub lab: BTreeMap<String, Vec<String>>,
    #[serde(rename = "claim")]
    pub claims: Vec<Claim>,
}

/// One claim of one article.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub id: String,
    /// The seed article's file name, e.g. `001_d394cce293d5c253.txt`.
    pub article: String,
    pub topic: String,
    pub kind: Kind,
    /// The article's exact words.
    pub quote: String,
    /// For cited facts: the source the article names (or says it names none).
    pub source: Option<String>,
    pub note: Option<String>,
    /// Reason codes the catalogue attaches (e.g. `cited_third_party`).
    #[serde(default)]
    pub reasons: Vec<ReasonCode>,
    /// For testable claims.
    pub test: Option<TestSpec>,
}

/// What kind of claim it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A performance claim the lab measures (or will).
    Testable,
    /// A fact about the world the lab cannot measure (adoption, company stories…).
    Cited,
    /// A judgement or recommendation.
    Opinion,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Testable => "testable",
            Kind::Cited => "cited",
            Kind::Opinion => "opinion",
        }
    }
}

/// How a testable claim is tested.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    /// Workload ids (docs/workloads.md), including future ones.
    pub workloads: Vec<String>,
    /// The claimed figure or statement, short.
    pub claimed: String,
    /// How the rule reads the claim: which figures, which frameworks, what counts.
    pub reading: String,
    /// What is missing to test it (future workloads, other runtimes…). Required without a rule.
    pub needs: Option<String>,
    /// The smallest ratio that counts as the claimed difference (≥ 1; `faster`/`lighter` rules).
    /// Without it, derived from the quote's words: [`STRONG_MIN_EFFECT`] when it says "much",
    /// "exceptionally", "far" or "significantly", else [`DEFAULT_MIN_EFFECT`].
    pub min_effect: Option<f64>,
    /// Why `min_effect` is overridden (required with it).
    pub min_effect_why: Option<String>,
    /// The equivalence margin of a tie or "negligible" claim (a factor `1 + margin` either way);
    /// [`DEFAULT_MARGIN`] when absent.
    pub margin: Option<f64>,
    /// The claim is about several cores (the GIL, multiprocessing): no verdict on a run whose servers
    /// had fewer CPUs than this (reason code `needs_multicore`).
    pub min_server_cpus: Option<u32>,
    pub rule: Option<RuleSpec>,
}

/// A claim's minimum effect and where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct MinEffect {
    pub factor: f64,
    /// "the word \"exceptionally\"", "default for \"faster / better / more\"", or the override's why.
    pub basis: String,
}

impl Claim {
    /// The minimum effect of a directional claim: the catalogue's override, else from its words.
    pub fn min_effect(&self) -> MinEffect {
        if let Some(t) = &self.test {
            if let Some(f) = t.min_effect {
                return MinEffect {
                    factor: f,
                    basis: format!(
                        "set in the catalogue: {}",
                        t.min_effect_why.as_deref().unwrap_or("no reason given")
                    ),
                };
            }
        }
        let q = self.quote.to_lowercase();
        let words: Vec<&str> = q
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        match STRONG_WORDS.iter().find(|w| words.contains(w)) {
            Some(w) => MinEffect {
                factor: STRONG_MIN_EFFECT,
                basis: format!("the word \"{w}\""),
            },
            None => MinEffect {
                factor: DEFAULT_MIN_EFFECT,
                basis: "default for \"faster / better / more / lighter\"".into(),
            },
        }
    }

    /// The claim's equivalence margin.
    pub fn margin(&self) -> f64 {
        self.test
            .as_ref()
            .and_then(|t| t.margin)
            .unwrap_or(DEFAULT_MARGIN)
    }
}

/// A rule and its parameters; the functions are in [`crate::rules`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleSpec {
    /// Each framework of `group` measures within `[min, max]` on `metric`.
    Range {
        group: Vec<String>,
        metric: Metric,
        min: f64,
        max: f64,
        /// A reference target (the Rust baseline) that must reach above `max` on the same workload
        /// and metric (not as a lower bound) for this machine to be able to test the range at all;
        /// else the claim is "not testable here".
        #[serde(default)]
        baseline: Option<String>,
    },
    /// Every target of `better` beats every target of `than` on `metric` (per workload).
    Faster {
        better: Vec<String>,
        than: Vec<String>,
        metric: Metric,
        #[serde(default)]
        context: Vec<String>,
    },
    /// `numerator / denominator` on `metric` lies in `[min, max]` for every pair.
    Ratio {
        numerator: Vec<String>,
        denominator: Vec<String>,
        metric: Metric,
        min: f64,
        max: f64,
    },
    /// Every target of `better` is lower than every target of `than` on each per-target metric.
    Lighter {
        better: Vec<String>,
        than: Vec<String>,
        metrics: Vec<Metric>,
    },
    /// `subject` and `compared` are the same on each metric within the claim's margin (a "tie").
    Equivalent {
        subject: Vec<String>,
        compared: Vec<String>,
        metrics: Vec<Metric>,
    },
    /// In the `mixed` workload, the `/io` requests of each target of `group` waited for the heavy
    /// `/cpu` requests: `/io` p99 minus the `/io` p99 without them (io-slo ladder, else the upstream
    /// delay) is at least `share` × the CPU time of one heavy request (measured on the target's `cpu`
    /// cell, scaled by the `n` ratio).
    ///
    /// `workload` is the loop-blocking cell the verdict is decided on: `mixed-time` (equal time:
    /// each target's heavy request calibrated to the same server CPU time, priced by the cell
    /// itself) or `mixed` (equal work, the default for older catalogues). `beside` names a
    /// workload judged the same way and shown beside the verdict as context, never counted.
    LoopBlocking {
        group: Vec<String>,
        share: f64,
        #[serde(default)]
        context: Vec<String>,
        #[serde(default = "default_blocking_workload")]
        workload: String,
        #[serde(default)]
        beside: Option<String>,
    },
}

/// The loop-blocking workload of a catalogue that names none: `mixed` (equal work).
pub fn default_blocking_workload() -> String {
    "mixed".into()
}

/// The workloads the `loop_blocking` rule may decide on.
pub const BLOCKING_WORKLOADS: &[&str] = &["mixed", "mixed-time"];

impl RuleSpec {
    pub fn name(&self) -> &'static str {
        match self {
            RuleSpec::Range { .. } => "range",
            RuleSpec::Faster { .. } => "faster",
            RuleSpec::Ratio { .. } => "ratio",
            RuleSpec::Lighter { .. } => "lighter",
            RuleSpec::LoopBlocking { .. } => "loop_blocking",
            RuleSpec::Equivalent { .. } => "equivalent",
        }
    }

    /// The rule with its parameters, one line, as shown in reports.
    pub fn describe(&self) -> String {
        let j = |v: &[String]| v.join("+");
        match self {
            RuleSpec::Range {
                group,
                metric,
                min,
                max,
                baseline,
            } => format!(
                "range({} {} in {}–{}{})",
                j(group),
                metric.as_str(),
                fmt_num(*min),
                fmt_num(*max),
                baseline
                    .as_ref()
                    .map(|b| format!("; testable here when {b} exceeds {}", fmt_num(*max)))
                    .unwrap_or_default()
            ),
            RuleSpec::Faster {
                better,
                than,
                metric,
                ..
            } => format!(
                "faster({} better than {} on {})",
                j(better),
                j(than),
                metric.as_str()
            ),
            RuleSpec::Ratio {
                numerator,
                denominator,
                metric,
                min,
                max,
            } => format!(
                "ratio({} / {} on {} in {}–{})",
                j(numerator),
                j(denominator),
                metric.as_str(),
                fmt_num(*min),
                fmt_num(*max)
            ),
            RuleSpec::Lighter {
                better,
                than,
                metrics,
            } => format!(
                "lighter({} lower than {} on {})",
                j(better),
                j(than),
                metrics
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            RuleSpec::Equivalent {
                subject,
                compared,
                metrics,
            } => format!(
                "equivalent({} same as {} on {})",
                j(subject),
                j(compared),
                metrics
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            RuleSpec::LoopBlocking {
                group,
                share,
                workload,
                beside,
                ..
            } => format!(
                "loop_blocking({}: {workload} /io p99 − /io p99 without heavy requests ≥ {} × one heavy /cpu's CPU time{})",
                j(group),
                fmt_num(*share),
                beside
                    .as_ref()
                    .map(|b| format!("; {b} shown beside"))
                    .unwrap_or_default()
            ),
        }
    }

    /// Every group selector the rule names (for validation).
    pub(crate) fn selectors(&self) -> Vec<(&'static str, &[String])> {
        match self {
            RuleSpec::Range { group, .. } => vec![("group", group)],
            RuleSpec::Faster {
                better,
                than,
                context,
                ..
            } => vec![("better", better), ("than", than), ("context", context)],
            RuleSpec::Ratio {
                numerator,
                denominator,
                ..
            } => vec![("numerator", numerator), ("denominator", denominator)],
            RuleSpec::Lighter { better, than, .. } => vec![("better", better), ("than", than)],
            RuleSpec::Equivalent {
                subject, compared, ..
            } => vec![("subject", subject), ("compared", compared)],
            RuleSpec::LoopBlocking { group, context, .. } => {
                vec![("group", group), ("context", context)]
            }
        }
    }

    pub(crate) fn metrics(&self) -> Vec<Metric> {
        match self {
            RuleSpec::Range { metric, .. }
            | RuleSpec::Faster { metric, .. }
            | RuleSpec::Ratio { metric, .. } => vec![*metric],
            RuleSpec::Lighter { metrics, .. } | RuleSpec::Equivalent { metrics, .. } => {
                metrics.clone()
            }
            RuleSpec::LoopBlocking { .. } => vec![Metric::P99Ms],
        }
    }
}

/// A measured figure a rule reads.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Closed-loop saturation responses per second (cell).
    ThroughputRps,
    /// Highest offered rate with corrected p99 under the SLO (capacity cells).
    CapacityRps,
    /// Median latency (cell).
    P50Ms,
    /// 99th percentile latency (cell).
    P99Ms,
    /// Corrected p99 at a rate every compared target was offered (issue 14: "minimal latency" at
    /// equal load): on a capacity ladder, the highest rate of the shared grid every compared target
    /// held (kept up with it, no errors); on a concurrency workload (`io-wait`), its one fixed rate.
    SharedRateP99Ms,
    /// Server CPU time per response, whole process tree (cell).
    ServerCpuUsPerReq,
    /// Mean memory (PSS of the process tree) during the measurement (cell).
    PssMeanMb,
    /// Peak memory during the measurement (cell).
    PssPeakMb,
    /// WebSocket connections still open at the end of the hold (`ws-hold` cells). Holding fewer
    /// than attempted is the result, so a cell flagged for it still counts for this metric.
    HeldConnections,
    /// Server memory per 1,000 held WebSocket connections (`ws-hold` cells that held every
    /// connection they attempted; a cell that held fewer has no per-connection cost to compare).
    #[serde(rename = "mb_per_1k_conns")]
    MbPer1kConns,
    /// Spawn → first correct response (per target).
    ColdStartMs,
    /// Memory when idle after start (per target).
    IdlePssMb,
    /// Bytes on disk of the installed dependencies (per target).
    InstallBytes,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::ThroughputRps => "throughput_rps",
            Metric::CapacityRps => "capacity_rps",
            Metric::P50Ms => "p50_ms",
            Metric::P99Ms => "p99_ms",
            Metric::SharedRateP99Ms => "shared_rate_p99_ms",
            Metric::ServerCpuUsPerReq => "server_cpu_us_per_req",
            Metric::PssMeanMb => "pss_mean_mb",
            Metric::PssPeakMb => "pss_peak_mb",
            Metric::HeldConnections => "held_connections",
            Metric::MbPer1kConns => "mb_per_1k_conns",
            Metric::ColdStartMs => "cold_start_ms",
            Metric::IdlePssMb => "idle_pss_mb",
            Metric::InstallBytes => "install_bytes",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Metric::ThroughputRps | Metric::CapacityRps => "req/s",
            Metric::P50Ms | Metric::P99Ms | Metric::SharedRateP99Ms | Metric::ColdStartMs => "ms",
            Metric::ServerCpuUsPerReq => "µs CPU/req",
            Metric::PssMeanMb | Metric::PssPeakMb | Metric::IdlePssMb => "MB",
            Metric::InstallBytes => "bytes",
            Metric::HeldConnections => "connections",
            Metric::MbPer1kConns => "MB per 1,000 connections",
        }
    }

    /// The id of the workloads registry's metric this one reads (the rule names `held_connections`
    /// the registry's `connections_held`).
    pub fn registry_id(self) -> &'static str {
        match self {
            Metric::HeldConnections => "connections_held",
            Metric::SharedRateP99Ms => "rung_p99_ms",
            m => m.as_str(),
        }
    }

    fn registry(self) -> ::workloads::Metric {
        *::workloads::registry()
            .metric(self.registry_id())
            .unwrap_or_else(|| panic!("metric {} is not in the registry", self.registry_id()))
    }

    /// Whether more is better (req/s, connections held) or less is (latency, CPU, memory, bytes):
    /// the registry's direction.
    pub fn higher_is_better(self) -> bool {
        self.registry().better.higher_is_better()
    }

    /// Stored with the target (cold start, idle memory, install footprint), not in a cell.
    pub fn per_target(self) -> bool {
        self.registry().over == ::workloads::Over::Target
    }
}

/// A catalogue that cannot be used: what is wrong and where.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogueError(pub String);

impl std::fmt::Display for CatalogueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CatalogueError {}

impl Catalogue {
    /// The built-in catalogue (crates/claims/catalogue.toml, embedded at build time).
    pub fn builtin() -> Catalogue {
        Catalogue::parse(BUILTIN, "catalogue.toml (built in)")
            .expect("the built-in catalogue is valid (checked by its tests)")
    }

    /// Read and check a catalogue file.
    pub fn load(path: &Path) -> Result<Catalogue, CatalogueError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CatalogueError(format!("cannot read catalogue {}: {e}", path.display()))
        })?;
        Catalogue::parse(&text, &path.display().to_string())
    }

    /// Parse and check catalogue text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Catalogue, CatalogueError> {
        let cat: Catalogue = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let before = &text[..s.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!("line {line}, column {col}: ")
                })
                .unwrap_or_default();
            CatalogueError(format!(
                "{origin}: {at}{}",
                e.message().trim_end().replace('\n', "; ")
            ))
        })?;
        cat.validate().map_err(|e| {
            // Point at the claim's line: its `id = "…"` (the last one, for a duplicate id).
            let line = e
                .strip_prefix("claim `")
                .and_then(|r| r.split('`').next())
                .and_then(|id| {
                    let needle = format!("id = \"{id}\"");
                    let at = text.rfind(&needle)?;
                    Some(text[..at].matches('\n').count() + 1)
                });
            match line {
                Some(l) => CatalogueError(format!("{origin}: line {l}: {e}")),
                None => CatalogueError(format!("{origin}: {e}")),
            }
        })?;
        Ok(cat)
    }

    pub fn claim(&self, id: &str) -> Option<&Claim> {
        self.claims.iter().find(|c| c.id == id)
    }

    /// Whether `selector` is a language of the `[lab]` table.
    pub fn is_language(&self, selector: &str) -> bool {
        self.lab.contains_key(selector)
    }

    fn validate(&self) -> Result<(), String> {
        let known_targets: BTreeSet<&str> = self
            .lab
            .values()
            .flat_map(|v| v.iter().map(String::as_str))
            .collect();
        let mut ids = BTreeSet::new();
        for c in &self.claims {
            let at = |field: &str, msg: String| format!("claim `{}`: field `{field}`: {msg}", c.id);
            if c.id.is_empty()
                || !c
                    .id
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
            {
                return Err(at(
                    "id",
                    "must be non-empty lowercase letters, digits and hyphens".into(),
                ));
            }
            if !ids.insert(c.id.as_str()) {
                return Err(at("id", "duplicate id".into()));
            }
            if c.article.is_empty() || c.article.contains('/') || !c.article.ends_with(".txt") {
                return Err(at(
                    "article",
                    format!("`{}` is not a seed file name (e.g. `001_….txt`)", c.article),
                ));
            }
            if c.quote.trim().is_empty() {
                return Err(at("quote", "is empty".into()));
            }
            match c.kind {
                Kind::Cited if c.source.is_none() => {
                    return Err(at(
                        "source",
                        "a cited claim needs its source (or \"none named in the article\")".into(),
                    ))
                }
                Kind::Testable if c.test.is_none() => {
                    return Err(at("test", "a testable claim needs [claim.test]".into()))
                }
                Kind::Cited | Kind::Opinion if c.test.is_some() => {
                    return Err(at(
                        "test",
                        format!(
                            "only testable claims have a test (kind is {})",
                            c.kind.as_str()
                        ),
                    ))
                }
                _ => {}
            }
            for code in &c.reasons {
                if *code != ReasonCode::CitedThirdParty || c.kind != Kind::Cited {
                    return Err(at(
                        "reasons",
                        format!(
                            "the catalogue may attach only `cited_third_party`, to a cited claim \
                             (got `{}` on a {} claim); the other codes come from the measurements",
                            code.id(),
                            c.kind.as_str()
                        ),
                    ));
                }
            }
            let Some(t) = &c.test else { continue };
            if let Some(e) = t.min_effect {
                if !(e.is_finite() && e >= 1.0) {
                    return Err(at(
                        "test.min_effect",
                        format!("must be a factor ≥ 1 (got {e})"),
                    ));
                }
                if !matches!(
                    t.rule,
                    Some(RuleSpec::Faster { .. } | RuleSpec::Lighter { .. })
                ) {
                    return Err(at(
                        "test.min_effect",
                        "only `faster` and `lighter` rules have a minimum effect".into(),
                    ));
                }
                if t.min_effect_why
                    .as_deref()
                    .is_none_or(|w| w.trim().is_empty())
                {
                    return Err(at(
                        "test.min_effect_why",
                        "an overridden minimum effect must say why (the quote's words give the default)"
                            .into(),
                    ));
                }
            } else if t.min_effect_why.is_some() {
                return Err(at(
                    "test.min_effect_why",
                    "given without `min_effect`".into(),
                ));
            }
            if let Some(m) = t.margin {
                if !(m.is_finite() && m > 0.0 && m <= 1.0) {
                    return Err(at(
                        "test.margin",
                        format!("must be in (0, 1], e.g. 0.25 for ±25% (got {m})"),
                    ));
                }
                if t.rule
                    .as_ref()
                    .is_some_and(|r| !matches!(r, RuleSpec::Equivalent { .. }))
                {
                    return Err(at(
                        "test.margin",
                        "only the `equivalent` rule (or a claim waiting for one) has a margin"
                            .into(),
                    ));
                }
            }
            if t.min_server_cpus == Some(0) {
                return Err(at("test.min_server_cpus", "must be at least 1".into()));
            }
            if t.workloads.is_empty() {
                return Err(at("test.workloads", "is empty".into()));
            }
            let mut future = vec![];
            for w in &t.workloads {
                match workloads::lookup(w) {
                    None => {
                        return Err(at(
                            "test.workloads",
                            format!("unknown workload `{w}` (known: {})", workloads::known_ids()),
                        ))
                    }
                    Some(wl) if !wl.available => future.push(w.as_str()),
                    Some(_) => {}
                }
            }
            // A claim waiting for a future workload may carry its rule (used once the workload
            // exists), but must say what it needs.
            if !future.is_empty() && t.needs.as_deref().is_none_or(|n| n.trim().is_empty()) {
                return Err(at(
                    "test.needs",
                    format!(
                        "workload {} is not available yet: say in `needs` what testing it needs",
                        future.join(", ")
                    ),
                ));
            }
            let Some(rule) = &t.rule else {
                if t.needs.as_deref().is_none_or(|n| n.trim().is_empty()) {
                    return Err(at(
                        "test.needs",
                        "a testable claim without a rule must say what testing it needs".into(),
                    ));
                }
                continue;
            };
            for (field, sel) in rule.selectors() {
                if sel.is_empty() && field != "context" {
                    return Err(at(&format!("test.rule.{field}"), "is empty".into()));
                }
                for s in sel {
                    if !self.is_language(s) && !known_targets.contains(s.as_str()) {
                        return Err(at(
                            &format!("test.rule.{field}"),
                            format!(
                                "`{s}` is neither a language ({}) nor a target of [lab]",
                                self.lab.keys().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        ));
                    }
                }
            }
            let per_target_workload = t.workloads.iter().all(|w| w == "cold-start");
            for m in rule.metrics() {
                if m.per_target() != per_target_workload {
                    return Err(at(
                        "test.rule",
                        format!(
                            "metric `{}` does not fit workloads {:?}: per-target metrics \
                             (cold_start_ms, idle_pss_mb, install_bytes) go with [\"cold-start\"] alone",
                            m.as_str(),
                            t.workloads
                        ),
                    ));
                }
                if m == Metric::CapacityRps
                    && !t
                        .workloads
                        .iter()
                        .all(|w| workloads::lookup(w).is_some_and(|x| x.capacity))
                {
                    return Err(at(
                        "test.rule.metric",
                        "capacity_rps exists only for capacity workloads (json-slo, io-slo…)"
                            .into(),
                    ));
                }
                if m == Metric::SharedRateP99Ms
                    && !t.workloads.iter().all(|w| {
                        ::workloads::registry().workload(w).is_some_and(|x| {
                            matches!(
                                x.kind,
                                ::workloads::Kind::Capacity | ::workloads::Kind::Concurrency
                            )
                        })
                    })
                {
                    return Err(at(
                        "test.rule.metric",
                        "shared_rate_p99_ms exists only for capacity ladders (io-slo…) and concurrency workloads (io-wait)"
                            .into(),
                    ));
                }
            }
            match rule {
                RuleSpec::Range { min, max, .. } | RuleSpec::Ratio { min, max, .. }
                    if !(min.is_finite() && max.is_finite() && min < max && *min >= 0.0) =>
                {
                    return Err(at(
                        "test.rule",
                        format!("needs 0 ≤ min < max (got {min}–{max})"),
                    ));
                }
                RuleSpec::Lighter { metrics, .. } | RuleSpec::Equivalent { metrics, .. }
                    if metrics.is_empty() =>
                {
                    return Err(at("test.rule.metrics", "is empty".into()))
                }
                RuleSpec::Range {
                    baseline: Some(b), ..
                } if !known_targets.contains(b.as_str()) => {
                    return Err(at(
                        "test.rule.baseline",
                        format!("`{b}` is not a target of [lab]"),
                    ));
                }
                RuleSpec::LoopBlocking {
                    share,
                    workload,
                    beside,
                    ..
                } => {
                    if !(share.is_finite() && *share > 0.0 && *share <= 1.0) {
                        return Err(at(
                            "test.rule.share",
                            format!("must be in (0, 1] (got {share})"),
                        ));
                    }
                    for (field, w) in std::iter::once(("workload", workload))
                        .chain(beside.iter().map(|b| ("beside", b)))
                    {
                        if !BLOCKING_WORKLOADS.contains(&w.as_str()) {
                            return Err(at(
                                &format!("test.rule.{field}"),
                                format!(
                                    "`{w}` is not a loop-blocking workload (one of: {})",
                                    BLOCKING_WORKLOADS.join(", ")
                                ),
                            ));
                        }
                    }
                    // `mixed` prices its heavy request from the `cpu` cell (older runs);
                    // `mixed-time` measures it in its own cell.
                    let mut want: Vec<String> = std::iter::once(workload)
                        .chain(beside.iter())
                        .cloned()
                        .collect();
                    if want.iter().any(|w| w == "mixed") {
                        want.push("cpu".into());
                    }
                    want.sort();
                    want.dedup();
                    let mut w = t.workloads.clone();
                    w.sort();
                    if w != want {
                        return Err(at(
                            "test.workloads",
                            format!(
                                "loop_blocking on `{workload}`{} reads exactly {want:?}",
                                beside
                                    .as_ref()
                                    .map(|b| format!(" beside `{b}`"))
                                    .unwrap_or_default()
                            ),
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// A figure in a verdict's text: the one formatter's amount ([`workloads::format::amount`]:
/// `12,345`, `27.8`, `8.5`, `0.57`), so a claim's reason reads a figure as the reports' tables do,
/// without the zeros of precision; "∞" for a ws-hold server that could not hold the whole set.
pub fn fmt_num(v: f64) -> String {
    if v == f64::INFINITY {
        // A ws-hold server that could not hold the whole set (see claims::rules).
        return "∞ (not every connection held)".into();
    }
    ::workloads::format::amount(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "[lab]\nnode = [\"node-http\"]\npython = [\"python-fastapi\"]\n";

    fn parse(claims: &str) -> Result<Catalogue, CatalogueError> {
        Catalogue::parse(&format!("{HEAD}{claims}"), "test.toml")
    }

    #[test]
    fn loop_blocking_names_its_workloads() {
        let claim = |rule: &str, workloads: &str| {
            format!(
                "[[claim]]\nid = \"x\"\narticle = \"a.txt\"\ntopic = \"t\"\nkind = \"testable\"\nquote = \"q\"\n[claim.test]\nworkloads = {workloads}\nclaimed = \"c\"\nreading = \"r\"\nrule = {rule}\n"
            )
        };
        let ok = claim(
            r#"{ name = "loop_blocking", group = ["node"], share = 0.5, workload = "mixed-time", beside = "mixed" }"#,
            r#"["mixed-time", "mixed", "cpu"]"#,
        );
        assert!(parse(&ok).is_ok(), "{:?}", parse(&ok).err());
        let e = parse(&claim(
            r#"{ name = "loop_blocking", group = ["node"], share = 0.5, workload = "io" }"#,
            r#"["io"]"#,
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("test.rule.workload") && e.contains("not a loop-blocking workload"),
            "{e}"
        );
        let e = parse(&claim(
            r#"{ name = "loop_blocking", group = ["node"], share = 0.5, workload = "mixed-time" }"#,
            r#"["mixed", "cpu"]"#,
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("test.workloads") && e.contains("mixed-time"),
            "{e}"
        );
    }

    #[test]
    fn builtin_catalogue_is_valid_and_has_every_kind() {
        let c = Catalogue::builtin();
        for k in [Kind::Testable, Kind::Cited, Kind::Opinion] {
            assert!(c.claims.iter().any(|x| x.kind == k), "no {k:?} claim");
        }
        for r in ["range", "faster", "ratio", "lighter", "loop_blocking"] {
            assert!(
                c.claims
                    .iter()
                    .filter_map(|x| x.test.as_ref()?.rule.as_ref())
                    .any(|x| x.name() == r),
                "the catalogue never uses rule {r}"
            );
        }
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let e = parse("[[claim]]\nid = \"x\"\nkind = testable\n").unwrap_err();
        assert!(e.0.starts_with("test.toml: "), "{e}");
        assert!(e.0.contains("line 6"), "{e}");
    }

    #[test]
    fn unknown_fields_and_rules_are_refused() {
        let base = "[[claim]]\nid = \"x\"\narticle = \"a.txt\"\ntopic = \"t\"\nquote = \"q\"\n";
        let e = parse(&format!(
            "{base}kind = \"cited\"\nsource = \"s\"\ncolour = 1\n"
        ))
        .unwrap_err();
        assert!(e.0.contains("colour"), "{e}");
        let e = parse(&format!(
            "{base}kind = \"testable\"\n[claim.test]\nworkloads = [\"io\"]\nclaimed = \"c\"\nreading = \"r\"\n\
             rule = {{ name = \"fastest\", group = [\"node\"] }}\n"
        ))
        .unwrap_err();
        assert!(e.0.contains("fastest"), "{e}");
    }

    #[test]
    fn semantic_errors_name_claim_and_field() {
        let base = "[[claim]]\nid = \"x\"\narticle = \"a.txt\"\ntopic = \"t\"\nquote = \"q\"\n";
        let test = |rule: &str, workloads: &str| {
            parse(&format!(
                "{base}kind = \"testable\"\n[claim.test]\nworkloads = {workloads}\nclaimed = \"c\"\n\
                 reading = \"r\"\n{rule}\n"
            ))
            .unwrap_err()
            .0
        };
        let e = test(
            "rule = { name = \"faster\", better = [\"node\"], than = [\"python\"], metric = \"throughput_rps\" }",
            "[\"websocket\"]",
        );
        assert!(
            e.contains("claim `x`") && e.contains("unknown workload `websocket`"),
            "{e}"
        );
        assert!(
            e.starts_with("test.toml: line 5: claim `x`: field `test.workloads`"),
            "{e}"
        );
        let e = test(
            "rule = { name = \"faster\", better = [\"node\"], than = [\"python\"], metric = \"throughput_rps\" }",
            "[\"stream\"]",
        );
        assert!(e.contains("not available yet"), "{e}");
        let e = test("", "[\"io\"]");
        assert!(e.contains("test.needs"), "{e}");
        let e = test(
            "rule = { name = \"faster\", better = [\"node\"], than = [\"pyhton\"], metric = \"throughput_rps\" }",
            "[\"io\"]",
        );
        assert!(e.contains("`pyhton`"), "{e}");
        let e = test(
            "rule = { name = \"faster\", better = [\"node\"], than = [\"python\"], metric = \"cold_start_ms\" }",
            "[\"io\"]",
        );
        assert!(e.contains("cold_start_ms"), "{e}");
        let e = test(
            "rule = { name = \"range\", group = [\"node\"], metric = \"throughput_rps\", min = 5, max = 1 }",
            "[\"io\"]",
        );
        assert!(e.contains("min < max"), "{e}");
        let e = parse(&format!("{base}kind = \"cited\"\n")).unwrap_err();
        assert!(e.0.contains("`source`"), "{e}");
        let e = parse(&format!(
            "{base}kind = \"opinion\"\n{base}kind = \"opinion\"\n"
        ))
        .unwrap_err();
        assert!(e.0.contains("duplicate id"), "{e}");
    }

    #[test]
    fn statistics_fields_are_checked() {
        let base = "[[claim]]\nid = \"x\"\narticle = \"a.txt\"\ntopic = \"t\"\nquote = \"q\"\n";
        let faster = "rule = { name = \"faster\", better = [\"node\"], than = [\"python\"], metric = \"throughput_rps\" }";
        let test = |extra: &str, rule: &str| {
            parse(&format!(
                "{base}kind = \"testable\"\n[claim.test]\nworkloads = [\"io\"]\nclaimed = \"c\"\n\
                 reading = \"r\"\n{extra}\n{rule}\n"
            ))
            .map(|_| ())
            .unwrap_err()
            .0
        };
        let e = test("min_effect = 0.8\nmin_effect_why = \"w\"", faster);
        assert!(e.contains("test.min_effect") && e.contains("≥ 1"), "{e}");
        let e = test("min_effect = 1.5", faster);
        assert!(e.contains("test.min_effect_why"), "{e}");
        let e = test(
            "min_effect = 1.5\nmin_effect_why = \"w\"",
            "rule = { name = \"range\", group = [\"node\"], metric = \"throughput_rps\", min = 1, max = 5 }",
        );
        assert!(e.contains("only `faster` and `lighter`"), "{e}");
        let e = test("margin = 1.5", "");
        assert!(e.contains("test.margin") && e.contains("(0, 1]"), "{e}");
        let e = test("margin = 0.2", faster);
        assert!(e.contains("only the `equivalent` rule"), "{e}");
        let e = test("min_server_cpus = 0", faster);
        assert!(e.contains("test.min_server_cpus"), "{e}");
        let e = test(
            "",
            "rule = { name = \"range\", group = [\"node\"], metric = \"throughput_rps\", min = 1, max = 5, baseline = \"rust\" }",
        );
        assert!(
            e.contains("test.rule.baseline") && e.contains("`rust`"),
            "{e}"
        );
        let e = test(
            "",
            "rule = { name = \"equivalent\", subject = [\"node\"], compared = [\"python\"], metrics = [] }",
        );
        assert!(e.contains("test.rule.metrics"), "{e}");
        // Reason codes: only `cited_third_party`, only on cited claims.
        let e = parse(&format!(
            "{base}kind = \"cited\"\nsource = \"s\"\nreasons = [\"noisy_machine\"]\n"
        ))
        .unwrap_err();
        assert!(e.0.contains("field `reasons`"), "{e}");
        let e = parse(&format!(
            "{base}kind = \"cited\"\nsource = \"s\"\nreasons = [\"bogus\"]\n"
        ))
        .unwrap_err();
        assert!(e.0.contains("bogus") && e.0.contains("line"), "{e}");
        assert!(parse(&format!(
            "{base}kind = \"cited\"\nsource = \"s\"\nreasons = [\"cited_third_party\"]\n"
        ))
        .is_ok());
        // A future workload may carry its rule, with `needs`.
        assert!(parse(&format!(
            "{base}kind = \"testable\"\n[claim.test]\nworkloads = [\"vector\"]\nclaimed = \"c\"\n\
             reading = \"r\"\nneeds = \"the vector workload\"\n{faster}\n"
        ))
        .is_ok());
    }

    #[test]
    fn minimum_effects_come_from_the_words_unless_overridden() {
        let c = Catalogue::builtin();
        let e = |id: &str| c.claim(id).unwrap().min_effect();
        assert_eq!(e("a0-io-performance-row").factor, DEFAULT_MIN_EFFECT);
        let x = e("a0-io-intensive-exceptional");
        assert_eq!(
            (x.factor, x.basis.as_str()),
            (2.0, "the word \"exceptionally\"")
        );
        let x = e("a0-takeaway-unmatched-io");
        assert_eq!(x.factor, 2.0);
        assert!(x.basis.starts_with("set in the catalogue: "), "{}", x.basis);
        // Whole words only: "farther" is not "far", "by far" is.
        let claim = |q: &str| Claim {
            id: "x".into(),
            article: "a.txt".into(),
            topic: "t".into(),
            kind: Kind::Testable,
            quote: q.into(),
            source: None,
            note: None,
            reasons: vec![],
            test: None,
        };
        assert_eq!(claim("it goes farther").min_effect().factor, 1.2);
        assert_eq!(claim("faster by far").min_effect().factor, 2.0);
        assert_eq!(claim("Much faster").min_effect().factor, 2.0);
        // Every testable claim with a strong word and a directional rule is held to 2×.
        for cl in &c.claims {
            let Some(t) = &cl.test else { continue };
            if matches!(
                t.rule,
                Some(RuleSpec::Faster { .. } | RuleSpec::Lighter { .. })
            ) {
                let q = cl.quote.to_lowercase();
                let strong = STRONG_WORDS
                    .iter()
                    .any(|w| q.split(|ch: char| !ch.is_alphanumeric()).any(|x| x == *w));
                if strong {
                    assert!(cl.min_effect().factor >= 2.0, "{}", cl.id);
                }
            }
        }
    }

    #[test]
    fn numbers_for_humans() {
        assert_eq!(fmt_num(15000.0), "15,000");
        assert_eq!(fmt_num(1234567.4), "1,234,567");
        assert_eq!(fmt_num(42.25), "42.2");
        assert_eq!(fmt_num(0.4), "0.4");
        assert_eq!(fmt_num(2.0), "2");
    }
}
