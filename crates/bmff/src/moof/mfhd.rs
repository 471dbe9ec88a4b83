//! `mfhd` (ISO/IEC 14496-12 §8.8.5): the fragment's sequence number.

use crate::atom::Atom;
use crate::reader::Put;
use crate::{FourCC, Reader, Result};

/// Movie fragment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mfhd {
    pub sequence_number: u32,
}

impl Atom for Mfhd {
    const KIND: FourCC = FourCC::MFHD;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        r.full_header()?;
        Ok(Mfhd {
            sequence_number: r.u32()?,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        out.put_full(0, 0);
        out.put_u32(self.sequence_number);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn mfhd_roundtrip() {
        truncations_fail::<Mfhd>(&roundtrip(&Mfhd { sequence_number: 7 }));
    }
}
