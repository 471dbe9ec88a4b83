//! A stored asset: the one clear copy of a title that every protected
//! stream is derived from (DESIGN.md: "one clear copy of each asset").
//!
//! Ingest turns a title (one or several MP4 files) into clear CMAF, one folder per track (`init.mp4`,
//! `1.m4s`, `2.m4s`, …), plus `index.json` describing tracks and segment
//! timing. The origin builds manifests from the index and encrypts a
//! segment when a player asks for it, reading only that segment's file.
//! The folder is written under a temporary name and renamed at the end, so
//! a failed ingest leaves nothing behind.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::manifest::{self, Presentation, SegmentTime};
use crate::title::Title;
use crate::package::{PackageOptions, Protection};

/// Version of the on-disk layout; bumped when it changes incompatibly.
pub const INDEX_VERSION: u32 = 1;
pub const INDEX_FILE: &str = "index.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetIndex {
    pub version: u32,
    pub duration_secs: f64,
    /// Target segment duration the asset was cut with.
    pub segment_duration_secs: f64,
    pub tracks: Vec<IndexTrack>,
    /// Tracks of the input files that are not in the title, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// DASH `minBufferTime`: the longest segment, 2 s at least; absent
    /// from older indexes (then the target duration, 2 s at least).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_buffer_secs: Option<f64>,
    /// Present on an asset recorded from a live event ([`crate::live`]):
    /// while it has not ended, the origin serves it as live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<crate::live::LiveIndex>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexTrack {
    pub id: u32,
    /// Folder of the track inside the asset, e.g. `video_1`.
    pub name: String,
    pub kind: IndexTrackKind,
    pub codecs: String,
    pub bandwidth: u64,
    pub average_bandwidth: u64,
    /// HLS peak segment bit rate; absent from older indexes (0: use `bandwidth`).
    #[serde(default)]
    pub hls_peak_bandwidth: u64,
    pub timescale: u32,
    /// `[start, duration]` of each segment in track ticks; the first is
    /// the file `{first_segment}.m4s`, the next `{first_segment + 1}.m4s`...
    pub segments: Vec<[u64; 2]>,
    /// Number of the first segment: 1, except in a live recording whose
    /// archive window let older segments go.
    #[serde(default = "first_number", skip_serializing_if = "is_first_number")]
    pub first_segment: u64,
    /// Largest SAP type its segments start with (1 in older indexes).
    #[serde(default = "closed_gop", skip_serializing_if = "is_closed_gop")]
    pub sap_type: u8,
    /// Closed captions in the video; absent when none, and from older
    /// indexes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captions: Option<crate::captions::Captions>,
    /// Name of the input file the track came from (a title may have several).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Video: where each segment's key frame ends, per form the origin
    /// serves (HLS I-frame playlists); absent from older indexes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_frame_ends: Option<KeyFrameEnds>,
}

/// Per segment, bytes from its start to the end of its first sample (a key
/// frame) in the clear segment and in the `cenc` and `cbcs` forms of it.
/// Protection adds `senc`/`saiz`/`saio` to the `moof`, whose sizes depend
/// on the scheme and the samples but not on the key, so ingest can know
/// them for every locator the asset will ever be streamed by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFrameEnds {
    pub clear: Vec<u64>,
    pub cenc: Vec<u64>,
    pub cbcs: Vec<u64>,
}

impl KeyFrameEnds {
    /// The ends for segments served with `protection`; empty where there
    /// are none (HLS AES-128).
    pub fn for_protection(&self, protection: &Protection) -> &[u64] {
        match protection {
            Protection::Clear => &self.clear,
            Protection::Common(c) if c.scheme == cenc::Scheme::Cenc => &self.cenc,
            Protection::Common(_) => &self.cbcs,
            Protection::Aes128 { .. } => &[],
        }
    }

    /// Measures them on the clear segments `1.m4s`, `2.m4s`, ... of one
    /// video track in `dir`.
    fn measure(dir: &Path, track_id: u32, entry: &bmff::SampleEntry, segments: usize) -> Result<KeyFrameEnds> {
        let mut ends = KeyFrameEnds::default();
        for n in 1..=segments {
            let path = dir.join(format!("{n}.m4s"));
            let clear = fs::read(&path).map_err(|e| Error::io(&path, e))?;
            ends.push(track_id, entry, clear)?;
        }
        Ok(ends)
    }

