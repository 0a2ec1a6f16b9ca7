//! The lab's PostgreSQL (issue 18): a throwaway cluster started and cleaned by the lab
//! ([`PostgresSpec`] → [`Postgres`], a [`Service`] like the upstream), or a dedicated database on
//! the user's own server ([`Database::external`], `--database-url`), both seen through one
//! [`Database`] handle that loads the schema, resets it between cells and reads
//! `pg_stat_statements` for the conformance checker.
//!
//! The cluster: the binaries are found where Debian puts them (`/usr/lib/postgresql/*/bin`, newest
//! version first) or on PATH; a missing PostgreSQL is an error naming the Debian package
//! [`PACKAGE`] (not the `postgresql` meta-package, which also creates a system cluster on 5432).
//! `initdb --locale=C.UTF-8` into a directory under the temp dir (mode 0700, owned by the
//! unprivileged account: as root the lab runs initdb and postgres as `nobody` with
//! `Command::uid/gid`, because postgres refuses root), loopback only, a free port, the socket in
//! the data directory (`-k`), `fsync=off`, `synchronous_commit=off`, `full_page_writes=off`
//! (durability is not what is measured, and reports say so), `pg_stat_statements` preloaded,
//! trust authentication, database and user `stackwise`, loaded with exactly
//! `src/db_schema.sql` ([`SCHEMA`]). `postgres` is the lab's direct child in its own process
//! group (the supervisor's [`crate::process::Supervised`]), pinned to the load side's CPUs like
//! the upstream, its CPU sampled through its process tree/cgroup. It is stopped with SIGINT (fast
//! shutdown) and its directory deleted; Ctrl-C, SIGTERM and panics reach it through the
//! supervisor's registry ([`crate::process::kill_all`] sends it SIGINT, then SIGKILL, then deletes
//! the directory registered with [`crate::process::CleanupDir`]); a failed cell drops or stops it.
//!
//! Queries go through `psql` (shipped with the server package, `postgresql-client-15` alone for
//! `--database-url`): the lab only loads a file, truncates, and reads a few counters, so a Rust
//! client (tokio-postgres and its dozen crates) would add build time and lockfile churn for no
//! measured path; the targets use their own ecosystems' clients.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::process::{
    self, CleanupDir, Crash, SpawnExtra, SpawnSpec, StartError, StopReport, Supervised,
};
use crate::sample::ProcessTree;
use crate::services::{Service, ServiceSpec};

/// The schema and data every run starts from (TechEmpower's `world` and `fortune`, and `items`
/// for CRUD), loaded as it is.
pub const SCHEMA: &str = include_str!("db_schema.sql");
/// The Debian package that provides the server binaries.
pub const PACKAGE: &str = "postgresql-15";
/// The Debian package that provides `psql` alone (enough for `--database-url`).
pub const CLIENT_PACKAGE: &str = "postgresql-client-15";
/// The database and the user.
pub const DB_NAME: &str = "stackwise";
pub const DB_USER: &str = "stackwise";
/// The tables [`SCHEMA`] creates (all in `public`).
pub const LAB_TABLES: [&str; 3] = ["world", "fortune", "items"];
/// Rows of `world` (ids 1..=WORLD_ROWS) and of `items` after a reset (ids 1..=ITEMS_ROWS).
pub const WORLD_ROWS: u64 = 10_000;
pub const ITEMS_ROWS: u64 = 1_000;
/// Connections per target (over all its workers).
pub const POOL_PER_TARGET: u32 = 16;
/// Time given to psql for one call.
const PSQL_TIMEOUT: Duration = Duration::from_secs(60);

/// A problem with the database: what and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DbError(pub String);

fn err(s: impl Into<String>) -> DbError {
    DbError(s.into())
}

/// `{db_pool}`: connections per worker process = ceil(16 / workers), capped at the worker's
/// concurrency (its threads for a thread server; an event loop is not capped).
pub fn db_pool(workers: u32, threads: u32, thread_server: bool) -> u32 {
    let per = POOL_PER_TARGET.div_ceil(workers.max(1));
    if thread_server {
        per.min(threads.max(1))
    } else {
        per
    }
}

