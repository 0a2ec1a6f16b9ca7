//! `stackwise serve`: a local web UI on 127.0.0.1 (another address only with --allow-remote):
//! the stored runs, a run's HTML report, two runs compared, and the advice for a profile typed
//! into a form.
//!
//! A web page elsewhere must not drive it: every request must be addressed to one of this
//! server's own names (the Host header is checked, so a DNS-rebinding name is refused); a request
//! that carries an Origin must come from this server's own pages; a state-changing request (POST)
//! must come from them (Origin, else Referer) and carry the token its form was served with (CSRF).
//! Responses forbid scripts and framing (Content-Security-Policy).
//!
//! Later (issue 8): start a lab run and watch its progress (server-sent events), stop it.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use reports::escape::html as esc;

use crate::cli::ServeArgs;
use crate::UsageError;

use super::report;

/// What every handler shares.
struct App {
    db: PathBuf,
    /// Host header values this server answers to (`127.0.0.1:8700`, `localhost:8700`, …).
    hosts: Vec<String>,
    /// The token every form carries; random per server start.
    csrf: String,
    opts: reports::html::Options,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let ip: IpAddr = args
        .bind
        .parse()
        .map_err(|_| UsageError(format!("--bind: {:?} is not an IP address", args.bind)))?;
    if !ip.is_loopback() && !args.allow_remote {
        return Err(UsageError(format!(
            "--bind: {ip} is not a loopback address; the UI can start processes, so serving other \
             machines needs --allow-remote"
        ))
        .into());
    }
    let db = match args.db {
        Some(p) => p,
        None => store::default_path().map_err(|e| UsageError(format!("--db: {e}")))?,
    };
    let csrf = random_token()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, args.port))
            .await
            .map_err(|e| UsageError(format!("--port {}: cannot listen on {ip}: {e}", args.port)))?;
        let local = listener.local_addr()?;
        let app = Arc::new(App {
            hosts: host_names(local),
            db,
            csrf,
            opts: reports::html::Options {
                generator: format!("stackwise {}", env!("CARGO_PKG_VERSION")),
                home_link: Some("/".into()),
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
        let stop_tx = std::sync::Mutex::new(Some(stop_tx));
        ctrlc::set_handler(move || {
            if let Some(tx) = stop_tx.lock().ok().and_then(|mut t| t.take()) {
                let _ = tx.send(());
            }
        })?;
        axum::serve(listener, router(app))
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await?;
        Ok::<(), anyhow::Error>(())
    })
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/runs/{id}", get(run_report))
        .route("/compare", get(compare))
        .route("/advise", get(advise_form).post(advise_post))
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// The names a browser on this machine uses for the listening address.
fn host_names(local: SocketAddr) -> Vec<String> {
    let port = local.port();
    let mut v = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    let own = match local.ip() {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    };
    if !v.contains(&own) {
        v.insert(0, own);
    }
    v
}

fn random_token() -> anyhow::Result<String> {
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Host and Origin checks for every request, and the Referer fallback for POSTs without an
/// Origin; security headers on every response.
async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !app.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "this server answers only to its own address (Host header refused)",
        );
    }
    let own_origin = |o: &str| {
        app.hosts
            .iter()
            .any(|h| o.eq_ignore_ascii_case(&format!("http://{h}")))
    };
    let origin = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok());
    if let Some(o) = origin {
        if !own_origin(o) {
            return refuse(
                StatusCode::FORBIDDEN,
                "requests from other sites are refused (Origin header)",
            );
        }
    }
    if req.method() != Method::GET && req.method() != Method::HEAD && origin.is_none() {
        let referer = headers
            .get(header::REFERER)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let from_here = app.hosts.iter().any(|h| {
            referer
                .to_ascii_lowercase()
                .starts_with(&format!("http://{}/", h.to_ascii_lowercase()))
        });
        if !from_here {
            return refuse(
                StatusCode::FORBIDDEN,
                "a form is accepted only from this server's own pages (no Origin or Referer)",
            );
        }
    }
    let mut resp = next.run(req).await;
    secure(resp.headers_mut());
    resp
}

