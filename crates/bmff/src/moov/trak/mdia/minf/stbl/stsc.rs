//! `stsc` (ISO/IEC 14496-12 §8.7.4): samples per chunk, as runs starting at
//! `first_chunk` (1-based) that last until the next entry's first chunk.

use crate::atom::Atom;
use crate::reader::{Put, count_u32};
use crate::{FourCC, Reader, Result};

/// One run of chunks with the same layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StscEntry {
    pub first_chunk: u32,
    pub samples_per_chunk: u32,
    pub sample_description_index: u32,
}

/// Sample to chunk box.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stsc {
    pub entries: Vec<StscEntry>,
}

impl Atom for Stsc {
    const KIND: FourCC = FourCC::STSC;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        r.full_header()?;
        let count = r.u32()?;
        let mut entries = Vec::with_capacity(r.capacity_for(u64::from(count), 12));
        for _ in 0..count {
            entries.push(StscEntry {
                first_chunk: r.u32()?,
                samples_per_chunk: r.u32()?,
                sample_description_index: r.u32()?,
            });
        }
        Ok(Stsc { entries })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        out.put_full(0, 0);
        out.put_u32(count_u32(Self::KIND, "entry_count", self.entries.len())?);
        for e in &self.entries {
            out.put_u32(e.first_chunk);
            out.put_u32(e.samples_per_chunk);
            out.put_u32(e.sample_description_index);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn stsc_roundtrip() {
        let e = |f, s| StscEntry {
            first_chunk: f,
            samples_per_chunk: s,
            sample_description_index: 1,
        };
        let b = roundtrip(&Stsc {
            entries: vec![e(1, 2), e(3, 1)],
        });
        truncations_fail::<Stsc>(&b);
    }
}
