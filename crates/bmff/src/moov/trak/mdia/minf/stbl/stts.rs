//! `stts` (ISO/IEC 14496-12 §8.6.1.2): decoding time deltas, run-length
//! coded as (sample_count, sample_delta).

use crate::atom::Atom;
use crate::reader::{Put, count_u32};
use crate::{FourCC, Reader, Result};

/// Decoding time to sample box.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stts {
    /// (sample_count, sample_delta) runs.
    pub entries: Vec<(u32, u32)>,
}

impl Atom for Stts {
    const KIND: FourCC = FourCC::STTS;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        r.full_header()?;
        let count = r.u32()?;
        let mut entries = Vec::with_capacity(r.capacity_for(u64::from(count), 8));
        for _ in 0..count {
            entries.push((r.u32()?, r.u32()?));
        }
        Ok(Stts { entries })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        out.put_full(0, 0);
        out.put_u32(count_u32(Self::KIND, "entry_count", self.entries.len())?);
        for (c, d) in &self.entries {
            out.put_u32(*c);
            out.put_u32(*d);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn stts_roundtrip() {
        let b = roundtrip(&Stts {
            entries: vec![(50, 512), (1, 256)],
        });
        truncations_fail::<Stts>(&b);
        roundtrip(&Stts::default());
        assert!(Stts::decode(b"\0\0\0\x10stts\0\0\0\0\xff\xff\xff\xff").is_err());
    }
}
