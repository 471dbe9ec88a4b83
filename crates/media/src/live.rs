//! Live ingest: a title growing at its edge (DESIGN.md, "Titles": a live
//! title is the same thing growing; the origin reads one index for both).
//!
//! An encoder pushes CMAF per DASH-IF Live Media Ingest, Interface 1
//! (<https://dashif-documents.azurewebsites.net/Ingest/master/DASH-IF-Ingest.html>):
//! per stream a CMAF header (`ftyp` + `moov`), then fragments (`moof` +
//! `mdat`), in one long chunked POST (what ffmpeg's HTTP output does) or one
//! request per segment. A stream may carry several tracks (ffmpeg's mp4
//! muxer writes one `moov` with all of them and, with `separate_moof`, one
//! `moof` per track).
//!
//! - [`StreamParser`] cuts the bytes of one request into those units as they
//!   arrive. It holds at most one unit, refused past the fragment limit
//!   (413), so a hostile encoder cannot make the server buffer without
//!   bound; it refuses what is not ISO BMFF (415) and a fragment before any
//!   header (412).
//! - [`LiveAsset`] turns every fragment into the stored asset format the VOD
//!   origin reads ([`crate::asset`]): per track a clear CMAF `init.mp4` and
//!   numbered segments written by [`crate::cmaf`] (the writer `package`
//!   uses: track id 1, decode and composition times kept exactly), and
//!   `index.json` rewritten after each fragment. Each file is written to a
//!   temporary name, `fsync`ed, renamed and its folder `fsync`ed, segment
//!   first and index last: a segment is visible from the moment its last
//!   byte arrived, and only once it is durable. The samples are the
//!   encoder's, one segment per fragment (the encoder's GOP decides the
//!   segment duration).
//! - The index's `live` section ([`LiveIndex`]) says the asset is a live
//!   recording: the wall-clock time of presentation time 0, the archive and
//!   time-shift windows, which stream track became which asset track, and
//!   whether the event has ended. Until it has, the origin serves the asset
//!   as live ([`LiveIndex::manifest_timing`]); after, it is VOD.
//!
//! Timelines: decode times must grow within a track (a fragment going back
//! is refused and the archive stays as it was); a presentation start within
//! a tenth of a segment of the previous end closes the rounding hole,
//! anything further is a gap the manifests show (DASH `S@t`, HLS
//! `EXT-X-PROGRAM-DATE-TIME`), never papered over. A changed codec
//! configuration on a stream is refused.

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use bmff::sample_table::Sample;
use bmff::{FourCC, Moov};
use serde::{Deserialize, Serialize};

use crate::asset::{AssetIndex, INDEX_FILE, INDEX_VERSION, IndexTrack, IndexTrackKind, KeyFrameEnds};
use crate::error::Error;
use crate::movie::{Track, TrackKind};
use crate::plan::SegmentPlan;

/// Default largest fragment (`moof` + `mdat`) or header, bytes.
pub const DEFAULT_MAX_FRAGMENT: u64 = 64 << 20;
/// Segments the bit rates announced for a live track are measured over.
const BANDWIDTH_WINDOW: usize = 30;
/// Most tracks one recording takes (streams may add tracks; a ladder of
/// eight renditions with a few audio languages is far below).
pub const MAX_TRACKS: usize = 64;

