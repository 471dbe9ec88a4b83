//! Keys at rest: no content key value (nor a policy's HMAC secret, nor a
//! server secret) may appear in any common encoding in SQLite's
//! castguard.db, -wal or -shm, nor in the Postgres database's files and
//! write-ahead log, while the KIDs can be found there (proving the search
//! would see a plaintext).

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use common::*;
use sqlx::Row as _;
use store::Store;

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
    !needle.is_empty() && memchr::memmem::find(hay, needle).is_some()
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
    secret: Vec<u8>,
}

async fn write_secrets(s: &dyn Store) -> Written {
    let hmac = b"hmac-secret-for-at-rest-test-01!".to_vec();
    let secret = b"server-secret-for-at-rest-test!!".to_vec();
    assert!(s.put_secret("at-rest", &secret, None).await.unwrap());
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
    let w = Written { keys, hmac, secret };
    // Read back once so values pass through the read path as well.
    assert_readable(s, &w).await;
    w
}

/// Every current key reads back with the KEK.
async fn assert_readable(s: &dyn Store, w: &Written) {
    for (k, v) in &w.keys[..6] {
        let got = s.get_content_key_by_key_id(*k).await.unwrap();
        assert_eq!(got.value.expose(), v);
    }
}

fn assert_no_secrets(dir: &std::path::Path, w: &Written) {
    assert_not_in(&db_files(dir), w)
}

fn assert_not_in(files: &[(String, Vec<u8>)], w: &Written) {
    assert!(!files.is_empty());
    let mut kids_found = 0;
    for (kid, value) in &w.keys {
        for (enc, needle) in encodings(value) {
            for (file, bytes) in files {
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
    for (what, secret) in [("policy HMAC key", &w.hmac), ("server secret", &w.secret)] {
        for (enc, needle) in encodings(secret) {
            for (file, bytes) in files {
                assert!(!contains(bytes, &needle), "{what} found as {enc} in {file}");
            }
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
    assert_readable(&s, &w).await;
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

/// Where the write-ahead log ends now: segment file name and offset.
async fn wal_position(pool: &sqlx::AnyPool) -> (String, usize) {
    let row = sqlx::query(
        "SELECT file_name, file_offset::bigint AS file_offset \
         FROM pg_walfile_name_offset(pg_current_wal_lsn())",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let offset: i64 = row.get("file_offset");
    (row.get("file_name"), usize::try_from(offset).unwrap())
}

/// The files of the test's tables (heap, TOAST and indexes: every relation
/// created after initdb) after a checkpoint, so that every page is on disk,
/// and the write-ahead log written since `start`. Needs the server on this
/// machine, as scripts/start-services.sh runs it.
async fn postgres_files(db: &TestDb, start: &(String, usize)) -> Vec<(String, Vec<u8>)> {
    let pool = db.raw().await;
    sqlx::query("CHECKPOINT").execute(&pool).await.unwrap();
    let end = wal_position(&pool).await;
    let data: String = sqlx::query_scalar("SELECT current_setting('data_directory')")
        .fetch_one(&pool)
        .await
        .unwrap();
    let relations: Vec<String> = sqlx::query_scalar(
        "SELECT pg_relation_filepath(oid) FROM pg_class \
         WHERE oid >= 16384 AND pg_relation_filepath(oid) IS NOT NULL",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    let data = std::path::Path::new(&data);
    let mut files: Vec<_> = relations
        .iter()
        .map(|r| (r.clone(), std::fs::read(data.join(r)).unwrap()))
        .collect();
    assert!(files.len() >= 10, "{relations:?}");
    let mut segments: Vec<String> = std::fs::read_dir(data.join("pg_wal"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 24 && *n >= start.0 && *n <= end.0)
        .collect();
    segments.sort();
    for seg in segments {
        let bytes = std::fs::read(data.join("pg_wal").join(&seg)).unwrap();
        let from = if seg == start.0 { start.1 } else { 0 };
        let to = if seg == end.0 { end.1 } else { bytes.len() };
        files.push((format!("pg_wal/{seg}"), bytes[from..to].to_vec()));
    }
    files
}

#[tokio::test]
async fn no_key_bytes_in_postgres_files() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let s = db.open().await;
    let pool = db.raw().await;
    let start = wal_position(&pool).await;
    pool.close().await;
    let w = write_secrets(s.as_ref()).await;
    let files = postgres_files(&db, &start).await;
    assert!(
        files.iter().any(|(f, _)| f.contains("pg_wal")),
        "no WAL segment read"
    );
    assert_not_in(&files, &w);
    // Reopened with the KEK, every key is readable.
    s.close().await;
    let s = db.open().await;
    assert_readable(s.as_ref(), &w).await;
    s.close().await;
}
