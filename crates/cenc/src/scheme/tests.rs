use aes::cipher::{BlockModeEncrypt, KeyIvInit, StreamCipher};
use proptest::prelude::*;

use super::*;
use crate::{Codec, KeyId};

const NIST_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const NIST_PLAIN: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                          30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

fn key(hex_key: &str) -> Key {
    Key::from_hex(hex_key).unwrap()
}

/// NIST SP 800-38A F.5.1 (CTR-AES128.Encrypt), through the `cenc` path with a 16-byte IV.
#[test]
fn nist_ctr_f_5_1() {
    let tc = TrackCrypto::new(Scheme::Cenc, &Codec::Aac, KeyId([0; 16]), 1);
    let enc = SampleEncryptor::new(&key(NIST_KEY), &tc);
    let iv = hex::decode("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff").unwrap();
    let mut data = hex::decode(NIST_PLAIN).unwrap();
    enc.encrypt(&iv, &mut data, &[]).unwrap();
    assert_eq!(
        hex::encode(&data),
        "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff\
         5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee"
    );
    // The same keystream split over subsamples at odd offsets gives the same ciphertext
    // in the protected bytes.
    let mut split = hex::decode(NIST_PLAIN).unwrap();
    let subs = [
        Subsample {
            clear: 0,
            protected: 7,
        },
        Subsample {
            clear: 0,
            protected: 30,
        },
        Subsample {
            clear: 0,
            protected: 27,
        },
    ];
    enc.encrypt(&iv, &mut split, &subs).unwrap();
    assert_eq!(split, data);
    enc.decrypt(&iv, &mut split, &subs).unwrap();
    assert_eq!(hex::encode(&split), NIST_PLAIN.replace(' ', ""));
}

/// NIST SP 800-38A F.2.1 (CBC-AES128.Encrypt), through the `cbcs` path with no pattern
/// (audio, 0:0 = every full block).
#[test]
fn nist_cbc_f_2_1() {
    let tc = TrackCrypto::new(Scheme::Cbcs, &Codec::Aac, KeyId([0; 16]), 1);
    let enc = SampleEncryptor::new(&key(NIST_KEY), &tc);
    let iv = hex::decode("000102030405060708090a0b0c0d0e0f").unwrap();
    let mut data = hex::decode(NIST_PLAIN).unwrap();
    // A trailing partial block stays clear.
    data.extend_from_slice(b"tail");
    enc.encrypt(&iv, &mut data, &[]).unwrap();
    assert_eq!(
        hex::encode(&data[..64]),
        "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2\
         73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7"
    );
    assert_eq!(&data[64..], b"tail");
    enc.decrypt(&iv, &mut data, &[]).unwrap();
    assert_eq!(hex::encode(&data[..64]), NIST_PLAIN.replace(' ', ""));
}

#[test]
fn cbcs_uses_constant_iv_when_iv_empty() {
    let tc = TrackCrypto::new(Scheme::Cbcs, &Codec::Avc, KeyId([1; 16]), 1);
    let enc = SampleEncryptor::new(&key(NIST_KEY), &tc);
    let mut a = vec![5u8; 500];
    let mut b = a.clone();
    let subs = [Subsample {
        clear: 10,
        protected: 490,
    }];
    enc.encrypt(&[], &mut a, &subs).unwrap();
    enc.encrypt(&tc.constant_iv.unwrap(), &mut b, &subs)
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(&a[..10], &[5u8; 10]);
    // 1:9 pattern: block 0 encrypted, blocks 1..=9 clear, block 10 encrypted.
    assert_ne!(&a[10..26], &[5u8; 16]);
    assert_eq!(&a[26..170], &[5u8; 144][..]);
    assert_ne!(&a[170..186], &[5u8; 16]);
}

#[test]
fn rejects_bad_inputs() {
    let tc = TrackCrypto::new(Scheme::Cenc, &Codec::Avc, KeyId([1; 16]), 1);
    let enc = SampleEncryptor::new(&key(NIST_KEY), &tc);
    let mut s = vec![0u8; 100];
    assert!(matches!(
        enc.encrypt(
            &[0; 8],
            &mut s,
            &[Subsample {
                clear: 10,
                protected: 10
            }]
        ),
        Err(Error::SubsampleMismatch {
            covered: 20,
            sample: 100
        })
    ));
    assert!(matches!(
        enc.encrypt(&[0; 7], &mut s, &[]),
        Err(Error::IvLength { len: 7, .. })
    ));
    let tc = TrackCrypto::new(Scheme::Cbcs, &Codec::Avc, KeyId([1; 16]), 1);
    let enc = SampleEncryptor::new(&key(NIST_KEY), &tc);
    assert!(matches!(
        enc.encrypt(&[0; 8], &mut s, &[]),
        Err(Error::IvLength { len: 8, .. })
    ));
    let mut tc2 = tc.clone();
    tc2.pattern = Pattern { crypt: 0, skip: 3 };
    let enc = SampleEncryptor::new(&key(NIST_KEY), &tc2);
    assert!(matches!(
        enc.encrypt(&[], &mut s, &[]),
        Err(Error::InvalidPattern { .. })
    ));
    // Debug output never shows the key schedule.
    assert!(!format!("{enc:?}").contains("2b7e"));
}

