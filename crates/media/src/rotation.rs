//! Key rotation (crypto periods): a stream whose content key changes every
//! so many segments, so that one key (one license) opens only part of a
//! title.
//!
//! Periods are whole segments, numbered from 0: segment `n` (numbered from
//! 1, the same numbers in every track, since one segment plan cuts them
//! all) is in period `(n - 1) / len`. Period 0 uses the locator's own keys;
//! period `p` the keys [`cenc::ContentKey::for_period`] derives from them,
//! so every node derives the same keys and every response stays a pure
//! function of (asset, locator, request).
//!
//! Signalling, the way players agree on:
//! - DASH: one `Period` per key period (DASH-IF IOP v4.3 §7.7.3; players
//!   disagree on key changes by in-band `pssh` within one period), each
//!   with its own `ContentProtection`/`default_KID` and its own init
//!   segment (`<track>/init-<p>.mp4`, the KID is in its `tenc` and its
//!   `pssh`), its segments' times mapped to period time by
//!   `presentationTimeOffset` so the periods play on without a gap
//!   ([`crate::manifest::dash::write_mpd_periods`]).
//! - HLS: an `EXT-X-KEY` before the first segment of every period (RFC
//!   8216 §4.3.2.4), with a new `EXT-X-MAP` first under Common Encryption
//!   (SAMPLE-AES / cbcs: the init names the KID); AES-128 encrypts whole
//!   segments and keeps its clear init.
//!
//! I-frame playlists are not offered for rotated streams: one I-frame
//! playlist would need the key changes of every period too, and trick
//! play is not worth a second key-change path.

use crate::asset::AssetIndex;
use crate::error::Result;
use crate::manifest::dash::{MpdPeriod, write_mpd_periods};
use crate::manifest::hls::KeyChange;
use crate::manifest::{Presentation, Track};
use crate::origin::{OriginAsset, Resource};
use crate::package;
use crate::setup::{Aes128Key, CommonEncryption, Protection, TrackKeys};

/// How often a locator's keys change: every so many segments, or every so
/// many seconds (rounded to whole segments of the asset's target segment
/// duration, at least one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyRotation {
    Segments(u32),
    Seconds(u32),
}

impl KeyRotation {
    /// Segments per key period in `index`'s asset (at least 1).
    pub fn period_len(&self, index: &AssetIndex) -> u64 {
        match *self {
            KeyRotation::Segments(n) => u64::from(n.max(1)),
            KeyRotation::Seconds(s) => {
                let seg = index.segment_duration_secs;
                if seg.is_finite() && seg > 0.0 {
                    // `as` saturates: a hostile index cannot wrap.
                    ((f64::from(s) / seg).round() as u64).max(1)
                } else {
                    1
                }
            }
        }
    }
}

/// The key period of segment `number` (numbered from 1) with `len`
/// segments per period.
pub fn period_of(len: u64, number: u64) -> u32 {
    u32::try_from(number.saturating_sub(1) / len.max(1)).unwrap_or(u32::MAX)
}

/// How many key periods the asset's segments reach into (0 for none).
pub fn period_count(index: &AssetIndex, len: u64) -> u32 {
    index
        .tracks
        .iter()
        .filter(|t| !t.segments.is_empty())
        .map(|t| {
            let last = t.first_segment.max(1).saturating_add(t.segments.len() as u64 - 1);
            period_of(len, last).saturating_add(1)
        })
        .max()
        .unwrap_or(0)
}

/// `p` with every key replaced by its period-`period` key (period 0: `p`
/// as it is). AES-128 key URIs name the period key's KID where they named
/// the base key's.
pub fn period_protection(p: &Protection, period: u32) -> Protection {
    if period == 0 {
        return p.clone();
    }
    match p {
        Protection::Clear => Protection::Clear,
        Protection::Common(c) => Protection::Common(CommonEncryption {
            keys: map_keys(&c.keys, |k| k.for_period(period)),
            ..c.clone()
        }),
        Protection::Aes128 { keys } => Protection::Aes128 {
            keys: map_keys(keys, |k| {
                let key = k.key.for_period(period);
                let key_uri = k.key_uri.replace(&k.key.kid.to_string(), &key.kid.to_string());
                Aes128Key { key, key_uri }
            }),
        },
    }
}

fn map_keys<K, L>(keys: &TrackKeys<K>, f: impl Fn(&K) -> L) -> TrackKeys<L> {
    TrackKeys { default: f(&keys.default), rules: keys.rules.iter().map(|(s, k)| (*s, f(k))).collect() }
}

/// The init segment URI of period `period` from period 0's
/// (`video_1/init.mp4` → `video_1/init-2.mp4`).
pub fn period_init_uri(init_uri: &str, period: u32) -> String {
    if period == 0 {
        return init_uri.to_owned();
    }
    match init_uri.strip_suffix("init.mp4") {
        Some(dir) => format!("{dir}init-{period}.mp4"),
        None => format!("{init_uri}-{period}"),
    }
}

