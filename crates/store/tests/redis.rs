//! `store::redis` against a real redis-server on 127.0.0.1 (issue 7): the
//! `maxuses` counters never grant more than `maxuses` across separate
//! clients (nodes), expire after the token, and fail closed when Redis is
//! gone; the OpenID Connect document cache lets a second node skip the
//! identity provider, except on the refetch after an unknown `kid`.
//!
//! The shared server comes from `CASTGUARD_TEST_REDIS_URL`
//! (`scripts/start-services.sh`); with `CI=true` a missing variable fails
//! the tests. The outage test starts its own redis-server (from `PATH`), as
//! it must stop it.

use keys::token::{HttpFetch, ReqwestFetcher};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::redis::{COUNTER_GRACE, Redis, RedisFetchCache, RedisTokenUses};
use store::{StoreError, TokenUses};
use time::OffsetDateTime;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The shared test Redis; `None` (test skipped) only outside CI.
fn redis_url() -> Option<String> {
    match std::env::var("CASTGUARD_TEST_REDIS_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                !in_ci(),
                "CASTGUARD_TEST_REDIS_URL is not set: scripts/test.sh starts redis-server"
            );
            eprintln!("skipped: CASTGUARD_TEST_REDIS_URL is not set");
            None
        }
    }
}

fn random_id() -> [u8; 32] {
    let mut id = [0u8; 32];
    getrandom::fill(&mut id).unwrap();
    id
}

async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_clients_grant_exactly_max_uses() {
    let Some(url) = redis_url() else { return };
    // Two separate clients, each with its own connection: two nodes.
    let a = Arc::new(RedisTokenUses::new(Redis::open(&url).unwrap()));
    let b = Arc::new(RedisTokenUses::new(Redis::open(&url).unwrap()));
    let id = random_id();
    let exp = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let c = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { c.consume(&id, 5, exp).await.unwrap() })
        })
        .collect();
    let mut granted = 0;
    for t in tasks {
        granted += usize::from(t.await.unwrap());
    }
    assert_eq!(granted, 5);
    assert!(!a.consume(&id, 5, exp).await.unwrap());
    // Another token has its own counter; max 0 never grants.
    assert!(b.consume(&random_id(), 1, exp).await.unwrap());
    assert!(!b.consume(&random_id(), 0, exp).await.unwrap());
    assert_eq!(a.backend(), "redis");
    a.ping().await.unwrap();
}

#[tokio::test]
async fn counter_expires_after_the_token_and_its_grace() {
    let Some(url) = redis_url() else { return };
    let uses = RedisTokenUses::new(Redis::open(&url).unwrap());
    let mut conn = raw(&url).await;

    let id = random_id();
    let exp = OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp() + 600)
        .unwrap();
    assert!(uses.consume(&id, 2, exp).await.unwrap());
    let at: i64 = redis::cmd("PEXPIRETIME")
        .arg(RedisTokenUses::key(&id))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(at, (exp + COUNTER_GRACE).unix_timestamp() * 1000);
    // Later uses keep the first expiry.
    assert!(
        uses.consume(&id, 2, exp + time::Duration::hours(1))
            .await
            .unwrap()
    );
    let again: i64 = redis::cmd("PEXPIRETIME")
        .arg(RedisTokenUses::key(&id))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(again, at);

    // A token just past `exp` (still inside the verifier's clock skew):
    // its counter must not vanish at once and start again from zero.
    let id = random_id();
    let past = OffsetDateTime::now_utc() - time::Duration::minutes(1);
    assert!(uses.consume(&id, 1, past).await.unwrap());
    assert!(!uses.consume(&id, 1, past).await.unwrap());
    let ttl: i64 = redis::cmd("PTTL")
        .arg(RedisTokenUses::key(&id))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        ttl > (COUNTER_GRACE.whole_milliseconds() as i64) - 60_000,
        "{ttl}"
    );
}

/// A redis-server of this test's own, with a password, on a free port.
struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    fn start(password: &str) -> Option<OwnRedis> {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--port", &port.to_string(), "--requirepass", password])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                assert!(!in_ci(), "redis-server not runnable: {e}");
                eprintln!("skipped: redis-server not runnable: {e}");
                return None;
            }
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(OwnRedis { child, port })
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn redis_gone_is_an_error_never_a_grant() {
    const PASSWORD: &str = "pw-Zq81-never-logged";
    let Some(mut own) = OwnRedis::start(PASSWORD) else {
        return;
    };
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{}", own.port);
    let redis = Redis::open(&url).unwrap();
    assert!(!redis.display().contains(PASSWORD));
    let uses = RedisTokenUses::new(redis);
    let id = random_id();
    let exp = OffsetDateTime::now_utc() + time::Duration::hours(1);
    assert!(uses.consume(&id, 3, exp).await.unwrap());

    own.child.kill().unwrap();
    own.child.wait().unwrap();
    for _ in 0..3 {
        let t = Instant::now();
        let err = uses.consume(&id, 3, exp).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Unavailable {
                    service: "redis",
                    ..
                }
            ),
            "{err:?}"
        );
        let text = format!("{err} {err:?}");
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        assert!(uses.ping().await.is_err());
    }
    // Wrong password: refused by the server, and the error does not echo it.
    let Some(own2) = OwnRedis::start(PASSWORD) else {
        return;
    };
    let wrong = RedisTokenUses::new(
        Redis::open(&format!(
            "redis://:wrong-{PASSWORD}@127.0.0.1:{}",
            own2.port
        ))
        .unwrap(),
    );
    let err = wrong.consume(&id, 3, exp).await.unwrap_err();
    assert!(!format!("{err} {err:?}").contains(PASSWORD), "{err}");
}

