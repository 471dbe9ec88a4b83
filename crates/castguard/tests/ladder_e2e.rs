//! End-to-end tests of a title made of several files (an ABR ladder):
//! `castguard package v234.mp4 v360.mp4 v720.mp4 audio_en.mp4 audio_fr.mp4`
//! on the ladder fixtures of scripts/make-fixtures.sh, judged by tools we
//! did not write:
//! - ffmpeg decrypts every rendition (`cenc` and `cbcs`) to the clear frames
//!   of its own input file, and every audio track to its packets;
//! - Shaka Packager decrypts a rendition too;
//! - ffprobe sees every video rendition's segment N start at the same
//!   presentation time with a key frame (a player can switch anywhere);
//! - misaligned key frames, renditions of different lengths, two renditions
//!   of the same size, and a broken file among good ones exit 1 with one
//!   line naming the file, and leave no output directory.
//!
//! Test keys: KID1/KEY1 in tests/common (scripts/README.md).

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

const RENDITIONS: &[&str] = &["ladder_234.mp4", "ladder_360.mp4", "ladder_720.mp4"];
const AUDIO: &[&str] = &["ladder_audio_en.mp4", "ladder_audio_fr.mp4"];

fn ladder_inputs() -> Vec<PathBuf> {
    RENDITIONS.iter().chain(AUDIO).map(|f| fixture(f)).collect()
}

/// The title's track folders, in input order: renditions, then audio.
fn track_dirs() -> Vec<&'static str> {
    vec!["video_1", "video_2", "video_3", "audio_4", "audio_5"]
}

fn packaged(scheme: &str) -> (TempDir, PathBuf) {
    let tmp = TempDir::new(&format!("ladder-{scheme}"));
    let out = tmp.join("out");
    let key = format!("{KID1}:{KEY1}");
    let o = package_title(&ladder_inputs(), &out, &["--scheme", scheme, "--key", &key]);
    assert_ok(&format!("castguard package (ladder, {scheme})"), &o);
    (tmp, out)
}

fn each_track_decrypts(scheme: &str) {
    let (_tmp, out) = packaged(scheme);
    for (dir, input) in track_dirs().into_iter().zip(ladder_inputs()) {
        let media = if dir.starts_with("video") { Media::Video } else { Media::Audio(0) };
        let want = clear_hashes(&input, media);
        let got = track_hashes(&out.join(dir), Some(KEY1), media)
            .unwrap_or_else(|e| panic!("{scheme} {dir}: ffmpeg failed: {e}"));
        assert_hashes_eq(&got, &want, &format!("{scheme} {dir} vs {}", input.display()));
        if dir == "video_3" {
            // The wrong key must not give the clear frames.
            let wrong = track_hashes(&out.join(dir), Some(KEY2), media).unwrap_or_default();
            assert_ne!(wrong, want, "{scheme} {dir}: the wrong key decrypted");
        }
    }
    let mpd = fs::read_to_string(out.join("manifest.mpd")).expect("manifest.mpd");
    for (w, h) in [(416, 234), (640, 360), (1280, 720)] {
        assert!(mpd.contains(&format!("width=\"{w}\" height=\"{h}\"")), "{scheme}: no {w}x{h} rendition in the MPD:\n{mpd}");
    }
    let master = fs::read_to_string(out.join("master.m3u8")).expect("master.m3u8");
    for res in ["416x234", "640x360", "1280x720"] {
        assert!(master.contains(&format!("RESOLUTION={res}")), "{scheme}: no {res} variant:\n{master}");
    }
}

#[test]
fn ladder_cenc_every_rendition_decrypts() {
    each_track_decrypts("cenc");
}

#[test]
fn ladder_cbcs_every_rendition_decrypts() {
    each_track_decrypts("cbcs");
}

#[test]
fn ladder_shaka_decrypts_a_rendition() {
    let (_tmp, out) = packaged("cenc");
    let tmp = TempDir::new("shaka-ladder");
    let dst = tmp.join("video_3.mp4");
    shaka_decrypt(&out.join("video_3"), &dst, KID1, KEY1).expect("shaka packager decrypts video_3");
    let got = file_hashes(&dst, Media::Video).expect("hash");
    assert_hashes_eq(&got, &clear_hashes(&fixture("ladder_720.mp4"), Media::Video), "shaka video_3");
}

