#!/bin/sh
# Makes the seed corpus of the bmff_parse fuzz target: tiny ffmpeg files
# (one or two frames, progressive and fragmented, H.264/H.265/AAC) and
# truncated copies. The corpus is not committed; run this before fuzzing:
#   ./make-corpus.sh && RUSTC_BOOTSTRAP=1 cargo fuzz run bmff_parse -- -max_total_time=60
set -eu
cd "$(dirname "$0")"
out=corpus/bmff_parse
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src="-f lavfi -i testsrc2=size=64x36:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 -t 0.08"
ffmpeg -v error -y $src -c:v libx264 -bf 2 -c:a aac -movflags +faststart "$tmp/h264.mp4"
ffmpeg -v error -y $src -c:v libx265 -x265-params log-level=error -tag:v hvc1 -c:a aac "$tmp/h265.mp4"
ffmpeg -v error -y $src -c:v libx264 -c:a aac -movflags frag_keyframe+empty_moov+default_base_moof "$tmp/frag.mp4"
for f in "$tmp"/*.mp4; do
  name=$(basename "$f" .mp4)
  # Drop mdat payload bytes beyond 64: the fuzzer should spend its time on boxes.
  python3 - "$f" "$out/$name" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
out, off = bytearray(), 0
while off + 8 <= len(data):
    size, kind = struct.unpack('>I4s', data[off:off + 8])
    if size < 8:
        break
    box = data[off:off + size]
    if kind == b'mdat':
        box = struct.pack('>I4s', 72, b'mdat') + box[8:72]
    out += box
    off += size
open(sys.argv[2], 'wb').write(out)
# Truncated copies: half, and cut inside the first moov/moof.
open(sys.argv[2] + '.half', 'wb').write(out[:len(out) // 2])
open(sys.argv[2] + '.cut', 'wb').write(out[:min(len(out), 700)])
PY
done
ls -l "$out"
