//! Whether a video track is coded as fields (interlaced), for DASH
//! `Representation@scanType` (ISO/IEC 23009-1 §5.3.7.2).
//!
//! Sources, in order:
//! 1. a `fiel` box in the sample entry (QuickTime File Format, "Field
//!    handling": `fieldCount` 1 progressive, 2 interlaced): the container's
//!    own statement about the picture, so it decides when present;
//! 2. H.264 (`avcC`): the first SPS's `frame_mbs_only_flag` (ISO/IEC
//!    14496-10 §7.4.2.1.1): 0 means pictures may be coded as fields or as
//!    field macroblock pairs, which is what interlaced encoders write
//!    (x264 `--tff`/`--bff`, ffmpeg `-flags +ildct+ilme`);
//! 3. H.265 (`hvcC`): the profile_tier_level constraint flags copied into
//!    the record (ISO/IEC 23008-2 §7.4.4): `general_progressive_source_flag`
//!    0 with `general_interlaced_source_flag` 1 is interlaced source. (1 and
//!    1 says "see the per-picture SEI": not read, taken as not interlaced.)
//!
//! Anything else (no decoder configuration, other codecs, an SPS this
//! reader cannot follow) is taken as not interlaced: the MPD then says
//! nothing, which is what it said before this was read.
//!
//! The SPS comes from the input file, so it is read with a bounded bit
//! reader ([`BitReader`]) that answers `None` instead of reading past the
//! end and bounds every loop by a spec limit, not by a count in the input.

use bmff::{FourCC, VisualSampleEntry};

use crate::nal::{BitReader, unescape};

/// Whether the track's pictures are fields (see the module docs).
pub fn interlaced(entry: &VisualSampleEntry) -> bool {
    if let Some(fiel) = entry.other.iter().find(|b| b.kind == FourCC(*b"fiel")) {
        return fiel.body.first() == Some(&2);
    }
    if let Some(avcc) = &entry.avcc {
        return avcc.sps.first().and_then(|sps| avc_frame_mbs_only(sps)) == Some(false);
    }
    if let Some(hvcc) = &entry.hvcc {
        return hevc_interlaced_source(hvcc.general_constraint_indicator_flags);
    }
    false
}

/// `general_progressive_source_flag` 0 and `general_interlaced_source_flag`
/// 1: the two top bits of the 48-bit constraint field (ISO/IEC 23008-2
/// §7.3.3), held in the low 48 bits of `flags`.
pub fn hevc_interlaced_source(flags: u64) -> bool {
    let progressive = flags >> 47 & 1 == 1;
    let interlaced = flags >> 46 & 1 == 1;
    interlaced && !progressive
}

/// `frame_mbs_only_flag` of an H.264 SPS NAL unit (NAL header byte
/// included, emulation prevention bytes as stored), ISO/IEC 14496-10
/// §7.3.2.1.1; `None` when it is not an SPS or ends before the flag.
pub fn avc_frame_mbs_only(nal: &[u8]) -> Option<bool> {
    avc_sps(nal).map(|s| s.frame_mbs_only)
}

/// What an H.264 SPS says about the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvcSps {
    pub frame_mbs_only: bool,
    /// Width and height in luma samples after the frame cropping of
    /// §7.4.2.1.1 (`None` when the SPS ends before them or they overflow).
    pub size: Option<(u32, u32)>,
}

