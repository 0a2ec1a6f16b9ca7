//! Installing a target: its `requires` programs are checked first (a missing one is named with how
//! to get it), then its `[install] steps` run in the target folder with their output captured; a
//! registry that cannot be reached is said so. An install whose `check` paths all exist is skipped
//! unless forced or stale (its lockfile changed: a SHA-256 stamp is kept in the installed folder;
//! Rust targets are always handed to cargo, which rebuilds only what changed). Also the install footprint: bytes on disk of the `installed` paths and the number
//! of packages (`package.json` files of `node_modules` packages, Python `*.dist-info` folders).

use std::collections::HashSet;
use std::fmt;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::manifest::{Placeholders, Target};

/// Finds a program on PATH (an absolute or relative path is checked as is).
pub fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}

/// The python3 on PATH, for the `{python}` placeholder (`python3` if none is found).
pub fn python() -> String {
    find_program("python3")
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "python3".into())
}

/// How to get a program the manifest requires.
pub fn install_hint(program: &str) -> &'static str {
    match program {
        "node" | "npm" | "npx" => {
            "install Node.js 20 or newer with npm (https://nodejs.org, or `apt-get install nodejs npm`)"
        }
        "python3" | "python" => {
            "install Python 3.11 or newer with venv (`apt-get install python3 python3-venv`)"
        }
        "pip" | "pip3" => "install pip (`apt-get install python3-pip`, or `python3 -m ensurepip`)",
        "cargo" | "rustc" => "install Rust with rustup (https://rustup.rs)",
        _ => "install it and make sure it is on PATH",
    }
}

/// A required program that is missing.
#[derive(Debug, Clone, PartialEq)]
pub struct Missing {
    pub program: String,
    pub hint: String,
}

