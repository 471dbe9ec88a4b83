//! HLS playlist writer: RFC 8216, with `SAMPLE-AES-CTR` and the key format
//! attributes as draft-pantos-hls-rfc8216bis-16 §4.4.4.4 defines them.
//!
//! The multivariant ("master") playlist (RFC 8216 §4.3.4) lists audio tracks
//! as `EXT-X-MEDIA:TYPE=AUDIO` renditions, one group per audio codec (Apple's
//! HLS Authoring Specification §8: a group holds one codec, so a variant's
//! `CODECS` is true for every rendition in its group), and one
//! `EXT-X-STREAM-INF` per video track and audio group whose `BANDWIDTH` and
//! `AVERAGE-BANDWIDTH` add the largest audio rendition of the group
//! (§4.3.4.2: the peak of the whole variant). With no video, each audio track
//! is a variant of its own.
//!
//! `FRAME-RATE` is the maximum frame rate of the variant (§4.3.4.2): for a
//! variable frame rate the highest (the shortest frame), not the average
//! DASH announces.
//!
//! Other pictures of the title (camera angles, a sign-language picture:
//! [`TrackKind::Video::picture`]) are alternative video renditions
//! (§4.3.4.1, `EXT-X-MEDIA:TYPE=VIDEO`), not variants: a player switches
//! between variants on its own, for bandwidth, and would show another
//! picture. With several pictures, each rendition of the main picture (the
//! first video track's) heads a video group: the main picture without `URI`
//! (its media is the variant's own playlist, §4.3.4.2.1) and `DEFAULT=YES`,
//! then each other picture's rendition of the same rank by bandwidth (its
//! highest when it has fewer renditions) with its `URI`, `DEFAULT=NO`,
//! `AUTOSELECT=NO` (a player must not pick another angle by itself). The
//! variant's `BANDWIDTH`, `AVERAGE-BANDWIDTH`, `CODECS`, `RESOLUTION` and
//! `FRAME-RATE` cover every rendition of its group, the largest of each
//! (§4.3.4.2: "any playable combination of Renditions"), and `VIDEO` names
//! the group. I-frame streams are those of the main picture only. One
//! picture writes exactly what it wrote before pictures were told apart.
//!
//! Media playlists (RFC 8216 §4.3.3) are VOD, fMP4: `EXT-X-MAP` names the
//! init segment and comes *before* the `EXT-X-KEY` lines. A key applies to
//! the media initialization sections declared after it (§4.3.2.5), so this
//! order keeps the init segment in the clear, which it is: only samples (or,
//! for AES-128, media segments) are encrypted. `EXT-X-VERSION:6` covers
//! everything written here: `IV` (2), decimal `EXTINF` (3), `KEYFORMAT` (5),
//! `EXT-X-MAP` without I-frames-only (6), §7.
//!
//! `EXT-X-TARGETDURATION` is the longest segment rounded *up*, computed in
//! integers, so every `EXTINF` rounded to the nearest integer stays within it
//! (§4.3.3.1). `EXTINF` values are exact decimals of `duration / timescale`
//! to six places, so a player that sums them does not drift.
//!
//! Text is made safe for the line-based syntax: quoted strings cannot hold
//! `"`, CR or LF (§4.2), so URIs percent-encode them and other quoted values
//! drop them; a URI line never starts with `#` and never spans two lines.

use super::template::{self, Values};
use super::{HlsKey, Presentation, Track, TrackKind, decimal_seconds, hex_prefixed};

/// Protocol version of every playlist written here (RFC 8216 §7).
pub const VERSION: u32 = 6;

/// `GROUP-ID` of the subtitle renditions.
pub const SUBTITLES_GROUP: &str = "subs";

/// `GROUP-ID` of the closed-caption renditions.
pub const CAPTIONS_GROUP: &str = "cc";

/// The `EXT-X-MEDIA:TYPE=SUBTITLES` lines (RFC 8216 §4.3.4.1) of the text
/// tracks: `NAME` from the language (with the role when it is not plain
/// subtitles, unique in the group), `LANGUAGE`, `DEFAULT=NO` (subtitles
/// are the viewer's choice), `AUTOSELECT=YES`, `FORCED=YES` for forced
/// subtitles, `CHARACTERISTICS` for captions and descriptions (Apple HLS
/// Authoring Specification: the accessibility media characteristics).
fn subtitle_renditions(texts: &[&Track], media_playlist_uri: &impl Fn(&Track) -> String) -> String {
    use crate::text::TextRole;
    let mut out = String::new();
    let mut names: Vec<String> = Vec::new();
    for t in texts {
        let TrackKind::Text { language, role, label } = &t.kind else { continue };
        let base = match label {
            Some(l) => quoted_text(l),
            None => {
                let base = quoted_text(&crate::language::display_name(language));
                match role {
                    TextRole::Subtitle => base,
                    TextRole::Caption => format!("{base} (CC)"),
                    TextRole::Forced => format!("{base} (forced)"),
                    TextRole::Description => format!("{base} (description)"),
                }
            }
        };
        let name = if names.contains(&base) { format!("{base} ({})", t.id) } else { base };
        if out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!(
            "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"{SUBTITLES_GROUP}\",NAME=\"{name}\",LANGUAGE=\"{}\",DEFAULT=NO,AUTOSELECT=YES",
            quoted_text(language)
        ));
        match role {
            TextRole::Forced => out.push_str(",FORCED=YES"),
            TextRole::Caption => out.push_str(
                ",CHARACTERISTICS=\"public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound\"",
            ),
            TextRole::Description => out.push_str(",CHARACTERISTICS=\"public.accessibility.describes-video\""),
            TextRole::Subtitle => {}
        }
        out.push_str(&format!(",URI=\"{}\"\n", quoted_uri(&media_playlist_uri(t))));
        names.push(name);
    }
    out
}

