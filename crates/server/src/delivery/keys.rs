//! Key and license delivery (issue 4, items 3–5): a key or license goes
//! only to a request whose token satisfies the key's content key policy.
//!
//! - `GET /keys/v1/aes/{kid}`: the 16-byte HLS AES-128 key (RFC 8216
//!   §4.3.2.4: "the key file … contains a cipher key that MUST be
//!   interpreted as a 16-octet binary blob"), `EnvelopeEncryption` keys only;
//! - `POST /keys/v1/clearkey`: W3C Encrypted Media Extensions §9.1.3 Clear
//!   Key license request `{"kids":[b64url],"type":"temporary"}` → JSON Web
//!   Key Set (RFC 7517) with the authorised `CommonEncryption` keys only;
//! - `POST /keys/v1/{widevine,playready,fairplay}?kid=`: authorise, then
//!   forward the challenge to the upstream license server of the chosen
//!   option (`licenseServerUrl`, `licenseServerHeaders`) and return its
//!   2xx status, type and body; any other answer is a 502 with our own
//!   code (`upstream_refused` for 4xx, else `upstream_failed`) and the
//!   upstream status as a number, nothing else of it. castguard holds no
//!   DRM credentials; the vendor's server builds the license. With a
//!   `vendor` on the option, the request also carries that vendor's
//!   authorization message (Axinom, DRMtoday, PallyCon, generic: built by
//!   [`keys::entitlement`] from the option's license template, the granted
//!   key and the token's `sub`), so the vendor licenses exactly what the
//!   policy granted (issue 20, docs/drm-vendors.md).
//!
//! Authorisation: the key's policy (its `policyName`, else its locator's
//! default), restricted to the options whose configuration fits the
//! endpoint (Clear Key for `aes`/`clearkey`, Widevine, PlayReady, FairPlay),
//! evaluated by [`keys::policy::evaluate`] with the verifier cache; then a
//! `maxuses` token is counted, atomically, by the node's
//! [`store::TokenUses`] (the database, or Redis shared by many nodes; 503
//! when it cannot be reached, never a grant). The token comes
//! from `Authorization: Bearer` or `?token=` (for players that cannot set
//! headers on key requests).
//!
//! Every decision is one `castguard::audit` log line: endpoint, policy,
//! option, key id, result, reason and client address. Never the token,
//! never a key. The same decision counts in the metrics
//! (`castguard_key_deliveries_total`, by endpoint, result and reason only).

use super::Delivery;
use super::error::DeliveryError;
use super::resolve::{self, DeliveryKey};
use crate::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, State,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use keys::entitlement;
use keys::model::{
    ContentKeyPolicyConfiguration, ContentKeyType, LicenseServerHeaders, LicenseVendor,
};
use keys::policy::{self, PreparedPolicy, Refusal};
use keys::token::Reason;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use uuid::Uuid;

/// Most key ids in one Clear Key license request.
pub const MAX_CLEARKEY_KIDS: usize = 32;
/// Largest upstream license response relayed.
pub const MAX_UPSTREAM_RESPONSE: usize = 1024 * 1024;
/// Bytes of a failed upstream answer written to the debug log.
const UPSTREAM_ERROR_LOGGED: usize = 256;

/// Which delivery endpoint a request came to; decides the key type and
/// the option configurations that may serve it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Aes,
    ClearKey,
    Widevine,
    PlayReady,
    FairPlay,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Aes => "aes",
            Endpoint::ClearKey => "clearkey",
            Endpoint::Widevine => "widevine",
            Endpoint::PlayReady => "playready",
            Endpoint::FairPlay => "fairplay",
        }
    }

    fn key_type(self) -> ContentKeyType {
        match self {
            Endpoint::Aes => ContentKeyType::EnvelopeEncryption,
            _ => ContentKeyType::CommonEncryption,
        }
    }

    fn fits(self, c: &ContentKeyPolicyConfiguration) -> bool {
        matches!(
            (self, c),
            (
                Endpoint::Aes | Endpoint::ClearKey,
                ContentKeyPolicyConfiguration::ClearKey
            ) | (
                Endpoint::Widevine,
                ContentKeyPolicyConfiguration::Widevine(_)
            ) | (
                Endpoint::PlayReady,
                ContentKeyPolicyConfiguration::PlayReady(_)
            ) | (
                Endpoint::FairPlay,
                ContentKeyPolicyConfiguration::FairPlay(_)
            )
        )
    }
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/keys/v1/aes/{kid}", get(aes))
        .route("/keys/v1/clearkey", post(clearkey))
        .route(
            "/keys/v1/widevine",
            post(|s, c, t, q, h, b| proxy(Endpoint::Widevine, s, c, t, q, h, b)),
        )
        .route(
            "/keys/v1/playready",
            post(|s, c, t, q, h, b| proxy(Endpoint::PlayReady, s, c, t, q, h, b)),
        )
        .route(
            "/keys/v1/fairplay",
            post(|s, c, t, q, h, b| proxy(Endpoint::FairPlay, s, c, t, q, h, b)),
        )
        .layer(DefaultBodyLimit::max(crate::limits::LICENSE_BODY_LIMIT))
}