/// Required programs not found on PATH, and Python's venv module when a step makes a venv.
pub fn missing_requirements(target: &Target) -> Vec<Missing> {
    let mut out = Vec::new();
    for p in &target.manifest.install.requires {
        if find_program(p).is_none() {
            out.push(Missing {
                program: p.clone(),
                hint: install_hint(p).into(),
            });
        }
    }
    // A step running `python -m venv` needs the venv module and ensurepip (a separate package
    // on Debian and Ubuntu).
    let makes_venv = target
        .manifest
        .install
        .steps
        .iter()
        .any(|s| s.windows(2).any(|w| w[0] == "-m" && w[1] == "venv"));
    if makes_venv && out.is_empty() {
        if let Some(py) = find_program("python3") {
            let ok = Command::new(py)
                .args(["-c", "import venv, ensurepip"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                out.push(Missing {
                    program: "python3 -m venv".into(),
                    hint: "install Python's venv module (`apt-get install python3-venv`)".into(),
                });
            }
        }
    }
    out
}

/// Whether every `check` path exists (a target with no steps is always installed).
pub fn is_installed(target: &Target) -> bool {
    let i = &target.manifest.install;
    if i.steps.is_empty() {
        return true;
    }
    !i.check.is_empty() && i.check.iter().all(|c| target.install_path(c).exists())
}

/// Name of the file, inside the first installed folder, holding the SHA-256 of the lockfile the
/// install was made from.
pub const LOCK_STAMP: &str = ".stackwise-lockfile.sha256";

fn stamp_path(target: &Target) -> Option<PathBuf> {
    target
        .manifest
        .install
        .installed
        .iter()
        .map(|p| target.install_path(p))
        .find(|p| p.is_dir())
        .map(|d| d.join(LOCK_STAMP))
}

fn lock_digest(target: &Target) -> Option<String> {
    use sha2::{Digest, Sha256};
    let lock = target.manifest.install.lockfile.as_ref()?;
    let bytes = std::fs::read(target.install_path(lock)).ok()?;
    Some(
        Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// Why an existing install must be redone, if it must: its lockfile changed since (or it was made
/// before stamps were kept). Rust targets are always handed to cargo, which rebuilds only what
/// changed (sources as well as the lockfile).
pub fn stale_reason(target: &Target) -> Option<String> {
    if target.manifest.install.steps.is_empty() {
        return None;
    }
    if target.manifest.language == crate::manifest::Language::Rust {
        return Some("cargo rebuilds what changed".into());
    }
    let digest = lock_digest(target)?;
    let stamp = stamp_path(target)?;
    match std::fs::read_to_string(&stamp) {
        Ok(s) if s.trim() == digest => None,
        Ok(_) => Some("its lockfile changed since it was installed".into()),
        Err(_) => Some("it was installed without a lockfile stamp".into()),
    }
}

/// Installed and not stale: [`install`] would skip it.
pub fn is_up_to_date(target: &Target) -> bool {
    is_installed(target) && stale_reason(target).is_none()
}

/// An exclusive `flock` on a file in the temporary directory named after the target folder.
struct InstallLock {
    _file: std::fs::File,
}

impl InstallLock {
    fn acquire(target: &Target) -> std::io::Result<InstallLock> {
        use sha2::{Digest, Sha256};
        use std::os::fd::AsRawFd;
        let key: String = Sha256::digest(target.dir.to_string_lossy().as_bytes())
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        let path = std::env::temp_dir().join(format!("stackwise-install-{key}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        // SAFETY: flock on an fd we own; released when the file is closed.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(InstallLock { _file: file })
    }
}

/// What an install did.
#[derive(Debug, Clone, PartialEq)]
pub struct InstallOutcome {
    /// Already installed: nothing ran.
    pub skipped: bool,
    pub took: Duration,
    /// The steps run, as shell-like text.
    pub steps: Vec<String>,
}

/// Why an install failed.
#[derive(Debug, Clone, PartialEq)]
pub enum InstallError {
    /// Required programs are missing.
    Missing {
        target: String,
        missing: Vec<Missing>,
    },
    /// A step could not start or failed.
    Step {
        target: String,
        step: String,
        status: String,
        /// The registry could not be reached (network), as its output says.
        registry_unreachable: Option<String>,
        tail: Vec<String>,
    },
    Config {
        target: String,
        message: String,
    },
}

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstallError::Missing { target, missing } => {
                write!(f, "{target} cannot be installed: ")?;
                for (i, m) in missing.iter().enumerate() {
                    if i > 0 {
                        write!(f, "; ")?;
                    }
                    write!(f, "`{}` is not on PATH: {}", m.program, m.hint)?;
                }
                Ok(())
            }
            InstallError::Step {
                target,
                step,
                status,
                registry_unreachable,
                tail,
            } => {
                write!(f, "{target}: install step `{step}` {status}")?;
                if let Some(r) = registry_unreachable {
                    write!(
                        f,
                        "; the package registry could not be reached ({r}): check the network \
                         connection or proxy settings and retry"
                    )?;
                }
                if tail.iter().any(|l| {
                    l.contains("ensurepip is not available") || l.contains("No module named venv")
                }) {
                    write!(
                        f,
                        "; Python's venv module is missing: install it (`apt-get install python3-venv`)"
                    )?;
                }
                if !tail.is_empty() {
                    write!(f, "; its last output lines:")?;
                    for l in tail {
                        write!(f, "\n  | {l}")?;
                    }
                }
                Ok(())
            }
            InstallError::Config { target, message } => write!(f, "{target}: {message}"),
        }
    }
}

impl std::error::Error for InstallError {}

/// Output lines that mean the registry was not reachable, with the registry named.
fn registry_problem(lines: &[String]) -> Option<String> {
    const SIGNS: [&str; 12] = [
        "ENOTFOUND",
        "EAI_AGAIN",
        "ECONNREFUSED",
        "ECONNRESET",
        "ETIMEDOUT",
        "network request to",
        "Temporary failure in name resolution",
        "Failed to establish a new connection",
        "Could not fetch URL",
        "No route to host",
        "Network is unreachable",
        "failed to query replaced source registry",
    ];
    let strong = lines.iter().find(|l| SIGNS.iter().any(|s| l.contains(s)));
    // pip without retries only says it found no versions at all: most often an unreachable index.
    let weak = lines.iter().find(|l| l.contains("(from versions: none)"));
    let hit = strong.or(weak)?;
    let joined = lines.join("\n");
    let registry = if joined.contains("npmjs") || joined.contains("npm ") {
        "npm registry"
    } else if joined.contains("pypi") || joined.contains("pip") {
        "PyPI"
    } else if joined.contains("crates.io") || joined.contains("index.crates") {
        "crates.io"
    } else {
        "registry"
    };
    if strong.is_none() {
        return Some(format!(
            "{registry} listed no versions at all, which usually means it was not reached: {}",
            hit.trim()
        ));
    }
    Some(format!("{registry}: {}", hit.trim()))
}

fn placeholders_for_install(target: &Target, repo: &Path) -> Placeholders {
    Placeholders {
        port: 0,
        workers: 1,
        threads: 1,
        upstream: String::new(),
        cpus: 1,
        dir: target.dir.clone(),
        python: python(),
        repo: repo.to_path_buf(),
        database: String::new(),
        db_pool: 1,
    }
}

/// Installs `target` (unless already installed and not `force`d). Each output line of the steps is
/// passed to `on_line`. Steps are bounded by `step_timeout` each and run in their own process group
/// (killed on Ctrl-C through [`crate::process::kill_all`]).
pub fn install(
    target: &Target,
    repo: &Path,
    force: bool,
    step_timeout: Duration,
    on_line: &mut dyn FnMut(&str),
) -> Result<InstallOutcome, InstallError> {
    let t0 = Instant::now();
    let name = target.name().to_string();
    // One install of a folder at a time, across processes (parallel tests, two terminals).
    let _lock = InstallLock::acquire(target).map_err(|e| InstallError::Config {
        target: name.clone(),
        message: format!("cannot take the install lock: {e}"),
    })?;
    if !force && is_up_to_date(target) {
        return Ok(InstallOutcome {
            skipped: true,
            took: t0.elapsed(),
            steps: vec![],
        });
    }
    let missing = missing_requirements(target);
    if !missing.is_empty() {
        return Err(InstallError::Missing {
            target: name,
            missing,
        });
    }
    if let Some(lock) = &target.manifest.install.lockfile {
        let path = target.install_path(lock);
        if !path.exists() {
            return Err(InstallError::Config {
                target: name,
                message: format!(
                    "its lockfile {} is missing (install.lockfile in {})",
                    path.display(),
                    target.file.display()
                ),
            });
        }
    }
    let ph = placeholders_for_install(target, repo);
    let mut done = Vec::new();
    for step in &target.manifest.install.steps {
        let argv = ph.expand_all(step).map_err(|e| InstallError::Config {
            target: name.clone(),
            message: e.to_string(),
        })?;
        let text = argv.join(" ");
        run_step(&name, &argv, &target.dir, &text, step_timeout, on_line)?;
        done.push(text);
    }
    if !is_installed(target) {
        return Err(InstallError::Config {
            target: name,
            message: format!(
                "the install steps succeeded but the check paths are missing: {} (fix [install] check in {})",
                target.manifest.install.check.join(", "),
                target.file.display()
            ),
        });
    }
    if let (Some(digest), Some(stamp)) = (lock_digest(target), stamp_path(target)) {
        std::fs::write(&stamp, format!("{digest}\n")).map_err(|e| InstallError::Config {
            target: target.name().to_string(),
            message: format!("cannot write {}: {e}", stamp.display()),
        })?;
    }
    Ok(InstallOutcome {
        skipped: false,
        took: t0.elapsed(),
        steps: done,
    })
}

fn run_step(
    target: &str,
    argv: &[String],
    dir: &Path,
    text: &str,
    timeout: Duration,
    on_line: &mut dyn FnMut(&str),
) -> Result<(), InstallError> {
    let fail = |status: String, tail: Vec<String>| InstallError::Step {
        target: target.into(),
        step: text.into(),
        registry_unreachable: registry_problem(&tail),
        status,
        tail,
    };
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = crate::process::spawn_tied(cmd).map_err(|e| {
        let reason = if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "could not start: `{}` is not on PATH ({})",
                argv[0],
                install_hint(&argv[0])
            )
        } else {
            format!("could not start: {e}")
        };
        fail(reason, vec![])
    })?;
    let pgid = child.id() as i32;
    let guard = crate::process::ExternalGroup::register(pgid, &format!("{target} install"));
    let (tx, rx) = mpsc::channel::<String>();
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let deadline = Instant::now() + timeout;
    let mut tail: Vec<String> = Vec::new();
    let status = loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(line) => {
                on_line(&line);
                tail.push(line);
                if tail.len() > 40 {
                    tail.remove(0);
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Timeout) | Err(mpsc::RecvTimeoutError::Disconnected) => {}
        }
        if let Ok(Some(s)) = child.try_wait() {
            // Drain what is left.
            while let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
                on_line(&line);
                tail.push(line);
                if tail.len() > 40 {
                    tail.remove(0);
                }
            }
            break s;
        }
        if Instant::now() >= deadline {
            // SAFETY: killing the step's own group.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
            let _ = child.wait();
            drop(guard);
            return Err(fail(
                format!(
                    "did not finish within {}s and was killed",
                    timeout.as_secs()
                ),
                tail,
            ));
        }
    };
    drop(guard);
    if status.success() {
        Ok(())
    } else {
        Err(fail(crate::process::describe_exit(&status), tail))
    }
}

