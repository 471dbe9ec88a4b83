//! Presentations shared by the manifest golden and parser tests, and the
//! expectations an independent checker compares the manifests with.
//!
//! Four scenarios, each the shape `castguard package` produces for a 10 s
//! clip (25 fps H.264 in two renditions with 2 s GOPs, AAC-LC 48 kHz whose
//! segments follow 1024-sample frames):
//! - `clear`: no protection;
//! - `cenc`: `cenc` scheme, Widevine + PlayReady + Clear Key in DASH,
//!   Widevine + PlayReady `SAMPLE-AES-CTR` in HLS;
//! - `cbcs`: `cbcs` scheme, Widevine + PlayReady in DASH, FairPlay +
//!   Widevine + PlayReady `SAMPLE-AES` in HLS;
//! - `aes128`: HLS envelope encryption only (no MPD), one track with an
//!   explicit IV and one relying on the media-sequence IV;
//! - `ladder`: clear, three H.264 renditions listed highest first (one with
//!   a 4:3 `pasp`), English and French audio, to show the ordering and the
//!   set-level attributes of an ABR ladder.
//!
//! PSSH boxes and PlayReady objects are built here by hand from their specs
//! (ISO/IEC 23001-7 §8.1, PlayReady Header Object v4) with test key IDs;
//! they only need to be well formed, nothing decrypts with them.
#![allow(dead_code)]

use media::manifest::{
    DASHIF_CLEARKEY_SYSTEM_ID, DrmSystem, HlsKey, HlsMethod, PLAYREADY_SYSTEM_ID, Presentation,
    Protection, SegmentTime, Track, TrackKind, WIDEVINE_SYSTEM_ID,
};
use serde_json::{Value, json};

/// Test key ID (`tenc` order) shared by all protected scenarios.
pub const KID: [u8; 16] = [
    0x6f, 0x65, 0x1a, 0xe1, 0xdb, 0xe4, 0x44, 0x34, 0xbc, 0xb4, 0x69, 0x0d, 0x15, 0x64, 0xc4, 0x1c,
];
pub const KID_UUID: &str = "6f651ae1-dbe4-4434-bcb4-690d1564c41c";
pub const AES_IV: [u8; 16] = [
    0x0f, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a, 0x09, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x00,
];

pub const SCENARIOS: [&str; 5] = ["clear", "cenc", "cbcs", "aes128", "ladder"];

pub fn playlist_name(t: &Track) -> String {
    format!("track_{}.m3u8", t.id)
}

/// `pssh` box version 0 (ISO/IEC 23001-7 §8.1.1).
pub fn pssh_v0(system_id: &[u8; 16], data: &[u8]) -> Vec<u8> {
    let size = u32::try_from(32 + data.len()).expect("small");
    let mut b = Vec::new();
    b.extend_from_slice(&size.to_be_bytes());
    b.extend_from_slice(b"pssh");
    b.extend_from_slice(&[0, 0, 0, 0]);
    b.extend_from_slice(system_id);
    b.extend_from_slice(&u32::try_from(data.len()).expect("small").to_be_bytes());
    b.extend_from_slice(data);
    b
}

