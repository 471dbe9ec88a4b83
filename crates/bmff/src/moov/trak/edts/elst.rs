//! `elst` (ISO/IEC 14496-12 §8.6.6): maps the media timeline onto the
//! presentation (e.g. skipping B-frame delay or AAC priming). Version 1 has
//! 64-bit durations and times.

use crate::atom::Atom;
use crate::reader::{Put, count_u32};
use crate::{Error, FourCC, Reader, Result};

/// One edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ElstEntry {
    /// In movie timescale units.
    pub segment_duration: u64,
    /// In media timescale units; -1 for an empty edit.
    pub media_time: i64,
    pub media_rate_integer: i16,
    pub media_rate_fraction: i16,
}

/// Edit list. On write, version 0 is raised to 1 if a value needs 64 bits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Elst {
    pub version: u8,
    pub entries: Vec<ElstEntry>,
}

impl Atom for Elst {
    const KIND: FourCC = FourCC::ELST;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (version, _) = r.full_header()?;
        if version > 1 {
            return Err(Error::UnsupportedVersion {
                kind: Self::KIND,
                version,
            });
        }
        let count = r.u32()?;
        let mut entries = Vec::with_capacity(
            r.capacity_for(u64::from(count), if version == 0 { 12 } else { 20 }),
        );
        for _ in 0..count {
            let (segment_duration, media_time) = if version == 0 {
                (u64::from(r.u32()?), i64::from(r.i32()?))
            } else {
                (r.u64()?, r.i64()?)
            };
            entries.push(ElstEntry {
                segment_duration,
                media_time,
                media_rate_integer: r.i16()?,
                media_rate_fraction: r.i16()?,
            });
        }
        Ok(Elst { version, entries })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        if self.version > 1 {
            return Err(Error::UnsupportedVersion {
                kind: Self::KIND,
                version: self.version,
            });
        }
        let wide = self.version == 1
            || self.entries.iter().any(|e| {
                e.segment_duration > u64::from(u32::MAX) || i32::try_from(e.media_time).is_err()
            });
        out.put_full(u8::from(wide), 0);
        out.put_u32(count_u32(Self::KIND, "entry_count", self.entries.len())?);
        for e in &self.entries {
            if wide {
                out.put_u64(e.segment_duration);
                out.put_i64(e.media_time);
            } else {
                out.put_u32(e.segment_duration as u32);
                out.put_i32(e.media_time as i32);
            }
            out.put_i16(e.media_rate_integer);
            out.put_i16(e.media_rate_fraction);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn elst_roundtrip() {
        let e = Elst {
            version: 0,
            entries: vec![
                ElstEntry {
                    segment_duration: 0,
                    media_time: -1,
                    media_rate_integer: 1,
                    media_rate_fraction: 0,
                },
                ElstEntry {
                    segment_duration: 2000,
                    media_time: 1024,
                    media_rate_integer: 1,
                    media_rate_fraction: 0,
                },
            ],
        };
        let b = roundtrip(&e);
        truncations_fail::<Elst>(&b);
        roundtrip(&Elst {
            version: 1,
            ..e.clone()
        });
        let mut big = e.clone();
        big.entries[1].media_time = i64::from(i32::MAX) + 1;
        assert_eq!(Elst::decode(&big.to_bytes().unwrap()).unwrap().version, 1);
    }

    #[test]
    fn absurd_count() {
        // entry_count = 0xffffffff with no entries: an error, no huge allocation.
        let buf = b"\0\0\0\x10elst\0\0\0\0\xff\xff\xff\xff";
        assert!(matches!(Elst::decode(buf), Err(Error::Truncated { .. })));
    }
}
