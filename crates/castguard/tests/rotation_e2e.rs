//! Key rotation (crypto periods) end to end against a real `castguard
//! serve`: a locator with `keyRotation: {periodSegments: 1}` on the 10 s
//! fixture (ingested as 4 s segments: three key periods, of 4, 4 and 2 s;
//! a second locator with `periodSeconds: 4` gives the same periods),
//! judged by tools we did not write:
//! - the MPD read by lxml (tests/rotation_check.py): one Period per key
//!   period, each with its own `default_KID` (the KID the derivation in
//!   docs/key-rotation.md gives, computed in Python), its own init
//!   segment, `startNumber` and `presentationTimeOffset` = the period's
//!   first segment time, so the periods follow each other without a gap;
//! - each period's init segment carries PSSH boxes (W3C common, Widevine,
//!   PlayReady; read by pywidevine) naming that period's KID only;
//! - ffmpeg decrypts each period (its init + its segments) with that
//!   period's key, and the frames of all periods in order equal the clear
//!   input's (framemd5); a period decrypted with the previous period's key
//!   does not;
//! - the HLS AES-128 media playlist has an `EXT-X-KEY` before every key
//!   change, key delivery hands out each period's key by its KID, and
//!   ffmpeg plays the playlist to the clear frames;
//! - shaka-player in headless Chromium plays the DASH `cenc` title with
//!   Clear Key past the second boundary (8.5 s) without a stall, asking for
//!   three licenses for three distinct KIDs; hls.js plays the AES-128 title
//!   past it, fetching three distinct keys;
//! - the CPIX export is valid against the CPIX 2.3 schema (lxml) and lists
//!   the three periods in `ContentKeyPeriodList`, each period's key, and a
//!   `KeyPeriodFilter` in every usage rule.
//!
//! Needs ffmpeg, chromium and node_modules (scripts/install-test-tools.sh);
//! fails, never skips, when they are missing.

mod api_server;
mod common;

use api_server::{Server, TOKEN, cli, data_dir, ok};
use common::{Media, assert_hashes_eq, clear_hashes, fixture, hls_hashes, track_hashes};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;

/// The cenc key (Clear Key licenses) and the AES-128 key: the values of
/// test key pairs 1 and 2 (tests/secrets.txt e2e-key1, e2e-key2) under KIDs
/// of their own (KID1's bytes are also a secret there, and the license
/// requests this test prints carry KIDs).
const CENC_KID: &str = "a0000000000040008000000000000001";
const CENC_KEY: &str = common::KEY1;
const AES_KID: &str = "a0000000000040008000000000000002";
const AES_KEY: &str = common::KEY2;
/// Segments per key period: three periods in the 10 s fixture.
const PERIOD_SEGMENTS: u64 = 1;
const PERIODS: usize = 3;

fn uuid(hex: &str) -> String {
    uuid::Uuid::parse_str(hex).unwrap().hyphenated().to_string()
}

fn b64(hex: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(hex::decode(hex).unwrap())
}

fn python(args: &[&str]) -> Value {
    common::rotation_check(args)
}

/// (KID as UUID, key as hex) of period `p` of the key `kid`/`key`, derived
/// in Python.
fn period_key(kid: &str, key: &str, p: usize) -> (String, String) {
    let v = python(&["period-key", kid, key, &p.to_string()]);
    (v["kid"].as_str().unwrap().to_string(), v["key"].as_str().unwrap().to_string())
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// PUT of a management entity: status and JSON body.
fn put(base: &str, path: &str, body: Value) -> (u16, Value) {
    let mut r = agent()
        .put(&format!("{base}/api/v1/{path}"))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .send_json(&body)
        .unwrap();
    let status = r.status().as_u16();
    (status, r.body_mut().read_json().unwrap_or(Value::Null))
}

fn put_ok(base: &str, path: &str, body: Value) -> Value {
    let (status, v) = put(base, path, body);
    assert!(status < 300, "PUT {path}: {status} {v}");
    v
}

fn get(url: &str) -> Vec<u8> {
    common::http_get(url)
}

/// Clear Key policy with an open restriction, the two keys, the ingested
/// fixture, and a policy serving DASH `cenc` (with Widevine and PlayReady
/// signalling besides Clear Key), HLS SAMPLE-AES `cbcs` (with
/// Widevine signalling: `KEYID` in `EXT-X-KEY`) and HLS AES-128.
fn setup(base: &str) {
    put_ok(
        base,
        "content-key-policies/open",
        json!({"options": [{"name": "clearkey",
            "configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
            "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyOpenRestriction"}}]}),
    );
    put_ok(
        base,
        "content-keys/rot-cenc",
        json!({"type": "CommonEncryption", "keyId": uuid(CENC_KID), "value": b64(CENC_KEY), "policyName": "open"}),
    );
    put_ok(
        base,
        "content-keys/rot-aes",
        json!({"type": "EnvelopeEncryption", "keyId": uuid(AES_KID), "value": b64(AES_KEY), "policyName": "open"}),
    );
    put_ok(
        base,
        "streaming-policies/rot",
        json!({"commonEncryptionCenc": {"enabledProtocols": {"dash": true, "hls": false}, "drm": {"widevine": {}, "playReady": {}}},
            "commonEncryptionCbcs": {"enabledProtocols": {"dash": false, "hls": true}, "drm": {"widevine": {}}},
            "envelopeEncryption": {"enabledProtocols": {"dash": false, "hls": true}}}),
    );
    let input = fixture("h264_aac_nob.mp4");
    ok(&cli(base, TOKEN, &["asset", "ingest", input.to_str().unwrap(), "--name", "movie"]));
}

