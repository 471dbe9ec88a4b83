//! The streaming URLs of the retired cloud media service (issue 17 item 3):
//! `GET|HEAD /{locatorId}/{name}.ism/manifest(format=...,encryption=...)`.
//!
//! Players shipped with these URLs baked in, so the origin answers them
//! too, with a `302` to castguard's own URL of the same stream
//! (`/s/{locator}/{variant}/manifest.mpd` or `master.m3u8`, query string
//! kept so a `?token=` survives). A redirect, not a second way to serve:
//! players resolve segment URLs against the final URL (shaka, hls.js via
//! `responseURL`, ffmpeg), so segments, caching and protection stay in
//! [`super::origin`] alone.
//!
//! The forms and what they map to (docs/migration.md):
//! - `format=mpd-time-cmaf,encryption=cenc` → `cenc` DASH;
//! - `format=mpd-time-cmaf,encryption=cbcs` → `cbcs` DASH;
//! - `format=m3u8-cmaf,encryption=cbcs-aapl` → `cbcs` HLS;
//! - `format=m3u8-aapl,encryption=cbc` → `aes128` HLS (AES-128 of CMAF
//!   segments: the players that took the old TS stream take it);
//! - `format=m3u8-cmaf` → HLS of the policy's first of `clear`, `cbcs`,
//!   `aes128`;
//! - `format=mpd-time-cmaf` and bare `manifest` → DASH of the policy's
//!   first of `clear`, `cenc`, `cbcs`.
//!
//! Smooth (`fmp4-v20`, `ss`), HDS (`f4m-f4f`), TS (`m3u8-aapl` without
//! `cbc`, `m3u8-aapl-v3`) and the non-CMAF DASH profile (`mpd-time-csf`)
//! get 404 with a reason saying castguard serves CMAF only: a clear error
//! beats a stream the app was not built for. So do `audio-only` and
//! `filter` (no dynamic filters here), unknown arguments, and a variant
//! the locator's streaming policy does not serve.
//!
//! Argument keys and values are case-insensitive, as the old service
//! treated them; anything else about the list is strict (no spaces, no
//! repeated key, no empty item).

use super::error::DeliveryError;
use super::origin::resolve_for_request;
use super::resolve::{ResolvedLocator, Variant};
use crate::AppState;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/{locator}/{file}/{manifest}", get(serve))
}

/// Which manifest castguard serves it as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Dash,
    Hls,
}

impl Protocol {
    fn manifest(self) -> &'static str {
        match self {
            Protocol::Dash => "manifest.mpd",
            Protocol::Hls => "master.m3u8",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Protocol::Dash => "DASH",
            Protocol::Hls => "HLS",
        }
    }
}

/// What a legacy manifest URL asks for: a protocol and a variant, or the
/// protocol with whichever variant the locator's policy gives first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wanted {
    pub protocol: Protocol,
    pub variant: Option<Variant>,
}

/// Why a legacy URL is refused, with the reason sent in the 404 body.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not a manifest URL of the old service at all: plain 404.
    NotLegacy,
    /// A format or argument castguard does not serve.
    Unsupported(String),
}

impl From<Refusal> for DeliveryError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::NotLegacy => DeliveryError::NotFound,
            Refusal::Unsupported(reason) => DeliveryError::NotServed {
                code: "unsupported_format",
                reason,
            },
        }
    }
}

const CMAF_ONLY: &str = "castguard serves CMAF only (DASH mpd-time-cmaf, HLS m3u8-cmaf)";

/// The request of the last path segment, `manifest` or
/// `manifest(key=value,...)` in any capitalisation.
pub fn parse(segment: &str) -> Result<Wanted, Refusal> {
    const WORD: &str = "manifest";
    let head = segment.get(..WORD.len()).ok_or(Refusal::NotLegacy)?;
    if !head.eq_ignore_ascii_case(WORD) {
        return Err(Refusal::NotLegacy);
    }
    let rest = &segment[WORD.len()..];
    if rest.is_empty() {
        return Ok(Wanted {
            protocol: Protocol::Dash,
            variant: None,
        });
    }
    let list = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or(Refusal::NotLegacy)?;
    let mut format = None;
    let mut encryption = None;
    for item in list.split(',') {
        let (key, value) = item
            .split_once('=')
            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            .ok_or_else(|| {
                Refusal::Unsupported("manifest arguments must be key=value pairs".into())
            })?;
        let value = value.to_ascii_lowercase();
        let slot = match key.to_ascii_lowercase().as_str() {
            "format" => &mut format,
            "encryption" => &mut encryption,
            "audio-only" | "filter" => {
                return Err(Refusal::Unsupported(format!(
                    "the {} argument is not supported: castguard has no dynamic filters",
                    key.to_ascii_lowercase()
                )));
            }
            _ => return Err(Refusal::Unsupported("unknown manifest argument".into())),
        };
        if slot.replace(value).is_some() {
            return Err(Refusal::Unsupported(
                "a manifest argument is repeated".into(),
            ));
        }
    }
    wanted(format.as_deref(), encryption.as_deref())
}

