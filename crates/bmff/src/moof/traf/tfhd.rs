//! `tfhd` (ISO/IEC 14496-12 §8.8.7): track fragment defaults. Each optional
//! field has a flag: 0x1 base-data-offset, 0x2 sample-description-index,
//! 0x8 default-sample-duration, 0x10 default-sample-size, 0x20
//! default-sample-flags, 0x10000 duration-is-empty, 0x20000
//! default-base-is-moof (required by CMAF).

use crate::atom::Atom;
use crate::reader::Put;
use crate::{FourCC, Reader, Result};

/// Track fragment header. Flags are derived from which fields are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tfhd {
    pub track_id: u32,
    pub base_data_offset: Option<u64>,
    pub sample_description_index: Option<u32>,
    pub default_sample_duration: Option<u32>,
    pub default_sample_size: Option<u32>,
    pub default_sample_flags: Option<u32>,
    pub duration_is_empty: bool,
    pub default_base_is_moof: bool,
}

impl Atom for Tfhd {
    const KIND: FourCC = FourCC::TFHD;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (_, flags) = r.full_header()?;
        let track_id = r.u32()?;
        let base_data_offset = if flags & 0x1 != 0 {
            Some(r.u64()?)
        } else {
            None
        };
        let mut opt = |bit: u32| -> Result<Option<u32>> {
            if flags & bit != 0 {
                r.u32().map(Some)
            } else {
                Ok(None)
            }
        };
        Ok(Tfhd {
            track_id,
            base_data_offset,
            sample_description_index: opt(0x2)?,
            default_sample_duration: opt(0x8)?,
            default_sample_size: opt(0x10)?,
            default_sample_flags: opt(0x20)?,
            duration_is_empty: flags & 0x1_0000 != 0,
            default_base_is_moof: flags & 0x2_0000 != 0,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        let flags = u32::from(self.base_data_offset.is_some())
            | (u32::from(self.sample_description_index.is_some()) << 1)
            | (u32::from(self.default_sample_duration.is_some()) << 3)
            | (u32::from(self.default_sample_size.is_some()) << 4)
            | (u32::from(self.default_sample_flags.is_some()) << 5)
            | (u32::from(self.duration_is_empty) << 16)
            | (u32::from(self.default_base_is_moof) << 17);
        out.put_full(0, flags);
        out.put_u32(self.track_id);
        if let Some(v) = self.base_data_offset {
            out.put_u64(v);
        }
        for v in [
            self.sample_description_index,
            self.default_sample_duration,
            self.default_sample_size,
            self.default_sample_flags,
        ]
        .into_iter()
        .flatten()
        {
            out.put_u32(v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn tfhd_roundtrip() {
        let t = Tfhd {
            track_id: 1,
            default_base_is_moof: true,
            ..Default::default()
        };
        let b = roundtrip(&t);
        assert_eq!(b, b"\0\0\0\x10tfhd\0\x02\0\0\0\0\0\x01");
        let all = Tfhd {
            track_id: 2,
            base_data_offset: Some(1 << 40),
            sample_description_index: Some(1),
            default_sample_duration: Some(1024),
            default_sample_size: Some(371),
            default_sample_flags: Some(0x0200_0000),
            duration_is_empty: true,
            default_base_is_moof: false,
        };
        let b = roundtrip(&all);
        truncations_fail::<Tfhd>(&b);
    }
}
