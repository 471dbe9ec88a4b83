//! `moov` (ISO/IEC 14496-12 §8.2.1): the movie: header, tracks, fragment
//! defaults (`mvex`) and DRM headers (`pssh`, ISO/IEC 23001-7 §8.1).
//! `udta`, `meta`, `iods` and other boxes are kept whole.

pub mod mvex;
pub mod mvhd;
pub mod trak;

use crate::atom::{Atom, required, set_once};
use crate::order::{LAST, OtherWriter, sort_other};
use crate::pssh::Pssh;
use crate::{FourCC, RawBox, Reader, Result};
use mvex::Mvex;
use mvhd::Mvhd;
use trak::Trak;

/// Movie box.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Moov {
    pub mvhd: Mvhd,
    pub traks: Vec<Trak>,
    pub mvex: Option<Mvex>,
    pub pssh: Vec<Pssh>,
    pub other: Vec<RawBox>,
}

const R_MVHD: u8 = 10;
const R_TRAK: u8 = 20;
const R_MVEX: u8 = 30;
const R_PSSH: u8 = 40;

fn rank(k: FourCC) -> u8 {
    match &k.0 {
        b"iods" => R_MVHD + 1,
        _ => LAST,
    }
}

impl Atom for Moov {
    const KIND: FourCC = FourCC::MOOV;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (mut mvhd, mut mvex) = (None, None);
        let mut traks = Vec::new();
        let mut pssh = Vec::new();
        let mut other = Vec::new();
        while let Some((h, body)) = r.next_box()? {
            match h.kind {
                Mvhd::KIND => set_once(&mut mvhd, Self::KIND, h.kind, Mvhd::decode_child(r, body))?,
                Trak::KIND => traks.push(Trak::decode_child(r, body)?),
                Mvex::KIND => set_once(&mut mvex, Self::KIND, h.kind, Mvex::decode_child(r, body))?,
                Pssh::KIND => pssh.push(Pssh::decode_child(r, body)?),
                _ => other.push(RawBox::from_parts(&h, body)),
            }
        }
        sort_other(&mut other, rank);
        Ok(Moov {
            mvhd: required(mvhd, Self::KIND, Mvhd::KIND)?,
            traks,
            mvex,
            pssh,
            other,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = OtherWriter::new(&self.other, rank);
        w.before(R_MVHD, out)?;
        self.mvhd.encode(out)?;
        w.before(R_TRAK, out)?;
        for t in &self.traks {
            t.encode(out)?;
        }
        if let Some(m) = &self.mvex {
            w.before(R_MVEX, out)?;
            m.encode(out)?;
        }
        w.before(R_PSSH, out)?;
        for p in &self.pssh {
            p.encode(out)?;
        }
        w.finish(out)
    }
}
