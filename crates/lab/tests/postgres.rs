//! The lab's PostgreSQL against the real server (Debian's postgresql-15; `.ci/run` installs it):
//! the cluster starts, loads exactly the schema, resets, counts statements, runs unprivileged, and
//! is gone — no postgres process, no directory — after a stop, after a failed cell (dropped), and
//! after Ctrl-C (in a child process: the handler's `kill_all`). A user's database holding other
//! tables is refused, naming them.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lab::postgres::{Database, Postgres, PostgresSpec};
use lab::services::Service;

fn start() -> Postgres {
    let cpu = loadgen::cpu::allowed_cpus()[0];
    PostgresSpec::new(vec![cpu], 4)
        .start_postgres()
        .unwrap_or_else(|e| panic!("the lab's PostgreSQL did not start: {e}"))
}

fn alive(pid: i32) -> bool {
    lab::sample::read_stat(pid).is_some_and(|s| s.state != 'Z' && s.state != 'X')
}

fn wait_gone(pid: i32, dir: &std::path::Path) {
    let t0 = Instant::now();
    while alive(pid) || dir.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "postgres {pid} alive: {}, {} exists: {}",
            alive(pid),
            dir.display(),
            dir.exists()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(db: &Database, table: &str) -> u64 {
    db.sql(&format!("SELECT count(*) FROM {table};"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn the_cluster_starts_loads_resets_and_is_gone_after_stop() {
    let mut pg = start();
    let db = pg.database().clone();
    assert!(
        db.url.starts_with("postgresql://stackwise@127.0.0.1:"),
        "{}",
        db.url
    );
    assert_eq!(pg.env(), vec![("DATABASE_URL".to_string(), db.url.clone())]);
    assert!(db.stats && !db.external);
    // Exactly the schema's data.
    assert_eq!(count(&db, "world"), 10_000);
    assert_eq!(count(&db, "fortune"), 12);
    assert_eq!(count(&db, "items"), 1_000);
    assert_eq!(
        db.tables().unwrap(),
        ["public.fortune", "public.items", "public.world"]
    );
    assert!(db.foreign_tables().unwrap().is_empty());
    let settings = db
        .sql("SELECT current_setting('fsync') || current_setting('listen_addresses') || current_setting('lc_collate');")
        .unwrap();
    assert_eq!(settings.trim(), "off127.0.0.1C.UTF-8");
    // Its directory: mode 0700, owned by the account postgres runs as (nobody under root).
    let dir = pg.dir().to_path_buf();
    let meta = std::fs::metadata(&dir).unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    let pid = pg.pid();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    // SAFETY: plain libc call.
    if unsafe { libc::geteuid() } == 0 {
        assert_ne!(uid, 0, "postgres must not run as root");
    }
    assert_eq!(meta.uid(), uid);
    // Pinned, and its CPU is sampled (the load side's CPUs).
    assert_eq!(pg.cpus().len(), 1);
    assert!(pg.cpu_seconds().unwrap() > 0.0);

    // Statement counts.
    db.stat_reset().unwrap();
    for id in [1, 2, 3] {
        db.sql(&format!(
            "SELECT id, randomnumber FROM world WHERE id = {id};"
        ))
        .unwrap();
    }
    let st = db.statements_on("world").unwrap();
    assert_eq!(st.len(), 1, "{st:?}");
    assert_eq!((st[0].calls, st[0].rows), (3, 3), "{st:?}");

    // The CRUD model's rows for deletion: seeded at DELETE_BASE, replaced on a second seeding.
    let ids = lab::crud::seed_deletes(&db, 100).unwrap();
    assert_eq!(ids.start, lab::crud::DELETE_BASE);
    lab::crud::seed_deletes(&db, 40).unwrap();
    assert_eq!(
        db.sql(&format!(
            "SELECT count(*) FROM items WHERE id >= {};",
            lab::crud::DELETE_BASE
        ))
        .unwrap()
        .trim(),
        "40"
    );

    // Reset puts the data back.
    db.sql("DELETE FROM items WHERE id <= 500; INSERT INTO items (name, price_cents) VALUES ('x', 1); DELETE FROM fortune;")
        .unwrap();
    let took = db.reset().unwrap();
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert_eq!(count(&db, "items"), 1_000);
    assert_eq!(count(&db, "fortune"), 12);
    assert_eq!(
        db.sql("SELECT max(id) FROM items;").unwrap().trim(),
        "1000",
        "ids restart"
    );
    assert!(db.statements_on("world").unwrap().is_empty());

    let report = pg.stop();
    assert!(report.leaked.is_empty() && !report.forced, "{report:?}");
    wait_gone(pid, &dir);
}

#[test]
fn a_failed_cell_drops_it_and_leaves_nothing() {
    fn cell() -> Result<(), String> {
        let pg = start();
        let pid = pg.pid();
        let dir = pg.dir().to_path_buf();
        std::fs::write(
            std::env::temp_dir().join(format!("pg-failed-cell-{}", std::process::id())),
            format!("{pid}\n{}", dir.display()),
        )
        .unwrap();
        Err("the cell failed".into())
    }
    assert!(cell().is_err());
    let note = std::env::temp_dir().join(format!("pg-failed-cell-{}", std::process::id()));
    let text = std::fs::read_to_string(&note).unwrap();
    let _ = std::fs::remove_file(&note);
    let (pid, dir) = text.split_once('\n').unwrap();
    wait_gone(pid.parse().unwrap(), std::path::Path::new(dir));
}

/// The child half of `ctrl_c_stops_it_and_deletes_its_directory` (does nothing unless run by it).
#[test]
fn child_serving_until_ctrl_c() {
    if std::env::var_os("STACKWISE_PG_CHILD").is_none() {
        return;
    }
    lab::process::install_panic_hook();
    ctrlc::set_handler(|| {
        lab::process::kill_all(Duration::from_secs(2));
        std::process::exit(130);
    })
    .unwrap();
    let pg = start();
    println!("READY {} {}", pg.pid(), pg.dir().display());
    std::thread::sleep(Duration::from_secs(60));
    // Not reached: the parent interrupts us first.
    drop(pg);
}

#[test]
fn ctrl_c_stops_it_and_deletes_its_directory() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_serving_until_ctrl_c", "--nocapture"])
        .env("STACKWISE_PG_CHILD", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("READY ") {
                let _ = tx.send(rest.to_string());
            }
        }
    });
    let ready = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(r) => r,
        Err(_) => {
            let _ = child.kill();
            panic!("the child did not start its PostgreSQL within 60 s");
        }
    };
    let (pid, dir) = ready.split_once(' ').unwrap();
    let (pid, dir): (i32, PathBuf) = (pid.parse().unwrap(), dir.into());
    assert!(alive(pid) && dir.exists());
    // SAFETY: our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("the child did not exit after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
    wait_gone(pid, &dir);
}

