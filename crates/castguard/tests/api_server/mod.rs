//! A real `castguard serve` for the API end-to-end tests: started on
//! 127.0.0.1 with `--listen 127.0.0.1:0` (the OS picks a free port, read back
//! from the `listening on` line), a temporary data directory, and a known
//! admin token unless a test asks for a generated one.
//!
//! The server runs with `RUST_LOG=debug` (so debug paths are covered by the
//! secrets check too) and, when `CASTGUARD_TEST_LOG_DIR` is set (by
//! scripts/test.sh), everything it prints is also appended to a file there,
//! which scripts/check-secrets.sh then searches for the test secrets.
#![allow(dead_code)] // each test binary uses a different subset

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const TOKEN: &str = "e2e-admin-token-0123456789abcdef";

/// The repository root (crates/castguard/../..).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

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
        Server::start_full(data, token, test_log_dir().as_deref(), &["--no-demo"], &[])
    }

    /// As [`Server::start`], with the `serve` arguments and environment
    /// given (add `--no-demo` for an empty store).
    pub fn start_with(
        data: &Path,
        token: Option<&str>,
        args: &[&str],
        env: &[(&str, String)],
    ) -> Server {
        Server::start_full(data, token, test_log_dir().as_deref(), args, env)
    }

    /// As [`Server::start`], with the server's output copied into a file
    /// under `log_dir` (none: kept in memory only).
    pub fn start_logged(data: &Path, token: Option<&str>, log_dir: Option<&Path>) -> Server {
        Server::start_full(data, token, log_dir, &["--no-demo"], &[])
    }

    fn start_full(
        data: &Path,
        token: Option<&str>,
        log_dir: Option<&Path>,
        args: &[&str],
        env: &[(&str, String)],
    ) -> Server {
        let mut cmd = Command::new(bin());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(args);
        cmd.env_remove("CASTGUARD_ADMIN_TOKEN")
            .env_remove("CASTGUARD_KEK")
            .env_remove("CASTGUARD_KEK_FILE")
            .env_remove("CASTGUARD_MEDIA_URL");
        cmd.env("RUST_LOG", "debug")
            .envs(env.iter().map(|(k, v)| (k, v)));
        if let Some(t) = token {
            cmd.env("CASTGUARD_ADMIN_TOKEN", t);
        }
        let mut file = log_dir.map(|d| server_log_file(d, "serve"));
        let stdout = match &file {
            Some(f) => Stdio::from(f.try_clone().expect("clone log file")),
            None => Stdio::null(),
        };
        let mut child = cmd
            .stdout(stdout)
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
                if let Some(f) = file.as_mut() {
                    let _ = writeln!(f, "{line}");
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

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit by itself.
    pub fn wait(mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
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

/// `$CASTGUARD_TEST_LOG_DIR`, where scripts/test.sh collects server output.
pub fn test_log_dir() -> Option<PathBuf> {
    std::env::var_os("CASTGUARD_TEST_LOG_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// A new append-only file `TAG-TESTBINARY-PID-N.log` under `dir` (created).
pub fn server_log_file(dir: &Path, tag: &str) -> File {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    std::fs::create_dir_all(dir).expect("create the test log dir");
    let exe = std::env::current_exe().ok();
    let bin = exe
        .as_deref()
        .and_then(|p| p.file_stem())
        .and_then(|s| s.to_str())
        .unwrap_or("test");
    let name = format!(
        "{tag}-{bin}-{}-{}.log",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(&name))
        .unwrap_or_else(|e| panic!("create {}: {e}", dir.join(name).display()))
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