/// Every video rendition's segment N starts at the same time, on a key
/// frame, as ffprobe reads the segments.
#[test]
fn ladder_segments_line_up() {
    let (_tmp, out) = packaged("cenc");
    let mut starts: Vec<Vec<String>> = Vec::new();
    for dir in ["video_1", "video_2", "video_3"] {
        let track = out.join(dir);
        let segs = segments(&track);
        assert!(segs.len() >= 3, "{dir}: {} segments", segs.len());
        let mut s = Vec::new();
        for seg in &segs {
            let info = segment_info(&track, seg);
            assert!(info.first_is_sync, "{dir} {}: does not start with a key frame", seg.display());
            s.push(format!("{:.3}", info.start));
        }
        starts.push(s);
    }
    assert_eq!(starts[0], starts[1], "234 and 360 segments start at different times");
    assert_eq!(starts[0], starts[2], "234 and 720 segments start at different times");
}

fn assert_fails_naming(inputs: &[PathBuf], names: &[&str]) {
    let tmp = TempDir::new("ladder-fail");
    let out = tmp.join("out");
    let o = package_title(inputs, &out, &["--scheme", "cenc", "--key", &format!("{KID1}:{KEY1}")]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "want exit 1, stderr {stderr:?}");
    assert_eq!(stderr.trim().lines().count(), 1, "want one line, got {stderr:?}");
    for n in names {
        assert!(stderr.contains(n), "the error does not name {n}: {stderr:?}");
    }
    assert!(!stderr.contains(KEY1), "key material in an error: {stderr:?}");
    assert!(!out.exists(), "output left behind");
    let left: Vec<_> = fs::read_dir(tmp.path()).expect("read").flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "files left beside the output: {left:?}");
}

#[test]
fn misaligned_key_frames_are_refused() {
    let inputs = vec![fixture("ladder_234.mp4"), fixture("ladder_misaligned_360.mp4"), fixture("ladder_audio_en.mp4")];
    // Segments start every 4 s on the 2 s GOP of the first rendition; the
    // 37-frame GOP has no key frame at 4.000 s.
    assert_fails_naming(&inputs, &["ladder_misaligned_360.mp4", "4.000 s", "-keyint_min"]);
}

#[test]
fn renditions_of_different_length_are_refused() {
    let inputs = vec![fixture("ladder_234.mp4"), fixture("ladder_short_360.mp4")];
    assert_fails_naming(&inputs, &["ladder_short_360.mp4", "lasts"]);
}

#[test]
fn the_same_rendition_twice_is_refused() {
    let tmp = TempDir::new("dup");
    let copy = tmp.join("copy_360.mp4");
    fs::copy(fixture("ladder_360.mp4"), &copy).expect("copy");
    let inputs = vec![fixture("ladder_234.mp4"), fixture("ladder_360.mp4"), copy];
    assert_fails_naming(&inputs, &["copy_360.mp4", "ladder_360.mp4", "same size"]);
}

#[test]
fn a_broken_file_among_good_ones_is_named() {
    let tmp = TempDir::new("broken");
    let bad = tmp.join("broken_720.mp4");
    let bytes = fs::read(fixture("ladder_720.mp4")).expect("read");
    fs::write(&bad, &bytes[..bytes.len() / 3]).expect("write");
    let text = tmp.join("notes.mp4");
    fs::write(&text, "not a movie\n").expect("write");
    assert_fails_naming(&[fixture("ladder_234.mp4"), bad], &["broken_720.mp4"]);
    assert_fails_naming(&[fixture("ladder_234.mp4"), text], &["notes.mp4"]);
}

