//! A delivery server for the benchmark scripts (bench/keys.sh,
//! bench/origin.sh, bench/origin_rss.sh): ingests `$1` (an MP4, or several
//! as `a.mp4,b.mp4,...`: one title, a ladder) into a
//! fresh data dir `$2`, creates an HS256 and an RS256 token policy with one
//! AES-128 key each and a `Predefined_MultiDrmCencStreaming` locator, serves
//! on `$3` (e.g. 127.0.0.1:18080), and prints one `KEY=VALUE` line per fact
//! the scripts need (tokens, key URLs, locator id), then `READY`.
//!
//! `GET /ceiling` answers 16 fixed bytes from a bare axum handler on the
//! same runtime and socket: the HTTP ceiling of this machine that key
//! delivery is compared with (bench/keys.sh). `CACHE_TTL_MS` overrides the
//! delivery cache lifetime (experiments only); `ORIGIN_CACHE_MB` the
//! origin's segment cache (`--origin-cache-mb`, 0: off). Served by the accept loop
//! `castguard serve` uses (`server::serve_listeners`); `LISTEN=axum` serves
//! with `axum::serve` instead, to compare the two.
//!
//! Not for production: it prints tokens and writes the cenc key as hex so
//! the script can pre-encrypt the same segments with `castguard package`.

use axum::response::IntoResponse as _;
use base64::Engine as _;
use keys::model::{Asset, AssetStorage, ContentKey, ContentKeyPolicy, ContentKeyType, ContentKeyValue, ContentKeyWithValue, StreamingLocator};
use keys::sts::SigningKey;
use serde_json::json;
use server::delivery::DeliveryConfig;
use server::{AdminToken, AppState};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use uuid::Uuid;

