//! CPIX export and import (DASH-IF CPIX 2.3, the document model in
//! [`keys::cpix`]):
//! - `GET /api/v1/streaming-locators/{name}/cpix`: the locator's keys as
//!   `PlainValue`s; `POST` of the same path with a recipient's X.509
//!   certificate (PEM or DER) as the body: the keys encrypted for it. A
//!   POST because a certificate (1–2 KB of PEM) does not belong in a query
//!   string, and because the locator's other actions that hand out key
//!   material (`list-content-keys`) are POSTs too. Both carry, per key,
//!   the signalling the origin's own manifests carry for that locator
//!   (the same `pssh` boxes, DASH `ContentProtection`, HLS `EXT-X-KEY` and
//!   `EXT-X-SESSION-KEY`, built by `media::setup`), and usage rules by
//!   track class (AUDIO, SD, HD, UHD1, UHD2 as `media::track_class`
//!   counts pixels).
//! - `POST /api/v1/import/cpix`: content keys from a CPIX document, created
//!   through the store's import (one transaction: every key or none).
//!   Beside `/import` rather than under `/content-keys/`, where the path
//!   would shadow a key named `import-cpix`. Values in the clear, or
//!   encrypted for castguard's own recipient certificate (below); XML
//!   signatures are verified, and with `?trustedSigner=` (a certificate's
//!   SHA-256) required to come from that certificate. Documents encrypted
//!   for another recipient are decrypted by the CLI
//!   (`castguard key import --recipient-key`), so that recipient's private
//!   key never travels to the server.
//! - `GET /api/v1/cpix/recipient-certificate`: castguard's recipient
//!   certificate (PEM) for vendors to encrypt for. Its RSA-3072 key pair is
//!   made on first use and kept only as a sealed server secret
//!   ([`RECIPIENT_SECRET`]); the private key is never returned.
//!
//! The keys of a locator are those its variants encrypt with (its
//! `contentKeys`, or its default policy's keys), as the origin resolves
//! them.

use crate::delivery::resolve::{self, Variant};
use crate::error::{ApiError, ApiResult};
use crate::extract::{EntityName, parse_flag};
use crate::openapi::schemas;
use crate::{AppState, auth::Admin};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use keys::cpix::{
    ContentKeyEntry, ContentKeyPeriod, CpixError, Document, DrmSystem, Filter, Recipient,
    RecipientIdentity, TrustedSigner, UsageRule, VerifiedSignature, VideoFilter,
};
use keys::model::{ContentKey, ContentKeyType, ContentKeyWithValue, TRACK_CLASSES, validate_name};
use media::manifest::{self, HlsKey};
use media::setup::{KeySignalling, Protection, TrackClass, TrackKeys};
use media::track_class::{HD_MAX_PIXELS, SD_MAX_PIXELS, UHD1_MAX_PIXELS};
use serde::Serialize;
use std::collections::HashMap;
use store::{ImportItem, Imported, StoreError};
use uuid::Uuid;

/// The server secret holding castguard's CPIX recipient key pair and
/// certificate.
pub const RECIPIENT_SECRET: &str = "cpix-recipient";
const RECIPIENT_SUBJECT: &str = "CN=castguard CPIX recipient";

/// castguard's recipient identity: the stored one, or, on first use, a new
/// one stored (compare-and-swap: when two nodes race, both end with the
/// one that was written first).
pub async fn recipient_identity(s: &AppState) -> ApiResult<RecipientIdentity> {
    for _ in 0..3 {
        if let Some(secret) = s.store().get_secret(RECIPIENT_SECRET).await? {
            return RecipientIdentity::from_stored(&secret.value)
                .map_err(|e| ApiError::internal(e.to_string()));
        }
        let id = tokio::task::spawn_blocking(|| RecipientIdentity::generate(RECIPIENT_SUBJECT))
            .await
            .map_err(|_| ApiError::internal("recipient key generation stopped"))?
            .map_err(|e| ApiError::internal(e.to_string()))?;
        if s.store()
            .put_secret(RECIPIENT_SECRET, &id.to_stored(), None)
            .await?
        {
            tracing::info!("created the CPIX recipient key pair");
            return Ok(id);
        }
    }
    Err(ApiError::internal(
        "the CPIX recipient key pair changed while it was being read",
    ))
}