/// An identity provider stand-in: a real HTTP server on 127.0.0.1 that
/// counts requests and serves whatever body is current.
struct Idp {
    url: String,
    hits: Arc<AtomicUsize>,
    body: Arc<Mutex<String>>,
}

fn idp() -> Idp {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let body = Arc::new(Mutex::new(String::from(r#"{"keys":[{"kid":"one"}]}"#)));
    let (h, b) = (hits.clone(), body.clone());
    std::thread::spawn(move || {
        for mut s in listener.incoming().map_while(Result::ok) {
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            h.fetch_add(1, Ordering::SeqCst);
            let body = b.lock().unwrap().clone();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Idp { url, hits, body }
}

#[tokio::test]
async fn documents_are_fetched_once_for_all_nodes_but_fresh_after_unknown_kid() {
    let Some(url) = redis_url() else { return };
    let idp = idp();
    let doc = format!("{}/{}/jwks.json", idp.url, hex::encode(random_id()));
    let node = || {
        RedisFetchCache::new(
            Redis::open(&url).unwrap(),
            Arc::new(ReqwestFetcher::with_policy(keys::http::FetchPolicy::new(["127.0.0.1"], Vec::<String>::new())).unwrap()),
            Duration::from_secs(60),
        )
    };
    let (a, b) = (node(), node());
    let first = a.get(&doc).await.unwrap();
    assert_eq!(first, br#"{"keys":[{"kid":"one"}]}"#);
    assert_eq!(b.get(&doc).await.unwrap(), first);
    assert_eq!(a.get(&doc).await.unwrap(), first);
    assert_eq!(
        idp.hits.load(Ordering::SeqCst),
        1,
        "one fetch for both nodes"
    );

    // Key rollover: the refetch goes to the provider and updates the cache
    // for the other node.
    *idp.body.lock().unwrap() = r#"{"keys":[{"kid":"two"}]}"#.into();
    assert_eq!(a.get(&doc).await.unwrap(), first, "cached until the TTL");
    let fresh = b.get_fresh(&doc).await.unwrap();
    assert_eq!(fresh, br#"{"keys":[{"kid":"two"}]}"#);
    assert_eq!(idp.hits.load(Ordering::SeqCst), 2);
    assert_eq!(a.get(&doc).await.unwrap(), fresh);
    assert_eq!(idp.hits.load(Ordering::SeqCst), 2);

    // The body expires with its TTL.
    let mut conn = raw(&url).await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(RedisFetchCache::key(&doc))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((1..=60_000).contains(&ttl), "{ttl}");
}

#[tokio::test]
async fn documents_are_fetched_directly_when_redis_is_gone() {
    let idp = idp();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = RedisFetchCache::new(
        Redis::open(&format!("redis://127.0.0.1:{port}")).unwrap(),
        Arc::new(ReqwestFetcher::with_policy(keys::http::FetchPolicy::new(["127.0.0.1"], Vec::<String>::new())).unwrap()),
        Duration::from_secs(60),
    );
    let doc = format!("{}/jwks.json", idp.url);
    assert_eq!(
        dead.get(&doc).await.unwrap(),
        br#"{"keys":[{"kid":"one"}]}"#
    );
    assert_eq!(idp.hits.load(Ordering::SeqCst), 1);
}

/// Redis hung from the start (a socket that accepts and never answers):
/// concurrent uses all fail, fast: they do not queue one connection
/// timeout each behind each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hung_redis_fails_every_use_fast() {
    let hung = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hung.local_addr().unwrap().port();
    let uses = Arc::new(RedisTokenUses::new(
        Redis::open(&format!("redis://127.0.0.1:{port}")).unwrap(),
    ));
    let exp = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let t = Instant::now();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let uses = uses.clone();
            tokio::spawn(async move { uses.consume(&random_id(), 5, exp).await })
        })
        .collect();
    for task in tasks {
        let res = task.await.unwrap();
        assert!(
            matches!(res, Err(StoreError::Unavailable { .. })),
            "{res:?}"
        );
    }
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    drop(hung);
}
