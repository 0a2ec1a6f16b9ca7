//! The supervisor of target processes, modelled on cargo-nextest's: every target (and the upstream)
//! runs in its own process group, pinned to its CPUs (`sched_setaffinity` before `exec`, inherited by
//! the workers it forks), inside its own cgroup v2 where one can be made, with stdout/stderr captured
//! into a bounded ring of last lines (for failure messages).
//!
//! - [`Supervised::spawn`] starts one process tree ([`Supervised::spawn_piped`]: the caller reads
//!   its output); [`Supervised::stop`] sends SIGTERM to the group,
//!   SIGKILL after a grace period, then verifies that no process of the group (or cgroup) is left,
//!   reports leaked ones and kills them. `Drop` kills too.
//! - [`start_server`] adds a free port (port in use → another port, retried) and readiness: the ready
//!   path is polled until it answers 200, within a bounded timeout; the cold start (spawn → first
//!   200) is measured.
//! - A process-wide registry of live groups: [`kill_all`] (for the CLI's Ctrl-C handler) and
//!   [`install_panic_hook`] kill every one of them.
//! - [`job`]: a long-running child for a UI (the web UI's lab run), its output as events.
//! - [`Supervised::check_alive`] detects a target that crashed (exit status + last stderr lines).
//! - Every process is started by [`spawn_tied`]: from one long-lived spawner thread, with
//!   `PR_SET_PDEATHSIG` = SIGKILL, so that it dies with the lab however the lab ends (SIGKILL, OOM;
//!   the signal fires when the *thread* that forked exits, hence the dedicated thread). It covers
//!   the direct child only: its own workers are ended by the run lock's watchdog and sweep
//!   ([`crate::runlock`]), to which the registry reports every group as it comes and goes.

pub mod job;

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use crate::cgroup::Cgroup;
use crate::sample::ProcessTree;

/// Lines kept per stream (stdout, stderr).
pub const TAIL_LINES: usize = 200;
const MAX_LINE: usize = 1000;

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct SpawnSpec {
    /// Shown in messages (e.g. the target name).
    pub name: String,
    /// Program and arguments (a relative program path containing '/' is taken from `cwd`).
    pub command: Vec<String>,
    pub cwd: PathBuf,
    /// Added to the inherited environment.
    pub env: Vec<(String, String)>,
    /// CPUs to pin the tree to (empty: not pinned).
    pub cpus: Vec<usize>,
    /// Try to run the tree in its own cgroup v2 (falls back to /proc accounting when impossible).
    pub cgroup: bool,
}

/// The last lines a process wrote.
#[derive(Debug, Default)]
pub struct OutputTail {
    stdout: Mutex<VecDeque<String>>,
    stderr: Mutex<VecDeque<String>>,
}

impl OutputTail {
    fn push(&self, err: bool, line: String) {
        let mut q = if err { &self.stderr } else { &self.stdout }
            .lock()
            .expect("tail");
        if q.len() == TAIL_LINES {
            q.pop_front();
        }
        q.push_back(line);
    }

    /// The last `n` lines of stderr.
    pub fn stderr(&self, n: usize) -> Vec<String> {
        last(&self.stderr.lock().expect("tail"), n)
    }

    /// The last `n` lines of stdout.
    pub fn stdout(&self, n: usize) -> Vec<String> {
        last(&self.stdout.lock().expect("tail"), n)
    }

    /// The last `n` lines of stderr, else of stdout when stderr is empty.
    pub fn best(&self, n: usize) -> Vec<String> {
        let e = self.stderr(n);
        if e.is_empty() {
            self.stdout(n)
        } else {
            e
        }
    }
}

fn last(q: &VecDeque<String>, n: usize) -> Vec<String> {
    q.iter().skip(q.len().saturating_sub(n)).cloned().collect()
}

/// A process that ended when it should not have.
#[derive(Debug, Clone, PartialEq)]
pub struct Crash {
    pub name: String,
    pub status: String,
    pub stderr_tail: Vec<String>,
}

impl fmt::Display for Crash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.status)?;
        write_tail(f, &self.stderr_tail)
    }
}

impl std::error::Error for Crash {}

fn write_tail(f: &mut fmt::Formatter<'_>, tail: &[String]) -> fmt::Result {
    if tail.is_empty() {
        write!(f, " (it printed nothing)")
    } else {
        write!(f, "; its last output lines:")?;
        for l in tail {
            write!(f, "\n  | {l}")?;
        }
        Ok(())
    }
}

/// Describes an exit status in words: "exited with status 1", "was killed by signal 9 (SIGKILL)".
pub fn describe_exit(s: &ExitStatus) -> String {
    if let Some(code) = s.code() {
        format!("exited with status {code}")
    } else if let Some(sig) = s.signal() {
        format!("was killed by signal {sig} ({})", signal_name(sig))
    } else {
        format!("ended ({s})")
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGTERM => "SIGTERM",
        libc::SIGKILL => "SIGKILL",
        libc::SIGINT => "SIGINT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGHUP => "SIGHUP",
        libc::SIGPIPE => "SIGPIPE",
        _ => "signal",
    }
}

