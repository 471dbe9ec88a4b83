//! Streaming manifests: DASH MPD ([`dash`]) and HLS playlists ([`hls`]).
//!
//! Why a model of its own: both `castguard package` (static files next to the
//! segments) and the origin server (one manifest per streaming locator, URLs
//! relative to the manifest) describe the same packaged asset, with or without
//! protection. The writers are pure functions from this model to text, so the
//! same locator always gives the same bytes (CDN caching, golden tests).
//!
//! The model is plain data: the caller fills in PSSH box bytes, PlayReady
//! objects, key URIs and license URLs (from the `cenc` and `keys` crates); this
//! module only formats and escapes them.
//!
//! Writers never panic, whatever the input: text is escaped for its target
//! syntax (XML attributes and text, HLS quoted strings and URI lines), and
//! arithmetic is checked. They do not reject bad models either; call
//! [`Presentation::validate`] first to get a [`ManifestError`] naming the
//! track and field that would make a manifest players refuse.
//!
//! Timing follows the media: every [`SegmentTime`] is a `tfdt`
//! (`baseMediaDecodeTime`) and a duration in the track timescale, ISO/IEC
//! 23009-1 §5.3.9.6 (`SegmentTimeline`) and RFC 8216 §4.3.2.1 (`EXTINF`).

pub mod dash;
pub mod hls;
mod template;

pub use dash::write_mpd;
pub use hls::{write_iframe_playlist, write_master, write_media_playlist};

use thiserror::Error;

/// Widevine system ID `edef8ba9-79d6-4ace-a3c8-27dcd51d21ed`.
pub const WIDEVINE_SYSTEM_ID: [u8; 16] = [
    0xed, 0xef, 0x8b, 0xa9, 0x79, 0xd6, 0x4a, 0xce, 0xa3, 0xc8, 0x27, 0xdc, 0xd5, 0x1d, 0x21, 0xed,
];
/// PlayReady system ID `9a04f079-9840-4286-ab92-e65be0885f95`.
pub const PLAYREADY_SYSTEM_ID: [u8; 16] = [
    0x9a, 0x04, 0xf0, 0x79, 0x98, 0x40, 0x42, 0x86, 0xab, 0x92, 0xe6, 0x5b, 0xe0, 0x88, 0x5f, 0x95,
];
/// DASH-IF Clear Key system ID `e2719d58-a985-b3c9-781a-b030af78d30e`
/// (DASH-IF IOP v4.3 §7.6.2.4; the one dash.js and Shaka map to `org.w3.clearkey`).
pub const DASHIF_CLEARKEY_SYSTEM_ID: [u8; 16] = [
    0xe2, 0x71, 0x9d, 0x58, 0xa9, 0x85, 0xb3, 0xc9, 0x78, 0x1a, 0xb0, 0x30, 0xaf, 0x78, 0xd3, 0x0e,
];
/// W3C "Common PSSH box format" system ID `1077efec-c0b2-4d02-ace3-3c1e52e2fb4b`
/// (W3C EME Initialization Data Format "cenc", also used for Clear Key).
pub const W3C_COMMON_SYSTEM_ID: [u8; 16] = [
    0x10, 0x77, 0xef, 0xec, 0xc0, 0xb2, 0x4d, 0x02, 0xac, 0xe3, 0x3c, 0x1e, 0x52, 0xe2, 0xfb, 0x4b,
];

/// HLS `KEYFORMAT` of FairPlay Streaming.
pub const KEYFORMAT_FAIRPLAY: &str = "com.apple.streamingkeydelivery";
/// HLS `KEYFORMAT` of PlayReady.
pub const KEYFORMAT_PLAYREADY: &str = "com.microsoft.playready";
/// HLS `KEYFORMAT` of Widevine (`urn:uuid:` + system ID).
pub const KEYFORMAT_WIDEVINE: &str = "urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed";

/// One packaged asset as the manifests describe it: a single period, VOD
/// or (with [`Presentation::live`]) live.
#[derive(Debug, Clone, PartialEq)]
pub struct Presentation {
    /// Whole presentation duration (`mediaPresentationDuration`).
    pub duration_secs: f64,
    pub tracks: Vec<Track>,
    /// DASH `minBufferTime` (ISO/IEC 23009-1 §5.3.1.2).
    pub min_buffer_secs: f64,
    /// A presentation still growing at its edge; `None` for VOD (and for
    /// a live recording that has ended, which is VOD from then on).
    pub live: Option<Live>,
}