/// `max_connections` for a cluster serving one target at a time with up to `workers` workers:
/// every worker's pool at its largest (ceil(16 / workers) each, at most 16 + workers − 1), plus
/// the checker's and the lab's own connections and PostgreSQL's reserved ones.
pub fn max_connections_for(workers: u32) -> u32 {
    let w = workers.max(1);
    w * POOL_PER_TARGET.div_ceil(w) + 10
}

/// The directory of the newest PostgreSQL binaries: `/usr/lib/postgresql/<version>/bin` (Debian),
/// else the directory of `initdb` on PATH.
pub fn find_bin_dir() -> Result<PathBuf, DbError> {
    let mut versions: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let v: Vec<u64> = name
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("postgres").is_file()).then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Some(initdb) = crate::install::find_program("initdb") {
        if let Some(dir) = initdb.parent() {
            if dir.join("postgres").is_file() {
                return Ok(dir.to_path_buf());
            }
        }
    }
    Err(err(format!(
        "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on PATH): install the \
         Debian package {PACKAGE} (`apt-get install {PACKAGE}`, not the `postgresql` meta-package; the lab \
         starts its own throwaway cluster, so set create_main_cluster = false in \
         /etc/postgresql-common/createcluster.conf first to keep Debian from creating a system cluster \
         on port 5432), or pass --database-url URL to use a dedicated database on your own server"
    )))
}

/// `psql`: next to the server binaries, else on PATH.
pub fn find_psql() -> Result<PathBuf, DbError> {
    if let Ok(bin) = find_bin_dir() {
        if bin.join("psql").is_file() {
            return Ok(bin.join("psql"));
        }
    }
    crate::install::find_program("psql").ok_or_else(|| {
        err(format!(
            "psql is not installed: install the Debian package {CLIENT_PACKAGE} (or {PACKAGE})"
        ))
    })
}

