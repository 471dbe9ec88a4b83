//! DASH MPD writer: a static, single-period MPD of the ISO/IEC 23009-1 live
//! profile (`urn:mpeg:dash:profile:isoff-live:2011`, §8.4) with
//! `SegmentTemplate` + `SegmentTimeline` (§5.3.9.4, §5.3.9.6), laid out the
//! way Shaka Packager writes it so that dash.js, Shaka Player and ExoPlayer
//! read it the same way.
//!
//! Adaptation sets (§5.3.3): video tracks of one codec family (`avc1`,
//! `hvc1`, ...) and one protection share a set (the player switches between
//! them); DASH-IF IOP v5 part 6 §7.3 requires one content key per adaptation
//! set, so video tracks of one family with different keys get sets of their
//! own, tied by an `urn:mpeg:dash:adaptation-set-switching:2016` supplemental
//! property. Audio tracks share a set when they share language, codec
//! family and protection (DASH-IF IOP v4.3 §3.9.4: one set per language and
//! codec), with `lang` and a `Role` (`urn:mpeg:dash:role:2011`, §5.8.5.5):
//! `main` for the first set of the default language (the first audio
//! track's), `alternate` for the others.
//!
//! Different pictures (two camera angles of one file, a main picture and a
//! sign-language picture: [`TrackKind::Video::picture`]) are never
//! Representations of one set, since a player switches freely between the
//! Representations of a set (§5.3.3.1: they are encodings of the same
//! content). Each picture gets its own video sets, with a `Role`: `main` on
//! the first video track's picture, `alternate` on the others (§5.8.5.5
//! "alternative content"). A presentation of one picture writes no video
//! `Role`, as before pictures were told apart.
//!
//! Within a set, Representations are ordered by `@bandwidth` ascending
//! (DASH-IF IOP v4.3 §3.2.4 recommends it; some players take the first as
//! the start-up rendition). A video set of several Representations carries
//! `maxWidth`, `maxHeight` and `maxFrameRate` (§5.3.3.2); every video
//! Representation its `sar` (from `pasp`) and, when coded as fields,
//! `scanType="interlaced"` (§5.3.7.2; progressive video writes none, the
//! default being unknown rather than progressive would change nothing a
//! player does). `@frameRate` is the constant rate or, for a variable frame
//! rate, the average over the Representation (§5.3.7.2); the set's
//! `maxFrameRate` is then written even for one Representation, with the
//! highest rate (the shortest frame), so a player knows the peak decoding
//! load. `segmentAlignment="true"` is
//! written only when every Representation's segments start at the same
//! instants (start / timescale, compared as exact rationals), since a
//! player that trusts it switches at segment boundaries without overlap
//! (§5.3.3.2); it is omitted otherwise. `AudioChannelConfiguration` is on
//! the set when its tracks share a channel count, else on each
//! Representation. Which media value feeds each attribute:
//! `docs/manifests.md`.
//!
//! Content protection (ISO/IEC 23009-1 §5.8.4.1, ISO/IEC 23001-7 §11,
//! DASH-IF IOP v5 part 6 §7), on the adaptation set:
//! 1. `urn:mpeg:dash:mp4protection:2011` with `value` = scheme (`cenc`/`cbcs`)
//!    and `cenc:default_KID` in UUID form, same byte order as `tenc`;
//! 2. one `urn:uuid:<system id>` descriptor per DRM system, with
//!    `cenc:pssh` (whole box, base64), `mspr:pro` (PlayReady Object, base64)
//!    and the license URL as `dashif:Laurl` (namespace `https://dashif.org/CPS`,
//!    read by Shaka Player, dash.js and ExoPlayer). For Clear Key systems the
//!    URL is also written as `clearkey:Laurl Lic_type="EME-1.0"` (namespace
//!    `http://dashif.org/guidelines/clearKey`, DASH-IF IOP v4.3 §7.6.2.4, the
//!    form older dash.js and Shaka read); for Widevine and PlayReady also as
//!    `ms:laurl licenseUrl=` (namespace `urn:microsoft`, read by ExoPlayer
//!    for any system and by Shaka Player for Widevine).
//!
//! Text is escaped for XML 1.0 by hand (attribute values escape quotes and
//! whitespace controls; characters XML 1.0 cannot carry at all become
//! U+FFFD), so the writer cannot fail and its output is always well formed.

use std::fmt::Write as _;

use super::{
    DASHIF_CLEARKEY_SYSTEM_ID, DrmSystem, PLAYREADY_SYSTEM_ID, Presentation, Protection, Track,
    TrackKind, W3C_COMMON_SYSTEM_ID, WIDEVINE_SYSTEM_ID, base64_std, uuid_string, xs_duration,
};

pub const NS_MPD: &str = "urn:mpeg:dash:schema:mpd:2011";
pub const NS_CENC: &str = "urn:mpeg:cenc:2013";
pub const NS_MSPR: &str = "urn:microsoft:playready";
pub const NS_DASHIF: &str = "https://dashif.org/CPS";
pub const NS_CLEARKEY: &str = "http://dashif.org/guidelines/clearKey";
pub const NS_MS: &str = "urn:microsoft";

pub const PROFILE_LIVE: &str = "urn:mpeg:dash:profile:isoff-live:2011";
pub const SCHEME_MP4PROTECTION: &str = "urn:mpeg:dash:mp4protection:2011";
pub const SCHEME_AUDIO_CHANNELS: &str = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011";
/// Dolby's channel configuration scheme for AC-3 and E-AC-3 (DASH-IF IOP
/// v4.3 §9.2.1.2): `value` is the 16-bit loudspeaker map as four hex digits.
pub const SCHEME_DOLBY_CHANNELS: &str = "tag:dolby.com,2014:dash:audio_channel_configuration:2011";
/// E-AC-3 extension type (`JOC`: Dolby Atmos) and its complexity index
/// (ETSI TS 103 420 Annex D.2).
pub const SCHEME_EC3_EXTENSION_TYPE: &str = "tag:dolby.com,2018:dash:EC3_ExtensionType:2018";
pub const SCHEME_EC3_COMPLEXITY_INDEX: &str = "tag:dolby.com,2018:dash:EC3_ExtensionComplexityIndex:2018";
pub const SCHEME_SET_SWITCHING: &str = "urn:mpeg:dash:adaptation-set-switching:2016";
pub const SCHEME_ROLE: &str = "urn:mpeg:dash:role:2011";
/// `UTCTiming` by an HTTP GET answering an ISO 8601 time (ISO/IEC 23009-1 §5.8.5.7).
pub const SCHEME_UTC_HTTP_ISO: &str = "urn:mpeg:dash:utc:http-iso:2014";
/// CEA-608 / CEA-708 captions in the video (SCTE 214-1).
pub const SCHEME_CEA608: &str = "urn:scte:dash:cc:cea-608:2015";
pub const SCHEME_CEA708: &str = "urn:scte:dash:cc:cea-708:2015";

/// Writes the MPD for `p`: static, or dynamic when it is live (then with
/// `availabilityStartTime`, `publishTime`, `minimumUpdatePeriod`,
/// `timeShiftBufferDepth`, `suggestedPresentationDelay` and `UTCTiming`,
/// ISO/IEC 23009-1 §5.3.1.2 and §5.8.4.11, and no duration). Never fails
/// and never panics; check the model with [`Presentation::validate`] first.
pub fn write_mpd(p: &Presentation) -> String {
    write_mpd_periods(p, None)
}

