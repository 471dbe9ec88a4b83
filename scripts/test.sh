#!/usr/bin/env bash
# The one test command: installs the third-party tools the tests check our
# output with, makes the media fixtures, then runs every test of the workspace.
#
#   scripts/test.sh [extra cargo test args...]
#
# Environment:
#   CARGO_TARGET_DIR   default $HOME/.cache/castguard-target (outside the clone,
#                      so a machine that ran CI before reuses the build)
#   CASTGUARD_FIXTURES set here: absolute path of the fixtures (target/fixtures)
#   CASTGUARD_PYTHON   set here: the venv python with pywidevine, m3u8, mpegdash, lxml
#   CASTGUARD_SHAKA    set here: the Shaka Packager binary
#   CASTGUARD_TEST_LOG_DIR  set here (target/test-logs, emptied first): every
#                      `castguard serve` the tests start, and the tracing the
#                      server tests capture, append their output there; with
#                      cargo's own output (cargo-test.log) it is then searched
#                      by scripts/check-secrets.sh for the secrets of
#                      tests/secrets.txt (issue 8: no key, token or signing
#                      key in any log line)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/castguard-target}"
# A clean CI build gains nothing from incremental state, which doubles the
# target directory's size.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"; fi
# The build needs room: say how much there is, and drop our own stale build
# when the disk is nearly full rather than failing half-way through linking.
mkdir -p "$CARGO_TARGET_DIR"
free_kib=$(df -Pk "$CARGO_TARGET_DIR" | awk 'NR==2 {print $4}')
echo "[test] $((free_kib / 1024 / 1024)) GiB free for $CARGO_TARGET_DIR"
if [ "$free_kib" -lt $((12 * 1024 * 1024)) ]; then
  echo "[test] less than 12 GiB free: removing the previous build in $CARGO_TARGET_DIR"
  rm -rf "${CARGO_TARGET_DIR:?}/debug"
fi

scripts/install-test-tools.sh

export CASTGUARD_FIXTURES="$ROOT/target/fixtures"
scripts/make-fixtures.sh "$CASTGUARD_FIXTURES" >/dev/null
export CASTGUARD_PYTHON="$ROOT/.venv/bin/python"
export CASTGUARD_SHAKA="$ROOT/node_modules/shaka-packager/bin/packager-linux-x64"

# The benchmark is not run here (too slow); check that it at least parses.
bash -n bench/package.sh
bash -n bench/ladder.sh
bash -n bench/lib.sh
bash -n bench/soak.sh
"$CASTGUARD_PYTHON" -c "import ast, sys; ast.parse(open(sys.argv[1]).read())" bench/soak.py

eval "$(scripts/start-services.sh)"
export CASTGUARD_TEST_LOG_DIR="$ROOT/target/test-logs"
rm -rf "$CASTGUARD_TEST_LOG_DIR"
mkdir -p "$CASTGUARD_TEST_LOG_DIR"
status=0
cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$CASTGUARD_TEST_LOG_DIR/cargo-test.log" || status=$?
scripts/check-secrets.sh "$CASTGUARD_TEST_LOG_DIR" || status=1

# Every fuzz target for 30 s from its seeds (not when selected tests were asked for).
if [ $# -eq 0 ]; then scripts/fuzz-smoke.sh || status=1; fi
exit "$status"
