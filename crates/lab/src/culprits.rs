//! Who used the server CPUs during a measuring window, besides the measured server.
//!
//! [`crate::cpuload`] measures *how much* of the server CPUs other processes used (exactly: the
//! CPUs' non-idle time minus the server's own); this module names *who*, so that a repeat
//! re-measured for "other processes used 14%" says whether that was the lab's other targets
//! (kept up between their rounds in the interleaved order: a backlog being worked off, timers and
//! heartbeats), the lab's services (upstream, PostgreSQL), the lab process's own threads, or
//! other processes on the machine (the three largest by command name).
//!
//! How: a [`Snapshot`] at the window's start and end holds every process's CPU time
//! (`/proc/<pid>/stat` utime + stime: the kernel scales them to the task's exact run time, so they
//! are not tick-sampled, only rounded to the clock tick) and, for the lab process itself, every
//! thread's (`/proc/self/task/<tid>/stat`). A process's time in the window is the difference
//! (a process started in the window counts all of it; one that ended in it is lost: its time is
//! in no snapshot, an underestimate stated here). A snapshot reads one small file per process
//! (108 processes: 3.3 ms of CPU per snapshot in a debug build, measured once; on the client
//! CPUs), so every window takes two.
//!
//! Where the time ran: procfs has no per-CPU time per process. The approximation: a process (or
//! a lab thread) counts with its window time × the share of the CPUs it may use that are server
//! CPUs (`Cpus_allowed_list` of its `status`, read at the window's end), i.e. as if the
//! scheduler spread it evenly over its CPUs. A process pinned off the server CPUs (the load engine,
//! the upstream) counts nothing; one pinned to them (another target's server) counts all; an
//! unpinned compiler on a 2-CPU machine with one server CPU counts half. Where the server CPUs ran
//! less in all (`/proc/stat`, exact) than the pinned tasks plus those even-spread estimates, the
//! estimates of the tasks that may run elsewhere are scaled down to what is left (the scheduler
//! put them on the other CPUs): a diagnostic run beside other engineers' builds read 118% of the
//! server CPU without that cap. The owners' shares are estimates; the total other processes'
//! share stays cpuload's exact figure.
//!
//! Owners: the measured server's process group is left out; a process group the lab registered
//! ([`crate::process::live_groups`]) is another target's (when its name is a target's) or a
//! service's; the lab process's threads are its own; anything else is the machine's.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

pub use workloads::events::{NamedShare, ServerCpuUse};

/// One process's (or thread's) CPU time at a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcCpu {
    pub pid: i32,
    /// With the pid, tells a process from a later one that reused its pid.
    pub starttime: u64,
    pub pgrp: i32,
    pub comm: String,
    /// utime + stime, clock ticks.
    pub ticks: u64,
}

/// Parses a `/proc/<pid>/stat` (or a task's) line.
pub fn parse_proc_stat(text: &str) -> Option<ProcCpu> {
    let st = crate::sample::parse_stat(text)?;
    let comm = text[text.find('(')? + 1..text.rfind(')')?].to_string();
    Some(ProcCpu {
        pid: st.pid,
        starttime: st.starttime,
        pgrp: st.pgrp,
        comm,
        ticks: st.utime + st.stime,
    })
}

/// Every process's CPU time, and the lab process's threads'.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub at: Instant,
    pub procs: HashMap<i32, ProcCpu>,
    /// This process's threads, by thread id.
    pub own_threads: HashMap<i32, ProcCpu>,
    pub own_pid: i32,
    /// `/proc/stat` then: how much the server CPUs ran tasks in all (caps the estimates).
    pub stat: String,
}

fn read_dir_stats(dir: &str) -> HashMap<i32, ProcCpu> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let text = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let mut p = parse_proc_stat(&text)?;
            p.pid = pid;
            Some((pid, p))
        })
        .collect()
}

impl Snapshot {
    /// Reads every process of the machine now.
    pub fn take() -> Snapshot {
        Snapshot {
            at: Instant::now(),
            procs: read_dir_stats("/proc"),
            own_threads: read_dir_stats("/proc/self/task"),
            own_pid: std::process::id() as i32,
            stat: std::fs::read_to_string("/proc/stat").unwrap_or_default(),
        }
    }
}

/// Whose CPU mask to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Process(i32),
    /// A thread of the lab process.
    OwnThread(i32),
}

