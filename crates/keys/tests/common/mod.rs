//! Shared by the integration tests: tokens minted by PyJWT (tests/mint.py),
//! so castguard's verifier is checked against an implementation it did not
//! write.

#![allow(dead_code)]

use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The python that runs mint.py: `$CASTGUARD_PYTHON`, else the repository's
/// `.venv/bin/python`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("CASTGUARD_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    if !venv.exists() {
        panic!(
            "token tests mint tokens with PyJWT: no python at {} and CASTGUARD_PYTHON is not set.\n\
             Run scripts/install-test-tools.sh, or: python3 -m venv .venv && .venv/bin/pip install pyjwt cryptography",
            venv.display()
        );
    }
    venv
}

/// Runs mint.py with `request`; returns its answer (`{"keys", "tokens"}`).
pub fn mint(request: &Value) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mint.py");
    let py = python();
    let mut child = Command::new(&py)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", py.display()));
    child.stdin.take().unwrap().write_all(request.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        panic!("mint.py failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    serde_json::from_slice(&out.stdout).expect("mint.py answer is JSON")
}

pub fn b64(v: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(v)
}

pub fn unb64(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).expect("base64 from mint.py")
}
