"""The tracking inbox: acknowledge a batch by storing it whole, expand it into touchpoints after.

This is how tracking APIs built for volume usually work: the endpoint validates
a batch and commits it *as received* — one row, one insert — and answers 200; a processor then
expands the stored batches into touchpoints, contacts and stage moves in large turns with
:func:`onefunnel.services.tracking.ingest_batches`. The guarantees stay:

* acknowledged means durable: the 200 is sent after the row holding the batch has committed,
  and a row is deleted only once its touchpoints are committed;
* a resent batch is stored once: the processor deduplicates on ``messageId`` against the
  touchpoints, as the direct path did;
* the touchpoints are the same as if stored directly: the body is parsed again with the same
  ``received_at``, so every message gets the same id and the same clock-corrected time.

What changes is that a touchpoint appears shortly *after* the acknowledgement (the processor's
lag), and that the 200 cannot count duplicates any more (nothing is compared yet).

Where the inbox lives: the ``InboundBatch`` table, except with a SQLite database file, where
it is a second SQLite file beside it (``<database>-inbox.sqlite3``, WAL, the same durability
settings). SQLite lets one writer at a time hold a database, and a processing turn is long: in
the same file every acknowledgement would wait for the turn to end. In its own file an
acknowledgement waits only for other acknowledgements. The price is that storing a turn's
touchpoints and deleting its inbox rows are two commits: a crash between them expands those
batches again, which stores nothing twice (every message id is then already stored).

Processors of all server processes take turns: an advisory lock on PostgreSQL, a file lock
on SQLite, so batches are expanded one turn at a time, in the order they were acknowledged.
"""

from __future__ import annotations

import fcntl
import gzip
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import orjson
from django.db import OperationalError, connection, transaction

from onefunnel.domain.tracking import (
    BatchError,
    EventType,
    TrackingEvent,
    parse_body,
)
from onefunnel.models import InboundBatch
from onefunnel.private_files import create_private
from onefunnel.services.tracking import ingest_batches

# A processing turn stops taking batches beyond this many messages: large enough to share the
# per-turn costs (lookups, locks, one score per contact), small enough to bound a transaction.
MAX_PROCESS_EVENTS = 5_000
# ... and beyond this many batches (single-message calls are batches of one).
_MAX_PROCESS_BATCHES = 1_000
# An arbitrary constant naming the processors' advisory lock on PostgreSQL.
_PG_LOCK = 0x0F_7A_C1


@dataclass(frozen=True, slots=True)
class Received:
    """A validated request body, as received, with what is needed to parse it again."""

    body: bytes
    gzipped: bool
    kind: EventType | None
    received_at: datetime
    events: int


@dataclass(frozen=True, slots=True)
class Processed:
    """What a processing turn did: batches expanded, touchpoints stored, messages already
    stored, batches set aside as failed."""

    batches: int
    accepted: int
    duplicates: int
    failed: int


def _database_file() -> Path | None:
    """The SQLite database file, or None (PostgreSQL, or an in-memory test database)."""
    if connection.vendor != "sqlite":
        return None
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


@contextmanager
def _flock(path: Path, mode: int = fcntl.LOCK_EX) -> Iterator[None]:
    # A waiting process sleeps in the kernel and wakes the moment the lock is free, instead of
    # polling SQLite's busy handler (whose back-off sleeps make latency long under contention).
    # Created private (0600) if new, as the files it guards are.
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def processor_turn() -> Iterator[None]:
    """Serialise the inbox processors of all processes on one SQLite file (no-op elsewhere:
    PostgreSQL's advisory lock is taken inside the transaction)."""
    database = _database_file()
    if database is None:
        yield
        return
    with _flock(database.with_name(database.name + "-ingest.lock")):
        yield


class _Inbox(Protocol):
    def add(self, batches: Sequence[Received]) -> None: ...
    def oldest(self, limit: int, max_events: int) -> list[tuple[int, Received]]: ...
    def remove(self, ids: Sequence[int]) -> None: ...
    def set_aside(self, failed: dict[int, str]) -> None: ...
    def pending(self) -> int: ...


