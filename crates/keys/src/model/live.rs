//! Live events and live outputs (v3 `LiveEvent`, `LiveOutput`): an encoder
//! pushes to a live event's ingest endpoint; each of the event's outputs
//! records what arrives into an asset, which streaming locators publish
//! exactly like a VOD asset (DESIGN.md, "Data model": live as VOD).
//!
//! v3 fields kept: `description`, `input.streamingProtocol`
//! (`FragmentedMP4`, `RTMP`), `input.accessToken`, `input.endpoints`
//! (read-only), `resourceState`, `created`, `lastModified`; on outputs
//! `assetName`, `archiveWindowLength`, `rewindWindowLength`,
//! `manifestName`, `resourceState`.
//!
//! Deviations: a live output is a top-level entity (`/api/v1/live-outputs/{name}`)
//! naming its event in `liveEventName`, where v3 nests it under the event's
//! URL, so that the one entity abstraction serves it; `input.endpoints`
//! are filled in by the server on every response, never stored.
//!
//! The access token is what makes an ingest URL unguessable: when a PUT
//! leaves it out the API generates 128 random bits for it.

use super::rfc3339_opt;
use super::validate::{
    MAX_TEXT_LEN, Problem, Validate, ValidationError, validate_name, validate_opt_text,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Shortest and longest archive window (v3: one minute to 25 hours).
pub const MIN_ARCHIVE_WINDOW_SECS: f64 = 60.0;
pub const MAX_ARCHIVE_WINDOW_SECS: f64 = 25.0 * 3600.0;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveEvent {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub input: LiveEventInput,
    /// Set by `start` and `stop`, never by a PUT.
    #[serde(default)]
    pub resource_state: LiveEventResourceState,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub created: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub last_modified: Option<OffsetDateTime>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveEventInput {
    pub streaming_protocol: LiveEventInputProtocol,
    /// Part of every ingest URL; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// Read-only: the ingest URLs, written into responses by the server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<LiveEventEndpoint>,
    /// castguard: HTTP Basic credentials every ingest request must also
    /// carry (beside the access token in the URL), for encoders and
    /// proxies that expect them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<LiveEventBasicAuth>,
}

/// Basic auth on an event's ingest endpoints. The password is write-only:
/// a PUT takes it, the store keeps only a salted hash of it
/// (`passwordHash`, PBKDF2), and responses carry neither. A PUT without a
/// password keeps the stored one; while none was ever set, every ingest
/// request is refused (fails closed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveEventBasicAuth {
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LiveEventInputProtocol {
    /// CMAF over HTTP POST/PUT (DASH-IF Live Media Ingest, Interface 1).
    #[serde(rename = "FragmentedMP4")]
    FragmentedMp4,
    #[serde(rename = "RTMP")]
    Rtmp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveEventEndpoint {
    pub protocol: String,
    pub url: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LiveEventResourceState {
    #[default]
    Stopped,
    Starting,
    Running,
    Stopping,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveOutput {
    pub name: String,
    /// castguard: the event whose input this output records.
    pub live_event_name: String,
    pub asset_name: String,
    /// ISO 8601 duration (`PT1H`): how much of the stream the asset keeps;
    /// older segments leave it as new ones arrive.
    pub archive_window_length: String,
    /// ISO 8601 duration: how far back viewers of the live stream may seek
    /// (DASH `timeShiftBufferDepth`, the HLS window); the archive window
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewind_window_length: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub created: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub last_modified: Option<OffsetDateTime>,
}

impl LiveOutput {
    /// The archive window in seconds (validated entities always have one).
    pub fn archive_window_secs(&self) -> f64 {
        iso8601_duration_secs(&self.archive_window_length).unwrap_or(MIN_ARCHIVE_WINDOW_SECS)
    }

    /// The viewers' window in seconds: the rewind window, else the archive's.
    pub fn rewind_window_secs(&self) -> f64 {
        self.rewind_window_length
            .as_deref()
            .and_then(iso8601_duration_secs)
            .unwrap_or_else(|| self.archive_window_secs())
    }
}

/// The seconds of an ISO 8601 duration of days, hours, minutes and
/// (fractional) seconds: `PT1H`, `PT1M30S`, `P1DT2H`, `PT0.5S`. Years,
/// months and weeks have no fixed length and are refused, as are empty
/// forms (`P`, `PT`), repeated or out-of-order units and negative values.
pub fn iso8601_duration_secs(s: &str) -> Option<f64> {
    let rest = s.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut total = 0.0;
    let mut any = false;
    let mut parse = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut next_unit = 0;
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
                continue;
            }
            let at = units.iter().skip(next_unit).position(|(u, _)| *u == c)? + next_unit;
            if num.is_empty() || (num.contains('.') && c != 'S') {
                return None;
            }
            total += num.parse::<f64>().ok()? * units[at].1;
            num.clear();
            next_unit = at + 1;
            any = true;
        }
        num.is_empty().then_some(())
    };
    parse(date, &[('D', 86_400.0)])?;
    if let Some(t) = time {
        parse(t, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    (any && total.is_finite()).then_some(total)
}

/// A token that may appear in a URL path: 16 to 128 of `[A-Za-z0-9_-]`.
pub fn valid_access_token(t: &str) -> bool {
    (16..=128).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Validate for LiveEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        validate_name("name", &self.name)?;
        validate_opt_text("description", self.description.as_deref(), MAX_TEXT_LEN)?;
        match &self.input.access_token {
            None => Err(ValidationError::new("input.accessToken", Problem::Required)),
            Some(t) if !valid_access_token(t) => Err(ValidationError::new(
                "input.accessToken",
                Problem::Invalid("must be 16 to 128 of [A-Za-z0-9_-]"),
            )),
            Some(_) => Ok(()),
        }?;
        if let Some(auth) = &self.input.basic_auth {
            let u = &auth.username;
            // As the OpenAPI schema says it: lengths in characters, and
            // the C0 controls and DEL refused (`[^\x00-\x1f\x7f]`).
            let control = |c: char| c < ' ' || c == '\x7f';
            let chars = u.chars().count();
            if chars == 0 || chars > 128 || u.contains(':') || u.chars().any(control) {
                return Err(ValidationError::new(
                    "input.basicAuth.username",
                    Problem::Invalid(
                        "must be 1 to 128 characters, no ':' and no control characters",
                    ),
                ));
            }
            if let Some(p) = &auth.password
                && (!(8..=256).contains(&p.chars().count()) || p.chars().any(control))
            {
                return Err(ValidationError::new(
                    "input.basicAuth.password",
                    Problem::Invalid("must be 8 to 256 characters, no control characters"),
                ));
            }
        }
        Ok(())
    }
}

impl Validate for LiveOutput {
    fn validate(&self) -> Result<(), ValidationError> {
        validate_name("name", &self.name)?;
        validate_name("liveEventName", &self.live_event_name)?;
        validate_name("assetName", &self.asset_name)?;
        validate_opt_text("description", self.description.as_deref(), MAX_TEXT_LEN)?;
        if let Some(m) = &self.manifest_name {
            validate_name("manifestName", m)?;
        }
        let window = |field: &str, v: &str| {
            let secs = iso8601_duration_secs(v).ok_or_else(|| {
                ValidationError::new(
                    field,
                    Problem::Invalid("must be an ISO 8601 duration such as PT1H"),
                )
            })?;
            if !(MIN_ARCHIVE_WINDOW_SECS..=MAX_ARCHIVE_WINDOW_SECS).contains(&secs) {
                return Err(ValidationError::new(
                    field,
                    Problem::Invalid("must be between PT1M and PT25H"),
                ));
            }
            Ok(secs)
        };
        let archive = window("archiveWindowLength", &self.archive_window_length)?;
        if let Some(r) = &self.rewind_window_length {
            let rewind = window("rewindWindowLength", r)?;
            if rewind > archive {
                return Err(ValidationError::new(
                    "rewindWindowLength",
                    Problem::Invalid("must not be longer than archiveWindowLength"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_valid;

    #[test]
    fn durations() {
        assert_eq!(iso8601_duration_secs("PT1H"), Some(3600.0));
        assert_eq!(iso8601_duration_secs("PT1M30S"), Some(90.0));
        assert_eq!(iso8601_duration_secs("P1DT2H"), Some(93_600.0));
        assert_eq!(iso8601_duration_secs("PT0.5S"), Some(0.5));
        assert_eq!(iso8601_duration_secs("P1D"), Some(86_400.0));
        for bad in [
            "", "P", "PT", "1H", "PT1", "PTH", "PT1S1M", "PT1H1H", "P1Y", "P1W", "-PT1H", "PT1.5H",
            "PT1..0S",
        ] {
            assert_eq!(iso8601_duration_secs(bad), None, "{bad}");
        }
    }

    #[test]
    fn event_round_trip_and_rules() {
        let e: LiveEvent = parse_valid(
            r#"{"name":"ev1","input":{"streamingProtocol":"FragmentedMP4","accessToken":"0123456789abcdef0123"}}"#,
        )
        .expect("valid");
        assert_eq!(e.resource_state, LiveEventResourceState::Stopped);
        let json = serde_json::to_string(&e).expect("json");
        assert!(
            json.contains(r#""streamingProtocol":"FragmentedMP4""#),
            "{json}"
        );
        assert!(json.contains(r#""resourceState":"Stopped""#), "{json}");
        let short: LiveEvent = serde_json::from_str(
            r#"{"name":"ev1","input":{"streamingProtocol":"RTMP","accessToken":"short"}}"#,
        )
        .expect("parses");
        assert_eq!(short.validate().unwrap_err().field, "input.accessToken");
        let slash: LiveEvent = serde_json::from_str(
            r#"{"name":"ev1","input":{"streamingProtocol":"RTMP","accessToken":"0123456789abcdef/../x"}}"#,
        )
        .expect("parses");
        assert!(slash.validate().is_err());
    }

    #[test]
    fn output_windows() {
        let o: LiveOutput = parse_valid(
            r#"{"name":"o1","liveEventName":"ev1","assetName":"a1","archiveWindowLength":"PT1H","rewindWindowLength":"PT10M"}"#,
        )
        .expect("valid");
        assert_eq!(o.archive_window_secs(), 3600.0);
        assert_eq!(o.rewind_window_secs(), 600.0);
        let mut longer = o.clone();
        longer.rewind_window_length = Some("PT2H".into());
        assert_eq!(longer.validate().unwrap_err().field, "rewindWindowLength");
        let mut tiny = o.clone();
        tiny.archive_window_length = "PT30S".into();
        assert_eq!(tiny.validate().unwrap_err().field, "archiveWindowLength");
        let mut no_rewind = o;
        no_rewind.rewind_window_length = None;
        assert_eq!(no_rewind.rewind_window_secs(), 3600.0);
    }
}