/// What a growing presentation's manifests say besides its segments:
/// DASH `type="dynamic"` (ISO/IEC 23009-1 §5.3.1.2, §4.3: the segment
/// timeline is in presentation time from `availabilityStartTime`), and HLS
/// live media playlists (RFC 8216 §6.2.2: no `EXT-X-ENDLIST`, a sliding
/// window numbered by `EXT-X-MEDIA-SEQUENCE`, `EXT-X-PROGRAM-DATE-TIME`).
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    /// Unix milliseconds of presentation time 0: DASH
    /// `availabilityStartTime`; a segment's HLS `EXT-X-PROGRAM-DATE-TIME`
    /// is this plus its start.
    pub availability_start_ms: i64,
    /// Unix milliseconds when the newest segment arrived: DASH
    /// `publishTime`. Taken from the media, not the clock, so that every
    /// request for the same state gets the same bytes.
    pub published_ms: i64,
    /// DASH `timeShiftBufferDepth`: how far behind the live edge a viewer
    /// may seek (the tracks hold only segments in this window).
    pub time_shift_secs: f64,
    /// DASH `minimumUpdatePeriod`.
    pub min_update_secs: f64,
    /// DASH `suggestedPresentationDelay`: how far behind the newest
    /// segment players should play.
    pub suggested_delay_secs: f64,
    /// DASH `UTCTiming` (`urn:mpeg:dash:utc:http-iso:2014`): where players
    /// read the server's clock.
    pub utc_timing_url: Option<String>,
}

impl Live {
    /// Drops from `track` the segments that ended before the time-shift
    /// window (measured back from the track's newest segment end), keeping
    /// numbering and key frame ends in step.
    pub fn window(&self, track: &mut Track) {
        let ts = u64::from(track.timescale);
        let Some(last) = track.segments.last() else {
            return;
        };
        let edge = last.start.saturating_add(last.duration);
        // `as` saturates: a hostile f64 cannot wrap.
        let depth = (self.time_shift_secs.max(0.0) * ts as f64) as u64;
        let from = edge.saturating_sub(depth);
        let drop = track
            .segments
            .iter()
            .take(track.segments.len().saturating_sub(1))
            .take_while(|s| s.start.saturating_add(s.duration) <= from)
            .count();
        if drop == 0 {
            return;
        }
        if let Some(seq) = &mut track.discontinuity_sequence {
            let gaps = (1..=drop)
                .filter(|&i| {
                    track
                        .segments
                        .get(i)
                        .is_some_and(|s| !s.follows(&track.segments[i - 1]))
                })
                .count();
            *seq = seq.saturating_add(gaps as u64);
        }
        track.segments.drain(..drop);
        if track.key_frame_ends.len() > drop {
            track.key_frame_ends.drain(..drop);
        } else {
            track.key_frame_ends.clear();
        }
        track.start_number = track.start_number.saturating_add(drop as u64);
    }
}

/// `xs:dateTime` in UTC with milliseconds (`2026-12-05T10:00:00.000Z`) of
/// Unix milliseconds, for DASH and for HLS `EXT-X-PROGRAM-DATE-TIME`
/// (RFC 8216 §4.3.2.6 takes ISO 8601 with milliseconds).
pub fn utc_datetime(unix_ms: i64) -> String {
    let days = unix_ms.div_euclid(86_400_000);
    let ms_of_day = unix_ms.rem_euclid(86_400_000);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, ms) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackKind {
    Video {
        width: u32,
        height: u32,
        /// `(numerator, denominator)`, e.g. `(30000, 1001)`: the constant
        /// rate, or for a variable frame rate the average over the track
        /// (DASH `Representation@frameRate`, ISO/IEC 23009-1 §5.3.7.2).
        frame_rate: Option<(u32, u32)>,
        /// The highest rate of a variable-frame-rate track (from its
        /// shortest frame), `None` when the rate is constant: HLS
        /// `FRAME-RATE` is the maximum (RFC 8216 §4.3.4.2), DASH
        /// `AdaptationSet@maxFrameRate` too.
        max_frame_rate: Option<(u32, u32)>,
        /// Sample aspect ratio `(h, v)` from the sample entry's `pasp`
        /// (ISO/IEC 14496-12 §12.1.4; `(1, 1)` when it has none), DASH
        /// `Representation@sar`; `None` when unknown (not written).
        sar: Option<(u32, u32)>,
        /// Coded as fields (DASH `Representation@scanType="interlaced"`,
        /// ISO/IEC 23009-1 §5.3.7.2); `false` for progressive or unknown.
        interlaced: bool,
        /// Which picture of the title the track shows. Renditions of one
        /// picture (an ABR ladder) share the number; other pictures of the
        /// title (a second camera angle, a sign-language picture) have
        /// their own: DASH puts them in adaptation sets of their own, HLS
        /// makes them `EXT-X-MEDIA:TYPE=VIDEO` renditions. `0` is the main
        /// picture.
        picture: u32,
    },
    Audio {
        sample_rate: u32,
        /// Output channels (HLS `CHANNELS`; DASH's MPEG channel
        /// configuration when there is no Dolby map).
        channels: u16,
        /// BCP 47 / RFC 5646 tag, e.g. `en`, `pt-BR`.
        language: Option<String>,
        /// AC-3 / E-AC-3 loudspeaker map, DASH `AudioChannelConfiguration`
        /// in the Dolby scheme (`F801` for 5.1; see [`crate::audio`]).
        dolby_channel_map: Option<u16>,
        /// E-AC-3 Joint Object Coding (Dolby Atmos) complexity index: HLS
        /// `CHANNELS="16/JOC"`, DASH `EC3_ExtensionType` /
        /// `EC3_ExtensionComplexityIndex` properties.
        joc_complexity: Option<u8>,
    },
    /// Subtitles or captions (`wvtt` CMAF segments, segmented WebVTT for
    /// HLS, and the whole file as `<track>/subtitles.vtt`); never
    /// encrypted.
    Text {
        /// BCP 47 tag.
        language: String,
        role: crate::text::TextRole,
        /// HLS `NAME`, DASH `Label`; derived from language and role when
        /// `None`.
        label: Option<String>,
    },
}

