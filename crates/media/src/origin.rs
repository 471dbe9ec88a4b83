//! Dynamic packaging: a stored clear asset served as DASH and HLS with the
//! protection of a streaming locator applied when a player asks.
//!
//! Every response is a pure function of (asset, protection, request): the
//! same locator and segment always give the same bytes, and they are the
//! bytes `castguard package` writes with the same keys and settings (both
//! go through [`TrackSetup`] and [`manifest_files`]). A segment request reads
//! only that segment's clear file.
//!
//! Opening an asset reads `index.json` and each track's clear init segment
//! (kept in memory: a few KB). Where they come from is the caller's
//! business: [`OriginAsset::open`] reads a local folder, and
//! [`OriginAsset::from_parts`] takes bytes fetched from object storage. A
//! media segment is "read clear bytes" ([`OriginAsset::segment_file`] names
//! the file; [`OriginAsset::segment_into`] reads a local one) then "protect
//! in place" ([`TrackSetup::segment_at`], CPU only), so an async
//! caller can fetch the bytes and protect them on a blocking thread.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use bmff::{Atom, Moov, SampleEntry};

use crate::asset::{AssetIndex, IndexTrackKind};
use crate::error::{Error, Result};
use crate::manifest::Presentation;
use crate::package::{self, Protection, TrackSetup};
use crate::track_class::TrackClass;

/// A stored asset opened for serving: its index and each track's clear
/// sample entry (what protection of the init segment starts from).
#[derive(Debug, Clone)]
pub struct OriginAsset {
    /// The local folder the asset was opened from, if any.
    dir: Option<PathBuf>,
    pub index: AssetIndex,
    pub(crate) entries: HashMap<String, OpenTrack>,
}

/// A track of an opened asset: what protection of its init segment and
/// media segments starts from.
#[derive(Debug, Clone)]
pub(crate) struct OpenTrack {
    id: u32,
    /// The key class, from the index's size (the sample entry's).
    class: TrackClass,
    entry: SampleEntry,
    pub(crate) clear_init: Vec<u8>,
    /// A text track: served clear whatever the locator's protection.
    pub(crate) text: bool,
}

/// What a path below a locator names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Mpd,
    Master,
    MediaPlaylist { track: String },
    /// HLS I-frame playlist of a video track (trick play).
    IframePlaylist { track: String },
    Init { track: String },
    /// `<track>/init-<p>.mp4`: the init segment of key period `p` (from 1)
    /// of a locator whose keys rotate ([`crate::rotation`]).
    PeriodInit { track: String, period: u32 },
    Segment { track: String, number: u32 },
    /// `<text track>/<n>.vtt`: an HLS WebVTT segment.
    TextSegment { track: String, number: u32 },
    /// `<text track>/subtitles.vtt`: the whole file (DASH sidecar).
    Sidecar { track: String },
}

impl Resource {
    /// Parses `manifest.mpd`, `master.m3u8`, `<track>/playlist.m3u8`,
    /// `<track>/iframes.m3u8`,
    /// `<track>/init.mp4` and `<track>/<n>.m4s`. Anything else — other
    /// names, `..`, empty parts, leading zeros, numbers past `u32` — is
    /// `None`, so a path can never reach outside the asset folder.
    pub fn parse(path: &str) -> Option<Resource> {
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["manifest.mpd"] => Some(Resource::Mpd),
            ["master.m3u8"] => Some(Resource::Master),
            [track, file] if is_track_name(track) => {
                let track = (*track).to_owned();
                match *file {
                    "playlist.m3u8" => Some(Resource::MediaPlaylist { track }),
                    "iframes.m3u8" => Some(Resource::IframePlaylist { track }),
                    "init.mp4" => Some(Resource::Init { track }),
                    _ if file.starts_with("init-") && file.ends_with(".mp4") => {
                        let digits = &file["init-".len()..file.len() - ".mp4".len()];
                        let period = positive_number(digits)?;
                        Some(Resource::PeriodInit { track, period })
                    }
                    "subtitles.vtt" if track.starts_with("text_") => Some(Resource::Sidecar { track }),
                    _ => {
                        let (digits, vtt) = match file.strip_suffix(".m4s") {
                            Some(d) => (d, false),
                            None if track.starts_with("text_") => (file.strip_suffix(".vtt")?, true),
                            None => return None,
                        };
                        let number = positive_number(digits)?;
                        Some(if vtt { Resource::TextSegment { track, number } } else { Resource::Segment { track, number } })
                    }
                }
            }
            _ => None,
        }
    }
}

