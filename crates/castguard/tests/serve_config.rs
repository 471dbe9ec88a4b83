//! `castguard serve --config FILE`: the real binary started from a TOML
//! file alone; a flag and an environment variable each beat the file;
//! `--print-config` prints TOML that a TOML parser reads back, with each
//! value's source and the database password masked; a bad file is one line
//! naming the key and the file, exit status 2.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const TOKEN: &str = "serve-config-admin-token-0123456789";

/// `castguard serve ARGS…` run from `cwd`, with no CASTGUARD_* variable
/// from the test's environment but those in `env`.
fn serve(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_castguard"));
    cmd.arg("serve")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("CASTGUARD_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("CASTGUARD_ADMIN_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied());
    cmd
}

/// Starts `cmd` and waits for its `listening on` line: (child, base URL).
fn start(mut cmd: Command) -> (Child, String) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn castguard serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("castguard: listening on ") {
                let _ = tx.send(Ok(url.trim().to_owned()));
            }
            log += &line;
            log.push('\n');
        }
        let _ = tx.send(Err(log));
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(url)) => (child, url),
        other => {
            let _ = child.kill();
            panic!("castguard serve did not start: {other:?}");
        }
    }
}

fn status(url: &str) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    agent.get(url).call().unwrap().status().as_u16()
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn serves_from_the_file_alone_with_paths_relative_to_it() {
    let tmp = tempfile::tempdir().unwrap();
    let conf_dir = tmp.path().join("etc");
    let elsewhere = tmp.path().join("cwd");
    std::fs::create_dir_all(&conf_dir).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    let file = conf_dir.join("castguard.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:0\"\ndata = \"data\"\nno-demo = true\n",
    )
    .unwrap();

    let (child, url) = start(serve(
        &elsewhere,
        &["--config", file.to_str().unwrap()],
        &[],
    ));
    assert_eq!(status(&format!("{url}/readyz")), 200);
    assert_eq!(status(&format!("{url}/api/v1/assets")), 401);
    stop(child);
    assert!(conf_dir.join("data").is_dir(), "data not beside the file");
    assert!(
        !elsewhere.join("data").exists(),
        "data relative to the working directory"
    );
}

#[test]
fn a_flag_and_an_environment_variable_beat_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("castguard.toml");
    // 192.0.2.1 (TEST-NET-1) is no address of this machine: were the
    // file's `listen` used, the bind would fail.
    std::fs::write(
        &file,
        "listen = \"192.0.2.1:80\"\ndata = \"file-data\"\nno-demo = true\n",
    )
    .unwrap();
    let env_data = tmp.path().join("env-data");
    let cmd = serve(
        tmp.path(),
        &["--listen", "127.0.0.1:0"],
        &[
            ("CASTGUARD_CONFIG", file.to_str().unwrap()),
            ("CASTGUARD_DATA", env_data.to_str().unwrap()),
        ],
    );
    let (child, url) = start(cmd);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(status(&format!("{url}/readyz")), 200);
    stop(child);
    assert!(env_data.is_dir(), "CASTGUARD_DATA not used");
    assert!(
        !tmp.path().join("file-data").exists(),
        "the file's data beat the environment"
    );
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run castguard serve")
}

#[test]
fn print_config_is_toml_with_sources_and_no_password() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("castguard.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:0\"\n\
         database-url = \"postgres://castguard:Sup3rS3cret@db.internal:5432/castguard\"\n\
         drain-delay = 2\nshutdown-timeout = 3\ntrusted-proxy = [\"10.0.0.0/8\"]\n",
    )
    .unwrap();
    let out = run(&mut serve(
        tmp.path(),
        &[
            "--config",
            file.to_str().unwrap(),
            "--print-config",
            "--shutdown-timeout",
            "9",
        ],
        &[("CASTGUARD_DRAIN_DELAY", "4")],
    ));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("Sup3rS3cret"), "{text}");
    let table: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("not TOML: {e}\n{text}"));
    assert_eq!(
        table["database-url"].as_str(),
        Some("postgres://castguard:***@db.internal:5432/castguard")
    );
    assert_eq!(table["listen"].as_str(), Some("127.0.0.1:0"));
    assert_eq!(table["drain-delay"].as_integer(), Some(4));
    assert_eq!(table["shutdown-timeout"].as_integer(), Some(9));
    assert_eq!(table["max-connections"].as_integer(), Some(4096));
    assert_eq!(table["no-demo"].as_bool(), Some(false));
    let source = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .and_then(|l| l.rsplit_once("  # "))
            .map(|(_, s)| s.to_owned())
            .unwrap_or_else(|| panic!("no line for {key}:\n{text}"))
    };
    assert_eq!(source("listen"), "file");
    assert_eq!(source("database-url"), "file");
    assert_eq!(source("trusted-proxy"), "file");
    assert_eq!(source("drain-delay"), "env CASTGUARD_DRAIN_DELAY");
    assert_eq!(source("shutdown-timeout"), "flag");
    assert_eq!(source("max-connections"), "default");
    // Nothing was started: no data directory in the working directory.
    assert!(!tmp.path().join("castguard-data").exists());
}

/// Runs `serve --config` on a file with `body`: (exit code, stderr).
fn bad_file(body: &str) -> (Option<i32>, String, String) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("castguard.toml");
    std::fs::write(&file, body).unwrap();
    let out = run(&mut serve(
        tmp.path(),
        &["--config", file.to_str().unwrap()],
        &[],
    ));
    assert!(
        !tmp.path().join("castguard-data").exists(),
        "started despite {body:?}"
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        file.display().to_string(),
    )
}

#[test]
fn a_bad_file_is_one_line_naming_key_and_file_and_exit_2() {
    let (code, err, file) = bad_file("lisen = \"127.0.0.1:0\"\n");
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        err,
        format!("castguard: {file}: unknown key 'lisen' (did you mean 'listen'?)\n")
    );

    let (code, err, file) = bad_file("listen = \"127.0.0.1:0\"\ndrain-delay = \"soon\"\n");
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "castguard: {file}: key 'drain-delay': expected an integer"
        )),
        "{err}"
    );

    let (code, err, file) = bad_file("no-demo = 1\n");
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        err,
        format!("castguard: {file}: key 'no-demo': expected true or false, found integer\n")
    );

    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing.toml");
    let out = run(&mut serve(
        tmp.path(),
        &["--config", missing.to_str().unwrap()],
        &[],
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(missing.to_str().unwrap()), "{err}");
}