/// A process still alive after a stop, found and killed.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaked {
    pub pid: i32,
    pub cmdline: String,
}

/// How a stop went.
#[derive(Debug, Clone, PartialEq)]
pub struct StopReport {
    pub name: String,
    /// The root process's exit, in words.
    pub exit: Option<String>,
    /// It had already ended before the stop (a crash, unless expected).
    pub ended_before_stop: bool,
    /// SIGTERM did not end the tree within the grace period; SIGKILL was sent.
    pub forced: bool,
    /// Processes of the tree left after SIGTERM + SIGKILL, or that escaped the process group (found
    /// in the cgroup): reported and killed.
    pub leaked: Vec<Leaked>,
    pub took: Duration,
}

// ---------------------------------------------------------------------------------------------
// Registry of live groups.

#[derive(Debug, Clone)]
struct LiveGroup {
    id: u64,
    pgid: i32,
    cgroup: Option<Cgroup>,
    /// Sent to the root only instead of SIGTERM to the group (e.g. SIGINT: PostgreSQL's fast
    /// shutdown; its postmaster stops its own children).
    stop_signal: Option<i32>,
    /// What it is (a target's name, `upstream`, `postgres`, an install step's).
    name: String,
}

static LIVE: Mutex<Vec<LiveGroup>> = Mutex::new(Vec::new());
/// Directories removed by [`kill_all`] once every group is dead (e.g. a database cluster's).
static CLEANUP_DIRS: Mutex<Vec<(u64, PathBuf)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn register(pgid: i32, cgroup: Option<Cgroup>, stop_signal: Option<i32>, name: &str) -> u64 {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    live().push(LiveGroup {
        id,
        pgid,
        cgroup,
        stop_signal,
        name: name.to_string(),
    });
    crate::runlock::group_started(pgid, name);
    id
}

fn cleanup_dirs() -> std::sync::MutexGuard<'static, Vec<(u64, PathBuf)>> {
    CLEANUP_DIRS.lock().unwrap_or_else(|p| p.into_inner())
}

/// A directory [`kill_all`] deletes (after killing every group) while the guard lives; dropping
/// the guard forgets it (the owner deletes it itself on a normal stop).
#[derive(Debug)]
pub struct CleanupDir {
    id: u64,
}

impl CleanupDir {
    pub fn register(dir: PathBuf) -> CleanupDir {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        crate::runlock::temp_dir_created(&dir);
        cleanup_dirs().push((id, dir));
        CleanupDir { id }
    }
}

impl Drop for CleanupDir {
    fn drop(&mut self) {
        cleanup_dirs().retain(|(id, dir)| {
            if *id == self.id {
                crate::runlock::temp_dir_removed(dir);
            }
            *id != self.id
        });
    }
}

fn unregister(id: u64) {
    let mut ended = Vec::new();
    live().retain(|g| {
        if g.id == id {
            ended.push(g.pgid);
        }
        g.id != id
    });
    for pgid in ended {
        crate::runlock::group_ended(pgid);
    }
}

fn live() -> std::sync::MutexGuard<'static, Vec<LiveGroup>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The live supervised groups of this process: (process group id, name), e.g. to tell which
/// processes are the lab's own ([`crate::culprits`]).
pub fn live_groups() -> Vec<(i32, String)> {
    live().iter().map(|g| (g.pgid, g.name.clone())).collect()
}

/// Number of live supervised groups in this process.
pub fn live_count() -> usize {
    live().len()
}

/// Kills every live supervised group (SIGTERM, up to `grace` for them to end, then SIGKILL, and
/// their cgroups), and marks the process as interrupted ([`interrupted`]). For a Ctrl-C handler and
/// panics; the [`Supervised`] handles still own their reaping. Returns how many groups there were.
pub fn kill_all(grace: Duration) -> usize {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let groups: Vec<LiveGroup> = live().clone();
    for g in &groups {
        // SAFETY: plain syscall on a group we created (or its root).
        unsafe {
            match g.stop_signal {
                Some(sig) => libc::kill(g.pgid, sig),
                None => libc::kill(-g.pgid, libc::SIGTERM),
            };
        }
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && groups.iter().any(|g| !group_members(g.pgid).is_empty()) {
        std::thread::sleep(Duration::from_millis(10));
    }
    for g in &groups {
        // SAFETY: as above.
        unsafe {
            libc::kill(-g.pgid, libc::SIGKILL);
        }
        if let Some(cg) = &g.cgroup {
            cg.kill_all();
        }
    }
    // Remove the emptied cgroups too (the process may exit before the handles' drops run).
    for cg in groups.iter().filter_map(|g| g.cgroup.as_ref()) {
        cg.remove();
    }
    // Wait (briefly) for the SIGKILLed groups to be gone, then delete the registered directories.
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && groups.iter().any(|g| !group_members(g.pgid).is_empty()) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let dirs: Vec<PathBuf> = cleanup_dirs().iter().map(|(_, d)| d.clone()).collect();
    for d in dirs {
        let _ = std::fs::remove_dir_all(&d);
    }
    groups.len()
}

/// Whether [`kill_all`] ran (Ctrl-C or a panic): long operations should wind down.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Chains a panic hook that kills every live group (once), after printing the panic.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            kill_all(Duration::from_millis(200));
        }));
    });
}

