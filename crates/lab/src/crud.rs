//! The CRUD load model (issue 18's `crud` workload; its measuring code, registered with the
//! workload registry separately): a REST resource `/items` under a documented mix of operations,
//! each with its own latency, searched for its capacity at the SLO with open-loop rungs like
//! `io-slo` ([`crate::search`]).
//!
//! The mix ([`MIX`]): 70% `GET /items/{id}`, 10% `GET /items?limit=10`, 10% `POST /items`, 7%
//! `PUT /items/{id}`, 3% `DELETE /items/{id}`. Each operation is its own open-loop load engine
//! at its share of the rung's rate, all five running at once (as `mixed` runs two), because the
//! engine sends one request shape per run; the ids vary through the engine's cycled paths
//! ([`loadgen::LoadConfig::paths`]) over ranges that do not interfere: reads over
//! [`READ_IDS`], updates over [`UPDATE_IDS`] (never deleted), deletes over rows seeded before
//! each rung at [`DELETE_BASE`] and up ([`seed_deletes`], more than the busiest delete connection
//! can send, so no delete finds its row gone). Created rows get new ids from the table's sequence
//! and are left for the reset between cells. Every response is validated (status 200/201/204,
//! and the item's shape for the reads): a wrong answer is an error, never a fast success.
//!
//! A rung passes when every operation meets the SLO: its corrected p99 is the worst operation's
//! ([`CrudRung::point`]), its errors all operations', its achieved rate their sum. The database's
//! CPU per request is measured over the same window when the lab runs the database
//! ([`crate::postgres::Postgres::cpu_seconds`]).

use std::time::{Duration, Instant};

use loadgen::{BodyExpectation, LoadConfig, Report, StatusExpectation, StopCondition, Validation};
use store::LadderPoint;

use crate::postgres::{Database, DbError, Postgres};

/// One operation of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrudOp {
    /// `GET /items/{id}`.
    Read,
    /// `GET /items?limit=10`.
    List,
    /// `POST /items`.
    Create,
    /// `PUT /items/{id}`.
    Update,
    /// `DELETE /items/{id}`.
    Delete,
}

/// The documented mix: (operation, share of requests). The shares add up to 1.
pub const MIX: [(CrudOp, f64); 5] = [
    (CrudOp::Read, 0.70),
    (CrudOp::List, 0.10),
    (CrudOp::Create, 0.10),
    (CrudOp::Update, 0.07),
    (CrudOp::Delete, 0.03),
];

/// Ids read by `GET /items/{id}` (seeded by the schema: items 1..=1000 exist after a reset).
pub const READ_IDS: std::ops::RangeInclusive<u64> = 1..=500;
/// Ids written by `PUT /items/{id}` (never deleted).
pub const UPDATE_IDS: std::ops::RangeInclusive<u64> = 501..=1000;
/// The first id of the rows seeded for deletion (far above the sequence's reach in a cell).
pub const DELETE_BASE: u64 = 1_000_000_000;
/// The list's limit.
pub const LIST_LIMIT: u32 = 10;

impl CrudOp {
    pub fn name(&self) -> &'static str {
        match self {
            CrudOp::Read => "read",
            CrudOp::List => "list",
            CrudOp::Create => "create",
            CrudOp::Update => "update",
            CrudOp::Delete => "delete",
        }
    }

    pub fn share(&self) -> f64 {
        MIX.iter().find(|(o, _)| o == self).map_or(0.0, |(_, s)| *s)
    }

    pub fn method(&self) -> http::Method {
        match self {
            CrudOp::Read | CrudOp::List => http::Method::GET,
            CrudOp::Create => http::Method::POST,
            CrudOp::Update => http::Method::PUT,
            CrudOp::Delete => http::Method::DELETE,
        }
    }

    /// The status a correct answer has.
    pub fn status(&self) -> u16 {
        match self {
            CrudOp::Create => 201,
            CrudOp::Delete => 204,
            _ => 200,
        }
    }

    /// What a correct body looks like (None: not checked beyond the status).
    fn body(&self) -> Option<BodyExpectation> {
        let item = r#"\{[^{}]*"price_cents"\s*:\s*\d+[^{}]*\}"#;
        let pattern = match self {
            CrudOp::Read | CrudOp::Create | CrudOp::Update => format!(r"^\s*{item}\s*$"),
            CrudOp::List => format!(
                r"^\s*\[\s*{item}(\s*,\s*{item}){{{}}}\s*\]\s*$",
                LIST_LIMIT - 1
            ),
            CrudOp::Delete => return Some(BodyExpectation::Exact(bytes::Bytes::new())),
        };
        Some(BodyExpectation::regex(&pattern).expect("the lab's own patterns compile"))
    }

    /// The request body (POST and PUT).
    fn request_body(&self) -> &'static str {
        match self {
            CrudOp::Create => r#"{"name":"load item","price_cents":1234}"#,
            CrudOp::Update => r#"{"name":"updated item","price_cents":4321}"#,
            _ => "",
        }
    }
}

