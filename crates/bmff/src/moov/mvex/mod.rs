//! `mvex` (ISO/IEC 14496-12 §8.8.1): present when the movie has fragments;
//! holds the fragment duration and per-track defaults.

pub mod mehd;
pub mod trex;

use crate::atom::{Atom, set_once};
use crate::order::{LAST, OtherWriter, sort_other};
use crate::{FourCC, RawBox, Reader, Result};
use mehd::Mehd;
use trex::Trex;

/// Movie extends box.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mvex {
    pub mehd: Option<Mehd>,
    pub trex: Vec<Trex>,
    /// `leva`, `trep`, ... kept whole.
    pub other: Vec<RawBox>,
}

fn rank(_: FourCC) -> u8 {
    LAST
}

impl Atom for Mvex {
    const KIND: FourCC = FourCC::MVEX;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let mut mehd = None;
        let mut trex = Vec::new();
        let mut other = Vec::new();
        while let Some((h, body)) = r.next_box()? {
            match h.kind {
                Mehd::KIND => set_once(&mut mehd, Self::KIND, h.kind, Mehd::decode_child(r, body))?,
                Trex::KIND => trex.push(Trex::decode_child(r, body)?),
                _ => other.push(RawBox::from_parts(&h, body)),
            }
        }
        sort_other(&mut other, rank);
        Ok(Mvex { mehd, trex, other })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        if let Some(m) = &self.mehd {
            m.encode(out)?;
        }
        for t in &self.trex {
            t.encode(out)?;
        }
        OtherWriter::new(&self.other, rank).finish(out)
    }
}
