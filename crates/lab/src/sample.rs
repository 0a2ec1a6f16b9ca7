//! Server cost of a whole process tree, and the machine's trust signals.
//!
//! - CPU time of the tree, workers that exited included: the cgroup v2's `cpu.stat` `usage_usec`
//!   where the supervisor could make one, else /proc: the live members' own times plus the times of
//!   the children they reaped (`cutime`/`cstime`), which covers exited workers.
//! - Memory as PSS summed over the tree (`/proc/<pid>/smaps_rollup`): summing RSS would count the
//!   pages forked workers share with their master once per worker.
//! - [`Sampler`]: a background thread samples PSS at a bounded interval while a window is open
//!   (none between windows); windows give CPU seconds, cores used, mean and peak PSS.
//! - [`StealMeter`]: steal time over a window (`/proc/stat`); [`BusyMeter`]: another process's (or
//!   tree's) CPU busy share, to flag a saturated load engine or upstream.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cgroup::Cgroup;

/// Fields of `/proc/<pid>/stat` the lab uses (times in clock ticks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: i32,
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    pub utime: u64,
    pub stime: u64,
    pub cutime: u64,
    pub cstime: u64,
    /// Start time after boot (clock ticks): with the pid, identifies a process across pid reuse.
    pub starttime: u64,
}

/// `/proc/<pid>/stat` of every process that could be read.
pub fn all_stats() -> Vec<ProcStat> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(read_stat)
        .collect()
}

/// Reads `/proc/<pid>/stat` (None if the process is gone).
pub fn read_stat(pid: i32) -> Option<ProcStat> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&s)
}

pub(crate) fn parse_stat(s: &str) -> Option<ProcStat> {
    // The command name is in parentheses and may contain spaces: split after the last ')'.
    let close = s.rfind(')')?;
    let pid = s[..s.find('(')?].trim().parse().ok()?;
    let f: Vec<&str> = s[close + 1..].split_whitespace().collect();
    // f[0] = state (field 3), so field k is f[k - 3].
    let num = |k: usize| -> Option<u64> { f.get(k - 3)?.parse().ok() };
    Some(ProcStat {
        pid,
        state: f.first()?.chars().next()?,
        ppid: num(4)? as i32,
        pgrp: num(5)? as i32,
        utime: num(14)?,
        stime: num(15)?,
        cutime: num(16)?,
        cstime: num(17)?,
        starttime: num(22)?,
    })
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf is always safe.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// PSS of one process in bytes (`smaps_rollup`), None if unreadable.
pub fn pss_bytes(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// A supervised process tree: its root, process group, and cgroup if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessTree {
    pub root: i32,
    pub pgid: i32,
    pub cgroup: Option<Cgroup>,
}

impl ProcessTree {
    /// A tree of one process and its descendants (no process group or cgroup of its own), e.g. a
    /// process this one did not start. Accounting follows the process group `pid` leads, if any.
    pub fn of_process(pid: i32) -> ProcessTree {
        ProcessTree {
            root: pid,
            pgid: pid,
            cgroup: None,
        }
    }

    /// Live processes of the tree: the cgroup's, else the process group's plus the root's
    /// descendants (zombies excluded).
    pub fn pids(&self) -> Vec<i32> {
        if let Some(cg) = &self.cgroup {
            if cg.exists() {
                return cg.pids();
            }
        }
        let all = all_stats();
        let mut tree: Vec<i32> = all
            .iter()
            .filter(|s| s.pgrp == self.pgid || s.pid == self.root)
            .map(|s| s.pid)
            .collect();
        // Descendants by parent, in case some left the group.
        loop {
            let before = tree.len();
            for s in &all {
                if tree.contains(&s.ppid) && !tree.contains(&s.pid) {
                    tree.push(s.pid);
                }
            }
            if tree.len() == before {
                break;
            }
        }
        tree.retain(|p| {
            all.iter()
                .find(|s| s.pid == *p)
                .is_some_and(|s| s.state != 'Z' && s.state != 'X')
        });
        tree
    }

    /// CPU seconds used by the tree so far, exited processes included.
    pub fn cpu_seconds(&self) -> io::Result<f64> {
        if let Some(cg) = &self.cgroup {
            if let Ok(us) = cg.cpu_usage_usec() {
                return Ok(us as f64 / 1e6);
            }
        }
        let mut ticks = 0u64;
        let mut found = false;
        for pid in self.pids_including_zombies() {
            if let Some(s) = read_stat(pid) {
                found = true;
                ticks += s.utime + s.stime + s.cutime + s.cstime;
            }
        }
        if !found {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("process tree of pid {} is gone", self.root),
            ));
        }
        Ok(ticks as f64 / clock_ticks())
    }

    fn pids_including_zombies(&self) -> Vec<i32> {
        all_stats()
            .into_iter()
            .filter(|st| st.pgrp == self.pgid || st.pid == self.root)
            .map(|st| st.pid)
            .collect()
    }

    /// PSS summed over the tree's live processes, in bytes.
    pub fn pss_bytes(&self) -> u64 {
        self.pids().into_iter().filter_map(pss_bytes).sum()
    }
}

