//! End-to-end tests on the masters real catalogues hold (issue 13), each a
//! file made by scripts/make-fixtures.sh, judged by tools we did not write:
//! - ffmpeg decrypts every track of AC-3, E-AC-3 (5.1 and with Atmos JOC
//!   signalling), Opus and FLAC titles, `cenc` and `cbcs`, to the clear
//!   packets of the input; and QuickTime `.mov` files with version 1 and 2
//!   sound descriptions;
//! - the manifests, read by PyPI `mpegdash` and `m3u8`
//!   (tests/manifest_facts.py, `common::manifest_facts`), announce each audio track as ffprobe
//!   hears the input: codec, channel count (Dolby's channel map for AC-3
//!   and E-AC-3), sample rate.
//!
//! Test keys: KID1/KEY1 in tests/common (scripts/README.md).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

fn package_protected(inputs: &[PathBuf], out: &Path, scheme: &str) {
    let key = format!("{KID1}:{KEY1}");
    let o = package_title(inputs, out, &["--scheme", scheme, "--key", &key, "--quiet"]);
    assert_ok(&format!("castguard package {inputs:?} ({scheme})"), &o);
}

/// ffprobe's view of an input's audio streams: (codec_name, channels,
/// sample_rate).
fn probe_audio(input: &Path) -> Vec<(String, u64, u64)> {
    let o = run(Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a", "-show_entries", "stream=codec_name,channels,sample_rate"])
        .args(["-of", "json"])
        .arg(input));
    assert_ok("ffprobe", &o);
    let v: Value = serde_json::from_slice(&o.stdout).expect("ffprobe json");
    v["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .map(|s| {
            (
                s["codec_name"].as_str().unwrap_or_default().to_owned(),
                s["channels"].as_u64().unwrap_or(0),
                s["sample_rate"].as_str().and_then(|r| r.parse().ok()).unwrap_or(0),
            )
        })
        .collect()
}

/// The audio Representations of the MPD, in set order.
fn audio_reps(facts: &Value) -> Vec<(Value, Value)> {
    let mut out = Vec::new();
    for set in facts["dash"]["sets"].as_array().expect("sets") {
        if set["contentType"] == "audio" {
            for rep in set["representations"].as_array().expect("reps") {
                out.push((set.clone(), rep.clone()));
            }
        }
    }
    out
}

/// The `AudioChannelConfiguration` of a Representation, on it or on its set.
fn channel_config(set: &Value, rep: &Value) -> (String, String) {
    let list = if rep["channels"].as_array().is_some_and(|a| !a.is_empty()) { &rep["channels"] } else { &set["channels"] };
    let first = &list.as_array().expect("channel configuration")[0];
    (first[0].as_str().unwrap_or_default().to_owned(), first[1].as_str().unwrap_or_default().to_owned())
}

const MPEG_CHANNELS: &str = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011";
const DOLBY_CHANNELS: &str = "tag:dolby.com,2014:dash:audio_channel_configuration:2011";

/// Every track of AC-3, E-AC-3, Opus and FLAC masters decrypts in ffmpeg to
/// the input's packets, in both schemes.
#[test]
fn dolby_opus_and_flac_decrypt_to_the_clear_packets() {
    for scheme in ["cenc", "cbcs"] {
        for name in ["master_aac_ac3.mp4", "eac3_joc.mp4", "h264_opus.mp4", "h264_flac.mp4"] {
            let tmp = TempDir::new(&format!("codec-{scheme}"));
            let out = tmp.join("out");
            let input = fixture(name);
            package_protected(std::slice::from_ref(&input), &out, scheme);
            let checked = assert_tracks_match(&input, &out, Some(KEY1));
            assert_eq!(checked, streams(&input).len(), "{name} {scheme}");
        }
    }
}

