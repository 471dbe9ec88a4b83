//! Opus and FLAC audio, encrypted, played by a real player (issue 13):
//! `castguard package` of the h264_opus.mp4 and h264_flac.mp4 fixtures
//! (scripts/make-fixtures.sh) in `cenc` and `cbcs`, each played by
//! shaka-player in headless Debian Chromium with the Clear Key key
//! (`tests/browser/codecs.mjs`): the video plays past 3 s, Chromium decodes
//! the audio and the active variant's audio codec is the one packaged.
//! Chromium has no Dolby decoder, so AC-3 and E-AC-3 are judged by ffmpeg
//! and the manifest parsers in masters_e2e.rs.
//!
//! Needs chromium and node_modules (scripts/install-test-tools.sh); fails,
//! never skips, when they are missing.

mod common;

use std::ffi::OsString;

use common::*;

#[test]
fn chromium_plays_encrypted_opus_and_flac() {
    let chromium = chromium(&["playwright-core", "shaka-player"]);
    let tmp = TempDir::new("codecs-browser");
    let key = format!("{KID1}:{KEY1}");
    let mut args: Vec<OsString> = Vec::new();
    let mut cases = 0;
    for (fixture_name, codec) in [("h264_opus.mp4", "opus"), ("h264_flac.mp4", "flac")] {
        for scheme in ["cenc", "cbcs"] {
            let out = tmp.join(format!("{codec}-{scheme}"));
            let o = package(&fixture(fixture_name), &out, &["--scheme", scheme, "--key", &key, "--quiet"]);
            assert_ok(&format!("package {fixture_name} {scheme}"), &o);
            args.extend(["--case".into(), format!("{codec}-{scheme}={}={codec}", out.join("manifest.mpd").display()).into()]);
            cases += 1;
        }
    }
    args.extend(["--clearkey", &key, "--chromium", &chromium, "--shots"].map(OsString::from));
    args.push(repo_root().join("target/browser-screenshots").into());
    let (out, results) = node_script("codecs.mjs", &args);
    assert_eq!(results.len(), cases, "one result per case");
    for r in &results {
        assert_eq!(r["ok"], true, "{r}");
    }
    assert!(out.status.success(), "codecs.mjs exit {:?}", out.status);
}
