#!/usr/bin/env bash
# Constant memory (issue 5 item 5): the origin's RSS while 100 concurrent
# clients fetch different cenc segments of a 2-hour asset (made by ffmpeg
# -stream_loop of a short clip). Goal: under 200 MiB. Not in CI.
# Usage: bench/origin_rss.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-20}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/cg-target-delivery}
cargo build -q --release -p server --example delivery_bench
BIN=$CARGO_TARGET_DIR/release/examples/delivery_bench
WORK=$(mktemp -d)
PID=
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
ffmpeg -v error -y -f lavfi -i testsrc2=size=640x360:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 \
  -t 60 -c:v libx264 -preset veryfast -g 50 -c:a aac "$WORK/short.mp4"
ffmpeg -v error -y -stream_loop 119 -i "$WORK/short.mp4" -c copy -movflags +faststart "$WORK/long.mp4"
echo "input: $(du -h "$WORK/long.mp4" | cut -f1), $(ffprobe -v error -show_entries format=duration -of csv=p=0 "$WORK/long.mp4") s"
"$BIN" "$WORK/long.mp4" "$WORK/data" 127.0.0.1:0 > "$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 6000); do grep -q READY "$WORK/out" 2>/dev/null && break; sleep 0.1; done
# shellcheck disable=SC1090
source <(grep = "$WORK/out")
N=$(python3 -c "import json;print(len([t for t in json.load(open('$WORK/data/assets/movie/index.json'))['tracks'] if t['name']=='video_1'][0]['segments']))")
echo "segments per track: $N; RSS after ingest+start: $(awk '/VmRSS/{print $2}' /proc/$PID/status) kB"
cat > "$WORK/rand.lua" <<LUA
math.randomseed(os.time())
request = function()
  local t = (math.random(2) == 1) and "video_1" or "audio_2"
  return wrk.format("GET", "/s/$LOCATOR/cenc/" .. t .. "/" .. math.random($N) .. ".m4s")
end
LUA
wrk -t2 -c100 -d"${SECS}s" --latency -s "$WORK/rand.lua" "$BASE" > "$WORK/wrk" &
WRK=$!
peak=0
while kill -0 $WRK 2>/dev/null; do
  r=$(awk '/VmRSS/{print $2}' /proc/$PID/status); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.2
done
grep -E 'Requests/sec|Transfer/sec|99%|Non-2xx' "$WORK/wrk"
hwm=$(awk '/VmHWM/{print $2}' /proc/$PID/status)
echo "peak RSS sampled: $((peak / 1024)) MiB; VmHWM (includes ingest, which runs in this process): $((hwm / 1024)) MiB"
[ $((peak / 1024)) -lt 200 ] && echo "OK: under 200 MiB" || { echo "FAIL: 200 MiB or more"; exit 1; }
