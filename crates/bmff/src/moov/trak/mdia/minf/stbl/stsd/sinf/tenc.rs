//! `tenc` (ISO/IEC 23001-7 §8.2): the default encryption parameters of a
//! protected track: key ID, per-sample IV size (0, 8 or 16), and for `cbcs`
//! the crypt/skip pattern (version 1) and a constant IV (present iff
//! `default_is_protected == 1 && default_per_sample_iv_size == 0`).
//! A key ID is not a key; nothing here is secret.

use crate::atom::Atom;
use crate::reader::Put;
use crate::{Error, FourCC, Reader, Result};

/// Track encryption box.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tenc {
    /// 0, or 1 for a crypt/skip pattern.
    pub version: u8,
    /// 4 bits; version 1 only.
    pub default_crypt_byte_block: u8,
    /// 4 bits; version 1 only.
    pub default_skip_byte_block: u8,
    pub default_is_protected: u8,
    pub default_per_sample_iv_size: u8,
    pub default_kid: [u8; 16],
    pub default_constant_iv: Option<Vec<u8>>,
}

impl Atom for Tenc {
    const KIND: FourCC = FourCC::TENC;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (version, _) = r.full_header()?;
        if version > 1 {
            return Err(Error::UnsupportedVersion {
                kind: Self::KIND,
                version,
            });
        }
        r.skip(1)?;
        let pattern = r.u8()?;
        let (default_crypt_byte_block, default_skip_byte_block) = if version == 0 {
            (0, 0)
        } else {
            (pattern >> 4, pattern & 0x0f)
        };
        let default_is_protected = r.u8()?;
        let default_per_sample_iv_size = r.u8()?;
        if !matches!(default_per_sample_iv_size, 0 | 8 | 16) {
            return Err(Error::Invalid {
                kind: Self::KIND,
                field: "default_Per_Sample_IV_Size",
            });
        }
        let default_kid = r.array::<16>()?;
        let default_constant_iv = if default_is_protected == 1 && default_per_sample_iv_size == 0 {
            let n = r.u8()?;
            if !matches!(n, 8 | 16) {
                return Err(Error::Invalid {
                    kind: Self::KIND,
                    field: "default_constant_IV_size",
                });
            }
            Some(r.take(usize::from(n))?.to_vec())
        } else {
            None
        };
        Ok(Tenc {
            version,
            default_crypt_byte_block,
            default_skip_byte_block,
            default_is_protected,
            default_per_sample_iv_size,
            default_kid,
            default_constant_iv,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        if self.version > 1 {
            return Err(Error::UnsupportedVersion {
                kind: Self::KIND,
                version: self.version,
            });
        }
        if self.default_crypt_byte_block > 15 || self.default_skip_byte_block > 15 {
            return Err(Error::Invalid {
                kind: Self::KIND,
                field: "default pattern",
            });
        }
        if self.version == 0 && (self.default_crypt_byte_block | self.default_skip_byte_block) != 0
        {
            return Err(Error::Invalid {
                kind: Self::KIND,
                field: "pattern needs version 1",
            });
        }
        let needs_iv = self.default_is_protected == 1 && self.default_per_sample_iv_size == 0;
        match (&self.default_constant_iv, needs_iv) {
            (Some(iv), true) if iv.len() == 8 || iv.len() == 16 => {}
            (None, false) => {}
            _ => {
                return Err(Error::Invalid {
                    kind: Self::KIND,
                    field: "default_constant_IV",
                });
            }
        }
        out.put_full(self.version, 0);
        out.put_u8(0);
        out.put_u8((self.default_crypt_byte_block << 4) | self.default_skip_byte_block);
        out.put_u8(self.default_is_protected);
        out.put_u8(self.default_per_sample_iv_size);
        out.extend_from_slice(&self.default_kid);
        if let Some(iv) = &self.default_constant_iv {
            out.put_u8(iv.len() as u8);
            out.extend_from_slice(iv);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn tenc_cenc_and_cbcs() {
        let cenc = Tenc {
            default_is_protected: 1,
            default_per_sample_iv_size: 8,
            default_kid: [7; 16],
            ..Default::default()
        };
        let b = roundtrip(&cenc);
        assert_eq!(b.len(), 32);
        truncations_fail::<Tenc>(&b);
        let cbcs = Tenc {
            version: 1,
            default_crypt_byte_block: 1,
            default_skip_byte_block: 9,
            default_is_protected: 1,
            default_per_sample_iv_size: 0,
            default_kid: [7; 16],
            default_constant_iv: Some(vec![0xaa; 16]),
        };
        let b = roundtrip(&cbcs);
        assert_eq!(b[13], 0x19);
        assert_eq!(b.len(), 49);
        truncations_fail::<Tenc>(&b);
        assert!(
            Tenc {
                default_constant_iv: None,
                ..cbcs.clone()
            }
            .to_bytes()
            .is_err()
        );
        assert!(
            Tenc {
                default_constant_iv: Some(vec![1; 5]),
                ..cbcs
            }
            .to_bytes()
            .is_err()
        );
        assert!(
            Tenc {
                default_crypt_byte_block: 1,
                ..cenc
            }
            .to_bytes()
            .is_err()
        );
    }
}
