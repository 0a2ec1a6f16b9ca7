//! The run lock: one lab run per store at a time, and nothing left behind by a run that was killed.
//!
//! `stackwise lab` takes `<store>.lock` (beside the database file, e.g. `lab.sqlite3.lock`) with an
//! exclusive `flock` for the whole run. The file records, as JSON, the lab's pid and process start
//! time, its run id, the process groups it started (targets, upstream, install steps: the
//! supervisor's registry reports them as they come and go) and the temporary directories it
//! created. A `flock` dies with its process, so:
//!
//! - a second run on the same store finds the lock held and refuses, naming the other run's id and
//!   pid ([`LockError::InUse`]), or waits for it (`--wait`);
//! - a run that finds the lock free but the file still describing another run knows that run was
//!   killed (SIGKILL, OOM, a closed terminal): it **sweeps** what that run left: every recorded
//!   process group still alive is killed (a group whose leader pid is alive with another start
//!   time is a reused pid and is left alone), every recorded temp directory is deleted, and what
//!   was found is reported ([`SweepReport`]).
//!
//! The direct children of the lab die with it (`PR_SET_PDEATHSIG`, see
//! [`crate::process::spawn_tied`]), but their own children (Node cluster workers, gunicorn
//! workers) do not. A **watchdog** ([`RunLock::start_watchdog`], the hidden `stackwise
//! lab-watchdog` subcommand running [`watchdog_main`]) sits in its own session on a pipe from the
//! lab: when the lab dies the pipe closes, and the watchdog sweeps at once, so no worker outlives a
//! killed lab by more than a moment (the dying lab's lock is released a moment *after* its pipe
//! closes: the watchdog waits for it, [`sweep_after_death`]). If the watchdog is killed too, the
//! next start sweeps.
//!
//! A clean exit empties the file (it is never deleted, so that a waiting run never locks a file
//! that a third one has replaced).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// What the lock file says about the run holding it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LockState {
    /// The lab process.
    pub pid: i32,
    /// Its start time (clock ticks after boot, `/proc/PID/stat` field 22): a reused pid differs.
    pub start_time: u64,
    /// When it took the lock (RFC 3339).
    pub started_at: String,
    /// The run it measures, once begun.
    pub run_id: Option<i64>,
    /// Process groups it started and has not stopped yet.
    pub groups: Vec<GroupEntry>,
    /// Temporary directories it created and has not deleted yet.
    pub temp_dirs: Vec<PathBuf>,
    /// Its watchdog's pid.
    pub watchdog: Option<i32>,
    /// What the watchdog ended after the lab died.
    #[serde(default)]
    pub watchdog_notes: Vec<String>,
}

/// One process group of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupEntry {
    pub pgid: i32,
    /// The group leader's start time (to tell a reused pid).
    pub start_time: u64,
    pub name: String,
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "the store {store} is in use by another `stackwise lab` (run {}, pid {pid}, since {since}); \
         wait for it to finish (or pass --wait), or use another database with --db",
        run.map(|r| r.to_string()).unwrap_or_else(|| "not yet begun".into())
    )]
    InUse {
        store: String,
        run: Option<i64>,
        pid: i32,
        since: String,
    },
    #[error("cannot use the lock file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// What a start found of a previous, killed run and ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SweepReport {
    pub previous_pid: i32,
    pub previous_run: Option<i64>,
    /// One line per process group killed: `name (pgid N): M processes: cmdlines`.
    pub killed: Vec<String>,
    /// Temp directories deleted.
    pub deleted: Vec<PathBuf>,
    /// What the previous run's watchdog had already ended.
    pub watchdog_notes: Vec<String>,
    /// Groups left alone because their pid now belongs to another process.
    pub reused: Vec<i32>,
    /// The lock file could not be read (its content is ignored).
    pub unreadable: Option<String>,
}

impl SweepReport {
    /// Whether anything was found.
    pub fn found_anything(&self) -> bool {
        !self.killed.is_empty() || !self.deleted.is_empty() || !self.watchdog_notes.is_empty()
    }

