//! A remote target (`stackwise lab --target-url URL --allow-remote`): the lab's workloads against
//! a service the user deployed, as a suite [`Host`] ([`RemoteHost`]) whose one target is that URL.
//!
//! What this module owns:
//! - the URL policy ([`resolve`]): loopback is the default and needs no opt-in; any other address
//!   is refused without `--allow-remote`, saying why and which flag opts in;
//! - which workloads cannot run against a server the lab does not run ([`skip_reason`]: those
//!   needing the lab's own upstream or database; `ws-hold`, whose figures are the server's memory)
//!   and the server-side measures that are not taken (CPU, memory, cold start, install footprint:
//!   [`SERVER_SIDE_METRICS`] are removed from every cell, [`strip_server_side`]) — each said in
//!   the run's notes, never a silent gap;
//! - the run's origin, stored in its settings ([`RemoteHost::run_settings`]: `origin.tool`,
//!   `origin.target_url`, `origin.server`), which claims and the adviser read through
//!   `store::RunSummary::server_controlled` (only metrics comparable across engines and hosts,
//!   never a price).
//!
//! The load engine connects to a deployed service eagerly (`loadgen::Connect::Eager`, the
//! [`ServerMeter::client_connect`] default, stored as the target's `load_connect`): the lab knows
//! nothing of how it treats connections, and a service that needs a buffering proxy in front of
//! it is deployed with one.
//!
//! The same conformance check as for the lab's own targets runs first ([`crate::check`]), over the
//! endpoints the measured workloads use; the check's binding rule (servers bind loopback only) is
//! the lab's own targets' and is not applied to a deployed service.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use store::CellRecord;

use crate::check::{CheckOptions, CheckServices};
use crate::manifest::Endpoint;
use crate::suite::{Host, Installed, Server, StartOptions, TargetFailure, TargetInfo};
use crate::workload::{self, Kind, ServerMeter, ServerUsage, ServiceHandle, ServiceKind, Workload};

/// The value of the run setting `origin.server` for a remote target.
pub const NOT_CONTROLLED: &str = "not under the lab's control";
/// The value of the run setting `origin.tool` for a remote target.
pub const TOOL: &str = "stackwise lab --target-url";

/// Metrics measured on the server's side (its process tree, its database, its start): never
/// taken for a remote target; the lab's sampler would read zeros there.
pub const SERVER_SIDE_METRICS: &[&str] = &[
    "server_cpu_us_per_req",
    "pss_mean_mb",
    "pss_peak_mb",
    "pss_idle_mb",
    "mb_per_1k_conns",
    "server_cores",
    "heavy_cpu_ms",
    "blocking_ratio",
    "db_cpu_us_per_req",
];

/// The server-side measures not taken, for the run's notes.
pub const SERVER_SIDE_NOTE: &str = "server-side measures not taken: CPU per request, memory (PSS), cold start, idle memory and install footprint are sampled from the server's processes on the lab's machine, and this server is not under the lab's control";

/// A `--target-url` resolved and allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteUrl {
    /// `http://HOST:PORT` as given (no trailing `/`).
    pub url: String,
    /// The address the lab connects to.
    pub addr: SocketAddr,
    pub loopback: bool,
}

/// Why a `--target-url` is refused (each names the URL as given).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UrlError {
    #[error("--target-url {url:?}: https is not supported by the lab's load engine; give the service's plain http:// address (e.g. behind the TLS terminator)")]
    Https { url: String },
    #[error("--target-url {url:?}: must start with http:// (the service's base URL, e.g. http://10.0.0.5:8080)")]
    NotHttp { url: String },
    #[error("--target-url {url:?}: give the service's base URL (scheme, host and port only); the workloads add the paths")]
    NotBaseUrl { url: String },
    #[error("--target-url {url:?}: cannot resolve {authority}: {reason}")]
    Unresolved {
        url: String,
        authority: String,
        reason: String,
    },
    #[error("--target-url {url:?}: {authority} resolves to no address")]
    NoAddress { url: String, authority: String },
    #[error("--target-url {url:?}: {ip} is not a loopback address; the lab sends load only to this machine unless told otherwise, because load sent to another machine lands on a service it does not control (and may not be yours). Pass --allow-remote to opt in, against a service you own and may load")]
    NotLoopback { url: String, ip: std::net::IpAddr },
}

