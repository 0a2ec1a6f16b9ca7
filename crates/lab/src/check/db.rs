//! The database endpoints' conformance (issue 18, /work/helper-notes/db-contract.md →
//! docs/contract.md), like TechEmpower's verifier: `/db` random ids in range, the row as stored,
//! one query per request; `/queries` and `/updates` the q rules (missing, `foo`, `0`, `501` → 1,
//! 1, 1, 500) and N reads each, no batching (counted through `pg_stat_statements`: reset,
//! request, read the calls); `/updates` rows actually written (read back); `/fortunes` parsed and
//! compared with the expected rows (the added fortune, order, escaping, header, markup); the CRUD
//! round trip (create → read → update → read → delete → 404, the list and its limit, invalid
//! bodies → 400/422); `/vector` within a relative 1e-9. Each failure names the rule it breaks.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use super::{common, json_body, shown, EndpointResult, Resp, Rng};
use crate::manifest::Endpoint;
use crate::postgres::{Database, WORLD_ROWS};

/// The fortune every response adds at request time.
pub const ADDED_FORTUNE: &str = "Additional fortune added at request time.";

/// `?q=` as TechEmpower reads it: missing, not an integer or < 1 → 1; > 500 → 500.
pub fn q_rule(raw: Option<&str>) -> u64 {
    match raw.and_then(|v| v.parse::<i64>().ok()) {
        Some(n) if n > 500 => 500,
        Some(n) if n >= 1 => n as u64,
        _ => 1,
    }
}

/// The exact markup, before the rows (TechEmpower's).
pub const FORTUNES_HEAD: &str = "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>";
/// After the rows.
pub const FORTUNES_TAIL: &str = "</table></body></html>";

/// A client over one keep-alive connection, reconnecting when the server closes it.
struct Client {
    addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
    timeout: Duration,
}

impl Client {
    fn new(addr: SocketAddr, timeout: Duration) -> Client {
        Client {
            addr,
            sender: None,
            timeout,
        }
    }

    async fn connect(&mut self) -> Result<(), String> {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", self.addr))?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with {} failed: {e}", self.addr))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    async fn send(&mut self, method: &str, path: &str, body: Option<&str>) -> Result<Resp, String> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.connect().await?;
        }
        let addr = self.addr;
        let sender = self.sender.as_mut().expect("connected");
        let t0 = Instant::now();
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, addr.to_string());
        if body.is_some() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or("").to_string())))
            .map_err(|e| e.to_string())?;
        let fut = async {
            sender
                .ready()
                .await
                .map_err(|e| format!("connection not usable: {e}"))?;
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| format!("no response: {e}"))?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("body could not be read: {e}"))?
                .to_bytes();
            Ok::<_, String>(Resp {
                status,
                headers,
                body,
                took: t0.elapsed(),
            })
        };
        let r = match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "no response within {:.1}s",
                self.timeout.as_secs_f64()
            )),
        };
        match &r {
            Ok(resp) if !super::announces_close(resp) => {}
            _ => self.sender = None,
        }
        r
    }
}

/// Checks one of the database endpoints (or `/vector`).
pub(super) async fn check(
    e: Endpoint,
    addr: SocketAddr,
    db: Option<&Database>,
    opts: &super::CheckOptions,
    rng: &mut Rng,
    result: &mut EndpointResult,
) {
    let mut client = Client::new(addr, opts.timeout);
    if e == Endpoint::Vector {
        check_vector(&mut client, rng, opts.requests.max(2), result).await;
        return;
    }
    let Some(db) = db else {
        // A run none of whose workloads uses the database starts none: the endpoint is not
        // measured, so it is not checked either (said, never passed silently). `targets check`
        // and the database workloads start one and check it.
        result.notes.push(
            "not checked: no database runs beside the target (no workload of this run uses one)"
                .into(),
        );
        return;
    };
    if !db.stats {
        result.notes.push(
            "pg_stat_statements is not available on this database: the query count per request is unchecked"
                .into(),
        );
    }
    let n = opts.requests.max(2);
    let r = match e {
        Endpoint::Db => check_db(&mut client, db, n.max(4), result).await,
        Endpoint::Queries => check_queries(&mut client, db, rng, n, false, result).await,
        Endpoint::Updates => check_queries(&mut client, db, rng, n, true, result).await,
        Endpoint::Fortunes => check_fortunes(&mut client, db, n, result).await,
        Endpoint::Crud => check_crud(&mut client, db, rng, result).await,
        _ => Ok(()),
    };
    if let Err(msg) = r {
        result.failures.push(msg);
    }
}

fn db_err(e: crate::postgres::DbError) -> String {
    format!("the checker's database access failed: {e}")
}

/// SELECT / UPDATE calls on `world` since the last reset, and batched reads (`IN (…)`,
/// `= ANY(…)`) seen.
struct WorldCounts {
    selects: u64,
    /// SELECT calls that are not batched reads.
    single_selects: u64,
    select_rows: u64,
    updates: u64,
    update_rows: u64,
    batched: Vec<String>,
}

fn world_counts(db: &Database) -> Result<WorldCounts, String> {
    let st = db.statements_on("world").map_err(db_err)?;
    let mut c = WorldCounts {
        selects: 0,
        single_selects: 0,
        select_rows: 0,
        updates: 0,
        update_rows: 0,
        batched: vec![],
    };
    for s in st {
        let q = s.query.trim_start().to_ascii_lowercase();
        if q.starts_with("select") || q.starts_with("with") {
            c.selects += s.calls;
            c.select_rows += s.rows;
            let flat = q.replace(' ', "");
            if flat.contains("in(") || flat.contains("any(") {
                c.batched.push(s.query.clone());
            } else {
                c.single_selects += s.calls;
            }
        } else if q.starts_with("update") {
            c.updates += s.calls;
            c.update_rows += s.rows;
        }
    }
    Ok(c)
}

