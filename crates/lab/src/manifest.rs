//! Target manifests (`targets/<name>/target.toml`, format in docs/targets.md): parsing with serde +
//! `toml` (unknown fields denied), validation with errors that name the file, line and field,
//! placeholder expansion (`{port}`, `{workers}`, …), and discovery of the targets directory.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

/// The language of a target's runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Node,
    Python,
    Rust,
}

impl Language {
    pub fn as_str(&self) -> &'static str {
        match self {
            Language::Node => "node",
            Language::Python => "python",
            Language::Rust => "rust",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A contract endpoint (docs/contract.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    Plaintext,
    Json,
    Io,
    Cpu,
    Hash,
    /// `GET /ws`: a WebSocket echo (not an HTTP request/response endpoint).
    Ws,
    /// `GET /db`: one random `world` row, one query (the database endpoints need `DATABASE_URL`).
    Db,
    /// `GET /queries?q=N`: N random `world` rows, one query each.
    Queries,
    /// `GET /fortunes`: the `fortune` rows plus one, sorted, rendered as HTML.
    Fortunes,
    /// `GET /updates?q=N`: N rows read, given new random numbers, written.
    Updates,
    /// The `/items` REST resource (GET one, list, POST, PUT, DELETE).
    Crud,
    /// `GET /vector?n=N`: a float64 sum of squares (not a database endpoint).
    Vector,
}

impl Endpoint {
    pub const ALL: [Endpoint; 12] = [
        Endpoint::Plaintext,
        Endpoint::Json,
        Endpoint::Io,
        Endpoint::Cpu,
        Endpoint::Hash,
        Endpoint::Ws,
        Endpoint::Db,
        Endpoint::Queries,
        Endpoint::Fortunes,
        Endpoint::Updates,
        Endpoint::Crud,
        Endpoint::Vector,
    ];

    /// Needs the database (`DATABASE_URL`).
    pub fn needs_database(&self) -> bool {
        matches!(
            self,
            Endpoint::Db
                | Endpoint::Queries
                | Endpoint::Fortunes
                | Endpoint::Updates
                | Endpoint::Crud
        )
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Endpoint::Plaintext => "plaintext",
            Endpoint::Json => "json",
            Endpoint::Io => "io",
            Endpoint::Cpu => "cpu",
            Endpoint::Hash => "hash",
            Endpoint::Ws => "ws",
            Endpoint::Db => "db",
            Endpoint::Queries => "queries",
            Endpoint::Fortunes => "fortunes",
            Endpoint::Updates => "updates",
            Endpoint::Crud => "crud",
            Endpoint::Vector => "vector",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// `target.toml`, as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Must equal the folder name.
    pub name: String,
    pub language: Language,
    /// Shown in reports.
    pub framework: String,
    pub summary: String,
    /// Contract endpoints served.
    pub endpoints: Vec<Endpoint>,
    #[serde(default)]
    pub install: InstallSpec,
    pub start: StartSpec,
    /// The production configuration as people would describe it; stored with every result.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    pub versions: Option<VersionsSpec>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallSpec {
    /// Programs needed on PATH (a missing one is named with how to get it).
    #[serde(default)]
    pub requires: Vec<String>,
    /// Commands run in the target folder, in order (placeholders allowed).
    #[serde(default)]
    pub steps: Vec<Vec<String>>,
    pub lockfile: Option<String>,
    /// Paths (relative to the folder) measured for the install footprint.
    #[serde(default)]
    pub installed: Vec<String>,
    /// Paths present after a complete install (the install is skipped when they all exist).
    #[serde(default)]
    pub check: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartSpec {
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// An integer or an expression over `{cpus}` such as `"{cpus}"` or `"2*{cpus}+1"`.
    #[serde(default = "default_workers", deserialize_with = "int_or_string")]
    pub workers: String,
    #[serde(default = "default_threads", deserialize_with = "int_or_string")]
    pub threads: String,
    /// Polled until it answers 200.
    #[serde(default = "default_ready")]
    pub ready: String,
    /// How one worker serves requests at once: `"event-loop"` (the default: no limit) or
    /// `"threads"` (one request per thread, e.g. gunicorn's sync and gthread workers); `{db_pool}`
    /// is capped at `threads` for the latter.
    #[serde(default)]
    pub concurrency: Concurrency,
    /// How the server treats a connection: `"keep-alive"` (the default: it serves many requests
    /// on a connection and waits for an idle one without tying up a worker) or `"per-request"`
    /// (it closes every connection after one response, and a worker that accepted a connection
    /// is blocked on it until a request arrives: gunicorn's sync worker). The lab's load engine
    /// connects to a `per-request` server only when a request is due ([`Target::client_connect`]).
    #[serde(default)]
    pub connections: Connections,
    /// A start command per workload id, where one differs.
    #[serde(default)]
    pub workload: BTreeMap<String, WorkloadStart>,
}

/// `start.concurrency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Concurrency {
    /// An event loop (Node, asyncio, tokio): no per-worker limit.
    #[default]
    EventLoop,
    /// One request per thread: a worker serves at most `threads` at once.
    Threads,
}

/// `start.connections`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Connections {
    /// Many requests per connection; an idle connection ties up no worker (an event loop, or a
    /// thread server that waits for idle keep-alive connections in a poller, as gunicorn's
    /// gthread worker does).
    #[default]
    KeepAlive,
    /// One request per connection, closed after the response; a worker that accepted a
    /// connection blocks reading it until the request arrives (gunicorn's sync worker, which its
    /// documentation puts behind a buffering proxy).
    PerRequest,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadStart {
    /// The command (empty: `[start] command`, when the override only sets threads).
    #[serde(default)]
    pub command: Vec<String>,
    /// Added to (and overriding) `[start] env`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// A thread server that needs one thread per held connection for this workload (issue 14:
    /// gunicorn gthread under `ws-hold`): the lab starts it with threads = ⌈connections ÷
    /// workers⌉ instead of `[start] threads`.
    #[serde(default)]
    pub threads_per_connection: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionsSpec {
    /// Prints a JSON object of name → version strings.
    pub command: Vec<String>,
}

fn default_workers() -> String {
    "{cpus}".into()
}
fn default_threads() -> String {
    "1".into()
}
fn default_ready() -> String {
    "/plaintext".into()
}

fn int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        I(i64),
        S(String),
    }
    match V::deserialize(d).map_err(|_| {
        serde::de::Error::custom(
            "expected an integer or a string such as \"{cpus}\" or \"2*{cpus}+1\"",
        )
    })? {
        V::I(i) => Ok(i.to_string()),
        V::S(s) => Ok(s),
    }
}

/// A manifest that cannot be used: where and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ManifestError {
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Dotted field path, e.g. `start.workers`, when known.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A target found on disk: its manifest and folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub manifest: Manifest,
    /// The target folder (absolute).
    pub dir: PathBuf,
    /// The manifest file.
    pub file: PathBuf,
}

impl Target {
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// Serves this endpoint?
    pub fn serves(&self, e: Endpoint) -> bool {
        self.manifest.endpoints.contains(&e)
    }

