//! Reading an MP4 without loading it: progressive, or fragmented (ffmpeg
//! `frag_keyframe`, DASH on-demand single files, CMAF `.cmfv`/`.cmfa`).
//!
//! Only the `moov` box is read into memory (it holds the sample tables: a few
//! MB even for hours of video), and for a fragmented file each `moof` in
//! turn ([`crate::fragmented`] expands their runs into the same per-sample
//! records as the sample tables give); sample data stays in the file and is
//! read per segment with positioned reads, so memory does not grow with the
//! input (DESIGN.md: streaming, constant memory).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bmff::sample_table::Sample;
use bmff::{Atom, BoxHeader, FourCC, Moov, SampleEntry, Trak};

use crate::error::{Error, Result};
use crate::fragmented;

/// `moov` is refused past this size: a real one is a few MB; a larger one is
/// an attack on memory, not a movie.
const MAX_MOOV: u64 = 256 << 20;

/// Top-level boxes an MP4 may start with.
const FIRST_BOXES: &[&[u8; 4]] =
    &[b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pdin", b"uuid", b"styp", b"sidx", b"meta"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    Video,
    Audio,
}

/// One audio or video track of the input.
#[derive(Debug, Clone)]
pub struct Track {
    pub id: u32,
    pub kind: TrackKind,
    pub timescale: u32,
    /// The input's `trak`, sample tables included; the template of the
    /// output's `trak`.
    pub trak: Trak,
    pub samples: Vec<Sample>,
}

impl Track {
    pub fn sample_entry(&self) -> Option<&SampleEntry> {
        self.trak.mdia.minf.stbl.stsd.entries.first()
    }

    /// Duration in the track timescale: the sum of the sample durations.
    pub fn duration(&self) -> u64 {
        self.samples.iter().map(|s| u64::from(s.duration)).sum()
    }

    /// What to subtract from `dts + cts_offset` to get the presentation
    /// time: the media time of the first non-empty edit, less the length of
    /// leading empty edits (ISO/IEC 14496-12 §8.6.6), in track ticks.
    pub fn presentation_shift(&self, movie_timescale: u32) -> i64 {
        let Some(elst) = self.trak.edts.as_ref().and_then(|e| e.elst.as_ref()) else {
            return 0;
        };
        let mut delay: i128 = 0;
        for e in &elst.entries {
            if e.media_time == -1 {
                delay += i128::from(e.segment_duration) * i128::from(self.timescale) / i128::from(movie_timescale.max(1));
                continue;
            }
            let shift = i128::from(e.media_time) - delay;
            return i64::try_from(shift).unwrap_or(0);
        }
        0
    }

    pub fn name(&self) -> String {
        match self.kind {
            TrackKind::Video => format!("video_{}", self.id),
            TrackKind::Audio => format!("audio_{}", self.id),
        }
    }
}

/// A track of the input that is not packaged, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub id: u32,
    /// The `hdlr` handler type (`vide`, `soun`, `tmcd`, `text`, ...).
    pub handler: FourCC,
    pub reason: String,
}

/// An MP4 (progressive or fragmented) open for reading.
pub struct Movie {
    path: PathBuf,
    file: File,
    pub len: u64,
    pub moov: Moov,
    pub tracks: Vec<Track>,
    /// Tracks left out: neither audio nor video, empty, or a codec that
    /// is not supported.
    pub skipped: Vec<Skipped>,
    /// Text tracks (`tx3g`, `wvtt`), read whole into cues.
    pub texts: Vec<MovieText>,
}

/// A text track of the input, read ([`crate::text::mp4`]).
#[derive(Debug, Clone)]
pub struct MovieText {
    pub id: u32,
    /// BCP 47 from `mdhd`; `und` when it says none.
    pub language: String,
    /// The track's name (`udta/name`, where ffmpeg writes a stream's
    /// `title`), when it is one a manifest can carry.
    pub label: Option<String>,
    pub cues: Vec<crate::text::Cue>,
}

/// Text tracks larger than this are refused: subtitles of a feature film
/// are a few hundred kB.
const MAX_TEXT_BYTES: u64 = 16 << 20;

impl std::fmt::Debug for Movie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Movie").field("path", &self.path).field("tracks", &self.tracks.len()).finish()
    }
}