/// The counts once they stop moving: `pg_stat_statements` records a statement when its executor
/// ends, which for an extended-protocol query (asyncpg, psycopg) can come a moment after the rows
/// reached the driver, so on a loaded machine the app may answer before its statements are counted
/// (seen once: FastAPI's /queries counted 0). Read until two reads 20 ms apart agree, at most
/// [`COUNT_SETTLE_READS`] times; the counts only grow after the reset.
async fn settled_world_counts(db: &Database) -> Result<WorldCounts, String> {
    let mut last = world_counts(db)?;
    for _ in 1..COUNT_SETTLE_READS {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let now = world_counts(db)?;
        if (now.selects, now.updates) == (last.selects, last.updates) {
            return Ok(now);
        }
        last = now;
    }
    Ok(last)
}

/// Most reads of [`settled_world_counts`] (about 200 ms).
const COUNT_SETTLE_READS: u32 = 10;

fn stat_reset(db: &Database) -> Result<(), String> {
    if db.stats {
        db.stat_reset().map_err(db_err)?;
    }
    Ok(())
}

/// The stored random numbers of `ids`.
fn stored(db: &Database, ids: &BTreeSet<i64>) -> Result<BTreeMap<i64, i64>, String> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let list: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    let rows = db
        .rows(&format!(
            "SELECT id, randomnumber FROM world WHERE id IN ({});",
            list.join(",")
        ))
        .map_err(db_err)?;
    Ok(rows
        .iter()
        .filter_map(|r| Some((r.first()?.parse().ok()?, r.get(1)?.parse().ok()?)))
        .collect())
}

/// `{"id":N,"randomNumber":M}` with both in 1..=10000, else a problem.
fn world_object(v: &serde_json::Value) -> Result<(i64, i64), String> {
    let o = v
        .as_object()
        .ok_or_else(|| format!("expected an object {{\"id\":N,\"randomNumber\":M}}, got {v}"))?;
    let id = o.get("id").and_then(|x| x.as_i64());
    let rn = o.get("randomNumber").and_then(|x| x.as_i64());
    match (id, rn) {
        (Some(id), Some(rn)) if o.len() == 2 => {
            if !(1..=WORLD_ROWS as i64).contains(&id) {
                Err(format!(
                    "id {id} is outside 1..={WORLD_ROWS} (rule: random ids in range)"
                ))
            } else if !(1..=10_000).contains(&rn) {
                Err(format!("randomNumber {rn} of id {id} is outside 1..=10000"))
            } else {
                Ok((id, rn))
            }
        }
        _ => Err(format!(
            "expected exactly the integer fields \"id\" and \"randomNumber\", got {v}"
        )),
    }
}

/// One GET of a world endpoint (/db, /queries, /updates) with the database's statement
/// statistics reset before it and read after it: the answer, its JSON body and the counts, or
/// `None` (the failure noted) when the request failed or its body is not JSON.
async fn world_request(
    client: &mut Client,
    db: &Database,
    path: &str,
    what: &str,
    result: &mut EndpointResult,
) -> Result<Option<(Resp, serde_json::Value, Option<WorldCounts>)>, String> {
    stat_reset(db)?;
    let r = match client.send("GET", path, None).await {
        Ok(r) => r,
        Err(e) => {
            result.failures.push(format!("{what}: {e}"));
            return Ok(None);
        }
    };
    result.requests += 1;
    let counts = if db.stats {
        Some(settled_world_counts(db).await?)
    } else {
        None
    };
    common(&r, "application/json", &mut result.failures, what);
    let body = json_body(&r, what, &mut result.failures);
    Ok(body.map(|v| (r, v, counts)))
}

async fn check_db(
    client: &mut Client,
    db: &Database,
    n: u32,
    result: &mut EndpointResult,
) -> Result<(), String> {
    let mut ids = Vec::new();
    for k in 0..n {
        let what = format!("request {} (GET /db)", k + 1);
        let Some((_, v, counts)) = world_request(client, db, "/db", &what, result).await? else {
            continue;
        };
        let out = &mut result.failures;
        match world_object(&v) {
            Err(e) => out.push(format!("{what}: {e}")),
            Ok((id, rn)) => {
                ids.push(id);
                let s = stored(db, &BTreeSet::from([id]))?;
                if s.get(&id) != Some(&rn) {
                    out.push(format!(
                        "{what}: answered randomNumber {rn} for id {id}, the database holds {:?} (rule: the row as stored, no caching)",
                        s.get(&id)
                    ));
                }
            }
        }
        if let Some(c) = counts {
            if c.selects != 1 {
                out.push(format!(
                    "{what}: expected exactly 1 query on world per request, pg_stat_statements counted {} (rule: one query per request, no caching)",
                    c.selects
                ));
            }
        }
    }
    let distinct: BTreeSet<i64> = ids.iter().copied().collect();
    if ids.len() >= 4 && distinct.len() == 1 {
        result.failures.push(format!(
            "every request answered id {} (rule: a random id per request)",
            ids[0]
        ));
    }
    Ok(())
}

/// The q values checked: the rule's edge cases, then random ones.
fn q_cases(rng: &mut Rng, n: u32) -> Vec<(Option<String>, u64)> {
    let mut v: Vec<(Option<String>, u64)> = vec![
        (None, 1),
        (Some("foo".into()), 1),
        (Some("0".into()), 1),
        (Some("501".into()), 500),
    ];
    for _ in 0..n {
        let q = rng.range(2, 20);
        v.push((Some(q.to_string()), q));
    }
    v
}

