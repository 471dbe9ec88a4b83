//! FLV audio and video tags (what RTMP carries: an RTMP audio or video
//! message body is one FLV tag body) remuxed into the CMAF units live
//! ingest stores ([`crate::live::Unit`]): one header (`ftyp` + `moov`, a
//! track per kind) and fragments (`moof` + `mdat`, one track each), so an
//! RTMP push is recorded by the same [`crate::live::LiveAsset`] code as a
//! CMAF push, and everything after it (origin, encryption, archive) does
//! not know the difference.
//!
//! Tag bodies, per the FLV specification v10.1 (Annex E.4.2.1 `AUDIODATA`,
//! E.4.3.1 `VIDEODATA`):
//! - video: `FrameType` (1 key frame, 2 inter frame, 5 info) and `CodecID`
//!   (7 AVC) in one byte, `AVCPacketType` (0 sequence header = the
//!   AVCDecoderConfigurationRecord of ISO/IEC 14496-15 §5.3.3.1, 1 NAL
//!   units, 2 end of sequence) and a signed 24-bit `CompositionTime` (ms),
//!   then the data: NAL units with the record's length prefixes, which is
//!   exactly an ISO BMFF `avc1` sample;
//! - audio: `SoundFormat` 10 (AAC) in the top four bits, `AACPacketType`
//!   (0 sequence header = the AudioSpecificConfig of ISO/IEC 14496-3
//!   §1.6.2.1, 1 a raw AAC frame, which is exactly an `mp4a` sample).
//!
//! Other codecs (MP3, Speex, the enhanced-RTMP FourCC header that carries
//! HEVC, AV1 and VP9) are refused: H.264 and AAC are what OBS and encoders
//! push by default.
//!
//! Times: RTMP timestamps are decode times in milliseconds. Video decode
//! times become 90 kHz ticks (`ms × 90`, exact) and composition offsets
//! likewise. AAC frames are 1024 samples each: audio decode times count
//! samples at the stream's sample rate from the first frame's timestamp, so
//! the ms rounding of the timestamps does not make every duration jitter;
//! when a timestamp strays more than [`AUDIO_RESYNC_MS`] from the count
//! (the encoder dropped audio) the count restarts from it.
//!
//! Fragments: video is cut before each key frame, so a fragment is one GOP
//! (with ffmpeg's `-g 50` at 25 fps, 2 s), and its last frame's duration
//! is known from the next key frame's time. Audio is cut at the same
//! instants (the first audio frame at or after the key frame's timestamp
//! starts the next audio fragment), so audio and video segments line up.
//! A stream without video is cut every [`AUDIO_ONLY_FRAGMENT_MS`]. The
//! header goes out with the first fragment, holding a track for each
//! sequence header seen by then (encoders send both before any frame); a
//! sequence header that arrives later for a new track, or that changes a
//! track's configuration, is refused, as for CMAF ingest.
//!
//! Reconnects: OBS starts its timestamps at 0 again on every connection,
//! and a recording refuses decode times that go back. The RTMP listener
//! tells the remuxer where the recording of the stream ends
//! ([`FlvRemuxer::continue_at`], from
//! [`crate::live::LiveAsset::resume_point_ms`]: past the end, and not
//! before the wall clock on the recording's timeline) and the remuxer moves
//! the new connection's timestamps there, so the recording continues with
//! a gap as long as the outage.
//!
//! Bounds: what is buffered for one fragment is refused past the fragment
//! limit ([`LiveError::TooLarge`]), and every read of a tag is checked:
//! hostile bytes give an error, never a panic (fuzz target `flv_ingest`).

use std::collections::VecDeque;

use bmff::{
    Atom, AudioSampleEntry, AvcC, Dinf, Esds, FourCC, Ftyp, Hdlr, Mdhd, Mdia, Mfhd, Minf, Moof, Moov, Mvex, Mvhd,
    SampleEntry, Smhd, Stbl, Stsd, Tfdt, Tfhd, Tkhd, Traf, Trak, Trex, Trun, TrunSample,
    VisualSampleEntry, Vmhd,
};

use crate::cmaf::{NON_SYNC_SAMPLE_FLAGS, SYNC_SAMPLE_FLAGS};
use crate::live::{LiveError, Unit};

/// Timescale of the video track: MPEG's 90 kHz, a whole number of ticks
/// per millisecond.
pub const VIDEO_TIMESCALE: u32 = 90_000;
/// Fragment length of a stream without video, ms.
pub const AUDIO_ONLY_FRAGMENT_MS: i64 = 2000;
/// How far an AAC frame's timestamp may stray from the sample count
/// before the count restarts from it, ms.
pub const AUDIO_RESYNC_MS: i64 = 100;
/// Room left after the recorded end when a reconnecting encoder's timeline
/// is moved there, ms: its first audio and video frames may be this far
/// apart without either landing before the end of its track.
pub const RESUME_MARGIN_MS: i64 = 200;
/// Samples per AAC frame (AAC-LC and the core of HE-AAC).
const AAC_FRAME_SAMPLES: u64 = 1024;
const VIDEO_TRACK_ID: u32 = 1;
const AUDIO_TRACK_ID: u32 = 2;