/// The DASH and HLS descriptions of each audio codec, read by independent
/// parsers, match ffprobe's: `@codecs` / `CODECS`, the channel count (in
/// Dolby's scheme and loudspeaker map for AC-3 and E-AC-3, `16/JOC` for
/// Atmos in HLS with the JOC properties in DASH) and the sample rate.
#[test]
fn audio_codecs_are_announced_as_the_media_says() {
    let tmp = TempDir::new("codec-manifests");
    // files → per audio track (codecs, DASH channel scheme and value, HLS CHANNELS)
    type Want = (&'static str, &'static str, &'static str, &'static str);
    let cases: &[(&[&str], &[Want])] = &[
        (&["master_aac_ac3.mp4"], &[("mp4a.40.2", MPEG_CHANNELS, "2", "2"), ("ac-3", DOLBY_CHANNELS, "F801", "6")]),
        (&["ladder_234.mp4", "eac3_51.mp4"], &[("ec-3", DOLBY_CHANNELS, "F801", "6")]),
        (&["ladder_234.mp4", "eac3_joc.mp4"], &[("ec-3", DOLBY_CHANNELS, "F801", "16/JOC")]),
        (&["h264_opus.mp4"], &[("opus", MPEG_CHANNELS, "2", "2")]),
        (&["h264_flac.mp4"], &[("flac", MPEG_CHANNELS, "2", "2")]),
    ];
    for (i, (files, want)) in cases.iter().enumerate() {
        let inputs: Vec<PathBuf> = files.iter().map(|f| fixture(f)).collect();
        let out = tmp.join(format!("out{i}"));
        package_protected(&inputs, &out, "cenc");
        let facts = manifest_facts(&out);
        let probed: Vec<(String, u64, u64)> = inputs.iter().flat_map(|p| probe_audio(p)).collect();
        let reps = audio_reps(&facts);
        assert_eq!(reps.len(), want.len(), "{files:?}: {facts}");
        for (((set, rep), (codecs, scheme, value, hls_channels)), (_, channels, rate)) in reps.iter().zip(*want).zip(&probed) {
            assert_eq!(rep["codecs"], *codecs, "{files:?}");
            assert_eq!(channel_config(set, rep), (scheme.to_string(), value.to_string()), "{files:?}");
            if *scheme == MPEG_CHANNELS {
                assert_eq!(value.parse::<u64>().ok(), Some(*channels), "{files:?}: ffprobe hears {channels} channels");
            }
            assert_eq!(rep["audioSamplingRate"].as_str().and_then(|r| r.parse::<u64>().ok()), Some(*rate), "{files:?}");
            let joc = rep["supplemental"].as_array().expect("supplemental").iter().any(|d| d[1] == "JOC");
            assert_eq!(joc, hls_channels.ends_with("/JOC"), "{files:?}: {rep}");
            // HLS: the rendition's CHANNELS; the variants name the codec.
            let media = facts["hls"]["media"].as_array().expect("media");
            let audio_media: Vec<&Value> = media.iter().filter(|m| m["type"] == "AUDIO").collect();
            if !audio_media.is_empty() {
                assert!(
                    audio_media.iter().any(|m| m["channels"] == *hls_channels),
                    "{files:?}: no CHANNELS=\"{hls_channels}\" in {audio_media:?}"
                );
            }
            let variants = facts["hls"]["variants"].as_array().expect("variants");
            assert!(
                variants.iter().any(|v| v["codecs"].as_str().is_some_and(|c| c.split(',').any(|c| c == *codecs))),
                "{files:?}: no variant with {codecs}: {variants:?}"
            );
        }
        // The ffprobe channel count of the Dolby tracks is what the map says.
        for ((set, rep), (_, channels, _)) in reps.iter().zip(&probed) {
            let (scheme, value) = channel_config(set, rep);
            if scheme == DOLBY_CHANNELS {
                let map = u16::from_str_radix(&value, 16).expect("hex map");
                let pairs = map & (0x0400 | 0x0200 | 0x0040 | 0x0020 | 0x0010 | 0x0004);
                assert_eq!(u64::from(map.count_ones() + pairs.count_ones()), *channels, "{files:?} {value}");
            }
        }
    }
}

