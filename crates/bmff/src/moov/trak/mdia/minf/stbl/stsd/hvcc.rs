//! `hvcC`, the HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1):
//! profile/tier/level, chroma and bit depth, NAL length size, and arrays of
//! VPS/SPS/PPS/SEI NAL units. Reserved bits are written as ones.

use super::avcc::{read_nalus, write_nalu};
use crate::atom::Atom;
use crate::reader::{Put, count_u32};
use crate::{Error, FourCC, Reader, Result};

/// One array of parameter-set NAL units of one type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HvcCArray {
    pub array_completeness: bool,
    /// 6 bits (32 VPS, 33 SPS, 34 PPS, 39/40 SEI).
    pub nal_unit_type: u8,
    pub nalus: Vec<Vec<u8>>,
}

/// HEVC decoder configuration record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HvcC {
    pub configuration_version: u8,
    /// 2 bits.
    pub general_profile_space: u8,
    pub general_tier_flag: bool,
    /// 5 bits.
    pub general_profile_idc: u8,
    pub general_profile_compatibility_flags: u32,
    /// 48 bits.
    pub general_constraint_indicator_flags: u64,
    pub general_level_idc: u8,
    /// 12 bits.
    pub min_spatial_segmentation_idc: u16,
    /// 2 bits.
    pub parallelism_type: u8,
    /// 2 bits.
    pub chroma_format_idc: u8,
    /// 3 bits.
    pub bit_depth_luma_minus8: u8,
    /// 3 bits.
    pub bit_depth_chroma_minus8: u8,
    pub avg_frame_rate: u16,
    /// 2 bits.
    pub constant_frame_rate: u8,
    /// 3 bits.
    pub num_temporal_layers: u8,
    pub temporal_id_nested: bool,
    /// 2 bits.
    pub length_size_minus_one: u8,
    pub arrays: Vec<HvcCArray>,
}

impl HvcC {
    /// Size in bytes of the length prefix of each NAL unit in a sample.
    pub fn nal_length_size(&self) -> u8 {
        (self.length_size_minus_one & 3) + 1
    }
}

