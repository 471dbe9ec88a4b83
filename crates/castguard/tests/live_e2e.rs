//! Live end to end: `castguard serve` on a free 127.0.0.1 port, a live
//! event with an output recording into an asset (made with the management
//! CLI), and ffmpeg `-re` pushing a 30 s synthetic stream (testsrc2 + sine,
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
use base64::Engine as _;
use common::{Media, assert_hashes_eq, file_hashes, track_hashes};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// The live event's access token (part of the ingest URL).
const ACCESS_TOKEN: &str = "live-e2e-access-token-5f0c1d2e3b4a";
/// HMAC key of the viewers' token policy.
const HMAC_KEY: &[u8] = b"live-e2e-hmac-key-0123456789abcdef";
const ISSUER: &str = "https://sts.live-e2e.example";
const AUDIENCE: &str = "castguard-live";
/// Seconds ffmpeg pushes.
const PUSH_SECS: u32 = 30;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// Status and body of a GET.
fn get(url: &str) -> (u16, Vec<u8>) {
    let mut r = agent()
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let body = r
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap_or_default();
    (r.status().as_u16(), body)
}

fn get_text(url: &str) -> String {
    let (status, body) = get(url);
    assert_eq!(status, 200, "GET {url}: {}", String::from_utf8_lossy(&body));
    String::from_utf8(body).expect("text")
}

