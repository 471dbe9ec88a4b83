"""Independent checks of key rotation (lxml, hashlib and hmac; no
castguard code), for rotation_e2e.rs:

    rotation_check.py mpd FILE.mpd
        {"type": ..., "periods": [{"id", "start", "sets": [{"contentType",
        "defaultKids": [...], "reps": [{"id", "initialization", "media",
        "startNumber", "presentationTimeOffset", "timescale",
        "segments": [[t, d], ...]}]}]}]}: what an MPD's periods say, with
        every SegmentTimeline expanded (S@t, @d, @r).
    rotation_check.py period-key KID_HEX KEY_HEX PERIOD
        {"kid": uuid, "key": hex}: the key of a crypto period as
        docs/key-rotation.md specifies its derivation (SHA-256 for the KID,
        marked as a version 8 UUID; HMAC-SHA256 keyed with the base key for
        the value).
"""

import hashlib
import hmac
import json
import sys
import uuid

from lxml import etree

NS = {"mpd": "urn:mpeg:dash:schema:mpd:2011", "cenc": "urn:mpeg:cenc:2013"}
PARSER = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False)


def mpd(path):
    root = etree.parse(path, PARSER).getroot()
    periods = []
    for p in root.findall("mpd:Period", NS):
        sets = []
        for s in p.findall("mpd:AdaptationSet", NS):
            kids = [cp.get("{urn:mpeg:cenc:2013}default_KID") for cp in s.findall("mpd:ContentProtection", NS)
                    if cp.get("{urn:mpeg:cenc:2013}default_KID")]
            reps = []
            for r in s.findall("mpd:Representation", NS):
                st = r.find("mpd:SegmentTemplate", NS)
                segs = []
                t = 0
                for e in st.findall("mpd:SegmentTimeline/mpd:S", NS):
                    t = int(e.get("t", t))
                    d = int(e.get("d"))
                    for _ in range(int(e.get("r", "0")) + 1):
                        segs.append([t, d])
                        t += d
                reps.append({"id": r.get("id"), "initialization": st.get("initialization"), "media": st.get("media"),
                             "startNumber": int(st.get("startNumber", "1")),
                             "presentationTimeOffset": int(st.get("presentationTimeOffset", "0")),
                             "timescale": int(st.get("timescale", "1")), "segments": segs})
            sets.append({"contentType": s.get("contentType"), "mimeType": s.get("mimeType"),
                         "defaultKids": kids, "reps": reps})
        periods.append({"id": p.get("id"), "start": p.get("start"), "sets": sets})
    return {"type": root.get("type"), "duration": root.get("mediaPresentationDuration"), "periods": periods}


def period_key(kid_hex, key_hex, period):
    kid = bytes.fromhex(kid_hex)
    key = bytes.fromhex(key_hex)
    if period == 0:
        return {"kid": str(uuid.UUID(bytes=kid)), "key": key.hex()}
    p = period.to_bytes(4, "big")
    d = bytearray(hashlib.sha256(b"castguard key period kid" + kid + p).digest()[:16])
    d[6] = (d[6] & 0x0F) | 0x80
    d[8] = (d[8] & 0x3F) | 0x80
    value = hmac.new(key, b"castguard key period" + kid + p, hashlib.sha256).digest()[:16]
    return {"kid": str(uuid.UUID(bytes=bytes(d))), "key": value.hex()}


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "mpd":
        print(json.dumps(mpd(sys.argv[2])))
    elif cmd == "period-key":
        print(json.dumps(period_key(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    else:
        sys.exit(f"unknown command {cmd}")
