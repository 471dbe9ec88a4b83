#!/usr/bin/env python3
"""Checks castguard's manifests with parsers we did not write.

Usage: check_manifests.py DIR [DIR ...]

Each DIR holds one scenario: expect.json (what the manifests must say,
written by the Rust test from its model), manifest.mpd (unless
"mpd" is null), master.m3u8 and one media playlist per track.

- The MPD must be well-formed XML (lxml), with the DASH, CENC, PlayReady,
  DASH-IF and Clear Key namespaces bound to their URIs, and parse with
  `mpegdash`; per representation the attributes, the SegmentTemplate and the
  expanded SegmentTimeline must match; ContentProtection is read with lxml
  by namespace (cenc:default_KID, cenc:pssh, mspr:pro, dashif:Laurl,
  clearkey:Laurl, ms:laurl) and each pssh box / PlayReady object is decoded.
- Playlists must parse with `m3u8` in strict mode; master variants and audio
  renditions, and per media playlist the segment count, each EXTINF, their
  sum, the target duration, the key METHOD/URI/IV/KEYFORMAT and the order
  EXT-X-MAP before EXT-X-KEY must match.

Exit status: 0 all good, 1 a check failed, 3 a parser package is missing.
"""

import base64
import json
import math
import os
import re
import struct
import sys
from fractions import Fraction

try:
    import m3u8
    import m3u8.parser
    from lxml import etree
    from mpegdash.parser import MPEGDASHParser
except ImportError as e:  # pragma: no cover - environment problem, not a check
    sys.stderr.write(
        f"missing Python package ({e}); install with:\n"
        "  python3 -m venv .venv && .venv/bin/pip install mpegdash m3u8 lxml\n"
    )
    sys.exit(3)

NS = {
    "mpd": "urn:mpeg:dash:schema:mpd:2011",
    "cenc": "urn:mpeg:cenc:2013",
    "mspr": "urn:microsoft:playready",
    "dashif": "https://dashif.org/CPS",
    "clearkey": "http://dashif.org/guidelines/clearKey",
    "ms": "urn:microsoft",
}
MP4PROTECTION = "urn:mpeg:dash:mp4protection:2011"
CHANNELS = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"
ROLE = "urn:mpeg:dash:role:2011"
CLEARKEY_IDS = {"e2719d58a985b3c9781ab030af78d30e", "1077efecc0b24d02ace33c1e52e2fb4b"}
WIDEVINE = "edef8ba979d64acea3c827dcd51d21ed"
PLAYREADY = "9a04f07998404286ab92e65be0885f95"

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def eq(actual, expected, what):
    return check(actual == expected, f"{what}: got {actual!r}, expected {expected!r}")


def iso_seconds(text):
    m = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", text or "")
    if not m:
        return None
    h, mi, s = m.groups()
    return int(h or 0) * 3600 + int(mi or 0) * 60 + float(s or 0)


def parse_pssh(b64, what):
    """ISO/IEC 23001-7 8.1: size, 'pssh', version/flags, SystemID, [KIDs], data."""
    raw = base64.b64decode(b64, validate=True)
    if not check(len(raw) >= 32, f"{what}: pssh box too short ({len(raw)})"):
        return None
    size, kind = struct.unpack(">I4s", raw[:8])
    eq(size, len(raw), f"{what}: pssh box size")
    eq(kind, b"pssh", f"{what}: box type")
    version = raw[8]
    off = 28
    if version > 0:
        (count,) = struct.unpack(">I", raw[off : off + 4])
        off += 4 + 16 * count
    (data_size,) = struct.unpack(">I", raw[off : off + 4])
    eq(off + 4 + data_size, len(raw), f"{what}: pssh DataSize")
    return raw[12:28].hex(), raw[off + 4 :]


