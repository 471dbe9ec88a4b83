//! Token-use counters (replay prevention): atomic under concurrency, purged
//! after expiry.

mod common;

use common::*;
use std::sync::Arc;
use store::Store;
use time::{Duration, OffsetDateTime};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_uses_allow_exactly_five() {
    let dir = tempfile::tempdir().unwrap();
    let s: Arc<dyn Store> = Arc::new(open(dir.path()).await);
    let token = [0x42u8; 32];
    let exp = OffsetDateTime::now_utc() + Duration::hours(1);
    let barrier = Arc::new(tokio::sync::Barrier::new(200));
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (s, b) = (s.clone(), barrier.clone());
            tokio::spawn(async move {
                b.wait().await;
                s.consume_token_use(&token, 5, exp).await.unwrap()
            })
        })
        .collect();
    let mut allowed = 0;
    for t in tasks {
        allowed += usize::from(t.await.unwrap());
    }
    assert_eq!(allowed, 5);
    // Another token has its own budget.
    assert!(s.consume_token_use(&[0x43; 32], 5, exp).await.unwrap());
    assert!(!s.consume_token_use(&token, 5, exp).await.unwrap());
    s.close().await;
}

#[tokio::test]
async fn limits_zero_and_one_and_purge() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let now = OffsetDateTime::now_utc();
    assert!(
        !s.consume_token_use(&[1; 32], 0, now + Duration::hours(1))
            .await
            .unwrap()
    );
    assert!(
        s.consume_token_use(&[2; 32], 1, now + Duration::hours(1))
            .await
            .unwrap()
    );
    assert!(
        !s.consume_token_use(&[2; 32], 1, now + Duration::hours(1))
            .await
            .unwrap()
    );
    // Survives a restart (the counter is durable, not in memory).
    s.close().await;
    let s = open(dir.path()).await;
    assert!(
        !s.consume_token_use(&[2; 32], 1, now + Duration::hours(1))
            .await
            .unwrap()
    );

    assert!(
        s.consume_token_use(&[3; 32], 1, now - Duration::minutes(5))
            .await
            .unwrap()
    );
    assert!(
        s.consume_token_use(&[4; 32], 1, now - Duration::minutes(1))
            .await
            .unwrap()
    );
    assert_eq!(s.purge_expired_token_uses(now).await.unwrap(), 2);
    assert_eq!(s.purge_expired_token_uses(now).await.unwrap(), 0);
    // The live counter was kept.
    assert!(
        !s.consume_token_use(&[2; 32], 1, now + Duration::hours(1))
            .await
            .unwrap()
    );
    s.close().await;
}
