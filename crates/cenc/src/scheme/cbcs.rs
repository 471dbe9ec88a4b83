//! The `cbcs` scheme, ISO/IEC 23001-7 §10.4 with pattern encryption (§9.6): AES-128-CBC
//! over the first `crypt` 16-byte blocks of every `crypt + skip` blocks of a protected
//! range. The CBC chain links the encrypted blocks only (skipped blocks are not part of
//! it) and starts from the constant IV at each subsample. When fewer than `crypt` full
//! blocks remain they are all encrypted; a trailing partial block is never encrypted.
//!
//! CBC encryption is serial, so this runs block by block on the raw AES backend, entered
//! once per sample (`encrypt_with_backend`) so that the backend's setup is not paid per
//! block. With the usual 1:9 pattern only one block in ten is touched.

use aes::Aes128;
use aes::cipher::array::Array;
use aes::cipher::consts::U16;
use aes::cipher::{
    BlockCipherDecBackend, BlockCipherDecClosure, BlockCipherDecrypt, BlockCipherEncBackend,
    BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser,
};

use super::protected_ranges;
use crate::Subsample;

#[inline(always)]
fn xor16(a: &mut [u8; 16], b: &[u8; 16]) {
    let x = u128::from_ne_bytes(*a) ^ u128::from_ne_bytes(*b);
    *a = x.to_ne_bytes();
}

struct Job<'a> {
    iv: [u8; 16],
    sample: &'a mut [u8],
    subsamples: &'a [Subsample],
    crypt: usize,
    period: usize,
}

impl BlockSizeUser for Job<'_> {
    type BlockSize = U16;
}

impl BlockCipherEncClosure for Job<'_> {
    #[inline(always)]
    fn call<B: BlockCipherEncBackend<BlockSize = U16>>(self, backend: &B) {
        let len = self.sample.len();
        for range in protected_ranges(len, self.subsamples) {
            let Some(part) = self.sample.get_mut(range) else {
                continue;
            };
            let (blocks, _partial) = part.as_chunks_mut::<16>();
            let mut prev = self.iv;
            for group in blocks.chunks_mut(self.period) {
                for block in group.iter_mut().take(self.crypt) {
                    xor16(block, &prev);
                    let b: &mut Array<u8, U16> = block.into();
                    backend.encrypt_block(b.into());
                    prev = *block;
                }
            }
        }
    }
}

impl BlockCipherDecClosure for Job<'_> {
    #[inline(always)]
    fn call<B: BlockCipherDecBackend<BlockSize = U16>>(self, backend: &B) {
        let len = self.sample.len();
        for range in protected_ranges(len, self.subsamples) {
            let Some(part) = self.sample.get_mut(range) else {
                continue;
            };
            let (blocks, _partial) = part.as_chunks_mut::<16>();
            let mut prev = self.iv;
            for group in blocks.chunks_mut(self.period) {
                for block in group.iter_mut().take(self.crypt) {
                    let ct = *block;
                    let b: &mut Array<u8, U16> = block.into();
                    backend.decrypt_block(b.into());
                    xor16(block, &prev);
                    prev = ct;
                }
            }
        }
    }
}

/// Encrypts (or decrypts) every protected range of `sample` with pattern `crypt:skip`
/// (`crypt >= 1`), restarting the chain from `iv` at each range.
pub(super) fn apply(
    cipher: &Aes128,
    iv: &[u8; 16],
    sample: &mut [u8],
    subsamples: &[Subsample],
    crypt: u8,
    skip: u8,
    encrypt: bool,
) {
    let crypt = usize::from(crypt).max(1);
    let job = Job {
        iv: *iv,
        sample,
        subsamples,
        crypt,
        period: crypt + usize::from(skip),
    };
    if encrypt {
        cipher.encrypt_with_backend(job);
    } else {
        cipher.decrypt_with_backend(job);
    }
}
