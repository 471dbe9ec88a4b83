//! `schm` (ISO/IEC 14496-12 §8.12.5): the protection scheme (`cenc`,
//! `cbcs`, `cens`, `cbc1`; ISO/IEC 23001-7 §4.2) and its version
//! (0x00010000 for Common Encryption). Flag 1 adds a NUL-terminated URI.

use crate::atom::Atom;
use crate::reader::Put;
use crate::{Error, FourCC, Reader, Result};

/// Scheme type box.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schm {
    pub scheme_type: FourCC,
    pub scheme_version: u32,
    pub scheme_uri: Option<String>,
}

impl Atom for Schm {
    const KIND: FourCC = FourCC::SCHM;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (_, flags) = r.full_header()?;
        let scheme_type = r.fourcc()?;
        let scheme_version = r.u32()?;
        let scheme_uri = if flags & 1 != 0 {
            let bytes = r.rest();
            let text = bytes.strip_suffix(&[0]).unwrap_or(bytes);
            let s = std::str::from_utf8(text).map_err(|_| Error::Invalid {
                kind: Self::KIND,
                field: "scheme_uri",
            })?;
            if s.contains('\0') {
                return Err(Error::Invalid {
                    kind: Self::KIND,
                    field: "scheme_uri",
                });
            }
            Some(s.to_owned())
        } else {
            None
        };
        Ok(Schm {
            scheme_type,
            scheme_version,
            scheme_uri,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        out.put_full(0, u32::from(self.scheme_uri.is_some()));
        out.put_fourcc(self.scheme_type);
        out.put_u32(self.scheme_version);
        if let Some(uri) = &self.scheme_uri {
            if uri.contains('\0') {
                return Err(Error::Invalid {
                    kind: Self::KIND,
                    field: "scheme_uri",
                });
            }
            out.extend_from_slice(uri.as_bytes());
            out.put_u8(0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn schm_roundtrip() {
        let s = Schm {
            scheme_type: FourCC::CBCS,
            scheme_version: 0x0001_0000,
            scheme_uri: None,
        };
        let b = roundtrip(&s);
        truncations_fail::<Schm>(&b);
        roundtrip(&Schm {
            scheme_uri: Some("urn:example".into()),
            ..s
        });
        assert!(Schm::decode(b"\0\0\0\x15schm\0\0\0\x01cenc\0\x01\0\0\xff").is_err());
    }
}
