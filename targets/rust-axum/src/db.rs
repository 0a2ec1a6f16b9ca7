//! The database endpoints of docs/contract.md ("Database endpoints"): `/db`, `/queries`, `/fortunes`,
//! `/updates` and the `/items` CRUD resource, on tokio-postgres through a deadpool-postgres pool of
//! `DB_POOL` connections (one pool per process; statements prepared once per connection with
//! `prepare_cached`), plus `/vector` (a plain loop). Without a database URL the database routes
//! answer 503 and the rest of the server runs as before.
//!
//! Reads are one query per row, awaited one after another (no batching, no pipelining, no cache);
//! `/updates` writes one `UPDATE` per distinct row, in id order, outside a transaction. `/fortunes`
//! is rendered by hand with HTML escaping of `& < > " '` (no template crate).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{HeaderValue, CONTENT_TYPE, SERVER};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use rand::Rng;
use serde::Deserialize;
use serde_json::json;

/// Largest accepted `/vector` n.
const MAX_VECTOR_N: u64 = 10_000_000;

/// A pool of at most `max_size` connections to `url` (a `postgresql://` URL), opened on demand.
pub fn pool(url: &str, max_size: usize) -> Result<Pool, String> {
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| format!("DATABASE_URL '{url}': {e}"))?;
    let manager = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(max_size)
        .build()
        .map_err(|e| format!("database pool: {e}"))
}

/// The database routes and `/vector`; `pool` is `None` when the run has no database.
pub fn router(pool: Option<Pool>) -> Router {
    Router::new()
        .route("/db", get(single_query))
        .route("/queries", get(queries))
        .route("/updates", get(updates))
        .route("/fortunes", get(fortunes))
        .route("/items", get(list_items).post(create_item))
        .route(
            "/items/{id}",
            get(read_item).put(update_item).delete(delete_item),
        )
        .route("/vector", get(vector))
        .with_state(pool)
        .layer(axum::middleware::map_response(
            |mut res: Response| async move {
                res.headers_mut()
                    .insert(SERVER, HeaderValue::from_static("axum"));
                res
            },
        ))
}

type Db = State<Option<Pool>>;

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn db_error(e: impl std::fmt::Display) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, format!("database: {e}"))
}

fn no_database() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "no database: set DATABASE_URL",
    )
}

/// A pooled connection, or the answer to give: 503 without a database, 500 if none can be had.
async fn connection(pool: &Option<Pool>) -> Result<Object, Response> {
    let Some(pool) = pool else {
        return Err(no_database());
    };
    pool.get().await.map_err(db_error)
}

/// The value of `key` in a raw query string, if present.
fn param<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
}

/// An integer parameter clamped to `min..=max`; `default` when missing or not an integer.
fn clamped(query: Option<&str>, key: &str, default: i64, min: i64, max: i64) -> i64 {
    param(query, key)
        .and_then(|v| v.parse::<i64>().ok())
        .map_or(default, |n| n.clamp(min, max))
}

/// The TechEmpower rule for `q`: missing, not an integer or < 1 → 1; > 500 → 500.
fn query_count(query: Option<&str>) -> usize {
    clamped(query, "q", 1, 1, 500) as usize
}

fn random_id() -> i32 {
    rand::rng().random_range(1..=10_000)
}

/// A random number in 1..=10000 other than `old` (uniform), so that every row read is really written.
fn new_random_number(old: i32) -> i32 {
    let n = rand::rng().random_range(1..=9_999);
    if n < old {
        n
    } else {
        n + 1
    }
}

const WORLD_SQL: &str = "SELECT id, randomnumber FROM world WHERE id = $1";

/// `count` random rows of `world`, one query each.
async fn random_worlds(client: &Object, count: usize) -> Result<Vec<(i32, i32)>, Response> {
    let stmt = client.prepare_cached(WORLD_SQL).await.map_err(db_error)?;
    let mut rows = Vec::with_capacity(count);
    for _ in 0..count {
        let row = client
            .query_one(&stmt, &[&random_id()])
            .await
            .map_err(db_error)?;
        rows.push((row.get(0), row.get(1)));
    }
    Ok(rows)
}

fn worlds_json(rows: &[(i32, i32)]) -> serde_json::Value {
    rows.iter()
        .map(|(id, n)| json!({"id": id, "randomNumber": n}))
        .collect()
}

async fn single_query(State(pool): Db) -> Response {
    let client = match connection(&pool).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match random_worlds(&client, 1).await {
        Ok(rows) => Json(json!({"id": rows[0].0, "randomNumber": rows[0].1})).into_response(),
        Err(r) => r,
    }
}

async fn queries(State(pool): Db, RawQuery(q): RawQuery) -> Response {
    let client = match connection(&pool).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match random_worlds(&client, query_count(q.as_deref())).await {
        Ok(rows) => Json(worlds_json(&rows)).into_response(),
        Err(r) => r,
    }
}

