"""Group commit for tracking acknowledgements, and the processor that expands them afterwards.

A tracking endpoint receives many small batches at once. Committing each in its own transaction
pays the per-transaction costs (the commit's flush to disk, the key check) once per request;
here a single writer thread takes every batch waiting in the process and stores them together
in the inbox (:func:`onefunnel.services.tracking_inbound.accept`, one multi-row insert), so
those costs are paid once per *turn*, and the busier the server, the larger the turns. Each
request is still answered only after the transaction holding its batch has committed.

When a shared transaction fails, each of its batches is retried alone, so one batch that cannot
be stored costs only that batch its answer.

A second thread, the processor, expands the acknowledged batches into touchpoints
(:func:`onefunnel.services.tracking_inbound.process_inbound`): woken by each commit of the
writer, and every few seconds anyway (for batches another process acknowledged, or left by a
process that stopped). ``ONEFUNNEL_TRACKING_PROCESSOR = False`` turns it off, for whoever
processes the inbox elsewhere (or a test that drains it itself): ``onefunnel serve`` runs
:func:`serve_inbox` in a process of its own beside the web workers, so that expanding does not
compete with answering requests for one interpreter lock, and ``onefunnel worker --tracking``
runs it for deployments that start the web server some other way.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol, TypeVar

from django.conf import settings
from django.db import connection

from onefunnel.domain.origins import origin_allowed
from onefunnel.services.keys import TRACKING_WRITE, KeyInfo, record_refused_origins, verify_key
from onefunnel.services.tracking_inbound import Received, accept, pending, process_inbound

log = logging.getLogger(__name__)
T = TypeVar("T")

# The default bound on the messages waiting in the inbox (ONEFUNNEL_TRACKING_MAX_BACKLOG):
# about a minute and a half of a 20,000 messages/s stream.
MAX_BACKLOG = 2_000_000
# A turn stops taking batches beyond this many messages: bounds one transaction's size (and the
# SQL parameters of its lookups) while still amortising the per-transaction costs.
MAX_TURN_EVENTS = 5_000


@dataclass(frozen=True, slots=True)
class _Job:
    write_key: str
    batch: Received | None
    done: Future[bool]
    origin: str | None = None

    @property
    def size(self) -> int:
        return self.batch.events if self.batch is not None else 0


class GroupCommitWriter:
    """The process's tracking writer: :meth:`submit` a batch, get its result after the commit."""

    def __init__(self, max_turn_events: int = MAX_TURN_EVENTS) -> None:
        self._jobs: queue.SimpleQueue[_Job | Callable[[], None]] = queue.SimpleQueue()
        self._max_turn_events = max_turn_events
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(
        self, write_key: str, batch: Received | None, origin: str | None = None
    ) -> Future[bool]:
        """Queue a batch sent with a write key, from a web ``origin`` (None: not a browser).

        The future holds True once the batch is committed, False when the key is not a live
        ``tracking:write`` key (nothing is stored), :class:`OriginRefusedError` when the key
        does not answer that origin (nothing is stored; the refusal is counted on the key), or
        the error that stopped the transaction. Without a batch, only the key is checked.
        """
        job = _Job(write_key, batch, Future(), origin)
        self._ensure_started()
        self._jobs.put(job)
        return job.done

    def call(self, work: Callable[[], T]) -> Future[T]:
        """Run ``work`` on the writer's thread, with its database connection, between turns:
        for the few reads the tracking endpoints need (a CORS preflight's origins) without
        opening a connection of their own."""
        done: Future[T] = Future()

        def run() -> None:
            try:
                _drop_broken_connection()
                done.set_result(work())
            except Exception as exc:
                done.set_exception(exc)

        self._ensure_started()
        self._jobs.put(run)
        return done

    def close_connection(self) -> None:
        """Close the writer's (and the processor's) database connection now; the next batch
        opens a new one.

        For whoever must drop the database while the process lives on, e.g. a test run.
        """
        processor.close_connection()
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
            size = first.size
            while size < self._max_turn_events:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if not isinstance(job, _Job):
                    waiting = job
                    break
                turn.append(job)
                size += job.size
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
            if isinstance(result, Exception):
                job.done.set_exception(result)
            else:
                job.done.set_result(result)


def _drop_broken_connection() -> None:
    """Close the thread's connection when an error left it unusable (the next query reconnects).

    Not Django's ``close_old_connections``: these threads live as long as the process, and with
    ``CONN_MAX_AGE = 0`` (the SQLite default) it would reconnect on every turn.
    """
    if connection.connection is not None and connection.errors_occurred:
        if not connection.is_usable():
            connection.close()
        else:
            connection.errors_occurred = False


def _ingest_turn(turn: list[_Job]) -> list[bool | Exception]:
    _drop_broken_connection()
    keys: dict[str, KeyInfo | None] = {}
    for job in turn:
        if job.write_key not in keys:
            keys[job.write_key] = verify_key(job.write_key, TRACKING_WRITE)
    refused: dict[int, tuple[str | None, int]] = {}
    allowed: list[bool] = []
    for job in turn:
        key = keys[job.write_key]
        ok = key is not None and origin_allowed(job.origin, key.origins)
        if key is not None and not ok:
            refused[key.id] = (job.origin, refused.get(key.id, (None, 0))[1] + 1)
        allowed.append(ok)
    batches = [job.batch for job, ok in zip(turn, allowed, strict=True) if ok and job.batch]
    full = InboxFullError() if batches and backlog.full(sum(b.events for b in batches)) else None
    if batches and full is None:
        accept(batches)
        processor.wake()
    if refused:
        record_refused_origins(refused)
    results: list[bool | Exception] = []
    for job, ok in zip(turn, allowed, strict=True):
        key = keys[job.write_key]
        if key is not None and not ok:
            results.append(OriginRefusedError(job.origin, key.origins))
        elif ok and full is not None and job.batch is not None:
            results.append(full)
        else:
            results.append(ok)
    return results