def parse_pro(b64_or_bytes, what):
    """PlayReady Object: u32le length, u16le count, records (type, len, value)."""
    raw = base64.b64decode(b64_or_bytes, validate=True) if isinstance(b64_or_bytes, str) else b64_or_bytes
    length, count = struct.unpack("<IH", raw[:6])
    eq(length, len(raw), f"{what}: PlayReady Object length")
    off = 6
    header = None
    for _ in range(count):
        rtype, rlen = struct.unpack("<HH", raw[off : off + 4])
        value = raw[off + 4 : off + 4 + rlen]
        if rtype == 1:
            header = value.decode("utf-16-le")
        off += 4 + rlen
    eq(off, len(raw), f"{what}: PlayReady records end")
    check(header is not None and header.startswith("<WRMHEADER"), f"{what}: no WRMHEADER record")
    if header is not None:
        etree.fromstring(header.encode("utf-8"))  # must be XML too


def expand_timeline(ss):
    out = []
    next_start = 0
    for s in ss:
        start = s.t if s.t is not None else next_start
        for _ in range((s.r or 0) + 1):
            out.append([start, s.d])
            start += s.d
        next_start = start
    return out


def check_mpd(d, exp):
    path = os.path.join(d, exp["mpd"])
    what = f"{exp['name']}/{exp['mpd']}"
    try:
        tree = etree.parse(path)
    except etree.XMLSyntaxError as e:
        check(False, f"{what}: not well-formed XML: {e}")
        return
    root = tree.getroot()
    eq(root.tag, f"{{{NS['mpd']}}}MPD", f"{what}: root element")
    protected = any(t["protection"] for t in exp["tracks"])
    if protected:
        for prefix in ("cenc", "mspr", "dashif", "clearkey"):
            eq(root.nsmap.get(prefix), NS[prefix], f"{what}: xmlns:{prefix}")

    mpd = MPEGDASHParser.parse(path)
    eq(mpd.type, "static", f"{what}: @type")
    eq(mpd.profiles, "urn:mpeg:dash:profile:isoff-live:2011", f"{what}: @profiles")
    dur = iso_seconds(mpd.media_presentation_duration)
    check(dur is not None and abs(dur - exp["duration"]) < 0.001,
          f"{what}: mediaPresentationDuration {mpd.media_presentation_duration!r} != {exp['duration']}")
    mbt = iso_seconds(mpd.min_buffer_time)
    check(mbt is not None and abs(mbt - exp["min_buffer"]) < 0.001, f"{what}: minBufferTime {mpd.min_buffer_time!r}")
    eq(len(mpd.periods), 1, f"{what}: periods")

    reps = {}
    for aset in mpd.periods[0].adaptation_sets:
        for rep in aset.representations or []:
            check(rep.id not in reps, f"{what}: duplicate Representation id {rep.id}")
            reps[rep.id] = (aset, rep)
    eq(sorted(reps), sorted(str(t["id"]) for t in exp["tracks"]), f"{what}: Representation ids")

    check_sets(mpd, exp, what)

    # lxml view of the AdaptationSets, by Representation id, for namespaced children.
    xml_sets = {}
    for aset in root.iterfind("mpd:Period/mpd:AdaptationSet", NS):
        for rep in aset.iterfind("mpd:Representation", NS):
            xml_sets[rep.get("id")] = aset

    for t in exp["tracks"]:
        rid = str(t["id"])
        if rid not in reps:
            continue
        w = f"{what}: Representation {rid}"
        aset, rep = reps[rid]
        eq(rep.bandwidth, t["bandwidth"], f"{w}: @bandwidth")
        eq(rep.codecs, t["codecs"], f"{w}: @codecs")
        eq(aset.content_type, t["kind"], f"{w}: AdaptationSet@contentType")
        eq(aset.mime_type, f"{t['kind']}/mp4", f"{w}: AdaptationSet@mimeType")
        if t["kind"] == "video":
            eq(rep.width, t["detail"]["width"], f"{w}: @width")
            eq(rep.height, t["detail"]["height"], f"{w}: @height")
            eq(rep.frame_rate, t["detail"]["frame_rate"], f"{w}: @frameRate")
            eq(rep.sar, t["detail"]["sar"], f"{w}: @sar")
        else:
            eq(rep.audio_sampling_rate, str(t["detail"]["sample_rate"]), f"{w}: @audioSamplingRate")
            # On the Representation, or once on its AdaptationSet.
            acc = (rep.audio_channel_configurations or []) + (aset.audio_channel_configurations or [])
            check(len(acc) == 1 and acc[0].scheme_id_uri == CHANNELS and acc[0].value == str(t["detail"]["channels"]),
                  f"{w}: AudioChannelConfiguration")
            eq(aset.lang, t["detail"]["language"], f"{w}: AdaptationSet@lang")
        tmpls = rep.segment_templates or []
        if not eq(len(tmpls), 1, f"{w}: SegmentTemplate count"):
            continue
        st = tmpls[0]
        eq(st.timescale, t["timescale"], f"{w}: @timescale")
        eq(st.initialization, t["init"], f"{w}: @initialization")
        eq(st.media, t["media"], f"{w}: @media")
        eq(st.start_number, t["start_number"], f"{w}: @startNumber")
        tl = st.segment_timelines or []
        if not eq(len(tl), 1, f"{w}: SegmentTimeline count"):
            continue
        segs = expand_timeline(tl[0].Ss or [])
        eq(len(segs), len(t["segments"]), f"{w}: segment count")
        eq(segs, t["segments"], f"{w}: segment times")
        total = sum(s[1] for s in segs) / st.timescale
        expected_total = sum(s[1] for s in t["segments"]) / t["timescale"]
        check(abs(total - expected_total) < 1e-9, f"{w}: duration sum {total} != {expected_total}")
        uris = [st.media.replace("$Number$", str(st.start_number + i)) for i in range(len(segs))]
        eq(uris, t["segment_uris"], f"{w}: segment URLs")

        xml_set = xml_sets.get(rid)
        cps = xml_set.findall("mpd:ContentProtection", NS) if xml_set is not None else []
        prot = t["protection"]
        if prot is None:
            eq(len(cps), 0, f"{w}: ContentProtection count")
            continue
        if not eq(len(cps), 1 + len(prot["systems"]), f"{w}: ContentProtection count"):
            continue
        first = cps[0]
        eq(first.get("schemeIdUri"), MP4PROTECTION, f"{w}: first ContentProtection scheme")
        eq(first.get("value"), prot["scheme"], f"{w}: protection scheme")
        eq(first.get(f"{{{NS['cenc']}}}default_KID"), prot["default_kid"], f"{w}: cenc:default_KID")
        # mpegdash's own view of the same descriptor.
        mcp = (aset.content_protections or [None])[0]
        check(mcp is not None and mcp.scheme_id_uri == MP4PROTECTION and mcp.value == prot["scheme"],
              f"{w}: mpegdash ContentProtection")
        for cp, sysx in zip(cps[1:], prot["systems"]):
            sid = sysx["system_id"]
            ws = f"{w}: system {sid}"
            uuid = f"{sid[0:8]}-{sid[8:12]}-{sid[12:16]}-{sid[16:20]}-{sid[20:32]}"
            eq(cp.get("schemeIdUri"), f"urn:uuid:{uuid}", f"{ws}: schemeIdUri")
            eq(cp.get("value"), sysx["value"], f"{ws}: value")
            pssh = cp.findall("cenc:pssh", NS)
            if sysx["pssh"] is None:
                eq(len(pssh), 0, f"{ws}: cenc:pssh count")
            elif eq(len(pssh), 1, f"{ws}: cenc:pssh count"):
                eq(pssh[0].text, sysx["pssh"], f"{ws}: cenc:pssh")
                parsed = parse_pssh(pssh[0].text, ws)
                if parsed:
                    eq(parsed[0], sid, f"{ws}: pssh SystemID")
                    if sid == PLAYREADY:
                        parse_pro(parsed[1], f"{ws}: pssh data")
            pro = cp.findall("mspr:pro", NS)
            if sysx["pro"] is None:
                eq(len(pro), 0, f"{ws}: mspr:pro count")
            elif eq(len(pro), 1, f"{ws}: mspr:pro count"):
                eq(pro[0].text, sysx["pro"], f"{ws}: mspr:pro")
                parse_pro(pro[0].text, f"{ws}: mspr:pro")
            laurl = cp.findall("dashif:Laurl", NS)
            if sysx["laurl"] is None:
                eq(len(laurl), 0, f"{ws}: dashif:Laurl count")
                continue
            if eq(len(laurl), 1, f"{ws}: dashif:Laurl count"):
                eq(laurl[0].text, sysx["laurl"], f"{ws}: dashif:Laurl")
            ck = cp.findall("clearkey:Laurl", NS)
            if sid in CLEARKEY_IDS:
                check(len(ck) == 1 and ck[0].text == sysx["laurl"] and ck[0].get("Lic_type") == "EME-1.0",
                      f"{ws}: clearkey:Laurl")
            else:
                eq(len(ck), 0, f"{ws}: clearkey:Laurl count")
            ms = cp.findall("ms:laurl", NS)
            if sid in (WIDEVINE, PLAYREADY):
                check(len(ms) == 1 and ms[0].get("licenseUrl") == sysx["laurl"], f"{ws}: ms:laurl")


