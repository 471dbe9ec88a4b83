//! `POST /speke/v2`: castguard as a SPEKE v2.0 key provider
//! (<https://docs.aws.amazon.com/speke/latest/documentation/speke-api-v2.html>)
//! for encryptors such as AWS Elemental MediaPackage and MediaConvert.
//!
//! The encryptor sends a CPIX 2.3 document naming content keys by KID
//! under a content ID (`CPIX@contentId`) and the signalling it wants per
//! DRM system; [`keys::cpix::speke`] checks it against SPEKE's rules and
//! encryption contract. Keys are made on first sight of a KID (random,
//! stored sealed through the store's import, named
//! `speke-{contentId}-{kid}`, bound to the content key policy chosen by
//! configuration, `--speke-policy`), and found again on later requests, so
//! the same request always gets the same keys. A KID already stored for
//! another content ID is refused (409): SPEKE's KIDs are the encryptor's,
//! and a second content must not be handed a key that protects the first.
//! Players then get licenses from castguard's key delivery under that
//! policy, as for any other key.
//!
//! The answer is the request filled: each key's value (in the clear, or
//! encrypted for the request's `DeliveryData` certificate), and per DRM
//! system exactly the signalling castguard's own origin writes for that
//! key (`media::setup` builds both; CPIX export hands out the same), with
//! license URLs on this server's public base URL.
//!
//! Errors: 4xx for what the encryptor must fix (it does not retry them),
//! with a JSON body whose message names the element; 5xx for a store that
//! failed or a policy that does not exist (configuration), which
//! encryptors retry. Every answer carries `X-Speke-Version: 2.0`.
//!
//! Authentication: a bearer token or HTTP Basic credentials from files
//! given to `castguard serve`, compared in constant time with the same
//! per-address failure limit as the admin token. SigV4 (MediaPackage's
//! IAM role through an API gateway) is the gateway's business: it
//! forwards to this route with one of these credentials (docs/speke.md).

use crate::AppState;
use crate::auth::{self, AdminToken, BearerRefusal};
use crate::error::{ApiError, ApiResult};
use crate::routes::cpix::{AES128_SYSTEM_ID, add_signalling, cpix_error};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use keys::cpix::speke::{self, Request as SpekeRequest, SpekeError};
use keys::cpix::{Document, DrmSystem, Recipient};
use keys::model::{
    ContentKey, ContentKeyType, ContentKeyValue, ContentKeyWithValue, TRACK_CLASSES,
};
use media::manifest;
use media::setup::{CommonEncryption, LicenseUrls, Protection, TrackKeys};
use store::{ImportItem, StoreError};
use uuid::Uuid;

/// Largest SPEKE request body: the largest preset with key rotation
/// and a certificate is a few tens of kilobytes.
pub const SPEKE_BODY_LIMIT: usize = 1024 * 1024;

/// The `X-Speke-Version` header.
const X_SPEKE_VERSION: &str = "x-speke-version";

/// How `/speke/v2` is configured (`castguard serve --speke-policy`).
#[derive(Debug)]
pub struct SpekeConfig {
    /// The content key policy the keys made are bound to.
    pub policy: String,
    /// A bearer token that authenticates encryptors.
    pub bearer: Option<AdminToken>,
    /// `user:password` for HTTP Basic.
    pub basic: Option<AdminToken>,
}

/// The body is read by [`answer`] itself, bounded by [`SPEKE_BODY_LIMIT`]
/// (after the credentials are checked).
pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/speke/v2", axum::routing::post(speke_v2))
}

/// Every answer names the SPEKE version and castguard.
fn stamp(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        X_SPEKE_VERSION,
        HeaderValue::from_static(speke::SPEKE_VERSION),
    );
    h.insert(
        "x-speke-user-agent",
        HeaderValue::from_static(concat!("castguard/", env!("CARGO_PKG_VERSION"))),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn speke_v2(State(s): State<AppState>, req: Request) -> Response {
    let Some(cfg) = s.speke() else {
        return stamp(
            ApiError::NotFound {
                message: "the SPEKE key provider is off (castguard serve --speke-policy)".into(),
                field: None,
            }
            .into_response(),
        );
    };
    let (parts, body) = req.into_parts();
    if let Err(refusal) = authenticate(&parts, &s, cfg) {
        let mut res = auth::bearer_refusal(refusal, "missing or invalid SPEKE credentials");
        if refusal == BearerRefusal::Unauthorized && cfg.basic.is_some() {
            res.headers_mut().append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"castguard SPEKE\""),
            );
        }
        return stamp(res);
    }
    let res = match answer(&s, cfg, &parts, body).await {
        Ok(r) => r,
        Err(e) => {
            if e.status().is_server_error() {
                tracing::error!(error = %e, "SPEKE v2 request failed");
            } else {
                tracing::info!(error = %e, "SPEKE v2 request refused");
            }
            e.into_response()
        }
    };
    stamp(res)
}

