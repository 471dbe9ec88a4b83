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

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

#[test]
fn chromium_plays_encrypted_opus_and_flac() {
    let root = repo_root();
    let chromium = std::env::var("CASTGUARD_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(Path::new(&chromium).exists(), "{chromium} missing: run scripts/install-test-tools.sh");
    for m in ["playwright-core", "shaka-player"] {
        assert!(root.join("node_modules").join(m).is_dir(), "node_modules/{m} missing: run scripts/install-test-tools.sh");
    }
    let tmp = TempDir::new("codecs-browser");
    let key = format!("{KID1}:{KEY1}");
    let mut cases = Vec::new();
    for (fixture_name, codec) in [("h264_opus.mp4", "opus"), ("h264_flac.mp4", "flac")] {
        for scheme in ["cenc", "cbcs"] {
            let out = tmp.join(format!("{codec}-{scheme}"));
            let o = run(castguard()
                .arg("package")
                .arg(fixture(fixture_name))
                .arg("--out")
                .arg(&out)
                .args(["--scheme", scheme, "--key", &key, "--quiet"]));
            assert_ok(&format!("package {fixture_name} {scheme}"), &o);
            cases.push(format!("{codec}-{scheme}={}={codec}", out.join("manifest.mpd").display()));
        }
    }
    let mut cmd = Command::new("node");
    cmd.arg(root.join("crates/castguard/tests/browser/codecs.mjs"));
    for c in &cases {
        cmd.args(["--case", c]);
    }
    let out = cmd
        .args(["--clearkey", &key, "--chromium", &chromium, "--shots"])
        .arg(root.join("target/browser-screenshots"))
        .current_dir(&root)
        .stdin(Stdio::null())
        .output()
        .expect("run node codecs.mjs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let results: Vec<serde_json::Value> = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert_eq!(results.len(), cases.len(), "one result per case: {stdout}");
    for r in &results {
        assert_eq!(r["ok"], true, "{r}");
    }
    assert!(out.status.success(), "codecs.mjs exit {:?}", out.status);
}
