//! A real `castguard serve` for the API end-to-end tests: started on
//! 127.0.0.1 with `--listen 127.0.0.1:0` (the OS picks a free port, read back
//! from the `listening on` line), a temporary data directory, and a known
//! admin token unless a test asks for a generated one.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const TOKEN: &str = "e2e-admin-token-0123456789abcdef";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_castguard")
}

pub struct Server {
    child: Child,
    pub url: String,
    /// Everything the server wrote to stderr so far.
    pub log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts on `data`; `token` None lets the server use/generate its own.
    pub fn start(data: &Path, token: Option<&str>) -> Server {
        // No demo: these tests count what is in the store.
        Server::start_with(data, token, &["--no-demo"], &[])
    }

    /// As [`Server::start`], with more `serve` arguments and environment.
    pub fn start_with(
        data: &Path,
        token: Option<&str>,
        args: &[&str],
        env: &[(&str, String)],
    ) -> Server {
        let mut cmd = Command::new(bin());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(args)
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k, v)));
        cmd.env_remove("CASTGUARD_ADMIN_TOKEN")
            .env_remove("CASTGUARD_KEK")
            .env_remove("CASTGUARD_KEK_FILE")
            .env_remove("CASTGUARD_MEDIA_URL");
        if let Some(t) = token {
            cmd.env("CASTGUARD_ADMIN_TOKEN", t);
        }
        let mut child = cmd
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
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(u) => u,
            Err(_) => {
                let _ = child.kill();
                panic!("castguard serve did not start: {}", log.lock().unwrap());
            }
        };
        Server { child, url, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the CLI against `url` with `token`.
pub fn cli(url: &str, token: &str, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("CASTGUARD_SERVER", url)
        .env("CASTGUARD_ADMIN_TOKEN", token)
        .output()
        .expect("run castguard")
}

pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "castguard failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn data_dir(tmp: &tempfile::TempDir) -> PathBuf {
    tmp.path().join("data")
}