/// One CMAF track: an init segment plus numbered media segments.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// Unique in the presentation; DASH `Representation@id`.
    pub id: u32,
    pub kind: TrackKind,
    /// RFC 6381 codec string, e.g. `avc1.64001f`, `mp4a.40.2`, `hvc1.1.6.L93.B0`.
    pub codecs: String,
    /// DASH `@bandwidth` (ISO/IEC 23009-1 §5.3.5.2, for the presentation's
    /// `min_buffer_secs`), bits per second; see [`crate::bandwidth`].
    pub bandwidth: u64,
    /// Average bits per second over the whole track (HLS
    /// `AVERAGE-BANDWIDTH`).
    pub average_bandwidth: u64,
    /// HLS peak segment bit rate (RFC 8216 §4.3.4.2 `BANDWIDTH`), bits per
    /// second.
    pub hls_peak_bandwidth: u64,
    /// Units of [`SegmentTime`] (the track's `mdhd` timescale).
    pub timescale: u32,
    /// In presentation order.
    pub segments: Vec<SegmentTime>,
    /// Relative to the manifest, e.g. `video_1/init.mp4`.
    pub init_uri: String,
    /// DASH template with `$Number$` (also `$Number%05d$`, `$Time$`,
    /// `$RepresentationID$`, `$Bandwidth$`, `$$`); HLS substitutes it per
    /// segment. E.g. `video_1/$Number$.m4s`.
    pub media_uri_template: String,
    /// Number of the first segment (DASH `startNumber`, HLS `EXT-X-MEDIA-SEQUENCE`).
    pub start_number: u64,
    /// A recording's timeline, which may have gaps (an encoder that came
    /// back after a while): the gaps before the first segment (HLS
    /// `EXT-X-DISCONTINUITY-SEQUENCE`), and HLS marks each gap with
    /// `EXT-X-DISCONTINUITY`. `None` for media packaged from files.
    pub discontinuity_sequence: Option<u64>,
    /// DASH signalling of Common Encryption; `None` for clear tracks and for
    /// tracks that are only HLS AES-128 encrypted.
    pub protection: Option<Protection>,
    /// HLS `EXT-X-KEY` lines, in order; empty for clear. Several keys are the
    /// usual multi-DRM case (FairPlay + Widevine + PlayReady key formats).
    pub hls_keys: Vec<HlsKey>,
    /// Per segment, bytes from its start to the end of its first sample (a
    /// key frame), as served: the byte ranges of the HLS I-frame playlist
    /// (RFC 8216 §4.3.3.6). Empty for audio, and where there is none (HLS
    /// AES-128 encrypts whole segments, so no range of one can be read).
    pub key_frame_ends: Vec<u64>,
    /// The largest SAP type (ISO/IEC 14496-12 Annex I) a segment starts
    /// with: 1 for a closed GOP; 2 with decodable leading pictures; 3 for
    /// an open GOP, whose segments are not independent. DASH
    /// `startWithSAP`; HLS leaves out `EXT-X-INDEPENDENT-SEGMENTS` for 3.
    pub sap_type: u8,
    /// Closed captions inside the video samples (CEA-608/708 SEI): HLS
    /// `CLOSED-CAPTIONS` renditions, DASH `Accessibility`. `None` when not
    /// known (assets ingested before captions were looked for): then HLS
    /// does not say `CLOSED-CAPTIONS=NONE`.
    pub captions: Option<crate::captions::Captions>,
}

/// One media segment: its `tfdt` and duration, both in track timescale units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentTime {
    pub start: u64,
    pub duration: u64,
}

impl SegmentTime {
    /// Starts where `prev` ends: no gap (nor overlap) between them.
    pub fn follows(&self, prev: &SegmentTime) -> bool {
        prev.start.saturating_add(prev.duration) == self.start
    }
}

/// DASH signalling of Common Encryption (ISO/IEC 23001-7 §11, DASH-IF IOP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protection {
    /// Protection scheme four-character code: `*b"cenc"` or `*b"cbcs"`.
    pub scheme: [u8; 4],
    /// `tenc` default KID, written in UUID form (same byte order as `tenc`).
    pub default_kid: [u8; 16],
    pub systems: Vec<DrmSystem>,
}

/// One DRM system's `ContentProtection` descriptor.
#[derive(Clone, PartialEq, Eq)]
pub struct DrmSystem {
    pub system_id: [u8; 16],
    /// `value` attribute, e.g. `Widevine`, `MSPR 2.0`, `ClearKey1.0`.
    pub name: Option<String>,
    /// A whole `pssh` box, written as `cenc:pssh` (base64).
    pub pssh_box: Option<Vec<u8>>,
    /// A PlayReady Object, written as `mspr:pro` (base64).
    pub playready_pro: Option<Vec<u8>>,
    /// License acquisition URL, written as `dashif:Laurl` (plus the legacy
    /// forms players still read, see [`dash`]).
    pub license_url: Option<String>,
}

