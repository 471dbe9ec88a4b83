//! `trak` (ISO/IEC 14496-12 §8.3.1): one track: header, edits, media.

pub mod edts;
pub mod mdia;
pub mod tkhd;

use crate::atom::{Atom, required, set_once};
use crate::order::{LAST, OtherWriter, sort_other};
use crate::{FourCC, RawBox, Reader, Result};
use edts::Edts;
use mdia::Mdia;
use tkhd::Tkhd;

/// Track box.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trak {
    pub tkhd: Tkhd,
    pub edts: Option<Edts>,
    pub mdia: Mdia,
    /// `tref`, `udta`, `meta`, ... kept whole.
    pub other: Vec<RawBox>,
}

const R_TKHD: u8 = 10;
const R_EDTS: u8 = 20;
const R_MDIA: u8 = 30;

fn rank(k: FourCC) -> u8 {
    match &k.0 {
        b"tapt" => R_TKHD + 1,
        b"tref" | b"trgr" => R_EDTS + 1,
        _ => LAST,
    }
}

impl Atom for Trak {
    const KIND: FourCC = FourCC::TRAK;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (mut tkhd, mut edts, mut mdia) = (None, None, None);
        let mut other = Vec::new();
        while let Some((h, body)) = r.next_box()? {
            match h.kind {
                Tkhd::KIND => set_once(&mut tkhd, Self::KIND, h.kind, Tkhd::decode_child(r, body))?,
                Edts::KIND => set_once(&mut edts, Self::KIND, h.kind, Edts::decode_child(r, body))?,
                Mdia::KIND => set_once(&mut mdia, Self::KIND, h.kind, Mdia::decode_child(r, body))?,
                _ => other.push(RawBox::from_parts(&h, body)),
            }
        }
        sort_other(&mut other, rank);
        Ok(Trak {
            tkhd: required(tkhd, Self::KIND, Tkhd::KIND)?,
            edts,
            mdia: required(mdia, Self::KIND, Mdia::KIND)?,
            other,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = OtherWriter::new(&self.other, rank);
        w.before(R_TKHD, out)?;
        self.tkhd.encode(out)?;
        if let Some(e) = &self.edts {
            w.before(R_EDTS, out)?;
            e.encode(out)?;
        }
        w.before(R_MDIA, out)?;
        self.mdia.encode(out)?;
        w.finish(out)
    }
}
