//! `trun` (ISO/IEC 14496-12 §8.8.8): the samples of a track fragment run.
//! Flags say which per-sample fields are present: 0x1 data-offset, 0x4
//! first-sample-flags, 0x100 duration, 0x200 size, 0x400 flags, 0x800
//! composition time offset (unsigned in version 0, signed in version 1;
//! stored as `i32` either way and written back bit for bit).

use crate::atom::Atom;
use crate::reader::{Put, count_u32};
use crate::{Error, FourCC, Reader, Result};

/// One sample of a run; `None` fields come from `tfhd`/`trex` defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrunSample {
    pub duration: Option<u32>,
    pub size: Option<u32>,
    pub flags: Option<u32>,
    pub composition_time_offset: Option<i32>,
}

/// Track fragment run. The per-sample presence flags are taken from the
/// first sample; every sample must have the same fields set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trun {
    /// 0, or 1 for signed composition offsets.
    pub version: u8,
    /// Offset of the first sample's data from the base data offset
    /// (the start of `moof` under default-base-is-moof).
    pub data_offset: Option<i32>,
    pub first_sample_flags: Option<u32>,
    pub samples: Vec<TrunSample>,
}

fn presence(s: &TrunSample) -> [bool; 4] {
    [
        s.duration.is_some(),
        s.size.is_some(),
        s.flags.is_some(),
        s.composition_time_offset.is_some(),
    ]
}

impl Atom for Trun {
    const KIND: FourCC = FourCC::TRUN;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (version, flags) = r.full_header()?;
        if version > 1 {
            return Err(Error::UnsupportedVersion {
                kind: Self::KIND,
                version,
            });
        }
        let count = r.u32()?;
        let data_offset = if flags & 0x1 != 0 {
            Some(r.i32()?)
        } else {
            None
        };
        let first_sample_flags = if flags & 0x4 != 0 {
            Some(r.u32()?)
        } else {
            None
        };
        let has = |bit: u32| flags & bit != 0;
        let record = 4 * [0x100, 0x200, 0x400, 0x800]
            .iter()
            .filter(|&&b| has(b))
            .count();
        if record == 0 {
            r.charge_synthetic(u64::from(count), "sample_count")?;
        }
        let mut samples = Vec::with_capacity(if record == 0 {
            count as usize
        } else {
            r.capacity_for(u64::from(count), record)
        });
        for _ in 0..count {
            samples.push(TrunSample {
                duration: if has(0x100) { Some(r.u32()?) } else { None },
                size: if has(0x200) { Some(r.u32()?) } else { None },
                flags: if has(0x400) { Some(r.u32()?) } else { None },
                composition_time_offset: if has(0x800) { Some(r.i32()?) } else { None },
            });
        }
        Ok(Trun {
            version,
            data_offset,
            first_sample_flags,
            samples,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        if self.version > 1 {
            return Err(Error::UnsupportedVersion {
                kind: Self::KIND,
                version: self.version,
            });
        }
        let present = self.samples.first().map(presence).unwrap_or_default();
        if self.samples.iter().any(|s| presence(s) != present) {
            return Err(Error::Invalid {
                kind: Self::KIND,
                field: "samples disagree on which fields are present",
            });
        }
        let mut flags = u32::from(self.data_offset.is_some())
            | (u32::from(self.first_sample_flags.is_some()) << 2);
        for (i, p) in present.iter().enumerate() {
            flags |= u32::from(*p) << (8 + i);
        }
        out.put_full(self.version, flags);
        out.put_u32(count_u32(Self::KIND, "sample_count", self.samples.len())?);
        if let Some(v) = self.data_offset {
            out.put_i32(v);
        }
        if let Some(v) = self.first_sample_flags {
            out.put_u32(v);
        }
        for s in &self.samples {
            for v in [s.duration, s.size, s.flags].into_iter().flatten() {
                out.put_u32(v);
            }
            if let Some(c) = s.composition_time_offset {
                out.put_i32(c);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    fn sample(d: u32, s: u32, c: i32) -> TrunSample {
        TrunSample {
            duration: Some(d),
            size: Some(s),
            flags: None,
            composition_time_offset: Some(c),
        }
    }

    #[test]
    fn trun_roundtrip() {
        let t = Trun {
            version: 1,
            data_offset: Some(1340),
            first_sample_flags: Some(0x0200_0000),
            samples: vec![sample(512, 3000, -512), sample(512, 200, 1024)],
        };
        let b = roundtrip(&t);
        assert_eq!(&b[8..12], &[1, 0, 0x0b, 0x05]);
        truncations_fail::<Trun>(&b);
        roundtrip(&Trun {
            version: 0,
            data_offset: None,
            first_sample_flags: None,
            samples: vec![],
        });
        let mixed = Trun {
            samples: vec![sample(1, 2, 3), TrunSample::default()],
            ..t
        };
        assert!(matches!(mixed.to_bytes(), Err(Error::Invalid { .. })));
    }

    #[test]
    fn absurd_sample_counts() {
        // 4e9 samples with a 4-byte record in a 16-byte body: Truncated.
        assert!(matches!(
            Trun::decode(b"\0\0\0\x14trun\0\0\x01\0\xee\x6b\x28\0\0\0\0\0"),
            Err(Error::Truncated { .. })
        ));
        // 4e9 samples with no per-sample fields: refused before allocating 128 GB.
        assert!(matches!(
            Trun::decode(b"\0\0\0\x10trun\0\0\0\0\xee\x6b\x28\0"),
            Err(Error::TooLarge { .. })
        ));
        // A legal count without fields decodes (all samples from tfhd defaults).
        let t = Trun::decode(b"\0\0\0\x10trun\0\0\0\0\0\0\0\x05").unwrap();
        assert_eq!(t.samples.len(), 5);
    }
}
