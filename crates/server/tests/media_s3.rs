//! Asset media on S3-compatible object storage (issue 7 item 3), against a
//! real S3 server on 127.0.0.1: moto (PyPI `moto[server]`, installed by
//! scripts/install-test-tools.sh), started and stopped by this test.
//!
//! Three nodes share one store (as nodes share Postgres): `a` and `b` read
//! media from the same bucket (`b` with an empty data dir: a second node),
//! `local` from local files. An MP4 uploaded through `a`'s API lands in
//! the bucket with `index.json`; ffmpeg decrypts DASH `cenc` and plays HLS
//! AES-128 from `a` to the clear input's frames; every served byte equals
//! the local-file origin's and the second node's; a re-upload is a new
//! generation and the old one is retired; deleting the asset empties its
//! prefix.

use keys::model::{ContentKey, ContentKeyType, ContentKeyValue, ContentKeyWithValue};
use serde_json::json;
use server::delivery::DeliveryConfig;
use server::{AdminToken, AppState, app};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

const BUCKET: &str = "castguard-media";
const PREFIX: &str = "nodes/shared";
const ADMIN: &str = "media-s3-admin-token-0123456789";
const CK_KID: Uuid = Uuid::from_u128(0x0011_2233_4455_4677_8899_aabb_ccdd_eeff);
const CK_KEY: [u8; 16] = [
    0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0f,
];
const ENV_KID: Uuid = Uuid::from_u128(0xaaaa_bbbb_cccc_4ddd_8eee_ffff_0000_1111);
const ENV_KEY: [u8; 16] = [0x5a; 16];
/// Stands in for a real secret: it must never show in an error or log.
const SECRET: &str = "moto-secret-never-logged-0123";

fn python() -> PathBuf {
    std::env::var_os("CASTGUARD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"))
}

#[path = "support/moto.rs"]
mod moto;
use moto::start_moto;

fn clip(dir: &Path) -> PathBuf {
    let out = dir.join("clip.mp4");
    let status = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=25",
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "6",
        ])
        .args([
            "-c:v",
            "libx264",
            "-g",
            "25",
            "-bf",
            "2",
            "-c:a",
            "aac",
            "-movflags",
            "+faststart",
        ])
        .arg(&out)
        .status()
        .expect("ffmpeg must be installed (scripts/install-test-tools.sh)");
    assert!(status.success());
    out
}

/// Column 6 of framemd5 (TESTING.md: not the last column).
fn framemd5(args: &[&str], stdin: Option<Vec<u8>>) -> Result<Vec<String>, String> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-nostdin"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    if let Some(data) = stdin {
        let mut si = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            let _ = si.write_all(&data);
        });
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(',').map(str::trim).nth(5).map(str::to_owned))
        .collect())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

struct Node {
    base: String,
}

async fn node(
    store: Arc<dyn store::Store>,
    data: &Path,
    media: store::MediaStore,
    listener: tokio::net::TcpListener,
    public: SocketAddr,
) -> Node {
    let addr = listener.local_addr().unwrap();
    let config = DeliveryConfig {
        cache_ttl: Duration::from_millis(200),
        ..DeliveryConfig::for_listen_addr(public)
    };
    let state = AppState::with_media(
        store,
        data,
        AdminToken::new(ADMIN.into()).unwrap(),
        config,
        media,
    );
    let router = app(state).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Node {
        base: format!("http://{addr}"),
    }
}

fn s3(data: &Path, port: u16) -> store::MediaStore {
    let vars = [
        ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "castguard-test-key".into()),
        ("AWS_SECRET_ACCESS_KEY", SECRET.into()),
    ]
    .map(|(k, v)| (k.to_owned(), v));
    store::MediaStore::from_url_with(&format!("s3://{BUCKET}/{PREFIX}"), data, vars)
        .unwrap()
        .with_retire_delay(Duration::from_millis(500))
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let r = http.get(url).send().await.unwrap();
    (
        r.status().as_u16(),
        r.headers().clone(),
        r.bytes().await.unwrap().to_vec(),
    )
}

