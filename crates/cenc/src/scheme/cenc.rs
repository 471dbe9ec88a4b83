//! The `cenc` scheme, ISO/IEC 23001-7 §10.1: AES-128 in CTR mode. The 16-byte counter block
//! is the 8-byte IV followed by a 64-bit big-endian block counter starting at zero (a 16-byte
//! IV is used as the initial counter block); only the low 64 bits increment, wrapping
//! within them (§9.3; RustCrypto's `Ctr64BE` flavour). Within one sample the keystream
//! continues over all protected ranges as if they were contiguous (§9.5.2), at any byte
//! offset.
//!
//! The keystream is generated here on the AES backend directly (one backend call per
//! sample, counter blocks encrypted in the backend's parallel width, e.g. 64 blocks with
//! VAES-512) rather than through `ctr::Ctr64BE`, whose per-call setup dominated on
//! video-sized subsamples; the tests check it against `ctr::Ctr64BE`.

use aes::Aes128;
use aes::cipher::consts::U16;
use aes::cipher::{
    BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, ParBlocks,
};

use super::protected_ranges;
use crate::{Error, Result, Subsample};

pub(super) fn counter_block(iv: &[u8]) -> Result<[u8; 16]> {
    let mut block = [0u8; 16];
    match iv.len() {
        8 => block[..8].copy_from_slice(iv),
        16 => block.copy_from_slice(iv),
        len => {
            return Err(Error::IvLength {
                scheme: "cenc",
                len,
                expected: "8 or 16",
            });
        }
    }
    Ok(block)
}

struct CtrJob<'a> {
    high: [u8; 8],
    low: u64,
    sample: &'a mut [u8],
    subsamples: &'a [Subsample],
}

impl BlockSizeUser for CtrJob<'_> {
    type BlockSize = U16;
}

impl BlockCipherEncClosure for CtrJob<'_> {
    #[inline(always)]
    fn call<B: BlockCipherEncBackend<BlockSize = U16>>(self, backend: &B) {
        let CtrJob {
            high,
            mut low,
            sample,
            subsamples,
        } = self;
        let mut ks: ParBlocks<B> = Default::default();
        let ks_len = ks.len() * 16;
        // Keystream bytes of `ks` already used; starts "exhausted".
        let mut used = ks_len;
        let len = sample.len();
        for range in protected_ranges(len, subsamples) {
            let Some(mut data) = sample.get_mut(range) else {
                continue;
            };
            while !data.is_empty() {
                if used == ks_len {
                    let hi = u128::from(u64::from_be_bytes(high)) << 64;
                    for block in ks.iter_mut() {
                        *block = (hi | u128::from(low)).to_be_bytes().into();
                        low = low.wrapping_add(1);
                    }
                    backend.encrypt_par_blocks((&mut ks).into());
                    used = 0;
                }
                let n = data.len().min(ks_len - used);
                let (head, rest) = std::mem::take(&mut data).split_at_mut(n);
                let stream = ks.iter().flat_map(|b| b.iter()).skip(used);
                if used == 0 && n == ks_len {
                    // Whole buffer: 16 bytes at a time.
                    let (dst, _) = head.as_chunks_mut::<16>();
                    for (d, k) in dst.iter_mut().zip(ks.iter()) {
                        let x = u128::from_ne_bytes(*d) ^ u128::from_ne_bytes(k.0);
                        *d = x.to_ne_bytes();
                    }
                } else {
                    for (d, k) in head.iter_mut().zip(stream) {
                        *d ^= k;
                    }
                }
                used += n;
                data = rest;
            }
        }
    }
}

pub(super) fn apply(
    cipher: &Aes128,
    counter: &[u8; 16],
    sample: &mut [u8],
    subsamples: &[Subsample],
) -> Result<()> {
    let mut high = [0u8; 8];
    let mut low = [0u8; 8];
    high.copy_from_slice(&counter[..8]);
    low.copy_from_slice(&counter[8..]);
    cipher.encrypt_with_backend(CtrJob {
        high,
        low: u64::from_be_bytes(low),
        sample,
        subsamples,
    });
    Ok(())
}
