"""Report results, cached until the data they read changes.

Many people read the same report for the same period; each request used to compute it again
over all the data. `cached` keeps a result in Django's cache (``CACHES["default"]``: per
process by default, shared with ``ONEFUNNEL_CACHE_URL=redis://…``) under a key made of:

* what was asked — the ``repr`` of every argument (a report's name, period, grouping and its
  whole frozen ``ReportOptions``: a field added later is part of the key without anyone
  remembering to add it);
* today's UTC date, so results relative to "today" are not served tomorrow;
* the database's alias and the **versions of the tables the result read** (`data_stamp`): the
  database's own triggers change a table's version with every committed change to it
  (``models/dataversion.py``), whichever process or code path wrote it.

Which tables a result read is not declared by hand (a table forgotten there would serve stale
numbers): while a result is computed, every statement it runs — through the ORM, a report
engine's SQL, another connection in a thread — is noted (`note_read`), and the tables it names
are kept with the question. The next reader keys on the versions of those tables only, so a
call logged on a deal (a touchpoint and an activity) leaves the forecast, which reads deals
and their stages, where it was. A computation that reads a table not noted before widens the
set for the next ones. A result computed inside another (the forecast inside the per-owner
forecast) adds its tables to the outer one's, also when it is served from the cache.

The stamp is read *before* the computation, and the computation reads data at least as new:
a result is stored under versions no newer than its data, so a reader holding those versions
never gets an older answer than it would compute. Nothing is cached inside a transaction (its
own uncommitted writes could be rolled back after a result that saw them was stored), on an
engine other than the Django database, or when ``ONEFUNNEL_REPORT_CACHE_SECONDS`` is 0.

Within one process, concurrent requests for the same missing result wait for the first to
compute it instead of all computing it at once (after a change, twenty readers of one page
would otherwise run the same report twenty times).

Results are the same for every reader: only functions whose answer does not depend on who
asks are cached here, or the asker is part of the arguments.

**Served before their update** (``ONEFUNNEL_REPORT_STALE_SECONDS``, 0 by default: off). On a
busy installation a write every few seconds makes the next reader of every report that read the
table wait for it to be computed again (seconds each on millions of touchpoints). With N > 0, a
page (a web request: `serving_request`) that finds no result for the data as it is now gets the
one computed for the same question less than N seconds ago, while one background thread per
process computes the new one; the request notes the time that result is as of (`data_as_of`),
and the page says it. Never for a result computed inside another (the outer one would be kept
under the new data), nor outside a web request: the CLI and the worker always compute. The
API's answers carry the time in an ``X-Onefunnel-Data-As-Of`` header (``web/freshness.py``).
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections, transaction

if TYPE_CHECKING:
    from onefunnel.models.dataversion import Stamp

T = TypeVar("T")
#: Above this many change rows (PostgreSQL), the log is emptied and its generation increased.
PRUNE_AT = 5_000
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
#: The sets of tables being noted in this context: one per result being computed (nested
#: computations each have theirs). A thread started for a part of a computation runs in a
#: copy of the context (`DjangoEngine.in_parallel`), and so notes into the same sets.
_reading: ContextVar[tuple[set[str], ...]] = ContextVar("onefunnel_reading", default=())
#: The times of the results a web request was served before their update (None: not a request).
_served: ContextVar[list[datetime] | None] = ContextVar("onefunnel_served", default=None)
#: True in the background thread that brings results up to date: it computes, never serves.
_updating: ContextVar[bool] = ContextVar("onefunnel_updating", default=False)
_updates = ThreadPoolExecutor(max_workers=1, thread_name_prefix="onefunnel-report-update")
_in_update: set[str] = set()
_log = logging.getLogger(__name__)
#: Table names in SQL, quoted or not (Django quotes them; hand-written report SQL may not).
_TABLE_NAME = re.compile(r"\b(onefunnel_[a-z0-9_]+|auth_[a-z_]+)\b")


def seconds() -> int:
    """How long a result is kept (``ONEFUNNEL_REPORT_CACHE_SECONDS``; 0 turns caching off)."""
    return int(getattr(settings, "ONEFUNNEL_REPORT_CACHE_SECONDS", 3600))


def stale_seconds() -> int:
    """How old a result a page may be served while its update is computed
    (``ONEFUNNEL_REPORT_STALE_SECONDS``; 0, the default: never — the next read sees a write)."""
    return int(getattr(settings, "ONEFUNNEL_REPORT_STALE_SECONDS", 0))


@contextmanager
def serving_request() -> Iterator[None]:
    """Around a web request: the results it may be served before their update are noted."""
    token = _served.set([])
    try:
        yield
    finally:
        _served.reset(token)


def data_as_of() -> datetime | None:
    """The oldest "as of" of the results this request was served before their update, if any."""
    served = _served.get()
    return min(served) if served else None


def wait_for_updates(timeout: float = 60.0) -> bool:
    """Wait until the background updates started so far are done; False on timeout."""
    try:
        _updates.submit(lambda: None).result(timeout=timeout)
    except FuturesTimeout:
        return False
    return True


def data_stamp(using: str = "default") -> Stamp | None:
    """The data version of the database, or None when it cannot vouch for a cached result:
    inside a transaction, or without the version tables (not migrated)."""
    # Imported here: reports on a DuckDB or Spark engine run without Django's models loaded
    # (`onefunnel report` on a Parquet export), and never ask for a stamp.
    from onefunnel.models.dataversion import read_stamp

    connection = connections[using]
    if connection.in_atomic_block:
        return None
    # The stamp names every table: it is no read of the result being computed around it.
    quiet = _reading.set(())
    try:
        with connection.cursor() as cursor:
            stamp = read_stamp(cursor, using)
        if stamp is not None and stamp.changes > PRUNE_AT:
            _prune(using)
    except DatabaseError:
        return None
    finally:
        _reading.reset(quiet)
    return stamp


def note_read(sql: str) -> None:
    """Note the tables a statement names, for every result being computed in this context."""
    sets = _reading.get()
    if sets:
        names = _TABLE_NAME.findall(sql)
        for tables in sets:
            tables.update(names)


def _noting(execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Any) -> Any:
    if _reading.get():
        note_read(str(sql))
    return execute(sql, params, many, context)


def note_queries(sender: object, connection: Any, **kwargs: object) -> None:
    """``connection_created``: every statement run through a Django connection is noted."""
    if _noting not in connection.execute_wrappers:
        connection.execute_wrappers.append(_noting)


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
    """The cache key of a result: a digest of what was asked, today and the versions of the
    tables it read (`Stamp.of`)."""
    today = datetime.now(UTC).date().isoformat()
    text = repr((kind, args, today, using, stamp))
    return "onefunnel:report:" + hashlib.sha256(text.encode()).hexdigest()


def _reads_key(kind: str, args: tuple[object, ...], using: str) -> str:
    text = repr((kind, args, using))
    return "onefunnel:reads:" + hashlib.sha256(text.encode()).hexdigest()


def kept(kind: str, args: tuple[object, ...], *, using: str = "default") -> Any:
    """The result kept for ``kind`` and ``args`` over the data as it is now, or None."""
    stamp = data_stamp(using)
    reads = cache.get(_reads_key(kind, args, using))
    if stamp is None or reads is None:
        return None
    return cache.get(key_of(kind, args, stamp=stamp.of(reads), using=using))


def tables_read(kind: str, args: tuple[object, ...], *, using: str = "default") -> tuple[str, ...]:
    """The tables the results kept for ``kind`` and ``args`` were noted reading (empty: none
    computed yet, or forgotten)."""
    return tuple(cache.get(_reads_key(kind, args, using)) or ())


def _noted(tables: Iterable[str]) -> None:
    for outer in _reading.get():
        outer.update(tables)


def cached(
    kind: str,
    args: tuple[object, ...],
    compute: Callable[[], T],
    *,
    using: str = "default",
    present: tuple[object, ...] | None = None,
) -> T:
    """``compute()``, or the result kept for the same ``kind`` and ``args`` while the tables
    it read have not changed.

    ``args`` must name everything the result depends on besides the database and today;
    their ``repr`` is the key, so they must be values (dataclasses, dates, strings, numbers).
    ``present``: for a result asked "as of now" (``args`` holding `this_minute`), the arguments
    without the moment — the question a page may be served an earlier minute's answer to.
    """
    keep = seconds()
    stamp = data_stamp(using) if keep > 0 else None
    if stamp is None:
        return compute()
    question = _reads_key(kind, args, using)

    def found() -> tuple[bool, Any, tuple[str, ...]]:
        reads = cache.get(question)
        if reads is None:
            return False, None, ()
        result = cache.get(key_of(kind, args, stamp=stamp.of(reads), using=using))
        return result is not None, result, tuple(reads)

    hit, result, reads = found()
    if not hit:
        latest = _latest_key(kind, args if present is None else present, using)
        earlier = _earlier(latest)
        if earlier is not None:
            at, reads, result = earlier
            _update_later(kind, args, compute, using, question, present)
            served = _served.get()
            if served is not None:
                served.append(at)
        else:
            at = datetime.now(UTC)
            with _lock(question):
                hit, result, reads = found()
                if not hit:
                    result, reads = _compute(compute, reads)
                    cache.set(question, reads, keep)
                    cache.set(key_of(kind, args, stamp=stamp.of(reads), using=using), result, keep)
                    if stale_seconds() > 0:
                        cache.set(latest, (at, reads, result), keep)
    _noted(reads)
    return result  # type: ignore[no-any-return]


def _compute(compute: Callable[[], T], reads: tuple[str, ...]) -> tuple[T, tuple[str, ...]]:
    """``compute()`` with the tables its statements name noted (beside ``reads``)."""
    tables: set[str] = set(reads)
    noting = _reading.set((*_reading.get(), tables))
    try:
        return compute(), tuple(sorted(tables))
    finally:
        _reading.reset(noting)


def _latest_key(kind: str, args: tuple[object, ...], using: str) -> str:
    return key_of(kind, args, stamp="latest", using=using)


def _earlier(latest_key: str) -> tuple[datetime, Any, Any] | None:
    """The latest result for the question, when this reader may be served it before its
    update: a web request, not inside another computation nor the update itself, and computed
    less than ``stale_seconds`` ago."""
    bound = stale_seconds()
    if bound <= 0 or _served.get() is None or _reading.get() or _updating.get():
        return None
    latest = cache.get(latest_key)
    if latest is None or datetime.now(UTC) - latest[0] > timedelta(seconds=bound):
        return None
    return latest  # type: ignore[no-any-return]


def _update_later(
    kind: str,
    args: tuple[object, ...],
    compute: Callable[[], Any],
    using: str,
    question: str,
    present: tuple[object, ...] | None,
) -> None:
    """Compute the result for the data as it is now in the background, once at a time (and,
    for an answer as of now, the latest answer to the present's question with it)."""
    with _locks_guard:
        if question in _in_update:
            return
        _in_update.add(question)

    def in_own_context() -> None:
        _updating.set(True)
        try:
            cached(kind, args, compute, using=using, present=present)
        except Exception:  # a failed update leaves the next reader to compute it (and fail)
            _log.exception("updating the kept %s result failed", kind)
        finally:
            with _locks_guard:
                _in_update.discard(question)
            connections[using].close()

    _updates.submit(contextvars.Context().run, in_own_context)


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        if len(_locks) > 1024:  # keys of past data versions: drop the idle ones
            for old in [k for k, lock in _locks.items() if not lock.locked()]:
                del _locks[old]
        return _locks.setdefault(key, threading.Lock())
