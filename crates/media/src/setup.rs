//! Protection settings and what follows from them for one track: the key
//! (by track class), the `TrackProtector`, PSSH boxes and the DASH/HLS
//! signalling. `castguard package` and the origin both build a
//! [`TrackSetup`] per track, so a locator streams exactly the bytes that
//! packaging with the same keys writes.

use bmff::SampleEntry;
use cenc::{ContentKey, KeyId, Scheme};

use crate::error::Result;
use crate::manifest::{self, DrmSystem, HlsKey, HlsMethod};
use crate::protect::{self, DrmSystems, TrackProtector};
pub use crate::track_class::TrackClass;

/// License and key acquisition URLs written into manifests and headers,
/// as templates filled per key ([`LicenseUrls::for_kid`]): `{kid_uuid}`
/// becomes the key's KID in UUID form, `{kid}` its 32 hex digits (the
/// placeholders of [`cenc::pssh::fairplay_skd_uri`], which fills the
/// FairPlay template itself). A URL without placeholders is the same for
/// every key.
#[derive(Debug, Clone, Default)]
pub struct LicenseUrls {
    pub widevine: Option<String>,
    pub playready: Option<String>,
    pub clearkey: Option<String>,
    pub fairplay: Option<String>,
}

impl LicenseUrls {
    /// The URLs of the key `kid` (FairPlay's template is left as is).
    pub fn for_kid(&self, kid: KeyId) -> LicenseUrls {
        let fill = |u: &Option<String>| u.as_deref().map(|t| fill_kid(t, kid));
        LicenseUrls {
            widevine: fill(&self.widevine),
            playready: fill(&self.playready),
            clearkey: fill(&self.clearkey),
            fairplay: self.fairplay.clone(),
        }
    }
}

/// `template` with `{kid_uuid}` and `{kid}` replaced by `kid`.
pub fn fill_kid(template: &str, kid: KeyId) -> String {
    template.replace("{kid_uuid}", &kid.to_string()).replace("{kid}", &kid.to_hex())
}

/// Which tracks a key rule selects: every condition given must hold (a
/// selector with none selects every track).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackSelector {
    pub class: Option<TrackClass>,
    /// The clear sample entry type: `avc1`, `hvc1`, `mp4a`, ...
    pub fourcc: Option<[u8; 4]>,
}

impl TrackSelector {
    pub fn class(class: TrackClass) -> TrackSelector {
        TrackSelector { class: Some(class), fourcc: None }
    }

    pub fn matches(&self, class: TrackClass, fourcc: [u8; 4]) -> bool {
        self.class.is_none_or(|c| c == class) && self.fourcc.is_none_or(|f| f == fourcc)
    }
}

/// The keys of a protection: one per track class (or other selection)
/// and a default for the tracks no rule selects. `K` is a
/// [`ContentKey`] for Common Encryption, an [`Aes128Key`] for HLS AES-128.
#[derive(Debug, Clone)]
pub struct TrackKeys<K = ContentKey> {
    pub default: K,
    /// Checked in order: the first rule that selects a track gives its key.
    pub rules: Vec<(TrackSelector, K)>,
}

impl<K> TrackKeys<K> {
    /// One key for every track.
    pub fn one(key: K) -> TrackKeys<K> {
        TrackKeys { default: key, rules: Vec::new() }
    }

    /// A key per listed class, `default` for the others.
    pub fn by_class(default: K, by_class: impl IntoIterator<Item = (TrackClass, K)>) -> TrackKeys<K> {
        TrackKeys { default, rules: by_class.into_iter().map(|(c, k)| (TrackSelector::class(c), k)).collect() }
    }

    /// The key of a track of `class` whose clear sample entry is `fourcc`.
    pub fn select(&self, class: TrackClass, fourcc: [u8; 4]) -> &K {
        self.rules.iter().find(|(s, _)| s.matches(class, fourcc)).map_or(&self.default, |(_, k)| k)
    }

    /// Every key, the default first (a key may appear more than once).
    pub fn all(&self) -> impl Iterator<Item = &K> {
        std::iter::once(&self.default).chain(self.rules.iter().map(|(_, k)| k))
    }
}

/// An HLS AES-128 key with the URI its media playlists name it by
/// (relative to them, or absolute).
#[derive(Debug, Clone)]
pub struct Aes128Key {
    pub key: ContentKey,
    pub key_uri: String,
}

