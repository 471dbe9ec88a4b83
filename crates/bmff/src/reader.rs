//! A bounded, zero-copy reader over untrusted bytes, after rustls'
//! `msgs/codec.rs`: every read checks the length first and returns
//! [`Error::Truncated`] instead of reading past the end, `sub(n)` hands out a
//! reader limited to a length-prefixed part, and `expect_empty` refuses
//! trailing data. Each reader knows which box it reads, so errors name it, and
//! how deep it sits in the box tree, so nesting is bounded by [`MAX_DEPTH`].
//!
//! Counts read from a box never size an allocation directly: use
//! [`Reader::capacity_for`], which caps a count by what the remaining bytes
//! can really hold.

use std::cell::Cell;
use std::rc::Rc;

use crate::header::BoxHeader;
use crate::{Error, FourCC, Result};

/// Records not backed by input bytes (a `trun` whose samples all use the
/// `tfhd` defaults, a `senc` without IVs or subsamples) that one top-level
/// decode may create: 2^20 samples, about 32 MiB of `TrunSample`s. Without
/// this budget a 20-byte `trun` claiming 4 billion samples would allocate
/// 128 GB, and a small file of many such boxes would multiply it.
pub const MAX_SYNTHETIC_RECORDS: u64 = 1 << 20;

/// Deepest box nesting accepted (the deepest real path, `moov/trak/mdia/minf/
/// stbl/stsd/encv/sinf/schi/tenc`, is 10 levels).
pub const MAX_DEPTH: u8 = 16;

/// Bounded reader over the body of one box.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    kind: FourCC,
    depth: u8,
    budget: Rc<Cell<u64>>,
}

macro_rules! read_int {
    ($($name:ident: $t:ty),*) => {$(
        #[doc = concat!("Reads a big-endian `", stringify!($t), "`.")]
        pub fn $name(&mut self) -> Result<$t> {
            Ok(<$t>::from_be_bytes(self.array()?))
        }
    )*};
}

