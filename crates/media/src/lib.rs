//! Media: the packaging core shared by `castguard package` and the origin.
//!
//! - [`movie`] reads a progressive or fragmented MP4 (only its `moov`, and
//!   the `moof`s of a fragmented one, in memory; [`fragmented`] walks those);
//! - [`title`] gathers the tracks of one or several files into one title
//!   (an ABR ladder) and checks that its renditions can be switched;
//! - [`audio`] reads each audio codec's configuration (channels, rate,
//!   Dolby channel map) and [`scan`] whether video is interlaced;
//! - [`plan`] decides where segments start (sync samples, tracks aligned,
//!   audio cut on its own under long GOPs) and [`sap`] what kind of start
//!   each key frame gives (closed or open GOP);
//! - [`cmaf`] writes clear CMAF init and media segments;
//! - [`protect`] turns clear CMAF into Common Encryption or HLS AES-128,
//!   deterministically, so the origin can do it per request;
//! - [`bandwidth`] computes DASH and HLS bit rates from segment sizes;
//! - [`manifest`] writes DASH MPDs and HLS playlists;
//! - [`setup`] holds the protection settings and, per track, the key,
//!   PSSH and manifest signalling they give;
//! - [`track_class`] puts a track in its key class (AUDIO, SD, HD, UHD1, UHD2);
//! - [`package`] ties them together for a whole file;
//! - [`asset`] stores an ingested title as clear CMAF with an index;
//! - [`live`] grows one from an encoder's CMAF ingest, fragment by fragment,
//!   and [`flv`] remuxes an RTMP push (FLV tags) into that CMAF;
//! - [`ism`] reads the `.ism` of an encoder's asset folder: which files
//!   make the title.

pub mod asset;
pub mod audio;
pub mod bandwidth;
pub mod captions;
pub mod cmaf;
pub mod codec;
pub mod error;
pub mod flv;
pub mod fragmented;
pub mod ism;
pub mod language;
pub mod live;
pub mod manifest;
pub mod movie;
pub mod nal;
pub mod origin;
pub mod package;
pub mod plan;
pub mod protect;
pub mod rotation;
pub mod sap;
pub mod scan;
pub mod setup;
pub mod track_class;
pub mod text;
pub mod title;

pub use error::{Error, Result};
