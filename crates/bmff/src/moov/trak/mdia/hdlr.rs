//! `hdlr` (ISO/IEC 14496-12 §8.4.3): the handler type (`vide`, `soun`, ...)
//! and a human-readable name. The name is a NUL-terminated UTF-8 string in
//! ISO files but a Pascal string in QuickTime files, and some writers add
//! padding, so a name that is not exactly "UTF-8 then one NUL" is kept as raw
//! bytes to round-trip unchanged.

use crate::atom::Atom;
use crate::reader::Put;
use crate::{FourCC, Reader, Result};

/// Handler reference.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hdlr {
    pub handler_type: FourCC,
    /// The name (lossy if it had to be kept in `raw_name`).
    pub name: String,
    /// The name field's exact bytes, when they are not `name` + NUL. Written
    /// instead of `name` when set.
    pub raw_name: Option<Vec<u8>>,
}

impl Hdlr {
    /// A handler with a NUL-terminated name.
    pub fn new(handler_type: FourCC, name: &str) -> Self {
        Hdlr {
            handler_type,
            name: name.to_owned(),
            raw_name: None,
        }
    }
}

impl Atom for Hdlr {
    const KIND: FourCC = FourCC::HDLR;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        r.full_header()?;
        r.skip(4)?;
        let handler_type = r.fourcc()?;
        r.skip(12)?;
        let bytes = r.rest();
        let clean = match bytes.split_last() {
            Some((0, text)) if !text.contains(&0) => std::str::from_utf8(text).ok(),
            _ => None,
        };
        Ok(match clean {
            Some(name) => Hdlr {
                handler_type,
                name: name.to_owned(),
                raw_name: None,
            },
            None => {
                let text = bytes.split(|&b| b == 0).next().unwrap_or_default();
                Hdlr {
                    handler_type,
                    name: String::from_utf8_lossy(text).into_owned(),
                    raw_name: Some(bytes.to_vec()),
                }
            }
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        out.put_full(0, 0);
        out.put_u32(0);
        out.put_fourcc(self.handler_type);
        out.extend_from_slice(&[0; 12]);
        match &self.raw_name {
            Some(raw) => out.extend_from_slice(raw),
            None => {
                out.extend_from_slice(self.name.as_bytes());
                out.put_u8(0);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn hdlr_names() {
        let h = Hdlr::new(FourCC(*b"vide"), "VideoHandler");
        let b = roundtrip(&h);
        assert_eq!(b.len(), 45);
        // Pascal string (QuickTime) and no terminator: kept raw, same bytes back.
        for raw in [&b"\x0cVideoHandler"[..], b"abc", b"", b"\xff\xfe\0"] {
            let mut buf = b[..32].to_vec();
            buf.extend_from_slice(raw);
            buf[3] = buf.len() as u8;
            let d = Hdlr::decode(&buf).unwrap();
            assert_eq!(d.raw_name.as_deref(), Some(raw));
            assert_eq!(d.to_bytes().unwrap(), buf);
        }
        assert!(Hdlr::decode(&b[..31]).is_err());
    }
}