impl std::fmt::Debug for DrmSystem {
    /// Shows sizes, not bytes: init data is not secret, but logs do not need it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DrmSystem")
            .field("system_id", &uuid_string(&self.system_id))
            .field("name", &self.name)
            .field("pssh_box_len", &self.pssh_box.as_ref().map(Vec::len))
            .field(
                "playready_pro_len",
                &self.playready_pro.as_ref().map(Vec::len),
            )
            .field("license_url", &self.license_url)
            .finish()
    }
}

/// HLS encryption method (RFC 8216 §4.3.2.4; `SAMPLE-AES-CTR` from
/// draft-pantos-hls-rfc8216bis §4.4.4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HlsMethod {
    /// Whole-segment AES-128-CBC with PKCS#7 padding (envelope encryption).
    Aes128,
    /// Sample encryption; with fMP4 segments this is the `cbcs` scheme.
    SampleAes,
    /// Sample encryption with the `cenc` (AES-CTR) scheme.
    SampleAesCtr,
}

impl HlsMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HlsMethod::Aes128 => "AES-128",
            HlsMethod::SampleAes => "SAMPLE-AES",
            HlsMethod::SampleAesCtr => "SAMPLE-AES-CTR",
        }
    }
}

/// One `EXT-X-KEY` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HlsKey {
    pub method: HlsMethod,
    pub uri: String,
    pub keyformat: Option<String>,
    pub keyformat_versions: Option<String>,
    /// `IV=0x…`. For AES-128, omitted means "the media sequence number"
    /// (RFC 8216 §5.2), so it must be given when segments were encrypted with
    /// any other IV.
    pub iv: Option<[u8; 16]>,
    /// `KEYID=0x…`, the key ID as Shaka Packager writes it for Widevine
    /// (not in RFC 8216; players that do not know it ignore it).
    pub key_id: Option<[u8; 16]>,
}

impl HlsKey {
    /// Envelope encryption: the key is fetched from `uri` (16 raw bytes).
    pub fn aes128(uri: impl Into<String>, iv: Option<[u8; 16]>) -> Self {
        HlsKey {
            method: HlsMethod::Aes128,
            uri: uri.into(),
            keyformat: None,
            keyformat_versions: None,
            iv,
            key_id: None,
        }
    }

    /// FairPlay Streaming: `METHOD=SAMPLE-AES` (cbcs), `URI="skd://…"`.
    pub fn fairplay(skd_uri: impl Into<String>) -> Self {
        HlsKey {
            method: HlsMethod::SampleAes,
            uri: skd_uri.into(),
            keyformat: Some(KEYFORMAT_FAIRPLAY.to_owned()),
            keyformat_versions: Some("1".to_owned()),
            iv: None,
            key_id: None,
        }
    }

    /// Widevine: the whole `pssh` box in a `data:` URI. `method` is
    /// [`HlsMethod::SampleAesCtr`] for `cenc`, [`HlsMethod::SampleAes`] for `cbcs`.
    pub fn widevine(method: HlsMethod, pssh_box: &[u8], key_id: Option<[u8; 16]>) -> Self {
        HlsKey {
            method,
            uri: format!("data:text/plain;base64,{}", base64_std(pssh_box)),
            keyformat: Some(KEYFORMAT_WIDEVINE.to_owned()),
            keyformat_versions: Some("1".to_owned()),
            iv: None,
            key_id,
        }
    }

    /// PlayReady: the PlayReady Object in a UTF-16 `data:` URI, as Microsoft
    /// documents for HLS.
    pub fn playready(method: HlsMethod, playready_pro: &[u8]) -> Self {
        HlsKey {
            method,
            uri: format!(
                "data:text/plain;charset=UTF-16;base64,{}",
                base64_std(playready_pro)
            ),
            keyformat: Some(KEYFORMAT_PLAYREADY.to_owned()),
            keyformat_versions: Some("1".to_owned()),
            iv: None,
            key_id: None,
        }
    }
}

/// Why a [`Presentation`] would give a manifest players refuse.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("presentation has no tracks")]
    NoTracks,
    #[error("presentation duration {0} is not a finite, non-negative number of seconds")]
    BadDuration(String),
    #[error("track id {id} is used by more than one track")]
    DuplicateTrackId { id: u32 },
    #[error("track {track}: timescale is 0")]
    ZeroTimescale { track: u32 },
    #[error("track {track}: no segments")]
    NoSegments { track: u32 },
    #[error("track {track}: segment {index} has duration 0")]
    ZeroSegmentDuration { track: u32, index: usize },
    #[error(
        "track {track}: segment {index} starts at {start}, before the previous segment ends at {previous_end}"
    )]
    SegmentOverlap {
        track: u32,
        index: usize,
        start: u64,
        previous_end: u64,
    },
    #[error("track {track}: segment {index} end overflows u64")]
    SegmentEndOverflow { track: u32, index: usize },
    #[error("track {track}: {field} is empty")]
    Empty { track: u32, field: &'static str },
    #[error("track {track}: {field} contains a control character at byte {offset}")]
    ControlCharacter {
        track: u32,
        field: &'static str,
        offset: usize,
    },
    #[error("track {track}: media_uri_template: {source}")]
    Template {
        track: u32,
        #[source]
        source: TemplateError,
    },
    #[error(
        "track {track}: media_uri_template has neither $Number$ nor $Time$, every segment would share one URL"
    )]
    TemplateWithoutNumber { track: u32 },
    #[error("track {track}: protection scheme {scheme:?} is neither cenc nor cbcs")]
    UnknownScheme { track: u32, scheme: String },
    #[error("track {track}: frame rate has denominator 0")]
    ZeroFrameRateDenominator { track: u32 },
    #[error("track {track}: sample aspect ratio has a 0 term")]
    ZeroSampleAspectRatio { track: u32 },
}

