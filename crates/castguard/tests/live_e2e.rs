//! Live end to end: `castguard serve` on a free 127.0.0.1 port, a live
//! event with an output recording into an asset (made with the management
//! CLI), and ffmpeg `-re` pushing a 60 s synthetic stream (testsrc2 + sine,
//! libx264 with 2 s GOPs, AAC) over CMAF ingest, one chunked POST, while
//! its `tee` muxer keeps a local copy of exactly what was pushed. While
//! it runs:
//! - the live MPD is `type="dynamic"` with `availabilityStartTime`,
//!   `UTCTiming` and a growing `SegmentTimeline`, and the HLS media
//!   playlist grows with `EXT-X-PROGRAM-DATE-TIME` and no `EXT-X-ENDLIST`;
//! - shaka-player in headless Chromium plays the DASH `cenc` locator with
//!   the entitled token (Clear Key license from our key delivery), the
//!   playhead advancing at wall-clock speed near the live edge, and gets
//!   nothing with the outsider token;
//! - segment arrival to first byte served is measured (the MPD's
//!   `publishTime` is the arrival of the newest segment; the test polls it
//!   and fetches that segment at once) and printed;
//! - bad pushes are refused as DASH-IF ingest says (403 wrong token and
//!   nothing stored, 404 unknown or stopped event, 412, 413, 415, 400) and
//!   the event keeps serving what it had.
//!
//! After stop the MPD is static and the playlists end; ffmpeg decrypts the
//! archive (init + segments from the `cenc` locator, `-decryption_key`) to
//! exactly the frames and packets of the tee copy (and a wrong key does
//! not), and a locator made after the event plays it as VOD.
//!
//! Needs ffmpeg, chromium and node_modules (scripts/install-test-tools.sh);
//! fails, never skips, when they are missing.

mod api_server;
mod common;

use api_server::{Server, TOKEN, cli, data_dir, ok};
use common::live::{
    CMAF_MOVFLAGS, agent, assert_archive_is, assert_played_live, assert_refused, attr, boxed, extinf,
    ffmpeg_synthetic, get, get_text, locator_id, now_ms, play, post, setup_event, token, unix_ms,
    wait_for_live_mpd, wait_pushed,
};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The live event's access token (part of the ingest URL).
const ACCESS_TOKEN: &str = "live-e2e-access-token-5f0c1d2e3b4a";
/// Seconds ffmpeg pushes.
const PUSH_SECS: u32 = 60;

