//! Subtitles (issue 14): `castguard package ... --text en=subs_en.vtt
//! --text fr:forced=subs_fr.vtt` on the fixtures of scripts/make-fixtures.sh,
//! judged by tools we did not write:
//! - PyPI `mpegdash` and `m3u8` (tests/manifest_facts.py) read a text
//!   AdaptationSet per language with its Role and the sidecar
//!   Representation, and HLS `SUBTITLES` renditions referenced by every
//!   variant, none of whose `CODECS` names `wvtt`;
//! - the text segments start where the video's do;
//! - in headless Chromium (tests/browser/subtitles.mjs), shaka-player on
//!   DASH `cenc` and on HLS AES-128, and hls.js on HLS, list both languages
//!   and show each cue at its time, to the millisecond of the source file,
//!   and none between cues;
//! - bad subtitle files exit 1 with one line naming the file and line, and
//!   leave nothing behind.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

fn text_args() -> Vec<String> {
    vec![
        "--text".into(),
        format!("en={}", fixture("subs_en.vtt").display()),
        "--text".into(),
        format!("fr:forced:{FR_NAME}={}", fixture("subs_fr.vtt").display()),
    ]
}

/// The name given to the French track: what every player's menu must show.
const FR_NAME: &str = "Français (panneaux)";

/// The cues of a WebVTT fixture as ffmpeg reads them (its WebVTT demuxer):
/// `[start_ms, end_ms, text]`, what the players must show.
fn ffmpeg_cues(vtt: &Path) -> Vec<(u64, u64, String)> {
    let o = run(Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0"])
        .arg(vtt));
    assert_ok("ffprobe vtt", &o);
    let times: Vec<(u64, u64)> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            let mut it = l.split(',');
            let start: f64 = it.next()?.parse().ok()?;
            let d: f64 = it.next()?.parse().ok()?;
            Some(((start * 1000.0).round() as u64, ((start + d) * 1000.0).round() as u64))
        })
        .collect();
    // Texts in file order (ffprobe does not print payloads as text).
    let text = fs::read_to_string(vtt).expect("vtt");
    let mut texts = Vec::new();
    for block in text.replace("\r\n", "\n").split("\n\n") {
        let lines: Vec<&str> = block.lines().collect();
        if let Some(i) = lines.iter().position(|l| l.contains("-->")) {
            texts.push(lines[i + 1..].join("\n"));
        }
    }
    assert_eq!(times.len(), texts.len(), "{}", vtt.display());
    times.into_iter().zip(texts).map(|((s, e), t)| (s, e, t)).collect()
}

/// The source time from which both audio and video are present: the
/// latest of ffprobe's stream start times (odd_gop.mp4: its video, 0.52 s).
fn media_start(input: &Path) -> f64 {
    let o = run(Command::new("ffprobe").args(["-v", "error", "-show_entries", "stream=start_time", "-of", "csv=p=0"]).arg(input));
    assert_ok("ffprobe start times", &o);
    String::from_utf8_lossy(&o.stdout).lines().filter_map(|l| l.trim().trim_end_matches(',').parse::<f64>().ok()).fold(0.0, f64::max)
}

