//! The lab's public API has typed errors (issue 21): no `pub fn`, public trait method or public
//! field of `crates/lab/src` returns `Result<_, String>`. A source scan: it counts what it read
//! and checks it sees the typed signatures, so it cannot pass by reading nothing.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source without its unit tests (`#[cfg(test)] mod tests { … }`, the last item by
/// convention) and without comments.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.trim_start().starts_with("//") {
            true => "",
            false => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The signature starting at `at`: up to the body's `{` or the `;` of a declaration, at
/// bracket depth 0.
fn signature(code: &str, at: usize) -> String {
    let mut depth = 0i32;
    for (i, c) in code[at..].char_indices() {
        match c {
            '(' | '<' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            '>' if !code[at..at + i].ends_with('-') => depth -= 1,
            '{' | ';' if depth <= 0 => return code[at..at + i].to_string(),
            _ => {}
        }
    }
    code[at..].to_string()
}

/// Every `Result<…>` in `sig` whose error type (its last top-level argument) is `String`.
fn string_results(sig: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(i) = sig[from..].find("Result<") {
        let start = from + i + "Result<".len();
        let (mut depth, mut last_comma, mut end) = (1i32, None, sig.len());
        for (j, c) in sig[start..].char_indices() {
            match c {
                '<' | '(' | '[' => depth += 1,
                ')' | ']' => depth -= 1,
                '>' if !sig[..start + j].ends_with('-') => {
                    depth -= 1;
                    if depth == 0 {
                        end = start + j;
                        break;
                    }
                }
                ',' if depth == 1 => last_comma = Some(start + j),
                _ => {}
            }
        }
        if let Some(c) = last_comma {
            if sig[c + 1..end].trim() == "String" {
                found.push(sig[from + i..=end.min(sig.len() - 1)].to_string());
            }
        }
        from = start;
    }
    found
}

/// The public signatures of a file: `pub fn`, `pub` fields, and the methods of `pub trait`s.
fn public_signatures(code: &str) -> Vec<String> {
    let mut sigs = Vec::new();
    let mut trait_end = 0;
    for (i, line) in code.lines().scan(0usize, |pos, l| {
        let at = *pos;
        *pos += l.len() + 1;
        Some((at, l))
    }) {
        let t = line.trim_start();
        let at = i + (line.len() - t.len());
        if t.starts_with("pub trait ") {
            // The trait's body: to the `}` at the trait's indentation.
            let indent = &line[..line.len() - t.len()];
            let close = format!("\n{indent}}}");
            trait_end = code[at..].find(&close).map_or(code.len(), |e| at + e);
        }
        if t.starts_with("pub fn ")
            || t.starts_with("pub async fn ")
            || (t.starts_with("fn ") && at < trait_end)
        {
            sigs.push(signature(code, at));
        } else if t.starts_with("pub ") && t.contains(':') && t.contains("Result<") {
            sigs.push(t.to_string());
        }
    }
    sigs
}

#[test]
fn no_public_function_returns_a_string_error() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() >= 20, "scanned only {} files", files.len());
    let mut all = Vec::new();
    let mut offenders = Vec::new();
    for f in &files {
        let code = code(&std::fs::read_to_string(f).unwrap());
        for sig in public_signatures(&code) {
            for r in string_results(&sig) {
                offenders.push(format!(
                    "{}: {} ({r})",
                    f.strip_prefix(&src).unwrap().display(),
                    sig.split_whitespace().collect::<Vec<_>>().join(" ")
                ));
            }
            all.push(sig.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    assert!(all.len() > 150, "only {} public signatures", all.len());
    // The scan sees the typed signatures (multi-line ones too, and trait methods).
    for typed in [
        "pub fn resolve(url: &str, allow_remote: bool) -> Result<RemoteUrl, UrlError>",
        "pub fn default_host() -> Result<Box<dyn Host>, HostError>",
        "pub fn from_settings(s: &BTreeMap<String, String>) -> Result<SuiteOptions, SettingsError>",
        "fn targets(&self) -> Result<Vec<TargetInfo>, crate::host::HostError>",
        "fn check_alive(&mut self) -> Result<(), Gone>",
        "pub fn start( url: Option<&str>, cpus: Vec<usize>, max_workers: u32, ) -> Result<RunDatabase, RunDatabaseError>",
        "pub make: &'a dyn Fn(u16) -> Result<SpawnSpec, crate::launch::ResolveError>,",
    ] {
        assert!(
            all.iter().any(|s| s == typed),
            "the scan did not see `{typed}`"
        );
    }
    assert!(
        offenders.is_empty(),
        "public API with a String error:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_scan_finds_a_string_error() {
    let code = "pub fn a(x: u8) -> Result<Vec<u8>, String> {\n}\npub trait T {\n    fn b(&self)\n        -> Result<(), String>;\n}\npub struct S {\n    pub f: &'static dyn Fn(u16) -> Result<u8, String>,\n}\npub fn ok() -> Result<Option<String>, E> {}\n";
    let sigs = public_signatures(code);
    let bad: Vec<_> = sigs.iter().flat_map(|s| string_results(s)).collect();
    assert_eq!(bad.len(), 3, "{sigs:?} → {bad:?}");
}
