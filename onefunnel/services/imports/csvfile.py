"""Streaming a CSV file row by row (constant memory), and writing the rejected rows to another."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar

from onefunnel.domain.csv_safety import neutralised_row
from onefunnel.services.errors import InputError
from onefunnel.services.imports.records import RowError

# rows done, bytes read, bytes in the file
Progress = Callable[[int, int, int], None]

KEPT_REJECTS = 50
T = TypeVar("T")

# The longest row (in characters, newlines in quoted cells included) read as data; a longer one
# is rejected as one row. Python's csv module has a per-field limit (128 KiB by default) and,
# past it, raises in the middle of a quoted cell and goes on reading *inside* it: the cell's
# lines become thousands of bad rows, and its closing quote swallows the good row after it.
MAX_ROW_CHARS = 4 * 1024 * 1024
# What the csv state machine reacts to: quotes, delimiters, line ends. Any run of other
# characters moves it as one character would, and a doubled quote ("") leaves it where it was
# in every state (an escaped quote, a literal pair, or an empty quoted value followed by what
# follows). So the lines of a row past the limit are fed to the reader with pairs of quotes
# dropped and other runs shrunk to one "x": the reader ends the row exactly where it would
# have, holding a few characters per line instead of the row, and every row after it is read
# as it should be.
_OTHER_CHARACTERS = re.compile(r'[^",\r\n]+')
_NO_FIELD_LIMIT = 2**31 - 1


class CsvRows:
    """A CSV file's header and rows. Rows are numbered as a spreadsheet shows them (the header
    is row 1); blank lines are passed over. Bytes that are not UTF-8 are carried through
    (surrogateescape) so the one row holding them is rejected, not the whole file."""

    def __init__(self, path: Path) -> None:
        try:
            self.total_bytes = path.stat().st_size
            self._binary = path.open("rb")
        except OSError as exc:
            raise InputError(f"file: cannot read {path}: {exc.strerror}") from None
        self._text = io.TextIOWrapper(
            self._binary, encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
        # Rows are bounded by _lines below, never by the module's per-field limit (which, when
        # hit, leaves the reader inside the quoted cell: see MAX_ROW_CHARS).
        csv.field_size_limit(_NO_FIELD_LIMIT)
        self._row_chars = 0
        self._oversized = False
        self._reader = csv.reader(self._lines())
        try:
            self.header: list[str] = next(self._reader)
        except StopIteration:
            self.close()
            raise InputError(f"file: {path} is empty (no header row)") from None
        except csv.Error as exc:
            self.close()
            raise InputError(f"file: {path}: header is not CSV: {exc}") from None
        self._row_chars, self._oversized = 0, False
        self._row = 1

    def _lines(self) -> Iterator[str]:
        """The file's lines for the csv reader, the lines of a row past MAX_ROW_CHARS shrunk
        to their quotes, delimiters and line ends (see ``_OTHER_CHARACTERS``)."""
        for line in self._text:
            self._row_chars += len(line)
            if self._row_chars > MAX_ROW_CHARS:
                self._oversized = True
                line = _OTHER_CHARACTERS.sub("x", line.replace('""', ""))
            yield line

    def bytes_read(self) -> int:
        """How far into the file the reader is (for progress)."""
        return self._binary.tell()

    def __iter__(self) -> Iterator[tuple[int, list[str]] | RowError]:
        while True:
            self._row += 1
            try:
                values = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self._row_chars, self._oversized = 0, False
                yield RowError(self._row, "(row)", f"not CSV: {exc}")
                continue
            # The reader asks for a line only when it needs one: a row has ended here.
            oversized, self._row_chars, self._oversized = self._oversized, 0, False
            if oversized:
                yield RowError(
                    self._row,
                    "(row)",
                    f"row is over {MAX_ROW_CHARS // (1024 * 1024)} MiB "
                    "(a quoted cell too long, or a quote never closed)",
                )
                continue
            if not values or (len(values) == 1 and not values[0].strip()):
                self._row -= 1
                continue
            yield self._row, values

    def close(self) -> None:
        """Close the file."""
        self._text.close()

    def __enter__(self) -> CsvRows:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@dataclass(slots=True)
class Chunk(Generic[T]):
    """Consecutive rows of a file: the good ones parsed, the bad ones with their values (for
    the rejects file), in file order; ``bytes_read`` is how far into the file it ends."""

    parsed: list[T] = field(default_factory=list)
    rejected: list[tuple[RowError, list[str]]] = field(default_factory=list)
    rows_read: int = 0
    bytes_read: int = 0


def parsed_in_chunks(
    rows: CsvRows, parse: Callable[[int, list[str]], T], size: int
) -> Iterator[Chunk[T]]:
    """The rows, each through ``parse`` (which raises RowError for a bad row), ``size`` good
    rows a chunk; the last chunk may hold none. Every import reads its file this way."""
    chunk: Chunk[T] = Chunk()
    for item in rows:
        chunk.rows_read += 1
        if isinstance(item, RowError):
            chunk.rejected.append((item, []))
            continue
        row, values = item
        try:
            chunk.parsed.append(parse(row, values))
        except RowError as error:
            chunk.rejected.append((error, values))
            continue
        if len(chunk.parsed) >= size:
            chunk.bytes_read = rows.bytes_read()
            yield chunk
            chunk = Chunk()
    chunk.bytes_read = rows.bytes_read()
    yield chunk


class Rejects:
    """The rejects file: row number, column and error, then the row as it was, so a user can
    fix the rows and import the file again. Created only when a row is rejected."""

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        self.path = path
        self.header = list(header)
        self.count = 0
        self.kept: list[RowError] = []
        self._file: io.TextIOWrapper | None = None
        self._writer: Any = None

    def add(self, error: RowError, values: Sequence[str]) -> None:
        """Record one rejected row."""
        if self._writer is None:
            try:
                self._file = self.path.open(
                    "w", newline="", encoding="utf-8", errors="surrogateescape"
                )
            except OSError as exc:
                raise InputError(f"rejects: cannot write {self.path}: {exc.strerror}") from None
            self._writer = csv.writer(self._file)
            self._writer.writerow(neutralised_row(["row", "column", "error", *self.header]))
        # The values as they were, except that a spreadsheet will not run them as formulas.
        self._writer.writerow(neutralised_row([error.row, error.column, error.message, *values]))
        self.count += 1
        if len(self.kept) < KEPT_REJECTS:
            self.kept.append(error)

    def first(self) -> tuple[RowError, ...]:
        """The first rejected rows (up to ``KEPT_REJECTS``), in file order, for the report."""
        return tuple(sorted(self.kept, key=lambda e: e.row))

    @property
    def written_to(self) -> str | None:
        """The rejects file's path, or None when no row was rejected."""
        return str(self.path) if self.count else None

    def close(self) -> None:
        """Flush and close the rejects file (if one was started)."""
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> Rejects:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def rows_numbered(path: Path, wanted: Collection[int]) -> Iterator[tuple[int, list[str]]]:
    """The values of the rows numbered ``wanted`` (file order), read again from the file."""
    if not wanted:
        return
    last = max(wanted)
    with CsvRows(path) as rows:
        for item in rows:
            if isinstance(item, RowError):
                continue
            row, values = item
            if row in wanted:
                yield row, values
            if row >= last:
                return


def default_rejects_path(path: Path) -> Path:
    """``contacts.csv`` → ``contacts.rejects.csv`` beside it."""
    return path.with_name(f"{path.stem}.rejects.csv")
