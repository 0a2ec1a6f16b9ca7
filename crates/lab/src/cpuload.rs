//! How busy given CPUs were over a window, whoever used them (per-CPU lines of `/proc/stat`).
//!
//! The suite reads it for the client CPUs (the load engine and the upstream share them: when they
//! are ≥ 90% busy together, the server's figure is a lower bound even if neither alone was) and for
//! the server CPUs (busy time the server itself did not use is other processes' load: figures taken
//! on a machine busy with other work are warned about).

/// Per-CPU busy and total jiffies, for a set of CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CpuSnapshot {
    pub busy: u64,
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
        snap.total += total;
        snap.busy += total - idle;
    }
    snap
}

/// A snapshot of `cpus` now (zeros if `/proc/stat` cannot be read).
pub fn snapshot(cpus: &[usize]) -> CpuSnapshot {
    std::fs::read_to_string("/proc/stat")
        .map(|s| parse(&s, cpus))
        .unwrap_or_default()
}

/// Busy share (0–1) of the CPUs between two snapshots; `None` without data.
pub fn busy_share(start: CpuSnapshot, end: CpuSnapshot) -> Option<f64> {
    let total = end.total.checked_sub(start.total)?;
    let busy = end.busy.checked_sub(start.busy)?;
    (total > 0).then(|| busy as f64 / total as f64)
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
    fn reads_this_machine() {
        let s = snapshot(&[]);
        assert!(s.total >= s.busy);
    }
}