/// Writes the multivariant playlist. `media_playlist_uri` gives the URI of
/// each track's media playlist, relative to this playlist.
pub fn write_master(
    p: &Presentation,
    media_playlist_uri: impl Fn(&Track) -> String,
    iframe_playlist_uri: impl Fn(&Track) -> String,
) -> String {
    let mut out = header();
    // RFC 8216 §4.3.5.1: every segment of every media playlist decodes
    // without the ones before it; not so for open GOPs (SAP type 3).
    if p.tracks.iter().all(|t| t.sap_type <= 2) {
        out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    }
    for k in session_keys(p) {
        out.push_str(&session_key_line(k));
    }

    let videos: Vec<&Track> = p.tracks.iter().filter(|t| t.is_video()).collect();
    let audios: Vec<&Track> = p.tracks.iter().filter(|t| t.is_audio()).collect();
    let texts: Vec<&Track> = p.tracks.iter().filter(|t| t.is_text()).collect();
    // Every variant names the one subtitles group (its CODECS never lists
    // `wvtt`: the subtitles are WebVTT files, and Apple players refuse a
    // variant whose CODECS names text).
    let subtitles = if texts.is_empty() { String::new() } else { format!(",SUBTITLES=\"{SUBTITLES_GROUP}\"") };

    if videos.is_empty() {
        out.push_str(&subtitle_renditions(&texts, &media_playlist_uri));
        let mut audios = audios;
        audios.sort_by_key(|a| a.hls_peak_bandwidth);
        for a in &audios {
            out.push('\n');
            out.push_str(&format!(
                "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{}\"{subtitles}\n",
                a.hls_peak_bandwidth,
                a.average_bandwidth,
                quoted_text(&a.codecs)
            ));
            push_uri_line(&mut out, &media_playlist_uri(a));
        }
        return out;
    }

    let groups = audio_groups(&audios);
    if !groups.is_empty() {
        out.push('\n');
    }
    for g in &groups {
        let mut names: Vec<String> = Vec::new();
        for (i, a) in g.tracks.iter().enumerate() {
            let TrackKind::Audio {
                channels,
                language,
                joc_complexity,
                ..
            } = &a.kind
            else {
                continue;
            };
            // RFC 8216bis §4.4.6.1: the channel count, and for E-AC-3
            // with Joint Object Coding the complexity index with `/JOC`
            // (Apple HLS Authoring Specification: "16/JOC" for Atmos).
            let channels = match joc_complexity {
                Some(index) => format!("{index}/JOC"),
                None => channels.to_string(),
            };
            // A name people read ("English"), from the BCP 47 tag.
            let base = language
                .as_deref()
                .map(|l| quoted_text(&crate::language::display_name(l)))
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| "audio".to_owned());
            // NAME must be unique within the group (RFC 8216 §4.3.4.1.1).
            let name = if names.contains(&base) {
                format!("{base} ({})", a.id)
            } else {
                base
            };
            let mut line = format!(
                "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{}\",NAME=\"{}\"",
                g.id, name
            );
            if let Some(l) = language {
                line.push_str(&format!(",LANGUAGE=\"{}\"", quoted_text(l)));
            }
            line.push_str(if i == 0 {
                ",DEFAULT=YES,AUTOSELECT=YES"
            } else {
                ",DEFAULT=NO,AUTOSELECT=YES"
            });
            line.push_str(&format!(
                ",CHANNELS=\"{channels}\",URI=\"{}\"\n",
                quoted_uri(&media_playlist_uri(a))
            ));
            out.push_str(&line);
            names.push(name);
        }
    }

    out.push_str(&subtitle_renditions(&texts, &media_playlist_uri));

    // Closed captions in the video (RFC 8216 §4.3.4.1: INSTREAM-ID; one
    // group for the title, the services of the first captioned video).
    let captions = videos.iter().filter_map(|v| v.captions.as_ref()).find(|c| !c.is_empty());
    let known = videos.iter().all(|v| v.captions.is_some());
    let closed_captions = match captions {
        Some(c) => {
            out.push('\n');
            for id in c.instream_ids() {
                out.push_str(&format!(
                    "#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"{CAPTIONS_GROUP}\",NAME=\"{id}\",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID=\"{id}\"\n"
                ));
            }
            format!(",CLOSED-CAPTIONS=\"{CAPTIONS_GROUP}\"")
        }
        // Said, so players do not look for captions in the video.
        None if known => ",CLOSED-CAPTIONS=NONE".to_owned(),
        None => String::new(),
    };

    let video_groups = video_groups(&videos);
    let several_pictures = video_groups.iter().any(|g| g.id.is_some());
    if several_pictures {
        out.push('\n');
    }
    for g in video_groups.iter() {
        let Some(id) = &g.id else { continue };
        for (i, v) in g.tracks.iter().enumerate() {
            let mut line = format!("#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=\"{id}\"");
            if i == 0 {
                line.push_str(",NAME=\"main\",DEFAULT=YES,AUTOSELECT=YES\n");
            } else {
                line.push_str(&format!(
                    ",NAME=\"alternate {i}\",DEFAULT=NO,AUTOSELECT=NO,URI=\"{}\"\n",
                    quoted_uri(&media_playlist_uri(v))
                ));
            }
            out.push_str(&line);
        }
    }

    // With no audio at all, one variant per video track and no AUDIO group.
    let no_group = [None];
    let group_refs: Vec<Option<&Group<'_>>> = if groups.is_empty() {
        no_group.to_vec()
    } else {
        groups.iter().map(Some).collect()
    };
    // Audio counts once per variant: a player plays one rendition of the
    // group, and the variant's peak is the largest sum over them (§4.3.4.2).
    let mut variants: Vec<(u64, &VideoGroup<'_>, Option<&Group<'_>>)> = Vec::new();
    for v in &video_groups {
        let video_peak = v.tracks.iter().map(|t| t.hls_peak_bandwidth).max().unwrap_or(0);
        for g in &group_refs {
            let audio_peak = g.map_or(0, |g| {
                g.tracks
                    .iter()
                    .map(|a| a.hls_peak_bandwidth)
                    .max()
                    .unwrap_or(0)
            });
            variants.push((video_peak.saturating_add(audio_peak), v, *g));
        }
    }
    // Stable: equal bandwidths keep the presentation's order.
    variants.sort_by_key(|(bandwidth, _, _)| *bandwidth);
    for (bandwidth, vg, g) in variants {
        let Some(v) = vg.tracks.first() else { continue };
        let audio_avg = g.map_or(0, |g| {
            g.tracks
                .iter()
                .map(|a| a.average_bandwidth)
                .max()
                .unwrap_or(0)
        });
        let video_avg = vg.tracks.iter().map(|t| t.average_bandwidth).max().unwrap_or(0);
        let mut video_codecs: Vec<String> = Vec::new();
        for t in &vg.tracks {
            let c = quoted_text(&t.codecs);
            if !video_codecs.contains(&c) {
                video_codecs.push(c);
            }
        }
        let video_codecs = video_codecs.join(",");
        let codecs = match g {
            Some(g) => format!("{video_codecs},{}", quoted_text(g.codecs)),
            None => video_codecs,
        };
        let mut line = format!(
            "\n#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{}\"",
            bandwidth,
            video_avg.saturating_add(audio_avg),
            codecs
        );
        let sizes = vg.tracks.iter().filter_map(|t| match t.kind {
            TrackKind::Video { width, height, .. } => Some((width, height)),
            TrackKind::Audio { .. } | TrackKind::Text { .. } => None,
        });
        if let (Some(width), Some(height)) = (sizes.clone().map(|s| s.0).max(), sizes.map(|s| s.1).max()) {
            line.push_str(&format!(",RESOLUTION={width}x{height}"));
        }
        // The largest, compared as exact fractions: a/b > c/d ⇔ a·d > c·b.
        let fastest = vg.tracks.iter().filter_map(|t| t.peak_frame_rate()).reduce(|a, b| {
            if u64::from(b.0) * u64::from(a.1) > u64::from(a.0) * u64::from(b.1) { b } else { a }
        });
        if let Some((num, den)) = fastest {
            line.push_str(&format!(",FRAME-RATE={}", decimal_fixed3(u64::from(num), den)));
        }
        if let Some(g) = g {
            line.push_str(&format!(",AUDIO=\"{}\"", g.id));
        }
        if let Some(id) = &vg.id {
            line.push_str(&format!(",VIDEO=\"{id}\""));
        }
        line.push_str(&subtitles);
        line.push_str(&closed_captions);
        line.push('\n');
        out.push_str(&line);
        push_uri_line(&mut out, &media_playlist_uri(v));
    }
    // Trick play (RFC 8216 §4.3.4.3): one I-frame stream per rendition that
    // has key frame ranges, lowest bandwidth first.
    let main_picture = videos.first().and_then(|v| v.picture());
    let mut iframes: Vec<(u64, u64, &Track)> = videos
        .iter()
        .filter(|v| !v.key_frame_ends.is_empty() && v.picture() == main_picture)
        .map(|v| {
            let (peak, avg) = iframe_bandwidth(v);
            (peak, avg, *v)
        })
        .collect();
    iframes.sort_by_key(|(peak, _, _)| *peak);
    if !iframes.is_empty() {
        out.push('\n');
    }
    for (peak, avg, v) in iframes {
        let mut line = format!(
            "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={avg},CODECS=\"{}\"",
            quoted_text(&v.codecs)
        );
        if let TrackKind::Video { width, height, .. } = v.kind {
            line.push_str(&format!(",RESOLUTION={width}x{height}"));
        }
        line.push_str(&format!(",URI=\"{}\"\n", quoted_uri(&iframe_playlist_uri(v))));
        out.push_str(&line);
    }
    out
}

