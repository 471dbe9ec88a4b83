//! `sidx` (ISO/IEC 14496-12 §8.16.3): segment index: for each subsegment,
//! its size, duration and stream access point. Version 1 has 64-bit times
//! and offsets.

use crate::atom::{Atom, version_for};
use crate::reader::Put;
use crate::{Error, FourCC, Reader, Result};

/// One reference of a segment index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SidxReference {
    /// True when the reference points to another `sidx`.
    pub reference_type: bool,
    /// 31 bits.
    pub referenced_size: u32,
    pub subsegment_duration: u32,
    pub starts_with_sap: bool,
    /// 3 bits.
    pub sap_type: u8,
    /// 28 bits.
    pub sap_delta_time: u32,
}

/// Segment index box. On write, version 0 is raised to 1 when a time or
/// offset needs 64 bits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sidx {
    pub version: u8,
    pub reference_id: u32,
    pub timescale: u32,
    pub earliest_presentation_time: u64,
    pub first_offset: u64,
    pub references: Vec<SidxReference>,
}

impl Atom for Sidx {
    const KIND: FourCC = FourCC::SIDX;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (version, _) = r.full_header()?;
        let reference_id = r.u32()?;
        let timescale = r.u32()?;
        let (earliest_presentation_time, first_offset) = match version {
            0 => (u64::from(r.u32()?), u64::from(r.u32()?)),
            1 => (r.u64()?, r.u64()?),
            v => {
                return Err(Error::UnsupportedVersion {
                    kind: Self::KIND,
                    version: v,
                });
            }
        };
        r.skip(2)?;
        let count = r.u16()?;
        let mut references = Vec::with_capacity(r.capacity_for(u64::from(count), 12));
        for _ in 0..count {
            let a = r.u32()?;
            let subsegment_duration = r.u32()?;
            let c = r.u32()?;
            references.push(SidxReference {
                reference_type: a >> 31 != 0,
                referenced_size: a & 0x7fff_ffff,
                subsegment_duration,
                starts_with_sap: c >> 31 != 0,
                sap_type: ((c >> 28) & 7) as u8,
                sap_delta_time: c & 0x0fff_ffff,
            });
        }
        Ok(Sidx {
            version,
            reference_id,
            timescale,
            earliest_presentation_time,
            first_offset,
            references,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        if self.version > 1 {
            return Err(Error::UnsupportedVersion {
                kind: Self::KIND,
                version: self.version,
            });
        }
        let count = u16::try_from(self.references.len()).map_err(|_| Error::TooLarge {
            kind: Self::KIND,
            field: "reference_count",
        })?;
        let version = version_for(
            self.version,
            &[self.earliest_presentation_time, self.first_offset],
        );
        out.put_full(version, 0);
        out.put_u32(self.reference_id);
        out.put_u32(self.timescale);
        if version == 0 {
            out.put_u32(self.earliest_presentation_time as u32);
            out.put_u32(self.first_offset as u32);
        } else {
            out.put_u64(self.earliest_presentation_time);
            out.put_u64(self.first_offset);
        }
        out.put_u16(0);
        out.put_u16(count);
        for rf in &self.references {
            if rf.referenced_size > 0x7fff_ffff
                || rf.sap_type > 7
                || rf.sap_delta_time > 0x0fff_ffff
            {
                return Err(Error::TooLarge {
                    kind: Self::KIND,
                    field: "reference",
                });
            }
            out.put_u32((u32::from(rf.reference_type) << 31) | rf.referenced_size);
            out.put_u32(rf.subsegment_duration);
            out.put_u32(
                (u32::from(rf.starts_with_sap) << 31)
                    | (u32::from(rf.sap_type) << 28)
                    | rf.sap_delta_time,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn sidx_v0_v1() {
        let r = SidxReference {
            reference_type: false,
            referenced_size: 12345,
            subsegment_duration: 90000,
            starts_with_sap: true,
            sap_type: 1,
            sap_delta_time: 0,
        };
        let s = Sidx {
            version: 0,
            reference_id: 1,
            timescale: 90000,
            earliest_presentation_time: 0,
            first_offset: 0,
            references: vec![r, r],
        };
        let b = roundtrip(&s);
        assert_eq!(b.len(), 8 + 24 + 24);
        truncations_fail::<Sidx>(&b);
        let s1 = Sidx {
            version: 1,
            earliest_presentation_time: 1 << 33,
            ..s.clone()
        };
        truncations_fail::<Sidx>(&roundtrip(&s1));
        assert!(
            Sidx {
                references: vec![SidxReference {
                    referenced_size: 1 << 31,
                    ..r
                }],
                ..s
            }
            .to_bytes()
            .is_err()
        );
    }
}