class InboxFullError(Exception):
    """The inbox holds ``ONEFUNNEL_TRACKING_MAX_BACKLOG`` messages or more: answer 429."""


class OriginRefusedError(Exception):
    """A live write key used from a web origin it does not answer (or a browser key used
    without one): answer 403. Counted on the key (``onefunnel keys list``) and logged."""

    def __init__(self, origin: str | None, allowed: tuple[str, ...]) -> None:
        self.origin = origin
        self.browser_key = bool(allowed)
        if origin is None:
            message = "Origin: this write key only answers web pages of its origins"
        elif allowed:
            message = f"Origin: {origin} is not allowed for this write key"
        else:
            message = (
                f"Origin: {origin}: this write key is a server key; create a browser key "
                "with `onefunnel keys create --scope tracking:write --origin ...`"
            )
        super().__init__(message)


class Backlog:
    """A bound on the messages waiting in the inbox, so that acknowledging faster than the
    processor expands cannot grow the lag (and the disk) without end: beyond it, senders are
    told to come back later (429), and their SDKs keep the messages meanwhile.

    Counting the inbox costs a query, so the writer keeps an estimate — the last count plus
    what it acknowledged since — and counts again once a second, or as soon as the estimate
    reaches the bound (the processor may have caught up).
    """

    def __init__(self) -> None:
        self._counted = 0
        self._counted_at = -1.0
        self._since = 0

    def full(self, incoming: int) -> bool:
        """Whether ``incoming`` more messages would pass the bound; counts them if not."""
        limit = int(getattr(settings, "ONEFUNNEL_TRACKING_MAX_BACKLOG", 0) or MAX_BACKLOG)
        now = time.monotonic()
        if now - self._counted_at >= 1.0 or self._counted + self._since + incoming > limit:
            self._counted, self._counted_at, self._since = pending(), now, 0
        if self._counted + self._since + incoming > limit:
            return True
        self._since += incoming
        return False


backlog = Backlog()


class InboxProcessor:
    """The process's inbox processor thread (see the module docstring)."""

    def __init__(self, idle_seconds: float = 5.0) -> None:
        self._wake = threading.Event()
        self._idle_seconds = idle_seconds
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._close = threading.Event()
        self._closed = threading.Event()
        self._stop = threading.Event()

    def wake(self) -> None:
        """Batches were acknowledged: expand them soon (starts the thread when enabled)."""
        if not getattr(settings, "ONEFUNNEL_TRACKING_PROCESSOR", True):
            return
        if self._thread is None or not self._thread.is_alive():
            with self._start_lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="onefunnel-tracking-processor", daemon=True
                    )
                    self._thread.start()
        self._wake.set()

    def close_connection(self) -> None:
        """Close the processor's database connection (the next turn opens a new one)."""
        if self._thread is None or not self._thread.is_alive():
            return
        self._closed.clear()
        self._close.set()
        self._wake.set()
        self._closed.wait()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread after its current turn (the next :meth:`wake` starts it again): for
        whoever needs the database to itself for a while, such as a test that truncates it."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        self._stop.set()
        self._wake.set()
        thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait(self._idle_seconds)
            self._wake.clear()
            if self._stop.is_set():
                self._stop.clear()
                connection.close()
                return
            if self._close.is_set():
                self._close.clear()
                connection.close()
                self._closed.set()
                continue
            try:
                _drop_broken_connection()
                while process_inbound().batches:
                    if self._close.is_set():
                        break
            except Exception:
                # A busy or lost database: the batches stay in the inbox for the next turn.
                log.exception("tracking inbox: processing turn failed, will retry")
                connection.close()


processor = InboxProcessor()
writer = GroupCommitWriter()


class StopSignal(Protocol):
    """What :func:`serve_inbox` waits on: a ``threading.Event`` or a ``multiprocessing`` one."""

    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


def serve_inbox(
    stop: StopSignal, *, idle_seconds: float = 0.2, alive: Callable[[], bool] = lambda: True
) -> int:
    """Expand the inbox turn after turn until ``stop`` is set (or ``alive()`` turns False);
    the number of batches expanded.

    Without a wake-up from the acknowledging processes, an empty inbox is looked at again every
    ``idle_seconds``: one indexed query, and at most that much added to the lag. A failed turn
    (a busy or lost database) is logged and retried after the same pause; its batches stay in
    the inbox.
    """
    done = 0
    while not stop.is_set() and alive():
        try:
            _drop_broken_connection()
            turn = process_inbound()
        except Exception:
            log.exception("tracking inbox: processing turn failed, will retry")
            connection.close()
            stop.wait(idle_seconds)
            continue
        done += turn.batches
        if not turn.batches:
            stop.wait(idle_seconds)
    return done
