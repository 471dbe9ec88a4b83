//! `trex` (ISO/IEC 14496-12 §8.8.3): per-track defaults for fragments.

use crate::atom::Atom;
use crate::reader::Put;
use crate::{FourCC, Reader, Result};

/// Track extends box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Trex {
    pub track_id: u32,
    pub default_sample_description_index: u32,
    pub default_sample_duration: u32,
    pub default_sample_size: u32,
    pub default_sample_flags: u32,
}

impl Atom for Trex {
    const KIND: FourCC = FourCC::TREX;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        r.full_header()?;
        Ok(Trex {
            track_id: r.u32()?,
            default_sample_description_index: r.u32()?,
            default_sample_duration: r.u32()?,
            default_sample_size: r.u32()?,
            default_sample_flags: r.u32()?,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        out.put_full(0, 0);
        out.put_u32(self.track_id);
        out.put_u32(self.default_sample_description_index);
        out.put_u32(self.default_sample_duration);
        out.put_u32(self.default_sample_size);
        out.put_u32(self.default_sample_flags);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn trex_roundtrip() {
        let t = Trex {
            track_id: 1,
            default_sample_description_index: 1,
            default_sample_flags: 0x0101_0000,
            ..Default::default()
        };
        let b = roundtrip(&t);
        assert_eq!(b.len(), 32);
        truncations_fail::<Trex>(&b);
    }
}