/// The request body, or 413 beyond [`crate::limits::LICENSE_BODY_LIMIT`]
/// (read up to the limit only, never buffered whole; a larger declared
/// `Content-Length` with `Expect: 100-continue` is refused before reading,
/// without `100 Continue`).
pub struct LicenseBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for LicenseBody {
    type Rejection = DeliveryError;
    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        if crate::limits::refuse_before_continue(
            req.headers(),
            crate::limits::LICENSE_BODY_LIMIT as u64,
        ) {
            return Err(DeliveryError::BodyTooLarge);
        }
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(LicenseBody(b)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(DeliveryError::BodyTooLarge)
            }
            Err(_) => Err(DeliveryError::BadRequest {
                code: "invalid_license_request",
                field: "body",
            }),
        }
    }
}

/// The client address for the audit log: the socket peer, or behind a
/// trusted proxy the forwarded address (port 0) ([`crate::forwarded`]);
/// `-` when the server was not started with connect info, e.g. in
/// `oneshot` tests.
#[derive(Debug, Clone, Copy)]
pub struct Client(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let resolved = parts
            .extensions
            .get::<crate::forwarded::RequestOrigin>()
            .and_then(|o| o.client);
        Ok(Client(match (peer, resolved) {
            (Some(p), Some(ip)) if p.ip().to_canonical() != ip => Some(SocketAddr::new(ip, 0)),
            (p, _) => p,
        }))
    }
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(a) => write!(f, "{a}"),
            None => f.write_str("-"),
        }
    }
}

/// The viewer token: `Authorization: Bearer` first, else `?token=`.
/// Absent is not an error here: an open policy needs none.
#[derive(Default)]
pub struct ViewerToken(pub Option<String>);

impl std::fmt::Debug for ViewerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "ViewerToken(<redacted>)"
        } else {
            "ViewerToken(None)"
        })
    }
}

#[derive(Deserialize, Default)]
pub struct DeliveryQuery {
    token: Option<String>,
    kid: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ViewerToken {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(v) = parts.headers.get(header::AUTHORIZATION) {
            let v = v.as_bytes();
            let token = v
                .split_at_checked(7)
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(b"bearer "))
                .map(|(_, rest)| String::from_utf8_lossy(rest).trim().to_owned());
            // A non-bearer Authorization header gives an empty token:
            // refused as token_missing rather than silently ignored.
            return Ok(ViewerToken(Some(token.unwrap_or_default())));
        }
        let q: Result<Query<DeliveryQuery>, QueryRejection> =
            Query::from_request_parts(parts, state).await;
        Ok(ViewerToken(q.ok().and_then(|Query(q)| q.token)))
    }
}

/// The decisions on one key of one request: each is a `castguard::audit`
/// log line and a count in `castguard_key_deliveries_total` (same result
/// and reason).
struct Audit<'a> {
    metrics: &'a crate::metrics::Metrics,
    endpoint: Endpoint,
    kid: Uuid,
    client: Client,
}

impl Audit<'_> {
    fn log(
        &self,
        policy: Option<&str>,
        option: Option<&str>,
        result: &'static str,
        reason: &'static str,
    ) {
        self.metrics.key_decision(self.endpoint, result, reason);
        tracing::info!(
            target: "castguard::audit",
            endpoint = self.endpoint.as_str(),
            policy = policy.unwrap_or("-"),
            option = option.unwrap_or("-"),
            kid = %self.kid,
            result,
            reason,
            client = %self.client,
            "key delivery decision"
        );
    }
}