/// One buffered sample.
#[derive(Debug)]
struct Frame {
    /// RTMP timestamp, ms.
    ms: i64,
    /// Decode time in the track's timescale.
    dts: u64,
    cts_offset: i32,
    sync: bool,
    data: Vec<u8>,
}

#[derive(Debug)]
struct Video {
    /// The sequence header's body (the AVCDecoderConfigurationRecord).
    record: Vec<u8>,
    entry: VisualSampleEntry,
    pending: Vec<Frame>,
    /// Whether a key frame started the stream (frames before it are dropped).
    started: bool,
    last_ms: Option<i64>,
}

#[derive(Debug)]
struct Audio {
    /// The AudioSpecificConfig.
    config: Vec<u8>,
    rate: u32,
    entry: AudioSampleEntry,
    pending: Vec<Frame>,
    /// Decode time of the next frame by the sample count.
    next_dts: Option<u64>,
}

/// Remuxes the FLV tags of one RTMP stream into CMAF units (see the module
/// docs). Feed it every video and audio message body in arrival order.
#[derive(Debug)]
pub struct FlvRemuxer {
    limit: u64,
    video: Option<Video>,
    audio: Option<Audio>,
    /// The header went out: its tracks are fixed.
    header_sent: bool,
    /// Whether the header has a video / an audio track.
    header_tracks: (bool, bool),
    /// Where video was cut (ms) and audio has not been yet.
    cuts: VecDeque<i64>,
    /// Bytes buffered over both tracks.
    buffered: u64,
    sequence: u32,
    /// Where the recording's timeline continues ([`FlvRemuxer::continue_at`]).
    resume_ms: Option<i64>,
    /// Added to every RTMP timestamp; set by the first frame.
    offset_ms: Option<i64>,
}

fn refused(message: impl Into<String>) -> LiveError {
    LiveError::Refused(message.into())
}

impl FlvRemuxer {
    /// `limit`: most bytes buffered for one fragment (the ingest fragment
    /// limit).
    pub fn new(limit: u64) -> Self {
        FlvRemuxer {
            limit,
            video: None,
            audio: None,
            header_sent: false,
            header_tracks: (false, false),
            cuts: VecDeque::new(),
            buffered: 0,
            sequence: 0,
            resume_ms: None,
            offset_ms: None,
        }
    }

    /// The recording holds this stream up to `ms` already (an encoder
    /// reconnecting; OBS starts its timestamps at 0 again): the first frame
    /// goes [`RESUME_MARGIN_MS`] after it, and every timestamp moves by the
    /// same amount. An encoder whose timestamps are past `ms` keeps them.
    pub fn continue_at(&mut self, ms: i64) {
        self.resume_ms = Some(ms);
    }

    /// A frame's RTMP timestamp on the recording's timeline.
    fn timeline(&mut self, timestamp_ms: u32) -> i64 {
        let ts = i64::from(timestamp_ms);
        let resume = self.resume_ms;
        let offset = *self
            .offset_ms
            .get_or_insert_with(|| resume.map_or(0, |r| r.saturating_add(RESUME_MARGIN_MS).saturating_sub(ts).max(0)));
        ts.saturating_add(offset)
    }

    /// Bytes held for fragments not yet cut.
    pub fn buffered(&self) -> u64 {
        self.buffered
    }

    fn hold(&mut self, len: usize) -> Result<(), LiveError> {
        self.buffered = self.buffered.saturating_add(len as u64);
        if self.buffered > self.limit {
            return Err(LiveError::TooLarge { kind: FourCC::MDAT, size: self.buffered, limit: self.limit });
        }
        Ok(())
    }

    /// A video message body with its RTMP timestamp (ms).
    pub fn video(&mut self, timestamp_ms: u32, tag: &[u8]) -> Result<Vec<Unit>, LiveError> {
        let (&first, rest) = tag.split_first().ok_or_else(|| refused("an empty video message"))?;
        if first & 0x80 != 0 {
            return Err(refused("enhanced RTMP video (HEVC, AV1, VP9) is not supported; push H.264"));
        }
        let frame_type = first >> 4;
        let codec = first & 0x0f;
        if frame_type == 5 {
            // Video info / command frame: no picture.
            return Ok(Vec::new());
        }
        if codec != 7 {
            return Err(refused(format!("video codec id {codec} is not supported; push H.264 (codec id 7)")));
        }
        let Some(&[packet_type, c0, c1, c2]) = rest.get(..4) else {
            return Err(refused("a video message shorter than its AVC header"));
        };
        let data = &rest[4..];
        // SI24, sign-extended.
        let cts_ms = (i32::from_be_bytes([c0, c1, c2, 0])) >> 8;
        match packet_type {
            0 => {
                self.video_config(data)?;
                Ok(Vec::new())
            }
            1 => {
                let ms = self.timeline(timestamp_ms);
                self.video_frame(ms, cts_ms, frame_type == 1, data)
            }
            2 => Ok(Vec::new()),
            t => Err(refused(format!("AVC packet type {t} is not defined"))),
        }
    }