/// Peak and average bit rate of a track's I-frame stream: the key frame
/// bytes of each segment (with the `moof` that describes them) over the
/// segment's duration, the time that I-frame stands for.
fn iframe_bandwidth(t: &Track) -> (u64, u64) {
    let ts = u128::from(t.timescale.max(1));
    let mut peak: u128 = 0;
    let (mut bits, mut ticks): (u128, u128) = (0, 0);
    for (end, s) in t.key_frame_ends.iter().zip(&t.segments) {
        let b = u128::from(*end) * 8;
        let d = u128::from(s.duration.max(1));
        peak = peak.max((b * ts).div_ceil(d));
        bits += b;
        ticks += d;
    }
    let avg = if ticks == 0 { 0 } else { (bits * ts).div_ceil(ticks) };
    (u64::try_from(peak).unwrap_or(u64::MAX).max(1), u64::try_from(avg).unwrap_or(u64::MAX).max(1))
}

/// Writes a video track's I-frame playlist (RFC 8216 §4.3.3.6,
/// `EXT-X-I-FRAMES-ONLY`): each segment's first sample, a key frame, as an
/// `EXT-X-BYTERANGE` from the segment's start (its `moof` included) to the
/// end of that sample, lasting until the next segment's key frame. Keys and
/// the init segment are those of the media playlist.
pub fn write_iframe_playlist(presentation: &Presentation, track: &Track) -> String {
    let mut out = playlist_head(track, "#EXT-X-I-FRAMES-ONLY\n", presentation.live.is_some());
    let representation_id = track.id.to_string();
    for (i, (s, end)) in track.segments.iter().zip(&track.key_frame_ends).enumerate() {
        let number = track.start_number.saturating_add(i as u64);
        push_date_time(&mut out, presentation, track, i);
        out.push_str(&format!("#EXTINF:{},\n", decimal_seconds(s.duration, track.timescale, 3)));
        out.push_str(&format!("#EXT-X-BYTERANGE:{end}@0\n"));
        let uri = template::expand(
            &track.media_uri_template,
            &Values { representation_id: &representation_id, number, time: s.start, bandwidth: track.bandwidth },
        );
        push_uri_line(&mut out, &uri);
    }
    push_end(&mut out, presentation);
    out
}

/// Writes one track's media playlist: VOD, or live when the presentation
/// is (no `EXT-X-PLAYLIST-TYPE`, `EXT-X-PROGRAM-DATE-TIME`, no
/// `EXT-X-ENDLIST`). Segment URIs come from [`Track::media_uri_template`],
/// numbered from [`Track::start_number`]; nothing in a media playlist
/// depends on the other tracks.
pub fn write_media_playlist(presentation: &Presentation, track: &Track) -> String {
    write_media_playlist_with_keys(presentation, track, &[])
}

/// A change of key in a media playlist (key rotation): before the segment
/// at `index` (of [`Track::segments`]), a new `EXT-X-MAP` when the init
/// segment changes with the key (Common Encryption: the KID is in its
/// `tenc`), then the new `EXT-X-KEY`s.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyChange {
    pub index: usize,
    pub init_uri: Option<String>,
    pub keys: Vec<HlsKey>,
}

/// [`write_media_playlist`] with the key changing at each of `changes`
/// (RFC 8216 §4.3.2.4: an `EXT-X-KEY` applies to every segment after it
/// until the next). The new `EXT-X-MAP` comes before the new keys, as in
/// the playlist head, so an init segment is never under an AES-128 key
/// (§4.3.2.5).
pub fn write_media_playlist_with_keys(presentation: &Presentation, track: &Track, changes: &[KeyChange]) -> String {
    let independent = if track.sap_type <= 2 { "#EXT-X-INDEPENDENT-SEGMENTS\n" } else { "" };
    let mut out = playlist_head(track, independent, presentation.live.is_some());
    let representation_id = track.id.to_string();
    for (i, s) in track.segments.iter().enumerate() {
        let number = track.start_number.saturating_add(i as u64);
        push_date_time(&mut out, presentation, track, i);
        for change in changes.iter().filter(|c| c.index == i && !track.is_text()) {
            if let Some(uri) = &change.init_uri {
                out.push_str(&format!("#EXT-X-MAP:URI=\"{}\"\n", quoted_uri(uri)));
            }
            for k in &change.keys {
                out.push_str(&key_line(k));
            }
        }
        out.push_str(&format!(
            "#EXTINF:{},\n",
            decimal_seconds(s.duration, track.timescale, 3)
        ));
        let uri = template::expand(
            &track.media_uri_template,
            &Values {
                representation_id: &representation_id,
                number,
                time: s.start,
                bandwidth: track.bandwidth,
            },
        );
        push_uri_line(&mut out, &uri);
    }
    push_end(&mut out, presentation);
    out
}