/// Status and body of a POST of `body`.
fn post(url: &str, body: &[u8]) -> (u16, String) {
    let mut r = agent()
        .post(url)
        .send(body)
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    (
        r.status().as_u16(),
        r.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// A JWT from pyjwt (a library we did not write) for a user in `group`.
fn token(group: &str) -> String {
    let exp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let out = Command::new(common::python())
        .args([
            "-c",
            "import jwt,sys; print(jwt.encode({'iss': sys.argv[1], 'aud': sys.argv[2], 'exp': int(sys.argv[3]), \
             'groups': [sys.argv[5]]}, sys.argv[4].encode(), algorithm='HS256'))",
            ISSUER,
            AUDIENCE,
            &exp.to_string(),
            std::str::from_utf8(HMAC_KEY).unwrap(),
            group,
        ])
        .output()
        .expect("run python");
    common::assert_ok("pyjwt", &out);
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// An ISO 8601 UTC time as the MPD writes it (`2026-12-05T10:00:00.123Z`),
/// in Unix milliseconds.
fn unix_ms(iso: &str) -> i64 {
    let t = time::OffsetDateTime::parse(iso, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{iso}: {e}"));
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap()
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// The value of `name="..."` in `xml`.
fn attr<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let at = xml.find(&format!(" {name}=\""))? + name.len() + 3;
    xml[at..].split('"').next()
}

/// Segment count of an HLS media playlist.
fn extinf(playlist: &str) -> usize {
    playlist.matches("#EXTINF:").count()
}

/// A box of `kind` around `body`.
fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = u32::try_from(body.len() + 8)
        .unwrap()
        .to_be_bytes()
        .to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(body);
    b
}

/// Downloads the init segment and every segment the playlist lists of one
/// track into `dir` as `init.mp4`, `1.m4s`, ...
fn download_track(base: &str, playlist_url: &str, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let playlist = get_text(playlist_url);
    let folder = playlist_url.rsplit_once('/').unwrap().0;
    std::fs::write(
        dir.join("init.mp4"),
        common::http_get(&format!("{folder}/init.mp4")),
    )
    .unwrap();
    let names: Vec<&str> = playlist.lines().filter(|l| l.ends_with(".m4s")).collect();
    assert!(!names.is_empty(), "{base}: no segments in {playlist}");
    for (i, name) in names.iter().enumerate() {
        assert_eq!(
            *name,
            format!("{}.m4s", i + 1),
            "the archive numbers segments from 1 without gaps"
        );
        std::fs::write(
            dir.join(name),
            common::http_get(&format!("{folder}/{name}")),
        )
        .unwrap();
    }
}

#[test]
fn cmaf_ingest_serves_live_then_vod() {
    let chromium = common::chromium(&["shaka-player", "playwright-core"]);
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&data_dir(&tmp), Some(TOKEN));
    let base = server.url.clone();
    let run = |args: &[&str]| ok(&cli(&base, TOKEN, args));

    run(&["asset", "create", "concert"]);
    run(&["live", "create", "stage", "--access-token", ACCESS_TOKEN]);
    run(&[
        "live",
        "output",
        "create",
        "stage",
        "rec",
        "--asset",
        "concert",
        "--archive-window",
        "PT1H",
    ]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(HMAC_KEY);
    run(&[
        "policy",
        "create",
        "viewers",
        "--issuer",
        ISSUER,
        "--audience",
        AUDIENCE,
        "--symmetric-key",
        &b64,
        "--required-claim",
        "groups=EntitledUsers",
    ]);
    run(&[
        "key",
        "create",
        "ck",
        "--type",
        "common",
        "--kid",
        common::KID1,
        "--value",
        common::KEY1,
        "--policy",
        "viewers",
    ]);
    run(&[
        "locator",
        "create",
        "live",
        "--asset",
        "concert",
        "--streaming-policy",
        "Predefined_MultiDrmCencStreaming",
        "--key",
        "ck",
    ]);
    run(&[
        "locator",
        "create",
        "preview",
        "--asset",
        "concert",
        "--streaming-policy",
        "Predefined_ClearStreamingOnly",
    ]);
    let id = |name: &str| -> String {
        let v: Value = serde_json::from_str(&run(&["locator", "get", name, "--json"])).unwrap();
        v["streamingLocatorId"].as_str().unwrap().to_string()
    };
    let (live_id, preview_id) = (id("live"), id("preview"));
    let event: Value = serde_json::from_str(&run(&["live", "get", "stage", "--json"])).unwrap();
    let ingest = event["input"]["endpoints"][0]["url"]
        .as_str()
        .expect("an ingest endpoint")
        .to_owned();
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
    let movflags = "movflags=empty_moov+separate_moof+default_base_moof+cmaf";
    let ffmpeg = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "warning", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &PUSH_SECS.to_string(), "-map", "0:v", "-map", "1:a"])
        .args([
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
        ])
        .args([
            "-c:a",
            "aac",
            "-b:a",
            "96k",
            "-flags",
            "+global_header",
            "-f",
            "tee",
        ])
        .arg(format!(
            "[f=mp4:{movflags}]{ingest}/Streams(av)|[f=mp4:{movflags}]{}",
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
    let mut mpd = String::new();
    while pushed_at.elapsed() < Duration::from_secs(15) {
        let (status, body) = get(&format!("{preview}/manifest.mpd"));
        if status == 200 && String::from_utf8_lossy(&body).matches("<S ").count() >= 2 {
            mpd = String::from_utf8(body).unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!mpd.is_empty(), "no live MPD 15 s into the push");
    eprintln!("live MPD after {:?}:\n{mpd}", pushed_at.elapsed());
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
    let play = |token: String, watch: &str| {
        let args: Vec<std::ffi::OsString> = [
            "--url",
            &mpd_url,
            "--clearkey-license",
            &format!("{base}/keys/v1/clearkey"),
            "--token",
            &token,
            "--watch",
            watch,
            "--chromium",
            &chromium,
        ]
        .iter()
        .map(|s| s.into())
        .collect();
        std::thread::spawn(move || common::node_script("live.mjs", &args))
    };
    let entitled = play(token("EntitledUsers"), "10");
    let outsider = play(token("Outsiders"), "3");

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
    let bindings =
        |index: &str| serde_json::from_str::<Value>(index).unwrap()["live"]["bindings"].clone();
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
    let (out, results) = entitled.join().unwrap();
    let r = results
        .last()
        .unwrap_or_else(|| panic!("live.mjs printed nothing: {out:?}"));
    eprintln!(
        "LIVE PLAYER entitled: rate {} latency {} s (shaka {}) over {} s; at load {}, start-up {} s, latency at start {} s",
        r["rate"], r["latency"], r["shakaLatency"], r["watched"], r["edgeAtLoad"], r["startupSecs"], r["latencyAtStart"]
    );
    assert!(
        out.status.success() && r["played"] == true && r["isLive"] == true,
        "entitled: {r}"
    );
    let rate = r["rate"].as_f64().unwrap();
    assert!(
        (0.85..=1.15).contains(&rate),
        "playhead at {rate}x wall clock: {r}"
    );
    let latency = r["latency"].as_f64().unwrap();
    assert!(
        (0.0..=8.0).contains(&latency),
        "live latency {latency} s: over 4 segments of 2 s: {r}"
    );
    let (out, results) = outsider.join().unwrap();
    let r = results
        .last()
        .unwrap_or_else(|| panic!("live.mjs printed nothing: {out:?}"));
    assert!(
        !out.status.success() && r["played"] == false,
        "outsider played: {r}"
    );

    // The push ends; the event keeps serving until it is stopped.
    let pushed = ffmpeg.wait_with_output().unwrap();
    assert!(
        pushed.status.success(),
        "ffmpeg push failed: {}",
        String::from_utf8_lossy(&pushed.stderr)
    );
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
    let got = tmp.path().join("got");
    for track in ["video_1", "audio_2"] {
        download_track(
            &base,
            &format!("{base}/s/{live_id}/cenc/{track}/playlist.m3u8"),
            &got.join(track),
        );
    }
    let want_video = file_hashes(&copy, Media::Video).unwrap();
    let want_audio = file_hashes(&copy, Media::Audio(0)).unwrap();
    let video = track_hashes(&got.join("video_1"), Some(common::KEY1), Media::Video).unwrap();
    assert_hashes_eq(&video, &want_video, "live video, decrypted");
    let audio = track_hashes(&got.join("audio_2"), Some(common::KEY1), Media::Audio(0)).unwrap();
    assert_hashes_eq(&audio, &want_audio, "live audio, decrypted");
    let wrong_key = "ffeeddccbbaa99887766554433221100";
    assert_ne!(
        track_hashes(&got.join("video_1"), Some(wrong_key), Media::Video).ok(),
        Some(want_video.clone()),
        "a wrong key decrypts"
    );
    eprintln!(
        "LIVE ARCHIVE: {} video frames, {} audio packets as pushed",
        video.len(),
        audio.len()
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
        &format!("{base}/s/{}/clear/master.m3u8", id("replay")),
        Media::Video,
    )
    .unwrap();
    assert_hashes_eq(&replay, &want_video, "replay of the archive");

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
    assert!(log.contains("/ingest/stage/***/"), "no redacted ingest path in the debug log");
    for secret in [ACCESS_TOKEN, "live-e2e-wrong-token-0000000000"] {
        assert!(!log.contains(secret), "an ingest token in the server log");
    }
    assert!(server.stop().success());
}
