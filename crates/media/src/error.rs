//! Errors of the media pipeline. They name the file, track, segment or sample
//! so that a bad input can be found without a debugger, and never carry key
//! material (keys only ever reach `cenc`, whose errors are key-free too).

use std::path::PathBuf;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not an MP4 file: {0}")]
    NotMp4(String),
    #[error("malformed MP4: {0}")]
    Bmff(#[from] bmff::Error),
    #[error("track {track}: {source}")]
    TrackBmff {
        track: u32,
        #[source]
        source: bmff::Error,
    },
    #[error("track {track}: {message}")]
    Track { track: u32, message: String },
    #[error("track {track}, sample {sample}: {source}")]
    Crypto {
        track: u32,
        sample: u32,
        #[source]
        source: cenc::Error,
    },
    #[error("encryption setup: {0}")]
    CryptoSetup(#[from] cenc::Error),
    #[error("no audio or video track to package")]
    NoTracks,
    #[error("segment: {0}")]
    Segment(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
    pub(crate) fn track(track: u32, message: impl Into<String>) -> Self {
        Error::Track { track, message: message.into() }
    }
}