// ---- Straightforward reference implementations, written differently from the real ones:
// gather the protected bytes, run the RustCrypto `ctr` / `cbc` modes over them, scatter back.

fn ranges(len: usize, subs: &[Subsample]) -> Vec<std::ops::Range<usize>> {
    if subs.is_empty() {
        return std::iter::once(0..len).collect();
    }
    let mut out = vec![];
    let mut pos = 0;
    for s in subs {
        pos += s.clear as usize;
        out.push(pos..pos + s.protected as usize);
        pos += s.protected as usize;
    }
    out
}

fn reference_cenc(key: &[u8; 16], iv8: &[u8; 8], data: &mut [u8], subs: &[Subsample]) {
    let mut iv = [0u8; 16];
    iv[..8].copy_from_slice(iv8);
    reference_cenc16(key, &iv, data, subs);
}

fn reference_cenc16(key: &[u8; 16], iv: &[u8; 16], data: &mut [u8], subs: &[Subsample]) {
    let mut gathered = vec![];
    for r in ranges(data.len(), subs) {
        gathered.extend_from_slice(&data[r]);
    }
    let mut c = ctr::Ctr64BE::<aes::Aes128>::new(key.into(), &(*iv).into());
    c.apply_keystream(&mut gathered);
    let mut at = 0;
    for r in ranges(data.len(), subs) {
        let n = r.len();
        data[r].copy_from_slice(&gathered[at..at + n]);
        at += n;
    }
}

fn reference_cbcs(
    key: &[u8; 16],
    iv: &[u8; 16],
    data: &mut [u8],
    subs: &[Subsample],
    crypt: usize,
    skip: usize,
) {
    for r in ranges(data.len(), subs) {
        let full_blocks = r.len() / 16;
        let chosen: Vec<usize> = (0..full_blocks)
            .filter(|i| i % (crypt + skip) < crypt)
            .collect();
        let mut gathered = vec![];
        for &i in &chosen {
            gathered.extend_from_slice(&data[r.start + 16 * i..r.start + 16 * i + 16]);
        }
        let mut m = cbc::Encryptor::<aes::Aes128>::new(key.into(), iv.into());
        for chunk in gathered.chunks_mut(16) {
            let b: &mut aes::cipher::Block<aes::Aes128> = chunk.try_into().unwrap();
            m.encrypt_block(b);
        }
        for (k, &i) in chosen.iter().enumerate() {
            data[r.start + 16 * i..r.start + 16 * i + 16]
                .copy_from_slice(&gathered[16 * k..16 * k + 16]);
        }
    }
}

fn arb_case() -> impl Strategy<Value = (Vec<u8>, Vec<Subsample>)> {
    prop::collection::vec((0u16..300, 0u32..2000), 0..6).prop_flat_map(|parts| {
        let subs: Vec<Subsample> = parts
            .iter()
            .map(|&(c, p)| Subsample {
                clear: c,
                protected: p,
            })
            .collect();
        let total: usize = subs
            .iter()
            .map(|s| s.clear as usize + s.protected as usize)
            .sum();
        let len = if subs.is_empty() {
            0..3000usize
        } else {
            total..total + 1
        };
        (prop::collection::vec(any::<u8>(), len), Just(subs))
    })
}

