//! Text tracks: subtitles and captions of a title.
//!
//! Why a model of cues rather than the input's bytes: a title's text comes
//! as WebVTT or TTML sidecar files or as text tracks inside MP4s, and goes
//! out in three forms players want: CMAF `wvtt` segments for DASH
//! ([`wvtt`], ISO/IEC 14496-30), segmented WebVTT for HLS (RFC 8216
//! §3.1.4, with `X-TIMESTAMP-MAP`) and the whole file as a DASH sidecar.
//! All three are written from one list of cues in milliseconds, cut at the
//! title's video segment boundaries so that text segments line up with the
//! video's. Text is never encrypted: no DRM system decrypts it (Shaka
//! Packager and the DECE CFF rules keep it clear too).
//!
//! Cue text is copied into the text files only, never into a manifest or an
//! HTTP header; what manifests say of a track (language, name, role) comes
//! from the command line or API, checked.

pub mod mp4;
pub mod ttml;
pub mod webvtt;
pub mod wvtt;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Timescale of every text track: WebVTT times are milliseconds.
pub const TEXT_TIMESCALE: u32 = 1000;

/// One cue, times in milliseconds on the title's presentation timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cue {
    pub start_ms: u64,
    pub end_ms: u64,
    /// WebVTT cue identifier.
    pub id: Option<String>,
    /// WebVTT cue settings (`align:start line:0`), as written.
    pub settings: Option<String>,
    /// Cue payload, lines joined with `\n`.
    pub text: String,
}

/// What a text track is for: DASH `Role` (ISO/IEC 23009-1 §5.8.5.5) and the
/// HLS `EXT-X-MEDIA` attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextRole {
    /// Dialogue for viewers who do not understand the language.
    #[default]
    Subtitle,
    /// Dialogue and sounds for viewers who cannot hear (HLS
    /// `CHARACTERISTICS="public.accessibility.transcribes-spoken-dialog,..."`).
    Caption,
    /// Only what the picture does not say (signs, foreign dialogue): HLS
    /// `FORCED=YES`, DASH `forced-subtitle`.
    Forced,
    /// A description of the picture.
    Description,
}

impl TextRole {
    pub fn parse(s: &str) -> Option<TextRole> {
        match s {
            "subtitle" | "subtitles" => Some(TextRole::Subtitle),
            "caption" | "captions" => Some(TextRole::Caption),
            "forced" | "forced-subtitle" => Some(TextRole::Forced),
            "description" => Some(TextRole::Description),
            _ => None,
        }
    }

    /// DASH `Role@value`.
    pub fn dash_role(self) -> &'static str {
        match self {
            TextRole::Subtitle => "subtitle",
            TextRole::Caption => "caption",
            TextRole::Forced => "forced-subtitle",
            TextRole::Description => "description",
        }
    }
}

/// A text track given on the command line or through the API:
/// `LANG[:ROLE[:NAME]]=FILE`, e.g. `en=subs_en.vtt`, `fr:forced=signs_fr.vtt`,
/// `en:caption:English (SDH)=sdh_en.vtt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextInput {
    /// BCP 47 tag as given (checked and made canonical by [`TextInput::parse`]).
    pub language: String,
    pub role: TextRole,
    /// What players show in their subtitle menu (HLS `NAME`, DASH
    /// `Label`); derived from language and role when not given.
    pub label: Option<String>,
    pub path: PathBuf,
}

/// Longest track name accepted: a menu entry, not a description.
pub const MAX_LABEL_CHARS: usize = 64;

/// Checks a track name for a manifest: printable, no `"` (it ends an HLS
/// quoted string) or `=` (it ends the `LANG:ROLE:NAME` spec), no leading or trailing space, at most
/// [`MAX_LABEL_CHARS`] characters.
pub fn check_label(label: &str) -> std::result::Result<(), String> {
    if label.is_empty() || label.trim() != label {
        return Err(format!("'{label}': a track name must be non-empty, without leading or trailing spaces"));
    }
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(format!("track name longer than {MAX_LABEL_CHARS} characters"));
    }
    if label.chars().any(|c| c.is_control() || c == '"' || c == '=') {
        return Err(format!("'{}': a track name cannot hold '\"', '=' or control characters", label.escape_debug()));
    }
    Ok(())
}