/// QuickTime `.mov` masters with version 1 (48 kHz stereo) and version 2
/// (96 kHz mono) sound descriptions package, decrypt to the input's
/// packets, and are announced with ffprobe's rate and channels.
#[test]
fn quicktime_sound_descriptions_version_1_and_2() {
    for (name, channels, rate) in [("qt_h264_aac.mov", "2", "48000"), ("qt_h264_aac96.mov", "1", "96000")] {
        let input = fixture(name);
        let probed = probe_audio(&input);
        assert_eq!(probed[0].1.to_string(), channels, "{name}: ffprobe");
        assert_eq!(probed[0].2.to_string(), rate, "{name}: ffprobe");
        for scheme in ["cenc", "cbcs"] {
            let tmp = TempDir::new("mov");
            let out = tmp.join("out");
            package_protected(std::slice::from_ref(&input), &out, scheme);
            assert_eq!(assert_tracks_match(&input, &out, Some(KEY1)), 2, "{name} {scheme}");
            let facts = manifest_facts(&out);
            let reps = audio_reps(&facts);
            let (set, rep) = &reps[0];
            assert_eq!(channel_config(set, rep), (MPEG_CHANNELS.to_owned(), channels.to_owned()), "{name}");
            assert_eq!(rep["audioSamplingRate"], rate, "{name}");
            // The init segment carries an ISO (version 0) entry with esds.
            let init = fs::read(out.join("audio_2/init.mp4")).expect("init");
            let at = init.windows(4).position(|w| w == b"enca").expect("enca entry");
            assert_eq!(&init[at + 12..at + 14], &[0, 0], "{name}: sound description version 0");
            assert!(init.windows(4).any(|w| w == b"esds") && !init.windows(4).any(|w| w == b"wave"), "{name}");
        }
    }
}

/// A track of a codec castguard does not package (here PCM in a `.mov`)
/// is left out with one line naming it; the rest of the file is packaged.
#[test]
fn unsupported_audio_leaves_its_track_out_not_the_file() {
    let tmp = TempDir::new("pcm");
    let mov = tmp.join("with_pcm.mov");
    let o = run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(fixture("qt_h264_aac.mov"))
        .args(["-f", "lavfi", "-i", "sine=frequency=300:sample_rate=48000", "-t", "6"])
        .args(["-map", "0:v", "-map", "0:a", "-map", "1:a", "-c:v", "copy", "-c:a:0", "copy", "-c:a:1", "pcm_s16le"])
        .arg(&mov));
    assert_ok("ffmpeg mov with PCM", &o);
    let out = tmp.join("out");
    let o = package_title(std::slice::from_ref(&mov), &out, &["--scheme", "none", "--quiet"]);
    assert_ok("package a mov with PCM audio", &o);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("with_pcm.mov: track 3 ('soun') skipped: unsupported sample entry 'sowt' (H.264, H.265, AAC"), "{stderr}");
    assert!(out.join("video_1/init.mp4").is_file() && out.join("audio_2/init.mp4").is_file() && !out.join("audio_3").exists());

    // A file of nothing castguard can package is refused with that reason.
    let pcm_only = tmp.join("pcm_only.mov");
    let o = run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=48000", "-t", "2", "-c:a", "pcm_s16le"])
        .arg(&pcm_only));
    assert_ok("ffmpeg PCM mov", &o);
    let o = package_title(&[pcm_only], &tmp.join("out2"), &["--scheme", "none"]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("unsupported") && stderr.contains("'sowt'"), "{stderr}");
}

/// Seconds of each Representation's segments, per set content type.
fn segment_secs(facts: &Value, content_type: &str) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    for set in facts["dash"]["sets"].as_array().expect("sets") {
        if set["contentType"] != content_type {
            continue;
        }
        for rep in set["representations"].as_array().expect("reps") {
            let ts = rep["timescale"].as_f64().expect("timescale");
            out.push(
                rep["segments"]
                    .as_array()
                    .expect("segments")
                    .iter()
                    .map(|s| (s[0].as_f64().unwrap_or(-1.0) / ts, s[1].as_f64().unwrap_or(-1.0) / ts))
                    .collect(),
            );
        }
    }
    out
}

/// ffprobe's presentation times of an input's video key frames, seconds.
fn key_frame_times(input: &Path) -> Vec<f64> {
    let o = run(Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0"])
        .arg(input));
    assert_ok("ffprobe packets", &o);
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.contains('K'))
        .filter_map(|l| l.split(',').next()?.parse().ok())
        .collect()
}

