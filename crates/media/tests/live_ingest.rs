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

mod fixtures;

use fixtures::fixtures_dir;

use media::live::{LiveAsset, LiveError, LiveSettings, StreamParser, Unit};
use media::movie::{Movie, TrackKind};
use media::origin::{OriginAsset, Resource};
use media::package::Protection;

/// A temporary folder for one recording (`rec` inside it; the folder goes
/// when the first value is dropped) and an hour-long archive's settings.
fn recording_dir() -> (tempfile::TempDir, std::path::PathBuf, LiveSettings) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("rec");
    let settings = LiveSettings { event: "ev".into(), archive_secs: 3600.0, time_shift_secs: 600.0 };
    (tmp, dir, settings)
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
    let (tmp, dir, settings) = recording_dir();
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

/// The fixture's header and fragments, as an encoder pushes them.
fn fixture_units() -> (Vec<u8>, Vec<(Vec<u8>, usize)>) {
    let input = fixtures_dir().join("frag_h264_aac.mp4");
    let bytes =
        std::fs::read(&input).expect("fixture frag_h264_aac.mp4 (scripts/make-fixtures.sh)");
    let mut header = None;
    let mut fragments = Vec::new();
    for unit in units(&bytes, 65536) {
        match unit {
            Unit::Header(h) => header = Some(h),
            Unit::Fragment { bytes, moof_len } => fragments.push((bytes, moof_len)),
        }
    }
    (header.expect("a header"), fragments)
}

/// Segment end of the newest segment of `track`, in seconds.
fn track_end_secs(rec: &LiveAsset, track: &str) -> f64 {
    let t = rec.index().track(track).expect("track");
    let last = t.segments.last().expect("segments");
    (last[0] + last[1]) as f64 / f64::from(t.timescale)
}