/// The lowest and highest segment numbers of `p`'s audio and video
/// tracks; `None` when they have no segment.
fn number_range(p: &Presentation) -> Option<(u64, u64)> {
    let numbered = p.tracks.iter().filter(|t| !t.is_text() && !t.segments.is_empty());
    let lo = numbered.clone().map(|t| t.start_number).min()?;
    let hi = numbered.map(|t| t.start_number.saturating_add(t.segments.len() as u64 - 1)).max()?;
    Some((lo, hi))
}

/// `t` with only its segments numbered `first..first + len`, and their key
/// frame ends.
fn trim(mut t: Track, first: u64, len: u64) -> Track {
    let end = first.saturating_add(len);
    let number = |i: usize| t.start_number.saturating_add(i as u64);
    let from = (0..t.segments.len()).find(|&i| number(i) >= first).unwrap_or(t.segments.len());
    let to = (from..t.segments.len()).find(|&i| number(i) >= end).unwrap_or(t.segments.len());
    t.start_number = number(from);
    t.segments = t.segments.get(from..to).map(<[_]>::to_vec).unwrap_or_default();
    t.key_frame_ends = t.key_frame_ends.get(from..to).map(<[_]>::to_vec).unwrap_or_default();
    t
}

impl OriginAsset {
    /// [`OriginAsset::get_with`] for a locator whose keys rotate: the
    /// manifests signal each period's key, and init and media segments are
    /// protected with their period's key. Period inits are
    /// [`Resource::PeriodInit`]; I-frame playlists do not exist here.
    pub fn get_rotated(
        &self,
        protection: &Protection,
        rotation: KeyRotation,
        resource: &Resource,
        utc_timing_url: Option<&str>,
    ) -> Result<Option<Vec<u8>>> {
        if self.index.tracks.is_empty() {
            return Ok(None);
        }
        let len = rotation.period_len(&self.index);
        let count = period_count(&self.index, len);
        // The periods the manifests reach into: all of a VOD title, those
        // of a live title's time-shift window.
        let base = self.rotated_presentation(protection, utc_timing_url)?;
        let Some((lo, hi)) = number_range(&base) else {
            return self.get_with(protection, resource, utc_timing_url);
        };
        let (first_period, last_period) = (period_of(len, lo), period_of(len, hi));
        let presentation = |k: u32| -> Result<Presentation> {
            match k {
                0 => Ok(base.clone()),
                k => self.rotated_presentation(&period_protection(protection, k), utc_timing_url),
            }
        };
        match resource {
            Resource::Mpd => {
                let mut periods = Vec::new();
                for k in first_period..=last_period {
                    let p = presentation(k)?;
                    let first = u64::from(k) * len + 1;
                    let tracks: Vec<Track> = p
                        .tracks
                        .iter()
                        .cloned()
                        .map(|t| {
                            let mut t = trim(t, first, len);
                            t.init_uri = period_init_uri(&t.init_uri, k);
                            t
                        })
                        .filter(|t| !t.segments.is_empty())
                        .collect();
                    // Period 0 starts at media time 0, as the MPD of one
                    // period does; a later one at its earliest segment.
                    let start_secs = match k {
                        0 => 0.0,
                        _ => tracks
                            .iter()
                            .filter(|t| !t.is_text())
                            .filter_map(|t| Some(t.segments.first()?.start as f64 / f64::from(t.timescale.max(1))))
                            .fold(f64::INFINITY, f64::min),
                    };
                    if tracks.is_empty() || !start_secs.is_finite() {
                        continue;
                    }
                    periods.push(MpdPeriod { id: k, presentation: Presentation { tracks, ..p }, start_secs });
                }
                base.validate().map_err(|e| crate::Error::Segment(format!("manifest: {e}")))?;
                Ok(Some(write_mpd_periods(&base, Some(&periods)).into_bytes()))
            }
            Resource::Master => {
                // Session keys: those of the first period listed.
                let p = presentation(first_period)?;
                let files = package::manifest_files(&p, false, true)?;
                Ok(files.into_iter().find(|(name, _)| name == "master.m3u8").map(|(_, text)| text.into_bytes()))
            }
            Resource::MediaPlaylist { track } => {
                let Some(open) = self.entries.get(track) else {
                    return Ok(None);
                };
                let Some(meta) = self.index.tracks.iter().position(|m| &m.name == track) else {
                    return Ok(None);
                };
                let Some(first) = base.tracks.get(meta).filter(|t| !t.segments.is_empty()) else {
                    return self.get_with(protection, resource, utc_timing_url);
                };
                // The playlist opens with the key (and init) of its first
                // segment's period, then changes at each later period.
                let last = first.start_number.saturating_add(first.segments.len() as u64 - 1);
                let (p0, p_last) = (period_of(len, first.start_number), period_of(len, last));
                let p = presentation(p0)?;
                let Some(t) = p.tracks.get(meta) else {
                    return Ok(None);
                };
                let common = t.protection.is_some() && !open.text;
                let init_uri = if common { period_init_uri("init.mp4", p0) } else { "init.mp4".into() };
                let mut changes = Vec::new();
                for k in p0.saturating_add(1)..=p_last {
                    let first = u64::from(k) * len + 1;
                    let Some(index) = (0..t.segments.len()).find(|&i| t.start_number.saturating_add(i as u64) >= first) else {
                        break;
                    };
                    let mut signalled = t.clone();
                    self.setup(&period_protection(protection, k), track)?.signal(&mut signalled);
                    let init_uri = common.then(|| period_init_uri("init.mp4", k));
                    changes.push(KeyChange { index, init_uri, keys: signalled.hls_keys });
                }
                Ok(Some(package::media_playlist_with_keys(&p, t, &init_uri, &changes).into_bytes()))
            }
            Resource::IframePlaylist { .. } => Ok(None),
            Resource::Init { track } => self.period_init(protection, track, 0),
            Resource::PeriodInit { track, period } => {
                if *period >= count {
                    return Ok(None);
                }
                self.period_init(protection, track, *period)
            }
            Resource::Segment { number, .. } => {
                let period = period_of(len, u64::from(*number));
                self.get_with(&period_protection(protection, period), resource, utc_timing_url)
            }
            Resource::TextSegment { .. } | Resource::Sidecar { .. } => self.get_with(protection, resource, utc_timing_url),
        }
    }

