//! DASH-IF CPIX 2.3 documents (Content Protection Information Exchange,
//! <https://dashif.org/docs/CPIX2.3/HTML/Index.html>): the one model that
//! key export, key import and the SPEKE v2 key provider ([`speke`]) read
//! and write.
//!
//! A [`Document`] holds what castguard exchanges: content keys (KID and,
//! when known, the 16-byte value), each DRM system's signalling per key
//! (`PSSH`, DASH `ContentProtectionData`, HLS `URIExtXKey` and
//! `HLSSignalingData` for the master and media playlists), and the usage
//! rules that say which tracks a key is for. [`Document::parse`] reads one
//! ([`read`]), [`Document::to_xml`] writes one ([`write`]), either with
//! key values in the clear (`PlainValue`) or encrypted for a recipient
//! certificate ([`crypto`], CPIX §4.4).
//!
//! What a reader refuses, and why:
//! - anything XML can do beyond elements and text (a DOCTYPE, entities),
//!   and documents over the bounds of [`xml`];
//! - a usage rule with a filter castguard does not know: CPIX §5.3.3 makes
//!   such a key unusable, and an importer that dropped the filter would
//!   use the key for tracks the sender meant to exclude;
//! - a document whose XML signatures (`ds:Signature`) do not all verify
//!   ([`dsig`], over [`c14n`]), or, when a trusted signer is required, whose
//!   lists are not all signed by it;
//! - a wrong `ValueMAC`, checked before a content key is decrypted.

pub mod c14n;
pub mod crypto;
pub mod dsig;
pub mod identity;
mod read;
pub mod speke;
mod write;
pub mod xml;

pub use crypto::{Recipient, RecipientKey};
pub use dsig::{Signer, TrustedSigner, VerifiedSignature};
pub use identity::RecipientIdentity;

use crate::model::ContentKeyValue;
use uuid::Uuid;

pub const NS_CPIX: &str = "urn:dashif:org:cpix";
pub const NS_PSKC: &str = "urn:ietf:params:xml:ns:keyprov:pskc";
pub const NS_XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Most content keys (and as many DRM systems per key, usage rules per
/// key) in one document.
pub const MAX_KEYS: usize = 1024;

/// A CPIX document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    /// `CPIX@contentId`.
    pub content_id: Option<String>,
    pub content_keys: Vec<ContentKeyEntry>,
    pub drm_systems: Vec<DrmSystem>,
    /// `ContentKeyPeriodList`: the crypto periods of a stream whose keys
    /// rotate, which usage rules name by `KeyPeriodFilter@periodId`.
    pub periods: Vec<ContentKeyPeriod>,
    pub usage_rules: Vec<UsageRule>,
}

/// A `ContentKeyPeriod` (CPIX §5.4): a crypto period by its `@id` (an
/// `xs:ID`, what `KeyPeriodFilter@periodId` refers to) and `@index`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContentKeyPeriod {
    pub id: String,
    pub index: Option<u64>,
}

/// A `ContentKey`.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentKeyEntry {
    pub kid: Uuid,
    /// The key; `None` when the document carries no value for it (a
    /// SPEKE request asks for it).
    pub value: Option<ContentKeyValue>,
    /// `@commonEncryptionScheme`: `cenc`, `cbcs`, ...
    pub common_encryption_scheme: Option<String>,
    /// `@explicitIV` (base64 as written).
    pub explicit_iv: Option<String>,
}

/// A `DRMSystem`: one system's signalling for one key. Each `Option<Vec>`
/// is an element's decoded base64; `Some(empty)` is an element present
/// without content (SPEKE requests list what they want filled that way).
#[derive(Clone, PartialEq, Default)]
pub struct DrmSystem {
    pub system_id: Uuid,
    pub kid: Uuid,
    pub name: Option<String>,
    /// A whole `pssh` box.
    pub pssh: Option<Vec<u8>>,
    /// DASH `ContentProtection` element(s), as an XML fragment.
    pub content_protection_data: Option<Vec<u8>>,
    /// The `URI` attribute value of HLS `EXT-X-KEY`.
    pub uri_ext_x_key: Option<Vec<u8>>,
    /// `HLSSignalingData playlist="master"`: `EXT-X-SESSION-KEY` line(s).
    pub hls_signaling_master: Option<Vec<u8>>,
    /// `HLSSignalingData playlist="media"`: `EXT-X-KEY` line(s).
    pub hls_signaling_media: Option<Vec<u8>>,
    pub smooth_streaming_protection_header_data: Option<String>,
}

