//! CPIX export and import against a real `castguard serve`, judged by
//! tools we did not write: lxml validates every exported document against
//! the CPIX 2.3 schema (tests/cpix/schema), Python `cryptography` decrypts
//! the encrypted export with the test recipient's private key
//! (tests/cpix_check.py), and the signalling is compared with what the
//! origin's own MPD and HLS playlists carry for the locator. Import runs
//! the DASH-IF test vectors through `castguard key import`; XML signature
//! verdicts are compared with xmlsec's (libxmlsec1), documents are signed
//! by signxml and encrypted for castguard's recipient certificate by
//! `cryptography`, and imported keys are fetched back as Clear Key
//! licenses.

mod api_server;
mod common;

use api_server::{Server, TOKEN, cli, data_dir, ok};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const VID_KID: &str = "10000000-0000-4000-8000-000000000001";
const AUD_KID: &str = "10000000-0000-4000-8000-000000000002";
// e2e-key1 and e2e-key2 of tests/secrets.txt.
const VID_KEY: &str = "000102030405060708090a0b0c0d0e0f";
const AUD_KEY: &str = "0f0e0d0c0b0a09080706050403020100";

fn cpix_dir() -> PathBuf {
    api_server::repo_root().join("tests/cpix")
}

fn check(args: &[&Path]) -> Value {
    common::cpix_check(args)
}

fn assert_schema_valid(doc: &Path) {
    common::assert_cpix_schema_valid(doc)
}

