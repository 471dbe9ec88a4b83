//! A live ladder end to end: ffmpeg `-re` encodes one synthetic source
//! into three video renditions with aligned 2 s GOPs (640x360, 480x270,
//! 320x180) plus AAC, and pushes each as its own CMAF stream (one chunked
//! POST per track, as DASH-IF Live Media Ingest recommends) to one live
//! event, while its `tee` muxer keeps a local copy of all four tracks.
//! While it runs:
//! - the HLS master playlist of a `Predefined_ClearKey` locator (HLS
//!   AES-128) lists the three renditions and the audio, all live;
//! - shaka-player in headless Chromium plays that live HLS AES-128 ladder
//!   with the entitled token (on key requests), the playhead advancing at
//!   wall-clock speed with the newest fetched media at most three segments
//!   behind the wall clock, then switches lowest -> highest -> lowest
//!   rendition with ABR off, each switch showing in `video.videoHeight`;
//!   the outsider token gets 401 on the key and plays nothing.
//!
//! After stop, ffmpeg's HLS demuxer plays each rendition's AES-128 media
//! playlist (the key fetched with the token) to exactly the frames of the
//! tee copy's matching video stream, and the audio to its packets.
//!
//! Needs ffmpeg, chromium and node_modules (scripts/install-test-tools.sh);
//! fails, never skips, when they are missing.

mod api_server;
mod common;

use api_server::{Server, TOKEN, cli, data_dir, ok};
use common::Media;
use common::live::{
    CMAF_MOVFLAGS, assert_played_live, assert_refused, get, get_text, locator_id, play, setup_event,
    token, wait_pushed,
};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ACCESS_TOKEN: &str = "live-ladder-access-token-8e1f2a3b4c5d";
/// Seconds ffmpeg pushes: start-up, an 8 s watch and three switches fit.
const PUSH_SECS: u32 = 40;
/// The renditions, in the order ffmpeg maps them (the copy's v:0, v:1, v:2).
const RENDITIONS: [(u32, u32, &str); 3] =
    [(640, 360, "900k"), (480, 270, "500k"), (320, 180, "250k")];

/// The media playlist URL of the variant `attrs_match` picks in `master`.
fn media_playlist(master_url: &str, master: &str, line_match: &str) -> Option<String> {
    let mut lines = master.lines();
    while let Some(l) = lines.next() {
        if l.contains(line_match) {
            let uri = if l.starts_with("#EXT-X-STREAM-INF") {
                lines.next()?.to_owned()
            } else {
                l.split("URI=\"").nth(1)?.split('"').next()?.to_owned()
            };
            let folder = master_url.rsplit_once('/').unwrap().0;
            return Some(if uri.starts_with("http") {
                uri
            } else {
                format!("{folder}/{uri}")
            });
        }
    }
    None
}

