//! `sinf` (ISO/IEC 14496-12 §8.12.1): protection scheme information of an
//! `encv`/`enca` entry: the original format (`frma`), the scheme (`schm`:
//! `cenc`, `cbcs`, ...) and scheme data (`schi`, holding `tenc` for Common
//! Encryption, ISO/IEC 23001-7 §8.2).

pub mod frma;
pub mod schm;
pub mod tenc;

use crate::atom::{Atom, required, set_once};
use crate::order::{LAST, OtherWriter, sort_other};
use crate::{FourCC, RawBox, Reader, Result};
use frma::Frma;
use schm::Schm;
use tenc::Tenc;

/// Scheme information box.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schi {
    pub tenc: Option<Tenc>,
    pub other: Vec<RawBox>,
}

fn rank(_: FourCC) -> u8 {
    LAST
}

impl Atom for Schi {
    const KIND: FourCC = FourCC::SCHI;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let mut tenc = None;
        let mut other = Vec::new();
        while let Some((h, body)) = r.next_box()? {
            match h.kind {
                Tenc::KIND => set_once(&mut tenc, Self::KIND, h.kind, Tenc::decode_child(r, body))?,
                _ => other.push(RawBox::from_parts(&h, body)),
            }
        }
        sort_other(&mut other, rank);
        Ok(Schi { tenc, other })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        if let Some(t) = &self.tenc {
            t.encode(out)?;
        }
        OtherWriter::new(&self.other, rank).finish(out)
    }
}

/// Protection scheme information box.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sinf {
    pub frma: Frma,
    pub schm: Option<Schm>,
    pub schi: Option<Schi>,
    pub other: Vec<RawBox>,
}

impl Atom for Sinf {
    const KIND: FourCC = FourCC::SINF;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (mut frma, mut schm, mut schi) = (None, None, None);
        let mut other = Vec::new();
        while let Some((h, body)) = r.next_box()? {
            match h.kind {
                Frma::KIND => set_once(&mut frma, Self::KIND, h.kind, Frma::decode_child(r, body))?,
                Schm::KIND => set_once(&mut schm, Self::KIND, h.kind, Schm::decode_child(r, body))?,
                Schi::KIND => set_once(&mut schi, Self::KIND, h.kind, Schi::decode_child(r, body))?,
                _ => other.push(RawBox::from_parts(&h, body)),
            }
        }
        sort_other(&mut other, rank);
        Ok(Sinf {
            frma: required(frma, Self::KIND, Frma::KIND)?,
            schm,
            schi,
            other,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        self.frma.encode(out)?;
        if let Some(s) = &self.schm {
            s.encode(out)?;
        }
        if let Some(s) = &self.schi {
            s.encode(out)?;
        }
        OtherWriter::new(&self.other, rank).finish(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::atom::testutil::*;

    pub(crate) fn cenc_sinf() -> Sinf {
        Sinf {
            frma: Frma {
                original_format: FourCC::AVC1,
            },
            schm: Some(Schm {
                scheme_type: FourCC::CENC,
                scheme_version: 0x0001_0000,
                scheme_uri: None,
            }),
            schi: Some(Schi {
                tenc: Some(Tenc {
                    version: 0,
                    default_crypt_byte_block: 0,
                    default_skip_byte_block: 0,
                    default_is_protected: 1,
                    default_per_sample_iv_size: 8,
                    default_kid: [0x11; 16],
                    default_constant_iv: None,
                }),
                other: vec![],
            }),
            other: vec![],
        }
    }

    #[test]
    fn sinf_roundtrip() {
        let b = roundtrip(&cenc_sinf());
        // frma 12 + schm 20 + schi (8 + tenc 32)
        assert_eq!(b.len(), 8 + 12 + 20 + 40);
        assert_eq!(
            Sinf::decode(b"\0\0\0\x08sinf"),
            Err(Error::MissingBox {
                parent: FourCC::SINF,
                child: FourCC::FRMA
            })
        );
    }
}