/// The options of `name` that can serve `endpoint`, from cache or store.
async fn endpoint_policy(
    d: &Delivery,
    store: &dyn store::Store,
    name: &str,
    endpoint: Endpoint,
) -> Result<Arc<PreparedPolicy>, DeliveryError> {
    let cache_key = (name.to_owned(), endpoint);
    if let Some(p) = d.policies.get(&cache_key) {
        return Ok(p);
    }
    let mut p = store.get_content_key_policy(name).await?;
    p.options.retain(|o| endpoint.fits(&o.configuration));
    let p = Arc::new(PreparedPolicy::new(p));
    d.policies.insert(cache_key, p.clone());
    Ok(p)
}

/// A granted request: the key, the policy and the option that allowed it.
pub struct Grant {
    pub key: Arc<DeliveryKey>,
    pub policy: Arc<PreparedPolicy>,
    pub option_index: usize,
    /// The verified token's `sub`, for the vendor's entitlement message.
    pub subject: Option<String>,
}

/// Decides whether `token` obtains key `kid` at `endpoint`; logs the
/// decision. Unknown keys (and keys of the wrong type) are 404.
pub async fn authorize(
    s: &AppState,
    endpoint: Endpoint,
    kid: Uuid,
    token: Option<&str>,
    client: Client,
) -> Result<Grant, DeliveryError> {
    let d = s.delivery();
    let audit = Audit {
        metrics: s.metrics(),
        endpoint,
        kid,
        client,
    };
    let key = match resolve::delivery_key(d, s.store(), kid).await {
        Err(DeliveryError::NotFound) => {
            audit.log(None, None, "not_found", "-");
            return Err(DeliveryError::NotFound);
        }
        other => other?,
    };
    if key.key.key.key_type != endpoint.key_type() {
        audit.log(None, None, "not_found", "key_type");
        return Err(DeliveryError::NotFound);
    }
    let deny = |policy: Option<&str>, option: Option<&str>, reason: Reason| {
        audit.log(policy, option, "denied", reason.as_str());
        DeliveryError::Refused(reason)
    };
    let Some(policy_name) = key.policy_name.as_deref() else {
        tracing::warn!(kid = %kid, "content key has no content key policy: never delivered");
        return Err(deny(None, None, Reason::KeyNotGranted));
    };
    let policy = match endpoint_policy(d, s.store(), policy_name, endpoint).await {
        Ok(p) => p,
        Err(DeliveryError::NotFound) => {
            tracing::warn!(kid = %kid, policy = policy_name, "content key policy does not exist");
            return Err(deny(Some(policy_name), None, Reason::KeyNotGranted));
        }
        Err(e) => return Err(e),
    };
    let now = time::OffsetDateTime::now_utc();
    let started = std::time::Instant::now();
    let evaluated = policy::evaluate(&policy, token, kid, &policy.verifiers(&d.verifiers), now).await;
    let verdict = match &evaluated {
        Ok(_) => "granted",
        Err(Refusal::Denied { .. }) => "denied",
        Err(_) => "error",
    };
    s.metrics().token_verification(verdict, started.elapsed());
    let decision = match evaluated {
        Ok(dec) => dec,
        Err(Refusal::Denied {
            reason,
            option_index,
        }) => {
            let option = option_index
                .and_then(|i| policy.options.get(i))
                .and_then(|o| o.name.as_deref());
            return Err(deny(Some(policy_name), option, reason));
        }
        Err(e @ Refusal::Unavailable { .. }) => {
            audit.log(Some(policy_name), None, "error", "unavailable");
            return Err(DeliveryError::Unavailable(e.to_string()));
        }
        Err(e @ Refusal::Misconfigured { .. }) => {
            audit.log(Some(policy_name), None, "error", "misconfigured");
            return Err(DeliveryError::internal(format!(
                "policy '{policy_name}': {e}"
            )));
        }
    };
    let option_index = decision.option_index;
    let subject = decision
        .token
        .as_ref()
        .and_then(|t| t.claims.get("sub"))
        .and_then(|s| s.as_str())
        .map(str::to_owned);
    let option_label = decision
        .option_name
        .clone()
        .unwrap_or_else(|| option_index.to_string());
    if let Some(r) = decision.max_uses {
        let allowed = match s
            .token_uses()
            .consume(&r.token_id, r.max_uses, r.expires_at)
            .await
        {
            Ok(allowed) => allowed,
            // Fail closed: a counter that cannot be reached never grants.
            Err(e) => {
                audit.log(
                    Some(policy_name),
                    Some(&option_label),
                    "error",
                    "replay_counter_unavailable",
                );
                return Err(DeliveryError::from(e));
            }
        };
        if !allowed {
            return Err(deny(
                Some(policy_name),
                Some(&option_label),
                Reason::ReplayExceeded,
            ));
        }
    }
    audit.log(Some(policy_name), Some(&option_label), "granted", "-");
    Ok(Grant {
        key,
        policy: policy.clone(),
        option_index,
        subject,
    })
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn parse_kid(s: &str) -> Option<Uuid> {
    // Hyphenated or 32 hex digits (the form of skd:// URIs).
    Uuid::try_parse(s).ok()
}

async fn aes(
    State(s): State<AppState>,
    client: Client,
    ViewerToken(token): ViewerToken,
    kid: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Response, DeliveryError> {
    let kid = kid
        .ok()
        .and_then(|Path(k)| parse_kid(&k))
        .ok_or(DeliveryError::NotFound)?;
    let grant = authorize(&s, Endpoint::Aes, kid, token.as_deref(), client).await?;
    let body = Bytes::copy_from_slice(grant.key.key.value.expose());
    Ok(no_store(
        ([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response(),
    ))
}

#[derive(Deserialize)]
struct ClearKeyRequestBody {
    kids: Vec<String>,
    #[serde(rename = "type", default)]
    license_type: Option<String>,
}

/// A W3C Clear Key license request (EME §9.1.3), checked: 1 to
/// [`MAX_CLEARKEY_KIDS`] key IDs, each base64url of 16 bytes, and the
/// `temporary` session type (the default when `type` is absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearKeyRequest {
    pub kids: Vec<Uuid>,
    pub license_type: &'static str,
}

impl ClearKeyRequest {
    /// Parses a request body; a refusal names the offending field.
    pub fn parse(body: &[u8]) -> Result<ClearKeyRequest, DeliveryError> {
        // Duplicate keys ({"kids":[a],"kids":[b]}) are refused, not resolved.
        let req: ClearKeyRequestBody = crate::json::parse_unique(body)
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or(DeliveryError::BadRequest {
                code: "invalid_license_request",
                field: "body",
            })?;
        let license_type = match req.license_type.as_deref().unwrap_or("temporary") {
            "temporary" => "temporary",
            // The Clear Key configuration has no license template that could
            // allow persistence.
            "persistent-license" => {
                return Err(DeliveryError::BadRequest {
                    code: "license_type_not_allowed",
                    field: "type",
                });
            }
            _ => {
                return Err(DeliveryError::BadRequest {
                    code: "invalid_license_request",
                    field: "type",
                });
            }
        };
        if req.kids.is_empty() || req.kids.len() > MAX_CLEARKEY_KIDS {
            return Err(DeliveryError::BadRequest {
                code: "invalid_license_request",
                field: "kids",
            });
        }
        let mut kids = Vec::with_capacity(req.kids.len());
        for k in &req.kids {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(k.trim_end_matches('='))
                .ok()
                .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok())
                .ok_or(DeliveryError::BadRequest {
                    code: "invalid_kid",
                    field: "kids",
                })?;
            kids.push(Uuid::from_bytes(bytes));
        }
        Ok(ClearKeyRequest { kids, license_type })
    }
}

fn b64url(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

async fn clearkey(
    State(s): State<AppState>,
    client: Client,
    ViewerToken(token): ViewerToken,
    LicenseBody(body): LicenseBody,
) -> Result<Response, DeliveryError> {
    let ClearKeyRequest { kids, license_type } = ClearKeyRequest::parse(&body)?;
    let mut keys = Vec::new();
    let mut refusal: Option<Reason> = None;
    for kid in kids {
        match authorize(&s, Endpoint::ClearKey, kid, token.as_deref(), client).await {
            Ok(g) => keys.push(serde_json::json!({
                "kty": "oct",
                "kid": b64url(kid.as_bytes()),
                "k": b64url(g.key.key.value.expose()),
            })),
            Err(DeliveryError::NotFound) => {}
            Err(DeliveryError::Refused(r)) => {
                refusal.get_or_insert(r);
            }
            Err(e) => return Err(e),
        }
    }
    if keys.is_empty() {
        return Err(refusal.map_or(DeliveryError::NotFound, DeliveryError::Refused));
    }
    let body = serde_json::json!({"keys": keys, "type": license_type});
    Ok(no_store(axum::Json(body).into_response()))
}

/// The upstream license server of a DRM configuration: URL, static
/// headers, vendor.
type Upstream<'a> = (&'a str, &'a LicenseServerHeaders, Option<&'a LicenseVendor>);

fn upstream_of(c: &ContentKeyPolicyConfiguration) -> Option<Upstream<'_>> {
    match c {
        ContentKeyPolicyConfiguration::Widevine(w) => w
            .license_server_url
            .as_deref()
            .map(|u| (u, &w.license_server_headers, w.vendor.as_ref())),
        ContentKeyPolicyConfiguration::PlayReady(p) => p
            .license_server_url
            .as_deref()
            .map(|u| (u, &p.license_server_headers, p.vendor.as_ref())),
        ContentKeyPolicyConfiguration::FairPlay(f) => f
            .license_server_url
            .as_deref()
            .map(|u| (u, &f.license_server_headers, f.vendor.as_ref())),
        _ => None,
    }
}

/// The vendor's authorization header for this grant: the option's license
/// template as rights, the granted key, the token's subject.
fn vendor_header(
    endpoint: Endpoint,
    vendor: &LicenseVendor,
    grant: &Grant,
    config: &ContentKeyPolicyConfiguration,
) -> Result<entitlement::VendorHeader, DeliveryError> {
    let drm = match endpoint {
        Endpoint::Widevine => entitlement::Drm::Widevine,
        Endpoint::PlayReady => entitlement::Drm::PlayReady,
        Endpoint::FairPlay => entitlement::Drm::FairPlay,
        Endpoint::Aes | Endpoint::ClearKey => {
            return Err(DeliveryError::internal("no vendor for a Clear Key endpoint"));
        }
    };
    let now = time::OffsetDateTime::now_utc();
    let failed = |e: entitlement::EntitlementError| {
        // The error names the vendor and what is wrong, never a secret.
        DeliveryError::internal(format!(
            "policy '{}' option {}: {e}",
            grant.policy.name, grant.option_index
        ))
    };
    let rights = entitlement::Rights::of(config, now).map_err(failed)?;
    let e = entitlement::Entitlement {
        drm,
        keys: vec![entitlement::GrantedKey {
            kid: grant.key.key.key.key_id,
            value: *grant.key.key.value.expose(),
        }],
        subject: grant.subject.clone(),
        rights,
        now,
    };
    entitlement::vendor_header(vendor, &e).map_err(failed)
}

async fn proxy(
    endpoint: Endpoint,
    State(s): State<AppState>,
    client: Client,
    ViewerToken(token): ViewerToken,
    query: Result<Query<DeliveryQuery>, QueryRejection>,
    headers: HeaderMap,
    LicenseBody(body): LicenseBody,
) -> Result<Response, DeliveryError> {
    let kid = query
        .ok()
        .and_then(|Query(q)| q.kid)
        .ok_or(DeliveryError::BadRequest {
            code: "kid_missing",
            field: "kid",
        })?;
    let kid = parse_kid(&kid).ok_or(DeliveryError::BadRequest {
        code: "invalid_kid",
        field: "kid",
    })?;
    if body.is_empty() {
        return Err(DeliveryError::BadRequest {
            code: "invalid_license_request",
            field: "body",
        });
    }
    let grant = authorize(&s, endpoint, kid, token.as_deref(), client).await?;
    let option = grant
        .policy
        .options
        .get(grant.option_index)
        .ok_or_else(|| DeliveryError::internal("option index out of range"))?;
    let (url, extra, vendor) = upstream_of(&option.configuration).ok_or_else(|| {
        DeliveryError::internal(format!(
            "policy '{}' option {}: no licenseServerUrl",
            grant.policy.name, grant.option_index
        ))
    })?;
    let mut req = s.delivery().http.post(url).body(body);
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        req = req.header(header::CONTENT_TYPE, ct.clone());
    }
    for (name, value) in &extra.0 {
        req = req.header(name.as_str(), value.expose());
    }
    if let Some(vendor) = vendor {
        let h = vendor_header(endpoint, vendor, &grant, &option.configuration)?;
        req = req.header(h.name.as_str(), h.value.as_str());
    }
    let res = req.send().await.map_err(|e| {
        DeliveryError::Upstream(format!("{}: {}", endpoint.as_str(), e.without_url()))
    })?;
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    if !status.is_success() {
        // The upstream's body, headers and Location are its own business:
        // they may name internal hosts or hold secrets. Its first bytes go
        // to the debug log for the operator.
        let head = ::keys::http::read_prefix(res, UPSTREAM_ERROR_LOGGED).await;
        tracing::debug!(
            endpoint = endpoint.as_str(),
            status = status.as_u16(),
            body = %String::from_utf8_lossy(&head).escape_debug(),
            "upstream license server refused"
        );
        tracing::warn!(
            endpoint = endpoint.as_str(),
            status = status.as_u16(),
            "upstream license server answered an error"
        );
        return Err(DeliveryError::UpstreamStatus {
            status: status.as_u16(),
        });
    }
    let content_type = res.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = ::keys::http::read_limited(res, MAX_UPSTREAM_RESPONSE)
        .await
        .map_err(|e| DeliveryError::Upstream(format!("{}: {e}", endpoint.as_str())))?;
    let mut out = (status, bytes).into_response();
    if let Some(ct) = content_type {
        out.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    Ok(no_store(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keys::model::WidevineConfiguration;

    #[test]
    fn endpoints_fit_their_configurations() {
        let wv = ContentKeyPolicyConfiguration::Widevine(WidevineConfiguration {
            widevine_template: None,
            license_server_url: Some("http://127.0.0.1:1/".into()),
            license_server_headers: LicenseServerHeaders::default(),
            vendor: None,
        });
        assert!(Endpoint::Aes.fits(&ContentKeyPolicyConfiguration::ClearKey));
        assert!(Endpoint::ClearKey.fits(&ContentKeyPolicyConfiguration::ClearKey));
        assert!(!Endpoint::Widevine.fits(&ContentKeyPolicyConfiguration::ClearKey));
        assert!(Endpoint::Widevine.fits(&wv));
        assert!(!Endpoint::PlayReady.fits(&wv));
        assert!(!Endpoint::ClearKey.fits(&wv));
        assert_eq!(Endpoint::Aes.key_type(), ContentKeyType::EnvelopeEncryption);
        assert_eq!(
            Endpoint::FairPlay.key_type(),
            ContentKeyType::CommonEncryption
        );
    }

    #[test]
    fn kids_in_both_forms() {
        let u = Uuid::from_u128(0x0011_2233_4455_6677_8899_aabb_ccdd_eeff);
        assert_eq!(parse_kid("00112233-4455-6677-8899-aabbccddeeff"), Some(u));
        assert_eq!(parse_kid("00112233445566778899aabbccddeeff"), Some(u));
        assert_eq!(parse_kid("../etc/passwd"), None);
    }

    #[test]
    fn clearkey_request_bodies() {
        let kid = b64url(&[7u8; 16]);
        let one = ClearKeyRequest {
            kids: vec![Uuid::from_bytes([7u8; 16])],
            license_type: "temporary",
        };
        for body in [
            format!(r#"{{"kids":["{kid}"]}}"#),
            format!(r#"{{"kids":["{kid}=="],"type":"temporary"}}"#),
        ] {
            assert_eq!(
                ClearKeyRequest::parse(body.as_bytes()).unwrap(),
                one,
                "{body}"
            );
        }
        let many = format!(
            r#"{{"kids":[{}]}}"#,
            vec![format!("\"{kid}\""); 33].join(",")
        );
        for (body, want_code, want_field) in [
            ("[]".to_string(), "invalid_license_request", "body"),
            (
                format!(r#"{{"kids":["{kid}"],"type":"persistent-license"}}"#),
                "license_type_not_allowed",
                "type",
            ),
            (
                format!(r#"{{"kids":["{kid}"],"type":"x"}}"#),
                "invalid_license_request",
                "type",
            ),
            (
                r#"{"kids":[]}"#.to_string(),
                "invalid_license_request",
                "kids",
            ),
            (many, "invalid_license_request", "kids"),
            (r#"{"kids":["AAEC"]}"#.to_string(), "invalid_kid", "kids"),
            (
                format!(r#"{{"kids":["{kid}"],"kids":["{kid}"]}}"#),
                "invalid_license_request",
                "body",
            ),
        ] {
            match ClearKeyRequest::parse(body.as_bytes()) {
                Err(DeliveryError::BadRequest { code, field }) => {
                    assert_eq!((code, field), (want_code, want_field), "{body}")
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn viewer_token_debug_is_redacted() {
        assert!(!format!("{:?}", ViewerToken(Some("eyJsecret".into()))).contains("eyJ"));
    }
}