fn hex_to_b64(hex: &str) -> String {
    use base64::Engine as _;
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

struct Api {
    agent: ureq::Agent,
    base: String,
}

impl Api {
    fn new(base: &str) -> Api {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Api {
            agent,
            base: base.to_string(),
        }
    }

    fn put(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/api/v1/{path}", self.base);
        let mut r = self
            .agent
            .put(&url)
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .send_json(&body)
            .unwrap();
        let status = r.status().as_u16();
        let v: Value = r.body_mut().read_json().unwrap_or(Value::Null);
        assert!(status < 300, "PUT {url}: {status} {v}");
        v
    }

    fn text(&self, path: &str) -> String {
        let url = format!("{}{path}", self.base);
        let mut r = self.agent.get(&url).call().unwrap();
        assert_eq!(r.status().as_u16(), 200, "GET {url}");
        r.body_mut().read_to_string().unwrap()
    }

    /// A raw request: status and body.
    fn raw(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
        let url = format!("{}/api/v1/{path}", self.base);
        let auth = format!("Bearer {TOKEN}");
        let r = match method {
            "GET" => self.agent.get(&url).header("Authorization", &auth).call(),
            _ => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .header("Content-Type", content_type)
                .send(body),
        };
        let mut r = r.unwrap();
        (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        )
    }
}

/// A locator with an audio key and a video key (by track class), `cenc`
/// for DASH with Widevine and PlayReady, `cbcs` for HLS with Widevine, on
/// a real ingested title.
fn locator_with_classes(server: &Server, api: &Api) -> String {
    let run = |args: &[&str]| cli(&server.url, TOKEN, args);
    api.put("content-keys/vid", json!({"type": "CommonEncryption", "keyId": VID_KID, "value": hex_to_b64(VID_KEY), "label": "video"}));
    api.put("content-keys/aud", json!({"type": "CommonEncryption", "keyId": AUD_KID, "value": hex_to_b64(AUD_KEY), "label": "audio"}));
    let clip = common::fixture("h264_aac_nob.mp4");
    ok(&run(&[
        "asset",
        "ingest",
        "movie",
        "--file",
        clip.to_str().unwrap(),
    ]));
    let keys = json!({"defaultKey": {"label": "video"}, "keyToTrackMappings": [
        {"label": "audio", "tracks": [{"trackSelections": [{"property": "TrackClass", "operation": "Equal", "value": "AUDIO"}]}]}]});
    api.put(
        "streaming-policies/classes",
        json!({
        "commonEncryptionCenc": {"enabledProtocols": {"dash": true, "hls": false},
            "drm": {"widevine": {}, "playReady": {}}, "contentKeys": keys},
        "commonEncryptionCbcs": {"enabledProtocols": {"dash": false, "hls": true},
            "drm": {"widevine": {}}, "contentKeys": keys}}),
    );
    let loc = api.put(
        "streaming-locators/movie-loc",
        json!({"assetName": "movie", "streamingPolicyName": "classes",
        "contentKeys": [{"id": VID_KID}, {"id": AUD_KID}]}),
    );
    loc["streamingLocatorId"].as_str().unwrap().to_string()
}

#[test]
fn export_is_schema_valid_decrypts_independently_and_matches_the_manifests() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&data_dir(&tmp), Some(TOKEN));
    let api = Api::new(&server.url);
    let id = locator_with_classes(&server, &api);
    let run = |args: &[&str]| cli(&server.url, TOKEN, args);

    // Plain: PlainValue keys.
    let plain = tmp.path().join("plain.xml");
    ok(&run(&[
        "locator",
        "cpix",
        "movie-loc",
        "-o",
        plain.to_str().unwrap(),
    ]));
    assert_schema_valid(&plain);
    let facts = check(&[Path::new("facts"), &plain]);
    assert_eq!(
        facts["keys"],
        json!({VID_KID: VID_KEY, AUD_KID: AUD_KEY}),
        "{facts}"
    );

    // Encrypted for Cert1: lxml-valid, and Python's cryptography gets the
    // same keys with Cert1's private key (MACs verified there too).
    let enc = tmp.path().join("enc.xml");
    let cert = cpix_dir().join("Cert1.pem");
    ok(&run(&[
        "locator",
        "cpix",
        "movie-loc",
        "--recipient-cert",
        cert.to_str().unwrap(),
        "-o",
        enc.to_str().unwrap(),
    ]));
    let enc_text = std::fs::read_to_string(&enc).unwrap();
    assert!(
        !enc_text.contains("PlainValue") && !enc_text.contains(&hex_to_b64(VID_KEY)),
        "{enc_text}"
    );
    assert_schema_valid(&enc);
    let dec = check(&[Path::new("facts"), &enc, &cpix_dir().join("Cert1.key.pem")]);
    assert_eq!(dec["encrypted"], true);
    assert_eq!(dec["keys"], facts["keys"]);
    // A certificate that is not one: 400, nothing exported.
    let (status, body) = api.raw(
        "POST",
        "streaming-locators/movie-loc/cpix",
        "application/x-pem-file",
        b"not a certificate",
    );
    assert_eq!(status, 400, "{body}");

    // Usage rules by track class, with the pixel bounds of media::track_class.
    let rules = facts["rules"].as_array().unwrap();
    let rule = |kid: &str, class: &str| {
        rules
            .iter()
            .find(|r| r["kid"] == kid && r["intendedTrackType"] == class)
            .unwrap_or_else(|| panic!("{kid} {class}: {rules:?}"))
    };
    assert_eq!(
        rule(AUD_KID, "AUDIO")["filters"],
        json!([{"tag": "AudioFilter"}])
    );
    assert_eq!(
        rule(VID_KID, "SD")["filters"],
        json!([{"tag": "VideoFilter", "maxPixels": "589824"}])
    );
    assert_eq!(
        rule(VID_KID, "HD")["filters"],
        json!([{"tag": "VideoFilter", "minPixels": "589825", "maxPixels": "2073600"}])
    );
    assert_eq!(
        rule(VID_KID, "UHD2")["filters"],
        json!([{"tag": "VideoFilter", "minPixels": "8847361"}])
    );

    // The same signalling as the origin's manifests: every cenc:pssh of
    // the MPD is a CPIX PSSH and back; every EXT-X-KEY of the media
    // playlists and EXT-X-SESSION-KEY of the master is in HLSSignalingData.
    let drm = facts["drm"].as_array().unwrap();
    let mpd = api.text(&format!("/s/{id}/cenc/manifest.mpd"));
    let psshs: Vec<&str> = drm
        .iter()
        .filter(|d| d.get("psshType").is_some())
        .filter_map(|d| d["systemId"].as_str())
        .collect();
    assert!(
        psshs.contains(&"edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"),
        "{drm:?}"
    );
    assert!(
        psshs.contains(&"9a04f079-9840-4286-ab92-e65be0885f95"),
        "{drm:?}"
    );
    let cpix_psshs = element_texts(&std::fs::read_to_string(&plain).unwrap(), "PSSH");
    let mpd_psshs = element_texts(&mpd, "cenc:pssh");
    assert!(!mpd_psshs.is_empty(), "{mpd}");
    for p in &mpd_psshs {
        assert!(
            cpix_psshs.contains(p),
            "MPD pssh {p} not in the CPIX export"
        );
    }
    for d in drm.iter().filter(|d| d.get("contentProtection").is_some()) {
        assert_eq!(
            d["contentProtection"]["tag"], "{urn:mpeg:dash:schema:mpd:2011}ContentProtection",
            "{d}"
        );
        let scheme = d["contentProtection"]["schemeIdUri"].as_str().unwrap();
        assert!(
            mpd.contains(&format!("schemeIdUri=\"{scheme}\"")),
            "{scheme} not in the MPD"
        );
    }
    let master = api.text(&format!("/s/{id}/cbcs/master.m3u8"));
    let cpix_master: Vec<&str> = drm
        .iter()
        .filter_map(|d| d["hls_master"].as_str())
        .map(str::trim_end)
        .collect();
    let cpix_media: Vec<&str> = drm
        .iter()
        .filter_map(|d| d["hls_media"].as_str())
        .map(str::trim_end)
        .collect();
    assert!(!cpix_master.is_empty() && !cpix_media.is_empty(), "{drm:?}");
    for line in master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-SESSION-KEY:"))
    {
        assert!(
            cpix_master.contains(&line),
            "master {line} not in the CPIX export {cpix_master:?}"
        );
    }
    let mut media_keys = Vec::new();
    for uri in playlist_uris(&master) {
        let pl = api.text(&format!("/s/{id}/cbcs/{uri}"));
        media_keys.extend(
            pl.lines()
                .filter(|l| l.starts_with("#EXT-X-KEY:"))
                .map(str::to_string),
        );
    }
    assert!(!media_keys.is_empty(), "{master}");
    for line in &media_keys {
        assert!(
            cpix_media.contains(&line.as_str()),
            "media playlist {line} not in the CPIX export"
        );
    }
    for line in &cpix_media {
        assert!(
            media_keys.iter().any(|m| m == line),
            "CPIX {line} in no media playlist"
        );
    }
    // Both the audio and the video key are signalled for HLS.
    for kid in [VID_KID, AUD_KID] {
        assert!(
            drm.iter()
                .any(|d| d["kid"] == kid && d.get("hls_media").is_some()),
            "{kid}: {drm:?}"
        );
    }
}

