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
//!
//! Keys per track class: a scheme's `contentKeys.keyToTrackMappings` give
//! the tracks each selects (by `TrackClass` — AUDIO, SD, HD, UHD1, UHD2 —
//! and/or `FourCC`) the locator key whose label (`labelReferenceInStreamingPolicy`,
//! else the content key's own `label`) is the mapping's `label`. The
//! other tracks take the default key: the one `defaultKey.label` names,
//! else the first of the scheme's keys that no mapping names, else the
//! first key. A mapping whose label names no key of the locator stops
//! the variant from being served (its tracks would otherwise go out under
//! a key meant for others). License URLs are then per key (the
//! `{ContentKeyId}` of a template, the `?kid=` of ours).

use super::Delivery;
use super::error::DeliveryError;
use keys::model::{
    ContentKeyType, ContentKeyWithValue, EnabledProtocols, StreamingLocator,
    StreamingLocatorContentKeyType, StreamingPolicy, StreamingPolicyContentKeys,
    TrackPropertyType,
};
use media::package::{CommonEncryption, LicenseUrls, Protection};
use media::setup::{Aes128Key, TrackClass, TrackKeys, TrackSelector};
use media::protect::DrmSystems;
use media::rotation::KeyRotation;
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
    /// (locator, variant, key ids, license URLs, key rotation): part of
    /// every ETag.
    pub tag: [u8; 32],
    /// Digest of `tag` and the key values: what the origin's segment cache
    /// keys its entries by (with the asset and path), so bytes encrypted
    /// under a key are never served for another key of the same ID (a
    /// locator re-created with the same id after its key changed). Derived
    /// from secrets: never sent.
    pub bytes_tag: [u8; 32],
    /// The locator's key rotation: `None` for one key throughout.
    pub rotation: Option<KeyRotation>,
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
    /// This server's clock under the same base (DASH `UTCTiming` of live
    /// manifests).
    pub time_url: String,
    variants: [Option<VariantPlan>; 4],
    /// How many key periods have their keys in the store (see
    /// `delivery::rotation`): checked before a manifest of a rotated
    /// locator is served, so key delivery knows every key it names.
    pub(crate) periods_stored: std::sync::atomic::AtomicU32,
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
/// authorises it (its own `policyName`, else its key mapping's, else its
/// locator's default).
#[derive(Debug)]
pub struct DeliveryKey {
    pub key: ContentKeyWithValue,
    pub policy_name: Option<String>,
}

/// The locator with this id, from cache or store; `data_dir` is the root
/// of local asset folders, `base` the absolute base of the URLs its
/// manifests name (the public URL, or a trusted proxy's host): one cache
/// entry per (locator, base).
pub async fn locator(
    d: &Delivery,
    store: &dyn store::Store,
    data_dir: &Path,
    id: Uuid,
    base: &str,
) -> Result<Arc<ResolvedLocator>, DeliveryError> {
    let cache_key = (id, base.to_owned());
    if let Some(r) = d.locators.get(&cache_key) {
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
        base,
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
        time_url: format!("{base}/time"),
        variants,
        periods_stored: Default::default(),
        setups: Default::default(),
    });
    d.locators.insert(cache_key, r.clone());
    Ok(r)
}

/// A key of a locator: the scheme it is typed for, if any, and the label
/// the streaming policy's key mappings name it by.
#[derive(Debug)]
struct LocatorKey {
    key_type: Option<StreamingLocatorContentKeyType>,
    label: Option<String>,
    key: ContentKeyWithValue,
}

impl LocatorKey {
    fn new(key_type: Option<StreamingLocatorContentKeyType>, label: Option<&String>, key: ContentKeyWithValue) -> Self {
        let label = label.or(key.key.label.as_ref()).cloned();
        LocatorKey { key_type, label, key }
    }
}

