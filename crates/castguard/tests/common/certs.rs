//! Test certificates made by `openssl` at test time (never committed): a
//! CA, server certificates for 127.0.0.1 and `localhost` signed by it, and
//! an unrelated key. EC P-256, valid for two days.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A CA, a server certificate signed by it with its key, and an unrelated
/// key (for mismatch cases).
pub struct Certs {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub other_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    super::assert_ok("openssl", &out);
}

const EC: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
];

/// A self-signed certificate and its key, `NAME.pem` and `NAME.key`.
fn self_signed(dir: &Path, name: &str, subject: &str) {
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
    let rest = [
        "-keyout", &key, "-out", &pem, "-days", "2", "-subj", subject,
    ];
    openssl(dir, &[&["req", "-x509"][..], &EC, &rest].concat());
}

pub fn make_certs(dir: &Path) -> Certs {
    self_signed(dir, "ca", "/CN=castguard test CA");
    let (cert, key) = issue_leaf(dir, "server", "localhost");
    self_signed(dir, "other", "/CN=other");
    Certs {
        dir: dir.to_owned(),
        ca: dir.join("ca.pem"),
        cert,
        key,
        other_key: dir.join("other.key"),
    }
}

/// Another server certificate for 127.0.0.1 from the CA in `dir`, with
/// subject `CN=<cn>` and a serial of its own: `NAME.pem`, `NAME.key`.
pub fn issue_leaf(dir: &Path, name: &str, cn: &str) -> (PathBuf, PathBuf) {
    let (key, csr, pem) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
    );
    let subject = format!("/CN={cn}");
    let rest = ["-keyout", &key, "-out", &csr, "-subj", &subject];
    openssl(dir, &[&["req"][..], &EC, &rest].concat());
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    (dir.join(pem), dir.join(key))
}