#[test]
fn subtitles_are_announced_in_dash_and_hls() {
    let tmp = TempDir::new("subs-manifests");
    let out = tmp.join("out");
    let args = text_args();
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.extend(["--scheme", "cenc", "--key", "00112233445566778899aabbccddeeff:000102030405060708090a0b0c0d0e0f", "--quiet"]);
    let o = package_title(&[fixture("h264_aac_bframes.mp4")], &out, &all);
    assert_ok("package with subtitles", &o);
    let facts = manifest_facts(&out);

    let sets = facts["dash"]["sets"].as_array().expect("sets");
    // Per language a `wvtt` set, and the sidecar in a set of its own.
    let texts: Vec<&Value> = sets.iter().filter(|s| s["contentType"] == "text" && s["representations"][0]["codecs"] == "wvtt").collect();
    assert_eq!(texts.len(), 2, "{facts}");
    for (set, (lang, role, labels)) in texts.iter().zip([("en", "subtitle", vec![]), ("fr", "forced-subtitle", vec![FR_NAME])]) {
        assert_eq!(set["lang"], lang);
        assert_eq!(set["roles"][0], role, "{set}");
        assert_eq!(set["labels"], serde_json::json!(labels), "{set}");
        assert_eq!(set["representations"].as_array().expect("reps").len(), 1, "{set}");
    }
    let mpd_text = fs::read_to_string(out.join("manifest.mpd")).expect("mpd");
    for sidecar in ["text_3/subtitles.vtt", "text_4/subtitles.vtt"] {
        assert!(mpd_text.contains(&format!("<BaseURL>{sidecar}</BaseURL>")), "{mpd_text}");
    }
    assert_eq!(mpd_text.matches("mimeType=\"text/vtt\"").count(), 2, "{mpd_text}");
    // Text segments start where the video's do.
    let video_starts: Vec<f64> = sets
        .iter()
        .find(|s| s["contentType"] == "video")
        .map(|s| {
            let r = &s["representations"][0];
            let ts = r["timescale"].as_f64().expect("ts");
            r["segments"].as_array().expect("segments").iter().map(|x| x[0].as_f64().unwrap_or(-1.0) / ts).collect()
        })
        .expect("video");
    let text_starts: Vec<f64> =
        texts[0]["representations"][0]["segments"].as_array().expect("segments").iter().map(|x| x[0].as_f64().unwrap_or(-1.0) / 1000.0).collect();
    assert_eq!(text_starts, video_starts);
    // The sidecar is the whole file, and ffmpeg reads the same cues from
    // it as from the source.
    let sidecar = out.join("text_3/subtitles.vtt");
    assert_eq!(ffmpeg_cues(&sidecar), ffmpeg_cues(&fixture("subs_en.vtt")));

    let hls = &facts["hls"];
    let subs: Vec<&Value> = hls["media"].as_array().expect("media").iter().filter(|m| m["type"] == "SUBTITLES").collect();
    assert_eq!(subs.len(), 2, "{hls}");
    assert_eq!((subs[0]["language"].as_str(), subs[1]["language"].as_str()), (Some("en"), Some("fr")));
    // A name given is the name; none given, the language's.
    assert_eq!((subs[0]["name"].as_str(), subs[1]["name"].as_str()), (Some("English"), Some(FR_NAME)));
    let master = fs::read_to_string(out.join("master.m3u8")).expect("master");
    assert!(master.contains("FORCED=YES"), "{master}");
    for v in hls["variants"].as_array().expect("variants") {
        assert!(!v["codecs"].as_str().unwrap_or_default().contains("wvtt"), "{v}");
    }
    assert!(master.lines().filter(|l| l.starts_with("#EXT-X-STREAM-INF")).all(|l| l.contains("SUBTITLES=\"subs\"")), "{master}");
    let playlist = fs::read_to_string(out.join("text_3/playlist.m3u8")).expect("text playlist");
    assert!(!playlist.contains("EXT-X-MAP") && !playlist.contains("EXT-X-KEY") && playlist.contains("1.vtt"), "{playlist}");
    let seg = fs::read_to_string(out.join("text_3/2.vtt")).expect("segment 2");
    assert!(seg.starts_with("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n"), "{seg}");
    assert!(seg.contains("A cue across the\nsegment boundary"), "the cue spanning 4 s is in segment 2 too: {seg}");
}

