#!/usr/bin/env python3
"""What independent parsers read in a packaged title's manifests.

Usage: manifest_facts.py OUT_DIR

Reads OUT_DIR/manifest.mpd with PyPI `mpegdash` and OUT_DIR/master.m3u8
(parsed strictly first: any line `m3u8` does not understand fails) and each
media playlist it names with `m3u8`, and prints one JSON object: the facts
the end-to-end tests compare with ffprobe's view of the inputs, so no
assertion rests on our own reading of our own output.

  {"dash": {"minBufferTime": ..., "sets": [{"contentType", "lang",
            "startWithSAP", "maxFrameRate", "roles": [value, ...],
            "labels": [Label text, ...],
            "accessibility": [[scheme, value]], "channels": [[scheme, value]],
            "supplemental": [[scheme, value]], "representations": [{"id",
            "codecs", "width", "height", "audioSamplingRate", "frameRate",
            "scanType", "channels", "supplemental", "timescale",
            "segments": [[t, d], ...]}]}]},
   "hls": {"independentSegments": bool, "variants": [{"bandwidth", "codecs",
            "audio", "video", "subtitles", "closedCaptions", "frameRate",
            "resolution", "uri"}], "media": [{"type", "groupId", "name",
            "language", "channels", "uri", "default", "autoselect",
            "instreamId", "forced"}], "iframes": [uri, ...],
            "playlists": {uri: {"targetDuration", "durations": [...],
            "independentSegments": bool}}}}

Exit status: 0, or 3 when a parser package is missing.
"""

import json
import os
import sys

try:
    import m3u8
    import m3u8.parser
    import lxml.etree
    from mpegdash.parser import MPEGDASHParser
except ImportError as e:  # pragma: no cover - environment problem
    sys.stderr.write(f"missing Python package ({e}): .venv/bin/pip install mpegdash m3u8 lxml\n")
    sys.exit(3)


def descriptors(items):
    return [[d.scheme_id_uri, d.value] for d in (items or [])]


def timeline(template):
    out = []
    if not template or not template.segment_timelines:
        return out
    t = 0
    for s in template.segment_timelines[0].Ss:
        if s.t is not None:
            t = s.t
        for _ in range((s.r or 0) + 1):
            out.append([t, s.d])
            t += s.d
    return out


def label_elements(path):
    """The `Label` elements (ISO/IEC 23009-1 §5.3.10) of each AdaptationSet,
    in document order: `mpegdash` reads only the older `@label` attribute."""
    ns = {"d": "urn:mpeg:dash:schema:mpd:2011"}
    tree = lxml.etree.parse(path)
    return [[lab.text or "" for lab in a.findall("d:Label", ns)] for a in tree.iterfind(".//d:AdaptationSet", ns)]


def mpd_facts(path):
    mpd = MPEGDASHParser.parse(path)
    labels = iter(label_elements(path))
    sets = []
    for period in mpd.periods:
        for a in period.adaptation_sets:
            reps = []
            for r in a.representations:
                template = (r.segment_templates or a.segment_templates or [None])[0]
                reps.append({
                    "id": r.id,
                    "codecs": r.codecs,
                    "audioSamplingRate": r.audio_sampling_rate,
                    "frameRate": r.frame_rate,
                    "scanType": r.scan_type,
                    "width": r.width,
                    "height": r.height,
                    "channels": descriptors(r.audio_channel_configurations),
                    "supplemental": descriptors(r.supplemental_properties),
                    "timescale": template.timescale if template else None,
                    "segments": timeline(template),
                })
            sets.append({
                "contentType": a.content_type,
                "lang": a.lang,
                "startWithSAP": a.start_with_sap,
                "maxFrameRate": a.max_frame_rate,
                "channels": descriptors(a.audio_channel_configurations),
                "supplemental": descriptors(a.supplemental_properties),
                "roles": [d.value for d in (a.roles or [])],
                "labels": next(labels, []),
                "accessibility": descriptors(a.accessibilities),
                "representations": reps,
            })
    return {"minBufferTime": mpd.min_buffer_time, "sets": sets}


def hls_facts(out_dir):
    master_path = os.path.join(out_dir, "master.m3u8")
    with open(master_path, encoding="utf-8") as f:
        m3u8.parser.parse(f.read(), strict=True)
    master = m3u8.load(master_path)
    variants = []
    for p in master.playlists:
        si = p.stream_info
        variants.append({
            "bandwidth": si.bandwidth,
            "codecs": si.codecs,
            "audio": si.audio,
            "video": getattr(si, "video", None),
            "subtitles": getattr(si, "subtitles", None),
            "closedCaptions": getattr(si, "closed_captions", None),
            "frameRate": si.frame_rate,
            "resolution": list(si.resolution) if si.resolution else None,
            "uri": p.uri,
        })
    media = [{
        "type": m.type,
        "groupId": m.group_id,
        "name": m.name,
        "language": m.language,
        "channels": m.channels,
        "uri": m.uri,
        "default": m.default,
        "autoselect": m.autoselect,
        "instreamId": m.instream_id,
        "forced": m.forced,
    } for m in master.media]
    playlists = {}
    for uri in sorted({v["uri"] for v in variants} | {m["uri"] for m in media if m["uri"]}):
        pl = m3u8.load(os.path.join(out_dir, uri))
        playlists[uri] = {
            "targetDuration": pl.target_duration,
            "durations": [s.duration for s in pl.segments],
            "independentSegments": pl.is_independent_segments,
        }
    return {
        "independentSegments": master.is_independent_segments,
        "variants": variants,
        "media": media,
        "iframes": [p.uri for p in master.iframe_playlists],
        "playlists": playlists,
    }


def main():
    out_dir = sys.argv[1]
    facts = {}
    if os.path.exists(os.path.join(out_dir, "manifest.mpd")):
        facts["dash"] = mpd_facts(os.path.join(out_dir, "manifest.mpd"))
    if os.path.exists(os.path.join(out_dir, "master.m3u8")):
        facts["hls"] = hls_facts(out_dir)
    json.dump(facts, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