#[utoipa::path(get, path = "/api/v1/cpix/recipient-certificate", tag = "import",
    operation_id = "getCpixRecipientCertificate",
    responses((status = 200, description = "castguard's self-signed X.509 certificate (PEM, RSA-3072): encrypt a CPIX document for it (DeliveryData) and POST it to /api/v1/import/cpix as it is. Made on first use; its private key never leaves the server", body = schemas::Certificate, content_type = "application/x-pem-file"),
        (status = 401, body = schemas::Error)))]
pub async fn recipient_certificate(_: Admin, State(s): State<AppState>) -> ApiResult<Response> {
    let id = recipient_identity(&s).await?;
    let pem = id
        .certificate_pem()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response())
}

/// Largest CPIX request body (a certificate, or a document to import).
pub const CPIX_BODY_LIMIT: usize = keys::cpix::xml::MAX_DOCUMENT_BYTES;

/// DASH-IF's system ID for HLS AES-128 envelope encryption with a clear
/// key (dashif.org/identifiers/content_protection: "Clear Key AES-128").
pub(crate) const AES128_SYSTEM_ID: Uuid = Uuid::from_u128(0x3ea8778f_7742_4bf9_b18b_e834b2acbd47);

pub(crate) fn cpix_error(e: CpixError) -> ApiError {
    match e {
        CpixError::TooLarge { max } => ApiError::PayloadTooLarge { limit: max as u64 },
        CpixError::Invalid { element, reason } => ApiError::bad_request(element, reason),
        CpixError::Crypto(what) => ApiError::internal(what),
        other => ApiError::bad_request("", other.to_string()),
    }
}

#[utoipa::path(get, path = "/api/v1/streaming-locators/{name}/cpix", tag = "streaming-locators",
    operation_id = "exportStreamingLocatorCpix", params(schemas::Name),
    responses((status = 200, description = "CPIX 2.3 document with the locator's keys in the clear (PlainValue), their DRM signalling and usage rules", body = schemas::CpixDocument, content_type = "application/xml"),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error), (status = 404, body = schemas::Error)))]
pub async fn export_plain(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
) -> ApiResult<Response> {
    export(&s, &name, None).await
}

#[utoipa::path(post, path = "/api/v1/streaming-locators/{name}/cpix", tag = "streaming-locators",
    operation_id = "exportStreamingLocatorCpixEncrypted", params(schemas::Name),
    request_body(content = schemas::Certificate, content_type = "application/octet-stream", description = "The recipient's X.509 certificate, PEM or DER, as the raw body (any Content-Type, e.g. application/x-pem-file), with an RSA key of at least 2048 bits"),
    responses((status = 200, description = "CPIX 2.3 document with the keys encrypted for the recipient (DeliveryDataList: RSA-OAEP document key, AES-256-CBC values, HMAC-SHA512 MACs)", body = schemas::CpixDocument, content_type = "application/xml"),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error), (status = 404, body = schemas::Error),
        (status = 413, body = schemas::Error)))]
pub async fn export_encrypted(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
    body: Bytes,
) -> ApiResult<Response> {
    let recipient = Recipient::from_certificate(&body)
        .map_err(|e| ApiError::bad_request("body", e.to_string()))?;
    export(&s, &name, Some(&recipient)).await
}

