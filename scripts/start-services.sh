#!/usr/bin/env bash
# Starts throwaway Postgres and Redis servers on 127.0.0.1 for the tests and
# prints, on stdout, the shell lines that point the tests at them:
#
#   eval "$(scripts/start-services.sh)"     # what scripts/test.sh does
#
#   export CASTGUARD_TEST_POSTGRES_URL=postgres://castguard:PASSWORD@127.0.0.1:PORT/postgres
#   export CASTGUARD_TEST_REDIS_URL=redis://127.0.0.1:PORT/
#   export CASTGUARD_SERVICES_DIR=/tmp/castguard-services.XXXXXX
#   trap '.../start-services.sh stop /tmp/castguard-services.XXXXXX' EXIT
#
# so the servers stop when the shell that evaluated the lines exits.
#
#   scripts/start-services.sh stop [DIR]    stops the servers of DIR and removes it
#
# Idempotent: installs Debian `postgresql` and `redis-server` only when
# missing; prints nothing when CASTGUARD_TEST_POSTGRES_URL and
# CASTGUARD_TEST_REDIS_URL are both set already (services someone else runs);
# reuses the servers of CASTGUARD_SERVICES_DIR while they still answer
# (without a trap: whoever started them stops them).
#
# The Postgres cluster is made by initdb in DIR/pg (owned by the `postgres`
# user when run as root: Postgres refuses to run as root), listens on
# 127.0.0.1 only, on a free port, with a random password (scram-sha-256),
# and fsync off (test data). Its superuser `castguard` may create the
# per-test databases. Redis keeps nothing on disk (--save '').
# Everything but the lines above goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$ROOT/scripts/start-services.sh"
log() { printf '[start-services] %s\n' "$*" >&2; }
# shellcheck source=lib/apt.sh
. "$ROOT/scripts/lib/apt.sh"

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bin() {
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
    [ -n "$d" ] && [ -x "$d/initdb" ] && printf '%s\n' "$d"
}

free_port() {
    local p
    for p in $(shuf -i 20000-60999 -n 100); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            printf '%s\n' "$p"
            return 0
        fi
    done
    log "no free port found"
    return 1
}

stop_services() {
    local dir="$1" bin
    [ -d "$dir" ] || return 0
    if [ -f "$dir/pg/data/postmaster.pid" ] && bin="$(pg_bin)"; then
        as_postgres "$bin/pg_ctl" -D "$dir/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ -f "$dir/redis/redis.pid" ]; then
        kill "$(cat "$dir/redis/redis.pid")" 2>/dev/null || true
    fi
    rm -rf "$dir"
}

alive() {
    local dir="$1" bin
    bin="$(pg_bin)" || return 1
    [ -f "$dir/env" ] || return 1
    as_postgres "$bin/pg_ctl" -D "$dir/pg/data" status >/dev/null 2>&1 || return 1
    [ -f "$dir/redis/redis.pid" ] && kill -0 "$(cat "$dir/redis/redis.pid")" 2>/dev/null
}

if [ "${1:-}" = "stop" ]; then
    stop_services "${2:-${CASTGUARD_SERVICES_DIR:?stop needs DIR or CASTGUARD_SERVICES_DIR}}"
    exit 0
fi

if [ -n "${CASTGUARD_TEST_POSTGRES_URL:-}" ] && [ -n "${CASTGUARD_TEST_REDIS_URL:-}" ]; then
    log "CASTGUARD_TEST_POSTGRES_URL and CASTGUARD_TEST_REDIS_URL are set: using those"
    exit 0
fi
if [ -n "${CASTGUARD_SERVICES_DIR:-}" ] && alive "$CASTGUARD_SERVICES_DIR"; then
    log "reusing the servers of $CASTGUARD_SERVICES_DIR"
    cat "$CASTGUARD_SERVICES_DIR/env"
    exit 0
fi

PKGS=()
pg_bin >/dev/null || PKGS+=(postgresql)
command -v redis-server >/dev/null 2>&1 || PKGS+=(redis-server)
if [ "${#PKGS[@]}" -gt 0 ]; then
    apt_install "${PKGS[@]}"
fi
PGBIN="$(pg_bin)" || { log "postgresql binaries not found under /usr/lib/postgresql"; exit 1; }

DIR="$(mktemp -d /tmp/castguard-services.XXXXXX)"
chmod 755 "$DIR"
trap 'stop_services "$DIR"' ERR

# ---- postgres ----------------------------------------------------------------
mkdir -p "$DIR/pg" "$DIR/redis"
PASSWORD="$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
printf '%s\n' "$PASSWORD" >"$DIR/pg/pwfile"
if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$DIR/pg"; fi
chmod 700 "$DIR/pg"
as_postgres "$PGBIN/initdb" -D "$DIR/pg/data" -U castguard --pwfile="$DIR/pg/pwfile" \
    --auth=scram-sha-256 --encoding=UTF8 --no-locale --no-instructions >/dev/null
rm -f "$DIR/pg/pwfile"
PG_PORT=""
for _ in 1 2 3; do
    PG_PORT="$(free_port)"
    cat >"$DIR/pg/data/postgresql.auto.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$DIR/pg'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
    if as_postgres "$PGBIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/log" -w -t 30 start >/dev/null; then
        break
    fi
    log "postgres did not start on port $PG_PORT (see below); trying another port"
    tail -n 5 "$DIR/pg/log" >&2 || true
    PG_PORT=""
done
[ -n "$PG_PORT" ] || { log "postgres did not start"; false; }

# ---- redis -------------------------------------------------------------------
REDIS_PORT=""
for _ in 1 2 3; do
    REDIS_PORT="$(free_port)"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
        --daemonize yes --dir "$DIR/redis" --pidfile "$DIR/redis/redis.pid" \
        --logfile "$DIR/redis/redis.log" >&2
    for _ in $(seq 50); do
        if [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; then break; fi
        sleep 0.1
    done
    if [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; then break; fi
    log "redis did not start on port $REDIS_PORT; trying another port"
    REDIS_PORT=""
done
[ -n "$REDIS_PORT" ] || { log "redis-server did not start"; false; }

{
    printf 'export CASTGUARD_TEST_POSTGRES_URL=%q\n' "postgres://castguard:$PASSWORD@127.0.0.1:$PG_PORT/postgres"
    printf 'export CASTGUARD_TEST_REDIS_URL=%q\n' "redis://127.0.0.1:$REDIS_PORT/"
    printf 'export CASTGUARD_SERVICES_DIR=%q\n' "$DIR"
} >"$DIR/env"
chmod 600 "$DIR/env"
log "postgres on 127.0.0.1:$PG_PORT, redis on 127.0.0.1:$REDIS_PORT (state in $DIR)"
cat "$DIR/env"
printf 'trap %q EXIT\n' "$SELF stop $DIR"
