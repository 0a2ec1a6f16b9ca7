//! The conformance verifier (`stackwise targets check`), in the spirit of TechEmpower's toolset: for
//! every endpoint a target declares, several requests over one keep-alive connection with random
//! inputs (so nothing can be cached or hard-coded), exact results computed here from
//! docs/contract.md (`/cpu`'s loop, `/hash`'s SHA-256 chain), the Content-Type, Date and Server
//! headers, and for `/io` exactly one upstream request per call (the upstream's `/count`). `/ws`
//! (a WebSocket echo) is checked over one WebSocket connection: random text messages and one random
//! binary message, sent back to back, must come back unchanged and in order, then the close
//! handshake must be answered. The database endpoints and `/vector` are checked by [`db`] against
//! the run's database ([`CheckServices::database`]). The result is a pass/fail per endpoint with
//! what was expected and what was received.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};

use crate::manifest::Endpoint;
use crate::postgres::Database;
use crate::services::Upstream;

pub mod db;

/// The services a check may need: the upstream (`/io`) and the database (`/db`, `/queries`,
/// `/fortunes`, `/updates`, `/items`).
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckServices<'a> {
    pub upstream: Option<&'a Upstream>,
    pub database: Option<&'a Database>,
}

/// `/cpu?n=N`'s result: `x = (x * 31 + i) mod 2^32` for i in 0..n.
pub fn cpu_result(n: u64) -> u32 {
    let mut x: u32 = 0;
    for i in 0..n {
        x = x.wrapping_mul(31).wrapping_add(i as u32);
    }
    x
}

/// `/hash?n=N`'s result: the last of N chained SHA-256 digests of the 1 KiB buffer (64 zeros for 0).
pub fn hash_hex(n: u64) -> String {
    let mut buf = [0u8; 1024];
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let mut last = [0u8; 32];
    for _ in 0..n {
        let d = Sha256::digest(buf);
        last.copy_from_slice(&d);
        buf[..32].copy_from_slice(&d);
    }
    last.iter().map(|b| format!("{b:02x}")).collect()
}

/// Settings of a check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckOptions {
    /// Requests per endpoint (over one keep-alive connection), at least 2; for `/ws`, the number of
    /// text messages (one binary message follows them).
    pub requests: u32,
    /// Seed of the random inputs (None: from the clock), reported for reproduction.
    pub seed: Option<u64>,
    /// Per-request timeout (for `/ws`: for the upgrade, for all the echoes, and for the close).
    pub timeout: Duration,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            requests: 4,
            seed: None,
            timeout: Duration::from_secs(10),
        }
    }
}

/// The verdict for one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointResult {
    pub endpoint: Endpoint,
    /// Whether the target declares it (undeclared endpoints are not checked).
    pub declared: bool,
    pub requests: u32,
    /// What was expected and what was received, one entry per problem.
    pub failures: Vec<String>,
    /// Facts worth showing that are not failures (e.g. no keep-alive, announced).
    pub notes: Vec<String>,
}

impl EndpointResult {
    pub fn passed(&self) -> bool {
        !self.declared || self.failures.is_empty()
    }
}

/// The verdict for a target.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    pub target: String,
    pub base_url: String,
    pub seed: u64,
    pub endpoints: Vec<EndpointResult>,
    /// Failures of the target as a whole (e.g. it listens on more than 127.0.0.1).
    pub target_failures: Vec<String>,
}

impl CheckReport {
    /// Every declared endpoint passed (and at least one is declared).
    pub fn passed(&self) -> bool {
        self.target_failures.is_empty()
            && self.endpoints.iter().any(|e| e.declared)
            && self.endpoints.iter().all(|e| e.passed())
    }

    /// One line per failure, `endpoint: problem`.
    pub fn failures(&self) -> Vec<String> {
        self.target_failures
            .iter()
            .cloned()
            .chain(self.endpoints.iter().flat_map(|e| {
                e.failures
                    .iter()
                    .map(move |f| format!("/{}: {f}", e.endpoint))
            }))
            .collect()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for t in &self.target_failures {
            writeln!(f, "  FAIL: {t}")?;
        }
        for e in &self.endpoints {
            if !e.declared {
                writeln!(
                    f,
                    "  /{:<10} not served (not declared in the manifest)",
                    e.endpoint
                )?;
            } else if e.failures.is_empty() {
                let unit = if e.endpoint == Endpoint::Ws {
                    "messages echoed"
                } else {
                    "requests"
                };
                writeln!(f, "  /{:<10} ok ({} {unit})", e.endpoint, e.requests)?;
                for n in &e.notes {
                    writeln!(f, "      note: {n}")?;
                }
            } else {
                writeln!(f, "  /{:<10} FAIL", e.endpoint)?;
                for fl in &e.failures {
                    writeln!(f, "      {fl}")?;
                }
            }
        }
        Ok(())
    }
}

