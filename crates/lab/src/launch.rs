//! Starting a target as the lab runs it: placeholders filled from the manifest and the run's
//! settings (port, workers, threads, server CPUs, services' URLs), the server pinned to the server
//! CPUs in its own process group/cgroup, and readiness awaited (cold start measured). The
//! configuration actually used is returned for storing with every result.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::manifest::{Placeholders, Target};
use crate::process::{self, Server, ServerSpec, SpawnSpec, StartError};

/// How to start a target.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchOptions {
    /// CPUs the server is pinned to (its `{cpus}` is their count); empty: not pinned, `{cpus}` =
    /// the CPUs this process may use.
    pub server_cpus: Vec<usize>,
    /// Override of the manifest's `start.workers`.
    pub workers: Option<u32>,
    /// Override of the manifest's `start.threads`.
    pub threads: Option<u32>,
    /// The workload id, for a `[start.workload.<id>]` command.
    pub workload: Option<String>,
    /// Preferred port (another one if in use).
    pub port: Option<u16>,
    /// Services' environment (e.g. `UPSTREAM_URL` from [`crate::services::Service::env`]); the
    /// `UPSTREAM_URL` value also fills `{upstream}`, `DATABASE_URL` fills `{database}`.
    pub services_env: Vec<(String, String)>,
    pub ready_timeout: Duration,
    /// Run in a cgroup v2 where one can be made.
    pub cgroup: bool,
}

impl Default for LaunchOptions {
    fn default() -> Self {
        LaunchOptions {
            server_cpus: vec![],
            workers: None,
            threads: None,
            workload: None,
            port: None,
            services_env: vec![],
            ready_timeout: Duration::from_secs(60),
            cgroup: true,
        }
    }
}

/// The configuration a target was started with.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedConfig {
    pub workers: u32,
    pub threads: u32,
    pub cpus: Vec<usize>,
    /// The command with placeholders expanded (for the port actually used).
    pub command: Vec<String>,
    /// The manifest environment, expanded.
    pub env: Vec<(String, String)>,
    /// `{db_pool}`: database connections per worker.
    pub db_pool: u32,
}

impl ResolvedConfig {
    /// What to store with a result: the manifest's `[config]` plus the values used: `workers`,
    /// `threads` (numbers), `server_cpus`, `command`, `load_connect` (when the lab's load engine
    /// opens connections to it: `eager` or `when-due`, [`Target::client_connect`]) and (for a
    /// target with database endpoints) `db_pool`. Where `[config]` describes `workers` or
    /// `threads` in words, the words are kept as `workers_note` / `threads_note`.
    pub fn to_map(&self, target: &Target) -> BTreeMap<String, String> {
        let mut m = target.manifest.config.clone();
        for key in ["workers", "threads"] {
            if let Some(words) = m.remove(key) {
                m.insert(format!("{key}_note"), words);
            }
        }
        m.insert("workers".into(), self.workers.to_string());
        m.insert("threads".into(), self.threads.to_string());
        m.insert(
            "server_cpus".into(),
            self.cpus
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
        m.insert("command".into(), self.command.join(" "));
        m.insert(
            "load_connect".into(),
            target.client_connect().as_str().to_string(),
        );
        if target.needs_database() {
            m.insert("db_pool".into(), self.db_pool.to_string());
        }
        m
    }
}

/// A running target.
#[derive(Debug)]
pub struct Launched {
    pub server: Server,
    pub config: ResolvedConfig,
}

impl Launched {
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }
}

/// The number of CPUs `{cpus}` stands for.
pub fn cpu_count(server_cpus: &[usize]) -> usize {
    if server_cpus.is_empty() {
        crate::affinity::process_cpus().len().max(1)
    } else {
        server_cpus.len()
    }
}

/// The placeholders for `target` on `port` with these settings.
pub fn placeholders(
    target: &Target,
    repo: &std::path::Path,
    port: u16,
    workers: u32,
    threads: u32,
    cpus: usize,
    upstream: &str,
) -> Placeholders {
    Placeholders {
        port,
        workers,
        threads,
        upstream: upstream.to_string(),
        cpus,
        dir: target.dir.clone(),
        python: crate::install::python(),
        repo: repo.to_path_buf(),
        database: String::new(),
        db_pool: target.db_pool(workers, threads),
    }
}

/// A start command or environment value of a manifest whose placeholders cannot be filled:
/// the manifest's file, the field, and the placeholder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("{}: start command: {source}", .file.display())]
    Command {
        file: std::path::PathBuf,
        source: crate::manifest::PlaceholderError,
    },
    #[error("{}: start.env.{key}: {source}", .file.display())]
    Env {
        file: std::path::PathBuf,
        key: String,
        source: crate::manifest::PlaceholderError,
    },
}

