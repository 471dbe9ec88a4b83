//! The SPEKE v2 key provider (`POST /speke/v2`) against a real
//! `castguard serve`, judged by tools we did not write:
//! - every request of AWS's SPEKE v2 verification suite
//!   (tests/cpix/speke-v2-requests) answered as that suite expects: the
//!   positive ones with every element of the request back and filled,
//!   checked by lxml (cpix_check.py `speke`) and against the CPIX 2.3
//!   schema; the negative ones refused with a 4xx and nothing stored;
//! - an answer encrypted for a recipient certificate decrypted by Python
//!   `cryptography` with the recipient's private key;
//! - Shaka Packager 3.4.2 encrypts a clip with the keys castguard
//!   answered (`--enable_raw_key_encryption`), and shaka-player in
//!   headless Chromium plays it with Clear Key licenses from castguard's
//!   key delivery under the configured policy (a token from pyjwt), and
//!   not without the token.

mod api_server;
mod common;

use api_server::{Server, TOKEN, cli, data_dir, ok};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The SPEKE credentials of these tests (tests/secrets.txt).
const SPEKE_TOKEN: &str = "e2e-speke-token-0123456789abcdef";
const SPEKE_BASIC: &str = "mediapackage:e2e-speke-password-0123";
const POLICY: &str = "speke-viewers";

const WIDEVINE: &str = "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed";
const PLAYREADY: &str = "9a04f079-9840-4286-ab92-e65be0885f95";
const FAIRPLAY: &str = "94ce86fb-07ff-4f43-adb8-93d2fa968ca2";
const W3C_COMMON: &str = "1077efec-c0b2-4d02-ace3-3c1e52e2fb4b";
const AWS_AES128: &str = "81376844-f976-481e-a84e-cc25d39b0b33";

fn cpix_dir() -> PathBuf {
    api_server::repo_root().join("tests/cpix")
}

fn requests_dir() -> PathBuf {
    cpix_dir().join("speke-v2-requests")
}

fn check(args: &[&Path]) -> Value {
    common::cpix_check(args)
}

/// Writes `text` to `dir/name` and returns the path.
fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The answer to `request`, judged by lxml: schema-valid, every element
/// of the request back and filled. Returns the facts (keys, DRM systems).
fn judged(dir: &Path, tag: &str, request: &str, answer: &str, key: Option<&Path>) -> Value {
    let req = file(dir, &format!("{tag}.req.xml"), request);
    let ans = file(dir, &format!("{tag}.ans.xml"), answer);
    let valid = check(&[
        Path::new("validate"),
        &ans,
        &cpix_dir().join("schema/cpix.xsd"),
    ]);
    assert_eq!(valid["valid"], true, "{tag}: {valid}\n{answer}");
    let mut args = vec![Path::new("speke"), &req, &ans];
    if let Some(k) = key {
        args.push(k);
    }
    let v = check(&args);
    assert_eq!(v["problems"], serde_json::json!([]), "{tag}: {v}\n{answer}");
    v
}

struct Speke {
    agent: ureq::Agent,
    url: String,
}

