#!/usr/bin/env bash
# Ladder packaging benchmark: `castguard package` on a 4-rendition title
# (1080p, 720p, 480p, 360p, one file each, + AAC in its own file) vs
# `ffmpeg -c copy` remuxing the same five files to fragmented MP4 (one
# process, five outputs) and vs Shaka Packager with the same inputs, in one
# run; then castguard's peak RSS on an 8-rendition title (the goal: under
# 64 MiB whatever the number of renditions). Not run in CI (minutes; making
# the inputs takes longer than the benchmark); scripts/test.sh only checks
# that it parses.
#
#   bench/ladder.sh                      # 600 s inputs cached under target/bench/ladder/
#   RUNS=5 bench/ladder.sh               # runs per command (median), default 3
#   BENCH_SECONDS=30 CASTGUARD_BIN=... bench/ladder.sh   # a quick dry run
#   BENCH_INPUTS_ONLY=1 bench/ladder.sh  # only make the inputs (ahead of a quiet moment)
#
# Goal: castguard cenc <= 1.2x the ffmpeg remux. Only ratios to baselines
# measured in the same run are reported (the machine is shared and noisy).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/castguard-target}"
RUNS="${RUNS:-3}"
SECONDS_IN="${BENCH_SECONDS:-600}"
BENCH="$ROOT/target/bench/ladder"
mkdir -p "$BENCH"

# shellcheck source=lib.sh
. "$ROOT/bench/lib.sh"

# ---- inputs ----------------------------------------------------------------
# One decode of the test pattern, split and scaled, one x264 encode per
# rendition with the same fixed 2 s GOP so key frames line up.
# rendition NAME WIDTH HEIGHT BITRATE
SIZES=("1080 1920 1080 6M" "720 1280 720 3M" "480 854 480 1200k" "360 640 360 800k"
       "900 1600 900 4500k" "540 960 540 1600k" "432 768 432 1000k" "270 480 270 500k")
make_renditions() {
    # make_renditions N: the first N renditions of SIZES.
    local n="$1" missing=() i
    for ((i = 0; i < n; i++)); do
        set -- ${SIZES[$i]}
        [ -s "$BENCH/v$1_${SECONDS_IN}s.mp4" ] || missing+=("$i")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    local split="[0:v]split=${#missing[@]}" maps=() k=0
    for i in "${missing[@]}"; do split+="[s$k]"; k=$((k + 1)); done
    split+=";"
    k=0
    for i in "${missing[@]}"; do
        set -- ${SIZES[$i]}
        split+="[s$k]scale=$2:$3[o$k];"
        maps+=(-map "[o$k]" -c:v libx264 -preset ultrafast -pix_fmt yuv420p -b:v "$4" -maxrate "$4" -bufsize "$4"
               -g 50 -keyint_min 50 -sc_threshold 0 -movflags +faststart "$BENCH/.v$1_${SECONDS_IN}s.tmp.mp4")
        k=$((k + 1))
    done
    log "encoding ${#missing[@]} renditions of $SECONDS_IN s (minutes)"
    # -t before -i: a limit on the input, so that every output ends.
    ffmpeg -nostdin -hide_banner -loglevel error -y -t "$SECONDS_IN" -f lavfi -i "testsrc2=size=1920x1080:rate=25" \
        -filter_complex "${split%;}" "${maps[@]}"
    for i in "${missing[@]}"; do
        set -- ${SIZES[$i]}
        mv "$BENCH/.v$1_${SECONDS_IN}s.tmp.mp4" "$BENCH/v$1_${SECONDS_IN}s.mp4"
    done
}
make_renditions 8
AUDIO="$BENCH/audio_${SECONDS_IN}s.mp4"
if [ ! -s "$AUDIO" ]; then
    ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$SECONDS_IN" \
        -c:a aac -b:a 128k -movflags +faststart "$AUDIO.tmp.mp4"
    mv "$AUDIO.tmp.mp4" "$AUDIO"
fi
LADDER4=() LADDER8=()
for ((i = 0; i < 8; i++)); do
    set -- ${SIZES[$i]}
    [ "$i" -lt 4 ] && LADDER4+=("$BENCH/v$1_${SECONDS_IN}s.mp4")
    LADDER8+=("$BENCH/v$1_${SECONDS_IN}s.mp4")
done
LADDER4+=("$AUDIO")
LADDER8+=("$AUDIO")
if [ -n "${BENCH_INPUTS_ONLY:-}" ]; then exit 0; fi

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

median_seconds() {
    local json="$OUT/hf.json"
    hyperfine -N --style none --warmup 1 --runs "$RUNS" --export-json "$json" \
        --prepare "sh -c 'rm -rf $OUT/d $OUT/remux $OUT/shaka && mkdir -p $OUT/remux && sync'" "$*" >&2
    python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$json"
}