/// The CPUs a process or a lab thread may use, from `/proc` (`None` if it is gone).
pub fn allowed_cpus(t: Task) -> Option<Vec<usize>> {
    let path = match t {
        Task::Process(pid) => format!("/proc/{pid}/status"),
        Task::OwnThread(tid) => format!("/proc/self/task/{tid}/status"),
    };
    crate::affinity::allowed_in_status(&std::fs::read_to_string(path).ok()?)
}

/// Who is who: the measured server's process group, the lab's registered groups (pgid, name), and
/// which of those names are targets.
#[derive(Debug, Clone, Default)]
pub struct Owners {
    pub measured_pgid: Option<i32>,
    pub groups: Vec<(i32, String)>,
    pub targets: BTreeSet<String>,
}

impl Owners {
    /// The lab's live groups now ([`crate::process::live_groups`]).
    pub fn live(measured_pgid: Option<i32>, targets: BTreeSet<String>) -> Owners {
        Owners {
            measured_pgid,
            groups: crate::process::live_groups(),
            targets,
        }
    }
}

/// CPU time (ticks) of `p` in the window: the difference, or all of it for a process that was
/// not in the start snapshot (new, or a reused pid).
fn delta(start: &HashMap<i32, ProcCpu>, p: &ProcCpu) -> u64 {
    match start.get(&p.pid) {
        Some(s) if s.starttime == p.starttime => p.ticks.saturating_sub(s.ticks),
        _ => p.ticks,
    }
}

/// Share of `allowed` that are server CPUs (unknown mask: all CPUs, i.e. `server.len() / cpus`).
fn on_server(allowed: Option<Vec<usize>>, server: &[usize], cpus: usize) -> f64 {
    match allowed {
        Some(a) if !a.is_empty() => {
            a.iter().filter(|c| server.contains(c)).count() as f64 / a.len() as f64
        }
        _ => server.len() as f64 / cpus.max(1) as f64,
    }
}

/// Who used the `server` CPUs between two snapshots, as shares of their time (wall time × server
/// CPUs). `hz`: clock ticks per second; `cpus`: CPUs of the machine (for an unknown mask);
/// `allowed`: a task's CPU mask (injected by tests; [`allowed_cpus`] in a run).
pub fn attribute(
    start: &Snapshot,
    end: &Snapshot,
    server: &[usize],
    owners: &Owners,
    hz: f64,
    cpus: usize,
    allowed: &dyn Fn(Task) -> Option<Vec<usize>>,
) -> ServerCpuUse {
    attribute_top(start, end, server, owners, hz, cpus, allowed, 3)
}