enum Auth<'a> {
    None,
    Bearer(&'a str),
    Basic(&'a str),
}

impl Speke {
    fn new(base: &str) -> Speke {
        Speke {
            // A fresh connection per request: a refused request's body is
            // not read, so the server closes that connection.
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_idle_connections(0)
                .max_idle_connections_per_host(0)
                .build()
                .into(),
            url: format!("{base}/speke/v2"),
        }
    }

    /// POST with `X-Speke-Version: version` (None: without it): status,
    /// the answer's X-Speke-Version, body.
    fn post_with(
        &self,
        auth: Auth,
        version: Option<&str>,
        body: &[u8],
    ) -> (u16, Option<String>, String) {
        use base64::Engine as _;
        let mut r = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/xml");
        match auth {
            Auth::None => {}
            Auth::Bearer(t) => r = r.header("Authorization", &format!("Bearer {t}")),
            Auth::Basic(up) => {
                let b = base64::engine::general_purpose::STANDARD.encode(up);
                r = r.header("Authorization", &format!("Basic {b}"));
            }
        }
        if let Some(v) = version {
            r = r.header("X-Speke-Version", v);
        }
        let mut res = r.send(body).unwrap();
        let v = res
            .headers()
            .get("x-speke-version")
            .map(|v| v.to_str().unwrap().to_string());
        let status = res.status().as_u16();
        (
            status,
            v,
            res.body_mut().read_to_string().unwrap_or_default(),
        )
    }

    fn post(&self, body: &str) -> (u16, String) {
        let (s, v, b) = self.post_with(Auth::Bearer(SPEKE_TOKEN), Some("2.0"), body.as_bytes());
        assert_eq!(
            v.as_deref(),
            Some("2.0"),
            "every answer names SPEKE 2.0: {s} {b}"
        );
        (s, b)
    }
}

/// A server with the SPEKE key provider on, bound to [`POLICY`].
fn speke_server(tmp: &tempfile::TempDir) -> Server {
    let token = file(tmp.path(), "speke.token", &format!("{SPEKE_TOKEN}\n"));
    let basic = file(tmp.path(), "speke.basic", SPEKE_BASIC);
    Server::start_with(
        &data_dir(tmp),
        Some(TOKEN),
        &[
            "--no-demo",
            "--speke-policy",
            POLICY,
            "--speke-token-file",
            token.to_str().unwrap(),
            "--speke-basic-auth-file",
            basic.to_str().unwrap(),
        ],
        &[],
    )
}

/// The token-restricted Clear Key policy players get licenses under.
fn create_policy(server: &Server) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(common::live::HMAC_KEY);
    ok(&cli(
        &server.url,
        TOKEN,
        &[
            "policy",
            "create",
            POLICY,
            "--issuer",
            common::live::ISSUER,
            "--audience",
            common::live::AUDIENCE,
            "--symmetric-key",
            &b64,
            "--required-claim",
            "groups=EntitledUsers",
        ],
    ));
}

/// The status of `GET /api/v1/content-keys/{name}`.
fn key_status(server: &Server, name: &str) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    agent
        .get(&format!("{}/api/v1/content-keys/{name}", server.url))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap()
        .status()
        .as_u16()
}

fn kids(request: &str) -> Vec<String> {
    request
        .split("<cpix:ContentKey kid=\"")
        .skip(1)
        .map(|s| s[..36].to_string())
        .collect()
}