/// A malformed `$…$` identifier in a segment template (ISO/IEC 23009-1 §5.3.9.4.4).
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum TemplateError {
    #[error("unterminated '$' at byte {offset}")]
    Unterminated { offset: usize },
    #[error("unknown identifier at byte {offset}")]
    UnknownIdentifier { offset: usize },
    #[error("bad format tag at byte {offset} (expected %0<width>d)")]
    BadFormat { offset: usize },
}

impl Presentation {
    /// Checks what the writers assume but do not enforce. Errors name the
    /// track and field.
    pub fn validate(&self) -> Result<(), ManifestError> {
        if self.tracks.is_empty() {
            return Err(ManifestError::NoTracks);
        }
        for d in [self.duration_secs, self.min_buffer_secs] {
            if !d.is_finite() || d < 0.0 {
                return Err(ManifestError::BadDuration(d.to_string()));
            }
        }
        let mut ids: Vec<u32> = self.tracks.iter().map(|t| t.id).collect();
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(ManifestError::DuplicateTrackId { id: w[0] });
        }
        self.tracks.iter().try_for_each(Track::validate)
    }
}

impl Track {
    /// Checks one track; see [`Presentation::validate`].
    pub fn validate(&self) -> Result<(), ManifestError> {
        let track = self.id;
        if self.timescale == 0 {
            return Err(ManifestError::ZeroTimescale { track });
        }
        if self.segments.is_empty() {
            return Err(ManifestError::NoSegments { track });
        }
        let mut previous_end: Option<u64> = None;
        for (index, s) in self.segments.iter().enumerate() {
            if s.duration == 0 {
                return Err(ManifestError::ZeroSegmentDuration { track, index });
            }
            if let Some(previous_end) = previous_end
                && s.start < previous_end
            {
                return Err(ManifestError::SegmentOverlap {
                    track,
                    index,
                    start: s.start,
                    previous_end,
                });
            }
            previous_end = Some(
                s.start
                    .checked_add(s.duration)
                    .ok_or(ManifestError::SegmentEndOverflow { track, index })?,
            );
        }
        let mut fields: Vec<(&'static str, &str)> = vec![
            ("codecs", &self.codecs),
            ("init_uri", &self.init_uri),
            ("media_uri_template", &self.media_uri_template),
        ];
        if let TrackKind::Audio {
            language: Some(l), ..
        }
        | TrackKind::Text { language: l, .. } = &self.kind
        {
            fields.push(("language", l));
        }
        for k in &self.hls_keys {
            fields.push(("hls_keys.uri", &k.uri));
        }
        if let Some(p) = &self.protection {
            for s in &p.systems {
                if let Some(u) = &s.license_url {
                    fields.push(("protection.systems.license_url", u));
                }
            }
        }
        for (field, value) in fields {
            if value.is_empty() {
                return Err(ManifestError::Empty { track, field });
            }
            if let Some(offset) = value.find(char::is_control) {
                return Err(ManifestError::ControlCharacter {
                    track,
                    field,
                    offset,
                });
            }
        }
        let parts = template::parse(&self.media_uri_template)
            .map_err(|source| ManifestError::Template { track, source })?;
        if !parts.iter().any(|p| {
            matches!(
                p,
                template::Part::Number { .. } | template::Part::Time { .. }
            )
        }) {
            return Err(ManifestError::TemplateWithoutNumber { track });
        }
        if let Some(p) = &self.protection
            && &p.scheme != b"cenc"
            && &p.scheme != b"cbcs"
        {
            return Err(ManifestError::UnknownScheme {
                track,
                scheme: String::from_utf8_lossy(&p.scheme).into_owned(),
            });
        }
        if let TrackKind::Video {
            frame_rate,
            max_frame_rate,
            ..
        } = self.kind
            && [frame_rate, max_frame_rate]
                .iter()
                .any(|r| matches!(r, Some((_, 0))))
        {
            return Err(ManifestError::ZeroFrameRateDenominator { track });
        }
        if let TrackKind::Video {
            sar: Some((h, v)), ..
        } = self.kind
            && (h == 0 || v == 0)
        {
            return Err(ManifestError::ZeroSampleAspectRatio { track });
        }
        Ok(())
    }

    pub fn is_video(&self) -> bool {
        matches!(self.kind, TrackKind::Video { .. })
    }

