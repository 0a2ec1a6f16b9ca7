//! Response validation: what counts as a correct response. A failed validation is counted by kind
//! and never stops a run.

use std::str::FromStr;

use crate::config::{ConfigError, Field};

/// Which status codes are correct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusExpectation {
    /// Exactly this code, e.g. `200`.
    Exact(u16),
    /// Any code of this class, e.g. `2` for `2xx`.
    Class(u8),
}

impl Default for StatusExpectation {
    fn default() -> Self {
        StatusExpectation::Class(2)
    }
}

impl StatusExpectation {
    pub fn matches(&self, status: u16) -> bool {
        match *self {
            StatusExpectation::Exact(code) => status == code,
            StatusExpectation::Class(c) => status / 100 == u16::from(c),
        }
    }
}

impl FromStr for StatusExpectation {
    type Err = String;

    /// `200`, or a class such as `2xx`.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let lower = s.to_ascii_lowercase();
        if let Some(class) = lower.strip_suffix("xx") {
            if let Ok(c @ 1..=5) = class.parse::<u8>() {
                return Ok(StatusExpectation::Class(c));
            }
        } else if let Ok(code @ 100..=599) = s.parse::<u16>() {
            return Ok(StatusExpectation::Exact(code));
        }
        Err(format!(
            "'{s}' is not a status code (100-599) or a class (1xx-5xx)"
        ))
    }
}

impl std::fmt::Display for StatusExpectation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusExpectation::Exact(c) => write!(f, "{c}"),
            StatusExpectation::Class(c) => write!(f, "{c}xx"),
        }
    }
}

/// What the body must be.
#[derive(Debug, Clone)]
pub enum BodyExpectation {
    /// Byte-for-byte equal.
    Exact(bytes::Bytes),
    /// Matches this regular expression somewhere (anchor it with `^…$` for a whole match).
    Regex(regex::bytes::Regex),
}

impl BodyExpectation {
    /// A regular expression, with a one-line error naming the flag when it does not compile.
    pub fn regex(pattern: &str) -> Result<Self, ConfigError> {
        regex::bytes::Regex::new(pattern)
            .map(BodyExpectation::Regex)
            .map_err(|e| {
                let first = e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                ConfigError::new(
                    Field::BodyRegex,
                    format!("'{pattern}' is not a valid regular expression: {first}"),
                )
            })
    }

    pub fn matches(&self, body: &[u8]) -> bool {
        match self {
            BodyExpectation::Exact(b) => body == b.as_ref(),
            BodyExpectation::Regex(r) => r.is_match(body),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            BodyExpectation::Exact(b) => format!("equals {:?}", String::from_utf8_lossy(b)),
            BodyExpectation::Regex(r) => format!("matches /{}/", r.as_str()),
        }
    }
}

/// The checks applied to every response.
#[derive(Debug, Clone, Default)]
pub struct Validation {
    pub status: StatusExpectation,
    pub body: Option<BodyExpectation>,
}

/// Why a response failed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Status,
    Body,
}

impl Failure {
    /// The key of this failure's sample message in the report.
    pub fn name(self) -> &'static str {
        match self {
            Failure::Status => "status",
            Failure::Body => "body",
        }
    }
}

/// At most this many bytes of a body are quoted in a sample message.
const QUOTED: usize = 120;

impl Validation {
    /// Whether the engine must keep the body (only when a body check is configured).
    pub fn needs_body(&self) -> bool {
        self.body.is_some()
    }

    /// Why a response failed: a one-line sample message for the report. `kept` is the part of
    /// the body that was read for the check (at most `limit` bytes), `len` its full length.
    pub fn explain(
        &self,
        failure: Failure,
        status: u16,
        kept: &[u8],
        len: u64,
        limit: usize,
    ) -> String {
        match failure {
            Failure::Status => format!("status {status}, expected {}", self.status),
            Failure::Body if len > kept.len() as u64 => {
                format!("body of {len} bytes is longer than the {limit} bytes a body check reads")
            }
            Failure::Body => {
                let shown = String::from_utf8_lossy(&kept[..kept.len().min(QUOTED)]);
                let more = if kept.len() > QUOTED { "…" } else { "" };
                let expected = self
                    .body
                    .as_ref()
                    .map(BodyExpectation::describe)
                    .unwrap_or_default();
                format!("body {shown:?}{more} (expected: {expected})")
            }
        }
    }

    pub fn check(&self, status: u16, body: &[u8]) -> Result<(), Failure> {
        if !self.status.matches(status) {
            return Err(Failure::Status);
        }
        match &self.body {
            Some(b) if !b.matches(body) => Err(Failure::Body),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_parsing() {
        assert_eq!("200".parse(), Ok(StatusExpectation::Exact(200)));
        assert_eq!("2xx".parse(), Ok(StatusExpectation::Class(2)));
        assert_eq!("4XX".parse(), Ok(StatusExpectation::Class(4)));
        assert!("99".parse::<StatusExpectation>().is_err());
        assert!("6xx".parse::<StatusExpectation>().is_err());
        assert!("ok".parse::<StatusExpectation>().is_err());
    }

    #[test]
    fn status_matching() {
        assert!(StatusExpectation::Class(2).matches(204));
        assert!(!StatusExpectation::Class(2).matches(301));
        assert!(StatusExpectation::Exact(404).matches(404));
        assert!(!StatusExpectation::Exact(404).matches(400));
    }

    #[test]
    fn body_checks() {
        let v = Validation {
            status: StatusExpectation::Exact(200),
            body: Some(BodyExpectation::Exact("Hello".into())),
        };
        assert_eq!(v.check(200, b"Hello"), Ok(()));
        assert_eq!(v.check(200, b"Hello!"), Err(Failure::Body));
        assert_eq!(v.check(500, b"Hello"), Err(Failure::Status));
        let r = Validation {
            status: StatusExpectation::default(),
            body: Some(BodyExpectation::regex(r#"^\{"message":".*"\}$"#).unwrap()),
        };
        assert_eq!(r.check(200, br#"{"message":"hi"}"#), Ok(()));
        assert_eq!(r.check(200, b"{}"), Err(Failure::Body));
    }

    #[test]
    fn failures_are_explained() {
        let v = Validation {
            status: StatusExpectation::Exact(200),
            body: Some(BodyExpectation::Exact("Hello".into())),
        };
        assert_eq!(
            v.explain(Failure::Status, 503, b"", 0, 8),
            "status 503, expected 200"
        );
        let m = v.explain(Failure::Body, 200, b"Bye", 3, 8);
        assert!(m.contains("\"Bye\"") && m.contains("Hello"), "{m}");
        let m = v.explain(Failure::Body, 200, b"12345678", 20, 8);
        assert!(m.contains("20 bytes") && m.contains("8 bytes"), "{m}");
    }

    #[test]
    fn bad_regex_names_the_flag() {
        let e = BodyExpectation::regex("(unclosed").unwrap_err();
        assert_eq!(e.field, Field::BodyRegex);
        assert!(!e.message.contains('\n'));
    }
}