/// A small xorshift generator (inputs need only be unpredictable to the target, not secure).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform-ish in lo..=hi.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
    /// A random string of exactly `len` UTF-8 bytes: mostly ASCII, with 2-, 3- and 4-byte
    /// characters mixed in (so a server that mangles UTF-8 or counts characters is caught).
    fn text(&mut self, len: usize) -> String {
        const WIDE: [char; 3] = ['é', '€', '𝄞'];
        let mut s = String::with_capacity(len);
        while s.len() < len {
            let room = len - s.len();
            let c = match self.range(0, 9) {
                0..=2 => WIDE[(self.range(0, 2)) as usize],
                _ => char::from(self.range(0x20, 0x7e) as u8),
            };
            if c.len_utf8() <= room {
                s.push(c);
            }
        }
        s
    }
}

fn clock_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    t ^ ((std::process::id() as u64) << 32)
}

/// Checks every endpoint in `declared` of the target at `addr`. `/io` needs the upstream the
/// target was started with (else it fails saying so).
pub fn check(
    target: &str,
    addr: SocketAddr,
    declared: &[Endpoint],
    upstream: Option<&Upstream>,
    opts: &CheckOptions,
) -> CheckReport {
    check_with(
        target,
        addr,
        declared,
        CheckServices {
            upstream,
            database: None,
        },
        opts,
    )
}

/// [`check`] with every service (the database endpoints need [`CheckServices::database`]; they
/// fail saying so without it).
pub fn check_with(
    target: &str,
    addr: SocketAddr,
    declared: &[Endpoint],
    services: CheckServices<'_>,
    opts: &CheckOptions,
) -> CheckReport {
    let upstream = services.upstream;
    let seed = opts.seed.unwrap_or_else(clock_seed);
    let mut rng = Rng::new(seed);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut endpoints = Vec::new();
    for e in Endpoint::ALL {
        let is_declared = declared.contains(&e);
        let mut result = EndpointResult {
            endpoint: e,
            declared: is_declared,
            requests: 0,
            failures: vec![],
            notes: vec![],
        };
        if is_declared {
            if e.needs_database() || e == Endpoint::Vector {
                rt.block_on(db::check(
                    e,
                    addr,
                    services.database,
                    opts,
                    &mut rng,
                    &mut result,
                ));
            } else {
                rt.block_on(check_endpoint(
                    e,
                    addr,
                    upstream,
                    opts,
                    &mut rng,
                    &mut result,
                ));
            }
        }
        endpoints.push(result);
    }
    CheckReport {
        target: target.to_string(),
        base_url: format!("http://{addr}"),
        seed,
        endpoints,
        target_failures: binding_problems(addr.port()),
    }
}

/// Listening sockets on `port` bound to anything but loopback (from /proc/net/tcp and tcp6): the
/// contract says servers bind 127.0.0.1 only.
pub fn binding_problems(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st …; st 0A = LISTEN.
            if f.len() < 4 || f[3] != "0A" {
                continue;
            }
            let Some((addr_hex, port_hex)) = f[1].split_once(':') else {
                continue;
            };
            if u16::from_str_radix(port_hex, 16).ok() != Some(port) {
                continue;
            }
            let loopback = if v6 {
                // ::1, or ::ffff:127.x.x.x
                addr_hex == "00000000000000000000000001000000"
                    || (addr_hex.starts_with("0000000000000000FFFF0000")
                        && addr_hex.ends_with("7F"))
            } else {
                addr_hex.ends_with("7F")
            };
            if !loopback {
                out.push(format!(
                    "listens on {} port {port} ({file} address {addr_hex}); the contract says 127.0.0.1 only",
                    if addr_hex.chars().all(|c| c == '0') {
                        "all interfaces"
                    } else {
                        "a non-loopback address"
                    }
                ));
            }
        }
    }
    // /proc/net/tcp is read in chunks while the table changes, so a socket can be listed twice.
    out.sort();
    out.dedup();
    out
}

