#!/usr/bin/env bash
# Packaging benchmark: castguard vs a plain remux (ffmpeg -c copy to
# fragmented MP4) and vs Shaka Packager, plus castguard's peak memory on a
# >= 1 GB input. Not run in CI (minutes); scripts/test.sh only checks that this
# file parses (bash -n).
#
#   bench/package.sh            # inputs cached under target/bench/
#   RUNS=5 bench/package.sh     # runs per command (median reported), default 3
#   BENCH_SECONDS=20 BIG_BYTES=50000000 CASTGUARD_BIN=... bench/package.sh
#                               # a quick dry run of the script itself
#
# Goals (DESIGN.md): castguard cenc <= 1.2x the ffmpeg remux; peak RSS < 64 MiB
# on the 1 GB input (streaming, constant memory). Machines are shared and
# noisy, so only ratios to a baseline measured in the same run are reported.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/castguard-target}"
RUNS="${RUNS:-3}"
SECONDS_IN="${BENCH_SECONDS:-600}"
BIG_BYTES="${BIG_BYTES:-1073741824}"
BENCH="$ROOT/target/bench"
mkdir -p "$BENCH"

# shellcheck source=lib.sh
. "$ROOT/bench/lib.sh"

# ---- inputs ----------------------------------------------------------------
IN="$BENCH/in_${SECONDS_IN}s_1080p.mp4"
BIG="$BENCH/in_${SECONDS_IN}s_x_${BIG_BYTES}.mp4"
if [ ! -s "$IN" ]; then
    log "making $IN ($SECONDS_IN s 1920x1080 25 fps H.264 + AAC; minutes for 600 s)"
    ffmpeg -nostdin -hide_banner -loglevel error -y \
        -f lavfi -i "testsrc2=size=1920x1080:rate=25" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$SECONDS_IN" \
        -map 0:v -map 1:a -c:v libx264 -preset ultrafast -pix_fmt yuv420p \
        -b:v 6M -maxrate 6M -bufsize 12M -g 50 -keyint_min 50 -sc_threshold 0 \
        -c:a aac -b:a 128k -movflags +faststart "$IN.tmp.mp4"
    mv "$IN.tmp.mp4" "$IN"
fi
if [ ! -s "$BIG" ]; then
    in_bytes=$(stat -c %s "$IN")
    loops=$(( (BIG_BYTES + in_bytes - 1) / in_bytes ))
    log "making $BIG ($loops x $(basename "$IN"), -c copy)"
    ffmpeg -nostdin -hide_banner -loglevel error -y -stream_loop $((loops - 1)) -i "$IN" \
        -map 0 -c copy -movflags +faststart "$BIG.tmp.mp4"
    mv "$BIG.tmp.mp4" "$BIG"
fi

# ---- castguard --------------------------------------------------------------
if [ -n "${CASTGUARD_BIN:-}" ]; then
    CG="$CASTGUARD_BIN"
else
    log "cargo build --release -p castguard"
    cargo build --release --locked -p castguard
    CG="$CARGO_TARGET_DIR/release/castguard"
fi

OUT="$BENCH/out"
rm -rf "$OUT"
mkdir -p "$OUT"

# median_seconds CMD... : runs CMD $RUNS times (after one warm-up), prints the median wall time.
# Each run starts after `sync`: otherwise the write-back of the previous
# run's output (hundreds of MB of dirty pages) lands on the next one.
median_seconds() {
    if command -v hyperfine >/dev/null 2>&1; then
        local json="$OUT/hf.json"
        # -N: no shell, so Shaka's literal $Number$ is not expanded.
        hyperfine -N --style none --warmup 1 --runs "$RUNS" --export-json "$json" \
            --prepare "sh -c 'rm -rf $OUT/d $OUT/remux.mp4 $OUT/shaka && sync'" "$*" >&2
        python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$json"
    else
        local times=() i s e
        "$@" >/dev/null 2>&1 || true
        for ((i = 0; i < RUNS; i++)); do
            rm -rf "$OUT/d" "$OUT/remux.mp4" "$OUT/shaka"
            sync
            s=$(date +%s.%N)
            "$@" >/dev/null 2>&1
            e=$(date +%s.%N)
            times+=("$(calc "$e - $s")")
        done
        printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {printf "%.3f\n", a[int((NR+1)/2)]}'
    fi
}