    /// The highest frame rate of a video track: the maximum of a variable
    /// rate, else the constant rate; `None` for audio, unknown rates and
    /// zero denominators.
    pub fn peak_frame_rate(&self) -> Option<(u32, u32)> {
        match self.kind {
            TrackKind::Video {
                frame_rate,
                max_frame_rate,
                ..
            } => max_frame_rate.or(frame_rate).filter(|&(_, d)| d != 0),
            TrackKind::Audio { .. } | TrackKind::Text { .. } => None,
        }
    }

    /// The picture a video track shows ([`TrackKind::Video::picture`]);
    /// `None` for audio.
    pub fn picture(&self) -> Option<u32> {
        match self.kind {
            TrackKind::Video { picture, .. } => Some(picture),
            TrackKind::Audio { .. } | TrackKind::Text { .. } => None,
        }
    }

    pub fn is_audio(&self) -> bool {
        matches!(self.kind, TrackKind::Audio { .. })
    }

    pub fn is_text(&self) -> bool {
        matches!(self.kind, TrackKind::Text { .. })
    }

    /// The whole-file WebVTT of a text track, next to its init segment
    /// (`text_3/subtitles.vtt` for `text_3/init.mp4`).
    pub fn sidecar_uri(&self) -> String {
        match self.init_uri.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/subtitles.vtt"),
            None => "subtitles.vtt".to_owned(),
        }
    }
}

/// `00112233-4455-6677-8899-aabbccddeeff`: bytes in order, lower case (the
/// `cenc:default_KID` form, DASH-IF IOP v5 part 6 §7.2; no GUID byte swap).
pub fn uuid_string(b: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        push_hex(&mut s, *byte);
    }
    s
}

/// `0x` + 32 lower-case hex digits (RFC 8216 §4.3.2.4 hexadecimal-sequence).
pub(crate) fn hex_prefixed(b: &[u8; 16]) -> String {
    let mut s = String::with_capacity(34);
    s.push_str("0x");
    for byte in b {
        push_hex(&mut s, *byte);
    }
    s
}

fn push_hex(s: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    s.push(char::from(HEX[usize::from(byte >> 4)]));
    s.push(char::from(HEX[usize::from(byte & 0x0f)]));
}

pub(crate) fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `value / timescale` as a decimal with at least `min_decimals` and at most
/// 6 decimals, rounded half up from exact integer arithmetic (no float
/// drift when many segment durations are summed by a player).
pub(crate) fn decimal_seconds(value: u64, timescale: u32, min_decimals: usize) -> String {
    if timescale == 0 {
        return "0.000".to_owned();
    }
    let ts = u128::from(timescale);
    let micros = (u128::from(value) * 1_000_000 + ts / 2) / ts;
    format_micros(micros, min_decimals)
}

fn format_micros(micros: u128, min_decimals: usize) -> String {
    let whole = micros / 1_000_000;
    let frac = format!("{:06}", micros % 1_000_000);
    let keep = frac.trim_end_matches('0').len().max(min_decimals.min(6));
    let frac = frac.get(..keep).unwrap_or("");
    if frac.is_empty() {
        whole.to_string()
    } else {
        format!("{whole}.{frac}")
    }
}

/// `xs:duration` in seconds, millisecond precision: `PT9.976S`, `PT10S`.
/// Negative, NaN and infinite inputs give `PT0S`.
pub(crate) fn xs_duration(secs: f64) -> String {
    let millis = if secs.is_finite() && secs > 0.0 {
        // `as` saturates: a huge value cannot wrap or panic.
        (secs * 1000.0).round() as u64
    } else {
        0
    };
    format!("PT{}S", format_micros(u128::from(millis) * 1000, 0))
}

#[cfg(test)]
pub(crate) mod test_model {
    //! Small models shared by the unit tests of `dash` and `hls`.
    use super::*;

    pub fn video(id: u32, codecs: &str, width: u32, height: u32) -> Track {
        Track {
            id,
            kind: TrackKind::Video {
                width,
                height,
                frame_rate: Some((25, 1)),
                max_frame_rate: None,
                sar: Some((1, 1)),
                interlaced: false,
                picture: 0,
            },
            codecs: codecs.to_owned(),
            bandwidth: 1_000_000,
            average_bandwidth: 800_000,
            hls_peak_bandwidth: 1_100_000,
            timescale: 12_800,
            segments: (0..5)
                .map(|i| SegmentTime {
                    start: i * 25_600,
                    duration: 25_600,
                })
                .collect(),
            init_uri: format!("video_{id}/init.mp4"),
            media_uri_template: format!("video_{id}/$Number$.m4s"),
            start_number: 1,
            discontinuity_sequence: None,
            protection: None,
            hls_keys: vec![],
            key_frame_ends: Vec::new(),
            sap_type: 1,
            captions: None,
        }
    }

    /// `t` with a variable frame rate: `average` announced by DASH,
    /// `max` by HLS.
    pub fn with_rates(mut t: Track, average: (u32, u32), max: (u32, u32)) -> Track {
        if let TrackKind::Video {
            frame_rate,
            max_frame_rate,
            ..
        } = &mut t.kind
        {
            *frame_rate = Some(average);
            *max_frame_rate = Some(max);
        }
        t
    }

    pub fn interlaced(mut t: Track) -> Track {
        if let TrackKind::Video { interlaced, .. } = &mut t.kind {
            *interlaced = true;
        }
        t
    }

