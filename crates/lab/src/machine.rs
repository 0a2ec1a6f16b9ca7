//! The machine fingerprint stored with every run ([`store::model::Machine`]: CPU model, cores,
//! kernel, OS, memory, versions of node/python/rustc found on PATH) and the versions a target
//! reports through its manifest's `[versions] command`, and the BLAS library NumPy uses in the
//! installed Python targets ([`blas`]: read from NumPy's build configuration file, no Python
//! started).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::manifest::Target;

/// The fingerprint of this machine. `stackwise_version` is recorded among the runtimes.
pub fn fingerprint(
    server_cpus: &[usize],
    client_cpus: &[usize],
    stackwise_version: &str,
) -> store::model::Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            matches!(k.trim(), "model name" | "Model" | "cpu model").then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    let memory_mb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        })
        .map(|kb| kb / 1024)
        .unwrap_or(0);
    let mut runtimes = runtime_versions();
    runtimes.insert("stackwise".into(), stackwise_version.to_string());
    store::model::Machine {
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

/// Versions of `node`, `python` (python3) and `rustc` found on PATH (absent ones are left out).
pub fn runtime_versions() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for (key, prog) in [("node", "node"), ("python", "python3"), ("rustc", "rustc")] {
        if let Some(v) = version_of(prog) {
            m.insert(key.to_string(), v);
        }
    }
    m
}

/// `prog --version`, reduced to the version number (`v20.19.1` → `20.19.1`, `Python 3.11.2` →
/// `3.11.2`, `rustc 1.95.0 (…)` → `1.95.0`).
pub fn version_of(prog: &str) -> Option<String> {
    let out = run_bounded(
        &[prog.to_string(), "--version".to_string()],
        None,
        Duration::from_secs(10),
    )
    .ok()?;
    let text = out.trim();
    let word = text.split_whitespace().find(|w| {
        w.trim_start_matches('v')
            .starts_with(|c: char| c.is_ascii_digit())
    })?;
    Some(word.trim_start_matches('v').to_string())
}

