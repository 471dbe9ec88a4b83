//! Field validation shared by every entity.
//!
//! Names follow the v3 resource-name rule castguard adopted: 1 to 260
//! characters of `[A-Za-z0-9_.-]`, not starting with `.` (they appear in URL
//! paths and file names, so nothing that needs escaping, and never `.`,
//! `..` or a hidden name). Errors carry the JSON path of the field, as
//! the management API reports it to the caller.

use std::fmt;

/// Longest entity name accepted.
pub const MAX_NAME_LEN: usize = 260;
/// Longest URL or URL template accepted.
pub(crate) const MAX_URL_LEN: usize = 2048;
/// Longest free text (descriptions, issuers, audiences, claim values).
pub(crate) const MAX_TEXT_LEN: usize = 4096;

/// Checks an entity against the rules that serde cannot express.
pub trait Validate {
    /// `Ok` when every field is acceptable; otherwise the first bad field.
    fn validate(&self) -> Result<(), ValidationError>;
}

/// A field that broke a rule. `field` is its JSON path, e.g.
/// `options[0].restriction.issuer`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ValidationError {
    pub field: String,
    pub problem: Problem,
}

/// What is wrong with a field. Never contains the field's value (it may be a
/// secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A required value is missing.
    Required,
    /// An empty string or list where content is required.
    Empty,
    /// Longer than allowed.
    TooLong { max: usize },
    /// Too many entries in a list.
    TooMany { max: usize },
    /// A character outside the allowed set.
    InvalidCharacters { allowed: &'static str },
    /// Wrong byte length (keys).
    Length {
        expected: &'static str,
        actual: usize,
    },
    /// A number outside its range.
    OutOfRange { min: i64, max: i64 },
    /// A value castguard understands but refuses, with the reason.
    Unsupported(&'static str),
    /// Any other rule, stated.
    Invalid(&'static str),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Required => write!(f, "is required"),
            Problem::Empty => write!(f, "must not be empty"),
            Problem::TooLong { max } => write!(f, "is longer than {max} characters"),
            Problem::TooMany { max } => write!(f, "has more than {max} entries"),
            Problem::InvalidCharacters { allowed } => {
                write!(f, "contains characters outside {allowed}")
            }
            Problem::Length { expected, actual } => {
                write!(f, "must be {expected}, got {actual} bytes")
            }
            Problem::OutOfRange { min, max } => write!(f, "must be between {min} and {max}"),
            Problem::Unsupported(why) => write!(f, "is not supported: {why}"),
            Problem::Invalid(why) => write!(f, "{why}"),
        }
    }
}

impl ValidationError {
    pub(crate) fn new(field: impl Into<String>, problem: Problem) -> Self {
        ValidationError {
            field: field.into(),
            problem,
        }
    }
}

/// Prefixes nested errors with their parent's path (`options[0]` + `.issuer`).
pub(crate) fn nested(prefix: &str, r: Result<(), ValidationError>) -> Result<(), ValidationError> {
    r.map_err(|mut e| {
        e.field = if e.field.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}.{}", e.field)
        };
        e
    })
}

/// Checks an entity or reference name: 1..=260 of `[A-Za-z0-9_.-]`, not
/// starting with `.`. Names become path segments (URLs, and folders such
/// as `DATA/assets/<name>`): `.` and `..` would name the folder itself or
/// its parent, and a leading dot is how staging folders are hidden
/// (`.upload-<uuid>`), so no entity may take one.
pub fn validate_name(field: &str, name: &str) -> Result<(), ValidationError> {
    if name.is_empty() {
        return Err(ValidationError::new(field, Problem::Empty));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ValidationError::new(
            field,
            Problem::TooLong { max: MAX_NAME_LEN },
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(ValidationError::new(
            field,
            Problem::InvalidCharacters {
                allowed: "[A-Za-z0-9_.-]",
            },
        ));
    }
    if name.starts_with('.') {
        return Err(ValidationError::new(
            field,
            Problem::Invalid("must not start with '.'"),
        ));
    }
    Ok(())
}

pub(crate) fn validate_opt_name(field: &str, name: Option<&str>) -> Result<(), ValidationError> {
    name.map_or(Ok(()), |n| validate_name(field, n))
}

/// Free text: non-empty when `required`, bounded, no control characters
/// other than tab/newline.
pub(crate) fn validate_text(field: &str, text: &str, max: usize) -> Result<(), ValidationError> {
    if text.is_empty() {
        return Err(ValidationError::new(field, Problem::Empty));
    }
    if text.chars().count() > max {
        return Err(ValidationError::new(field, Problem::TooLong { max }));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ValidationError::new(
            field,
            Problem::InvalidCharacters {
                allowed: "printable characters",
            },
        ));
    }
    Ok(())
}