impl Movie {
    pub fn open(path: &Path) -> Result<Movie> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let probe = Probe { path, file: &file, len };
        let (moov_bytes, moov_end) = probe.find_moov()?;
        let moov = Moov::decode(&moov_bytes)?;
        let (mut tables, mut skipped) = table_samples(&moov)?;
        if moov.mvex.is_some() {
            refuse_encrypted(path, &moov, &tables)?;
            let input = fragmented::Input { path, file: Some(&file), len };
            fragmented::append_fragments(&input, &moov, moov_end, &mut tables)?;
        }
        let text_tables: Vec<(u32, Vec<Sample>)> = tables
            .iter_mut()
            .filter(|(id, _)| moov.traks.iter().any(|t| t.tkhd.track_id == *id && crate::text::mp4::is_text_handler(&t.mdia.hdlr.handler_type.0)))
            .map(|(id, s)| (*id, std::mem::take(s)))
            .collect();
        let tracks = load_tracks(&moov, tables, &mut skipped, len)?;
        let mut movie = Movie { path: path.to_owned(), file, len, moov, tracks, skipped, texts: Vec::new() };
        movie.load_texts(text_tables)?;
        // A file of subtitles only (a ladder's text in its own file) is
        // fine; a file of nothing is not.
        if movie.tracks.is_empty() && movie.texts.is_empty() {
            return Err(Error::NoTracks);
        }
        Ok(movie)
    }

    /// Reads the text tracks whose samples are in `tables`; a text track of
    /// another kind (`stpp`, `c608`, ...) is left out with its reason.
    fn load_texts(&mut self, tables: Vec<(u32, Vec<Sample>)>) -> Result<()> {
        for (id, samples) in tables {
            let Some(trak) = self.moov.traks.iter().find(|t| t.tkhd.track_id == id) else { continue };
            let handler = trak.mdia.hdlr.handler_type;
            let kind = trak.mdia.minf.stbl.stsd.entries.first().map(SampleEntry::kind).unwrap_or(FourCC::UNKNOWN);
            if !crate::text::mp4::is_supported(&kind.0) {
                self.skipped.push(Skipped {
                    id,
                    handler,
                    reason: format!("text sample entry '{kind}' is not read (tx3g/mov_text, wvtt and stpp are; give other subtitles as WebVTT or TTML with --text)"),
                });
                continue;
            }
            let total: u64 = samples.iter().map(|s| u64::from(s.size)).sum();
            if total > MAX_TEXT_BYTES || samples.iter().any(|s| s.offset.checked_add(u64::from(s.size)).is_none_or(|e| e > self.len)) {
                return Err(Error::track(id, format!("text track of {total} bytes is larger than {MAX_TEXT_BYTES} or lies past the end of the file")));
            }
            let mut bytes = Vec::with_capacity(samples.len());
            for s in &samples {
                let mut b = vec![0u8; s.size as usize];
                self.read_at(s.offset, &mut b)?;
                bytes.push(b);
            }
            let timescale = trak.mdia.mdhd.timescale;
            let probe = Track { id, kind: TrackKind::Audio, timescale, trak: trak.clone(), samples: Vec::new() };
            let shift = probe.presentation_shift(self.moov.mvhd.timescale);
            let cues = crate::text::mp4::cues(&kind.0, &samples, &bytes, timescale, shift).map_err(|e| Error::track(id, e))?;
            let lang = trak.mdia.mdhd.language;
            let language = std::str::from_utf8(&lang).ok().and_then(crate::language::bcp47).unwrap_or_else(|| "und".into());
            let label = track_name(trak).filter(|l| crate::text::check_label(l).is_ok());
            self.texts.push(MovieText { id, language, label, cues });
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn read_at(&self, pos: u64, buf: &mut [u8]) -> Result<()> {
        self.file.read_exact_at(buf, pos).map_err(|e| Error::io(&self.path, e))
    }

    /// Appends the bytes of `samples` to `out`, one read per run of samples
    /// that lie back to back in the file (the usual chunk layout).
    pub fn read_samples(&self, samples: &[Sample], out: &mut Vec<u8>) -> Result<()> {
        let mut i = 0;
        while i < samples.len() {
            let start = samples[i].offset;
            let mut end = start + u64::from(samples[i].size);
            let mut j = i + 1;
            while j < samples.len() && samples[j].offset == end && end - start < (8 << 20) {
                end += u64::from(samples[j].size);
                j += 1;
            }
            let at = out.len();
            out.resize(at + (end - start) as usize, 0);
            self.read_at(start, &mut out[at..])?;
            i = j;
        }
        Ok(())
    }
}

struct Probe<'a> {
    path: &'a Path,
    file: &'a File,
    len: u64,
}

