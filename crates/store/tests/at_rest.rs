//! Keys at rest: no content key value (nor a policy's HMAC secret) may appear
//! in castguard.db, -wal or -shm in any common encoding, while the KIDs can be
//! found there (proving the search would see a plaintext).

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use common::*;
use store::{SqliteStore, Store};

fn encodings(secret: &[u8]) -> Vec<(String, Vec<u8>)> {
    vec![
        ("raw".into(), secret.to_vec()),
        ("hex".into(), hex::encode(secret).into_bytes()),
        ("HEX".into(), hex::encode_upper(secret).into_bytes()),
        ("base64".into(), STANDARD.encode(secret).into_bytes()),
        (
            "base64 no pad".into(),
            STANDARD_NO_PAD.encode(secret).into_bytes(),
        ),
        ("base64url".into(), URL_SAFE.encode(secret).into_bytes()),
        (
            "base64url no pad".into(),
            URL_SAFE_NO_PAD.encode(secret).into_bytes(),
        ),
    ]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The bytes of the database file and its WAL and shared-memory files.
fn db_files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    ["castguard.db", "castguard.db-wal", "castguard.db-shm"]
        .iter()
        .filter_map(|f| std::fs::read(dir.join(f)).ok().map(|b| (f.to_string(), b)))
        .collect()
}

fn random16() -> [u8; 16] {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).unwrap();
    b
}

struct Written {
    keys: Vec<(uuid::Uuid, [u8; 16])>,
    hmac: Vec<u8>,
}

async fn write_secrets(s: &SqliteStore) -> Written {
    let hmac = b"hmac-secret-for-at-rest-test-01!".to_vec();
    s.put_content_key_policy(token_policy("tok", &hmac))
        .await
        .unwrap();
    let mut keys = Vec::new();
    for i in 0..6u8 {
        let v = random16();
        let k = kid(i + 1);
        s.put_content_key(key(&format!("key-{i}"), k, v, Some("tok")))
            .await
            .unwrap();
        keys.push((k, v));
    }
    // A rotated key: the old value must not linger either.
    let old = keys[0].1;
    let new = random16();
    s.put_content_key(key("key-0", keys[0].0, new, Some("tok")))
        .await
        .unwrap();
    keys[0].1 = new;
    keys.push((keys[0].0, old));
    // Read back once so values pass through the read path as well.
    for (k, v) in &keys[..6] {
        assert_eq!(
            s.get_content_key_by_key_id(*k)
                .await
                .unwrap()
                .value
                .expose(),
            v
        );
    }
    Written { keys, hmac }
}

fn assert_no_secrets(dir: &std::path::Path, w: &Written) {
    let files = db_files(dir);
    assert!(!files.is_empty());
    let mut kids_found = 0;
    for (kid, value) in &w.keys {
        for (enc, needle) in encodings(value) {
            for (file, bytes) in &files {
                assert!(
                    !contains(bytes, &needle),
                    "key {kid} found as {enc} in {file}"
                );
            }
        }
        // The search works: the KID itself is stored in clear (raw bytes in
        // the key_id column, text in the JSON body).
        let raw = files.iter().any(|(_, b)| contains(b, kid.as_bytes()));
        let text = files
            .iter()
            .any(|(_, b)| contains(b, kid.to_string().as_bytes()));
        assert!(
            raw && text,
            "KID {kid} not found (raw {raw}, text {text}): the search is blind"
        );
        kids_found += 1;
    }
    assert_eq!(kids_found, w.keys.len());
    for (enc, needle) in encodings(&w.hmac) {
        for (file, bytes) in &files {
            assert!(
                !contains(bytes, &needle),
                "policy HMAC key found as {enc} in {file}"
            );
        }
    }
}

#[tokio::test]
async fn no_key_bytes_in_database_files_without_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let w = write_secrets(&s).await;
    // Still open: the rows live in the WAL.
    let wal = std::fs::metadata(dir.path().join("castguard.db-wal"))
        .unwrap()
        .len();
    assert!(wal > 0, "expected un-checkpointed WAL content");
    assert_no_secrets(dir.path(), &w);
    s.close().await;
}

#[tokio::test]
async fn no_key_bytes_in_database_files_after_checkpoint_and_close() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let w = write_secrets(&s).await;
    s.checkpoint().await.unwrap();
    s.close().await;
    assert_no_secrets(dir.path(), &w);
    // And the keys are all still readable with the KEK.
    let s = open(dir.path()).await;
    for (k, v) in &w.keys[..6] {
        assert_eq!(
            s.get_content_key_by_key_id(*k)
                .await
                .unwrap()
                .value
                .expose(),
            v
        );
    }
    s.close().await;
}

#[cfg(unix)]
#[tokio::test]
async fn database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = open(&data).await;
    write_secrets(&s).await;
    for (f, _) in db_files(&data) {
        let mode = std::fs::metadata(data.join(&f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode & 0o077, 0, "{f} has mode {mode:o}");
    }
    assert_eq!(
        std::fs::metadata(&data).unwrap().permissions().mode() & 0o077,
        0
    );
    s.close().await;
}