/// The locator's keys with values: its `contentKeys`, or the keys of its
/// default content key policy when it lists none.
async fn locator_keys(
    store: &dyn store::Store,
    loc: &StreamingLocator,
) -> Result<Vec<LocatorKey>, DeliveryError> {
    let mut out = Vec::new();
    for k in &loc.content_keys {
        match store.get_content_key_by_key_id(k.id).await {
            Ok(v) => out.push(LocatorKey::new(k.key_type, k.label_reference_in_streaming_policy.as_ref(), v)),
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
            // Keys of later key periods belong to their locator's rotation.
            for k in res.items.iter().filter(|k| {
                k.policy_name.as_deref() == Some(policy.as_str())
                    && !k.name.starts_with(keys::model::PERIOD_KEY_PREFIX)
            })
            {
                out.push(LocatorKey::new(None, None, store.get_content_key_by_key_id(k.key_id).await?));
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
        self.fill_per_key(template).replace("{kid_uuid}", &kid.to_string())
    }

    /// `template` filled but for the key: `{ContentKeyId}` becomes the
    /// `{kid_uuid}` that [`LicenseUrls::for_kid`] fills per key.
    fn fill_per_key(&self, template: &str) -> String {
        template
            .replace("{ContentKeyId}", "{kid_uuid}")
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

    /// A license URL template for [`LicenseUrls`]: `{kid_uuid}` stays.
    fn url_per_key(&self, template: Option<&String>, default: String) -> String {
        match template {
            Some(t) => self.fill_per_key(t),
            None => default,
        }
    }
}

/// The keys of one scheme: the locator's keys typed for it, then its
/// untyped keys of the stored type `stored`.
fn scheme_keys(keys: &[LocatorKey], wanted: StreamingLocatorContentKeyType, stored: ContentKeyType) -> Vec<&LocatorKey> {
    keys.iter()
        .filter(|k| k.key_type == Some(wanted))
        .chain(keys.iter().filter(|k| k.key_type.is_none() && k.key.key.key_type == stored))
        .collect()
}

/// What a streaming policy's key mappings make of a scheme's keys: the
/// default key and, in mapping order, a key per selection. `None` when a
/// mapping names a label no key of the scheme has.
fn track_keys<'a>(
    loc: &StreamingLocator,
    candidates: &[&'a LocatorKey],
    mapping: Option<&StreamingPolicyContentKeys>,
) -> Option<TrackKeys<&'a LocatorKey>> {
    let first = *candidates.first()?;
    let Some(mapping) = mapping else {
        return Some(TrackKeys::one(first));
    };
    let by_label = |label: &str| candidates.iter().copied().find(|k| k.label.as_deref() == Some(label));
    let mut rules = Vec::new();
    for m in &mapping.key_to_track_mappings {
        let Some(label) = m.label.as_deref() else { continue };
        let Some(key) = by_label(label) else {
            tracing::warn!(locator = %loc.name, label, "keyToTrackMappings names a key label the locator does not have: variant not served");
            return None;
        };
        for t in &m.tracks {
            if let Some(select) = selector(&t.track_selections) {
                rules.push((select, key));
            }
        }
    }
    let mapped = |k: &LocatorKey| {
        mapping.key_to_track_mappings.iter().any(|m| m.label.is_some() && m.label == k.label)
    };
    let default = mapping
        .default_key
        .as_ref()
        .and_then(|d| d.label.as_deref())
        .and_then(by_label)
        .or_else(|| candidates.iter().copied().find(|k| !mapped(k)))
        .unwrap_or(first);
    Some(TrackKeys { default, rules })
}

/// The tracks one `trackSelections` list selects (all its conditions);
/// `None` when it can select none (conditions that contradict each other
/// or cannot be read).
fn selector(conditions: &[keys::model::TrackPropertyCondition]) -> Option<TrackSelector> {
    if conditions.is_empty() {
        return None;
    }
    let mut s = TrackSelector::default();
    for c in conditions {
        let value = c.value.as_deref()?;
        match c.property {
            TrackPropertyType::TrackClass => {
                let class = TrackClass::parse(value)?;
                if s.class.replace(class).is_some_and(|old| old != class) {
                    return None;
                }
            }
            TrackPropertyType::FourCC => {
                let fourcc: [u8; 4] = value.as_bytes().try_into().ok()?;
                if s.fourcc.replace(fourcc).is_some_and(|old| old != fourcc) {
                    return None;
                }
            }
            TrackPropertyType::Unknown => return None,
        }
    }
    Some(s)
}

/// `keys` with each key turned into what the protection holds.
fn map_keys<K>(keys: &TrackKeys<&LocatorKey>, f: impl Fn(&LocatorKey) -> K) -> TrackKeys<K> {
    TrackKeys { default: f(keys.default), rules: keys.rules.iter().map(|(s, k)| (*s, f(k))).collect() }
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
    keys: &[LocatorKey],
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
            let candidates = scheme_keys(
                keys,
                StreamingLocatorContentKeyType::EnvelopeEncryption,
                ContentKeyType::EnvelopeEncryption,
            );
            if candidates.is_empty() {
                tracing::warn!(locator = %loc.name, "envelopeEncryption without an EnvelopeEncryption key: aes128 not served");
                return None;
            }
            let chosen = track_keys(loc, &candidates, e.content_keys.as_ref())?;
            let keys = map_keys(&chosen, |k| {
                let kid = k.key.key.key_id;
                Aes128Key {
                    key: cenc_key(&k.key),
                    key_uri: ctx.url(
                        e.custom_key_acquisition_url_template.as_ref(),
                        kid,
                        format!("{base}/keys/v1/aes/{kid}"),
                    ),
                }
            });
            let urls = keys.all().map(|k| k.key_uri.clone()).collect();
            let (_, hls) = protocols(e.enabled_protocols);
            (Protection::Aes128 { keys }, (false, hls), urls)
        }
        Variant::Cenc => {
            let c = policy.common_encryption_cenc.as_ref()?;
            let candidates = scheme_keys(
                keys,
                StreamingLocatorContentKeyType::CommonEncryptionCenc,
                ContentKeyType::CommonEncryption,
            );
            if candidates.is_empty() {
                tracing::warn!(locator = %loc.name, "commonEncryptionCenc without a CommonEncryption key: cenc not served");
                return None;
            }
            let chosen = track_keys(loc, &candidates, c.content_keys.as_ref())?;
            let drm = c.drm.as_ref();
            let wv = drm.and_then(|d| d.widevine.as_ref());
            let pr = drm.and_then(|d| d.play_ready.as_ref());
            let ck = c
                .clear_key_encryption_configuration
                .as_ref()
                .and_then(|c| c.custom_keys_acquisition_url_template.as_ref());
            let urls = LicenseUrls {
                widevine: wv.map(|w| {
                    ctx.url_per_key(
                        w.custom_license_acquisition_url_template.as_ref(),
                        format!("{base}/keys/v1/widevine?kid={{kid_uuid}}"),
                    )
                }),
                playready: pr.map(|p| {
                    ctx.url_per_key(
                        p.custom_license_acquisition_url_template.as_ref(),
                        format!("{base}/keys/v1/playready?kid={{kid_uuid}}"),
                    )
                }),
                clearkey: Some(ctx.url_per_key(ck, format!("{base}/keys/v1/clearkey"))),
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
                keys: map_keys(&chosen, |k| cenc_key(&k.key)),
                drm: systems,
                urls,
            });
            (p, protocols(c.enabled_protocols), list)
        }
        Variant::Cbcs => {
            let c = policy.common_encryption_cbcs.as_ref()?;
            let candidates = scheme_keys(
                keys,
                StreamingLocatorContentKeyType::CommonEncryptionCbcs,
                ContentKeyType::CommonEncryption,
            );
            if candidates.is_empty() {
                tracing::warn!(locator = %loc.name, "commonEncryptionCbcs without a CommonEncryption key: cbcs not served");
                return None;
            }
            let chosen = track_keys(loc, &candidates, c.content_keys.as_ref())?;
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
                    ctx.url_per_key(
                        w.custom_license_acquisition_url_template.as_ref(),
                        format!("{base}/keys/v1/widevine?kid={{kid_uuid}}"),
                    )
                }),
                playready: pr.map(|p| {
                    ctx.url_per_key(
                        p.custom_license_acquisition_url_template.as_ref(),
                        format!("{base}/keys/v1/playready?kid={{kid_uuid}}"),
                    )
                }),
                clearkey: Some(ctx.url_per_key(ck, format!("{base}/keys/v1/clearkey"))),
                // The skd:// URI (cenc fills `{kid_uuid}` per key); players
                // send the SPC to /keys/v1/fairplay?kid=.
                fairplay: fp
                    .and_then(|f| f.custom_license_acquisition_url_template.as_ref())
                    .map(|t| ctx.fill_per_key(t)),
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
                keys: map_keys(&chosen, |k| cenc_key(&k.key)),
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
    // Every key and which tracks it encrypts decide the bytes.
    let kids: Vec<(Option<TrackSelector>, [u8; 16])> = match &protection {
        Protection::Clear => Vec::new(),
        Protection::Common(c) => key_digest(&c.keys, |k| k.kid.0),
        Protection::Aes128 { keys } => key_digest(keys, |k| k.key.kid.0),
    };
    for (select, kid) in &kids {
        match select {
            None => h.update(b"default"),
            Some(s) => {
                h.update(b"rule");
                h.update(s.class.map_or("", |c| c.as_str()).as_bytes());
                h.update(&s.fourcc.unwrap_or_default());
            }
        }
        h.update(kid);
    }
    for u in &urls {
        h.update(&(u.len() as u64).to_be_bytes());
        h.update(u.as_bytes());
    }
    let rotation = loc.key_rotation.and_then(|r| match (r.period_segments, r.period_seconds) {
        (Some(n), _) => Some(KeyRotation::Segments(n)),
        (None, Some(s)) => Some(KeyRotation::Seconds(s)),
        (None, None) => None,
    });
    let rotation = rotation.filter(|_| !matches!(protection, Protection::Clear));
    // An AES-128 key URI that does not name its key cannot name a period's
    // key either: every period would fetch period 0's key.
    if rotation.is_some()
        && let Protection::Aes128 { keys } = &protection
        && keys.all().any(|k| !k.key_uri.contains(&k.key.kid.to_string()))
    {
        tracing::warn!(locator = %loc.name, "keyRotation with a customKeyAcquisitionUrlTemplate without {{ContentKeyId}}: aes128 not served");
        return None;
    }
    match rotation {
        None => {}
        Some(KeyRotation::Segments(n)) => h.update(format!("rotate every {n} segments").as_bytes()),
        Some(KeyRotation::Seconds(n)) => h.update(format!("rotate every {n} s").as_bytes()),
    }
    let mut tag = [0u8; 32];
    tag.copy_from_slice(h.finish().as_ref());
    let mut h = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    h.update(b"castguard/origin/segment-cache/v1\0");
    h.update(&tag);
    match &protection {
        Protection::Clear => {}
        Protection::Common(c) => c.keys.all().for_each(|k| h.update(k.key.as_bytes())),
        Protection::Aes128 { keys } => keys.all().for_each(|k| h.update(k.key.key.as_bytes())),
    }
    let mut bytes_tag = [0u8; 32];
    bytes_tag.copy_from_slice(h.finish().as_ref());
    Some(VariantPlan {
        protection,
        dash,
        hls,
        tag,
        bytes_tag,
        rotation,
    })
}