impl Probe<'_> {
    fn read_at(&self, pos: u64, buf: &mut [u8]) -> Result<()> {
        self.file.read_exact_at(buf, pos).map_err(|e| Error::io(self.path, e))
    }

    /// Walks the top-level boxes by their headers and reads `moov`; returns
    /// it with the offset where it ends.
    fn find_moov(&self) -> Result<(Vec<u8>, u64)> {
        let mut pos = 0u64;
        let mut first = true;
        let mut first_moof = None;
        while pos < self.len {
            let mut head = [0u8; 32];
            let n = ((self.len - pos).min(32)) as usize;
            self.read_at(pos, &mut head[..n])?;
            let header = match BoxHeader::parse(&head[..n]) {
                Ok(h) => h,
                Err(e) if first => return Err(Error::NotMp4(format!("{}: {e}", self.path.display()))),
                Err(e) => return Err(e.into()),
            };
            if first && !FIRST_BOXES.iter().any(|k| header.kind.0 == **k) {
                return Err(Error::NotMp4(format!(
                    "{}: starts with '{}', not an ISO BMFF box",
                    self.path.display(),
                    header.kind
                )));
            }
            first = false;
            // A size of 0 means "to the end of the file".
            let size = if header.size == 0 { self.len - pos } else { header.size };
            if size < u64::from(header.header_len) || pos.checked_add(size).is_none_or(|end| end > self.len) {
                return Err(Error::NotMp4(format!(
                    "{}: box '{}' at offset {pos} claims {size} bytes, past the end of the file ({} bytes)",
                    self.path.display(),
                    header.kind,
                    self.len
                )));
            }
            if &header.kind.0 == b"moof" {
                first_moof = first_moof.or(Some(pos));
            }
            if &header.kind.0 == b"moov" {
                if size > MAX_MOOV {
                    return Err(Error::Unsupported(format!("moov of {size} bytes (limit {MAX_MOOV})")));
                }
                if let Some(moof) = first_moof {
                    // §8.8.4: fragments extend the movie that moov declares,
                    // so moov comes first.
                    return Err(Error::Malformed {
                        path: self.path.to_owned(),
                        kind: header.kind,
                        offset: pos,
                        message: format!("moov after the moof at offset {moof}"),
                    });
                }
                let mut buf = vec![0u8; size as usize];
                self.read_at(pos, &mut buf)?;
                return Ok((buf, pos + size));
            }
            pos += size;
        }
        Err(Error::NotMp4(format!("{}: no moov box", self.path.display())))
    }
}

/// The samples of the sample tables of every audio and video track (empty
/// for a fragmented file, whose samples are in `moof`s), and the other
/// tracks with their handler.
#[allow(clippy::type_complexity)]
fn table_samples(moov: &Moov) -> Result<(Vec<(u32, Vec<Sample>)>, Vec<Skipped>)> {
    let mut tables = Vec::new();
    let mut skipped = Vec::new();
    for trak in &moov.traks {
        let id = trak.tkhd.track_id;
        let handler = trak.mdia.hdlr.handler_type;
        if track_kind(handler).is_none() && !crate::text::mp4::is_text_handler(&handler.0) {
            skipped.push(Skipped { id, handler, reason: "neither video, audio nor text".into() });
            continue;
        }
        if tables.iter().any(|(t, _)| *t == id) {
            return Err(Error::track(id, "track id used twice"));
        }
        let stbl = &trak.mdia.minf.stbl;
        let samples = bmff::sample_table::samples(stbl).map_err(|source| Error::TrackBmff { track: id, source })?;
        tables.push((id, samples));
    }
    Ok((tables, skipped))
}

fn track_kind(handler: FourCC) -> Option<TrackKind> {
    match &handler.0 {
        b"vide" => Some(TrackKind::Video),
        b"soun" => Some(TrackKind::Audio),
        _ => None,
    }
}

/// Encrypted fragmented input (`encv`/`enca` with `sinf`, ISO/IEC 23001-7
/// §8) would need its `senc` decrypted first: refused, by track.
fn refuse_encrypted(path: &Path, moov: &Moov, tables: &[(u32, Vec<Sample>)]) -> Result<()> {
    for trak in moov.traks.iter().filter(|t| tables.iter().any(|(id, _)| *id == t.tkhd.track_id)) {
        for entry in &trak.mdia.minf.stbl.stsd.entries {
            let (kind, protected) = match entry {
                SampleEntry::Visual(v) => (v.kind, !v.sinf.is_empty()),
                SampleEntry::Audio(a) => (a.kind, !a.sinf.is_empty()),
                SampleEntry::Other(o) => (o.kind, false),
            };
            if protected || matches!(&kind.0, b"encv" | b"enca") {
                return Err(Error::Unsupported(format!(
                    "{}: encrypted fragmented input (track {}, sample entry '{kind}')",
                    path.display(),
                    trak.tkhd.track_id
                )));
            }
        }
    }
    Ok(())
}

