//! The key-encryption key at the store level: a wrong KEK fails cleanly at
//! open, tampered or swapped sealed values fail authentication.

mod common;

use common::*;
use store::{EntityKind, Kek, StoreError};

async fn wrong_kek_is_refused_at_open_without_leaking(db: TestDb) {
    let s = db.open().await;
    s.put_content_key(key("k", kid(1), [0x5a; 16], None))
        .await
        .unwrap();
    s.close().await;

    let wrong_hex = "00".repeat(32);
    let wrong = Kek::parse(&wrong_hex, "test").unwrap();
    let Err(err) = db.try_open_with(wrong).await else {
        panic!("opened with the wrong KEK")
    };
    assert!(matches!(err, StoreError::WrongKek), "{err:?}");
    let msg = format!("{err} {err:?}");
    assert!(msg.contains("key-encryption key does not match"), "{msg}");
    for secret in [KEK_HEX, &wrong_hex, &hex::encode([0x5a; 16])] {
        assert!(!msg.contains(secret), "{msg}");
    }

    // The right KEK still opens it, and the key is intact.
    let s = db.open().await;
    assert_eq!(
        s.get_content_key_with_value("k")
            .await
            .unwrap()
            .value
            .expose(),
        &[0x5a; 16]
    );
    s.close().await;
}

async fn tampered_or_swapped_values_fail_authentication(db: TestDb) {
    let s = db.open().await;
    s.put_content_key(key("a", kid(1), [0xa1; 16], None))
        .await
        .unwrap();
    s.put_content_key(key("b", kid(2), [0xb2; 16], None))
        .await
        .unwrap();
    s.put_content_key_policy(open_policy("p")).await.unwrap();
    s.close().await;

    // Someone with write access to the file moves b's sealed value onto a,
    // and flips a bit of the policy.
    let pool = db.raw().await;
    sqlx::query("UPDATE content_keys SET wrapped_value = (SELECT wrapped_value FROM content_keys WHERE name = 'b') WHERE name = 'a'")
        .execute(&pool)
        .await
        .unwrap();
    let sealed: Vec<u8> =
        sqlx::query_scalar("SELECT body_sealed FROM content_key_policies WHERE name = 'p'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let mut flipped = sealed.clone();
    if let Some(b) = flipped.get_mut(20) {
        *b ^= 0x80;
    }
    sqlx::query("UPDATE content_key_policies SET body_sealed = $1 WHERE name = 'p'")
        .bind(flipped)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let s = db.open().await;
    match s.get_content_key_with_value("a").await {
        Err(StoreError::Crypto {
            kind: EntityKind::ContentKey,
            name,
            ..
        }) => assert_eq!(name, "a"),
        other => panic!("{other:?}"),
    }
    // Metadata without the value is still readable, b is unaffected.
    assert_eq!(s.get_content_key("a").await.unwrap().key_id, kid(1));
    assert_eq!(
        s.get_content_key_with_value("b")
            .await
            .unwrap()
            .value
            .expose(),
        &[0xb2; 16]
    );
    match s.get_content_key_policy("p").await {
        Err(StoreError::Crypto {
            kind: EntityKind::ContentKeyPolicy,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    s.close().await;
}

/// A secret sealed under the KEK opens only under its own name: a row
/// copied onto another name fails authentication.
async fn secrets_are_bound_to_their_name(db: TestDb) {
    let s = db.open().await;
    assert!(s.put_secret("a", b"alpha", None).await.unwrap());
    assert!(s.put_secret("b", b"bravo", None).await.unwrap());
    s.close().await;
    let pool = db.raw().await;
    sqlx::query("UPDATE secrets SET sealed = (SELECT sealed FROM secrets WHERE name = 'b') WHERE name = 'a'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let s = db.open().await;
    match s.get_secret("a").await {
        Err(StoreError::Crypto {
            kind: EntityKind::Secret,
            name,
            ..
        }) => assert_eq!(name, "a"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.get_secret("b").await.unwrap().unwrap().value.as_slice(),
        b"bravo"
    );
    s.close().await;
}

on_every_backend!(
    wrong_kek_is_refused_at_open_without_leaking,
    tampered_or_swapped_values_fail_authentication,
    secrets_are_bound_to_their_name,
);
