//! The UI's pages as responses: their bodies are rendered by [`reports::ui`] on
//! [`reports::html::page`]'s layout; here only the status, the headers and the App's options.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use lab::process::job::Snapshot;

use super::App;
use crate::UsageError;

pub use reports::ui::{example_values, EXAMPLE_PROFILE};

pub fn page(app: &App, title: &str, body: &str) -> Response {
    Html(reports::html::page(title, body, &app.opts)).into_response()
}

pub fn error_page(app: &App, status: StatusCode, e: &anyhow::Error) -> Response {
    let mut r = page(
        app,
        "stackwise: error",
        &reports::ui::error(&format!("{e:#}")),
    );
    *r.status_mut() = status;
    r
}

pub fn status_of(e: &anyhow::Error) -> StatusCode {
    if e.downcast_ref::<UsageError>().is_some() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// The home page (the stored runs), so without the link back to itself.
pub fn index(app: &App, runs: &[store::RunListing]) -> Response {
    let opts = reports::html::Options {
        home_link: None,
        ..app.opts.clone()
    };
    let body = reports::ui::index(runs, &app.db);
    Html(reports::html::page("stackwise: lab runs", &body, &opts)).into_response()
}

/// The lab page, with the policy that lets its one script (`nonce`) run.
pub fn lab(app: &App, job: Option<Snapshot>, nonce: &str) -> Response {
    let run = job.map(|j| reports::ui::LabRun {
        command: j.command,
        log: j.log,
        live: j.live,
        skipped: j.skipped,
        ended: j.ended,
    });
    let body = reports::ui::lab(run, &app.db, &app.csrf, nonce);
    let mut r = page(app, "stackwise: lab run", &body);
    if let Ok(v) = HeaderValue::from_str(&reports::ui::lab_csp(nonce)) {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}
