//! Real files written by ffmpeg (an independent muxer): every `moov` and
//! `moof` must parse and write back byte for byte, and the sample table
//! must agree with what ffprobe (an independent demuxer) reports, packet by
//! packet: file offset, size, decode-time step and key-frame flag.

use std::path::{Path, PathBuf};
use std::process::Command;

use bmff::{Atom, FourCC, Moof, Moov, SampleEntry, iter_boxes, sample_table};

fn have_ffmpeg() -> bool {
    let ok = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
        && Command::new("ffprobe")
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: ffmpeg/ffprobe not found on PATH");
    }
    ok
}

/// 2 s of testsrc2 + a 440 Hz sine, with the given video codec args and movflags.
fn make(dir: &Path, name: &str, video: &[&str], movflags: &str, audio_rate: &str) -> PathBuf {
    let out = dir.join(name);
    let mut cmd = Command::new("ffmpeg");
    cmd.args([
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25",
        "-f",
        "lavfi",
        "-i",
    ])
    .arg(format!("sine=frequency=440:sample_rate={audio_rate}"))
    .args(["-t", "2"])
    .args(video)
    .args(["-c:a", "aac", "-movflags", movflags])
    .arg(&out);
    let o = cmd.output().expect("run ffmpeg");
    assert!(
        o.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// ffprobe's packets of one stream: (pos, size, dts, keyframe).
fn probe_packets(file: &Path, stream: &str) -> Vec<(u64, u32, i64, bool)> {
    let o = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            stream,
            "-show_entries",
            "packet=pos,size,dts,flags",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .expect("run ffprobe");
    assert!(o.status.success());
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            // ffprobe prints the fields in its own order: dts,size,pos,flags.
            let f: Vec<&str> = l.split(',').collect();
            (
                f[2].parse().unwrap(),
                f[1].parse().unwrap(),
                f[0].parse().unwrap(),
                f[3].starts_with('K'),
            )
        })
        .collect()
}

fn probe_count(file: &Path, stream: &str) -> u64 {
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-count_packets", "-select_streams", stream])
        .args(["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("run ffprobe");
    String::from_utf8(o.stdout).unwrap().trim().parse().unwrap()
}

/// Checks every top-level moov/moof round-trips byte for byte; returns them.
fn roundtrip_file(file: &Path) -> (Moov, Vec<Moof>) {
    let data = std::fs::read(file).unwrap();
    let mut moov = None;
    let mut moofs = Vec::new();
    let mut off = 0usize;
    for b in iter_boxes(&data) {
        let (h, body) = b.unwrap();
        let whole = &data[off..off + h.size as usize];
        off += h.size as usize;
        assert_eq!(whole.len() - body.len(), usize::from(h.header_len));
        match h.kind {
            FourCC::MOOV => {
                let m = Moov::decode(whole).unwrap();
                assert_eq!(
                    m.to_bytes().unwrap(),
                    whole,
                    "moov of {} did not round-trip",
                    file.display()
                );
                moov = Some(m);
            }
            FourCC::MOOF => {
                let m = Moof::decode(whole).unwrap();
                assert_eq!(
                    m.to_bytes().unwrap(),
                    whole,
                    "moof of {} did not round-trip",
                    file.display()
                );
                moofs.push(m);
            }
            _ => {}
        }
    }
    assert_eq!(off, data.len());
    (moov.expect("a moov"), moofs)
}

/// The sample table of track `index` agrees with ffprobe's packets.
fn check_samples(file: &Path, moov: &Moov, index: usize, stream: &str) {
    let stbl = &moov.traks[index].mdia.minf.stbl;
    let samples = sample_table::samples(stbl).unwrap();
    let packets = probe_packets(file, stream);
    assert_eq!(
        samples.len() as u64,
        probe_count(file, stream),
        "{stream} count"
    );
    assert_eq!(samples.len(), packets.len());
    let total: u64 = samples.iter().map(|s| u64::from(s.size)).sum();
    assert_eq!(
        total,
        packets.iter().map(|p| u64::from(p.1)).sum::<u64>(),
        "{stream} size sum"
    );
    let dts0 = packets[0].2;
    for (i, (s, p)) in samples.iter().zip(&packets).enumerate() {
        assert_eq!(
            (s.offset, s.size),
            (p.0, p.1),
            "{stream} sample {i} offset/size"
        );
        // ffmpeg shifts all dts by the edit list; the steps must match.
        assert_eq!(s.dts as i64, p.2 - dts0, "{stream} sample {i} dts");
        assert_eq!(s.is_sync, p.3, "{stream} sample {i} key flag");
        assert_eq!(s.description_index, 1);
    }
}

#[test]
fn h264_aac_faststart() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let f = make(
        dir.path(),
        "h264.mp4",
        &["-c:v", "libx264", "-bf", "2"],
        "+faststart",
        "48000",
    );
    let (moov, moofs) = roundtrip_file(&f);
    assert!(moofs.is_empty());
    assert_eq!(moov.traks.len(), 2);
    let stbl = &moov.traks[0].mdia.minf.stbl;
    assert!(stbl.ctts.is_some(), "B-frames give a ctts");
    let SampleEntry::Visual(v) = &stbl.stsd.entries[0] else {
        panic!("avc1 expected")
    };
    assert_eq!((v.kind, v.width, v.height), (FourCC::AVC1, 320, 180));
    let avcc = v.avcc.as_ref().unwrap();
    assert_eq!(avcc.nal_length_size(), 4);
    assert_eq!((avcc.sps.len(), avcc.pps.len()), (1, 1));
    let SampleEntry::Audio(a) = &moov.traks[1].mdia.minf.stbl.stsd.entries[0] else {
        panic!("mp4a expected")
    };
    assert_eq!(a.sample_rate >> 16, 48000);
    let esds = a.esds.as_ref().unwrap();
    assert_eq!(esds.object_type_indication(), Some(0x40));
    assert_eq!(
        esds.decoder_specific_info().map(|d| d[0] >> 3),
        Some(2),
        "AAC-LC"
    );
    check_samples(&f, &moov, 0, "v:0");
    check_samples(&f, &moov, 1, "a:0");
}

#[test]
fn h264_no_bframes_44100() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let f = make(
        dir.path(),
        "h264_bf0.mp4",
        &["-c:v", "libx264", "-bf", "0", "-g", "10"],
        "+faststart",
        "44100",
    );
    let (moov, _) = roundtrip_file(&f);
    assert!(moov.traks[0].mdia.minf.stbl.ctts.is_none());
    check_samples(&f, &moov, 0, "v:0");
    check_samples(&f, &moov, 1, "a:0");
}