    fn video_config(&mut self, record: &[u8]) -> Result<(), LiveError> {
        if let Some(v) = &self.video {
            if v.record == record {
                return Ok(());
            }
            return Err(refused("the H.264 configuration (SPS/PPS) changed mid-stream"));
        }
        if self.header_sent {
            return Err(refused("an H.264 sequence header after the stream's header: a track cannot be added"));
        }
        let mut boxed = Vec::with_capacity(record.len() + 8);
        bmff::write_box(&mut boxed, FourCC::AVCC, None, |out| {
            out.extend_from_slice(record);
            Ok(())
        })
        .map_err(crate::Error::from)?;
        let avcc = AvcC::decode(&boxed).map_err(|e| refused(format!("AVC sequence header: {e}")))?;
        let sps = avcc.sps.first().ok_or_else(|| refused("AVC sequence header without an SPS"))?;
        let (width, height) = crate::scan::avc_sps(sps)
            .and_then(|s| s.size)
            .ok_or_else(|| refused("AVC sequence header: an SPS that does not parse"))?;
        let (width, height) = (u16::try_from(width), u16::try_from(height));
        let (Ok(width), Ok(height)) = (width, height) else {
            return Err(refused("AVC sequence header: a picture over 65535 samples wide or high"));
        };
        let mut entry = VisualSampleEntry::new(FourCC(*b"avc1"), width, height);
        entry.avcc = Some(avcc);
        // The entry must give a codecs string the manifests can use.
        crate::codec::describe(&SampleEntry::Visual(entry.clone())).map_err(refused)?;
        self.video = Some(Video { record: record.to_vec(), entry, pending: Vec::new(), started: false, last_ms: None });
        Ok(())
    }

    fn video_frame(&mut self, ms: i64, cts_ms: i32, key: bool, data: &[u8]) -> Result<Vec<Unit>, LiveError> {
        let v = self.video.as_mut().ok_or_else(|| refused("an H.264 frame before the AVC sequence header"))?;
        if self.header_sent && !self.header_tracks.0 {
            return Err(refused("H.264 frames on a stream whose header has no video"));
        }
        if let Some(last) = v.last_ms
            && ms < last
        {
            return Err(refused(format!("video timestamp {ms} ms goes back (after {last} ms)")));
        }
        if data.is_empty() {
            return Ok(Vec::new());
        }
        if !v.started {
            if !key {
                return Ok(Vec::new());
            }
            v.started = true;
        }
        v.last_ms = Some(ms);
        let mut out = Vec::new();
        if key && !v.pending.is_empty() {
            out = self.cut_video(Some(ms))?;
        }
        self.hold(data.len())?;
        let dts = u64::try_from(ms).unwrap_or(0) * u64::from(VIDEO_TIMESCALE / 1000);
        let cts_offset = cts_ms.saturating_mul((VIDEO_TIMESCALE / 1000) as i32);
        if let Some(v) = self.video.as_mut() {
            v.pending.push(Frame { ms, dts, cts_offset, sync: key, data: data.to_vec() });
        }
        Ok(out)
    }

    /// An audio message body with its RTMP timestamp (ms).
    pub fn audio(&mut self, timestamp_ms: u32, tag: &[u8]) -> Result<Vec<Unit>, LiveError> {
        let (&first, rest) = tag.split_first().ok_or_else(|| refused("an empty audio message"))?;
        let format = first >> 4;
        if format != 10 {
            return Err(refused(format!("audio format {format} is not supported; push AAC (format 10)")));
        }
        let (&packet_type, data) =
            rest.split_first().ok_or_else(|| refused("an audio message shorter than its AAC header"))?;
        match packet_type {
            0 => {
                self.audio_config(data)?;
                Ok(Vec::new())
            }
            1 => {
                let ms = self.timeline(timestamp_ms);
                self.audio_frame(ms, data)
            }
            t => Err(refused(format!("AAC packet type {t} is not defined"))),
        }
    }

    fn audio_config(&mut self, config: &[u8]) -> Result<(), LiveError> {
        if let Some(a) = &self.audio {
            if a.config == config {
                return Ok(());
            }
            return Err(refused("the AAC configuration changed mid-stream"));
        }
        if self.header_sent {
            return Err(refused("an AAC sequence header after the stream's header: a track cannot be added"));
        }
        let rate = crate::audio::aac_sample_rate(config)
            .filter(|r| (1000..=384_000).contains(r))
            .ok_or_else(|| refused("AAC sequence header: no sampling rate"))?;
        let channels = crate::audio::aac_channels(config).unwrap_or(2);
        let mut entry = AudioSampleEntry::new(FourCC(*b"mp4a"), channels, u16::try_from(rate).unwrap_or(0));
        entry.esds = Some(Esds::new(0x40, 0, 0, config));
        crate::codec::describe(&SampleEntry::Audio(entry.clone())).map_err(refused)?;
        self.audio = Some(Audio { config: config.to_vec(), rate, entry, pending: Vec::new(), next_dts: None });
        Ok(())
    }

