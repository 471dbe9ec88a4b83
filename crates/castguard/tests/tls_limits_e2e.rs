//! HTTPS and request limits of the real `castguard serve` (issue 8, items
//! 2 and 3), judged by clients we did not write:
//! - a CA and a server certificate made by `openssl` at test time; reqwest
//!   (rustls, trusting only that CA), `curl --cacert` and ffmpeg (GnuTLS,
//!   `-tls_verify 1 -ca_file`) fetch over HTTPS; ffmpeg plays an HLS AES-128
//!   locator whose key comes from the HTTPS key delivery;
//! - HSTS on HTTPS responses only; with `--keys-require-https` the plain
//!   port still serves the origin but answers key requests 403
//!   `https_required`;
//! - garbage and untrusting clients on the TLS port do not harm the server;
//!   a 70 KB header gets 431, a 100 KiB license request 413;
//! - rate limits: a burst then 429 with `Retry-After`, recovery after the
//!   wait, per token whatever the address (clients bound to 127.0.0.x),
//!   `X-Forwarded-For` believed only from `--trusted-proxy`;
//! - a bad certificate or key file: one line, non-zero exit, no key bytes.

mod api_server;
mod common;

use api_server::{TOKEN, bin, cli, ok};
use common::certs::{issue_leaf, make_certs};
use common::{Media, assert_hashes_eq, clear_hashes, fixture};
use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::{IpAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ENV_KID: &str = "5e1f0000111122223333444455556666";
const ENV_KEY: &str = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf";

/// `castguard serve --no-demo` with extra arguments; the URLs it prints.
struct Serve {
    child: Child,
    urls: Vec<String>,
    log: Arc<Mutex<String>>,
}

impl Serve {
    fn start(data: &Path, args: &[&str], listeners: usize) -> Serve {
        let mut child = Command::new(bin())
            .args(["serve", "--no-demo", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(args)
            .env("CASTGUARD_ADMIN_TOKEN", TOKEN)
            .env_remove("CASTGUARD_KEK")
            .env_remove("CASTGUARD_KEK_FILE")
            .env("RUST_LOG", "debug,sqlx=warn,hyper=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn castguard serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let log2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(rest.trim().to_string());
                }
                let mut l = log2.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let mut urls = Vec::new();
        while urls.len() < listeners {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(u) => urls.push(u),
                Err(_) => {
                    let _ = child.kill();
                    panic!("castguard serve did not start: {}", log.lock().unwrap());
                }
            }
        }
        Serve { child, urls, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM; the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking front to reqwest (rustls), trusting only `ca` when given,
/// bound to `local` when given.
struct Http {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn code(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

impl Http {
    fn new(ca: Option<&Path>, local: Option<&str>) -> Http {
        let mut b = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .http1_only();
        if let Some(ca) = ca {
            let pem = std::fs::read(ca).unwrap();
            b = b.tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()]);
        }
        if let Some(ip) = local {
            b = b.local_address(ip.parse::<IpAddr>().unwrap());
        }
        Http {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: b.build().unwrap(),
        }
    }

    fn send(&self, req: reqwest::RequestBuilder) -> Result<Reply, reqwest::Error> {
        self.rt.block_on(async {
            let res = req.send().await?;
            let status = res.status().as_u16();
            let headers = res.headers().clone();
            let body = res.bytes().await?.to_vec();
            Ok(Reply {
                status,
                headers,
                body,
            })
        })
    }

    fn get(&self, url: &str) -> Reply {
        self.send(self.client.get(url))
            .unwrap_or_else(|e| panic!("GET {url}: {e:?}"))
    }

    fn get_with(&self, url: &str, headers: &[(&str, &str)]) -> Reply {
        let mut r = self.client.get(url);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        self.send(r).unwrap_or_else(|e| panic!("GET {url}: {e:?}"))
    }
}

fn uuid(hex: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Raw HTTP/1.1 over a plain socket: the status line of the answer.
fn raw_status(addr: &str, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(request);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn https_serves_keys_plays_hls_and_plain_port_refuses_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = make_certs(tmp.path());
    let data = tmp.path().join("data");
    let server = Serve::start(
        &data,
        &[
            "--tls-listen",
            "127.0.0.1:0",
            "--tls-cert",
            certs.cert.to_str().unwrap(),
            "--tls-key",
            certs.key.to_str().unwrap(),
            "--keys-require-https",
        ],
        2,
    );
    let (plain, tls) = (server.urls[0].clone(), server.urls[1].clone());
    assert!(plain.starts_with("http://"), "{plain}");
    assert!(tls.starts_with("https://"), "{tls}");

    // Management over the plain port (the CLI speaks plain HTTP).
    let run = |args: &[&str]| ok(&cli(&plain, TOKEN, args));
    let input = fixture("h264_aac_bframes.mp4");
    run(&[
        "asset",
        "ingest",
        input.to_str().unwrap(),
        "--name",
        "movie",
    ]);
    run(&["policy", "create", "open", "--open"]);
    run(&[
        "key", "create", "env", "--type", "envelope", "--kid", ENV_KID, "--value", ENV_KEY,
        "--policy", "open",
    ]);
    run(&[
        "locator",
        "create",
        "aes",
        "--asset",
        "movie",
        "--streaming-policy",
        "Predefined_ClearKey",
        "--key",
        "env",
    ]);
    let v: serde_json::Value =
        serde_json::from_str(&run(&["locator", "get", "aes", "--json"])).unwrap();
    let loc = v["streamingLocatorId"].as_str().unwrap().to_string();

    let https = Http::new(Some(&certs.ca), None);
    let http = Http::new(None, None);
    let health = https.get(&format!("{tls}/healthz"));
    assert_eq!(health.status, 200);
    assert_eq!(
        health.header("strict-transport-security"),
        Some("max-age=31536000")
    );

    // The origin on both ports; HSTS only over HTTPS; key URIs on HTTPS.
    let master = format!("/s/{loc}/aes128/master.m3u8");
    let m = https.get(&format!("{tls}{master}"));
    assert_eq!(m.status, 200);
    assert!(m.header("strict-transport-security").is_some());
    let p = http.get(&format!("{plain}{master}"));
    assert_eq!(p.status, 200, "the plain port serves the origin");
    assert_eq!(p.header("strict-transport-security"), None);
    let master_text = String::from_utf8(p.body).unwrap();
    let playlist = master_text
        .lines()
        .find(|l| !l.starts_with('#') && l.contains(".m3u8"))
        .unwrap_or_else(|| panic!("no media playlist in {master_text}"));
    let media = http.get(&format!("{plain}/s/{loc}/aes128/{playlist}"));
    let media = String::from_utf8(media.body).unwrap();
    let key_uri = format!("{tls}/keys/v1/aes/{}", uuid(ENV_KID));
    assert!(media.contains(&key_uri), "key URI not on HTTPS: {media}");

    // Keys: refused over plain HTTP, delivered over HTTPS.
    let key_path = format!("/keys/v1/aes/{}", uuid(ENV_KID));
    let refused = http.get(&format!("{plain}{key_path}"));
    assert_eq!(refused.status, 403);
    assert_eq!(refused.code(), "https_required");
    assert_eq!(refused.header("cache-control"), Some("no-store"));
    assert!(!refused.body.windows(16).any(|w| hex(w) == ENV_KEY));
    let forged = http.get_with(
        &format!("{plain}{key_path}"),
        &[("x-forwarded-proto", "https")],
    );
    assert_eq!(forged.status, 403, "X-Forwarded-Proto believed by default");
    let key = https.get(&format!("{tls}{key_path}"));
    assert_eq!(key.status, 200);
    assert_eq!(hex(&key.body), ENV_KEY);

    // curl with the CA; without it the certificate is refused.
    let out = Command::new("curl")
        .args(["-sS", "--cacert", certs.ca.to_str().unwrap()])
        .arg(format!("{tls}{key_path}"))
        .output()
        .unwrap();
    common::assert_ok("curl --cacert", &out);
    assert_eq!(hex(&out.stdout), ENV_KEY);
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null"])
        .arg(format!("{tls}{key_path}"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "curl trusted an unknown CA");

    // ffmpeg (GnuTLS) plays the HLS AES-128 stream over HTTPS, the key
    // from the HTTPS key delivery (plain key requests are refused).
    let out = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-hide_banner",
            "-v",
            "error",
            "-rw_timeout",
            "20000000",
        ])
        .args(["-tls_verify", "1", "-ca_file", certs.ca.to_str().unwrap()])
        .arg("-i")
        .arg(format!("{tls}{master}"))
        .args([
            "-map",
            "0:v:0",
            "-fps_mode",
            "passthrough",
            "-f",
            "framemd5",
            "-",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    common::assert_ok("ffmpeg over https", &out);
    let got = common::framemd5_hashes(&String::from_utf8_lossy(&out.stdout));
    assert_hashes_eq(
        &got,
        &clear_hashes(&input, Media::Video),
        "HLS AES-128 over HTTPS",
    );

    // Hostile clients: garbage on the TLS port, a client that refuses our
    // certificate, a 70 KB header, a 100 KiB license request.
    let tls_addr = tls.trim_start_matches("https://").to_string();
    let plain_addr = plain.trim_start_matches("http://").to_string();
    let mut junk = TcpStream::connect(&tls_addr).unwrap();
    let _ = junk.write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 0x42, 0x42, 0x42]);
    let _ = junk.write_all(&[0xab; 4096]);
    drop(junk);
    let untrusting = Http::new(None, None);
    assert!(
        untrusting
            .send(untrusting.client.get(format!("{tls}/healthz")))
            .is_err(),
        "a client without our CA must fail the handshake"
    );
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(70_000)
    );
    assert!(
        raw_status(&plain_addr, big.as_bytes()).contains(" 431 "),
        "huge header"
    );
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    assert!(
        raw_status(&plain_addr, many.as_bytes()).contains(" 431 "),
        "150 headers"
    );
    let body = vec![b'{'; 100 * 1024];
    let r = https
        .send(
            https
                .client
                .post(format!("{tls}/keys/v1/clearkey"))
                .header("content-type", "application/json")
                .body(body),
        )
        .unwrap();
    assert_eq!(r.status, 413);
    assert_eq!(r.code(), "body_too_large");
    let r = https
        .send(
            https
                .client
                .post(format!("{tls}/keys/v1/widevine?kid={}", uuid(ENV_KID)))
                .body(vec![0u8; 100 * 1024]),
        )
        .unwrap();
    assert_eq!(r.status, 413);
    assert_eq!(https.get(&format!("{tls}/healthz")).status, 200, "alive");

    let log = server.log();
    assert!(log.contains("TLS handshake failed"), "{log}");
    let key_pem = std::fs::read_to_string(&certs.key).unwrap();
    let key_body = key_pem.lines().nth(1).unwrap();
    assert!(!log.contains(key_body) && !log.contains(ENV_KEY));
    assert!(server.stop().success(), "graceful stop");
}

#[test]
fn rate_limits_per_address_and_per_token() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Serve::start(
        &tmp.path().join("data"),
        &[
            "--rate-limit-per-ip",
            "12/m,burst=6",
            "--rate-limit-per-token",
            "12/m,burst=3",
            "--trusted-proxy",
            "127.0.0.5",
        ],
        1,
    );
    let base = server.urls[0].clone();
    let key = format!("{base}/keys/v1/aes/{}", uuid(ENV_KID));
    let from = |ip: &str| Http::new(None, Some(ip));
    let (a1, a2, a3, a4, proxy) = (
        from("127.0.0.1"),
        from("127.0.0.2"),
        from("127.0.0.3"),
        from("127.0.0.4"),
        from("127.0.0.5"),
    );
    let bearer = |t: &str| format!("Bearer {t}");

    // Per token: three, then 429 with Retry-After, from any address; another
    // token is unaffected. (Unknown key: 404 when let through.)
    for _ in 0..3 {
        assert_eq!(
            a1.get_with(&key, &[("authorization", &bearer("token-a"))])
                .status,
            404
        );
    }
    let limited = a1.get_with(&key, &[("authorization", &bearer("token-a"))]);
    assert_eq!(limited.status, 429);
    assert_eq!(limited.code(), "rate_limited");
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=5).contains(&retry), "Retry-After {retry}");
    let elsewhere = a2.get_with(&key, &[("authorization", &bearer("token-a"))]);
    assert_eq!(
        elsewhere.status, 429,
        "the token's limit follows it to another address"
    );
    let q = a2.get(&format!("{key}?token=token-a"));
    assert_eq!(q.status, 429, "the same token in ?token=");
    assert_eq!(
        a2.get_with(&key, &[("authorization", &bearer("token-b"))])
            .status,
        404
    );

    // Per address: six, then 429; forged X-Forwarded-For does not help;
    // another address is unaffected; /sts/token shares the limit.
    for _ in 0..6 {
        assert_eq!(a3.get(&key).status, 404);
    }
    let limited = a3.get(&key);
    assert_eq!(limited.status, 429);
    let ip_retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert_eq!(
        a3.get_with(&key, &[("x-forwarded-for", "198.51.100.1")])
            .status,
        429,
        "X-Forwarded-For from an untrusted peer"
    );
    let sts = a3
        .send(
            a3.client
                .post(format!("{base}/sts/token"))
                .header("authorization", bearer(TOKEN))
                .body("{}"),
        )
        .unwrap();
    assert_eq!(sts.status, 429);
    assert_eq!(a4.get(&key).status, 404);
    // The origin and the API are not limited.
    assert_eq!(a3.get(&format!("{base}/healthz")).status, 200);

    // Behind the trusted proxy, each forwarded client has its own bucket.
    let via = |client: &str| proxy.get_with(&key, &[("x-forwarded-for", client)]).status;
    for _ in 0..6 {
        assert_eq!(via("198.51.100.1"), 404);
    }
    assert_eq!(via("198.51.100.1"), 429);
    assert_eq!(via("198.51.100.2"), 404);

    // Recovery after the advertised wait.
    std::thread::sleep(Duration::from_secs(retry.max(ip_retry)));
    assert_eq!(
        a1.get_with(&key, &[("authorization", &bearer("token-a"))])
            .status,
        404
    );
    assert_eq!(a3.get(&key).status, 404);

    let log = server.log();
    assert!(!log.contains("token-a"), "a token reached the log");
    assert!(
        log.contains("198.51.100.2:0"),
        "the audit log names the forwarded client: {log}"
    );
}

#[test]
fn bad_certificate_or_key_is_one_line_and_no_key_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = make_certs(tmp.path());
    let secret = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MjQyNDI0MjQy";
    let garbage = tmp.path().join("garbage.key");
    std::fs::write(
        &garbage,
        format!("-----BEGIN PRIVATE KEY-----\n{secret}!\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    let other_key = std::fs::read_to_string(&certs.other_key).unwrap();
    let cases: [(&Path, &Path, &str); 4] = [
        (&certs.cert, &certs.other_key, "does not belong"),
        (&certs.cert, &garbage, "invalid or unsupported private key"),
        (&certs.key, &certs.key, "holds no PEM certificate"),
        (
            &certs.cert,
            &tmp.path().join("missing.key"),
            "cannot read the TLS key file",
        ),
    ];
    for (cert, key, want) in cases {
        let data = tmp.path().join("data-bad");
        let out = Command::new(bin())
            .args(["serve", "--no-demo", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .arg("--tls-cert")
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(want), "{want}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            !stderr.contains(secret) && !stderr.contains("BEGIN"),
            "{stderr}"
        );
        for line in other_key.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!stderr.contains(line), "{stderr}");
        }
        assert!(!data.exists(), "nothing created before the TLS check");
    }
    // A certificate without its key is a usage error; so is requiring
    // HTTPS with no way to know it.
    let out = Command::new(bin())
        .args(["serve", "--no-demo", "--tls-cert"])
        .arg(&certs.cert)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(bin())
        .args([
            "serve",
            "--no-demo",
            "--listen",
            "127.0.0.1:0",
            "--keys-require-https",
            "--data",
        ])
        .arg(tmp.path().join("data-nohttps"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--keys-require-https needs HTTPS"));
}

/// A blocking TCP connection to `addr` from the local address `ip`
/// (127.0.0.x: distinct clients on loopback).
fn connect_from(ip: &str, addr: &str) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s = rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(format!("{ip}:0").parse().unwrap()).unwrap();
        sock.connect(addr.parse().unwrap()).await.unwrap()
    });
    let s = s.into_std().unwrap();
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Everything the server sends until it closes (or 10 s pass), and how
/// long that took.
fn read_until_closed(s: &mut TcpStream) -> (String, Duration) {
    let t = std::time::Instant::now();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    (String::from_utf8_lossy(&buf).into_owned(), t.elapsed())
}

/// Slow bodies, connection caps and `Expect: 100-continue` against the real
/// server, with short limits given by flags (1 s body timeout, 100 B/s
/// minimum rate, 4 connections per address, 6 in all):
/// - a Clear Key request declaring 1000 bytes and sending none, and one
///   trickling a byte a second, are answered 408 and closed within a few
///   seconds (before: held open until the client gave up);
/// - a 10 MB Clear Key request with `Expect: 100-continue` gets 413 and
///   never `100 Continue`;
/// - the fifth connection from one address and the seventh in all are
///   refused at once with 503 and `Retry-After`, also when the client sent
///   its request first; a closed connection frees its place.
#[test]
fn slow_bodies_connection_caps_and_expect_continue() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Serve::start(
        &tmp.path().join("data"),
        &[
            "--request-body-timeout",
            "1",
            "--request-body-min-rate",
            "100",
            "--max-connections-per-ip",
            "4",
            "--max-connections",
            "6",
        ],
        1,
    );
    let addr = server.urls[0].trim_start_matches("http://").to_string();
    let head = |len: usize, extra: &str| {
        format!(
            "POST /keys/v1/clearkey HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n{extra}\r\n"
        )
    };

    // Declared, never sent.
    let mut s = connect_from("127.0.0.1", &addr);
    s.write_all(head(1000, "").as_bytes()).unwrap();
    let (reply, took) = read_until_closed(&mut s);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("request_timeout"), "{reply}");
    assert!(took < Duration::from_secs(5), "cut after {took:?}");

    // A byte a second: ahead of the idle timeout, behind the minimum rate.
    let mut s = connect_from("127.0.0.1", &addr);
    s.write_all(head(1000, "").as_bytes()).unwrap();
    let mut writer = s.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        for _ in 0..20 {
            if writer.write_all(b" ").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    let (reply, took) = read_until_closed(&mut s);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(took < Duration::from_secs(6), "cut after {took:?}");
    trickle.join().unwrap();

    // Expect: 100-continue with a body over the limit: 413 at once.
    let mut s = connect_from("127.0.0.1", &addr);
    s.write_all(head(10_000_000, "Expect: 100-continue\r\n").as_bytes())
        .unwrap();
    let mut first = [0u8; 12];
    s.read_exact(&mut first).unwrap();
    assert_eq!(
        &first,
        b"HTTP/1.1 413",
        "{}",
        String::from_utf8_lossy(&first)
    );
    drop(s);

    // Connection caps: idle connections count until closed.
    std::thread::sleep(Duration::from_millis(300));
    let mut held: Vec<TcpStream> = (0..4).map(|_| connect_from("127.0.0.1", &addr)).collect();
    let mut over = connect_from("127.0.0.1", &addr);
    let (reply, took) = read_until_closed(&mut over);
    assert!(reply.starts_with("HTTP/1.1 503"), "per address: {reply}");
    assert!(took < Duration::from_secs(2));
    held.push(connect_from("127.0.0.2", &addr));
    held.push(connect_from("127.0.0.2", &addr));
    // This one sends its request before reading: the 503 must survive the
    // close (no reset under an unread request).
    let mut over = connect_from("127.0.0.3", &addr);
    over.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .unwrap();
    let (reply, _) = read_until_closed(&mut over);
    assert!(reply.starts_with("HTTP/1.1 503"), "in all: {reply}");
    assert!(reply.contains("\r\nRetry-After: 1\r\n"), "{reply}");
    assert!(
        reply.ends_with(r#"{"error":{"code":"too_many_connections"}}"#),
        "{reply}"
    );
    drop(held.pop());
    std::thread::sleep(Duration::from_millis(300));
    let mut s = connect_from("127.0.0.3", &addr);
    s.write_all(
        format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let (reply, _) = read_until_closed(&mut s);
    assert!(reply.starts_with("HTTP/1.1 200"), "after a close: {reply}");
    drop(held);
    server.stop();
}

/// curl (libcurl with nghttp2) against `url`: `HTTP_VERSION STATUS`, e.g.
/// `2 200`, `1.1 200` or `0 000` when no answer came.
fn curl(args: &[&str], url: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version} %{http_code}",
            "--max-time",
            "20",
        ])
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Node's HTTP/2 client (h2c prior knowledge to argv[1]): a Clear Key
/// request whose body never comes; prints the status and when it came.
const STALLED_H2_BODY: &str = r#"
const c = require('node:http2').connect(process.argv[1]);
const t = Date.now();
const req = c.request({':method': 'POST', ':path': '/keys/v1/clearkey', 'content-type': 'application/json'}, {endStream: false});
req.on('response', (h) => { console.log(JSON.stringify({status: h[':status'], ms: Date.now() - t})); process.exit(0); });
req.on('error', (e) => { console.log(JSON.stringify({error: e.message})); process.exit(1); });
setTimeout(() => { console.log(JSON.stringify({timeout: true})); process.exit(1); }, 15000);
"#;