    /// The start command and extra env for a workload (its override, else `[start]`).
    pub fn start_for(&self, workload: Option<&str>) -> (Vec<String>, BTreeMap<String, String>) {
        let mut env = self.manifest.start.env.clone();
        match workload.and_then(|w| self.manifest.start.workload.get(w)) {
            Some(w) => {
                env.extend(w.env.clone());
                let command = if w.command.is_empty() {
                    self.manifest.start.command.clone()
                } else {
                    w.command.clone()
                };
                (command, env)
            }
            None => (self.manifest.start.command.clone(), env),
        }
    }

    /// The repository root: the parent of the targets directory holding this target.
    pub fn repo(&self) -> PathBuf {
        self.dir
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.dir.clone())
    }

    /// A path of `[install]` (`lockfile`, `installed`, `check`) with its placeholders expanded:
    /// relative ones are relative to the target folder, absolute ones are used as they are.
    pub fn install_path(&self, p: &str) -> PathBuf {
        let ph = Placeholders {
            port: 0,
            workers: 1,
            threads: 1,
            upstream: String::new(),
            cpus: 1,
            dir: self.dir.clone(),
            python: String::new(),
            repo: self.repo(),
            database: String::new(),
            db_pool: 1,
        };
        // Unknown placeholders were refused when the manifest was parsed.
        let expanded = ph.expand(p).unwrap_or_else(|_| p.to_string());
        self.dir.join(expanded)
    }

    /// Default worker count for `cpus` server CPUs, from `start.workers`.
    pub fn default_workers(&self, cpus: usize) -> u32 {
        eval_count(&self.manifest.start.workers, cpus).unwrap_or(1)
    }

