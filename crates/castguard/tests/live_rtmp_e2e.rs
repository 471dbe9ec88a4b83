//! RTMP ingest end to end: `castguard serve --rtmp-listen 127.0.0.1:0`, a
//! live event with `streamingProtocol: RTMP` (its endpoints show the
//! `rtmp://` server URL) and an output recording into an asset, and ffmpeg
//! `-re` pushing a 60 s synthetic stream (testsrc2 + sine, libx264 with 2 s
//! GOPs, AAC) as FLV over RTMP, as OBS does, while its `tee` muxer keeps a
//! local FLV copy of exactly what was pushed. While it runs:
//! - the live MPD of the asset is `type="dynamic"` and grows, the HLS media
//!   playlist stays live;
//! - shaka-player in headless Chromium plays the DASH `cenc` locator with
//!   the entitled token (Clear Key license from our key delivery), the
//!   playhead advancing at wall-clock speed;
//! - garbage sent to the RTMP port closes that connection and changes
//!   nothing.
//!
//! Refused before the push, each storing nothing: a wrong stream key, an
//! unknown event, an event not running, and CMAF over HTTP to an RTMP
//! event. After `live stop` ffmpeg decrypts the archive (init + segments
//! from the `cenc` locator) to exactly the decoded video frames and the
//! audio packets of the tee copy, and a wrong key does not; started again,
//! a new push with timestamps from 0 (an encoder reconnecting, as OBS
//! does) continues the recording after a gap.
//!
//! Needs ffmpeg, chromium and node_modules (scripts/install-test-tools.sh);
//! fails, never skips, when they are missing.

mod api_server;
mod common;

use api_server::{Server, TOKEN, cli, data_dir, ok};
use common::live::{
    assert_archive_is, assert_played_live, assert_refused, attr, boxed, extinf, ffmpeg_synthetic,
    get_text, play, post, setup_event, token, wait_for_live_mpd, wait_pushed,
};
use std::io::{Read as _, Write as _};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The live event's access token: the RTMP stream key.
const ACCESS_TOKEN: &str = "rtmp-e2e-access-token-7a1b2c3d4e5f";
const WRONG_TOKEN: &str = "rtmp-e2e-wrong-token-000000000000";
/// Seconds ffmpeg pushes.
const PUSH_SECS: u32 = 60;

