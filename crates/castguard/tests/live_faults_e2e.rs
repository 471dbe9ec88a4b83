//! Live ingest faults end to end (issue 18): `castguard serve`, a live
//! event with basic auth on its ingest, and ffmpeg `-re` pushing a 10 s
//! CMAF source (made once, so every frame pushed is known) three times,
//! each push a new connection whose timestamps start at 0 again:
//!
//! 1. push 1 whole, then a real 3 s pause;
//! 2. push 2, and `kill -9` of the server halfway through: every segment
//!    the index named before the kill is there, byte for byte, after it;
//! 3. the server restarts on the same data (the event is still running by
//!    the store), a half-written temporary file is cleaned up, and push 3
//!    continues the recording.
//!
//! The recording numbers its segments 1, 2, 3... without a repeat; its
//! timeline has two gaps of real time (DASH `S@t` jumps; HLS
//! `EXT-X-DISCONTINUITY` and `EXT-X-PROGRAM-DATE-TIME`); after stop, ffmpeg
//! decrypts the archive to exactly the source's frames and packets, three
//! times over, the middle one cut where the kill came.
//!
//! Also: basic auth (401 with `WWW-Authenticate` without or with wrong
//! credentials, the password never in a GET), and `--live-max-fragment`
//! (a fragment over it is 413 and nothing of it is stored).
//!
//! Needs ffmpeg (scripts/install-test-tools.sh); fails when missing.

mod api_server;
mod common;

use api_server::{Server, TOKEN, cli, data_dir, ok};
use common::live::{
    CMAF_MOVFLAGS, agent, download_track, get_text, make_source, post, push_file, setup_event,
    wait_pushed,
};
use common::{Media, file_hashes, track_hashes};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const ACCESS_TOKEN: &str = "live-faults-access-token-7c41a9e0d2";
const INGEST_USER: &str = "encoder";
const INGEST_PASSWORD: &str = "live-faults-ingest-pw-3e9b";
/// Seconds of the source each push sends.
const SOURCE_SECS: u32 = 10;

/// Status and `WWW-Authenticate` of a POST with optional basic credentials.
fn post_basic(url: &str, body: &[u8], auth: Option<(&str, &str)>) -> (u16, Option<String>) {
    use base64::Engine as _;
    let mut req = agent().post(url);
    if let Some((user, password)) = auth {
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        req = req.header("Authorization", &format!("Basic {b64}"));
    }
    let r = req.send(body).unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let challenge = r
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (r.status().as_u16(), challenge)
}

/// Sets basic auth on the event through the API (GET, add, PUT).
fn set_basic_auth(base: &str, event: &str) {
    let url = format!("{base}/api/v1/live-events/{event}");
    let mut r = agent()
        .get(&url)
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap();
    let mut ev: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    // The stored hash is the server's: a client's is refused by name.
    ev["input"]["basicAuth"] =
        serde_json::json!({"username": INGEST_USER, "passwordHash": "pbkdf2-sha256$1$AAAA$AAAA"});
    let mut r = agent()
        .put(&url)
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .header("Content-Type", "application/json")
        .send(ev.to_string().as_bytes())
        .unwrap();
    let body = r.body_mut().read_to_string().unwrap();
    assert_eq!(r.status().as_u16(), 400, "{body}");
    assert!(body.contains("input.basicAuth.passwordHash"), "{body}");
    ev["input"]["basicAuth"] =
        serde_json::json!({"username": INGEST_USER, "password": INGEST_PASSWORD});
    let mut r = agent()
        .put(&url)
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .header("Content-Type", "application/json")
        .send(ev.to_string().as_bytes())
        .unwrap();
    let body = r.body_mut().read_to_string().unwrap();
    assert_eq!(r.status().as_u16(), 200, "{body}");
    assert!(
        !body.contains(INGEST_PASSWORD) && !body.contains("pbkdf2"),
        "the password shows: {body}"
    );
}