/// Install footprint (issue 14's decision): the primary figure is the app's dependencies —
/// `node_modules` for Node; for a Python venv its `site-packages` minus pip, setuptools and wheel
/// (the files their `RECORD`s list, dist-info included), which every venv brings, and not the
/// venv's interpreter links and scripts; for Rust the binary. The figure with the runtime (the
/// `node` binary; the Python installation the venv runs on: its interpreter and standard library)
/// is [`Footprint::with_runtime_bytes`], shown separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Footprint {
    /// Bytes on disk (allocated blocks; hard links counted once).
    pub bytes: u64,
    /// Packages: `node_modules/<pkg>/package.json` (scoped too, nested too) + `*.dist-info`
    /// (except pip's, setuptools' and wheel's, which every venv brings).
    pub packages: u64,
    /// `bytes` plus the runtime's (None: no separate runtime, e.g. a Rust binary, or not found).
    pub with_runtime_bytes: Option<u64>,
}

/// The footprint of the target's `installed` paths (missing paths count zero).
pub fn footprint(target: &Target) -> Footprint {
    let mut fp = Footprint::default();
    let mut seen = HashSet::new();
    let mut venvs = Vec::new();
    for p in &target.manifest.install.installed {
        let path = target.install_path(p);
        match site_packages(&path) {
            Some(site) => {
                walk_site_packages(&site, &mut seen, &mut fp);
                venvs.push(path);
            }
            None => walk(&path, &mut seen, &mut fp),
        }
    }
    let runtime = match target.manifest.language {
        crate::manifest::Language::Node => find_program("node").map(|n| {
            let mut rt = Footprint::default();
            walk(&std::fs::canonicalize(&n).unwrap_or(n), &mut seen, &mut rt);
            rt.bytes
        }),
        crate::manifest::Language::Python => venvs.first().and_then(|v| {
            let mut rt = Footprint::default();
            for p in python_installation(v)? {
                walk(&p, &mut seen, &mut rt);
            }
            Some(rt.bytes)
        }),
        crate::manifest::Language::Rust => None,
    };
    fp.with_runtime_bytes = runtime.map(|r| fp.bytes + r);
    fp
}

