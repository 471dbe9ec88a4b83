#!/usr/bin/env bash
# Live channels on this machine (issue 18 item 7): how many channels, each
# a 3-rendition ladder plus audio pushed at real time over CMAF ingest,
# castguard takes while 200 viewers per channel fetch the newest segments
# (encrypted `cenc` on request) and playlists, before the live edge drifts
# past 3 segments (6 s); and castguard's CPU per channel.
#
# Per step (a fresh server, N channels):
# - encoders: per channel four `ffmpeg -re -c copy` processes (one per
#   track, as DASH-IF ingest recommends) pushing a pre-encoded ladder
#   (1280x720 3 Mb/s, 640x360 1 Mb/s, 416x234 300 kb/s, 2 s GOPs; AAC);
#   they cost little CPU and are not counted in castguard's;
# - viewers: one wrk (one thread) with 200 x N connections, each making a
#   request a second, alternating a media playlist and the newest segment
#   of a random track of a random channel (the segment number from the
#   wall clock and the channel's availabilityStartTime);
# - the edge: every second, for every channel, the wall clock minus the
#   end of the newest segment its video playlist lists (its
#   EXT-X-PROGRAM-DATE-TIME plus durations): the drift.
# The step passes while the largest drift stays within 6 s, under 1 % of
# the viewers' requests fail and their p99 stays under one segment (2 s:
# a viewer must get a segment before it has played the previous one); the script stops at the first step that
# does not and prints a table: channels, castguard CPU (cores, from
# /proc/PID/stat), CPU per channel, viewers' requests/s, p99 latency, errors,
# largest drift. Not in CI. Needs wrk, ffmpeg, curl, python3.
#
# Usage: bench/live.sh [channel steps] [measure seconds]
#   e.g. bench/live.sh "1 2 4 6 8" 30
#   CASTGUARD_BIN=path/to/castguard bench/live.sh   # skip the release build
# All viewers come from 127.0.0.1: the per-address connection cap is off.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-1 2 4 6 8 10}
MEASURE=${2:-30}
VIEWERS=200
WARMUP=12
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/castguard-target}
if [ -n "${CASTGUARD_BIN:-}" ]; then
  BIN=$CASTGUARD_BIN
else
  cargo build -q --release -p castguard
  BIN=$CARGO_TARGET_DIR/release/castguard
fi
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

WORK=$(mktemp -d)
PIDS=()
SERVER=
cleanup() {
  for p in "${PIDS[@]}" $SERVER; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '[live-bench] %s\n' "$*" >&2; }

# The ladder, once: long enough for warm-up and measurement.
SECS=$((WARMUP + MEASURE + 10))
log "encoding a ${SECS} s ladder"
ffmpeg -v error -y -t "$SECS" -f lavfi -i testsrc2=size=1280x720:rate=25 \
  -filter_complex "[0:v]split=3[a][b][c];[b]scale=640:360[b2];[c]scale=416:234[c2]" \
  -map "[a]" -c:v libx264 -preset veryfast -b:v 3M -g 50 -keyint_min 50 -sc_threshold 0 "$WORK/v720.mp4" \
  -map "[b2]" -c:v libx264 -preset veryfast -b:v 1M -g 50 -keyint_min 50 -sc_threshold 0 "$WORK/v360.mp4" \
  -map "[c2]" -c:v libx264 -preset veryfast -b:v 300k -g 50 -keyint_min 50 -sc_threshold 0 "$WORK/v234.mp4"
ffmpeg -v error -y -f lavfi -i sine=frequency=440:sample_rate=48000 -t "$SECS" -c:a aac "$WORK/audio.mp4"

export CASTGUARD_KEK=$(openssl rand -hex 32)
export CASTGUARD_ADMIN_TOKEN=bench-live-admin-$(openssl rand -hex 16)
export RUST_LOG=warn
KID=00112233445566778899aabbccddeeff
KEY=000102030405060708090a0b0c0d0e0f
MOVFLAGS=empty_moov+separate_moof+default_base_moof+cmaf
TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

