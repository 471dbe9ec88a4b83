#!/usr/bin/env bash
# Fuzz smoke test: builds every cargo-fuzz target of fuzz/ and runs each for
# FUZZ_SECONDS (default 30) from its committed seeds (fuzz/corpus/<target>),
# failing on any crash, timeout (10 s per input) or memory blow-up (2 GiB).
# What the fuzzer finds on the way goes to fuzz/target/corpus/<target>, never
# into the committed seeds. Installs cargo-fuzz (crates.io, into
# ~/.cargo/bin) when it is missing. Longer runs:
#
#   FUZZ_SECONDS=600 scripts/fuzz-smoke.sh [target...]
#
# cargo-fuzz needs nightly flags (-Zsanitizer=address); RUSTC_BOOTSTRAP=1
# allows them on the stable toolchain. A crash leaves its input in
# fuzz/artifacts/<target>/; replay it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/crash-...
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/fuzz"

SECONDS_PER_TARGET="${FUZZ_SECONDS:-30}"
export RUSTC_BOOTSTRAP=1
# The fuzz workspace builds with sanitizer flags: keep it apart from the
# main build.
export CARGO_TARGET_DIR="${CASTGUARD_FUZZ_TARGET_DIR:-$HOME/.cache/castguard-fuzz-target}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "[fuzz-smoke] cargo install cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

nice -n 10 cargo fuzz build
failed=()
for t in "${targets[@]}"; do
    scratch="target/corpus/$t"
    mkdir -p "$scratch" "corpus/$t"
    start=$(date +%s)
    log="target/fuzz-smoke-$t.log"
    if nice -n 10 cargo fuzz run "$t" "$scratch" "corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        cov=$(grep -ao 'cov: [0-9]* ft: [0-9]* corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1)
        echo "[fuzz-smoke] $t: ok, ${runs:-?} runs, ${cov:-cov: ?}, $(($(date +%s) - start)) s"
    else
        echo "[fuzz-smoke] $t: FAILED ($(($(date +%s) - start)) s), log $ROOT/fuzz/$log:" >&2
        tail -40 "$log" >&2
        failed+=("$t")
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "[fuzz-smoke] failed: ${failed[*]}" >&2
    exit 1
fi
