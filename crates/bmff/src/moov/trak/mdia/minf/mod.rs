//! `minf` (ISO/IEC 14496-12 §8.4.4): media header, data references and the
//! sample table of one track.

pub mod dinf;
pub mod stbl;
pub mod vmhd;

use crate::atom::{Atom, required, set_once};
use crate::order::{LAST, OtherWriter, sort_other};
use crate::{FourCC, RawBox, Reader, Result};
use dinf::Dinf;
use stbl::Stbl;
use vmhd::{Smhd, Vmhd};

/// Media information box.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Minf {
    pub vmhd: Option<Vmhd>,
    pub smhd: Option<Smhd>,
    pub dinf: Option<Dinf>,
    pub stbl: Stbl,
    /// `nmhd`, `sthd`, `hmhd`, ... and unknown boxes.
    pub other: Vec<RawBox>,
}

const R_VMHD: u8 = 10;
const R_SMHD: u8 = 12;
const R_DINF: u8 = 20;
const R_STBL: u8 = 30;

fn rank(k: FourCC) -> u8 {
    match &k.0 {
        b"nmhd" | b"sthd" | b"hmhd" | b"gmhd" => R_SMHD + 1,
        _ => LAST,
    }
}

impl Atom for Minf {
    const KIND: FourCC = FourCC::MINF;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (mut vmhd, mut smhd, mut dinf, mut stbl) = (None, None, None, None);
        let mut other = Vec::new();
        while let Some((h, body)) = r.next_box()? {
            match h.kind {
                Vmhd::KIND => set_once(&mut vmhd, Self::KIND, h.kind, Vmhd::decode_child(r, body))?,
                Smhd::KIND => set_once(&mut smhd, Self::KIND, h.kind, Smhd::decode_child(r, body))?,
                Dinf::KIND => set_once(&mut dinf, Self::KIND, h.kind, Dinf::decode_child(r, body))?,
                Stbl::KIND => set_once(&mut stbl, Self::KIND, h.kind, Stbl::decode_child(r, body))?,
                _ => other.push(RawBox::from_parts(&h, body)),
            }
        }
        sort_other(&mut other, rank);
        Ok(Minf {
            vmhd,
            smhd,
            dinf,
            stbl: required(stbl, Self::KIND, Stbl::KIND)?,
            other,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = OtherWriter::new(&self.other, rank);
        if let Some(b) = &self.vmhd {
            w.before(R_VMHD, out)?;
            b.encode(out)?;
        }
        if let Some(b) = &self.smhd {
            w.before(R_SMHD, out)?;
            b.encode(out)?;
        }
        if let Some(b) = &self.dinf {
            w.before(R_DINF, out)?;
            b.encode(out)?;
        }
        w.before(R_STBL, out)?;
        self.stbl.encode(out)?;
        w.finish(out)
    }
}
