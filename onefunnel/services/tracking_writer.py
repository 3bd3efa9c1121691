"""Group commit for tracking ingestion: one writer thread per process, one transaction per turn.

A tracking endpoint receives many small batches at once. Committing each in its own transaction
pays the per-transaction costs (the commit's flush to disk, the lookups of message ids, users,
anonymous ids and campaigns, the lock of the touched contacts, the insert) once per request; here
a single writer thread takes every batch waiting in the process and stores them together with
:func:`onefunnel.services.tracking.ingest_batches`, so those costs are paid once per *turn*, and
the busier the server, the larger the turns. Each request is still answered only after the
transaction holding its batch has committed.

When a shared transaction fails, each of its batches is retried alone, so one batch that cannot
be stored (or a deadlock with another process) costs only that batch its answer.

On SQLite, where one writer at a time holds the database, the writers of several server
processes take turns on an advisory file lock next to the database: a waiting process sleeps in
the kernel and wakes the moment the lock is free, instead of polling SQLite's busy handler
(whose back-off sleeps are what made batch latency long under contention).
"""

from __future__ import annotations

import fcntl
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.db import close_old_connections, connection

from onefunnel.domain.tracking import TrackingEvent
from onefunnel.services.keys import TRACKING_WRITE, verify_key
from onefunnel.services.tracking import IngestResult, ingest_batches

# A turn stops taking batches beyond this many messages: bounds one transaction's size (and the
# SQL parameters of its lookups) while still amortising the per-transaction costs.
MAX_TURN_EVENTS = 5_000


@dataclass(frozen=True, slots=True)
class _Job:
    write_key: str
    events: Sequence[TrackingEvent]
    done: Future[IngestResult | None]


class GroupCommitWriter:
    """The process's tracking writer: :meth:`submit` a batch, get its result after the commit."""

    def __init__(self, max_turn_events: int = MAX_TURN_EVENTS) -> None:
        self._jobs: queue.SimpleQueue[_Job | Callable[[], None]] = queue.SimpleQueue()
        self._max_turn_events = max_turn_events
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(
        self, write_key: str, events: Sequence[TrackingEvent]
    ) -> Future[IngestResult | None]:
        """Queue a batch sent with a write key.

        The future holds the batch's result once committed, None when the key is not a live
        ``tracking:write`` key (nothing is stored), or the error that stopped the transaction.
        An empty batch only checks the key.
        """
        job = _Job(write_key, events, Future())
        self._ensure_started()
        self._jobs.put(job)
        return job.done

    def close_connection(self) -> None:
        """Close the writer's database connection now (the next batch opens a new one).

        For whoever must drop the database while the process lives on, e.g. a test run.
        """
        if self._thread is None or not self._thread.is_alive():
            return
        closed: Future[None] = Future()

        def close() -> None:
            connection.close()
            closed.set_result(None)

        self._jobs.put(close)
        closed.result()

    def _ensure_started(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="onefunnel-tracking-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        waiting: _Job | Callable[[], None] | None = None
        while True:
            first = waiting or self._jobs.get()
            waiting = None
            if not isinstance(first, _Job):
                first()
                continue
            turn = [first]
            size = len(first.events)
            while size < self._max_turn_events:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if not isinstance(job, _Job):
                    waiting = job
                    break
                turn.append(job)
                size += len(job.events)
            self._write(turn)

    def _write(self, turn: list[_Job]) -> None:
        try:
            results = _ingest_turn(turn)
        except Exception as exc:
            if len(turn) == 1:
                turn[0].done.set_exception(exc)
                return
            for job in turn:
                self._write([job])
            return
        for job, result in zip(turn, results, strict=True):
            job.done.set_result(result)


def _ingest_turn(turn: list[_Job]) -> list[IngestResult | None]:
    # The writer thread lives as long as the process: drop a connection the database closed
    # or that is past its age, as Django does around each request.
    close_old_connections()
    live = {key for key in {job.write_key for job in turn} if verify_key(key, TRACKING_WRITE)}
    writes = [job for job in turn if job.write_key in live and job.events]
    if writes:
        with _writer_turn():
            stored = iter(ingest_batches([job.events for job in writes]))
    else:
        stored = iter(())
    nothing = IngestResult(0, 0, (), 0)
    return [
        (next(stored) if job.events else nothing) if job.write_key in live else None for job in turn
    ]


@contextmanager
def _writer_turn() -> Iterator[None]:
    """Serialise the ingest writers of all processes on one SQLite file (no-op elsewhere)."""
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


writer = GroupCommitWriter()