struct Resp {
    status: u16,
    headers: http::HeaderMap,
    body: Bytes,
    took: Duration,
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Empty<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake with {addr} failed: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn get(
    sender: &mut SendRequest<Empty<Bytes>>,
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<Resp, String> {
    let t0 = Instant::now();
    let fut = async {
        sender
            .ready()
            .await
            .map_err(|e| format!("connection not usable: {e}"))?;
        let req = http::Request::get(path)
            .header(http::header::HOST, addr.to_string())
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
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
        Ok(Resp {
            status,
            headers,
            body,
            took: t0.elapsed(),
        })
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(format!("no response within {:.1}s", timeout.as_secs_f64())),
    }
}

fn shown(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.len() > 200 {
        let mut cut = 200;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{:?}…", &s[..cut])
    } else {
        format!("{s:?}")
    }
}

fn header(r: &Resp, name: http::header::HeaderName) -> Option<&str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Content-Type's media type (before any parameter), lowercased.
fn media_type(r: &Resp) -> Option<String> {
    header(r, http::header::CONTENT_TYPE).map(|v| {
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    })
}

fn common(r: &Resp, content_type: &str, out: &mut Vec<String>, what: &str) {
    if r.status != 200 {
        out.push(format!(
            "{what}: expected status 200, got {} (body {})",
            r.status,
            shown(&r.body)
        ));
    }
    match media_type(r) {
        Some(t) if t == content_type => {}
        Some(_) => out.push(format!(
            "{what}: expected Content-Type {content_type}, got {:?}",
            header(r, http::header::CONTENT_TYPE).unwrap_or("")
        )),
        None => out.push(format!(
            "{what}: expected Content-Type {content_type}, got none"
        )),
    }
    for h in [http::header::DATE, http::header::SERVER] {
        if header(r, h.clone()).is_none_or_empty() {
            out.push(format!("{what}: expected a {h} header, got none"));
        }
    }
}

fn announces_close(r: &Resp) -> bool {
    header(r, http::header::CONNECTION)
        .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
}

trait NoneOrEmpty {
    fn is_none_or_empty(&self) -> bool;
}

impl NoneOrEmpty for Option<&str> {
    fn is_none_or_empty(&self) -> bool {
        self.is_none_or(|s| s.trim().is_empty())
    }
}

fn json_body(r: &Resp, what: &str, out: &mut Vec<String>) -> Option<serde_json::Value> {
    match serde_json::from_slice::<serde_json::Value>(&r.body) {
        Ok(v) => Some(v),
        Err(e) => {
            out.push(format!(
                "{what}: expected a JSON body, got {} ({e})",
                shown(&r.body)
            ));
            None
        }
    }
}

/// The request paths and inputs of one endpoint's requests.
fn inputs(e: Endpoint, rng: &mut Rng, count: u32) -> Vec<(String, u64)> {
    (0..count)
        .map(|k| match e {
            Endpoint::Plaintext => ("/plaintext".to_string(), 0),
            Endpoint::Json => ("/json".to_string(), 0),
            Endpoint::Io => {
                let ms = rng.range(0, 15);
                (format!("/io?ms={ms}"), ms)
            }
            Endpoint::Cpu => {
                // A small, a medium and a large n (random within each), then random ones.
                let n = match k % 3 {
                    0 => rng.range(2, 999),
                    1 => rng.range(1000, 99_999),
                    _ => rng.range(100_000, 1_000_000),
                };
                (format!("/cpu?n={n}"), n)
            }
            Endpoint::Hash => {
                let n = match k % 2 {
                    0 => rng.range(1, 50),
                    _ => rng.range(51, 3000),
                };
                (format!("/hash?n={n}"), n)
            }
            // Not an HTTP request endpoint: `check_ws` sends `ws_messages` instead.
            Endpoint::Ws => ("/ws".to_string(), 0),
            // Checked by `db::check`, with their own inputs.
            Endpoint::Db
            | Endpoint::Queries
            | Endpoint::Fortunes
            | Endpoint::Updates
            | Endpoint::Crud
            | Endpoint::Vector => (format!("/{e}"), 0),
        })
        .collect()
}

/// One WebSocket data message, as sent or received.
#[derive(Debug, Clone, PartialEq)]
enum WsData {
    Text(String),
    Binary(Vec<u8>),
}

impl WsData {
    fn kind(&self) -> &'static str {
        match self {
            WsData::Text(_) => "text",
            WsData::Binary(_) => "binary",
        }
    }
    fn payload(&self) -> &[u8] {
        match self {
            WsData::Text(t) => t.as_bytes(),
            WsData::Binary(b) => b,
        }
    }
    /// `17 bytes of text`.
    fn describe(&self) -> String {
        format!("{} bytes of {}", self.payload().len(), self.kind())
    }
    fn to_message(&self) -> tokio_tungstenite::tungstenite::Message {
        use tokio_tungstenite::tungstenite::Message;
        match self {
            WsData::Text(t) => Message::text(t.clone()),
            WsData::Binary(b) => Message::binary(b.clone()),
        }
    }
}

/// The messages `/ws` is checked with: `count` text messages (a short one in a 7-bit length
/// frame, a longer one in a 16-bit length frame, then random ones up to 1 KiB), then one binary
/// message of 1 to 64 KiB.
fn ws_messages(rng: &mut Rng, count: u32) -> Vec<WsData> {
    let mut out: Vec<WsData> = (0..count)
        .map(|k| {
            let len = match k {
                0 => rng.range(1, 125),
                1 => rng.range(126, 4096),
                _ => rng.range(1, 1024),
            };
            WsData::Text(rng.text(len as usize))
        })
        .collect();
    let len = rng.range(1024, 65_536) as usize;
    out.push(WsData::Binary(rng.bytes(len)));
    out
}

/// What differs between a sent and a received message, or None when they are equal.
fn ws_difference(sent: &WsData, got: &WsData) -> Option<String> {
    if sent == got {
        return None;
    }
    let (a, b) = (sent.payload(), got.payload());
    let detail = if a == b {
        "the same payload as the wrong message type".to_string()
    } else {
        match a.iter().zip(b).position(|(x, y)| x != y) {
            Some(i) => format!("first difference at byte {i}"),
            None => format!(
                "equal up to byte {}, then {}",
                a.len().min(b.len()),
                if b.len() < a.len() {
                    "cut short"
                } else {
                    "extra bytes"
                }
            ),
        }
    };
    let preview = match got {
        WsData::Text(t) => format!(": {}", shown(t.as_bytes())),
        WsData::Binary(_) => String::new(),
    };
    Some(format!(
        "sent {}, got {} ({detail}){preview}",
        sent.describe(),
        got.describe()
    ))
}

/// `/ws`: one WebSocket connection; the messages of `ws_messages` sent back to back, every echo
/// compared in order, then a clean close (our Close frame answered by the server's).
async fn check_ws(
    addr: SocketAddr,
    opts: &CheckOptions,
    rng: &mut Rng,
    result: &mut EndpointResult,
) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{Error as WsError, Message};