/// Texts of every `<name>...</name>` in `xml`.
fn element_texts(xml: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(after[..j].trim().to_string());
        rest = &after[j..];
    }
    out
}

/// Media playlist URIs of a master playlist (variant lines and
/// `EXT-X-MEDIA` `URI`s).
fn playlist_uris(master: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in master.lines() {
        if !line.starts_with('#') && !line.trim().is_empty() {
            out.push(line.trim().to_string());
        } else if line.starts_with("#EXT-X-MEDIA:")
            && let Some(i) = line.find("URI=\"")
        {
            let rest = &line[i + 5..];
            out.push(rest[..rest.find('"').unwrap()].to_string());
        }
    }
    out
}

#[test]
fn import_dash_if_vectors_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&data_dir(&tmp), Some(TOKEN));
    let api = Api::new(&server.url);
    let run = |args: &[&str]| cli(&server.url, TOKEN, args);
    let vector = |n: &str| {
        cpix_dir()
            .join("test-vectors")
            .join(n)
            .to_string_lossy()
            .into_owned()
    };
    let key1 = cpix_dir()
        .join("Cert1.key.pem")
        .to_string_lossy()
        .into_owned();
    let keys_json =
        || -> Value { serde_json::from_str(&ok(&run(&["key", "list", "--json"]))).unwrap() };
    let fails = |args: &[&str]| {
        let out = run(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    // Empty document: nothing, no error.
    let out = ok(&run(&["key", "import", &vector("EmptyDocument.xml")]));
    assert!(out.contains("no content keys"), "{out}");
    // Refused with a reason, nothing stored.
    let e = fails(&[
        "key",
        "import",
        &vector("Invalid_WrongMac.xml"),
        "--recipient-key",
        &key1,
    ]);
    assert!(e.contains("ValueMAC"), "{e}");
    for bad in [
        "Invalid_BadContentKeysSignature.xml",
        "Invalid_BadDocumentSignature.xml",
    ] {
        let e = fails(&["key", "import", &vector(bad), "--recipient-key", &key1]);
        assert!(
            e.contains("XML signature invalid: Signature 1 of 1"),
            "{bad}: {e}"
        );
    }
    // Encrypted without the key: the server says how.
    let e = fails(&["key", "import", &vector("EncryptedContentKeys.xml")]);
    assert!(
        e.contains("HTTP 400") && e.contains("--recipient-key"),
        "{e}"
    );
    assert_eq!(keys_json(), json!([]));

    // The vector with Cert1's key gives the Readme's keys, stored sealed:
    // a locator export shows the same values.
    let out = ok(&run(&[
        "key",
        "import",
        &vector("EncryptedContentKeys.xml"),
        "--recipient-key",
        &key1,
        "--dry-run",
    ]));
    assert!(out.contains("dry run"), "{out}");
    assert_eq!(keys_json(), json!([]));
    let out = ok(&run(&[
        "key",
        "import",
        &vector("EncryptedContentKeys.xml"),
        "--recipient-key",
        &key1,
    ]));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("create")).count(),
        4,
        "{out}"
    );
    // DASH-IF vector keys (tests/cpix/test-vectors/Readme.md).
    let readme = [
        (
            "bd5adf51-cf04-410f-aac3-ec63a69e929e",
            "deb5a81d86ac42e6cee876c91ab1ad2f",
        ),
        (
            "d2920429-87ab-41e6-a4c5-a8c836b6312e",
            "3b9c3d15d662c2640ae2e217cc0ce269",
        ),
        (
            "e17ba4b8-faff-4d30-bcba-7485e3f2e884",
            "0b0bbfde148105143b4aeac17590f9a3",
        ),
        (
            "0ae6b9ad-92d2-4ebe-882b-1d07dee70715",
            "141ebf11c93d63d497cba6d8f1453f33",
        ),
    ];
    ok(&run(&["asset", "create", "a"]));
    let (status, body) = api.raw("GET", "content-keys", "", b"");
    assert_eq!(status, 200, "{body}");
    api.put(
        "streaming-locators/vectors",
        json!({"assetName": "a", "streamingPolicyName": "Predefined_MultiDrmCencStreaming",
        "contentKeys": readme.iter().map(|(k, _)| json!({"id": k})).collect::<Vec<_>>()}),
    );
    // Keys are fetched through list-content-keys (not CPIX: the asset has
    // no media to resolve).
    let listed: Value = serde_json::from_str(&ok(&run(&[
        "locator", "keys", "vectors", "--values", "--json",
    ])))
    .unwrap();
    for (kid, hex) in readme {
        let k = listed["contentKeys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == kid)
            .unwrap_or_else(|| panic!("{kid}: {listed}"));
        assert_eq!(k["value"], hex_to_b64(hex), "{kid}");
    }
    // Same document again: idempotent.
    let out = ok(&run(&[
        "key",
        "import",
        &vector("EncryptedContentKeys.xml"),
        "--recipient-key",
        &key1,
    ]));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("exists")).count(),
        4,
        "{out}"
    );
    // A KID we hold with another value: 409 naming the KID, nothing stored.
    let clash = format!(
        r#"<CPIX xmlns="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"><ContentKeyList>
        <ContentKey kid="20000000-0000-4000-8000-000000000009"><Data><pskc:Secret><pskc:PlainValue>{}</pskc:PlainValue></pskc:Secret></Data></ContentKey>
        <ContentKey kid="bd5adf51-cf04-410f-aac3-ec63a69e929e"><Data><pskc:Secret><pskc:PlainValue>{}</pskc:PlainValue></pskc:Secret></Data></ContentKey>
        </ContentKeyList></CPIX>"#,
        hex_to_b64(VID_KEY),
        hex_to_b64(AUD_KEY)
    );
    let (status, body) = api.raw("POST", "import/cpix", "application/xml", clash.as_bytes());
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains("bd5adf51-cf04-410f-aac3-ec63a69e929e"),
        "{body}"
    );
    assert_eq!(keys_json().as_array().unwrap().len(), 4);
    // Hostile XML: refused by name, nothing stored.
    let xxe = br#"<?xml version="1.0"?><!DOCTYPE CPIX [<!ENTITY x SYSTEM "file:///etc/passwd">]><CPIX xmlns="urn:dashif:org:cpix">&x;</CPIX>"#;
    let (status, body) = api.raw("POST", "import/cpix", "application/xml", xxe);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("DOCTYPE"), "{body}");
    let (status, body) = api.raw(
        "POST",
        "import/cpix",
        "application/xml",
        b"<CPIX xmlns=\"urn:dashif:org:cpix\"><ContentKeyList>",
    );
    assert_eq!(status, 400, "{body}");
    let unknown = r#"<CPIX xmlns="urn:dashif:org:cpix"><ContentKeyUsageRuleList><ContentKeyUsageRule kid="20000000-0000-4000-8000-000000000009"><SpatialFilter/></ContentKeyUsageRule></ContentKeyUsageRuleList></CPIX>"#;
    let (status, body) = api.raw("POST", "import/cpix", "application/xml", unknown.as_bytes());
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("SpatialFilter"), "{body}");
    let big = vec![b' '; 5 * 1024 * 1024];
    let (status, _) = api.raw("POST", "import/cpix", "application/xml", &big);
    assert_eq!(status, 413);
    // Plain keys with usage rules by label: imported, the labels reported
    // as not kept.
    let e = fails(&[
        "key",
        "import",
        &vector("UsageRulesBasedOnLabels.xml"),
        "--policy",
        "missing-policy",
        "--dry-run",
    ]);
    assert!(
        e.contains("HTTP 404") && e.contains("missing-policy"),
        "{e}"
    );
    let e = fails(&[
        "key",
        "import",
        &vector("UsageRulesBasedOnLabels.xml"),
        "--policy",
        "missing-policy",
    ]);
    assert!(
        e.contains("HTTP 404") && e.contains("missing-policy"),
        "{e}"
    );
    let out = ok(&run(&[
        "key",
        "import",
        &vector("UsageRulesBasedOnLabels.xml"),
    ]));
    assert!(out.contains("not kept: LabelFilter SD-Video"), "{out}");
    assert_eq!(keys_json().as_array().unwrap().len(), 8);
}

