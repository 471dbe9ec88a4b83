//! HTTPS built in: the rustls server configuration from a PEM certificate
//! chain and private key, and what the rest of the server needs to know
//! about a connection's transport.
//!
//! Why in the binary rather than only behind a proxy: key delivery must
//! reach players over HTTPS ("players should get keys only over HTTPS",
//! issue 8), and a single-node install should not need a second program
//! for that. rustls (RFC 8446 TLS 1.3, RFC 5246 TLS 1.2) runs on the
//! aws-lc-rs provider that the token code already uses, so no second
//! crypto library joins the build. ALPN (RFC 7301) offers `h2` then
//! `http/1.1`: HTTP/2 to clients that speak it, HTTP/1.1 to the others
//! (rustls's default cipher suites are all AEAD with forward secrecy, as
//! RFC 9113 §9.2 requires of HTTP/2 over TLS 1.2).
//!
//! HSTS (RFC 6797 §7.1): every response to a request that came over HTTPS
//! carries `Strict-Transport-Security: max-age=31536000`; §7.2 forbids it on
//! plain HTTP, so plain responses never carry it.
//!
//! Certificate renewal without a restart ([`CertFiles`]): the files are
//! read again on SIGHUP and when their modification time or size changes
//! (polled every few seconds: one `stat` per file, no file-watching
//! machinery). The certificate is chosen per handshake by a rustls
//! `ResolvesServerCert` over a swappable `Arc`, so connections already
//! open are untouched, and a reload that fails keeps the previous pair.
//!
//! Errors name the file and what is wrong with it, never its content: a
//! key file's bytes must not reach a terminal or log (the PEM parser's own
//! messages can quote lines of the file, so they are not passed on).

use axum::http::HeaderValue;
pub use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use zeroize::Zeroizing;

/// `Strict-Transport-Security` value on HTTPS responses: one year
/// (RFC 6797 §6.1.1), without `includeSubDomains` since castguard does not
/// own its parent domain's other hosts.
pub const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000");

/// Request extension: the request came over a TLS connection accepted by
/// this server (inserted by [`crate::listen`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tls;

/// Why no TLS configuration could be built. Messages hold paths and
/// causes, never file contents.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate file {path}: {source}")]
    ReadCertificate {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the TLS certificate file {path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("the TLS certificate file {path} is not valid PEM")]
    BadCertificate { path: PathBuf },
    #[error("cannot read the TLS key file {path}: {source}")]
    ReadKey {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the TLS key file {path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: PathBuf },
    #[error("the TLS key file {path} holds an invalid or unsupported private key")]
    BadKey { path: PathBuf },
    #[error("the TLS key in {key} does not belong to the certificate in {cert}")]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("TLS setup: {0}")]
    Setup(String),
}

/// The rustls server configuration for `cert` (PEM chain, leaf first) and
/// `key` (PEM private key), read once.
pub fn load_server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    CertFiles::load(cert, key)?.server_config()
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The chain and key in `cert` and `key`, checked to belong together.
fn read_pair(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let cert_pem = std::fs::read(cert).map_err(|source| TlsError::ReadCertificate {
        path: cert.to_owned(),
        source,
    })?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TlsError::BadCertificate {
            path: cert.to_owned(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_owned(),
        });
    }
    let key_pem = Zeroizing::new(std::fs::read(key).map_err(|source| TlsError::ReadKey {
        path: key.to_owned(),
        source,
    })?);
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey {
            path: key.to_owned(),
        },
        _ => TlsError::BadKey {
            path: key.to_owned(),
        },
    })?;
    let pair = CertifiedKey::from_der(chain, key_der, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
            cert: cert.to_owned(),
            key: key.to_owned(),
        },
        rustls::Error::General(_) => TlsError::BadKey {
            path: key.to_owned(),
        },
        other => TlsError::Setup(other.to_string()),
    })?;
    Ok(Arc::new(pair))
}