/// Common Encryption with a key per track class.
#[derive(Debug, Clone)]
pub struct CommonEncryption {
    pub scheme: Scheme,
    pub keys: TrackKeys,
    /// The DRM systems signalled; `playready_la_url` may hold the
    /// placeholders of [`LicenseUrls`].
    pub drm: DrmSystems,
    pub urls: LicenseUrls,
}

impl CommonEncryption {
    /// `key` for every track, or for video only when `audio_key` is given
    /// (players with weaker CDM robustness may then be given audio only).
    pub fn new(
        scheme: Scheme,
        key: ContentKey,
        audio_key: Option<ContentKey>,
        drm: DrmSystems,
        urls: LicenseUrls,
    ) -> CommonEncryption {
        let keys = TrackKeys::by_class(key, audio_key.map(|a| (TrackClass::Audio, a)));
        CommonEncryption { scheme, keys, drm, urls }
    }
}

#[derive(Debug, Clone)]
pub enum Protection {
    Clear,
    Common(CommonEncryption),
    /// HLS AES-128 whole-segment encryption; each media playlist names its
    /// own key's URI.
    Aes128 { keys: TrackKeys<Aes128Key> },
}

impl Protection {
    /// HLS AES-128 with one key for every track.
    pub fn aes128(key: ContentKey, key_uri: impl Into<String>) -> Protection {
        Protection::Aes128 { keys: TrackKeys::one(Aes128Key { key, key_uri: key_uri.into() }) }
    }
}

/// Protection of one track: everything that follows from the protection
/// settings and the track's clear sample entry. `castguard package` and the
/// origin both go through it, so a locator streams exactly the bytes that
/// packaging with the same keys writes.
pub struct TrackSetup {
    protector: Option<TrackProtector>,
    aes128: Option<cenc::Key>,
    pssh: Vec<bmff::Pssh>,
    dash: Option<manifest::Protection>,
    hls_keys: Vec<HlsKey>,
}

impl std::fmt::Debug for TrackSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackSetup").field("protector", &self.protector).finish_non_exhaustive()
    }
}

impl TrackSetup {
    /// The protection of the track `track_id` of key class `class` (see
    /// [`TrackClass::of_entry`]) whose clear sample entry is `entry`.
    pub fn new(protection: &Protection, track_id: u32, class: TrackClass, entry: &SampleEntry) -> Result<TrackSetup> {
        let fourcc = entry.kind().0;
        let clear = TrackSetup { protector: None, aes128: None, pssh: Vec::new(), dash: None, hls_keys: Vec::new() };
        match protection {
            Protection::Clear => Ok(clear),
            Protection::Aes128 { keys } => {
                let k = keys.select(class, fourcc);
                let hls_keys = vec![HlsKey::aes128(k.key_uri.clone(), None)];
                Ok(TrackSetup { aes128: Some(k.key.key.clone()), hls_keys, ..clear })
            }
            Protection::Common(c) => {
                let key = c.keys.select(class, fourcc);
                let p = TrackProtector::new(track_id, entry, key, c.scheme)?;
                let KeySignalling { pssh, dash, hls_keys } = common_key_signalling(c, p.kid)?;
                Ok(TrackSetup { protector: Some(p), dash, hls_keys, pssh, ..clear })
            }
        }
    }

    /// The init segment as served, from the clear one.
    pub fn init(&self, clear_init: &[u8]) -> Result<Vec<u8>> {
        match &self.protector {
            Some(p) => p.protect_init(clear_init, &self.pssh),
            None => Ok(clear_init.to_vec()),
        }
    }

    /// Media segment number `seq` (from 1) as served, made in place from
    /// the clear one in `buf` (a reused buffer: see
    /// [`crate::cmaf::PROTECTION_HEADROOM`]).
    pub fn segment_in_place(&self, seq: u32, buf: &mut Vec<u8>) -> Result<()> {
        let at = self.segment_at(seq, buf, 0)?;
        buf.drain(..at);
        Ok(())
    }

    /// Media segment number `seq` as served, made in place from the clear
    /// one at `buf[start..]`; it is `buf[returned..]`. With
    /// [`crate::cmaf::PROTECTION_FRONT`] bytes in front of the clear
    /// segment, no byte of its samples moves (see
    /// [`TrackProtector::protect_segment_at`]).
    pub fn segment_at(&self, seq: u32, buf: &mut Vec<u8>, start: usize) -> Result<usize> {
        match (&self.protector, &self.aes128) {
            (Some(p), _) => p.protect_segment_at(buf, start),
            (None, Some(key)) => {
                protect::aes128_segment_in_place(key, u64::from(seq), buf, start)?;
                Ok(start)
            }
            (None, None) => Ok(start),
        }
    }

