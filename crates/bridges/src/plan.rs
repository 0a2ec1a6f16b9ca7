//! [`Plan`]: a registry workload resolved for an external engine at a fixed arrival rate: its
//! requests with the parameters filled in, the checks each response must pass (the answers the
//! client must compute named, not computed: the generated script computes them), and the user
//! count the rate needs.
//!
//! Both exporters ([`crate::locust`], [`crate::k6`]) render a `Plan`; neither reads the registry.

use workloads::{BodyCheck, Kind, Method, Workload};

use crate::Error;

/// Where a computed answer goes in a check pattern: `@@name@@` (a template never contains `@@`;
/// [`Plan::new`] checks it).
pub fn marker(name: &str) -> String {
    format!("@@{name}@@")
}

/// The answers a client can compute, by the names the registry's templates use.
pub const COMPUTED: &[&str] = &["cpu_result", "sha256"];

/// Float answers computed from the query's `n` and compared with a tolerance, not as text: the
/// check's marker becomes [`NUMBER_GROUP`], and the number it captures must be within
/// [`FLOAT_TOLERANCE`] of the answer (as the lab's checker compares `/vector`).
pub const FLOAT_COMPUTED: &[&str] = &["vector_result"];

/// A JSON number, captured (the same syntax in Rust, Python and JavaScript regular expressions).
pub const NUMBER_GROUP: &str = r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)";

/// The contract's relative tolerance on a float answer (`/vector`: docs/contract.md), absolute
/// below 1: |got − expected| ≤ 1e-9 × max(|expected|, 1), as crates/lab/src/check/db.rs.
pub const FLOAT_TOLERANCE: f64 = 1e-9;

/// Per-request ids (`{id}` in a path), by request name: `crud`'s mix as crates/lab/src/crud.rs
/// sends it (its READ_IDS, UPDATE_IDS, DELETE_BASE; a test in the stackwise crate holds them
/// equal). Reads and updates cycle over rows the lab's schema seeds (items 1..=1000, never
/// deleted); deletes take each id once, from rows seeded for them.
pub fn ids_for(request: &str) -> Option<Ids> {
    match request {
        "read" => Some(Ids::Cycle {
            first: 1,
            last: 500,
        }),
        "update" => Some(Ids::Cycle {
            first: 501,
            last: 1000,
        }),
        "delete" => Some(Ids::Once {
            base: DELETE_BASE,
            per_process: 0,
        }),
        _ => None,
    }
}

/// The first id of the rows seeded for deletion (crates/lab/src/crud.rs's DELETE_BASE).
pub const DELETE_BASE: u64 = 1_000_000_000;

/// How a request's `{id}` is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ids {
    /// first, first + 1, …, last, first, … (rows that exist throughout the run).
    Cycle { first: u64, last: u64 },
    /// Each id once: load process k (Locust's worker index, k6's `STACKWISE_INSTANCE`) takes
    /// `base + k × per_process + i` for its i-th request (k6: its i-th iteration of any kind).
    Once { base: u64, per_process: u64 },
}

/// How a response body is checked, the parameters filled in and computed answers left as
/// [`marker`]s.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    Exact(String),
    /// A regular expression in the registry's (Rust `regex`) syntax, anchors included.
    Regex(String),
}

/// One request of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRequest {
    pub name: String,
    pub method: &'static str,
    /// Path and query with the workload's parameters filled in, e.g. `/cpu?n=100000`.
    pub path: String,
    pub body: Option<String>,
    pub headers: Vec<(String, String)>,
    pub expect_status: u16,
    /// The media type the response must have (compared before any `;` parameter).
    pub content_type: Option<String>,
    pub check: Option<Check>,
    /// Computed answers the check needs: (name, the `n` they are computed from).
    pub computed: Vec<(String, u64)>,
    /// A float answer the check's [`NUMBER_GROUP`] captures, compared within
    /// [`FLOAT_TOLERANCE`]: (name, n).
    pub float_answer: Option<(String, u64)>,
    /// How the path's `{id}` ([`marker`]`("id")`) is filled per request.
    pub ids: Option<Ids>,
    pub weight: u32,
}

