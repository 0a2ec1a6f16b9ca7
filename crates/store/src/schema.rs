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
    // 4: figures as rows named by the workloads registry's metric ids. A repeat's figures are
    //    (cell, repeat, metric) rows; a ladder's are (cell, metric, rung) rows with no repeat; a
    //    target's per-target measures are (run, target, metric, idx) rows. The typed figure
    //    columns of v1–v3 are copied into rows and dropped.
    r#"
    CREATE TABLE figures (
        cell_id INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
        repeat  INTEGER,            -- the repeat's idx; NULL for a cell-level figure (a ladder rung)
        metric  TEXT NOT NULL,      -- a metric id of the workloads registry
        rung    INTEGER,            -- the rung's index in the ladder; NULL when not a rung
        value   REAL NOT NULL
    );
    CREATE UNIQUE INDEX figures_key ON figures(cell_id, ifnull(repeat, -1), metric, ifnull(rung, -1));
    CREATE TABLE target_figures (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        target TEXT NOT NULL,
        metric TEXT NOT NULL,       -- a per-target metric id of the workloads registry
        idx    INTEGER NOT NULL,    -- e.g. the n-th cold start
        value  REAL NOT NULL,
        PRIMARY KEY (run_id, target, metric, idx)
    );
    INSERT INTO figures (cell_id, repeat, metric, value)
              SELECT cell_id, idx, 'throughput_rps', throughput_rps FROM repeats WHERE throughput_rps IS NOT NULL
    UNION ALL SELECT cell_id, idx, 'p50_ms', p50_ms FROM repeats WHERE p50_ms IS NOT NULL
    UNION ALL SELECT cell_id, idx, 'p99_ms', p99_ms FROM repeats WHERE p99_ms IS NOT NULL
    UNION ALL SELECT cell_id, idx, 'server_cpu_us_per_req', server_cpu_us_per_req FROM repeats WHERE server_cpu_us_per_req IS NOT NULL
    UNION ALL SELECT cell_id, idx, 'pss_mean_mb', pss_mean_mb FROM repeats WHERE pss_mean_mb IS NOT NULL
    UNION ALL SELECT cell_id, idx, 'pss_peak_mb', pss_peak_mb FROM repeats WHERE pss_peak_mb IS NOT NULL;
    -- v3 read hold figures only when both connection counts were stored.
    INSERT INTO figures (cell_id, repeat, metric, value)
              SELECT cell_id, idx, 'connections_attempted', connections_attempted FROM repeats WHERE connections_attempted IS NOT NULL AND connections_held IS NOT NULL
    UNION ALL SELECT cell_id, idx, 'connections_held', connections_held FROM repeats WHERE connections_attempted IS NOT NULL AND connections_held IS NOT NULL
    UNION ALL SELECT cell_id, idx, 'pss_idle_mb', pss_idle_mb FROM repeats WHERE connections_attempted IS NOT NULL AND connections_held IS NOT NULL AND pss_idle_mb IS NOT NULL
    UNION ALL SELECT cell_id, idx, 'mb_per_1k_conns', mb_per_1k_conns FROM repeats WHERE connections_attempted IS NOT NULL AND connections_held IS NOT NULL AND mb_per_1k_conns IS NOT NULL
    UNION ALL SELECT cell_id, idx, 'echo_max_ms', echo_max_ms FROM repeats WHERE connections_attempted IS NOT NULL AND connections_held IS NOT NULL AND echo_max_ms IS NOT NULL;
    INSERT INTO figures (cell_id, metric, rung, value)
              SELECT c.id, 'offered_rps', CAST(l.key AS INTEGER), json_extract(l.value, '$.offered_rps') FROM cells c, json_each(c.ladder_json) l
    UNION ALL SELECT c.id, 'achieved_rps', CAST(l.key AS INTEGER), json_extract(l.value, '$.achieved_rps') FROM cells c, json_each(c.ladder_json) l
    UNION ALL SELECT c.id, 'rung_p50_ms', CAST(l.key AS INTEGER), json_extract(l.value, '$.p50_ms') FROM cells c, json_each(c.ladder_json) l
    UNION ALL SELECT c.id, 'rung_p99_ms', CAST(l.key AS INTEGER), json_extract(l.value, '$.p99_ms') FROM cells c, json_each(c.ladder_json) l
    UNION ALL SELECT c.id, 'rung_errors', CAST(l.key AS INTEGER), json_extract(l.value, '$.errors') FROM cells c, json_each(c.ladder_json) l
    UNION ALL SELECT c.id, 'server_cores', CAST(l.key AS INTEGER), json_extract(l.value, '$.server_cores') FROM cells c, json_each(c.ladder_json) l
              WHERE json_extract(l.value, '$.server_cores') IS NOT NULL;
    INSERT INTO target_figures (run_id, target, metric, idx, value)
              SELECT t.run_id, t.name, 'cold_start_ms', CAST(j.key AS INTEGER), j.value FROM run_targets t, json_each(t.cold_start_json) j WHERE t.cold_start_json IS NOT NULL
    UNION ALL SELECT run_id, name, 'idle_pss_mb', 0, idle_pss_mb FROM run_targets WHERE idle_pss_mb IS NOT NULL
    UNION ALL SELECT run_id, name, 'install_bytes', 0, install_bytes FROM run_targets WHERE install_bytes IS NOT NULL
    UNION ALL SELECT run_id, name, 'install_packages', 0, install_packages FROM run_targets WHERE install_packages IS NOT NULL;
    ALTER TABLE repeats DROP COLUMN throughput_rps;
    ALTER TABLE repeats DROP COLUMN p50_ms;
    ALTER TABLE repeats DROP COLUMN p99_ms;
    ALTER TABLE repeats DROP COLUMN server_cpu_us_per_req;
    ALTER TABLE repeats DROP COLUMN pss_mean_mb;
    ALTER TABLE repeats DROP COLUMN pss_peak_mb;
    ALTER TABLE repeats DROP COLUMN connections_attempted;
    ALTER TABLE repeats DROP COLUMN connections_held;
    ALTER TABLE repeats DROP COLUMN pss_idle_mb;
    ALTER TABLE repeats DROP COLUMN mb_per_1k_conns;
    ALTER TABLE repeats DROP COLUMN echo_max_ms;
    ALTER TABLE cells DROP COLUMN ladder_json;
    ALTER TABLE run_targets DROP COLUMN cold_start_json;
    ALTER TABLE run_targets DROP COLUMN idle_pss_mb;
    ALTER TABLE run_targets DROP COLUMN install_bytes;
    ALTER TABLE run_targets DROP COLUMN install_packages;
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