/// How one rung runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RungPlan {
    /// Offered requests per second over all operations.
    pub rate: f64,
    pub duration: Duration,
    pub warmup: Duration,
    /// Connections of the whole rung (spread over the operations by share, at least 1 each).
    pub connections: usize,
}

impl RungPlan {
    /// Connections of one operation.
    pub fn connections_of(&self, op: CrudOp) -> usize {
        ((self.connections as f64 * op.share()).ceil() as usize).max(1)
    }

    /// Rate of one operation.
    pub fn rate_of(&self, op: CrudOp) -> f64 {
        self.rate * op.share()
    }

    /// Rows to seed for deletion: enough that no delete connection runs out even if it sends
    /// every delete of the rung alone (so the engine's cycle never comes back to a deleted id),
    /// over the warm-up, the window and the engine's grace, with a margin.
    pub fn deletes_needed(&self) -> u64 {
        let span = (self.warmup + self.duration + Duration::from_secs(1)).as_secs_f64();
        let per_rung = (self.rate_of(CrudOp::Delete) * span * 1.5).ceil() as u64 + 8;
        per_rung * self.connections_of(CrudOp::Delete) as u64
    }
}

/// Seeds `n` rows for deletion at [`DELETE_BASE`] and up (those left from an earlier rung are
/// replaced). Returns the ids, for [`rung_configs`].
pub fn seed_deletes(db: &Database, n: u64) -> Result<std::ops::Range<u64>, DbError> {
    let ids = DELETE_BASE..DELETE_BASE + n;
    db.sql(&format!(
        "DELETE FROM items WHERE id >= {DELETE_BASE};\n\
         INSERT INTO items (id, name, price_cents) SELECT x, 'to delete ' || x, 1 FROM generate_series({}, {}) AS x;",
        ids.start,
        ids.end - 1
    ))?;
    Ok(ids)
}

/// Why a CRUD rung did not run: which operation's engine, and what it said.
#[derive(Debug, thiserror::Error)]
pub enum CrudError {
    /// The operation's engine configuration is invalid.
    #[error("{}: {source}", .op.name())]
    Config {
        op: CrudOp,
        source: loadgen::ConfigError,
    },
    /// The operation's load engine failed.
    #[error("load engine ({}): {source}", .op.name())]
    Engine {
        op: CrudOp,
        source: loadgen::EngineError,
    },
    /// Stopped (Ctrl-C) before the rung finished.
    #[error("interrupted")]
    Interrupted,
}

/// One engine configuration per operation of the mix, for `base_url` (the target).
pub fn rung_configs(
    base_url: &str,
    plan: &RungPlan,
    delete_ids: std::ops::Range<u64>,
    client_cpus: &[usize],
    timeout: Duration,
) -> Result<Vec<(CrudOp, LoadConfig)>, CrudError> {
    let mut out = Vec::new();
    for (op, _) in MIX {
        let (path, paths): (String, Vec<String>) = match op {
            CrudOp::Read => (
                "/items/1".into(),
                READ_IDS.map(|i| format!("/items/{i}")).collect(),
            ),
            CrudOp::List => (format!("/items?limit={LIST_LIMIT}"), vec![]),
            CrudOp::Create => ("/items".into(), vec![]),
            CrudOp::Update => (
                "/items/501".into(),
                UPDATE_IDS.map(|i| format!("/items/{i}")).collect(),
            ),
            CrudOp::Delete => (
                format!("/items/{}", delete_ids.start),
                delete_ids.clone().map(|i| format!("/items/{i}")).collect(),
            ),
        };
        let target = loadgen::Target::parse(&format!("{base_url}{path}"))
            .map_err(|source| CrudError::Config { op, source })?;
        let mut c = LoadConfig::new(target);
        let connections = plan.connections_of(op);
        c.connections = connections;
        c.threads = client_cpus.len().max(1).min(connections);
        c.pin = (!client_cpus.is_empty()).then(|| client_cpus.to_vec());
        c.stop = StopCondition {
            duration: Some(plan.duration),
            requests: None,
        };
        c.warmup = plan.warmup;
        c.rate = Some(plan.rate_of(op));
        c.timeout = timeout;
        c.keep_histograms = true;
        c.method = op.method();
        let body = op.request_body();
        if !body.is_empty() {
            c.body = bytes::Bytes::from_static(body.as_bytes());
            c.headers.push((
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            ));
        }
        c.paths = paths;
        c.validation = Validation {
            status: StatusExpectation::Exact(op.status()),
            body: op.body(),
        };
        c.validate()
            .map_err(|source| CrudError::Config { op, source })?;
        out.push((op, c));
    }
    Ok(out)
}

