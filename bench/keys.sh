#!/usr/bin/env bash
# AES-128 key deliveries per second with wrk (issue 4 item 8), for HS256 and
# RS256 tokens, beside the raw verification rate of the same kinds of token
# measured in the same run (crates/keys bench `verify`). Not in CI.
# Needs: wrk (apt), ffmpeg. Usage: bench/keys.sh [connections] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${1:-256}
SECS=${2:-10}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/cg-target-delivery}
cargo build -q --release -p server --example delivery_bench
BIN=$CARGO_TARGET_DIR/release/examples/delivery_bench
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
ffmpeg -v error -y -f lavfi -i testsrc2=size=320x180:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 \
  -t 4 -c:v libx264 -g 25 -c:a aac -movflags +faststart "$WORK/clip.mp4"
"$BIN" "$WORK/clip.mp4" "$WORK/data" 127.0.0.1:0 > "$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 100); do grep -q READY "$WORK/out" 2>/dev/null && break; sleep 0.1; done
# shellcheck disable=SC1090
source <(grep = "$WORK/out")
cat > "$WORK/auth.lua" <<'LUA'
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
LUA
for kind in HS RS; do
  tok_var=${kind}_TOKEN path_var=${kind}_KEY_PATH
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${!tok_var}" "$BASE${!path_var}")
  [ "$code" = 200 ] || { echo "key request failed: $code"; exit 1; }
  echo "== ${kind}256: wrk -t2 -c$CONNS -d${SECS}s $BASE${!path_var}"
  TOKEN=${!tok_var} wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$WORK/auth.lua" "$BASE${!path_var}" \
    | grep -E 'Requests/sec|50%|99%|Non-2xx|Socket errors'
done
kill $PID; wait $PID 2>/dev/null || true
echo "== raw verification (criterion, crates/keys/benches/verify.rs), same run"
cargo bench -q -p keys --bench verify -- --warm-up-time 1 --measurement-time 3 2>&1 | grep -E 'verify|time:|thrpt:' || true