impl std::fmt::Debug for DrmSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = |v: &Option<Vec<u8>>| v.as_ref().map(Vec::len);
        f.debug_struct("DrmSystem")
            .field("system_id", &self.system_id)
            .field("kid", &self.kid)
            .field("name", &self.name)
            .field("pssh_len", &len(&self.pssh))
            .field(
                "content_protection_data_len",
                &len(&self.content_protection_data),
            )
            .field("uri_ext_x_key_len", &len(&self.uri_ext_x_key))
            .field("hls_master_len", &len(&self.hls_signaling_master))
            .field("hls_media_len", &len(&self.hls_signaling_media))
            .finish()
    }
}

/// A `ContentKeyUsageRule`: the key `kid` is for the tracks that pass
/// every filter (CPIX §5.3.3: filters of different types combine with AND,
/// of one type with OR).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UsageRule {
    pub kid: Uuid,
    /// `@intendedTrackType`: `AUDIO`, `SD`, `HD`, `UHD1`, ... (SPEKE v2).
    pub intended_track_type: Option<String>,
    pub filters: Vec<Filter>,
}

/// A usage rule filter (CPIX §5.3.3).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    KeyPeriod {
        period_id: String,
    },
    Label {
        label: String,
    },
    Video(VideoFilter),
    Audio {
        min_channels: Option<u64>,
        max_channels: Option<u64>,
    },
    Bitrate {
        min_bitrate: Option<u64>,
        max_bitrate: Option<u64>,
    },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct VideoFilter {
    pub min_pixels: Option<u64>,
    pub max_pixels: Option<u64>,
    pub hdr: Option<bool>,
    pub wcg: Option<bool>,
    pub min_fps: Option<u64>,
    pub max_fps: Option<u64>,
}

/// Why a CPIX document was refused or could not be written. Messages name
/// the element and the key ID, never a key, IV or MAC.
#[derive(Debug, thiserror::Error)]
pub enum CpixError {
    #[error("malformed XML at byte {offset}: {reason}")]
    Malformed { offset: u64, reason: String },
    #[error("a DOCTYPE is not allowed in a CPIX document (no DTD, no entities)")]
    Doctype,
    #[error(
        "entity reference &{0}; is not allowed (only the predefined entities and character references)"
    )]
    Entity(String),
    #[error("encoding {0} is not supported: CPIX documents are read as UTF-8")]
    Encoding(String),
    #[error("the document is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("elements are nested deeper than {max}")]
    TooDeep { max: usize },
    #[error("{element}: more than {max}")]
    TooMany { element: String, max: usize },
    #[error("{element}: {reason}")]
    Invalid { element: String, reason: String },
    #[error(
        "ContentKey {kid}: ValueMAC does not match (the value was altered or the MAC key is wrong)"
    )]
    WrongMac { kid: Uuid },
    #[error(
        "ContentKeyUsageRule for {kid}: unknown filter {filter}; the spec makes its key unusable, so the document is refused"
    )]
    UnknownFilter { kid: Uuid, filter: String },
    #[error("XML signature invalid: {signature}: {reason}")]
    BadSignature { signature: String, reason: String },
    #[error("XML signature not trusted: {0}")]
    Untrusted(String),
    #[error("the content keys are encrypted: give the recipient's private key")]
    NeedsRecipientKey,
    #[error(
        "the document is not encrypted for this recipient key (no DeliveryData names its certificate)"
    )]
    NotForThisRecipient,
    #[error("recipient certificate: {0}")]
    Recipient(String),
    #[error("recipient private key: {0}")]
    RecipientKey(String),
    #[error("{0}")]
    Crypto(&'static str),
}

impl Document {
    /// Reads a CPIX document; `recipient` decrypts encrypted content keys
    /// (their MACs are checked first). See [`read`] for what is refused.
    /// XML signatures, when present, must all verify (by any certificate).
    pub fn parse(bytes: &[u8], recipient: Option<&RecipientKey>) -> Result<Document, CpixError> {
        read::document(bytes, recipient, None).map(|(d, _)| d)
    }

    /// [`Document::parse`] that also says who signed: every signature is
    /// verified (see [`dsig`]) before a key is decrypted; with `trusted`,
    /// the document must be signed and each of its lists covered by a
    /// signature whose certificate has that signer's key.
    pub fn parse_verified(
        bytes: &[u8],
        recipient: Option<&RecipientKey>,
        trusted: Option<&TrustedSigner>,
    ) -> Result<(Document, Vec<VerifiedSignature>), CpixError> {
        read::document(bytes, recipient, trusted)
    }

    /// Writes the document: key values as `PlainValue`, or, with
    /// `encrypt_for`, encrypted for that recipient (`DeliveryDataList`).
    pub fn to_xml(&self, encrypt_for: Option<&Recipient>) -> Result<String, CpixError> {
        write::document(self, encrypt_for)
    }

    /// The usage rules of `kid`.
    pub fn rules_for(&self, kid: Uuid) -> impl Iterator<Item = &UsageRule> {
        self.usage_rules.iter().filter(move |r| r.kid == kid)
    }
}

#[cfg(test)]
mod tests;