/// What a file looked like when it was last read: a change of either
/// means it was replaced (by renewal, a `mv` or a Kubernetes secret's
/// symlink swap, which `metadata` follows).
type Stamp = Option<(std::time::SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// The certificate and key files of the HTTPS listeners, re-read while
/// the server runs ([`CertFiles::reload`]): every handshake after a
/// successful reload presents the new certificate, connections already
/// open keep theirs, and a reload that fails (an unreadable or broken
/// file, a key that does not match, a renewal caught half-written) leaves
/// the previous pair in use.
pub struct CertFiles {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files as last read or tried.
    seen: Mutex<(Stamp, Stamp)>,
}

impl std::fmt::Debug for CertFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertFiles")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Why a reload happened, for the log.
#[derive(Debug, Clone, Copy)]
pub enum ReloadCause {
    /// SIGHUP.
    Signal,
    /// A file's modification time or size changed.
    FileChanged,
}

impl CertFiles {
    /// Reads `cert` and `key`; an error names the file and the cause.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, TlsError> {
        let provider = provider();
        let seen = (stamp(cert), stamp(key));
        let pair = read_pair(cert, key, &provider)?;
        Ok(Arc::new(CertFiles {
            cert: cert.to_owned(),
            key: key.to_owned(),
            provider,
            current: RwLock::new(pair),
            seen: Mutex::new(seen),
        }))
    }

    /// A server configuration presenting the current pair; ALPN `h2`,
    /// `http/1.1`.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<ServerConfig>, TlsError> {
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Reads both files again and, when they hold a valid pair, serves it
    /// from the next handshake on; otherwise the previous pair stays. The
    /// SHA-256 of the certificate now served (hex).
    pub fn reload(&self) -> Result<String, TlsError> {
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) =
            (stamp(&self.cert), stamp(&self.key));
        let pair = read_pair(&self.cert, &self.key, &self.provider)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = pair;
        Ok(self.fingerprint())
    }

    /// Whether either file changed since it was last read or tried.
    pub fn changed(&self) -> bool {
        *self.seen.lock().unwrap_or_else(|p| p.into_inner())
            != (stamp(&self.cert), stamp(&self.key))
    }

    /// [`CertFiles::reload`], with one log line saying what happened: the
    /// new certificate's fingerprint, or why the old one stays (paths and
    /// causes only, never file contents).
    pub fn reload_logged(&self, cause: ReloadCause) {
        match self.reload() {
            Ok(sha256) => {
                tracing::info!(cert = %self.cert.display(), sha256 = %sha256, ?cause, "TLS certificate reloaded")
            }
            Err(e) => tracing::warn!(
                error = %e,
                ?cause,
                "TLS certificate reload failed; still serving the previous certificate"
            ),
        }
    }

    /// Reloads whenever a file changes, checking every `every`; never
    /// returns.
    pub async fn poll(self: Arc<Self>, every: std::time::Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if self.changed() {
                self.reload_logged(ReloadCause::FileChanged);
            }
        }
    }

    /// SHA-256 of the leaf certificate served now, hex.
    pub fn fingerprint(&self) -> String {
        let pair = self.current();
        let leaf = pair.cert.first().map(|c| c.as_ref()).unwrap_or_default();
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, leaf);
        d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl ResolvesServerCert for CertFiles {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// A key file with a broken body must not be echoed: the error names
    /// the file only (the PEM parser's own message would quote the line).
    #[test]
    fn bad_files_give_errors_without_content() {
        let dir = tempfile::tempdir().unwrap();
        let secret = "SECRETKEYMATERIALxyz";
        let bad_key = write(
            dir.path(),
            "key.pem",
            format!("-----BEGIN PRIVATE KEY-----\n{secret}!!\n-----END PRIVATE KEY-----\n")
                .as_bytes(),
        );
        let no_cert = write(dir.path(), "cert.pem", b"hello\n");
        let e = load_server_config(&no_cert, &bad_key).unwrap_err();
        assert!(matches!(e, TlsError::NoCertificate { .. }), "{e}");
        let bad_cert = write(
            dir.path(),
            "bad-cert.pem",
            format!("-----BEGIN CERTIFICATE-----\n{secret}\n").as_bytes(),
        );
        let e = load_server_config(&bad_cert, &bad_key).unwrap_err();
        assert!(matches!(e, TlsError::BadCertificate { .. }), "{e}");
        assert!(!e.to_string().contains(secret));
        let e = load_server_config(&dir.path().join("missing.pem"), &bad_key).unwrap_err();
        assert!(matches!(e, TlsError::ReadCertificate { .. }), "{e}");
    }

    /// A self-signed pair from `openssl` (a test tool, see TESTING.md):
    /// `NAME.pem`, `NAME.key`.
    fn pair(dir: &Path, name: &str) -> (Vec<u8>, Vec<u8>) {
        let out = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "2",
            ])
            .args([
                "-subj",
                &format!("/CN={name}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.pem"),
            ])
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let read = |ext: &str| std::fs::read(dir.join(format!("{name}.{ext}"))).unwrap();
        (read("pem"), read("key"))
    }

    /// A renewal is served after a reload; a broken or mismatched pair is
    /// refused and the previous one stays; `changed` sees replaced files
    /// and forgets them once tried.
    #[test]
    fn reload_swaps_good_pairs_and_keeps_the_old_one_on_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (a_pem, a_key) = pair(dir.path(), "a");
        let (b_pem, b_key) = pair(dir.path(), "b");
        let cert = write(dir.path(), "live.pem", &a_pem);
        let key = write(dir.path(), "live.key", &a_key);
        let files = CertFiles::load(&cert, &key).unwrap();
        let first = files.fingerprint();
        assert!(!files.changed());

        write(dir.path(), "live.key", &b_key);
        std::fs::write(&cert, [b_pem.as_slice(), b"\n"].concat()).unwrap();
        assert!(files.changed());
        let second = files.reload().unwrap();
        assert_ne!(second, first);
        assert!(!files.changed());

        std::fs::write(&key, &a_key).unwrap();
        let e = files.reload().unwrap_err();
        assert!(matches!(e, TlsError::KeyMismatch { .. }), "{e}");
        std::fs::write(&cert, b"not a certificate\n").unwrap();
        assert!(matches!(
            files.reload(),
            Err(TlsError::NoCertificate { .. })
        ));
        assert_eq!(files.fingerprint(), second, "the last good pair stays");
        assert!(
            !files.changed(),
            "a failed attempt is not retried until the files change again"
        );
    }
}
