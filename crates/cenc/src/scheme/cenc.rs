//! The `cenc` scheme, ISO/IEC 23001-7 §10.1: AES-128 in CTR mode. The 16-byte counter block
//! is the 8-byte IV followed by a 64-bit big-endian block counter starting at zero (a 16-byte
//! IV is used as the initial counter block); only the low 64 bits increment, wrapping
//! within them (§9.3; RustCrypto's `Ctr64BE` flavour). Within one sample the keystream
//! continues over all protected ranges as if they were contiguous (§9.5.2), at any byte
//! offset.
//!
//! The keystream runs on aws-lc (`aws_lc_rs::cipher::EncryptingKey` in CTR mode, key
//! schedule expanded once per [`super::SampleEncryptor`]): one aws-lc call per protected
//! range, which reaches `openssl speed` rates where the RustCrypto backend stayed at about
//! 0.5-0.7 of them on video-sized samples. Two differences from §9.3 are bridged here:
//! - aws-lc starts every call on a block boundary, so a range that starts inside a block
//!   (the previous range ended mid-block) first XORs the rest of that block's keystream,
//!   made by a one-block call, then continues aligned at the next block;
//! - aws-lc increments the whole 128-bit counter block. That equals the §9.3 64-bit wrap
//!   unless the low 64 bits overflow within a call (possible with a 16-byte IV whose low half
//!   is near 2^64 - 1), so a call is split at the wrap point and resumes with the low half
//!   at zero and the IV half unchanged.
//!
//! If aws-lc refuses the key or a call (it does not for AES-128 CTR with a 16-byte counter
//! block; the check precedes any write), the same bytes go through RustCrypto's
//! `ctr::Ctr64BE` instead, so the output never depends on which backend ran; the tests check
//! both against `ctr::Ctr64BE`.

use std::sync::Arc;

use aes::Aes128;
use aes::cipher::{InnerIvInit, StreamCipher};
use aws_lc_rs::cipher::{AES_128, EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::iv::FixedLength;
use zeroize::Zeroize;

use super::protected_ranges;
use crate::{Error, Key, Result, Subsample};

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

/// The aws-lc CTR key for `key`, or `None` if aws-lc refuses it (then the RustCrypto
/// fallback runs). Shared, because aws-lc keys are not `Clone`.
pub(super) fn aws_key(key: &Key) -> Option<Arc<EncryptingKey>> {
    let unbound = UnboundCipherKey::new(&AES_128, key.as_bytes()).ok()?;
    EncryptingKey::ctr(unbound).ok().map(Arc::new)
}

/// The two key schedules a `cenc` call may use.
pub(super) struct Keys<'a> {
    pub(super) aws: Option<&'a EncryptingKey>,
    pub(super) fallback: &'a Aes128,
}

/// XORs the keystream starting at counter block `high || low` into `buf`, the low half
/// incrementing modulo 2^64 (§9.3).
fn keystream(keys: &Keys<'_>, high: u64, mut low: u64, mut buf: &mut [u8]) {
    while !buf.is_empty() {
        // Blocks `low..=u64::MAX` fit before the low half wraps; whole blocks, so the
        // next call starts on a block boundary with `low == 0`.
        let before_wrap = (u128::from(u64::MAX - low) + 1) * 16;
        let n = usize::try_from(before_wrap).map_or(buf.len(), |cap| cap.min(buf.len()));
        let (now, later) = std::mem::take(&mut buf).split_at_mut(n);
        let block = (u128::from(high) << 64 | u128::from(low)).to_be_bytes();
        one_call(keys, block, now);
        buf = later;
        low = 0;
    }
}

/// One contiguous keystream run from counter block `block`, no 64-bit wrap inside it.
fn one_call(keys: &Keys<'_>, block: [u8; 16], buf: &mut [u8]) {
    if let Some(aws) = keys.aws {
        let context = EncryptionContext::Iv128(FixedLength::from(block));
        if aws.less_safe_encrypt(buf, context).is_ok() {
            return;
        }
    }
    let core = ctr::CtrCore::<Aes128, ctr::flavors::Ctr64BE>::inner_iv_init(
        keys.fallback.clone(),
        &block.into(),
    );
    let mut c = ctr::Ctr64BE::<Aes128>::from_core(core);
    c.apply_keystream(buf);
}

pub(super) fn apply(
    keys: &Keys<'_>,
    counter: &[u8; 16],
    sample: &mut [u8],
    subsamples: &[Subsample],
) -> Result<()> {
    let mut half = [0u8; 8];
    half.copy_from_slice(&counter[..8]);
    let high = u64::from_be_bytes(half);
    half.copy_from_slice(&counter[8..]);
    let low = u64::from_be_bytes(half);
    // Keystream bytes used so far in this sample.
    let mut pos: u64 = 0;
    let len = sample.len();
    for range in protected_ranges(len, subsamples) {
        let Some(mut data) = sample.get_mut(range) else {
            continue;
        };
        let skip = (pos % 16) as usize;
        if skip != 0 && !data.is_empty() {
            // Finish the block the previous range stopped inside.
            let mut ks = [0u8; 16];
            keystream(keys, high, low.wrapping_add(pos / 16), &mut ks);
            let n = data.len().min(16 - skip);
            let (head, rest) = data.split_at_mut(n);
            for (d, k) in head.iter_mut().zip(ks.iter().skip(skip)) {
                *d ^= k;
            }
            ks.zeroize();
            pos += n as u64;
            data = rest;
        }
        if !data.is_empty() {
            keystream(keys, high, low.wrapping_add(pos / 16), data);
            pos += data.len() as u64;
        }
    }
    Ok(())
}
