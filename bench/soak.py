"""Soak under faults (issue 8, item 5): `castguard serve` under mixed load,
SIGKILLed and restarted on the same port and data directory every
KILL_EVERY seconds, then checked:

- every API write answered 2xx (content keys, content key policies) is
  there after the restarts, with the key id it was answered with;
- no 5xx, and no connection error, outside the kill windows (from the kill
  until the restarted server answers /readyz, plus WINDOW_MARGIN seconds);
- key deliveries with a valid HS256 token get 200 and 16 bytes, those with a
  bad token 401; segments from the cenc and aes128 locators 200;
- memory does not grow: the peak VmRSS of the last restarted server is
  compared with the first restarted one's (the first server's when there is
  one restart), over the same span of seconds since each became ready;
- the audit log (the server's stderr across restarts) has a
  `castguard::audit` `granted` line for every key the client received, matched
  by key id and client address:port (one connection per request).

Standard library only. Loopback only. Run through bench/soak.sh.
"""

import argparse
import base64
import collections
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"
ISSUER = "https://sts.soak.test"
AUDIENCE = "urn:castguard:soak"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def hs256(secret, claims):
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    sig = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Result:
    __slots__ = ("status", "body", "local", "error")

    def __init__(self, status=None, body=b"", local=None, error=None):
        self.status, self.body, self.local, self.error = status, body, local, error