impl Atom for HvcC {
    const KIND: FourCC = FourCC::HVCC;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let configuration_version = r.u8()?;
        let b = r.u8()?;
        let general_profile_compatibility_flags = r.u32()?;
        let hi = u64::from(r.u16()?);
        let general_constraint_indicator_flags = (hi << 32) | u64::from(r.u32()?);
        let general_level_idc = r.u8()?;
        let min_spatial_segmentation_idc = r.u16()? & 0x0fff;
        let parallelism_type = r.u8()? & 3;
        let chroma_format_idc = r.u8()? & 3;
        let bit_depth_luma_minus8 = r.u8()? & 7;
        let bit_depth_chroma_minus8 = r.u8()? & 7;
        let avg_frame_rate = r.u16()?;
        let f = r.u8()?;
        let num_arrays = r.u8()?;
        let mut arrays = Vec::with_capacity(r.capacity_for(u64::from(num_arrays), 3));
        for _ in 0..num_arrays {
            let t = r.u8()?;
            let n = r.u16()?;
            let mut nalus = Vec::new();
            read_nalus(r, usize::from(n), &mut nalus)?;
            arrays.push(HvcCArray {
                array_completeness: t & 0x80 != 0,
                nal_unit_type: t & 0x3f,
                nalus,
            });
        }
        Ok(HvcC {
            configuration_version,
            general_profile_space: b >> 6,
            general_tier_flag: b & 0x20 != 0,
            general_profile_idc: b & 0x1f,
            general_profile_compatibility_flags,
            general_constraint_indicator_flags,
            general_level_idc,
            min_spatial_segmentation_idc,
            parallelism_type,
            chroma_format_idc,
            bit_depth_luma_minus8,
            bit_depth_chroma_minus8,
            avg_frame_rate,
            constant_frame_rate: f >> 6,
            num_temporal_layers: (f >> 3) & 7,
            temporal_id_nested: f & 4 != 0,
            length_size_minus_one: f & 3,
            arrays,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        let checks: [(bool, &'static str); 11] = [
            (self.general_profile_space > 3, "general_profile_space"),
            (self.general_profile_idc > 0x1f, "general_profile_idc"),
            (
                self.general_constraint_indicator_flags >> 48 != 0,
                "general_constraint_indicator_flags",
            ),
            (
                self.min_spatial_segmentation_idc > 0x0fff,
                "min_spatial_segmentation_idc",
            ),
            (self.parallelism_type > 3, "parallelismType"),
            (self.chroma_format_idc > 3, "chromaFormat"),
            (self.bit_depth_luma_minus8 > 7, "bitDepthLumaMinus8"),
            (self.bit_depth_chroma_minus8 > 7, "bitDepthChromaMinus8"),
            (self.constant_frame_rate > 3, "constantFrameRate"),
            (self.num_temporal_layers > 7, "numTemporalLayers"),
            (self.length_size_minus_one > 3, "lengthSizeMinusOne"),
        ];
        if let Some((_, field)) = checks.iter().find(|(bad, _)| *bad) {
            return Err(Error::Invalid {
                kind: Self::KIND,
                field,
            });
        }
        let num_arrays = u8::try_from(self.arrays.len()).map_err(|_| Error::TooLarge {
            kind: Self::KIND,
            field: "numOfArrays",
        })?;
        out.put_u8(self.configuration_version);
        out.put_u8(
            (self.general_profile_space << 6)
                | (u8::from(self.general_tier_flag) << 5)
                | self.general_profile_idc,
        );
        out.put_u32(self.general_profile_compatibility_flags);
        out.put_u16((self.general_constraint_indicator_flags >> 32) as u16);
        out.put_u32(self.general_constraint_indicator_flags as u32);
        out.put_u8(self.general_level_idc);
        out.put_u16(0xf000 | self.min_spatial_segmentation_idc);
        out.put_u8(0xfc | self.parallelism_type);
        out.put_u8(0xfc | self.chroma_format_idc);
        out.put_u8(0xf8 | self.bit_depth_luma_minus8);
        out.put_u8(0xf8 | self.bit_depth_chroma_minus8);
        out.put_u16(self.avg_frame_rate);
        out.put_u8(
            (self.constant_frame_rate << 6)
                | (self.num_temporal_layers << 3)
                | (u8::from(self.temporal_id_nested) << 2)
                | self.length_size_minus_one,
        );
        out.put_u8(num_arrays);
        for a in &self.arrays {
            if a.nal_unit_type > 0x3f {
                return Err(Error::Invalid {
                    kind: Self::KIND,
                    field: "NAL_unit_type",
                });
            }
            out.put_u8((u8::from(a.array_completeness) << 7) | a.nal_unit_type);
            let n = count_u32(Self::KIND, "numNalus", a.nalus.len())?;
            out.put_u16(u16::try_from(n).map_err(|_| Error::TooLarge {
                kind: Self::KIND,
                field: "numNalus",
            })?);
            for nalu in &a.nalus {
                write_nalu(out, Self::KIND, nalu)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn hvcc_roundtrip() {
        let c = HvcC {
            configuration_version: 1,
            general_profile_space: 0,
            general_tier_flag: false,
            general_profile_idc: 1,
            general_profile_compatibility_flags: 0x6000_0000,
            general_constraint_indicator_flags: 0x9000_0000_0000,
            general_level_idc: 60,
            min_spatial_segmentation_idc: 0,
            parallelism_type: 0,
            chroma_format_idc: 1,
            bit_depth_luma_minus8: 0,
            bit_depth_chroma_minus8: 0,
            avg_frame_rate: 0,
            constant_frame_rate: 0,
            num_temporal_layers: 1,
            temporal_id_nested: true,
            length_size_minus_one: 3,
            arrays: vec![
                HvcCArray {
                    array_completeness: true,
                    nal_unit_type: 32,
                    nalus: vec![vec![0x40, 0x01, 0x0c]],
                },
                HvcCArray {
                    array_completeness: true,
                    nal_unit_type: 33,
                    nalus: vec![vec![0x42, 0x01], vec![0x42, 0x02]],
                },
            ],
        };
        assert_eq!(c.nal_length_size(), 4);
        let b = roundtrip(&c);
        assert_eq!(b.len(), 8 + 23 + 3 + 3 + 2 + 3 + 2 + 2 + 2 + 2);
        truncations_fail::<HvcC>(&b);
        assert!(
            HvcC {
                general_profile_idc: 32,
                ..c
            }
            .to_bytes()
            .is_err()
        );
    }
}