/// The meaning of a (format, encryption) pair.
fn wanted(format: Option<&str>, encryption: Option<&str>) -> Result<Wanted, Refusal> {
    let dash = |variant| Wanted {
        protocol: Protocol::Dash,
        variant,
    };
    let hls = |variant| Wanted {
        protocol: Protocol::Hls,
        variant,
    };
    let unsupported = |what: &str| Err(Refusal::Unsupported(format!("{what}: {CMAF_ONLY}")));
    match (format, encryption) {
        (None, None) => Ok(dash(None)),
        (None, Some(_)) => Err(Refusal::Unsupported("encryption needs a format".into())),
        (Some("mpd-time-cmaf"), None) => Ok(dash(None)),
        (Some("mpd-time-cmaf"), Some("cenc")) => Ok(dash(Some(Variant::Cenc))),
        (Some("mpd-time-cmaf"), Some("cbcs")) => Ok(dash(Some(Variant::Cbcs))),
        (Some("m3u8-cmaf"), None) => Ok(hls(None)),
        (Some("m3u8-cmaf"), Some("cbcs-aapl")) => Ok(hls(Some(Variant::Cbcs))),
        (Some("m3u8-aapl"), Some("cbc")) => Ok(hls(Some(Variant::Aes128))),
        (Some("m3u8-aapl" | "m3u8-aapl-v3"), _) => {
            unsupported("format m3u8-aapl (HLS with MPEG-TS segments)")
        }
        (Some("fmp4-v20" | "ss"), _) => unsupported("Smooth Streaming (format fmp4-v20)"),
        (Some("f4m-f4f"), _) => unsupported("HDS (format f4m-f4f)"),
        (Some("mpd-time-csf"), _) => unsupported("DASH CSF (format mpd-time-csf)"),
        (Some(f @ ("mpd-time-cmaf" | "m3u8-cmaf")), Some(_)) => Err(Refusal::Unsupported(format!(
            "format {f}: encryption not available for it (mpd-time-cmaf takes cenc or cbcs, m3u8-cmaf takes cbcs-aapl)"
        ))),
        (Some(_), _) => unsupported("unknown format"),
    }
}

/// The variant to serve for `w` when the locator serves a variant for a
/// protocol as `serves` says: the one asked for, else the protocol's
/// default (clear first, then the encrypted ones in the old service's
/// order).
pub fn choose(w: Wanted, serves: impl Fn(Variant, Protocol) -> bool) -> Result<Variant, Refusal> {
    let candidates: &[Variant] = match (w.variant, w.protocol) {
        (Some(v), _) => &[v],
        (None, Protocol::Dash) => &[Variant::Clear, Variant::Cenc, Variant::Cbcs],
        (None, Protocol::Hls) => &[Variant::Clear, Variant::Cbcs, Variant::Aes128],
    };
    candidates
        .iter()
        .copied()
        .find(|&v| serves(v, w.protocol))
        .ok_or_else(|| {
            let what = match w.variant {
                Some(v) => format!("{} {}", v.as_str(), w.protocol.name()),
                None => w.protocol.name().to_owned(),
            };
            Refusal::Unsupported(format!(
                "this locator's streaming policy does not serve {what}"
            ))
        })
}

fn serves(r: &ResolvedLocator, v: Variant, p: Protocol) -> bool {
    r.variant(v).is_some_and(|plan| match p {
        Protocol::Dash => plan.dash,
        Protocol::Hls => plan.hls,
    })
}

