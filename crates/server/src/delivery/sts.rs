//! The token service over HTTP (issue 4, item 6), on [`keys::sts`]:
//! - `GET /sts/.well-known/openid-configuration` (OpenID Connect Discovery
//!   1.0 §4) and `GET /sts/jwks.json` (RFC 7517 §5): what relying parties,
//!   castguard's own OIDC-based token restrictions included, verify with;
//! - `POST /sts/token` (admin bearer): `{"claims":{...},"lifetimeSeconds":N}`
//!   → `{"token":"..."}`, an RS256 JWT with `iss` = `{public_base_url}/sts`.
//!
//! The key ring is persisted in `DATA_DIR/sts/keyring.json` (mode 0600,
//! written to a temporary file and renamed) so a restart keeps issued
//! tokens valid: the current private key as PKCS#8 and the retired public
//! keys with the time until which they stay published.

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
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::Duration;
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// Folder of the key ring under the data dir.
pub const STS_DIR: &str = "sts";
const KEYRING_FILE: &str = "keyring.json";
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
    #[error("{path}: not a castguard STS key ring: {detail}")]
    Format { path: PathBuf, detail: String },
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

/// The server's token issuer with its persisted key ring.
#[derive(Debug)]
pub struct Sts {
    issuer: RwLock<Issuer>,
    file: PathBuf,
}

fn new_kid() -> Result<String, StsSetupError> {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).map_err(|e| StsSetupError::Task(format!("random kid: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

impl Sts {
    /// Loads `dir/keyring.json`, or creates a new RS256 key there.
    pub fn load_or_create(dir: &Path, issuer_url: String) -> Result<Sts, StsSetupError> {
        let file = dir.join(KEYRING_FILE);
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| StsSetupError::Io { path, source }
        };
        match std::fs::read(&file) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                let fmt = |detail: String| StsSetupError::Format {
                    path: file.clone(),
                    detail,
                };
                // Position only: serde's message may quote a value (the key).
                let ring: StoredRing = serde_json::from_slice(&bytes).map_err(|e| {
                    fmt(format!(
                        "invalid at line {} column {}",
                        e.line(),
                        e.column()
                    ))
                })?;
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
                Ok(Sts {
                    issuer: RwLock::new(issuer),
                    file,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
                let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
                let key = SigningKey::generate_rs256(new_kid()?)?;
                let sts = Sts {
                    issuer: RwLock::new(Issuer::new(issuer_url, key)),
                    file,
                };
                sts.save()?;
                tracing::info!(path = %sts.file.display(), "created the STS signing key");
                Ok(sts)
            }
            Err(e) => Err(io(&file)(e)),
        }
    }

    fn save(&self) -> Result<(), StsSetupError> {
        let issuer = self.issuer.read().unwrap_or_else(|p| p.into_inner());
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
        drop(issuer);
        let json = Zeroizing::new(
            serde_json::to_vec_pretty(&ring).map_err(|e| StsSetupError::Task(e.to_string()))?,
        );
        let tmp = self.file.with_extension("json.tmp");
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| StsSetupError::Io { path, source }
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(&tmp))?;
        f.write_all(&json).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, &self.file).map_err(io(&self.file))?;
        Ok(())
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
    /// stays in the JWKS for [`MAX_LIFETIME`] plus five minutes.
    pub fn rotate(&self) -> Result<(), StsSetupError> {
        let next = SigningKey::generate_rs256(new_kid()?)?;
        {
            let mut issuer = self.issuer.write().unwrap_or_else(|p| p.into_inner());
            let until =
                OffsetDateTime::now_utc() + time::Duration::seconds(MAX_LIFETIME as i64 + 300);
            issuer.keys.prune(OffsetDateTime::now_utc());
            issuer.keys.rotate(next, until);
        }
        self.save()
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
    body: axum::body::Bytes,
) -> Result<Response, DeliveryError> {
    let req: TokenRequest =
        serde_json::from_slice(&body).map_err(|_| DeliveryError::BadRequest {
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

    #[test]
    fn key_ring_survives_a_restart_and_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("sts");
        let a = Sts::load_or_create(&d, "http://x/sts".into()).unwrap();
        let mode = std::fs::metadata(d.join(KEYRING_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let jwks = a.jwks();
        let b = Sts::load_or_create(&d, "http://x/sts".into()).unwrap();
        assert_eq!(b.jwks(), jwks);
        b.rotate().unwrap();
        let c = Sts::load_or_create(&d, "http://x/sts".into()).unwrap();
        let keys = c.jwks()["keys"].as_array().unwrap().clone();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[1], jwks["keys"][0]);
        assert!(c.rsa_token_key().is_some());
        assert!(
            !std::fs::read_to_string(d.join(KEYRING_FILE))
                .unwrap()
                .contains("\"d\"")
        );
    }
}