    fn audio_frame(&mut self, ms: i64, data: &[u8]) -> Result<Vec<Unit>, LiveError> {
        let a = self.audio.as_mut().ok_or_else(|| refused("an AAC frame before the AAC sequence header"))?;
        if self.header_sent && !self.header_tracks.1 {
            return Err(refused("AAC frames on a stream whose header has no audio"));
        }
        if data.is_empty() {
            return Ok(Vec::new());
        }
        let rate = u64::from(a.rate);
        let by_time = u64::try_from(ms).unwrap_or(0) * rate / 1000;
        // The count goes on unless the timestamp is well ahead of it (a
        // gap); it never goes back.
        let tolerance = u64::try_from(AUDIO_RESYNC_MS).unwrap_or(0) * rate / 1000;
        let dts = match a.next_dts {
            Some(next) if by_time <= next.saturating_add(tolerance) => next,
            _ => by_time,
        };
        a.next_dts = Some(dts + AAC_FRAME_SAMPLES);
        self.hold(data.len())?;
        if let Some(a) = self.audio.as_mut() {
            a.pending.push(Frame { ms, dts, cts_offset: 0, sync: true, data: data.to_vec() });
        }
        let mut out = Vec::new();
        // Audio follows the cuts video made: the frames before each.
        while let Some(&cut) = self.cuts.front() {
            if ms < cut {
                break;
            }
            self.cuts.pop_front();
            out.extend(self.cut_audio(Some(cut))?);
        }
        let no_video = self.video.is_none() && !self.header_tracks.0;
        if no_video
            && let Some(a) = &self.audio
            && a.pending.first().is_some_and(|f| ms - f.ms >= AUDIO_ONLY_FRAGMENT_MS)
        {
            out.extend(self.cut_audio(Some(ms))?);
        }
        Ok(out)
    }

    /// The stream ended: what is buffered goes out (the last frame of
    /// video lasting as long as the one before it).
    pub fn finish(&mut self) -> Result<Vec<Unit>, LiveError> {
        let mut out = Vec::new();
        if self.video.as_ref().is_some_and(|v| !v.pending.is_empty()) {
            out.extend(self.cut_video(None)?);
        }
        self.cuts.clear();
        if self.audio.as_ref().is_some_and(|a| !a.pending.is_empty()) {
            out.extend(self.cut_audio(None)?);
        }
        Ok(out)
    }

    /// The header, when it has not gone out yet.
    fn header_once(&mut self, out: &mut Vec<Unit>) -> Result<(), LiveError> {
        if self.header_sent {
            return Ok(());
        }
        self.header_sent = true;
        self.header_tracks = (self.video.is_some(), self.audio.is_some());
        out.push(Unit::Header(self.header()?));
        Ok(())
    }

    /// Cuts the buffered video before `next_ms` (the next key frame; `None`
    /// at the end of the stream).
    fn cut_video(&mut self, next_ms: Option<i64>) -> Result<Vec<Unit>, LiveError> {
        let mut out = Vec::new();
        self.header_once(&mut out)?;
        let Some(v) = self.video.as_mut() else {
            return Ok(out);
        };
        let frames = std::mem::take(&mut v.pending);
        if frames.is_empty() {
            return Ok(out);
        }
        let next_dts = next_ms.map(|ms| u64::try_from(ms).unwrap_or(0) * u64::from(VIDEO_TIMESCALE / 1000));
        let durations = durations(&frames, next_dts);
        out.push(self.fragment(VIDEO_TRACK_ID, &frames, &durations)?);
        self.release(&frames);
        if let Some(ms) = next_ms
            && self.header_tracks.1
        {
            self.cuts.push_back(ms);
        }
        Ok(out)
    }

    /// Cuts the buffered audio before `at_ms` (`None`: all of it); the
    /// last frame lasts up to the next one held, else 1024 samples.
    fn cut_audio(&mut self, at_ms: Option<i64>) -> Result<Vec<Unit>, LiveError> {
        let mut out = Vec::new();
        self.header_once(&mut out)?;
        let Some(a) = self.audio.as_mut() else {
            return Ok(out);
        };
        let split = at_ms.map_or(a.pending.len(), |cut| a.pending.iter().take_while(|f| f.ms < cut).count());
        let frames: Vec<Frame> = a.pending.drain(..split).collect();
        if frames.is_empty() {
            return Ok(out);
        }
        let next_dts = a.pending.first().map(|f| f.dts).or(a.next_dts);
        let durations = durations(&frames, next_dts);
        out.push(self.fragment(AUDIO_TRACK_ID, &frames, &durations)?);
        self.release(&frames);
        Ok(out)
    }

    fn release(&mut self, frames: &[Frame]) {
        let bytes: u64 = frames.iter().map(|f| f.data.len() as u64).sum();
        self.buffered = self.buffered.saturating_sub(bytes);
    }

