//! The origin (dynamic encryption from the stored clear asset) must serve
//! exactly the bytes that packaging the same input with the same keys
//! writes to disk: manifests, init segments and every media segment.

use std::path::{Path, PathBuf};
use std::process::Command;

use cenc::{ContentKey, Scheme};
use media::title::Title;
use media::origin::{OriginAsset, Resource};
use media::package::{CommonEncryption, LicenseUrls, PackageOptions, Protection};
use media::protect::DrmSystems;

fn clip(dir: &Path) -> PathBuf {
    if let Ok(f) = std::env::var("CASTGUARD_FIXTURES") {
        let p = Path::new(&f).join("h264_aac_bframes.mp4");
        if p.exists() {
            return p;
        }
    }
    let out = dir.join("clip.mp4");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i"])
        .args(["sine=frequency=440:sample_rate=48000", "-t", "6", "-c:v", "libx264", "-g", "25", "-bf", "2"])
        .args(["-c:a", "aac", "-movflags", "+faststart"])
        .arg(&out)
        .status()
        .expect("ffmpeg must be installed (scripts/install-test-tools.sh)");
    assert!(status.success());
    out
}

fn protections() -> Vec<(&'static str, Protection)> {
    let key = ContentKey::parse("00112233445566778899aabbccddeeff:000102030405060708090a0b0c0d0e0f").expect("key");
    let audio = ContentKey::parse("ffeeddccbbaa99887766554433221100:0f0e0d0c0b0a09080706050403020100").expect("key");
    let drm = DrmSystems { widevine: true, playready: true, clearkey: true, fairplay: true, ..Default::default() };
    let urls = LicenseUrls { clearkey: Some("https://example.test/keys/v1/clearkey".into()), ..Default::default() };
    vec![
        ("clear", Protection::Clear),
        (
            "cenc",
            Protection::Common(CommonEncryption::new(Scheme::Cenc, key.clone(), None, drm.clone(), urls.clone())),
        ),
        (
            "cbcs",
            Protection::Common(CommonEncryption::new(Scheme::Cbcs, key.clone(), Some(audio), drm, urls)),
        ),
        ("aes128", Protection::aes128(key, "/keys/v1/aes/00112233-4455-6677-8899-aabbccddeeff")),
    ]
}

fn files(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).expect("prefix").to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

#[test]
fn origin_serves_what_package_writes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = clip(tmp.path());
    origin_matches_package(tmp.path(), &[src]);
}

/// The same for a title of several files: a ladder of three renditions
/// and two audio-only files (scripts/make-fixtures.sh).
#[test]
fn origin_serves_what_package_writes_for_a_ladder() {
    let Ok(dir) = std::env::var("CASTGUARD_FIXTURES") else {
        panic!("CASTGUARD_FIXTURES must name the fixtures of scripts/make-fixtures.sh");
    };
    let srcs: Vec<PathBuf> = ["ladder_234.mp4", "ladder_360.mp4", "ladder_720.mp4", "ladder_audio_en.mp4", "ladder_audio_fr.mp4"]
        .iter()
        .map(|f| Path::new(&dir).join(f))
        .collect();
    let tmp = tempfile::tempdir().expect("tempdir");
    origin_matches_package(tmp.path(), &srcs);
    let index = media::asset::AssetIndex::load(&tmp.path().join("asset")).expect("index");
    let names: Vec<(&str, Option<&str>)> = index.tracks.iter().map(|t| (t.name.as_str(), t.file.as_deref())).collect();
    assert_eq!(
        names,
        [
            ("video_1", Some("ladder_234.mp4")),
            ("video_2", Some("ladder_360.mp4")),
            ("video_3", Some("ladder_720.mp4")),
            ("audio_4", Some("ladder_audio_en.mp4")),
            ("audio_5", Some("ladder_audio_fr.mp4")),
        ]
    );
}

fn origin_matches_package(tmp: &Path, srcs: &[PathBuf]) {
    origin_matches_package_with_text(tmp, srcs, &[]);
}