/// One DASH Period of a multi-period MPD: the tracks (with only the
/// segments of the period, their own init segment and protection) and
/// where the period starts on the media timeline, seconds.
#[derive(Debug, Clone)]
pub struct MpdPeriod {
    /// `Period@id`: stable across updates of a live MPD.
    pub id: u32,
    pub presentation: Presentation,
    pub start_secs: f64,
}

/// [`write_mpd`] with one `Period` per entry of `periods` (`None`: the one
/// period of `p`). `p` gives what the MPD says as a whole (duration,
/// buffer, live timing); each period starts at its `start_secs` and maps
/// it to period time 0 by `presentationTimeOffset` (ISO/IEC 23009-1
/// §5.3.2, §5.3.9.2), so the periods play on from each other without a
/// gap: the way DASH-IF IOP v4.3 §7.7.3 (key rotation by periods) signals
/// a new key. A period starting no later than the MPD's media start (see
/// [`write_mpd`]) is placed as the one period of [`write_mpd`] is.
pub fn write_mpd_periods(p: &Presentation, periods: Option<&[MpdPeriod]>) -> String {
    let sets = adaptation_sets(p);
    let protected = p.tracks.iter().any(|t| t.protection.is_some());

    let mut x = Xml::default();
    x.out
        .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // A static presentation whose media start later than 0 (a live
    // archive whose window let its first segments go) starts its period
    // at its earliest media: `presentationTimeOffset` maps that time to
    // period time 0 (ISO/IEC 23009-1 §5.3.9.2), so players start there
    // rather than face a gap, and the duration counts from it.
    let offset_secs = if p.live.is_none() { media_start_secs(p) } else { 0.0 };
    let duration = xs_duration((p.duration_secs - offset_secs).max(0.0));
    let min_buffer = xs_duration(p.min_buffer_secs);
    let mut attrs: Vec<(&str, &str)> = vec![("xmlns", NS_MPD)];
    if protected {
        attrs.extend([
            ("xmlns:cenc", NS_CENC),
            ("xmlns:mspr", NS_MSPR),
            ("xmlns:dashif", NS_DASHIF),
            ("xmlns:clearkey", NS_CLEARKEY),
            ("xmlns:ms", NS_MS),
        ]);
    }
    let live = p.live.as_ref().map(|l| {
        [
            super::utc_datetime(l.availability_start_ms),
            super::utc_datetime(l.published_ms),
            xs_duration(l.min_update_secs),
            xs_duration(l.time_shift_secs),
            xs_duration(l.suggested_delay_secs),
        ]
    });
    attrs.push(("profiles", PROFILE_LIVE));
    match &live {
        None => attrs.extend([("type", "static"), ("mediaPresentationDuration", duration.as_str())]),
        Some([start, publish, update, depth, delay]) => attrs.extend([
            ("type", "dynamic"),
            ("availabilityStartTime", start.as_str()),
            ("publishTime", publish.as_str()),
            ("minimumUpdatePeriod", update.as_str()),
            ("timeShiftBufferDepth", depth.as_str()),
            ("suggestedPresentationDelay", delay.as_str()),
        ]),
    }
    attrs.push(("minBufferTime", min_buffer.as_str()));
    x.open("MPD", &attrs);
    match periods {
        None => write_period(&mut x, "0", "PT0S", &sets, offset_secs, true),
        Some(periods) => {
            for (k, period) in periods.iter().enumerate() {
                let sets = adaptation_sets(&period.presentation);
                let offset = period.start_secs.max(offset_secs);
                let start = xs_duration(offset - offset_secs);
                write_period(&mut x, &period.id.to_string(), &start, &sets, offset, k == 0);
            }
        }
    }
    if let Some(url) = p.live.as_ref().and_then(|l| l.utc_timing_url.as_deref()) {
        x.empty("UTCTiming", &[("schemeIdUri", SCHEME_UTC_HTTP_ISO), ("value", url)]);
    }
    x.close("MPD");
    x.out
}

/// One `Period` element: its adaptation sets and, with `sidecars`, the
/// whole-file text sets (timed from media time 0, so only in the first
/// period).
fn write_period(x: &mut Xml, id: &str, start: &str, sets: &[Set<'_>], offset_secs: f64, sidecars: bool) {
    x.open("Period", &[("id", id), ("start", start)]);
    for (set_id, set) in sets.iter().enumerate() {
        write_adaptation_set(x, set_id, set, sets, offset_secs);
    }
    // Text sidecars after every other set, numbered on from them.
    if sidecars {
        let texts = sets.iter().flat_map(|s| s.tracks.iter()).filter(|t| t.is_text());
        for (k, t) in texts.enumerate() {
            write_sidecar_set(x, sets.len() + k, t);
        }
    }
    x.close("Period");
}

/// Tracks that go into one `AdaptationSet`, by bandwidth ascending.
struct Set<'a> {
    tracks: Vec<&'a Track>,
    /// Codec family (`avc1`, `mp4a`): part of what a set shares.
    family: &'a str,
    video: bool,
    /// The picture of a video set ([`TrackKind::Video::picture`]).
    picture: Option<u32>,
    /// `Role@value`: every audio set; video sets when the presentation has
    /// several pictures.
    role: Option<&'static str>,
}

fn codec_family(codecs: &str) -> &str {
    codecs.split('.').next().unwrap_or(codecs)
}

fn language(t: &Track) -> Option<&str> {
    match &t.kind {
        TrackKind::Audio { language, .. } => language.as_deref(),
        TrackKind::Text { language, .. } => Some(language),
        TrackKind::Video { .. } => None,
    }
}

fn text_role(t: &Track) -> Option<crate::text::TextRole> {
    match &t.kind {
        TrackKind::Text { role, .. } => Some(*role),
        _ => None,
    }
}

/// Groups tracks into adaptation sets, in the order of each set's first
/// track: video by (picture, codec family, protection), audio by (language,
/// codec family, protection). The first audio set of the default language
/// (the first audio track's) has the `main` role, every other `alternate`;
/// with several pictures, video sets of the first video track's picture
/// have `main`, the others `alternate`.
fn adaptation_sets(p: &Presentation) -> Vec<Set<'_>> {
    let mut sets: Vec<Set<'_>> = Vec::new();
    for t in &p.tracks {
        let family = codec_family(&t.codecs);
        let video = t.is_video();
        let picture = t.picture();
        let existing = sets.iter_mut().find(|s| {
            s.video == video
                && s.family == family
                && s.picture == picture
                && s.tracks.first().is_some_and(|f| {
                    f.protection == t.protection
                        && f.is_text() == t.is_text()
                        && text_role(f) == text_role(t)
                        && (video || language(f) == language(t))
                })
        });
        match existing {
            Some(s) => s.tracks.push(t),
            None => sets.push(Set {
                tracks: vec![t],
                family,
                video,
                picture,
                role: None,
            }),
        }
    }
    let mut main_given = false;
    for s in sets.iter_mut().filter(|s| !s.video) {
        if let Some(role) = s.tracks.first().and_then(|t| text_role(t)) {
            s.role = Some(role.dash_role());
            continue;
        }
        s.role = Some(if main_given { "alternate" } else { "main" });
        main_given = true;
    }
    let main_picture = p.tracks.iter().find_map(Track::picture);
    let several_pictures = p
        .tracks
        .iter()
        .filter_map(Track::picture)
        .any(|pic| Some(pic) != main_picture);
    if several_pictures {
        for s in sets.iter_mut().filter(|s| s.video) {
            s.role = Some(if s.picture == main_picture {
                "main"
            } else {
                "alternate"
            });
        }
    }
    for s in &mut sets {
        // Stable: equal bandwidths keep the presentation's order.
        s.tracks.sort_by_key(|t| t.bandwidth);
    }
    sets
}

