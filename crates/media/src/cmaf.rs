//! Clear CMAF (ISO/IEC 23000-19) from the tracks of a progressive MP4: one
//! init segment per track (`ftyp` + `moov` with `mvex`, empty sample tables)
//! and media segments (`styp` + `moof` + `mdat`) that keep every sample's
//! exact decode time, duration and composition offset, so the output decodes
//! to the same frames at the same times as the input.
//!
//! Each output holds one track, and its boxes number it 1 (`tkhd`, `trex`,
//! `tfhd`), whatever its id in the input: a CMAF track file is a
//! presentation of its own, and decoders that index arrays by track id
//! (Shaka Packager up to v3.4.2 writes past a buffer for any other id when
//! decrypting fragmented input) then read it correctly. The input's id still
//! names the track in folder names, manifests and IV derivation.

use bmff::sample_table::Sample;
use bmff::{
    Atom, FourCC, Ftyp, Mfhd, Moof, Moov, Mvex, Mvhd, Stbl, Stco, Stsc, Stsd, Stsz, Stts, Tfdt, Tfhd, Traf, Trex, Trun,
    TrunSample,
};

use crate::error::{Error, Result};
use crate::movie::{Track, TrackKind};
use crate::plan::SegmentPlan;

/// `sample_depends_on = 2` (an I-frame): ISO/IEC 14496-12 §8.8.3.1.
pub const SYNC_SAMPLE_FLAGS: u32 = 0x0200_0000;
/// `sample_depends_on = 1`, `sample_is_non_sync_sample = 1`.
pub const NON_SYNC_SAMPLE_FLAGS: u32 = 0x0101_0000;
/// `track_ID` of the one track in every CMAF output.
pub const CMAF_TRACK_ID: u32 = 1;

fn fourccs(list: &[&[u8; 4]]) -> Vec<FourCC> {
    list.iter().map(|b| FourCC(**b)).collect()
}

/// The sample tables of a fragmented track's `moov`: its sample
/// descriptions and empty tables (the samples are in the fragments).
pub(crate) fn fragmented_stbl(stsd: Stsd) -> Stbl {
    Stbl {
        stsd,
        stts: Stts::default(),
        ctts: None,
        stsc: Stsc::default(),
        stsz: Some(Stsz::default()),
        stz2: None,
        stco: Some(Stco::default()),
        co64: None,
        stss: None,
        other: Vec::new(),
    }
}

/// The init segment of one track.
pub fn init_segment(mvhd: &Mvhd, track: &Track) -> Result<Vec<u8>> {
    let mut trak = track.trak.clone();
    trak.tkhd.track_id = CMAF_TRACK_ID;
    trak.tkhd.duration = 0;
    trak.mdia.mdhd.duration = 0;
    let src = &track.trak.mdia.minf.stbl;
    trak.mdia.minf.stbl = fragmented_stbl(src.stsd.clone());
    // Track-level metadata (udta, meta) is not needed for playback.
    trak.other.retain(|b| !matches!(&b.kind.0, b"udta" | b"meta"));
    init_with(mvhd.clone(), trak)
}

/// The init segment of a CMAF track file holding `trak` (whose sample
/// tables are empty and whose id is [`CMAF_TRACK_ID`]): `ftyp`, then `moov`
/// with `mvex`/`trex` for fragments.
pub(crate) fn init_with(mut mvhd: Mvhd, trak: bmff::Trak) -> Result<Vec<u8>> {
    mvhd.duration = 0;
    mvhd.next_track_id = CMAF_TRACK_ID + 1;
    let moov = Moov {
        mvhd,
        traks: vec![trak],
        mvex: Some(Mvex {
            mehd: None,
            trex: vec![Trex {
                track_id: CMAF_TRACK_ID,
                default_sample_description_index: 1,
                default_sample_duration: 0,
                default_sample_size: 0,
                default_sample_flags: 0,
            }],
            other: Vec::new(),
        }),
        pssh: Vec::new(),
        other: Vec::new(),
    };
    let ftyp = Ftyp {
        major_brand: FourCC(*b"iso6"),
        minor_version: 0,
        compatible_brands: fourccs(&[b"iso6", b"cmfc", b"mp41", b"dash"]),
    };
    let mut out = Vec::with_capacity(4096);
    ftyp.encode(&mut out)?;
    moov.encode(&mut out)?;
    Ok(out)
}