    /// Threads per worker for a workload holding `connections` at once, when the manifest's
    /// `[start.workload.<id>]` asks for one thread per connection: ⌈connections ÷ workers⌉
    /// (at most 4096, a count's limit). `None`: `[start] threads` applies.
    pub fn threads_for_connections(
        &self,
        workload: &str,
        connections: usize,
        workers: u32,
    ) -> Option<u32> {
        let w = self.manifest.start.workload.get(workload)?;
        w.threads_per_connection
            .then(|| (connections.div_ceil(workers.max(1) as usize)).clamp(1, 4096) as u32)
    }

    /// Default threads per worker, from `start.threads`.
    pub fn default_threads(&self, cpus: usize) -> u32 {
        eval_count(&self.manifest.start.threads, cpus).unwrap_or(1)
    }

    /// Declares a database endpoint (`db`, `queries`, `fortunes`, `updates`, `crud`)?
    pub fn needs_database(&self) -> bool {
        self.manifest.endpoints.iter().any(Endpoint::needs_database)
    }

    /// When the lab's load engine opens connections to this target: only when a request is due
    /// for a `per-request` server (`start.connections`), as the buffering proxy such a server is
    /// documented to run behind would (nginx connects once it holds a whole request), so that no
    /// worker waits on an idle connection; otherwise eagerly, as wrk does.
    pub fn client_connect(&self) -> loadgen::Connect {
        match self.manifest.start.connections {
            Connections::KeepAlive => loadgen::Connect::Eager,
            Connections::PerRequest => loadgen::Connect::WhenDue,
        }
    }

    /// `{db_pool}` for this many workers and threads ([`crate::postgres::db_pool`]).
    pub fn db_pool(&self, workers: u32, threads: u32) -> u32 {
        crate::postgres::db_pool(
            workers,
            threads,
            self.manifest.start.concurrency == Concurrency::Threads,
        )
    }
}

/// Values for the manifest placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct Placeholders {
    pub port: u16,
    pub workers: u32,
    pub threads: u32,
    /// The upstream base URL (`http://127.0.0.1:P`), empty when none runs.
    pub upstream: String,
    /// Number of server CPUs given to the target.
    pub cpus: usize,
    pub dir: PathBuf,
    /// The python3 found on PATH (or `python3`).
    pub python: String,
    pub repo: PathBuf,
    /// The database URL (`postgresql://stackwise@127.0.0.1:P/stackwise`), empty when the run has
    /// no database.
    pub database: String,
    /// Database connections per worker process ([`Target::db_pool`]).
    pub db_pool: u32,
}

/// A command or value whose placeholders cannot be filled: which text, and which placeholder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceholderError {
    /// A known placeholder opened and never closed (`{port`).
    #[error("unclosed '{{' in \"{text}\"")]
    Unclosed { text: String },
    /// `{name}` is not a placeholder the lab fills.
    #[error("unknown placeholder {{{name}}} in \"{text}\" (known: {})", KNOWN_PLACEHOLDERS.join(", "))]
    Unknown { name: String, text: String },
}

/// A count (`start.workers`, `start.threads`) that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountError {
    /// A term is not an integer or `{cpus}`.
    #[error("\"{expr}\" is not a count: use an integer, \"{{cpus}}\" or e.g. \"2*{{cpus}}+1\"")]
    NotACount { expr: String },
    /// The count is outside 1..=4096.
    #[error("\"{expr}\" gives {value}; a count must be 1 to 4096")]
    OutOfRange { expr: String, value: u64 },
}

/// A targets directory that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TargetsDirError {
    /// The path is not a directory.
    #[error("not a directory")]
    NotADirectory { path: PathBuf },
    /// The path cannot be made absolute.
    #[error("cannot resolve: {source}")]
    Resolve {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The directory named by `--targets-dir` cannot be used.
    #[error("--targets-dir {}: {source}", path.display())]
    Flag {
        path: PathBuf,
        source: Box<TargetsDirError>,
    },
    /// The directory named by `$STACKWISE_TARGETS` cannot be used.
    #[error("STACKWISE_TARGETS={}: {source}", path.display())]
    Env {
        path: PathBuf,
        source: Box<TargetsDirError>,
    },
    /// No `targets/` directory where the lab looks for one.
    #[error("no targets/ directory found (looked in {}); pass --targets-dir DIR or set STACKWISE_TARGETS", tried.join(" and "))]
    NotFound { tried: Vec<String> },
}

