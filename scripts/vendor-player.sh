#!/usr/bin/env bash
# Copies the test player's files into crates/server/assets/, which the server
# binary embeds (include_bytes!/include_str!) so `castguard serve` needs no
# network and no node at run time:
#   - shaka-player.compiled.js (the minified release build) from the npm
#     package pinned in package.json / package-lock.json, with its LICENSE and
#     a VERSION file;
# The page itself (player/index.html, player.js, style.css) is embedded
# straight from player/, so it has one copy only.
# Run after `npm ci` (scripts/install-test-tools.sh) whenever the pinned
# shaka-player version or the page changes, and commit the result.
# `--check` compares instead of copying (exit 1 when the assets are stale).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SRC=node_modules/shaka-player
DST=crates/server/assets
CHECK=0
[ "${1:-}" = "--check" ] && CHECK=1

if [ ! -f "$SRC/package.json" ]; then
    echo "vendor-player: $SRC missing: run scripts/install-test-tools.sh (npm ci) first" >&2
    exit 1
fi
VERSION="$(node -p "require('./$SRC/package.json').version")"
PINNED="$(node -p "require('./package.json').devDependencies['shaka-player']")"
if [ "$VERSION" != "$PINNED" ]; then
    echo "vendor-player: node_modules has shaka-player $VERSION, package.json pins $PINNED: run npm ci" >&2
    exit 1
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cp "$SRC/dist/shaka-player.compiled.js" "$TMP/shaka-player.compiled.js"
cp "$SRC/LICENSE" "$TMP/shaka-player.LICENSE"
printf 'shaka-player %s (npm, dist/shaka-player.compiled.js), Apache-2.0\n' "$VERSION" > "$TMP/shaka-player.VERSION"

if [ "$CHECK" -eq 1 ]; then
    status=0
    for f in "$TMP"/*; do
        if ! cmp -s "$f" "$DST/$(basename "$f")"; then
            echo "vendor-player: $DST/$(basename "$f") is stale: run scripts/vendor-player.sh" >&2
            status=1
        fi
    done
    exit "$status"
fi
mkdir -p "$DST"
cp "$TMP"/* "$DST/"
echo "vendor-player: shaka-player $VERSION copied to $DST" >&2
