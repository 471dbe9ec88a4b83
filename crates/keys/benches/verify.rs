//! Raw token verification rate on one core: parse, signature, claim checks.
//!
//! `cargo bench -p keys --bench verify`; criterion prints time per token,
//! whose inverse is tokens per second per core (tokio current-thread runtime,
//! no I/O: static keys).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keys::model::TokenType;
use keys::sts::{Issuer, SigningKey};
use keys::token::{VerificationKey, Verifier, VerifierConfig};
use serde_json::{Map, Value, json};
use std::time::Duration;
use time::OffsetDateTime;

fn claims() -> Map<String, Value> {
    match json!({"aud": "castguard", "sub": "viewer-1", "groups": ["EntitledUsers"]}) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let now = OffsetDateTime::now_utc();
    let secret = b"bench-hmac-key-0123456789abcdef-0123";
    let cases = [
        ("HS256", SigningKey::hs256("h", secret).expect("hs256"), VerificationKey::hmac(secret).expect("hmac")),
        ("RS256", SigningKey::generate_rs256("r").expect("rs256"), VerificationKey::hmac(secret).expect("hmac")),
        ("ES256", SigningKey::generate_es256("e").expect("es256"), VerificationKey::hmac(secret).expect("hmac")),
    ];
    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(1));
    for (name, signing, hmac_key) in cases {
        let key = match signing.public_jwk() {
            Some(jwk) => VerificationKey::jwk(&jwk).expect("jwk"),
            None => hmac_key,
        };
        let issuer = Issuer::new("https://sts.example", signing);
        let token = issuer.issue_at(claims(), Duration::from_secs(600), now).expect("token");
        let required = vec![("groups".to_string(), Some("EntitledUsers".to_string()))];
        let v = Verifier::with_keys(TokenType::Jwt, "https://sts.example", "castguard", vec![key], required, VerifierConfig::default())
            .expect("verifier");
        assert!(rt.block_on(v.verify(&token, now)).is_ok());
        group.bench_function(name, |b| b.iter(|| rt.block_on(v.verify(std::hint::black_box(&token), now)).is_ok()));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