/// One operation's figures in a rung.
#[derive(Debug, Clone)]
pub struct OpResult {
    pub op: CrudOp,
    pub offered_rps: f64,
    pub achieved_rps: f64,
    /// Corrected for coordinated omission (from each request's scheduled time).
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Errors and wrong answers.
    pub errors: u64,
    pub completed: u64,
    pub report: Report,
}

/// A rung of the mix.
#[derive(Debug, Clone)]
pub struct CrudRung {
    pub offered_rps: f64,
    pub ops: Vec<OpResult>,
    /// Database CPU seconds over the measuring window (the lab's cluster only).
    pub db_cpu_s: Option<f64>,
    pub window_s: f64,
}

impl CrudRung {
    /// Completed requests over all operations.
    pub fn completed(&self) -> u64 {
        self.ops.iter().map(|o| o.completed).sum()
    }

    /// A load engine was saturated (its CPU use at [`crate::stats::BUSY_LIMIT`] or above): the
    /// rung's latency includes the load side's, so a capacity it decides is a lower bound. With the
    /// lab's database on the same CPUs, that is the "database-bound on this machine" case.
    pub fn load_side_saturated(&self) -> bool {
        self.ops
            .iter()
            .any(|o| o.report.engine_cpu.utilisation >= crate::stats::BUSY_LIMIT)
    }

    /// The database's CPU per completed request, µs.
    pub fn db_cpu_us_per_req(&self) -> Option<f64> {
        let n = self.completed();
        self.db_cpu_s.filter(|_| n > 0).map(|s| s * 1e6 / n as f64)
    }

    /// The rung as one ladder point: achieved = the sum, p99 = the worst operation's (each must
    /// meet the SLO), p50 = the read's (the bulk of the mix), errors = all of them.
    pub fn point(&self, server_cpu_s: Option<f64>) -> LadderPoint {
        let worst = |f: fn(&OpResult) -> Option<f64>| {
            self.ops
                .iter()
                .map(|o| f(o).unwrap_or(f64::INFINITY))
                .fold(f64::NEG_INFINITY, f64::max)
        };
        LadderPoint {
            offered_rps: self.offered_rps,
            achieved_rps: self.ops.iter().map(|o| o.achieved_rps).sum(),
            p50_ms: self
                .ops
                .iter()
                .find(|o| o.op == CrudOp::Read)
                .and_then(|o| o.p50_ms)
                .unwrap_or(f64::NAN),
            p99_ms: worst(|o| o.p99_ms),
            errors: self.ops.iter().map(|o| o.errors).sum(),
            server_cores: server_cpu_s
                .filter(|_| self.window_s > 0.0)
                .map(|s| s / self.window_s),
        }
    }
}

fn ms_at(s: Option<&loadgen::report::LatencyStats>, p: f64) -> Option<f64> {
    crate::workload::http::ms_at(s, p)
}

