//! The first-run demo of `castguard serve` (issue 6, item 1): what a new
//! user plays in the first five minutes.
//!
//! [`ensure_demo`] makes, once, and reuses on every later start:
//! - asset `demo`: an ABR ladder of three committed 20 s synthetic clips
//!   embedded in the binary (so `serve` needs no ffmpeg), ingested as one
//!   title: `assets/demo.mp4` (640x360 H.264 High avc1.64001e + AAC: tracks
//!   `video_1`, `audio_2`), `assets/demo_234.mp4` (416x234, `video_3`) and
//!   `assets/demo_720.mp4` (1280x720, `video_4`), 2 s GOPs aligned across
//!   them, 3.5 MB in all (made by `scripts/make-demo-clip.sh`). A data dir
//!   whose demo asset has fewer video tracks (made before the ladder) gets
//!   the ladder at the next start;
//! - content key policy `demo-entitled`: one Clear Key option (the W3C
//!   Clear Key license for cenc/cbcs and the raw key for HLS AES-128) behind a
//!   JWT restriction: issuer = this server's STS, audience
//!   [`DEMO_AUDIENCE`], the STS's RS256 public key, required claim `groups`
//!   containing `EntitledUsers`;
//! - content keys `demo-cenc` (CommonEncryption, for cenc and cbcs) and
//!   `demo-aes128` (EnvelopeEncryption), random, under that policy;
//! - streaming locators `demo-clear` (clear DASH + HLS), `demo-aes128` (HLS
//!   AES-128), `demo-cenc` (DASH multi-DRM `cenc`) and `demo-cbcs` (DASH and
//!   HLS `cbcs`, on streaming policy `demo-cbcs`, since the predefined
//!   multi-DRM policy has cbcs for HLS only).
//!
//! Demo tokens are signed with the STS's own current key (a copy of its
//! issuer, whose key ring is in the store), so key delivery validates them
//! like any other token. An STS key rotation makes the demo
//! policy's key stale: restart `serve` (the policy is then updated).

use anyhow::{Context as _, anyhow};
use keys::model::{
    Asset, AssetStorage, ContentKey, ContentKeyPolicy, ContentKeyPolicyConfiguration,
    ContentKeyPolicyOption, ContentKeyPolicyRestriction, ContentKeyType, ContentKeyValue,
    ContentKeyWithValue, EnabledProtocols, StreamingLocator, StreamingLocatorContentKey,
    StreamingLocatorContentKeyType, TokenClaim, TokenRestriction, TokenType,
};
use server::AppState;
use server::routes::player::{
    DEMO_GROUP, DemoCatalog, DemoLocator, DemoTokens, DemoUser, GROUPS_CLAIM, PlayerState,
};
use std::collections::BTreeMap;
use std::path::Path;
use time::OffsetDateTime;
use uuid::Uuid;

/// The ladder, embedded (regenerate with scripts/make-demo-clip.sh): file
/// name and bytes, in title order (the first file keeps its track numbers).
const DEMO_CLIPS: &[(&str, &[u8])] = &[
    ("demo.mp4", include_bytes!("../assets/demo.mp4")),
    ("demo_234.mp4", include_bytes!("../assets/demo_234.mp4")),
    ("demo_720.mp4", include_bytes!("../assets/demo_720.mp4")),
];
/// Its subtitles: (language, file, text).
const DEMO_SUBTITLES: &[(&str, &str, &str)] = &[
    ("en", "demo_en.vtt", include_str!("../assets/demo_en.vtt")),
    ("fr", "demo_fr.vtt", include_str!("../assets/demo_fr.vtt")),
];
pub const DEMO_ASSET: &str = "demo";
pub const DEMO_POLICY: &str = "demo-entitled";
pub const DEMO_AUDIENCE: &str = "castguard-demo";
const DEMO_CBCS_STREAMING_POLICY: &str = "demo-cbcs";
const SEGMENT_DURATION_SECS: f64 = 2.0;

/// What `serve` prints and what the player routes need.
pub struct DemoInfo {
    pub player_url: String,
    pub entitled_token: String,
    pub outsider_token: String,
    pub player: PlayerState,
}

impl std::fmt::Debug for DemoInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoInfo")
            .field("player_url", &self.player_url)
            .finish_non_exhaustive()
    }
}

