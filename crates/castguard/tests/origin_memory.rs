//! Constant memory (issue 5, item 5): the real `castguard serve`'s resident
//! set stays under 200 MiB while 100 concurrent clients fetch different
//! `cenc` segments of a 2-hour asset.
//!
//! The asset is cheap to make: a 60 s 160x90 clip from ffmpeg, looped to
//! two hours with `-stream_loop 119 -c copy` (about 60 MB, 1800 segments
//! per track), uploaded and ingested through the CLI. Each of the 100
//! client threads (std threads + ureq on loopback, one connection each)
//! walks its own stride of segment numbers, alternating video and audio,
//! so no two clients ask for the same segment at the same time. The
//! server's `VmRSS` (from `/proc/PID/status`) is sampled every 20 ms during
//! the load; the peak must stay under 200 MiB. Every response must be a
//! 200 whose body has its `Content-Length` and is the clear segment on disk
//! plus what protection adds to its `moof` (`senc`/`saiz`/`saio`: more than
//! nothing, less than 64 KiB).
//! A larger manual version: bench/origin_rss.sh (release build, 640x360,
//! wrk).

mod api_server;

use api_server::{TOKEN, bin, cli, ok};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

const CLIENTS: usize = 100;
/// Requests per client (1800 in all: every video and audio segment once
/// over the run, never the same one twice at a time).
const PER_CLIENT: usize = 18;
const LIMIT_KIB: u64 = 200 * 1024;

