#!/usr/bin/env python3
"""StandIn vendor license servers (Axinom DRM, castLabs DRMtoday, PallyCon /
DoveRunner, a generic JWT vendor) for crates/server/tests/delivery_vendors.rs.

Not a license server: castguard cannot run the vendors' servers (they need
DRM credentials), so this stand-in checks the authorization message that
castguard sends beside the license challenge the way each vendor's public
documentation specifies it, with libraries castguard does not use (PyJWT,
cryptography), and answers a fixed body when it is right:

- Axinom (docs.axinom.com, License Service Message / Entitlement Message v2):
  `X-AxDRM-Message` = JWT HS256 with the base64-decoded 32-byte communication
  key; version 1, com_key_id, message {type entitlement_message, version 2,
  exactly one content_keys_source, inline ids as GUIDs}; encrypted_key =
  AES-256-CBC without padding, IV = the key id's bytes; every usage_policy
  names a listed policy; begin_date <= now <= expiration_date.
- DRMtoday (upfront authorization token): `x-dt-auth-token` = JWT HS256 with
  the hex-decoded shared secret, header alg/kid/typ, claims jti, iat, exp,
  optData and crt as JSON *strings*; optData.merchant; crt rights.
- PallyCon (license token): `pallycon-customdata-v2` = base64(JSON);
  timestamp within 600 s; hash = base64(sha256(access_key + drm_type + site_id
  + user_id + cid + policy + timestamp)); policy = AES-256-CBC/PKCS7 with the
  site key's 32 characters and IV "0123456789abcdef", policy_version 2.
- generic: a JWT HS256 with the configured secret in the configured header.

Then the rights are compared with what the test expects (key ids, keys,
persistence, subject, durations).

Usage: vendor_standin.py CONFIG.json; prints "PORT <n>" and serves on
127.0.0.1 until killed. CONFIG: {"routes": {"/path": {"vendor": ..., secrets,
"expect": {...}}}}. A right message gets 200 "STANDIN-LICENSE <vendor>:" +
the challenge; a wrong one 403 {"refused": reason}; GET /log lists what each
request got.
"""

import base64
import datetime
import hashlib
import json
import re
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

CONFIG = json.load(open(sys.argv[1]))
LOG = []
LOCK = threading.Lock()


class Refused(Exception):
    pass


def need(cond, why):
    if not cond:
        raise Refused(why)


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(s, what):
    try:
        return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except Exception:
        raise Refused(f"{what}: not ISO 8601: {s!r}")


def check_rights(got, expect, what):
    """got: dict of the rights the message carries."""
    for k, v in expect.items():
        if k in ("kids", "keys"):
            continue
        need(got.get(k) == v, f"{what}: {k} is {got.get(k)!r}, expected {v!r}")


def axinom(headers, cfg):
    token = headers.get("X-AxDRM-Message")
    need(token, "no X-AxDRM-Message header")
    need(not token.lower().startswith("bearer"), "X-AxDRM-Message must not have a Bearer prefix")
    key = base64.b64decode(cfg["communication_key"])
    need(len(key) == 32, "communication key is not 32 bytes")
    try:
        claims = jwt.decode(token, key, algorithms=["HS256"], options={"verify_aud": False})
    except jwt.PyJWTError as e:
        raise Refused(f"signature: {e}")
    need(claims.get("version") == 1, "version is not 1")
    need(claims.get("com_key_id") == cfg["communication_key_id"], "com_key_id differs")
    if "begin_date" in claims:
        need(iso(claims["begin_date"], "begin_date") <= now(), "begin_date in the future")
    if "expiration_date" in claims:
        need(iso(claims["expiration_date"], "expiration_date") >= now(), "message expired")
    m = claims.get("message")
    need(isinstance(m, dict), "message is not an object")
    need(m.get("type") == "entitlement_message" and m.get("version") == 2, "not an entitlement message v2")
    src = m.get("content_keys_source")
    need(isinstance(src, dict) and len(src) == 1 and "inline" in src, "content_keys_source must be inline only")
    names = {p.get("name") for p in m.get("content_key_usage_policies", [])}
    need(all(n for n in names), "a usage policy without a name")
    kids, keys = [], {}
    for entry in src["inline"]:
        kid = entry["id"]
        need(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", kid), f"id {kid!r} is not a GUID")
        kids.append(kid)
        if "usage_policy" in entry:
            need(entry["usage_policy"] in names, f"usage_policy {entry['usage_policy']!r} is not listed")
        if "encrypted_key" in entry:
            dec = Cipher(algorithms.AES(key), modes.CBC(uuid.UUID(kid).bytes)).decryptor()
            enc = base64.b64decode(entry["encrypted_key"])
            need(len(enc) == 16, "encrypted_key is not 16 bytes")
            keys[kid] = (dec.update(enc) + dec.finalize()).hex()
    lic = m.get("license", {})
    need(isinstance(lic.get("allow_persistence", False), bool), "allow_persistence is not a boolean")
    rights = {
        "persistent": lic.get("allow_persistence", False),
        "license_duration": lic.get("duration"),
    }
    return kids, keys, rights


def drmtoday(headers, cfg):
    token = headers.get("x-dt-auth-token")
    need(token, "no x-dt-auth-token header")
    secret = bytes.fromhex(cfg["shared_secret_hex"])
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, secret, algorithms=["HS256", "HS384", "HS512"], options={"require": ["iat", "jti"]})
    except jwt.PyJWTError as e:
        raise Refused(f"token: {e}")
    need(header.get("typ") == "JWT", "header typ is not JWT")
    need(header.get("kid") == cfg["kid"], "header kid differs")
    need(isinstance(claims.get("jti"), str) and claims["jti"], "no jti")
    need(claims["iat"] <= now().timestamp() + 5, "iat in the future")
    need(isinstance(claims.get("optData"), str), "optData must be a JSON string")
    need(isinstance(claims.get("crt"), str), "crt must be a JSON string")
    opt = json.loads(claims["optData"])
    need(opt.get("merchant") == cfg["merchant"], "merchant differs")
    crt = json.loads(claims["crt"])
    crts = crt if isinstance(crt, list) else [crt]
    need(crts, "empty crt")
    kids = []
    for c in crts:
        kids.append(c.get("assetId"))
        profile = c.get("profile")
        need(isinstance(profile, dict) and len(profile) == 1 and set(profile) <= {"purchase", "rental"}, f"profile {profile!r}")
    rights = {"persistent": crts[0].get("storeLicense", False), "sub": opt.get("userId")}
    rental = crts[0]["profile"].get("rental")
    rights["rental"] = rental is not None
    return kids, {}, rights