/// ffprobe's duration of an input's first stream of `kind`, seconds.
fn stream_secs(input: &Path, kind: &str) -> f64 {
    let o = run(Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", &format!("{kind}:0"), "-show_entries", "stream=duration", "-of", "csv=p=0"])
        .arg(input));
    String::from_utf8_lossy(&o.stdout).trim().parse().expect("duration")
}

/// A 10 s GOP cannot give 4 s video segments: they follow the GOP, one
/// warning says so, `minBufferTime` and the video playlist's
/// `EXT-X-TARGETDURATION` follow the real 10 s segments; the audio, which
/// runs 3 s past the video, is cut on its own every 4 s (none longer than
/// 1.5 targets, none shorter than half of one but the last), and every track
/// still decrypts to the input's packets.
#[test]
fn long_gops_and_audio_past_the_video_are_segmented_truthfully() {
    let input = fixture("long_gop.mp4");
    let keys = key_frame_times(&input);
    assert_eq!(keys, vec![0.0, 10.0], "ffprobe: a 10 s GOP");
    let (video_secs, audio_secs) = (stream_secs(&input, "v"), stream_secs(&input, "a"));
    assert!(audio_secs > video_secs + 2.9, "ffprobe: audio {audio_secs} s, video {video_secs} s");

    let tmp = TempDir::new("long-gop");
    let out = tmp.join("out");
    let key = format!("{KID1}:{KEY1}");
    let o = package_title(std::slice::from_ref(&input), &out, &["--scheme", "cenc", "--key", &key, "--quiet"]);
    assert_ok("package long_gop.mp4", &o);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("warning") && stderr.contains("up to 10.0 s apart (GOP)"), "{stderr}");
    assert_eq!(assert_tracks_match(&input, &out, Some(KEY1)), 2);

    let facts = manifest_facts(&out);
    let video = &segment_secs(&facts, "video")[0];
    assert_eq!(video.iter().map(|s| s.0).collect::<Vec<_>>(), keys, "video segments start at the key frames");
    let audio = &segment_secs(&facts, "audio")[0];
    let total: f64 = audio.iter().map(|s| s.1).sum();
    assert!((total - audio_secs).abs() < 0.05, "audio segments cover {total} s of {audio_secs} s");
    for (i, (start, d)) in audio.iter().enumerate() {
        // At most 1.5 targets: a remainder under half a target joins the
        // segment before it rather than making a sliver.
        assert!(*d <= 6.0, "audio segment {i} at {start} s lasts {d} s");
        assert!(*d >= 2.0 || i == audio.len() - 1, "audio segment {i} at {start} s lasts {d} s");
    }
    assert!(audio.iter().any(|s| (s.0 - 10.0).abs() < 0.03), "audio is cut where the video is: {audio:?}");
    assert_eq!(facts["dash"]["minBufferTime"], "PT10S");
    let playlists = &facts["hls"]["playlists"];
    assert_eq!(playlists["video_1/playlist.m3u8"]["targetDuration"], 10);
    assert!(playlists["audio_2/playlist.m3u8"]["targetDuration"].as_u64().is_some_and(|t| t <= 5), "{playlists}");
}

