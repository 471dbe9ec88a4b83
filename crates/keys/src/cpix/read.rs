//! Reading a CPIX document into a [`Document`] (CPIX 2.3 §5: element
//! structure; §4.4: encrypted content keys).

use super::crypto::{self, ALG_AES256_CBC, ALG_HMAC_SHA512, ALG_RSA_OAEP, Recipient, RecipientKey};
use super::dsig::{self, TrustedSigner, VerifiedSignature};
use super::xml::{self, Element};
use super::{
    ContentKeyEntry, CpixError, ContentKeyPeriod, Document, DrmSystem, Filter, MAX_KEYS, NS_CPIX, NS_DSIG, NS_PSKC,
    NS_XENC, UsageRule, VideoFilter,
};
use crate::model::ContentKeyValue;
use base64::Engine as _;
use uuid::Uuid;
use zeroize::Zeroizing;

fn invalid(element: impl Into<String>, reason: impl Into<String>) -> CpixError {
    CpixError::Invalid {
        element: element.into(),
        reason: reason.into(),
    }
}

/// Base64 text of `element` (whitespace allowed, as pretty-printers add it).
fn b64(element: &str, text: &str) -> Result<Vec<u8>, CpixError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| {
            invalid(
                element,
                format!("is not base64 ({} characters)", compact.len()),
            )
        })
}

fn kid(element: &str, el: &Element) -> Result<Uuid, CpixError> {
    let v = el
        .attr("kid")
        .ok_or_else(|| invalid(element, "has no kid attribute"))?;
    // CPIX KeyIdType: the hyphenated form only.
    if v.len() != 36 {
        return Err(invalid(element, "kid is not a hyphenated UUID"));
    }
    Uuid::parse_str(v).map_err(|_| invalid(element, "kid is not a hyphenated UUID"))
}

fn uint(element: &str, el: &Element, attr: &str) -> Result<Option<u64>, CpixError> {
    el.attr(attr)
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| invalid(element, format!("{attr} is not a non-negative integer")))
        })
        .transpose()
}

fn boolean(element: &str, el: &Element, attr: &str) -> Result<Option<bool>, CpixError> {
    el.attr(attr)
        .map(|v| match v.trim() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(invalid(element, format!("{attr} is not a boolean"))),
        })
        .transpose()
}

/// Whether a `ds:Signature` is anywhere in the document.
fn has_signature(el: &Element) -> bool {
    el.children
        .iter()
        .any(|c| c.is(NS_DSIG, "Signature") || has_signature(c))
}

/// An xmlenc `EncryptedValue`/`EncryptedDataType`: its algorithm and
/// `CipherValue`.
struct Encrypted {
    algorithm: String,
    cipher: Vec<u8>,
}

fn encrypted(element: &str, el: &Element) -> Result<Encrypted, CpixError> {
    let algorithm = el
        .first(NS_XENC, "EncryptionMethod")
        .and_then(|m| m.attr("Algorithm"))
        .ok_or_else(|| invalid(element, "has no EncryptionMethod Algorithm"))?
        .to_string();
    let cv = el
        .first(NS_XENC, "CipherData")
        .and_then(|d| d.first(NS_XENC, "CipherValue"))
        .ok_or_else(|| invalid(element, "has no CipherData/CipherValue"))?;
    Ok(Encrypted {
        algorithm,
        cipher: b64(element, &cv.text)?,
    })
}

/// A DeliveryData for one recipient.
struct Delivery {
    certificate: Vec<u8>,
    /// `None` in a SPEKE request, whose DeliveryData names only the
    /// recipient the answer is to be encrypted for.
    document_key: Option<Encrypted>,
    mac_key: Option<Encrypted>,
}