#[test]
fn hevc_hvc1() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let f = make(
        dir.path(),
        "h265.mp4",
        &[
            "-c:v",
            "libx265",
            "-tag:v",
            "hvc1",
            "-x265-params",
            "log-level=error",
        ],
        "+faststart",
        "48000",
    );
    let (moov, _) = roundtrip_file(&f);
    let SampleEntry::Visual(v) = &moov.traks[0].mdia.minf.stbl.stsd.entries[0] else {
        panic!("hvc1 expected")
    };
    assert_eq!(v.kind, FourCC::HVC1);
    let hvcc = v.hvcc.as_ref().unwrap();
    assert_eq!(hvcc.nal_length_size(), 4);
    let types: Vec<u8> = hvcc.arrays.iter().map(|a| a.nal_unit_type).collect();
    for t in [32, 33, 34] {
        assert!(types.contains(&t), "VPS/SPS/PPS arrays: {types:?}");
    }
    // ffmpeg puts sdtp between stss and ctts: it must come back in place.
    assert!(
        moov.traks[0]
            .mdia
            .minf
            .stbl
            .other
            .iter()
            .any(|b| b.kind == FourCC::SDTP)
    );
    check_samples(&f, &moov, 0, "v:0");
}

#[test]
fn fragmented() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let f = make(
        dir.path(),
        "frag.mp4",
        &["-c:v", "libx264", "-bf", "2", "-g", "25"],
        "frag_keyframe+empty_moov+default_base_moof",
        "48000",
    );
    let (moov, moofs) = roundtrip_file(&f);
    assert!(moofs.len() >= 2, "one fragment per key frame");
    let mvex = moov.mvex.as_ref().unwrap();
    assert_eq!(mvex.trex.len(), 2);
    for t in &moov.traks {
        assert!(sample_table::samples(&t.mdia.minf.stbl).unwrap().is_empty());
    }
    for (stream, track_id) in [
        ("v:0", moov.traks[0].tkhd.track_id),
        ("a:0", moov.traks[1].tkhd.track_id),
    ] {
        let packets = probe_packets(&f, stream);
        let trex = mvex.trex.iter().find(|t| t.track_id == track_id).unwrap();
        let mut sizes = Vec::new();
        let mut seq = 0;
        for m in &moofs {
            assert!(m.mfhd.sequence_number > seq);
            seq = m.mfhd.sequence_number;
            for traf in m.trafs.iter().filter(|t| t.tfhd.track_id == track_id) {
                assert!(traf.tfhd.default_base_is_moof);
                let default = traf
                    .tfhd
                    .default_sample_size
                    .unwrap_or(trex.default_sample_size);
                for trun in &traf.truns {
                    sizes.extend(trun.samples.iter().map(|s| s.size.unwrap_or(default)));
                }
            }
        }
        assert_eq!(
            sizes.len() as u64,
            probe_count(&f, stream),
            "{stream} count"
        );
        assert_eq!(
            sizes,
            packets.iter().map(|p| p.1).collect::<Vec<_>>(),
            "{stream} sizes"
        );
    }
}