/// Runs the five engines of a rung at once. `on_window` is called when measuring starts (true)
/// and when every engine is done (false), to align the caller's server meters on the window;
/// `stop` ends the rung early (Ctrl-C) with an error.
pub fn run_rung(
    configs: Vec<(CrudOp, LoadConfig)>,
    db: Option<&Postgres>,
    on_window: &mut dyn FnMut(bool),
    stop: &dyn Fn() -> bool,
) -> Result<CrudRung, CrudError> {
    let offered: f64 = configs.iter().filter_map(|(_, c)| c.rate).sum();
    let mut handles = Vec::new();
    for (op, c) in &configs {
        match loadgen::start(c.clone()) {
            Ok(h) => handles.push((*op, c.rate.unwrap_or(0.0), h)),
            Err(e) => {
                for (_, _, h) in &handles {
                    h.stop();
                }
                return Err(CrudError::Engine { op: *op, source: e });
            }
        }
    }
    let mut window: Option<(Instant, Option<f64>)> = None;
    loop {
        if stop() {
            for (_, _, h) in &handles {
                h.stop();
            }
            for (_, _, h) in handles {
                let _ = h.join();
            }
            if window.is_some() {
                on_window(false);
            }
            return Err(CrudError::Interrupted);
        }
        if window.is_none() && handles[0].2.progress().phase == loadgen::engine::Phase::Measuring {
            window = Some((Instant::now(), db.and_then(|p| p.cpu_seconds().ok())));
            on_window(true);
        }
        if handles.iter().all(|(_, _, h)| h.is_finished()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let (at, db0) = window.unwrap_or((Instant::now(), None));
    if window.is_none() {
        on_window(true);
    }
    on_window(false);
    let window_s = at.elapsed().as_secs_f64();
    let db_cpu_s = match (db0, db.and_then(|p| p.cpu_seconds().ok())) {
        (Some(a), Some(b)) => Some((b - a).max(0.0)),
        _ => None,
    };
    let mut ops = Vec::new();
    for (op, rate, h) in handles {
        let r = h
            .join()
            .map_err(|source| CrudError::Engine { op, source })?;
        let achieved = r.rate.as_ref().map_or(r.throughput_rps, |o| o.achieved_rps);
        // Open loop: from each request's scheduled time (corrected for coordinated omission).
        let lat = r.latency.from_schedule.as_ref();
        ops.push(OpResult {
            op,
            offered_rps: rate,
            achieved_rps: achieved,
            p50_ms: ms_at(lat, 50.0),
            p99_ms: ms_at(lat, 99.0),
            errors: crate::workload::http::bad_responses(&r),
            completed: r.requests.completed,
            report: r,
        });
    }
    Ok(CrudRung {
        offered_rps: offered,
        ops,
        db_cpu_s,
        window_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_adds_up_and_is_documented() {
        let total: f64 = MIX.iter().map(|(_, s)| s).sum();
        assert!((total - 1.0).abs() < 1e-12);
        let plan = RungPlan {
            rate: 1000.0,
            duration: Duration::from_secs(2),
            warmup: Duration::from_secs(1),
            connections: 64,
        };
        assert_eq!(plan.rate_of(CrudOp::Read), 700.0);
        assert!((plan.rate_of(CrudOp::Delete) - 30.0).abs() < 1e-9);
        assert_eq!(plan.connections_of(CrudOp::Read), 45);
        assert_eq!(plan.connections_of(CrudOp::Delete), 2);
        // 30 deletes/s over 4 s = 120; ×1.5 + 8 = 188 per connection, 2 connections.
        assert_eq!(plan.deletes_needed(), 376);
        assert_eq!(
            MIX.map(|(o, _)| o.method().to_string()),
            ["GET", "GET", "POST", "PUT", "DELETE"]
        );
    }

    #[test]
    fn configs_cycle_ids_over_their_ranges() {
        let plan = RungPlan {
            rate: 200.0,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            connections: 16,
        };
        let c = rung_configs(
            "http://127.0.0.1:9",
            &plan,
            DELETE_BASE..DELETE_BASE + 50,
            &[],
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(c.len(), 5);
        let of = |op: CrudOp| &c.iter().find(|(o, _)| *o == op).unwrap().1;
        assert_eq!(of(CrudOp::Read).paths.len(), 500);
        assert_eq!(of(CrudOp::Read).paths[0], "/items/1");
        assert_eq!(of(CrudOp::Update).paths[0], "/items/501");
        assert_eq!(of(CrudOp::Delete).paths.len(), 50);
        assert_eq!(of(CrudOp::Delete).paths[0], format!("/items/{DELETE_BASE}"));
        assert!(of(CrudOp::List).paths.is_empty());
        assert_eq!(of(CrudOp::Create).body.len(), 39);
        assert_eq!(of(CrudOp::Update).method, http::Method::PUT);
        let sum: f64 = c.iter().filter_map(|(_, c)| c.rate).sum();
        assert!((sum - 200.0).abs() < 1e-9);
    }

    /// An in-memory `/items` server (ids 1..=1000 and the delete range seeded).
    fn items_server(delete_ids: std::ops::Range<u64>) -> std::net::SocketAddr {
        use axum::extract::{Path, State};
        use axum::routing::get;
        use std::collections::BTreeMap;
        use std::sync::{Arc, Mutex};
        type Items = Arc<Mutex<(BTreeMap<u64, (String, i64)>, u64)>>;
        let mut m = BTreeMap::new();
        for i in (1..=1000).chain(delete_ids) {
            m.insert(i, (format!("item {i}"), 7));
        }
        let items: Items = Arc::new(Mutex::new((m, 1000)));
        let json = |id: u64, v: &(String, i64)| {
            axum::Json(serde_json::json!({"id": id, "name": v.0, "price_cents": v.1}))
        };
        use axum::response::IntoResponse;
        let router = axum::Router::new()
            .route(
                "/items",
                get(move |State(s): State<Items>| async move {
                    let g = s.lock().unwrap();
                    let list: Vec<_> = g
                        .0
                        .iter()
                        .take(LIST_LIMIT as usize)
                        .map(|(id, v)| serde_json::json!({"id": id, "name": v.0, "price_cents": v.1}))
                        .collect();
                    axum::Json(list).into_response()
                })
                .post(move |State(s): State<Items>, body: String| async move {
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    let mut g = s.lock().unwrap();
                    g.1 += 1;
                    let id = g.1;
                    let item = (v["name"].as_str().unwrap().to_string(), v["price_cents"].as_i64().unwrap());
                    g.0.insert(id, item.clone());
                    (http::StatusCode::CREATED, json(id, &item)).into_response()
                }),
            )
            .route(
                "/items/{id}",
                get(move |State(s): State<Items>, Path(id): Path<u64>| async move {
                    match s.lock().unwrap().0.get(&id) {
                        Some(v) => json(id, v).into_response(),
                        None => http::StatusCode::NOT_FOUND.into_response(),
                    }
                })
                .put(move |State(s): State<Items>, Path(id): Path<u64>, body: String| async move {
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    let item = (v["name"].as_str().unwrap().to_string(), v["price_cents"].as_i64().unwrap());
                    let mut g = s.lock().unwrap();
                    match g.0.get_mut(&id) {
                        Some(x) => {
                            *x = item.clone();
                            json(id, &item).into_response()
                        }
                        None => http::StatusCode::NOT_FOUND.into_response(),
                    }
                })
                .delete(move |State(s): State<Items>, Path(id): Path<u64>| async move {
                    match s.lock().unwrap().0.remove(&id) {
                        Some(_) => http::StatusCode::NO_CONTENT.into_response(),
                        None => http::StatusCode::NOT_FOUND.into_response(),
                    }
                }),
            )
            .with_state(items);
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(l).unwrap();
                axum::serve(l, router).await.unwrap();
            });
        });
        addr
    }

    #[test]
    fn a_rung_runs_every_operation_at_its_share_with_valid_answers() {
        let plan = RungPlan {
            rate: 200.0,
            duration: Duration::from_secs(2),
            warmup: Duration::from_millis(200),
            connections: 16,
        };
        let ids = DELETE_BASE..DELETE_BASE + plan.deletes_needed();
        let addr = items_server(ids.clone());
        let configs = rung_configs(
            &format!("http://{addr}"),
            &plan,
            ids,
            &[],
            Duration::from_secs(5),
        )
        .unwrap();
        let mut windows = Vec::new();
        let rung = run_rung(configs, None, &mut |b| windows.push(b), &|| false).unwrap();
        assert_eq!(windows, [true, false]);
        assert_eq!(rung.ops.len(), 5);
        for o in &rung.ops {
            // Every answer right: statuses 200/201/204 and the item shapes (a delete that found
            // its row gone would answer 404 and count as an error).
            assert_eq!(o.errors, 0, "{:?}: {:?}", o.op, o.report.requests);
            // Each engine is offered its share of the rate (exact arithmetic). What it sends and
            // completes in the window depends on the machine: a loaded CI box held one engine (or
            // the one-thread test server) back for a whole window twice, so the test asserts that
            // every operation was scheduled and sent, never more than offered, and that every
            // answer that came back was right; the engine's own tests check open-loop rate accuracy.
            assert!((o.offered_rps - 200.0 * o.op.share()).abs() < 1e-9, "{o:?}");
            let most = 2.0 * 200.0 * o.op.share() * 1.4 + 2.0;
            let sent = o.report.requests.sent;
            assert!(
                sent >= 1 && sent as f64 <= most && o.completed <= sent,
                "{:?}: {sent} sent, {} completed for {}/s over 2 s",
                o.op,
                o.completed,
                o.offered_rps
            );
        }
        let p = rung.point(None);
        assert_eq!(p.errors, 0);
        assert!(p.p99_ms.is_finite() && p.p99_ms >= p.p50_ms, "{p:?}");
        assert!((p.offered_rps - 200.0).abs() < 1e-9);
        assert!(rung.db_cpu_us_per_req().is_none());
        // 200 req/s does not saturate the engines.
        assert!(!rung.load_side_saturated());
    }
}