#[test]
fn a_database_url_with_other_tables_is_refused_and_an_empty_one_is_loaded() {
    let pg = start();
    let db = pg.database();
    let other = format!("{}/userdb", db.url.rsplit_once('/').unwrap().0);
    db.sql("CREATE DATABASE userdb;").unwrap();
    let user = db.with_url(&other);
    user.sql("CREATE TABLE invoices (id int); CREATE SCHEMA billing; CREATE TABLE billing.customers (id int);")
        .unwrap();
    let e = Database::external(&other).unwrap_err().to_string();
    assert!(
        e.contains(
            "already holds tables that are not the lab's: billing.customers, public.invoices"
        ),
        "{e}"
    );
    user.sql("DROP TABLE invoices; DROP SCHEMA billing CASCADE;")
        .unwrap();
    let ext = Database::external(&other).unwrap();
    assert!(ext.external);
    assert_eq!(count(&ext, "world"), 10_000);
    assert_eq!(count(&ext, "fortune"), 12);
    // pg_stat_statements is preloaded on this server: counts are checked.
    assert!(ext.stats, "{:?}", ext.notes);
    assert!(
        ext.notes
            .iter()
            .any(|n| n.contains("does not start, pin or sample it")),
        "{:?}",
        ext.notes
    );
    // The lab's own tables may be there already (a second run): loaded again.
    assert!(Database::external(&other).is_ok());
    assert!(Database::external("mysql://x").is_err());
}
