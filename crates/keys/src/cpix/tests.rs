//! The DASH-IF CPIX test vectors (tests/cpix/test-vectors, see its
//! README) and round trips through our writer.

use super::*;
use base64::Engine as _;

fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/cpix")
}

fn vector(name: &str) -> Vec<u8> {
    std::fs::read(dir().join("test-vectors").join(name)).unwrap()
}

fn file(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap()
}

fn cert1_key() -> RecipientKey {
    RecipientKey::from_pkcs8(&file("Cert1.key.pem")).unwrap()
}

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// The keys the vectors' Readme lists for EncryptedContentKeys.xml.
const README_KEYS: [(&str, &str); 4] = [
    (
        "bd5adf51-cf04-410f-aac3-ec63a69e929e",
        "3rWoHYasQubO6HbJGrGtLw==",
    ),
    (
        "d2920429-87ab-41e6-a4c5-a8c836b6312e",
        "O5w9FdZiwmQK4uIXzAziaQ==",
    ),
    (
        "e17ba4b8-faff-4d30-bcba-7485e3f2e884",
        "Cwu/3hSBBRQ7SurBdZD5ow==",
    ),
    (
        "0ae6b9ad-92d2-4ebe-882b-1d07dee70715",
        "FB6/Eck9Y9SXy6bY8UU/Mw==",
    ),
];

