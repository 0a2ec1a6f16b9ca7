//! A long-running child supervised for a UI (the web UI's lab run): started by the lab's
//! supervisor ([`super::Supervised`]: its own process group, tied to its parent with
//! `PR_SET_PDEATHSIG` so it dies with it, SIGTERM → SIGKILL, leak check), its output lines turned
//! into [`JobEvent`]s by the caller's mapping, kept (bounded) and broadcast to whoever follows.
//! Here, beside the supervisor, because it is generic child supervision: the CLI's web UI only
//! says what to run and how to read its lines.
//!
//! Stopping it ([`Job::request_stop`]) sends SIGINT, as Ctrl-C would (the lab stores the cells it
//! finished and stops its servers, then exits 130); if it has not ended within [`STOP_GRACE`],
//! its group gets SIGTERM then SIGKILL. Either way, once it has ended, its process group and every
//! process it had started (found by parentage when the stop was asked: the lab's targets run in
//! their own groups) are checked: anything left is killed and named in the log.

use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{SpawnError, SpawnExtra, SpawnSpec, Supervised};

/// Output lines kept (the oldest are dropped first; `skipped` counts them).
pub const LOG_LINES: usize = 5000;
/// How long the lab has to stop on SIGINT before its group is terminated.
pub const STOP_GRACE: Duration = Duration::from_secs(30);
/// SIGTERM → SIGKILL grace of the supervisor's stop, after the lab has ended or the grace above ran out.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// One event for the page: a line of output, the live line (what the run is doing now, not
/// kept in the log), or the end (how it ended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEvent {
    Line(String),
    Live(String),
    End(String),
}

impl JobEvent {
    /// The server-sent event's name and data.
    pub fn sse(&self) -> (&'static str, &str) {
        match self {
            JobEvent::Line(l) => ("line", l),
            JobEvent::Live(l) => ("live", l),
            JobEvent::End(e) => ("end", e),
        }
    }
}

/// How the caller reads a line of the child's output (stdout or stderr) into events.
pub type LineMap = fn(&str) -> Vec<JobEvent>;

/// What the page shows of a job, copied out under the lock.
pub struct Snapshot {
    pub command: String,
    pub log: Vec<String>,
    /// What the run is doing now.
    pub live: Option<String>,
    pub skipped: usize,
    pub ended: Option<String>,
}

/// What the job's threads and the handlers share.
struct State {
    log: Vec<String>,
    live: Option<String>,
    skipped: usize,
    ended: Option<String>,
    /// When a stop was asked (SIGINT sent), with the processes the lab had started then.
    stop: Option<(Instant, Vec<(i32, u64)>)>,
}

/// A supervised child and what it printed.
pub struct Job {
    command: String,
    /// How the log names it (`the lab run`).
    what: String,
    child: Arc<Mutex<Supervised>>,
    state: Arc<Mutex<State>>,
    tx: tokio::sync::broadcast::Sender<JobEvent>,
}