async fn export(s: &AppState, name: &str, recipient: Option<&Recipient>) -> ApiResult<Response> {
    let locator = s.store().get_streaming_locator(name).await?;
    let id = locator.streaming_locator_id.ok_or_else(|| {
        ApiError::internal(format!(
            "streaming locator '{name}' has no streamingLocatorId"
        ))
    })?;
    let d = s.delivery();
    let local_root = d.media.local_root().unwrap_or(s.data_dir());
    let resolved = resolve::locator(d, s.store(), local_root, id, &d.config().public_base_url)
        .await
        .map_err(|e| match e {
            crate::delivery::error::DeliveryError::NotFound => ApiError::NotFound {
                message: format!(
                    "streaming locator '{name}': its asset, policy or keys are missing"
                ),
                field: None,
            },
            other => ApiError::internal(other),
        })?;
    let mut plans = Vec::new();
    for v in [Variant::Cenc, Variant::Cbcs, Variant::Aes128] {
        if let Some(p) = resolved.variant(v) {
            plans.push((v, p));
        }
    }
    let mut doc = Document {
        content_id: Some(name.to_string()),
        ..Document::default()
    };
    // KID -> the schemes that use it.
    let mut schemes: HashMap<Uuid, Vec<&'static str>> = HashMap::new();
    // A rotated locator: every key period's keys (stored first, as the
    // origin stores them before its manifests name them), each period a
    // `ContentKeyPeriod` its keys' usage rules name (CPIX §5.4, §5.3.3).
    let mut periods: Vec<(&Variant, &resolve::VariantPlan, Option<String>, Protection)> = Vec::new();
    for (v, plan) in &plans {
        let Some(rotation) = plan.rotation else {
            periods.push((v, *plan, None, plan.protection.clone()));
            continue;
        };
        // Periods are counted in the asset's media, which must be there.
        let no_media = |e: crate::delivery::error::DeliveryError| match e {
            crate::delivery::error::DeliveryError::NotFound => ApiError::NotFound {
                message: format!("streaming locator '{name}' rotates keys, but its asset has no media yet"),
                field: None,
            },
            other => ApiError::internal(other),
        };
        crate::delivery::rotation::ensure_period_keys(s, &resolved, rotation)
            .await
            .map_err(no_media)?;
        let total = crate::delivery::rotation::period_total(s, &resolved, rotation)
            .await
            .map_err(no_media)?;
        for p in 0..total {
            let id = format!("keyPeriod_{p}");
            if !doc.periods.iter().any(|k| k.id == id) {
                doc.periods.push(ContentKeyPeriod { id: id.clone(), index: Some(u64::from(p)) });
            }
            periods.push((v, *plan, Some(id), media::rotation::period_protection(&plan.protection, p)));
        }
    }
    for (v, plan, period, protection) in &periods {
        let kids: Vec<cenc::KeyId> = match protection {
            Protection::Clear => Vec::new(),
            Protection::Common(c) => c.keys.all().map(|k| k.kid).collect(),
            Protection::Aes128 { keys } => keys.all().map(|k| k.key.kid).collect(),
        };
        for kid in kids {
            let uuid = Uuid::from_bytes(kid.0);
            let used = schemes.entry(uuid).or_default();
            if !used.contains(&v.as_str()) {
                used.push(v.as_str());
            }
            if !doc.content_keys.iter().any(|k| k.kid == uuid) {
                let stored = s.store().get_content_key_by_key_id(uuid).await?;
                doc.content_keys.push(ContentKeyEntry {
                    kid: uuid,
                    value: Some(stored.value),
                    common_encryption_scheme: None,
                    explicit_iv: None,
                });
            }
            let signalling = protection
                .key_signalling(kid)
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::internal("a key of the plan has no signalling"))?;
            add_signalling(&mut doc.drm_systems, uuid, &signalling, plan.dash, plan.hls)?;
        }
        let period = period.as_deref();
        match protection {
            Protection::Clear => {}
            Protection::Common(c) => usage_rules(&mut doc.usage_rules, &c.keys, period, |k| k.kid),
            Protection::Aes128 { keys } => usage_rules(&mut doc.usage_rules, keys, period, |k| k.key.kid),
        }
    }
    for k in &mut doc.content_keys {
        if let Some([one]) = schemes.get(&k.kid).map(Vec::as_slice)
            && (*one == "cenc" || *one == "cbcs")
        {
            k.common_encryption_scheme = Some((*one).to_string());
        }
    }
    let xml = doc.to_xml(recipient).map_err(cpix_error)?;
    tracing::info!(locator = %name, keys = doc.content_keys.len(), encrypted = recipient.is_some(), "CPIX export");
    Ok(([(header::CONTENT_TYPE, "application/xml")], xml).into_response())
}

