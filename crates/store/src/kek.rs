//! The key-encryption key (KEK) and the sealing of secrets at rest.
//!
//! Content key values (and whole content key policies, which carry token
//! verification secrets) are stored only sealed with AES-256-GCM (NIST SP
//! 800-38D) under a 32-byte KEK that never enters the database:
//!
//! ```text
//! sealed = version (1 byte, 0x01) || nonce (12 random bytes) || ciphertext || tag (16 bytes)
//! AAD    = domain label || version || context
//! ```
//!
//! The context binds a sealed value to its row (a content key value's AAD
//! holds its key ID), so a value copied to another row fails authentication
//! instead of silently serving the wrong key. Nonces are random: at 2^-32
//! collision risk the limit is about 2^32 seals per KEK (SP 800-38D §8.3),
//! far above the number of keys one deployment writes.
//!
//! Where the KEK comes from, first match wins: `CASTGUARD_KEK` (hex or
//! base64 of 32 bytes), `CASTGUARD_KEK_FILE`, `DATA_DIR/kek.key`; if none
//! exists, [`Kek::load_or_create`] writes a new random `DATA_DIR/kek.key` with
//! mode 0600 and says so ([`KekOrigin::Created`]) so the caller can tell the
//! operator once to back it up: without it the stored keys are lost.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use zeroize::{Zeroize, Zeroizing};

/// Environment variable holding the KEK itself (hex or base64).
pub const KEK_ENV: &str = "CASTGUARD_KEK";
/// Environment variable naming a file that holds the KEK.
pub const KEK_FILE_ENV: &str = "CASTGUARD_KEK_FILE";
/// The KEK file created in the data directory on a fresh install.
pub const KEK_FILE_NAME: &str = "kek.key";

const SEAL_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Why a KEK could not be loaded. Never contains key material.
#[derive(Debug, thiserror::Error)]
pub enum KekError {
    #[error("{source_name}: the key-encryption key must be 32 bytes, got {actual}")]
    Length { source_name: String, actual: usize },
    #[error("{source_name}: the key-encryption key must be 64 hex digits or base64 of 32 bytes")]
    Encoding { source_name: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no random bytes for a new key-encryption key: {0}")]
    Random(getrandom::Error),
}

/// Where the KEK came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KekOrigin {
    /// `CASTGUARD_KEK`.
    Env,
    /// An existing file (`CASTGUARD_KEK_FILE` or `DATA_DIR/kek.key`).
    File(PathBuf),
    /// A new key was generated and written here: tell the operator to back
    /// it up.
    Created(PathBuf),
}

impl KekOrigin {
    pub fn created(&self) -> bool {
        matches!(self, KekOrigin::Created(_))
    }
}

/// A 256-bit key-encryption key. `Debug` is redacted, memory is zeroed on drop.
#[derive(Clone)]
pub struct Kek(Zeroizing<[u8; 32]>);

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kek(<redacted>)")
    }
}

/// A sealed value did not open: wrong KEK, or the row was altered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("sealed value is malformed ({0} bytes)")]
    Malformed(usize),
    #[error("sealed value has unknown version {0}")]
    Version(u8),
    #[error(
        "sealed value failed authentication (wrong key-encryption key, or the stored row was altered)"
    )]
    Authentication,
    #[error("no random nonce available")]
    Random,
}

