//! moto (PyPI `moto[server]`): a real S3 API on a free 127.0.0.1 port for
//! the object storage tests (issue 7 item 3), killed on drop. Shared by
//! `crates/server/tests/media_s3.rs` and
//! `crates/castguard/tests/media_url_e2e.rs` through `#[path]`.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The moto S3 server on a free loopback port, killed on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts moto with the venv python `py`. `None` (skip) only outside CI
/// when moto is not installed; in CI a missing moto fails the test.
pub fn start_moto(py: &Path) -> Option<Moto> {
    let have = Command::new(py)
        .args(["-c", "import moto.server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "moto[server] is missing from {} (scripts/install-test-tools.sh installs it)",
            py.display()
        );
        eprintln!("SKIP: moto[server] not installed in {}", py.display());
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(py)
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto");
    let moto = Moto { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(moto)
}
