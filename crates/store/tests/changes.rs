//! Change events (`Store::subscribe`), sealed secrets with compare-and-swap,
//! and what several Postgres nodes need: a write on one store is seen on
//! another at once, the listener survives a lost connection, nodes may
//! start together, and no password leaks from a failed connect.

mod common;

use common::*;
use std::time::Duration;
use store::{Change, EntityKind, Kek, StoreError};
use tokio::sync::broadcast::Receiver;

/// The next change, waiting at most `secs`.
async fn next(rx: &mut Receiver<Change>, secs: u64) -> Change {
    tokio::time::timeout(Duration::from_secs(secs), rx.recv())
        .await
        .expect("no change event in time")
        .expect("change channel closed or lagged")
}

fn entity(kind: EntityKind, name: &str) -> Change {
    Change::Entity {
        kind,
        name: name.into(),
    }
}

/// A store announces its own committed writes (and nothing for a failed
/// or empty one).
async fn own_writes_are_announced(db: TestDb) {
    let s = db.open().await;
    let mut rx = s.subscribe().expect("both stores announce changes");
    s.put_asset(asset("a")).await.unwrap();
    assert_eq!(next(&mut rx, 1).await, entity(EntityKind::Asset, "a"));
    assert!(!s.delete_asset("nothing-here").await.unwrap());
    assert!(s.put_asset(asset("bad name")).await.is_err());
    s.put_content_key_policy(open_policy("p")).await.unwrap();
    assert_eq!(
        next(&mut rx, 1).await,
        entity(EntityKind::ContentKeyPolicy, "p")
    );
    assert!(s.delete_asset("a").await.unwrap());
    assert_eq!(next(&mut rx, 1).await, entity(EntityKind::Asset, "a"));
    assert!(rx.try_recv().is_err(), "one event per write");
    s.close().await;
}

/// Compare-and-swap: the first write needs `None`, each replace the
/// current version; a stale version loses and changes nothing.
async fn secrets_compare_and_swap(db: TestDb) {
    let s = db.open().await;
    assert!(s.get_secret("ring").await.unwrap().is_none());
    assert!(s.put_secret("ring", b"one", None).await.unwrap());
    assert!(!s.put_secret("ring", b"other", None).await.unwrap());
    let got = s.get_secret("ring").await.unwrap().unwrap();
    assert_eq!((got.value.as_slice(), got.version), (&b"one"[..], 1));
    assert!(format!("{got:?}").contains("version") && !format!("{got:?}").contains("111"));
    assert!(s.put_secret("ring", b"two", Some(1)).await.unwrap());
    assert!(!s.put_secret("ring", b"stale", Some(1)).await.unwrap());
    let got = s.get_secret("ring").await.unwrap().unwrap();
    assert_eq!((got.value.as_slice(), got.version), (&b"two"[..], 2));
    // Durable and readable by a second store (a second node).
    let t = db.open().await;
    assert_eq!(
        t.get_secret("ring")
            .await
            .unwrap()
            .unwrap()
            .value
            .as_slice(),
        b"two"
    );
    s.close().await;
    t.close().await;
}

on_every_backend!(own_writes_are_announced, secrets_compare_and_swap);

async fn postgres() -> Option<TestDb> {
    TestDb::postgres().await
}

/// Two nodes: a put through one is a change event on the other within a
/// second, and the writer's own listener does not echo it a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_write_on_one_node_is_seen_on_the_other() {
    let Some(db) = postgres().await else { return };
    let (a, b) = (db.open().await, db.open().await);
    let mut on_a = a.subscribe().unwrap();
    let mut on_b = b.subscribe().unwrap();
    a.put_asset(asset("movie")).await.unwrap();
    assert_eq!(next(&mut on_b, 1).await, entity(EntityKind::Asset, "movie"));
    b.put_secret("sts", b"ring", None).await.unwrap();
    assert_eq!(next(&mut on_a, 1).await, entity(EntityKind::Asset, "movie"));
    assert_eq!(next(&mut on_a, 1).await, entity(EntityKind::Secret, "sts"));
    assert_eq!(next(&mut on_b, 1).await, entity(EntityKind::Secret, "sts"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        on_a.try_recv().is_err() && on_b.try_recv().is_err(),
        "no echo"
    );
    a.close().await;
    b.close().await;
}

/// The listening connection is killed: the store reconnects, says that
/// everything may have changed, and sees later writes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_listener_reconnects_and_reports_everything() {
    let Some(db) = postgres().await else { return };
    let (a, b) = (db.open().await, db.open().await);
    let mut on_b = b.subscribe().unwrap();
    let raw = db.raw().await;
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = $1",
    )
    .bind(store::LISTENER_APPLICATION_NAME)
    .fetch_all(&raw)
    .await
    .unwrap();
    assert_eq!(killed, [true, true], "one listener per store");
    raw.close().await;
    assert_eq!(next(&mut on_b, 10).await, Change::Everything);
    a.put_asset(asset("after")).await.unwrap();
    assert_eq!(next(&mut on_b, 2).await, entity(EntityKind::Asset, "after"));
    a.close().await;
    b.close().await;
}

/// Nodes starting together on an empty database: migrations, the KEK
/// check row and the predefined policies are installed once, no node fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_nodes_start_together() {
    let Some(db) = postgres().await else { return };
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let (url, dir) = (db.store_url().to_owned(), db.dir.path().to_owned());
            tokio::spawn(async move { store::open(&url, &dir, kek()).await })
        })
        .collect();
    for s in opens {
        let s = s.await.unwrap().unwrap();
        let listed = s
            .list_streaming_policies(&store::Page::default())
            .await
            .unwrap();
        assert_eq!(listed.items.len(), 4);
        s.close().await;
    }
}

/// A failed connect names the server but never the password, whether the
/// password is wrong or the server is not there.
#[tokio::test]
async fn postgres_connect_errors_hide_the_password() {
    let Some(server) = postgres_server_url() else {
        eprintln!("skipped: {POSTGRES_URL_ENV} is not set");
        return;
    };
    let secret = "Wr0ng-pa%24%24word";
    let (_, host) = server.rsplit_once('@').unwrap();
    let dir = tempfile::tempdir().unwrap();
    for url in [
        format!("postgres://castguard:{secret}@{host}"),
        format!("postgresql://castguard:{secret}@127.0.0.1:1/postgres"),
        format!("postgres://castguard@{host}?password={secret}&sslmode=disable"),
    ] {
        let Err(err) = store::open(&url, dir.path(), kek()).await else {
            panic!("connected with a wrong password")
        };
        assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
        let msg = format!("{err} {err:?}");
        for leak in [secret, "Wr0ng-pa$$word"] {
            assert!(!msg.contains(leak), "{msg}");
        }
        assert!(msg.contains("***"), "{msg}");
    }
    let Err(err) = store::open(
        "mysql://u:hunter2@h/db",
        dir.path(),
        Kek::from_bytes([1; 32]),
    )
    .await
    else {
        panic!("opened a mysql URL")
    };
    assert!(!err.to_string().contains("hunter2"), "{err}");
}