/// A workload resolved for one run of an external engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub workload: String,
    pub description: String,
    pub kind: Kind,
    /// The base URL, without a trailing `/`, e.g. `http://10.0.0.5:8080`.
    pub base_url: String,
    /// Requests per second, over all users (and all workers) together.
    pub rate: f64,
    pub duration_s: u64,
    pub slo_ms: f64,
    /// ceil(rate × 2 × SLO): enough users that each sends one request per 2 × SLO.
    pub users: u64,
    /// Seconds between the starts of one user's requests (users / rate).
    pub pacing_s: f64,
    pub requests: Vec<PlannedRequest>,
    /// What the user must know (a closed-loop workload sent open loop, a service the target
    /// needs…), printed by the exporters and written into the scripts.
    pub notes: Vec<String>,
}

/// The settings of an export.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub rate: f64,
    pub duration_s: u64,
    pub slo_ms: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rate: 100.0,
            duration_s: 30,
            slo_ms: workloads::trust::DEFAULT_SLO_P99_MS,
        }
    }
}

/// Rows one load process may delete: one per request of the whole run at the settings' rate (k6
/// numbers ids by iteration, of any kind; a process never sends more than the total), over the
/// duration plus 10 s of ramp and grace, with crates/lab/src/crud.rs's margin of 1.5.
fn once_rows(s: &Settings) -> u64 {
    (s.rate * (s.duration_s as f64 + 10.0) * 1.5).ceil() as u64 + 8
}

/// Users needed for `rate` when each may wait up to 2 × SLO for its response.
pub fn users_for(rate: f64, slo_ms: f64) -> u64 {
    ((rate * 2.0 * slo_ms / 1000.0).ceil() as u64).max(1)
}