/// An encoder that reconnects with its timestamps starting at 0 again
/// (a new header, as a restarted ffmpeg sends) continues the recording:
/// numbering goes on, the new run is placed where the wall clock says
/// (the gap is real time), both tracks move by the same offset, and the
/// manifests show the gap (DASH `S@t`, HLS `EXT-X-DISCONTINUITY` with
/// `EXT-X-PROGRAM-DATE-TIME`). Within a run, going back stays refused.
#[test]
fn a_reconnecting_encoder_continues_the_timeline_after_a_real_gap() {
    let (header, fragments) = fixture_units();
    let (_tmp, dir, settings) = recording_dir();
    let mut rec = LiveAsset::open(&dir, &settings).expect("opens");
    let t0 = 1_800_000_000_000i64;
    rec.header("Streams(av)", &header).expect("header");
    let mut now = t0;
    for (bytes, moof_len) in &fragments {
        now += 2000;
        rec.fragment("Streams(av)", bytes, *moof_len, now)
            .expect("fragment");
    }
    let first_run = rec.index().clone();
    let ast = first_run
        .live
        .as_ref()
        .and_then(|l| l.availability_start_ms)
        .expect("availability start");
    let video = first_run
        .tracks
        .iter()
        .find(|t| t.name.starts_with("video_"))
        .expect("video")
        .name
        .clone();
    let audio = first_run
        .tracks
        .iter()
        .find(|t| t.name.starts_with("audio_"))
        .expect("audio")
        .name
        .clone();
    let end_before = track_end_secs(&rec, &video);

    // Without a header, the first fragment again goes back: refused.
    let (again, moof_len) = &fragments[0];
    assert_eq!(
        rec.fragment("Streams(av)", again, *moof_len, now + 1000)
            .map_err(|e| e.status()),
        Err(400)
    );
    assert_eq!(rec.index(), &first_run);

    // 30 s later the encoder is back: header, then its fragments from 0.
    let gap_ms = 30_000;
    rec.header("Streams(av)", &header).expect("header again");
    let back = now + gap_ms;
    let mut now2 = back;
    for (i, (bytes, moof_len)) in fragments.iter().enumerate() {
        now2 = back + 2000 * i as i64;
        let written = rec
            .fragment("Streams(av)", bytes, *moof_len, now2)
            .expect("the new run is taken");
        for (track, number) in written {
            let before = first_run.track(&track).expect("track");
            assert_eq!(
                number,
                before.first_segment + before.segments.len() as u64 + i as u64,
                "{track}: numbering continues"
            );
        }
    }
    // Going back within the new run is refused again.
    assert_eq!(
        rec.fragment("Streams(av)", again, *moof_len, now2 + 1000)
            .map_err(|e| e.status()),
        Err(400)
    );

    let index = rec.index().clone();
    let v = index.track(&video).expect("video");
    let n = first_run.track(&video).expect("video").segments.len();
    let ts = f64::from(v.timescale);
    let gap_start = (v.segments[n - 1][0] + v.segments[n - 1][1]) as f64 / ts;
    let resumed = v.segments[n][0] as f64 / ts;
    assert!((gap_start - end_before).abs() < 1e-9);
    // The new run's first segment ends when it arrived (wall clock).
    let first_end = (v.segments[n][0] + v.segments[n][1]) as f64 / ts;
    let arrived = (back - ast) as f64 / 1000.0;
    assert!(
        (first_end - arrived).abs() < 0.05,
        "first segment of the new run ends at {first_end} s, arrived at {arrived} s"
    );
    assert!(
        resumed - gap_start > 20.0,
        "a real gap: {gap_start} s to {resumed} s"
    );
    for w in v.segments.windows(2) {
        assert!(w[1][0] >= w[0][0] + w[0][1], "segments overlap: {w:?}");
    }
    // Audio moved by the same offset as video (sync kept).
    let a = index.track(&audio).expect("audio");
    let na = first_run.track(&audio).expect("audio").segments.len();
    // (Second segments: the first of a recording starts at its decode time.)
    let shift_v = (v.segments[n + 1][0] as f64 - v.segments[1][0] as f64) / ts;
    let shift_a = (a.segments[na + 1][0] as f64 - a.segments[1][0] as f64) / f64::from(a.timescale);
    assert!(
        (shift_v - shift_a).abs() < 0.001,
        "video moved {shift_v} s, audio {shift_a} s"
    );

    // The manifests show the gap.
    let live = OriginAsset::open(&dir).expect("origin opens");
    let mpd = get(&live, Resource::Mpd);
    assert!(
        mpd.contains(&format!(r#"<S t="{}""#, v.segments[n][0])),
        "no S@t after the gap: {mpd}"
    );
    let playlist = get(
        &live,
        Resource::MediaPlaylist {
            track: video.clone(),
        },
    );
    let lines: Vec<&str> = playlist.lines().collect();
    let uri = format!("{}.m4s", v.first_segment + n as u64);
    let at = lines
        .iter()
        .position(|l| l.ends_with(&uri))
        .expect("segment after the gap listed");
    assert_eq!(
        playlist.matches("#EXT-X-DISCONTINUITY\n").count(),
        1,
        "{playlist}"
    );
    assert!(
        lines[at - 3] == "#EXT-X-DISCONTINUITY"
            && lines[at - 2].starts_with("#EXT-X-PROGRAM-DATE-TIME:"),
        "{playlist}"
    );
    let pdt = lines[at - 2].trim_start_matches("#EXT-X-PROGRAM-DATE-TIME:");
    assert_eq!(
        pdt,
        media::manifest::utc_datetime(ast + (resumed * 1000.0).round() as i64)
    );
    // Once ended, the VOD playlist keeps the discontinuity.
    rec.finish().expect("finish");
    let vod = OriginAsset::open(&dir).expect("origin opens");
    let playlist = get(&vod, Resource::MediaPlaylist { track: video });
    assert!(
        playlist.contains("#EXT-X-DISCONTINUITY\n") && playlist.contains("#EXT-X-ENDLIST"),
        "{playlist}"
    );
}

/// A codec configuration changed on reconnection is refused, and the
/// recording stays as it was.
#[test]
fn a_reconnection_with_another_codec_configuration_is_refused() {
    let (header, fragments) = fixture_units();
    let other = std::fs::read(fixtures_dir().join("h265_aac.mp4")).expect("fixture h265_aac.mp4");
    let (_tmp, dir, settings) = recording_dir();
    let mut rec = LiveAsset::open(&dir, &settings).expect("opens");
    rec.header("Streams(av)", &header).expect("header");
    rec.fragment(
        "Streams(av)",
        &fragments[0].0,
        fragments[0].1,
        1_800_000_002_000,
    )
    .expect("fragment");
    let before = rec.index().clone();
    let mut p = StreamParser::new(media::live::DEFAULT_MAX_FRAGMENT, false);
    // ftyp then moov (faststart): the header as a stream would send it.
    let units = p
        .push(&other[..find_box_end(&other, b"moov")])
        .expect("header of h265_aac.mp4");
    let Some(Unit::Header(h265)) = units.into_iter().next() else {
        panic!("no header")
    };
    assert_eq!(
        rec.header("Streams(av)", &h265).map_err(|e| e.status()),
        Err(400)
    );
    assert_eq!(rec.index(), &before);
}

/// The end of the first top-level box `kind` of `bytes`.
fn find_box_end(bytes: &[u8], kind: &[u8; 4]) -> usize {
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        if &bytes[at + 4..at + 8] == kind {
            return at + size;
        }
        at += size.max(8);
    }
    panic!("no {kind:?} box");
}

/// After a crash (the value dropped, a temporary file and a segment the
/// index never named left behind), the recording reopens as it was:
/// numbering goes on, the stream's header is kept (a stream pushing one
/// request per segment need not send it again), the leftovers are gone;
/// one writer at a time (a second open is 409 while the first holds it).
#[test]
fn a_recording_reopens_where_it_was_after_a_crash() {
    let (header, fragments) = fixture_units();
    let (_tmp, dir, settings) = recording_dir();
    let mut rec = LiveAsset::open(&dir, &settings).expect("opens");
    assert_eq!(
        LiveAsset::open(&dir, &settings)
            .map(|_| ())
            .map_err(|e| e.status()),
        Err(409),
        "a second writer"
    );
    rec.header("Streams(av)", &header).expect("header");
    let mut now = 1_800_000_000_000i64;
    let half = fragments.len() / 2;
    for (bytes, moof_len) in &fragments[..half] {
        now += 2000;
        rec.fragment("Streams(av)", bytes, *moof_len, now)
            .expect("fragment");
    }
    let before = rec.index().clone();
    let video = before
        .tracks
        .iter()
        .find(|t| t.name.starts_with("video_"))
        .expect("video")
        .name
        .clone();
    let next = before
        .track(&video)
        .map(|t| t.first_segment + t.segments.len() as u64)
        .expect("video");
    drop(rec);
    // What a kill between the segment's rename and the index's leaves.
    std::fs::write(
        dir.join(&video).join(format!("{next}.m4s")),
        b"not named by the index",
    )
    .expect("write");
    std::fs::write(dir.join(&video).join(format!("{}.part", next + 1)), b"half").expect("write");
    std::fs::write(dir.join("index.part"), b"{").expect("write");

    let mut rec = LiveAsset::open(&dir, &settings).expect("reopens");
    assert!(
        !dir.join(&video).join(format!("{next}.m4s")).exists() && !dir.join("index.part").exists()
    );
    assert!(!dir.join(&video).join(format!("{}.part", next + 1)).exists());
    assert!(rec.has_header("Streams(av)"), "the header is kept");
    assert_eq!(rec.index().tracks, before.tracks);
    // The same encoder goes on (no header: one request per segment).
    for (bytes, moof_len) in &fragments[half..] {
        now += 2000;
        let written = rec
            .fragment("Streams(av)", bytes, *moof_len, now)
            .expect("fragment after reopening");
        assert!(written.iter().any(|(t, n)| *t == video && *n >= next));
    }
    let v = rec.index().track(&video).expect("video");
    assert_eq!(v.segments.len(), fragments.len());
    for w in v.segments.windows(2) {
        assert_eq!(
            w[1][0],
            w[0][0] + w[0][1],
            "no gap: the encoder's timestamps went on"
        );
    }
    for n in v.first_segment..v.first_segment + v.segments.len() as u64 {
        assert!(
            dir.join(&video).join(format!("{n}.m4s")).is_file(),
            "segment {n}"
        );
    }
}