/// `<venv>/lib/python3.X/site-packages`, when `venv` is one.
pub(crate) fn site_packages(venv: &Path) -> Option<PathBuf> {
    if !venv.join("pyvenv.cfg").is_file() {
        return None;
    }
    std::fs::read_dir(venv.join("lib"))
        .ok()?
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir())
}

/// The Python installation a venv runs on (from its `pyvenv.cfg`: `home` and `version`): the
/// interpreter binary and the standard library folder.
fn python_installation(venv: &Path) -> Option<Vec<PathBuf>> {
    let cfg = std::fs::read_to_string(venv.join("pyvenv.cfg")).ok()?;
    let get = |key: &str| {
        cfg.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
    };
    let home = PathBuf::from(get("home")?);
    let version = get("version").or_else(|| get("version_info"))?;
    let minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
    let exe = std::fs::canonicalize(home.join(format!("python{minor}")))
        .or_else(|_| std::fs::canonicalize(home.join("python3")))
        .ok()?;
    let stdlib = home.parent()?.join("lib").join(format!("python{minor}"));
    Some([exe, stdlib].into_iter().filter(|p| p.exists()).collect())
}

/// The top-level names of `site-packages` that belong to pip, setuptools and wheel: the first
/// component of every file their `RECORD`s list (their packages, dist-info, `pkg_resources`,
/// `_distutils_hack`, `distutils-precedence.pth`), or those names when a RECORD is missing.
fn venv_bootstrap_names(site: &Path) -> HashSet<String> {
    let mut names = HashSet::new();
    for e in std::fs::read_dir(site).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !(name.ends_with(".dist-info") && is_venv_bootstrap(&name)) {
            continue;
        }
        names.insert(name.clone());
        let dist = name.split('-').next().unwrap_or("").to_string();
        match std::fs::read_to_string(e.path().join("RECORD")) {
            Ok(record) => {
                for line in record.lines() {
                    let file = line.split(',').next().unwrap_or("");
                    let first = file.split('/').next().unwrap_or("");
                    if !first.is_empty() && first != ".." {
                        names.insert(first.to_string());
                    }
                }
            }
            Err(_) => {
                names.insert(dist.clone());
                if dist == "setuptools" {
                    for n in [
                        "pkg_resources",
                        "_distutils_hack",
                        "distutils-precedence.pth",
                    ] {
                        names.insert(n.to_string());
                    }
                }
            }
        }
    }
    names
}