impl Placeholders {
    /// Replaces every `{name}`; an unknown placeholder is an error naming it. Braces around anything
    /// but a lowercase identifier (JSON, code) are kept as written.
    pub fn expand(&self, s: &str) -> Result<String, PlaceholderError> {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                let known = KNOWN_PLACEHOLDERS
                    .iter()
                    .any(|k| after.starts_with(k.trim_matches(|c| c == '{' || c == '}')));
                if known {
                    return Err(PlaceholderError::Unclosed { text: s.into() });
                }
                out.push('{');
                rest = after;
                continue;
            };
            let key = &after[..close];
            // Only `{identifier}` is a placeholder; other braces (JSON, code) are literal.
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                out.push('{');
                rest = after;
                continue;
            }
            let value = match key {
                "port" => self.port.to_string(),
                "workers" => self.workers.to_string(),
                "threads" => self.threads.to_string(),
                "upstream" => self.upstream.clone(),
                "cpus" => self.cpus.to_string(),
                "dir" => self.dir.display().to_string(),
                "python" => self.python.clone(),
                "repo" => self.repo.display().to_string(),
                "database" => self.database.clone(),
                "db_pool" => self.db_pool.to_string(),
                other => {
                    return Err(PlaceholderError::Unknown {
                        name: other.into(),
                        text: s.into(),
                    })
                }
            };
            out.push_str(&value);
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Expands every element of a command.
    pub fn expand_all(&self, v: &[String]) -> Result<Vec<String>, PlaceholderError> {
        v.iter().map(|s| self.expand(s)).collect()
    }
}

const KNOWN_PLACEHOLDERS: [&str; 10] = [
    "{port}",
    "{workers}",
    "{threads}",
    "{upstream}",
    "{cpus}",
    "{dir}",
    "{python}",
    "{repo}",
    "{database}",
    "{db_pool}",
];

/// Evaluates a count such as `4`, `{cpus}` or `2*{cpus}+1` (integers, `{cpus}`, `+`, `*`,
/// parentheses not supported). The result must be at least 1.
pub fn eval_count(expr: &str, cpus: usize) -> Result<u32, CountError> {
    let e = expr.replace("{cpus}", &cpus.to_string());
    let mut total: u64 = 0;
    for term in e.split('+') {
        let mut product: u64 = 1;
        for factor in term.split('*') {
            let f = factor.trim();
            let v: u64 = f
                .parse()
                .map_err(|_| CountError::NotACount { expr: expr.into() })?;
            product = product.saturating_mul(v);
        }
        total = total.saturating_add(product);
    }
    if total == 0 || total > 4096 {
        return Err(CountError::OutOfRange {
            expr: expr.into(),
            value: total,
        });
    }
    Ok(total as u32)
}

/// Parses and validates a manifest file. `folder_name` is the name it must declare (its folder's).
pub fn parse_file(file: &Path) -> Result<Manifest, ManifestError> {
    let text = std::fs::read_to_string(file).map_err(|e| ManifestError {
        file: file.to_path_buf(),
        line: None,
        field: None,
        message: format!("cannot read: {e}"),
    })?;
    let folder = file
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned());
    parse_str(&text, file, folder.as_deref())
}

/// Parses and validates manifest text (`file` is used in errors only).
pub fn parse_str(
    text: &str,
    file: &Path,
    folder_name: Option<&str>,
) -> Result<Manifest, ManifestError> {
    let m: Manifest = toml::from_str(text).map_err(|e| toml_error(text, file, &e))?;
    validate(&m, text, file, folder_name)?;
    Ok(m)
}

fn toml_error(text: &str, file: &Path, e: &toml::de::Error) -> ManifestError {
    let message = e.message().trim().to_string();
    let (mut line, mut field) = (None, None);
    if let Some(span) = e.span() {
        let start = span.start.min(text.len());
        let ln = text[..start].matches('\n').count() + 1;
        line = Some(ln);
        let table = table_at(text, ln);
        let src_line = text.lines().nth(ln - 1).unwrap_or("");
        if let Some(missing) = between(&message, "missing field `", "`") {
            field = Some(join_path(&table, missing));
            // The span covers the table; point at its header when there is one.
            if let Some(h) = header_line(text, &table) {
                line = Some(h);
            }
        } else if let Some(unknown) = between(&message, "unknown field `", "`") {
            field = Some(join_path(&table, unknown));
        } else if let Some(key) = key_of_line(src_line) {
            field = Some(join_path(&table, &key));
        } else if !table.is_empty() {
            field = Some(table);
        }
    } else if let Some(missing) = between(&message, "missing field `", "`") {
        field = Some(missing.to_string());
    }
    ManifestError {
        file: file.to_path_buf(),
        line,
        field,
        message: message.replace('\n', " "),
    }
}

