//! A live recording fed the way an encoder pushes: the bytes of ffmpeg's
//! fragmented MP4 (`frag_h264_aac.mp4`: `empty_moov`, one `moof` with a
//! `traf` per track at each video key frame; scripts/make-fixtures.sh) cut
//! into small chunks, through [`StreamParser`] into [`LiveAsset`]. The
//! recording's tracks, read back as fragmented MP4 (init + segments),
//! hold the input's samples exactly (decode time, duration, composition
//! offset, sync, bytes); the origin serves it live, then VOD once
//! finished; a fragment going back in time and a fragment of a stream
//! without a header are refused and leave the recording as it was.
//! (The end-to-end test `live_e2e` checks the same with ffmpeg decoding.)

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use media::live::{LiveAsset, LiveError, LiveSettings, StreamParser, Unit};
use media::movie::{Movie, TrackKind};
use media::origin::{OriginAsset, Resource};
use media::package::Protection;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `CASTGUARD_FIXTURES`, else `target/fixtures` made by the script.
fn fixtures_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("CASTGUARD_FIXTURES") {
            return PathBuf::from(dir);
        }
        let dir = repo_root().join("target/fixtures");
        let out = Command::new("bash")
            .arg(repo_root().join("scripts/make-fixtures.sh"))
            .arg(&dir)
            .stdin(Stdio::null())
            .output()
            .expect("run scripts/make-fixtures.sh");
        assert!(out.status.success(), "make-fixtures.sh: {}", String::from_utf8_lossy(&out.stderr));
        dir
    })
}

/// The units of `bytes` pushed in chunks of `chunk` bytes.
fn units(bytes: &[u8], chunk: usize) -> Vec<Unit> {
    let mut p = StreamParser::new(media::live::DEFAULT_MAX_FRAGMENT, false);
    let mut out = Vec::new();
    for c in bytes.chunks(chunk) {
        out.extend(p.push(c).expect("parses"));
    }
    p.finish().expect("ends on a box boundary");
    out
}

fn get(asset: &OriginAsset, resource: Resource) -> String {
    let bytes = asset.get(&Protection::Clear, &resource).expect("serves").expect("exists");
    String::from_utf8(bytes).expect("text")
}

#[test]
fn a_pushed_stream_is_recorded_sample_for_sample() {
    let input = fixtures_dir().join("frag_h264_aac.mp4");
    let bytes = std::fs::read(&input).expect("fixture frag_h264_aac.mp4 (scripts/make-fixtures.sh)");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("rec");
    let settings = LiveSettings { event: "ev".into(), archive_secs: 3600.0, time_shift_secs: 600.0 };
    let mut rec = LiveAsset::open(&dir, &settings).expect("opens");

    let units = units(&bytes, 4093);
    assert!(matches!(units.first(), Some(Unit::Header(_))), "the header first");
    let mut now = 1_800_000_000_000i64;
    let mut first_fragment = None;
    for unit in &units {
        match unit {
            Unit::Header(h) => rec.header("Streams(av)", h).expect("header"),
            Unit::Fragment { bytes, moof_len } => {
                now += 2000;
                let written = rec.fragment("Streams(av)", bytes, *moof_len, now).expect("fragment");
                assert_eq!(written.len(), 2, "one segment per track of the moof");
                first_fragment.get_or_insert((bytes.clone(), *moof_len));
            }
        }
    }
    let index = rec.index().clone();
    assert_eq!(index.tracks.len(), 2);
    let fragments = units.len() - 1;
    assert!(index.tracks.iter().all(|t| t.segments.len() == fragments));

    // Live: the origin serves a dynamic MPD and open-ended playlists.
    let live = OriginAsset::open(&dir).expect("origin opens");
    let mpd = get(&live, Resource::Mpd);
    assert!(mpd.contains(r#"type="dynamic""#) && mpd.contains("availabilityStartTime="), "{mpd}");
    let video = index.tracks.iter().find(|t| t.name.starts_with("video_")).expect("video").name.clone();
    let playlist = get(&live, Resource::MediaPlaylist { track: video.clone() });
    assert!(!playlist.contains("#EXT-X-ENDLIST") && playlist.contains("#EXT-X-PROGRAM-DATE-TIME:"), "{playlist}");

    // Refused: the first fragment again (decode time goes back), and a
    // fragment of a stream that sent no header. Nothing changes.
    let (again, moof_len) = first_fragment.expect("a fragment");
    let err = rec.fragment("Streams(av)", &again, moof_len, now + 2000).expect_err("backwards");
    assert_eq!(err.status(), 400, "{err}");
    assert!(matches!(rec.fragment("Streams(other)", &again, moof_len, now), Err(LiveError::NoHeader)));
    assert_eq!(rec.index(), &index, "a refused fragment changed the recording");

    // Each recorded track, as fragmented MP4, holds the input's samples.
    let source = Movie::open(&input).expect("fixture opens");
    for t in &index.tracks {
        let mut file = std::fs::read(dir.join(&t.name).join("init.mp4")).expect("init");
        for n in t.first_segment..t.first_segment + t.segments.len() as u64 {
            file.extend(std::fs::read(dir.join(&t.name).join(format!("{n}.m4s"))).expect("segment"));
        }
        let path = tmp.path().join(format!("{}.mp4", t.name));
        std::fs::write(&path, &file).expect("write");
        let got = Movie::open(&path).expect("recorded track opens");
        let kind = if t.name.starts_with("video_") { TrackKind::Video } else { TrackKind::Audio };
        let want_track = source.tracks.iter().find(|s| s.kind == kind).expect("source track");
        let got_track = &got.tracks[0];
        assert_eq!(got_track.samples.len(), want_track.samples.len(), "{}", t.name);
        for (i, (g, w)) in got_track.samples.iter().zip(&want_track.samples).enumerate() {
            assert_eq!(
                (g.dts, g.duration, g.cts_offset, g.is_sync, g.size),
                (w.dts, w.duration, w.cts_offset, w.is_sync, w.size),
                "{} sample {i}",
                t.name
            );
            let (mut a, mut b) = (vec![0; g.size as usize], vec![0; w.size as usize]);
            got.read_at(g.offset, &mut a).expect("read");
            source.read_at(w.offset, &mut b).expect("read");
            assert!(a == b, "{} sample {i}: bytes differ", t.name);
        }
    }

    // Finished: VOD, and nothing more is taken.
    rec.finish().expect("finish");
    let vod = OriginAsset::open(&dir).expect("origin opens");
    assert!(get(&vod, Resource::Mpd).contains(r#"type="static""#));
    assert!(get(&vod, Resource::MediaPlaylist { track: video }).contains("#EXT-X-ENDLIST"));
    assert_eq!(rec.fragment("Streams(av)", &again, moof_len, now).map_err(|e| e.status()), Err(400));
}