fn origin_matches_package_with_text(tmp: &Path, srcs: &[PathBuf], texts: &[media::text::TextInput]) {
    let asset_dir = tmp.join("asset");
    media::asset::ingest_with_text(srcs, texts, &asset_dir, 2.0).expect("ingest");
    let asset = OriginAsset::open(&asset_dir).expect("open asset");
    let mut title = Title::open(srcs).expect("open clip");
    title.add_texts(texts).expect("texts");
    for (name, protection) in protections() {
        let out = tmp.join(format!("pkg-{name}"));
        std::fs::create_dir(&out).expect("mkdir");
        let hls_only = matches!(protection, Protection::Aes128 { .. });
        let opts = PackageOptions { segment_duration: 2.0, protection: protection.clone(), dash: !hls_only, hls: true };
        media::package::package(&title, &opts, &out, &|_| {}).expect("package");
        let written = files(&out);
        assert!(written.iter().filter(|f| f.ends_with(".m4s")).count() >= 6, "{name}: {written:?}");
        for file in &written {
            let resource = Resource::parse(file).unwrap_or_else(|| panic!("{name}: origin has no path for {file}"));
            let served = asset.get(&protection, &resource).expect("serve").unwrap_or_else(|| panic!("{name}: {file} not served"));
            let on_disk = std::fs::read(out.join(file)).expect("read");
            assert!(served == on_disk, "{name}: {file} differs between origin ({} bytes) and package ({} bytes)", served.len(), on_disk.len());
            // Deterministic: the same request gives the same bytes again.
            assert_eq!(asset.get(&protection, &resource).expect("serve").as_deref(), Some(&served[..]));
        }
        // One setup per track and one reused buffer (the server's hot path,
        // one pass out of the mapped file) give the same bytes as a fresh
        // request (in place, in a buffer the file was read into).
        // The size a HEAD request is answered with, worked out without
        // encrypting, is that of the served bytes.
        let mut buf = Vec::new();
        for track in asset.index.tracks.iter().map(|t| t.name.clone()) {
            let setup = asset.track_setup(&protection, &track).expect("setup").expect("track exists");
            for n in 1..=asset.index.track(&track).expect("track").segments.len() as u32 {
                let at = asset.segment_into(&setup, &track, n, &mut buf).expect("segment_into").expect("segment exists");
                let on_disk = std::fs::read(out.join(&track).join(format!("{n}.m4s"))).expect("read");
                assert!(buf[at..] == on_disk[..], "{name}: {track}/{n}.m4s differs when served into a reused buffer");
                let len = asset.segment_len(&setup, &track, n).expect("segment_len");
                assert_eq!(len, Some(on_disk.len() as u64), "{name}: {track}/{n}.m4s size without encrypting");
            }
            assert!(asset.segment_into(&setup, &track, 10_000, &mut buf).expect("past end").is_none() && buf.is_empty());
            assert_eq!(asset.segment_len(&setup, &track, 10_000).expect("past end"), None);
        }
        assert!(asset.track_setup(&protection, "video_9").expect("setup").is_none());
        let past_end = Resource::Segment { track: "video_1".into(), number: 10_000 };
        assert_eq!(asset.get(&protection, &past_end).expect("serve"), None);
        let no_track = Resource::Init { track: "video_9".into() };
        assert_eq!(asset.get(&protection, &no_track).expect("serve"), None);
    }
}

/// Every audio codec and the QuickTime sound descriptions (issue 13): the
/// origin serves, in every scheme, what `package` writes for AC-3, E-AC-3
/// with JOC signalling, Opus, FLAC and a version 2 `.mov`.
#[test]
fn origin_serves_what_package_writes_for_every_audio_codec() {
    let Ok(dir) = std::env::var("CASTGUARD_FIXTURES") else {
        panic!("CASTGUARD_FIXTURES must name the fixtures of scripts/make-fixtures.sh");
    };
    let titles: [&[&str]; 5] = [
        &["master_aac_ac3.mp4"],
        &["ladder_234.mp4", "eac3_joc.mp4"],
        &["h264_opus.mp4"],
        &["h264_flac.mp4"],
        &["qt_h264_aac96.mov"],
    ];
    for files in titles {
        let tmp = tempfile::tempdir().expect("tempdir");
        let srcs: Vec<PathBuf> = files.iter().map(|f| Path::new(&dir).join(f)).collect();
        origin_matches_package(tmp.path(), &srcs);
    }
}

/// The stored index keeps what the manifests say about video that is not
/// a plain progressive constant-rate single picture (scripts/make-fixtures.sh:
/// `vfr_h264.mp4`, `interlaced_h264.mp4`, `two_pictures.mp4`), so the origin
/// announces it exactly as `castguard package` does.
#[test]
fn origin_serves_what_package_writes_for_vfr_interlaced_and_two_pictures() {
    let Ok(dir) = std::env::var("CASTGUARD_FIXTURES") else {
        panic!("CASTGUARD_FIXTURES must name the fixtures of scripts/make-fixtures.sh");
    };
    for file in ["vfr_h264.mp4", "interlaced_h264.mp4", "two_pictures.mp4"] {
        let tmp = tempfile::tempdir().expect("tempdir");
        origin_matches_package(tmp.path(), &[Path::new(&dir).join(file)]);
        let json = std::fs::read_to_string(tmp.path().join("asset/index.json")).expect("index.json");
        let index = media::asset::AssetIndex::load(&tmp.path().join("asset")).expect("index");
        let video: Vec<_> = index
            .tracks
            .iter()
            .filter_map(|t| match &t.kind {
                media::asset::IndexTrackKind::Video { max_frame_rate, interlaced, picture, .. } => {
                    Some((*max_frame_rate, *interlaced, *picture))
                }
                media::asset::IndexTrackKind::Audio { .. } | media::asset::IndexTrackKind::Text { .. } => None,
            })
            .collect();
        let want: &[_] = match file {
            "vfr_h264.mp4" => &[(Some((25, 1)), false, 0)],
            "interlaced_h264.mp4" => &[(None, true, 0)],
            _ => &[(None, false, 0), (None, false, 1)],
        };
        assert_eq!(video, want, "{file}: {json}");
    }
}