def request(port, method, path, headers=None, body=None, timeout=15):
    """One request on a fresh connection: the client port identifies it in
    the audit log, and no keep-alive connection outlives a killed server."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.connect()
        local = conn.sock.getsockname()
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Result(r.status, r.read(), f"{local[0]}:{local[1]}")
    except (OSError, http.client.HTTPException) as e:
        return Result(error=type(e).__name__)
    finally:
        conn.close()


class Server:
    """castguard serve on a fixed port and data dir; stderr and stdout
    appended to one log across restarts."""

    def __init__(self, binary, data, port, token, log_path):
        self.binary, self.data, self.port, self.token = binary, data, port, token
        self.log = open(log_path, "ab")
        self.proc = None

    def start(self, deadline=60):
        env = dict(os.environ, CASTGUARD_ADMIN_TOKEN=self.token, RUST_LOG="info,sqlx=warn")
        for k in ("CASTGUARD_KEK", "CASTGUARD_KEK_FILE", "CASTGUARD_DATA"):
            env.pop(k, None)
        end = time.time() + deadline
        while True:
            self.proc = subprocess.Popen(
                [self.binary, "serve", "--no-demo", "--rate-limit-per-token", "off", "--listen", f"{HOST}:{self.port}", "--data", self.data],
                stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, env=env,
            )
            while time.time() < end:
                if self.proc.poll() is not None:
                    break  # e.g. the port is not free yet: start again
                r = request(self.port, "GET", "/readyz", timeout=2)
                if r.status == 200:
                    return time.time()
                time.sleep(0.05)
            if time.time() >= end:
                raise SystemExit(f"soak: the server did not become ready within {deadline} s")
            time.sleep(0.2)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            return "timeout"

    def rss_kib(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = collections.Counter()           # kind -> expected answers
        self.events = []                          # (time, kind, what) of 5xx and errors
        self.violations = []
        self.acked_keys = {}                      # name -> keyId
        self.acked_policies = set()
        self.delivered = collections.Counter()    # (kid, client) -> 200 deliveries
        self.refused = 0

    def note(self, kind, what):
        with self.lock:
            self.events.append((time.time(), kind, what))

    def bad(self, msg):
        with self.lock:
            if len(self.violations) < 1000:
                self.violations.append(msg)


def api(port, token, method, path, body=None):
    h = {"Authorization": f"Bearer {token}"}
    if body is not None:
        h["Content-Type"] = "application/json"
        body = json.dumps(body).encode()
    return request(port, method, "/api/v1/" + path, h, body)


def setup(args, port, admin, hmac_key):
    """Asset, token policy, keys and locators through the API (the CLI is a
    client of the same API)."""
    env = dict(os.environ, CASTGUARD_SERVER=f"http://{HOST}:{port}", CASTGUARD_ADMIN_TOKEN=admin)

    def cli(*a):
        out = subprocess.run([args.bin, *a], env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"soak: castguard {' '.join(a)} failed: {out.stderr.strip()}")
        return out.stdout

    cli("asset", "ingest", args.fixture, "--name", "clip")
    policy = {"options": [{"name": "hs256", "configuration": {
        "@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
        "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyTokenRestriction",
                        "issuer": ISSUER, "audience": AUDIENCE, "restrictionTokenType": "Jwt",
                        "primaryVerificationKey": {
                            "@odata.type": "#Microsoft.Media.ContentKeyPolicySymmetricTokenKey",
                            "keyValue": base64.b64encode(hmac_key).decode()}}}]}
    r = api(port, admin, "PUT", "content-key-policies/viewers", policy)
    assert r.status in (200, 201), f"policy: {r.status} {r.body[:200]}"
    kids = {}
    for name, typ in (("env-key", "EnvelopeEncryption"), ("ck-key", "CommonEncryption")):
        r = api(port, admin, "PUT", f"content-keys/{name}", {"type": typ, "policyName": "viewers"})
        assert r.status in (200, 201), f"{name}: {r.status} {r.body[:200]}"
        kids[name] = json.loads(r.body)["keyId"]
    cli("locator", "create", "loc-aes", "--asset", "clip", "--streaming-policy", "Predefined_ClearKey", "--key", "env-key")
    cli("locator", "create", "loc-cenc", "--asset", "clip", "--streaming-policy", "Predefined_MultiDrmCencStreaming", "--key", "ck-key")
    segments = []
    for loc, scheme in (("loc-aes", "aes128"), ("loc-cenc", "cenc")):
        lid = json.loads(cli("locator", "get", loc, "--json"))["streamingLocatorId"]
        base = f"/s/{lid}/{scheme}/"
        master = request(port, "GET", base + "master.m3u8")
        assert master.status == 200, f"{base}master.m3u8: {master.status}"
        for pl in uris(master.body.decode()):
            media = request(port, "GET", base + pl)
            assert media.status == 200, f"{base}{pl}: {media.status}"
            d = pl.rsplit("/", 1)[0] + "/" if "/" in pl else ""
            segments += [base + d + u for u in uris(media.body.decode()) if not u.startswith(("http:", "https:"))]
    assert segments, "no segments in the playlists"
    return kids["env-key"], segments


def uris(playlist):
    out = [l.strip() for l in playlist.splitlines() if l.strip() and not l.startswith("#")]
    out += re.findall(r'#EXT-X-MAP:URI="([^"]+)"', playlist)
    return out


def worker(kind, n, stop, port, stats, admin, token, kid, segments):
    rnd = random.Random(n)
    i = 0
    while not stop.is_set():
        i += 1
        if kind == "write":
            if i % 5 == 0:
                name = f"soak-p{n}-{i}"
                r = api(port, admin, "PUT", f"content-key-policies/{name}",
                        {"options": [{"name": "open", "configuration": {
                            "@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
                            "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyOpenRestriction"}}]})
                if r.status in (200, 201):
                    with stats.lock:
                        stats.acked_policies.add(name)
            else:
                name = f"soak-k{n}-{i}"
                r = api(port, admin, "PUT", f"content-keys/{name}", {"type": "EnvelopeEncryption", "label": "soak"})
                if r.status in (200, 201):
                    with stats.lock:
                        stats.acked_keys[name] = json.loads(r.body)["keyId"]
            want = (200, 201)
        elif kind == "key":
            good = i % 5 != 0
            tok = token if good else token[:-4] + "AAAA"
            r = request(port, "GET", f"/keys/v1/aes/{kid}", {"Authorization": f"Bearer {tok}"})
            want = (200,) if good else (401,)
            if r.status == 200:
                if len(r.body) != 16:
                    stats.bad(f"key delivery: {len(r.body)} bytes")
                if not good:
                    stats.bad("key delivered for a bad token")
                with stats.lock:
                    stats.delivered[(kid, r.local)] += 1
            elif r.status == 401:
                with stats.lock:
                    stats.refused += 1
            kind_name = "key" if good else "key-refused"
        else:
            path = rnd.choice(segments)
            r = request(port, "GET", path)
            want = (200,)
            if r.status == 200 and not r.body:
                stats.bad(f"empty segment {path}")
        k = kind_name if kind == "key" else kind
        if r.error:
            stats.note(k, r.error)
            time.sleep(0.05)  # the server is down: do not spin on a shared machine
        elif r.status >= 500:
            stats.note(k, f"HTTP {r.status}")
        elif r.status in want:
            with stats.lock:
                stats.ok[k] += 1
        else:
            stats.bad(f"{k}: HTTP {r.status} (want {want}) {r.body[:120]!r}")


ANSI = re.compile(r"\x1b\[[0-9;]*m")
AUDIT = re.compile(r'castguard::audit.*?endpoint="?aes"?.*?kid=([0-9a-f-]+).*?result="?granted"?.*?client=([0-9.:]+)')


def audit_grants(log_path):
    grants = collections.Counter()
    with open(log_path, "rb") as f:
        for raw in f:
            line = ANSI.sub("", raw.decode("utf-8", "replace"))
            m = AUDIT.search(line)
            if m:
                grants[(m.group(1), m.group(2))] += 1
    return grants


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--secs", type=float, default=float(os.environ.get("SOAK_SECS", 600)))
    ap.add_argument("--kill-every", type=float, default=float(os.environ.get("KILL_EVERY", 120)))
    ap.add_argument("--threads", type=int, default=int(os.environ.get("SOAK_THREADS", 2)), help="per kind")
    ap.add_argument("--window-margin", type=float, default=float(os.environ.get("WINDOW_MARGIN", 2)))
    ap.add_argument("--rss-growth", type=float, default=float(os.environ.get("RSS_GROWTH", 1.25)),
                    help="allowed ratio of peak RSS, last period / baseline (and at least RSS_SLACK_MIB)")
    ap.add_argument("--rss-slack-mib", type=float, default=float(os.environ.get("RSS_SLACK_MIB", 16)))
    ap.add_argument("--keep", action="store_true", default=bool(os.environ.get("SOAK_KEEP")))
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="castguard-soak-")
    log_path = os.path.join(work, "serve.log")
    port = free_port()
    admin = "soak-" + os.urandom(16).hex()
    hmac_key = os.urandom(32)
    server = Server(args.bin, os.path.join(work, "data"), port, admin, log_path)
    server.start()
    kid, segments = setup(args, port, admin, hmac_key)
    now = int(time.time())
    token = hs256(hmac_key, {"iss": ISSUER, "aud": AUDIENCE, "nbf": now - 60, "exp": now + 86400})
    print(f"soak: {args.secs:.0f} s, SIGKILL every {args.kill_every:.0f} s, {args.threads} threads per kind, "
          f"port {port}, {len(segments)} segment URLs, work dir {work}", flush=True)

    stats = Stats()
    stop = threading.Event()
    threads = [threading.Thread(target=worker, args=(kind, k * 100 + n, stop, port, stats, admin, token, kid, segments), daemon=True)
               for k, kind in enumerate(("write", "key", "segment")) for n in range(args.threads)]
    t0 = time.time()
    periods = [{"ready": t0, "rss": []}]   # one per server process
    windows = []                           # (kill, ready + margin)
    for t in threads:
        t.start()
    next_kill = t0 + args.kill_every
    end = t0 + args.secs
    while time.time() < end:
        if time.time() >= next_kill and next_kill < end - 5:
            killed = time.time()
            server.kill()
            ready = server.start()
            windows.append((killed, ready + args.window_margin))
            periods.append({"ready": ready, "rss": []})
            print(f"soak: t={killed - t0:6.1f} s SIGKILL, ready again after {ready - killed:.2f} s", flush=True)
            next_kill += args.kill_every
        rss = server.rss_kib()
        if rss:
            periods[-1]["rss"].append((time.time() - periods[-1]["ready"], rss))
        time.sleep(2)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    elapsed = time.time() - t0

    # Acknowledged writes, read back from the last server.
    lost = 0
    for name, key_id in sorted(stats.acked_keys.items()):
        r = api(port, admin, "GET", f"content-keys/{name}")
        if r.status != 200 or json.loads(r.body).get("keyId") != key_id:
            lost += 1
            stats.bad(f"acknowledged content key {name} lost or changed: HTTP {r.status}")
    for name in sorted(stats.acked_policies):
        r = api(port, admin, "GET", f"content-key-policies/{name}")
        if r.status != 200:
            lost += 1
            stats.bad(f"acknowledged policy {name} lost: HTTP {r.status}")
    status = server.stop()
    if status != 0:
        stats.bad(f"the last server did not stop cleanly: {status}")

    # 5xx and connection errors: only inside kill windows.
    in_window = lambda t: any(a <= t <= b for a, b in windows)
    fivexx = collections.Counter()
    errors = collections.Counter()
    for t, kind, what in stats.events:
        inside = in_window(t)
        (fivexx if what.startswith("HTTP") else errors)[(kind, inside)] += 1
        if not inside:
            stats.bad(f"{kind}: {what} at t={t - t0:.1f} s, outside the kill windows")

    # Memory: same phase (seconds since ready) of the baseline and last periods.
    def peak(p, upto):
        v = [r for s, r in p["rss"] if s <= upto]
        return max(v) if v else None

    base_i = 1 if len(periods) >= 3 else 0
    base, last = periods[base_i], periods[-1]
    span = min(base["rss"][-1][0] if base["rss"] else 0, last["rss"][-1][0] if last["rss"] else 0)
    pb, pl = peak(base, span), peak(last, span)
    if pb and pl and len(periods) > 1:
        limit = max(pb * args.rss_growth, pb + args.rss_slack_mib * 1024)
        if pl > limit:
            stats.bad(f"memory grew: peak VmRSS {pl / 1024:.1f} MiB in the last period vs {pb / 1024:.1f} MiB "
                      f"in period {base_i} over their first {span:.0f} s")

    # Audit: a granted line for every key the client received.
    grants = audit_grants(log_path)
    missing = sum(max(0, n - grants.get(k, 0)) for k, n in stats.delivered.items())
    delivered = sum(stats.delivered.values())
    if missing:
        stats.bad(f"{missing} of {delivered} delivered keys have no castguard::audit granted line")

    print("\nsoak summary")
    print(f"  duration {elapsed:.0f} s, SIGKILL + restart survived: {len(windows)}, "
          f"kill windows {sum(b - a for a, b in windows):.1f} s in total")
    for k in ("write", "key", "key-refused", "segment"):
        print(f"  {k:12s} {stats.ok[k]:8d} ok  {stats.ok[k] / elapsed:8.1f}/s   "
              f"5xx in/out of windows {fivexx[(k, True)]}/{fivexx[(k, False)]}   "
              f"conn errors in/out {errors[(k, True)]}/{errors[(k, False)]}")
    print(f"  acknowledged writes: {len(stats.acked_keys)} content keys, {len(stats.acked_policies)} policies; lost {lost}")
    for i, p in enumerate(periods):
        v = [r for _, r in p["rss"]]
        if v:
            print(f"  period {i}: VmRSS first {v[0] / 1024:6.1f} MiB, peak {max(v) / 1024:6.1f} MiB, "
                  f"peak over first {span:.0f} s {(peak(p, span) or 0) / 1024:6.1f} MiB, {len(v)} samples")
    print(f"  memory: last period peak {(pl or 0) / 1024:.1f} MiB vs period {base_i} {(pb or 0) / 1024:.1f} MiB "
          f"(same {span:.0f} s phase)")
    print(f"  audit: {delivered} keys delivered, {sum(grants.values())} granted lines, {missing} unaccounted")
    if stats.violations:
        print(f"\nsoak: FAIL, {len(stats.violations)} violations:")
        for v in stats.violations[:30]:
            print("  " + v)
    else:
        print("\nsoak: PASS")
    if args.keep or stats.violations:
        print(f"soak: kept {work} (serve.log has the server output)")
    else:
        subprocess.run(["rm", "-rf", work])
    return 1 if stats.violations else 0


if __name__ == "__main__":
    sys.exit(main())
