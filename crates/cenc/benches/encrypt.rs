//! Sample encryption throughput on a 64 MiB video-like buffer: one subsample per ~50 KB
//! "NAL unit" with a small clear head (length prefix + slice header), as real frames have.
//! Reports bytes per second (criterion prints GB/s via `Throughput::Bytes`).

use cenc::{Codec, ContentKey, KeyId, SampleEncryptor, Scheme, Subsample, TrackCrypto};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SIZE: usize = 64 << 20;

fn video_like() -> (Vec<u8>, Vec<Subsample>) {
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
    (data, subs)
}

fn bench(c: &mut Criterion) {
    let key = ContentKey::generate().unwrap().key;
    let (mut data, subs) = video_like();
    let mut g = c.benchmark_group("sample_encrypt_64MiB");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.sample_size(10);
    for scheme in [Scheme::Cenc, Scheme::Cbcs] {
        let tc = TrackCrypto::new(scheme, &Codec::Avc, KeyId([1; 16]), 1);
        let enc = SampleEncryptor::new(&key, &tc);
        let iv: &[u8] = if scheme == Scheme::Cenc { &[7; 8] } else { &[] };
        g.bench_function(format!("{scheme:?}"), |b| {
            b.iter(|| enc.encrypt(iv, &mut data, &subs).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