/// Adds to `list` the `DRMSystem`s of key `kid` that `signalling` makes:
/// with `dash`, its `pssh` boxes and DASH `ContentProtection` elements;
/// with `hls`, its `EXT-X-KEY` URI and lines. The same signalling the
/// origin writes into manifests (CPIX export and the SPEKE key provider
/// both hand it out).
pub(crate) fn add_signalling(
    list: &mut Vec<DrmSystem>,
    kid: Uuid,
    signalling: &KeySignalling,
    dash: bool,
    hls: bool,
) -> ApiResult<()> {
    if dash {
        for (system, pssh) in signalling.pssh_boxes().map_err(ApiError::internal)? {
            let d = drm_system(list, Uuid::from_bytes(system), kid);
            d.pssh.get_or_insert(pssh);
        }
        for sys in signalling.dash.iter().flat_map(|p| &p.systems) {
            let d = drm_system(list, Uuid::from_bytes(sys.system_id), kid);
            if d.content_protection_data.is_none() {
                d.name = sys.name.clone();
                d.content_protection_data =
                    Some(manifest::dash::content_protection_fragment(sys).into_bytes());
            }
        }
    }
    if hls {
        for k in &signalling.hls_keys {
            let d = drm_system(list, hls_system(k), kid);
            if d.hls_signaling_media.is_none() {
                d.uri_ext_x_key = Some(k.uri.clone().into_bytes());
                d.hls_signaling_media = Some(manifest::hls::key_line(k).into_bytes());
                d.hls_signaling_master = Some(manifest::hls::session_key_line(k).into_bytes());
            }
        }
    }
    Ok(())
}

/// The DRM system of an HLS key, by its `KEYFORMAT`.
fn hls_system(k: &HlsKey) -> Uuid {
    match k.keyformat.as_deref() {
        Some(manifest::KEYFORMAT_WIDEVINE) => Uuid::from_bytes(cenc::pssh::WIDEVINE),
        Some(manifest::KEYFORMAT_PLAYREADY) => Uuid::from_bytes(cenc::pssh::PLAYREADY),
        Some(manifest::KEYFORMAT_FAIRPLAY) => Uuid::from_bytes(cenc::pssh::FAIRPLAY),
        _ => AES128_SYSTEM_ID,
    }
}

/// The `DRMSystem` of (`system`, `kid`), added when missing.
pub(crate) fn drm_system(list: &mut Vec<DrmSystem>, system: Uuid, kid: Uuid) -> &mut DrmSystem {
    let i = match list
        .iter()
        .position(|d| d.system_id == system && d.kid == kid)
    {
        Some(i) => i,
        None => {
            list.push(DrmSystem {
                system_id: system,
                kid,
                ..DrmSystem::default()
            });
            list.len() - 1
        }
    };
    &mut list[i]
}

/// The filter of a track class, by the pixel counts of `media::track_class`.
fn class_filter(c: TrackClass) -> Filter {
    let video = |min: Option<u64>, max: Option<u64>| {
        Filter::Video(VideoFilter {
            min_pixels: min,
            max_pixels: max,
            ..VideoFilter::default()
        })
    };
    match c {
        TrackClass::Audio => Filter::Audio {
            min_channels: None,
            max_channels: None,
        },
        TrackClass::Sd => video(None, Some(SD_MAX_PIXELS)),
        TrackClass::Hd => video(Some(SD_MAX_PIXELS + 1), Some(HD_MAX_PIXELS)),
        TrackClass::Uhd1 => video(Some(HD_MAX_PIXELS + 1), Some(UHD1_MAX_PIXELS)),
        TrackClass::Uhd2 => video(Some(UHD1_MAX_PIXELS + 1), None),
    }
}

