//! The upstream service the targets' `/io` endpoint calls (docs/contract.md): a small Rust HTTP
//! server (axum on tokio, one runtime thread per CPU it is pinned to) answering `GET /delay?ms=N` after N ms with
//! `{"ms":N,"seq":K}` (K: its request counter) and `GET /count` with `{"count":K}` (delay requests
//! received, for the checker). It runs as a separate pinned process (`stackwise upstream --port P`)
//! so that its CPU is measured apart from the load engine's; [`crate::services::Upstream`] starts it.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The largest delay accepted (the contract's bound).
pub const MAX_DELAY_MS: u64 = 10_000;

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn query_ms(uri: &Uri) -> Result<u64, String> {
    let q = uri.query().unwrap_or("");
    let v = q
        .split('&')
        .find_map(|kv| kv.strip_prefix("ms="))
        .ok_or("missing ms parameter")?;
    let ms: u64 = v
        .parse()
        .map_err(|_| format!("ms={v} is not a non-negative integer"))?;
    if ms > MAX_DELAY_MS {
        return Err(format!("ms={ms} is above {MAX_DELAY_MS}"));
    }
    Ok(ms)
}

/// The router, with its request counter.
pub fn router(counter: Arc<AtomicU64>) -> Router {
    let c2 = counter.clone();
    Router::new()
        .route(
            "/delay",
            get(move |uri: Uri| {
                let counter = counter.clone();
                async move {
                    let ms = match query_ms(&uri) {
                        Ok(ms) => ms,
                        Err(e) => {
                            return json(
                                StatusCode::BAD_REQUEST,
                                serde_json::json!({ "error": e }).to_string(),
                            )
                        }
                    };
                    let seq = counter.fetch_add(1, Ordering::SeqCst) + 1;
                    if ms > 0 {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                    json(StatusCode::OK, format!("{{\"ms\":{ms},\"seq\":{seq}}}"))
                }
            }),
        )
        .route(
            "/count",
            get(move || {
                let n = c2.load(Ordering::SeqCst);
                async move { json(StatusCode::OK, format!("{{\"count\":{n}}}")) }
            }),
        )
}

/// Serves on 127.0.0.1:`port` until killed; prints `listening on ADDR` once bound. It runs one
/// runtime thread per CPU it may use (its pinning), so that its busy share over those CPUs
/// ([`crate::sample::BusyMeter::share`]) reaches 100% only when it is really saturated.
pub fn serve(port: u16) -> io::Result<()> {
    let threads = loadgen::cpu::allowed_cpus().len().max(1);
    let rt = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!("listening on {}", listener.local_addr()?);
        axum::serve(listener, router(Arc::new(AtomicU64::new(0)))).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_after_the_delay_and_counts() {
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
                axum::serve(l, router(Arc::new(AtomicU64::new(0)))).await
            })
        });
        let get = |p: &str| crate::process::http_get(addr, p, Duration::from_secs(5)).unwrap();
        let t0 = std::time::Instant::now();
        let (status, body) = get("/delay?ms=30");
        assert!(t0.elapsed() >= Duration::from_millis(30));
        assert_eq!((status, &body[..]), (200, &br#"{"ms":30,"seq":1}"#[..]));
        let (_, body) = get("/delay?ms=0");
        assert_eq!(&body[..], br#"{"ms":0,"seq":2}"#);
        assert_eq!(get("/delay?ms=x").0, 400);
        assert_eq!(&get("/count").1[..], br#"{"count":2}"#);
    }

    #[test]
    fn parses_ms() {
        let u = |s: &str| s.parse::<Uri>().unwrap();
        assert_eq!(query_ms(&u("/delay?ms=15")).unwrap(), 15);
        assert_eq!(query_ms(&u("/delay?x=1&ms=0")).unwrap(), 0);
        assert!(query_ms(&u("/delay")).is_err());
        assert!(query_ms(&u("/delay?ms=-1")).is_err());
        assert!(query_ms(&u("/delay?ms=10001")).is_err());
    }
}
