//! Ingests arbitrary bytes as an uploaded MP4 (`media::asset::ingest`, what
//! `PUT /api/v1/assets/{name}/content` runs), then serves the asset the way
//! the origin does: opens it, writes both manifests and every media
//! playlist, init segment and media segment clear, `cenc`, `cbcs` and HLS
//! AES-128 (fixed keys).
//!
//! Ingest reads a file, so the input goes to a temporary file (in
//! `/dev/shm` when there is one); inputs are bounded to 64 KiB, the size of
//! the seeds (tiny clips with their `mdat` cut down) with room to grow. A
//! sample table may still promise gigabytes of samples: ingest must refuse
//! that with an error, not try to allocate it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::rotation::KeyRotation;
use media::origin::{OriginAsset, Resource};
use media::package::{CommonEncryption, LicenseUrls, Protection};
use media::protect::DrmSystems;
use std::path::Path;

const MAX_INPUT: usize = 64 * 1024;

fn protections() -> Vec<Protection> {
    let key = cenc::ContentKey { kid: cenc::KeyId([0x11; 16]), key: cenc::Key::new([0x22; 16]) };
    let common = |scheme| {
        Protection::Common(CommonEncryption::new(
            scheme,
            key.clone(),
            Some(cenc::ContentKey { kid: cenc::KeyId([0x33; 16]), key: cenc::Key::new([0x44; 16]) }),
            DrmSystems { widevine: true, playready: true, clearkey: true, fairplay: true, ..Default::default() },
            LicenseUrls { clearkey: Some("https://k.example/clearkey".into()), ..Default::default() },
        ))
    };
    vec![
        Protection::Clear,
        common(cenc::Scheme::Cenc),
        common(cenc::Scheme::Cbcs),
        Protection::aes128(key.clone(), "https://k.example/aes"),
    ]
}

fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() { shm.to_owned() } else { std::env::temp_dir() };
    tempfile::Builder::new().prefix("castguard-fuzz-ingest").tempdir_in(base).expect("scratch dir")
}

// As in production (castguard's panic hook reports and does not abort), a
// panic that the code under test catches on purpose is an error, not a
// crash: the `cenc` crate guards the third-party cros-codecs parsers with
// `catch_unwind`. libfuzzer-sys's hook would abort before that guard runs;
// the default hook does not, and a panic that escapes the target still
// aborts in libfuzzer-sys's own `catch_unwind` around it.
fuzz_target!(init: { let _ = std::panic::take_hook(); }, |data: &[u8]| {
    if data.len() > MAX_INPUT {
        return;
    }
    let tmp = scratch();
    let src = tmp.path().join("upload.mp4");
    std::fs::write(&src, data).expect("write input");
    let dir = tmp.path().join("asset");
    let Ok(index) = media::asset::ingest(&[&src], &dir, 2.0) else {
        // A failed ingest leaves nothing behind.
        let left = std::fs::read_dir(tmp.path()).expect("read scratch").count();
        assert_eq!(left, 1, "failed ingest left files");
        return;
    };
    assert_eq!(media::asset::AssetIndex::load(&dir).expect("index of a fresh ingest"), index);
    let asset = OriginAsset::open(&dir).expect("opening a fresh ingest");
    let mut resources = vec![Resource::Mpd, Resource::Master];
    for t in &index.tracks {
        resources.push(Resource::MediaPlaylist { track: t.name.clone() });
        resources.push(Resource::Init { track: t.name.clone() });
        for n in 1..=t.segments.len() as u32 {
            resources.push(Resource::Segment { track: t.name.clone(), number: n });
        }
        let past = t.segments.len() as u32 + 1;
        let past = asset.get(&Protection::Clear, &Resource::Segment { track: t.name.clone(), number: past });
        assert!(matches!(past, Ok(None)), "segment past the end: {past:?}");
    }
    for (i, p) in protections().iter().enumerate() {
        for r in &resources {
            let got = asset.get(p, r);
            // What ingest accepted must stream clear; a protection may refuse
            // an odd track with an error, never with a panic.
            if i == 0 {
                assert!(matches!(got, Ok(Some(_))), "clear {r:?} of an ingested asset: {got:?}");
            }
            // With keys changing every segment, likewise; and a rotated
            // clear stream is the clear stream.
            let rotated = asset.get_rotated(p, KeyRotation::Segments(1), r, None);
            if i == 0 && !matches!(r, Resource::Mpd | Resource::Master | Resource::MediaPlaylist { .. }) {
                assert_eq!(rotated.as_ref().ok(), got.as_ref().ok(), "rotated clear {r:?}");
            }
        }
        for t in &index.tracks {
            for period in 1..=t.segments.len() as u32 + 1 {
                let _ = asset.get_rotated(p, KeyRotation::Segments(1), &Resource::PeriodInit { track: t.name.clone(), period }, None);
            }
        }
    }
});