CG_CMD="$CG package --scheme cenc --key $KID:$KEY ${LADDER4[*]} --out $OUT/d --quiet"
FF_CMD="ffmpeg -nostdin -loglevel error -y"
for f in "${LADDER4[@]}"; do FF_CMD+=" -i $f"; done
for i in "${!LADDER4[@]}"; do FF_CMD+=" -map $i -c copy -f mp4 -movflags frag_keyframe $OUT/remux/$i.mp4"; done
SHAKA_CMD="$SHAKA"
for i in "${!LADDER4[@]}"; do
    f="${LADDER4[$i]}"
    kind=video
    [ "$f" = "$AUDIO" ] && kind=audio
    SHAKA_CMD+=" in=$f,stream=$kind,init_segment=$OUT/shaka/$i/init.mp4,segment_template=$OUT/shaka/$i/\$Number\$.m4s"
done
SHAKA_CMD+=" --enable_raw_key_encryption --keys label=:key_id=$KID:key=$KEY --protection_scheme cenc --clear_lead 0 --segment_duration 4 --mpd_output $OUT/shaka/manifest.mpd --quiet"

log "timing castguard (cenc, 4 renditions + audio)"
t_cg=$(median_seconds $CG_CMD)
log "timing ffmpeg remux of the same 5 files (-c copy, frag_keyframe)"
t_ff=$(median_seconds $FF_CMD)
log "timing Shaka Packager (cenc raw key, same 5 inputs)"
t_sk=$(median_seconds $SHAKA_CMD)

rss_of() {
    # rss_of FILES...: peak RSS (KiB) of castguard packaging FILES.
    rm -rf "$OUT/rss"
    /usr/bin/time -v -o "$OUT/time.txt" "$CG" package --scheme cenc --key "$KID:$KEY" "$@" --out "$OUT/rss" --quiet
    rm -rf "$OUT/rss"
    awk -F': *' '/Maximum resident set size/ {print $2}' "$OUT/time.txt"
}
log "peak RSS: 1 rendition, 4 renditions, 8 renditions (+ audio)"
rss1=$(rss_of "${LADDER4[0]}" "$AUDIO")
rss4=$(rss_of "${LADDER4[@]}")
rss8=$(rss_of "${LADDER8[@]}")
rm -rf "$OUT/d" "$OUT/shaka" "$OUT/remux"

in_mb=$(( $(du -cb "${LADDER4[@]}" | tail -1 | cut -f1) / 1000000 ))
in8_mb=$(( $(du -cb "${LADDER8[@]}" | tail -1 | cut -f1) / 1000000 ))
ratio_ff=$(calc "$t_cg / $t_ff")
ratio_sk=$(calc "$t_cg / $t_sk")
mib() { printf '%.1f' "$(calc "$1 / 1024")"; }

printf '\n'
printf 'castguard ladder packaging benchmark (median of %s runs; %s, %s CPUs)\n' "$RUNS" "$(uname -m)" "$(nproc)"
printf 'input: 4 renditions (1080p 6M, 720p 3M, 480p 1.2M, 360p 0.8M) + AAC, %s s, %s MB in 5 files\n\n' "$SECONDS_IN" "$in_mb"
printf '%-48s %10s %10s %8s\n' "command" "median s" "ratio" "goal"
printf '%-48s %10.3f %10s %8s\n' "ffmpeg -c copy -movflags frag_keyframe (5 files)" "$t_ff" "1.00" "-"
printf '%-48s %10.3f %10s %8s\n' "shaka-packager 3.4.2 cenc raw key" "$t_sk" "$(printf '%.2f' "$(calc "$t_sk / $t_ff")")" "-"
printf '%-48s %10.3f %10s %8s\n' "castguard package --scheme cenc" "$t_cg" "$(printf '%.2f' "$ratio_ff")" "<= 1.20"
printf '\n%-48s %10s %s\n' "castguard / ffmpeg remux" "$(printf '%.2f' "$ratio_ff")" "$(verdict "$ratio_ff <= 1.2")"
printf '%-48s %10s\n' "castguard / shaka-packager" "$(printf '%.2f' "$ratio_sk")"
printf '%-48s %10s\n' "peak RSS, 1 rendition + audio (MiB)" "$(mib "$rss1")"
printf '%-48s %10s\n' "peak RSS, 4 renditions + audio (MiB)" "$(mib "$rss4")"
printf '%-48s %10s %s\n' "peak RSS, 8 renditions + audio, ${in8_mb} MB (MiB)" "$(mib "$rss8")" "$(verdict "$rss8 < 65536") (goal < 64)"