impl<'a> Reader<'a> {
    /// A reader over `buf` that does not belong to a known box.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader::for_box(FourCC::UNKNOWN, buf)
    }

    /// A reader over the body of a top-level box of type `kind`.
    pub fn for_box(kind: FourCC, buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            kind,
            depth: 0,
            budget: Rc::new(Cell::new(MAX_SYNTHETIC_RECORDS)),
        }
    }

    /// A reader over the body of a child box of the box this reader reads.
    pub fn child<'b>(&self, kind: FourCC, body: &'b [u8]) -> Result<Reader<'b>> {
        let depth = self.depth.saturating_add(1);
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep { kind });
        }
        Ok(Reader {
            buf: body,
            pos: 0,
            kind,
            depth,
            budget: Rc::clone(&self.budget),
        })
    }

    /// The box this reader reads.
    pub fn kind(&self) -> FourCC {
        self.kind
    }

    /// Nesting depth: 0 for a top-level box.
    pub fn depth(&self) -> u8 {
        self.depth
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unread bytes, without consuming them.
    pub fn peek_rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// Consumes and returns every unread byte.
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = self.peek_rest();
        self.pos = self.buf.len();
        rest
    }

    /// Consumes exactly `n` bytes, or fails without consuming anything.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let have = self.remaining();
        if n > have {
            return Err(Error::Truncated {
                kind: self.kind,
                need: n as u64,
                have: have as u64,
            });
        }
        let start = self.pos;
        self.pos += n;
        // In range: checked against `remaining` above.
        Ok(self.buf.get(start..self.pos).unwrap_or_default())
    }

    /// Like [`Reader::take`] with a 64-bit length read from the input.
    pub fn take_u64(&mut self, n: u64) -> Result<&'a [u8]> {
        match usize::try_from(n) {
            Ok(n) => self.take(n),
            Err(_) => Err(Error::Truncated {
                kind: self.kind,
                need: n,
                have: self.remaining() as u64,
            }),
        }
    }

    /// A reader over the next `n` bytes (same box, same depth); consumes them.
    pub fn sub(&mut self, n: usize) -> Result<Reader<'a>> {
        let buf = self.take(n)?;
        Ok(Reader {
            buf,
            pos: 0,
            kind: self.kind,
            depth: self.depth,
            budget: Rc::clone(&self.budget),
        })
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.take(n).map(|_| ())
    }

    /// Reads a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let b = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    read_int!(u8: u8, u16: u16, u32: u32, u64: u64, i8: i8, i16: i16, i32: i32, i64: i64);

    /// Reads a big-endian 24-bit unsigned integer.
    pub fn u24(&mut self) -> Result<u32> {
        let [a, b, c] = self.array()?;
        Ok(u32::from_be_bytes([0, a, b, c]))
    }

    /// Reads a four-character code.
    pub fn fourcc(&mut self) -> Result<FourCC> {
        Ok(FourCC(self.array()?))
    }

    /// Reads the `FullBox` header (§4.2): 8-bit version, 24-bit flags.
    pub fn full_header(&mut self) -> Result<(u8, u32)> {
        let v = self.u32()?;
        Ok(((v >> 24) as u8, v & 0x00ff_ffff))
    }

    /// Fails with [`Error::UnderDecode`] if bytes are left.
    pub fn expect_empty(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            left => Err(Error::UnderDecode {
                kind: self.kind,
                left: left as u64,
            }),
        }
    }

    /// How many records of `record_len` bytes to reserve for a `count` read
    /// from the input: never more than the unread bytes can hold, so a lying
    /// count cannot make us allocate gigabytes (the reads that follow fail
    /// with [`Error::Truncated`] instead).
    pub fn capacity_for(&self, count: u64, record_len: usize) -> usize {
        let fits = self.remaining() / record_len.max(1);
        usize::try_from(count).map_or(fits, |c| c.min(fits))
    }

    /// Takes `count` records that are not backed by input bytes from the
    /// budget shared by this decode ([`MAX_SYNTHETIC_RECORDS`]), or fails
    /// with [`Error::TooLarge`] naming `field`.
    pub fn charge_synthetic(&self, count: u64, field: &'static str) -> Result<()> {
        let left = self.budget.get();
        if count > left {
            return Err(Error::TooLarge {
                kind: self.kind,
                field,
            });
        }
        self.budget.set(left - count);
        Ok(())
    }

    /// Reads the next child box: its header and body. `None` at the end.
    /// A size of 0 means "to the end of this (parent) box".
    pub fn next_box(&mut self) -> Result<Option<(BoxHeader, &'a [u8])>> {
        if self.is_empty() {
            return Ok(None);
        }
        let rest = self.peek_rest();
        let header = BoxHeader::parse(rest).map_err(|e| match e {
            Error::Truncated { kind, need, have } if kind == FourCC::UNKNOWN => Error::Truncated {
                kind: self.kind,
                need,
                have,
            },
            e => e,
        })?;
        let available = rest.len() as u64;
        if header.size > available {
            return Err(Error::OverDecode {
                parent: self.kind,
                child: header.kind,
                size: header.size,
                available,
            });
        }
        // Both casts are in range: header.size <= rest.len().
        let whole = self.take(header.size as usize)?;
        let body = whole
            .get(usize::from(header.header_len)..)
            .unwrap_or_default();
        Ok(Some((header, body)))
    }
}