fn py(args: &[&str]) -> Value {
    check(&args.iter().map(Path::new).collect::<Vec<_>>())
}

const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const EXC_C14N_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";

fn b64url(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

impl Api {
    /// A Clear Key license (no token: the keys' policy is open): KID (hex
    /// UUID) to key (hex).
    fn clearkey(&self, kids: &[&str]) -> std::collections::BTreeMap<String, String> {
        let body = json!({"kids": kids.iter().map(|k| b64url(uuid::Uuid::parse_str(k).unwrap().as_bytes())).collect::<Vec<_>>(),
            "type": "temporary"});
        let mut r = self
            .agent
            .post(&format!("{}/keys/v1/clearkey", self.base))
            .send_json(&body)
            .unwrap();
        let status = r.status().as_u16();
        let v: Value = r.body_mut().read_json().unwrap_or(Value::Null);
        assert_eq!(status, 200, "{v}");
        use base64::Engine as _;
        let d = |s: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s.as_str().unwrap())
                .unwrap()
        };
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                let kid = uuid::Uuid::from_slice(&d(&k["kid"])).unwrap().to_string();
                let key: String = d(&k["k"]).iter().map(|b| format!("{b:02x}")).collect();
                (kid, key)
            })
            .collect()
    }
}

/// XML signatures: castguard's verdict on the DASH-IF vectors (and a
/// tampered one) equals xmlsec's; a correctly signed vector imports with
/// the values `cryptography` decrypts, its signers shown and, with
/// `--trusted-signer`, required. Then the server's own recipient
/// certificate: a document encrypted for it (by `cryptography`) and signed
/// (by signxml, Exclusive C14N, RSA-SHA256) is imported as it is and its
/// keys come back in a Clear Key license with the right values.
#[test]
fn signatures_agree_with_xmlsec_and_documents_encrypted_for_castguard_import() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&data_dir(&tmp), Some(TOKEN));
    let api = Api::new(&server.url);
    let run = |args: &[&str]| cli(&server.url, TOKEN, args);
    let fails = |args: &[&str]| {
        let out = run(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let path = |p: PathBuf| p.to_string_lossy().into_owned();
    let vector = |n: &str| path(cpix_dir().join("test-vectors").join(n));
    let key1 = path(cpix_dir().join("Cert1.key.pem"));
    let work = |n: &str| path(tmp.path().join(n));
    api.put(
        "content-key-policies/open-ck",
        json!({"properties": {"options": [{"name": "clearkey",
            "configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
            "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyOpenRestriction"}}]}}),
    );

    // Verdicts: ours (the import succeeds) == xmlsec's (every signature valid).
    let complex = std::fs::read(vector("Complex.xml")).unwrap();
    let mut tampered = complex.clone();
    let at = String::from_utf8_lossy(&complex)
        .find("<ContentKey kid=\"a")
        .unwrap()
        + "<ContentKey kid=\"".len();
    tampered[at] = b'b'; // still a KID, another one
    std::fs::write(work("tampered.xml"), &tampered).unwrap();
    let mut verdicts = Vec::new();
    for file in [
        vector("Complex.xml"),
        vector("Invalid_BadContentKeysSignature.xml"),
        vector("Invalid_BadDocumentSignature.xml"),
        work("tampered.xml"),
    ] {
        let xmlsec = py(&["verify", &file]);
        let independent = xmlsec["all_valid"].as_bool().unwrap();
        let out = run(&[
            "key",
            "import",
            &file,
            "--recipient-key",
            &key1,
            "--dry-run",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.success(),
            independent,
            "{file}: xmlsec {xmlsec}, castguard {stderr}"
        );
        if !independent {
            assert!(
                stderr.contains("XML signature invalid: Signature "),
                "{stderr}"
            );
        }
        verdicts.push(independent);
    }
    assert_eq!(verdicts, [true, false, false, false]);

    // Complex.xml imports: signers shown, the values Python decrypts.
    let facts = py(&["facts", &vector("Complex.xml"), &key1]);
    let out = ok(&run(&[
        "key",
        "import",
        &vector("Complex.xml"),
        "--recipient-key",
        &key1,
        "--policy",
        "open-ck",
    ]));
    assert!(
        out.contains("signed  CPIX by CN=CPIX Example Entity 4")
            && out.contains("signed  ContentKeyList by CN=CPIX Example Entity 3")
            && out.contains("not checked against a trusted signer"),
        "{out}"
    );
    let want: std::collections::BTreeMap<String, String> = facts["keys"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    assert_eq!(want.len(), 4);
    let kids: Vec<&str> = want.keys().map(String::as_str).collect();
    assert_eq!(api.clearkey(&kids), want);
    // A trusted signer: Cert4 signed the document; Cert1 signed nothing.
    let out = ok(&run(&[
        "key",
        "import",
        &vector("Complex.xml"),
        "--recipient-key",
        &key1,
        "--trusted-signer",
        &path(cpix_dir().join("Cert4.pem")),
        "--dry-run",
    ]));
    assert!(
        out.contains("signed  CPIX by CN=CPIX Example Entity 4") && out.contains(", trusted"),
        "{out}"
    );
    let e = fails(&[
        "key",
        "import",
        &vector("Complex.xml"),
        "--recipient-key",
        &key1,
        "--trusted-signer",
        &path(cpix_dir().join("Cert1.pem")),
        "--dry-run",
    ]);
    assert!(e.contains("not signed by the trusted signer"), "{e}");

    // castguard's recipient certificate: made once, the same on every GET.
    ok(&run(&[
        "key",
        "recipient-cert",
        "-o",
        &work("castguard.pem"),
    ]));
    let pem = std::fs::read_to_string(work("castguard.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let (status, again) = api.raw("GET", "cpix/recipient-certificate", "", b"");
    assert_eq!((status, again.as_str()), (200, pem.as_str()));
    // A vendor's document: two keys (tests/secrets.txt e2e-key1/2),
    // encrypted for castguard, signed over the whole document.
    let (k1, k2) = (
        "30000000-0000-4000-8000-000000000001",
        "30000000-0000-4000-8000-000000000002",
    );
    use base64::Engine as _;
    let b64 = |h: &str| base64::engine::general_purpose::STANDARD.encode(hex_bytes(h));
    std::fs::write(
        work("plain.xml"),
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><CPIX xmlns="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" contentId="vendor-title"><ContentKeyList id="keys"><ContentKey kid="{k1}"><Data><pskc:Secret><pskc:PlainValue>{}</pskc:PlainValue></pskc:Secret></Data></ContentKey><ContentKey kid="{k2}"><Data><pskc:Secret><pskc:PlainValue>{}</pskc:PlainValue></pskc:Secret></Data></ContentKey></ContentKeyList></CPIX>"#,
            b64(VID_KEY),
            b64(AUD_KEY)
        ),
    )
    .unwrap();
    py(&[
        "encrypt",
        &work("plain.xml"),
        &work("castguard.pem"),
        &work("enc.xml"),
    ]);
    std::fs::create_dir_all(work("rsa")).unwrap();
    std::fs::create_dir_all(work("ec")).unwrap();
    py(&["keygen", &work("rsa"), "rsa"]);
    py(&["keygen", &work("ec"), "ec"]);
    let signer = work("rsa/cert.pem");
    py(&[
        "sign",
        &work("enc.xml"),
        &work("signed.xml"),
        &work("rsa/key.pem"),
        &signer,
        "rsa-sha256",
        EXC_C14N,
    ]);
    assert_eq!(py(&["verify", &work("signed.xml")])["all_valid"], true);
    assert_schema_valid(Path::new(&work("signed.xml")));
    // Encrypted and signed: no key on this side, the server decrypts.
    let out = ok(&run(&[
        "key",
        "import",
        &work("signed.xml"),
        "--trusted-signer",
        &signer,
        "--policy",
        "open-ck",
    ]));
    assert!(
        out.contains("signed  CPIX by CN=cpix test signer rsa") && out.contains(", trusted"),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("create")).count(),
        2,
        "{out}"
    );
    assert_eq!(
        api.clearkey(&[k1, k2]),
        [
            (k1.to_string(), VID_KEY.to_string()),
            (k2.to_string(), AUD_KEY.to_string())
        ]
        .into_iter()
        .collect()
    );
    // The API's answer says so too.
    let doc = std::fs::read(work("signed.xml")).unwrap();
    let (status, body) = api.raw("POST", "import/cpix?dryRun=true", "application/xml", &doc);
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["encrypted"], true, "{v}");
    assert_eq!(v["signatures"][0]["covers"], json!(["CPIX"]), "{v}");
    assert_eq!(v["signatures"][0]["signer"]["trusted"], false, "{v}");
    // Another trusted signer: refused.
    let e = fails(&[
        "key",
        "import",
        &work("signed.xml"),
        "--trusted-signer",
        &path(cpix_dir().join("Cert4.pem")),
        "--dry-run",
    ]);
    assert!(e.contains("not signed by the trusted signer"), "{e}");
    // One byte of a CipherValue changed: the signature fails first.
    let text = String::from_utf8(doc.clone()).unwrap();
    let mut bad = doc.clone();
    let at = text
        .find("<enc:CipherValue>")
        .or_else(|| text.find("CipherValue>"))
        .unwrap()
        + 20;
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    let (status, body) = api.raw("POST", "import/cpix", "application/xml", &bad);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("XML signature invalid"), "{body}");
    // Encrypted for someone else (Cert1): refused naming DeliveryData.
    let (status, body) = api.raw(
        "POST",
        "import/cpix",
        "application/xml",
        &std::fs::read(vector("EncryptedContentKeys.xml")).unwrap(),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("DeliveryData") && body.contains("recipient-certificate"),
        "{body}"
    );
    // ECDSA P-256, Exclusive C14N with comments, over the clear document.
    py(&[
        "sign",
        &work("plain.xml"),
        &work("ec.xml"),
        &work("ec/key.pem"),
        &work("ec/cert.pem"),
        "ecdsa-sha256",
        EXC_C14N_COMMENTS,
    ]);
    assert_eq!(py(&["verify", &work("ec.xml")])["all_valid"], true);
    let out = ok(&run(&["key", "import", &work("ec.xml"), "--dry-run"]));
    assert!(
        out.contains("signed  CPIX by CN=cpix test signer ec"),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("exists")).count(),
        2,
        "{out}"
    );
    // A list signed by itself (reference #keys).
    py(&[
        "sign",
        &work("plain.xml"),
        &work("list.xml"),
        &work("rsa/key.pem"),
        &signer,
        "rsa-sha512",
        EXC_C14N,
        "#keys",
    ]);
    assert_eq!(py(&["verify", &work("list.xml")])["all_valid"], true);
    let out = ok(&run(&[
        "key",
        "import",
        &work("list.xml"),
        "--trusted-signer",
        &signer,
        "--dry-run",
    ]));
    assert!(
        out.contains("signed  ContentKeyList by CN=cpix test signer rsa")
            && out.contains(", trusted"),
        "{out}"
    );

    // No key value in the log.
    let log = server.log();
    for k in [VID_KEY, AUD_KEY] {
        assert!(
            !log.contains(k) && !log.contains(&b64(k)),
            "a key is in the log"
        );
    }
}
