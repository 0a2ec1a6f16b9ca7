//! Issue 19's "Show": every table of every format formats the same figure the same way, by the
//! one formatter (`reports::format::num`). On the fixture run with its claims verdicts and the
//! advice assembled, the tables of the terminal (the end of `stackwise lab`), Markdown and HTML,
//! the claims' terminal text and the advice's text and ADR are read back:
//!
//! - every figure-looking number in them (one with decimals or of 1,000 or more) is exactly what
//!   the formatter prints for its own value, so `5524` beside `12,624`, `0.57` beside `0.570` or
//!   `58.40` beside `58.4` cannot appear in any of them;
//! - every cell's median of every figure is printed as `num(median)` in the terminal, Markdown and
//!   HTML tables alike.
//!
//! (JSON carries the numbers themselves, unformatted.) Not judged: the articles' quotes and the
//! claims crate's own verdict texts (reasons, comparisons, claimed figures), which that crate still
//! formats with its own `fmt_num`/`fmt_ratio` (moving them is left to a later change), the lab's
//! stored warnings, targets' versions, and the ADR's profile (TOML).

use std::path::Path;

use reports::format::num;
use reports::{assemble, claims_text, findings, html, markdown, terminal, ReportInput};
use workloads::format::{amount, usd};

fn input() -> ReportInput {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-a.json");
    let mut input = ReportInput::from_json(&std::fs::read_to_string(path).unwrap()).unwrap();
    assemble::with_verdicts(&mut input);
    let profile =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/startup-chat-mvp.toml");
    let profile = adviser::read_profile(&profile).unwrap().complete().unwrap();
    let advice = adviser::advise(&profile, Some((&input.summary, "run 7")));
    assemble::with_advice(&mut input, &advice, "startup-chat-mvp", &profile.to_toml());
    input
}

/// The numbers of a text, each with the characters around it: runs of digits with `,` grouping
/// and one decimal part, not glued to letters or to the characters of versions, dates, paths,
/// ids and parameters (`v20.20.2`, `2026-11-24`, `/io?ms=10`, `#7`, `p99`, `node-http`).
fn numbers(text: &str) -> Vec<String> {
    let c: Vec<char> = text.chars().collect();
    let glued = |ch: char| ch.is_alphanumeric() || "_#=/?:.-'\"T".contains(ch);
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if !c[i].is_ascii_digit() || (i > 0 && (c[i - 1].is_ascii_digit() || glued(c[i - 1]))) {
            i += 1;
            continue;
        }
        let start = i;
        while i < c.len()
            && (c[i].is_ascii_digit()
                || ((c[i] == ',' || c[i] == '.') && i + 1 < c.len() && c[i + 1].is_ascii_digit()))
        {
            i += 1;
        }
        let token: String = c[start..i].iter().collect();
        // A number glued to what follows (a version's next part, a date, a unit-less id such as
        // `7B13`) is not a figure; `%`, `×`, spaces, `)` and `–` end a figure.
        let next = c.get(i).copied().unwrap_or(' ');
        if next.is_alphanumeric() && !"×".contains(next) || "-:/_".contains(next) {
            continue;
        }
        if token.matches('.').count() > 1 {
            continue;
        }
        out.push(token);
    }
    out
}

/// Whether a number token is the one formatter's output for its own value. Integers below 1,000
/// without a decimal part are counts (connections, repeats, cores, rule weights' ranks) or the
/// formatter's own output (`182`), so they are not judged; everything else is.
fn one_way(token: &str) -> Result<(), String> {
    let plain = token.replace(',', "");
    let v: f64 = plain.parse().map_err(|e| format!("{token}: {e}"))?;
    if !token.contains('.') && !token.contains(',') && v < 1000.0 {
        return Ok(());
    }
    // The one formatter's three forms: a measured figure (`num`), an amount a person chose or a
    // sum of whole weights (`amount`: `num` without the zeros of precision), dollars (`usd`).
    if [num(v), amount(v), usd(v)].iter().any(|f| f == token) {
        Ok(())
    } else {
        Err(format!("{token} (the one formatter prints {})", num(v)))
    }
}

