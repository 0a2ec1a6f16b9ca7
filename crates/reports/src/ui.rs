//! The HTML bodies of the web UI's pages (`stackwise serve`), laid out by [`crate::html::page`]:
//! the list of runs, errors, the questionnaire as a form, the lab page with its live log. Here
//! because every rendering lives in this crate; the CLI's web UI keeps the routes, the requests
//! and the guard, and wraps these bodies into responses.

use std::path::Path;

use crate::escape::html as esc;

/// An error as a page's body, with the link back to the runs.
pub fn error(message: &str) -> String {
    format!("<p>{}</p><p><a href=\"/\">All runs</a></p>", esc(message))
}

/// The home page: the stored runs, and a form to compare two of them.
pub fn index(runs: &[store::RunListing], db: &Path) -> String {
    let mut b = String::new();
    b.push_str(r#"<p><a href="/advise">Get the advice for a profile</a> · <a href="/lab">Run the lab</a></p>"#);
    if runs.is_empty() {
        b.push_str(&format!(
            "<p>No lab run in {} yet: run <code>stackwise lab</code> first.</p>",
            esc(&db.display().to_string())
        ));
        return b;
    }
    b.push_str(r#"<h2 id="runs">Lab runs</h2><div class="scroll"><table><thead><tr><th>Run</th><th>Started</th><th>Finished</th><th class="n">Cells</th><th>Targets</th></tr></thead><tbody>"#);
    for r in runs {
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
    b
}

pub const EXAMPLE_PROFILE: &str = include_str!("../../../examples/startup-chat-mvp.toml");

/// The example profile's values, to start the form from.
pub fn example_values() -> Vec<(String, String)> {
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

/// The advice for a profile given in the form (`text`: the profile as TOML), with the links on.
pub fn advice(advice: &adviser::Advice, text: &str) -> String {
    let section = crate::sections::advice_section(advice, "given in the form", text);
    format!(
        "{}<p><a href=\"/advise\">Another profile</a> · <a href=\"/\">All runs</a></p>",
        crate::html::section("advice", "Advice", &section)
    )
}

/// A lab run as the lab page shows it.
pub struct LabRun {
    /// The command as shown.
    pub command: String,
    /// The lines kept, the oldest dropped first (`skipped` counts those).
    pub log: Vec<String>,
    /// What the run is doing now.
    pub live: Option<String>,
    pub skipped: usize,
    /// How it ended, once it has.
    pub ended: Option<String>,
}

/// The questionnaire as a form (the articles' questions with their help text), filled with
/// `values` (key path → text); then, as an alternative, a whole profile as TOML.
pub fn advise_form(
    values: &[(String, String)],
    toml: &str,
    error: Option<&str>,
    csrf: &str,
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
        csrf = esc(csrf),
    )
}

/// The lab page: the form to start a run (or the button to stop it), and the run's output, live
/// through server-sent events where scripts run (`nonce`: this page's script nonce, which
/// [`lab_csp`] allows).
pub fn lab(job: Option<LabRun>, db: &Path, csrf: &str, nonce: &str) -> String {
    let csrf = esc(csrf);
    let mut b = String::new();
    let running = job.as_ref().is_some_and(|j| j.ended.is_none());
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
            esc(&db.display().to_string())
        ));
    }
    let mut from = 0;
    if let Some(LabRun {
        command,
        log,
        live,
        skipped,
        ended,
    }) = job
    {
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
            r#"<p id="status">{}</p><p id="live">{}</p><pre id="log">"#,
            esc(&status),
            esc(live.as_deref().unwrap_or(""))
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
        r#"<script nonce="{nonce}">(function(){{var log=document.getElementById('log');var st=document.getElementById('status');if(!log||!st||st.textContent.indexOf('Running')!==0)return;var es=new EventSource('/lab/events?from={from}');var lv=document.getElementById('live');es.addEventListener('line',function(e){{log.appendChild(document.createTextNode(e.data+'\n'));}});es.addEventListener('live',function(e){{if(lv)lv.textContent=e.data;}});es.addEventListener('end',function(e){{st.textContent='Ended: '+e.data+'.';if(lv)lv.textContent='';es.close();}});}})();</script>"#
    ));
    b
}

/// The lab page's Content-Security-Policy: its one script runs by its nonce.
pub fn lab_csp(nonce: &str) -> String {
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'nonce-{nonce}'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
}
