//! Box headers (ISO/IEC 14496-12 §4.2): 32-bit size and type, `size == 1`
//! for a 64-bit `largesize`, `size == 0` for "to the end of the enclosing
//! buffer", and a 16-byte `usertype` after the type for `uuid` boxes.
//!
//! The writer ([`write_box`]) puts a placeholder size first and patches it
//! once the body is known; a body too large for 32 bits turns the header into
//! the 16-byte `largesize` form.

use crate::reader::Put;
use crate::{Error, FourCC, Reader, Result};

/// A parsed box header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxHeader {
    /// Box type.
    pub kind: FourCC,
    /// Size of the whole box, header included. A `size` field of 0 is
    /// resolved to the length of the buffer given to [`BoxHeader::parse`].
    pub size: u64,
    /// Header length: 8, 16 (largesize), 24 (uuid) or 32 (largesize + uuid).
    pub header_len: u8,
    /// The extended type of a `uuid` box.
    pub usertype: Option<[u8; 16]>,
}

impl BoxHeader {
    /// Parses the header at the start of `buf`.
    ///
    /// `buf` must be the rest of the enclosing buffer (the file, or the
    /// parent's body), because a size field of 0 means "to its end" and is
    /// resolved to `buf.len()`. A size smaller than the header is
    /// [`Error::InvalidSize`]; this function does not check that the box fits
    /// in `buf` (only its header must), [`iter_boxes`] and [`Reader::next_box`] do.
    pub fn parse(buf: &[u8]) -> Result<BoxHeader> {
        let mut r = Reader::new(buf);
        let size32 = r.u32()?;
        let kind = r.fourcc()?;
        let mut header_len: u8 = 8;
        let mut size = u64::from(size32);
        if size32 == 1 {
            size = r.u64().map_err(|e| rename(e, kind))?;
            header_len = 16;
        }
        let usertype = if kind == FourCC::UUID {
            header_len += 16;
            Some(r.array::<16>().map_err(|e| rename(e, kind))?)
        } else {
            None
        };
        if size32 == 0 {
            size = buf.len() as u64;
        }
        if size < u64::from(header_len) {
            return Err(Error::InvalidSize { kind, size });
        }
        Ok(BoxHeader {
            kind,
            size,
            header_len,
            usertype,
        })
    }

    /// Length of the body (size minus header).
    pub fn body_len(&self) -> u64 {
        self.size.saturating_sub(u64::from(self.header_len))
    }
}

fn rename(e: Error, kind: FourCC) -> Error {
    match e {
        Error::Truncated { need, have, .. } => Error::Truncated { kind, need, have },
        e => e,
    }
}

/// Iterates over the boxes laid end to end in `buf` (a file, or a container
/// body), yielding each header and body. A box that does not fit in `buf`
/// yields an error, after which the iterator ends.
pub fn iter_boxes(buf: &[u8]) -> impl Iterator<Item = Result<(BoxHeader, &[u8])>> {
    let mut r = Reader::new(buf);
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        match r.next_box() {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => None,
            Err(e) => {
                failed = true;
                Some(Err(e))
            }
        }
    })
}

/// Writes a box: header, then whatever `body` appends, then patches the size
/// (switching to a 64-bit `largesize` header if the box exceeds `u32::MAX`).
pub fn write_box(
    out: &mut Vec<u8>,
    kind: FourCC,
    usertype: Option<&[u8; 16]>,
    body: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    let start = out.len();
    out.put_u32(0);
    out.put_fourcc(kind);
    if let Some(u) = usertype {
        out.extend_from_slice(u);
    }
    body(out)?;
    let len = (out.len() - start) as u64;
    match u32::try_from(len) {
        Ok(len32) => {
            if let Some(s) = out.get_mut(start..start + 4) {
                s.copy_from_slice(&len32.to_be_bytes());
            }
        }
        Err(_) => {
            let len = len + 8;
            if let Some(s) = out.get_mut(start..start + 4) {
                s.copy_from_slice(&1u32.to_be_bytes());
            }
            out.splice(start + 8..start + 8, len.to_be_bytes());
        }
    }
    Ok(())
}

