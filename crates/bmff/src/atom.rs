//! The [`Atom`] trait, after kixelated/mp4-atom's `atom.rs`: one type per box
//! implements the body, and the provided methods do the rest once for every
//! box: the header, the size patched after the body, the check that the type
//! matches, and the check that the body was read exactly (a short read is
//! [`Error::Truncated`], leftover bytes are [`Error::UnderDecode`]).

use crate::header::{BoxHeader, write_box};
use crate::{Error, FourCC, Reader, Result};

/// A box type with a parse and a write side.
pub trait Atom: Sized {
    /// The box type.
    const KIND: FourCC;

    /// Parses the body (everything after the header). The reader is bounded
    /// to the body; the caller checks that it was consumed.
    fn decode_body(r: &mut Reader<'_>) -> Result<Self>;

    /// Appends the body (everything after the header).
    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()>;

    /// Parses a whole box, header included. `buf` must hold exactly one box.
    fn decode(buf: &[u8]) -> Result<Self> {
        let h = BoxHeader::parse(buf)?;
        if h.kind != Self::KIND {
            return Err(Error::WrongKind {
                expected: Self::KIND,
                found: h.kind,
            });
        }
        if h.size != buf.len() as u64 {
            return Err(Error::InvalidSize {
                kind: h.kind,
                size: h.size,
            });
        }
        let body = buf.get(usize::from(h.header_len)..).unwrap_or_default();
        let mut r = Reader::for_box(Self::KIND, body);
        let v = Self::decode_body(&mut r)?;
        r.expect_empty()?;
        Ok(v)
    }

    /// Parses the body of a child box found by `parent` (one level deeper).
    fn decode_child(parent: &Reader<'_>, body: &[u8]) -> Result<Self> {
        let mut r = parent.child(Self::KIND, body)?;
        let v = Self::decode_body(&mut r)?;
        r.expect_empty()?;
        Ok(v)
    }

    /// Appends the whole box, header included.
    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        write_box(out, Self::KIND, None, |out| self.encode_body(out))
    }

    /// The whole box as a new buffer.
    fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }
}

/// Stores a child that may appear once, or fails with [`Error::DuplicateBox`].
pub(crate) fn set_once<T>(
    slot: &mut Option<T>,
    parent: FourCC,
    child: FourCC,
    v: Result<T>,
) -> Result<()> {
    if slot.is_some() {
        return Err(Error::DuplicateBox { parent, child });
    }
    *slot = Some(v?);
    Ok(())
}

/// A required child, or [`Error::MissingBox`].
pub(crate) fn required<T>(slot: Option<T>, parent: FourCC, child: FourCC) -> Result<T> {
    slot.ok_or(Error::MissingBox { parent, child })
}

/// Picks the smallest `FullBox` version that can hold `values`: the
/// requested one, raised to 1 when a 64-bit value does not fit in 32 bits.
pub(crate) fn version_for(requested: u8, values: &[u64]) -> u8 {
    if values.iter().any(|&v| v > u64::from(u32::MAX)) {
        requested.max(1)
    } else {
        requested
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;
    use std::fmt::Debug;

    /// encode → decode gives the value back, and decode → encode gives the bytes back.
    pub fn roundtrip<T: Atom + PartialEq + Debug>(v: &T) -> Vec<u8> {
        let bytes = v.to_bytes().unwrap();
        let back = T::decode(&bytes).unwrap();
        assert_eq!(&back, v);
        assert_eq!(back.to_bytes().unwrap(), bytes);
        bytes
    }

    /// Every box made of a strict prefix of the body of `bytes` (header
    /// size adjusted) must fail to decode, without panicking; so must every
    /// strict prefix of the whole buffer.
    pub fn truncations_fail<T: Atom + Debug>(bytes: &[u8]) {
        for n in 0..bytes.len() {
            assert!(
                T::decode(&bytes[..n]).is_err(),
                "prefix of {n} bytes decoded"
            );
        }
        let body = &bytes[8..];
        for n in 0..body.len() {
            let mut b = ((8 + n) as u32).to_be_bytes().to_vec();
            b.extend_from_slice(&bytes[4..8]);
            b.extend_from_slice(&body[..n]);
            assert!(
                T::decode(&b).is_err(),
                "body prefix of {n} bytes decoded: {:?}",
                T::decode(&b)
            );
        }
    }
}
