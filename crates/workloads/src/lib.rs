//! `workloads`: the one registry of stackwise's workloads, as data. It owns the vocabulary every
//! other crate uses: which workloads exist (ids are stable: the store, the claims catalogue, the
//! adviser and the reports use them), what kind of measurement each is, the contract endpoints
//! and services it needs, the requests it sends **with their validation** (so that an exporter to
//! another load engine can send and check the same ones), its parameters, the metrics it
//! produces, and the trust constants ([`trust`]) the lab measures by and the readers judge by.
//! It also owns the vocabulary of a lab run in progress ([`events`]): the suite's typed events,
//! which the lab emits and the reports render, and the one number formatter of figures
//! ([`format`]).
//!
//! It depends on no other workspace crate and runs nothing: the lab's measuring code
//! (`crates/lab/src/workload/`) implements a registry entry; the store names stored figures by
//! [`Metric`] ids; readers look metrics up here to name, order and judge them.
//!
//! The built-in entries are static ([`builtin`]); a [`Registry`] value can be extended at run
//! time ([`Registry::register`], or process-wide with [`register`]) so that a test, and later a
//! user-declared workload file, adds a workload without touching any other crate.

pub mod builtin;
pub mod events;
pub mod format;
pub mod grid;
pub mod metrics;
pub mod plan;
pub mod registry;
pub mod trust;

pub use builtin::{BUILTIN_METRICS, BUILTIN_WORKLOADS};
pub use registry::{register, registry, Registry, RegistryError};

use serde::Serialize;

/// What kind of measurement a workload makes: how the lab drives it and how readers lay it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Closed loop at a fixed connection count → responses per second.
    Saturation,
    /// Open-loop ladder of rates → the capacity at the p99 SLO.
    Capacity,
    /// Open loop on a cheap request while heavy requests arrive → the cheap one's latency.
    Mixed,
    /// Held connections (WebSocket) → connections held, memory per connection, echo latency.
    Hold,
    /// Open loop at one fixed rate on a request that waits long on the upstream, so that
    /// thousands of requests are in flight at once → their latency and how many failed.
    Concurrency,
    /// Not a (target, workload) cell: measured once per target (cold start, idle memory,
    /// install footprint) and stored with the target.
    PerTarget,
}

/// A service that must run beside the target while a workload is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// The upstream HTTP service `/io` calls (`GET /delay?ms=N`); its URL reaches the target as
    /// `UPSTREAM_URL`.
    Upstream,
    /// A PostgreSQL database (its URL reaches the target as `DATABASE_URL`).
    Database,
}

/// Whether a workload is measured by this version of the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// Measured today.
    Available,
    /// Announced (docs/workloads.md) but not measured yet: a claim that needs it is "not testable
    /// yet".
    Future,
}

/// Which suite runs a workload (docs/workloads.md "Suites and their budgets"): the full suite
/// runs every workload a claim (crates/claims) or the adviser's pricing (crates/adviser) reads,
/// within its time budget; a workload nothing reads runs only when asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// In `stackwise lab --quick` (one repeat, indicative) and in the full suite.
    Quick,
    /// In the full (default) suite.
    Full,
    /// Only on request: `stackwise lab --workloads ID`, or `--all` (every available workload).
    OnRequest,
}

/// HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

