//! How busy given CPUs were over a window, whoever used them (per-CPU lines of `/proc/stat`).
//!
//! The suite reads it for the client CPUs (the load engine and the upstream share them: when they
//! are ≥ 90% busy together, the server's figure is a lower bound even if neither alone was) and for
//! the server CPUs (busy time the server itself did not use is other processes' load: figures taken
//! on a machine busy with other work are warned about).
//!
//! Steal time (the hypervisor ran another guest while this CPU had work) is kept apart: it is not
//! "busy" (nothing on this machine ran), so it is never counted as other processes' load; it is
//! reported on its own ([`CpuSnapshot::steal`], [`steal_share`], and the per-repeat steal meter).
//!
//! Interrupt time (irq, softirq) is busy, but it is not a process's: on loopback most of it is the
//! network stack carrying the lab's own requests to the server, and the kernel charges it to
//! whatever task the tick interrupts (often the idle task, on a server waiting for I/O). Other
//! processes' load is therefore read from task time only ([`task_share`]: user, nice, system): a
//! quiet machine serving 20,000 req/s on loopback spends 10–20% of the server CPU in softirq, which
//! would otherwise read as "other processes" and send quiet repeats to be measured again.

/// Per-CPU busy and total jiffies, for a set of CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CpuSnapshot {
    /// Jiffies something on this machine ran (user, nice, system, irq, softirq; not steal).
    pub busy: u64,
    /// Of `busy`, jiffies spent handling interrupts (irq, softirq).
    pub irq: u64,
    /// Jiffies stolen by the hypervisor.
    pub steal: u64,
    /// All jiffies (busy + idle + iowait + steal).
    pub total: u64,
}

/// Parses the `cpuN` lines of `/proc/stat` text for `cpus` (all CPUs when empty).
pub fn parse(stat: &str, cpus: &[usize]) -> CpuSnapshot {
    let mut snap = CpuSnapshot::default();
    for line in stat.lines() {
        let Some(rest) = line.strip_prefix("cpu") else {
            continue;
        };
        if !rest.starts_with(|c: char| c.is_ascii_digit()) {
            continue; // the aggregate "cpu" line
        }
        let mut fields = rest.split_whitespace();
        let Some(id) = fields.next().and_then(|n| n.parse::<usize>().ok()) else {
            continue;
        };
        if !cpus.is_empty() && !cpus.contains(&id) {
            continue;
        }
        // user nice system idle iowait irq softirq steal (guest time is inside user/nice).
        let v: Vec<u64> = fields.take(8).filter_map(|x| x.parse().ok()).collect();
        if v.len() < 4 {
            continue;
        }
        let total: u64 = v.iter().sum();
        let idle = v[3] + v.get(4).copied().unwrap_or(0);
        let steal = v.get(7).copied().unwrap_or(0);
        let irq = v.get(5).copied().unwrap_or(0) + v.get(6).copied().unwrap_or(0);
        snap.total += total;
        snap.steal += steal;
        snap.irq += irq;
        snap.busy += total - idle - steal;
    }
    snap
}

/// A snapshot of `cpus` now (zeros if `/proc/stat` cannot be read).
pub fn snapshot(cpus: &[usize]) -> CpuSnapshot {
    std::fs::read_to_string("/proc/stat")
        .map(|s| parse(&s, cpus))
        .unwrap_or_default()
}

/// Busy share (0–1) of the CPUs between two snapshots (stolen time is not busy); `None` without
/// data.
pub fn busy_share(start: CpuSnapshot, end: CpuSnapshot) -> Option<f64> {
    let total = end.total.checked_sub(start.total)?;
    let busy = end.busy.checked_sub(start.busy)?;
    (total > 0).then(|| busy as f64 / total as f64)
}

/// Share (0–1) of the CPUs' time tasks ran (user, nice, system: busy without interrupt handling)
/// between two snapshots: what is compared with a process tree's own CPU time to find other
/// processes' load; `None` without data.
pub fn task_share(start: CpuSnapshot, end: CpuSnapshot) -> Option<f64> {
    let total = end.total.checked_sub(start.total)?;
    let busy = end.busy.checked_sub(start.busy)?;
    let irq = end.irq.checked_sub(start.irq)?;
    (total > 0).then(|| busy.saturating_sub(irq) as f64 / total as f64)
}

/// Stolen share (0–1) of the CPUs between two snapshots; `None` without data.
pub fn steal_share(start: CpuSnapshot, end: CpuSnapshot) -> Option<f64> {
    let total = end.total.checked_sub(start.total)?;
    let steal = end.steal.checked_sub(start.steal)?;
    (total > 0).then(|| steal as f64 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "cpu  100 0 100 800 0 0 0 0 0 0\n\
                     cpu0 50 0 50 400 0 0 0 0 0 0\n\
                     cpu1 50 0 50 400 0 0 0 0 0 0\n\
                     intr 1 2 3\n";
    const B: &str = "cpu  300 0 150 850 0 0 0 0 0 0\n\
                     cpu0 240 0 60 400 0 0 0 0 0 0\n\
                     cpu1 60 0 90 450 0 0 0 0 0 0\n";

    #[test]
    fn busy_share_per_cpu_set() {
        let (a0, b0) = (parse(A, &[0]), parse(B, &[0]));
        assert_eq!(busy_share(a0, b0), Some(1.0)); // 200 busy of 200
        let (a1, b1) = (parse(A, &[1]), parse(B, &[1]));
        assert_eq!(busy_share(a1, b1), Some(0.5)); // 50 busy of 100
        let all = busy_share(parse(A, &[]), parse(B, &[])).unwrap();
        assert!((all - 250.0 / 300.0).abs() < 1e-9);
        assert_eq!(busy_share(b0, a0), None);
    }

    #[test]
    fn steal_is_not_counted_as_busy() {
        // CPU 1: 100 jiffies of the server, 300 stolen by the hypervisor, 100 idle.
        let a = "cpu1 0 0 0 0 0 0 0 0 0 0\n";
        let b = "cpu1 80 0 20 100 0 0 0 300 0 0\n";
        let (a, b) = (parse(a, &[1]), parse(b, &[1]));
        assert_eq!(busy_share(a, b), Some(0.2));
        assert_eq!(steal_share(a, b), Some(0.6));
        // The server used 100 of 500 jiffies: nothing is left for other processes, although the
        // hypervisor stole 60% (before the fix, 60% was reported as other processes' load).
        let own = 100.0 / 500.0;
        assert!((busy_share(a, b).unwrap() - own).abs() < 1e-9);
    }

    #[test]
    fn interrupt_time_is_busy_but_not_task_time() {
        // CPU 1 over 1,000 jiffies: the server ran 700 (user 500, system 200), the network stack
        // handled interrupts for 150 (irq 10, softirq 140), idle 150.
        let a = parse("cpu1 0 0 0 0 0 0 0 0 0 0\n", &[1]);
        let b = parse("cpu1 500 0 200 150 0 10 140 0 0 0\n", &[1]);
        assert_eq!(b.irq, 150);
        assert_eq!(busy_share(a, b), Some(0.85));
        assert_eq!(task_share(a, b), Some(0.7));
        // The server's own 700 jiffies leave no load to other processes: the softirq is not theirs.
        assert!((task_share(a, b).unwrap() - 0.7).abs() < 1e-9);
        assert_eq!(task_share(b, a), None);
    }

    #[test]
    fn reads_this_machine() {
        let s = snapshot(&[]);
        assert!(s.total >= s.busy);
    }
}