/// Cost over a window of a [`Sampler`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostWindow {
    pub wall_seconds: f64,
    /// CPU seconds the tree used in the window.
    pub cpu_seconds: f64,
    /// CPU seconds per second (1.0 = one core fully busy).
    pub cores: f64,
    /// Mean and peak of the PSS samples in the window (bytes); None without samples.
    pub pss_mean_bytes: Option<f64>,
    pub pss_peak_bytes: Option<u64>,
    pub samples: usize,
}

/// The start of a window: see [`Sampler::window_start`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowStart {
    at: Instant,
    cpu_seconds: f64,
    sample_index: usize,
}

#[derive(Debug, Default)]
struct Samples {
    /// (time, PSS bytes) of every sample so far.
    pss: Vec<(Instant, u64)>,
}

/// Samples a process tree's PSS on a background thread every `interval` (bounded: at least 10 ms;
/// samples are kept at most for 24 h of sampling) **while a measuring window is open**: the
/// thread is started by [`Sampler::window_start`] and stopped by [`Sampler::window_end`], so a
/// server waiting between its windows (the suite keeps every target up, interleaved) costs the
/// lab nothing. Ten always-on samplers, each reading `smaps_rollup` of its tree and scanning
/// `/proc` every 200 ms, used about 28% of one CPU in a full suite and ran on the server CPU too,
/// read as "other processes" in the measured target's windows (2026-12-06).
#[derive(Debug)]
pub struct Sampler {
    tree: ProcessTree,
    interval: Duration,
    samples: Arc<Mutex<Samples>>,
    running: Mutex<Running>,
}

