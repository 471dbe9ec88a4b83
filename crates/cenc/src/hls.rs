//! HLS `METHOD=AES-128` whole-segment encryption, RFC 8216 §4.3.2.4 and §5.2: AES-128-CBC
//! over the whole segment with PKCS#7 padding; when the playlist gives no IV, the IV is the
//! segment's media sequence number as a 128-bit big-endian integer.

use aes::Aes128;
use aes::cipher::array::Array;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};

use crate::{Error, Key, Result};

/// RFC 8216 §5.2: the media sequence number, big-endian, in 16 bytes.
pub fn iv_from_sequence(media_sequence: u64) -> [u8; 16] {
    u128::from(media_sequence).to_be_bytes()
}

/// Encrypts a whole segment: AES-128-CBC, PKCS#7 padding (always 1..=16 bytes added).
pub fn encrypt_segment(key: &Key, iv: &[u8; 16], clear: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(clear.len() + 16);
    out.extend_from_slice(clear);
    // Starting at 0 of a buffer's own bytes: never out of range.
    let _ = encrypt_segment_in_place(key, iv, &mut out, 0);
    out
}

/// [`encrypt_segment`] of `buf[start..]` in place: the padding is appended
/// to `buf` (keep 16 bytes of spare capacity to avoid a reallocation).
pub fn encrypt_segment_in_place(
    key: &Key,
    iv: &[u8; 16],
    buf: &mut Vec<u8>,
    start: usize,
) -> Result<()> {
    let len = buf.len().checked_sub(start).ok_or(Error::HlsSegment(
        "segment starts past the end of the buffer",
    ))?;
    let pad = 16 - len % 16;
    // `pad` is 1..=16, so it fits in a byte.
    buf.resize(buf.len() + pad, pad as u8);
    let mut mode = cbc::Encryptor::<Aes128>::new(key.as_bytes().into(), iv.into());
    let (blocks, _rest) = Array::slice_as_chunks_mut(&mut buf[start..]);
    mode.encrypt_blocks(blocks);
    Ok(())
}

/// Decrypts a whole segment and removes its PKCS#7 padding.
pub fn decrypt_segment(key: &Key, iv: &[u8; 16], data: &[u8]) -> Result<Vec<u8>> {
    if data.is_empty() || !data.len().is_multiple_of(16) {
        return Err(Error::HlsSegment("length is not a positive multiple of 16"));
    }
    let mut out = data.to_vec();
    let mut mode = cbc::Decryptor::<Aes128>::new(key.as_bytes().into(), iv.into());
    let (blocks, _rest) = Array::slice_as_chunks_mut(&mut out);
    mode.decrypt_blocks(blocks);
    let pad = usize::from(out.last().copied().unwrap_or(0));
    let body = out
        .len()
        .checked_sub(pad)
        .filter(|_| (1..=16).contains(&pad));
    let Some(body) = body else {
        return Err(Error::HlsSegment("invalid PKCS#7 padding"));
    };
    if !out
        .get(body..)
        .is_some_and(|p| p.iter().all(|&b| usize::from(b) == pad))
    {
        return Err(Error::HlsSegment("invalid PKCS#7 padding"));
    }
    out.truncate(body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn key() -> Key {
        Key::from_hex("00112233445566778899aabbccddeeff").unwrap()
    }

    #[test]
    fn iv_is_big_endian_sequence() {
        assert_eq!(iv_from_sequence(0), [0; 16]);
        let iv = iv_from_sequence(0x0102);
        assert_eq!(&iv[14..], &[1, 2]);
        assert_eq!(&iv[..14], &[0; 14]);
        assert_eq!(&iv_from_sequence(u64::MAX)[..8], &[0; 8]);
    }

    #[test]
    fn roundtrip_all_lengths() {
        let iv = iv_from_sequence(7);
        for len in [0usize, 1, 15, 16, 17, 31, 32, 1000] {
            let clear: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let enc = encrypt_segment(&key(), &iv, &clear);
            assert_eq!(enc.len(), (len / 16 + 1) * 16);
            assert_eq!(decrypt_segment(&key(), &iv, &enc).unwrap(), clear);
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        let iv = [0u8; 16];
        assert!(decrypt_segment(&key(), &iv, &[]).is_err());
        assert!(decrypt_segment(&key(), &iv, &[0; 17]).is_err());
        let mut enc = encrypt_segment(&key(), &iv, b"hello");
        // A corrupted block garbles the padding (fixed inputs: deterministic outcome).
        enc[15] ^= 0x80;
        assert!(matches!(
            decrypt_segment(&key(), &iv, &enc),
            Err(Error::HlsSegment(_))
        ));
    }

    /// Independent check: `openssl enc -aes-128-cbc` (PKCS#7 padding by default) must
    /// produce the same bytes, and decrypt ours.
    #[test]
    fn matches_openssl() {
        let Ok(_) = Command::new("openssl").arg("version").output() else {
            panic!("openssl is required for this test");
        };
        let dir = tempfile::tempdir().unwrap();
        let clear: Vec<u8> = (0..1234u32).map(|i| (i * 31 % 251) as u8).collect();
        let input = dir.path().join("clear.bin");
        std::fs::write(&input, &clear).unwrap();
        let iv = iv_from_sequence(42);
        let out = Command::new("openssl")
            .args([
                "enc",
                "-aes-128-cbc",
                "-K",
                "00112233445566778899aabbccddeeff",
                "-iv",
            ])
            .arg(hex::encode(iv))
            .arg("-in")
            .arg(&input)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ours = encrypt_segment(&key(), &iv, &clear);
        assert_eq!(out.stdout, ours);

        let enc_path = dir.path().join("enc.bin");
        std::fs::write(&enc_path, &ours).unwrap();
        let out = Command::new("openssl")
            .args([
                "enc",
                "-d",
                "-aes-128-cbc",
                "-K",
                "00112233445566778899aabbccddeeff",
                "-iv",
            ])
            .arg(hex::encode(iv))
            .arg("-in")
            .arg(&enc_path)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, clear);
    }
}
