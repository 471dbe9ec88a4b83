//! OpenID Connect key rollover against a real HTTP server on 127.0.0.1 that
//! rotates its JWKS, through the real `ReqwestFetcher`. Keys, JWKs and tokens
//! come from PyJWT + cryptography (tests/mint.py).

mod common;

use common::mint;
use keys::model::{TokenRestriction, TokenType};
use keys::token::{OidcConfig, Reason, ReqwestFetcher, VerifierCache, VerifierConfig, VerifyError};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const AUD: &str = "urn:castguard:keys";

/// A tiny identity provider: discovery document and a JWKS that the test
/// replaces at will; counts JWKS requests; can be switched off (503).
struct Idp {
    base: String,
    jwks: Mutex<Value>,
    jwks_hits: AtomicUsize,
    down: AtomicBool,
}

async fn start_idp() -> Arc<Idp> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let idp = Arc::new(Idp { base, jwks: Mutex::new(json!({"keys": []})), jwks_hits: AtomicUsize::new(0), down: AtomicBool::new(false) });
    let server = idp.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let idp = server.clone();
            tokio::spawn(async move {
                let Some(buf) = read_head(&mut sock).await else { return };
                let request = String::from_utf8_lossy(&buf);
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (status, body) = if idp.down.load(Ordering::SeqCst) {
                    ("503 Service Unavailable", "{}".to_string())
                } else if path == "/.well-known/openid-configuration" {
                    ("200 OK", json!({"issuer": idp.base, "jwks_uri": format!("{}/jwks", idp.base)}).to_string())
                } else if path == "/jwks" {
                    idp.jwks_hits.fetch_add(1, Ordering::SeqCst);
                    ("200 OK", idp.jwks.lock().unwrap().to_string())
                } else {
                    ("404 Not Found", "{}".to_string())
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(response.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    idp
}

/// The real fetcher, allowed plain HTTP to the test provider on 127.0.0.1
/// (as `castguard serve --allow-http-fetch 127.0.0.1`).
fn local_fetcher() -> ReqwestFetcher {
    ReqwestFetcher::with_policy(keys::http::FetchPolicy::new(["127.0.0.1"], Vec::<String>::new())).unwrap()
}

/// A JWT restriction whose keys come from `idp`'s discovery document.
fn restriction_for(idp: &Idp) -> TokenRestriction {
    TokenRestriction {
        issuer: idp.base.clone(),
        audience: AUD.into(),
        primary_verification_key: None,
        alternate_verification_keys: vec![],
        required_claims: vec![],
        restriction_token_type: TokenType::Jwt,
        open_id_connect_discovery_document: Some(format!("{}/.well-known/openid-configuration", idp.base)),
    }
}

/// Verification with key sets kept an hour and refetched after an unknown
/// kid at most every `min_refetch`.
fn config(min_refetch: Duration) -> VerifierConfig {
    VerifierConfig { oidc: OidcConfig { max_age: Duration::from_secs(3600), min_refetch }, ..VerifierConfig::default() }
}

fn jwk(keys: &Value, name: &str) -> Value {
    let mut k = keys[name]["jwk"].clone();
    k["kid"] = name.into();
    k["use"] = "sig".into();
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rollover_at_the_provider() {
    let idp = start_idp().await;
    let now = OffsetDateTime::now_utc();
    let t = now.unix_timestamp();
    let claims = json!({"iss": idp.base, "aud": AUD, "exp": t + 600, "sub": "viewer"});
    let jwt = |alg: &str, key: &str, kid: Option<&str>| {
        let headers = kid.map(|k| json!({"kid": k})).unwrap_or(json!({}));
        json!({"kind": "jwt", "alg": alg, "key": key, "claims": claims, "headers": headers})
    };
    let answer = mint(&json!({
        "keys": {"a": "rsa", "b": "rsa", "c": "ec"},
        "tokens": {
            "a": jwt("RS256", "a", Some("a")),
            "a_nokid": jwt("RS256", "a", None),
            "b": jwt("RS256", "b", Some("b")),
            "c": jwt("ES256", "c", Some("c")),
            "unknown": jwt("RS256", "b", Some("zzz")),
            "b_as_a": jwt("RS256", "b", Some("a")),
        }
    }));
    let keys = &answer["keys"];
    let tok = |n: &str| answer["tokens"][n].as_str().unwrap().to_string();
    *idp.jwks.lock().unwrap() = json!({"keys": [jwk(keys, "a")]});

    let restriction = restriction_for(&idp);
    let min_refetch = Duration::from_millis(1000);
    let cache = VerifierCache::new(config(min_refetch), Arc::new(local_fetcher()));
    let v = cache.get(&restriction).unwrap();
    let hits = || idp.jwks_hits.load(Ordering::SeqCst);
    let reason = |r: Result<_, VerifyError>| r.err().and_then(|e| e.reason());

    // First use fetches; later uses come from the cache.
    assert_eq!(v.verify(&tok("a"), now).await.unwrap().claims["sub"], "viewer");
    v.verify(&tok("a"), now).await.unwrap();
    v.verify(&tok("a_nokid"), now).await.unwrap();
    assert_eq!(hits(), 1);
    // A known kid with a bad signature does not cause a refetch.
    assert_eq!(reason(v.verify(&tok("b_as_a"), now).await), Some(Reason::SignatureInvalid));
    assert_eq!(hits(), 1);

    // The provider rolls over to key b; a token signed with b arrives
    // within the refetch interval of the first fetch: it waits for the
    // next allowed fetch and is accepted.
    *idp.jwks.lock().unwrap() = json!({"keys": [jwk(keys, "a"), jwk(keys, "b")]});
    v.verify(&tok("b"), now).await.unwrap();
    assert_eq!(hits(), 2);
    // A kid the provider does not have is refused after its one fetch.
    tokio::time::sleep(min_refetch + Duration::from_millis(100)).await;
    assert_eq!(reason(v.verify(&tok("unknown"), now).await), Some(Reason::SignatureInvalid));
    assert_eq!(hits(), 3);

    // Second rollover to an EC key, hit by 16 concurrent requests past the
    // interval: one fetch, at once.
    *idp.jwks.lock().unwrap() = json!({"keys": [jwk(keys, "b"), jwk(keys, "c")]});
    tokio::time::sleep(min_refetch + Duration::from_millis(100)).await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (v, t) = (v.clone(), tok("c"));
        tasks.push(tokio::spawn(async move { v.verify(&t, now).await.map(|_| ()) }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(hits(), 4);

    // Provider outage: cached keys keep working.
    idp.down.store(true, Ordering::SeqCst);
    v.verify(&tok("b"), now).await.unwrap();
    v.verify(&tok("c"), now).await.unwrap();
}

/// What a rollover looks like at a real provider (oidc-provider restarted
/// with a new key signs with it at once) and what a flood of made-up `kid`s
/// must not cause. Inside the refetch interval of the last fetch:
/// - many concurrent tokens with unknown kids (a spray) share one fetch and
///   are refused after at most the rest of the interval plus that fetch;
/// - a token signed with a key published only while it waits is accepted
///   (before: refused `signature_invalid` until the interval was over);
/// - a kid that never appears is refused after that bounded wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_waits_for_the_next_allowed_fetch() {
    let idp = start_idp().await;
    let now = OffsetDateTime::now_utc();
    let claims = json!({"iss": idp.base, "aud": AUD, "exp": now.unix_timestamp() + 600});
    let jwt = |key: &str, kid: &str| json!({"kind": "jwt", "alg": "RS256", "key": key, "claims": claims, "headers": {"kid": kid}});
    let mut tokens = serde_json::Map::new();
    tokens.insert("a".into(), jwt("a", "a"));
    tokens.insert("b".into(), jwt("b", "b"));
    tokens.insert("never".into(), jwt("b", "never"));
    for i in 0..16 {
        tokens.insert(format!("spray{i}"), jwt("b", &format!("spray{i}")));
    }
    let answer = mint(&json!({"keys": {"a": "rsa", "b": "rsa"}, "tokens": tokens}));
    let keys = &answer["keys"];
    let tok = |n: &str| answer["tokens"][n].as_str().unwrap().to_string();
    *idp.jwks.lock().unwrap() = json!({"keys": [jwk(keys, "a")]});
    let restriction = restriction_for(&idp);
    let min_refetch = Duration::from_millis(1500);
    let v = VerifierCache::new(config(min_refetch), Arc::new(local_fetcher())).get(&restriction).unwrap();
    let hits = || idp.jwks_hits.load(Ordering::SeqCst);
    let refused = |r: Result<_, VerifyError>| r.err().and_then(|e| e.reason()) == Some(Reason::SignatureInvalid);
    // Generous for a loaded machine, far below a second interval.
    let slack = Duration::from_millis(1000);

    v.verify(&tok("a"), now).await.unwrap();
    assert_eq!(hits(), 1);

    let started = std::time::Instant::now();
    let spray: Vec<_> = (0..16)
        .map(|i| {
            let (v, t) = (v.clone(), tok(&format!("spray{i}")));
            tokio::spawn(async move { v.verify(&t, now).await.map(|_| ()) })
        })
        .collect();
    for task in spray {
        assert!(refused(task.await.unwrap()));
    }
    assert_eq!(hits(), 2, "16 unknown kids, one fetch");
    let took = started.elapsed();
    assert!(took <= min_refetch + slack, "waited {took:?}");

    // Right after that fetch the provider rolls over; the token signed
    // with the new key comes before the key is published.
    let started = std::time::Instant::now();
    let waiting = {
        let (v, t) = (v.clone(), tok("b"));
        tokio::spawn(async move { v.verify(&t, now).await.map(|_| ()) })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    *idp.jwks.lock().unwrap() = json!({"keys": [jwk(keys, "b")]});
    waiting.await.unwrap().unwrap();
    assert_eq!(hits(), 3);
    let took = started.elapsed();
    assert!(took >= min_refetch - Duration::from_millis(200), "fetched early: {took:?}");
    assert!(took <= min_refetch + slack, "waited {took:?}");

    // A kid that never appears: refused after one bounded wait and fetch.
    let started = std::time::Instant::now();
    assert!(refused(v.verify(&tok("never"), now).await.map(|_| ())));
    assert_eq!(hits(), 4);
    let took = started.elapsed();
    assert!(took <= min_refetch + slack, "waited {took:?}");
    v.verify(&tok("b"), now).await.unwrap();
    assert_eq!(hits(), 4, "known keys need no fetch");
}

#[tokio::test]
async fn provider_unreachable_is_jwks_unavailable() {
    let idp = start_idp().await;
    idp.down.store(true, Ordering::SeqCst);
    let restriction = restriction_for(&idp);
    let cache = VerifierCache::new(VerifierConfig::default(), Arc::new(local_fetcher()));
    let v = cache.get(&restriction).unwrap();
    let t = OffsetDateTime::now_utc().unix_timestamp();
    let answer = mint(&json!({"keys": {"a": "rsa"}, "tokens": {"a": {"kind": "jwt", "alg": "RS256", "key": "a",
        "claims": {"iss": idp.base, "aud": AUD, "exp": t + 600}, "headers": {"kid": "a"}}}}));
    let e = v.verify(answer["tokens"]["a"].as_str().unwrap(), OffsetDateTime::now_utc()).await.unwrap_err();
    assert!(matches!(e, VerifyError::JwksUnavailable(_)), "{e:?}");
    assert_eq!(e.reason(), None);
    assert!(e.to_string().starts_with("jwks_unavailable"), "{e}");
}

/// A hostile or careless host for the fetch-policy test: `/doc` is a
/// discovery document, `/jwks` an empty key set, `/hop` redirects to
/// `/jwks`, `/meta` redirects to the cloud metadata address. Records each
/// request's path and whether it carried a `Referer`.
async fn start_redirector() -> (String, Arc<Mutex<Vec<(String, bool)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (b2, s2) = (base.clone(), seen.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let (base, seen) = (b2.clone(), s2.clone());
            tokio::spawn(async move {
                let Some(buf) = read_head(&mut sock).await else { return };
                let request = String::from_utf8_lossy(&buf).to_ascii_lowercase();
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                seen.lock().unwrap().push((path.clone(), request.contains("\r\nreferer:")));
                let (status, extra, body) = match path.as_str() {
                    "/doc" => ("200 OK", String::new(), json!({"issuer": base, "jwks_uri": "https://elsewhere.example/jwks"}).to_string()),
                    "/jwks" => ("200 OK", String::new(), r#"{"keys":[]}"#.to_string()),
                    "/hop" => ("302 Found", format!("Location: {base}/jwks\r\n"), String::new()),
                    "/meta" => ("302 Found", "Location: http://169.254.169.254/latest/meta-data/\r\n".to_string(), String::new()),
                    _ => ("404 Not Found", String::new(), "{}".to_string()),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(response.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (base, seen)
}

/// What an anonymous key request can make the server fetch: plain HTTP
/// only from hosts the operator allows, never the link-local or cloud
/// metadata addresses (not even through a redirect), no `Referer` on a
/// redirect, and a key set only from the discovery document's own host.
#[tokio::test]
async fn fetch_policy_http_hosts_metadata_redirects_and_jwks_host() {
    use keys::token::HttpFetch as _;
    let (base, seen) = start_redirector().await;
    let strict = ReqwestFetcher::new().unwrap();
    let e = strict.get(&format!("{base}/jwks")).await.unwrap_err();
    assert!(matches!(e, keys::token::FetchError::NotAllowed(_)), "{e:?}");
    assert!(seen.lock().unwrap().is_empty(), "a plain-HTTP host not allowed was contacted");

    let allowed = ReqwestFetcher::with_policy(keys::http::FetchPolicy::new(["127.0.0.1"], Vec::<String>::new())).unwrap();
    assert_eq!(allowed.get(&format!("{base}/jwks")).await.unwrap(), br#"{"keys":[]}"#);
    // A redirect on the allowed host is followed, without a Referer.
    assert_eq!(allowed.get(&format!("{base}/hop")).await.unwrap(), br#"{"keys":[]}"#);
    let last = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last, ("/jwks".to_string(), false), "the redirect carried a Referer");
    // The metadata address, directly or through a redirect: refused at once.
    let started = std::time::Instant::now();
    for url in ["http://169.254.169.254/latest/meta-data/".to_string(), format!("{base}/meta"), "http://[fe80::1]/x".into(), "http://[fd00:ec2::254]/x".into()] {
        let e = allowed.get(&url).await.unwrap_err();
        assert!(matches!(e, keys::token::FetchError::NotAllowed(_)), "{url}: {e:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(2), "a refused address was tried");

    // The discovery document names a key set on another host: refused.
    let src = keys::token::OidcKeySource::new(format!("{base}/doc"), Arc::new(allowed), OidcConfig::default());
    let e = src.keys().await.unwrap_err();
    assert!(e.to_string().contains("host"), "{e}");
}

/// A request's head (through the blank line), or `None` if the client
/// went away first.
async fn read_head(sock: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Some(buf)
}
