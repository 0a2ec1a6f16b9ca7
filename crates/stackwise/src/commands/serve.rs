//! `stackwise serve`: a local web UI on 127.0.0.1 (another address only with --allow-remote):
//! the stored runs, a run's HTML report, two runs compared, and the advice for a profile typed
//! into a form (the questionnaire), and a lab run started, watched (server-sent events) and
//! stopped from the browser.
//!
//! A web page elsewhere must not drive it: every request must be addressed to one of this
//! server's own names (the Host header is checked, so a DNS-rebinding name is refused); a request
//! that carries an Origin must come from this server's own pages; a state-changing request (POST)
//! must come from them (Origin, else Referer) and carry the token its form was served with (CSRF).
//! Responses forbid scripts and framing (Content-Security-Policy).
//! The lab run is `stackwise lab` as a child process (the same binary), its output lines kept
//! and streamed; Stop sends it SIGINT, as Ctrl-C would (finished cells stay stored); stopping the
//! UI stops it too.

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
    /// The lab run started from the UI (one at a time).
    lab: std::sync::Mutex<Option<LabJob>>,
}

/// A `stackwise lab` child process and what it printed.
struct LabJob {
    pid: u32,
    /// The child has been waited for: its pid may belong to another process now.
    reaped: bool,
    command: String,
    /// Output lines, oldest first (at most [`LOG_LINES`]; `skipped` counts those dropped).
    log: Vec<String>,
    skipped: usize,
    /// How it ended, once it has.
    ended: Option<String>,
    /// (event kind, text): `line` or `end`.
    tx: tokio::sync::broadcast::Sender<(String, String)>,
}

const LOG_LINES: usize = 5000;

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
            lab: std::sync::Mutex::new(None),
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
        axum::serve(listener, router(app.clone()))
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await?;
        stop_lab_and_wait(&app);
        Ok::<(), anyhow::Error>(())
    })
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/runs/{id}", get(run_report))
        .route("/compare", get(compare))
        .route("/advise", get(advise_form).post(advise_post))
        .route("/lab", get(lab_page))
        .route("/lab/start", axum::routing::post(lab_start))
        .route("/lab/stop", axum::routing::post(lab_stop))
        .route("/lab/events", get(lab_events))
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

/// Security headers; a handler that sets its own Content-Security-Policy (a script nonce) keeps it.
fn secure(h: &mut HeaderMap) {
    if h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        return;
    }
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