/// Usage rules of a protection's keys: one key for every track gives one
/// rule without filters; keys per track class give a rule per class
/// (the default key takes the classes no class rule claims). Rules that
/// select by sample entry type have no CPIX filter and are left out.
/// With `period`, every rule also has a `KeyPeriodFilter` naming it.
fn usage_rules<K>(
    out: &mut Vec<UsageRule>,
    keys: &TrackKeys<K>,
    period: Option<&str>,
    kid: impl Fn(&K) -> cenc::KeyId,
) {
    let mut add = |mut rule: UsageRule| {
        if let Some(p) = period {
            rule.filters.insert(0, Filter::KeyPeriod { period_id: p.to_string() });
        }
        if !out.contains(&rule) {
            out.push(rule);
        }
    };
    let by_class: Vec<(TrackClass, Uuid)> = TrackClass::ALL
        .into_iter()
        .map(|c| {
            let k = keys
                .rules
                .iter()
                .find(|(sel, _)| sel.fourcc.is_none() && sel.class == Some(c))
                .map_or(&keys.default, |(_, k)| k);
            (c, Uuid::from_bytes(kid(k).0))
        })
        .collect();
    if by_class.iter().all(|(_, k)| *k == by_class[0].1) {
        add(UsageRule {
            kid: by_class[0].1,
            intended_track_type: None,
            filters: Vec::new(),
        });
        return;
    }
    for (c, k) in by_class {
        add(UsageRule {
            kid: k,
            intended_track_type: Some(c.as_str().to_string()),
            filters: vec![class_filter(c)],
        });
    }
}

/// One key of an import's answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportedKey {
    pub key_id: Uuid,
    pub name: String,
    /// `create`, or `exists` (the same KID and value were already stored).
    pub action: &'static str,
    /// The track class its usage rules give, kept as the key's `label`
    /// (for a streaming policy's `keyToTrackMappings`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Usage-rule filters castguard's key model cannot keep.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_kept: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportCpixResponse {
    pub dry_run: bool,
    pub keys: Vec<ImportedKey>,
    /// The document's XML signatures, all verified: what each covers and
    /// its signer's certificate (trusted when it is `trustedSigner`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<VerifiedSignature>,
    /// The content keys were encrypted for castguard's recipient
    /// certificate (and decrypted here, MACs checked first).
    pub encrypted: bool,
}

/// The track class a key's usage rules describe, when they describe
/// exactly one, and the filters that say more than a class.
fn class_of(doc: &Document, kid: Uuid) -> (Option<String>, Vec<String>) {
    let mut classes: Vec<String> = Vec::new();
    let mut not_kept = Vec::new();
    for r in doc.rules_for(kid) {
        let mut class = r
            .intended_track_type
            .clone()
            .filter(|t| TRACK_CLASSES.contains(&t.as_str()));
        for f in &r.filters {
            let exact = TrackClass::ALL.into_iter().find(|c| class_filter(*c) == *f);
            match (exact, f) {
                (Some(c), _) => {
                    class.get_or_insert_with(|| c.as_str().to_string());
                }
                (None, Filter::Audio { .. }) => {
                    class.get_or_insert_with(|| "AUDIO".into());
                    not_kept.push("AudioFilter channel bounds".to_string());
                }
                (None, Filter::Video(_)) => {
                    not_kept.push("VideoFilter (not one track class)".into())
                }
                (None, Filter::Label { label }) => not_kept.push(format!("LabelFilter {label}")),
                (None, Filter::Bitrate { .. }) => not_kept.push("BitrateFilter".into()),
                (None, Filter::KeyPeriod { period_id }) => {
                    not_kept.push(format!("KeyPeriodFilter {period_id}"))
                }
            }
        }
        if let Some(c) = class
            && !classes.contains(&c)
        {
            classes.push(c);
        }
    }
    if classes.len() > 1 {
        not_kept.push(format!(
            "track classes {} (one label per key)",
            classes.join(", ")
        ));
        return (None, not_kept);
    }
    (classes.pop(), not_kept)
}

#[utoipa::path(post, path = "/api/v1/import/cpix", tag = "import", operation_id = "importCpix",
    params(schemas::DryRun, schemas::PolicyName, schemas::TrustedSigner),
    request_body(content = schemas::CpixDocument, content_type = "application/xml", description = "A CPIX document with content key values in the clear or encrypted for castguard's recipient certificate (GET /api/v1/cpix/recipient-certificate); documents encrypted for another recipient are decrypted with `castguard key import --recipient-key`. XML signatures, when present, must all verify"),
    responses((status = 200, description = "The keys created (or, with dryRun, that would be)", body = schemas::ImportCpixResponse),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error), (status = 404, body = schemas::Error),
        (status = 409, body = schemas::Error), (status = 413, body = schemas::Error)))]