/// The locators: (name, streaming policy, key names with their locator key
/// type, then what the page lists: (title, format, variant, manifest file)).
type Listing = (&'static str, &'static str, &'static str, &'static str);
/// (locator name, streaming policy, (key name, locator key type)s, listings).
type LocatorSpec = (
    &'static str,
    &'static str,
    &'static [(&'static str, StreamingLocatorContentKeyType)],
    &'static [Listing],
);
const LOCATORS: &[LocatorSpec] = &[
    (
        "demo-clear",
        keys::model::PREDEFINED_CLEAR_STREAMING_ONLY,
        &[],
        &[("Clear (DASH)", "dash", "clear", "manifest.mpd")],
    ),
    (
        "demo-aes128",
        keys::model::PREDEFINED_CLEAR_KEY,
        &[(
            "demo-aes128",
            StreamingLocatorContentKeyType::EnvelopeEncryption,
        )],
        &[("HLS AES-128", "hls", "aes128", "master.m3u8")],
    ),
    (
        "demo-cenc",
        keys::model::PREDEFINED_MULTI_DRM_CENC_STREAMING,
        &[(
            "demo-cenc",
            StreamingLocatorContentKeyType::CommonEncryptionCenc,
        )],
        &[("DASH multi-DRM cenc", "dash", "cenc", "manifest.mpd")],
    ),
    (
        "demo-cbcs",
        DEMO_CBCS_STREAMING_POLICY,
        &[(
            "demo-cenc",
            StreamingLocatorContentKeyType::CommonEncryptionCbcs,
        )],
        &[("DASH multi-DRM cbcs", "dash", "cbcs", "manifest.mpd")],
    ),
];

/// Creates the demo on first start, reuses it after; see the module docs.
pub async fn ensure_demo(state: &AppState, data_dir: &Path) -> anyhow::Result<DemoInfo> {
    let store = state.store();
    let base = state
        .delivery()
        .config()
        .public_base_url
        .trim_end_matches('/')
        .to_owned();
    let sts = state
        .delivery()
        .sts()
        .await
        .context("demo: token service")?;
    let issuer_url = sts.issuer();

    // Asset.
    match store.get_asset(DEMO_ASSET).await {
        Err(_) => ingest_ladder(state, data_dir, true).await?,
        Ok(a) if tracks_of(&a, "video") < DEMO_CLIPS.len() || tracks_of(&a, "text") < DEMO_SUBTITLES.len() => {
            ingest_ladder(state, data_dir, false).await?
        }
        Ok(_) => {}
    }

    // Policy: always rewritten, so it follows the STS's current key.
    let key = sts
        .rsa_token_key()
        .ok_or_else(|| anyhow!("demo: the STS key has no public RSA form"))?;
    let policy = ContentKeyPolicy {
        name: DEMO_POLICY.into(),
        policy_id: None,
        created: None,
        last_modified: None,
        description: Some(format!(
            "castguard demo: a token from {issuer_url} whose groups contain {DEMO_GROUP}"
        )),
        options: vec![ContentKeyPolicyOption {
            policy_option_id: None,
            name: Some("clearkey-entitled".into()),
            configuration: ContentKeyPolicyConfiguration::ClearKey,
            restriction: ContentKeyPolicyRestriction::Token(TokenRestriction {
                issuer: issuer_url.clone(),
                audience: DEMO_AUDIENCE.into(),
                primary_verification_key: Some(key),
                alternate_verification_keys: Vec::new(),
                required_claims: vec![TokenClaim {
                    claim_type: Some(GROUPS_CLAIM.into()),
                    claim_value: Some(DEMO_GROUP.into()),
                }],
                restriction_token_type: TokenType::Jwt,
                open_id_connect_discovery_document: None,
            }),
        }],
    };
    store
        .put_content_key_policy(policy)
        .await
        .context("demo: content key policy")?;

    // Keys.
    let mut kids = BTreeMap::new();
    for (name, ty) in [
        ("demo-cenc", ContentKeyType::CommonEncryption),
        ("demo-aes128", ContentKeyType::EnvelopeEncryption),
    ] {
        let kid = match store.get_content_key(name).await {
            Ok(k) => k.key_id,
            Err(_) => {
                let value =
                    ContentKeyValue::random().map_err(|e| anyhow!("demo: no random key: {e}"))?;
                let key = ContentKeyWithValue {
                    key: ContentKey {
                        name: name.into(),
                        key_id: Uuid::new_v4(),
                        key_type: ty,
                        label: Some("castguard demo".into()),
                        policy_name: Some(DEMO_POLICY.into()),
                        created: None,
                        last_modified: None,
                    },
                    value,
                };
                store
                    .put_content_key(key)
                    .await
                    .with_context(|| format!("demo: content key {name}"))?
                    .value
                    .key_id
            }
        };
        kids.insert(name, kid);
    }

    // The cbcs streaming policy: the predefined multi-DRM one with cbcs for
    // DASH too and no cenc.
    if store
        .get_streaming_policy(DEMO_CBCS_STREAMING_POLICY)
        .await
        .is_err()
    {
        let mut p =
            keys::model::predefined_streaming_policy(keys::model::PREDEFINED_MULTI_DRM_STREAMING)
                .ok_or_else(|| anyhow!("demo: predefined multi-DRM streaming policy missing"))?;
        p.name = DEMO_CBCS_STREAMING_POLICY.into();
        p.created = None;
        p.common_encryption_cenc = None;
        if let Some(cbcs) = p.common_encryption_cbcs.as_mut() {
            cbcs.enabled_protocols = Some(EnabledProtocols::DASH_HLS);
        }
        store
            .put_streaming_policy(p)
            .await
            .context("demo: cbcs streaming policy")?;
    }

    // Locators.
    let mut catalog = DemoCatalog::default();
    catalog
        .license_servers
        .insert("org.w3.clearkey".into(), format!("{base}/keys/v1/clearkey"));
    for (name, streaming_policy, keys, listings) in LOCATORS {
        let locator = match store.get_streaming_locator(name).await {
            Ok(l) => l,
            Err(_) => {
                let content_keys = keys
                    .iter()
                    .filter_map(|(k, t)| {
                        kids.get(k).map(|id| StreamingLocatorContentKey {
                            id: *id,
                            key_type: Some(*t),
                            label_reference_in_streaming_policy: None,
                            value: None,
                            policy_name: None,
                        })
                    })
                    .collect();
                let l = StreamingLocator {
                    name: (*name).into(),
                    asset_name: DEMO_ASSET.into(),
                    streaming_policy_name: (*streaming_policy).into(),
                    default_content_key_policy_name: if keys.is_empty() {
                        None
                    } else {
                        Some(DEMO_POLICY.into())
                    },
                    content_keys,
                    start_time: None,
                    end_time: None,
                    streaming_locator_id: None,
                    alternative_media_id: None,
                    created: None,
                    key_rotation: None,
                };
                store
                    .put_streaming_locator(l)
                    .await
                    .with_context(|| format!("demo: streaming locator {name}"))?
                    .value
            }
        };
        let id = locator
            .streaming_locator_id
            .ok_or_else(|| anyhow!("demo: locator {name} has no id"))?;
        for (title, format, variant, file) in listings.iter() {
            catalog.locators.push(DemoLocator {
                name: (*name).into(),
                title: (*title).into(),
                format,
                protection: variant,
                manifest: format!("/s/{id}/{variant}/{file}"),
            });
        }
    }

    let tokens = DemoTokens::new(
        sts.issuer_copy().context("demo: STS key ring")?,
        DEMO_AUDIENCE,
    );
    let now = OffsetDateTime::now_utc();
    let entitled_token = tokens
        .mint(DemoUser::Entitled, now)
        .context("demo token")?
        .token;
    let outsider_token = tokens
        .mint(DemoUser::Outsider, now)
        .context("demo token")?
        .token;
    Ok(DemoInfo {
        player_url: format!("{base}/player"),
        entitled_token,
        outsider_token,
        player: PlayerState::with_demo(catalog, tokens),
    })
}