impl TextInput {
    /// Parses `LANG[:ROLE]=FILE`. The language must be a BCP 47 tag whose
    /// primary language is a known ISO 639 code.
    pub fn parse(spec: &str) -> std::result::Result<TextInput, String> {
        let (head, path) = spec.split_once('=').ok_or_else(|| {
            format!("'{spec}': expected LANG[:ROLE[:NAME]]=FILE, e.g. en=subs_en.vtt or fr:forced=signs_fr.vtt")
        })?;
        let mut parts = head.splitn(3, ':');
        let lang = parts.next().unwrap_or_default();
        let role = match parts.next() {
            None | Some("") => TextRole::Subtitle,
            Some(r) => TextRole::parse(r).ok_or_else(|| format!("'{r}': unknown text role (subtitle, caption, forced, description)"))?,
        };
        let label = parts.next().map(str::to_owned);
        if let Some(l) = &label {
            check_label(l)?;
        }
        let language = crate::language::parse_tag(lang).ok_or_else(|| format!("'{lang}': not a language tag (BCP 47, e.g. en, fr, pt-BR)"))?;
        if path.is_empty() {
            return Err(format!("'{spec}': no file"));
        }
        Ok(TextInput { language, role, label, path: PathBuf::from(path) })
    }

    /// `LANG[:ROLE[:NAME]]` as [`TextInput::parse`] reads it (`en`,
    /// `fr:forced`, `en:caption:English (SDH)`).
    pub fn spec(&self) -> String {
        let role = match self.role {
            TextRole::Subtitle => "",
            TextRole::Caption => "caption",
            TextRole::Forced => "forced",
            TextRole::Description => "description",
        };
        match (&self.label, role) {
            (Some(l), _) => format!("{}:{role}:{l}", self.language),
            (None, "") => self.language.clone(),
            (None, r) => format!("{}:{r}", self.language),
        }
    }
}

/// One text track of a title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextTrack {
    /// Title-wide track number; the folder is `text_<id>`.
    pub id: u32,
    pub language: String,
    pub role: TextRole,
    /// The name given to the track (`--text en::English=...`, the MP4
    /// track's `udta/name`), if any.
    pub label: Option<String>,
    /// Cues by start time.
    pub cues: Vec<Cue>,
    /// Where the cues came from, for messages.
    pub source: PathBuf,
}

impl TextTrack {
    /// Reads a sidecar file: TTML / IMSC1 when it is XML, else WebVTT.
    pub fn from_input(id: u32, input: &TextInput) -> Result<TextTrack> {
        let bytes = std::fs::read(&input.path).map_err(|e| Error::io(&input.path, e))?;
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(64)]);
        let head = head.trim_start_matches('\u{feff}').trim_start();
        let cues = if head.starts_with('<') { ttml::parse(&input.path, &bytes)? } else { webvtt::parse(&input.path, &bytes)? };
        Ok(TextTrack {
            id,
            language: input.language.clone(),
            role: input.role,
            label: input.label.clone(),
            cues,
            source: input.path.clone(),
        })
    }

    pub fn name(&self) -> String {
        format!("text_{}", self.id)
    }

    /// Refuses cues that start past the end of the title (an offset error
    /// in the file would otherwise vanish unseen); a cue may end past it.
    pub fn check_within(&self, title_ms: u64) -> Result<()> {
        if let Some(c) = self.cues.iter().find(|c| c.start_ms >= title_ms.max(1)) {
            return Err(Error::Text {
                path: self.source.clone(),
                line: None,
                message: format!(
                    "cue at {} starts past the end of the title ({})",
                    webvtt::timestamp(c.start_ms),
                    webvtt::timestamp(title_ms)
                ),
            });
        }
        Ok(())
    }
}

/// The cues active in `[start, end)` of a segment, each whole: what an HLS
/// WebVTT segment carries (a cue spanning segments is in each, and players
/// drop the repeats).
pub fn cues_in(cues: &[Cue], start: u64, end: u64) -> impl Iterator<Item = &Cue> {
    cues.iter().filter(move |c| c.start_ms < end && c.end_ms > start)
}

/// An HLS WebVTT segment: `X-TIMESTAMP-MAP` ties WebVTT time 0 to media
/// time 0 (MPEGTS 0 on the 90 kHz clock), since the title's segments are on
/// its presentation timeline starting at 0 (RFC 8216 §3.5).
pub fn hls_segment(cues: &[Cue], start: u64, end: u64) -> String {
    let mut out = String::from("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n");
    for c in cues_in(cues, start, end) {
        out.push('\n');
        webvtt::write_cue(&mut out, c);
    }
    out
}

/// The whole track as one WebVTT file (the DASH sidecar).
pub fn whole_file(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n");
    for c in cues {
        out.push('\n');
        webvtt::write_cue(&mut out, c);
    }
    out
}

/// Segment boundaries in milliseconds from a reference track's segment
/// starts (ticks of `timescale`) and the title's end: the text track's
/// segments cover `[b[i], b[i+1])`.
pub fn boundaries_ms(starts: &[u64], timescale: u32, title_ms: u64) -> Vec<u64> {
    let ts = u128::from(timescale.max(1));
    let mut b: Vec<u64> = starts
        .iter()
        .map(|&s| u64::try_from((u128::from(s) * 1000 + ts / 2) / ts).unwrap_or(u64::MAX))
        .collect();
    // The first text segment starts the title, even when the video
    // starts later (a cue may come before its first frame).
    match b.first_mut() {
        Some(first) => *first = 0,
        None => b.push(0),
    }
    b.dedup();
    let end = title_ms.max(b.last().copied().unwrap_or(0) + 1);
    b.retain(|&x| x < end);
    b.push(end);
    b
}

