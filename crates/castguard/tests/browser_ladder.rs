//! The demo ladder (three renditions of one title, `scripts/make-demo-clip.sh`)
//! judged by real players and by ffmpeg. Each test starts the real
//! `castguard serve` on a free loopback port with a fresh data dir, so the
//! demo (asset, keys, policy, locators) is created as a first-time user gets
//! it.
//!
//! - In headless Debian Chromium (npm playwright-core,
//!   `tests/browser/ladder.mjs`, flags from shared/TESTING.md "Browsers"),
//!   with the players' dist builds from node_modules served on the server's
//!   origin by the test: shaka-player plays the DASH `cenc`, DASH `cbcs` and
//!   HLS AES-128 locators with the entitled demo token and, with ABR off,
//!   switches lowest → highest → lowest rendition (234p, 720p, 234p): the
//!   active variant and `video.videoHeight` follow, the playhead advances
//!   after each switch, no error event. dash.js plays DASH `cenc` with a
//!   Clear Key license from key delivery; hls.js plays HLS AES-128 with the
//!   token on key requests and is refused (401, no progress) without it.
//!   With keys by class (SD and audio under the demo policy, 720p under a
//!   policy no demo user meets), shaka with the entitled token gets the HD
//!   license refused, drops the 720p variant and plays SD.
//!   Screenshots in `target/browser-screenshots/ladder-*.png`.
//! - ffmpeg decrypts every `video_N` rendition the `demo-cenc` locator
//!   serves (init + segments fetched over HTTP, `-decryption_key` with the
//!   demo key read through the management API) to the framemd5 of its own
//!   committed clip, and the audio to the 360p clip's packets; a wrong key
//!   does not give those frames.
//!
//! The browser test needs chromium and node_modules
//! (scripts/install-test-tools.sh); it fails, never skips, when they are
//! missing.

mod api_server;
mod common;

use api_server::{Server, TOKEN, cli, data_dir, ok};
use common::{Media, assert_hashes_eq, clear_hashes, track_hashes};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Heights of the demo's renditions, lowest first, and their clips.
const RENDITIONS: &[(u32, &str)] = &[
    (234, "demo_234.mp4"),
    (360, "demo.mp4"),
    (720, "demo_720.mp4"),
];

/// `castguard serve` with the demo on (no `--no-demo`).
fn demo_server(tmp: &tempfile::TempDir) -> Server {
    Server::start_with(&data_dir(tmp), Some(TOKEN), &[], &[])
}

fn clip(name: &str) -> PathBuf {
    common::repo_root()
        .join("crates/castguard/assets")
        .join(name)
}