    /// Media segment number `seq` as served, written into `out` (cleared
    /// first, its allocation reused) from the clear one in `clear`, which
    /// is only read: one pass over its bytes (see
    /// [`TrackProtector::protect_segment_into`]).
    pub fn segment_from(&self, seq: u32, clear: &[u8], out: &mut Vec<u8>) -> Result<()> {
        match (&self.protector, &self.aes128) {
            (Some(p), _) => p.protect_segment_into(clear, out),
            (None, aes128) => {
                out.clear();
                let want = clear.len().saturating_add(16);
                out.try_reserve(want).map_err(|_| crate::Error::Segment(format!("{want} bytes do not fit in memory")))?;
                out.extend_from_slice(clear);
                match aes128 {
                    Some(key) => protect::aes128_segment_in_place(key, u64::from(seq), out, 0),
                    None => Ok(()),
                }
            }
        }
    }

    /// The size of a media segment as served, from the clear one, without
    /// encrypting it.
    pub fn segment_len(&self, clear: &[u8]) -> Result<u64> {
        match self.segment_len_of(clear.len() as u64) {
            Some(n) => Ok(n),
            None => self.protector.as_ref().map_or(Ok(clear.len() as u64), |p| p.protected_len(clear).map(|n| n as u64)),
        }
    }

    /// The size of a media segment as served from a clear one of
    /// `clear_len` bytes, when that alone decides it (clear, HLS AES-128);
    /// `None` under Common Encryption, whose `senc` depends on the samples
    /// ([`TrackSetup::segment_len`] reads them).
    pub fn segment_len_of(&self, clear_len: u64) -> Option<u64> {
        match (&self.protector, &self.aes128) {
            (Some(_), _) => None,
            // PKCS#7 always pads, 1 to 16 bytes (RFC 8216 §4.3.2.4).
            (None, Some(_)) => Some(clear_len / 16 * 16 + 16),
            (None, None) => Some(clear_len),
        }
    }

    /// Adds this track's DASH and HLS protection signalling.
    pub fn signal(&self, track: &mut manifest::Track) {
        track.protection = self.dash.clone();
        track.hls_keys = self.hls_keys.clone();
    }
}

/// What every track encrypted with one key carries: its `pssh` boxes
/// (as the init segment holds them), its DASH `ContentProtection`
/// signalling and its HLS `EXT-X-KEY`s. CPIX export hands exactly these
/// to other packagers ([`Protection::key_signalling`]).
#[derive(Debug, Clone)]
pub struct KeySignalling {
    pub pssh: Vec<bmff::Pssh>,
    pub dash: Option<manifest::Protection>,
    pub hls_keys: Vec<HlsKey>,
}

impl KeySignalling {
    /// Each `pssh` box whole, with its system ID.
    pub fn pssh_boxes(&self) -> Result<Vec<([u8; 16], Vec<u8>)>> {
        self.pssh
            .iter()
            .map(|p| {
                let mut out = Vec::new();
                bmff::Atom::encode(p, &mut out)?;
                Ok((p.system_id, out))
            })
            .collect()
    }
}

impl Protection {
    /// The signalling of the key `kid` under this protection, `None` when
    /// it has no such key.
    pub fn key_signalling(&self, kid: KeyId) -> Result<Option<KeySignalling>> {
        match self {
            Protection::Clear => Ok(None),
            Protection::Aes128 { keys } => Ok(keys.all().find(|k| k.key.kid == kid).map(|k| KeySignalling {
                pssh: Vec::new(),
                dash: None,
                hls_keys: vec![HlsKey::aes128(k.key_uri.clone(), None)],
            })),
            Protection::Common(c) => {
                if !c.keys.all().any(|k| k.kid == kid) {
                    return Ok(None);
                }
                common_key_signalling(c, kid).map(Some)
            }
        }
    }
}

/// The signalling of the key `kid` under Common Encryption.
fn common_key_signalling(c: &CommonEncryption, kid: KeyId) -> Result<KeySignalling> {
    // The PlayReady header's LA_URL names this key.
    let mut drm = c.drm.clone();
    drm.playready_la_url = drm.playready_la_url.map(|u| fill_kid(&u, kid));
    let pssh = protect::pssh_boxes(&[kid], c.scheme, &drm)?;
    let (dash, hls_keys) = common_signalling(c, &drm, kid, &pssh)?;
    Ok(KeySignalling { pssh, dash, hls_keys })
}

