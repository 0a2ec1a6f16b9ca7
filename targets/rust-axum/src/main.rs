//! `stackwise-axum`: the Rust baseline reference backend of the stackwise lab (axum on hyper).
//!
//! Routes: `GET /` → `Hello, World!` (text/plain) and the contract endpoints of docs/contract.md
//! (`/plaintext`, `/json`, `/io`, `/cpu`, `/hash`, `/ws`; see `contract.rs`), the database endpoints
//! and `/vector` (`db.rs`; `DATABASE_URL` and `DB_POOL` from the environment, the pool's size
//! defaulting to 16, the lab's budget for one process). Usage: `stackwise-axum [--port N]
//! [--workers N] [--upstream URL] [--stall-ms MS --stall-every-ms MS]` (the lab's `PORT`, `WORKERS` and
//! `UPSTREAM_URL` environment variables stand in for absent flags), or `stackwise-axum versions` (JSON
//! of the versions built with). It prints
//! `listening on ADDR` once bound, on 127.0.0.1 only. `--workers 1` runs a current-thread runtime
//! (one core's worth of server).
//!
//! Fault injection, for checking that a load generator reports pauses honestly: with
//! `--stall-ms 500 --stall-every-ms 1000` the stalls sit on a fixed clock grid from start-up,
//! `[k·1000 ms, k·1000 ms + 500 ms)`: a request handled inside a stall window blocks its worker
//! thread until the window ends, like a stop-the-world garbage-collector pause; with `--workers 1`
//! the whole server is frozen exactly the stated share of the time, whatever the request timing.

use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;

mod contract;
mod db;

#[derive(Debug)]
struct Opts {
    port: u16,
    workers: usize,
    upstream: Option<String>,
    database: Option<String>,
    db_pool: usize,
    stall: Option<(Duration, Duration)>,
}

/// A positive integer from the environment variable `name`, if set.
fn env_number<T: std::str::FromStr + PartialOrd + Default>(
    name: &str,
) -> Result<Option<T>, String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => match v.parse::<T>() {
            Ok(n) if n > T::default() => Ok(Some(n)),
            _ => Err(format!("{name}='{v}' is not a positive number")),
        },
        _ => Ok(None),
    }
}

fn parse_opts() -> Result<Opts, String> {
    let mut opts = Opts {
        port: env_number("PORT")?.unwrap_or(0),
        workers: env_number("WORKERS")?.unwrap_or(1),
        upstream: std::env::var("UPSTREAM_URL").ok().filter(|u| !u.is_empty()),
        database: std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()),
        db_pool: env_number("DB_POOL")?.unwrap_or(16),
        stall: None,
    };
    let (mut stall_ms, mut every_ms) = (None, None);
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
            "--upstream" => opts.upstream = Some(value("--upstream")?).filter(|u| !u.is_empty()),
            "versions" | "--versions" => {
                println!("{}", contract::versions_json());
                std::process::exit(0);
            }
            "--stall-ms" | "--stall-every-ms" => {
                let v = value(&a)?;
                let ms: u64 = v
                    .parse()
                    .map_err(|_| format!("{a}: '{v}' is not a number of milliseconds"))?;
                if a == "--stall-ms" {
                    stall_ms = Some(ms);
                } else {
                    every_ms = Some(ms);
                }
            }
            "-h" | "--help" => {
                println!(
                    "usage: stackwise-axum [--port N] [--workers N] [--upstream URL] [--stall-ms MS --stall-every-ms MS]\n       stackwise-axum versions"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument '{other}' (see --help)")),
        }
    }
    opts.stall = match (stall_ms, every_ms) {
        (None, None) => None,
        (Some(s), Some(e)) if s > 0 && e > 0 => {
            Some((Duration::from_millis(s), Duration::from_millis(e)))
        }
        _ => {
            return Err("--stall-ms and --stall-every-ms go together, both above zero".to_string())
        }
    };
    Ok(opts)
}

/// Blocks the calling worker thread while inside a stall window of the fixed grid
/// `[k·every, k·every + stall)` measured from `origin`.
#[derive(Clone)]
struct Staller {
    stall: Duration,
    every: Duration,
    origin: Instant,
}

impl Staller {
    fn maybe_stall(&self) {
        if let Some(rest) = stall_remaining(self.origin.elapsed(), self.stall, self.every) {
            std::thread::sleep(rest);
        }
    }
}

/// How long a request handled `elapsed` after start-up must block: the rest of the stall window it
/// falls in, or `None` outside every window.
fn stall_remaining(elapsed: Duration, stall: Duration, every: Duration) -> Option<Duration> {
    let phase = Duration::from_nanos((elapsed.as_nanos() % every.as_nanos()) as u64);
    (phase < stall).then(|| stall - phase)
}

fn main() {
    let opts = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let pool = match opts
        .database
        .as_deref()
        .map(|url| db::pool(url, opts.db_pool))
    {
        Some(Ok(pool)) => Some(pool),
        Some(Err(e)) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
        None => None,
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
        let mut app = Router::new()
            .route("/", get(|| async { "Hello, World!" }))
            .merge(contract::router(opts.upstream.clone()))
            .merge(db::router(pool));
        if let Some((stall, every)) = opts.stall {
            let staller = Staller {
                stall,
                every,
                origin: Instant::now(),
            };
            app = app.layer(axum::middleware::from_fn(
                move |req: axum::extract::Request, next: axum::middleware::Next| {
                    staller.maybe_stall();
                    next.run(req)
                },
            ));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn stalls_sit_on_a_fixed_grid() {
        // --stall-ms 500 --stall-every-ms 1000: windows [0, 500), [1000, 1500), …
        assert_eq!(stall_remaining(MS(0), MS(500), MS(1000)), Some(MS(500)));
        assert_eq!(stall_remaining(MS(1200), MS(500), MS(1000)), Some(MS(300)));
        assert_eq!(stall_remaining(MS(1500), MS(500), MS(1000)), None);
        assert_eq!(stall_remaining(MS(1999), MS(500), MS(1000)), None);
    }

    #[test]
    fn a_request_after_idling_does_not_push_the_next_stall() {
        // The old staller stalled 500 ms from 1.9 s (to 2.4 s) and then again from 2.4 s: frozen
        // 1 s. On the grid, 1.9 s is outside a window and the 2.4 s request waits only to 2.5 s.
        assert_eq!(stall_remaining(MS(1900), MS(500), MS(1000)), None);
        assert_eq!(stall_remaining(MS(2400), MS(500), MS(1000)), Some(MS(100)));
        // Frozen time over 10 s of back-to-back requests is exactly 5 × 500 ms.
        let (mut t, mut frozen) = (MS(0), MS(0));
        while t < MS(10_000) {
            match stall_remaining(t, MS(500), MS(1000)) {
                Some(rest) => {
                    frozen += rest;
                    t += rest;
                }
                None => t += MS(1),
            }
        }
        assert_eq!(frozen, MS(10 * 500));
    }
}
