//! Widevine `pssh` data: the `WidevinePsshData` protobuf (proto2) that shaka-packager
//! publishes in `packager/media/base/widevine_pssh_data.proto`. Declared by hand for
//! `prost` (no `protoc`); field numbers as published: `key_id` = 2, `provider` = 3,
//! `content_id` = 4, `protection_scheme` = 9 (the scheme's four-character code read as a
//! big-endian `uint32`, e.g. 'cenc' = 0x63656e63).

use prost::Message;

use crate::{KeyId, Scheme};

#[derive(Clone, PartialEq, Message)]
struct WidevinePsshData {
    #[prost(bytes = "vec", repeated, tag = "2")]
    key_id: Vec<Vec<u8>>,
    #[prost(string, optional, tag = "3")]
    provider: Option<String>,
    #[prost(bytes = "vec", optional, tag = "4")]
    content_id: Option<Vec<u8>>,
    #[prost(uint32, optional, tag = "9")]
    protection_scheme: Option<u32>,
}

/// The serialized `WidevinePsshData` for the `pssh` box with system ID
/// [`super::WIDEVINE`].
pub fn widevine_data(
    kids: &[KeyId],
    provider: Option<&str>,
    content_id: Option<&[u8]>,
    scheme: Scheme,
) -> Vec<u8> {
    WidevinePsshData {
        key_id: kids.iter().map(|k| k.0.to_vec()).collect(),
        provider: provider.map(str::to_owned),
        content_id: content_id.map(<[u8]>::to_vec),
        protection_scheme: Some(u32::from_be_bytes(scheme.fourcc())),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-assembled protobuf wire bytes: tag (field << 3 | wire type), length, value.
    #[test]
    fn wire_bytes() {
        let kid = KeyId([0x11; 16]);
        let got = widevine_data(&[kid], Some("castguard"), Some(b"asset-1"), Scheme::Cenc);
        let mut want = vec![0x12, 16];
        want.extend_from_slice(&[0x11; 16]);
        want.extend_from_slice(&[0x1a, 9]);
        want.extend_from_slice(b"castguard");
        want.extend_from_slice(&[0x22, 7]);
        want.extend_from_slice(b"asset-1");
        // 'cenc' = 0x63656e63 as a varint under tag 9 (0x48).
        want.extend_from_slice(&[0x48, 0xe3, 0xdc, 0x95, 0x9b, 0x06]);
        assert_eq!(hex::encode(&got), hex::encode(&want));

        let two = widevine_data(&[kid, KeyId([0x22; 16])], None, None, Scheme::Cbcs);
        assert_eq!(two.len(), 2 * 18 + 6);
        // 'cbcs' = 0x63626373.
        assert_eq!(&two[36..], &[0x48, 0xf3, 0xc6, 0x89, 0x9b, 0x06]);
        let back = WidevinePsshData::decode(two.as_slice()).unwrap();
        assert_eq!(back.protection_scheme, Some(0x6362_6373));
        assert_eq!(back.key_id.len(), 2);
    }
}