/// A request of our own: `keys` (KID, intendedTrackType) of `scheme`, each
/// asking every system of `systems` for the elements listed with it
/// (space-separated; `master` and `media` are HLSSignalingData).
fn request(
    content_id: &str,
    scheme: &str,
    keys: &[(&str, &str)],
    systems: &[(&str, &str)],
) -> String {
    let mut x = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<cpix:CPIX contentId="{content_id}" version="2.3" xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"><cpix:ContentKeyList>"#
    );
    for (kid, _) in keys {
        x += &format!(r#"<cpix:ContentKey kid="{kid}" commonEncryptionScheme="{scheme}"/>"#);
    }
    x += "</cpix:ContentKeyList><cpix:DRMSystemList>";
    for (kid, _) in keys {
        for (system, elements) in systems {
            x += &format!(r#"<cpix:DRMSystem kid="{kid}" systemId="{system}">"#);
            for e in elements.split_whitespace() {
                x += &match e {
                    "master" | "media" => format!(r#"<cpix:HLSSignalingData playlist="{e}"/>"#),
                    other => format!("<cpix:{other}/>"),
                };
            }
            x += "</cpix:DRMSystem>";
        }
    }
    x += "</cpix:DRMSystemList><cpix:ContentKeyUsageRuleList>";
    for (kid, t) in keys {
        let filter = match *t {
            "SD" => r#"<cpix:VideoFilter maxPixels="589824"/>"#,
            "HD" => r#"<cpix:VideoFilter minPixels="589825" maxPixels="2073600"/>"#,
            "UHD" => r#"<cpix:VideoFilter minPixels="2073601"/>"#,
            "STEREO_AUDIO" => r#"<cpix:AudioFilter maxChannels="2"/>"#,
            "MULTICHANNEL_AUDIO" => r#"<cpix:AudioFilter minChannels="3"/>"#,
            "VIDEO" => "<cpix:VideoFilter/>",
            "AUDIO" => "<cpix:AudioFilter/>",
            _ => "",
        };
        x += &format!(
            r#"<cpix:ContentKeyUsageRule kid="{kid}" intendedTrackType="{t}">{filter}</cpix:ContentKeyUsageRule>"#
        );
    }
    x + "</cpix:ContentKeyUsageRuleList></cpix:CPIX>\n"
}

#[test]
fn answers_the_aws_reference_requests_and_refuses_the_negative_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let server = speke_server(&tmp);
    let speke = Speke::new(&server.url);
    let generic = std::fs::read_to_string(
        requests_dir()
            .join("general/1_generic_spekev2_dash_widevine_preset_video_1_audio_1_no_rotation.xml"),
    )
    .unwrap();

    // Authentication first: nothing is answered without it.
    let (s, v, _) = speke.post_with(Auth::None, Some("2.0"), generic.as_bytes());
    assert_eq!((s, v.as_deref()), (401, Some("2.0")));
    let (s, _, _) = speke.post_with(
        Auth::Bearer("e2e-speke-token-0123456789abcdeX"),
        Some("2.0"),
        generic.as_bytes(),
    );
    assert_eq!(s, 401);
    let (s, _, _) = speke.post_with(
        Auth::Basic("mediapackage:wrong-password-0123456"),
        Some("2.0"),
        generic.as_bytes(),
    );
    assert_eq!(s, 401);
    let (s, _, _) = speke.post_with(Auth::Bearer(TOKEN), Some("2.0"), generic.as_bytes());
    assert_eq!(s, 401, "the admin token is not a SPEKE credential");

    // Before the policy exists: 500, which encryptors retry; no key made.
    let (s, body) = speke.post(&generic);
    assert_eq!(s, 500, "{body}");
    for kid in kids(&generic) {
        assert_eq!(
            key_status(&server, &format!("speke-test_case_generic-{kid}")),
            404
        );
    }
    create_policy(&server);

    // Every request of AWS's suite, in both of its folders.
    let mut answered = 0;
    for folder in ["general", "vod"] {
        let mut files: Vec<_> = std::fs::read_dir(requests_dir().join(folder))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for path in files {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            let (s, body) = speke.post(&text);
            if name.contains("negative") {
                assert!((400..500).contains(&s), "{folder}/{name}: {s} {body}");
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                assert!(
                    v["error"]["message"]
                        .as_str()
                        .is_some_and(|m| !m.is_empty()),
                    "{name}: {body}"
                );
                let cid = text
                    .split("contentId=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                for kid in kids(&text) {
                    assert_eq!(
                        key_status(&server, &format!("speke-{cid}-{kid}")),
                        404,
                        "{name}: {kid} stored"
                    );
                }
                continue;
            }
            assert_eq!(s, 200, "{folder}/{name}: {body}");
            let facts = judged(tmp.path(), &format!("{folder}-{name}"), &text, &body, None);
            assert_eq!(
                facts["keys"].as_object().unwrap().len(),
                kids(&text).len(),
                "{facts}"
            );
            answered += 1;
        }
    }
    assert_eq!(answered, 4, "two positive requests in each folder");

    // The same request twice: the same keys (no rotation), stored sealed
    // under the content ID, bound to the policy.
    let (_, a) = speke.post(&generic);
    let (_, b) = speke.post(&generic);
    let fa = judged(tmp.path(), "again-a", &generic, &a, None);
    let fb = judged(tmp.path(), "again-b", &generic, &b, None);
    assert_eq!(fa["keys"], fb["keys"]);
    let keys_json = cli(
        &server.url,
        TOKEN,
        &[
            "key",
            "get",
            "speke-test_case_generic-0f083e4e-b831-4a3d-917e-ce78076e54aa",
            "--json",
        ],
    );
    let stored: Value = serde_json::from_str(&ok(&keys_json)).unwrap();
    assert_eq!(stored["policyName"], POLICY, "{stored}");
    let value = fa["keys"]["0f083e4e-b831-4a3d-917e-ce78076e54aa"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !server.log().contains(&value),
        "a key value reached the log"
    );

    // HTTP Basic works as well as the bearer token.
    let (s, _, body) = speke.post_with(Auth::Basic(SPEKE_BASIC), Some("2.0"), generic.as_bytes());
    assert_eq!(s, 200, "{body}");

    // The KIDs of one content ID are not handed out under another.
    let other = generic.replace("test_case_generic", "another_content");
    let (s, body) = speke.post(&other);
    assert_eq!(s, 409, "{body}");

    // Encrypted for the request's recipient (DASH-IF's Cert1): lxml-valid,
    // no value in the clear, and Python's cryptography gets the same keys.
    let cert_pem = std::fs::read_to_string(cpix_dir().join("Cert1.pem")).unwrap();
    let cert_b64: String = cert_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let with_recipient = generic.replacen(
        "<cpix:ContentKeyList>",
        &format!("<cpix:DeliveryDataList><cpix:DeliveryData><cpix:DeliveryKey><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></cpix:DeliveryKey></cpix:DeliveryData></cpix:DeliveryDataList><cpix:ContentKeyList>"),
        1,
    );
    let (s, enc) = speke.post(&with_recipient);
    assert_eq!(s, 200, "{enc}");
    assert!(!enc.contains("PlainValue"), "{enc}");
    let fe = judged(
        tmp.path(),
        "encrypted",
        &with_recipient,
        &enc,
        Some(&cpix_dir().join("Cert1.key.pem")),
    );
    assert_eq!(fe["encrypted"], true);
    assert_eq!(fe["keys"], fa["keys"]);

    // Multi-DRM, cbcs, PRESET-VIDEO-3 + PRESET-AUDIO-2: Widevine, PlayReady
    // (with the Smooth Streaming header), FairPlay and W3C Common.
    let multi_keys = [
        ("20000000-0000-4000-8000-000000000001", "SD"),
        ("20000000-0000-4000-8000-000000000002", "HD"),
        ("20000000-0000-4000-8000-000000000003", "UHD"),
        ("20000000-0000-4000-8000-000000000004", "STEREO_AUDIO"),
        ("20000000-0000-4000-8000-000000000005", "MULTICHANNEL_AUDIO"),
    ];
    let multi = request(
        "multi_drm",
        "cbcs",
        &multi_keys,
        &[
            (WIDEVINE, "PSSH ContentProtectionData master media"),
            (
                PLAYREADY,
                "PSSH ContentProtectionData URIExtXKey master media SmoothStreamingProtectionHeaderData",
            ),
            (FAIRPLAY, "URIExtXKey master media"),
            (W3C_COMMON, "PSSH ContentProtectionData"),
        ],
    );
    let (s, body) = speke.post(&multi);
    assert_eq!(s, 200, "{body}");
    let fm = judged(tmp.path(), "multi", &multi, &body, None);
    let drm = fm["drm"].as_array().unwrap();
    assert_eq!(drm.len(), 5 * 4, "{fm}");
    let fp = drm.iter().find(|d| d["systemId"] == FAIRPLAY).unwrap();
    assert!(
        fp["hls_media"]
            .as_str()
            .unwrap()
            .contains("KEYFORMAT=\"com.apple.streamingkeydelivery\""),
        "{fp}"
    );
    let wv = drm.iter().find(|d| d["systemId"] == WIDEVINE).unwrap();
    assert!(
        wv["hls_media"]
            .as_str()
            .unwrap()
            .starts_with("#EXT-X-KEY:METHOD=SAMPLE-AES"),
        "{wv}"
    );
    // Key labels: SD and HD are castguard track classes, UHD (UHD1+UHD2)
    // and the audio splits are not.
    let sd = cli(
        &server.url,
        TOKEN,
        &[
            "key",
            "get",
            "speke-multi_drm-20000000-0000-4000-8000-000000000001",
            "--json",
        ],
    );
    assert_eq!(
        serde_json::from_str::<Value>(&ok(&sd)).unwrap()["label"],
        "SD"
    );

    // HLS AES-128 (AWS's Clear Key AES-128 ID), SHARED: the key URI is
    // castguard's AES-128 key delivery.
    let aes_kid = "30000000-0000-4000-8000-000000000001";
    let aes = request(
        "aes_content",
        "cbcs",
        &[(aes_kid, "ALL")],
        &[(AWS_AES128, "URIExtXKey master media")],
    );
    let (s, body) = speke.post(&aes);
    assert_eq!(s, 200, "{body}");
    let fa128 = judged(tmp.path(), "aes128", &aes, &body, None);
    let d = &fa128["drm"][0];
    assert_eq!(
        d["uri"],
        format!("{}/keys/v1/aes/{aes_kid}", server.url),
        "{d}"
    );
    assert!(
        d["hls_media"]
            .as_str()
            .unwrap()
            .starts_with("#EXT-X-KEY:METHOD=AES-128,URI="),
        "{d}"
    );
    // A player gets that key from castguard's AES-128 key delivery under
    // the SPEKE policy: with an entitled token, not without one.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let aes_url = format!("{}/keys/v1/aes/{aes_kid}", server.url);
    let token = common::live::token("EntitledUsers");
    let mut r = agent
        .get(&aes_url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let bytes = r.body_mut().read_to_vec().unwrap();
    let hex_key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex_key, fa128["keys"][aes_kid].as_str().unwrap());
    assert_eq!(agent.get(&aes_url).call().unwrap().status().as_u16(), 401);

    // What the suite's negative tests do to the generic request, and more:
    // each refused with a 4xx naming the problem, nothing stored.
    let fairplay_cenc = request(
        "fp_cenc",
        "cenc",
        &[("40000000-0000-4000-8000-000000000001", "ALL")],
        &[(FAIRPLAY, "media")],
    );
    let unfillable = request(
        "no_pssh",
        "cbcs",
        &[("40000000-0000-4000-8000-000000000002", "ALL")],
        &[(FAIRPLAY, "PSSH")],
    );
    let cut = |from: &str, to: &str| {
        let a = generic.find(from).unwrap();
        let b = generic.find(to).unwrap() + to.len();
        format!("{}{}", &generic[..a], &generic[b..])
    };
    let no_rules = cut(
        "<cpix:ContentKeyUsageRuleList>",
        "</cpix:ContentKeyUsageRuleList>",
    );
    let no_drm = cut("<cpix:DRMSystemList>", "</cpix:DRMSystemList>");
    let no_scheme = generic.replace(" commonEncryptionScheme=\"cenc\"", "");
    let no_track_type = generic.replace(" intendedTrackType=\"VIDEO\"", "");
    let doctype = generic.replacen(
        "<cpix:CPIX",
        "<!DOCTYPE cpix:CPIX [<!ENTITY x SYSTEM \"http://127.0.0.1:9/x\">]><cpix:CPIX",
        1,
    );
    for (what, body) in [
        ("empty", String::new()),
        ("not XML", "not xml".to_string()),
        ("FairPlay with cenc", fairplay_cenc),
        ("FairPlay PSSH", unfillable),
        ("no usage rules", no_rules),
        ("no DRM systems", no_drm),
        ("no commonEncryptionScheme", no_scheme),
        ("no intendedTrackType", no_track_type),
        ("DOCTYPE", doctype),
    ] {
        let (s, answer) = speke.post(&body);
        assert!((400..500).contains(&s), "{what}: {s} {answer}");
        assert!(!answer.contains("PlainValue"), "{what}: {answer}");
    }
    for kid in [
        "40000000-0000-4000-8000-000000000001",
        "40000000-0000-4000-8000-000000000002",
    ] {
        assert_eq!(key_status(&server, &format!("speke-fp_cenc-{kid}")), 404);
        assert_eq!(key_status(&server, &format!("speke-no_pssh-{kid}")), 404);
    }
    // Headers and size.
    let (s, _, _) = speke.post_with(Auth::Bearer(SPEKE_TOKEN), None, generic.as_bytes());
    assert_eq!(s, 400, "no X-Speke-Version");
    let (s, _, _) = speke.post_with(Auth::Bearer(SPEKE_TOKEN), Some("1.0"), generic.as_bytes());
    assert_eq!(s, 400, "X-Speke-Version 1.0");
    let big = vec![b' '; 1024 * 1024 + 1];
    let (s, _, _) = speke.post_with(Auth::Bearer(SPEKE_TOKEN), Some("2.0"), &big);
    assert_eq!(s, 413, "over the body limit");
}

/// Shaka Packager encrypts with the keys castguard's SPEKE answer gave;
/// shaka-player in Chromium plays the result with Clear Key licenses from
/// castguard's key delivery under the SPEKE policy.
#[test]
fn shaka_packager_output_with_speke_keys_plays_with_castguard_licenses() {
    let chromium = common::chromium(&["playwright-core", "shaka-player"]);
    let tmp = tempfile::tempdir().unwrap();
    let server = speke_server(&tmp);
    create_policy(&server);
    let speke = Speke::new(&server.url);
    let (vid, aud) = (
        "50000000-0000-4000-8000-000000000001",
        "50000000-0000-4000-8000-000000000002",
    );
    let req = request(
        "shaka_title",
        "cenc",
        &[(vid, "VIDEO"), (aud, "AUDIO")],
        &[
            (W3C_COMMON, "PSSH"),
            (WIDEVINE, "PSSH ContentProtectionData"),
        ],
    );
    let (s, body) = speke.post(&req);
    assert_eq!(s, 200, "{body}");
    let facts = judged(tmp.path(), "shaka", &req, &body, None);
    let key = |kid: &str| facts["keys"][kid].as_str().unwrap().to_string();
    let hex = |kid: &str| kid.replace('-', "");

    let out = tmp.path().join("shaka");
    std::fs::create_dir_all(&out).unwrap();
    let clip = common::fixture("h264_aac_nob.mp4");
    let clip = clip.to_str().unwrap();
    let keys = format!(
        "label=VIDEO:key_id={}:key={},label=AUDIO:key_id={}:key={}",
        hex(vid),
        key(vid),
        hex(aud),
        key(aud)
    );
    let o = Command::new(common::shaka())
        .current_dir(&out)
        .args([
            &format!("in={clip},stream=video,output=video.mp4,drm_label=VIDEO"),
            &format!("in={clip},stream=audio,output=audio.mp4,drm_label=AUDIO"),
            "--enable_raw_key_encryption",
            "--keys",
            &keys,
            "--protection_scheme",
            "cenc",
            "--clear_lead",
            "0",
            "--protection_systems",
            "CommonSystem",
            "--mpd_output",
            "manifest.mpd",
        ])
        .output()
        .expect("run shaka packager");
    common::assert_ok("shaka packager", &o);

    let play = |token: Option<&str>| {
        let mut args: Vec<std::ffi::OsString> = vec![
            "--url".into(),
            format!("{}/__static/manifest.mpd", server.url).into(),
            "--serve-dir".into(),
            out.clone().into(),
            "--clearkey-license".into(),
            format!("{}/keys/v1/clearkey", server.url).into(),
            "--chromium".into(),
            chromium.clone().into(),
        ];
        if let Some(t) = token {
            args.extend(["--license-token".into(), t.into()]);
        }
        let (o, results) = common::node_script("play_url.mjs", &args);
        let r = results
            .last()
            .cloned()
            .unwrap_or_else(|| panic!("play_url.mjs printed nothing: {o:?}"));
        (o.status.success(), r)
    };
    let token = common::live::token("EntitledUsers");
    let (played, r) = play(Some(&token));
    assert!(played && r["played"] == true, "entitled: {r}");
    assert_eq!(r["keySystem"], "org.w3.clearkey", "{r}");
    let (played, r) = play(None);
    assert!(!played && r["played"] == false, "without a token: {r}");
    let (played, r) = play(Some(&common::live::token("Guests")));
    assert!(!played && r["played"] == false, "not entitled: {r}");
}