impl Kek {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Kek(Zeroizing::new(bytes))
    }

    /// A new random KEK.
    pub fn generate() -> Result<Self, KekError> {
        let mut k = Zeroizing::new([0u8; 32]);
        getrandom::fill(k.as_mut()).map_err(KekError::Random)?;
        Ok(Kek(k))
    }

    /// Parses 64 hex digits, or standard / URL-safe base64 (padding optional)
    /// of exactly 32 bytes. Surrounding whitespace is ignored. `source_name`
    /// only labels errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, KekError> {
        let t = text.trim();
        let mut decoded: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::new());
        if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            *decoded = hex::decode(t).map_err(|_| KekError::Encoding {
                source_name: source_name.into(),
            })?;
        } else {
            let cfg = GeneralPurposeConfig::new()
                .with_decode_padding_mode(DecodePaddingMode::Indifferent);
            let std = GeneralPurpose::new(&base64::alphabet::STANDARD, cfg);
            let url = GeneralPurpose::new(&base64::alphabet::URL_SAFE, cfg);
            *decoded =
                std.decode(t)
                    .or_else(|_| url.decode(t))
                    .map_err(|_| KekError::Encoding {
                        source_name: source_name.into(),
                    })?;
        }
        let bytes: [u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| KekError::Length {
                source_name: source_name.into(),
                actual: decoded.len(),
            })?;
        Ok(Kek(Zeroizing::new(bytes)))
    }

    /// Reads a KEK file (hex or base64 text).
    pub fn load_file(path: &Path) -> Result<Self, KekError> {
        let mut text = std::fs::read_to_string(path).map_err(|source| KekError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let r = Kek::parse(&text, &path.display().to_string());
        text.zeroize();
        warn_if_readable_by_others(path);
        r
    }

    /// The KEK from `CASTGUARD_KEK`, `CASTGUARD_KEK_FILE` or
    /// `DATA_DIR/kek.key`, creating the last on a fresh install.
    pub fn load_or_create(data_dir: &Path) -> Result<(Self, KekOrigin), KekError> {
        let env = std::env::var(KEK_ENV).ok().map(Zeroizing::new);
        let file = std::env::var_os(KEK_FILE_ENV).map(PathBuf::from);
        Self::load_or_create_from(
            data_dir,
            env.as_deref().map(String::as_str),
            file.as_deref(),
        )
    }

    /// [`Kek::load_or_create`] with the environment given explicitly.
    pub fn load_or_create_from(
        data_dir: &Path,
        env_kek: Option<&str>,
        env_file: Option<&Path>,
    ) -> Result<(Self, KekOrigin), KekError> {
        if let Some(text) = env_kek {
            return Ok((Kek::parse(text, KEK_ENV)?, KekOrigin::Env));
        }
        if let Some(path) = env_file {
            return Ok((Kek::load_file(path)?, KekOrigin::File(path.to_path_buf())));
        }
        let path = data_dir.join(KEK_FILE_NAME);
        match Kek::load_file(&path) {
            Ok(k) => return Ok((k, KekOrigin::File(path))),
            Err(KekError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        create_private_dir(data_dir)?;
        let kek = Kek::generate()?;
        let mut text = Zeroizing::new(hex::encode(kek.0.as_ref()));
        text.push('\n');
        let io = |source| KekError::Io {
            path: path.clone(),
            source,
        };
        let mut f = open_new_private(&path).map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        // Make the new directory entry durable too.
        if let Ok(dir) = std::fs::File::open(data_dir) {
            let _ = dir.sync_all();
        }
        Ok((kek, KekOrigin::Created(path)))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&Key::<Aes256Gcm>::from(*self.0))
    }

    fn aad(domain: &[u8], context: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(domain.len() + 1 + context.len());
        aad.extend_from_slice(domain);
        aad.push(SEAL_VERSION);
        aad.extend_from_slice(context);
        aad
    }

    /// Seals `plaintext`; `domain` says what kind of value it is, `context`
    /// which row it belongs to.
    pub fn seal(
        &self,
        domain: &[u8],
        context: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SealError::Random)?;
        let aad = Self::aad(domain, context);
        let ct = self
            .cipher()
            .encrypt(
                &aes_gcm::Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Authentication)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(SEAL_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens what [`Kek::seal`] produced with the same `domain` and `context`.
    pub fn open(
        &self,
        domain: &[u8],
        context: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let (&version, rest) = sealed.split_first().ok_or(SealError::Malformed(0))?;
        if version != SEAL_VERSION {
            return Err(SealError::Version(version));
        }
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Malformed(sealed.len()));
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| SealError::Malformed(sealed.len()))?;
        let aad = Self::aad(domain, context);
        self.cipher()
            .decrypt(&aes_gcm::Nonce::from(nonce), Payload { msg: ct, aad: &aad })
            .map(Zeroizing::new)
            .map_err(|_| SealError::Authentication)
    }
}

