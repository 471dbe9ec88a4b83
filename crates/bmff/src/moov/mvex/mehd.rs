//! `mehd` (ISO/IEC 14496-12 §8.8.2): duration of a fragmented movie.

use crate::atom::{Atom, version_for};
use crate::reader::Put;
use crate::{Error, FourCC, Reader, Result};

/// Movie extends header. Version 0 is raised to 1 on write when the
/// duration needs 64 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mehd {
    pub version: u8,
    pub fragment_duration: u64,
}

impl Atom for Mehd {
    const KIND: FourCC = FourCC::MEHD;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (version, _) = r.full_header()?;
        let fragment_duration = match version {
            0 => u64::from(r.u32()?),
            1 => r.u64()?,
            v => {
                return Err(Error::UnsupportedVersion {
                    kind: Self::KIND,
                    version: v,
                });
            }
        };
        Ok(Mehd {
            version,
            fragment_duration,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        if self.version > 1 {
            return Err(Error::UnsupportedVersion {
                kind: Self::KIND,
                version: self.version,
            });
        }
        let version = version_for(self.version, &[self.fragment_duration]);
        out.put_full(version, 0);
        if version == 0 {
            out.put_u32(self.fragment_duration as u32);
        } else {
            out.put_u64(self.fragment_duration);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn mehd_roundtrip() {
        truncations_fail::<Mehd>(&roundtrip(&Mehd {
            version: 0,
            fragment_duration: 1234,
        }));
        truncations_fail::<Mehd>(&roundtrip(&Mehd {
            version: 1,
            fragment_duration: 1234,
        }));
        let big = Mehd {
            version: 0,
            fragment_duration: u64::from(u32::MAX) + 1,
        };
        assert_eq!(
            Mehd::decode(&big.to_bytes().unwrap()).unwrap(),
            Mehd { version: 1, ..big }
        );
    }
}