/// Why an ingest request is refused. Each maps to the DASH-IF ingest
/// answer: [`LiveError::status`].
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("not ISO BMFF media: {0}")]
    NotMp4(String),
    #[error("a fragment arrived before the stream's header (ftyp + moov)")]
    NoHeader,
    #[error("'{kind}' of {size} bytes is over the {limit}-byte fragment limit")]
    TooLarge { kind: FourCC, size: u64, limit: u64 },
    #[error("{0}")]
    Refused(String),
    #[error(
        "another castguard process or node is recording into this asset: push to that one, or retry once its requests have ended"
    )]
    Busy,
    #[error(transparent)]
    Media(#[from] Error),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl LiveError {
    /// The HTTP status DASH-IF Live Media Ingest §6.x asks for: 415
    /// unsupported media, 412 no header yet, 413 too large, 400 otherwise,
    /// and 500 for the server's own failures (disk).
    pub fn status(&self) -> u16 {
        match self {
            LiveError::NotMp4(_) => 415,
            LiveError::NoHeader => 412,
            LiveError::TooLarge { .. } => 413,
            LiveError::Busy => 409,
            LiveError::Io { .. } | LiveError::Media(Error::Io { .. }) => 500,
            LiveError::Refused(_) | LiveError::Media(_) => 400,
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LiveError + '_ {
    move |source| LiveError::Io { path: path.to_owned(), source }
}

/// One unit of an ingest stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Unit {
    /// `ftyp` (when sent) and `moov`.
    Header(Vec<u8>),
    /// A `moof` and its `mdat` (and nothing between them): `bytes[..moof_len]`
    /// is the `moof`.
    Fragment { bytes: Vec<u8>, moof_len: usize },
}

/// Top-level boxes an ingest stream may start with.
const FIRST_BOXES: &[&[u8; 4]] =
    &[b"ftyp", b"styp", b"moov", b"moof", b"free", b"skip", b"sidx", b"prft", b"emsg", b"uuid", b"meta"];

/// Cuts an ingest request's bytes into [`Unit`]s as they arrive.
#[derive(Debug)]
pub struct StreamParser {
    buf: Vec<u8>,
    limit: u64,
    ftyp: Option<Vec<u8>>,
    has_header: bool,
    /// Length of a complete `moof` at the start of `buf`, waiting for its `mdat`.
    moof_len: Option<usize>,
    started: bool,
}

impl StreamParser {
    /// `has_header`: the stream's header came in an earlier request (one
    /// request per segment), so fragments may come first.
    pub fn new(limit: u64, has_header: bool) -> Self {
        StreamParser { buf: Vec::new(), limit, ftyp: None, has_header, moof_len: None, started: false }
    }

    /// Bytes held for an incomplete unit.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Takes more bytes; returns the units they complete.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<Unit>, LiveError> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        loop {
            let at = self.moof_len.unwrap_or(0);
            let Some(head) = self.buf.get(at..at + 8) else { break };
            let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
            let kind = FourCC([head[4], head[5], head[6], head[7]]);
            if !kind.0.iter().all(|b| (0x20..0x7f).contains(b)) {
                return Err(LiveError::NotMp4(format!("no box type at byte {at} of a unit")));
            }
            if !self.started && !FIRST_BOXES.contains(&&kind.0) {
                return Err(LiveError::NotMp4(format!("the stream starts with a '{kind}' box")));
            }
            let (size, header_len) = match size32 {
                0 => return Err(LiveError::Refused(format!("'{kind}' box of size 0 (to the end of the stream)"))),
                1 => {
                    let Some(large) = self.buf.get(at + 8..at + 16) else { break };
                    let mut b = [0u8; 8];
                    b.copy_from_slice(large);
                    (u64::from_be_bytes(b), 16)
                }
                n => (u64::from(n), 8),
            };
            if size < header_len {
                return Err(LiveError::Refused(format!("'{kind}' box of {size} bytes is shorter than its header")));
            }
            let whole = (at as u64).saturating_add(size);
            if whole > self.limit {
                return Err(LiveError::TooLarge { kind, size: whole, limit: self.limit });
            }
            if (self.buf.len() as u64) < whole {
                break;
            }
            self.started = true;
            let whole = whole as usize;
            match (&kind.0, at) {
                (b"ftyp", 0) => self.ftyp = Some(self.buf.drain(..whole).collect()),
                (b"moov", 0) => {
                    let mut header = self.ftyp.take().unwrap_or_default();
                    header.extend(self.buf.drain(..whole));
                    self.has_header = true;
                    out.push(Unit::Header(header));
                }
                (b"moof", 0) => {
                    if !self.has_header {
                        return Err(LiveError::NoHeader);
                    }
                    self.moof_len = Some(whole);
                }
                (b"mdat", 0) => return Err(LiveError::Refused("an 'mdat' without a 'moof' before it".into())),
                (b"mdat", moof_len) => {
                    out.push(Unit::Fragment { bytes: self.buf.drain(..whole).collect(), moof_len });
                    self.moof_len = None;
                }
                (_, 0) => {
                    self.buf.drain(..whole);
                }
                (_, _) => {
                    return Err(LiveError::Refused(format!("a '{kind}' box between a 'moof' and its 'mdat'")));
                }
            }
        }
        Ok(out)
    }

    /// The request ended: refused when it stopped inside a unit.
    pub fn finish(&self) -> Result<(), LiveError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        Err(LiveError::Refused(format!("the request ended inside a box ({} bytes of it arrived)", self.buf.len())))
    }
}

/// The `live` section of a recording's `index.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveIndex {
    /// The live event recorded.
    pub event: String,
    /// Unix milliseconds of presentation time 0 (DASH
    /// `availabilityStartTime`): set when the first segment arrives, so
    /// that it is available from the moment its last byte is here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_start_ms: Option<i64>,
    /// Unix milliseconds when the newest segment arrived.
    #[serde(default)]
    pub published_ms: i64,
    /// How far back viewers may seek, seconds.
    pub time_shift_secs: f64,
    /// How much the asset keeps, seconds.
    pub archive_secs: f64,
    /// The event stopped: the asset is VOD.
    #[serde(default)]
    pub ended: bool,
    /// Which track of which stream each asset track records.
    #[serde(default)]
    pub bindings: Vec<LiveBinding>,
    /// Microseconds added to the encoder's timestamps of the current run
    /// (0 until an encoder came back with timestamps starting again).
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub input_offset_us: i64,
    /// Per asset track, the decode time (asset ticks, offset applied)
    /// after its newest segment: where its next fragment may start.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub decode_ends: std::collections::BTreeMap<String, u64>,
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveBinding {
    /// The stream's name in the ingest URL (`Streams(video)`).
    pub stream: String,
    /// The track's id in the stream's `moov`.
    pub input_track: u32,
    /// The asset track (`video_1`).
    pub track: String,
    /// The asset track's id.
    pub id: u32,
    /// A header arrived and no fragment of this track since: the next one
    /// starts a run, which may restart its timestamps.
    #[serde(default, skip_serializing_if = "is_false")]
    pub new_run: bool,
    /// Gaps in the timeline before the index's first segment (HLS
    /// `EXT-X-DISCONTINUITY-SEQUENCE` once the archive window let them go).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub discontinuities: u64,
}

