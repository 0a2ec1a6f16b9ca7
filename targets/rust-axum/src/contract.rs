//! The contract endpoints (docs/contract.md) of the Rust baseline: `/plaintext`, `/json`, `/io`
//! (one GET to the lab's upstream through hyper-util's pooled client), `/cpu` (the contract's loop in
//! Rust), `/hash` (chained SHA-256 through the `sha2` crate) and `/ws` (a WebSocket echo through axum's
//! `ws` feature, tokio-tungstenite), every response with a `Server` header (hyper adds `Date`).

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::header::{HeaderValue, SERVER};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Largest accepted `/io` delay, `/cpu` n and `/hash` n.
const MAX_IO_MS: u64 = 10_000;
const MAX_CPU_N: u64 = 1_000_000_000;
const MAX_HASH_N: u64 = 1_000_000;

struct Upstream {
    /// Base URL without a trailing slash, or `None` when the lab gave none.
    base: Option<String>,
    client: Client<HttpConnector, Empty<Bytes>>,
}

/// The contract routes; `/io` calls `{upstream}/delay?ms=N`.
pub fn router(upstream: Option<String>) -> Router {
    let state = Arc::new(Upstream {
        base: upstream.map(|u| u.trim_end_matches('/').to_string()),
        client: Client::builder(TokioExecutor::new()).build_http(),
    });
    Router::new()
        .route("/plaintext", get(|| async { "Hello, World!" }))
        .route(
            "/json",
            get(|| async { Json(json!({"message": "Hello, World!"})) }),
        )
        .route("/io", get(io))
        .route("/cpu", get(cpu))
        .route("/hash", get(hash))
        .route("/ws", get(ws))
        .with_state(state)
        .layer(axum::middleware::map_response(
            |mut res: Response| async move {
                res.headers_mut()
                    .insert(SERVER, HeaderValue::from_static("axum"));
                res
            },
        ))
}

/// `GET /ws`: upgrades (axum's defaults: 64 MiB message limit, no idle timeout) and echoes.
async fn ws(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(echo)
}

/// Sends every text and binary message back as it came. A Close is not answered here: the next
/// `recv` flushes tungstenite's automatic reply and then ends the stream.
async fn echo(mut socket: WebSocket) {
    while let Some(Ok(msg)) = socket.recv().await {
        if matches!(msg, Message::Text(_) | Message::Binary(_)) && socket.send(msg).await.is_err() {
            break;
        }
    }
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// The query parameter `key` as an integer from 0 to `max`, or a 400 answer's message.
pub fn int_param(query: Option<&str>, key: &str, max: u64) -> Result<u64, String> {
    let bad = || format!("{key} must be an integer from 0 to {max}");
    let raw = query
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
        .ok_or_else(bad)?;
    if raw.is_empty() || raw.len() > 10 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match raw.parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(bad()),
    }
}

async fn io(State(up): State<Arc<Upstream>>, RawQuery(q): RawQuery) -> Response {
    let ms = match int_param(q.as_deref(), "ms", MAX_IO_MS) {
        Ok(ms) => ms,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let Some(base) = &up.base else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no upstream: set UPSTREAM_URL or --upstream".into(),
        );
    };
    let uri = match format!("{base}/delay?ms={ms}").parse::<hyper::Uri>() {
        Ok(uri) => uri,
        Err(e) => return error(StatusCode::BAD_GATEWAY, format!("upstream URL: {e}")),
    };
    let res = match up.client.get(uri).await {
        Ok(res) => res,
        Err(e) => return error(StatusCode::BAD_GATEWAY, format!("upstream: {e}")),
    };
    if res.status() != StatusCode::OK {
        return error(
            StatusCode::BAD_GATEWAY,
            format!("upstream answered {}", res.status()),
        );
    }
    let body = match res.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return error(StatusCode::BAD_GATEWAY, format!("upstream body: {e}")),
    };
    match serde_json::from_slice::<Value>(&body) {
        Ok(v) => Json(v).into_response(),
        Err(e) => error(StatusCode::BAD_GATEWAY, format!("upstream JSON: {e}")),
    }
}

