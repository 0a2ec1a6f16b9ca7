//! The target of a run: URL parsing, name resolution, and the loopback-only rule.
//!
//! stackwise sends load to this machine only, unless the user opts in (`allow_remote`): every
//! address a host name resolves to must be a loopback address (127.0.0.0/8 or ::1).

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use http::{HeaderValue, Uri};

use crate::config::ConfigError;

/// A parsed, resolved and checked target.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as the user gave it (normalised).
    pub url: String,
    /// The address connections go to: the first the host resolved to, or, after
    /// [`Target::preflight`], the first that accepted a connection.
    pub addr: SocketAddr,
    /// Every address the host resolved to (all loopback unless remote targets were allowed).
    pub addrs: Vec<SocketAddr>,
    /// The `Host` header value.
    pub host_header: HeaderValue,
    /// Path and query, as sent on the request line.
    pub path: Uri,
}

impl Target {
    /// Parses `url`, resolves its host, and refuses non-loopback addresses unless `allow_remote`.
    pub fn parse(url: &str, allow_remote: bool) -> Result<Target, ConfigError> {
        const FLAG: &str = "URL";
        let parsed = url::Url::parse(url).map_err(|e| {
            ConfigError::new(
                FLAG,
                format!("'{url}' is not a valid URL ({e}); expected e.g. http://127.0.0.1:8080/"),
            )
        })?;
        match parsed.scheme() {
            "http" => {}
            "https" => {
                return Err(ConfigError::new(
                    FLAG,
                    format!("'{url}': https is not supported; stackwise measures plain HTTP/1.1"),
                ))
            }
            other => {
                return Err(ConfigError::new(
                    FLAG,
                    format!("'{url}': scheme '{other}' is not supported; use http://"),
                ))
            }
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| ConfigError::new(FLAG, format!("'{url}' has no host")))?;
        let port = parsed.port_or_known_default().unwrap_or(80);
        // `host_str` keeps IPv6 brackets, which `to_socket_addrs` wants without.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = (bare, port)
            .to_socket_addrs()
            .map_err(|e| ConfigError::new(FLAG, format!("cannot resolve host '{host}': {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err(ConfigError::new(
                FLAG,
                format!("host '{host}' resolved to no address"),
            ));
        }
        if !allow_remote {
            if let Some(bad) = addrs.iter().find(|a| !a.ip().is_loopback()) {
                return Err(ConfigError::new(
                    "--allow-remote",
                    format!(
                        "'{host}' resolves to {}, which is not a loopback address; stackwise loads \
                         only this machine unless you pass --allow-remote",
                        bad.ip()
                    ),
                ));
            }
        }
        let host_header = match parsed.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let mut path = parsed.path().to_string();
        if let Some(q) = parsed.query() {
            path.push('?');
            path.push_str(q);
        }
        Ok(Target {
            url: parsed.to_string(),
            addr: addrs[0],
            addrs: addrs.clone(),
            host_header: HeaderValue::from_str(&host_header)
                .map_err(|e| ConfigError::new(FLAG, format!("bad host '{host}': {e}")))?,
            path: path
                .parse()
                .map_err(|e| ConfigError::new(FLAG, format!("bad path '{path}': {e}")))?,
        })
    }

    /// Opens (and closes) one TCP connection, so that a run against a closed port fails at once
    /// with a clear message instead of measuring nothing but errors. Tries every resolved
    /// address (`localhost` may resolve to `::1` first while the server listens on 127.0.0.1)
    /// and returns the first that accepts.
    pub fn preflight(&self, timeout: Duration) -> Result<SocketAddr, ConfigError> {
        let mut last = None;
        for addr in &self.addrs {
            match TcpStream::connect_timeout(addr, timeout) {
                Ok(_) => return Ok(*addr),
                Err(e) => last = Some((addr, e)),
            }
        }
        let (addr, e) = last.expect("a target has at least one address");
        Err(ConfigError::new(
            "URL",
            format!("cannot connect to {addr} ({e}); is the server running?"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_loopback_url_with_query() {
        let t = Target::parse("http://127.0.0.1:8080/a/b?x=1", false).unwrap();
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(t.host_header, "127.0.0.1:8080");
        assert_eq!(t.path, "/a/b?x=1");
    }

    #[test]
    fn default_port_and_path() {
        let t = Target::parse("http://127.0.0.1", false).unwrap();
        assert_eq!(t.addr.port(), 80);
        assert_eq!(t.path, "/");
        assert_eq!(t.host_header, "127.0.0.1");
    }

    #[test]
    fn ipv6_loopback_is_allowed() {
        let t = Target::parse("http://[::1]:9000/", false).unwrap();
        assert!(t.addr.ip().is_loopback());
        assert_eq!(t.host_header, "[::1]:9000");
    }

    #[test]
    fn localhost_is_allowed() {
        let t = Target::parse("http://localhost:9000/", false).unwrap();
        assert!(t.addr.ip().is_loopback());
    }

    #[test]
    fn non_loopback_needs_the_flag() {
        let e = Target::parse("http://10.1.2.3:80/", false).unwrap_err();
        assert_eq!(e.flag, "--allow-remote");
        assert!(e.message.contains("10.1.2.3"));
        // With the opt-in it parses (nothing is sent by parsing).
        Target::parse("http://10.1.2.3:80/", true).unwrap();
    }

    #[test]
    fn bad_urls_are_explained() {
        for (u, needle) in [
            ("not a url", "not a valid URL"),
            ("https://127.0.0.1/", "https"),
            ("ftp://127.0.0.1/", "scheme"),
        ] {
            let e = Target::parse(u, false).unwrap_err();
            assert!(e.message.contains(needle), "{u}: {e}");
        }
    }
}
