//! Services a workload brings (the upstream today; PostgreSQL or others later), behind one small
//! trait so that adding one does not reshape the lab: a [`ServiceSpec`] starts a [`Service`], which
//! gives the target its environment variables and URL, reports its process tree (for its CPU busy
//! share), and stops.
//!
//! [`UpstreamSpec`] / [`Upstream`]: the `/io` upstream (`stackwise upstream --port P`, see
//! [`crate::upstream`]), a separate pinned process started through the same supervisor.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::process::{self, Crash, ServerSpec, SpawnSpec, StartError, StopReport};
use crate::sample::{BusyMeter, ProcessTree};

/// A running service.
pub trait Service: Send {
    /// Short name, e.g. `upstream`.
    fn name(&self) -> &str;
    /// Its base URL, e.g. `http://127.0.0.1:41234`.
    fn url(&self) -> String;
    /// Environment variables the target needs to reach it, e.g. `UPSTREAM_URL`.
    fn env(&self) -> Vec<(String, String)>;
    /// Its process tree, for CPU accounting ([`BusyMeter`]).
    fn tree(&self) -> ProcessTree;
    /// CPUs it is pinned to (empty: not pinned).
    fn cpus(&self) -> Vec<usize>;
    /// `Err` when it has ended.
    fn check_alive(&mut self) -> Result<(), Crash>;
    /// Stops it (idempotent).
    fn stop(&mut self) -> StopReport;

    /// Starts measuring its CPU busy share.
    fn busy_meter(&self) -> BusyMeter {
        BusyMeter::start(self.tree())
    }
}

/// Something that can start a [`Service`].
pub trait ServiceSpec {
    fn start(&self) -> Result<Box<dyn Service>, StartError>;
}

/// How to start the upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamSpec {
    /// The `stackwise` binary (its hidden `upstream` subcommand runs the server).
    pub exe: PathBuf,
    /// CPUs to pin it to (the client side: not the server's).
    pub cpus: Vec<usize>,
    /// Preferred port (another one if in use).
    pub port: Option<u16>,
}

impl UpstreamSpec {
    /// The upstream run by the current executable (when it is `stackwise`).
    pub fn current_exe(cpus: Vec<usize>) -> std::io::Result<UpstreamSpec> {
        Ok(UpstreamSpec {
            exe: std::env::current_exe()?,
            cpus,
            port: None,
        })
    }

    /// Starts it and waits until it answers `/count`.
    pub fn start_upstream(&self) -> Result<Upstream, StartError> {
        let exe = self.exe.clone();
        let cpus = self.cpus.clone();
        let make = move |port: u16| -> Result<SpawnSpec, crate::launch::ResolveError> {
            Ok(SpawnSpec {
                name: "upstream".into(),
                command: vec![
                    exe.display().to_string(),
                    "upstream".into(),
                    "--port".into(),
                    port.to_string(),
                ],
                cwd: std::env::temp_dir(),
                env: vec![],
                cpus: cpus.clone(),
                cgroup: true,
            })
        };
        let server = process::start_server(&ServerSpec {
            name: "upstream".into(),
            make: &make,
            port: self.port,
            ready_path: "/count".into(),
            ready_timeout: Duration::from_secs(10),
            attempts: 3,
        })?;
        Ok(Upstream { server })
    }
}

impl ServiceSpec for UpstreamSpec {
    fn start(&self) -> Result<Box<dyn Service>, StartError> {
        Ok(Box::new(self.start_upstream()?))
    }
}

/// The running upstream.
#[derive(Debug)]
pub struct Upstream {
    pub server: process::Server,
}

impl Upstream {
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Delay requests it has received so far (`GET /count`).
    pub fn count(&self) -> std::io::Result<u64> {
        let (status, body) = process::http_get(self.addr(), "/count", Duration::from_secs(5))?;
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        match (status, v["count"].as_u64()) {
            (200, Some(n)) => Ok(n),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("upstream /count answered {status} {v}"),
            )),
        }
    }
}

impl Service for Upstream {
    fn name(&self) -> &str {
        "upstream"
    }
    fn url(&self) -> String {
        self.server.base_url()
    }
    fn env(&self) -> Vec<(String, String)> {
        vec![("UPSTREAM_URL".into(), self.url())]
    }
    fn tree(&self) -> ProcessTree {
        self.server.process.tree()
    }
    fn cpus(&self) -> Vec<usize> {
        self.server.process.cpus().to_vec()
    }
    fn check_alive(&mut self) -> Result<(), Crash> {
        self.server.check_alive()
    }
    fn stop(&mut self) -> StopReport {
        self.server.stop(Duration::from_secs(2))
    }
}