/// `EXT-X-PROGRAM-DATE-TIME` (RFC 8216 §4.3.2.6) before segment `i` of a
/// live presentation: on the first, and after a gap in the timeline, so
/// that every segment's wall-clock time is known.
///
/// In a recording, a gap (or overlap) also takes `EXT-X-DISCONTINUITY`
/// before it (§4.3.2.3: the timestamps do not follow on from the
/// `EXTINF`s), so that players place the next segment by its own
/// timestamps.
fn push_date_time(out: &mut String, p: &Presentation, track: &Track, i: usize) {
    let Some(s) = track.segments.get(i) else {
        return;
    };
    let contiguous = i
        .checked_sub(1)
        .and_then(|j| track.segments.get(j))
        .is_none_or(|prev| s.follows(prev));
    if !contiguous && track.discontinuity_sequence.is_some() {
        out.push_str("#EXT-X-DISCONTINUITY\n");
    }
    let Some(live) = &p.live else { return };
    if (contiguous && i > 0) || track.timescale == 0 {
        return;
    }
    let ms = u128::from(s.start) * 1000 / u128::from(track.timescale);
    let at = live.availability_start_ms.saturating_add(i64::try_from(ms).unwrap_or(i64::MAX / 2));
    out.push_str(&format!("#EXT-X-PROGRAM-DATE-TIME:{}\n", super::utc_datetime(at)));
}

/// `EXT-X-ENDLIST` unless the presentation is live (RFC 8216 §6.2.2: a
/// live playlist grows until the server adds it).
fn push_end(out: &mut String, p: &Presentation) {
    if p.live.is_none() {
        out.push_str("#EXT-X-ENDLIST\n");
    }
}

/// The head of a media or I-frame playlist: target duration, sequence,
/// type (VOD unless `live`), `kind_tag`, then `EXT-X-MAP` *before* the keys (so the init segment
/// stays clear, §4.3.2.5) and the keys.
fn playlist_head(track: &Track, kind_tag: &str, live: bool) -> String {
    let mut out = header();
    let durations: Vec<u64> = track.segments.iter().map(|s| s.duration).collect();
    let target = target_duration(&durations, track.timescale);
    out.push_str(&format!("#EXT-X-TARGETDURATION:{target}\n"));
    out.push_str(&format!("#EXT-X-MEDIA-SEQUENCE:{}\n", track.start_number));
    if let Some(n) = track.discontinuity_sequence.filter(|&n| n > 0) {
        out.push_str(&format!("#EXT-X-DISCONTINUITY-SEQUENCE:{n}\n"));
    }
    if !live {
        out.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n");
    }
    out.push_str(kind_tag);
    // Subtitles are WebVTT files (RFC 8216 §3.1.4): no init segment, no key.
    if track.is_text() {
        return out;
    }
    out.push_str(&format!("#EXT-X-MAP:URI=\"{}\"\n", quoted_uri(&track.init_uri)));
    for k in &track.hls_keys {
        out.push_str(&key_line(k));
    }
    out
}

/// `EXT-X-TARGETDURATION` of segments of `durations` ticks of `timescale`:
/// the longest rounded up, in integers (0 for a zero timescale).
pub fn target_duration(durations: &[u64], timescale: u32) -> u64 {
    let max = durations.iter().copied().max().unwrap_or(0);
    match u64::from(timescale) {
        0 => 0,
        ts => max.div_ceil(ts),
    }
}

fn header() -> String {
    format!("#EXTM3U\n#EXT-X-VERSION:{VERSION}\n")
}

/// `EXT-X-KEY` (RFC 8216 §4.3.2.4; `KEYID` as Shaka Packager writes it).
pub fn key_line(k: &HlsKey) -> String {
    format!("#EXT-X-KEY:{}\n", key_attributes(k))
}

/// `EXT-X-SESSION-KEY` with the attributes of `k`'s `EXT-X-KEY`, as the
/// master playlist writes it.
pub fn session_key_line(k: &HlsKey) -> String {
    format!("#EXT-X-SESSION-KEY:{}\n", key_attributes(k))
}

/// The attribute list of `EXT-X-KEY` and `EXT-X-SESSION-KEY`.
fn key_attributes(k: &HlsKey) -> String {
    let mut line = format!(
        "METHOD={},URI=\"{}\"",
        k.method.as_str(),
        quoted_uri(&k.uri)
    );
    if let Some(iv) = &k.iv {
        line.push_str(&format!(",IV={}", hex_prefixed(iv)));
    }
    if let Some(kid) = &k.key_id {
        line.push_str(&format!(",KEYID={}", hex_prefixed(kid)));
    }
    if let Some(f) = &k.keyformat {
        line.push_str(&format!(",KEYFORMAT=\"{}\"", quoted_text(f)));
    }
    if let Some(v) = &k.keyformat_versions {
        line.push_str(&format!(",KEYFORMATVERSIONS=\"{}\"", quoted_text(v)));
    }
    line
}

/// The distinct keys of every track, in first-seen order, for
/// `EXT-X-SESSION-KEY` (RFC 8216 §4.3.4.5): a player can fetch licenses
/// before it reads a media playlist. Distinct by METHOD, URI, IV, KEYFORMAT
/// and KEYFORMATVERSIONS, the attributes no two session keys may all share;
/// each is written with the attributes of the media playlists' `EXT-X-KEY`,
/// as §4.3.4.5 requires them to match. Our methods are never `NONE`.
fn session_keys(p: &Presentation) -> Vec<&HlsKey> {
    let mut keys: Vec<&HlsKey> = Vec::new();
    for k in p.tracks.iter().flat_map(|t| &t.hls_keys) {
        let same = |o: &&HlsKey| {
            o.method == k.method
                && o.uri == k.uri
                && o.iv == k.iv
                && o.keyformat == k.keyformat
                && o.keyformat_versions == k.keyformat_versions
        };
        if !keys.iter().any(same) {
            keys.push(k);
        }
    }
    keys
}

/// What one variant shows: a rendition of the main picture, with (when the
/// title has several pictures) the rendition of each other picture that
/// goes with it, as one `EXT-X-MEDIA:TYPE=VIDEO` group.
struct VideoGroup<'a> {
    /// `GROUP-ID`; `None` when the title has one picture (no group).
    id: Option<String>,
    /// The main picture's rendition first (the variant's URI), then one
    /// rendition of each other picture.
    tracks: Vec<&'a Track>,
}

