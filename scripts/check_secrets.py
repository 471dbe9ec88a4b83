"""Secrets hygiene check (issue 8, item 4): no test secret in server output.

    check_secrets.py LOGDIR      every file under LOGDIR (what scripts/test.sh
                                 collected: server stderr/stdout, captured
                                 tracing, cargo test output)
    check_secrets.py --sources   the end-to-end test sources hold no key or
                                 token literal that tests/secrets.txt lacks

The secrets come from tests/secrets.txt (name, encoding hex|b64|text, value).
Each is searched for as lowercase hex, uppercase hex, base64 (with or
without padding), base64url and, for `text` ones, as written. A hit is
reported as FILE:LINE with the secret's name and the form found, never the
secret or the line itself (the report must not leak what it found). Exit 1
on any hit, 2 on bad input (no list, nothing to check).
"""

import base64
import binascii
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIST = os.path.join(ROOT, "tests", "secrets.txt")
# End-to-end tests whose secrets reach a castguard server.
SOURCE_DIRS = ["crates/castguard/tests", "crates/server/tests"]
# Shorter forms would match by chance.
MIN_FORM = 12


def load_list(path=LIST):
    secrets = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) != 3:
                sys.exit(f"{path}:{n}: want 'name encoding value'")
            name, enc, value = parts
            try:
                raw = {
                    "hex": lambda v: bytes.fromhex(v),
                    "b64": lambda v: base64.b64decode(v, validate=True),
                    "text": lambda v: v.encode(),
                }[enc](value)
            except (KeyError, ValueError, binascii.Error):
                sys.exit(f"{path}:{n}: bad encoding or value for {name}")
            secrets.append((name, enc, raw))
    if not secrets:
        sys.exit(f"{path}: no secrets listed")
    return secrets


def forms(enc, raw):
    """(form name, text) pairs to search for."""
    b64 = base64.b64encode(raw).decode().rstrip("=")
    out = {
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "base64": b64,
        "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }
    if enc == "text":
        out["text"] = raw.decode()
    seen, pairs = set(), []
    for k, v in out.items():
        if len(v) >= MIN_FORM and v not in seen:
            seen.add(v)
            pairs.append((k, v))
    return pairs


def check_logs(logdir):
    secrets = load_list()
    needles = [(name, form, text) for name, enc, raw in secrets for form, text in forms(enc, raw)]
    files = []
    for d, _, names in os.walk(logdir):
        files += [os.path.join(d, n) for n in sorted(names)]
    if not files:
        print(f"check-secrets: no files under {logdir}: nothing was collected", file=sys.stderr)
        return 2
    hits = 0
    for path in sorted(files):
        with open(path, "rb") as f:
            data = f.read().decode("utf-8", "replace")
        for name, form, text in needles:
            at = data.find(text)
            while at >= 0:
                line = data.count("\n", 0, at) + 1
                print(f"{os.path.relpath(path, logdir)}:{line}: test secret '{name}' ({form} form)")
                hits += 1
                at = data.find(text, at + 1)
    print(
        f"check-secrets: {len(files)} files, {len(secrets)} secrets in {len(needles)} forms: "
        f"{'FAIL, ' + str(hits) + ' occurrences' if hits else 'clean'}",
        file=sys.stderr,
    )
    return 1 if hits else 0


CONST = re.compile(
    r'const\s+(\w+)\s*:\s*(?:&str|&\[u8\]|\[u8;\s*\d+\])\s*=\s*(\*?b?"(?:[^"\\]|\\.)*"|\[[^\]]*\])'
)
ARG = re.compile(r'"--(?:value|symmetric-key|key-seed)",\s*"([^"]+)"')
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|HMAC|SEED|ADMIN")


def literal_bytes(lit):
    """The bytes of a Rust literal: "..", b"..", *b"..", [0x.., ..], [0x..; n]."""
    lit = lit.lstrip("*")
    if lit.startswith("["):
        rep = re.fullmatch(r"\[\s*(0x[0-9a-fA-F]+|\d+)\s*;\s*(\d+)\s*\]", lit)
        if rep:
            return bytes([int(rep.group(1), 0)] * int(rep.group(2)))
        return bytes(int(x, 0) for x in re.findall(r"0x[0-9a-fA-F]+|\d+", lit))
    body = lit[2:-1] if lit.startswith("b") else lit[1:-1]
    return body.encode().decode("unicode_escape").encode("latin-1")


def interpretations(raw):
    out = {raw}
    text = raw.decode("latin-1")
    if re.fullmatch(r"[0-9a-fA-F]{32,}", text) and len(text) % 2 == 0:
        out.add(bytes.fromhex(text))
    if re.fullmatch(r"[A-Za-z0-9+/_-]{16,}={0,2}", text):
        try:
            out.add(base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text or "_" in text else None))
        except (binascii.Error, ValueError):
            pass
    return out


def check_sources():
    listed = {raw for _, _, raw in load_list()}
    missing = 0
    for rel in SOURCE_DIRS:
        for d, _, names in os.walk(os.path.join(ROOT, rel)):
            for n in sorted(names):
                if not n.endswith(".rs"):
                    continue
                path = os.path.join(d, n)
                src = open(path, encoding="utf-8").read()
                found = [(m.start(), m.group(2)) for m in CONST.finditer(src)
                         if SECRET_NAME.search(m.group(1)) and "KID" not in m.group(1)]
                found += [(m.start(), '"' + m.group(1) + '"') for m in ARG.finditer(src)]
                for at, lit in found:
                    raw = literal_bytes(lit)
                    if len(raw) < 8 or interpretations(raw) & listed:
                        continue
                    line = src.count("\n", 0, at) + 1
                    print(f"{os.path.relpath(path, ROOT)}:{line}: key/token literal not in tests/secrets.txt")
                    missing += 1
    print(f"check-secrets --sources: {'FAIL' if missing else 'every test secret is listed'}", file=sys.stderr)
    return 1 if missing else 0


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[1] == "--sources":
        return check_sources()
    if not os.path.isdir(argv[1]):
        print(f"check-secrets: {argv[1]} is not a directory", file=sys.stderr)
        return 2
    return check_logs(argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