    /// `ftyp` + `moov`: a track for each configuration seen.
    fn header(&self) -> Result<Vec<u8>, LiveError> {
        let mut traks = Vec::new();
        let mut trex = Vec::new();
        if let Some(v) = &self.video {
            let tkhd = Tkhd {
                track_id: VIDEO_TRACK_ID,
                width: u32::from(v.entry.width) << 16,
                height: u32::from(v.entry.height) << 16,
                ..Tkhd::default()
            };
            let minf = Minf {
                vmhd: Some(Vmhd::default()),
                smhd: None,
                dinf: Some(Dinf::default()),
                stbl: stbl(SampleEntry::Visual(v.entry.clone())),
                other: Vec::new(),
            };
            traks.push(trak(tkhd, VIDEO_TIMESCALE, b"vide", "castguard video", minf));
            trex.push(Trex { track_id: VIDEO_TRACK_ID, default_sample_description_index: 1, ..Trex::default() });
        }
        if let Some(a) = &self.audio {
            let tkhd = Tkhd { track_id: AUDIO_TRACK_ID, volume: 0x0100, alternate_group: 1, ..Tkhd::default() };
            let minf = Minf {
                vmhd: None,
                smhd: Some(Smhd::default()),
                dinf: Some(Dinf::default()),
                stbl: stbl(SampleEntry::Audio(a.entry.clone())),
                other: Vec::new(),
            };
            traks.push(trak(tkhd, a.rate, b"soun", "castguard audio", minf));
            trex.push(Trex { track_id: AUDIO_TRACK_ID, default_sample_description_index: 1, ..Trex::default() });
        }
        if traks.is_empty() {
            return Err(refused("no H.264 or AAC sequence header before the first fragment"));
        }
        let moov = Moov {
            mvhd: Mvhd { timescale: 1000, next_track_id: AUDIO_TRACK_ID + 1, ..Mvhd::default() },
            traks,
            mvex: Some(Mvex { mehd: None, trex, other: Vec::new() }),
            pssh: Vec::new(),
            other: Vec::new(),
        };
        let ftyp = Ftyp {
            major_brand: FourCC(*b"iso6"),
            minor_version: 0,
            compatible_brands: [b"iso6", b"cmfc", b"mp41"].iter().map(|b| FourCC(**b)).collect(),
        };
        let mut out = Vec::with_capacity(1024);
        ftyp.encode(&mut out).map_err(crate::Error::from)?;
        moov.encode(&mut out).map_err(crate::Error::from)?;
        Ok(out)
    }

    /// One `moof` + `mdat` of one track.
    fn fragment(&mut self, track_id: u32, frames: &[Frame], durations: &[u32]) -> Result<Unit, LiveError> {
        self.sequence = self.sequence.wrapping_add(1);
        let with_cts = frames.iter().any(|f| f.cts_offset != 0);
        let samples = frames
            .iter()
            .zip(durations)
            .map(|(f, &d)| {
                Ok(TrunSample {
                    duration: Some(d),
                    size: Some(u32::try_from(f.data.len()).map_err(|_| refused("a frame over 4 GiB"))?),
                    flags: Some(if f.sync { SYNC_SAMPLE_FLAGS } else { NON_SYNC_SAMPLE_FLAGS }),
                    composition_time_offset: with_cts.then_some(f.cts_offset),
                })
            })
            .collect::<Result<Vec<_>, LiveError>>()?;
        let mut moof = Moof {
            mfhd: Mfhd { sequence_number: self.sequence },
            trafs: vec![Traf {
                tfhd: Tfhd {
                    track_id,
                    base_data_offset: None,
                    sample_description_index: None,
                    default_sample_duration: None,
                    default_sample_size: None,
                    default_sample_flags: None,
                    duration_is_empty: false,
                    default_base_is_moof: true,
                },
                tfdt: Some(Tfdt { version: 1, base_media_decode_time: frames.first().map_or(0, |f| f.dts) }),
                truns: vec![Trun {
                    version: u8::from(frames.iter().any(|f| f.cts_offset < 0)),
                    data_offset: Some(0),
                    first_sample_flags: None,
                    samples,
                }],
                senc: None,
                saiz: Vec::new(),
                saio: Vec::new(),
                other: Vec::new(),
            }],
            pssh: Vec::new(),
            other: Vec::new(),
        };
        let data_len: u64 = frames.iter().map(|f| f.data.len() as u64).sum();
        let mdat_header = if data_len + 8 > u64::from(u32::MAX) { 16 } else { 8 };
        let mut bytes = Vec::new();
        moof.encode(&mut bytes).map_err(crate::Error::from)?;
        let moof_len = bytes.len();
        moof.trafs[0].truns[0].data_offset =
            Some(i32::try_from(moof_len + mdat_header).map_err(|_| refused("a moof over 2 GiB"))?);
        bytes.clear();
        bytes.reserve(moof_len + mdat_header + data_len as usize);
        moof.encode(&mut bytes).map_err(crate::Error::from)?;
        bmff::write_mdat_header(data_len, &mut bytes);
        for f in frames {
            bytes.extend_from_slice(&f.data);
        }
        Ok(Unit::Fragment { bytes, moof_len })
    }
}