/// DASH `ContentProtection` and HLS `EXT-X-KEY` signalling of a track
/// under Common Encryption with the key `kid`: license URLs name that key.
fn common_signalling(
    c: &CommonEncryption,
    drm: &DrmSystems,
    kid: KeyId,
    pssh: &[bmff::Pssh],
) -> Result<(Option<manifest::Protection>, Vec<HlsKey>)> {
    let urls = c.urls.for_kid(kid);
    let pssh_bytes = |system: [u8; 16]| -> Result<Option<Vec<u8>>> {
        pssh.iter()
            .find(|p| p.system_id == system)
            .map(|p| {
                let mut out = Vec::new();
                bmff::Atom::encode(p, &mut out)?;
                Ok(out)
            })
            .transpose()
    };
    let mut systems = Vec::new();
    let mut keys = Vec::new();
    let method = match c.scheme {
        Scheme::Cenc => HlsMethod::SampleAesCtr,
        Scheme::Cbcs => HlsMethod::SampleAes,
    };
    if drm.clearkey {
        // Clear Key is signalled with the DASH-IF system ID and its license
        // URL (DASH-IF IOP v4.3 §7.6.2.4). The W3C common `pssh` stays in
        // the init segment, where EME reads it, but not in the MPD: dash.js
        // (5.2) takes a `urn:uuid:1077efec…` descriptor for Clear Key and
        // hands its `pssh` to the CDM as "keyids" data, which fails.
        systems.push(DrmSystem {
            system_id: manifest::DASHIF_CLEARKEY_SYSTEM_ID,
            name: Some("ClearKey1.0".into()),
            pssh_box: None,
            playready_pro: None,
            license_url: urls.clearkey.clone(),
        });
    }
    if drm.widevine {
        let bytes = pssh_bytes(cenc::pssh::WIDEVINE)?;
        if let Some(b) = &bytes {
            keys.push(HlsKey::widevine(method, b, Some(kid.0)));
        }
        systems.push(DrmSystem {
            system_id: cenc::pssh::WIDEVINE,
            name: Some("Widevine".into()),
            pssh_box: bytes,
            playready_pro: None,
            license_url: urls.widevine.clone(),
        });
    }
    if drm.playready {
        let bytes = pssh_bytes(cenc::pssh::PLAYREADY)?;
        let pro = pssh.iter().find(|p| p.system_id == cenc::pssh::PLAYREADY).map(|p| p.data.clone());
        if let Some(p) = &pro {
            keys.push(HlsKey::playready(method, p));
        }
        systems.push(DrmSystem {
            system_id: cenc::pssh::PLAYREADY,
            name: Some("MSPR 2.0".into()),
            pssh_box: bytes,
            playready_pro: pro,
            license_url: urls.playready.clone(),
        });
    }
    if drm.fairplay && c.scheme == Scheme::Cbcs {
        keys.push(HlsKey::fairplay(cenc::pssh::fairplay_skd_uri(kid, urls.fairplay.as_deref())));
    }
    Ok((Some(manifest::Protection { scheme: c.scheme.fourcc(), default_kid: kid.0, systems }), keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bmff::{AvcC, FourCC, VisualSampleEntry};

    fn key(b: u8) -> ContentKey {
        ContentKey { kid: KeyId([b; 16]), key: cenc::Key::new([b ^ 0xff; 16]) }
    }

    fn avc1(width: u16, height: u16) -> SampleEntry {
        let mut v = VisualSampleEntry::new(FourCC(*b"avc1"), width, height);
        v.avcc = Some(AvcC { configuration_version: 1, length_size_minus_one: 3, ..Default::default() });
        SampleEntry::Visual(v)
    }

    fn kid_of(p: &Protection, entry: &SampleEntry, kind: crate::movie::TrackKind) -> [u8; 16] {
        let class = TrackClass::of_entry(kind, entry);
        TrackSetup::new(p, 1, class, entry).unwrap().dash.unwrap().default_kid
    }

    #[test]
    fn each_class_gets_its_key_and_its_license_urls() {
        let drm = DrmSystems {
            widevine: true,
            playready: true,
            clearkey: true,
            playready_la_url: Some("https://k.example/pr?kid={kid_uuid}".into()),
            ..Default::default()
        };
        let urls = LicenseUrls {
            widevine: Some("https://k.example/wv?kid={kid_uuid}".into()),
            clearkey: Some("https://k.example/ck".into()),
            ..Default::default()
        };
        let p = Protection::Common(CommonEncryption {
            scheme: Scheme::Cenc,
            keys: TrackKeys::by_class(key(1), [(TrackClass::Hd, key(2)), (TrackClass::Uhd1, key(3))]),
            drm,
            urls,
        });
        let video = crate::movie::TrackKind::Video;
        assert_eq!(kid_of(&p, &avc1(640, 360), video), [1; 16]);
        assert_eq!(kid_of(&p, &avc1(1280, 720), video), [2; 16]);
        assert_eq!(kid_of(&p, &avc1(3840, 2160), video), [3; 16]);
        // No rule for UHD2: the default key.
        assert_eq!(kid_of(&p, &avc1(7680, 4320), video), [1; 16]);

        let prot = TrackSetup::new(&p, 1, TrackClass::Hd, &avc1(1280, 720)).unwrap().dash.unwrap();
        let url = |id| prot.systems.iter().find(|s| s.system_id == id).and_then(|s| s.license_url.clone());
        let hd = KeyId([2; 16]).to_string();
        assert_eq!(url(cenc::pssh::WIDEVINE), Some(format!("https://k.example/wv?kid={hd}")));
        assert_eq!(url(cenc::pssh::PLAYREADY), None);
        assert_eq!(url(manifest::DASHIF_CLEARKEY_SYSTEM_ID).as_deref(), Some("https://k.example/ck"));
        // The PlayReady header object names the HD key's license URL too.
        let pro = prot.systems.iter().find(|s| s.system_id == cenc::pssh::PLAYREADY).unwrap();
        let utf16: Vec<u16> =
            pro.playready_pro.as_ref().unwrap().chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        assert!(String::from_utf16_lossy(&utf16).contains(&format!("https://k.example/pr?kid={hd}")));
    }

    #[test]
    fn fourcc_rules_and_order() {
        let keys = TrackKeys {
            default: 0u8,
            rules: vec![
                (TrackSelector { class: Some(TrackClass::Hd), fourcc: Some(*b"hvc1") }, 1),
                (TrackSelector { class: None, fourcc: Some(*b"hvc1") }, 2),
                (TrackSelector::class(TrackClass::Hd), 3),
            ],
        };
        assert_eq!(*keys.select(TrackClass::Hd, *b"hvc1"), 1);
        assert_eq!(*keys.select(TrackClass::Sd, *b"hvc1"), 2);
        assert_eq!(*keys.select(TrackClass::Hd, *b"avc1"), 3);
        assert_eq!(*keys.select(TrackClass::Sd, *b"avc1"), 0);
        assert_eq!(keys.all().count(), 4);
    }

    #[test]
    fn aes128_playlists_name_their_own_key() {
        let aes = |b: u8| Aes128Key { key: key(b), key_uri: format!("https://k.example/aes/{b}") };
        let p = Protection::Aes128 { keys: TrackKeys::by_class(aes(1), [(TrackClass::Hd, aes(2))]) };
        let uri = |class, entry: &SampleEntry| {
            TrackSetup::new(&p, 1, class, entry).unwrap().hls_keys.iter().map(|k| k.uri.clone()).collect::<Vec<_>>()
        };
        assert_eq!(uri(TrackClass::Sd, &avc1(640, 360)), ["https://k.example/aes/1"]);
        assert_eq!(uri(TrackClass::Hd, &avc1(1280, 720)), ["https://k.example/aes/2"]);
    }

    #[test]
    fn old_audio_key_constructor() {
        let c = CommonEncryption::new(Scheme::Cbcs, key(1), Some(key(9)), DrmSystems::default(), LicenseUrls::default());
        assert_eq!(c.keys.select(TrackClass::Audio, *b"mp4a").kid, KeyId([9; 16]));
        assert_eq!(c.keys.select(TrackClass::Uhd2, *b"hvc1").kid, KeyId([1; 16]));
        let one = CommonEncryption::new(Scheme::Cbcs, key(1), None, DrmSystems::default(), LicenseUrls::default());
        assert_eq!(one.keys.select(TrackClass::Audio, *b"mp4a").kid, KeyId([1; 16]));
    }

    #[test]
    fn kid_placeholders() {
        let kid = KeyId([0xab; 16]);
        assert_eq!(
            fill_kid("x/{kid_uuid}/{kid}", kid),
            "x/abababab-abab-abab-abab-abababababab/abababababababababababababababab"
        );
    }
}
