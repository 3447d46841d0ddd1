#!/usr/bin/env bash
# Start a throw-away PostgreSQL cluster for the store tests and print its SQLAlchemy URL.
#
# Installs nothing: expects Debian's `postgresql` package (initdb/pg_ctl in
# /usr/lib/postgresql/*/bin). As root the cluster runs as the `postgres` user.
# It listens on 127.0.0.1 only, on a free port, with its data in a temp dir.
# Usage: export PROCESSENGINE_TEST_PG_URL="$(.ci/start_postgres.sh [DIR])"
#        (DIR: an empty directory for the cluster; default a new temp dir, printed on stderr)
# Stop:  .ci/start_postgres.sh --stop DIR   (stops the server and removes DIR)
set -euo pipefail

BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
    echo "start_postgres.sh: no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)" >&2
    exit 1
fi

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if [ "${1:-}" = "--stop" ]; then
    DIR="${2:?usage: start_postgres.sh --stop DIR}"
    if [ -f "$DIR/data/postmaster.pid" ]; then
        as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null
        echo "start_postgres.sh: stopped the cluster in $DIR" >&2
    fi
    rm -rf "$DIR"
    exit 0
fi

DIR="${1:-$(mktemp -d /tmp/pe-pg.XXXXXX)}"
mkdir -p "$DIR"
if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$DIR"
fi
chmod 700 "$DIR"

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"

as_pg "$BIN/initdb" -D "$DIR/data" -U postgres -A trust --no-sync -E UTF8 >"$DIR/initdb.log" 2>&1 || {
    cat "$DIR/initdb.log" >&2
    exit 1
}
as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null || {
    cat "$DIR/server.log" >&2
    exit 1
}
as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres pe_test

echo "start_postgres.sh: cluster in $DIR (stop: .ci/start_postgres.sh --stop $DIR)" >&2
echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/pe_test"
