//! What keeps a web page elsewhere from driving the UI: the address it binds (loopback unless
//! `--allow-remote`), the names it answers to (the Host header, against DNS rebinding), where a
//! request may come from (Origin; for a POST without one, the Referer), the per-start CSRF token
//! every form carries, and the security headers of every response. [`check`] and [`csrf_ok`] are
//! pure, so they are tested here directly; [`guard`] is the middleware that applies them.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::App;

/// The address to listen on: `--bind` parsed; anything but loopback only with `--allow-remote`
/// (the UI can start processes).
pub fn bind_address(bind: &str, allow_remote: bool) -> Result<IpAddr, String> {
    let ip: IpAddr = bind
        .parse()
        .map_err(|_| format!("--bind: {bind:?} is not an IP address"))?;
    if !ip.is_loopback() && !allow_remote {
        return Err(format!(
            "--bind: {ip} is not a loopback address; the UI can start processes, so serving other \
             machines needs --allow-remote"
        ));
    }
    Ok(ip)
}

/// The names a browser on this machine uses for the listening address.
pub fn host_names(local: SocketAddr) -> Vec<String> {
    let port = local.port();
    let mut v = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    let own = match local.ip() {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    };
    if !v.contains(&own) {
        v.insert(0, own);
    }
    v
}

/// 32 random bytes from the kernel, in hex (the CSRF token, script nonces).
pub fn random_token() -> anyhow::Result<String> {
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A request refused, and why (sent as plain text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub why: &'static str,
}

/// Host and Origin checks for every request, and the Referer fallback for a request that changes
/// state (not GET or HEAD) without an Origin. `hosts` are the server's own `host:port` names.
pub fn check(hosts: &[String], method: &Method, headers: &HeaderMap) -> Result<(), Refusal> {
    let get = |name| {
        headers
            .get(name)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
    };
    let refused = |status, why| Err(Refusal { status, why });
    if !hosts
        .iter()
        .any(|h| h.eq_ignore_ascii_case(get(header::HOST)))
    {
        let why = "this server answers only to its own address (Host header refused)";
        return refused(StatusCode::MISDIRECTED_REQUEST, why);
    }
    // The server's own origins: `http://` and any of its names.
    let own: Vec<String> = hosts
        .iter()
        .map(|h| format!("http://{h}").to_ascii_lowercase())
        .collect();
    let origin = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok());
    let origin = origin.map(str::to_ascii_lowercase);
    if origin.as_ref().is_some_and(|o| !own.contains(o)) {
        return refused(
            StatusCode::FORBIDDEN,
            "requests from other sites are refused (Origin header)",
        );
    }
    let referer = get(header::REFERER).to_ascii_lowercase();
    let from_here = own.iter().any(|o| referer.starts_with(&format!("{o}/")));
    if method != Method::GET && method != Method::HEAD && origin.is_none() && !from_here {
        let why = "a form is accepted only from this server's own pages (no Origin or Referer)";
        return refused(StatusCode::FORBIDDEN, why);
    }
    Ok(())
}

/// The refusal of a form without the right token.
pub const BAD_TOKEN: Refusal = Refusal {
    status: StatusCode::FORBIDDEN,
    why: "the form's token is missing or wrong: reload the page and send it again",
};