/// Sample durations from decode times: each up to the next frame's, the
/// last up to `next_dts` (else as long as the one before it, else 1).
fn durations(frames: &[Frame], next_dts: Option<u64>) -> Vec<u32> {
    let to_u32 = |d: u64| u32::try_from(d).unwrap_or(u32::MAX);
    let mut out: Vec<u32> = frames.windows(2).map(|w| to_u32(w[1].dts.saturating_sub(w[0].dts))).collect();
    let last = frames.last().map_or(0, |f| f.dts);
    let tail = match next_dts {
        Some(next) if next > last => to_u32(next - last),
        _ => out.last().copied().unwrap_or(1),
    };
    out.push(tail.max(1));
    out
}

fn stbl(entry: SampleEntry) -> Stbl {
    crate::cmaf::fragmented_stbl(Stsd { entries: vec![entry] })
}

fn trak(tkhd: Tkhd, timescale: u32, handler: &[u8; 4], name: &str, minf: Minf) -> Trak {
    Trak {
        tkhd,
        edts: None,
        mdia: Mdia {
            mdhd: Mdhd { timescale, ..Mdhd::default() },
            hdlr: Hdlr { handler_type: FourCC(*handler), name: name.into(), raw_name: None },
            minf,
            other: Vec::new(),
        },
        other: Vec::new(),
    }
}

/// A tag of an FLV file (FLV specification v10.1, Annex E.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKind {
    Audio,
    Video,
    Script,
}

/// One tag of an FLV file: what one RTMP message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlvTag<'a> {
    pub kind: TagKind,
    /// Decode time, ms.
    pub timestamp_ms: u32,
    pub body: &'a [u8],
}

/// The tags of a whole FLV file (header, then `PreviousTagSize` and tags),
/// for tests and fuzzing: what an RTMP session delivers message by message.
/// Stops with an error at the first tag that does not fit.
pub fn flv_tags(file: &[u8]) -> Result<Vec<FlvTag<'_>>, LiveError> {
    if file.get(..3) != Some(b"FLV") {
        return Err(refused("not an FLV file"));
    }
    let offset = file
        .get(5..9)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or_else(|| refused("FLV header cut short"))?;
    let mut at = offset.checked_add(4).ok_or_else(|| refused("FLV header offset"))?;
    let mut tags = Vec::new();
    while at < file.len() {
        let head = file.get(at..at + 11).ok_or_else(|| refused(format!("FLV tag header cut short at byte {at}")))?;
        let kind = match head[0] & 0x1f {
            8 => TagKind::Audio,
            9 => TagKind::Video,
            18 => TagKind::Script,
            t => return Err(refused(format!("FLV tag type {t} at byte {at}"))),
        };
        let size = u32::from_be_bytes([0, head[1], head[2], head[3]]) as usize;
        let ts = u32::from_be_bytes([head[7], head[4], head[5], head[6]]);
        let body =
            file.get(at + 11..at + 11 + size).ok_or_else(|| refused(format!("FLV tag at byte {at} cut short")))?;
        tags.push(FlvTag { kind, timestamp_ms: ts, body });
        at += 11 + size + 4;
    }
    Ok(tags)
}

