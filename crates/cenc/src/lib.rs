//! Common Encryption (ISO/IEC 23001-7, 3rd ed. 2016 / 4th ed. 2023) for castguard:
//! the `cenc` (AES-CTR) and `cbcs` (AES-CBC with a 1:9 pattern and a constant IV) schemes,
//! subsample maps for AVC and HEVC, DRM system data for the `pssh` boxes (Widevine,
//! PlayReady, FairPlay signalling), HLS AES-128 whole-segment encryption, and keys.
//!
//! The crate follows shaka-packager's separation of concerns:
//! - [`SubsampleGenerator`] only decides which byte ranges of a sample are clear and which
//!   are protected (per codec, per scheme), without touching a key;
//! - [`SampleEncryptor`] applies one scheme's cipher to those ranges;
//! - [`Key`], [`KeyId`] and [`ContentKey`] say where keys come from, apart from both.
//!
//! It produces bytes and ranges only: the `bmff` crate owns the boxes (`tenc`, `senc`,
//! `pssh`) that carry them, and [`TrackCrypto`] holds exactly what a `tenc` needs.

mod error;
pub mod hls;
mod key;
pub mod pssh;
mod scheme;
mod subsample;
mod track;

pub use error::{Error, Result};
pub use key::{ContentKey, Key, KeyId};
pub use scheme::SampleEncryptor;
pub use subsample::SubsampleGenerator;
pub use track::{
    Codec, IV_SAMPLE_BITS, IV_SEQUENCE_BITS, IV_TRACK_BITS, Pattern, Scheme, Subsample,
    TrackCrypto, sample_iv,
};
