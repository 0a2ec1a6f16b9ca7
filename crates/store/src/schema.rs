//! The versioned SQLite schema: an ordered list of migrations, the schema version kept in
//! `PRAGMA user_version`. Migration `i` (0-based) takes a database from version `i` to `i + 1`.
//! A database newer than [`CURRENT_VERSION`] is refused (an older binary must not write into a
//! layout it does not know).
//!
//! Rules for the next engineer: never edit a released migration; append one. The test
//! `migrates_from_every_older_version` (in `db.rs`) builds a database at every older version,
//! with data, and migrates it to the current one.

use rusqlite::Connection;

/// Migrations in order. Version N = the first N applied.
pub const MIGRATIONS: &[&str] = &[
    // 1: runs, the targets in a run, cells and their repeats.
    r#"
    CREATE TABLE runs (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at    TEXT NOT NULL,
        finished_at   TEXT,
        machine_json  TEXT NOT NULL,
        settings_json TEXT NOT NULL,
        -- the cells the suite planned, [{"target":..,"workload":..}], for --resume
        plan_json     TEXT NOT NULL,
        warnings_json TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE run_targets (
        run_id           INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        name             TEXT NOT NULL,
        language         TEXT NOT NULL,
        framework        TEXT NOT NULL,
        versions_json    TEXT NOT NULL,
        config_json      TEXT NOT NULL,
        cold_start_json  TEXT,          -- the cold starts in ms, [f64]
        idle_pss_mb      REAL,
        install_bytes    INTEGER,
        install_packages INTEGER,
        failure          TEXT,
        PRIMARY KEY (run_id, name)
    );
    CREATE TABLE cells (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        target        TEXT NOT NULL,
        workload      TEXT NOT NULL,
        params_json   TEXT NOT NULL,
        status        TEXT NOT NULL CHECK (status IN ('ok', 'flagged', 'failed')),
        reason        TEXT,
        warnings_json TEXT NOT NULL,
        lower_bound   INTEGER NOT NULL,
        slo_p99_ms    REAL,
        capacity_rps  REAL,
        ladder_json   TEXT NOT NULL,
        measured_at   TEXT NOT NULL,
        UNIQUE (run_id, target, workload)
    );
    CREATE TABLE repeats (
        cell_id               INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
        idx                   INTEGER NOT NULL,
        clean                 INTEGER NOT NULL,   -- no errors and no wrong answers
        throughput_rps        REAL,
        p50_ms                REAL,
        p99_ms                REAL,
        server_cpu_us_per_req REAL,
        pss_mean_mb           REAL,
        pss_peak_mb           REAL,
        engine_busy           REAL,
        upstream_busy         REAL,
        steal_pct             REAL,
        capacity_rps          REAL,
        report_json           TEXT NOT NULL,      -- the engine's full Report(s)
        samples_json          TEXT NOT NULL,      -- server samples (CPU, PSS over time)
        PRIMARY KEY (cell_id, idx)
    );
    CREATE INDEX cells_by_run ON cells(run_id);
    "#,
    // 2: the elapsed seconds of each cell (the ETA of `--plan` and `--resume` learns from them)
    //    and the last lines of a failed target's stderr kept apart from the reason.
    r#"
    ALTER TABLE cells ADD COLUMN elapsed_s REAL;
    ALTER TABLE run_targets ADD COLUMN stderr_tail TEXT;
    "#,
    // 3: held-connection figures of a repeat (`ws-hold`); NULL for every other workload.
    r#"
    ALTER TABLE repeats ADD COLUMN connections_attempted INTEGER;
    ALTER TABLE repeats ADD COLUMN connections_held INTEGER;
    ALTER TABLE repeats ADD COLUMN pss_idle_mb REAL;       -- server PSS before the connections
    ALTER TABLE repeats ADD COLUMN mb_per_1k_conns REAL;   -- (PSS holding − idle) / held × 1000
    ALTER TABLE repeats ADD COLUMN echo_max_ms REAL;       -- slowest echo round trip of the hold
    "#,
];

/// The schema version this binary writes.
pub const CURRENT_VERSION: u32 = MIGRATIONS.len() as u32;

pub fn version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map(|v| v as u32)
}

/// Applies migrations `from..to` in one transaction each.
pub fn migrate(conn: &mut Connection, from: u32, to: u32) -> rusqlite::Result<()> {
    for v in from..to {
        let tx = conn.transaction()?;
        tx.execute_batch(MIGRATIONS[v as usize])?;
        tx.pragma_update(None, "user_version", v + 1)?;
        tx.commit()?;
    }
    Ok(())
}
