//! The `cenc` scheme, ISO/IEC 23001-7 §10.1: AES-128 in CTR mode. The 16-byte counter block
//! is the 8-byte IV followed by a 64-bit big-endian block counter starting at zero (a 16-byte
//! IV is used as the initial counter block); only the low 64 bits increment (§9.3), which
//! is RustCrypto's `Ctr64BE`. Within one sample the keystream continues over all protected
//! ranges as if they were contiguous (§9.5.2), at any byte offset.

use aes::Aes128;
use aes::cipher::{InnerIvInit, StreamCipher, StreamCipherCoreWrapper};
use ctr::{CtrCore, flavors};

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

pub(super) fn apply(
    cipher: &Aes128,
    counter: &[u8; 16],
    sample: &mut [u8],
    subsamples: &[Subsample],
) -> Result<()> {
    // `Ctr64BE<Aes128>` built from the already expanded key (no key schedule per sample).
    let core = CtrCore::<Aes128, flavors::Ctr64BE>::inner_iv_init(cipher.clone(), counter.into());
    let mut ctr = StreamCipherCoreWrapper::from_core(core);
    for range in protected_ranges(sample.len(), subsamples) {
        if let Some(part) = sample.get_mut(range) {
            ctr.try_apply_keystream(part)
                .map_err(|_| Error::CounterOverflow)?;
        }
    }
    Ok(())
}