/// The same audio muxed into every rendition file is carried once, and the
/// copies are named on stderr.
#[test]
fn audio_repeated_in_every_file_is_kept_once() {
    let tmp = TempDir::new("muxed");
    let mut inputs = Vec::new();
    for r in ["ladder_234.mp4", "ladder_360.mp4"] {
        let dst = tmp.join(format!("muxed_{r}"));
        let o = run(std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(fixture(r))
            .arg("-i")
            .arg(fixture("ladder_audio_en.mp4"))
            .args(["-map", "0:v", "-map", "1:a", "-c", "copy", "-movflags", "+faststart"])
            .arg(&dst));
        assert_ok("ffmpeg mux", &o);
        inputs.push(dst);
    }
    let out = tmp.join("out");
    let o = package_title(&inputs, &out, &["--scheme", "none"]);
    assert_ok("package muxed ladder", &o);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("the same audio as"), "no note about the repeated audio: {stderr:?}");
    let mut dirs: Vec<String> = fs::read_dir(&out)
        .expect("read")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs, ["audio_2", "video_1", "video_3"]);
}

/// HLS I-frame playlists (trick play): every entry's byte range, fed to
/// ffmpeg after the init segment, decrypts to exactly the key frame the
/// clear input has at that segment's start; the master lists one I-frame
/// stream per rendition.
#[test]
fn iframe_byte_ranges_hold_the_key_frames() {
    for scheme in ["cenc", "cbcs"] {
        let (_tmp, out) = packaged(scheme);
        let master = fs::read_to_string(out.join("master.m3u8")).expect("master");
        assert_eq!(master.matches("#EXT-X-I-FRAME-STREAM-INF:").count(), 3, "{scheme}:\n{master}");
        for (dir, input) in [("video_1", "ladder_234.mp4"), ("video_3", "ladder_720.mp4")] {
            let track = out.join(dir);
            let playlist = fs::read_to_string(track.join("iframes.m3u8")).expect("iframes.m3u8");
            assert!(playlist.contains("#EXT-X-I-FRAMES-ONLY"), "{playlist}");
            let ranges: Vec<(u64, String)> = playlist
                .lines()
                .zip(playlist.lines().skip(1))
                .filter_map(|(a, b)| {
                    let r = a.strip_prefix("#EXT-X-BYTERANGE:")?;
                    let (len, at) = r.split_once('@')?;
                    assert_eq!(at, "0", "{dir}: ranges start at the segment's start");
                    Some((len.parse().ok()?, b.to_owned()))
                })
                .collect();
            let segs = segments(&track);
            assert_eq!(ranges.len(), segs.len(), "{scheme} {dir}: one I-frame per segment");
            let clear = clear_hashes(&fixture(input), Media::Video);
            let mut first_frame = 0usize;
            let tmp = TempDir::new("iframe");
            for ((len, uri), seg) in ranges.iter().zip(&segs) {
                assert_eq!(&track.join(uri), seg, "{dir}: I-frame URI order");
                let mut bytes = fs::read(track.join("init.mp4")).expect("init");
                let segment = fs::read(seg).expect("segment");
                assert!(*len as usize <= segment.len(), "{dir} {uri}: range past the segment");
                bytes.extend_from_slice(&segment[..*len as usize]);
                let f = tmp.join("iframe.mp4");
                fs::write(&f, &bytes).expect("write");
                let o = run(std::process::Command::new("ffmpeg")
                    .args(["-v", "quiet", "-decryption_key", KEY1, "-i"])
                    .arg(&f)
                    .args(["-map", "0:v", "-f", "framemd5", "-"]));
                let got = framemd5_hashes(&String::from_utf8_lossy(&o.stdout));
                assert_eq!(got.first(), clear.get(first_frame), "{scheme} {dir} {uri}: not the key frame");
                first_frame += segment_info(&track, seg).samples;
            }
        }
    }
}

/// A track that is neither video nor audio (a QuickTime timecode track) is
/// left out with one line naming it, and the rest of the title packages.
#[test]
fn a_timecode_track_is_named_and_left_out() {
    let tmp = TempDir::new("tmcd");
    let with_tc = tmp.join("with_timecode.mp4");
    let o = run(std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(fixture("ladder_234.mp4"))
        .args(["-c", "copy", "-timecode", "01:00:00:00", "-write_tmcd", "1"])
        .arg(&with_tc));
    assert_ok("ffmpeg with a timecode track", &o);
    let out = tmp.join("out");
    let o = package_title(&[with_tc, fixture("ladder_audio_en.mp4")], &out, &["--scheme", "none", "--quiet"]);
    assert_ok("package with a timecode track", &o);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("with_timecode.mp4: track 2 ('tmcd') skipped"), "{stderr}");
    assert!(out.join("video_1/init.mp4").is_file() && out.join("audio_2/init.mp4").is_file());
}

