//! `edts` (ISO/IEC 14496-12 §8.6.5): container for the edit list.

pub mod elst;

use crate::atom::{Atom, set_once};
use crate::order::{LAST, OtherWriter, sort_other};
use crate::{FourCC, RawBox, Reader, Result};
use elst::Elst;

/// Edit box.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Edts {
    pub elst: Option<Elst>,
    pub other: Vec<RawBox>,
}

fn rank(_: FourCC) -> u8 {
    LAST
}

impl Atom for Edts {
    const KIND: FourCC = FourCC::EDTS;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let mut elst = None;
        let mut other = Vec::new();
        while let Some((h, body)) = r.next_box()? {
            match h.kind {
                Elst::KIND => set_once(&mut elst, Self::KIND, h.kind, Elst::decode_child(r, body))?,
                _ => other.push(RawBox::from_parts(&h, body)),
            }
        }
        sort_other(&mut other, rank);
        Ok(Edts { elst, other })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        if let Some(e) = &self.elst {
            e.encode(out)?;
        }
        OtherWriter::new(&self.other, rank).finish(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::atom::testutil::*;

    #[test]
    fn edts_roundtrip_and_duplicates() {
        let e = Edts {
            elst: Some(Elst::default()),
            other: vec![],
        };
        let b = roundtrip(&e);
        let mut dup = b.clone();
        dup.extend_from_slice(&b[8..]);
        dup[3] = dup.len() as u8;
        assert_eq!(
            Edts::decode(&dup),
            Err(Error::DuplicateBox {
                parent: FourCC::EDTS,
                child: FourCC::ELST
            })
        );
    }
}