cat > "$WORK/viewers.lua" <<'LUA'
-- Viewers: a request a second per connection, alternating a media
-- playlist and the newest segment of a random track of a random channel.
-- channels.txt: "PREFIX AST_EPOCH" per track (PREFIX = /s/ID/cenc/TRACK/).
local tracks = {}
for line in io.lines(os.getenv("CHANNELS")) do
  local prefix, ast = line:match("^(%S+) (%S+)$")
  tracks[#tracks + 1] = { prefix = prefix, ast = tonumber(ast) }
end
local n = 0
function delay() return 1000 end
function request()
  n = n + 1
  local t = tracks[math.random(#tracks)]
  if n % 2 == 0 then return wrk.format("GET", t.prefix .. "playlist.m3u8") end
  -- Segment k ends at AST + 2k; one back from the newest, for the second
  -- os.time() truncates.
  local k = math.floor((os.time() - t.ast) / 2) - 1
  if k < 1 then k = 1 end
  return wrk.format("GET", t.prefix .. k .. ".m4s")
end
LUA

cat > "$WORK/drift.py" <<'PY'
# Every second until killed: per channel, the wall clock minus the end of
# the newest segment its video playlist lists; prints the largest seen.
import datetime, signal, sys, time, urllib.request
def stop(*_):
    raise KeyboardInterrupt
signal.signal(signal.SIGTERM, stop)
urls = sys.argv[1:]
worst = 0.0
def newest_end(text):
    end = None
    for line in text.splitlines():
        if line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            end = datetime.datetime.fromisoformat(line.split(":", 1)[1].replace("Z", "+00:00")).timestamp()
        elif line.startswith("#EXTINF:") and end is not None:
            end += float(line[8:].split(",")[0])
    return end
try:
    while True:
        for u in urls:
            try:
                end = newest_end(urllib.request.urlopen(u, timeout=5).read().decode())
                if end is not None:
                    worst = max(worst, time.time() - end)
            except Exception as e:
                print(f"drift: {u}: {e}", file=sys.stderr)
        time.sleep(1)
except KeyboardInterrupt:
    pass
finally:
    print(f"{worst:.2f}")
PY

printf '%-9s %-11s %-13s %-11s %-9s %-8s %s\n' channels "cpu(cores)" "cpu/channel" "viewer r/s" "p99(ms)" errors "max drift(s)"
for N in $STEPS; do
  DATA=$WORK/data-$N
  mkdir -p "$DATA"
  "$BIN" serve --no-demo --rate-limit-per-token off --max-connections-per-ip 0 --max-connections 0 --listen 127.0.0.1:0 --data "$DATA" 2> "$WORK/server-$N.log" &
  SERVER=$!
  for _ in $(seq 300); do grep -q 'listening on' "$WORK/server-$N.log" && break; sleep 0.1; done
  URL=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$WORK/server-$N.log" | head -1)
  [ -n "$URL" ] || { cat "$WORK/server-$N.log"; exit 1; }
  cli() { CASTGUARD_SERVER=$URL "$BIN" "$@"; }
  cli policy create open --open >/dev/null
  cli key create ck --type common --kid "$KID" --value "$KEY" --policy open >/dev/null
  PUSHERS=()
  for c in $(seq "$N"); do
    tok=bench-live-$c-$(openssl rand -hex 12)
    cli asset create "ch$c" >/dev/null
    cli live create "ch$c" --access-token "$tok" >/dev/null
    cli live output create "ch$c" "rec$c" --asset "ch$c" --archive-window PT1H >/dev/null
    cli locator create "ch$c" --asset "ch$c" --streaming-policy Predefined_MultiDrmCencStreaming --key ck >/dev/null
    cli live start "ch$c" >/dev/null
    for t in v720 v360 v234 audio; do
      extra=()
      [ "$t" = audio ] && extra=(-frag_duration 2000000)
      ffmpeg -nostdin -v error -re -i "$WORK/$t.mp4" -c copy -f mp4 -movflags "$MOVFLAGS" "${extra[@]}" \
        "$URL/ingest/ch$c/$tok/Streams($t)" 2>> "$WORK/push-$N.log" &
      PUSHERS+=($!)
    done
  done
  PIDS=("${PUSHERS[@]}")
  sleep "$WARMUP"
  # Every channel's tracks and the wall-clock time of its presentation 0.
  : > "$WORK/channels.txt"
  DRIFT_URLS=()
  for c in $(seq "$N"); do
    id=$(cli locator get "ch$c" --json | grep -o '"streamingLocatorId": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')
    mpd=$(curl -sf "$URL/s/$id/cenc/manifest.mpd")
    ast=$(printf %s "$mpd" | grep -o 'availabilityStartTime="[^"]*"' | head -1 | cut -d'"' -f2)
    ast_epoch=$(date -d "$ast" +%s)
    master=$(curl -sf "$URL/s/$id/cenc/master.m3u8")
    for m in $(printf %s "$master" | grep -o '[a-z]*_[0-9]*/playlist.m3u8' | sort -u); do
      echo "/s/$id/cenc/${m%playlist.m3u8} $ast_epoch" >> "$WORK/channels.txt"
    done
    v=$(printf %s "$master" | grep -o 'video_[0-9]*/playlist.m3u8' | head -1)
    DRIFT_URLS+=("$URL/s/$id/cenc/$v")
  done
  python3 "$WORK/drift.py" "${DRIFT_URLS[@]}" > "$WORK/drift-$N.txt" 2> "$WORK/drift-$N.err" &
  DRIFT=$!
  t0=$(cpu_ticks "$SERVER")
  CHANNELS=$WORK/channels.txt wrk -t1 -c $((VIEWERS * N)) -d "${MEASURE}s" --latency --timeout 10s \
    -s "$WORK/viewers.lua" "$URL" > "$WORK/wrk-$N.txt" 2>&1 || true
  t1=$(cpu_ticks "$SERVER")
  kill "$DRIFT"; wait "$DRIFT" 2>/dev/null || true
  drift=$(tail -1 "$WORK/drift-$N.txt")
  cores=$(awk -v a="$t0" -v b="$t1" -v tck="$TCK" -v s="$MEASURE" 'BEGIN { printf "%.2f", (b - a) / tck / s }')
  per=$(awk -v c="$cores" -v n="$N" 'BEGIN { printf "%.3f", c / n }')
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk-$N.txt")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /ms$/) {sub(/ms/, "", v)} else if (v ~ /us$/) {sub(/us/, "", v); v/=1000} else if (v ~ /s$/) {sub(/s/, "", v); v*=1000}; print v}' "$WORK/wrk-$N.txt")
  total=$(awk '/requests in/ {print $1}' "$WORK/wrk-$N.txt")
  bad=$(awk '/Non-2xx/ {n+=$NF} /Socket errors/ {gsub(/,/, ""); n+=$4+$6+$8+$10} END {print n+0}' "$WORK/wrk-$N.txt")
  printf '%-9s %-11s %-13s %-11s %-9s %-8s %s\n' "$N" "$cores" "$per" "$rps" "$p99" "$bad/$total" "$drift"
  for p in "${PUSHERS[@]}"; do kill "$p" 2>/dev/null || true; done
  kill "$SERVER" 2>/dev/null || true
  wait 2>/dev/null || true
  SERVER=
  PIDS=()
  rm -rf "$DATA"
  if awk -v d="$drift" -v b="$bad" -v t="${total:-0}" -v p="${p99:-0}" \
      'BEGIN { exit !(d > 6 || t == 0 || b / t > 0.01 || p >= 2000) }'; then
    log "step $N: past the limit (drift $drift s, $bad of $total requests failed, p99 $p99 ms): the step before held"
    [ -s "$WORK/push-$N.log" ] && { log "encoders said:"; tail -5 "$WORK/push-$N.log" >&2; }
    break
  fi
done