/// How many tracks of `kind` (`video`, `text`, ...) the asset record lists.
fn tracks_of(asset: &Asset, kind: &str) -> usize {
    asset
        .storage
        .tracks
        .as_array()
        .map(|tracks| tracks.iter().filter(|t| t["kind"]["type"] == kind).count())
        .unwrap_or(0)
}

/// Ingests the embedded ladder as the demo asset's media: a new record
/// when `create`, else the existing record's media is replaced.
async fn ingest_ladder(state: &AppState, data_dir: &Path, create: bool) -> anyhow::Result<()> {
    let tmp = data_dir
        .join("tmp")
        .join(format!("demo-ladder-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).with_context(|| format!("{}", tmp.display()))?;
    let mut files = Vec::with_capacity(DEMO_CLIPS.len());
    for (name, bytes) in DEMO_CLIPS {
        let path = tmp.join(name);
        if let Err(e) = std::fs::write(&path, bytes) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(anyhow!("{}: {e}", path.display()));
        }
        files.push(((*name).to_owned(), path));
    }
    let mut texts = Vec::with_capacity(DEMO_SUBTITLES.len());
    for (lang, name, text) in DEMO_SUBTITLES {
        let path = tmp.join(name);
        if let Err(e) = std::fs::write(&path, text) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(anyhow!("{}: {e}", path.display()));
        }
        let input = media::text::TextInput::parse(&format!("{lang}={}", path.display())).map_err(|e| anyhow!("demo subtitles: {e}"))?;
        texts.push(((*name).to_owned(), input));
    }
    if create {
        let asset = Asset {
            name: DEMO_ASSET.into(),
            asset_id: None,
            created: None,
            last_modified: None,
            alternate_id: None,
            description: Some(
                "castguard demo: 20 s synthetic test pattern, a 234p/360p/720p ladder (scripts/make-demo-clip.sh), English and French subtitles"
                    .into(),
            ),
            storage: AssetStorage {
                path: format!("{}/{DEMO_ASSET}", server::routes::ASSETS_DIR),
                tracks: serde_json::Value::Null,
            },
        };
        if let Err(e) = state.store().put_asset(asset).await {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(anyhow!("demo: asset record: {e}"));
        }
    }
    let r = server::routes::ingest_title(state, DEMO_ASSET, &files, &texts, SEGMENT_DURATION_SECS).await;
    let _ = std::fs::remove_dir_all(&tmp);
    if let Err(e) = r {
        if create {
            // No record without media: the next start tries again.
            let _ = state.store().delete_asset(DEMO_ASSET).await;
        }
        return Err(anyhow!("demo: ingest the ladder: {e}"));
    }
    Ok(())
}
