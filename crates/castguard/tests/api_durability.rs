//! Durability (issue 3, item 8): a burst of concurrent PUTs while the server
//! is killed with SIGKILL; after a restart on the same data directory every
//! write that was answered 2xx is there, with the key ID it was answered
//! with, and the database opens cleanly.

mod api_server;

use api_server::{Server, TOKEN, data_dir};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn acknowledged_writes_survive_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(&tmp);
    let server = Server::start(&data, Some(TOKEN));
    let url = server.url.clone();
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|t| {
            let (url, acked, stop) = (url.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(10)))
                    .build()
                    .into();
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let name = format!("k-{t}-{i}");
                    i += 1;
                    let r = agent
                        .put(format!("{url}/api/v1/content-keys/{name}"))
                        .header("Authorization", format!("Bearer {TOKEN}"))
                        .send_json(
                            json!({"type": "CommonEncryption", "label": format!("writer {t}")}),
                        );
                    match r {
                        Ok(mut resp) if resp.status().is_success() => {
                            let body: Value = resp.body_mut().read_json().unwrap();
                            acked
                                .lock()
                                .unwrap()
                                .push((name, body["keyId"].as_str().unwrap().to_string()));
                        }
                        Ok(resp) => panic!("unexpected status {} for {name}", resp.status()),
                        Err(_) => break, // the server is gone
                    }
                }
            })
        })
        .collect();
    // Let the burst run, then kill mid-flight.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while acked.lock().unwrap().len() < 150 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 50,
        "too few writes before the kill: {}",
        acked.len()
    );

    let again = Server::start(&data, Some(TOKEN));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut stored = std::collections::HashMap::new();
    let mut next = Some(format!("{}/api/v1/content-keys?$top=1000", again.url));
    while let Some(u) = next.take() {
        let mut resp = agent
            .get(&u)
            .header("Authorization", format!("Bearer {TOKEN}"))
            .call()
            .unwrap();
        assert_eq!(resp.status(), 200);
        let page: Value = resp.body_mut().read_json().unwrap();
        for k in page["value"].as_array().unwrap() {
            stored.insert(
                k["name"].as_str().unwrap().to_string(),
                k["keyId"].as_str().unwrap().to_string(),
            );
        }
        next = page["@odata.nextLink"]
            .as_str()
            .map(|l| format!("{}{l}", again.url));
    }
    for (name, kid) in &acked {
        assert_eq!(
            stored.get(name),
            Some(kid),
            "acknowledged write {name} lost or changed after SIGKILL"
        );
    }
    // Writes still work on the recovered database, and it shuts down cleanly.
    let r = agent
        .put(format!("{}/api/v1/content-keys/after-restart", again.url))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .send_json(json!({"type": "EnvelopeEncryption"}))
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(again.stop().success());
    eprintln!(
        "{} acknowledged writes, {} stored",
        acked.len(),
        stored.len()
    );
}