/// Subtitles (issue 14): the origin serves the text tracks, in every
/// scheme, byte for byte as `package` writes them (`wvtt` init and
/// segments, WebVTT segments, the sidecar), and never encrypted.
#[test]
fn origin_serves_what_package_writes_for_subtitles() {
    let Ok(dir) = std::env::var("CASTGUARD_FIXTURES") else {
        panic!("CASTGUARD_FIXTURES must name the fixtures of scripts/make-fixtures.sh");
    };
    let dir = Path::new(&dir);
    let texts = [
        media::text::TextInput::parse(&format!("en={}", dir.join("subs_en.vtt").display())).expect("en"),
        media::text::TextInput::parse(&format!("fr:forced={}", dir.join("subs_fr.vtt").display())).expect("fr"),
    ];
    let tmp = tempfile::tempdir().expect("tempdir");
    origin_matches_package_with_text(tmp.path(), &[dir.join("h264_aac_bframes.mp4")], &texts);
    let asset = OriginAsset::open(&tmp.path().join("asset")).expect("asset");
    let clear = asset.get(&Protection::Clear, &Resource::parse("text_3/2.m4s").expect("path")).expect("get").expect("segment");
    for (name, protection) in protections() {
        let served = asset.get(&protection, &Resource::parse("text_3/2.m4s").expect("path")).expect("get").expect("segment");
        assert_eq!(served, clear, "{name}: a text segment is never encrypted");
    }
}

/// Protection in place gives the same bytes wherever the clear segment
/// lies in the buffer: with room in front for the `moof` to grow into
/// (the origin's path, where the samples never move), with too little
/// (moved up once), and at the start (`castguard package`'s path). A
/// segment of two fragments (two clear segments one after the other: each
/// `moof` counts its offsets from itself) is protected fragment by
/// fragment, the `moof` in the middle and what precedes it moving down.
#[test]
fn protection_in_place_at_any_offset() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = clip(tmp.path());
    let asset_dir = tmp.path().join("asset");
    media::asset::ingest(&[src], &asset_dir, 2.0).expect("ingest");
    let asset = OriginAsset::open(&asset_dir).expect("open asset");
    for (name, protection) in protections() {
        for track in asset.index.tracks.iter().map(|t| t.name.clone()) {
            let setup = asset.track_setup(&protection, &track).expect("setup").expect("track exists");
            let clear = |n: u32| std::fs::read(asset_dir.join(&track).join(format!("{n}.m4s"))).expect("read clear");
            let (one, two) = (clear(1), clear(2));
            let mut expected = one.clone();
            setup.segment_in_place(1, &mut expected).expect("protect");
            for front in [0, 3, media::cmaf::PROTECTION_FRONT] {
                let mut buf = vec![0xa5; front];
                buf.extend_from_slice(&one);
                let at = setup.segment_at(1, &mut buf, front).expect("protect at");
                assert!(buf[at..] == expected[..], "{name} {track}: differs with {front} bytes in front");
                assert_eq!(setup.segment_len(&one).expect("len"), expected.len() as u64, "{name} {track}");
            }
            if matches!(protection, Protection::Aes128 { .. }) {
                continue;
            }
            // Common Encryption and clear work fragment by fragment.
            let mut second = two.clone();
            setup.segment_in_place(1, &mut second).expect("protect");
            let mut both = [one.as_slice(), two.as_slice()].concat();
            let mut buf = vec![0; media::cmaf::PROTECTION_FRONT];
            buf.extend_from_slice(&both);
            let at = setup.segment_at(1, &mut buf, media::cmaf::PROTECTION_FRONT).expect("two fragments");
            let want = [expected.as_slice(), second.as_slice()].concat();
            assert!(buf[at..] == want[..], "{name} {track}: two fragments");
            assert_eq!(setup.segment_len(&both).expect("len"), want.len() as u64);
            setup.segment_in_place(1, &mut both).expect("two fragments at 0");
            assert!(both == want, "{name} {track}: two fragments at the start");
        }
    }
    // A segment that does not start in the buffer is an error, not a panic.
    let setup = asset.track_setup(&protections()[1].1, "video_1").expect("setup").expect("track");
    assert!(setup.segment_at(1, &mut vec![0; 4], 5).is_err());
}
