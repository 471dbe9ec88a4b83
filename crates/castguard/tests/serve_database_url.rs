//! `castguard serve --database-url` (issue 7): the real binary on the
//! Postgres of scripts/start-services.sh (fails in CI without it). It
//! serves from Postgres (no SQLite file in --data), and a URL with a wrong
//! password fails the start without printing the password.

use std::io::{BufRead, BufReader, Read as _};
use std::process::{Command, Stdio};
use std::time::Duration;

const KEK: &str = "1111111111111111111111111111111111111111111111111111111111111111";

fn serve(data: &std::path::Path, url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_castguard"));
    cmd.args(["serve", "--no-demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("CASTGUARD_DATABASE_URL", url)
        .env("CASTGUARD_KEK", KEK)
        .env(
            "CASTGUARD_ADMIN_TOKEN",
            "serve-db-url-admin-token-0123456789",
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

fn get(url: &str) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    agent.get(url).call().unwrap().status().as_u16()
}

#[test]
fn serves_from_postgres_and_never_prints_the_password() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let Some(url) = rt.block_on(store::testing::postgres_database()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();

    let mut child = serve(dir.path(), &url).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("castguard: listening on ")
                .map(str::to_owned)
        })
        .expect("castguard serve did not start");
    assert_eq!(get(&format!("{addr}/readyz")), 200);
    assert_eq!(get(&format!("{addr}/sts/jwks.json")), 200);
    assert!(
        !dir.path().join(store::DB_FILE_NAME).exists(),
        "SQLite used despite --database-url"
    );
    assert!(
        !dir.path().join("sts").exists(),
        "STS key ring written to --data"
    );
    let _ = child.kill();
    let _ = child.wait();

    let (_, rest) = url.split_once('@').unwrap();
    let wrong = format!("postgres://castguard:Wr0ngPassw0rd42@{rest}");
    let mut child = serve(dir.path(), &wrong).spawn().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!child.wait().unwrap().success());
    assert!(err.contains("cannot open the store"), "{err}");
    assert!(!err.contains("Wr0ngPassw0rd42"), "{err}");
    assert!(err.contains("***"), "{err}");
}
