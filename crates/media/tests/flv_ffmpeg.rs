//! FLV (what an RTMP push carries) remuxed by `media::flv` into CMAF is
//! read by ffmpeg, a demuxer we did not write, as the same frames at the
//! same times: ffmpeg makes an FLV (H.264 with B-frames and 2 s GOPs, AAC),
//! the remuxer turns its tags into a header and fragments, and the decoded
//! video frames, the audio packets and every packet's decode and
//! presentation time (ms) of the concatenated fMP4 equal the FLV's.
//!
//! Needs ffmpeg (scripts/install-test-tools.sh); fails, never skips.

use std::path::Path;
use std::process::{Command, Stdio};

use media::live::Unit;

fn ffmpeg(args: &[&str]) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ffmpeg");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// The hash column of ffmpeg's framemd5 for one stream kind (`v` decoded,
/// `a` as packets).
fn hashes(file: &Path, kind: &str) -> Vec<String> {
    let f = file.to_str().expect("utf-8 path");
    let mut args = vec!["-i", f, "-map", if kind == "v" { "0:v" } else { "0:a" }];
    if kind == "a" {
        args.extend(["-c", "copy"]);
    }
    args.extend(["-f", "framemd5", "-"]);
    let text = String::from_utf8(ffmpeg(&args)).expect("text");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(',').map(str::trim).nth(5).map(str::to_owned))
        .collect()
}

/// `(stream kind, pts ms, dts ms)` of every packet, as ffprobe reads them.
fn packet_times(file: &Path) -> Vec<(String, i64, i64)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "packet=codec_type,pts_time,dts_time", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("run ffprobe");
    assert!(out.status.success(), "ffprobe: {}", String::from_utf8_lossy(&out.stderr));
    let ms = |s: &str| (s.parse::<f64>().unwrap_or(f64::NAN) * 1000.0).round() as i64;
    let mut v: Vec<(String, i64, i64)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.len() >= 3).then(|| (f[0].to_owned(), ms(f[1]), ms(f[2])))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn flv_remuxes_to_the_same_frames() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let flv = tmp.path().join("push.flv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        "9",
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-g",
        "50",
        "-keyint_min",
        "50",
        "-sc_threshold",
        "0",
        "-bf",
        "2",
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-f",
        "flv",
        flv.to_str().expect("path"),
    ]);
    let bytes = std::fs::read(&flv).expect("read flv");
    let units = media::flv::remux_flv(&bytes, media::live::DEFAULT_MAX_FRAGMENT).expect("remux");
    let mut mp4 = Vec::new();
    let (mut headers, mut fragments) = (0, 0);
    for u in &units {
        match u {
            Unit::Header(h) => {
                headers += 1;
                mp4.extend_from_slice(h);
            }
            Unit::Fragment { bytes, .. } => {
                fragments += 1;
                mp4.extend_from_slice(bytes);
            }
        }
    }
    assert_eq!(headers, 1);
    // 9 s of 2 s GOPs: 5 video fragments, and audio cut with them.
    assert_eq!(fragments, 10, "one video and one audio fragment per GOP");
    let out = tmp.path().join("remuxed.mp4");
    std::fs::write(&out, &mp4).expect("write");

    let (want_v, got_v) = (hashes(&flv, "v"), hashes(&out, "v"));
    assert_eq!(want_v.len(), 225);
    assert_eq!(got_v, want_v, "decoded video frames");
    let (want_a, got_a) = (hashes(&flv, "a"), hashes(&out, "a"));
    assert!(want_a.len() > 400);
    assert_eq!(got_a, want_a, "audio packets");
    // Times: video exactly (ms in FLV, 90 kHz here); audio within the FLV's
    // ms rounding of the sample count.
    let (want, got) = (packet_times(&flv), packet_times(&out));
    assert_eq!(want.len(), got.len());
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w.0, g.0);
        let tolerance = if w.0 == "video" { 0 } else { 1 };
        assert!((w.1 - g.1).abs() <= tolerance && (w.2 - g.2).abs() <= tolerance, "{w:?} vs {g:?}");
    }
}
