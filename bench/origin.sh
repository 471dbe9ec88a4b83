#!/usr/bin/env bash
# Encrypted segments per second, MB/s and p99 from the origin (cenc on
# request) vs Debian nginx serving the same segments pre-encrypted on disk
# (issue 5 item 7, issue 16 item 6), in one run. The origin runs twice: as
# shipped (its segment cache keeps what it encrypted, --origin-cache-mb) and
# with the cache off (every request encrypts); the script checks that both
# serve the same bytes. Not in CI. Needs wrk, nginx (apt), ffmpeg.
# The pre-encrypted files are what the origin serves (fetched once and
# checked byte-equal to `castguard package`-equivalent output by the test
# suite: crates/server/tests/delivery_origin.rs, media origin_matches_package).
# wrk gets one thread (-t1): this box has 2 cores, shared by wrk, the server
# under test and whoever else is building. Origin and nginx runs alternate
# (REPS pairs, same connection count), and the medians are compared, so
# background load drifting during the run hits both sides alike.
# Usage: bench/origin.sh [connections] [seconds] [reps]
#        LADDER=1 bench/origin.sh ...   # the same on a 3-rendition ladder
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${1:-64}
SECS=${2:-10}
REPS=${3:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/cg-target-delivery}
for tool in wrk nginx; do
  command -v "$tool" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null; }
done
cargo build -q --release -p server --example delivery_bench
BIN=$CARGO_TARGET_DIR/release/examples/delivery_bench
WORK=$(mktemp -d)
PID= NGINX_PID=
trap 'kill $PID $NGINX_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
if [ -n "${LADDER:-}" ]; then
  # A ladder: three renditions with aligned 2 s GOPs (one file each) and
  # AAC apart; requests cycle over the segments of every rendition, as
  # players switching between them do.
  # -t before -i: it limits the input, so every output ends.
  ffmpeg -v error -y -t 60 -f lavfi -i testsrc2=size=1280x720:rate=25 \
    -filter_complex "[0:v]split=3[a][b][c];[b]scale=640:360[b2];[c]scale=416:234[c2]" \
    -map "[a]" -c:v libx264 -preset veryfast -b:v 3M -g 50 -keyint_min 50 -sc_threshold 0 -movflags +faststart "$WORK/v720.mp4" \
    -map "[b2]" -c:v libx264 -preset veryfast -b:v 1M -g 50 -keyint_min 50 -sc_threshold 0 -movflags +faststart "$WORK/v360.mp4" \
    -map "[c2]" -c:v libx264 -preset veryfast -b:v 300k -g 50 -keyint_min 50 -sc_threshold 0 -movflags +faststart "$WORK/v234.mp4"
  ffmpeg -v error -y -f lavfi -i sine=frequency=440:sample_rate=48000 -t 60 -c:a aac -movflags +faststart "$WORK/audio.mp4"
  INPUT="$WORK/v234.mp4,$WORK/v360.mp4,$WORK/v720.mp4,$WORK/audio.mp4"
  TRACKS="video_1 video_2 video_3"
else
  ffmpeg -v error -y -f lavfi -i testsrc2=size=1280x720:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 \
    -t 60 -c:v libx264 -preset veryfast -b:v 3M -g 50 -c:a aac -movflags +faststart "$WORK/clip.mp4"
  INPUT="$WORK/clip.mp4"
  TRACKS="video_1"
fi
# Two origins: one as shipped (segment cache on, --origin-cache-mb default),
# one that encrypts every request (ORIGIN_CACHE_MB=0), each on its own data
# dir and port.
start_origin() { # name, extra env
  ( export ORIGIN_CACHE_MB=$2; exec "$BIN" "$INPUT" "$WORK/data.$1" 127.0.0.1:0 > "$WORK/out.$1" 2>"$WORK/err.$1" ) &
  echo $! > "$WORK/pid.$1"; PID="$PID $!"
  for _ in $(seq 600); do grep -q READY "$WORK/out.$1" 2>/dev/null && break; sleep 0.1; done
  grep -q READY "$WORK/out.$1" || { cat "$WORK/err.$1"; exit 1; }
}
start_origin cached "${ORIGIN_CACHE_MB:-64}"
start_origin encrypt 0
N=$(python3 -c "import json;print(len([t for t in json.load(open('$WORK/data.cached/assets/movie/index.json'))['tracks'] if t['name']=='video_1'][0]['segments']))")
# Each origin's request paths (its own locator), every rendition's in turn;
# the same bytes on disk for nginx, under the cached origin's paths.
declare -A URL
for who in cached encrypt; do
  BASE=$(sed -n 's/^BASE=//p' "$WORK/out.$who"); LOCATOR=$(sed -n 's/^LOCATOR=//p' "$WORK/out.$who")
  URL[$who]=$BASE
  : > "$WORK/paths.$who"
  for t in $TRACKS; do
    mkdir -p "$WORK/static.$who/s/$LOCATOR/cenc/$t"
    for n in $(seq 1 "$N"); do
      curl -sf -o "$WORK/static.$who/s/$LOCATOR/cenc/$t/$n.m4s" "$BASE/s/$LOCATOR/cenc/$t/$n.m4s"
      echo "/s/$LOCATOR/cenc/$t/$n.m4s" >> "$WORK/paths.$who"
    done
  done