/// The table rows of a terminal text: the lines of a target.
fn terminal_rows(text: &str, run: &store::RunSummary) -> Vec<String> {
    text.lines()
        .filter(|l| run.targets.iter().any(|t| l.contains(&t.name)))
        .map(str::to_string)
        .collect()
}

/// What the tables show that is not a figure of the reports: a target's framework and versions
/// (`Django 5.2`), the articles' quotes, and the claims crate's verdict explanations (its reasons,
/// readings and claimed figures, formatted as the one formatter's amounts by
/// `claims::catalogue::fmt_num` and `claims::decide::fmt_ratio`, and mixed with quoted figures).
fn not_figures(run: &store::RunSummary, claims: &claims::ClaimsReport) -> Vec<String> {
    fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            // Texts, not ids or names: a target's name stays (the rows are found by it).
            serde_json::Value::String(s) if s.contains(' ') && s.len() > 12 => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }
    let mut v = Vec::new();
    for t in &run.targets {
        // `Django 5.2`, `django 3.1.0`; a bare name (`axum`) is left: it is part of `rust-axum`.
        v.push(t.framework.clone());
        v.extend(t.versions.iter().map(|(k, x)| format!("{k} {x}")));
    }
    // The lab's warnings, stored as text with the run (`steal time 2.6%`).
    v.extend(run.warnings.iter().cloned());
    v.extend(run.cells.iter().flat_map(|c| c.warnings.iter().cloned()));
    // Every text of the claims verdicts: quotes, reasons, comparisons, claimed figures.
    strings(&serde_json::to_value(claims).unwrap(), &mut v);
    // As Markdown and HTML show them.
    let escaped: Vec<String> = v
        .iter()
        .flat_map(|s| [reports::escape::md(s), reports::escape::html(s)])
        .collect();
    v.extend(escaped);
    v.retain(|s| s.contains(' '));
    // Longest first, so that a string containing another is removed whole.
    v.sort_by_key(|s| std::cmp::Reverse(s.len()));
    v
}

fn without(rows: Vec<String>, remove: &[String]) -> Vec<String> {
    rows.into_iter()
        .map(|mut r| {
            for x in remove {
                if r.contains(x.as_str()) {
                    r = r.replace(x.as_str(), " ");
                }
            }
            r
        })
        .collect()
}

/// The rows of the Markdown tables.
fn markdown_rows(md: &str) -> Vec<String> {
    md.lines()
        .filter(|l| l.trim_start().starts_with('|'))
        .map(str::to_string)
        .collect()
}

/// The rows of the HTML tables, tags removed (`<td>1,234</td><td>5.00</td>` → ` 1,234  5.00 `).
fn html_rows(page: &str) -> Vec<String> {
    let mut rows = Vec::new();
    let mut rest = page;
    while let Some(i) = rest.find("<tr") {
        let after = &rest[i..];
        let end = after.find("</tr>").unwrap_or(after.len());
        let row = &after[..end];
        let mut text = String::new();
        let mut in_tag = false;
        for ch in row.chars() {
            match ch {
                '<' => {
                    in_tag = true;
                    text.push(' ');
                }
                '>' => in_tag = false,
                _ if !in_tag => text.push(ch),
                _ => {}
            }
        }
        rows.push(text.replace("&nbsp;", " "));
        rest = &after[end..];
    }
    rows
}

fn check_rows(format: &str, rows: &[String], bad: &mut Vec<String>) -> usize {
    let mut judged = 0;
    for row in rows {
        for t in numbers(row) {
            judged += 1;
            if let Err(e) = one_way(&t) {
                bad.push(format!("{format}: {e} in {:?}", row.trim()));
            }
        }
    }
    judged
}