/// [`attribute`] naming the `top` largest other processes (and lab threads) instead of three.
#[allow(clippy::too_many_arguments)]
pub fn attribute_top(
    start: &Snapshot,
    end: &Snapshot,
    server: &[usize],
    owners: &Owners,
    hz: f64,
    cpus: usize,
    allowed: &dyn Fn(Task) -> Option<Vec<usize>>,
    top: usize,
) -> ServerCpuUse {
    let wall = end.at.saturating_duration_since(start.at).as_secs_f64();
    let capacity = wall * server.len() as f64;
    if capacity <= 0.0 || hz <= 0.0 {
        return ServerCpuUse::default();
    }
    let share = |ticks: u64, on: f64| ticks as f64 / hz * on / capacity;
    /// Whose an entry is.
    enum Owner {
        Measured,
        Target(String),
        Service(String),
        Machine(String),
        Lab(String),
    }
    // (owner, share if all of its time ran on the server CPUs × its server share, partial?)
    let mut entries: Vec<(Owner, f64, bool)> = Vec::new();
    for p in end.procs.values() {
        if p.pid == end.own_pid {
            continue;
        }
        let d = delta(&start.procs, p);
        if d == 0 {
            continue;
        }
        let on = on_server(allowed(Task::Process(p.pid)), server, cpus);
        if on == 0.0 {
            continue;
        }
        let owner = if Some(p.pgrp) == owners.measured_pgid {
            Owner::Measured
        } else {
            match owners.groups.iter().find(|(g, _)| *g == p.pgrp) {
                Some((_, name)) if owners.targets.contains(name) => Owner::Target(name.clone()),
                Some((_, name)) => Owner::Service(name.clone()),
                None => Owner::Machine(p.comm.clone()),
            }
        };
        entries.push((owner, share(d, on), on < 1.0));
    }
    for t in end.own_threads.values() {
        let d = delta(&start.own_threads, t);
        if d == 0 {
            continue;
        }
        let on = on_server(allowed(Task::OwnThread(t.pid)), server, cpus);
        if on > 0.0 {
            entries.push((Owner::Lab(t.comm.clone()), share(d, on), on < 1.0));
        }
    }
    // A task that may also run on other CPUs was counted as if spread evenly over them; where the
    // server CPUs ran less than that in all (pinned tasks filled them, the scheduler put the rest
    // elsewhere), those estimates are scaled down to what is left. Exact for pinned tasks.
    let ran = crate::cpuload::task_share_in(
        crate::cpuload::parse(&start.stat, server),
        crate::cpuload::parse(&end.stat, server),
        capacity * hz,
    );
    let pinned: f64 = entries.iter().filter(|e| !e.2).map(|e| e.1).sum();
    let partial: f64 = entries.iter().filter(|e| e.2).map(|e| e.1).sum();
    let scale = match ran {
        Some(ran) if partial > 0.0 && !start.stat.is_empty() => {
            ((ran - pinned).max(0.0) / partial).min(1.0)
        }
        _ => 1.0,
    };
    let mut targets: BTreeMap<String, f64> = BTreeMap::new();
    let mut services: BTreeMap<String, f64> = BTreeMap::new();
    let mut machine: BTreeMap<String, f64> = BTreeMap::new();
    let mut lab: BTreeMap<String, f64> = BTreeMap::new();
    for (owner, s, is_partial) in entries {
        let s = if is_partial { s * scale } else { s };
        let (map, name) = match owner {
            Owner::Measured => continue,
            Owner::Target(n) => (&mut targets, n),
            Owner::Service(n) => (&mut services, n),
            Owner::Machine(n) => (&mut machine, n),
            Owner::Lab(n) => (&mut lab, n),
        };
        *map.entry(name).or_default() += s;
    }
    let ranked = |m: BTreeMap<String, f64>, keep: usize| -> (f64, Vec<NamedShare>) {
        // (An empty float sum is -0.0.)
        let total = m.values().sum::<f64>() + 0.0;
        let mut v: Vec<NamedShare> = m
            .into_iter()
            .map(|(name, share)| NamedShare { name, share })
            .collect();
        v.sort_by(|a, b| b.share.total_cmp(&a.share).then(a.name.cmp(&b.name)));
        v.truncate(keep);
        (total, v)
    };
    let (other_targets, other_targets_by) = ranked(targets, usize::MAX);
    let (lab_services, lab_services_by) = ranked(services, usize::MAX);
    let (lab_itself, lab_itself_by) = ranked(lab, top);
    let (machine, machine_top) = ranked(machine, top);
    ServerCpuUse {
        other_targets,
        other_targets_by,
        lab_services,
        lab_services_by,
        lab_itself,
        lab_itself_by,
        machine,
        machine_top,
    }
}

/// [`attribute`] on this machine: clock ticks and CPU count read here, masks from `/proc`.
pub fn attribute_here(
    start: &Snapshot,
    end: &Snapshot,
    server: &[usize],
    owners: &Owners,
) -> ServerCpuUse {
    attribute(
        start,
        end,
        server,
        owners,
        crate::cpuload::user_hz(),
        crate::launch::cpu_count(&[]),
        &allowed_cpus,
    )
}

/// The share (0–1) of the `server` CPUs the lab's own processes (every target's server, the
/// services, the lab's threads) used over `step`, and who (e.g. "python-django 40%"): the sample
/// of the suite's wait for quiet server CPUs ([`crate::cpuload::settle`]). Other processes on the
/// machine are left out: waiting would not make them go away, and the repeat's own figures report
/// them.
pub fn lab_busy_over(
    step: std::time::Duration,
    server: &[usize],
    targets: &BTreeSet<String>,
) -> Option<(f64, String)> {
    let c0 = Snapshot::take();
    std::thread::sleep(step);
    let c1 = Snapshot::take();
    let owners = Owners::live(None, targets.clone());
    let u = attribute_here(&c0, &c1, server, &owners);
    let share = u.other_targets + u.lab_services + u.lab_itself;
    let mut by: Vec<NamedShare> = u
        .other_targets_by
        .into_iter()
        .chain(u.lab_services_by)
        .chain(u.lab_itself_by.into_iter().map(|n| NamedShare {
            name: format!("the lab's {} thread", n.name),
            share: n.share,
        }))
        .filter(|n| n.share >= ServerCpuUse::SHOWN_FROM)
        .collect();
    by.sort_by(|a, b| b.share.total_cmp(&a.share));
    let who = by
        .iter()
        .map(|n| format!("{} {:.0}%", n.name, n.share * 100.0))
        .collect::<Vec<_>>()
        .join(", ");
    Some((share, who))
}

