//! `mvhd` (ISO/IEC 14496-12 §8.2.2): movie-wide timescale, duration and the
//! next free track ID. Version 1 carries 64-bit times.

use crate::atom::{Atom, version_for};
use crate::reader::Put;
use crate::{Error, FourCC, Reader, Result};

/// The unity matrix of §8.2.2.3 (16.16 except `u`, `v`, `w` in 2.30).
pub const UNITY_MATRIX: [i32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// Movie header. On write, version 0 is raised to 1 if a time or the
/// duration does not fit in 32 bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mvhd {
    pub version: u8,
    pub creation_time: u64,
    pub modification_time: u64,
    pub timescale: u32,
    pub duration: u64,
    /// 16.16 fixed point, 0x00010000 = normal rate.
    pub rate: u32,
    /// 8.8 fixed point, 0x0100 = full volume.
    pub volume: u16,
    pub matrix: [i32; 9],
    pub next_track_id: u32,
}

impl Default for Mvhd {
    fn default() -> Self {
        Mvhd {
            version: 0,
            creation_time: 0,
            modification_time: 0,
            timescale: 1000,
            duration: 0,
            rate: 0x0001_0000,
            volume: 0x0100,
            matrix: UNITY_MATRIX,
            next_track_id: 1,
        }
    }
}

/// Reads `creation_time, modification_time, <u32 between>, duration` in
/// the version 0 (32-bit) or version 1 (64-bit) layout shared by `mvhd`,
/// `tkhd` and `mdhd`.
pub(crate) fn read_times(r: &mut Reader<'_>, version: u8) -> Result<(u64, u64, u32, u64)> {
    match version {
        0 => Ok((
            u64::from(r.u32()?),
            u64::from(r.u32()?),
            r.u32()?,
            u64::from(r.u32()?),
        )),
        1 => Ok((r.u64()?, r.u64()?, r.u32()?, r.u64()?)),
        v => Err(Error::UnsupportedVersion {
            kind: r.kind(),
            version: v,
        }),
    }
}

/// Write side of [`read_times`]; `version` must come from `version_for`.
pub(crate) fn write_times(out: &mut Vec<u8>, version: u8, c: u64, m: u64, mid: u32, d: u64) {
    if version == 0 {
        out.put_u32(c as u32);
        out.put_u32(m as u32);
        out.put_u32(mid);
        out.put_u32(d as u32);
    } else {
        out.put_u64(c);
        out.put_u64(m);
        out.put_u32(mid);
        out.put_u64(d);
    }
}

pub(crate) fn read_matrix(r: &mut Reader<'_>) -> Result<[i32; 9]> {
    let mut m = [0i32; 9];
    for v in &mut m {
        *v = r.i32()?;
    }
    Ok(m)
}

pub(crate) fn write_matrix(out: &mut Vec<u8>, m: &[i32; 9]) {
    for v in m {
        out.put_i32(*v);
    }
}

impl Atom for Mvhd {
    const KIND: FourCC = FourCC::MVHD;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (version, _) = r.full_header()?;
        let (creation_time, modification_time, timescale, duration) = read_times(r, version)?;
        let rate = r.u32()?;
        let volume = r.u16()?;
        r.skip(2 + 8)?;
        let matrix = read_matrix(r)?;
        r.skip(24)?;
        let next_track_id = r.u32()?;
        Ok(Mvhd {
            version,
            creation_time,
            modification_time,
            timescale,
            duration,
            rate,
            volume,
            matrix,
            next_track_id,
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
        out.put_full(version, 0);
        write_times(
            out,
            version,
            self.creation_time,
            self.modification_time,
            self.timescale,
            self.duration,
        );
        out.put_u32(self.rate);
        out.put_u16(self.volume);
        out.extend_from_slice(&[0; 10]);
        write_matrix(out, &self.matrix);
        out.extend_from_slice(&[0; 24]);
        out.put_u32(self.next_track_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn mvhd_v0_v1() {
        let m = Mvhd {
            timescale: 1000,
            duration: 2000,
            next_track_id: 3,
            ..Default::default()
        };
        let b = roundtrip(&m);
        assert_eq!(b.len(), 108);
        truncations_fail::<Mvhd>(&b);
        let m1 = Mvhd {
            version: 1,
            duration: u64::from(u32::MAX) + 1,
            ..m.clone()
        };
        assert_eq!(roundtrip(&m1).len(), 120);
        // Version 0 asked, but the duration needs 64 bits: written as version 1.
        let auto = Mvhd {
            version: 0,
            ..m1.clone()
        };
        assert_eq!(Mvhd::decode(&auto.to_bytes().unwrap()).unwrap(), m1);
        let mut bad = b.clone();
        bad[8] = 2;
        assert!(matches!(
            Mvhd::decode(&bad),
            Err(Error::UnsupportedVersion { version: 2, .. })
        ));
    }
}