impl LiveIndex {
    /// What a live manifest of this asset says besides its segments;
    /// `None` once the event has ended or before any segment arrived.
    pub fn manifest_timing(&self, index: &AssetIndex, utc_timing_url: Option<&str>) -> Option<crate::manifest::Live> {
        if self.ended {
            return None;
        }
        let target = index.segment_duration_secs.max(1.0);
        Some(crate::manifest::Live {
            availability_start_ms: self.availability_start_ms?,
            published_ms: self.published_ms,
            time_shift_secs: self.time_shift_secs,
            // Players reload every half segment, so a new segment is known
            // at most half a segment after it arrived.
            min_update_secs: (target / 2.0).clamp(1.0, 10.0),
            // Playing from 1.75 segments behind the newest: the next one
            // arrives within a segment and is known half a segment later,
            // so the buffer does not run dry; the playhead is then 1.75 to
            // 2.75 segments behind the encoder.
            suggested_delay_secs: 1.75 * target,
            utc_timing_url: utc_timing_url.map(str::to_owned),
        })
    }
}

/// The settings of the output recording into an asset.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    pub event: String,
    pub archive_secs: f64,
    pub time_shift_secs: f64,
}

/// One asset track as it grows.
#[derive(Debug, Clone)]
struct LiveTrack {
    /// The stream's `trak` (the template of every segment) under the asset
    /// track's id, with no samples.
    template: Track,
    movie_timescale: u32,
    next_number: u64,
    /// `(clear size, duration)` of the newest segments, for bit rates.
    recent: Vec<(u64, u64)>,
}

/// Folder of an asset, beside its tracks, holding each stream's header as
/// pushed (a stream sending one request per segment sends it once).
const HEADERS_DIR: &str = "ingest";
/// The lock file: one writer per recording, across processes and nodes
/// sharing the folder (`flock`; the kernel lets it go when the holder dies).
const LOCK_FILE: &str = "live.lock";

/// A live recording in an asset folder, growing one fragment at a time.
/// One writer per asset: callers serialise access (a mutex) within a
/// process, and [`LiveAsset::open`] holds a lock on the folder against
/// other processes until the value is dropped.
#[derive(Debug)]
pub struct LiveAsset {
    dir: PathBuf,
    index: AssetIndex,
    tracks: HashMap<String, LiveTrack>,
    /// The header of each stream (kept in [`HEADERS_DIR`] across opens).
    streams: HashMap<String, Moov>,
    _lock: fs::File,
}