/// A repeat's other-processes warning with who they were, when the window's samples name them
/// (`server_cpus_by`, written by the real host): "…, figures are noisy (who: the lab's other
/// targets 9.0% (python-django 9.0%); …)".
pub fn warning_with_breakdown(warning: String, samples: &serde_json::Value) -> String {
    match serde_json::from_value::<ServerCpuUse>(samples["server_cpus_by"].clone()) {
        Ok(by) => format!("{warning} (who: {})", by.describe()),
        Err(_) => warning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn stat(pid: i32, comm: &str, pgrp: i32, utime: u64, stime: u64, start: u64) -> String {
        format!(
            "{pid} ({comm}) S 1 {pgrp} {pgrp} 0 -1 4194560 100 0 0 0 {utime} {stime} 0 0 20 0 1 0 {start} 0"
        )
    }

    fn snap(at: Instant, procs: &[String], threads: &[String]) -> Snapshot {
        let map = |v: &[String]| {
            v.iter()
                .map(|t| parse_proc_stat(t).unwrap())
                .map(|p| (p.pid, p))
                .collect()
        };
        Snapshot {
            at,
            procs: map(procs),
            own_threads: map(threads),
            own_pid: 500,
            stat: String::new(),
        }
    }

    #[test]
    fn parses_names_with_spaces_and_parentheses() {
        let p = parse_proc_stat(&stat(42, "gunicorn: worker (app)", 40, 7, 3, 99)).unwrap();
        assert_eq!((p.pid, p.pgrp, p.ticks, p.starttime), (42, 40, 10, 99));
        assert_eq!(p.comm, "gunicorn: worker (app)");
    }

    /// A 10 s window on server CPU 1 of a 2-CPU machine (100 ticks/s: 1,000 ticks of capacity).
    #[test]
    fn attributes_cpu_time_to_targets_services_the_lab_and_the_machine() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(10);
        let start = snap(
            t0,
            &[
                stat(100, "node", 100, 1000, 0, 5),   // the measured server
                stat(200, "python3", 200, 50, 0, 6),  // python-django, pinned to CPU 1
                stat(201, "python3", 200, 10, 0, 6),  // its worker
                stat(300, "stackwise", 300, 0, 0, 7), // the upstream, on CPU 0
                stat(400, "postgres", 400, 0, 0, 8),  // postgres, on CPU 0
                stat(600, "rustc", 600, 100, 0, 9),   // a compiler, unpinned
                stat(601, "cc1", 601, 0, 0, 9),       // unpinned
                stat(602, "pinned-elsewhere", 602, 0, 0, 9),
                stat(700, "old", 700, 0, 0, 10), // its pid is reused in the window
                stat(500, "stackwise", 500, 0, 0, 1), // the lab: per thread
            ],
            &[
                stat(500, "stackwise", 500, 10, 0, 1),
                stat(501, "pss-sampler", 500, 0, 0, 1),
                stat(502, "loadgen-0", 500, 0, 0, 1),
            ],
        );
        let end = snap(
            t1,
            &[
                stat(100, "node", 100, 1500, 0, 5),
                stat(200, "python3", 200, 90, 10, 6), // +50 ticks
                stat(201, "python3", 200, 20, 0, 6),  // +10
                stat(300, "stackwise", 300, 400, 0, 7),
                stat(400, "postgres", 400, 200, 0, 8),
                stat(600, "rustc", 600, 300, 0, 9), // +200, half on CPU 1
                stat(601, "cc1", 601, 20, 20, 9),   // +40, half on CPU 1
                stat(602, "pinned-elsewhere", 602, 500, 0, 9),
                stat(700, "new", 700, 6, 0, 50), // new process: all 6 ticks, half
                stat(800, "sh", 800, 2, 0, 60),  // born in the window
                stat(500, "stackwise", 500, 999, 0, 1),
            ],
            &[
                stat(500, "stackwise", 500, 30, 0, 1),   // +20 on 0-1: half
                stat(501, "pss-sampler", 500, 40, 0, 1), // +40 on 0-1: half
                stat(502, "loadgen-0", 500, 900, 0, 1),  // pinned to CPU 0
            ],
        );
        let owners = Owners {
            measured_pgid: Some(100),
            groups: vec![
                (100, "node-http".into()),
                (200, "python-django".into()),
                (300, "upstream".into()),
                (400, "postgres".into()),
            ],
            targets: ["node-http", "python-django"].map(String::from).into(),
        };
        let masks = |t: Task| -> Option<Vec<usize>> {
            Some(match t {
                Task::Process(200 | 201 | 100) => vec![1],
                Task::Process(300 | 400 | 602) => vec![0],
                Task::OwnThread(502) => vec![0],
                Task::Process(800) => return None, // gone: unknown mask, all CPUs
                _ => vec![0, 1],
            })
        };
        let u = attribute(&start, &end, &[1], &owners, 100.0, 2, &masks);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(u.other_targets, 0.06), "{u:?}");
        assert_eq!(u.other_targets_by.len(), 1);
        assert_eq!(u.other_targets_by[0].name, "python-django");
        assert!(
            close(u.lab_services, 0.0),
            "the services ran on CPU 0: {u:?}"
        );
        assert!(close(u.lab_itself, 0.03), "{u:?}"); // (20 + 40) / 2 / 1000
        assert_eq!(u.lab_itself_by[0].name, "pss-sampler");
        assert!(close(u.lab_itself_by[0].share, 0.02));
        // rustc 100, cc1 20, new 3, sh 1 (unknown mask: 1 of 2 CPUs) of 1,000.
        assert!(close(u.machine, 0.124), "{u:?}");
        let top: Vec<&str> = u.machine_top.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(top, ["rustc", "cc1", "new"], "the top three, largest first");
        assert!(close(u.machine_top[0].share, 0.1));
        let text = u.describe();
        assert!(
            text.starts_with("other processes on this machine 12% (rustc 10%, cc1 2.0%"),
            "{text}"
        );
        assert!(
            text.contains("the lab's other targets 6.0% (python-django 6.0%)"),
            "{text}"
        );
        assert!(
            text.contains("the lab's own threads 3.0% (pss-sampler 2.0%, stackwise 1.0%)"),
            "{text}"
        );
        // The server CPU ran 637 of its 1,000 jiffies in all: the pinned tasks (the measured
        // server 500, python-django 60) leave 77 for the tasks that may run elsewhere, estimated
        // at 154 when spread evenly: they are halved.
        let (mut start, mut end) = (start, end);
        start.stat = "cpu1 0 0 0 0 0 0 0 0 0 0\n".into();
        end.stat = "cpu0 999 0 0 0 0 0 0 0 0 0\ncpu1 600 0 37 363 0 0 0 0 0 0\n".into();
        let capped = attribute(&start, &end, &[1], &owners, 100.0, 2, &masks);
        assert!(
            close(capped.other_targets, 0.06),
            "pinned: exact {capped:?}"
        );
        assert!(close(capped.machine, 0.062), "{capped:?}");
        assert!(close(capped.machine_top[0].share, 0.05), "{capped:?}");
        assert!(close(capped.lab_itself, 0.015), "{capped:?}");
        assert_eq!(capped.lab_services, 0.0);
        assert!(
            capped.lab_services.is_sign_positive(),
            "no -0.0 in the data"
        );
        // A zero-length window names nobody.
        assert_eq!(
            attribute(&start, &start, &[1], &owners, 100.0, 2, &masks),
            ServerCpuUse::default()
        );
    }

    #[test]
    fn a_warning_names_who_when_the_samples_do() {
        let w = "other processes used 14% of the server CPUs".to_string();
        let samples = serde_json::json!({"server_cpus_by": {"other_targets": 0.09,
            "other_targets_by": [{"name": "python-django", "share": 0.09}],
            "lab_services": 0.0, "lab_itself": 0.0, "machine": 0.0}});
        assert_eq!(
            warning_with_breakdown(w.clone(), &samples),
            "other processes used 14% of the server CPUs (who: the lab's other targets 9.0% (python-django 9.0%))"
        );
        assert_eq!(warning_with_breakdown(w.clone(), &serde_json::json!({})), w);
    }

    #[test]
    fn a_snapshot_of_this_machine_has_this_process_and_its_threads() {
        let s = Snapshot::take();
        assert!(s.procs.contains_key(&s.own_pid));
        assert!(!s.own_threads.is_empty());
    }
}