/// Parses and resolves `url`; a non-loopback address without `allow_remote` is refused.
pub fn resolve(url: &str, allow_remote: bool) -> Result<RemoteUrl, UrlError> {
    let u = || url.to_string();
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        if url.starts_with("https://") {
            UrlError::Https { url: u() }
        } else {
            UrlError::NotHttp { url: u() }
        }
    })?;
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains(['/', '?', '#', ' ', '@']) {
        return Err(UrlError::NotBaseUrl { url: u() });
    }
    let has_port = match authority.strip_prefix('[') {
        Some(v6) => v6.contains("]:"),
        None => authority.contains(':'),
    };
    let with_port = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addrs: Vec<SocketAddr> = with_port
        .to_socket_addrs()
        .map_err(|e| UrlError::Unresolved {
            url: u(),
            authority: authority.to_string(),
            reason: e.to_string(),
        })?
        .collect();
    let addr = *addrs.first().ok_or_else(|| UrlError::NoAddress {
        url: u(),
        authority: authority.to_string(),
    })?;
    let loopback = addrs.iter().all(|a| a.ip().is_loopback());
    if !loopback && !allow_remote {
        return Err(UrlError::NotLoopback {
            url: u(),
            ip: addr.ip(),
        });
    }
    Ok(RemoteUrl {
        url: url.trim_end_matches('/').to_string(),
        addr,
        loopback,
    })
}

/// The (host, port) pairs the user opted into with `--allow-remote`: the lab's load engines may
/// send to them ([`load_allowed`]); every other non-loopback address stays refused by the engine.
static ALLOWED: std::sync::Mutex<Vec<(String, u16)>> = std::sync::Mutex::new(Vec::new());

fn allow_load_to(url: &str) {
    if let Ok(t) = loadgen::Target::parse(url) {
        let mut a = ALLOWED.lock().unwrap_or_else(|p| p.into_inner());
        if !a.contains(&(t.host.clone(), t.port)) {
            a.push((t.host, t.port));
        }
    }
}

/// Whether the user opted into load to `t`'s host and port (`--target-url … --allow-remote`).
pub fn load_allowed(t: &loadgen::Target) -> bool {
    ALLOWED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .any(|(h, p)| *h == t.host && *p == t.port)
}

/// Why `w` is not measured against a remote target (`None`: it is).
pub fn skip_reason(w: &dyn Workload) -> Option<String> {
    if !w.services().is_empty() {
        let names: Vec<&str> = w
            .services()
            .iter()
            .map(|s| match s {
                ServiceKind::Upstream => "upstream service",
                ServiceKind::Database => "database",
            })
            .collect();
        return Some(format!(
            "needs the lab's own {} beside the target: the lab starts, resets and counts it, and a deployed service uses its own, out of the lab's reach",
            names.join(" and ")
        ));
    }
    if w.kind() == Kind::Hold {
        return Some(
            "its figures are the server's memory per held connection, sampled from the server's processes on the lab's machine".into(),
        );
    }
    None
}

