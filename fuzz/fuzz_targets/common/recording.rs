//! What the live fuzz targets (`live_ingest`, `flv_ingest`) share: a fresh
//! recording in a scratch folder (in /dev/shm when there is one: each run
//! writes files) and serving all of it the way the origin does.

use media::live::{LiveAsset, LiveSettings};
use media::origin::{OriginAsset, Resource};
use media::package::Protection;
use std::path::{Path, PathBuf};

/// A fresh recording: the scratch folder (removed on drop), the recording's
/// folder inside it, and the recording.
pub fn fresh(prefix: &str) -> (tempfile::TempDir, PathBuf, LiveAsset) {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() { shm.to_owned() } else { std::env::temp_dir() };
    let tmp = tempfile::Builder::new().prefix(prefix).tempdir_in(base).expect("scratch dir");
    let dir = tmp.path().join("rec");
    let settings = LiveSettings { event: "fuzz".into(), archive_secs: 60.0, time_shift_secs: 30.0 };
    let rec = LiveAsset::open(&dir, &settings).expect("a fresh recording opens");
    (tmp, dir, rec)
}

/// Every resource of the recording at `dir`, in the clear: errors are
/// answers, panics are bugs.
pub fn serve(dir: &Path) {
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
