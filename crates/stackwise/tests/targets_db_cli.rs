//! End-to-end tests of the database side of `stackwise targets …` against the real PostgreSQL
//! (Debian's postgresql-15; `.ci/run` installs it): `serve` brings up the lab's cluster with its
//! data and prints its URL, and after SIGINT or SIGTERM no postgres process and no cluster
//! directory are left; `--database-url` refuses a database holding other tables, naming them.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::lab::fixtures;
use support::{serve_fixture, stackwise};

fn alive(pid: i32) -> bool {
    lab::sample::read_stat(pid).is_some_and(|s| s.state != 'Z' && s.state != 'X')
}

#[test]
fn serve_brings_up_the_database_and_sigint_leaves_nothing() {
    serve_then_signal(libc::SIGINT);
}

#[test]
fn serve_brings_up_the_database_and_sigterm_leaves_nothing() {
    serve_then_signal(libc::SIGTERM);
}

fn serve_then_signal(signal: i32) {
    let mut child = serve_fixture("py-db", 0, Stdio::piped());
    let pid = child.id() as i32;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let t0 = Instant::now();
    loop {
        let l = lines.next().expect("serve printed its banner").unwrap();
        seen.push(l.clone());
        if l.starts_with("Press Ctrl-C") {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "{seen:?}");
    }
    let banner = seen.join("\n");
    assert!(banner.contains("/db\n"), "{banner}");
    // "  database: postgresql://stackwise@127.0.0.1:P/stackwise (the lab's PostgreSQL, pid N, … data in DIR; deleted on exit)"
    let line = seen
        .iter()
        .find(|l| l.trim_start().starts_with("database: postgresql://"))
        .unwrap_or_else(|| panic!("no database line: {banner}"));
    let url = line.split_whitespace().nth(1).unwrap().to_string();
    let pg_pid: i32 = line
        .split("pid ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap()
        .parse()
        .unwrap();
    let dir = PathBuf::from(
        line.split("data in ")
            .nth(1)
            .and_then(|s| s.split(';').next())
            .unwrap(),
    );
    assert!(alive(pg_pid) && dir.is_dir(), "{line}");
    // The database with its data, reachable at the printed URL.
    let psql = lab::postgres::find_psql().unwrap();
    let out = Command::new(&psql)
        .args(["-X", "-At", "-d", &url, "-c", "SELECT count(*) FROM world"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "10000",
        "{out:?}"
    );
    // The target was given DATABASE_URL and DB_POOL (1 worker: 16 connections).
    let target_env = lab::sample::all_stats()
        .into_iter()
        .filter(|s| s.ppid == pid)
        .find_map(|s| {
            let env = std::fs::read(format!("/proc/{}/environ", s.pid)).ok()?;
            let env = String::from_utf8_lossy(&env).into_owned();
            env.contains("DB_POOL=").then_some(env)
        })
        .expect("the target's environment");
    assert!(
        target_env.contains(&format!("DATABASE_URL={url}\0")),
        "{target_env}"
    );
    assert!(target_env.contains("DB_POOL=16\0"), "{target_env}");

    // SAFETY: signalling the child we started.
    unsafe {
        libc::kill(pid, signal);
    }
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "serve did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status:?}: {stderr}");
    let t0 = Instant::now();
    while alive(pg_pid) || dir.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "left behind: postgres {pg_pid} alive {}, {} exists {}",
            alive(pg_pid),
            dir.display(),
            dir.exists()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let backends = lab::sample::all_stats()
        .into_iter()
        .filter(|s| s.pgrp == pg_pid)
        .count();
    assert_eq!(backends, 0, "postgres processes left");
}

/// After a hard kill (SIGKILL: no handler runs) the cluster outlives stackwise; the next start's
/// sweep (here called directly) stops it and deletes its directory.
#[test]
fn a_hard_kill_leaves_a_cluster_that_the_next_sweep_removes() {
    let mut child = serve_fixture("py-db", 0, Stdio::null());
    let pid = child.id() as i32;
    let mut line = String::new();
    for l in BufReader::new(child.stdout.take().unwrap()).lines() {
        let l = l.unwrap();
        if l.trim_start().starts_with("database: postgresql://") {
            line = l;
            break;
        }
    }
    let pg_pid: i32 = line
        .split("pid ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap()
        .parse()
        .unwrap();
    let dir = PathBuf::from(
        line.split("data in ")
            .nth(1)
            .and_then(|s| s.split(';').next())
            .unwrap(),
    );
    // The target's and the upstream's groups, to clean up after the hard kill.
    let groups: Vec<i32> = lab::sample::all_stats()
        .into_iter()
        .filter(|s| s.ppid == pid && s.pid != pg_pid)
        .map(|s| s.pgrp)
        .collect();
    // SAFETY: our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    child.wait().unwrap();
    for g in groups {
        // SAFETY: the groups our killed child started.
        unsafe {
            libc::kill(-g, libc::SIGKILL);
        }
    }
    // A hard kill runs no handler: the postmaster dies by its death signal (it is spawned tied
    // to the lab), but nothing deletes its data directory until the next sweep.
    assert!(
        dir.exists(),
        "a hard kill runs no handler: the data directory is left"
    );
    assert!(lab::postgres::sweep_stale_clusters() >= 1);
    let t0 = Instant::now();
    while alive(pg_pid) || dir.exists() {
        assert!(t0.elapsed() < Duration::from_secs(10), "not swept");
        std::thread::sleep(Duration::from_millis(20));
    }
    lab::cgroup::sweep_stale();
}

#[test]
fn a_database_url_holding_other_tables_is_refused() {
    let cpu = loadgen::cpu::allowed_cpus()[0];
    let pg = lab::postgres::PostgresSpec::new(vec![cpu], 2)
        .start_postgres()
        .unwrap();
    let db = pg.database();
    db.sql("CREATE TABLE invoices (id int);").unwrap();
    let out = stackwise()
        .args([
            "targets",
            "--targets-dir",
            fixtures().to_str().unwrap(),
            "check",
            "py-db",
            "--database-url",
            &db.url,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("already holds tables that are not the lab's: public.invoices"),
        "{stderr}"
    );
    // Nothing was dropped.
    assert_eq!(
        db.sql("SELECT count(*) FROM invoices;").unwrap().trim(),
        "0"
    );
}