class _TableInbox:
    """The inbox as the ``InboundBatch`` table, written in the caller's transaction."""

    def add(self, batches: Sequence[Received]) -> None:
        rows = [
            InboundBatch(
                received_at=b.received_at,
                kind=b.kind.value if b.kind else "",
                gzipped=b.gzipped,
                body=b.body,
                events=b.events,
            )
            for b in batches
        ]
        with transaction.atomic():
            InboundBatch.objects.bulk_create(rows)

    def oldest(self, limit: int, max_events: int) -> list[tuple[int, Received]]:
        waiting = InboundBatch.objects.filter(failed="").order_by("id")
        ids = _first_batches(waiting[:limit].values_list("id", "events"), max_events)
        rows = InboundBatch.objects.filter(pk__in=ids).order_by("id")
        return [
            (pk, Received(bytes(body), gzipped, EventType(kind) if kind else None, at, events))
            for pk, at, kind, gzipped, body, events in rows.values_list(
                "id", "received_at", "kind", "gzipped", "body", "events"
            )
        ]

    def remove(self, ids: Sequence[int]) -> None:
        InboundBatch.objects.filter(pk__in=ids).delete()

    def set_aside(self, failed: dict[int, str]) -> None:
        for pk, error in failed.items():
            InboundBatch.objects.filter(pk=pk).update(failed=error)

    def pending(self) -> int:
        return sum(InboundBatch.objects.filter(failed="").values_list("events", flat=True))


_SCHEMA = """CREATE TABLE IF NOT EXISTS inbound_batch (
    id INTEGER PRIMARY KEY AUTOINCREMENT, received_at TEXT NOT NULL, kind TEXT NOT NULL,
    gzipped INTEGER NOT NULL, body BLOB NOT NULL, events INTEGER NOT NULL,
    failed TEXT NOT NULL DEFAULT '')"""


