#!/usr/bin/env bash
# One castguard node versus two over the same Postgres and Redis (issue 7):
# requests per second of
# - KEY: AES-128 key deliveries (GET /keys/v1/aes/{kid}) with an HS256 token
#   that carries `maxuses` (so every request runs the Redis counter script);
# - SEG: HLS AES-128 media segments (GET /s/{locator}/aes128/.../N.ts or .m4s),
#   encrypted on request.
# "one": one wrk against node A. "two": two wrk at once, one per node (the
# round-robin a load balancer would do), requests per second summed.
# Each figure is the median of RUNS runs; the script prints two/one ratios.
# Not in CI. Needs: wrk, ffmpeg, psql, openssl, curl; a Postgres and a Redis
# (CASTGUARD_TEST_POSTGRES_URL / CASTGUARD_TEST_REDIS_URL, else started by
# scripts/start-services.sh).
#
# Usage: bench/nodes.sh [connections per wrk] [seconds] [runs]
#   e.g. nice -n 10 bench/nodes.sh 64 10 3
#   CASTGUARD_BIN=path/to/castguard bench/nodes.sh   # skip the release build
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CONNS=${1:-64}
SECS=${2:-10}
RUNS=${3:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/castguard-target}
if [ -n "${CASTGUARD_BIN:-}" ]; then
  BIN=$CASTGUARD_BIN                          # e.g. a debug build, for a dry run
else
  cargo build -q --release -p castguard
  BIN=$CARGO_TARGET_DIR/release/castguard
fi

if [ -z "${CASTGUARD_TEST_POSTGRES_URL:-}" ] || [ -z "${CASTGUARD_TEST_REDIS_URL:-}" ]; then
  eval "$(scripts/start-services.sh)"
fi
PG=$CASTGUARD_TEST_POSTGRES_URL
REDIS=$CASTGUARD_TEST_REDIS_URL

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# A fresh database for the run (the URL's path replaced).
DB=castguard_bench_nodes_$$
psql "$PG" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB" >/dev/null
trap 'cleanup; psql "$PG" -q -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true' EXIT
DB_URL=$(printf %s "$PG" | sed -E "s#^([a-z]+://[^/?]*)(/[^?]*)?#\1/$DB#")
export CASTGUARD_KEK=$(openssl rand -hex 32)
export CASTGUARD_ADMIN_TOKEN=bench-nodes-admin-$(openssl rand -hex 16)
export RUST_LOG=warn
HMAC_KEY=bench-nodes-hmac-key-0123456789abcdef
KID=5ca1ab1e-0000-4000-8000-0000000000b1

# start NAME: a node on a free port with data in $WORK/NAME; sets URL_NAME.
start() {
  local name=$1
  mkdir -p "$WORK/$name"
  "$BIN" serve --no-demo --rate-limit-per-token off --listen 127.0.0.1:0 --data "$WORK/$name" \
    --database-url "$DB_URL" --redis-url "$REDIS" 2> "$WORK/$name.log" &
  PIDS+=($!)
  for _ in $(seq 300); do grep -q 'listening on' "$WORK/$name.log" && break; sleep 0.1; done
  local url
  url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$WORK/$name.log" | head -1)
  [ -n "$url" ] || { cat "$WORK/$name.log"; exit 1; }
  printf -v "URL_$name" '%s' "$url"
}

ffmpeg -v error -y -f lavfi -i testsrc2=size=640x360:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 \
  -t 8 -c:v libx264 -preset veryfast -g 50 -c:a aac -movflags +faststart "$WORK/clip.mp4"

mkdir -p "$WORK/a/assets" "$WORK/b"
ln -s "$WORK/a/assets" "$WORK/b/assets"     # one shared media folder
start a
start b
cli() { CASTGUARD_SERVER=$URL_a "$BIN" "$@" >/dev/null; }
cli policy create viewers --issuer https://idp.bench --audience urn:bench \
  --symmetric-key "$(printf %s "$HMAC_KEY" | base64 -w0)" --required-claim groups=EntitledUsers
