#!/usr/bin/env bash
# Installs the third-party tools the castguard test suite runs against, skipping
# whatever is already present. Safe to run repeatedly; works as root on a fresh
# Debian 12 that reaches only the package registries (Debian, PyPI, npm).
#
#   apt:  ffmpeg (ffmpeg + ffprobe), openssl, curl, python3-venv, nodejs + npm, chromium, g++
#   venv: .venv with pywidevine, mpegdash, m3u8, lxml, moto[server] (an S3-compatible
#         server on 127.0.0.1 for the object-storage tests), prometheus-client (the
#         Prometheus project's parsers of the text and OpenMetrics formats, for
#         the /metrics test), signxml and xmlsec (libxmlsec1's Python binding): XML
#         signatures made and verified independently of ours, for the CPIX tests
#   npm:  node_modules/ from package.json + package-lock.json
#         (shaka-packager@3.4.2 ships a static packager binary; mp4box = mp4box.js;
#         shaka-player + playwright-core for the player page and browser tests;
#         oidc-provider, a real OpenID Connect provider as the STS of key-rollover tests)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[install-test-tools] %s\n' "$*" >&2; }

# ---- apt -------------------------------------------------------------------
# shellcheck source=lib/apt.sh
. "$ROOT/scripts/lib/apt.sh"

APT_PKGS=()
command -v ffmpeg  >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || APT_PKGS+=(ffmpeg)
command -v openssl >/dev/null 2>&1 || APT_PKGS+=(openssl)
# tls_limits_e2e: an HTTPS client independent of ours (`curl --cacert`).
command -v curl    >/dev/null 2>&1 || APT_PKGS+=(curl)
# nginx: the reverse proxy in front of two nodes (tests/nodes.rs, --public-url).
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || APT_PKGS+=(nginx)
command -v node    >/dev/null 2>&1 || APT_PKGS+=(nodejs)
command -v npm     >/dev/null 2>&1 || APT_PKGS+=(npm)
# The venv is made with Debian's python so it does not depend on a user's pyenv.
PY_BASE=/usr/bin/python3
if [ ! -x "$PY_BASE" ]; then APT_PKGS+=(python3); fi
if [ ! -x .venv/bin/python ] && ! "$PY_BASE" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    APT_PKGS+=(python3-venv)
fi
# Browser tests: Debian chromium (driven by npm playwright-core from package.json;
# never `npx playwright install`, it downloads a browser and fails here).
command -v chromium >/dev/null 2>&1 || APT_PKGS+=(chromium)
# scripts/fuzz-smoke.sh: libfuzzer-sys compiles libFuzzer (C++).
command -v c++ >/dev/null 2>&1 || APT_PKGS+=(g++)
if [ "${#APT_PKGS[@]}" -gt 0 ]; then
    apt_install "${APT_PKGS[@]}"
fi

# ---- python venv -----------------------------------------------------------
PY_PKGS=(pywidevine mpegdash m3u8 lxml pyjwt cryptography schemathesis 'moto[server]' prometheus-client signxml xmlsec)
if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    "$PY_BASE" -m venv .venv
fi
if ! .venv/bin/python -c 'import pywidevine, mpegdash, m3u8, lxml, jwt, cryptography, schemathesis, moto.server, prometheus_client, signxml, xmlsec' >/dev/null 2>&1; then
    log "pip install ${PY_PKGS[*]}"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "${PY_PKGS[@]}"
fi

# ---- npm -------------------------------------------------------------------
SHAKA="$ROOT/node_modules/shaka-packager/bin/packager-linux-x64"
if [ ! -x "$SHAKA" ] || [ ! -d node_modules/mp4box ] || [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/shaka-player ] || [ ! -d node_modules/oidc-provider ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
fi
if [ ! -x "$SHAKA" ]; then
    log "shaka packager binary not found at $SHAKA"
    exit 1
fi

log "ok: $(ffmpeg -version | head -n1 | cut -d' ' -f1-3); $("$SHAKA" --version 2>&1 | head -n1); python $(.venv/bin/python -c 'import sys; print(sys.version.split()[0])')"
