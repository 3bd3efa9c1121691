"""Reading and normalising a contacts file in chunks, in a second process when a core is spare.

Reading a row and normalising it (dates, email, mappings) needs no database: a producer process
can do it while the main process writes the previous chunk. The producer sends each chunk's
rows, staged for the writer (``StagedContact``: plain text, numbers and times, no objects),
and its rejected rows (with their values, for the rejects file) through a bounded queue, so at
most a few chunks are in flight and memory stays flat whatever the file's size.

What crosses is kept plain because handing rows across is paid twice (pickled there, unpickled
here): a ContactRecord with its dicts, enums and path pickles about 25 times slower than its
staged tuple, which made the second process a loss. Where fork is unavailable, or when
``in_process`` is asked for, the same code runs inline.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from queue import Empty
from typing import Any

import orjson

from onefunnel.domain.crm_mapping import replay
from onefunnel.domain.provenance import PROVENANCE, import_stamps
from onefunnel.domain.stages import Stage, StageReason
from onefunnel.services.imports.bulk import datetime_adapter
from onefunnel.services.imports.csvfile import Chunk, CsvRows, parsed_in_chunks
from onefunnel.services.imports.records import ContactRecord, StagedContact
from onefunnel.services.imports.sources import ContactSource, reader_for

# Chunks parsed ahead of the writer: enough to keep both processes busy, few enough for memory.
_AHEAD = 2

ParsedChunk = Chunk[StagedContact]


def parse_chunks(
    path: Path, source: ContactSource, tz: tzinfo, chunk_rows: int, started: datetime
) -> Iterator[ParsedChunk]:
    """The file's rows as parsed chunks (read, normalised, checked and staged; nothing written).

    ``started`` is the import's time: the creation time of contacts whose row gives none.
    """
    # Times repeat within a row (a path's steps, its moves, the create date): adapted once.
    stamp = lru_cache(maxsize=1024)(datetime_adapter())
    with CsvRows(path) as rows:
        reader = reader_for(source, rows.header, tz)

        def parse(row: int, values: list[str]) -> StagedContact:
            return staged(reader.record(row, values), started, stamp)

        yield from parsed_in_chunks(rows, parse, chunk_rows)


def staged(
    record: ContactRecord, started: datetime, stamp: Callable[[datetime | None], Any]
) -> StagedContact:
    """The record staged for the writer; as a new contact, its path is replayed from no stage
    by the funnel's rules (the same ``replay`` an existing contact's path goes through).

    Properties are written as orjson writes them (compact): any JSON text reads back the same,
    and a re-import compares the stored text with the row's own made the same way.
    """
    created = record.created_at or started
    moves = replay(None, record.path, last_at=None, default_at=created)
    changes = tuple(
        (_VALUE[m.from_stage], _STAGE[m.to_stage], stamp(m.at), _VALUE[m.reason]) for m in moves
    )
    f, account = record.fields, record.account_fields
    # Each imported value says it came from an import, so tracking never overwrites it and
    # the contact's page can tell (domain/provenance.py). No time in the stamp: a re-import
    # of the same row writes the same text, and is skipped as unchanged.
    stamps = import_stamps(f)
    properties = {**record.properties, PROVENANCE: stamps} if stamps else record.properties
    return StagedContact(
        record.row, record.email, f.get("first_name", ""), f.get("last_name", ""),
        f.get("title", ""), f.get("phone", ""), f.get("country", ""), record.company,
        record.domain, account.get("industry", ""), account.get("employee_count"),
        _STAGE[moves[-1].to_stage] if moves else None, orjson.dumps(properties).decode(),
        stamp(created), changes, record.source_id[:64],
        tuple((_STAGE[s.stage], stamp(s.at), _VALUE[s.reason]) for s in record.path),
    )  # fmt: skip


# Enum members' ``.value`` is a property, slow at a few million calls: looked up instead.
_STAGE: dict[Stage, str] = {s: s.value for s in Stage}
_VALUE: dict[Stage | StageReason | None, str | None] = {
    None: None, **{s: s.value for s in Stage}, **{r: r.value for r in StageReason}
}  # fmt: skip


def worth_a_process() -> bool:
    """Whether reading in a second process pays: when it can run beside the writer."""
    return len(os.sched_getaffinity(0)) >= _CPUS_FOR_A_PROCESS


_CPUS_FOR_A_PROCESS = 2


def parsed_chunks(
    path: Path,
    source: ContactSource,
    tz: tzinfo,
    chunk_rows: int,
    started: datetime,
    *,
    in_process: bool = False,
) -> Iterator[ParsedChunk]:
    """``parse_chunks``, produced by a forked process when possible.

    The caller must have checked the header already (``reader_for``), so the producer's only
    failures are unexpected ones; they are raised here as RuntimeError with the producer's
    traceback.
    """
    if in_process or "fork" not in multiprocessing.get_all_start_methods():
        yield from parse_chunks(path, source, tz, chunk_rows, started)
        return
    context = multiprocessing.get_context("fork")
    queue: Any = context.Queue(maxsize=_AHEAD)
    producer = context.Process(
        target=_produce, args=(queue, path, source, tz, chunk_rows, started), daemon=True
    )
    producer.start()
    try:
        while True:
            item = _next(queue, producer, path)
            if item is None:
                break
            if isinstance(item, str):
                raise RuntimeError(f"reading {path} failed:\n{item}")
            item.parsed = _named(item.parsed)
            yield item
        producer.join()
    finally:
        if producer.is_alive():
            producer.terminate()
            producer.join()
        queue.close()


def _named(rows: list[Any]) -> list[StagedContact]:
    """Plain tuples back as StagedContact; ``tuple.__new__`` skips the Python-level __new__."""
    make = tuple.__new__
    return [make(StagedContact, row) for row in rows]


def _next(queue: Any, producer: Any, path: Path) -> Any:
    """The producer's next message; RuntimeError if it died without a word (killed, say)."""
    while True:
        try:
            return queue.get(timeout=1.0)
        except Empty:
            if producer.is_alive():
                continue
        # Dead: whatever it sent before exiting is already in the pipe.
        try:
            return queue.get(timeout=1.0)
        except Empty:
            raise RuntimeError(
                f"reading {path} stopped: the reading process exited ({producer.exitcode})"
            ) from None


def _produce(
    queue: Any, path: Path, source: ContactSource, tz: tzinfo, chunk_rows: int, started: datetime
) -> None:
    # Runs in the forked child: it never touches the database connection it inherited.
    try:
        for chunk in parse_chunks(path, source, tz, chunk_rows, started):
            # Sent as plain tuples: unpickling a named tuple calls its Python-level __new__.
            chunk.parsed = list(map(tuple, chunk.parsed))  # type: ignore[arg-type]
            queue.put(chunk)
    except BaseException:
        queue.put(traceback.format_exc())
        sys.exit(1)
    queue.put(None)