pub(crate) fn validate_opt_text(
    field: &str,
    text: Option<&str>,
    max: usize,
) -> Result<(), ValidationError> {
    text.map_or(Ok(()), |t| validate_text(field, t, max))
}

/// An absolute `http`/`https` URL (or URL template), bounded, without
/// whitespace or control characters. Full URL parsing happens where the URL is
/// used; this keeps obviously broken values out of the store.
pub(crate) fn validate_url(field: &str, url: &str) -> Result<(), ValidationError> {
    if url.is_empty() {
        return Err(ValidationError::new(field, Problem::Empty));
    }
    if url.len() > MAX_URL_LEN {
        return Err(ValidationError::new(
            field,
            Problem::TooLong { max: MAX_URL_LEN },
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ValidationError::new(
            field,
            Problem::InvalidCharacters {
                allowed: "URL characters (no whitespace)",
            },
        ));
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err(ValidationError::new(
            field,
            Problem::Invalid("must be an http:// or https:// URL"),
        ));
    }
    Ok(())
}

pub(crate) fn validate_opt_url(field: &str, url: Option<&str>) -> Result<(), ValidationError> {
    url.map_or(Ok(()), |u| validate_url(field, u))
}

/// An ISO 8601 duration as the v3 model writes it (`PT1H`, `P7D`). Only the
/// shape is checked here; the license builder interprets it.
pub(crate) fn validate_iso_duration(field: &str, d: &str) -> Result<(), ValidationError> {
    let body = d.strip_prefix('-').unwrap_or(d);
    let ok = body.len() >= 2
        && body.len() <= 64
        && body.starts_with('P')
        && body.bytes().skip(1).all(|b| {
            b.is_ascii_digit()
                || matches!(
                    b,
                    b'Y' | b'M' | b'W' | b'D' | b'T' | b'H' | b'S' | b'.' | b','
                )
        });
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            Problem::Invalid("must be an ISO 8601 duration like PT1H"),
        ))
    }
}

pub(crate) fn validate_range(
    field: &str,
    v: i64,
    min: i64,
    max: i64,
) -> Result<(), ValidationError> {
    if v < min || v > max {
        return Err(ValidationError::new(
            field,
            Problem::OutOfRange { min, max },
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("name", "Asset_1.v2-final").is_ok());
        assert!(validate_name("name", &"a".repeat(260)).is_ok());
        assert_eq!(
            validate_name("name", &"a".repeat(261)).unwrap_err().problem,
            Problem::TooLong { max: 260 }
        );
        assert_eq!(
            validate_name("name", "").unwrap_err().problem,
            Problem::Empty
        );
        for bad in [".", "..", ".upload-1"] {
            let e = validate_name("name", bad).unwrap_err();
            assert!(matches!(e.problem, Problem::Invalid(_)), "{bad}");
        }
        assert!(validate_name("name", "a..b.").is_ok());
        for bad in ["a b", "a/b", "é", "a%2f", "a\u{0}"] {
            let e = validate_name("assetName", bad).unwrap_err();
            assert_eq!(e.field, "assetName");
            assert!(
                matches!(e.problem, Problem::InvalidCharacters { .. }),
                "{bad}"
            );
        }
    }

    #[test]
    fn urls() {
        assert!(validate_url("u", "https://lic.example/wv?x={ContentKeyId}").is_ok());
        assert!(validate_url("u", "HTTP://lic.example/").is_ok());
        assert!(validate_url("u", "ftp://x").is_err());
        assert!(validate_url("u", "https://a b").is_err());
        assert!(validate_url("u", "https://a\r\nX-Injected: 1").is_err());
        assert!(validate_url("u", "").is_err());
    }

    #[test]
    fn nested_paths() {
        let e = nested(
            "options[0]",
            nested(
                "restriction",
                Err(ValidationError::new("issuer", Problem::Empty)),
            ),
        )
        .unwrap_err();
        assert_eq!(e.field, "options[0].restriction.issuer");
        assert_eq!(
            e.to_string(),
            "options[0].restriction.issuer: must not be empty"
        );
    }

    #[test]
    fn durations() {
        assert!(validate_iso_duration("d", "PT1H").is_ok());
        assert!(validate_iso_duration("d", "P7DT12H30M5.5S").is_ok());
        assert!(validate_iso_duration("d", "1 hour").is_err());
        assert!(validate_iso_duration("d", "P").is_err());
    }
}