#[test]
fn players_show_each_cue_at_its_time() {
    let chromium = chromium(&["playwright-core", "shaka-player", "hls.js"]);
    let tmp = TempDir::new("subs-players");
    let args = text_args();
    let key = format!("{KID1}:{KEY1}");
    let dash = tmp.join("dash");
    let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
    a.extend(["--scheme", "cenc", "--key", &key, "--quiet"]);
    // odd_gop.mp4's video starts 0.52 s into the presentation (an empty
    // edit, then the B-frame shift): cues still land at the source's times.
    assert_ok("package cenc", &package_title(&[fixture("odd_gop.mp4")], &dash, &a));
    let hls = tmp.join("hls");
    let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
    a.extend(["--scheme", "aes-128", "--key", &key, "--quiet"]);
    assert_ok("package aes-128", &package_title(&[fixture("odd_gop.mp4")], &hls, &a));

    let expect = serde_json::json!({
        "en": ffmpeg_cues(&fixture("subs_en.vtt")),
        "fr": ffmpeg_cues(&fixture("subs_fr.vtt")),
    });
    let expect_file = tmp.join("cues.json");
    fs::write(&expect_file, expect.to_string()).expect("write cues");
    let mut args: Vec<std::ffi::OsString> = vec!["--dash".into(), dash.join("manifest.mpd").into(), "--hls".into()];
    args.extend([hls.join("master.m3u8").into(), "--expect".into(), expect_file.into()]);
    let start = media_start(&fixture("odd_gop.mp4"));
    assert!((start - 0.52).abs() < 1e-6, "odd_gop.mp4's video starts at 0.52 s, not {start}");
    // The packaged video starts there too: in its own timestamps (the
    // empty edit folded into `tfdt`, as ffprobe reads them) and in the MPD.
    let video = tmp.join("video.mp4");
    let mut joined = fs::read(dash.join("video_1/init.mp4")).expect("init");
    joined.extend(fs::read(dash.join("video_1/1.m4s")).expect("segment 1"));
    fs::write(&video, joined).expect("write");
    assert!((media_start(&video) - start).abs() < 1e-6, "packaged video starts at {}", media_start(&video));
    let facts = manifest_facts(&dash);
    let first = facts["dash"]["sets"]
        .as_array()
        .and_then(|sets| sets.iter().find(|s| s["contentType"] == "video"))
        .map(|s| &s["representations"][0])
        .expect("video set");
    let t0 = first["segments"][0][0].as_f64().unwrap_or(-1.0) / first["timescale"].as_f64().unwrap_or(1.0);
    assert!((t0 - start).abs() < 1e-6, "first video segment announced at {t0} s");
    args.extend(["--media-start".into(), start.to_string().into()]);
    args.extend(["--clearkey", &key, "--chromium", &chromium, "--shots"].map(Into::into));
    args.push(repo_root().join("target/browser-screenshots").into());
    let (_, results) = node_script("subtitles.mjs", &args);
    let names: Vec<&str> = results.iter().filter_map(|r| r["case"].as_str()).collect();
    assert_eq!(names, ["shaka-dash-cenc", "shaka-hls-aes128", "hlsjs-hls-aes128"], "{results:?}");
    for r in &results {
        assert_eq!(r["ok"], true, "{r}");
        let labels: Vec<&str> = r["labels"].as_array().map(|l| l.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        assert!(labels.contains(&FR_NAME), "the player's menu lacks the given name: {r}");
    }
}

#[test]
fn bad_subtitle_files_are_refused_with_their_line() {
    let tmp = TempDir::new("subs-bad");
    let cases = [
        ("bad_time.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nok\n\n00:00:03.000 --> 00:00:6.000\nbad\n", "bad_time.vtt:6:"),
        ("no_header.vtt", "00:00:01.000 --> 00:00:02.000\nA\n", "no_header.vtt:1:"),
        ("late.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nA\n\n00:01:00.000 --> 00:01:02.000\nlate\n", "past the end of the title"),
        ("back.vtt", "WEBVTT\n\n00:00:05.000 --> 00:00:06.000\nA\n\n00:00:01.000 --> 00:00:02.000\nB\n", "back.vtt:6:"),
    ];
    for (name, text, want) in cases {
        let file = tmp.join(name);
        fs::write(&file, text).expect("write");
        let out = tmp.join(format!("out-{name}"));
        let spec = format!("en={}", file.display());
        let o = package_title(&[fixture("h264_aac_bframes.mp4")], &out, &["--scheme", "none", "--text", &spec]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains(want), "{name}: {stderr}");
        assert!(!out.exists(), "{name}: output left behind");
    }
    for spec in ["xx9=subs.vtt", "en:loud=subs.vtt", "subs.vtt"] {
        let o = package_title(&[fixture("h264_aac_bframes.mp4")], &tmp.join("o"), &["--text", spec]);
        assert_eq!(o.status.code(), Some(2), "{spec}: usage error");
    }
}

/// Text tracks inside MP4s join the title as subtitles in their `mdhd`
/// language: 3GPP timed text as ffmpeg's mov_text writes it (`tx3g`, with
/// its empty gap samples) and WebVTT in fragmented MP4 as Shaka Packager
/// writes it (`wvtt`, a cue split at fragment boundaries comes back
/// whole). ffmpeg reads the same cues from our WebVTT as from the source
/// file (markup aside: `tx3g` carries styles, not tags).
#[test]
fn text_tracks_inside_mp4_become_subtitles() {
    let tmp = TempDir::new("subs-mp4");
    let out = tmp.join("out");
    let o = package_title(&[fixture("h264_movtext.mp4"), fixture("subs_fr_wvtt.mp4")], &out, &["--scheme", "none", "--quiet"]);
    assert_ok("package mov_text + wvtt", &o);
    assert!(String::from_utf8_lossy(&o.stderr).trim().is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
    let strip = |cues: Vec<(u64, u64, String)>| -> Vec<(u64, u64, String)> {
        cues.into_iter()
            .map(|(s, e, t)| {
                let mut plain = String::new();
                let mut in_tag = false;
                for ch in t.chars() {
                    match ch {
                        '<' => in_tag = true,
                        '>' => in_tag = false,
                        c if !in_tag => plain.push(c),
                        _ => {}
                    }
                }
                (s, e, plain)
            })
            .collect()
    };
    assert_eq!(strip(ffmpeg_cues(&out.join("text_3/subtitles.vtt"))), strip(ffmpeg_cues(&fixture("subs_en.vtt"))));
    assert_eq!(strip(ffmpeg_cues(&out.join("text_4/subtitles.vtt"))), strip(ffmpeg_cues(&fixture("subs_fr.vtt"))));
    let facts = manifest_facts(&out);
    let langs: Vec<&str> = facts["dash"]["sets"]
        .as_array()
        .expect("sets")
        .iter()
        .filter(|s| s["contentType"] == "text" && s["representations"][0]["codecs"] == "wvtt")
        .filter_map(|s| s["lang"].as_str())
        .collect();
    assert_eq!(langs, ["en", "fr"]);
    // The mov_text track's title (`udta/name`, ffmpeg `-metadata:s:s:0
    // title=`) names it; the wvtt track has none, so its language does.
    let names: Vec<&str> = facts["hls"]["media"]
        .as_array()
        .expect("media")
        .iter()
        .filter(|m| m["type"] == "SUBTITLES")
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["English (mov_text)", "French"]);
}

/// TTML: an IMSC1 text profile sidecar (clock, frame and tick times) and
/// TTML in MP4 (`stpp`, as Shaka Packager writes it) become WebVTT cues at
/// the document's times; a TTML file that is not well-formed is refused
/// with its line.
#[test]
fn ttml_sidecars_and_stpp_tracks() {
    let tmp = TempDir::new("subs-ttml");
    let out = tmp.join("out");
    let de = format!("de={}", fixture("subs_de.ttml").display());
    let o = package_title(&[fixture("h264_aac_bframes.mp4"), fixture("subs_en_stpp.mp4")], &out, &["--scheme", "none", "--quiet", "--text", &de]);
    assert_ok("package TTML + stpp", &o);
    // stpp (numbered first: it is in an input file) carries subs_en.vtt.
    let strip_tags = |cues: Vec<(u64, u64, String)>| -> Vec<(u64, u64, String)> {
        cues.into_iter().map(|(s, e, t)| (s, e, t.replace("<i>", "").replace("</i>", ""))).collect()
    };
    assert_eq!(strip_tags(ffmpeg_cues(&out.join("text_3/subtitles.vtt"))), strip_tags(ffmpeg_cues(&fixture("subs_en.vtt"))));
    // The TTML: 0.75–2.25 s; 25 fps frames 4:00–5:12 = 4.0–5.48 s; ticks
    // at 10 MHz 7.0–8.5 s.
    let de_cues = ffmpeg_cues(&out.join("text_4/subtitles.vtt"));
    let times: Vec<(u64, u64)> = de_cues.iter().map(|c| (c.0, c.1)).collect();
    assert_eq!(times, [(750, 2250), (4000, 5480), (7000, 8500)]);
    assert_eq!(de_cues[1].2, "Zweiter\nUntertitel");
    assert_eq!(de_cues[2].2, "Letzter Untertitel");

    let bad = tmp.join("bad.ttml");
    fs::write(&bad, "<?xml version=\"1.0\"?>\n<tt xmlns=\"http://www.w3.org/ns/ttml\">\n<body><p begin=\"1s\" end=\"2s\">a</div></body></tt>\n").expect("write");
    let spec = format!("en={}", bad.display());
    let o = package_title(&[fixture("h264_aac_bframes.mp4")], &tmp.join("out2"), &["--scheme", "none", "--text", &spec]);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("bad.ttml:3:") && stderr.contains("not well-formed"), "{stderr}");
    assert!(!tmp.join("out2").exists());
}