/// Per-fragment defaults that let `trun` carry only what varies: a
/// duration or flags value shared by every sample moves into `tfhd`, and a
/// lone sync sample at the start of a video fragment goes into
/// `first_sample_flags` (ISO/IEC 14496-12 §8.8.7, §8.8.8). This keeps a
/// 4-second audio `trun` at 4 bytes a sample instead of 12.
struct Layout {
    default_duration: Option<u32>,
    default_flags: Option<u32>,
    first_sample_flags: Option<u32>,
    samples: Vec<TrunSample>,
}

fn sample_flags(track: &Track, s: &Sample) -> u32 {
    match (track.kind, s.is_sync) {
        (TrackKind::Audio, _) | (_, true) => SYNC_SAMPLE_FLAGS,
        _ => NON_SYNC_SAMPLE_FLAGS,
    }
}

fn layout(track: &Track, samples: &[Sample]) -> Layout {
    let with_cts = track.trak.mdia.minf.stbl.ctts.is_some() || samples.iter().any(|s| s.cts_offset != 0);
    let flags: Vec<u32> = samples.iter().map(|s| sample_flags(track, s)).collect();
    let same_duration = samples.windows(2).all(|w| w[0].duration == w[1].duration);
    let default_duration = if same_duration { samples.first().map(|s| s.duration) } else { None };
    let (default_flags, first_sample_flags) = if flags.windows(2).all(|w| w[0] == w[1]) {
        (flags.first().copied(), None)
    } else if flags.len() > 1 && flags[1..].windows(2).all(|w| w[0] == w[1]) {
        (Some(flags[1]), Some(flags[0]))
    } else {
        (None, None)
    };
    let per_sample_flags = default_flags.is_none();
    let samples = samples
        .iter()
        .zip(&flags)
        .map(|(s, &f)| TrunSample {
            duration: default_duration.is_none().then_some(s.duration),
            size: Some(s.size),
            flags: per_sample_flags.then_some(f),
            composition_time_offset: with_cts.then_some(s.cts_offset),
        })
        .collect();
    Layout { default_duration, default_flags, first_sample_flags, samples }
}

/// Room left at the end of a segment buffer for what protection adds to
/// its `moof` (`senc`, `saiz`, `saio`), so that it can be done in place.
pub const PROTECTION_HEADROOM: usize = 64 * 1024;

/// Room left in front of a clear segment read for serving, for what
/// protection adds to its `moof`: the `moof` grows into it and the samples
/// after it stay where they were read. A 2 s fragment of 60 fps video with
/// four slices per frame gains 120 × (8 + 2 + 4 × 6) bytes of `senc`, about
/// 4 KB; a fragment that needs more is moved up once instead.
pub const PROTECTION_FRONT: usize = 16 * 1024;