#[test]
fn a_pushed_ladder_plays_live_in_hls_aes128_and_switches() {
    let chromium = common::chromium(&["shaka-player", "playwright-core"]);
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&data_dir(&tmp), Some(TOKEN));
    let base = server.url.clone();
    let run = |args: &[&str]| ok(&cli(&base, TOKEN, args));
    let setup = setup_event(&run, "ladder", "show", ACCESS_TOKEN, &[]);
    run(&[
        "key",
        "create",
        "env",
        "--type",
        "envelope",
        "--kid",
        common::KID2,
        "--value",
        common::KEY2,
        "--policy",
        "viewers",
    ]);
    run(&[
        "locator",
        "create",
        "aes",
        "--asset",
        "show",
        "--streaming-policy",
        "Predefined_ClearKey",
        "--key",
        "env",
    ]);
    let aes_id = locator_id(&run, "aes");
    run(&["live", "start", "ladder"]);

    // One source, three scaled renditions with the same GOPs, and audio;
    // each its own stream, and a copy of all of it.
    let copy = tmp.path().join("pushed.mp4");
    let ingest = &setup.ingest;
    let mut filter = String::from("[0:v]split=3[s0][s1][s2]");
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-hide_banner", "-loglevel", "warning", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &PUSH_SECS.to_string()]);
    for (i, (w, h, _)) in RENDITIONS.iter().enumerate() {
        filter.push_str(&format!(";[s{i}]scale={w}:{h}[v{i}]"));
    }
    cmd.args(["-filter_complex", &filter]);
    for i in 0..RENDITIONS.len() {
        cmd.args(["-map", &format!("[v{i}]")]);
    }
    cmd.args(["-map", "1:a"]).args([
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "50",
        "-keyint_min",
        "50",
        "-sc_threshold",
        "0",
    ]);
    for (i, (_, _, rate)) in RENDITIONS.iter().enumerate() {
        cmd.arg(format!("-b:v:{i}")).arg(rate);
    }
    let mut outputs: Vec<String> = (0..RENDITIONS.len())
        .map(|i| format!("[select=\\'v:{i}\\':f=mp4:{CMAF_MOVFLAGS}]{ingest}/Streams(video{i})"))
        .collect();
    outputs.push(format!(
        "[select=a:f=mp4:{CMAF_MOVFLAGS}:frag_duration=2000000]{ingest}/Streams(audio)"
    ));
    outputs.push(format!("[f=mp4:{CMAF_MOVFLAGS}]{}", copy.display()));
    cmd.args([
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-flags",
        "+global_header",
        "-f",
        "tee",
    ])
    .arg(outputs.join("|"));
    let ffmpeg = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ffmpeg");
    let pushed_at = Instant::now();

    // The master lists the ladder once every rendition has two segments.
    let master_url = format!("{base}/s/{aes_id}/aes128/master.m3u8");
    let rendition_urls = |master: &str| -> Option<Vec<String>> {
        RENDITIONS
            .iter()
            .map(|(w, h, _)| media_playlist(&master_url, master, &format!("RESOLUTION={w}x{h}")))
            .collect()
    };
    let mut master = String::new();
    while pushed_at.elapsed() < Duration::from_secs(20) {
        let (status, body) = get(&master_url);
        let text = String::from_utf8_lossy(&body).into_owned();
        if status == 200
            && let Some(urls) = rendition_urls(&text)
            && urls
                .iter()
                .all(|u| get(u).0 == 200 && common::live::extinf(&get_text(u)) >= 2)
        {
            master = text;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        !master.is_empty(),
        "no live ladder 20 s into the push: {}",
        get_text(&master_url)
    );
    eprintln!("live master after {:?}:\n{master}", pushed_at.elapsed());
    let urls = rendition_urls(&master).unwrap();
    let audio_url = media_playlist(&master_url, &master, "TYPE=AUDIO").expect("an audio rendition");
    for url in urls.iter().chain([&audio_url]) {
        let playlist = get_text(url);
        assert!(
            !playlist.contains("#EXT-X-ENDLIST") && playlist.contains("#EXT-X-PROGRAM-DATE-TIME:"),
            "{url}: not a live playlist:\n{playlist}"
        );
        assert!(
            playlist.contains("#EXT-X-KEY:METHOD=AES-128"),
            "{url}: not AES-128:\n{playlist}"
        );
    }

    let entitled = play(
        &chromium,
        &master_url,
        None,
        token("EntitledUsers"),
        "8",
        true,
    );
    let outsider = play(&chromium, &master_url, None, token("Outsiders"), "3", false);
    let r = assert_played_live(entitled, "LIVE LADDER PLAYER (HLS AES-128)");
    assert_eq!(r["switched"], true, "switches: {r}");
    let heights: Vec<u64> = r["switches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["videoHeight"].as_u64().unwrap())
        .collect();
    assert_eq!(heights, [180, 360, 180], "{r}");
    assert_refused(outsider);

    wait_pushed(ffmpeg, "ffmpeg push");
    run(&["live", "stop", "ladder"]);

    // Each rendition of the archive, through ffmpeg's HLS AES-128, is its
    // stream of the copy, frame for frame.
    let headers = format!("Authorization: Bearer {}\r\n", token("EntitledUsers"));
    for (i, url) in urls.iter().enumerate() {
        let playlist = get_text(url);
        assert!(
            playlist.contains("#EXT-X-ENDLIST"),
            "{url} after stop:\n{playlist}"
        );
        let got = common::hls_hashes_with_headers(url, &headers, Media::Video).unwrap();
        let want = common::file_hashes(&copy, Media::VideoN(i)).unwrap();
        common::assert_hashes_eq(&got, &want, &format!("rendition {i} ({url})"));
        eprintln!(
            "LIVE LADDER ARCHIVE rendition {}x{}: {} frames as pushed",
            RENDITIONS[i].0,
            RENDITIONS[i].1,
            got.len()
        );
    }
    let got = common::hls_hashes_with_headers(&audio_url, &headers, Media::Audio(0)).unwrap();
    common::assert_hashes_eq(
        &got,
        &common::file_hashes(&copy, Media::Audio(0)).unwrap(),
        "audio",
    );
    assert!(
        common::hls_hashes(&urls[0], Media::Video).is_err(),
        "the AES-128 archive played without the token"
    );
    assert!(server.stop().success());
}
