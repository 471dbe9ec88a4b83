//! Keys, key IDs and content keys.
//!
//! A [`KeyId`] is the 16-byte `default_KID` of ISO/IEC 23001-7 §8.2 (`tenc`), in the
//! big-endian UUID byte order that `tenc`, `pssh` v1 and `cenc:default_KID` use. PlayReady
//! writes the same ID as a Microsoft GUID (first three groups little-endian), see
//! [`KeyId::to_guid_bytes`].
//!
//! A [`Key`] never prints its bytes (`Debug` is redacted, there is no `Display`) and is
//! zeroized when dropped, so key material cannot leak through logs or error messages.
//!
//! [`ContentKey::from_key_seed`] implements the PlayReady key seed algorithm
//! ("PlayReady Key Seed", Microsoft PlayReady specifications): three SHA-256 digests over
//! the 30-byte truncated seed and the KID in GUID byte order, folded to 16 bytes by XOR.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::{Error, Result};

/// A 16-byte key identifier, stored in UUID (big-endian) byte order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 16]);

impl KeyId {
    /// The raw 16 bytes (UUID byte order).
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// 32 lowercase hex digits, no dashes.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The bytes of this ID as a Microsoft GUID (`Guid.ToByteArray()`): the first three
    /// groups (4, 2, 2 bytes) are little-endian. PlayReady headers and its key seed
    /// algorithm use this order.
    pub fn to_guid_bytes(&self) -> [u8; 16] {
        let b = self.0;
        [
            b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13],
            b[14], b[15],
        ]
    }

    /// Inverse of [`KeyId::to_guid_bytes`].
    pub fn from_guid_bytes(g: [u8; 16]) -> KeyId {
        // The swap is its own inverse.
        KeyId(KeyId(g).to_guid_bytes())
    }
}

