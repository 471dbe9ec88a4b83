//! WebVTT in CMAF: the `wvtt` text track of ISO/IEC 14496-30 §7, as DASH
//! players (Shaka Player, dash.js, ExoPlayer) read it in fragmented MP4.
//!
//! A sample covers a span of time in which the set of active cues does not
//! change: one `vttc` box per active cue (its `iden` identifier, `sttg`
//! settings and `payl` text), or one empty `vtte` box when no cue is
//! active, so the samples of a segment tile it without gaps (§7.4). A cue
//! that spans a segment boundary appears in both segments, each with its
//! part. Strings are UTF-8 without a terminating NUL; the box size ends
//! them (§7.5.1).
//!
//! The track has handler `text`, a null media header `nmhd`, timescale
//! 1000 (WebVTT times are milliseconds), and is never encrypted.

use bmff::{
    Atom, Dinf, FourCC, Hdlr, Mdhd, Mdia, Mfhd, Minf, Moof, Mvhd, RawBox, SampleEntry, Stsd, Tfdt, Tfhd, Tkhd, Traf, Trak, Trun, TrunSample,
};

use super::{Cue, TEXT_TIMESCALE};
use crate::cmaf::{CMAF_TRACK_ID, SYNC_SAMPLE_FLAGS};
use crate::error::Result;

/// The init segment of a `wvtt` track in `language` (BCP 47).
pub fn init_segment(language: &str) -> Result<Vec<u8>> {
    let mut entry_body = vec![0u8; 6];
    entry_body.extend_from_slice(&1u16.to_be_bytes());
    push_box(&mut entry_body, b"vttC", b"WEBVTT");
    let stbl = crate::cmaf::fragmented_stbl(Stsd {
        entries: vec![SampleEntry::Other(RawBox { kind: FourCC(*b"wvtt"), usertype: None, body: entry_body })],
    });
    // `elng` (ISO/IEC 14496-12 §8.4.6) carries the full BCP 47 tag;
    // `mdhd` the ISO 639-2/T code of its primary language.
    let mut elng = vec![0u8; 4];
    elng.extend_from_slice(language.as_bytes());
    elng.push(0);
    let trak = Trak {
        tkhd: Tkhd { track_id: CMAF_TRACK_ID, volume: 0, ..Tkhd::default() },
        edts: None,
        mdia: Mdia {
            mdhd: Mdhd { timescale: TEXT_TIMESCALE, language: mdhd_language(language), ..Mdhd::default() },
            hdlr: Hdlr { handler_type: FourCC(*b"text"), name: "castguard text".into(), raw_name: None },
            minf: Minf {
                vmhd: None,
                smhd: None,
                dinf: Some(Dinf::default()),
                stbl,
                other: vec![RawBox { kind: FourCC(*b"nmhd"), usertype: None, body: vec![0; 4] }],
            },
            other: vec![RawBox { kind: FourCC(*b"elng"), usertype: None, body: elng }],
        },
        other: Vec::new(),
    };
    let mvhd = Mvhd { timescale: TEXT_TIMESCALE, ..Mvhd::default() };
    crate::cmaf::init_with(mvhd, trak)
}

/// The ISO 639-2/T code `mdhd` holds for a BCP 47 tag (`und` when none).
fn mdhd_language(tag: &str) -> [u8; 3] {
    let primary = tag.split('-').next().unwrap_or("");
    let lang = match primary.len() {
        2 => isolang::Language::from_639_1(primary),
        3 => isolang::Language::from_639_3(primary),
        _ => None,
    };
    lang.and_then(|l| l.to_639_3().as_bytes().try_into().ok()).unwrap_or(*b"und")
}