/// Audio is described as ffprobe hears it: the channel count from the
/// decoder configuration (5.1 and mono, not the sample entry's constant 2)
/// and the language as its shortest BCP 47 tag (`fra` → `fr`), with a name
/// people read in HLS.
#[test]
fn audio_channels_and_language_tags_follow_the_media() {
    let tmp = TempDir::new("channels");
    let surround = tmp.join("surround_fr.mp4");
    let o = run(std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=48000", "-t", "10"])
        .args(["-ac", "6", "-c:a", "aac", "-b:a", "192k", "-metadata:s:a:0", "language=fre"])
        .arg(&surround));
    assert_ok("ffmpeg 5.1 AAC", &o);
    let mono = fixture("h264_2audio.mp4");
    for (input, ch) in [(&surround, "6"), (&mono, "1")] {
        let probe = run(std::process::Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "a", "-show_entries", "stream=channels", "-of", "csv=p=0"])
            .arg(input));
        assert!(String::from_utf8_lossy(&probe.stdout).lines().any(|l| l.trim() == ch), "{} has no {ch}-channel audio", input.display());
    }
    let out = tmp.join("out");
    let o = package_title(&[fixture("ladder_234.mp4"), surround.clone()], &out, &["--scheme", "none", "--quiet"]);
    assert_ok("package 5.1", &o);
    let mpd = fs::read_to_string(out.join("manifest.mpd")).expect("mpd");
    let master = fs::read_to_string(out.join("master.m3u8")).expect("master");
    assert!(mpd.contains("lang=\"fr\"") && mpd.contains("audio_channel_configuration:2011\" value=\"6\""), "{mpd}");
    assert!(master.contains("NAME=\"French\",LANGUAGE=\"fr\"") && master.contains("CHANNELS=\"6\""), "{master}");

    let out2 = tmp.join("out2");
    let o = package_title(&[mono], &out2, &["--scheme", "none", "--quiet"]);
    assert_ok("package h264_2audio", &o);
    let master = fs::read_to_string(out2.join("master.m3u8")).expect("master");
    let fr = master.lines().find(|l| l.contains("LANGUAGE=\"fr\"")).unwrap_or_else(|| panic!("no fr audio: {master}"));
    assert!(fr.contains("CHANNELS=\"1\""), "{fr}");
    let en = master.lines().find(|l| l.contains("LANGUAGE=\"en\"")).unwrap_or_else(|| panic!("no en audio: {master}"));
    assert!(en.contains("CHANNELS=\"2\"") && en.contains("NAME=\"English\""), "{en}");
    assert!(!master.contains("\"eng\"") && !master.contains("\"fra\""), "{master}");
}

