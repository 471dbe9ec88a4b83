//! Reading H.264 / H.265 access units and parameter sets a little: what
//! the media layer looks at in the coded video itself (the key frame's NAL
//! type for [`crate::sap`], SEI caption data for [`crate::captions`], the
//! SPS for [`crate::scan`]), and an MSB-first bit reader shared with the
//! audio configurations ([`crate::audio`]).
//!
//! Why not the `cenc` crate's parsers: those work on a whole sample in
//! memory to find slice headers; here only NAL unit headers (and the odd
//! SEI payload) are read from the file, a few bytes each, so scanning the
//! key frames of a feature film costs a few reads per frame.

use std::ops::ControlFlow;

use bmff::SampleEntry;
use bmff::sample_table::Sample;

use crate::error::Result;
use crate::movie::Movie;

/// How a track's samples hold NAL units: the length prefix size and the
/// codec (the NAL unit header is 1 byte in H.264, 2 in H.265).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NalFormat {
    pub length_size: usize,
    pub hevc: bool,
}

impl NalFormat {
    /// From an `avc1`/`avc3`/`hvc1`/`hev1` sample entry; `None` otherwise.
    pub fn of(entry: &SampleEntry) -> Option<NalFormat> {
        let SampleEntry::Visual(v) = entry else { return None };
        match (&v.avcc, &v.hvcc) {
            (Some(c), _) => Some(NalFormat { length_size: usize::from(c.nal_length_size()), hevc: false }),
            (None, Some(c)) => Some(NalFormat { length_size: usize::from(c.nal_length_size()), hevc: true }),
            _ => None,
        }
    }

    fn header_len(self) -> u64 {
        if self.hevc { 2 } else { 1 }
    }

    /// `nal_unit_type` of a NAL unit header's first byte.
    pub fn nal_type(self, first: u8) -> u8 {
        if self.hevc { (first >> 1) & 0x3f } else { first & 0x1f }
    }

    /// Slices: H.264 types 1–5, H.265 0–31.
    pub fn is_vcl(self, t: u8) -> bool {
        if self.hevc { t < 32 } else { (1..=5).contains(&t) }
    }

    /// IDR pictures: H.264 type 5, H.265 `IDR_W_RADL` (19) and `IDR_N_LP` (20).
    pub fn is_idr(self, t: u8) -> bool {
        if self.hevc { t == 19 || t == 20 } else { t == 5 }
    }

    /// SEI: H.264 type 6, H.265 prefix (39) and suffix (40) SEI.
    pub fn is_sei(self, t: u8) -> bool {
        if self.hevc { t == 39 || t == 40 } else { t == 6 }
    }

    /// Calls `f(nal_type, body offset in the sample, body length)` for each
    /// NAL unit of `sample` (the body is what follows the NAL unit header),
    /// reading only length prefixes and headers from the file, until `f`
    /// breaks or the sample ends. A length past the sample ends the walk.
    pub fn walk(
        self,
        movie: &Movie,
        sample: &Sample,
        mut f: impl FnMut(u8, u64, u64) -> Result<ControlFlow<()>>,
    ) -> Result<()> {
        let size = u64::from(sample.size);
        let need = self.length_size as u64 + 1;
        let mut head = [0u8; 5];
        let mut pos = 0u64;
        while pos + need <= size {
            movie.read_at(sample.offset + pos, &mut head[..need as usize])?;
            let len = head[..self.length_size].iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
            if len == 0 || pos + self.length_size as u64 + len > size {
                break;
            }
            let body_at = pos + self.length_size as u64 + self.header_len();
            let body_len = len.saturating_sub(self.header_len());
            if f(self.nal_type(head[self.length_size]), body_at, body_len)?.is_break() {
                break;
            }
            pos += self.length_size as u64 + len;
        }
        Ok(())
    }
}

/// The RBSP of a NAL unit payload: every `00 00 03` loses its `03`
/// (emulation prevention, H.264 §7.4.1, H.265 §7.4.2).
pub fn unescape(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len());
    let mut zeros = 0;
    for &b in payload {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Reads bits most significant first; `None` past the end.
pub struct BitReader<'a> {
    data: &'a [u8],
    bit: usize,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        BitReader { data, bit: 0 }
    }

    /// Up to 32 bits.
    pub fn bits(&mut self, n: u32) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = self.data.get(self.bit / 8)?;
            v = (v << 1) | u32::from(byte >> (7 - self.bit % 8) & 1);
            self.bit += 1;
        }
        Some(v)
    }

    /// Bits left.
    pub fn remaining(&self) -> usize {
        (self.data.len() * 8).saturating_sub(self.bit)
    }

    /// Exp-Golomb `ue(v)` (H.264 §9.1); values past `u32::MAX` (more than
    /// 31 leading zeros) are refused.
    pub fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bits(1)? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let rest = self.bits(zeros)?;
        ((1u64 << zeros) - 1 + u64::from(rest)).try_into().ok()
    }

    /// Signed Exp-Golomb `se(v)` (§9.1.1).
    pub fn se(&mut self) -> Option<i64> {
        let k = i64::from(self.ue()?);
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rbsp_and_bits() {
        assert_eq!(unescape(&[0, 0, 3, 1, 0, 0, 3]), vec![0, 0, 1, 0, 0]);
        let mut r = BitReader::new(&[0b1010_0110, 0xff]);
        assert_eq!(r.bits(3), Some(0b101));
        // ue: 00110 → 5; se of 1 → 1.
        assert_eq!(r.ue(), Some(5));
        assert_eq!(r.remaining(), 8);
        assert_eq!(r.bits(9), None);
    }

    #[test]
    fn nal_types() {
        let avc = NalFormat { length_size: 4, hevc: false };
        let hevc = NalFormat { length_size: 4, hevc: true };
        assert_eq!(avc.nal_type(0x65), 5);
        assert!(avc.is_idr(5) && avc.is_vcl(1) && !avc.is_vcl(6) && avc.is_sei(6));
        assert_eq!(hevc.nal_type(0x26), 19);
        assert!(hevc.is_idr(19) && hevc.is_vcl(21) && !hevc.is_vcl(39) && hevc.is_sei(39));
    }
}