#[test]
fn the_number_reader_finds_figures_and_leaves_ids_alone() {
    let found = numbers(
        "node-http  5,524 (5,400–5,611)  0.570 ms  12.3%  4.80×  v20.20.2  2026-11-24  /io?ms=10  c=64  #7  p99 1.25",
    );
    assert_eq!(
        found,
        ["5,524", "5,400", "5,611", "0.570", "12.3", "4.80", "1.25"]
    );
    assert!(one_way("5524").is_err() && one_way("0.5700").is_err() && one_way("58.400").is_err());
    // Amounts and dollars are the formatter's other two forms.
    assert!(one_way("0.57").is_ok() && one_way("58.40").is_ok() && one_way("24").is_ok());
    assert!(one_way("5,524").is_ok() && one_way("0.570").is_ok() && one_way("64").is_ok());
}

#[test]
fn every_table_of_every_format_formats_the_same_figure_the_same_way() {
    let input = input();
    let run = &input.summary;
    let term = terminal::tables(run);
    let md = markdown::render(&input);
    let page = html::render(&input, &html::Options::default());
    let verdicts = reports::sections::claims_report(run);
    let claims = claims_text::render(&verdicts);
    let skip = not_figures(run, &verdicts);
    let profile =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/startup-chat-mvp.toml");
    let profile = adviser::read_profile(&profile).unwrap().complete().unwrap();
    let advice = adviser::advise(&profile, Some((run, "run 7")));
    let advice_text = reports::advice_text::text(&advice);
    let adr = reports::advice_text::adr(&advice, "2026-01-01");
    let found = findings::text(&findings::findings(&input));

    let t_rows = without(terminal_rows(&term, run), &skip);
    let md_rows = without(markdown_rows(&md), &skip);
    // HTML escapes the texts it shows; the rows are compared as shown.
    let html_rows = without(html_rows(&page), &skip);
    let mut bad = Vec::new();
    let mut judged = 0;
    judged += check_rows("terminal", &t_rows, &mut bad);
    judged += check_rows("markdown", &md_rows, &mut bad);
    judged += check_rows("html", &html_rows, &mut bad);
    // The claims' table: the measured figures (the claimed column quotes the articles).
    let measured: Vec<String> = without(
        claims
            .lines()
            .filter(|l| l.contains(" req/s") || l.contains(" ms") || l.contains(" MB"))
            .map(|l| l.chars().skip(90).collect())
            .collect(),
        &skip,
    );
    judged += check_rows("claims text", &measured, &mut bad);
    let advice_lines = without(advice_text.lines().map(str::to_string).collect(), &skip);
    judged += check_rows("advice text", &advice_lines, &mut bad);
    // The ADR without the profile it was made for (TOML: values as the user writes them).
    let record = adr.split("```toml").next().unwrap();
    let adr_lines = without(record.lines().map(str::to_string).collect(), &skip);
    judged += check_rows("ADR", &adr_lines, &mut bad);
    let findings_lines = without(found.lines().map(str::to_string).collect(), &skip);
    judged += check_rows("findings", &findings_lines, &mut bad);
    assert!(
        bad.is_empty(),
        "figures not formatted the one way:\n{}",
        bad.join("\n")
    );
    assert!(
        judged > 300,
        "only {judged} numbers judged: the reader missed the tables"
    );

    // The same figure, the same string, in every format's tables: each cell's median of each
    // figure the terminal shows.
    let mut checked = 0;
    for c in &run.cells {
        for id in ["throughput_rps", "p99_ms", "server_cpu_us_per_req"] {
            let Some(s) = c.metric(id) else { continue };
            let want = num(s.median);
            for (format, rows) in [
                ("terminal", &t_rows),
                ("markdown", &md_rows),
                ("html", &html_rows),
            ] {
                let hit = rows
                    .iter()
                    .any(|r| r.contains(&c.target) && numbers(r).contains(&want));
                assert!(
                    hit,
                    "{format}: no row of {} shows its {} {id} median as {want}: {:#?}",
                    c.target,
                    c.workload,
                    rows.iter()
                        .filter(|r| r.contains(&c.target))
                        .collect::<Vec<_>>()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 100, "only {checked} figures compared");
}
