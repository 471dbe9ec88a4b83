//! Boxes kept as bytes: any child this crate does not model (`udta`, `sgpd`,
//! `pasp`, ...) is kept whole so that parse → write round-trips, which a
//! packager needs (mp4-atom drops unknown children, so a `pssh` or a `colr`
//! would vanish on rewrite).

use crate::header::{BoxHeader, write_box};
use crate::{Error, FourCC, Result};

/// An opaque box: type, `uuid` extended type, and the body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBox {
    /// Box type.
    pub kind: FourCC,
    /// Extended type, for `uuid` boxes.
    pub usertype: Option<[u8; 16]>,
    /// Body (after the header).
    pub body: Vec<u8>,
}

impl RawBox {
    /// A box from a parsed header and its body.
    pub fn from_parts(header: &BoxHeader, body: &[u8]) -> RawBox {
        RawBox {
            kind: header.kind,
            usertype: header.usertype,
            body: body.to_vec(),
        }
    }

    /// Parses a whole box; `buf` must hold exactly one box.
    pub fn decode(buf: &[u8]) -> Result<RawBox> {
        let h = BoxHeader::parse(buf)?;
        if h.size != buf.len() as u64 {
            return Err(Error::InvalidSize {
                kind: h.kind,
                size: h.size,
            });
        }
        Ok(RawBox::from_parts(
            &h,
            buf.get(usize::from(h.header_len)..).unwrap_or_default(),
        ))
    }

    /// Appends the whole box.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let usertype = match (self.kind == FourCC::UUID, &self.usertype) {
            (true, Some(u)) => Some(u),
            (true, None) => {
                return Err(Error::Invalid {
                    kind: self.kind,
                    field: "usertype",
                });
            }
            (false, _) => None,
        };
        write_box(out, self.kind, usertype, |out| {
            out.extend_from_slice(&self.body);
            Ok(())
        })
    }

    /// Size of the encoded box (compact header).
    pub fn encoded_len(&self) -> u64 {
        let header = if self.usertype.is_some() && self.kind == FourCC::UUID {
            24
        } else {
            8
        };
        let len = header + self.body.len() as u64;
        if len > u64::from(u32::MAX) {
            len + 8
        } else {
            len
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_plain_and_uuid() {
        let b = RawBox {
            kind: FourCC::UDTA,
            usertype: None,
            body: vec![1, 2, 3],
        };
        let mut out = Vec::new();
        b.encode(&mut out).unwrap();
        assert_eq!(out, b"\0\0\0\x0budta\x01\x02\x03");
        assert_eq!(RawBox::decode(&out).unwrap(), b);
        assert_eq!(b.encoded_len(), 11);

        let u = RawBox {
            kind: FourCC::UUID,
            usertype: Some([0xab; 16]),
            body: vec![9],
        };
        let mut out = Vec::new();
        u.encode(&mut out).unwrap();
        assert_eq!(out.len(), 25);
        assert_eq!(RawBox::decode(&out).unwrap(), u);
        let bad = RawBox {
            usertype: None,
            ..u
        };
        assert!(bad.encode(&mut Vec::new()).is_err());
    }

    #[test]
    fn largesize_box_decodes() {
        let mut buf = vec![0, 0, 0, 1];
        buf.extend_from_slice(b"free");
        buf.extend_from_slice(&19u64.to_be_bytes());
        buf.extend_from_slice(b"abc");
        let b = RawBox::decode(&buf).unwrap();
        assert_eq!(b.body, b"abc");
        // Written back with the compact header: same box, 8 bytes shorter.
        let mut out = Vec::new();
        b.encode(&mut out).unwrap();
        assert_eq!(out, b"\0\0\0\x0bfreeabc");
        assert!(RawBox::decode(&buf[..18]).is_err());
    }
}
