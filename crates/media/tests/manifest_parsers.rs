//! The manifests read by independent parsers: PyPI `mpegdash` and `lxml` for
//! the MPD, `m3u8` for the playlists, driven by `tests/check_manifests.py`.
//!
//! Python comes from `$CASTGUARD_PYTHON`, else the workspace venv
//! (`.venv/bin/python`). Missing packages FAIL the test (CI installs them):
//!
//!     python3 -m venv .venv && .venv/bin/pip install mpegdash m3u8 lxml

mod manifest_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use manifest_support::{SCENARIOS, expectations, render, scenario};

const PIP_LINE: &str = "python3 -m venv .venv && .venv/bin/pip install mpegdash m3u8 lxml";

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("CASTGUARD_PYTHON") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
}

fn checker() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/check_manifests.py")
}

fn require_packages(py: &Path) {
    let out = Command::new(py)
        .args(["-c", "import mpegdash, m3u8, lxml"])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run Python at {} ({e}); set CASTGUARD_PYTHON or run in the workspace: {PIP_LINE}",
                py.display()
            )
        });
    assert!(
        out.status.success(),
        "Python at {} lacks mpegdash/m3u8/lxml:\n{}\ninstall them in the workspace: {PIP_LINE}",
        py.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write_scenario(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("scenario dir");
    for (file, text) in render(name) {
        std::fs::write(dir.join(file), text).expect("write manifest");
    }
    let exp = expectations(name, &scenario(name));
    std::fs::write(
        dir.join("expect.json"),
        serde_json::to_string_pretty(&exp).expect("json"),
    )
    .expect("write expectations");
    dir
}

fn run_checker(py: &Path, dirs: &[PathBuf]) -> Output {
    Command::new(py)
        .arg(checker())
        .args(dirs)
        .output()
        .expect("run check_manifests.py")
}

fn report(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn independent_parsers_accept_all_scenarios() {
    let py = python();
    require_packages(&py);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dirs: Vec<PathBuf> = SCENARIOS
        .iter()
        .map(|s| write_scenario(tmp.path(), s))
        .collect();
    let out = run_checker(&py, &dirs);
    assert!(
        out.status.success(),
        "manifest checks failed:\n{}",
        report(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for s in SCENARIOS {
        assert!(
            stdout.contains(&format!("{s}: checked")),
            "{s} not checked:\n{stdout}"
        );
    }
}

/// The checker must be able to fail: each tampered manifest is caught, and
/// by the check meant for it.
#[test]
fn checker_catches_tampered_manifests() {
    let py = python();
    require_packages(&py);
    let cases: [(&str, &str, &str, &str, &str); 9] = [
        (
            "clear",
            "manifest.mpd",
            "d=\"25600\" r=\"4\"",
            "d=\"25600\" r=\"3\"",
            "segment count",
        ),
        (
            "cenc",
            "manifest.mpd",
            "cenc:default_KID=\"6f",
            "cenc:default_KID=\"7f",
            "cenc:default_KID",
        ),
        (
            "cenc",
            "manifest.mpd",
            "xmlns:cenc=\"urn:mpeg:cenc:2013\"",
            "xmlns:cenc=\"urn:mpeg:cenc:2014\"",
            "xmlns:cenc",
        ),
        ("aes128", "track_1.m3u8", "IV=0x0f0e", "IV=0x1f0e", "IV"),
        (
            "cbcs",
            "track_3.m3u8",
            "#EXTINF:1.984,",
            "#EXTINF:1.985,",
            "EXTINF 1",
        ),
        (
            "cbcs",
            "master.m3u8",
            "BANDWIDTH=1121000",
            "BANDWIDTH=1030000",
            "BANDWIDTH",
        ),
        // Audio counted twice (en + fr) in a ladder's variant.
        (
            "ladder",
            "master.m3u8",
            "BANDWIDTH=461000",
            "BANDWIDTH=560000",
            "BANDWIDTH",
        ),
        (
            "ladder",
            "manifest.mpd",
            "value=\"main\"",
            "value=\"alternate\"",
            "audio Roles",
        ),
        (
            "cbcs",
            "master.m3u8",
            "SESSION-KEY:METHOD=SAMPLE-AES,URI=\"skd",
            "SESSION-KEY:METHOD=SAMPLE-AES,URI=\"skx",
            "EXT-X-SESSION-KEY",
        ),
    ];
    for (name, file, from, to, expected_failure) in cases {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = write_scenario(tmp.path(), name);
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains(from), "{name}/{file} lacks {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
        let out = run_checker(&py, &[dir]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "tampered {name}/{file} passed:\n{}",
            report(&out)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("FAIL") && l.contains(expected_failure)),
            "tampered {name}/{file}: no FAIL about {expected_failure:?}:\n{stdout}"
        );
    }
    // And a reordered playlist: KEY before MAP would encrypt the init segment.
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = write_scenario(tmp.path(), "aes128");
    let path = dir.join("track_2.m3u8");
    let text = std::fs::read_to_string(&path).expect("read");
    let mut lines: Vec<&str> = text.lines().collect();
    let map = lines
        .iter()
        .position(|l| l.starts_with("#EXT-X-MAP"))
        .expect("map");
    let key = lines
        .iter()
        .position(|l| l.starts_with("#EXT-X-KEY"))
        .expect("key");
    lines.swap(map, key);
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    let out = run_checker(&py, &[dir]);
    assert_eq!(out.status.code(), Some(1), "{}", report(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("EXT-X-MAP must precede EXT-X-KEY"));
}