cli key create hls --type envelope --kid "$KID" --policy viewers
cli asset ingest "$WORK/clip.mp4" --name clip
cli locator create clip-aes --asset clip --streaming-policy Predefined_ClearKey --key hls
LOC=$(CASTGUARD_SERVER=$URL_a "$BIN" locator get clip-aes --json | grep -o '"streamingLocatorId": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')

# HS256 token with maxuses, signed with openssl (not castguard).
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
head=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
body=$(printf '{"iss":"https://idp.bench","aud":"urn:bench","exp":%d,"groups":"EntitledUsers","urn:microsoft:azure:mediaservices:maxuses":1000000000}' $((now + 3000)) | b64url)
sig=$(printf %s "$head.$body" | openssl dgst -sha256 -hmac "$HMAC_KEY" -binary | b64url)
TOKEN=$head.$body.$sig

# The first media segment under the master playlist (paths are relative).
master=/s/$LOC/aes128/master.m3u8
media=$(curl -sf "$URL_a$master" | grep -v -e '^#' -e '^$' | head -1)
seg=$(curl -sf "$URL_a/s/$LOC/aes128/$media" | grep -v -e '^#' -e '^$' | head -1)
SEG_PATH=/s/$LOC/aes128/$(dirname "$media")/$seg
KEY_PATH=/keys/v1/aes/$KID
for base in "$URL_a" "$URL_b"; do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$base$SEG_PATH")" = 200 ] || { echo "segment $base$SEG_PATH failed"; exit 1; }
  [ "$(curl -s -o /dev/null -w "%{http_code}" -H "Authorization: Bearer $TOKEN" "$base$KEY_PATH")" = 200 ] || { echo "key $base failed:"; curl -s -H "Authorization: Bearer $TOKEN" "$base$KEY_PATH"; exit 1; }
done

cat > "$WORK/auth.lua" <<'LUA'
local t = os.getenv("TOKEN")
if t and t ~= "" then wrk.headers["Authorization"] = "Bearer " .. t end
LUA
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# run_wrk OUT URL TOKEN: requests/s into OUT; fails on errors.
run_wrk() {
  TOKEN=$3 wrk -t1 -c"$CONNS" -d"${SECS}s" -s "$WORK/auth.lua" "$2" > "$1.txt"
  if grep -qE 'Non-2xx|Socket errors' "$1.txt"; then grep -E 'Non-2xx|Socket errors' "$1.txt" >&2; fi
  awk '/Requests\/sec/ {print $2}' "$1.txt" > "$1"
}

for kind in KEY SEG; do : > "$WORK/$kind.one"; : > "$WORK/$kind.two"; done
for run in $(seq "$RUNS"); do
  for kind in KEY SEG; do
    if [ $kind = KEY ]; then path=$KEY_PATH tok=$TOKEN; else path=$SEG_PATH tok=; fi
    run_wrk "$WORK/one" "$URL_a$path" "$tok"
    one=$(cat "$WORK/one")
    run_wrk "$WORK/twoA" "$URL_a$path" "$tok" &
    wa=$!
    run_wrk "$WORK/twoB" "$URL_b$path" "$tok" &
    wb=$!
    wait $wa $wb
    two=$(awk -v a="$(cat "$WORK/twoA")" -v b="$(cat "$WORK/twoB")" 'BEGIN {printf "%.2f", a + b}')
    echo "run $run $kind: one node $one req/s, two nodes $two req/s"
    echo "$one" >> "$WORK/$kind.one"; echo "$two" >> "$WORK/$kind.two"
  done
done
echo "== medians of $RUNS runs, wrk -t1 -c$CONNS -d${SECS}s per node, $(nproc) cores"
for kind in KEY SEG; do
  one=$(median < "$WORK/$kind.one"); two=$(median < "$WORK/$kind.two")
  printf '%-4s one node %9.0f req/s   two nodes %9.0f req/s   two/one %.2f\n' \
    "$kind" "$one" "$two" "$(awk -v a="$two" -v b="$one" 'BEGIN {print a / b}')"
done
