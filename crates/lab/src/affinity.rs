//! Keeps the lab's own threads off the server CPUs during a suite run.
//!
//! The servers are pinned to the server CPUs when they are spawned (`sched_setaffinity` before
//! `exec`, [`crate::process`]) and the load engine pins its own threads to the client CPUs; every
//! other thread of the lab process (the suite's thread, the PSS samplers, the process output
//! readers, the spawner, the watchdog, the Ctrl-C handler) used to run wherever the scheduler put
//! it, the server CPUs included, where its CPU time read as "other processes" in the measured
//! target's windows (a full suite on a quiet machine, 2026-12-06: 58 repeats re-measured for
//! "other processes 10–22%", with ten always-on samplers at about 28% of one CPU).
//!
//! [`pin_lab_threads`] pins every thread of this process whose affinity reaches a server CPU to the
//! client CPUs; threads started afterwards inherit their creator's mask, so they stay there too. A
//! child process inherits the mask of the thread that forks it: the servers set their own (a
//! thread may widen its mask to any CPU its cpuset allows), children spawned without CPUs (install
//! steps) run on the client CPUs while a run lasts. What the process may use is still the mask
//! it had before ([`process_cpus`]: the spawn check and `{cpus}` read it). Dropping the guard gives the threads it pinned
//! their masks back (for a process that outlives the run: the web UI).

/// Threads pinned by [`pin_lab_threads`], with the masks they had.
#[derive(Debug)]
pub struct Pinned {
    restore: Vec<(i32, Vec<usize>)>,
    /// This guard recorded [`process_cpus`] (the outermost one, when runs nest).
    owns_original: bool,
}

/// The calling thread's mask before [`pin_lab_threads`], while its guard lives.
static ORIGINAL: std::sync::Mutex<Option<Vec<usize>>> = std::sync::Mutex::new(None);

/// The CPUs this process may use: the mask its threads had before [`pin_lab_threads`] while they
/// are pinned (a server spawned during a run is pinned to server CPUs that the spawning thread's
/// own mask no longer holds), else the calling thread's.
pub fn process_cpus() -> Vec<usize> {
    ORIGINAL
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .unwrap_or_else(loadgen::cpu::allowed_cpus)
}

/// Thread ids of this process.
pub fn own_threads() -> Vec<i32> {
    std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// The CPUs thread (or process) `tid` may run on; `None` if it is gone.
pub fn get(tid: i32) -> Option<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity writes it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return None;
        }
        Some(
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &set))
                .collect(),
        )
    }
}

/// Pins thread (or process) `tid` to `cpus`; false if it failed (gone, or no such CPU).
pub fn set(tid: i32, cpus: &[usize]) -> bool {
    if cpus.is_empty() {
        return false;
    }
    // SAFETY: as above; sched_setaffinity reads the set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// Pins every thread of this process that may run on a `server` CPU to the `client` CPUs, until
/// the guard is dropped. Nothing to do (`None`) when either list is empty or they share a CPU
/// (one CPU for both: there is nowhere else to go).
pub fn pin_lab_threads(client: &[usize], server: &[usize]) -> Option<Pinned> {
    if client.is_empty() || server.is_empty() || client.iter().any(|c| server.contains(c)) {
        return None;
    }
    let owns_original = {
        let mut o = ORIGINAL.lock().unwrap_or_else(|p| p.into_inner());
        let first = o.is_none();
        if first {
            *o = Some(loadgen::cpu::allowed_cpus());
        }
        first
    };
    let mut restore: Vec<(i32, Vec<usize>)> = Vec::new();
    // Twice: a thread started while the first pass ran may have copied an unpinned mask.
    for _ in 0..2 {
        for tid in own_threads() {
            if restore.iter().any(|(t, _)| *t == tid) {
                continue;
            }
            let Some(mask) = get(tid) else { continue };
            if mask.iter().any(|c| server.contains(c)) && set(tid, client) {
                restore.push((tid, mask));
            }
        }
    }
    Some(Pinned {
        restore,
        owns_original,
    })
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let alive = own_threads();
        for (tid, mask) in &self.restore {
            if alive.contains(tid) {
                set(*tid, mask);
            }
        }
        if self.owns_original {
            *ORIGINAL.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }
}

/// Parses a CPU list as `/proc/<pid>/status` writes it (`Cpus_allowed_list: 0-2,5`).
pub fn parse_cpu_list(s: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
                    out.extend(a..=b);
                }
            }
            None => {
                if let Ok(c) = part.trim().parse() {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// The `Cpus_allowed_list` of a `/proc/<pid>[/task/<tid>]/status` text.
pub fn allowed_in_status(status: &str) -> Option<Vec<usize>> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(parse_cpu_list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_lists() {
        assert_eq!(parse_cpu_list("0-2,5\n"), vec![0, 1, 2, 5]);
        assert_eq!(parse_cpu_list("1"), vec![1]);
        assert_eq!(parse_cpu_list(""), Vec::<usize>::new());
        let status = "Name:\tnode\nCpus_allowed:\t2\nCpus_allowed_list:\t1\nMems_allowed:\t1\n";
        assert_eq!(allowed_in_status(status), Some(vec![1]));
        assert_eq!(allowed_in_status("Name:\tx\n"), None);
    }

    #[test]
    fn nothing_is_pinned_when_the_cpus_are_shared_or_missing() {
        assert!(pin_lab_threads(&[0], &[0]).is_none());
        assert!(pin_lab_threads(&[], &[1]).is_none());
        assert!(pin_lab_threads(&[0], &[]).is_none());
    }

    #[test]
    fn reads_this_threads_mask() {
        let me = get(0).unwrap();
        assert!(!me.is_empty());
    }
}
