//! `stco` and `co64` (ISO/IEC 14496-12 §8.7.5): file offsets of chunks,
//! 32 or 64 bits.

use crate::FourCC;

u_list_box!(
    /// Chunk offset box, 32-bit.
    Stco, FourCC::STCO, offsets, u32, u32, put_u32, 4
);
u_list_box!(
    /// Chunk offset box, 64-bit.
    Co64, FourCC::CO64, offsets, u64, u64, put_u64, 8
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::Atom;
    use crate::atom::testutil::*;

    #[test]
    fn offsets_roundtrip() {
        let b = roundtrip(&Stco {
            offsets: vec![48, 4096, u32::MAX],
        });
        truncations_fail::<Stco>(&b);
        let b = roundtrip(&Co64 {
            offsets: vec![48, u64::from(u32::MAX) + 1, u64::MAX],
        });
        truncations_fail::<Co64>(&b);
        assert!(Co64::decode(b"\0\0\0\x10co64\0\0\0\0\x80\0\0\0").is_err());
    }
}
