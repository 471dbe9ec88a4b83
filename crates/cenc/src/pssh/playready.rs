//! PlayReady Header Object (PRO) and WRMHEADER XML, per Microsoft's "PlayReady Header
//! Specification" (WRMHEADER versions 4.0.0.0 to 4.3.0.0).
//!
//! PRO layout (all little-endian): total length u32 (including itself), record count u16,
//! then records of type u16 (1 = rights management header), length u16 and value; the
//! value of a type 1 record is the WRMHEADER XML in UTF-16LE.
//!
//! A KID is written as base64 of its GUID bytes (first three groups little-endian). The
//! optional `CHECKSUM` is the first 8 bytes of AES-128-ECB of those GUID bytes under the
//! content key, base64: it needs the key, so [`playready_object`] (KIDs only) omits it and
//! [`playready_object_with_checksums`] (KIDs with keys) writes it. Version rules enforced:
//! 4.0 and 4.1 carry exactly one KID; `cbcs` (ALGID `AESCBC`) needs 4.3.

use aes::Aes128;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::{ContentKey, Error, KeyId, Result, Scheme};

/// WRMHEADER version.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum PlayReadyVersion {
    /// 4.0.0.0: one KID, AES-CTR only (PlayReady 1.x clients and later).
    V4_0,
    /// 4.1.0.0: one KID as a `KID` element with attributes (PlayReady 3.0+).
    V4_1,
    /// 4.2.0.0: several KIDs (PlayReady 3.0+).
    V4_2,
    /// 4.3.0.0: several KIDs and `AESCBC` for `cbcs` (PlayReady 4.0+).
    V4_3,
}

impl PlayReadyVersion {
    fn text(self) -> &'static str {
        match self {
            PlayReadyVersion::V4_0 => "4.0.0.0",
            PlayReadyVersion::V4_1 => "4.1.0.0",
            PlayReadyVersion::V4_2 => "4.2.0.0",
            PlayReadyVersion::V4_3 => "4.3.0.0",
        }
    }
}

const XMLNS: &str = "http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader";

fn checksum(key: &crate::Key, kid: KeyId) -> String {
    let cipher = Aes128::new(key.as_bytes().into());
    let mut block = kid.to_guid_bytes().into();
    cipher.encrypt_block(&mut block);
    B64.encode(&block[..8])
}

fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn build_xml(
    kids: &[(KeyId, Option<String>)],
    la_url: Option<&str>,
    version: PlayReadyVersion,
    scheme: Scheme,
) -> Result<String> {
    let v = version.text();
    let err = |reason| Error::PlayReady { version: v, reason };
    let Some(first) = kids.first() else {
        return Err(err("at least one KID is required"));
    };
    let algid = match (scheme, version) {
        (Scheme::Cenc, _) => "AESCTR",
        (Scheme::Cbcs, PlayReadyVersion::V4_3) => "AESCBC",
        (Scheme::Cbcs, _) => return Err(err("cbcs (AESCBC) requires WRMHEADER 4.3")),
    };
    let one = matches!(version, PlayReadyVersion::V4_0 | PlayReadyVersion::V4_1);
    if one && kids.len() != 1 {
        return Err(err("this version carries exactly one KID"));
    }
    let la = la_url
        .map(|u| format!("<LA_URL>{}</LA_URL>", escape_xml(u)))
        .unwrap_or_default();
    let kid_attr = |(kid, sum): &(KeyId, Option<String>)| {
        let sum = sum
            .as_ref()
            .map(|s| format!(" CHECKSUM=\"{s}\""))
            .unwrap_or_default();
        format!(
            "<KID ALGID=\"{algid}\"{sum} VALUE=\"{}\"></KID>",
            B64.encode(kid.to_guid_bytes())
        )
    };
    let data = match version {
        PlayReadyVersion::V4_0 => {
            let (kid, sum) = first;
            let sum = sum
                .as_ref()
                .map(|s| format!("<CHECKSUM>{s}</CHECKSUM>"))
                .unwrap_or_default();
            format!(
                "<PROTECTINFO><KEYLEN>16</KEYLEN><ALGID>AESCTR</ALGID></PROTECTINFO><KID>{}</KID>{sum}{la}",
                B64.encode(kid.to_guid_bytes())
            )
        }
        PlayReadyVersion::V4_1 => {
            format!("<PROTECTINFO>{}</PROTECTINFO>{la}", kid_attr(first))
        }
        PlayReadyVersion::V4_2 | PlayReadyVersion::V4_3 => {
            let all: String = kids.iter().map(kid_attr).collect();
            format!("<PROTECTINFO><KIDS>{all}</KIDS></PROTECTINFO>{la}")
        }
    };
    Ok(format!(
        "<WRMHEADER xmlns=\"{XMLNS}\" version=\"{v}\"><DATA>{data}</DATA></WRMHEADER>"
    ))
}