/// A process group started elsewhere (e.g. an install step) registered for [`kill_all`] while the
/// guard lives.
#[derive(Debug)]
pub struct ExternalGroup {
    id: u64,
}

impl ExternalGroup {
    pub fn register(pgid: i32, name: &str) -> ExternalGroup {
        ExternalGroup {
            id: register(pgid, None, None, name),
        }
    }
}

impl Drop for ExternalGroup {
    fn drop(&mut self) {
        unregister(self.id);
    }
}

/// PIDs whose process group is `pgid` (zombies excluded), from /proc.
pub fn group_members(pgid: i32) -> Vec<i32> {
    crate::sample::all_stats()
        .into_iter()
        .filter(|st| st.pgrp == pgid && st.state != 'Z' && st.state != 'X')
        .map(|st| st.pid)
        .collect()
}

/// The process `pid` started at `start` (clock ticks after boot) is alive (not a zombie).
fn alive_as(pid: i32, start: u64) -> bool {
    crate::sample::read_stat(pid)
        .is_some_and(|s| s.starttime == start && s.state != 'Z' && s.state != 'X')
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .split('\0')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// One supervised process tree.

/// A running process tree in its own process group.
#[derive(Debug)]
pub struct Supervised {
    name: String,
    child: Child,
    pgid: i32,
    registry_id: u64,
    spawned_at: Instant,
    output: Arc<OutputTail>,
    cgroup: Option<Cgroup>,
    exit: Option<ExitStatus>,
    stop_report: Option<StopReport>,
    cpus: Vec<usize>,
    stop_signal: Option<i32>,
}

/// Extra settings of a spawn, beyond [`SpawnSpec`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpawnExtra {
    /// Run as this uid/gid (`Command::uid/gid`, supplementary groups dropped), e.g. `nobody` for
    /// PostgreSQL, which refuses to run as root.
    pub user: Option<(u32, u32)>,
    /// Stop by sending this signal to the root process only (it stops its own children), instead
    /// of SIGTERM to the group; SIGKILL to the group still follows after the grace period.
    pub stop_signal: Option<i32>,
}

/// Why a process could not be started.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot start {name} (`{program}`): {reason}")]
pub struct SpawnError {
    pub name: String,
    pub program: String,
    pub reason: String,
}

impl Supervised {
    /// Starts `spec` in a new process group, pinned, in a fresh cgroup when possible.
    pub fn spawn(spec: &SpawnSpec) -> Result<Supervised, SpawnError> {
        Supervised::spawn_ext(spec, SpawnExtra::default())
    }

    /// [`Supervised::spawn`] with [`SpawnExtra`] settings (another user, a stop signal).
    pub fn spawn_ext(spec: &SpawnSpec, extra: SpawnExtra) -> Result<Supervised, SpawnError> {
        Supervised::spawn_inner(spec, extra, true)
    }

    /// [`Supervised::spawn_ext`], but the caller reads the output itself: the pipes of its stdout
    /// and stderr are returned ([`Supervised::output`] stays empty). E.g. the web UI streams a
    /// `stackwise lab` child's lines to the browser.
    pub fn spawn_piped(
        spec: &SpawnSpec,
        extra: SpawnExtra,
    ) -> Result<(Supervised, ChildStdout, ChildStderr), SpawnError> {
        let mut s = Supervised::spawn_inner(spec, extra, false)?;
        let (out, err) = (s.child.stdout.take(), s.child.stderr.take());
        match (out, err) {
            (Some(out), Some(err)) => Ok((s, out, err)),
            _ => unreachable!("both streams are piped"),
        }
    }