/// One media segment of one track into a reused buffer: writes `styp`,
/// `moof` and the `mdat` header, then lets
/// `append_samples` append the sample bytes straight after them (from the
/// file, with no copy in between). `out` is cleared first.
pub fn media_segment_into(
    track: &Track,
    plan: &SegmentPlan,
    sequence: u32,
    out: &mut Vec<u8>,
    append_samples: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    let samples = track
        .samples
        .get(plan.first_sample..plan.first_sample + plan.sample_count)
        .ok_or_else(|| Error::Segment(format!("track {}: segment {sequence} past the last sample", track.id)))?;
    let expected: u64 = samples.iter().map(|s| u64::from(s.size)).sum();
    let layout = layout(track, samples);
    let version = u8::from(layout.samples.iter().any(|s| s.composition_time_offset.is_some_and(|c| c < 0)));
    let mut moof = Moof {
        mfhd: Mfhd { sequence_number: sequence },
        trafs: vec![Traf {
            tfhd: Tfhd {
                track_id: CMAF_TRACK_ID,
                base_data_offset: None,
                sample_description_index: None,
                default_sample_duration: layout.default_duration,
                default_sample_size: None,
                default_sample_flags: layout.default_flags,
                duration_is_empty: false,
                default_base_is_moof: true,
            },
            tfdt: Some(Tfdt { version: 1, base_media_decode_time: plan.start }),
            truns: vec![Trun {
                version,
                data_offset: Some(0),
                first_sample_flags: layout.first_sample_flags,
                samples: layout.samples,
            }],
            senc: None,
            saiz: Vec::new(),
            saio: Vec::new(),
            other: Vec::new(),
        }],
        pssh: Vec::new(),
        other: Vec::new(),
    };
    let mdat_header = if expected + 8 > u64::from(u32::MAX) { 16 } else { 8 };
    let mut moof_bytes = Vec::with_capacity(256 + samples.len() * 16);
    moof.encode(&mut moof_bytes)?;
    let data_offset = i32::try_from(moof_bytes.len() + mdat_header)
        .map_err(|_| Error::Segment(format!("track {}: moof too large", track.id)))?;
    moof.trafs[0].truns[0].data_offset = Some(data_offset);

    let styp = bmff::Styp {
        major_brand: FourCC(*b"msdh"),
        minor_version: 0,
        compatible_brands: fourccs(&[b"msdh", b"msix"]),
    };
    out.clear();
    let total = 64 + moof_bytes.len() + expected as usize + PROTECTION_HEADROOM;
    out.reserve(total.saturating_sub(out.capacity()));
    styp.encode(out)?;
    moof.encode(out)?;
    bmff::write_mdat_header(expected, out);
    let start = out.len();
    append_samples(out)?;
    let appended = (out.len() - start) as u64;
    if appended != expected {
        return Err(Error::Segment(format!(
            "track {}: segment {sequence} has {appended} bytes of samples, expected {expected}",
            track.id
        )));
    }
    Ok(())
}

/// Where the first sample of a media segment ends, in bytes from the start
/// of the segment: what an HLS I-frame playlist's byte range covers when
/// the segment starts with a key frame (RFC 8216 §4.3.3.6: the range holds
/// the `moof` that describes the sample and the sample itself).
pub fn first_sample_end(segment: &[u8]) -> Result<u64> {
    for item in bmff::iter_boxes(segment) {
        let (header, body) = item?;
        if &header.kind.0 != b"moof" {
            continue;
        }
        let start = body.as_ptr() as usize - segment.as_ptr() as usize - usize::from(header.header_len);
        let moof = Moof::decode(&segment[start..start + usize::from(header.header_len) + body.len()])?;
        let traf = moof.trafs.first().ok_or_else(|| Error::Segment("moof without traf".into()))?;
        let trun = traf.truns.first().ok_or_else(|| Error::Segment("traf without trun".into()))?;
        let offset = trun.data_offset.ok_or_else(|| Error::Segment("trun without data offset".into()))?;
        let size = trun
            .samples
            .first()
            .and_then(|s| s.size)
            .or(traf.tfhd.default_sample_size)
            .ok_or_else(|| Error::Segment("first sample without a size".into()))?;
        let end = u64::try_from(offset)
            .ok()
            .and_then(|o| (start as u64).checked_add(o))
            .and_then(|o| o.checked_add(u64::from(size)))
            .filter(|&e| e <= segment.len() as u64)
            .ok_or_else(|| Error::Segment("first sample lies past the end of the segment".into()))?;
        return Ok(end);
    }
    Err(Error::Segment("segment without moof".into()))
}
