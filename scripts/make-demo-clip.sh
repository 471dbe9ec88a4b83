#!/usr/bin/env bash
# Makes the demo clip that `castguard serve` ingests on an empty data dir
# (crates/castguard/src/demo.rs embeds it, so `serve` needs no ffmpeg):
# 20 s of ffmpeg's license-free test pattern (testsrc2) with a 440 Hz tone,
# 640x360 25 fps H.264 High level 3.0 (avc1.64001e) + AAC-LC 48 kHz stereo,
# 2 s GOPs (so 2 s segments), no B-frame pyramid surprises, moov first.
# The output stays under 2 MB (checked below). Deterministic for a given
# ffmpeg/x264 build; a different build may give different bytes, which is fine
# as long as the stream parameters hold.
#
#   scripts/make-demo-clip.sh [OUT]   (default crates/castguard/assets/demo.mp4)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/crates/castguard/assets/demo.mp4}"
mkdir -p "$(dirname "$OUT")"

ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "testsrc2=size=640x360:rate=25" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" \
    -t 20 \
    -c:v libx264 -profile:v high -level:v 3.0 -pix_fmt yuv420p -preset veryfast \
    -b:v 450k -maxrate 600k -bufsize 1200k \
    -g 50 -keyint_min 50 -sc_threshold 0 -bf 2 \
    -c:a aac -b:a 64k -ac 2 \
    -map_metadata -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
    -movflags +faststart "$OUT"

SIZE=$(stat -c %s "$OUT")
if [ "$SIZE" -ge 2000000 ]; then
    echo "make-demo-clip: $OUT is $SIZE bytes, over the 2 MB budget" >&2
    exit 1
fi
echo "make-demo-clip: $OUT ($SIZE bytes)" >&2
