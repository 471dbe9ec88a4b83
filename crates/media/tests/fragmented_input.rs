//! Fragmented MP4 input (ISO/IEC 14496-12 §8.8) gives the same samples as
//! the progressive file it was made from, and packages to the same frames.
//!
//! The fixtures (scripts/make-fixtures.sh, section "Fragmented input") are
//! `h264_aac_bframes.mp4` fragmented by three muxers we did not write:
//! ffmpeg's fMP4 (`frag_keyframe+empty_moov+default_base_moof`), ffmpeg's
//! DASH on-demand single files and Shaka Packager's clear output. Each of
//! their tracks must have, sample for sample, the source's size, composition
//! offset, sync flag and bytes; and the decode and presentation times that
//! ffprobe, an independent demuxer, reads from the fragmented file itself.
//! Where the muxer kept the source's timing (DASH, Shaka: every duration,
//! and presentation times `dts + cts_offset - presentation_shift` through
//! their edit lists) they must equal the source's too. ffmpeg's fMP4 does not
//! keep it for audio: without an edit list it drops the AAC priming by
//! stretching the first packet to 3840 ticks, and shortens the last (ffprobe
//! reads the same from that file). Packaging a fragmented file with `cenc`
//! and decrypting it with ffmpeg must give the source's frames.
//! Broken `moof`s must give an error naming the file, box and offset.
//!
//! Test key: KID1/KEY1 of scripts/README.md.

mod fixtures;

use fixtures::fixture;
use std::path::Path;
use std::process::{Command, Stdio};

use cenc::{ContentKey, Scheme};
use media::movie::{Movie, Track, TrackKind};
use media::package::{CommonEncryption, LicenseUrls, PackageOptions, Protection};
use media::protect::DrmSystems;
use media::title::Title;

const SOURCE: &str = "h264_aac_bframes.mp4";
const KID1: &str = "00112233445566778899aabbccddeeff";
const KEY1: &str = "000102030405060708090a0b0c0d0e0f";

fn track(movie: &Movie, kind: TrackKind) -> &Track {
    let mut of_kind = movie.tracks.iter().filter(|t| t.kind == kind);
    let t = of_kind.next().unwrap_or_else(|| panic!("{}: no {kind:?} track", movie.path().display()));
    assert!(of_kind.next().is_none(), "{}: several {kind:?} tracks", movie.path().display());
    t
}

fn bytes_of(movie: &Movie, samples: &[bmff::sample_table::Sample]) -> Vec<Vec<u8>> {
    samples
        .iter()
        .map(|s| {
            let mut out = Vec::new();
            movie.read_samples(std::slice::from_ref(s), &mut out).expect("read sample");
            out
        })
        .collect()
}

fn presentation(movie: &Movie, t: &Track, s: &bmff::sample_table::Sample) -> i128 {
    i128::from(s.dts) + i128::from(s.cts_offset) - i128::from(t.presentation_shift(movie.moov.mvhd.timescale))
}

/// `(pts, dts)` of every packet of the first `kind` stream as ffprobe reads
/// it, in the stream's time base (the track timescale for MP4).
fn ffprobe_times(path: &Path, kind: TrackKind) -> Vec<(i64, i64)> {
    let stream = match kind {
        TrackKind::Video => "v:0",
        TrackKind::Audio => "a:0",
    };
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", stream, "-show_entries", "packet=pts,dts", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe must be installed (scripts/install-test-tools.sh)");
    assert!(out.status.success(), "ffprobe {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split(',').map(|x| x.trim().parse::<i64>());
            Some((f.next()?.ok()?, f.next()?.ok()?))
        })
        .collect()
}

/// Each sample's decode and presentation time relative to the first
/// sample's equals ffprobe's (its edit-list handling shifts a whole track
/// by a constant).
fn assert_timing_like_ffprobe(what: &str, movie: &Movie, t: &Track, kind: TrackKind) {
    let ff = ffprobe_times(movie.path(), kind);
    assert_eq!(ff.len(), t.samples.len(), "{what}: ffprobe packet count");
    let ours: Vec<(i64, i64)> =
        t.samples.iter().map(|s| (s.dts as i64 + i64::from(s.cts_offset), s.dts as i64)).collect();
    let (o0, f0) = (ours[0], ff[0]);
    for (i, (o, f)) in ours.iter().zip(&ff).enumerate() {
        assert_eq!(
            (o.0 - o0.0, o.1 - o0.1),
            (f.0 - f0.0, f.1 - f0.1),
            "{what}: sample {}: (pts, dts) vs ffprobe",
            i + 1
        );
    }
}

