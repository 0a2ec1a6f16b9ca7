//! Response validation: what counts as a correct response. A failed validation is counted by kind
//! and never stops a run.

use std::str::FromStr;

use crate::config::ConfigError;

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
                    "--expect-body-regex",
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

impl Validation {
    /// Whether the engine must keep the body (only when a body check is configured).
    pub fn needs_body(&self) -> bool {
        self.body.is_some()
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
    fn bad_regex_names_the_flag() {
        let e = BodyExpectation::regex("(unclosed").unwrap_err();
        assert_eq!(e.flag, "--expect-body-regex");
        assert!(!e.message.contains('\n'));
    }
}