/// The sampling thread while windows are open.
#[derive(Debug, Default)]
struct Running {
    /// Windows started and not yet ended.
    open: usize,
    thread: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Sampler {
    /// A sampler of `tree`; no thread runs until a window starts.
    pub fn start(tree: ProcessTree, interval: Duration) -> Sampler {
        Sampler {
            tree,
            interval: interval.max(Duration::from_millis(10)),
            samples: Arc::new(Mutex::new(Samples::default())),
            running: Mutex::new(Running::default()),
        }
    }

    pub fn tree(&self) -> &ProcessTree {
        &self.tree
    }

    /// Whether the sampling thread is alive (a window is open).
    pub fn is_sampling(&self) -> bool {
        self.running
            .lock()
            .expect("sampler")
            .thread
            .as_ref()
            .is_some_and(|(_, t)| !t.is_finished())
    }

    /// PSS samples taken so far, all windows together.
    pub fn samples_taken(&self) -> usize {
        self.samples.lock().expect("samples").pss.len()
    }

    fn spawn(&self) -> (Arc<AtomicBool>, JoinHandle<()>) {
        let interval = self.interval;
        let max_samples = (86_400.0 / interval.as_secs_f64()) as usize;
        let stop = Arc::new(AtomicBool::new(false));
        let (tree, samples, stop2) = (self.tree.clone(), self.samples.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("pss-sampler".into())
            .spawn(move || {
                let stop = stop2;
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let v = tree.pss_bytes();
                    {
                        let mut s = samples.lock().expect("samples");
                        if s.pss.len() < max_samples {
                            s.pss.push((Instant::now(), v));
                        }
                    }
                    next += interval;
                    let now = Instant::now();
                    if next > now {
                        // Sleep in short steps so that stop is prompt.
                        let mut left = next - now;
                        while left > Duration::ZERO && !stop.load(Ordering::Relaxed) {
                            let step = left.min(Duration::from_millis(20));
                            std::thread::sleep(step);
                            left = left.saturating_sub(step);
                        }
                    } else {
                        next = now;
                    }
                }
            })
            .expect("spawn sampler");
        (stop, thread)
    }

    /// Marks the start of a measuring window, and starts sampling (if no window was open).
    pub fn window_start(&self) -> WindowStart {
        let start = WindowStart {
            at: Instant::now(),
            cpu_seconds: self.tree.cpu_seconds().unwrap_or(0.0),
            sample_index: self.samples.lock().expect("samples").pss.len(),
        };
        let mut r = self.running.lock().expect("sampler");
        r.open += 1;
        if r.thread.is_none() {
            r.thread = Some(self.spawn());
        }
        start
    }

    /// Cost from `start` to now. A window shorter than the interval takes one fresh PSS sample.
    /// Stops sampling when no other window is open.
    pub fn window_end(&self, start: &WindowStart) -> CostWindow {
        let cpu_now = self.tree.cpu_seconds().unwrap_or(start.cpu_seconds);
        let wall = start.at.elapsed().as_secs_f64();
        {
            let mut r = self.running.lock().expect("sampler");
            r.open = r.open.saturating_sub(1);
            if r.open == 0 {
                if let Some((stop, t)) = r.thread.take() {
                    stop.store(true, Ordering::Relaxed);
                    let _ = t.join();
                }
            }
        }
        let mut values: Vec<u64> = {
            let s = self.samples.lock().expect("samples");
            s.pss[start.sample_index.min(s.pss.len())..]
                .iter()
                .map(|&(_, v)| v)
                .collect()
        };
        if values.is_empty() {
            let v = self.tree.pss_bytes();
            if v > 0 {
                values.push(v);
            }
        }
        let cpu = (cpu_now - start.cpu_seconds).max(0.0);
        CostWindow {
            wall_seconds: wall,
            cpu_seconds: cpu,
            cores: if wall > 0.0 { cpu / wall } else { 0.0 },
            pss_mean_bytes: (!values.is_empty())
                .then(|| values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64),
            pss_peak_bytes: values.iter().copied().max(),
            samples: values.len(),
        }
    }

    /// Stops the sampling thread.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let mut r = self.running.lock().unwrap_or_else(|p| p.into_inner());
        r.open = 0;
        if let Some((stop, t)) = r.thread.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = t.join();
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Aggregate CPU times from the `cpu ` line of /proc/stat (clock ticks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTimes {
    pub total: u64,
    pub steal: u64,
    pub idle: u64,
}

impl CpuTimes {
    pub fn read() -> io::Result<CpuTimes> {
        let s = std::fs::read_to_string("/proc/stat")?;
        parse_cpu_line(&s).ok_or_else(|| io::Error::other("/proc/stat has no cpu line"))
    }
}

fn parse_cpu_line(s: &str) -> Option<CpuTimes> {
    let line = s.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal guest guest_nice; guest is inside user.
    let total = v.iter().take(8).sum();
    Some(CpuTimes {
        total,
        idle: v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0),
        steal: v.get(7).copied().unwrap_or(0),
    })
}

/// Steal time over a window: the share of all CPU time the hypervisor took.
#[derive(Debug, Clone, Copy)]
pub struct StealMeter {
    start: CpuTimes,
}

impl StealMeter {
    pub fn start() -> StealMeter {
        StealMeter {
            start: CpuTimes::read().unwrap_or_default(),
        }
    }

    /// Steal share (0.0–1.0) since `start`.
    pub fn share(&self) -> f64 {
        let now = CpuTimes::read().unwrap_or(self.start);
        let total = now.total.saturating_sub(self.start.total);
        if total == 0 {
            0.0
        } else {
            now.steal.saturating_sub(self.start.steal) as f64 / total as f64
        }
    }
}

/// CPU busy share of a process tree over a window (e.g. the upstream, or the load engine),
/// relative to the CPUs it may use: ≥ 0.9 means it was probably the bottleneck.
#[derive(Debug, Clone)]
pub struct BusyMeter {
    tree: ProcessTree,
    at: Instant,
    cpu: f64,
}

impl BusyMeter {
    pub fn start(tree: ProcessTree) -> BusyMeter {
        BusyMeter {
            at: Instant::now(),
            cpu: tree.cpu_seconds().unwrap_or(0.0),
            tree,
        }
    }

    /// CPU seconds per second since `start` (1.0 = one core busy).
    pub fn cores(&self) -> f64 {
        let wall = self.at.elapsed().as_secs_f64();
        let cpu = self.tree.cpu_seconds().unwrap_or(self.cpu) - self.cpu;
        if wall > 0.0 {
            cpu.max(0.0) / wall
        } else {
            0.0
        }
    }

    /// Busy share of `cpus` CPUs (0.0–1.0).
    pub fn share(&self, cpus: usize) -> f64 {
        self.cores() / cpus.max(1) as f64
    }
}

/// CPU seconds this process has used so far (all threads): for the busy share of an in-process
/// load engine, take it with `Instant::now()` at both ends of a window.
pub fn own_cpu_seconds() -> f64 {
    loadgen::cpu::process_cpu_time().total().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::{SpawnSpec, Supervised};

    #[test]
    fn parses_stat_with_spaces_in_the_name() {
        let s =
            "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0 777 0";
        let st = parse_stat(s).unwrap();
        assert_eq!((st.pid, st.state, st.ppid, st.pgrp), (1234, 'S', 1, 1234));
        assert_eq!((st.utime, st.stime, st.cutime, st.cstime), (250, 50, 7, 3));
        assert_eq!(st.starttime, 777);
    }

    #[test]
    fn parses_the_cpu_line() {
        let t = parse_cpu_line("cpu  10 0 5 80 5 0 0 3 0 0\ncpu0 1 2 3\n").unwrap();
        assert_eq!((t.total, t.steal, t.idle), (103, 3, 85));
    }

    fn spawn(script: &str, cgroup: bool) -> Supervised {
        Supervised::spawn(&SpawnSpec {
            name: "burner".into(),
            command: vec!["sh".into(), "-c".into(), script.into()],
            cwd: std::env::temp_dir(),
            env: vec![],
            cpus: vec![],
            cgroup,
        })
        .unwrap()
    }

    /// Workers that burn CPU and exit must still be counted, in both accounting modes: each
    /// worker reports its own CPU time (`times`) before exiting; the tree's total must cover them.
    #[test]
    fn cpu_of_exited_workers_is_counted() {
        for cgroup in [true, false] {
            let mut p = spawn(
                "for w in 1 2; do (i=0; while [ $i -lt 60000 ]; do i=$((i+1)); done; times) & done; \
                 wait; echo done; sleep 30",
                cgroup,
            );
            let t0 = Instant::now();
            while !p.output().stdout(6).iter().any(|l| l == "done") {
                assert!(
                    t0.elapsed() < Duration::from_secs(30),
                    "{:?}",
                    p.output().stdout(5)
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            let reported: f64 = p
                .output()
                .stdout(6)
                .iter()
                .filter(|l| l.contains('m'))
                .map(|l| {
                    l.split_whitespace()
                        .map(|t| {
                            let (m, s) = t.split_once('m').unwrap();
                            m.parse::<f64>().unwrap() * 60.0
                                + s.trim_end_matches('s').parse::<f64>().unwrap()
                        })
                        .sum::<f64>()
                })
                .sum();
            assert!(reported > 0.02, "the workers burned CPU: {reported}");
            let tree = p.tree();
            let cpu = tree.cpu_seconds().unwrap();
            // Tick granularity (10 ms per process) is the only slack.
            assert!(
                cpu + 0.03 >= reported,
                "cgroup={cgroup} ({}): tree {cpu} s < workers' own {reported} s",
                p.has_cgroup()
            );
            assert!(tree.pss_bytes() > 0);
            p.stop(Duration::from_millis(200));
        }
    }

    fn rss_bytes(pid: i32) -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    }

    /// A master touching 64 MiB then forking two workers: summing RSS counts the shared pages three
    /// times, PSS once.
    #[test]
    fn pss_counts_pages_shared_by_forked_workers_once() {
        let mut p = Supervised::spawn(&SpawnSpec {
            name: "forker".into(),
            command: vec![
                "python3".into(),
                "-c".into(),
                "import os, time\nb = b'x' * (64 << 20)\nfor _ in range(2):\n    if os.fork() == 0:\n        time.sleep(60)\n        os._exit(0)\nprint('forked', flush=True)\ntime.sleep(60)\n".into(),
            ],
            cwd: std::env::temp_dir(),
            env: vec![],
            cpus: vec![],
            cgroup: true,
        })
        .unwrap();
        let t0 = Instant::now();
        while p.output().stdout(1).is_empty() {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "{:?}",
                p.output().best(5)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let tree = p.tree();
        let pids = tree.pids();
        assert_eq!(pids.len(), 3, "{pids:?}");
        let rss: u64 = pids.iter().map(|&pid| rss_bytes(pid)).sum();
        let pss = tree.pss_bytes();
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        assert!(mib(rss) > 3.0 * 64.0 * 0.95, "RSS sum {:.1} MiB", mib(rss));
        assert!(
            mib(pss) > 64.0 && mib(pss) < 64.0 * 1.5,
            "PSS {:.1} MiB (RSS sum {:.1} MiB)",
            mib(pss),
            mib(rss)
        );
        p.stop(Duration::from_millis(500));
    }

    /// Between its windows a target costs the lab nothing: no sampling thread, no samples.
    #[test]
    fn the_sampler_samples_only_inside_its_windows() {
        let mut p = spawn("sleep 30", true);
        let s = Sampler::start(p.tree(), Duration::from_millis(10));
        std::thread::sleep(Duration::from_millis(80));
        assert!(!s.is_sampling());
        assert_eq!(s.samples_taken(), 0, "no window yet: nothing sampled");
        for _ in 0..2 {
            let w = s.window_start();
            assert!(s.is_sampling());
            std::thread::sleep(Duration::from_millis(60));
            let c = s.window_end(&w);
            assert!(c.samples >= 1, "{c:?}");
            assert!(!s.is_sampling(), "the window ended: the thread is gone");
            let after = s.samples_taken();
            std::thread::sleep(Duration::from_millis(80));
            assert_eq!(s.samples_taken(), after, "no sample between windows");
        }
        // A window shorter than the interval still gets one fresh sample.
        let slow = Sampler::start(p.tree(), Duration::from_secs(5));
        let w = slow.window_start();
        std::thread::sleep(Duration::from_millis(30));
        let _ = slow.window_end(&w);
        let w = slow.window_start();
        let c = slow.window_end(&w);
        assert_eq!(c.samples, 1, "{c:?}");
        assert!(!slow.is_sampling());
        p.stop(Duration::from_millis(200));
    }

    #[test]
    fn sampler_window_reports_pss_and_cpu() {
        let mut p = spawn("sleep 30", true);
        let s = Sampler::start(p.tree(), Duration::from_millis(10));
        let w = s.window_start();
        std::thread::sleep(Duration::from_millis(100));
        let c = s.window_end(&w);
        assert!(c.samples >= 3, "{c:?}");
        assert!(c.pss_peak_bytes.unwrap() > 0);
        assert!(c.pss_mean_bytes.unwrap() <= c.pss_peak_bytes.unwrap() as f64);
        assert!(c.cores < 0.5, "an idle sleep uses no CPU: {c:?}");
        s.stop();
        p.stop(Duration::from_millis(200));
        let steal = StealMeter::start().share();
        assert!((0.0..=1.0).contains(&steal));
    }
}