fn wrap_object(xml: &str, version: PlayReadyVersion) -> Result<Vec<u8>> {
    let utf16: Vec<u8> = xml.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let record_len = u16::try_from(utf16.len()).map_err(|_| Error::PlayReady {
        version: version.text(),
        reason: "WRMHEADER longer than 65535 bytes",
    })?;
    let total = 4 + 2 + 2 + 2 + utf16.len();
    // total <= 10 + 65535, fits in u32.
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&record_len.to_le_bytes());
    out.extend_from_slice(&utf16);
    Ok(out)
}

/// The WRMHEADER XML text (before UTF-16LE encoding), without CHECKSUM.
pub fn playready_header_xml(
    kids: &[KeyId],
    la_url: Option<&str>,
    version: PlayReadyVersion,
    scheme: Scheme,
) -> Result<String> {
    let kids: Vec<_> = kids.iter().map(|&k| (k, None)).collect();
    build_xml(&kids, la_url, version, scheme)
}

/// The PlayReady Header Object for the PlayReady `pssh` data, without CHECKSUM (optional in
/// every WRMHEADER version). Errors: no KID; 4.0/4.1 with other than one KID; `cbcs` below
/// 4.3; a header over 65535 bytes.
pub fn playready_object(
    kids: &[KeyId],
    la_url: Option<&str>,
    version: PlayReadyVersion,
    scheme: Scheme,
) -> Result<Vec<u8>> {
    wrap_object(
        &playready_header_xml(kids, la_url, version, scheme)?,
        version,
    )
}

/// Like [`playready_object`], with a CHECKSUM for each KID computed from its key.
pub fn playready_object_with_checksums(
    keys: &[ContentKey],
    la_url: Option<&str>,
    version: PlayReadyVersion,
    scheme: Scheme,
) -> Result<Vec<u8>> {
    let kids: Vec<_> = keys
        .iter()
        .map(|k| (k.kid, Some(checksum(&k.key, k.kid))))
        .collect();
    wrap_object(&build_xml(&kids, la_url, version, scheme)?, version)
}

