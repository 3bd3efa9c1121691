"""Report results, cached until the data they read changes.

Many people read the same report for the same period; each request used to compute it again
over all the data. `cached` keeps a result in Django's cache (``CACHES["default"]``: per
process by default, shared with ``ONEFUNNEL_CACHE_URL=redis://…``) under a key made of:

* what was asked — the ``repr`` of every argument (a report's name, period, grouping and its
  whole frozen ``ReportOptions``: a field added later is part of the key without anyone
  remembering to add it);
* today's UTC date, so results relative to "today" are not served tomorrow;
* the database's alias and the **data version** (`data_stamp`): a stamp the database's own
  triggers change with every committed change to a table reports read
  (``models/dataversion.py``), whichever process or code path wrote it.

The stamp is read *before* the computation, and the computation reads data at least as new:
a result is stored under a stamp no newer than its data, so a reader holding that stamp never
gets an older answer than it would compute. Nothing is cached inside a transaction (its own
uncommitted writes could be rolled back after a result that saw them was stored), on an
engine other than the Django database, or when ``ONEFUNNEL_REPORT_CACHE_SECONDS`` is 0.

Within one process, concurrent requests for the same missing result wait for the first to
compute it instead of all computing it at once (after a change, twenty readers of one page
would otherwise run the same report twenty times).

Results are the same for every reader: only functions whose answer does not depend on who
asks are cached here, or the asker is part of the arguments.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections, transaction

T = TypeVar("T")
#: Above this many change rows (PostgreSQL), the log is emptied and its generation increased.
PRUNE_AT = 5_000
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def seconds() -> int:
    """How long a result is kept (``ONEFUNNEL_REPORT_CACHE_SECONDS``; 0 turns caching off)."""
    return int(getattr(settings, "ONEFUNNEL_REPORT_CACHE_SECONDS", 3600))


def data_stamp(using: str = "default") -> str | None:
    """The data version of the database, or None when it cannot vouch for a cached result:
    inside a transaction, or without the version table (not migrated)."""
    # Imported here: reports on a DuckDB or Spark engine run without Django's models loaded
    # (`onefunnel report` on a Parquet export), and never ask for a stamp.
    from onefunnel.models.dataversion import stamp_sql

    connection = connections[using]
    if connection.in_atomic_block:
        return None
    try:
        with connection.cursor() as cursor:
            cursor.execute(stamp_sql(using))
            row = cursor.fetchone()
    except DatabaseError:
        return None
    if row is None:
        return None
    version, changes = int(row[0]), int(row[1])
    if changes > PRUNE_AT:
        _prune(using)
    # (SQLite) then each table's largest id: inserts raise it.
    return ".".join([str(version), str(changes), *(str(v or 0) for v in row[2:])])


def _prune(using: str) -> None:
    """Empty the change log and start a new generation, in one transaction: a reader sees
    either the old generation with its rows or the new one, never a count seen before."""
    from onefunnel.models.dataversion import CHANGE_TABLE, VERSION_TABLE

    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(f"DELETE FROM {CHANGE_TABLE}")
        cursor.execute(f"UPDATE {VERSION_TABLE} SET version = version + 1 WHERE id = 1")


def this_minute(now: datetime | None = None) -> datetime:
    """The end of the current minute (UTC): the "as of" of a result computed for the present
    and kept for the rest of the minute. Everything recorded so far is earlier, so a result as
    of it counts all of it; a write within the minute changes the data version instead. What
    moves with the clock alone (the share of a month still to come, a 30-day window's edge)
    moves by less than a minute. The last minute of a day ends on that day (23:59:59.999999),
    so "today" and the current month or quarter are the clock's."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    start = moment.replace(second=0, microsecond=0)
    if start == moment:
        return start
    return min(start + timedelta(minutes=1), datetime.combine(moment.date(), time.max, UTC))


def key_of(kind: str, args: tuple[object, ...], *, stamp: str, using: str = "default") -> str:
    """The cache key of a result: a digest of what was asked, today and the data version."""
    today = datetime.now(UTC).date().isoformat()
    text = repr((kind, args, today, using, stamp))
    return "onefunnel:report:" + hashlib.sha256(text.encode()).hexdigest()


def cached(
    kind: str, args: tuple[object, ...], compute: Callable[[], T], *, using: str = "default"
) -> T:
    """``compute()``, or the result kept for the same ``kind`` and ``args`` over the same data.

    ``args`` must name everything the result depends on besides the database and today;
    their ``repr`` is the key, so they must be values (dataclasses, dates, strings, numbers).
    """
    keep = seconds()
    stamp = data_stamp(using) if keep > 0 else None
    if stamp is None:
        return compute()
    key = key_of(kind, args, stamp=stamp, using=using)
    found = cache.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    with _lock(key):
        found = cache.get(key)
        if found is not None:
            return found  # type: ignore[no-any-return]
        result = compute()
        cache.set(key, result, keep)
    return result


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        if len(_locks) > 1024:  # keys of past data versions: drop the idle ones
            for old in [k for k, lock in _locks.items() if not lock.locked()]:
                del _locks[old]
        return _locks.setdefault(key, threading.Lock())
