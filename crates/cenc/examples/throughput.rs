//! Prints sample encryption throughput in GB/s for `cenc` and `cbcs` (1:9) on a 64 MiB
//! video-like buffer (a small clear head every ~50 KB). Median of several runs.
//! Run with `cargo run --release -p cenc --example throughput`.

use std::time::Instant;

use cenc::{Codec, ContentKey, KeyId, SampleEncryptor, Scheme, Subsample, TrackCrypto};

const SIZE: usize = 64 << 20;

fn main() -> Result<(), cenc::Error> {
    let data: Vec<u8> = (0..SIZE)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761) as u8)
        .collect();
    let mut subs = vec![];
    let mut left = SIZE;
    while left > 0 {
        let n = 50_000.min(left);
        let clear = 37.min(n);
        subs.push(Subsample {
            clear: clear as u16,
            protected: (n - clear) as u32,
        });
        left -= n;
    }
    let key = ContentKey::generate()?.key;
    {
        // Baseline: one AES-CTR call over the whole buffer, no subsamples.
        let tc = TrackCrypto::new(Scheme::Cenc, &Codec::Aac, KeyId([1; 16]), 1);
        let enc = SampleEncryptor::new(&key, &tc);
        let mut buf = data.clone();
        let mut rates = vec![];
        for _ in 0..9 {
            let t = Instant::now();
            enc.encrypt(&[7; 8], &mut buf, &[])?;
            rates.push(SIZE as f64 / t.elapsed().as_secs_f64() / 1e9);
        }
        rates.sort_by(f64::total_cmp);
        println!("ctr-whole {:.2}", rates[rates.len() / 2]);
        // Like `openssl speed -bytes 16384`: one 16 KiB cache-resident sample, repeated.
        let mut small = data[..16384].to_vec();
        let mut rates = vec![];
        for _ in 0..9 {
            let t = Instant::now();
            for _ in 0..4096 {
                enc.encrypt(&[7; 8], &mut small, &[])?;
            }
            rates.push(4096.0 * 16384.0 / t.elapsed().as_secs_f64() / 1e9);
        }
        rates.sort_by(f64::total_cmp);
        println!("cenc-16k {:.2}", rates[rates.len() / 2]);
    }
    for scheme in [Scheme::Cenc, Scheme::Cbcs] {
        let tc = TrackCrypto::new(scheme, &Codec::Avc, KeyId([1; 16]), 1);
        let enc = SampleEncryptor::new(&key, &tc);
        let iv: &[u8] = if scheme == Scheme::Cenc { &[7; 8] } else { &[] };
        let mut buf = data.clone();
        let mut rates = vec![];
        for _ in 0..9 {
            let t = Instant::now();
            enc.encrypt(iv, &mut buf, &subs)?;
            rates.push(SIZE as f64 / t.elapsed().as_secs_f64() / 1e9);
        }
        rates.sort_by(f64::total_cmp);
        println!("{} {:.2}", scheme_name(scheme), rates[rates.len() / 2]);
    }
    Ok(())
}

fn scheme_name(s: Scheme) -> &'static str {
    match s {
        Scheme::Cenc => "cenc",
        Scheme::Cbcs => "cbcs",
    }
}