/// The list of runs: the home page, so without the link back to itself.
fn home_page(app: &App, body: &str) -> Response {
    let opts = reports::html::Options {
        home_link: None,
        ..app.opts.clone()
    };
    Html(reports::html::page("stackwise: lab runs", body, &opts)).into_response()
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
    b.push_str(r#"<p><a href="/advise">Get the advice for a profile</a> · <a href="/lab">Run the lab</a></p>"#);
    if runs.is_empty() {
        b.push_str(&format!(
            "<p>No lab run in {} yet: run <code>stackwise lab</code> first.</p>",
            esc(&app.db.display().to_string())
        ));
        return home_page(&app, &b);
    }
    b.push_str(r#"<h2 id="runs">Lab runs</h2><div class="scroll"><table><thead><tr><th>Run</th><th>Started</th><th>Finished</th><th class="n">Cells</th><th>Targets</th></tr></thead><tbody>"#);
    for r in &runs {
        b.push_str(&format!(
            r#"<tr><td><a href="/runs/{id}">run #{id}</a></td><td class="nw">{}</td><td class="nw">{}</td><td class="n">{} of {}</td><td>{}</td></tr>"#,
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
    home_page(&app, &b)
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

fn csrf_ok(app: &App, pairs: &[(String, String)]) -> bool {
    pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .is_some_and(|(_, t)| constant_time_eq(t.as_bytes(), app.csrf.as_bytes()))
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
    let nonce = match random_token() {
        Ok(t) => t,
        Err(e) => return error_page(&app, StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let csrf = esc(&app.csrf);
    let mut b = String::new();
    let (running, shown) = {
        let g = app.lab.lock().expect("lab state");
        match &*g {
            Some(j) => (
                j.ended.is_none(),
                Some((j.command.clone(), j.log.clone(), j.skipped, j.ended.clone())),
            ),
            None => (false, None),
        }
    };
    if running {
        b.push_str(&format!(
            r#"<form method="post" action="/lab/stop"><input type="hidden" name="csrf" value="{csrf}"><p><button type="submit">Stop the run</button> (finished cells stay stored)</p></form>"#
        ));
    } else {
        b.push_str(&format!(
            r#"<p>Starts <code>stackwise lab</code> on this machine with the store {}; its output appears below as it runs. A full suite takes up to 30 minutes; <code>quick</code> about 5.</p>
<form method="post" action="/lab/start"><input type="hidden" name="csrf" value="{csrf}"><table class="form"><tbody>
<tr><td><label for="quick">Quick suite</label></td><td><input type="checkbox" name="quick" id="quick" value="1" checked></td></tr>
<tr><td><label for="targets">Targets (comma-separated; empty: all)</label></td><td><input name="targets" id="targets" size="50"></td></tr>
<tr><td><label for="workloads">Workloads (comma-separated; empty: the suite's)</label></td><td><input name="workloads" id="workloads" size="50"></td></tr>
<tr><td><label for="repeats">Repeats (empty: the suite's)</label></td><td><input name="repeats" id="repeats" size="4" inputmode="numeric"></td></tr>
</tbody></table><p><button type="submit">Start the lab</button></p></form>"#,
            esc(&app.db.display().to_string())
        ));
    }
    let mut from = 0;
    if let Some((command, log, skipped, ended)) = shown {
        from = skipped + log.len();
        b.push_str(&format!(
            r#"<h2 id="run">{}</h2><p><code>{}</code></p>"#,
            if running { "Running" } else { "Last run" },
            esc(&command)
        ));
        let status = ended
            .map(|e| format!("Ended: {e}."))
            .unwrap_or_else(|| "Running…".into());
        b.push_str(&format!(
            r#"<p id="status">{}</p><pre id="log">"#,
            esc(&status)
        ));
        for l in &log {
            b.push_str(&esc(l));
            b.push('\n');
        }
        b.push_str("</pre>");
        if running {
            b.push_str(r#"<noscript><p>Reload the page to see new lines.</p></noscript>"#);
        }
    }
    b.push_str(&format!(
        r#"<script nonce="{nonce}">(function(){{var log=document.getElementById('log');var st=document.getElementById('status');if(!log||!st||st.textContent.indexOf('Running')!==0)return;var es=new EventSource('/lab/events?from={from}');es.addEventListener('line',function(e){{log.appendChild(document.createTextNode(e.data+'\n'));}});es.addEventListener('end',function(e){{st.textContent='Ended: '+e.data+'.';es.close();}});}})();</script>"#
    ));
    let mut r = page(&app, "stackwise: lab run", &b);
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'nonce-{nonce}'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

fn see_other(to: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

async fn lab_start(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    if !csrf_ok(&app, &pairs) {
        return refuse(
            StatusCode::FORBIDDEN,
            "the form's token is missing or wrong: reload the page and send it again",
        );
    }
    let field = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let mut args: Vec<String> = vec![
        "lab".into(),
        "--no-progress".into(),
        "--db".into(),
        app.db.display().to_string(),
    ];
    if field("quick").is_some() {
        args.push("--quick".into());
    }
    for (name, flag) in [("targets", "--targets"), ("workloads", "--workloads")] {
        if let Some(v) = field(name) {
            match id_list(v) {
                Some(v) => args.extend([flag.to_string(), v]),
                None => {
                    return refuse(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &format!("{name}: names are letters, digits, - and _, separated by commas"),
                    )
                }
            }
        }
    }
    if let Some(v) = field("repeats") {
        match v.parse::<u32>() {
            Ok(n) if n >= 1 => args.extend(["--repeats".to_string(), n.to_string()]),
            _ => {
                return refuse(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "repeats: a whole number ≥ 1",
                )
            }
        }
    }
    let mut g = app.lab.lock().expect("lab state");
    if g.as_ref().is_some_and(|j| j.ended.is_none()) {
        return refuse(
            StatusCode::CONFLICT,
            "a lab run is already running: stop it first",
        );
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return error_page(&app, StatusCode::INTERNAL_SERVER_ERROR, &e.into()),
    };
    let mut cmd = std::process::Command::new(&exe);
    cmd.args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // It dies with the UI (PR_SET_PDEATHSIG from the lab's spawner thread: the handler runs on a
    // runtime thread that may exit); its own watchdog then ends its servers.
    let mut child = match lab::process::spawn_tied(cmd) {
        Ok(c) => c,
        Err(e) => {
            return error_page(
                &app,
                StatusCode::INTERNAL_SERVER_ERROR,
                &anyhow::anyhow!("cannot start stackwise lab: {e}"),
            )
        }
    };
    let (tx, _) = tokio::sync::broadcast::channel(1024);
    *g = Some(LabJob {
        pid: child.id(),
        reaped: false,
        command: format!("stackwise {}", args.join(" ")),
        log: Vec::new(),
        skipped: 0,
        ended: None,
        tx,
    });
    drop(g);
    let readers: Vec<std::thread::JoinHandle<()>> = [
        child
            .stdout
            .take()
            .map(|o| Box::new(o) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|e| Box::new(e) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|pipe| {
        let app = app.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                // Progress redraws use \r; an event's data must not contain it.
                // An event with empty data is never delivered: a blank line is sent as a space.
                let line = match line.replace('\r', " ") {
                    l if l.is_empty() => " ".to_string(),
                    l => l,
                };
                let mut g = app.lab.lock().expect("lab state");
                if let Some(j) = g.as_mut() {
                    if j.log.len() == LOG_LINES {
                        j.log.remove(0);
                        j.skipped += 1;
                    }
                    j.log.push(line.clone());
                    let _ = j.tx.send(("line".into(), line));
                }
            }
        })
    })
    .collect();
    let app2 = app.clone();
    std::thread::spawn(move || {
        let status = child.wait();
        if let Some(j) = app2.lab.lock().expect("lab state").as_mut() {
            j.reaped = true;
        }
        for r in readers {
            let _ = r.join();
        }
        let ended = match status {
            Ok(s) if s.success() => "finished".to_string(),
            Ok(s) => match s.code() {
                Some(c) => format!("exit code {c}"),
                None => "stopped by a signal".to_string(),
            },
            Err(e) => format!("cannot wait for it: {e}"),
        };
        let mut g = app2.lab.lock().expect("lab state");
        if let Some(j) = g.as_mut() {
            j.ended = Some(ended.clone());
            let _ = j.tx.send(("end".into(), ended));
        }
    });
    see_other("/lab")
}

async fn lab_stop(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    if !csrf_ok(&app, &pairs) {
        return refuse(
            StatusCode::FORBIDDEN,
            "the form's token is missing or wrong: reload the page and send it again",
        );
    }
    let g = app.lab.lock().expect("lab state");
    match g.as_ref().filter(|j| j.ended.is_none() && !j.reaped) {
        Some(j) => {
            // SAFETY: kill(2) with a pid this server started and has not reaped yet.
            unsafe { libc::kill(j.pid as libc::pid_t, libc::SIGINT) };
            drop(g);
            see_other("/lab")
        }
        None => refuse(StatusCode::CONFLICT, "no lab run is running"),
    }
}

/// The lab run's output as server-sent events: `line` for each line (from the `from`-th), `end`
/// when it has ended.
async fn lab_events(State(app): State<Arc<App>>, RawQuery(q): RawQuery) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use futures_util::StreamExt;
    let from: usize = query_pairs(q.as_deref())
        .iter()
        .find(|(k, _)| k == "from")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    // History and subscription under one lock, so that no line is lost or repeated.
    let (history, ended, rx) = {
        let g = app.lab.lock().expect("lab state");
        match &*g {
            Some(j) => {
                let start = from.saturating_sub(j.skipped).min(j.log.len());
                (
                    j.log[start..].to_vec(),
                    j.ended.clone(),
                    Some(j.tx.subscribe()),
                )
            }
            None => (Vec::new(), Some("no lab run".to_string()), None),
        }
    };
    let past = futures_util::stream::iter(
        history
            .into_iter()
            .map(|l| ("line".to_string(), l))
            .chain(ended.clone().map(|e| ("end".to_string(), e))),
    );
    let live = futures_util::stream::unfold((rx, ended.is_some()), |(rx, done)| async move {
        if done {
            return None;
        }
        let mut rx = rx?;
        loop {
            match rx.recv().await {
                Ok((kind, text)) => {
                    let end = kind == "end";
                    return Some(((kind, text), (Some(rx), end)));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let events = past.chain(live).map(|(kind, text)| {
        Ok::<Event, std::convert::Infallible>(Event::default().event(kind).data(text))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Stops a lab run the UI started (SIGINT, as Ctrl-C) and waits for it, so that none outlives the UI.
fn stop_lab_and_wait(app: &App) {
    let pid = {
        let g = app.lab.lock().expect("lab state");
        match g.as_ref().filter(|j| j.ended.is_none() && !j.reaped) {
            Some(j) => j.pid,
            None => return,
        }
    };
    eprintln!("stopping the lab run (pid {pid}): finished cells are kept");
    // SAFETY: kill(2) with a pid this server started and has not reaped yet.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
    for _ in 0..600 {
        if app
            .lab
            .lock()
            .map(|g| g.as_ref().is_none_or(|j| j.ended.is_some()))
            .unwrap_or(true)
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    eprintln!("the lab run did not stop within 30 s; sending SIGKILL");
    // SAFETY: as above.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
}