    fn spawn_inner(
        spec: &SpawnSpec,
        extra: SpawnExtra,
        read_output: bool,
    ) -> Result<Supervised, SpawnError> {
        let fail = |reason: String| SpawnError {
            name: spec.name.clone(),
            program: spec.command.first().cloned().unwrap_or_default(),
            reason,
        };
        let Some(program) = spec.command.first() else {
            return Err(fail("empty command".into()));
        };
        if !spec.cpus.is_empty() {
            // The process's CPUs, not this thread's (pinned off the server CPUs during a run).
            let allowed = crate::affinity::process_cpus();
            if let Some(c) = spec.cpus.iter().find(|c| !allowed.contains(c)) {
                return Err(fail(format!(
                    "CPU {c} is not available to this process (available: {allowed:?})"
                )));
            }
        }
        let program_path = if program.contains('/') && !program.starts_with('/') {
            spec.cwd.join(program)
        } else {
            PathBuf::from(program)
        };
        let cgroup = if spec.cgroup {
            Cgroup::create(&spec.name)
        } else {
            None
        };
        let procs_fd = cgroup.as_ref().and_then(|cg| {
            std::fs::OpenOptions::new()
                .write(true)
                .open(cg.procs_file())
                .ok()
        });
        let mut cmd = Command::new(&program_path);
        cmd.args(&spec.command[1..])
            .current_dir(&spec.cwd)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = extra.user {
            cmd.uid(uid).gid(gid);
        }
        let cpus = spec.cpus.clone();
        let raw_fd = procs_fd.as_ref().map(std::os::fd::AsRawFd::as_raw_fd);
        // SAFETY: only async-signal-safe syscalls between fork and exec; `cpus` and the fd were
        // prepared before the fork.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setpgid(0, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if !cpus.is_empty() {
                    let mut set: libc::cpu_set_t = std::mem::zeroed();
                    for &c in &cpus {
                        libc::CPU_SET(c, &mut set);
                    }
                    if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0
                    {
                        return Err(io::Error::last_os_error());
                    }
                }
                if let Some(fd) = raw_fd {
                    if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                        return Err(io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let spawned_at = Instant::now();
        let spawned = spawn_tied(cmd);
        drop(procs_fd);
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                if let Some(cg) = &cgroup {
                    cg.remove();
                    // Joining the cgroup can fail where creating it did not (delegation rules):
                    // run without one (CPU accounting falls back to /proc).
                    if e.kind() != io::ErrorKind::NotFound {
                        return Supervised::spawn_inner(
                            &SpawnSpec {
                                cgroup: false,
                                ..spec.clone()
                            },
                            extra,
                            read_output,
                        );
                    }
                }
                let reason = if e.kind() == io::ErrorKind::NotFound {
                    if program.contains('/') {
                        format!("{} does not exist", program_path.display())
                    } else {
                        format!("`{program}` was not found on PATH")
                    }
                } else {
                    e.to_string()
                };
                return Err(fail(reason));
            }
        };
        let pid = child.id() as i32;
        let registry_id = register(pid, cgroup.clone(), extra.stop_signal, &spec.name);
        let output = Arc::new(OutputTail::default());
        if read_output {
            if let Some(out) = child.stdout.take() {
                reader(out, false, output.clone(), &spec.name);
            }
            if let Some(err) = child.stderr.take() {
                reader(err, true, output.clone(), &spec.name);
            }
        }
        Ok(Supervised {
            name: spec.name.clone(),
            child,
            pgid: pid,
            registry_id,
            spawned_at,
            output,
            cgroup,
            exit: None,
            stop_report: None,
            cpus: spec.cpus.clone(),
            stop_signal: extra.stop_signal,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The root process's pid (also the process group id).
    pub fn pid(&self) -> i32 {
        self.pgid
    }

    pub fn cpus(&self) -> &[usize] {
        &self.cpus
    }

    /// When `spawn` was called (for the cold start).
    pub fn spawned_at(&self) -> Instant {
        self.spawned_at
    }

    /// The last lines it wrote.
    pub fn output(&self) -> &OutputTail {
        &self.output
    }

    /// The process tree, for sampling CPU and memory ([`crate::sample`]).
    pub fn tree(&self) -> ProcessTree {
        ProcessTree {
            root: self.pgid,
            pgid: self.pgid,
            cgroup: self.cgroup.clone(),
        }
    }

    /// Whether its CPU time is accounted by a cgroup (else /proc).
    pub fn has_cgroup(&self) -> bool {
        self.cgroup.is_some()
    }

    /// The root's exit status, if it has ended (reaps it).
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// `Err` with the exit status and last stderr lines when the root process has ended.
    pub fn check_alive(&mut self) -> Result<(), Crash> {
        match self.try_exit() {
            None => Ok(()),
            Some(s) => {
                // Let the reader threads catch the last lines.
                std::thread::sleep(Duration::from_millis(20));
                Err(Crash {
                    name: self.name.clone(),
                    status: describe_exit(&s),
                    stderr_tail: self.output.best(20),
                })
            }
        }
    }

    /// Stops the tree: SIGTERM to the group, SIGKILL after `grace`, then checks that nothing of it
    /// is left (leaked processes are reported and killed), and removes its cgroup. Idempotent.
    pub fn stop(&mut self, grace: Duration) -> StopReport {
        if let Some(r) = &self.stop_report {
            return r.clone();
        }
        let t0 = Instant::now();
        let ended_before_stop = self.try_exit().is_some();
        let mut forced = false;
        // Descendants that left the process group (setsid, setpgid) are found by parentage now,
        // while their parents are alive, and signalled with the group.
        let escaped: Vec<(i32, u64)> = self
            .tree()
            .pids()
            .into_iter()
            .filter_map(crate::sample::read_stat)
            .filter(|s| s.pgrp != self.pgid)
            .map(|s| (s.pid, s.starttime))
            .collect();
        // SAFETY: signals to our own process group and its descendants.
        unsafe {
            match self.stop_signal {
                Some(sig) => libc::kill(self.pgid, sig),
                None => libc::kill(-self.pgid, libc::SIGTERM),
            };
            for &(pid, _) in &escaped {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let gone = self.wait_gone(grace);
        // Outside the process group and still alive after SIGTERM: a plain group stop would have
        // left these behind. They are reported as leaked (and killed below).
        let mut leaked_pids: Vec<i32> = Vec::new();
        for &(pid, start) in &escaped {
            if alive_as(pid, start) {
                leaked_pids.push(pid);
            }
        }
        if let Some(cg) = &self.cgroup {
            let members = group_members(self.pgid);
            for p in cg.pids() {
                if !members.contains(&p) && !leaked_pids.contains(&p) {
                    leaked_pids.push(p);
                }
            }
        }
        let mut leaked: Vec<Leaked> = leaked_pids
            .iter()
            .map(|&pid| Leaked {
                pid,
                cmdline: cmdline(pid),
            })
            .collect();
        if !gone {
            forced = true;
            // SAFETY: as above.
            unsafe {
                libc::kill(-self.pgid, libc::SIGKILL);
            }
        }
        for &pid in &leaked_pids {
            // SAFETY: killing a process of the tree we started.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        if let Some(cg) = &self.cgroup {
            cg.kill_all();
        }
        if !gone || !leaked_pids.is_empty() {
            self.wait_gone(Duration::from_secs(2));
        }
        // Verify: anything of the group still there after SIGKILL is leaked too.
        for pid in group_members(self.pgid) {
            if !leaked.iter().any(|l| l.pid == pid) {
                leaked.push(Leaked {
                    pid,
                    cmdline: cmdline(pid),
                });
            }
            // SAFETY: as above.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        if let Some(cg) = &self.cgroup {
            cg.kill_all();
            cg.remove();
        }
        let _ = self.child.wait().map(|s| self.exit = Some(s));
        unregister(self.registry_id);
        let report = StopReport {
            name: self.name.clone(),
            exit: self.exit.as_ref().map(describe_exit),
            ended_before_stop,
            forced,
            leaked,
            took: t0.elapsed(),
        };
        self.stop_report = Some(report.clone());
        report
    }

    /// Waits until the group (and cgroup) is empty; false on timeout.
    fn wait_gone(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            self.try_exit();
            let cg_empty = self.cgroup.as_ref().is_none_or(|cg| cg.pids().is_empty());
            if self.exit.is_some() && group_members(self.pgid).is_empty() && cg_empty {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if self.stop_report.is_none() {
            // SAFETY: our own group.
            unsafe {
                libc::kill(-self.pgid, libc::SIGKILL);
            }
            if let Some(cg) = &self.cgroup {
                cg.kill_all();
            }
            let _ = self.child.wait();
            if let Some(cg) = &self.cgroup {
                cg.remove();
            }
            unregister(self.registry_id);
        }
    }
}

type SpawnJob = (Command, mpsc::Sender<io::Result<Child>>);

static SPAWNER: OnceLock<mpsc::Sender<SpawnJob>> = OnceLock::new();

/// Spawns `cmd` so that it dies with this process: `PR_SET_PDEATHSIG` = SIGKILL (and, if this
/// process already died between the fork and the `prctl`, the child ends itself), forked from one
/// spawner thread that lives as long as the process (the death signal fires when the forking
/// *thread* exits). Only the direct child is covered: its own children are not.
pub fn spawn_tied(mut cmd: Command) -> io::Result<Child> {
    // SAFETY: getpid before the fork; prctl, getppid and _exit are async-signal-safe.
    let parent = unsafe { libc::getpid() };
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("stackwise-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("cannot start the spawner thread");
        tx
    });
    let (reply, answer) = mpsc::channel();
    tx.send((cmd, reply))
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    answer
        .recv()
        .map_err(|_| io::Error::other("the spawner thread is gone"))?
}

fn reader<R: Read + Send + 'static>(r: R, err: bool, tail: Arc<OutputTail>, name: &str) {
    let _ = std::thread::Builder::new()
        .name(format!("{name}-{}", if err { "stderr" } else { "stdout" }))
        .spawn(move || {
            let mut r = BufReader::new(r);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let mut line = String::from_utf8_lossy(&buf).trim_end().to_string();
                        if line.len() > MAX_LINE {
                            let mut cut = MAX_LINE;
                            while !line.is_char_boundary(cut) {
                                cut -= 1;
                            }
                            line.truncate(cut);
                            line.push('…');
                        }
                        tail.push(err, line);
                    }
                }
            }
        });
}

