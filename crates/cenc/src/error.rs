//! One error type for the crate. Variants name the field, NAL unit or byte offset that
//! failed; none carries key bytes (keys are never formatted, see [`crate::Key`]).

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in `cenc`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A key ID string was neither 32 hex digits nor a UUID.
    #[error("invalid key ID {text:?}: expected 32 hex digits or a UUID (8-4-4-4-12)")]
    InvalidKeyId { text: String },
    /// A key string was not 32 hex digits (the text itself is never echoed).
    #[error("invalid content key: expected 32 hex digits ({len} characters given)")]
    InvalidKey { len: usize },
    /// A `KID:KEY` pair lacked its colon.
    #[error("invalid KID:KEY pair: no ':' separator")]
    InvalidKeyPair,
    /// A PlayReady key seed shorter than the 30 bytes the algorithm truncates to.
    #[error("PlayReady key seed has {len} bytes, at least 30 are needed")]
    KeySeedTooShort { len: usize },
    /// The operating system's random number generator failed.
    #[error("random number generator failed: {0}")]
    Random(getrandom::Error),
    /// `lengthSizeMinusOne + 1` in avcC/hvcC must be 1, 2 or 4.
    #[error("unsupported NAL unit length size {0} (expected 1, 2 or 4)")]
    NalLengthSize(u8),
    /// A NAL length prefix was cut off by the end of the sample.
    #[error("NAL unit length prefix at sample byte offset {offset} is truncated")]
    NalLengthTruncated { offset: usize },
    /// A NAL unit claims more bytes than the sample holds.
    #[error(
        "NAL unit at sample byte offset {offset} declares {declared} bytes, only {available} remain"
    )]
    NalTruncated {
        offset: usize,
        declared: usize,
        available: usize,
    },
    /// A zero-length NAL unit, or one shorter than its own header.
    #[error("NAL unit at sample byte offset {offset} has {len} bytes, shorter than its header")]
    NalTooShort { offset: usize, len: usize },
    /// A VCL NAL unit type whose slice header this crate cannot size.
    #[error("{codec} NAL unit type {nal_type} at sample byte offset {offset} is not supported")]
    UnsupportedNal {
        codec: &'static str,
        nal_type: u8,
        offset: usize,
    },
    /// A parameter set (from the decoder configuration or in band) did not parse.
    #[error("{codec} {kind} could not be parsed: {reason}")]
    ParameterSet {
        codec: &'static str,
        kind: &'static str,
        reason: String,
    },
    /// A slice header did not parse, so its size (and the protected range) is unknown.
    #[error(
        "{codec} slice header (NAL type {nal_type}) at sample byte offset {offset} could not be parsed: {reason}"
    )]
    SliceHeader {
        codec: &'static str,
        nal_type: u8,
        offset: usize,
        reason: String,
    },
    /// Subsample sizes do not add up to the sample size.
    #[error("subsamples cover {covered} bytes but the sample has {sample} bytes")]
    SubsampleMismatch { covered: u64, sample: usize },
    /// The IV has a length the scheme does not allow.
    #[error("IV of {len} bytes is invalid for scheme '{scheme}' (expected {expected})")]
    IvLength {
        scheme: &'static str,
        len: usize,
        expected: &'static str,
    },
    /// A pattern with crypt_byte_block 0 but skip_byte_block > 0 encrypts nothing.
    #[error("invalid encryption pattern {crypt}:{skip}")]
    InvalidPattern { crypt: u8, skip: u8 },
    /// A PlayReady header cannot be built with these parameters.
    #[error("PlayReady header {version}: {reason}")]
    PlayReady {
        version: &'static str,
        reason: &'static str,
    },
    /// An HLS AES-128 segment is malformed (length or padding).
    #[error("HLS AES-128 segment: {0}")]
    HlsSegment(&'static str),
}