#[test]
fn cmaf_ingest_serves_live_then_vod() {
    let chromium = common::chromium(&["shaka-player", "playwright-core"]);
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&data_dir(&tmp), Some(TOKEN));
    let base = server.url.clone();
    let run = |args: &[&str]| ok(&cli(&base, TOKEN, args));

    let setup = setup_event(&run, "stage", "concert", ACCESS_TOKEN, &[]);
    let (live_id, preview_id, ingest) = (setup.live_id, setup.preview_id, setup.ingest);
    assert_eq!(ingest, format!("{base}/ingest/stage/{ACCESS_TOKEN}"));
    let asset_dir = data_dir(&tmp).join("assets/concert");

    // Before start: the event takes nothing.
    let ftyp = boxed(b"ftyp", b"iso6\0\0\0\0iso6cmfc");
    assert_eq!(
        post(&format!("{ingest}/Streams(av)"), &ftyp).0,
        404,
        "stopped event"
    );
    assert_eq!(
        post(
            &format!("{base}/ingest/nosuch/{ACCESS_TOKEN}/Streams(av)"),
            &ftyp
        )
        .0,
        404,
        "unknown event"
    );
    run(&["live", "start", "stage"]);
    run(&["live", "start", "stage"]); // idempotent
    let wrong = format!("{base}/ingest/stage/live-e2e-wrong-token-0000000000/Streams(av)");
    assert_eq!(post(&wrong, &ftyp).0, 403, "wrong token");
    assert!(!asset_dir.exists(), "a refused push stored something");

    // ffmpeg pushes; its tee muxer keeps what it pushed.
    let copy = tmp.path().join("pushed.mp4");
    let ffmpeg = ffmpeg_synthetic(PUSH_SECS)
        .args(["-f", "tee"])
        .arg(format!(
            "[f=mp4:{CMAF_MOVFLAGS}]{ingest}/Streams(av)|[f=mp4:{CMAF_MOVFLAGS}]{}",
            copy.display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ffmpeg");
    let pushed_at = Instant::now();

    let preview = format!("{base}/s/{preview_id}/clear");
    let video_playlist = format!("{preview}/video_1/playlist.m3u8");
    // The first segments arrive: a live manifest.
    let mpd = wait_for_live_mpd(&format!("{preview}/manifest.mpd"), pushed_at);
    assert_eq!(attr(&mpd, "type"), Some("dynamic"));
    for a in [
        "availabilityStartTime",
        "publishTime",
        "minimumUpdatePeriod",
        "timeShiftBufferDepth",
    ] {
        assert!(attr(&mpd, a).is_some(), "MPD without {a}");
    }
    assert!(
        attr(&mpd, "mediaPresentationDuration").is_none(),
        "a live MPD has no duration"
    );
    assert!(
        mpd.contains(&format!("value=\"{base}/time\"")),
        "UTCTiming at our clock: {mpd}"
    );
    let clock = get_text(&format!("{base}/time"));
    assert!(
        (unix_ms(clock.trim()) - now_ms()).abs() < 2000,
        "/time says {clock}"
    );

    // Players, while the push goes on: the entitled viewer and the outsider.
    let mpd_url = format!("{base}/s/{live_id}/cenc/manifest.mpd");
    let license = format!("{base}/keys/v1/clearkey");
    let entitled = play(
        &chromium,
        &mpd_url,
        Some(&license),
        token("EntitledUsers"),
        "10",
        false,
    );
    let outsider = play(
        &chromium,
        &mpd_url,
        Some(&license),
        token("Outsiders"),
        "3",
        false,
    );

    // The HLS playlist grows and stays live.
    let first = get_text(&video_playlist);
    assert!(
        !first.contains("#EXT-X-ENDLIST") && !first.contains("#EXT-X-PLAYLIST-TYPE"),
        "{first}"
    );
    assert!(
        first.contains("#EXT-X-PROGRAM-DATE-TIME:") && first.contains("#EXT-X-MEDIA-SEQUENCE:1"),
        "{first}"
    );

    // Arrival to first byte served: poll the MPD's publishTime and fetch
    // the newest video segment of the cenc locator the moment it changes.
    let mut latencies = Vec::new();
    let mut last_publish = attr(&mpd, "publishTime").unwrap().to_owned();
    let measure_until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < measure_until {
        let m = get_text(&format!("{base}/s/{live_id}/cenc/manifest.mpd"));
        let publish = attr(&m, "publishTime").unwrap().to_owned();
        if publish != last_publish {
            let playlist = get_text(&format!("{base}/s/{live_id}/cenc/video_1/playlist.m3u8"));
            let newest = playlist
                .lines()
                .rev()
                .find(|l| l.ends_with(".m4s"))
                .unwrap()
                .to_owned();
            let r = agent()
                .get(&format!("{base}/s/{live_id}/cenc/video_1/{newest}"))
                .call()
                .unwrap();
            let first_byte = now_ms();
            assert_eq!(r.status(), 200);
            latencies.push(first_byte - unix_ms(&publish));
            last_publish = publish;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    latencies.sort_unstable();
    eprintln!(
        "LIVE LATENCY segment arrival -> first byte served (ms, 20 ms polling included): {latencies:?}"
    );
    assert!(
        latencies.len() >= 2,
        "no new segment in 8 s of push: {latencies:?}"
    );
    // Servable before the next segment arrives (one segment duration, 2 s):
    // a bound for a loaded CI machine (1.1 s seen there, 0.1-0.3 s
    // typical); the figure itself goes to the note, measured in this run.
    assert!(
        *latencies.last().unwrap() < 2000,
        "a segment took over one segment duration from arrival to first byte: {latencies:?}"
    );

    // Bad pushes on other streams while live: refused, nothing changes.
    let index_before = std::fs::read_to_string(asset_dir.join("index.json")).unwrap();
    let bindings = |index: &str| {
        serde_json::from_str::<serde_json::Value>(index).unwrap()["live"]["bindings"].clone()
    };
    let bad = |stream: &str, body: &[u8]| post(&format!("{ingest}/{stream}"), body);
    assert_eq!(
        bad("Streams(junk)", b"this is not an mp4 stream at all").0,
        415,
        "garbage"
    );
    assert_eq!(
        bad("Streams(junk)", &boxed(b"moof", &[0; 16])).0,
        412,
        "fragment before header"
    );
    let huge = [0x06, 0x40, 0, 0, b'f', b'r', b'e', b'e'];
    assert_eq!(bad("Streams(junk)", &huge).0, 413, "a 100 MiB box");
    let broken = [ftyp.clone(), boxed(b"moov", &[0xde; 24])].concat();
    let (status, body) = bad("Streams(junk)", &broken);
    assert_eq!(status, 400, "a moov that does not parse: {body}");
    assert_eq!(post(&wrong, &ftyp).0, 403, "wrong token while running");
    let index_after = std::fs::read_to_string(asset_dir.join("index.json")).unwrap();
    assert_eq!(
        bindings(&index_after),
        bindings(&index_before),
        "a refused push changed the recording"
    );

    let later = get_text(&video_playlist);
    assert!(
        extinf(&later) > extinf(&first),
        "the playlist did not grow:\n{first}\n{later}"
    );
    assert!(!later.contains("#EXT-X-ENDLIST"));

    // The players.
    let r = assert_played_live(entitled, "LIVE PLAYER (DASH cenc)");
    let latency = r["latency"].as_f64().unwrap();
    assert!(
        (0.0..=8.0).contains(&latency),
        "live latency {latency} s: over 4 segments of 2 s: {r}"
    );
    assert_refused(outsider);

    // The push ends; the event keeps serving until it is stopped.
    wait_pushed(ffmpeg, "ffmpeg push");
    let ended = get_text(&video_playlist);
    assert!(
        !ended.contains("#EXT-X-ENDLIST"),
        "still live until stopped"
    );
    run(&["live", "stop", "stage"]);
    run(&["live", "stop", "stage"]); // idempotent
    assert_eq!(
        post(&format!("{ingest}/Streams(av)"), &ftyp).0,
        404,
        "stopped event"
    );
    let mpd = get_text(&format!("{preview}/manifest.mpd"));
    assert_eq!(attr(&mpd, "type"), Some("static"), "{mpd}");
    assert!(attr(&mpd, "mediaPresentationDuration").is_some());
    let vod = get_text(&video_playlist);
    assert!(
        vod.contains("#EXT-X-ENDLIST") && vod.contains("#EXT-X-PLAYLIST-TYPE:VOD"),
        "{vod}"
    );
    assert!(extinf(&vod) >= (PUSH_SECS / 2) as usize, "{vod}");

    // The archive, decrypted by ffmpeg, is exactly what was pushed.
    let (video, audio) = assert_archive_is(&base, &live_id, &tmp.path().join("got"), &copy);
    eprintln!(
        "LIVE ARCHIVE: {} video frames, {} audio packets as pushed",
        video, audio
    );

    // A locator made after the event plays the archive as VOD.
    run(&[
        "locator",
        "create",
        "replay",
        "--asset",
        "concert",
        "--streaming-policy",
        "Predefined_ClearStreamingOnly",
    ]);
    let replay = common::hls_hashes(
        &format!("{base}/s/{}/clear/master.m3u8", locator_id(&run, "replay")),
        common::Media::Video,
    )
    .unwrap();
    common::assert_hashes_eq(
        &replay,
        &common::file_hashes(&copy, common::Media::Video).unwrap(),
        "replay of the archive",
    );

    // Delete is idempotent and leaves the asset.
    run(&["live", "delete", "stage"]);
    run(&["live", "delete", "stage"]);
    assert_eq!(
        get(&format!("{preview}/manifest.mpd")).0,
        200,
        "the asset outlives its event"
    );
    // The access tokens (right and wrong) never reached the log, which
    // holds debug request lines with paths.
    let log = server.log();
    assert!(
        log.contains("/ingest/stage/***/"),
        "no redacted ingest path in the debug log"
    );
    for secret in [ACCESS_TOKEN, "live-e2e-wrong-token-0000000000"] {
        assert!(!log.contains(secret), "an ingest token in the server log");
    }
    assert!(server.stop().success());
}
