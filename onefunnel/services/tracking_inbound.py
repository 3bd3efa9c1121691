"""The tracking inbox: acknowledge a batch by storing it whole, expand it into touchpoints after.

This is how tracking APIs built for volume work (Segment's own does it): the endpoint validates
a batch and commits it *as received* — one row, one insert — and answers 200; a processor then
expands the stored batches into touchpoints, contacts and stage moves in large turns with
:func:`onefunnel.services.tracking.ingest_batches`. The guarantees stay:

* acknowledged means durable: the 200 is sent after the row holding the batch has committed,
  and a row is deleted only in the transaction that stores its touchpoints;
* a resent batch is stored once: the processor deduplicates on ``messageId`` against the
  touchpoints, as the direct path did;
* the touchpoints are the same as if stored directly: the body is parsed again with the same
  ``received_at``, so every message gets the same id and the same clock-corrected time.

What changes is that a touchpoint appears shortly *after* the acknowledgement (the processor's
lag), and that the 200 cannot count duplicates any more (nothing is compared yet).

Processors of all server processes take turns: an advisory lock on PostgreSQL, the ingest
file lock on a SQLite file (where one writer at a time holds the database anyway), so batches
are expanded one turn at a time, in the order they were acknowledged.
"""

from __future__ import annotations

import fcntl
import gzip
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
from django.db import OperationalError, connection, transaction

from onefunnel.domain.tracking import (
    BatchError,
    EventType,
    TrackingEvent,
    parse_batch,
    parse_single,
)
from onefunnel.models import InboundBatch
from onefunnel.services.tracking import ingest_batches

# A processing turn stops taking batches beyond this many messages: large enough to share the
# per-turn costs (lookups, locks, one score per contact), small enough that on SQLite the
# acknowledgements waiting for the write lock are not held up for long.
MAX_PROCESS_EVENTS = 5_000
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


@contextmanager
def writer_turn() -> Iterator[None]:
    """Serialise the tracking writers of all processes on one SQLite file (no-op elsewhere).

    A waiting process sleeps in the kernel and wakes the moment the lock is free, instead of
    polling SQLite's busy handler (whose back-off sleeps make latency long under contention).
    """
    if connection.vendor != "sqlite":
        yield
        return
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or name.startswith("file:"):
        yield
        return
    with open(Path(name + "-ingest.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def accept(batches: Sequence[Received]) -> None:
    """Store acknowledged batches, all in one transaction (one multi-row insert)."""
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
    with writer_turn(), transaction.atomic():
        InboundBatch.objects.bulk_create(rows)


def messages_of(received: Received) -> tuple[TrackingEvent, ...]:
    """The valid messages of a stored body (the invalid ones were refused when it came in)."""
    raw = gzip.decompress(received.body) if received.gzipped else received.body
    decoded = orjson.loads(raw)
    if received.kind is None:
        return parse_batch(decoded, received_at=received.received_at).events
    return parse_single(decoded, received.kind, received_at=received.received_at).events


_in_process = threading.Lock()


def pending() -> int:
    """Messages acknowledged and not expanded yet (failed batches excluded)."""
    counts = InboundBatch.objects.filter(failed="").values_list("events", flat=True)
    return sum(counts)


def process_inbound(max_events: int = MAX_PROCESS_EVENTS) -> Processed:
    """Expand the oldest waiting batches (up to about ``max_events`` messages) in one transaction.

    A batch that cannot be stored even on its own (a bug, a rule the data breaks) is kept with
    its error in ``failed`` and skipped from then on; a busy database (OperationalError) stops
    the turn with nothing changed, to be retried.
    """
    with _in_process, writer_turn(), transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK])
        rows = InboundBatch.objects.filter(failed="").order_by("id")
        taken: list[tuple[int, Received]] = []
        size = 0
        for pk, at, kind, gzipped, body, events in rows.values_list(
            "id", "received_at", "kind", "gzipped", "body", "events"
        )[:200]:
            taken.append(
                (pk, Received(bytes(body), gzipped, EventType(kind) if kind else None, at, events))
            )
            size += events
            if size >= max_events:
                break
        if not taken:
            return Processed(0, 0, 0, 0)
        return _expand(taken)


def drain() -> int:
    """Process until no batch waits; the number of batches expanded."""
    done = 0
    while (turn := process_inbound()).batches:
        done += turn.batches
    return done


def _expand(taken: list[tuple[int, Received]]) -> Processed:
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
    InboundBatch.objects.filter(pk__in=done).delete()
    for pk, error in failed.items():
        InboundBatch.objects.filter(pk=pk).update(failed=error)
    return Processed(len(done), accepted, duplicates, len(failed))