/// The line (from 1) of byte `pos` of a text file.
pub(crate) fn line_at(bytes: &[u8], pos: usize) -> u32 {
    bytes[..pos.min(bytes.len())].iter().filter(|b| **b == b'\n').count() as u32 + 1
}

/// Names the file of a text error, with its line when known.
pub(crate) fn located(path: &Path, line: Option<u32>) -> String {
    let mut s = path.display().to_string();
    if let Some(l) = line {
        let _ = write!(s, ":{l}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(start_ms: u64, end_ms: u64, text: &str) -> Cue {
        Cue { start_ms, end_ms, id: None, settings: None, text: text.into() }
    }

    #[test]
    fn input_specs() {
        let t = TextInput::parse("en=subs.vtt").unwrap();
        assert_eq!((t.language.as_str(), t.role, t.path.to_str()), ("en", TextRole::Subtitle, Some("subs.vtt")));
        let t = TextInput::parse("fra:forced=a=b.vtt").unwrap();
        assert_eq!((t.language.as_str(), t.role, t.path.to_str()), ("fr", TextRole::Forced, Some("a=b.vtt")));
        assert_eq!(TextInput::parse("pt-BR:caption=x.vtt").unwrap().language, "pt-BR");
        assert!(TextInput::parse("subs.vtt").unwrap_err().contains("LANG[:ROLE[:NAME]]=FILE"));
        let named = TextInput::parse("en:caption:English (SDH): full=sdh.vtt").unwrap();
        assert_eq!((named.role, named.label.as_deref()), (TextRole::Caption, Some("English (SDH): full")));
        assert_eq!(named.spec(), "en:caption:English (SDH): full");
        let named = TextInput::parse("fr::Français=fr.vtt").unwrap();
        assert_eq!((named.role, named.label.as_deref()), (TextRole::Subtitle, Some("Français")));
        assert_eq!(TextInput::parse(&format!("{}=fr.vtt", named.spec())).unwrap(), named);
        assert!(TextInput::parse("en:: padded=x.vtt").unwrap_err().contains("leading or trailing"));
        assert!(TextInput::parse("en::say \"hi\"=x.vtt").unwrap_err().contains("cannot hold"));
        assert!(TextInput::parse(&format!("en::{}=x.vtt", "n".repeat(65))).unwrap_err().contains("longer than 64"));
        assert!(TextInput::parse("zz9=x.vtt").unwrap_err().contains("not a language tag"));
        assert!(TextInput::parse("en:loud=x.vtt").unwrap_err().contains("unknown text role"));
        assert!(TextInput::parse("en=").is_err());
    }

    #[test]
    fn hls_segments_carry_every_cue_they_overlap() {
        let cues = [cue(500, 1500, "a"), cue(3900, 4100, "b"), cue(4100, 4200, "c")];
        let s1 = hls_segment(&cues, 0, 4000);
        assert!(s1.starts_with("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n"));
        assert!(s1.contains("00:00:00.500 --> 00:00:01.500\na\n") && s1.contains("\nb\n") && !s1.contains("\nc\n"));
        let s2 = hls_segment(&cues, 4000, 8000);
        assert!(!s2.contains("\na\n") && s2.contains("\nb\n") && s2.contains("\nc\n"));
    }

    #[test]
    fn boundaries_follow_the_video() {
        assert_eq!(boundaries_ms(&[0, 51200, 102400], 12800, 10_000), vec![0, 4000, 8000, 10_000]);
        // 29.97 fps ticks round to the nearest millisecond.
        assert_eq!(boundaries_ms(&[0, 120_120], 30_000, 6000), vec![0, 4004, 6000]);
        // No video: one segment.
        assert_eq!(boundaries_ms(&[], 1000, 6000), vec![0, 6000]);
        // Video starting 0.52 s in: the first text segment still starts
        // the title.
        assert_eq!(boundaries_ms(&[6656, 63488], 12800, 10_000), vec![0, 4960, 10_000]);
    }

    #[test]
    fn cues_past_the_end_are_refused() {
        let t = TextTrack { id: 3, language: "en".into(), role: TextRole::Subtitle, label: None, cues: vec![cue(0, 1000, "a"), cue(12_000, 13_000, "late")], source: "s.vtt".into() };
        let e = t.check_within(10_000).unwrap_err().to_string();
        assert!(e.contains("s.vtt") && e.contains("00:00:12.000") && e.contains("past the end"), "{e}");
        assert!(t.check_within(12_500).is_ok());
    }
}