/// Decimal digits without a leading zero that fit a `u32` and are not 0.
fn positive_number(digits: &str) -> Option<u32> {
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn is_track_name(s: &str) -> bool {
    let digits = s.strip_prefix("video_").or_else(|| s.strip_prefix("audio_")).or_else(|| s.strip_prefix("text_"));
    digits.is_some_and(|d| !d.is_empty() && d.len() <= 10 && d.bytes().all(|b| b.is_ascii_digit()))
}

impl OriginAsset {
    /// Opens the asset stored in the local folder `dir`.
    pub fn open(dir: &Path) -> Result<OriginAsset> {
        let index = AssetIndex::load(dir)?;
        let mut asset = OriginAsset::from_parts(index, |name| {
            let path = dir.join(name).join("init.mp4");
            fs::read(&path).map_err(|e| Error::io(&path, e))
        })?;
        asset.dir = Some(dir.to_owned());
        Ok(asset)
    }

    /// An asset from its index and, per track, the bytes of its clear init
    /// segment (`init` is called with each track's folder name, after the
    /// name is checked). Segments are then read by the caller
    /// ([`OriginAsset::segment_file`]).
    pub fn from_parts(index: AssetIndex, mut init: impl FnMut(&str) -> Result<Vec<u8>>) -> Result<OriginAsset> {
        let mut entries = HashMap::new();
        for t in &index.tracks {
            if !is_track_name(&t.name) {
                return Err(Error::Segment(format!("asset index: bad track name '{}'", t.name)));
            }
            let clear_init = init(&t.name)?;
            let entry = clear_sample_entry(&clear_init)
                .map_err(|e| Error::track(t.id, format!("{}/init.mp4: {e}", t.name)))?;
            let class = match t.kind {
                IndexTrackKind::Video { width, height, .. } => TrackClass::video(width, height),
                // Text is never encrypted (see `setup`); its class is moot.
                IndexTrackKind::Audio { .. } | IndexTrackKind::Text { .. } => TrackClass::Audio,
            };
            let text = matches!(t.kind, IndexTrackKind::Text { .. });
            entries.insert(t.name.clone(), OpenTrack { id: t.id, class, entry, clear_init, text });
        }
        Ok(OriginAsset { dir: None, index, entries })
    }

    /// The clear file of media segment `number` of `track`, relative to the
    /// asset (`video_1/3.m4s`); `None` when the asset has no such segment.
    pub fn segment_file(&self, track: &str, number: u32) -> Option<String> {
        let meta = self.index.track(track)?;
        if !holds(meta, number) || !self.entries.contains_key(track) {
            return None;
        }
        Some(format!("{track}/{number}.m4s"))
    }

    /// The WebVTT file of a text track, relative to the asset:
    /// `text_3/2.vtt` for segment 2, `text_3/subtitles.vtt` for `None`;
    /// `None` when the asset has no such text track or segment.
    pub fn text_file(&self, track: &str, number: Option<u32>) -> Option<String> {
        let meta = self.index.track(track)?;
        if !self.entries.get(track).is_some_and(|t| t.text) {
            return None;
        }
        match number {
            None => Some(format!("{track}/subtitles.vtt")),
            Some(n) if holds(meta, n) => Some(format!("{track}/{n}.vtt")),
            Some(_) => None,
        }
    }

    pub(crate) fn setup(&self, protection: &Protection, track: &str) -> Result<TrackSetup> {
        let t = self.entries.get(track).ok_or_else(|| Error::Segment(format!("no track {track}")))?;
        let protection = if t.text { &Protection::Clear } else { protection };
        TrackSetup::new(protection, t.id, t.class, &t.entry)
    }

    /// The protection of one track (key schedule, PSSH, signalling), to be
    /// built once and reused for many [`OriginAsset::segment_into`] calls;
    /// `Ok(None)` when the asset has no such track.
    pub fn track_setup(&self, protection: &Protection, track: &str) -> Result<Option<TrackSetup>> {
        if !self.entries.contains_key(track) {
            return Ok(None);
        }
        self.setup(protection, track).map(Some)
    }

    /// Media segment `number` of `track` as served with `setup` (from
    /// [`OriginAsset::track_setup`] for the same track), written into `buf`,
    /// whose allocation is reused: it is `buf[returned..]`. The clear file
    /// is mapped, not read: its bytes are copied once, out of the page
    /// cache into `buf`, and each sample is encrypted right after its copy
    /// ([`TrackSetup::segment_from`]). `Ok(None)` (and `buf` empty) when the
    /// segment does not exist. Local assets only ([`OriginAsset::open`]);
    /// others read [`OriginAsset::segment_file`] themselves and call
    /// [`TrackSetup::segment_at`].
    pub fn segment_into(&self, setup: &TrackSetup, track: &str, number: u32, buf: &mut Vec<u8>) -> Result<Option<usize>> {
        buf.clear();
        let Some(path) = self.local_segment(track, number)? else {
            return Ok(None);
        };
        with_mapped(&path, |clear| setup.segment_from(number, clear, buf))?;
        Ok(Some(0))
    }

    /// The size of media segment `number` of `track` as served with
    /// `setup`, without encrypting it: a `stat` of the clear file, which is
    /// also mapped and parsed under Common Encryption (its `senc` depends on
    /// the samples). `Ok(None)` when the segment does not exist. Local
    /// assets only.
    pub fn segment_len(&self, setup: &TrackSetup, track: &str, number: u32) -> Result<Option<u64>> {
        let Some(path) = self.local_segment(track, number)? else {
            return Ok(None);
        };
        let len = fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len();
        if let Some(n) = setup.segment_len_of(len) {
            return Ok(Some(n));
        }
        with_mapped(&path, |clear| setup.segment_len(clear)).map(Some)
    }

    /// The local path of media segment `number` of `track`; `None` when
    /// the asset has no such segment. Local assets only.
    pub fn local_segment(&self, track: &str, number: u32) -> Result<Option<PathBuf>> {
        let Some(file) = self.segment_file(track, number) else {
            return Ok(None);
        };
        let Some(dir) = &self.dir else {
            return Err(Error::Segment(format!("{file}: asset not on local files")));
        };
        Ok(Some(dir.join(file)))
    }

    /// The presentation with `protection` signalled on every track.
    pub fn presentation(&self, protection: &Protection) -> Result<Presentation> {
        self.presentation_with(protection, None)
    }

    /// [`OriginAsset::presentation`], live while the asset is a live
    /// recording that has not ended: its tracks then hold only the
    /// time-shift window, and DASH points players at `utc_timing_url` for
    /// the server's clock.
    pub fn presentation_with(&self, protection: &Protection, utc_timing_url: Option<&str>) -> Result<Presentation> {
        let mut p = self.index.presentation();
        for (track, meta) in p.tracks.iter_mut().zip(&self.index.tracks) {
            self.setup(protection, &meta.name)?.signal(track);
            track.key_frame_ends =
                meta.key_frame_ends.as_ref().map(|k| k.for_protection(protection).to_vec()).unwrap_or_default();
        }
        p.live = self.index.live.as_ref().and_then(|l| l.manifest_timing(&self.index, utc_timing_url));
        if let Some(live) = &p.live {
            for t in &mut p.tracks {
                live.window(t);
            }
        }
        Ok(p)
    }

    /// Serves one resource; `Ok(None)` when it does not exist (unknown
    /// track, segment number past the end, a live asset with no segment
    /// yet).
    pub fn get(&self, protection: &Protection, resource: &Resource) -> Result<Option<Vec<u8>>> {
        self.get_with(protection, resource, None)
    }

    /// [`OriginAsset::get`] with the URL of the server's clock for live
    /// MPDs ([`OriginAsset::presentation_with`]).
    pub fn get_with(&self, protection: &Protection, resource: &Resource, utc_timing_url: Option<&str>) -> Result<Option<Vec<u8>>> {
        if self.index.tracks.is_empty() {
            return Ok(None);
        }
        match resource {
            Resource::Mpd | Resource::Master => {
                let p = self.presentation_with(protection, utc_timing_url)?;
                let dash = matches!(resource, Resource::Mpd);
                let files = package::manifest_files(&p, dash, !dash)?;
                let want = if dash { "manifest.mpd" } else { "master.m3u8" };
                Ok(files.into_iter().find(|(name, _)| name == want).map(|(_, text)| text.into_bytes()))
            }
            Resource::MediaPlaylist { track } => {
                if !self.entries.contains_key(track) {
                    return Ok(None);
                }
                let p = self.presentation_with(protection, utc_timing_url)?;
                let Some(t) = p.tracks.iter().zip(&self.index.tracks).find(|(_, m)| &m.name == track).map(|(t, _)| t) else {
                    return Ok(None);
                };
                Ok(Some(package::media_playlist(&p, t).into_bytes()))
            }
            Resource::IframePlaylist { track } => {
                if !self.entries.contains_key(track) {
                    return Ok(None);
                }
                let p = self.presentation_with(protection, utc_timing_url)?;
                let Some(t) = p.tracks.iter().zip(&self.index.tracks).find(|(_, m)| &m.name == track).map(|(t, _)| t) else {
                    return Ok(None);
                };
                if t.key_frame_ends.is_empty() {
                    return Ok(None);
                }
                Ok(Some(package::iframe_playlist(&p, t).into_bytes()))
            }
            Resource::Init { track } => {
                let Some(t) = self.entries.get(track) else {
                    return Ok(None);
                };
                Ok(Some(self.setup(protection, track)?.init(&t.clear_init)?))
            }
            Resource::Segment { track, number } => {
                if self.segment_file(track, *number).is_none() {
                    return Ok(None);
                }
                let setup = self.setup(protection, track)?;
                let mut buf = Vec::new();
                let Some(at) = self.segment_into(&setup, track, *number, &mut buf)? else {
                    return Ok(None);
                };
                buf.drain(..at);
                Ok(Some(buf))
            }
            Resource::PeriodInit { .. } => Ok(None),
            Resource::TextSegment { track, number } => self.read_text(track, Some(*number)),
            Resource::Sidecar { track } => self.read_text(track, None),
        }
    }

    /// A text track's WebVTT file as stored (local assets only).
    fn read_text(&self, track: &str, number: Option<u32>) -> Result<Option<Vec<u8>>> {
        let Some(file) = self.text_file(track, number) else {
            return Ok(None);
        };
        let Some(dir) = &self.dir else {
            return Err(Error::Segment(format!("{file}: asset not on local files")));
        };
        let path = dir.join(file);
        fs::read(&path).map(Some).map_err(|e| Error::io(&path, e))
    }
}

/// Whether segment `number` of the track is in the index.
fn holds(meta: &crate::asset::IndexTrack, number: u32) -> bool {
    let number = u64::from(number);
    number >= meta.first_segment.max(1) && number - meta.first_segment.max(1) < meta.segments.len() as u64
}

/// Runs `f` on the bytes of the file at `path`, mapped read-only: the
/// page cache itself, with no copy into a buffer first (the origin encrypts
/// while copying out of it, see [`TrackSetup::segment_from`]).
///
/// A mapped file that another process truncates while it is mapped kills
/// the reader with SIGBUS, which is why only files no one rewrites are
/// mapped: media segments, which ingest and the live recorder write to a
/// temporary name and rename into place, and never change afterwards (a
/// new upload is a new folder). An empty file is not mapped (a map of
/// length 0 is an error on Linux).
fn with_mapped<T>(path: &Path, f: impl FnOnce(&[u8]) -> Result<T>) -> Result<T> {
    let file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len == 0 {
        return f(&[]);
    }
    // SAFETY: the map is read-only and private to this call; the file is
    // a media segment, written once under another name and renamed into
    // place, never modified or truncated afterwards (see above), so the
    // bytes cannot change or vanish under the slice.
    let map = unsafe { memmap2::MmapOptions::new().map(&file) }.map_err(|e| Error::io(path, e))?;
    f(&map)
}

/// The sample entry of the one track of a clear CMAF init segment.
fn clear_sample_entry(init: &[u8]) -> Result<SampleEntry> {
    let moov = init_moov(init)?.ok_or_else(|| Error::Segment("init segment without moov".into()))?;
    let trak = moov.traks.first().ok_or_else(|| Error::Segment("init segment without a track".into()))?;
    trak.mdia
        .minf
        .stbl
        .stsd
        .entries
        .first()
        .cloned()
        .ok_or_else(|| Error::Segment("init segment without a sample entry".into()))
}

/// The `moov` of a CMAF header (`ftyp` + `moov`, or `moov` alone);
/// `None` when it has none.
pub(crate) fn init_moov(init: &[u8]) -> Result<Option<Moov>> {
    for item in bmff::iter_boxes(init) {
        let (header, body) = item?;
        if &header.kind.0 == b"moov" {
            let start = body.as_ptr() as usize - init.as_ptr() as usize - usize::from(header.header_len);
            return Ok(Some(Moov::decode(&init[start..start + usize::from(header.header_len) + body.len()])?));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_paths() {
        assert_eq!(Resource::parse("manifest.mpd"), Some(Resource::Mpd));
        assert_eq!(Resource::parse("master.m3u8"), Some(Resource::Master));
        assert_eq!(Resource::parse("video_1/init.mp4"), Some(Resource::Init { track: "video_1".into() }));
        assert_eq!(Resource::parse("audio_2/playlist.m3u8"), Some(Resource::MediaPlaylist { track: "audio_2".into() }));
        assert_eq!(Resource::parse("video_1/iframes.m3u8"), Some(Resource::IframePlaylist { track: "video_1".into() }));
        assert_eq!(Resource::parse("audio_2/17.m4s"), Some(Resource::Segment { track: "audio_2".into(), number: 17 }));
        assert_eq!(Resource::parse("text_3/1.m4s"), Some(Resource::Segment { track: "text_3".into(), number: 1 }));
        assert_eq!(Resource::parse("video_1/init-3.mp4"), Some(Resource::PeriodInit { track: "video_1".into(), period: 3 }));
        assert_eq!(Resource::parse("text_3/2.vtt"), Some(Resource::TextSegment { track: "text_3".into(), number: 2 }));
        assert_eq!(Resource::parse("text_3/subtitles.vtt"), Some(Resource::Sidecar { track: "text_3".into() }));
        for bad in [
            "",
            "/manifest.mpd",
            "../index.json",
            "video_1/../../castguard.db",
            "video_1/0.m4s",
            "video_1/01.m4s",
            "video_1/-1.m4s",
            "video_1/99999999999.m4s",
            "video_1/1.m4s/x",
            "video_/1.m4s",
            "subs_3/1.m4s",
            "video_1/1.vtt",
            "audio_2/subtitles.vtt",
            "text_3/01.vtt",
            "text_3/subtitles.m4s",
            "video_1//1.m4s",
            "video_1/.m4s",
            "video_1/1.M4S",
            "index.json",
            "video_1/init-0.mp4",
            "video_1/init-01.mp4",
            "video_1/init-.mp4",
            "video_1/init-x.mp4",
            "video_1/init-99999999999.mp4",
        ] {
            assert_eq!(Resource::parse(bad), None, "{bad}");
        }
    }
}
