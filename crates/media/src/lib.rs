//! Media: the packaging core shared by `castguard package` and the origin.
//!
//! - [`movie`] reads a progressive MP4 (only its `moov` in memory);
//! - [`plan`] decides where segments start (sync samples, tracks aligned);
//! - [`cmaf`] writes clear CMAF init and media segments;
//! - [`protect`] turns clear CMAF into Common Encryption or HLS AES-128,
//!   deterministically, so the origin can do it per request;
//! - [`manifest`] writes DASH MPDs and HLS playlists;
//! - [`setup`] holds the protection settings and, per track, the key,
//!   PSSH and manifest signalling they give;
//! - [`package`] ties them together for a whole file;
//! - [`asset`] stores an ingested title as clear CMAF with an index.

pub mod asset;
pub mod cmaf;
pub mod codec;
pub mod error;
pub mod manifest;
pub mod movie;
pub mod origin;
pub mod package;
pub mod plan;
pub mod protect;
pub mod setup;

pub use error::{Error, Result};
