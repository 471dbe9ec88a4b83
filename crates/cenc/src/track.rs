//! Per-track protection parameters: what the `tenc` box (ISO/IEC 23001-7 §8.2) says, decided
//! once per scheme and codec, and the deterministic IVs.
//!
//! - `cenc` (§10.1): AES-CTR, 8-byte per-sample IVs, no pattern (`0:0`). Video uses
//!   subsample encryption (§9.5.2: NAL length, NAL header and slice header clear).
//! - `cbcs` (§10.4): AES-CBC, constant 16-byte IV (`per_sample_iv_size` 0), pattern
//!   `1:9` for video (the value §10.4.2 recommends and Apple's HLS requires). Audio uses no
//!   pattern: `0:0` in `tenc`, meaning every full 16-byte block of the sample is encrypted
//!   and a trailing partial block stays clear (shaka-packager does the same).
//!
//! castguard derives every protected output on request, so IVs are derived, not random:
//! the same locator and segment must give the same bytes.

use sha2::{Digest, Sha256};

use crate::KeyId;

/// A Common Encryption protection scheme (the `schm` scheme_type).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Scheme {
    /// AES-CTR full-sample and video subsample encryption, ISO/IEC 23001-7 §10.1.
    Cenc,
    /// AES-CBC subsample pattern encryption with a constant IV, ISO/IEC 23001-7 §10.4.
    Cbcs,
}

impl Scheme {
    /// The `schm` scheme_type four-character code.
    pub fn fourcc(self) -> [u8; 4] {
        match self {
            Scheme::Cenc => *b"cenc",
            Scheme::Cbcs => *b"cbcs",
        }
    }
}

/// Pattern encryption (§9.6): `crypt` encrypted 16-byte blocks, then `skip` clear ones.
/// `0:0` means no pattern.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Pattern {
    pub crypt: u8,
    pub skip: u8,
}

/// One `senc` subsample entry (§7.2): `clear` bytes, then `protected` bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Subsample {
    pub clear: u16,
    pub protected: u32,
}

/// The codec of a track, as far as encryption cares.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Codec {
    /// H.264 in `avc1`/`avc3`: subsample encryption of VCL NAL units.
    Avc,
    /// H.265 in `hvc1`/`hev1`: subsample encryption of VCL NAL units.
    Hevc,
    /// AAC: whole-sample encryption.
    Aac,
    /// Any other codec: whole-sample encryption.
    Other,
}

impl Codec {
    /// Whether the codec is NAL-structured video (subsample encryption, video pattern).
    pub fn is_video(self) -> bool {
        matches!(self, Codec::Avc | Codec::Hevc)
    }
}

/// Everything the `tenc` box of one track needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackCrypto {
    pub scheme: Scheme,
    /// `default_KID`.
    pub kid: KeyId,
    /// `default_crypt_byte_block` / `default_skip_byte_block` (tenc version 1 when non-zero
    /// or when the scheme is `cbcs`).
    pub pattern: Pattern,
    /// `default_Per_Sample_IV_Size`: 8 for `cenc`, 0 for `cbcs` (constant IV).
    pub per_sample_iv_size: u8,
    /// `default_constant_IV` (16 bytes) for `cbcs`.
    pub constant_iv: Option<[u8; 16]>,
    /// Whether samples carry subsample maps in `senc` (flag 0x2).
    pub uses_subsamples: bool,
}

impl TrackCrypto {
    /// Decides the track's parameters. Deterministic: the `cbcs` constant IV is the first 16
    /// bytes of SHA-256 over a domain-separation label, the KID and the track ID, so the
    /// same asset, key and track always give the same bytes, and two tracks under one key
    /// get different IVs.
    pub fn new(scheme: Scheme, codec: &Codec, kid: KeyId, track_id: u32) -> TrackCrypto {
        let video = codec.is_video();
        match scheme {
            Scheme::Cenc => TrackCrypto {
                scheme,
                kid,
                pattern: Pattern { crypt: 0, skip: 0 },
                per_sample_iv_size: 8,
                constant_iv: None,
                uses_subsamples: video,
            },
            Scheme::Cbcs => {
                let mut h = Sha256::new();
                h.update(b"castguard/cenc/cbcs-constant-iv/v1\0");
                h.update(kid.0);
                h.update(track_id.to_be_bytes());
                let digest = h.finalize();
                let mut iv = [0u8; 16];
                iv.copy_from_slice(&digest[..16]);
                TrackCrypto {
                    scheme,
                    kid,
                    pattern: if video {
                        Pattern { crypt: 1, skip: 9 }
                    } else {
                        Pattern { crypt: 0, skip: 0 }
                    },
                    per_sample_iv_size: 0,
                    constant_iv: Some(iv),
                    uses_subsamples: video,
                }
            }
        }
    }
}