/// HTTP/2 judged by curl (and Node for a stalled body): `--http2` over TLS negotiates `h2` by ALPN,
/// `--http2-prior-knowledge` speaks h2c on the plain port, and HTTP/1.1
/// still works on both. The limits hold over HTTP/2: 150 header fields get
/// 431, a 70 KB header is refused (the stream is reset `REFUSED_STREAM`,
/// which curl retries then gives up on), a stalled body 408 within seconds,
/// a 100 KiB license request 413; HSTS on HTTPS responses.
#[test]
fn http2_over_tls_and_prior_knowledge_keeps_the_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = make_certs(tmp.path());
    let server = Serve::start(
        &tmp.path().join("data"),
        &[
            "--tls-listen",
            "127.0.0.1:0",
            "--tls-cert",
            certs.cert.to_str().unwrap(),
            "--tls-key",
            certs.key.to_str().unwrap(),
            "--request-body-timeout",
            "1",
        ],
        2,
    );
    let (plain, tls) = (server.urls[0].clone(), server.urls[1].clone());
    let ca = certs.ca.to_str().unwrap();
    assert_eq!(
        curl(&["--http2", "--cacert", ca], &format!("{tls}/healthz")),
        "2 200"
    );
    assert_eq!(
        curl(&["--http1.1", "--cacert", ca], &format!("{tls}/healthz")),
        "1.1 200"
    );
    assert_eq!(
        curl(&["--http2-prior-knowledge"], &format!("{plain}/healthz")),
        "2 200"
    );
    assert_eq!(curl(&[], &format!("{plain}/healthz")), "1.1 200");
    let out = Command::new("curl")
        .args([
            "-sS",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "--http2",
            "--cacert",
            ca,
        ])
        .arg(format!("{tls}/healthz"))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(head.starts_with("http/2 200"), "{head}");
    assert!(
        head.contains("strict-transport-security: max-age=31536000"),
        "{head}"
    );

    let h2 = |args: &[&str], path: &str| {
        let mut a = vec!["--http2-prior-knowledge"];
        a.extend_from_slice(args);
        curl(&a, &format!("{plain}{path}"))
    };
    let many: Vec<String> = (0..150)
        .flat_map(|i| ["-H".to_string(), format!("X-H{i}: v")])
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(h2(&many, "/healthz"), "2 431", "150 header fields");
    let big = format!("X-Big: {}", "a".repeat(70_000));
    let refused = h2(&["-H", &big], "/healthz");
    assert!(
        !refused.ends_with("200"),
        "a 70 KB header was served: {refused}"
    );

    let clearkey = ["-X", "POST", "-H", "Content-Type: application/json"];
    let body = tmp.path().join("big.json");
    std::fs::write(&body, vec![b'{'; 100 * 1024]).unwrap();
    let at_body = format!("@{}", body.display());
    assert_eq!(
        h2(
            &[&clearkey[..], &["--data-binary", &at_body]].concat(),
            "/keys/v1/clearkey"
        ),
        "2 413"
    );

    // A body that never comes, from Node's own HTTP/2 client (curl cannot
    // judge this: it reads the early answer only once its upload ends).
    let out = Command::new("node")
        .args(["-e", STALLED_H2_BODY])
        .arg(&plain)
        .stdin(Stdio::null())
        .output()
        .expect("run node");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("node: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(v["status"], 408, "{v}");
    assert!(v["ms"].as_u64().unwrap() < 5000, "cut after {v}");

    assert_eq!(
        curl(&["--http2", "--cacert", ca], &format!("{tls}/healthz")),
        "2 200",
        "alive"
    );
    assert!(server.stop().success(), "graceful stop");
}