/// Removes the server-side measures from a cell measured remotely (the lab's sampler saw no
/// server), saying so in the cell's warnings.
pub fn strip_server_side(rec: &mut CellRecord) {
    let mut removed = BTreeSet::new();
    for r in rec.repeats.iter_mut() {
        for id in SERVER_SIDE_METRICS {
            if r.metrics.remove(*id).is_some() {
                removed.insert(*id);
            }
        }
        r.samples_json = "null".into();
    }
    for p in rec.ladder.iter_mut() {
        if p.server_cores.take().is_some() {
            removed.insert("server_cores");
        }
    }
    if !removed.is_empty() {
        rec.warnings.push(format!(
            "not measured against a remote target: {} (the server is {NOT_CONTROLLED})",
            removed.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
}

/// The suite's host for one deployed service.
pub struct RemoteHost {
    remote: RemoteUrl,
    info: TargetInfo,
    /// The workloads asked for (the conformance check covers the endpoints they use).
    workloads: Vec<String>,
    check_timeout: Duration,
}

impl RemoteHost {
    /// `name`: the target's name in the store; `known`: a lab target of that name (its language,
    /// framework and endpoints), when the service is one of the lab's targets deployed elsewhere.
    pub fn new(
        remote: RemoteUrl,
        name: &str,
        known: Option<TargetInfo>,
        workloads: &[String],
    ) -> RemoteHost {
        if !remote.loopback {
            // `resolve` returned a non-loopback URL only with --allow-remote.
            allow_load_to(&remote.url);
        }
        let needed = needed_endpoints(workloads);
        let info = match known {
            Some(k) => TargetInfo {
                name: name.to_string(),
                ..k
            },
            None => TargetInfo {
                name: name.to_string(),
                language: "unknown".into(),
                framework: "unknown".into(),
                endpoints: needed.iter().map(|e| e.as_str().to_string()).collect(),
            },
        };
        RemoteHost {
            remote,
            info,
            workloads: workloads.to_vec(),
            check_timeout: Duration::from_secs(10),
        }
    }

    pub fn url(&self) -> &RemoteUrl {
        &self.remote
    }
}

/// The contract endpoints the measurable workloads among `workloads` use.
fn needed_endpoints(workloads: &[String]) -> Vec<Endpoint> {
    let names: BTreeSet<&str> = workloads
        .iter()
        .filter_map(|id| workload::by_id(id))
        .filter(|w| skip_reason(w.as_ref()).is_none())
        .flat_map(|w| w.endpoints().to_vec())
        .collect();
    Endpoint::ALL
        .into_iter()
        .filter(|e| names.contains(e.as_str()))
        .collect()
}

/// The default name of a remote target in the store: `remote-HOST-PORT`.
pub fn default_name(addr: &SocketAddr) -> String {
    format!("remote-{}-{}", addr.ip(), addr.port()).replace([':', '[', ']'], "_")
}

impl Host for RemoteHost {
    fn targets(&self) -> Result<Vec<TargetInfo>, crate::host::HostError> {
        Ok(vec![self.info.clone()])
    }

    fn install(
        &self,
        _target: &str,
        _progress: &mut dyn FnMut(String),
    ) -> Result<Installed, TargetFailure> {
        // Deployed by the user: nothing installed here, no footprint measured.
        Ok(Installed::default())
    }

    fn versions(&self, _target: &str) -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    fn own_start(&self, _target: &str, _workload: &str) -> bool {
        false
    }

    fn start(&self, _target: &str, _opts: &StartOptions) -> Result<Box<dyn Server>, TargetFailure> {
        Ok(Box::new(RemoteServer {
            url: self.remote.url.clone(),
            addr: self.remote.addr,
        }))
    }

    fn check(&self, target: &str, server: &mut dyn Server) -> Result<(), TargetFailure> {
        let declared: Vec<Endpoint> = needed_endpoints(&self.workloads)
            .into_iter()
            .filter(|e| self.info.endpoints.iter().any(|s| s == e.as_str()))
            .collect();
        let opts = CheckOptions {
            timeout: self.check_timeout,
            ..CheckOptions::default()
        };
        let mut report = crate::check::check_with(
            target,
            self.remote.addr,
            &declared,
            CheckServices::default(),
            &opts,
        );
        // The loopback-binding rule is the lab's own targets'; a deployed service binds outward.
        report.target_failures.clear();
        report.base_url = server.base_url();
        if report.passed() {
            Ok(())
        } else {
            Err(TargetFailure::new(format!(
                "{} failed the conformance check (seed {}): {}",
                self.remote.url,
                report.seed,
                report.failures().join("; ")
            )))
        }
    }

    fn cold_start(&self, _target: &str, _opts: &StartOptions) -> Result<Duration, TargetFailure> {
        Err(TargetFailure::new(format!(
            "cold start not measured: the server is {NOT_CONTROLLED}"
        )))
    }

    fn start_service(
        &self,
        kind: ServiceKind,
        _cpus: &[usize],
    ) -> Result<Box<dyn ServiceHandle>, crate::host::ServiceError> {
        Err(crate::host::ServiceError::Remote(kind))
    }

    fn skip(&self, _target: &str, w: &dyn Workload) -> Option<String> {
        skip_reason(w)
    }

    fn samples_server(&self) -> bool {
        false
    }

    fn run_settings(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("origin.tool".into(), TOOL.into()),
            ("origin.target_url".into(), self.remote.url.clone()),
            ("origin.server".into(), NOT_CONTROLLED.into()),
            ("origin.address".into(), self.remote.addr.to_string()),
        ])
    }

    fn run_notes(&self) -> Vec<String> {
        vec![
            format!(
                "remote target {} ({}): the server is {NOT_CONTROLLED}; claims use only the figures comparable across engines and hosts, and the adviser prices nothing from this run",
                self.info.name, self.remote.url
            ),
            SERVER_SIDE_NOTE.to_string(),
        ]
    }
}

/// A deployed service as the suite's [`Server`]: nothing to start or stop, nothing sampled.
struct RemoteServer {
    url: String,
    addr: SocketAddr,
}

impl ServerMeter for RemoteServer {
    fn begin(&mut self) {}

    fn end(&mut self) -> ServerUsage {
        ServerUsage {
            cpu_s: 0.0,
            pss_mean_mb: None,
            pss_peak_mb: None,
            steal_pct: None,
            samples: serde_json::Value::Null,
        }
    }

    /// Reachable: a TCP connection opens within 5 s.
    fn check_alive(&mut self) -> Result<(), crate::workload::Gone> {
        std::net::TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))
            .map(|_| ())
            .map_err(|e| crate::workload::Gone::Unreachable {
                url: self.url.clone(),
                reason: e.to_string(),
            })
    }
}