fn delivery(el: &Element) -> Result<Delivery, CpixError> {
    const E: &str = "DeliveryData";
    let cert = el
        .first(NS_CPIX, "DeliveryKey")
        .and_then(|k| k.first(NS_DSIG, "X509Data"))
        .and_then(|d| d.first(NS_DSIG, "X509Certificate"))
        .ok_or_else(|| invalid(E, "DeliveryKey has no X509Data/X509Certificate"))?;
    let certificate = b64("X509Certificate", &cert.text)?;
    let document_key = match el.first(NS_CPIX, "DocumentKey") {
        None => None,
        Some(dk) => {
            if let Some(a) = dk.attr("Algorithm")
                && a != ALG_AES256_CBC
            {
                return Err(invalid(
                    "DocumentKey",
                    format!("algorithm {a} is not supported (only {ALG_AES256_CBC})"),
                ));
            }
            let secret = dk
                .first(NS_CPIX, "Data")
                .and_then(|d| d.first(NS_PSKC, "Secret"))
                .and_then(|s| s.first(NS_PSKC, "EncryptedValue"))
                .ok_or_else(|| invalid("DocumentKey", "has no Data/Secret/EncryptedValue"))?;
            Some(encrypted("DocumentKey", secret)?)
        }
    };
    let mac_key = match el.first(NS_CPIX, "MACMethod") {
        None => None,
        Some(m) => {
            let alg = m.attr("Algorithm").unwrap_or_default();
            if alg != ALG_HMAC_SHA512 {
                return Err(invalid(
                    "MACMethod",
                    format!("algorithm {alg} is not supported (only {ALG_HMAC_SHA512})"),
                ));
            }
            let key = m
                .first(NS_CPIX, "Key")
                .or_else(|| m.first(NS_PSKC, "MACKey"))
                .ok_or_else(|| invalid("MACMethod", "has no Key"))?;
            Some(encrypted("MACMethod/Key", key)?)
        }
    };
    Ok(Delivery {
        certificate,
        document_key,
        mac_key,
    })
}

/// A ContentKey's secret as the document gives it.
enum Secret {
    None,
    Plain(Vec<u8>),
    Encrypted {
        value: Encrypted,
        mac: Option<Vec<u8>>,
    },
}

fn content_key(el: &Element) -> Result<(ContentKeyEntry, Secret), CpixError> {
    let kid = kid("ContentKey", el)?;
    let at = format!("ContentKey {kid}");
    let secret = match el
        .first(NS_CPIX, "Data")
        .and_then(|d| d.first(NS_PSKC, "Secret"))
    {
        None => Secret::None,
        Some(s) => {
            if let Some(p) = s.first(NS_PSKC, "PlainValue") {
                Secret::Plain(b64(&format!("{at}: PlainValue"), &p.text)?)
            } else if let Some(e) = s.first(NS_PSKC, "EncryptedValue") {
                let mac = s
                    .first(NS_PSKC, "ValueMAC")
                    .map(|m| b64(&format!("{at}: ValueMAC"), &m.text))
                    .transpose()?;
                Secret::Encrypted {
                    value: encrypted(&format!("{at}: EncryptedValue"), e)?,
                    mac,
                }
            } else {
                Secret::None
            }
        }
    };
    let scheme = el.attr("commonEncryptionScheme").map(str::to_string);
    if scheme.as_ref().is_some_and(|s| s.len() != 4) {
        return Err(invalid(at, "commonEncryptionScheme is not four characters"));
    }
    Ok((
        ContentKeyEntry {
            kid,
            value: None,
            common_encryption_scheme: scheme,
            explicit_iv: el.attr("explicitIV").map(str::to_string),
        },
        secret,
    ))
}