/// A bearer token or Basic credentials, whichever the request presents
/// and the server is configured with.
fn authenticate(parts: &Parts, s: &AppState, cfg: &SpekeConfig) -> Result<(), BearerRefusal> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .ok_or(BearerRefusal::Unauthorized)?;
    let (scheme, rest) = value
        .split_at_checked(6)
        .ok_or(BearerRefusal::Unauthorized)?;
    if scheme.eq_ignore_ascii_case(b"basic ") {
        let expected = cfg.basic.as_ref().ok_or(BearerRefusal::Unauthorized)?;
        let decoded = zeroize::Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(rest.trim_ascii())
                .map_err(|_| BearerRefusal::Unauthorized)?,
        );
        return auth::check_secret(parts, s, expected, &decoded);
    }
    let expected = cfg.bearer.as_ref().ok_or(BearerRefusal::Unauthorized)?;
    auth::check_bearer(parts, s, expected)
}

fn speke_error(e: SpekeError) -> ApiError {
    match e {
        SpekeError::Cpix(c) => cpix_error(c),
        SpekeError::Missing(element) => {
            ApiError::bad_request(element, "is required in a SPEKE v2 request")
        }
        SpekeError::Invalid { element, reason } => ApiError::bad_request(element, reason),
        SpekeError::Version(_) => ApiError::bad_request("CPIX@version", e.to_string()),
        SpekeError::Contract(_) => ApiError::bad_request("ContentKeyUsageRuleList", e.to_string()),
        SpekeError::TooManyKeys { .. } => ApiError::bad_request("ContentKeyList", e.to_string()),
    }
}

async fn answer(s: &AppState, cfg: &SpekeConfig, parts: &Parts, body: Body) -> ApiResult<Response> {
    match parts
        .headers
        .get(X_SPEKE_VERSION)
        .map(HeaderValue::as_bytes)
    {
        Some(v) if v.trim_ascii() == speke::SPEKE_VERSION.as_bytes() => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                "X-Speke-Version",
                "castguard answers SPEKE version 2.0",
            ));
        }
        None => {
            return Err(ApiError::bad_request(
                "X-Speke-Version",
                "is required (2.0): SPEKE v1 requests are not answered here",
            ));
        }
    }
    let bytes = axum::body::to_bytes(body, SPEKE_BODY_LIMIT)
        .await
        .map_err(|_| ApiError::PayloadTooLarge {
            limit: SPEKE_BODY_LIMIT as u64,
        })?;
    let request = SpekeRequest::parse(&bytes).map_err(speke_error)?;
    let recipient = request
        .recipient_certificate
        .as_deref()
        .map(Recipient::from_certificate)
        .transpose()
        .map_err(|e| ApiError::bad_request("DeliveryData/X509Certificate", e.to_string()))?;
    // The policy must exist for players to get licenses: a missing one is
    // the operator's to fix, and the encryptor retries a 5xx meanwhile.
    match s.store().get_content_key_policy(&cfg.policy).await {
        Ok(_) => {}
        Err(StoreError::NotFound { .. }) => {
            return Err(ApiError::internal(format!(
                "--speke-policy: content key policy '{}' does not exist",
                cfg.policy
            )));
        }
        Err(e) => return Err(ApiError::internal(e)),
    }
    // One request at a time on this node, from the look-up to the store:
    // two requests for a new KID must not both make a key (the second
    // would replace the first's value after an encryptor used it).
    let guard = s.speke_lock().lock().await;
    let (values, items) = keys_for(s, cfg, &request).await?;
    let mut doc = request.document.clone();
    for k in &mut doc.content_keys {
        k.value = values
            .iter()
            .find(|(kid, _, _)| *kid == k.kid)
            .map(|(_, v, _)| v.clone());
    }
    // Filled before anything is stored: a request castguard cannot answer
    // whole leaves no key behind.
    fill(s, &mut doc, &values)?;
    let created = items.len();
    if created > 0 {
        match s.store().import(items, false).await {
            Ok(_) => {}
            Err(StoreError::InImport { source, .. }) => return Err(ApiError::from(*source)),
            Err(e) => return Err(e.into()),
        }
    }
    drop(guard);
    let xml = request
        .answer_xml(&doc, recipient.as_ref())
        .map_err(cpix_error)?;
    tracing::info!(
        content_id = %request.content_id,
        contract = %request.contract,
        keys = doc.content_keys.len(),
        created,
        encrypted = recipient.is_some(),
        "SPEKE v2 answer"
    );
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        xml,
    )
        .into_response())
}

