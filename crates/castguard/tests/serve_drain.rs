//! Graceful shutdown of a real `castguard serve` (issue 7 item 4): on
//! SIGTERM the node first reports not ready (`/readyz` 503 `draining`)
//! while it keeps serving for `--drain-delay`, then closes its listener,
//! lets the request in flight finish, and exits cleanly.
//!
//! The request in flight is a Widevine license request that the node
//! forwards to a slow upstream: `MockVendorLicenseServer`, a stand-in for
//! a DRM vendor's license server (those need vendor credentials we do not
//! have), which answers only after the shutdown has begun.

mod api_server;

use api_server::{Server, TOKEN, cli, data_dir, ok};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const KID: &str = "d7a1b2c3-0000-4000-8000-00000000d0a1";
const LICENSE: &[u8] = b"mock-vendor-license-bytes";

/// `MockVendorLicenseServer`: answers each POST with [`LICENSE`] after
/// `delay`, and tells the test (over `arrived`) when a request came in.
fn mock_vendor_license_server(delay: Duration) -> (String, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/widevine", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0u8; len];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let _ = tx.send(body);
                std::thread::sleep(delay);
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    LICENSE.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(LICENSE);
            });
        }
    });
    (url, rx)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

fn readyz(base: &str) -> Option<(u16, String)> {
    let mut res = agent().get(&format!("{base}/readyz")).call().ok()?;
    Some((
        res.status().as_u16(),
        res.body_mut().read_to_string().unwrap_or_default(),
    ))
}

#[test]
fn sigterm_drains_then_finishes_the_request_in_flight() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(&tmp);
    let (upstream, arrived) = mock_vendor_license_server(Duration::from_secs(3));
    let server = Server::start_with(
        &data,
        Some(TOKEN),
        &["--no-demo", "--drain-delay", "1", "--shutdown-timeout", "20"],
        &[],
    );
    let base = server.url.clone();

    // An open Widevine option proxying to the stand-in, and a key under it.
    let policy = tmp.path().join("drm.json");
    std::fs::write(
        &policy,
        serde_json::json!({"options": [{
            "name": "wv",
            "configuration": {
                "@odata.type": "#Microsoft.Media.ContentKeyPolicyWidevineConfiguration",
                "widevineTemplate": "{}",
                "licenseServerUrl": upstream,
            },
            "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyOpenRestriction"}
        }]})
        .to_string(),
    )
    .unwrap();
    let run = |args: &[&str]| cli(&base, TOKEN, args);
    ok(&run(&[
        "policy",
        "create",
        "drm",
        "--file",
        policy.to_str().unwrap(),
    ]));
    ok(&run(&[
        "key", "create", "drmkey", "--kid", KID, "--policy", "drm",
    ]));
    assert_eq!(readyz(&base), Some((200, "ready\n".into())));

    // The license request goes out and waits on the slow upstream.
    let license_url = format!("{base}/keys/v1/widevine?kid={KID}");
    let in_flight = std::thread::spawn(move || {
        let mut res = agent()
            .post(&license_url)
            .header("content-type", "application/octet-stream")
            .send(&b"widevine-challenge"[..])
            .expect("license request in flight");
        (res.status().as_u16(), res.body_mut().read_to_vec().unwrap())
    });
    let challenge = arrived
        .recv_timeout(Duration::from_secs(20))
        .expect("upstream got the challenge");
    assert_eq!(challenge, b"widevine-challenge");

    // SIGTERM: during the drain delay the node says it is not ready but
    // still serves everything else.
    let pid = server.pid();
    let stopped_at = Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let mut saw_draining = false;
    while stopped_at.elapsed() < Duration::from_millis(900) {
        if let Some((status, body)) = readyz(&base) {
            if status == 503 {
                assert_eq!(body, "draining\n");
                saw_draining = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        saw_draining,
        "/readyz never answered 503 draining after SIGTERM"
    );
    let mut res = agent()
        .get(&format!("{base}/healthz"))
        .call()
        .expect("still serving while draining");
    assert_eq!(res.status().as_u16(), 200);
    let _ = res.body_mut().read_to_vec();

    // After the delay the listener is closed: new connections fail ...
    std::thread::sleep(Duration::from_millis(1500).saturating_sub(stopped_at.elapsed()));
    assert!(
        agent().get(&format!("{base}/healthz")).call().is_err(),
        "the listener still accepts after the drain delay"
    );
    // ... but the request in flight gets its license.
    let (status, body) = in_flight.join().unwrap();
    assert_eq!(
        status,
        200,
        "in-flight license request: {}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(body, LICENSE);
    let exit = server.wait();
    assert!(exit.success(), "castguard serve exited with {exit}");
    assert!(
        stopped_at.elapsed() >= Duration::from_secs(3),
        "exited before the request in flight finished"
    );
}