// ---------------------------------------------------------------------------------------------
// Servers: a port, readiness, cold start.

/// A free loopback port (bound then released).
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// Whether `port` can be bound on 127.0.0.1 now.
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// How to start a server and know it is ready.
pub struct ServerSpec<'a> {
    pub name: String,
    /// Builds the spawn spec for a port (placeholders expanded by the caller).
    pub make: &'a dyn Fn(u16) -> Result<SpawnSpec, crate::launch::ResolveError>,
    /// A preferred port; if it is in use another one is picked.
    pub port: Option<u16>,
    /// Polled until it answers 200.
    pub ready_path: String,
    pub ready_timeout: Duration,
    /// Attempts with a fresh port when the server reports its port in use.
    pub attempts: u32,
}

/// A server that answered its ready path.
#[derive(Debug)]
pub struct Server {
    pub process: Supervised,
    pub port: u16,
    /// Spawn → first 200 on the ready path.
    pub cold_start: Duration,
    /// What happened on the way, for the run's notes (e.g. a port taken between the free-port
    /// check and the server's bind, retried on another port).
    pub notes: Vec<String>,
}

impl Server {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn check_alive(&mut self) -> Result<(), Crash> {
        self.process.check_alive()
    }

    pub fn stop(&mut self, grace: Duration) -> StopReport {
        self.process.stop(grace)
    }
}

