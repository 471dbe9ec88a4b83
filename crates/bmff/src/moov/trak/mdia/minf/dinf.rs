//! `dinf` / `dref` (ISO/IEC 14496-12 §8.7.1, §8.7.2): where the media data
//! is. Fragmented and self-contained files have one `url ` entry with flags =
//! 1 ("in this file"); entries are kept as opaque boxes.

use crate::atom::{Atom, required, set_once};
use crate::order::{LAST, OtherWriter, sort_other};
use crate::reader::{Put, count_u32};
use crate::{FourCC, RawBox, Reader, Result};

/// Data reference box.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dref {
    /// `url ` / `urn ` entries (full boxes, kept whole).
    pub entries: Vec<RawBox>,
}

impl Atom for Dref {
    const KIND: FourCC = FourCC::DREF;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        r.full_header()?;
        let count = r.u32()?;
        let mut entries = Vec::with_capacity(r.capacity_for(u64::from(count), 8));
        for _ in 0..count {
            match r.next_box()? {
                Some((h, body)) => entries.push(RawBox::from_parts(&h, body)),
                None => {
                    return Err(crate::Error::Truncated {
                        kind: Self::KIND,
                        need: 8,
                        have: 0,
                    });
                }
            }
        }
        Ok(Dref { entries })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        out.put_full(0, 0);
        out.put_u32(count_u32(Self::KIND, "entry_count", self.entries.len())?);
        for e in &self.entries {
            e.encode(out)?;
        }
        Ok(())
    }
}

/// Data information box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dinf {
    pub dref: Dref,
    pub other: Vec<RawBox>,
}

impl Dinf {
    /// The usual `dinf`: one `url ` entry, flags = 1 (media in this file).
    pub fn self_contained() -> Dinf {
        let url = RawBox {
            kind: FourCC(*b"url "),
            usertype: None,
            body: vec![0, 0, 0, 1],
        };
        Dinf {
            dref: Dref { entries: vec![url] },
            other: Vec::new(),
        }
    }
}

impl Default for Dinf {
    fn default() -> Self {
        Dinf::self_contained()
    }
}

fn rank(_: FourCC) -> u8 {
    LAST
}

impl Atom for Dinf {
    const KIND: FourCC = FourCC::DINF;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let mut dref = None;
        let mut other = Vec::new();
        while let Some((h, body)) = r.next_box()? {
            match h.kind {
                Dref::KIND => set_once(&mut dref, Self::KIND, h.kind, Dref::decode_child(r, body))?,
                _ => other.push(RawBox::from_parts(&h, body)),
            }
        }
        sort_other(&mut other, rank);
        Ok(Dinf {
            dref: required(dref, Self::KIND, Dref::KIND)?,
            other,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        self.dref.encode(out)?;
        OtherWriter::new(&self.other, rank).finish(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::atom::testutil::*;

    #[test]
    fn dinf_roundtrip() {
        let b = roundtrip(&Dinf::self_contained());
        assert_eq!(
            b,
            b"\0\0\0\x24dinf\0\0\0\x1cdref\0\0\0\0\0\0\0\x01\0\0\0\x0curl \0\0\0\x01"
        );
        truncations_fail::<Dref>(&b[8..]);
        assert_eq!(
            Dinf::decode(b"\0\0\0\x08dinf"),
            Err(Error::MissingBox {
                parent: FourCC::DINF,
                child: FourCC::DREF
            })
        );
    }
}