/// Remuxes a whole FLV file (see [`flv_tags`]) into CMAF units.
pub fn remux_flv(file: &[u8], limit: u64) -> Result<Vec<Unit>, LiveError> {
    let mut remuxer = FlvRemuxer::new(limit);
    let mut out = Vec::new();
    for tag in flv_tags(file)? {
        match tag.kind {
            TagKind::Video => out.extend(remuxer.video(tag.timestamp_ms, tag.body)?),
            TagKind::Audio => out.extend(remuxer.audio(tag.timestamp_ms, tag.body)?),
            TagKind::Script => {}
        }
    }
    out.extend(remuxer.finish()?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPS and PPS of x264 High 640x360 (the `h264_aac_bframes.mp4` fixture).
    const SPS: &[u8] = &[
        0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9, 0x40, 0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00,
        0x00, 0x03, 0x00, 0x32, 0x0f, 0x16, 0x2d, 0x96,
    ];
    const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];
    /// AAC-LC, 48 kHz, stereo.
    const ASC: &[u8] = &[0x11, 0x90];

    fn avc_config() -> Vec<u8> {
        let mut r = vec![0x17, 0, 0, 0, 0, 1, 0x64, 0x00, 0x1e, 0xff, 0xe1];
        r.extend((SPS.len() as u16).to_be_bytes());
        r.extend(SPS);
        r.push(1);
        r.extend((PPS.len() as u16).to_be_bytes());
        r.extend(PPS);
        r
    }

    fn avc_frame(key: bool, cts_ms: i32, len: usize, fill: u8) -> Vec<u8> {
        let c = cts_ms.to_be_bytes();
        let mut t = vec![if key { 0x17 } else { 0x27 }, 1, c[1], c[2], c[3]];
        t.extend((len as u32).to_be_bytes());
        t.push(if key { 0x65 } else { 0x41 });
        t.extend(std::iter::repeat_n(fill, len - 1));
        t
    }

    fn aac(packet: u8, data: &[u8]) -> Vec<u8> {
        let mut t = vec![0xaf, packet];
        t.extend(data);
        t
    }

    fn samples_of(header: &[u8], unit: &Unit) -> (u32, Vec<bmff::sample_table::Sample>) {
        let moov = crate::origin::init_moov(header).expect("moov").expect("has moov");
        let Unit::Fragment { bytes, moof_len } = unit else { panic!("not a fragment") };
        let moof = Moof::decode(&bytes[..*moof_len]).expect("moof");
        let id = moof.trafs[0].tfhd.track_id;
        let mut lists = vec![(id, Vec::new())];
        crate::fragmented::fragment_samples(std::path::Path::new("t"), &moov, bytes, *moof_len, &mut lists)
            .expect("samples");
        (id, lists.remove(0).1)
    }

    /// 25 fps video with 2-frame GOPs and 48 kHz AAC, interleaved as ffmpeg's
    /// FLV muxer sends them: fragments cut at key frames, audio at the same
    /// instants, decode times exact.
    #[test]
    fn gops_become_fragments() {
        let mut r = FlvRemuxer::new(1 << 20);
        let mut units = Vec::new();
        units.extend(r.video(0, &avc_config()).expect("avc config"));
        units.extend(r.audio(0, &aac(0, ASC)).expect("aac config"));
        // Audio frames every 21.333 ms (timestamps rounded down, as RTMP has them).
        let mut audio_n = 0u64;
        for frame in 0..6u32 {
            let ms = frame * 40;
            while audio_n * 1024 * 1000 / 48000 <= u64::from(ms) {
                units.extend(
                    r.audio((audio_n * 1024 * 1000 / 48000) as u32, &aac(1, &[audio_n as u8; 10])).expect("aac"),
                );
                audio_n += 1;
            }
            let key = frame % 2 == 0;
            units.extend(r.video(ms, &avc_frame(key, 80, 100, frame as u8)).expect("frame"));
        }
        units.extend(r.finish().expect("finish"));
        let Unit::Header(header) = &units[0] else { panic!("header first: {units:?}") };
        let moov = crate::origin::init_moov(header).expect("moov").expect("moov");
        assert_eq!(moov.traks.len(), 2);
        let Some(SampleEntry::Visual(v)) = moov.traks[0].mdia.minf.stbl.stsd.entries.first() else { panic!() };
        assert_eq!((v.width, v.height), (640, 360));
        assert_eq!(moov.traks[1].mdia.mdhd.timescale, 48000);
        let frags: Vec<_> = units[1..].iter().map(|u| samples_of(header, u)).collect();
        let video: Vec<_> = frags.iter().filter(|f| f.0 == 1).map(|f| &f.1).collect();
        let audio: Vec<_> = frags.iter().filter(|f| f.0 == 2).map(|f| &f.1).collect();
        assert_eq!(video.len(), 3, "one fragment per GOP");
        for (i, gop) in video.iter().enumerate() {
            assert_eq!(gop.len(), 2);
            assert!(gop[0].is_sync && !gop[1].is_sync);
            assert_eq!(gop[0].dts, i as u64 * 2 * 3600);
            assert_eq!(gop.iter().map(|s| s.duration).collect::<Vec<_>>(), [3600, 3600]);
            assert_eq!(gop[0].cts_offset, 80 * 90);
        }
        assert_eq!(audio.len(), 3, "audio cut with the video");
        let mut next = 0;
        for (i, frag) in audio.iter().enumerate() {
            assert_eq!(frag[0].dts, next, "audio fragment {i} continues");
            assert!(frag.iter().all(|s| s.duration == 1024));
            // Starts at the first frame at or after the key frame's 80 ms.
            assert!(frag[0].dts * 1000 / 48000 >= i as u64 * 80);
            next = frag[0].dts + 1024 * frag.len() as u64;
        }
        assert_eq!(next, audio_n * 1024);
    }

    #[test]
    fn refusals() {
        let status = |r: Result<Vec<Unit>, LiveError>| r.map(|_| ()).map_err(|e| e.status());
        let mut r = FlvRemuxer::new(1 << 20);
        assert_eq!(status(r.video(0, &[])), Err(400));
        assert_eq!(status(r.video(0, &[0x12, 0, 0, 0, 0])), Err(400), "Sorenson H.263");
        assert_eq!(status(r.video(0, &[0x90, b'h', b'v', b'c', b'1'])), Err(400), "enhanced RTMP");
        assert_eq!(status(r.video(0, &avc_frame(true, 0, 10, 0))), Err(400), "frame before config");
        assert_eq!(status(r.video(0, &[0x17, 0, 0, 0, 0, 1, 2])), Err(400), "broken avcC");
        assert_eq!(status(r.audio(0, &[0x2f, 1, 2])), Err(400), "MP3");
        assert_eq!(status(r.audio(0, &aac(1, &[1]))), Err(400), "frame before config");
        assert_eq!(status(r.audio(0, &aac(0, &[]))), Err(400), "empty AudioSpecificConfig");
        r.video(0, &avc_config()).expect("config");
        r.video(0, &avc_config()).expect("the same config again");
        let mut other = avc_config();
        *other.last_mut().expect("pps") ^= 1;
        assert_eq!(status(r.video(0, &other)), Err(400), "changed config");
        r.video(40, &avc_frame(true, 0, 10, 0)).expect("frame");
        assert_eq!(status(r.video(0, &avc_frame(false, 0, 10, 0))), Err(400), "going back");
        // The fragment limit bounds what a GOP may buffer.
        let mut r = FlvRemuxer::new(1000);
        r.video(0, &avc_config()).expect("config");
        r.video(0, &avc_frame(true, 0, 600, 0)).expect("frame");
        assert_eq!(status(r.video(40, &avc_frame(false, 0, 600, 0))), Err(413));
    }

    #[test]
    fn frames_before_the_first_key_frame_are_dropped() {
        let mut r = FlvRemuxer::new(1 << 20);
        r.video(0, &avc_config()).expect("config");
        assert!(r.video(0, &avc_frame(false, 0, 10, 0)).expect("inter").is_empty());
        assert_eq!(r.buffered(), 0);
        r.video(40, &avc_frame(true, 0, 10, 0)).expect("key");
        let units = r.finish().expect("finish");
        assert_eq!(units.len(), 2, "header and one fragment");
        let Unit::Header(h) = &units[0] else { panic!() };
        let (_, s) = samples_of(h, &units[1]);
        assert_eq!((s.len(), s[0].dts, s[0].duration), (1, 40 * 90, 1));
    }

    /// A reconnecting encoder starts at 0 again: its frames are moved past
    /// the recorded end, audio and video by the same amount.
    #[test]
    fn a_reconnect_continues_the_timeline() {
        let mut r = FlvRemuxer::new(1 << 20);
        r.continue_at(10_000);
        r.video(0, &avc_config()).expect("config");
        r.audio(0, &aac(0, ASC)).expect("config");
        r.audio(5, &aac(1, &[1])).expect("audio first");
        r.video(0, &avc_frame(true, 0, 10, 0)).expect("key frame a little earlier");
        r.video(40, &avc_frame(false, 0, 10, 0)).expect("frame");
        let units = r.finish().expect("finish");
        let Unit::Header(h) = &units[0] else { panic!() };
        let video = samples_of(h, &units[1]).1;
        let audio = samples_of(h, &units[2]).1;
        assert_eq!(video[0].dts, (10_000 + RESUME_MARGIN_MS as u64 - 5) * 90);
        assert_eq!(video[1].dts, (10_000 + RESUME_MARGIN_MS as u64 + 35) * 90);
        assert_eq!(audio[0].dts, (10_000 + RESUME_MARGIN_MS as u64) * 48);
        // Timestamps already past the end are kept.
        let mut r = FlvRemuxer::new(1 << 20);
        r.continue_at(10_000);
        r.video(0, &avc_config()).expect("config");
        r.video(20_000, &avc_frame(true, 0, 10, 0)).expect("key");
        let units = r.finish().expect("finish");
        let Unit::Header(h) = &units[0] else { panic!() };
        assert_eq!(samples_of(h, &units[1]).1[0].dts, 20_000 * 90);
    }

    #[test]
    fn audio_only_is_cut_every_two_seconds() {
        let mut r = FlvRemuxer::new(1 << 20);
        r.audio(0, &aac(0, ASC)).expect("config");
        let mut units = Vec::new();
        for n in 0..300u64 {
            units.extend(r.audio((n * 1024 * 1000 / 48000) as u32, &aac(1, &[7; 5])).expect("frame"));
        }
        units.extend(r.finish().expect("finish"));
        let Unit::Header(h) = &units[0] else { panic!() };
        let counts: Vec<usize> = units[1..].iter().map(|u| samples_of(h, u).1.len()).collect();
        assert_eq!(counts.iter().sum::<usize>(), 300);
        assert!(counts.len() >= 3 && counts[0] >= 94, "{counts:?}");
        // A gap in the timestamps restarts the count.
        let mut r = FlvRemuxer::new(1 << 20);
        r.audio(0, &aac(0, ASC)).expect("config");
        r.audio(0, &aac(1, &[1])).expect("frame");
        r.audio(21, &aac(1, &[1])).expect("frame");
        r.audio(1000, &aac(1, &[1])).expect("frame after a gap");
        let units = r.finish().expect("finish");
        let Unit::Header(h) = &units[0] else { panic!() };
        let dts: Vec<u64> = samples_of(h, &units[1]).1.iter().map(|s| s.dts).collect();
        assert_eq!(dts, [0, 1024, 48000]);
    }

    #[test]
    fn flv_files_are_read_within_bounds() {
        assert!(flv_tags(b"").is_err());
        assert!(flv_tags(b"FLV\x01\x05\x00\x00\x00\x09").is_ok_and(|t| t.is_empty()));
        assert!(flv_tags(b"FLV\x01\x05\xff\xff\xff\xff").is_ok_and(|t| t.is_empty()), "offset past the end");
        let mut f = b"FLV\x01\x05\x00\x00\x00\x09\0\0\0\0".to_vec();
        f.extend([9, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0]);
        assert!(flv_tags(&f).is_err(), "a tag longer than the file");
        assert!(remux_flv(&f, 1 << 20).is_err());
    }
}
