//! The target of a run: URL parsing (no name resolution), credentials, and the one place where
//! names are resolved and the loopback-only rule is enforced ([`Target::resolve`], called by
//! [`crate::start`]).
//!
//! stackwise sends load to this machine only, unless the user opts in (`allow_remote`): every
//! address a host name resolves to must be a loopback address (127.0.0.0/8 or ::1).

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use base64::Engine as _;
use http::{HeaderValue, Uri};

use crate::config::{ConfigError, Field};

/// A parsed target. Parsing does no DNS: [`Target::resolve`] does, once, when a run starts.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as the user gave it (normalised), with any password replaced by `***`.
    pub url: String,
    /// Host name or address, without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// The `Host` header value.
    pub host_header: HeaderValue,
    /// Path and query, as sent on the request line.
    pub path: Uri,
    /// `Authorization: Basic …` built from credentials in the URL (`http://user:pw@host/`).
    pub authorization: Option<HeaderValue>,
    /// Allow non-loopback addresses.
    pub allow_remote: bool,
}

/// Why no connection could be opened to the target before a run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot connect to {addr}: {reason}")]
pub struct ConnectError {
    /// The last address tried.
    pub addr: SocketAddr,
    /// True when the attempt ran out of the connect timeout (the server may be fine, but slow to
    /// accept, or the timeout too short).
    pub timed_out: bool,
    pub connect_timeout: Duration,
    /// The operating system's words.
    pub reason: String,
}

impl Target {
    /// Parses `url` (no name resolution, nothing sent). Loopback only until `allow_remote` is set.
    pub fn parse(url: &str) -> Result<Target, ConfigError> {
        let bad = |m: String| ConfigError::new(Field::Url, m);
        let mut parsed = url::Url::parse(url).map_err(|e| {
            bad(format!(
                "'{url}' is not a valid URL ({e}); expected e.g. http://127.0.0.1:8080/"
            ))
        })?;
        match parsed.scheme() {
            "http" => {}
            "https" => {
                return Err(bad(format!(
                    "'{url}': https is not supported; stackwise measures plain HTTP/1.1"
                )))
            }
            other => {
                return Err(bad(format!(
                    "'{url}': scheme '{other}' is not supported; use http://"
                )))
            }
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| bad(format!("'{url}' has no host")))?
            .to_string();
        let port = parsed.port_or_known_default().unwrap_or(80);
        let host_header = match parsed.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let mut path = parsed.path().to_string();
        if let Some(q) = parsed.query() {
            path.push('?');
            path.push_str(q);
        }
        let authorization = if parsed.username().is_empty() && parsed.password().is_none() {
            None
        } else {
            let decode = |s: &str| percent_encoding::percent_decode_str(s).collect::<Vec<u8>>();
            let mut creds = decode(parsed.username());
            creds.push(b':');
            creds.extend(decode(parsed.password().unwrap_or("")));
            let b64 = base64::engine::general_purpose::STANDARD.encode(creds);
            let value = HeaderValue::from_str(&format!("Basic {b64}"))
                .map_err(|e| bad(format!("bad credentials in the URL: {e}")))?;
            // Never echo a password: the URL kept for reports shows `***` instead.
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            Some(value)
        };
        Ok(Target {
            url: parsed.to_string(),
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port,
            host_header: HeaderValue::from_str(&host_header)
                .map_err(|e| bad(format!("bad host '{host}': {e}")))?,
            path: path
                .parse()
                .map_err(|e| bad(format!("bad path '{path}': {e}")))?,
            authorization,
            allow_remote: false,
        })
    }

