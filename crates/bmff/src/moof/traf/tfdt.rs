//! `tfdt` (ISO/IEC 14496-12 §8.8.12): decode time of the first sample of
//! the track fragment.

use crate::atom::{Atom, version_for};
use crate::reader::Put;
use crate::{Error, FourCC, Reader, Result};

/// Track fragment decode time. On write, version 0 is raised to 1 when the
/// time exceeds `u32::MAX` (so a value is never truncated); a requested
/// version 1 is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tfdt {
    pub version: u8,
    pub base_media_decode_time: u64,
}

impl Atom for Tfdt {
    const KIND: FourCC = FourCC::TFDT;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (version, _) = r.full_header()?;
        let base_media_decode_time = match version {
            0 => u64::from(r.u32()?),
            1 => r.u64()?,
            v => {
                return Err(Error::UnsupportedVersion {
                    kind: Self::KIND,
                    version: v,
                });
            }
        };
        Ok(Tfdt {
            version,
            base_media_decode_time,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        if self.version > 1 {
            return Err(Error::UnsupportedVersion {
                kind: Self::KIND,
                version: self.version,
            });
        }
        let version = version_for(self.version, &[self.base_media_decode_time]);
        out.put_full(version, 0);
        if version == 0 {
            out.put_u32(self.base_media_decode_time as u32);
        } else {
            out.put_u64(self.base_media_decode_time);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn test_tfdt32() {
        let b = roundtrip(&Tfdt {
            version: 0,
            base_media_decode_time: u64::from(u32::MAX),
        });
        assert_eq!(b.len(), 16);
        truncations_fail::<Tfdt>(&b);
    }

    #[test]
    fn test_tfdt64() {
        let t = Tfdt {
            version: 1,
            base_media_decode_time: u64::from(u32::MAX) + 1,
        };
        let b = roundtrip(&t);
        assert_eq!(b.len(), 20);
        truncations_fail::<Tfdt>(&b);
        // Just over u32::MAX with version 0 asked: written as version 1, not truncated.
        let auto = Tfdt { version: 0, ..t };
        assert_eq!(Tfdt::decode(&auto.to_bytes().unwrap()).unwrap(), t);
    }
}
