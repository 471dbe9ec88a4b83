//! Token-use counters (replay prevention): atomic under concurrency, purged
//! after expiry.

mod common;

use common::*;
use std::sync::Arc;
use store::Store;
use time::{Duration, OffsetDateTime};

/// 200 tasks spread over `stores` consume one token with `max_uses` 5 at
/// the same instant: exactly 5 are allowed.
async fn race(stores: &[Arc<dyn Store>]) {
    let token = [0x42u8; 32];
    let exp = OffsetDateTime::now_utc() + Duration::hours(1);
    let barrier = Arc::new(tokio::sync::Barrier::new(200));
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let (s, b) = (stores[i % stores.len()].clone(), barrier.clone());
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
    for s in stores {
        // Another token has its own budget; this one is spent everywhere.
        assert!(s.consume_token_use(&[0x43; 32], 5, exp).await.unwrap());
        assert!(!s.consume_token_use(&token, 5, exp).await.unwrap());
    }
}

async fn two_hundred_concurrent_uses_allow_exactly_five(db: TestDb) {
    let s = db.open().await;
    race(std::slice::from_ref(&s)).await;
    s.close().await;
}

/// Two stores on one database, as two nodes (two pools; for SQLite two
/// processes' worth of connections on one file).
async fn two_stores_share_the_count(db: TestDb) {
    let stores = [db.open().await, db.open().await];
    race(&stores).await;
    for s in stores {
        s.close().await;
    }
}

async fn limits_zero_and_one_and_purge(db: TestDb) {
    let s = db.open().await;
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
    let s = db.open().await;
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
    // A counter outlives its token by the grace (store::redis::COUNTER_GRACE):
    // the verifier accepts a token within its clock skew after `exp`, and a
    // counter purged at `exp` would let that token start over at zero.
    assert_eq!(s.purge_expired_token_uses(now).await.unwrap(), 0);
    assert!(
        !s.consume_token_use(&[3; 32], 1, now - Duration::minutes(5))
            .await
            .unwrap(),
        "a token just past exp is still counted"
    );
    let later = now + store::redis::COUNTER_GRACE + Duration::minutes(1);
    assert_eq!(s.purge_expired_token_uses(later).await.unwrap(), 2);
    assert_eq!(s.purge_expired_token_uses(later).await.unwrap(), 0);
    // The live counter was kept.
    assert!(
        !s.consume_token_use(&[2; 32], 1, now + Duration::hours(1))
            .await
            .unwrap()
    );
    s.close().await;
}

on_every_backend!(
    two_hundred_concurrent_uses_allow_exactly_five,
    two_stores_share_the_count,
    limits_zero_and_one_and_purge,
);