    /// Lines for the user.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(u) = &self.unreadable {
            out.push(format!(
                "the run lock's content was unreadable and is ignored ({u})"
            ));
            return out;
        }
        let run = self
            .previous_run
            .map(|r| format!("run {r}"))
            .unwrap_or_else(|| "a run".into());
        out.push(format!(
            "{run} (pid {}) on this store ended without releasing its lock (it was killed); swept what it left:",
            self.previous_pid
        ));
        for n in &self.watchdog_notes {
            out.push(format!("  already ended by its watchdog: {n}"));
        }
        for k in &self.killed {
            out.push(format!("  killed {k}"));
        }
        for d in &self.deleted {
            out.push(format!("  deleted {}", d.display()));
        }
        for p in &self.reused {
            out.push(format!(
                "  left alone: process group {p} (its pid now belongs to another process)"
            ));
        }
        if !self.found_anything() {
            out.push("  nothing was left running".into());
        }
        out
    }
}

/// The lock file of the store at `db`: `<db>.lock`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_os_string();
    s.push(".lock");
    PathBuf::from(s)
}

struct Active {
    file: File,
    state: LockState,
    /// The write end of the watchdog's pipe: closed when this process dies.
    watchdog_pipe: Option<ChildStdin>,
}

static ACTIVE: Mutex<Option<Active>> = Mutex::new(None);

fn active() -> std::sync::MutexGuard<'static, Option<Active>> {
    ACTIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Rewrites the state so that a kill at any instant leaves a readable file: the new JSON is
/// written over the old in one positioned write, padded with spaces to the old length (valid JSON
/// with trailing white space), and only then is the file cut to the new length. (Truncating
/// first left an empty file when the lab was killed between the two calls, and the watchdog then
/// knew of no group to end.)
fn write_state(file: &mut File, state: &LockState) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut json = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    json.push(b'\n');
    let len = json.len();
    let old = file.metadata()?.len() as usize;
    if old > len {
        json.resize(old, b' ');
    }
    file.write_all_at(&json, 0)?;
    file.set_len(len as u64)?;
    file.flush()
}

fn read_state(file: &mut File) -> std::io::Result<Option<Result<LockState, String>>> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_string(&mut text)?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(
        serde_json::from_str(&text).map_err(|e| format!("{e}")),
    ))
}

fn update(f: impl FnOnce(&mut LockState)) {
    let mut g = active();
    if let Some(a) = g.as_mut() {
        f(&mut a.state);
        // A failed update is not fatal: the file keeps an older list, and a sweep only kills
        // groups that are still alive with their recorded start time.
        let _ = write_state(&mut a.file, &a.state);
    }
}

/// Start time of `pid` (clock ticks after boot), if it is alive (not a zombie).
fn start_time_of(pid: i32) -> Option<u64> {
    crate::sample::read_stat(pid)
        .filter(|s| s.state != 'Z' && s.state != 'X')
        .map(|s| s.starttime)
}

/// The supervisor started a process group (no-op without a lock).
pub(crate) fn group_started(pgid: i32, name: &str) {
    let start_time = crate::sample::read_stat(pgid)
        .map(|s| s.starttime)
        .unwrap_or(0);
    update(|s| {
        s.groups.retain(|g| g.pgid != pgid);
        s.groups.push(GroupEntry {
            pgid,
            start_time,
            name: name.to_string(),
        });
    });
}

/// The supervisor stopped a process group.
pub(crate) fn group_ended(pgid: i32) {
    update(|s| s.groups.retain(|g| g.pgid != pgid));
}

/// Records a temporary directory this run created (deleted by a sweep if the run is killed).
pub fn temp_dir_created(path: &Path) {
    update(|s| s.temp_dirs.push(path.to_path_buf()));
}

/// The run deleted a temporary directory it had recorded.
pub fn temp_dir_removed(path: &Path) {
    update(|s| s.temp_dirs.retain(|d| d != path));
}

/// Records the run id (once the run is begun in the store).
pub fn set_run_id(run_id: i64) {
    update(|s| s.run_id = Some(run_id));
}

/// The state of the lock this process holds, if any.
pub fn current() -> Option<LockState> {
    active().as_ref().map(|a| a.state.clone())
}

/// The lock of one store, held by this process while it lives.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

