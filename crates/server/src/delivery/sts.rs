//! The token service over HTTP (issue 4, item 6), on [`keys::sts`]:
//! - `GET /sts/.well-known/openid-configuration` (OpenID Connect Discovery
//!   1.0 §4) and `GET /sts/jwks.json` (RFC 7517 §5): what relying parties,
//!   castguard's own OIDC-based token restrictions included, verify with;
//! - `POST /sts/token` (admin bearer): `{"claims":{...},"lifetimeSeconds":N}`
//!   → `{"token":"..."}`, an RS256 JWT with `iss` = `{public_base_url}/sts`.
//!
//! The key ring is kept in the store as the sealed secret [`STS_SECRET`]
//! (`Store::put_secret`: under the KEK, replaced by compare-and-swap), so a
//! restart keeps issued tokens valid and every node behind one database
//! signs with and publishes the same keys (issue 7): the current private
//! key as PKCS#8 and the retired public keys with the time until which they
//! stay published. A rotation on one node reaches the others through the
//! store's change events ([`Sts::reload`]). A key ring left in
//! `DATA_DIR/sts/keyring.json` by an earlier single-node version is
//! imported into the store once, at the first start that finds the store
//! without one.

use crate::AppState;
use crate::auth::Admin;
use crate::delivery::error::DeliveryError;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use keys::sts::{Issuer, RetiredKey, SigningAlg, SigningKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::Duration;
use store::Store;
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// Folder of the key ring of earlier versions under the data dir
/// (imported into the store once).
pub const STS_DIR: &str = "sts";
const KEYRING_FILE: &str = "keyring.json";
/// Name of the key ring in the store's secrets.
pub const STS_SECRET: &str = "sts.keyring";
/// Compare-and-swap attempts before giving up (only concurrent writers on
/// other nodes make one fail).
const CAS_ATTEMPTS: usize = 5;
/// Default lifetime of an issued token.
pub const DEFAULT_LIFETIME: u64 = 3600;
/// Longest lifetime `POST /sts/token` issues (a day); a rotation keeps the
/// old key published this long plus clock skew.
pub const MAX_LIFETIME: u64 = 86_400;

#[derive(Debug, thiserror::Error)]
pub enum StsSetupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{source_name}: not a castguard STS key ring: {detail}")]
    Format { source_name: String, detail: String },
    #[error("STS key ring in the store: {0}")]
    Store(#[from] store::StoreError),
    #[error("STS key ring: other nodes kept replacing it; try again")]
    Contended,
    #[error("STS key: {0}")]
    Key(#[from] keys::sts::StsError),
    #[error("STS setup task: {0}")]
    Task(String),
}

#[derive(Serialize, Deserialize)]
struct StoredRing {
    current: StoredKey,
    #[serde(default)]
    retired: Vec<StoredRetired>,
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    alg: String,
    /// PKCS#8 DER, base64.
    pkcs8: String,
}

impl Drop for StoredKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.pkcs8);
    }
}

#[derive(Serialize, Deserialize)]
struct StoredRetired {
    jwk: Value,
    #[serde(with = "time::serde::rfc3339")]
    retire_until: OffsetDateTime,
}

/// The server's token issuer with its key ring from the store.
#[derive(Debug)]
pub struct Sts {
    issuer: RwLock<Issuer>,
    /// The store version of the key ring `issuer` holds.
    version: std::sync::atomic::AtomicU64,
    issuer_url: String,
}