pub async fn import(
    _: Admin,
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> ApiResult<Json<ImportCpixResponse>> {
    let dry_run = parse_flag("dryRun", q.get("dryRun").map(String::as_str))?;
    if let Some(k) = q
        .keys()
        .find(|k| !matches!(k.as_str(), "dryRun" | "policyName" | "trustedSigner"))
    {
        return Err(ApiError::bad_request(k.as_str(), "unknown parameter"));
    }
    let policy = q.get("policyName").cloned();
    if let Some(p) = &policy {
        validate_name("policyName", p)?;
    }
    let trusted = q
        .get("trustedSigner")
        .map(|t| TrustedSigner::from_sha256_hex(t))
        .transpose()
        .map_err(cpix_error)?;
    // Clear values need no private key; only an encrypted document loads
    // (or, the first time, makes) castguard's recipient identity.
    let (doc, signatures, encrypted) = match Document::parse_verified(&body, None, trusted.as_ref())
    {
        Ok((d, sigs)) => (d, sigs, false),
        Err(CpixError::NeedsRecipientKey) => {
            let id = recipient_identity(&s).await?;
            match Document::parse_verified(&body, Some(id.key()), trusted.as_ref()) {
                Ok((d, sigs)) => (d, sigs, true),
                Err(CpixError::NotForThisRecipient) => {
                    return Err(ApiError::bad_request(
                        "DeliveryData",
                        "no DeliveryData is for castguard's recipient certificate (GET /api/v1/cpix/recipient-certificate): the document is encrypted for other recipients; decrypt it with `castguard key import --recipient-key KEY.pem` (the private key stays on your machine)",
                    ));
                }
                Err(other) => return Err(cpix_error(other)),
            }
        }
        Err(other) => return Err(cpix_error(other)),
    };
    let mut items = Vec::new();
    let mut out = Vec::new();
    for k in &doc.content_keys {
        let Some(value) = &k.value else {
            return Err(ApiError::bad_request(
                format!("ContentKey {}", k.kid),
                "has no value",
            ));
        };
        let (label, not_kept) = class_of(&doc, k.kid);
        match s.store().get_content_key_by_key_id(k.kid).await {
            Ok(existing) if existing.value == *value => {
                out.push(ImportedKey {
                    key_id: k.kid,
                    name: existing.key.name,
                    action: "exists",
                    label,
                    not_kept,
                });
                continue;
            }
            Ok(existing) => {
                return Err(ApiError::Conflict {
                    message: format!(
                        "ContentKey {}: content key '{}' already has this KID with another value; nothing was imported",
                        k.kid, existing.key.name
                    ),
                });
            }
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let name = k.kid.hyphenated().to_string();
        items.push(ImportItem::ContentKey(ContentKeyWithValue {
            key: ContentKey {
                name: name.clone(),
                key_id: k.kid,
                key_type: ContentKeyType::CommonEncryption,
                label: label.clone(),
                policy_name: policy.clone(),
                created: None,
                last_modified: None,
            },
            value: value.clone(),
        }));
        out.push(ImportedKey {
            key_id: k.kid,
            name,
            action: "create",
            label,
            not_kept,
        });
    }
    let done = match s.store().import(items, dry_run).await {
        Ok(done) => done,
        Err(StoreError::InImport { source, .. }) => return Err(ApiError::from(*source)),
        Err(e) => return Err(e.into()),
    };
    debug_assert!(done.iter().all(|d| matches!(d, Imported::ContentKey(_))));
    if !dry_run {
        tracing::info!(
            created = done.len(),
            listed = out.len(),
            encrypted,
            signatures = signatures.len(),
            "CPIX content keys imported"
        );
    }
    Ok(Json(ImportCpixResponse {
        dry_run,
        keys: out,
        signatures,
        encrypted,
    }))
}
