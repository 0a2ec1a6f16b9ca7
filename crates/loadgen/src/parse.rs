//! Text → engine configuration: how a person writes a duration (`10s`, `500ms`), a header
//! (`Name: value`), a share of requests (`1%`, `0.01`), a CPU list, an expected status, a method
//! and the pass/fail thresholds. Here rather than in a front end so that every front end (the CLI,
//! a config file, a web form) gets the same checks and the same words; each error is a
//! [`ConfigError`] naming its [`Field`], which the front end spells its own way.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};

use crate::{ConfigError, Field, StatusExpectation, StopCondition, Target, Thresholds};

/// `10s`, `500ms`, `2m` (humantime).
pub fn duration(field: Field, s: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(s.trim()).map_err(|e| {
        ConfigError::new(
            field,
            format!("'{s}' is not a duration ({e}); use e.g. 10s, 500ms, 2m"),
        )
    })
}

/// How long a closed loop runs when neither a duration nor a count is given.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// When the run stops: the duration (text) and the count given; a closed loop given neither runs
/// [`DEFAULT_DURATION`], an open loop must say how long it runs ([`crate::LoadConfig::validate`]).
pub fn stop(
    duration: Option<&str>,
    requests: Option<u64>,
    open_loop: bool,
) -> Result<StopCondition, ConfigError> {
    let duration = duration
        .map(|d| self::duration(Field::Duration, d))
        .transpose()?;
    Ok(match (duration, requests) {
        (None, None) if !open_loop => StopCondition {
            duration: Some(DEFAULT_DURATION),
            requests: None,
        },
        (duration, requests) => StopCondition { duration, requests },
    })
}

/// The engine's threads: as given, else one per pinned CPU, else one per CPU this process may use.
pub fn threads(given: Option<usize>, pin: Option<&[usize]>) -> usize {
    given.unwrap_or_else(|| match pin {
        Some(p) => p.len(),
        None => crate::cpu::allowed_cpus().len().max(1),
    })
}

/// `Name: value`.
pub fn header(h: &str) -> Result<(HeaderName, HeaderValue), ConfigError> {
    let bad = |why: String| {
        ConfigError::new(
            Field::Headers,
            format!("'{h}': {why}; expected 'Name: value'"),
        )
    };
    let (name, value) = h.split_once(':').ok_or_else(|| bad("no ':'".into()))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|e| bad(format!("bad name ({e})")))?;
    let value = HeaderValue::from_str(value.trim()).map_err(|e| bad(format!("bad value ({e})")))?;
    Ok((name, value))
}

/// Extra headers for `target`: a `Host` header among them replaces the URL's (a request must
/// carry exactly one), the others are returned.
pub fn headers(
    list: &[String],
    target: &mut Target,
) -> Result<Vec<(HeaderName, HeaderValue)>, ConfigError> {
    let mut headers = list
        .iter()
        .map(|h| header(h))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(i) = headers.iter().rposition(|(k, _)| k == http::header::HOST) {
        target.host_header = headers[i].1.clone();
        headers.retain(|(k, _)| k != http::header::HOST);
    }
    Ok(headers)
}

/// `1%` or `0.01` → 0.01 (a share of requests, 0 to 100%).
pub fn share(field: Field, s: &str) -> Result<f64, ConfigError> {
    let t = s.trim();
    let (num, scale) = match t.strip_suffix('%') {
        Some(n) => (n.trim(), 100.0),
        None => (t, 1.0),
    };
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && v / scale <= 1.0 => Ok(v / scale),
        _ => Err(ConfigError::new(
            field,
            format!("'{s}' is not a share of requests: use e.g. 1% or 0.01 (0 to 100%)"),
        )),
    }
}

/// A CPU list (`0-3,8`).
pub fn pin(s: &str) -> Result<Vec<usize>, ConfigError> {
    crate::cpu::parse_cpu_list(s).map_err(|e| ConfigError::new(Field::Pin, e))
}

/// `200` or a class such as `2xx`.
pub fn status(s: &str) -> Result<StatusExpectation, ConfigError> {
    s.parse().map_err(|e| ConfigError::new(Field::Status, e))
}

/// An HTTP method (`GET`, `POST`, …).
pub fn method(s: &str) -> Result<Method, ConfigError> {
    Method::from_bytes(s.trim().as_bytes())
        .map_err(|_| ConfigError::new(Field::Method, format!("'{s}' is not an HTTP method")))
}

/// The pass/fail limits: the largest share of errors, the largest p99 (a duration).
pub fn thresholds(
    max_error_rate: Option<&str>,
    max_p99: Option<&str>,
) -> Result<Thresholds, ConfigError> {
    Ok(Thresholds {
        max_error_rate: max_error_rate
            .map(|s| share(Field::MaxErrorRate, s))
            .transpose()?,
        max_p99_us: max_p99
            .map(|s| duration(Field::MaxP99, s).map(|d| d.as_secs_f64() * 1e6))
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_their_field_on_one_line() {
        let field = |r: Result<(), ConfigError>| {
            let e = r.unwrap_err();
            assert!(!e.message.contains('\n'), "{e}");
            e.field
        };
        assert_eq!(field(duration(Field::Warmup, "x").map(drop)), Field::Warmup);
        assert_eq!(field(header("nocolon").map(drop)), Field::Headers);
        assert_eq!(field(header("a b: c").map(drop)), Field::Headers);
        assert_eq!(field(pin("0-").map(drop)), Field::Pin);
        assert_eq!(field(status("abc").map(drop)), Field::Status);
        assert_eq!(field(method("GE T").map(drop)), Field::Method);
        assert_eq!(
            field(thresholds(Some("101%"), None).map(drop)),
            Field::MaxErrorRate
        );
        assert_eq!(
            field(thresholds(None, Some("soon")).map(drop)),
            Field::MaxP99
        );
    }

    #[test]
    fn a_closed_loop_defaults_to_ten_seconds_and_threads_follow_the_pinned_cpus() {
        assert_eq!(
            stop(None, None, false).unwrap().duration,
            Some(DEFAULT_DURATION)
        );
        assert_eq!(stop(None, None, true).unwrap().duration, None);
        assert_eq!(stop(None, Some(5), false).unwrap().duration, None);
        assert_eq!(field_of(stop(Some("x"), None, false)), Field::Duration);
        assert_eq!(threads(None, Some(&[0, 2])), 2);
        assert_eq!(threads(Some(3), Some(&[0])), 3);
    }

    fn field_of<T>(r: Result<T, ConfigError>) -> Field {
        r.err().unwrap().field
    }

    #[test]
    fn values_are_read() {
        assert_eq!(
            duration(Field::Duration, " 1m ").unwrap(),
            Duration::from_secs(60)
        );
        assert_eq!(share(Field::MaxErrorRate, "1%").unwrap(), 0.01);
        assert_eq!(share(Field::MaxErrorRate, "0.5").unwrap(), 0.5);
        let t = thresholds(Some("2 %"), Some("50ms")).unwrap();
        assert_eq!(t.max_error_rate, Some(0.02));
        assert_eq!(t.max_p99_us, Some(50_000.0));
        let mut target = Target::parse("http://127.0.0.1:9/").unwrap();
        let h = headers(
            &["Accept: application/json".into(), "Host: example".into()],
            &mut target,
        )
        .unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].0, "accept");
        assert_eq!(h[0].1, "application/json");
        assert_eq!(target.host_header, "example");
    }
}