def check_sets(mpd, exp, what):
    """Ladder attributes of each AdaptationSet, recomputed from the model."""
    by_id = {str(t["id"]): t for t in exp["tracks"]}
    audio_sets = []
    for aset in mpd.periods[0].adaptation_sets:
        ts = [by_id.get(r.id) for r in aset.representations or []]
        if not ts or None in ts:
            continue
        w = f"{what}: AdaptationSet {aset.id}"
        bws = [t["bandwidth"] for t in ts]
        eq(bws, sorted(bws), f"{w}: Representations by @bandwidth")
        # Same start instants: start/timescale as exact fractions.
        starts = [[Fraction(s[0], t["timescale"]) for s in t["segments"]] for t in ts]
        aligned = all(st == starts[0] for st in starts)
        eq(aset.segment_alignment, True if aligned else None, f"{w}: @segmentAlignment")
        if ts[0]["kind"] == "video" and len(ts) > 1:
            eq(aset.max_width, max(t["detail"]["width"] for t in ts), f"{w}: @maxWidth")
            eq(aset.max_height, max(t["detail"]["height"] for t in ts), f"{w}: @maxHeight")
            rates = [t["detail"]["frame_rate"] for t in ts if t["detail"]["frame_rate"]]
            fastest = max(rates, key=lambda r: Fraction(r), default=None)
            eq(aset.max_frame_rate, fastest, f"{w}: @maxFrameRate")
        if ts[0]["kind"] == "audio":
            eq(len({(t["detail"]["language"], t["codecs"].split(".")[0], json.dumps(t["protection"])) for t in ts}), 1,
               f"{w}: mixes languages, codecs or keys")
            roles = aset.roles or []
            check(len(roles) == 1 and roles[0].scheme_id_uri == ROLE, f"{w}: one Role of {ROLE}")
            audio_sets.append((aset, ts[0]["detail"]["language"], roles[0].value if roles else None))
    audios = [t for t in exp["tracks"] if t["kind"] == "audio"]
    if audios:
        default = audios[0]["detail"]["language"]
        want = ["main"] + ["alternate"] * (len(audio_sets) - 1)
        eq([r for _, _, r in audio_sets], want, f"{what}: audio Roles")
        check(audio_sets[0][1] == default, f"{what}: main audio set is not the default language {default!r}")