/// Whether every Representation's segments start at the same instants:
/// `start / timescale` compared as exact rationals (cross-multiplied), so
/// tracks of different timescales cut at the same times are aligned.
fn segments_aligned(tracks: &[&Track]) -> bool {
    let Some(first) = tracks.first() else {
        return true;
    };
    let ts_a = u128::from(first.timescale);
    tracks.iter().all(|t| {
        let ts_b = u128::from(t.timescale);
        t.segments.len() == first.segments.len()
            && t.segments
                .iter()
                .zip(&first.segments)
                .all(|(b, a)| u128::from(a.start) * ts_b == u128::from(b.start) * ts_a)
    })
}

/// A usable frame rate: a denominator that is not 0.
fn frame_rate(t: &Track) -> Option<(u32, u32)> {
    match t.kind {
        TrackKind::Video {
            frame_rate: Some((n, d)),
            ..
        } if d != 0 => Some((n, d)),
        _ => None,
    }
}

/// ISO/IEC 23009-1 §5.3.7.2 FrameRateType: `num` or `num/den`.
fn frame_rate_text((num, den): (u32, u32)) -> String {
    if den == 1 {
        num.to_string()
    } else {
        format!("{num}/{den}")
    }
}

/// An audio track's `AudioChannelConfiguration`: the Dolby map for AC-3
/// and E-AC-3, else the channel count in the MPEG scheme (ISO/IEC 23003-3,
/// which DASH players read for every other codec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channels {
    Mpeg(u16),
    Dolby(u16),
}

fn channels(t: &Track) -> Option<Channels> {
    match t.kind {
        TrackKind::Audio { dolby_channel_map: Some(map), .. } => Some(Channels::Dolby(map)),
        TrackKind::Audio { channels, .. } => Some(Channels::Mpeg(channels)),
        TrackKind::Video { .. } | TrackKind::Text { .. } => None,
    }
}

fn write_adaptation_set(x: &mut Xml, set_id: usize, set: &Set<'_>, all: &[Set<'_>], offset_secs: f64) {
    let Some(first) = set.tracks.first() else {
        return;
    };
    let id = set_id.to_string();
    let mut attrs: Vec<(&str, &str)> = vec![("id", &id)];
    let lang;
    let (max_width, max_height, max_frame_rate);
    if set.video {
        attrs.extend([("contentType", "video"), ("mimeType", "video/mp4")]);
        let variable_rate = set.tracks.iter().any(|t| {
            matches!(
                t.kind,
                TrackKind::Video {
                    max_frame_rate: Some(_),
                    ..
                }
            )
        });
        if set.tracks.len() > 1 {
            let dims = set.tracks.iter().filter_map(|t| match t.kind {
                TrackKind::Video { width, height, .. } => Some((width, height)),
                TrackKind::Audio { .. } | TrackKind::Text { .. } => None,
            });
            max_width = dims.clone().map(|d| d.0).max().unwrap_or(0).to_string();
            max_height = dims.map(|d| d.1).max().unwrap_or(0).to_string();
            attrs.extend([
                ("maxWidth", max_width.as_str()),
                ("maxHeight", max_height.as_str()),
            ]);
        }
        if set.tracks.len() > 1 || variable_rate {
            // Largest as exact rationals: a/b > c/d  ⇔  a·d > c·b.
            let fastest = set
                .tracks
                .iter()
                .filter_map(|t| t.peak_frame_rate())
                .reduce(|a, b| {
                    if u64::from(b.0) * u64::from(a.1) > u64::from(a.0) * u64::from(b.1) {
                        b
                    } else {
                        a
                    }
                });
            if let Some(fr) = fastest {
                max_frame_rate = frame_rate_text(fr);
                attrs.push(("maxFrameRate", &max_frame_rate));
            }
        }
    } else {
        if first.is_text() {
            // CMAF text (ISO/IEC 23000-19 §9.2: `wvtt` in fMP4).
            attrs.extend([("contentType", "text"), ("mimeType", "application/mp4")]);
        } else {
            attrs.extend([("contentType", "audio"), ("mimeType", "audio/mp4")]);
        }
        if let Some(l) = language(first) {
            lang = l.to_owned();
            attrs.push(("lang", &lang));
        }
    }
    if segments_aligned(&set.tracks) {
        attrs.push(("segmentAlignment", "true"));
    }
    // §5.3.3.2: every segment starts with a SAP of this type or lower.
    let sap = set.tracks.iter().map(|t| t.sap_type.clamp(1, 6)).max().unwrap_or(1).to_string();
    attrs.push(("startWithSAP", &sap));
    x.open("AdaptationSet", &attrs);

    // Children in the schema's order (§5.3.3.2 and §5.3.7.2): descriptors
    // common to the Representations, ContentProtection, properties, Role,
    // then the Representations.
    let set_channels = common_channels(set);
    if let Some(ch) = set_channels {
        write_channels(x, ch);
    }
    if let Some(prot) = &first.protection {
        write_content_protection(x, prot);
    }
    // Same codec family, different keys: tell the player it may still switch.
    if set.video {
        let peers: Vec<String> = all
            .iter()
            .enumerate()
            .filter(|(_, s)| s.video && s.family == set.family && s.picture == set.picture)
            .map(|(i, _)| i.to_string())
            .collect();
        if peers.len() > 1 {
            let others = peers
                .iter()
                .filter(|i| **i != id)
                .cloned()
                .collect::<Vec<_>>()
                .join(",");
            x.empty(
                "SupplementalProperty",
                &[("schemeIdUri", SCHEME_SET_SWITCHING), ("value", &others)],
            );
        }
    }
    // A text track's name for the player's menu (`Label`, ISO/IEC 23009-1
    // §5.3.10), after the properties and before Accessibility and Role.
    if let Some(first) = set.tracks.first() {
        write_label(x, first);
    }
    // Closed captions in the video samples (SCTE 214-1 §6.7.3; DASH-IF IOP
    // v4.3 §6.4.3): before Role, as the schema orders them.
    if set.video
        && let Some(c) = set.tracks.iter().filter_map(|t| t.captions.as_ref()).find(|c| !c.is_empty())
    {
        if !c.cea608.is_empty() {
            x.empty("Accessibility", &[("schemeIdUri", SCHEME_CEA608), ("value", &c.cea608.join(";"))]);
        }
        if !c.cea708.is_empty() {
            let services: Vec<String> = c.cea708.iter().map(|s| s.trim_start_matches("SERVICE").to_owned()).collect();
            x.empty("Accessibility", &[("schemeIdUri", SCHEME_CEA708), ("value", &services.join(";"))]);
        }
    }
    if let Some(role) = set.role {
        x.empty("Role", &[("schemeIdUri", SCHEME_ROLE), ("value", role)]);
    }
    for t in &set.tracks {
        write_representation(x, t, set_channels.is_none(), offset_secs);
    }
    x.close("AdaptationSet");
}

/// The channel count every track of an audio set shares, written once on
/// the set; `None` when they differ (each Representation carries its own).
fn common_channels(set: &Set<'_>) -> Option<Channels> {
    let first = channels(set.tracks.first()?)?;
    set.tracks
        .iter()
        .all(|t| channels(t) == Some(first))
        .then_some(first)
}

