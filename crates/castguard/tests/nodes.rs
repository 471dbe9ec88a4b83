//! Two `castguard serve` processes over one Postgres and one Redis (issue 7):
//! the scale-out proof, with the real binary and real servers on 127.0.0.1.
//!
//! - a `maxuses=5` token spread over both nodes by 1,000 parallel key
//!   requests gets exactly 5 keys (the counter lives in Redis, one atomic
//!   script per use);
//! - a policy changed through node A's API applies on node B within
//!   700 ms (change notifications clear B's caches; without them it takes
//!   about 1 s, see [`CHANGE_DEADLINE`]);
//! - SIGKILL of node A under load leaves node B answering every request,
//!   and the restarted A has every API write that A acknowledged.
//!
//! Services: `CASTGUARD_TEST_POSTGRES_URL` and `CASTGUARD_TEST_REDIS_URL`
//! (`scripts/start-services.sh`); with `CI=true` a missing one fails the
//! test. Each test makes its own database. Media: ingested on A; B's
//! `assets/` folder is A's (one shared media folder, as on a shared volume).
//! Tokens are HS256, signed here with aws-lc-rs HMAC, not by castguard.

mod api_server;
mod common;

use api_server::bin;
use base64::Engine as _;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::time::{Duration, Instant};

const ADMIN: &str = "nodes-e2e-admin-token-0123456789abcdef";
const KEK_HEX: &str = "8f1e2d3c4b5a69788796a5b4c3d2e1f000112233445566778899aabbccddeeff";
const ISSUER: &str = "https://idp.nodes.example";
const AUDIENCE: &str = "urn:castguard:nodes";
const HMAC_KEY: &[u8] = b"nodes-e2e-hmac-key-0123456789abcdef";
const KID: &str = "5ca1ab1e-0000-4000-8000-000000000001";
const KEY_HEX: &str = "00112233445566778899aabbccddeeff";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Postgres and Redis URLs; `None` (test skipped) only outside CI.
fn services() -> Option<(String, String)> {
    let get = |var: &str| std::env::var(var).ok().filter(|v| !v.is_empty());
    match (
        get("CASTGUARD_TEST_POSTGRES_URL"),
        get("CASTGUARD_TEST_REDIS_URL"),
    ) {
        (Some(pg), Some(redis)) => Some((pg, redis)),
        _ => {
            assert!(
                !in_ci(),
                "CASTGUARD_TEST_POSTGRES_URL and CASTGUARD_TEST_REDIS_URL must be set \
                 (scripts/test.sh runs scripts/start-services.sh)"
            );
            eprintln!("skipped: CASTGUARD_TEST_POSTGRES_URL / CASTGUARD_TEST_REDIS_URL not set");
            None
        }
    }
}

/// A new, empty database on the test Postgres; its URL.
fn fresh_database(base: &str, tag: &str) -> String {
    let name = format!("castguard_nodes_{tag}_{}", std::process::id());
    let out = Command::new("psql")
        .arg(base)
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c"])
        .arg(format!("DROP DATABASE IF EXISTS {name}; "))
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("psql")
        .arg(base)
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (base, String::new()),
    };
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let path_start = head[scheme_end..]
        .find('/')
        .map_or(head.len(), |i| scheme_end + i);
    format!("{}/{name}{query}", &head[..path_start])
}

/// One `castguard serve --no-demo` process.
struct Node {
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
}

struct Cluster {
    /// `None`: each node on its own SQLite store.
    database: Option<String>,
    redis: String,
    /// More `castguard serve` arguments for every node.
    extra: Vec<String>,
}

impl Cluster {
    fn start(&self, data: &Path) -> Node {
        let mut cmd = Command::new(bin());
        cmd.args([
            "serve",
            "--no-demo",
            "--rate-limit-per-token",
            "off",
            "--listen",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(data)
        .args(["--redis-url", &self.redis])
        .args(&self.extra)
        .env_remove("CASTGUARD_KEK_FILE")
        .env("CASTGUARD_KEK", KEK_HEX)
        .env("CASTGUARD_ADMIN_TOKEN", ADMIN)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        if let Some(db) = &self.database {
            cmd.args(["--database-url", db]);
        }
        let mut child = cmd.spawn().expect("spawn castguard serve");
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
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => Node { child, url, log },
            Err(_) => {
                let _ = child.kill();
                panic!("castguard serve did not start: {}", log.lock().unwrap());
            }
        }
    }
}

impl Node {
    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// An HS256 JWT (RFC 7519) signed with [`HMAC_KEY`].
fn hs256(claims: Value) -> String {
    let head = b64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = b64url(claims.to_string().as_bytes());
    let input = format!("{head}.{body}");
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, HMAC_KEY);
    let sig = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64url(sig.as_ref()))
}

