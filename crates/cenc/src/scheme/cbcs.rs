//! The `cbcs` scheme, ISO/IEC 23001-7 §10.4 with pattern encryption (§9.6): AES-128-CBC
//! over the first `crypt` 16-byte blocks of every `crypt + skip` blocks of a protected
//! range. The CBC chain links the encrypted blocks only (skipped blocks are not part of
//! it) and starts from the constant IV at each subsample. When fewer than `crypt` full
//! blocks remain they are all encrypted; a trailing partial block is never encrypted.
//!
//! Implemented block by block on the raw AES block cipher: with the usual 1:9 pattern only
//! one block in ten is touched, so this runs at memory speed.

use aes::Aes128;
use aes::cipher::array::Array;
use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt};

#[inline]
fn xor16(a: &mut [u8; 16], b: &[u8; 16]) {
    let x = u128::from_ne_bytes(*a) ^ u128::from_ne_bytes(*b);
    *a = x.to_ne_bytes();
}

pub(super) fn encrypt_pattern(
    cipher: &Aes128,
    iv: &[u8; 16],
    data: &mut [u8],
    crypt: u8,
    skip: u8,
) {
    let (blocks, _partial) = data.as_chunks_mut::<16>();
    let period = (usize::from(crypt) + usize::from(skip)).max(1);
    let crypt = usize::from(crypt);
    let mut prev = *iv;
    for group in blocks.chunks_mut(period) {
        for block in group.iter_mut().take(crypt) {
            xor16(block, &prev);
            let b: &mut Array<u8, _> = block.into();
            cipher.encrypt_block(b);
            prev = *block;
        }
    }
}

pub(super) fn decrypt_pattern(
    cipher: &Aes128,
    iv: &[u8; 16],
    data: &mut [u8],
    crypt: u8,
    skip: u8,
) {
    let (blocks, _partial) = data.as_chunks_mut::<16>();
    let period = (usize::from(crypt) + usize::from(skip)).max(1);
    let crypt = usize::from(crypt);
    let mut prev = *iv;
    for group in blocks.chunks_mut(period) {
        for block in group.iter_mut().take(crypt) {
            let ct = *block;
            let b: &mut Array<u8, _> = block.into();
            cipher.decrypt_block(b);
            xor16(block, &prev);
            prev = ct;
        }
    }
}
