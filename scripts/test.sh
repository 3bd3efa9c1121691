#!/usr/bin/env bash
# The test suite, twice: on the embedded SQLite default, then on a real PostgreSQL server that
# this script starts for the run and stops afterwards. Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}

run_pytest() {  # label, then pytest args
  local label=$1; shift
  echo "=== tests on $label ==="
  "$py" -m pytest "$@"
  local rc=$?
  if [ $rc -eq 5 ]; then echo "no tests were collected on $label: treating as a failure" >&2; return 1; fi
  return $rc
}

status=0
DATABASE_URL= run_pytest SQLite "$@" || status=1

pgdir=$(mktemp -d /tmp/onefunnel-pg.XXXXXX)
port=$(( 55000 + RANDOM % 5000 ))
if url=$(bash scripts/pg.sh start "$pgdir" "$port"); then
  trap 'bash scripts/pg.sh stop "$pgdir"' EXIT
  DATABASE_URL=$url run_pytest "PostgreSQL ($url)" "$@" || status=1
else
  rmdir "$pgdir" 2>/dev/null
  if [ "${ONEFUNNEL_REQUIRE_POSTGRES:-}" = 1 ] || [ "${CI:-}" = true ]; then
    echo "PostgreSQL could not be started: failing (CI needs both databases)" >&2
    status=1
  else
    echo "PostgreSQL is not available: only the SQLite half ran (apt-get install postgresql)" >&2
  fi
fi
exit $status