#[test]
fn real_players_play_and_switch_the_demo_ladder_in_chromium() {
    let root = common::repo_root();
    let chromium =
        std::env::var("CASTGUARD_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} missing: run scripts/install-test-tools.sh"
    );
    for m in ["playwright-core", "shaka-player", "dashjs", "hls.js"] {
        assert!(
            root.join("node_modules").join(m).is_dir(),
            "node_modules/{m} missing: run scripts/install-test-tools.sh"
        );
    }

    let tmp = tempfile::tempdir().expect("temp dir");
    let server = demo_server(&tmp);
    let shots = root.join("target/browser-screenshots");
    let sd_only = sd_only_locator(&server.url);
    let out = Command::new("node")
        .arg(root.join("crates/castguard/tests/browser/ladder.mjs"))
        .args(["--base", &server.url, "--chromium", &chromium, "--sd-only-locator", &sd_only, "--shots"])
        .arg(&shots)
        .current_dir(&root)
        .stdin(Stdio::null())
        .output()
        .expect("run node ladder.mjs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));

    let results: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let case = |name: &str| -> &Value {
        results
            .iter()
            .find(|r| r["case"] == name)
            .unwrap_or_else(|| panic!("no result for case {name} in: {stdout}"))
    };
    let heights: Vec<u64> = RENDITIONS.iter().map(|(h, _)| u64::from(*h)).collect();
    let (low, high) = (heights[0], heights[heights.len() - 1]);
    for p in ["cenc", "cbcs", "aes128"] {
        let name = format!("shaka-{p}");
        let c = case(&name);
        assert_eq!(c["ok"], true, "{name}: {c}");
        let got: Vec<u64> = c["heights"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        assert_eq!(got, heights, "{name}: variant heights");
        let switches = c["switches"].as_array().cloned().unwrap_or_default();
        assert_eq!(switches.len(), 3, "{name}: three switches expected: {c}");
        for (s, want) in switches.iter().zip([low, high, low]) {
            assert_eq!(s["activeHeight"], want, "{name}: active variant: {s}");
            assert_eq!(s["videoHeight"], want, "{name}: video.videoHeight: {s}");
            let (from, now) = (
                s["from"].as_f64().unwrap_or(f64::MAX),
                s["currentTime"].as_f64().unwrap_or(0.0),
            );
            assert!(
                now > from + 1.0,
                "{name}: the playhead did not advance after the switch to {want}: {s}"
            );
        }
        assert_eq!(
            c["errors"].as_array().map(Vec::len),
            Some(0),
            "{name}: error events"
        );
    }
    let dash = case("dashjs-cenc");
    assert_eq!(dash["ok"], true, "dash.js cenc: {dash}");
    assert!(dash["currentTime"].as_f64().unwrap_or(0.0) > 3.0, "{dash}");
    let hls = case("hlsjs-aes128-entitled");
    assert_eq!(hls["ok"], true, "hls.js with the token: {hls}");
    assert!(hls["currentTime"].as_f64().unwrap_or(0.0) > 3.0, "{hls}");
    let refused = case("hlsjs-aes128-no-token");
    assert_eq!(refused["ok"], true, "hls.js without a token: {refused}");
    assert!(
        refused["currentTime"].as_f64().unwrap_or(9.0) < 1.0,
        "{refused}"
    );
    let key_statuses = refused["keyRequests"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !key_statuses.is_empty() && key_statuses.iter().all(|s| s == 401),
        "hls.js without a token: key delivery must answer 401: {refused}"
    );

    let sd = case("shaka-cenc-sd-only");
    assert_eq!(sd["ok"], true, "an SD-only token must play SD and never HD: {sd}");
    assert_eq!(sd["heights"], serde_json::json!([234, 360]), "{sd}");

    let mut n_shots = 0;
    for r in results.iter().filter(|r| r.get("case").is_some()) {
        for shot in r["screenshots"].as_array().cloned().unwrap_or_default() {
            let shot = shot.as_str().unwrap_or_default();
            // A refused case shows a black video and a caption: a few KB.
            assert!(
                std::fs::metadata(shot)
                    .map(|m| m.len() > 3_000)
                    .unwrap_or(false),
                "{}: screenshot {shot} missing",
                r["case"]
            );
            n_shots += 1;
        }
    }
    assert_eq!(n_shots, 3 * 3 + 3 + 1, "screenshots");
    assert!(out.status.success(), "ladder.mjs failed");
    drop(server);
}

/// Keys by class on the demo ladder, through the management API: the SD
/// renditions and the audio under a key of the demo's own policy (the
/// entitled demo user), the 720p rendition under another key whose policy
/// wants `groups` to hold `PremiumUsers`, which no demo user has. Returns
/// the locator's id.
fn sd_only_locator(base: &str) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let auth = format!("Bearer {TOKEN}");
    let call = |method: &str, path: &str, body: Option<Value>| -> Value {
        let url = format!("{base}/api/v1/{path}");
        let r = match body {
            Some(b) => agent.put(&url).header("Authorization", &auth).send_json(&b),
            None => agent.get(&url).header("Authorization", &auth).call(),
        };
        let mut r = r.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = r.status().as_u16();
        let v: Value = r.body_mut().read_json().unwrap_or(Value::Null);
        assert!(status < 300, "{method} {url}: {status} {v}");
        v
    };
    let mut premium = call("GET", "content-key-policies/demo-entitled", None);
    for option in premium["options"].as_array_mut().expect("options") {
        for claim in option["restriction"]["requiredClaims"].as_array_mut().into_iter().flatten() {
            if claim["claimType"] == "groups" {
                claim["claimValue"] = Value::from("PremiumUsers");
            }
        }
    }
    call("PUT", "content-key-policies/demo-premium", Some(serde_json::json!({"options": premium["options"]})));
    let sd = call("PUT", "content-keys/class-sd", Some(serde_json::json!({"type": "CommonEncryption", "policyName": "demo-entitled"})));
    let hd = call("PUT", "content-keys/class-hd", Some(serde_json::json!({"type": "CommonEncryption", "policyName": "demo-premium"})));
    let class = |c: &str| serde_json::json!({"trackSelections": [{"property": "TrackClass", "operation": "Equal", "value": c}]});
    call("PUT", "streaming-policies/by-class", Some(serde_json::json!({"commonEncryptionCenc": {
        "enabledProtocols": {"dash": true, "hls": true},
        "contentKeys": {"defaultKey": {"label": "sd"}, "keyToTrackMappings": [
            {"label": "sd", "tracks": [class("SD"), class("AUDIO")]},
            {"label": "hd", "tracks": [class("HD"), class("UHD1"), class("UHD2")]}]}}})));
    let loc = call("PUT", "streaming-locators/by-class", Some(serde_json::json!({
        "assetName": "demo", "streamingPolicyName": "by-class", "defaultContentKeyPolicyName": "demo-entitled",
        "contentKeys": [
            {"id": sd["keyId"], "labelReferenceInStreamingPolicy": "sd"},
            {"id": hd["keyId"], "labelReferenceInStreamingPolicy": "hd"}]})));
    loc["streamingLocatorId"].as_str().expect("locator id").to_owned()
}

/// The value of attribute `name` in the first tag of `xml`.
fn attr(xml: &str, name: &str) -> Option<String> {
    let tag = &xml[..xml.find('>')?];
    let pat = format!(" {name}=\"");
    let start = tag.find(&pat)? + pat.len();
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].to_owned())
}