/// One `stream=` entry of ffprobe for the first video stream of `input`.
fn probe_video(input: &Path, entry: &str) -> String {
    let o = run(std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", &format!("stream={entry}"), "-of", "csv=p=0"])
        .arg(input));
    assert_ok("ffprobe", &o);
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn package_clear(input: &Path, tmp: &TempDir) -> PathBuf {
    let out = tmp.join("out");
    let o = package_title(&[input.to_path_buf()], &out, &["--scheme", "none", "--quiet"]);
    assert_ok(&format!("package {}", input.display()), &o);
    out
}

fn video_sets(d: &serde_json::Value) -> Vec<serde_json::Value> {
    d["dash"]["sets"].as_array().expect("sets").iter().filter(|s| s["contentType"] == "video").cloned().collect()
}

/// A variable frame rate (25 fps, then 12.5 fps): the MPD's `@frameRate` is
/// the average ffprobe computes (`avg_frame_rate` 4675/249), its
/// `maxFrameRate` and HLS `FRAME-RATE` the 25 fps of the fast part (what
/// ffprobe calls `r_frame_rate`). A constant-rate input keeps one figure.
#[test]
fn variable_frame_rate_is_announced_as_average_and_maximum() {
    let input = fixture("vfr_h264.mp4");
    let avg = probe_video(&input, "avg_frame_rate");
    assert_eq!(avg, "4675/249", "the fixture's rate does not vary as expected");
    assert_eq!(probe_video(&input, "r_frame_rate"), "25/1");
    let tmp = TempDir::new("vfr");
    let d = manifest_facts(&package_clear(&input, &tmp));
    let sets = video_sets(&d);
    assert_eq!(sets.len(), 1, "{d}");
    assert_eq!(sets[0]["representations"][0]["frameRate"], avg.as_str(), "{d}");
    assert_eq!(sets[0]["maxFrameRate"], "25", "{d}");
    let variants = d["hls"]["variants"].as_array().expect("variants");
    assert_eq!(variants.len(), 1, "{d}");
    assert_eq!(variants[0]["frameRate"].as_f64(), Some(25.0), "{d}");

    let tmp = TempDir::new("cfr");
    let d = manifest_facts(&package_clear(&fixture("h264_aac_bframes.mp4"), &tmp));
    let sets = video_sets(&d);
    assert_eq!(sets[0]["representations"][0]["frameRate"], "25", "{d}");
    assert!(sets[0]["maxFrameRate"].is_null(), "{d}");
    assert_eq!(d["hls"]["variants"][0]["frameRate"].as_f64(), Some(25.0), "{d}");
}

/// Interlaced H.264 (ffprobe: field_order tt) is `scanType="interlaced"`;
/// progressive video writes no scanType.
#[test]
fn interlaced_video_is_announced() {
    let input = fixture("interlaced_h264.mp4");
    assert_eq!(probe_video(&input, "field_order"), "tt");
    let tmp = TempDir::new("interlaced");
    let d = manifest_facts(&package_clear(&input, &tmp));
    assert_eq!(video_sets(&d)[0]["representations"][0]["scanType"], "interlaced", "{d}");

    let progressive = fixture("h264_aac_bframes.mp4");
    assert_eq!(probe_video(&progressive, "field_order"), "progressive");
    let tmp = TempDir::new("progressive");
    let out = package_clear(&progressive, &tmp);
    assert!(video_sets(&manifest_facts(&out))[0]["representations"][0]["scanType"].is_null());
    assert!(!fs::read_to_string(out.join("manifest.mpd")).expect("mpd").contains("scanType"));
}

/// Two unrelated pictures in one file (testsrc2 and mandelbrot; ffmpeg
/// writes tkhd alternate_group 0 on both): two DASH adaptation sets (Role
/// main, alternate), and in HLS one variant whose `VIDEO` group holds the
/// second picture as an `EXT-X-MEDIA:TYPE=VIDEO` rendition. ffmpeg plays
/// the master playlist and finds both pictures, each frame for frame the
/// input's.
#[test]
fn two_pictures_of_one_file_are_not_one_ladder() {
    let input = fixture("two_pictures.mp4");
    let tmp = TempDir::new("two-pictures");
    let out = package_clear(&input, &tmp);
    let d = manifest_facts(&out);
    let sets = video_sets(&d);
    assert_eq!(sets.len(), 2, "one set per picture: {d}");
    assert_eq!(sets[0]["roles"], serde_json::json!(["main"]), "{d}");
    assert_eq!(sets[0]["representations"][0]["id"], "1", "{d}");
    assert_eq!(sets[1]["roles"], serde_json::json!(["alternate"]), "{d}");
    assert_eq!(sets[1]["representations"][0]["id"], "2", "{d}");

    let hls = &d["hls"];
    let variants = hls["variants"].as_array().expect("variants");
    assert_eq!(variants.len(), 1, "the other picture is no variant: {d}");
    assert_eq!(variants[0]["uri"], "video_1/playlist.m3u8", "{d}");
    assert_eq!(variants[0]["video"], "video", "{d}");
    let video: Vec<&serde_json::Value> = hls["media"].as_array().expect("media").iter().filter(|m| m["type"] == "VIDEO").collect();
    assert_eq!(video.len(), 2, "{d}");
    assert!(video.iter().all(|m| m["groupId"] == "video"), "{d}");
    assert_eq!((&video[0]["default"], &video[0]["uri"]), (&serde_json::json!("YES"), &serde_json::Value::Null), "{d}");
    assert_eq!((&video[1]["default"], &video[1]["uri"]), (&serde_json::json!("NO"), &serde_json::json!("video_2/playlist.m3u8")), "{d}");
    assert_eq!(hls["iframes"], serde_json::json!(["video_1/iframes.m3u8"]), "trick play of the main picture: {d}");

    // ffmpeg's HLS demuxer over HTTP: both pictures, each the input's frames.
    let server = HttpServer::serve(&out);
    let url = server.url("master.m3u8");
    let probe = run(std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_type", "-of", "json"])
        .arg(&url));
    assert_ok("ffprobe master.m3u8", &probe);
    let streams: serde_json::Value = serde_json::from_slice(&probe.stdout).expect("ffprobe json");
    let videos = streams["streams"].as_array().expect("streams").iter().filter(|s| s["codec_type"] == "video").count();
    assert_eq!(videos, 2, "{streams}");
    // Which of ffmpeg's streams is which picture follows its own order:
    // compare the pictures as a set.
    let http = ["-rw_timeout".to_owned(), "20000000".into(), "-i".into(), url];
    let file = ["-i".to_owned(), input.display().to_string()];
    let mut got: Vec<Vec<String>> = (0..2).map(|n| frames(&http, n)).collect();
    let mut want: Vec<Vec<String>> = (0..2).map(|n| frames(&file, n)).collect();
    assert_ne!(want[0], want[1], "the fixture's pictures differ");
    got.sort();
    want.sort();
    assert!(got == want, "the master's video streams are not the input's two pictures");
}

/// framemd5 hashes of the `n`-th video stream ffmpeg finds in `input_args`.
fn frames(input_args: &[String], n: usize) -> Vec<String> {
    let o = run(std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error"])
        .args(input_args)
        .args(["-map", &format!("0:v:{n}"), "-fps_mode", "passthrough", "-f", "framemd5", "-"]));
    assert_ok("ffmpeg framemd5", &o);
    framemd5_hashes(&String::from_utf8_lossy(&o.stdout))
}

/// Two video tracks of one file that declare themselves alternatives (the
/// same non-zero tkhd alternate_group) stay one ladder: one adaptation
/// set, two variants, no VIDEO group.
#[test]
fn declared_alternates_stay_one_ladder() {
    let tmp = TempDir::new("alternates");
    let patched = tmp.join("alternates.mp4");
    let mut bytes = fs::read(fixture("two_pictures.mp4")).expect("read");
    set_video_alternate_group(&mut bytes, 7);
    fs::write(&patched, &bytes).expect("write");
    let out = tmp.join("out");
    let o = package_title(&[patched], &out, &["--scheme", "none", "--quiet"]);
    assert_ok("package alternates", &o);
    let d = manifest_facts(&out);
    let sets = video_sets(&d);
    assert_eq!(sets.len(), 1, "{d}");
    assert_eq!(sets[0]["representations"].as_array().map(Vec::len), Some(2), "{d}");
    assert_eq!(sets[0]["roles"], serde_json::json!([]), "{d}");
    assert_eq!(d["hls"]["variants"].as_array().map(Vec::len), Some(2), "{d}");
    assert!(d["hls"]["media"].as_array().expect("media").iter().all(|m| m["type"] != "VIDEO"), "{d}");
}

/// Sets `alternate_group` of every version-0 `tkhd` whose track is video
/// (width not 0) in a progressive MP4, in place (ISO/IEC 14496-12 §8.3.2:
/// after version/flags, 5 × 4 bytes of times, id and duration, 8 reserved
/// bytes and `layer`).
fn set_video_alternate_group(mp4: &mut [u8], group: i16) {
    let mut patched = 0;
    let mut at = 0;
    while let Some(i) = mp4[at..].windows(4).position(|w| w == b"tkhd").map(|i| i + at) {
        at = i + 4;
        let body = i + 4;
        assert_eq!(mp4[body], 0, "tkhd version 1 not handled");
        let group_at = body + 4 + 20 + 8 + 2;
        // width: after alternate_group (2), volume (2), reserved (2), matrix (36).
        let width_at = group_at + 2 + 2 + 2 + 36;
        if mp4[width_at..width_at + 4] != [0; 4] {
            mp4[group_at..group_at + 2].copy_from_slice(&group.to_be_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "two video tkhd boxes");
}
