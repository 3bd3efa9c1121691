"""Reading and normalising a contacts file in chunks, in a second process when a core is spare.

Reading a row and normalising it (dates, email, mappings) needs no database: a producer process
can do it while the main process writes the previous chunk. The producer sends each chunk's
records and its rejected rows (with their values, for the rejects file) through a bounded
queue, so at most a few chunks are in flight and memory stays flat whatever the file's size.

Handing rows across costs about as much as normalising them, so the second process is used only
with cores to spare (``worth_a_process``), where fork is available; otherwise, or when
``in_process`` is asked for, the same code runs inline.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from queue import Empty
from typing import Any

from onefunnel.domain.crm_mapping import replay
from onefunnel.domain.stages import Stage, StageReason
from onefunnel.models import Contact
from onefunnel.services.imports.bulk import datetime_adapter, json_adapter
from onefunnel.services.imports.csvfile import CsvRows
from onefunnel.services.imports.records import ContactRecord, RowError
from onefunnel.services.imports.sources import ContactSource, reader_for

# Chunks parsed ahead of the writer: enough to keep both processes busy, few enough for memory.
_AHEAD = 3


# A new contact in database form: (stage, properties, created_at, stage changes as
# (from_stage, to_stage, at, reason)), so the writer only adds ids and times.
FreshChange = tuple[str | None, str | None, Any, str | None]
FreshRow = tuple[str | None, Any, Any, tuple[FreshChange, ...]]
Parsed = tuple[ContactRecord, FreshRow]


@dataclass(slots=True)
class ParsedChunk:
    """Up to ``chunk_rows`` rows of the file: good records (each with its form as a new
    contact) and rejected rows, in file order."""

    records: list[Parsed] = field(default_factory=list)
    rejected: list[tuple[RowError, list[str]]] = field(default_factory=list)
    rows_read: int = 0
    bytes_read: int = 0


def parse_chunks(
    path: Path, source: ContactSource, tz: tzinfo, chunk_rows: int, started: datetime
) -> Iterator[ParsedChunk]:
    """The file's rows as parsed chunks (read, normalised and checked; nothing written).

    ``started`` is the import's time: the creation time of contacts whose row gives none.
    """
    stamp, props = datetime_adapter(), json_adapter(Contact, "properties")
    with CsvRows(path) as rows:
        reader = reader_for(source, rows.header, tz)
        chunk = ParsedChunk()
        for item in rows:
            chunk.rows_read += 1
            if isinstance(item, RowError):
                chunk.rejected.append((item, []))
            else:
                row, values = item
                try:
                    record = reader.record(row, values)
                except RowError as error:
                    chunk.rejected.append((error, values))
                else:
                    chunk.records.append((record, fresh_row(record, started, stamp, props)))
            if len(chunk.records) >= chunk_rows:
                chunk.bytes_read = rows.bytes_read()
                yield chunk
                chunk = ParsedChunk()
        chunk.bytes_read = rows.bytes_read()
        yield chunk


def fresh_row(
    record: ContactRecord,
    started: datetime,
    stamp: Callable[[datetime | None], Any],
    props: Callable[[Any], Any],
) -> FreshRow:
    """The record as a contact that does not exist yet: its path replayed from no stage by the
    funnel's rules (the same ``replay`` an existing contact's path goes through)."""
    created = record.created_at or started
    moves = replay(None, record.path, last_at=None, default_at=created)
    changes = tuple(
        (_VALUE[m.from_stage], _VALUE[m.to_stage], stamp(m.at), _VALUE[m.reason]) for m in moves
    )
    return (_VALUE[moves[-1].to_stage] if moves else None, props(record.properties),
            stamp(created), changes)  # fmt: skip


_VALUE: dict[Stage | StageReason | None, str | None] = {
    None: None, **{s: s.value for s in Stage}, **{r: r.value for r in StageReason}
}  # fmt: skip


def worth_a_process() -> bool:
    """Whether reading in a second process pays: only with a core to spare for it.

    Handing a row to the writer (pickling it there, unpickling it here) costs about as much as
    normalising it, so the second process only wins when it runs beside the writer; measured
    on a busy two-core machine, importing in one process was faster (the report has numbers).
    """
    return len(os.sched_getaffinity(0)) >= _CPUS_FOR_A_PROCESS


_CPUS_FOR_A_PROCESS = 4


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
            yield item
        producer.join()
    finally:
        if producer.is_alive():
            producer.terminate()
            producer.join()
        queue.close()


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
            queue.put(chunk)
    except BaseException:
        queue.put(traceback.format_exc())
        sys.exit(1)
    queue.put(None)
