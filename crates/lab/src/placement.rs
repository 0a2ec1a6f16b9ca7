//! Where things run: the split of CPUs between the servers and the client side (load engine and
//! services), and the runtime notes readers need (Node.js past its end of life).

/// Server CPUs, client CPUs, and a warning when they had to be shared.
pub type CpuSplit = (Vec<usize>, Vec<usize>, Option<String>);

/// Why the CPUs cannot be split as asked. The messages name the flag (`--server-cpus`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpuSplitError {
    /// The process may run on no CPU.
    #[error("no CPU is available to this process")]
    NoCpu,
    /// The server CPUs asked for are an empty list.
    #[error("--server-cpus: names no CPU")]
    NoServerCpu,
    /// A server CPU asked for is not one this process may use.
    #[error(
        "--server-cpus: CPU {cpu} is not available to this process (available: {})",
        list(available)
    )]
    ServerCpuUnavailable { cpu: usize, available: Vec<usize> },
    /// `--server-cpus` is not a CPU list.
    #[error("--server-cpus: {0}")]
    BadList(String),
}

/// The `stackwise targets` split: `server_cpus` (a CPU list as given, e.g. `2-3`) and the rest
/// of the allowed CPUs for the client side (all of them shared when none is left), or the
/// default split ([`crate::launch::split_cpus`]).
pub fn server_and_client(
    server_cpus: Option<&str>,
) -> Result<(Vec<usize>, Vec<usize>), CpuSplitError> {
    let allowed = loadgen::cpu::allowed_cpus();
    let Some(s) = server_cpus else {
        return Ok(crate::launch::split_cpus(&allowed));
    };
    let server = loadgen::cpu::parse_cpu_list(s).map_err(CpuSplitError::BadList)?;
    if let Some(c) = server.iter().find(|c| !allowed.contains(c)) {
        return Err(CpuSplitError::ServerCpuUnavailable {
            cpu: *c,
            available: allowed,
        });
    }
    let mut client: Vec<usize> = allowed
        .iter()
        .copied()
        .filter(|c| !server.contains(c))
        .collect();
    if client.is_empty() {
        client = server.clone();
    }
    Ok((server, client))
}

/// Splits the CPUs this process may use: the servers get `server` (`--server-cpus`) or the upper
/// half, the load engine and the services the rest. On one CPU both share it (a warning says so).
pub fn split_cpus(allowed: &[usize], server: Option<&[usize]>) -> Result<CpuSplit, CpuSplitError> {
    if allowed.is_empty() {
        return Err(CpuSplitError::NoCpu);
    }
    let server: Vec<usize> = match server {
        Some(s) => {
            if s.is_empty() {
                return Err(CpuSplitError::NoServerCpu);
            }
            for c in s {
                if !allowed.contains(c) {
                    return Err(CpuSplitError::ServerCpuUnavailable {
                        cpu: *c,
                        available: allowed.to_vec(),
                    });
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

/// The note readers need when a run used a Node.js past its end of life: the rule lives in the
/// workload registry's trust rules, so the lab and the reports word it the same way.
pub use workloads::trust::node_eol_note;

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
        assert_eq!(
            e,
            CpuSplitError::ServerCpuUnavailable {
                cpu: 5,
                available: vec![0, 1]
            }
        );
        assert_eq!(
            e.to_string(),
            "--server-cpus: CPU 5 is not available to this process (available: 0,1)"
        );
    }
}