fn drm_system(el: &Element) -> Result<DrmSystem, CpixError> {
    let kid = kid("DRMSystem", el)?;
    let sid = el
        .attr("systemId")
        .ok_or_else(|| invalid(format!("DRMSystem {kid}"), "has no systemId"))?;
    let system_id = Uuid::parse_str(sid)
        .map_err(|_| invalid(format!("DRMSystem {kid}"), "systemId is not a UUID"))?;
    let at = |n: &str| format!("DRMSystem {system_id} {kid}: {n}");
    let bytes = |n: &str| -> Result<Option<Vec<u8>>, CpixError> {
        el.first(NS_CPIX, n)
            .map(|e| b64(&at(n), &e.text))
            .transpose()
    };
    let mut d = DrmSystem {
        system_id,
        kid,
        name: el.attr("name").map(str::to_string),
        pssh: bytes("PSSH")?,
        content_protection_data: bytes("ContentProtectionData")?,
        uri_ext_x_key: bytes("URIExtXKey")?,
        hls_signaling_master: None,
        hls_signaling_media: None,
        smooth_streaming_protection_header_data: el
            .first(NS_CPIX, "SmoothStreamingProtectionHeaderData")
            .map(|e| e.text.trim().to_string()),
    };
    for h in el.all(NS_CPIX, "HLSSignalingData") {
        let v = b64(&at("HLSSignalingData"), &h.text)?;
        let slot = match h.attr("playlist") {
            Some("master") => &mut d.hls_signaling_master,
            Some("media") | None => &mut d.hls_signaling_media,
            Some(other) => {
                return Err(invalid(
                    at("HLSSignalingData"),
                    format!("playlist '{other}' is neither master nor media"),
                ));
            }
        };
        if slot.replace(v).is_some() {
            return Err(invalid(
                at("HLSSignalingData"),
                "given twice for one playlist",
            ));
        }
    }
    Ok(d)
}

fn usage_rule(el: &Element) -> Result<UsageRule, CpixError> {
    let kid = kid("ContentKeyUsageRule", el)?;
    let at = format!("ContentKeyUsageRule {kid}");
    let mut filters = Vec::new();
    for f in &el.children {
        if f.ns != NS_CPIX {
            return Err(CpixError::UnknownFilter {
                kid,
                filter: format!("{{{}}}{}", f.ns, f.name),
            });
        }
        let filter = match f.name.as_str() {
            "KeyPeriodFilter" => Filter::KeyPeriod {
                period_id: f
                    .attr("periodId")
                    .ok_or_else(|| invalid(&at, "KeyPeriodFilter has no periodId"))?
                    .to_string(),
            },
            "LabelFilter" => Filter::Label {
                label: f
                    .attr("label")
                    .ok_or_else(|| invalid(&at, "LabelFilter has no label"))?
                    .to_string(),
            },
            "VideoFilter" => {
                let e = format!("{at}: VideoFilter");
                Filter::Video(VideoFilter {
                    min_pixels: uint(&e, f, "minPixels")?,
                    max_pixels: uint(&e, f, "maxPixels")?,
                    hdr: boolean(&e, f, "hdr")?,
                    wcg: boolean(&e, f, "wcg")?,
                    min_fps: uint(&e, f, "minFps")?,
                    max_fps: uint(&e, f, "maxFps")?,
                })
            }
            "AudioFilter" => {
                let e = format!("{at}: AudioFilter");
                Filter::Audio {
                    min_channels: uint(&e, f, "minChannels")?,
                    max_channels: uint(&e, f, "maxChannels")?,
                }
            }
            "BitrateFilter" => {
                let e = format!("{at}: BitrateFilter");
                Filter::Bitrate {
                    min_bitrate: uint(&e, f, "minBitrate")?,
                    max_bitrate: uint(&e, f, "maxBitrate")?,
                }
            }
            other => {
                return Err(CpixError::UnknownFilter {
                    kid,
                    filter: other.to_string(),
                });
            }
        };
        filters.push(filter);
    }
    Ok(UsageRule {
        kid,
        intended_track_type: el.attr("intendedTrackType").map(str::to_string),
        filters,
    })
}