/// Big-endian writers for `Vec<u8>`, the write side of [`Reader`].
pub trait Put {
    /// Appends a `u8`.
    fn put_u8(&mut self, v: u8);
    /// Appends a big-endian `u16`.
    fn put_u16(&mut self, v: u16);
    /// Appends the low 24 bits of `v`, big-endian.
    fn put_u24(&mut self, v: u32);
    /// Appends a big-endian `u32`.
    fn put_u32(&mut self, v: u32);
    /// Appends a big-endian `u64`.
    fn put_u64(&mut self, v: u64);
    /// Appends a big-endian `i16`.
    fn put_i16(&mut self, v: i16);
    /// Appends a big-endian `i32`.
    fn put_i32(&mut self, v: i32);
    /// Appends a big-endian `i64`.
    fn put_i64(&mut self, v: i64);
    /// Appends a four-character code.
    fn put_fourcc(&mut self, v: FourCC);
    /// Appends a `FullBox` header.
    fn put_full(&mut self, version: u8, flags: u32);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u24(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes()[1..]);
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_i16(&mut self, v: i16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_i32(&mut self, v: i32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_i64(&mut self, v: i64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_fourcc(&mut self, v: FourCC) {
        self.extend_from_slice(&v.0);
    }
    fn put_full(&mut self, version: u8, flags: u32) {
        self.put_u32((u32::from(version) << 24) | (flags & 0x00ff_ffff));
    }
}

/// A length as a `u32` count field, or [`Error::TooLarge`].
pub(crate) fn count_u32(kind: FourCC, field: &'static str, n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::TooLarge { kind, field })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded() {
        let mut r = Reader::for_box(FourCC::STSZ, &[0, 0, 0, 1, 2, 3]);
        assert_eq!(r.u32().unwrap(), 1);
        assert_eq!(
            r.u32(),
            Err(Error::Truncated {
                kind: FourCC::STSZ,
                need: 4,
                have: 2
            })
        );
        // A failed read consumes nothing.
        assert_eq!(r.remaining(), 2);
        assert_eq!(r.u16().unwrap(), 0x0203);
        r.expect_empty().unwrap();
        assert!(r.take_u64(u64::MAX).is_err());
    }

    #[test]
    fn sub_and_trailing_data() {
        let mut r = Reader::for_box(FourCC::ESDS, &[1, 2, 3, 4]);
        let mut s = r.sub(2).unwrap();
        assert_eq!(s.u8().unwrap(), 1);
        assert_eq!(
            s.expect_empty(),
            Err(Error::UnderDecode {
                kind: FourCC::ESDS,
                left: 1
            })
        );
        assert!(r.sub(3).is_err());
        assert_eq!(r.u24().map_err(|_| ()), Err(()));
    }

    #[test]
    fn capacity_is_capped_by_remaining_bytes() {
        // The attack: a 20-byte stsz claiming four billion entries must not
        // reserve 16 GB before the reads fail.
        let body = [0u8; 12];
        let r = Reader::for_box(FourCC::STSZ, &body);
        assert_eq!(r.capacity_for(4_000_000_000, 4), 3);
        assert_eq!(r.capacity_for(2, 4), 2);
        assert_eq!(r.capacity_for(u64::MAX, 0), 12);
    }

    #[test]
    fn synthetic_budget_is_shared() {
        let r = Reader::for_box(FourCC::MOOF, &[]);
        let c = r.child(FourCC::TRUN, &[]).unwrap();
        c.charge_synthetic(MAX_SYNTHETIC_RECORDS - 1, "sample_count")
            .unwrap();
        let c2 = r.child(FourCC::TRUN, &[]).unwrap();
        c2.charge_synthetic(1, "sample_count").unwrap();
        assert!(c2.charge_synthetic(1, "sample_count").is_err());
    }

    #[test]
    fn depth_is_limited() {
        let mut r = Reader::new(&[]);
        for _ in 0..MAX_DEPTH {
            r = r.child(FourCC::MOOV, &[]).unwrap();
        }
        assert_eq!(
            r.child(FourCC::TRAK, &[]).unwrap_err(),
            Error::TooDeep { kind: FourCC::TRAK }
        );
    }

    #[test]
    fn put_roundtrip() {
        let mut v = Vec::new();
        v.put_u24(0x0102_0304);
        v.put_full(1, 0x0a0b0c);
        v.put_i16(-2);
        assert_eq!(v, [2, 3, 4, 1, 0x0a, 0x0b, 0x0c, 0xff, 0xfe]);
        let mut r = Reader::new(&v);
        assert_eq!(r.u24().unwrap(), 0x020304);
        assert_eq!(r.full_header().unwrap(), (1, 0x0a0b0c));
        assert_eq!(r.i16().unwrap(), -2);
    }
}
