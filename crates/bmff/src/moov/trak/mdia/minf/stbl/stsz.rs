//! `stsz` and `stz2` (ISO/IEC 14496-12 §8.7.3): sample sizes, either one
//! size for all or a table. `stz2` packs the table in 4, 8 or 16-bit fields
//! (4-bit: two per byte, high nibble first, padded to a whole byte).

use crate::atom::Atom;
use crate::reader::{Put, count_u32};
use crate::{Error, FourCC, Reader, Result};

/// Sample size box.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stsz {
    /// Size of every sample, or 0 when `sizes` lists them.
    pub sample_size: u32,
    pub sample_count: u32,
    /// Per-sample sizes (empty unless `sample_size == 0`).
    pub sizes: Vec<u32>,
}

impl Atom for Stsz {
    const KIND: FourCC = FourCC::STSZ;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        r.full_header()?;
        let sample_size = r.u32()?;
        let sample_count = r.u32()?;
        let mut sizes = Vec::new();
        if sample_size == 0 {
            sizes.reserve_exact(r.capacity_for(u64::from(sample_count), 4));
            for _ in 0..sample_count {
                sizes.push(r.u32()?);
            }
        }
        Ok(Stsz {
            sample_size,
            sample_count,
            sizes,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        out.put_full(0, 0);
        out.put_u32(self.sample_size);
        if self.sample_size == 0 {
            if self.sizes.len() as u64 != u64::from(self.sample_count) {
                return Err(Error::Mismatch {
                    kind: Self::KIND,
                    field: "sample_count",
                    expected: self.sizes.len() as u64,
                    found: u64::from(self.sample_count),
                });
            }
            out.put_u32(count_u32(Self::KIND, "sample_count", self.sizes.len())?);
            for s in &self.sizes {
                out.put_u32(*s);
            }
        } else {
            if !self.sizes.is_empty() {
                return Err(Error::Invalid {
                    kind: Self::KIND,
                    field: "sizes (sample_size is set)",
                });
            }
            out.put_u32(self.sample_count);
        }
        Ok(())
    }
}

/// Compact sample size box.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stz2 {
    /// 4, 8 or 16.
    pub field_size: u8,
    pub sizes: Vec<u16>,
}

impl Atom for Stz2 {
    const KIND: FourCC = FourCC::STZ2;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        r.full_header()?;
        r.skip(3)?;
        let field_size = r.u8()?;
        let count = u64::from(r.u32()?);
        let mut sizes = Vec::new();
        match field_size {
            4 => {
                sizes.reserve_exact(r.capacity_for(count, 1).saturating_mul(2));
                let bytes = r.take_u64(count.div_ceil(2))?;
                for (i, b) in bytes.iter().enumerate() {
                    sizes.push(u16::from(b >> 4));
                    if (i as u64) * 2 + 1 < count {
                        sizes.push(u16::from(b & 0x0f));
                    }
                }
            }
            8 => sizes.extend(r.take_u64(count)?.iter().map(|&b| u16::from(b))),
            16 => {
                sizes.reserve_exact(r.capacity_for(count, 2));
                for _ in 0..count {
                    sizes.push(r.u16()?);
                }
            }
            _ => {
                return Err(Error::Invalid {
                    kind: Self::KIND,
                    field: "field_size",
                });
            }
        }
        Ok(Stz2 { field_size, sizes })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        let limit = match self.field_size {
            4 => 0x0f,
            8 => 0xff,
            16 => 0xffff,
            _ => {
                return Err(Error::Invalid {
                    kind: Self::KIND,
                    field: "field_size",
                });
            }
        };
        if self.sizes.iter().any(|&s| s > limit) {
            return Err(Error::TooLarge {
                kind: Self::KIND,
                field: "entry_size",
            });
        }
        out.put_full(0, 0);
        out.put_u24(0);
        out.put_u8(self.field_size);
        out.put_u32(count_u32(Self::KIND, "sample_count", self.sizes.len())?);
        match self.field_size {
            4 => {
                for pair in self.sizes.chunks(2) {
                    let hi = pair.first().copied().unwrap_or(0) as u8;
                    let lo = pair.get(1).copied().unwrap_or(0) as u8;
                    out.put_u8((hi << 4) | lo);
                }
            }
            8 => out.extend(self.sizes.iter().map(|&s| s as u8)),
            _ => {
                for s in &self.sizes {
                    out.put_u16(*s);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn stsz_roundtrip() {
        let b = roundtrip(&Stsz {
            sample_size: 0,
            sample_count: 3,
            sizes: vec![100, 200, 300],
        });
        truncations_fail::<Stsz>(&b);
        roundtrip(&Stsz {
            sample_size: 6,
            sample_count: 1000,
            sizes: vec![],
        });
        assert!(
            Stsz {
                sample_size: 0,
                sample_count: 2,
                sizes: vec![1]
            }
            .to_bytes()
            .is_err()
        );
    }

    #[test]
    fn stsz_absurd_count() {
        // 20-byte box claiming 4e9 sizes: an error, and no 16 GB reservation.
        let buf = b"\0\0\0\x14stsz\0\0\0\0\0\0\0\0\xee\x6b\x28\0";
        assert!(matches!(Stsz::decode(buf), Err(Error::Truncated { .. })));
    }

    #[test]
    fn stz2_roundtrip() {
        for (field_size, sizes) in [
            (4u8, vec![1u16, 15, 7]),
            (4, vec![2, 3]),
            (8, vec![255, 0]),
            (16, vec![65535, 1]),
        ] {
            let b = roundtrip(&Stz2 { field_size, sizes });
            truncations_fail::<Stz2>(&b);
        }
        assert!(
            Stz2 {
                field_size: 4,
                sizes: vec![16]
            }
            .to_bytes()
            .is_err()
        );
        assert!(
            Stz2 {
                field_size: 5,
                sizes: vec![]
            }
            .to_bytes()
            .is_err()
        );
        assert!(Stz2::decode(b"\0\0\0\x14stz2\0\0\0\0\0\0\0\x04\xff\xff\xff\xff").is_err());
    }
}