/// Why a server did not become ready.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    #[error("{name}: {message}")]
    Config { name: String, message: String },
    #[error("{}", crash_message(.name, .port, .crash))]
    Exited {
        name: String,
        port: u16,
        crash: Crash,
    },
    #[error("{}", timeout_message(.name, .port, .path, .waited, .last_answer, .tail))]
    Timeout {
        name: String,
        port: u16,
        path: String,
        waited: Duration,
        last_answer: String,
        tail: Vec<String>,
    },
    #[error("{name}: no free port after {attempts} attempts (each reported its port in use)")]
    NoPort { name: String, attempts: u32 },
}

fn crash_message(name: &str, port: &u16, crash: &Crash) -> String {
    let mut s = format!(
        "{name} ended before it was ready on port {port}: {}",
        crash.status
    );
    if crash.stderr_tail.is_empty() {
        s.push_str(" (it printed nothing)");
    } else {
        s.push_str("; its last output lines:");
        for l in &crash.stderr_tail {
            s.push_str("\n  | ");
            s.push_str(l);
        }
    }
    s
}

fn timeout_message(
    name: &str,
    port: &u16,
    path: &str,
    waited: &Duration,
    last: &str,
    tail: &[String],
) -> String {
    let mut s = format!(
        "{name} did not answer 200 on http://127.0.0.1:{port}{path} within {:.1}s (last: {last})",
        waited.as_secs_f64()
    );
    if !tail.is_empty() {
        s.push_str("; its last output lines:");
        for l in tail {
            s.push_str("\n  | ");
            s.push_str(l);
        }
    }
    s
}

fn says_port_in_use(lines: &[String]) -> bool {
    lines.iter().any(|l| {
        let l = l.to_ascii_lowercase();
        l.contains("eaddrinuse")
            || l.contains("address already in use")
            || l.contains("address in use")
            || l.contains("connection in use") // gunicorn
    })
}

/// Starts a server and waits until its ready path answers 200. A port in use (before the start, or
/// reported by the server) → another free port, up to `attempts` times.
pub fn start_server(spec: &ServerSpec<'_>) -> Result<Server, StartError> {
    let attempts = spec.attempts.max(1);
    let mut preferred = spec.port;
    let mut taken: Vec<u16> = Vec::new();
    for attempt in 1..=attempts {
        let port = match preferred.take() {
            Some(p) if p != 0 && port_is_free(p) => p,
            _ => free_port().map_err(|e| StartError::Config {
                name: spec.name.clone(),
                message: format!("cannot find a free port: {e}"),
            })?,
        };
        let spawn = (spec.make)(port).map_err(|e| StartError::Config {
            name: spec.name.clone(),
            message: e.to_string(),
        })?;
        let mut process = Supervised::spawn(&spawn)?;
        match wait_ready(&mut process, port, &spec.ready_path, spec.ready_timeout) {
            Ok(cold_start) => {
                let notes = if taken.is_empty() {
                    vec![]
                } else {
                    vec![format!(
                        "{}: port{} {} taken between the free-port check and the server's bind; retried on port {port} (attempt {attempt} of {attempts})",
                        spec.name,
                        if taken.len() == 1 { "" } else { "s" },
                        taken
                            .iter()
                            .map(|p| p.to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    )]
                };
                return Ok(Server {
                    process,
                    port,
                    cold_start,
                    notes,
                });
            }
            Err(Ready::Exited(crash)) => {
                process.stop(Duration::from_millis(100));
                if says_port_in_use(&process.output().stderr(50))
                    || says_port_in_use(&process.output().stdout(50))
                {
                    taken.push(port);
                    continue;
                }
                return Err(StartError::Exited {
                    name: spec.name.clone(),
                    port,
                    crash,
                });
            }
            Err(Ready::PortInUse) => {
                process.stop(Duration::from_millis(500));
                taken.push(port);
                continue;
            }
            Err(Ready::Timeout(last_answer)) => {
                let tail = process.output().best(20);
                process.stop(Duration::from_secs(2));
                return Err(StartError::Timeout {
                    name: spec.name.clone(),
                    port,
                    path: spec.ready_path.clone(),
                    waited: spec.ready_timeout,
                    last_answer,
                    tail,
                });
            }
        }
    }
    Err(StartError::NoPort {
        name: spec.name.clone(),
        attempts,
    })
}

enum Ready {
    Exited(Crash),
    Timeout(String),
    /// It said its port is in use (it may stay alive retrying, as gunicorn does).
    PortInUse,
}

fn wait_ready(
    p: &mut Supervised,
    port: u16,
    path: &str,
    timeout: Duration,
) -> Result<Duration, Ready> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let start = p.spawned_at();
    let deadline = start + timeout;
    let mut last = "no connection".to_string();
    let mut output_checked = Instant::now();
    loop {
        if let Err(crash) = p.check_alive() {
            return Err(Ready::Exited(crash));
        }
        if output_checked.elapsed() >= Duration::from_millis(50) {
            output_checked = Instant::now();
            if says_port_in_use(&p.output().stderr(20)) || says_port_in_use(&p.output().stdout(20))
            {
                return Err(Ready::PortInUse);
            }
        }
        match http_status(addr, path, Duration::from_secs(2)) {
            Ok(200) => return Ok(start.elapsed()),
            Ok(s) => last = format!("status {s}"),
            Err(e) => {
                if e.kind() != io::ErrorKind::ConnectionRefused {
                    last = e.to_string();
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(Ready::Timeout(last));
        }
        // Poll finely at first so the cold start is precise, then back off a little.
        let pause = match start.elapsed().as_millis() {
            0..=999 => Duration::from_millis(1),
            1000..=4999 => Duration::from_millis(5),
            _ => Duration::from_millis(20),
        };
        std::thread::sleep(pause);
    }
}

/// One `GET path` with `Connection: close`; returns the status code once the status line arrived.
pub fn http_status(addr: SocketAddr, path: &str, timeout: Duration) -> io::Result<u16> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.set_nodelay(true)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buf.windows(2).any(|w| w == b"\r\n") {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before a status line",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 8192 {
            break;
        }
    }
    let line = String::from_utf8_lossy(&buf);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an HTTP response"))
}