/// ffmpeg pushing `source` at real time with basic credentials.
fn push(source: &Path, url: &str) -> Child {
    let with_creds = url.replacen(
        "http://",
        &format!("http://{INGEST_USER}:{INGEST_PASSWORD}@"),
        1,
    );
    push_file(source, &with_creds, &["-auth_type", "basic"])
}

fn index(asset_dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(asset_dir.join("index.json")).unwrap()).unwrap()
}

/// `(track name, first segment, [start, duration]...)` of each track.
type Segments = Vec<(String, u64, Vec<[u64; 2]>)>;

fn tracks(index: &Value) -> Segments {
    index["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let segments = t["segments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| [s[0].as_u64().unwrap(), s[1].as_u64().unwrap()]);
            (
                t["name"].as_str().unwrap().to_owned(),
                t["firstSegment"].as_u64().unwrap_or(1),
                segments.collect(),
            )
        })
        .collect()
}

fn timescale(index: &Value, track: &str) -> f64 {
    let t = index["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == track)
        .unwrap();
    t["timescale"].as_f64().unwrap()
}

fn video_segments(asset_dir: &Path) -> usize {
    if !asset_dir.join("index.json").exists() {
        return 0;
    }
    tracks(&index(asset_dir))
        .iter()
        .find(|t| t.0 == "video_1")
        .map_or(0, |t| t.2.len())
}

#[test]
fn reconnects_and_a_killed_server_continue_one_timeline_and_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(&tmp);
    let server = Server::start(&data, Some(TOKEN));
    let base = server.url.clone();
    let run = |args: &[&str]| ok(&cli(&base, TOKEN, args));
    let setup = setup_event(&run, "stage", "concert", ACCESS_TOKEN, &[]);
    let (live_id, preview_id) = (setup.live_id, setup.preview_id);
    let asset_dir = data.join("assets/concert");
    set_basic_auth(&base, "stage");
    run(&["live", "start", "stage"]);

    // Basic auth: none or wrong is 401 with a challenge, nothing stored.
    let stream = |base: &str| format!("{base}/ingest/stage/{ACCESS_TOKEN}/Streams(av)");
    let ftyp = common::live::boxed(b"ftyp", b"iso6\0\0\0\0iso6cmfc");
    for auth in [
        None,
        Some((INGEST_USER, "not-the-password")),
        Some(("someone", INGEST_PASSWORD)),
    ] {
        let (status, challenge) = post_basic(&stream(&base), &ftyp, auth);
        assert_eq!(status, 401, "{auth:?}");
        assert!(
            challenge.is_some_and(|c| c.starts_with("Basic realm=")),
            "{auth:?}"
        );
    }
    assert_eq!(post(&stream(&base), &ftyp).0, 401);
    assert!(!asset_dir.exists(), "a refused push opened the recording");
    assert_eq!(
        post_basic(&stream(&base), &ftyp, Some((INGEST_USER, INGEST_PASSWORD))).0,
        200
    );

    // The source, made once: 10 s, 2 s GOPs.
    let source = tmp.path().join("source.mp4");
    make_source(&source, SOURCE_SECS);

    // Push 1, whole; then a real pause.
    wait_pushed(push(&source, &stream(&base)), "push 1");
    let after_push1 = video_segments(&asset_dir);
    assert!(after_push1 >= 4, "10 s of 2 s GOPs: {after_push1} segments");
    std::thread::sleep(Duration::from_secs(3));

    // Push 2, killed (the server) halfway.
    let mut push2 = push(&source, &stream(&base));
    let started = Instant::now();
    let counts = |asset_dir: &Path| {
        tracks(&index(asset_dir))
            .iter()
            .map(|t| t.2.len())
            .collect::<Vec<_>>()
    };
    let after_push1_all = counts(&asset_dir);
    // Both tracks have taken some of push 2 (video two segments).
    while video_segments(&asset_dir) < after_push1 + 2
        || counts(&asset_dir)
            .iter()
            .zip(&after_push1_all)
            .any(|(n, m)| n <= m)
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "push 2 stored nothing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // What the index names now: all of it must survive the kill.
    let named = tracks(&index(&asset_dir));
    let mut kept = Vec::new();
    for (name, first, segments) in &named {
        for n in *first..*first + segments.len() as u64 {
            let path = asset_dir.join(name).join(format!("{n}.m4s"));
            kept.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    server.kill();
    let _ = push2.kill();
    let _ = push2.wait();
    for (path, bytes) in &kept {
        assert!(
            std::fs::read(path).ok().as_ref() == Some(bytes),
            "{} lost or changed by the kill",
            path.display()
        );
    }
    // A temporary file a kill mid-write leaves.
    let leftover = asset_dir.join("video_1").join("99.part");
    std::fs::write(&leftover, b"half a segment").unwrap();

    // Restart on the same data: still running, still live, then push 3.
    let server = Server::start(&data, Some(TOKEN));
    let base = server.url.clone();
    let run = |args: &[&str]| ok(&cli(&base, TOKEN, args));
    let ev: Value = serde_json::from_str(&run(&["live", "get", "stage", "--json"])).unwrap();
    assert_eq!(ev["resourceState"], "Running");
    let mpd = get_text(&format!("{base}/s/{preview_id}/clear/manifest.mpd"));
    assert!(mpd.contains(r#"type="dynamic""#), "{mpd}");
    std::thread::sleep(Duration::from_secs(2));
    let before_push3 = video_segments(&asset_dir);
    assert!(before_push3 >= after_push1 + 2);
    wait_pushed(push(&source, &stream(&base)), "push 3 after the restart");
    assert!(
        !leftover.exists(),
        "the half-written file was not cleaned up"
    );
    for (path, bytes) in &kept {
        assert!(
            std::fs::read(path).ok().as_ref() == Some(bytes),
            "{} changed by the reconnection",
            path.display()
        );
    }

    // One timeline: numbered on, two gaps of real time, nothing backwards.
    let after = tracks(&index(&asset_dir));
    for (name, first, segments) in &after {
        assert_eq!(*first, 1, "{name}");
        let before = named.iter().find(|t| &t.0 == name).unwrap();
        assert_eq!(
            &segments[..before.2.len()],
            &before.2[..],
            "{name}: segments before the kill changed"
        );
        let ts = timescale(&index(&asset_dir), name);
        let gaps: Vec<f64> = segments
            .windows(2)
            .filter(|w| w[1][0] != w[0][0] + w[0][1])
            .map(|w| (w[1][0] - w[0][0] - w[0][1]) as f64 / ts)
            .collect();
        assert!(
            segments.windows(2).all(|w| w[1][0] >= w[0][0] + w[0][1]),
            "{name}: overlap"
        );
        eprintln!(
            "LIVE FAULTS {name}: {} segments, gaps (s) {gaps:?}",
            segments.len()
        );
        if name == "video_1" {
            assert_eq!(
                gaps.len(),
                2,
                "video_1: two reconnections, two gaps: {gaps:?}"
            );
            assert!(
                gaps[0] >= 2.0,
                "the 3 s pause (less the encoder's start) is a real gap: {gaps:?}"
            );
        }
    }
    let video = &after.iter().find(|t| t.0 == "video_1").unwrap().2;
    let mpd = get_text(&format!("{base}/s/{preview_id}/clear/manifest.mpd"));
    for w in video.windows(2).filter(|w| w[1][0] != w[0][0] + w[0][1]) {
        assert!(
            mpd.contains(&format!(r#"<S t="{}""#, w[1][0])),
            "no S@t at the gap to {}: {mpd}",
            w[1][0]
        );
    }
    let playlist = get_text(&format!("{base}/s/{live_id}/cenc/video_1/playlist.m3u8"));
    let lines: Vec<&str> = playlist.lines().collect();
    let discontinuities: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| **l == "#EXT-X-DISCONTINUITY")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(discontinuities.len(), 2, "{playlist}");
    for i in discontinuities {
        assert!(
            lines[i + 1].starts_with("#EXT-X-PROGRAM-DATE-TIME:"),
            "{playlist}"
        );
    }

    // The archive: the source three times, the middle one cut at the kill.
    run(&["live", "stop", "stage"]);
    let work = tmp.path().join("archive");
    for (track, media) in [("video_1", Media::Video), ("audio_2", Media::Audio(0))] {
        download_track(
            &format!("{base}/s/{live_id}/cenc/{track}/playlist.m3u8"),
            &work.join(track),
        );
        let got = track_hashes(&work.join(track), Some(common::KEY1), media).unwrap();
        let want = file_hashes(&source, media).unwrap();
        let cut = got
            .len()
            .checked_sub(2 * want.len())
            .unwrap_or_else(|| panic!("{track}: {} of {}", got.len(), want.len()));
        assert!(
            0 < cut && cut < want.len(),
            "{track}: {cut} of the middle push"
        );
        common::assert_hashes_eq(&got[..want.len()], &want, &format!("{track}, push 1"));
        common::assert_hashes_eq(
            &got[want.len()..want.len() + cut],
            &want[..cut],
            &format!("{track}, push 2 (killed)"),
        );
        common::assert_hashes_eq(&got[want.len() + cut..], &want, &format!("{track}, push 3"));
        eprintln!(
            "LIVE FAULTS archive {track}: {} = {} + {cut} + {}",
            got.len(),
            want.len(),
            want.len()
        );
    }
}

/// `--live-max-fragment`: a fragment over it is 413 and nothing of it is
/// stored; the header under it is taken.
#[test]
fn a_fragment_over_the_configured_limit_is_413_and_not_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(&tmp);
    let server = Server::start_with(
        &data,
        Some(TOKEN),
        &["--no-demo", "--live-max-fragment", "4096"],
        &[],
    );
    let base = server.url.clone();
    let run = |args: &[&str]| ok(&cli(&base, TOKEN, args));
    setup_event(&run, "stage", "concert", ACCESS_TOKEN, &[]);
    run(&["live", "start", "stage"]);
    let source = tmp.path().join("source.mp4");
    let made = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25",
        ])
        .args([
            "-t",
            "2",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-g",
            "50",
            "-flags",
            "+global_header",
        ])
        .args([
            "-f",
            "mp4",
            "-movflags",
            CMAF_MOVFLAGS.trim_start_matches("movflags="),
        ])
        .arg(&source)
        .output()
        .unwrap();
    common::assert_ok("ffmpeg source", &made);
    let bytes = std::fs::read(&source).unwrap();
    // Cut at the first moof: the header, then the first fragment.
    let mut at = 0;
    while &bytes[at + 4..at + 8] != b"moof" {
        at += u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    }
    assert!(bytes.len() - at > 4096, "the fragment is over the limit");
    let url = format!("{base}/ingest/stage/{ACCESS_TOKEN}/Streams(video)");
    assert_eq!(
        post(&url, &bytes[..at]).0,
        200,
        "the header is under the limit"
    );
    // The moof and the mdat's box header: refused from the sizes alone.
    let moof_len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let (status, body) = post(&url, &bytes[at..at + moof_len + 16]);
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("fragment_too_large"), "{body}");
    let index: Value =
        serde_json::from_slice(&std::fs::read(data.join("assets/concert/index.json")).unwrap())
            .unwrap();
    assert!(
        index["tracks"].as_array().unwrap().is_empty(),
        "a refused fragment was stored: {index}"
    );
    assert!(
        std::fs::read_dir(data.join("assets/concert/video_1"))
            .unwrap()
            .all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".m4s"))
    );
}