    pub fn of_picture(mut t: Track, n: u32) -> Track {
        if let TrackKind::Video { picture, .. } = &mut t.kind {
            *picture = n;
        }
        t
    }

    pub fn audio(id: u32, language: Option<&str>) -> Track {
        Track {
            id,
            kind: TrackKind::Audio {
                sample_rate: 48_000,
                channels: 2,
                language: language.map(str::to_owned),
                dolby_channel_map: None,
                joc_complexity: None,
            },
            codecs: "mp4a.40.2".to_owned(),
            bandwidth: 128_000,
            average_bandwidth: 96_000,
            hls_peak_bandwidth: 130_000,
            timescale: 48_000,
            segments: vec![
                SegmentTime {
                    start: 0,
                    duration: 96_256,
                },
                SegmentTime {
                    start: 96_256,
                    duration: 95_232,
                },
                SegmentTime {
                    start: 191_488,
                    duration: 8_512,
                },
            ],
            init_uri: format!("audio_{id}/init.mp4"),
            media_uri_template: format!("audio_{id}/$Number$.m4s"),
            start_number: 1,
            discontinuity_sequence: None,
            protection: None,
            hls_keys: vec![],
            key_frame_ends: Vec::new(),
            sap_type: 1,
            captions: None,
        }
    }