/// One `GET path` with `Connection: close`; returns the status and the whole body (the server must
/// close the connection or send `Content-Length`; chunked bodies are returned undecoded).
pub fn http_get(addr: SocketAddr, path: &str, timeout: Duration) -> io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    s.take(16 << 20).read_to_end(&mut buf)?;
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no end of headers"))?;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an HTTP response"))?;
    let mut body = buf[end + 4..].to_vec();
    if let Some(len) = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())
            .flatten()
    }) {
        body.truncate(len);
    }
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_cpu() -> usize {
        loadgen::cpu::allowed_cpus()[0]
    }

    fn sh(name: &str, script: &str) -> SpawnSpec {
        SpawnSpec {
            name: name.into(),
            command: vec!["sh".into(), "-c".into(), script.into()],
            cwd: std::env::temp_dir(),
            env: vec![("SW_TEST".into(), "yes".into())],
            cpus: vec![first_cpu()],
            cgroup: true,
        }
    }

    #[test]
    fn crash_is_detected_with_its_stderr() {
        let mut p = Supervised::spawn(&sh(
            "crasher",
            "echo started; echo \"boom $SW_TEST\" >&2; exit 3",
        ))
        .unwrap();
        let t0 = Instant::now();
        while p.check_alive().is_ok() {
            assert!(t0.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(5));
        }
        let c = p.check_alive().unwrap_err();
        assert_eq!(c.status, "exited with status 3");
        assert_eq!(c.stderr_tail, vec!["boom yes".to_string()]);
        let r = p.stop(Duration::from_millis(100));
        assert!(r.ended_before_stop && r.leaked.is_empty());
    }

    #[test]
    fn stop_kills_the_whole_group_and_sigterm_ignorers_are_forced() {
        // A parent that ignores SIGTERM with two children sleeping.
        let mut p = Supervised::spawn(&sh(
            "stubborn",
            "trap '' TERM; sleep 30 & sleep 30 & echo ready; wait",
        ))
        .unwrap();
        let t0 = Instant::now();
        while p.output().stdout(1).is_empty() {
            assert!(t0.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(5));
        }
        let pgid = p.pid();
        assert!(group_members(pgid).len() >= 3, "{:?}", group_members(pgid));
        assert_eq!(
            crate::sample::read_stat(pgid).map(|_| ()),
            Some(()),
            "root visible in /proc"
        );
        let r = p.stop(Duration::from_millis(300));
        assert!(r.forced, "{r:?}");
        assert!(r.leaked.is_empty(), "{r:?}");
        assert!(group_members(pgid).is_empty());
        assert!(group_members(pgid).is_empty());
    }

    #[test]
    fn a_child_that_left_the_group_is_found_and_killed() {
        for cgroup in [true, false] {
            // setsid puts the sleeper in its own session and group: SIGTERM to our group misses
            // it; it ignores SIGTERM anyway.
            let mut p = Supervised::spawn(&SpawnSpec {
                cgroup,
                ..sh(
                    "escaper",
                    "setsid sh -c 'trap \"\" TERM; echo $$; exec sleep 30' & wait",
                )
            })
            .unwrap();
            let t0 = Instant::now();
            while p.output().stdout(1).is_empty() {
                assert!(t0.elapsed() < Duration::from_secs(5));
                std::thread::sleep(Duration::from_millis(5));
            }
            let escaped: i32 = p.output().stdout(1)[0].trim().parse().unwrap();
            let r = p.stop(Duration::from_millis(300));
            assert_eq!(
                r.leaked.iter().map(|l| l.pid).collect::<Vec<_>>(),
                vec![escaped],
                "cgroup={cgroup}: {r:?}"
            );
            assert!(r.leaked[0].cmdline.contains("sleep 30"), "{r:?}");
            let t0 = Instant::now();
            while crate::sample::read_stat(escaped).is_some_and(|s| s.state != 'Z') {
                assert!(
                    t0.elapsed() < Duration::from_secs(2),
                    "{escaped} still alive"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    #[test]
    fn pinning_is_inherited_by_children() {
        let mut p = Supervised::spawn(&sh(
            "pinned",
            "sh -c 'grep Cpus_allowed_list /proc/self/status'",
        ))
        .unwrap();
        let t0 = Instant::now();
        while p.output().stdout(1).is_empty() {
            assert!(t0.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            p.output().stdout(1)[0].ends_with(&format!("\t{}", first_cpu())),
            "{:?}",
            p.output().stdout(1)
        );
        p.stop(Duration::from_millis(100));
    }

    #[test]
    fn drop_and_kill_all_leave_nothing() {
        let p = Supervised::spawn(&sh("dropped", "sleep 30")).unwrap();
        let pgid = p.pid();
        drop(p);
        assert!(group_members(pgid).is_empty());
        let e = Supervised::spawn(&SpawnSpec {
            cpus: vec![100_000],
            ..sh("unpinnable", "true")
        })
        .unwrap_err();
        assert!(e.to_string().contains("CPU 100000 is not available"), "{e}");
        let missing = Supervised::spawn(&SpawnSpec {
            command: vec!["definitely-not-a-program-xyz".into()],
            ..sh("missing", "")
        })
        .unwrap_err();
        assert!(
            missing.to_string().contains("not found on PATH"),
            "{missing}"
        );
    }

    #[test]
    fn server_ready_timeout_and_early_exit_are_reported() {
        let make = |_port: u16| Ok(sh("silent", "sleep 30"));
        let e = start_server(&ServerSpec {
            name: "silent".into(),
            make: &make,
            port: None,
            ready_path: "/plaintext".into(),
            ready_timeout: Duration::from_millis(300),
            attempts: 1,
        })
        .unwrap_err();
        assert!(matches!(e, StartError::Timeout { .. }), "{e}");
        let make = |_port: u16| Ok(sh("dies", "echo 'Error: listen EADDRINUSE' >&2; exit 1"));
        let e = start_server(&ServerSpec {
            name: "dies".into(),
            make: &make,
            port: None,
            ready_path: "/".into(),
            ready_timeout: Duration::from_secs(5),
            attempts: 2,
        })
        .unwrap_err();
        assert!(matches!(e, StartError::NoPort { attempts: 2, .. }), "{e}");
        // Alive, retrying, saying its port is in use (gunicorn's way): moved on quickly.
        let t0 = Instant::now();
        let make = |_port: u16| {
            Ok(sh(
                "retrier",
                "echo \"[ERROR] Connection in use: ('127.0.0.1', 1)\" >&2; sleep 30",
            ))
        };
        let e = start_server(&ServerSpec {
            name: "retrier".into(),
            make: &make,
            port: None,
            ready_path: "/".into(),
            ready_timeout: Duration::from_secs(20),
            attempts: 2,
        })
        .unwrap_err();
        assert!(matches!(e, StartError::NoPort { attempts: 2, .. }), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        // Fails to bind once (its port taken after the check), then starts: retried, noted.
        let flag = std::env::temp_dir().join(format!("sw-bind-once-{}", std::process::id()));
        let _ = std::fs::remove_file(&flag);
        let f = flag.display().to_string();
        let make = move |port: u16| {
            Ok(sh(
                "bind-once",
                &format!(
                    "if [ ! -e {f} ]; then touch {f}; echo 'Error: listen EADDRINUSE: address already in use 127.0.0.1:{port}' >&2; exit 1; fi; \
                     exec python3 -m http.server --bind 127.0.0.1 {port}"
                ),
            ))
        };
        let s = start_server(&ServerSpec {
            name: "bind-once".into(),
            make: &make,
            port: None,
            ready_path: "/".into(),
            ready_timeout: Duration::from_secs(20),
            attempts: 3,
        })
        .unwrap();
        assert_eq!(s.notes.len(), 1, "{:?}", s.notes);
        assert!(
            s.notes[0].contains("taken between the free-port check")
                && s.notes[0].contains(&format!("retried on port {}", s.port))
                && s.notes[0].contains("attempt 2 of 3"),
            "{:?}",
            s.notes
        );
        let mut s = s;
        s.stop(Duration::from_secs(2));
        let _ = std::fs::remove_file(&flag);
        let make = |_port: u16| Ok(sh("bad", "echo 'SyntaxError: nope' >&2; exit 1"));
        let e = start_server(&ServerSpec {
            name: "bad".into(),
            make: &make,
            port: None,
            ready_path: "/".into(),
            ready_timeout: Duration::from_secs(5),
            attempts: 3,
        })
        .unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("exited with status 1") && s.contains("SyntaxError: nope"),
            "{s}"
        );
    }
}