/// `castguard serve` whose pid this test needs (api_server's hides it).
struct Serve {
    child: Child,
    url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path) -> Serve {
    // Output also to $CASTGUARD_TEST_LOG_DIR for scripts/check-secrets.sh;
    // RUST_LOG stays at warn: this test measures memory, not logging.
    let mut file = api_server::test_log_dir().map(|d| api_server::server_log_file(&d, "serve"));
    let stdout = match &file {
        Some(f) => Stdio::from(f.try_clone().expect("clone log file")),
        None => Stdio::null(),
    };
    let mut child = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env_remove("CASTGUARD_KEK")
        .env_remove("CASTGUARD_KEK_FILE")
        .env("CASTGUARD_ADMIN_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn castguard serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(f) = file.as_mut() {
                let _ = writeln!(f, "{line}");
            }
            if let Some(rest) = line.split("listening on ").nth(1) {
                let _ = tx.send(rest.trim().to_string());
            } else if line.contains("WARN") || line.contains("ERROR") {
                eprintln!("serve: {line}");
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("castguard serve did not start");
    Serve { child, url }
}

fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn ffmpeg(args: &[&str]) {
    let st = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .status()
        .expect("ffmpeg must be installed (scripts/install-test-tools.sh)");
    assert!(st.success(), "ffmpeg {args:?}");
}

#[test]
fn rss_under_200_mib_with_100_clients_on_a_two_hour_asset() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let short = tmp.path().join("short.mp4");
    let long = tmp.path().join("long.mp4");
    #[rustfmt::skip]
    ffmpeg(&[
        "-f", "lavfi", "-i", "testsrc=size=160x90:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050",
        "-t", "60", "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-b:v", "40k",
        "-c:a", "aac", "-b:a", "24k", "-ac", "1", short.to_str().unwrap(),
    ]);
    #[rustfmt::skip]
    ffmpeg(&[
        "-stream_loop", "119", "-i", short.to_str().unwrap(), "-c", "copy",
        "-movflags", "+faststart", long.to_str().unwrap(),
    ]);

    let data = tmp.path().join("data");
    let server = serve(&data);
    let pid = server.child.id();
    let run = |args: &[&str]| ok(&cli(&server.url, TOKEN, args));
    let asset: Value = serde_json::from_str(&run(&[
        "asset",
        "ingest",
        long.to_str().unwrap(),
        "--name",
        "long",
        "--json",
    ]))
    .unwrap();
    run(&["policy", "create", "open", "--open"]);
    run(&["key", "create", "k", "--type", "common", "--policy", "open"]);
    run(&[
        "locator",
        "create",
        "loc",
        "--asset",
        "long",
        "--streaming-policy",
        "Predefined_MultiDrmCencStreaming",
        "--key",
        "k",
    ]);
    let loc: Value = serde_json::from_str(&run(&["locator", "get", "loc", "--json"])).unwrap();
    let id = loc["streamingLocatorId"].as_str().unwrap().to_string();

    // (track name, segment count) of the two tracks.
    let tracks: Vec<(String, usize)> = asset["storage"]["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["segmentCount"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(tracks.len(), 2, "{asset}");
    for (name, n) in &tracks {
        // Two hours of about 4 s segments.
        assert!(*n >= 1500, "{name}: {n} segments: not a two-hour asset");
    }
    let asset_dir = data.join("assets/long");
    let idle_kib = vm_rss_kib(pid).unwrap();

    // Load.
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(idle_kib));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            let mut samples = 0u32;
            while !stop.load(Ordering::SeqCst) {
                if let Some(kib) = vm_rss_kib(pid) {
                    peak.fetch_max(kib, Ordering::SeqCst);
                    samples += 1;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            samples
        })
    };
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let bytes = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(60);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (tracks, failures, bytes) = (tracks.clone(), failures.clone(), bytes.clone());
            let (base, asset_dir) = (format!("{}/s/{id}/cenc", server.url), asset_dir.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(Duration::from_secs(30)))
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut done = 0;
                for k in 0..PER_CLIENT {
                    if Instant::now() > deadline {
                        break;
                    }
                    let (track, n) = &tracks[k % 2];
                    let number = 1 + (c + CLIENTS * k) % n;
                    let url = format!("{base}/{track}/{number}.m4s");
                    let fail = |why: String| failures.lock().unwrap().push(format!("{url}: {why}"));
                    let mut resp = match agent.get(&url).call() {
                        Ok(r) => r,
                        Err(e) => {
                            fail(e.to_string());
                            continue;
                        }
                    };
                    if resp.status() != 200 {
                        fail(format!("HTTP {}", resp.status()));
                        continue;
                    }
                    let declared: Option<usize> = resp
                        .headers()
                        .get("content-length")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok());
                    let body = match resp.body_mut().with_config().limit(16 << 20).read_to_vec() {
                        Ok(b) => b,
                        Err(e) => {
                            fail(format!("body: {e}"));
                            continue;
                        }
                    };
                    let clear =
                        std::fs::metadata(asset_dir.join(track).join(format!("{number}.m4s")))
                            .map(|m| m.len() as usize)
                            .unwrap_or(0);
                    if declared != Some(body.len()) {
                        fail(format!(
                            "Content-Length {declared:?}, body {} bytes",
                            body.len()
                        ));
                    } else if !(body.len() > clear && body.len() < clear + 64 * 1024) {
                        fail(format!(
                            "{} bytes for a clear segment of {clear}",
                            body.len()
                        ));
                    }
                    bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                    done += 1;
                }
                done
            })
        })
        .collect();
    let load_started = Instant::now();
    let requests: usize = clients.into_iter().map(|t| t.join().unwrap()).sum();
    let load_time = load_started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let samples = sampler.join().unwrap();
    let peak_kib = peak.load(Ordering::SeqCst);
    eprintln!(
        "{requests} segment requests ({} MiB) by {CLIENTS} clients in {load_time:?}; \
         server RSS idle {} MiB, peak {} MiB over {samples} samples; test took {:?}",
        bytes.load(Ordering::Relaxed) >> 20,
        idle_kib / 1024,
        peak_kib / 1024,
        started.elapsed()
    );

    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed responses, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        requests >= CLIENTS * PER_CLIENT / 2,
        "only {requests} requests before the deadline"
    );
    assert!(samples >= 5, "RSS sampled only {samples} times");
    assert!(
        peak_kib < LIMIT_KIB,
        "server RSS peaked at {} MiB (limit 200)",
        peak_kib / 1024
    );
    // Still serving afterwards.
    assert!(vm_rss_kib(pid).is_some());
}
