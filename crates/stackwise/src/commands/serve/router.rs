//! The UI's routes and their handlers: each reads its request (path, query, form), checks the
//! form's token, and answers with a page ([`super::pages`]), a refusal or a redirect. The guard
//! ([`super::guard::guard`]) runs before every one of them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::guard::{self, csrf_ok, refuse, refuse_with, BAD_TOKEN};
use super::lab_job;
use super::pages::{self, error_page, page, status_of, EXAMPLE_PROFILE};
use super::App;
use crate::commands::report;
use crate::UsageError;
use lab::process::job::Job as LabJob;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/runs/{id}", get(run_report))
        .route("/compare", get(compare))
        .route("/advise", get(advise_form).post(advise_post))
        .route("/lab", get(lab_page))
        .route("/lab/start", post(lab_start))
        .route("/lab/stop", post(lab_stop))
        .route("/lab/events", get(lab_events))
        .layer(middleware::from_fn_with_state(app.clone(), guard::guard))
        .with_state(app)
}

/// A form's fields or a query's pairs.
fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The value of field `k` (the first one).
fn field<'a>(pairs: &'a [(String, String)], k: &str) -> Option<&'a str> {
    pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

fn open_store(app: &App) -> anyhow::Result<Option<store::Store>> {
    if !app.db.is_file() {
        return Ok(None);
    }
    Ok(Some(store::Store::open(&app.db)?))
}

