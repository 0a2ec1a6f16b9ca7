//! [`Store`]: the lab's SQLite database. Writes happen the moment something is measured (a run is
//! begun, a target's per-target measures, each cell with its repeats), each in one transaction, so
//! an interrupted suite keeps everything it finished. Reads return the [`RunSummary`] read model.
//!
//! The database is in WAL mode with a busy timeout, so that the CLI and a web UI can use it at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::model::{
    CellStatus, CellSummary, LadderPoint, Machine, RunSummary, Spread, TargetSummary,
};
use crate::schema;

/// What can go wrong with the store. Messages name the database file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the database {path} has schema version {found}, newer than this stackwise understands \
         ({supported}); use a newer stackwise, or another database with --db"
    )]
    TooNew {
        path: String,
        found: u32,
        supported: u32,
    },
    #[error(
        "the database {path} is damaged or is not a stackwise database ({source}); move it aside \
         (or restore a backup) and run again to start a new one, or use another database with --db"
    )]
    Corrupt {
        path: String,
        source: rusqlite::Error,
    },
    #[error("cannot create the directory for the database {path}: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error("database {path}: {source}")]
    Sql {
        path: String,
        source: rusqlite::Error,
    },
    #[error("database {path}: stored JSON is unreadable ({what}): {source}")]
    Json {
        path: String,
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("database {path}: no run with id {id}")]
    NoSuchRun { path: String, id: i64 },
    #[error("no home data directory is known on this system; pass --db PATH")]
    NoDataDir,
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// One planned cell of a run: what `--resume` compares with what was stored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PlannedCell {
    pub target: String,
    pub workload: String,
}

/// What a run is, before anything is measured.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub machine: Machine,
    pub settings: BTreeMap<String, String>,
    pub plan: Vec<PlannedCell>,
}

/// The per-target measures of a run, as written by the lab.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRecord {
    pub name: String,
    pub language: String,
    pub framework: String,
    pub versions: BTreeMap<String, String>,
    pub config: BTreeMap<String, String>,
    /// The per-target measures by metric id of the workloads registry, each with its values in
    /// order: `cold_start_ms` (each fresh start's spawn → first correct response), `idle_pss_mb`,
    /// `install_bytes`, `install_packages`.
    pub figures: BTreeMap<String, Vec<f64>>,
    pub failure: Option<String>,
    /// The last lines of the target's stderr, when it failed.
    pub stderr_tail: Option<String>,
}

impl TargetRecord {
    /// Sets (or, with `None`, removes) a per-target measure of one value.
    pub fn set(&mut self, id: &str, value: Option<f64>) {
        match value {
            Some(v) => self.figures.insert(id.to_string(), vec![v]),
            None => self.figures.remove(id),
        };
    }

    /// The (first) value of a per-target measure.
    pub fn value(&self, id: &str) -> Option<f64> {
        self.figures.get(id).and_then(|v| v.first()).copied()
    }
}

/// One measured cell with its repeats, as written by the lab.
#[derive(Debug, Clone, PartialEq)]
pub struct CellRecord {
    pub target: String,
    pub workload: String,
    pub params: BTreeMap<String, String>,
    pub status: CellStatus,
    pub warnings: Vec<String>,
    pub lower_bound: bool,
    pub slo_p99_ms: Option<f64>,
    /// The capacity found (capacity workloads): the median over repeats is shown.
    pub capacity_rps: Option<f64>,
    pub ladder: Vec<LadderPoint>,
    pub repeats: Vec<RepeatRecord>,
    /// Wall-clock seconds the cell took (all repeats).
    pub elapsed_s: Option<f64>,
}

/// One repeat of a cell: its figures and the raw material they came from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RepeatRecord {
    /// No errors and no wrong answers: only clean repeats make the cell's figures.
    pub clean: bool,
    /// The repeat's figures by metric id of the workloads registry (`throughput_rps`, `p99_ms`,
    /// `connections_held`…).
    pub metrics: BTreeMap<String, f64>,
    /// Busy fraction of the load engine's threads / of the upstream's CPU (0–1).
    pub engine_busy: Option<f64>,
    pub upstream_busy: Option<f64>,
    /// Steal time over the repeat, percent of CPU time.
    pub steal_pct: Option<f64>,
    pub capacity_rps: Option<f64>,
    /// The engine's full report(s) as JSON (a Report, or an object/array of them).
    pub report_json: String,
    /// Server samples (CPU and PSS over time) as JSON.
    pub samples_json: String,
}

impl RepeatRecord {
    /// The repeat's value of a metric.
    pub fn metric(&self, id: &str) -> Option<f64> {
        self.metrics.get(id).copied()
    }

    /// Sets (or, with `None`, removes) the repeat's value of a metric.
    pub fn set(&mut self, id: &str, value: Option<f64>) {
        match value {
            Some(v) => self.metrics.insert(id.to_string(), v),
            None => self.metrics.remove(id),
        };
    }

    /// The repeat with these figures set (`None` values are left out).
    pub fn with(mut self, figures: &[(&str, Option<f64>)]) -> RepeatRecord {
        for (id, v) in figures {
            self.set(id, *v);
        }
        self
    }
}

/// One line of `list_runs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunListing {
    pub run_id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub planned_cells: usize,
    pub stored_cells: usize,
    pub targets: Vec<String>,
}

/// The lab's database.
pub struct Store {
    conn: Connection,
    path: String,
}

/// An SQLite error on the database `path`: a damaged file or one that is not a database is
/// [`StoreError::Corrupt`] (with what to do), anything else [`StoreError::Sql`].
fn sql_error(path: &str, source: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match source.sqlite_error_code() {
        Some(NotADatabase | DatabaseCorrupt) => StoreError::Corrupt {
            path: path.to_string(),
            source,
        },
        _ => StoreError::Sql {
            path: path.to_string(),
            source,
        },
    }
}

/// `<data dir>/stackwise/lab.sqlite3`, e.g. `~/.local/share/stackwise/lab.sqlite3` on Linux.
pub fn default_path() -> Result<PathBuf> {
    let dir = dirs::data_dir().ok_or(StoreError::NoDataDir)?;
    Ok(dir.join("stackwise").join("lab.sqlite3"))
}

/// RFC 3339 UTC, to the second: the store's timestamp format.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

