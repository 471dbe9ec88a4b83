#!/usr/bin/env python3
"""Adds CEA-608 closed captions to a raw H.264 (Annex B) stream.

    add-cea608.py IN.h264 OUT.h264 TEXT

Before every coded picture (a slice NAL unit: single-slice encodes, as
ffmpeg's libx264 writes by default) goes one SEI NAL unit with an ATSC A/53
`user_data_registered_itu_t_t35` message (country 0xB5, provider 0x0031,
"GA94", type 3) carrying `cc_data`: one CEA-608 field-1 byte pair per
picture, the pop-on caption TEXT (resume caption loading, the characters,
end of caption), then padding. That is what broadcast encoders put in
H.264, and what ffprobe reports as "Closed Captions". The fixture is then
remuxed into MP4 by make-fixtures.sh.
"""
import sys


def parity(b: int) -> int:
    """CEA-608 bytes carry odd parity in bit 7."""
    return b | (0x80 if bin(b).count("1") % 2 == 0 else 0)


def pairs(text: str):
    # RCL (resume caption loading), ENM (erase non-displayed memory),
    # the text two characters at a time, EOC (end of caption), each
    # control code twice as 608 does.
    out = [(0x14, 0x20), (0x14, 0x20), (0x14, 0x2E), (0x14, 0x2E)]
    text = text + (" " if len(text) % 2 else "")
    for i in range(0, len(text), 2):
        out.append((ord(text[i]), ord(text[i + 1])))
    out += [(0x14, 0x2F), (0x14, 0x2F)]
    return [(parity(a), parity(b)) for a, b in out]


def sei(pair) -> bytes:
    cc = bytes([0xFC, pair[0], pair[1]]) if pair else bytes([0xFC, 0x80, 0x80])
    t35 = bytes([0xB5, 0x00, 0x31]) + b"GA94" + bytes([0x03, 0x40 | 1, 0xFF]) + cc + bytes([0xFF])
    payload = bytes([4, len(t35)]) + t35 + bytes([0x80])
    # Emulation prevention: no 00 00 0x (x <= 3) in the payload.
    escaped = bytearray()
    zeros = 0
    for b in payload:
        if zeros >= 2 and b <= 3:
            escaped.append(3)
            zeros = 0
        escaped.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return b"\x00\x00\x00\x01\x06" + bytes(escaped)


def nal_units(data: bytes):
    """Splits Annex B into NAL units (with their start codes)."""
    starts = []
    i = 0
    while True:
        j = data.find(b"\x00\x00\x01", i)
        if j < 0:
            break
        s = j - 1 if j > 0 and data[j - 1] == 0 else j
        starts.append(s)
        i = j + 3
    for k, s in enumerate(starts):
        e = starts[k + 1] if k + 1 < len(starts) else len(data)
        yield data[s:e]


def main():
    src, dst, text = sys.argv[1], sys.argv[2], sys.argv[3]
    data = open(src, "rb").read()
    todo = pairs(text)
    out = bytearray()
    pictures = 0
    for nal in nal_units(data):
        body = nal.lstrip(b"\x00")[1:]
        kind = body[0] & 0x1F if body else 0
        if kind in (1, 5):
            out += sei(todo[pictures] if pictures < len(todo) else None)
            pictures += 1
        out += nal
    if pictures < len(todo):
        raise SystemExit(f"{src}: {pictures} pictures, {len(todo)} needed for the caption")
    open(dst, "wb").write(out)


if __name__ == "__main__":
    main()