fn push_box(out: &mut Vec<u8>, kind: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(&((body.len() + 8) as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
}

/// The samples of `[start, end)` (ms): `(duration, bytes)` each.
pub fn samples(cues: &[Cue], start: u64, end: u64) -> Vec<(u32, Vec<u8>)> {
    let mut edges: Vec<u64> = vec![start, end];
    for c in super::cues_in(cues, start, end) {
        edges.extend([c.start_ms.clamp(start, end), c.end_ms.clamp(start, end)]);
    }
    edges.sort_unstable();
    edges.dedup();
    let mut out = Vec::with_capacity(edges.len());
    for w in edges.windows(2) {
        let (a, b) = (w[0], w[1]);
        let mut bytes = Vec::new();
        for c in cues.iter().filter(|c| c.start_ms <= a && c.end_ms >= b) {
            let mut vttc = Vec::new();
            if let Some(id) = &c.id {
                push_box(&mut vttc, b"iden", id.as_bytes());
            }
            if let Some(s) = &c.settings {
                push_box(&mut vttc, b"sttg", s.as_bytes());
            }
            push_box(&mut vttc, b"payl", c.text.as_bytes());
            push_box(&mut bytes, b"vttc", &vttc);
        }
        if bytes.is_empty() {
            push_box(&mut bytes, b"vtte", &[]);
        }
        out.push((u32::try_from(b - a).unwrap_or(u32::MAX), bytes));
    }
    out
}

/// Media segment `sequence` of a `wvtt` track, covering `[start, end)` ms.
pub fn media_segment(cues: &[Cue], start: u64, end: u64, sequence: u32) -> Result<Vec<u8>> {
    let samples = samples(cues, start, end);
    let mut moof = Moof {
        mfhd: Mfhd { sequence_number: sequence },
        trafs: vec![Traf {
            tfhd: Tfhd {
                track_id: CMAF_TRACK_ID,
                base_data_offset: None,
                sample_description_index: None,
                default_sample_duration: None,
                default_sample_size: None,
                default_sample_flags: Some(SYNC_SAMPLE_FLAGS),
                duration_is_empty: false,
                default_base_is_moof: true,
            },
            tfdt: Some(Tfdt { version: 1, base_media_decode_time: start }),
            truns: vec![Trun {
                version: 0,
                data_offset: Some(0),
                first_sample_flags: None,
                samples: samples
                    .iter()
                    .map(|(d, b)| TrunSample {
                        duration: Some(*d),
                        size: Some(b.len() as u32),
                        flags: None,
                        composition_time_offset: None,
                    })
                    .collect(),
            }],
            senc: None,
            saiz: Vec::new(),
            saio: Vec::new(),
            other: Vec::new(),
        }],
        pssh: Vec::new(),
        other: Vec::new(),
    };
    let data: usize = samples.iter().map(|(_, b)| b.len()).sum();
    let mut moof_bytes = Vec::new();
    moof.encode(&mut moof_bytes)?;
    moof.trafs[0].truns[0].data_offset = Some((moof_bytes.len() + 8) as i32);
    let styp = bmff::Styp {
        major_brand: FourCC(*b"msdh"),
        minor_version: 0,
        compatible_brands: [b"msdh", b"msix"].iter().map(|b| FourCC(**b)).collect(),
    };
    let mut out = Vec::with_capacity(64 + moof_bytes.len() + data);
    styp.encode(&mut out)?;
    moof.encode(&mut out)?;
    bmff::write_mdat_header(data as u64, &mut out);
    for (_, b) in &samples {
        out.extend_from_slice(b);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bmff::Moov;

    fn cue(start_ms: u64, end_ms: u64, text: &str) -> Cue {
        Cue { start_ms, end_ms, id: None, settings: None, text: text.into() }
    }

    #[test]
    fn samples_tile_the_segment() {
        let cues = [cue(1000, 3000, "a"), cue(2000, 5000, "b")];
        let s = samples(&cues, 0, 4000);
        let spans: Vec<u32> = s.iter().map(|(d, _)| *d).collect();
        assert_eq!(spans, vec![1000, 1000, 1000, 1000]);
        assert_eq!(s[0].1, b"\0\0\0\x08vtte");
        assert_eq!(s[1].1, b"\0\0\0\x11vttc\0\0\0\x09payla");
        assert_eq!(s[2].1.len(), 2 * 17, "two cues active");
        // The second segment carries the rest of "b".
        let s = samples(&cues, 4000, 8000);
        assert_eq!(s.iter().map(|(d, _)| *d).collect::<Vec<_>>(), vec![1000, 3000]);
        assert!(s[0].1.ends_with(b"paylb"));
        assert_eq!(samples(&[], 0, 4000), vec![(4000, b"\0\0\0\x08vtte".to_vec())]);
    }

    #[test]
    fn init_and_segment_parse_back() {
        let init = init_segment("pt-BR").unwrap();
        let boxes: Vec<_> = bmff::iter_boxes(&init).map(|b| b.unwrap().0.kind).collect();
        assert_eq!(boxes, vec![FourCC::FTYP, FourCC::MOOV]);
        let moov = Moov::decode(&init[init.windows(4).position(|w| w == b"moov").unwrap() - 4..]).unwrap();
        assert_eq!(moov.traks[0].mdia.hdlr.handler_type, FourCC(*b"text"));
        assert_eq!(moov.traks[0].mdia.mdhd.language, *b"por");
        assert!(matches!(&moov.traks[0].mdia.minf.stbl.stsd.entries[0], SampleEntry::Other(o) if o.kind == FourCC(*b"wvtt")));
        let seg = media_segment(&[cue(500, 1500, "hi")], 0, 4000, 1).unwrap();
        let at = seg.windows(4).position(|w| w == b"moof").unwrap() - 4;
        let moof = Moof::decode(&seg[at..at + u32::from_be_bytes(seg[at..at + 4].try_into().unwrap()) as usize]).unwrap();
        assert_eq!(moof.trafs[0].tfdt.as_ref().unwrap().base_media_decode_time, 0);
        let total: u32 = moof.trafs[0].truns[0].samples.iter().map(|s| s.duration.unwrap()).sum();
        assert_eq!(total, 4000);
    }
}