/// The children of a list element named `item`, bounded by [`MAX_KEYS`]
/// times `per_key`.
fn items<'a>(
    list: &'a Element,
    item: &'a str,
    per_key: usize,
) -> Result<Vec<&'a Element>, CpixError> {
    if let Some(other) = list.children.iter().find(|c| !c.is(NS_CPIX, item)) {
        return Err(invalid(
            &list.name,
            format!("unexpected element {}", other.name),
        ));
    }
    let max = MAX_KEYS * per_key;
    if list.children.len() > max {
        return Err(CpixError::TooMany {
            element: list.name.clone(),
            max,
        });
    }
    Ok(list.children.iter().collect())
}

pub(super) fn document(
    bytes: &[u8],
    recipient: Option<&RecipientKey>,
    trusted: Option<&TrustedSigner>,
) -> Result<(Document, Vec<VerifiedSignature>), CpixError> {
    let root = xml::parse(bytes)?;
    if !root.is(NS_CPIX, "CPIX") {
        return Err(invalid(
            &root.name,
            format!("the root element must be CPIX in namespace {NS_CPIX}"),
        ));
    }
    // Signatures first: nothing of a document whose signature fails is
    // decrypted or used.
    let signatures = if has_signature(&root) || trusted.is_some() {
        // xml::parse accepted the bytes as UTF-8 (after an optional BOM).
        let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let text = std::str::from_utf8(b).map_err(|e| CpixError::Malformed {
            offset: e.valid_up_to() as u64,
            reason: "not UTF-8".into(),
        })?;
        dsig::verify(text, trusted)?
    } else {
        Vec::new()
    };
    let mut seen: Vec<&str> = Vec::new();
    let mut doc = Document {
        content_id: root.attr("contentId").map(str::to_string),
        ..Document::default()
    };
    let mut deliveries = Vec::new();
    let mut secrets = Vec::new();
    for list in &root.children {
        if list.is(NS_DSIG, "Signature") {
            continue;
        }
        if list.ns == NS_CPIX && seen.contains(&list.name.as_str()) {
            // A second, unsigned copy of a signed list must not be read.
            return Err(invalid(&list.name, "is given twice"));
        }
        seen.push(&list.name);
        if list.ns != NS_CPIX {
            return Err(invalid("CPIX", format!("unexpected element {}", list.name)));
        }
        match list.name.as_str() {
            "DeliveryDataList" => {
                for d in items(list, "DeliveryData", 1)? {
                    deliveries.push(delivery(d)?);
                }
            }
            "ContentKeyList" => {
                for k in items(list, "ContentKey", 1)? {
                    let (entry, secret) = content_key(k)?;
                    if doc.content_keys.iter().any(|o| o.kid == entry.kid) {
                        return Err(invalid(
                            format!("ContentKey {}", entry.kid),
                            "is listed twice",
                        ));
                    }
                    doc.content_keys.push(entry);
                    secrets.push(secret);
                }
            }
            "DRMSystemList" => {
                for d in items(list, "DRMSystem", 16)? {
                    doc.drm_systems.push(drm_system(d)?);
                }
            }
            "ContentKeyUsageRuleList" => {
                for r in items(list, "ContentKeyUsageRule", 16)? {
                    doc.usage_rules.push(usage_rule(r)?);
                }
            }
            "ContentKeyPeriodList" => {
                for p in items(list, "ContentKeyPeriod", 1)? {
                    let index = match p.attr("index") {
                        None => None,
                        Some(i) => Some(i.trim().parse().map_err(|_| {
                            invalid("ContentKeyPeriod", "index is not a non-negative integer")
                        })?),
                    };
                    let id = p.attr("id").unwrap_or_default().to_string();
                    doc.periods.push(ContentKeyPeriod { id, index });
                }
            }
            // The update history carries nothing castguard keeps.
            "UpdateHistoryItemList" => {}
            other => return Err(invalid("CPIX", format!("unexpected element {other}"))),
        }
    }
    let encrypted = secrets
        .iter()
        .any(|s| matches!(s, Secret::Encrypted { .. }));
    let keys = if encrypted {
        let recipient = recipient.ok_or(CpixError::NeedsRecipientKey)?;
        let d = deliveries
            .iter()
            .find(|d| {
                Recipient::spki_of(&d.certificate).as_deref() == Some(recipient.spki.as_slice())
            })
            .ok_or(CpixError::NotForThisRecipient)?;
        Some(unwrap_keys(d, recipient)?)
    } else {
        None
    };
    for (entry, secret) in doc.content_keys.iter_mut().zip(secrets) {
        let at = format!("ContentKey {}", entry.kid);
        entry.value = match secret {
            Secret::None => None,
            Secret::Plain(mut v) => {
                let r = ContentKeyValue::from_slice("PlainValue", &v);
                zeroize::Zeroize::zeroize(&mut v);
                Some(r.map_err(|e| invalid(&at, e.to_string()))?)
            }
            Secret::Encrypted { value, mac } => {
                let (document_key, mac_key) = keys.as_ref().ok_or(CpixError::NeedsRecipientKey)?;
                if value.algorithm != ALG_AES256_CBC {
                    return Err(invalid(
                        &at,
                        format!(
                            "algorithm {} is not supported (only {ALG_AES256_CBC})",
                            value.algorithm
                        ),
                    ));
                }
                match (mac_key, mac) {
                    (Some(k), Some(tag)) => {
                        if !crypto::mac_ok(k, &value.cipher, &tag) {
                            return Err(CpixError::WrongMac { kid: entry.kid });
                        }
                    }
                    (Some(_), None) => {
                        return Err(invalid(
                            &at,
                            "has no ValueMAC, but the document has a MAC key",
                        ));
                    }
                    (None, _) => {
                        return Err(invalid(
                            &at,
                            "is encrypted without a MACMethod: the spec requires one",
                        ));
                    }
                }
                let plain = crypto::decrypt_value(&at, document_key, &value.cipher)?;
                Some(
                    ContentKeyValue::from_slice("EncryptedValue", &plain)
                        .map_err(|e| invalid(&at, e.to_string()))?,
                )
            }
        };
    }
    for d in &doc.drm_systems {
        if !doc.content_keys.iter().any(|k| k.kid == d.kid) && !doc.content_keys.is_empty() {
            return Err(invalid(
                format!("DRMSystem {} {}", d.system_id, d.kid),
                "names a key the document does not have",
            ));
        }
    }
    Ok((doc, signatures))
}