/// Reads an H.264 SPS NAL unit (NAL header byte included, emulation
/// prevention bytes as stored) up to the cropping window, ISO/IEC 14496-10
/// §7.3.2.1.1; `None` when it is not an SPS or ends before
/// `frame_mbs_only_flag`.
pub fn avc_sps(nal: &[u8]) -> Option<AvcSps> {
    let (&header, payload) = nal.split_first()?;
    if header & 0x1f != 7 {
        return None;
    }
    let rbsp = unescape(payload);
    let mut r = BitReader::new(&rbsp);
    let profile_idc = r.bits(8)?;
    r.bits(16)?; // constraint_set flags, reserved_zero_2bits, level_idc
    r.ue()?; // seq_parameter_set_id
    let mut chroma_format_idc = 1;
    let mut separate_colour_plane = false;
    if matches!(profile_idc, 100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc == 3 {
            separate_colour_plane = r.bits(1)? == 1;
        }
        r.ue()?; // bit_depth_luma_minus8
        r.ue()?; // bit_depth_chroma_minus8
        r.bits(1)?; // qpprime_y_zero_transform_bypass_flag
        if r.bits(1)? == 1 {
            // seq_scaling_matrix_present_flag
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.bits(1)? == 1 {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        // pic_order_cnt_type
        0 => {
            r.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            r.bits(1)?; // delta_pic_order_always_zero_flag
            r.se()?; // offset_for_non_ref_pic
            r.se()?; // offset_for_top_to_bottom_field
            let cycle = r.ue()?;
            // §7.4.2.1.1: 0..=255.
            if cycle > 255 {
                return None;
            }
            for _ in 0..cycle {
                r.se()?; // offset_for_ref_frame[i]
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.bits(1)?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = r.ue()?.checked_add(1);
    let height_map_units = r.ue()?.checked_add(1);
    let frame_mbs_only = r.bits(1)? == 1;
    let size = (|| {
        if !frame_mbs_only {
            r.bits(1)?; // mb_adaptive_frame_field_flag
        }
        r.bits(1)?; // direct_8x8_inference_flag
        let crop = if r.bits(1)? == 1 { [r.ue()?, r.ue()?, r.ue()?, r.ue()?] } else { [0; 4] };
        // Table 6-1 and equations 7-19 to 7-22: crop units in luma samples.
        let field = 2 - u32::from(frame_mbs_only);
        let (unit_x, unit_y) = match (chroma_format_idc, separate_colour_plane) {
            (0, _) | (3, true) => (1, field),
            (1, _) => (2, 2 * field),
            (2, _) => (2, field),
            _ => (1, field),
        };
        let width = width_mbs?.checked_mul(16)?;
        let height = height_map_units?.checked_mul(16)?.checked_mul(field)?;
        let crop_x = crop[0].checked_add(crop[1])?.checked_mul(unit_x)?;
        let crop_y = crop[2].checked_add(crop[3])?.checked_mul(unit_y)?;
        Some((width.checked_sub(crop_x)?, height.checked_sub(crop_y)?))
    })();
    Some(AvcSps { frame_mbs_only, size })
}

/// `scaling_list()` of §7.3.2.1.1.1, read and dropped.
fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Option<()> {
    let (mut last, mut next) = (8i64, 8i64);
    for _ in 0..size {
        if next != 0 {
            let delta = r.se()?;
            next = (last + delta + 256).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bmff::{AvcC, HvcC, RawBox};

    /// SPS of `h264_aac_bframes.mp4` (x264 High, 640x360, progressive):
    /// `frame_mbs_only_flag` 1.
    const SPS_PROGRESSIVE: &[u8] = &[
        0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9, 0x40, 0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00, 0x03,
        0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x0f, 0x16, 0x2d, 0x96,
    ];

    /// SPS of `interlaced_h264.mp4` (x264 High, 720x576, `-flags
    /// +ildct+ilme -top 1`): `frame_mbs_only_flag` 0.
    const SPS_INTERLACED: &[u8] = &[
        0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9, 0x40, 0xb4, 0x24, 0xd8, 0x08, 0x80, 0x00, 0x00, 0x03,
        0x00, 0x80, 0x00, 0x00, 0x19, 0x0f, 0x8a, 0x14, 0xcb,
    ];

    #[test]
    fn exp_golomb() {
        // 1 | 010 | 011 | 00100 | 00101 → 0, 1, 2, 3, 4
        let data = [0b1010_0110, 0b0100_0010, 0b1000_0000];
        let mut r = BitReader::new(&data);
        let v: Vec<u32> = (0..5).map(|_| r.ue().expect("ue")).collect();
        assert_eq!(v, [0, 1, 2, 3, 4]);
        let data = [0b0100_1100, 0b1000_0000];
        let mut r = BitReader::new(&data);
        // 010 → +1, 011 → -1, 00100 → +2
        assert_eq!([r.se(), r.se(), r.se()], [Some(1), Some(-1), Some(2)]);
        // 32 leading zeros: refused, not wrapped.
        let mut r = BitReader::new(&[0, 0, 0, 0, 0x80]);
        assert_eq!(r.ue(), None);
        let mut r = BitReader::new(&[0]);
        assert_eq!(r.ue(), None, "ends inside the prefix");
    }

    #[test]
    fn emulation_prevention_is_removed() {
        assert_eq!(unescape(&[0, 0, 3, 1, 0, 0, 3, 0, 0, 3]), [0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(unescape(&[0, 3, 0, 0, 0, 3]), [0, 3, 0, 0, 0]);
    }

    #[test]
    fn sps_of_x264() {
        assert_eq!(avc_frame_mbs_only(SPS_PROGRESSIVE), Some(true));
        assert_eq!(avc_frame_mbs_only(SPS_INTERLACED), Some(false));
        // Not an SPS (a PPS header byte), and a truncated one.
        assert_eq!(avc_frame_mbs_only(&[0x68, 0xeb, 0xe3, 0xcb]), None);
        assert_eq!(avc_frame_mbs_only(&SPS_PROGRESSIVE[..8]), None);
        assert_eq!(avc_frame_mbs_only(&[]), None);
        // 640x360: 40x23 macroblocks, cropped by 4 rows of chroma (8 luma).
        assert_eq!(avc_sps(SPS_PROGRESSIVE).and_then(|s| s.size), Some((640, 360)));
        // 720x576 interlaced: 18 map units of field pairs.
        assert_eq!(avc_sps(SPS_INTERLACED).and_then(|s| s.size), Some((720, 576)));
    }

    /// A Baseline SPS built bit by bit, with `frame_mbs_only_flag` 0 and
    /// pic_order_cnt_type 1 (the loop of offsets).
    #[test]
    fn sps_fields_and_poc_type_1() {
        let nal = |bits: &str| {
            let mut nal = vec![0x67];
            for chunk in bits.as_bytes().chunks(8) {
                let mut b = 0u8;
                for (i, c) in chunk.iter().enumerate() {
                    b |= (c - b'0') << (7 - i);
                }
                nal.push(b);
            }
            nal
        };
        let mut bits = String::new();
        bits += "01000010"; // profile_idc 66
        bits += "0000000000011110"; // flags, level 30
        bits += "1"; // sps id 0
        bits += "1"; // log2_max_frame_num_minus4 0
        bits += "010"; // poc type 1
        bits += "0"; // delta_pic_order_always_zero_flag
        bits += "011"; // offset_for_non_ref_pic -1
        bits += "010"; // offset_for_top_to_bottom_field 1
        bits += "011"; // cycle 2
        bits += "1"; // 0
        bits += "00100"; // +2
        bits += "011"; // max_num_ref_frames 2
        bits += "0"; // gaps
        bits += "0001010"; // width_in_mbs_minus1 9
        bits += "00110"; // height 5
        bits += "0"; // frame_mbs_only_flag 0
        bits += "1"; // rbsp stop bit
        assert_eq!(avc_frame_mbs_only(&nal(&bits)), Some(false));
        // A cycle of 256 offsets (the limit is 255) is refused, not read.
        let long = bits.replacen("011100100011", "00000000100000001", 1);
        assert_ne!(long, bits);
        assert_eq!(avc_frame_mbs_only(&nal(&long)), None);
    }

    #[test]
    fn hevc_constraint_flags() {
        // progressive 1, interlaced 0 (x265 default): 0x9000_0000_0000 region.
        assert!(!hevc_interlaced_source(0x9000_0000_0000));
        // x265 --interlace: progressive 0, interlaced 1.
        assert!(hevc_interlaced_source(0x4000_0000_0000));
        assert!(!hevc_interlaced_source(0xc000_0000_0000), "both: per picture, not read");
        assert!(!hevc_interlaced_source(0));
    }

    #[test]
    fn fiel_box_decides() {
        let mut e = VisualSampleEntry::new(FourCC(*b"avc1"), 720, 576);
        e.avcc = Some(AvcC { sps: vec![SPS_PROGRESSIVE.to_vec()], ..AvcC::default() });
        assert!(!interlaced(&e));
        e.other.push(RawBox { kind: FourCC(*b"fiel"), usertype: None, body: vec![2, 9] });
        assert!(interlaced(&e), "fiel: 2 fields");
        e.other[0].body = vec![1, 0];
        assert!(!interlaced(&e), "fiel: 1 field");
        let mut h = VisualSampleEntry::new(FourCC(*b"hvc1"), 720, 576);
        h.hvcc = Some(HvcC { general_constraint_indicator_flags: 0x4000_0000_0000, ..HvcC::default() });
        assert!(interlaced(&h));
        assert!(!interlaced(&VisualSampleEntry::new(FourCC(*b"vp09"), 1, 1)));
    }
}
