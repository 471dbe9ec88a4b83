//! `pssh` (ISO/IEC 23001-7 §8.1): protection system specific header, in
//! `moov` or `moof`. Version 1 lists the key IDs it applies to. The `data`
//! is the DRM system's own message (Widevine protobuf, PlayReady header).

use crate::atom::Atom;
use crate::reader::{Put, count_u32};
use crate::{Error, FourCC, Reader, Result};

/// Protection system specific header box.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Pssh {
    /// 0, or 1 with `kids`.
    pub version: u8,
    pub system_id: [u8; 16],
    /// Key IDs (version 1 only).
    pub kids: Vec<[u8; 16]>,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Pssh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        f.debug_struct("Pssh")
            .field("version", &self.version)
            .field("system_id", &hex(&self.system_id))
            .field(
                "kids",
                &self.kids.iter().map(|k| hex(k)).collect::<Vec<_>>(),
            )
            .field("data_len", &self.data.len())
            .finish()
    }
}

impl Atom for Pssh {
    const KIND: FourCC = FourCC::PSSH;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (version, _) = r.full_header()?;
        if version > 1 {
            return Err(Error::UnsupportedVersion {
                kind: Self::KIND,
                version,
            });
        }
        let system_id = r.array::<16>()?;
        let mut kids = Vec::new();
        if version == 1 {
            let n = r.u32()?;
            kids.reserve_exact(r.capacity_for(u64::from(n), 16));
            for _ in 0..n {
                kids.push(r.array::<16>()?);
            }
        }
        let size = r.u32()?;
        let data = r.take_u64(u64::from(size))?.to_vec();
        Ok(Pssh {
            version,
            system_id,
            kids,
            data,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        match self.version {
            0 if !self.kids.is_empty() => {
                return Err(Error::Invalid {
                    kind: Self::KIND,
                    field: "KIDs need version 1",
                });
            }
            0 | 1 => {}
            v => {
                return Err(Error::UnsupportedVersion {
                    kind: Self::KIND,
                    version: v,
                });
            }
        }
        out.put_full(self.version, 0);
        out.extend_from_slice(&self.system_id);
        if self.version == 1 {
            out.put_u32(count_u32(Self::KIND, "KID_count", self.kids.len())?);
            for k in &self.kids {
                out.extend_from_slice(k);
            }
        }
        out.put_u32(count_u32(Self::KIND, "DataSize", self.data.len())?);
        out.extend_from_slice(&self.data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    /// W3C Common PSSH system ID, 1077efec-c0b2-4d02-ace3-3c1e52e2fb4b.
    const COMMON: [u8; 16] = [
        0x10, 0x77, 0xef, 0xec, 0xc0, 0xb2, 0x4d, 0x02, 0xac, 0xe3, 0x3c, 0x1e, 0x52, 0xe2, 0xfb,
        0x4b,
    ];

    #[test]
    fn pssh_v0_v1() {
        let v1 = Pssh {
            version: 1,
            system_id: COMMON,
            kids: vec![[1; 16], [2; 16]],
            data: vec![],
        };
        let b = roundtrip(&v1);
        assert_eq!(b.len(), 8 + 4 + 16 + 4 + 32 + 4);
        truncations_fail::<Pssh>(&b);
        let v0 = Pssh {
            version: 0,
            system_id: [0xed; 16],
            kids: vec![],
            data: vec![0x12, 0x10, 0xab],
        };
        truncations_fail::<Pssh>(&roundtrip(&v0));
        assert!(
            Pssh {
                kids: vec![[0; 16]],
                ..v0.clone()
            }
            .to_bytes()
            .is_err()
        );
        assert!(!format!("{v0:?}").contains("18, 16, 171"));
    }
}
