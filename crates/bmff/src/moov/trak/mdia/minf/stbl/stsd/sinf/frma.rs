//! `frma` (ISO/IEC 14496-12 §8.12.2): the sample entry type an `encv` /
//! `enca` entry had before encryption (`avc1`, `mp4a`, ...).

use crate::atom::Atom;
use crate::reader::Put;
use crate::{FourCC, Reader, Result};

/// Original format box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Frma {
    pub original_format: FourCC,
}

impl Atom for Frma {
    const KIND: FourCC = FourCC::FRMA;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Frma {
            original_format: r.fourcc()?,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        out.put_fourcc(self.original_format);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn frma_roundtrip() {
        let b = roundtrip(&Frma {
            original_format: FourCC::MP4A,
        });
        assert_eq!(b, b"\0\0\0\x0cfrmamp4a");
        truncations_fail::<Frma>(&b);
    }
}
