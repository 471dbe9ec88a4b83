#!/usr/bin/env bash
# Makes the demo ladder that `castguard serve` ingests, as one title, on an
# empty data dir (crates/castguard/src/demo.rs embeds the three files, so
# `serve` needs no ffmpeg). 20 s of ffmpeg's license-free test pattern
# (testsrc2) at 25 fps, H.264 High, 2 s GOPs aligned across the renditions
# (-g 50 -keyint_min 50 -sc_threshold 0: key frames at 0, 2, 4… s in every
# file, so 2 s segments cut at the same times and a player can switch
# between them at any segment boundary):
#   demo.mp4      640x360  ~450k, level 3.0 (avc1.64001e) + AAC-LC 48 kHz
#                 stereo 440 Hz tone: the middle rung, and the audio;
#   demo_234.mp4  416x234  ~150k, level 3.0, video only;
#   demo_720.mp4  1280x720 ~700k, level 3.1 (avc1.64001f), video only.
# B-frames (-bf 2), moov first. The three stay under 4 MB together (checked
# below). Deterministic for a given ffmpeg/x264 build thanks to -threads 1
# (with frame threads and VBV, x264 5.1 here gave different bytes run to
# run); a different build may give different bytes, which is fine as long as
# the stream parameters hold.
#
#   scripts/make-demo-clip.sh [OUTDIR]   (default crates/castguard/assets)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/crates/castguard/assets}"
mkdir -p "$OUT"

FF=(ffmpeg -hide_banner -loglevel error -y)
GOP=(-g 50 -keyint_min 50 -sc_threshold 0 -bf 2)
X264=(-c:v libx264 -profile:v high -pix_fmt yuv420p -preset veryfast -threads 1)
BITEXACT=(-map_metadata -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact)

# enc LEVEL BITRATE MAXRATE BUFSIZE: the video encoder flags of one rung.
enc() {
    printf '%s\n' "${X264[@]}" -level:v "$1" -b:v "$2" -maxrate "$3" -bufsize "$4" "${GOP[@]}"
}
src() { printf '%s\n' -f lavfi -i "testsrc2=size=$1:rate=25"; }

mapfile -t S < <(src 640x360)
mapfile -t E < <(enc 3.0 450k 600k 1200k)
"${FF[@]}" "${S[@]}" -f lavfi -i "sine=frequency=440:sample_rate=48000" -t 20 \
    "${E[@]}" -c:a aac -b:a 64k -ac 2 \
    "${BITEXACT[@]}" -movflags +faststart "$OUT/demo.mp4"

mapfile -t S < <(src 416x234)
mapfile -t E < <(enc 3.0 150k 200k 400k)
"${FF[@]}" "${S[@]}" -t 20 "${E[@]}" -an "${BITEXACT[@]}" -movflags +faststart "$OUT/demo_234.mp4"

mapfile -t S < <(src 1280x720)
mapfile -t E < <(enc 3.1 700k 900k 1800k)
"${FF[@]}" "${S[@]}" -t 20 "${E[@]}" -an "${BITEXACT[@]}" -movflags +faststart "$OUT/demo_720.mp4"

TOTAL=0
for f in demo.mp4 demo_234.mp4 demo_720.mp4; do
    SIZE=$(stat -c %s "$OUT/$f")
    TOTAL=$((TOTAL + SIZE))
    echo "make-demo-clip: $OUT/$f ($SIZE bytes)" >&2
done
if [ "$TOTAL" -ge 4000000 ]; then
    echo "make-demo-clip: the demo ladder is $TOTAL bytes, over the 4 MB budget" >&2
    exit 1
fi
echo "make-demo-clip: $TOTAL bytes in all" >&2
