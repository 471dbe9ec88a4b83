#!/usr/bin/env bash
# AES-128 key deliveries per second with wrk (issue 4 item 8), for HS256 and
# RS256 tokens, beside two ceilings measured in the same run:
# - the HTTP ceiling: GET /ceiling on the same server, a bare axum handler
#   answering 16 bytes (what any HTTP server does on this box);
# - the raw verification rate of the same kinds of token (crates/keys bench
#   `verify`, one core).
# Each round runs CEILING, HS, RS back to back; the medians of ROUNDS rounds
# are printed. Not in CI. Needs: wrk (apt), ffmpeg.
#
# Usage: bench/keys.sh [connections] [seconds] [rounds]
# PIN=1: the server on CPU 0 with one tokio worker, wrk on CPU 1 (on a 2-core
# box this keeps wrk and the server from preempting each other; without it
# both float over both cores with two tokio workers).
# LISTEN=axum: the server on axum::serve instead of castguard's own accept
# loop (server::serve_listeners, what `castguard serve` runs), to compare.
# wrk runs with one thread (-t1): a second wrk thread on 2 cores only steals
# time from the server and inflates the tail.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${1:-256}
SECS=${2:-10}
ROUNDS=${3:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/cg-target-delivery}
cargo build -q --release -p server --example delivery_bench
BIN=$CARGO_TARGET_DIR/release/examples/delivery_bench
WORK=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
ffmpeg -v error -y -f lavfi -i testsrc2=size=320x180:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 \
  -t 4 -c:v libx264 -g 25 -c:a aac -movflags +faststart "$WORK/clip.mp4"
SRV_PIN=() WRK_PIN=()
if [ "${PIN:-0}" = 1 ]; then
  SRV_PIN=(env TOKIO_WORKER_THREADS=1 taskset -c 0) WRK_PIN=(taskset -c 1)
fi
"${SRV_PIN[@]}" "$BIN" "$WORK/clip.mp4" "$WORK/data" 127.0.0.1:0 > "$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 100); do grep -q READY "$WORK/out" 2>/dev/null && break; sleep 0.1; done
# shellcheck disable=SC1090
source <(grep = "$WORK/out")
cat > "$WORK/auth.lua" <<'LUA'
local t = os.getenv("TOKEN")
if t ~= "" then wrk.headers["Authorization"] = "Bearer " .. t end
LUA
# "to_ms 7.90ms" / "1.2s" / "900us" -> milliseconds
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}'; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for kind in CEILING HS RS; do : > "$WORK/$kind.rps"; : > "$WORK/$kind.p50"; : > "$WORK/$kind.p99"; done
for round in $(seq "$ROUNDS"); do
  for kind in CEILING HS RS; do
    case $kind in
      CEILING) path=$CEILING_PATH token= ;;
      HS) path=$HS_KEY_PATH token=$HS_TOKEN ;;
      RS) path=$RS_KEY_PATH token=$RS_TOKEN ;;
    esac
    auth=(); [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
    code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$BASE$path")
    [ "$code" = 200 ] || { echo "$kind request failed: $code"; exit 1; }
    TOKEN=$token "${WRK_PIN[@]}" wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s "$WORK/auth.lua" "$BASE$path" > "$WORK/wrk"
    if grep -qE 'Non-2xx|Socket errors' "$WORK/wrk"; then grep -E 'Non-2xx|Socket errors' "$WORK/wrk"; fi
    rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk")
    p50=$(awk '$1=="50%" {print $2}' "$WORK/wrk" | to_ms)
    p99=$(awk '$1=="99%" {print $2}' "$WORK/wrk" | to_ms)
    echo "round $round $kind: $rps req/s, p50 $p50 ms, p99 $p99 ms"
    echo "$rps" >> "$WORK/$kind.rps"; echo "$p50" >> "$WORK/$kind.p50"; echo "$p99" >> "$WORK/$kind.p99"
  done
done
kill $PID; wait $PID 2>/dev/null || true; PID=
echo "== medians of $ROUNDS rounds, wrk -t1 -c$CONNS -d${SECS}s, PIN=${PIN:-0}"
ceiling=$(median < "$WORK/CEILING.rps")
for kind in CEILING HS RS; do
  rps=$(median < "$WORK/$kind.rps")
  printf '%-8s %10.0f req/s  p50 %6s ms  p99 %6s ms  %5.1f%% of the HTTP ceiling\n' \
    "$kind" "$rps" "$(median < "$WORK/$kind.p50")" "$(median < "$WORK/$kind.p99")" "$(awk -v a="$rps" -v b="$ceiling" 'BEGIN {print 100*a/b}')"
done
echo "== raw verification (criterion, crates/keys/benches/verify.rs, one core), same run"
cargo bench -q -p keys --bench verify -- --warm-up-time 1 --measurement-time 3 2>&1 | grep -E '^verify|thrpt:' || true
