//! `castguard serve --media-url s3://bucket/prefix` with the real binary
//! against a real S3-compatible server on 127.0.0.1 (moto, PyPI
//! `moto[server]`, started and stopped here; issue 7 item 3): the demo
//! clip and an asset ingested with the CLI land in the bucket with their
//! `index.json`; ffmpeg plays the clear HLS and decrypts the DASH `cenc`
//! segments the origin serves from the bucket to the input's frames; the
//! credentials appear in no log line; deleting the asset empties its prefix.
//! The multi-node and byte-equality checks are in
//! crates/server/tests/media_s3.rs.

mod api_server;
mod common;

use api_server::{Server, TOKEN, cli, data_dir, ok};
use common::{Media, assert_hashes_eq, clear_hashes, fixture, hls_hashes, python};
use serde_json::Value;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

const BUCKET: &str = "castguard-e2e";
const ACCESS_KEY: &str = "AKIDCASTGUARDE2E";
const SECRET: &str = "e2e-secret-access-key-never-logged";

#[path = "../../server/tests/support/moto.rs"]
mod moto;
use moto::start_moto;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(20)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// Object keys below `prefix` (moto's ListObjectsV2 over plain HTTP).
fn bucket_keys(port: u16, prefix: &str) -> Vec<String> {
    let xml = String::from_utf8(common::http_get(&format!(
        "http://127.0.0.1:{port}/{BUCKET}?list-type=2&max-keys=1000&prefix={prefix}"
    )))
    .unwrap();
    xml.split("<Key>")
        .skip(1)
        .filter_map(|k| k.split("</Key>").next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn serve_with_media_url_stores_and_streams_from_s3() {
    let Some(moto) = start_moto(&python()) else { return };
    let resp = agent()
        .put(&format!("http://127.0.0.1:{}/{BUCKET}", moto.port))
        .send_empty()
        .unwrap();
    assert_eq!(resp.status(), 200, "create bucket");

    let tmp = tempfile::tempdir().unwrap();
    let env = [
        (
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", moto.port),
        ),
        ("AWS_ALLOW_HTTP", "true".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", SECRET.to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ];
    // With the demo: it is ingested into the bucket too.
    let server = Server::start_with(
        &data_dir(&tmp),
        Some(TOKEN),
        &["--media-url", &format!("s3://{BUCKET}/e2e")],
        &env,
    );
    let base = server.url.clone();
    let run = |args: &[&str]| ok(&cli(&base, TOKEN, args));
    assert!(
        server
            .log()
            .contains(&format!("media in s3://{BUCKET}/e2e")),
        "{}",
        server.log()
    );
    assert!(
        bucket_keys(moto.port, "e2e/assets/demo/")
            .iter()
            .any(|k| k.ends_with("/index.json")),
        "demo in the bucket"
    );

    let input = fixture("h264_aac_bframes.mp4");
    run(&[
        "asset",
        "ingest",
        input.to_str().unwrap(),
        "--name",
        "movie",
    ]);
    let asset: Value = serde_json::from_str(&run(&["asset", "get", "movie", "--json"])).unwrap();
    let path = asset["storage"]["path"].as_str().unwrap().to_owned();
    let keys = bucket_keys(moto.port, "e2e/assets/movie/");
    assert!(keys.contains(&format!("e2e/{path}/index.json")), "{keys:?}");
    assert!(
        !data_dir(&tmp).join("assets/movie").exists(),
        "no local copy"
    );

    run(&["policy", "create", "open", "--open"]);
    run(&[
        "key",
        "create",
        "ck",
        "--type",
        "common",
        "--kid",
        common::KID1,
        "--value",
        common::KEY1,
        "--policy",
        "open",
    ]);
    run(&[
        "locator",
        "create",
        "clear",
        "--asset",
        "movie",
        "--streaming-policy",
        "Predefined_ClearStreamingOnly",
    ]);
    run(&[
        "locator",
        "create",
        "drm",
        "--asset",
        "movie",
        "--streaming-policy",
        "Predefined_MultiDrmStreaming",
        "--key",
        "ck",
    ]);
    let id = |name: &str| -> String {
        let v: Value = serde_json::from_str(&run(&["locator", "get", name, "--json"])).unwrap();
        v["streamingLocatorId"].as_str().unwrap().to_string()
    };
    let (clear, drm) = (id("clear"), id("drm"));

    let clear_video = clear_hashes(&input, Media::Video);
    let played = hls_hashes(&format!("{base}/s/{clear}/clear/master.m3u8"), Media::Video).unwrap();
    assert_hashes_eq(&played, &clear_video, "clear HLS from the bucket");

    let video = asset["storage"]["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "video_1")
        .expect("video_1")
        .clone();
    let mut bytes = common::http_get(&format!("{base}/s/{drm}/cenc/video_1/init.mp4"));
    for n in 1..=video["segmentCount"].as_u64().unwrap() {
        bytes.extend(common::http_get(&format!("{base}/s/{drm}/cenc/video_1/{n}.m4s")));
    }
    let mut ff = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-decryption_key",
            common::KEY1,
            "-f",
            "mp4",
            "-i",
            "pipe:0",
        ])
        .args([
            "-map",
            "0:v:0",
            "-fps_mode",
            "passthrough",
            "-f",
            "framemd5",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = ff.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&bytes);
    });
    let out = ff.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = common::framemd5_hashes(&String::from_utf8_lossy(&out.stdout));
    assert_hashes_eq(&got, &clear_video, "DASH cenc from the bucket");

    run(&["locator", "delete", "clear"]);
    run(&["locator", "delete", "drm"]);
    run(&["asset", "delete", "movie"]);
    assert!(
        bucket_keys(moto.port, "e2e/assets/movie/").is_empty(),
        "deleted with its objects"
    );

    let log = server.log();
    assert!(log.contains("asset ingested"), "{log}");
    assert!(
        !log.contains(SECRET) && !log.contains(ACCESS_KEY),
        "credentials in the log:\n{log}"
    );
}