/// Resolves the configuration for `port` (without starting anything).
pub fn resolve(
    target: &Target,
    repo: &std::path::Path,
    opts: &LaunchOptions,
    port: u16,
) -> Result<ResolvedConfig, ResolveError> {
    let cpus = cpu_count(&opts.server_cpus);
    let workers = opts.workers.unwrap_or_else(|| target.default_workers(cpus));
    let threads = opts.threads.unwrap_or_else(|| target.default_threads(cpus));
    let upstream = opts
        .services_env
        .iter()
        .find(|(k, _)| k == "UPSTREAM_URL")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut ph = placeholders(target, repo, port, workers, threads, cpus, &upstream);
    ph.database = opts
        .services_env
        .iter()
        .find(|(k, _)| k == "DATABASE_URL")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let (command, env) = target.start_for(opts.workload.as_deref());
    let command = ph
        .expand_all(&command)
        .map_err(|source| ResolveError::Command {
            file: target.file.clone(),
            source,
        })?;
    let mut expanded = Vec::new();
    for (k, v) in env {
        let value = ph.expand(&v).map_err(|source| ResolveError::Env {
            file: target.file.clone(),
            key: k.clone(),
            source,
        })?;
        expanded.push((k.clone(), value));
    }
    Ok(ResolvedConfig {
        workers,
        threads,
        cpus: opts.server_cpus.clone(),
        command,
        env: expanded,
        db_pool: ph.db_pool,
    })
}

/// Starts `target` and waits until its ready path answers 200 (cold start in
/// `Launched::server.cold_start`). `repo` fills `{repo}`.
pub fn launch(
    target: &Target,
    repo: &std::path::Path,
    opts: &LaunchOptions,
) -> Result<Launched, StartError> {
    let resolved = std::cell::RefCell::new(None);
    let make = |port: u16| -> Result<SpawnSpec, ResolveError> {
        let r = resolve(target, repo, opts, port)?;
        let mut env = opts.services_env.clone();
        env.extend(r.env.iter().cloned());
        let spec = SpawnSpec {
            name: target.name().to_string(),
            command: r.command.clone(),
            cwd: target.dir.clone(),
            env,
            cpus: opts.server_cpus.clone(),
            cgroup: opts.cgroup,
        };
        *resolved.borrow_mut() = Some(r);
        Ok(spec)
    };
    let server = process::start_server(&ServerSpec {
        name: target.name().to_string(),
        make: &make,
        port: opts.port,
        ready_path: target.manifest.start.ready.clone(),
        ready_timeout: opts.ready_timeout,
        attempts: 3,
    })?;
    let config = resolved.into_inner().expect("resolved before start");
    Ok(Launched { server, config })
}