async fn index(State(app): State<Arc<App>>) -> Response {
    match open_store(&app).and_then(|s| match s {
        Some(s) => Ok(s.list_runs()?),
        None => Ok(Vec::new()),
    }) {
        Ok(runs) => pages::index(&app, &runs),
        Err(e) => error_page(&app, StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

fn read_run(app: &App, id: i64) -> anyhow::Result<reports::ReportInput> {
    let store = open_store(app)?
        .ok_or_else(|| UsageError(format!("no lab database at {}", app.db.display())))?;
    report::read_run(&store, &app.db, Some(id), "run")
}

async fn run_report(State(app): State<Arc<App>>, UrlPath(id): UrlPath<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return error_page(
            &app,
            StatusCode::NOT_FOUND,
            &anyhow::anyhow!("no such run: {id}"),
        );
    };
    let mut input = match read_run(&app, id) {
        Ok(i) => i,
        Err(e) => return error_page(&app, status_of(&e), &e),
    };
    if let Err(e) = report::add_sections(&mut input, None) {
        return error_page(&app, status_of(&e), &e);
    }
    Html(reports::html::render(&input, &app.opts)).into_response()
}

async fn compare(State(app): State<Arc<App>>, RawQuery(q): RawQuery) -> Response {
    let pairs = form(q.unwrap_or_default().as_bytes());
    let get = |k: &str| field(&pairs, k).and_then(|v| v.parse::<i64>().ok());
    let (Some(a), Some(b)) = (get("run"), get("baseline")) else {
        return error_page(
            &app,
            StatusCode::BAD_REQUEST,
            &anyhow::anyhow!("compare needs ?run=ID&baseline=ID"),
        );
    };
    match (read_run(&app, a), read_run(&app, b)) {
        (Ok(x), Ok(y)) => Html(reports::html::render_compare(&x, &y, &app.opts)).into_response(),
        (Err(e), _) | (_, Err(e)) => error_page(&app, status_of(&e), &e),
    }
}

async fn advise_form(State(app): State<Arc<App>>) -> Response {
    let body = reports::ui::advise_form(&pages::example_values(), EXAMPLE_PROFILE, None, &app.csrf);
    page(&app, "stackwise: advice for a profile", &body)
}

async fn advise_post(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let pairs = form(&body);
    if !csrf_ok(&app.csrf, &pairs) {
        return refuse(BAD_TOKEN);
    }
    // Either a whole profile (TOML) or the questionnaire's fields (key path → value).
    let (profile, text) = match field(&pairs, "profile") {
        Some(text) => (
            adviser::parse_profile(text, "the profile")
                .map_err(|e| e.to_string())
                .and_then(|p| p.complete().map_err(|e| e.to_string())),
            text.to_string(),
        ),
        None => {
            let answers = pairs.iter().filter(|(k, _)| k != "csrf");
            let done = adviser::PartialProfile::from_answers(
                answers.map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .map_err(|e| e.to_string())
            .and_then(|p| p.complete().map_err(|e| e.to_string()));
            let text = done.as_ref().map(|p| p.to_toml()).unwrap_or_default();
            (done, text)
        }
    };
    let profile = match profile {
        Ok(p) => p,
        Err(e) => {
            let values: Vec<(String, String)> = if field(&pairs, "profile").is_some() {
                pages::example_values()
            } else {
                pairs.clone()
            };
            let body = reports::ui::advise_form(&values, &text, Some(&e), &app.csrf);
            let mut r = page(&app, "stackwise: advice for a profile", &body);
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return r;
        }
    };
    let run = match open_store(&app).and_then(|s| match s {
        Some(s) => Ok(s.latest_run()?),
        None => Ok(None),
    }) {
        Ok(r) => r,
        Err(e) => return error_page(&app, StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let source = run
        .as_ref()
        .map(|r| format!("lab run #{}", r.run_id))
        .unwrap_or_default();
    let advice = adviser::advise(&profile, run.as_ref().map(|r| (r, source.as_str())));
    page(
        &app,
        "stackwise: advice",
        &reports::ui::advice(&advice, &text),
    )
}

/// A comma-separated list of ids (target names, workload ids): letters, digits, `-`, `_`, `,`.
fn id_list(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ',')))
    .then(|| v.to_string())
}

async fn lab_page(State(app): State<Arc<App>>) -> Response {
    let nonce = match guard::random_token() {
        Ok(t) => t,
        Err(e) => return error_page(&app, StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let job = app
        .lab
        .lock()
        .expect("lab state")
        .as_ref()
        .map(LabJob::snapshot);
    pages::lab(&app, job, &nonce)
}

fn see_other(to: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

/// Starts `stackwise lab` with the form's choices (checked: names, a count), one run at a time.
async fn lab_start(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let pairs = form(&body);
    if !csrf_ok(&app.csrf, &pairs) {
        return refuse(BAD_TOKEN);
    }
    let given = |k| field(&pairs, k).map(str::trim).filter(|v| !v.is_empty());
    let mut args: Vec<String> = vec![
        "lab".into(),
        "--no-progress".into(),
        "--db".into(),
        app.db.display().to_string(),
        // The lab job reads the typed event stream on stdout (its stderr stays text).
        "--events".into(),
        "json".into(),
    ];
    if given("quick").is_some() {
        args.push("--quick".into());
    }
    for (name, flag) in [("targets", "--targets"), ("workloads", "--workloads")] {
        if let Some(v) = given(name) {
            match id_list(v) {
                Some(v) => args.extend([flag.to_string(), v]),
                None => {
                    return refuse_with(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &format!("{name}: names are letters, digits, - and _, separated by commas"),
                    )
                }
            }
        }
    }
    if let Some(v) = given("repeats") {
        match v.parse::<u32>() {
            Ok(n) if n >= 1 => args.extend(["--repeats".to_string(), n.to_string()]),
            _ => {
                return refuse_with(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "repeats: a whole number ≥ 1",
                )
            }
        }
    }
    let mut g = app.lab.lock().expect("lab state");
    if g.as_ref().is_some_and(LabJob::running) {
        return refuse_with(
            StatusCode::CONFLICT,
            "a lab run is already running: stop it first",
        );
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return error_page(&app, StatusCode::INTERNAL_SERVER_ERROR, &e.into()),
    };
    let shown = format!("stackwise {}", args.join(" "));
    let command = std::iter::once(exe.display().to_string())
        .chain(args)
        .collect();
    match lab_job::start(command, shown) {
        Ok(job) => *g = Some(job),
        Err(e) => {
            return error_page(
                &app,
                StatusCode::INTERNAL_SERVER_ERROR,
                &anyhow::anyhow!("cannot start stackwise lab: {e}"),
            )
        }
    }
    drop(g);
    see_other("/lab")
}

/// Stops the running lab run (SIGINT, as Ctrl-C; its process group is ended if it does not stop).
async fn lab_stop(State(app): State<Arc<App>>, body: Bytes) -> Response {
    if !csrf_ok(&app.csrf, &form(&body)) {
        return refuse(BAD_TOKEN);
    }
    let stopping = app
        .lab
        .lock()
        .expect("lab state")
        .as_ref()
        .is_some_and(LabJob::request_stop);
    if stopping {
        see_other("/lab")
    } else {
        refuse_with(StatusCode::CONFLICT, "no lab run is running")
    }
}

/// The lab run's output as server-sent events: `line` for each line (from the `from`-th), `live` for
/// what it is doing now (not kept), `end`
/// when it has ended.
async fn lab_events(State(app): State<Arc<App>>, RawQuery(q): RawQuery) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use futures_util::StreamExt;
    use lab::process::job::JobEvent;
    let pairs = form(q.unwrap_or_default().as_bytes());
    let from: usize = field(&pairs, "from")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let (history, ended, rx) = match app.lab.lock().expect("lab state").as_ref() {
        Some(j) => {
            let (h, e, rx) = j.follow(from);
            (h, e, Some(rx))
        }
        None => (Vec::new(), Some("no lab run".to_string()), None),
    };
    let past = futures_util::stream::iter(
        history
            .into_iter()
            .map(JobEvent::Line)
            .chain(ended.clone().map(JobEvent::End)),
    );
    let live = futures_util::stream::unfold((rx, ended.is_some()), |(rx, done)| async move {
        if done {
            return None;
        }
        let mut rx = rx?;
        loop {
            match rx.recv().await {
                Ok(ev) => {
                    let end = matches!(ev, JobEvent::End(_));
                    return Some((ev, (Some(rx), end)));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let events = past.chain(live).map(|ev| {
        let (kind, text) = ev.sse();
        Ok::<Event, std::convert::Infallible>(Event::default().event(kind).data(text))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
