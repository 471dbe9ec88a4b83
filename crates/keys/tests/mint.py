#!/usr/bin/env python3
"""Mint test tokens with libraries castguard does not use: PyJWT + cryptography.

The Rust tests in this folder (tests/common/mod.rs) run this script with
$CASTGUARD_PYTHON or <repo>/.venv/bin/python, write one JSON request to stdin
and read one JSON answer from stdout:

request  {"keys":   {"<name>": "rsa" | "ec"},
          "tokens": {"<name>": <spec>}}
answer   {"keys":   {"<name>": {"n","e" | "x","y", "cert_der", "spki_pem", "jwk"}},
          "tokens": {"<name>": "<token>"}}

Key material in the answer: RSA n/e and certificate DER in standard base64
(as the v3 model stores them), EC x/y in base64url, the public JWK as PyJWT
writes it. Private keys never leave this process.

Token specs:
  {"kind": "jwt", "alg": "HS256", "secret_b64": "...", "claims": {...}, "headers": {...}}
  {"kind": "jwt", "alg": "RS256" | "PS256" | "ES256", "key": "<name>", "claims": ..., "headers": ...}
  {"kind": "jwt", "alg": "none", "claims": ...}
  {"kind": "hs256_with_public_key", "key": "<name>", "form": "pem" | "der", "claims": ...}
      an HS256 token whose HMAC key is the RSA/EC *public* key bytes: the
      algorithm-confusion attack (PyJWT refuses to do this, so the HMAC is
      computed with Python's hmac module)
  {"kind": "swt", "secret_b64": "...", "pairs": [["Issuer", "..."], ...]}
      Simple Web Token: form-encoded pairs + &HMACSHA256=<url-encoded base64>
"""

import base64
import datetime
import hashlib
import hmac
import json
import sys
import urllib.parse

try:
    import jwt
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID
except ImportError as e:  # pragma: no cover - environment problem
    sys.stderr.write(
        f"mint.py needs PyJWT and cryptography ({e}).\n"
        "Install them: .venv/bin/pip install pyjwt cryptography "
        "(or point CASTGUARD_PYTHON at a python that has them)\n"
    )
    sys.exit(3)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def self_signed(private_key, name: str) -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(private_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def make_key(name: str, kind: str):
    if kind == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        nums = private.public_key().public_numbers()
        n = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
        e = nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big")
        public = {"n": b64(n), "e": b64(e), "jwk": RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)}
    elif kind == "ec":
        private = ec.generate_private_key(ec.SECP256R1())
        nums = private.public_key().public_numbers()
        public = {
            "x": b64url(nums.x.to_bytes(32, "big")),
            "y": b64url(nums.y.to_bytes(32, "big")),
            "jwk": ECAlgorithm.to_jwk(private.public_key(), as_dict=True),
        }
    else:
        raise SystemExit(f"unknown key type {kind!r} for {name!r}")
    spki_der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public["spki_pem"] = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    public["spki_der"] = b64(spki_der)
    public["cert_der"] = b64(self_signed(private, f"castguard test {name}"))
    return private, public


def mint(spec, private_keys, public_keys) -> str:
    kind = spec["kind"]
    claims = spec.get("claims", {})
    headers = spec.get("headers") or None
    if kind == "jwt":
        alg = spec["alg"]
        if alg == "none":
            return jwt.encode(claims, None, algorithm="none", headers=headers)
        if alg.startswith("HS"):
            key = base64.b64decode(spec["secret_b64"])
        else:
            key = private_keys[spec["key"]]
        return jwt.encode(claims, key, algorithm=alg, headers=headers)
    if kind == "hs256_with_public_key":
        pub = public_keys[spec["key"]]
        secret = pub["spki_pem"].encode() if spec["form"] == "pem" else base64.b64decode(pub["spki_der"])
        header = {"alg": "HS256", "typ": "JWT"}
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + b64url(mac)
    if kind == "swt":
        body = urllib.parse.urlencode([(k, v) for k, v in spec["pairs"]])
        mac = hmac.new(base64.b64decode(spec["secret_b64"]), body.encode(), hashlib.sha256).digest()
        return body + "&HMACSHA256=" + urllib.parse.quote(b64(mac), safe="")
    raise SystemExit(f"unknown token kind {kind!r}")


def main() -> None:
    request = json.load(sys.stdin)
    private_keys, public_keys = {}, {}
    for name, kind in request.get("keys", {}).items():
        private_keys[name], public_keys[name] = make_key(name, kind)
    tokens = {name: mint(spec, private_keys, public_keys) for name, spec in request.get("tokens", {}).items()}
    json.dump({"keys": public_keys, "tokens": tokens}, sys.stdout)


if __name__ == "__main__":
    main()
