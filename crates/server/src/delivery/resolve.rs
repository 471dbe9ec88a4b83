//! From a streaming locator to what the origin serves: which variants
//! (`clear`, `cenc`, `cbcs`, `aes128`) exist, for which protocols, with which
//! key and signalling.
//!
//! The v3 streaming policy decides (DESIGN.md "Data model"): `noEncryption`
//! gives `clear`; `commonEncryptionCenc` gives `cenc` (ISO/IEC 23001-7 §10.1)
//! and `commonEncryptionCbcs` gives `cbcs` (§10.4), each signalling Clear Key
//! (W3C common PSSH, DASH-IF `ClearKey1.0` with `dashif:Laurl`) plus the DRM
//! systems the policy's `drm` names; `envelopeEncryption` gives `aes128`
//! (RFC 8216 §4.3.2.4, HLS only). `enabledProtocols` picks DASH and/or HLS.
//!
//! Keys come from the locator's `contentKeys` (by `type` when given, else
//! by the stored key's type: `CommonEncryption` for cenc/cbcs,
//! `EnvelopeEncryption` for aes128) or, when it lists none, from the keys of
//! its default content key policy. License URLs point at this server's key
//! delivery unless the policy gives a custom template, whose
//! `{ContentKeyId}`, `{AlternativeMediaId}` and `{AssetAlternativeId}` are
//! filled in here.

use super::Delivery;
use super::error::DeliveryError;
use keys::model::{
    ContentKeyType, ContentKeyWithValue, EnabledProtocols, StreamingLocator,
    StreamingLocatorContentKeyType, StreamingPolicy,
};
use media::package::{CommonEncryption, LicenseUrls, Protection};
use media::protect::DrmSystems;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

/// The encryption named by the second path segment of `/s/{locator}/{variant}/...`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    Clear,
    Cenc,
    Cbcs,
    Aes128,
}

impl Variant {
    pub const ALL: [Variant; 4] = [
        Variant::Clear,
        Variant::Cenc,
        Variant::Cbcs,
        Variant::Aes128,
    ];

