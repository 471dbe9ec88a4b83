#!/usr/bin/env python3
"""Appends the Joint Object Coding extension to the dec3 box of an E-AC-3 MP4.

    patch-dec3-joc.py IN.mp4 OUT.mp4 COMPLEXITY_INDEX

ETSI TS 103 420 Annex C.3.1: after the substreams, dec3 may carry
reserved(7) flag_ec3_extension_type_a(1) complexity_index_type_a(8); Dolby
Atmos in E-AC-3 sets the flag, with the number of objects (usually 16) as the
complexity index. ffmpeg cannot encode JOC, so the fixture is ffmpeg's 5.1
E-AC-3 with this signalling added: what the packager reads and announces.

The moov must come after the mdat (ffmpeg's default without +faststart):
growing it then moves no sample, so no chunk offset changes. Every box on
the path to dec3 grows by the two bytes.
"""
import struct
import sys

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def patch(data: bytearray, start: int, end: int, extra: bytes, path: list) -> bool:
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if size < 8:
            raise SystemExit(f"unsupported box size {size} at {pos}")
        inner = None
        if kind in CONTAINERS:
            inner = (pos + 8, pos + size)
        elif kind == b"stsd":
            inner = (pos + 16, pos + size)
        elif kind == b"ec-3":
            inner = (pos + 8 + 28, pos + size)
        elif kind == b"dec3":
            at = pos + size
            data[at:at] = extra
            for _, p in path + [(kind, pos)]:
                old = struct.unpack(">I", data[p:p + 4])[0]
                data[p:p + 4] = struct.pack(">I", old + len(extra))
            return True
        if inner and patch(data, inner[0], inner[1], extra, path + [(kind, pos)]):
            return True
        pos += size
    return False


def main() -> None:
    src, dst, index = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = bytearray(open(src, "rb").read())
    moov = data.find(b"moov")
    mdat = data.find(b"mdat")
    if moov < 0 or mdat < 0 or moov < mdat:
        raise SystemExit(f"{src}: moov must follow mdat")
    if not patch(data, 0, len(data), bytes([0x01, index & 0xFF]), []):
        raise SystemExit(f"{src}: no dec3 box")
    open(dst, "wb").write(data)


if __name__ == "__main__":
    main()
