#!/usr/bin/env bash
# Encrypted segments per second, MB/s and p99 from the origin (cenc on
# request) vs Debian nginx serving the same segments pre-encrypted on disk
# (issue 5 item 7), in one run. Not in CI. Needs wrk, nginx (apt), ffmpeg.
# The pre-encrypted files are what the origin serves (fetched once and
# checked byte-equal to `castguard package`-equivalent output by the test
# suite: crates/server/tests/delivery_origin.rs, media origin_matches_package).
# Usage: bench/origin.sh [connections] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${1:-64}
SECS=${2:-10}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/cg-target-delivery}
cargo build -q --release -p server --example delivery_bench
BIN=$CARGO_TARGET_DIR/release/examples/delivery_bench
WORK=$(mktemp -d)
PID= NGINX_PID=
trap 'kill $PID $NGINX_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
ffmpeg -v error -y -f lavfi -i testsrc2=size=1280x720:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 \
  -t 60 -c:v libx264 -preset veryfast -b:v 3M -g 50 -c:a aac -movflags +faststart "$WORK/clip.mp4"
"$BIN" "$WORK/clip.mp4" "$WORK/data" 127.0.0.1:0 > "$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 300); do grep -q READY "$WORK/out" 2>/dev/null && break; sleep 0.1; done
# shellcheck disable=SC1090
source <(grep = "$WORK/out")
N=$(python3 -c "import json;print(len([t for t in json.load(open('$WORK/data/assets/movie/index.json'))['tracks'] if t['name']=='video_1'][0]['segments']))")
# Same bytes on disk for nginx.
mkdir -p "$WORK/static/s/$LOCATOR/cenc/video_1"
for n in $(seq 1 "$N"); do
  curl -sf -o "$WORK/static/s/$LOCATOR/cenc/video_1/$n.m4s" "$BASE/s/$LOCATOR/cenc/video_1/$n.m4s"
done
SEG_BYTES=$(du -cb "$WORK/static/s/$LOCATOR/cenc/video_1/"*.m4s | tail -1 | cut -f1)
echo "segments: $N, mean $((SEG_BYTES / N)) bytes"
cat > "$WORK/nginx.conf" <<NGX
worker_processes 2;
user root;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush on;
  types { video/iso.segment m4s; }
  server { listen 127.0.0.1:18099; root $WORK/static; }
}
NGX
nginx -c "$WORK/nginx.conf" & NGINX_PID=$!
sleep 0.5
cat > "$WORK/segs.lua" <<LUA
local n = $N
local i = 0
request = function()
  i = i % n + 1
  return wrk.format("GET", "/s/$LOCATOR/cenc/video_1/" .. i .. ".m4s")
end
LUA
run() {
  wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s "$WORK/segs.lua" "$1" | tee "$WORK/wrk.$2" | grep -E "Requests/sec|Transfer/sec|99%|Non-2xx"
}
echo "== origin (cenc on request), $CONNS connections"; run "$BASE" origin
echo "== nginx (pre-encrypted files)"; run "http://127.0.0.1:18099" nginx
o=$(awk '/Requests\/sec/{print $2}' "$WORK/wrk.origin"); g=$(awk '/Requests\/sec/{print $2}' "$WORK/wrk.nginx")
python3 -c "print('ratio origin/nginx (req/s): %.2f' % ($o/$g))"