fn between<'a>(s: &'a str, a: &str, b: &str) -> Option<&'a str> {
    let i = s.find(a)? + a.len();
    let j = s[i..].find(b)? + i;
    Some(&s[i..j])
}

fn join_path(table: &str, key: &str) -> String {
    if table.is_empty() {
        key.to_string()
    } else {
        format!("{table}.{key}")
    }
}

/// The `[table]` in effect at 1-based line `ln` ("" for the root).
fn table_at(text: &str, ln: usize) -> String {
    let mut table = String::new();
    for l in text.lines().take(ln) {
        if let Some(h) = parse_header(l) {
            table = h;
        }
    }
    table
}

fn parse_header(line: &str) -> Option<String> {
    let t = line.trim();
    if t.starts_with("[[") {
        let inner = t.trim_start_matches('[');
        let end = inner.find(']')?;
        return Some(inner[..end].trim().to_string());
    }
    if t.starts_with('[') {
        let end = t.find(']')?;
        return Some(t[1..end].trim().to_string());
    }
    None
}

fn header_line(text: &str, table: &str) -> Option<usize> {
    if table.is_empty() {
        return None;
    }
    text.lines()
        .position(|l| parse_header(l).as_deref() == Some(table))
        .map(|i| i + 1)
}

fn key_of_line(line: &str) -> Option<String> {
    let t = line.trim();
    if t.starts_with('#') || t.starts_with('[') {
        return None;
    }
    let (k, _) = t.split_once('=')?;
    let k = k.trim().trim_matches('"');
    (!k.is_empty()).then(|| k.to_string())
}

/// The 1-based line where `table.key` is set (or the table header, or None).
fn line_of(text: &str, table: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    let mut header = None;
    for (i, l) in text.lines().enumerate() {
        if let Some(h) = parse_header(l) {
            current = h;
            if current == table {
                header = Some(i + 1);
            }
            continue;
        }
        if current == table && key_of_line(l).as_deref() == Some(key) {
            return Some(i + 1);
        }
    }
    header
}

fn validate(
    m: &Manifest,
    text: &str,
    file: &Path,
    folder_name: Option<&str>,
) -> Result<(), ManifestError> {
    let err = |table: &str, key: &str, message: String| ManifestError {
        file: file.to_path_buf(),
        line: line_of(text, table, key),
        field: Some(join_path(table, key)),
        message,
    };
    if m.name.is_empty()
        || !m
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(err(
            "",
            "name",
            format!(
                "\"{}\" is not a target name (letters, digits, '-', '_')",
                m.name
            ),
        ));
    }
    if let Some(folder) = folder_name {
        if m.name != folder {
            return Err(err(
                "",
                "name",
                format!("\"{}\" must equal the folder name \"{folder}\"", m.name),
            ));
        }
    }
    if m.endpoints.is_empty() {
        return Err(err("", "endpoints", "lists no endpoint".into()));
    }
    if m.start.command.is_empty() || m.start.command[0].is_empty() {
        return Err(err("start", "command", "is empty".into()));
    }
    if !m.start.ready.starts_with('/') {
        return Err(err(
            "start",
            "ready",
            format!("\"{}\" must be a path starting with '/'", m.start.ready),
        ));
    }
    for (key, v) in [("workers", &m.start.workers), ("threads", &m.start.threads)] {
        eval_count(v, 1).map_err(|e| err("start", key, e.to_string()))?;
    }
    for (i, step) in m.install.steps.iter().enumerate() {
        if step.is_empty() || step[0].is_empty() {
            return Err(err("install", "steps", format!("step {} is empty", i + 1)));
        }
    }
    for (w, ws) in &m.start.workload {
        if ws.command.is_empty() && !ws.threads_per_connection {
            return Err(err(
                &format!("start.workload.{w}"),
                "command",
                "is empty".into(),
            ));
        }
    }
    if let Some(v) = &m.versions {
        if v.command.is_empty() {
            return Err(err("versions", "command", "is empty".into()));
        }
    }
    // Placeholders: every one must be known.
    let probe = Placeholders {
        port: 1,
        workers: 1,
        threads: 1,
        upstream: String::new(),
        cpus: 1,
        dir: PathBuf::new(),
        python: String::new(),
        repo: PathBuf::new(),
        database: String::new(),
        db_pool: 1,
    };
    let mut strings: Vec<(String, &str, &String)> = Vec::new();
    for s in &m.start.command {
        strings.push(("start".into(), "command", s));
    }
    for (k, v) in &m.start.env {
        strings.push(("start.env".into(), k.as_str(), v));
    }
    for step in &m.install.steps {
        for s in step {
            strings.push(("install".into(), "steps", s));
        }
    }
    for s in &m.install.installed {
        strings.push(("install".into(), "installed", s));
    }
    for s in &m.install.check {
        strings.push(("install".into(), "check", s));
    }
    if let Some(s) = &m.install.lockfile {
        strings.push(("install".into(), "lockfile", s));
    }
    for (w, ws) in &m.start.workload {
        for s in &ws.command {
            strings.push((format!("start.workload.{w}"), "command", s));
        }
    }
    if let Some(v) = &m.versions {
        for s in &v.command {
            strings.push(("versions".into(), "command", s));
        }
    }
    for (table, key, s) in strings {
        if let Err(e) = probe.expand(s) {
            let mut error = err(&table, key, e.to_string());
            if table == "start.env" && error.line.is_none() {
                error.line = line_of(text, "start", "env");
            }
            return Err(error);
        }
    }
    Ok(())
}