/// The form's fields carry `csrf` equal to `expected` (compared in constant time).
pub fn csrf_ok(expected: &str, pairs: &[(String, String)]) -> bool {
    pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .is_some_and(|(_, t)| constant_time_eq(t.as_bytes(), expected.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The middleware: [`check`] on every request, security headers on every response.
pub async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if let Err(r) = check(&app.hosts, req.method(), req.headers()) {
        return refuse(r);
    }
    let mut resp = next.run(req).await;
    secure(resp.headers_mut());
    resp
}

/// Security headers; a handler that sets its own Content-Security-Policy (a script nonce) keeps it.
pub fn secure(h: &mut HeaderMap) {
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// A refusal as a response (plain text, with the security headers).
pub fn refuse(r: Refusal) -> Response {
    refuse_with(r.status, r.why)
}

/// A refusal with a message made at run time.
pub fn refuse_with(status: StatusCode, why: &str) -> Response {
    let mut r = (status, format!("{why}\n")).into_response();
    secure(r.headers_mut());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Vec<String> {
        host_names("127.0.0.1:8700".parse().unwrap())
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn own_names_are_accepted_on_get() {
        for host in [
            "127.0.0.1:8700",
            "localhost:8700",
            "LOCALHOST:8700",
            "[::1]:8700",
        ] {
            let h = headers(&[(header::HOST, host)]);
            assert_eq!(check(&hosts(), &Method::GET, &h), Ok(()), "{host}");
        }
    }

    #[test]
    fn a_dns_rebinding_host_is_refused() {
        // A page on evil.example whose name now resolves to 127.0.0.1: same address, other name.
        for host in ["evil.example:8700", "127.0.0.1", "localhost:8701", ""] {
            let h = headers(&[
                (header::HOST, host),
                (header::ORIGIN, "http://evil.example:8700"),
            ]);
            let e = check(&hosts(), &Method::GET, &h).unwrap_err();
            assert_eq!(e.status, StatusCode::MISDIRECTED_REQUEST, "{host}");
            assert!(e.why.contains("Host"), "{}", e.why);
        }
        // No Host header at all.
        assert!(check(&hosts(), &Method::GET, &HeaderMap::new()).is_err());
    }

    #[test]
    fn a_cross_site_origin_is_refused_even_on_get() {
        for origin in [
            "http://evil.example",
            "https://127.0.0.1:8700",
            "http://127.0.0.1:8701",
            "null",
        ] {
            for method in [Method::GET, Method::POST] {
                let h = headers(&[(header::HOST, "127.0.0.1:8700"), (header::ORIGIN, origin)]);
                let e = check(&hosts(), &method, &h).unwrap_err();
                assert_eq!(e.status, StatusCode::FORBIDDEN, "{origin}");
                assert!(e.why.contains("Origin"), "{}", e.why);
            }
        }
    }

    #[test]
    fn a_post_needs_its_own_origin_or_referer() {
        let own = headers(&[
            (header::HOST, "127.0.0.1:8700"),
            (header::ORIGIN, "http://localhost:8700"),
        ]);
        assert_eq!(check(&hosts(), &Method::POST, &own), Ok(()));
        let referer = headers(&[
            (header::HOST, "127.0.0.1:8700"),
            (header::REFERER, "http://127.0.0.1:8700/lab"),
        ]);
        assert_eq!(check(&hosts(), &Method::POST, &referer), Ok(()));
        for r in [
            None,
            Some("http://evil.example/"),
            Some("http://127.0.0.1:8700.evil/"),
        ] {
            let mut h = headers(&[(header::HOST, "127.0.0.1:8700")]);
            if let Some(r) = r {
                h.insert(header::REFERER, HeaderValue::from_str(r).unwrap());
            }
            let e = check(&hosts(), &Method::POST, &h).unwrap_err();
            assert_eq!(e.status, StatusCode::FORBIDDEN, "{r:?}");
        }
        // A GET without either is fine (a link typed or bookmarked).
        let bare = headers(&[(header::HOST, "127.0.0.1:8700")]);
        assert_eq!(check(&hosts(), &Method::GET, &bare), Ok(()));
    }

    #[test]
    fn the_csrf_token_must_be_there_and_right() {
        let token = random_token().unwrap();
        assert_eq!(token.len(), 64);
        assert_ne!(token, random_token().unwrap(), "random per start");
        let form = |v: Option<&str>| -> Vec<(String, String)> {
            let mut f = vec![("quick".to_string(), "1".to_string())];
            if let Some(v) = v {
                f.push(("csrf".into(), v.into()));
            }
            f
        };
        assert!(csrf_ok(&token, &form(Some(&token))));
        assert!(!csrf_ok(&token, &form(None)), "missing");
        assert!(!csrf_ok(&token, &form(Some(""))), "empty");
        assert!(!csrf_ok(&token, &form(Some(&token[..63]))), "truncated");
        let mut wrong = token.clone().into_bytes();
        wrong[10] = if wrong[10] == b'0' { b'1' } else { b'0' };
        assert!(
            !csrf_ok(&token, &form(Some(&String::from_utf8(wrong).unwrap()))),
            "wrong"
        );
    }

    #[test]
    fn it_binds_only_loopback_unless_told() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(["stackwise", "serve"]).unwrap();
        let crate::cli::Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.bind, "127.0.0.1");
        assert!(!args.allow_remote);
        let ip = bind_address(&args.bind, args.allow_remote).unwrap();
        assert_eq!(ip, IpAddr::from([127, 0, 0, 1]));
        // The listener really is on 127.0.0.1 only.
        let l = std::net::TcpListener::bind(SocketAddr::new(ip, 0)).unwrap();
        assert_eq!(l.local_addr().unwrap().ip(), IpAddr::from([127, 0, 0, 1]));
        assert!(bind_address("::1", false).is_ok());
        for other in ["0.0.0.0", "::", "192.168.1.5"] {
            let e = bind_address(other, false).unwrap_err();
            assert!(e.contains("--allow-remote"), "{e}");
            assert!(bind_address(other, true).is_ok());
        }
        assert!(bind_address("localhost", false)
            .unwrap_err()
            .contains("not an IP address"));
    }

    #[test]
    fn host_names_include_the_bound_address() {
        let v = host_names("127.0.0.2:9000".parse().unwrap());
        assert_eq!(v[0], "127.0.0.2:9000");
        assert!(v.contains(&"localhost:9000".to_string()));
    }

    #[test]
    fn security_headers_keep_a_handlers_own_policy() {
        let mut h = HeaderMap::new();
        secure(&mut h);
        assert!(h[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        let mut h = headers(&[(header::CONTENT_SECURITY_POLICY, "script-src 'nonce-x'")]);
        secure(&mut h);
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], "script-src 'nonce-x'");
    }
}
