//! `ctts` (ISO/IEC 14496-12 §8.6.1.3): composition offsets (CTS - DTS),
//! run-length coded. Version 0 offsets are unsigned on paper, but writers put
//! negative values there too, so both versions are stored as `i32` and
//! written back bit for bit.

use crate::atom::Atom;
use crate::reader::{Put, count_u32};
use crate::{Error, FourCC, Reader, Result};

/// Composition time to sample box.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ctts {
    pub version: u8,
    /// (sample_count, sample_offset) runs.
    pub entries: Vec<(u32, i32)>,
}

impl Atom for Ctts {
    const KIND: FourCC = FourCC::CTTS;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (version, _) = r.full_header()?;
        if version > 1 {
            return Err(Error::UnsupportedVersion {
                kind: Self::KIND,
                version,
            });
        }
        let count = r.u32()?;
        let mut entries = Vec::with_capacity(r.capacity_for(u64::from(count), 8));
        for _ in 0..count {
            entries.push((r.u32()?, r.i32()?));
        }
        Ok(Ctts { version, entries })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        if self.version > 1 {
            return Err(Error::UnsupportedVersion {
                kind: Self::KIND,
                version: self.version,
            });
        }
        out.put_full(self.version, 0);
        out.put_u32(count_u32(Self::KIND, "entry_count", self.entries.len())?);
        for (c, o) in &self.entries {
            out.put_u32(*c);
            out.put_i32(*o);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn ctts_roundtrip() {
        let b = roundtrip(&Ctts {
            version: 0,
            entries: vec![(1, 1024), (1, 2560), (2, 0)],
        });
        truncations_fail::<Ctts>(&b);
        roundtrip(&Ctts {
            version: 1,
            entries: vec![(1, -512)],
        });
    }
}
