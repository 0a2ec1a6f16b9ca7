//! A panic anywhere in the process kills every live supervised group (the panic hook), and
//! `kill_all` (the Ctrl-C path) does too. In its own test binary: it kills every group of the
//! process, so it must not share one with other tests.

use std::time::{Duration, Instant};

use lab::process::{group_members, kill_all, live_count, SpawnSpec, Supervised};

fn sleeper(name: &str) -> Supervised {
    Supervised::spawn(&SpawnSpec {
        name: name.into(),
        command: vec![
            "sh".into(),
            "-c".into(),
            "sleep 60 & sleep 60 & wait".into(),
        ],
        cwd: std::env::temp_dir(),
        env: vec![],
        cpus: vec![],
        cgroup: true,
    })
    .unwrap()
}

fn wait_empty(pgid: i32) {
    let t0 = Instant::now();
    while !group_members(pgid).is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "group {pgid} still alive"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_panic_and_kill_all_stop_every_live_group() {
    lab::process::install_panic_hook();
    let a = sleeper("a");
    let b = sleeper("b");
    let (pa, pb) = (a.pid(), b.pid());
    let t0 = Instant::now();
    while group_members(pa).len() < 3 || group_members(pb).len() < 3 {
        assert!(t0.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(live_count(), 2);
    assert!(!lab::process::interrupted());
    // A panic on another thread (caught by join): the hook kills both groups.
    let r = std::thread::spawn(|| panic!("deliberate panic")).join();
    assert!(r.is_err());
    wait_empty(pa);
    wait_empty(pb);
    assert!(lab::process::interrupted());
    drop(a);
    drop(b);
    assert_eq!(live_count(), 0);

    // kill_all directly (what the CLI's Ctrl-C handler calls).
    let c = sleeper("c");
    let pc = c.pid();
    assert_eq!(kill_all(Duration::from_secs(1)), 1);
    wait_empty(pc);
}
