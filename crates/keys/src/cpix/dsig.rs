//! XML Signature verification as CPIX 2.3 uses it (§4.3, "Digital
//! signatures"; W3C XML Signature 1.1): `ds:Signature` elements that are
//! children of the `CPIX` root, each signing either the whole document
//! (`Reference URI=""` with the enveloped-signature transform) or one of its
//! lists by its `id` (`URI="#ContentKeyList"`), with the signer's X.509
//! certificate in `KeyInfo/X509Data`.
//!
//! What is verified, and what is refused with a reason naming the
//! signature:
//! - canonicalization ([`super::c14n`]): Canonical XML 1.0 and Exclusive
//!   XML Canonicalization 1.0, with or without comments (for `SignedInfo`
//!   and as transforms); transforms: enveloped-signature and those four;
//!   nothing else (no XPath, no XSLT: they are how signatures get
//!   bypassed or made to run code);
//! - digests SHA-256, SHA-384, SHA-512; signatures RSA PKCS#1 v1.5 with
//!   SHA-256/384/512 (keys of at least 2048 bits) and ECDSA P-256/SHA-256,
//!   P-384/SHA-384, P-521/SHA-512; SHA-1 in either place is refused as
//!   weak (collisions are practical), HMAC signatures because they name no
//!   signer;
//! - references only to the document or a direct child of `CPIX`, by an
//!   `id` given once in the document, so that what was verified is what
//!   the reader reads (no signature wrapping);
//! - every signature in the document must verify: one bad signature
//!   refuses the document, even if another one is good.
//!
//! Who signed: each signature reports its certificate (subject, SHA-256
//! fingerprint). Whether that signer is trusted is the caller's choice: with
//! a [`TrustedSigner`] (a pinned certificate), every list the document
//! carries must be covered by a valid signature (of the document or of that
//! list) made with that certificate; without one, a valid signature by any
//! certificate is reported, not trusted: the signature then proves only
//! that nothing changed since someone signed.

use super::c14n::{Dom, Method, Subset};
use super::{CpixError, NS_CPIX, NS_DSIG};
use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use base64::Engine as _;
use x509_cert::Certificate;
use x509_cert::der::{Decode, DecodePem, Encode};

pub const ALG_C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
pub const ALG_C14N_COMMENTS: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
pub const ALG_EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const ALG_EXC_C14N_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
pub const ALG_ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

const SHA1_DIGEST: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
const SHA1_SIGNATURES: [&str; 3] = [
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
];

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";

/// The smallest RSA signing key accepted (NIST SP 800-131A).
pub const MIN_RSA_BITS: usize = 2048;
/// Most signatures, and references in all of them, in one document: each
/// reference canonicalizes up to the whole document, so this bounds the
/// work a hostile document can ask for (the DASH-IF vectors have 9).
pub const MAX_SIGNATURES: usize = 32;

/// The one certificate the import trusts to sign documents, pinned by the
/// SHA-256 of its DER (what `openssl x509 -fingerprint -sha256` shows): no
/// chain, no expiry, no revocation to get wrong; rotating the signer means
/// pinning its new certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedSigner {
    sha256: [u8; 32],
}

impl TrustedSigner {
    /// From a PEM or DER X.509 certificate.
    pub fn from_certificate(bytes: &[u8]) -> Result<TrustedSigner, CpixError> {
        let bad = |r: String| CpixError::Invalid {
            element: "trusted signer certificate".into(),
            reason: r,
        };
        let trimmed = bytes.trim_ascii_start();
        let cert = if trimmed.starts_with(b"-----BEGIN") {
            Certificate::from_pem(trimmed)
                .map_err(|e| bad(format!("not a PEM certificate: {e}")))?
        } else {
            Certificate::from_der(bytes).map_err(|e| bad(format!("not a DER certificate: {e}")))?
        };
        let der = cert.to_der().map_err(|e| bad(e.to_string()))?;
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(digest::digest(&digest::SHA256, &der).as_ref());
        Ok(TrustedSigner { sha256 })
    }