async fn check_queries(
    client: &mut Client,
    db: &Database,
    rng: &mut Rng,
    n: u32,
    updates: bool,
    result: &mut EndpointResult,
) -> Result<(), String> {
    let name = if updates { "updates" } else { "queries" };
    let (mut distinct_total, mut changed_total) = (0usize, 0usize);
    for (k, (q, expected)) in q_cases(rng, n).into_iter().enumerate() {
        let path = match &q {
            None => format!("/{name}"),
            Some(q) => format!("/{name}?q={q}"),
        };
        let what = format!("request {} (GET {path})", k + 1);
        let before = if updates { Some(stored_all(db)?) } else { None };
        let Some((r, v, counts)) = world_request(client, db, &path, &what, result).await? else {
            continue;
        };
        let out = &mut result.failures;
        let Some(arr) = v.as_array() else {
            out.push(format!(
                "{what}: expected a JSON array, got {}",
                shown(&r.body)
            ));
            continue;
        };
        if arr.len() as u64 != expected {
            out.push(format!(
                "{what}: expected {expected} objects, got {} (rule: q missing, not an integer or < 1 means 1; > 500 means 500)",
                arr.len()
            ));
        }
        let mut got: Vec<(i64, i64)> = Vec::new();
        for (i, o) in arr.iter().enumerate() {
            match world_object(o) {
                Ok(x) => got.push(x),
                Err(e) => {
                    out.push(format!("{what}: element {}: {e}", i + 1));
                    break;
                }
            }
        }
        let ids: BTreeSet<i64> = got.iter().map(|x| x.0).collect();
        if got.len() >= 10 && ids.len() * 2 < got.len() {
            out.push(format!(
                "{what}: only {} distinct ids among {} (rule: random ids)",
                ids.len(),
                got.len()
            ));
        }
        if let Some(c) = &counts {
            if updates {
                // An ORM may read again before it writes (e.g. TypeORM's save()): at least N
                // single-row reads are required, extra statements are noted, as TechEmpower counts.
                if c.single_selects < expected {
                    out.push(format!(
                        "{what}: expected {expected} single-row reads of world (one per row), pg_stat_statements counted {} ({} batched) (rule: one query per row, no batching, no caching)",
                        c.single_selects,
                        c.selects - c.single_selects
                    ));
                } else if c.selects > expected {
                    result.notes.push(format!(
                        "{what}: {} reads of world for {expected} rows (extra statements, e.g. an ORM's read before its write)",
                        c.selects
                    ));
                }
                if c.updates == 0 {
                    out.push(format!(
                        "{what}: no UPDATE of world reached the database (rule: updates write the rows)"
                    ));
                }
            } else {
                if !c.batched.is_empty() {
                    out.push(format!(
                        "{what}: reads were batched ({}) (rule: one query per row, no IN (...) or ANY(...))",
                        c.batched[0]
                    ));
                }
                if c.selects != expected {
                    out.push(format!(
                        "{what}: expected {expected} queries on world (one per row), pg_stat_statements counted {} returning {} rows (rule: one query per row, no batching, no caching)",
                        c.selects, c.select_rows
                    ));
                }
            }
        }
        let now = stored(db, &ids)?;
        if updates {
            let before = before.expect("snapshot");
            // Each returned id holds one of the values returned for it (the last write wins).
            for id in &ids {
                let answered: Vec<i64> = got.iter().filter(|x| x.0 == *id).map(|x| x.1).collect();
                if !answered.contains(&now[id]) {
                    out.push(format!(
                        "{what}: answered randomNumber {answered:?} for id {id}, the database holds {} after the request (rule: updates write the values they return)",
                        now[id]
                    ));
                    break;
                }
            }
            let after = stored_all(db)?;
            let changed: Vec<i64> = after
                .iter()
                .filter(|(id, v)| before.get(id) != Some(v))
                .map(|(id, _)| *id)
                .collect();
            if let Some(stray) = changed.iter().find(|id| !ids.contains(id)) {
                out.push(format!(
                    "{what}: row {stray} changed though it was not returned (rule: updates change only the rows they return)"
                ));
            }
            distinct_total += ids.len();
            changed_total += changed.len();
        } else if let Some((id, rn)) = got.iter().find(|(id, rn)| now.get(id) != Some(rn)) {
            out.push(format!(
                "{what}: answered randomNumber {rn} for id {id}, the database holds {:?} (rule: the rows as stored, no caching)",
                now.get(id)
            ));
        }
    }
    // A new random number equals the old one once in 10,000: almost every returned row changes.
    if updates && distinct_total > 0 && changed_total * 10 < distinct_total * 9 {
        result.failures.push(format!(
            "only {changed_total} of the {distinct_total} rows returned changed in the database (rule: updates actually change the rows, read back)"
        ));
    }
    Ok(())
}

fn stored_all(db: &Database) -> Result<BTreeMap<i64, i64>, String> {
    let rows = db
        .rows("SELECT id, randomnumber FROM world;")
        .map_err(db_err)?;
    Ok(rows
        .iter()
        .filter_map(|r| Some((r.first()?.parse().ok()?, r.get(1)?.parse().ok()?)))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Fortunes.

/// A piece of an HTML document: a tag (lowercased, whitespace collapsed) or a text node (raw).
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Tag(String),
    Text(String),
}

/// Tags and non-blank text nodes, in order.
fn tokenize(html: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut rest = html;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            let end = after.find('>').unwrap_or(after.len());
            let tag = after[..end]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_ascii_lowercase();
            out.push(Token::Tag(tag));
            rest = after.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            if !rest[..end].trim().is_empty() {
                out.push(Token::Text(rest[..end].to_string()));
            }
            rest = &rest[end..];
        }
    }
    out
}

/// Decodes the character references of a text node; `Err` names a raw character that must be
/// escaped or an unknown reference.
fn decode(raw: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '"', '\'', '>']) {
        out.push_str(&rest[..i]);
        let c = rest[i..].chars().next().expect("found");
        if c != '&' {
            return Err(format!("a raw {c:?} in {raw:?}"));
        }
        let after = &rest[i + 1..];
        let Some(semi) = after.find(';').filter(|s| *s <= 10) else {
            return Err(format!("a raw '&' in {raw:?}"));
        };
        let name = &after[..semi];
        let ch = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => {
                if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                    u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
                } else if let Some(dec) = name.strip_prefix('#') {
                    dec.parse().ok().and_then(char::from_u32)
                } else {
                    None
                }
            }
        };
        match ch {
            Some(c) => out.push(c),
            None => {
                return Err(format!(
                    "an unknown character reference &{name}; in {raw:?}"
                ))
            }
        }
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The expected rows: the table's plus the added one, sorted by message (code-point order).
pub fn expected_fortunes(mut rows: Vec<(i64, String)>) -> Vec<(i64, String)> {
    rows.push((0, ADDED_FORTUNE.to_string()));
    rows.sort_by(|a, b| a.1.cmp(&b.1));
    rows
}

