#!/usr/bin/env bash
# Runs schemathesis (PyPI) against a live `castguard serve`: the management
# API must answer every generated request without a 5xx and every response
# must match /api/v1/openapi.json (issue 3, item 4). All checks are on: they
# are enabled in scripts/schemathesis.toml rather than with `--checks all`,
# because a `--checks` option on the command line would override the one
# per-operation exception that file explains.
#
# Usage: scripts/schemathesis.sh [CASTGUARD_BINARY]
# Env:   MAX_EXAMPLES (default 25), MAX_TIME seconds (default 240),
#        SCHEMATHESIS (default .venv/bin/schemathesis; install with
#        `.venv/bin/pip install schemathesis`), SEED (default fixed, so runs
#        are reproducible; set SEED=random to explore).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-${CASTGUARD_BIN:-$ROOT/target/debug/castguard}}
ST=${SCHEMATHESIS:-$ROOT/.venv/bin/schemathesis}
if [ ! -x "$ST" ]; then
  echo "schemathesis.sh: $ST not found; install it with: $ROOT/.venv/bin/pip install schemathesis" >&2
  exit 3
fi
[ -x "$BIN" ] || { echo "schemathesis.sh: no castguard binary at $BIN" >&2; exit 3; }

WORK=$(mktemp -d)
PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  # For scripts/check-secrets.sh (scripts/test.sh sets the directory).
  if [ -n "${CASTGUARD_TEST_LOG_DIR:-}" ] && [ -f "$WORK/serve.log" ]; then
    mkdir -p "$CASTGUARD_TEST_LOG_DIR"
    cp "$WORK/serve.log" "$CASTGUARD_TEST_LOG_DIR/serve-schemathesis-$$.log" || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

TOKEN="schemathesis-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
# schemathesis sends wrong admin tokens on purpose (its auth checks): with
# the default --admin-auth-failures every later request from 127.0.0.1 would
# get 429 for a while and most operations would go untested. The 429 itself
# is tested in crates/server/tests/api.rs.
CASTGUARD_ADMIN_TOKEN=$TOKEN RUST_LOG=${RUST_LOG:-warn} "$BIN" serve --listen 127.0.0.1:0 --data "$WORK/data" --admin-auth-failures off 2>"$WORK/serve.log" &
PID=$!
URL=
for _ in $(seq 1 100); do
  URL=$(grep -o 'listening on http://[0-9.:]*' "$WORK/serve.log" | head -1 | sed 's/listening on //') || true
  [ -n "$URL" ] && break
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { echo "schemathesis.sh: server did not start" >&2; cat "$WORK/serve.log" >&2; exit 1; }

SEED_ARGS=(--seed "${SEED:-20261125}")
[ "${SEED:-}" = random ] && SEED_ARGS=()
status=0
# From the temporary folder, so schemathesis' cache (.schemathesis/) lands there.
cd "$WORK"
"$ST" --config-file "$ROOT/scripts/schemathesis.toml" run "$URL/api/v1/openapi.json" \
  -H "Authorization: Bearer $TOKEN" \
  --max-examples "${MAX_EXAMPLES:-25}" \
  --max-time "${MAX_TIME:-240}" \
  --request-timeout 30 \
  --workers 1 \
  "${SEED_ARGS[@]}" \
  --no-color || status=$?
if grep -q "panicked" "$WORK/serve.log"; then
  echo "schemathesis.sh: the server panicked:" >&2
  grep -A5 panicked "$WORK/serve.log" >&2
  status=1
fi
exit $status