/// Widevine `WidevinePsshData` with `key_ids` (field 2) only.
pub fn widevine_data(kid: &[u8; 16]) -> Vec<u8> {
    let mut d = vec![0x12, 0x10];
    d.extend_from_slice(kid);
    d
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// PlayReady Object with one Rights Management Header record; the KID in
/// GUID byte order as PlayReady wants it.
pub fn playready_pro(kid: &[u8; 16], cbcs: bool) -> Vec<u8> {
    let mut guid = *kid;
    guid[0..4].reverse();
    guid[4..6].reverse();
    guid[6..8].reverse();
    let kid64 = base64(&guid);
    let xml = if cbcs {
        format!(
            "<WRMHEADER xmlns=\"http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader\" version=\"4.3.0.0\"><DATA><PROTECTINFO><KIDS><KID ALGID=\"AESCBC\" VALUE=\"{kid64}\"></KID></KIDS></PROTECTINFO></DATA></WRMHEADER>"
        )
    } else {
        format!(
            "<WRMHEADER xmlns=\"http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader\" version=\"4.0.0.0\"><DATA><PROTECTINFO><KEYLEN>16</KEYLEN><ALGID>AESCTR</ALGID></PROTECTINFO><KID>{kid64}</KID></DATA></WRMHEADER>"
        )
    };
    let record: Vec<u8> = xml.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let total = u32::try_from(4 + 2 + 2 + 2 + record.len()).expect("small");
    let mut b = Vec::new();
    b.extend_from_slice(&total.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&u16::try_from(record.len()).expect("small").to_le_bytes());
    b.extend_from_slice(&record);
    b
}

fn segments(durations: &[u64]) -> Vec<SegmentTime> {
    let mut start = 0;
    durations
        .iter()
        .map(|&duration| {
            let s = SegmentTime { start, duration };
            start += duration;
            s
        })
        .collect()
}

fn video(id: u32, codecs: &str, width: u32, height: u32, bandwidth: u64) -> Track {
    Track {
        id,
        kind: TrackKind::Video {
            width,
            height,
            frame_rate: Some((25, 1)),
            sar: Some((1, 1)),
            max_frame_rate: None,
            interlaced: false,
            picture: 0,
        },
        codecs: codecs.to_owned(),
        bandwidth,
        average_bandwidth: bandwidth * 3 / 4,
        hls_peak_bandwidth: bandwidth * 11 / 10,
        timescale: 12_800,
        segments: segments(&[25_600; 5]),
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

fn audio(id: u32, language: &str) -> Track {
    Track {
        id,
        kind: TrackKind::Audio {
            sample_rate: 48_000,
            channels: 2,
            language: Some(language.to_owned()),
            dolby_channel_map: None,
            joc_complexity: None,
        },
        codecs: "mp4a.40.2".to_owned(),
        bandwidth: 130_000,
        average_bandwidth: 128_000,
        hls_peak_bandwidth: 131_000,
        timescale: 48_000,
        segments: segments(&[96_256, 95_232, 96_256, 95_232, 97_280]),
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

fn base_tracks() -> Vec<Track> {
    vec![
        video(1, "avc1.64001e", 640, 360, 900_000),
        video(2, "avc1.64001f", 1280, 720, 2_500_000),
        audio(3, "en"),
    ]
}

fn presentation(tracks: Vec<Track>) -> Presentation {
    Presentation {
        live: None,
        duration_secs: 10.0,
        tracks,
        min_buffer_secs: 2.0,
    }
}

pub fn scenario(name: &str) -> Presentation {
    let mut tracks = base_tracks();
    match name {
        "clear" => {}
        "ladder" => {
            let mut small = video(4, "avc1.64000d", 416, 234, 300_000);
            if let TrackKind::Video { sar, .. } = &mut small.kind {
                *sar = Some((4, 3));
            }
            let mut fr = audio(5, "fr");
            fr.hls_peak_bandwidth = 99_000;
            fr.average_bandwidth = 96_000;
            tracks = vec![
                tracks[1].clone(),
                tracks[0].clone(),
                small,
                tracks[2].clone(),
                fr,
            ];
        }
        "cenc" | "cbcs" => {
            let cbcs = name == "cbcs";
            let wv_pssh = pssh_v0(&WIDEVINE_SYSTEM_ID, &widevine_data(&KID));
            let pro = playready_pro(&KID, cbcs);
            let pr_pssh = pssh_v0(&PLAYREADY_SYSTEM_ID, &pro);
            let mut systems = vec![
                DrmSystem {
                    system_id: WIDEVINE_SYSTEM_ID,
                    name: Some("Widevine".into()),
                    pssh_box: Some(wv_pssh.clone()),
                    playready_pro: None,
                    license_url: Some(
                        "https://drm.example/keys/v1/widevine?locator=abc&t=1".into(),
                    ),
                },
                DrmSystem {
                    system_id: PLAYREADY_SYSTEM_ID,
                    name: Some("MSPR 2.0".into()),
                    pssh_box: Some(pr_pssh),
                    playready_pro: Some(pro.clone()),
                    license_url: Some("https://drm.example/keys/v1/playready".into()),
                },
            ];
            if !cbcs {
                systems.push(DrmSystem {
                    system_id: DASHIF_CLEARKEY_SYSTEM_ID,
                    name: Some("ClearKey1.0".into()),
                    pssh_box: None,
                    playready_pro: None,
                    license_url: Some("https://drm.example/keys/v1/clearkey".into()),
                });
            }
            let protection = Protection {
                scheme: if cbcs { *b"cbcs" } else { *b"cenc" },
                default_kid: KID,
                systems,
            };
            let method = if cbcs {
                HlsMethod::SampleAes
            } else {
                HlsMethod::SampleAesCtr
            };
            let mut keys = Vec::new();
            if cbcs {
                keys.push(HlsKey::fairplay(format!("skd://{KID_UUID}")));
            }
            keys.push(HlsKey::widevine(method, &wv_pssh, Some(KID)));
            keys.push(HlsKey::playready(method, &pro));
            for t in &mut tracks {
                t.protection = Some(protection.clone());
                t.hls_keys = keys.clone();
            }
        }
        "aes128" => {
            for t in &mut tracks {
                let uri = format!("https://drm.example/keys/v1/aes/{KID_UUID}");
                // Audio relies on the default IV (the media sequence number).
                let iv = t.is_video().then_some(AES_IV);
                t.hls_keys = vec![HlsKey::aes128(uri, iv)];
            }
        }
        other => panic!("unknown scenario {other}"),
    }
    presentation(tracks)
}

fn hex0x(b: &[u8; 16]) -> String {
    let mut s = String::from("0x");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

/// What the manifests must say, written independently of the writers: the
/// checker compares parsed manifests with this.
pub fn expectations(name: &str, p: &Presentation) -> Value {
    let tracks: Vec<Value> = p
        .tracks
        .iter()
        .map(|t| {
            let (kind, extra) = match &t.kind {
                TrackKind::Video {
                    width,
                    height,
                    frame_rate,
                    sar,
                    ..
                } => (
                    "video",
                    json!({"width": width, "height": height,
                           "sar": sar.map(|(h, v)| format!("{h}:{v}")),
                           "frame_rate": frame_rate.map(|(n, d)| if d == 1 { n.to_string() } else { format!("{n}/{d}") })}),
                ),
                TrackKind::Audio {
                    sample_rate,
                    channels,
                    language,
                    ..
                } => (
                    "audio",
                    json!({"sample_rate": sample_rate, "channels": channels, "language": language}),
                ),
                // The scenarios hold no text tracks (subtitles_e2e.rs checks those).
                TrackKind::Text { language, .. } => ("text", json!({"language": language})),
            };
            let uris: Vec<String> = (0..t.segments.len())
                .map(|i| {
                    let dir = if t.is_video() { "video" } else { "audio" };
                    format!("{dir}_{}/{}.m4s", t.id, t.start_number + i as u64)
                })
                .collect();
            let protection = t.protection.as_ref().map(|p| {
                json!({
                    "scheme": String::from_utf8_lossy(&p.scheme),
                    "default_kid": KID_UUID,
                    "systems": p.systems.iter().map(|s| json!({
                        "system_id": s.system_id.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                        "value": s.name,
                        "pssh": s.pssh_box.as_deref().map(base64),
                        "pro": s.playready_pro.as_deref().map(base64),
                        "laurl": s.license_url,
                    })).collect::<Vec<_>>(),
                })
            });
            let keys: Vec<Value> = t
                .hls_keys
                .iter()
                .map(|k| {
                    json!({
                        "method": match k.method {
                            HlsMethod::Aes128 => "AES-128",
                            HlsMethod::SampleAes => "SAMPLE-AES",
                            HlsMethod::SampleAesCtr => "SAMPLE-AES-CTR",
                        },
                        "uri": k.uri,
                        "iv": k.iv.as_ref().map(hex0x),
                        "keyformat": k.keyformat,
                        "keyformatversions": k.keyformat_versions,
                    })
                })
                .collect();
            json!({
                "id": t.id,
                "kind": kind,
                "detail": extra,
                "codecs": t.codecs,
                "bandwidth": t.bandwidth,
                "average_bandwidth": t.average_bandwidth,
                "hls_peak_bandwidth": t.hls_peak_bandwidth,
                "timescale": t.timescale,
                "init": t.init_uri,
                "media": t.media_uri_template,
                "start_number": t.start_number,
                "segments": t.segments.iter().map(|s| [s.start, s.duration]).collect::<Vec<_>>(),
                "segment_uris": uris,
                "playlist": playlist_name(t),
                "protection": protection,
                "hls_keys": keys,
            })
        })
        .collect();
    json!({
        "name": name,
        "mpd": if name == "aes128" { Value::Null } else { json!("manifest.mpd") },
        "master": "master.m3u8",
        "duration": p.duration_secs,
        "min_buffer": p.min_buffer_secs,
        "tracks": tracks,
    })
}

/// Every file a scenario produces: (file name, contents).
pub fn render(name: &str) -> Vec<(String, String)> {
    let p = scenario(name);
    p.validate().expect("scenario is valid");
    let mut files = Vec::new();
    if name != "aes128" {
        files.push(("manifest.mpd".to_owned(), media::manifest::write_mpd(&p)));
    }
    files.push((
        "master.m3u8".to_owned(),
        media::manifest::write_master(&p, playlist_name, |t| format!("iframes_{}.m3u8", t.id)),
    ));
    for t in &p.tracks {
        files.push((
            playlist_name(t),
            media::manifest::write_media_playlist(&p, t),
        ));
    }
    files
}