/// The `name` box of a track's `udta` (3GPP TS 26.244 `titl` is for the
/// movie; ffmpeg and QuickTime put a track title here as bare text).
fn track_name(trak: &Trak) -> Option<String> {
    let udta = trak.other.iter().find(|b| &b.kind.0 == b"udta")?;
    let mut body: &[u8] = &udta.body;
    while body.len() >= 8 {
        let size = u32::from_be_bytes(body[..4].try_into().ok()?) as usize;
        if size < 8 || size > body.len() {
            return None;
        }
        if &body[4..8] == b"name" {
            let text = std::str::from_utf8(&body[8..size]).ok()?;
            let text = text.trim_end_matches('\0').trim();
            return (!text.is_empty()).then(|| text.to_owned());
        }
        body = &body[size..];
    }
    None
}

/// Leading empty edits (`media_time` -1: the track starts later than the
/// presentation, as `ffmpeg -itsoffset` writes it) become decode time:
/// every sample moves later by their length and the edit list keeps only
/// the edits that map media. Presentation times are unchanged, but they
/// now stand in `tfdt` itself, which every player reads, where players
/// differ on an empty edit in a fragmented file (hls.js applies it, Shaka
/// Player ignores it), and subtitles then land at a different time in
/// each.
fn fold_empty_edits(trak: &mut bmff::Trak, samples: &mut [Sample], movie_timescale: u32) {
    let timescale = u128::from(trak.mdia.mdhd.timescale);
    let Some(elst) = trak.edts.as_mut().and_then(|e| e.elst.as_mut()) else { return };
    let empty = elst.entries.iter().take_while(|e| e.media_time == -1).count();
    if empty == 0 || empty == elst.entries.len() {
        return;
    }
    let movie_ticks: u128 = elst.entries[..empty].iter().map(|e| u128::from(e.segment_duration)).sum();
    let Ok(delay) = u64::try_from(movie_ticks * timescale / u128::from(movie_timescale.max(1))) else { return };
    if samples.iter().any(|s| s.dts.checked_add(delay).is_none()) {
        return;
    }
    for s in samples.iter_mut() {
        s.dts += delay;
    }
    elst.entries.drain(..empty);
}

fn load_tracks(
    moov: &Moov,
    mut samples_by_track: Vec<(u32, Vec<Sample>)>,
    skipped: &mut Vec<Skipped>,
    len: u64,
) -> Result<Vec<Track>> {
    let mut tracks: Vec<Track> = Vec::new();
    let mut unsupported: Option<String> = None;
    for trak in &moov.traks {
        let id = trak.tkhd.track_id;
        let handler = trak.mdia.hdlr.handler_type;
        let Some(kind) = track_kind(handler) else { continue };
        let Some(samples) = samples_by_track.iter_mut().find(|(t, _)| *t == id).map(|(_, s)| std::mem::take(s)) else {
            continue;
        };
        let stbl = &trak.mdia.minf.stbl;
        if samples.is_empty() {
            skipped.push(Skipped { id, handler, reason: "no samples".into() });
            continue;
        }
        if stbl.stsd.entries.len() != 1 || samples.iter().any(|s| s.description_index != 1) {
            return Err(Error::Unsupported(format!(
                "track {id}: {} sample descriptions (one per track is supported)",
                stbl.stsd.entries.len()
            )));
        }
        if let Some((i, s)) = samples
            .iter()
            .enumerate()
            .find(|(_, s)| s.offset.checked_add(u64::from(s.size)).is_none_or(|end| end > len))
        {
            return Err(Error::track(
                id,
                format!("sample {} at offset {} ({} bytes) lies past the end of the file", i + 1, s.offset, s.size),
            ));
        }
        let timescale = trak.mdia.mdhd.timescale;
        if timescale == 0 {
            return Err(Error::track(id, "mdhd timescale is 0"));
        }
        let mut trak = trak.clone();
        // A QuickTime version 1 or 2 sound description becomes the ISO
        // (version 0) entry a CMAF track carries.
        if let Some(SampleEntry::Audio(a)) = trak.mdia.minf.stbl.stsd.entries.first_mut() {
            *a = a.to_iso().map_err(|source| Error::TrackBmff { track: id, source })?;
        }
        // A codec this build cannot package leaves its track out, not the
        // whole file (an AAC + DTS master still gives its AAC); the
        // title's notes say which and why.
        if let Some(entry) = trak.mdia.minf.stbl.stsd.entries.first()
            && let Err(reason) = crate::codec::describe(entry)
        {
            unsupported.get_or_insert_with(|| format!("track {id}: {reason}"));
            skipped.push(Skipped { id, handler, reason: format!("unsupported {reason}") });
            continue;
        }
        let mut samples = samples;
        fold_empty_edits(&mut trak, &mut samples, moov.mvhd.timescale);
        tracks.push(Track { id, kind, timescale, trak, samples });
    }
    if tracks.is_empty()
        && let Some(message) = unsupported
    {
        // Nothing left: the first unsupported codec is the answer.
        return Err(Error::Unsupported(message));
    }
    Ok(tracks)
}