    pub fn presentation(tracks: Vec<Track>) -> Presentation {
        Presentation {
            live: None,
            duration_secs: 10.0,
            tracks,
            min_buffer_secs: 2.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_model::*;
    use super::*;

    #[test]
    fn uuid_form_keeps_byte_order() {
        let b = [
            0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
            0x0e, 0x0f,
        ];
        assert_eq!(uuid_string(&b), "00010203-0405-0607-0809-0a0b0c0d0e0f");
        assert_eq!(
            uuid_string(&WIDEVINE_SYSTEM_ID),
            "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"
        );
        assert_eq!(hex_prefixed(&b), "0x000102030405060708090a0b0c0d0e0f");
        assert_eq!(
            KEYFORMAT_WIDEVINE,
            format!("urn:uuid:{}", uuid_string(&WIDEVINE_SYSTEM_ID))
        );
    }

    #[test]
    fn decimal_seconds_is_exact_and_trimmed() {
        assert_eq!(decimal_seconds(25_600, 12_800, 3), "2.000");
        assert_eq!(decimal_seconds(30_030, 30_000, 3), "1.001");
        assert_eq!(decimal_seconds(1001, 24_000, 3), "0.041708");
        assert_eq!(decimal_seconds(1, 3, 3), "0.333333");
        assert_eq!(decimal_seconds(2, 3, 3), "0.666667");
        assert_eq!(decimal_seconds(u64::MAX, 1, 3), format!("{}.000", u64::MAX));
        assert_eq!(decimal_seconds(5, 0, 3), "0.000");
    }

    #[test]
    fn utc_datetimes() {
        assert_eq!(utc_datetime(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc_datetime(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(utc_datetime(1_796_438_463_456), "2026-12-05T02:41:03.456Z");
        assert_eq!(utc_datetime(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn live_window_keeps_the_newest_depth() {
        let live = Live {
            availability_start_ms: 0,
            published_ms: 0,
            time_shift_secs: 5.0,
            min_update_secs: 2.0,
            suggested_delay_secs: 4.0,
            utc_timing_url: None,
        };
        let mut t = test_model::video(1, "avc1.64001f", 640, 360);
        t.timescale = 1000;
        t.segments = (0..10)
            .map(|i| SegmentTime {
                start: i * 2000,
                duration: 2000,
            })
            .collect();
        t.key_frame_ends = (0..10).collect();
        t.start_number = 1;
        live.window(&mut t);
        // Edge 20 s, window from 15 s: the segment 14-16 s still reaches in.
        assert_eq!(t.segments.first().map(|s| s.start), Some(14_000));
        assert_eq!(t.start_number, 8);
        assert_eq!(t.key_frame_ends, vec![7, 8, 9]);
        assert_eq!(t.discontinuity_sequence, None);
        // A recording with gaps before its 3rd, 7th and 9th segments; the
        // window (from 37 s) keeps only the 9th: its discontinuity
        // sequence counts all three, the one right before it included.
        let mut gaps = test_model::video(1, "avc1.64001f", 640, 360);
        gaps.timescale = 1000;
        gaps.discontinuity_sequence = Some(4);
        let starts = [0, 2000, 9000, 11000, 13000, 15000, 30000, 32000, 40000];
        gaps.segments = starts
            .iter()
            .map(|&start| SegmentTime {
                start,
                duration: 2000,
            })
            .collect();
        live.window(&mut gaps);
        assert_eq!(
            gaps.segments.iter().map(|s| s.start).collect::<Vec<_>>(),
            vec![40_000]
        );
        assert_eq!(gaps.discontinuity_sequence, Some(7));
        let mut one = test_model::video(1, "avc1.64001f", 640, 360);
        one.segments = vec![SegmentTime {
            start: 0,
            duration: 90_000_000,
        }];
        live.window(&mut one);
        assert_eq!(one.segments.len(), 1, "the newest segment always stays");
    }

    #[test]
    fn xs_duration_forms() {
        assert_eq!(xs_duration(10.0), "PT10S");
        assert_eq!(xs_duration(9.9764), "PT9.976S");
        assert_eq!(xs_duration(0.5), "PT0.5S");
        assert_eq!(xs_duration(f64::NAN), "PT0S");
        assert_eq!(xs_duration(-3.0), "PT0S");
        assert_eq!(xs_duration(f64::INFINITY), "PT0S");
        // Saturates at u64::MAX milliseconds.
        assert_eq!(xs_duration(1e300), "PT18446744073709551.615S");
    }

    #[test]
    fn validate_accepts_the_test_model() {
        let p = presentation(vec![
            video(1, "avc1.64001f", 640, 360),
            audio(2, Some("en")),
        ]);
        assert_eq!(p.validate(), Ok(()));
    }

    #[test]
    fn validate_names_track_and_field() {
        let mut p = presentation(vec![video(1, "avc1.64001f", 640, 360), audio(2, None)]);
        p.tracks[1].id = 1;
        assert_eq!(p.validate(), Err(ManifestError::DuplicateTrackId { id: 1 }));

        let mut p = presentation(vec![audio(7, None)]);
        p.tracks[0].timescale = 0;
        assert_eq!(p.validate(), Err(ManifestError::ZeroTimescale { track: 7 }));

        let mut p = presentation(vec![audio(7, None)]);
        p.tracks[0].segments[2].start = 100;
        assert!(matches!(
            p.validate(),
            Err(ManifestError::SegmentOverlap {
                track: 7,
                index: 2,
                ..
            })
        ));

        let mut p = presentation(vec![audio(7, None)]);
        p.tracks[0].segments[1].duration = 0;
        assert_eq!(
            p.validate(),
            Err(ManifestError::ZeroSegmentDuration { track: 7, index: 1 })
        );

        let mut p = presentation(vec![audio(7, None)]);
        p.tracks[0].segments = vec![SegmentTime {
            start: u64::MAX,
            duration: 1,
        }];
        assert_eq!(
            p.validate(),
            Err(ManifestError::SegmentEndOverflow { track: 7, index: 0 })
        );

        let mut p = presentation(vec![audio(7, None)]);
        p.tracks[0].init_uri = "a\nb".to_owned();
        assert_eq!(
            p.validate(),
            Err(ManifestError::ControlCharacter {
                track: 7,
                field: "init_uri",
                offset: 1
            })
        );

        let mut p = presentation(vec![audio(7, None)]);
        p.tracks[0].media_uri_template = "a/seg.m4s".to_owned();
        assert_eq!(
            p.validate(),
            Err(ManifestError::TemplateWithoutNumber { track: 7 })
        );

        let mut p = presentation(vec![audio(7, None)]);
        p.tracks[0].media_uri_template = "a/$Number".to_owned();
        assert!(matches!(
            p.validate(),
            Err(ManifestError::Template { track: 7, .. })
        ));

        let mut p = presentation(vec![audio(7, None)]);
        p.tracks[0].protection = Some(Protection {
            scheme: *b"cens",
            default_kid: [0; 16],
            systems: vec![],
        });
        assert!(matches!(
            p.validate(),
            Err(ManifestError::UnknownScheme { track: 7, .. })
        ));

        let mut p = presentation(vec![video(3, "avc1", 2, 2)]);
        if let TrackKind::Video { sar, .. } = &mut p.tracks[0].kind {
            *sar = Some((16, 0));
        }
        assert_eq!(
            p.validate(),
            Err(ManifestError::ZeroSampleAspectRatio { track: 3 })
        );

        let p = presentation(vec![]);
        assert_eq!(p.validate(), Err(ManifestError::NoTracks));

        let mut p = presentation(vec![audio(7, None)]);
        p.duration_secs = f64::NAN;
        assert!(matches!(p.validate(), Err(ManifestError::BadDuration(_))));
    }

    #[test]
    fn drm_system_debug_shows_no_bytes() {
        let s = DrmSystem {
            system_id: WIDEVINE_SYSTEM_ID,
            name: Some("Widevine".into()),
            pssh_box: Some(vec![0xab; 40]),
            playready_pro: None,
            license_url: None,
        };
        let d = format!("{s:?}");
        assert!(d.contains("pssh_box_len: Some(40)"), "{d}");
        assert!(!d.contains("171"), "{d}");
    }

    #[test]
    fn key_helpers() {
        let k = HlsKey::widevine(
            HlsMethod::SampleAesCtr,
            &[0, 0, 0, 8, b'p', b's', b's', b'h'],
            None,
        );
        assert_eq!(k.uri, "data:text/plain;base64,AAAACHBzc2g=");
        assert_eq!(k.keyformat.as_deref(), Some(KEYFORMAT_WIDEVINE));
        let k = HlsKey::playready(HlsMethod::SampleAes, b"ab");
        assert_eq!(k.uri, "data:text/plain;charset=UTF-16;base64,YWI=");
        let k = HlsKey::fairplay("skd://kid");
        assert_eq!(k.method, HlsMethod::SampleAes);
        assert_eq!(k.keyformat_versions.as_deref(), Some("1"));
    }
}
