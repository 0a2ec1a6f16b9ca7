//! The server CPUs stay the measured server's: during a suite run no thread of the lab process
//! may run on them (samplers, output readers, the suite's own thread: `lab::affinity`), a server
//! launched during the run is still pinned to them, and a process that does use them is named in
//! the window's breakdown (`lab::culprits`). Needs two CPUs (skipped with a note otherwise).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lab::affinity;
use lab::culprits::{self, Owners, Snapshot};
use lab::process::{SpawnSpec, Supervised};
use lab::suite::{
    self, Host, Installed, Server, StartOptions, SuiteOptions, TargetFailure, TargetInfo,
};
use lab::workload::{ServiceHandle, ServiceKind, StopFlag, Timing};
use store::{Machine, Store};

/// Two CPUs this process may use: (client, server).
fn two_cpus() -> Option<(usize, usize)> {
    let mine = affinity::get(0)?;
    (mine.len() >= 2).then(|| (mine[0], mine[1]))
}

/// Threads of this process whose mask reaches `server`, with their names and masks.
fn threads_on(server: usize) -> Vec<String> {
    affinity::own_threads()
        .into_iter()
        .filter_map(|tid| {
            let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).ok()?;
            let allowed = affinity::allowed_in_status(&status)?;
            let name = status.lines().next().unwrap_or("").to_string();
            allowed
                .contains(&server)
                .then(|| format!("{tid} {name} {allowed:?}"))
        })
        .collect()
}

/// A host whose target fails to start: what `start` sees is recorded (the threads of this
/// process, a thread started there, a server process spawned there).
struct Probe {
    client: usize,
    server: usize,
    seen: Mutex<Vec<String>>,
    checked: Mutex<bool>,
}

impl Host for Probe {
    fn targets(&self) -> Result<Vec<TargetInfo>, lab::host::HostError> {
        Ok(vec![TargetInfo {
            name: "probe".into(),
            language: "rust".into(),
            framework: "none".into(),
            endpoints: vec!["json".into()],
        }])
    }
    fn install(&self, _t: &str, _p: &mut dyn FnMut(String)) -> Result<Installed, TargetFailure> {
        Ok(Installed::default())
    }
    fn versions(&self, _t: &str) -> BTreeMap<String, String> {
        BTreeMap::new()
    }
    fn own_start(&self, _t: &str, _w: &str) -> bool {
        false
    }
    fn start(&self, _t: &str, o: &StartOptions) -> Result<Box<dyn Server>, TargetFailure> {
        let mut seen = self.seen.lock().unwrap();
        // Every thread now, and one started now (as a sampler or an output reader would be).
        seen.extend(threads_on(self.server));
        let server = self.server;
        let from_thread = std::thread::spawn(move || threads_on(server))
            .join()
            .unwrap();
        seen.extend(from_thread.into_iter().map(|t| format!("new thread: {t}")));
        // A server spawned now is still pinned to the server CPUs (the parent's mask changed).
        assert_eq!(o.server_cpus, vec![self.server]);
        let mut p = Supervised::spawn(&SpawnSpec {
            name: "probe".into(),
            command: vec!["sleep".into(), "30".into()],
            cwd: std::env::temp_dir(),
            env: vec![],
            cpus: o.server_cpus.clone(),
            cgroup: false,
        })
        .unwrap();
        let status = std::fs::read_to_string(format!("/proc/{}/status", p.pid())).unwrap();
        let child = affinity::allowed_in_status(&status).unwrap();
        p.stop(Duration::from_millis(200));
        assert_eq!(child, vec![self.server], "the server is pinned to its CPU");
        assert!(!child.contains(&self.client));
        *self.checked.lock().unwrap() = true;
        Err(TargetFailure::new("probe: not a real server"))
    }
    fn check(&self, _t: &str, _s: &mut dyn Server) -> Result<(), TargetFailure> {
        Ok(())
    }
    fn cold_start(&self, _t: &str, _o: &StartOptions) -> Result<Duration, TargetFailure> {
        Err(TargetFailure::new("probe"))
    }
    fn start_service(
        &self,
        k: ServiceKind,
        _cpus: &[usize],
    ) -> Result<Box<dyn ServiceHandle>, lab::host::ServiceError> {
        // No services in this test.
        Err(lab::host::ServiceError::Remote(k))
    }
}

