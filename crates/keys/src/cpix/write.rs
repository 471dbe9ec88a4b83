//! Writing a [`Document`] as CPIX 2.3 XML (element order as `cpix.xsd`
//! requires it: DeliveryDataList, ContentKeyList, DRMSystemList,
//! ContentKeyPeriodList, ContentKeyUsageRuleList).

use super::crypto::{self, ALG_AES256_CBC, ALG_HMAC_SHA512, ALG_RSA_OAEP, Recipient};
use super::{CpixError, Document, Filter, NS_CPIX, NS_DSIG, NS_PSKC, NS_XENC};
use base64::Engine as _;
use std::fmt::Write as _;
use zeroize::Zeroizing;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// XML 1.0 text or attribute value: markup escaped, characters XML cannot
/// carry replaced by U+FFFD.
fn esc(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => '\u{fffd}',
            _ => c,
        })
        .collect();
    quick_xml::escape::escape(clean.as_str()).into_owned()
}

fn encrypted_value(out: &mut String, algorithm: &str, cipher: &[u8]) {
    let _ = write!(
        out,
        "<enc:EncryptionMethod Algorithm=\"{algorithm}\"/><enc:CipherData><enc:CipherValue>{}</enc:CipherValue></enc:CipherData>",
        b64(cipher)
    );
}

/// The document key and the MAC key of an encrypted document.
type DeliveryKeys = (Zeroizing<[u8; 32]>, Zeroizing<[u8; 64]>);

