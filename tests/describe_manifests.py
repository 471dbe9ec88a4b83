#!/usr/bin/env python3
"""Print what parsers we did not write read from a packaged output's video
description, as JSON, for the e2e tests to compare with ffprobe's view of
the input.

Usage: describe_manifests.py DIR   (DIR holds manifest.mpd and master.m3u8)

- "dash": per AdaptationSet (mpegdash): contentType, maxFrameRate, the Role
  values, and per Representation id, width, height, frameRate, scanType.
- "hls": the master playlist as `m3u8` reads it in strict mode: per variant
  BANDWIDTH, CODECS, RESOLUTION, FRAME-RATE, VIDEO, AUDIO and URI; per
  EXT-X-MEDIA TYPE, GROUP-ID, NAME, DEFAULT, AUTOSELECT, URI; the I-frame
  stream URIs.

Exit status: 0, or 3 when a parser package is missing.
"""

import json
import os
import sys

try:
    import m3u8
    import m3u8.parser
    from mpegdash.parser import MPEGDASHParser
except ImportError as e:  # pragma: no cover - environment problem
    sys.stderr.write(f"missing Python package ({e}): .venv/bin/pip install mpegdash m3u8\n")
    sys.exit(3)


def dash(path):
    mpd = MPEGDASHParser.parse(path)
    sets = []
    for period in mpd.periods:
        for s in period.adaptation_sets:
            sets.append(
                {
                    "contentType": s.content_type,
                    "maxFrameRate": s.max_frame_rate,
                    "roles": [r.value for r in (s.roles or [])],
                    "representations": [
                        {
                            "id": r.id,
                            "width": r.width,
                            "height": r.height,
                            "frameRate": r.frame_rate,
                            "scanType": r.scan_type,
                        }
                        for r in s.representations
                    ],
                }
            )
    return sets


def hls(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # Strict parsing (raises on any line it does not understand), then the
    # model.
    m3u8.parser.parse(text, strict=True)
    pl = m3u8.loads(text)
    return {
        "variants": [
            {
                "bandwidth": p.stream_info.bandwidth,
                "codecs": p.stream_info.codecs,
                "resolution": list(p.stream_info.resolution) if p.stream_info.resolution else None,
                "frameRate": p.stream_info.frame_rate,
                "video": p.stream_info.video,
                "audio": p.stream_info.audio,
                "uri": p.uri,
            }
            for p in pl.playlists
        ],
        "media": [
            {
                "type": m.type,
                "groupId": m.group_id,
                "name": m.name,
                "default": m.default,
                "autoselect": m.autoselect,
                "uri": m.uri,
            }
            for m in pl.media
        ],
        "iframes": [p.uri for p in pl.iframe_playlists],
    }


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    d = sys.argv[1]
    print(
        json.dumps(
            {
                "dash": dash(os.path.join(d, "manifest.mpd")),
                "hls": hls(os.path.join(d, "master.m3u8")),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
