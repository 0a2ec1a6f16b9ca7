//! CPUs: pinning threads to cores, parsing CPU lists, and reading a thread's own CPU time.

use std::time::Duration;

use crate::config::{ConfigError, Field};

/// CPU numbers must be below this (the size of Linux's `cpu_set_t`).
pub const MAX_CPUS: usize = 1024;

/// Parses a CPU list such as `0`, `0,2` or `0-3,6` into sorted, distinct CPU numbers.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in s.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(format!(
                "'{s}' has an empty item; expected e.g. 0 or 0-3 or 0,2"
            ));
        }
        let parse = |x: &str| {
            let cpu = x
                .trim()
                .parse::<usize>()
                .map_err(|_| format!("'{x}' is not a CPU number (in '{s}')"))?;
            if cpu >= MAX_CPUS {
                return Err(format!(
                    "CPU {cpu} is beyond the {MAX_CPUS} CPUs pinning supports"
                ));
            }
            Ok(cpu)
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (parse(a)?, parse(b)?);
                if a > b {
                    return Err(format!("range '{part}' runs backwards"));
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(parse(part)?),
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// The CPUs this process may run on.
pub fn allowed_cpus() -> Vec<usize> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
                return (0..libc::CPU_SETSIZE as usize)
                    .filter(|&c| libc::CPU_ISSET(c, &set))
                    .collect();
            }
        }
    }
    (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
}

/// Checks that every CPU in `cpus` is one this process may run on.
pub fn check_cpus(cpus: &[usize]) -> Result<(), ConfigError> {
    let allowed = allowed_cpus();
    if let Some(bad) = cpus.iter().find(|c| !allowed.contains(c)) {
        return Err(ConfigError::new(
            Field::Pin,
            format!("CPU {bad} is not available here (allowed: {allowed:?})"),
        ));
    }
    Ok(())
}

/// Makes the calling thread's timed sleeps end on time: Linux lets a thread's sleeps and poll
/// timeouts run up to its timer slack late (50 µs by default) to batch wake-ups; the engine batches
/// its own, and needs the rest precise. Best effort: elsewhere, or on failure, nothing changes.
pub fn precise_sleeps() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes one unsigned long (nanoseconds) and touches no memory.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}

/// Pins the calling thread to one CPU.
pub fn pin_current_thread(cpu: usize) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: cpu_set_t is plain data; sched_setaffinity reads it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = cpu;
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "pinning is supported on Linux only",
        ))
    }
}

/// User and system CPU time consumed so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTime {
    pub user: Duration,
    pub system: Duration,
}

impl CpuTime {
    pub fn total(&self) -> Duration {
        self.user + self.system
    }

    /// `self - earlier`, saturating.
    pub fn since(&self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

impl std::ops::Add for CpuTime {
    type Output = CpuTime;
    fn add(self, o: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user + o.user,
            system: self.system + o.system,
        }
    }
}

fn rusage(who: libc::c_int) -> CpuTime {
    // SAFETY: rusage is plain data; getrusage fills it.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        if libc::getrusage(who, &mut ru) != 0 {
            return CpuTime::default();
        }
        ru
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    CpuTime {
        user: tv(ru.ru_utime),
        system: tv(ru.ru_stime),
    }
}

/// CPU time of the calling thread (Linux); of the whole process elsewhere.
pub fn thread_cpu_time() -> CpuTime {
    #[cfg(target_os = "linux")]
    {
        rusage(libc::RUSAGE_THREAD)
    }
    #[cfg(not(target_os = "linux"))]
    {
        rusage(libc::RUSAGE_SELF)
    }
}

/// CPU time of the whole process.
pub fn process_cpu_time() -> CpuTime {
    rusage(libc::RUSAGE_SELF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0").unwrap(), vec![0]);
        assert_eq!(parse_cpu_list("0-3").unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(parse_cpu_list("0, 2,5-6").unwrap(), vec![0, 2, 5, 6]);
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("a").is_err());
        assert!(parse_cpu_list("1,,2").is_err());
        assert_eq!(parse_cpu_list("1,0,1").unwrap(), vec![0, 1]);
        assert!(parse_cpu_list("0-100000000000").is_err());
    }

    #[test]
    fn unknown_cpu_is_refused() {
        let e = check_cpus(&[100_000]).unwrap_err();
        assert_eq!(e.field, Field::Pin);
        check_cpus(&allowed_cpus()[..1]).unwrap();
    }

    #[test]
    fn thread_cpu_time_advances_with_work() {
        let before = thread_cpu_time();
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(30) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        assert!(thread_cpu_time().since(before).total() > Duration::ZERO);
    }
}