impl Plan {
    /// Resolves `workload` (a registry entry) for `url` at the settings' rate.
    pub fn new(w: &Workload, url: &str, s: &Settings) -> Result<Plan, Error> {
        let base_url = check_url(url)?;
        if !(s.rate.is_finite() && s.rate > 0.0) {
            return Err(Error::new(format!(
                "--rate {}: must be a positive number of requests per second",
                s.rate
            )));
        }
        if !(s.slo_ms.is_finite() && s.slo_ms > 0.0) {
            return Err(Error::new(format!(
                "--slo-ms {}: must be a positive number of milliseconds",
                s.slo_ms
            )));
        }
        if s.duration_s == 0 {
            return Err(Error::new("--duration: must be at least 1 s"));
        }
        if !w.available() {
            return Err(Error::new(format!(
                "--workload {}: announced but not measured by this version (nothing to export)",
                w.id
            )));
        }
        match w.kind {
            Kind::PerTarget => {
                return Err(Error::new(format!(
                    "--workload {}: a per-target measure (cold start, memory, install), taken by the lab on the server's machine; no load engine can measure it",
                    w.id
                )))
            }
            Kind::Hold => {
                return Err(Error::new(format!(
                    "--workload {}: held WebSocket connections and the server's memory per connection; the exporters write HTTP request scripts only",
                    w.id
                )))
            }
            _ => {}
        }
        if let Some(q) = w.params.iter().find(|q| q.value == "calibrated") {
            return Err(Error::new(format!(
                "--workload {}: its parameter {} is calibrated per target by the lab while it runs ({}); a script cannot fix it in advance: export `mixed` (a fixed heavy request) instead",
                w.id, q.name, q.why
            )));
        }
        let mut notes = Vec::new();
        if w.kind == Kind::Saturation {
            notes.push(format!(
                "the lab measures {} closed loop (a fixed number of connections, as fast as the server answers); this script sends it open loop at {} req/s: compare it with the lab's open-loop figures, not its saturation throughput",
                w.id, s.rate
            ));
        }
        if w.kind == Kind::Capacity {
            notes.push(format!(
                "the lab searches {}'s capacity over a ladder of rates; this script holds one rate ({} req/s): run it at several rates to bracket the capacity",
                w.id, s.rate
            ));
        }
        if w.kind == Kind::Mixed {
            notes.push(
                "the requests are mixed at random in the registry's weights at one total rate (the lab sends each kind on its own schedule)".into(),
            );
        }
        for svc in w.services {
            notes.push(format!(
                "the target must reach its own {} (the lab starts one beside its targets; a deployed service uses its own)",
                match svc {
                    workloads::ServiceKind::Upstream => "upstream service (UPSTREAM_URL)",
                    workloads::ServiceKind::Database => "database (DATABASE_URL)",
                }
            ));
        }
        let mut requests = Vec::new();
        for q in w.requests {
            let values = |name: &str| {
                if COMPUTED.contains(&name) || name == "id" {
                    Some(marker(name))
                } else if FLOAT_COMPUTED.contains(&name) {
                    Some(NUMBER_GROUP.to_string())
                } else {
                    w.param(name).map(str::to_string)
                }
            };
            let at = |what: &str, e: String| {
                Error::new(format!(
                    "workload {} request {} ({what}): {e}",
                    w.id, q.name
                ))
            };
            let path = workloads::fill(q.path, &values).map_err(|e| at("path", e))?;
            let body = q
                .body
                .map(|b| workloads::fill(b, &values))
                .transpose()
                .map_err(|e| at("body", e))?;
            let check = match q.body_check {
                None => None,
                Some(BodyCheck::Exact(t)) => Some(Check::Exact(
                    workloads::fill(t, &values).map_err(|e| at("body check", e))?,
                )),
                Some(BodyCheck::Regex(t)) => Some(Check::Regex(
                    workloads::fill(t, &values).map_err(|e| at("body check", e))?,
                )),
            };
            for t in [Some(q.path), q.body, q.body_check.map(template)]
                .into_iter()
                .flatten()
            {
                if t.contains("@@") {
                    return Err(at("template", format!("{t:?} contains '@@'")));
                }
            }
            let mut computed = Vec::new();
            let mut float_answer = None;
            let mut ids = None;
            for c in q.computed {
                if *c == "id" {
                    let mut i = ids_for(q.name).ok_or_else(|| {
                        at(
                            "computed answers",
                            "no exporter knows which ids this request takes".into(),
                        )
                    })?;
                    if let Ids::Once { base, .. } = i {
                        let per_process = once_rows(s);
                        i = Ids::Once { base, per_process };
                        notes.push(format!(
                            "{} takes each id once, from rows that must exist: before each run, seed {per_process} rows per load process into the service's database (process k, counted from 0 — Locust's worker index, k6's STACKWISE_INSTANCE — uses ids {base} + k × {per_process} and up), e.g. for K processes: INSERT INTO items (id, name, price_cents) SELECT x, 'to delete ' || x, 1 FROM generate_series({base}, {base} + K * {per_process} - 1) AS x; (the lab seeds them itself before each rung). Reads and updates use ids 1 to 1000, which the lab's schema seeds",
                            q.name
                        ));
                    }
                    ids = Some(i);
                    continue;
                }
                if FLOAT_COMPUTED.contains(c) {
                    let n = query_n(&path).ok_or_else(|| {
                        at(
                            "computed answers",
                            format!("{c} is computed from the query's n, and {path} has none"),
                        )
                    })?;
                    float_answer = Some((c.to_string(), n));
                    continue;
                }
                if !COMPUTED.contains(c) {
                    return Err(at(
                        "computed answers",
                        format!(
                            "no exporter computes {c:?} (known: {})",
                            COMPUTED.join(", ")
                        ),
                    ));
                }
                let n = query_n(&path).ok_or_else(|| {
                    at(
                        "computed answers",
                        format!("{c} is computed from the query's n, and {path} has none"),
                    )
                })?;
                computed.push((c.to_string(), n));
            }
            requests.push(PlannedRequest {
                name: q.name.to_string(),
                method: match q.method {
                    Method::Get => "GET",
                    Method::Post => "POST",
                    Method::Put => "PUT",
                    Method::Delete => "DELETE",
                },
                path,
                body,
                headers: q
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                expect_status: q.expect_status,
                content_type: q.content_type.map(str::to_string),
                check,
                computed,
                float_answer,
                ids,
                weight: q.weight.max(1),
            });
        }
        if requests.is_empty() {
            return Err(Error::new(format!(
                "--workload {}: the registry lists no HTTP requests for it",
                w.id
            )));
        }
        let users = users_for(s.rate, s.slo_ms);
        Ok(Plan {
            workload: w.id.to_string(),
            description: w.description.to_string(),
            kind: w.kind,
            base_url,
            rate: s.rate,
            duration_s: s.duration_s,
            slo_ms: s.slo_ms,
            users,
            pacing_s: users as f64 / s.rate,
            requests,
            notes,
        })
    }