/// How a response body is checked. Templates name the workload's parameters in braces (`{ms}`,
/// `{n}`) and answers the client computes (`{cpu_result}`, `{sha256}`: see
/// [`Request::computed`]); `{{`/`}}` are literal braces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "template")]
pub enum BodyCheck {
    /// The body equals the text exactly.
    Exact(&'static str),
    /// The body matches the regular expression (whole body; anchors included).
    Regex(&'static str),
}

/// One request a workload sends, with the answer it must get: a wrong status, content type or
/// body is counted like an error, never accepted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Request {
    /// Stable name within the workload (`io`, `heavy`, `create`…): per-operation metrics and
    /// exporters refer to it.
    pub name: &'static str,
    pub method: Method,
    /// Path and query, a template over the workload's parameters, e.g. `/cpu?n={n}`.
    pub path: &'static str,
    /// Request body (a template), if any.
    pub body: Option<&'static str>,
    pub headers: &'static [(&'static str, &'static str)],
    pub expect_status: u16,
    /// Expected `Content-Type` prefix, when the contract fixes one (checked by exporters; the
    /// lab's engine checks status and body).
    pub content_type: Option<&'static str>,
    pub body_check: Option<BodyCheck>,
    /// Answers the client must compute before checking (`cpu_result` of `n`, `sha256` of `n`).
    pub computed: &'static [&'static str],
    /// Relative weight in a request mix (1 when the workload sends one request).
    pub weight: u32,
}

/// A workload parameter and its value in the full suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Param {
    pub name: &'static str,
    pub value: &'static str,
    pub why: &'static str,
}

/// One workload of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Workload {
    /// The stable id (docs/workloads.md).
    pub id: &'static str,
    pub kind: Kind,
    pub availability: Availability,
    /// One line for plans, tables and reports.
    pub description: &'static str,
    /// Contract endpoints the target must serve (targets lacking one are skipped).
    pub endpoints: &'static [&'static str],
    pub services: &'static [ServiceKind],
    /// What it sends (empty for per-target measures and clients that are not HTTP).
    pub requests: &'static [Request],
    pub params: &'static [Param],
    /// The ids of the metrics a cell of it carries (see [`Metric`]), in report order.
    pub metrics: &'static [&'static str],
    /// Which suite runs it: `--quick` (and the full suite), the full suite, or only on request.
    pub tier: Tier,
}

/// Which is better for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Higher,
    Lower,
}

/// Where a metric's values come from and how they are summarised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Over {
    /// One value per repeat; the cell shows the spread over its clean repeats (all of them when
    /// none is clean).
    CleanRepeats,
    /// One value per repeat; the cell shows the spread over **every** repeat (a result such as
    /// connections held is one even when the repeat was flagged).
    AllRepeats,
    /// One value per rung of a ladder (stored with its rung index).
    Rung,
    /// One value per cell (none of the built-in metrics since a capacity search became a repeat
    /// of its cell: `capacity_rps` is per search).
    Cell,
    /// Values per target (cold starts, idle memory, install footprint).
    Target,
}

/// A metric: a figure a workload (or the per-target measures) produces.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Metric {
    /// Stable id; the store names rows by it and the JSON report uses it as a field name.
    pub id: &'static str,
    /// Short label for tables, unit included (`req/s`, `p99 ms`).
    pub label: &'static str,
    /// Unit: `rps`, `ms`, `us`, `mb`, `bytes`, `count`, `cores`.
    pub unit: &'static str,
    pub better: Better,
    /// Whether the same figure from another load engine (Locust, k6…) means the same thing: a
    /// coordinated-omission-corrected open-loop latency does; a closed-loop p99 measured from send
    /// does not; server-side figures (CPU, PSS) do.
    pub comparable_across_engines: bool,
    pub over: Over,
    pub description: &'static str,
}

impl Better {
    pub fn higher_is_better(self) -> bool {
        self == Better::Higher
    }
}

impl Workload {
    /// Whether this version of the lab measures it.
    pub fn available(&self) -> bool {
        self.availability == Availability::Available
    }

    /// Runs in `stackwise lab --quick`.
    pub fn quick(&self) -> bool {
        self.tier == Tier::Quick
    }

    /// Runs in the full (default) suite: the quick workloads and the full ones.
    pub fn in_full_suite(&self) -> bool {
        matches!(self.tier, Tier::Quick | Tier::Full)
    }

