//! The bit rates the manifests announce, recomputed from the packaged files
//! by `tests/check_bandwidth.py` (PyPI `m3u8` and `lxml`, file sizes on
//! disk, RFC 8216 §4.3.4.2 and ISO/IEC 23009-1 §5.3.5.2 applied from
//! scratch) and compared within 10%, Apple's tolerance.
//!
//! A per-segment maximum with a short last segment, or the audio of every
//! language added to a variant, is off by more than that on these inputs:
//! the tampered cases below make sure the checker sees it.
//!
//! Fixtures come from `scripts/make-fixtures.sh` (`$CASTGUARD_FIXTURES`,
//! else `target/fixtures`, made there when missing). Python comes from
//! `$CASTGUARD_PYTHON`, else the workspace venv; a missing interpreter or
//! package fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cenc::{ContentKey, Scheme};
use media::package::{CommonEncryption, LicenseUrls, PackageOptions, Protection};
use media::protect::DrmSystems;
use media::title::Title;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    std::env::var_os("CASTGUARD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/python"))
}

fn fixtures(names: &[&str]) -> Vec<PathBuf> {
    let dir = std::env::var_os("CASTGUARD_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/fixtures"));
    let paths: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
    if !paths.iter().all(|p| p.exists()) {
        let status = Command::new("bash")
            .arg(workspace().join("scripts/make-fixtures.sh"))
            .arg(&dir)
            .status()
            .expect("run scripts/make-fixtures.sh (needs ffmpeg)");
        assert!(status.success(), "scripts/make-fixtures.sh failed");
    }
    paths
}

/// Packages `srcs` as one title into `out` (DASH and HLS).
fn package(srcs: &[PathBuf], out: &Path, segment_duration: f64, protection: Protection) {
    std::fs::create_dir_all(out).expect("mkdir");
    let title = Title::open(srcs).expect("open title");
    let opts = PackageOptions { segment_duration, protection, dash: true, hls: true };
    media::package::package(&title, &opts, out, &|_| {}).expect("package");
}

fn check(dir: &Path) -> Output {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/check_bandwidth.py");
    Command::new(python())
        .arg(script)
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}); set CASTGUARD_PYTHON", python().display()))
}

fn report(out: &Output) -> String {
    format!(
        "status {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_passes(dir: &Path) {
    let out = check(dir);
    // The figures, for `--nocapture`.
    println!("{}:\n{}", dir.display(), String::from_utf8_lossy(&out.stdout));
    assert_eq!(out.status.code(), Some(0), "{}", report(&out));
}

const LADDER: [&str; 5] = ["ladder_234.mp4", "ladder_360.mp4", "ladder_720.mp4", "ladder_audio_en.mp4", "ladder_audio_fr.mp4"];

#[test]
fn ladder_bit_rates_match_the_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let srcs = fixtures(&LADDER);
    // 10 s in 4 s segments: the last is 2 s long.
    for seconds in [2.0, 4.0] {
        let out = tmp.path().join(format!("ladder-{seconds}"));
        package(&srcs, &out, seconds, Protection::Clear);
        assert_passes(&out);
    }
}

#[test]
fn one_file_with_two_audio_languages() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("2audio");
    package(&fixtures(&["h264_2audio.mp4"]), &out, 4.0, Protection::Clear);
    assert_passes(&out);
}

/// Announced figures come from the clear segments so that every protected
/// form of a title announces the same; what encryption adds (`senc`,
/// `saiz`, `saio`, `pssh`) stays well within the tolerance.
#[test]
fn protected_output_stays_within_tolerance() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = ContentKey::parse("00112233445566778899aabbccddeeff:000102030405060708090a0b0c0d0e0f").expect("key");
    let drm = DrmSystems { widevine: true, playready: true, ..Default::default() };
    let protection = Protection::Common(CommonEncryption::new(Scheme::Cenc, key, None, drm, LicenseUrls::default()));
    let out = tmp.path().join("cenc");
    package(&fixtures(&LADDER), &out, 4.0, protection);
    assert_passes(&out);
}

/// The checker fails where it must: BANDWIDTH with every audio language
/// added, and AVERAGE-BANDWIDTH of the video alone.
#[test]
fn checker_catches_wrong_figures() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("ladder");
    package(&fixtures(&LADDER), &out, 4.0, Protection::Clear);
    let master_path = out.join("master.m3u8");
    let master = std::fs::read_to_string(&master_path).expect("master");
    let first = master.lines().find(|l| l.starts_with("#EXT-X-STREAM-INF:")).expect("variant");
    let attr = |name: &str| -> u64 {
        first
            .trim_start_matches("#EXT-X-STREAM-INF:")
            .split(',')
            .find_map(|a| a.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {first}"))
    };
    let (peak, avg) = (attr("BANDWIDTH"), attr("AVERAGE-BANDWIDTH"));
    // Each audio track's rate, roughly: its first 4 s segment.
    let audio_peaks: Vec<u64> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-MEDIA:TYPE=AUDIO"))
        .map(|l| {
            let uri = l.split("URI=\"").nth(1).and_then(|u| u.split('"').next()).expect("uri");
            std::fs::metadata(out.join(uri).parent().expect("dir").join("1.m4s")).expect("segment").len() * 8 / 4
        })
        .collect();
    assert_eq!(audio_peaks.len(), 2, "{master}");
    let smaller_audio = *audio_peaks.iter().min().expect("audio");
    for (from, to, what) in [
        (format!("BANDWIDTH={peak},"), format!("BANDWIDTH={},", peak + smaller_audio), "BANDWIDTH"),
        (format!("AVERAGE-BANDWIDTH={avg},"), format!("AVERAGE-BANDWIDTH={},", avg * 7 / 10), "AVERAGE-BANDWIDTH"),
    ] {
        std::fs::write(&master_path, master.replacen(&from, &to, 1)).expect("write");
        let result = check(&out);
        assert_eq!(result.status.code(), Some(1), "tampered {what} passed:\n{}", report(&result));
        let stdout = String::from_utf8_lossy(&result.stdout);
        assert!(
            stdout.lines().any(|l| l.starts_with("FAIL") && l.contains(what)),
            "no FAIL about {what}:\n{stdout}"
        );
    }
}