fn new_kid() -> Result<String, StsSetupError> {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).map_err(|e| StsSetupError::Task(format!("random kid: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// The issuer a stored key ring describes.
fn ring_from_json(
    bytes: &[u8],
    source_name: &str,
    issuer_url: String,
) -> Result<Issuer, StsSetupError> {
    let fmt = |detail: String| StsSetupError::Format {
        source_name: source_name.to_owned(),
        detail,
    };
    // Position only: serde's message may quote a value (the key).
    let ring: StoredRing = serde_json::from_slice(bytes)
        .map_err(|e| fmt(format!("invalid at line {} column {}", e.line(), e.column())))?;
    let alg = match ring.current.alg.as_str() {
        "RS256" => SigningAlg::Rs256,
        "ES256" => SigningAlg::Es256,
        other => return Err(fmt(format!("unsupported alg {other}"))),
    };
    let der = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(&ring.current.pkcs8)
            .map_err(|_| fmt("pkcs8 is not base64".into()))?,
    );
    let key = SigningKey::from_pkcs8_der(ring.current.kid.clone(), alg, &der)?;
    let mut issuer = Issuer::new(issuer_url, key);
    for r in ring.retired {
        issuer.keys.add_retired(RetiredKey {
            jwk: r.jwk,
            retire_until: r.retire_until,
        });
    }
    issuer.keys.prune(OffsetDateTime::now_utc());
    Ok(issuer)
}

fn ring_to_json(issuer: &Issuer) -> Result<Zeroizing<Vec<u8>>, StsSetupError> {
    let current = issuer.keys.current();
    let der = current
        .to_pkcs8_der()
        .ok_or_else(|| StsSetupError::Task("HS256 STS keys are not persisted".into()))?;
    let ring = StoredRing {
        current: StoredKey {
            kid: current.kid().to_owned(),
            alg: current.alg().as_str().to_owned(),
            pkcs8: base64::engine::general_purpose::STANDARD.encode(der.expose()),
        },
        retired: issuer
            .keys
            .retired()
            .iter()
            .map(|r| StoredRetired {
                jwk: r.jwk.clone(),
                retire_until: r.retire_until,
            })
            .collect(),
    };
    Ok(Zeroizing::new(
        serde_json::to_vec(&ring).map_err(|e| StsSetupError::Task(e.to_string()))?,
    ))
}

/// A key ring file of an earlier version and its bytes.
type LegacyRing = (PathBuf, Zeroizing<Vec<u8>>);

/// The key ring file of an earlier version, if there is one.
fn read_legacy(dir: &Path) -> Result<Option<LegacyRing>, StsSetupError> {
    let file = dir.join(KEYRING_FILE);
    match std::fs::read(&file) {
        Ok(bytes) => Ok(Some((file, Zeroizing::new(bytes)))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StsSetupError::Io { path: file, source }),
    }
}

impl Sts {
    /// Loads the key ring from `store`. When the store has none: imports
    /// `legacy_dir/keyring.json` if it exists, else creates a new RS256
    /// key; if another node stored a ring first, that one is used.
    pub async fn load_or_create(
        store: &dyn Store,
        legacy_dir: &Path,
        issuer_url: String,
    ) -> Result<Sts, StsSetupError> {
        for _ in 0..CAS_ATTEMPTS {
            if let Some(sts) = Sts::load(store, &issuer_url).await? {
                return Ok(sts);
            }
            let (bytes, origin) = match read_legacy(legacy_dir)? {
                Some((file, bytes)) => {
                    // Refuse to import what would not load.
                    ring_from_json(&bytes, &file.display().to_string(), issuer_url.clone())?;
                    (bytes, Some(file))
                }
                None => {
                    let key = SigningKey::generate_rs256(new_kid()?)?;
                    (ring_to_json(&Issuer::new(issuer_url.clone(), key))?, None)
                }
            };
            if store.put_secret(STS_SECRET, &bytes, None).await? {
                match origin {
                    Some(file) => {
                        tracing::info!(path = %file.display(), "imported the STS key ring into the store (the file is no longer used)")
                    }
                    None => tracing::info!("created the STS signing key"),
                }
            }
        }
        Err(StsSetupError::Contended)
    }

    /// The issuer of a key ring as stored (the store's secret
    /// [`STS_SECRET`], or an earlier version's `keyring.json`), for tools
    /// that only sign (`castguard token issue` offline).
    pub fn from_stored(
        bytes: &[u8],
        source_name: &str,
        issuer_url: String,
    ) -> Result<Sts, StsSetupError> {
        Ok(Sts {
            issuer: RwLock::new(ring_from_json(bytes, source_name, issuer_url.clone())?),
            version: 0.into(),
            issuer_url,
        })
    }

    async fn load(store: &dyn Store, issuer_url: &str) -> Result<Option<Sts>, StsSetupError> {
        let Some(secret) = store.get_secret(STS_SECRET).await? else {
            return Ok(None);
        };
        let issuer = ring_from_json(&secret.value, STS_SECRET, issuer_url.to_owned())?;
        Ok(Some(Sts {
            issuer: RwLock::new(issuer),
            version: secret.version.into(),
            issuer_url: issuer_url.to_owned(),
        }))
    }

    /// Takes the store's key ring if it changed (another node rotated).
    pub async fn reload(&self, store: &dyn Store) -> Result<(), StsSetupError> {
        use std::sync::atomic::Ordering;
        let Some(secret) = store.get_secret(STS_SECRET).await? else {
            return Ok(());
        };
        if secret.version == self.version.load(Ordering::Acquire) {
            return Ok(());
        }
        let issuer = ring_from_json(&secret.value, STS_SECRET, self.issuer_url.clone())?;
        *self.issuer.write().unwrap_or_else(|p| p.into_inner()) = issuer;
        self.version.store(secret.version, Ordering::Release);
        Ok(())
    }

    /// A separate [`Issuer`] with the same keys, for callers that mint
    /// with their own clock (the demo's expired token is issued in the
    /// past).
    pub fn issuer_copy(&self) -> Result<Issuer, StsSetupError> {
        let bytes = ring_to_json(&self.issuer.read().unwrap_or_else(|p| p.into_inner()))?;
        ring_from_json(&bytes, STS_SECRET, self.issuer_url.clone())
    }

    /// Mints a token with `claims` (plus `iss`, `iat`, `nbf`, `exp`).
    pub fn issue(
        &self,
        claims: Map<String, Value>,
        lifetime: Duration,
    ) -> Result<String, keys::sts::StsError> {
        self.issuer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .issue(claims, lifetime)
    }

    /// The issuer URL (`iss` of every token).
    pub fn issuer(&self) -> String {
        self.issuer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .issuer
            .clone()
    }

    pub fn jwks(&self) -> Value {
        self.issuer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .jwks(OffsetDateTime::now_utc())
    }

    pub fn discovery_document(&self) -> Value {
        self.issuer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .discovery_document()
    }

    /// The current public key as a v3 RSA token key (for a policy's
    /// `primaryVerificationKey`).
    pub fn rsa_token_key(&self) -> Option<keys::model::TokenKey> {
        let jwk = self
            .issuer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys
            .current()
            .public_jwk()?;
        let d = |f: &str| {
            jwk.get(f).and_then(Value::as_str).and_then(|s| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(s)
                    .ok()
            })
        };
        Some(keys::model::TokenKey::Rsa(keys::model::RsaTokenKey {
            exponent: d("e")?,
            modulus: d("n")?,
        }))
    }

    /// Replaces the signing key with a new RS256 key; the old public key
    /// stays in the JWKS for [`MAX_LIFETIME`] plus five minutes. Applied to
    /// the store's current ring (compare-and-swap), so a concurrent
    /// rotation on another node is kept, not overwritten.
    pub async fn rotate(&self, store: &dyn Store) -> Result<(), StsSetupError> {
        use std::sync::atomic::Ordering;
        for _ in 0..CAS_ATTEMPTS {
            let secret =
                store
                    .get_secret(STS_SECRET)
                    .await?
                    .ok_or_else(|| StsSetupError::Format {
                        source_name: STS_SECRET.into(),
                        detail: "missing from the store".into(),
                    })?;
            let mut issuer = ring_from_json(&secret.value, STS_SECRET, self.issuer_url.clone())?;
            let now = OffsetDateTime::now_utc();
            let until = now + time::Duration::seconds(MAX_LIFETIME as i64 + 300);
            issuer.keys.prune(now);
            issuer
                .keys
                .rotate(SigningKey::generate_rs256(new_kid()?)?, until);
            let bytes = ring_to_json(&issuer)?;
            if store
                .put_secret(STS_SECRET, &bytes, Some(secret.version))
                .await?
            {
                *self.issuer.write().unwrap_or_else(|p| p.into_inner()) = issuer;
                self.version.store(secret.version + 1, Ordering::Release);
                return Ok(());
            }
        }
        Err(StsSetupError::Contended)
    }
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/sts/.well-known/openid-configuration", get(discovery))
        .route("/sts/jwks.json", get(jwks))
}

/// `POST /sts/token`, apart so that the delivery guard covers it.
pub(crate) fn token_router() -> Router<AppState> {
    Router::new().route("/sts/token", post(token))
}

async fn sts(s: &AppState) -> Result<std::sync::Arc<Sts>, DeliveryError> {
    s.delivery().sts().await.map_err(DeliveryError::internal)
}

fn cached(mut res: Response, max_age: &'static str) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(max_age));
    res
}

async fn discovery(State(s): State<AppState>) -> Result<Response, DeliveryError> {
    Ok(cached(
        Json(sts(&s).await?.discovery_document()).into_response(),
        "public, max-age=300",
    ))
}

async fn jwks(State(s): State<AppState>) -> Result<Response, DeliveryError> {
    Ok(cached(
        Json(sts(&s).await?.jwks()).into_response(),
        "public, max-age=60",
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TokenRequest {
    #[serde(default)]
    claims: Map<String, Value>,
    lifetime_seconds: Option<u64>,
}

async fn token(
    _: Admin,
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<Response, DeliveryError> {
    // Checked before reading: no `100 Continue` for a body refused anyway.
    if crate::limits::refuse_before_continue(&headers, crate::JSON_BODY_LIMIT as u64) {
        return Err(DeliveryError::BodyTooLarge);
    }
    let body = axum::body::to_bytes(body, crate::JSON_BODY_LIMIT)
        .await
        .map_err(|_| DeliveryError::BadRequest {
            code: "invalid_request",
            field: "body",
        })?;
    let req: TokenRequest = crate::json::parse_unique(&body)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or(DeliveryError::BadRequest {
            code: "invalid_request",
            field: "body",
        })?;
    let lifetime = req.lifetime_seconds.unwrap_or(DEFAULT_LIFETIME);
    if lifetime == 0 || lifetime > MAX_LIFETIME {
        return Err(DeliveryError::BadRequest {
            code: "invalid_lifetime",
            field: "lifetimeSeconds",
        });
    }
    for reserved in ["iss", "iat", "nbf", "exp"] {
        if req.claims.contains_key(reserved) {
            return Err(DeliveryError::BadRequest {
                code: "reserved_claim",
                field: "claims",
            });
        }
    }
    let token = sts(&s)
        .await?
        .issue(req.claims, Duration::from_secs(lifetime))
        .map_err(|e| match e {
            keys::sts::StsError::MaxUsesLifetime => DeliveryError::BadRequest {
                code: "maxuses_lifetime",
                field: "lifetimeSeconds",
            },
            other => DeliveryError::internal(other),
        })?;
    Ok(cached(
        Json(serde_json::json!({"token": token})).into_response(),
        "no-store",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sqlite(dir: &Path) -> store::SqliteStore {
        store::SqliteStore::open(dir, store::Kek::from_bytes([3; 32]))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn key_ring_survives_a_restart_and_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let legacy = dir.path().join(STS_DIR);
        let st = sqlite(dir.path()).await;
        let a = Sts::load_or_create(&st, &legacy, "http://x/sts".into())
            .await
            .unwrap();
        let jwks = a.jwks();
        let b = Sts::load_or_create(&st, &legacy, "http://x/sts".into())
            .await
            .unwrap();
        assert_eq!(b.jwks(), jwks);
        b.rotate(&st).await.unwrap();
        st.close().await;
        let st = sqlite(dir.path()).await;
        let c = Sts::load_or_create(&st, &legacy, "http://x/sts".into())
            .await
            .unwrap();
        let keys = c.jwks()["keys"].as_array().unwrap().clone();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[1], jwks["keys"][0]);
        assert!(c.rsa_token_key().is_some());
        // a still signs with the old key until it reloads the rotated ring.
        assert_eq!(a.jwks(), jwks);
        a.reload(&st).await.unwrap();
        assert_eq!(a.jwks(), c.jwks());
        // Retired keys are kept public only.
        let ring = st.get_secret(STS_SECRET).await.unwrap().unwrap();
        let ring: StoredRing = serde_json::from_slice(&ring.value).unwrap();
        assert!(ring.retired.iter().all(|r| r.jwk.get("d").is_none()));
        assert!(!legacy.exists(), "nothing written to the data directory");
        st.close().await;
    }

    /// The upgrade path: a key ring file of a single-node install is
    /// imported once; later starts use the store's copy.
    #[tokio::test]
    async fn legacy_key_ring_is_imported_once() {
        let dir = tempfile::tempdir().unwrap();
        let legacy = dir.path().join(STS_DIR);
        std::fs::create_dir_all(&legacy).unwrap();
        let key = SigningKey::generate_rs256("old-kid").unwrap();
        let old = Issuer::new("http://x/sts", key);
        std::fs::write(
            legacy.join(KEYRING_FILE),
            ring_to_json(&old).unwrap().as_slice(),
        )
        .unwrap();
        let st = sqlite(dir.path()).await;
        let a = Sts::load_or_create(&st, &legacy, "http://x/sts".into())
            .await
            .unwrap();
        assert_eq!(a.jwks()["keys"][0]["kid"], "old-kid");
        assert_eq!(st.get_secret(STS_SECRET).await.unwrap().unwrap().version, 1);
        // The store's ring wins from now on, even over a changed file.
        a.rotate(&st).await.unwrap();
        let b = Sts::load_or_create(&st, &legacy, "http://x/sts".into())
            .await
            .unwrap();
        assert_eq!(b.jwks(), a.jwks());
        assert_ne!(b.jwks()["keys"][0]["kid"], "old-kid");
        // A broken file is refused, not imported.
        let dir2 = tempfile::tempdir().unwrap();
        let legacy2 = dir2.path().join(STS_DIR);
        std::fs::create_dir_all(&legacy2).unwrap();
        std::fs::write(legacy2.join(KEYRING_FILE), b"{}").unwrap();
        let st2 = sqlite(dir2.path()).await;
        assert!(matches!(
            Sts::load_or_create(&st2, &legacy2, "http://x/sts".into()).await,
            Err(StsSetupError::Format { .. })
        ));
        assert!(st2.get_secret(STS_SECRET).await.unwrap().is_none());
        st.close().await;
        st2.close().await;
    }
}