const HS_SECRET: &[u8] = b"bench-hmac-secret-0123456789abcdef-0123";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(src), Some(data), Some(listen)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: delivery_bench INPUT.mp4 DATA_DIR LISTEN_ADDR");
        std::process::exit(2);
    };
    let data = PathBuf::from(data);
    std::fs::create_dir_all(data.join("assets")).expect("data dir");
    let asset_dir = data.join("assets/movie");
    if !asset_dir.exists() {
        // Several files (a ladder) as `a.mp4,b.mp4,...`.
        let srcs: Vec<&str> = src.split(',').collect();
        media::asset::ingest(&srcs, &asset_dir, 2.0).expect("ingest");
    }
    let st = store::SqliteStore::open(&data, store::Kek::from_bytes([1u8; 32])).await.expect("store");
    let listen: SocketAddr = listen.parse().expect("listen address");
    let listener = tokio::net::TcpListener::bind(listen).await.expect("bind");
    let state = AppState::with_delivery(
        Arc::new(st),
        &data,
        AdminToken::new("bench-admin-token-0123456789".into()).expect("token"),
        DeliveryConfig {
            cache_ttl: std::env::var("CACHE_TTL_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .map_or(std::time::Duration::from_secs(2), std::time::Duration::from_millis),
            segment_cache_bytes: std::env::var("ORIGIN_CACHE_MB")
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .map_or(server::delivery::segment_cache::DEFAULT_CACHE_MB, |mb| mb)
                << 20,
            ..DeliveryConfig::for_listen_addr(listener.local_addr().expect("addr"))
        },
    );
    let s = state.store();
    s.put_asset(Asset {
        name: "movie".into(),
        asset_id: None,
        created: None,
        last_modified: None,
        alternate_id: None,
        description: None,
        storage: AssetStorage { path: "assets/movie".into(), tracks: serde_json::Value::Null },
    })
    .await
    .expect("asset");
    let rsa = SigningKey::generate_rs256("bench-rsa").expect("rsa");
    let jwk = rsa.public_jwk().expect("jwk");
    let b64u = |f: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwk[f].as_str().expect("jwk field")).expect("b64");
    let b64 = |v: &[u8]| base64::engine::general_purpose::STANDARD.encode(v);
    let restriction = |key: serde_json::Value| {
        json!({"@odata.type": "#Microsoft.Media.ContentKeyPolicyTokenRestriction", "issuer": "https://bench.test", "audience": "viewers",
               "restrictionTokenType": "Jwt", "primaryVerificationKey": key})
    };
    let policy = |name: &str, r: serde_json::Value| -> ContentKeyPolicy {
        keys::model::from_json(
            &json!({"name": name, "options": [{"configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"}, "restriction": r}]})
                .to_string(),
        )
        .expect("policy")
    };
    s.put_content_key_policy(policy(
        "hs",
        restriction(json!({"@odata.type": "#Microsoft.Media.ContentKeyPolicySymmetricTokenKey", "keyValue": b64(HS_SECRET)})),
    ))
    .await
    .expect("hs policy");
    s.put_content_key_policy(policy(
        "rs",
        restriction(json!({"@odata.type": "#Microsoft.Media.ContentKeyPolicyRsaTokenKey", "exponent": b64(&b64u("e")), "modulus": b64(&b64u("n"))})),
    ))
    .await
    .expect("rs policy");
    s.put_content_key_policy(policy("open", json!({"@odata.type": "#Microsoft.Media.ContentKeyPolicyOpenRestriction"})))
        .await
        .expect("open policy");
    let key = |name: &str, kid: Uuid, t, v: [u8; 16], p: &str| ContentKeyWithValue {
        key: ContentKey { name: name.into(), key_id: kid, key_type: t, label: None, policy_name: Some(p.into()), created: None, last_modified: None },
        value: ContentKeyValue::new(v),
    };
    let (hs_kid, rs_kid, ck_kid) = (Uuid::from_u128(0xa1), Uuid::from_u128(0xa2), Uuid::from_u128(0xc1));
    let ck_value = [0x42u8; 16];
    s.put_content_key(key("hs", hs_kid, ContentKeyType::EnvelopeEncryption, [1; 16], "hs")).await.expect("key");
    s.put_content_key(key("rs", rs_kid, ContentKeyType::EnvelopeEncryption, [2; 16], "rs")).await.expect("key");
    s.put_content_key(key("ck", ck_kid, ContentKeyType::CommonEncryption, ck_value, "open")).await.expect("key");
    let loc: StreamingLocator = keys::model::from_json(
        &json!({"name": "bench", "assetName": "movie", "streamingPolicyName": "Predefined_MultiDrmCencStreaming", "contentKeys": [{"id": ck_kid}]})
            .to_string(),
    )
    .expect("locator");
    let loc_id = s.put_streaming_locator(loc).await.expect("locator").value.streaming_locator_id.expect("id");

    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 86_400;
    let serde_json::Value::Object(claims) = json!({"iss": "https://bench.test", "aud": "viewers", "exp": exp}) else { unreachable!() };
    let hs = SigningKey::hs256("hs", HS_SECRET).expect("hs").sign(&claims).expect("sign");
    let rs = rsa.sign(&claims).expect("sign");
    let addr = listener.local_addr().expect("addr");
    println!("BASE=http://{addr}");
    println!("HS_TOKEN={hs}");
    println!("RS_TOKEN={rs}");
    println!("HS_KEY_PATH=/keys/v1/aes/{hs_kid}");
    println!("RS_KEY_PATH=/keys/v1/aes/{rs_kid}");
    println!("LOCATOR={loc_id}");
    println!("CENC_KID={}", ck_kid.simple());
    println!("CENC_KEY={}", ck_value.iter().map(|b| format!("{b:02x}")).collect::<String>());
    println!("CEILING_PATH=/ceiling");
    // `GET /ceiling/segment/{n}`: the clear file of video_1's segment `n`
    // (the first 64), held in memory and answered as it is: what this HTTP
    // stack serves with no file read and no encryption (bench/origin.sh's
    // "memory" runs).
    let mut held = Vec::new();
    for n in 1u32..=64 {
        match std::fs::read(asset_dir.join(format!("video_1/{n}.m4s"))) {
            Ok(b) => held.push(axum::body::Bytes::from(b)),
            Err(_) => break,
        }
    }
    let held = Arc::new(held);
    println!("CEILING_SEGMENT_PATH=/ceiling/segment");
    let router = server::app(state).route("/ceiling", axum::routing::get(|| async { [0x5au8; 16].as_slice() })).route(
        "/ceiling/segment/{n}",
        axum::routing::get(move |axum::extract::Path(n): axum::extract::Path<usize>| {
            let held = held.clone();
            async move {
                match n.checked_sub(1).and_then(|i| held.get(i)) {
                    Some(b) => axum::response::IntoResponse::into_response(b.clone()),
                    None => axum::http::StatusCode::NOT_FOUND.into_response(),
                }
            }
        }),
    );
    println!("READY");
    if std::env::var("LISTEN").as_deref() == Ok("axum") {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.expect("serve");
    } else {
        let l = vec![server::Listener::plain(listener)];
        // wrk opens all its connections from 127.0.0.1: no connection caps.
        let limits = server::HttpLimits { max_connections_per_ip: 0, max_connections: 0, ..server::HttpLimits::default() };
        server::serve_listeners(l, router, limits, std::future::pending()).await.expect("serve");
    }
}
