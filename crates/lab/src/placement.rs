//! The machine fingerprint stored with every run (CPU model, cores, kernel, OS, memory, runtime
//! versions) and the split of CPUs between the servers and the client side (load engine and
//! services).

use std::collections::BTreeMap;
use std::process::Command;

use store::Machine;

/// Server CPUs, client CPUs, and a warning when they had to be shared.
pub type CpuSplit = (Vec<usize>, Vec<usize>, Option<String>);

/// Splits the CPUs this process may use: the servers get `server` (`--server-cpus`) or the upper
/// half, the load engine and the services the rest. On one CPU both share it (a warning says so).
pub fn split_cpus(allowed: &[usize], server: Option<&[usize]>) -> Result<CpuSplit, String> {
    if allowed.is_empty() {
        return Err("no CPU is available to this process".into());
    }
    let server: Vec<usize> = match server {
        Some(s) => {
            if s.is_empty() {
                return Err("--server-cpus: names no CPU".into());
            }
            for c in s {
                if !allowed.contains(c) {
                    return Err(format!(
                        "--server-cpus: CPU {c} is not available to this process (available: {})",
                        list(allowed)
                    ));
                }
            }
            s.to_vec()
        }
        None if allowed.len() == 1 => allowed.to_vec(),
        None => allowed[allowed.len() / 2..].to_vec(),
    };
    let client: Vec<usize> = allowed
        .iter()
        .copied()
        .filter(|c| !server.contains(c))
        .collect();
    if client.is_empty() {
        return Ok((
            server.clone(),
            server,
            Some(
                "the server and the load engine share the same CPUs: figures are lower bounds of what a dedicated server does"
                    .into(),
            ),
        ));
    }
    Ok((server, client, None))
}

fn list(v: &[usize]) -> String {
    v.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// First line of `cmd args` on stdout (or stderr), trimmed; `None` when it cannot run.
pub fn command_version(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .map(|l| l.trim().to_string())
}

/// The fingerprint of this machine.
pub fn fingerprint(server_cpus: &[usize], client_cpus: &[usize]) -> Machine {
    let cpuinfo = read("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "model name").then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let kernel = read("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let os = read("/etc/os-release")
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    let memory_mb = read("/proc/meminfo")
        .and_then(|s| {
            s.lines().find_map(|l| {
                let rest = l.strip_prefix("MemTotal:")?;
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        })
        .map_or(0, |kb| kb / 1024);
    let mut runtimes = BTreeMap::new();
    if let Some(v) = command_version("node", &["--version"]) {
        runtimes.insert("node".into(), v.trim_start_matches('v').to_string());
    }
    if let Some(v) = command_version("python3", &["--version"]) {
        runtimes.insert("python".into(), v.trim_start_matches("Python ").to_string());
    }
    if let Some(v) = command_version("rustc", &["--version"]) {
        runtimes.insert("rustc".into(), v.trim_start_matches("rustc ").to_string());
    }
    runtimes.insert("stackwise".into(), env!("CARGO_PKG_VERSION").to_string());
    Machine {
        cpu_model,
        cores,
        kernel,
        os,
        memory_mb,
        runtimes,
        server_cpus: server_cpus.to_vec(),
        client_cpus: client_cpus.to_vec(),
    }
}

/// The note readers need when a run used Node.js 20 (end of life on 2026-04-30).
pub fn node_eol_note(node_version: &str) -> Option<String> {
    let major: u32 = node_version
        .trim_start_matches('v')
        .split('.')
        .next()?
        .parse()
        .ok()?;
    (major <= 20).then(|| {
        format!(
            "Node.js {node_version} is past its end of life (Node 20: 2026-04-30; Node 18 and older earlier): \
             no security fixes; production should use a supported release (22 or 24 LTS)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_cores_split_one_and_one() {
        let (s, c, w) = split_cpus(&[0, 1], None).unwrap();
        assert_eq!((s, c, w), (vec![1], vec![0], None));
        let (s, c, _) = split_cpus(&[0, 1, 2, 3], None).unwrap();
        assert_eq!((s, c), (vec![2, 3], vec![0, 1]));
        let (s, c, _) = split_cpus(&[0, 1, 2, 3], Some(&[0])).unwrap();
        assert_eq!((s, c), (vec![0], vec![1, 2, 3]));
    }

    #[test]
    fn one_core_is_shared_with_a_warning_and_bad_cpus_name_the_flag() {
        let (s, c, w) = split_cpus(&[0], None).unwrap();
        assert_eq!((s, c), (vec![0], vec![0]));
        assert!(w.unwrap().contains("share"));
        let e = split_cpus(&[0, 1], Some(&[5])).unwrap_err();
        assert!(e.starts_with("--server-cpus: CPU 5"), "{e}");
    }

    #[test]
    fn node_20_is_past_end_of_life() {
        assert!(node_eol_note("20.20.2").unwrap().contains("end of life"));
        assert!(node_eol_note("v18.1.0").is_some());
        assert!(node_eol_note("22.3.0").is_none());
        assert!(node_eol_note("garbage").is_none());
    }

    #[test]
    fn fingerprint_names_this_machine() {
        let m = fingerprint(&[1], &[0]);
        assert!(m.cores >= 1);
        assert_eq!(m.runtimes["stackwise"], env!("CARGO_PKG_VERSION"));
        assert_eq!(m.server_cpus, vec![1]);
    }
}
