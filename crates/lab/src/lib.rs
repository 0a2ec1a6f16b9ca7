//! `lab`: the reference backends (targets) run as real processes through the same workloads,
//! measured and stored.
//!
//! The core (this crate's lab-core modules):
//! - [`manifest`]: `targets/<name>/target.toml` parsed and validated ([`manifest::TargetsDir`]
//!   finds the folder; [`manifest::Target`] is one target; errors name file, line and field).
//! - [`install`]: required programs, install steps (skipped when installed), install footprint.
//! - [`process`]: the supervisor: process groups, CPU pinning, cgroups, output tails, free ports,
//!   readiness and cold start, stop with leak check, a registry of live groups for Ctrl-C/panics.
//! - [`runlock`]: one run per store; the sweep of what a killed run left, and its watchdog.
//! - [`launch`]: starts a target with its placeholders filled ([`launch::launch`]).
//! - [`sample`]: server cost of a process tree (CPU incl. exited workers, PSS), steal, busy share.
//! - [`services`]: services a workload brings (trait [`services::Service`]); the upstream.
//! - [`postgres`]: the lab's PostgreSQL (a throwaway cluster, or `--database-url`), its schema,
//!   reset between cells and `pg_stat_statements` counts.
//! - [`affinity`]: the lab's own threads kept off the server CPUs during a run;
//!   [`culprits`]: who used the server CPUs in a measuring window (the lab's other targets, its
//!   services, itself, other processes on the machine).
//! - [`upstream`]: the upstream HTTP server itself (run by `stackwise upstream --port P`).
//! - [`check`]: the conformance verifier (`stackwise targets check`).
//! - [`machine`]: the machine fingerprint and a target's reported versions.
//! - [`remote`]: `--target-url`: a deployed service as the suite's host (URL policy, skips,
//!   the run's origin).
//!
//! The suite (the suite engineer's modules):
//! - [`workload`]: the workload catalogue and abstraction (endpoints, services, own client).
//! - [`search`]: the bounded capacity-at-SLO search; [`stats`]: the trust rules.
//! - [`crud`]: the CRUD load model (the mix of `/items` operations, one open-loop engine each).
//! - [`suite`]: the runner (plan, cells, repeats, store, resume) over a [`suite::Host`];
//!   [`host`]: the real host over the core modules; [`placement`]: CPU split, runtime notes.
//! - [`session`]: a `stackwise lab` run around the suite (host, store, run lock, resume, the
//!   plan as data, Ctrl-C; [`session::Session::run`] is a measuring run's one entry point);
//!   [`targets`]: `stackwise targets` (list rows, install, contract check, serve).
//!
//! Public functions return typed errors (enums that say what is wrong and where), never
//! `Result<_, String>`; `tests/typed_api.rs` checks it.
//!
//! Typical use (what `stackwise targets check` and the suite do):
//!
//! ```no_run
//! use lab::{launch, manifest::TargetsDir, services::UpstreamSpec, sample::Sampler};
//! use std::time::Duration;
//! let dir = TargetsDir::discover(None)?;
//! let target = dir.load("rust-axum")?;
//! lab::install::install(&target, &dir.repo(), false, Duration::from_secs(600), &mut |l| eprintln!("{l}"))?;
//! let mut upstream = UpstreamSpec::current_exe(vec![0])?.start_upstream()?;
//! let opts = launch::LaunchOptions {
//!     server_cpus: vec![1],
//!     services_env: lab::services::Service::env(&upstream),
//!     ..Default::default()
//! };
//! let mut running = launch::launch(&target, &dir.repo(), &opts)?;
//! println!("cold start {:?} at {}", running.server.cold_start, running.base_url());
//! let sampler = Sampler::start(running.server.process.tree(), Duration::from_millis(200));
//! let window = sampler.window_start();
//! // … run load against running.base_url() …
//! let cost = sampler.window_end(&window);
//! println!("{:.3} CPU s, peak PSS {:?} bytes", cost.cpu_seconds, cost.pss_peak_bytes);
//! running.server.check_alive()?; // crashed mid-run? exit status + last stderr lines
//! let report = running.server.stop(Duration::from_secs(5));
//! assert!(report.leaked.is_empty());
//! lab::services::Service::stop(&mut upstream);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cgroup;
pub mod check;
pub mod install;
pub mod launch;
pub mod machine;
pub mod manifest;
pub mod postgres;
pub mod process;
pub mod remote;
pub mod runlock;
pub mod sample;
pub mod services;
pub mod upstream;
// The suite.
pub mod cpuload;
pub mod crud;
pub mod host;
pub mod placement;
pub mod search;
pub mod session;
pub mod stats;
pub mod suite;
pub mod targets;
pub mod workload;
// Quiet server CPUs: the lab's own threads kept off them, and who used them in a window.
pub mod affinity;
pub mod culprits;