    pub fn parse(s: &str) -> Option<Variant> {
        match s {
            "clear" => Some(Variant::Clear),
            "cenc" => Some(Variant::Cenc),
            "cbcs" => Some(Variant::Cbcs),
            "aes128" => Some(Variant::Aes128),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Clear => "clear",
            Variant::Cenc => "cenc",
            Variant::Cbcs => "cbcs",
            Variant::Aes128 => "aes128",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One variant of a locator as served.
#[derive(Debug)]
pub struct VariantPlan {
    pub protection: Protection,
    pub dash: bool,
    pub hls: bool,
    /// Digest of everything besides the asset that decides the bytes
    /// (locator, variant, key ids, license URLs): part of every ETag.
    pub tag: [u8; 32],
}

/// A locator with its asset folder and variants.
#[derive(Debug)]
pub struct ResolvedLocator {
    pub id: Uuid,
    pub start_time: Option<OffsetDateTime>,
    pub end_time: Option<OffsetDateTime>,
    /// The asset record's `storage.path` (relative, checked): where its
    /// media live in the media store.
    pub asset_path: String,
    /// `asset_path` below the local media root (used when media are local).
    pub asset_dir: PathBuf,
    variants: [Option<VariantPlan>; 4],
    /// Per-track protection built on first use and kept as long as this
    /// resolution is cached (so a changed key is picked up with it).
    pub(crate) setups: super::origin::SetupCache,
}

impl ResolvedLocator {
    pub fn variant(&self, v: Variant) -> Option<&VariantPlan> {
        self.variants.get(v.index()).and_then(Option::as_ref)
    }

    pub fn is_active_at(&self, now: OffsetDateTime) -> bool {
        self.start_time.is_none_or(|s| now >= s) && self.end_time.is_none_or(|e| now < e)
    }
}

/// A content key as key delivery needs it: value and the policy that
/// authorises it (its own `policyName`, else its locator's default).
#[derive(Debug)]
pub struct DeliveryKey {
    pub key: ContentKeyWithValue,
    pub policy_name: Option<String>,
}

/// The locator with this id, from cache or store; `data_dir` is the root
/// of local asset folders.
pub async fn locator(
    d: &Delivery,
    store: &dyn store::Store,
    data_dir: &Path,
    id: Uuid,
) -> Result<Arc<ResolvedLocator>, DeliveryError> {
    if let Some(r) = d.locators.get(&id) {
        return Ok(r);
    }
    let loc = store.get_streaming_locator_by_id(id).await?;
    let policy = store
        .get_streaming_policy(&loc.streaming_policy_name)
        .await?;
    let asset = store.get_asset(&loc.asset_name).await?;
    let rel = Path::new(&asset.storage.path);
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(DeliveryError::internal(format!(
            "asset '{}': storage.path is not a relative folder",
            asset.name
        )));
    }
    let keys = locator_keys(store, &loc).await?;
    let ctx = Ctx {
        base: &d.config.public_base_url,
        locator_id: id,
        alternative_media_id: loc.alternative_media_id.as_deref(),
        asset_alternate_id: asset.alternate_id.as_deref(),
    };
    let variants = Variant::ALL.map(|v| plan(v, &policy, &loc, &keys, &ctx));
    let r = Arc::new(ResolvedLocator {
        id,
        start_time: loc.start_time,
        end_time: loc.end_time,
        asset_dir: data_dir.join(rel),
        asset_path: asset.storage.path.clone(),
        variants,
        setups: Default::default(),
    });
    d.locators.insert(id, r.clone());
    Ok(r)
}

/// The locator's keys with values: its `contentKeys`, or the keys of its
/// default content key policy when it lists none.
async fn locator_keys(
    store: &dyn store::Store,
    loc: &StreamingLocator,
) -> Result<Vec<(Option<StreamingLocatorContentKeyType>, ContentKeyWithValue)>, DeliveryError> {
    let mut out = Vec::new();
    for k in &loc.content_keys {
        match store.get_content_key_by_key_id(k.id).await {
            Ok(v) => out.push((k.key_type, v)),
            Err(store::StoreError::NotFound { .. }) => {
                tracing::warn!(locator = %loc.name, kid = %k.id, "locator names a content key that does not exist")
            }
            Err(e) => return Err(e.into()),
        }
    }
    if loc.content_keys.is_empty()
        && let Some(policy) = &loc.default_content_key_policy_name
    {
        let mut page = store::Page::first(1000);
        // Bounded: at most 100 pages of keys are scanned.
        for _ in 0..100 {
            let res = store.list_content_keys(&page).await?;
            for k in res
                .items
                .iter()
                .filter(|k| k.policy_name.as_deref() == Some(policy.as_str()))
            {
                out.push((None, store.get_content_key_by_key_id(k.key_id).await?));
            }
            match res.next_after {
                Some(next) => page = store::Page::after(next, 1000),
                None => break,
            }
        }
    }
    Ok(out)
}

struct Ctx<'a> {
    base: &'a str,
    locator_id: Uuid,
    alternative_media_id: Option<&'a str>,
    asset_alternate_id: Option<&'a str>,
}

impl Ctx<'_> {
    fn fill(&self, template: &str, kid: Uuid) -> String {
        template
            .replace("{ContentKeyId}", &kid.to_string())
            .replace(
                "{AlternativeMediaId}",
                self.alternative_media_id
                    .unwrap_or(&self.locator_id.to_string()),
            )
            .replace(
                "{AssetAlternativeId}",
                self.asset_alternate_id.unwrap_or(""),
            )
    }

    fn url(&self, template: Option<&String>, kid: Uuid, default: String) -> String {
        match template {
            Some(t) => self.fill(t, kid),
            None => default,
        }
    }
}

fn pick(
    keys: &[(Option<StreamingLocatorContentKeyType>, ContentKeyWithValue)],
    wanted: StreamingLocatorContentKeyType,
    stored: ContentKeyType,
) -> Option<&ContentKeyWithValue> {
    keys.iter()
        .find(|(t, _)| *t == Some(wanted))
        .or_else(|| {
            keys.iter()
                .find(|(t, k)| t.is_none() && k.key.key_type == stored)
        })
        .map(|(_, k)| k)
}

fn cenc_key(k: &ContentKeyWithValue) -> cenc::ContentKey {
    cenc::ContentKey {
        kid: cenc::KeyId(*k.key.key_id.as_bytes()),
        key: cenc::Key::new(*k.value.expose()),
    }
}

fn protocols(p: Option<EnabledProtocols>) -> (bool, bool) {
    let p = p.unwrap_or(EnabledProtocols::DASH_HLS);
    (p.dash, p.hls)
}