/// Every sample of the `kind` track of `frag` has the source's bytes, size,
/// composition offset and sync flag, and the timing ffprobe reads from
/// `frag`; with `source_timing`, the source's durations and presentation
/// times too.
fn assert_same_samples(frag_name: &str, kind: TrackKind, source_timing: bool) {
    let src = Movie::open(&fixture(SOURCE)).expect("open source");
    let frag = Movie::open(&fixture(frag_name)).unwrap_or_else(|e| panic!("open {frag_name}: {e}"));
    let (s, f) = (track(&src, kind), track(&frag, kind));
    let what = format!("{frag_name} {kind:?}");
    assert_eq!(f.timescale, s.timescale, "{what}: timescale");
    assert_eq!(f.samples.len(), s.samples.len(), "{what}: sample count");
    assert!(f.trak.mdia.minf.stbl.stsz.as_ref().is_none_or(|z| z.sample_count == 0), "{what}: not fragmented");
    let has_edit_list = f.trak.edts.as_ref().is_some_and(|e| e.elst.is_some());
    for (i, (a, b)) in s.samples.iter().zip(&f.samples).enumerate() {
        let at = format!("{what}: sample {}", i + 1);
        assert_eq!(b.size, a.size, "{at}: size");
        assert_eq!(b.cts_offset, a.cts_offset, "{at}: cts_offset");
        assert_eq!(b.is_sync, a.is_sync, "{at}: sync");
        assert_eq!(b.description_index, 1, "{at}: description index");
        if !source_timing {
            continue;
        }
        assert_eq!(b.duration, a.duration, "{at}: duration");
        if has_edit_list {
            assert_eq!(presentation(&frag, f, b), presentation(&src, s, a), "{at}: presentation time");
        } else {
            assert_eq!(b.dts, a.dts, "{at}: decode time");
        }
    }
    assert_timing_like_ffprobe(&what, &frag, f, kind);
    assert!(bytes_of(&frag, &f.samples) == bytes_of(&src, &s.samples), "{what}: sample bytes differ");
}

#[test]
fn ffmpeg_fmp4_has_the_source_samples() {
    assert_same_samples("frag_h264_aac.mp4", TrackKind::Video, true);
    assert_same_samples("frag_h264_aac.mp4", TrackKind::Audio, false);
}

#[test]
fn ffmpeg_dash_single_file_has_the_source_samples() {
    assert_same_samples("dash_single.mp4", TrackKind::Video, true);
    assert_same_samples("dash_single_audio.mp4", TrackKind::Audio, true);
}

#[test]
fn shaka_packager_output_has_the_source_samples() {
    assert_same_samples("shaka_clear_video.mp4", TrackKind::Video, true);
    assert_same_samples("shaka_clear_audio.cmfa", TrackKind::Audio, true);
}

#[test]
fn cmaf_extension_is_just_a_name() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cmfv = tmp.path().join("video.cmfv");
    std::fs::copy(fixture("shaka_clear_video.mp4"), &cmfv).expect("copy");
    let m = Movie::open(&cmfv).expect("open .cmfv");
    assert_eq!(m.tracks.len(), 1);
    assert_eq!(m.tracks[0].samples.len(), 250);
}

// ---------------------------------------------------------------------------
// Packaged with cenc and decrypted by ffmpeg

