//! Sample encryption: applies one scheme's cipher to the protected ranges of a sample
//! (ISO/IEC 23001-7 §9.5 "Subsample encryption", §10.1 `cenc`, §10.4 `cbcs`).
//!
//! The ranges come from [`crate::SubsampleGenerator`] (or from a `senc` box on ingest); an
//! empty subsample list means the whole sample is protected.

mod cbcs;
mod cenc;

use std::sync::Arc;

use aes::Aes128;
use aes::cipher::KeyInit;
use aws_lc_rs::cipher::EncryptingKey;

use crate::{Error, Key, Pattern, Result, Scheme, Subsample, TrackCrypto};

/// Encrypts and decrypts samples of one track under one key. Holds the expanded AES key
/// (zeroized on drop by the `aes` crate and by aws-lc) and never prints it.
#[derive(Clone)]
pub struct SampleEncryptor {
    cipher: Aes128,
    /// `cenc` only: the aws-lc CTR key schedule (`None` for `cbcs`, or if aws-lc refused
    /// the key, in which case `cipher` runs the CTR fallback).
    ctr: Option<Arc<EncryptingKey>>,
    scheme: Scheme,
    pattern: Pattern,
    constant_iv: Option<[u8; 16]>,
}

impl std::fmt::Debug for SampleEncryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleEncryptor")
            .field("scheme", &self.scheme)
            .field("pattern", &self.pattern)
            .finish_non_exhaustive()
    }
}

impl SampleEncryptor {
    /// Expands `key` for the track described by `crypto`.
    pub fn new(key: &Key, crypto: &TrackCrypto) -> Self {
        SampleEncryptor {
            cipher: Aes128::new(key.as_bytes().into()),
            ctr: match crypto.scheme {
                Scheme::Cenc => cenc::aws_key(key),
                Scheme::Cbcs => None,
            },
            scheme: crypto.scheme,
            pattern: crypto.pattern,
            constant_iv: crypto.constant_iv,
        }
    }

    /// Encrypts `sample` in place.
    ///
    /// `cenc`: `iv` is the 8-byte (or 16-byte) per-sample IV; one AES-CTR keystream runs
    /// over the protected ranges of the sample in order, continuing at any byte offset.
    /// `cbcs`: `iv` is the 16-byte constant IV, or empty to use the track's; the CBC chain
    /// restarts from it at each subsample's protected range, the pattern applies within
    /// the range, and a trailing partial 16-byte block stays clear.
    pub fn encrypt(&self, iv: &[u8], sample: &mut [u8], subsamples: &[Subsample]) -> Result<()> {
        self.run(iv, sample, subsamples, true)
    }

    /// Decrypts `sample` in place (the inverse of [`SampleEncryptor::encrypt`]).
    pub fn decrypt(&self, iv: &[u8], sample: &mut [u8], subsamples: &[Subsample]) -> Result<()> {
        self.run(iv, sample, subsamples, false)
    }

    fn run(
        &self,
        iv: &[u8],
        sample: &mut [u8],
        subsamples: &[Subsample],
        encrypt: bool,
    ) -> Result<()> {
        check_cover(sample.len(), subsamples)?;
        match self.scheme {
            Scheme::Cenc => {
                let counter = cenc::counter_block(iv)?;
                let keys = cenc::Keys {
                    aws: self.ctr.as_deref(),
                    fallback: &self.cipher,
                };
                cenc::apply(&keys, &counter, sample, subsamples)
            }
            Scheme::Cbcs => {
                let iv: [u8; 16] = match (iv.len(), self.constant_iv) {
                    (0, Some(c)) => c,
                    _ => iv.try_into().map_err(|_| Error::IvLength {
                        scheme: "cbcs",
                        len: iv.len(),
                        expected: "16 (or 0 with a constant IV)",
                    })?,
                };
                let Pattern { crypt, skip } = self.pattern;
                let (crypt, skip) = match (crypt, skip) {
                    // §9.6 / shaka-packager: 0:0 is no pattern, every full block encrypted.
                    (0, 0) => (1, 0),
                    (0, _) => return Err(Error::InvalidPattern { crypt, skip }),
                    other => other,
                };
                cbcs::apply(&self.cipher, &iv, sample, subsamples, crypt, skip, encrypt);
                Ok(())
            }
        }
    }
}

/// Subsamples must cover the sample exactly (§7.2: their sizes add up to the sample size).
fn check_cover(len: usize, subsamples: &[Subsample]) -> Result<()> {
    if subsamples.is_empty() {
        return Ok(());
    }
    let covered: u64 = subsamples
        .iter()
        .map(|s| u64::from(s.clear) + u64::from(s.protected))
        .sum();
    if covered != len as u64 {
        return Err(Error::SubsampleMismatch {
            covered,
            sample: len,
        });
    }
    Ok(())
}

/// The protected byte ranges, in order; the whole sample when there are no subsamples.
fn protected_ranges(
    len: usize,
    subsamples: &[Subsample],
) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let whole = subsamples.is_empty().then_some(0..len);
    let mut pos = 0usize;
    let parts = subsamples.iter().filter_map(move |s| {
        let start = pos.saturating_add(usize::from(s.clear));
        let end = start.saturating_add(s.protected as usize);
        pos = end;
        (s.protected > 0).then_some(start..end)
    });
    whole.into_iter().chain(parts)
}

#[cfg(test)]
mod tests;
