//! The seam every output goes through (hyperfine's `Exporter` is the model): one small trait,
//! one implementation per format. A format added later (CSV, a summary for CI) is one more
//! implementation and one more [`Format`]; the callers (`stackwise report`, the end of
//! `stackwise lab`) pick by [`Format`] and never call a renderer directly.

use crate::{findings, html, json, markdown, ReportInput};

/// The formats a report can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
    Json,
    /// The findings alone, as the terminal shows them (the end of `stackwise lab`).
    Findings,
}

/// Renders a run (and, for a comparison, a baseline) in one format.
pub trait Exporter {
    /// The text of the report. A format that has no comparison view renders `this` alone.
    fn render(&self, this: &ReportInput, baseline: Option<&ReportInput>) -> String;
}

struct Markdown;
struct Html(html::Options);
struct Json;
struct Findings;

impl Exporter for Markdown {
    fn render(&self, this: &ReportInput, baseline: Option<&ReportInput>) -> String {
        match baseline {
            Some(b) => markdown::render_compare(this, b),
            None => markdown::render(this),
        }
    }
}

impl Exporter for Html {
    fn render(&self, this: &ReportInput, baseline: Option<&ReportInput>) -> String {
        match baseline {
            Some(b) => html::render_compare(this, b, &self.0),
            None => html::render(this, &self.0),
        }
    }
}

impl Exporter for Json {
    fn render(&self, this: &ReportInput, baseline: Option<&ReportInput>) -> String {
        json::render(this, baseline)
    }
}

impl Exporter for Findings {
    fn render(&self, this: &ReportInput, _baseline: Option<&ReportInput>) -> String {
        findings::text(&findings::findings(this))
    }
}

/// The exporter of a format (`opts`: the HTML page's footer and home link).
pub fn exporter(format: Format, opts: &html::Options) -> Box<dyn Exporter> {
    match format {
        Format::Markdown => Box::new(Markdown),
        Format::Html => Box::new(Html(opts.clone())),
        Format::Json => Box::new(Json),
        Format::Findings => Box::new(Findings),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_renders_through_the_seam() {
        let path = format!("{}/tests/fixtures/run-a.json", env!("CARGO_MANIFEST_DIR"));
        let input = ReportInput::from_json(&std::fs::read_to_string(path).unwrap()).unwrap();
        let opts = html::Options::default();
        let md = exporter(Format::Markdown, &opts).render(&input, None);
        assert!(md.starts_with("# stackwise report: run #7") && md.contains("## Findings"));
        let page = exporter(Format::Html, &opts).render(&input, None);
        assert!(page.starts_with("<!DOCTYPE html>") && page.contains("id=\"findings\""));
        let j: serde_json::Value =
            serde_json::from_str(&exporter(Format::Json, &opts).render(&input, Some(&input)))
                .unwrap();
        assert_eq!(j["comparison"]["baseline_run_id"], 7);
        let text = exporter(Format::Findings, &opts).render(&input, None);
        assert!(text.starts_with("Findings of run #7\n  Trust: "));
        let cmp = exporter(Format::Markdown, &opts).render(&input, Some(&input));
        assert!(cmp.starts_with("# stackwise comparison"));
    }
}