/// Base64 of [`playready_object`], for `<mspr:pro>` in a DASH MPD.
pub fn playready_object_base64(
    kids: &[KeyId],
    la_url: Option<&str>,
    version: PlayReadyVersion,
    scheme: Scheme,
) -> Result<String> {
    Ok(B64.encode(playready_object(kids, la_url, version, scheme)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Key;

    const URL: &str = "https://test.playready.microsoft.com/service/rightsmanager.asmx";

    fn test_key() -> ContentKey {
        ContentKey {
            kid: "8ba94ade-6eb9-449d-b44f-a5beefaf43b0".parse().unwrap(),
            key: Key::from_hex("DBFD6922C321C4BB486F4A1C44097ED6").unwrap(),
        }
    }

    fn decode_xml(obj: &[u8]) -> String {
        let total = u32::from_le_bytes(obj[0..4].try_into().unwrap()) as usize;
        assert_eq!(total, obj.len());
        assert_eq!(u16::from_le_bytes([obj[4], obj[5]]), 1);
        assert_eq!(u16::from_le_bytes([obj[6], obj[7]]), 1);
        let len = u16::from_le_bytes([obj[8], obj[9]]) as usize;
        assert_eq!(len, obj.len() - 10);
        let units: Vec<u16> = obj[10..]
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&units).unwrap()
    }

    /// Golden WRMHEADER 4.2 for the published test KID/key (checksum "Me48z71nuqY=", KID
    /// "3kqpi7lunUS0T6W+769DsA=="), as public PlayReady tooling test suites give it.
    #[test]
    fn golden_v4_2_with_checksum() {
        let obj = playready_object_with_checksums(
            &[test_key()],
            Some(URL),
            PlayReadyVersion::V4_2,
            Scheme::Cenc,
        )
        .unwrap();
        assert_eq!(
            decode_xml(&obj),
            "<WRMHEADER xmlns=\"http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader\" version=\"4.2.0.0\"><DATA><PROTECTINFO><KIDS><KID ALGID=\"AESCTR\" CHECKSUM=\"Me48z71nuqY=\" VALUE=\"3kqpi7lunUS0T6W+769DsA==\"></KID></KIDS></PROTECTINFO><LA_URL>https://test.playready.microsoft.com/service/rightsmanager.asmx</LA_URL></DATA></WRMHEADER>"
        );
        assert_eq!(obj[10], b'<');
        assert_eq!(obj[11], 0);
    }

    #[test]
    fn versions() {
        let kid = test_key().kid;
        let v40 = playready_header_xml(&[kid], None, PlayReadyVersion::V4_0, Scheme::Cenc).unwrap();
        assert!(v40.contains("version=\"4.0.0.0\"><DATA><PROTECTINFO><KEYLEN>16</KEYLEN><ALGID>AESCTR</ALGID></PROTECTINFO><KID>3kqpi7lunUS0T6W+769DsA==</KID></DATA>"), "{v40}");
        let v40c = decode_xml(
            &playready_object_with_checksums(
                &[test_key()],
                None,
                PlayReadyVersion::V4_0,
                Scheme::Cenc,
            )
            .unwrap(),
        );
        assert!(
            v40c.contains("</KID><CHECKSUM>Me48z71nuqY=</CHECKSUM></DATA>"),
            "{v40c}"
        );
        let v41 = playready_header_xml(
            &[kid],
            Some("https://x/?a=1&b=2"),
            PlayReadyVersion::V4_1,
            Scheme::Cenc,
        )
        .unwrap();
        assert!(v41.contains("<PROTECTINFO><KID ALGID=\"AESCTR\" VALUE=\"3kqpi7lunUS0T6W+769DsA==\"></KID></PROTECTINFO><LA_URL>https://x/?a=1&amp;b=2</LA_URL>"), "{v41}");
        let two = [kid, KeyId([0x10; 16])];
        let v43 = playready_header_xml(&two, None, PlayReadyVersion::V4_3, Scheme::Cbcs).unwrap();
        assert_eq!(v43.matches("ALGID=\"AESCBC\"").count(), 2, "{v43}");
        assert!(playready_object(&two, None, PlayReadyVersion::V4_2, Scheme::Cenc).is_ok());
        // Errors.
        assert!(playready_object(&two, None, PlayReadyVersion::V4_0, Scheme::Cenc).is_err());
        assert!(playready_object(&two, None, PlayReadyVersion::V4_1, Scheme::Cenc).is_err());
        assert!(playready_object(&[], None, PlayReadyVersion::V4_3, Scheme::Cenc).is_err());
        for v in [
            PlayReadyVersion::V4_0,
            PlayReadyVersion::V4_1,
            PlayReadyVersion::V4_2,
        ] {
            assert!(playready_object(&[kid], None, v, Scheme::Cbcs).is_err());
        }
        let long = "x".repeat(40_000);
        assert!(
            playready_object(&[kid], Some(&long), PlayReadyVersion::V4_3, Scheme::Cenc).is_err()
        );
        let b64 =
            playready_object_base64(&[kid], None, PlayReadyVersion::V4_3, Scheme::Cenc).unwrap();
        assert_eq!(
            B64.decode(b64).unwrap(),
            playready_object(&[kid], None, PlayReadyVersion::V4_3, Scheme::Cenc).unwrap()
        );
    }
}
