//! `stackwise-axum`: the Rust baseline reference backend of the stackwise lab (axum on hyper).
//!
//! Routes: `GET /` → `Hello, World!` (text/plain), `GET /json` → `{"message":"Hello, World!"}`.
//! Usage: `stackwise-axum [--port N] [--workers N]`; it prints `listening on ADDR` once bound, on
//! 127.0.0.1 only. `--workers 1` runs a current-thread runtime (one core's worth of server).

use axum::routing::get;
use axum::{Json, Router};

#[derive(Debug)]
struct Opts {
    port: u16,
    workers: usize,
}

fn parse_opts() -> Result<Opts, String> {
    let mut opts = Opts {
        port: 0,
        workers: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--port" => {
                let v = value("--port")?;
                opts.port = v
                    .parse()
                    .map_err(|_| format!("--port: '{v}' is not a port number"))?;
            }
            "--workers" => {
                let v = value("--workers")?;
                opts.workers = match v.parse() {
                    Ok(n) if n > 0 => n,
                    _ => return Err(format!("--workers: '{v}' is not a positive number")),
                };
            }
            "-h" | "--help" => {
                println!("usage: stackwise-axum [--port N] [--workers N]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument '{other}' (see --help)")),
        }
    }
    Ok(opts)
}

fn main() {
    let opts = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let rt = if opts.workers == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(opts.workers)
            .enable_all()
            .build()
    }
    .expect("tokio runtime");
    rt.block_on(async move {
        let app = Router::new()
            .route("/", get(|| async { "Hello, World!" }))
            .route(
                "/json",
                get(|| async { Json(serde_json::json!({"message": "Hello, World!"})) }),
            );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port))
            .await
            .unwrap_or_else(|e| {
                eprintln!("error: cannot listen on 127.0.0.1:{}: {e}", opts.port);
                std::process::exit(1);
            });
        println!("listening on {}", listener.local_addr().expect("bound"));
        axum::serve(listener, app).await.expect("server");
    });
}
