//! Child order on write. Typed children sit in named fields, so their
//! original position is not stored; instead each container has a rank table
//! (the order of ISO/IEC 14496-12 Table 1 as ffmpeg and Shaka Packager write
//! it) that places typed children and well-known opaque ones (`sdtp` between
//! `stss` and `ctts`, `iods` after `mvhd`, ...). Unknown boxes rank last and
//! keep their relative order. Decoding sorts `other` by the same ranks, so
//! decode → encode → decode is the identity, and files written in the
//! canonical order (ffmpeg's) come back byte for byte.

use crate::{FourCC, RawBox, Result};

/// Rank of an unknown box: after every known one.
pub(crate) const LAST: u8 = u8::MAX;

/// Writes the `other` boxes of a container interleaved with its typed ones.
pub(crate) struct OtherWriter<'a> {
    items: Vec<(u8, &'a RawBox)>,
    next: usize,
}

impl<'a> OtherWriter<'a> {
    pub(crate) fn new(other: &'a [RawBox], rank: fn(FourCC) -> u8) -> Self {
        let mut items: Vec<(u8, &RawBox)> = other.iter().map(|b| (rank(b.kind), b)).collect();
        items.sort_by_key(|(r, _)| *r);
        OtherWriter { items, next: 0 }
    }

    /// Writes the pending boxes that rank before `rank`.
    pub(crate) fn before(&mut self, rank: u8, out: &mut Vec<u8>) -> Result<()> {
        while let Some((r, b)) = self.items.get(self.next) {
            if *r >= rank {
                break;
            }
            b.encode(out)?;
            self.next += 1;
        }
        Ok(())
    }

    /// Writes every box left.
    pub(crate) fn finish(mut self, out: &mut Vec<u8>) -> Result<()> {
        self.before(LAST, out)?;
        while let Some((_, b)) = self.items.get(self.next) {
            b.encode(out)?;
            self.next += 1;
        }
        Ok(())
    }
}

/// Sorts decoded `other` boxes into write order (stable).
pub(crate) fn sort_other(other: &mut [RawBox], rank: fn(FourCC) -> u8) {
    other.sort_by_key(|b| rank(b.kind));
}