/// CEA-608 captions in the video's SEI (h264_cea608.mp4, made by
/// scripts/add-cea608.py; ffmpeg's `subcc` reads "CASTGUARD CAPTIONS" from
/// it) are announced: HLS `CLOSED-CAPTIONS` rendition with
/// `INSTREAM-ID="CC1"` named by the variant, DASH `Accessibility`
/// `urn:scte:dash:cc:cea-608:2015`; they stay in the encrypted samples
/// (ffmpeg reads the caption from the decrypted output). A title without
/// captions says `CLOSED-CAPTIONS=NONE`.
#[test]
fn closed_captions_are_signalled() {
    let tmp = TempDir::new("cc");
    let out = tmp.join("out");
    let key = format!("{KID1}:{KEY1}");
    let o = package_title(&[fixture("h264_cea608.mp4")], &out, &["--scheme", "cenc", "--key", &key, "--quiet"]);
    assert_ok("package captioned video", &o);
    let facts = manifest_facts(&out);
    let cc: Vec<&Value> = facts["hls"]["media"].as_array().expect("media").iter().filter(|m| m["type"] == "CLOSED-CAPTIONS").collect();
    assert_eq!(cc.len(), 1, "{facts}");
    assert_eq!((cc[0]["instreamId"].as_str(), cc[0]["groupId"].as_str()), (Some("CC1"), Some("cc")));
    // The m3u8 package keeps the quotes of a quoted-string attribute.
    assert_eq!(facts["hls"]["variants"][0]["closedCaptions"].as_str().map(|s| s.trim_matches('"')), Some("cc"));
    let video = facts["dash"]["sets"].as_array().expect("sets").iter().find(|s| s["contentType"] == "video").cloned().expect("video");
    assert_eq!(video["accessibility"], serde_json::json!([["urn:scte:dash:cc:cea-608:2015", "CC1"]]));

    // The captions are still in the (decrypted) video.
    let enc = tmp.join("video.mp4");
    concat_track(&out.join("video_1"), &enc);
    let clear = tmp.join("clear.mp4");
    // Piped, as tests/common does: ffmpeg 5.1 misreads the encryption
    // info of a seekable fragmented file whose fragments differ in layout.
    let o = run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-decryption_key", KEY1, "-f", "mp4", "-i", "pipe:0", "-c", "copy"])
        .arg(&clear)
        .stdin(Stdio::from(fs::File::open(&enc).expect("open"))));
    assert_ok("ffmpeg decrypt", &o);
    let o = run(Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!("movie={}[out0+subcc]", clear.display()))
        .args(["-map", "0:1", "-f", "srt", "-"]));
    assert_ok("ffmpeg subcc", &o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("CASTGUARD CAPTIONS"), "{}", String::from_utf8_lossy(&o.stdout));

    let none = tmp.join("none");
    assert_ok("package", &package_title(&[fixture("h264_aac_nob.mp4")], &none, &["--scheme", "none", "--quiet"]));
    let facts = manifest_facts(&none);
    assert!(facts["hls"]["variants"].as_array().expect("variants").iter().all(|v| v["closedCaptions"] == "NONE"), "{facts}");
    assert!(!fs::read_to_string(none.join("manifest.mpd")).expect("mpd").contains("Accessibility"));
}
