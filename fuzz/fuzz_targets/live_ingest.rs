//! Pushes arbitrary bytes as a live ingest stream (`media::live`, what
//! `POST /ingest/{event}/{token}/{stream}` runs): cut into units by
//! `StreamParser` in two uneven chunks, each header and fragment given to a
//! `LiveAsset` recording, then the recording served the way the origin
//! does, live and once finished. Refusals are errors, never panics, and a
//! refused unit leaves the recording's index as it was. Inputs are bounded
//! to 64 KiB (the seeds are tiny ffmpeg CMAF streams).
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::live::{LiveAsset, LiveSettings, StreamParser, Unit};
use media::origin::{OriginAsset, Resource};
use media::package::Protection;
use std::path::Path;

const MAX_INPUT: usize = 64 * 1024;

fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() { shm.to_owned() } else { std::env::temp_dir() };
    tempfile::Builder::new().prefix("castguard-fuzz-live").tempdir_in(base).expect("scratch dir")
}

fn serve(dir: &Path) {
    let asset = OriginAsset::open(dir).expect("a recording opens");
    let mut resources = vec![Resource::Mpd, Resource::Master];
    for t in &asset.index.tracks {
        resources.push(Resource::MediaPlaylist { track: t.name.clone() });
        resources.push(Resource::Init { track: t.name.clone() });
        for n in t.first_segment..t.first_segment + t.segments.len() as u64 {
            resources.push(Resource::Segment { track: t.name.clone(), number: n as u32 });
        }
    }
    for r in &resources {
        let _ = asset.get(&Protection::Clear, r);
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_INPUT {
        return;
    }
    let tmp = scratch();
    let dir = tmp.path().join("rec");
    let settings = LiveSettings { event: "fuzz".into(), archive_secs: 60.0, time_shift_secs: 30.0 };
    let mut rec = LiveAsset::open(&dir, &settings).expect("a fresh recording opens");
    let mut parser = StreamParser::new(1 << 20, false);
    let split = data.first().map_or(0, |b| usize::from(*b) * data.len() / 256);
    let mut now = 1_800_000_000_000i64;
    'push: for chunk in [&data[..split], &data[split..]] {
        let Ok(units) = parser.push(chunk) else { break };
        for unit in units {
            let before = rec.index().clone();
            let r = match &unit {
                Unit::Header(h) => rec.header("s", h),
                Unit::Fragment { bytes, moof_len } => {
                    now += 2000;
                    rec.fragment("s", bytes, *moof_len, now).map(|_| ())
                }
            };
            if r.is_err() {
                assert_eq!(rec.index(), &before, "a refused unit changed the recording");
                break 'push;
            }
        }
    }
    serve(&dir);
    rec.finish().expect("finish");
    serve(&dir);
});