fn secure(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

fn refuse(status: StatusCode, why: &str) -> Response {
    let mut r = (status, format!("{why}\n")).into_response();
    secure(r.headers_mut());
    r
}

fn page(app: &App, title: &str, body: &str) -> Response {
    Html(reports::html::page(title, body, &app.opts)).into_response()
}

fn error_page(app: &App, status: StatusCode, e: &anyhow::Error) -> Response {
    let body = format!(
        "<p>{}</p><p><a href=\"/\">All runs</a></p>",
        esc(&format!("{e:#}"))
    );
    let mut r = page(app, "stackwise: error", &body);
    *r.status_mut() = status;
    r
}

fn status_of(e: &anyhow::Error) -> StatusCode {
    if e.downcast_ref::<UsageError>().is_some() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

fn open_store(app: &App) -> anyhow::Result<Option<store::Store>> {
    if !app.db.is_file() {
        return Ok(None);
    }
    Ok(Some(store::Store::open(&app.db)?))
}

async fn index(State(app): State<Arc<App>>) -> Response {
    let runs = match open_store(&app).and_then(|s| match s {
        Some(s) => Ok(s.list_runs()?),
        None => Ok(Vec::new()),
    }) {
        Ok(r) => r,
        Err(e) => return error_page(&app, StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let mut b = String::new();
    b.push_str(r#"<p><a href="/advise">Get the advice for a profile</a></p>"#);
    if runs.is_empty() {
        b.push_str(&format!(
            "<p>No lab run in {} yet: run <code>stackwise lab</code> first.</p>",
            esc(&app.db.display().to_string())
        ));
        return page(&app, "stackwise: lab runs", &b);
    }
    b.push_str(r#"<h2 id="runs">Lab runs</h2><div class="scroll"><table><thead><tr><th>Run</th><th>Started</th><th>Finished</th><th class="n">Cells</th><th>Targets</th></tr></thead><tbody>"#);
    for r in &runs {
        b.push_str(&format!(
            r#"<tr><td><a href="/runs/{id}">run #{id}</a></td><td>{}</td><td>{}</td><td class="n">{} of {}</td><td>{}</td></tr>"#,
            esc(&r.started_at),
            esc(r.finished_at.as_deref().unwrap_or("unfinished")),
            r.stored_cells,
            r.planned_cells,
            esc(&r.targets.join(", ")),
            id = r.run_id,
        ));
    }
    b.push_str("</tbody></table></div>");
    if runs.len() > 1 {
        let options = |selected: i64| {
            runs.iter()
                .map(|r| {
                    let sel = if r.run_id == selected {
                        " selected"
                    } else {
                        ""
                    };
                    format!(
                        r#"<option value="{id}"{sel}>run #{id} ({})</option>"#,
                        esc(&r.started_at),
                        id = r.run_id
                    )
                })
                .collect::<String>()
        };
        b.push_str(&format!(
            r#"<h2 id="compare">Compare two runs</h2><form method="get" action="/compare"><label>Run <select name="run">{}</select></label> <label>against the baseline <select name="baseline">{}</select></label> <button type="submit">Compare</button></form>"#,
            options(runs[0].run_id),
            options(runs[1].run_id)
        ));
    }
    page(&app, "stackwise: lab runs", &b)
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

fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

async fn compare(State(app): State<Arc<App>>, RawQuery(q): RawQuery) -> Response {
    let pairs = query_pairs(q.as_deref());
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.parse::<i64>().ok())
    };
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

const EXAMPLE_PROFILE: &str = include_str!("../../../../examples/startup-chat-mvp.toml");

/// The questionnaire as a form (the articles' questions with their help text), filled with
/// `values` (key path → text); then, as an alternative, a whole profile as TOML.
fn advise_form_html(
    app: &App,
    values: &[(String, String)],
    toml: &str,
    error: Option<&str>,
) -> String {
    use adviser::profile::{key_at, KeyKind};
    let err = error
        .map(|e| {
            format!(
                r#"<div class="box"><strong>The profile was not accepted:</strong> {}</div>"#,
                esc(e)
            )
        })
        .unwrap_or_default();
    let value = |k: &str| {
        values
            .iter()
            .find(|(p, _)| p == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let mut rows = String::new();
    let asked: Vec<&str> = adviser::questionnaire::QUESTIONS
        .iter()
        .map(|q| q.key)
        .collect();
    let extra = adviser::profile::KEYS
        .iter()
        .filter(|k| !asked.contains(&k.path))
        .map(|k| (k.path, k.path, ""));
    let questions = adviser::questionnaire::QUESTIONS
        .iter()
        .map(|q| (q.key, q.ask, q.help))
        .chain(extra);
    for (path, ask, help) in questions {
        let Some(key) = key_at(path) else { continue };
        let v = value(path);
        let name = esc(path);
        let choice = |opts: &[&str]| {
            let mut o = String::from(r#"<option value="">(not given)</option>"#);
            for x in opts {
                let sel = if *x == v { " selected" } else { "" };
                o.push_str(&format!(r#"<option{sel}>{}</option>"#, esc(x)));
            }
            format!(r#"<select name="{name}" id="{name}">{o}</select>"#)
        };
        let field = match key.kind {
            KeyKind::Bool => choice(&["true", "false"]),
            KeyKind::Choice(opts) => choice(opts),
            KeyKind::Count | KeyKind::Number => format!(
                r#"<input name="{name}" id="{name}" value="{}" inputmode="decimal" size="10">"#,
                esc(v)
            ),
        };
        let optional = if key.optional { " (optional)" } else { "" };
        rows.push_str(&format!(
            r#"<tr><td><label for="{name}">{}</label><br><small>{}{optional}</small></td><td>{field}<br><small><code>{name}</code></small></td></tr>"#,
            esc(ask),
            esc(help),
        ));
    }
    format!(
        r#"{err}<p>Answer the articles' questions; the cost comes from the latest lab run.</p>
<form method="post" action="/advise"><input type="hidden" name="csrf" value="{csrf}"><div class="scroll"><table class="form"><tbody>{rows}</tbody></table></div><p><button type="submit">Advise</button> <a href="/">All runs</a></p></form>
<h2 id="toml">Or give a whole profile</h2><p>TOML, as for <code>stackwise advise --profile</code> (docs/profile.md).</p>
<form method="post" action="/advise"><input type="hidden" name="csrf" value="{csrf}"><textarea name="profile" rows="24" cols="90" spellcheck="false">{}</textarea><p><button type="submit">Advise</button></p></form>"#,
        esc(toml),
        csrf = esc(&app.csrf),
    )
}

/// The example profile's values, to start the form from.
fn example_values() -> Vec<(String, String)> {
    let Ok(profile) = adviser::parse_profile(EXAMPLE_PROFILE, "example")
        .map_err(|e| e.to_string())
        .and_then(|p| p.complete().map_err(|e| e.to_string()))
    else {
        return Vec::new();
    };
    adviser::profile::KEYS
        .iter()
        .filter_map(|k| match profile.get(k.path)? {
            adviser::profile::Value::Absent => None,
            v => Some((k.path.to_string(), v.to_string())),
        })
        .collect()
}

async fn advise_form(State(app): State<Arc<App>>) -> Response {
    let body = advise_form_html(&app, &example_values(), EXAMPLE_PROFILE, None);
    page(&app, "stackwise: advice for a profile", &body)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn advise_post(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if !field("csrf").is_some_and(|t| constant_time_eq(t.as_bytes(), app.csrf.as_bytes())) {
        return refuse(
            StatusCode::FORBIDDEN,
            "the form's token is missing or wrong: reload the page and send it again",
        );
    }
    // Either a whole profile (TOML) or the questionnaire's fields (key path → value).
    let (profile, text) = match field("profile") {
        Some(text) => (
            adviser::parse_profile(text, "the profile")
                .map_err(|e| e.to_string())
                .and_then(|p| p.complete().map_err(|e| e.to_string())),
            text.to_string(),
        ),
        None => {
            let mut partial = adviser::PartialProfile::default();
            let mut res = Ok(());
            for (k, v) in pairs
                .iter()
                .filter(|(k, v)| k != "csrf" && !v.trim().is_empty())
            {
                if let Err(e) = partial.set(k, v) {
                    res = Err(e);
                    break;
                }
            }
            let done = res.and_then(|_| partial.complete().map_err(|e| e.to_string()));
            let text = done.as_ref().map(|p| p.to_toml()).unwrap_or_default();
            (done, text)
        }
    };
    let profile = match profile {
        Ok(p) => p,
        Err(e) => {
            let values: Vec<(String, String)> = if field("profile").is_some() {
                example_values()
            } else {
                pairs.clone()
            };
            let body = advise_form_html(&app, &values, &text, Some(&e));
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
    let section = super::report_sections::advice_section(&advice, "given in the form", &text);
    let body = format!(
        "{}<p><a href=\"/advise\">Another profile</a> · <a href=\"/\">All runs</a></p>",
        reports::html::section("advice", "Advice", &section)
    );
    page(&app, "stackwise: advice", &body)
}
