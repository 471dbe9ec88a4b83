//! The browser test matrix (issue 6, item 3): the real `castguard serve` on
//! a free loopback port with a fresh data dir (so the demo is created), its
//! `/player` page in headless Debian Chromium driven by npm playwright-core
//! (`tests/browser/matrix.mjs`, flags from shared/TESTING.md "Browsers").
//!
//! For DASH `cenc`, DASH `cbcs` and HLS AES-128: the entitled demo user's
//! video plays past 3 s; the outsider (no `EntitledUsers` in `groups`), an
//! expired token and no token get the license or key refused by key
//! delivery (401 with `claim_missing` / `token_expired` / `token_missing`),
//! the page shows the refusal and the video does not advance. Every case
//! leaves a screenshot in `target/browser-screenshots/`.
//! The demo's subtitles (issue 14): on DASH `cenc` and HLS AES-128 the
//! page's Subtitles list offers English and French, and with French chosen
//! it shows the French cue inside its time and none in the gap after it.
//!
//! Once more over HTTPS with HTTP/2: the entitled user plays every stream
//! from `castguard serve --tls-cert` (a test certificate; Chromium runs with
//! `--ignore-certificate-errors`), and the page, the segments and the key
//! and license requests all went over `h2` (Resource Timing's
//! `nextHopProtocol`).
//!
//! Needs chromium and node_modules (scripts/install-test-tools.sh); fails,
//! never skips, when they are missing.

mod api_server;
mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_serve(data: &std::path::Path, args: &[&str]) -> Server {
    // Output also to $CASTGUARD_TEST_LOG_DIR for scripts/check-secrets.sh.
    let mut file = api_server::test_log_dir().map(|d| api_server::server_log_file(&d, "serve"));
    let stdout = match &file {
        Some(f) => Stdio::from(f.try_clone().expect("clone log file")),
        None => Stdio::null(),
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_castguard"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(args)
        .env(
            "CASTGUARD_ADMIN_TOKEN",
            "browser-matrix-admin-token-0123456789",
        )
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start castguard serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(f) = file.as_mut() {
                let _ = writeln!(f, "{line}");
            }
            eprintln!("[serve] {}", line.chars().take(160).collect::<String>());
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut base = None;
    let mut player = false;
    while Instant::now() < deadline && !(base.is_some() && player) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                if let Some(addr) = line.strip_prefix("castguard: listening on ") {
                    base = Some(addr.trim().to_owned());
                }
                if line.starts_with("castguard: player: ") {
                    player = true;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("castguard serve exited early: {status}");
                }
            }
            Err(_) => break,
        }
    }
    let base = base.expect("castguard serve did not print its address");
    assert!(
        player,
        "castguard serve did not print the player URL (demo missing?)"
    );
    Server { child, base }
}

/// `node tests/browser/matrix.mjs --base BASE ... EXTRA`, screenshots under
/// `shots` (from the repository root); Node trusts `ca` when given. Its
/// output and the JSON lines it printed.
fn run_matrix(
    base: &str,
    chromium: &str,
    shots: &str,
    extra: &[&str],
    ca: Option<&std::path::Path>,
) -> (std::process::Output, Vec<serde_json::Value>) {
    let root = common::repo_root();
    let mut cmd = Command::new("node");
    cmd.arg(root.join("crates/castguard/tests/browser/matrix.mjs"))
        .args(["--base", base, "--chromium", chromium, "--shots"])
        .arg(root.join(shots))
        .args(extra)
        .current_dir(&root)
        .stdin(Stdio::null());
    if let Some(ca) = ca {
        cmd.env("NODE_EXTRA_CA_CERTS", ca);
    }
    let out = cmd.output().expect("run node matrix.mjs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let results = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (out, results)
}

#[test]
fn entitled_plays_and_the_others_are_refused_in_chromium() {
    let root = common::repo_root();
    let chromium =
        std::env::var("CASTGUARD_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} missing: run scripts/install-test-tools.sh"
    );
    assert!(
        root.join("node_modules/playwright-core").is_dir(),
        "node_modules/playwright-core missing: run scripts/install-test-tools.sh"
    );

    let data = tempfile::tempdir().expect("temp data dir");
    let server = start_serve(data.path(), &[]);
    let (out, results) = run_matrix(
        &server.base,
        &chromium,
        "target/browser-screenshots",
        &[],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let cases: Vec<&serde_json::Value> = results
        .iter()
        .filter(|r| r.get("summary").is_none() && r.get("subtitles").is_none())
        .collect();
    assert_eq!(cases.len(), 12, "3 streams x 4 users expected");
    // The demo's subtitles on the page: DASH cenc and HLS AES-128.
    let subtitles: Vec<&serde_json::Value> = results
        .iter()
        .filter(|r| r.get("subtitles").is_some())
        .collect();
    assert_eq!(subtitles.len(), 2, "{stdout}");
    for s in &subtitles {
        assert_eq!(
            s["ok"], true,
            "subtitles on the player page, {}: {s}",
            s["protection"]
        );
    }
    for c in &cases {
        let name = format!("{} / {}", c["protection"], c["user"]);
        assert_eq!(c["ok"], true, "{name}: {c}");
        let t = c["currentTime"].as_f64().unwrap_or(-1.0);
        if c["user"] == "entitled" {
            assert!(t > 3.0, "{name}: entitled did not play past 3 s ({t})");
        } else {
            assert!(t < 1.0, "{name}: refused user's video advanced ({t})");
            assert_eq!(c["state"], "refused", "{name}");
            let requests = c["requests"].as_array().cloned().unwrap_or_default();
            assert!(
                !requests.is_empty() && requests.iter().all(|r| r["status"] == 401),
                "{name}: key delivery must answer 401: {requests:?}"
            );
        }
        let shot = c["screenshot"].as_str().unwrap_or_default();
        assert!(
            std::fs::metadata(shot)
                .map(|m| m.len() > 10_000)
                .unwrap_or(false),
            "{name}: screenshot {shot} missing"
        );
    }
    assert!(out.status.success(), "matrix.mjs failed");
    drop(server);
}

#[test]
fn entitled_plays_over_https_with_http2_in_chromium() {
    let chromium = common::chromium(&["playwright-core", "shaka-player"]);
    let tmp = tempfile::tempdir().expect("temp dir");
    let certs = common::certs::make_certs(tmp.path());
    let server = start_serve(
        &tmp.path().join("data"),
        &[
            "--tls-cert",
            certs.cert.to_str().unwrap(),
            "--tls-key",
            certs.key.to_str().unwrap(),
        ],
    );
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let (out, results) = run_matrix(
        &server.base,
        &chromium,
        "target/browser-screenshots/h2",
        &["--users", "entitled", "--no-subtitles", "--insecure"],
        Some(&certs.ca),
    );
    let cases: Vec<&serde_json::Value> = results
        .iter()
        .filter(|r| r.get("summary").is_none())
        .collect();
    assert_eq!(cases.len(), 3, "3 streams, the entitled user");
    for c in &cases {
        let name = c["protection"].to_string();
        assert_eq!(c["ok"], true, "{name}: {c}");
        assert!(
            c["currentTime"].as_f64().unwrap_or(0.0) > 3.0,
            "{name}: {c}"
        );
        assert_eq!(
            c["protocols"],
            serde_json::json!(["h2"]),
            "{name}: not all over HTTP/2: {c}"
        );
        assert!(
            c["requests"]
                .as_array()
                .is_some_and(|r| !r.is_empty() && r.iter().all(|r| r["status"] == 200)),
            "{name}: key or license requests: {c}"
        );
    }
    assert!(out.status.success(), "matrix.mjs failed");
}