#[test]
fn no_lab_thread_runs_on_the_server_cpus_during_a_run_and_a_busy_process_there_is_named() {
    let Some((client, server)) = two_cpus() else {
        eprintln!("skipped: needs two CPUs");
        return;
    };
    // A thread started before the run (as the watchdog or the Ctrl-C handler are), unpinned.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let early = std::thread::spawn(move || {
        let tid = unsafe { libc::gettid() };
        let _ = rx.recv();
        tid
    });
    std::thread::sleep(Duration::from_millis(20));
    assert!(!threads_on(server).is_empty(), "before the run: unpinned");

    let host = Probe {
        client,
        server,
        seen: Mutex::new(vec![]),
        checked: Mutex::new(false),
    };
    let dir = std::env::temp_dir().join(format!("stackwise-quiet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut store = Store::open(&dir.join("lab.sqlite3")).unwrap();
    let opts = SuiteOptions {
        targets: vec![],
        workloads: vec!["json".into()],
        repeats: 1,
        timing: Timing {
            duration: Duration::from_millis(100),
            warmup: Duration::from_millis(50),
            rung: Duration::from_millis(100),
            rung_warmup: Duration::from_millis(50),
            max_rungs: 1,
            slo_p99_ms: 100.0,
            idle_settle: Duration::from_millis(10),
            ws_connections: 1,
        },
        quick: false,
        cold_starts: 0,
        server_cpus: vec![server],
        client_cpus: vec![client],
        workers: BTreeMap::new(),
    };
    let machine = Machine {
        cpu_model: "test".into(),
        cores: 2,
        kernel: "test".into(),
        os: "test".into(),
        memory_mb: 1,
        runtimes: BTreeMap::new(),
        server_cpus: vec![server],
        client_cpus: vec![client],
    };
    suite::run(
        &host,
        &mut store,
        &opts,
        machine,
        None,
        &StopFlag::new(),
        &mut |_| {},
    )
    .unwrap();
    assert!(*host.checked.lock().unwrap(), "the host's start ran");
    let seen = host.seen.lock().unwrap().clone();
    assert!(
        seen.is_empty(),
        "threads of the lab on the server CPU {server} during the run: {seen:?}"
    );
    // After the run, the threads get their masks back.
    let back = threads_on(server);
    tx.send(()).unwrap();
    let early_tid = early.join().unwrap();
    assert!(
        back.iter().any(|t| t.starts_with(&format!("{early_tid} "))),
        "the early thread's mask is restored: {back:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);

    // A spin loop pinned to the server CPU is named, by its command name or as a lab group.
    let link = std::env::temp_dir().join(format!("spin-culprit-{}", std::process::id()));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("/bin/sh", &link).unwrap();
    let mut spin = {
        use std::os::unix::process::CommandExt;
        std::process::Command::new(&link)
            .args(["-c", "i=0; while [ $i -lt 100000000 ]; do i=$((i+1)); done"])
            .process_group(0)
            .spawn()
            .unwrap()
    };
    let pid = spin.id() as i32;
    assert!(affinity::set(pid, &[server]));
    let c0 = Snapshot::take();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(600) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let c1 = Snapshot::take();
    // Stopped by its pid before anything is asserted.
    let _ = spin.kill();
    let _ = spin.wait();
    let _ = std::fs::remove_file(&link);
    let name = link.file_name().unwrap().to_str().unwrap();
    let comm: String = name.chars().take(15).collect(); // comm is 15 bytes at most
                                                        // Every process named: the spin loop used a real share of the server CPU.
    let all = culprits::attribute_top(
        &c0,
        &c1,
        &[server],
        &Owners::default(),
        lab::cpuload::user_hz(),
        lab::launch::cpu_count(&[]),
        &culprits::allowed_cpus,
        usize::MAX,
    );
    let spun = all
        .machine_top
        .iter()
        .find(|n| n.name == comm)
        .map(|n| n.share)
        .unwrap_or_else(|| panic!("the spin loop is named: {all:?}"));
    assert!(spun > 0.05, "{all:?}");
    // The top three: it is there, unless three others used at least as much (a busy machine).
    let machine = culprits::attribute_here(&c0, &c1, &[server], &Owners::default());
    assert!(machine.machine_top.len() <= 3);
    assert!(
        machine.machine_top.iter().any(|n| n.name == comm)
            || machine
                .machine_top
                .iter()
                .filter(|n| n.share >= spun)
                .count()
                == 3,
        "{machine:?}"
    );
    let owners = Owners {
        measured_pgid: None,
        groups: vec![(pid, "spinning-target".into())],
        targets: BTreeSet::from(["spinning-target".to_string()]),
    };
    let lab = culprits::attribute_here(&c0, &c1, &[server], &owners);
    assert_eq!(lab.other_targets_by[0].name, "spinning-target", "{lab:?}");
    assert!(lab.other_targets > 0.05, "{lab:?}");
    assert!(lab.machine_top.iter().all(|n| n.name != comm), "{lab:?}");
}