fn token(groups: &str, max_uses: Option<u32>) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut c = json!({
        "iss": ISSUER, "aud": AUDIENCE, "exp": now + 3600, "nbf": now - 60,
        "groups": groups,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    if let Some(n) = max_uses {
        c["urn:microsoft:azure:mediaservices:maxuses"] = json!(n);
    }
    hs256(c)
}

/// Status and body of `GET {base}/keys/v1/aes/{KID}` with a bearer token.
fn get_key(a: &ureq::Agent, base: &str, token: &str) -> (u16, Vec<u8>) {
    let mut res = a
        .get(&format!("{base}/keys/v1/aes/{KID}"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("key request");
    let status = res.status().as_u16();
    (status, res.body_mut().read_to_vec().unwrap_or_default())
}

fn reason(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body).unwrap_or(Value::Null)["error"]["code"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

fn cli(url: &str, args: &[&str]) -> String {
    let out = Command::new(bin())
        .args(args)
        .env("CASTGUARD_SERVER", url)
        .env("CASTGUARD_ADMIN_TOKEN", ADMIN)
        .output()
        .expect("run castguard");
    assert!(
        out.status.success(),
        "castguard {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn policy(url: &str, group: &str) {
    cli(
        url,
        &[
            "policy",
            "create",
            "viewers",
            "--issuer",
            ISSUER,
            "--audience",
            AUDIENCE,
            "--symmetric-key",
            &base64::engine::general_purpose::STANDARD.encode(HMAC_KEY),
            "--required-claim",
            &format!("groups={group}"),
        ],
    );
}

/// The `viewers` policy requiring `groups={group}`, by one PUT to `url`'s
/// API (what `castguard policy create` sends, without starting a process).
fn put_policy(ag: &ureq::Agent, url: &str, group: &str) {
    let body = json!({"options": [{
        "name": "default",
        "configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
        "restriction": {
            "@odata.type": "#Microsoft.Media.ContentKeyPolicyTokenRestriction",
            "issuer": ISSUER, "audience": AUDIENCE, "restrictionTokenType": "Jwt",
            "primaryVerificationKey": {
                "@odata.type": "#Microsoft.Media.ContentKeyPolicySymmetricTokenKey",
                "keyValue": base64::engine::general_purpose::STANDARD.encode(HMAC_KEY),
            },
            "requiredClaims": [{"claimType": "groups", "claimValue": group}],
        },
    }]});
    let r = ag
        .put(&format!("{url}/api/v1/content-key-policies/viewers"))
        .header("Authorization", &format!("Bearer {ADMIN}"))
        .send_json(body)
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "policy PUT");
}

/// Two nodes A and B over a fresh database; B's media folder is A's.
fn two_nodes(tmp: &Path, tag: &str) -> Option<(Cluster, PathBuf, Node, Node)> {
    two_nodes_with(tmp, tag, &[])
}

/// [`two_nodes`], with more `serve` arguments for both.
fn two_nodes_with(tmp: &Path, tag: &str, extra: &[String]) -> Option<(Cluster, PathBuf, Node, Node)> {
    let (pg, redis) = services()?;
    let cluster = Cluster {
        database: Some(fresh_database(&pg, tag)),
        redis,
        extra: extra.to_vec(),
    };
    let (data_a, data_b) = (tmp.join("a"), tmp.join("b"));
    std::fs::create_dir_all(data_a.join("assets")).unwrap();
    std::fs::create_dir_all(&data_b).unwrap();
    std::os::unix::fs::symlink(data_a.join("assets"), data_b.join("assets")).unwrap();
    let a = cluster.start(&data_a);
    let b = cluster.start(&data_b);
    policy(&a.url, "EntitledUsers");
    cli(
        &a.url,
        &[
            "key", "create", "hls", "--type", "envelope", "--kid", KID, "--value", KEY_HEX,
            "--policy", "viewers",
        ],
    );
    Some((cluster, data_a, a, b))
}

#[test]
fn maxuses_token_gets_exactly_five_keys_across_two_nodes() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((_cluster, _, a, b)) = two_nodes(tmp.path(), "maxuses") else {
        return;
    };
    let key = hex::decode(KEY_HEX).unwrap();
    // Both nodes serve a plain token (and so know the key and policy).
    let plain = token("EntitledUsers", None);
    assert_eq!(get_key(&agent(), &a.url, &plain), (200, key.clone()));
    assert_eq!(get_key(&agent(), &b.url, &plain), (200, key.clone()));

    let limited = Arc::new(token("EntitledUsers", Some(5)));
    let urls = Arc::new([a.url.clone(), b.url.clone()]);
    const THREADS: usize = 100;
    const PER_THREAD: usize = 10;
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (limited, urls, barrier) = (limited.clone(), urls.clone(), barrier.clone());
            std::thread::spawn(move || {
                let agent = agent();
                barrier.wait();
                (0..PER_THREAD)
                    .map(|i| {
                        let (s, body) = get_key(&agent, &urls[(t + i) % 2], &limited);
                        (
                            s,
                            if s == 200 {
                                hex::encode(body)
                            } else {
                                reason(&body)
                            },
                        )
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<(u16, String)> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(results.len(), 1000);
    let granted: Vec<_> = results.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(granted.len(), 5, "keys granted to a maxuses=5 token");
    assert!(granted.iter().all(|(_, k)| *k == KEY_HEX));
    let refused = results
        .iter()
        .filter(|(s, r)| *s == 401 && r == "replay_exceeded")
        .count();
    // An overloaded machine may make a Redis round trip exceed its timeout:
    // that request fails closed with 503, never with a key.
    let unavailable = results
        .iter()
        .filter(|(s, r)| *s == 503 && r == "temporarily_unavailable")
        .count();
    eprintln!("granted 5, replay_exceeded {refused}, temporarily_unavailable {unavailable}");
    assert_eq!(
        refused + unavailable,
        995,
        "{:?}\n{}",
        results
            .iter()
            .find(|(s, _)| *s != 200 && *s != 401 && *s != 503),
        a.log() + &b.log()
    );
    assert!(refused >= 900, "only {refused} replay_exceeded");
    // Still refused afterwards, on either node.
    assert_eq!(get_key(&agent(), &a.url, &limited).0, 401);
    assert_eq!(get_key(&agent(), &b.url, &limited).0, 401);
    assert!(!a.log().contains(limited.as_str()) && !b.log().contains(limited.as_str()));
}

/// How soon node B must apply a policy edited through node A.
///
/// Why 700 ms and not the 2 s cache TTL: B's caches refresh ahead once an
/// entry is past half its TTL, so without change notifications an edit
/// made right after B cached the policy stays invisible on B for about 1 s
/// (the test makes exactly that case: B reads the policy into a cold
/// cache, then A's API takes the edit by one direct PUT). Notifications
/// make it a few milliseconds (some hundreds on an overloaded machine).
const CHANGE_DEADLINE: Duration = Duration::from_millis(700);

#[test]
fn policy_changed_on_a_applies_on_b_within_a_second() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((_cluster, _, a, b)) = two_nodes(tmp.path(), "notify") else {
        return;
    };
    let entitled = token("EntitledUsers", None);
    let gold = token("Gold", None);
    let ag = agent();
    // Edits `viewers` to require `group` right after B cached the policy;
    // returns how long B kept answering the old way.
    let edit = |group: &str, now_ok: &str, now_refused: &str| -> Duration {
        std::thread::sleep(Duration::from_millis(2200)); // B's entries expire
        assert_eq!(
            get_key(&ag, &b.url, now_refused).0,
            200,
            "B, before the edit"
        );
        put_policy(&ag, &a.url, group);
        let acked = Instant::now();
        loop {
            let (s, body) = get_key(&ag, &b.url, now_refused);
            if s == 401 {
                assert_eq!(reason(&body), "claim_missing");
                break;
            }
            assert_eq!(s, 200);
            assert!(
                acked.elapsed() < CHANGE_DEADLINE,
                "node B still applied the old policy {:?} after A acknowledged the change",
                acked.elapsed()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let seen = acked.elapsed();
        assert!(
            seen < CHANGE_DEADLINE,
            "B applied the edit only after {seen:?}"
        );
        assert_eq!(get_key(&ag, &b.url, now_ok).0, 200);
        seen
    };
    for _ in 0..3 {
        let t = edit("Gold", &gold, &entitled);
        eprintln!("B applied the edit after {t:?}");
        let t = edit("EntitledUsers", &entitled, &gold);
        eprintln!("B applied the edit after {t:?}");
    }
}

/// The media playlist and first segment URLs under an HLS master playlist.
fn first_segment(ag: &ureq::Agent, master: &str) -> Vec<String> {
    let get_text = |url: &str| -> String {
        let mut r = ag.get(url).call().expect("origin request");
        assert_eq!(r.status().as_u16(), 200, "{url}");
        r.body_mut().read_to_string().unwrap()
    };
    let join = |base: &str, rel: &str| -> String {
        if rel.starts_with("http") {
            rel.to_owned()
        } else {
            format!("{}/{rel}", &base[..base.rfind('/').unwrap()])
        }
    };
    let m = get_text(master);
    let media = join(
        master,
        m.lines()
            .find(|l| !l.starts_with('#') && !l.is_empty())
            .unwrap(),
    );
    let p = get_text(&media);
    let seg = join(
        &media,
        p.lines()
            .find(|l| !l.starts_with('#') && !l.is_empty())
            .unwrap(),
    );
    vec![master.to_owned(), media, seg]
}

#[test]
fn node_b_serves_on_while_a_is_killed_and_a_loses_no_write() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((cluster, data_a, mut a, b)) = two_nodes(tmp.path(), "failover") else {
        return;
    };
    let clip = common::fixture("h264_aac_nob.mp4");
    cli(
        &a.url,
        &["asset", "ingest", clip.to_str().unwrap(), "--name", "clip"],
    );
    cli(
        &a.url,
        &[
            "locator",
            "create",
            "clip-aes",
            "--asset",
            "clip",
            "--streaming-policy",
            "Predefined_ClearKey",
            "--key",
            "hls",
        ],
    );
    let loc: Value =
        serde_json::from_str(&cli(&a.url, &["locator", "get", "clip-aes", "--json"])).unwrap();
    let loc_id = loc["streamingLocatorId"].as_str().unwrap().to_owned();
    let ag = agent();
    // B serves the asset ingested through A, and the key.
    let origin = first_segment(&ag, &format!("{}/s/{loc_id}/aes128/master.m3u8", b.url));
    let entitled = Arc::new(token("EntitledUsers", None));
    assert_eq!(get_key(&ag, &b.url, &entitled).0, 200);

    // Load on B: keys and origin requests, from 8 threads.
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let load: Vec<_> = (0..8)
        .map(|t| {
            let (stop, served, failures) = (stop.clone(), served.clone(), failures.clone());
            let (url, entitled, origin) = (b.url.clone(), entitled.clone(), origin.clone());
            std::thread::spawn(move || {
                let ag = agent();
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let res = if i % 2 == 0 {
                        ag.get(&format!("{url}/keys/v1/aes/{KID}"))
                            .header("Authorization", &format!("Bearer {entitled}"))
                            .call()
                    } else {
                        ag.get(&origin[i % origin.len()]).call()
                    };
                    match res {
                        Ok(mut r) if r.status().as_u16() == 200 => {
                            let _ = r.body_mut().read_to_vec();
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => failures
                            .lock()
                            .unwrap()
                            .push(format!("status {}", r.status())),
                        Err(e) => failures.lock().unwrap().push(e.to_string()),
                    }
                }
            })
        })
        .collect();

    // API writes on A until it dies; remember what A acknowledged.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let writer = {
        let (url, acked) = (a.url.clone(), acked.clone());
        std::thread::spawn(move || {
            let ag = agent();
            for i in 0.. {
                let name = format!("written-{i}");
                let res = ag
                    .put(&format!("{url}/api/v1/content-keys/{name}"))
                    .header("Authorization", &format!("Bearer {ADMIN}"))
                    .send_json(json!({"type": "EnvelopeEncryption", "policyName": "viewers"}));
                match res {
                    Ok(r) if r.status().as_u16() == 201 => acked.lock().unwrap().push(name),
                    _ => break,
                }
            }
        })
    };
    // At least 1.5 s and 50 answers on each side of the kill (a loaded
    // machine serves slowly), at most 60 s.
    let wait_for = |from: usize| {
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(1500)
            || (served.load(Ordering::Relaxed) < from + 50 && t.elapsed() < Duration::from_secs(60))
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for(0);
    let before_kill = served.load(Ordering::Relaxed);
    a.kill();
    wait_for(before_kill);
    stop.store(true, Ordering::Relaxed);
    for h in load {
        h.join().unwrap();
    }
    writer.join().unwrap();
    let after_kill = served.load(Ordering::Relaxed) - before_kill;
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "B failed while A died: {:?}",
        &failures[..failures.len().min(5)]
    );
    assert!(
        before_kill >= 50 && after_kill >= 50,
        "load too small: {before_kill} / {after_kill}"
    );
    eprintln!("B served {before_kill} before and {after_kill} after A was killed");

    // A restarted on its data folder: every acknowledged write is there,
    // and B sees them too.
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 5,
        "A acknowledged only {} writes",
        acked.len()
    );
    let a2 = cluster.start(&data_a);
    let listed: Value = serde_json::from_str(&cli(&a2.url, &["key", "list", "--json"])).unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["name"].as_str())
        .collect();
    for n in &acked {
        assert!(names.contains(&n.as_str()), "acknowledged write {n} lost");
        let r = ag
            .get(&format!("{}/api/v1/content-keys/{n}", b.url))
            .header("Authorization", &format!("Bearer {ADMIN}"))
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{n} on B");
    }
    assert_eq!(get_key(&ag, &a2.url, &entitled).0, 200);
    drop(a2);
    let _ = a.log();
}

/// Redis unreachable: a `maxuses` token gets 503, never a key; a token
/// without `maxuses` is not counted and still works; `/readyz` says why;
/// the Redis password appears nowhere in the log. Needs no service: one
/// node on SQLite, Redis URL on a port where nothing listens.
#[test]
fn redis_down_fails_closed() {
    const PASSWORD: &str = "redis-pw-Qx7-never-logged";
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let cluster = Cluster {
        database: None,
        redis: format!("redis://castguard:{PASSWORD}@127.0.0.1:{port}/0"),
        extra: Vec::new(),
    };
    let node = cluster.start(&tmp.path().join("data"));
    policy(&node.url, "EntitledUsers");
    cli(
        &node.url,
        &[
            "key", "create", "hls", "--type", "envelope", "--kid", KID, "--value", KEY_HEX,
            "--policy", "viewers",
        ],
    );
    let ag = agent();
    let key = hex::decode(KEY_HEX).unwrap();
    assert_eq!(
        get_key(&ag, &node.url, &token("EntitledUsers", None)),
        (200, key)
    );
    let limited = token("EntitledUsers", Some(5));
    for _ in 0..3 {
        let t = Instant::now();
        let (s, body) = get_key(&ag, &node.url, &limited);
        assert_eq!(
            (s, reason(&body).as_str()),
            (503, "temporarily_unavailable")
        );
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }
    let mut r = ag.get(&format!("{}/readyz", node.url)).call().unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(
        r.body_mut().read_to_string().unwrap(),
        "redis unavailable\n"
    );
    let log = node.log();
    assert!(log.contains("redis://castguard:***@127.0.0.1"), "{log}");
    assert!(!log.contains(PASSWORD), "{log}");
}

/// Debian nginx as a reverse proxy on 127.0.0.1:`port` in front of `nodes`
/// (round robin), connecting to them from 127.0.0.2 and passing the
/// client's `Host` as `X-Forwarded-Host`. Killed on drop.
struct Nginx(Child);

impl Nginx {
    fn start(dir: &Path, port: u16, nodes: &[&str]) -> Nginx {
        let upstreams: String = nodes
            .iter()
            .map(|u| format!("server {};\n", u.trim_start_matches("http://")))
            .collect();
        let conf = dir.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "daemon off;\nuser root;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
                 events {{ worker_connections 256; }}\n\
                 http {{\n access_log {d}/access.log;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n\
                 fastcgi_temp_path {d}/fcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n\
                 upstream castguard {{\n{upstreams}}}\n\
                 server {{\n  listen 127.0.0.1:{port};\n  location / {{\n   proxy_pass http://castguard;\n\
                 proxy_bind 127.0.0.2;\n   proxy_http_version 1.1;\n   proxy_set_header Connection \"\";\n\
                 proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
                 proxy_set_header X-Forwarded-Host $http_host;\n   proxy_set_header X-Forwarded-Proto $scheme;\n  }}\n }}\n}}\n",
                d = dir.display()
            ),
        )
        .unwrap();
        let bin = if Path::new("/usr/sbin/nginx").exists() { "/usr/sbin/nginx" } else { "nginx" };
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx (Debian package nginx; scripts/install-test-tools.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen: {}", std::fs::read_to_string(dir.join("error.log")).unwrap_or_default());
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx(child)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every absolute URL (`http://...`, `https://...`) in a text.
fn absolute_urls(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("http") {
        let tail = &rest[i..];
        if tail.starts_with("http://") || tail.starts_with("https://") {
            let end = tail.find(|c: char| c == '"' || c == '<' || c.is_whitespace()).unwrap_or(tail.len());
            out.push(tail[..end].to_owned());
            rest = &tail[end..];
        } else {
            rest = &tail[4..];
        }
    }
    out
}

/// Issue 16 item 2: two nodes behind nginx, started with `--public-url` of
/// the proxy, write the proxy into every URL of their manifests (not their
/// own 127.0.0.1 ports), whichever node answers, and ffmpeg plays the
/// AES-128 stream through the proxy, key included, to the clear frames.
/// With `--trust-forwarded-host`, a request through the proxy (the trusted
/// 127.0.0.2) under another name gets that name; the same header sent
/// straight to a node by anyone else changes nothing.
#[test]
fn behind_a_reverse_proxy_every_url_names_the_proxy() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let public = format!("http://127.0.0.1:{port}");
    let extra: Vec<String> = ["--public-url", &public, "--trusted-proxy", "127.0.0.2", "--trust-forwarded-host"]
        .map(String::from)
        .to_vec();
    let tmp = tempfile::tempdir().unwrap();
    let Some((_cluster, _data, a, b)) = two_nodes_with(tmp.path(), "proxy", &extra) else {
        return;
    };
    let clip = common::fixture("h264_aac_nob.mp4");
    cli(&a.url, &["asset", "ingest", clip.to_str().unwrap(), "--name", "clip"]);
    cli(
        &a.url,
        &["locator", "create", "clip-aes", "--asset", "clip", "--streaming-policy", "Predefined_ClearKey", "--key", "hls"],
    );
    let loc: Value = serde_json::from_str(&cli(&a.url, &["locator", "get", "clip-aes", "--json"])).unwrap();
    let loc_id = loc["streamingLocatorId"].as_str().unwrap().to_owned();
    let nginx_dir = tmp.path().join("nginx");
    std::fs::create_dir_all(&nginx_dir).unwrap();
    let _nginx = Nginx::start(&nginx_dir, port, &[&a.url, &b.url]);

    let ag = agent();
    let get = |url: &str, host: Option<&str>| -> String {
        let mut req = ag.get(url);
        if let Some(h) = host {
            req = req.header("Host", h);
        }
        let mut r = req.call().expect("request");
        assert_eq!(r.status().as_u16(), 200, "{url}");
        r.body_mut().read_to_string().unwrap()
    };
    // Through the proxy, several times (both nodes answer in turn): every
    // absolute URL of the master and media playlists names the proxy.
    let master = format!("{public}/s/{loc_id}/aes128/master.m3u8");
    for _ in 0..4 {
        let m = get(&master, None);
        let media_rel = m.lines().find(|l| !l.starts_with('#') && !l.is_empty()).expect("variant");
        let media = format!("{public}/s/{loc_id}/aes128/{media_rel}");
        let p = get(&media, None);
        let urls = absolute_urls(&p);
        assert!(!urls.is_empty(), "the key URI is absolute: {p}");
        for u in urls.iter().chain(&absolute_urls(&m)) {
            assert!(u.starts_with(&format!("{public}/")), "{u} does not name the proxy");
        }
        for node in [&a.url, &b.url] {
            assert!(!p.contains(node.as_str()) && !m.contains(node.as_str()), "a node's own address leaked: {p}");
        }
    }
    // Both nodes answered through the proxy.
    let access = std::fs::read_to_string(nginx_dir.join("access.log")).unwrap_or_default();
    assert!(access.lines().count() >= 8, "{access}");

    // ffmpeg plays through the proxy, the key fetched there with the token.
    let entitled = token("EntitledUsers", None);
    let got = common::hls_hashes_with_headers(&master, &format!("Authorization: Bearer {entitled}\r\n"), common::Media::Video)
        .expect("ffmpeg plays through the proxy");
    let want = common::clear_hashes(&clip, common::Media::Video);
    common::assert_hashes_eq(&got, &want, "video through the proxy");

    // Another name through the trusted proxy: that name. The same header
    // from 127.0.0.1 straight to a node (not a trusted proxy): ignored.
    let alt = format!("alt.example:{port}");
    let m = get(&master, Some(&alt));
    let media_rel = m.lines().find(|l| !l.starts_with('#') && !l.is_empty()).expect("variant").to_owned();
    let p = get(&format!("{public}/s/{loc_id}/aes128/{media_rel}"), Some(&alt));
    assert!(absolute_urls(&p).iter().all(|u| u.starts_with(&format!("http://{alt}/"))), "{p}");
    let mut r = ag
        .get(&format!("{}/s/{loc_id}/aes128/{media_rel}", b.url))
        .header("X-Forwarded-Host", "evil.example")
        .call()
        .expect("direct request");
    let direct = r.body_mut().read_to_string().unwrap();
    assert!(!direct.contains("evil.example"), "{direct}");
    assert!(absolute_urls(&direct).iter().all(|u| u.starts_with(&format!("{public}/"))), "{direct}");
}

/// Live over two nodes sharing the media folder (issue 18): A takes the
/// encoder's push; viewers on B see the live stream grow (dynamic MPD and
/// playlist advancing: nothing on B keeps the growing index) and B's
/// AES-128 segments decrypt to the pushed frames. A push to B while A
/// records is refused with 409 (one writer per recording: a lock on the
/// asset folder) and changes nothing; once A's push has ended, the encoder
/// may go on through B (the same timeline, numbered on). A stop through B
/// ends it; the archive is VOD on both.
#[test]
fn live_pushed_to_a_plays_on_b_and_b_takes_over_only_when_a_is_done() {
    use common::live::{make_source, push_file, wait_pushed};
    const ACCESS: &str = "nodes-live-access-token-4b1f9e2a";
    let tmp = tempfile::tempdir().unwrap();
    let Some((_cluster, data_a, a, b)) = two_nodes(tmp.path(), "live") else {
        return;
    };
    let source = tmp.path().join("source.mp4");
    make_source(&source, 10);
    for args in [
        &["asset", "create", "show"][..],
        &["live", "create", "stage", "--access-token", ACCESS],
        &["live", "output", "create", "stage", "rec", "--asset", "show", "--archive-window", "PT1H"],
        &["locator", "create", "show-aes", "--asset", "show", "--streaming-policy", "Predefined_ClearKey", "--key", "hls"],
        &["locator", "create", "show-clear", "--asset", "show", "--streaming-policy", "Predefined_ClearStreamingOnly"],
        &["live", "start", "stage"],
    ] {
        cli(&a.url, args);
    }
    let loc: Value = serde_json::from_str(&cli(&a.url, &["locator", "get", "show-aes", "--json"])).unwrap();
    let loc_id = loc["streamingLocatorId"].as_str().unwrap().to_owned();
    let ingest = |node: &str| format!("{node}/ingest/stage/{ACCESS}/Streams(av)");
    let ag = agent();
    let get = |url: &str| -> (u16, String) {
        let mut r = ag.get(url).call().expect("request");
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default())
    };
    let clear: Value = serde_json::from_str(&cli(&a.url, &["locator", "get", "show-clear", "--json"])).unwrap();
    let clear_id = clear["streamingLocatorId"].as_str().unwrap().to_owned();
    let mpd_on_b = format!("{}/s/{clear_id}/clear/manifest.mpd", b.url);
    let playlist_on_b = format!("{}/s/{loc_id}/aes128/video_1/playlist.m3u8", b.url);

    // A second writer through B while A records: 409, nothing changed.
    let index = || std::fs::read(data_a.join("assets/show/index.json")).unwrap();
    let segments = |i: &[u8]| serde_json::from_slice::<Value>(i).unwrap()["tracks"][0]["segments"].as_array().unwrap().len();
    let second_writer = || {
        let before = index();
        let mut r = ag.post(&ingest(&b.url)).send(&b"\0\0\0\x10ftypiso6\0\0\0\0"[..]).unwrap();
        let body = r.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(r.status().as_u16(), 409, "{body}");
        assert!(body.contains("recording_busy"), "{body}");
        assert!(segments(&index()) >= segments(&before), "the refused push changed the recording");
    };
    let mut push_a = push_file(&source, &ingest(&a.url), &[]);
    // B sees the stream grow while A records it.
    let started = Instant::now();
    let mut seen: Vec<(usize, String)> = Vec::new();
    let mut playlists = Vec::new();
    while push_a.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(30) {
        let (status, mpd) = get(&mpd_on_b);
        if status == 200 {
            let publish = mpd.split("publishTime=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_owned();
            assert!(mpd.contains(r#"type="dynamic""#), "{mpd}");
            if seen.last().is_none_or(|(_, p)| *p != publish) {
                seen.push((mpd.matches("<S ").count(), publish));
                if seen.len() == 2 {
                    second_writer();
                }
            }
        }
        let (status, playlist) = get(&playlist_on_b);
        if status == 200 {
            playlists.push(playlist.matches("#EXTINF:").count());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("NODES LIVE on B: MPD states seen {seen:?}");
    assert!(seen.len() >= 3, "B's MPD did not advance with A's push: {seen:?}");
    playlists.dedup();
    assert!(playlists.len() >= 3, "B's AES-128 playlist did not grow: {playlists:?}");
    let (_, playlist) = get(&playlist_on_b);
    assert!(!playlist.contains("#EXT-X-ENDLIST"), "{playlist}");
    wait_pushed(push_a, "push to A");
    let from_a = segments(&index());
    // A is done: the encoder goes on through B.
    std::thread::sleep(Duration::from_secs(1));
    wait_pushed(push_file(&source, &ingest(&b.url), &[]), "push to B after A");
    let all = segments(&index());
    assert!(all >= 2 * from_a - 1, "B's push did not continue the recording: {from_a} then {all}");
    // Stopped through B: VOD on both; the archive decrypts (AES-128 keys
    // from B's key delivery) to the pushed frames, twice.
    cli(&b.url, &["live", "stop", "stage"]);
    for node in [&a.url, &b.url] {
        let (_, mpd) = get(&format!("{node}/s/{clear_id}/clear/manifest.mpd"));
        assert!(mpd.contains(r#"type="static""#), "{node}: {mpd}");
    }
    let entitled = token("EntitledUsers", None);
    let got = common::hls_hashes_with_headers(
        &format!("{}/s/{loc_id}/aes128/video_1/playlist.m3u8", b.url),
        &format!("Authorization: Bearer {entitled}\r\n"),
        common::Media::Video,
    )
    .unwrap();
    let want = common::file_hashes(&source, common::Media::Video).unwrap();
    assert_eq!(got.len(), 2 * want.len(), "two pushes of {} frames", want.len());
    common::assert_hashes_eq(&got[..want.len()], &want, "pushed to A, served by B");
    common::assert_hashes_eq(&got[want.len()..], &want, "pushed to B");
}
