//! HLS AES-128 media playlists played by ffmpeg: the playlist written by
//! `write_media_playlist` must decrypt to exactly the clear frames.
//!
//! ffmpeg makes a clear fMP4 HLS rendition (init + three 2 s segments), the
//! segments are encrypted with `openssl aes-128-cbc` (whole segment, PKCS#7,
//! RFC 8216 §4.3.2.4), our playlist points at them, and ffmpeg's HLS demuxer
//! must give the same video framemd5 as the clear rendition. This checks what
//! parsers cannot: that `EXT-X-MAP` before `EXT-X-KEY` really leaves the init
//! segment clear for a player, and that an omitted IV means the media
//! sequence number (RFC 8216 §5.2). A wrong key must not give the same frames.
//! ffmpeg and openssl are required (TESTING.md); their absence fails the test.

use std::path::Path;
use std::process::Command;

use media::manifest::{HlsKey, Presentation, SegmentTime, Track, TrackKind, write_media_playlist};

const KEY: &str = "00112233445566778899aabbccddeeff";
const WRONG_KEY: &str = "ffeeddccbbaa99887766554433221100";
const IV: [u8; 16] = [
    0x0f, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a, 0x09, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x00,
];

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (install ffmpeg and openssl)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn hex16(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Hash column of ffmpeg's framemd5 for the video stream, or the error text.
fn video_hashes(dir: &Path, playlist: &str) -> Result<Vec<String>, String> {
    let out = Command::new("ffmpeg")
        .current_dir(dir)
        .args(["-v", "error", "-allowed_extensions", "ALL"])
        .args(["-protocol_whitelist", "file,crypto"])
        .args(["-i", playlist, "-map", "0:v", "-f", "framemd5", "-"])
        .output()
        .expect("run ffmpeg");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(',').nth(5).map(|h| h.trim().to_owned()))
        .collect())
}

fn track(template: &str, start_number: u64, key: HlsKey) -> Track {
    Track {
        id: 1,
        kind: TrackKind::Video {
            width: 320,
            height: 180,
            frame_rate: Some((25, 1)),
            sar: Some((1, 1)),
            max_frame_rate: None,
            interlaced: false,
            picture: 0,
        },
        codecs: "avc1.64000d".into(),
        bandwidth: 300_000,
        average_bandwidth: 200_000,
        hls_peak_bandwidth: 300_000,
        timescale: 12_800,
        segments: (0..3)
            .map(|i| SegmentTime {
                start: i * 25_600,
                duration: 25_600,
            })
            .collect(),
        init_uri: "init.mp4".into(),
        media_uri_template: template.into(),
        start_number,
        discontinuity_sequence: None,
        protection: None,
        hls_keys: vec![key],
        key_frame_ends: Vec::new(),
        sap_type: 1,
        captions: None,
    }
}

fn encrypt(dir: &Path, src: &str, dst: &str, key: &str, iv: &str) {
    run(Command::new("openssl").current_dir(dir).args([
        "aes-128-cbc",
        "-K",
        key,
        "-iv",
        iv,
        "-in",
        src,
        "-out",
        dst,
    ]));
}

#[test]
fn ffmpeg_decrypts_aes128_playlists() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    run(Command::new("ffmpeg").current_dir(dir).args([
        "-v",
        "error",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25",
        "-t",
        "6",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-g",
        "50",
        "-keyint_min",
        "50",
        "-sc_threshold",
        "0",
        "-f",
        "hls",
        "-hls_time",
        "2",
        "-hls_segment_type",
        "fmp4",
        "-hls_playlist_type",
        "vod",
        "-hls_fmp4_init_filename",
        "init.mp4",
        "-hls_segment_filename",
        "seg%d.m4s",
        "clear.m3u8",
    ]));
    let clear = video_hashes(dir, "clear.m3u8").expect("clear rendition plays");
    assert_eq!(clear.len(), 150, "6 s at 25 fps");
    std::fs::write(dir.join("key.bin"), hex16(KEY)).expect("key");
    std::fs::write(dir.join("wrong.bin"), hex16(WRONG_KEY)).expect("key");
    let p = Presentation {
        live: None,
        duration_secs: 6.0,
        tracks: vec![],
        min_buffer_secs: 2.0,
    };

    // No IV: segment n is encrypted with IV = its media sequence number.
    for i in 0..3u32 {
        let iv = format!("{:032x}", 10 + i);
        encrypt(
            dir,
            &format!("seg{i}.m4s"),
            &format!("seq{}.m4s", 10 + i),
            KEY,
            &iv,
        );
    }
    let t = track("seq$Number$.m4s", 10, HlsKey::aes128("key.bin", None));
    std::fs::write(dir.join("seq.m3u8"), write_media_playlist(&p, &t)).expect("write");
    assert_eq!(
        video_hashes(dir, "seq.m3u8").as_ref(),
        Ok(&clear),
        "sequence-number IV"
    );

    // Explicit IV for every segment.
    let iv_hex: String = IV.iter().map(|b| format!("{b:02x}")).collect();
    for i in 0..3u32 {
        encrypt(
            dir,
            &format!("seg{i}.m4s"),
            &format!("fixed{}.m4s", i + 1),
            KEY,
            &iv_hex,
        );
    }
    let t = track("fixed$Number$.m4s", 1, HlsKey::aes128("key.bin", Some(IV)));
    std::fs::write(dir.join("fixed.m3u8"), write_media_playlist(&p, &t)).expect("write");
    assert_eq!(
        video_hashes(dir, "fixed.m3u8").as_ref(),
        Ok(&clear),
        "explicit IV"
    );

    // The same playlist pointing at a wrong key must not give the clear frames.
    let t = track(
        "fixed$Number$.m4s",
        1,
        HlsKey::aes128("wrong.bin", Some(IV)),
    );
    std::fs::write(dir.join("wrong.m3u8"), write_media_playlist(&p, &t)).expect("write");
    assert_ne!(
        video_hashes(dir, "wrong.m3u8").as_ref(),
        Ok(&clear),
        "wrong key"
    );
}