fn plan(
    v: Variant,
    policy: &StreamingPolicy,
    loc: &StreamingLocator,
    keys: &[(Option<StreamingLocatorContentKeyType>, ContentKeyWithValue)],
    ctx: &Ctx<'_>,
) -> Option<VariantPlan> {
    let base = ctx.base;
    let (protection, (dash, hls), urls): (Protection, (bool, bool), Vec<String>) = match v {
        Variant::Clear => {
            let n = policy.no_encryption.as_ref()?;
            (Protection::Clear, protocols(n.enabled_protocols), vec![])
        }
        Variant::Aes128 => {
            let e = policy.envelope_encryption.as_ref()?;
            let Some(k) = pick(
                keys,
                StreamingLocatorContentKeyType::EnvelopeEncryption,
                ContentKeyType::EnvelopeEncryption,
            ) else {
                tracing::warn!(locator = %loc.name, "envelopeEncryption without an EnvelopeEncryption key: aes128 not served");
                return None;
            };
            let kid = k.key.key_id;
            let uri = ctx.url(
                e.custom_key_acquisition_url_template.as_ref(),
                kid,
                format!("{base}/keys/v1/aes/{kid}"),
            );
            let (_, hls) = protocols(e.enabled_protocols);
            (
                Protection::Aes128 {
                    key: cenc_key(k),
                    key_uri: uri.clone(),
                },
                (false, hls),
                vec![uri],
            )
        }
        Variant::Cenc => {
            let c = policy.common_encryption_cenc.as_ref()?;
            let Some(k) = pick(
                keys,
                StreamingLocatorContentKeyType::CommonEncryptionCenc,
                ContentKeyType::CommonEncryption,
            ) else {
                tracing::warn!(locator = %loc.name, "commonEncryptionCenc without a CommonEncryption key: cenc not served");
                return None;
            };
            let kid = k.key.key_id;
            let drm = c.drm.as_ref();
            let wv = drm.and_then(|d| d.widevine.as_ref());
            let pr = drm.and_then(|d| d.play_ready.as_ref());
            let ck = c
                .clear_key_encryption_configuration
                .as_ref()
                .and_then(|c| c.custom_keys_acquisition_url_template.as_ref());
            let urls = LicenseUrls {
                widevine: wv.map(|w| {
                    ctx.url(
                        w.custom_license_acquisition_url_template.as_ref(),
                        kid,
                        format!("{base}/keys/v1/widevine?kid={kid}"),
                    )
                }),
                playready: pr.map(|p| {
                    ctx.url(
                        p.custom_license_acquisition_url_template.as_ref(),
                        kid,
                        format!("{base}/keys/v1/playready?kid={kid}"),
                    )
                }),
                clearkey: Some(ctx.url(ck, kid, format!("{base}/keys/v1/clearkey"))),
                fairplay: None,
            };
            let systems = DrmSystems {
                widevine: wv.is_some(),
                playready: pr.is_some(),
                clearkey: true,
                fairplay: false,
                playready_la_url: urls.playready.clone(),
                widevine_provider: None,
            };
            let list = [&urls.widevine, &urls.playready, &urls.clearkey]
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            let p = Protection::Common(CommonEncryption {
                scheme: cenc::Scheme::Cenc,
                key: cenc_key(k),
                audio_key: None,
                drm: systems,
                urls,
            });
            (p, protocols(c.enabled_protocols), list)
        }
        Variant::Cbcs => {
            let c = policy.common_encryption_cbcs.as_ref()?;
            let Some(k) = pick(
                keys,
                StreamingLocatorContentKeyType::CommonEncryptionCbcs,
                ContentKeyType::CommonEncryption,
            ) else {
                tracing::warn!(locator = %loc.name, "commonEncryptionCbcs without a CommonEncryption key: cbcs not served");
                return None;
            };
            let kid = k.key.key_id;
            let drm = c.drm.as_ref();
            let wv = drm.and_then(|d| d.widevine.as_ref());
            let pr = drm.and_then(|d| d.play_ready.as_ref());
            let fp = drm.and_then(|d| d.fair_play.as_ref());
            let ck = c
                .clear_key_encryption_configuration
                .as_ref()
                .and_then(|c| c.custom_keys_acquisition_url_template.as_ref());
            let urls = LicenseUrls {
                widevine: wv.map(|w| {
                    ctx.url(
                        w.custom_license_acquisition_url_template.as_ref(),
                        kid,
                        format!("{base}/keys/v1/widevine?kid={kid}"),
                    )
                }),
                playready: pr.map(|p| {
                    ctx.url(
                        p.custom_license_acquisition_url_template.as_ref(),
                        kid,
                        format!("{base}/keys/v1/playready?kid={kid}"),
                    )
                }),
                clearkey: Some(ctx.url(ck, kid, format!("{base}/keys/v1/clearkey"))),
                // The skd:// URI; players send the SPC to /keys/v1/fairplay?kid=.
                fairplay: fp
                    .and_then(|f| f.custom_license_acquisition_url_template.as_ref())
                    .map(|t| ctx.fill(t, kid)),
            };
            let systems = DrmSystems {
                widevine: wv.is_some(),
                playready: pr.is_some(),
                clearkey: true,
                fairplay: fp.is_some(),
                playready_la_url: urls.playready.clone(),
                widevine_provider: None,
            };
            let list = [
                &urls.widevine,
                &urls.playready,
                &urls.clearkey,
                &urls.fairplay,
            ]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
            let p = Protection::Common(CommonEncryption {
                scheme: cenc::Scheme::Cbcs,
                key: cenc_key(k),
                audio_key: None,
                drm: systems,
                urls,
            });
            (p, protocols(c.enabled_protocols), list)
        }
    };
    if !dash && !hls {
        return None;
    }
    let mut h = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    h.update(loc.streaming_locator_id.unwrap_or_default().as_bytes());
    h.update(v.as_str().as_bytes());
    if let Protection::Common(CommonEncryption { key, .. }) | Protection::Aes128 { key, .. } =
        &protection
    {
        h.update(&key.kid.0);
    }
    for u in &urls {
        h.update(&(u.len() as u64).to_be_bytes());
        h.update(u.as_bytes());
    }
    let mut tag = [0u8; 32];
    tag.copy_from_slice(h.finish().as_ref());
    Some(VariantPlan {
        protection,
        dash,
        hls,
        tag,
    })
}

