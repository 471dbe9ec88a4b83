//! DRM system data for `pssh` boxes (ISO/IEC 23001-7 §8.1) and manifests: the payloads
//! only; the `bmff` crate writes the boxes around them.
//!
//! - W3C Common PSSH ("cenc" Initialization Data Format): a version 1 `pssh` with
//!   [`COMMON`], the KIDs in the box and no data.
//! - Widevine: a `WidevinePsshData` protobuf, [`widevine_data`].
//! - PlayReady: a PlayReady Header Object around a WRMHEADER, [`playready_object`].
//! - FairPlay: no `pssh`; the key is named by an `skd://` URI in the HLS playlist,
//!   [`fairplay_skd_uri`].

mod playready;
mod widevine;

pub use playready::{
    PlayReadyVersion, playready_header_xml, playready_object, playready_object_base64,
    playready_object_with_checksums,
};
pub use widevine::widevine_data;

use crate::KeyId;

/// W3C Common PSSH system ID 1077efec-c0b2-4d02-ace3-3c1e52e2fb4b.
pub const COMMON: [u8; 16] = [
    0x10, 0x77, 0xef, 0xec, 0xc0, 0xb2, 0x4d, 0x02, 0xac, 0xe3, 0x3c, 0x1e, 0x52, 0xe2, 0xfb, 0x4b,
];
/// Widevine system ID edef8ba9-79d6-4ace-a3c8-27dcd51d21ed.
pub const WIDEVINE: [u8; 16] = [
    0xed, 0xef, 0x8b, 0xa9, 0x79, 0xd6, 0x4a, 0xce, 0xa3, 0xc8, 0x27, 0xdc, 0xd5, 0x1d, 0x21, 0xed,
];
/// PlayReady system ID 9a04f079-9840-4286-ab92-e65be0885f95.
pub const PLAYREADY: [u8; 16] = [
    0x9a, 0x04, 0xf0, 0x79, 0x98, 0x40, 0x42, 0x86, 0xab, 0x92, 0xe6, 0x5b, 0xe0, 0x88, 0x5f, 0x95,
];
/// FairPlay system ID 94ce86fb-07ff-4f43-adb8-93d2fa968ca2 (signalling only, no `pssh`).
pub const FAIRPLAY: [u8; 16] = [
    0x94, 0xce, 0x86, 0xfb, 0x07, 0xff, 0x4f, 0x43, 0xad, 0xb8, 0x93, 0xd2, 0xfa, 0x96, 0x8c, 0xa2,
];

/// The `skd://` key URI FairPlay players pass to the app's key request.
///
/// Without a template: `skd://<kid as 32 lowercase hex digits>`. With a template, `{kid}` is
/// replaced by the 32 hex digits and `{kid_uuid}` by the UUID form; a template without
/// either placeholder is used as is.
pub fn fairplay_skd_uri(kid: KeyId, template: Option<&str>) -> String {
    match template {
        None => format!("skd://{}", kid.to_hex()),
        Some(t) => t
            .replace("{kid_uuid}", &kid.to_string())
            .replace("{kid}", &kid.to_hex()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_ids_match_their_uuids() {
        for (id, text) in [
            (COMMON, "1077efec-c0b2-4d02-ace3-3c1e52e2fb4b"),
            (WIDEVINE, "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"),
            (PLAYREADY, "9a04f079-9840-4286-ab92-e65be0885f95"),
            (FAIRPLAY, "94ce86fb-07ff-4f43-adb8-93d2fa968ca2"),
        ] {
            assert_eq!(KeyId(id).to_string(), text);
        }
    }

    #[test]
    fn skd_uri() {
        let kid: KeyId = "8ba94ade-6eb9-449d-b44f-a5beefaf43b0".parse().unwrap();
        assert_eq!(
            fairplay_skd_uri(kid, None),
            "skd://8ba94ade6eb9449db44fa5beefaf43b0"
        );
        assert_eq!(
            fairplay_skd_uri(kid, Some("skd://keys.example/{kid_uuid}?x={kid}")),
            "skd://keys.example/8ba94ade-6eb9-449d-b44f-a5beefaf43b0?x=8ba94ade6eb9449db44fa5beefaf43b0"
        );
    }
}
