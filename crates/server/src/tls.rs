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
//! Errors name the file and what is wrong with it, never its content: a
//! key file's bytes must not reach a terminal or log (the PEM parser's own
//! messages can quote lines of the file, so they are not passed on).

use axum::http::HeaderValue;
pub use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
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
/// `key` (PEM private key).
pub fn load_server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
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
    server_config(chain, key_der).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
            cert: cert.to_owned(),
            key: key.to_owned(),
        },
        rustls::Error::General(_) => TlsError::BadKey {
            path: key.to_owned(),
        },
        other => TlsError::Setup(other.to_string()),
    })
}

/// The configuration for a chain and key already decoded.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
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
}
