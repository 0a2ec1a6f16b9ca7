//! The HTML report: one self-contained file (inline CSS and SVG; no script, no network, no URL)
//! that opens from an e-mail attachment, reads in dark and light mode and prints.

use std::fmt::Write;

use crate::derive::{self, Derived, Kind, Warning};
use crate::escape::{html as esc, id};
use crate::figures::{self, Colours};
use crate::input::{ReportInput, Section};
use crate::tables::{self, Mark, TableSpec};

const CSS: &str = r#"
:root{color-scheme:light dark}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1280px;padding:1rem 1.5rem 3rem;color:#1c1c1c;background:#fff}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.3rem;margin-top:2.2rem;border-bottom:2px solid rgba(127,127,127,.4);padding-bottom:.2rem}h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
.sub{opacity:.8;margin:.2rem 0 1rem}
table{border-collapse:collapse;font-size:13px;margin:.4rem 0 1rem}
td:first-child{white-space:nowrap}
tr.g td{border-top:2px solid rgba(127,127,127,.6)}
td:last-child:not(.n){min-width:22ch}
table.form td:first-child{white-space:normal;max-width:70ch}
table.form input,table.form select{font:inherit}
th,td{padding:3px 8px;border-bottom:1px solid rgba(127,127,127,.3);text-align:left;vertical-align:top}
th{font-weight:600;border-bottom:2px solid rgba(127,127,127,.5)}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.n{white-space:nowrap}td.n.w{white-space:normal}.nw{white-space:nowrap}
.scroll{overflow-x:auto}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:1.2rem 2rem;margin:.6rem 0}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1rem;margin:.6rem 0}
svg.chart{width:100%;height:auto;overflow:visible}
.box{border:2px solid #c98a00;border-radius:6px;padding:.4rem 1rem;margin:1rem 0;background:rgba(230,160,0,.07)}
.box.ok{border-color:rgba(127,127,127,.5);background:none}
.box h2{margin-top:.4rem;border:0}
.box li{margin:.15rem 0}
.box.findings{border-color:#2b6cb0;background:rgba(43,108,176,.06)}
.trust-noisy,.trust-incomplete{color:#8f1d16}
details.wgroup summary{cursor:pointer;font-weight:600}
.kind{display:inline-block;font-size:11px;font-weight:600;text-transform:uppercase;padding:0 .35rem;border-radius:3px;border:1px solid currentColor;margin-right:.4rem;opacity:.85}
.m-warn{background:rgba(230,160,0,.2)}
.m-better{color:#19703a;font-weight:700}
.m-worse{color:#b3261e;font-weight:700}
.m-muted{opacity:.65}
.v-supported{color:#19703a;font-weight:600}.v-refuted{color:#b3261e;font-weight:600}.v-partly,.v-depends{color:#9a6700;font-weight:600}.v-inconclusive{color:#57606a;font-weight:600}.v-equivalent{color:#0b5cad;font-weight:600}
nav ol{columns:3;font-size:13px}
pre{white-space:pre-wrap;border:1px solid rgba(127,127,127,.4);padding:.5rem;border-radius:4px;font-size:12px}
.rule{font-weight:600}
footer{margin-top:3rem;font-size:12px;opacity:.75}
@media (prefers-color-scheme:dark){
 body{color:#e6e6e6;background:#151617}
 .m-better,.v-supported{color:#5fd38a}.m-worse,.v-refuted{color:#ff7b72}.v-partly,.v-depends{color:#e3b341}.v-inconclusive{color:#8b949e}.v-equivalent{color:#79c0ff}
 .box{background:rgba(230,160,0,.1)}
}
@media print{
 body{color:#000;background:#fff;max-width:none;padding:0;font-size:10.5px}
 nav{display:none}
 .scroll{overflow:visible}
 table{font-size:9px}
 td.n{white-space:normal}
 th,td{padding:2px 4px}
 tr,svg.chart,figure,.box{break-inside:avoid}
 .charts{grid-template-columns:1fr 1fr;gap:.6rem 1rem}
 .pair{grid-template-columns:1fr 1fr}
 h2{break-after:avoid;margin-top:1.2rem}h3{break-after:avoid}
 .m-better{color:#0a5c2a}.m-worse{color:#8f1d16}
}
"#;

/// Rendering options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// "stackwise 0.1.0", shown in the footer.
    pub generator: String,
    /// A link back to an index (the web UI's list of runs), shown above the title.
    pub home_link: Option<String>,
}

struct Page {
    out: String,
    toc: Vec<(String, String)>,
    /// Where the contents go (after the warnings).
    nav_at: usize,
}

impl Page {
    fn new() -> Page {
        Page {
            out: String::with_capacity(256 * 1024),
            toc: Vec::new(),
            nav_at: 0,
        }
    }
    fn h2(&mut self, anchor: &str, title: &str) {
        let a = id(anchor);
        let _ = write!(self.out, r#"<h2 id="{a}">{}</h2>"#, esc(title));
        self.toc.push((a, title.to_string()));
    }
    fn p(&mut self, text: &str) {
        let _ = write!(self.out, "<p>{}</p>", esc(text));
    }
    fn table(&mut self, t: &TableSpec) {
        self.out.push_str(&table_html(t));
    }
    fn charts(&mut self, svgs: &[String]) {
        if svgs.is_empty() {
            return;
        }
        self.out.push_str(r#"<div class="charts">"#);
        for s in svgs {
            let _ = write!(self.out, "<figure style=\"margin:0\">{s}</figure>");
        }
        self.out.push_str("</div>");
    }
    fn finish(self, title: &str, header: &str, opts: &Options) -> String {
        let mut nav = String::from("<nav><strong>Contents</strong><ol>");
        for (a, t) in &self.toc {
            let _ = write!(nav, r##"<li><a href="#{a}">{}</a></li>"##, esc(t));
        }
        nav.push_str("</ol></nav>");
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta name=\"color-scheme\" content=\"light dark\">\
             <title>{}</title><style>{CSS}</style></head><body>{home}{header}{}{nav}{}\
             <footer>Generated by {}. Charts are drawn in the file (SVG); the file loads nothing \
             from the network. Hover a bar or a point for its exact figures.</footer></body></html>\n",
            esc(title),
            &self.out[..self.nav_at],
            &self.out[self.nav_at..],
            esc(&opts.generator),
            home = opts
                .home_link
                .as_ref()
                .map(|h| format!("<p class=\"sub\"><a href=\"{}\">← All runs</a></p>", esc(h)))
                .unwrap_or_default(),
        )
    }
}

fn mark_class(m: Mark) -> &'static str {
    match m {
        Mark::None => "",
        Mark::Warn => "m-warn",
        Mark::Better => "m-better",
        Mark::Worse => "m-worse",
        Mark::Muted => "m-muted",
    }
}

/// A table; cells whose whole text is a verdict word get its colour.
pub fn table_html(t: &TableSpec) -> String {
    let mut s = String::from(r#"<div class="scroll"><table><thead><tr>"#);
    for (i, c) in t.columns.iter().enumerate() {
        let cls = if t.numeric.get(i).copied().unwrap_or(false) {
            r#" class="n""#
        } else {
            ""
        };
        let _ = write!(s, "<th{cls}>{}</th>", esc(c));
    }
    s.push_str("</tr></thead><tbody>");
    for (n, r) in t.rows.iter().enumerate() {
        let group = t.groups && n > 0 && r.first().is_some_and(|c| !c.text.is_empty());
        s.push_str(if group { r#"<tr class="g">"# } else { "<tr>" });
        for (i, c) in r.iter().enumerate() {
            let mut classes = Vec::new();
            if t.numeric.get(i).copied().unwrap_or(false) {
                // May wrap between its parts (see numeric_html).
                classes.extend(["n", "w"]);
            }
            let m = mark_class(c.mark);
            if !m.is_empty() {
                classes.push(m);
            }
            let cls = if classes.is_empty() {
                String::new()
            } else {
                format!(r#" class="{}""#, classes.join(" "))
            };
            let tip = c
                .tip
                .as_ref()
                .map(|t| format!(r#" title="{}""#, esc(t)))
                .unwrap_or_default();
            let text = if t.numeric.get(i).copied().unwrap_or(false) {
                numeric_html(&c.text)
            } else {
                esc(&c.text)
            };
            let _ = write!(s, "<td{cls}{tip}>{text}</td>");
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div>");
    s
}

/// A numeric cell's text with its parts kept whole: `≥ 22,457 (22,242–23,240)` may wrap between
/// the median and the range, never inside a number or a range (a table of ranges then fits the
/// page and leaves its notes room to read).
fn numeric_html(text: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut glue = false;
    for w in text.split(' ') {
        match parts.last_mut() {
            Some(last) if glue => {
                last.push(' ');
                last.push_str(w);
            }
            _ => parts.push(w.to_string()),
        }
        // A sign alone (`≥`, `≤`, `~`, `→`) stays with what follows.
        glue = !w.is_empty() && !w.chars().any(|c| c.is_alphanumeric());
    }
    if text.is_empty() {
        return String::new();
    }
    parts
        .iter()
        .map(|p| format!(r#"<span class="nw">{}</span>"#, esc(p)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn section_html(p: &mut Page, anchor: &str, title: &str, sec: Option<&Section>, missing: &str) {
    p.h2(anchor, title);
    let Some(sec) = sec else {
        p.p(missing);
        return;
    };
    for para in &sec.paragraphs {
        p.p(para);
    }
    if let Some(t) = &sec.table {
        let mut s = String::from(r#"<div class="scroll"><table><thead><tr>"#);
        for c in &t.columns {
            let _ = write!(s, "<th>{}</th>", esc(c));
        }
        s.push_str("</tr></thead><tbody>");
        for r in &t.rows {
            s.push_str("<tr>");
            for c in r {
                let v = c.trim().to_ascii_lowercase();
                let cls = match v.as_str() {
                    "supported" | "refuted" | "partly" | "depends" | "inconclusive"
                    | "equivalent" => {
                        format!(r#" class="v-{v}""#)
                    }
                    _ => String::new(),
                };
                let _ = write!(s, "<td{cls}>{}</td>", esc(c));
            }
            s.push_str("</tr>");
        }
        s.push_str("</tbody></table></div>");
        p.out.push_str(&s);
    }
    if !sec.items.is_empty() {
        p.out.push_str("<ul>");
        for i in &sec.items {
            let _ = write!(p.out, "<li>{}</li>", esc(i));
        }
        p.out.push_str("</ul>");
    }
    if let Some(pre) = &sec.preformatted {
        let _ = write!(p.out, "<pre>{}</pre>", esc(pre));
    }
}

fn warnings_box(p: &mut Page, warnings: &[Warning], heading: &str) {
    if warnings.is_empty() {
        let _ = write!(
            p.out,
            r#"<div class="box ok"><strong>{}</strong>: none. The lab raised no warning and every cell was measured.</div>"#,
            esc(heading)
        );
        p.nav_at = p.out.len();
        return;
    }
    let _ = write!(
        p.out,
        r#"<section class="box" id="warnings"><h2>{} ({})</h2><ul>"#,
        esc(heading),
        warnings.len()
    );
    for w in warnings {
        let _ = write!(
            p.out,
            r#"<li><span class="kind">{}</span><strong>{}</strong>: {}</li>"#,
            esc(&w.kind),
            esc(&w.scope),
            esc(&w.text)
        );
    }
    p.out.push_str("</ul></section>");
    p.nav_at = p.out.len();
}

fn header(run: &store::model::RunSummary, title: &str, extra: &str) -> String {
    let finished = match &run.finished_at {
        Some(f) => format!("finished {}", esc(f)),
        None => "<strong>unfinished</strong>".to_string(),
    };
    let workloads = derive::workloads(run).len();
    format!(
        "<header><h1>{}</h1><p class=\"sub\">Started {}, {finished}. {} targets, {} workloads, {} cells. {extra}</p></header>",
        esc(title),
        esc(&run.started_at),
        run.targets.len(),
        workloads,
        run.cells.len(),
    )
}

/// Which engine report each cell's curves and series come from, said once when all agree.
fn sources_note(p: &mut Page, input: &ReportInput, w: &str) {
    let ds: Vec<_> = input.details.iter().filter(|d| d.workload == w).collect();
    let Some(first) = ds.first() else {
        return;
    };
    let text = if ds.iter().all(|d| d.source == first.source) {
        format!("Curves and series of every target: {}.", first.source)
    } else {
        let parts: Vec<String> = ds
            .iter()
            .map(|d| format!("{}: {}", d.target, d.source))
            .collect();
        format!("Curves and series from: {}.", parts.join("; "))
    };
    let _ = write!(p.out, "<p class=\"sub\"><small>{}</small></p>", esc(&text));
}

fn kind_label(k: Kind) -> &'static str {
    match k {
        Some(workloads::Kind::Saturation) => "saturation",
        Some(workloads::Kind::Capacity) => "capacity",
        Some(workloads::Kind::Mixed) => "loop blocking",
        Some(workloads::Kind::Hold) => "held connections",
        Some(workloads::Kind::Concurrency) => "concurrency",
        Some(workloads::Kind::PerTarget) | None => "workload",
    }
}

fn workload_intro(p: &mut Page, run: &store::model::RunSummary, w: &str) {
    let (k, d) = derive::kind_of(w);
    let params: Vec<String> = run
        .cells
        .iter()
        .find(|c| c.workload == w)
        .map(|c| c.params.iter().map(|(k, v)| format!("{k}={v}")).collect())
        .unwrap_or_default();
    let mut params = if params.is_empty() {
        String::new()
    } else {
        format!(" Parameters: {}.", params.join(", "))
    };
    if let Some(slo) = run
        .cells
        .iter()
        .filter(|c| c.workload == w)
        .find_map(|c| c.slo_p99_ms)
    {
        params.push_str(&format!(
            " SLO: corrected p99 under {} ms.",
            crate::svg::fmt_num(slo)
        ));
    }
    let _ = write!(
        p.out,
        r#"<p><span class="kind">{}</span>{}.{}</p>"#,
        kind_label(k),
        esc(d),
        esc(&params)
    );
}

/// The HTML report of one run.
pub fn render(input: &ReportInput, opts: &Options) -> String {
    let run = &input.summary;
    let derived: Derived = derive::derive(run);
    let colours = Colours::new([run]);
    let mut p = Page::new();
    let title = format!("stackwise report: run #{}", run.run_id);
    p.out
        .push_str(&crate::findings::html(&crate::findings::findings(input)));
    p.nav_at = p.out.len();

    p.h2("machine", "Machine and versions measured");
    p.table(&tables::machine(run));
    p.table(&tables::targets(run));
    if !run.settings.is_empty() {
        p.out.push_str("<h3>Suite settings</h3>");
        p.table(&tables::settings(run));
    }

    for w in derive::workloads(run) {
        p.h2(&format!("w-{w}"), &format!("Workload {w}"));
        workload_intro(&mut p, run, &w);
        p.table(&tables::workload(run, &derived, &w));
        let mut svgs = figures::workload_bars(run, None, &w);
        svgs.extend(
            figures::workload_lines(input, &w, &colours)
                .iter()
                .map(crate::charts::line_chart),
        );
        p.charts(&svgs);
        sources_note(&mut p, input, &w);
    }

    p.h2("targets", "Per-target measures");
    p.table(&tables::target_measures(run));
    p.charts(&figures::target_bars(run, None));

    section_html(
        &mut p,
        "claims",
        "Claims checked",
        input.claims.as_ref(),
        "No claims table was included in this report (stackwise claims gives the verdicts).",
    );
    section_html(
        &mut p,
        "advice",
        "Advice",
        input.advice.as_ref(),
        "No advice was included in this report: give a profile with --profile FILE.",
    );
    p.h2("reading", "How to read this report");
    p.p(&format!(
        "Figures over repeats are the median with the range (min–max) of the repeats; repeats spread by more than {:.0}% of the median are flagged as noisy. Flagged cells (errors or wrong answers) are shown but never ranked; failed cells are not measured. A figure marked ≥ is a lower bound: the load engine or upstream was at least 90% busy. The ratio to the best compares each target with the best Node.js or Python target (the Rust baseline is left out of \"best\"). Corrected latency is measured from the scheduled send time (coordinated omission corrected); uncorrected latency from the actual send. Memory is PSS summed over the server's process tree.",
        derive::NOISE_RELATIVE_RANGE * 100.0
    ));
    let head = header(run, &title, "");
    p.finish(&title, &head, opts)
}

/// Two runs side by side: tables with this run, the baseline and the change, differences marked
/// only beyond noise by [`derive::COMPARE_RULE`]; bar charts grouped, line charts side by side on
/// shared scales.
pub fn render_compare(this: &ReportInput, base: &ReportInput, opts: &Options) -> String {
    let (a, b) = (&this.summary, &base.summary);
    let colours = Colours::new([a, b]);
    let mut p = Page::new();
    let title = format!(
        "stackwise comparison: run #{} against baseline run #{}",
        a.run_id, b.run_id
    );
    let _ = write!(
        p.out,
        r#"<div class="box ok"><p class="rule">Rule: {}</p></div>"#,
        esc(derive::COMPARE_RULE)
    );
    let warnings = derive::compare_warnings(a, b);
    warnings_box(&mut p, &warnings, "Warnings of both runs");

    p.h2("machine", "Machines and versions measured");
    p.p("Rows that differ between the runs are highlighted: a difference in machine or versions can explain a difference in figures.");
    p.table(&tables::machine_compare(a, b));

    let mut wls = derive::workloads(a);
    for w in derive::workloads(b) {
        if !wls.contains(&w) {
            wls.push(w);
        }
    }
    for w in &wls {
        p.h2(&format!("w-{w}"), &format!("Workload {w}"));
        workload_intro(
            &mut p,
            if a.cells.iter().any(|c| &c.workload == w) {
                a
            } else {
                b
            },
            w,
        );
        p.table(&tables::workload_compare(a, b, w));
        p.charts(&figures::workload_bars(a, Some(b), w));
        let la = figures::workload_lines(this, w, &colours);
        let lb = figures::workload_lines(base, w, &colours);
        for mut x in la {
            let mut y = lb.iter().find(|y| y.title == x.title).cloned();
            if let Some(y) = y.as_mut() {
                figures::share_domains(&mut x, y);
                y.title = format!("{} (baseline #{})", y.title, b.run_id);
            }
            x.title = format!("{} (this run #{})", x.title, a.run_id);
            let _ = write!(
                p.out,
                r#"<div class="pair"><figure style="margin:0">{}</figure><figure style="margin:0">{}</figure></div>"#,
                crate::charts::line_chart(&x),
                y.map(|y| crate::charts::line_chart(&y))
                    .unwrap_or_else(|| "<p>Not in the baseline.</p>".into())
            );
        }
    }
    p.h2("targets", "Per-target measures");
    p.table(&tables::target_compare(a, b));
    p.charts(&figures::target_bars(a, Some(b)));
    p.h2("rule", "The comparison rule");
    p.p(derive::COMPARE_RULE);
    let head = header(
        a,
        &title,
        &format!(
            "Baseline: run #{} started {}.",
            b.run_id,
            esc(&b.started_at)
        ),
    );
    p.finish(&title, &head, opts)
}

/// A page in the report's style around `body` (HTML this crate's caller built, with every
/// user-provided text already escaped): for the local web UI's own pages.
pub fn page(title: &str, body: &str, opts: &Options) -> String {
    let mut p = Page::new();
    p.out.push_str(body);
    p.nav_at = 0;
    let head = format!("<header><h1>{}</h1></header>", esc(title));
    let mut html = p.finish(title, &head, opts);
    // No contents list on a short page.
    html = html.replacen("<nav><strong>Contents</strong><ol></ol></nav>", "", 1);
    html
}

/// One [`Section`] (claims, advice) as HTML, its texts escaped.
pub fn section(anchor: &str, title: &str, sec: &Section) -> String {
    let mut p = Page::new();
    section_html(&mut p, anchor, title, Some(sec), "");
    p.out
}

#[cfg(test)]
mod tests {
    use super::numeric_html;

    #[test]
    fn a_numeric_cell_wraps_only_between_its_parts() {
        assert_eq!(
            numeric_html("≥ 22,457 (22,242–23,240)"),
            r#"<span class="nw">≥ 22,457</span> <span class="nw">(22,242–23,240)</span>"#
        );
        assert_eq!(numeric_html("0.14×"), r#"<span class="nw">0.14×</span>"#);
        assert_eq!(numeric_html(""), "");
        assert_eq!(
            numeric_html("<1 & 2>"),
            r#"<span class="nw">&lt;1</span> <span class="nw">&amp; 2&gt;</span>"#
        );
    }
}