/// The document key and MAC key of `d`, unwrapped with `recipient`.
#[allow(clippy::type_complexity)]
fn unwrap_keys(
    d: &Delivery,
    recipient: &RecipientKey,
) -> Result<(Zeroizing<Vec<u8>>, Option<Zeroizing<Vec<u8>>>), CpixError> {
    let dk = d
        .document_key
        .as_ref()
        .ok_or_else(|| invalid("DeliveryData", "has no DocumentKey"))?;
    if dk.algorithm != ALG_RSA_OAEP {
        return Err(invalid(
            "DocumentKey",
            format!(
                "key transport {} is not supported (only {ALG_RSA_OAEP})",
                dk.algorithm
            ),
        ));
    }
    let document_key = recipient.unwrap("DocumentKey", &dk.cipher)?;
    if document_key.len() != 32 {
        return Err(invalid("DocumentKey", "is not a 256-bit key"));
    }
    let mac_key = match &d.mac_key {
        None => None,
        Some(m) if m.algorithm == ALG_RSA_OAEP => {
            Some(recipient.unwrap("MACMethod/Key", &m.cipher)?)
        }
        // Also allowed: the MAC key encrypted under the document key.
        Some(m) if m.algorithm == ALG_AES256_CBC => Some(crypto::decrypt_value(
            "MACMethod/Key",
            &document_key,
            &m.cipher,
        )?),
        Some(m) => {
            return Err(invalid(
                "MACMethod/Key",
                format!("algorithm {} is not supported", m.algorithm),
            ));
        }
    };
    Ok((document_key, mac_key))
}