proptest! {
    #[test]
    fn cenc_matches_reference((data, subs) in arb_case(), k in any::<[u8; 16]>(), iv in any::<[u8; 8]>()) {
        let tc = TrackCrypto::new(Scheme::Cenc, &Codec::Avc, KeyId([2; 16]), 1);
        let enc = SampleEncryptor::new(&Key::new(k), &tc);
        let mut ours = data.clone();
        enc.encrypt(&iv, &mut ours, &subs).unwrap();
        let mut theirs = data.clone();
        reference_cenc(&k, &iv, &mut theirs, &subs);
        prop_assert_eq!(&ours, &theirs);
        enc.decrypt(&iv, &mut ours, &subs).unwrap();
        prop_assert_eq!(ours, data);
    }

    /// 16-byte IVs whose low half is a few blocks short of 2^64: the aws-lc call must be
    /// split at the 64-bit wrap, also when a range starts mid-block right at the wrap.
    #[test]
    fn cenc_wrap_matches_reference((data, subs) in arb_case(), k in any::<[u8; 16]>(),
                                   high in any::<[u8; 8]>(), before_wrap in 0u64..140) {
        let tc = TrackCrypto::new(Scheme::Cenc, &Codec::Avc, KeyId([2; 16]), 1);
        let enc = SampleEncryptor::new(&Key::new(k), &tc);
        let mut iv = [0u8; 16];
        iv[..8].copy_from_slice(&high);
        iv[8..].copy_from_slice(&(u64::MAX - before_wrap).to_be_bytes());
        let mut ours = data.clone();
        enc.encrypt(&iv, &mut ours, &subs).unwrap();
        let mut theirs = data.clone();
        reference_cenc16(&k, &iv, &mut theirs, &subs);
        prop_assert_eq!(&ours, &theirs);
        enc.decrypt(&iv, &mut ours, &subs).unwrap();
        prop_assert_eq!(ours, data);
    }

    /// The RustCrypto fallback (used only if aws-lc refuses the key) gives the same bytes.
    #[test]
    fn cenc_fallback_matches_reference((data, subs) in arb_case(), k in any::<[u8; 16]>(),
                                       iv in any::<[u8; 16]>()) {
        use aes::cipher::KeyInit;
        let fallback = aes::Aes128::new(&k.into());
        let keys = cenc::Keys { aws: None, fallback: &fallback };
        let mut ours = data.clone();
        cenc::apply(&keys, &iv, &mut ours, &subs).unwrap();
        let mut theirs = data.clone();
        reference_cenc16(&k, &iv, &mut theirs, &subs);
        prop_assert_eq!(ours, theirs);
    }

    #[test]
    fn cbcs_matches_reference((data, subs) in arb_case(), k in any::<[u8; 16]>(), iv in any::<[u8; 16]>(),
                              pattern in prop_oneof![Just((1u8, 9u8)), Just((0, 0)), Just((2, 3)), Just((5, 1))]) {
        let mut tc = TrackCrypto::new(Scheme::Cbcs, &Codec::Avc, KeyId([2; 16]), 1);
        tc.pattern = Pattern { crypt: pattern.0, skip: pattern.1 };
        let enc = SampleEncryptor::new(&Key::new(k), &tc);
        let mut ours = data.clone();
        enc.encrypt(&iv, &mut ours, &subs).unwrap();
        let (c, s) = if pattern == (0, 0) { (1, 0) } else { (pattern.0 as usize, pattern.1 as usize) };
        let mut theirs = data.clone();
        reference_cbcs(&k, &iv, &mut theirs, &subs, c, s);
        prop_assert_eq!(&ours, &theirs);
        enc.decrypt(&iv, &mut ours, &subs).unwrap();
        prop_assert_eq!(ours, data);
    }
}

/// §9.3: with a 16-byte IV only the low 64 bits count, wrapping without carry.
#[test]
fn ctr_low_64_bits_wrap() {
    use aes::cipher::{BlockCipherEncrypt, KeyInit};
    let k = [9u8; 16];
    let tc = TrackCrypto::new(Scheme::Cenc, &Codec::Aac, KeyId([0; 16]), 1);
    let enc = SampleEncryptor::new(&Key::new(k), &tc);
    let mut iv = [0xabu8; 16];
    iv[8..].copy_from_slice(&u64::MAX.to_be_bytes());
    let mut data = [0u8; 32];
    enc.encrypt(&iv, &mut data, &[]).unwrap();
    let aes = aes::Aes128::new(&k.into());
    let mut b0 = iv.into();
    aes.encrypt_block(&mut b0);
    let mut c1 = [0xabu8; 16];
    c1[8..].copy_from_slice(&[0; 8]);
    let mut b1 = c1.into();
    aes.encrypt_block(&mut b1);
    assert_eq!(&data[..16], &b0[..]);
    assert_eq!(&data[16..], &b1[..]);
    // The same across two subsamples split mid-block around the wrap.
    let mut split = [0u8; 32];
    let subs = [
        Subsample {
            clear: 0,
            protected: 13,
        },
        Subsample {
            clear: 0,
            protected: 19,
        },
    ];
    enc.encrypt(&iv, &mut split, &subs).unwrap();
    assert_eq!(split, data);
}

/// A video-sized sample (over aws-lc's internal batch sizes) with ranges ending mid-block,
/// against `ctr::Ctr64BE`.
#[test]
fn cenc_large_sample_matches_reference() {
    let k = [3u8; 16];
    let tc = TrackCrypto::new(Scheme::Cenc, &Codec::Avc, KeyId([0; 16]), 1);
    let enc = SampleEncryptor::new(&Key::new(k), &tc);
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + 1) as u8).collect();
    let subs: Vec<Subsample> = [(37u16, 99_963u32), (5, 150_001), (0, 49_994)]
        .iter()
        .map(|&(clear, protected)| Subsample { clear, protected })
        .collect();
    let mut ours = data.clone();
    enc.encrypt(&[0x42; 8], &mut ours, &subs).unwrap();
    let mut theirs = data.clone();
    reference_cenc(&k, &[0x42; 8], &mut theirs, &subs);
    assert!(ours == theirs);
}