/// Object keys below `prefix`, from moto's ListObjectsV2 (plain HTTP, not
/// our client).
async fn bucket_keys(http: &reqwest::Client, port: u16, prefix: &str) -> Vec<String> {
    let url = format!("http://127.0.0.1:{port}/{BUCKET}?list-type=2&max-keys=1000&prefix={prefix}");
    let r = http.get(url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let xml = r.text().await.unwrap();
    xml.split("<Key>")
        .skip(1)
        .filter_map(|k| k.split("</Key>").next())
        .map(str::to_owned)
        .collect()
}

async fn admin(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: reqwest::Body,
) -> (u16, String) {
    let r = http
        .request(method, url)
        .bearer_auth(ADMIN)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn upload(http: &reqwest::Client, base: &str, name: &str, clip: &Path) -> serde_json::Value {
    let (s, body) = admin(
        http,
        reqwest::Method::PUT,
        &format!("{base}/api/v1/assets/{name}"),
        json!({}).to_string().into(),
    )
    .await;
    assert!(s == 200 || s == 201, "{s} {body}");
    let bytes = std::fs::read(clip).unwrap();
    let (s, body) = admin(
        http,
        reqwest::Method::PUT,
        &format!("{base}/api/v1/assets/{name}/content"),
        bytes.into(),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert!(!body.contains(SECRET));
    serde_json::from_str(&body).unwrap()
}

async fn put_locator(
    st: &dyn store::Store,
    name: &str,
    asset: &str,
    policy: &str,
    kid: Uuid,
) -> Uuid {
    let loc = keys::model::from_json(
        &json!({"name": name, "assetName": asset, "streamingPolicyName": policy, "contentKeys": [{"id": kid}]})
            .to_string(),
    )
    .unwrap();
    st.put_streaming_locator(loc)
        .await
        .unwrap()
        .value
        .streaming_locator_id
        .unwrap()
}

/// Every resource of a locator's `cenc` DASH and `aes128` HLS variants.
fn resources(variant: &str, segments: &[(String, usize)]) -> Vec<String> {
    let mut out = vec![if variant == "cenc" {
        "cenc/manifest.mpd".to_owned()
    } else {
        "aes128/master.m3u8".to_owned()
    }];
    for (track, n) in segments {
        if variant == "aes128" {
            out.push(format!("aes128/{track}/playlist.m3u8"));
        }
        out.push(format!("{variant}/{track}/init.mp4"));
        out.extend((1..=*n).map(|i| format!("{variant}/{track}/{i}.m4s")));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_media_store_serves_the_same_bytes_on_every_node() {
    let Some(moto) = start_moto(&python()) else { return };
    let http = reqwest::Client::new();
    let r = http
        .put(format!("http://127.0.0.1:{}/{BUCKET}", moto.port))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "create bucket");

    let tmp = tempfile::tempdir().unwrap();
    let src = clip(tmp.path());
    let dirs: Vec<PathBuf> = ["db", "a", "b", "local"]
        .iter()
        .map(|d| tmp.path().join(d))
        .collect();
    for d in &dirs {
        std::fs::create_dir_all(d).unwrap();
    }
    let st: Arc<dyn store::Store> = Arc::new(
        store::SqliteStore::open(&dirs[0], store::Kek::from_bytes([7u8; 32]))
            .await
            .unwrap(),
    );
    let listeners: Vec<tokio::net::TcpListener> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
        }
        v
    };
    // Manifests name node a's key URLs everywhere, so they compare equal.
    let public = listeners[0].local_addr().unwrap();
    let mut listeners = listeners.into_iter();
    let a = node(
        st.clone(),
        &dirs[1],
        s3(&dirs[1], moto.port),
        listeners.next().unwrap(),
        public,
    )
    .await;
    let b = node(
        st.clone(),
        &dirs[2],
        s3(&dirs[2], moto.port),
        listeners.next().unwrap(),
        public,
    )
    .await;
    let local = node(
        st.clone(),
        &dirs[3],
        store::MediaStore::local(&dirs[3]),
        listeners.next().unwrap(),
        public,
    )
    .await;

    // Keys behind open policies: ffmpeg fetches the AES-128 key itself.
    let policy = keys::model::from_json::<keys::model::ContentKeyPolicy>(
        &json!({"name": "open", "options": [{
            "configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
            "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyOpenRestriction"}}]})
        .to_string(),
    )
    .unwrap();
    st.put_content_key_policy(policy).await.unwrap();
    for (name, kid, t, value) in [
        ("ck", CK_KID, ContentKeyType::CommonEncryption, CK_KEY),
        ("env", ENV_KID, ContentKeyType::EnvelopeEncryption, ENV_KEY),
    ] {
        let key = ContentKey {
            name: name.into(),
            key_id: kid,
            key_type: t,
            label: None,
            policy_name: Some("open".into()),
            created: None,
            last_modified: None,
        };
        st.put_content_key(ContentKeyWithValue {
            key,
            value: ContentKeyValue::new(value),
        })
        .await
        .unwrap();
    }

    // Upload through node a (to the bucket) and node local (to its files).
    let rec = upload(&http, &a.base, "movie", &src).await;
    let gen1 = rec["storage"]["path"].as_str().unwrap().to_owned();
    assert!(gen1.starts_with("assets/movie/"), "{gen1}");
    let rec_local = upload(&http, &local.base, "movie-local", &src).await;
    assert_eq!(rec_local["storage"]["path"], "assets/movie-local");
    let keys1 = bucket_keys(&http, moto.port, &format!("{PREFIX}/assets/movie/")).await;
    for k in [
        "index.json",
        "video_1/init.mp4",
        "video_1/1.m4s",
        "audio_2/init.mp4",
    ] {
        let want = format!("{PREFIX}/{gen1}/{k}");
        assert!(keys1.contains(&want), "{want} not in {keys1:?}");
    }
    assert!(
        !dirs[1].join("assets").join("movie").exists(),
        "node a keeps no local copy"
    );

    let s3_multi = put_locator(
        st.as_ref(),
        "s3-multi",
        "movie",
        "Predefined_MultiDrmStreaming",
        CK_KID,
    )
    .await;
    let s3_aes = put_locator(
        st.as_ref(),
        "s3-aes",
        "movie",
        "Predefined_ClearKey",
        ENV_KID,
    )
    .await;
    let l_multi = put_locator(
        st.as_ref(),
        "l-multi",
        "movie-local",
        "Predefined_MultiDrmStreaming",
        CK_KID,
    )
    .await;
    let l_aes = put_locator(
        st.as_ref(),
        "l-aes",
        "movie-local",
        "Predefined_ClearKey",
        ENV_KID,
    )
    .await;

    let index: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dirs[3].join("assets/movie-local/index.json")).unwrap(),
    )
    .unwrap();
    let segments: Vec<(String, usize)> = index["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["segments"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert!(
        segments.iter().any(|(t, n)| t == "video_1" && *n >= 2),
        "{segments:?}"
    );

    // Every byte the same on node a, node b (empty data dir) and the
    // local-file origin; the ETag the same on both bucket nodes.
    let compare = async |label: &str| {
        let mut served = 0;
        for (variant, s3_loc, l_loc) in [("cenc", s3_multi, l_multi), ("aes128", s3_aes, l_aes)] {
            for res in resources(variant, &segments) {
                let (sa, ha, ba) = get(&http, &format!("{}/s/{s3_loc}/{res}", a.base)).await;
                let (sb, hb, bb) = get(&http, &format!("{}/s/{s3_loc}/{res}", b.base)).await;
                let (sl, _, bl) = get(&http, &format!("{}/s/{l_loc}/{res}", local.base)).await;
                assert_eq!(
                    (sa, sb, sl),
                    (200, 200, 200),
                    "{label} {res}: {}",
                    String::from_utf8_lossy(&ba)
                );
                assert!(
                    ba == bl,
                    "{label} {res}: bucket origin differs from the local-file origin"
                );
                assert!(ba == bb, "{label} {res}: the second node differs");
                assert_eq!(ha["etag"], hb["etag"], "{label} {res}");
                served += ba.len();
            }
        }
        served
    };
    assert!(compare("first upload").await > 100_000);
    assert!(
        std::fs::read_dir(&dirs[2])
            .unwrap()
            .all(|e| e.unwrap().file_name() != "assets"),
        "node b has no media of its own"
    );

    // ffmpeg: DASH cenc segments from the bucket decrypt to the clear
    // frames; HLS AES-128 plays over HTTP from node a.
    let src_s = src.to_str().unwrap().to_owned();
    for (track, map) in [("video_1", "0:v"), ("audio_2", "0:a")] {
        let clear = framemd5(
            &[
                "-i", &src_s, "-map", map, "-c", "copy", "-f", "framemd5", "-",
            ],
            None,
        )
        .unwrap();
        let mut bytes = Vec::new();
        for res in resources("cenc", &segments)
            .iter()
            .filter(|r| r.starts_with(&format!("cenc/{track}/")))
        {
            bytes.extend(
                get(&http, &format!("{}/s/{s3_multi}/{res}", a.base))
                    .await
                    .2,
            );
        }
        let key = hex(&CK_KEY);
        let got = framemd5(
            &[
                "-decryption_key",
                &key,
                "-f",
                "mp4",
                "-i",
                "pipe:0",
                "-map",
                "0",
                "-c",
                "copy",
                "-f",
                "framemd5",
                "-",
            ],
            Some(bytes.clone()),
        )
        .unwrap();
        assert_eq!(got, clear, "DASH cenc {track} from the bucket");
        if track == "video_1" {
            let wrong = framemd5(
                &[
                    "-decryption_key",
                    &"00".repeat(16),
                    "-f",
                    "mp4",
                    "-i",
                    "pipe:0",
                    "-map",
                    "0",
                    "-f",
                    "framemd5",
                    "-",
                ],
                Some(bytes),
            );
            assert!(
                wrong.map_or(true, |w| w != clear),
                "a wrong key must not give the clear frames"
            );
        }
    }
    let clear_v = framemd5(&["-i", &src_s, "-map", "0:v", "-f", "framemd5", "-"], None).unwrap();
    let master = format!("{}/s/{s3_aes}/aes128/master.m3u8", a.base);
    let played = tokio::task::spawn_blocking(move || {
        framemd5(&["-i", &master, "-map", "0:v", "-f", "framemd5", "-"], None)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        played, clear_v,
        "HLS AES-128 from the bucket plays to the clear frames"
    );

    // Revalidation needs no segment: 304 on a matching ETag.
    let seg = format!("{}/s/{s3_multi}/cenc/video_1/1.m4s", b.base);
    let (_, h, _) = get(&http, &seg).await;
    let r = http
        .get(&seg)
        .header("if-none-match", h["etag"].clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 304);

    // A re-upload is a new generation; the old one is retired after the
    // delay, and both nodes serve the same bytes meanwhile and after.
    let rec2 = upload(&http, &a.base, "movie", &src).await;
    let gen2 = rec2["storage"]["path"].as_str().unwrap().to_owned();
    assert_ne!(gen1, gen2);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let keys2 = bucket_keys(&http, moto.port, &format!("{PREFIX}/assets/movie/")).await;
    assert!(
        keys2
            .iter()
            .all(|k| k.starts_with(&format!("{PREFIX}/{gen2}/"))),
        "old generation retired: {keys2:?}"
    );
    assert_eq!(keys2.len(), keys1.len());
    compare("re-upload").await;

    // Deleting the asset deletes its objects.
    for loc in ["s3-multi", "s3-aes"] {
        assert!(st.delete_streaming_locator(loc).await.unwrap());
    }
    let (s, body) = admin(
        &http,
        reqwest::Method::DELETE,
        &format!("{}/api/v1/assets/movie", a.base),
        reqwest::Body::from(""),
    )
    .await;
    assert_eq!(s, 204, "{body}");
    assert!(
        bucket_keys(&http, moto.port, &format!("{PREFIX}/assets/movie/"))
            .await
            .is_empty()
    );
    drop(moto);
}