fn flock(file: &File, blocking: bool) -> std::io::Result<bool> {
    let op = libc::LOCK_EX | if blocking { 0 } else { libc::LOCK_NB };
    loop {
        // SAFETY: plain syscall on an open descriptor.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EWOULDBLOCK) if !blocking => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(e),
        }
    }
}

impl RunLock {
    /// Takes the lock of the store at `db` (refusing, or with `wait` waiting, when another run
    /// holds it; `on_wait` is told once whom it waits for), sweeps what a killed previous run
    /// left, and records this process as the holder. One lock per process at a time.
    pub fn acquire(
        db: &Path,
        wait: bool,
        on_wait: &mut dyn FnMut(&LockError),
    ) -> Result<(RunLock, Option<SweepReport>), LockError> {
        let path = lock_path(db);
        let io = |source: std::io::Error| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        if active().is_some() {
            return Err(io(std::io::Error::other(
                "this process already holds a run lock",
            )));
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        // Held, but not by a live run (a watchdog sweeping for a dead one, or a run that has just
        // taken it and not yet written itself down): a moment later it is free or described.
        let patience = Instant::now() + Duration::from_secs(2);
        let mut held = !flock(&file, false).map_err(io)?;
        while held && Instant::now() < patience {
            let state = read_state(&mut file).ok().flatten().and_then(|r| r.ok());
            if state.is_some_and(|s| start_time_of(s.pid) == Some(s.start_time)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
            held = !flock(&file, false).map_err(io)?;
        }
        if held {
            let state = read_state(&mut file)
                .ok()
                .flatten()
                .and_then(|r| r.ok())
                .unwrap_or_default();
            let busy = LockError::InUse {
                store: db.display().to_string(),
                run: state.run_id,
                pid: state.pid,
                since: state.started_at,
            };
            if !wait {
                return Err(busy);
            }
            on_wait(&busy);
            flock(&file, true).map_err(io)?;
        }
        let me = std::process::id() as i32;
        let sweep = match read_state(&mut file).map_err(io)? {
            None => None,
            Some(Err(e)) => Some(SweepReport {
                unreadable: Some(e),
                ..Default::default()
            }),
            Some(Ok(prev)) if prev.pid == me => None,
            Some(Ok(prev)) => Some(sweep(&prev)),
        };
        let state = LockState {
            pid: me,
            start_time: start_time_of(me).unwrap_or(0),
            started_at: store::now_rfc3339(),
            ..Default::default()
        };
        write_state(&mut file, &state).map_err(io)?;
        *active() = Some(Active {
            file,
            state,
            watchdog_pipe: None,
        });
        Ok((RunLock { path }, sweep))
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts the watchdog: `exe lab-watchdog --lock PATH --pid PID --start T`, in its own session,
    /// reading a pipe from this process; when this process dies it ends what the lock lists.
    pub fn start_watchdog(&self, exe: &Path) -> std::io::Result<()> {
        let me = std::process::id() as i32;
        let mut cmd = Command::new(exe);
        cmd.arg("lab-watchdog")
            .arg("--lock")
            .arg(&self.path)
            .arg("--pid")
            .arg(me.to_string())
            .arg("--start")
            .arg(start_time_of(me).unwrap_or(0).to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid is async-signal-safe. Its own session: a terminal's Ctrl-C or hang-up
        // to the lab's process group does not reach it.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::setsid();
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let pid = child.id() as i32;
        let pipe = child.stdin.take();
        // Reap it when it exits (after this process released the lock).
        std::thread::Builder::new()
            .name("watchdog-reaper".into())
            .spawn(move || {
                let _ = child.wait();
            })?;
        let mut g = active();
        if let Some(a) = g.as_mut() {
            a.watchdog_pipe = pipe;
            a.state.watchdog = Some(pid);
            let _ = write_state(&mut a.file, &a.state);
        }
        Ok(())
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        if let Some(mut a) = active().take() {
            // Empty = free; the flock goes with the descriptor, then the watchdog sees its pipe
            // close and finds nothing to do.
            let _ = a.file.set_len(0);
            drop(a.file);
            drop(a.watchdog_pipe.take());
        }
    }
}

/// Ends what `prev` (a run that is not alive any more) left.
fn sweep(prev: &LockState) -> SweepReport {
    let mut report = SweepReport {
        previous_pid: prev.pid,
        previous_run: prev.run_id,
        watchdog_notes: prev.watchdog_notes.clone(),
        ..Default::default()
    };
    let (killed, reused) = kill_groups(&prev.groups);
    report.killed = killed;
    report.reused = reused;
    for d in &prev.temp_dirs {
        if d.exists() && std::fs::remove_dir_all(d).is_ok() {
            report.deleted.push(d.clone());
        }
    }
    report
}

/// Kills the recorded groups still alive; returns (one line per group killed, reused pgids).
fn kill_groups(groups: &[GroupEntry]) -> (Vec<String>, Vec<i32>) {
    let mut killed = Vec::new();
    let mut reused = Vec::new();
    let mut targets = Vec::new();
    for g in groups {
        if g.pgid <= 1 {
            continue;
        }
        // The leader alive with another start time: the pid (and so the group id) is another
        // process's now.
        if let Some(t) = start_time_of(g.pgid) {
            if t != g.start_time {
                reused.push(g.pgid);
                continue;
            }
        }
        let members: Vec<i32> = crate::process::group_members(g.pgid)
            .into_iter()
            // A member older than the recorded leader cannot be of that group.
            .filter(|&p| start_time_of(p).is_some_and(|t| t >= g.start_time))
            .collect();
        if members.is_empty() {
            continue;
        }
        let cmds: Vec<String> = members.iter().map(|&p| cmdline(p)).collect();
        // SAFETY: a signal to a process group the previous run recorded as its own.
        unsafe {
            libc::kill(-g.pgid, libc::SIGKILL);
        }
        killed.push(format!(
            "{} (process group {}): {} process{}: {}",
            g.name,
            g.pgid,
            members.len(),
            if members.len() == 1 { "" } else { "es" },
            cmds.join(" | ")
        ));
        targets.push(g.pgid);
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline
        && targets
            .iter()
            .any(|&g| !crate::process::group_members(g).is_empty())
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    (killed, reused)
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

/// The watchdog (`stackwise lab-watchdog`): waits until its stdin closes (the lab died or released
/// its lock), then sweeps for the lab `pid` started at `start` ([`sweep_after_death`]).
pub fn watchdog_main(lock: &Path, pid: i32, start: u64) -> std::io::Result<()> {
    // SAFETY: ignoring terminal signals in this single-threaded helper.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let mut buf = [0u8; 64];
    let mut stdin = std::io::stdin().lock();
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    sweep_after_death(lock, pid, start, Duration::from_secs(5))
}

/// What the watchdog does once its pipe has closed: takes the lock and, if the file still
/// describes the lab `pid` started at `start`, kills the groups it lists, deletes its temp dirs
/// and notes what it did in the file (the next start reports it).
///
/// The pipe closes *before* the dying lab's lock is released: a killed process's files are
/// released in reverse order of closing (deferred `fput`s run last-queued first), so the pipe
/// (opened after the lock file) goes first, and the lock follows a moment later, or later still
/// when another thread of the lab is the last to let go of the descriptor table. So a lock still
/// held while the file describes the dying lab is waited for, up to `patience`; a lock held by a
/// run that has rewritten the file (a new run, which sweeps itself) ends the watchdog's work.
/// (Giving up at the first refusal left every gunicorn worker of a killed lab running.)
pub fn sweep_after_death(
    lock: &Path,
    pid: i32,
    start: u64,
    patience: Duration,
) -> std::io::Result<()> {
    let mut file = OpenOptions::new().read(true).write(true).open(lock)?;
    let describes_the_lab = |s: &Option<Result<LockState, String>>| matches!(s, Some(Ok(s)) if s.pid == pid && s.start_time == start);
    let deadline = Instant::now() + patience;
    loop {
        if flock(&file, false)? {
            break;
        }
        // Held: by the dying lab (its file still describes it) or by a new run (which has
        // rewritten it, or is about to and then sweeps what it finds).
        if !describes_the_lab(&read_state(&mut file)?) || Instant::now() >= deadline {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let Some(Ok(mut state)) = read_state(&mut file)? else {
        return Ok(());
    };
    if state.pid != pid || state.start_time != start {
        return Ok(());
    }
    let (killed, _) = kill_groups(&state.groups);
    let mut notes = killed;
    for d in &state.temp_dirs {
        if d.exists() && std::fs::remove_dir_all(d).is_ok() {
            notes.push(format!("deleted {}", d.display()));
        }
    }
    if notes.is_empty() {
        notes.push("nothing was left running".into());
    }
    state.watchdog_notes = notes;
    state.watchdog = None;
    write_state(&mut file, &state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    fn dir(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("stackwise-runlock-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// The lock is per process (ACTIVE is process-wide): tests taking it run one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn a_killed_runs_groups_and_temp_dirs_are_swept_and_reported() {
        let _s = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let d = dir("sweep");
        let db = d.join("lab.sqlite3");
        // The "previous run": a process group of three (a shell and two sleepers) and a temp dir.
        let mut leftover = Command::new("sh")
            .args(["-c", "sleep 60 & sleep 60 & wait"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = leftover.id() as i32;
        let t0 = Instant::now();
        while crate::process::group_members(pgid).len() < 3 {
            assert!(t0.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(5));
        }
        let tmp = d.join("pgdata");
        std::fs::create_dir_all(tmp.join("base")).unwrap();
        let prev = LockState {
            pid: 999_999_999, // not a pid: that run is gone
            start_time: 1,
            started_at: "2026-01-01T00:00:00Z".into(),
            run_id: Some(7),
            groups: vec![
                GroupEntry {
                    pgid,
                    start_time: crate::sample::read_stat(pgid).unwrap().starttime,
                    name: "node-http".into(),
                },
                // A reused pid: this test process's own group leader with a wrong start time.
                GroupEntry {
                    pgid: std::process::id() as i32,
                    start_time: 1,
                    name: "reused".into(),
                },
            ],
            temp_dirs: vec![tmp.clone()],
            watchdog: None,
            watchdog_notes: vec![],
        };
        std::fs::write(lock_path(&db), serde_json::to_vec(&prev).unwrap()).unwrap();
        let (lock, report) = RunLock::acquire(&db, false, &mut |_| {}).unwrap();
        let report = report.expect("a sweep");
        assert_eq!(report.previous_run, Some(7));
        assert_eq!(report.killed.len(), 1, "{report:?}");
        assert!(report.killed[0].contains("3 processes"), "{report:?}");
        assert_eq!(report.reused, vec![std::process::id() as i32]);
        assert_eq!(report.deleted, vec![tmp.clone()]);
        assert!(!tmp.exists());
        let _ = leftover.wait();
        assert!(crate::process::group_members(pgid).is_empty());
        let text = report.lines().join("\n");
        assert!(
            text.contains("run 7") && text.contains("killed node-http"),
            "{text}"
        );
        // The file now describes this process.
        let now: LockState =
            serde_json::from_str(&std::fs::read_to_string(lock_path(&db)).unwrap()).unwrap();
        assert_eq!(now.pid, std::process::id() as i32);
        drop(lock);
        assert_eq!(std::fs::read_to_string(lock_path(&db)).unwrap(), "");
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A process group of three (a shell and two sleepers), as a killed run leaves a server's
    /// workers; returns it and its leader's start time.
    fn leftover_group() -> (std::process::Child, i32, u64) {
        let child = Command::new("sh")
            .args(["-c", "sleep 60 & sleep 60 & wait"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = child.id() as i32;
        let t0 = Instant::now();
        while crate::process::group_members(pgid).len() < 3 {
            assert!(t0.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(5));
        }
        let start = crate::sample::read_stat(pgid).unwrap().starttime;
        (child, pgid, start)
    }

    /// The watchdog's pipe closes before the killed lab's lock is released (the kernel releases a
    /// dying process's files last-closed first): the watchdog waits for the lock while the file
    /// still describes the lab, then sweeps. It used to give up at the first refusal, leaving
    /// every worker of the run alive.
    #[test]
    fn the_watchdog_waits_for_a_dying_labs_lock_then_sweeps() {
        let d = dir("dying");
        let db = d.join("lab.sqlite3");
        let (mut leftover, pgid, start_time) = leftover_group();
        let lab = LockState {
            pid: 999_999_998,
            start_time: 5,
            started_at: "2026-01-01T00:00:00Z".into(),
            run_id: Some(2),
            groups: vec![GroupEntry {
                pgid,
                start_time,
                name: "python-flask-sync".into(),
            }],
            ..Default::default()
        };
        std::fs::write(lock_path(&db), serde_json::to_vec(&lab).unwrap()).unwrap();
        // The dying lab's descriptor: held for a moment after the pipe closed.
        let dying = File::open(lock_path(&db)).unwrap();
        assert!(flock(&dying, false).unwrap());
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(dying);
        });
        sweep_after_death(
            &lock_path(&db),
            lab.pid,
            lab.start_time,
            Duration::from_secs(5),
        )
        .unwrap();
        release.join().unwrap();
        let left = crate::process::group_members(pgid);
        // SAFETY: the group this test started (a no-op when the sweep ended it).
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = leftover.wait();
        assert!(left.is_empty(), "the watchdog left {left:?} running");
        let after: LockState =
            serde_json::from_str(&std::fs::read_to_string(lock_path(&db)).unwrap()).unwrap();
        assert_eq!(after.watchdog_notes.len(), 1, "{after:?}");
        assert!(
            after.watchdog_notes[0].contains("python-flask-sync")
                && after.watchdog_notes[0].contains("3 processes"),
            "{after:?}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A lock held by a new run (the file describes it) is its business: the watchdog leaves at
    /// once and kills nothing (the new run sweeps what it found).
    #[test]
    fn the_watchdog_leaves_a_lock_a_new_run_holds_alone() {
        let d = dir("newrun");
        let db = d.join("lab.sqlite3");
        let (mut leftover, pgid, start_time) = leftover_group();
        let new_run = LockState {
            pid: std::process::id() as i32,
            start_time: start_time_of(std::process::id() as i32).unwrap(),
            started_at: "2026-01-01T00:00:00Z".into(),
            groups: vec![GroupEntry {
                pgid,
                start_time,
                name: "node-http".into(),
            }],
            ..Default::default()
        };
        std::fs::write(lock_path(&db), serde_json::to_vec(&new_run).unwrap()).unwrap();
        let holder = File::open(lock_path(&db)).unwrap();
        assert!(flock(&holder, false).unwrap());
        let t0 = Instant::now();
        sweep_after_death(&lock_path(&db), 999_999_998, 5, Duration::from_secs(30)).unwrap();
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
        assert_eq!(crate::process::group_members(pgid).len(), 3);
        drop(holder);
        // SAFETY: the group this test started.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = leftover.wait();
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn groups_and_run_id_are_recorded_as_they_come_and_go() {
        let _s = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let d = dir("record");
        let db = d.join("lab.sqlite3");
        let (lock, sweep) = RunLock::acquire(&db, false, &mut |_| {}).unwrap();
        assert!(sweep.is_none());
        set_run_id(3);
        let read = || -> LockState {
            serde_json::from_str(&std::fs::read_to_string(lock_path(&db)).unwrap()).unwrap()
        };
        let mut p = crate::process::Supervised::spawn(&crate::process::SpawnSpec {
            name: "sleeper".into(),
            command: vec!["sleep".into(), "30".into()],
            cwd: std::env::temp_dir(),
            env: vec![],
            cpus: vec![],
            cgroup: false,
        })
        .unwrap();
        // (Other tests of this crate may start groups meanwhile: only ours is looked at.)
        let s = read();
        assert_eq!(s.run_id, Some(3));
        assert!(
            s.groups
                .iter()
                .any(|g| g.pgid == p.pid() && g.name == "sleeper"),
            "{s:?}"
        );
        p.stop(Duration::from_millis(200));
        assert!(!read().groups.iter().any(|g| g.pgid == p.pid()));
        let tmp = d.join("pgdata");
        temp_dir_created(&tmp);
        assert_eq!(read().temp_dirs, vec![tmp.clone()]);
        temp_dir_removed(&tmp);
        assert!(read().temp_dirs.is_empty());
        drop(lock);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