/// Where the targets directory is, and the repository root (its parent).
#[derive(Debug, Clone, PartialEq)]
pub struct TargetsDir {
    pub path: PathBuf,
}

impl TargetsDir {
    /// Finds the targets directory: `flag` (`--targets-dir`), else `$STACKWISE_TARGETS`, else a
    /// `targets/` directory in the current directory or one of its parents, else next to the
    /// repository the running binary was built in.
    pub fn discover(flag: Option<&Path>) -> Result<TargetsDir, TargetsDirError> {
        if let Some(p) = flag {
            return Self::at(p).map_err(|e| TargetsDirError::Flag {
                path: p.to_path_buf(),
                source: Box::new(e),
            });
        }
        if let Some(p) = std::env::var_os("STACKWISE_TARGETS").filter(|v| !v.is_empty()) {
            let p = PathBuf::from(p);
            return Self::at(&p).map_err(|e| TargetsDirError::Env {
                path: p.clone(),
                source: Box::new(e),
            });
        }
        let mut tried = Vec::new();
        if let Ok(cwd) = std::env::current_dir() {
            for dir in cwd.ancestors() {
                let t = dir.join("targets");
                if t.is_dir() {
                    return Self::at(&t);
                }
            }
            tried.push(format!("{} and its parents", cwd.display()));
        }
        if let Ok(exe) = std::env::current_exe() {
            for dir in exe.ancestors().skip(1) {
                let t = dir.join("targets");
                if t.is_dir() && dir.join("Cargo.toml").is_file() {
                    return Self::at(&t);
                }
            }
            tried.push(format!("the ancestors of {}", exe.display()));
        }
        Err(TargetsDirError::NotFound { tried })
    }