/// Compares a `/fortunes` body with the expected rows; the first problem found, naming its rule.
pub fn fortunes_problem(body: &str, expected: &[(i64, String)]) -> Option<String> {
    // Unescaped markup in a message shows up as tags inside a cell: name the rule first.
    if body.contains("<script>") {
        return Some(
            "a message's markup is not escaped: the body contains a raw <script> tag (rule: HTML-escape every message: & < > \" ')"
                .into(),
        );
    }
    let tokens = tokenize(body);
    let head = tokenize(FORTUNES_HEAD);
    if tokens.len() < head.len() || tokens[..head.len()] != head[..] {
        return Some(format!(
            "the markup before the rows differs from TechEmpower's (rule: markup exactly {FORTUNES_HEAD:?}, whitespace between tags aside); got {}",
            shown(body.as_bytes())
        ));
    }
    let tail = tokenize(FORTUNES_TAIL);
    if tokens.len() < head.len() + tail.len() || tokens[tokens.len() - tail.len()..] != tail[..] {
        return Some(format!(
            "the markup after the rows differs (rule: it ends with {FORTUNES_TAIL:?})"
        ));
    }
    let body_tokens = &tokens[head.len()..tokens.len() - tail.len()];
    let mut rows: Vec<(String, String)> = Vec::new();
    for (k, chunk) in body_tokens.chunks(8).enumerate() {
        let shape = |t: &Token, s: &str| matches!(t, Token::Tag(x) if x == s);
        let ok = chunk.len() == 8
            && shape(&chunk[0], "tr")
            && shape(&chunk[1], "td")
            && matches!(chunk[2], Token::Text(_))
            && shape(&chunk[3], "/td")
            && shape(&chunk[4], "td")
            && matches!(chunk[5], Token::Text(_))
            && shape(&chunk[6], "/td")
            && shape(&chunk[7], "/tr");
        if !ok {
            return Some(format!(
                "row {}: expected <tr><td>id</td><td>message</td></tr>, got {chunk:?} (rule: markup exactly TechEmpower's)",
                k + 1
            ));
        }
        let text = |t: &Token| match t {
            Token::Text(s) => s.trim().to_string(),
            Token::Tag(_) => String::new(),
        };
        rows.push((text(&chunk[2]), text(&chunk[5])));
    }
    if rows.len() != expected.len() {
        let added = rows.iter().any(|(id, _)| id == "0");
        return Some(format!(
            "expected {} rows, got {}{} (rule: every fortune plus the one added at request time)",
            expected.len(),
            rows.len(),
            if added {
                ""
            } else {
                "; the added fortune (id 0) is missing"
            }
        ));
    }
    for (k, ((id, raw), (eid, emsg))) in rows.iter().zip(expected).enumerate() {
        let msg = match decode(raw) {
            Ok(m) => m,
            Err(e) => {
                return Some(format!(
                    "row {} (id {id}): {e} (rule: HTML-escape every message: & < > \" ')",
                    k + 1
                ))
            }
        };
        if *id != eid.to_string() || msg != *emsg {
            let sorted_elsewhere = expected
                .iter()
                .any(|(i, m)| i.to_string() == *id && *m == msg);
            return Some(format!(
                "row {}: expected id {eid} {emsg:?}, got id {id} {msg:?} ({})",
                k + 1,
                if sorted_elsewhere {
                    "rule: rows sorted by message"
                } else if *eid == 0 {
                    "rule: the added fortune, id 0, \"Additional fortune added at request time.\""
                } else {
                    "rule: the rows as stored"
                }
            ));
        }
    }
    None
}