    /// From the certificate's SHA-256 fingerprint: 64 hex digits (colons
    /// allowed, as `openssl x509 -fingerprint` prints them).
    pub fn from_sha256_hex(s: &str) -> Result<TrustedSigner, CpixError> {
        let hexits: String = s.chars().filter(|&c| c != ':').collect();
        let bad = || CpixError::Invalid {
            element: "trustedSigner".into(),
            reason: "is not a SHA-256 certificate fingerprint (64 hex digits)".into(),
        };
        if hexits.len() != 64 || !hexits.is_ascii() {
            return Err(bad());
        }
        let mut sha256 = [0u8; 32];
        for (i, b) in sha256.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hexits[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(TrustedSigner { sha256 })
    }

    /// The fingerprint, lowercase hex.
    pub fn sha256_hex(&self) -> String {
        hex(&self.sha256)
    }
}

/// The certificate a signature was verified with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Signer {
    /// Subject distinguished name (RFC 4514).
    pub subject: String,
    /// SHA-256 of the certificate's DER, lowercase hex.
    pub sha256: String,
    /// The certificate has the public key of the [`TrustedSigner`] given.
    pub trusted: bool,
}

/// One verified signature.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedSignature {
    /// What it signs: `CPIX` (the whole document) or a list's element name.
    pub covers: Vec<String>,
    pub signer: Signer,
}

fn bad(signature: &str, reason: impl Into<String>) -> CpixError {
    CpixError::BadSignature {
        signature: signature.to_string(),
        reason: reason.into(),
    }
}

fn b64(signature: &str, what: &str, text: &str) -> Result<Vec<u8>, CpixError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| bad(signature, format!("{what} is not base64")))
}

/// The element children of `i` named `local` in the XML Signature
/// namespace.
fn ds_children<'a>(dom: &'a Dom, i: usize, local: &'a str) -> impl Iterator<Item = usize> + 'a {
    dom.child_elements(i)
        .filter(move |&c| is(dom, c, NS_DSIG, local))
}

fn is(dom: &Dom, i: usize, ns: &str, local: &str) -> bool {
    dom.element(i)
        .is_some_and(|e| e.local() == local && dom.lookup(i, e.prefix()) == Some(ns))
}

fn ds_child(dom: &Dom, i: usize, local: &str) -> Option<usize> {
    ds_children(dom, i, local).next()
}

fn text(dom: &Dom, i: usize) -> String {
    let mut s = String::new();
    if let Some(e) = dom.element(i) {
        for &c in &e.children {
            if let super::c14n::Node::Text(t) = &dom.nodes[c] {
                s.push_str(t);
            }
        }
    }
    s
}

fn algorithm(dom: &Dom, i: usize) -> Option<&str> {
    dom.element(i).and_then(|e| e.attr("Algorithm"))
}

/// A canonicalization method element (CanonicalizationMethod or Transform).
fn c14n_method(dom: &Dom, i: usize, alg: &str) -> Option<Method> {
    let prefixes = || -> Vec<String> {
        dom.child_elements(i)
            .filter(|&c| {
                dom.element(c)
                    .is_some_and(|e| e.local() == "InclusiveNamespaces")
            })
            .filter_map(|c| dom.element(c).and_then(|e| e.attr("PrefixList")))
            .flat_map(|l| l.split_ascii_whitespace().map(str::to_string))
            .collect()
    };
    match alg {
        ALG_C14N => Some(Method::Inclusive { comments: false }),
        ALG_C14N_COMMENTS => Some(Method::Inclusive { comments: true }),
        ALG_EXC_C14N => Some(Method::Exclusive {
            comments: false,
            inclusive_prefixes: prefixes(),
        }),
        ALG_EXC_C14N_COMMENTS => Some(Method::Exclusive {
            comments: true,
            inclusive_prefixes: prefixes(),
        }),
        _ => None,
    }
}

fn digest_algorithm(signature: &str, alg: &str) -> Result<&'static digest::Algorithm, CpixError> {
    match alg {
        "http://www.w3.org/2001/04/xmlenc#sha256" => Ok(&digest::SHA256),
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => Ok(&digest::SHA384),
        "http://www.w3.org/2001/04/xmlenc#sha512" => Ok(&digest::SHA512),
        SHA1_DIGEST => Err(bad(
            signature,
            "DigestMethod SHA-1 is refused as weak (collisions are practical); use SHA-256 or SHA-512",
        )),
        other => Err(bad(
            signature,
            format!("DigestMethod {other} is not supported (SHA-256, SHA-384, SHA-512)"),
        )),
    }
}