done
# Same key, same bytes: what the cache keeps is what encrypting gives.
diff -r -q "$WORK/static.cached/s/"*/cenc "$WORK/static.encrypt/s/"*/cenc > /dev/null \
  || { echo "cached and encrypting origins differ"; exit 1; }
mv "$WORK/static.cached" "$WORK/static"
cp "$WORK/paths.cached" "$WORK/paths.nginx"
URL[nginx]=http://127.0.0.1:18099
# The HTTP stack's own ceiling: video_1's clear segments held in memory by
# a bare handler of the cached origin (no lookup, no encryption).
seq 1 "$N" | sed 's#^#/ceiling/segment/#' > "$WORK/paths.memory"
URL[memory]=${URL[cached]}
COUNT=$(wc -l < "$WORK/paths.cached")
SEG_BYTES=$(du -cb "$WORK/static/s/"*/cenc/*/*.m4s | tail -1 | cut -f1)
echo "tracks: $TRACKS; segments: $COUNT, mean $((SEG_BYTES / COUNT)) bytes"
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
for who in cached encrypt nginx memory; do
  cat > "$WORK/segs.$who.lua" <<LUA
local paths = {}
for line in io.lines("$WORK/paths.$who") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
LUA
done
cpu() { [ -f "$WORK/pid.$1" ] && awk '{print $14+$15}' "/proc/$(cat "$WORK/pid.$1")/stat" || echo 0; }
run() {
  local a b
  a=$(cpu "$1")
  wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s "$WORK/segs.$1.lua" "${URL[$1]}" > "$WORK/wrk.$1.$2"
  b=$(cpu "$1")
  awk -v who="$1" -v rep="$2" -v ticks="$((b - a))" -v hz="$(getconf CLK_TCK)" \
    '/Requests\/sec/{r=$2} /Transfer\/sec/{t=$2} / 99%/{p=$2} /Non-2xx/{e=$0} /requests in/{n=$1}
    END{cpu = (who == "nginx" || who == "memory") ? "" : sprintf(" server CPU %4.0f us/req", ticks / hz * 1e6 / n);
        printf "%-8s run %d: %9.1f req/s %8s/s p99 %8s%s %s\n", who, rep, r, t, p, cpu, e}' "$WORK/wrk.$1.$2"
}
echo "== $REPS x (cached: origin as shipped, encrypt: --origin-cache-mb 0, nginx: pre-encrypted files, memory: video_1's segments from memory by a bare handler), $CONNS connections, ${SECS}s each"
for i in $(seq 1 "$REPS"); do run cached "$i"; run encrypt "$i"; run nginx "$i"; run memory "$i"; done
python3 - "$WORK" "$REPS" <<'PY'
import re, statistics, sys
work, reps = sys.argv[1], int(sys.argv[2])
def field(who, i, key):
    text = open(f"{work}/wrk.{who}.{i}").read()
    m = re.search(key + r"\s+([\d.]+)(\w*)", text)
    v, unit = float(m.group(1)), m.group(2)
    scale = {"us": 1e-3, "ms": 1, "s": 1e3, "KB": 1/1024, "MB": 1, "GB": 1024}.get(unit, 1)
    return v * scale
med = {}
for who in ("cached", "encrypt", "nginx", "memory"):
    med[who] = [statistics.median(field(who, i, k) for i in range(1, reps + 1))
                for k in ("Requests/sec:", "Transfer/sec:", "99%")]
    print("median %-8s %9.1f req/s %8.1f MB/s p99 %7.2f ms" % (who, *med[who]))
print("ratio origin/nginx (median req/s): %.2f as shipped (segment cache), %.2f encrypting every request"
      % (med["cached"][0] / med["nginx"][0], med["encrypt"][0] / med["nginx"][0]))
print("ratio memory/nginx (this HTTP stack's ceiling): %.2f" % (med["memory"][0] / med["nginx"][0]))
PY