/// Bits of the `cenc` per-sample IV given to each input (16 + 28 + 20 = 64).
pub const IV_TRACK_BITS: u32 = 16;
/// See [`IV_TRACK_BITS`].
pub const IV_SEQUENCE_BITS: u32 = 28;
/// See [`IV_TRACK_BITS`].
pub const IV_SAMPLE_BITS: u32 = 20;

/// The deterministic 8-byte `cenc` IV of one sample.
///
/// Layout: `track_id` (16 bits) ‖ fragment `sequence_number` (28 bits) ‖ `sample_index`
/// within the fragment (20 bits), XORed with a per-KID 64-bit mask (SHA-256 of a label and
/// the KID). The packing is injective while `track_id < 2^16`, `sequence_number < 2^28`
/// (8.5 years of 1 s fragments) and `sample_index < 2^20`, and XOR with a constant is a
/// bijection, so under one key no two samples of those ranges share an IV. In `cenc` the
/// 16-byte counter block is `IV ‖ block_counter` with the 64-bit block counter starting at
/// 0 for each sample and wrapping within those 64 bits (§10.1, as `Ctr64BE` does): distinct
/// IVs therefore give disjoint sets of counter blocks, and no (IV, counter) pair, i.e. no
/// keystream block, is ever used twice. Inputs beyond those ranges are truncated to their
/// low bits (uniqueness then no longer holds, so callers keep within them).
pub fn sample_iv(kid: KeyId, track_id: u32, sequence_number: u32, sample_index: u32) -> [u8; 8] {
    let packed = (u64::from(track_id & 0xffff) << (IV_SEQUENCE_BITS + IV_SAMPLE_BITS))
        | (u64::from(sequence_number & ((1 << IV_SEQUENCE_BITS) - 1)) << IV_SAMPLE_BITS)
        | u64::from(sample_index & ((1 << IV_SAMPLE_BITS) - 1));
    let mut h = Sha256::new();
    h.update(b"castguard/cenc/sample-iv-mask/v1\0");
    h.update(kid.0);
    let digest = h.finalize();
    let mut mask = [0u8; 8];
    mask.copy_from_slice(&digest[..8]);
    (packed ^ u64::from_be_bytes(mask)).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn track_crypto_per_scheme() {
        let kid = KeyId([7; 16]);
        let v = TrackCrypto::new(Scheme::Cenc, &Codec::Avc, kid, 1);
        assert_eq!(
            (v.per_sample_iv_size, v.constant_iv, v.uses_subsamples),
            (8, None, true)
        );
        assert_eq!(v.pattern, Pattern { crypt: 0, skip: 0 });
        let a = TrackCrypto::new(Scheme::Cenc, &Codec::Aac, kid, 2);
        assert!(!a.uses_subsamples);
        let v = TrackCrypto::new(Scheme::Cbcs, &Codec::Hevc, kid, 1);
        assert_eq!(v.pattern, Pattern { crypt: 1, skip: 9 });
        assert_eq!(v.per_sample_iv_size, 0);
        let a = TrackCrypto::new(Scheme::Cbcs, &Codec::Aac, kid, 2);
        assert_eq!(a.pattern, Pattern { crypt: 0, skip: 0 });
        assert!(!a.uses_subsamples);
        // Deterministic, and distinct per track and per key.
        assert_eq!(
            v.constant_iv,
            TrackCrypto::new(Scheme::Cbcs, &Codec::Hevc, kid, 1).constant_iv
        );
        assert_ne!(v.constant_iv, a.constant_iv);
        assert_ne!(
            v.constant_iv,
            TrackCrypto::new(Scheme::Cbcs, &Codec::Hevc, KeyId([8; 16]), 1).constant_iv
        );
        assert_eq!(Scheme::Cbcs.fourcc(), *b"cbcs");
    }

    #[test]
    fn sample_ivs_unique() {
        let kid = KeyId([3; 16]);
        let mut seen = HashSet::new();
        for track in [1, 2, 0xffff] {
            for seq in [0, 1, 2, (1 << 28) - 1] {
                for idx in [0, 1, 500, (1 << 20) - 1] {
                    assert!(seen.insert(sample_iv(kid, track, seq, idx)));
                }
            }
        }
        assert_eq!(sample_iv(kid, 1, 2, 3), sample_iv(kid, 1, 2, 3));
        assert_ne!(sample_iv(kid, 1, 2, 3), sample_iv(KeyId([4; 16]), 1, 2, 3));
    }
}
