//! Protection settings and what follows from them for one track: the key
//! (by track class), the `TrackProtector`, PSSH boxes and the DASH/HLS
//! signalling. `castguard package` and the origin both build a
//! [`TrackSetup`] per track, so a locator streams exactly the bytes that
//! packaging with the same keys writes.

use bmff::SampleEntry;
use cenc::{ContentKey, Scheme};

use crate::error::Result;
use crate::manifest::{self, DrmSystem, HlsKey, HlsMethod};
use crate::movie::TrackKind;
use crate::protect::{self, DrmSystems, TrackProtector};

/// License and key acquisition URLs written into manifests and headers.
#[derive(Debug, Clone, Default)]
pub struct LicenseUrls {
    pub widevine: Option<String>,
    pub playready: Option<String>,
    pub clearkey: Option<String>,
    pub fairplay: Option<String>,
}

/// Common Encryption of every track with one key.
#[derive(Debug, Clone)]
pub struct CommonEncryption {
    pub scheme: Scheme,
    /// The key of video tracks, and of all tracks when `audio_key` is `None`.
    pub key: ContentKey,
    /// A separate key for audio tracks (players with weaker CDM robustness
    /// may then be given audio only).
    pub audio_key: Option<ContentKey>,
    pub drm: DrmSystems,
    pub urls: LicenseUrls,
}

#[derive(Debug, Clone)]
pub enum Protection {
    Clear,
    Common(CommonEncryption),
    /// HLS AES-128 whole-segment encryption; `key_uri` as written in the
    /// media playlists (relative to them, or absolute).
    Aes128 { key: ContentKey, key_uri: String },
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
    pub fn new(protection: &Protection, track_id: u32, kind: TrackKind, entry: &SampleEntry) -> Result<TrackSetup> {
        let (protector, aes128, pssh) = match protection {
            Protection::Clear => (None, None, Vec::new()),
            Protection::Aes128 { key, .. } => (None, Some(key.key.clone()), Vec::new()),
            Protection::Common(c) => {
                let key = match (&c.audio_key, kind) {
                    (Some(audio), TrackKind::Audio) => audio,
                    _ => &c.key,
                };
                let p = TrackProtector::new(track_id, entry, key, c.scheme)?;
                let pssh = protect::pssh_boxes(&[p.kid], c.scheme, &c.drm)?;
                (Some(p), None, pssh)
            }
        };
        let (dash, hls_keys) = signalling(protection, protector.as_ref().map(|p| p.kid), &pssh)?;
        Ok(TrackSetup { protector, aes128, pssh, dash, hls_keys })
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
        match (&self.protector, &self.aes128) {
            (Some(p), _) => p.protect_segment_in_place(buf),
            (None, Some(key)) => {
                *buf = protect::aes128_segment(key, u64::from(seq), buf);
                Ok(())
            }
            (None, None) => Ok(()),
        }
    }

    /// Adds this track's DASH and HLS protection signalling.
    pub fn signal(&self, track: &mut manifest::Track) {
        track.protection = self.dash.clone();
        track.hls_keys = self.hls_keys.clone();
    }
}

/// DASH `ContentProtection` and HLS `EXT-X-KEY` signalling for a track.
fn signalling(
    protection: &Protection,
    kid: Option<cenc::KeyId>,
    pssh: &[bmff::Pssh],
) -> Result<(Option<manifest::Protection>, Vec<HlsKey>)> {
    match protection {
        Protection::Clear => Ok((None, Vec::new())),
        Protection::Aes128 { key_uri, .. } => Ok((None, vec![HlsKey::aes128(key_uri.clone(), None)])),
        Protection::Common(c) => {
            let kid = kid.unwrap_or(c.key.kid);
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
            if c.drm.clearkey {
                systems.push(DrmSystem {
                    system_id: cenc::pssh::COMMON,
                    name: None,
                    pssh_box: pssh_bytes(cenc::pssh::COMMON)?,
                    playready_pro: None,
                    license_url: None,
                });
                systems.push(DrmSystem {
                    system_id: manifest::DASHIF_CLEARKEY_SYSTEM_ID,
                    name: Some("ClearKey1.0".into()),
                    pssh_box: None,
                    playready_pro: None,
                    license_url: c.urls.clearkey.clone(),
                });
            }
            if c.drm.widevine {
                let bytes = pssh_bytes(cenc::pssh::WIDEVINE)?;
                if let Some(b) = &bytes {
                    keys.push(HlsKey::widevine(method, b, Some(kid.0)));
                }
                systems.push(DrmSystem {
                    system_id: cenc::pssh::WIDEVINE,
                    name: Some("Widevine".into()),
                    pssh_box: bytes,
                    playready_pro: None,
                    license_url: c.urls.widevine.clone(),
                });
            }
            if c.drm.playready {
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
                    license_url: c.urls.playready.clone(),
                });
            }
            if c.drm.fairplay && c.scheme == Scheme::Cbcs {
                keys.push(HlsKey::fairplay(cenc::pssh::fairplay_skd_uri(kid, c.urls.fairplay.as_deref())));
            }
            Ok((Some(manifest::Protection { scheme: c.scheme.fourcc(), default_kid: kid.0, systems }), keys))
        }
    }
}
