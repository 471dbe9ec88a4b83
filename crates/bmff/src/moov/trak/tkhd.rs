//! `tkhd` (ISO/IEC 14496-12 §8.3.2): track ID, duration, presentation size.
//! Flags: 1 enabled, 2 in movie, 4 in preview.

use crate::atom::{Atom, version_for};
use crate::moov::mvhd::{UNITY_MATRIX, read_matrix, write_matrix, write_times};
use crate::reader::Put;
use crate::{Error, FourCC, Reader, Result};

/// Track header. Version 0 is raised to 1 on write when a value needs 64 bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tkhd {
    pub version: u8,
    pub flags: u32,
    pub creation_time: u64,
    pub modification_time: u64,
    pub track_id: u32,
    pub duration: u64,
    pub layer: i16,
    pub alternate_group: i16,
    /// 8.8 fixed point; 0x0100 for audio, 0 otherwise.
    pub volume: u16,
    pub matrix: [i32; 9],
    /// 16.16 fixed point.
    pub width: u32,
    /// 16.16 fixed point.
    pub height: u32,
}

impl Default for Tkhd {
    fn default() -> Self {
        Tkhd {
            version: 0,
            flags: 3,
            creation_time: 0,
            modification_time: 0,
            track_id: 1,
            duration: 0,
            layer: 0,
            alternate_group: 0,
            volume: 0,
            matrix: UNITY_MATRIX,
            width: 0,
            height: 0,
        }
    }
}

impl Atom for Tkhd {
    const KIND: FourCC = FourCC::TKHD;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (version, flags) = r.full_header()?;
        let (creation_time, modification_time, track_id, _) = match version {
            0 => (u64::from(r.u32()?), u64::from(r.u32()?), r.u32()?, 0),
            1 => (r.u64()?, r.u64()?, r.u32()?, 0),
            v => {
                return Err(Error::UnsupportedVersion {
                    kind: Self::KIND,
                    version: v,
                });
            }
        };
        r.skip(4)?;
        let duration = if version == 0 {
            u64::from(r.u32()?)
        } else {
            r.u64()?
        };
        r.skip(8)?;
        let layer = r.i16()?;
        let alternate_group = r.i16()?;
        let volume = r.u16()?;
        r.skip(2)?;
        let matrix = read_matrix(r)?;
        let width = r.u32()?;
        let height = r.u32()?;
        Ok(Tkhd {
            version,
            flags,
            creation_time,
            modification_time,
            track_id,
            duration,
            layer,
            alternate_group,
            volume,
            matrix,
            width,
            height,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        if self.version > 1 {
            return Err(Error::UnsupportedVersion {
                kind: Self::KIND,
                version: self.version,
            });
        }
        let version = version_for(
            self.version,
            &[self.creation_time, self.modification_time, self.duration],
        );
        out.put_full(version, self.flags);
        // Same layout as mvhd's times, with a reserved u32 before the duration.
        let mut times = Vec::with_capacity(32);
        write_times(
            &mut times,
            version,
            self.creation_time,
            self.modification_time,
            self.track_id,
            self.duration,
        );
        let split = if version == 0 { 12 } else { 20 };
        out.extend_from_slice(times.get(..split).unwrap_or_default());
        out.put_u32(0);
        out.extend_from_slice(times.get(split..).unwrap_or_default());
        out.extend_from_slice(&[0; 8]);
        out.put_i16(self.layer);
        out.put_i16(self.alternate_group);
        out.put_u16(self.volume);
        out.put_u16(0);
        write_matrix(out, &self.matrix);
        out.put_u32(self.width);
        out.put_u32(self.height);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn tkhd_v0_v1() {
        let t = Tkhd {
            track_id: 2,
            duration: 2000,
            width: 320 << 16,
            height: 180 << 16,
            ..Default::default()
        };
        let b = roundtrip(&t);
        assert_eq!(b.len(), 92);
        truncations_fail::<Tkhd>(&b);
        let t1 = Tkhd {
            version: 1,
            creation_time: 1 << 40,
            ..t
        };
        assert_eq!(roundtrip(&t1).len(), 104);
    }
}