async fn updates(State(pool): Db, RawQuery(q): RawQuery) -> Response {
    let client = match connection(&pool).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut rows = match random_worlds(&client, query_count(q.as_deref())).await {
        Ok(rows) => rows,
        Err(r) => return r,
    };
    // A repeated id gets one new value (what is written and what every entry shows).
    let mut new: BTreeMap<i32, i32> = BTreeMap::new();
    for (id, n) in &mut rows {
        *n = *new.entry(*id).or_insert_with(|| new_random_number(*n));
    }
    let stmt = match client
        .prepare_cached("UPDATE world SET randomnumber = $1 WHERE id = $2")
        .await
    {
        Ok(s) => s,
        Err(e) => return db_error(e),
    };
    for (id, n) in &new {
        if let Err(e) = client.execute(&stmt, &[n, id]).await {
            return db_error(e);
        }
    }
    Json(worlds_json(&rows)).into_response()
}

/// `s` with `& < > " '` replaced by HTML entities.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// TechEmpower's fortunes page for `rows` (already sorted).
pub fn fortunes_html(rows: &[(i32, String)]) -> String {
    let mut html = String::from(
        "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>",
    );
    for (id, message) in rows {
        html.push_str(&format!(
            "<tr><td>{id}</td><td>{}</td></tr>",
            escape_html(message)
        ));
    }
    html.push_str("</table></body></html>");
    html
}

async fn fortunes(State(pool): Db) -> Response {
    let client = match connection(&pool).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let stmt = match client
        .prepare_cached("SELECT id, message FROM fortune")
        .await
    {
        Ok(s) => s,
        Err(e) => return db_error(e),
    };
    let mut rows: Vec<(i32, String)> = match client.query(&stmt, &[]).await {
        Ok(rows) => rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
        Err(e) => return db_error(e),
    };
    rows.push((0, "Additional fortune added at request time.".into()));
    // String order is byte order of UTF-8, which is code-point order.
    rows.sort_by(|a, b| a.1.cmp(&b.1));
    (
        [(CONTENT_TYPE, "text/html; charset=utf-8")],
        fortunes_html(&rows),
    )
        .into_response()
}

/// The JSON body of POST and PUT /items.
#[derive(Debug, Deserialize)]
pub struct ItemIn {
    name: String,
    price_cents: i32,
}

/// `body` as a valid item, or a message naming what is wrong.
pub fn parse_item(body: &[u8]) -> Result<ItemIn, String> {
    let item: ItemIn = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the body must be a JSON object {{\"name\": string, \"price_cents\": integer}}: {e}"
        )
    })?;
    if item.name.chars().count() > 200 {
        return Err("name must be at most 200 characters".into());
    }
    if item.price_cents < 0 {
        return Err("price_cents must be 0 or more".into());
    }
    Ok(item)
}

fn item_json(row: &tokio_postgres::Row) -> serde_json::Value {
    json!({"id": row.get::<_, i64>(0), "name": row.get::<_, String>(1), "price_cents": row.get::<_, i32>(2)})
}

/// The path's item id; anything that is not a bigint names no item.
fn item_id(raw: &str) -> Option<i64> {
    raw.parse().ok()
}

fn no_item(raw: &str) -> Response {
    error(StatusCode::NOT_FOUND, format!("no item {raw}"))
}

/// Runs `sql` with `params` and answers the item it returns (or 404 when none).
async fn item_statement(
    pool: &Option<Pool>,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    raw_id: &str,
    status: StatusCode,
) -> Response {
    let client = match connection(pool).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let stmt = match client.prepare_cached(sql).await {
        Ok(s) => s,
        Err(e) => return db_error(e),
    };
    match client.query_opt(&stmt, params).await {
        Ok(Some(row)) => (status, Json(item_json(&row))).into_response(),
        Ok(None) => no_item(raw_id),
        Err(e) => db_error(e),
    }
}

async fn list_items(State(pool): Db, RawQuery(q): RawQuery) -> Response {
    let client = match connection(&pool).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let limit = clamped(q.as_deref(), "limit", 10, 1, 100);
    let stmt = match client
        .prepare_cached("SELECT id, name, price_cents FROM items ORDER BY id LIMIT $1")
        .await
    {
        Ok(s) => s,
        Err(e) => return db_error(e),
    };
    match client.query(&stmt, &[&limit]).await {
        Ok(rows) => Json(rows.iter().map(item_json).collect::<Vec<_>>()).into_response(),
        Err(e) => db_error(e),
    }
}