def load_playlist(path, what):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        # Strict parse first: refuses lines it does not understand.
        m3u8.parser.parse(text, strict=True)
        return text, m3u8.loads(text)
    except Exception as e:  # m3u8 raises ParseError and others
        check(False, f"{what}: m3u8 strict parse failed: {e}")
        return text, None


def check_master(d, exp):
    what = f"{exp['name']}/{exp['master']}"
    _, pl = load_playlist(os.path.join(d, exp["master"]), what)
    if pl is None:
        return
    check(pl.is_variant, f"{what}: not a multivariant playlist")
    eq(pl.version, 6, f"{what}: EXT-X-VERSION")
    check(pl.is_independent_segments, f"{what}: EXT-X-INDEPENDENT-SEGMENTS")
    videos = [t for t in exp["tracks"] if t["kind"] == "video"]
    audios = [t for t in exp["tracks"] if t["kind"] == "audio"]
    by_uri = {t["playlist"]: t for t in exp["tracks"]}
    bws = [p.stream_info.bandwidth for p in pl.playlists]
    eq(bws, sorted(bws), f"{what}: variants by BANDWIDTH")
    check_session_keys(pl, exp, what)

    if not videos:
        eq(len(pl.media), 0, f"{what}: EXT-X-MEDIA count (audio only)")
        by_peak = sorted(audios, key=lambda a: a["hls_peak_bandwidth"])
        eq([p.uri for p in pl.playlists], [a["playlist"] for a in by_peak], f"{what}: variant URIs")
        for p in pl.playlists:
            a = by_uri.get(p.uri)
            if a:
                eq(p.stream_info.bandwidth, a["hls_peak_bandwidth"], f"{what}: {p.uri} BANDWIDTH")
                eq(p.stream_info.codecs, a["codecs"], f"{what}: {p.uri} CODECS")
        return

    groups = {}
    for m in pl.media:
        eq(m.type, "AUDIO", f"{what}: EXT-X-MEDIA TYPE")
        a = by_uri.get(m.uri)
        if not check(a is not None, f"{what}: EXT-X-MEDIA URI {m.uri!r} is no audio track"):
            continue
        eq(m.language, a["detail"]["language"], f"{what}: {m.uri} LANGUAGE")
        eq(m.channels, str(a["detail"]["channels"]), f"{what}: {m.uri} CHANNELS")
        eq(m.autoselect, "YES", f"{what}: {m.uri} AUTOSELECT")
        check(m.name, f"{what}: {m.uri} NAME")
        groups.setdefault(m.group_id, []).append((m, a))
    eq(sorted(m.uri for m in pl.media), sorted(a["playlist"] for a in audios), f"{what}: audio renditions")
    for gid, members in groups.items():
        eq(len({a["codecs"] for _, a in members}), 1, f"{what}: group {gid} mixes codecs")
        eq(sum(1 for m, _ in members if m.default == "YES"), 1, f"{what}: group {gid} DEFAULT=YES count")
        eq(len({m.name for m, _ in members}), len(members), f"{what}: group {gid} NAMEs unique")

    eq(len(pl.playlists), len(videos) * max(1, len(groups)), f"{what}: variant count")
    for p in pl.playlists:
        v = by_uri.get(p.uri)
        w = f"{what}: variant {p.uri}"
        if not check(v is not None and v["kind"] == "video", f"{w}: not a video track"):
            continue
        si = p.stream_info
        members = groups.get(si.audio, [])
        check(not groups or members, f"{w}: AUDIO group {si.audio!r} unknown")
        # One audio rendition plays at a time: the group's largest, once.
        peak = max((a["hls_peak_bandwidth"] for _, a in members), default=0)
        avg = max((a["average_bandwidth"] for _, a in members), default=0)
        eq(si.bandwidth, v["hls_peak_bandwidth"] + peak, f"{w}: BANDWIDTH")
        eq(si.average_bandwidth, v["average_bandwidth"] + avg, f"{w}: AVERAGE-BANDWIDTH")
        codecs = [v["codecs"]] + ([members[0][1]["codecs"]] if members else [])
        eq(si.codecs, ",".join(codecs), f"{w}: CODECS")
        eq(si.resolution, (v["detail"]["width"], v["detail"]["height"]), f"{w}: RESOLUTION")
        fr = v["detail"]["frame_rate"]
        if fr:
            n, _, dd = fr.partition("/")
            want = int(n) / int(dd or 1)
            check(si.frame_rate is not None and abs(si.frame_rate - want) < 0.0005, f"{w}: FRAME-RATE {si.frame_rate}")