/// The content key `kid` with the name of the policy that authorises it,
/// from cache or store. Keys without a `policyName` take the default
/// content key policy of a locator (or of its streaming policy) that uses
/// them.
pub async fn delivery_key(
    d: &Delivery,
    store: &dyn store::Store,
    kid: Uuid,
) -> Result<Arc<DeliveryKey>, DeliveryError> {
    if let Some(k) = d.keys.get(&kid) {
        return Ok(k);
    }
    let key = store.get_content_key_by_key_id(kid).await?;
    let policy_name = match &key.key.policy_name {
        Some(p) => Some(p.clone()),
        None => default_policy_for(store, kid).await?,
    };
    let k = Arc::new(DeliveryKey { key, policy_name });
    d.keys.insert(kid, k.clone());
    Ok(k)
}

async fn default_policy_for(
    store: &dyn store::Store,
    kid: Uuid,
) -> Result<Option<String>, DeliveryError> {
    let mut page = store::Page::first(1000);
    for _ in 0..100 {
        let res = store.list_streaming_locators(&page).await?;
        for loc in res
            .items
            .iter()
            .filter(|l| l.content_keys.iter().any(|k| k.id == kid))
        {
            if let Some(p) = &loc.default_content_key_policy_name {
                return Ok(Some(p.clone()));
            }
            if let Ok(sp) = store.get_streaming_policy(&loc.streaming_policy_name).await
                && let Some(p) = sp.default_content_key_policy_name
            {
                return Ok(Some(p));
            }
        }
        match res.next_after {
            Some(next) => page = store::Page::after(next, 1000),
            None => break,
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keys::model::{ContentKey, ContentKeyValue, predefined_streaming_policy};

    fn key(kid: u128, t: ContentKeyType) -> ContentKeyWithValue {
        ContentKeyWithValue {
            key: ContentKey {
                name: format!("k{kid}"),
                key_id: Uuid::from_u128(kid),
                key_type: t,
                label: None,
                policy_name: None,
                created: None,
                last_modified: None,
            },
            value: ContentKeyValue::new([kid as u8; 16]),
        }
    }

    fn locator() -> StreamingLocator {
        StreamingLocator {
            name: "loc".into(),
            asset_name: "a".into(),
            streaming_policy_name: "p".into(),
            default_content_key_policy_name: None,
            content_keys: vec![],
            start_time: None,
            end_time: None,
            streaming_locator_id: Some(Uuid::from_u128(99)),
            alternative_media_id: Some("movie-7".into()),
            created: None,
        }
    }

    fn ctx() -> Ctx<'static> {
        Ctx {
            base: "http://cdn.example",
            locator_id: Uuid::from_u128(99),
            alternative_media_id: Some("movie-7"),
            asset_alternate_id: None,
        }
    }

    #[test]
    fn predefined_policies_give_their_variants() {
        let keys = vec![
            (None, key(1, ContentKeyType::CommonEncryption)),
            (None, key(2, ContentKeyType::EnvelopeEncryption)),
        ];
        let has = |name: &str| {
            let p = predefined_streaming_policy(name).unwrap();
            Variant::ALL.map(|v| plan(v, &p, &locator(), &keys, &ctx()).map(|p| (p.dash, p.hls)))
        };
        assert_eq!(
            has("Predefined_ClearStreamingOnly"),
            [Some((true, true)), None, None, None]
        );
        assert_eq!(
            has("Predefined_ClearKey"),
            [None, None, None, Some((false, true))]
        );
        assert_eq!(
            has("Predefined_MultiDrmCencStreaming"),
            [None, Some((true, true)), None, None]
        );
        assert_eq!(
            has("Predefined_MultiDrmStreaming"),
            [None, Some((true, false)), Some((false, true)), None]
        );
        // Without keys nothing encrypted is served.
        let p = predefined_streaming_policy("Predefined_MultiDrmStreaming").unwrap();
        assert!(
            Variant::ALL
                .iter()
                .all(|v| plan(*v, &p, &locator(), &[], &ctx()).is_none())
        );
    }

    #[test]
    fn urls_and_templates() {
        let keys = vec![
            (None, key(1, ContentKeyType::CommonEncryption)),
            (None, key(2, ContentKeyType::EnvelopeEncryption)),
        ];
        let p = predefined_streaming_policy("Predefined_ClearKey").unwrap();
        let Protection::Aes128 { key_uri, key } =
            plan(Variant::Aes128, &p, &locator(), &keys, &ctx())
                .unwrap()
                .protection
        else {
            panic!("aes128")
        };
        assert_eq!(
            key_uri,
            format!("http://cdn.example/keys/v1/aes/{}", Uuid::from_u128(2))
        );
        assert_eq!(key.kid.0, *Uuid::from_u128(2).as_bytes());

        let mut p = predefined_streaming_policy("Predefined_MultiDrmCencStreaming").unwrap();
        if let Some(c) = &mut p.common_encryption_cenc
            && let Some(d) = &mut c.drm
            && let Some(w) = &mut d.widevine
        {
            w.custom_license_acquisition_url_template =
                Some("https://lic.example/{AlternativeMediaId}/wv/{ContentKeyId}".into());
        }
        let Protection::Common(c) = plan(Variant::Cenc, &p, &locator(), &keys, &ctx())
            .unwrap()
            .protection
        else {
            panic!("cenc")
        };
        assert_eq!(
            c.urls.widevine.as_deref(),
            Some(format!("https://lic.example/movie-7/wv/{}", Uuid::from_u128(1)).as_str())
        );
        assert_eq!(
            c.urls.clearkey.as_deref(),
            Some("http://cdn.example/keys/v1/clearkey")
        );
        assert!(
            c.urls
                .playready
                .as_deref()
                .unwrap()
                .starts_with("http://cdn.example/keys/v1/playready?kid=")
        );
        assert!(c.drm.clearkey && c.drm.widevine && c.drm.playready && !c.drm.fairplay);
    }

    #[test]
    fn typed_locator_keys_win() {
        let keys = vec![
            (None, key(1, ContentKeyType::CommonEncryption)),
            (
                Some(StreamingLocatorContentKeyType::CommonEncryptionCbcs),
                key(3, ContentKeyType::CommonEncryption),
            ),
        ];
        let p = predefined_streaming_policy("Predefined_MultiDrmStreaming").unwrap();
        let kid = |v| match plan(v, &p, &locator(), &keys, &ctx()).unwrap().protection {
            Protection::Common(c) => c.key.kid.0,
            _ => panic!(),
        };
        assert_eq!(kid(Variant::Cenc), *Uuid::from_u128(1).as_bytes());
        assert_eq!(kid(Variant::Cbcs), *Uuid::from_u128(3).as_bytes());
    }
}