/// The key of each KID of the request with its type: found under this
/// content ID, or made; the keys made are returned as import items for
/// the caller to store (all of one request in one transaction).
#[allow(clippy::type_complexity)]
async fn keys_for(
    s: &AppState,
    cfg: &SpekeConfig,
    request: &SpekeRequest,
) -> ApiResult<(
    Vec<(Uuid, ContentKeyValue, ContentKeyType)>,
    Vec<ImportItem>,
)> {
    let mut out = Vec::new();
    let mut items = Vec::new();
    for k in &request.document.content_keys {
        let key_type = if request
            .document
            .drm_systems
            .iter()
            .any(|d| d.kid == k.kid && speke::is_aes128(d.system_id))
        {
            ContentKeyType::EnvelopeEncryption
        } else {
            ContentKeyType::CommonEncryption
        };
        let name = format!("speke-{}-{}", request.content_id, k.kid.hyphenated());
        match s.store().get_content_key_by_key_id(k.kid).await {
            Ok(existing) => {
                if existing.key.name != name || existing.key.key_type != key_type {
                    return Err(ApiError::Conflict {
                        message: format!(
                            "ContentKey {}: this KID is already stored for another content ID or key type; nothing was made",
                            k.kid
                        ),
                    });
                }
                out.push((k.kid, existing.value, key_type));
            }
            Err(StoreError::NotFound { .. }) => {
                let value = ContentKeyValue::random().map_err(ApiError::internal)?;
                let label = request
                    .track_type(k.kid)
                    .filter(|t| TRACK_CLASSES.contains(t))
                    .map(str::to_string);
                items.push(ImportItem::ContentKey(ContentKeyWithValue {
                    key: ContentKey {
                        name,
                        key_id: k.kid,
                        key_type,
                        label,
                        policy_name: Some(cfg.policy.clone()),
                        created: None,
                        last_modified: None,
                    },
                    value: value.clone(),
                }));
                out.push((k.kid, value, key_type));
            }
            Err(e) => return Err(ApiError::internal(e)),
        }
    }
    Ok((out, items))
}