def pallycon(headers, cfg):
    token = headers.get("pallycon-customdata-v2")
    need(token, "no pallycon-customdata-v2 header")
    try:
        t = json.loads(base64.b64decode(token, validate=True))
    except Exception:
        raise Refused("token is not base64 JSON")
    for f in ("drm_type", "site_id", "user_id", "cid", "policy", "timestamp", "hash"):
        need(isinstance(t.get(f), str), f"no {f}")
    need(t["site_id"] == cfg["site_id"], "site_id differs")
    need(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", t["timestamp"]), "timestamp format")
    age = (now() - iso(t["timestamp"], "timestamp")).total_seconds()
    need(-5 <= age <= 600, f"timestamp {age} s old")
    msg = cfg["access_key"] + t["drm_type"] + t["site_id"] + t["user_id"] + t["cid"] + t["policy"] + t["timestamp"]
    need(base64.b64encode(hashlib.sha256(msg.encode()).digest()).decode() == t["hash"], "hash mismatch")
    dec = Cipher(algorithms.AES(cfg["site_key"].encode()), modes.CBC(b"0123456789abcdef")).decryptor()
    raw = dec.update(base64.b64decode(t["policy"])) + dec.finalize()
    unpad = padding.PKCS7(128).unpadder()
    policy = json.loads(unpad.update(raw) + unpad.finalize())
    need(policy.get("policy_version") == 2, "policy_version is not 2")
    pb = policy.get("playback_policy", {})
    keys = {}
    for k in policy.get("external_key", {}).get("mpeg_cenc", []):
        need(re.fullmatch(r"[0-9a-f]{32}", k["key_id"]) and re.fullmatch(r"[0-9a-f]{32}", k["key"]), "external key not hex")
        keys[str(uuid.UUID(k["key_id"]))] = k["key"]
    rights = {
        "persistent": pb.get("persistent", False),
        "license_duration": pb.get("license_duration"),
        "sub": t["user_id"],
        "drm": t["drm_type"],
    }
    return [t["cid"]], keys, rights


def generic(headers, cfg):
    token = headers.get(cfg["header"])
    need(token, f"no {cfg['header']} header")
    try:
        claims = jwt.decode(token, base64.b64decode(cfg["secret"]), algorithms=["HS256"])
    except jwt.PyJWTError as e:
        raise Refused(f"token: {e}")
    return claims.get("kids", []), {}, {"persistent": claims.get("offline"), "sub": claims.get("user")}


VENDORS = {"axinom": axinom, "drmtoday": drmtoday, "pallycon": pallycon, "generic": generic}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with LOCK:
            body = json.dumps(LOG).encode()
        self.answer(200, body)

    def do_POST(self):
        challenge = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        cfg = CONFIG["routes"].get(self.path)
        if cfg is None:
            return self.answer(404, b"{}")
        entry = {"route": self.path}
        try:
            need(challenge, "no challenge")
            need(self.headers.get("Authorization") is None, "the viewer's token reached the vendor")
            kids, keys, rights = VENDORS[cfg["vendor"]](self.headers, cfg)
            expect = cfg["expect"]
            need(kids == expect["kids"], f"key ids {kids}, expected {expect['kids']}")
            need(keys == expect.get("keys", {}), "keys differ from the granted ones")
            check_rights(rights, expect, cfg["vendor"])
        except Refused as e:
            entry["refused"] = str(e)
            with LOCK:
                LOG.append(entry)
            return self.answer(403, json.dumps({"refused": str(e)}).encode())
        entry["ok"] = True
        with LOCK:
            LOG.append(entry)
        self.answer(200, f"STANDIN-LICENSE {cfg['vendor']}:".encode() + challenge, "application/octet-stream")


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"PORT {server.server_address[1]}", flush=True)
server.serve_forever()