    let out = &mut result.failures;
    let secs = opts.timeout.as_secs_f64();
    let url = format!("ws://{addr}/ws");
    let mut ws =
        match tokio::time::timeout(opts.timeout, tokio_tungstenite::connect_async(&url)).await {
            Err(_) => {
                out.push(format!("no WebSocket handshake answer within {secs:.1}s"));
                return;
            }
            Ok(Err(WsError::Http(resp))) => {
                let body = resp.body().as_deref().unwrap_or_default();
                out.push(format!(
                    "the upgrade was refused: expected status 101, got {} (body {})",
                    resp.status().as_u16(),
                    shown(body)
                ));
                return;
            }
            Ok(Err(e)) => {
                out.push(format!("the WebSocket handshake with {url} failed: {e}"));
                return;
            }
            Ok(Ok((ws, _))) => ws,
        };
    let sent = ws_messages(rng, opts.requests.max(2));
    for (k, m) in sent.iter().enumerate() {
        if let Err(e) = ws.feed(m.to_message()).await {
            out.push(format!(
                "message {} ({}) could not be sent: {e}",
                k + 1,
                m.describe()
            ));
            return;
        }
    }
    if let Err(e) = ws.flush().await {
        out.push(format!("the messages could not be sent: {e}"));
        return;
    }
    // Every echo, in order, within one timeout; pings and pongs are skipped (tungstenite answers
    // pings itself).
    let echoes = async {
        let mut k = 0;
        while k < sent.len() {
            let got = match ws.next().await {
                None => {
                    return Err(format!(
                        "the server dropped the connection after {k} of {} echoes",
                        sent.len()
                    ))
                }
                Some(Err(e)) => {
                    return Err(format!(
                        "the connection failed after {k} of {} echoes: {e}",
                        sent.len()
                    ))
                }
                Some(Ok(Message::Text(t))) => WsData::Text(t.as_str().to_string()),
                Some(Ok(Message::Binary(b))) => WsData::Binary(b.to_vec()),
                Some(Ok(Message::Close(frame))) => {
                    return Err(format!(
                        "the server closed the WebSocket after {k} of {} echoes ({})",
                        sent.len(),
                        frame
                            .map(|f| format!(
                                "code {}, reason {:?}",
                                u16::from(f.code),
                                f.reason.as_str()
                            ))
                            .unwrap_or_else(|| "no close code".into())
                    ))
                }
                Some(Ok(_)) => continue,
            };
            if let Some(d) = ws_difference(&sent[k], &got) {
                return Err(format!("echo {} differs: {d}", k + 1));
            }
            k += 1;
            result.requests += 1;
        }
        Ok(())
    };
    match tokio::time::timeout(opts.timeout, echoes).await {
        Err(_) => {
            out.push(format!(
                "only {} of {} echoes arrived within {secs:.1}s",
                result.requests,
                sent.len()
            ));
            return;
        }
        Ok(Err(e)) => {
            out.push(e);
            return;
        }
        Ok(Ok(())) => {}
    }
    // The close handshake: our Close, then the server's Close, then the end of the stream.
    let close = async {
        ws.close(None)
            .await
            .map_err(|e| format!("our Close frame could not be sent: {e}"))?;
        let mut answered = false;
        loop {
            match ws.next().await {
                None | Some(Err(WsError::ConnectionClosed)) => break,
                Some(Ok(Message::Close(_))) => answered = true,
                Some(Ok(Message::Text(_) | Message::Binary(_))) => {
                    return Err(
                        "a data message arrived after every echo, before the close".to_string()
                    )
                }
                Some(Ok(_)) => {}
                Some(Err(e)) if answered => {
                    return Err(format!("after answering the Close frame: {e}"));
                }
                Some(Err(e)) => {
                    return Err(format!("the server did not answer the Close frame: {e}"));
                }
            }
        }
        if answered {
            Ok(())
        } else {
            Err("the server ended the connection without answering the Close frame".to_string())
        }
    };
    match tokio::time::timeout(opts.timeout, close).await {
        Err(_) => out.push(format!(
            "close handshake: no answer to the Close frame within {secs:.1}s"
        )),
        Ok(Err(e)) => out.push(format!("close handshake: {e}")),
        Ok(Ok(())) => {}
    }
}