CG_CMD="$CG package --scheme cenc --key $KID:$KEY $IN --out $OUT/d --quiet"
FF_CMD="ffmpeg -nostdin -loglevel error -y -i $IN -map 0 -c copy -f mp4 -movflags frag_keyframe $OUT/remux.mp4"
SHAKA_CMD="$SHAKA in=$IN,stream=video,init_segment=$OUT/shaka/v/init.mp4,segment_template=$OUT/shaka/v/\$Number\$.m4s in=$IN,stream=audio,init_segment=$OUT/shaka/a/init.mp4,segment_template=$OUT/shaka/a/\$Number\$.m4s --enable_raw_key_encryption --keys label=:key_id=$KID:key=$KEY --protection_scheme cenc --clear_lead 0 --segment_duration 4 --mpd_output $OUT/shaka/manifest.mpd --quiet"

log "timing castguard (cenc)"
t_cg=$(median_seconds $CG_CMD)
log "timing ffmpeg remux (-c copy, frag_keyframe)"
t_ff=$(median_seconds $FF_CMD)
log "timing Shaka Packager (cenc raw key)"
t_sk=$(median_seconds $SHAKA_CMD)

log "peak RSS: castguard on $(du -h "$BIG" | cut -f1) input"
rm -rf "$OUT/big"
/usr/bin/time -v -o "$OUT/time.txt" "$CG" package --scheme cenc --key "$KID:$KEY" "$BIG" --out "$OUT/big" --quiet
rss_kib=$(awk -F': *' '/Maximum resident set size/ {print $2}' "$OUT/time.txt")
t_big=$(awk '/Elapsed \(wall clock\)/ {print $NF}' "$OUT/time.txt")
rm -rf "$OUT/big" "$OUT/d" "$OUT/shaka" "$OUT/remux.mp4"

in_mb=$(( $(stat -c %s "$IN") / 1000000 ))
big_mb=$(( $(stat -c %s "$BIG") / 1000000 ))
ratio_ff=$(calc "$t_cg / $t_ff")
ratio_sk=$(calc "$t_cg / $t_sk")
rss_mib=$(calc "$rss_kib / 1024")

printf '\n'
printf 'castguard packaging benchmark (median of %s runs; %s, %s CPUs)\n' "$RUNS" "$(uname -m)" "$(nproc)"
printf 'input: %s (%s MB, %s s 1080p25 H.264 + AAC)\n\n' "$(basename "$IN")" "$in_mb" "$SECONDS_IN"
printf '%-44s %10s %10s %8s\n' "command" "median s" "ratio" "goal"
printf '%-44s %10.3f %10s %8s\n' "ffmpeg -c copy -movflags frag_keyframe" "$t_ff" "1.00" "-"
printf '%-44s %10.3f %10s %8s\n' "shaka-packager 3.4.2 cenc raw key" "$t_sk" "$(printf '%.2f' "$(calc "$t_sk / $t_ff")")" "-"
printf '%-44s %10.3f %10s %8s\n' "castguard package --scheme cenc" "$t_cg" "$(printf '%.2f' "$ratio_ff")" "<= 1.20"
printf '\n%-44s %10s %s\n' "castguard / ffmpeg remux" "$(printf '%.2f' "$ratio_ff")" "$(verdict "$ratio_ff <= 1.2")"
printf '%-44s %10s\n' "castguard / shaka-packager" "$(printf '%.2f' "$ratio_sk")"
printf '%-44s %10s %s\n' "castguard peak RSS on ${big_mb} MB input (MiB)" "$(printf '%.1f' "$rss_mib")" "$(verdict "$rss_mib < 64") (goal < 64; wall $t_big)"
