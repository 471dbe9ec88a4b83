//! The retired cloud media service's streaming URLs end to end (issue 17
//! item 3): `castguard serve` on a free 127.0.0.1 port, an asset ingested
//! and locators made with the management CLI, then players we did not
//! write open the old URL forms `/{locatorId}/{name}.ism/manifest(...)`
//! and follow the origin's redirect to the castguard stream:
//! - ffmpeg plays `manifest(format=m3u8-aapl,encryption=cbc)` (HLS
//!   AES-128, key from our key delivery) and `manifest(format=m3u8-cmaf)`
//!   (clear HLS) to the clear input's framemd5;
//! - shaka-player in headless Chromium plays
//!   `manifest(format=mpd-time-cmaf,encryption=cenc)` with Clear Key
//!   (license from our key delivery) past 3 s, and the segments it fetched
//!   are the castguard `cenc` ones;
//! - Smooth and HDS forms get 404 with a reason, not a stream.
//!
//! Needs ffmpeg, chromium and node_modules (scripts/install-test-tools.sh);
//! fails, never skips, when they are missing.

mod api_server;
mod common;

use api_server::{Server, TOKEN, cli, data_dir, ok};
use common::{Media, assert_hashes_eq, clear_hashes, fixture, hls_hashes};
use serde_json::Value;

/// Content key (cenc, Clear Key license), open policy: test key pair 1.
const CK_KID: &str = common::KID1;
const CK_KEY: &str = common::KEY1;
/// Envelope (HLS AES-128) key, open policy.
const ENV_KID: &str = "5e1f0000111122223333444455556667";
const ENV_KEY: &str = "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf";

#[test]
fn retired_service_urls_play_through_the_redirect() {
    let chromium = common::chromium(&["shaka-player", "playwright-core"]);
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&data_dir(&tmp), Some(TOKEN));
    let base = server.url.clone();
    let run = |args: &[&str]| ok(&cli(&base, TOKEN, args));
    let input = fixture("h264_aac_bframes.mp4");
    run(&[
        "asset",
        "ingest",
        input.to_str().unwrap(),
        "--name",
        "movie",
    ]);
    run(&["policy", "create", "open", "--open"]);
    run(&[
        "key", "create", "ck", "--type", "common", "--kid", CK_KID, "--value", CK_KEY, "--policy",
        "open",
    ]);
    run(&[
        "key", "create", "env", "--type", "envelope", "--kid", ENV_KID, "--value", ENV_KEY,
        "--policy", "open",
    ]);
    for (name, policy, key) in [
        ("aes", "Predefined_ClearKey", Some("env")),
        ("drm", "Predefined_MultiDrmStreaming", Some("ck")),
        ("clear", "Predefined_ClearStreamingOnly", None),
    ] {
        let mut args = vec![
            "locator",
            "create",
            name,
            "--asset",
            "movie",
            "--streaming-policy",
            policy,
        ];
        if let Some(k) = key {
            args.extend(["--key", k]);
        }
        run(&args);
    }
    let id = |name: &str| -> String {
        let v: Value = serde_json::from_str(&run(&["locator", "get", name, "--json"])).unwrap();
        v["streamingLocatorId"].as_str().unwrap().to_string()
    };
    let legacy = |name: &str, args: &str| format!("{base}/{}/movie.ism/manifest{args}", id(name));
    let clear_video = clear_hashes(&input, Media::Video);

    // ffmpeg: HLS AES-128 and clear HLS through the redirect.
    for (name, args) in [
        ("aes", "(format=m3u8-aapl,encryption=cbc)"),
        ("clear", "(format=m3u8-cmaf)"),
    ] {
        let url = legacy(name, args);
        let got = hls_hashes(&url, Media::Video).unwrap_or_else(|e| panic!("ffmpeg {url}: {e}"));
        assert_hashes_eq(&got, &clear_video, &url);
    }

    // Smooth and HDS: a reason, not a stream.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    for (args, names) in [("(format=fmp4-v20)", "Smooth"), ("(format=f4m-f4f)", "HDS")] {
        let mut r = agent.get(&legacy("drm", args)).call().unwrap();
        assert_eq!(r.status(), 404, "{args}");
        let body = r.body_mut().read_to_string().unwrap();
        assert!(
            body.contains(names) && body.contains("CMAF only"),
            "{args}: {body}"
        );
    }

    // shaka-player: DASH cenc with Clear Key from our key delivery.
    let drm = id("drm");
    let url = legacy("drm", "(format=mpd-time-cmaf,encryption=cenc)");
    let (out, results) = common::node_script(
        "play_url.mjs",
        &[
            "--url".into(),
            url.clone().into(),
            "--clearkey-license".into(),
            format!("{base}/keys/v1/clearkey").into(),
            "--chromium".into(),
            chromium.into(),
        ],
    );
    let r = results
        .last()
        .unwrap_or_else(|| panic!("play_url.mjs printed nothing: {out:?}"));
    assert!(
        out.status.success() && r["played"] == true,
        "shaka {url}: {r}"
    );
    assert_eq!(r["keySystem"], "org.w3.clearkey", "{r}");
    assert_eq!(
        r["finalUri"],
        format!("{base}/s/{drm}/cenc/manifest.mpd"),
        "{r}"
    );
    let init = r["firstInit"].as_str().unwrap_or_default();
    assert!(init.starts_with(&format!("{base}/s/{drm}/cenc/")), "{r}");

    assert!(server.stop().success());
}