fn write_channels(x: &mut Xml, channels: Channels) {
    let (scheme, value) = match channels {
        Channels::Mpeg(n) => (SCHEME_AUDIO_CHANNELS, n.to_string()),
        Channels::Dolby(map) => (SCHEME_DOLBY_CHANNELS, format!("{map:04X}")),
    };
    x.empty(
        "AudioChannelConfiguration",
        &[("schemeIdUri", scheme), ("value", &value)],
    );
}

fn is_clearkey(system_id: &[u8; 16]) -> bool {
    *system_id == DASHIF_CLEARKEY_SYSTEM_ID || *system_id == W3C_COMMON_SYSTEM_ID
}

fn write_content_protection(x: &mut Xml, prot: &Protection) {
    let scheme = String::from_utf8_lossy(&prot.scheme);
    let kid = uuid_string(&prot.default_kid);
    x.empty(
        "ContentProtection",
        &[
            ("schemeIdUri", SCHEME_MP4PROTECTION),
            ("value", &scheme),
            ("cenc:default_KID", &kid),
        ],
    );
    for s in &prot.systems {
        write_drm_system(x, s);
    }
}

/// One DRM system's `ContentProtection` element as the MPD writes it, as
/// a standalone fragment: the namespaces its prefixes use are declared on
/// it (DASH-IF CPIX 2.3 `ContentProtectionData` carries such fragments).
pub fn content_protection_fragment(s: &DrmSystem) -> String {
    let mut x = Xml::default();
    write_drm_system(&mut x, s);
    let namespaces = format!(
        " xmlns=\"{NS_MPD}\" xmlns:cenc=\"{NS_CENC}\" xmlns:mspr=\"{NS_MSPR}\" xmlns:dashif=\"{NS_DASHIF}\" xmlns:clearkey=\"{NS_CLEARKEY}\" xmlns:ms=\"{NS_MS}\""
    );
    x.out.insert_str("<ContentProtection".len(), &namespaces);
    x.out
}

fn write_drm_system(x: &mut Xml, s: &DrmSystem) {
    let scheme_id = format!("urn:uuid:{}", uuid_string(&s.system_id));
    let mut attrs: Vec<(&str, &str)> = vec![("schemeIdUri", &scheme_id)];
    if let Some(name) = &s.name {
        attrs.push(("value", name));
    }
    let has_children = s.pssh_box.is_some() || s.playready_pro.is_some() || s.license_url.is_some();
    if !has_children {
        x.empty("ContentProtection", &attrs);
        return;
    }
    x.open("ContentProtection", &attrs);
    if let Some(pssh) = &s.pssh_box {
        x.text_element("cenc:pssh", &[], &base64_std(pssh));
    }
    if let Some(pro) = &s.playready_pro {
        x.text_element("mspr:pro", &[], &base64_std(pro));
    }
    if let Some(url) = &s.license_url {
        let clearkey = is_clearkey(&s.system_id);
        let license_type: &[(&str, &str)] = if clearkey {
            &[("licenseType", "EME-1.0")]
        } else {
            &[]
        };
        x.text_element("dashif:Laurl", license_type, url);
        if clearkey {
            x.text_element("clearkey:Laurl", &[("Lic_type", "EME-1.0")], url);
        }
        if s.system_id == WIDEVINE_SYSTEM_ID || s.system_id == PLAYREADY_SYSTEM_ID {
            x.empty("ms:laurl", &[("licenseUrl", url)]);
        }
    }
    x.close("ContentProtection");
}

fn write_representation(x: &mut Xml, t: &Track, with_channels: bool, offset_secs: f64) {
    let id = t.id.to_string();
    let bandwidth = t.bandwidth.to_string();
    let mut attrs: Vec<(&str, &str)> = vec![
        ("id", &id),
        ("bandwidth", &bandwidth),
        ("codecs", &t.codecs),
    ];
    let (width, height, frame_rate_attr, sar_attr, sample_rate);
    match &t.kind {
        TrackKind::Video {
            width: w,
            height: h,
            sar,
            interlaced,
            ..
        } => {
            width = w.to_string();
            height = h.to_string();
            attrs.extend([("width", width.as_str()), ("height", height.as_str())]);
            if let Some(fr) = frame_rate(t) {
                frame_rate_attr = frame_rate_text(fr);
                attrs.push(("frameRate", &frame_rate_attr));
            }
            // §5.3.7.2 RatioType `h:v`.
            if let Some((h, v)) = sar
                && *h != 0
                && *v != 0
            {
                sar_attr = format!("{h}:{v}");
                attrs.push(("sar", &sar_attr));
            }
            if *interlaced {
                attrs.push(("scanType", "interlaced"));
            }
            x.open("Representation", &attrs);
        }
        TrackKind::Audio {
            sample_rate: sr,
            joc_complexity,
            ..
        } => {
            sample_rate = sr.to_string();
            attrs.push(("audioSamplingRate", &sample_rate));
            x.open("Representation", &attrs);
            if with_channels && let Some(ch) = channels(t) {
                write_channels(x, ch);
            }
            if let Some(index) = joc_complexity {
                let index = index.to_string();
                x.empty(
                    "SupplementalProperty",
                    &[("schemeIdUri", SCHEME_EC3_EXTENSION_TYPE), ("value", "JOC")],
                );
                x.empty(
                    "SupplementalProperty",
                    &[("schemeIdUri", SCHEME_EC3_COMPLEXITY_INDEX), ("value", &index)],
                );
            }
        }
        TrackKind::Text { .. } => x.open("Representation", &attrs),
    }
    let timescale = t.timescale.to_string();
    let start_number = t.start_number.to_string();
    // `as` saturates: a hostile duration cannot wrap.
    let offset = (offset_secs * f64::from(t.timescale)).round() as u64;
    let offset = offset.to_string();
    let mut template: Vec<(&str, &str)> = vec![
        ("timescale", &timescale),
        ("initialization", &t.init_uri),
        ("media", &t.media_uri_template),
        ("startNumber", &start_number),
    ];
    if offset_secs > 0.0 {
        template.push(("presentationTimeOffset", &offset));
    }
    x.open("SegmentTemplate", &template);
    x.open("SegmentTimeline", &[]);
    for s in timeline(t) {
        let d = s.d.to_string();
        let tt = s.t.map(|v| v.to_string());
        let r = (s.r > 0).then(|| s.r.to_string());
        let mut attrs: Vec<(&str, &str)> = Vec::with_capacity(3);
        if let Some(tt) = &tt {
            attrs.push(("t", tt));
        }
        attrs.push(("d", &d));
        if let Some(r) = &r {
            attrs.push(("r", r));
        }
        x.empty("S", &attrs);
    }
    x.close("SegmentTimeline");
    x.close("SegmentTemplate");
    x.close("Representation");
}

/// A text track's name for the player's menu: `Label` (ISO/IEC 23009-1
/// §5.3.10), after the properties and before Accessibility and Role.
fn write_label(x: &mut Xml, t: &Track) {
    if let TrackKind::Text { label: Some(label), .. } = &t.kind {
        x.text_element("Label", &[], label);
    }
}