fn walk_site_packages(site: &Path, seen: &mut HashSet<(u64, u64)>, fp: &mut Footprint) {
    let skip = venv_bootstrap_names(site);
    if let Ok(meta) = std::fs::symlink_metadata(site) {
        if seen.insert((meta.dev(), meta.ino())) {
            fp.bytes += meta.blocks() * 512;
        }
    }
    for e in std::fs::read_dir(site).into_iter().flatten().flatten() {
        if !skip.contains(e.file_name().to_string_lossy().as_ref()) {
            walk(&e.path(), seen, fp);
        }
    }
}

/// pip, setuptools and wheel come with every venv (`python -m venv`, `pip install`), not from
/// the requirements.
fn is_venv_bootstrap(dist_info: &str) -> bool {
    dist_info.starts_with("pip-")
        || dist_info.starts_with("setuptools-")
        || dist_info.starts_with("wheel-")
}

fn walk(p: &Path, seen: &mut HashSet<(u64, u64)>, fp: &mut Footprint) {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return;
    };
    if seen.insert((meta.dev(), meta.ino())) {
        fp.bytes += meta.blocks() * 512;
    }
    if !meta.is_dir() {
        return;
    }
    let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
    if name
        .as_deref()
        .is_some_and(|n| n.ends_with(".dist-info") && !is_venv_bootstrap(n))
    {
        fp.packages += 1;
    }
    // A package folder directly under node_modules (or node_modules/@scope).
    if p.join("package.json").is_file() {
        let parent = p
            .parent()
            .and_then(|x| x.file_name())
            .map(|n| n.to_string_lossy().into_owned());
        let grand = p
            .parent()
            .and_then(|x| x.parent())
            .and_then(|x| x.file_name())
            .map(|n| n.to_string_lossy().into_owned());
        let scoped = parent.as_deref().is_some_and(|n| n.starts_with('@'))
            && grand.as_deref() == Some("node_modules");
        if parent.as_deref() == Some("node_modules")
            && !name.as_deref().is_some_and(|n| n.starts_with('.'))
            || scoped
        {
            fp.packages += 1;
        }
    }
    for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
        walk(&e.path(), seen, fp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::parse_str;

    fn target_in(dir: &Path, extra: &str) -> Target {
        let text = format!(
            "name = \"t\"\nlanguage = \"node\"\nframework = \"x\"\nsummary = \"s\"\nendpoints = [\"json\"]\n{extra}\n[start]\ncommand = [\"true\"]\n"
        );
        Target {
            manifest: parse_str(&text, &dir.join("target.toml"), None).unwrap(),
            dir: dir.to_path_buf(),
            file: dir.join("target.toml"),
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sw-install-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_changed_lockfile_makes_the_install_stale() {
        let d = tmp("stale");
        std::fs::write(d.join("lock.txt"), "v1").unwrap();
        let t = target_in(
            &d,
            "[install]\nsteps = [[\"sh\", \"-c\", \"mkdir -p deps && echo run >> runs\"]]\nlockfile = \"lock.txt\"\ninstalled = [\"deps\"]\ncheck = [\"deps\"]",
        );
        let runs = || {
            std::fs::read_to_string(d.join("runs"))
                .unwrap()
                .lines()
                .count()
        };
        let go = || install(&t, &d, false, Duration::from_secs(10), &mut |_| {}).unwrap();
        assert!(!go().skipped);
        assert!(d.join("deps").join(LOCK_STAMP).is_file());
        assert!(is_up_to_date(&t));
        assert!(go().skipped);
        assert_eq!(runs(), 1);
        std::fs::write(d.join("lock.txt"), "v2").unwrap();
        assert!(is_installed(&t) && !is_up_to_date(&t));
        assert_eq!(
            stale_reason(&t).unwrap(),
            "its lockfile changed since it was installed"
        );
        assert!(!go().skipped);
        assert_eq!(runs(), 2);
        assert!(go().skipped);
        std::fs::remove_file(d.join("lock.txt")).unwrap();
        let e = install(&t, &d, true, Duration::from_secs(10), &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("lockfile"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn concurrent_installs_of_one_target_take_turns() {
        let d = tmp("turns");
        let t = target_in(
            &d,
            "[install]\nsteps = [[\"sh\", \"-c\", \"if [ -e busy ]; then echo overlap >&2; exit 1; fi; touch busy; sleep 0.3; rm busy; mkdir -p deps\"]]\ninstalled = [\"deps\"]\ncheck = [\"deps\"]",
        );
        let results: Vec<_> = std::thread::scope(|s| {
            let a = s.spawn(|| install(&t, &d, true, Duration::from_secs(10), &mut |_| {}));
            let b = s.spawn(|| install(&t, &d, true, Duration::from_secs(10), &mut |_| {}));
            vec![a.join().unwrap(), b.join().unwrap()]
        });
        for r in results {
            assert!(r.is_ok(), "{:?}", r.unwrap_err().to_string());
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn registry_problems_are_recognised() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let npm = registry_problem(&l(&[
            "npm error code ECONNREFUSED",
            "npm error FetchError: request to http://127.0.0.1:9/undici failed",
        ]))
        .unwrap();
        assert!(
            npm.starts_with("npm registry: npm error code ECONNREFUSED"),
            "{npm}"
        );
        let pip = registry_problem(&l(&[
            "Looking in indexes: https://pypi.org/simple",
            "WARNING: Retrying (Retry(total=1)) after connection broken by 'NewConnectionError(Failed to establish a new connection: [Errno 111] Connection refused)'",
        ]))
        .unwrap();
        assert!(pip.starts_with("PyPI: WARNING: Retrying"), "{pip}");
        let none = registry_problem(&l(&[
            "Looking in indexes: http://127.0.0.1:9/simple",
            "ERROR: Could not find a version that satisfies the requirement blinker==1.9.0 (from versions: none)",
        ]))
        .unwrap();
        assert!(none.contains("listed no versions at all"), "{none}");
        assert!(registry_problem(&l(&["SyntaxError: bad code"])).is_none());
    }

    #[test]
    fn footprint_counts_node_and_python_packages() {
        let d = tmp("fp");
        for p in [
            "node_modules/express",
            "node_modules/@fastify/ajv",
            "node_modules/express/node_modules/debug",
            "node_modules/.bin",
            ".venv/lib/python3.11/site-packages/flask-3.1.0.dist-info",
            ".venv/lib/python3.11/site-packages/flask",
            ".venv/lib/python3.11/site-packages/pip-24.0.dist-info",
        ] {
            std::fs::create_dir_all(d.join(p)).unwrap();
        }
        for p in [
            "node_modules/express/package.json",
            "node_modules/@fastify/ajv/package.json",
            "node_modules/express/node_modules/debug/package.json",
        ] {
            std::fs::write(d.join(p), "{}").unwrap();
        }
        std::fs::write(
            d.join(".venv/lib/python3.11/site-packages/flask/app.py"),
            vec![b'x'; 10000],
        )
        .unwrap();
        let t = target_in(
            &d,
            "[install]\ninstalled = [\"node_modules\", \".venv\", \"missing\"]",
        );
        let fp = footprint(&t);
        assert_eq!(fp.packages, 4, "{fp:?}");
        assert!(fp.bytes >= 10000, "{fp:?}");
        // Node's runtime is the node binary, counted apart.
        if let Some(node) = find_program("node") {
            let size = std::fs::metadata(std::fs::canonicalize(node).unwrap())
                .unwrap()
                .len();
            assert!(
                fp.with_runtime_bytes.unwrap() >= fp.bytes + size / 2,
                "{fp:?}"
            );
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_venv_counts_its_site_packages_without_pip_setuptools_and_wheel() {
        let d = tmp("venv");
        let site = d.join(".venv/lib/python3.11/site-packages");
        for p in [
            "flask",
            "flask-3.1.0.dist-info",
            "pip",
            "pip-24.0.dist-info",
            "setuptools",
            "pkg_resources",
            "setuptools-66.1.1.dist-info",
            "wheel-0.42.0.dist-info",
        ] {
            std::fs::create_dir_all(site.join(p)).unwrap();
        }
        std::fs::create_dir_all(d.join(".venv/bin")).unwrap();
        let big = |p: &Path, n: usize| std::fs::write(p, vec![b'x'; n]).unwrap();
        big(&site.join("flask/app.py"), 40_000);
        big(&site.join("pip/huge.py"), 400_000);
        big(&site.join("pkg_resources/x.py"), 400_000);
        big(&site.join("distutils-precedence.pth"), 100_000);
        big(&d.join(".venv/bin/pip"), 400_000);
        std::fs::write(
            site.join("pip-24.0.dist-info/RECORD"),
            "pip/huge.py,sha256=x,1\n../../../bin/pip,,\n",
        )
        .unwrap();
        // setuptools' RECORD names its companions.
        std::fs::write(
            site.join("setuptools-66.1.1.dist-info/RECORD"),
            "setuptools/__init__.py,,\npkg_resources/x.py,,\ndistutils-precedence.pth,,\n",
        )
        .unwrap();
        std::fs::write(
            d.join(".venv/pyvenv.cfg"),
            "home = /nonexistent/bin\nversion = 3.11.2\n",
        )
        .unwrap();
        let mut t = target_in(&d, "[install]\ninstalled = [\".venv\"]");
        t.manifest.language = crate::manifest::Language::Python;
        let fp = footprint(&t);
        assert_eq!(fp.packages, 1, "{fp:?}");
        assert!((40_000..200_000).contains(&fp.bytes), "{fp:?}");
        // No Python installation at /nonexistent: no with-runtime figure rather than a wrong one.
        assert_eq!(fp.with_runtime_bytes, None);
        // The real interpreter this machine has, when there is one.
        if let Some(py) = find_program("python3") {
            // As `python -m venv` writes it: the real interpreter's folder (not a shim's).
            let out = std::process::Command::new(&py)
                .args([
                    "-c",
                    "import os, sys, platform; print(os.path.dirname(os.path.realpath(sys.executable))); print(platform.python_version())",
                ])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let mut lines = text.lines();
            let (home, v) = (lines.next().unwrap(), lines.next().unwrap());
            std::fs::write(
                d.join(".venv/pyvenv.cfg"),
                format!("home = {home}\nversion = {v}\n"),
            )
            .unwrap();
            let with = footprint(&t).with_runtime_bytes.unwrap();
            // An interpreter and a standard library: megabytes.
            assert!(with > fp.bytes + 5_000_000, "{with} vs {}", fp.bytes);
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn install_runs_steps_skips_when_installed_and_reports_failures() {
        let d = tmp("steps");
        let t = target_in(
            &d,
            "[install]\nrequires = [\"sh\"]\nsteps = [[\"sh\", \"-c\", \"echo hello; touch done\"]]\ncheck = [\"done\"]",
        );
        assert!(!is_installed(&t));
        let mut lines = Vec::new();
        let out = install(&t, &d, false, Duration::from_secs(10), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        assert!(!out.skipped);
        assert_eq!(lines, vec!["hello"]);
        assert!(
            install(&t, &d, false, Duration::from_secs(10), &mut |_| {})
                .unwrap()
                .skipped
        );
        assert!(
            !install(&t, &d, true, Duration::from_secs(10), &mut |_| {})
                .unwrap()
                .skipped
        );

        let t = target_in(
            &d,
            "[install]\nsteps = [[\"sh\", \"-c\", \"echo 'npm error code ENOTFOUND' >&2; echo 'npm error network request to https://registry.npmjs.org/x failed' >&2; exit 1\"]]\ncheck = [\"never\"]",
        );
        let e = install(&t, &d, false, Duration::from_secs(10), &mut |_| {}).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("exited with status 1"), "{s}");
        assert!(
            s.contains("npm registry could not be reached")
                || s.contains("registry could not be reached (npm registry"),
            "{s}"
        );

        let t = target_in(&d, "[install]\nrequires = [\"no-such-node-xyz\", \"npm-nope\"]\nsteps=[[\"true\"]]\ncheck=[\"x\"]");
        let e = install(&t, &d, false, Duration::from_secs(10), &mut |_| {}).unwrap_err();
        assert!(
            e.to_string().contains("`no-such-node-xyz` is not on PATH"),
            "{e}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