    /// The presentation with period 0's signalling and no I-frame
    /// playlists.
    fn rotated_presentation(&self, protection: &Protection, utc_timing_url: Option<&str>) -> Result<Presentation> {
        let mut p = self.presentation_with(protection, utc_timing_url)?;
        for t in &mut p.tracks {
            t.key_frame_ends.clear();
        }
        Ok(p)
    }

    fn period_init(&self, protection: &Protection, track: &str, period: u32) -> Result<Option<Vec<u8>>> {
        let Some(t) = self.entries.get(track) else {
            return Ok(None);
        };
        Ok(Some(self.setup(&period_protection(protection, period), track)?.init(&t.clear_init)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cenc::{ContentKey, Key, KeyId};

    fn key(b: u8) -> ContentKey {
        ContentKey { kid: KeyId([b; 16]), key: Key::new([b ^ 0x5a; 16]) }
    }

    #[test]
    fn periods_by_segment_number() {
        assert_eq!(period_of(2, 1), 0);
        assert_eq!(period_of(2, 2), 0);
        assert_eq!(period_of(2, 3), 1);
        assert_eq!(period_of(2, 5), 2);
        assert_eq!(period_of(0, 5), 4);
        assert_eq!(period_of(1, u64::MAX), u32::MAX);
    }

    #[test]
    fn period_init_uris() {
        assert_eq!(period_init_uri("video_1/init.mp4", 0), "video_1/init.mp4");
        assert_eq!(period_init_uri("video_1/init.mp4", 3), "video_1/init-3.mp4");
        assert_eq!(period_init_uri("init.mp4", 1), "init-1.mp4");
    }

    #[test]
    fn aes128_uris_follow_the_period_key() {
        let base = key(1);
        let uri = format!("https://k.example/keys/v1/aes/{}?x=1", base.kid);
        let p = Protection::aes128(base.clone(), uri);
        let Protection::Aes128 { keys } = period_protection(&p, 2) else { panic!("aes128") };
        let derived = base.for_period(2);
        assert_eq!(keys.default.key.kid, derived.kid);
        assert_eq!(keys.default.key_uri, format!("https://k.example/keys/v1/aes/{}?x=1", derived.kid));
        let Protection::Aes128 { keys } = period_protection(&p, 0) else { panic!("aes128") };
        assert_eq!(keys.default.key.kid, base.kid);
    }

    #[test]
    fn trim_keeps_numbers() {
        let mut t = crate::manifest::test_model::video(1, "avc1.64001f", 640, 360);
        t.segments = (0..5).map(|i| crate::manifest::SegmentTime { start: i * 100, duration: 100 }).collect();
        t.start_number = 1;
        let p1 = trim(t.clone(), 3, 2);
        assert_eq!(p1.start_number, 3);
        assert_eq!(p1.segments.iter().map(|s| s.start).collect::<Vec<_>>(), [200, 300]);
        let p2 = trim(t.clone(), 5, 2);
        assert_eq!(p2.segments.len(), 1);
        assert!(trim(t, 7, 2).segments.is_empty());
    }
}