    /// Measures one more clear segment (`clear`) of a video track.
    pub(crate) fn push(&mut self, track_id: u32, entry: &bmff::SampleEntry, clear: Vec<u8>) -> Result<()> {
        // Any key: the layout does not depend on it.
        let key = cenc::ContentKey { kid: cenc::KeyId([0; 16]), key: cenc::Key::new([0; 16]) };
        let cenc_p = crate::protect::TrackProtector::new(track_id, entry, &key, cenc::Scheme::Cenc)?;
        let cbcs_p = crate::protect::TrackProtector::new(track_id, entry, &key, cenc::Scheme::Cbcs)?;
        self.clear.push(crate::cmaf::first_sample_end(&clear)?);
        self.cenc.push(crate::cmaf::first_sample_end(&cenc_p.protected_layout(clear.clone())?)?);
        self.cbcs.push(crate::cmaf::first_sample_end(&cbcs_p.protected_layout(clear)?)?);
        Ok(())
    }

    /// Forgets the first `n` segments' ends.
    pub(crate) fn drop_front(&mut self, n: usize) {
        for v in [&mut self.clear, &mut self.cenc, &mut self.cbcs] {
            v.drain(..n.min(v.len()));
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum IndexTrackKind {
    #[serde(rename_all = "camelCase")]
    Video {
        width: u32,
        height: u32,
        frame_rate: Option<(u32, u32)>,
        #[serde(default)]
        sar: Option<(u32, u32)>,
        /// The highest rate of a variable frame rate (`frame_rate` is then
        /// the average); absent when constant, and from older indexes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_frame_rate: Option<(u32, u32)>,
        /// Coded as fields; absent when progressive, and from older indexes.
        #[serde(default, skip_serializing_if = "is_false")]
        interlaced: bool,
        /// The picture the track shows (0: the main one); absent for the
        /// main picture, and from older indexes (which had only one).
        #[serde(default, skip_serializing_if = "is_zero")]
        picture: u32,
    },
    #[serde(rename_all = "camelCase")]
    Audio {
        sample_rate: u32,
        channels: u16,
        language: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dolby_channel_map: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        joc_complexity: Option<u8>,
    },
    /// Subtitles or captions: `wvtt` segments, WebVTT segments and
    /// `subtitles.vtt` in the track's folder, served as stored (clear).
    #[serde(rename_all = "camelCase")]
    Text {
        language: String,
        role: crate::text::TextRole,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
}

impl IndexTrackKind {
    /// The index form of a manifest track kind.
    pub(crate) fn of(kind: &manifest::TrackKind) -> IndexTrackKind {
        match kind {
            manifest::TrackKind::Video { width, height, frame_rate, max_frame_rate, sar, interlaced, picture } => {
                IndexTrackKind::Video {
                    width: *width,
                    height: *height,
                    frame_rate: *frame_rate,
                    sar: *sar,
                    max_frame_rate: *max_frame_rate,
                    interlaced: *interlaced,
                    picture: *picture,
                }
            }
            manifest::TrackKind::Audio { sample_rate, channels, language, dolby_channel_map, joc_complexity } => {
                IndexTrackKind::Audio {
                    sample_rate: *sample_rate,
                    channels: *channels,
                    language: language.clone(),
                    dolby_channel_map: *dolby_channel_map,
                    joc_complexity: *joc_complexity,
                }
            }
            manifest::TrackKind::Text { language, role, label } => {
                IndexTrackKind::Text { language: language.clone(), role: *role, label: label.clone() }
            }
        }
    }
}

fn first_number() -> u64 {
    1
}

fn is_first_number(n: &u64) -> bool {
    *n == 1
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl AssetIndex {
    /// Reads `dir/index.json`.
    pub fn load(dir: &Path) -> Result<AssetIndex> {
        let path = dir.join(INDEX_FILE);
        let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
        Self::parse(&bytes, &path.display().to_string())
    }

    /// Parses the bytes of an `index.json` (`what` names it in errors).
    pub fn parse(bytes: &[u8], what: &str) -> Result<AssetIndex> {
        let index: AssetIndex = serde_json::from_slice(bytes).map_err(|e| Error::Segment(format!("{what}: {e}")))?;
        if index.version != INDEX_VERSION {
            return Err(Error::Unsupported(format!("asset index version {} (this build reads {INDEX_VERSION})", index.version)));
        }
        Ok(index)
    }

    pub fn track(&self, name: &str) -> Option<&IndexTrack> {
        self.tracks.iter().find(|t| t.name == name)
    }

    /// The clear presentation, URIs relative to the asset folder; callers
    /// add protection and rewrite URIs per streaming locator.
    pub fn presentation(&self) -> Presentation {
        Presentation {
            live: None,
            duration_secs: self.duration_secs,
            min_buffer_secs: self.min_buffer_secs.unwrap_or(self.segment_duration_secs.max(2.0)),
            tracks: self
                .tracks
                .iter()
                .map(|t| manifest::Track {
                    id: t.id,
                    kind: match &t.kind {
                        IndexTrackKind::Video { width, height, frame_rate, sar, max_frame_rate, interlaced, picture } => {
                            manifest::TrackKind::Video {
                                width: *width,
                                height: *height,
                                frame_rate: *frame_rate,
                                max_frame_rate: *max_frame_rate,
                                sar: *sar,
                                interlaced: *interlaced,
                                picture: *picture,
                            }
                        }
                        IndexTrackKind::Audio { sample_rate, channels, language, dolby_channel_map, joc_complexity } => manifest::TrackKind::Audio {
                            sample_rate: *sample_rate,
                            channels: *channels,
                            dolby_channel_map: *dolby_channel_map,
                            joc_complexity: *joc_complexity,
                            // Indexes written before BCP 47 tags hold `eng`.
                            language: language
                                .as_deref()
                                .map(|l| crate::language::bcp47(l).unwrap_or_else(|| l.to_owned()))
                                .filter(|l| l != "und"),
                        },
                        IndexTrackKind::Text { language, role, label } => {
                            manifest::TrackKind::Text { language: language.clone(), role: *role, label: label.clone() }
                        }
                    },
                    codecs: t.codecs.clone(),
                    bandwidth: t.bandwidth,
                    average_bandwidth: t.average_bandwidth,
                    hls_peak_bandwidth: if t.hls_peak_bandwidth == 0 { t.bandwidth } else { t.hls_peak_bandwidth },
                    timescale: t.timescale,
                    segments: t.segments.iter().map(|&[start, duration]| SegmentTime { start, duration }).collect(),
                    init_uri: format!("{}/init.mp4", t.name),
                    media_uri_template: format!("{}/$Number$.m4s", t.name),
                    start_number: t.first_segment,
                    discontinuity_sequence: self.live.as_ref().map(|l| {
                        l.bindings
                            .iter()
                            .find(|b| b.track == t.name)
                            .map_or(0, |b| b.discontinuities)
                    }),
                    protection: None,
                    hls_keys: Vec::new(),
                    key_frame_ends: t.key_frame_ends.as_ref().map(|k| k.clear.clone()).unwrap_or_default(),
                    sap_type: t.sap_type,
                    captions: t.captions.clone(),
                })
                .collect(),
        }
    }

    fn from_presentation(p: &Presentation, segment_duration_secs: f64) -> AssetIndex {
        AssetIndex {
            version: INDEX_VERSION,
            duration_secs: p.duration_secs,
            segment_duration_secs,
            notes: Vec::new(),
            tracks: p
                .tracks
                .iter()
                .map(|t| IndexTrack {
                    id: t.id,
                    name: t.init_uri.split('/').next().unwrap_or_default().to_owned(),
                    kind: IndexTrackKind::of(&t.kind),
                    codecs: t.codecs.clone(),
                    bandwidth: t.bandwidth,
                    average_bandwidth: t.average_bandwidth,
                    hls_peak_bandwidth: t.hls_peak_bandwidth,
                    timescale: t.timescale,
                    segments: t.segments.iter().map(|s| [s.start, s.duration]).collect(),
                    first_segment: 1,
                    file: None,
                    key_frame_ends: None,
                    sap_type: t.sap_type,
                    captions: t.captions.clone(),
                })
                .collect(),
            min_buffer_secs: Some(p.min_buffer_secs),
            live: None,
        }
    }
}

fn closed_gop() -> u8 {
    1
}

fn is_closed_gop(t: &u8) -> bool {
    *t == 1
}

/// Ingests the title made of the files `srcs` (one or several: a ladder's
/// renditions, audio apart) into `asset_dir`, which must not exist yet.
pub fn ingest<P: AsRef<Path>>(srcs: &[P], asset_dir: &Path, segment_duration_secs: f64) -> Result<AssetIndex> {
    ingest_with_text(srcs, &[], asset_dir, segment_duration_secs)
}

/// [`ingest`] with subtitle sidecars ([`crate::text::TextInput`]).
pub fn ingest_with_text<P: AsRef<Path>>(
    srcs: &[P],
    texts: &[crate::text::TextInput],
    asset_dir: &Path,
    segment_duration_secs: f64,
) -> Result<AssetIndex> {
    if asset_dir.exists() {
        return Err(Error::Segment(format!("{} already exists", asset_dir.display())));
    }
    let mut title = Title::open(srcs)?;
    title.add_texts(texts)?;
    let staging = staging_path(asset_dir)?;
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    let result = (|| {
        let opts = PackageOptions { segment_duration: segment_duration_secs, protection: Protection::Clear, dash: false, hls: false };
        let summary = crate::package::package(&title, &opts, &staging, &|_| {})?;
        let mut index = AssetIndex::from_presentation(&summary.presentation, segment_duration_secs);
        index.notes = title.notes.clone();
        index.notes.extend(summary.warnings.iter().cloned());
        for (t, (movie, track)) in index.tracks.iter_mut().zip(title.iter()) {
            t.file = movie.path().file_name().map(|n| n.to_string_lossy().into_owned());
            if let (IndexTrackKind::Video { .. }, Some(entry)) = (&t.kind, track.sample_entry()) {
                t.key_frame_ends = Some(KeyFrameEnds::measure(&staging.join(&t.name), t.id, entry, t.segments.len())?);
            }
        }
        let json = serde_json::to_vec_pretty(&index).map_err(|e| Error::Segment(format!("index: {e}")))?;
        let path = staging.join(INDEX_FILE);
        fs::write(&path, json).map_err(|e| Error::io(&path, e))?;
        fs::rename(&staging, asset_dir).map_err(|e| Error::io(asset_dir, e))?;
        Ok(index)
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result
}

fn staging_path(asset_dir: &Path) -> Result<PathBuf> {
    let name = asset_dir
        .file_name()
        .ok_or_else(|| Error::Segment(format!("{}: not a folder name", asset_dir.display())))?
        .to_string_lossy()
        .into_owned();
    let parent = asset_dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Ok(parent.join(format!(".{name}.ingest-{}", std::process::id())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trips_through_json() {
        let index = AssetIndex {
            version: INDEX_VERSION,
            notes: Vec::new(),
            min_buffer_secs: None,
            live: None,
            duration_secs: 10.0,
            segment_duration_secs: 4.0,
            tracks: vec![
                IndexTrack {
                    id: 1,
                    name: "video_1".into(),
                    kind: IndexTrackKind::Video {
                        width: 640,
                        height: 360,
                        frame_rate: Some((4675, 249)),
                        sar: Some((1, 1)),
                        max_frame_rate: Some((25, 1)),
                        interlaced: true,
                        picture: 1,
                    },
                    codecs: "avc1.64001e".into(),
                    bandwidth: 500_000,
                    average_bandwidth: 400_000,
                    hls_peak_bandwidth: 520_000,
                    timescale: 12800,
                    segments: vec![[0, 51200], [51200, 51200], [102400, 25600]],
                    first_segment: 1,
                    file: Some("movie.mp4".into()),
                    key_frame_ends: None,
                    sap_type: 1,
                    captions: None,
                },
                IndexTrack {
                    id: 2,
                    name: "audio_2".into(),
                    kind: IndexTrackKind::Audio {
                        sample_rate: 48000,
                        channels: 2,
                        language: Some("eng".into()),
                        dolby_channel_map: None,
                        joc_complexity: None,
                    },
                    codecs: "mp4a.40.2".into(),
                    bandwidth: 100_000,
                    average_bandwidth: 96_000,
                    hls_peak_bandwidth: 101_000,
                    timescale: 48000,
                    segments: vec![[0, 192512]],
                    first_segment: 1,
                    file: None,
                    key_frame_ends: None,
                    sap_type: 1,
                    captions: None,
                },
            ],
        };
        let json = serde_json::to_string(&index).expect("serialize");
        let back: AssetIndex = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, index);
        let p = index.presentation();
        assert_eq!(p.tracks[0].init_uri, "video_1/init.mp4");
        assert_eq!(p.tracks[1].segments.len(), 1);
        // An index from before BCP 47 tags: `eng` is announced as `en`.
        assert!(matches!(&p.tracks[1].kind, manifest::TrackKind::Audio { language: Some(l), .. } if l == "en"));
        assert!(p.validate().is_ok());
    }

    #[test]
    fn index_without_sar_and_hls_peak_still_loads() {
        let json = br#"{"version":1,"durationSecs":4.0,"segmentDurationSecs":4.0,"tracks":[{"id":1,"name":"video_1",
            "kind":{"type":"video","width":640,"height":360,"frameRate":[25,1]},"codecs":"avc1.64001e",
            "bandwidth":500000,"averageBandwidth":400000,"timescale":12800,"segments":[[0,51200]]}]}"#;
        let p = AssetIndex::parse(json, "old index").expect("old index loads").presentation();
        assert_eq!(p.tracks[0].hls_peak_bandwidth, 500_000, "falls back to the DASH figure");
        assert!(matches!(p.tracks[0].kind, manifest::TrackKind::Video { sar: None, .. }));
        assert!(matches!(
            p.tracks[0].kind,
            manifest::TrackKind::Video { max_frame_rate: None, interlaced: false, picture: 0, .. }
        ));
    }

    #[test]
    fn index_of_a_constant_progressive_picture_writes_no_new_fields() {
        let p = crate::manifest::Presentation {
            live: None,
            duration_secs: 2.0,
            min_buffer_secs: 2.0,
            tracks: vec![manifest::Track {
                id: 1,
                kind: manifest::TrackKind::Video {
                    width: 640,
                    height: 360,
                    frame_rate: Some((25, 1)),
                    max_frame_rate: None,
                    sar: Some((1, 1)),
                    interlaced: false,
                    picture: 0,
                },
                codecs: "avc1.64001e".into(),
                bandwidth: 1,
                average_bandwidth: 1,
                hls_peak_bandwidth: 1,
                timescale: 12_800,
                segments: vec![SegmentTime { start: 0, duration: 25_600 }],
                init_uri: "video_1/init.mp4".into(),
                media_uri_template: "video_1/$Number$.m4s".into(),
                start_number: 1,
                discontinuity_sequence: None,
                protection: None,
                hls_keys: Vec::new(),
                key_frame_ends: Vec::new(),
                sap_type: 1,
                captions: None,
            }],
        };
        let json = serde_json::to_string(&AssetIndex::from_presentation(&p, 2.0)).expect("json");
        for key in ["maxFrameRate", "interlaced", "picture", "sapType"] {
            assert!(!json.contains(key), "{key} in {json}");
        }
        let mut vfr = p.clone();
        if let manifest::TrackKind::Video { max_frame_rate, interlaced, picture, .. } = &mut vfr.tracks[0].kind {
            (*max_frame_rate, *interlaced, *picture) = (Some((50, 1)), true, 2);
        }
        let back = AssetIndex::parse(
            &serde_json::to_vec(&AssetIndex::from_presentation(&vfr, 2.0)).expect("json"),
            "index",
        )
        .expect("parse");
        assert_eq!(back.presentation().tracks[0].kind, vfr.tracks[0].kind);
    }

    #[test]
    fn index_durations_read_back_exactly() {
        // Found by the `ingest` fuzz target: this duration (a 0.08 s clip)
        // came back from index.json one ULP smaller with serde_json's
        // default float parser, so the origin's index differed from ingest's.
        let d: f64 = 0.101_333_333_333_333_33;
        let back: f64 = serde_json::from_slice(&serde_json::to_vec_pretty(&d).expect("write")).expect("read");
        assert_eq!(back.to_bits(), d.to_bits());
    }

    #[test]
    fn ingest_of_garbage_leaves_nothing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let src = tmp.path().join("bad.mp4");
        fs::write(&src, b"this is not an mp4 file at all").expect("write");
        let dir = tmp.path().join("asset");
        assert!(ingest(&[&src], &dir, 4.0).is_err());
        let left: Vec<_> = fs::read_dir(tmp.path()).expect("read").filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("bad.mp4")]);
    }
}
