//! Renders the synthetic fixtures (tests/fixtures, made by make_fixtures.py: TEST DATA, not
//! measurements) and checks the outputs: a chart with data marks for every figure, nothing loaded
//! from the network, the size budget, the comparison rule, and the escaping of hostile names.

use reports::{html, json, markdown, ReportInput, Section, Table};

fn fixture(name: &str) -> ReportInput {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    ReportInput::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn opts() -> html::Options {
    html::Options {
        generator: "stackwise test".into(),
        home_link: None,
    }
}

/// Every `<svg>…</svg>` of a page.
fn svgs(page: &str) -> Vec<&str> {
    page.match_indices("<svg")
        .map(|(i, _)| {
            let end = page[i..].find("</svg>").expect("closed svg") + i + 6;
            &page[i..end]
        })
        .collect()
}

fn chart_titled<'a>(page: &'a str, title: &str) -> &'a str {
    let needle = format!("aria-label=\"{title}");
    svgs(page)
        .into_iter()
        .find(|s| s.contains(&needle))
        .unwrap_or_else(|| panic!("no chart titled {title:?}"))
}

/// No resource is loaded and no link leaves the page (URLs may appear as escaped text only).
fn assert_self_contained(page: &str) {
    let lower = page.to_ascii_lowercase();
    for bad in [
        "<script", "<link", "@import", "url(", " src=", "<iframe", "<img", "<object", "<embed",
    ] {
        assert!(!lower.contains(bad), "the page contains {bad:?}");
    }
    // Links are in-page anchors only.
    for (i, _) in lower.match_indices("href=\"") {
        assert_eq!(&lower[i + 6..i + 7], "#", "external link at {i}");
    }
}

#[test]
fn full_suite_html_has_every_chart_with_marks_and_nothing_external() {
    let input = fixture("run-a.json");
    let page = html::render(&input, &opts());
    assert!(page.len() < 2_000_000, "HTML is {} bytes", page.len());
    assert_self_contained(&page);
    // Not even as text: the report itself holds no URL.
    assert!(!page.contains("http://") && !page.contains("https://"));
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("prefers-color-scheme:dark") && page.contains("@media print"));

    let all = svgs(&page);
    assert!(!all.is_empty());
    for s in &all {
        assert!(
            s.contains("class=\"mark\""),
            "a chart without data marks: {}",
            &s[..s.len().min(300)]
        );
    }
    let saturation = ["plaintext", "json", "io", "cpu", "hash"];
    let capacity = ["json-slo", "io-slo", "cpu-slo", "hash-slo"];
    for w in saturation {
        let bars = chart_titled(&page, &format!("{w}: Throughput"));
        // One bar per target, each with its min–max whisker (the fixture has 3 repeats).
        assert_eq!(bars.matches("class=\"mark\"").count(), 10, "{w}");
        assert_eq!(bars.matches("class=\"whisker\"").count(), 10, "{w}");
        chart_titled(&page, &format!("{w}: Server CPU per response"));
        chart_titled(&page, &format!("{w}: Server memory"));
        let pc = chart_titled(&page, &format!("{w}: latency by percentile"));
        assert_eq!(
            pc.matches("<polyline").count(),
            10,
            "{w}: one uncorrected curve per target"
        );
        assert!(pc.contains(">p99.99<") && pc.contains(">max<"));
        let ps = chart_titled(&page, &format!("{w}: responses per second over the run"));
        assert_eq!(ps.matches("<polyline").count(), 10);
    }
    for w in capacity {
        let with_capacity = input
            .summary
            .cells
            .iter()
            .filter(|c| c.workload == w && c.capacity_rps.is_some())
            .count();
        let cap = chart_titled(&page, &format!("{w}: Capacity at the SLO"));
        assert_eq!(cap.matches("class=\"mark\"").count(), with_capacity, "{w}");
        let ladder = chart_titled(
            &page,
            &format!("{w}: corrected p99 latency vs offered rate"),
        );
        assert!(
            ladder.contains("class=\"ref\"") && ladder.contains("SLO: p99 100 ms"),
            "{w}: SLO line"
        );
        assert!(
            ladder.matches("<polyline").count() >= 10,
            "{w}: one line per target"
        );
        // Capacity markers: a diamond per target with a capacity.
        assert_eq!(
            ladder.matches("capacity ").count() - 1,
            with_capacity,
            "{w}"
        );
        let pc = chart_titled(&page, &format!("{w}: latency by percentile"));
        // Corrected solid and uncorrected dashed for every measured target.
        assert!(pc.matches("stroke-dasharray=\"5 3\"").count() >= 9);
    }
    chart_titled(&page, "Cold start");
    chart_titled(&page, "Idle memory");
    chart_titled(&page, "Install footprint");
    // The lab's warnings are at the top, where a reader sees them.
    let warn = page.find("id=\"warnings\"").unwrap();
    assert!(warn < page.find("id=\"machine\"").unwrap());
    for w in &input.summary.warnings {
        assert!(page[warn..].contains(&reports::escape::html(w)));
    }
    assert!(page.contains("python-django / hash-slo"));
    assert!(page.contains("Node.js v20.20.2 is past its end of life"));
    // Every version measured is shown.
    for t in &input.summary.targets {
        for v in t.versions.values() {
            assert!(page.contains(&reports::escape::html(v)));
        }
    }
}