/// The statements of [`SCHEMA`], in order, without comment lines.
pub fn schema_statements() -> Vec<String> {
    SCHEMA
        .split(";\n")
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// One psql call: `sql` on stdin, rows on stdout (fields separated by U+001F), bounded in time.
fn run_psql(psql: &Path, url: &str, sql: &str) -> Result<String, DbError> {
    let mut child = Command::new(psql)
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-F",
            "\u{1f}",
            "-d",
            url,
        ])
        .env("PGCONNECT_TIMEOUT", "5")
        .env_remove("PGPASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| err(format!("cannot run {}: {e}", psql.display())))?;
    let _guard = process::ExternalGroup::register(child.id() as i32, "psql");
    let pid = child.id() as i32;
    let mut stdin = child.stdin.take().expect("stdin");
    let input = sql.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(PSQL_TIMEOUT) {
        Ok(r) => r.map_err(|e| err(format!("psql failed: {e}")))?,
        Err(_) => {
            // SAFETY: the psql process group we started.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
            return Err(err(format!(
                "psql did not finish within {}s on {url}",
                PSQL_TIMEOUT.as_secs()
            )));
        }
    };
    let _ = writer.join();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first: Vec<&str> = stderr.lines().take(5).collect();
        return Err(err(format!(
            "psql on {url} {}: {}",
            process::describe_exit(&out.status),
            first.join(" | ")
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The lab's database, reached through psql.
#[derive(Debug, Clone, PartialEq)]
pub struct Database {
    /// `postgresql://stackwise@127.0.0.1:PORT/stackwise` (or the user's URL).
    pub url: String,
    psql: PathBuf,
    /// `pg_stat_statements` works: query counts can be checked.
    pub stats: bool,
    /// What the lab could not control (a user's server), for reports.
    pub notes: Vec<String>,
    /// The user's own server (`--database-url`), not the lab's cluster.
    pub external: bool,
}

impl Database {
    /// The same psql on another URL (e.g. another database of the same server).
    pub fn with_url(&self, url: &str) -> Database {
        Database {
            url: url.to_string(),
            ..self.clone()
        }
    }

    /// Runs SQL; returns its rows, fields split.
    pub fn rows(&self, sql: &str) -> Result<Vec<Vec<String>>, DbError> {
        Ok(self
            .sql(sql)?
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.split('\u{1f}').map(str::to_string).collect())
            .collect())
    }

    /// Runs SQL; returns psql's unaligned output.
    pub fn sql(&self, sql: &str) -> Result<String, DbError> {
        run_psql(&self.psql, &self.url, sql)
    }

    /// Tables of the database outside the system schemas, as `schema.table`.
    pub fn tables(&self) -> Result<Vec<String>, DbError> {
        Ok(self
            .rows(
                "SELECT schemaname || '.' || tablename FROM pg_tables \
                 WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1;",
            )?
            .into_iter()
            .filter_map(|r| r.into_iter().next())
            .collect())
    }

    /// Tables that are not the lab's (`public.world`, `public.fortune`, `public.items`).
    pub fn foreign_tables(&self) -> Result<Vec<String>, DbError> {
        Ok(self
            .tables()?
            .into_iter()
            .filter(|t| {
                !LAB_TABLES
                    .iter()
                    .any(|l| t.as_str() == format!("public.{l}"))
            })
            .collect())
    }

    /// Drops the lab's tables and loads [`SCHEMA`] (on a user's server, `CREATE EXTENSION` is
    /// tried apart: its absence only leaves the query counts unchecked).
    pub fn load(&self) -> Result<(), DbError> {
        let drop = format!("DROP TABLE IF EXISTS {};\n", LAB_TABLES.join(", "));
        if self.external {
            let body: Vec<String> = schema_statements()
                .into_iter()
                .filter(|s| !s.starts_with("CREATE EXTENSION"))
                .collect();
            self.sql(&format!(
                "BEGIN;\n{drop}{};\nCOMMIT;\nANALYZE;\n",
                body.join(";\n")
            ))?;
        } else {
            self.sql(&format!("{drop}{SCHEMA}\nANALYZE;\n"))?;
        }
        Ok(())
    }

    /// Puts the data back to the state [`SCHEMA`] loads (every row of the three tables reloaded
    /// by its own statements, `items`' ids restarted; `world`'s random numbers drawn anew as the
    /// schema draws them) and resets `pg_stat_statements`. For between cells.
    pub fn reset(&self) -> Result<Duration, DbError> {
        let t0 = Instant::now();
        let inserts: Vec<String> = schema_statements()
            .into_iter()
            .filter(|s| s.starts_with("INSERT"))
            .collect();
        let mut sql = format!(
            "BEGIN;\nTRUNCATE {} RESTART IDENTITY;\n{};\nCOMMIT;\nANALYZE {};\n",
            LAB_TABLES.join(", "),
            inserts.join(";\n"),
            LAB_TABLES.join(", ")
        );
        if self.stats {
            sql.push_str("SELECT pg_stat_statements_reset();\n");
        }
        self.sql(&sql)?;
        Ok(t0.elapsed())
    }

    /// Resets `pg_stat_statements` (an error when it is not available).
    pub fn stat_reset(&self) -> Result<(), DbError> {
        self.sql("SELECT pg_stat_statements_reset();")?;
        Ok(())
    }

    /// Statements recorded since the last reset that mention `table` (the lab's own
    /// `pg_stat_statements` reads excluded): (normalised text, calls, rows).
    pub fn statements_on(&self, table: &str) -> Result<Vec<Statement>, DbError> {
        let rows = self.rows(&format!(
            "SELECT regexp_replace(query, '\\s+', ' ', 'g'), calls, rows FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND query ~* '\\m{table}\\M' AND query !~* 'pg_stat_statements' ORDER BY calls DESC;"
        ))?;
        rows.into_iter()
            .map(|r| {
                let n = |i: usize| -> Result<u64, DbError> {
                    r.get(i)
                        .and_then(|v| v.parse().ok())
                        .ok_or_else(|| err(format!("unexpected pg_stat_statements row {r:?}")))
                };
                Ok(Statement {
                    query: r.first().cloned().unwrap_or_default(),
                    calls: n(1)?,
                    rows: n(2)?,
                })
            })
            .collect()
    }

    /// A dedicated database on the user's own server: refused when it holds tables other than the
    /// lab's (named); the lab's tables are (re)loaded; what the lab cannot control there is
    /// returned in [`Database::notes`].
    pub fn external(url: &str) -> Result<Database, DbError> {
        if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
            return Err(err(format!(
                "--database-url {url:?}: expected a postgresql://USER@HOST:PORT/DATABASE URL"
            )));
        }
        let mut db = Database {
            url: url.to_string(),
            psql: find_psql()?,
            stats: false,
            notes: vec![],
            external: true,
        };
        let foreign = db
            .foreign_tables()
            .map_err(|e| err(format!("--database-url: cannot read its tables: {e}")))?;
        if !foreign.is_empty() {
            return Err(err(format!(
                "--database-url {url}: the database already holds tables that are not the lab's: {} \
                 (the lab drops and reloads world, fortune and items; give it a dedicated, empty database)",
                foreign.join(", ")
            )));
        }
        db.load()
            .map_err(|e| err(format!("--database-url: cannot load the lab's schema: {e}")))?;
        db.notes.push(
            "the database runs on your server: the lab does not start, pin or sample it (no database CPU per request), \
             and other clients of that server are not controlled"
                .into(),
        );
        for setting in ["fsync", "synchronous_commit", "full_page_writes"] {
            if let Ok(v) = db.sql(&format!("SHOW {setting};")) {
                if v.trim() == "on" {
                    db.notes.push(format!(
                        "{setting} is on there and the lab cannot change it (the lab's own cluster runs with it off): writes cost more than in the lab's figures"
                    ));
                }
            }
        }
        let _ = db.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements;");
        match db.stat_reset() {
            Ok(()) => db.stats = true,
            Err(e) => db.notes.push(format!(
                "pg_stat_statements is not available there ({e}): query counts per request are unchecked \
                 (add it to shared_preload_libraries and CREATE EXTENSION pg_stat_statements to check them)"
            )),
        }
        Ok(db)
    }
}

/// A `pg_stat_statements` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub query: String,
    pub calls: u64,
    pub rows: u64,
}

/// How to start the lab's cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct PostgresSpec {
    /// CPUs to pin it to (the load side's, like the upstream).
    pub cpus: Vec<usize>,
    /// Preferred port (another one if in use).
    pub port: Option<u16>,
    /// `max_connections` ([`max_connections_for`]).
    pub max_connections: u32,
    /// The binaries (None: [`find_bin_dir`]).
    pub bin_dir: Option<PathBuf>,
    /// initdb + start + load, at most.
    pub ready_timeout: Duration,
}

