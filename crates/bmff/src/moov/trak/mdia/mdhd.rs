//! `mdhd` (ISO/IEC 14496-12 §8.4.2): the media timescale (the unit of every
//! sample time in the track), duration and ISO-639-2/T language packed as
//! three 5-bit letters (each letter minus 0x60).

use crate::atom::{Atom, version_for};
use crate::moov::mvhd::{read_times, write_times};
use crate::reader::Put;
use crate::{Error, FourCC, Reader, Result};

/// Media header. Version 0 is raised to 1 on write when a value needs 64 bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mdhd {
    pub version: u8,
    pub creation_time: u64,
    pub modification_time: u64,
    pub timescale: u32,
    pub duration: u64,
    /// Three lower-case letters, e.g. `*b"und"`.
    pub language: [u8; 3],
}

impl Default for Mdhd {
    fn default() -> Self {
        Mdhd {
            version: 0,
            creation_time: 0,
            modification_time: 0,
            timescale: 1000,
            duration: 0,
            language: *b"und",
        }
    }
}

impl Atom for Mdhd {
    const KIND: FourCC = FourCC::MDHD;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (version, _) = r.full_header()?;
        let (creation_time, modification_time, timescale, duration) = read_times(r, version)?;
        let packed = r.u16()?;
        r.skip(2)?;
        let letter = |shift: u16| ((packed >> shift) & 0x1f) as u8 + 0x60;
        let language = [letter(10), letter(5), letter(0)];
        Ok(Mdhd {
            version,
            creation_time,
            modification_time,
            timescale,
            duration,
            language,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        if self.version > 1 {
            return Err(Error::UnsupportedVersion {
                kind: Self::KIND,
                version: self.version,
            });
        }
        let mut packed: u16 = 0;
        for l in self.language {
            if !(0x60..=0x7f).contains(&l) {
                return Err(Error::Invalid {
                    kind: Self::KIND,
                    field: "language",
                });
            }
            packed = (packed << 5) | u16::from(l - 0x60);
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
        out.put_u16(packed);
        out.put_u16(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn mdhd_roundtrip() {
        let m = Mdhd {
            timescale: 12800,
            duration: 25600,
            language: *b"eng",
            ..Default::default()
        };
        let b = roundtrip(&m);
        assert_eq!(&b[28..30], &[0x15, 0xc7]); // "eng" as in §8.4.2.3
        truncations_fail::<Mdhd>(&b);
        roundtrip(&Mdhd {
            version: 1,
            duration: u64::from(u32::MAX) + 1,
            ..m.clone()
        });
        assert!(
            Mdhd {
                language: *b"EN\0",
                ..m
            }
            .to_bytes()
            .is_err()
        );
    }
}
