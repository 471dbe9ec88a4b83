//! The origin end to end with the real binary (issue 5, items 2 and 6):
//! `castguard serve` on a free 127.0.0.1 port with a temporary data
//! directory; the asset, keys, content key policies and locators are made
//! with the management CLI. Then tools we did not write judge what the
//! locator URLs serve:
//! - ffmpeg plays the HLS AES-128 locator (`/s/{id}/aes128/master.m3u8`),
//!   fetching the key from our key delivery with a PyJWT-minted bearer
//!   token in `-headers`, to the clear input's framemd5; without the token
//!   the key request is refused and ffmpeg gets no frames;
//! - DASH `cenc` and HLS `cbcs` init + media segments fetched from the
//!   origin decrypt with ffmpeg (`-decryption_key`) to the clear framemd5;
//! - the served files are byte-identical to what `castguard package`
//!   writes with the same keys, DRM systems and license URLs.

mod api_server;
mod common;

use api_server::{Server, TOKEN, cli, data_dir, ok};
use common::{Media, assert_hashes_eq, clear_hashes, fixture, python, track_hashes};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Content key (cenc and cbcs), open policy: test key pair 1.
const CK_KID: &str = common::KID1;
const CK_KEY: &str = common::KEY1;
/// Envelope (HLS AES-128) key behind a token policy.
const ENV_KID: &str = "5e1f0000111122223333444455556666";
const ENV_KEY: &str = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf";
/// HMAC secret of the token policy (base64 of 32 bytes of text).
const HMAC_TEXT: &str = "origin-e2e-hmac-secret-012345678";
const ISSUER: &str = "https://sts.origin-e2e.test";
const AUDIENCE: &str = "urn:castguard:origin-e2e";

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn uuid(hex: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// An HS256 JWT from PyJWT (not our signer).
fn pyjwt_token() -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let out = Command::new(python())
        .args([
            "-c",
            "import jwt,sys; print(jwt.encode({'iss': sys.argv[1], 'aud': sys.argv[2], 'exp': int(sys.argv[3])}, sys.argv[4].encode(), algorithm='HS256'))",
            ISSUER,
            AUDIENCE,
            &exp.to_string(),
            HMAC_TEXT,
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run python");
    common::assert_ok("pyjwt", &out);
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// framemd5 of the first video stream ffmpeg plays from `url` with `headers`.
fn play(url: &str, headers: Option<&str>) -> Result<Vec<String>, String> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args([
        "-nostdin",
        "-hide_banner",
        "-v",
        "error",
        "-rw_timeout",
        "20000000",
    ]);
    if let Some(h) = headers {
        cmd.args(["-headers", h]);
    }
    cmd.args([
        "-i",
        url,
        "-map",
        "0:v:0",
        "-fps_mode",
        "passthrough",
        "-f",
        "framemd5",
        "-",
    ])
    .stdin(Stdio::null());
    let out = cmd.output().map_err(|e| e.to_string())?;
    let hashes = common::framemd5_hashes(&String::from_utf8_lossy(&out.stdout));
    if !out.status.success() || hashes.is_empty() {
        return Err(format!(
            "ffmpeg {} ({} frames): {}",
            out.status,
            hashes.len(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(hashes)
}

/// Every file `castguard package` wrote under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Fetches from the origin every file `castguard package` wrote into
/// `pkg`, into `served` (same layout); asserts each is byte-identical.
/// Returns how many init and media segments were compared.
fn fetch_and_compare(base: &str, pkg: &Path, served: &Path) -> usize {
    let mut segments = 0;
    let written = files(pkg);
    assert!(
        written.iter().filter(|f| f.ends_with(".m4s")).count() >= 6,
        "package wrote too little: {written:?}"
    );
    for f in &written {
        let bytes = common::http_get(&format!("{base}/{f}"));
        let dst = served.join(f);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::write(&dst, &bytes).unwrap();
        let on_disk = std::fs::read(pkg.join(f)).unwrap();
        assert!(
            bytes == on_disk,
            "{base}/{f}: origin served {} bytes, castguard package wrote {} different bytes",
            bytes.len(),
            on_disk.len()
        );
        if f.ends_with(".m4s") || f.ends_with("init.mp4") {
            segments += 1;
        }
    }
    segments
}

fn package(input: &Path, out: &Path, args: &[&str]) {
    let o = common::package(input, out, &[&["--quiet"], args].concat());
    common::assert_ok("castguard package", &o);
}

#[test]
fn locator_urls_play_decrypt_and_equal_package_output() {
    let started = Instant::now();
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
        "policy",
        "create",
        "viewers",
        "--issuer",
        ISSUER,
        "--audience",
        AUDIENCE,
        "--symmetric-key",
        &b64(HMAC_TEXT.as_bytes()),
    ]);
    run(&[
        "key", "create", "ck", "--type", "common", "--kid", CK_KID, "--value", CK_KEY, "--policy",
        "open",
    ]);
    run(&[
        "key", "create", "env", "--type", "envelope", "--kid", ENV_KID, "--value", ENV_KEY,
        "--policy", "viewers",
    ]);
    run(&[
        "locator",
        "create",
        "aes",
        "--asset",
        "movie",
        "--streaming-policy",
        "Predefined_ClearKey",
        "--key",
        "env",
    ]);
    run(&[
        "locator",
        "create",
        "drm",
        "--asset",
        "movie",
        "--streaming-policy",
        "Predefined_MultiDrmStreaming",
        "--key",
        "ck",
    ]);
    let id = |name: &str| -> String {
        let v: Value = serde_json::from_str(&run(&["locator", "get", name, "--json"])).unwrap();
        v["streamingLocatorId"].as_str().unwrap().to_string()
    };
    let (aes, drm) = (id("aes"), id("drm"));
    let paths = run(&["locator", "paths", "aes"]);
    let master = format!("{base}/s/{aes}/aes128/master.m3u8");
    assert!(paths.contains(&master), "{paths}");

    // HLS AES-128 through our key delivery, with and without a token.
    let clear_video = clear_hashes(&input, Media::Video);
    let token = pyjwt_token();
    let got = play(&master, Some(&format!("Authorization: Bearer {token}\r\n")))
        .unwrap_or_else(|e| panic!("ffmpeg with token: {e}"));
    assert_hashes_eq(&got, &clear_video, "HLS AES-128 with token");
    match play(&master, None) {
        Err(e) => eprintln!("without a token, as expected: {e}"),
        Ok(h) => assert_ne!(h, clear_video, "played the clear frames without a token"),
    }
    let wrong = pyjwt_token().replace('.', "x.");
    match play(&master, Some(&format!("Authorization: Bearer {wrong}\r\n"))) {
        Err(_) => {}
        Ok(h) => assert_ne!(h, clear_video, "played with a mangled token"),
    }

    // The same bytes as `castguard package` with the origin's settings:
    // HLS AES-128 (key URI = our key delivery).
    let env_uri = format!("{base}/keys/v1/aes/{}", uuid(ENV_KID));
    let pkg_aes = tmp.path().join("pkg-aes");
    package(
        &input,
        &pkg_aes,
        &[
            "--scheme",
            "aes-128",
            "--hls",
            "--key",
            &format!("{ENV_KID}:{ENV_KEY}"),
            "--la-url",
            &format!("aes-128={env_uri}"),
        ],
    );
    let n_aes = fetch_and_compare(
        &format!("{base}/s/{aes}/aes128"),
        &pkg_aes,
        &tmp.path().join("served-aes"),
    );

    // DASH cenc: Widevine, PlayReady and Clear Key signalling, license URLs
    // on our key delivery.
    let kid = uuid(CK_KID);
    let pkg_cenc = tmp.path().join("pkg-cenc");
    package(
        &input,
        &pkg_cenc,
        &[
            "--scheme",
            "cenc",
            "--dash",
            "--key",
            &format!("{CK_KID}:{CK_KEY}"),
            "--drm",
            "widevine,playready,clearkey",
            "--la-url",
            &format!("widevine={base}/keys/v1/widevine?kid={kid}"),
            "--la-url",
            &format!("playready={base}/keys/v1/playready?kid={kid}"),
            "--la-url",
            &format!("clearkey={base}/keys/v1/clearkey"),
        ],
    );
    let served_cenc = tmp.path().join("served-cenc");
    let n_cenc = fetch_and_compare(&format!("{base}/s/{drm}/cenc"), &pkg_cenc, &served_cenc);

    // HLS cbcs: FairPlay and Clear Key signalling.
    let pkg_cbcs = tmp.path().join("pkg-cbcs");
    package(
        &input,
        &pkg_cbcs,
        &[
            "--scheme",
            "cbcs",
            "--hls",
            "--key",
            &format!("{CK_KID}:{CK_KEY}"),
            "--drm",
            "fairplay,clearkey",
            "--la-url",
            &format!("clearkey={base}/keys/v1/clearkey"),
        ],
    );
    let served_cbcs = tmp.path().join("served-cbcs");
    let n_cbcs = fetch_and_compare(&format!("{base}/s/{drm}/cbcs"), &pkg_cbcs, &served_cbcs);
    assert!(
        n_aes >= 4 && n_cenc >= 8 && n_cbcs >= 8,
        "{n_aes} {n_cenc} {n_cbcs}"
    );

    // What the origin served decrypts to the clear input (video frames and
    // audio packets), and a wrong key does not.
    let clear_audio = clear_hashes(&input, Media::Audio(0));
    let streams = common::streams(&input);
    let dir = |kind: &str| {
        streams
            .iter()
            .find(|s| s.kind == kind)
            .map(|s| s.dir_name())
            .unwrap_or_else(|| panic!("no {kind} in {}", input.display()))
    };
    let (video, audio) = (dir("video"), dir("audio"));
    for served in [&served_cenc, &served_cbcs] {
        let v = track_hashes(&served.join(&video), Some(CK_KEY), Media::Video)
            .unwrap_or_else(|e| panic!("{}: {e}", served.display()));
        assert_hashes_eq(&v, &clear_video, &format!("{} video", served.display()));
        let a = track_hashes(&served.join(&audio), Some(CK_KEY), Media::Audio(0))
            .unwrap_or_else(|e| panic!("{}: {e}", served.display()));
        assert_hashes_eq(&a, &clear_audio, &format!("{} audio", served.display()));
        match track_hashes(&served.join(&video), Some(common::KEY2), Media::Video) {
            Err(_) => {}
            Ok(h) => assert_ne!(
                h,
                clear_video,
                "{} decrypts with a wrong key",
                served.display()
            ),
        }
    }
    // The DASH MPD names our key id and license server.
    let mpd = String::from_utf8(std::fs::read(served_cenc.join("manifest.mpd")).unwrap()).unwrap();
    assert!(
        mpd.contains(&kid) && mpd.contains(&format!("{base}/keys/v1/clearkey")),
        "{mpd}"
    );

    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    assert!(server.stop().success());
}