#[test]
fn markdown_has_the_same_tables() {
    let input = fixture("run-a.json");
    let md = markdown::render(&input);
    for w in ["plaintext", "json-slo", "mixed"] {
        assert!(
            md.contains(&format!("## Workload {}", reports::escape::md(w))),
            "{w}"
        );
    }
    assert!(
        md.contains("| node-http | 16,931 (16,492–17,268) |"),
        "{md}"
    );
    assert!(md.contains("## Per-target measures"));
    // Every table row has as many cells as its header.
    check_md_tables(&md);
}

/// Each Markdown table's rows have the header's number of unescaped `|`.
fn check_md_tables(md: &str) {
    let pipes = |l: &str| {
        let b = l.as_bytes();
        (0..b.len())
            .filter(|&i| b[i] == b'|' && (i == 0 || b[i - 1] != b'\\'))
            .count()
    };
    let mut header: Option<usize> = None;
    for line in md.lines() {
        if line.starts_with('|') {
            let n = pipes(line);
            match header {
                None => header = Some(n),
                Some(h) => assert_eq!(n, h, "ragged table row: {line}"),
            }
        } else {
            header = None;
        }
    }
}

#[test]
fn json_has_summary_and_derived_figures() {
    let input = fixture("run-a.json");
    let v: serde_json::Value = serde_json::from_str(&json::render(&input, None)).unwrap();
    assert_eq!(v["summary"]["run_id"], 7);
    let wl = v["derived"]["workloads"].as_array().unwrap();
    assert_eq!(wl.len(), 10);
    let plain = &wl[0];
    assert_eq!(plain["workload"], "plaintext");
    let axum = plain["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["target"] == "rust-axum")
        .unwrap();
    // The Rust baseline is not the "best" the others are measured against.
    assert!(axum["throughput_vs_best"].as_f64().unwrap() > 1.0);
    let best = plain["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["throughput_vs_best"] == 1.0)
        .count();
    assert_eq!(best, 1);
    assert_eq!(plain["cells"][0]["target"], "node-http");
    assert_eq!(plain["cells"][0]["throughput_vs_best"], 1.0);
    assert!(axum["requests_per_cpu_second"].as_f64().unwrap() > 10_000.0);
    let kinds: Vec<&str> = v["derived"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["kind"].as_str().unwrap())
        .collect();
    for k in ["failed", "flagged", "lower-bound", "noise", "lab"] {
        assert!(kinds.contains(&k), "no {k} warning in {kinds:?}");
    }
    assert!(v.get("comparison").is_none());
}

#[test]
fn comparison_marks_only_differences_beyond_noise() {
    let (a, b) = (fixture("run-a.json"), fixture("run-b.json"));
    let page = html::render_compare(&a, &b, &opts());
    assert!(
        page.len() < 2_000_000,
        "comparison HTML is {} bytes",
        page.len()
    );
    assert_self_contained(&page);
    assert!(page.contains(&reports::escape::html(reports::derive::COMPARE_RULE)));
    // The fixture's baseline made node-fastify 15% slower: marked.
    let v: serde_json::Value = serde_json::from_str(&json::render(&a, Some(&b))).unwrap();
    let figs = v["comparison"]["figures"].as_array().unwrap();
    let find = |t: &str, w: &str, f: &str| {
        figs.iter()
            .find(|x| x["target"] == t && x["workload"] == w && x["figure"] == f)
            .unwrap()
    };
    let fastify = find("node-fastify", "plaintext", "throughput_rps");
    assert_eq!(fastify["marked"], true);
    assert_eq!(fastify["better"], true);
    // Capacity is measured once: never marked, whatever the change.
    assert!(figs
        .iter()
        .filter(|x| x["figure"] == "capacity_rps")
        .all(|x| x["marked"] == false));
    // Every marked figure satisfies the rule.
    for f in figs.iter().filter(|x| x["marked"] == true) {
        assert!(f["change_pct"].as_f64().unwrap().abs() > 5.0, "{f}");
    }
    let md = markdown::render_compare(&a, &b);
    assert!(md.contains("**Rule:**"));
    assert!(md.contains("better**"));
    check_md_tables(&md);
    // Side-by-side line charts share their scales.
    let this = chart_titled(
        &page,
        "io-slo: corrected p99 latency vs offered rate (this run",
    );
    let base = chart_titled(
        &page,
        "io-slo: corrected p99 latency vs offered rate (baseline",
    );
    let ticks = |s: &str| s.matches("text-anchor=\"end\"").count();
    assert_eq!(ticks(this), ticks(base));
}

const HOSTILE: &str = "<script>alert(\"x\")</script> 'q' | *b* _i_ `c` [l](http://e.x)\n# h";

fn hostile_input() -> ReportInput {
    let mut input = fixture("run-a.json");
    let old = input.summary.targets[0].name.clone();
    let new = format!("evil{HOSTILE}");
    input.summary.targets[0].name = new.clone();
    input.summary.targets[0].framework = HOSTILE.into();
    input.summary.targets[0]
        .versions
        .insert(HOSTILE.into(), HOSTILE.into());
    input.summary.targets[0].failure = Some(HOSTILE.into());
    for c in input.summary.cells.iter_mut().filter(|c| c.target == old) {
        c.target = new.clone();
        c.warnings.push(HOSTILE.into());
        c.params.insert("x".into(), HOSTILE.into());
    }
    for d in input.details.iter_mut().filter(|d| d.target == old) {
        d.target = new.clone();
        d.source = HOSTILE.into();
    }
    input.summary.warnings.push(HOSTILE.into());
    input
        .summary
        .settings
        .insert(HOSTILE.into(), HOSTILE.into());
    input.summary.machine.cpu_model = HOSTILE.into();
    input.summary.started_at = HOSTILE.into();
    let section = Section {
        paragraphs: vec![HOSTILE.into()],
        table: Some(Table {
            columns: vec!["Claim".into(), HOSTILE.into()],
            rows: vec![
                vec![HOSTILE.into(), "supported".into()],
                vec![HOSTILE.into()],
            ],
        }),
        items: vec![HOSTILE.into()],
        preformatted: Some(format!("{HOSTILE}\n```\n</pre><script>")),
    };
    input.claims = Some(section.clone());
    input.advice = Some(section);
    input
}

#[test]
fn user_text_is_escaped_in_html() {
    let input = hostile_input();
    for page in [
        html::render(&input, &opts()),
        html::render_compare(&input, &fixture("run-b.json"), &opts()),
    ] {
        assert!(!page.contains("<script"), "raw script tag");
        assert!(!page.contains("</pre><script"));
        assert!(page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &#39;q&#39;"));
        assert_self_contained(&page);
        // The hostile target still gets its charts, its name escaped in the SVG text.
        assert!(page.contains("evil&lt;script&gt;"));
    }
}

#[test]
fn user_text_is_escaped_in_markdown() {
    let input = hostile_input();
    for md in [
        markdown::render(&input),
        markdown::render_compare(&input, &fixture("run-b.json")),
    ] {
        // Outside fenced code blocks (shown verbatim by every renderer) no HTML gets through.
        // (CommonMark: a fence is closed only by a line of at least as many backticks.)
        let mut fence: Option<usize> = None;
        for line in md.lines() {
            let ticks = line.chars().take_while(|c| *c == '`').count();
            match fence {
                None if ticks >= 3 => fence = Some(ticks),
                Some(n) if ticks >= n && line.trim_start_matches('`').trim().is_empty() => {
                    fence = None
                }
                None => {
                    assert!(!line.contains("<script"), "raw HTML in Markdown: {line}");
                    let unescaped = line.replace("\\]", "");
                    assert!(
                        !unescaped.contains("](") && !line.contains("http://"),
                        "a live link: {line}"
                    );
                }
                Some(_) => {}
            }
        }
        check_md_tables(&md);
        // No user text starts a heading or a link; the only headings are the report's own.
        for line in md.lines().filter(|l| l.starts_with('#')) {
            assert!(!line.contains("alert"), "user text in a heading: {line}");
        }
        assert!(md.contains(r"\*b\* \_i\_ \`c\`"));
    }
    // The profile text keeps its own lines in a fence that its backticks cannot close.
    let md = markdown::render(&input);
    let fence_start = md
        .find("````text\n")
        .expect("a fence longer than the text's backticks");
    assert!(md[fence_start..].contains("\n````\n"));
}

#[test]
fn an_empty_or_degenerate_run_still_renders() {
    let mut input = fixture("run-a.json");
    input.details.clear();
    input.summary.cells.clear();
    input.summary.targets.clear();
    input.summary.finished_at = None;
    let page = html::render(&input, &opts());
    assert!(page.contains("<strong>unfinished</strong>"));
    assert_self_contained(&page);
    let _ = markdown::render(&input);
    let _ = json::render(&input, Some(&input));
    let _ = html::render_compare(&input, &input, &opts());

    // Zeros, a single point and equal values: no NaN or infinity reaches the SVG.
    let mut input = fixture("run-a.json");
    for c in &mut input.summary.cells {
        for p in &mut c.ladder {
            p.p99_ms = 0.0;
        }
        if let Some(s) = c.metrics.get_mut("throughput_rps") {
            s.median = 0.0;
            s.min = 0.0;
            s.max = 0.0;
        }
    }
    for d in &mut input.details {
        d.per_second.truncate(1);
        for p in &mut d.from_send {
            p.ms = 1.0;
        }
    }
    let page = html::render(&input, &opts());
    for bad in [
        "NaN", "=\"inf", "=\"-inf", ",inf", ",-inf", " inf,", " -inf,",
    ] {
        assert!(!page.contains(bad), "non-finite coordinate {bad:?}");
    }
}