/// One Representation of an MPD: its height (video), the init and media
/// segment URLs (relative to the MPD), from its SegmentTemplate and
/// SegmentTimeline.
#[derive(Debug)]
struct Rendition {
    id: String,
    height: Option<u32>,
    init: String,
    media: Vec<String>,
}

fn renditions(mpd: &str) -> Vec<Rendition> {
    let mut out = Vec::new();
    let mut rest = mpd;
    while let Some(i) = rest.find("<Representation ") {
        rest = &rest[i..];
        let end = rest.find("</Representation>").expect("</Representation>");
        let rep = &rest[..end];
        rest = &rest[end..];
        let id = attr(rep, "id").expect("Representation@id");
        // Subtitles are not renditions: the `wvtt` tracks and the sidecars.
        if attr(rep, "codecs").as_deref() == Some("wvtt") || !rep.contains("<SegmentTemplate ") {
            continue;
        }
        let tpl = &rep[rep.find("<SegmentTemplate ").expect("SegmentTemplate")..];
        let init = attr(tpl, "initialization").expect("@initialization");
        let media = attr(tpl, "media").expect("@media");
        let start: u64 = attr(tpl, "startNumber").map_or(1, |s| s.parse().expect("startNumber"));
        let count: u64 = tpl
            .match_indices("<S ")
            .map(|(j, _)| 1 + attr(&tpl[j..], "r").map_or(0, |r| r.parse::<u64>().expect("@r")))
            .sum();
        out.push(Rendition {
            id,
            height: attr(rep, "height").map(|h| h.parse().expect("@height")),
            init,
            media: (start..start + count)
                .map(|n| media.replace("$Number$", &n.to_string()))
                .collect(),
        });
    }
    out
}

