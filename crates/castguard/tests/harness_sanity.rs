//! Harness sanity: the same helpers that judge castguard's output must get the
//! clear input back from the reference implementation's output (Shaka
//! Packager 3.4.2, raw key, `cenc` and `cbcs`), and must NOT with a wrong key.
//! If these fail, the harness (or a tool) is broken, not castguard.

mod common;

use common::*;

fn shaka_roundtrip(fixture_name: &str, scheme: &str) {
    let input = fixture(fixture_name);
    let tmp = TempDir::new(&format!("shaka-{scheme}"));
    let out = tmp.join("out");
    shaka_package(&input, &out, scheme, KID1, KEY1);
    let n = assert_tracks_match(&input, &out, Some(KEY1));
    assert_eq!(n, streams(&input).len());

    // Wrong key: ffmpeg does not check keys, so it must give other frames or fail.
    let video = out.join(streams(&input)[0].dir_name());
    let wrong = track_hashes(&video, Some(KEY2), Media::Video);
    assert_ne!(
        wrong,
        Ok(clear_hashes(&input, Media::Video)),
        "wrong key decrypted {scheme}"
    );

    // Every video segment but the last starts with a sync sample.
    let segs = segments(&video);
    assert!(
        segs.len() >= 2,
        "a 10 s clip in 4 s segments has several segments"
    );
    for s in &segs[..segs.len() - 1] {
        assert!(
            segment_info(&video, s).first_is_sync,
            "{} does not start with a sync sample",
            s.display()
        );
    }

    // pywidevine reads our KID from Shaka's PSSH boxes (init and MPD).
    let kids = pssh_kids(&video.join("init.mp4"));
    for system in ["common", "widevine", "playready"] {
        assert!(
            kids.iter().any(|(_, s, k)| s == system && k == KID1),
            "{system} PSSH with {KID1} not found in {kids:?}"
        );
    }

    // Shaka decrypts its own output back to the clear samples (the flags the
    // castguard cross-check uses).
    let clear = tmp.join("video_clear.mp4");
    shaka_decrypt(&video, &clear, KID1, KEY1).expect("shaka decrypt");
    assert_hashes_eq(
        &file_hashes(&clear, Media::Video).expect("hash shaka-decrypted"),
        &clear_hashes(&input, Media::Video),
        "shaka decrypt of shaka output",
    );
}

macro_rules! sanity {
    ($($name:ident: $fixture:expr, $scheme:expr;)*) => {$(
        #[test]
        fn $name() { shaka_roundtrip($fixture, $scheme) }
    )*};
}

sanity! {
    shaka_cenc_h264_aac_bframes: "h264_aac_bframes.mp4", "cenc";
    shaka_cbcs_h264_aac_bframes: "h264_aac_bframes.mp4", "cbcs";
    shaka_cenc_h264_2audio: "h264_2audio.mp4", "cenc";
    shaka_cbcs_h265_aac: "h265_aac.mp4", "cbcs";
    shaka_cenc_h265_aac: "h265_aac.mp4", "cenc";
    shaka_cbcs_odd_gop: "odd_gop.mp4", "cbcs";
}

/// The HTTP server and ffmpeg's HLS AES-128 path, on an fMP4 HLS stream
/// made the way castguard is specified to make it, by other tools: ffmpeg
/// writes clear fMP4 HLS (media sequence from 1), `openssl aes-128-cbc`
/// encrypts each whole segment with IV = its media sequence number, and the
/// playlist gets `EXT-X-KEY` after `EXT-X-MAP` (so init.mp4 stays clear).
/// ffmpeg 5.1 cannot write encrypted fMP4 HLS itself ("Encrypted fmp4 not yet
/// supported").
#[test]
fn openssl_hls_aes128_over_http() {
    use std::process::Command;
    let input = fixture("h264_aac_nob.mp4");
    let tmp = TempDir::new("sslhls");
    let dir = tmp.join("hls");
    std::fs::create_dir_all(&dir).unwrap();
    let o = run(Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&input)
        .args([
            "-map",
            "0:v",
            "-c",
            "copy",
            "-f",
            "hls",
            "-hls_time",
            "4",
            "-hls_playlist_type",
            "vod",
        ])
        .args([
            "-hls_segment_type",
            "fmp4",
            "-hls_fmp4_init_filename",
            "init.mp4",
            "-start_number",
            "1",
        ])
        .arg("-hls_segment_filename")
        .arg(dir.join("%d.m4s"))
        .arg(dir.join("playlist.m3u8")));
    assert_ok("ffmpeg hls", &o);
    let segs = segments(&dir);
    assert!(segs.len() >= 2);
    for (i, seg) in segs.iter().enumerate() {
        let enc = seg.with_extension("enc");
        let o = run(Command::new("openssl")
            .args(["aes-128-cbc", "-e", "-K", KEY1, "-iv"])
            .arg(format!("{:032x}", i + 1))
            .arg("-in")
            .arg(seg)
            .arg("-out")
            .arg(&enc));
        assert_ok("openssl", &o);
        std::fs::rename(&enc, seg).unwrap();
    }
    let key: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&KEY1[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    std::fs::create_dir_all(tmp.join("hls/keys")).unwrap();
    std::fs::write(dir.join(format!("keys/{KID1}.key")), &key).unwrap();
    let pl = std::fs::read_to_string(dir.join("playlist.m3u8")).unwrap();
    assert!(pl.contains("#EXT-X-MEDIA-SEQUENCE:1"), "{pl}");
    let pl = pl.replace(
        "#EXT-X-MAP:URI=\"init.mp4\"\n",
        &format!(
            "#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-KEY:METHOD=AES-128,URI=\"keys/{KID1}.key\"\n"
        ),
    );
    assert!(pl.contains("EXT-X-KEY"), "{pl}");
    std::fs::write(dir.join("playlist.m3u8"), pl).unwrap();

    let server = HttpServer::serve(&dir);
    let got = hls_hashes(&server.url("playlist.m3u8"), Media::Video).expect("play hls");
    assert_hashes_eq(
        &got,
        &clear_hashes(&input, Media::Video),
        "openssl hls aes-128",
    );
    assert!(
        server
            .requests
            .lock()
            .unwrap()
            .iter()
            .any(|p| p.ends_with(".key"))
    );
    drop(server);

    // Key missing: 404 for the key must not play the clear frames.
    std::fs::remove_file(dir.join(format!("keys/{KID1}.key"))).unwrap();
    let server = HttpServer::serve(&dir);
    let got = hls_hashes(&server.url("playlist.m3u8"), Media::Video);
    assert_ne!(
        got,
        Ok(clear_hashes(&input, Media::Video)),
        "played without its key"
    );
}