impl Store {
    /// Opens (creating it and its directory if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
                path: path.display().to_string(),
                source,
            })?;
        }
        let name = path.display().to_string();
        let conn = Connection::open(path).map_err(|source| StoreError::Sql {
            path: name.clone(),
            source,
        })?;
        Store::init(conn, name, true)
    }

    /// A private in-memory database (tests, dry runs).
    pub fn open_in_memory() -> Result<Store> {
        let name = ":memory:".to_string();
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Sql {
            path: name.clone(),
            source,
        })?;
        Store::init(conn, name, false)
    }

    fn init(mut conn: Connection, path: String, wal: bool) -> Result<Store> {
        let sql = |source| sql_error(&path, source);
        conn.busy_timeout(Duration::from_secs(10)).map_err(sql)?;
        let found = schema::version(&conn).map_err(sql)?;
        if found > schema::CURRENT_VERSION {
            return Err(StoreError::TooNew {
                path,
                found,
                supported: schema::CURRENT_VERSION,
            });
        }
        if wal {
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(sql)?;
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(sql)?;
        }
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql)?;
        schema::migrate(&mut conn, found, schema::CURRENT_VERSION).map_err(sql)?;
        Ok(Store { conn, path })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32> {
        schema::version(&self.conn).map_err(|e| self.sql(e))
    }

    fn sql(&self, source: rusqlite::Error) -> StoreError {
        sql_error(&self.path, source)
    }

    fn json_err(&self, what: &'static str, source: serde_json::Error) -> StoreError {
        StoreError::Json {
            path: self.path.clone(),
            what,
            source,
        }
    }

    fn parse_json<T: serde::de::DeserializeOwned>(&self, what: &'static str, s: &str) -> Result<T> {
        serde_json::from_str(s).map_err(|e| self.json_err(what, e))
    }

    /// Records the start of a run and returns its id.
    pub fn begin_run(&self, run: &NewRun) -> Result<i64> {
        let machine =
            serde_json::to_string(&run.machine).map_err(|e| self.json_err("machine", e))?;
        let settings =
            serde_json::to_string(&run.settings).map_err(|e| self.json_err("settings", e))?;
        let plan = serde_json::to_string(&run.plan).map_err(|e| self.json_err("plan", e))?;
        self.conn
            .execute(
                "INSERT INTO runs (started_at, machine_json, settings_json, plan_json) VALUES (?1, ?2, ?3, ?4)",
                params![now_rfc3339(), machine, settings, plan],
            )
            .map_err(|e| self.sql(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Marks a run finished (every planned cell stored or given up on).
    pub fn finish_run(&self, run_id: i64) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE runs SET finished_at = ?1 WHERE id = ?2",
                params![now_rfc3339(), run_id],
            )
            .map_err(|e| self.sql(e))?;
        self.expect_run(n, run_id)
    }

    fn expect_run(&self, changed: usize, id: i64) -> Result<()> {
        if changed == 0 {
            Err(StoreError::NoSuchRun {
                path: self.path.clone(),
                id,
            })
        } else {
            Ok(())
        }
    }

    /// Adds a run-level warning (kept once: an identical warning is not repeated).
    pub fn add_run_warning(&self, run_id: i64, warning: &str) -> Result<()> {
        let current: String = self
            .conn
            .query_row(
                "SELECT warnings_json FROM runs WHERE id = ?1",
                [run_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?
            .ok_or_else(|| StoreError::NoSuchRun {
                path: self.path.clone(),
                id: run_id,
            })?;
        let mut list: Vec<String> = self.parse_json("run warnings", &current)?;
        if !list.iter().any(|w| w == warning) {
            list.push(warning.to_string());
            let text =
                serde_json::to_string(&list).map_err(|e| self.json_err("run warnings", e))?;
            self.conn
                .execute(
                    "UPDATE runs SET warnings_json = ?1 WHERE id = ?2",
                    params![text, run_id],
                )
                .map_err(|e| self.sql(e))?;
        }
        Ok(())
    }

    /// Replaces the plan of a run (e.g. `--resume` with the same plan after a target list change).
    pub fn set_plan(&self, run_id: i64, plan: &[PlannedCell]) -> Result<()> {
        let text = serde_json::to_string(plan).map_err(|e| self.json_err("plan", e))?;
        let n = self
            .conn
            .execute(
                "UPDATE runs SET plan_json = ?1, finished_at = NULL WHERE id = ?2",
                params![text, run_id],
            )
            .map_err(|e| self.sql(e))?;
        self.expect_run(n, run_id)
    }

    /// Saves (or replaces) a target's per-target measures in a run.
    pub fn save_target(&self, run_id: i64, t: &TargetRecord) -> Result<()> {
        let j = |what, v: &BTreeMap<String, String>| {
            serde_json::to_string(v).map_err(|e| self.json_err(what, e))
        };
        let path = self.path.clone();
        let sql = |source| StoreError::Sql {
            path: path.clone(),
            source,
        };
        let versions = j("versions", &t.versions)?;
        let config = j("config", &t.config)?;
        let tx = self.conn.unchecked_transaction().map_err(sql)?;
        tx.execute(
            "INSERT OR REPLACE INTO run_targets (run_id, name, language, framework, versions_json,
               config_json, failure, stderr_tail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                run_id,
                t.name,
                t.language,
                t.framework,
                versions,
                config,
                t.failure,
                t.stderr_tail,
            ],
        )
        .map_err(sql)?;
        tx.execute(
            "DELETE FROM target_figures WHERE run_id = ?1 AND target = ?2",
            params![run_id, t.name],
        )
        .map_err(sql)?;
        for (metric, values) in &t.figures {
            // A value that is not a number (NaN, ±∞: a division by a zero count) is no figure:
            // SQLite would store NaN as NULL and refuse the row, ending the run.
            for (i, v) in values.iter().enumerate().filter(|(_, v)| v.is_finite()) {
                tx.execute(
                    "INSERT INTO target_figures (run_id, target, metric, idx, value)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![run_id, t.name, metric, i as i64, v],
                )
                .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    /// Saves (or replaces) one cell and all its repeats, atomically.
    pub fn save_cell(&mut self, run_id: i64, c: &CellRecord) -> Result<()> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sql {
            path: path.clone(),
            source,
        };
        let json = |what, r: serde_json::Result<String>| {
            r.map_err(|source| StoreError::Json {
                path: path.clone(),
                what,
                source,
            })
        };
        let params_json = json("params", serde_json::to_string(&c.params))?;
        let warnings_json = json("warnings", serde_json::to_string(&c.warnings))?;
        let (status, reason) = match &c.status {
            CellStatus::Ok => ("ok", None),
            CellStatus::Flagged(r) => ("flagged", Some(r.as_str())),
            CellStatus::Failed(r) => ("failed", Some(r.as_str())),
        };
        let tx = self.conn.transaction().map_err(sql)?;
        tx.execute(
            "DELETE FROM cells WHERE run_id = ?1 AND target = ?2 AND workload = ?3",
            params![run_id, c.target, c.workload],
        )
        .map_err(sql)?;
        tx.execute(
            "INSERT INTO cells (run_id, target, workload, params_json, status, reason, warnings_json,
               lower_bound, slo_p99_ms, capacity_rps, measured_at, elapsed_s)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                run_id,
                c.target,
                c.workload,
                params_json,
                status,
                reason,
                warnings_json,
                c.lower_bound,
                c.slo_p99_ms,
                c.capacity_rps,
                now_rfc3339(),
                c.elapsed_s,
            ],
        )
        .map_err(sql)?;
        let cell_id = tx.last_insert_rowid();
        // A value that is not a number (NaN, ±∞: a division by a zero count) is no figure, as in
        // `save_target`: stored, SQLite would make NaN a NULL and refuse the row, which stopped a
        // run (a cell with 17 req/s under heavy load, 2026-12-06) and lost nothing but the rest.
        let figure = |repeat: Option<i64>, metric: &str, rung: Option<i64>, value: f64| {
            if !value.is_finite() {
                return Ok(());
            }
            tx.execute(
                "INSERT INTO figures (cell_id, repeat, metric, rung, value) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![cell_id, repeat, metric, rung, value],
            )
            .map(|_| ())
        };
        for (i, r) in c.repeats.iter().enumerate() {
            tx.execute(
                "INSERT INTO repeats (cell_id, idx, clean, engine_busy, upstream_busy, steal_pct,
                   capacity_rps, report_json, samples_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    cell_id,
                    i as i64,
                    r.clean,
                    r.engine_busy,
                    r.upstream_busy,
                    r.steal_pct,
                    r.capacity_rps,
                    r.report_json,
                    r.samples_json,
                ],
            )
            .map_err(sql)?;
            for (metric, v) in &r.metrics {
                figure(Some(i as i64), metric, None, *v).map_err(sql)?;
            }
        }
        for (k, p) in c.ladder.iter().enumerate() {
            let k = Some(k as i64);
            for (metric, v) in [
                ("offered_rps", Some(p.offered_rps)),
                ("achieved_rps", Some(p.achieved_rps)),
                ("rung_p50_ms", Some(p.p50_ms)),
                ("rung_p99_ms", Some(p.p99_ms)),
                ("rung_errors", Some(p.errors as f64)),
                ("server_cores", p.server_cores),
            ] {
                if let Some(v) = v {
                    figure(None, metric, k, v).map_err(sql)?;
                }
            }
        }
        tx.commit().map_err(sql)
    }

    /// Stores a [`RunSummary`] read from elsewhere (an exported run, a test fixture) as a new run
    /// and returns its id: its times, machine, settings, warnings, targets and cells, the plan being
    /// its cells. Each cell's repeats are rebuilt from its spreads (the i-th value of every figure
    /// makes the i-th repeat; repeats without values are stored as not clean), so reading the run
    /// back gives the same summary but for `run_id`. No engine report comes with a summary, so an
    /// imported run has no latency curves or per-second series.
    pub fn import_run(&mut self, run: &RunSummary) -> Result<i64> {
        let plan: Vec<PlannedCell> = run
            .cells
            .iter()
            .map(|c| PlannedCell {
                target: c.target.clone(),
                workload: c.workload.clone(),
            })
            .collect();
        let id = self.begin_run(&NewRun {
            machine: run.machine.clone(),
            settings: run.settings.clone(),
            plan,
        })?;
        let warnings =
            serde_json::to_string(&run.warnings).map_err(|e| self.json_err("run warnings", e))?;
        self.conn
            .execute(
                "UPDATE runs SET started_at = ?1, finished_at = ?2, warnings_json = ?3 WHERE id = ?4",
                params![run.started_at, run.finished_at, warnings, id],
            )
            .map_err(|e| self.sql(e))?;
        for t in &run.targets {
            self.save_target(
                id,
                &TargetRecord {
                    name: t.name.clone(),
                    language: t.language.clone(),
                    framework: t.framework.clone(),
                    versions: t.versions.clone(),
                    config: t.config.clone(),
                    figures: t
                        .metrics
                        .iter()
                        .map(|(k, v)| (k.clone(), v.values.clone()))
                        .collect(),
                    failure: t.failure.clone(),
                    stderr_tail: None,
                },
            )?;
        }
        for c in &run.cells {
            // Figures over the clean repeats are laid on the first repeats by index; figures
            // over every repeat (held connections…) may cover more repeats than the clean ones.
            let registry = workloads::registry();
            let over_all = |id: &str| {
                registry
                    .metric(id)
                    .is_some_and(|m| m.over == workloads::Over::AllRepeats)
            };
            let with_values = c
                .metrics
                .iter()
                .filter(|(id, _)| !over_all(id))
                .map(|(_, s)| s.values.len())
                .max()
                .unwrap_or(0);
            let with_all = c
                .metrics
                .iter()
                .filter(|(id, _)| over_all(id))
                .map(|(_, s)| s.values.len())
                .max()
                .unwrap_or(0);
            let repeats = (0..with_values.max(with_all).max(c.repeats as usize))
                .map(|i| RepeatRecord {
                    clean: i < with_values,
                    metrics: c
                        .metrics
                        .iter()
                        .filter_map(|(id, s)| Some((id.clone(), *s.values.get(i)?)))
                        .collect(),
                    ..RepeatRecord::default()
                })
                .collect();
            self.save_cell(
                id,
                &CellRecord {
                    target: c.target.clone(),
                    workload: c.workload.clone(),
                    params: c.params.clone(),
                    status: c.status.clone(),
                    warnings: c.warnings.clone(),
                    lower_bound: c.lower_bound,
                    slo_p99_ms: c.slo_p99_ms,
                    capacity_rps: c.capacity_rps,
                    ladder: c.ladder.clone(),
                    repeats,
                    elapsed_s: None,
                },
            )?;
        }
        Ok(id)
    }

    /// The id of the most recent run, if any.
    pub fn latest_run_id(&self) -> Result<Option<i64>> {
        self.conn
            .query_row("SELECT max(id) FROM runs", [], |r| r.get(0))
            .map_err(|e| self.sql(e))
    }

    /// The most recent unfinished run, if any (what `--resume` continues).
    pub fn latest_unfinished_run_id(&self) -> Result<Option<i64>> {
        self.conn
            .query_row(
                "SELECT max(id) FROM runs WHERE finished_at IS NULL",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))
    }

    /// The most recent run, summarised.
    pub fn latest_run(&self) -> Result<Option<RunSummary>> {
        match self.latest_run_id()? {
            Some(id) => self.run(id).map(Some),
            None => Ok(None),
        }
    }

    /// The settings a run was started with.
    pub fn run_settings(&self, run_id: i64) -> Result<BTreeMap<String, String>> {
        let text: String = self
            .conn
            .query_row(
                "SELECT settings_json FROM runs WHERE id = ?1",
                [run_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?
            .ok_or_else(|| StoreError::NoSuchRun {
                path: self.path.clone(),
                id: run_id,
            })?;
        self.parse_json("settings", &text)
    }

    /// The planned cells of a run.
    pub fn plan(&self, run_id: i64) -> Result<Vec<PlannedCell>> {
        let text: String = self
            .conn
            .query_row("SELECT plan_json FROM runs WHERE id = ?1", [run_id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.sql(e))?
            .ok_or_else(|| StoreError::NoSuchRun {
                path: self.path.clone(),
                id: run_id,
            })?;
        self.parse_json("plan", &text)
    }

    /// The planned cells of a run that have no stored result yet, in plan order.
    pub fn missing_cells(&self, run_id: i64) -> Result<Vec<PlannedCell>> {
        let plan = self.plan(run_id)?;
        let done: std::collections::BTreeSet<PlannedCell> = self.query(
            "SELECT target, workload FROM cells WHERE run_id = ?1",
            [run_id],
            |r| {
                Ok(PlannedCell {
                    target: r.get(0)?,
                    workload: r.get(1)?,
                })
            },
        )?;
        Ok(plan.into_iter().filter(|c| !done.contains(c)).collect())
    }

    /// The targets whose per-target measures are stored for a run.
    pub fn stored_targets(&self, run_id: i64) -> Result<Vec<String>> {
        self.query(
            "SELECT name FROM run_targets WHERE run_id = ?1 ORDER BY name",
            [run_id],
            |r| r.get(0),
        )
    }

    /// Mean seconds per stored cell of each workload over all runs: what `--plan` estimates with.
    pub fn mean_cell_seconds(&self) -> Result<BTreeMap<String, f64>> {
        self.query(
            "SELECT workload, avg(elapsed_s) FROM cells
             WHERE elapsed_s IS NOT NULL GROUP BY workload",
            [],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?)),
        )
    }

    /// All runs, newest first.
    pub fn list_runs(&self) -> Result<Vec<RunListing>> {
        let rows: Vec<(i64, String, Option<String>, String, i64)> = self.query(
            "SELECT r.id, r.started_at, r.finished_at, r.plan_json,
                        (SELECT count(*) FROM cells c WHERE c.run_id = r.id)
                 FROM runs r ORDER BY r.id DESC",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?;
        rows.into_iter()
            .map(|(run_id, started_at, finished_at, plan, stored)| {
                let plan: Vec<PlannedCell> = self.parse_json("plan", &plan)?;
                let mut targets: Vec<String> = plan.iter().map(|c| c.target.clone()).collect();
                targets.dedup();
                let mut seen = std::collections::BTreeSet::new();
                targets.retain(|t| seen.insert(t.clone()));
                Ok(RunListing {
                    run_id,
                    started_at,
                    finished_at,
                    planned_cells: plan.len(),
                    stored_cells: stored as usize,
                    targets,
                })
            })
            .collect()
    }

    /// One run, summarised: figures over repeats are spreads over the *clean* repeats (no errors,
    /// no wrong answers); a cell with no clean repeat shows the spread of all its repeats and its
    /// status says why (it is flagged).
    pub fn run(&self, run_id: i64) -> Result<RunSummary> {
        type RunRow = (String, Option<String>, String, String, String);
        let row: Option<RunRow> = self
            .conn
            .query_row(
                "SELECT started_at, finished_at, machine_json, settings_json, warnings_json FROM runs WHERE id = ?1",
                [run_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        let Some((started_at, finished_at, machine, settings, warnings)) = row else {
            return Err(StoreError::NoSuchRun {
                path: self.path.clone(),
                id: run_id,
            });
        };
        Ok(RunSummary {
            run_id,
            started_at,
            finished_at,
            machine: self.parse_json("machine", &machine)?,
            settings: self.parse_json("settings", &settings)?,
            targets: self.targets_of(run_id)?,
            cells: self.cells_of(run_id)?,
            warnings: self.parse_json("run warnings", &warnings)?,
        })
    }

    fn targets_of(&self, run_id: i64) -> Result<Vec<TargetSummary>> {
        type TRow = (
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<TRow> = self.query(
            "SELECT name, language, framework, versions_json, config_json, failure, stderr_tail
                 FROM run_targets WHERE run_id = ?1 ORDER BY name",
            [run_id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            },
        )?;
        let figures: Vec<(String, String, f64)> = self.query(
            "SELECT target, metric, value FROM target_figures WHERE run_id = ?1
             ORDER BY target, metric, idx",
            [run_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        rows.into_iter()
            .map(
                |(name, language, framework, versions, config, failure, tail)| {
                    let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
                    for (_, metric, v) in figures.iter().filter(|(t, _, _)| *t == name) {
                        values.entry(metric.clone()).or_default().push(*v);
                    }
                    let failure = match (failure, tail) {
                        (Some(f), Some(t)) if !t.trim().is_empty() => Some(format!(
                            "{f}\n--- last lines of stderr ---\n{}",
                            t.trim_end()
                        )),
                        (f, _) => f,
                    };
                    Ok(TargetSummary {
                        name,
                        language,
                        framework,
                        versions: self.parse_json("versions", &versions)?,
                        config: self.parse_json("config", &config)?,
                        metrics: values
                            .into_iter()
                            .filter_map(|(k, v)| Some((k, Spread::of(&v)?)))
                            .collect(),
                        failure,
                    })
                },
            )
            .collect()
    }

    fn cells_of(&self, run_id: i64) -> Result<Vec<CellSummary>> {
        type CRow = (
            i64,
            String,
            String,
            String,
            String,
            Option<String>,
            String,
            bool,
            Option<f64>,
            Option<f64>,
        );
        let rows: Vec<CRow> = self.query(
            "SELECT id, target, workload, params_json, status, reason, warnings_json, lower_bound,
                        slo_p99_ms, capacity_rps
                 FROM cells WHERE run_id = ?1 ORDER BY id",
            [run_id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            },
        )?;
        let registry = workloads::registry();
        let mut cells = Vec::with_capacity(rows.len());
        for (id, target, workload, params, status, reason, warnings, lower_bound, slo, capacity) in
            rows
        {
            let reason = reason.unwrap_or_default();
            let status = match status.as_str() {
                "ok" => CellStatus::Ok,
                "flagged" => CellStatus::Flagged(reason),
                _ => CellStatus::Failed(reason),
            };
            let repeats = self.repeats_of(id)?;
            let clean: Vec<&RepeatRecord> = repeats.iter().filter(|r| r.clean).collect();
            let used: Vec<&RepeatRecord> = if clean.is_empty() {
                repeats.iter().collect()
            } else {
                clean
            };
            let mut ids: Vec<&String> = repeats.iter().flat_map(|r| r.metrics.keys()).collect();
            ids.sort();
            ids.dedup();
            let metrics = ids
                .into_iter()
                .filter_map(|m| {
                    let over_all = registry
                        .metric(m)
                        .is_some_and(|x| x.over == workloads::Over::AllRepeats);
                    let values: Vec<f64> = if over_all {
                        repeats.iter().filter_map(|r| r.metric(m)).collect()
                    } else {
                        used.iter().filter_map(|r| r.metric(m)).collect()
                    };
                    Some((m.clone(), Spread::of(&values)?))
                })
                .collect();
            cells.push(CellSummary {
                target,
                workload,
                status,
                repeats: repeats.len() as u32,
                metrics,
                ladder: self.ladder_of(id)?,
                capacity_rps: capacity,
                slo_p99_ms: slo,
                lower_bound,
                params: self.parse_json("params", &params)?,
                warnings: self.parse_json("cell warnings", &warnings)?,
            });
        }
        Ok(cells)
    }

    /// A cell's ladder, from its rung rows.
    fn ladder_of(&self, cell_id: i64) -> Result<Vec<LadderPoint>> {
        let rows: Vec<(i64, String, f64)> = self.query(
            "SELECT rung, metric, value FROM figures
             WHERE cell_id = ?1 AND repeat IS NULL AND rung IS NOT NULL ORDER BY rung",
            [cell_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut ladder: Vec<(i64, LadderPoint)> = Vec::new();
        for (rung, metric, v) in rows {
            if ladder.last().is_none_or(|(k, _)| *k != rung) {
                ladder.push((
                    rung,
                    LadderPoint {
                        offered_rps: 0.0,
                        achieved_rps: 0.0,
                        p50_ms: 0.0,
                        p99_ms: 0.0,
                        errors: 0,
                        server_cores: None,
                    },
                ));
            }
            let p = &mut ladder.last_mut().expect("pushed").1;
            match metric.as_str() {
                "offered_rps" => p.offered_rps = v,
                "achieved_rps" => p.achieved_rps = v,
                "rung_p50_ms" => p.p50_ms = v,
                "rung_p99_ms" => p.p99_ms = v,
                "rung_errors" => p.errors = v as u64,
                "server_cores" => p.server_cores = Some(v),
                _ => {}
            }
        }
        Ok(ladder.into_iter().map(|(_, p)| p).collect())
    }

    /// The stored repeats of a cell of a run (raw reports included), in order.
    pub fn cell_repeats(
        &self,
        run_id: i64,
        target: &str,
        workload: &str,
    ) -> Result<Vec<RepeatRecord>> {
        let id: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM cells WHERE run_id = ?1 AND target = ?2 AND workload = ?3",
                params![run_id, target, workload],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        match id {
            Some(id) => self.repeats_of(id),
            None => Ok(Vec::new()),
        }
    }

    /// Runs a query and collects its rows; errors name the database file.
    fn query<T, C, P, F>(&self, sql: &str, params: P, f: F) -> Result<C>
    where
        P: rusqlite::Params,
        F: FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
        C: FromIterator<T>,
    {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params, f)
            .map_err(|e| self.sql(e))?
            .collect::<rusqlite::Result<C>>()
            .map_err(|e| self.sql(e));
        rows
    }

    fn repeats_of(&self, cell_id: i64) -> Result<Vec<RepeatRecord>> {
        let (idx, mut repeats): (Vec<i64>, Vec<RepeatRecord>) = self
            .query::<_, Vec<_>, _, _>(
                "SELECT idx, clean, engine_busy, upstream_busy, steal_pct, capacity_rps,
                        report_json, samples_json
                 FROM repeats WHERE cell_id = ?1 ORDER BY idx",
                [cell_id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        RepeatRecord {
                            clean: r.get(1)?,
                            metrics: BTreeMap::new(),
                            engine_busy: r.get(2)?,
                            upstream_busy: r.get(3)?,
                            steal_pct: r.get(4)?,
                            capacity_rps: r.get(5)?,
                            report_json: r.get(6)?,
                            samples_json: r.get(7)?,
                        },
                    ))
                },
            )?
            .into_iter()
            .unzip();
        let figures: Vec<(i64, String, f64)> = self.query(
            "SELECT repeat, metric, value FROM figures
             WHERE cell_id = ?1 AND repeat IS NOT NULL AND rung IS NULL",
            [cell_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        for (repeat, metric, v) in figures {
            if let Some(i) = idx.iter().position(|x| *x == repeat) {
                repeats[i].metrics.insert(metric, v);
            }
        }
        Ok(repeats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_imported_run_reads_back_as_it_was() {
        let mut s = Store::open_in_memory().unwrap();
        for text in [
            include_str!("../tests/fixtures/quick-run.json"),
            include_str!("../tests/fixtures/quick-run-busy.json"),
            include_str!("../tests/fixtures/full-run.json"),
        ] {
            let run: RunSummary = serde_json::from_str(text).unwrap();
            let id = s.import_run(&run).unwrap();
            let mut back = s.run(id).unwrap();
            assert_eq!(back.run_id, id);
            back.run_id = run.run_id;
            assert_eq!(back, run);
        }
        let listed = s.list_runs().unwrap();
        assert_eq!(listed.len(), 3);
        assert!(listed.iter().all(|r| r.stored_cells == r.planned_cells));
    }

    pub(crate) fn machine() -> Machine {
        Machine {
            cpu_model: "Test CPU".into(),
            cores: 2,
            kernel: "6.1.0".into(),
            os: "Debian 12".into(),
            memory_mb: 4096,
            runtimes: BTreeMap::from([("node".into(), "20.20.2".into())]),
            server_cpus: vec![1],
            client_cpus: vec![0],
        }
    }

    fn plan() -> Vec<PlannedCell> {
        ["rust-axum", "node-http"]
            .iter()
            .flat_map(|t| {
                ["json", "io-slo"].iter().map(move |w| PlannedCell {
                    target: t.to_string(),
                    workload: w.to_string(),
                })
            })
            .collect()
    }

    fn new_run() -> NewRun {
        NewRun {
            machine: machine(),
            settings: BTreeMap::from([("repeats".into(), "3".into())]),
            plan: plan(),
        }
    }

    fn repeat(rps: f64, clean: bool) -> RepeatRecord {
        RepeatRecord {
            clean,
            engine_busy: Some(0.5),
            upstream_busy: None,
            steal_pct: Some(0.1),
            capacity_rps: None,
            report_json: format!("{{\"throughput_rps\":{rps}}}"),
            samples_json: "[]".into(),
            ..RepeatRecord::default()
        }
        .with(&[
            ("throughput_rps", Some(rps)),
            ("p50_ms", Some(1.0)),
            ("p99_ms", Some(rps / 1000.0)),
            ("server_cpu_us_per_req", Some(50.0)),
            ("pss_mean_mb", Some(20.0)),
            ("pss_peak_mb", Some(22.0)),
        ])
    }

    fn cell(target: &str, workload: &str, repeats: Vec<RepeatRecord>) -> CellRecord {
        CellRecord {
            target: target.into(),
            workload: workload.into(),
            params: BTreeMap::from([("connections".into(), "64".into())]),
            status: CellStatus::Ok,
            warnings: vec![],
            lower_bound: false,
            slo_p99_ms: None,
            capacity_rps: None,
            ladder: vec![],
            repeats,
            elapsed_s: Some(12.5),
        }
    }

    fn target(name: &str) -> TargetRecord {
        TargetRecord {
            name: name.into(),
            language: "rust".into(),
            framework: "axum".into(),
            versions: BTreeMap::from([("axum".into(), "0.8.4".into())]),
            config: BTreeMap::from([("workers".into(), "1".into())]),
            figures: BTreeMap::from([
                ("cold_start_ms".into(), vec![12.0, 10.0, 11.0]),
                ("idle_pss_mb".into(), vec![3.5]),
                ("install_bytes".into(), vec![1_000_000.0]),
                ("install_packages".into(), vec![0.0]),
            ]),
            failure: None,
            stderr_tail: None,
        }
    }

    #[test]
    fn a_figure_that_is_not_a_number_is_left_out_and_the_cell_is_stored() {
        let mut s = Store::open_in_memory().unwrap();
        let id = s.begin_run(&new_run()).unwrap();
        let mut t = target("rust-axum");
        t.figures.insert("idle_pss_mb".into(), vec![f64::NAN]);
        s.save_target(id, &t).unwrap();
        let bad = repeat(1000.0, true).with(&[
            ("server_cpu_us_per_req", Some(f64::NAN)),
            ("pss_mean_mb", Some(f64::INFINITY)),
        ]);
        s.save_cell(
            id,
            &cell("rust-axum", "json", vec![bad, repeat(1100.0, true)]),
        )
        .unwrap();
        let run = s.run(id).unwrap();
        let c = run.cell("rust-axum", "json").expect("the cell is stored");
        assert_eq!(c.metric("throughput_rps").unwrap().values.len(), 2);
        assert_eq!(
            c.metric("server_cpu_us_per_req").unwrap().values,
            vec![50.0]
        );
        assert_eq!(c.metric("pss_mean_mb").unwrap().values, vec![20.0]);
        assert!(run
            .target("rust-axum")
            .unwrap()
            .metric("idle_pss_mb")
            .is_none());
    }

    #[test]
    fn round_trip_of_a_run() {
        let mut s = Store::open_in_memory().unwrap();
        let id = s.begin_run(&new_run()).unwrap();
        s.save_target(id, &target("rust-axum")).unwrap();
        let mut failed = target("node-http");
        failed.failure = Some("conformance: /json body differs".into());
        failed.stderr_tail = Some("Error: boom\n".into());
        failed.figures.remove("cold_start_ms");
        s.save_target(id, &failed).unwrap();
        // A flagged repeat (errors) is shown but not averaged in.
        s.save_cell(
            id,
            &cell(
                "rust-axum",
                "json",
                vec![
                    repeat(1000.0, true),
                    repeat(50.0, false),
                    repeat(1100.0, true),
                ],
            ),
        )
        .unwrap();
        let mut slo = cell("rust-axum", "io-slo", vec![repeat(0.0, true)]);
        slo.slo_p99_ms = Some(100.0);
        slo.capacity_rps = Some(4200.0);
        slo.ladder = vec![LadderPoint {
            offered_rps: 4200.0,
            achieved_rps: 4199.0,
            p50_ms: 11.0,
            p99_ms: 40.0,
            errors: 0,
            server_cores: Some(0.9),
        }];
        slo.status = CellStatus::Flagged("3 errors".into());
        slo.lower_bound = true;
        s.save_cell(id, &slo).unwrap();
        s.add_run_warning(id, "steal 3%").unwrap();
        s.add_run_warning(id, "steal 3%").unwrap();

        let run = s.run(id).unwrap();
        assert_eq!(run.run_id, id);
        assert!(run.finished_at.is_none());
        assert_eq!(run.machine, machine());
        assert_eq!(run.settings["repeats"], "3");
        assert_eq!(run.warnings, vec!["steal 3%".to_string()]);
        let axum = run.target("rust-axum").unwrap();
        assert_eq!(axum.metric("cold_start_ms").unwrap().median, 11.0);
        assert_eq!(axum.value("install_bytes"), Some(1_000_000.0));
        let node = run.target("node-http").unwrap();
        let f = node.failure.as_deref().unwrap();
        assert!(
            f.contains("conformance") && f.contains("Error: boom"),
            "{f}"
        );
        assert!(node.metric("cold_start_ms").is_none());

        let json = run.cell("rust-axum", "json").unwrap();
        assert_eq!(json.repeats, 3);
        let t = json.metric("throughput_rps").unwrap();
        assert_eq!((t.median, t.min, t.max), (1050.0, 1000.0, 1100.0));
        assert_eq!(json.params["connections"], "64");
        let io = run.cell("rust-axum", "io-slo").unwrap();
        assert_eq!(io.capacity_rps, Some(4200.0));
        assert_eq!(io.ladder.len(), 1);
        assert!(io.lower_bound);
        assert_eq!(io.status, CellStatus::Flagged("3 errors".into()));

        // The raw reports are kept.
        let raw = s.cell_repeats(id, "rust-axum", "json").unwrap();
        assert_eq!(raw[1].report_json, "{\"throughput_rps\":50}");

        // Saving a cell again replaces it.
        s.save_cell(id, &cell("rust-axum", "json", vec![repeat(7.0, true)]))
            .unwrap();
        let run = s.run(id).unwrap();
        assert_eq!(run.cells.len(), 2);
        assert_eq!(run.cell("rust-axum", "json").unwrap().repeats, 1);

        s.finish_run(id).unwrap();
        assert!(s.latest_run().unwrap().unwrap().finished_at.is_some());
        // And the read model survives JSON (what claims/adviser/reports fixtures use).
        let text = serde_json::to_string(&run).unwrap();
        let back: RunSummary = serde_json::from_str(&text).unwrap();
        assert_eq!(back, run);
    }

    fn hold_repeat(attempted: u64, held: u64, mb: f64, clean: bool) -> RepeatRecord {
        RepeatRecord {
            clean,
            report_json: "{}".into(),
            samples_json: "{}".into(),
            ..RepeatRecord::default()
        }
        .with(&[
            ("throughput_rps", Some(held as f64)),
            ("p50_ms", Some(0.4)),
            ("p99_ms", Some(2.0)),
            ("server_cpu_us_per_req", Some(30.0)),
            ("pss_mean_mb", Some(40.0 + mb * held as f64 / 1000.0)),
            ("pss_peak_mb", Some(41.0 + mb * held as f64 / 1000.0)),
            ("connections_attempted", Some(attempted as f64)),
            ("connections_held", Some(held as f64)),
            ("pss_idle_mb", Some(40.0)),
            ("mb_per_1k_conns", Some(mb)),
            ("echo_max_ms", Some(9.5)),
        ])
    }

    #[test]
    fn hold_figures_are_rows_summarised_over_every_repeat() {
        let mut s = Store::open_in_memory().unwrap();
        let id = s.begin_run(&new_run()).unwrap();
        let mut c = cell(
            "python-flask-sync",
            "ws-hold",
            vec![
                hold_repeat(10_000, 10_000, 20.0, true),
                hold_repeat(10_000, 3, 50.0, false),
                hold_repeat(10_000, 10_000, 22.0, true),
            ],
        );
        c.status = CellStatus::Flagged("9997 errors".into());
        s.save_cell(id, &c).unwrap();
        s.save_cell(id, &cell("rust-axum", "json", vec![repeat(1.0, true)]))
            .unwrap();
        let run = s.run(id).unwrap();
        assert!(run
            .cell("rust-axum", "json")
            .unwrap()
            .metric("connections_held")
            .is_none());
        let h = run.cell("python-flask-sync", "ws-hold").unwrap();
        // Held connections are a result: the repeat that held 3 is in the spread.
        let held = h.metric("connections_held").unwrap();
        assert_eq!(held.values, vec![10_000.0, 3.0, 10_000.0]);
        assert_eq!(held.min, 3.0);
        assert_eq!(h.metric("connections_attempted").unwrap().median, 10_000.0);
        assert_eq!(h.metric("mb_per_1k_conns").unwrap().median, 22.0);
        assert_eq!(h.metric("pss_idle_mb").unwrap().median, 40.0);
        assert_eq!(h.metric("echo_max_ms").unwrap().max, 9.5);
        // Figures over the clean repeats leave the flagged one out.
        assert_eq!(
            h.metric("throughput_rps").unwrap().values,
            vec![10_000.0; 2]
        );
        // The raw repeats carry them back.
        let raw = s.cell_repeats(id, "python-flask-sync", "ws-hold").unwrap();
        assert_eq!(raw[1].metric("connections_held"), Some(3.0));
        // Export (JSON) and import keep them.
        let text = serde_json::to_string(&run).unwrap();
        assert!(text.contains("\"mb_per_1k_conns\""));
        let back: RunSummary = serde_json::from_str(&text).unwrap();
        assert_eq!(back, run);
        let id2 = s.import_run(&back).unwrap();
        let again = s.run(id2).unwrap();
        assert_eq!(
            again.cell("python-flask-sync", "ws-hold").unwrap().metrics,
            run.cell("python-flask-sync", "ws-hold").unwrap().metrics
        );
        // A summary without hold figures (older exports) reads as before.
        let old = include_str!("../tests/fixtures/quick-run.json");
        assert!(!old.contains("\"hold\""));
        let r: RunSummary = serde_json::from_str(old).unwrap();
        assert!(r
            .cells
            .iter()
            .all(|c| c.metric("connections_held").is_none()));
    }

    #[test]
    fn all_flagged_repeats_still_show_their_figures() {
        let mut s = Store::open_in_memory().unwrap();
        let id = s.begin_run(&new_run()).unwrap();
        let mut c = cell(
            "rust-axum",
            "json",
            vec![repeat(10.0, false), repeat(30.0, false)],
        );
        c.status = CellStatus::Flagged("errors in every repeat".into());
        s.save_cell(id, &c).unwrap();
        let run = s.run(id).unwrap();
        let cell = run.cell("rust-axum", "json").unwrap();
        assert_eq!(cell.metric("throughput_rps").unwrap().median, 20.0);
        assert!(matches!(cell.status, CellStatus::Flagged(_)));
    }

    #[test]
    fn resume_set_is_what_is_missing_in_plan_order() {
        let mut s = Store::open_in_memory().unwrap();
        let id = s.begin_run(&new_run()).unwrap();
        assert_eq!(s.missing_cells(id).unwrap(), plan());
        s.save_cell(id, &cell("rust-axum", "io-slo", vec![]))
            .unwrap();
        let mut failed = cell("node-http", "json", vec![]);
        failed.status = CellStatus::Failed("crashed".into());
        s.save_cell(id, &failed).unwrap();
        let missing = s.missing_cells(id).unwrap();
        assert_eq!(
            missing,
            vec![
                PlannedCell {
                    target: "rust-axum".into(),
                    workload: "json".into()
                },
                PlannedCell {
                    target: "node-http".into(),
                    workload: "io-slo".into()
                },
            ]
        );
        assert_eq!(s.latest_unfinished_run_id().unwrap(), Some(id));
        s.finish_run(id).unwrap();
        assert_eq!(s.latest_unfinished_run_id().unwrap(), None);
        let list = s.list_runs().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!((list[0].planned_cells, list[0].stored_cells), (4, 2));
        assert_eq!(list[0].targets, vec!["rust-axum", "node-http"]);
        assert_eq!(s.mean_cell_seconds().unwrap()["json"], 12.5);
    }

    #[test]
    fn unknown_run_is_a_clear_error() {
        let s = Store::open_in_memory().unwrap();
        let e = s.run(42).unwrap_err().to_string();
        assert!(e.contains("no run with id 42"), "{e}");
        assert!(s.latest_run().unwrap().is_none());
        assert!(s.finish_run(42).is_err());
    }

    /// Builds a database at every older schema version, with a run written the way that version
    /// could, and opens it with the current binary: it must migrate and keep the data.
    #[test]
    fn migrates_from_every_older_version() {
        let dir = std::env::temp_dir().join(format!("stackwise-store-mig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for v in 0..schema::CURRENT_VERSION {
            let path = dir.join(format!("v{v}.sqlite3"));
            let _ = std::fs::remove_file(&path);
            {
                let mut conn = Connection::open(&path).unwrap();
                schema::migrate(&mut conn, 0, v).unwrap();
                assert_eq!(schema::version(&conn).unwrap(), v);
                if v >= 1 {
                    // What version 1 could store: a run, a target, a cell with a repeat.
                    conn.execute_batch(&format!(
                        "INSERT INTO runs (id, started_at, machine_json, settings_json, plan_json)
                         VALUES (7, '2026-01-01T00:00:00Z', '{m}', '{{}}', '[{{\"target\":\"t\",\"workload\":\"json\"}}]');
                         INSERT INTO run_targets (run_id, name, language, framework, versions_json, config_json)
                         VALUES (7, 't', 'rust', 'axum', '{{}}', '{{}}');
                         INSERT INTO cells (id, run_id, target, workload, params_json, status, warnings_json,
                           lower_bound, ladder_json, measured_at)
                         VALUES (3, 7, 't', 'json', '{{}}', 'ok', '[]', 0, '[]', '2026-01-01T00:00:01Z');
                         INSERT INTO repeats (cell_id, idx, clean, throughput_rps, report_json, samples_json)
                         VALUES (3, 0, 1, 1234.5, '{{}}', '[]');",
                        m = serde_json::to_string(&machine()).unwrap()
                    ))
                    .unwrap();
                }
            }
            let s = Store::open(&path).unwrap();
            assert_eq!(
                s.schema_version().unwrap(),
                schema::CURRENT_VERSION,
                "from v{v}"
            );
            if v >= 1 {
                let run = s.run(7).unwrap();
                assert_eq!(
                    run.cell("t", "json")
                        .unwrap()
                        .metric("throughput_rps")
                        .unwrap()
                        .median,
                    1234.5
                );
                assert!(s.missing_cells(7).unwrap().is_empty());
                let raw = &s.cell_repeats(7, "t", "json").unwrap()[0];
                assert_eq!(raw.metric("throughput_rps"), Some(1234.5));
                assert!(raw.metric("connections_held").is_none());
            }
            // The migrated database takes new writes.
            let mut s = s;
            let id = s.begin_run(&new_run()).unwrap();
            s.save_cell(id, &cell("rust-axum", "json", vec![repeat(1.0, true)]))
                .unwrap();
            s.save_cell(
                id,
                &cell(
                    "rust-axum",
                    "ws-hold",
                    vec![hold_repeat(200, 200, 5.0, true)],
                ),
            )
            .unwrap();
            let run = s.run(id).unwrap();
            assert_eq!(run.cells.len(), 2);
            assert_eq!(
                run.cell("rust-axum", "ws-hold")
                    .unwrap()
                    .metric("connections_held")
                    .unwrap()
                    .median,
                200.0
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_newer_database_is_refused_with_a_clear_message() {
        let dir = std::env::temp_dir().join(format!("stackwise-store-new-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("future.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", schema::CURRENT_VERSION + 5)
                .unwrap();
        }
        let e = Store::open(&path).err().expect("refused").to_string();
        assert!(e.contains("newer than this stackwise"), "{e}");
        assert!(e.contains("future.sqlite3"), "{e}");
        assert!(e.contains("--db"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_corrupt_database_is_refused_with_what_to_do() {
        let dir = std::env::temp_dir().join(format!("stackwise-store-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("garbage.sqlite3");
        std::fs::write(&path, vec![0x5au8; 8192]).unwrap();
        let e = Store::open(&path).err().expect("refused");
        assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
        let e = e.to_string();
        assert!(
            e.contains("garbage.sqlite3") && e.contains("move it aside"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn file_database_is_wal_and_readable_by_a_second_connection() {
        let dir = std::env::temp_dir().join(format!("stackwise-store-wal-{}", std::process::id()));
        let path = dir.join("nested").join("lab.sqlite3");
        let mut writer = Store::open(&path).unwrap();
        let mode: String = writer
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let id = writer.begin_run(&new_run()).unwrap();
        let reader = Store::open(&path).unwrap();
        writer
            .save_cell(id, &cell("rust-axum", "json", vec![repeat(5.0, true)]))
            .unwrap();
        assert_eq!(reader.run(id).unwrap().cells.len(), 1);
        drop((writer, reader));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn default_path_is_under_the_data_dir() {
        if let Ok(p) = default_path() {
            assert!(p.ends_with("stackwise/lab.sqlite3"), "{}", p.display());
        }
    }
}