impl Job {
    /// Starts `command` (program and arguments) supervised as `name`; `shown` is the command as
    /// the page shows it, `what` how the log names the job; `stdout` and `stderr` read its lines.
    pub fn start(
        name: &str,
        command: Vec<String>,
        shown: String,
        what: &str,
        [stdout, stderr]: [LineMap; 2],
    ) -> Result<Job, SpawnError> {
        let cwd = std::env::current_dir().map_err(|e| SpawnError {
            name: name.into(),
            program: command.first().cloned().unwrap_or_default(),
            reason: format!("no working directory: {e}"),
        })?;
        let spec = SpawnSpec {
            name: name.into(),
            command,
            cwd,
            env: Vec::new(),
            cpus: Vec::new(),
            // The lab makes its own cgroups for its targets.
            cgroup: false,
        };
        let (child, out, err) = Supervised::spawn_piped(&spec, SpawnExtra::default())?;
        let (tx, _) = tokio::sync::broadcast::channel(1024);
        let job = Job {
            command: shown,
            what: what.to_string(),
            child: Arc::new(Mutex::new(child)),
            state: Arc::new(Mutex::new(State {
                log: Vec::new(),
                live: None,
                skipped: 0,
                ended: None,
                stop: None,
            })),
            tx,
        };
        let readers: Vec<_> = [
            (Box::new(out) as Box<dyn Read + Send>, stdout),
            (Box::new(err) as Box<dyn Read + Send>, stderr),
        ]
        .into_iter()
        .map(|(pipe, map)| {
            let (state, tx) = (job.state.clone(), job.tx.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).split(b'\n') {
                    let Ok(line) = line else { break };
                    for ev in map(&String::from_utf8_lossy(&line)) {
                        push(&state, &tx, ev);
                    }
                }
            })
        })
        .collect();
        let (child, state, tx) = (job.child.clone(), job.state.clone(), job.tx.clone());
        let what = job.what.clone();
        std::thread::spawn(move || supervise(child, state, tx, readers, what));
        Ok(job)
    }

    pub fn snapshot(&self) -> Snapshot {
        let s = self.state.lock().expect("lab job");
        Snapshot {
            command: self.command.clone(),
            log: s.log.clone(),
            live: s.live.clone(),
            skipped: s.skipped,
            ended: s.ended.clone(),
        }
    }

    pub fn running(&self) -> bool {
        self.state.lock().expect("lab job").ended.is_none()
    }

    /// The lines from the `from`-th (counting those dropped), how it ended if it has, and a
    /// subscription to what follows: taken under one lock, so that no line is lost or repeated.
    pub fn follow(
        &self,
        from: usize,
    ) -> (
        Vec<String>,
        Option<String>,
        tokio::sync::broadcast::Receiver<JobEvent>,
    ) {
        let s = self.state.lock().expect("lab job");
        let start = from.saturating_sub(s.skipped).min(s.log.len());
        (
            s.log[start..].to_vec(),
            s.ended.clone(),
            self.tx.subscribe(),
        )
    }

    /// Asks the lab to stop (SIGINT to it, as Ctrl-C); false if it has already ended. The
    /// supervising thread escalates after [`STOP_GRACE`] and checks for leftovers.
    pub fn request_stop(&self) -> bool {
        let mut child = self.child.lock().expect("lab child");
        let mut s = self.state.lock().expect("lab job");
        if s.ended.is_some() || child.try_exit().is_some() {
            return false;
        }
        if s.stop.is_none() {
            // Its targets and upstream run in their own process groups: found by parentage now,
            // while the lab is alive, to be checked once it has ended.
            let started: Vec<(i32, u64)> = child
                .tree()
                .pids()
                .into_iter()
                .filter(|&p| p != child.pid())
                .filter_map(crate::sample::read_stat)
                .map(|st| (st.pid, st.starttime))
                .collect();
            s.stop = Some((Instant::now(), started));
        }
        // SAFETY: kill(2) to the root of the group we started; it is not reaped (try_exit above
        // returned None under the lock that every reaping call takes).
        unsafe { libc::kill(child.pid(), libc::SIGINT) };
        true
    }

    /// Stops it (if running) and waits until it has ended and been checked, at most
    /// [`STOP_GRACE`] plus a few seconds.
    pub fn stop_and_wait(&self) {
        if self.request_stop() {
            eprintln!(
                "stopping {} (pid {}): finished cells are kept",
                self.what,
                self.child.lock().expect("lab child").pid()
            );
        }
        let deadline = Instant::now() + STOP_GRACE + Duration::from_secs(10);
        while self.running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn push(state: &Mutex<State>, tx: &tokio::sync::broadcast::Sender<JobEvent>, ev: JobEvent) {
    let mut s = state.lock().expect("lab job");
    match &ev {
        JobEvent::Line(l) => {
            if s.log.len() == LOG_LINES {
                s.log.remove(0);
                s.skipped += 1;
            }
            s.log.push(l.clone());
        }
        JobEvent::Live(l) => s.live = Some(l.clone()),
        JobEvent::End(_) => {}
    }
    let _ = tx.send(ev);
}

/// Waits for the lab to end (escalating a stop that ran over [`STOP_GRACE`]), then lets the
/// supervisor clean its group, kills whatever it had started that is still alive, and records
/// how it ended.
fn supervise(
    child: Arc<Mutex<Supervised>>,
    state: Arc<Mutex<State>>,
    tx: tokio::sync::broadcast::Sender<JobEvent>,
    readers: Vec<std::thread::JoinHandle<()>>,
    what: String,
) {
    let status = loop {
        let mut c = child.lock().expect("lab child");
        if let Some(s) = c.try_exit() {
            break Some(s);
        }
        let overdue = state
            .lock()
            .expect("lab job")
            .stop
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() > STOP_GRACE);
        if overdue {
            push(
                &state,
                &tx,
                JobEvent::Line(format!(
                    "{what} did not stop within {} s of SIGINT: terminating its process group",
                    STOP_GRACE.as_secs()
                )),
            );
            break None;
        }
        drop(c);
        std::thread::sleep(Duration::from_millis(50));
    };
    // The group: SIGTERM → SIGKILL, and anything of it left is reported (the leak check).
    let report = child.lock().expect("lab child").stop(KILL_GRACE);
    let mut notes: Vec<String> = report
        .leaked
        .iter()
        .map(|l| {
            format!(
                "left behind by {what} and killed: pid {} {}",
                l.pid, l.cmdline
            )
        })
        .collect();
    let started = state
        .lock()
        .expect("lab job")
        .stop
        .as_ref()
        .map(|(_, p)| p.clone())
        .unwrap_or_default();
    for (pid, start) in started {
        let alive = crate::sample::read_stat(pid)
            .is_some_and(|st| st.starttime == start && st.state != 'Z' && st.state != 'X');
        if alive && !report.leaked.iter().any(|l| l.pid == pid) {
            // SAFETY: the process the lab started (same pid and start time as when the stop was
            // asked), still alive after the lab ended.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            notes.push(format!("left behind by {what} and killed: pid {pid}"));
        }
    }
    for r in readers {
        let _ = r.join();
    }
    for n in notes {
        push(&state, &tx, JobEvent::Line(n));
    }
    let status = status.or_else(|| child.lock().expect("lab child").try_exit());
    let ended = match status {
        Some(s) if s.success() => "finished".to_string(),
        Some(s) => match s.code() {
            Some(c) => format!("exit code {c}"),
            None => "stopped by a signal".to_string(),
        },
        None => "cannot tell how it ended".to_string(),
    };
    {
        let mut s = state.lock().expect("lab job");
        s.ended = Some(ended.clone());
        s.live = None;
    }
    let _ = tx.send(JobEvent::End(ended));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(raw: &str) -> Vec<JobEvent> {
        vec![JobEvent::Line(raw.trim_end().to_string())]
    }

    fn start(script: &str) -> Job {
        let command = ["/bin/sh", "-c", script].map(String::from).to_vec();
        Job::start("sh", command, "sh".into(), "the lab run", [text, text]).unwrap()
    }

    #[test]
    fn sse_names() {
        assert_eq!(JobEvent::End("finished".into()).sse(), ("end", "finished"));
    }

    fn wait_ended(job: &Job) -> String {
        let t0 = Instant::now();
        while job.running() {
            assert!(t0.elapsed() < Duration::from_secs(20), "did not end");
            std::thread::sleep(Duration::from_millis(20));
        }
        job.snapshot().ended.unwrap()
    }

    fn alive(pid: i32) -> bool {
        crate::sample::read_stat(pid).is_some_and(|s| s.state != 'Z' && s.state != 'X')
    }

    #[test]
    fn output_is_kept_and_the_end_recorded() {
        let job = start("echo one; echo two >&2; exit 3");
        assert_eq!(wait_ended(&job), "exit code 3");
        let mut log = job.snapshot().log;
        log.sort();
        assert_eq!(log, ["one", "two"]);
        let (past, ended, _) = job.follow(1);
        assert_eq!(past.len(), 1);
        assert_eq!(ended.as_deref(), Some("exit code 3"));
        assert!(!job.request_stop(), "nothing to stop");
    }

    /// A child that ignores SIGINT and starts a process in another process group (as the lab's
    /// targets are): the stop still ends the child and that process, and names the leftover.
    #[test]
    fn a_stop_ends_the_child_and_everything_it_started() {
        let dir = std::env::temp_dir().join(format!("stackwise-labjob-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pidfile = dir.join("pid");
        let script = format!(
            "trap '' INT; setsid sleep 300 & echo $! > {}; echo ready; while :; do sleep 1; done",
            pidfile.display()
        );
        let job = start(&script);
        let t0 = Instant::now();
        let other: i32 = loop {
            if let Some(p) = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                if job.snapshot().log.iter().any(|l| l == "ready") {
                    break p;
                }
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "the child did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let root = job.child.lock().unwrap().pid();
        // Shorten the grace: pretend the stop was asked long ago.
        assert!(job.request_stop());
        {
            let mut s = job.state.lock().unwrap();
            let (_, started) = s.stop.take().unwrap();
            assert!(started.iter().any(|&(p, _)| p == other), "{started:?}");
            s.stop = Some((
                Instant::now() - STOP_GRACE - Duration::from_secs(1),
                started,
            ));
        }
        let ended = wait_ended(&job);
        assert!(
            ended == "stopped by a signal" || ended.starts_with("exit code"),
            "{ended}"
        );
        assert!(!alive(root), "the child is left");
        assert!(!alive(other), "the process it started is left");
        assert!(
            job.snapshot()
                .log
                .iter()
                .any(|l| l.contains("did not stop within")),
            "{:?}",
            job.snapshot().log
        );
        assert!(crate::process::group_members(root).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_child_that_honours_sigint_ends_by_it() {
        let script =
            "trap 'echo interrupted; exit 130' INT; echo ready; while :; do sleep 0.1; done";
        let job = start(script);
        let t0 = Instant::now();
        while !job.snapshot().log.iter().any(|l| l == "ready") {
            assert!(t0.elapsed() < Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(job.request_stop());
        assert_eq!(wait_ended(&job), "exit code 130");
        assert!(job.snapshot().log.iter().any(|l| l == "interrupted"));
    }
}
