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
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/castguard-target}"

scripts/install-test-tools.sh

export CASTGUARD_FIXTURES="$ROOT/target/fixtures"
scripts/make-fixtures.sh "$CASTGUARD_FIXTURES" >/dev/null
export CASTGUARD_PYTHON="$ROOT/.venv/bin/python"
export CASTGUARD_SHAKA="$ROOT/node_modules/shaka-packager/bin/packager-linux-x64"

# The benchmark is not run here (too slow); check that it at least parses.
bash -n bench/package.sh

cargo test --workspace --locked --no-fail-fast "$@"

# Every fuzz target for 30 s from its seeds (not when selected tests were asked for).
if [ $# -eq 0 ]; then scripts/fuzz-smoke.sh; fi