/// Writes an `mdat` header for `payload_len` bytes of media data (§8.1.1):
/// 8 bytes, or 16 with a `largesize` when the box would exceed `u32::MAX`.
/// The payload itself is not copied here: write it (or stream it) next.
pub fn write_mdat_header(payload_len: u64, out: &mut Vec<u8>) {
    match u32::try_from(payload_len.saturating_add(8)) {
        Ok(size) => {
            out.put_u32(size);
            out.put_fourcc(FourCC::MDAT);
        }
        Err(_) => {
            out.put_u32(1);
            out.put_fourcc(FourCC::MDAT);
            out.put_u64(payload_len.saturating_add(16));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms() {
        let h = BoxHeader::parse(b"\0\0\0\x10free12345678").unwrap();
        assert_eq!(
            (h.kind, h.size, h.header_len, h.usertype),
            (FourCC::FREE, 16, 8, None)
        );

        let mut large = vec![0, 0, 0, 1];
        large.extend_from_slice(b"mdat");
        large.extend_from_slice(&0x1_0000_0010u64.to_be_bytes());
        let h = BoxHeader::parse(&large).unwrap();
        assert_eq!((h.size, h.header_len), (0x1_0000_0010, 16));

        let mut uuid = vec![0, 0, 0, 24];
        uuid.extend_from_slice(b"uuid");
        uuid.extend_from_slice(&[7; 16]);
        let h = BoxHeader::parse(&uuid).unwrap();
        assert_eq!((h.header_len, h.usertype), (24, Some([7; 16])));

        let h = BoxHeader::parse(b"\0\0\0\0mdat0123").unwrap();
        assert_eq!(h.size, 12);
    }

    #[test]
    fn bad_headers() {
        assert!(matches!(
            BoxHeader::parse(b"\0\0\0\x04free"),
            Err(Error::InvalidSize { size: 4, .. })
        ));
        assert!(matches!(
            BoxHeader::parse(b"\0\0\0\x01mdat\0\0\0\0\0\0\0\x0f"),
            Err(Error::InvalidSize { .. })
        ));
        assert!(matches!(
            BoxHeader::parse(b"\0\0\0"),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            BoxHeader::parse(b"\0\0\0\x01mdat\0\0"),
            Err(Error::Truncated { kind, .. }) if kind == FourCC::MDAT
        ));
        assert!(matches!(
            BoxHeader::parse(b"\0\0\0\x18uuid0123"),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn iterates_and_stops_on_error() {
        let mut buf = b"\0\0\0\x08free\0\0\0\x09skipX".to_vec();
        let all: Vec<_> = iter_boxes(&buf).collect::<Result<_>>().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].1, b"X");
        // A size past the end (and a 64-bit size near u64::MAX) is an error, then the end.
        buf.extend_from_slice(b"\0\0\0\x01mdat\xff\xff\xff\xff\xff\xff\xff\xff");
        let all: Vec<_> = iter_boxes(&buf).collect();
        assert_eq!(all.len(), 3);
        assert!(matches!(all[2], Err(Error::OverDecode { child, .. }) if child == FourCC::MDAT));
    }

    #[test]
    fn write_box_patches_size() {
        let mut out = vec![9];
        write_box(&mut out, FourCC::FREE, None, |o| {
            o.extend_from_slice(b"abc");
            Ok(())
        })
        .unwrap();
        assert_eq!(out, b"\x09\0\0\0\x0bfreeabc");
    }

    #[test]
    fn mdat_headers() {
        let mut out = Vec::new();
        write_mdat_header(10, &mut out);
        assert_eq!(out, b"\0\0\0\x12mdat");
        out.clear();
        write_mdat_header(u64::from(u32::MAX) - 8, &mut out);
        assert_eq!(out, b"\xff\xff\xff\xffmdat");
        out.clear();
        write_mdat_header(u64::from(u32::MAX) - 7, &mut out);
        assert_eq!(out.len(), 16);
        let h = BoxHeader::parse(&out).unwrap();
        assert_eq!((h.size, h.header_len), (u64::from(u32::MAX) + 9, 16));
    }
}
