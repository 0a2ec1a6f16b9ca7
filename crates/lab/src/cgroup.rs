//! A real cgroup v2 per supervised process tree, where one can be made: its `cpu.stat` `usage_usec`
//! covers every process that ever ran in it (workers that exited included), `cgroup.procs` lists the
//! tree even if a process left the process group, and `cgroup.kill` kills it all at once.
//!
//! Found from `/proc/self/mountinfo` (a `cgroup2` mount: `/sys/fs/cgroup` on unified hosts,
//! `/sys/fs/cgroup/unified` on hybrid ones) and `/proc/self/cgroup` (`0::/path`). Creation is tried
//! once per tree; when the hierarchy is not writable (an unprivileged user without delegation) the
//! caller falls back to `/proc` accounting.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A cgroup v2 directory this process created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    pub path: PathBuf,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// The directory of this process's own cgroup v2, if the unified hierarchy is mounted.
pub fn own_cgroup_dir() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    // Fields: id parent major:minor root mount-point options... - fstype source super-options
    let mount = mountinfo.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        if post.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let mut f = pre.split_whitespace();
        let root = f.nth(3)?;
        let mount_point = f.next()?;
        Some((root.to_string(), PathBuf::from(mount_point)))
    })?;
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = own.lines().find_map(|l| l.strip_prefix("0::"))?.trim();
    // The mount may show a sub-tree (`root` field): strip it from our path.
    let rel = rel.strip_prefix(mount.0.as_str()).unwrap_or(rel);
    let dir = mount.1.join(rel.trim_start_matches('/'));
    dir.is_dir().then_some(dir)
}

impl Cgroup {
    /// Creates a fresh child cgroup of our own (`stackwise-<pid>-<n>-<label>`), or `None` when the
    /// hierarchy is missing or not writable.
    pub fn create(label: &str) -> Option<Cgroup> {
        static SWEEP: std::sync::Once = std::sync::Once::new();
        SWEEP.call_once(|| {
            sweep_stale();
        });
        let base = own_cgroup_dir()?;
        let label: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(40)
            .collect();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = base.join(format!("stackwise-{}-{n}-{label}", std::process::id()));
        std::fs::create_dir(&path).ok()?;
        let cg = Cgroup { path };
        // Usable only if its CPU accounting can be read.
        if cg.cpu_usage_usec().is_err() {
            cg.remove();
            return None;
        }
        Some(cg)
    }

    pub fn procs_file(&self) -> PathBuf {
        self.path.join("cgroup.procs")
    }

    /// Processes in the cgroup now.
    pub fn pids(&self) -> Vec<i32> {
        std::fs::read_to_string(self.procs_file())
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// CPU time of every process that ran in the cgroup, exited ones included (µs).
    pub fn cpu_usage_usec(&self) -> io::Result<u64> {
        let s = std::fs::read_to_string(self.path.join("cpu.stat"))?;
        s.lines()
            .find_map(|l| l.strip_prefix("usage_usec "))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| io::Error::other("cpu.stat has no usage_usec"))
    }

    /// SIGKILLs every process in it (`cgroup.kill` where the kernel has it, else one by one).
    pub fn kill_all(&self) {
        if std::fs::write(self.path.join("cgroup.kill"), "1").is_err() {
            for pid in self.pids() {
                // SAFETY: plain syscall.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }

    /// Removes the (empty) directory, waiting briefly for the kernel to release it.
    pub fn remove(&self) {
        let deadline = Instant::now() + Duration::from_millis(500);
        while std::fs::remove_dir(&self.path).is_err()
            && self.path.exists()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn exists(&self) -> bool {
        Path::new(&self.path).is_dir()
    }
}

/// Removes leftovers of earlier stackwise processes that died without cleaning up (their
/// `stackwise-<pid>-…` cgroups whose pid is gone): kills what is still inside and removes them.
/// Returns the number removed.
pub fn sweep_stale() -> usize {
    let Some(base) = own_cgroup_dir() else {
        return 0;
    };
    let mut removed = 0;
    for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("stackwise-") else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let cg = Cgroup { path: e.path() };
        cg.kill_all();
        cg.remove();
        if !cg.exists() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the cgroup v2 hierarchy is writable (root, or a delegated sub-tree): a cgroup is made,
    /// accounts CPU, and a stale one left by a dead stackwise process is swept. Elsewhere the
    /// supervisor falls back to /proc (tested in `sample`), and this test checks only that.
    #[test]
    fn create_account_and_sweep() {
        let Some(cg) = Cgroup::create("unit") else {
            assert!(
                own_cgroup_dir().is_none_or(|d| std::fs::create_dir(d.join("x-probe")).is_err())
            );
            return;
        };
        assert!(cg.exists());
        assert_eq!(cg.cpu_usage_usec().unwrap(), 0);
        assert!(cg.pids().is_empty());
        cg.remove();
        assert!(!cg.exists());
        // A dead process's leftover.
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let dead = c.id();
        c.wait().unwrap();
        let stale = own_cgroup_dir()
            .unwrap()
            .join(format!("stackwise-{dead}-0-stale"));
        std::fs::create_dir(&stale).unwrap();
        assert!(sweep_stale() >= 1);
        assert!(!stale.exists());
    }
}