async fn serve(
    State(s): State<AppState>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    origin: Option<axum::Extension<crate::forwarded::RequestOrigin>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, DeliveryError> {
    let Ok(Path((locator, file, manifest))) = path else {
        return Err(DeliveryError::NotFound);
    };
    // The old service ignored the name before `.ism` (it was the asset's
    // file name, not checked against anything); so does castguard.
    let is_ism = file
        .len()
        .checked_sub(4)
        .and_then(|i| file.get(i..))
        .is_some_and(|ext| ext.eq_ignore_ascii_case(".ism"));
    if !is_ism {
        return Err(DeliveryError::NotFound);
    }
    let id = uuid::Uuid::try_parse(&locator).map_err(|_| DeliveryError::NotFound)?;
    let wanted = parse(&manifest)?;
    let origin = origin.map(|axum::Extension(o)| o);
    let resolved = resolve_for_request(&s, id, origin.as_ref(), &headers).await?;
    if !resolved.is_active_at(time::OffsetDateTime::now_utc()) {
        return Err(DeliveryError::NotFound);
    }
    let variant = choose(wanted, |v, p| serves(&resolved, v, p))?;
    let mut location = format!(
        "/s/{id}/{}/{}",
        variant.as_str(),
        wanted.protocol.manifest()
    );
    if let Some(q) = uri.query() {
        location.push('?');
        location.push_str(q);
    }
    let location = HeaderValue::from_str(&location).map_err(|_| DeliveryError::NotFound)?;
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            // The target depends on the locator's policy, which may change.
            (header::CACHE_CONTROL, HeaderValue::from_static("max-age=2")),
        ],
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Wanted {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    fn refused(s: &str) -> String {
        match parse(s) {
            Err(Refusal::Unsupported(r)) => r,
            other => panic!("{s}: {other:?}"),
        }
    }

    const fn w(protocol: Protocol, variant: Option<Variant>) -> Wanted {
        Wanted { protocol, variant }
    }

    #[test]
    fn every_supported_form() {
        use Protocol::*;
        use Variant::*;
        let cases = [
            ("manifest", w(Dash, None)),
            ("Manifest", w(Dash, None)),
            (
                "manifest(format=mpd-time-cmaf,encryption=cenc)",
                w(Dash, Some(Cenc)),
            ),
            (
                "manifest(format=mpd-time-cmaf,encryption=cbcs)",
                w(Dash, Some(Cbcs)),
            ),
            (
                "manifest(format=m3u8-cmaf,encryption=cbcs-aapl)",
                w(Hls, Some(Cbcs)),
            ),
            (
                "manifest(format=m3u8-aapl,encryption=cbc)",
                w(Hls, Some(Aes128)),
            ),
            ("manifest(format=m3u8-cmaf)", w(Hls, None)),
            ("manifest(format=mpd-time-cmaf)", w(Dash, None)),
            // Order of keys and case of keys and values do not matter.
            (
                "Manifest(Encryption=CBC,FORMAT=M3U8-AAPL)",
                w(Hls, Some(Aes128)),
            ),
        ];
        for (s, want) in cases {
            assert_eq!(ok(s), want, "{s}");
        }
    }

    #[test]
    fn unsupported_formats_name_themselves() {
        for (s, names) in [
            ("manifest(format=fmp4-v20)", "Smooth"),
            ("manifest(format=ss)", "Smooth"),
            ("manifest(format=f4m-f4f)", "HDS"),
            ("manifest(format=m3u8-aapl)", "m3u8-aapl"),
            ("manifest(format=m3u8-aapl-v3)", "m3u8-aapl"),
            ("manifest(format=m3u8-aapl-v3,encryption=cbc)", "m3u8-aapl"),
            ("manifest(format=mpd-time-csf)", "mpd-time-csf"),
            ("manifest(format=bogus)", "unknown format"),
        ] {
            let r = refused(s);
            assert!(r.contains(names) && r.contains("CMAF only"), "{s}: {r}");
        }
    }

    #[test]
    fn bad_argument_lists() {
        for s in [
            "manifest()",
            "manifest(format)",
            "manifest(format=)",
            "manifest(=cenc)",
            "manifest(format=mpd-time-cmaf,)",
            "manifest(format=mpd-time-cmaf, encryption=cenc)",
            "manifest(format=mpd-time-cmaf,format=m3u8-cmaf)",
            "manifest(format=mpd-time-cmaf,encryption=cbcs-aapl)",
            "manifest(format=m3u8-cmaf,encryption=cenc)",
            "manifest(encryption=cenc)",
            "manifest(format=mpd-time-cmaf,audio-only=false)",
            "manifest(format=m3u8-cmaf,filter=hd)",
            "manifest(format=mpd-time-cmaf,colour=blue)",
        ] {
            refused(s);
        }
        for s in [
            "",
            "manifes",
            "manifest.mpd",
            "manifest(format=mpd-time-cmaf",
            "manifest(format=mpd-time-cmaf))x",
            "master.m3u8",
            "manifesté",
            "é",
        ] {
            assert_eq!(parse(s), Err(Refusal::NotLegacy), "{s:?}");
        }
    }

    #[test]
    fn defaults_follow_the_policy() {
        use Protocol::*;
        use Variant::*;
        let only = |served: &'static [(Variant, Protocol)]| move |v, p| served.contains(&(v, p));
        // Predefined_MultiDrmStreaming: cenc DASH, cbcs HLS.
        let multi = only(&[(Cenc, Dash), (Cbcs, Hls)]);
        assert_eq!(choose(w(Dash, None), multi), Ok(Cenc));
        assert_eq!(choose(w(Hls, None), multi), Ok(Cbcs));
        assert!(choose(w(Dash, Some(Cbcs)), multi).is_err());
        // Clear wins when served.
        let clear = only(&[(Clear, Dash), (Clear, Hls), (Cenc, Dash)]);
        assert_eq!(choose(w(Dash, None), clear), Ok(Clear));
        assert_eq!(choose(w(Hls, None), clear), Ok(Clear));
        assert_eq!(choose(w(Dash, Some(Cenc)), clear), Ok(Cenc));
        // Envelope only: HLS aes128, no DASH at all.
        let env = only(&[(Aes128, Hls)]);
        assert_eq!(choose(w(Hls, None), env), Ok(Aes128));
        let Err(Refusal::Unsupported(r)) = choose(w(Dash, None), env) else {
            panic!()
        };
        assert!(r.contains("does not serve DASH"), "{r}");
        let Err(Refusal::Unsupported(r)) = choose(w(Hls, Some(Cbcs)), env) else {
            panic!()
        };
        assert!(r.contains("cbcs HLS"), "{r}");
    }
}