async fn check_endpoint(
    e: Endpoint,
    addr: SocketAddr,
    upstream: Option<&Upstream>,
    opts: &CheckOptions,
    rng: &mut Rng,
    result: &mut EndpointResult,
) {
    if e == Endpoint::Ws {
        check_ws(addr, opts, rng, result).await;
        return;
    }
    let mut closes = 0;
    check_requests(e, addr, upstream, opts, rng, result, &mut closes).await;
    if closes > 0 {
        result.notes.push(format!(
            "no keep-alive: the server closed the connection after {closes} of {} responses, announcing it (Connection: close)",
            result.requests
        ));
    }
}

async fn check_requests(
    e: Endpoint,
    addr: SocketAddr,
    upstream: Option<&Upstream>,
    opts: &CheckOptions,
    rng: &mut Rng,
    result: &mut EndpointResult,
    closes: &mut u32,
) {
    let out = &mut result.failures;
    if e == Endpoint::Io && upstream.is_none() {
        out.push("cannot be checked without the upstream service".into());
        return;
    }
    let mut sender = match connect(addr).await {
        Ok(s) => s,
        Err(err) => {
            out.push(err);
            return;
        }
    };
    let mut announced_close = false;
    for (k, (path, input)) in inputs(e, rng, opts.requests.max(2)).into_iter().enumerate() {
        let what = format!("request {} (GET {path})", k + 1);
        let before = match (e, upstream) {
            (Endpoint::Io, Some(u)) => match u.count() {
                Ok(c) => Some(c),
                Err(err) => {
                    out.push(format!("{what}: cannot read the upstream's count: {err}"));
                    return;
                }
            },
            _ => None,
        };
        if announced_close {
            // The previous response said `Connection: close` (gunicorn's sync worker does, as
            // documented; docs/contract.md accepts it): a new connection, as any client would.
            match connect(addr).await {
                Ok(s) => sender = s,
                Err(err) => {
                    out.push(err);
                    return;
                }
            }
        } else if sender.is_closed() {
            out.push(format!(
                "{what}: the server closed the keep-alive connection after the previous response"
            ));
            match connect(addr).await {
                Ok(s) => sender = s,
                Err(err) => {
                    out.push(err);
                    return;
                }
            }
        }
        let r = match get(&mut sender, addr, &path, opts.timeout).await {
            Ok(r) => r,
            Err(err) => {
                out.push(format!("{what}: {err}"));
                // Try again on a fresh connection for the remaining requests.
                match connect(addr).await {
                    Ok(s) => sender = s,
                    Err(err) => {
                        out.push(err);
                        return;
                    }
                }
                continue;
            }
        };
        result.requests += 1;
        announced_close = announces_close(&r);
        if announced_close {
            *closes += 1;
        }
        match e {
            Endpoint::Plaintext => {
                common(&r, "text/plain", out, &what);
                if &r.body[..] != b"Hello, World!" {
                    out.push(format!(
                        "{what}: expected body \"Hello, World!\", got {}",
                        shown(&r.body)
                    ));
                }
            }
            Endpoint::Json => {
                common(&r, "application/json", out, &what);
                let expected = serde_json::json!({"message": "Hello, World!"});
                if let Some(v) = json_body(&r, &what, out) {
                    if v != expected {
                        out.push(format!("{what}: expected {expected}, got {v}"));
                    }
                }
            }
            Endpoint::Cpu => {
                common(&r, "application/json", out, &what);
                let expected = serde_json::json!({"n": input, "result": cpu_result(input)});
                if let Some(v) = json_body(&r, &what, out) {
                    if v != expected {
                        out.push(format!("{what}: expected {expected}, got {v}"));
                    }
                }
            }
            Endpoint::Hash => {
                common(&r, "application/json", out, &what);
                let expected = serde_json::json!({"n": input, "sha256": hash_hex(input)});
                if let Some(v) = json_body(&r, &what, out) {
                    if v != expected {
                        out.push(format!("{what}: expected {expected}, got {v}"));
                    }
                }
            }
            Endpoint::Io => {
                common(&r, "application/json", out, &what);
                let u = upstream.expect("checked above");
                let after = match u.count() {
                    Ok(c) => c,
                    Err(err) => {
                        out.push(format!("{what}: cannot read the upstream's count: {err}"));
                        return;
                    }
                };
                let before = before.unwrap_or(0);
                let calls = after.saturating_sub(before);
                if calls != 1 {
                    out.push(format!(
                        "{what}: expected exactly 1 upstream request, the upstream counted {calls}"
                    ));
                }
                if let Some(v) = json_body(&r, &what, out) {
                    let ms_ok = v.get("ms").and_then(|x| x.as_u64()) == Some(input);
                    let seq = v.get("seq").and_then(|x| x.as_u64());
                    let seq_ok = seq.is_some_and(|s| s > before && s <= after);
                    let only = v.as_object().is_some_and(|o| o.len() == 2);
                    if !(ms_ok && seq_ok && only) {
                        out.push(format!(
                            "{what}: expected the upstream's answer {{\"ms\":{input},\"seq\":K}} with {} ≤ K ≤ {after}, got {v}",
                            before + 1
                        ));
                    }
                }
                if r.took < Duration::from_millis(input) {
                    out.push(format!(
                        "{what}: answered in {:.1} ms, before the upstream's {input} ms delay",
                        r.took.as_secs_f64() * 1000.0
                    ));
                }
            }
            Endpoint::Ws => unreachable!("/ws is checked by check_ws"),
            Endpoint::Db
            | Endpoint::Queries
            | Endpoint::Fortunes
            | Endpoint::Updates
            | Endpoint::Crud
            | Endpoint::Vector => unreachable!("checked by db::check"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_matches_the_contract_examples() {
        assert_eq!([0, 1, 2, 3, 10].map(cpu_result), [0, 0, 1, 33, 165_029_893]);
    }

    #[test]
    fn hash_chain_matches_an_independent_computation() {
        assert_eq!(hash_hex(0), "0".repeat(64));
        // n = 1 is SHA-256 of the buffer itself; check it against a digest computed by a
        // different route (one update per byte).
        let mut h = Sha256::new();
        for i in 0..1024 {
            h.update([(i % 251) as u8]);
        }
        let one: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hash_hex(1), one);
        assert_ne!(hash_hex(2), hash_hex(1));
        assert_eq!(hash_hex(3).len(), 64);
    }

    /// A raw HTTP/1.1 server answering `/plaintext` with `headers`, closing after each response
    /// when `close` is set. Serves until the test process ends.
    fn raw_server(headers: &'static str, close: bool) -> SocketAddr {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    loop {
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match s.read(&mut chunk) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
                        buf.drain(..end + 4);
                        let body = "Hello, World!";
                        let _ = write!(
                            s,
                            "HTTP/1.1 200 OK\r\n{headers}Content-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if close {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn check_plaintext(addr: SocketAddr) -> EndpointResult {
        let r = check(
            "raw",
            addr,
            &[Endpoint::Plaintext],
            None,
            &CheckOptions::default(),
        );
        r.endpoints
            .into_iter()
            .find(|e| e.endpoint == Endpoint::Plaintext)
            .unwrap()
    }

    const GOOD_HEADERS: &str =
        "Content-Type: text/plain; charset=utf-8\r\nDate: Tue, 24 Nov 2026 10:00:00 GMT\r\nServer: raw\r\n";

    #[test]
    fn keep_alive_and_headers_are_checked() {
        let ok = check_plaintext(raw_server(GOOD_HEADERS, false));
        assert!(
            ok.passed() && ok.notes.is_empty() && ok.requests == 4,
            "{ok:?}"
        );

        // Announced close (gunicorn sync): passes, with a note.
        let announced = check_plaintext(raw_server(
            "Content-Type: text/plain\r\nDate: x\r\nServer: raw\r\nConnection: close\r\n",
            true,
        ));
        assert!(announced.passed(), "{announced:?}");
        assert!(
            announced.notes[0].contains("no keep-alive"),
            "{announced:?}"
        );

        // Silent close: fails.
        let silent = check_plaintext(raw_server(GOOD_HEADERS, true));
        assert!(!silent.passed(), "{silent:?}");

        // Missing Date and wrong Content-Type: named.
        let bad = check_plaintext(raw_server(
            "Content-Type: text/html\r\nServer: raw\r\n",
            false,
        ));
        let all = bad.failures.join("\n");
        assert!(all.contains("expected a date header, got none"), "{all}");
        assert!(
            all.contains("expected Content-Type text/plain, got \"text/html\""),
            "{all}"
        );
    }

    /// How an in-process WebSocket test server answers.
    #[derive(Clone, Copy)]
    enum WsBehaviour {
        /// Echoes every message unchanged.
        Echo,
        /// Echoes, but the second message comes back with its last byte dropped.
        CutSecond,
        /// Echoes binary messages as text (same payload where it is UTF-8).
        BinaryAsText,
        /// Echoes, then drops the TCP connection on a Close without answering it.
        NoCloseAnswer,
    }

    /// An axum server with `GET /ws` behaving as asked, on its own runtime thread; serves until
    /// the test process ends.
    fn ws_server(how: WsBehaviour) -> SocketAddr {
        use axum::extract::ws::{Message, WebSocketUpgrade};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let handler = move |up: WebSocketUpgrade| async move {
                    up.on_upgrade(move |mut socket| async move {
                        let mut k = 0;
                        while let Some(Ok(msg)) = socket.recv().await {
                            let reply = match (how, msg) {
                                (WsBehaviour::NoCloseAnswer, Message::Close(_)) => return,
                                (_, Message::Close(_) | Message::Ping(_) | Message::Pong(_)) => {
                                    continue
                                }
                                (WsBehaviour::CutSecond, Message::Text(t)) if k == 1 => {
                                    let mut s = t.as_str().to_string();
                                    s.pop();
                                    Message::text(s)
                                }
                                (WsBehaviour::BinaryAsText, Message::Binary(b)) => {
                                    Message::text(String::from_utf8_lossy(&b).into_owned())
                                }
                                (_, m) => m,
                            };
                            k += 1;
                            if socket.send(reply).await.is_err() {
                                return;
                            }
                        }
                    })
                };
                let app = axum::Router::new().route("/ws", axum::routing::get(handler));
                let l = tokio::net::TcpListener::from_std(l).unwrap();
                axum::serve(l, app).await.unwrap();
            });
        });
        addr
    }

    fn check_ws_at(addr: SocketAddr) -> EndpointResult {
        let opts = CheckOptions {
            timeout: Duration::from_secs(5),
            ..CheckOptions::default()
        };
        let r = check("ws", addr, &[Endpoint::Ws], None, &opts);
        assert!(
            r.endpoints
                .iter()
                .all(|e| e.declared == (e.endpoint == Endpoint::Ws)),
            "{r:?}"
        );
        r.endpoints
            .into_iter()
            .find(|e| e.endpoint == Endpoint::Ws)
            .unwrap()
    }

    #[test]
    fn a_websocket_echo_passes_and_every_message_is_counted() {
        let r = check_ws_at(ws_server(WsBehaviour::Echo));
        assert!(r.passed() && r.failures.is_empty(), "{r:?}");
        // 4 text messages and 1 binary.
        assert_eq!(r.requests, 5, "{r:?}");
    }

    #[test]
    fn a_wrong_websocket_echo_is_named() {
        let cut = check_ws_at(ws_server(WsBehaviour::CutSecond));
        assert!(!cut.passed(), "{cut:?}");
        let f = cut.failures.join("\n");
        assert!(f.starts_with("echo 2 differs: sent "), "{f}");
        assert!(f.contains("bytes of text, got "), "{f}");
        assert!(f.contains("cut short"), "{f}");
        assert_eq!(cut.requests, 1, "{cut:?}");

        let kind = check_ws_at(ws_server(WsBehaviour::BinaryAsText));
        let f = kind.failures.join("\n");
        assert!(f.starts_with("echo 5 differs: sent "), "{f}");
        assert!(f.contains("bytes of binary, got "), "{f}");
        assert!(f.contains("bytes of text"), "{f}");
    }

    #[test]
    fn an_unanswered_close_and_a_missing_route_are_named() {
        let r = check_ws_at(ws_server(WsBehaviour::NoCloseAnswer));
        assert_eq!(r.requests, 5, "{r:?}");
        let f = r.failures.join("\n");
        assert!(f.starts_with("close handshake: "), "{f}");

        // An HTTP server without /ws: the upgrade is refused with its status.
        let plain = check_ws_at(raw_server(GOOD_HEADERS, false));
        let f = plain.failures.join("\n");
        assert!(!plain.passed(), "{plain:?}");
        assert!(
            f.contains("the upgrade was refused: expected status 101, got 200"),
            "{f}"
        );
    }

    #[test]
    fn ws_messages_are_random_sized_and_valid() {
        let mut a = Rng::new(7);
        let m = ws_messages(&mut a, 4);
        assert_eq!(m.len(), 5);
        assert!(m[..4].iter().all(|x| matches!(x, WsData::Text(_))));
        assert!(matches!(m[4], WsData::Binary(_)));
        assert!((1..=125).contains(&m[0].payload().len()));
        assert!((126..=4096).contains(&m[1].payload().len()));
        assert!((1024..=65_536).contains(&m[4].payload().len()));
        assert_ne!(m, ws_messages(&mut Rng::new(8), 4));
        // Multi-byte characters are in the mix, and lengths are exact in bytes.
        let t = Rng::new(3).text(3000);
        assert_eq!(t.len(), 3000);
        assert!(t.chars().any(|c| c.len_utf8() > 1), "{t}");
    }

    #[test]
    fn a_server_on_all_interfaces_is_refused() {
        let any = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let p = binding_problems(any.local_addr().unwrap().port());
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("listens on all interfaces"), "{p:?}");
        let lo = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(binding_problems(lo.local_addr().unwrap().port()).is_empty());
    }

    #[test]
    fn inputs_are_random_and_in_range() {
        let mut a = Rng::new(1);
        let mut b = Rng::new(2);
        let ia = inputs(Endpoint::Cpu, &mut a, 6);
        let ib = inputs(Endpoint::Cpu, &mut b, 6);
        assert_ne!(ia, ib);
        assert!(ia.iter().all(|(_, n)| *n <= 1_000_000));
        assert!(inputs(Endpoint::Hash, &mut a, 10)
            .iter()
            .all(|(_, n)| (1..=3000).contains(n)));
        assert!(inputs(Endpoint::Io, &mut a, 10)
            .iter()
            .all(|(_, n)| *n <= 15));
    }
}