/// What a signature uses to check its value.
enum SigAlg {
    Rsa(&'static signature::RsaParameters),
    Ecdsa {
        curve: &'static str,
        alg: &'static signature::EcdsaVerificationAlgorithm,
    },
}

fn signature_algorithm(signature: &str, alg: &str) -> Result<SigAlg, CpixError> {
    const MORE: &str = "http://www.w3.org/2001/04/xmldsig-more#";
    match alg.strip_prefix(MORE) {
        Some("rsa-sha256") => return Ok(SigAlg::Rsa(&signature::RSA_PKCS1_2048_8192_SHA256)),
        Some("rsa-sha384") => return Ok(SigAlg::Rsa(&signature::RSA_PKCS1_2048_8192_SHA384)),
        Some("rsa-sha512") => return Ok(SigAlg::Rsa(&signature::RSA_PKCS1_2048_8192_SHA512)),
        Some("ecdsa-sha256") => {
            return Ok(SigAlg::Ecdsa {
                curve: OID_P256,
                alg: &signature::ECDSA_P256_SHA256_FIXED,
            });
        }
        Some("ecdsa-sha384") => {
            return Ok(SigAlg::Ecdsa {
                curve: OID_P384,
                alg: &signature::ECDSA_P384_SHA384_FIXED,
            });
        }
        Some("ecdsa-sha512") => {
            return Ok(SigAlg::Ecdsa {
                curve: OID_P521,
                alg: &signature::ECDSA_P521_SHA512_FIXED,
            });
        }
        _ => {}
    }
    if SHA1_SIGNATURES.contains(&alg) {
        return Err(bad(
            signature,
            "SignatureMethod with SHA-1 is refused as weak (collisions are practical); use RSA or ECDSA with SHA-256 or SHA-512",
        ));
    }
    if alg.contains("hmac") {
        return Err(bad(
            signature,
            format!("SignatureMethod {alg} is a MAC, not a signature: it names no signer"),
        ));
    }
    Err(bad(
        signature,
        format!(
            "SignatureMethod {alg} is not supported (RSA PKCS#1 v1.5 or ECDSA with SHA-256/384/512)"
        ),
    ))
}

/// A certificate from `X509Certificate`, with what verification needs.
struct Cert {
    der: Vec<u8>,
    subject: String,
    spki: Vec<u8>,
    algorithm: String,
    curve: Option<String>,
    public_key: Vec<u8>,
}

fn certificate(signature: &str, der: Vec<u8>) -> Result<Cert, CpixError> {
    let cert = Certificate::from_der(&der).map_err(|e| {
        bad(
            signature,
            format!("X509Certificate is not a certificate: {e}"),
        )
    })?;
    let info = &cert.tbs_certificate.subject_public_key_info;
    let spki = info
        .to_der()
        .map_err(|e| bad(signature, format!("X509Certificate: {e}")))?;
    let curve = info
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<x509_cert::der::asn1::ObjectIdentifier>().ok())
        .map(|o| o.to_string());
    Ok(Cert {
        subject: cert.tbs_certificate.subject.to_string(),
        algorithm: info.algorithm.oid.to_string(),
        curve,
        public_key: info.subject_public_key.raw_bytes().to_vec(),
        spki,
        der,
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Checks `value` over `signed` with `cert`; `Err` says why not.
fn check_value(
    signature: &str,
    alg: &SigAlg,
    cert: &Cert,
    signed: &[u8],
    value: &[u8],
) -> Result<(), CpixError> {
    let (verifier, key): (&'static dyn VerificationAlgorithm, &[u8]) = match alg {
        SigAlg::Rsa(params) => {
            if cert.algorithm != OID_RSA {
                return Err(bad(
                    signature,
                    format!("the certificate of {} has no RSA key", cert.subject),
                ));
            }
            let bits = aws_lc_rs::rsa::PublicEncryptingKey::from_der(&cert.spki)
                .map(|k| k.key_size_bits())
                .unwrap_or(0);
            if bits < MIN_RSA_BITS {
                return Err(bad(
                    signature,
                    format!(
                        "the RSA key of {} has {bits} bits; at least {MIN_RSA_BITS} are required",
                        cert.subject
                    ),
                ));
            }
            (*params, &cert.public_key)
        }
        SigAlg::Ecdsa { curve, alg } => {
            if cert.algorithm != OID_EC || cert.curve.as_deref() != Some(*curve) {
                return Err(bad(
                    signature,
                    format!(
                        "the certificate of {} has no key on the curve the SignatureMethod names",
                        cert.subject
                    ),
                ));
            }
            (*alg, &cert.public_key)
        }
    };
    UnparsedPublicKey::new(verifier, key)
        .verify(signed, value)
        .map_err(|_| {
            bad(
                signature,
                format!(
                    "SignatureValue does not verify with the certificate of {} (SignedInfo was altered or another key signed)",
                    cert.subject
                ),
            )
        })
}

/// Verifies every `ds:Signature` of the CPIX document `text` (already
/// accepted by [`super::xml::parse`]). `Ok(empty)` for an unsigned
/// document.
pub(crate) fn verify(
    text: &str,
    trusted: Option<&TrustedSigner>,
) -> Result<Vec<VerifiedSignature>, CpixError> {
    let dom = Dom::parse(text).map_err(|e| CpixError::Malformed {
        offset: e.offset,
        reason: e.reason,
    })?;
    let all = dom.elements();
    let signatures: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&i| is(&dom, i, NS_DSIG, "Signature"))
        .collect();
    let references = signatures
        .iter()
        .flat_map(|&s| ds_children(&dom, s, "SignedInfo").collect::<Vec<_>>())
        .map(|si| ds_children(&dom, si, "Reference").count())
        .sum::<usize>();
    if signatures.len() > MAX_SIGNATURES || references > MAX_SIGNATURES {
        return Err(CpixError::TooMany {
            element: "Signature and Reference elements".into(),
            max: MAX_SIGNATURES,
        });
    }
    // Ids: each given once, so a reference names one element.
    let mut ids: Vec<(String, usize)> = Vec::new();
    for &i in &all {
        if let Some(e) = dom.element(i) {
            for (k, v) in &e.attrs {
                if matches!(k.as_str(), "id" | "Id" | "ID") {
                    if ids.iter().any(|(o, _)| o == v) {
                        return Err(CpixError::Invalid {
                            element: e.local().to_string(),
                            reason: format!(
                                "id '{}' is given twice: a signature reference must name one element",
                                v.chars().take(64).collect::<String>()
                            ),
                        });
                    }
                    ids.push((v.clone(), i));
                }
            }
        }
    }
    let mut out = Vec::new();
    for (n, &sig) in signatures.iter().enumerate() {
        let name = format!("Signature {} of {}", n + 1, signatures.len());
        if dom.element(sig).and_then(|e| e.parent) != Some(dom.root) {
            return Err(bad(
                &name,
                "is not a child of CPIX, where CPIX puts signatures",
            ));
        }
        out.push(verify_one(&dom, &ids, sig, &name, trusted)?);
    }
    if let Some(t) = trusted
        && !out.is_empty()
    {
        // Every list the document carries is covered by a trusted signer.
        for c in dom.child_elements(dom.root) {
            if is(&dom, c, NS_DSIG, "Signature") {
                continue;
            }
            let Some(list) = dom.element(c) else { continue };
            let covered = out.iter().any(|s| {
                s.signer.trusted && s.covers.iter().any(|x| x == "CPIX" || x == list.local())
            });
            if !covered {
                return Err(CpixError::Untrusted(format!(
                    "{} is not signed by the trusted signer (certificate SHA-256 {}): neither the document nor the list carries its valid signature",
                    list.local(),
                    t.sha256_hex()
                )));
            }
        }
    }
    if let Some(t) = trusted
        && out.is_empty()
    {
        return Err(CpixError::Untrusted(format!(
            "the document is not signed; a signature by the trusted signer (certificate SHA-256 {}) is required",
            t.sha256_hex()
        )));
    }
    Ok(out)
}

fn verify_one(
    dom: &Dom,
    ids: &[(String, usize)],
    sig: usize,
    name: &str,
    trusted: Option<&TrustedSigner>,
) -> Result<VerifiedSignature, CpixError> {
    let signed_info =
        ds_child(dom, sig, "SignedInfo").ok_or_else(|| bad(name, "has no SignedInfo"))?;
    let cm = ds_child(dom, signed_info, "CanonicalizationMethod")
        .ok_or_else(|| bad(name, "has no CanonicalizationMethod"))?;
    let cm_alg = algorithm(dom, cm).unwrap_or_default();
    let cm_method = c14n_method(dom, cm, cm_alg).ok_or_else(|| {
        bad(
            name,
            format!("CanonicalizationMethod {cm_alg} is not supported (Canonical XML 1.0 or Exclusive XML Canonicalization 1.0)"),
        )
    })?;
    let sm = ds_child(dom, signed_info, "SignatureMethod")
        .ok_or_else(|| bad(name, "has no SignatureMethod"))?;
    let sig_alg = signature_algorithm(name, algorithm(dom, sm).unwrap_or_default())?;

    let references: Vec<usize> = ds_children(dom, signed_info, "Reference").collect();
    if references.is_empty() {
        return Err(bad(name, "SignedInfo has no Reference"));
    }
    if references.len() > MAX_SIGNATURES {
        return Err(CpixError::TooMany {
            element: "Reference".into(),
            max: MAX_SIGNATURES,
        });
    }
    // Named by what it signs from here on.
    let over: Vec<String> = references
        .iter()
        .map(|&r| match dom.element(r).and_then(|e| e.attr("URI")) {
            Some("") => "the document".to_string(),
            Some(u) => u.chars().take(64).collect(),
            None => "?".to_string(),
        })
        .collect();
    let name = &format!("{name} (over {})", over.join(", "));
    // Weak or unknown digests are named before anything is computed.
    for &r in &references {
        let dm = ds_child(dom, r, "DigestMethod")
            .ok_or_else(|| bad(name, "a Reference has no DigestMethod"))?;
        digest_algorithm(name, algorithm(dom, dm).unwrap_or_default())?;
        for t in ds_child(dom, r, "Transforms")
            .into_iter()
            .flat_map(|ts| dom.child_elements(ts).collect::<Vec<_>>())
        {
            let alg = algorithm(dom, t).unwrap_or_default();
            if alg != ALG_ENVELOPED && c14n_method(dom, t, alg).is_none() {
                return Err(bad(
                    name,
                    format!(
                        "transform {alg} is not supported (only enveloped-signature and canonicalization)"
                    ),
                ));
            }
        }
    }
    // The certificate(s); the one whose key verifies is the signer.
    let certs: Vec<usize> = ds_child(dom, sig, "KeyInfo")
        .into_iter()
        .flat_map(|k| ds_children(dom, k, "X509Data").collect::<Vec<_>>())
        .flat_map(|d| ds_children(dom, d, "X509Certificate").collect::<Vec<_>>())
        .collect();
    if certs.is_empty() {
        return Err(bad(
            name,
            "has no KeyInfo/X509Data/X509Certificate: castguard needs the signer's certificate",
        ));
    }
    let value_el =
        ds_child(dom, sig, "SignatureValue").ok_or_else(|| bad(name, "has no SignatureValue"))?;
    let value = b64(name, "SignatureValue", &text(dom, value_el))?;

    let signed = dom
        .canonicalize(
            Subset::Subtree {
                apex: signed_info,
                exclude: None,
            },
            &cm_method,
        )
        .map_err(|e| {
            bad(
                name,
                format!("SignedInfo cannot be canonicalized: {}", e.reason),
            )
        })?;
    let mut last_err = None;
    let mut signer = None;
    for &c in certs.iter().take(8) {
        let cert = certificate(name, b64(name, "X509Certificate", &text(dom, c))?)?;
        match check_value(name, &sig_alg, &cert, &signed, &value) {
            Ok(()) => {
                signer = Some(cert);
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let Some(mut cert) = signer else {
        return Err(last_err.unwrap_or_else(|| bad(name, "no certificate")));
    };
    let mut covers = Vec::new();
    for &r in &references {
        covers.push(check_reference(dom, ids, sig, r, name, &cert.subject)?);
    }
    let sha256 = digest::digest(&digest::SHA256, &cert.der);
    Ok(VerifiedSignature {
        covers,
        signer: Signer {
            sha256: hex(sha256.as_ref()),
            trusted: trusted.is_some_and(|t| t.sha256.as_slice() == sha256.as_ref()),
            subject: std::mem::take(&mut cert.subject),
        },
    })
}

/// Checks one Reference's digest; returns what it covers (`CPIX` or the
/// list's name).
fn check_reference(
    dom: &Dom,
    ids: &[(String, usize)],
    sig: usize,
    r: usize,
    name: &str,
    subject: &str,
) -> Result<String, CpixError> {
    let uri = dom.element(r).and_then(|e| e.attr("URI")).ok_or_else(|| {
        bad(
            name,
            "a Reference has no URI (castguard does not guess what it signs)",
        )
    })?;
    let (target, what) = if uri.is_empty() {
        (dom.root, "the document".to_string())
    } else if let Some(id) = uri.strip_prefix('#') {
        let t = ids
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, i)| *i)
            .ok_or_else(|| bad(name, format!("Reference {uri}: no element has that id")))?;
        (t, format!("#{id}"))
    } else {
        return Err(bad(
            name,
            format!(
                "Reference URI '{}' is not in this document (only \"\" and #id)",
                uri.chars().take(64).collect::<String>()
            ),
        ));
    };
    let covers = if target == dom.root {
        "CPIX".to_string()
    } else {
        let e = dom
            .element(target)
            .filter(|e| e.parent == Some(dom.root) && is(dom, target, NS_CPIX, e.local()))
            .ok_or_else(|| {
                bad(
                    name,
                    format!("Reference {what} names an element that is neither the document nor one of its lists"),
                )
            })?;
        e.local().to_string()
    };
    // Transforms: enveloped-signature, then at most one canonicalization.
    let mut exclude = None;
    let mut method = None;
    if let Some(ts) = ds_child(dom, r, "Transforms") {
        for t in dom.child_elements(ts) {
            let alg = algorithm(dom, t).unwrap_or_default();
            if alg == ALG_ENVELOPED && method.is_none() && exclude.is_none() {
                exclude = Some(sig);
            } else if let Some(m) = c14n_method(dom, t, alg)
                && method.is_none()
            {
                method = Some(m);
            } else {
                return Err(bad(
                    name,
                    format!(
                        "Reference {what}: transform {alg} is not supported here (only enveloped-signature, then one canonicalization)"
                    ),
                ));
            }
        }
    }
    // A same-document reference selects no comments (XML Signature
    // §4.4.3.3), whatever canonicalization follows.
    let method = match method.unwrap_or(Method::Inclusive { comments: false }) {
        Method::Inclusive { .. } => Method::Inclusive { comments: false },
        Method::Exclusive {
            inclusive_prefixes, ..
        } => Method::Exclusive {
            comments: false,
            inclusive_prefixes,
        },
    };
    let subset = if uri.is_empty() {
        Subset::Document { exclude }
    } else {
        Subset::Subtree {
            apex: target,
            exclude,
        }
    };
    let octets = dom.canonicalize(subset, &method).map_err(|e| {
        bad(
            name,
            format!("Reference {what} cannot be canonicalized: {}", e.reason),
        )
    })?;
    let dm = ds_child(dom, r, "DigestMethod")
        .ok_or_else(|| bad(name, format!("Reference {what} has no DigestMethod")))?;
    let alg = digest_algorithm(name, algorithm(dom, dm).unwrap_or_default())?;
    let dv = ds_child(dom, r, "DigestValue")
        .ok_or_else(|| bad(name, format!("Reference {what} has no DigestValue")))?;
    let want = b64(name, "DigestValue", &text(dom, dv))?;
    let got = digest::digest(alg, &octets);
    if aws_lc_rs::constant_time::verify_slices_are_equal(got.as_ref(), &want).is_err() {
        return Err(bad(
            name,
            format!(
                "by {subject} over {covers}: the digest of {what} does not match (the signed content was altered after signing)"
            ),
        ));
    }
    Ok(covers)
}
