//! `stackwise serve`: a local web UI on 127.0.0.1 (another address only with --allow-remote):
//! the stored runs, a run's HTML report, two runs compared, and the advice for a profile typed
//! into a form (the questionnaire), and a lab run started, watched (server-sent events) and
//! stopped from the browser.
//!
//! - [`guard`]: what keeps a web page elsewhere from driving it (bind address, Host, Origin,
//!   Referer, CSRF token, security headers).
//! - [`router`]: the routes and their handlers (reading requests, choosing the page).
//! - [`pages`]: the HTML of each page.
//! - [`lab_job`]: the lab run as a child supervised by the lab's supervisor, its output streamed.
//!
//! Stopping the UI stops a lab run it started (and the run dies with the UI however it ends).

mod guard;
mod lab_job;
mod pages;
mod router;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::cli::ServeArgs;
use crate::UsageError;

/// What every handler shares.
pub struct App {
    db: PathBuf,
    /// Host header values this server answers to (`127.0.0.1:8700`, `localhost:8700`, …).
    hosts: Vec<String>,
    /// The token every form carries; random per server start.
    csrf: String,
    opts: reports::html::Options,
    /// The lab run started from the UI (one at a time; the last one is kept to be shown).
    lab: Mutex<Option<lab::process::job::Job>>,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let ip = guard::bind_address(&args.bind, args.allow_remote).map_err(UsageError)?;
    let db = match args.db {
        Some(p) => p,
        None => store::default_path().map_err(|e| UsageError(format!("--db: {e}")))?,
    };
    let csrf = guard::random_token()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, args.port))
            .await
            .map_err(|e| UsageError(format!("--port {}: cannot listen on {ip}: {e}", args.port)))?;
        let local = listener.local_addr()?;
        let app = Arc::new(App {
            hosts: guard::host_names(local),
            db,
            csrf,
            lab: Mutex::new(None),
            opts: reports::html::Options {
                home_link: Some("/".into()),
                ..super::report::html_options()
            },
        });
        let shown = if ip.is_loopback() {
            format!("http://{}/", app.hosts[0])
        } else {
            format!("http://{local}/")
        };
        println!(
            "stackwise serve: {shown} (store {}; Ctrl-C to stop)",
            app.db.display()
        );
        std::io::stdout().flush()?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let stop_tx = Mutex::new(Some(stop_tx));
        ctrlc::set_handler(move || {
            if let Some(tx) = stop_tx.lock().ok().and_then(|mut t| t.take()) {
                let _ = tx.send(());
            }
        })?;
        axum::serve(listener, router::router(app.clone()))
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await?;
        // None outlives the UI: stop the run and wait until it has ended and been checked.
        if let Some(job) = app.lab.lock().expect("lab state").as_ref() {
            job.stop_and_wait();
        }
        Ok::<(), anyhow::Error>(())
    })
}