/// One group per rendition of the main picture (the first video track's).
/// Another picture's renditions are matched by rank of `hls_peak_bandwidth`
/// (lowest with lowest), its highest standing in where it has fewer
/// renditions than the main picture. Ids: `video` for one group,
/// `video-<track id of the main rendition>` otherwise.
fn video_groups<'a>(videos: &[&'a Track]) -> Vec<VideoGroup<'a>> {
    let mut pictures: Vec<(Option<u32>, Vec<&'a Track>)> = Vec::new();
    for v in videos {
        match pictures.iter_mut().find(|(p, _)| *p == v.picture()) {
            Some((_, ts)) => ts.push(v),
            None => pictures.push((v.picture(), vec![v])),
        }
    }
    if pictures.len() < 2 {
        return videos.iter().map(|v| VideoGroup { id: None, tracks: vec![v] }).collect();
    }
    for (_, ts) in &mut pictures {
        // Stable: equal bandwidths keep the presentation's order.
        ts.sort_by_key(|t| t.hls_peak_bandwidth);
    }
    // The first video track's picture comes first.
    let main = 0;
    let mains = pictures[main].1.clone();
    let single = mains.len() == 1;
    mains
        .iter()
        .enumerate()
        .map(|(rank, m)| {
            let mut tracks = vec![*m];
            for (i, (_, others)) in pictures.iter().enumerate() {
                if i != main
                    && let Some(o) = others.get(rank).or(others.last())
                {
                    tracks.push(o);
                }
            }
            VideoGroup {
                id: Some(if single { "video".to_owned() } else { format!("video-{}", m.id) }),
                tracks,
            }
        })
        .collect()
}

struct Group<'a> {
    id: String,
    codecs: &'a str,
    tracks: Vec<&'a Track>,
}

/// One rendition group per audio codec string, in first-seen order; the id
/// is `audio` when there is one group, `audio-<codecs>` otherwise.
fn audio_groups<'a>(audios: &[&'a Track]) -> Vec<Group<'a>> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    for a in audios {
        match groups.iter_mut().find(|g| g.codecs == a.codecs) {
            Some(g) => g.tracks.push(a),
            None => groups.push(Group {
                id: String::new(),
                codecs: &a.codecs,
                tracks: vec![a],
            }),
        }
    }
    let single = groups.len() == 1;
    for g in &mut groups {
        g.id = if single {
            "audio".to_owned()
        } else {
            format!("audio-{}", quoted_text(g.codecs))
        };
    }
    groups
}

/// `num / den` with exactly three decimals, rounded half up (FRAME-RATE,
/// RFC 8216 §4.3.4.2, "rounded to three decimal places").
fn decimal_fixed3(num: u64, den: u32) -> String {
    let den = u128::from(den);
    if den == 0 {
        return "0.000".to_owned();
    }
    let millis = (u128::from(num) * 1000 + den / 2) / den;
    format!("{}.{:03}", millis / 1000, millis % 1000)
}

