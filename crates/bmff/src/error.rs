//! One error type for the whole crate. Every variant names the box (and the
//! field, where there is one) so a failure in a 2 GB file can be found with a
//! box dump; no variant carries payload bytes, so nothing secret (a `tenc`
//! constant IV, `pssh` data) can leak through an error message.

use crate::FourCC;

/// Result of every parse and write in this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Why a box could not be parsed or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A read needed `need` more bytes but only `have` were left in the box.
    #[error("'{kind}': truncated, need {need} bytes, have {have}")]
    Truncated { kind: FourCC, need: u64, have: u64 },
    /// A child box declares a size that runs past the end of its parent.
    #[error(
        "'{child}' inside '{parent}': size {size} runs past the {available} bytes left in the parent"
    )]
    OverDecode {
        parent: FourCC,
        child: FourCC,
        size: u64,
        available: u64,
    },
    /// The body of a box has bytes left after every field was read.
    #[error("'{kind}': {left} unread bytes at the end of the body")]
    UnderDecode { kind: FourCC, left: u64 },
    /// A box size is smaller than its own header, or does not match the buffer.
    #[error("'{kind}': invalid box size {size}")]
    InvalidSize { kind: FourCC, size: u64 },
    /// A required child box is absent.
    #[error("'{parent}': missing required child '{child}'")]
    MissingBox { parent: FourCC, child: FourCC },
    /// A child that may appear at most once appears twice.
    #[error("'{parent}': duplicate child '{child}'")]
    DuplicateBox { parent: FourCC, child: FourCC },
    /// Boxes nest deeper than [`crate::MAX_DEPTH`].
    #[error("'{kind}': boxes nested deeper than {}", crate::MAX_DEPTH)]
    TooDeep { kind: FourCC },
    /// A field holds a value the specification does not allow.
    #[error("'{kind}': invalid {field}")]
    Invalid { kind: FourCC, field: &'static str },
    /// A full box has a version this crate does not know.
    #[error("'{kind}': unsupported version {version}")]
    UnsupportedVersion { kind: FourCC, version: u8 },
    /// [`crate::Atom::decode`] was given a box of another type.
    #[error("expected a '{expected}' box, found '{found}'")]
    WrongKind { expected: FourCC, found: FourCC },
    /// Two fields that must agree do not (e.g. sample counts across tables).
    #[error("'{kind}': {field} is {found}, expected {expected}")]
    Mismatch {
        kind: FourCC,
        field: &'static str,
        expected: u64,
        found: u64,
    },
    /// A value is too large for the field it must be written into.
    #[error("'{kind}': {field} does not fit its field")]
    TooLarge { kind: FourCC, field: &'static str },
}
