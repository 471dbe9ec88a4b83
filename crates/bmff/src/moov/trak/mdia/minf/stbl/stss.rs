//! `stss` (ISO/IEC 14496-12 §8.6.2): the sync samples (key frames), as
//! increasing 1-based sample numbers. Without it every sample is a sync sample.

use crate::FourCC;

u_list_box!(
    /// Sync sample box.
    Stss, FourCC::STSS, samples, u32, u32, put_u32, 4
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn stss_roundtrip() {
        let b = roundtrip(&Stss {
            samples: vec![1, 51],
        });
        truncations_fail::<Stss>(&b);
    }
}