/// Fills every element the request's `DRMSystem`s ask for with the
/// signalling castguard's origin writes for the key.
fn fill(
    s: &AppState,
    doc: &mut Document,
    values: &[(Uuid, ContentKeyValue, ContentKeyType)],
) -> ApiResult<()> {
    let base = s
        .delivery()
        .config()
        .public_base_url
        .trim_end_matches('/')
        .to_string();
    let mut full: Vec<DrmSystem> = Vec::new();
    for (kid, value, key_type) in values {
        let ck = cenc::ContentKey {
            kid: cenc::KeyId(*kid.as_bytes()),
            key: cenc::Key::new(*value.expose()),
        };
        let key_id = ck.kid;
        let scheme = doc
            .content_keys
            .iter()
            .find(|k| k.kid == *kid)
            .and_then(|k| k.common_encryption_scheme.as_deref());
        let (protection, dash) = match key_type {
            ContentKeyType::EnvelopeEncryption => (
                Protection::aes128(ck, format!("{base}/keys/v1/aes/{kid}")),
                false,
            ),
            ContentKeyType::CommonEncryption => {
                let scheme = match scheme {
                    Some("cbcs") => cenc::Scheme::Cbcs,
                    _ => cenc::Scheme::Cenc,
                };
                let urls = LicenseUrls {
                    widevine: Some(format!("{base}/keys/v1/widevine?kid={{kid_uuid}}")),
                    playready: Some(format!("{base}/keys/v1/playready?kid={{kid_uuid}}")),
                    clearkey: Some(format!("{base}/keys/v1/clearkey")),
                    fairplay: None,
                };
                let drm = media::protect::DrmSystems {
                    widevine: true,
                    playready: true,
                    clearkey: true,
                    fairplay: scheme == cenc::Scheme::Cbcs,
                    playready_la_url: urls.playready.clone(),
                    widevine_provider: None,
                };
                let c = CommonEncryption {
                    scheme,
                    keys: TrackKeys::one(ck),
                    drm,
                    urls,
                };
                (Protection::Common(c), true)
            }
        };
        let signalling = protection
            .key_signalling(key_id)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal("a SPEKE key has no signalling"))?;
        add_signalling(&mut full, *kid, &signalling, dash, true)?;
        if !dash {
            continue;
        }
        // What the origin's manifests do not carry but a SPEKE encryptor
        // may ask for: a DASH element for the W3C Common system (its
        // `pssh` and the Clear Key license URL) and PlayReady's Smooth
        // Streaming protection header (the PlayReady Object, base64).
        let clearkey_url = format!("{base}/keys/v1/clearkey");
        if let Some(d) = full
            .iter_mut()
            .find(|d| d.system_id == speke::W3C_COMMON && d.kid == *kid)
            && d.content_protection_data.is_none()
        {
            let sys = manifest::DrmSystem {
                system_id: *speke::W3C_COMMON.as_bytes(),
                name: None,
                pssh_box: d.pssh.clone(),
                playready_pro: None,
                license_url: Some(clearkey_url),
            };
            d.content_protection_data =
                Some(manifest::dash::content_protection_fragment(&sys).into_bytes());
        }
        let pro = signalling
            .dash
            .iter()
            .flat_map(|p| &p.systems)
            .find(|d| d.system_id == *speke::PLAYREADY.as_bytes())
            .and_then(|d| d.playready_pro.clone());
        if let (Some(pro), Some(d)) = (
            pro,
            full.iter_mut()
                .find(|d| d.system_id == speke::PLAYREADY && d.kid == *kid),
        ) {
            d.smooth_streaming_protection_header_data =
                Some(base64::engine::general_purpose::STANDARD.encode(pro));
        }
    }
    for want in &mut doc.drm_systems {
        let system = if speke::is_aes128(want.system_id) {
            AES128_SYSTEM_ID
        } else {
            want.system_id
        };
        let (sid, kid) = (want.system_id, want.kid);
        let have = full.iter().find(|d| d.system_id == system && d.kid == kid);
        let missing = |element: &str| {
            ApiError::bad_request(
                format!("DRMSystem {sid} {kid}: {element}"),
                "castguard has no such signalling for this DRM system and key",
            )
        };
        let take = |asked: &Option<Vec<u8>>,
                    got: Option<&Option<Vec<u8>>>,
                    element: &str|
         -> ApiResult<Option<Vec<u8>>> {
            match asked {
                None => Ok(None),
                Some(_) => got
                    .and_then(Clone::clone)
                    .map(Some)
                    .ok_or_else(|| missing(element)),
            }
        };
        want.pssh = take(&want.pssh, have.map(|h| &h.pssh), "PSSH")?;
        want.content_protection_data = take(
            &want.content_protection_data,
            have.map(|h| &h.content_protection_data),
            "ContentProtectionData",
        )?;
        want.uri_ext_x_key = take(
            &want.uri_ext_x_key,
            have.map(|h| &h.uri_ext_x_key),
            "URIExtXKey",
        )?;
        want.hls_signaling_master = take(
            &want.hls_signaling_master,
            have.map(|h| &h.hls_signaling_master),
            "HLSSignalingData playlist=master",
        )?;
        want.hls_signaling_media = take(
            &want.hls_signaling_media,
            have.map(|h| &h.hls_signaling_media),
            "HLSSignalingData playlist=media",
        )?;
        if want.smooth_streaming_protection_header_data.is_some() {
            want.smooth_streaming_protection_header_data = Some(
                have.and_then(|h| h.smooth_streaming_protection_header_data.clone())
                    .ok_or_else(|| missing("SmoothStreamingProtectionHeaderData"))?,
            );
        }
    }
    Ok(())
}
