# Shared by the packaging benchmarks (bench/package.sh, bench/ladder.sh);
# sourced after ROOT is set and the working directory is the repository.
# Installs what they measure with (the test tools, hyperfine, GNU time) and
# gives the helpers and test key they share.

KID=00112233445566778899aabbccddeeff
KEY=000102030405060708090a0b0c0d0e0f

log() { printf '[bench] %s\n' "$*" >&2; }
# calc EXPR: floating point arithmetic without bc (not on a fresh Debian).
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
verdict() { if awk "BEGIN { exit !($1) }"; then echo ok; else echo MISSED; fi; }

scripts/install-test-tools.sh
need_apt=()
command -v hyperfine >/dev/null 2>&1 || need_apt+=(hyperfine)
[ -x /usr/bin/time ] || need_apt+=(time)
if [ "${#need_apt[@]}" -gt 0 ]; then
    log "apt-get install ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
SHAKA="$ROOT/node_modules/shaka-packager/bin/packager-linux-x64"