impl fmt::Display for KeyId {
    /// Lowercase UUID text, 8-4-4-4-12.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = hex::encode(self.0);
        // `h` is always 32 ASCII hex digits, so these ranges are in bounds.
        write!(
            f,
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

impl FromStr for KeyId {
    type Err = Error;

    /// Accepts 32 hex digits, or a UUID with dashes (optionally in braces), any case.
    fn from_str(s: &str) -> Result<KeyId> {
        let err = || Error::InvalidKeyId {
            text: s.chars().take(64).collect(),
        };
        let t = s.trim();
        let t = t
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(t);
        let compact: String = if t.len() == 36 {
            let dashes_ok = t
                .char_indices()
                .all(|(i, c)| (c == '-') == matches!(i, 8 | 13 | 18 | 23));
            if !dashes_ok {
                return Err(err());
            }
            t.chars().filter(|&c| c != '-').collect()
        } else {
            t.to_owned()
        };
        let mut out = [0u8; 16];
        if compact.len() != 32 {
            return Err(err());
        }
        hex::decode_to_slice(&compact, &mut out).map_err(|_| err())?;
        Ok(KeyId(out))
    }
}

/// A 16-byte AES-128 content key. `Debug` prints `Key(<redacted>)`; the bytes are
/// zeroized on drop.
#[derive(Clone)]
pub struct Key([u8; 16]);

impl Key {
    /// Wraps raw key bytes.
    pub fn new(bytes: [u8; 16]) -> Key {
        Key(bytes)
    }

    /// The raw key bytes. Callers must not log them.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses 32 hex digits. The error never echoes the input.
    pub fn from_hex(s: &str) -> Result<Key> {
        let t = s.trim();
        let mut out = [0u8; 16];
        if t.len() != 32 || hex::decode_to_slice(t, &mut out).is_err() {
            out.zeroize();
            return Err(Error::InvalidKey { len: t.len() });
        }
        Ok(Key(out))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// A key ID with its key.
#[derive(Clone, Debug)]
pub struct ContentKey {
    pub kid: KeyId,
    pub key: Key,
}

impl ContentKey {
    /// A fresh key and a fresh random (version 4 UUID) key ID from the OS CSPRNG.
    pub fn generate() -> Result<ContentKey> {
        let mut kid = [0u8; 16];
        let mut key = [0u8; 16];
        getrandom::fill(&mut kid).map_err(Error::Random)?;
        getrandom::fill(&mut key).map_err(Error::Random)?;
        // RFC 9562 §5.4: version 4, variant 10.
        kid[6] = (kid[6] & 0x0f) | 0x40;
        kid[8] = (kid[8] & 0x3f) | 0x80;
        let out = ContentKey {
            kid: KeyId(kid),
            key: Key(key),
        };
        key.zeroize();
        Ok(out)
    }

    /// Derives the key for `kid` from a PlayReady key seed (at least 30 bytes; only the
    /// first 30 are used), per the PlayReady Key Seed algorithm.
    pub fn from_key_seed(seed: &[u8], kid: KeyId) -> Result<ContentKey> {
        let Some(truncated) = seed.get(..30) else {
            return Err(Error::KeySeedTooShort { len: seed.len() });
        };
        let guid = kid.to_guid_bytes();
        let mut a = Sha256::new();
        a.update(truncated);
        a.update(guid);
        let mut b = a.clone();
        b.update(truncated);
        let mut c = b.clone();
        c.update(guid);
        let (mut a, mut b, mut c) = (a.finalize(), b.finalize(), c.finalize());
        let mut key = [0u8; 16];
        for (i, k) in key.iter_mut().enumerate() {
            // Digests are 32 bytes: i and i + 16 are in bounds.
            *k = a[i] ^ a[i + 16] ^ b[i] ^ b[i + 16] ^ c[i] ^ c[i + 16];
        }
        a.as_mut_slice().zeroize();
        b.as_mut_slice().zeroize();
        c.as_mut_slice().zeroize();
        let out = ContentKey { kid, key: Key(key) };
        key.zeroize();
        Ok(out)
    }

    /// The key of crypto period `period` of a rotated stream, derived from
    /// this (period 0's) key: period 0 is this key itself.
    ///
    /// KID = the first 16 bytes of SHA-256(`"castguard key period kid"` ‖
    /// base KID ‖ period, big-endian u32), marked as an RFC 9562 §5.8
    /// version 8 UUID; key = the first 16 bytes of HMAC-SHA256 keyed with
    /// the base key over (`"castguard key period"` ‖ base KID ‖ period).
    /// One-way: a period key (delivered in a license) reveals neither the
    /// base key nor any other period's; the base key gives them all, so it
    /// is stored and exported like every key. Deterministic, so every node
    /// derives the same keys and the origin's output stays cacheable.
    pub fn for_period(&self, period: u32) -> ContentKey {
        if period == 0 {
            return self.clone();
        }
        let mut h = Sha256::new();
        h.update(b"castguard key period kid");
        h.update(self.kid.0);
        h.update(period.to_be_bytes());
        let digest = h.finalize();
        let mut kid = [0u8; 16];
        kid.copy_from_slice(&digest[..16]);
        kid[6] = (kid[6] & 0x0f) | 0x80;
        kid[8] = (kid[8] & 0x3f) | 0x80;
        let mac_key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.key.0);
        let mut ctx = aws_lc_rs::hmac::Context::with_key(&mac_key);
        ctx.update(b"castguard key period");
        ctx.update(&self.kid.0);
        ctx.update(&period.to_be_bytes());
        let tag = ctx.sign();
        let mut key = [0u8; 16];
        key.copy_from_slice(&tag.as_ref()[..16]);
        let out = ContentKey { kid: KeyId(kid), key: Key(key) };
        key.zeroize();
        out
    }

    /// Parses `KID:KEY`: the KID as 32 hex digits or a UUID, the key as 32 hex digits.
    pub fn parse(kid_colon_key: &str) -> Result<ContentKey> {
        let (kid, key) = kid_colon_key
            .trim()
            .split_once(':')
            .ok_or(Error::InvalidKeyPair)?;
        Ok(ContentKey {
            kid: kid.parse()?,
            key: Key::from_hex(key)?,
        })
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn period_keys_are_distinct_deterministic_and_one_way() {
        let base = ContentKey { kid: KeyId([7; 16]), key: Key::new([9; 16]) };
        assert_eq!(base.for_period(0).kid, base.kid);
        assert_eq!(base.for_period(0).key.as_bytes(), base.key.as_bytes());
        let p1 = base.for_period(1);
        let p2 = base.for_period(2);
        assert_ne!(p1.kid, base.kid);
        assert_ne!(p1.kid, p2.kid);
        assert_ne!(p1.key.as_bytes(), p2.key.as_bytes());
        assert_ne!(p1.key.as_bytes(), base.key.as_bytes());
        assert_eq!(p1.kid, base.for_period(1).kid);
        assert_eq!(p1.key.as_bytes(), base.for_period(1).key.as_bytes());
        // UUID version 8, variant 10.
        assert_eq!(p1.kid.0[6] >> 4, 8);
        assert_eq!(p1.kid.0[8] >> 6, 2);
        // Another base key with the same KID gives other period keys (the
        // KID is public, the key is not).
        let other = ContentKey { kid: KeyId([7; 16]), key: Key::new([8; 16]) };
        assert_eq!(other.for_period(1).kid, p1.kid);
        assert_ne!(other.for_period(1).key.as_bytes(), p1.key.as_bytes());
    }

    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;

    #[test]
    fn kid_display_and_parse() {
        let kid: KeyId = "8ba94ade6eb9449db44fa5beefaf43b0".parse().unwrap();
        assert_eq!(kid.to_string(), "8ba94ade-6eb9-449d-b44f-a5beefaf43b0");
        let again: KeyId = "{8BA94ADE-6EB9-449D-B44F-A5BEEFAF43B0}".parse().unwrap();
        assert_eq!(kid, again);
        assert_eq!(kid.to_hex(), "8ba94ade6eb9449db44fa5beefaf43b0");
        for bad in [
            "",
            "8ba94ade",
            "8ba94ade-6eb9449d-b44f-a5beefaf43b0x",
            "zz".repeat(16).as_str(),
            "8ba94ade6-eb9-449d-b44f-a5beefaf43b0",
        ] {
            assert!(bad.parse::<KeyId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn guid_byte_order() {
        let kid: KeyId = "8ba94ade-6eb9-449d-b44f-a5beefaf43b0".parse().unwrap();
        // Base64 of the GUID bytes as published in a PlayReady header for this KID.
        assert_eq!(B64.encode(kid.to_guid_bytes()), "3kqpi7lunUS0T6W+769DsA==");
        assert_eq!(KeyId::from_guid_bytes(kid.to_guid_bytes()), kid);
    }

    #[test]
    fn key_debug_is_redacted() {
        let k = Key::from_hex("00112233445566778899aabbccddeeff").unwrap();
        let ck = ContentKey {
            kid: KeyId([1; 16]),
            key: k.clone(),
        };
        let dbg = format!("{k:?} {ck:?} {ck:#?}");
        assert!(dbg.contains("Key(<redacted>)"));
        for needle in ["00112233", "0, 17, 34", "0x00", "[0, 17"] {
            assert!(!dbg.contains(needle), "{dbg}");
        }
    }

    #[test]
    fn key_errors_do_not_echo_input() {
        let e = Key::from_hex("00112233445566778899aabbccddeeZZ")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("0011"), "{e}");
        let e = ContentKey::parse("8ba94ade6eb9449db44fa5beefaf43b0:0011223344")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("0011"), "{e}");
    }

    #[test]
    fn parse_pair() {
        let ck = ContentKey::parse(
            "8ba94ade-6eb9-449d-b44f-a5beefaf43b0:DBFD6922C321C4BB486F4A1C44097ED6",
        )
        .unwrap();
        assert_eq!(ck.kid.to_hex(), "8ba94ade6eb9449db44fa5beefaf43b0");
        assert_eq!(
            hex::encode(ck.key.as_bytes()),
            "dbfd6922c321c4bb486f4a1c44097ed6"
        );
        assert!(ContentKey::parse("8ba94ade6eb9449db44fa5beefaf43b0").is_err());
    }

    #[test]
    fn generate_is_random_v4() {
        let a = ContentKey::generate().unwrap();
        let b = ContentKey::generate().unwrap();
        assert_ne!(a.kid, b.kid);
        assert_ne!(a.key.as_bytes(), b.key.as_bytes());
        assert_eq!(a.kid.0[6] >> 4, 4);
        assert_eq!(a.kid.0[8] >> 6, 0b10);
    }

    /// Published vector: Microsoft's PlayReady test server key seed, KID
    /// 8ba94ade-6eb9-449d-b44f-a5beefaf43b0 -> content key DBFD6922C321C4BB486F4A1C44097ED6
    /// (as used by the test suites of the public `cpix` Python package and others).
    #[test]
    fn playready_key_seed_vector() {
        let seed = B64
            .decode("XVBovsmzhP9gRIZxWfFta3VVRPzVEWmJsazEJ46I")
            .unwrap();
        assert_eq!(seed.len(), 30);
        let kid: KeyId = "8ba94ade-6eb9-449d-b44f-a5beefaf43b0".parse().unwrap();
        let ck = ContentKey::from_key_seed(&seed, kid).unwrap();
        assert_eq!(
            hex::encode_upper(ck.key.as_bytes()),
            "DBFD6922C321C4BB486F4A1C44097ED6"
        );
        // Bytes past the 30th do not matter.
        let mut longer = seed.clone();
        longer.extend_from_slice(b"ignored");
        let ck2 = ContentKey::from_key_seed(&longer, kid).unwrap();
        assert_eq!(ck.key.as_bytes(), ck2.key.as_bytes());
        assert!(matches!(
            ContentKey::from_key_seed(&seed[..29], kid),
            Err(Error::KeySeedTooShort { len: 29 })
        ));
    }
}
