#!/bin/sh
# AES baselines (openssl speed, same machine, same run) against castguard's cenc crate.
# Prints GB/s for openssl aes-128-ctr / aes-128-cbc (16 KiB blocks, one core), for cenc and
# cbcs (1:9) sample encryption on a 64 MiB video-like buffer (crates/cenc/examples/
# throughput.rs, release build), and the ratios. Machines are shared and noisy, so openssl
# and castguard run interleaved for ROUNDS rounds and the medians are reported.
# Goals: cenc / openssl-ctr >= 0.9; cbcs >= 4 GB/s.
set -eu
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=$HOME/.cache/cg-target-bench}"
: "${ROUNDS:=3}"
export CARGO_TARGET_DIR

speed() {
    # The last field of the result line is the 16384-byte rate in kB/s (1000 bytes).
    openssl speed -elapsed -seconds 2 -bytes 16384 -evp "$1" 2>/dev/null |
        awk -v alg="$1" 'tolower($1) == alg { v = $NF; sub(/k$/, "", v); printf "%.3f\n", v * 1000 / 1e9 }'
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

cargo build --release -q -p cenc --example throughput
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
i=0
while [ "$i" -lt "$ROUNDS" ]; do
    ctr=$(speed aes-128-ctr)
    out=$("$CARGO_TARGET_DIR/release/examples/throughput")
    cbc=$(speed aes-128-cbc)
    cenc=$(echo "$out" | awk '$1 == "cenc" { print $2 }')
    cbcs=$(echo "$out" | awk '$1 == "cbcs" { print $2 }')
    c16=$(echo "$out" | awk '$1 == "cenc-16k" { print $2 }')
    awk -v a="$c16" -v b="$ctr" 'BEGIN { print a / b }' >>"$tmp/ratio16"
    echo "$ctr" >>"$tmp/ctr"; echo "$cbc" >>"$tmp/cbc"
    echo "$cenc" >>"$tmp/cenc"; echo "$cbcs" >>"$tmp/cbcs"
    awk -v a="$cenc" -v b="$ctr" 'BEGIN { print a / b }' >>"$tmp/ratio"
    echo "round $((i + 1)): openssl-ctr $ctr, cenc $cenc (16 KiB: $c16), openssl-cbc $cbc, cbcs $cbcs GB/s" >&2
    i=$((i + 1))
done
echo "openssl aes-128-ctr  $(median <"$tmp/ctr") GB/s"
echo "openssl aes-128-cbc  $(median <"$tmp/cbc") GB/s"
echo "castguard cenc       $(median <"$tmp/cenc") GB/s"
echo "castguard cbcs 1:9   $(median <"$tmp/cbcs") GB/s"
awk -v r="$(median <"$tmp/ratio")" 'BEGIN { printf "cenc / openssl-ctr  %.2f (median of per-round ratios; goal >= 0.9) %s\n", r, (r >= 0.9 ? "OK" : "BELOW") }'
awk -v r="$(median <"$tmp/ratio16")" 'BEGIN { printf "cenc 16 KiB / openssl-ctr  %.2f (same buffer size as openssl speed)\n", r }'
awk -v a="$(median <"$tmp/cbcs")" 'BEGIN { printf "cbcs absolute       %.2f GB/s (goal >= 4) %s\n", a, (a >= 4 ? "OK" : "BELOW") }'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