/// ffmpeg pushing `secs` seconds of the synthetic source to `url` at real
/// time: its exit status, and the seconds it took.
fn short_push(url: &str, secs: u32) -> (bool, f64) {
    let started = Instant::now();
    let out = ffmpeg_synthetic(secs)
        .args(["-f", "flv", url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run ffmpeg");
    (out.status.success(), started.elapsed().as_secs_f64())
}

#[test]
fn rtmp_push_serves_live_then_vod() {
    let chromium = common::chromium(&["shaka-player", "playwright-core"]);
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &data_dir(&tmp),
        Some(TOKEN),
        &["--no-demo", "--rtmp-listen", "127.0.0.1:0"],
        &[],
    );
    let base = server.url.clone();
    let run = |args: &[&str]| ok(&cli(&base, TOKEN, args));

    let setup = setup_event(
        &run,
        "stage",
        "concert",
        ACCESS_TOKEN,
        &["--protocol", "RTMP"],
    );
    let (live_id, preview_id, server_url) = (setup.live_id, setup.preview_id, setup.ingest);
    // OBS's "Server" field, then the whole URL ffmpeg takes.
    assert!(
        server_url.starts_with("rtmp://127.0.0.1:") && server_url.ends_with("/live/stage"),
        "{server_url}"
    );
    let event: serde_json::Value =
        serde_json::from_str(&run(&["live", "get", "stage", "--json"])).unwrap();
    let push_url = format!("{server_url}/{ACCESS_TOKEN}");
    assert_eq!(event["input"]["streamingProtocol"], "RTMP");
    assert_eq!(event["input"]["endpoints"][1]["url"], push_url.as_str());
    let port: u16 = server_url
        .trim_start_matches("rtmp://127.0.0.1:")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let asset_dir = data_dir(&tmp).join("assets/concert");

    // Refused: not running yet, then a wrong key, an unknown event, and
    // CMAF over HTTP to an RTMP event. ffmpeg fails at once each time.
    let refused = |url: &str, what: &str| {
        let (success, secs) = short_push(url, 1);
        assert!(!success, "{what}: ffmpeg's push was taken");
        assert!(secs < 10.0, "{what}: refused only after {secs} s");
        assert!(
            !asset_dir.exists(),
            "{what}: a refused push stored something"
        );
    };
    refused(&push_url, "event not running");
    run(&["live", "start", "stage"]);
    refused(&format!("{server_url}/{WRONG_TOKEN}"), "wrong stream key");
    refused(
        &format!("rtmp://127.0.0.1:{port}/live/nosuch/{ACCESS_TOKEN}"),
        "unknown event",
    );
    refused(
        &format!("rtmp://127.0.0.1:{port}/other/stage/{ACCESS_TOKEN}"),
        "another app",
    );
    let ftyp = boxed(b"ftyp", b"iso6\0\0\0\0iso6cmfc");
    assert_eq!(
        post(
            &format!("{base}/ingest/stage/{ACCESS_TOKEN}/Streams(av)"),
            &ftyp
        )
        .0,
        404,
        "CMAF over HTTP to an RTMP event"
    );
    assert!(!asset_dir.exists());

    // ffmpeg pushes over RTMP; its tee muxer keeps what it pushed.
    let copy = tmp.path().join("pushed.flv");
    let ffmpeg = ffmpeg_synthetic(PUSH_SECS)
        .args(["-f", "tee"])
        .arg(format!("[f=flv]{push_url}|[f=flv]{}", copy.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ffmpeg");
    let pushed_at = Instant::now();

    let preview = format!("{base}/s/{preview_id}/clear");
    let video_playlist = format!("{preview}/video_1/playlist.m3u8");
    let mpd = wait_for_live_mpd(&format!("{preview}/manifest.mpd"), pushed_at);
    assert_eq!(attr(&mpd, "type"), Some("dynamic"));
    assert!(attr(&mpd, "availabilityStartTime").is_some());
    assert!(
        mpd.contains("codecs=\"avc1.") && mpd.contains("codecs=\"mp4a.40.2\""),
        "{mpd}"
    );
    assert!(
        mpd.contains("width=\"640\"") && mpd.contains("height=\"360\""),
        "{mpd}"
    );

    let mpd_url = format!("{base}/s/{live_id}/cenc/manifest.mpd");
    let license = format!("{base}/keys/v1/clearkey");
    let entitled = play(&chromium, &mpd_url, Some(&license), token("EntitledUsers"), "10", false);
    let outsider = play(&chromium, &mpd_url, Some(&license), token("Outsiders"), "3", false);

    let first = get_text(&video_playlist);
    assert!(!first.contains("#EXT-X-ENDLIST"), "{first}");

    // Garbage on the RTMP port: that connection closes, the push goes on.
    let mut junk = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    junk.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let _ = junk.write_all(&[0x42; 4096]);
    let mut sink = [0u8; 8192];
    let closed = loop {
        match junk.read(&mut sink) {
            Ok(0) => break true,
            Ok(_) => continue,
            Err(e) => {
                break e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::TimedOut;
            }
        }
    };
    assert!(closed, "a garbage connection stayed open");

    assert_played_live(entitled, "RTMP LIVE PLAYER (DASH cenc)");
    assert_refused(outsider);
    let later = get_text(&video_playlist);
    assert!(
        extinf(&later) > extinf(&first),
        "the playlist did not grow:\n{first}\n{later}"
    );

    // The push ends; its last GOP is stored when ffmpeg unpublishes.
    wait_pushed(ffmpeg, "ffmpeg push");
    let whole = (PUSH_SECS / 2) as usize;
    let deadline = Instant::now() + Duration::from_secs(10);
    while extinf(&get_text(&video_playlist)) < whole && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let ended = get_text(&video_playlist);
    assert_eq!(extinf(&ended), whole, "{ended}");
    assert!(
        !ended.contains("#EXT-X-ENDLIST"),
        "still live until stopped"
    );
    run(&["live", "stop", "stage"]);
    let mpd = get_text(&format!("{preview}/manifest.mpd"));
    assert_eq!(attr(&mpd, "type"), Some("static"), "{mpd}");
    let vod = get_text(&video_playlist);
    assert!(vod.contains("#EXT-X-ENDLIST"), "{vod}");

    // The archive, decrypted by ffmpeg, is exactly what was pushed.
    let (frames, packets) = assert_archive_is(&base, &live_id, &tmp.path().join("got"), &copy);
    eprintln!("RTMP LIVE ARCHIVE: {frames} video frames, {packets} audio packets as pushed");
    assert_eq!(frames, (PUSH_SECS * 25) as usize);

    // After stop the event takes no push.
    let (success, _) = short_push(&push_url, 1);
    assert!(!success, "a stopped event took a push");

    // Started again, the encoder reconnects with timestamps from 0 (as OBS
    // does): the recording continues after a gap instead of refusing it.
    run(&["live", "start", "stage"]);
    let (success, _) = short_push(&push_url, 4);
    assert!(success, "a reconnecting push was refused");
    // Two GOPs, the last stored when ffmpeg unpublishes.
    let deadline = Instant::now() + Duration::from_secs(10);
    while extinf(&get_text(&video_playlist)) < whole + 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let resumed = get_text(&video_playlist);
    assert_eq!(extinf(&resumed), whole + 2, "{resumed}");
    assert!(
        resumed.matches("#EXT-X-PROGRAM-DATE-TIME:").count() >= 2,
        "no gap shown after the reconnect: {resumed}"
    );
    run(&["live", "stop", "stage"]);

    let log = server.log();
    assert!(
        log.contains("RTMP connection closed") && log.contains("not RTMP"),
        "no log line for the garbage connection"
    );
    assert!(
        log.contains("event=stage") && log.contains("wrong access token"),
        "no log line naming the event for the wrong key"
    );
    for secret in [ACCESS_TOKEN, WRONG_TOKEN] {
        assert!(!log.contains(secret), "a stream key in the server log");
    }
    assert!(server.stop().success());
}