    /// Uses `path` as the targets directory (it must exist).
    pub fn at(path: &Path) -> Result<TargetsDir, TargetsDirError> {
        if !path.is_dir() {
            return Err(TargetsDirError::NotADirectory {
                path: path.to_path_buf(),
            });
        }
        let path = path
            .canonicalize()
            .map_err(|source| TargetsDirError::Resolve {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(TargetsDir { path })
    }

    /// The repository root: the targets directory's parent.
    pub fn repo(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.path.clone())
    }

    /// Names of the folders holding a `target.toml`, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.path)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join("target.toml").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Loads one target by name.
    pub fn load(&self, name: &str) -> Result<Target, ManifestError> {
        let dir = self.path.join(name);
        let file = dir.join("target.toml");
        if !file.is_file() {
            let known = self.names();
            return Err(ManifestError {
                file,
                line: None,
                field: None,
                message: format!(
                    "no target named \"{name}\" (known: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            });
        }
        let manifest = parse_file(&file)?;
        Ok(Target {
            manifest,
            dir,
            file,
        })
    }

    /// Loads every target; broken manifests come back as errors, in name order.
    pub fn load_all(&self) -> Vec<Result<Target, ManifestError>> {
        self.names().iter().map(|n| self.load(n)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "node-express"
language = "node"
framework = "Express"
summary = "Express 5 on node:cluster"
endpoints = ["plaintext", "json", "io", "cpu", "hash"]

[install]
requires = ["node", "npm"]
steps = [["npm", "ci"]]
lockfile = "package-lock.json"
installed = ["node_modules"]
check = ["node_modules/.package-lock.json"]

[start]
command = ["node", "server.js"]
env = { NODE_ENV = "production", PORT = "{port}", WORKERS = "{workers}", UPSTREAM_URL = "{upstream}" }
workers = "2*{cpus}+1"
threads = 4
ready = "/plaintext"

[start.workload.cpu]
command = ["node", "cpu.js"]

[config]
server = "node:cluster"

[versions]
command = ["node", "versions.js"]
"#;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        parse_str(
            text,
            Path::new("targets/node-express/target.toml"),
            Some("node-express"),
        )
    }

    #[test]
    fn parses_the_documented_format() {
        let m = parse(GOOD).unwrap();
        assert_eq!(m.language, Language::Node);
        assert_eq!(m.endpoints.len(), 5);
        assert_eq!(m.start.threads, "4");
        assert_eq!(eval_count(&m.start.workers, 2).unwrap(), 5);
        assert_eq!(m.start.workload["cpu"].command[1], "cpu.js");
        // A per-workload override may only ask for one thread per held connection.
        let t = parse(&format!(
            "{GOOD}\n[start.workload.ws-hold]\nthreads_per_connection = true\n"
        ))
        .unwrap();
        assert!(t.start.workload["ws-hold"].threads_per_connection);
        let e = parse(&format!(
            "{GOOD}\n[start.workload.ws-hold]\nenv = {{ A = \"1\" }}\n"
        ))
        .unwrap_err();
        assert_eq!(
            e.field.as_deref(),
            Some("start.workload.ws-hold.command"),
            "{e}"
        );
        assert_eq!(m.config["server"], "node:cluster");
        let ws = parse(&GOOD.replace("\"hash\"]", "\"hash\", \"ws\"]")).unwrap();
        assert_eq!(ws.endpoints.last(), Some(&Endpoint::Ws));
        assert_eq!(Endpoint::Ws.as_str(), "ws");
        assert!(Endpoint::ALL.contains(&Endpoint::Ws));
        let db = parse(&GOOD.replace(
            "\"hash\"]",
            "\"hash\", \"db\", \"queries\", \"fortunes\", \"updates\", \"crud\", \"vector\"]",
        ))
        .unwrap();
        assert_eq!(db.endpoints.len(), 11);
        assert!(db.endpoints[5..10].iter().all(Endpoint::needs_database));
        assert!(!Endpoint::Vector.needs_database() && !Endpoint::Io.needs_database());
        assert_eq!(m.start.concurrency, Concurrency::EventLoop);
        let threads =
            parse(&GOOD.replace("threads = 4\n", "threads = 4\nconcurrency = \"threads\"\n"))
                .unwrap();
        assert_eq!(threads.start.concurrency, Concurrency::Threads);
        let e = parse(&GOOD.replace("threads = 4\n", "threads = 4\nconcurrency = \"fibers\"\n"))
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("start.concurrency"), "{e}");
    }

    #[test]
    fn connections_parse_to_the_client_mode_and_a_bad_value_names_the_field() {
        let t = |text: &str| Target {
            manifest: parse(text).unwrap(),
            dir: PathBuf::from("/t"),
            file: PathBuf::from("/t/target.toml"),
        };
        let keep = t(GOOD);
        assert_eq!(keep.manifest.start.connections, Connections::KeepAlive);
        assert_eq!(keep.client_connect(), loadgen::Connect::Eager);
        let per_request = GOOD.replace(
            "threads = 4\n",
            "threads = 4\nconnections = \"per-request\"\n",
        );
        let sync = t(&per_request);
        assert_eq!(sync.manifest.start.connections, Connections::PerRequest);
        assert_eq!(sync.client_connect(), loadgen::Connect::WhenDue);
        let bad = GOOD.replace("threads = 4\n", "threads = 4\nconnections = \"close\"\n");
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("start.connections"), "{e}");
        assert_eq!(
            e.line,
            bad.lines()
                .position(|l| l.starts_with("connections"))
                .map(|i| i + 1)
        );
        assert!(e.message.contains("per-request"), "{e}");
    }

    #[test]
    fn unknown_field_names_file_line_and_field() {
        let text = GOOD.replace(
            "ready = \"/plaintext\"",
            "ready = \"/plaintext\"\nreddy = 1",
        );
        let e = parse(&text).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("start.reddy"), "{e}");
        let line = text.lines().position(|l| l.starts_with("reddy")).unwrap() + 1;
        assert_eq!(e.line, Some(line));
        let s = e.to_string();
        assert!(s.starts_with("targets/node-express/target.toml:"), "{s}");
        assert!(s.contains("unknown field"), "{s}");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let text = GOOD.replace("framework = \"Express\"", "framework = 5");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("framework"), "{e}");
        assert_eq!(e.line, Some(4));
        let text = GOOD.replace("\"json\", \"io\"", "\"json\", \"disk\"");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("endpoints"), "{e}");
        assert!(e.message.contains("disk"), "{e}");
    }

    #[test]
    fn missing_field_and_bad_values_are_named() {
        let text = GOOD.replace("command = [\"node\", \"server.js\"]\n", "");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("start.command"), "{e}");
        assert_eq!(
            e.line,
            Some(text.lines().position(|l| l == "[start]").unwrap() + 1)
        );
        let e = parse(&GOOD.replace("2*{cpus}+1", "many")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("start.workers"), "{e}");
        let e = parse(&GOOD.replace("\"{upstream}\"", "\"{upstrem}\"")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("start.env.UPSTREAM_URL"), "{e}");
        assert!(e.message.contains("{upstrem}"), "{e}");
        let e = parse_str(GOOD, Path::new("x/target.toml"), Some("other")).unwrap_err();
        assert_eq!((e.field.as_deref(), e.line), (Some("name"), Some(2)));
        let e = parse("name = \"node-express\"\nlanguage = [").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn placeholders_expand_and_unknown_ones_fail() {
        let p = Placeholders {
            port: 8080,
            workers: 3,
            threads: 2,
            upstream: "http://127.0.0.1:9".into(),
            cpus: 1,
            dir: "/t/x".into(),
            python: "/usr/bin/python3".into(),
            repo: "/r".into(),
            database: "postgresql://stackwise@127.0.0.1:5/stackwise".into(),
            db_pool: 4,
        };
        assert_eq!(
            p.expand("{python} {dir}/app.py --bind 127.0.0.1:{port} -w {workers}")
                .unwrap(),
            "/usr/bin/python3 /t/x/app.py --bind 127.0.0.1:8080 -w 3"
        );
        assert_eq!(
            p.expand("DATABASE_URL={database} DB_POOL={db_pool}")
                .unwrap(),
            "DATABASE_URL=postgresql://stackwise@127.0.0.1:5/stackwise DB_POOL=4"
        );
        // Typed errors carry the placeholder and the text; their messages name both.
        let e = p.expand("x {nope}").unwrap_err();
        assert_eq!(
            e,
            PlaceholderError::Unknown {
                name: "nope".into(),
                text: "x {nope}".into()
            }
        );
        assert!(e
            .to_string()
            .starts_with("unknown placeholder {nope} in \"x {nope}\" (known: {port}, "));
        assert_eq!(
            p.expand("{port").unwrap_err().to_string(),
            "unclosed '{' in \"{port\""
        );
        assert_eq!(
            p.expand("print({'a': 1}, {port})").unwrap(),
            "print({'a': 1}, 8080)"
        );
        assert_eq!(eval_count("{cpus}", 3).unwrap(), 3);
        assert_eq!(eval_count(" 2 * {cpus} + 1 ", 2).unwrap(), 5);
        assert_eq!(
            eval_count("0", 2),
            Err(CountError::OutOfRange {
                expr: "0".into(),
                value: 0
            })
        );
        assert_eq!(
            eval_count("two", 2).unwrap_err().to_string(),
            "\"two\" is not a count: use an integer, \"{cpus}\" or e.g. \"2*{cpus}+1\""
        );
    }

    #[test]
    fn a_targets_dir_that_is_not_one_says_where() {
        let missing = Path::new("/nonexistent/stackwise-targets");
        let e = TargetsDir::at(missing).unwrap_err();
        assert!(matches!(&e, TargetsDirError::NotADirectory { path } if path == missing));
        let e = TargetsDir::discover(Some(missing)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--targets-dir /nonexistent/stackwise-targets: not a directory"
        );
    }
}