    /// Every distinct computed answer the checks need (float answers included): (name, n).
    pub fn answers(&self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self
            .requests
            .iter()
            .flat_map(|r| r.computed.iter().cloned().chain(r.float_answer.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

fn template(c: BodyCheck) -> &'static str {
    match c {
        BodyCheck::Exact(t) | BodyCheck::Regex(t) => t,
    }
}

/// The name of a computed answer's variable in a generated script, e.g. `ANSWER_cpu_result_100000`.
pub fn answer_var(name: &str, n: u64) -> String {
    format!("ANSWER_{name}_{n}")
}

/// The `n` query parameter of a path.
fn query_n(path: &str) -> Option<u64> {
    let q = path.split_once('?')?.1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix("n="))
        .and_then(|v| v.parse().ok())
}

/// An `http://` or `https://` URL with a host and nothing after the authority but an optional `/`.
pub fn check_url(url: &str) -> Result<String, Error> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            Error::new(format!(
                "URL {url:?}: must start with http:// or https:// (the target's base URL, e.g. http://127.0.0.1:8080)"
            ))
        })?;
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains(['/', '?', '#', ' ', '"', '\'', '\\']) {
        return Err(Error::new(format!(
            "URL {url:?}: give the target's base URL (scheme, host and port only); the workload adds the paths"
        )));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// Seconds as a whole number for engine flags (`30s`).
pub fn secs(s: u64) -> String {
    format!("{s}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(id: &str) -> Workload {
        *workloads::Registry::builtin().workload(id).unwrap()
    }

    #[test]
    fn users_follow_the_issue_rule() {
        assert_eq!(users_for(200.0, 100.0), 40);
        assert_eq!(users_for(1.0, 1.0), 1);
        assert_eq!(users_for(150.0, 50.0), 15);
        assert_eq!(users_for(101.0, 100.0), 21);
    }

    #[test]
    fn cpu_plan_fills_params_and_names_computed_answers() {
        let p = Plan::new(&w("cpu"), "http://127.0.0.1:8080/", &Settings::default()).unwrap();
        assert_eq!(p.base_url, "http://127.0.0.1:8080");
        assert_eq!(p.requests[0].path, "/cpu?n=100000");
        assert_eq!(p.requests[0].computed, vec![("cpu_result".into(), 100000)]);
        let Some(Check::Regex(r)) = &p.requests[0].check else {
            panic!()
        };
        assert!(
            r.contains("@@cpu_result@@") && r.contains(r#""n"\s*:\s*100000"#),
            "{r}"
        );
        assert!(r.contains(r"^\s*\{"), "literal braces kept: {r}");
        assert_eq!(p.users, 20);
        assert!((p.pacing_s - 0.2).abs() < 1e-12);
        assert!(p.notes[0].contains("closed loop"));
    }

    #[test]
    fn a_calibrated_workload_is_not_exported() {
        let e = Plan::new(&w("mixed-time"), "http://h:1", &Settings::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("mixed-time") && e.contains("heavy_n"), "{e}");
        // mixed-slo is the mixed pattern at one rate, like any capacity workload.
        let p = Plan::new(&w("mixed-slo"), "http://h:1", &Settings::default()).unwrap();
        assert_eq!(p.requests.len(), 2);
    }

    #[test]
    fn mixed_keeps_weights_and_heavy_n() {
        let p = Plan::new(&w("mixed"), "http://h:1", &Settings::default()).unwrap();
        assert_eq!(p.requests.len(), 2);
        assert_eq!(p.requests[0].weight, 50);
        assert_eq!(p.requests[1].path, "/cpu?n=1000000");
        assert_eq!(p.answers(), vec![("cpu_result".into(), 1000000)]);
    }

    #[test]
    fn crud_ids_are_per_request_and_deletes_each_once() {
        let s = Settings::default();
        let p = Plan::new(&w("crud"), "http://h:1", &s).unwrap();
        let by = |n: &str| p.requests.iter().find(|r| r.name == n).unwrap();
        assert_eq!(by("read").path, "/items/@@id@@");
        assert_eq!(
            by("read").ids,
            Some(Ids::Cycle {
                first: 1,
                last: 500
            })
        );
        assert_eq!(
            by("update").ids,
            Some(Ids::Cycle {
                first: 501,
                last: 1000
            })
        );
        // 100 req/s × (30 s + 10 s) × 1.5 + 8.
        assert_eq!(
            by("delete").ids,
            Some(Ids::Once {
                base: DELETE_BASE,
                per_process: 6008
            })
        );
        assert_eq!(by("list").ids, None);
        assert_eq!(by("list").path, "/items?limit=10");
        assert_eq!(by("create").ids, None);
        let weights: Vec<u32> = p.requests.iter().map(|r| r.weight).collect();
        assert_eq!(weights, vec![70, 10, 10, 7, 3]);
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains("generate_series(1000000000")),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn vector_checks_a_captured_float() {
        let p = Plan::new(&w("vector"), "http://h:1", &Settings::default()).unwrap();
        let r = &p.requests[0];
        assert_eq!(r.float_answer, Some(("vector_result".into(), 1_000_000)));
        assert!(r.computed.is_empty());
        let Some(Check::Regex(re)) = &r.check else {
            panic!()
        };
        assert!(re.contains(NUMBER_GROUP) && !re.contains("@@"), "{re}");
        let re = regex::Regex::new(re).unwrap();
        let c = re
            .captures(r#"{"n":1000000,"result":332833500.00000006}"#)
            .unwrap();
        assert_eq!(c.get(1).unwrap().as_str(), "332833500.00000006");
        assert!(!re.is_match(r#"{"n":1000000,"result":"x"}"#));
        assert_eq!(p.answers(), vec![("vector_result".into(), 1_000_000)]);
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let s = Settings::default();
        let e = Plan::new(&w("ws-hold"), "http://h:1", &s).unwrap_err();
        assert!(e.to_string().contains("ws-hold"), "{e}");
        let e = Plan::new(&w("cold-start"), "http://h:1", &s).unwrap_err();
        assert!(e.to_string().contains("per-target"), "{e}");
        let e = Plan::new(&w("stream"), "http://h:1", &s).unwrap_err();
        assert!(e.to_string().contains("announced"), "{e}");
        let e = Plan::new(&w("json"), "ftp://h", &s).unwrap_err();
        assert!(e.to_string().contains("http://"), "{e}");
        let e = Plan::new(&w("json"), "http://h:1/json", &s).unwrap_err();
        assert!(e.to_string().contains("base URL"), "{e}");
        let bad = Settings {
            rate: 0.0,
            ..Settings::default()
        };
        assert!(Plan::new(&w("json"), "http://h:1", &bad)
            .unwrap_err()
            .to_string()
            .contains("--rate"));
    }
}
