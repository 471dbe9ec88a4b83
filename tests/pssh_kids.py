#!/usr/bin/env python3
"""Print the key IDs that pywidevine reads from every PSSH box in a file.

Usage: pssh_kids.py FILE...   (FILE: an MP4/CMAF init segment or fragment, or a DASH MPD)

For an MP4, every `pssh` box found at the top level, in `moov` or in `moof`
(ISO/IEC 23001-7 clause 8.1) is decoded; for an MPD, every `cenc:pssh`
element (ISO/IEC 23001-7 clause 11.2.1, base64 of a whole pssh box). Output is
one line per key ID:

    <source> <system> <kid as 32 lowercase hex digits>

with <source> `mp4` or `mpd` and <system> one of common, widevine, playready,
or the system UUID. PlayReady header KIDs are base64 of a GUID, whose first
three fields are little-endian; pywidevine returns them as UUID(bytes=...),
i.e. still in GUID byte order, so they are converted here to the big-endian
CENC KID for comparison with `tenc`/`default_KID`. A PSSH that pywidevine
cannot decode is an error (exit 1): the test must see it.

This is an independent reader of our output on purpose: it uses pywidevine's
parser (PyPI pywidevine), not castguard's code.
"""
import base64
import struct
import sys
from uuid import UUID

from pywidevine.pssh import PSSH

COMMON = UUID("1077efec-c0b2-4d02-ace3-3c1e52e2fb4b")
WIDEVINE = UUID("edef8ba9-79d6-4ace-a3c8-27dcd51d21ed")
PLAYREADY = UUID("9a04f079-9840-4286-ab92-e65be0885f95")
CONTAINERS = {b"moov", b"moof"}


def pssh_boxes(data, start=0, end=None):
    """Yield the bytes of every pssh box in data[start:end], descending into moov/moof."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise ValueError(f"truncated 64-bit box size at offset {pos}")
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"box {kind!r} at offset {pos} has bad size {size}")
        if kind == b"pssh":
            yield data[pos:pos + size]
        elif kind in CONTAINERS:
            yield from pssh_boxes(data, pos + header, pos + size)
        pos += size


def mpd_pssh(data):
    from lxml import etree

    root = etree.fromstring(data)
    for el in root.iter("{urn:mpeg:cenc:2013}pssh"):
        text = (el.text or "").strip()
        if text:
            yield base64.b64decode(text)


def system_name(system_id):
    return {COMMON: "common", WIDEVINE: "widevine", PLAYREADY: "playready"}.get(system_id, str(system_id))


def box_kid_count(box):
    """KID_count of a version 1 pssh box (0 for version 0), read from the raw bytes."""
    header = 16 if struct.unpack(">I", box[:4])[0] == 1 else 8
    if box[header] != 1 or len(box) < header + 4 + 16 + 4:
        return 0
    return struct.unpack(">I", box[header + 20:header + 24])[0]


def kids(box):
    pssh = PSSH(box, strict=True)
    # pywidevine returns the box's own KID list for a v1 box that has one
    # (big-endian, as written), else the KIDs inside the system's data.
    from_playready_header = pssh.system_id == PLAYREADY and box_kid_count(box) == 0
    out = []
    for kid in pssh.key_ids:
        if from_playready_header:
            kid = UUID(bytes_le=kid.bytes)
        out.append(kid.hex)
    return system_name(pssh.system_id), out


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    for path in argv[1:]:
        with open(path, "rb") as f:
            data = f.read()
        is_mpd = data.lstrip()[:5] == b"<?xml" or b"<MPD" in data[:512]
        boxes = mpd_pssh(data) if is_mpd else pssh_boxes(data)
        source = "mpd" if is_mpd else "mp4"
        for box in boxes:
            name, ids = kids(box)
            if not ids:
                print(f"{source} {name} -")
            for kid in ids:
                print(f"{source} {name} {kid}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception as e:  # report, do not hide: the caller asserts on exit status
        print(f"pssh_kids.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