def check_session_keys(pl, exp, what):
    """RFC 8216 4.3.4.5: the distinct keys of the tracks, none METHOD=NONE."""
    want = []
    for t in exp["tracks"]:
        for k in t["hls_keys"]:
            key = (k["method"], k["uri"], k["iv"], k["keyformat"], k["keyformatversions"])
            if key not in want:
                want.append(key)
    got = [(k.method, k.uri, k.iv.lower() if k.iv else None, k.keyformat, k.keyformatversions)
           for k in pl.session_keys if k is not None]
    eq(got, want, f"{what}: EXT-X-SESSION-KEY")


def check_media_playlist(d, exp, t):
    what = f"{exp['name']}/{t['playlist']}"
    text, pl = load_playlist(os.path.join(d, t["playlist"]), what)
    if pl is None:
        return
    eq(pl.version, 6, f"{what}: EXT-X-VERSION")
    eq(pl.playlist_type, "vod", f"{what}: EXT-X-PLAYLIST-TYPE")
    check(pl.is_endlist, f"{what}: EXT-X-ENDLIST")
    check(pl.is_independent_segments, f"{what}: EXT-X-INDEPENDENT-SEGMENTS")
    eq(pl.media_sequence, t["start_number"], f"{what}: EXT-X-MEDIA-SEQUENCE")
    eq([m.uri for m in pl.segment_map], [t["init"]], f"{what}: EXT-X-MAP")

    ts = t["timescale"]
    durations = [s[1] / ts for s in t["segments"]]
    eq(len(pl.segments), len(durations), f"{what}: segment count")
    for i, (seg, want) in enumerate(zip(pl.segments, durations)):
        check(abs(seg.duration - want) <= 5e-7, f"{what}: EXTINF {i}: {seg.duration} != {want}")
    total = sum(seg.duration for seg in pl.segments)
    check(abs(total - sum(durations)) <= 1e-6 * max(1, len(durations)), f"{what}: EXTINF sum {total} != {sum(durations)}")
    eq(pl.target_duration, math.ceil(max(s[1] for s in t["segments"]) / ts), f"{what}: EXT-X-TARGETDURATION")
    for seg in pl.segments:
        check(round(seg.duration) <= pl.target_duration, f"{what}: EXTINF {seg.duration} over target duration")
    eq([seg.uri for seg in pl.segments], t["segment_uris"], f"{what}: segment URIs")

    keys = [k for k in pl.keys if k is not None]
    eq(len(keys), len(t["hls_keys"]), f"{what}: EXT-X-KEY count")
    for i, (k, want) in enumerate(zip(keys, t["hls_keys"])):
        w = f"{what}: EXT-X-KEY {i}"
        eq(k.method, want["method"], f"{w} METHOD")
        eq(k.uri, want["uri"], f"{w} URI")
        eq(k.iv.lower() if k.iv else None, want["iv"], f"{w} IV")
        eq(k.keyformat, want["keyformat"], f"{w} KEYFORMAT")
        eq(k.keyformatversions, want["keyformatversions"], f"{w} KEYFORMATVERSIONS")
        if want["uri"].startswith("data:text/plain;base64,") and want["keyformat"] == "urn:uuid:" + "-".join(
            [WIDEVINE[0:8], WIDEVINE[8:12], WIDEVINE[12:16], WIDEVINE[16:20], WIDEVINE[20:]]
        ):
            parsed = parse_pssh(k.uri.split(",", 1)[1], f"{w} Widevine pssh")
            check(parsed and parsed[0] == WIDEVINE, f"{w}: data URI is no Widevine pssh")
        if want["keyformat"] == "com.microsoft.playready":
            parse_pro(k.uri.split(",", 1)[1], f"{w} PlayReady object")
    lines = text.splitlines()
    map_at = [i for i, l in enumerate(lines) if l.startswith("#EXT-X-MAP:")]
    key_at = [i for i, l in enumerate(lines) if l.startswith("#EXT-X-KEY:")]
    if key_at and map_at:
        check(max(map_at) < min(key_at), f"{what}: EXT-X-MAP must precede EXT-X-KEY (init stays clear)")
    first_seg = next((i for i, l in enumerate(lines) if l.startswith("#EXTINF")), len(lines))
    check(all(i < first_seg for i in key_at), f"{what}: EXT-X-KEY after first segment")


def main(dirs):
    for d in dirs:
        with open(os.path.join(d, "expect.json"), encoding="utf-8") as f:
            exp = json.load(f)
        if exp["mpd"]:
            check_mpd(d, exp)
        check_master(d, exp)
        for t in exp["tracks"]:
            check_media_playlist(d, exp, t)
        print(f"{exp['name']}: checked")
    if failures:
        for f in failures:
            print("FAIL", f)
        return 1
    print("all manifest checks passed")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
