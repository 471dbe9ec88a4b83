#!/usr/bin/env bash
# Secrets hygiene (issue 8, item 4): fails, naming FILE:LINE and never the
# secret, if a test secret from tests/secrets.txt appears in what the test
# suite's servers printed. scripts/test.sh collects that output into
# CASTGUARD_TEST_LOG_DIR and runs this afterwards.
#
#   scripts/check-secrets.sh LOGDIR     search every file under LOGDIR
#   scripts/check-secrets.sh --sources  every key/token literal of the e2e
#                                       tests is in tests/secrets.txt
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${CASTGUARD_PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY=python3
exec "$PY" "$ROOT/scripts/check_secrets.py" "$@"