/// The whole file of a text track, for clients that take text as one
/// resource: an AdaptationSet of its own (`mimeType="text/vtt"`, same
/// `lang` and `Role`) whose one Representation has a `BaseURL` and no
/// segment information, a single segment (§5.3.9.2). A set of its own,
/// not a second Representation of the `wvtt` set: dash.js stops playing
/// when one set mixes segmented and sidecar text.
fn write_sidecar_set(x: &mut Xml, id: usize, t: &Track) {
    let id = id.to_string();
    let mut attrs: Vec<(&str, &str)> = vec![("id", &id), ("contentType", "text"), ("mimeType", "text/vtt")];
    if let Some(l) = language(t) {
        attrs.push(("lang", l));
    }
    x.open("AdaptationSet", &attrs);
    write_label(x, t);
    if let Some(role) = text_role(t) {
        x.empty("Role", &[("schemeIdUri", SCHEME_ROLE), ("value", role.dash_role())]);
    }
    let rep_id = format!("{}-vtt", t.id);
    let bandwidth = t.bandwidth.to_string();
    x.open("Representation", &[("id", &rep_id), ("bandwidth", &bandwidth)]);
    x.text_element("BaseURL", &[], &t.sidecar_uri());
    x.close("Representation");
    x.close("AdaptationSet");
}

/// One `S` element (ISO/IEC 23009-1 §5.3.9.6): `t` when the segment does not
/// start where the previous one ended (and on the first), `d`, and `r` more
/// segments of the same duration following without gaps.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct S {
    pub t: Option<u64>,
    pub d: u64,
    pub r: u64,
}

/// The earliest media time of the audio and video tracks, seconds, when
/// whole segments are missing before it (it is at least the longest
/// segment: an archive window let them go); else 0. A packaged title
/// starts within its first segment (composition offsets, a video starting
/// after its audio), and its sidecar subtitles are timed from media time 0:
/// it keeps its period at media time 0.
fn media_start_secs(p: &Presentation) -> f64 {
    let av = || p.tracks.iter().filter(|t| !t.is_text());
    let secs = |t: &Track, v: u64| v as f64 / f64::from(t.timescale.max(1));
    let start = av()
        .filter_map(|t| Some(secs(t, t.segments.first()?.start)))
        .fold(f64::INFINITY, f64::min);
    let longest = av()
        .flat_map(|t| t.segments.iter().map(move |s| secs(t, s.duration)))
        .fold(0.0, f64::max);
    if start.is_finite() && longest > 0.0 && start >= longest && !p.tracks.iter().any(|t| t.is_text()) {
        start
    } else {
        0.0
    }
}

pub(crate) fn timeline(t: &Track) -> Vec<S> {
    let mut out: Vec<S> = Vec::new();
    let mut expected_start: Option<u64> = None;
    for seg in &t.segments {
        let contiguous = expected_start == Some(seg.start);
        match out.last_mut() {
            Some(last) if contiguous && last.d == seg.duration => last.r += 1,
            _ => out.push(S {
                t: (!contiguous).then_some(seg.start),
                d: seg.duration,
                r: 0,
            }),
        }
        expected_start = seg.start.checked_add(seg.duration);
    }
    out
}

/// Minimal indenting XML writer; every attribute value and text is escaped.
#[derive(Default)]
struct Xml {
    out: String,
    depth: usize,
}

impl Xml {
    fn start_tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push(' ');
            self.out.push_str(k);
            self.out.push_str("=\"");
            escape_into(&mut self.out, v, true);
            self.out.push('"');
        }
    }

    fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start_tag(name, attrs);
        self.out.push_str(">\n");
        self.depth += 1;
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start_tag(name, attrs);
        self.out.push_str("/>\n");
    }

    fn text_element(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start_tag(name, attrs);
        self.out.push('>');
        escape_into(&mut self.out, text, false);
        let _ = writeln!(self.out, "</{name}>");
    }

    fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        let _ = writeln!(self.out, "</{name}>");
    }
}