/// The field a 400 names.
fn refused_field(base: &str, rotation: Value) -> String {
    let (status, v) = put(
        base,
        "streaming-locators/bad",
        json!({"assetName": "movie", "streamingPolicyName": "rot", "keyRotation": rotation}),
    );
    assert_eq!(status, 400, "{rotation}: {v}");
    v["error"]["field"].as_str().unwrap_or_else(|| panic!("no field named in {v}")).to_string()
}

#[test]
fn rotated_title_plays_and_decrypts_period_by_period() {
    let chromium = common::chromium(&["shaka-player", "hls.js", "playwright-core"]);
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&data_dir(&tmp), Some(TOKEN));
    let base = server.url.clone();
    setup(&base);
    let input = fixture("h264_aac_nob.mp4");

    // Bad rotations: a 400 naming the field, nothing stored.
    assert_eq!(refused_field(&base, json!({"periodSegments": 0})), "keyRotation.periodSegments");
    assert_eq!(refused_field(&base, json!({"periodSeconds": 100000})), "keyRotation.periodSeconds");
    assert_eq!(refused_field(&base, json!({"periodSegments": 2, "periodSeconds": 4})), "keyRotation");
    assert_eq!(refused_field(&base, json!({})), "keyRotation");
    let (status, _) = put(&base, "streaming-locators/bad", json!({"assetName": "movie", "streamingPolicyName": "rot"}));
    assert_eq!(status, 201, "the refused PUTs stored nothing");

    // A rotated locator of an asset without media yet: its periods cannot
    // be counted, so no manifest and no CPIX export (404, not a failure).
    ok(&cli(&base, TOKEN, &["asset", "create", "empty"]));
    let empty = put_ok(
        &base,
        "streaming-locators/rot-empty",
        json!({"assetName": "empty", "streamingPolicyName": "rot",
            "contentKeys": [{"id": uuid(CENC_KID)}], "keyRotation": {"periodSegments": 1}}),
    );
    let empty_id = empty["streamingLocatorId"].as_str().unwrap();
    let status = |url: &str| agent().get(url).header("Authorization", &format!("Bearer {TOKEN}")).call().unwrap().status().as_u16();
    assert_eq!(status(&format!("{base}/s/{empty_id}/cenc/manifest.mpd")), 404);
    assert_eq!(status(&format!("{base}/api/v1/streaming-locators/rot-empty/cpix")), 404);

    let loc = put_ok(
        &base,
        "streaming-locators/rot-loc",
        json!({"assetName": "movie", "streamingPolicyName": "rot",
            "contentKeys": [{"id": uuid(CENC_KID)}, {"id": uuid(AES_KID)}],
            "keyRotation": {"periodSegments": PERIOD_SEGMENTS}}),
    );
    assert_eq!(loc["keyRotation"], json!({"periodSegments": PERIOD_SEGMENTS}), "{loc}");
    let id = loc["streamingLocatorId"].as_str().unwrap().to_string();
    let stream = |variant: &str, path: &str| format!("{base}/s/{id}/{variant}/{path}");

    let cenc_keys: Vec<(String, String)> = (0..PERIODS).map(|p| period_key(CENC_KID, CENC_KEY, p)).collect();
    let aes_keys: Vec<(String, String)> = (0..PERIODS).map(|p| period_key(AES_KID, AES_KEY, p)).collect();
    assert_eq!(cenc_keys[0].0, uuid(CENC_KID));

    // The MPD, read by lxml: a Period per key period.
    let mpd_path = tmp.path().join("manifest.mpd");
    std::fs::write(&mpd_path, get(&stream("cenc", "manifest.mpd"))).unwrap();
    let mpd = python(&["mpd", mpd_path.to_str().unwrap()]);
    let periods = mpd["periods"].as_array().unwrap();
    assert_eq!(periods.len(), PERIODS, "{mpd}");
    // Widevine and PlayReady license URLs name each period's KID.
    let mpd_text = std::fs::read_to_string(&mpd_path).unwrap();
    for (kid, _) in &cenc_keys {
        for system in ["widevine", "playready"] {
            assert!(mpd_text.contains(&format!("/keys/v1/{system}?kid={kid}")), "{system} {kid}: {mpd_text}");
        }
    }
    let mut video_end = None;
    for (p, period) in periods.iter().enumerate() {
        for set in period["sets"].as_array().unwrap() {
            assert_eq!(set["defaultKids"], json!([cenc_keys[p].0]), "period {p}: {set}");
            for rep in set["reps"].as_array().unwrap() {
                let first = rep["startNumber"].as_u64().unwrap();
                assert_eq!(first, p as u64 * PERIOD_SEGMENTS + 1, "period {p}: {rep}");
                let init = rep["initialization"].as_str().unwrap();
                if p == 0 {
                    assert!(init.ends_with("/init.mp4"), "{init}");
                } else {
                    assert!(init.ends_with(&format!("/init-{p}.mp4")), "{init}");
                }
                // The period maps its first segment's time to period time 0
                // (within one audio frame: audio segments start near the
                // video's cut).
                let segs = rep["segments"].as_array().unwrap();
                let t0 = segs[0][0].as_u64().unwrap();
                let pto = rep["presentationTimeOffset"].as_u64().unwrap();
                let ts = rep["timescale"].as_u64().unwrap();
                assert!(pto <= t0 && t0 - pto <= ts / 20, "period {p}: PTO {pto} vs first segment {t0} ({ts}/s)");
                if set["contentType"] == "video" {
                    // Continuous: this period starts where the last ended.
                    if let Some(end) = video_end {
                        assert_eq!(t0, end, "period {p} video starts where period {} ended", p - 1);
                    }
                    let last = segs.last().unwrap();
                    video_end = Some(last[0].as_u64().unwrap() + last[1].as_u64().unwrap());
                }
            }
        }
    }

    // The same periods by seconds: 4 s, the fixture's segment duration.
    let by_secs = put_ok(
        &base,
        "streaming-locators/rot-secs",
        json!({"assetName": "movie", "streamingPolicyName": "rot",
            "contentKeys": [{"id": uuid(CENC_KID)}], "keyRotation": {"periodSeconds": 4}}),
    );
    let secs_mpd = tmp.path().join("secs.mpd");
    let secs_id = by_secs["streamingLocatorId"].as_str().unwrap();
    std::fs::write(&secs_mpd, get(&format!("{base}/s/{secs_id}/cenc/manifest.mpd"))).unwrap();
    let secs = python(&["mpd", secs_mpd.to_str().unwrap()]);
    let kids = |m: &Value| -> Vec<Value> { m["periods"].as_array().unwrap().iter().map(|p| p["sets"][0]["defaultKids"].clone()).collect() };
    assert_eq!(kids(&secs), kids(&mpd), "{secs}");

    // ffmpeg decrypts each period with its own key: video frames and audio
    // packets of all periods in order are the clear input's.
    let mut got_video = Vec::new();
    let mut got_audio = Vec::new();
    for (p, period) in periods.iter().enumerate() {
        for set in period["sets"].as_array().unwrap() {
            let rep = &set["reps"][0];
            let init = rep["initialization"].as_str().unwrap();
            let track = init.split('/').next().unwrap();
            let dir = tmp.path().join(format!("p{p}")).join(track);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("init.mp4"), get(&stream("cenc", init))).unwrap();
            let first = rep["startNumber"].as_u64().unwrap();
            // Numbered from 1 in the period's folder, as track_hashes wants.
            for (i, n) in (first..first + rep["segments"].as_array().unwrap().len() as u64).enumerate() {
                std::fs::write(dir.join(format!("{}.m4s", i + 1)), get(&stream("cenc", &format!("{track}/{n}.m4s")))).unwrap();
            }
            // Its PSSH boxes (W3C common, Widevine, PlayReady), read by
            // pywidevine, name the period's KID and no other.
            let kids = common::pssh_kids(&dir.join("init.mp4"));
            let want_kid = cenc_keys[p].0.replace('-', "");
            for system in ["common", "widevine", "playready"] {
                assert!(kids.iter().any(|(_, s, k)| s == system && *k == want_kid), "period {p} {track}: {system}: {kids:?}");
            }
            assert!(kids.iter().all(|(_, _, k)| *k == want_kid), "period {p} {track}: {kids:?}");
            let media = if set["contentType"] == "video" { Media::Video } else { Media::Audio(0) };
            let hashes = track_hashes(&dir, Some(&cenc_keys[p].1), media)
                .unwrap_or_else(|e| panic!("period {p} {track}: {e}"));
            if p > 0 && media == Media::Video {
                // The previous period's key does not open this one.
                let wrong = track_hashes(&dir, Some(&cenc_keys[p - 1].1), media);
                assert!(wrong.as_ref() != Ok(&hashes), "period {p} decrypts with period {}'s key", p - 1);
            }
            match media {
                Media::Video => got_video.extend(hashes),
                _ => got_audio.extend(hashes),
            }
        }
    }
    assert_hashes_eq(&got_video, &clear_hashes(&input, Media::Video), "video, period by period");
    assert_hashes_eq(&got_audio, &clear_hashes(&input, Media::Audio(0)), "audio, period by period");

    // HLS AES-128: an EXT-X-KEY per period, each period's key from key
    // delivery by its KID, and ffmpeg plays it to the clear frames.
    let master = String::from_utf8(get(&stream("aes128", "master.m3u8"))).unwrap();
    let media_uri = master.lines().find(|l| l.ends_with("playlist.m3u8") && l.starts_with("video")).unwrap_or_else(|| panic!("{master}"));
    let playlist = String::from_utf8(get(&stream("aes128", media_uri))).unwrap();
    let key_lines: Vec<&str> = playlist.lines().filter(|l| l.starts_with("#EXT-X-KEY:")).collect();
    assert_eq!(key_lines.len(), PERIODS, "{playlist}");
    for (p, (kid, key)) in aes_keys.iter().enumerate() {
        assert!(key_lines[p].contains(&format!("/keys/v1/aes/{kid}")), "period {p}: {}", key_lines[p]);
        assert_eq!(hex::encode(get(&format!("{base}/keys/v1/aes/{kid}"))), *key, "key of period {p}");
    }
    // Each key line comes right before the first segment of its period.
    let segments_before_keys: Vec<usize> = {
        let mut seen = 0;
        let mut v = Vec::new();
        for l in playlist.lines() {
            if l.starts_with("#EXT-X-KEY:") {
                v.push(seen);
            } else if l.ends_with(".m4s") {
                seen += 1;
            }
        }
        v
    };
    assert_eq!(segments_before_keys, [0, 1, 2], "{playlist}");
    let played = hls_hashes(&stream("aes128", "master.m3u8"), Media::Video).unwrap();
    assert_hashes_eq(&played, &clear_hashes(&input, Media::Video), "ffmpeg HLS AES-128 across key changes");

    // HLS SAMPLE-AES (cbcs): before each period an EXT-X-MAP to its init
    // (the KID is in its `tenc`) and an EXT-X-KEY with its KEYID; ffmpeg
    // decrypts each period's init and segments with its key.
    let master = String::from_utf8(get(&stream("cbcs", "master.m3u8"))).unwrap();
    let media_uri = master.lines().find(|l| l.ends_with("playlist.m3u8") && l.starts_with("video")).unwrap_or_else(|| panic!("{master}"));
    let track = media_uri.split('/').next().unwrap();
    let playlist = String::from_utf8(get(&stream("cbcs", media_uri))).unwrap();
    // Per period: (init URI, KEYIDs, segment URIs), in playlist order.
    let mut cbcs_periods: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    for l in playlist.lines() {
        if let Some(uri) = l.strip_prefix("#EXT-X-MAP:URI=\"") {
            cbcs_periods.push((uri.trim_end_matches('"').to_string(), Vec::new(), Vec::new()));
        } else if let Some(attrs) = l.strip_prefix("#EXT-X-KEY:") {
            let keyid = attrs.split(',').find_map(|a| a.strip_prefix("KEYID=0x")).unwrap_or_else(|| panic!("{l}"));
            cbcs_periods.last_mut().unwrap_or_else(|| panic!("{playlist}")).1.push(keyid.to_lowercase());
        } else if l.ends_with(".m4s") {
            cbcs_periods.last_mut().unwrap().2.push(l.to_string());
        }
    }
    assert_eq!(cbcs_periods.len(), PERIODS, "{playlist}");
    let mut got_cbcs = Vec::new();
    for (p, (init, keyids, segments)) in cbcs_periods.iter().enumerate() {
        assert_eq!(init, &if p == 0 { "init.mp4".to_string() } else { format!("init-{p}.mp4") }, "{playlist}");
        assert_eq!(keyids, &[cenc_keys[p].0.replace('-', "")], "period {p}: {playlist}");
        assert_eq!(segments.len() as u64, PERIOD_SEGMENTS, "{playlist}");
        let dir = tmp.path().join(format!("cbcs{p}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("init.mp4"), get(&stream("cbcs", &format!("{track}/{init}")))).unwrap();
        for (i, seg) in segments.iter().enumerate() {
            std::fs::write(dir.join(format!("{}.m4s", i + 1)), get(&stream("cbcs", &format!("{track}/{seg}")))).unwrap();
        }
        got_cbcs.extend(track_hashes(&dir, Some(&cenc_keys[p].1), Media::Video).unwrap_or_else(|e| panic!("cbcs period {p}: {e}")));
    }
    assert_hashes_eq(&got_cbcs, &clear_hashes(&input, Media::Video), "HLS cbcs, period by period");

    // shaka-player: DASH cenc with Clear Key across the periods.
    let license = format!("{base}/keys/v1/clearkey");
    let play = |mode: &str, url: String, extra: &[&str]| -> Value {
        let mut args: Vec<std::ffi::OsString> =
            vec!["--mode".into(), mode.into(), "--url".into(), url.clone().into(), "--chromium".into(), chromium.clone().into()];
        args.extend(extra.iter().map(Into::into));
        let (out, results) = common::node_script("rotation.mjs", &args);
        let r = results.last().cloned().unwrap_or_else(|| panic!("rotation.mjs printed nothing: {out:?}"));
        assert!(out.status.success() && r["played"] == true, "{mode} {url}: {r}");
        assert!(r["maxStallMs"].as_u64().unwrap() < 1500, "{mode}: playback stood still: {r}");
        r
    };
    let r = play("dash", stream("cenc", "manifest.mpd"), &["--clearkey-license", &license]);
    assert_eq!(r["keySystem"], "org.w3.clearkey", "{r}");
    assert_eq!(r["stallsDetected"], 0, "{r}");
    let asked: Vec<BTreeSet<String>> = r["licenses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kids| kids.as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect())
        .collect();
    let b64url = |uuid_text: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(uuid::Uuid::parse_str(uuid_text).unwrap().as_bytes())
    };
    let want: BTreeSet<String> = cenc_keys.iter().map(|(kid, _)| b64url(kid)).collect();
    let all: BTreeSet<String> = asked.iter().flatten().cloned().collect();
    assert!(asked.len() >= PERIODS, "{PERIODS} license requests expected: {r}");
    assert_eq!(all, want, "the licenses asked for the three periods' KIDs: {r}");
    let inits: BTreeSet<&str> = r["inits"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(inits.iter().any(|u| u.ends_with("/init-2.mp4")), "{r}");

    // hls.js: AES-128 across the key changes.
    let r = play("hls", stream("aes128", "master.m3u8"), &[]);
    let fetched: BTreeSet<&str> = r["keys"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let want: BTreeSet<String> = aes_keys.iter().map(|(kid, _)| format!("{base}/keys/v1/aes/{kid}")).collect();
    assert_eq!(fetched.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>(), want, "{r}");

    // CPIX export: valid, with the periods, their keys and KeyPeriodFilters.
    let doc = tmp.path().join("rot.xml");
    ok(&cli(&base, TOKEN, &["locator", "cpix", "rot-loc", "-o", doc.to_str().unwrap()]));
    common::assert_cpix_schema_valid(&doc);
    let facts = cpix_facts(&doc);
    let periods = facts["periods"].as_array().unwrap();
    assert_eq!(
        periods.iter().map(|p| (p["id"].as_str().unwrap(), p["index"].as_str().unwrap())).collect::<Vec<_>>(),
        [("keyPeriod_0", "0"), ("keyPeriod_1", "1"), ("keyPeriod_2", "2")],
        "{facts}"
    );
    for (p, (kid, key)) in cenc_keys.iter().chain(&aes_keys).enumerate() {
        assert_eq!(facts["keys"][kid], *key, "key {p}: {facts}");
        let rules: Vec<&Value> = facts["rules"].as_array().unwrap().iter().filter(|r| r["kid"] == *kid).collect();
        assert!(!rules.is_empty(), "{kid}: {facts}");
        for rule in rules {
            let filter = &rule["filters"][0];
            assert_eq!(filter["tag"], "KeyPeriodFilter", "{rule}");
            assert_eq!(filter["periodId"], format!("keyPeriod_{}", p % PERIODS), "{rule}");
        }
    }
}

fn cpix_facts(doc: &Path) -> Value {
    common::cpix_check(&[Path::new("facts"), doc])
}