/// Segments of `track_dir` decoded alone by ffmpeg (init + segment N):
/// (packets, frames decoded, lines of decoder errors) per segment.
fn decode_alone(track_dir: &Path) -> Vec<(usize, usize, usize)> {
    let tmp = TempDir::new("alone");
    let init = fs::read(track_dir.join("init.mp4")).expect("init");
    segments(track_dir)
        .iter()
        .map(|seg| {
            let file = tmp.join("one.mp4");
            let mut bytes = init.clone();
            bytes.extend(fs::read(seg).expect("segment"));
            fs::write(&file, bytes).expect("write");
            let packets = run(Command::new("ffprobe")
                .args(["-v", "error", "-count_packets", "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
                .arg(&file));
            let packets = String::from_utf8_lossy(&packets.stdout).trim().parse().expect("packets");
            let o = run(Command::new("ffmpeg").args(["-nostdin", "-v", "error", "-i"]).arg(&file).args(["-f", "framemd5", "-"]));
            let frames = String::from_utf8_lossy(&o.stdout).lines().filter(|l| !l.starts_with('#')).count();
            (packets, frames, String::from_utf8_lossy(&o.stderr).lines().count())
        })
        .collect()
}

/// Open GOPs (x264 open-gop: non-IDR key frames with leading B-frames):
/// without any closed key frame the segments are cut at the open ones and
/// say so (`startWithSAP="3"`, no `EXT-X-INDEPENDENT-SEGMENTS`, a
/// warning), and ffmpeg indeed cannot decode such a segment alone; with an
/// IDR every 8 s, only the IDRs start segments, which say SAP type 1 and
/// independent, and every segment decodes alone to all its frames.
#[test]
fn open_gops_are_signalled_and_closed_key_frames_preferred() {
    let tmp = TempDir::new("open-gop");
    let open = fixture("open_gop.mp4");
    let out = tmp.join("open");
    let o = package_title(std::slice::from_ref(&open), &out, &["--scheme", "none", "--quiet"]);
    assert_ok("package open_gop.mp4", &o);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("open GOPs") && stderr.contains("SAP type 3"), "{stderr}");
    let facts = manifest_facts(&out);
    assert_eq!(facts["dash"]["sets"][0]["startWithSAP"], 3);
    assert_eq!(facts["hls"]["independentSegments"], false);
    assert_eq!(facts["hls"]["playlists"]["video_1/playlist.m3u8"]["independentSegments"], false);
    let alone = decode_alone(&out.join("video_1"));
    assert!(alone.len() >= 2, "{alone:?}");
    assert!(
        alone.iter().skip(1).any(|&(packets, frames, errors)| frames < packets || errors > 0),
        "an open-GOP segment decoded alone without loss: {alone:?}"
    );

    let mixed = fixture("open_gop_idr8.mp4");
    let out = tmp.join("mixed");
    let o = package_title(std::slice::from_ref(&mixed), &out, &["--scheme", "none", "--quiet"]);
    assert_ok("package open_gop_idr8.mp4", &o);
    let facts = manifest_facts(&out);
    assert_eq!(facts["dash"]["sets"][0]["startWithSAP"], 1);
    assert_eq!(facts["hls"]["independentSegments"], true);
    let starts: Vec<f64> = segment_secs(&facts, "video")[0].iter().map(|s| s.0).collect();
    assert_eq!(starts, vec![0.0, 8.0], "segments start at the IDRs only");
    for (i, (packets, frames, errors)) in decode_alone(&out.join("video_1")).into_iter().enumerate() {
        assert_eq!((frames, errors), (packets, 0), "segment {} decoded alone", i + 1);
    }
}

/// Segment times are presentation times: each video segment is announced
/// at the time ffprobe shows its key frame (B-frames, an edit list with an
/// empty edit, a variable frame rate), and the segments follow each other
/// without gaps. (An open-GOP segment starts with its leading pictures,
/// shown before its key frame: see the open-GOP test.)
#[test]
fn segments_are_announced_at_their_key_frames_presentation_time() {
    let tmp = TempDir::new("pts");
    for name in ["h264_aac_bframes.mp4", "odd_gop.mp4", "vfr_h264.mp4", "open_gop_idr8.mp4"] {
        let input = fixture(name);
        let keys = key_frame_times(&input);
        let out = tmp.join(name);
        let o = package_title(std::slice::from_ref(&input), &out, &["--scheme", "none", "--quiet"]);
        assert_ok(name, &o);
        let facts = manifest_facts(&out);
        let video = &segment_secs(&facts, "video")[0];
        for (i, (start, d)) in video.iter().enumerate().skip(1) {
            assert!(keys.iter().any(|k| (k - start).abs() < 0.0005), "{name}: segment {} at {start} s is no key frame of {keys:?}", i + 1);
            let (prev_start, prev_d) = video[i - 1];
            assert!((prev_start + prev_d - start).abs() < 1e-9, "{name}: gap before segment {}", i + 1);
            assert!(*d > 0.0);
        }
    }
}