/// A URI inside a quoted string: `"` and control characters percent-encoded.
fn quoted_uri(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '"' || c.is_control() {
            push_percent(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// A non-URI quoted string (NAME, LANGUAGE, CODECS, KEYFORMAT): `"` and
/// control characters dropped.
fn quoted_text(s: &str) -> String {
    s.chars().filter(|c| *c != '"' && !c.is_control()).collect()
}

/// A URI on a line of its own: control characters and `"` (not a URI
/// character, RFC 3986 §2) percent-encoded, and a leading `#` too (it would
/// turn the line into a comment or tag).
fn push_uri_line(out: &mut String, s: &str) {
    for (i, c) in s.chars().enumerate() {
        if c.is_control() || c == '"' || (i == 0 && c == '#') {
            push_percent(out, c);
        } else {
            out.push(c);
        }
    }
    out.push('\n');
}

fn push_percent(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    for b in c.encode_utf8(&mut buf).bytes() {
        out.push_str(&format!("%{b:02X}"));
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_model::*;
    use super::super::{HlsMethod, SegmentTime};
    use super::*;

    fn lines(s: &str) -> Vec<&str> {
        s.lines().collect()
    }

    #[test]
    fn key_changes_come_before_their_segment() {
        let mut t = video(1, "avc1.64001f", 640, 360);
        t.hls_keys = vec![HlsKey::aes128("k0", None)];
        let p = presentation(vec![t.clone()]);
        let changes = [
            KeyChange { index: 2, init_uri: None, keys: vec![HlsKey::aes128("k1", None)] },
            KeyChange { index: 4, init_uri: Some("video_1/init-2.mp4".into()), keys: vec![HlsKey::aes128("k2", None)] },
        ];
        let text = write_media_playlist_with_keys(&p, &t, &changes);
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("#EXTINF")).collect();
        let at = |needle: &str| lines.iter().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle}: {text}"));
        assert!(at("URI=\"k0\"") < at("video_1/1.m4s"));
        assert!(at("video_1/2.m4s") < at("URI=\"k1\"") && at("URI=\"k1\"") < at("video_1/3.m4s"), "{text}");
        assert!(at("video_1/4.m4s") < at("#EXT-X-MAP:URI=\"video_1/init-2.mp4\""), "{text}");
        assert!(at("#EXT-X-MAP:URI=\"video_1/init-2.mp4\"") < at("URI=\"k2\"") && at("URI=\"k2\"") < at("video_1/5.m4s"), "{text}");
        assert_eq!(write_media_playlist_with_keys(&p, &t, &[]), write_media_playlist(&p, &t));
    }

    #[test]
    fn media_playlist_layout() {
        let mut t = audio(3, None);
        t.start_number = 5;
        t.hls_keys = vec![HlsKey::aes128("https://k/aes?x=\"1\"", Some([0xab; 16]))];
        let pl = write_media_playlist(&presentation(vec![t.clone()]), &t);
        let l = lines(&pl);
        assert_eq!(l[0], "#EXTM3U");
        assert_eq!(l[1], "#EXT-X-VERSION:6");
        // 96256 / 48000 = 2.005.. -> 3
        assert_eq!(l[2], "#EXT-X-TARGETDURATION:3");
        assert_eq!(l[3], "#EXT-X-MEDIA-SEQUENCE:5");
        assert_eq!(l[4], "#EXT-X-PLAYLIST-TYPE:VOD");
        assert_eq!(l[5], "#EXT-X-INDEPENDENT-SEGMENTS");
        assert_eq!(l[6], "#EXT-X-MAP:URI=\"audio_3/init.mp4\"");
        assert_eq!(
            l[7],
            "#EXT-X-KEY:METHOD=AES-128,URI=\"https://k/aes?x=%221%22\",IV=0xabababababababababababababababab"
        );
        assert_eq!(l[8], "#EXTINF:2.005333,");
        assert_eq!(l[9], "audio_3/5.m4s");
        assert_eq!(l[10], "#EXTINF:1.984,");
        assert_eq!(l[11], "audio_3/6.m4s");
        assert_eq!(l[12], "#EXTINF:0.177333,");
        assert_eq!(l[13], "audio_3/7.m4s");
        assert_eq!(l[14], "#EXT-X-ENDLIST");
        assert_eq!(l.len(), 15);
    }

    #[test]
    fn target_duration_rounds_up_exactly() {
        let mut t = video(1, "avc1.64001f", 640, 360);
        t.segments = vec![SegmentTime {
            start: 0,
            duration: 25_600,
        }];
        assert!(
            write_media_playlist(&presentation(vec![]), &t).contains("#EXT-X-TARGETDURATION:2\n")
        );
        t.segments[0].duration = 25_601;
        assert!(
            write_media_playlist(&presentation(vec![]), &t).contains("#EXT-X-TARGETDURATION:3\n")
        );
    }

    #[test]
    fn multi_drm_keys_in_order_after_map() {
        let mut t = video(1, "avc1.64001f", 640, 360);
        t.hls_keys = vec![
            HlsKey::fairplay("skd://00112233"),
            HlsKey::widevine(
                HlsMethod::SampleAes,
                &[0, 0, 0, 8, b'p', b's', b's', b'h'],
                Some([1; 16]),
            ),
            HlsKey::playready(HlsMethod::SampleAes, b"pro"),
        ];
        let pl = write_media_playlist(&presentation(vec![]), &t);
        let map = pl.find("#EXT-X-MAP").expect("map");
        let first_key = pl.find("#EXT-X-KEY").expect("key");
        assert!(map < first_key);
        let keys: Vec<&str> = pl.lines().filter(|l| l.starts_with("#EXT-X-KEY")).collect();
        assert_eq!(
            keys,
            vec![
                "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://00112233\",KEYFORMAT=\"com.apple.streamingkeydelivery\",KEYFORMATVERSIONS=\"1\"",
                "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"data:text/plain;base64,AAAACHBzc2g=\",KEYID=0x01010101010101010101010101010101,KEYFORMAT=\"urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed\",KEYFORMATVERSIONS=\"1\"",
                "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"data:text/plain;charset=UTF-16;base64,cHJv\",KEYFORMAT=\"com.microsoft.playready\",KEYFORMATVERSIONS=\"1\"",
            ]
        );
    }

    #[test]
    fn master_with_audio_groups() {
        let mut ac3 = audio(6, Some("en"));
        ac3.codecs = "ec-3".into();
        let p = presentation(vec![
            video(1, "avc1.64001f", 640, 360),
            video(2, "avc1.640028", 1280, 720),
            audio(3, Some("en")),
            audio(4, Some("en")),
            audio(5, None),
            ac3,
        ]);
        let m = write_master(&p, |t| format!("track_{}.m3u8", t.id), |t| format!("iframes_{}.m3u8", t.id));
        let l: Vec<&str> = m.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(
            &l[..3],
            &["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
        );
        assert_eq!(
            l[3],
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio-mp4a.40.2\",NAME=\"English\",LANGUAGE=\"en\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"track_3.m3u8\""
        );
        assert_eq!(
            l[4],
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio-mp4a.40.2\",NAME=\"English (4)\",LANGUAGE=\"en\",DEFAULT=NO,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"track_4.m3u8\""
        );
        assert_eq!(
            l[5],
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio-mp4a.40.2\",NAME=\"audio\",DEFAULT=NO,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"track_5.m3u8\""
        );
        assert!(l[6].contains("GROUP-ID=\"audio-ec-3\""));
        let inf: Vec<&str> = l
            .iter()
            .copied()
            .filter(|l| l.starts_with("#EXT-X-STREAM-INF"))
            .collect();
        assert_eq!(inf.len(), 4, "2 video x 2 audio groups");
        assert_eq!(
            inf[0],
            "#EXT-X-STREAM-INF:BANDWIDTH=1230000,AVERAGE-BANDWIDTH=896000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=640x360,FRAME-RATE=25.000,AUDIO=\"audio-mp4a.40.2\""
        );
        assert!(inf[1].ends_with(
            "CODECS=\"avc1.64001f,ec-3\",RESOLUTION=640x360,FRAME-RATE=25.000,AUDIO=\"audio-ec-3\""
        ));
        let after = l.iter().position(|x| *x == inf[0]).expect("inf");
        assert_eq!(l[after + 1], "track_1.m3u8");
    }

    #[test]
    fn master_single_group_and_audio_only_and_video_only() {
        let p = presentation(vec![
            video(1, "avc1.64001f", 640, 360),
            audio(2, Some("de")),
        ]);
        let m = write_master(&p, |t| format!("{}.m3u8", t.id), |t| format!("iframes_{}.m3u8", t.id));
        assert!(m.contains("GROUP-ID=\"audio\""));
        assert!(m.contains(",AUDIO=\"audio\"\n1.m3u8\n"));

        let p = presentation(vec![audio(2, Some("de")), audio(3, Some("fr"))]);
        let m = write_master(&p, |t| format!("{}.m3u8", t.id), |t| format!("iframes_{}.m3u8", t.id));
        assert!(!m.contains("EXT-X-MEDIA:"));
        assert!(m.contains("#EXT-X-STREAM-INF:BANDWIDTH=130000,AVERAGE-BANDWIDTH=96000,CODECS=\"mp4a.40.2\"\n2.m3u8\n"));
        assert!(m.contains("\n3.m3u8\n"));

        let mut v = video(1, "hvc1.1.6.L93.B0", 1920, 1080);
        v.kind = TrackKind::Video {
            width: 1920,
            height: 1080,
            frame_rate: Some((30_000, 1001)),
            sar: Some((1, 1)),
            max_frame_rate: None,
            interlaced: false,
            picture: 0,
        };
        let m = write_master(&presentation(vec![v]), |_| "v.m3u8".into(), |t| format!("iframes_{}.m3u8", t.id));
        assert!(
            m.contains(
                "CODECS=\"hvc1.1.6.L93.B0\",RESOLUTION=1920x1080,FRAME-RATE=29.970\nv.m3u8\n"
            ),
            "{m}"
        );
        assert!(!m.contains("AUDIO="));
    }

    #[test]
    fn hostile_text_cannot_inject_lines_or_attributes() {
        let mut a = audio(2, Some("en\",DEFAULT=YES\n#EXT-X-ENDLIST"));
        a.init_uri = "i\"nit\r\n#EXT-X-ENDLIST".into();
        a.media_uri_template = "#$Number$\n#EXT-X-ENDLIST\n".into();
        a.hls_keys = vec![HlsKey {
            method: HlsMethod::Aes128,
            uri: "k\"\n".into(),
            keyformat: Some("f\"x\n".into()),
            keyformat_versions: None,
            iv: None,
            key_id: None,
        }];
        let v = video(1, "avc1\"\n", 1, 1);
        let p = presentation(vec![v, a.clone()]);
        for text in [
            write_master(&p, |t| format!("#p\n{}\".m3u8", t.id), |t| format!("iframes_{}.m3u8", t.id)),
            write_media_playlist(&p, &a),
        ] {
            let endlists = text
                .lines()
                .filter(|l| l.starts_with("#EXT-X-ENDLIST"))
                .count();
            assert!(endlists <= 1, "{text}");
            for l in text.lines() {
                // Tag lines carry an even number of quotes; URI lines none at the start.
                assert_eq!(l.matches('"').count() % 2, 0, "{l}");
                if !l.starts_with("#EXT") {
                    assert!(!l.starts_with('#'), "{l}");
                }
            }
        }
        let pl = write_media_playlist(&p, &a);
        assert!(
            pl.contains("#EXT-X-MAP:URI=\"i%22nit%0D%0A#EXT-X-ENDLIST\"\n"),
            "{pl}"
        );
        assert!(pl.contains("\n%231%0A#EXT-X-ENDLIST%0A\n"), "{pl}");
        assert!(pl.contains("URI=\"k%22%0A\",KEYFORMAT=\"fx\"\n"), "{pl}");
    }

    #[test]
    fn degenerate_tracks_do_not_panic() {
        let mut t = audio(1, None);
        t.timescale = 0;
        t.start_number = u64::MAX;
        t.media_uri_template = "$Number".into();
        let pl = write_media_playlist(&presentation(vec![]), &t);
        assert!(pl.contains("#EXT-X-TARGETDURATION:0\n"));
        assert!(pl.contains("#EXTINF:0.000,\n$Number\n"));
        t.segments.clear();
        write_media_playlist(&presentation(vec![]), &t);
        let mut v = video(1, "avc1", 1, 1);
        v.kind = TrackKind::Video {
            width: 1,
            height: 1,
            frame_rate: Some((1, 0)),
            sar: None,
            max_frame_rate: None,
            interlaced: false,
            picture: 0,
        };
        v.hls_peak_bandwidth = u64::MAX;
        let m = write_master(&presentation(vec![v, audio(2, None)]), |_| String::new(), |t| format!("iframes_{}.m3u8", t.id));
        assert!(m.contains(&format!("BANDWIDTH={}", u64::MAX)));
        assert!(!m.contains("FRAME-RATE"));
        write_master(&presentation(vec![]), |_| String::new(), |t| format!("iframes_{}.m3u8", t.id));
    }

    #[test]
    fn ladder_variants_by_bandwidth_with_audio_counted_once() {
        // Renditions given highest first; two audio languages in one group.
        let mut hi = video(1, "avc1.64001f", 1280, 720);
        (hi.hls_peak_bandwidth, hi.average_bandwidth) = (3_000_000, 2_000_000);
        let mut mid = video(2, "avc1.64001e", 640, 360);
        (mid.hls_peak_bandwidth, mid.average_bandwidth) = (1_000_000, 700_000);
        let mut lo = video(3, "avc1.64000d", 416, 234);
        (lo.hls_peak_bandwidth, lo.average_bandwidth) = (300_000, 200_000);
        let mut en = audio(4, Some("en"));
        (en.hls_peak_bandwidth, en.average_bandwidth) = (140_000, 128_000);
        let mut fr = audio(5, Some("fr"));
        (fr.hls_peak_bandwidth, fr.average_bandwidth) = (100_000, 96_000);
        let p = presentation(vec![hi, mid, lo, en, fr]);
        let m = write_master(&p, |t| format!("{}.m3u8", t.id), |t| format!("iframes_{}.m3u8", t.id));
        let inf: Vec<&str> = m
            .lines()
            .filter(|l| l.starts_with("#EXT-X-STREAM-INF"))
            .collect();
        // Each variant: its video plus the group's largest audio, once.
        assert_eq!(
            inf,
            vec![
                "#EXT-X-STREAM-INF:BANDWIDTH=440000,AVERAGE-BANDWIDTH=328000,CODECS=\"avc1.64000d,mp4a.40.2\",RESOLUTION=416x234,FRAME-RATE=25.000,AUDIO=\"audio\"",
                "#EXT-X-STREAM-INF:BANDWIDTH=1140000,AVERAGE-BANDWIDTH=828000,CODECS=\"avc1.64001e,mp4a.40.2\",RESOLUTION=640x360,FRAME-RATE=25.000,AUDIO=\"audio\"",
                "#EXT-X-STREAM-INF:BANDWIDTH=3140000,AVERAGE-BANDWIDTH=2128000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=25.000,AUDIO=\"audio\"",
            ]
        );
        assert!(m.contains(",AUDIO=\"audio\"\n3.m3u8\n"), "{m}");
        // The DASH figure is not what HLS announces.
        assert!(!m.contains("BANDWIDTH=1000000"), "{m}");
        assert!(!m.contains("SESSION-KEY"), "clear: no session keys\n{m}");
    }

    #[test]
    fn session_keys_are_the_distinct_keys_of_all_tracks() {
        let wv = HlsKey::widevine(
            HlsMethod::SampleAes,
            &[0, 0, 0, 8, b'p', b's', b's', b'h'],
            Some([1; 16]),
        );
        let fp = HlsKey::fairplay("skd://kid");
        let mut v = video(1, "avc1.64001f", 640, 360);
        v.hls_keys = vec![fp.clone(), wv.clone()];
        let mut a = audio(2, Some("en"));
        // The same keys again, plus a FairPlay key of its own (audio key).
        a.hls_keys = vec![fp, HlsKey::fairplay("skd://audio"), wv];
        let m = write_master(&presentation(vec![v.clone(), a]), |t| {
            format!("{}.m3u8", t.id)
        }, |t| format!("iframes_{}.m3u8", t.id));
        let keys: Vec<&str> = m
            .lines()
            .filter(|l| l.starts_with("#EXT-X-SESSION-KEY:"))
            .collect();
        assert_eq!(
            keys,
            vec![
                "#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"skd://kid\",KEYFORMAT=\"com.apple.streamingkeydelivery\",KEYFORMATVERSIONS=\"1\"",
                "#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"data:text/plain;base64,AAAACHBzc2g=\",KEYID=0x01010101010101010101010101010101,KEYFORMAT=\"urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed\",KEYFORMATVERSIONS=\"1\"",
                "#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"skd://audio\",KEYFORMAT=\"com.apple.streamingkeydelivery\",KEYFORMATVERSIONS=\"1\"",
            ]
        );
        // Same attributes as the media playlists' EXT-X-KEY lines.
        let pl = write_media_playlist(&presentation(vec![]), &v);
        for key in pl.lines().filter_map(|l| l.strip_prefix("#EXT-X-KEY:")) {
            assert!(
                keys.contains(&format!("#EXT-X-SESSION-KEY:{key}").as_str()),
                "{key}"
            );
        }
        // AES-128: one per distinct URI and IV.
        let mut v = video(1, "avc1.64001f", 640, 360);
        v.hls_keys = vec![HlsKey::aes128("https://k/1", Some([7; 16]))];
        let mut a = audio(2, None);
        a.hls_keys = vec![HlsKey::aes128("https://k/1", None)];
        let m = write_master(&presentation(vec![v, a]), |t| format!("{}.m3u8", t.id), |t| format!("iframes_{}.m3u8", t.id));
        let keys: Vec<&str> = m
            .lines()
            .filter(|l| l.starts_with("#EXT-X-SESSION-KEY:"))
            .collect();
        assert_eq!(
            keys,
            vec![
                "#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"https://k/1\",IV=0x07070707070707070707070707070707",
                "#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"https://k/1\"",
            ]
        );
    }

    #[test]
    fn frame_rate_is_the_maximum_of_a_variable_rate() {
        let vfr = with_rates(video(1, "avc1.64001e", 640, 360), (4675, 249), (25, 1));
        let m = write_master(&presentation(vec![vfr]), |_| "v.m3u8".into(), |_| "i.m3u8".into());
        assert!(m.contains(",RESOLUTION=640x360,FRAME-RATE=25.000\nv.m3u8\n"), "{m}");
        assert!(!m.contains("18.775"), "{m}");
    }

    #[test]
    fn other_pictures_are_video_renditions() {
        let mut main = video(1, "avc1.64001e", 640, 360);
        (main.hls_peak_bandwidth, main.average_bandwidth) = (1_000_000, 800_000);
        let mut sign = of_picture(video(2, "avc1.64000d", 320, 180), 1);
        (sign.hls_peak_bandwidth, sign.average_bandwidth) = (400_000, 300_000);
        let mut en = audio(3, Some("en"));
        (en.hls_peak_bandwidth, en.average_bandwidth) = (100_000, 96_000);
        let p = presentation(vec![main, sign, en]);
        let m = write_master(&p, |t| format!("{}.m3u8", t.id), |t| format!("iframes_{}.m3u8", t.id));
        let l: Vec<&str> = m.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(
            &l[4..],
            [
                "#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=\"video\",NAME=\"main\",DEFAULT=YES,AUTOSELECT=YES",
                "#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=\"video\",NAME=\"alternate 1\",DEFAULT=NO,AUTOSELECT=NO,URI=\"2.m3u8\"",
                // The larger of the two pictures, plus audio once.
                "#EXT-X-STREAM-INF:BANDWIDTH=1100000,AVERAGE-BANDWIDTH=896000,CODECS=\"avc1.64001e,avc1.64000d,mp4a.40.2\",RESOLUTION=640x360,FRAME-RATE=25.000,AUDIO=\"audio\",VIDEO=\"video\"",
                "1.m3u8",
            ]
        );
        assert!(l[3].starts_with("#EXT-X-MEDIA:TYPE=AUDIO"), "{m}");
    }

    #[test]
    fn picture_groups_follow_the_main_ladder() {
        // Main picture: three renditions; the other picture: two.
        let rung = |id: u32, picture: u32, peak: u64| {
            let mut t = of_picture(video(id, "avc1.64001e", 640, 360), picture);
            (t.hls_peak_bandwidth, t.average_bandwidth) = (peak, peak / 2);
            t.key_frame_ends = vec![1000; t.segments.len()];
            t
        };
        let p = presentation(vec![
            rung(1, 0, 3_000_000),
            rung(2, 0, 300_000),
            rung(3, 0, 1_000_000),
            rung(4, 1, 2_000_000),
            rung(5, 1, 200_000),
        ]);
        let m = write_master(&p, |t| format!("{}.m3u8", t.id), |t| format!("i{}.m3u8", t.id));
        let media: Vec<&str> = m.lines().filter(|l| l.starts_with("#EXT-X-MEDIA:")).collect();
        assert_eq!(
            media,
            [
                "#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=\"video-2\",NAME=\"main\",DEFAULT=YES,AUTOSELECT=YES",
                "#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=\"video-2\",NAME=\"alternate 1\",DEFAULT=NO,AUTOSELECT=NO,URI=\"5.m3u8\"",
                "#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=\"video-3\",NAME=\"main\",DEFAULT=YES,AUTOSELECT=YES",
                "#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=\"video-3\",NAME=\"alternate 1\",DEFAULT=NO,AUTOSELECT=NO,URI=\"4.m3u8\"",
                // The other picture has no third rendition: its highest stands in.
                "#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=\"video-1\",NAME=\"main\",DEFAULT=YES,AUTOSELECT=YES",
                "#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=\"video-1\",NAME=\"alternate 1\",DEFAULT=NO,AUTOSELECT=NO,URI=\"4.m3u8\"",
            ]
        );
        let variants: Vec<(&str, &str)> = m
            .lines()
            .zip(m.lines().skip(1))
            .filter(|(a, _)| a.starts_with("#EXT-X-STREAM-INF:"))
            .collect();
        assert_eq!(variants.len(), 3, "one variant per main rendition\n{m}");
        assert!(variants[0].0.starts_with("#EXT-X-STREAM-INF:BANDWIDTH=300000,") && variants[0].1 == "2.m3u8");
        assert!(variants[1].0.contains("BANDWIDTH=2000000,") && variants[1].0.ends_with(",VIDEO=\"video-3\""));
        assert!(variants[2].0.contains("BANDWIDTH=3000000,") && variants[2].1 == "1.m3u8");
        // Trick play only for the main picture.
        let iframes: Vec<&str> = m.lines().filter(|l| l.starts_with("#EXT-X-I-FRAME-STREAM-INF")).collect();
        assert_eq!(iframes.len(), 3, "{m}");
        assert!(iframes.iter().all(|l| !l.contains("i4.m3u8") && !l.contains("i5.m3u8")), "{m}");
    }

    #[test]
    fn fixed3() {
        assert_eq!(decimal_fixed3(30_000, 1001), "29.970");
        assert_eq!(decimal_fixed3(24_000, 1001), "23.976");
        assert_eq!(decimal_fixed3(25, 1), "25.000");
        assert_eq!(decimal_fixed3(u64::from(u32::MAX), 1), "4294967295.000");
    }
}