/// XML 1.0 §2.2 `Char` and §3.3.3 attribute-value normalization: markup
/// characters become entities; in attributes tab/CR/LF become character
/// references so they survive normalization; characters XML 1.0 cannot
/// carry (other C0 controls, U+FFFE, U+FFFF) become U+FFFD.
fn escape_into(out: &mut String, s: &str, attribute: bool) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_model::*;
    use super::super::{DrmSystem, Protection, SegmentTime};
    use super::*;
    use quick_xml::XmlVersion;
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    use quick_xml::reader::NsReader;

    const KID: [u8; 16] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
        0xff,
    ];

    fn protection(systems: Vec<DrmSystem>) -> Protection {
        Protection {
            scheme: *b"cenc",
            default_kid: KID,
            systems,
        }
    }

    /// Every element as (namespace URI, local name, attributes), read by
    /// quick-xml's namespace-resolving reader: fails on malformed XML.
    /// (namespace URI, local name, attributes).
    type Element = (String, String, Vec<(String, String)>);

    fn elements(xml: &str) -> Vec<Element> {
        let mut r = NsReader::from_str(xml);
        let mut out = Vec::new();
        loop {
            match r.read_resolved_event() {
                Ok((ns, Event::Start(e) | Event::Empty(e))) => {
                    let ns = match ns {
                        ResolveResult::Bound(n) => AsRef::<str>::as_ref(&n).to_owned(),
                        _ => String::new(),
                    };
                    let local = AsRef::<str>::as_ref(&e.local_name()).to_owned();
                    let attrs = e
                        .attributes()
                        .map(|a| {
                            let a = a.expect("attribute");
                            (
                                AsRef::<str>::as_ref(&a.key).to_owned(),
                                a.normalized_value(XmlVersion::Explicit1_0)
                                    .expect("value")
                                    .into_owned(),
                            )
                        })
                        .collect();
                    out.push((ns, local, attrs));
                }
                Ok((_, Event::Eof)) => break,
                Ok(_) => {}
                Err(e) => panic!("malformed XML at {}: {e}\n{xml}", r.buffer_position()),
            }
        }
        out
    }

    fn attr<'a>(attrs: &'a [(String, String)], k: &str) -> Option<&'a str> {
        attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn periods_each_with_their_key_offset_and_segments() {
        let mut v = video(1, "avc1.64001f", 640, 360);
        v.protection = Some(protection(vec![]));
        let p = presentation(vec![v.clone()]);
        let period = |k: usize, first: usize, n: usize, kid: u8| {
            let mut t = v.clone();
            t.segments = v.segments[first..first + n].to_vec();
            t.start_number = first as u64 + 1;
            t.init_uri = if k == 0 { "video_1/init.mp4".into() } else { format!("video_1/init-{k}.mp4") };
            t.protection = Some(Protection { default_kid: [kid; 16], ..protection(vec![]) });
            MpdPeriod { id: k as u32, start_secs: t.segments[0].start as f64 / 12_800.0, presentation: presentation(vec![t]) }
        };
        let periods = [period(0, 0, 2, 1), period(1, 2, 2, 2), period(2, 4, 1, 3)];
        let xml = write_mpd_periods(&p, Some(&periods));
        let els = elements(&xml);
        let all = |name: &str| els.iter().filter(|(_, n, _)| n == name).map(|(_, _, a)| a).collect::<Vec<_>>();
        let starts: Vec<_> = all("Period").iter().map(|a| (attr(a, "id").unwrap(), attr(a, "start").unwrap())).collect();
        assert_eq!(starts, [("0", "PT0S"), ("1", "PT4S"), ("2", "PT8S")]);
        let kids: Vec<_> = all("ContentProtection").iter().filter_map(|a| attr(a, "cenc:default_KID")).collect();
        assert_eq!(kids, [uuid_string(&[1; 16]), uuid_string(&[2; 16]), uuid_string(&[3; 16])]);
        let templates: Vec<_> = all("SegmentTemplate")
            .iter()
            .map(|a| (attr(a, "initialization").unwrap(), attr(a, "startNumber").unwrap(), attr(a, "presentationTimeOffset")))
            .collect();
        assert_eq!(
            templates,
            [
                ("video_1/init.mp4", "1", None),
                ("video_1/init-1.mp4", "3", Some("51200")),
                ("video_1/init-2.mp4", "5", Some("102400"))
            ]
        );
        // Each period's timeline has its own segments only.
        let s: Vec<_> = all("S").iter().map(|a| (attr(a, "t"), attr(a, "r"))).collect();
        assert_eq!(s, [(Some("0"), Some("1")), (Some("51200"), Some("1")), (Some("102400"), None)]);
        assert!(xml.contains("mediaPresentationDuration=\"PT10S\""), "{xml}");
        // One period: the MPD write_mpd writes.
        assert_eq!(write_mpd_periods(&p, None), write_mpd(&p));
    }

    #[test]
    fn timeline_run_length() {
        let mut t = audio(1, None);
        t.segments = [
            (0, 10),
            (10, 10),
            (20, 10),
            (30, 5),
            (40, 5),
            (45, 5),
            (50, 5),
        ]
        .iter()
        .map(|&(start, duration)| SegmentTime { start, duration })
        .collect();
        assert_eq!(
            timeline(&t),
            vec![
                S {
                    t: Some(0),
                    d: 10,
                    r: 2
                },
                // gap 35..40: explicit t
                S {
                    t: None,
                    d: 5,
                    r: 0
                },
                S {
                    t: Some(40),
                    d: 5,
                    r: 2
                },
            ]
        );
        t.segments = vec![SegmentTime {
            start: 1024,
            duration: 7,
        }];
        assert_eq!(
            timeline(&t),
            vec![S {
                t: Some(1024),
                d: 7,
                r: 0
            }]
        );
        // Overflowing end: no panic, next segment gets an explicit t.
        t.segments = vec![
            SegmentTime {
                start: u64::MAX,
                duration: 1,
            },
            SegmentTime {
                start: 0,
                duration: 1,
            },
        ];
        assert_eq!(timeline(&t).len(), 2);
    }

    #[test]
    fn trimmed_archive_starts_its_period_at_its_media() {
        let mut p = presentation(vec![video(1, "avc1.64001f", 640, 360), audio(2, Some("en"))]);
        // An archive whose window let the first hour go.
        for t in &mut p.tracks {
            let shift = 3600 * u64::from(t.timescale);
            for s in &mut t.segments {
                s.start += shift;
            }
        }
        p.duration_secs += 3600.0;
        let xml = write_mpd(&p);
        let els = elements(&xml);
        assert_eq!(attr(&els[0].2, "mediaPresentationDuration"), Some("PT10S"));
        let templates: Vec<_> = els.iter().filter(|e| e.1 == "SegmentTemplate").collect();
        assert_eq!(templates.len(), 2);
        for (tpl, t) in templates.iter().zip(&p.tracks) {
            let want = (3600 * u64::from(t.timescale)).to_string();
            assert_eq!(attr(&tpl.2, "presentationTimeOffset"), Some(want.as_str()), "{xml}");
        }
        // Less than a segment late (a packaged title's composition
        // offset): the period stays at media time 0.
        let mut p = presentation(vec![video(1, "avc1.64001f", 640, 360)]);
        for s in &mut p.tracks[0].segments {
            s.start += 1000;
        }
        assert!(!write_mpd(&p).contains("presentationTimeOffset"));
    }

    #[test]
    fn clear_mpd_structure() {
        let p = presentation(vec![
            video(1, "avc1.64001f", 640, 360),
            video(2, "avc1.640028", 1280, 720),
            video(3, "hvc1.1.6.L93.B0", 1280, 720),
            audio(4, Some("en")),
            audio(5, Some("fr")),
        ]);
        let xml = write_mpd(&p);
        let els = elements(&xml);
        assert!(
            !xml.contains("xmlns:cenc"),
            "clear MPD declares no DRM namespaces"
        );
        let mpd = &els[0];
        assert_eq!((mpd.0.as_str(), mpd.1.as_str()), (NS_MPD, "MPD"));
        assert_eq!(attr(&mpd.2, "type"), Some("static"));
        assert_eq!(attr(&mpd.2, "profiles"), Some(PROFILE_LIVE));
        assert_eq!(attr(&mpd.2, "mediaPresentationDuration"), Some("PT10S"));
        assert_eq!(attr(&mpd.2, "minBufferTime"), Some("PT2S"));
        let sets: Vec<_> = els.iter().filter(|e| e.1 == "AdaptationSet").collect();
        assert_eq!(sets.len(), 4, "avc1 x2 in one set, hvc1, two audio sets");
        assert_eq!(attr(&sets[0].2, "contentType"), Some("video"));
        assert_eq!(attr(&sets[2].2, "lang"), Some("en"));
        assert_eq!(attr(&sets[3].2, "lang"), Some("fr"));
        let reps: Vec<_> = els.iter().filter(|e| e.1 == "Representation").collect();
        assert_eq!(reps.len(), 5);
        assert_eq!(attr(&reps[0].2, "frameRate"), Some("25"));
        assert_eq!(attr(&reps[3].2, "audioSamplingRate"), Some("48000"));
        let s: Vec<_> = els.iter().filter(|e| e.1 == "S").collect();
        assert_eq!(attr(&s[0].2, "t"), Some("0"));
        assert_eq!(attr(&s[0].2, "d"), Some("25600"));
        assert_eq!(attr(&s[0].2, "r"), Some("4"));
        assert!(!els.iter().any(|e| e.1 == "ContentProtection"));
        assert!(!els.iter().any(|e| e.1 == "SupplementalProperty"));
    }

    #[test]
    fn ladder_sets_attributes_from_the_media() {
        let mut hi = video(1, "avc1.64001f", 1280, 720);
        hi.bandwidth = 3_000_000;
        // Same cut times in another timescale: still aligned.
        hi.timescale = 90_000;
        for (i, s) in hi.segments.iter_mut().enumerate() {
            s.start = i as u64 * 180_000;
            s.duration = 180_000;
        }
        let mut lo = video(2, "avc1.64000d", 416, 234);
        lo.bandwidth = 300_000;
        lo.kind = TrackKind::Video {
            width: 416,
            height: 234,
            frame_rate: Some((30_000, 1001)),
            sar: Some((4, 3)),
            max_frame_rate: None,
            interlaced: false,
            picture: 0,
        };
        let mid = video(3, "avc1.64001e", 640, 360);
        let mut en_mono = audio(5, Some("en"));
        en_mono.kind = TrackKind::Audio {
            sample_rate: 44_100,
            channels: 1,
            language: Some("en".into()),
            dolby_channel_map: None,
            joc_complexity: None,
        };
        en_mono.bandwidth = 64_000;
        let p = presentation(vec![
            hi,
            lo,
            mid,
            audio(4, Some("en")),
            audio(6, Some("fr")),
            en_mono,
            audio(7, Some("fr")),
        ]);
        let els = elements(&write_mpd(&p));
        let sets: Vec<_> = els.iter().filter(|e| e.1 == "AdaptationSet").collect();
        assert_eq!(sets.len(), 3, "one video set, en and fr audio sets");
        let v = &sets[0].2;
        assert_eq!(attr(v, "maxWidth"), Some("1280"));
        assert_eq!(attr(v, "maxHeight"), Some("720"));
        // 30000/1001 = 29.97 > 25.
        assert_eq!(attr(v, "maxFrameRate"), Some("30000/1001"));
        assert_eq!(attr(v, "segmentAlignment"), Some("true"));
        let reps: Vec<_> = els.iter().filter(|e| e.1 == "Representation").collect();
        let ids: Vec<_> = reps
            .iter()
            .map(|r| attr(&r.2, "id").unwrap_or(""))
            .collect();
        // By bandwidth within each set: 300k, 1M, 3M; en 64k, 128k; fr.
        assert_eq!(ids, ["2", "3", "1", "5", "4", "6", "7"]);
        assert_eq!(attr(&reps[0].2, "sar"), Some("4:3"));
        assert_eq!(attr(&reps[1].2, "sar"), Some("1:1"));
        assert_eq!(attr(&sets[1].2, "lang"), Some("en"));
        assert_eq!(attr(&sets[2].2, "lang"), Some("fr"));
        assert_eq!(attr(&sets[1].2, "maxWidth"), None);
        let roles: Vec<_> = els
            .iter()
            .filter(|e| e.1 == "Role")
            .map(|e| (attr(&e.2, "schemeIdUri"), attr(&e.2, "value")))
            .collect();
        assert_eq!(
            roles,
            [
                (Some(SCHEME_ROLE), Some("main")),
                (Some(SCHEME_ROLE), Some("alternate"))
            ]
        );
        // en mixes mono and stereo: channels per Representation; fr shares
        // stereo: once on the set. Either way each audio track has one.
        let xml = write_mpd(&p);
        let fr_set = xml.split("lang=\"fr\"").nth(1).expect("fr set");
        assert_eq!(fr_set.matches("AudioChannelConfiguration").count(), 1);
        let en_set = xml
            .split("lang=\"en\"")
            .nth(1)
            .and_then(|x| x.split("lang=\"fr\"").next())
            .expect("en set");
        assert_eq!(en_set.matches("AudioChannelConfiguration").count(), 2);
    }

    #[test]
    fn segment_alignment_only_when_starts_match() {
        let a = video(1, "avc1.64001f", 1280, 720);
        let mut b = video(2, "avc1.64001e", 640, 360);
        // One tick later in 12800: not the same instant.
        b.segments[2].start += 1;
        b.segments[1].duration += 1;
        let els = elements(&write_mpd(&presentation(vec![a.clone(), b])));
        let set = els.iter().find(|e| e.1 == "AdaptationSet").expect("set");
        assert_eq!(attr(&set.2, "segmentAlignment"), None);
        let mut c = video(3, "avc1.64001e", 640, 360);
        c.segments.pop();
        let els = elements(&write_mpd(&presentation(vec![a.clone(), c])));
        let set = els.iter().find(|e| e.1 == "AdaptationSet").expect("set");
        assert_eq!(attr(&set.2, "segmentAlignment"), None, "fewer segments");
        let els = elements(&write_mpd(&presentation(vec![a.clone(), a])));
        let set = els.iter().find(|e| e.1 == "AdaptationSet").expect("set");
        assert_eq!(attr(&set.2, "segmentAlignment"), Some("true"));
    }

    #[test]
    fn content_protection_fragment_stands_alone() {
        let s = DrmSystem {
            system_id: WIDEVINE_SYSTEM_ID,
            name: Some("Widevine".into()),
            pssh_box: Some(vec![1, 2, 3]),
            playready_pro: None,
            license_url: Some("https://lic/wv?a=1&b=2".into()),
        };
        let frag = content_protection_fragment(&s);
        // Parses on its own with every prefix bound, in the MPD namespace.
        let els = elements(&frag);
        assert_eq!(els[0].0, NS_MPD);
        assert_eq!(els[0].1, "ContentProtection");
        assert!(els.iter().any(|e| e.0 == NS_CENC && e.1 == "pssh"), "{frag}");
        assert!(els.iter().any(|e| e.0 == NS_DASHIF && e.1 == "Laurl"), "{frag}");
    }

    #[test]
    fn protection_signalling_with_namespaces() {
        let mut v = video(1, "avc1.64001f", 640, 360);
        v.protection = Some(protection(vec![
            DrmSystem {
                system_id: WIDEVINE_SYSTEM_ID,
                name: Some("Widevine".into()),
                pssh_box: Some(vec![1, 2, 3]),
                playready_pro: None,
                license_url: Some("https://lic/wv?a=1&b=2".into()),
            },
            DrmSystem {
                system_id: PLAYREADY_SYSTEM_ID,
                name: Some("MSPR 2.0".into()),
                pssh_box: None,
                playready_pro: Some(vec![4, 5, 6]),
                license_url: None,
            },
            DrmSystem {
                system_id: DASHIF_CLEARKEY_SYSTEM_ID,
                name: Some("ClearKey1.0".into()),
                pssh_box: None,
                playready_pro: None,
                license_url: Some("https://lic/ck".into()),
            },
        ]));
        let xml = write_mpd(&presentation(vec![v]));
        let els = elements(&xml);
        let cps: Vec<_> = els.iter().filter(|e| e.1 == "ContentProtection").collect();
        assert_eq!(cps.len(), 4);
        assert_eq!(attr(&cps[0].2, "schemeIdUri"), Some(SCHEME_MP4PROTECTION));
        assert_eq!(attr(&cps[0].2, "value"), Some("cenc"));
        assert_eq!(
            attr(&cps[0].2, "cenc:default_KID"),
            Some("00112233-4455-6677-8899-aabbccddeeff")
        );
        assert_eq!(
            attr(&cps[1].2, "schemeIdUri"),
            Some("urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed")
        );
        assert_eq!(attr(&cps[2].2, "value"), Some("MSPR 2.0"));
        let find = |ns: &str, local: &str| {
            els.iter()
                .filter(|e| e.0 == ns && e.1 == local)
                .collect::<Vec<_>>()
        };
        assert_eq!(find(NS_CENC, "pssh").len(), 1);
        assert_eq!(find(NS_MSPR, "pro").len(), 1);
        assert_eq!(find(NS_DASHIF, "Laurl").len(), 2);
        let ck = find(NS_CLEARKEY, "Laurl");
        assert_eq!(ck.len(), 1);
        assert_eq!(attr(&ck[0].2, "Lic_type"), Some("EME-1.0"));
        let ms = find(NS_MS, "laurl");
        assert_eq!(ms.len(), 1);
        assert_eq!(attr(&ms[0].2, "licenseUrl"), Some("https://lic/wv?a=1&b=2"));
        assert!(xml.contains("<cenc:pssh>AQID</cenc:pssh>"));
        assert!(xml.contains("<mspr:pro>BAUG</mspr:pro>"));
        assert!(xml.contains("https://lic/wv?a=1&amp;b=2"));
        // ContentProtection comes before Representation (schema order).
        let first_rep = els.iter().position(|e| e.1 == "Representation");
        let last_cp = els.iter().rposition(|e| e.1 == "ContentProtection");
        assert!(last_cp < first_rep);
    }

    #[test]
    fn different_keys_split_sets_with_switching_property() {
        let mut a = video(1, "avc1.64001f", 640, 360);
        let mut b = video(2, "avc1.640028", 1280, 720);
        a.protection = Some(protection(vec![]));
        let mut other = protection(vec![]);
        other.default_kid = [9; 16];
        b.protection = Some(other);
        let els = elements(&write_mpd(&presentation(vec![a, b, audio(3, None)])));
        let sets: Vec<_> = els.iter().filter(|e| e.1 == "AdaptationSet").collect();
        assert_eq!(sets.len(), 3);
        let props: Vec<_> = els
            .iter()
            .filter(|e| e.1 == "SupplementalProperty")
            .collect();
        assert_eq!(props.len(), 2);
        assert_eq!(attr(&props[0].2, "schemeIdUri"), Some(SCHEME_SET_SWITCHING));
        assert_eq!(attr(&props[0].2, "value"), Some("1"));
        assert_eq!(attr(&props[1].2, "value"), Some("0"));
    }

    #[test]
    fn variable_frame_rate_average_and_maximum() {
        // 25 fps then 12.5 fps: 18.775 on average, 25 at most.
        let vfr = with_rates(video(1, "avc1.64001e", 640, 360), (4675, 249), (25, 1));
        let els = elements(&write_mpd(&presentation(vec![vfr.clone(), audio(2, None)])));
        let set = els.iter().find(|e| e.1 == "AdaptationSet").expect("set");
        assert_eq!(attr(&set.2, "maxFrameRate"), Some("25"), "one VFR Representation");
        assert_eq!(attr(&set.2, "maxWidth"), None);
        let rep = els.iter().find(|e| e.1 == "Representation").expect("rep");
        assert_eq!(attr(&rep.2, "frameRate"), Some("4675/249"));
        // In a ladder, the largest of the maxima: 50 > 30000/1001.
        let mut fast = with_rates(video(2, "avc1.64001f", 1280, 720), (30, 1), (50, 1));
        fast.bandwidth = 9_000_000;
        let mut steady = video(3, "avc1.64000d", 416, 234);
        if let TrackKind::Video { frame_rate, .. } = &mut steady.kind {
            *frame_rate = Some((30_000, 1001));
        }
        let els = elements(&write_mpd(&presentation(vec![vfr, fast, steady.clone()])));
        let set = els.iter().find(|e| e.1 == "AdaptationSet").expect("set");
        assert_eq!(attr(&set.2, "maxFrameRate"), Some("50"));
        // Constant rate, one Representation: no maxFrameRate, as before.
        let els = elements(&write_mpd(&presentation(vec![steady])));
        let set = els.iter().find(|e| e.1 == "AdaptationSet").expect("set");
        assert_eq!(attr(&set.2, "maxFrameRate"), None);
    }

    #[test]
    fn interlaced_representations_say_so() {
        let p = presentation(vec![
            interlaced(video(1, "avc1.64001e", 720, 576)),
            video(2, "avc1.64000d", 416, 234),
        ]);
        let xml = write_mpd(&p);
        let els = elements(&xml);
        let scan: Vec<_> = els
            .iter()
            .filter(|e| e.1 == "Representation")
            .map(|e| (attr(&e.2, "id"), attr(&e.2, "scanType")))
            .collect();
        assert_eq!(scan, [(Some("1"), Some("interlaced")), (Some("2"), None)]);
        assert_eq!(xml.matches("scanType").count(), 1, "progressive writes none");
    }

    #[test]
    fn other_pictures_get_their_own_sets_and_roles() {
        // Main picture: a ladder of two; a second picture of the same
        // codec and size as one of them; audio.
        let p = presentation(vec![
            video(1, "avc1.64001f", 1280, 720),
            video(2, "avc1.64001e", 640, 360),
            of_picture(video(3, "avc1.64001e", 640, 360), 1),
            audio(4, Some("en")),
        ]);
        let els = elements(&write_mpd(&p));
        let sets: Vec<_> = els
            .iter()
            .enumerate()
            .filter(|(_, e)| e.1 == "AdaptationSet")
            .collect();
        assert_eq!(sets.len(), 3, "main picture, other picture, audio");
        let children = |i: usize, name: &str| -> Vec<&Element> {
            let next = sets.iter().map(|(j, _)| *j).find(|j| *j > i).unwrap_or(els.len());
            els[i..next].iter().filter(|e| e.1 == name).collect()
        };
        let role = |i: usize| children(i, "Role").first().and_then(|r| attr(&r.2, "value"));
        let reps = |i: usize| -> Vec<&str> {
            children(i, "Representation")
                .iter()
                .filter_map(|r| attr(&r.2, "id"))
                .collect()
        };
        let (main, other, sound) = (sets[0].0, sets[1].0, sets[2].0);
        assert_eq!(reps(main), ["1", "2"]);
        assert_eq!(role(main), Some("main"));
        assert_eq!(reps(other), ["3"]);
        assert_eq!(role(other), Some("alternate"));
        assert_eq!(role(sound), Some("main"));
        assert_eq!(attr(&sets[0].1.2, "maxWidth"), Some("1280"));
        assert!(
            !els.iter().any(|e| e.1 == "SupplementalProperty"),
            "no switching between pictures"
        );
    }

    #[test]
    fn hostile_text_stays_well_formed() {
        let mut a = audio(1, Some("en\"><x a='1'>"));
        a.codecs = "mp4a.40.2\u{0}\u{1}\u{fffe}".into();
        a.init_uri = "a&b<c>\"d'\te\nf\rg".into();
        a.media_uri_template = "]]><!--$Number$".into();
        a.protection = Some(protection(vec![DrmSystem {
            system_id: PLAYREADY_SYSTEM_ID,
            name: Some("</ContentProtection>".into()),
            pssh_box: None,
            playready_pro: None,
            license_url: Some("x</dashif:Laurl><evil/>\u{7}".into()),
        }]));
        let xml = write_mpd(&presentation(vec![a]));
        let els = elements(&xml);
        assert!(!els.iter().any(|e| e.1 == "x" || e.1 == "evil"));
        let set = els.iter().find(|e| e.1 == "AdaptationSet").expect("set");
        assert_eq!(attr(&set.2, "lang"), Some("en\"><x a='1'>"));
        let tmpl = els
            .iter()
            .find(|e| e.1 == "SegmentTemplate")
            .expect("template");
        assert_eq!(attr(&tmpl.2, "initialization"), Some("a&b<c>\"d'\te\nf\rg"));
        assert_eq!(attr(&tmpl.2, "media"), Some("]]><!--$Number$"));
        let rep = els.iter().find(|e| e.1 == "Representation").expect("rep");
        assert_eq!(
            attr(&rep.2, "codecs"),
            Some("mp4a.40.2\u{fffd}\u{fffd}\u{fffd}")
        );
    }

    #[test]
    fn degenerate_models_do_not_panic() {
        let mut v = video(1, "", 0, 0);
        v.kind = TrackKind::Video {
            width: 0,
            height: 0,
            frame_rate: Some((30, 0)),
            sar: Some((0, 1)),
            max_frame_rate: None,
            interlaced: false,
            picture: 0,
        };
        v.timescale = 0;
        v.segments.clear();
        let mut p = presentation(vec![v]);
        p.duration_secs = f64::NAN;
        let xml = write_mpd(&p);
        assert!(!xml.contains("frameRate"));
        elements(&xml);
        elements(&write_mpd(&presentation(vec![])));
    }
}