fn key_digest<K>(keys: &TrackKeys<K>, kid: impl Fn(&K) -> [u8; 16]) -> Vec<(Option<TrackSelector>, [u8; 16])> {
    std::iter::once((None, kid(&keys.default)))
        .chain(keys.rules.iter().map(|(s, k)| (Some(*s), kid(k))))
        .collect()
}

/// The content key `kid` with the name of the policy that authorises it,
/// from cache or store. Keys without a `policyName` take, from a locator
/// that uses them, the `policyName` its streaming policy's key mapping (or
/// `defaultKey`) gives their label, else the locator's default content key
/// policy, else its streaming policy's.
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
        None => default_policy_for(store, kid, key.key.label.as_deref()).await?,
    };
    let k = Arc::new(DeliveryKey { key, policy_name });
    d.keys.insert(kid, k.clone());
    Ok(k)
}

async fn default_policy_for(
    store: &dyn store::Store,
    kid: Uuid,
    key_label: Option<&str>,
) -> Result<Option<String>, DeliveryError> {
    let mut page = store::Page::first(1000);
    for _ in 0..100 {
        let res = store.list_streaming_locators(&page).await?;
        for loc in res.items.iter() {
            let Some(k) = loc.content_keys.iter().find(|k| k.id == kid) else {
                continue;
            };
            let sp = store.get_streaming_policy(&loc.streaming_policy_name).await.ok();
            let label = k.label_reference_in_streaming_policy.as_deref().or(key_label);
            if let (Some(sp), Some(label)) = (&sp, label)
                && let Some(p) = mapped_policy(sp, label)
            {
                return Ok(Some(p.to_owned()));
            }
            if let Some(p) = &loc.default_content_key_policy_name {
                return Ok(Some(p.clone()));
            }
            if let Some(p) = sp.and_then(|sp| sp.default_content_key_policy_name) {
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

/// The `policyName` the streaming policy gives the key labelled `label`:
/// that of a `keyToTrackMappings` entry (or the `defaultKey`) with that
/// label, in any scheme.
fn mapped_policy<'a>(sp: &'a StreamingPolicy, label: &str) -> Option<&'a str> {
    let schemes = [
        sp.envelope_encryption.as_ref().and_then(|e| e.content_keys.as_ref()),
        sp.common_encryption_cenc.as_ref().and_then(|e| e.content_keys.as_ref()),
        sp.common_encryption_cbcs.as_ref().and_then(|e| e.content_keys.as_ref()),
    ];
    schemes.into_iter().flatten().find_map(|k| {
        k.key_to_track_mappings
            .iter()
            .find(|m| m.label.as_deref() == Some(label) && m.policy_name.is_some())
            .and_then(|m| m.policy_name.as_deref())
            .or_else(|| {
                k.default_key
                    .as_ref()
                    .filter(|d| d.label.as_deref() == Some(label))
                    .and_then(|d| d.policy_name.as_deref())
            })
    })
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
            key_rotation: None,
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
            LocatorKey::new(None, None, key(1, ContentKeyType::CommonEncryption)),
            LocatorKey::new(None, None, key(2, ContentKeyType::EnvelopeEncryption)),
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
            LocatorKey::new(None, None, key(1, ContentKeyType::CommonEncryption)),
            LocatorKey::new(None, None, key(2, ContentKeyType::EnvelopeEncryption)),
        ];
        let p = predefined_streaming_policy("Predefined_ClearKey").unwrap();
        let Protection::Aes128 { keys: aes } =
            plan(Variant::Aes128, &p, &locator(), &keys, &ctx())
                .unwrap()
                .protection
        else {
            panic!("aes128")
        };
        let Aes128Key { key_uri, key } = aes.default;
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
        let urls = c.urls.for_kid(c.keys.default.kid);
        assert_eq!(
            urls.widevine.as_deref(),
            Some(format!("https://lic.example/movie-7/wv/{}", Uuid::from_u128(1)).as_str())
        );
        assert_eq!(
            urls.clearkey.as_deref(),
            Some("http://cdn.example/keys/v1/clearkey")
        );
        assert_eq!(
            urls.playready,
            Some(format!("http://cdn.example/keys/v1/playready?kid={}", Uuid::from_u128(1)))
        );
        assert!(c.drm.clearkey && c.drm.widevine && c.drm.playready && !c.drm.fairplay);
    }

    #[test]
    fn typed_locator_keys_win() {
        let keys = vec![
            LocatorKey::new(None, None, key(1, ContentKeyType::CommonEncryption)),
            LocatorKey::new(
                Some(StreamingLocatorContentKeyType::CommonEncryptionCbcs),
                None,
                key(3, ContentKeyType::CommonEncryption),
            ),
        ];
        let p = predefined_streaming_policy("Predefined_MultiDrmStreaming").unwrap();
        let kid = |v| match plan(v, &p, &locator(), &keys, &ctx()).unwrap().protection {
            Protection::Common(c) => c.keys.default.kid.0,
            _ => panic!(),
        };
        assert_eq!(kid(Variant::Cenc), *Uuid::from_u128(1).as_bytes());
        assert_eq!(kid(Variant::Cbcs), *Uuid::from_u128(3).as_bytes());
    }

    fn labelled(kid: u128, label: &str) -> LocatorKey {
        LocatorKey::new(None, Some(&label.to_owned()), key(kid, ContentKeyType::CommonEncryption))
    }

    fn class_policy(mappings: serde_json::Value) -> StreamingPolicy {
        serde_json::from_value(serde_json::json!({
            "name": "classes",
            "commonEncryptionCenc": {
                "enabledProtocols": {"dash": true, "hls": true},
                "contentKeys": {"keyToTrackMappings": mappings}
            }
        }))
        .unwrap()
    }

    fn sel(property: &str, value: &str) -> serde_json::Value {
        serde_json::json!({"trackSelections": [{"property": property, "operation": "Equal", "value": value}]})
    }

    #[test]
    fn key_mappings_give_each_class_its_key() {
        let keys = vec![labelled(1, "audio"), labelled(2, "sd"), labelled(3, "hd"), labelled(4, "uhd")];
        let p = class_policy(serde_json::json!([
            {"label": "sd", "policyName": "P1", "tracks": [sel("TrackClass", "SD")]},
            {"label": "hd", "policyName": "P2", "tracks": [sel("TrackClass", "HD")]},
            {"label": "uhd", "tracks": [sel("TrackClass", "UHD1"), sel("TrackClass", "UHD2")]},
        ]));
        let plan = plan(Variant::Cenc, &p, &locator(), &keys, &ctx()).unwrap();
        let Protection::Common(c) = &plan.protection else { panic!("cenc") };
        let kid = |class, fourcc: &[u8; 4]| Uuid::from_bytes(c.keys.select(class, *fourcc).kid.0).as_u128();
        assert_eq!(kid(TrackClass::Sd, b"avc1"), 2);
        assert_eq!(kid(TrackClass::Hd, b"avc1"), 3);
        assert_eq!(kid(TrackClass::Uhd1, b"hvc1"), 4);
        assert_eq!(kid(TrackClass::Uhd2, b"hvc1"), 4);
        // The key no mapping names is the default.
        assert_eq!(kid(TrackClass::Audio, b"mp4a"), 1);
        // And at the sizes of a ladder.
        assert_eq!(kid(TrackClass::video(416, 234), b"avc1"), 2);
        assert_eq!(kid(TrackClass::video(1280, 720), b"avc1"), 3);
        assert_eq!(kid(TrackClass::video(3840, 2160), b"avc1"), 4);

        // Every key is in the tag: another HD key gives another tag.
        let other = vec![labelled(1, "audio"), labelled(2, "sd"), labelled(5, "hd"), labelled(4, "uhd")];
        let tag2 = super::plan(Variant::Cenc, &p, &locator(), &other, &ctx()).unwrap().tag;
        assert_ne!(plan.tag, tag2);
        // So is the mapping: SD and HD swapped gives another tag too.
        let swapped = class_policy(serde_json::json!([
            {"label": "hd", "tracks": [sel("TrackClass", "SD")]},
            {"label": "sd", "tracks": [sel("TrackClass", "HD")]},
        ]));
        let tag3 = super::plan(Variant::Cenc, &swapped, &locator(), &keys, &ctx()).unwrap().tag;
        assert_ne!(plan.tag, tag3);

        assert_eq!(mapped_policy(&p, "hd"), Some("P2"));
        assert_eq!(mapped_policy(&p, "sd"), Some("P1"));
        assert_eq!(mapped_policy(&p, "uhd"), None);
    }

    #[test]
    fn fourcc_and_class_conditions_combine() {
        let keys = vec![labelled(1, "base"), labelled(2, "hevc-hd")];
        let p = class_policy(serde_json::json!([{"label": "hevc-hd", "tracks": [{"trackSelections": [
            {"property": "FourCC", "operation": "Equal", "value": "hvc1"},
            {"property": "TrackClass", "operation": "Equal", "value": "HD"}]}]}]));
        let Protection::Common(c) = plan(Variant::Cenc, &p, &locator(), &keys, &ctx()).unwrap().protection else {
            panic!("cenc")
        };
        let kid = |class, fourcc: &[u8; 4]| c.keys.select(class, *fourcc).kid.0[15];
        assert_eq!(kid(TrackClass::Hd, b"hvc1"), 2);
        assert_eq!(kid(TrackClass::Hd, b"avc1"), 1);
        assert_eq!(kid(TrackClass::Sd, b"hvc1"), 1);
        // Contradicting conditions select nothing.
        assert!(selector(&serde_json::from_value::<Vec<keys::model::TrackPropertyCondition>>(serde_json::json!([
            {"property": "TrackClass", "operation": "Equal", "value": "SD"},
            {"property": "TrackClass", "operation": "Equal", "value": "HD"}])).unwrap()).is_none());
    }

    #[test]
    fn a_mapping_to_a_missing_key_is_not_served() {
        let keys = vec![labelled(1, "sd")];
        let p = class_policy(serde_json::json!([
            {"label": "sd", "tracks": [sel("TrackClass", "SD")]},
            {"label": "hd", "tracks": [sel("TrackClass", "HD")]},
        ]));
        assert!(plan(Variant::Cenc, &p, &locator(), &keys, &ctx()).is_none());
    }

    #[test]
    fn rotation_needs_aes128_uris_that_name_the_key() {
        let keys = vec![LocatorKey::new(None, None, key(2, ContentKeyType::EnvelopeEncryption))];
        let mut loc = locator();
        loc.key_rotation = Some(keys::model::KeyRotation { period_segments: Some(2), period_seconds: None });
        let mut p = predefined_streaming_policy("Predefined_ClearKey").unwrap();
        let plan = plan(Variant::Aes128, &p, &loc, &keys, &ctx()).unwrap();
        assert_eq!(plan.rotation, Some(KeyRotation::Segments(2)));
        // The rotation is part of the ETag.
        assert_ne!(plan.tag, super::plan(Variant::Aes128, &p, &locator(), &keys, &ctx()).unwrap().tag);
        if let Some(e) = &mut p.envelope_encryption {
            e.custom_key_acquisition_url_template = Some("https://keys.example/{AlternativeMediaId}".into());
        }
        assert!(super::plan(Variant::Aes128, &p, &loc, &keys, &ctx()).is_none());
        if let Some(e) = &mut p.envelope_encryption {
            e.custom_key_acquisition_url_template = Some("https://keys.example/{ContentKeyId}".into());
        }
        assert!(super::plan(Variant::Aes128, &p, &loc, &keys, &ctx()).is_some());
    }

    #[test]
    fn aes128_keys_per_class_have_their_own_uri() {
        let env = |kid: u128, label: &str| {
            LocatorKey::new(None, Some(&label.to_owned()), key(kid, ContentKeyType::EnvelopeEncryption))
        };
        let keys = vec![env(1, "sd"), env(2, "hd")];
        let p: StreamingPolicy = serde_json::from_value(serde_json::json!({
            "name": "aes",
            "envelopeEncryption": {
                "enabledProtocols": {"dash": false, "hls": true},
                "contentKeys": {"keyToTrackMappings": [{"label": "hd", "tracks": [sel("TrackClass", "HD")]}]}
            }
        }))
        .unwrap();
        let Protection::Aes128 { keys: aes } = plan(Variant::Aes128, &p, &locator(), &keys, &ctx()).unwrap().protection
        else {
            panic!("aes128")
        };
        let uri = |class| aes.select(class, *b"avc1").key_uri.clone();
        assert_eq!(uri(TrackClass::Sd), format!("http://cdn.example/keys/v1/aes/{}", Uuid::from_u128(1)));
        assert_eq!(uri(TrackClass::Hd), format!("http://cdn.example/keys/v1/aes/{}", Uuid::from_u128(2)));
    }
}