#[cfg(unix)]
fn open_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

fn create_private_dir(dir: &Path) -> Result<(), KekError> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|source| KekError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(path)
        && m.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "key-encryption key file is accessible to group or others; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn parse_hex_and_base64_variants() {
        let a = Kek::parse(HEX, "t").unwrap();
        let raw: Vec<u8> = (0u8..32).collect();
        let std_b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
        let url_nopad = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xfb; 32]);
        assert_eq!(*Kek::parse(&format!(" {std_b64}\n"), "t").unwrap().0, *a.0);
        assert_eq!(*Kek::parse(&HEX.to_uppercase(), "t").unwrap().0, *a.0);
        assert_eq!(*Kek::parse(&url_nopad, "t").unwrap().0, [0xfb; 32]);
        let short = base64::engine::general_purpose::STANDARD.encode([1u8; 31]);
        match Kek::parse(&short, "CASTGUARD_KEK") {
            Err(KekError::Length { actual: 31, .. }) => {}
            other => panic!("{other:?}"),
        }
        let e = Kek::parse("zz-not-a-key-zz!", "CASTGUARD_KEK")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("CASTGUARD_KEK:") && !e.contains("zz-not"),
            "{e}"
        );
        assert_eq!(format!("{a:?}"), "Kek(<redacted>)");
    }

    #[test]
    fn seal_binds_domain_and_context() {
        let k = Kek::parse(HEX, "t").unwrap();
        let s = k.seal(b"d", b"kid-1", b"sixteen byte key").unwrap();
        assert_eq!(s.len(), 1 + 12 + 16 + 16);
        assert_eq!(
            k.open(b"d", b"kid-1", &s).unwrap().as_slice(),
            b"sixteen byte key"
        );
        assert_eq!(k.open(b"d", b"kid-2", &s), Err(SealError::Authentication));
        assert_eq!(k.open(b"e", b"kid-1", &s), Err(SealError::Authentication));
        let other = Kek::from_bytes([9; 32]);
        assert_eq!(
            other.open(b"d", b"kid-1", &s),
            Err(SealError::Authentication)
        );
        let mut flipped = s.clone();
        if let Some(b) = flipped.last_mut() {
            *b ^= 1;
        }
        assert_eq!(
            k.open(b"d", b"kid-1", &flipped),
            Err(SealError::Authentication)
        );
        assert_eq!(
            k.open(b"d", b"kid-1", &s[..20]),
            Err(SealError::Malformed(20))
        );
        assert_eq!(k.open(b"d", b"kid-1", &[]), Err(SealError::Malformed(0)));
        let mut v2 = s;
        v2[0] = 2;
        assert_eq!(k.open(b"d", b"kid-1", &v2), Err(SealError::Version(2)));
        // Random nonces: sealing twice differs.
        assert_ne!(
            k.seal(b"d", b"c", b"x").unwrap(),
            k.seal(b"d", b"c", b"x").unwrap()
        );
    }

    #[test]
    fn load_or_create_writes_0600_once() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let (k1, o1) = Kek::load_or_create_from(&data, None, None).unwrap();
        assert!(o1.created());
        let path = data.join(KEK_FILE_NAME);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let (k2, o2) = Kek::load_or_create_from(&data, None, None).unwrap();
        assert_eq!(o2, KekOrigin::File(path.clone()));
        assert_eq!(*k1.0, *k2.0);
        // The environment wins over the file.
        let (k3, o3) = Kek::load_or_create_from(&data, Some(HEX), Some(&path)).unwrap();
        assert_eq!(o3, KekOrigin::Env);
        assert_ne!(*k3.0, *k1.0);
        let (k4, o4) = Kek::load_or_create_from(&data, None, Some(&path)).unwrap();
        assert_eq!(o4, KekOrigin::File(path.clone()));
        assert_eq!(*k4.0, *k1.0);
        // A damaged file is an error, not a silent new key.
        std::fs::write(&path, "garbage").unwrap();
        assert!(matches!(
            Kek::load_or_create_from(&data, None, None),
            Err(KekError::Encoding { .. })
        ));
    }
}
