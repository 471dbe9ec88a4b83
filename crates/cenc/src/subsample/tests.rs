//! Subsample maps checked on real H.264 and H.265 streams made by ffmpeg (libx264,
//! libx265), against an independent oracle: ffmpeg's `trace_headers` bitstream filter,
//! which prints every slice header syntax element with its bit position. The end of the
//! last traced element of a slice NAL unit is the slice header size.

use std::path::Path;
use std::process::Command;

use super::*;

struct TracedNal {
    nal_type: u32,
    /// End of the last traced syntax element, in RBSP bits from the NAL unit start.
    end_bits: usize,
}

fn run_ffmpeg(args: &[&str]) -> std::process::Output {
    let out = Command::new("ffmpeg")
        .args(args)
        .output()
        .expect("ffmpeg must be installed");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn make_stream(dir: &Path, name: &str, args: &[&str]) -> std::path::PathBuf {
    make_stream_sized(dir, name, "320x240", args)
}

fn make_stream_sized(dir: &Path, name: &str, size: &str, args: &[&str]) -> std::path::PathBuf {
    let path = dir.join(name);
    let src = format!("testsrc2=size={size}:rate=25");
    let mut all = vec!["-v", "error", "-f", "lavfi", "-i", src.as_str(), "-t", "2"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-y", path.to_str().unwrap()]);
    run_ffmpeg(&all);
    path
}

fn trace(path: &Path) -> Vec<TracedNal> {
    let out = run_ffmpeg(&[
        "-nostats",
        "-i",
        path.to_str().unwrap(),
        "-c",
        "copy",
        "-bsf:v",
        "trace_headers",
        "-f",
        "null",
        "-",
    ]);
    let text = String::from_utf8_lossy(&out.stderr);
    let mut nals = Vec::new();
    let mut in_packets = false;
    for line in text.lines() {
        let Some(rest) = line.split_once("] ").map(|(_, r)| r) else {
            continue;
        };
        if rest.starts_with("Packet:") {
            in_packets = true;
            continue;
        }
        if !in_packets {
            continue;
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // "<pos> <name> <bits> = <value>"
        if fields.len() != 5 || fields[3] != "=" {
            continue;
        }
        let (Ok(pos), bits) = (fields[0].parse::<usize>(), fields[2]) else {
            continue;
        };
        if !bits.chars().all(|c| c == '0' || c == '1') {
            continue;
        }
        if fields[1] == "forbidden_zero_bit" {
            nals.push(TracedNal {
                nal_type: 0,
                end_bits: 0,
            });
        }
        let Some(nal) = nals.last_mut() else { continue };
        if fields[1] == "nal_unit_type" {
            nal.nal_type = fields[4].parse().unwrap();
        }
        nal.end_bits = nal.end_bits.max(pos + bits.len());
    }
    nals
}

/// NAL units of an Annex B stream, without start codes and trailing zero bytes.
fn annex_b_nals(data: &[u8]) -> Vec<Vec<u8>> {
    let mut starts = vec![];
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut nals = vec![];
    for (k, &s) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map_or(data.len(), |&n| n - 3);
        while end > s && data[end - 1] == 0 {
            end -= 1;
        }
        nals.push(data[s..end].to_vec());
    }
    nals
}

/// Raw byte length of the first `rbsp_bits` bits of a NAL unit (rounded up to bytes),
/// counting emulation prevention bytes (0x000003) on the way.
fn raw_len(nal: &[u8], rbsp_bits: usize) -> usize {
    let want = rbsp_bits.div_ceil(8);
    let (mut raw, mut rbsp, mut zeros) = (0, 0, 0);
    while rbsp < want {
        let b = nal[raw];
        raw += 1;
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        rbsp += 1;
    }
    raw
}

fn mask_of(len: usize, subs: &[Subsample]) -> Vec<bool> {
    let mut m = Vec::with_capacity(len);
    for s in subs {
        m.extend(std::iter::repeat_n(false, s.clear as usize));
        m.extend(std::iter::repeat_n(true, s.protected as usize));
    }
    assert_eq!(m.len(), len, "subsamples must cover the sample exactly");
    m
}

struct Fixture {
    samples: Vec<Vec<u8>>,
    /// Per sample: (offset of the length prefix, NAL length, expected clear header bytes or
    /// None for a NAL unit that must stay entirely clear).
    expected: Vec<Vec<(usize, usize, Option<usize>)>>,
    sps: Vec<Vec<u8>>,
    pps: Vec<Vec<u8>>,
    vps: Vec<Vec<u8>>,
}

fn fixture(path: &Path, hevc: bool) -> Fixture {
    let data = std::fs::read(path).unwrap();
    let nals = annex_b_nals(&data);
    let traced = trace(path);
    assert_eq!(
        nals.len(),
        traced.len(),
        "Annex B split and ffmpeg trace disagree"
    );
    let ty = |n: &[u8]| {
        if hevc {
            u32::from((n[0] >> 1) & 0x3f)
        } else {
            u32::from(n[0] & 0x1f)
        }
    };
    let (aud, sps_t, pps_t, vps_t) = if hevc {
        (35, 33, 34, 32)
    } else {
        (9, 7, 8, 99)
    };
    let is_slice = |t: u32| {
        if hevc {
            t <= 21 && !(10..=15).contains(&t)
        } else {
            t == 1 || t == 5
        }
    };
    let mut fx = Fixture {
        samples: vec![],
        expected: vec![],
        sps: vec![],
        pps: vec![],
        vps: vec![],
    };
    for (nal, tr) in nals.iter().zip(&traced) {
        let t = ty(nal);
        assert_eq!(t, tr.nal_type);
        if t == sps_t && fx.sps.is_empty() {
            fx.sps.push(nal.clone());
        }
        if t == pps_t && fx.pps.is_empty() {
            fx.pps.push(nal.clone());
        }
        if t == vps_t && fx.vps.is_empty() {
            fx.vps.push(nal.clone());
        }
        if t == aud || fx.samples.is_empty() {
            fx.samples.push(vec![]);
            fx.expected.push(vec![]);
        }
        let sample = fx.samples.last_mut().unwrap();
        let offset = sample.len();
        sample.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        sample.extend_from_slice(nal);
        let header = is_slice(t).then(|| raw_len(nal, tr.end_bits));
        fx.expected
            .last_mut()
            .unwrap()
            .push((offset, nal.len(), header));
    }
    assert!(fx.samples.len() >= 40, "expected one sample per frame");
    fx
}

fn check(fx: &Fixture, mut generator: SubsampleGenerator, scheme: Scheme) -> usize {
    let mut protected_nals = 0;
    for (sample, expected) in fx.samples.iter().zip(&fx.expected) {
        let subs = generator.subsamples(sample).unwrap();
        let mask = mask_of(sample.len(), &subs);
        for &(offset, len, header) in expected {
            let nal_mask = &mask[offset..offset + 4 + len];
            let protected_from = match header {
                None => None,
                Some(h) => {
                    let avail = len - h;
                    let p = match scheme {
                        Scheme::Cenc => avail - avail % 16,
                        Scheme::Cbcs => {
                            if avail >= 16 {
                                avail
                            } else {
                                0
                            }
                        }
                    };
                    (p > 0).then_some(4 + len - p)
                }
            };
            match protected_from {
                None => assert!(nal_mask.iter().all(|p| !p), "NAL at {offset} must be clear"),
                Some(from) => {
                    protected_nals += 1;
                    assert!(
                        nal_mask[..from].iter().all(|p| !p),
                        "header of NAL at {offset} must be clear"
                    );
                    assert!(
                        nal_mask[from..].iter().all(|&p| p),
                        "slice data of NAL at {offset} must be protected"
                    );
                }
            }
        }
        if scheme == Scheme::Cenc {
            assert!(subs.iter().all(|s| s.protected % 16 == 0));
        }
    }
    protected_nals
}

#[test]
fn h264_maps_match_ffmpeg_trace() {
    let dir = tempfile::tempdir().unwrap();
    for (name, extra) in [
        ("cabac_bframes.h264", "aud=1"),
        ("cavlc_slices.h264", "aud=1:cabac=0:slices=4:bframes=0"),
    ] {
        let path = make_stream(
            dir.path(),
            name,
            &[
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-g",
                "25",
                "-x264-params",
                extra,
                "-bsf:v",
                "h264_mp4toannexb",
                "-f",
                "h264",
            ],
        );
        let fx = fixture(&path, false);
        for scheme in [Scheme::Cenc, Scheme::Cbcs] {
            let g = SubsampleGenerator::avc(4, &fx.sps, &fx.pps, scheme).unwrap();
            let n = check(&fx, g, scheme);
            assert!(n >= 50, "{name}: only {n} protected NAL units");
        }
    }
}

#[test]
fn h265_maps_match_ffmpeg_trace() {
    let dir = tempfile::tempdir().unwrap();
    for (name, size, extra) in [
        ("wpp.hevc", "320x240", "aud=1:log-level=error"),
        (
            "slices_small_ctu.hevc",
            "320x240",
            "aud=1:log-level=error:ctu=16:slices=3:bframes=0",
        ),
        // 45 CTU rows with WPP: 44 entry points per slice (cros-codecs stops at 32).
        (
            "many_entry_points.hevc",
            "160x720",
            "aud=1:log-level=error:ctu=16",
        ),
        // Weighted prediction, B-pyramid, tiles-free long GOP with several references.
        (
            "weightp_refs.hevc",
            "320x240",
            "aud=1:log-level=error:weightp=1:weightb=1:ref=4:bframes=4:b-pyramid=1",
        ),
    ] {
        let path = make_stream_sized(
            dir.path(),
            name,
            size,
            &[
                "-c:v",
                "libx265",
                "-preset",
                "veryfast",
                "-g",
                "25",
                "-x265-params",
                extra,
                "-bsf:v",
                "hevc_mp4toannexb",
                "-f",
                "hevc",
            ],
        );
        let fx = fixture(&path, true);
        for scheme in [Scheme::Cenc, Scheme::Cbcs] {
            let g = SubsampleGenerator::hevc(4, &fx.vps, &fx.sps, &fx.pps, scheme).unwrap();
            let n = check(&fx, g, scheme);
            assert!(n >= 50, "{name}: only {n} protected NAL units");
        }
    }
}

#[test]
fn organizer_merges_and_splits() {
    let mut o = Organizer::new(true);
    o.add(70_000, 0);
    o.add(4, 100); // 100 = 96 + 4: 4 bytes move into clear
    o.add(5, 10); // under one block: all clear
    o.add(3, 0);
    let out = o.finish();
    assert_eq!(
        out,
        vec![
            Subsample {
                clear: 65535,
                protected: 0
            },
            Subsample {
                clear: (70_000 - 65_535 + 8) as u16,
                protected: 96
            },
            Subsample {
                clear: 18,
                protected: 0
            },
        ]
    );
    let mut o = Organizer::new(false);
    o.add(4, 100);
    assert_eq!(
        o.finish(),
        vec![Subsample {
            clear: 4,
            protected: 100
        }]
    );
}

#[test]
fn whole_sample_and_errors() {
    let mut g = SubsampleGenerator::whole_sample(Scheme::Cenc);
    assert!(g.subsamples(&[1, 2, 3]).unwrap().is_empty());
    assert!(matches!(
        SubsampleGenerator::avc(3, &[], &[], Scheme::Cenc),
        Err(Error::NalLengthSize(3))
    ));
    let mut g = SubsampleGenerator::avc(4, &[], &[], Scheme::Cenc).unwrap();
    // Truncated length prefix, NAL longer than the sample, empty NAL.
    assert!(matches!(
        g.subsamples(&[0, 0, 1]),
        Err(Error::NalLengthTruncated { offset: 0 })
    ));
    assert!(matches!(
        g.subsamples(&[0, 0, 0, 9, 6]),
        Err(Error::NalTruncated {
            offset: 0,
            declared: 9,
            available: 1
        })
    ));
    assert!(matches!(
        g.subsamples(&[0, 0, 0, 0]),
        Err(Error::NalTooShort { .. })
    ));
    // A slice without its PPS: the header cannot be sized.
    let slice = [0, 0, 0, 5, 0x65, 0x88, 0x84, 0x00, 0x33];
    assert!(matches!(
        g.subsamples(&slice),
        Err(Error::SliceHeader { nal_type: 5, .. })
    ));
    // Non-VCL NAL units are clear without any parameter set.
    let sei = [0, 0, 0, 3, 0x06, 0x05, 0x80];
    assert_eq!(
        g.subsamples(&sei).unwrap(),
        vec![Subsample {
            clear: 7,
            protected: 0
        }]
    );
    assert!(matches!(
        g.subsamples(&[0, 0, 0, 2, 0x02, 0x00]),
        Err(Error::UnsupportedNal { nal_type: 2, .. })
    ));
}

/// The generator never panics, whatever the bytes (cros-codecs calls are guarded too).
#[test]
fn garbage_never_panics() {
    use proptest::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let path = make_stream(
        dir.path(),
        "g.h264",
        &[
            "-frames:v",
            "3",
            "-c:v",
            "libx264",
            "-bsf:v",
            "h264_mp4toannexb",
            "-f",
            "h264",
        ],
    );
    let fx = fixture_min(&path);
    let hpath = make_stream(
        dir.path(),
        "g.hevc",
        &[
            "-frames:v",
            "3",
            "-c:v",
            "libx265",
            "-x265-params",
            "log-level=error",
            "-bsf:v",
            "hevc_mp4toannexb",
            "-f",
            "hevc",
        ],
    );
    let hnals = annex_b_nals(&std::fs::read(&hpath).unwrap());
    let hsets = |t: u8| -> Vec<Vec<u8>> {
        hnals
            .iter()
            .filter(|n| (n[0] >> 1) & 0x3f == t)
            .take(1)
            .cloned()
            .collect()
    };
    let (hsps, hpps) = (hsets(33), hsets(34));
    let mut runner = proptest::test_runner::TestRunner::default();
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..400), |bytes| {
            let mut g = SubsampleGenerator::avc(2, &fx.0, &fx.1, Scheme::Cbcs).unwrap();
            let _ = g.subsamples(&bytes);
            // A slice NAL with a valid header byte and random payload.
            let mut s = vec![0u8, 0];
            s.push(0x65);
            s.extend_from_slice(&bytes);
            let n = (s.len() - 2) as u16;
            s[..2].copy_from_slice(&n.to_be_bytes());
            let _ = g.subsamples(&s);
            let mut h = SubsampleGenerator::hevc(2, &[], &hsps, &hpps, Scheme::Cenc).unwrap();
            let _ = h.subsamples(&bytes);
            // An IDR and a trailing slice NAL header with random payload.
            for head in [[0x26u8, 0x01], [0x02, 0x01]] {
                let mut s = vec![0u8, 0];
                s.extend_from_slice(&head);
                s.extend_from_slice(&bytes);
                let n = (s.len() - 2) as u16;
                s[..2].copy_from_slice(&n.to_be_bytes());
                let _ = h.subsamples(&s);
            }
            Ok(())
        })
        .unwrap();
}

fn fixture_min(path: &Path) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let nals = annex_b_nals(&std::fs::read(path).unwrap());
    let sps = nals
        .iter()
        .filter(|n| n[0] & 0x1f == 7)
        .take(1)
        .cloned()
        .collect();
    let pps = nals
        .iter()
        .filter(|n| n[0] & 0x1f == 8)
        .take(1)
        .cloned()
        .collect();
    (sps, pps)
}