pub(super) fn document(
    doc: &Document,
    encrypt_for: Option<&Recipient>,
) -> Result<String, CpixError> {
    let mut x = String::with_capacity(4096);
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // The `cpix` prefix is declared besides the default namespace: SPEKE
    // encryptors (AWS's verification suite) require `cpix` and `pskc`.
    let _ = write!(
        x,
        "<CPIX xmlns=\"{NS_CPIX}\" xmlns:cpix=\"{NS_CPIX}\" xmlns:pskc=\"{NS_PSKC}\" xmlns:enc=\"{NS_XENC}\" xmlns:ds=\"{NS_DSIG}\" version=\"2.3\""
    );
    if let Some(c) = &doc.content_id {
        let _ = write!(x, " contentId=\"{}\"", esc(c));
    }
    x.push_str(">\n");
    // The document and MAC keys exist only while this function runs.
    let keys: Option<DeliveryKeys> = match encrypt_for {
        None => None,
        Some(r) => {
            let document_key = crypto::random::<32>()?;
            let mac_key = crypto::random::<64>()?;
            x.push_str("  <DeliveryDataList>\n    <DeliveryData>\n      <DeliveryKey><ds:X509Data><ds:X509Certificate>");
            x.push_str(&b64(&r.der));
            let _ = write!(
                x,
                "</ds:X509Certificate></ds:X509Data></DeliveryKey>\n      <DocumentKey Algorithm=\"{ALG_AES256_CBC}\"><Data><pskc:Secret><pskc:EncryptedValue>"
            );
            encrypted_value(&mut x, ALG_RSA_OAEP, &r.wrap(document_key.as_ref())?);
            let _ = write!(
                x,
                "</pskc:EncryptedValue></pskc:Secret></Data></DocumentKey>\n      <MACMethod Algorithm=\"{ALG_HMAC_SHA512}\"><Key>"
            );
            encrypted_value(&mut x, ALG_RSA_OAEP, &r.wrap(mac_key.as_ref())?);
            x.push_str("</Key></MACMethod>\n    </DeliveryData>\n  </DeliveryDataList>\n");
            Some((document_key, mac_key))
        }
    };
    if !doc.content_keys.is_empty() {
        x.push_str("  <ContentKeyList>\n");
        for k in &doc.content_keys {
            let _ = write!(x, "    <ContentKey kid=\"{}\"", k.kid.hyphenated());
            if let Some(iv) = &k.explicit_iv {
                let _ = write!(x, " explicitIV=\"{}\"", esc(iv));
            }
            if let Some(s) = &k.common_encryption_scheme {
                let _ = write!(x, " commonEncryptionScheme=\"{}\"", esc(s));
            }
            let Some(value) = &k.value else {
                x.push_str("/>\n");
                continue;
            };
            x.push_str("><Data><pskc:Secret>");
            match &keys {
                None => {
                    let mut v = Zeroizing::new(b64(value.expose()));
                    x.push_str("<pskc:PlainValue>");
                    x.push_str(&v);
                    x.push_str("</pskc:PlainValue>");
                    zeroize::Zeroize::zeroize(&mut *v);
                }
                Some((document_key, mac_key)) => {
                    let cipher = crypto::encrypt_value(document_key, value.expose())?;
                    x.push_str("<pskc:EncryptedValue>");
                    encrypted_value(&mut x, ALG_AES256_CBC, &cipher);
                    let _ = write!(
                        x,
                        "</pskc:EncryptedValue><pskc:ValueMAC>{}</pskc:ValueMAC>",
                        b64(&crypto::mac(mac_key.as_ref(), &cipher))
                    );
                }
            }
            x.push_str("</pskc:Secret></Data></ContentKey>\n");
        }
        x.push_str("  </ContentKeyList>\n");
    }
    if !doc.drm_systems.is_empty() {
        x.push_str("  <DRMSystemList>\n");
        for d in &doc.drm_systems {
            let _ = write!(
                x,
                "    <DRMSystem systemId=\"{}\" kid=\"{}\"",
                d.system_id.hyphenated(),
                d.kid.hyphenated()
            );
            if let Some(n) = &d.name {
                let _ = write!(x, " name=\"{}\"", esc(n));
            }
            x.push_str(">\n");
            let mut el = |name: &str, attrs: &str, v: &Option<Vec<u8>>| {
                if let Some(v) = v {
                    let _ = writeln!(x, "      <{name}{attrs}>{}</{name}>", b64(v));
                }
            };
            el("PSSH", "", &d.pssh);
            el("ContentProtectionData", "", &d.content_protection_data);
            el("URIExtXKey", "", &d.uri_ext_x_key);
            el(
                "HLSSignalingData",
                " playlist=\"master\"",
                &d.hls_signaling_master,
            );
            el(
                "HLSSignalingData",
                " playlist=\"media\"",
                &d.hls_signaling_media,
            );
            if let Some(s) = &d.smooth_streaming_protection_header_data {
                let _ = writeln!(
                    x,
                    "      <SmoothStreamingProtectionHeaderData>{}</SmoothStreamingProtectionHeaderData>",
                    esc(s)
                );
            }
            x.push_str("    </DRMSystem>\n");
        }
        x.push_str("  </DRMSystemList>\n");
    }
    if !doc.periods.is_empty() {
        x.push_str("  <ContentKeyPeriodList>\n");
        for p in &doc.periods {
            let _ = write!(x, "    <ContentKeyPeriod id=\"{}\"", esc(&p.id));
            if let Some(i) = p.index {
                let _ = write!(x, " index=\"{i}\"");
            }
            x.push_str("/>\n");
        }
        x.push_str("  </ContentKeyPeriodList>\n");
    }
    if !doc.usage_rules.is_empty() {
        x.push_str("  <ContentKeyUsageRuleList>\n");
        for r in &doc.usage_rules {
            let _ = write!(x, "    <ContentKeyUsageRule kid=\"{}\"", r.kid.hyphenated());
            if let Some(t) = &r.intended_track_type {
                let _ = write!(x, " intendedTrackType=\"{}\"", esc(t));
            }
            if r.filters.is_empty() {
                x.push_str("/>\n");
                continue;
            }
            x.push('>');
            // cpix.xsd orders filters by type.
            let rank = |f: &Filter| match f {
                Filter::KeyPeriod { .. } => 0,
                Filter::Label { .. } => 1,
                Filter::Video(_) => 2,
                Filter::Audio { .. } => 3,
                Filter::Bitrate { .. } => 4,
            };
            let mut filters: Vec<&Filter> = r.filters.iter().collect();
            filters.sort_by_key(|f| rank(f));
            for f in filters {
                let mut attrs = String::new();
                let mut num = |name: &str, v: Option<u64>| {
                    if let Some(v) = v {
                        let _ = write!(attrs, " {name}=\"{v}\"");
                    }
                };
                let name = match f {
                    Filter::KeyPeriod { period_id } => {
                        let _ = write!(attrs, " periodId=\"{}\"", esc(period_id));
                        "KeyPeriodFilter"
                    }
                    Filter::Label { label } => {
                        let _ = write!(attrs, " label=\"{}\"", esc(label));
                        "LabelFilter"
                    }
                    Filter::Video(v) => {
                        num("minPixels", v.min_pixels);
                        num("maxPixels", v.max_pixels);
                        for (n, b) in [("hdr", v.hdr), ("wcg", v.wcg)] {
                            if let Some(b) = b {
                                let _ = write!(attrs, " {n}=\"{b}\"");
                            }
                        }
                        let mut num = |name: &str, v: Option<u64>| {
                            if let Some(v) = v {
                                let _ = write!(attrs, " {name}=\"{v}\"");
                            }
                        };
                        num("minFps", v.min_fps);
                        num("maxFps", v.max_fps);
                        "VideoFilter"
                    }
                    Filter::Audio {
                        min_channels,
                        max_channels,
                    } => {
                        num("minChannels", *min_channels);
                        num("maxChannels", *max_channels);
                        "AudioFilter"
                    }
                    Filter::Bitrate {
                        min_bitrate,
                        max_bitrate,
                    } => {
                        num("minBitrate", *min_bitrate);
                        num("maxBitrate", *max_bitrate);
                        "BitrateFilter"
                    }
                };
                let _ = write!(x, "<{name}{attrs}/>");
            }
            x.push_str("</ContentKeyUsageRule>\n");
        }
        x.push_str("  </ContentKeyUsageRuleList>\n");
    }
    x.push_str("</CPIX>\n");
    Ok(x)
}