fn values(doc: &Document) -> Vec<(String, Vec<u8>)> {
    doc.content_keys
        .iter()
        .map(|k| {
            (
                k.kid.to_string(),
                k.value
                    .as_ref()
                    .map(|v| v.expose().to_vec())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn encrypted_vector_with_cert1_gives_the_readme_keys() {
    let doc = Document::parse(&vector("EncryptedContentKeys.xml"), Some(&cert1_key())).unwrap();
    let want: Vec<(String, Vec<u8>)> = README_KEYS
        .iter()
        .map(|(k, v)| (k.to_string(), b64(v)))
        .collect();
    assert_eq!(values(&doc), want);
    // Several recipients: Cert1's DeliveryData is found among them.
    let multi = Document::parse(
        &vector("EncryptedContentKeysWithMultipleRecipients.xml"),
        Some(&cert1_key()),
    )
    .unwrap();
    assert_eq!(multi.content_keys.len(), 4);
    assert!(multi.content_keys.iter().all(|k| k.value.is_some()));
}

#[test]
fn encrypted_vector_needs_the_right_key() {
    let e = Document::parse(&vector("EncryptedContentKeys.xml"), None).unwrap_err();
    assert!(matches!(e, CpixError::NeedsRecipientKey), "{e}");
    let cert2 = RecipientKey::from_pkcs8(&file("Cert2.key.pem")).unwrap();
    let e = Document::parse(&vector("EncryptedContentKeys.xml"), Some(&cert2)).unwrap_err();
    assert!(matches!(e, CpixError::NotForThisRecipient), "{e}");
}

#[test]
fn wrong_mac_is_refused_naming_the_key() {
    let e = Document::parse(&vector("Invalid_WrongMac.xml"), Some(&cert1_key())).unwrap_err();
    let CpixError::WrongMac { kid } = e else {
        panic!("{e}")
    };
    let msg = CpixError::WrongMac { kid }.to_string();
    assert!(
        msg.contains(&kid.to_string()) && msg.contains("ValueMAC"),
        "{msg}"
    );
}

/// Complex.xml: encrypted for Cert1, the document signed by Cert4 and
/// each list by Cert3 and Cert4 (Canonical XML 1.0, RSA-SHA512).
#[test]
fn correctly_signed_vector_verifies_and_names_its_signers() {
    let (doc, sigs) =
        Document::parse_verified(&vector("Complex.xml"), Some(&cert1_key()), None).unwrap();
    assert!(!doc.content_keys.is_empty());
    assert!(doc.content_keys.iter().all(|k| k.value.is_some()));
    assert_eq!(sigs.len(), 9);
    let subjects: std::collections::BTreeSet<&str> =
        sigs.iter().map(|s| s.signer.subject.as_str()).collect();
    assert_eq!(
        subjects.into_iter().collect::<Vec<_>>(),
        ["CN=CPIX Example Entity 3", "CN=CPIX Example Entity 4"]
    );
    // No trusted signer given: reported, not trusted.
    assert!(sigs.iter().all(|s| !s.signer.trusted));
    let document: Vec<_> = sigs.iter().filter(|s| s.covers == ["CPIX"]).collect();
    assert_eq!(document.len(), 1);
    assert_eq!(document[0].signer.subject, "CN=CPIX Example Entity 4");
    for list in [
        "DeliveryDataList",
        "ContentKeyList",
        "DRMSystemList",
        "ContentKeyUsageRuleList",
    ] {
        assert_eq!(
            sigs.iter().filter(|s| s.covers == [list]).count(),
            2,
            "{list}"
        );
    }
    // Cert4 trusted: it signed the document, so everything is covered.
    let cert4 = TrustedSigner::from_certificate(&file("Cert4.pem")).unwrap();
    let (_, sigs) =
        Document::parse_verified(&vector("Complex.xml"), Some(&cert1_key()), Some(&cert4)).unwrap();
    assert_eq!(sigs.iter().filter(|s| s.signer.trusted).count(), 5);
    // Cert1 trusted: it signed nothing.
    let cert1 = TrustedSigner::from_certificate(&file("Cert1.pem")).unwrap();
    let e = Document::parse_verified(&vector("Complex.xml"), Some(&cert1_key()), Some(&cert1))
        .unwrap_err();
    assert!(matches!(e, CpixError::Untrusted(_)), "{e}");
    assert!(e.to_string().contains(&cert1.sha256_hex()), "{e}");
    // The same pin by fingerprint, as the API takes it.
    let by_hex = TrustedSigner::from_sha256_hex(&sigs[8].signer.sha256).unwrap();
    assert_eq!(by_hex, cert4);
    assert!(TrustedSigner::from_sha256_hex("00").is_err());
    // An unsigned document when a signer is required.
    let e = Document::parse_verified(
        &vector("EncryptedContentKeys.xml"),
        Some(&cert1_key()),
        Some(&cert4),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not signed"), "{e}");
}

#[test]
fn bad_signature_vectors_are_refused_naming_the_signature() {
    // A key removed from the list: its digest no longer matches. A
    // namespace declaration added to the root: with Canonical XML 1.0 it
    // is part of the canonical SignedInfo too, so the SignatureValue fails.
    for (name, what, why) in [
        (
            "Invalid_BadContentKeysSignature.xml",
            "#ContentKeyList",
            "the digest of #ContentKeyList does not match",
        ),
        (
            "Invalid_BadDocumentSignature.xml",
            "the document",
            "SignatureValue does not verify",
        ),
    ] {
        let e = Document::parse(&vector(name), Some(&cert1_key())).unwrap_err();
        assert!(matches!(e, CpixError::BadSignature { .. }), "{name}: {e}");
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("Signature 1 of 1 (over {what})")) && msg.contains(why),
            "{name}: {msg}"
        );
    }
    // UTF-16, as the vector says: refused by name, not misread.
    let e = Document::parse(&vector("EvenMoreComplex.xml"), Some(&cert1_key())).unwrap_err();
    assert!(matches!(e, CpixError::Encoding(_)), "{e}");
}

/// SHA-1 is refused as weak, by name, before any value is checked.
#[test]
fn sha1_and_unsupported_algorithms_are_refused_with_a_reason() {
    let good = String::from_utf8(vector("Complex.xml")).unwrap();
    let swap = |from: &str, to: &str| good.replacen(from, to, 1).into_bytes();
    let sha1_digest = swap(
        "http://www.w3.org/2001/04/xmlenc#sha512",
        "http://www.w3.org/2000/09/xmldsig#sha1",
    );
    let e = Document::parse(&sha1_digest, Some(&cert1_key())).unwrap_err();
    assert!(e.to_string().contains("SHA-1 is refused as weak"), "{e}");
    let sha1_sig = swap(
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    );
    let e = Document::parse(&sha1_sig, Some(&cert1_key())).unwrap_err();
    assert!(e.to_string().contains("SHA-1 is refused as weak"), "{e}");
    let xpath = swap(
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/TR/1999/REC-xpath-19991116",
    );
    let e = Document::parse(&xpath, Some(&cert1_key())).unwrap_err();
    assert!(e.to_string().contains("is not supported"), "{e}");
    // A signature that is not where CPIX puts them.
    let nested = good.replacen(
        "</ContentKeyList>",
        "<ds:Signature><ds:SignedInfo/></ds:Signature></ContentKeyList>",
        1,
    );
    assert!(Document::parse(nested.as_bytes(), Some(&cert1_key())).is_err());
}

/// One byte changed in what a signature covers makes it fail, wherever it
/// is: a key ID (ContentKeyList), a DRM system ID (DRMSystemList), a usage
/// rule bound (ContentKeyUsageRuleList), a DigestValue and a
/// SignatureValue (SignedInfo, the signature itself).
#[test]
fn tampering_a_signed_vector_fails() {
    let good = vector("Complex.xml");
    let text = std::str::from_utf8(&good).unwrap();
    for needle in [
        "<ContentKey kid=\"a",
        "<DRMSystem systemId=\"9",
        "minPixels=\"",
        "<DigestValue>",
        "<SignatureValue>",
    ] {
        let at = text.find(needle).unwrap_or_else(|| panic!("{needle}"));
        // The first character after the needle, replaced by another one
        // that keeps the document well-formed (a digit or base64 letter).
        let pos = at + needle.len();
        let mut bad = good.clone();
        bad[pos] = if bad[pos] == b'1' { b'2' } else { b'1' };
        let e = Document::parse(&bad, Some(&cert1_key())).unwrap_err();
        assert!(matches!(e, CpixError::BadSignature { .. }), "{needle}: {e}");
    }
}

#[test]
fn plain_empty_and_label_vectors() {
    let doc = Document::parse(&vector("ClearContentKeysOnly.xml"), None).unwrap();
    assert_eq!(doc.content_keys.len(), 4);
    assert_eq!(
        doc.content_keys[0]
            .value
            .as_ref()
            .unwrap()
            .expose()
            .to_vec(),
        b64("gPxt0PMwrHM4TdjwdQmhhQ==")
    );
    let empty = Document::parse(&vector("EmptyDocument.xml"), None).unwrap();
    assert_eq!(empty, Document::default());
    let recipients_only =
        Document::parse(&vector("RecipientsWithoutContentKeys.xml"), None).unwrap();
    assert!(recipients_only.content_keys.is_empty());
    let labels = Document::parse(&vector("UsageRulesBasedOnLabels.xml"), None).unwrap();
    assert_eq!(labels.usage_rules.len(), 5);
    assert_eq!(
        labels.usage_rules[2].filters,
        vec![Filter::Label {
            label: "SD-Video".into()
        }]
    );
}

fn sample() -> Document {
    let kid_a: Uuid = "11111111-2222-4333-8444-555555555555".parse().unwrap();
    let kid_v: Uuid = "66666666-7777-4888-9999-aaaaaaaaaaaa".parse().unwrap();
    Document {
        content_id: Some("locator-1".into()),
        content_keys: vec![
            ContentKeyEntry {
                kid: kid_a,
                value: Some(ContentKeyValue::new([7; 16])),
                common_encryption_scheme: Some("cenc".into()),
                explicit_iv: None,
            },
            ContentKeyEntry {
                kid: kid_v,
                value: Some(ContentKeyValue::new([9; 16])),
                common_encryption_scheme: None,
                explicit_iv: None,
            },
        ],
        drm_systems: vec![DrmSystem {
            system_id: "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed".parse().unwrap(),
            kid: kid_v,
            name: Some("Widevine <&\"".into()),
            pssh: Some(vec![0, 0, 0, 8, b'p', b's', b's', b'h']),
            content_protection_data: Some(b"<ContentProtection/>".to_vec()),
            uri_ext_x_key: Some(b"data:text/plain;base64,AA==".to_vec()),
            hls_signaling_master: Some(b"#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES".to_vec()),
            hls_signaling_media: Some(b"#EXT-X-KEY:METHOD=SAMPLE-AES".to_vec()),
            smooth_streaming_protection_header_data: None,
        }],
        periods: vec![ContentKeyPeriod { id: "keyPeriod_0".into(), index: Some(0) }],
        usage_rules: vec![
            UsageRule {
                kid: kid_a,
                intended_track_type: Some("AUDIO".into()),
                filters: vec![
                    Filter::KeyPeriod { period_id: "keyPeriod_0".into() },
                    Filter::Audio {
                        min_channels: None,
                        max_channels: None,
                    },
                ],
            },
            UsageRule {
                kid: kid_v,
                intended_track_type: Some("HD".into()),
                filters: vec![Filter::Video(VideoFilter {
                    min_pixels: Some(589_825),
                    max_pixels: Some(2_073_600),
                    ..VideoFilter::default()
                })],
            },
        ],
    }
}

#[test]
fn round_trip_plain_and_encrypted() {
    let doc = sample();
    let plain = doc.to_xml(None).unwrap();
    assert!(plain.contains("<pskc:PlainValue>"), "{plain}");
    assert_eq!(Document::parse(plain.as_bytes(), None).unwrap(), doc);

    let cert1 = Recipient::from_certificate(&file("Cert1.pem")).unwrap();
    let enc = doc.to_xml(Some(&cert1)).unwrap();
    assert!(!enc.contains("PlainValue"), "{enc}");
    // No key value in any encoding in the encrypted document.
    for k in &doc.content_keys {
        let v = k.value.as_ref().unwrap().expose();
        assert!(!enc.contains(&base64::engine::general_purpose::STANDARD.encode(v)));
    }
    assert_eq!(
        Document::parse(enc.as_bytes(), Some(&cert1_key())).unwrap(),
        doc
    );
    // Two exports differ (fresh document key and IVs), both decrypt.
    assert_ne!(doc.to_xml(Some(&cert1)).unwrap(), enc);
    // A flipped ciphertext byte fails the MAC, not the padding.
    let cv_at = enc.find("<ContentKey ").unwrap();
    let cv = enc[cv_at..].find("<enc:CipherValue>").unwrap() + cv_at + "<enc:CipherValue>".len();
    let mut bad = enc.clone().into_bytes();
    bad[cv + 2] = if bad[cv + 2] == b'A' { b'B' } else { b'A' };
    let e = Document::parse(&bad, Some(&cert1_key())).unwrap_err();
    assert!(matches!(e, CpixError::WrongMac { .. }), "{e}");
}

#[test]
fn unknown_filters_and_bad_structure_are_named() {
    let kid = "11111111-2222-4333-8444-555555555555";
    let doc = |body: &str| {
        format!(r#"<CPIX xmlns="urn:dashif:org:cpix" xmlns:x="urn:example">{body}</CPIX>"#)
    };
    let unknown = doc(&format!(
        r#"<ContentKeyUsageRuleList><ContentKeyUsageRule kid="{kid}"><x:SpatialFilter/></ContentKeyUsageRule></ContentKeyUsageRuleList>"#
    ));
    let e = Document::parse(unknown.as_bytes(), None).unwrap_err();
    assert!(
        matches!(&e, CpixError::UnknownFilter { filter, .. } if filter.contains("SpatialFilter")),
        "{e}"
    );
    let cpix_ns = doc(&format!(
        r#"<ContentKeyUsageRuleList><ContentKeyUsageRule kid="{kid}"><DepthFilter/></ContentKeyUsageRule></ContentKeyUsageRuleList>"#
    ));
    assert!(matches!(
        Document::parse(cpix_ns.as_bytes(), None),
        Err(CpixError::UnknownFilter { .. })
    ));
    let short = doc(&format!(
        r#"<ContentKeyList><ContentKey kid="{kid}"><Data><pskc:Secret xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"><pskc:PlainValue>AAEC</pskc:PlainValue></pskc:Secret></Data></ContentKey></ContentKeyList>"#
    ));
    let e = Document::parse(short.as_bytes(), None).unwrap_err();
    assert!(
        e.to_string().contains(kid) && e.to_string().contains("16 bytes"),
        "{e}"
    );
    let twice = doc(&format!(
        r#"<ContentKeyList><ContentKey kid="{kid}"/><ContentKey kid="{kid}"/></ContentKeyList>"#
    ));
    assert!(
        Document::parse(twice.as_bytes(), None)
            .unwrap_err()
            .to_string()
            .contains("twice")
    );
    let bad_kid = doc(r#"<ContentKeyList><ContentKey kid="{not-a-uuid}"/></ContentKeyList>"#);
    assert!(
        Document::parse(bad_kid.as_bytes(), None)
            .unwrap_err()
            .to_string()
            .contains("ContentKey")
    );
    let stray = doc("<Surprise/>");
    assert!(
        Document::parse(stray.as_bytes(), None)
            .unwrap_err()
            .to_string()
            .contains("Surprise")
    );
    let other_root = br#"<KeyContainer xmlns="urn:ietf:params:xml:ns:keyprov:pskc"/>"#;
    assert!(Document::parse(other_root, None).is_err());
}

#[test]
fn recipient_certificates_and_keys_are_checked() {
    assert!(
        Recipient::from_certificate(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        )
        .is_err()
    );
    assert!(Recipient::from_certificate(&vector("Cert2.cer")).is_ok());
    let e = RecipientKey::from_pkcs8(&file("Cert1.pem")).unwrap_err();
    assert!(e.to_string().contains("CERTIFICATE"), "{e}");
    // Shared across threads (the fuzz target keeps one in a OnceLock).
    fn shared<T: Send + Sync>() {}
    shared::<RecipientKey>();
    shared::<Recipient>();
    // Debug never shows key material.
    assert_eq!(format!("{:?}", cert1_key()), "RecipientKey(<redacted>)");
}

fn signed(name: &str) -> Vec<u8> {
    file(&format!("signed/{name}"))
}

/// Documents signed by signxml (Python, not our code; tests/cpix/README):
/// Exclusive C14N with and without comments, RSA-SHA256, RSA-SHA512 over
/// an encrypted document, ECDSA P-256.
#[test]
fn signxml_exclusive_c14n_signatures_verify() {
    for (name, subject, pem) in [
        (
            "signxml-exc-c14n-rsa-sha256.xml",
            "CN=cpix test signer rsa",
            "signxml-rsa.pem",
        ),
        (
            "signxml-exc-c14n-comments-ecdsa-p256.xml",
            "CN=cpix test signer ec",
            "signxml-ec.pem",
        ),
        (
            "signxml-exc-c14n-rsa-sha512-encrypted-cert1.xml",
            "CN=cpix test signer rsa",
            "signxml-rsa.pem",
        ),
    ] {
        let trusted = TrustedSigner::from_certificate(&signed(pem)).unwrap();
        let (doc, sigs) =
            Document::parse_verified(&signed(name), Some(&cert1_key()), Some(&trusted))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(doc.content_keys.len(), 4, "{name}");
        assert!(doc.content_keys.iter().all(|k| k.value.is_some()));
        assert_eq!(sigs.len(), 1);
        assert_eq!(sigs[0].covers, ["CPIX"]);
        assert_eq!(sigs[0].signer.subject, subject);
        assert!(sigs[0].signer.trusted);
    }
    // A reference to the document selects no comments: a comment added
    // after signing changes nothing, a space does (xmlsec agrees on both).
    let good = String::from_utf8(signed("signxml-exc-c14n-comments-ecdsa-p256.xml")).unwrap();
    let comment = good.replace(
        "</ContentKeyList>",
        "<!-- added after signing --></ContentKeyList>",
    );
    assert!(Document::parse(comment.as_bytes(), None).is_ok());
    let space = good.replace("</ContentKeyList>", " </ContentKeyList>");
    let e = Document::parse(space.as_bytes(), None).unwrap_err();
    assert!(
        e.to_string()
            .contains("the digest of the document does not match"),
        "{e}"
    );
}

/// Signed documents with bytes changed, removed or inserted at
/// pseudo-random places (a fixed seed): every one is an answer, never a
/// panic (the canonicalizer and verifier see every kind of broken input),
/// and few are accepted (only changes outside what is signed can be).
#[test]
fn mutated_signed_documents_never_panic() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for base in [
        vector("Complex.xml"),
        signed("signxml-exc-c14n-comments-ecdsa-p256.xml"),
    ] {
        let mut accepted = 0;
        for _ in 0..300 {
            let mut doc = base.clone();
            let at = (next() as usize) % doc.len();
            match next() % 3 {
                0 => doc[at] = (next() & 0x7f) as u8,
                1 => {
                    doc.remove(at);
                }
                _ => doc.insert(at, b"<>&\"' =/x:"[(next() % 10) as usize]),
            }
            if Document::parse(&doc, Some(&cert1_key())).is_ok() {
                accepted += 1;
            }
        }
        // Only changes outside what is signed (the XML declaration,
        // whitespace between attributes, SignatureValue's line breaks...)
        // can pass; most changes hit signed content.
        assert!(accepted < 60, "{accepted} of 300 mutations accepted");
    }
}
