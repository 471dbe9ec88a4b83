//! `avcC`, the AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1):
//! NAL unit length size and the SPS/PPS. Bytes after the PPS list (the
//! High-profile chroma/bit-depth extension and its SPS-ext list) are kept
//! as `ext` so the record round-trips whatever the profile.

use crate::atom::Atom;
use crate::reader::Put;
use crate::{Error, FourCC, Reader, Result};

/// AVC decoder configuration record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AvcC {
    pub configuration_version: u8,
    pub profile_indication: u8,
    pub profile_compatibility: u8,
    pub level_indication: u8,
    /// NAL length field size minus one (0, 1 or 3).
    pub length_size_minus_one: u8,
    pub sps: Vec<Vec<u8>>,
    pub pps: Vec<Vec<u8>>,
    /// Trailing bytes after the PPS list, kept verbatim.
    pub ext: Vec<u8>,
}

impl AvcC {
    /// Size in bytes of the length prefix of each NAL unit in a sample.
    pub fn nal_length_size(&self) -> u8 {
        (self.length_size_minus_one & 3) + 1
    }
}

pub(crate) fn read_nalus(r: &mut Reader<'_>, count: usize, out: &mut Vec<Vec<u8>>) -> Result<()> {
    out.reserve(r.capacity_for(count as u64, 2));
    for _ in 0..count {
        let len = r.u16()?;
        out.push(r.take(usize::from(len))?.to_vec());
    }
    Ok(())
}

pub(crate) fn write_nalu(out: &mut Vec<u8>, kind: FourCC, nalu: &[u8]) -> Result<()> {
    let len = u16::try_from(nalu.len()).map_err(|_| Error::TooLarge {
        kind,
        field: "NAL unit length",
    })?;
    out.put_u16(len);
    out.extend_from_slice(nalu);
    Ok(())
}

impl Atom for AvcC {
    const KIND: FourCC = FourCC::AVCC;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let configuration_version = r.u8()?;
        let profile_indication = r.u8()?;
        let profile_compatibility = r.u8()?;
        let level_indication = r.u8()?;
        let length_size_minus_one = r.u8()? & 0x03;
        let num_sps = usize::from(r.u8()? & 0x1f);
        let mut sps = Vec::new();
        read_nalus(r, num_sps, &mut sps)?;
        let num_pps = usize::from(r.u8()?);
        let mut pps = Vec::new();
        read_nalus(r, num_pps, &mut pps)?;
        let ext = r.rest().to_vec();
        Ok(AvcC {
            configuration_version,
            profile_indication,
            profile_compatibility,
            level_indication,
            length_size_minus_one,
            sps,
            pps,
            ext,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        if self.length_size_minus_one > 3 {
            return Err(Error::Invalid {
                kind: Self::KIND,
                field: "length_size_minus_one",
            });
        }
        let num_sps = u8::try_from(self.sps.len())
            .ok()
            .filter(|n| *n <= 0x1f)
            .ok_or(Error::TooLarge {
                kind: Self::KIND,
                field: "numOfSequenceParameterSets",
            })?;
        let num_pps = u8::try_from(self.pps.len()).map_err(|_| Error::TooLarge {
            kind: Self::KIND,
            field: "numOfPictureParameterSets",
        })?;
        out.put_u8(self.configuration_version);
        out.put_u8(self.profile_indication);
        out.put_u8(self.profile_compatibility);
        out.put_u8(self.level_indication);
        out.put_u8(0xfc | self.length_size_minus_one);
        out.put_u8(0xe0 | num_sps);
        for s in &self.sps {
            write_nalu(out, Self::KIND, s)?;
        }
        out.put_u8(num_pps);
        for p in &self.pps {
            write_nalu(out, Self::KIND, p)?;
        }
        out.extend_from_slice(&self.ext);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn avcc_roundtrip() {
        let c = AvcC {
            configuration_version: 1,
            profile_indication: 0x64,
            profile_compatibility: 0,
            level_indication: 0x0d,
            length_size_minus_one: 3,
            sps: vec![vec![0x67, 0x64, 0x00, 0x0d, 0xac]],
            pps: vec![vec![0x68, 0xeb, 0xe3, 0xcb]],
            ext: vec![0xfd, 0xf8, 0xf8, 0x00],
        };
        assert_eq!(c.nal_length_size(), 4);
        let b = roundtrip(&c);
        assert_eq!(&b[8..14], &[1, 0x64, 0, 0x0d, 0xff, 0xe1]);
        // Every prefix that cuts into the SPS/PPS lists fails; cutting the
        // extension only shortens `ext`.
        for n in 0..(b.len() - 8 - c.ext.len()) {
            let mut t = ((8 + n) as u32).to_be_bytes().to_vec();
            t.extend_from_slice(&b[4..8 + n]);
            assert!(AvcC::decode(&t).is_err(), "{n}");
        }
        assert!(
            AvcC {
                sps: vec![vec![0; 70000]],
                ..c
            }
            .to_bytes()
            .is_err()
        );
    }
}
