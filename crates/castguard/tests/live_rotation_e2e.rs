//! Key rotation on a live event: `castguard serve` on a free 127.0.0.1
//! port, a live event recording into an asset (tests/common/live.rs), and
//! a locator of that asset with `keyRotation: {periodSegments: 2}` (a new
//! key every 4 s of the 2 s segments ffmpeg `-re` pushes over CMAF ingest).
//! While the push runs:
//! - the dynamic MPD, read by lxml (tests/rotation_check.py) each second,
//!   has a Period per key period in its time-shift window, with the period
//!   number as its id (stable across updates) and the `default_KID`
//!   derived for that period (computed in Python); over the push, at least
//!   four periods show up;
//! - the HLS media playlist changes key (`EXT-X-MAP` to the period's init,
//!   `EXT-X-KEY` with its `KEYID`) at every period in its window;
//! - shaka-player in headless Chromium plays the DASH `cenc` locator with
//!   the entitled token near the live edge for 14 s, across at least
//!   three key changes, its playhead advancing at wall-clock speed;
//! - key delivery gives a period's key to the entitled token and refuses
//!   the outsider (the base key's policy).
//!
//! Needs ffmpeg, chromium and node_modules (scripts/install-test-tools.sh);
//! fails, never skips, when they are missing.

mod api_server;
mod common;

use api_server::{Server, TOKEN, cli, data_dir, ok};
use common::live::{
    CMAF_MOVFLAGS, agent, assert_played_live, ffmpeg_synthetic, get, get_text, play, setup_event, token,
    wait_for_live_mpd, wait_pushed,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The live event's access token (part of the ingest URL).
const ACCESS_TOKEN: &str = "live-rotation-access-token-2d7e9f01";
/// Seconds ffmpeg pushes.
// 40 s: the player starts a few seconds in (first MPD, Chromium start-up)
// and watches 14 s after its first frame; under load that ended past a
// 30 s push, and the player's edge fell behind the ended stream.
const PUSH_SECS: u32 = 40;

fn python(args: &[&str]) -> Value {
    common::rotation_check(args)
}

#[test]
fn live_keys_rotate_at_period_boundaries() {
    let chromium = common::chromium(&["shaka-player", "playwright-core"]);
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&data_dir(&tmp), Some(TOKEN));
    let base = server.url.clone();
    let run = |args: &[&str]| ok(&cli(&base, TOKEN, args));
    let setup = setup_event(&run, "stage", "concert", ACCESS_TOKEN, &[]);

    // A rotated locator over the same asset and key (policy `viewers`),
    // made with the CLI.
    run(&[
        "locator",
        "create",
        "rotating",
        "--asset",
        "concert",
        "--streaming-policy",
        "Predefined_MultiDrmCencStreaming",
        "--key",
        "ck",
        "--rotate-segments",
        "2",
    ]);
    let loc: Value = serde_json::from_str(&run(&["locator", "get", "rotating", "--json"])).unwrap();
    assert_eq!(loc["keyRotation"], json!({"periodSegments": 2}), "{loc}");
    let id = loc["streamingLocatorId"].as_str().unwrap().to_string();
    let stream = format!("{base}/s/{id}/cenc");

    run(&["live", "start", "stage"]);
    let ffmpeg = ffmpeg_synthetic(PUSH_SECS)
        .args(["-f", "mp4", "-movflags", CMAF_MOVFLAGS.trim_start_matches("movflags=")])
        .arg(format!("{}/Streams(av)", setup.ingest))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ffmpeg");
    let pushed_at = Instant::now();

    // The first period is there: start the player.
    wait_for_live_mpd(&format!("{stream}/manifest.mpd"), pushed_at);
    let license = format!("{base}/keys/v1/clearkey");
    let player = play(&chromium, &format!("{stream}/manifest.mpd"), Some(&license), token("EntitledUsers"), "14", false);

    // The MPD each second while the push goes on: period id -> its KIDs.
    let mut seen: BTreeMap<u64, Value> = BTreeMap::new();
    let mpd_file = tmp.path().join("live.mpd");
    let mut playlist = String::new();
    while pushed_at.elapsed() < Duration::from_secs(u64::from(PUSH_SECS) - 2) {
        let (status, body) = get(&format!("{stream}/manifest.mpd"));
        assert_eq!(status, 200);
        std::fs::write(&mpd_file, &body).unwrap();
        let mpd = python(&["mpd", mpd_file.to_str().unwrap()]);
        assert_eq!(mpd["type"], "dynamic", "{mpd}");
        for p in mpd["periods"].as_array().unwrap() {
            let n: u64 = p["id"].as_str().unwrap().parse().unwrap();
            let kids: Vec<Value> = p["sets"].as_array().unwrap().iter().map(|s| s["defaultKids"].clone()).collect();
            if let Some(before) = seen.insert(n, json!(kids)) {
                assert_eq!(before, json!(kids), "period {n} changed its keys between updates");
            }
        }
        playlist = get_text(&format!("{stream}/video_1/playlist.m3u8"));
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(seen.len() >= 4, "periods seen over the push: {seen:?}");
    for (n, kids) in &seen {
        let want = python(&["period-key", common::KID1, common::KEY1, &n.to_string()])["kid"].clone();
        for set in kids.as_array().unwrap() {
            assert_eq!(set, &json!([want]), "period {n}: {seen:?}");
        }
    }

    // HLS: the key changes at every period in the window.
    let maps: Vec<&str> = playlist.lines().filter(|l| l.starts_with("#EXT-X-MAP:")).collect();
    let keyids: Vec<&str> = playlist
        .lines()
        .filter(|l| l.starts_with("#EXT-X-KEY:"))
        .filter_map(|l| l.split(',').find_map(|a| a.strip_prefix("KEYID=0x")))
        .collect();
    assert!(maps.len() >= 2 && maps.iter().skip(1).all(|m| m.contains("init-")), "{playlist}");
    let distinct: std::collections::BTreeSet<&&str> = keyids.iter().collect();
    assert!(distinct.len() >= 2, "{playlist}");

    // Key delivery: a later period's key for the entitled viewer only.
    let (&n, _) = seen.iter().next_back().unwrap();
    let kid_n = python(&["period-key", common::KID1, common::KEY1, &n.to_string()])["kid"].as_str().unwrap().to_string();
    let b64url = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(uuid::Uuid::parse_str(&kid_n).unwrap().as_bytes())
    };
    let ask = |group: &str| {
        let mut r = agent()
            .post(&license)
            .header("Authorization", &format!("Bearer {}", token(group)))
            .header("Content-Type", "application/json")
            .send(json!({"kids": [b64url], "type": "temporary"}).to_string().as_bytes())
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default())
    };
    let (status, body) = ask("EntitledUsers");
    assert_eq!(status, 200, "{body}");
    let jwks: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], b64url, "{body}");
    assert_eq!(ask("Outsiders").0, 401);

    // The player crossed at least three key changes (one every 4 s).
    let r = assert_played_live(player, "LIVE ROTATION PLAYER");
    assert!(r["advanced"].as_f64().unwrap() >= 12.0, "{r}");
    wait_pushed(ffmpeg, "ffmpeg push");
}