/// The subject of the certificate a new TLS connection to `addr` is shown
/// (`openssl s_client`), e.g. `CN = localhost`.
fn served_subject(addr: &str) -> String {
    let hello = Command::new("openssl")
        .args(["s_client", "-connect", addr])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("run openssl s_client");
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-subject"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run openssl x509");
    x509.stdin.take().unwrap().write_all(&hello.stdout).unwrap();
    let out = x509.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .trim_start_matches("subject=")
        .to_string()
}

/// Polls `served_subject` until it is `want` (up to `within`).
fn wait_for_subject(addr: &str, want: &str, within: Duration) {
    let started = std::time::Instant::now();
    loop {
        let got = served_subject(addr);
        if got == want {
            return;
        }
        assert!(
            started.elapsed() < within,
            "still served {got:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One TLS connection held open by `openssl s_client`, carrying HTTP/1.1
/// keep-alive requests.
struct KeepAlive {
    child: Child,
    from_server: mpsc::Receiver<Vec<u8>>,
}

impl KeepAlive {
    fn open(addr: &str, ca: &Path) -> KeepAlive {
        let mut child = Command::new("openssl")
            .args([
                "s_client",
                "-quiet",
                "-verify_return_error",
                "-connect",
                addr,
                "-CAfile",
            ])
            .arg(ca)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run openssl s_client");
        let mut out = child.stdout.take().unwrap();
        let (tx, from_server) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
        });
        KeepAlive { child, from_server }
    }

    /// The head of the response to `GET path`, on this connection.
    fn get(&mut self, path: &str) -> String {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
            .unwrap();
        stdin.flush().unwrap();
        let mut got = Vec::new();
        loop {
            let text = String::from_utf8_lossy(&got).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    return head.to_string();
                }
            }
            match self.from_server.recv_timeout(Duration::from_secs(10)) {
                Ok(chunk) => got.extend(chunk),
                Err(_) => panic!("no complete answer on the kept-alive connection: {text:?}"),
            }
        }
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Certificate renewal without a restart, with polling off
/// (`--tls-reload-interval 0`): files replaced by a certificate with
/// another subject and serial are not picked up until SIGHUP; then new
/// connections see the new certificate while a connection opened before
/// keeps working. A broken certificate file on the next SIGHUP keeps the
/// renewed one in use and a log line says why, without key material. The
/// connection cap answers over TLS too: with `--max-connections 2` taken,
/// curl gets 503 with `Retry-After`.
#[test]
fn certificate_reload_on_sighup_keeps_open_connections_and_bad_files_out() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = make_certs(tmp.path());
    let (renewed_cert, renewed_key) = issue_leaf(tmp.path(), "renewed", "castguard renewed");
    let (cert, key) = (tmp.path().join("live.pem"), tmp.path().join("live.key"));
    std::fs::copy(&certs.cert, &cert).unwrap();
    std::fs::copy(&certs.key, &key).unwrap();
    let server = Serve::start(
        &tmp.path().join("data"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--tls-reload-interval",
            "0",
            "--max-connections",
            "2",
        ],
        1,
    );
    let addr = server.urls[0].trim_start_matches("https://").to_string();
    let hup = || {
        let ok = Command::new("kill")
            .args(["-HUP", &server.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    };
    assert_eq!(served_subject(&addr), "CN = localhost");
    let mut open = KeepAlive::open(&addr, &certs.ca);
    assert!(open.get("/healthz").starts_with("HTTP/1.1 200"));

    std::fs::copy(&renewed_key, &key).unwrap();
    std::fs::copy(&renewed_cert, &cert).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        served_subject(&addr),
        "CN = localhost",
        "reloaded without SIGHUP"
    );
    hup();
    wait_for_subject(&addr, "CN = castguard renewed", Duration::from_secs(5));
    assert!(
        open.get("/healthz").starts_with("HTTP/1.1 200"),
        "the open connection"
    );
    assert!(
        server.log().contains("TLS certificate reloaded"),
        "{}",
        server.log()
    );

    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nbroken\n").unwrap();
    hup();
    let started = std::time::Instant::now();
    while !server.log().contains("reload failed") {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no log line: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = server.log();
    let line = log.lines().find(|l| l.contains("reload failed")).unwrap();
    assert!(line.contains("live.pem is not valid PEM"), "{line}");
    assert_eq!(served_subject(&addr), "CN = castguard renewed");
    assert!(open.get("/healthz").starts_with("HTTP/1.1 200"));
    for pem in [&certs.key, &renewed_key] {
        let pem = std::fs::read_to_string(pem).unwrap();
        for l in pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!log.contains(l), "key material in the log");
        }
    }

    // The cap over TLS: the kept-alive connection and an idle one take
    // both places (after the s_client probes above have closed).
    std::thread::sleep(Duration::from_millis(500));
    let _idle = TcpStream::connect(&addr).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let out = Command::new("curl")
        .args([
            "-sS",
            "-i",
            "--max-time",
            "10",
            "--cacert",
            certs.ca.to_str().unwrap(),
        ])
        .arg(format!("https://{addr}/healthz"))
        .output()
        .unwrap();
    let reply = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(
        reply.starts_with("http/1.1 503"),
        "{reply} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(reply.contains("retry-after: 1"), "{reply}");
    drop(open);
    assert!(server.stop().success(), "graceful stop");
}

/// Certificate renewal picked up by polling (`--tls-reload-interval 1`):
/// the files replaced, new connections see the new certificate within
/// seconds, without a signal.
#[test]
fn certificate_reloaded_when_the_files_change() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = make_certs(tmp.path());
    let (renewed_cert, renewed_key) = issue_leaf(tmp.path(), "renewed", "castguard renewed");
    let server = Serve::start(
        &tmp.path().join("data"),
        &[
            "--tls-cert",
            certs.cert.to_str().unwrap(),
            "--tls-key",
            certs.key.to_str().unwrap(),
            "--tls-reload-interval",
            "1",
        ],
        1,
    );
    let addr = server.urls[0].trim_start_matches("https://").to_string();
    assert_eq!(served_subject(&addr), "CN = localhost");
    // As a renewal tool would: new files, then renamed over the old ones.
    std::fs::rename(&renewed_key, &certs.key).unwrap();
    std::fs::rename(&renewed_cert, &certs.cert).unwrap();
    wait_for_subject(&addr, "CN = castguard renewed", Duration::from_secs(6));
    assert!(server.stop().success());
}