/// framemd5 hashes (the sixth column, not the last: see TESTING.md) of
/// decoded video frames or of audio packets read by ffmpeg.
fn ffmpeg_hashes(input: &[&str], stdin: Stdio, kind: TrackKind) -> Vec<String> {
    let map: &[&str] = match kind {
        TrackKind::Video => &["-map", "0:v:0", "-fps_mode", "passthrough"],
        TrackKind::Audio => &["-map", "0:a:0", "-c", "copy"],
    };
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-v", "error"])
        .args(input)
        .args(map)
        .args(["-f", "framemd5", "-"])
        .stdin(stdin)
        .output()
        .expect("ffmpeg must be installed (scripts/install-test-tools.sh)");
    assert!(out.status.success(), "ffmpeg {input:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(',').map(str::trim).nth(5).map(str::to_string))
        .collect()
}

/// `init.mp4` then `1.m4s`, `2.m4s`, … of a track directory in one file
/// (fed to ffmpeg through a pipe, as TESTING.md says).
fn concat_track(dir: &Path, out: &Path) {
    let mut bytes = std::fs::read(dir.join("init.mp4")).expect("init.mp4");
    let mut n = 1;
    while let Ok(seg) = std::fs::read(dir.join(format!("{n}.m4s"))) {
        bytes.extend_from_slice(&seg);
        n += 1;
    }
    assert!(n > 2, "{}: fewer than two segments", dir.display());
    std::fs::write(out, bytes).expect("write concatenation");
}

fn decrypted_hashes(track_dir: &Path, key: &str, kind: TrackKind) -> Vec<String> {
    let cat = track_dir.with_extension("cat.mp4");
    concat_track(track_dir, &cat);
    let stdin = std::fs::File::open(&cat).expect("open concatenation");
    ffmpeg_hashes(&["-decryption_key", key, "-f", "mp4", "-i", "pipe:0"], Stdio::from(stdin), kind)
}

fn source_hashes(kind: TrackKind) -> Vec<String> {
    let src = fixture(SOURCE);
    ffmpeg_hashes(&["-i", &src.to_string_lossy()], Stdio::null(), kind)
}

#[test]
fn fragmented_input_packages_with_cenc_to_the_source_frames() {
    let frag = fixture("frag_h264_aac.mp4");
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    let key = ContentKey::parse(&format!("{KID1}:{KEY1}")).expect("key");
    let drm = DrmSystems { clearkey: true, ..Default::default() };
    let protection = Protection::Common(CommonEncryption::new(Scheme::Cenc, key, None, drm, LicenseUrls::default()));
    let opts = PackageOptions { segment_duration: 2.0, protection, dash: true, hls: true };
    let title = Title::open(&[&frag]).expect("open fragmented input");
    media::package::package(&title, &opts, &out, &|_| {}).expect("package");

    let video = decrypted_hashes(&out.join("video_1"), KEY1, TrackKind::Video);
    assert_eq!(video.len(), 250, "video frames");
    assert!(video == source_hashes(TrackKind::Video), "decrypted video frames differ from the source's");
    let audio = decrypted_hashes(&out.join("audio_2"), KEY1, TrackKind::Audio);
    assert!(audio.len() > 400, "audio packets: {}", audio.len());
    assert!(audio == source_hashes(TrackKind::Audio), "decrypted audio packets differ from the source's");
    // A wrong key must not give the clear frames back (ffmpeg does not
    // check keys: without this the test could pass on clear output).
    let wrong = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-decryption_key", "0f0e0d0c0b0a09080706050403020100", "-f", "mp4", "-i"])
        .arg(out.join("video_1.cat.mp4"))
        .args(["-map", "0:v:0", "-fps_mode", "passthrough", "-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg");
    let wrong: Vec<String> = String::from_utf8_lossy(&wrong.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(',').map(str::trim).nth(5).map(str::to_string))
        .collect();
    assert!(wrong != video, "the wrong key decrypted the video");
}

// ---------------------------------------------------------------------------
// Broken moof: one error naming the file, the box and its offset

/// Offset of the first top-level box of `kind` in `bytes`.
fn top_box(bytes: &[u8], kind: &[u8; 4]) -> usize {
    let mut pos = 0usize;
    while pos + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        if &bytes[pos + 4..pos + 8] == kind {
            return pos;
        }
        assert!(size >= 8, "test input has a box of size {size}");
        pos += size;
    }
    panic!("no {kind:?} box");
}

/// Offset of the first box of `kind` at or after `from` (by its type bytes).
fn find(bytes: &[u8], from: usize, kind: &[u8; 4]) -> usize {
    from + 4 + bytes[from + 4..].windows(4).position(|w| w == kind).expect("box present") - 4
}

fn open_broken(name: &str, bytes: &[u8]) -> String {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join(name);
    std::fs::write(&path, bytes).expect("write");
    match Movie::open(&path) {
        Ok(m) => panic!("{name}: opened a broken file: {m:?}"),
        Err(e) => {
            let msg = e.to_string();
            eprintln!("{name}: {msg}");
            assert!(msg.contains(&path.display().to_string()), "{name}: error does not name the file: {msg}");
            msg
        }
    }
}

#[test]
fn broken_moofs_are_errors_that_name_box_and_offset() {
    let good = std::fs::read(fixture("frag_h264_aac.mp4")).expect("read");
    let moof = top_box(&good, b"moof");
    let trun = find(&good, moof, b"trun");

    // The file ends inside the first moof.
    let msg = open_broken("truncated.mp4", &good[..moof + 100]);
    assert!(msg.contains(&format!("'moof' box at offset {moof}")), "{msg}");

    // A sample count far larger than the trun holds.
    let mut b = good.clone();
    b[trun + 12..trun + 16].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
    let msg = open_broken("trun_count.mp4", &b);
    assert!(msg.contains(&format!("'moof' box at offset {moof}")) && msg.contains("trun"), "{msg}");

    // data_offset pointing past the end of the file.
    let mut b = good.clone();
    b[trun + 16..trun + 20].copy_from_slice(&0x7fff_0000i32.to_be_bytes());
    let msg = open_broken("trun_past_end.mp4", &b);
    assert!(msg.contains(&format!("'trun' box at offset {trun}")) && msg.contains("past the end"), "{msg}");

    // data_offset before the start of the file (base + offset < 0).
    let mut b = good.clone();
    b[trun + 16..trun + 20].copy_from_slice(&i32::MIN.to_be_bytes());
    let msg = open_broken("trun_before_start.mp4", &b);
    assert!(msg.contains(&format!("'trun' box at offset {trun}")), "{msg}");

    // A 64-bit base_data_offset that overflows with the run's sizes.
    let tfhd = find(&good, moof, b"tfhd");
    let mut b = good.clone();
    // Set base-data-offset-present: the next 8 bytes (track id + first
    // default) become the base offset, u64 0x0000_0001_0000_0200.. — far
    // past the end of the file.
    b[tfhd + 11] |= 0x01;
    let msg = open_broken("base_offset.mp4", &b);
    assert!(msg.contains("offset"), "{msg}");

    // A traf for a track moov does not declare.
    let mut b = good.clone();
    b[tfhd + 12..tfhd + 16].copy_from_slice(&9u32.to_be_bytes());
    let msg = open_broken("unknown_track.mp4", &b);
    let traf = find(&good, moof, b"traf");
    assert!(msg.contains(&format!("'traf' box at offset {traf}")) && msg.contains("track 9"), "{msg}");

    // A moof whose size claims more than the file holds.
    let mut b = good.clone();
    b[moof..moof + 4].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
    let msg = open_broken("moof_size.mp4", &b);
    assert!(msg.contains(&format!("'moof' box at offset {moof}")), "{msg}");
}

/// Every single-byte change and every truncation of the first fragment's
/// headers gives an error or a movie, never a panic; and a `moof` claiming a
/// huge body is refused before anything is allocated for it.
#[test]
fn corrupted_fragment_headers_never_panic() {
    let good = std::fs::read(fixture("frag_h264_aac.mp4")).expect("read");
    let moof = top_box(&good, b"moof");
    let moof_len = u32::from_be_bytes(good[moof..moof + 4].try_into().expect("4 bytes")) as usize;
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("fuzzed.mp4");
    let mut b = good.clone();
    for i in (moof..moof + moof_len.min(400)).step_by(3) {
        for v in [0x00u8, 0xff, 0x80] {
            let keep = b[i];
            b[i] = v;
            std::fs::write(&path, &b).expect("write");
            let _ = Movie::open(&path);
            b[i] = keep;
        }
    }
    for cut in (moof..moof + moof_len + 16).step_by(7) {
        std::fs::write(&path, &good[..cut]).expect("write");
        assert!(Movie::open(&path).is_err(), "cut at {cut} opened");
    }
}