impl LiveAsset {
    /// Opens the recording in `dir` (created when missing), or starts one.
    /// A folder that holds media not recorded live is refused; one another
    /// writer holds open is [`LiveError::Busy`]. Reopening continues the
    /// recording: numbering goes on from the index, the streams' headers
    /// are those stored, and files a crash left unnamed by the index
    /// (`*.part`, segments past the newest) are removed.
    pub fn open(dir: &Path, settings: &LiveSettings) -> Result<LiveAsset, LiveError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(LiveError::Busy),
            Err(fs::TryLockError::Error(e)) => {
                return Err(LiveError::Io {
                    path: lock_path,
                    source: e,
                });
            }
        }
        let mut index = match AssetIndex::load(dir) {
            Ok(index) if index.live.is_none() => {
                return Err(LiveError::Refused("the asset already holds media that was not recorded live".into()));
            }
            Ok(index) => index,
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                AssetIndex {
                    version: INDEX_VERSION,
                    duration_secs: 0.0,
                    segment_duration_secs: 0.0,
                    tracks: Vec::new(),
                    notes: Vec::new(),
                    min_buffer_secs: None,
                    live: Some(LiveIndex {
                        event: settings.event.clone(),
                        availability_start_ms: None,
                        published_ms: 0,
                        time_shift_secs: settings.time_shift_secs,
                        archive_secs: settings.archive_secs,
                        ended: false,
                        bindings: Vec::new(),
                        input_offset_us: 0,
                        decode_ends: Default::default(),
                    }),
                }
            }
            Err(e) => return Err(e.into()),
        };
        let mut tracks = HashMap::new();
        let mut bindings = Vec::new();
        if let Some(live) = &mut index.live {
            live.ended = false;
            live.archive_secs = settings.archive_secs;
            live.time_shift_secs = settings.time_shift_secs;
            bindings = live.bindings.clone();
        }
        remove_parts(dir);
        let mut streams = HashMap::new();
        for b in &bindings {
            let path = dir.join(&b.track).join("init.mp4");
            let init = fs::read(&path).map_err(io(&path))?;
            let moov = moov_of(&init)?;
            let trak = moov
                .traks
                .first()
                .ok_or_else(|| LiveError::Refused(format!("{}: no track", path.display())))?;
            let kind = if b.track.starts_with("video_") {
                TrackKind::Video
            } else {
                TrackKind::Audio
            };
            let meta = index.track(&b.track);
            let next_number = meta.map_or(1, |m| m.first_segment + m.segments.len() as u64);
            remove_parts(&dir.join(&b.track));
            remove_unindexed(&dir.join(&b.track), next_number);
            let template = Track {
                id: b.id,
                kind,
                timescale: trak.mdia.mdhd.timescale,
                trak: trak.clone(),
                samples: Vec::new(),
            };
            tracks.insert(
                b.track.clone(),
                LiveTrack {
                    template,
                    movie_timescale: moov.mvhd.timescale,
                    next_number,
                    recent: Vec::new(),
                },
            );
            if !streams.contains_key(&b.stream) {
                // A recording made before headers were kept has none: the
                // stream then sends its header again (412 until it does).
                if let Ok(header) = fs::read(header_path(dir, &b.stream)) {
                    streams.insert(b.stream.clone(), moov_of(&header)?);
                }
            }
        }
        remove_parts(&dir.join(HEADERS_DIR));
        let asset = LiveAsset {
            dir: dir.to_owned(),
            index,
            tracks,
            streams,
            _lock: lock,
        };
        asset.write_index()?;
        Ok(asset)
    }

    pub fn index(&self) -> &AssetIndex {
        &self.index
    }

    /// Whether `stream`'s header arrived since the asset was opened.
    pub fn has_header(&self, stream: &str) -> bool {
        self.streams.contains_key(stream)
    }

    /// Where a new connection pushing `stream` must start its timeline
    /// (ms, presentation time of the recording), when the recording holds
    /// segments of it already: past the end of every one of its tracks
    /// (decode and presentation), and not before the wall clock `now_ms`
    /// is on the recording's timeline, so that a reconnect after an outage
    /// shows as a gap of the outage's length and the live edge stays at
    /// the wall clock. `None` for a stream not recorded yet.
    pub fn resume_point_ms(&self, stream: &str, now_ms: i64) -> Option<i64> {
        let live = self.index.live.as_ref()?;
        let mut end_ms: Option<i64> = None;
        for b in live.bindings.iter().filter(|b| b.stream == stream) {
            let Some(meta) = self.index.track(&b.track) else { continue };
            let ts = u64::from(meta.timescale.max(1));
            let presented = meta.segments.last().map_or(0, |s| s[0].saturating_add(s[1]));
            let decoded = live.decode_ends.get(&b.track).copied().unwrap_or(0);
            let ms = i64::try_from(presented.max(decoded).saturating_mul(1000).div_ceil(ts)).unwrap_or(i64::MAX);
            end_ms = Some(end_ms.map_or(ms, |e| e.max(ms)));
        }
        let wall = live.availability_start_ms.map_or(0, |ast| now_ms.saturating_sub(ast));
        end_ms.map(|e| e.max(wall))
    }

    fn live(&mut self) -> &mut LiveIndex {
        self.index.live.get_or_insert_with(|| LiveIndex {
            event: String::new(),
            availability_start_ms: None,
            published_ms: 0,
            time_shift_secs: 0.0,
            archive_secs: 0.0,
            ended: false,
            bindings: Vec::new(),
            input_offset_us: 0,
            decode_ends: Default::default(),
        })
    }

    /// A stream's header: each audio or video track of it becomes an asset
    /// track (the same one again when the stream sends its header anew
    /// with the same configuration; a changed one is refused).
    pub fn header(&mut self, stream: &str, header: &[u8]) -> Result<(), LiveError> {
        self.refuse_ended()?;
        self.atomically(|rec| rec.header_inner(stream, header))
    }

    /// Runs `f`; when it fails, the recording (index and tracks) is as it
    /// was before: a refused unit never leaves half its tracks behind.
    /// (Files it wrote stay, unnamed by the index, until the same numbers
    /// are written again.)
    fn atomically<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, LiveError>) -> Result<T, LiveError> {
        let saved = (self.index.clone(), self.tracks.clone());
        let r = f(self);
        if r.is_err() {
            (self.index, self.tracks) = saved;
        }
        r
    }

    fn header_inner(&mut self, stream: &str, header: &[u8]) -> Result<(), LiveError> {
        let moov = moov_of(header)?;
        let mut any = false;
        for trak in &moov.traks {
            let kind = match &trak.mdia.hdlr.handler_type.0 {
                b"vide" => TrackKind::Video,
                b"soun" => TrackKind::Audio,
                _ => continue,
            };
            let input = trak.tkhd.track_id;
            let entry = trak
                .mdia
                .minf
                .stbl
                .stsd
                .entries
                .first()
                .ok_or_else(|| LiveError::Refused(format!("stream {stream}, track {input}: no sample description")))?;
            crate::codec::codec_info(input, entry)?;
            if trak.mdia.mdhd.timescale == 0 {
                return Err(LiveError::Refused(format!("stream {stream}, track {input}: timescale 0")));
            }
            any = true;
            let bound = self.live().bindings.iter().find(|b| b.stream == stream && b.input_track == input).cloned();
            if let Some(b) = bound {
                let known = self.tracks.get(&b.track).and_then(|t| t.template.sample_entry());
                if known != Some(entry) || self.tracks.get(&b.track).is_some_and(|t| t.template.timescale != trak.mdia.mdhd.timescale) {
                    return Err(LiveError::Refused(format!(
                        "stream {stream}, track {input}: the codec configuration changed mid-stream"
                    )));
                }
                continue;
            }
            if self.live().bindings.len() >= MAX_TRACKS {
                return Err(LiveError::Refused(format!("more than {MAX_TRACKS} tracks in one recording")));
            }
            let id = self.live().bindings.iter().map(|b| b.id).max().unwrap_or(0) + 1;
            let template = Track { id, kind, timescale: trak.mdia.mdhd.timescale, trak: trak.clone(), samples: Vec::new() };
            let name = template.name();
            let init = crate::cmaf::init_segment(&moov.mvhd, &template)?;
            let track_dir = self.dir.join(&name);
            fs::create_dir_all(&track_dir).map_err(io(&track_dir))?;
            write_durably(&track_dir.join("init.mp4"), &init)?;
            self.live().bindings.push(LiveBinding {
                stream: stream.to_owned(),
                input_track: input,
                track: name.clone(),
                id,
                new_run: false,
                discontinuities: 0,
            });
            self.tracks.insert(
                name,
                LiveTrack {
                    template,
                    movie_timescale: moov.mvhd.timescale,
                    next_number: 1,
                    recent: Vec::new(),
                },
            );
        }
        if !any {
            return Err(LiveError::Refused(format!("stream {stream}: no audio or video track")));
        }
        // A header starts a run of the stream: its next fragments may start
        // their timestamps again (an encoder that reconnected).
        for b in self
            .live()
            .bindings
            .iter_mut()
            .filter(|b| b.stream == stream)
        {
            b.new_run = true;
        }
        let headers = self.dir.join(HEADERS_DIR);
        fs::create_dir_all(&headers).map_err(io(&headers))?;
        write_durably(&header_path(&self.dir, stream), header)?;
        self.streams.insert(stream.to_owned(), moov);
        self.write_index()
    }

    /// A fragment of `stream` (`bytes[..moof_len]` its `moof`) arrived at
    /// `now_ms` (Unix milliseconds): one segment per track it holds,
    /// durable and in the index when this returns. Returns the asset
    /// tracks and segment numbers written.
    pub fn fragment(
        &mut self,
        stream: &str,
        bytes: &[u8],
        moof_len: usize,
        now_ms: i64,
    ) -> Result<Vec<(String, u64)>, LiveError> {
        self.refuse_ended()?;
        self.atomically(|rec| rec.fragment_inner(stream, bytes, moof_len, now_ms))
    }

    fn fragment_inner(
        &mut self,
        stream: &str,
        bytes: &[u8],
        moof_len: usize,
        now_ms: i64,
    ) -> Result<Vec<(String, u64)>, LiveError> {
        let moov = self.streams.get(stream).ok_or(LiveError::NoHeader)?;
        let bound: Vec<(u32, String)> = self
            .index
            .live
            .iter()
            .flat_map(|l| l.bindings.iter())
            .filter(|b| b.stream == stream)
            .map(|b| (b.input_track, b.track.clone()))
            .collect();
        let mut lists: Vec<(u32, Vec<Sample>)> = bound.iter().map(|(id, _)| (*id, Vec::new())).collect();
        crate::fragmented::fragment_samples(Path::new(stream), moov, bytes, moof_len, &mut lists)?;
        let mut written = Vec::new();
        let mut gone = Vec::new();
        for ((_, samples), (_, name)) in lists.into_iter().zip(&bound) {
            if samples.is_empty() {
                continue;
            }
            let mut samples = samples;
            self.place(name, &mut samples, now_ms)?;
            let number = self.append(name, samples, bytes, now_ms, &mut gone)?;
            written.push((name.clone(), number));
        }
        if !written.is_empty() {
            self.live().published_ms = now_ms;
            self.write_index()?;
        }
        // Out of the index now: no reader is sent to them any more.
        for path in gone {
            let _ = fs::remove_file(path);
        }
        Ok(written)
    }

    /// Puts a fragment's samples of track `name` on the recording's
    /// timeline: the encoder's decode times plus the current run's offset.
    /// Within a run decode times must grow (else refused). The first
    /// fragment after a header whose decode time would go back starts a
    /// new run (an encoder that reconnected with its timestamps starting
    /// again): the offset is set so that the fragment ends at the wall-clock
    /// time it arrived (the gap is real time, shown in the manifests), and
    /// never before the end of any track so far. The other tracks of the
    /// encoder take the same offset, so they stay in sync.
    fn place(&mut self, name: &str, samples: &mut [Sample], now_ms: i64) -> Result<(), LiveError> {
        let Some(first) = samples.first().map(|s| s.dts) else {
            return Ok(());
        };
        let timescale =
            |rec: &Self, track: &str| rec.tracks.get(track).map(|t| t.template.timescale);
        let ts = timescale(self, name)
            .ok_or_else(|| LiveError::Refused(format!("no asset track {name}")))?;
        // Presentation end, as the segment will be announced.
        let edit = self.tracks.get(name).map_or(0, |t| {
            i128::from(t.template.presentation_shift(t.movie_timescale))
        });
        let input_end = samples
            .iter()
            .map(|s| i128::from(s.dts) + i128::from(s.cts_offset) + i128::from(s.duration) - edit)
            .max()
            .map_or(0, |e| u64::try_from(e.max(0)).unwrap_or(u64::MAX));
        let bindings = self
            .index
            .live
            .as_ref()
            .map(|l| l.bindings.clone())
            .unwrap_or_default();
        let decode_ends = self.index.live.as_ref().map(|l| l.decode_ends.clone()).unwrap_or_default();
        let ends: Vec<i128> = bindings
            .iter()
            .filter_map(|b| Some(micros_ceil(*decode_ends.get(&b.track)?, timescale(self, &b.track)?)))
            .collect();
        let live = self.live();
        let binding = live.bindings.iter().find(|b| b.track == name).cloned();
        let Some(binding) = binding else {
            return Err(LiveError::Refused(format!(
                "track {name} is bound to no stream"
            )));
        };
        let mut offset = i128::from(live.input_offset_us);
        if let Some(&end) = decode_ends.get(name)
            && i128::from(first) + ticks_ceil(offset, ts) < i128::from(end)
        {
            if !binding.new_run {
                return Err(LiveError::Refused(format!(
                    "track {name}: decode time {first} goes back before the end of the previous fragment"
                )));
            }
            let wall = live.availability_start_ms.map(|ast| {
                i128::from(now_ms.saturating_sub(ast)) * 1000 - micros_floor(input_end, ts)
            });
            let after = ends.iter().max().copied().unwrap_or(0) - micros_floor(first, ts);
            offset = wall.unwrap_or(after).max(after);
            live.input_offset_us = i64::try_from(offset).map_err(|_| {
                LiveError::Refused(format!("track {name}: timestamps out of range"))
            })?;
        }
        if let Some(b) = live.bindings.iter_mut().find(|b| b.track == name) {
            b.new_run = false;
        }
        let shift = ticks_ceil(offset, ts);
        for s in samples.iter_mut() {
            s.dts = u64::try_from(i128::from(s.dts) + shift).map_err(|_| {
                LiveError::Refused(format!("track {name}: decode time {} out of range", s.dts))
            })?;
        }
        Ok(())
    }

    /// Writes one segment of track `name`; returns its number.
    fn append(
        &mut self,
        name: &str,
        samples: Vec<Sample>,
        bytes: &[u8],
        now_ms: i64,
        gone: &mut Vec<PathBuf>,
    ) -> Result<u64, LiveError> {
        let t = self.tracks.get_mut(name).ok_or_else(|| LiveError::Refused(format!("no asset track {name}")))?;
        let first_dts = samples.first().map_or(0, |s| s.dts);
        let mut track = t.template.clone();
        track.samples = samples;
        let shift = i128::from(track.presentation_shift(t.movie_timescale));
        let clamp = |v: i128| u64::try_from(v.max(0)).unwrap_or(u64::MAX);
        let pts = |s: &Sample| i128::from(s.dts) + i128::from(s.cts_offset) - shift;
        let earliest = track.samples.iter().map(pts).min().unwrap_or(0);
        let end = clamp(track.samples.iter().map(|s| pts(s) + i128::from(s.duration)).max().unwrap_or(0));
        // As `plan` does for a file: the first segment starts where decoding
        // starts when its first frame is shown later (reordering delay).
        let start = if t.next_number == 1 { clamp(earliest).min(first_dts) } else { clamp(earliest) };
        let number = t.next_number;
        let sequence = u32::try_from(number).map_err(|_| LiveError::Refused(format!("track {name}: more than 2^32 segments")))?;
        let decode_duration: u64 = track.samples.iter().map(|s| u64::from(s.duration)).sum();
        let plan = SegmentPlan {
            first_sample: 0,
            sample_count: track.samples.len(),
            start: first_dts,
            duration: decode_duration,
            presentation_start: start,
            presentation_duration: end.saturating_sub(start).max(1),
        };
        let mut buf = Vec::new();
        crate::cmaf::media_segment_into(&track, &plan, sequence, &mut buf, |out| {
            for s in &track.samples {
                let from = usize::try_from(s.offset).unwrap_or(usize::MAX);
                let data = from
                    .checked_add(s.size as usize)
                    .and_then(|to| bytes.get(from..to))
                    .ok_or_else(|| Error::Segment(format!("track {name}: sample outside its fragment")))?;
                out.extend_from_slice(data);
            }
            Ok(())
        })?;
        let path = self.dir.join(name).join(format!("{number}.m4s"));
        write_durably(&path, &buf)?;

        let entry = track.sample_entry().cloned().ok_or_else(|| LiveError::Refused(format!("track {name}: no sample entry")))?;
        let timescale = track.timescale;
        t.next_number += 1;
        let decode_end = first_dts.saturating_add(decode_duration);
        t.recent
            .push((buf.len() as u64, plan.presentation_duration));
        if t.recent.len() > BANDWIDTH_WINDOW {
            t.recent.remove(0);
        }
        let recent = t.recent.clone();
        let kind = track.kind;
        let id = track.id;
        let at = self.index.tracks.iter().position(|m| m.name == name);
        let meta = match at {
            Some(i) => &mut self.index.tracks[i],
            None => {
                let codecs = crate::codec::codec_info(id, &entry)?.codecs;
                let manifest_kind = crate::package::manifest_kind(&track, &entry, 0);
                self.index.tracks.push(IndexTrack {
                    id,
                    name: name.to_owned(),
                    kind: IndexTrackKind::of(&manifest_kind),
                    codecs,
                    bandwidth: 0,
                    average_bandwidth: 0,
                    hls_peak_bandwidth: 0,
                    timescale,
                    segments: Vec::new(),
                    first_segment: number,
                    sap_type: 1,
                    captions: None,
                    file: None,
                    key_frame_ends: (kind == TrackKind::Video).then(KeyFrameEnds::default),
                });
                self.index.tracks.sort_by_key(|m| m.id);
                let i = self.index.tracks.iter().position(|m| m.name == name).unwrap_or(0);
                &mut self.index.tracks[i]
            }
        };
        // A start within a tenth of a segment of the previous end is the
        // same instant rounded: the previous segment is made to reach it.
        if let Some(prev) = meta.segments.last_mut() {
            let prev_end = prev[0].saturating_add(prev[1]);
            let tolerance = (prev[1] / 10).max(1);
            if start < prev[0] {
                return Err(LiveError::Refused(format!("track {name}: presentation time {start} goes back")));
            }
            if start.abs_diff(prev_end) <= tolerance && start > prev[0] {
                prev[1] = start - prev[0];
            }
        }
        meta.segments.push([start, plan.presentation_duration]);
        if let Some(ends) = &mut meta.key_frame_ends {
            ends.push(id, &entry, buf)?;
        }
        let sizes: Vec<u64> = recent.iter().map(|r| r.0).collect();
        let durations: Vec<u64> = recent.iter().map(|r| r.1).collect();
        let longest = durations.iter().copied().max().unwrap_or(0) as f64 / f64::from(timescale.max(1));
        let min_buffer = ((longest * 1000.0).ceil() / 1000.0).max(2.0);
        let total: u64 = durations.iter().sum();
        let target = crate::manifest::hls::target_duration(&durations, timescale);
        meta.bandwidth = meta.bandwidth.max(crate::bandwidth::dash_bandwidth(&sizes, &durations, timescale, min_buffer).max(1));
        meta.average_bandwidth = crate::bandwidth::average(&sizes, total, timescale).max(1);
        meta.hls_peak_bandwidth =
            meta.hls_peak_bandwidth.max(crate::bandwidth::hls_peak(&sizes, &durations, timescale, target).max(1));

        // The archive window: older segments leave the index.
        let ts = u64::from(timescale.max(1));
        let archive = self.index.live.as_ref().map_or(f64::INFINITY, |l| l.archive_secs);
        let keep_from = end.saturating_sub((archive.max(0.0) * ts as f64) as u64);
        let drop = meta
            .segments
            .iter()
            .take(meta.segments.len() - 1)
            .take_while(|s| s[0].saturating_add(s[1]) <= keep_from)
            .count();
        // Gaps before the segments kept: HLS counts them in
        // `EXT-X-DISCONTINUITY-SEQUENCE`.
        let dropped_gaps = (1..=drop)
            .filter(|&i| {
                meta.segments
                    .get(i)
                    .is_some_and(|s| !follows(meta.segments[i - 1], *s))
            })
            .count();
        if drop > 0 {
            for n in meta.first_segment..meta.first_segment + drop as u64 {
                gone.push(self.dir.join(name).join(format!("{n}.m4s")));
            }
            meta.segments.drain(..drop);
            if let Some(ends) = &mut meta.key_frame_ends {
                ends.drop_front(drop);
            }
            meta.first_segment += drop as u64;
        }

        let last = meta.segments.last().map_or(0, |s| s[0].saturating_add(s[1]));
        let track_secs = last as f64 / ts as f64;
        self.index.duration_secs = self.index.duration_secs.max(track_secs);
        self.index.segment_duration_secs = self.index.segment_duration_secs.max(longest);
        self.index.min_buffer_secs = Some(self.index.min_buffer_secs.unwrap_or(2.0).max(min_buffer));
        let live = self.live();
        live.decode_ends.insert(name.to_owned(), decode_end);
        if let Some(b) = live.bindings.iter_mut().find(|b| b.track == name) {
            b.discontinuities += dropped_gaps as u64;
        }
        if live.availability_start_ms.is_none() {
            // `as` saturates: a hostile f64 cannot wrap.
            live.availability_start_ms = Some(now_ms.saturating_sub((track_secs * 1000.0).round() as i64));
        }
        Ok(number)
    }

    /// A recording the event's stop ended takes nothing more (a request
    /// that was mid-fragment when the stop came).
    fn refuse_ended(&self) -> Result<(), LiveError> {
        if self.index.live.as_ref().is_some_and(|l| l.ended) {
            return Err(LiveError::Refused("the live event stopped".into()));
        }
        Ok(())
    }

    /// The event stopped: the recording is VOD from now on.
    pub fn finish(&mut self) -> Result<(), LiveError> {
        self.live().ended = true;
        self.write_index()
    }

    fn write_index(&self) -> Result<(), LiveError> {
        let json = serde_json::to_vec_pretty(&self.index).map_err(|e| LiveError::Refused(format!("index: {e}")))?;
        write_durably(&self.dir.join(INDEX_FILE), &json)
    }
}