class FileInbox:
    """The inbox as a SQLite file of its own (see the module docstring); one connection per
    thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            # Private from creation, as the database is (its -wal and -shm follow its mode).
            create_private(self.path)
            db = sqlite3.connect(self.path, timeout=20, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(_SCHEMA)
            self._local.db = db
        return db

    def _write(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        # Writers of several processes take turns on a file lock, not the busy handler.
        with _flock(self.path.with_name(self.path.name + ".lock")):
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(sql, rows)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def add(self, batches: Sequence[Received]) -> None:
        rows = [
            (b.received_at.isoformat(), b.kind.value if b.kind else "", b.gzipped, b.body, b.events)
            for b in batches
        ]
        self._write(
            "INSERT INTO inbound_batch (received_at, kind, gzipped, body, events) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )

    def oldest(self, limit: int, max_events: int) -> list[tuple[int, Received]]:
        db = self._db()
        waiting = db.execute(
            "SELECT id, events FROM inbound_batch WHERE failed = '' ORDER BY id LIMIT ?", (limit,)
        )
        ids = _first_batches(waiting, max_events)
        if not ids:
            return []
        rows = db.execute(
            "SELECT id, received_at, kind, gzipped, body, events FROM inbound_batch "
            "WHERE id BETWEEN ? AND ? AND failed = '' ORDER BY id",
            (ids[0], ids[-1]),
        )
        return [
            (pk, Received(body, bool(z), EventType(kind) if kind else None, _time(at), n))
            for pk, at, kind, z, body, n in rows
        ]

    def remove(self, ids: Sequence[int]) -> None:
        self._write("DELETE FROM inbound_batch WHERE id = ?", [(i,) for i in ids])

    def set_aside(self, failed: dict[int, str]) -> None:
        self._write(
            "UPDATE inbound_batch SET failed = ? WHERE id = ?",
            [(error, pk) for pk, error in failed.items()],
        )

    def pending(self) -> int:
        row = (
            self._db()
            .execute("SELECT COALESCE(SUM(events), 0) FROM inbound_batch WHERE failed = ''")
            .fetchone()
        )
        return int(row[0])


def _first_batches(waiting: Iterable[tuple[int, int]], max_events: int) -> list[int]:
    """Ids of the oldest waiting batches, up to the first that brings the total to
    ``max_events`` messages: a turn reads only the bodies it will expand, however long the
    backlog."""
    ids: list[int] = []
    size = 0
    for pk, events in waiting:
        ids.append(pk)
        size += events
        if size >= max_events:
            break
    return ids


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


_inboxes: dict[Path, FileInbox] = {}
_inboxes_lock = threading.Lock()


def inbox() -> _Inbox:
    """Where acknowledged batches wait on this database (see the module docstring)."""
    database = _database_file()
    if database is None:
        return _TableInbox()
    path = database.with_name(database.name + "-inbox.sqlite3")
    with _inboxes_lock:
        return _inboxes.setdefault(path, FileInbox(path))


def accept(batches: Sequence[Received]) -> None:
    """Store acknowledged batches, all in one transaction (one multi-row insert)."""
    inbox().add(batches)


def messages_of(received: Received) -> tuple[TrackingEvent, ...]:
    """The valid messages of a stored body (the invalid ones were refused when it came in)."""
    raw = gzip.decompress(received.body) if received.gzipped else received.body
    return parse_body(raw, received.kind, received_at=received.received_at).events


_in_process = threading.Lock()


def pending() -> int:
    """Messages acknowledged and not expanded yet (failed batches excluded)."""
    return inbox().pending()


def process_inbound(max_events: int | None = None) -> Processed:
    """Expand the oldest waiting batches (up to about ``max_events`` messages, by default
    ``MAX_PROCESS_EVENTS``) in one transaction.

    A batch that cannot be stored even on its own (a bug, a rule the data breaks) is kept with
    its error in ``failed`` and skipped from then on; a busy database (OperationalError) stops
    the turn with nothing changed, to be retried.
    """
    box = inbox()
    limit = max_events or MAX_PROCESS_EVENTS
    with _in_process, processor_turn():
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK])
            taken = box.oldest(_MAX_PROCESS_BATCHES, limit)
            if not taken:
                return Processed(0, 0, 0, 0)
            done, failed, accepted, duplicates = _expand(taken)
            if isinstance(box, _TableInbox):
                box.remove(done)
                box.set_aside(failed)
        if not isinstance(box, _TableInbox):
            # After the touchpoints' commit: a crash in between expands these again, harmlessly.
            box.remove(done)
            box.set_aside(failed)
    return Processed(len(done), accepted, duplicates, len(failed))


def drain() -> int:
    """Process until no batch waits; the number of batches expanded."""
    done = 0
    while (turn := process_inbound()).batches:
        done += turn.batches
    return done


def _expand(taken: list[tuple[int, Received]]) -> tuple[list[int], dict[int, str], int, int]:
    """Store the touchpoints of batches; (ids done, failed ids with error, accepted, duplicates)."""
    parsed: list[tuple[int, Received, tuple[TrackingEvent, ...]]] = []
    failed: dict[int, str] = {}
    for pk, received in taken:
        try:
            parsed.append((pk, received, messages_of(received)))
        except (OSError, EOFError, orjson.JSONDecodeError, BatchError, ValueError) as exc:
            failed[pk] = f"cannot parse the stored body: {exc}"
    accepted = duplicates = 0
    try:
        with transaction.atomic():
            results = ingest_batches(
                [events for _, _, events in parsed],
                received_each=[received.received_at for _, received, _ in parsed],
            )
        accepted = sum(r.accepted for r in results)
        duplicates = sum(r.duplicates for r in results)
    except OperationalError:
        raise
    except Exception:
        # One batch spoils the shared turn: store each alone, set aside the ones that fail.
        for pk, received, events in parsed:
            try:
                with transaction.atomic():
                    (result,) = ingest_batches([events], received_at=received.received_at)
            except OperationalError:
                raise
            except Exception as exc:
                failed[pk] = f"{type(exc).__name__}: {exc}"[:2000]
                continue
            accepted += result.accepted
            duplicates += result.duplicates
    done = [pk for pk, _ in taken if pk not in failed]
    return done, failed, accepted, duplicates
