#!/usr/bin/env bash
# A throwaway PostgreSQL server for one test run, on loopback, in a temporary directory.
#   scripts/pg.sh start DIR PORT   → prints the DATABASE_URL
#   scripts/pg.sh stop DIR
# For tests the server skips flushing to disk (fsync, synchronous_commit, full_page_writes off):
# a crash loses nothing a test needs. PG_DURABLE=1 keeps PostgreSQL's durable defaults, for
# benchmarks whose "acknowledged means durable" must hold as in production.
# initdb refuses to run as root, so as root the cluster belongs to `nobody`.
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 3; }
cmd=${1:?start|stop}; dir=${2:?directory}
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
case "$cmd" in
  start)
    fast="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    [ "${PG_DURABLE:-}" = 1 ] && fast=""
    port=${3:?port}
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown nobody "$dir"
    as_owner "$bin/initdb" -D "$dir/data" --auth=trust -U postgres -E UTF8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir $fast -c max_connections=200" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