/// The default split of `allowed` CPUs between the server (the upper half, at least one) and the
/// client side (load engine and upstream: the rest; on one CPU both share it). On 2 cores: server
/// [1], client [0].
pub fn split_cpus(allowed: &[usize]) -> (Vec<usize>, Vec<usize>) {
    match allowed.len() {
        0 => (vec![], vec![]),
        1 => (allowed.to_vec(), allowed.to_vec()),
        n => {
            let client = n / 2;
            (allowed[client..].to_vec(), allowed[..client].to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_config_keeps_the_words_and_the_numbers() {
        let text = "name = \"t\"\nlanguage = \"node\"\nframework = \"x\"\nsummary = \"s\"\nendpoints = [\"json\"]\n[start]\ncommand = [\"node\", \"{dir}/s.js\", \"{port}\"]\nworkers = \"2*{cpus}+1\"\n[config]\nserver = \"node:cluster\"\nworkers = \"one per CPU\"\n";
        let dir = std::path::Path::new("/r/targets/t");
        let t = Target {
            manifest: crate::manifest::parse_str(text, &dir.join("target.toml"), Some("t"))
                .unwrap(),
            dir: dir.to_path_buf(),
            file: dir.join("target.toml"),
        };
        let opts = LaunchOptions {
            server_cpus: vec![1, 2],
            ..Default::default()
        };
        let r = resolve(&t, &t.repo(), &opts, 8080).unwrap();
        assert_eq!(r.workers, 5);
        assert_eq!(r.command, vec!["node", "/r/targets/t/s.js", "8080"]);
        let m = r.to_map(&t);
        assert_eq!(m["workers"], "5");
        assert_eq!(m["workers_note"], "one per CPU");
        assert_eq!(m["server"], "node:cluster");
        assert_eq!(m["server_cpus"], "1,2");
        assert_eq!(m["threads"], "1");
        assert_eq!(m["load_connect"], "eager");
        let r = resolve(
            &t,
            &t.repo(),
            &LaunchOptions {
                workers: Some(3),
                ..opts
            },
            1,
        )
        .unwrap();
        assert_eq!(r.workers, 3);
    }

    #[test]
    fn a_thread_server_gets_one_thread_per_held_connection_where_its_manifest_asks() {
        let text = "name = \"t\"\nlanguage = \"python\"\nframework = \"x\"\nsummary = \"s\"\nendpoints = [\"ws\"]\n[start]\ncommand = [\"run\", \"--threads\", \"{threads}\"]\nworkers = \"2*{cpus}+1\"\nthreads = 4\nconcurrency = \"threads\"\n[start.workload.ws-hold]\nthreads_per_connection = true\n";
        let dir = std::path::Path::new("/r/targets/t");
        let t = Target {
            manifest: crate::manifest::parse_str(text, &dir.join("target.toml"), Some("t"))
                .unwrap(),
            dir: dir.to_path_buf(),
            file: dir.join("target.toml"),
        };
        // 10,000 connections over 3 workers: 3,334 threads each; other workloads keep 4.
        assert_eq!(t.threads_for_connections("ws-hold", 10_000, 3), Some(3334));
        assert_eq!(t.threads_for_connections("json", 10_000, 3), None);
        assert_eq!(t.threads_for_connections("ws-hold", 2, 3), Some(1));
        // The override keeps [start]'s command, with the threads filled in.
        let opts = LaunchOptions {
            server_cpus: vec![1],
            threads: t.threads_for_connections("ws-hold", 10_000, 3),
            workload: Some("ws-hold".into()),
            ..Default::default()
        };
        let r = resolve(&t, &t.repo(), &opts, 1).unwrap();
        assert_eq!(r.threads, 3334);
        assert_eq!(r.command, vec!["run", "--threads", "3334"]);
        let r = resolve(
            &t,
            &t.repo(),
            &LaunchOptions {
                server_cpus: vec![1],
                ..Default::default()
            },
            1,
        )
        .unwrap();
        assert_eq!(r.threads, 4);
    }

    #[test]
    fn database_placeholders_are_filled() {
        let text = "name = \"t\"\nlanguage = \"python\"\nframework = \"x\"\nsummary = \"s\"\nendpoints = [\"db\"]\n[start]\ncommand = [\"run\", \"{port}\"]\nenv = { DATABASE_URL = \"{database}\", DB_POOL = \"{db_pool}\" }\nworkers = \"2*{cpus}+1\"\nthreads = 4\nconcurrency = \"threads\"\n";
        let dir = std::path::Path::new("/r/targets/t");
        let t = Target {
            manifest: crate::manifest::parse_str(text, &dir.join("target.toml"), Some("t"))
                .unwrap(),
            dir: dir.to_path_buf(),
            file: dir.join("target.toml"),
        };
        let url = "postgresql://stackwise@127.0.0.1:9/stackwise";
        let opts = LaunchOptions {
            server_cpus: vec![1, 2],
            services_env: vec![("DATABASE_URL".into(), url.into())],
            ..Default::default()
        };
        // 5 workers × 4 threads: ceil(16 / 5) = 4 per worker, within 4 threads.
        let r = resolve(&t, &t.repo(), &opts, 1).unwrap();
        let env: BTreeMap<_, _> = r.env.iter().cloned().collect();
        assert_eq!(env["DATABASE_URL"], url);
        assert_eq!(env["DB_POOL"], "4");
        assert_eq!(r.to_map(&t)["db_pool"], "4");
        // 3 workers: ceil(16 / 3) = 6, capped at the 3 threads a worker serves at once.
        let r = resolve(
            &t,
            &t.repo(),
            &LaunchOptions {
                workers: Some(3),
                threads: Some(3),
                ..opts.clone()
            },
            1,
        )
        .unwrap();
        assert_eq!(r.db_pool, 3);
        // No database in the run: empty.
        let r = resolve(
            &t,
            &t.repo(),
            &LaunchOptions {
                services_env: vec![],
                ..opts
            },
            1,
        )
        .unwrap();
        assert_eq!(
            r.env.iter().find(|(k, _)| k == "DATABASE_URL").unwrap().1,
            ""
        );
    }

    #[test]
    fn cpu_split() {
        assert_eq!(split_cpus(&[0, 1]), (vec![1], vec![0]));
        assert_eq!(split_cpus(&[0, 1, 2, 3, 4]), (vec![2, 3, 4], vec![0, 1]));
        assert_eq!(split_cpus(&[3]), (vec![3], vec![3]));
    }
}