    /// The number of repeats (for a capacity workload: of searches) a cell of it runs when
    /// `requested` are asked for: at most its `max_repeats` parameter when it has one (`ws-hold`:
    /// 2, each on a fresh server; `io-slo`: 3 searches), else `default` (the measuring code's own
    /// rule: `requested`, or 1 search for a capacity workload), never less than 1.
    pub fn repeats_for(&self, requested: u32, default: u32) -> u32 {
        match self
            .param("max_repeats")
            .and_then(|v| v.parse::<u32>().ok())
        {
            Some(cap) => requested.min(cap),
            None => default,
        }
        .max(1)
    }

    /// The figure whose spread decides extra repeats (docs/workloads.md "Extra repeats"): the
    /// `primary_metric` parameter where one is set, else the first metric the workload lists
    /// (`throughput_rps`, `capacity_rps`, …).
    pub fn primary_metric(&self) -> Option<&'static str> {
        self.param("primary_metric")
            .or_else(|| self.metrics.first().copied())
    }

    /// Extra repeats a cell of it may get when its primary figure spreads too wide: at most
    /// [`trust::EXTRA_REPEATS_PER_CELL`], or its `extra_repeats` parameter (0: opted out).
    pub fn extra_repeats(&self) -> u32 {
        self.param("extra_repeats")
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(trust::EXTRA_REPEATS_PER_CELL)
            .min(trust::EXTRA_REPEATS_PER_CELL)
    }

    /// A per-target measure (stored with the target, not as a cell).
    pub fn per_target(&self) -> bool {
        self.kind == Kind::PerTarget
    }

    /// An open-loop capacity search: the cell carries `capacity_rps`.
    pub fn capacity(&self) -> bool {
        self.kind == Kind::Capacity
    }

    /// The value of a parameter in the full suite.
    pub fn param(&self, name: &str) -> Option<&'static str> {
        self.params.iter().find(|p| p.name == name).map(|p| p.value)
    }

    /// The upstream-relative p99 SLO of a capacity search that waits on the upstream:
    /// [`trust::UPSTREAM_SLO_MULTIPLE`] × its `ms` parameter (`None` without an upstream wait).
    pub fn upstream_relative_slo_ms(&self) -> Option<f64> {
        if !self.capacity() || !self.services.contains(&ServiceKind::Upstream) {
            return None;
        }
        let ms: f64 = self.param("ms")?.parse().ok()?;
        (ms > 0.0).then_some(ms * trust::UPSTREAM_SLO_MULTIPLE)
    }

    /// The request with this name.
    pub fn request(&self, name: &str) -> Option<&'static Request> {
        self.requests.iter().find(|r| r.name == name)
    }
}

impl Request {
    /// The path with the workload's parameters filled in (`/cpu?n={n}` → `/cpu?n=100000`).
    pub fn path_with(&self, values: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
        fill(self.path, values)
    }
}

/// Fills `{name}` placeholders of a template from `values` (`{{`/`}}` are literal braces); an
/// unknown name is an error naming it.
pub fn fill(template: &str, values: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let c = rest.as_bytes()[i];
        let after = &rest[i + 1..];
        if after.as_bytes().first() == Some(&c) {
            out.push(c as char);
            rest = &after[1..];
            continue;
        }
        if c == b'}' {
            return Err(format!("unmatched '}}' in template {template:?}"));
        }
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed '{{' in template {template:?}"))?;
        let name = &after[..end];
        let v = values(name)
            .ok_or_else(|| format!("template {template:?} names {{{name}}}, which has no value"))?;
        out.push_str(&v);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_and_keep_literal_braces() {
        let v = |n: &str| (n == "ms").then(|| "10".to_string());
        assert_eq!(fill("/io?ms={ms}", &v).unwrap(), "/io?ms=10");
        assert_eq!(fill(r"^\{{\s*\d+{ms}\}}$", &v).unwrap(), r"^\{\s*\d+10\}$");
        let e = fill("/cpu?n={n}", &v).unwrap_err();
        assert!(e.contains("{n}"), "{e}");
        assert!(fill("/x{", &v).is_err());
    }
}