impl Server for RemoteServer {
    fn base_url(&self) -> String {
        self.url.clone()
    }

    fn pss_mb(&mut self) -> Option<f64> {
        None
    }

    fn config(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("url".into(), self.url.clone()),
            ("server".into(), NOT_CONTROLLED.into()),
            ("load_connect".into(), self.client_connect().as_str().into()),
        ])
    }

    fn stop(self: Box<Self>) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_needs_no_opt_in() {
        let r = resolve("http://127.0.0.1:8080/", false).unwrap();
        assert!(r.loopback);
        assert_eq!(r.url, "http://127.0.0.1:8080");
        assert_eq!(r.addr.port(), 8080);
        assert!(resolve("http://localhost:9", false).unwrap().loopback);
        assert!(resolve("http://[::1]:9", false).unwrap().loopback);
    }

    #[test]
    fn a_remote_address_is_refused_without_allow_remote() {
        let e = resolve("http://10.200.1.2:8080", false).unwrap_err();
        assert!(matches!(e, UrlError::NotLoopback { .. }), "{e}");
        let e = e.to_string();
        assert!(
            e.contains("10.200.1.2") && e.contains("not a loopback"),
            "{e}"
        );
        assert!(e.contains("--allow-remote"), "{e}");
        let r = resolve("http://10.200.1.2:8080", true).unwrap();
        assert!(!r.loopback);
        assert_eq!(r.addr, "10.200.1.2:8080".parse().unwrap());
        // Port 80 when none is given.
        assert_eq!(resolve("http://10.0.0.1", true).unwrap().addr.port(), 80);
    }

    #[test]
    fn bad_urls_name_the_flag() {
        for u in ["ftp://h:1", "https://h:1", "http://h:1/json", "http://"] {
            let e = resolve(u, true).unwrap_err().to_string();
            assert!(e.starts_with("--target-url"), "{u}: {e}");
        }
    }

    #[test]
    fn workloads_needing_services_or_server_memory_are_skipped() {
        let skip = |id: &str| skip_reason(workload::by_id(id).unwrap().as_ref());
        assert!(skip("json").is_none());
        assert!(skip("cpu-slo").is_none());
        assert!(skip("io").unwrap().contains("upstream"));
        assert!(skip("crud").unwrap().contains("database"));
        assert!(skip("ws-hold").unwrap().contains("memory"));
    }

    #[test]
    fn server_side_metrics_are_removed_and_said() {
        let mut rec = CellRecord {
            target: "t".into(),
            workload: "json".into(),
            params: BTreeMap::new(),
            status: store::CellStatus::Ok,
            warnings: vec![],
            lower_bound: false,
            slo_p99_ms: None,
            capacity_rps: None,
            ladder: vec![store::LadderPoint {
                offered_rps: 10.0,
                achieved_rps: 10.0,
                p50_ms: 1.0,
                p99_ms: 2.0,
                errors: 0,
                server_cores: Some(0.0),
            }],
            repeats: vec![store::RepeatRecord::default().with(&[
                ("throughput_rps", Some(100.0)),
                ("server_cpu_us_per_req", Some(0.0)),
                ("pss_peak_mb", Some(0.0)),
            ])],
            elapsed_s: None,
        };
        strip_server_side(&mut rec);
        let m = &rec.repeats[0].metrics;
        assert_eq!(m.keys().collect::<Vec<_>>(), vec!["throughput_rps"]);
        assert_eq!(rec.ladder[0].server_cores, None);
        assert!(
            rec.warnings[0].contains("server_cpu_us_per_req"),
            "{:?}",
            rec.warnings
        );
    }

    #[test]
    fn the_default_name_is_file_and_table_safe() {
        assert_eq!(
            default_name(&"10.1.2.3:80".parse().unwrap()),
            "remote-10.1.2.3-80"
        );
    }
}
