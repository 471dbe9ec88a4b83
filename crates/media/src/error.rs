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
    /// A box of the input that cannot be read as the specification says,
    /// located by its type and the file offset where it starts.
    #[error("{path}: '{kind}' box at offset {offset}: {message}")]
    Malformed { path: PathBuf, kind: bmff::FourCC, offset: u64, message: String },
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
    /// The files of a title do not make a ladder players can switch in.
    #[error("{0}")]
    Ladder(String),
    /// A text (subtitle) file that cannot be read, located by its line
    /// when known.
    #[error("{}: {message}", crate::text::located(path, *line))]
    Text { path: PathBuf, line: Option<u32>, message: String },
    /// A `.ism` server manifest that cannot be read or does not match its
    /// folder, located by its line when known ([`crate::ism`]).
    #[error("{}: {message}", crate::text::located(path, *line))]
    Ism { path: PathBuf, line: Option<u32>, message: String },
    /// An error of one input file of a title.
    #[error("{}: {source}", path.display())]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
    pub(crate) fn track(track: u32, message: impl Into<String>) -> Self {
        Error::Track { track, message: message.into() }
    }
}
