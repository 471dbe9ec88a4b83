#!/usr/bin/env bash
# Soak under faults (issue 8, item 5): `castguard serve --no-demo` on a
# temporary data dir under mixed load from several threads (API writes, key
# deliveries with valid and bad HS256 tokens, cenc and aes128 segments),
# SIGKILLed and restarted on the same port and data dir every KILL_EVERY
# seconds; then every acknowledged write must be there, no 5xx or connection
# error outside the kill windows, no memory growth between restarted
# periods, and an audit line for every delivered key. Prints a summary and
# exits non-zero on any violation. Loopback only. Not in CI (too long).
#
#   bench/soak.sh                 10 minutes (run it under nice -n 10 on a shared box)
#   SOAK_SECS=150 bench/soak.sh   a quick check (one SIGKILL)
#
# Env: SOAK_SECS (600), KILL_EVERY (120), SOAK_THREADS per kind (2),
#      WINDOW_MARGIN s after /readyz (2), RSS_GROWTH ratio (1.25) and
#      RSS_SLACK_MIB (16) allowed, SOAK_KEEP=1 keeps the work dir,
#      CASTGUARD_BIN (default: cargo build --release, $CARGO_TARGET_DIR/release/castguard),
#      CASTGUARD_FIXTURES (default target/fixtures, made by scripts/make-fixtures.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/castguard-target}"
if [ -z "${CASTGUARD_BIN:-}" ]; then
  cargo build -q --release --locked -p castguard
  CASTGUARD_BIN="$CARGO_TARGET_DIR/release/castguard"
fi
FIXTURES="${CASTGUARD_FIXTURES:-$ROOT/target/fixtures}"
[ -f "$FIXTURES/h264_aac_bframes.mp4" ] || scripts/make-fixtures.sh "$FIXTURES" >/dev/null
PY="${CASTGUARD_PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY=python3
exec "$PY" "$ROOT/bench/soak.py" --bin "$CASTGUARD_BIN" --fixture "$FIXTURES/h264_aac_bframes.mp4" "$@"
