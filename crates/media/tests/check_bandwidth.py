#!/usr/bin/env python3
"""Recomputes the bit rates a packaged title announces from its files.

Usage: check_bandwidth.py DIR [TOLERANCE]

DIR is any packaged output: master.m3u8 (and, if present, manifest.mpd)
with the segment files they point at. Nothing here reads castguard's code
or model: playlists are parsed with PyPI `m3u8`, the MPD with `lxml`, and
every size is the size of a file on disk.

- HLS (RFC 8216 4.3.4.2): a media playlist's peak segment bit rate is the
  largest bit rate of any contiguous set of segments whose total EXTINF
  duration is between 0.5 and 1.5 times EXT-X-TARGETDURATION (sizes summed
  over durations summed); its average is all bytes over the playlist
  duration. A variant with an AUDIO group plays one rendition of it at a
  time, so its BANDWIDTH must match video peak + the largest audio peak of
  the group, and AVERAGE-BANDWIDTH video average + the largest audio
  average: the audio counted once.
- DASH (ISO/IEC 23009-1 5.3.5.2): @bandwidth is the smallest B such that,
  delivery starting at any segment s, every later segment k has arrived
  when its playout starts: bits(s..=k) <= B * (minBufferTime + t(k) - t(s)).

Declared and recomputed figures must agree within TOLERANCE (default 0.10,
Apple's HLS Authoring Specification: measured peak and average within 10%
of BANDWIDTH and AVERAGE-BANDWIDTH).

Exit status: 0 all good, 1 a figure is off, 3 a parser package is missing.
"""

import os
import re
import sys
from fractions import Fraction

try:
    import m3u8
    from lxml import etree
except ImportError as e:  # pragma: no cover - environment problem, not a check
    sys.stderr.write(f"missing Python package ({e}); install with: .venv/bin/pip install m3u8 lxml\n")
    sys.exit(3)

NS = {"mpd": "urn:mpeg:dash:schema:mpd:2011"}
failures = []


def within(declared, expected, tolerance, what):
    ok = expected > 0 and abs(declared - expected) <= tolerance * expected
    print(f"{'ok  ' if ok else 'FAIL'} {what}: declared {declared}, from the files {expected:.0f}"
          f" ({(declared - expected) / expected * 100 if expected else float('inf'):+.1f}%)")
    if not ok:
        failures.append(what)


def media_rates(path):
    """(peak, average) bit/s of one media playlist, from its segment files."""
    pl = m3u8.load(path)
    base = os.path.dirname(path)
    sizes = [os.path.getsize(os.path.join(base, s.uri)) for s in pl.segments]
    durs = [Fraction(str(s.duration)) for s in pl.segments]
    target = Fraction(pl.target_duration)
    peak = None
    for s in range(len(sizes)):
        bits, secs = 0, Fraction(0)
        for k in range(s, len(sizes)):
            bits += sizes[k] * 8
            secs += durs[k]
            if secs > target * 3 / 2:
                break
            if secs >= target / 2 and secs > 0:
                peak = max(peak or 0, bits / secs)
    total = sum(durs)
    average = sum(sizes) * 8 / total if total else 0
    if peak is None:  # no window of 0.5-1.5 target: the whole playlist
        peak = average
    return float(peak), float(average)


def check_hls(d, tolerance):
    master = m3u8.load(os.path.join(d, "master.m3u8"))
    rates = {}

    def rate(uri):
        if uri not in rates:
            rates[uri] = media_rates(os.path.join(d, uri))
        return rates[uri]

    if not master.playlists:
        failures.append("master.m3u8: no variants")
    for p in master.playlists:
        si = p.stream_info
        peak, avg = rate(p.uri)
        group = [m for m in master.media if m.type == "AUDIO" and si.audio and m.group_id == si.audio]
        if si.audio and not group:
            failures.append(f"{p.uri}: AUDIO group {si.audio!r} has no renditions")
        audio = [rate(m.uri) for m in group if m.uri]
        peak += max((a[0] for a in audio), default=0)
        avg += max((a[1] for a in audio), default=0)
        what = f"HLS variant {p.uri} + audio group {si.audio}"
        within(si.bandwidth, peak, tolerance, f"{what} BANDWIDTH")
        if si.average_bandwidth is None:
            failures.append(f"{what}: no AVERAGE-BANDWIDTH")
        else:
            within(si.average_bandwidth, avg, tolerance, f"{what} AVERAGE-BANDWIDTH")


def iso_seconds(text):
    m = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", text or "")
    if not m:
        return None
    h, mi, s = m.groups()
    return Fraction(int(h or 0) * 3600 + int(mi or 0) * 60) + Fraction(s or "0")


def expand(template, rep_id, number, time, bandwidth):
    def sub(m):
        name, fmt = m.group(1), m.group(2)
        if name == "":
            return "$"
        value = {"RepresentationID": rep_id, "Number": number, "Time": time, "Bandwidth": bandwidth}[name]
        if fmt and name != "RepresentationID":
            return f"%{fmt[1:]}" % value
        return str(value)

    return re.sub(r"\$(RepresentationID|Number|Time|Bandwidth|)(%0\d+d)?\$", sub, template)


def check_dash(d, tolerance):
    path = os.path.join(d, "manifest.mpd")
    if not os.path.exists(path):
        return
    root = etree.parse(path).getroot()
    min_buffer = iso_seconds(root.get("minBufferTime"))
    for rep in root.iterfind("mpd:Period/mpd:AdaptationSet/mpd:Representation", NS):
        st = rep.find("mpd:SegmentTemplate", NS)
        ts = int(st.get("timescale", "1"))
        number = int(st.get("startNumber", "1"))
        segs, t = [], 0
        for s in st.iterfind("mpd:SegmentTimeline/mpd:S", NS):
            t = int(s.get("t", t))
            for _ in range(int(s.get("r", "0")) + 1):
                segs.append((t, int(s.get("d"))))
                t += int(s.get("d"))
        sizes = []
        for i, (start, _) in enumerate(segs):
            uri = expand(st.get("media"), rep.get("id"), number + i, start, rep.get("bandwidth"))
            sizes.append(os.path.getsize(os.path.join(d, uri)))
        need = Fraction(0)
        for s in range(len(segs)):
            bits = 0
            for k in range(s, len(segs)):
                bits += sizes[k] * 8
                wait = min_buffer + Fraction(segs[k][0] - segs[s][0], ts)
                need = max(need, bits / wait) if wait > 0 else need
        within(int(rep.get("bandwidth")), float(need), tolerance, f"DASH Representation {rep.get('id')} @bandwidth")


def main(args):
    d = args[0]
    tolerance = float(args[1]) if len(args) > 1 else 0.10
    check_hls(d, tolerance)
    check_dash(d, tolerance)
    if failures:
        print(f"{len(failures)} figure(s) off by more than {tolerance:.0%}")
        return 1
    print("all bit rates match the files")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
