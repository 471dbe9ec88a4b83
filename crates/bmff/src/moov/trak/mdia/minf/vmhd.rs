//! `vmhd` (ISO/IEC 14496-12 §12.1.2) and `smhd` (§12.2.2): the media
//! headers of video and sound tracks. `vmhd` always has flags = 1.

use crate::atom::Atom;
use crate::reader::Put;
use crate::{FourCC, Reader, Result};

/// Video media header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Vmhd {
    pub graphics_mode: u16,
    pub opcolor: [u16; 3],
}

impl Atom for Vmhd {
    const KIND: FourCC = FourCC::VMHD;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        r.full_header()?;
        Ok(Vmhd {
            graphics_mode: r.u16()?,
            opcolor: [r.u16()?, r.u16()?, r.u16()?],
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        out.put_full(0, 1);
        out.put_u16(self.graphics_mode);
        for c in self.opcolor {
            out.put_u16(c);
        }
        Ok(())
    }
}

/// Sound media header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Smhd {
    /// 8.8 fixed point, 0 = centre.
    pub balance: i16,
}

impl Atom for Smhd {
    const KIND: FourCC = FourCC::SMHD;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        r.full_header()?;
        let balance = r.i16()?;
        r.skip(2)?;
        Ok(Smhd { balance })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        out.put_full(0, 0);
        out.put_i16(self.balance);
        out.put_u16(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn media_headers() {
        let b = roundtrip(&Vmhd::default());
        assert_eq!(b, b"\0\0\0\x14vmhd\0\0\0\x01\0\0\0\0\0\0\0\0");
        truncations_fail::<Vmhd>(&b);
        let b = roundtrip(&Smhd { balance: -256 });
        truncations_fail::<Smhd>(&b);
    }
}