    /// Resolves the host (the only place where stackwise does name resolution) and refuses
    /// non-loopback addresses unless `allow_remote`.
    pub fn resolve(&self) -> Result<Vec<SocketAddr>, ConfigError> {
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| {
                ConfigError::new(
                    Field::Url,
                    format!("cannot resolve host '{}': {e}", self.host),
                )
            })?
            .collect();
        if addrs.is_empty() {
            return Err(ConfigError::new(
                Field::Url,
                format!("host '{}' resolved to no address", self.host),
            ));
        }
        if !self.allow_remote {
            if let Some(bad) = addrs.iter().find(|a| !a.ip().is_loopback()) {
                return Err(ConfigError::new(
                    Field::AllowRemote,
                    format!(
                        "'{}' resolves to {}, which is not a loopback address; stackwise loads \
                         only this machine unless remote targets are allowed",
                        self.host,
                        bad.ip()
                    ),
                ));
            }
        }
        Ok(addrs)
    }

    /// Opens (and closes) one TCP connection, so that a run against a closed port fails at once
    /// with a clear message instead of measuring nothing but errors. Tries every resolved
    /// address (`localhost` may resolve to `::1` first while the server listens on 127.0.0.1)
    /// and returns the first that accepts.
    pub fn preflight(
        addrs: &[SocketAddr],
        connect_timeout: Duration,
    ) -> Result<SocketAddr, ConnectError> {
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(addr, connect_timeout) {
                Ok(_) => return Ok(*addr),
                Err(e) => last = Some((*addr, e)),
            }
        }
        let (addr, e) = last.expect("a target has at least one address");
        Err(ConnectError {
            addr,
            timed_out: e.kind() == std::io::ErrorKind::TimedOut,
            connect_timeout,
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_loopback_url_with_query() {
        let t = Target::parse("http://127.0.0.1:8080/a/b?x=1").unwrap();
        assert_eq!(t.resolve().unwrap()[0], "127.0.0.1:8080".parse().unwrap());
        assert_eq!(t.host_header, "127.0.0.1:8080");
        assert_eq!(t.path, "/a/b?x=1");
        assert!(t.authorization.is_none());
    }

    #[test]
    fn default_port_and_path() {
        let t = Target::parse("http://127.0.0.1").unwrap();
        assert_eq!(t.port, 80);
        assert_eq!(t.path, "/");
        assert_eq!(t.host_header, "127.0.0.1");
    }

    #[test]
    fn ipv6_loopback_is_allowed() {
        let t = Target::parse("http://[::1]:9000/").unwrap();
        assert!(t.resolve().unwrap()[0].ip().is_loopback());
        assert_eq!(t.host_header, "[::1]:9000");
    }

    #[test]
    fn localhost_is_allowed() {
        let t = Target::parse("http://localhost:9000/").unwrap();
        assert!(t.resolve().unwrap().iter().all(|a| a.ip().is_loopback()));
    }

    #[test]
    fn parsing_does_no_name_resolution() {
        // `.invalid` never resolves (RFC 6761): parsing succeeds, resolving fails.
        let t = Target::parse("http://no-such-host.invalid:80/").unwrap();
        assert_eq!(t.resolve().unwrap_err().field, Field::Url);
    }

    #[test]
    fn non_loopback_needs_the_opt_in() {
        let mut t = Target::parse("http://10.1.2.3:80/").unwrap();
        let e = t.resolve().unwrap_err();
        assert_eq!(e.field, Field::AllowRemote);
        assert!(e.message.contains("10.1.2.3"));
        t.allow_remote = true;
        t.resolve().unwrap();
    }

    #[test]
    fn credentials_become_basic_auth_and_the_password_is_never_shown() {
        let t = Target::parse("http://us%40er:s3cr%3At@127.0.0.1:8080/").unwrap();
        // base64("us@er:s3cr:t")
        assert_eq!(t.authorization.unwrap(), "Basic dXNAZXI6czNjcjp0");
        assert!(!t.url.contains("s3cr"), "{}", t.url);
        assert!(t.url.contains("***"), "{}", t.url);
    }

    #[test]
    fn bad_urls_are_explained() {
        for (u, needle) in [
            ("not a url", "not a valid URL"),
            ("https://127.0.0.1/", "https"),
            ("ftp://127.0.0.1/", "scheme"),
        ] {
            let e = Target::parse(u).unwrap_err();
            assert!(e.message.contains(needle), "{u}: {e}");
        }
    }
}