fn run_bounded(argv: &[String], dir: Option<&Path>, timeout: Duration) -> Result<String, String> {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run `{}`: {e}", argv[0]))?;
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{}` did not finish within {timeout:?}",
                    argv.join(" ")
                ));
            }
        }
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "`{}` {}: {}",
            argv.join(" "),
            crate::process::describe_exit(&out.status),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    if s.trim().is_empty() {
        s = String::from_utf8_lossy(&out.stderr).into_owned();
    }
    Ok(s)
}

/// Why a target's versions could not be read: which target, and what its command did.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionsError {
    /// The `[versions] command` has a placeholder the lab cannot fill.
    #[error(transparent)]
    Placeholder(#[from] crate::manifest::PlaceholderError),
    /// The command could not be run, or failed.
    #[error("{target}: versions command: {message}")]
    Command { target: String, message: String },
    /// The command printed something that is not JSON.
    #[error("{target}: versions command printed no JSON object ({error}): {printed}")]
    NotJson {
        target: String,
        error: String,
        printed: String,
    },
    /// The command printed JSON that is not an object.
    #[error("{target}: versions command printed {printed}, not an object")]
    NotAnObject { target: String, printed: String },
}

/// The versions the target reports (its `[versions] command`, run in its folder, printing a JSON
/// object); values that are not strings are kept as their JSON text. Empty without a command.
pub fn target_versions(
    target: &Target,
    repo: &Path,
) -> Result<BTreeMap<String, String>, VersionsError> {
    let Some(v) = &target.manifest.versions else {
        return Ok(BTreeMap::new());
    };
    let ph = crate::launch::placeholders(target, repo, 0, 1, 1, 1, "");
    let argv = ph.expand_all(&v.command)?;
    let out = run_bounded(&argv, Some(&target.dir), Duration::from_secs(30)).map_err(|e| {
        VersionsError::Command {
            target: target.name().to_string(),
            message: e.to_string(),
        }
    })?;
    let json: serde_json::Value =
        serde_json::from_str(out.trim()).map_err(|e| VersionsError::NotJson {
            target: target.name().to_string(),
            error: e.to_string(),
            printed: out.trim().to_string(),
        })?;
    let obj = json.as_object().ok_or_else(|| VersionsError::NotAnObject {
        target: target.name().to_string(),
        printed: json.to_string(),
    })?;
    Ok(obj
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string()),
            )
        })
        .collect())
}

/// The BLAS library of the first installed Python target (by name) whose venv has NumPy, e.g.
/// `scipy-openblas 0.3.31.188.0 (numpy 2.4.6; OpenBLAS 0.3.31.188.0 USE64BITINT DYNAMIC_ARCH
/// NO_AFFINITY Haswell MAX_THREADS=64; from python-django)`: the `blas` entry of
/// `numpy/__config__.py`, the file `numpy.show_config()` prints, read as text (cheap: no
/// interpreter, no NumPy import). `None` when no installed target has NumPy.
pub fn blas(dir: &crate::manifest::TargetsDir) -> Option<String> {
    dir.load_all().into_iter().flatten().find_map(|t| {
        if t.manifest.language != crate::manifest::Language::Python {
            return None;
        }
        t.manifest.install.installed.iter().find_map(|p| {
            let site = crate::install::site_packages(&t.install_path(p))?;
            let b = blas_of_site_packages(&site)?;
            Some(match b.strip_suffix(')') {
                Some(open) => format!("{open}; from {})", t.name()),
                None => format!("{b} (from {})", t.name()),
            })
        })
    })
}

/// The BLAS NumPy was built against, from `site/numpy/__config__.py` (and NumPy's version from its
/// `dist-info` folder name).
pub fn blas_of_site_packages(site: &Path) -> Option<String> {
    let cfg = std::fs::read_to_string(site.join("numpy").join("__config__.py")).ok()?;
    let block = &cfg[cfg.find("\"blas\"")?..];
    let block = &block[..block.find('}').unwrap_or(block.len())];
    let field = |key: &str| {
        block.lines().find_map(|l| {
            let rest = l.trim().strip_prefix(&format!("\"{key}\":"))?;
            let v = rest.trim().trim_end_matches(',').trim_start_matches('r');
            Some(
                v.trim_matches('"')
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })
    };
    let name = field("name")?;
    let numpy = std::fs::read_dir(site)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_prefix("numpy-")?
                .strip_suffix(".dist-info")
                .map(str::to_string)
        })
        .next();
    let mut detail = Vec::new();
    if let Some(v) = numpy {
        detail.push(format!("numpy {v}"));
    }
    if let Some(c) = field("openblas configuration") {
        detail.push(c);
    }
    let version = field("version")
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    Some(if detail.is_empty() {
        format!("{name}{version}")
    } else {
        format!("{name}{version} ({})", detail.join("; "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blas_is_read_from_numpys_build_configuration() {
        let dir = std::env::temp_dir().join(format!("stackwise-blas-{}", std::process::id()));
        let site = dir.join("site-packages");
        std::fs::create_dir_all(site.join("numpy")).unwrap();
        std::fs::create_dir_all(site.join("numpy-2.4.6.dist-info")).unwrap();
        assert_eq!(blas_of_site_packages(&site), None);
        std::fs::write(
            site.join("numpy").join("__config__.py"),
            r#"CONFIG = _cleanup(
    {
        "Build Dependencies": {
            "blas": {
                "name": "scipy-openblas",
                "found": bool("True".lower().replace("false", "")),
                "version": "0.3.31.188.0",
                "openblas configuration": r"OpenBLAS 0.3.31.188.0  USE64BITINT DYNAMIC_ARCH Haswell",
                "pc file directory": r"/project/.openblas",
            },
            "lapack": {
                "name": "other",
            },
        },
    }
)
"#,
        )
        .unwrap();
        assert_eq!(
            blas_of_site_packages(&site).as_deref(),
            Some("scipy-openblas 0.3.31.188.0 (numpy 2.4.6; OpenBLAS 0.3.31.188.0 USE64BITINT DYNAMIC_ARCH Haswell)")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fingerprint_is_filled() {
        let m = fingerprint(&[1], &[0], "0.1.0");
        assert!(m.cores >= 1);
        assert!(m.memory_mb > 0);
        assert!(!m.kernel.is_empty() && m.kernel != "unknown");
        assert_eq!(m.runtimes["stackwise"], "0.1.0");
        // rustc is here (we are being built by it).
        assert!(m.runtimes["rustc"].starts_with("1."), "{:?}", m.runtimes);
        assert_eq!((m.server_cpus, m.client_cpus), (vec![1], vec![0]));
    }
}