impl PostgresSpec {
    /// A cluster on `cpus` sized for targets of up to `max_workers` workers.
    pub fn new(cpus: Vec<usize>, max_workers: u32) -> PostgresSpec {
        PostgresSpec {
            cpus,
            port: None,
            max_connections: max_connections_for(max_workers),
            bin_dir: None,
            ready_timeout: Duration::from_secs(60),
        }
    }

    /// initdb, start, create the database and load [`SCHEMA`].
    pub fn start_postgres(&self) -> Result<Postgres, StartError> {
        let config = |message: String| StartError::Config {
            name: "postgres".into(),
            message,
        };
        let bin = match &self.bin_dir {
            Some(b) => b.clone(),
            None => find_bin_dir().map_err(|e| config(e.0))?,
        };
        let user = unprivileged_user().map_err(config)?;
        let dir =
            make_dir(user).map_err(|e| config(format!("cannot create its directory: {e}")))?;
        let cleanup = CleanupDir::register(dir.clone());
        let started = self.start_in(&bin, &dir, user);
        match started {
            Ok((process, port)) => {
                let db = Database {
                    url: format!("postgresql://{DB_USER}@127.0.0.1:{port}/{DB_NAME}"),
                    psql: bin.join("psql"),
                    stats: true,
                    notes: vec![
                        "the lab's own PostgreSQL cluster runs with fsync, synchronous_commit and full_page_writes off: durability is not what is measured".into(),
                    ],
                    external: false,
                };
                let mut pg = Postgres {
                    process,
                    port,
                    dir,
                    _cleanup: cleanup,
                    db,
                    stopped: None,
                };
                let t0 = Instant::now();
                let admin = format!("postgresql://{DB_USER}@127.0.0.1:{port}/postgres");
                let loaded = run_psql(&pg.db.psql, &admin, &format!("CREATE DATABASE {DB_NAME};"))
                    .and_then(|_| pg.db.load())
                    .and_then(|_| pg.db.stat_reset());
                if let Err(e) = loaded {
                    let tail = pg.process.output().best(10);
                    pg.stop();
                    return Err(config(format!(
                        "started, but the database could not be loaded after {:.1}s: {e}{}",
                        t0.elapsed().as_secs_f64(),
                        tail_text(&tail)
                    )));
                }
                Ok(pg)
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    fn start_in(
        &self,
        bin: &Path,
        dir: &Path,
        user: Option<(u32, u32)>,
    ) -> Result<(Supervised, u16), StartError> {
        let config = |message: String| StartError::Config {
            name: "postgres".into(),
            message,
        };
        let data = dir.join("data");
        let deadline = Instant::now() + self.ready_timeout;
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args([
                "--locale=C.UTF-8",
                "-E",
                "UTF8",
                "-U",
                DB_USER,
                "--auth=trust",
                "-N",
            ])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some((uid, gid)) = user {
            initdb.uid(uid).gid(gid);
        }
        let child = initdb
            .spawn()
            .map_err(|e| config(format!("cannot run {}/initdb: {e}", bin.display())))?;
        let guard = process::ExternalGroup::register(child.id() as i32, "initdb");
        let out = child
            .wait_with_output()
            .map_err(|e| config(format!("initdb: {e}")))?;
        drop(guard);
        if !out.status.success() {
            let text = String::from_utf8_lossy(&out.stderr);
            let lines: Vec<&str> = text.lines().collect();
            let tail: Vec<String> = lines[lines.len().saturating_sub(10)..]
                .iter()
                .map(|l| l.to_string())
                .collect();
            return Err(config(format!(
                "initdb {}{}",
                process::describe_exit(&out.status),
                tail_text(&tail)
            )));
        }
        let mut preferred = self.port;
        for _ in 0..3 {
            let port = match preferred.take() {
                Some(p) if p != 0 && process::port_is_free(p) => p,
                _ => process::free_port()
                    .map_err(|e| config(format!("cannot find a free port: {e}")))?,
            };
            let spec = SpawnSpec {
                name: "postgres".into(),
                command: vec![
                    bin.join("postgres").display().to_string(),
                    "-D".into(),
                    data.display().to_string(),
                    "-p".into(),
                    port.to_string(),
                    "-k".into(),
                    data.display().to_string(),
                    "-c".into(),
                    "listen_addresses=127.0.0.1".into(),
                    "-c".into(),
                    "fsync=off".into(),
                    "-c".into(),
                    "synchronous_commit=off".into(),
                    "-c".into(),
                    "full_page_writes=off".into(),
                    "-c".into(),
                    "shared_preload_libraries=pg_stat_statements".into(),
                    "-c".into(),
                    format!("max_connections={}", self.max_connections),
                    "-c".into(),
                    "logging_collector=off".into(),
                ],
                cwd: dir.to_path_buf(),
                env: vec![],
                cpus: self.cpus.clone(),
                cgroup: true,
            };
            let mut p = Supervised::spawn_ext(
                &spec,
                SpawnExtra {
                    user,
                    stop_signal: Some(libc::SIGINT),
                },
            )?;
            let admin = format!("postgresql://{DB_USER}@127.0.0.1:{port}/postgres");
            loop {
                if let Err(crash) = p.check_alive() {
                    p.stop(Duration::from_millis(100));
                    let said = p.output().best(20);
                    if said
                        .iter()
                        .any(|l| l.to_ascii_lowercase().contains("address already in use"))
                    {
                        break;
                    }
                    return Err(StartError::Exited {
                        name: "postgres".into(),
                        port,
                        crash,
                    });
                }
                let listening = std::net::TcpStream::connect_timeout(
                    &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
                    Duration::from_millis(200),
                )
                .is_ok();
                if listening && run_psql(&bin.join("psql"), &admin, "SELECT 1;").is_ok() {
                    return Ok((p, port));
                }
                if Instant::now() >= deadline {
                    let tail = p.output().best(20);
                    p.stop(Duration::from_secs(5));
                    return Err(config(format!(
                        "did not accept connections on 127.0.0.1:{port} within {:.0}s{}",
                        self.ready_timeout.as_secs_f64(),
                        tail_text(&tail)
                    )));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Err(StartError::NoPort {
            name: "postgres".into(),
            attempts: 3,
        })
    }
}

impl ServiceSpec for PostgresSpec {
    fn start(&self) -> Result<Box<dyn Service>, StartError> {
        Ok(Box::new(self.start_postgres()?))
    }
}

fn tail_text(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("; its last output lines:\n  | {}", tail.join("\n  | "))
    }
}

/// `nobody`'s uid/gid when running as root (postgres refuses root), else None (ourselves).
fn unprivileged_user() -> Result<Option<(u32, u32)>, String> {
    // SAFETY: plain libc calls; getpwnam's static result is copied at once.
    unsafe {
        if libc::geteuid() != 0 {
            return Ok(None);
        }
        let pw = libc::getpwnam(c"nobody".as_ptr());
        if pw.is_null() {
            return Err(
                "running as root, and there is no `nobody` account to run PostgreSQL as (it refuses root)"
                    .into(),
            );
        }
        Ok(Some(((*pw).pw_uid, (*pw).pw_gid)))
    }
}

/// Clusters left by a stackwise process that no longer exists (a hard kill: SIGKILL, a power
/// cut): their postmaster, if still running, gets SIGINT then SIGKILL, and their directory is
/// deleted. Returns how many directories were removed.
pub fn sweep_stale_clusters() -> usize {
    let mut removed = 0;
    for e in std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(owner) = name
            .strip_prefix("stackwise-pg-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        let postmaster = std::fs::read_to_string(e.path().join("data/postmaster.pid"))
            .ok()
            .and_then(|t| t.lines().next().and_then(|l| l.trim().parse::<i32>().ok()));
        if let Some(pid) = postmaster {
            let is_postgres = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&*e.path().to_string_lossy()))
                .unwrap_or(false);
            if is_postgres {
                // SAFETY: a postmaster serving a cluster of a dead stackwise process.
                unsafe {
                    libc::kill(pid, libc::SIGINT);
                }
                let t0 = Instant::now();
                while Path::new(&format!("/proc/{pid}")).exists()
                    && t0.elapsed() < Duration::from_secs(5)
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                // SAFETY: as above; its backends are in its process group.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
        }
        if std::fs::remove_dir_all(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// A fresh `stackwise-pg-<pid>-<n>` under the temp dir, mode 0700, owned by `user`.
fn make_dir(user: Option<(u32, u32)>) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "stackwise-pg-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
    }
    Ok(dir)
}

/// The lab's running cluster.
#[derive(Debug)]
pub struct Postgres {
    process: Supervised,
    port: u16,
    dir: PathBuf,
    _cleanup: CleanupDir,
    db: Database,
    stopped: Option<StopReport>,
}

impl Postgres {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's directory (data dir and socket inside), deleted on stop.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The postmaster's pid.
    pub fn pid(&self) -> i32 {
        self.process.pid()
    }

    /// The database handle (URL, load, reset, statement counts).
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// CPU seconds used by the cluster so far (every backend, exited ones included where a
    /// cgroup is available): the difference over a window ÷ its requests is the database's CPU per
    /// request.
    pub fn cpu_seconds(&self) -> std::io::Result<f64> {
        self.process.tree().cpu_seconds()
    }
}

impl Service for Postgres {
    fn name(&self) -> &str {
        "postgres"
    }
    fn url(&self) -> String {
        self.db.url.clone()
    }
    fn env(&self) -> Vec<(String, String)> {
        vec![("DATABASE_URL".into(), self.db.url.clone())]
    }
    fn tree(&self) -> ProcessTree {
        self.process.tree()
    }
    fn cpus(&self) -> Vec<usize> {
        self.process.cpus().to_vec()
    }
    fn check_alive(&mut self) -> Result<(), Crash> {
        self.process.check_alive()
    }
    /// SIGINT (fast shutdown), SIGKILL after 10 s, then the directory is deleted.
    fn stop(&mut self) -> StopReport {
        if let Some(r) = &self.stopped {
            return r.clone();
        }
        let report = self.process.stop(Duration::from_secs(10));
        let _ = std::fs::remove_dir_all(&self.dir);
        self.stopped = Some(report.clone());
        report
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        Service::stop(self);
    }
}

/// The database of a run: the lab's own cluster, or the user's (`--database-url`).
#[derive(Debug)]
pub enum RunDatabase {
    Lab(Box<Postgres>),
    External(Database),
}

/// Why the run's database did not start: the user's (`--database-url`) was refused, or the
/// lab's cluster did not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunDatabaseError {
    #[error(transparent)]
    External(#[from] DbError),
    #[error(transparent)]
    Lab(#[from] StartError),
}

impl RunDatabase {
    /// `url` given: the user's database ([`Database::external`]); else the lab's cluster on
    /// `cpus` (the load side's), sized for targets of up to `max_workers` workers.
    pub fn start(
        url: Option<&str>,
        cpus: Vec<usize>,
        max_workers: u32,
    ) -> Result<RunDatabase, RunDatabaseError> {
        Ok(match url {
            Some(u) => Database::external(u).map(RunDatabase::External)?,
            None => PostgresSpec::new(cpus, max_workers)
                .start_postgres()
                .map(|p| RunDatabase::Lab(Box::new(p)))?,
        })
    }

    pub fn database(&self) -> &Database {
        match self {
            RunDatabase::Lab(p) => p.database(),
            RunDatabase::External(d) => d,
        }
    }

    /// `DATABASE_URL` for the target.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("DATABASE_URL".into(), self.database().url.clone())]
    }

    /// The lab's cluster, when it is the lab's (for its CPU and process tree).
    pub fn cluster(&self) -> Option<&Postgres> {
        match self {
            RunDatabase::Lab(p) => Some(p),
            RunDatabase::External(_) => None,
        }
    }

    /// Ended? (the user's server is not watched).
    pub fn check_alive(&mut self) -> Result<(), Crash> {
        match self {
            RunDatabase::Lab(p) => p.check_alive(),
            RunDatabase::External(_) => Ok(()),
        }
    }

    /// Stops the lab's cluster and deletes its directory (the user's database is left as it is).
    pub fn stop(&mut self) -> Option<StopReport> {
        match self {
            RunDatabase::Lab(p) => Some(Service::stop(p.as_mut())),
            RunDatabase::External(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_sizes_follow_the_contract() {
        assert_eq!(db_pool(1, 1, false), 16);
        assert_eq!(db_pool(2, 1, false), 8);
        assert_eq!(db_pool(3, 1, false), 6);
        assert_eq!(db_pool(5, 4, true), 4); // ceil(16/5) = 4, 4 threads
        assert_eq!(db_pool(3, 4, true), 4); // ceil(16/3) = 6, capped at 4 threads
        assert_eq!(db_pool(5, 1, true), 1); // a sync worker serves one request at a time
        assert_eq!(db_pool(40, 1, false), 1);
        assert!(max_connections_for(5) > 5 * 4);
        assert!(max_connections_for(1) >= 17);
    }

    #[test]
    fn clusters_of_dead_processes_are_swept_and_live_ones_kept() {
        // A pid that is surely gone: a child that has been reaped.
        let mut c = Command::new("true").spawn().unwrap();
        let dead = c.id();
        c.wait().unwrap();
        let tmp = std::env::temp_dir();
        let stale = tmp.join(format!("stackwise-pg-{dead}-7"));
        let live = tmp.join(format!("stackwise-pg-{}-999", std::process::id()));
        for d in [&stale, &live] {
            std::fs::create_dir_all(d.join("data")).unwrap();
            // A postmaster.pid naming a live process that is not that cluster's postgres.
            std::fs::write(
                d.join("data/postmaster.pid"),
                format!("{}\n", std::process::id()),
            )
            .unwrap();
        }
        assert!(sweep_stale_clusters() >= 1);
        assert!(!stale.exists());
        assert!(live.exists());
        std::fs::remove_dir_all(&live).unwrap();
    }

    #[test]
    fn the_schema_splits_into_its_statements() {
        let s = schema_statements();
        let kinds: Vec<&str> = s
            .iter()
            .map(|x| x.split_whitespace().take(2).last().unwrap_or(""))
            .collect();
        assert_eq!(
            kinds,
            [
                "TABLE",
                "INTO",
                "TABLE",
                "INTO",
                "TABLE",
                "INTO",
                "EXTENSION"
            ],
            "{s:#?}"
        );
        // The fortune with a `;` inside its text stays whole.
        assert!(
            s[3].contains("</script>') ,") || s[3].contains("</script>'),"),
            "{}",
            s[3]
        );
        assert!(
            s[3].ends_with("'フレームワークのベンチマーク')"),
            "{}",
            s[3]
        );
    }
}
