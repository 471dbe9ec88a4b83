//! `mdia` (ISO/IEC 14496-12 §8.4.1): the media of one track: header,
//! handler, media information.

pub mod hdlr;
pub mod mdhd;
pub mod minf;

use crate::atom::{Atom, required, set_once};
use crate::order::{LAST, OtherWriter, sort_other};
use crate::{FourCC, RawBox, Reader, Result};
use hdlr::Hdlr;
use mdhd::Mdhd;
use minf::Minf;

/// Media box.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mdia {
    pub mdhd: Mdhd,
    pub hdlr: Hdlr,
    pub minf: Minf,
    /// `elng` and unknown boxes.
    pub other: Vec<RawBox>,
}

const R_MDHD: u8 = 10;
const R_HDLR: u8 = 20;
const R_MINF: u8 = 30;

fn rank(k: FourCC) -> u8 {
    match &k.0 {
        b"elng" => R_HDLR + 1,
        _ => LAST,
    }
}

impl Atom for Mdia {
    const KIND: FourCC = FourCC::MDIA;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (mut mdhd, mut hdlr, mut minf) = (None, None, None);
        let mut other = Vec::new();
        while let Some((h, body)) = r.next_box()? {
            match h.kind {
                Mdhd::KIND => set_once(&mut mdhd, Self::KIND, h.kind, Mdhd::decode_child(r, body))?,
                Hdlr::KIND => set_once(&mut hdlr, Self::KIND, h.kind, Hdlr::decode_child(r, body))?,
                Minf::KIND => set_once(&mut minf, Self::KIND, h.kind, Minf::decode_child(r, body))?,
                _ => other.push(RawBox::from_parts(&h, body)),
            }
        }
        sort_other(&mut other, rank);
        Ok(Mdia {
            mdhd: required(mdhd, Self::KIND, Mdhd::KIND)?,
            hdlr: required(hdlr, Self::KIND, Hdlr::KIND)?,
            minf: required(minf, Self::KIND, Minf::KIND)?,
            other,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = OtherWriter::new(&self.other, rank);
        w.before(R_MDHD, out)?;
        self.mdhd.encode(out)?;
        w.before(R_HDLR, out)?;
        self.hdlr.encode(out)?;
        w.before(R_MINF, out)?;
        self.minf.encode(out)?;
        w.finish(out)
    }
}
