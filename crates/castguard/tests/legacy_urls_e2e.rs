//! The retired cloud media service's streaming URLs end to end (issue 17
//! item 3): `castguard serve` on a free 127.0.0.1 port, an account export
//! in the service's v3 shapes imported with `castguard import` (locator
//! ids, key ids and values kept) and the asset's media ingested, then
//! players we did not
//! write open the old URL forms `/{locatorId}/{name}.ism/manifest(...)`
//! and follow the origin's redirect to the castguard stream:
//! - ffmpeg plays `manifest(format=m3u8-aapl,encryption=cbc)` (HLS
//!   AES-128, key from our key delivery) and `manifest(format=m3u8-cmaf)`
//!   (clear HLS) to the clear input's framemd5;
//! - shaka-player in headless Chromium plays
//!   `manifest(format=mpd-time-cmaf,encryption=cenc)`, `(...,encryption=cbcs)`
//!   and `manifest` (the multi-DRM locator's default, cenc) with Clear Key
//!   (license from our key delivery) past 3 s, and the segments it fetched
//!   are the castguard ones of that scheme;
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

/// Locator ids of the export: the URLs apps have baked in.
const LOCATORS: [(&str, &str, &str, Option<(&str, &str, &str)>); 4] = [
    (
        "aes",
        "Predefined_ClearKey",
        "3f1a0c52-7b4e-4d0a-9c61-2b8e5d7f9a01",
        Some((ENV_KID, ENV_KEY, "EnvelopeEncryption")),
    ),
    (
        "drm",
        "Predefined_MultiDrmStreaming",
        "3f1a0c52-7b4e-4d0a-9c61-2b8e5d7f9a02",
        Some((CK_KID, CK_KEY, "CommonEncryptionCenc")),
    ),
    (
        "clear",
        "Predefined_ClearStreamingOnly",
        "3f1a0c52-7b4e-4d0a-9c61-2b8e5d7f9a03",
        None,
    ),
    // The same key as `drm` (one content key after the import), in cbcs.
    (
        "cbcs",
        "cbcsDashHls",
        "3f1a0c52-7b4e-4d0a-9c61-2b8e5d7f9a04",
        Some((CK_KID, CK_KEY, "CommonEncryptionCbcs")),
    ),
];

/// An account export in the service's shapes (docs/migration.md): the
/// asset record, an open Clear Key policy, three locators with their ids,
/// and each locator's listContentKeys output.
fn write_export(dir: &std::path::Path) {
    use base64::Engine as _;
    let b64 = |hex: &str| {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    let write = |path: &str, v: Value| {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    };
    let kind = |k: &str| format!("Microsoft.Media/mediaservices/{k}");
    write(
        "assets/movie.json",
        serde_json::json!({"name": "movie", "type": kind("assets"),
        "properties": {"assetId": "5b2d8e3a-0c6f-4f3e-9a1b-7c4d2e6f8a90", "description": "the film", "container": "asset-5b2d8e3a"}}),
    );
    write(
        "contentKeyPolicies/open.json",
        serde_json::json!({"name": "open", "type": kind("contentKeyPolicies"),
        "properties": {"options": [{"name": "clearkey",
            "configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
            "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyOpenRestriction"}}]}}),
    );
    write(
        "streamingPolicies/cbcsDashHls.json",
        serde_json::json!({"name": "cbcsDashHls", "type": kind("streamingPolicies"),
        "properties": {"created": "2021-03-01T10:00:00Z", "defaultContentKeyPolicyName": "open",
            "commonEncryptionCbcs": {"enabledProtocols": {"download": false, "dash": true, "hls": true, "smoothStreaming": true},
                "clearTracks": [], "contentKeys": {"defaultKey": {"label": "cbcsDefaultKey"}, "keyToTrackMappings": []},
                "clearKeyEncryptionConfiguration": {}}}}),
    );
    for (name, policy, id, key) in LOCATORS {
        let uuid = |hex: &str| uuid::Uuid::parse_str(hex).unwrap().hyphenated().to_string();
        let keys: Vec<Value> = key
            .iter()
            .map(|(kid, _, t)| serde_json::json!({"id": uuid(kid), "type": t, "tracks": []}))
            .collect();
        write(
            &format!("streamingLocators/{name}.json"),
            serde_json::json!({"name": name, "type": kind("streamingLocators"),
            "properties": {"assetName": "movie", "streamingPolicyName": policy, "streamingLocatorId": id,
                "created": "2021-03-01T10:00:00Z", "endTime": "9999-12-31T23:59:59.9999999Z", "contentKeys": keys}}),
        );
        if let Some((kid, value, t)) = key {
            write(
                &format!("streamingLocators/{name}.contentKeys.json"),
                serde_json::json!({"contentKeys": [
                {"id": uuid(kid), "type": t, "value": b64(value), "policyName": "open", "tracks": []}]}),
            );
        }
    }
}

#[test]
fn retired_service_urls_play_through_the_redirect() {
    let chromium = common::chromium(&["shaka-player", "playwright-core"]);
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&data_dir(&tmp), Some(TOKEN));
    let base = server.url.clone();
    let run = |args: &[&str]| ok(&cli(&base, TOKEN, args));
    let input = fixture("h264_aac_bframes.mp4");
    // The account as the retired service exported it (v3 resources, key
    // values from listContentKeys), imported in one go; then the media.
    let export = tmp.path().join("export");
    write_export(&export);
    let plan = run(&["import", export.to_str().unwrap()]);
    assert!(plan.contains("created streaming-locators/drm"), "{plan}");
    run(&[
        "asset",
        "ingest",
        input.to_str().unwrap(),
        "--name",
        "movie",
    ]);
    let id = |name: &str| -> String {
        let v: Value = serde_json::from_str(&run(&["locator", "get", name, "--json"])).unwrap();
        let id = v["streamingLocatorId"].as_str().unwrap().to_string();
        // The id the apps know, kept by the import.
        let exported = LOCATORS.iter().find(|l| l.0 == name).unwrap().2;
        assert_eq!(id, exported, "{name}");
        id
    };
    let legacy = |name: &str, args: &str| format!("{base}/{}/movie.ism/manifest{args}", id(name));
    let clear_video = clear_hashes(&input, Media::Video);

    // ffmpeg: HLS AES-128 and clear HLS through the redirect. (Not DASH:
    // ffmpeg's DASH demuxer resolves segment URLs against the URL before
    // the redirect, and cannot decrypt; shaka-player plays DASH below.)
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

    // shaka-player: DASH cenc and cbcs with Clear Key from our key delivery,
    // and the default DASH of a multi-DRM locator (cenc).
    for (name, args, variant) in [
        ("drm", "(format=mpd-time-cmaf,encryption=cenc)", "cenc"),
        ("cbcs", "(format=mpd-time-cmaf,encryption=cbcs)", "cbcs"),
        ("drm", "", "cenc"),
    ] {
        let locator = id(name);
        let url = legacy(name, args);
        let (out, results) = common::node_script(
            "play_url.mjs",
            &[
                "--url".into(),
                url.clone().into(),
                "--clearkey-license".into(),
                format!("{base}/keys/v1/clearkey").into(),
                "--chromium".into(),
                chromium.clone().into(),
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
            format!("{base}/s/{locator}/{variant}/manifest.mpd"),
            "{r}"
        );
        let init = r["firstInit"].as_str().unwrap_or_default();
        assert!(
            init.starts_with(&format!("{base}/s/{locator}/{variant}/")),
            "{r}"
        );
    }

    assert!(server.stop().success());
}