async fn check_fortunes(
    client: &mut Client,
    db: &Database,
    n: u32,
    result: &mut EndpointResult,
) -> Result<(), String> {
    let rows: Vec<(i64, String)> = db
        .rows("SELECT id, message FROM fortune;")
        .map_err(db_err)?
        .into_iter()
        .filter_map(|r| Some((r.first()?.parse().ok()?, r.get(1)?.clone())))
        .collect();
    let expected = expected_fortunes(rows);
    for k in 0..n {
        let what = format!("request {} (GET /fortunes)", k + 1);
        stat_reset(db)?;
        let r = match client.send("GET", "/fortunes", None).await {
            Ok(r) => r,
            Err(e) => {
                result.failures.push(format!("{what}: {e}"));
                continue;
            }
        };
        result.requests += 1;
        let out = &mut result.failures;
        common(&r, "text/html", out, &what);
        let ct = super::header(&r, http::header::CONTENT_TYPE).unwrap_or("");
        if !ct
            .to_ascii_lowercase()
            .replace(' ', "")
            .contains("charset=utf-8")
        {
            out.push(format!(
                "{what}: expected Content-Type text/html; charset=utf-8, got {ct:?}"
            ));
        }
        match std::str::from_utf8(&r.body) {
            Err(e) => out.push(format!("{what}: the body is not UTF-8 ({e})")),
            Ok(body) => {
                if let Some(p) = fortunes_problem(body, &expected) {
                    out.push(format!("{what}: {p}"));
                }
            }
        }
        if db.stats {
            let st = db.statements_on("fortune").map_err(db_err)?;
            let calls: u64 = st.iter().map(|s| s.calls).sum();
            if calls == 0 {
                out.push(format!(
                    "{what}: the fortune table was not read (rule: rows read at each request, no caching)"
                ));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// CRUD.

fn item_json(name: &str, price: i64) -> String {
    serde_json::json!({"name": name, "price_cents": price}).to_string()
}

/// `{"id":..,"name":..,"price_cents":..}` equal to the given values (any id when None).
fn item_problem(v: &serde_json::Value, id: Option<i64>, name: &str, price: i64) -> Option<String> {
    let o = v.as_object()?;
    let got_id = o.get("id").and_then(|x| x.as_i64());
    let ok = o.len() == 3
        && got_id.is_some()
        && id.is_none_or(|i| got_id == Some(i))
        && o.get("name").and_then(|x| x.as_str()) == Some(name)
        && o.get("price_cents").and_then(|x| x.as_i64()) == Some(price);
    (!ok).then(|| {
        format!(
            "expected {}, got {v}",
            serde_json::json!({"id": id.map(serde_json::Value::from).unwrap_or("N".into()), "name": name, "price_cents": price})
        )
    })
}

fn stored_item(db: &Database, id: i64) -> Result<Option<(String, i64)>, String> {
    let rows = db
        .rows(&format!(
            "SELECT name, price_cents FROM items WHERE id = {id};"
        ))
        .map_err(db_err)?;
    Ok(rows
        .first()
        .and_then(|r| Some((r.first()?.clone(), r.get(1)?.parse().ok()?))))
}

fn items_count(db: &Database) -> Result<i64, String> {
    db.sql("SELECT count(*) FROM items;")
        .map_err(db_err)?
        .trim()
        .parse()
        .map_err(|e| format!("count(*): {e}"))
}

async fn check_crud(
    client: &mut Client,
    db: &Database,
    rng: &mut Rng,
    result: &mut EndpointResult,
) -> Result<(), String> {
    macro_rules! send {
        ($m:expr, $p:expr, $b:expr) => {{
            let path: String = $p;
            let what = format!("{} {}", $m, path);
            match client.send($m, &path, $b).await {
                Ok(r) => {
                    result.requests += 1;
                    (what, r)
                }
                Err(e) => return Err(format!("{what}: {e} (rule: the CRUD round trip)")),
            }
        }};
    }
    let out_of = |r: &Resp| shown(&r.body);
    // Create: a name with quotes, markup and non-ASCII (the server must store it as sent).
    let name = format!("lab item {} \"<é€>\" 'x'", rng.range(1, 1_000_000));
    let price = rng.range(0, 99_999) as i64;
    let (what, r) = send!("POST", "/items".to_string(), Some(&item_json(&name, price)));
    if r.status != 201 {
        return Err(format!(
            "{what}: expected status 201, got {} (body {}) (rule: create answers 201 with the item)",
            r.status,
            out_of(&r)
        ));
    }
    common_json(&r, &what, &mut result.failures);
    let v: serde_json::Value = serde_json::from_slice(&r.body)
        .map_err(|e| format!("{what}: expected the created item as JSON ({e})"))?;
    if let Some(p) = item_problem(&v, None, &name, price) {
        return Err(format!(
            "{what}: {p} (rule: create answers the item with its new id)"
        ));
    }
    let id = v["id"].as_i64().expect("checked");
    if stored_item(db, id)? != Some((name.clone(), price)) {
        return Err(format!(
            "{what}: item {id} is not stored as sent: the database holds {:?} (rule: create writes the row)",
            stored_item(db, id)?
        ));
    }
    // Read.
    let path = format!("/items/{id}");
    let (what, r) = send!("GET", path.clone(), None);
    expect_item(
        &r,
        &what,
        200,
        Some(id),
        &name,
        price,
        "read answers the stored item",
        &mut result.failures,
    );
    // Update.
    let name2 = format!("renamed {}", rng.range(1, 1_000_000));
    let price2 = rng.range(0, 99_999) as i64;
    let (what, r) = send!("PUT", path.clone(), Some(&item_json(&name2, price2)));
    expect_item(
        &r,
        &what,
        200,
        Some(id),
        &name2,
        price2,
        "update answers the updated item",
        &mut result.failures,
    );
    if stored_item(db, id)? != Some((name2.clone(), price2)) {
        result.failures.push(format!(
            "{what}: the database holds {:?} after the update (rule: update writes the row)",
            stored_item(db, id)?
        ));
    }
    let (what, r) = send!("GET", path.clone(), None);
    expect_item(
        &r,
        &what,
        200,
        Some(id),
        &name2,
        price2,
        "read after update answers the new values",
        &mut result.failures,
    );
    // Delete.
    let (what, r) = send!("DELETE", path.clone(), None);
    if r.status != 204 || !r.body.is_empty() {
        result.failures.push(format!(
            "{what}: expected status 204 with an empty body, got {} (body {}) (rule: delete answers 204)",
            r.status,
            out_of(&r)
        ));
    }
    if stored_item(db, id)?.is_some() {
        result.failures.push(format!(
            "{what}: item {id} is still in the database (rule: delete removes the row)"
        ));
    }
    for (m, body) in [
        ("GET", None),
        ("PUT", Some(item_json("x", 1))),
        ("DELETE", None),
    ] {
        let (what, r) = send!(m, path.clone(), body.as_deref());
        if r.status != 404 {
            result.failures.push(format!(
                "{what}: expected status 404 for a deleted item, got {} (rule: a missing item is 404)",
                r.status
            ));
        }
    }
    // The list: the first N by id, limit default 10, clamped to 1..100.
    for (q, n) in [
        ("", 10),
        ("?limit=5", 5),
        ("?limit=1000", 100),
        ("?limit=0", 1),
    ] {
        let path = format!("/items{q}");
        let (what, r) = send!("GET", path, None);
        let expect: Vec<serde_json::Value> = db
            .rows(&format!(
                "SELECT id, name, price_cents FROM items ORDER BY id LIMIT {n};"
            ))
            .map_err(db_err)?
            .into_iter()
            .map(|r| {
                serde_json::json!({
                    "id": r[0].parse::<i64>().unwrap_or(0),
                    "name": r[1],
                    "price_cents": r[2].parse::<i64>().unwrap_or(0)
                })
            })
            .collect();
        if r.status != 200 {
            result.failures.push(format!(
                "{what}: expected status 200, got {} (body {})",
                r.status,
                out_of(&r)
            ));
            continue;
        }
        common_json(&r, &what, &mut result.failures);
        match serde_json::from_slice::<serde_json::Value>(&r.body) {
            Ok(serde_json::Value::Array(a)) if a == expect => {}
            Ok(v) => result.failures.push(format!(
                "{what}: expected the first {n} items by id ({} objects), got {} (rule: list with limit, default 10, clamped to 1..100)",
                expect.len(),
                shown(v.to_string().as_bytes())
            )),
            Err(e) => result
                .failures
                .push(format!("{what}: expected a JSON array ({e})")),
        }
    }
    // Invalid bodies: refused, nothing written.
    let before = items_count(db)?;
    let long = "n".repeat(201);
    let invalid: [(&str, String); 5] = [
        ("a missing field", r#"{"name":"x"}"#.to_string()),
        (
            "a wrong type",
            r#"{"name":"x","price_cents":"12"}"#.to_string(),
        ),
        (
            "a negative price",
            r#"{"name":"x","price_cents":-1}"#.to_string(),
        ),
        ("a name over 200 characters", item_json(&long, 1)),
        ("a body that is not JSON", "{name:".to_string()),
    ];
    for (why, body) in invalid {
        let (what, r) = send!("POST", "/items".to_string(), Some(&body));
        if r.status != 400 && r.status != 422 {
            result.failures.push(format!(
                "{what} with {why}: expected status 400 or 422, got {} (rule: invalid bodies are refused)",
                r.status
            ));
        }
    }
    let after = items_count(db)?;
    if after != before {
        result.failures.push(format!(
            "invalid bodies changed the items table ({before} rows before, {after} after) (rule: invalid bodies are refused)"
        ));
    }
    Ok(())
}

fn common_json(r: &Resp, what: &str, out: &mut Vec<String>) {
    if super::media_type(r).as_deref() != Some("application/json") {
        out.push(format!(
            "{what}: expected Content-Type application/json, got {:?}",
            super::header(r, http::header::CONTENT_TYPE).unwrap_or("")
        ));
    }
}

#[allow(clippy::too_many_arguments)]
fn expect_item(
    r: &Resp,
    what: &str,
    status: u16,
    id: Option<i64>,
    name: &str,
    price: i64,
    rule: &str,
    out: &mut Vec<String>,
) {
    if r.status != status {
        out.push(format!(
            "{what}: expected status {status}, got {} (body {}) (rule: {rule})",
            r.status,
            shown(&r.body)
        ));
        return;
    }
    common_json(r, what, out);
    match serde_json::from_slice::<serde_json::Value>(&r.body) {
        Ok(v) => {
            if let Some(p) = item_problem(&v, id, name, price) {
                out.push(format!("{what}: {p} (rule: {rule})"));
            }
        }
        Err(e) => out.push(format!("{what}: expected a JSON item ({e})")),
    }
}

// ---------------------------------------------------------------------------------------------
// Vector (issue 14).

/// `/vector?n=N`'s result: Σ x_i² for x_i = (i mod 1000) / 1000, i in 0..n (a plain loop).
pub fn vector_result(n: u64) -> f64 {
    let mut s = 0.0f64;
    for i in 0..n {
        let x = (i % 1000) as f64 / 1000.0;
        s += x * x;
    }
    s
}

/// Within a relative 1e-9 (absolute near zero).
pub fn close_enough(got: f64, expected: f64) -> bool {
    (got - expected).abs() <= 1e-9 * expected.abs().max(1.0)
}

async fn check_vector(client: &mut Client, rng: &mut Rng, n: u32, result: &mut EndpointResult) {
    let mut ns = vec![0, 1, 1000];
    for _ in 0..n {
        ns.push(rng.range(2, 2_000_000));
    }
    for (k, n) in ns.into_iter().enumerate() {
        let what = format!("request {} (GET /vector?n={n})", k + 1);
        let r = match client.send("GET", &format!("/vector?n={n}"), None).await {
            Ok(r) => r,
            Err(e) => {
                result.failures.push(format!("{what}: {e}"));
                continue;
            }
        };
        result.requests += 1;
        let out = &mut result.failures;
        common(&r, "application/json", out, &what);
        let Some(v) = json_body(&r, &what, out) else {
            continue;
        };
        let expected = vector_result(n);
        let ok = v.as_object().is_some_and(|o| o.len() == 2)
            && v.get("n").and_then(|x| x.as_u64()) == Some(n)
            && v.get("result")
                .and_then(|x| x.as_f64())
                .is_some_and(|g| close_enough(g, expected));
        if !ok {
            out.push(format!(
                "{what}: expected {{\"n\":{n},\"result\":{expected}}} (within a relative 1e-9), got {v}"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_q_rule() {
        assert_eq!(
            [
                None,
                Some("foo"),
                Some("0"),
                Some("501"),
                Some("-3"),
                Some("7"),
                Some("500")
            ]
            .map(q_rule),
            [1, 1, 1, 500, 1, 7, 500]
        );
    }

    #[test]
    fn the_vector_sum() {
        assert_eq!(vector_result(0), 0.0);
        assert_eq!(vector_result(1), 0.0);
        assert!((vector_result(3) - (0.001f64.powi(2) + 0.002f64.powi(2))).abs() < 1e-18);
        // A NumPy-like pairwise sum differs in rounding, not beyond the tolerance.
        let n = 1_000_000u64;
        let xs: Vec<f64> = (0..n).map(|i| (i % 1000) as f64 / 1000.0).collect();
        let pairwise: f64 = xs
            .chunks(128)
            .map(|c| c.iter().map(|x| x * x).sum::<f64>())
            .sum();
        assert!(close_enough(pairwise, vector_result(n)));
        assert!(!close_enough(
            vector_result(n) * (1.0 + 1e-7),
            vector_result(n)
        ));
    }

    fn rows() -> Vec<(i64, String)> {
        vec![
            (1, "fortune: No such file or directory".into()),
            (11, "<script>alert(\"x\");</script>".into()),
            (
                2,
                "A computer scientist is someone who fixes things that aren't broken.".into(),
            ),
            (12, "フレームワークのベンチマーク".into()),
        ]
    }

    fn render(rows: &[(i64, String)], escape: bool) -> String {
        let esc = |s: &str| {
            if escape {
                s.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('"', "&quot;")
                    .replace('\'', "&#x27;")
            } else {
                s.to_string()
            }
        };
        let mut s = FORTUNES_HEAD.to_string();
        for (id, m) in rows {
            s.push_str(&format!("\n  <tr><td>{id}</td><td>{}</td></tr>", esc(m)));
        }
        s.push_str(FORTUNES_TAIL);
        s
    }

    /// How an in-process test server behaves.
    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Mode {
        /// Follows the contract.
        Good,
        /// Reads /db once and answers that row ever after.
        CachesDb,
        /// Reads /queries' rows with one `IN (...)`.
        BatchesQueries,
        /// Renders fortunes without escaping.
        SkipsEscaping,
        /// Answers /updates with new numbers it never writes.
        SkipsWrites,
    }

    #[derive(Clone)]
    struct App {
        db: Database,
        mode: Mode,
        cache: std::sync::Arc<std::sync::Mutex<Option<(i64, i64)>>>,
        seed: std::sync::Arc<std::sync::atomic::AtomicU64>,
    }

    impl App {
        fn random(&self) -> i64 {
            use std::sync::atomic::Ordering;
            let mut x = self.seed.load(Ordering::Relaxed);
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.seed.store(x, Ordering::Relaxed);
            (x % 10_000) as i64 + 1
        }
        async fn rows(&self, sql: String) -> Vec<Vec<String>> {
            let db = self.db.clone();
            tokio::task::spawn_blocking(move || db.rows(&sql).expect("test server query"))
                .await
                .unwrap()
        }
    }

    type Reply = axum::response::Response;

    fn reply(status: u16, ct: &str, body: String) -> Reply {
        use axum::response::IntoResponse;
        (
            http::StatusCode::from_u16(status).unwrap(),
            [
                (http::header::CONTENT_TYPE, ct.to_string()),
                (http::header::SERVER, "test".to_string()),
            ],
            body,
        )
            .into_response()
    }

    fn json(status: u16, v: serde_json::Value) -> Reply {
        reply(status, "application/json", v.to_string())
    }

    fn world(r: &[String]) -> serde_json::Value {
        serde_json::json!({"id": r[0].parse::<i64>().unwrap(), "randomNumber": r[1].parse::<i64>().unwrap()})
    }

    fn q_of(uri: &http::Uri) -> u64 {
        q_rule(
            uri.query()
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("q="))),
        )
    }

    fn sql_str(s: &str) -> String {
        format!("'{}'", s.replace('\'', "''"))
    }

    /// A valid item body, else None.
    fn item_body(body: &str) -> Option<(String, i64)> {
        let v: serde_json::Value = serde_json::from_str(body).ok()?;
        let name = v.get("name")?.as_str()?;
        let price = v.get("price_cents")?.as_i64()?;
        (name.chars().count() <= 200 && price >= 0).then(|| (name.to_string(), price))
    }

    fn item(r: &[String]) -> serde_json::Value {
        serde_json::json!({"id": r[0].parse::<i64>().unwrap(), "name": r[1], "price_cents": r[2].parse::<i64>().unwrap()})
    }

    fn serve(db: &Database, mode: Mode) -> SocketAddr {
        use axum::extract::{Path, State};
        use axum::routing::get;
        let app = App {
            db: db.clone(),
            mode,
            cache: Default::default(),
            seed: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0x9E37_79B9_7F4A_7C15)),
        };
        let router = axum::Router::new()
            .route(
                "/db",
                get(|State(a): State<App>| async move {
                    if a.mode == Mode::CachesDb {
                        if let Some((id, rn)) = *a.cache.lock().unwrap() {
                            return json(200, serde_json::json!({"id": id, "randomNumber": rn}));
                        }
                    }
                    let id = a.random();
                    let r = a.rows(format!("SELECT id, randomnumber FROM world WHERE id = {id};")).await;
                    let v = world(&r[0]);
                    *a.cache.lock().unwrap() = Some((id, v["randomNumber"].as_i64().unwrap()));
                    json(200, v)
                }),
            )
            .route(
                "/queries",
                get(|State(a): State<App>, uri: http::Uri| async move {
                    let n = q_of(&uri);
                    if a.mode == Mode::BatchesQueries {
                        let mut ids = BTreeSet::new();
                        while ids.len() < n as usize {
                            ids.insert(a.random());
                        }
                        let list: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
                        let r = a
                            .rows(format!("SELECT id, randomnumber FROM world WHERE id IN ({});", list.join(",")))
                            .await;
                        return json(200, r.iter().map(|r| world(r)).collect());
                    }
                    let sql: String = (0..n)
                        .map(|_| format!("SELECT id, randomnumber FROM world WHERE id = {};\n", a.random()))
                        .collect();
                    let r = a.rows(sql).await;
                    json(200, r.iter().map(|r| world(r)).collect())
                }),
            )
            .route(
                "/updates",
                get(|State(a): State<App>, uri: http::Uri| async move {
                    let n = q_of(&uri);
                    let ids: Vec<i64> = (0..n).map(|_| a.random()).collect();
                    let reads: String = ids
                        .iter()
                        .map(|id| format!("SELECT id, randomnumber FROM world WHERE id = {id};\n"))
                        .collect();
                    let rows = a.rows(reads).await;
                    let mut out = Vec::new();
                    let mut writes = String::new();
                    for r in &rows {
                        let id: i64 = r[0].parse().unwrap();
                        let new = a.random();
                        writes.push_str(&format!("UPDATE world SET randomnumber = {new} WHERE id = {id};\n"));
                        out.push(serde_json::json!({"id": id, "randomNumber": new}));
                    }
                    if a.mode != Mode::SkipsWrites {
                        a.rows(writes).await;
                    }
                    json(200, serde_json::Value::Array(out))
                }),
            )
            .route(
                "/fortunes",
                get(|State(a): State<App>| async move {
                    let rows = a.rows("SELECT id, message FROM fortune;".into()).await;
                    let rows = expected_fortunes(
                        rows.into_iter().map(|r| (r[0].parse().unwrap(), r[1].clone())).collect(),
                    );
                    reply(200, "text/html; charset=utf-8", render(&rows, a.mode != Mode::SkipsEscaping))
                }),
            )
            .route(
                "/items",
                get(|State(a): State<App>, uri: http::Uri| async move {
                    let limit = uri
                        .query()
                        .and_then(|q| q.strip_prefix("limit="))
                        .and_then(|v| v.parse::<i64>().ok())
                        .unwrap_or(10)
                        .clamp(1, 100);
                    let r = a.rows(format!("SELECT id, name, price_cents FROM items ORDER BY id LIMIT {limit};")).await;
                    json(200, r.iter().map(|r| item(r)).collect())
                })
                .post(|State(a): State<App>, body: String| async move {
                    let Some((name, price)) = item_body(&body) else {
                        return json(422, serde_json::json!({"error": "invalid"}));
                    };
                    let r = a
                        .rows(format!(
                            "INSERT INTO items (name, price_cents) VALUES ({}, {price}) RETURNING id, name, price_cents;",
                            sql_str(&name)
                        ))
                        .await;
                    json(201, item(&r[0]))
                }),
            )
            .route(
                "/items/{id}",
                get(|State(a): State<App>, Path(id): Path<i64>| async move {
                    let r = a.rows(format!("SELECT id, name, price_cents FROM items WHERE id = {id};")).await;
                    match r.first() {
                        Some(r) => json(200, item(r)),
                        None => json(404, serde_json::json!({"error": "not found"})),
                    }
                })
                .put(|State(a): State<App>, Path(id): Path<i64>, body: String| async move {
                    let Some((name, price)) = item_body(&body) else {
                        return json(422, serde_json::json!({"error": "invalid"}));
                    };
                    let r = a
                        .rows(format!(
                            "UPDATE items SET name = {}, price_cents = {price} WHERE id = {id} RETURNING id, name, price_cents;",
                            sql_str(&name)
                        ))
                        .await;
                    match r.first() {
                        Some(r) => json(200, item(r)),
                        None => json(404, serde_json::json!({"error": "not found"})),
                    }
                })
                .delete(|State(a): State<App>, Path(id): Path<i64>| async move {
                    let r = a.rows(format!("DELETE FROM items WHERE id = {id} RETURNING id;")).await;
                    if r.is_empty() {
                        json(404, serde_json::json!({"error": "not found"}))
                    } else {
                        reply(204, "application/json", String::new())
                    }
                }),
            )
            .route(
                "/vector",
                get(|uri: http::Uri| async move {
                    let n: u64 = uri
                        .query()
                        .and_then(|q| q.strip_prefix("n="))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    json(200, serde_json::json!({"n": n, "result": vector_result(n)}))
                }),
            )
            .with_state(app);
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
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

    const DB_ENDPOINTS: [Endpoint; 6] = [
        Endpoint::Db,
        Endpoint::Queries,
        Endpoint::Fortunes,
        Endpoint::Updates,
        Endpoint::Crud,
        Endpoint::Vector,
    ];

    fn run(db: &Database, mode: Mode) -> super::super::CheckReport {
        super::super::check_with(
            &format!("{mode:?}"),
            serve(db, mode),
            &DB_ENDPOINTS,
            super::super::CheckServices {
                upstream: None,
                database: Some(db),
            },
            &super::super::CheckOptions {
                requests: 3,
                seed: Some(42),
                timeout: Duration::from_secs(30),
            },
        )
    }

    fn failures_of(r: &super::super::CheckReport, e: Endpoint) -> String {
        r.endpoints
            .iter()
            .find(|x| x.endpoint == e)
            .unwrap()
            .failures
            .join("\n")
    }

    /// Against the real PostgreSQL (the lab's cluster): a conforming server passes; one that caches
    /// /db, one that batches /queries' reads and one that skips escaping each fail, naming the rule.
    #[test]
    fn good_and_deliberately_wrong_servers_against_the_real_database() {
        let cpu = loadgen::cpu::allowed_cpus()[0];
        let pg = crate::postgres::PostgresSpec::new(vec![cpu], 2)
            .start_postgres()
            .unwrap_or_else(|e| panic!("the lab's PostgreSQL did not start: {e}"));
        let db = pg.database().clone();

        let good = run(&db, Mode::Good);
        assert!(good.passed(), "{good}\n{:?}", good.failures());
        let crud = good
            .endpoints
            .iter()
            .find(|e| e.endpoint == Endpoint::Crud)
            .unwrap();
        assert!(crud.requests >= 15, "{crud:?}");

        let cached = run(&db, Mode::CachesDb);
        let f = failures_of(&cached, Endpoint::Db);
        assert!(
            f.contains("pg_stat_statements counted 0 (rule: one query per request, no caching)"),
            "{f}"
        );
        assert!(f.contains("rule: a random id per request"), "{f}");
        assert_eq!(failures_of(&cached, Endpoint::Queries), "");

        let batched = run(&db, Mode::BatchesQueries);
        let f = failures_of(&batched, Endpoint::Queries);
        assert!(f.contains("reads were batched"), "{f}");
        assert!(f.contains("rule: one query per row, no IN (...)"), "{f}");
        assert_eq!(failures_of(&batched, Endpoint::Db), "");

        let raw = run(&db, Mode::SkipsEscaping);
        let f = failures_of(&raw, Endpoint::Fortunes);
        assert!(f.contains("rule: HTML-escape every message"), "{f}");
        assert_eq!(failures_of(&raw, Endpoint::Crud), "");

        let unwritten = run(&db, Mode::SkipsWrites);
        let f = failures_of(&unwritten, Endpoint::Updates);
        assert!(
            f.contains("no UPDATE of world reached the database (rule: updates write the rows)"),
            "{f}"
        );
        assert!(
            f.contains("rule: updates write the values they return"),
            "{f}"
        );
        assert!(
            f.contains("rule: updates actually change the rows, read back"),
            "{f}"
        );
        assert_eq!(failures_of(&unwritten, Endpoint::Queries), "");
        drop(pg);
    }

    #[test]
    fn fortunes_are_compared_after_parsing() {
        let expected = expected_fortunes(rows());
        assert_eq!(expected[0].1, "<script>alert(\"x\");</script>");
        assert_eq!(expected[2].1, ADDED_FORTUNE);
        assert_eq!(fortunes_problem(&render(&expected, true), &expected), None);
        // &#39; is as good as &#x27;, and whitespace between tags does not matter.
        let alt = render(&expected, true)
            .replace("&#x27;", "&#39;")
            .replace("<tr>", "<tr>\n");
        assert_eq!(fortunes_problem(&alt, &expected), None);
        let raw = fortunes_problem(&render(&expected, false), &expected).unwrap();
        assert!(raw.contains("rule: HTML-escape"), "{raw}");
        // An unescaped apostrophe alone.
        let apos = render(&expected, true).replace("&#x27;", "'");
        assert!(fortunes_problem(&apos, &expected)
            .unwrap()
            .contains("a raw '\\''"));
        let unsorted: Vec<_> = rows()
            .into_iter()
            .chain([(0, ADDED_FORTUNE.to_string())])
            .collect();
        let p = fortunes_problem(&render(&unsorted, true), &expected).unwrap();
        assert!(p.contains("rule: rows sorted by message"), "{p}");
        let p = fortunes_problem(&render(&expected[..4], true), &expected).unwrap();
        assert!(p.contains("expected 5 rows, got 4"), "{p}");
        let p = fortunes_problem(
            &render(&expected, true).replace("<title>Fortunes", "<title>F"),
            &expected,
        )
        .unwrap();
        assert!(p.contains("markup before the rows"), "{p}");
    }
}