async fn create_item(State(pool): Db, body: Bytes) -> Response {
    if pool.is_none() {
        return no_database();
    }
    let item = match parse_item(&body) {
        Ok(i) => i,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    item_statement(
        &pool,
        "INSERT INTO items (name, price_cents) VALUES ($1, $2) RETURNING id, name, price_cents",
        &[&item.name, &item.price_cents],
        "",
        StatusCode::CREATED,
    )
    .await
}

async fn read_item(State(pool): Db, Path(raw): Path<String>) -> Response {
    let Some(id) = item_id(&raw) else {
        return no_item(&raw);
    };
    item_statement(
        &pool,
        "SELECT id, name, price_cents FROM items WHERE id = $1",
        &[&id],
        &raw,
        StatusCode::OK,
    )
    .await
}

async fn update_item(State(pool): Db, Path(raw): Path<String>, body: Bytes) -> Response {
    if pool.is_none() {
        return no_database();
    }
    let item = match parse_item(&body) {
        Ok(i) => i,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let Some(id) = item_id(&raw) else {
        return no_item(&raw);
    };
    item_statement(
        &pool,
        "UPDATE items SET name = $1, price_cents = $2 WHERE id = $3 RETURNING id, name, price_cents",
        &[&item.name, &item.price_cents, &id],
        &raw,
        StatusCode::OK,
    )
    .await
}

async fn delete_item(State(pool): Db, Path(raw): Path<String>) -> Response {
    let client = match connection(&pool).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(id) = item_id(&raw) else {
        return no_item(&raw);
    };
    let stmt = match client
        .prepare_cached("DELETE FROM items WHERE id = $1")
        .await
    {
        Ok(s) => s,
        Err(e) => return db_error(e),
    };
    match client.execute(&stmt, &[&id]).await {
        Ok(0) => no_item(&raw),
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => db_error(e),
    }
}

/// The sum of squares of x_i = (i mod 1000) / 1000 for i in 0..n, a plain loop.
pub fn vector_sum(n: u64) -> f64 {
    let mut sum = 0.0;
    for i in 0..n {
        let x = (i % 1000) as f64 / 1000.0;
        sum += x * x;
    }
    sum
}

async fn vector(RawQuery(q): RawQuery) -> Response {
    match crate::contract::int_param(q.as_deref(), "n", MAX_VECTOR_N) {
        Ok(n) => Json(json!({"n": n, "result": vector_sum(n)})).into_response(),
        Err(message) => error(StatusCode::BAD_REQUEST, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_follows_the_techempower_rule() {
        for (q, n) in [
            (None, 1),
            (Some("q=foo"), 1),
            (Some("q=0"), 1),
            (Some("q=-5"), 1),
            (Some("q=7"), 7),
            (Some("x=1&q=500"), 500),
            (Some("q=501"), 500),
        ] {
            assert_eq!(query_count(q), n, "{q:?}");
        }
        assert_eq!(clamped(None, "limit", 10, 1, 100), 10);
        assert_eq!(clamped(Some("limit=0"), "limit", 10, 1, 100), 1);
        assert_eq!(clamped(Some("limit=1000"), "limit", 10, 1, 100), 100);
    }

    #[test]
    fn new_random_numbers_differ_and_stay_in_range() {
        for old in [1, 2, 5000, 9999, 10_000] {
            for _ in 0..200 {
                let n = new_random_number(old);
                assert!((1..=10_000).contains(&n) && n != old, "{old} → {n}");
            }
        }
    }

    #[test]
    fn fortunes_escape_markup() {
        let html = fortunes_html(&[(11, "<script>alert(\"x\" & 'y');</script>".into())]);
        assert!(html.starts_with("<!DOCTYPE html><html><head><title>Fortunes</title>"));
        assert!(html.contains(
            "<tr><td>11</td><td>&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;);&lt;/script&gt;</td></tr>"
        ));
        assert!(html.ends_with("</table></body></html>"));
    }

    #[test]
    fn item_bodies_are_validated() {
        assert!(parse_item(br#"{"name":"a","price_cents":0}"#).is_ok());
        assert!(parse_item(
            format!(r#"{{"name":"{}","price_cents":1}}"#, "é".repeat(200)).as_bytes()
        )
        .is_ok());
        for bad in [
            r#"{"name":"a"}"#.to_string(),
            r#"{"price_cents":1}"#.to_string(),
            r#"{"name":5,"price_cents":1}"#.to_string(),
            r#"{"name":"a","price_cents":"1"}"#.to_string(),
            r#"{"name":"a","price_cents":1.5}"#.to_string(),
            r#"{"name":"a","price_cents":-1}"#.to_string(),
            r#"{"name":"a","price_cents":4294967296}"#.to_string(),
            format!(r#"{{"name":"{}","price_cents":1}}"#, "x".repeat(201)),
            "[1,2]".to_string(),
            "{not json".to_string(),
        ] {
            assert!(parse_item(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn vector_sum_matches_closed_forms() {
        assert_eq!(vector_sum(0), 0.0);
        assert_eq!(vector_sum(1), 0.0);
        // One full period: sum of (i/1000)^2 for i < 1000 = 999·1000·1999 / 6 / 10^6.
        let period = 999.0 * 1000.0 * 1999.0 / 6.0 / 1e6;
        assert!((vector_sum(1000) - period).abs() < 1e-9 * period);
        assert!((vector_sum(5000) - 5.0 * period).abs() < 1e-9 * 5.0 * period);
    }
}