/// The contract's loop in Rust itself: x = (x * 31 + i) mod 2^32 for i in 0..n-1.
pub fn cpu_loop(n: u64) -> u32 {
    let mut x: u32 = 0;
    for i in 0..n {
        x = x.wrapping_mul(31).wrapping_add(i as u32);
    }
    x
}

/// n chained SHA-256 digests of the contract's 1 KiB buffer, as lowercase hex.
pub fn sha256_chain(n: u64) -> String {
    let mut b = [0u8; 1024];
    for (i, byte) in b.iter_mut().enumerate() {
        *byte = (i % 251) as u8;
    }
    let mut d = [0u8; 32];
    for _ in 0..n {
        d = Sha256::digest(b).into();
        b[..32].copy_from_slice(&d);
    }
    d.iter().map(|x| format!("{x:02x}")).collect()
}

async fn cpu(RawQuery(q): RawQuery) -> Response {
    match int_param(q.as_deref(), "n", MAX_CPU_N) {
        Ok(n) => Json(json!({"n": n, "result": cpu_loop(n)})).into_response(),
        Err(message) => error(StatusCode::BAD_REQUEST, message),
    }
}

async fn hash(RawQuery(q): RawQuery) -> Response {
    match int_param(q.as_deref(), "n", MAX_HASH_N) {
        Ok(n) => Json(json!({"n": n, "sha256": sha256_chain(n)})).into_response(),
        Err(message) => error(StatusCode::BAD_REQUEST, message),
    }
}

/// The `versions` command's JSON: rustc and the crates this binary was built with (recorded by
/// build.rs from rustc and Cargo.lock).
pub fn versions_json() -> String {
    json!({
        "rust": env!("STACKWISE_RUSTC_VERSION"),
        "axum": env!("STACKWISE_VERSION_AXUM"),
        "hyper": env!("STACKWISE_VERSION_HYPER"),
        "hyper-util": env!("STACKWISE_VERSION_HYPER_UTIL"),
        "tokio": env!("STACKWISE_VERSION_TOKIO"),
        "sha2": env!("STACKWISE_VERSION_SHA2"),
        "tokio-tungstenite": env!("STACKWISE_VERSION_TOKIO_TUNGSTENITE"),
        "tokio-postgres": env!("STACKWISE_VERSION_TOKIO_POSTGRES"),
        "deadpool-postgres": env!("STACKWISE_VERSION_DEADPOOL_POSTGRES"),
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_loop_matches_the_contract_examples() {
        assert_eq!(cpu_loop(0), 0);
        assert_eq!(cpu_loop(1), 0);
        assert_eq!(cpu_loop(2), 1);
        assert_eq!(cpu_loop(3), 33);
        assert_eq!(cpu_loop(10), 165_029_893);
    }

    #[test]
    fn sha256_chain_of_zero_is_zeros_and_of_one_is_the_buffer_digest() {
        assert_eq!(sha256_chain(0), "0".repeat(64));
        let b: Vec<u8> = (0..1024).map(|i| (i % 251) as u8).collect();
        let want: String = Sha256::digest(&b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect();
        assert_eq!(sha256_chain(1), want);
        assert_ne!(sha256_chain(2), want);
    }

    #[test]
    fn int_param_takes_only_in_range_decimal_integers() {
        assert_eq!(int_param(Some("n=42"), "n", 100).ok(), Some(42));
        assert_eq!(int_param(Some("x=1&n=0"), "n", 100).ok(), Some(0));
        for bad in [
            None,
            Some(""),
            Some("n="),
            Some("n=-1"),
            Some("n=1e3"),
            Some("n=101"),
        ] {
            assert!(int_param(bad, "n", 100).is_err(), "{bad:?}");
        }
        assert!(int_param(Some("nn=5"), "n", 100).is_err());
    }
}