/// Fetches a rendition's init and media segments into `dir` as
/// `init.mp4`, `1.m4s`, `2.m4s`… (the layout tests/common reads).
fn fetch_rendition(base: &str, r: &Rendition, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("init.mp4"), common::http_get(&format!("{base}/{}", r.init))).unwrap();
    for (i, m) in r.media.iter().enumerate() {
        std::fs::write(
            dir.join(format!("{}.m4s", i + 1)),
            common::http_get(&format!("{base}/{m}")),
        )
        .unwrap();
    }
}

#[test]
fn every_demo_rendition_decrypts_to_its_own_clip() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let server = demo_server(&tmp);
    let base = server.url.clone();

    // The demo key, through the management API (it is random per data dir).
    let keys: Value = serde_json::from_str(&ok(&cli(
        &base,
        TOKEN,
        &["locator", "keys", "demo-cenc", "--values", "--json"],
    )))
    .expect("locator keys JSON");
    let value = keys["contentKeys"][0]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("no key value in {keys}"));
    let key = {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(value)
            .expect("base64 key");
        assert_eq!(raw.len(), 16, "key length");
        hex::encode(raw)
    };

    let demo: Value = serde_json::from_slice(&common::http_get(&format!("{base}/player/api/demo"))).unwrap();
    let manifest = demo["locators"]
        .as_array()
        .and_then(|ls| ls.iter().find(|l| l["protection"] == "cenc"))
        .and_then(|l| l["manifest"].as_str())
        .unwrap_or_else(|| panic!("no cenc locator in {demo}"))
        .to_owned();
    let mpd_url = format!("{base}{manifest}");
    let stream_base = mpd_url.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
    let mpd = String::from_utf8(common::http_get(&mpd_url)).expect("MPD is UTF-8");
    let reps = renditions(&mpd);
    let mut videos: Vec<&Rendition> = reps.iter().filter(|r| r.height.is_some()).collect();
    videos.sort_by_key(|r| r.height);
    assert_eq!(
        videos.iter().map(|r| r.height.unwrap()).collect::<Vec<_>>(),
        RENDITIONS.iter().map(|(h, _)| *h).collect::<Vec<_>>(),
        "video renditions of {mpd_url}: {reps:?}"
    );

    let work = tmp.path().join("served");
    for (r, (height, clip_name)) in videos.iter().zip(RENDITIONS) {
        assert!(
            r.init.starts_with("video_") && r.media.len() >= 9,
            "rendition {} ({height}p): {r:?}",
            r.id
        );
        let dir = work.join(r.init.split('/').next().unwrap());
        fetch_rendition(&stream_base, r, &dir);
        let want = clear_hashes(&clip(clip_name), Media::Video);
        let got = track_hashes(&dir, Some(&key), Media::Video)
            .unwrap_or_else(|e| panic!("{height}p ({}): ffmpeg: {e}", dir.display()));
        assert_hashes_eq(
            &got,
            &want,
            &format!("{height}p {} vs {clip_name}", dir.display()),
        );
        eprintln!(
            "{height}p {}: {} frames equal to {clip_name}",
            r.init,
            got.len()
        );
        if *height == RENDITIONS[RENDITIONS.len() - 1].0 {
            match track_hashes(&dir, Some(common::KEY2), Media::Video) {
                Err(_) => {}
                Ok(h) => assert_ne!(h, want, "{height}p decrypts with a wrong key"),
            }
        }
    }

    // The audio comes from demo.mp4.
    let audio: Vec<&Rendition> = reps
        .iter()
        .filter(|r| r.init.starts_with("audio_"))
        .collect();
    assert_eq!(audio.len(), 1, "{reps:?}");
    let dir = work.join(audio[0].init.split('/').next().unwrap());
    fetch_rendition(&stream_base, audio[0], &dir);
    let got = track_hashes(&dir, Some(&key), Media::Audio(0))
        .unwrap_or_else(|e| panic!("audio: ffmpeg: {e}"));
    assert_hashes_eq(
        &got,
        &clear_hashes(&clip("demo.mp4"), Media::Audio(0)),
        "audio vs demo.mp4",
    );
    assert!(server.stop().success());
}