/// Whether segment `b` (`[start, duration]`) starts where `a` ends.
fn follows(a: [u64; 2], b: [u64; 2]) -> bool {
    a[0].saturating_add(a[1]) == b[0]
}

/// `ticks` of `timescale` in microseconds, rounded down.
fn micros_floor(ticks: u64, timescale: u32) -> i128 {
    i128::from(ticks) * 1_000_000 / i128::from(timescale.max(1))
}

/// `ticks` of `timescale` in microseconds, rounded up.
fn micros_ceil(ticks: u64, timescale: u32) -> i128 {
    let ts = i128::from(timescale.max(1));
    (i128::from(ticks) * 1_000_000 + ts - 1) / ts
}

/// Microseconds in ticks of `timescale`, rounded up (towards later).
fn ticks_ceil(micros: i128, timescale: u32) -> i128 {
    let v = micros * i128::from(timescale);
    -((-v).div_euclid(1_000_000))
}

/// Where the header of `stream` is kept (the name hex-encoded: any
/// printable name is a safe file name).
fn header_path(dir: &Path, stream: &str) -> PathBuf {
    let hex: String = stream.bytes().map(|b| format!("{b:02x}")).collect();
    dir.join(HEADERS_DIR).join(format!("{hex}.mp4"))
}

/// Removes the temporary files ([`write_durably`]) a crash left in `dir`.
fn remove_parts(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.path().extension().is_some_and(|x| x == "part") {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Removes segments numbered from `next` on: written before a crash, but
/// never named by the index (it is written after them).
fn remove_unindexed(dir: &Path, next: u64) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let number = name
            .to_str()
            .and_then(|n| n.strip_suffix(".m4s"))
            .and_then(|n| n.parse::<u64>().ok());
        if number.is_some_and(|n| n >= next) {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// The `moov` of a header (an `ftyp` may come first).
fn moov_of(header: &[u8]) -> Result<Moov, LiveError> {
    crate::origin::init_moov(header)?.ok_or_else(|| LiveError::Refused("a header without 'moov'".into()))
}

/// Writes `bytes` as `path` so that a reader sees the old file or the whole
/// new one, and the new one survives a crash once this returns: a
/// temporary file, `fsync`, rename, `fsync` of the folder.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), LiveError> {
    let tmp = path.with_extension("part");
    let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn units_come_out_whatever_the_chunking() {
        let mut stream = boxed(b"ftyp", b"iso6\0\0\0\0");
        stream.extend(boxed(b"moov", &[1; 20]));
        stream.extend(boxed(b"styp", b"msdh"));
        let moof = boxed(b"moof", &[2; 30]);
        let mdat = boxed(b"mdat", &[3; 100]);
        stream.extend(&moof);
        stream.extend(&mdat);
        let whole = {
            let mut p = StreamParser::new(1 << 20, false);
            p.push(&stream).expect("parses")
        };
        assert_eq!(whole.len(), 2);
        assert!(matches!(&whole[0], Unit::Header(h) if h.len() == 16 + 28));
        assert_eq!(whole[1], Unit::Fragment { bytes: [moof.clone(), mdat.clone()].concat(), moof_len: moof.len() });
        for chunk in [1, 3, 7, 50] {
            let mut p = StreamParser::new(1 << 20, false);
            let mut got = Vec::new();
            for c in stream.chunks(chunk) {
                got.extend(p.push(c).expect("parses"));
            }
            p.finish().expect("complete");
            assert_eq!(got, whole, "chunks of {chunk}");
        }
    }

    #[test]
    fn refusals_have_the_spec_status() {
        let status = |bytes: &[u8], limit: u64| StreamParser::new(limit, false).push(bytes).map(|_| ()).map_err(|e| e.status());
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1 << 20), Err(415));
        assert_eq!(status(&boxed(b"abcd", b"xx"), 1 << 20), Err(415));
        assert_eq!(status(&[0xff; 16], 1 << 20), Err(415));
        assert_eq!(status(&boxed(b"moof", &[0; 8]), 1 << 20), Err(412));
        assert_eq!(status(&boxed(b"free", &[0; 100]), 50), Err(413));
        // The size is refused from the header alone, before the body arrives.
        assert_eq!(status(&[0x7f, 0, 0, 0, b'f', b'r', b'e', b'e'], 1 << 20), Err(413));
        assert_eq!(status(&[0, 0, 0, 0, b'f', b't', b'y', b'p'], 1 << 20), Err(400));
        assert_eq!(status(&[0, 0, 0, 4, b'f', b't', b'y', b'p'], 1 << 20), Err(400));
        let mut p = StreamParser::new(1 << 20, true);
        assert!(p.push(&boxed(b"moof", &[0; 8])).expect("moof").is_empty());
        assert_eq!(p.push(&boxed(b"free", &[])).map_err(|e| e.status()), Err(400), "moof then free");
        let mut p = StreamParser::new(1 << 20, false);
        p.push(&boxed(b"ftyp", b"iso6")[..6]).expect("partial");
        assert!(p.finish().is_err());
    }

    #[test]
    fn offsets_round_towards_later_so_a_new_run_never_overlaps() {
        // 1/3 s at 90 kHz and 48 kHz, negative offsets included.
        assert_eq!(ticks_ceil(333_334, 90_000), 30_001);
        assert_eq!(ticks_ceil(-333_334, 90_000), -30_000);
        assert_eq!(ticks_ceil(1_000_000, 48_000), 48_000);
        assert_eq!(micros_ceil(1, 90_000), 12);
        assert_eq!(micros_floor(1, 90_000), 11);
        // An end E (ticks of one track) and a new first decode time F (of
        // another): the offset from their microseconds puts F at or after E.
        for (end, ts_end, first, ts) in [
            (90_001u64, 90_000u32, 7u64, 48_000u32),
            (1_001, 1_000, 0, 90_000),
            (5, 3, 2, 7),
        ] {
            let offset = micros_ceil(end, ts_end) - micros_floor(first, ts);
            let placed = i128::from(first) + ticks_ceil(offset, ts);
            assert!(
                placed * i128::from(ts_end) >= i128::from(end) * i128::from(ts),
                "{end}/{ts_end} vs {first}/{ts}"
            );
        }
        assert!(
            follows([0, 10], [10, 5]) && !follows([0, 10], [11, 5]) && !follows([0, 10], [9, 5])
        );
        let path = header_path(Path::new("/a"), "../x");
        assert_eq!(path, Path::new("/a/ingest/2e2e2f78.mp4"));
    }

    #[test]
    fn a_recording_refuses_a_vod_folder() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let settings = LiveSettings { event: "e".into(), archive_secs: 3600.0, time_shift_secs: 600.0 };
        let vod = AssetIndex {
            version: INDEX_VERSION,
            duration_secs: 1.0,
            segment_duration_secs: 1.0,
            tracks: Vec::new(),
            notes: Vec::new(),
            min_buffer_secs: None,
            live: None,
        };
        fs::write(tmp.path().join(INDEX_FILE), serde_json::to_vec(&vod).expect("json")).expect("write");
        assert_eq!(LiveAsset::open(tmp.path(), &settings).map(|_| ()).map_err(|e| e.status()), Err(400));
        let fresh = tmp.path().join("fresh");
        let asset = LiveAsset::open(&fresh, &settings).expect("opens");
        assert!(asset.index().live.is_some());
        assert!(AssetIndex::load(&fresh).expect("index").live.is_some_and(|l| !l.ended));
    }
}
